/*
 * strbuf.c — the growable text buffer (see strbuf.h for the out-of-memory rule).
 *
 * No backend state: linked into the extension, the unit tests and pinpipe-emulate.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pin_json.h"
#include "strbuf.h"

/* First allocation: enough for most JSON answers without a second realloc. */
#define STRBUF_MIN_CAP 256

/* Largest capacity: doubling up to it cannot overflow size_t. */
#define STRBUF_MAX_CAP (SIZE_MAX / 2)

void
StrBufInit(StrBuf *b)
{
	memset(b, 0, sizeof(*b));
}

void
StrBufFree(StrBuf *b)
{
	free(b->data);
	memset(b, 0, sizeof(*b));
}

void
StrBufReset(StrBuf *b)
{
	b->len = 0;
	b->oom = false;
	if (b->data)
		b->data[0] = '\0';
}

void
StrBufTruncate(StrBuf *b, size_t len)
{
	if (len >= b->len)
		return;
	b->len = len;
	b->data[len] = '\0';
}

bool
StrBufReserve(StrBuf *b, size_t n)
{
	size_t cap;
	char *p;

	if (b->oom)
		return false;
	if (n < b->cap - b->len)
		return true;
	/* len + n + 1 must neither wrap nor pass the doubling limit */
	if (n >= STRBUF_MAX_CAP - b->len)
	{
		b->oom = true;
		return false;
	}
	cap = b->cap ? b->cap : STRBUF_MIN_CAP;
	while (cap < b->len + n + 1)
		cap *= 2;
	p = realloc(b->data, cap);
	if (p == NULL)
	{
		b->oom = true;
		return false;
	}
	p[b->len] = '\0'; /* a first allocation has no terminator yet */
	b->data = p;
	b->cap = cap;
	return true;
}

void
StrBufAppend(StrBuf *b, const char *s, size_t n)
{
	if (!StrBufReserve(b, n))
		return;
	if (n > 0)
		memcpy(b->data + b->len, s, n);
	b->len += n;
	b->data[b->len] = '\0';
}

void
StrBufPuts(StrBuf *b, const char *s)
{
	StrBufAppend(b, s, strlen(s));
}

/* Format straight into the free room; if it did not fit, grow once and format again. */
void
StrBufPrintf(StrBuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (int attempt = 0; attempt < 2 && !b->oom; attempt++)
	{
		size_t room = b->cap - b->len;

		va_start(ap, fmt);
		n = vsnprintf(room ? b->data + b->len : NULL, room, fmt, ap);
		va_end(ap);
		if (n >= 0 && (size_t) n < room)
		{
			b->len += (size_t) n;
			return;
		}
		/* an encoding error would leave the text wrong: treat it like a failure */
		if (n < 0)
			b->oom = true;
		else
			StrBufReserve(b, (size_t) n);
	}
	/* a partial attempt may have overwritten the terminator */
	if (b->data)
		b->data[b->len] = '\0';
}

void
StrBufJsonString(StrBuf *b, const char *s, size_t n)
{
	size_t need = JsonEscape(s, n, NULL, 0);

	if (!StrBufReserve(b, need + 2))
		return;
	b->data[b->len++] = '"';
	b->len += JsonEscape(s, n, b->data + b->len, need);
	b->data[b->len++] = '"';
	b->data[b->len] = '\0';
}

char *
StrBufTake(StrBuf *b, size_t *len)
{
	char *text = NULL;

	if (StrBufReserve(b, 0))
	{
		text = b->data;
		if (len)
			*len = b->len;
		memset(b, 0, sizeof(*b));
		return text;
	}
	StrBufFree(b);
	if (len)
		*len = 0;
	return NULL;
}
