/*
 * ingest_lag.h — the end-to-end lag of the rows of a committed Kafka batch
 * (DESIGN §10, pinpipe_ingest_lag_seconds{source="kafka"}): commit time minus
 * each message's timestamp, one observation per message, recorded in the
 * worker's status slot; its latest value is the batch's largest.
 * The HTTP worker records its own (commit time minus each request's arrival).
 */
#ifndef INGEST_LAG_H
#define INGEST_LAG_H

#include "postgres.h"

#include <librdkafka/rdkafka.h>

#include "worker_status.h"

/* Record the lags of a batch just committed; messages without a timestamp are ignored. */
extern void IngestLagKafkaBatch(WorkerStatus *ws, rd_kafka_message_t *const *msgs, int n);

#endif /* INGEST_LAG_H */
