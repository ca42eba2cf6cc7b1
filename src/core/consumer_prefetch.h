/*
 * consumer_prefetch.h — waking librdkafka's fetcher when the consumer has
 * drained its prefetch queue, for librdkafka before 2.2.
 *
 * librdkafka stops fetching when the consumer's queue reaches
 * queued.max.messages.kbytes (or queued.min.messages) and, before 2.2, looks
 * again only when something wakes the broker thread: at the latest after a
 * second. A worker draining a 16 MB queue at 40,000 pins/s is done in half of
 * that and then waits (docs/kafka.md, "Third round"). 2.2 made the look-again
 * delay a setting (fetch.queue.backoff.ms, 10 ms in pinpipe's defaults). Before
 * 2.2, the only public calls that reach the broker threads without discarding
 * prefetched messages are requests; the consumer sends one cheap request (the
 * latest offsets of its partitions, rd_kafka_offsets_for_times) when the queue,
 * seen at least three quarters full since the last wake, has gone below half.
 * A queue that never fills (the consumer keeps up) sends none.
 */
#ifndef CONSUMER_PREFETCH_H
#define CONSUMER_PREFETCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct ConsumerPrefetch
{
	bool enabled;	   /* librdkafka before 2.2 */
	int64_t max_bytes; /* queued.max.messages.kbytes, in bytes */
	int64_t max_msgs;  /* queued.min.messages */
	bool high;		   /* seen three quarters full since the last wake */
	uint64_t wakes;	   /* wakes sent */
} ConsumerPrefetch;

/*
 * Whether to wake the fetcher now, given the messages queued and the average
 * size of a message (pure: records what it saw in p).
 */
extern bool ConsumerPrefetchWakeDue(ConsumerPrefetch *p, size_t queued_msgs, size_t avg_msg_bytes);

#endif /* CONSUMER_PREFETCH_H */
