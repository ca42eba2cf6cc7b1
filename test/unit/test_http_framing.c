/*
 * test_http_framing.c — unit tests of the request framing tracker
 * (src/core/http_framing.c), built with ASan/UBSan by `make unit`: every case
 * is fed whole, byte by byte and in two halves at every split, and must end the
 * same way. Prints "N passed, N failed".
 */
#include <stdio.h>
#include <string.h>

#include "http_framing.h"
#include "unit_check.h"

#define MAX_BODY (16u * 1024 * 1024)

typedef enum Expect
{
	EXPECT_FOLLOWED,   /* passed, still watching, between requests */
	EXPECT_IN_REQUEST, /* passed, still watching, inside a request */
	EXPECT_GAVE_UP,	   /* passed, no longer watching */
	EXPECT_TOO_LARGE
} Expect;

static Expect
Outcome(HttpFraming *f, HttpFramingVerdict v)
{
	if (v == HTTP_FRAMING_TOO_LARGE)
		return EXPECT_TOO_LARGE;
	if (HttpFramingGaveUp(f))
		return EXPECT_GAVE_UP;
	return HttpFramingInRequest(f) ? EXPECT_IN_REQUEST : EXPECT_FOLLOWED;
}

/* Feed text in pieces of step bytes (0: whole; else the first split at 'split'). */
static Expect
Feed(const char *text, size_t len, size_t step, size_t split, uint64_t *requests)
{
	HttpFraming f;
	HttpFramingVerdict v = HTTP_FRAMING_PASS;

	HttpFramingInit(&f, MAX_BODY);
	if (step == 0)
		v = HttpFramingFeed(&f, text, len, NULL);
	else if (split > 0)
	{
		v = HttpFramingFeed(&f, text, split, NULL);
		if (v == HTTP_FRAMING_PASS)
			v = HttpFramingFeed(&f, text + split, len - split, NULL);
	}
	else
		for (size_t i = 0; i < len && v == HTTP_FRAMING_PASS; i += step)
			v = HttpFramingFeed(&f, text + i, len - i < step ? len - i : step, NULL);
	if (requests)
		*requests = f.requests;
	return Outcome(&f, v);
}

static const char *names[] = {"followed", "in a request", "gave up", "too large"};

/* text ends as want, and says it saw n_requests request heads, however it is split. */
static void
Case(const char *what, const char *text, Expect want, uint64_t n_requests)
{
	size_t len = strlen(text);
	uint64_t requests = 0;
	Expect got = Feed(text, len, 0, 0, &requests);

	CHECK(got == want, "%s: whole: %s, want %s", what, names[got], names[want]);
	if (want != EXPECT_TOO_LARGE)
		CHECK(requests == n_requests, "%s: %llu request heads, want %llu", what,
			  (unsigned long long) requests, (unsigned long long) n_requests);
	got = Feed(text, len, 1, 0, NULL);
	CHECK(got == want, "%s: byte by byte: %s, want %s", what, names[got], names[want]);
	for (size_t split = 1; split < len; split++)
	{
		got = Feed(text, len, 1, split, NULL);
		if (got != want)
		{
			CHECK(false, "%s: split at %zu: %s, want %s", what, split, names[got], names[want]);
			break;
		}
	}
}

int
main(void)
{
	/* requests the tracker follows to their end */
	Case("GET", "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", EXPECT_FOLLOWED, 1);
	Case("Content-Length body", "POST /pin/ HTTP/1.1\r\nContent-Length: 5\r\n\r\nabcde",
		 EXPECT_FOLLOWED, 1);
	Case("Content-Length body, partly sent", "POST /pin/ HTTP/1.1\r\nContent-Length: 9\r\n\r\nabc",
		 EXPECT_IN_REQUEST, 1);
	Case("chunked body with an extension and a trailer",
		 "POST /pins HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
		 "5;name=value\r\nabcde\r\n3\r\nfgh\r\n0\r\nX-Trailer: 1\r\n\r\n",
		 EXPECT_FOLLOWED, 1);
	Case("header names in any case, bare LF line ends",
		 "POST /pin/ HTTP/1.1\nTRANSFER-encoding:  Chunked \n\n2\nab\n0\n\n", EXPECT_FOLLOWED, 1);
	Case("pipelined: GET, Content-Length, chunked, GET",
		 "GET / HTTP/1.1\r\n\r\nPOST / HTTP/1.1\r\nContent-Length: 3\r\n\r\nxyz"
		 "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nq\r\n0\r\n\r\n"
		 "GET / HTTP/1.1\r\n\r\n",
		 EXPECT_FOLLOWED, 4);
	Case("a body that looks like framing headers is a body",
		 "POST / HTTP/1.1\r\nContent-Length: 32\r\n\r\nTransfer-Encoding: chunked\r\n\r\nF\r\n",
		 EXPECT_FOLLOWED, 1);
	Case("empty lines before a request", "\r\n\r\nGET / HTTP/1.1\r\n\r\n", EXPECT_FOLLOWED, 1);
	Case("the same Content-Length twice",
		 "POST / HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nab", EXPECT_FOLLOWED, 1);
	Case("a chunk of exactly the limit",
		 "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1000000\r\n", EXPECT_IN_REQUEST, 1);
	Case("leading zeros do not overflow",
		 "POST / HTTP/1.1\r\nTransfer-Encoding: "
		 "chunked\r\n\r\n000000000000000000000001\r\nz\r\n0\r\n\r\n",
		 EXPECT_FOLLOWED, 1);
	Case("a long unrelated header line is skipped",
		 "GET / HTTP/1.1\r\nCookie: "
		 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		 "aaaaaaaaaaaaaaaaaaa"
		 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		 "aaaaaaaaaaaaaaaaaaa"
		 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		 "aaaaaaaaaaaaaaaaaaa\r\n"
		 "Content-Length: 1\r\n\r\nz",
		 EXPECT_FOLLOWED, 1);

	/* chunks that declare more than the body may hold: refused before their data */
	Case("a 64-bit chunk size and three bytes",
		 "POST /pin/ HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFFFF\r\nabc",
		 EXPECT_TOO_LARGE, 1);
	Case("a chunk size over 64 bits",
		 "POST /pin/ HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1FFFFFFFFFFFFFFFF\r\nabc",
		 EXPECT_TOO_LARGE, 1);
	Case("one byte over the limit, said before the line ends",
		 "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1000001", EXPECT_TOO_LARGE, 1);
	Case("chunks that add up to more than the limit",
		 "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\nFFFFFF\r\n",
		 EXPECT_TOO_LARGE, 1);
	Case("a too-large chunk in the second request of a connection",
		 "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nq\r\n0\r\n\r\n"
		 "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n7fffffffffffffff;ext\r\nab",
		 EXPECT_TOO_LARGE, 2);

	/* framing it does not follow for sure: it stops watching (the request layer refuses those) */
	Case("two different Content-Length",
		 "POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nabcde", EXPECT_GAVE_UP,
		 1);
	Case("Content-Length not a number", "POST / HTTP/1.1\r\nContent-Length: 5x\r\n\r\n",
		 EXPECT_GAVE_UP, 1);
	Case("Transfer-Encoding gzip", "POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\nabc",
		 EXPECT_GAVE_UP, 1);
	Case("Transfer-Encoding chunked, chunked",
		 "POST / HTTP/1.1\r\nTransfer-Encoding: chunked, chunked\r\n\r\n5\r\n", EXPECT_GAVE_UP, 1);
	Case("Transfer-Encoding and Content-Length",
		 "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n5\r\n",
		 EXPECT_GAVE_UP, 1);
	Case("a chunk line without a size",
		 "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", EXPECT_GAVE_UP, 1);
	Case("junk after a chunk's data",
		 "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nqX\r\n", EXPECT_GAVE_UP, 1);
	Case("a folded header line", "POST / HTTP/1.1\r\nX: a\r\n b\r\n\r\n", EXPECT_GAVE_UP, 0);

	/* after giving up, nothing is refused any more: libmicrohttpd and the request layer judge */
	Case("gave up, then a 64-bit chunk size passes",
		 "POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\nFFFFFFFFFFFFFFFF\r\n", EXPECT_GAVE_UP,
		 1);
	/* what comes before the deciding byte belongs to earlier requests (it still goes up) */
	{
		const char *two =
			"GET / HTTP/1.1\r\n\r\nPOST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
			"FFFFFFFFFFFFFFFF\r\nabc";
		HttpFraming f;
		size_t taken = 0;

		HttpFramingInit(&f, MAX_BODY);
		CHECK(HttpFramingFeed(&f, two, strlen(two), &taken) == HTTP_FRAMING_TOO_LARGE,
			  "two requests: too large");
		/* 0xFFFFFFF (7 digits) is the first over 16 MB */
		CHECK(taken == (size_t) (strstr(two, "FFFF") - two) + 7, "taken %zu", taken);
		CHECK(HttpFramingFeed(&f, "x", 1, &taken) == HTTP_FRAMING_TOO_LARGE && taken == 0,
			  "sticky, nothing more taken (%zu)", taken);
	}
	return UnitReport("test_http_framing");
}
