/*
 * guc.h — the pinpipe.* settings (DESIGN §6). Defined in guc.c; every module reads
 * them through these variables.
 */
#ifndef PINPIPE_GUC_H
#define PINPIPE_GUC_H

#include "topic_stream.h"

/* Where workers connect */
extern char *pinpipe_database;

/* Kafka */
extern char *pinpipe_kafka_brokers;
extern char *pinpipe_topic;
extern char *pinpipe_geo_topic;
extern char *pinpipe_user_topic;
extern char *pinpipe_consumer_group;
extern char *pinpipe_kafka_config;
extern int pinpipe_consumer_workers;
extern int pinpipe_start_offset;
extern int pinpipe_batch_size;
extern int pinpipe_batch_timeout_ms;
extern int pinpipe_max_message_bytes;
extern int pinpipe_offset_out_of_range;

/* HTTP */
extern int pinpipe_http_port;
extern char *pinpipe_http_listen_addresses;
extern char *pinpipe_http_auth_token;
extern int pinpipe_http_max_body;
extern int pinpipe_http_max_connections;
extern int pinpipe_http_max_connections_per_client;
extern int pinpipe_http_timeout;

typedef enum PinpipeStartOffset
{
	PINPIPE_START_EARLIEST = 0,
	PINPIPE_START_LATEST
} PinpipeStartOffset;

/* pinpipe.offset_out_of_range */
typedef enum PinpipeOffsetOutOfRange
{
	PINPIPE_OOR_EARLIEST = 0,
	PINPIPE_OOR_LATEST,
	PINPIPE_OOR_PAUSE
} PinpipeOffsetOutOfRange;

/* Define every pinpipe.* GUC and reserve the prefix. */
extern void GucInit(void);

/*
 * The streams' configured topics (pinpipe.topic, geo_topic, user_topic) for
 * TopicStreamName. Inline: the request layer's unit test has the settings but not guc.c.
 */
static inline TopicStreamConfig
GucTopicStreams(void)
{
	TopicStreamConfig config = {pinpipe_topic, pinpipe_geo_topic, pinpipe_user_topic};

	return config;
}

/* True when pinpipe.kafka_brokers is set (Kafka mode). */
extern bool GucKafkaEnabled(void);

#endif /* PINPIPE_GUC_H */
