/*
 * text.c — text primitives that validation (pin_json.c) and cleaning (clean.c)
 * both need: white space as the cleaning rules see it, trimming, hex digits and
 * UUID syntax. Pure C: no PostgreSQL headers, no allocation. See text.h.
 */
#include "text.h"

#include <string.h>

/* Byte length of the white space character starting at s, or 0. */
size_t
TextSpaceAt(const unsigned char *s, size_t len)
{
	unsigned char c = s[0];

	if (c == ' ' || (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x1F))
		return 1;
	if (c == 0xC2 && len >= 2 && (s[1] == 0x85 || s[1] == 0xA0))
		return 2; /* U+0085, U+00A0 */
	if (len < 3)
		return 0;
	if (c == 0xE1 && s[1] == 0x9A && s[2] == 0x80)
		return 3; /* U+1680 */
	if (c == 0xE2 && s[1] == 0x80 &&
		((s[2] >= 0x80 && s[2] <= 0x8B) || s[2] == 0xA8 || s[2] == 0xA9 || s[2] == 0xAF))
		return 3; /* U+2000..U+200B, U+2028, U+2029, U+202F */
	if (c == 0xE2 && s[1] == 0x81 && s[2] == 0x9F)
		return 3; /* U+205F */
	if (c == 0xE3 && s[1] == 0x80 && s[2] == 0x80)
		return 3; /* U+3000 */
	if (c == 0xEF && s[1] == 0xBB && s[2] == 0xBF)
		return 3; /* U+FEFF */
	return 0;
}

/* Byte length of the white space character ending just before s[end] (end > 0), or 0. */
static size_t
SpaceBefore(const unsigned char *s, size_t end)
{
	size_t start = end - 1, n;

	while (start > 0 && end - start < 4 && (s[start] & 0xC0) == 0x80)
		start--;
	n = end - start;
	return TextSpaceAt(s + start, n) == n ? n : 0;
}

TextSpan
TextTrim(const char *s, size_t len)
{
	const unsigned char *u = (const unsigned char *) s;
	size_t start = 0, end = len, n;
	TextSpan t;

	while (start < end && (n = TextSpaceAt(u + start, end - start)) > 0)
		start += n;
	while (end > start && (n = SpaceBefore(u, end)) > 0 && end - n >= start)
		end -= n;
	t.ptr = s + start;
	t.len = end - start;
	return t;
}

int
TextHexDigit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

bool
TextParseUuid(const char *s, size_t len, uint8_t out[16])
{
	TextSpan t = TextTrim(s, len);
	const char *p = t.ptr, *end = t.ptr + t.len;
	int nibbles = 0;

	if (t.len >= 9 && strncmp(p, "urn:uuid:", 9) == 0)
		p += 9;
	else if (t.len >= 5 && strncmp(p, "uuid:", 5) == 0)
		p += 5;
	if (p < end && *p == '{')
	{
		if (end[-1] != '}')
			return false;
		p++;
		end--;
	}
	for (; p < end; p++)
	{
		int h;

		if (*p == '-')
			continue;
		if ((h = TextHexDigit(*p)) < 0 || nibbles >= 32)
			return false;
		if (nibbles % 2 == 0)
			out[nibbles / 2] = (uint8_t) (h << 4);
		else
			out[nibbles / 2] |= (uint8_t) h;
		nibbles++;
	}
	return nibbles == 32;
}
