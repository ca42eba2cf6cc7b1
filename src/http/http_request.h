/*
 * http_request.h — one HTTP request of the ingestion worker, from the first
 * header to the answer. Owns the request and record structs, the libmicrohttpd
 * callbacks, and HttpBackend: the interface through which the worker above
 * supplies storage, health and connection bookkeeping (this layer includes
 * nothing above it; the producer and the worker call down into it).
 *
 * Everything here runs in the HTTP worker's main thread: libmicrohttpd is
 * driven from the worker's WaitEventSet (no MHD threads) and librdkafka's
 * callbacks are served by rd_kafka_poll from the same loop. No function here
 * may raise a PostgreSQL error (they run inside libmicrohttpd and librdkafka
 * callbacks, which must not be longjmp'd out of), so memory is malloc'd.
 *
 * Lifetime: a request is created on the first access-handler call, suspended
 * while its pins are being made durable (PG commit or Kafka delivery reports),
 * resumed by the loop once the answer is known, and freed when both the
 * connection is done with it and no delivery report still points at it.
 */
#ifndef HTTP_REQUEST_H
#define HTTP_REQUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <microhttpd.h>

#include "http_endpoint.h"
#include "pin_json.h"

struct HttpBackend;

typedef enum HttpRecordOutcome
{
	HTTP_REC_PENDING = 0,
	HTTP_REC_ACCEPTED,	  /* durably in the pipeline (committed or acknowledged) */
	HTTP_REC_REJECTED,	  /* failed validation, or dead-lettered at insert: see detail */
	HTTP_REC_UNAVAILABLE, /* not stored: database or broker unavailable (503) */
	HTTP_REC_TOO_LARGE,	  /* over the Kafka producer's message size: can never be stored (413) */
	HTTP_REC_REFUSED	  /* can never be stored as asked (a partition that does not exist) */
} HttpRecordOutcome;

/* A parsed pin with the scratch its decoded strings live in (one malloc). */
typedef struct HttpPin
{
	PinRecord rec;
	char scratch[]; /* PIN_SCRATCH_SIZE(len) bytes */
} HttpPin;

/* One pin of a request. */
typedef struct HttpRecord
{
	struct HttpRequest *req; /* the request it belongs to */
	const char *data;		 /* raw JSON text, inside the request's body */
	size_t len;
	int index; /* position in the request (0-based) */
	HttpRecordOutcome outcome;
	char *detail;		/* rejected: FastAPI "detail" array (malloc'd JSON) */
	bool dead_lettered; /* rejected by the sink (a dead letter), not by validation */
	HttpPin *pin;		/* embedded mode: the validated pin, handed to the sink (malloc'd) */
	char *key;			/* Kafka message key (unique_id, or the client's), malloc'd */
	size_t keylen;
	int32_t partition;		  /* Kafka partition the client asked for; -1 = any */
	int32_t stored_partition; /* accepted: Kafka partition, or 0 in embedded mode */
	int64_t stored_offset;	  /* accepted: Kafka offset, or raw_pins.id in embedded mode */
	char *error;			  /* not accepted: why, as plain text (REST proxy, Kinesis), malloc'd */
} HttpRecord;

typedef struct HttpRequest
{
	const struct HttpBackend *backend; /* from libmicrohttpd's closure argument */
	struct MHD_Connection *conn;
	HttpEndpoint endpoint;
	double started; /* monotonic seconds */

	/* the stream the request's records are of, and where Kafka mode produces them */
	const RecordModel *model; /* NULL = pins */
	char *topic;			  /* NULL = pinpipe.topic; malloc'd */
	int content_format;		  /* REST proxy: a RestProxyFormat (http_restproxy.h) */

	/* body, accumulated while uploading */
	char *body;
	size_t len;
	size_t cap;
	bool too_large; /* over pinpipe.http_max_body: discard and answer 413 */
	bool oom;		/* out of memory while splitting: answer 503 */

	/* the pins, once parsed */
	int nrecords;
	HttpRecord *records;
	char *echo;		 /* POST /pin/: the validated pin as JSON */
	int pending;	 /* records waiting for commit / delivery report */
	int unavailable; /* records that could not be stored (503) */
	const char *unavailable_reason;

	/* the answer */
	bool suspended;
	bool answered;	/* response queued */
	bool conn_done; /* MHD finished with this request */
	int status;
	char *resp; /* malloc'd body */
	size_t resp_len;
	const char *resp_type; /* content type */
	const char *allow;	   /* 405: Allow header */
	int retry_after;	   /* 503: seconds, 0 = none */
	bool close;			   /* answer with Connection: close (framing errors, over a limit) */

	struct HttpRequest *next; /* on a work or ready list */

	/* while suspended: on the list of requests waiting for their answer */
	struct HttpRequest *wprev;
	struct HttpRequest *wnext;
	bool expired;			   /* answered 503 at the deadline; late outcomes only settle */
	struct HttpRequest *snext; /* handed over in this MHD_run, not yet suspended */
} HttpRequest;

/* libmicrohttpd callbacks (http_request.c). */
extern enum MHD_Result HttpAccessHandler(void *cls, struct MHD_Connection *conn, const char *url,
										 const char *method, const char *version,
										 const char *upload_data, size_t *upload_data_size,
										 void **con_cls);
extern void HttpRequestCompleted(void *cls, struct MHD_Connection *conn, void **con_cls,
								 enum MHD_RequestTerminationCode toe);

/* Called when a record's fate is known; once none is pending, the request is readied. */
extern void HttpRecordDone(HttpRequest *req, HttpRecord *rec, HttpRecordOutcome outcome,
						   const char *reason);

/* Build the answer of a request whose records are all settled (does not queue it). */
extern void HttpRequestFinish(HttpRequest *req);

/*
 * MHD_run, then suspend the connections of the requests handed over during it
 * (always run a daemon through this).
 */
extern void HttpRun(struct MHD_Daemon *daemon);

/* Resume every readied request so libmicrohttpd sends its answer; true if any. */
extern bool HttpResumeReady(void);

/*
 * Answer 503 + Retry-After to every request suspended for more than max_wait
 * seconds (Kafka mode: the bound docs/http.md gives, whatever librdkafka's
 * timers do); their records stay referenced by librdkafka until their delivery
 * reports, which then only settle them. Returns the seconds until the next such
 * deadline (max_wait when none is waiting).
 */
extern double HttpExpireWaiting(double max_wait);

/* Free a request whose connection is gone once nothing refers to it any more. */
extern void HttpRequestRelease(HttpRequest *req);

/* Monotonic clock in seconds. */
extern double HttpNow(void);

/*
 * What the request layer needs from the layer above it (the worker), handed in
 * as libmicrohttpd's closure argument (cls) of HttpAccessHandler and
 * HttpRequestCompleted: the request layer calls nothing above it, so it can be
 * driven by any backend (a test harness included). Every function gets ctx.
 */
typedef struct HttpBackend
{
	void *ctx;

	/*
	 * Make a request's pending records durable: embedded mode queues them for
	 * the next transaction, Kafka mode produces them. Each is later settled by
	 * HttpRecordDone. False, nothing handed over and *reason set: unavailable (503).
	 */
	bool (*submit)(void *ctx, HttpRequest *req, const char **reason);

	/* NULL when healthy, else why not (static text). */
	const char *(*health)(void *ctx);

	/* "embedded" or "kafka". */
	const char *(*mode)(void *ctx);

	/* Messages accepted but not yet acknowledged (Kafka producer queue; 0 in embedded mode). */
	int64_t (*queue_depth)(void *ctx);

	/*
	 * Does submit take each record's validated pin (HttpRecord.pin), so that it is
	 * not parsed again (embedded mode), or only the bytes (Kafka mode)?
	 */
	bool (*takes_pins)(void *ctx);

	/*
	 * Connection bookkeeping: a connection must deliver a complete request header
	 * within pinpipe.http_timeout of opening or of its previous request
	 * (request_started / request_done); a body that stops advancing while bytes
	 * wait unread is refused (body_progress: in_body false once it is complete);
	 * over_limit: the connection was accepted over a connection limit (503).
	 * request_done's answered: the answer was sent whole (not aborted).
	 */
	void (*request_started)(void *ctx, struct MHD_Connection *conn);
	void (*request_done)(void *ctx, struct MHD_Connection *conn, bool answered);
	void (*body_progress)(void *ctx, struct MHD_Connection *conn, bool in_body);
	bool (*over_limit)(void *ctx, struct MHD_Connection *conn);
} HttpBackend;

#endif /* HTTP_REQUEST_H */
