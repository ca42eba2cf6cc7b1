/*
 * kafka_gaps.c — what happens when a stored offset is outside its partition's
 * log (kafka_gaps.h).
 *
 * librdkafka runs with auto.offset.reset=error, so an offset outside the log
 * comes back to the consumer as an error event for that partition (and its
 * fetcher stops) instead of a silent jump. The consumer asks KafkaGapDecide
 * where to go on, logs KafkaGapWarn, and writes KafkaGapRecord in the same
 * transaction as the partition's first batch after the gap, so the gap row and
 * the offset jump over it commit together or not at all.
 *
 * Two kinds of out-of-range offset S in a log [L, E):
 *   S < L  retention (or compaction, or a deleted range) took offsets [S, L)
 *          before they were read: they are gone. earliest continues at L,
 *          latest at E; the gap row is [S, resume) and skipped = resume - S.
 *   S > E  the partition holds fewer messages than pinpipe already read: the
 *          topic was deleted and re-created, or the broker lost acknowledged
 *          messages (unclean leader election). The old offsets mean nothing in
 *          the new log. earliest continues at L (nothing of the new log is
 *          skipped), latest at E (skipping [L, E)); the gap row is [S, resume)
 *          with to_offset < from_offset: a rewind, and skipped counts the
 *          messages of the new log that are not read.
 * pause stops the partition in both cases; nothing is skipped and no row is
 * written until pinpipe.reset_offsets moves the offset (which writes its own
 * row when it skips forward).
 *
 * Runs in the consumer's main thread (or a backend calling reset_offsets).
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/builtins.h"

#include <librdkafka/rdkafka.h>

#include "guc.h"
#include "kafka_gaps.h"

static SPIPlanPtr gap_plan = NULL;

const char *
KafkaGapReasonName(KafkaGapReason reason)
{
	switch (reason)
	{
		case KAFKA_GAP_LOG_START_PASSED:
			return "log_start_passed";
		case KAFKA_GAP_LOG_END_PASSED:
			return "log_end_passed";
		case KAFKA_GAP_RESET_OFFSETS:
			return "reset_offsets";
	}
	return "unknown";
}

/* Messages of the current log that a gap ending at to_offset leaves unread. */
static int64
KafkaGapSkipped(const KafkaGap *gap)
{
	if (gap->to_offset < 0)
		return 0;
	if (gap->reason == KAFKA_GAP_LOG_END_PASSED)
		return gap->log_start >= 0 && gap->to_offset > gap->log_start
				   ? gap->to_offset - gap->log_start
				   : 0;
	return gap->to_offset > gap->from_offset ? gap->to_offset - gap->from_offset : 0;
}

bool
KafkaGapDecide(int mode, int64 from, int64 offset, int64 log_start, int64 log_end, KafkaGap *gap)
{
	memset(gap, 0, sizeof(*gap));
	gap->from_offset = from;
	gap->log_start = log_start;
	gap->log_end = log_end;
	/* unknown bounds (a broker without LogStartOffset in fetches): assume retention */
	gap->reason =
		log_end >= 0 && offset > log_end ? KAFKA_GAP_LOG_END_PASSED : KAFKA_GAP_LOG_START_PASSED;
	if (mode == PINPIPE_OOR_PAUSE)
	{
		gap->to_offset = -1;
		gap->resume = offset;
		return false;
	}
	if (mode == PINPIPE_OOR_LATEST)
		gap->to_offset = log_end;
	else
		gap->to_offset = log_start;
	gap->resume = gap->to_offset;
	if (gap->to_offset < 0)
		gap->resume = mode == PINPIPE_OOR_LATEST ? RD_KAFKA_OFFSET_END : RD_KAFKA_OFFSET_BEGINNING;
	gap->skipped = KafkaGapSkipped(gap);
	gap->pending = true;
	return true;
}

void
KafkaGapResolve(KafkaGap *gap, int64 offset)
{
	if (!gap->pending || gap->to_offset >= 0)
		return;
	gap->to_offset = offset;
	gap->skipped = KafkaGapSkipped(gap);
}

void
KafkaGapWarn(int worker, const char *topic, int32 partition, int mode, const KafkaGap *gap)
{
	const char *mode_name = mode == PINPIPE_OOR_PAUSE	 ? "pause"
							: mode == PINPIPE_OOR_LATEST ? "latest"
														 : "earliest";
	char where[128];
	char bounds[96];

	if (gap->to_offset >= 0)
		snprintf(where, sizeof(where), "offset " INT64_FORMAT, gap->to_offset);
	else
		snprintf(where, sizeof(where), "the log %s (offset not known yet)",
				 mode == PINPIPE_OOR_LATEST ? "end" : "start");
	if (gap->log_start >= 0 && gap->log_end >= 0)
		snprintf(bounds, sizeof(bounds), "[" INT64_FORMAT ", " INT64_FORMAT ")", gap->log_start,
				 gap->log_end);
	else
		snprintf(bounds, sizeof(bounds), "(bounds unknown)");

	if (mode == PINPIPE_OOR_PAUSE)
		ereport(
			WARNING,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("pinpipe consumer %d: partition %d of topic \"%s\" paused: stored "
					"offset " INT64_FORMAT " is %s the partition's log %s",
					worker, (int) partition, topic, gap->from_offset,
					gap->reason == KAFKA_GAP_LOG_END_PASSED ? "past the end of" : "below", bounds),
			 errdetail("pinpipe.offset_out_of_range is pause; the other partitions go on."),
			 errhint("Move the offset with pinpipe.reset_offsets('%s', to_offset => ..., "
					 "\"partition\" => %d), or set pinpipe.offset_out_of_range to earliest "
					 "or latest and reload.",
					 topic, (int) partition)));
	else if (gap->reason == KAFKA_GAP_LOG_START_PASSED)
		ereport(WARNING,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("pinpipe consumer %d: skipping offsets " INT64_FORMAT " to %s of partition "
						"%d of topic \"%s\": they left the log before they were read",
						worker, gap->from_offset, where, (int) partition, topic),
				 errdetail("The stored offset is below the partition's log %s (retention or "
						   "deletion); pinpipe.offset_out_of_range is %s. The range is recorded in "
						   "pinpipe.kafka_gaps with the first batch after it.",
						   bounds, mode_name)));
	else
		ereport(WARNING,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("pinpipe consumer %d: stored offset " INT64_FORMAT " of partition %d of "
						"topic \"%s\" is past the end of its log %s; continuing at %s",
						worker, gap->from_offset, (int) partition, topic, bounds, where),
				 errdetail("The topic was re-created or the broker lost messages; "
						   "pinpipe.offset_out_of_range is %s. The rewind is recorded in "
						   "pinpipe.kafka_gaps with the first batch after it.",
						   mode_name),
				 errhint("Messages at offsets pinpipe already holds for this partition are "
						 "dead-lettered as duplicates (SQLSTATE 23505).")));
}

void
KafkaGapRecord(const char *group, const char *topic, int32 partition, const KafkaGap *gap)
{
	Oid types[7] = {TEXTOID, TEXTOID, INT4OID, INT8OID, INT8OID, INT8OID, TEXTOID};
	Datum values[7];
	int rc;

	if (gap_plan == NULL)
	{
		SPIPlanPtr p = SPI_prepare("INSERT INTO pinpipe.kafka_gaps "
								   "(consumer_group, topic, \"partition\", from_offset, to_offset, "
								   "skipped, reason) VALUES ($1, $2, $3, $4, $5, $6, $7)",
								   7, types);

		if (p == NULL)
			elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
		SPI_keepplan(p);
		gap_plan = p;
	}
	values[0] = CStringGetTextDatum(group);
	values[1] = CStringGetTextDatum(topic);
	values[2] = Int32GetDatum(partition);
	values[3] = Int64GetDatum(gap->from_offset);
	values[4] = Int64GetDatum(gap->to_offset);
	values[5] = Int64GetDatum(gap->skipped);
	values[6] = CStringGetTextDatum(KafkaGapReasonName(gap->reason));
	rc = SPI_execute_plan(gap_plan, values, NULL, false, 0);
	if (rc != SPI_OK_INSERT)
		elog(ERROR, "writing pinpipe.kafka_gaps failed: %s", SPI_result_code_string(rc));
}
