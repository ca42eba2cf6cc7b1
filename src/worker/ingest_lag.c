/*
 * ingest_lag.c — the ingest lag of a committed Kafka batch (see ingest_lag.h).
 *
 * Called by the consumer right after its commit, so "now" is the commit time.
 * One observation per batch, of its oldest message: the worst lag a row of the
 * batch had when it became visible. A producer clock ahead of ours would give a
 * negative difference; it counts as 0.
 */
#include "postgres.h"

#include "utils/timestamp.h"

#include "ingest_lag.h"

void
IngestLagKafkaBatch(WorkerStatus *ws, rd_kafka_message_t *const *msgs, int n)
{
	int64 oldest_ms = -1;
	int64 now_ms;
	double lag;

	for (int i = 0; i < n; i++)
	{
		rd_kafka_timestamp_type_t type;
		int64 ts = rd_kafka_message_timestamp(msgs[i], &type);

		if (ts >= 0 && type != RD_KAFKA_TIMESTAMP_NOT_AVAILABLE &&
			(oldest_ms < 0 || ts < oldest_ms))
			oldest_ms = ts;
	}
	if (oldest_ms < 0)
		return;
	/* TimestampTz counts microseconds from 2000-01-01; Kafka milliseconds from 1970 */
	now_ms = GetCurrentTimestamp() / 1000 +
			 (int64) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * SECS_PER_DAY * 1000;
	lag = now_ms > oldest_ms ? (now_ms - oldest_ms) / 1000.0 : 0.0;
	WorkerStatusIngestLag(ws, &lag, 1);
}
