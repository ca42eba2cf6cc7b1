/*
 * http_framing.h — follows the framing of the HTTP/1.1 requests on one
 * connection as their bytes pass by (request line, header fields, a
 * Content-Length or chunked body, the next request), to see the one thing
 * libmicrohttpd 0.9.75 does not show its application: the size a chunk of a
 * chunked body declares. The HTTP worker's relay (http_relay.c) feeds it every
 * byte a client sends before libmicrohttpd reads it, and answers 413 at once
 * when a chunk declares more than pinpipe.http_max_body allows (a client that
 * declares 2^64 bytes and sends three would otherwise hold its connection until
 * pinpipe.http_timeout).
 *
 * It only watches: the bytes go on unchanged, and libmicrohttpd and the request
 * layer still judge them. Where the framing is not one it can follow for sure
 * (two lengths, a transfer coding other than chunked alone, a malformed chunk
 * line), it stops watching that connection: those requests are refused by the
 * request layer, and the connection is closed after them.
 *
 * Pure C, no PostgreSQL headers, no allocation (unit-tested under ASan:
 * test/unit/test_http_framing.c).
 */
#ifndef HTTP_FRAMING_H
#define HTTP_FRAMING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Longest header line kept for reading (longer ones are skipped, or end the watch). */
#define HTTP_FRAMING_LINE_MAX 256

typedef enum HttpFramingVerdict
{
	HTTP_FRAMING_PASS,	   /* nothing against these bytes */
	HTTP_FRAMING_TOO_LARGE /* a chunk declares more than the body may hold */
} HttpFramingVerdict;

typedef struct HttpFraming
{
	int state;			   /* HttpFramingState of http_framing.c */
	uint64_t max_body;	   /* most body bytes a request may declare */
	uint64_t remaining;	   /* bytes left of a Content-Length body or of a chunk's data */
	uint64_t body_total;   /* chunk sizes declared so far in this body */
	uint64_t chunk_size;   /* the chunk-size line being read */
	bool chunk_digits;	   /* it has a hex digit */
	bool chunk_digits_end; /* ... and something after them (an extension) */
	uint64_t requests;	   /* request heads seen complete */
	/* the header line being read */
	char line[HTTP_FRAMING_LINE_MAX];
	size_t line_len;
	bool line_long; /* it is longer than line[] */
	/* the current request's framing headers */
	int n_length;	   /* Content-Length fields */
	uint64_t length;   /* their value */
	bool length_bad;   /* not one number, or two that differ */
	int n_chunked;	   /* "chunked" among the Transfer-Encoding codings */
	bool coding_other; /* a coding other than chunked */
	bool coding_last_chunked;
} HttpFraming;

/* A connection's tracker, before its first byte: bodies may declare max_body bytes. */
extern void HttpFramingInit(HttpFraming *f, uint64_t max_body);

/*
 * The next len bytes the client sent. HTTP_FRAMING_TOO_LARGE once a chunk's
 * size line declares more than the body may hold (sticky: the connection is to
 * be refused); then *taken (if not NULL) is the number of these bytes up to
 * and including the one that showed it: those before belong to earlier,
 * acceptable requests. Else HTTP_FRAMING_PASS and *taken = len.
 */
extern HttpFramingVerdict HttpFramingFeed(HttpFraming *f, const char *data, size_t len,
										  size_t *taken);

/* Has the tracker stopped following this connection (framing it cannot be sure of)? */
extern bool HttpFramingGaveUp(const HttpFraming *f);

/* Is it inside a request (its head or body), not between two requests? */
extern bool HttpFramingInRequest(const HttpFraming *f);

#endif /* HTTP_FRAMING_H */
