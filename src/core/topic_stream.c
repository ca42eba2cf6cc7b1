/*
 * topic_stream.c — the topic-to-stream rule (see topic_stream.h).
 */
#include "topic_stream.h"

#include <string.h>

/* The streams in the order of TopicStreamConfig, with their topic-name suffixes. */
#define TOPIC_NSTREAMS 3
static const char *const topic_stream_names[TOPIC_NSTREAMS] = {"pin", "geo", "user"};
static const char *const topic_stream_suffixes[TOPIC_NSTREAMS] = {".pin", ".geo", ".user"};

/* The configured topics of config, in stream order. */
static void
TopicConfigured(const TopicStreamConfig *config, const char *out[TOPIC_NSTREAMS])
{
	out[0] = config->pin_topic;
	out[1] = config->geo_topic;
	out[2] = config->user_topic;
}

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
	const char *configured[TOPIC_NSTREAMS];

	if (topic == NULL || len == 0)
		return NULL;
	TopicConfigured(config, configured);
	for (int i = 0; i < TOPIC_NSTREAMS; i++)
		if (TopicIs(configured[i], topic, len))
			return topic_stream_names[i];
	for (int i = 0; i < TOPIC_NSTREAMS; i++)
		if (TopicEndsWith(topic, len, topic_stream_suffixes[i]))
			return topic_stream_names[i];
	return NULL;
}

/* Append text to buf at *used; a regex metacharacter is escaped when escape is set. */
static bool
TopicPatternAppend(char *buf, size_t size, size_t *used, const char *text, bool escape)
{
	for (const char *p = text; *p; p++)
	{
		bool special = escape && strchr(".[]()*+?{}|^$\\", *p) != NULL;

		if (*used + (special ? 2 : 1) >= size)
		{
			buf[*used] = '\0';
			return false;
		}
		if (special)
			buf[(*used)++] = '\\';
		buf[(*used)++] = *p;
	}
	buf[*used] = '\0';
	return true;
}

/*
 * ^(configured|...|.+\.(pin|geo|user))$: each configured topic literally, then
 * "something, a dot and a suffix" (".+" as TopicEndsWith wants a non-empty id).
 */
bool
TopicStreamPattern(const TopicStreamConfig *config, char *buf, size_t size)
{
	const char *configured[TOPIC_NSTREAMS];
	size_t used = 0;

	if (size == 0)
		return false;
	buf[0] = '\0';
	TopicConfigured(config, configured);
	if (!TopicPatternAppend(buf, size, &used, "^(", false))
		return false;
	for (int i = 0; i < TOPIC_NSTREAMS; i++)
		if (configured[i] != NULL && configured[i][0] != '\0' &&
			(!TopicPatternAppend(buf, size, &used, configured[i], true) ||
			 !TopicPatternAppend(buf, size, &used, "|", false)))
			return false;
	if (!TopicPatternAppend(buf, size, &used, ".+(", false))
		return false;
	for (int i = 0; i < TOPIC_NSTREAMS; i++)
		if ((i > 0 && !TopicPatternAppend(buf, size, &used, "|", false)) ||
			!TopicPatternAppend(buf, size, &used, topic_stream_suffixes[i], true))
			return false;
	return TopicPatternAppend(buf, size, &used, "))$", false);
}
