/*
 * topic_stream.h — which stream (pin, geo, user) a Kafka topic or REST-proxy
 * topic name carries (DESIGN §10): the topic configured for a stream
 * (pinpipe.topic, pinpipe.geo_topic, pinpipe.user_topic), else a name ending in
 * ".pin", ".geo" or ".user" (the REST-proxy clients' "<id>.pin" convention).
 * Used by the consumers (which topics to subscribe to, and a message's stream)
 * and by the HTTP worker's /topics/{topic}. Pure C: no PostgreSQL headers.
 */
#ifndef TOPIC_STREAM_H
#define TOPIC_STREAM_H

#include <stdbool.h>
#include <stddef.h>

/* The configured topic of each stream, in the order pin, geo, user (NULL or "" = none). */
typedef struct TopicStreamConfig
{
	const char *pin_topic;
	const char *geo_topic;
	const char *user_topic;
} TopicStreamConfig;

/*
 * The stream name ("pin", "geo", "user") of topic[0..len), or NULL when the
 * topic maps to no stream. A configured topic wins over a suffix, so a
 * pinpipe.geo_topic named "x.pin" carries geo records.
 */
const char *TopicStreamName(const TopicStreamConfig *config, const char *topic, size_t len);

/*
 * The same rule as a librdkafka regex subscription (POSIX extended syntax, the
 * leading "^" is what makes librdkafka take it as a pattern): it matches
 * exactly the topics TopicStreamName maps to a stream. Written into buf
 * (NUL-terminated); false when it does not fit in size bytes.
 */
bool TopicStreamPattern(const TopicStreamConfig *config, char *buf, size_t size);

#endif /* TOPIC_STREAM_H */
