/*
 * sink.h — the one write path into the pipeline's tables.
 *
 * Every source (SQL ingest(), the HTTP worker, the Kafka consumer) hands its
 * messages to SinkWriteBatch, which in the caller's transaction writes the raw
 * log, the cleaned rows, the live per-minute aggregates and a dead letter for
 * every message that cannot be accepted. A bad message never fails or drops
 * the good ones beside it: unparseable ones are dead-lettered at once, and a
 * message that fails at insert time (a constraint, a trigger) is isolated by
 * bisection in subtransactions and dead-lettered with its SQLSTATE.
 *
 * It is the one door for dead letters too: a source that refused a message
 * itself (the consumer's oversize messages) hands it over pre-rejected, with
 * its error. A source that already parsed and validated a message (the HTTP
 * worker, before it answers) hands over the PinRecord, which is not parsed again.
 *
 * Errors that are not about a record (out of disk, lock timeout, serialization,
 * shutdown) propagate: the caller's transaction is then to be rolled back and
 * the batch retried as a whole.
 */
#ifndef SINK_H
#define SINK_H

#include "postgres.h"

#include "pin_json.h"

typedef enum SinkSource
{
	SINK_SOURCE_SQL = 0,
	SINK_SOURCE_HTTP,
	SINK_SOURCE_KAFKA
} SinkSource;

typedef enum SinkOutcome
{
	SINK_PENDING = 0,
	SINK_ACCEPTED,
	SINK_DEAD_LETTERED
} SinkOutcome;

/* How a message arrives. */
typedef enum SinkInput
{
	SINK_INPUT_RAW = 0,	  /* parse and validate it here */
	SINK_INPUT_VALIDATED, /* record is what PinParse accepted for data: cleaned, not parsed again */
	SINK_INPUT_REJECTED	  /* refused by the source: dead-letter it with error/field/sqlstate */
} SinkInput;

/*
 * Which record a message is (DESIGN §10): its model, its cleaned table
 * (pins, geo, users) and its raw_pins.stream / dead_letters.stream value.
 */
typedef enum SinkStream
{
	SINK_STREAM_PIN = 0,
	SINK_STREAM_GEO,
	SINK_STREAM_USER,
	SINK_NSTREAMS
} SinkStream;

/* One message in, its outcome out. A zeroed message is a raw pin. */
typedef struct SinkMessage
{
	/* in */
	const char *data; /* the payload exactly as received; need not be NUL-terminated */
	size_t len;
	const char *topic; /* Kafka coordinates; topic NULL for other sources */
	int32 partition;
	int64 offset;
	SinkInput input;
	SinkStream stream;
	const PinRecord *record; /* SINK_INPUT_VALIDATED: its slices point into data or the
							  * caller's scratch, which must outlive the call */
	bool truncated;			 /* SINK_INPUT_REJECTED: data is only the start of the message
							  * (kept as payload_bytes, never as payload text) */
	/* out; in as well for SINK_INPUT_REJECTED (error and sqlstate required) */
	SinkOutcome outcome;
	const char *error;	  /* why it was dead-lettered (palloc'd in the caller's context) */
	const char *field;	  /* the field at fault, or NULL */
	const char *sqlstate; /* five characters */
	int64 raw_id;		  /* out, accepted: its pinpipe.raw_pins.id */
} SinkMessage;

typedef struct SinkCounts
{
	int64 accepted;
	int64 dead_lettered;
} SinkCounts;

/* The stream of a name ('pin', 'geo', 'user'); false if it is none of them. */
extern bool SinkStreamFromName(const char *name, size_t len, SinkStream *stream);

/* Extension installed and usable in this database (not being created/dropped). */
extern bool SinkReady(void);

/*
 * Write a batch. Needs a transaction with an active snapshot; raises an error
 * (SQLSTATE 55000) if the pinpipe extension is not installed in this database.
 * Per-message outcomes are written into msgs[]; totals are added to *counts.
 */
extern void SinkWriteBatch(SinkSource source, SinkMessage *msgs, int nmsgs, SinkCounts *counts);

#endif /* SINK_H */
