/*
 * http_request.h — one HTTP request of the ingestion worker, from the first
 * header to the answer, and the hand-offs between the modules that serve it.
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

#include "pin_json.h"

typedef enum HttpEndpoint
{
	HTTP_EP_PIN = 0,
	HTTP_EP_PINS,
	HTTP_EP_HEALTHZ,
	HTTP_EP_METRICS,
	HTTP_EP_OTHER,
	HTTP_EP_COUNT
} HttpEndpoint;

typedef enum HttpRecordOutcome
{
	HTTP_REC_PENDING = 0,
	HTTP_REC_ACCEPTED,	 /* durably in the pipeline (committed or acknowledged) */
	HTTP_REC_REJECTED,	 /* failed validation, or dead-lettered at insert: see detail */
	HTTP_REC_UNAVAILABLE /* not stored: database or broker unavailable (503) */
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
	char *key;			/* Kafka message key (unique_id), malloc'd */
	size_t keylen;
} HttpRecord;

typedef struct HttpRequest
{
	struct MHD_Connection *conn;
	HttpEndpoint endpoint;
	double started; /* monotonic seconds */

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

	struct HttpRequest *next; /* on a work or ready list */
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

/* Resume every readied request so libmicrohttpd sends its answer; true if any. */
extern bool HttpResumeReady(void);

/* Free a request whose connection is gone once nothing refers to it any more. */
extern void HttpRequestRelease(HttpRequest *req);

/* Monotonic clock in seconds. */
extern double HttpNow(void);

/*
 * Embedded mode (http_worker.c): queue a request's valid records for the next
 * transaction. Returns false if the database side is known to be unavailable.
 */
extern bool HttpEmbeddedEnqueue(HttpRequest *req);

/*
 * Connection bookkeeping (http_worker.c): a connection must deliver a complete
 * request header within pinpipe.http_timeout of opening or of its previous
 * request, however slowly it trickles bytes; the worker closes it otherwise.
 */
extern void HttpConnRequestStarted(struct MHD_Connection *conn);
extern void HttpConnRequestDone(struct MHD_Connection *conn);

/* Health as seen by the worker: NULL when healthy, else why not (static text). */
extern const char *HttpHealthProblem(void);

/* True in Kafka mode (pinpipe.kafka_brokers set). */
extern bool HttpKafkaMode(void);

#endif /* HTTP_REQUEST_H */
