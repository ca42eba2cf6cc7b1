/*
 * http_buf.c — the growable answer string of the HTTP worker (see http_buf.h).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_buf.h"
#include "pin_json.h"

bool
HttpBufReserve(HttpBuf *b, size_t n)
{
	size_t need = b->len + n + 1;

	if (b->oom)
		return false;
	if (need > b->cap)
	{
		size_t cap = b->cap ? b->cap : 256;
		char *p;

		while (cap < need)
			cap *= 2;
		p = realloc(b->data, cap);
		if (p == NULL)
		{
			b->oom = true;
			return false;
		}
		b->data = p;
		b->cap = cap;
	}
	return true;
}

void
HttpBufAppend(HttpBuf *b, const char *s, size_t n)
{
	if (!HttpBufReserve(b, n))
		return;
	memcpy(b->data + b->len, s, n);
	b->len += n;
	b->data[b->len] = '\0';
}

void
HttpBufPuts(HttpBuf *b, const char *s)
{
	HttpBufAppend(b, s, strlen(s));
}

void
HttpBufPrintf(HttpBuf *b, const char *fmt, ...)
{
	char tmp[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	HttpBufAppend(b, tmp, (size_t) n < sizeof(tmp) ? (size_t) n : sizeof(tmp) - 1);
}

void
HttpBufJsonString(HttpBuf *b, const char *s, size_t n)
{
	size_t need = JsonEscape(s, n, NULL, 0);

	HttpBufPuts(b, "\"");
	if (HttpBufReserve(b, need))
	{
		JsonEscape(s, n, b->data + b->len, need + 1);
		b->len += need;
		b->data[b->len] = '\0';
	}
	HttpBufPuts(b, "\"");
}

char *
HttpBufTake(HttpBuf *b, size_t *len)
{
	char *out = b->data;

	if (b->oom)
	{
		free(b->data);
		out = NULL;
	}
	*len = out ? b->len : 0;
	b->data = NULL;
	b->len = b->cap = 0;
	return out;
}
