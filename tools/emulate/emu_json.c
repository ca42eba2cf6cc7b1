/*
 * emu_json.c — the strict JSON reader of pinpipe-emulate (see emu_json.h).
 * Every function stops at s[len]; a malformed text makes it return false or -1.
 */
#include <string.h>

#include "emu_json.h"

void
EmuJsonInit(EmuJson *j, const char *s, size_t len)
{
	j->s = s ? s : "";
	j->len = s ? len : 0;
	j->pos = 0;
	j->depth = 0;
}

static void
SkipSpace(EmuJson *j)
{
	while (j->pos < j->len && (j->s[j->pos] == ' ' || j->s[j->pos] == '\t' ||
							   j->s[j->pos] == '\n' || j->s[j->pos] == '\r'))
		j->pos++;
}

/* Consume c after white space. */
static bool
Expect(EmuJson *j, char c)
{
	SkipSpace(j);
	if (j->pos < j->len && j->s[j->pos] == c)
	{
		j->pos++;
		return true;
	}
	return false;
}

EmuJsonKind
EmuJsonPeek(EmuJson *j)
{
	SkipSpace(j);
	if (j->pos >= j->len)
		return EMU_JSON_BAD;
	switch (j->s[j->pos])
	{
		case '"':
			return EMU_JSON_STRING;
		case '{':
			return EMU_JSON_OBJECT;
		case '[':
			return EMU_JSON_ARRAY;
		case 't':
			return EMU_JSON_TRUE;
		case 'f':
			return EMU_JSON_FALSE;
		case 'n':
			return EMU_JSON_NULL;
		default:
			return (j->s[j->pos] == '-' || (j->s[j->pos] >= '0' && j->s[j->pos] <= '9'))
					   ? EMU_JSON_NUMBER
					   : EMU_JSON_BAD;
	}
}

static bool
IsDigit(const EmuJson *j, size_t at)
{
	return at < j->len && j->s[at] >= '0' && j->s[at] <= '9';
}

/* Consume a number; *integer says whether it had no fraction and no exponent. */
static bool
ReadNumber(EmuJson *j, bool *integer)
{
	size_t p = j->pos;

	*integer = true;
	if (p < j->len && j->s[p] == '-')
		p++;
	if (!IsDigit(j, p))
		return false;
	if (j->s[p] == '0')
		p++;
	else
		while (IsDigit(j, p))
			p++;
	if (p < j->len && j->s[p] == '.')
	{
		*integer = false;
		if (!IsDigit(j, ++p))
			return false;
		while (IsDigit(j, p))
			p++;
	}
	if (p < j->len && (j->s[p] == 'e' || j->s[p] == 'E'))
	{
		*integer = false;
		p++;
		if (p < j->len && (j->s[p] == '+' || j->s[p] == '-'))
			p++;
		if (!IsDigit(j, p))
			return false;
		while (IsDigit(j, p))
			p++;
	}
	j->pos = p;
	return true;
}

bool
EmuJsonReadString(EmuJson *j, const char **raw, size_t *rawlen)
{
	size_t p;

	if (EmuJsonPeek(j) != EMU_JSON_STRING)
		return false;
	p = j->pos + 1;
	while (p < j->len && j->s[p] != '"')
	{
		unsigned char c = (unsigned char) j->s[p];

		if (c < 0x20)
			return false;
		if (c == '\\')
		{
			if (++p >= j->len)
				return false;
			if (j->s[p] == 'u')
			{
				for (int i = 1; i <= 4; i++)
					if (p + i >= j->len || strchr("0123456789abcdefABCDEF", j->s[p + i]) == NULL ||
						j->s[p + i] == '\0')
						return false;
				p += 4;
			}
			else if (strchr("\"\\/bfnrt", j->s[p]) == NULL || j->s[p] == '\0')
				return false;
		}
		p++;
	}
	if (p >= j->len)
		return false;
	if (raw)
		*raw = j->s + j->pos + 1;
	if (rawlen)
		*rawlen = p - j->pos - 1;
	j->pos = p + 1;
	return true;
}

static bool
ReadLiteral(EmuJson *j, const char *word)
{
	size_t n = strlen(word);

	SkipSpace(j);
	if (j->len - j->pos < n || memcmp(j->s + j->pos, word, n) != 0)
		return false;
	j->pos += n;
	return true;
}

bool
EmuJsonReadNull(EmuJson *j)
{
	return ReadLiteral(j, "null");
}

bool
EmuJsonReadInt(EmuJson *j, int64_t *v)
{
	size_t start;
	bool integer, neg;
	uint64_t acc = 0;

	if (EmuJsonPeek(j) != EMU_JSON_NUMBER)
		return false;
	start = j->pos;
	if (!ReadNumber(j, &integer) || !integer)
		return false;
	neg = j->s[start] == '-';
	for (size_t p = start + neg; p < j->pos; p++)
	{
		if (acc > (UINT64_C(1) << 63) / 10)
			return false;
		acc = acc * 10 + (uint64_t) (j->s[p] - '0');
		if (acc > (UINT64_C(1) << 63) - (neg ? 0 : 1))
			return false;
	}
	*v = neg ? (int64_t) (0 - acc) : (int64_t) acc;
	return true;
}

bool
EmuJsonObjectOpen(EmuJson *j)
{
	if (EmuJsonPeek(j) != EMU_JSON_OBJECT || j->depth >= EMU_JSON_MAX_DEPTH)
		return false;
	j->pos++;
	j->depth++;
	return true;
}

int
EmuJsonObjectNext(EmuJson *j, int *n, const char **key, size_t *klen)
{
	if (Expect(j, '}'))
	{
		j->depth--;
		return 0;
	}
	if (*n > 0 && !Expect(j, ','))
		return -1;
	if (!EmuJsonReadString(j, key, klen) || !Expect(j, ':'))
		return -1;
	(*n)++;
	return 1;
}

bool
EmuJsonArrayOpen(EmuJson *j)
{
	if (EmuJsonPeek(j) != EMU_JSON_ARRAY || j->depth >= EMU_JSON_MAX_DEPTH)
		return false;
	j->pos++;
	j->depth++;
	return true;
}

int
EmuJsonArrayNext(EmuJson *j, int *n)
{
	if (Expect(j, ']'))
	{
		j->depth--;
		return 0;
	}
	if (*n > 0 && !Expect(j, ','))
		return -1;
	(*n)++;
	return 1;
}

bool
EmuJsonSkipValue(EmuJson *j)
{
	int n = 0, r;
	const char *key;
	size_t klen;
	bool integer;

	switch (EmuJsonPeek(j))
	{
		case EMU_JSON_STRING:
			return EmuJsonReadString(j, NULL, NULL);
		case EMU_JSON_NUMBER:
			return ReadNumber(j, &integer);
		case EMU_JSON_TRUE:
			return ReadLiteral(j, "true");
		case EMU_JSON_FALSE:
			return ReadLiteral(j, "false");
		case EMU_JSON_NULL:
			return ReadLiteral(j, "null");
		case EMU_JSON_OBJECT:
			if (!EmuJsonObjectOpen(j))
				return false;
			while ((r = EmuJsonObjectNext(j, &n, &key, &klen)) == 1)
				if (!EmuJsonSkipValue(j))
					return false;
			return r == 0;
		case EMU_JSON_ARRAY:
			if (!EmuJsonArrayOpen(j))
				return false;
			while ((r = EmuJsonArrayNext(j, &n)) == 1)
				if (!EmuJsonSkipValue(j))
					return false;
			return r == 0;
		case EMU_JSON_BAD:
			break;
	}
	return false;
}

bool
EmuJsonAtEnd(EmuJson *j)
{
	SkipSpace(j);
	return j->pos == j->len;
}

bool
EmuJsonKeyIs(const char *key, size_t klen, const char *name)
{
	return strlen(name) == klen && memcmp(key, name, klen) == 0;
}
