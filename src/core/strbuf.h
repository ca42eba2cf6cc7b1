/*
 * strbuf.h — the one growable text buffer: JSON answers of the HTTP layer
 * (http_request.c), the Prometheus text of GET /metrics (prom_format.c,
 * metrics.c) and the bodies, replay files and reports of pinpipe-emulate.
 * Above pin_json (whose JsonEscape writes the JSON string literals), which
 * itself allocates nothing.
 *
 * Pure C, no PostgreSQL headers: memory comes from malloc/realloc, so it can
 * be used inside libmicrohttpd callbacks (no palloc, no longjmp) and outside
 * the server. Out-of-memory rule: a failed allocation never raises or exits;
 * it sets the sticky oom flag, the text written so far stays as it was, and
 * every later append is a no-op. Callers write everything, then check once
 * (oom, or StrBufTake's NULL) and choose their own failure: the HTTP layer
 * answers without a body or with a 503, /metrics answers 503, the emulator
 * dies.
 */
#ifndef STRBUF_H
#define STRBUF_H

#include <stdbool.h>
#include <stddef.h>

/*
 * A zeroed StrBuf ({0} or StrBufInit) is an empty buffer. data is NULL until
 * the first byte is written, then always NUL-terminated at data[len].
 */
typedef struct StrBuf
{
	char *data;
	size_t len;
	size_t cap;
	bool oom;
} StrBuf;

/* An empty buffer. */
extern void StrBufInit(StrBuf *b);

/* Release the memory; the buffer is empty (and usable) again. */
extern void StrBufFree(StrBuf *b);

/* Empty the text but keep the memory for reuse; an earlier failure is forgotten. */
extern void StrBufReset(StrBuf *b);

/* Cut the text back to its first len bytes (len <= b->len). */
extern void StrBufTruncate(StrBuf *b, size_t len);

/* Room for n more bytes plus the NUL; false (and oom set) if that memory is not there. */
extern bool StrBufReserve(StrBuf *b, size_t n);

/* Append n bytes (may contain NULs), a NUL-terminated string, or printf output. */
extern void StrBufAppend(StrBuf *b, const char *s, size_t n);
extern void StrBufPuts(StrBuf *b, const char *s);
extern void StrBufPrintf(StrBuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Append s[0..n) as a JSON string literal, quotes included (escaped by JsonEscape). */
extern void StrBufJsonString(StrBuf *b, const char *s, size_t n);

/*
 * Hand the text over to the caller (free() it) and leave the buffer empty.
 * NULL if memory ran out at any point (what was written is freed); an empty
 * buffer gives "" . *len (if len is not NULL) gets the length, 0 with NULL.
 */
extern char *StrBufTake(StrBuf *b, size_t *len);

#endif /* STRBUF_H */
