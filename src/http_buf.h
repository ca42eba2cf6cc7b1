/*
 * http_buf.h — a small growable string for the HTTP worker's JSON answers.
 *
 * Pure C on malloc (the request layer runs inside libmicrohttpd callbacks and
 * must not palloc or raise errors). An allocation failure sets oom and makes
 * every later append a no-op, so a caller checks once, at the end.
 */
#ifndef HTTP_BUF_H
#define HTTP_BUF_H

#include <stdbool.h>
#include <stddef.h>

typedef struct HttpBuf
{
	char *data;
	size_t len;
	size_t cap;
	bool oom;
} HttpBuf;

/* Room for n more bytes and a NUL; false (oom set) if it cannot be had. */
extern bool HttpBufReserve(HttpBuf *b, size_t n);

extern void HttpBufAppend(HttpBuf *b, const char *s, size_t n);

/* Append a NUL-terminated string. */
extern void HttpBufPuts(HttpBuf *b, const char *s);

/* printf into the buffer (at most 511 bytes per call). */
extern void HttpBufPrintf(HttpBuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Append s[0..n) as a JSON string literal (with quotes). */
extern void HttpBufJsonString(HttpBuf *b, const char *s, size_t n);

/* The text, handed over to the caller (NULL and *len 0 after an allocation failure). */
extern char *HttpBufTake(HttpBuf *b, size_t *len);

#endif /* HTTP_BUF_H */
