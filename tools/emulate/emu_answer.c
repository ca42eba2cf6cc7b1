/*
 * emu_answer.c — strict readers of the REST Proxy v2 and Kinesis PutRecord answers
 * (see emu_answer.h); built on emu_json's reader.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "emu_answer.h"
#include "emu_json.h"

static bool Bad(EmuAnswer *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Say why an answer is unparsable; always false. */
static bool
Bad(EmuAnswer *out, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(out->why, sizeof(out->why), fmt, ap);
	va_end(ap);
	return false;
}

/* One element of "offsets": a success or a per-record failure. */
static bool
ReadOffset(EmuJson *j, int i, EmuAnswer *out)
{
	int n = 0, r;
	const char *key, *err = NULL;
	size_t klen, errlen = 0;
	int64_t partition = -1, offset = -1, code = 0;
	bool has_code = false;

	if (!EmuJsonObjectOpen(j))
		return Bad(out, "offsets[%d] is not an object", i);
	while ((r = EmuJsonObjectNext(j, &n, &key, &klen)) == 1)
	{
		EmuJsonKind kind = EmuJsonPeek(j);
		bool ok;

		if (EmuJsonKeyIs(key, klen, "partition") || EmuJsonKeyIs(key, klen, "offset"))
		{
			int64_t *dst = key[0] == 'p' ? &partition : &offset;

			ok = kind == EMU_JSON_NULL ? EmuJsonReadNull(j) : EmuJsonReadInt(j, dst) && *dst >= 0;
		}
		else if (EmuJsonKeyIs(key, klen, "error_code"))
		{
			has_code = kind != EMU_JSON_NULL;
			ok = has_code ? EmuJsonReadInt(j, &code) : EmuJsonReadNull(j);
		}
		else if (EmuJsonKeyIs(key, klen, "error"))
			ok = kind == EMU_JSON_NULL ? EmuJsonReadNull(j) : EmuJsonReadString(j, &err, &errlen);
		else
			ok = EmuJsonSkipValue(j);
		if (!ok)
			return Bad(out, "offsets[%d].%.*s is not of the documented type", i, (int) klen, key);
	}
	if (r < 0)
		return Bad(out, "offsets[%d] is malformed", i);
	if (has_code)
	{
		/* Confluent: 2 = retriable Kafka error, 5xxxx = server error; others are final */
		if (code == 2 || (code >= 50000 && code < 60000))
			out->retriable++;
		else
			out->rejected++;
		if (out->first_error[0] == '\0')
			snprintf(out->first_error, sizeof(out->first_error), "%lld: %.*s", (long long) code,
					 (int) (errlen < 120 ? errlen : 120), err ? err : "");
		return true;
	}
	if (partition < 0 || offset < 0)
		return Bad(out, "offsets[%d] has no error_code and no partition/offset", i);
	out->accepted++;
	return true;
}

bool
AnswerRestProxy(const char *json, size_t len, int nrecords, EmuAnswer *out)
{
	EmuJson j;
	int n = 0, r, entries = -1;
	const char *key;
	size_t klen;

	memset(out, 0, sizeof(*out));
	EmuJsonInit(&j, json, len);
	if (!EmuJsonObjectOpen(&j))
		return Bad(out, "not a JSON object");
	while ((r = EmuJsonObjectNext(&j, &n, &key, &klen)) == 1)
	{
		if (!EmuJsonKeyIs(key, klen, "offsets"))
		{
			if (!EmuJsonSkipValue(&j))
				return Bad(out, "malformed JSON");
			continue;
		}
		if (entries >= 0)
			return Bad(out, "\"offsets\" given twice");
		if (!EmuJsonArrayOpen(&j))
			return Bad(out, "\"offsets\" is not an array");
		entries = 0;
		for (int m = 0; (r = EmuJsonArrayNext(&j, &m)) == 1; entries++)
			if (!ReadOffset(&j, entries, out))
				return false;
		if (r < 0)
			return Bad(out, "\"offsets\" is malformed");
	}
	if (r < 0 || !EmuJsonAtEnd(&j))
		return Bad(out, "malformed JSON");
	if (entries < 0)
		return Bad(out, "no \"offsets\"");
	if (entries != nrecords)
		return Bad(out, "%d offsets for %d records", entries, nrecords);
	return true;
}

bool
AnswerKinesis(const char *json, size_t len, EmuAnswer *out)
{
	EmuJson j;
	int n = 0, r;
	const char *key, *val;
	size_t klen, vlen;
	bool seq = false, shard = false;

	memset(out, 0, sizeof(*out));
	EmuJsonInit(&j, json, len);
	if (!EmuJsonObjectOpen(&j))
		return Bad(out, "not a JSON object");
	while ((r = EmuJsonObjectNext(&j, &n, &key, &klen)) == 1)
	{
		bool is_seq = EmuJsonKeyIs(key, klen, "SequenceNumber");

		if (is_seq || EmuJsonKeyIs(key, klen, "ShardId"))
		{
			if (!EmuJsonReadString(&j, &val, &vlen) || vlen == 0)
				return Bad(out, "%s is not a non-empty string",
						   is_seq ? "SequenceNumber" : "ShardId");
			*(is_seq ? &seq : &shard) = true;
		}
		else if (!EmuJsonSkipValue(&j))
			return Bad(out, "malformed JSON");
	}
	if (r < 0 || !EmuJsonAtEnd(&j))
		return Bad(out, "malformed JSON");
	if (!seq || !shard)
		return Bad(out, "no %s", seq ? "ShardId" : "SequenceNumber");
	out->accepted = 1;
	return true;
}
