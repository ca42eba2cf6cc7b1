/*
 * http_restproxy.h — the two foreign produce APIs of the HTTP worker (DESIGN §10):
 * the Confluent Kafka REST Proxy v2 (POST /topics/{topic}) and the Kinesis
 * PutRecord shape that API Gateway integrations take (PUT /streams/{name}/record).
 *
 * What is here is the part of those APIs that is theirs: paths, content types,
 * reading their bodies into records, and their answers and error bodies. The
 * request layer (http_request.c) keeps the flow: it validates each record with
 * the stream's model and hands the records to the same backend as /pins. Pure
 * C: no PostgreSQL, no libmicrohttpd calls, malloc'd results.
 */
#ifndef HTTP_RESTPROXY_H
#define HTTP_RESTPROXY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http_request.h"
#include "pin_json.h"
#include "topic_stream.h"

/* Content type of REST-proxy answers (v2). */
#define RESTPROXY_ANSWER_TYPE "application/vnd.kafka.v2+json"
/* Content type of Kinesis answers (what API Gateway sends). */
#define KINESIS_ANSWER_TYPE "application/json"

/* Error codes of the REST proxy's error bodies (its API reference). */
#define RESTPROXY_TOPIC_NOT_FOUND 40401
#define RESTPROXY_KEY_SCHEMA_MISSING 42201
#define RESTPROXY_VALUE_SCHEMA_MISSING 42202
/* Per-record error_code in a produce answer: non-retriable / retriable Kafka error. */
#define RESTPROXY_RECORD_FATAL 1
#define RESTPROXY_RECORD_RETRIABLE 2

/* The embedded format a REST-proxy request's Content-Type names. */
typedef enum RestProxyFormat
{
	RESTPROXY_FORMAT_JSON = 0,	 /* application/vnd.kafka.json.v2+json, application/json */
	RESTPROXY_FORMAT_SCHEMA,	 /* avro, jsonschema, protobuf: they need schemas */
	RESTPROXY_FORMAT_UNSUPPORTED /* anything else (binary, v1, none): 415 */
} RestProxyFormat;

/* "/topics/<name>": the name (non-empty, no further '/'); false for any other path. */
extern bool RestProxyTopicPath(const char *url, const char **name, size_t *len);

/* "/streams/<name>/record": the name; false for any other path. */
extern bool KinesisStreamPath(const char *url, const char **name, size_t *len);

/* Kafka's rule for topic names: 1 to 249 of [a-zA-Z0-9._-], not "." or "..". */
extern bool RestProxyTopicNameValid(const char *name, size_t len);

extern RestProxyFormat RestProxyContentType(const char *content_type);

/* application/json (or none: API Gateway's default), application/x-amz-json-1.x. */
extern bool KinesisContentTypeOk(const char *content_type);

/*
 * The stream ("pin", "geo", "user") of a Kinesis stream name, or NULL: the
 * topic rule (TopicStreamName) over the name, else over the name with its last
 * '-' read as '.' (the Kinesis clients' streaming-<id>-pin is <id>'s ".pin").
 */
extern const char *KinesisStreamOf(const TopicStreamConfig *config, const char *name, size_t len);

/* One record of a produce body, as given. */
typedef struct RestProxyRecord
{
	const char *value; /* the value's JSON text; NULL when absent or null */
	size_t value_len;
	bool has_key; /* a non-null "key" */
	PinValue key; /* ... its value, and its text as given */
	const char *key_raw;
	size_t key_raw_len;
	int32_t partition; /* -1 when absent or null */
} RestProxyRecord;

typedef struct RestProxyBody
{
	RestProxyRecord *records; /* malloc'd */
	int nrecords;
	bool key_schema;   /* key_schema or key_schema_id given */
	bool value_schema; /* value_schema or value_schema_id given */
} RestProxyBody;

/*
 * Read a produce body. 0 when it is well formed; else the HTTP status of the
 * error (400 not JSON, 422 not the produce shape, 503 out of memory) with its
 * message in msg. Does not validate the values.
 */
extern int RestProxyParse(const char *body, size_t len, RestProxyBody *out, char *msg,
						  size_t msgcap);
extern void RestProxyBodyFree(RestProxyBody *b);

/* A PutRecord body, as given. */
typedef struct KinesisPut
{
	const char *data; /* the Data value's JSON text */
	size_t data_len;
	PinValue partition_key; /* a string */
} KinesisPut;

/*
 * Read a PutRecord body: 0, or 400 with the Kinesis error type (*type) and msg
 * (SerializationException: not a JSON object; ValidationException: Data or
 * PartitionKey missing or wrong).
 */
extern int KinesisParse(const char *body, size_t len, KinesisPut *out, const char **type, char *msg,
						size_t msgcap);

/* A JSON value as Kafka key bytes: a string decoded, anything else its JSON text (malloc'd). */
extern char *RestProxyKeyBytes(const PinValue *v, const char *raw, size_t raw_len, size_t *len);

/* The 200 answer of a settled /topics request: {"offsets":[…],"key_schema_id":null,…}. */
extern char *RestProxyAnswer(const HttpRequest *req, size_t *len);

/* {"error_code":code,"message":msg}. */
extern char *RestProxyErrorBody(int code, const char *msg, size_t *len);

/* The 200 answer of a stored PutRecord: {"SequenceNumber":"…","ShardId":"shardId-…"}. */
extern char *KinesisAnswer(const HttpRecord *rec, size_t *len);

/* {"__type":type,"message":msg}. */
extern char *KinesisErrorBody(const char *type, const char *msg, size_t *len);

/* The Kinesis error type of an HTTP status the request layer decided (401, 405, 503, …). */
extern const char *KinesisErrorType(int status);

#endif /* HTTP_RESTPROXY_H */
