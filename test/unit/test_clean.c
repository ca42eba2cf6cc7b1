/*
 * test_clean.c — unit tests of the pure cleaning core (src/core/pin_json.c, src/core/clean.c),
 * built with ASan/UBSan by `make unit`. Prints "N passed, N failed".
 */
#include <stdio.h>
#include <stdlib.h>
#include <regex.h>
#include <string.h>

#include "clean.h"
#include "pin_json.h"
#include "topic_stream.h"
#include "unit_check.h"

static bool
TextIs(CleanText t, const char *want)
{
	if (want == NULL)
		return t.ptr == NULL;
	return t.ptr != NULL && t.len == strlen(want) && memcmp(t.ptr, want, t.len) == 0;
}

static void
TestFollowerCount(void)
{
	static const struct
	{
		const char *in;
		bool ok;
		long long want;
	} cases[] = {
		{"972", true, 972},
		{"0", true, 0},
		{"5k", true, 5000},
		{"15M", true, 15000000},
		{"1.5k", true, 1500},
		{"2B", true, 2000000000},
		{"7m", true, 7000000},
		{"450K", true, 450000},
		{" 5k\xc2\xa0", true, 5000},
		{"1.2345k", true, 1235},
		{"1,234", true, 1234},
		{"1,234,567", true, 1234567},
		{"3 k", true, 3000},
		{"12,34", false, 0},
		{"1234,567", false, 0},
		{"User Info Error", false, 0},
		{"user  info error", false, 0},
		{"", false, 0},
		{"   ", false, 0},
		{"-5", false, 0},
		{"5kk", false, 0},
		{"k", false, 0},
		{"1.", false, 0},
		{".5k", false, 0},
		{"5x", false, 0},
		{"99999999999999999999", false, 0},
		{"9223372036B", true, 9223372036000000000LL},
		{"9999999999B", false, 0},
		{"99999999999B", false, 0},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
	{
		int64_t n = -1;
		bool flagged;
		bool ok = CleanFollowerCount(cases[i].in, strlen(cases[i].in), &n, &flagged);

		CHECK(ok == cases[i].ok && flagged == !cases[i].ok && (!ok || n == cases[i].want),
			  "follower_count '%s': ok=%d n=%lld", cases[i].in, ok, (long long) n);
	}
}

static void
TestTrim(void)
{
	CHECK(TextIs(TextTrim("  a b \t", 7), "a b"), "ascii trim");
	CHECK(TextIs(TextTrim("x\xc2\xa0", 3), "x"), "nbsp trim");
	CHECK(TextIs(TextTrim("\xe3\x80\x80x\xe2\x80\xaf", 7), "x"), "ideographic/narrow nbsp trim");
	CHECK(TextIs(TextTrim("\xef\xbb\xbfx", 4), "x"), "BOM trim");
	CHECK(TextTrim(" \xc2\xa0 ", 4).len == 0, "all space");
	/* a multi-byte letter ending in 0xA0 is not a space: 'à' is C3 A0 */
	CHECK(TextIs(TextTrim("\xc3\xa0", 2), "\xc3\xa0"), "C3 A0 is a letter");
	CHECK(TextIs(TextTrim("\xe2\x80\xa6\xc2\xa0", 5), "\xe2\x80\xa6"), "ellipsis+nbsp");
}

static void
TestTags(void)
{
	CleanText list, tag;
	bool flagged;
	size_t pos = 0;
	const char *s = " a , b,,c ,";
	int n = CleanTagList(s, strlen(s), &list, &flagged);

	CHECK(n == 3 && !flagged, "three tags, got %d", n);
	CHECK(CleanTagNext(list, &pos, &tag) && TextIs(tag, "a"), "tag a");
	CHECK(CleanTagNext(list, &pos, &tag) && TextIs(tag, "b"), "tag b");
	CHECK(CleanTagNext(list, &pos, &tag) && TextIs(tag, "c"), "tag c");
	CHECK(!CleanTagNext(list, &pos, &tag), "end of tags");
	s = "N,o, ,T,a,g,s, ,A,v,a,i,l,a,b,l,e";
	CHECK(CleanTagList(s, strlen(s), &list, &flagged) == 0 && flagged && list.ptr == NULL,
		  "placeholder");
	s = "No Tags Available";
	CHECK(CleanTagList(s, strlen(s), &list, &flagged) == 0 && flagged, "spelled placeholder");
	s = " , ,";
	CHECK(CleanTagList(s, strlen(s), &list, &flagged) == 0 && flagged, "only empties");
}

static void
TestSaveLocation(void)
{
	bool flagged;

	CHECK(TextIs(CleanSaveLocation("Local save in /data/art", 23, &flagged), "/data/art") &&
			  !flagged,
		  "local save");
	CHECK(TextIs(CleanSaveLocation(" File path is /data/post ", 25, &flagged), "/data/post"),
		  "file path");
	CHECK(CleanSaveLocation("nowhere", 7, &flagged).ptr == NULL && flagged, "no slash");
}

static void
TestUuid(void)
{
	uint8_t u[16];

	CHECK(TextParseUuid("79dbcedb-4f96-4fcc-bcb2-70dc82f646e1", 36, u), "canonical");
	CHECK(memcmp(u, "\x79\xdb\xce\xdb\x4f\x96\x4f\xcc\xbc\xb2\x70\xdc\x82\xf6\x46\xe1", 16) == 0,
		  "parsed bytes");
	CHECK(TextParseUuid("{79DBCEDB4F964FCCBCB270DC82F646E1}", 34, u), "braces, upper, no hyphens");
	CHECK(TextParseUuid("urn:uuid:79dbcedb-4f96-4fcc-bcb2-70dc82f646e1", 45, u), "urn");
	CHECK(!TextParseUuid("79dbcedb-4f96-4fcc-bcb2-70dc82f646e", 35, u), "short");
	CHECK(!TextParseUuid("79dbcedb-4f96-4fcc-bcb2-70dc82f646e1a", 37, u), "long");
	CHECK(!TextParseUuid("g9dbcedb-4f96-4fcc-bcb2-70dc82f646e1", 36, u), "non-hex");
	CHECK(!TextParseUuid("", 0, u), "empty");
}

static const char *VALID_PIN =
	"{\"index\": 7, \"unique_id\": \"79dbcedb-4f96-4fcc-bcb2-70dc82f646e1\", \"title\": "
	"\"No Title Data Available\", \"description\":\"Nice\\u2026\\u00a0\", \"poster_name\": "
	"\"User Info Error\", \"follower_count\": \"5k\", \"tag_list\": \"a,b\", "
	"\"is_image_or_video\": \"image\", \"image_src\": \"Image src error.\", \"downloaded\": 0, "
	"\"save_location\": \"Local save in /data/art\", \"category\": \"art\", \"extra\": [1, {\"x\": "
	"null}]}";

static PinParseResult
Parse(const char *json, PinRecord *rec, char **scratch)
{
	size_t len = strlen(json);

	*scratch = malloc(PIN_SCRATCH_SIZE(len));
	return PinParse(json, len, rec, *scratch);
}

static void
TestParseAndClean(void)
{
	PinRecord rec;
	CleanPin pin;
	char *scratch;
	char echo[4096];
	PinParseResult r = Parse(VALID_PIN, &rec, &scratch);

	CHECK(r == PIN_OK, "valid pin parses, got %d (%s)", r, rec.nerrors ? rec.errors[0].msg : "");
	CleanPinRecord(&rec, &pin);
	CHECK(pin.ind == 7 && pin.downloaded == 0, "ints");
	CHECK(pin.title.ptr == NULL, "title placeholder → NULL");
	CHECK(TextIs(pin.description, "Nice\xe2\x80\xa6"), "description decoded and trimmed");
	CHECK(pin.poster_name.ptr == NULL, "poster placeholder → NULL");
	CHECK(!pin.follower_count_null && pin.follower_count == 5000, "follower 5k");
	CHECK(pin.ntags == 2, "tags");
	CHECK(pin.image_src.ptr == NULL, "image src placeholder");
	CHECK(TextIs(pin.save_location, "/data/art"), "save location");
	CHECK(pin.error_mask == ((1u << PIN_TITLE) | (1u << PIN_POSTER_NAME) | (1u << PIN_IMAGE_SRC)),
		  "error mask %x", pin.error_mask);
	PinRecordToJson(&rec, echo, sizeof(echo));
	CHECK(strstr(echo, "\"index\":7") &&
			  strstr(echo, "\"description\":\"Nice\xe2\x80\xa6\xc2\xa0\"") &&
			  !strstr(echo, "extra"),
		  "echo: %s", echo);
	free(scratch);
}

/*
 * PinRecord.scratch_used: what the sink relies on to parse the next message of a batch
 * right behind the last one in the same scratch (src/write/sink.c, SinkScratchKeep).
 */
static void
TestScratchUsed(void)
{
	size_t len = strlen(VALID_PIN);
	char *scratch = malloc(2 * PIN_SCRATCH_SIZE(len));
	PinRecord first, second;
	CleanPin pin;
	bool inside = true;
	char *other;

	memset(scratch, '#', 2 * PIN_SCRATCH_SIZE(len));
	CHECK(PinParse(VALID_PIN, len, &first, scratch) == PIN_OK, "first parse");
	CHECK(first.scratch_used > 0 && first.scratch_used < PIN_SCRATCH_SIZE(len),
		  "escapes and numbers use some scratch, got %zu", first.scratch_used);
	for (int f = 0; f < PIN_NFIELDS; f++)
		if (first.str[f] >= scratch && first.str[f] < scratch + 2 * PIN_SCRATCH_SIZE(len))
			inside = inside && first.str[f] + first.len[f] <= scratch + first.scratch_used;
	CHECK(inside, "every value in the scratch lies within scratch_used");
	/* another pin, whose decoded description differs from the first one's */
	other = strdup(VALID_PIN);
	memcpy(strstr(other, "Nice"), "Fine", 4);
	CHECK(PinParse(other, len, &second, scratch + first.scratch_used) == PIN_OK,
		  "second parse right behind the first");
	CleanPinRecord(&first, &pin);
	CHECK(TextIs(pin.description, "Nice\xe2\x80\xa6") && pin.ind == 7 && pin.downloaded == 0,
		  "the first record's values survive the second parse");
	free(other);
	free(scratch);
}

static void
TestMediaClass(void)
{
	static const struct
	{
		const char *s;
		CleanMedia want;
	} cases[] = {
		{"image", CLEAN_MEDIA_IMAGE},
		{"video", CLEAN_MEDIA_VIDEO},
		{"multi-video(story page format)", CLEAN_MEDIA_STORY},
		{"multi-video", CLEAN_MEDIA_STORY},
		{"multi-video(carousel)", CLEAN_MEDIA_STORY},
		{"Image", CLEAN_MEDIA_OTHER},
		{"images", CLEAN_MEDIA_OTHER},
		{"multi-vide", CLEAN_MEDIA_OTHER},
		{"gif", CLEAN_MEDIA_OTHER},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		CHECK(CleanMediaClass(cases[i].s, strlen(cases[i].s)) == cases[i].want, "media %s",
			  cases[i].s);
	CHECK(CleanMediaClass(NULL, 0) == CLEAN_MEDIA_OTHER, "media NULL is other");
	CHECK(strcmp(clean_media_names[CLEAN_MEDIA_STORY], "story") == 0, "media names");
}

/* Parse a pin made of VALID_PIN with one field's value replaced. */
static PinParseResult
ParseWith(const char *field, const char *value, PinRecord *rec, char **scratch)
{
	static char buf[4096];
	const char *key = strstr(VALID_PIN, field);
	const char *colon = strchr(key, ':') + 2;
	const char *end = colon;
	int depth = 0;

	/* the old value runs to the next ',' or '}' at depth 0 outside strings */
	for (bool in_str = false;; end++)
	{
		if (in_str)
		{
			if (*end == '\\')
				end++;
			else if (*end == '"')
				in_str = false;
			continue;
		}
		if (*end == '"')
			in_str = true;
		else if (*end == '[' || *end == '{')
			depth++;
		else if ((*end == ']' || *end == '}') && depth > 0)
			depth--;
		else if ((*end == ',' || *end == '}') && depth == 0)
			break;
	}
	snprintf(buf, sizeof(buf), "%.*s%s%s", (int) (colon - VALID_PIN), VALID_PIN, value, end);
	return Parse(buf, rec, scratch);
}

static void
TestCoercion(void)
{
	static const struct
	{
		const char *field;
		const char *value;
		PinParseResult want;
		const char *coerced; /* for PIN_OK */
		const char *type;	 /* for PIN_INVALID */
	} cases[] = {
		{"\"index\"", "\"5\"", PIN_OK, "5", NULL},
		{"\"index\"", "\" -5 \"", PIN_OK, "-5", NULL},
		{"\"index\"", "\"1_000\"", PIN_OK, "1000", NULL},
		{"\"index\"", "5.9", PIN_OK, "5", NULL},
		{"\"index\"", "-5.9", PIN_OK, "-5", NULL},
		{"\"index\"", "true", PIN_OK, "1", NULL},
		{"\"index\"", "\"5.0\"", PIN_INVALID, NULL, "type_error.integer"},
		{"\"index\"", "\"five\"", PIN_INVALID, NULL, "type_error.integer"},
		{"\"index\"", "null", PIN_INVALID, NULL, "type_error.none.not_allowed"},
		{"\"index\"", "[1]", PIN_INVALID, NULL, "type_error.integer"},
		{"\"index\"", "2147483648", PIN_INVALID, NULL, "value_error.number.not_le"},
		{"\"index\"", "-2147483649", PIN_INVALID, NULL, "value_error.number.not_ge"},
		{"\"index\"", "1e400", PIN_INVALID, NULL, "type_error.integer"},
		{"\"index\"", "123456789012345678901234567890", PIN_INVALID, NULL,
		 "value_error.number.not_le"},
		{"\"title\"", "5", PIN_OK, "5", NULL},
		{"\"title\"", "-0", PIN_OK, "0", NULL},
		{"\"title\"", "1.5", PIN_OK, "1.5", NULL},
		{"\"title\"", "1e3", PIN_OK, "1000.0", NULL},
		{"\"title\"", "1e16", PIN_OK, "1e+16", NULL},
		{"\"title\"", "0.0001", PIN_OK, "0.0001", NULL},
		{"\"title\"", "0.00001", PIN_OK, "1e-05", NULL},
		{"\"title\"", "0.1", PIN_OK, "0.1", NULL},
		{"\"title\"", "123456789.125", PIN_OK, "123456789.125", NULL},
		{"\"title\"", "true", PIN_OK, "True", NULL},
		{"\"title\"", "false", PIN_OK, "False", NULL},
		{"\"title\"", "null", PIN_INVALID, NULL, "type_error.none.not_allowed"},
		{"\"title\"", "{}", PIN_INVALID, NULL, "type_error.str"},
		{"\"title\"", "\"a\\u0000b\"", PIN_INVALID, NULL, "value_error.str.nul"},
		{"\"title\"", "\"\\ud83d\\ude00\"", PIN_OK, "\xf0\x9f\x98\x80", NULL},
		{"\"unique_id\"", "\"not-a-uuid\"", PIN_INVALID, NULL, "type_error.uuid"},
		{"\"unique_id\"", "12", PIN_INVALID, NULL, "type_error.uuid"},
		{"\"poster_name\"", "null", PIN_OK, NULL, NULL},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
	{
		PinRecord rec;
		char *scratch;
		PinParseResult r = ParseWith(cases[i].field, cases[i].value, &rec, &scratch);
		int f = PinFieldLookup(cases[i].field + 1, strlen(cases[i].field) - 2);

		if (cases[i].want == PIN_OK)
			CHECK(r == PIN_OK && (cases[i].coerced == NULL
									  ? !rec.present[f]
									  : (rec.len[f] == strlen(cases[i].coerced) &&
										 memcmp(rec.str[f], cases[i].coerced, rec.len[f]) == 0)),
				  "%s=%s: r=%d got '%.*s'", cases[i].field, cases[i].value, r,
				  (int) (r == PIN_OK && rec.present[f] ? rec.len[f] : 0),
				  rec.str[f] ? rec.str[f] : "");
		else
			CHECK(r == cases[i].want && rec.nerrors == 1 && rec.errors[0].field == f &&
					  strcmp(rec.errors[0].type, cases[i].type) == 0,
				  "%s=%s: r=%d errors=%d type=%s", cases[i].field, cases[i].value, r, rec.nerrors,
				  rec.nerrors ? rec.errors[0].type : "-");
		free(scratch);
	}
}

static void
TestBadJson(void)
{
	static const char *bad[] = {
		"",
		"   ",
		"{",
		"{\"index\": 1",
		"{\"index\" 1}",
		"{index: 1}",
		"{\"a\": 01}",
		"{\"a\": 1,}",
		"{\"a\": NaN}",
		"{\"a\": \"\x01\"}",
		"{\"a\": \"\xff\"}",
		"{\"a\": \"\xc0\xaf\"}",
		"{\"a\": \"\xed\xa0\x80\"}",
		"{\"a\": \"\\ud800\"}",
		"{\"a\": \"\\udc00\"}",
		"{\"a\": \"\\x\"}",
		"{} {}",
		"{\"a\": tru}",
		"\xef\xbb\xbf{}",
		"{\"a\": "
		"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]"
		"]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
	{
		PinRecord rec;
		char *scratch;
		PinParseResult r = Parse(bad[i], &rec, &scratch);

		CHECK(r == PIN_BAD_JSON && rec.nerrors == 1, "bad JSON #%zu accepted as %d", i, r);
		free(scratch);
	}
	{
		PinRecord rec;
		char *scratch;

		CHECK(Parse("[1, 2]", &rec, &scratch) == PIN_INVALID &&
				  strcmp(rec.errors[0].type, "type_error.dict") == 0,
			  "array is not a dict");
		free(scratch);
		CHECK(Parse("{}", &rec, &scratch) == PIN_INVALID && rec.nerrors == PIN_NFIELDS - 1,
			  "empty object: every required field missing (%d)", rec.nerrors);
		free(scratch);
	}
}

static void
TestArrayAndErrorsJson(void)
{
	const char *arr = " [ {\"a\": [1, 2]} , 3, \"x\" ] ";
	const char *elem;
	size_t elen, pos = 0;
	PinError err;
	PinRecord rec;
	char *scratch, out[2048];
	int n = 0, r;

	while ((r = PinJsonArrayNext(arr, strlen(arr), &pos, &elem, &elen, &err)) == 1)
		n++;
	CHECK(r == 0 && n == 3, "array of 3, got %d (r=%d)", n, r);
	pos = 0;
	CHECK(PinJsonArrayNext("[]", 2, &pos, &elem, &elen, &err) == 0, "empty array");
	pos = 0;
	r = PinJsonArrayNext("[1,", 3, &pos, &elem, &elen, &err);
	r = PinJsonArrayNext("[1,", 3, &pos, &elem, &elen, &err);
	CHECK(r == -1, "truncated array");
	CHECK(PinJsonIsArray(" \n[", 3) && !PinJsonIsArray("{", 1), "is array");
	{
		/* members: keys compared after their escapes are decoded, integers within int64 */
		const char *obj = "{\"a\\u0062\":1,\"ab\":-9223372036854775808,\"c\":1e2,\"d\":\"7\"}";
		JsonMember m;
		size_t opos = 0;
		int64_t v = 0;
		int keys = 0, ints = 0;

		while (JsonObjectNext(obj, strlen(obj), &opos, &m, &err) == 1)
		{
			keys += JsonKeyIs(&m, "ab");
			ints += JsonIntegerValue(&m.value, &v);
		}
		CHECK(keys == 2 && ints == 2 && v == INT64_MIN, "JsonKeyIs %d, JsonIntegerValue %d", keys,
			  ints);
		opos = 0;
		obj = "{\"n\":9223372036854775808}";
		CHECK(JsonObjectNext(obj, strlen(obj), &opos, &m, &err) == 1 &&
				  !JsonIntegerValue(&m.value, &v),
			  "int64 overflow is not an integer value");
	}
	{
		/* NDJSON: blank lines skipped, surrounding blanks and CRLF endings dropped */
		const char *nd = "{\"a\": 1}\r\n\n  \t\r\n \t{\"b\": 2} \n{\"c\": 3}";
		const char *line;
		size_t n, npos = 0;
		int k = 0;
		bool ok_lines = true;
		static const char *const want[] = {"{\"a\": 1}", "{\"b\": 2}", "{\"c\": 3}"};

		while (PinNdjsonNext(nd, strlen(nd), &npos, &line, &n))
		{
			if (k >= 3 || n != strlen(want[k]) || memcmp(line, want[k], n) != 0)
				ok_lines = false;
			k++;
		}
		CHECK(ok_lines && k == 3, "NDJSON lines (%d)", k);
		npos = 0;
		CHECK(!PinNdjsonNext(" \n\r\n", 4, &npos, &line, &n), "blank NDJSON");
	}
	{
		/* a batch: one well-formed array, else NDJSON; a one-line bad array is an error */
		PinBatch b;
		const char *recp;
		size_t rlen;
		int k = 0;
		static const char nd[] = "[1]\n{\"a\": 1}\n{\"b\": 2}\n";

		CHECK(PinBatchOpen(&b, nd, strlen(nd), &err) && !b.array, "[1] line: NDJSON");
		while (PinBatchNext(&b, &recp, &rlen))
			k++;
		CHECK(k == 3, "[1] line + 2 pins: 3 records, got %d", k);
		CHECK(PinBatchOpen(&b, "[\n1,\n2\n]", 8, &err) && b.array, "multi-line array");
		k = 0;
		while (PinBatchNext(&b, &recp, &rlen))
			k++;
		CHECK(k == 2, "multi-line array: 2 elements, got %d", k);
		CHECK(!PinBatchOpen(&b, "[1, {\"x\": ", 10, &err) && err.offset == 10,
			  "one-line malformed array (offset %zu)", err.offset);
		CHECK(PinBatchOpen(&b, "{\"a\": 1}", 8, &err) && !b.array, "one pin: NDJSON");
	}

	Parse("{\"index\": \"x\"}", &rec, &scratch);
	PinErrorsToJson(&rec, out, sizeof(out));
	{
		/* FastAPI's exact bytes: Starlette's json.dumps(separators=(",", ":")) */
		static const char want[] =
			"{\"detail\":[{\"loc\":[\"body\",\"category\"],\"msg\":\"field required\","
			"\"type\":\"value_error.missing\"},{\"loc\":[\"body\",\"index\"],\"msg\":"
			"\"value is not a valid integer\",\"type\":\"type_error.integer\"},";

		CHECK(strncmp(out, want, strlen(want)) == 0, "422 body: %s", out);
	}
	/* snprintf contract: a short buffer is terminated and the full length returned */
	CHECK(PinErrorsToJson(&rec, out, 10) > 10 && strlen(out) == 9, "truncation");
	free(scratch);
}

/* Parse one record of a model; returns the result and fills rec (scratch is static). */
static PinParseResult
ParseModel(const RecordModel *m, const char *json, PinRecord *rec)
{
	static char scratch[4096];

	return RecordParse(m, json, strlen(json), rec, scratch);
}

static void
TestTimestamp(void)
{
	static const struct
	{
		const char *in;
		bool ok;
		long long usec; /* since 1970-01-01 UTC */
	} cases[] = {
		{"2019-01-01 07:21:13", true, 1546327273000000LL},
		{"1970-01-01T00:00:00Z", true, 0},
		{" 2020-02-29 23:59:59.5 ", true, 1583020799500000LL},
		{"2020-02-29t23:59:59.123456+00:00", true, 1583020799123456LL},
		{"2019-01-01 07:21:13+02:00", true, 1546320073000000LL},
		{"2019-01-01 07:21:13-0130", true, 1546332673000000LL},
		{"2019-01-01 07:21", true, 1546327260000000LL},
		{"1969-12-31 23:59:59", true, -1000000LL},
		{"0001-01-01 00:00:00", true, -62135596800000000LL},
		{"2019-02-29 00:00:00", false, 0},
		{"2019-13-01 00:00:00", false, 0},
		{"2019-01-01", false, 0},
		{"2019-01-01 24:00:00", false, 0},
		{"2019-01-01 07:21:13.1234567", false, 0},
		{"2019-01-01 07:21:13 UTC", false, 0},
		{"2019-01-01 07:21:13+2", false, 0},
		{"", false, 0},
		{"1546327273", false, 0},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
	{
		int64_t v = 0;
		bool ok = CleanTimestamp(cases[i].in, strlen(cases[i].in), &v);

		CHECK(ok == cases[i].ok && (!ok || v == cases[i].usec), "timestamp \"%s\": %d %lld",
			  cases[i].in, ok, (long long) v);
	}
}

static void
TestGeoAndUser(void)
{
	PinRecord rec;
	CleanGeo g;
	CleanUser u;

	CHECK(ParseModel(&geo_model,
					 "{\"ind\": 2, \"timestamp\": \"2022-03-14 04:34:13\", \"latitude\": 17.5632, "
					 "\"longitude\": 112.276, \"country\": \"Gambia \", \"extra\": [1]}",
					 &rec) == PIN_OK,
		  "real geo record parses");
	CleanGeoRecord(&rec, &g);
	CHECK(g.ind == 2 && g.latitude == 17.5632 && g.longitude == 112.276 && !g.latitude_null &&
			  g.timestamp == 1647232453000000LL && TextIs(g.country, "Gambia") && g.error_mask == 0,
		  "geo cleaned");

	/* pydantic v1 lax: numeric strings, ints and booleans for floats; numbers for str */
	CHECK(ParseModel(&geo_model,
					 "{\"ind\": \"7\", \"timestamp\": \"2019-01-01T00:00:00Z\", \"latitude\": \" "
					 "-1_0.5 \", \"longitude\": 3, \"country\": 5}",
					 &rec) == PIN_OK,
		  "lax geo parses");
	CleanGeoRecord(&rec, &g);
	CHECK(g.ind == 7 && g.latitude == -10.5 && g.longitude == 3.0 && TextIs(g.country, "5") &&
			  g.error_mask == 0,
		  "lax geo cleaned");
	CHECK(rec.len[GEO_LONGITUDE] == 3 && memcmp(rec.str[GEO_LONGITUDE], "3.0", 3) == 0,
		  "a float field's text is Python's repr");

	/* placeholders, empty strings, out-of-range coordinates: NULL and flagged */
	CHECK(ParseModel(&geo_model,
					 "{\"ind\": 1, \"timestamp\": \"\", \"latitude\": 91, \"longitude\": \"nan\", "
					 "\"country\": \" \"}",
					 &rec) == PIN_OK,
		  "flagged geo parses");
	CleanGeoRecord(&rec, &g);
	CHECK(g.timestamp_null && g.latitude_null && g.longitude_null && g.country.ptr == NULL &&
			  g.error_mask == ((1u << GEO_TIMESTAMP) | (1u << GEO_LATITUDE) |
							   (1u << GEO_LONGITUDE) | (1u << GEO_COUNTRY)),
		  "flagged geo: mask %x", g.error_mask);

	/* validation errors, in model order, with pydantic's types */
	CHECK(ParseModel(&geo_model,
					 "{\"ind\": 1.5e400, \"latitude\": \"north\", \"longitude\": [1], "
					 "\"country\": null}",
					 &rec) == PIN_INVALID &&
			  rec.nerrors == 5,
		  "bad geo: %d errors", rec.nerrors);
	CHECK(rec.errors[0].field == GEO_IND && rec.errors[1].field == GEO_TIMESTAMP &&
			  strcmp(rec.errors[1].type, "value_error.missing") == 0 &&
			  strcmp(rec.errors[2].type, "type_error.float") == 0 &&
			  strcmp(rec.errors[2].sqlstate, "22P02") == 0 &&
			  strcmp(rec.errors[3].sqlstate, "22023") == 0 &&
			  strcmp(rec.errors[4].type, "type_error.none.not_allowed") == 0,
		  "bad geo errors");
	CHECK(ParseModel(&geo_model,
					 "{\"ind\": 1, \"timestamp\": \"x\", \"latitude\": \"0x10\", "
					 "\"longitude\": \"1__0\", \"country\": \"c\"}",
					 &rec) == PIN_INVALID &&
			  rec.nerrors == 2,
		  "hex and doubled underscores are not Python floats");
	CHECK(ParseModel(&geo_model, "[1]", &rec) == PIN_INVALID &&
			  rec.errors[0].field == PIN_FIELD_BODY,
		  "geo: not a dict");
	CHECK(ParseModel(&geo_model, "{\"ind\": 1,", &rec) == PIN_BAD_JSON, "geo: bad JSON");

	CHECK(ParseModel(&user_model,
					 "{\"ind\": 0, \"first_name\": \"Adam\", \"last_name\": \"Acosta\\u00a0\", "
					 "\"age\": \"20\", \"date_joined\": \"2015-10-21 21:26:45\"}",
					 &rec) == PIN_OK,
		  "user parses");
	CleanUserRecord(&rec, &u);
	CHECK(u.ind == 0 && u.age == 20 && TextIs(u.first_name, "Adam") &&
			  TextIs(u.last_name, "Acosta") && !u.date_joined_null &&
			  u.date_joined == 1445462805000000LL && u.error_mask == 0,
		  "user cleaned");
	CHECK(ParseModel(&user_model,
					 "{\"ind\": 0, \"first_name\": \"\", \"last_name\": \"B\", \"age\": true, "
					 "\"date_joined\": \"2015-10-21\"}",
					 &rec) == PIN_OK,
		  "flagged user parses");
	CleanUserRecord(&rec, &u);
	CHECK(u.first_name.ptr == NULL && u.age == 1 && u.date_joined_null &&
			  u.error_mask == ((1u << USER_FIRST_NAME) | (1u << USER_DATE_JOINED)),
		  "flagged user: mask %x", u.error_mask);
	CHECK(ParseModel(&user_model, "{\"ind\": 0, \"first_name\": {}, \"age\": \"x\"}", &rec) ==
				  PIN_INVALID &&
			  rec.nerrors == 4,
		  "bad user: %d errors", rec.nerrors);
	/* a pin's fields mean nothing to the other models, and the other way round */
	CHECK(ParseModel(&pin_model, "{\"ind\": 0, \"age\": 3}", &rec) == PIN_INVALID &&
			  rec.nerrors == 11,
		  "a user record is not a pin");
	CHECK(RecordModelLookup("geo", 3) == &geo_model &&
			  RecordModelLookup("user", 4) == &user_model &&
			  RecordModelLookup("pin", 3) == &pin_model && RecordModelLookup("users", 5) == NULL,
		  "stream names");
}

/* Topic names to streams (DESIGN §10): configured topics first, then the suffixes. */
static void
TestTopicStream(void)
{
	TopicStreamConfig cfg = {"pinterest.pins", "pinterest.geo", "pinterest.user"};
	TopicStreamConfig odd = {"pins", "x.pin", NULL};
	struct
	{
		const TopicStreamConfig *cfg;
		const char *topic;
		const char *want;
	} cases[] = {
		{&cfg, "pinterest.pins", "pin"},
		{&cfg, "pinterest.geo", "geo"},
		{&cfg, "pinterest.user", "user"},
		{&cfg, "0a1b2c.pin", "pin"},
		{&cfg, "0a1b2c.geo", "geo"},
		{&cfg, "0a1b2c.user", "user"},
		{&cfg, ".pin", NULL},		  /* a suffix alone names no id */
		{&cfg, "0a1b2c.users", NULL}, /* not the suffix */
		{&cfg, "pinterest.pins2", NULL},
		{&cfg, "pinterest", NULL},
		{&cfg, "", NULL},
		{&odd, "pins", "pin"},
		{&odd, "x.pin", "geo"}, /* a configured topic wins over its suffix */
		{&odd, "y.user", "user"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
	{
		const char *got = TopicStreamName(cases[i].cfg, cases[i].topic, strlen(cases[i].topic));

		CHECK((got == NULL && cases[i].want == NULL) ||
				  (got != NULL && cases[i].want != NULL && strcmp(got, cases[i].want) == 0),
			  "topic '%s': got %s, want %s", cases[i].topic, got ? got : "none",
			  cases[i].want ? cases[i].want : "none");
	}
}

/*
 * The subscription pattern and the rule agree: compiled as librdkafka compiles
 * a "^..." subscription (regcomp, REG_EXTENDED | REG_NOSUB), it matches exactly
 * the topics TopicStreamName maps to a stream, for several configurations.
 */
static void
TestTopicStreamPattern(void)
{
	const TopicStreamConfig cfgs[] = {
		{"pinterest.pins", "pinterest.geo", "pinterest.user"},
		{"pins", "x.pin", NULL},
		{"a+b", "", "(geo)|x"}, /* metacharacters are taken literally */
		{NULL, NULL, NULL},
	};
	static const char *const topics[] = {"pinterest.pins",
										 "pinterest.geo",
										 "pinterest.user",
										 "pinterestXpins",
										 "pinterest.pins2",
										 "xpinterest.pins",
										 "pinterest",
										 "pins",
										 "x.pin",
										 "y.user",
										 "0a1b2c.pin",
										 "0a1b2c.geo",
										 "0a1b2c.user",
										 "0a1b2c.users",
										 "0a1b2c.pins",
										 "0a1b2c.geo.x",
										 ".pin",
										 ".geo",
										 ".user",
										 "a.b.pin",
										 "a-b_c.geo",
										 "apin",
										 "a.pinx",
										 "a+b",
										 "aab",
										 "ab",
										 "(geo)|x",
										 "geo",
										 "x",
										 "__consumer_offsets",
										 "a\\.pin",
										 "."};
	char pattern[512];
	char small[8];

	for (size_t c = 0; c < sizeof(cfgs) / sizeof(cfgs[0]); c++)
	{
		regex_t re;

		CHECK(TopicStreamPattern(&cfgs[c], pattern, sizeof(pattern)), "pattern %zu fits", c);
		CHECK(pattern[0] == '^', "pattern %zu starts with ^ (a librdkafka regex)", c);
		if (regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB) != 0)
		{
			CHECK(false, "pattern %zu compiles: %s", c, pattern);
			continue;
		}
		for (size_t t = 0; t < sizeof(topics) / sizeof(topics[0]); t++)
		{
			bool matches = regexec(&re, topics[t], 0, NULL, 0) == 0;
			bool routed = TopicStreamName(&cfgs[c], topics[t], strlen(topics[t])) != NULL;

			CHECK(matches == routed, "config %zu, topic '%s': pattern %s, rule %s (%s)", c,
				  topics[t], matches ? "matches" : "does not match",
				  routed ? "routes it" : "does not route it", pattern);
		}
		regfree(&re);
	}
	CHECK(!TopicStreamPattern(&cfgs[0], small, sizeof(small)) && small[sizeof(small) - 1] == '\0',
		  "a pattern that does not fit is refused");
	CHECK(TopicStreamPattern(&cfgs[0], pattern, sizeof(pattern)) &&
			  strcmp(pattern, "^(pinterest\\.pins|pinterest\\.geo|pinterest\\.user|"
							  ".+(\\.pin|\\.geo|\\.user))$") == 0,
		  "default pattern: %s", pattern);
}

int
main(void)
{
	TestFollowerCount();
	TestTrim();
	TestTags();
	TestSaveLocation();
	TestUuid();
	TestMediaClass();
	TestParseAndClean();
	TestScratchUsed();
	TestCoercion();
	TestBadJson();
	TestArrayAndErrorsJson();
	TestTimestamp();
	TestGeoAndUser();
	TestTopicStream();
	TestTopicStreamPattern();
	return UnitReport("unit");
}
