/*
 * emu_rows.c — JSONL records and the rows of the 2023 data set (see emu_rows.h).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emu_rows.h"
#include "pin_json.h"
#include "strbuf.h"

const char *const emu_stream_names[EMU_NSTREAMS] = {"pin", "geo", "user"};

static bool Fail(char *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Say what went wrong in err; always false. */
static bool
Fail(char *err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, EMU_ROWS_ERRLEN, fmt, ap);
	va_end(ap);
	return false;
}

/* Make *p an array of n elements of size bytes; false when the memory is not there. */
static bool
Grow(void *p, size_t n, size_t size)
{
	void *q = realloc(*(void **) p, n * size);

	if (q == NULL)
		return false;
	*(void **) p = q;
	return true;
}

bool
LinesLoad(EmuLines *l, const char *path, char *err)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
	StrBuf b = {0};
	char chunk[65536];
	size_t n, cap = 0;
	bool read_error;

	memset(l, 0, sizeof(*l));
	if (f == NULL)
		return Fail(err, "cannot open %s: %s", path, strerror(errno));
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		StrBufAppend(&b, chunk, n);
	read_error = ferror(f);
	if (f != stdin)
		fclose(f);
	if (read_error)
	{
		StrBufFree(&b);
		return Fail(err, "cannot read %s", path);
	}
	l->file = StrBufTake(&b, &l->file_len);
	if (l->file == NULL)
		return Fail(err, "out of memory reading %s", path);
	for (size_t pos = 0; pos < l->file_len;)
	{
		char *nl = memchr(l->file + pos, '\n', l->file_len - pos);
		size_t end = nl ? (size_t) (nl - l->file) : l->file_len;
		size_t len = end - pos;

		while (len > 0 && (l->file[pos + len - 1] == '\r' || l->file[pos + len - 1] == ' '))
			len--;
		if (len > 0)
		{
			if (l->n == cap)
			{
				cap = cap ? cap * 2 : 1024;
				if (!Grow(&l->off, cap, sizeof(size_t)) || !Grow(&l->len, cap, sizeof(size_t)))
					return Fail(err, "out of memory reading %s", path);
			}
			l->off[l->n] = pos;
			l->len[l->n] = len;
			l->n++;
		}
		pos = end + 1;
	}
	if (l->n == 0)
		return Fail(err, "%s holds no records", path);
	return true;
}

void
LinesFree(EmuLines *l)
{
	free(l->file);
	free(l->off);
	free(l->len);
	memset(l, 0, sizeof(*l));
}

bool
RecordRowIndex(const char *line, size_t len, EmuStream stream, int64_t *index)
{
	const char *want = stream == EMU_PIN ? "index" : "ind";
	size_t pos = 0;
	JsonMember m;
	int r;
	bool found = false;

	while ((r = JsonObjectNext(line, len, &pos, &m, NULL)) == 1)
	{
		if (!JsonKeyIs(&m, want))
			continue;
		if (found || !JsonIntegerValue(&m.value, index))
			return false;
		found = true;
	}
	return r == 0 && found;
}

typedef struct IndexedLine
{
	int64_t index;
	size_t line;
} IndexedLine;

static int
CompareIndexed(const void *a, const void *b)
{
	const IndexedLine *x = a, *y = b;

	return x->index < y->index ? -1 : x->index > y->index;
}

/* The lines of one file sorted by index into *out; false on a line without one or a repeated one.
 */
static bool
SortedIndexes(const EmuLines *l, EmuStream s, const char *path, IndexedLine **out, char *err)
{
	IndexedLine *v = NULL;

	if (!Grow(&v, l->n, sizeof(IndexedLine)))
		return Fail(err, "out of memory reading %s", path);
	*out = v;
	for (size_t i = 0; i < l->n; i++)
	{
		if (!RecordRowIndex(l->file + l->off[i], l->len[i], s, &v[i].index))
			return Fail(err, "%s line %zu: not a JSON object with an integer \"%s\"", path, i + 1,
						s == EMU_PIN ? "index" : "ind");
		v[i].line = i;
	}
	qsort(v, l->n, sizeof(IndexedLine), CompareIndexed);
	for (size_t i = 1; i < l->n; i++)
		if (v[i].index == v[i - 1].index)
			return Fail(err, "%s: index %lld occurs twice (lines %zu and %zu)", path,
						(long long) v[i].index, v[i - 1].line + 1, v[i].line + 1);
	return true;
}

/* The merge join of RowsLoad over the sorted index lists; false when out of memory. */
static bool
RowsJoin(EmuRows *r, IndexedLine *const sorted[EMU_NSTREAMS])
{
	size_t at[EMU_NSTREAMS] = {0};
	size_t cap = 0;

	/* a merge join of the sorted index lists */
	for (;;)
	{
		int64_t top = INT64_MIN;
		bool done = false, equal = true;

		for (int s = 0; s < EMU_NSTREAMS; s++)
			if (sorted[s])
			{
				if (at[s] == r->lines[s].n)
					done = true;
				else if (sorted[s][at[s]].index > top)
					top = sorted[s][at[s]].index;
			}
		if (done)
			break;
		for (int s = 0; s < EMU_NSTREAMS; s++)
			if (sorted[s] && sorted[s][at[s]].index != top)
			{
				equal = false;
				at[s]++;
				r->skipped[s]++;
				break;
			}
		if (!equal)
			continue;
		if (r->nrows == cap)
		{
			cap = cap ? cap * 2 : 1024;
			if (!Grow(&r->index, cap, sizeof(int64_t)))
				return false;
			for (int s = 0; s < EMU_NSTREAMS; s++)
				if (sorted[s] && !Grow(&r->line[s], cap, sizeof(size_t)))
					return false;
		}
		r->index[r->nrows] = top;
		for (int s = 0; s < EMU_NSTREAMS; s++)
			if (sorted[s])
				r->line[s][r->nrows] = sorted[s][at[s]++].line;
		r->nrows++;
	}
	for (int s = 0; s < EMU_NSTREAMS; s++)
		if (sorted[s])
			r->skipped[s] += r->lines[s].n - at[s];
	return true;
}

bool
RowsLoad(EmuRows *r, unsigned selected, const char *const paths[EMU_NSTREAMS], char *err)
{
	IndexedLine *sorted[EMU_NSTREAMS] = {NULL};
	bool ok = true;

	memset(r, 0, sizeof(*r));
	r->selected = selected;
	for (int s = 0; s < EMU_NSTREAMS && ok; s++)
		if (selected & (1u << s))
			ok = LinesLoad(&r->lines[s], paths[s], err) &&
				 SortedIndexes(&r->lines[s], (EmuStream) s, paths[s], &sorted[s], err);
	if (ok && !RowsJoin(r, sorted))
		ok = Fail(err, "out of memory pairing the records");
	if (ok && r->nrows == 0)
		ok = Fail(err, "no row index occurs in every selected stream's file");
	for (int s = 0; s < EMU_NSTREAMS; s++)
		free(sorted[s]);
	return ok;
}

void
RowsRecord(const EmuRows *r, size_t k, EmuStream s, const char **rec, size_t *len)
{
	size_t i = r->line[s][k];

	*rec = r->lines[s].file + r->lines[s].off[i];
	*len = r->lines[s].len[i];
}

void
RowsFree(EmuRows *r)
{
	for (int s = 0; s < EMU_NSTREAMS; s++)
	{
		LinesFree(&r->lines[s]);
		free(r->line[s]);
	}
	free(r->index);
	memset(r, 0, sizeof(*r));
}
