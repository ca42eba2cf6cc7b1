/*
 * test_http_request.c — the HTTP request layer (src/http/http_request.c) alone, without
 * PostgreSQL, the worker or Kafka: a libmicrohttpd daemon on a loopback port with
 * the request layer's callbacks and a fake HttpBackend that stores nothing and
 * settles every record at once. Shows that the layer needs nothing above it but the
 * backend it is handed, and checks what it does with it: pins submitted, health and
 * mode asked, connection hooks called, framing refused before the backend is asked.
 * The metrics counters are stubbed here (metrics.c needs shared memory).
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "guc.h"
#include "http_request.h"
#include "http_restproxy.h"
#include "metrics.h"
#include "unit_check.h"

/* The settings http_request.c reads (normally guc.c). */
char *pinpipe_http_auth_token = "";
int pinpipe_http_max_body = 1 << 20;
int pinpipe_http_timeout = 30;
char *pinpipe_topic = "pinterest.pins";
char *pinpipe_geo_topic = "pinterest.geo";
char *pinpipe_user_topic = "pinterest.user";

/* Metrics stubs: count what the request layer reports. */
static int requests_counted = 0;
void
MetricsRequest(HttpEndpoint endpoint, int status, double seconds)
{
	requests_counted++;
}
void
MetricsPins(int64_t accepted, int64_t rejected, int64_t dead_letters)
{
}
void
MetricsMalformed(void)
{
}
bool
MetricsRender(char **out, size_t *len, int64_t produce_queue_depth)
{
	*out = strdup("x 1\n");
	*len = 4;
	return *out != NULL;
}

/* The fake backend: its calls are counted. */
static int submits = 0, submitted_records = 0, started = 0, done = 0, progress = 0;
static bool healthy = true;

static bool
FakeSubmit(void *ctx, HttpRequest *req, const char **reason)
{
	submits++;
	if (!healthy)
	{
		*reason = "fake backend down";
		return false;
	}
	for (int i = 0; i < req->nrecords; i++)
		if (req->records[i].outcome == HTTP_REC_PENDING)
		{
			submitted_records++;
			/* where a real backend says it stored the record: reported by the REST APIs */
			req->records[i].stored_partition = 3;
			req->records[i].stored_offset = 100 + i;
			HttpRecordDone(req, &req->records[i], HTTP_REC_ACCEPTED, NULL);
		}
	return true;
}
static const char *
FakeHealth(void *ctx)
{
	return healthy ? NULL : "fake backend down";
}
static const char *
FakeMode(void *ctx)
{
	return "fake";
}
static int64_t
FakeDepth(void *ctx)
{
	return 0;
}
static void
FakeStarted(void *ctx, struct MHD_Connection *c)
{
	started++;
}
static void
FakeDone(void *ctx, struct MHD_Connection *c, bool answered)
{
	done++;
}
static void
FakeProgress(void *ctx, struct MHD_Connection *c, bool in_body)
{
	progress++;
}
static bool
FakeOverLimit(void *ctx, struct MHD_Connection *c)
{
	return false;
}

/* takes the validated pins, as embedded mode does: their ownership is exercised under ASan */
static bool
FakeTakesPins(void *ctx)
{
	return true;
}

static const HttpBackend fake = {
	.ctx = NULL,
	.submit = FakeSubmit,
	.health = FakeHealth,
	.mode = FakeMode,
	.queue_depth = FakeDepth,
	.takes_pins = FakeTakesPins,
	.request_started = FakeStarted,
	.request_done = FakeDone,
	.body_progress = FakeProgress,
	.over_limit = FakeOverLimit,
};

/* a string literal and its length, as two arguments */
#define LIT(s) s, strlen(s)

/* Send one raw request and drive the daemon (and the ready list) until the answer is in. */
static void
Exchange(struct MHD_Daemon *d, int port, const char *raw, char *out, size_t cap)
{
	struct sockaddr_in a;
	int s = socket(AF_INET, SOCK_STREAM, 0);
	size_t got = 0;

	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_port = htons((uint16_t) port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	out[0] = '\0';
	if (connect(s, (struct sockaddr *) &a, sizeof(a)) != 0)
		return;
	if (write(s, raw, strlen(raw)) < 0)
		return;
	fcntl(s, F_SETFL, O_NONBLOCK);
	for (int i = 0; i < 2000 && !strstr(out, "\r\n\r\n"); i++)
	{
		ssize_t n;

		HttpRun(d);
		if (HttpResumeReady())
			HttpRun(d);
		n = read(s, out + got, cap - 1 - got);
		if (n > 0)
		{
			got += (size_t) n;
			out[got] = '\0';
		}
		else
			usleep(1000);
	}
	close(s);
	for (int i = 0; i < 5; i++)
		HttpRun(d);
}

/* The REST proxy's and Kinesis's paths, content types, bodies and answers, without a daemon. */
static void
TestRestProxyPure(void)
{
	TopicStreamConfig config = {"pinterest.pins", "pinterest.geo", "pinterest.user"};
	const char *name;
	size_t len;
	RestProxyBody b;
	KinesisPut put;
	const char *type = NULL;
	char msg[256];
	char *text;
	HttpRequest req;
	HttpRecord recs[3];
	const char *body = "{\"records\": [{\"value\": {\"a\": 1}, \"key\": \"k\\u00e9\", "
					   "\"partition\": 2}, {\"value\": null}, {\"key\": 5, \"value\": [1]}], "
					   "\"value_schema_id\": 7}";

	CHECK(RestProxyTopicPath("/topics/a.pin", &name, &len) && len == 5 &&
			  memcmp(name, "a.pin", 5) == 0,
		  "topic path");
	CHECK(!RestProxyTopicPath("/topics/", &name, &len) &&
			  !RestProxyTopicPath("/topics/a/partitions/1", &name, &len),
		  "not topic paths");
	CHECK(KinesisStreamPath("/streams/s-pin/record", &name, &len) && len == 5, "stream path");
	CHECK(!KinesisStreamPath("/streams//record", &name, &len) &&
			  !KinesisStreamPath("/streams/s-pin/records", &name, &len),
		  "not stream paths");
	CHECK(RestProxyTopicNameValid("a.b-c_9", 7) && !RestProxyTopicNameValid("..", 2) &&
			  !RestProxyTopicNameValid("a b", 3),
		  "Kafka topic names");
	CHECK(RestProxyContentType("application/vnd.kafka.json.v2+json") == RESTPROXY_FORMAT_JSON &&
			  RestProxyContentType(" Application/JSON; charset=utf-8") == RESTPROXY_FORMAT_JSON &&
			  RestProxyContentType("application/vnd.kafka.avro.v2+json") ==
				  RESTPROXY_FORMAT_SCHEMA &&
			  RestProxyContentType("application/vnd.kafka.binary.v2+json") ==
				  RESTPROXY_FORMAT_UNSUPPORTED &&
			  RestProxyContentType(NULL) == RESTPROXY_FORMAT_UNSUPPORTED,
		  "REST proxy content types");
	CHECK(KinesisContentTypeOk(NULL) && KinesisContentTypeOk("application/json") &&
			  KinesisContentTypeOk("application/x-amz-json-1.1") &&
			  !KinesisContentTypeOk("text/plain"),
		  "Kinesis content types");
	CHECK(strcmp(KinesisStreamOf(&config, "streaming-0a1b-pin", 18), "pin") == 0 &&
			  strcmp(KinesisStreamOf(&config, "streaming-0a1b-user", 19), "user") == 0 &&
			  strcmp(KinesisStreamOf(&config, "0a1b.geo", 8), "geo") == 0 &&
			  strcmp(KinesisStreamOf(&config, "pinterest.user", 14), "user") == 0 &&
			  KinesisStreamOf(&config, "nope", 4) == NULL &&
			  KinesisStreamOf(&config, "-pin", 4) == NULL,
		  "Kinesis stream names: the topic rule, '-' read as '.'");

	CHECK(RestProxyParse(body, strlen(body), &b, msg, sizeof(msg)) == 0 && b.nrecords == 3 &&
			  b.value_schema && !b.key_schema,
		  "produce body read: %s", msg);
	CHECK(b.records[0].partition == 2 && b.records[0].has_key && b.records[0].value_len == 8 &&
			  memcmp(b.records[0].value, "{\"a\": 1}", 8) == 0,
		  "record 0: value text, key, partition");
	text =
		RestProxyKeyBytes(&b.records[0].key, b.records[0].key_raw, b.records[0].key_raw_len, &len);
	CHECK(text && len == 3 && memcmp(text, "k\xc3\xa9", 3) == 0, "a string key is decoded");
	free(text);
	text =
		RestProxyKeyBytes(&b.records[2].key, b.records[2].key_raw, b.records[2].key_raw_len, &len);
	CHECK(text && len == 1 && text[0] == '5', "a number key is its JSON text");
	free(text);
	CHECK(b.records[1].value == NULL && b.records[1].partition == -1 && !b.records[1].has_key,
		  "record 1: null value, no key, no partition");
	RestProxyBodyFree(&b);
	CHECK(RestProxyParse(LIT("{\"records\": []}"), &b, msg, sizeof(msg)) == 422 &&
			  strcmp(msg, "records may not be empty") == 0,
		  "empty records: 422 (%s)", msg);
	CHECK(RestProxyParse(LIT("{}"), &b, msg, sizeof(msg)) == 422, "no records: 422");
	CHECK(RestProxyParse(LIT("{\"records\": [{\"value\": {}, \"partition\": -1}]}"), &b, msg,
						 sizeof(msg)) == 422,
		  "negative partition: 422");
	CHECK(RestProxyParse(LIT("[1]"), &b, msg, sizeof(msg)) == 422, "an array body: 422");
	CHECK(RestProxyParse(LIT("{\"records\": ["), &b, msg, sizeof(msg)) == 400, "truncated: 400");

	CHECK(KinesisParse(
			  LIT("{\"StreamName\": \"s\", \"Data\": {\"ind\": 1}, \"PartitionKey\": \"p\"}"), &put,
			  &type, msg, sizeof(msg)) == 0 &&
			  put.data_len == 10 && put.partition_key.len == 1,
		  "PutRecord body read: %s", msg);
	CHECK(KinesisParse(LIT("{\"Data\": {}}"), &put, &type, msg, sizeof(msg)) == 400 &&
			  strcmp(type, "ValidationException") == 0,
		  "no PartitionKey: ValidationException");
	CHECK(KinesisParse(LIT("{\"Data\": "), &put, &type, msg, sizeof(msg)) == 400 &&
			  strcmp(type, "SerializationException") == 0,
		  "truncated: SerializationException");

	memset(&req, 0, sizeof(req));
	memset(recs, 0, sizeof(recs));
	req.records = recs;
	req.nrecords = 3;
	recs[0].outcome = HTTP_REC_ACCEPTED;
	recs[0].stored_partition = 1;
	recs[0].stored_offset = 42;
	recs[1].outcome = HTTP_REC_REJECTED;
	recs[1].error = "invalid pin: \"x\"";
	recs[2].outcome = HTTP_REC_UNAVAILABLE;
	text = RestProxyAnswer(&req, &len);
	CHECK(text &&
			  strcmp(text, "{\"offsets\":[{\"partition\":1,\"offset\":42,\"error_code\":null,"
						   "\"error\":null},{\"partition\":null,\"offset\":null,\"error_code\":1,"
						   "\"error\":\"invalid pin: \\\"x\\\"\"},{\"partition\":null,\"offset\":"
						   "null,\"error_code\":2,\"error\":\"not stored: pipeline unavailable, "
						   "retry later\"}],\"key_schema_id\":null,\"value_schema_id\":null}") == 0,
		  "produce answer: %s", text ? text : "(null)");
	free(text);
	text = KinesisAnswer(&recs[0], &len);
	CHECK(text &&
			  strcmp(text, "{\"SequenceNumber\":\"42\",\"ShardId\":\"shardId-000000000001\"}") == 0,
		  "PutRecord answer: %s", text ? text : "(null)");
	free(text);
	text = RestProxyErrorBody(40401, "Topic not found.", &len);
	CHECK(text && strcmp(text, "{\"error_code\":40401,\"message\":\"Topic not found.\"}") == 0,
		  "REST proxy error body");
	free(text);
	text = KinesisErrorBody("ResourceNotFoundException", "Stream s not found.", &len);
	CHECK(text &&
			  strcmp(text, "{\"__type\":\"ResourceNotFoundException\",\"message\":\"Stream s not "
						   "found.\"}") == 0,
		  "Kinesis error body");
	free(text);
}

int
main(void)
{
	bool mhd_answered;
	char out[8192];
	char req[2048];
	const char *pin = "{\"index\": 1, \"unique_id\": \"79dbcedb-4f96-4fcc-bcb2-70dc82f646e1\", "
					  "\"title\": \"t\", \"description\": \"d\", \"poster_name\": \"p\", "
					  "\"follower_count\": \"2M\", \"tag_list\": \"a,b\", \"is_image_or_video\": "
					  "\"image\", \"image_src\": \"https://x/y.jpg\", \"downloaded\": 1, "
					  "\"save_location\": \"Local save in /data\", \"category\": \"art\"}";
	const char *geo_body =
		"{\"records\": [{\"value\": {\"ind\": 0, \"timestamp\": \"2019-01-01 07:21:13\", "
		"\"latitude\": -88.8, \"longitude\": -170.1, \"country\": \"Albania\"}}, {\"value\": "
		"{\"ind\": 1, \"timestamp\": \"t\", \"latitude\": \"north\", \"longitude\": 1, "
		"\"country\": \"X\"}}]}";
	const char *kinesis_body =
		"{\"StreamName\": \"streaming-0a1b-user\", \"Data\": {\"ind\": 0, \"first_name\": "
		"\"Adam\", "
		"\"last_name\": \"Acosta\", \"age\": 20, \"date_joined\": \"2015-10-21 21:26:45\"}, "
		"\"PartitionKey\": \"user-partition\"}";
	struct MHD_Daemon *d = NULL;
	int port = 0;

	TestRestProxyPure();

	for (int tries = 0; d == NULL && tries < 50; tries++)
	{
		port = 20000 + (int) (((unsigned) getpid() * 7919u + (unsigned) tries * 104729u) % 12000u);
		d = MHD_start_daemon(MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG, (uint16_t) port, NULL,
							 NULL, HttpAccessHandler, (void *) &fake, MHD_OPTION_NOTIFY_COMPLETED,
							 HttpRequestCompleted, (void *) &fake, MHD_OPTION_END);
	}
	CHECK(d != NULL, "daemon started");
	if (d == NULL)
		return 1;

	Exchange(d, port, "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", out,
			 sizeof(out));
	CHECK(strncmp(out, "HTTP/1.1 200", 12) == 0 && strstr(out, "\"mode\":\"fake\""),
		  "healthz asks the backend: %.60s", out);

	snprintf(req, sizeof(req),
			 "POST /pins HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: %zu\r\n\r\n"
			 "[1]\n%s\n%s\n",
			 strlen(pin) * 2 + 6, pin, pin);
	Exchange(d, port, req, out, sizeof(out));
	CHECK(strncmp(out, "HTTP/1.1 200", 12) == 0, "/pins answered 200: %.60s", out);
	CHECK(submits == 1 && submitted_records == 2, "two valid pins submitted (%d, %d)", submits,
		  submitted_records);
	CHECK(started >= 2 && done >= 2 && progress >= 2,
		  "connection hooks called (started %d, done %d, progress %d)", started, done, progress);

	/* the REST proxy through the request layer: records of the topic's stream, offsets back */
	snprintf(req, sizeof(req),
			 "POST /topics/0a1b.geo HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: "
			 "application/vnd.kafka.json.v2+json\r\nContent-Length: %zu\r\n\r\n%s",
			 strlen(geo_body), geo_body);
	Exchange(d, port, req, out, sizeof(out));
	CHECK(strncmp(out, "HTTP/1.1 200", 12) == 0 &&
			  strstr(out, "{\"offsets\":[{\"partition\":3,\"offset\":100,\"error_code\":null,"
						  "\"error\":null},{\"partition\":null,\"offset\":null,\"error_code\":1,"
						  "\"error\":\"invalid geo record: field \\\"latitude\\\""),
		  "/topics/<id>.geo: one stored, one invalid geo record: %.400s", out);
	CHECK(submitted_records == 3, "only the valid geo record submitted (%d)", submitted_records);
	snprintf(req, sizeof(req),
			 "POST /topics/0a1b.nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: "
			 "application/json\r\nContent-Length: %zu\r\n\r\n%s",
			 strlen(geo_body), geo_body);
	Exchange(d, port, req, out, sizeof(out));
	CHECK(strncmp(out, "HTTP/1.1 404", 12) == 0 && strstr(out, "\"error_code\":40401"),
		  "unknown topic: 404 40401: %.200s", out);
	snprintf(req, sizeof(req),
			 "POST /topics/0a1b.geo HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: "
			 "text/plain\r\nContent-Length: %zu\r\n\r\n%s",
			 strlen(geo_body), geo_body);
	Exchange(d, port, req, out, sizeof(out));
	CHECK(strncmp(out, "HTTP/1.1 415", 12) == 0 && strstr(out, "\"error_code\":415"),
		  "wrong content type: 415: %.200s", out);
	snprintf(req, sizeof(req),
			 "PUT /streams/streaming-0a1b-user/record HTTP/1.1\r\nHost: x\r\nConnection: "
			 "close\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
			 strlen(kinesis_body), kinesis_body);
	Exchange(d, port, req, out, sizeof(out));
	CHECK(strncmp(out, "HTTP/1.1 200", 12) == 0 &&
			  strstr(out, "{\"SequenceNumber\":\"100\",\"ShardId\":\"shardId-000000000003\"}"),
		  "Kinesis PutRecord of a user record: %.300s", out);
	CHECK(submitted_records == 4, "the user record submitted (%d)", submitted_records);

	snprintf(req, sizeof(req),
			 "POST /pin/ HTTP/1.1\r\nHost: x\r\nContent-Length: %zu\r\nContent-Length: 3\r\n\r\n%s",
			 strlen(pin), pin);
	Exchange(d, port, req, out, sizeof(out));
	CHECK(strncmp(out, "HTTP/1.1 400", 12) == 0 && strstr(out, "onnection: close"),
		  "two Content-Lengths: 400 and close: %.60s", out);
	CHECK(submits == 3, "framing refused before the backend is asked (%d)", submits);
	/* libmicrohttpd 1.0 (Debian sid) refuses a second Content-Length itself, with an HTML
	 * body, before the request layer sees it: that answer is not ours to count */
	mhd_answered = strstr(out, "<html>") != NULL;

	healthy = false;
	snprintf(req, sizeof(req),
			 "POST /pin/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: %zu\r\n\r\n%s",
			 strlen(pin), pin);
	Exchange(d, port, req, out, sizeof(out));
	CHECK(strncmp(out, "HTTP/1.1 503", 12) == 0 && strstr(out, "fake backend down") &&
			  strstr(out, "Retry-After: 1"),
		  "backend unavailable: 503 with its reason: %.80s", out);
	CHECK(requests_counted == (mhd_answered ? 7 : 8), "every answer of ours counted (%d)",
		  requests_counted);

	MHD_stop_daemon(d);
	return UnitReport("http_request");
}
