/*
 * offsets_reset_sql.c — pinpipe.reset_offsets(): move the stored Kafka offsets
 * of a consumer group (replay or skip), by offset or by timestamp.
 *
 * The partitions, their log bounds and the offsets for a timestamp come from
 * the broker through a short-lived librdkafka handle in this backend. Only
 * blocking librdkafka calls with a timeout are made, from this thread; the
 * handle has no callback that could run PostgreSQL code (its log callback is
 * an empty function, called from librdkafka's threads), and it is destroyed
 * before any error is raised. Then one statement per partition moves the row
 * in pinpipe.kafka_offsets; the running consumers notice within a second (or at
 * their next batch, whose fenced offset update fails) and continue there, a
 * paused partition included. Skipping forward writes a kafka_gaps row.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include <librdkafka/rdkafka.h>

#include "consumer_offsets.h"
#include "guc.h"
#include "kafka_config.h"
#include "kafka_gaps.h"
#include "pg_compat.h"

PG_FUNCTION_INFO_V1(pinpipe_reset_offsets);

#define RESET_TIMEOUT_MS 5000
#define RESET_MAX_PARTITIONS 1024
#define RESET_COLS 3

/* What the broker said, or why it could not (raised after the handle is gone). */
typedef struct ResetLookup
{
	int nparts;
	int32 partition[RESET_MAX_PARTITIONS];
	int64 log_start[RESET_MAX_PARTITIONS];
	int64 log_end[RESET_MAX_PARTITIONS];
	int64 target[RESET_MAX_PARTITIONS];
	int sqlstate;
	char error[512];
	char detail[512];
} ResetLookup;

/* librdkafka's own logging goes nowhere (it runs on librdkafka's threads). */
static void
ResetOnLog(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
}

/* Fill lookup->error (first error only). */
static void
ResetFail(ResetLookup *lookup, int sqlstate, const char *detail, const char *fmt, const char *arg)
{
	if (lookup->sqlstate != 0)
		return;
	lookup->sqlstate = sqlstate;
	snprintf(lookup->error, sizeof(lookup->error), fmt, arg);
	snprintf(lookup->detail, sizeof(lookup->detail), "%s", detail ? detail : "");
}

/* The partitions of topic (all, or only `partition`), with their log bounds. */
static void
ResetLookupPartitions(rd_kafka_t *rk, const char *topic, int partition, ResetLookup *lookup)
{
	const struct rd_kafka_metadata *md = NULL;
	const struct rd_kafka_metadata_topic *mt = NULL;
	rd_kafka_resp_err_t err;

	/* all topics: a request naming the topic could make the broker auto-create it */
	err = rd_kafka_metadata(rk, 1, NULL, &md, RESET_TIMEOUT_MS);
	if (err)
		ResetFail(lookup, ERRCODE_CONNECTION_FAILURE, rd_kafka_err2str(err),
				  "could not read the metadata of Kafka topic \"%s\"", topic);
	else
	{
		for (int t = 0; t < md->topic_cnt; t++)
			if (strcmp(md->topics[t].topic, topic) == 0 && md->topics[t].err == 0)
				mt = &md->topics[t];
		if (mt == NULL)
			ResetFail(lookup, ERRCODE_UNDEFINED_OBJECT, NULL, "Kafka topic \"%s\" does not exist",
					  topic);
	}
	if (mt)
	{
		for (int i = 0; i < mt->partition_cnt && lookup->nparts < RESET_MAX_PARTITIONS; i++)
		{
			int32 p = mt->partitions[i].id;

			if (partition < 0 || p == partition)
				lookup->partition[lookup->nparts++] = p;
		}
		if (lookup->nparts == 0)
			ResetFail(lookup, ERRCODE_INVALID_PARAMETER_VALUE, NULL,
					  "Kafka topic \"%s\" has no such partition", topic);
	}
	if (md)
		rd_kafka_metadata_destroy(md);

	for (int i = 0; i < lookup->nparts && lookup->sqlstate == 0; i++)
	{
		int64_t lo, hi;

		err = rd_kafka_query_watermark_offsets(rk, topic, lookup->partition[i], &lo, &hi,
											   RESET_TIMEOUT_MS);
		if (err)
			ResetFail(lookup, ERRCODE_CONNECTION_FAILURE, rd_kafka_err2str(err),
					  "could not read the log bounds of Kafka topic \"%s\"", topic);
		lookup->log_start[i] = lo;
		lookup->log_end[i] = hi;
	}
}

/* The first offset at or after ts_ms per partition; none (-1) means the log end. */
static void
ResetLookupTimes(rd_kafka_t *rk, const char *topic, int64 ts_ms, ResetLookup *lookup)
{
	rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(lookup->nparts);
	rd_kafka_resp_err_t err;

	for (int i = 0; i < lookup->nparts; i++)
		rd_kafka_topic_partition_list_add(list, topic, lookup->partition[i])->offset = ts_ms;
	err = rd_kafka_offsets_for_times(rk, list, RESET_TIMEOUT_MS);
	if (err)
		ResetFail(lookup, ERRCODE_CONNECTION_FAILURE, rd_kafka_err2str(err),
				  "could not look up offsets by timestamp in Kafka topic \"%s\"", topic);
	for (int i = 0; i < lookup->nparts && lookup->sqlstate == 0; i++)
	{
		rd_kafka_topic_partition_t *tp =
			rd_kafka_topic_partition_list_find(list, topic, lookup->partition[i]);

		if (tp == NULL || tp->err)
			ResetFail(lookup, ERRCODE_CONNECTION_FAILURE,
					  tp ? rd_kafka_err2str(tp->err) : "no answer for a partition",
					  "could not look up offsets by timestamp in Kafka topic \"%s\"", topic);
		else
			lookup->target[i] = tp->offset >= 0 ? tp->offset : lookup->log_end[i];
	}
	rd_kafka_topic_partition_list_destroy(list);
}

/* Ask the broker; never raises while the handle exists. */
static void
ResetLookupAll(const char *topic, int partition, bool by_time, int64 ts_ms, ResetLookup *lookup)
{
	char errstr[512];
	rd_kafka_conf_t *conf =
		KafkaConfigNew(KAFKA_ROLE_CONSUMER, "pinpipe-reset-offsets", errstr, sizeof(errstr));
	rd_kafka_t *rk;

	if (conf == NULL)
	{
		ResetFail(lookup, ERRCODE_INVALID_PARAMETER_VALUE, errstr, "%s",
				  "invalid Kafka configuration");
		return;
	}
	rd_kafka_conf_set_log_cb(conf, ResetOnLog);
	rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
	if (rk == NULL)
	{
		ResetFail(lookup, ERRCODE_INVALID_PARAMETER_VALUE, errstr, "%s",
				  "could not create a Kafka client");
		return;
	}
	ResetLookupPartitions(rk, topic, partition, lookup);
	if (lookup->sqlstate == 0 && by_time)
		ResetLookupTimes(rk, topic, ts_ms, lookup);
	rd_kafka_destroy_flags(rk, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
}

/* Move one partition's stored offset; returns the previous one (or NONE). */
static int64
ResetStore(const char *group, const char *topic, int32 partition, int64 next)
{
	Oid types[4] = {TEXTOID, TEXTOID, INT4OID, INT8OID};
	Datum values[4];
	int64 previous = CONSUMER_OFFSET_NONE;
	int rc;

	values[0] = CStringGetTextDatum(group);
	values[1] = CStringGetTextDatum(topic);
	values[2] = Int32GetDatum(partition);
	values[3] = Int64GetDatum(next);
	/* the old row's value, locked, then the new one (a CTE would see only one snapshot) */
	rc = SPI_execute_with_args("SELECT next_offset FROM pinpipe.kafka_offsets "
							   "WHERE consumer_group = $1 AND topic = $2 AND \"partition\" = $3 "
							   "FOR UPDATE",
							   3, types, values, NULL, false, 1);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "reading pinpipe.kafka_offsets failed: %s", SPI_result_code_string(rc));
	if (SPI_processed == 1)
	{
		bool isnull;

		previous =
			DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	}
	rc = SPI_execute_with_args(
		"INSERT INTO pinpipe.kafka_offsets "
		"(consumer_group, topic, \"partition\", next_offset) "
		"VALUES ($1, $2, $3, $4) "
		"ON CONFLICT (consumer_group, topic, \"partition\") "
		"DO UPDATE SET next_offset = EXCLUDED.next_offset, updated_at = now()",
		4, types, values, NULL, false, 0);
	if (rc != SPI_OK_INSERT)
		elog(ERROR, "writing pinpipe.kafka_offsets failed: %s", SPI_result_code_string(rc));
	if (previous != CONSUMER_OFFSET_NONE && next > previous)
	{
		KafkaGap gap;

		memset(&gap, 0, sizeof(gap));
		gap.reason = KAFKA_GAP_RESET_OFFSETS;
		gap.from_offset = previous;
		gap.to_offset = next;
		gap.skipped = next - previous;
		KafkaGapRecord(group, topic, partition, &gap);
	}
	return previous;
}

Datum
pinpipe_reset_offsets(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	char *topic = PG_ARGISNULL(0) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(0));
	bool by_offset = !PG_ARGISNULL(1);
	bool by_time = !PG_ARGISNULL(2);
	int64 to_offset = by_offset ? PG_GETARG_INT64(1) : 0;
	int partition = PG_ARGISNULL(3) ? -1 : PG_GETARG_INT32(3);
	char *group = PG_ARGISNULL(4) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(4));
	int64 ts_ms = 0;
	ResetLookup *lookup;

	if (topic == NULL || topic[0] == '\0')
		ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						errmsg("topic must be a Kafka topic name")));
	if (group == NULL || group[0] == '\0')
		ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						errmsg("consumer_group must be a consumer group name")));
	if (by_offset == by_time)
		ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						errmsg("give exactly one of to_offset and to_timestamp"),
						errhint("pinpipe.reset_offsets('%s', to_offset => 0) replays from "
								"offset 0; to_timestamp => now() skips to the end.",
								topic)));
	if (by_offset && to_offset < 0)
		ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						errmsg("to_offset must not be negative")));
	if (!PG_ARGISNULL(3) && partition < 0)
		ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						errmsg("partition must not be negative")));
	if (by_time)
	{
		TimestampTz ts = PG_GETARG_TIMESTAMPTZ(2);

		if (TIMESTAMP_NOT_FINITE(ts) ||
			ts < -((TimestampTz) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * USECS_PER_DAY))
			ereport(ERROR, (errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
							errmsg("to_timestamp must be a finite time after 1970-01-01")));
		ts_ms = ts / 1000 + (int64) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * SECS_PER_DAY * 1000;
	}
	if (!GucKafkaEnabled())
		ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
						errmsg("pinpipe.kafka_brokers is not set"),
						errdetail("Offsets are checked against the broker's partitions.")));

	lookup = palloc0(sizeof(ResetLookup));
	ResetLookupAll(topic, partition, by_time, ts_ms, lookup);
	if (lookup->sqlstate != 0)
		ereport(ERROR, (errcode(lookup->sqlstate), errmsg("%s", lookup->error),
						lookup->detail[0] ? errdetail_internal("%s", lookup->detail) : 0));
	if (by_offset)
		for (int i = 0; i < lookup->nparts; i++)
		{
			if (to_offset < lookup->log_start[i] || to_offset > lookup->log_end[i])
				ereport(ERROR,
						(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
						 errmsg("offset " INT64_FORMAT " is outside the log of partition %d of "
								"topic \"%s\"",
								to_offset, (int) lookup->partition[i], topic),
						 errdetail("The partition holds offsets " INT64_FORMAT " to " INT64_FORMAT
								   " (exclusive).",
								   lookup->log_start[i], lookup->log_end[i]),
						 errhint("Give an offset in that range, or to_timestamp.")));
			lookup->target[i] = to_offset;
		}

	InitMaterializedSRF(fcinfo, 0);
	SPI_connect();
	for (int i = 0; i < lookup->nparts; i++)
	{
		Datum values[RESET_COLS];
		bool nulls[RESET_COLS] = {false, false, false};
		int64 previous = ResetStore(group, topic, lookup->partition[i], lookup->target[i]);

		values[0] = Int32GetDatum(lookup->partition[i]);
		values[1] = Int64GetDatum(previous);
		nulls[1] = previous == CONSUMER_OFFSET_NONE;
		values[2] = Int64GetDatum(lookup->target[i]);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	SPI_finish();
	return (Datum) 0;
}
