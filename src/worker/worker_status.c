/*
 * worker_status.c — shared-memory status slots of the pinpipe background workers
 * (worker_status.h).
 *
 * Concurrency: the array of slots is set up once by the postmaster. A worker
 * claims a free slot under WorkerStatusLock (the array's own spinlock), then is
 * the only writer of that slot and writes it under the slot's spinlock; readers
 * copy a slot under the same spinlock. Spinlocks are held only for memcpy-sized
 * work. The slot is given back in an on_shmem_exit callback, so a worker that
 * exits (or errors out) never leaks it; a crash of any backend reinitialises
 * shared memory anyway.
 */
#include "postgres.h"

#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/timestamp.h"

#include "worker_status.h"

const double worker_status_bucket_bounds[WORKER_STATUS_NBUCKETS] = {
	0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0};

const double worker_status_lag_bounds[WORKER_STATUS_LAG_NBUCKETS] = {
	0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0};

typedef struct WorkerStatusShared
{
	slock_t mutex; /* protects slot claiming (kind NONE <-> other) */
	WorkerStatus slots[WORKER_STATUS_MAX_WORKERS];
} WorkerStatusShared;

static WorkerStatusShared *worker_status_shared = NULL;
static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;
static WorkerStatus *my_slot = NULL;

/* Reserve our shared memory (PG15: only allowed from shmem_request_hook). */
static void
WorkerStatusShmemRequest(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(MAXALIGN(sizeof(WorkerStatusShared)));
}

/* Attach to (or create and initialise) the slot array. */
static void
WorkerStatusShmemStartup(void)
{
	bool found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	worker_status_shared =
		ShmemInitStruct("pinpipe worker status", sizeof(WorkerStatusShared), &found);
	if (!found)
	{
		memset(worker_status_shared, 0, sizeof(WorkerStatusShared));
		SpinLockInit(&worker_status_shared->mutex);
		for (int i = 0; i < WORKER_STATUS_MAX_WORKERS; i++)
			SpinLockInit(&worker_status_shared->slots[i].mutex);
	}
	LWLockRelease(AddinShmemInitLock);
}

void
WorkerStatusInit(void)
{
	if (!process_shared_preload_libraries_in_progress)
		return;
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = WorkerStatusShmemRequest;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = WorkerStatusShmemStartup;
}

/* Give the slot back when this process exits. */
static void
WorkerStatusDetach(int code, Datum arg)
{
	WorkerStatus *ws = (WorkerStatus *) DatumGetPointer(arg);

	SpinLockAcquire(&worker_status_shared->mutex);
	SpinLockAcquire(&ws->mutex);
	ws->kind = WORKER_KIND_NONE;
	ws->pid = 0;
	SpinLockRelease(&ws->mutex);
	SpinLockRelease(&worker_status_shared->mutex);
	my_slot = NULL;
}

WorkerStatus *
WorkerStatusAttach(WorkerKind kind, int number)
{
	WorkerStatus *ws = NULL;

	if (worker_status_shared == NULL)
		return NULL;
	if (my_slot != NULL)
		return my_slot;

	SpinLockAcquire(&worker_status_shared->mutex);
	for (int i = 0; i < WORKER_STATUS_MAX_WORKERS; i++)
	{
		WorkerStatus *s = &worker_status_shared->slots[i];

		if (s->kind == WORKER_KIND_NONE)
		{
			SpinLockAcquire(&s->mutex);
			/* Everything but the spinlock starts from zero. */
			memset((char *) s + offsetof(WorkerStatus, kind), 0,
				   sizeof(WorkerStatus) - offsetof(WorkerStatus, kind));
			s->kind = kind;
			s->number = number;
			s->pid = MyProcPid;
			s->started_at = GetCurrentTimestamp();
			s->last_lag_seconds = -1;
			strlcpy(s->state, "starting", sizeof(s->state));
			SpinLockRelease(&s->mutex);
			ws = s;
			break;
		}
	}
	SpinLockRelease(&worker_status_shared->mutex);

	if (ws != NULL)
	{
		my_slot = ws;
		on_shmem_exit(WorkerStatusDetach, PointerGetDatum(ws));
	}
	return ws;
}

void
WorkerStatusSetState(WorkerStatus *ws, const char *state)
{
	if (ws == NULL)
		return;
	SpinLockAcquire(&ws->mutex);
	strlcpy(ws->state, state, sizeof(ws->state));
	SpinLockRelease(&ws->mutex);
}

void
WorkerStatusSetError(WorkerStatus *ws, const char *message)
{
	TimestampTz now;

	if (ws == NULL)
		return;
	now = GetCurrentTimestamp();
	SpinLockAcquire(&ws->mutex);
	strlcpy(ws->last_error, message ? message : "", sizeof(ws->last_error));
	ws->last_error_at = now;
	ws->errors++;
	SpinLockRelease(&ws->mutex);
}

/* The histogram bucket of a value: the first bound it does not exceed, else +Inf. */
static int
WorkerStatusBucket(const double *bounds, int nbounds, double v)
{
	for (int i = 0; i < nbounds; i++)
		if (v <= bounds[i])
			return i;
	return nbounds;
}

void
WorkerStatusBatchDone(WorkerStatus *ws, int64 rows, int64 dead_letters, double seconds)
{
	int bucket = WorkerStatusBucket(worker_status_bucket_bounds, WORKER_STATUS_NBUCKETS, seconds);

	if (ws == NULL)
		return;
	SpinLockAcquire(&ws->mutex);
	ws->rows += rows;
	ws->dead_letters += dead_letters;
	ws->batches++;
	ws->batch_rows_total += rows + dead_letters;
	ws->batch_seconds_sum += seconds;
	ws->batch_seconds_buckets[bucket]++;
	SpinLockRelease(&ws->mutex);
}

void
WorkerStatusIngestLag(WorkerStatus *ws, const double *seconds, int n, double latest)
{
	int64 counts[WORKER_STATUS_LAG_NBUCKETS + 1] = {0};
	int64 count = 0;
	double sum = 0;

	if (ws == NULL)
		return;
	/* bucketed outside the spinlock, which then guards only the additions */
	for (int i = 0; i < n; i++)
	{
		if (seconds[i] < 0)
			continue;
		counts[WorkerStatusBucket(worker_status_lag_bounds, WORKER_STATUS_LAG_NBUCKETS,
								  seconds[i])]++;
		count++;
		sum += seconds[i];
	}
	if (count == 0)
		return;
	SpinLockAcquire(&ws->mutex);
	for (int b = 0; b <= WORKER_STATUS_LAG_NBUCKETS; b++)
		ws->lag_buckets[b] += counts[b];
	ws->lag_count += count;
	ws->lag_seconds_sum += sum;
	if (latest >= 0)
		ws->last_lag_seconds = latest;
	SpinLockRelease(&ws->mutex);
}

/* The distinct topics of parts, comma-separated in order of appearance, cut to fit out. */
static void
WorkerStatusTopicList(const WorkerPartitionStatus *parts, int nparts, char *out, size_t size)
{
	size_t used = 0;

	out[0] = '\0';
	for (int i = 0; i < nparts; i++)
	{
		bool seen = false;

		for (int j = 0; j < i && !seen; j++)
			seen = strcmp(parts[j].topic, parts[i].topic) == 0;
		if (seen)
			continue;
		if (used > 0 && used + 1 < size)
			out[used++] = ',';
		used += strlcpy(out + used, parts[i].topic, size - used);
		if (used >= size)
			break;
	}
	out[Min(used, size - 1)] = '\0';
}

void
WorkerStatusSetPartitions(WorkerStatus *ws, const WorkerPartitionStatus *parts, int nparts)
{
	char topics[WORKER_STATUS_TOPIC_LEN];

	if (ws == NULL)
		return;
	if (nparts > WORKER_STATUS_MAX_PARTITIONS)
		nparts = WORKER_STATUS_MAX_PARTITIONS;
	WorkerStatusTopicList(parts, nparts, topics, sizeof(topics));
	SpinLockAcquire(&ws->mutex);
	strlcpy(ws->topic, topics, sizeof(ws->topic));
	ws->npartitions = nparts;
	if (nparts > 0)
		memcpy(ws->partitions, parts, nparts * sizeof(WorkerPartitionStatus));
	SpinLockRelease(&ws->mutex);
}

void
WorkerStatusAddSkipped(WorkerStatus *ws, const char *topic, int32 partition, int64 skipped)
{
	char name[WORKER_STATUS_TOPIC_LEN];
	int i;

	if (ws == NULL)
		return;
	strlcpy(name, topic, sizeof(name));
	SpinLockAcquire(&ws->mutex);
	for (i = 0; i < ws->nskipped; i++)
		if (ws->skipped[i].partition == partition && strcmp(ws->skipped[i].topic, name) == 0)
			break;
	if (i == ws->nskipped && i < WORKER_STATUS_MAX_PARTITIONS)
	{
		memcpy(ws->skipped[i].topic, name, sizeof(name));
		ws->skipped[i].partition = partition;
		ws->skipped[i].skipped = 0;
		ws->nskipped++;
	}
	if (i < ws->nskipped)
		ws->skipped[i].skipped += skipped;
	SpinLockRelease(&ws->mutex);
}

void
WorkerStatusSettleTimeout(WorkerStatus *ws)
{
	if (ws == NULL)
		return;
	SpinLockAcquire(&ws->mutex);
	ws->settle_timeouts++;
	SpinLockRelease(&ws->mutex);
}

int
WorkerStatusSnapshot(WorkerStatus *out, int max)
{
	int n = 0;

	if (worker_status_shared == NULL)
		return 0;
	for (int i = 0; i < WORKER_STATUS_MAX_WORKERS && n < max; i++)
	{
		WorkerStatus *s = &worker_status_shared->slots[i];

		SpinLockAcquire(&s->mutex);
		if (s->kind != WORKER_KIND_NONE)
			memcpy(&out[n++], s, sizeof(WorkerStatus));
		SpinLockRelease(&s->mutex);
	}
	return n;
}

const char *
WorkerKindName(WorkerKind kind)
{
	switch (kind)
	{
		case WORKER_KIND_CONSUMER:
			return "consumer";
		case WORKER_KIND_HTTP:
			return "http";
		case WORKER_KIND_NONE:
			break;
	}
	return "none";
}
