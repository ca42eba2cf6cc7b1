/*
 * http_request.c — routing, validation and answers of the HTTP ingestion API
 * (DESIGN §7, §10): POST /pin/ and /pins, GET /healthz and /metrics, and the
 * flow of POST /topics/{topic} (Kafka REST Proxy) and PUT /streams/{name}/record
 * (Kinesis), whose bodies and answers are http_restproxy.c's.
 *
 * Runs only in the HTTP worker's main thread, inside libmicrohttpd's access
 * handler (driven by MHD_run from the worker loop) or from the loop itself.
 * Deliberately does not include postgres.h: nothing here may palloc or raise
 * an error, because a longjmp out of a libmicrohttpd callback would corrupt
 * its state. Durable storage is handed to the backend the worker passes in
 * as libmicrohttpd's closure argument (HttpBackend: embedded queue or Kafka
 * producer); the connection stays suspended until HttpRecordDone was called
 * for every pin, and the answer is sent after that. Nothing above this layer
 * is called directly.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "guc.h"
#include "http_request.h"
#include "http_restproxy.h"
#include "metrics.h"
#include "pin_json.h"
#include "strbuf.h"
#include "topic_stream.h"

/* Largest body buffer allocated from Content-Length alone, before the bytes arrive. */
#define HTTP_PREALLOC_MAX (256 * 1024)

/* Requests whose records are all settled, waiting to be resumed. */
static HttpRequest *ready_head = NULL;

/* Suspended requests, oldest first (for HttpExpireWaiting). */
static HttpRequest *waiting_head = NULL;
static HttpRequest *waiting_tail = NULL;

/* Requests handed over in the current MHD_run, suspended when it returns (HttpRun). */
static HttpRequest *suspend_head = NULL;

static void
HttpWaitingAdd(HttpRequest *req)
{
	req->wnext = NULL;
	req->wprev = waiting_tail;
	if (waiting_tail)
		waiting_tail->wnext = req;
	else
		waiting_head = req;
	waiting_tail = req;
}

static void
HttpWaitingRemove(HttpRequest *req)
{
	if (req->wprev)
		req->wprev->wnext = req->wnext;
	else if (waiting_head == req)
		waiting_head = req->wnext;
	if (req->wnext)
		req->wnext->wprev = req->wprev;
	else if (waiting_tail == req)
		waiting_tail = req->wprev;
	req->wprev = req->wnext = NULL;
}

/* Reused parse state (single-threaded). */
/* The last parsed pin: reused for the next one unless a record kept it (HttpKeepPin). */
static HttpPin *parsed = NULL;
static size_t parsed_cap = 0;

double
HttpNow(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

/* Which endpoint a path names (query strings are already stripped by MHD). */
static HttpEndpoint
HttpRoute(const char *url)
{
	const char *name;
	size_t len;

	if (strcmp(url, "/pin/") == 0 || strcmp(url, "/pin") == 0)
		return HTTP_EP_PIN;
	if (strcmp(url, "/pins") == 0 || strcmp(url, "/pins/") == 0)
		return HTTP_EP_PINS;
	if (strcmp(url, "/healthz") == 0)
		return HTTP_EP_HEALTHZ;
	if (strcmp(url, "/metrics") == 0)
		return HTTP_EP_METRICS;
	if (RestProxyTopicPath(url, &name, &len))
		return HTTP_EP_TOPICS;
	if (KinesisStreamPath(url, &name, &len))
		return HTTP_EP_STREAMS;
	return HTTP_EP_OTHER;
}

/* Compare the presented token with the configured one in time independent of the content. */
static bool
HttpTokenMatches(const char *given, size_t glen, const char *token, size_t tlen)
{
	unsigned char diff = (glen != tlen);

	for (size_t i = 0; i < tlen; i++)
		diff |= (unsigned char) token[i] ^ (unsigned char) (i < glen ? given[i] : 0);
	return diff == 0;
}

/* True when no token is configured or the request carries the right bearer token. */
static bool
HttpAuthorized(struct MHD_Connection *conn)
{
	const char *token = pinpipe_http_auth_token;
	const char *hdr;

	if (token == NULL || token[0] == '\0')
		return true;
	hdr = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
	if (hdr == NULL || strncasecmp(hdr, "Bearer ", 7) != 0)
		return false;
	hdr += 7;
	while (*hdr == ' ')
		hdr++;
	return HttpTokenMatches(hdr, strlen(hdr), token, strlen(token));
}

/* Set the answer (body taken over) without queueing it yet. */
static void
HttpSetAnswer(HttpRequest *req, int status, char *body, size_t len, const char *type)
{
	free(req->resp);
	req->status = status;
	req->resp = body;
	req->resp_len = len;
	req->resp_type = type;
}

/*
 * Set an error answer in the shape of the request's API: FastAPI's
 * {"detail": "..."} for the pin endpoints, {"error_code","message"} for the REST
 * proxy (code, or the status when 0), {"__type","message"} for Kinesis (type,
 * or the status's type when NULL).
 */
static void HttpSetApiErrorV(HttpRequest *req, int status, int code, const char *type,
							 const char *fmt, va_list ap) __attribute__((format(printf, 5, 0)));

static void
HttpSetApiErrorV(HttpRequest *req, int status, int code, const char *type, const char *fmt,
				 va_list ap)
{
	char msg[512];
	StrBuf b = {0};
	char *body;
	size_t len = 0;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (req->endpoint == HTTP_EP_TOPICS)
	{
		body = RestProxyErrorBody(code ? code : status, msg, &len);
		HttpSetAnswer(req, status, body, len, RESTPROXY_ANSWER_TYPE);
		return;
	}
	if (req->endpoint == HTTP_EP_STREAMS)
	{
		body = KinesisErrorBody(type ? type : KinesisErrorType(status), msg, &len);
		HttpSetAnswer(req, status, body, len, KINESIS_ANSWER_TYPE);
		return;
	}
	StrBufPuts(&b, "{\"detail\":");
	StrBufJsonString(&b, msg, strlen(msg));
	StrBufPuts(&b, "}");
	body = StrBufTake(&b, &len);
	HttpSetAnswer(req, status, body, len, "application/json");
}

static void HttpSetApiError(HttpRequest *req, int status, int code, const char *type,
							const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* An error with the REST proxy's finer error_code or the Kinesis error type. */
static void
HttpSetApiError(HttpRequest *req, int status, int code, const char *type, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	HttpSetApiErrorV(req, status, code, type, fmt, ap);
	va_end(ap);
}

static void HttpSetDetail(HttpRequest *req, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* An error whose status says it all, in the shape of the request's API. */
static void
HttpSetDetail(HttpRequest *req, int status, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	HttpSetApiErrorV(req, status, 0, NULL, fmt, ap);
	va_end(ap);
}

/* Hand the prepared answer to libmicrohttpd and count it. */
static enum MHD_Result
HttpQueueAnswer(HttpRequest *req)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;
	char num[32];

	if (req->resp == NULL)
	{
		/* out of memory while building: an empty body still gives the status */
		resp = MHD_create_response_from_buffer(0, (void *) "", MHD_RESPMEM_PERSISTENT);
	}
	else
	{
		resp = MHD_create_response_from_buffer(req->resp_len, req->resp, MHD_RESPMEM_MUST_FREE);
		if (resp != NULL)
			req->resp = NULL; /* MHD frees it */
	}
	if (resp == NULL)
		return MHD_NO;
	if (req->resp_type)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, req->resp_type);
	if (req->allow)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, req->allow);
	if (req->close)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
	if (req->status == MHD_HTTP_UNAUTHORIZED)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
	if (req->retry_after > 0)
	{
		snprintf(num, sizeof(num), "%d", req->retry_after);
		MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, num);
	}
	ret = MHD_queue_response(req->conn, (unsigned int) req->status, resp);
	MHD_destroy_response(resp);
	req->answered = true;
	MetricsRequest(req->endpoint, req->status, HttpNow() - req->started);
	return ret;
}

/* Parse one record of model m into parsed->rec, growing its buffer as needed. */
static PinParseResult
HttpParseRecord(const RecordModel *m, const char *data, size_t len)
{
	size_t need = sizeof(HttpPin) + PIN_SCRATCH_SIZE(len);

	if (parsed == NULL || need > parsed_cap)
	{
		HttpPin *p = realloc(parsed, need);

		if (p == NULL)
			return PIN_BAD_JSON; /* treated as unparseable; cannot happen below max_body */
		parsed = p;
		parsed_cap = need;
	}
	memset(&parsed->rec, 0, sizeof(parsed->rec));
	return RecordParse(m, data, len, &parsed->rec, parsed->scratch);
}

static PinParseResult
HttpParsePin(const char *data, size_t len)
{
	return HttpParseRecord(&pin_model, data, len);
}

/*
 * Embedded mode: the record keeps the validated pin for the sink, which then
 * does not parse it again (Kafka mode sends the bytes and needs no copy).
 */
static void
HttpKeepPin(HttpRecord *rec)
{
	const HttpBackend *be = rec->req->backend;

	if (!be->takes_pins(be->ctx))
		return;
	rec->pin = parsed;
	parsed = NULL;
	parsed_cap = 0;
}

/* The errors of the last parsed pin as a malloc'd {"detail":[...]} text. */
static char *
HttpErrorsJson(size_t *len)
{
	size_t n = parsed ? PinErrorsToJson(&parsed->rec, NULL, 0) : 0;
	char *out = parsed ? malloc(n + 1) : NULL;

	if (out == NULL)
		return NULL;
	PinErrorsToJson(&parsed->rec, out, n + 1);
	out[n] = '\0';
	if (len)
		*len = n;
	return out;
}

/* Keep the unique_id of the last parsed pin as the record's Kafka key. */
static void
HttpKeepKey(HttpRecord *rec)
{
	if (parsed->rec.present[PIN_UNIQUE_ID] && parsed->rec.len[PIN_UNIQUE_ID] > 0)
	{
		rec->key = malloc(parsed->rec.len[PIN_UNIQUE_ID]);
		if (rec->key)
		{
			memcpy(rec->key, parsed->rec.str[PIN_UNIQUE_ID], parsed->rec.len[PIN_UNIQUE_ID]);
			rec->keylen = parsed->rec.len[PIN_UNIQUE_ID];
		}
	}
}

/* A body-level 400: {"detail":[{"loc":["body"],"msg":...,"type":...}]}. */
static void
HttpBadBody(HttpRequest *req, const char *msg, const char *type, long offset)
{
	StrBuf b = {0};
	char *body;
	size_t len;

	StrBufPuts(&b, "{\"detail\":[{\"loc\":[\"body\"");
	if (offset >= 0)
		StrBufPrintf(&b, ",%ld", offset);
	StrBufPuts(&b, "],\"msg\":");
	StrBufJsonString(&b, msg, strlen(msg));
	StrBufPuts(&b, ",\"type\":");
	StrBufJsonString(&b, type, strlen(type));
	StrBufPuts(&b, "}]}");
	body = StrBufTake(&b, &len);
	HttpSetAnswer(req, MHD_HTTP_BAD_REQUEST, body, len, "application/json");
}

/* Hand the valid records to the durable path; false (answer set) if it is unavailable. */
static bool
HttpDispatch(HttpRequest *req)
{
	const char *reason = NULL;
	int npending = 0;

	for (int i = 0; i < req->nrecords; i++)
		if (req->records[i].outcome == HTTP_REC_PENDING)
			npending++;
	if (npending == 0)
		return false;
	req->pending = npending;
	if (req->backend->submit(req->backend->ctx, req, &reason))
		return true;
	/* nothing was handed over */
	req->pending = 0;
	for (int i = 0; i < req->nrecords; i++)
		if (req->records[i].outcome == HTTP_REC_PENDING)
			req->records[i].outcome = HTTP_REC_UNAVAILABLE;
	req->unavailable = npending;
	req->unavailable_reason = reason ? reason : "pipeline unavailable";
	HttpRequestFinish(req);
	return false;
}

/* POST /pin/: one pin. */
static void
HttpProcessPin(HttpRequest *req)
{
	PinParseResult r;
	size_t elen;

	if (!Utf8Valid(req->body ? req->body : "", req->len))
	{
		HttpBadBody(req, "request body is not valid UTF-8", "value_error.unicodedecode", -1);
		return;
	}
	r = HttpParsePin(req->body ? req->body : "", req->len);
	if (r != PIN_OK)
	{
		size_t len = 0;
		char *json = HttpErrorsJson(&len);

		HttpSetAnswer(req,
					  r == PIN_BAD_JSON ? MHD_HTTP_BAD_REQUEST : MHD_HTTP_UNPROCESSABLE_CONTENT,
					  json, json ? len : 0, "application/json");
		if (r == PIN_INVALID)
			MetricsPins(0, 1, 0);
		return;
	}
	elen = PinRecordToJson(&parsed->rec, NULL, 0);
	req->echo = malloc(elen + 1);
	req->records = calloc(1, sizeof(HttpRecord));
	if (req->echo == NULL || req->records == NULL)
	{
		HttpSetDetail(req, MHD_HTTP_SERVICE_UNAVAILABLE, "out of memory");
		req->retry_after = 1;
		return;
	}
	PinRecordToJson(&parsed->rec, req->echo, elen + 1);
	req->echo[elen] = '\0';
	req->nrecords = 1;
	req->records[0].data = req->body;
	req->records[0].len = req->len;
	req->records[0].index = 0;
	req->records[0].req = req;
	req->records[0].partition = -1;
	HttpKeepKey(&req->records[0]);
	HttpKeepPin(&req->records[0]);
	HttpDispatch(req);
}

/* A malloc'd one-line text of the last parsed record's errors (REST proxy, Kinesis). */
static char *
HttpErrorsText(const RecordModel *m, PinParseResult r)
{
	size_t n = RecordErrorsFormat(m, &parsed->rec, r, NULL, 0);
	char *out = malloc(n + 1);

	if (out)
		RecordErrorsFormat(m, &parsed->rec, r, out, n + 1);
	return out;
}

/*
 * Add one record of a request (an element of a /pins body, a REST-proxy value,
 * Kinesis Data), validating it with the request's model; NULL when out of memory
 * (req->oom set: the request gets 503, no record is dropped silently).
 */
static HttpRecord *
HttpAddRecord(HttpRequest *req, int *cap, const char *data, size_t len)
{
	const RecordModel *model = req->model ? req->model : &pin_model;
	HttpRecord *rec;
	PinParseResult r;

	if (req->nrecords == *cap)
	{
		int ncap = *cap ? *cap * 2 : 64;
		HttpRecord *p = realloc(req->records, sizeof(HttpRecord) * ncap);

		if (p == NULL)
		{
			req->oom = true;
			return NULL;
		}
		req->records = p;
		*cap = ncap;
	}
	rec = &req->records[req->nrecords];
	memset(rec, 0, sizeof(*rec));
	rec->data = data;
	rec->len = len;
	rec->index = req->nrecords;
	rec->req = req;
	rec->partition = -1;
	req->nrecords++;
	r = HttpParseRecord(model, data, len);
	if (r == PIN_OK)
	{
		rec->outcome = HTTP_REC_PENDING;
		/* the pin endpoints key by unique_id; the REST APIs take the client's key */
		if (req->endpoint == HTTP_EP_PIN || req->endpoint == HTTP_EP_PINS)
			HttpKeepKey(rec);
		HttpKeepPin(rec);
	}
	else
	{
		rec->outcome = HTTP_REC_REJECTED;
		if (req->endpoint == HTTP_EP_PIN || req->endpoint == HTTP_EP_PINS)
			rec->detail = HttpErrorsJson(NULL);
		else if ((rec->error = HttpErrorsText(model, r)) == NULL)
			req->oom = true;
	}
	return rec;
}

/* Give up on a request for lack of memory: 503, nothing of it stored. */
static void
HttpOutOfMemory(HttpRequest *req)
{
	HttpSetDetail(req, MHD_HTTP_SERVICE_UNAVAILABLE, "out of memory; nothing was stored");
	req->retry_after = 1;
}

/* Hand a read request's valid records over, or answer now (none valid, out of memory). */
static void
HttpHandOver(HttpRequest *req)
{
	if (req->oom)
	{
		HttpOutOfMemory(req);
		return;
	}
	if (!HttpDispatch(req) && req->resp == NULL && req->status == 0)
		HttpRequestFinish(req);
}

/* POST /pins: a JSON array of pins, or NDJSON (one pin per line): see PinBatchOpen. */
static void
HttpProcessPins(HttpRequest *req)
{
	const char *body = req->body ? req->body : "";
	size_t len = req->len;
	int cap = 0;
	bool blank = true;
	PinBatch batch;
	PinError err;
	const char *rec;
	size_t n;

	if (!Utf8Valid(body, len))
	{
		HttpBadBody(req, "request body is not valid UTF-8", "value_error.unicodedecode", -1);
		return;
	}
	for (size_t i = 0; i < len && blank; i++)
		if (body[i] != ' ' && body[i] != '\t' && body[i] != '\r' && body[i] != '\n')
			blank = false;
	if (blank)
	{
		HttpBadBody(req, "request body is empty", "value_error.missing", -1);
		return;
	}
	if (!PinBatchOpen(&batch, body, len, &err))
	{
		HttpBadBody(req, err.msg ? err.msg : "malformed JSON array",
					err.type ? err.type : "value_error.jsondecode", (long) err.offset);
		return;
	}
	while (PinBatchNext(&batch, &rec, &n) && !req->oom)
		HttpAddRecord(req, &cap, rec, n);
	HttpHandOver(req);
}

/*
 * POST /topics/{topic}: a REST-proxy produce request. Each value is a record of
 * the topic's stream, validated like a /pins element; one that fails is that
 * record's error in the answer, the others are stored.
 */
static void
HttpProcessTopics(HttpRequest *req)
{
	const char *body = req->body ? req->body : "";
	RestProxyBody b;
	char msg[256];
	int status;
	int cap = 0;
	bool keys = false;

	if (!Utf8Valid(body, req->len))
	{
		HttpSetDetail(req, MHD_HTTP_BAD_REQUEST, "request body is not valid UTF-8");
		return;
	}
	status = RestProxyParse(body, req->len, &b, msg, sizeof(msg));
	if (status != 0)
	{
		if (status == MHD_HTTP_SERVICE_UNAVAILABLE)
			req->retry_after = 1;
		HttpSetDetail(req, status, "%s", msg);
		return;
	}
	for (int i = 0; i < b.nrecords; i++)
		keys |= b.records[i].has_key;
	if (req->content_format == RESTPROXY_FORMAT_SCHEMA)
	{
		/* the reference's checks for schema formats, then: no schema registry here */
		if (keys && !b.key_schema)
			HttpSetApiError(req, MHD_HTTP_UNPROCESSABLE_CONTENT, RESTPROXY_KEY_SCHEMA_MISSING, NULL,
							"Request includes keys but does not include key schema");
		else if (!b.value_schema)
			HttpSetApiError(req, MHD_HTTP_UNPROCESSABLE_CONTENT, RESTPROXY_VALUE_SCHEMA_MISSING,
							NULL, "Request includes values but does not include value schema");
		else
			HttpSetDetail(req, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE,
						  "HTTP 415 Unsupported Media Type: pinpipe has no schema registry; use "
						  "application/vnd.kafka.json.v2+json");
		RestProxyBodyFree(&b);
		return;
	}
	for (int i = 0; i < b.nrecords && !req->oom; i++)
	{
		RestProxyRecord *v = &b.records[i];
		/* an absent or null value is validated as null: "value is not a valid dict" */
		HttpRecord *rec =
			HttpAddRecord(req, &cap, v->value ? v->value : "null", v->value ? v->value_len : 4);

		if (rec == NULL)
			break;
		rec->partition = v->partition;
		if (rec->outcome == HTTP_REC_PENDING && v->has_key &&
			(rec->key = RestProxyKeyBytes(&v->key, v->key_raw, v->key_raw_len, &rec->keylen)) ==
				NULL)
			req->oom = true;
	}
	RestProxyBodyFree(&b);
	HttpHandOver(req);
}

/* PUT /streams/{name}/record: a Kinesis PutRecord of one record (Data), keyed by PartitionKey. */
static void
HttpProcessStreams(HttpRequest *req)
{
	const char *body = req->body ? req->body : "";
	KinesisPut put;
	const char *type = NULL;
	char msg[256];
	int status;
	int cap = 0;
	HttpRecord *rec;

	if (!Utf8Valid(body, req->len))
	{
		HttpSetApiError(req, MHD_HTTP_BAD_REQUEST, 0, "SerializationException",
						"request body is not valid UTF-8");
		return;
	}
	status = KinesisParse(body, req->len, &put, &type, msg, sizeof(msg));
	if (status != 0)
	{
		HttpSetApiError(req, status, 0, type, "%s", msg);
		return;
	}
	rec = HttpAddRecord(req, &cap, put.data, put.data_len);
	if (rec != NULL && rec->outcome == HTTP_REC_PENDING &&
		(rec->key = RestProxyKeyBytes(&put.partition_key, NULL, 0, &rec->keylen)) == NULL)
		req->oom = true;
	HttpHandOver(req);
}

/* Answer GET /healthz. */
static void
HttpProcessHealthz(HttpRequest *req)
{
	const HttpBackend *be = req->backend;
	const char *problem = be->health(be->ctx);
	const char *mode = be->mode(be->ctx);
	StrBuf b = {0};
	char *body;
	size_t len;

	if (problem == NULL)
		StrBufPrintf(&b, "{\"status\":\"ok\",\"mode\":\"%s\"}", mode);
	else
	{
		StrBufPrintf(&b, "{\"status\":\"unavailable\",\"mode\":\"%s\",\"reason\":", mode);
		StrBufJsonString(&b, problem, strlen(problem));
		StrBufPuts(&b, "}");
		req->retry_after = 1;
	}
	body = StrBufTake(&b, &len);
	HttpSetAnswer(req, problem ? MHD_HTTP_SERVICE_UNAVAILABLE : MHD_HTTP_OK, body, len,
				  "application/json");
}

/* Answer GET /metrics. */
static void
HttpProcessMetrics(HttpRequest *req)
{
	char *text = NULL;
	size_t len = 0;

	if (!MetricsRender(&text, &len, req->backend->queue_depth(req->backend->ctx)))
	{
		HttpSetDetail(req, MHD_HTTP_SERVICE_UNAVAILABLE, "out of memory");
		req->retry_after = 1;
		return;
	}
	HttpSetAnswer(req, MHD_HTTP_OK, text, len, "text/plain; version=0.0.4; charset=utf-8");
}

/* What the framing headers of a request say, gathered over all of its header lines. */
typedef struct HttpFraming
{
	int content_lengths; /* Content-Length lines */
	bool lengths_differ; /* ... with more than one value */
	bool length_invalid; /* ... or one that is not a decimal number */
	const char *first_length;
	int chunked;			/* "chunked" codings in Transfer-Encoding */
	bool chunked_not_last;	/* a coding after "chunked" */
	bool unknown_coding;	/* a coding other than "chunked" */
	bool transfer_encoding; /* any Transfer-Encoding line */
} HttpFraming;

/* Add one coding of a Transfer-Encoding list (without surrounding blanks). */
static void
HttpFramingCoding(HttpFraming *f, const char *tok, size_t n)
{
	if (n == 0)
		return;
	if (f->chunked > 0)
		f->chunked_not_last = true;
	if (n == 7 && strncasecmp(tok, "chunked", 7) == 0)
		f->chunked++;
	else
		f->unknown_coding = true;
}

/* MHD_KeyValueIterator over the request's headers: note Content-Length and Transfer-Encoding. */
static enum MHD_Result
HttpFramingHeader(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	HttpFraming *f = cls;

	if (value == NULL)
		value = "";
	if (strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH) == 0)
	{
		f->content_lengths++;
		if (value[0] == '\0' || strspn(value, "0123456789") != strlen(value))
			f->length_invalid = true;
		if (f->first_length == NULL)
			f->first_length = value;
		else if (strcmp(f->first_length, value) != 0)
			f->lengths_differ = true;
	}
	else if (strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING) == 0)
	{
		const char *p = value;

		f->transfer_encoding = true;
		while (*p)
		{
			size_t n = strcspn(p, ",");
			size_t a = 0;
			size_t z = n;

			while (a < z && (p[a] == ' ' || p[a] == '\t'))
				a++;
			while (z > a && (p[z - 1] == ' ' || p[z - 1] == '\t'))
				z--;
			HttpFramingCoding(f, p + a, z - a);
			p += n;
			if (*p == ',')
				p++;
		}
	}
	return MHD_YES;
}

/*
 * Refuse a request whose body length is ambiguous (RFC 9112 §6): two different
 * Content-Length values, Transfer-Encoding beside Content-Length, "chunked"
 * twice or not last (400), a coding we do not implement (501). libmicrohttpd
 * 0.9.75 takes the first Content-Length or waits for a body it cannot frame; the
 * answer closes the connection, since where the next request starts is unknown.
 * False: answer set.
 */
static bool
HttpCheckFraming(HttpRequest *req)
{
	HttpFraming f;
	const char *why = NULL;
	int status = MHD_HTTP_BAD_REQUEST;

	memset(&f, 0, sizeof(f));
	MHD_get_connection_values(req->conn, MHD_HEADER_KIND, HttpFramingHeader, &f);
	if (f.lengths_differ)
		why = "conflicting Content-Length headers";
	else if (f.length_invalid)
		why = "invalid Content-Length header";
	else if (f.transfer_encoding && f.content_lengths > 0)
		why = "both Transfer-Encoding and Content-Length";
	else if (f.unknown_coding)
	{
		status = MHD_HTTP_NOT_IMPLEMENTED;
		why = "unsupported Transfer-Encoding (only chunked is implemented)";
	}
	else if (f.chunked > 1 || f.chunked_not_last)
		why = "invalid Transfer-Encoding: chunked must be given once, last";
	else if (f.transfer_encoding && f.chunked == 0)
		why = "empty Transfer-Encoding header";
	if (why == NULL)
		return true;
	req->close = true;
	HttpSetDetail(req, status, "%s", why);
	MetricsMalformed();
	return false;
}

/*
 * /topics and /streams: the content type, and the stream the path names
 * (TopicStreamName: the one topic rule); sets req->model and req->topic, the
 * Kafka topic its records go to. False: answer set.
 */
static bool
HttpCheckStream(HttpRequest *req, const char *url)
{
	const char *ct =
		MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
	TopicStreamConfig config = GucTopicStreams();
	const char *stream;
	const char *name;
	size_t len;

	if (req->endpoint == HTTP_EP_TOPICS)
	{
		req->content_format = RestProxyContentType(ct);
		if (req->content_format == RESTPROXY_FORMAT_UNSUPPORTED)
		{
			HttpSetDetail(
				req, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE,
				"HTTP 415 Unsupported Media Type: use application/vnd.kafka.json.v2+json");
			return false;
		}
		(void) RestProxyTopicPath(url, &name, &len);
		stream = RestProxyTopicNameValid(name, len) ? TopicStreamName(&config, name, len) : NULL;
		if (stream == NULL)
		{
			HttpSetApiError(req, MHD_HTTP_NOT_FOUND, RESTPROXY_TOPIC_NOT_FOUND, NULL,
							"Topic not found.");
			return false;
		}
		/* the REST proxy produces to the topic it is named */
		req->topic = strndup(name, len);
	}
	else
	{
		if (!KinesisContentTypeOk(ct))
		{
			HttpSetDetail(req, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE, "Unsupported Media Type");
			return false;
		}
		(void) KinesisStreamPath(url, &name, &len);
		stream = KinesisStreamOf(&config, name, len);
		if (stream == NULL)
		{
			/* Kinesis answers an unknown stream with 400 */
			HttpSetApiError(req, MHD_HTTP_BAD_REQUEST, 0, "ResourceNotFoundException",
							"Stream %.*s not found.", (int) len, name);
			return false;
		}
		/* a Kinesis stream has no Kafka topic of its own: its stream's topic carries it */
		req->topic = strdup(strcmp(stream, "geo") == 0	  ? pinpipe_geo_topic
							: strcmp(stream, "user") == 0 ? pinpipe_user_topic
														  : pinpipe_topic);
	}
	req->model = RecordModelLookup(stream, strlen(stream));
	if (req->topic == NULL || req->model == NULL)
	{
		req->retry_after = 1;
		HttpSetDetail(req, MHD_HTTP_SERVICE_UNAVAILABLE, "out of memory");
		return false;
	}
	return true;
}

/* Checks made on the headers, before any body byte is read. False: answer set. */
static bool
HttpCheckHeaders(HttpRequest *req, const char *method, const char *url)
{
	bool is_post = strcmp(method, MHD_HTTP_METHOD_POST) == 0;
	bool is_put = strcmp(method, MHD_HTTP_METHOD_PUT) == 0;
	bool probe = req->endpoint == HTTP_EP_HEALTHZ || req->endpoint == HTTP_EP_METRICS;
	bool kinesis = req->endpoint == HTTP_EP_STREAMS;
	bool is_get =
		strcmp(method, MHD_HTTP_METHOD_GET) == 0 || strcmp(method, MHD_HTTP_METHOD_HEAD) == 0;
	const char *cl;

	if (!HttpCheckFraming(req))
		return false;
	if (req->backend->over_limit(req->backend->ctx, req->conn))
	{
		req->close = true;
		req->retry_after = 1;
		HttpSetDetail(req, MHD_HTTP_SERVICE_UNAVAILABLE,
					  "too many connections; retry on a new connection");
		return false;
	}
	if (req->endpoint == HTTP_EP_OTHER)
	{
		HttpSetDetail(req, MHD_HTTP_NOT_FOUND, "Not Found");
		return false;
	}
	/* GET for the probes, PUT for Kinesis's PutRecord, POST for every other ingest route */
	if (probe ? !is_get : kinesis ? !is_put : !is_post)
	{
		req->allow = probe ? "GET, HEAD" : kinesis ? "PUT" : "POST";
		HttpSetDetail(req, MHD_HTTP_METHOD_NOT_ALLOWED, "Method Not Allowed");
		return false;
	}
	/* /healthz stays open so that load balancers can probe without the token. */
	if (req->endpoint != HTTP_EP_HEALTHZ && !HttpAuthorized(req->conn))
	{
		HttpSetDetail(req, MHD_HTTP_UNAUTHORIZED, "Not authenticated");
		return false;
	}
	if ((req->endpoint == HTTP_EP_TOPICS || req->endpoint == HTTP_EP_STREAMS) &&
		!HttpCheckStream(req, url))
		return false;
	cl = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
	if ((is_post || is_put) && cl != NULL)
	{
		char *end;
		unsigned long long n = strtoull(cl, &end, 10);

		if (n > (unsigned long long) pinpipe_http_max_body)
		{
			HttpSetDetail(req, MHD_HTTP_CONTENT_TOO_LARGE,
						  "request body of %llu bytes exceeds pinpipe.http_max_body (%d bytes)", n,
						  pinpipe_http_max_body);
			return false;
		}
		/*
		 * Size the buffer for the announced body, but only up to a bound: memory
		 * is committed as bytes arrive, not as clients promise them.
		 */
		if (n > HTTP_PREALLOC_MAX)
			n = HTTP_PREALLOC_MAX;
		if (n > 0)
		{
			req->body = malloc((size_t) n + 1);
			if (req->body)
				req->cap = (size_t) n + 1;
		}
	}
	return true;
}

/* Take a piece of the body; over the limit the rest is read and discarded (413 at the end). */
static void
HttpTakeUpload(HttpRequest *req, const char *data, size_t n)
{
	if (req->too_large)
		return;
	if (req->len + n > (size_t) pinpipe_http_max_body)
	{
		req->too_large = true;
		free(req->body);
		req->body = NULL;
		req->cap = 0;
		return;
	}
	if (req->len + n + 1 > req->cap)
	{
		size_t cap = req->cap ? req->cap : 4096;
		char *p;

		while (cap < req->len + n + 1)
			cap *= 2;
		if (cap > (size_t) pinpipe_http_max_body + 1)
			cap = (size_t) pinpipe_http_max_body + 1;
		p = realloc(req->body, cap);
		if (p == NULL)
		{
			req->too_large = true; /* cannot hold it: treat like too large */
			free(req->body);
			req->body = NULL;
			req->cap = 0;
			return;
		}
		req->body = p;
		req->cap = cap;
	}
	memcpy(req->body + req->len, data, n);
	req->len += n;
	req->body[req->len] = '\0';
}

enum MHD_Result
HttpAccessHandler(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
				  const char *version, const char *upload_data, size_t *upload_data_size,
				  void **con_cls)
{
	HttpRequest *req = *con_cls;

	if (req == NULL)
	{
		req = calloc(1, sizeof(HttpRequest));
		if (req == NULL)
			return MHD_NO;
		req->backend = cls;
		req->conn = conn;
		req->started = HttpNow();
		req->backend->request_started(req->backend->ctx, conn);
		req->endpoint = HttpRoute(url);
		*con_cls = req;
		if (!HttpCheckHeaders(req, method, url))
			return HttpQueueAnswer(req);
		req->backend->body_progress(req->backend->ctx, conn,
									strcmp(method, MHD_HTTP_METHOD_POST) == 0 ||
										strcmp(method, MHD_HTTP_METHOD_PUT) == 0);
		return MHD_YES;
	}
	if (req->answered)
	{
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (*upload_data_size > 0)
	{
		/* A client that trickles (or streams endlessly) cannot hold us past the timeout. */
		if (HttpNow() - req->started > (double) pinpipe_http_timeout)
			return MHD_NO;
		HttpTakeUpload(req, upload_data, *upload_data_size);
		*upload_data_size = 0;
		req->backend->body_progress(req->backend->ctx, conn, true);
		return MHD_YES;
	}
	req->backend->body_progress(req->backend->ctx, conn, false);
	/* The whole body is in (or we were resumed with the answer ready). */
	if (req->resp != NULL || req->status != 0)
		return HttpQueueAnswer(req);
	if (req->suspended || req->pending > 0)
		return MHD_YES; /* handed over: suspended once MHD_run returns (HttpRun) */
	if (req->endpoint == HTTP_EP_HEALTHZ)
		HttpProcessHealthz(req);
	else if (req->endpoint == HTTP_EP_METRICS)
		HttpProcessMetrics(req);
	else if (req->too_large)
		HttpSetDetail(req, MHD_HTTP_CONTENT_TOO_LARGE,
					  "request body exceeds pinpipe.http_max_body (%d bytes)",
					  pinpipe_http_max_body);
	else if (req->endpoint == HTTP_EP_PIN)
		HttpProcessPin(req);
	else if (req->endpoint == HTTP_EP_TOPICS)
		HttpProcessTopics(req);
	else if (req->endpoint == HTTP_EP_STREAMS)
		HttpProcessStreams(req);
	else
		HttpProcessPins(req);
	if (req->resp != NULL || req->status != 0)
		return HttpQueueAnswer(req);
	/* Handed over: wait for the commit or the delivery reports. */
	req->suspended = true;
	HttpWaitingAdd(req);
	req->snext = suspend_head;
	suspend_head = req;
	return MHD_YES;
}

/*
 * The suspension is done once MHD_run has returned, not from the handler:
 * libmicrohttpd 0.9.75 does not update the event state of a connection
 * suspended in the handler, so a request read and handed over in one pass stays
 * marked "reading", and on resumption it reads before it answers. A client that
 * half-closed after its request then reads as gone (end of input on a complete
 * request) and the connection is closed without its answer. Returning without
 * an answer lets libmicrohttpd mark the connection as waiting for one first.
 */
void
HttpRun(struct MHD_Daemon *daemon)
{
	MHD_run(daemon);
	while (suspend_head)
	{
		HttpRequest *req = suspend_head;

		suspend_head = req->snext;
		req->snext = NULL;
		if (req->conn != NULL)
			MHD_suspend_connection(req->conn);
	}
}

/* Free a request and everything it owns. */
static void
HttpRequestFree(HttpRequest *req)
{
	HttpWaitingRemove(req);
	for (int i = 0; i < req->nrecords; i++)
	{
		free(req->records[i].detail);
		free(req->records[i].key);
		free(req->records[i].pin);
		free(req->records[i].error);
	}
	free(req->records);
	free(req->topic);
	free(req->body);
	free(req->echo);
	free(req->resp);
	free(req);
}

void
HttpRequestRelease(HttpRequest *req)
{
	if (req->conn_done && req->pending == 0)
		HttpRequestFree(req);
}

void
HttpRequestCompleted(void *cls, struct MHD_Connection *conn, void **con_cls,
					 enum MHD_RequestTerminationCode toe)
{
	HttpRequest *req = *con_cls;

	if (req == NULL)
		return;
	*con_cls = NULL;
	req->backend->request_done(req->backend->ctx, conn, toe == MHD_REQUEST_TERMINATED_COMPLETED_OK);
	req->conn_done = true;
	req->conn = NULL;
	HttpRequestRelease(req);
}

void
HttpRecordDone(HttpRequest *req, HttpRecord *rec, HttpRecordOutcome outcome, const char *reason)
{
	if (rec->outcome != HTTP_REC_PENDING)
		return;
	rec->outcome = outcome;
	if (outcome == HTTP_REC_UNAVAILABLE)
	{
		req->unavailable++;
		if (req->unavailable_reason == NULL)
			req->unavailable_reason = reason;
	}
	if (outcome != HTTP_REC_ACCEPTED && reason != NULL && rec->error == NULL &&
		(req->endpoint == HTTP_EP_TOPICS || req->endpoint == HTTP_EP_STREAMS))
	{
		/* the REST APIs say why in plain text (a failed strdup leaves a generic text) */
		rec->dead_lettered = outcome == HTTP_REC_REJECTED;
		rec->error = strdup(reason);
	}
	else if ((outcome == HTTP_REC_REJECTED || outcome == HTTP_REC_TOO_LARGE) && reason != NULL &&
			 rec->detail == NULL)
	{
		StrBuf b = {0};

		/* a rejected record with a reason was dead-lettered by the sink (a 413 never was) */
		rec->dead_lettered = outcome == HTTP_REC_REJECTED;
		/* dead-lettered at insert time, or too large for Kafka: say why, in FastAPI's shape */
		StrBufPuts(&b, "{\"detail\":[{\"loc\":[\"body\"],\"msg\":");
		StrBufJsonString(&b, reason, strlen(reason));
		StrBufPuts(&b, outcome == HTTP_REC_TOO_LARGE ? ",\"type\":\"value_error.too_large\"}]}"
													 : ",\"type\":\"value_error.dead_letter\"}]}");
		rec->detail = StrBufTake(&b, NULL);
	}
	if (--req->pending == 0)
	{
		if (req->expired)
		{
			/* already answered 503 at its deadline: nothing more to say */
			if (req->conn_done)
				HttpRequestFree(req);
			return;
		}
		if (req->conn_done)
		{
			HttpRequestFree(req);
			return;
		}
		req->next = ready_head;
		ready_head = req;
	}
}

/* The "detail" array inside a {"detail": [...]} text, or the whole text. */
static void
BufDetailArray(StrBuf *b, const char *detail)
{
	const char *open;
	const char *close;

	if (detail == NULL)
	{
		StrBufPuts(b, "[]");
		return;
	}
	open = strchr(detail, '[');
	close = strrchr(detail, ']');
	if (strncmp(detail, "{\"detail\":", 10) == 0 && open && close && close > open)
		StrBufAppend(b, open, (size_t) (close - open + 1));
	else
		StrBufAppend(b, detail, strlen(detail));
}

/*
 * The answer of a settled /topics or /streams request. A REST-proxy request is
 * answered 503 only when none of its records was stored; otherwise 200 with
 * each record's partition and offset or its error (error_code 2, retriable,
 * for one that could not be stored now), as the REST proxy does.
 */
static void
HttpFinishForeign(HttpRequest *req, int64_t accepted, int64_t rejected, int64_t dead)
{
	HttpRecord *rec = &req->records[0];
	char *body;
	size_t len = 0;

	if (req->unavailable > 0 && accepted == 0)
	{
		HttpSetDetail(req, MHD_HTTP_SERVICE_UNAVAILABLE, "%s",
					  req->unavailable_reason ? req->unavailable_reason : "pipeline unavailable");
		req->retry_after = 1;
		return;
	}
	MetricsPins(accepted, rejected, dead);
	if (req->endpoint == HTTP_EP_TOPICS)
	{
		body = RestProxyAnswer(req, &len);
		if (body == NULL)
			HttpOutOfMemory(req);
		else
			HttpSetAnswer(req, MHD_HTTP_OK, body, len, RESTPROXY_ANSWER_TYPE);
		return;
	}
	if (rec->outcome == HTTP_REC_ACCEPTED)
	{
		body = KinesisAnswer(rec, &len);
		if (body == NULL)
			HttpOutOfMemory(req);
		else
			HttpSetAnswer(req, MHD_HTTP_OK, body, len, KINESIS_ANSWER_TYPE);
		return;
	}
	if (rec->outcome == HTTP_REC_TOO_LARGE)
		HttpSetApiError(req, MHD_HTTP_CONTENT_TOO_LARGE, 0, "ValidationException", "%s",
						rec->error ? rec->error : "record too large");
	else
		HttpSetApiError(req, MHD_HTTP_BAD_REQUEST, 0, "InvalidArgumentException", "%s",
						rec->error ? rec->error : "record refused");
}

void
HttpRequestFinish(HttpRequest *req)
{
	int64_t accepted = 0;
	int64_t rejected = 0;
	int64_t dead = 0;
	StrBuf b = {0};
	char *body;
	size_t len;

	for (int i = 0; i < req->nrecords; i++)
	{
		if (req->records[i].outcome == HTTP_REC_ACCEPTED)
			accepted++;
		else if (req->records[i].outcome == HTTP_REC_TOO_LARGE ||
				 req->records[i].outcome == HTTP_REC_REFUSED)
			rejected++;
		else if (req->records[i].outcome == HTTP_REC_REJECTED)
		{
			rejected++;
			if (req->records[i].dead_lettered)
				dead++;
		}
	}
	if (req->endpoint == HTTP_EP_TOPICS || req->endpoint == HTTP_EP_STREAMS)
	{
		HttpFinishForeign(req, accepted, rejected, dead);
		return;
	}
	if (req->unavailable > 0)
	{
		/* Nothing of this request is promised: the client retries the whole request. */
		HttpSetDetail(req, MHD_HTTP_SERVICE_UNAVAILABLE, "%s",
					  req->unavailable_reason ? req->unavailable_reason : "pipeline unavailable");
		req->retry_after = 1;
		return;
	}
	MetricsPins(accepted, rejected, dead);
	if (req->endpoint == HTTP_EP_PIN)
	{
		HttpRecord *rec = &req->records[0];

		if (rec->outcome == HTTP_REC_ACCEPTED)
		{
			HttpSetAnswer(req, MHD_HTTP_OK, req->echo, strlen(req->echo), "application/json");
			req->echo = NULL;
		}
		else
		{
			HttpSetAnswer(req,
						  rec->outcome == HTTP_REC_TOO_LARGE ? MHD_HTTP_CONTENT_TOO_LARGE
															 : MHD_HTTP_UNPROCESSABLE_CONTENT,
						  rec->detail, rec->detail ? strlen(rec->detail) : 0, "application/json");
			rec->detail = NULL;
		}
		return;
	}
	StrBufPrintf(&b, "{\"accepted\":%lld,\"rejected\":%lld,\"errors\":[", (long long) accepted,
				 (long long) rejected);
	for (int i = 0, first = 1; i < req->nrecords; i++)
	{
		HttpRecord *rec = &req->records[i];

		if (rec->outcome != HTTP_REC_REJECTED && rec->outcome != HTTP_REC_TOO_LARGE)
			continue;
		StrBufPrintf(&b, "%s{\"index\":%d,\"detail\":", first ? "" : ",", rec->index);
		BufDetailArray(&b, rec->detail);
		StrBufPuts(&b, "}");
		first = 0;
	}
	StrBufPuts(&b, "]}");
	body = StrBufTake(&b, &len);
	if (body == NULL)
	{
		HttpSetDetail(req, MHD_HTTP_SERVICE_UNAVAILABLE, "out of memory");
		req->retry_after = 1;
		return;
	}
	HttpSetAnswer(req, MHD_HTTP_OK, body, len, "application/json");
}

bool
HttpResumeReady(void)
{
	bool any = ready_head != NULL;

	while (ready_head)
	{
		HttpRequest *req = ready_head;

		ready_head = req->next;
		req->next = NULL;
		HttpRequestFinish(req);
		if (req->suspended)
		{
			HttpWaitingRemove(req);
			req->suspended = false;
			MHD_resume_connection(req->conn);
		}
	}
	return any;
}

double
HttpExpireWaiting(double max_wait)
{
	double now = HttpNow();
	double next = max_wait;
	HttpRequest *req = waiting_head;

	/* A short list (requests in flight); ordered by suspension, not start: scan it all. */
	while (req)
	{
		HttpRequest *nreq = req->wnext;
		double left = max_wait - (now - req->started);

		if (left > 0)
		{
			if (left < next)
				next = left;
			req = nreq;
			continue;
		}
		HttpWaitingRemove(req);
		req->expired = true;
		HttpSetDetail(req, MHD_HTTP_SERVICE_UNAVAILABLE,
					  "no acknowledgement within %.0f s; the pin may not have been stored, retry "
					  "later",
					  max_wait);
		req->retry_after = 1;
		req->suspended = false;
		MHD_resume_connection(req->conn);
		req = nreq;
	}
	return next;
}
