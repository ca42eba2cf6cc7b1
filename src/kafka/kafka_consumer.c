/*
 * kafka_consumer.c — the Kafka consumer background workers: Kafka → sink,
 * exactly once.
 *
 * Each worker joins consumer group pinpipe.consumer_group, subscribed to every
 * topic that carries a stream (topic_stream.h: pinpipe.topic, geo_topic,
 * user_topic and any topic named *.pin, *.geo, *.user, as one regex
 * subscription, so topics created later are picked up at a metadata refresh);
 * each message goes to the sink with its topic's stream. It runs one event
 * loop (DESIGN §8): a WaitEventSet over its latch, postmaster death and a pipe
 * that librdkafka writes to when the consumer queue goes from empty to
 * non-empty (rd_kafka_queue_io_event_enable). librdkafka is only ever called
 * with a zero timeout from the loop, so SIGTERM and SIGHUP are handled at once.
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
 * rd_kafka_consumer_poll, and only record into the Consumer state (their
 * opaque): no palloc, elog or SPI. Everything that needs PostgreSQL happens in
 * the loop after the poll returns.
 *
 * Fetch restarts: a fetcher that an offset out of range stopped (auto.offset.reset
 * = error), and any partition whose stored offset moved, restarts through one
 * rd_kafka_assign of the whole assignment (nothing else restarts such a fetcher;
 * paused partitions stay in it, held by rd_kafka_pause_partitions). librdkafka up
 * to 2.15 (its issue #5573) must not see a second assignment change before the
 * fetcher stops of the first were answered: it stops those fetchers twice and
 * aborts the process on the second answer (assertion rktp_started). So a restart
 * waits until the previous one settled (ConsumerFetchSettled), and so do an
 * unassign and the consumer's destruction.
 *
 * Failures: a database error rolls the batch back and retries it with
 * exponential backoff (the messages stay in memory); record-level failures are
 * isolated into dead letters by the sink. The extension missing or dropped
 * makes the worker idle (checking every few seconds) instead of exiting; a
 * missing database makes it wait without one (worker_common.h). A SIGTERM
 * (pg_terminate_backend, DROP DATABASE ... WITH (FORCE)) ends it with code 1
 * so that the postmaster starts it again; only a server shutdown ends it with 0.
 */
#include "postgres.h"

#include <fcntl.h>
#include <malloc.h>
#include <unistd.h>

#include "miscadmin.h"
#include "pgstat.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include <librdkafka/rdkafka.h>

#include "consumer_offsets.h"
#include "consumer_prefetch.h"
#include "guc.h"
#include "ingest_lag.h"
#include "kafka_config.h"
#include "kafka_consumer.h"
#include "kafka_gaps.h"
#include "pg_compat.h"
#include "sink.h"
#include "topic_stream.h"
#include "worker_common.h"
#include "worker_status.h"

#define CONSUMER_IDLE_CHECK_MS WORKER_DB_CHECK_MS /* extension check while idle */
#define CONSUMER_TICK_MS 1000					  /* status refresh when nothing happens */
#define CONSUMER_DEAD_LETTER_KEEP 1024			  /* bytes kept of an oversize message */
#define CONSUMER_TOPIC_LEN 256					  /* Kafka topic names have at most 249 bytes */
#define CONSUMER_PATTERN_LEN 2048				  /* the subscription regex */
#define CONSUMER_SETTLE_MS 1000					  /* bound of a restart's fetcher stops */
#define CONSUMER_PREFETCH_WAKE_MS 100			  /* bound of the fetcher wake's request */

/* What the worker is doing (shown in pinpipe.workers, logged on change). */
typedef enum ConsumerState
{
	CONSUMER_STARTING,
	CONSUMER_WAITING_FOR_DATABASE,
	CONSUMER_WAITING_FOR_EXTENSION,
	CONSUMER_CONNECTING,
	CONSUMER_WAITING_FOR_PARTITIONS,
	CONSUMER_CONSUMING,
	CONSUMER_RETRYING,
	CONSUMER_BROKER_UNREACHABLE
} ConsumerState;

static const char *const consumer_state_names[] = {
	[CONSUMER_STARTING] = "starting",
	[CONSUMER_WAITING_FOR_DATABASE] = "waiting for database",
	[CONSUMER_WAITING_FOR_EXTENSION] = "waiting for extension",
	[CONSUMER_CONNECTING] = "connecting",
	[CONSUMER_WAITING_FOR_PARTITIONS] = "waiting for partitions",
	[CONSUMER_CONSUMING] = "consuming",
	[CONSUMER_RETRYING] = "retrying batch",
	[CONSUMER_BROKER_UNREACHABLE] = "broker unreachable",
};

/* One assigned partition: where PostgreSQL says we are. */
typedef struct ConsumerPartition
{
	char topic[CONSUMER_TOPIC_LEN];
	SinkStream stream;		 /* what its topic carries (TopicStreamName) */
	const char *stream_name; /* its name, static: "pin", "geo" or "user" */
	int32 partition;
	int64 stored;	   /* next offset stored in PostgreSQL, or NONE */
	bool paused;	   /* out of range under pinpipe.offset_out_of_range = pause */
	bool rk_paused;	   /* held by rd_kafka_pause_partitions */
	bool refetch;	   /* its fetcher is to restart: what it fetches now is dropped */
	int64 fetch_start; /* where its fetcher last started (absolute, or logical) */
	bool fetched;	   /* a message came since then */
	KafkaGap gap;	   /* a pending gap: written with the partition's next batch */
} ConsumerPartition;

/*
 * Everything this worker process keeps between loop iterations: one instance,
 * consumer below (a process runs one consumer). Only the main thread touches it:
 * the library callbacks run inside rd_kafka_consumer_poll and get it as their
 * opaque pointer.
 */
typedef struct Consumer
{
	/* who we are and what we are doing */
	int number;
	char who[32]; /* "pinpipe consumer N", for messages */
	WorkerStatus *ws;
	ConsumerState state;
	int shown_paused; /* paused partitions in the state text last shown */

	/* librdkafka handle and its wakeup pipe (fds owned by this process) */
	rd_kafka_t *rk;
	rd_kafka_queue_t *queue;
	int pipe[2];

	/* current assignment: the partitions of topics that map to a stream */
	ConsumerPartition parts[WORKER_STATUS_MAX_PARTITIONS];
	int nparts;

	/* set by the callbacks, consumed by the loop */
	rd_kafka_topic_partition_list_t *pending_assignment;
	bool revoked;
	bool unassign_pending; /* revoked, rd_kafka_assign(NULL) not yet called */
	bool kafka_error_pending;
	char kafka_error[256];
	char kafka_error_logged[256];
	int brokers_up; /* from the last statistics: -1 unknown, 0 none, 1 some */

	/* the batch being filled: librdkafka owns the messages until written */
	rd_kafka_message_t **batch;
	int batch_len;
	int batch_cap;
	size_t batch_bytes;		   /* payload bytes of the batch's messages */
	size_t avg_msg_bytes;	   /* of the batch, or the last one that had messages */
	ConsumerPrefetch prefetch; /* waking the fetcher (librdkafka before 2.2) */
	TimestampTz batch_deadline;
	MemoryContext batch_context;
	WorkerBackoff backoff; /* retry of a failed batch or offset read */
	bool fence_failed;
	bool restart_fetch;	  /* reassign once the batch is written (kafka_gaps.c) */
	bool restart_on_tick; /* a logical start offset failed: retry it at the tick */
	bool fetch_settling;  /* the last restart's fetcher stops may be unanswered */
	TimestampTz settle_deadline;
} Consumer;

static Consumer consumer = {
	.who = "pinpipe consumer",
	.state = CONSUMER_STARTING,
	.pipe = {-1, -1},
	.brokers_up = -1,
};

/* Partitions stopped by pinpipe.offset_out_of_range = pause. */
static int
ConsumerPausedCount(void)
{
	int paused = 0;

	for (int k = 0; k < consumer.nparts; k++)
		paused += consumer.parts[k].paused ? 1 : 0;
	return paused;
}

/*
 * Set the state; log it when it changes (once per state change). While
 * consuming, the state text also says how many partitions are paused.
 */
static void
ConsumerSetState(ConsumerState state, const char *detail)
{
	int paused = state == CONSUMER_CONSUMING ? ConsumerPausedCount() : 0;
	char text[WORKER_STATUS_STATE_LEN];
	const char *name = consumer_state_names[state];

	if (consumer.state == state && consumer.shown_paused == paused)
		return;
	consumer.state = state;
	consumer.shown_paused = paused;
	if (paused > 0)
	{
		snprintf(text, sizeof(text), "%s, %d partition(s) paused", name, paused);
		name = text;
	}
	WorkerStatusSetState(consumer.ws, name);
	if (detail)
		ereport(LOG, (errmsg("%s: %s", consumer.who, name), errdetail_internal("%s", detail)));
	else
		ereport(LOG, (errmsg("%s: %s", consumer.who, name)));
}

/*
 * The bound of ConsumerFetchSettled let the next assignment change (next: what it
 * is) go ahead without proof that the last restart settled: counted
 * (pinpipe_consumer_settle_timeouts_total) and logged, since it is the one case in
 * which librdkafka's issue #5573 could still be met.
 */
static void
ConsumerSettleTimedOut(const char *next)
{
	long since =
		(long) ((GetCurrentTimestamp() - consumer.settle_deadline) / 1000) + CONSUMER_SETTLE_MS;

	WorkerStatusSettleTimeout(consumer.ws);
	ereport(LOG, (errmsg("pinpipe consumer %d: %s %ld ms after the last fetch restart, not seen to "
						 "settle",
						 consumer.number, next, since),
				  errdetail("No message or end-of-partition event came within %d ms of the restart "
							"(every partition paused or out of range, or the broker unreachable).",
							CONSUMER_SETTLE_MS)));
}

/*
 * Whether the assignment may change again (next: the change, for the log; see
 * "Fetch restarts" above). After a restart, librdkafka starts the new fetchers
 * only once every stop of the old ones was answered, and drops whatever the old
 * ones fetched: so a message or an end-of-partition event since the restart
 * proves it settled. Without either (every partition paused or out of range
 * again, the broker down) the wait is bounded by CONSUMER_SETTLE_MS: a stop is a
 * hand-over between librdkafka's own threads, without the network, normally
 * done in microseconds. Going ahead on the bound is counted and logged.
 */
static bool
ConsumerFetchSettled(const char *next)
{
	if (consumer.fetch_settling && GetCurrentTimestamp() >= consumer.settle_deadline)
	{
		consumer.fetch_settling = false;
		ConsumerSettleTimedOut(next);
	}
	return !consumer.fetch_settling;
}

/* Give up the revoked assignment (librdkafka waits for this call to rejoin). */
static void
ConsumerUnassign(void)
{
	rd_kafka_assign(consumer.rk, NULL);
	consumer.unassign_pending = false;
}

/*
 * Rebalance callback (main thread, from rd_kafka_consumer_poll). A new
 * assignment is only recorded: the loop reads the stored offsets and calls
 * rd_kafka_assign itself (librdkafka waits for that call). A revocation is
 * applied at once unless a restart has not settled yet (then the loop applies
 * it); the loop drops the unwritten messages either way.
 */
static void
ConsumerOnRebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
					rd_kafka_topic_partition_list_t *partitions, void *opaque)
{
	Consumer *c = opaque;

	if (c->pending_assignment)
	{
		rd_kafka_topic_partition_list_destroy(c->pending_assignment);
		c->pending_assignment = NULL;
	}
	if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS)
		c->pending_assignment = rd_kafka_topic_partition_list_copy(partitions);
	else
	{
		c->revoked = true;
		c->unassign_pending = true;
		if (ConsumerFetchSettled("giving up the revoked partitions"))
			ConsumerUnassign();
	}
}

/* Error callback (main thread): remembered for the loop to log. */
static void
ConsumerOnError(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
	Consumer *c = opaque;

	snprintf(c->kafka_error, sizeof(c->kafka_error), "%s: %s",
			 rd_kafka_err2name((rd_kafka_resp_err_t) err), reason);
	c->kafka_error_pending = true;
	if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN)
		c->brokers_up = 0;
}

/* Statistics callback (main thread): whether any real broker connection is up. */
static int
ConsumerOnStats(rd_kafka_t *rk, char *json, size_t json_len, void *opaque)
{
	Consumer *c = opaque;

	c->brokers_up = KafkaStatsBrokerUp(json) ? 1 : 0;
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
	for (int i = 0; i < consumer.batch_len; i++)
		rd_kafka_message_destroy(consumer.batch[i]);
	consumer.batch_len = 0;
	consumer.batch_bytes = 0;
	consumer.batch_deadline = 0;
	WorkerBackoffReset(&consumer.backoff);
}

/* Index of partition p of topic in the assignment, or -1. */
static int
ConsumerFindPartition(const char *topic, int32 p)
{
	for (int i = 0; i < consumer.nparts; i++)
		if (consumer.parts[i].partition == p && strcmp(consumer.parts[i].topic, topic) == 0)
			return i;
	return -1;
}

/* Index of the partition a message came from, or -1 (not ours any more). */
static int
ConsumerFindMessagePartition(const rd_kafka_message_t *m)
{
	if (m->rkt == NULL)
		return -1;
	return ConsumerFindPartition(rd_kafka_topic_name(m->rkt), m->partition);
}

/* Publish the assignment, stored offsets and high watermarks (cached, non-blocking). */
static void
ConsumerPublishPartitions(void)
{
	WorkerPartitionStatus st[WORKER_STATUS_MAX_PARTITIONS];

	for (int i = 0; i < consumer.nparts; i++)
	{
		int64_t lo = -1, hi = -1;

		strlcpy(st[i].topic, consumer.parts[i].topic, sizeof(st[i].topic));
		st[i].partition = consumer.parts[i].partition;
		st[i].committed_offset = consumer.parts[i].stored;
		if (consumer.rk == NULL ||
			rd_kafka_get_watermark_offsets(consumer.rk, consumer.parts[i].topic,
										   consumer.parts[i].partition, &lo,
										   &hi) != RD_KAFKA_RESP_ERR_NO_ERROR)
			hi = -1;
		st[i].high_watermark = hi < 0 ? -1 : hi;
		st[i].paused = consumer.parts[i].paused;
	}
	WorkerStatusSetPartitions(consumer.ws, st, consumer.nparts);
}

/*
 * Read the stored offsets of the current assignment (in its own transaction).
 * Returns how many changed under us (pinpipe.reset_offsets, another consumer);
 * such a partition drops its pending gap and pause: it goes on from there.
 */
static int
ConsumerReadStoredOffsets(void)
{
	int moved = 0;
	const char *topics[WORKER_STATUS_MAX_PARTITIONS];
	int32 parts[WORKER_STATUS_MAX_PARTITIONS];
	int64 next[WORKER_STATUS_MAX_PARTITIONS];

	for (int i = 0; i < consumer.nparts; i++)
	{
		topics[i] = consumer.parts[i].topic;
		parts[i] = consumer.parts[i].partition;
	}

	WorkerTxBegin("pinpipe consumer: reading stored offsets", true);
	if (!SinkReady())
		ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
						errmsg("extension \"pinpipe\" is not installed in database \"%s\"",
							   pinpipe_database)));
	ConsumerOffsetsRead(pinpipe_consumer_group, topics, parts, next, consumer.nparts);
	WorkerTxCommit(true);

	for (int i = 0; i < consumer.nparts; i++)
	{
		ConsumerPartition *cp = &consumer.parts[i];

		if (cp->stored == next[i])
			continue;
		if (cp->stored != CONSUMER_OFFSET_NONE)
			ereport(LOG, (errmsg("pinpipe consumer %d: stored offset of partition %d of topic "
								 "\"%s\" moved from " INT64_FORMAT " to " INT64_FORMAT "%s",
								 consumer.number, (int) cp->partition, cp->topic, cp->stored,
								 next[i], cp->paused ? "; partition resumed" : "")));
		cp->stored = next[i];
		cp->paused = false;
		cp->refetch = true;
		cp->gap.pending = false;
		moved++;
	}
	return moved;
}

/* Where a partition's fetcher starts: past a pending gap, else at the stored offset. */
static int64
ConsumerStartOffset(const ConsumerPartition *cp)
{
	if (cp->gap.pending)
		return cp->gap.resume;
	if (cp->stored != CONSUMER_OFFSET_NONE)
		return cp->stored;
	return pinpipe_start_offset == PINPIPE_START_LATEST ? RD_KAFKA_OFFSET_END
														: RD_KAFKA_OFFSET_BEGINNING;
}

/* Hold (pause) or release (resume) partitions in librdkafka; marks those it took. */
static void
ConsumerPauseResume(bool pause)
{
	rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(consumer.nparts);

	for (int k = 0; k < consumer.nparts; k++)
		if (consumer.parts[k].paused == pause && consumer.parts[k].rk_paused != pause)
			rd_kafka_topic_partition_list_add(list, consumer.parts[k].topic,
											  consumer.parts[k].partition);
	if (list->cnt > 0)
	{
		if (pause)
			(void) rd_kafka_pause_partitions(consumer.rk, list);
		else
			(void) rd_kafka_resume_partitions(consumer.rk, list);
		for (int i = 0; i < list->cnt; i++)
		{
			int k = ConsumerFindPartition(list->elems[i].topic, list->elems[i].partition);

			if (k >= 0 && list->elems[i].err == RD_KAFKA_RESP_ERR_NO_ERROR)
				consumer.parts[k].rk_paused = pause;
		}
	}
	rd_kafka_topic_partition_list_destroy(list);
}

/*
 * Restart every fetcher at ConsumerStartOffset: one rd_kafka_assign of the
 * whole assignment, because a seek cannot restart a fetcher that an
 * out-of-range error stopped; paused partitions are held by librdkafka first
 * (a pause or resume right after an assign may race its fetch start). Only once
 * the previous restart settled: until then (returns false) the request stays
 * pending. Messages fetched from the old positions are discarded by librdkafka;
 * call only with no batch in memory.
 */
static bool
ConsumerRestartFetch(void)
{
	rd_kafka_topic_partition_list_t *list;
	rd_kafka_resp_err_t err;

	consumer.restart_fetch = consumer.nparts > 0;
	if (!consumer.restart_fetch || !ConsumerFetchSettled("restarting the fetchers"))
		return false;

	ConsumerPauseResume(true);
	ConsumerPauseResume(false);
	list = rd_kafka_topic_partition_list_new(consumer.nparts);
	for (int k = 0; k < consumer.nparts; k++)
	{
		consumer.parts[k].fetch_start = ConsumerStartOffset(&consumer.parts[k]);
		consumer.parts[k].fetched = false;
		rd_kafka_topic_partition_list_add(list, consumer.parts[k].topic,
										  consumer.parts[k].partition)
			->offset = consumer.parts[k].fetch_start;
		consumer.parts[k].refetch = false;
	}
	err = rd_kafka_assign(consumer.rk, list);
	rd_kafka_topic_partition_list_destroy(list);
	if (err)
		ereport(WARNING, (errmsg("pinpipe consumer %d: could not restart fetching: %s",
								 consumer.number, rd_kafka_err2str(err))));
	consumer.fetch_settling = true;
	consumer.settle_deadline =
		TimestampTzPlusMilliseconds(GetCurrentTimestamp(), CONSUMER_SETTLE_MS);
	consumer.restart_fetch = false;
	return true;
}

/* Every partition restarts (its unwritten messages were dropped): nothing fetched counts until
 * then. */
static void
ConsumerRestartAll(void)
{
	for (int k = 0; k < consumer.nparts; k++)
		consumer.parts[k].refetch = true;
	(void) ConsumerRestartFetch();
}

/* Offsets to start from: the stored ones, else pinpipe.start_offset. */
static void
ConsumerSetStartOffsets(rd_kafka_topic_partition_list_t *list)
{
	for (int i = 0; i < list->cnt; i++)
	{
		int k = ConsumerFindPartition(list->elems[i].topic, list->elems[i].partition);
		ConsumerPartition untracked = {.partition = list->elems[i].partition,
									   .stored = CONSUMER_OFFSET_NONE};

		list->elems[i].offset = ConsumerStartOffset(k >= 0 ? &consumer.parts[k] : &untracked);
		if (k >= 0)
		{
			consumer.parts[k].fetch_start = list->elems[i].offset;
			consumer.parts[k].fetched = false;
		}
	}
}

/* The stream of a topic (the one rule, topic_stream.h); NULL when it carries none. */
static const char *
ConsumerTopicStream(const char *topic, SinkStream *stream)
{
	TopicStreamConfig config = GucTopicStreams();
	const char *name = TopicStreamName(&config, topic, strlen(topic));

	if (name == NULL || !SinkStreamFromName(name, strlen(name), stream))
		return NULL;
	return name;
}

/* Log the assignment: one line per topic, with its stream. */
static void
ConsumerLogAssignment(void)
{
	if (consumer.nparts == 0)
		ereport(LOG, (errmsg("pinpipe consumer %d: assigned no partitions", consumer.number)));
	for (int i = 0; i < consumer.nparts; i++)
	{
		int n = 0;
		bool first = true;

		for (int j = 0; j < consumer.nparts; j++)
			if (strcmp(consumer.parts[j].topic, consumer.parts[i].topic) == 0)
			{
				first = first && j >= i;
				n++;
			}
		if (first)
			ereport(LOG, (errmsg("pinpipe consumer %d: assigned %d partition(s) of topic \"%s\" "
								 "(stream %s)",
								 consumer.number, n, consumer.parts[i].topic,
								 consumer.parts[i].stream_name)));
	}
}

/*
 * Take the assignment recorded by the rebalance callback: track the partitions
 * of the topics that carry a stream, read their offsets, assign.
 */
static void
ConsumerApplyAssignment(void)
{
	rd_kafka_topic_partition_list_t *list = consumer.pending_assignment;
	rd_kafka_resp_err_t err;
	int n = 0;
	int untracked = 0;

	for (int i = 0; i < list->cnt; i++)
	{
		ConsumerPartition *cp = &consumer.parts[n];
		SinkStream stream;
		const char *name = ConsumerTopicStream(list->elems[i].topic, &stream);

		/* the subscription only matches such topics; a name too long for us is refused too */
		if (name == NULL || strlen(list->elems[i].topic) >= sizeof(cp->topic) ||
			n == WORKER_STATUS_MAX_PARTITIONS)
		{
			untracked++;
			continue;
		}
		strlcpy(cp->topic, list->elems[i].topic, sizeof(cp->topic));
		cp->stream = stream;
		cp->stream_name = name;
		cp->partition = list->elems[i].partition;
		cp->stored = CONSUMER_OFFSET_NONE;
		cp->paused = false;
		cp->rk_paused = false;
		cp->refetch = false;
		cp->gap.pending = false;
		n++;
	}
	consumer.nparts = n;
	if (untracked > 0)
		ereport(WARNING,
				(errmsg("pinpipe consumer %d: %d assigned partition(s) are not consumed",
						consumer.number, untracked),
				 errdetail("A consumer tracks at most %d partitions of topics that carry a stream.",
						   WORKER_STATUS_MAX_PARTITIONS),
				 errhint("Raise pinpipe.consumer_workers.")));

	ConsumerReadStoredOffsets(); /* may throw: the assignment stays pending */
	for (int k = 0; k < consumer.nparts; k++)
		consumer.parts[k].refetch = false; /* the assignment starts every fetcher anew */
	ConsumerSetStartOffsets(list);
	consumer.pending_assignment = NULL;
	consumer.restart_fetch = false;
	/* a partition paused under an earlier assignment is held by librdkafka still */
	(void) rd_kafka_resume_partitions(consumer.rk, list);
	/* librdkafka rejoined only after the revocation's fetcher stops were answered */
	consumer.fetch_settling = false;
	err = rd_kafka_assign(consumer.rk, list);
	rd_kafka_topic_partition_list_destroy(list);
	if (err)
		ereport(WARNING, (errmsg("pinpipe consumer %d: could not take partition assignment: %s",
								 consumer.number, rd_kafka_err2str(err))));
	ConsumerPublishPartitions();
	ConsumerLogAssignment();
}

/* After a lost fence: reread the stored offsets and restart every partition there. */
static void
ConsumerReseek(void)
{
	ConsumerReadStoredOffsets();
	ConsumerRestartAll();
}

/*
 * Once per tick: follow stored offsets moved by pinpipe.reset_offsets (also
 * those of paused or idle partitions, which no fence would notice). Never throws.
 */
static void
ConsumerFollowMovedOffsetsBody(void *arg)
{
	if (ConsumerReadStoredOffsets() > 0)
	{
		ConsumerDropBatch();
		ConsumerRestartAll();
	}
}

static void
ConsumerFollowMovedOffsets(void)
{
	if (consumer.nparts == 0 || consumer.pending_assignment || consumer.backoff.retry_at != 0)
		return;
	if (consumer.restart_on_tick)
	{
		consumer.restart_on_tick = false;
		consumer.restart_fetch = true;
	}
	/* a failure is retried at the next tick; the batch path reports database errors */
	(void) WorkerTry(ConsumerFollowMovedOffsetsBody, NULL, consumer.batch_context);
	MemoryContextReset(consumer.batch_context);
}

/*
 * librdkafka reported offset m->offset of a partition as outside its log (and
 * stopped its fetcher): decide with kafka_gaps.c, warn, and have the loop write
 * the batch (what came before the gap) and restart the fetchers. Returns false
 * for events that are not about an assigned partition's real offset.
 */
static bool
ConsumerOffsetOutOfRange(rd_kafka_message_t *m)
{
	int k = ConsumerFindMessagePartition(m);
	ConsumerPartition *cp;
	int64_t lo = -1, hi = -1;

	if (k < 0)
		return false;
	if (m->offset < 0)
	{
		/* a logical start offset could not be looked up: try again in a while */
		consumer.restart_on_tick = true;
		return false;
	}
	cp = &consumer.parts[k];
	if (cp->paused)
		return true; /* a paused partition's fetcher stopped again: nothing changes */
	/*
	 * Until it delivers a message, the current fetcher can only fail at its
	 * start offset: another offset is a late event of a fetcher from before the
	 * last restart (librdkafka does not drop those), and the current one reports
	 * for itself. Later its events come after all older ones (one queue, in order).
	 */
	if (!cp->fetched && cp->fetch_start >= 0 && m->offset != cp->fetch_start)
		return true;
	/* the cached bounds come from the very fetch response that failed */
	(void) rd_kafka_get_watermark_offsets(consumer.rk, cp->topic, cp->partition, &lo, &hi);
	/* a second event before the first gap was written extends that gap */
	if (!KafkaGapDecide(pinpipe_offset_out_of_range,
						cp->gap.pending ? cp->gap.from_offset : m->offset, m->offset, lo, hi,
						&cp->gap))
		cp->paused = true;
	KafkaGapWarn(consumer.number, cp->topic, cp->partition, pinpipe_offset_out_of_range, &cp->gap);
	cp->refetch = true;
	consumer.restart_fetch = true;
	if (consumer.batch_len > 0)
		consumer.batch_deadline = GetCurrentTimestamp();
	return true;
}

/* After a reload: pinpipe.offset_out_of_range no longer pause resumes the paused partitions. */
static void
ConsumerAfterReload(void)
{
	if (pinpipe_offset_out_of_range == PINPIPE_OOR_PAUSE)
		return;
	for (int k = 0; k < consumer.nparts; k++)
		if (consumer.parts[k].paused)
		{
			consumer.parts[k].paused = false;
			consumer.parts[k].refetch = true;
			consumer.restart_fetch = true;
		}
}

/* The state while running (ConsumerSetState adds how many partitions are paused). */
static ConsumerState
ConsumerRunningState(void)
{
	return consumer.nparts > 0 ? CONSUMER_CONSUMING : CONSUMER_WAITING_FOR_PARTITIONS;
}

/* Write the batch in one transaction (arg: its SinkCounts); throws on any database error. */
static void
ConsumerWriteBatchTx(void *arg)
{
	SinkCounts *counts = arg;
	SinkMessage *msgs;
	int nmsgs = 0;
	int64 next[WORKER_STATUS_MAX_PARTITIONS];
	bool touched[WORKER_STATUS_MAX_PARTITIONS];
	int *part_of; /* the assignment index of each message */

	memset(touched, 0, sizeof(touched));
	msgs = palloc0(sizeof(SinkMessage) * consumer.batch_len);
	part_of = palloc(sizeof(int) * Max(consumer.batch_len, 1));

	WorkerTxBegin("pinpipe consumer: writing batch", true);

	for (int i = 0; i < consumer.batch_len; i++)
	{
		rd_kafka_message_t *m = consumer.batch[i];
		int k = ConsumerFindMessagePartition(m);

		if (k < 0) /* not ours any more: cannot happen after a revoke drop */
			elog(ERROR, "message from unassigned partition %d", (int) m->partition);
		if (!touched[k] || m->offset + 1 > next[k])
			next[k] = m->offset + 1;
		touched[k] = true;
		part_of[i] = k;
	}

	/* Offsets first: the fence and the row locks come before any row is written. */
	for (int k = 0; k < consumer.nparts; k++)
	{
		if (!touched[k])
			continue;
		if (!ConsumerOffsetsStore(pinpipe_consumer_group, consumer.parts[k].topic,
								  consumer.parts[k].partition, consumer.parts[k].stored, next[k]))
		{
			consumer.fence_failed = true;
			ereport(
				ERROR,
				(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
				 errmsg("offset of partition %d of topic \"%s\" was moved by another consumer",
						(int) consumer.parts[k].partition, consumer.parts[k].topic),
				 errdetail(
					 "The batch is discarded and the partition reread from its stored offset.")));
		}
		/* the first batch after a gap records it, in the same transaction */
		if (consumer.parts[k].gap.pending)
			KafkaGapRecord(pinpipe_consumer_group, consumer.parts[k].topic,
						   consumer.parts[k].partition, &consumer.parts[k].gap);
	}

	for (int i = 0; i < consumer.batch_len; i++)
	{
		rd_kafka_message_t *m = consumer.batch[i];
		const ConsumerPartition *cp = &consumer.parts[part_of[i]];

		msgs[nmsgs].data = m->payload ? (const char *) m->payload : "";
		msgs[nmsgs].len = m->len;
		msgs[nmsgs].topic = cp->topic;
		msgs[nmsgs].stream = cp->stream;
		msgs[nmsgs].partition = m->partition;
		msgs[nmsgs].offset = m->offset;
		if (m->len > (size_t) pinpipe_max_message_bytes)
		{
			/* not parsed: the sink dead-letters it, keeping its first bytes */
			msgs[nmsgs].input = SINK_INPUT_REJECTED;
			msgs[nmsgs].len = Min(m->len, (size_t) CONSUMER_DEAD_LETTER_KEEP);
			msgs[nmsgs].truncated = true;
			msgs[nmsgs].sqlstate = "54000";
			msgs[nmsgs].error =
				psprintf("message of %zu bytes exceeds pinpipe.max_message_bytes (%d); its first "
						 "%d bytes are kept",
						 m->len, pinpipe_max_message_bytes, CONSUMER_DEAD_LETTER_KEEP);
		}
		nmsgs++;
	}
	if (nmsgs > 0)
		SinkWriteBatch(SINK_SOURCE_KAFKA, msgs, nmsgs, counts);
	WorkerTxCommit(true);

	/* Committed: these are now the stored offsets, the gaps are on record. */
	for (int k = 0; k < consumer.nparts; k++)
		if (touched[k])
		{
			consumer.parts[k].stored = next[k];
			if (consumer.parts[k].gap.pending)
				WorkerStatusAddSkipped(consumer.ws, consumer.parts[k].topic,
									   consumer.parts[k].partition, consumer.parts[k].gap.skipped);
			consumer.parts[k].gap.pending = false;
		}
}

/* Tell Kafka what PostgreSQL committed (asynchronous, advisory, for lag tools). */
static void
ConsumerCommitToKafka(void)
{
	rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(consumer.nparts);

	for (int k = 0; k < consumer.nparts; k++)
		if (consumer.parts[k].stored >= 0)
			rd_kafka_topic_partition_list_add(list, consumer.parts[k].topic,
											  consumer.parts[k].partition)
				->offset = consumer.parts[k].stored;
	if (list->cnt > 0)
		rd_kafka_commit(consumer.rk, list, 1);
	rd_kafka_topic_partition_list_destroy(list);
}

/* Whether the extension is installed in our database (own transaction; never throws). */
static bool
ConsumerExtensionReady(void)
{
	char problem[WORKER_PROBLEM_LEN];

	return WorkerCheckDatabase(problem, sizeof(problem)) == WORKER_DB_READY;
}

/* WorkerTry body: after a lost fence, seek to the stored offsets. */
static void
ConsumerReseekBody(void *arg)
{
	ConsumerReseek();
}

/*
 * Write the batch; on failure roll back and schedule a retry. Returns false
 * when the extension is gone (the caller goes back to idling).
 */
static bool
ConsumerWriteBatch(void)
{
	MemoryContext oldcxt = MemoryContextSwitchTo(consumer.batch_context);
	SinkCounts counts = {0, 0};
	TimestampTz start = GetCurrentTimestamp();
	ErrorData *edata;
	bool ok;

	consumer.fence_failed = false;
	edata = WorkerTry(ConsumerWriteBatchTx, &counts, consumer.batch_context);
	ok = edata == NULL;
	if (edata)
	{
		WorkerStatusSetError(consumer.ws, edata->message);
		if (consumer.fence_failed)
		{
			ereport(LOG, (errmsg("%s: %s", consumer.who, edata->message),
						  errdetail("The batch is discarded and the partitions are reread from "
									"their stored offsets.")));
			ConsumerDropBatch();
		}
		else
		{
			int ms = WorkerBackoffFailed(&consumer.backoff);

			ereport(WARNING, (errmsg("%s: batch of %d message(s) failed, retrying in %d ms: %s",
									 consumer.who, consumer.batch_len, ms, edata->message),
							  edata->sqlerrcode
								  ? errdetail("SQLSTATE %s", unpack_sql_state(edata->sqlerrcode))
								  : 0));
			ConsumerSetState(CONSUMER_RETRYING, NULL);
		}
		FreeErrorData(edata);
	}
	MemoryContextSwitchTo(oldcxt);

	if (ok)
	{
		double secs = (GetCurrentTimestamp() - start) / 1000000.0;

		WorkerStatusBatchDone(consumer.ws, counts.accepted, counts.dead_lettered, secs);
		IngestLagKafkaBatch(consumer.ws, consumer.batch, consumer.batch_len);
		ConsumerDropBatch(); /* written: librdkafka may free them */
		ConsumerCommitToKafka();
		ConsumerPublishPartitions();
		ConsumerSetState(ConsumerRunningState(), NULL);
	}

	if (!ok && consumer.fence_failed)
	{
		/* reread where PostgreSQL says we are; a failure here is retried the same way */
		(void) WorkerTry(ConsumerReseekBody, NULL, consumer.batch_context);
		ConsumerPublishPartitions();
	}
	MemoryContextReset(consumer.batch_context);
	if (!ok)
		return ConsumerExtensionReady();
	return true;
}

/* Close the consumer without waiting on the network (SIGTERM must act within a second). */
static void
ConsumerDestroy(void)
{
	if (consumer.rk == NULL)
		return;
	ConsumerDropBatch();
	/* the destruction unassigns: not before a restart settled (ConsumerFetchSettled) */
	if (!ConsumerFetchSettled("closing the consumer"))
	{
		pg_usleep(WorkerMsUntil(consumer.settle_deadline) * 1000L);
		ConsumerSettleTimedOut("closing the consumer");
	}
	consumer.fetch_settling = false;
	consumer.unassign_pending = false;
	if (consumer.pending_assignment)
	{
		rd_kafka_topic_partition_list_destroy(consumer.pending_assignment);
		consumer.pending_assignment = NULL;
	}
	if (consumer.queue)
	{
		rd_kafka_queue_io_event_enable(consumer.queue, -1, NULL, 0);
		rd_kafka_queue_destroy(consumer.queue);
		consumer.queue = NULL;
	}
	/*
	 * Skip the blocking group leave: the group notices after
	 * session.timeout.ms. Nothing is lost, PostgreSQL holds the offsets.
	 */
	rd_kafka_destroy_flags(consumer.rk, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
	consumer.rk = NULL;
	consumer.nparts = 0;
	for (int i = 0; i < 2; i++)
	{
		if (consumer.pipe[i] >= 0)
			close(consumer.pipe[i]);
		consumer.pipe[i] = -1;
	}
}

/* before_shmem_exit: library handles go before the process does. */
static void
ConsumerAtExit(int code, Datum arg)
{
	ConsumerDestroy();
}

/* The prefetch queue's bounds, from the configuration the consumer is made with. */
static void
ConsumerPrefetchSetup(rd_kafka_conf_t *conf)
{
	char value[32];
	size_t size = sizeof(value);

	memset(&consumer.prefetch, 0, sizeof(consumer.prefetch));
	consumer.prefetch.enabled = !KafkaFetcherLooksAgain();
	if (rd_kafka_conf_get(conf, "queued.max.messages.kbytes", value, &size) == RD_KAFKA_CONF_OK)
		consumer.prefetch.max_bytes = strtoll(value, NULL, 10) * 1024;
	size = sizeof(value);
	if (rd_kafka_conf_get(conf, "queued.min.messages", value, &size) == RD_KAFKA_CONF_OK)
		consumer.prefetch.max_msgs = strtoll(value, NULL, 10);
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
	TopicStreamConfig streams = GucTopicStreams();
	char pattern[CONSUMER_PATTERN_LEN];

	snprintf(client_id, sizeof(client_id), "pinpipe-consumer-%d", consumer.number);
	conf = KafkaConfigNew(KAFKA_ROLE_CONSUMER, client_id, errstr, sizeof(errstr));
	if (conf == NULL)
		ereport(FATAL, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						errmsg("invalid Kafka configuration: %s", errstr),
						errhint("Check pinpipe.kafka_brokers and pinpipe.kafka_config.")));
	/* the callbacks' opaque: they record what happened in the consumer's state */
	rd_kafka_conf_set_opaque(conf, &consumer);
	rd_kafka_conf_set_rebalance_cb(conf, ConsumerOnRebalance);
	rd_kafka_conf_set_error_cb(conf, ConsumerOnError);
	rd_kafka_conf_set_stats_cb(conf, ConsumerOnStats);
	rd_kafka_conf_set_log_cb(conf, ConsumerOnLog);

	if (pipe(consumer.pipe) != 0)
		ereport(FATAL, (errcode_for_file_access(), errmsg("could not create pipe: %m")));
	for (int i = 0; i < 2; i++)
	{
		fcntl(consumer.pipe[i], F_SETFL, O_NONBLOCK);
		fcntl(consumer.pipe[i], F_SETFD, FD_CLOEXEC);
	}

	ConsumerPrefetchSetup(conf);
	consumer.rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
	if (consumer.rk == NULL)
		ereport(FATAL, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						errmsg("could not create the Kafka consumer: %s", errstr)));
	/* Callbacks (rebalance, errors, stats) are served by rd_kafka_consumer_poll. */
	rd_kafka_poll_set_consumer(consumer.rk);
	consumer.queue = rd_kafka_queue_get_consumer(consumer.rk);
	rd_kafka_queue_io_event_enable(consumer.queue, consumer.pipe[1], "1", 1);

	/* one regex for every topic that carries a stream, derived from the same rule */
	if (!TopicStreamPattern(&streams, pattern, sizeof(pattern)))
		ereport(FATAL,
				(errcode(ERRCODE_NAME_TOO_LONG),
				 errmsg("the streams' topic names are too long for a subscription"),
				 errhint("Shorten pinpipe.topic, pinpipe.geo_topic or pinpipe.user_topic.")));
	topics = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(topics, pattern, RD_KAFKA_PARTITION_UA);
	err = rd_kafka_subscribe(consumer.rk, topics);
	rd_kafka_topic_partition_list_destroy(topics);
	if (err)
		ereport(FATAL, (errmsg("could not subscribe to Kafka topics \"%s\": %s", pattern,
							   rd_kafka_err2str(err))));
	ereport(LOG, (errmsg("%s: subscribed to the topics matching \"%s\" (librdkafka %s)",
						 consumer.who, pattern, rd_kafka_version_str())));
	consumer.brokers_up = -1;
}

/* Empty the wakeup pipe (its content carries no information). */
static void
ConsumerDrainPipe(void)
{
	char buf[256];

	while (read(consumer.pipe[0], buf, sizeof(buf)) > 0)
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
		int k;

		if (consumer.batch_len >= consumer.batch_cap)
			return true;
		m = rd_kafka_consumer_poll(consumer.rk, 0);

		/* Callbacks ran inside the poll: act on what they recorded. */
		if (consumer.revoked)
		{
			consumer.revoked = false;
			if (consumer.batch_len > 0)
				ereport(LOG, (errmsg("pinpipe consumer %d: partitions revoked, %d unwritten "
									 "message(s) left to their next owner",
									 consumer.number, consumer.batch_len)));
			ConsumerDropBatch();
			consumer.nparts = 0;
			consumer.restart_fetch = false;
			ConsumerPublishPartitions();
		}
		if (m == NULL)
			return false;
		/* only fetchers started after the last restart deliver these (ConsumerFetchSettled) */
		if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR || m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF)
			consumer.fetch_settling = false;
		if (m->err == RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET && ConsumerOffsetOutOfRange(m))
		{
			rd_kafka_message_destroy(m);
			return true; /* write what came before the gap, then restart the fetchers */
		}
		if (m->err)
		{
			if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
			{
				snprintf(consumer.kafka_error, sizeof(consumer.kafka_error), "%s: %s",
						 rd_kafka_err2name(m->err), rd_kafka_message_errstr(m));
				consumer.kafka_error_pending = true;
			}
			rd_kafka_message_destroy(m);
			continue;
		}
		if ((k = ConsumerFindMessagePartition(m)) >= 0)
			consumer.parts[k].fetched = true;
		if (k < 0 || consumer.parts[k].refetch)
		{
			/* stale fetch of a partition no longer ours, or from a position being left */
			rd_kafka_message_destroy(m);
			continue;
		}
		KafkaGapResolve(&consumer.parts[k].gap, m->offset);
		if (consumer.batch_len == 0)
			consumer.batch_deadline =
				TimestampTzPlusMilliseconds(GetCurrentTimestamp(), pinpipe_batch_timeout_ms);
		consumer.batch[consumer.batch_len++] = m;
		consumer.batch_bytes += m->len;
		consumer.brokers_up = 1;
	}
}

/*
 * Wake librdkafka's fetcher once the queue it stopped on is half drained
 * (consumer_prefetch.h): ask the partitions' leaders for their latest offsets.
 * The answer is not used; the request is what reaches the broker threads.
 */
static void
ConsumerPrefetchCheck(void)
{
	rd_kafka_topic_partition_list_t *list;

	if (!consumer.prefetch.enabled)
		return;
	if (consumer.batch_len > 0)
		consumer.avg_msg_bytes = consumer.batch_bytes / consumer.batch_len;
	if (consumer.nparts == 0 ||
		!ConsumerPrefetchWakeDue(&consumer.prefetch, rd_kafka_queue_length(consumer.queue),
								 consumer.avg_msg_bytes))
		return;
	if (consumer.prefetch.wakes == 1)
		ereport(LOG, (errmsg("%s: librdkafka %s stops fetching while its queue is full and "
							 "looks again only after a second: the consumer wakes it when "
							 "it has drained the queue",
							 consumer.who, rd_kafka_version_str())));
	list = rd_kafka_topic_partition_list_new(consumer.nparts);
	for (int k = 0; k < consumer.nparts; k++)
		rd_kafka_topic_partition_list_add(list, consumer.parts[k].topic,
										  consumer.parts[k].partition)
			->offset = RD_KAFKA_OFFSET_END;
	(void) rd_kafka_offsets_for_times(consumer.rk, list, CONSUMER_PREFETCH_WAKE_MS);
	rd_kafka_topic_partition_list_destroy(list);
}

/* Log Kafka errors and broker state changes (once per change). */
static void
ConsumerReportKafkaState(void)
{
	if (consumer.kafka_error_pending)
	{
		consumer.kafka_error_pending = false;
		/* during an outage the state says it all; otherwise each distinct error once in a row */
		if (consumer.brokers_up != 0 &&
			strcmp(consumer.kafka_error, consumer.kafka_error_logged) != 0)
		{
			ereport(LOG, (errmsg("pinpipe consumer %d: Kafka: %s", consumer.number,
								 consumer.kafka_error)));
			strlcpy(consumer.kafka_error_logged, consumer.kafka_error,
					sizeof(consumer.kafka_error_logged));
		}
	}
	if (consumer.brokers_up == 0 && consumer.backoff.retry_at == 0)
		ConsumerSetState(CONSUMER_BROKER_UNREACHABLE, consumer.kafka_error);
	else if (consumer.brokers_up == 1 && consumer.backoff.retry_at == 0)
		ConsumerSetState(ConsumerRunningState(), NULL);
}

/* WorkerTry body of ConsumerTryApplyAssignment. */
static void
ConsumerApplyAssignmentBody(void *arg)
{
	ConsumerApplyAssignment();
}

/* Apply a pending assignment; on a database error schedule a retry and return false. */
static bool
ConsumerTryApplyAssignment(void)
{
	ErrorData *edata = WorkerTry(ConsumerApplyAssignmentBody, NULL, consumer.batch_context);

	if (edata == NULL)
	{
		WorkerBackoffReset(&consumer.backoff);
		return true;
	}
	WorkerStatusSetError(consumer.ws, edata->message);
	ereport(WARNING,
			(errmsg("%s: could not read stored offsets: %s", consumer.who, edata->message)));
	MemoryContextReset(consumer.batch_context);
	(void) WorkerBackoffFailed(&consumer.backoff);
	return false;
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
	ConsumerSetState(CONSUMER_CONNECTING, NULL);

	wes = PinpipeCreateWaitEventSet(CurrentMemoryContext, 3);
	AddWaitEventToSet(wes, WL_LATCH_SET, PGINVALID_SOCKET, MyLatch, NULL);
	AddWaitEventToSet(wes, WL_EXIT_ON_PM_DEATH, PGINVALID_SOCKET, NULL, NULL);
	AddWaitEventToSet(wes, WL_SOCKET_READABLE, consumer.pipe[0], NULL, NULL);

	for (;;)
	{
		WaitEvent event;
		long timeout;

		if (!more)
		{
			timeout = CONSUMER_TICK_MS;
			if (consumer.backoff.retry_at != 0)
				timeout = Min(timeout, WorkerMsUntil(consumer.backoff.retry_at));
			else if (consumer.batch_len > 0)
				timeout = Min(timeout, WorkerMsUntil(consumer.batch_deadline));
			if (consumer.pending_assignment)
				timeout =
					Min(timeout,
						consumer.backoff.retry_at ? WorkerMsUntil(consumer.backoff.retry_at) : 0);
			if ((consumer.restart_fetch || consumer.unassign_pending) && consumer.fetch_settling)
				timeout = Min(timeout, WorkerMsUntil(consumer.settle_deadline));
			(void) WaitEventSetWait(wes, timeout, &event, 1, PG_WAIT_EXTENSION);
		}
		ResetLatch(MyLatch);
		if (WorkerServiceInterrupts(consumer.who))
			ConsumerAfterReload();
		ConsumerDrainPipe();

		/* A batch waiting for its retry is kept as is: no polling meanwhile. */
		more = false;
		if (consumer.backoff.retry_at == 0)
		{
			if (consumer.batch_len == 0 && consumer.batch_cap != pinpipe_batch_size)
			{
				if (consumer.batch)
					pfree(consumer.batch);
				consumer.batch_cap = pinpipe_batch_size;
				consumer.batch = MemoryContextAlloc(TopMemoryContext, sizeof(rd_kafka_message_t *) *
																		  consumer.batch_cap);
			}
			/* the fill the fetcher left, then what the poll left of it */
			ConsumerPrefetchCheck();
			more = ConsumerPoll();
			ConsumerPrefetchCheck();
		}

		if (consumer.unassign_pending && ConsumerFetchSettled("giving up the revoked partitions"))
			ConsumerUnassign();
		if (consumer.pending_assignment && !consumer.unassign_pending &&
			!WorkerBackoffWaiting(&consumer.backoff))
		{
			if (!ConsumerTryApplyAssignment() && !ConsumerExtensionReady())
				break;
			more = true;
		}

		if (consumer.batch_len > 0 &&
			(consumer.batch_len >= consumer.batch_cap ||
			 GetCurrentTimestamp() >= consumer.batch_deadline) &&
			!WorkerBackoffWaiting(&consumer.backoff))
		{
			if (!ConsumerWriteBatch())
				break;
			next_check = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), CONSUMER_IDLE_CHECK_MS);
			more = true; /* the queue may hold more than one batch */
		}
		if (consumer.restart_fetch && consumer.batch_len == 0 && !consumer.pending_assignment &&
			ConsumerRestartFetch())
			more = true;

		ConsumerReportKafkaState();

		/* Nothing written for a while: make sure the extension was not dropped. */
		if (consumer.batch_len == 0 && GetCurrentTimestamp() >= next_check)
		{
			if (!ConsumerExtensionReady())
				break;
			next_check = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), CONSUMER_IDLE_CHECK_MS);
		}
		if (GetCurrentTimestamp() >= next_tick)
		{
			ConsumerFollowMovedOffsets();
			ConsumerPublishPartitions();
			/*
			 * Give freed memory back to the system once per tick. librdkafka's
			 * broker threads decompress each fetched message set into a buffer
			 * of about a megabyte in their own malloc arenas; freed, such buffers
			 * stay resident in the arena, so without this the worker's private
			 * memory would stay at its peak (docs/kafka.md, "Memory").
			 */
			malloc_trim(0);
			next_tick = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), CONSUMER_TICK_MS);
		}
	}

	FreeWaitEventSet(wes);
	ConsumerDestroy();
	ConsumerPublishPartitions();
}

/*
 * Wait (latch-driven) until the extension exists in pinpipe.database. Without
 * a database session (it was missing when this process started), wait until
 * the database exists, then restart connected to it.
 */
static void
ConsumerWaitUntilReady(void)
{
	WorkerDbState logged = WORKER_DB_READY;
	char problem[WORKER_PROBLEM_LEN];
	WorkerDbState state;

	while ((state = WorkerCheckDatabase(problem, sizeof(problem))) != WORKER_DB_READY)
	{
		if (state == WORKER_DB_APPEARED)
		{
			char why[WORKER_PROBLEM_LEN + 64];

			snprintf(why, sizeof(why), "database \"%s\" exists now, connecting to it",
					 pinpipe_database);
			WorkerExitToRestart(consumer.who, why);
		}
		if (state != logged)
		{
			ConsumerSetState(state == WORKER_DB_NO_EXTENSION ? CONSUMER_WAITING_FOR_EXTENSION
															 : CONSUMER_WAITING_FOR_DATABASE,
							 NULL);
			WorkerStatusSetError(consumer.ws, problem);
			ereport(LOG, (errmsg("%s: %s; checking every %d s", consumer.who, problem,
								 CONSUMER_IDLE_CHECK_MS / 1000),
						  state == WORKER_DB_NO_EXTENSION
							  ? errhint("Run CREATE EXTENSION pinpipe in database \"%s\".",
										pinpipe_database)
							  : (state == WORKER_DB_MISSING
									 ? errhint("Create database \"%s\" or set pinpipe.database.",
											   pinpipe_database)
									 : 0)));
			logged = state;
		}
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 CONSUMER_IDLE_CHECK_MS, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		WorkerServiceInterrupts(consumer.who);
	}
}

void
pinpipe_consumer_main(Datum main_arg)
{
	consumer.number = DatumGetInt32(main_arg);
	snprintf(consumer.who, sizeof(consumer.who), "pinpipe consumer %d", consumer.number);

	/* not graceful: a SIGTERM cancels a running batch (it is rolled back, replayed later) */
	WorkerSignals(false);

	consumer.ws = WorkerStatusAttach(WORKER_KIND_CONSUMER, consumer.number);
	WorkerStatusSetState(consumer.ws, consumer_state_names[CONSUMER_STARTING]);
	before_shmem_exit(ConsumerAtExit, (Datum) 0);

	WorkerConnect(true);
	pgstat_report_appname("pinpipe consumer");
	consumer.batch_context =
		AllocSetContextCreate(TopMemoryContext, "pinpipe consumer batch", ALLOCSET_DEFAULT_SIZES);

	for (;;)
	{
		ConsumerWaitUntilReady();
		ConsumerRun();
		ConsumerSetState(CONSUMER_WAITING_FOR_EXTENSION, NULL);
	}
}

void
ConsumerInit(void)
{
	if (!process_shared_preload_libraries_in_progress || !GucKafkaEnabled())
		return;
	for (int i = 0; i < pinpipe_consumer_workers; i++)
		WorkerRegister("consumer", i, "pinpipe_consumer_main");
}
