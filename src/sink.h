/*
 * sink.h — the one write path into the pipeline's tables.
 *
 * Every source (SQL ingest(), the HTTP worker, the Kafka consumer) hands raw
 * messages to SinkWriteBatch, which in the caller's transaction writes the raw
 * log, the cleaned rows, the live per-minute aggregates and a dead letter for
 * every message that cannot be accepted. A bad message never fails or drops
 * the good ones beside it: unparseable ones are dead-lettered at once, and a
 * message that fails at insert time (a constraint, a trigger) is isolated by
 * bisection in subtransactions and dead-lettered with its SQLSTATE.
 *
 * Errors that are not about a record (out of disk, lock timeout, serialization,
 * shutdown) propagate: the caller's transaction is then to be rolled back and
 * the batch retried as a whole.
 */
#ifndef SINK_H
#define SINK_H

#include "postgres.h"

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

/* One message in, its outcome out. */
typedef struct SinkMessage
{
	/* in */
	const char *data; /* the payload exactly as received; need not be NUL-terminated */
	size_t len;
	const char *topic; /* Kafka coordinates; topic NULL for other sources */
	int32 partition;
	int64 offset;
	/* out */
	SinkOutcome outcome;
	const char *error;	  /* why it was dead-lettered (palloc'd in the caller's context) */
	const char *field;	  /* the field at fault, or NULL */
	const char *sqlstate; /* five characters */
} SinkMessage;

typedef struct SinkCounts
{
	int64 accepted;
	int64 dead_lettered;
} SinkCounts;

/* Extension installed and usable in this database (not being created/dropped). */
extern bool SinkReady(void);

/*
 * Write a batch. Needs a transaction with an active snapshot; raises an error
 * (SQLSTATE 55000) if the pinpipe extension is not installed in this database.
 * Per-message outcomes are written into msgs[]; totals are added to *counts.
 */
extern void SinkWriteBatch(SinkSource source, SinkMessage *msgs, int nmsgs, SinkCounts *counts);

#endif /* SINK_H */
