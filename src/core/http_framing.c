/*
 * http_framing.c — follows HTTP/1.1 request framing byte by byte to see each
 * chunk size a chunked body declares (see http_framing.h). RFC 9112: a request
 * is a request line, header fields and an empty line; its body is framed by
 * Transfer-Encoding (chunked last) or Content-Length, or it has none; a chunk
 * is a hex size line (with optional extensions), that many bytes and CRLF; the
 * last chunk has size 0 and is followed by trailer fields and an empty line.
 */
#include "http_framing.h"

#include <string.h>

typedef enum HttpFramingState
{
	FR_START,		 /* between requests (empty lines before a request line are skipped) */
	FR_REQUEST_LINE, /* the rest of the request line */
	FR_HEADER,		 /* header field lines, up to the empty line */
	FR_BODY,		 /* a Content-Length body: remaining bytes */
	FR_CHUNK_SIZE,	 /* a chunk-size line */
	FR_CHUNK_DATA,	 /* a chunk's data: remaining bytes */
	FR_CHUNK_CR,	 /* the CRLF after a chunk's data */
	FR_CHUNK_LF,
	FR_TRAILER,	  /* trailer field lines after the last chunk, up to the empty line */
	FR_TOO_LARGE, /* a chunk declared too much: the connection is to be refused */
	FR_GAVE_UP	  /* framing not followed for sure: no more watching */
} HttpFramingState;

void
HttpFramingInit(HttpFraming *f, uint64_t max_body)
{
	memset(f, 0, sizeof(*f));
	f->state = FR_START;
	f->max_body = max_body;
}

bool
HttpFramingGaveUp(const HttpFraming *f)
{
	return f->state == FR_GAVE_UP;
}

bool
HttpFramingInRequest(const HttpFraming *f)
{
	return f->state != FR_START && f->state != FR_GAVE_UP;
}

static int
Lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

/* Does s[0..n) equal the lower-case word, ignoring case? */
static bool
WordIs(const char *s, size_t n, const char *word)
{
	if (strlen(word) != n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (Lower((unsigned char) s[i]) != word[i])
			return false;
	return true;
}

static bool
IsSpace(char c)
{
	return c == ' ' || c == '\t';
}

static int
HexValue(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char) Lower((unsigned char) c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* A Content-Length value: one decimal number (else the length is bad). */
static void
ReadLength(HttpFraming *f, const char *v, size_t n)
{
	uint64_t value = 0;
	size_t i = 0;

	if (n == 0)
		f->length_bad = true;
	for (; i < n; i++)
	{
		if (v[i] < '0' || v[i] > '9' || value > (UINT64_MAX - 9) / 10)
		{
			f->length_bad = true;
			return;
		}
		value = value * 10 + (uint64_t) (v[i] - '0');
	}
	if (f->n_length > 0 && value != f->length)
		f->length_bad = true;
	f->length = value;
	f->n_length++;
}

/* A Transfer-Encoding value: a comma-separated list of codings. */
static void
ReadCodings(HttpFraming *f, const char *v, size_t n)
{
	size_t i = 0;

	while (i < n)
	{
		size_t start;
		size_t end;

		while (i < n && (IsSpace(v[i]) || v[i] == ','))
			i++;
		start = i;
		while (i < n && v[i] != ',')
			i++;
		end = i;
		while (end > start && IsSpace(v[end - 1]))
			end--;
		if (end == start)
			continue;
		if (WordIs(v + start, end - start, "chunked"))
		{
			f->n_chunked++;
			f->coding_last_chunked = true;
		}
		else
		{
			f->coding_other = true;
			f->coding_last_chunked = false;
		}
	}
}

/* The body framing, once the request head is complete. */
static void
HeadComplete(HttpFraming *f)
{
	f->requests++;
	if (f->n_chunked > 0 || f->coding_other)
	{
		if (f->n_chunked != 1 || f->coding_other || !f->coding_last_chunked || f->n_length > 0)
		{
			f->state = FR_GAVE_UP; /* refused by the request layer */
			return;
		}
		f->state = FR_CHUNK_SIZE;
		f->body_total = 0;
		f->chunk_size = 0;
		f->chunk_digits = f->chunk_digits_end = false;
		return;
	}
	if (f->length_bad)
		f->state = FR_GAVE_UP;
	else if (f->n_length > 0 && f->length > 0)
	{
		f->state = FR_BODY;
		f->remaining = f->length;
	}
	else
		f->state = FR_START;
}

/* One complete header (or trailer) line, without its line end. */
static void
HeaderLine(HttpFraming *f)
{
	size_t n = f->line_len;
	const char *colon;
	size_t name_len;
	const char *v;
	size_t vn;

	if (n > 0 && f->line[n - 1] == '\r')
		n--;
	if (n == 0 && !f->line_long)
	{
		if (f->state == FR_HEADER)
			HeadComplete(f);
		else
			f->state = FR_START; /* the end of the trailers */
		return;
	}
	if (f->state == FR_TRAILER)
		return;
	if (IsSpace(f->line[0]))
	{
		f->state = FR_GAVE_UP; /* a folded line: refused by libmicrohttpd */
		return;
	}
	colon = memchr(f->line, ':', n);
	if (colon == NULL)
		return;
	name_len = (size_t) (colon - f->line);
	if (!WordIs(f->line, name_len, "content-length") &&
		!WordIs(f->line, name_len, "transfer-encoding"))
		return;
	if (f->line_long)
	{
		f->state = FR_GAVE_UP; /* a framing header whose value was not kept */
		return;
	}
	v = colon + 1;
	vn = n - name_len - 1;
	while (vn > 0 && IsSpace(*v))
		v++, vn--;
	while (vn > 0 && IsSpace(v[vn - 1]))
		vn--;
	if (name_len == strlen("content-length"))
		ReadLength(f, v, vn);
	else
		ReadCodings(f, v, vn);
}

/* One byte of a header, trailer or request line. */
static void
LineByte(HttpFraming *f, char c)
{
	if (c != '\n')
	{
		if (f->line_len < sizeof(f->line))
			f->line[f->line_len++] = c;
		else
			f->line_long = true;
		return;
	}
	if (f->state == FR_REQUEST_LINE)
		f->state = FR_HEADER;
	else
		HeaderLine(f);
	f->line_len = 0;
	f->line_long = false;
}

/* Would a chunk of the size read so far take the body over its limit? */
static bool
ChunkTooLarge(const HttpFraming *f)
{
	return f->chunk_size > f->max_body - f->body_total;
}

/* One byte of a chunk-size line. */
static void
ChunkSizeByte(HttpFraming *f, char c)
{
	int d = HexValue(c);

	if (d >= 0 && !f->chunk_digits_end)
	{
		if (f->chunk_size > (UINT64_MAX >> 4))
		{
			f->state = FR_TOO_LARGE; /* over 64 bits */
			return;
		}
		f->chunk_size = f->chunk_size * 16 + (uint64_t) d;
		f->chunk_digits = true;
		/* more digits only make it larger: say so before the line ends */
		if (ChunkTooLarge(f))
			f->state = FR_TOO_LARGE;
		return;
	}
	if (c == '\n')
	{
		if (!f->chunk_digits)
		{
			f->state = FR_GAVE_UP;
			return;
		}
		f->body_total += f->chunk_size;
		if (f->chunk_size == 0)
		{
			f->state = FR_TRAILER;
			f->line_len = 0;
			f->line_long = false;
		}
		else
		{
			f->state = FR_CHUNK_DATA;
			f->remaining = f->chunk_size;
		}
		return;
	}
	if (!f->chunk_digits || (!f->chunk_digits_end && c != ';' && c != '\r' && !IsSpace(c)))
	{
		f->state = FR_GAVE_UP; /* no size, or junk after it: refused by libmicrohttpd */
		return;
	}
	f->chunk_digits_end = true; /* an extension (or the CR): skipped up to the line end */
}

HttpFramingVerdict
HttpFramingFeed(HttpFraming *f, const char *data, size_t len, size_t *taken)
{
	size_t i = 0;

	if (taken)
		*taken = len;
	while (i < len)
	{
		switch ((HttpFramingState) f->state)
		{
			case FR_TOO_LARGE:
				if (taken)
					*taken = i;
				return HTTP_FRAMING_TOO_LARGE;
			case FR_GAVE_UP:
				return HTTP_FRAMING_PASS;
			case FR_BODY:
			case FR_CHUNK_DATA:
			{
				size_t take = len - i;

				if ((uint64_t) take > f->remaining)
					take = (size_t) f->remaining;
				f->remaining -= take;
				i += take;
				if (f->remaining == 0)
					f->state = f->state == FR_BODY ? FR_START : FR_CHUNK_CR;
				break;
			}
			case FR_START:
				if (data[i] == '\r' || data[i] == '\n')
				{
					i++;
					break;
				}
				/* a request begins: forget the last one's framing headers */
				f->state = FR_REQUEST_LINE;
				f->line_len = 0;
				f->line_long = false;
				f->n_length = 0;
				f->length = 0;
				f->length_bad = false;
				f->n_chunked = 0;
				f->coding_other = false;
				f->coding_last_chunked = false;
				break;
			case FR_REQUEST_LINE:
			case FR_HEADER:
			case FR_TRAILER:
				LineByte(f, data[i++]);
				break;
			case FR_CHUNK_SIZE:
				ChunkSizeByte(f, data[i++]);
				break;
			case FR_CHUNK_CR:
				f->state = data[i] == '\r'	 ? FR_CHUNK_LF
						   : data[i] == '\n' ? FR_CHUNK_SIZE
											 : FR_GAVE_UP;
				goto chunk_line;
			case FR_CHUNK_LF:
				f->state = data[i] == '\n' ? FR_CHUNK_SIZE : FR_GAVE_UP;
			chunk_line:
				i++;
				f->chunk_size = 0;
				f->chunk_digits = f->chunk_digits_end = false;
				break;
		}
	}
	if (f->state == FR_TOO_LARGE)
	{
		if (taken)
			*taken = i;
		return HTTP_FRAMING_TOO_LARGE;
	}
	return HTTP_FRAMING_PASS;
}
