/*
 * ingest_lag.c — the ingest lag of the rows of a committed Kafka batch (see
 * ingest_lag.h).
 *
 * Called by the consumer right after its commit, so "now" is the commit time.
 * One observation per message: the lag its row had when it became visible,
 * which is what the end-to-end goal measures (docs/kafka.md, "Latency"). The
 * worker's status shows the batch's worst row as its latest lag. A producer
 * clock ahead of ours would give a
 * negative difference; it counts as 0.
 */
#include "postgres.h"

#include "utils/timestamp.h"

#include "ingest_lag.h"

void
IngestLagKafkaBatch(WorkerStatus *ws, rd_kafka_message_t *const *msgs, int n)
{
	double *lags;
	int64 now_ms;
	double worst = -1;

	if (n <= 0)
		return;
	/* TimestampTz counts microseconds from 2000-01-01; Kafka milliseconds from 1970 */
	now_ms = GetCurrentTimestamp() / 1000 +
			 (int64) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * SECS_PER_DAY * 1000;
	lags = palloc(sizeof(double) * n);
	for (int i = 0; i < n; i++)
	{
		rd_kafka_timestamp_type_t type;
		int64 ts = rd_kafka_message_timestamp(msgs[i], &type);

		/* negative: no timestamp, ignored by WorkerStatusIngestLag */
		lags[i] = -1;
		if (ts < 0 || type == RD_KAFKA_TIMESTAMP_NOT_AVAILABLE)
			continue;
		lags[i] = now_ms > ts ? (now_ms - ts) / 1000.0 : 0.0;
		worst = Max(worst, lags[i]);
	}
	WorkerStatusIngestLag(ws, lags, n, worst);
	pfree(lags);
}
