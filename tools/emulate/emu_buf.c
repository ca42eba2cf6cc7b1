/*
 * emu_buf.c — growable byte buffer and JSON string writer of pinpipe-emulate.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emu_buf.h"
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

/* Append s as a JSON string literal (quotes included); UTF-8 passes through unescaped. */
void
BufPutJsonString(EmuBuf *b, const char *s, size_t n)
{
	BufReserve(b, n + 2);
	b->data[b->len++] = '"';
	for (size_t i = 0; i < n; i++)
	{
		unsigned char c = (unsigned char) s[i];

		if (c == '"' || c == '\\')
		{
			BufReserve(b, 2);
			b->data[b->len++] = '\\';
			b->data[b->len++] = (char) c;
		}
		else if (c == '\n')
			BufPut(b, "\\n", 2);
		else if (c == '\t')
			BufPut(b, "\\t", 2);
		else if (c < 0x20)
			BufPrintf(b, "\\u%04x", c);
		else
		{
			BufReserve(b, 1);
			b->data[b->len++] = (char) c;
		}
	}
	BufReserve(b, 1);
	b->data[b->len++] = '"';
	b->data[b->len] = '\0';
}
