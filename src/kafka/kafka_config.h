/*
 * kafka_config.h — librdkafka configuration built from the pinpipe.* settings,
 * shared by the consumer workers and the HTTP worker's producer.
 *
 * Applies bootstrap.servers = pinpipe.kafka_brokers, then every key=value of
 * pinpipe.kafka_config (so users can pass security settings), then the role's
 * own required properties (which users cannot override, e.g. the producer's
 * enable.idempotence=true and acks=all, the consumer's enable.auto.commit=false).
 */
#ifndef KAFKA_CONFIG_H
#define KAFKA_CONFIG_H

#include <librdkafka/rdkafka.h>

typedef enum KafkaRole
{
	KAFKA_ROLE_CONSUMER,
	KAFKA_ROLE_PRODUCER
} KafkaRole;

/*
 * Whether librdkafka's fetcher, stopped by a full queue, looks again by itself
 * within fetch.queue.backoff.ms (librdkafka 2.2 and later); before 2.2 it waits
 * up to a second for something to wake it (consumer_prefetch.h).
 */
extern bool KafkaFetcherLooksAgain(void);

/*
 * A new configuration for the role, or NULL with errstr filled in when a
 * property is rejected by librdkafka. Pure librdkafka calls: safe anywhere, but
 * reads the GUC variables, so call it from the worker's main thread.
 */
extern rd_kafka_conf_t *KafkaConfigNew(KafkaRole role, const char *client_id, char *errstr,
									   size_t errlen);

/* Called for each key=value pair; false (errstr filled in) stops the parse. */
typedef bool (*KafkaConfigPairFn)(const char *key, const char *value, void *arg, char *errstr,
								  size_t errlen);

/*
 * The one reader of pinpipe.kafka_config ("k=v,k=v", blanks around keys and
 * values ignored, empty items allowed): calls fn (if not NULL) per pair.
 * False with errstr (a full sentence) when an item is not key=value.
 */
extern bool KafkaConfigParse(const char *pairs, KafkaConfigPairFn fn, void *arg, char *errstr,
							 size_t errlen);

/* From librdkafka statistics JSON: is any real (configured or learned) broker UP? */
extern bool KafkaStatsBrokerUp(const char *json);

#endif /* KAFKA_CONFIG_H */
