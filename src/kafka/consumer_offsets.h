/*
 * consumer_offsets.h — the consumer's SQL side: stored Kafka offsets in
 * pinpipe.kafka_offsets (read on assignment, written fenced in each batch's
 * transaction). Messages the consumer refuses itself (oversize) are handed to
 * the sink pre-rejected, like every other dead letter.
 *
 * All functions run inside the caller's transaction, between SPI_connect and
 * SPI_finish, with an active snapshot.
 */
#ifndef CONSUMER_OFFSETS_H
#define CONSUMER_OFFSETS_H

#include "postgres.h"

/* No row stored for the partition. */
#define CONSUMER_OFFSET_NONE ((int64) -1)

/*
 * Fill next[i] with the stored next offset of partition partitions[i] of topic
 * topics[i] for group, or CONSUMER_OFFSET_NONE (one query for every topic).
 */
extern void ConsumerOffsetsRead(const char *group, const char *const *topics,
								const int32 *partitions, int64 *next, int n);

/*
 * Store next_offset for a partition, but only if the stored value is still
 * expected (CONSUMER_OFFSET_NONE: no row yet). Returns false when another
 * consumer moved the partition's offset in the meantime (the caller must roll
 * back); the row stays locked until the end of the transaction otherwise.
 */
extern bool ConsumerOffsetsStore(const char *group, const char *topic, int32 partition,
								 int64 expected, int64 next_offset);

#endif /* CONSUMER_OFFSETS_H */
