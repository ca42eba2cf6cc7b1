/*
 * text.h — text primitives shared by validation (pin_json.c) and cleaning
 * (clean.c), below both of them: white space (ASCII and the Unicode spaces
 * Python's str.strip() removes, U+00A0 among them), trimming, hex digits, and
 * UUID syntax. Input is valid UTF-8. Pure C: no PostgreSQL headers, no allocation.
 */
#ifndef TEXT_H
#define TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A span of text inside a larger buffer (not NUL-terminated). */
typedef struct TextSpan
{
	const char *ptr;
	size_t len;
} TextSpan;

/* Byte length of the white space character starting at s (len bytes left), or 0. */
size_t TextSpaceAt(const unsigned char *s, size_t len);

/* s[0..len) without leading and trailing white space. */
TextSpan TextTrim(const char *s, size_t len);

/* Value of a hexadecimal digit, or -1. */
int TextHexDigit(char c);

/* Parse a UUID in the forms Python's uuid.UUID accepts (hyphens optional, braces, urn:uuid:). */
bool TextParseUuid(const char *s, size_t len, uint8_t out[16]);

#endif /* TEXT_H */
