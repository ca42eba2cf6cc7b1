/*
 * kafka_config.c — builds librdkafka configurations from the pinpipe.* settings
 * for the consumer workers and the HTTP worker's producer (kafka_config.h).
 *
 * All librdkafka policy lives here. Order matters: the role's defaults, then
 * bootstrap.servers, then the user's pinpipe.kafka_config pairs, then the
 * role's required properties, so a user can tune timeouts or security but
 * cannot turn off what exactly-once delivery depends on.
 */
#include "postgres.h"

#include "kafka_config.h"
#include "guc.h"

/*
 * Defaults a user may override: a stopped or crashed consumer's partitions move
 * to the others after 10 s instead of 45 s; prefetching is bounded.
 */
static const char *const consumer_defaults[][2] = {
	{"session.timeout.ms", "10000"},
	{"heartbeat.interval.ms", "1000"},
	/*
	 * Bounded prefetch, so the worker's memory does not grow with the number
	 * of partitions or the backlog: librdkafka's defaults (64 MB queued, fetch
	 * responses of up to 50 MB) would buffer hundreds of MB. Both queue bounds
	 * apply to the consumer's whole queue, all partitions together (librdkafka
	 * counts a partition's queue through its forwarding to the consumer
	 * queue). The bound is in bytes only: a bound in messages as low as a batch
	 * (it was 1,000) stops every partition's fetcher once per thousand
	 * messages, and librdkafka before 2.2 looks again only after a second
	 * (below; the consumer wakes it, consumer_prefetch.h). 8 MB holds a fifth
	 * of a second of a worker's fastest writing: with the wake, one worker was
	 * as fast as with 16 MB (40,743 and 40,948 pins/s against 40,254 and
	 * 39,476) and its largest RssAnon 49-54 MB against 64-65 MB (1M pins, 66
	 * partitions). fetch.max.bytes bounds how far one fetch response overshoots the
	 * queue bound: a producer's message set arrives whole and is decompressed
	 * to several times its size (docs/kafka.md, "Memory"); 1 MB rather than
	 * 2 MB took 4-7 MB off a worker's largest RssAnon at 66 partitions with no
	 * throughput change the bench could tell from noise.
	 */
	{"queued.max.messages.kbytes", "8192"},
	{"queued.min.messages", "100000"},
	{"fetch.message.max.bytes", "262144"},
	{"fetch.max.bytes", "1048576"},
	/*
	 * The consumers subscribe by regex (kafka_consumer.c): a topic created later
	 * (a REST-proxy client's first "<id>.geo") is only seen at a metadata
	 * refresh, every 5 minutes by librdkafka's default.
	 */
	{"topic.metadata.refresh.interval.ms", "10000"},
	{NULL, NULL}};

/*
 * librdkafka 2.2 and later: how soon a fetcher stopped by a full queue looks
 * again (librdkafka's default, and the fixed value before 2.2, is 1 s: the
 * consumer drains an 8 MB queue in a fraction of that and then waits for the
 * rest of the second, about half of its time at full speed).
 */
static const char *const consumer_defaults_2_2[][2] = {{"fetch.queue.backoff.ms", "10"},
													   {NULL, NULL}};
#define KAFKA_VERSION_2_2 0x020200ff

/* Properties a role needs for its guarantees; applied last, so they win. */
static const char *const consumer_required[][2] = {
	{"enable.auto.commit", "false"},
	{"enable.auto.offset.store", "false"},
	/*
	 * We seek to offsets stored in PostgreSQL; Kafka's committed ones are
	 * advisory. An offset outside the log must come back to us as an error
	 * (kafka_gaps.c decides and records), never be reset silently.
	 */
	{"auto.offset.reset", "error"},
	/* end-of-partition events prove a restarted fetcher runs (kafka_consumer.c) */
	{"enable.partition.eof", "true"},
	{"statistics.interval.ms", "1000"},
	{NULL, NULL}};

/*
 * Producer defaults: every HTTP request waits for its acknowledgement, so the
 * delivery timeout bounds the wait a client sees (docs/http.md) and batching
 * delay is latency (concurrent requests still share batches).
 */
static const char *const producer_defaults[][2] = {
	{"message.timeout.ms", "10000"}, {"linger.ms", "1"}, {NULL, NULL}};

static const char *const producer_required[][2] = {
	{"enable.idempotence", "true"},
	{"acks", "all"},
	/* broker state comes from the statistics (KafkaStatsBrokerUp) */
	{"statistics.interval.ms", "1000"},
	{NULL, NULL}};

/* Set one property; false with errstr filled in when librdkafka rejects it. */
static bool
KafkaConfigSet(rd_kafka_conf_t *conf, const char *key, const char *value, char *errstr,
			   size_t errlen)
{
	return rd_kafka_conf_set(conf, key, value, errstr, errlen) == RD_KAFKA_CONF_OK;
}

bool
KafkaConfigParse(const char *pairs, KafkaConfigPairFn fn, void *arg, char *errstr, size_t errlen)
{
	const char *p = pairs;

	while (p && *p)
	{
		const char *end = strchr(p, ',');
		size_t n = end ? (size_t) (end - p) : strlen(p);
		const char *eq = memchr(p, '=', n);
		char key[256];
		char value[1024];
		size_t klen, vlen;
		const char *k = p, *v;
		bool blank = true;

		for (size_t i = 0; i < n; i++)
			if (p[i] != ' ' && p[i] != '\t')
				blank = false;
		if (!blank)
		{
			if (eq == NULL)
			{
				snprintf(errstr, errlen,
						 "Each item must be a librdkafka property written as key=value; \"%.*s\" "
						 "is not.",
						 (int) n, p);
				return false;
			}
			while (k < eq && (*k == ' ' || *k == '\t'))
				k++;
			klen = eq - k;
			while (klen > 0 && (k[klen - 1] == ' ' || k[klen - 1] == '\t'))
				klen--;
			v = eq + 1;
			vlen = p + n - v;
			while (vlen > 0 && (*v == ' ' || *v == '\t'))
				v++, vlen--;
			while (vlen > 0 && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
				vlen--;
			if (klen == 0 || klen >= sizeof(key) || vlen >= sizeof(value))
			{
				snprintf(errstr, errlen,
						 "Item \"%.*s\" of pinpipe.kafka_config is not a valid "
						 "key=value pair.",
						 (int) n, p);
				return false;
			}
			memcpy(key, k, klen);
			key[klen] = '\0';
			memcpy(value, v, vlen);
			value[vlen] = '\0';
			if (fn && !fn(key, value, arg, errstr, errlen))
				return false;
		}
		p += n;
		if (*p == ',')
			p++;
	}
	return true;
}

/* KafkaConfigParse callback: set the pair on the rd_kafka_conf_t in arg. */
static bool
KafkaConfigSetPair(const char *key, const char *value, void *arg, char *errstr, size_t errlen)
{
	return KafkaConfigSet((rd_kafka_conf_t *) arg, key, value, errstr, errlen);
}

/* Set every pair of a NULL-terminated table; false with errstr filled in on a rejection. */
static bool
KafkaConfigSetTable(rd_kafka_conf_t *conf, const char *const (*table)[2], char *errstr,
					size_t errlen)
{
	for (int i = 0; table[i][0] != NULL; i++)
		if (!KafkaConfigSet(conf, table[i][0], table[i][1], errstr, errlen))
			return false;
	return true;
}

bool
KafkaFetcherLooksAgain(void)
{
	return rd_kafka_version() >= KAFKA_VERSION_2_2;
}

rd_kafka_conf_t *
KafkaConfigNew(KafkaRole role, const char *client_id, char *errstr, size_t errlen)
{
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	bool consumer = role == KAFKA_ROLE_CONSUMER;

	if (!KafkaConfigSetTable(conf, consumer ? consumer_defaults : producer_defaults, errstr,
							 errlen) ||
		(consumer && KafkaFetcherLooksAgain() &&
		 !KafkaConfigSetTable(conf, consumer_defaults_2_2, errstr, errlen)) ||
		!KafkaConfigSet(conf, "bootstrap.servers",
						pinpipe_kafka_brokers ? pinpipe_kafka_brokers : "", errstr, errlen) ||
		(client_id && !KafkaConfigSet(conf, "client.id", client_id, errstr, errlen)) ||
		!KafkaConfigParse(pinpipe_kafka_config, KafkaConfigSetPair, conf, errstr, errlen) ||
		!KafkaConfigSetTable(conf, consumer ? consumer_required : producer_required, errstr,
							 errlen) ||
		(consumer && !KafkaConfigSet(conf, "group.id", pinpipe_consumer_group, errstr, errlen)))
	{
		rd_kafka_conf_destroy(conf);
		return NULL;
	}
	return conf;
}

/*
 * Statistics JSON lists brokers as {"name":..,"nodeid":..,"nodename":..,
 * "source":"configured"|"learned"|"internal"|"logical","state":"UP",..}; only
 * configured or learned brokers are real connections.
 */
bool
KafkaStatsBrokerUp(const char *json)
{
	const char *p = json;

	while ((p = strstr(p, "\"source\":\"")) != NULL)
	{
		p += strlen("\"source\":\"");
		if (strncmp(p, "configured\"", 11) == 0 || strncmp(p, "learned\"", 8) == 0)
		{
			const char *st = strstr(p, "\"state\":\"");

			if (st && strncmp(st + strlen("\"state\":\""), "UP\"", 3) == 0)
				return true;
		}
	}
	return false;
}
