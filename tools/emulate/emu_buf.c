/*
 * emu_buf.c — growable byte buffer and JSON string writer of pinpipe-emulate.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emu_buf.h"
#include "pin_json.h"
void
Die(const char *fmt, ...)
{
	va_list ap;

	fputs("pinpipe-emulate: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(2);
}

void
BufReserve(EmuBuf *b, size_t extra)
{
	if (b->len + extra + 1 <= b->cap)
		return;
	size_t cap = b->cap ? b->cap : 1024;

	while (cap < b->len + extra + 1)
		cap *= 2;
	b->data = realloc(b->data, cap);
	if (b->data == NULL)
		Die("out of memory");
	b->cap = cap;
}

void
BufPut(EmuBuf *b, const char *s, size_t n)
{
	BufReserve(b, n);
	memcpy(b->data + b->len, s, n);
	b->len += n;
	b->data[b->len] = '\0';
}

void
BufPuts(EmuBuf *b, const char *s)
{
	BufPut(b, s, strlen(s));
}

void
BufPrintf(EmuBuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	BufReserve(b, (size_t) n);
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t) n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t) n;
}

/* Append s as a JSON string literal (quotes included), escaped by the extension's JsonEscape. */
void
BufPutJsonString(EmuBuf *b, const char *s, size_t n)
{
	size_t need = JsonEscape(s, n, NULL, 0);

	BufReserve(b, need + 3);
	b->data[b->len++] = '"';
	b->len += JsonEscape(s, n, b->data + b->len, need);
	b->data[b->len++] = '"';
	b->data[b->len] = '\0';
}
