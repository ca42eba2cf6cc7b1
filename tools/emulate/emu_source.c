/*
 * emu_source.c — the records pinpipe-emulate posts, one row at a time (see emu_source.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emu_source.h"

void
SourceInitGenerate(EmuSource *s, unsigned selected, uint64_t seed, double invalid_rate)
{
	memset(s, 0, sizeof(*s));
	s->kind = SOURCE_GENERATE;
	s->selected = selected;
	GenInit(&s->gen, seed, invalid_rate);
}

bool
SourceInitReplay(EmuSource *s, const char *path, bool loop, uint64_t seed, char *err)
{
	memset(s, 0, sizeof(*s));
	s->kind = SOURCE_REPLAY;
	s->selected = 1u << EMU_PIN;
	s->loop = loop;
	GenInit(&s->gen, seed, 0);
	return LinesLoad(&s->replay, path, err);
}

bool
SourceInitRows(EmuSource *s, unsigned selected, const char *const paths[EMU_NSTREAMS],
			   bool all_rows, uint64_t seed, char *err)
{
	memset(s, 0, sizeof(*s));
	s->kind = SOURCE_ROWS;
	s->selected = selected;
	s->all_rows = all_rows;
	GenInit(&s->gen, seed, 0);
	if (!RowsLoad(&s->rows, selected, paths, err))
		return false;
	if (all_rows)
	{
		/* Fisher-Yates over the row numbers, from the seeded generator */
		s->perm = malloc(s->rows.nrows * sizeof(size_t));
		if (s->perm == NULL)
		{
			snprintf(err, EMU_ROWS_ERRLEN, "out of memory");
			return false;
		}
		for (size_t i = 0; i < s->rows.nrows; i++)
			s->perm[i] = i;
		for (size_t i = s->rows.nrows; i > 1; i--)
		{
			size_t k = (size_t) GenBelow(&s->gen, i), t = s->perm[i - 1];

			s->perm[i - 1] = s->perm[k];
			s->perm[k] = t;
		}
	}
	return true;
}

bool
SourceNextRow(EmuSource *s, StrBuf out[EMU_NSTREAMS], bool invalid[EMU_NSTREAMS])
{
	memset(invalid, 0, EMU_NSTREAMS * sizeof(bool));
	if (s->kind == SOURCE_GENERATE)
	{
		int index;
		StrBuf pin = {0};
		bool pin_invalid;

		/* the pin is drawn first (so that a pin-only run is the same for a seed) */
		GenPin(&s->gen, (s->selected & (1u << EMU_PIN)) ? &out[EMU_PIN] : &pin, &pin_invalid,
			   &index);
		StrBufFree(&pin);
		if (s->selected & (1u << EMU_PIN))
			invalid[EMU_PIN] = pin_invalid;
		if (s->selected & (1u << EMU_GEO))
			GenGeo(&s->gen, index, &out[EMU_GEO]);
		if (s->selected & (1u << EMU_USER))
			GenUser(&s->gen, index, &out[EMU_USER]);
		return true;
	}
	if (s->kind == SOURCE_REPLAY)
	{
		if (s->next_line == s->replay.n)
		{
			if (!s->loop)
				return false;
			s->next_line = 0;
		}
		StrBufAppend(&out[EMU_PIN], s->replay.file + s->replay.off[s->next_line],
					 s->replay.len[s->next_line]);
		s->next_line++;
		return true;
	}

	/* rows: the 2023 emulator's random row, or the next of the shuffled rows */
	size_t k;

	if (s->all_rows)
	{
		if (s->next_row == s->rows.nrows)
			return false;
		k = s->perm[s->next_row++];
	}
	else
		k = (size_t) GenBelow(&s->gen, s->rows.nrows);
	for (int st = 0; st < EMU_NSTREAMS; st++)
		if (s->selected & (1u << st))
		{
			const char *rec;
			size_t len;

			RowsRecord(&s->rows, k, (EmuStream) st, &rec, &len);
			StrBufAppend(&out[st], rec, len);
		}
	return true;
}

void
SourceFree(EmuSource *s)
{
	LinesFree(&s->replay);
	RowsFree(&s->rows);
	free(s->perm);
	memset(s, 0, sizeof(*s));
}
