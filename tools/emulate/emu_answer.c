/*
 * emu_answer.c — strict readers of the REST Proxy v2 and Kinesis PutRecord answers
 * (see emu_answer.h); built on the extension's JSON reader (src/core/pin_json.h), which
 * checks each member's value whole (RFC 8259, UTF-8) before it is handed out.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "emu_answer.h"
#include "pin_json.h"

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

/* Why json[0..len) is not one well-formed JSON object; always false. */
static bool
BadObject(EmuAnswer *out, const char *json, size_t len, const PinError *err)
{
	size_t i = 0;

	while (i < len && (json[i] == ' ' || json[i] == '\t' || json[i] == '\n' || json[i] == '\r'))
		i++;
	if (i == len || json[i] != '{')
		return Bad(out, "not a JSON object");
	return Bad(out, "malformed JSON: %s at byte %zu", err->msg ? err->msg : "invalid JSON",
			   err->offset);
}

/* Keep a per-record error's message, its escapes decoded when it is short enough. */
static void
KeepFirstError(EmuAnswer *out, int64_t code, const PinValue *err)
{
	char buf[256];
	const char *text = "";
	size_t len = 0;

	if (out->first_error[0] != '\0')
		return;
	if (err->kind == PIN_VALUE_STRING && err->len <= sizeof(buf))
	{
		len = JsonStringDecode(err, buf);
		text = buf;
	}
	else if (err->kind == PIN_VALUE_STRING)
	{
		len = err->len;
		text = err->ptr;
	}
	snprintf(out->first_error, sizeof(out->first_error), "%lld: %.*s", (long long) code,
			 (int) (len < 120 ? len : 120), text);
}

/* One element of "offsets" (already checked to be well-formed): a success or a failure. */
static bool
ReadOffset(const char *text, size_t len, int i, EmuAnswer *out)
{
	size_t pos = 0;
	JsonMember m;
	PinValue err = {0};
	int64_t partition = -1, offset = -1, code = 0;
	bool has_code = false;
	int r;

	if (len == 0 || text[0] != '{')
		return Bad(out, "offsets[%d] is not an object", i);
	while ((r = JsonObjectNext(text, len, &pos, &m, NULL)) == 1)
	{
		PinValueKind kind = m.value.kind;
		bool ok = true;
		int64_t *dst = JsonKeyIs(&m, "partition") ? &partition
					   : JsonKeyIs(&m, "offset")  ? &offset
												  : NULL;

		if (dst)
		{
			*dst = -1;
			ok = kind == PIN_VALUE_NULL || (JsonIntegerValue(&m.value, dst) && *dst >= 0);
		}
		else if (JsonKeyIs(&m, "error_code"))
		{
			has_code = kind != PIN_VALUE_NULL;
			ok = !has_code || JsonIntegerValue(&m.value, &code);
		}
		else if (JsonKeyIs(&m, "error"))
		{
			ok = kind == PIN_VALUE_NULL || kind == PIN_VALUE_STRING;
			err = m.value;
		}
		if (!ok)
			return Bad(out, "offsets[%d].%.*s is not of the documented type", i, (int) m.key.len,
					   m.key.ptr);
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
		KeepFirstError(out, code, &err);
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
	size_t pos = 0;
	JsonMember m;
	PinError err = {0};
	int r, entries = -1;

	memset(out, 0, sizeof(*out));
	while ((r = JsonObjectNext(json, len, &pos, &m, &err)) == 1)
	{
		size_t apos = 0;
		const char *elem;
		size_t elen;
		int k;

		if (!JsonKeyIs(&m, "offsets"))
			continue;
		if (entries >= 0)
			return Bad(out, "\"offsets\" given twice");
		if (m.value.kind != PIN_VALUE_ARRAY)
			return Bad(out, "\"offsets\" is not an array");
		entries = 0;
		while ((k = PinJsonArrayNext(m.raw, m.raw_len, &apos, &elem, &elen, NULL)) == 1)
			if (!ReadOffset(elem, elen, entries++, out))
				return false;
		if (k < 0)
			return Bad(out, "\"offsets\" is malformed");
	}
	if (r < 0)
		return BadObject(out, json, len, &err);
	if (entries < 0)
		return Bad(out, "no \"offsets\"");
	if (entries != nrecords)
		return Bad(out, "%d offsets for %d records", entries, nrecords);
	return true;
}

bool
AnswerKinesis(const char *json, size_t len, EmuAnswer *out)
{
	size_t pos = 0;
	JsonMember m;
	PinError err = {0};
	int r;
	bool seq = false, shard = false;

	memset(out, 0, sizeof(*out));
	while ((r = JsonObjectNext(json, len, &pos, &m, &err)) == 1)
	{
		bool is_seq = JsonKeyIs(&m, "SequenceNumber");

		if (!is_seq && !JsonKeyIs(&m, "ShardId"))
			continue;
		if (m.value.kind != PIN_VALUE_STRING || m.value.len == 0)
			return Bad(out, "%s is not a non-empty string", is_seq ? "SequenceNumber" : "ShardId");
		*(is_seq ? &seq : &shard) = true;
	}
	if (r < 0)
		return BadObject(out, json, len, &err);
	if (!seq || !shard)
		return Bad(out, "no %s", seq ? "ShardId" : "SequenceNumber");
	out->accepted = 1;
	return true;
}
