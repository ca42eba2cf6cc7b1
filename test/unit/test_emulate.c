/*
 * test_emulate.c — unit tests of pinpipe-emulate's pure parts (tools/emulate/): that its
 * readers are strict (they read JSON with src/core/pin_json), the REST Proxy v2 and
 * Kinesis answer readers, and the pairing of the sample files' records by row index;
 * under ASan/UBSan (make unit). The emulator
 * against real and scripted servers: test/t/45_emulate.sh and 48_emulate_streams.sh.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "emu_answer.h"
#include "emu_rows.h"
#include "unit_check.h"

/* A string literal and its length. */
#define LIT(s) s, sizeof(s) - 1

/* A check of a number, with what it means. */
static void
Check(const char *what, long long got, long long want)
{
	CHECK(got == want, "%s: got %lld, want %lld", what, got, want);
}

/* AnswerRestProxy on a string: "ok a/r/e" or "bad: why". */
static const char *
Rest(const char *json, int n)
{
	static char out[256];
	EmuAnswer a;

	if (AnswerRestProxy(json, strlen(json), n, &a))
		snprintf(out, sizeof(out), "ok %d/%d/%d", a.accepted, a.rejected, a.retriable);
	else
		snprintf(out, sizeof(out), "bad: %s", a.why);
	return out;
}

static void
CheckStr(const char *what, const char *got, const char *want)
{
	CHECK(strcmp(got, want) == 0, "%s:\n got: [%s]\nwant: [%s]", what, got, want);
}

/* Whether a record whose other member is value is read (its index, 1, found). */
static bool
Reads(const char *value)
{
	char line[512];
	int64_t v = 0;
	int n = snprintf(line, sizeof(line), "{\"index\":1,\"x\":%s}", value);

	return n > 0 && (size_t) n < sizeof(line) && RecordRowIndex(line, (size_t) n, EMU_PIN, &v) &&
		   v == 1;
}

static void
WriteFile(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (f == NULL || fputs(text, f) < 0 || fclose(f) != 0)
	{
		perror(path);
		exit(2);
	}
}

int
main(void)
{
	EmuAnswer a;
	int64_t v = 0;
	char dir[] = "/tmp/emulate-unit-XXXXXX";

	/* the reader: well-formed values pass, malformed ones fail, nothing reads past len */
	Check("nested value", Reads(" {\"a\":[1,-2.5e+3,true,false,null,\"x\\u00e9\\n\"],\"b\":{}} "),
		  1);
	Check("empty array", Reads("[]"), 1);
	Check("trailing comma", Reads("[1,]"), 0);
	Check("leading zero", Reads("01"), 0);
	Check("bare fraction", Reads("1."), 0);
	Check("bad escape", Reads("\"\\x\""), 0);
	Check("short \\u", Reads("\"\\u12\""), 0);
	Check("control byte in a string", Reads("\"a\nb\""), 0);
	Check("unterminated string", Reads("\"abc"), 0);
	Check("missing colon", Reads("{\"a\" 1}"), 0);
	Check("invalid UTF-8 in a string", Reads("\"\xc3\""), 0);
	{
		char deep[2 * 70 + 2];

		/* deeper than PIN_JSON_MAX_DEPTH (64) */
		memset(deep, '[', 70);
		deep[70] = '1';
		memset(deep + 71, ']', 70);
		deep[141] = '\0';
		Check("too deep", Reads(deep), 0);
	}
	/* "{\"index\":12}" cut before its end: not well-formed within len */
	Check("stops at len", RecordRowIndex("{\"index\":12}", 11, EMU_PIN, &v), 0);
	Check("int64 min",
		  RecordRowIndex(LIT("{\"index\":-9223372036854775808}"), EMU_PIN, &v) && v == INT64_MIN,
		  1);
	Check("int64 overflow", RecordRowIndex(LIT("{\"index\":9223372036854775808}"), EMU_PIN, &v), 0);
	Check("1.0 is not an integer", RecordRowIndex(LIT("{\"index\":1.0}"), EMU_PIN, &v), 0);
	Check("an escaped key is its decoded name",
		  RecordRowIndex(LIT("{\"\\u0069nd\":4}"), EMU_GEO, &v) && v == 4, 1);

	/* REST Proxy v2 produce answers */
	CheckStr(
		"two stored records",
		Rest("{\"offsets\":[{\"partition\":0,\"offset\":10,\"error_code\":null,\"error\":null},"
			 "{\"partition\":3,\"offset\":7}],\"key_schema_id\":null,\"value_schema_id\":null}",
			 2),
		"ok 2/0/0");
	CheckStr(
		"per-record errors: 1 final, 2 and 50002 retriable",
		Rest(
			"{\"offsets\":[{\"partition\":null,\"offset\":null,\"error_code\":1,\"error\":\"bad\"},"
			"{\"partition\":null,\"offset\":null,\"error_code\":2,\"error\":\"later\"},"
			"{\"error_code\":50002,\"error\":null},{\"partition\":1,\"offset\":0}]}",
			4),
		"ok 1/1/2");
	CheckStr("fewer offsets than records",
			 Rest("{\"offsets\":[{\"partition\":0,\"offset\":1}]}", 2),
			 "bad: 1 offsets for 2 records");
	CheckStr("no offsets", Rest("{\"accepted\":1}", 1), "bad: no \"offsets\"");
	CheckStr("pinpipe's /pins answer is not a REST Proxy answer",
			 Rest("{\"accepted\":0,\"rejected\":0,\"errors\":[]}", 1), "bad: no \"offsets\"");
	CheckStr("success without an offset", Rest("{\"offsets\":[{\"partition\":0}]}", 1),
			 "bad: offsets[0] has no error_code and no partition/offset");
	CheckStr("offset as a string", Rest("{\"offsets\":[{\"partition\":0,\"offset\":\"1\"}]}", 1),
			 "bad: offsets[0].offset is not of the documented type");
	CheckStr("negative partition", Rest("{\"offsets\":[{\"partition\":-1,\"offset\":1}]}", 1),
			 "bad: offsets[0].partition is not of the documented type");
	CheckStr("error_code as a string",
			 Rest("{\"offsets\":[{\"partition\":0,\"offset\":1,\"error_code\":\"x\"}]}", 1),
			 "bad: offsets[0].error_code is not of the documented type");
	CheckStr("offsets twice", Rest("{\"offsets\":[],\"offsets\":[]}", 0),
			 "bad: \"offsets\" given twice");
	CheckStr("trailing bytes", Rest("{\"offsets\":[]} x", 0),
			 "bad: malformed JSON: extra data after the JSON value at byte 15");
	CheckStr("an array", Rest("[]", 0), "bad: not a JSON object");
	CheckStr("empty body", Rest("", 1), "bad: not a JSON object");
	Check(
		"first per-record error kept",
		AnswerRestProxy(
			LIT("{\"offsets\":[{\"error_code\":40403,\"error\":\"no such partition\"}]}"), 1, &a) &&
			strcmp(a.first_error, "40403: no such partition") == 0,
		1);
	Check("... its escapes decoded",
		  AnswerRestProxy(LIT("{\"offsets\":[{\"error_code\":1,\"error\":\"a\\\"b\\u00e9\"}]}"), 1,
						  &a) &&
			  strcmp(a.first_error, "1: a\"b\xc3\xa9") == 0,
		  1);

	/* Kinesis PutRecord answers */
	Check("kinesis answer",
		  AnswerKinesis(LIT("{\"SequenceNumber\":\"4962\",\"ShardId\":\"shardId-000000000000\"}"),
						&a) &&
			  a.accepted == 1,
		  1);
	Check("kinesis answer without ShardId", AnswerKinesis(LIT("{\"SequenceNumber\":\"1\"}"), &a),
		  0);
	Check("kinesis SequenceNumber as a number",
		  AnswerKinesis(LIT("{\"SequenceNumber\":1,\"ShardId\":\"s\"}"), &a), 0);
	Check("kinesis empty ShardId",
		  AnswerKinesis(LIT("{\"SequenceNumber\":\"1\",\"ShardId\":\"\"}"), &a), 0);

	/* the row index of a record */
	Check("pin index", RecordRowIndex(LIT("{\"title\":\"a\",\"index\": 7}"), EMU_PIN, &v) && v == 7,
		  1);
	Check("geo ind", RecordRowIndex(LIT("{\"ind\":12,\"country\":\"X\"}"), EMU_GEO, &v) && v == 12,
		  1);
	Check("a pin has no ind", RecordRowIndex(LIT("{\"ind\":12}"), EMU_PIN, &v), 0);
	Check("string index", RecordRowIndex(LIT("{\"ind\":\"12\"}"), EMU_USER, &v), 0);
	Check("index twice", RecordRowIndex(LIT("{\"ind\":1,\"ind\":2}"), EMU_USER, &v), 0);
	Check("not an object", RecordRowIndex(LIT("[1]"), EMU_GEO, &v), 0);

	/* rows: indexes present in every selected file, in index order */
	if (mkdtemp(dir) == NULL)
	{
		perror("mkdtemp");
		return 2;
	}
	{
		char p[3][64];
		const char *paths[EMU_NSTREAMS];
		EmuRows r;
		char err[EMU_ROWS_ERRLEN];
		const char *rec;
		size_t len;

		for (int s = 0; s < 3; s++)
		{
			snprintf(p[s], sizeof(p[s]), "%s/%d.jsonl", dir, s);
			paths[s] = p[s];
		}
		WriteFile(p[0],
				  "{\"index\":3,\"t\":\"c\"}\n{\"index\":1,\"t\":\"a\"}\r\n\n{\"index\":2}\n");
		WriteFile(p[1], "{\"ind\":2}\n{\"ind\":3,\"g\":1}\n{\"ind\":9}\n");
		WriteFile(p[2], "{\"ind\":3,\"u\":1}\n{\"ind\":1}\n{\"ind\":2}");
		Check("RowsLoad of three files", RowsLoad(&r, 7, paths, err), 1);
		Check("rows in all three files", (long long) r.nrows, 2);
		Check("first row", r.index[0], 2);
		Check("second row", r.index[1], 3);
		RowsRecord(&r, 1, EMU_GEO, &rec, &len);
		Check("geo record of row 3", len == 15 && memcmp(rec, "{\"ind\":3,\"g\":1}", 15) == 0, 1);
		RowsRecord(&r, 1, EMU_PIN, &rec, &len);
		Check("pin record of row 3", len == 19 && memcmp(rec, "{\"index\":3,\"t\":\"c\"}", 19) == 0,
			  1);
		Check("skipped: pin 1, geo 9, user 1",
			  (long long) (r.skipped[0] * 100 + r.skipped[1] * 10 + r.skipped[2]), 111);
		RowsFree(&r);
		Check("RowsLoad of the pins alone", RowsLoad(&r, 1u << EMU_PIN, paths, err), 1);
		Check("pins alone: every line is a row", (long long) r.nrows, 3);
		RowsRecord(&r, 0, EMU_PIN, &rec, &len);
		Check("CR dropped", len == 19 && memcmp(rec, "{\"index\":1,\"t\":\"a\"}", 19) == 0, 1);
		RowsFree(&r);
		WriteFile(p[1], "{\"ind\":2}\n{\"ind\":\"3\"}\n");
		Check("a record without an integer ind is an error", RowsLoad(&r, 3, paths, err), 0);
		CheckStr("... naming the file and line", strstr(err, "1.jsonl line 2: ") ? "named" : err,
				 "named");
		RowsFree(&r);
		WriteFile(p[1], "{\"ind\":2}\n{\"ind\":2}\n");
		Check("an index twice in one file is an error", RowsLoad(&r, 2, paths, err), 0);
		RowsFree(&r);
		WriteFile(p[1], "{\"ind\":9}\n");
		Check("no common index is an error", RowsLoad(&r, 3, paths, err), 0);
		RowsFree(&r);
		for (int s = 0; s < 3; s++)
			unlink(p[s]);
		rmdir(dir);
	}

	return UnitReport("test_emulate");
}
