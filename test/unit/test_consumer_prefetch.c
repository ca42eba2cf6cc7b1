/*
 * test_consumer_prefetch.c — when the consumer wakes librdkafka's fetcher
 * (src/core/consumer_prefetch.c), built with ASan/UBSan by `make unit`.
 */
#include <stdio.h>
#include <string.h>

#include "consumer_prefetch.h"
#include "unit_check.h"

/* a 16 MB, 100,000-message queue of 730-byte messages holds about 22,980 of them */
static ConsumerPrefetch
Queue(bool enabled)
{
	ConsumerPrefetch p;

	memset(&p, 0, sizeof(p));
	p.enabled = enabled;
	p.max_bytes = 16384 * 1024;
	p.max_msgs = 100000;
	return p;
}

int
main(void)
{
	ConsumerPrefetch p = Queue(true);

	/* a consumer that keeps up: the queue never fills, nothing is sent */
	for (int i = 0; i < 100; i++)
		CHECK(!ConsumerPrefetchWakeDue(&p, (size_t) (i % 7) * 100, 730), "keeping up, step %d", i);
	CHECK(p.wakes == 0, "no wake while keeping up");

	/* a backlog: full (stopped fetcher), drained batch by batch */
	CHECK(!ConsumerPrefetchWakeDue(&p, 23000, 730), "full");
	CHECK(!ConsumerPrefetchWakeDue(&p, 18000, 730), "three quarters");
	CHECK(!ConsumerPrefetchWakeDue(&p, 13000, 730), "still above half");
	CHECK(ConsumerPrefetchWakeDue(&p, 8000, 730), "below half: wake");
	CHECK(!ConsumerPrefetchWakeDue(&p, 3000, 730), "once per fill");
	CHECK(!ConsumerPrefetchWakeDue(&p, 0, 730), "not again when empty");
	CHECK(!ConsumerPrefetchWakeDue(&p, 23000, 730), "refilled");
	CHECK(ConsumerPrefetchWakeDue(&p, 0, 730), "drained in one go: wake");
	CHECK(p.wakes == 2, "two wakes, got %llu", (unsigned long long) p.wakes);

	/* the bound in messages counts too (small messages, many of them) */
	p = Queue(true);
	CHECK(!ConsumerPrefetchWakeDue(&p, 90000, 10), "90,000 small messages: full by count");
	CHECK(ConsumerPrefetchWakeDue(&p, 40000, 10), "40,000 of them: below half");

	/* before the first message the size is unknown: the count alone decides */
	p = Queue(true);
	CHECK(!ConsumerPrefetchWakeDue(&p, 20000, 0), "unknown size, a fifth by count");
	CHECK(p.wakes == 0 && !p.high, "not seen full");

	/* librdkafka 2.2 and later looks again by itself */
	p = Queue(false);
	CHECK(!ConsumerPrefetchWakeDue(&p, 23000, 730) && !ConsumerPrefetchWakeDue(&p, 0, 730),
		  "disabled: never");
	return UnitReport("test_consumer_prefetch");
}
