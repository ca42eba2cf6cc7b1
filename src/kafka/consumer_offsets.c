/*
 * consumer_offsets.c — stored Kafka offsets (consumer_offsets.h), through saved
 * SPI plans with parameters. Dead letters, oversize messages included, go through
 * the sink.
 *
 * The offset write is a fence: it only inserts a row that did not exist when
 * this worker read the offsets at assignment, and only updates a row whose
 * next_offset is the one this worker read (or wrote in its last batch). If a
 * rebalance handed the partition to another worker that already committed past
 * it, the update matches nothing and the whole batch is rolled back, so no
 * message is ever stored twice even when two workers briefly overlap.
 * Concurrent writers of one partition serialise on the row lock.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/builtins.h"

#include "consumer_offsets.h"

static SPIPlanPtr read_plan = NULL;
static SPIPlanPtr insert_plan = NULL;
static SPIPlanPtr update_plan = NULL;

/* Prepare and keep a plan (once per process; plancache replans after DDL). */
static SPIPlanPtr
ConsumerOffsetsPlan(SPIPlanPtr *plan, const char *sql, int nargs, Oid *types)
{
	if (*plan == NULL)
	{
		SPIPlanPtr p = SPI_prepare(sql, nargs, types);

		if (p == NULL)
			elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
		SPI_keepplan(p);
		*plan = p;
	}
	return *plan;
}

void
ConsumerOffsetsRead(const char *group, const char *const *topics, const int32 *partitions,
					int64 *next, int n)
{
	Oid types[1] = {TEXTOID};
	Datum values[1];
	SPIPlanPtr plan;
	int rc;

	/* the group's rows of every topic: few, and matched below without a topic array */
	plan =
		ConsumerOffsetsPlan(&read_plan,
							"SELECT topic, \"partition\", next_offset FROM pinpipe.kafka_offsets "
							"WHERE consumer_group = $1",
							1, types);
	values[0] = CStringGetTextDatum(group);
	rc = SPI_execute_plan(plan, values, NULL, true, 0);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "reading pinpipe.kafka_offsets failed: %s", SPI_result_code_string(rc));

	for (int i = 0; i < n; i++)
		next[i] = CONSUMER_OFFSET_NONE;
	for (uint64 r = 0; r < SPI_processed; r++)
	{
		bool isnull;
		char *topic = SPI_getvalue(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 1);
		int32 part =
			DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 2, &isnull));
		int64 off =
			DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 3, &isnull));

		for (int i = 0; i < n; i++)
			if (partitions[i] == part && strcmp(topics[i], topic) == 0)
				next[i] = off;
	}
}

bool
ConsumerOffsetsStore(const char *group, const char *topic, int32 partition, int64 expected,
					 int64 next_offset)
{
	Oid types[5] = {TEXTOID, TEXTOID, INT4OID, INT8OID, INT8OID};
	Datum values[5];
	SPIPlanPtr plan;
	int rc;

	values[0] = CStringGetTextDatum(group);
	values[1] = CStringGetTextDatum(topic);
	values[2] = Int32GetDatum(partition);
	values[3] = Int64GetDatum(next_offset);
	values[4] = Int64GetDatum(expected);

	if (expected == CONSUMER_OFFSET_NONE)
	{
		/* first batch of this partition: someone else's row means we lost */
		plan = ConsumerOffsetsPlan(&insert_plan,
								   "INSERT INTO pinpipe.kafka_offsets "
								   "(consumer_group, topic, \"partition\", next_offset) "
								   "VALUES ($1, $2, $3, $4) "
								   "ON CONFLICT (consumer_group, topic, \"partition\") DO NOTHING",
								   4, types);
		rc = SPI_execute_plan(plan, values, NULL, false, 0);
		if (rc != SPI_OK_INSERT)
			elog(ERROR, "writing pinpipe.kafka_offsets failed: %s", SPI_result_code_string(rc));
	}
	else
	{
		/* a row that moved (or vanished, e.g. the extension was recreated) means we lost */
		plan =
			ConsumerOffsetsPlan(&update_plan,
								"UPDATE pinpipe.kafka_offsets "
								"SET next_offset = $4, updated_at = now() "
								"WHERE consumer_group = $1 AND topic = $2 AND \"partition\" = $3 "
								"AND next_offset = $5",
								5, types);
		rc = SPI_execute_plan(plan, values, NULL, false, 0);
		if (rc != SPI_OK_UPDATE)
			elog(ERROR, "writing pinpipe.kafka_offsets failed: %s", SPI_result_code_string(rc));
	}
	return SPI_processed == 1;
}
