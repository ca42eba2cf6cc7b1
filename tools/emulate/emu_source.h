/*
 * emu_source.h — where pinpipe-emulate's records come from, one row at a time: generated
 * (a pin and, for the other streams, a geolocation and a user record with the pin's row
 * index), replayed from one JSONL file of pins in file order, or rows of the three
 * sample files paired by index (emu_rows.h), picked at random like the 2023 emulator
 * does, or each row once in a random order.
 */
#ifndef EMU_SOURCE_H
#define EMU_SOURCE_H

#include <stdbool.h>
#include <stdint.h>

#include "emu_gen.h"
#include "emu_rows.h"
#include "strbuf.h"

typedef enum EmuSourceKind
{
	SOURCE_GENERATE = 0,
	SOURCE_REPLAY, /* one file of pins, in order */
	SOURCE_ROWS	   /* the sample files, paired by row index */
} EmuSourceKind;

typedef struct EmuSource
{
	EmuSourceKind kind;
	unsigned selected; /* bit per EmuStream */
	EmuGen gen;
	/* replay */
	EmuLines replay;
	size_t next_line;
	bool loop;
	/* rows */
	EmuRows rows;
	bool all_rows; /* each row once, in the order of perm */
	size_t *perm;
	size_t next_row;
} EmuSource;

/* Generated records of the selected streams. */
void SourceInitGenerate(EmuSource *s, unsigned selected, uint64_t seed, double invalid_rate);

/* Pins of a JSONL file in file order (again from the top with loop); false: err says why. */
bool SourceInitReplay(EmuSource *s, const char *path, bool loop, uint64_t seed, char *err);

/*
 * Rows of the selected streams' files; all_rows: each once, shuffled, else at random.
 * False when the files cannot be paired (err[EMU_ROWS_ERRLEN] says why).
 */
bool SourceInitRows(EmuSource *s, unsigned selected, const char *const paths[EMU_NSTREAMS],
					bool all_rows, uint64_t seed, char *err);

/*
 * Append the next row's record of each selected stream to out[stream] (and say in
 * invalid[stream] whether it was broken on purpose); false when the source is used up.
 * Out of memory sets out[stream].oom, for the caller to check.
 */
bool SourceNextRow(EmuSource *s, StrBuf out[EMU_NSTREAMS], bool invalid[EMU_NSTREAMS]);

void SourceFree(EmuSource *s);

#endif /* EMU_SOURCE_H */
