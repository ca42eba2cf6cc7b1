/*
 * test_strbuf.c — unit tests of the growable text buffer (src/core/strbuf.c), built
 * with ASan/UBSan by `make unit`: growth across every boundary of the first
 * allocations, the terminator after every operation, hand-over, and the sticky
 * out-of-memory rule the HTTP layer, /metrics and the emulator rely on.
 * Prints "N passed, N failed".
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strbuf.h"
#include "unit_check.h"

/*
 * Let ASan's realloc return NULL for a request it cannot serve, as the C
 * library's does, so the out-of-memory path is the real one (realloc failing).
 * ASan says so in one "WARNING: AddressSanitizer failed to allocate" line: expected.
 */
const char *__asan_default_options(void);
const char *
__asan_default_options(void)
{
	return "allocator_may_return_null=1";
}

/* The buffer holds exactly want[0..n), NUL-terminated. */
static bool
Holds(const StrBuf *b, const char *want, size_t n)
{
	if (b->len != n)
		return false;
	if (n == 0)
		return b->data == NULL || b->data[0] == '\0';
	return b->data != NULL && memcmp(b->data, want, n) == 0 && b->data[n] == '\0' &&
		   b->cap > b->len;
}

/* Fill s with n bytes of a recognisable pattern and a NUL. */
static void
Pattern(char *s, size_t n, char base)
{
	for (size_t i = 0; i < n; i++)
		s[i] = (char) (base + (char) (i % 23));
	s[n] = '\0';
}

static void
TestEmpty(void)
{
	StrBuf b = {0};
	StrBuf c;
	size_t len = 99;
	char *text;

	CHECK(Holds(&b, "", 0) && !b.oom, "a zeroed buffer is empty");
	StrBufInit(&c);
	CHECK(Holds(&c, "", 0) && !c.oom && c.cap == 0, "StrBufInit gives an empty buffer");
	text = StrBufTake(&b, &len);
	CHECK(text != NULL && text[0] == '\0' && len == 0, "an empty buffer hands over \"\"");
	free(text);
	StrBufAppend(&b, "", 0);
	CHECK(Holds(&b, "", 0) && b.data != NULL, "appending nothing still gives a terminated text");
	StrBufFree(&b);
	CHECK(b.data == NULL && b.len == 0 && b.cap == 0, "free leaves an empty buffer");
}

/* Appends and printf of every length from 0 to 1100 after every prefix length from 0 to 300. */
static void
TestGrowth(void)
{
	static char want[1500];
	static char piece[1200];
	int bad = 0;

	for (size_t prefix = 0; prefix <= 300 && !bad; prefix += 3)
	{
		for (size_t n = 0; n <= 1100 && !bad; n++)
		{
			StrBuf a = {0};
			StrBuf p = {0};

			Pattern(want, prefix, 'a');
			Pattern(piece, n, 'A');
			StrBufAppend(&a, want, prefix);
			StrBufAppend(&a, piece, n);
			StrBufPuts(&p, want);
			StrBufPrintf(&p, "%s", piece);
			memcpy(want + prefix, piece, n + 1);
			if (!Holds(&a, want, prefix + n) || a.oom)
			{
				bad = 1;
				printf("append of %zu bytes after %zu differs\n", n, prefix);
			}
			if (!Holds(&p, want, prefix + n) || p.oom)
			{
				bad = 1;
				printf("printf of %zu bytes after %zu differs\n", n, prefix);
			}
			StrBufFree(&a);
			StrBufFree(&p);
		}
	}
	CHECK(!bad, "growth across the first allocations");
}

static void
TestMixed(void)
{
	StrBuf b = {0};
	char want[256];
	char *text;
	size_t len = 0;
	char *data;
	size_t cap;

	StrBufAppend(&b, "a\0b", 3);
	CHECK(b.len == 3 && memcmp(b.data, "a\0b", 4) == 0, "bytes with a NUL in them");
	StrBufReset(&b);
	StrBufPrintf(&b, "%d-%s-%.2f", 42, "x", 1.5);
	StrBufPuts(&b, "|");
	StrBufPrintf(&b, "%c", 'z');
	snprintf(want, sizeof(want), "%d-%s-%.2f|z", 42, "x", 1.5);
	CHECK(Holds(&b, want, strlen(want)), "printf, puts, printf: [%s]", b.data);

	data = b.data;
	cap = b.cap;
	StrBufTruncate(&b, 2);
	CHECK(Holds(&b, "42", 2), "truncate cuts and terminates: [%s]", b.data);
	StrBufTruncate(&b, 10);
	CHECK(Holds(&b, "42", 2), "truncate never lengthens");
	StrBufReset(&b);
	CHECK(Holds(&b, "", 0) && b.data == data && b.cap == cap, "reset keeps the memory");

	StrBufPuts(&b, "hand over");
	text = StrBufTake(&b, &len);
	CHECK(text != NULL && strcmp(text, "hand over") == 0 && len == 9, "take gives the text");
	CHECK(b.data == NULL && b.len == 0 && b.cap == 0 && !b.oom, "take leaves an empty buffer");
	free(text);
	StrBufPuts(&b, "again");
	CHECK(Holds(&b, "again", 5), "a taken-from buffer is usable");
	StrBufFree(&b);
}

/* The out-of-memory rule: sticky, text kept as it was, appends are no-ops, take gives NULL. */
static void
TestOutOfMemory(void)
{
	StrBuf b = {0};
	size_t len = 7;
	/* the size limit refuses the first three; the last one gets to realloc, which fails */
	static const size_t huge[] = {SIZE_MAX, SIZE_MAX - 1, SIZE_MAX / 2, SIZE_MAX / 2 - 300};

	for (size_t i = 0; i < sizeof(huge) / sizeof(huge[0]); i++)
	{
		StrBufPuts(&b, "kept");
		CHECK(!StrBufReserve(&b, huge[i]) && b.oom, "a reserve of %zu fails", huge[i]);
		StrBufPuts(&b, " lost");
		StrBufAppend(&b, "lost", 4);
		StrBufPrintf(&b, "%s", "lost");
		StrBufJsonString(&b, "lost", 4);
		CHECK(!StrBufReserve(&b, 1), "a failure is sticky");
		CHECK(Holds(&b, "kept", 4) && b.oom, "after a failure the text stays: [%s]", b.data);
		CHECK(StrBufTake(&b, &len) == NULL && len == 0, "take after a failure gives NULL");
		CHECK(b.data == NULL && b.len == 0 && !b.oom, "take after a failure empties the buffer");
	}

	StrBufPuts(&b, "x");
	StrBufReserve(&b, SIZE_MAX);
	StrBufReset(&b);
	StrBufPuts(&b, "fresh");
	CHECK(Holds(&b, "fresh", 5) && !b.oom, "reset forgets a failure");
	StrBufFree(&b);

	/*
	 * An encoding error (a wide character the C locale cannot write) makes
	 * vsnprintf fail after a partial write: that counts as a failure, and the
	 * terminator stays where the text ends.
	 */
	StrBufPuts(&b, "abc");
	StrBufPrintf(&b, "0123456789%ls", L"\x100");
	CHECK(b.oom && Holds(&b, "abc", 3), "a printf encoding error: [%s]", b.data);
	StrBufFree(&b);
}

static void
TestJsonString(void)
{
	StrBuf b = {0};
	const char *want = "\"a\\\"b\\\\c\\n\\t\\u0001\\u0000\xc3\xa9\"";

	StrBufJsonString(&b, "a\"b\\c\n\t\x01\0\xc3\xa9", 11);
	CHECK(Holds(&b, want, strlen(want)), "escaped string literal: [%s]", b.data);
	StrBufReset(&b);
	StrBufJsonString(&b, "", 0);
	CHECK(Holds(&b, "\"\"", 2), "empty string literal");
	StrBufReset(&b);
	for (int i = 0; i < 200; i++)
		StrBufJsonString(&b, "\"\"\"\"", 4);
	CHECK(b.len == 200 * 10 && b.data[b.len] == '\0' && !b.oom, "escapes that grow the buffer");
	StrBufFree(&b);
}

int
main(void)
{
	TestEmpty();
	TestGrowth();
	TestMixed();
	TestOutOfMemory();
	TestJsonString();
	return UnitReport("strbuf");
}
