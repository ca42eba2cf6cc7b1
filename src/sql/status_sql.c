/*
 * status_sql.c — SQL functions over the workers' shared-memory status:
 * pinpipe.status() (one row per worker) and pinpipe.consumer_partitions()
 * (one row per partition assigned to a consumer). Both read a consistent copy
 * of every slot (WorkerStatusSnapshot) and return nothing when pinpipe is not
 * preloaded.
 */
#include "postgres.h"

#include "fmgr.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "worker_status.h"
#include "pg_compat.h"

PG_FUNCTION_INFO_V1(pinpipe_status);
PG_FUNCTION_INFO_V1(pinpipe_consumer_partitions);

#define STATUS_COLS 16 /* the last, ingest_lag_seconds, is new in 0.2.0 */
#define PARTITION_COLS 8

/* Consumer lag of one partition, or -1 when unknown. */
static int64
StatusPartitionLag(const WorkerPartitionStatus *p)
{
	if (p->high_watermark < 0 || p->committed_offset < 0)
		return -1;
	return p->high_watermark > p->committed_offset ? p->high_watermark - p->committed_offset : 0;
}

/* Copy every used slot into a palloc'd array. */
static WorkerStatus *
StatusSnapshot(int *n)
{
	WorkerStatus *slots = palloc(sizeof(WorkerStatus) * WORKER_STATUS_MAX_WORKERS);

	*n = WorkerStatusSnapshot(slots, WORKER_STATUS_MAX_WORKERS);
	return slots;
}

Datum
pinpipe_status(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	WorkerStatus *slots;
	int n;

	InitMaterializedSRF(fcinfo, 0);
	slots = StatusSnapshot(&n);
	for (int i = 0; i < n; i++)
	{
		WorkerStatus *w = &slots[i];
		Datum values[STATUS_COLS];
		bool nulls[STATUS_COLS];
		int64 lag = 0;
		bool lag_known = w->kind == WORKER_KIND_CONSUMER && w->npartitions > 0;

		memset(nulls, 0, sizeof(nulls));
		for (int p = 0; p < w->npartitions; p++)
		{
			int64 l = StatusPartitionLag(&w->partitions[p]);

			if (l < 0)
				lag_known = false;
			else
				lag += l;
		}
		values[0] = CStringGetTextDatum(WorkerKindName(w->kind));
		values[1] = Int32GetDatum(w->number);
		values[2] = Int32GetDatum((int32) w->pid);
		values[3] = CStringGetTextDatum(w->state);
		values[4] = Int64GetDatum(w->rows);
		values[5] = Int64GetDatum(w->dead_letters);
		values[6] = Int64GetDatum(w->batches);
		values[7] = Int64GetDatum(w->errors);
		values[8] = CStringGetTextDatum(w->last_error);
		nulls[8] = w->last_error[0] == '\0';
		values[9] = TimestampTzGetDatum(w->last_error_at);
		nulls[9] = w->last_error_at == 0;
		values[10] = TimestampTzGetDatum(w->started_at);
		values[11] = CStringGetTextDatum(w->topic);
		nulls[11] = w->topic[0] == '\0';
		values[12] = Int32GetDatum(w->npartitions);
		nulls[12] = w->kind != WORKER_KIND_CONSUMER;
		values[13] = Int64GetDatum(lag);
		nulls[13] = !lag_known;
		values[14] = Int64GetDatum(w->batch_rows_total);
		/* absent from a 0.1.0 schema (library updated, ALTER EXTENSION UPDATE not run yet) */
		values[15] = Float8GetDatum(w->last_lag_seconds);
		nulls[15] = w->last_lag_seconds < 0;
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

Datum
pinpipe_consumer_partitions(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	WorkerStatus *slots;
	int n;

	InitMaterializedSRF(fcinfo, 0);
	slots = StatusSnapshot(&n);
	for (int i = 0; i < n; i++)
	{
		WorkerStatus *w = &slots[i];

		if (w->kind != WORKER_KIND_CONSUMER)
			continue;
		for (int p = 0; p < w->npartitions; p++)
		{
			WorkerPartitionStatus *ps = &w->partitions[p];
			Datum values[PARTITION_COLS];
			bool nulls[PARTITION_COLS];
			int64 lag = StatusPartitionLag(ps);

			memset(nulls, 0, sizeof(nulls));
			values[0] = Int32GetDatum(w->number);
			values[1] = Int32GetDatum((int32) w->pid);
			values[2] = CStringGetTextDatum(ps->topic);
			values[3] = Int32GetDatum(ps->partition);
			values[4] = Int64GetDatum(ps->committed_offset);
			nulls[4] = ps->committed_offset < 0;
			values[5] = Int64GetDatum(ps->high_watermark);
			nulls[5] = ps->high_watermark < 0;
			values[6] = Int64GetDatum(lag);
			nulls[6] = lag < 0;
			values[7] = BoolGetDatum(ps->paused);
			tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
		}
	}
	return (Datum) 0;
}
