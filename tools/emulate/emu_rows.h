/*
 * emu_rows.h — the records pinpipe-emulate replays: JSONL files split into lines, and
 * the rows of the 2023 data set, where a pin (its "index"), a geolocation and a user
 * record (their "ind") share one row index. A row exists when every selected stream
 * has a record with that index, as the 2023 emulator's row number picks one record
 * of each table. Failures (a file that cannot be read, a record without an index, out
 * of memory) are returned with a message in err[EMU_ROWS_ERRLEN], for the caller to report.
 */
#ifndef EMU_ROWS_H
#define EMU_ROWS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The streams of the 2023 data set, in pinpipe's order (raw_pins.stream names). */
typedef enum EmuStream
{
	EMU_PIN = 0,
	EMU_GEO,
	EMU_USER,
	EMU_NSTREAMS
} EmuStream;

extern const char *const emu_stream_names[EMU_NSTREAMS];

#define EMU_ROWS_ERRLEN 512

/* A file's non-blank lines (trailing CR and spaces dropped), bytes untouched. */
typedef struct EmuLines
{
	char *file;
	size_t file_len;
	size_t *off;
	size_t *len;
	size_t n;
} EmuLines;

/* Read a file ("-" = stdin) into lines; false (err says why) on failure or when it has none. */
bool LinesLoad(EmuLines *l, const char *path, char *err);
void LinesFree(EmuLines *l);

/*
 * The integer value of the record's "index" (pins) or "ind" (geo, user) member:
 * false when the line is not a JSON object with that integer member.
 */
bool RecordRowIndex(const char *line, size_t len, EmuStream stream, int64_t *index);

/* Rows: for each row, the line of each selected stream's file holding it. */
typedef struct EmuRows
{
	unsigned selected; /* bit per EmuStream */
	EmuLines lines[EMU_NSTREAMS];
	size_t nrows;
	int64_t *index;				  /* the row's index, ascending */
	size_t *line[EMU_NSTREAMS];	  /* the row's line in each selected stream's file */
	size_t skipped[EMU_NSTREAMS]; /* lines with no row (index absent in another stream) */
} EmuRows;

/*
 * Pair the records of the selected streams by index (paths[s] for each selected s).
 * A line without an integer index, or an index given twice in one file, is an error
 * (err names the file and line), and so is no row having every selected stream.
 */
bool RowsLoad(EmuRows *r, unsigned selected, const char *const paths[EMU_NSTREAMS], char *err);

/* The raw record of stream s in row k. */
void RowsRecord(const EmuRows *r, size_t k, EmuStream s, const char **rec, size_t *len);

void RowsFree(EmuRows *r);

#endif /* EMU_ROWS_H */
