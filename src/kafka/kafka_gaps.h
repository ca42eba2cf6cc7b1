/*
 * kafka_gaps.h — offsets the consumer could not read: a stored offset outside
 * the partition's log (retention passed it, or the topic was re-created), what
 * pinpipe.offset_out_of_range says to do about it, and the record of every
 * skipped range in pinpipe.kafka_gaps (docs/kafka.md, "Gaps").
 */
#ifndef KAFKA_GAPS_H
#define KAFKA_GAPS_H

#include "postgres.h"

/* Why a range of offsets was skipped (pinpipe.kafka_gaps.reason). */
typedef enum KafkaGapReason
{
	KAFKA_GAP_LOG_START_PASSED, /* offset below the log start: deleted before it was read */
	KAFKA_GAP_LOG_END_PASSED,	/* offset past the log end: the log was re-created or truncated */
	KAFKA_GAP_RESET_OFFSETS		/* an operator moved the offset forward */
} KafkaGapReason;

/*
 * One out-of-range event of a partition. The consumer continues at resume
 * (an absolute offset, or librdkafka's logical BEGINNING/END when the log's
 * bounds were not known); to_offset is then taken from the first message.
 */
typedef struct KafkaGap
{
	bool pending; /* detected, row not written yet */
	KafkaGapReason reason;
	int64 from_offset; /* the offset that was out of range */
	int64 to_offset;   /* where reading continues (exclusive end); -1 unknown yet */
	int64 log_start;   /* log bounds when detected; -1 unknown */
	int64 log_end;
	int64 resume;  /* offset to start the partition's fetcher at */
	int64 skipped; /* messages of the current log not read */
} KafkaGap;

/*
 * Decide about an offset out of the log [log_start, log_end) under mode
 * (PinpipeOffsetOutOfRange). The skipped range starts at from (offset, or the
 * start of a gap not yet written that this one extends). Fills *gap; returns
 * false when the partition is to pause (the gap is then not pending: nothing
 * is skipped until an operator moves the offset).
 */
extern bool KafkaGapDecide(int mode, int64 from, int64 offset, int64 log_start, int64 log_end,
						   KafkaGap *gap);

/* The first message after a gap of unknown end arrived at offset: that is the end. */
extern void KafkaGapResolve(KafkaGap *gap, int64 offset);

/* The WARNING for a gap (or a pause), naming topic, partition and the range. */
extern void KafkaGapWarn(int worker, const char *topic, int32 partition, int mode,
						 const KafkaGap *gap);

/* Insert the gap's row (inside the caller's transaction, SPI connected). */
extern void KafkaGapRecord(const char *group, const char *topic, int32 partition,
						   const KafkaGap *gap);

/* pinpipe.kafka_gaps.reason of a reason. */
extern const char *KafkaGapReasonName(KafkaGapReason reason);

#endif /* KAFKA_GAPS_H */
