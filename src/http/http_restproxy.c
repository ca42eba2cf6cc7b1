/*
 * http_restproxy.c — paths, content types, bodies and answers of the Kafka REST
 * Proxy v2 produce API and of Kinesis PutRecord (see http_restproxy.h).
 *
 * The shapes follow Confluent's REST Proxy API reference (v2): errors are
 * {"error_code":…,"message":…} with the HTTP status as error_code unless the
 * reference names a finer one (40401, 42201, 42202); a produce answer lists,
 * per record in request order, its partition and offset or its error_code (1
 * non-retriable, 2 retriable) and error. Kinesis answers are those of its
 * PutRecord action as API Gateway passes them on: {"SequenceNumber","ShardId"},
 * errors {"__type","message"}.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http_restproxy.h"
#include "strbuf.h"

/* Kinesis's limits on names and partition keys. */
#define KINESIS_NAME_MAX 128
#define KINESIS_PARTITION_KEY_MAX 256

bool
RestProxyTopicPath(const char *url, const char **name, size_t *len)
{
	static const char prefix[] = "/topics/";
	const char *p;

	if (strncmp(url, prefix, sizeof(prefix) - 1) != 0)
		return false;
	p = url + sizeof(prefix) - 1;
	if (*p == '\0' || strchr(p, '/') != NULL)
		return false;
	*name = p;
	*len = strlen(p);
	return true;
}

bool
KinesisStreamPath(const char *url, const char **name, size_t *len)
{
	static const char prefix[] = "/streams/";
	static const char suffix[] = "/record";
	const char *p;
	const char *slash;

	if (strncmp(url, prefix, sizeof(prefix) - 1) != 0)
		return false;
	p = url + sizeof(prefix) - 1;
	slash = strchr(p, '/');
	if (slash == NULL || slash == p || strcmp(slash, suffix) != 0)
		return false;
	*name = p;
	*len = (size_t) (slash - p);
	return true;
}

/* Every byte of name is one of [a-zA-Z0-9._-]. */
static bool
NameCharsValid(const char *name, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (!isalnum((unsigned char) name[i]) && name[i] != '.' && name[i] != '_' && name[i] != '-')
			return false;
	return true;
}

bool
RestProxyTopicNameValid(const char *name, size_t len)
{
	if (len == 0 || len > 249 || !NameCharsValid(name, len))
		return false;
	return !(len == 1 && name[0] == '.') && !(len == 2 && name[0] == '.' && name[1] == '.');
}

/* The media type of a Content-Type value, without parameters or blanks, lower case. */
static void
MediaType(const char *ct, char *out, size_t cap)
{
	size_t n = 0;

	while (*ct == ' ' || *ct == '\t')
		ct++;
	while (*ct && *ct != ';' && *ct != ' ' && *ct != '\t' && n + 1 < cap)
		out[n++] = (char) tolower((unsigned char) *ct++);
	out[n] = '\0';
}

RestProxyFormat
RestProxyContentType(const char *content_type)
{
	char mt[128];

	if (content_type == NULL)
		return RESTPROXY_FORMAT_UNSUPPORTED;
	MediaType(content_type, mt, sizeof(mt));
	if (strcmp(mt, "application/vnd.kafka.json.v2+json") == 0 ||
		strcmp(mt, "application/json") == 0)
		return RESTPROXY_FORMAT_JSON;
	if (strcmp(mt, "application/vnd.kafka.avro.v2+json") == 0 ||
		strcmp(mt, "application/vnd.kafka.jsonschema.v2+json") == 0 ||
		strcmp(mt, "application/vnd.kafka.protobuf.v2+json") == 0)
		return RESTPROXY_FORMAT_SCHEMA;
	return RESTPROXY_FORMAT_UNSUPPORTED;
}

bool
KinesisContentTypeOk(const char *content_type)
{
	char mt[128];

	if (content_type == NULL)
		return true;
	MediaType(content_type, mt, sizeof(mt));
	return mt[0] == '\0' || strcmp(mt, "application/json") == 0 ||
		   strcmp(mt, "application/x-amz-json-1.1") == 0 ||
		   strcmp(mt, "application/x-amz-json-1.0") == 0;
}

const char *
KinesisStreamOf(const TopicStreamConfig *config, const char *name, size_t len)
{
	char topic[KINESIS_NAME_MAX + 1];
	const char *stream;
	const char *dash;

	if (len == 0 || len > KINESIS_NAME_MAX || !NameCharsValid(name, len))
		return NULL;
	stream = TopicStreamName(config, name, len);
	if (stream != NULL)
		return stream;
	memcpy(topic, name, len);
	topic[len] = '\0';
	dash = strrchr(topic, '-');
	if (dash == NULL)
		return NULL;
	topic[dash - topic] = '.';
	return TopicStreamName(config, topic, len);
}

/* A JSON integer in [0, INT32_MAX], or null (-1); false for anything else. */
static bool
ReadPartition(const PinValue *v, int32_t *out)
{
	long long n = 0;

	if (v->kind == PIN_VALUE_NULL)
	{
		*out = -1;
		return true;
	}
	if (v->kind != PIN_VALUE_NUMBER || !v->is_integer || v->len == 0 || v->ptr[0] == '-' ||
		v->len > 10)
		return false;
	for (size_t i = 0; i < v->len; i++)
		n = n * 10 + (v->ptr[i] - '0');
	if (n > INT32_MAX)
		return false;
	*out = (int32_t) n;
	return true;
}

/* The message of a body that JsonObjectNext refused: 400 not JSON, 422 JSON but not an object. */
static int
NotAnObject(const char *body, size_t len, const PinError *err, char *msg, size_t msgcap)
{
	char *scratch = malloc(PIN_SCRATCH_SIZE(len));
	PinRecord rec;
	PinParseResult r;

	if (scratch == NULL)
	{
		snprintf(msg, msgcap, "out of memory");
		return 503;
	}
	/* the pin reader tells JSON that is not an object from what is not JSON at all */
	r = RecordParse(&pin_model, body, len, &rec, scratch);
	free(scratch);
	if (r == PIN_INVALID)
	{
		snprintf(msg, msgcap, "the request body must be a JSON object with \"records\"");
		return 422;
	}
	snprintf(msg, msgcap, "malformed JSON: %s at byte %zu", err->msg ? err->msg : "invalid JSON",
			 err->offset);
	return 400;
}

/* Read one element of "records" into rec; false (msg set) if it is not a record. */
static bool
ReadRecord(const char *text, size_t len, int index, RestProxyRecord *rec, char *msg, size_t msgcap)
{
	size_t pos = 0;
	JsonMember m;
	int n;

	memset(rec, 0, sizeof(*rec));
	rec->partition = -1;
	if (len == 0 || text[0] != '{')
	{
		snprintf(msg, msgcap, "records[%d] must be an object with a \"value\"", index);
		return false;
	}
	while ((n = JsonObjectNext(text, len, &pos, &m, NULL)) == 1)
	{
		if (JsonKeyIs(&m, "value"))
		{
			rec->value = m.value.kind == PIN_VALUE_NULL ? NULL : m.raw;
			rec->value_len = m.value.kind == PIN_VALUE_NULL ? 0 : m.raw_len;
		}
		else if (JsonKeyIs(&m, "key"))
		{
			rec->has_key = m.value.kind != PIN_VALUE_NULL;
			rec->key = m.value;
			rec->key_raw = m.raw;
			rec->key_raw_len = m.raw_len;
		}
		else if (JsonKeyIs(&m, "partition") && !ReadPartition(&m.value, &rec->partition))
		{
			snprintf(msg, msgcap, "records[%d].partition must be a non-negative integer", index);
			return false;
		}
	}
	return n == 0; /* the element was read as a whole already: n is never -1 here */
}

int
RestProxyParse(const char *body, size_t len, RestProxyBody *out, char *msg, size_t msgcap)
{
	size_t pos = 0;
	JsonMember m;
	PinError err = {0};
	bool have_records = false;
	int cap = 0;
	int n;

	memset(out, 0, sizeof(*out));
	while ((n = JsonObjectNext(body, len, &pos, &m, &err)) == 1)
	{
		if (JsonKeyIs(&m, "key_schema") || JsonKeyIs(&m, "key_schema_id"))
			out->key_schema |= m.value.kind != PIN_VALUE_NULL;
		else if (JsonKeyIs(&m, "value_schema") || JsonKeyIs(&m, "value_schema_id"))
			out->value_schema |= m.value.kind != PIN_VALUE_NULL;
		else if (JsonKeyIs(&m, "records"))
		{
			size_t apos = 0;
			const char *elem;
			size_t elen;
			int k;

			if (m.value.kind == PIN_VALUE_NULL)
				continue;
			if (m.value.kind != PIN_VALUE_ARRAY)
			{
				snprintf(msg, msgcap, "records must be an array");
				RestProxyBodyFree(out);
				return 422;
			}
			have_records = true;
			out->nrecords = 0; /* a repeated key: the last one wins, as in Python */
			while ((k = PinJsonArrayNext(m.raw, m.raw_len, &apos, &elem, &elen, NULL)) == 1)
			{
				if (out->nrecords == cap)
				{
					int ncap = cap ? cap * 2 : 16;
					RestProxyRecord *p = realloc(out->records, sizeof(RestProxyRecord) * ncap);

					if (p == NULL)
					{
						snprintf(msg, msgcap, "out of memory");
						RestProxyBodyFree(out);
						return 503;
					}
					out->records = p;
					cap = ncap;
				}
				if (!ReadRecord(elem, elen, out->nrecords, &out->records[out->nrecords], msg,
								msgcap))
				{
					RestProxyBodyFree(out);
					return 422;
				}
				out->nrecords++;
			}
		}
	}
	if (n < 0)
	{
		RestProxyBodyFree(out);
		return NotAnObject(body, len, &err, msg, msgcap);
	}
	if (!have_records)
	{
		snprintf(msg, msgcap, "records may not be null");
		RestProxyBodyFree(out);
		return 422;
	}
	if (out->nrecords == 0)
	{
		snprintf(msg, msgcap, "records may not be empty");
		RestProxyBodyFree(out);
		return 422;
	}
	return 0;
}

void
RestProxyBodyFree(RestProxyBody *b)
{
	free(b->records);
	b->records = NULL;
	b->nrecords = 0;
}

int
KinesisParse(const char *body, size_t len, KinesisPut *out, const char **type, char *msg,
			 size_t msgcap)
{
	size_t pos = 0;
	JsonMember m;
	PinError err = {0};
	bool have_key = false;
	int n;

	memset(out, 0, sizeof(*out));
	while ((n = JsonObjectNext(body, len, &pos, &m, &err)) == 1)
	{
		if (JsonKeyIs(&m, "Data") && m.value.kind != PIN_VALUE_NULL)
		{
			out->data = m.raw;
			out->data_len = m.raw_len;
		}
		else if (JsonKeyIs(&m, "PartitionKey") && m.value.kind != PIN_VALUE_NULL)
		{
			if (m.value.kind != PIN_VALUE_STRING)
			{
				*type = "SerializationException";
				snprintf(msg, msgcap, "PartitionKey must be a string");
				return 400;
			}
			out->partition_key = m.value;
			have_key = true;
		}
	}
	if (n < 0)
	{
		*type = "SerializationException";
		snprintf(msg, msgcap, "the body is not a JSON object: %s at byte %zu",
				 err.msg ? err.msg : "invalid JSON", err.offset);
		return 400;
	}
	*type = "ValidationException";
	if (out->data == NULL)
	{
		snprintf(msg, msgcap,
				 "1 validation error detected: Value null at 'data' failed to "
				 "satisfy constraint: Member must not be null");
		return 400;
	}
	if (!have_key)
	{
		snprintf(msg, msgcap,
				 "1 validation error detected: Value null at 'partitionKey' failed "
				 "to satisfy constraint: Member must not be null");
		return 400;
	}
	if (out->partition_key.len == 0 || out->partition_key.len > KINESIS_PARTITION_KEY_MAX)
	{
		snprintf(msg, msgcap,
				 "1 validation error detected: Value at 'partitionKey' failed to "
				 "satisfy constraint: Member must have length between 1 and 256");
		return 400;
	}
	return 0;
}

char *
RestProxyKeyBytes(const PinValue *v, const char *raw, size_t raw_len, size_t *len)
{
	char *out;

	if (v->kind == PIN_VALUE_STRING)
	{
		out = malloc(v->len ? v->len : 1);
		*len = out ? JsonStringDecode(v, out) : 0;
		return out;
	}
	out = malloc(raw_len ? raw_len : 1);
	if (out)
		memcpy(out, raw, raw_len);
	*len = out ? raw_len : 0;
	return out;
}

/* Why a record was not stored, for its error entry. */
static const char *
RecordError(const HttpRecord *rec)
{
	if (rec->error)
		return rec->error;
	switch (rec->outcome)
	{
		case HTTP_REC_UNAVAILABLE:
			return "not stored: pipeline unavailable, retry later";
		case HTTP_REC_TOO_LARGE:
			return "record exceeds the Kafka message size limit";
		default:
			return "record refused";
	}
}

char *
RestProxyAnswer(const HttpRequest *req, size_t *len)
{
	StrBuf b = {0};

	StrBufPuts(&b, "{\"offsets\":[");
	for (int i = 0; i < req->nrecords; i++)
	{
		const HttpRecord *rec = &req->records[i];
		const char *error;

		if (i > 0)
			StrBufPuts(&b, ",");
		if (rec->outcome == HTTP_REC_ACCEPTED)
		{
			StrBufPrintf(&b,
						 "{\"partition\":%d,\"offset\":%lld,\"error_code\":null,\"error\":null}",
						 (int) rec->stored_partition, (long long) rec->stored_offset);
			continue;
		}
		error = RecordError(rec);
		StrBufPrintf(&b, "{\"partition\":null,\"offset\":null,\"error_code\":%d,\"error\":",
					 rec->outcome == HTTP_REC_UNAVAILABLE ? RESTPROXY_RECORD_RETRIABLE
														  : RESTPROXY_RECORD_FATAL);
		StrBufJsonString(&b, error, strlen(error));
		StrBufPuts(&b, "}");
	}
	StrBufPuts(&b, "],\"key_schema_id\":null,\"value_schema_id\":null}");
	return StrBufTake(&b, len);
}

char *
RestProxyErrorBody(int code, const char *msg, size_t *len)
{
	StrBuf b = {0};

	StrBufPrintf(&b, "{\"error_code\":%d,\"message\":", code);
	StrBufJsonString(&b, msg, strlen(msg));
	StrBufPuts(&b, "}");
	return StrBufTake(&b, len);
}

char *
KinesisAnswer(const HttpRecord *rec, size_t *len)
{
	StrBuf b = {0};

	/* a Kinesis sequence number is a decimal string; shard ids are zero-padded to 12 digits */
	StrBufPrintf(&b, "{\"SequenceNumber\":\"%lld\",\"ShardId\":\"shardId-%012d\"}",
				 (long long) rec->stored_offset, (int) rec->stored_partition);
	return StrBufTake(&b, len);
}

char *
KinesisErrorBody(const char *type, const char *msg, size_t *len)
{
	StrBuf b = {0};

	StrBufPuts(&b, "{\"__type\":");
	StrBufJsonString(&b, type, strlen(type));
	StrBufPuts(&b, ",\"message\":");
	StrBufJsonString(&b, msg, strlen(msg));
	StrBufPuts(&b, "}");
	return StrBufTake(&b, len);
}

const char *
KinesisErrorType(int status)
{
	switch (status)
	{
		case 400:
		case 415:
		case 501:
			return "SerializationException";
		case 401:
			return "UnrecognizedClientException";
		case 404:
			return "ResourceNotFoundException";
		case 405:
			return "UnknownOperationException";
		case 413:
			return "ValidationException";
		case 422:
			return "InvalidArgumentException";
		case 503:
			return "ServiceUnavailableException";
		default:
			return "InternalFailure";
	}
}
