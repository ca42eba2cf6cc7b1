/*
 * worker_status.h — shared-memory status of every pinpipe background worker.
 *
 * One slot per worker (consumers and the HTTP worker). A worker owns its slot:
 * only it writes the slot's fields, under the slot's spinlock; anyone may read a
 * consistent copy with WorkerStatusSnapshot (pinpipe.status(), /metrics).
 * Exists only when pinpipe is preloaded; without it the functions are no-ops
 * and snapshots are empty.
 */
#ifndef WORKER_STATUS_H
#define WORKER_STATUS_H

#include "postgres.h"

#include "datatype/timestamp.h"
#include "storage/spin.h"

#define WORKER_STATUS_MAX_WORKERS 80
#define WORKER_STATUS_MAX_PARTITIONS 128 /* partitions tracked per consumer */
#define WORKER_STATUS_STATE_LEN 64
#define WORKER_STATUS_ERROR_LEN 256
#define WORKER_STATUS_TOPIC_LEN 128

/* Upper bounds (seconds) of the batch-duration histogram buckets; +Inf is implied. */
#define WORKER_STATUS_NBUCKETS 12
extern const double worker_status_bucket_bounds[WORKER_STATUS_NBUCKETS];

/*
 * Upper bounds (seconds) of the ingest-lag histogram (commit time minus a Kafka
 * message's timestamp or an HTTP request's arrival); 0.02 is issue 12's p99 goal.
 */
#define WORKER_STATUS_LAG_NBUCKETS 16
extern const double worker_status_lag_bounds[WORKER_STATUS_LAG_NBUCKETS];

typedef enum WorkerKind
{
	WORKER_KIND_NONE = 0,
	WORKER_KIND_CONSUMER,
	WORKER_KIND_HTTP
} WorkerKind;

/* One assigned partition (a topic name longer than WORKER_STATUS_TOPIC_LEN - 1 is cut). */
typedef struct WorkerPartitionStatus
{
	char topic[WORKER_STATUS_TOPIC_LEN];
	int32 partition;
	int64 committed_offset; /* next offset to read, as committed in PostgreSQL */
	int64 high_watermark;	/* broker's end of the partition; -1 unknown */
	bool paused;			/* stopped by pinpipe.offset_out_of_range = pause */
} WorkerPartitionStatus;

/* Messages a consumer skipped over offset gaps in one partition (since it started). */
typedef struct WorkerSkippedStatus
{
	char topic[WORKER_STATUS_TOPIC_LEN];
	int32 partition;
	int64 skipped;
} WorkerSkippedStatus;

typedef struct WorkerStatus
{
	slock_t mutex;
	WorkerKind kind; /* NONE: slot free */
	int number;		 /* 0.. within its kind */
	pid_t pid;
	TimestampTz started_at;
	char state[WORKER_STATUS_STATE_LEN]; /* e.g. "consuming", "broker unreachable" */
	int64 rows;							 /* messages accepted */
	int64 dead_letters;					 /* messages dead-lettered */
	int64 batches;						 /* transactions committed */
	int64 errors;						 /* batches that failed and were retried */
	char last_error[WORKER_STATUS_ERROR_LEN];
	TimestampTz last_error_at; /* 0 if never */
	/* batch sizes and durations (Prometheus histogram, cumulative on output) */
	int64 batch_rows_total;
	double batch_seconds_sum;
	int64 batch_seconds_buckets[WORKER_STATUS_NBUCKETS + 1];
	/* ingest lag of committed batches (consumer) or requests (HTTP worker) */
	int64 lag_buckets[WORKER_STATUS_LAG_NBUCKETS + 1];
	int64 lag_count;
	double lag_seconds_sum;
	double last_lag_seconds; /* the latest observation; < 0 before the first */
	/* consumers: their assigned partitions, and their topics comma-separated (cut to fit) */
	char topic[WORKER_STATUS_TOPIC_LEN];
	int npartitions;
	WorkerPartitionStatus partitions[WORKER_STATUS_MAX_PARTITIONS];
	/* consumers: every partition with skipped messages (kafka_gaps.c) */
	int nskipped;
	WorkerSkippedStatus skipped[WORKER_STATUS_MAX_PARTITIONS];
	/* consumers: fetch restarts not seen to settle, gone ahead on their time bound */
	int64 settle_timeouts;
} WorkerStatus;

/* Called from _PG_init while preloading: requests and sets up the shared memory. */
extern void WorkerStatusInit(void);

/* Claim a slot for this process (released automatically at exit); NULL if none. */
extern WorkerStatus *WorkerStatusAttach(WorkerKind kind, int number);

/* Set the state text (logged by the caller, not here); cheap, no allocation. */
extern void WorkerStatusSetState(WorkerStatus *ws, const char *state);

/* Record an error message and its time, and count it. */
extern void WorkerStatusSetError(WorkerStatus *ws, const char *message);

/* Count a committed batch: its accepted rows, dead letters and duration. */
extern void WorkerStatusBatchDone(WorkerStatus *ws, int64 rows, int64 dead_letters, double seconds);

/*
 * Record the ingest lag of n committed units (one per HTTP request, one per
 * Kafka message), in seconds; negative values (no timestamp known) are
 * skipped. latest, unless negative, becomes the worker's latest lag
 * (pinpipe.workers.ingest_lag_seconds).
 */
extern void WorkerStatusIngestLag(WorkerStatus *ws, const double *seconds, int n, double latest);

/*
 * Replace the consumer's partition list (after assignment or a lag refresh);
 * the slot's topic becomes the list of their distinct topics.
 */
extern void WorkerStatusSetPartitions(WorkerStatus *ws, const WorkerPartitionStatus *parts,
									  int nparts);

/* Count messages skipped over an offset gap of a partition. */
extern void WorkerStatusAddSkipped(WorkerStatus *ws, const char *topic, int32 partition,
								   int64 skipped);

/* Count a consumer's assignment change that went ahead without seeing the last restart settle. */
extern void WorkerStatusSettleTimeout(WorkerStatus *ws);

/* Copy the used slots into out (at most max); returns how many. Safe from any backend. */
extern int WorkerStatusSnapshot(WorkerStatus *out, int max);

extern const char *WorkerKindName(WorkerKind kind);

#endif /* WORKER_STATUS_H */
