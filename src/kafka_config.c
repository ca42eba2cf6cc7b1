/*
 * kafka_config.c — builds librdkafka configurations from the pinpipe.* settings
 * for the consumer workers and the HTTP worker's producer (kafka_config.h).
 *
 * Order matters: bootstrap.servers, then the user's pinpipe.kafka_config pairs,
 * then the role's required properties, so a user can tune timeouts or security
 * but cannot turn off what exactly-once delivery depends on.
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
	 * of partitions or the backlog: librdkafka's defaults (100,000 messages
	 * and 64 MB per partition queue) would buffer hundreds of MB.
	 */
	{"queued.max.messages.kbytes", "16384"},
	{"queued.min.messages", "1000"},
	{"fetch.message.max.bytes", "262144"},
	{"fetch.max.bytes", "16777216"},
	{NULL, NULL}};

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
	{"enable.partition.eof", "false"},
	{NULL, NULL}};

static const char *const producer_required[][2] = {
	{"enable.idempotence", "true"}, {"acks", "all"}, {NULL, NULL}};

/* Set one property; false with errstr filled in when librdkafka rejects it. */
static bool
KafkaConfigSet(rd_kafka_conf_t *conf, const char *key, const char *value, char *errstr,
			   size_t errlen)
{
	return rd_kafka_conf_set(conf, key, value, errstr, errlen) == RD_KAFKA_CONF_OK;
}

/* Apply "k=v,k=v" pairs; blanks around keys and values are ignored. */
static bool
KafkaConfigApplyPairs(rd_kafka_conf_t *conf, const char *pairs, char *errstr, size_t errlen)
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

		if (eq != NULL)
		{
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
				snprintf(errstr, errlen, "invalid pinpipe.kafka_config item \"%.*s\"", (int) n, p);
				return false;
			}
			memcpy(key, k, klen);
			key[klen] = '\0';
			memcpy(value, v, vlen);
			value[vlen] = '\0';
			if (!KafkaConfigSet(conf, key, value, errstr, errlen))
				return false;
		}
		p += n;
		if (*p == ',')
			p++;
	}
	return true;
}

rd_kafka_conf_t *
KafkaConfigNew(KafkaRole role, const char *client_id, char *errstr, size_t errlen)
{
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	const char *const(*required)[2];

	if (role == KAFKA_ROLE_CONSUMER)
	{
		for (int i = 0; consumer_defaults[i][0] != NULL; i++)
		{
			if (!KafkaConfigSet(conf, consumer_defaults[i][0], consumer_defaults[i][1], errstr,
								errlen))
			{
				rd_kafka_conf_destroy(conf);
				return NULL;
			}
		}
	}
	if (!KafkaConfigSet(conf, "bootstrap.servers",
						pinpipe_kafka_brokers ? pinpipe_kafka_brokers : "", errstr, errlen) ||
		(client_id && !KafkaConfigSet(conf, "client.id", client_id, errstr, errlen)) ||
		!KafkaConfigApplyPairs(conf, pinpipe_kafka_config, errstr, errlen))
	{
		rd_kafka_conf_destroy(conf);
		return NULL;
	}

	required = role == KAFKA_ROLE_CONSUMER ? consumer_required : producer_required;
	for (int i = 0; required[i][0] != NULL; i++)
	{
		if (!KafkaConfigSet(conf, required[i][0], required[i][1], errstr, errlen))
		{
			rd_kafka_conf_destroy(conf);
			return NULL;
		}
	}
	if (role == KAFKA_ROLE_CONSUMER &&
		!KafkaConfigSet(conf, "group.id", pinpipe_consumer_group, errstr, errlen))
	{
		rd_kafka_conf_destroy(conf);
		return NULL;
	}
	return conf;
}
