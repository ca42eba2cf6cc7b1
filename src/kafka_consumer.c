/*
 * kafka_consumer.c — the Kafka consumer background workers: Kafka → sink,
 * exactly once.
 *
 * Each worker joins consumer group pinpipe.consumer_group on pinpipe.topic and
 * runs one event loop (DESIGN §8): a WaitEventSet over its latch, postmaster
 * death and a pipe that librdkafka writes to when the consumer queue goes from
 * empty to non-empty (rd_kafka_queue_io_event_enable). librdkafka is only ever
 * called with a zero timeout from the loop, so SIGTERM and SIGHUP are handled
 * at once.
 *
 * Exactly-once: a batch (pinpipe.batch_size messages or pinpipe.batch_timeout_ms)
 * is one transaction that stores the partitions' next offsets in
 * pinpipe.kafka_offsets (fenced, see consumer_offsets.c) and writes the messages
 * through SinkWriteBatch. On assignment the worker reads the stored offsets and
 * starts there. Offsets go to Kafka only after the commit, asynchronously, for
 * lag tools; PostgreSQL is the source of truth. On revocation the messages not
 * yet written are dropped (their offsets were never stored, so the partition's
 * next owner reads them again); a batch is never in flight during a rebalance
 * because rebalance callbacks only run inside rd_kafka_consumer_poll, which is
 * never called while a transaction is open.
 *
 * Threads: librdkafka's own threads never call into PostgreSQL. The callbacks
 * below (rebalance, error, stats) run on this process's main thread from
 * rd_kafka_consumer_poll, and only set static state: no palloc, elog or SPI.
 * Everything that needs PostgreSQL happens in the loop after the poll returns.
 *
 * Failures: a database error rolls the batch back and retries it with
 * exponential backoff (the messages stay in memory); record-level failures are
 * isolated into dead letters by the sink. The extension missing or dropped
 * makes the worker idle (checking every few seconds) instead of exiting.
 */
#include "postgres.h"

#include <fcntl.h>
#include <unistd.h>

#include "access/xact.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "tcop/tcopprot.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include <librdkafka/rdkafka.h>

#include "consumer_offsets.h"
#include "guc.h"
#include "kafka_config.h"
#include "kafka_consumer.h"
#include "pg_compat.h"
#include "sink.h"
#include "worker_status.h"

#define CONSUMER_IDLE_CHECK_MS 5000 /* extension check while idle */
#define CONSUMER_TICK_MS 1000		/* status refresh when nothing happens */
#define CONSUMER_BACKOFF_MIN_MS 100
#define CONSUMER_BACKOFF_MAX_MS 30000
#define CONSUMER_DEAD_LETTER_KEEP 1024 /* bytes kept of an oversize message */
#define CONSUMER_STATE_LEN WORKER_STATUS_STATE_LEN

/* One assigned partition: where PostgreSQL says we are. */
typedef struct ConsumerPartition
{
	int32 partition;
	int64 stored; /* next offset stored in PostgreSQL, or NONE */
} ConsumerPartition;

/* librdkafka handle and its wakeup pipe (fds owned by this process). */
static rd_kafka_t *consumer_rk = NULL;
static rd_kafka_queue_t *consumer_queue = NULL;
static int consumer_pipe[2] = {-1, -1};
static WorkerStatus *consumer_ws = NULL;
static int consumer_number = 0;
static char consumer_state[CONSUMER_STATE_LEN] = "";

/* Current assignment (topic pinpipe.topic). */
static ConsumerPartition consumer_parts[WORKER_STATUS_MAX_PARTITIONS];
static int consumer_nparts = 0;

/* Set by the callbacks, consumed by the loop (same thread, no locking needed). */
static rd_kafka_topic_partition_list_t *pending_assignment = NULL;
static bool revoked = false;
static bool kafka_error_pending = false;
static char kafka_error[256];
static char kafka_error_logged[256];
static int brokers_up = -1; /* from the last statistics: -1 unknown, 0 none, 1 some */

/* The batch being filled: librdkafka owns the messages until written. */
static rd_kafka_message_t **batch = NULL;
static int batch_len = 0;
static int batch_cap = 0;
static TimestampTz batch_deadline = 0;
static TimestampTz retry_at = 0;
static int backoff_ms = 0;
static bool fence_failed = false;
static MemoryContext batch_context = NULL;

/* Set state text; log it when it changes (once per state change). */
static void
ConsumerSetState(const char *state, const char *detail)
{
	if (strcmp(consumer_state, state) == 0)
		return;
	strlcpy(consumer_state, state, sizeof(consumer_state));
	WorkerStatusSetState(consumer_ws, state);
	if (detail)
		ereport(LOG, (errmsg("pinpipe consumer %d: %s", consumer_number, state),
					  errdetail_internal("%s", detail)));
	else
		ereport(LOG, (errmsg("pinpipe consumer %d: %s", consumer_number, state)));
}

/*
 * Rebalance callback (main thread, from rd_kafka_consumer_poll). A new
 * assignment is only recorded: the loop reads the stored offsets and calls
 * rd_kafka_assign itself (librdkafka waits for that call). A revocation is
 * applied at once; the loop then drops the unwritten messages.
 */
static void
ConsumerOnRebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
					rd_kafka_topic_partition_list_t *partitions, void *opaque)
{
	if (pending_assignment)
	{
		rd_kafka_topic_partition_list_destroy(pending_assignment);
		pending_assignment = NULL;
	}
	if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS)
		pending_assignment = rd_kafka_topic_partition_list_copy(partitions);
	else
	{
		rd_kafka_assign(rk, NULL);
		revoked = true;
	}
}

/* Error callback (main thread): remembered for the loop to log. */
static void
ConsumerOnError(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
	snprintf(kafka_error, sizeof(kafka_error), "%s: %s",
			 rd_kafka_err2name((rd_kafka_resp_err_t) err), reason);
	kafka_error_pending = true;
	if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN)
		brokers_up = 0;
}

/*
 * Statistics callback (main thread): whether any real broker connection is up.
 * Brokers appear in the JSON as {"name":..,"nodeid":..,"nodename":..,
 * "source":"configured"|"learned"|"internal"|"logical","state":"UP",..}.
 */
static int
ConsumerOnStats(rd_kafka_t *rk, char *json, size_t json_len, void *opaque)
{
	const char *p = json;
	int up = 0;

	while ((p = strstr(p, "\"source\":\"")) != NULL)
	{
		p += strlen("\"source\":\"");
		if ((strncmp(p, "configured\"", 11) == 0 || strncmp(p, "learned\"", 8) == 0))
		{
			const char *st = strstr(p, "\"state\":\"");

			if (st && strncmp(st + strlen("\"state\":\""), "UP\"", 3) == 0)
				up = 1;
		}
	}
	brokers_up = up;
	return 0; /* librdkafka frees json */
}

/* Our librdkafka logs go nowhere: errors reach us through ConsumerOnError. */
static void
ConsumerOnLog(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
}

/* Drop the unwritten messages (after a revocation or a lost fence). */
static void
ConsumerDropBatch(void)
{
	for (int i = 0; i < batch_len; i++)
		rd_kafka_message_destroy(batch[i]);
	batch_len = 0;
	batch_deadline = 0;
	retry_at = 0;
	backoff_ms = 0;
}

/* Index of partition p in the assignment, or -1. */
static int
ConsumerFindPartition(int32 p)
{
	for (int i = 0; i < consumer_nparts; i++)
		if (consumer_parts[i].partition == p)
			return i;
	return -1;
}

/* Publish the assignment, stored offsets and high watermarks (cached, non-blocking). */
static void
ConsumerPublishPartitions(void)
{
	WorkerPartitionStatus st[WORKER_STATUS_MAX_PARTITIONS];

	for (int i = 0; i < consumer_nparts; i++)
	{
		int64_t lo = -1, hi = -1;

		st[i].partition = consumer_parts[i].partition;
		st[i].committed_offset = consumer_parts[i].stored;
		if (consumer_rk == NULL ||
			rd_kafka_get_watermark_offsets(consumer_rk, pinpipe_topic, consumer_parts[i].partition,
										   &lo, &hi) != RD_KAFKA_RESP_ERR_NO_ERROR)
			hi = -1;
		st[i].high_watermark = hi < 0 ? -1 : hi;
	}
	WorkerStatusSetPartitions(consumer_ws, pinpipe_topic, st, consumer_nparts);
}

/* Read the stored offsets of the current assignment (in its own transaction). */
static void
ConsumerReadStoredOffsets(void)
{
	int32 parts[WORKER_STATUS_MAX_PARTITIONS];
	int64 next[WORKER_STATUS_MAX_PARTITIONS];

	for (int i = 0; i < consumer_nparts; i++)
		parts[i] = consumer_parts[i].partition;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	SPI_connect();
	PushActiveSnapshot(GetTransactionSnapshot());
	pgstat_report_activity(STATE_RUNNING, "pinpipe consumer: reading stored offsets");
	if (!SinkReady())
		ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
						errmsg("extension \"pinpipe\" is not installed in database \"%s\"",
							   pinpipe_database)));
	ConsumerOffsetsRead(pinpipe_consumer_group, pinpipe_topic, parts, next, consumer_nparts);
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
	pgstat_report_activity(STATE_IDLE, NULL);

	for (int i = 0; i < consumer_nparts; i++)
		consumer_parts[i].stored = next[i];
}

/* Offsets to start from: the stored ones, else pinpipe.start_offset. */
static void
ConsumerSetStartOffsets(rd_kafka_topic_partition_list_t *list)
{
	for (int i = 0; i < list->cnt; i++)
	{
		int k = ConsumerFindPartition(list->elems[i].partition);

		if (k >= 0 && consumer_parts[k].stored != CONSUMER_OFFSET_NONE)
			list->elems[i].offset = consumer_parts[k].stored;
		else
			list->elems[i].offset = pinpipe_start_offset == PINPIPE_START_LATEST
										? RD_KAFKA_OFFSET_END
										: RD_KAFKA_OFFSET_BEGINNING;
	}
}

/* Take the assignment recorded by the rebalance callback: read offsets, assign. */
static void
ConsumerApplyAssignment(void)
{
	rd_kafka_topic_partition_list_t *list = pending_assignment;
	rd_kafka_resp_err_t err;
	int n = 0;

	for (int i = 0; i < list->cnt && n < WORKER_STATUS_MAX_PARTITIONS; i++)
	{
		if (strcmp(list->elems[i].topic, pinpipe_topic) != 0)
			continue;
		consumer_parts[n].partition = list->elems[i].partition;
		consumer_parts[n].stored = CONSUMER_OFFSET_NONE;
		n++;
	}
	consumer_nparts = n;

	ConsumerReadStoredOffsets(); /* may throw: the assignment stays pending */
	ConsumerSetStartOffsets(list);
	pending_assignment = NULL;
	err = rd_kafka_assign(consumer_rk, list);
	rd_kafka_topic_partition_list_destroy(list);
	if (err)
		ereport(WARNING, (errmsg("pinpipe consumer %d: could not take partition assignment: %s",
								 consumer_number, rd_kafka_err2str(err))));
	ereport(LOG, (errmsg("pinpipe consumer %d: assigned %d partition(s) of topic \"%s\"",
						 consumer_number, consumer_nparts, pinpipe_topic)));
	ConsumerPublishPartitions();
}

/* After a lost fence: reread the stored offsets and seek every partition there. */
static void
ConsumerReseek(void)
{
	rd_kafka_topic_partition_list_t *list;
	rd_kafka_error_t *error;

	ConsumerReadStoredOffsets();
	list = rd_kafka_topic_partition_list_new(consumer_nparts > 0 ? consumer_nparts : 1);
	for (int i = 0; i < consumer_nparts; i++)
		rd_kafka_topic_partition_list_add(list, pinpipe_topic, consumer_parts[i].partition);
	ConsumerSetStartOffsets(list);
	/* timeout 0: asynchronous; messages fetched from the old position are discarded */
	error = rd_kafka_seek_partitions(consumer_rk, list, 0);
	if (error)
		rd_kafka_error_destroy(error);
	rd_kafka_topic_partition_list_destroy(list);
}

/* Write the batch in one transaction; throws on any database error. */
static void
ConsumerWriteBatchTx(SinkCounts *counts)
{
	SinkMessage *msgs;
	int nmsgs = 0;
	int64 next[WORKER_STATUS_MAX_PARTITIONS];
	bool touched[WORKER_STATUS_MAX_PARTITIONS];
	int64 oversize = 0;

	memset(touched, 0, sizeof(touched));
	msgs = palloc0(sizeof(SinkMessage) * batch_len);

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	SPI_connect();
	PushActiveSnapshot(GetTransactionSnapshot());
	pgstat_report_activity(STATE_RUNNING, "pinpipe consumer: writing batch");

	for (int i = 0; i < batch_len; i++)
	{
		rd_kafka_message_t *m = batch[i];
		int k = ConsumerFindPartition(m->partition);

		if (k < 0) /* not ours any more: cannot happen after a revoke drop */
			elog(ERROR, "message from unassigned partition %d", (int) m->partition);
		if (!touched[k] || m->offset + 1 > next[k])
			next[k] = m->offset + 1;
		touched[k] = true;
	}

	/* Offsets first: the fence and the row locks come before any row is written. */
	for (int k = 0; k < consumer_nparts; k++)
	{
		if (!touched[k])
			continue;
		if (!ConsumerOffsetsStore(pinpipe_consumer_group, pinpipe_topic,
								  consumer_parts[k].partition, consumer_parts[k].stored, next[k]))
		{
			fence_failed = true;
			ereport(
				ERROR,
				(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
				 errmsg("offset of partition %d of topic \"%s\" was moved by another consumer",
						(int) consumer_parts[k].partition, pinpipe_topic),
				 errdetail(
					 "The batch is discarded and the partition reread from its stored offset.")));
		}
	}

	for (int i = 0; i < batch_len; i++)
	{
		rd_kafka_message_t *m = batch[i];

		if (m->len > (size_t) pinpipe_max_message_bytes)
		{
			char error[256];

			snprintf(error, sizeof(error),
					 "message of %zu bytes exceeds pinpipe.max_message_bytes (%d); its first %d "
					 "bytes are kept",
					 m->len, pinpipe_max_message_bytes, CONSUMER_DEAD_LETTER_KEEP);
			ConsumerDeadLetter(pinpipe_topic, m->partition, m->offset, m->payload, m->len,
							   CONSUMER_DEAD_LETTER_KEEP, error, "54000");
			oversize++;
			continue;
		}
		msgs[nmsgs].data = m->payload ? (const char *) m->payload : "";
		msgs[nmsgs].len = m->len;
		msgs[nmsgs].topic = pinpipe_topic;
		msgs[nmsgs].partition = m->partition;
		msgs[nmsgs].offset = m->offset;
		nmsgs++;
	}
	if (nmsgs > 0)
		SinkWriteBatch(SINK_SOURCE_KAFKA, msgs, nmsgs, counts);
	counts->dead_lettered += oversize;

	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
	pgstat_report_stat(false);
	pgstat_report_activity(STATE_IDLE, NULL);

	/* Committed: these are now the stored offsets. */
	for (int k = 0; k < consumer_nparts; k++)
		if (touched[k])
			consumer_parts[k].stored = next[k];
}

/* Tell Kafka what PostgreSQL committed (asynchronous, advisory, for lag tools). */
static void
ConsumerCommitToKafka(void)
{
	rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(consumer_nparts);

	for (int k = 0; k < consumer_nparts; k++)
		if (consumer_parts[k].stored >= 0)
			rd_kafka_topic_partition_list_add(list, pinpipe_topic, consumer_parts[k].partition)
				->offset = consumer_parts[k].stored;
	if (list->cnt > 0)
		rd_kafka_commit(consumer_rk, list, 1);
	rd_kafka_topic_partition_list_destroy(list);
}

/* Whether the extension is installed in our database (own transaction; never throws). */
static bool
ConsumerExtensionReady(void)
{
	volatile bool ready = false;

	PG_TRY();
	{
		SetCurrentStatementStartTimestamp();
		StartTransactionCommand();
		PushActiveSnapshot(GetTransactionSnapshot());
		ready = SinkReady();
		PopActiveSnapshot();
		CommitTransactionCommand();
	}
	PG_CATCH();
	{
		FlushErrorState();
		AbortCurrentTransaction();
		ready = false;
	}
	PG_END_TRY();
	return ready;
}

/*
 * Write the batch; on failure roll back and schedule a retry. Returns false
 * when the extension is gone (the caller goes back to idling).
 */
static bool
ConsumerWriteBatch(void)
{
	MemoryContext oldcxt = MemoryContextSwitchTo(batch_context);
	SinkCounts counts = {0, 0};
	TimestampTz start = GetCurrentTimestamp();
	volatile bool ok = false;

	fence_failed = false;
	PG_TRY();
	{
		ConsumerWriteBatchTx(&counts);
		ok = true;
	}
	PG_CATCH();
	{
		ErrorData *edata;

		MemoryContextSwitchTo(batch_context);
		edata = CopyErrorData();
		FlushErrorState();
		AbortCurrentTransaction();
		pgstat_report_activity(STATE_IDLE, NULL);

		WorkerStatusSetError(consumer_ws, edata->message);
		if (fence_failed)
		{
			ereport(LOG, (errmsg("pinpipe consumer %d: %s", consumer_number, edata->message),
						  errdetail("The batch is discarded and the partitions are reread from "
									"their stored offsets.")));
			ConsumerDropBatch();
		}
		else
		{
			backoff_ms = backoff_ms == 0 ? CONSUMER_BACKOFF_MIN_MS
										 : Min(backoff_ms * 2, CONSUMER_BACKOFF_MAX_MS);
			retry_at = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), backoff_ms);
			ereport(
				WARNING,
				(errmsg("pinpipe consumer %d: batch of %d message(s) failed, retrying in %d ms: %s",
						consumer_number, batch_len, backoff_ms, edata->message),
				 edata->sqlerrcode ? errdetail("SQLSTATE %s", unpack_sql_state(edata->sqlerrcode))
								   : 0));
			ConsumerSetState("retrying batch", NULL);
		}
		FreeErrorData(edata);
	}
	PG_END_TRY();
	MemoryContextSwitchTo(oldcxt);

	if (ok)
	{
		double secs = (GetCurrentTimestamp() - start) / 1000000.0;

		WorkerStatusBatchDone(consumer_ws, counts.accepted, counts.dead_lettered, secs);
		ConsumerDropBatch(); /* written: librdkafka may free them */
		ConsumerCommitToKafka();
		ConsumerPublishPartitions();
		ConsumerSetState("consuming", NULL);
	}
	MemoryContextReset(batch_context);

	if (!ok && fence_failed)
	{
		/* reread where PostgreSQL says we are; a failure here is retried the same way */
		PG_TRY();
		{
			ConsumerReseek();
		}
		PG_CATCH();
		{
			FlushErrorState();
			AbortCurrentTransaction();
		}
		PG_END_TRY();
		ConsumerPublishPartitions();
	}
	if (!ok)
		return ConsumerExtensionReady();
	return true;
}

/* Close the consumer without waiting on the network (SIGTERM must act within a second). */
static void
ConsumerDestroy(void)
{
	if (consumer_rk == NULL)
		return;
	ConsumerDropBatch();
	if (pending_assignment)
	{
		rd_kafka_topic_partition_list_destroy(pending_assignment);
		pending_assignment = NULL;
	}
	if (consumer_queue)
	{
		rd_kafka_queue_io_event_enable(consumer_queue, -1, NULL, 0);
		rd_kafka_queue_destroy(consumer_queue);
		consumer_queue = NULL;
	}
	/*
	 * Skip the blocking group leave: the group notices after
	 * session.timeout.ms. Nothing is lost, PostgreSQL holds the offsets.
	 */
	rd_kafka_destroy_flags(consumer_rk, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
	consumer_rk = NULL;
	consumer_nparts = 0;
	for (int i = 0; i < 2; i++)
	{
		if (consumer_pipe[i] >= 0)
			close(consumer_pipe[i]);
		consumer_pipe[i] = -1;
	}
}

/* before_shmem_exit: library handles go before the process does. */
static void
ConsumerAtExit(int code, Datum arg)
{
	ConsumerDestroy();
}

/* Create the consumer, subscribe, and wire its queue to our pipe. */
static void
ConsumerCreate(void)
{
	char errstr[512];
	char client_id[64];
	rd_kafka_conf_t *conf;
	rd_kafka_topic_partition_list_t *topics;
	rd_kafka_resp_err_t err;

	snprintf(client_id, sizeof(client_id), "pinpipe-consumer-%d", consumer_number);
	conf = KafkaConfigNew(KAFKA_ROLE_CONSUMER, client_id, errstr, sizeof(errstr));
	if (conf == NULL)
		ereport(FATAL, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						errmsg("invalid Kafka configuration: %s", errstr),
						errhint("Check pinpipe.kafka_brokers and pinpipe.kafka_config.")));
	if (rd_kafka_conf_set(conf, "statistics.interval.ms", "1000", errstr, sizeof(errstr)) !=
		RD_KAFKA_CONF_OK)
		elog(ERROR, "librdkafka: %s", errstr);
	rd_kafka_conf_set_rebalance_cb(conf, ConsumerOnRebalance);
	rd_kafka_conf_set_error_cb(conf, ConsumerOnError);
	rd_kafka_conf_set_stats_cb(conf, ConsumerOnStats);
	rd_kafka_conf_set_log_cb(conf, ConsumerOnLog);

	if (pipe(consumer_pipe) != 0)
		ereport(FATAL, (errcode_for_file_access(), errmsg("could not create pipe: %m")));
	for (int i = 0; i < 2; i++)
	{
		fcntl(consumer_pipe[i], F_SETFL, O_NONBLOCK);
		fcntl(consumer_pipe[i], F_SETFD, FD_CLOEXEC);
	}

	consumer_rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
	if (consumer_rk == NULL)
		ereport(FATAL, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						errmsg("could not create the Kafka consumer: %s", errstr)));
	/* Callbacks (rebalance, errors, stats) are served by rd_kafka_consumer_poll. */
	rd_kafka_poll_set_consumer(consumer_rk);
	consumer_queue = rd_kafka_queue_get_consumer(consumer_rk);
	rd_kafka_queue_io_event_enable(consumer_queue, consumer_pipe[1], "1", 1);

	topics = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(topics, pinpipe_topic, RD_KAFKA_PARTITION_UA);
	err = rd_kafka_subscribe(consumer_rk, topics);
	rd_kafka_topic_partition_list_destroy(topics);
	if (err)
		ereport(FATAL, (errmsg("could not subscribe to Kafka topic \"%s\": %s", pinpipe_topic,
							   rd_kafka_err2str(err))));
	brokers_up = -1;
}

/* Empty the wakeup pipe (its content carries no information). */
static void
ConsumerDrainPipe(void)
{
	char buf[256];

	while (read(consumer_pipe[0], buf, sizeof(buf)) > 0)
		;
}

/*
 * Poll without blocking until the queue is empty or the batch is full.
 * Returns true if it stopped because the batch is full (more may be queued).
 */
static bool
ConsumerPoll(void)
{
	for (;;)
	{
		rd_kafka_message_t *m;

		if (batch_len >= batch_cap)
			return true;
		m = rd_kafka_consumer_poll(consumer_rk, 0);

		/* Callbacks ran inside the poll: act on what they recorded. */
		if (revoked)
		{
			revoked = false;
			if (batch_len > 0)
				ereport(LOG, (errmsg("pinpipe consumer %d: partitions revoked, %d unwritten "
									 "message(s) left to their next owner",
									 consumer_number, batch_len)));
			ConsumerDropBatch();
			consumer_nparts = 0;
			ConsumerPublishPartitions();
		}
		if (m == NULL)
			return false;
		if (m->err)
		{
			if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
			{
				snprintf(kafka_error, sizeof(kafka_error), "%s: %s", rd_kafka_err2name(m->err),
						 rd_kafka_message_errstr(m));
				kafka_error_pending = true;
			}
			rd_kafka_message_destroy(m);
			continue;
		}
		if (ConsumerFindPartition(m->partition) < 0)
		{
			rd_kafka_message_destroy(m); /* stale fetch of a partition no longer ours */
			continue;
		}
		if (batch_len == 0)
			batch_deadline =
				TimestampTzPlusMilliseconds(GetCurrentTimestamp(), pinpipe_batch_timeout_ms);
		batch[batch_len++] = m;
		brokers_up = 1;
	}
}

/* Log Kafka errors and broker state changes (once per change). */
static void
ConsumerReportKafkaState(void)
{
	if (kafka_error_pending)
	{
		kafka_error_pending = false;
		/* during an outage the state says it all; otherwise each distinct error once in a row */
		if (brokers_up != 0 && strcmp(kafka_error, kafka_error_logged) != 0)
		{
			ereport(LOG, (errmsg("pinpipe consumer %d: Kafka: %s", consumer_number, kafka_error)));
			strlcpy(kafka_error_logged, kafka_error, sizeof(kafka_error_logged));
		}
	}
	if (brokers_up == 0 && retry_at == 0)
		ConsumerSetState("broker unreachable", kafka_error);
	else if (brokers_up == 1 && retry_at == 0)
		ConsumerSetState(consumer_nparts > 0 ? "consuming" : "waiting for partitions", NULL);
}

/* Milliseconds until t (at least 0). */
static long
ConsumerMsUntil(TimestampTz t)
{
	TimestampTz now = GetCurrentTimestamp();

	return t <= now ? 0 : (long) ((t - now + 999) / 1000);
}

/* Apply a pending assignment; on a database error schedule a retry and return false. */
static bool
ConsumerTryApplyAssignment(void)
{
	volatile bool ok = true;

	PG_TRY();
	{
		ConsumerApplyAssignment();
		retry_at = 0;
		backoff_ms = 0;
	}
	PG_CATCH();
	{
		ErrorData *edata;

		MemoryContextSwitchTo(batch_context);
		edata = CopyErrorData();
		FlushErrorState();
		AbortCurrentTransaction();
		WorkerStatusSetError(consumer_ws, edata->message);
		ereport(WARNING, (errmsg("pinpipe consumer %d: could not read stored offsets: %s",
								 consumer_number, edata->message)));
		MemoryContextReset(batch_context);
		backoff_ms = backoff_ms == 0 ? CONSUMER_BACKOFF_MIN_MS
									 : Min(backoff_ms * 2, CONSUMER_BACKOFF_MAX_MS);
		retry_at = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), backoff_ms);
		ok = false;
	}
	PG_END_TRY();
	return ok;
}

/* Run the consumer until the extension disappears; returns to idling then. */
static void
ConsumerRun(void)
{
	WaitEventSet *wes;
	bool more = true;
	TimestampTz next_tick = 0;
	TimestampTz next_check =
		TimestampTzPlusMilliseconds(GetCurrentTimestamp(), CONSUMER_IDLE_CHECK_MS);

	ConsumerCreate();
	ConsumerSetState("connecting", NULL);

	wes = PinpipeCreateWaitEventSet(CurrentMemoryContext, 3);
	AddWaitEventToSet(wes, WL_LATCH_SET, PGINVALID_SOCKET, MyLatch, NULL);
	AddWaitEventToSet(wes, WL_EXIT_ON_PM_DEATH, PGINVALID_SOCKET, NULL, NULL);
	AddWaitEventToSet(wes, WL_SOCKET_READABLE, consumer_pipe[0], NULL, NULL);

	for (;;)
	{
		WaitEvent event;
		long timeout;

		if (!more)
		{
			timeout = CONSUMER_TICK_MS;
			if (retry_at != 0)
				timeout = Min(timeout, ConsumerMsUntil(retry_at));
			else if (batch_len > 0)
				timeout = Min(timeout, ConsumerMsUntil(batch_deadline));
			if (pending_assignment)
				timeout = Min(timeout, retry_at ? ConsumerMsUntil(retry_at) : 0);
			(void) WaitEventSetWait(wes, timeout, &event, 1, PG_WAIT_EXTENSION);
		}
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		ConsumerDrainPipe();

		/* A batch waiting for its retry is kept as is: no polling meanwhile. */
		more = false;
		if (retry_at == 0)
		{
			if (batch_len == 0 && batch_cap != pinpipe_batch_size)
			{
				if (batch)
					pfree(batch);
				batch_cap = pinpipe_batch_size;
				batch =
					MemoryContextAlloc(TopMemoryContext, sizeof(rd_kafka_message_t *) * batch_cap);
			}
			more = ConsumerPoll();
		}

		if (pending_assignment && (retry_at == 0 || GetCurrentTimestamp() >= retry_at))
		{
			if (!ConsumerTryApplyAssignment() && !ConsumerExtensionReady())
				break;
			more = true;
		}

		if (batch_len > 0 && (batch_len >= batch_cap || GetCurrentTimestamp() >= batch_deadline) &&
			(retry_at == 0 || GetCurrentTimestamp() >= retry_at))
		{
			if (!ConsumerWriteBatch())
				break;
			next_check = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), CONSUMER_IDLE_CHECK_MS);
			more = true; /* the queue may hold more than one batch */
		}

		ConsumerReportKafkaState();

		/* Nothing written for a while: make sure the extension was not dropped. */
		if (batch_len == 0 && GetCurrentTimestamp() >= next_check)
		{
			if (!ConsumerExtensionReady())
				break;
			next_check = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), CONSUMER_IDLE_CHECK_MS);
		}
		if (GetCurrentTimestamp() >= next_tick)
		{
			ConsumerPublishPartitions();
			next_tick = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), CONSUMER_TICK_MS);
		}
	}

	FreeWaitEventSet(wes);
	ConsumerDestroy();
	ConsumerPublishPartitions();
}

/* Wait (latch-driven) until the extension exists in pinpipe.database. */
static void
ConsumerWaitForExtension(void)
{
	bool logged = false;

	while (!ConsumerExtensionReady())
	{
		if (!logged)
		{
			ConsumerSetState("waiting for extension", NULL);
			ereport(LOG, (errmsg("pinpipe consumer %d: extension \"pinpipe\" is not installed in "
								 "database \"%s\"; checking every %d s",
								 consumer_number, pinpipe_database, CONSUMER_IDLE_CHECK_MS / 1000),
						  errhint("Run CREATE EXTENSION pinpipe in database \"%s\".",
								  pinpipe_database)));
			logged = true;
		}
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 CONSUMER_IDLE_CHECK_MS, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
	}
}

void
pinpipe_consumer_main(Datum main_arg)
{
	consumer_number = DatumGetInt32(main_arg);

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();

	consumer_ws = WorkerStatusAttach(WORKER_KIND_CONSUMER, consumer_number);
	WorkerStatusSetState(consumer_ws, "starting");
	before_shmem_exit(ConsumerAtExit, (Datum) 0);

	BackgroundWorkerInitializeConnection(pinpipe_database, NULL, 0);
	pgstat_report_appname("pinpipe consumer");
	batch_context =
		AllocSetContextCreate(TopMemoryContext, "pinpipe consumer batch", ALLOCSET_DEFAULT_SIZES);

	for (;;)
	{
		ConsumerWaitForExtension();
		ConsumerRun();
		ConsumerSetState("waiting for extension", NULL);
	}
}

void
ConsumerInit(void)
{
	BackgroundWorker worker;

	if (!process_shared_preload_libraries_in_progress || !GucKafkaEnabled())
		return;

	for (int i = 0; i < pinpipe_consumer_workers; i++)
	{
		memset(&worker, 0, sizeof(worker));
		worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
		worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
		worker.bgw_restart_time = 5;
		snprintf(worker.bgw_library_name, BGW_MAXLEN, "pinpipe");
		snprintf(worker.bgw_function_name, BGW_MAXLEN, "pinpipe_consumer_main");
		snprintf(worker.bgw_name, BGW_MAXLEN, "pinpipe consumer %d", i);
		snprintf(worker.bgw_type, BGW_MAXLEN, "pinpipe consumer");
		worker.bgw_main_arg = Int32GetDatum(i);
		RegisterBackgroundWorker(&worker);
	}
}
