/*
 * emu_json.h — a small strict JSON reader for pinpipe-emulate: walks a JSON text
 * (objects, arrays, scalars) without allocating, for the servers' answers
 * (emu_answer.c) and the index of a sample record (emu_rows.c). RFC 8259 syntax;
 * string contents are validated (escapes, no control bytes) but not decoded.
 */
#ifndef EMU_JSON_H
#define EMU_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The deepest nesting it walks; deeper texts are rejected as malformed. */
#define EMU_JSON_MAX_DEPTH 32

typedef enum EmuJsonKind
{
	EMU_JSON_BAD = 0, /* no value here (end of text, or a byte no value starts with) */
	EMU_JSON_STRING,
	EMU_JSON_NUMBER,
	EMU_JSON_TRUE,
	EMU_JSON_FALSE,
	EMU_JSON_NULL,
	EMU_JSON_OBJECT,
	EMU_JSON_ARRAY
} EmuJsonKind;

/* A position in a JSON text; the text need not be NUL-terminated. */
typedef struct EmuJson
{
	const char *s;
	size_t len;
	size_t pos;
	int depth;
} EmuJson;

/* Start reading s[0..len). */
void EmuJsonInit(EmuJson *j, const char *s, size_t len);

/* The kind of the next value, after white space (nothing is consumed). */
EmuJsonKind EmuJsonPeek(EmuJson *j);

/* Consume one well-formed value of any kind; false if malformed. */
bool EmuJsonSkipValue(EmuJson *j);

/*
 * Objects: EmuJsonObjectOpen consumes '{'; then each EmuJsonObjectNext call returns 1 with
 * the next key (raw string contents) and leaves the reader at its value, which the
 * caller must consume, 0 after the closing '}', -1 when malformed. *n counts the
 * members seen (start it at 0). Arrays alike, without keys.
 */
bool EmuJsonObjectOpen(EmuJson *j);
int EmuJsonObjectNext(EmuJson *j, int *n, const char **key, size_t *klen);
bool EmuJsonArrayOpen(EmuJson *j);
int EmuJsonArrayNext(EmuJson *j, int *n);

/* Consume an integer literal (no fraction, no exponent) that fits in int64. */
bool EmuJsonReadInt(EmuJson *j, int64_t *v);

/* Consume a string; *raw and *rawlen get its contents, escapes not decoded. */
bool EmuJsonReadString(EmuJson *j, const char **raw, size_t *rawlen);

/* Consume null. */
bool EmuJsonReadNull(EmuJson *j);

/* True when only white space is left. */
bool EmuJsonAtEnd(EmuJson *j);

/* True when key[0..klen) is exactly name (keys with escapes never match). */
bool EmuJsonKeyIs(const char *key, size_t klen, const char *name);

#endif /* EMU_JSON_H */
