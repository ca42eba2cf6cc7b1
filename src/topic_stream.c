/*
 * topic_stream.c — the topic-to-stream rule (see topic_stream.h).
 */
#include "topic_stream.h"

#include <string.h>

static int
TopicIs(const char *configured, const char *topic, size_t len)
{
	return configured != NULL && configured[0] != '\0' && strlen(configured) == len &&
		   memcmp(configured, topic, len) == 0;
}

static int
TopicEndsWith(const char *topic, size_t len, const char *suffix)
{
	size_t n = strlen(suffix);

	/* a bare ".pin" names no id: the suffix needs something before it */
	return len > n && memcmp(topic + len - n, suffix, n) == 0;
}

const char *
TopicStreamName(const TopicStreamConfig *config, const char *topic, size_t len)
{
	static const char *const suffixes[] = {".pin", ".geo", ".user"};
	static const char *const names[] = {"pin", "geo", "user"};
	const char *configured[] = {config->pin_topic, config->geo_topic, config->user_topic};

	if (topic == NULL || len == 0)
		return NULL;
	for (int i = 0; i < 3; i++)
		if (TopicIs(configured[i], topic, len))
			return names[i];
	for (int i = 0; i < 3; i++)
		if (TopicEndsWith(topic, len, suffixes[i]))
			return names[i];
	return NULL;
}
