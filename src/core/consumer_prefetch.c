/*
 * consumer_prefetch.c — when to wake librdkafka's fetcher (consumer_prefetch.h).
 * Pure C: the consumer reads the queue's length and sends the wake itself.
 */
#include "consumer_prefetch.h"

bool
ConsumerPrefetchWakeDue(ConsumerPrefetch *p, size_t queued_msgs, size_t avg_msg_bytes)
{
	int64_t by_bytes, by_msgs, fill;

	if (!p->enabled)
		return false;
	/* how full the queue is, by the tighter of its two bounds, in per mille */
	by_bytes = p->max_bytes > 0
				   ? (int64_t) queued_msgs * (int64_t) avg_msg_bytes * 1000 / p->max_bytes
				   : 0;
	by_msgs = p->max_msgs > 0 ? (int64_t) queued_msgs * 1000 / p->max_msgs : 0;
	fill = by_bytes > by_msgs ? by_bytes : by_msgs;
	if (fill >= 750)
	{
		p->high = true;
		return false;
	}
	if (!p->high || fill >= 500)
		return false;
	p->high = false;
	p->wakes++;
	return true;
}
