/*
 * dev_wire.h — the few Kafka protocol messages the dev broker's proxy rewrites or answers.
 *
 * librdkafka's mock cluster (Debian's librdkafka 2.0.2) reports controller id 0 in every
 * Metadata response although its brokers are numbered from 1, and it has no CreateTopics
 * handler. Clients that send requests to "the controller" (kafkajs's admin client and its
 * idempotent producer, kafka-python's admin client) then fail. The proxy in front of the
 * mock fixes exactly that, with these functions:
 *
 *   - Metadata responses (v0-v8): the controller id becomes the lowest broker id listed,
 *     and each broker's port becomes the proxy's port for that broker;
 *   - FindCoordinator responses (v0-v2): the coordinator's port, likewise;
 *   - ApiVersions responses (v0-v2): CreateTopics v0-v4 is added to the list;
 *   - CreateTopics requests (v0-v4) are answered by the proxy, which creates the topics
 *     through a callback (the mock's public rd_kafka_mock_topic_create).
 *
 * Only the non-flexible ("classic") encodings are handled: the mock in librdkafka 2.0.2
 * supports nothing newer for these APIs, and anything else passes through unchanged.
 *
 * A frame is one whole request or response including its 4-byte length prefix. The
 * functions only read and write memory (no sockets, no librdkafka).
 */
#ifndef DEV_WIRE_H
#define DEV_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Kafka API keys the proxy looks at. */
#define WIRE_API_METADATA 3
#define WIRE_API_FIND_COORDINATOR 10
#define WIRE_API_API_VERSIONS 18
#define WIRE_API_CREATE_TOPICS 19

/* Highest request version of each API whose response (or request) the proxy understands. */
#define WIRE_METADATA_MAX_VERSION 8
#define WIRE_FIND_COORDINATOR_MAX_VERSION 2
#define WIRE_API_VERSIONS_MAX_VERSION 2
#define WIRE_CREATE_TOPICS_MAX_VERSION 4

/* A growable byte buffer; the live bytes are data[off, len). Allocation failure is fatal. */
typedef struct WireBuf
{
	uint8_t *data;
	size_t off;
	size_t len;
	size_t cap;
} WireBuf;

/* realloc that exits on failure: a development broker has no plan B. */
void *WireRealloc(void *p, size_t n);
/* Make room for n more bytes at data + len (may move the live bytes to the front). */
void WireBufReserve(WireBuf *b, size_t n);
void WireBufPut(WireBuf *b, const void *p, size_t n);
/* Drop n bytes from the front. */
void WireBufConsume(WireBuf *b, size_t n);
void WireBufFree(WireBuf *b);
static inline size_t
WireBufUsed(const WireBuf *b)
{
	return b->len - b->off;
}

/* The header fields of a request frame. */
typedef struct WireRequest
{
	int16_t api_key;
	int16_t api_version;
	int32_t correlation_id;
} WireRequest;

/* Length of the whole frame at p; 0 while incomplete, -1 for an invalid length. */
long WireFrameLength(const uint8_t *p, size_t avail, size_t max_frame);

/* Reads a request frame's header; false if the frame is too short to hold one. */
bool WireRequestHeader(const uint8_t *frame, size_t len, WireRequest *req);

/* The correlation id of a response frame (-1 if the frame is too short). */
int32_t WireResponseCorrelation(const uint8_t *frame, size_t len);

/* Maps a mock broker's port to the proxy's port for it (or returns it unchanged). */
typedef int32_t (*WirePortMap)(void *arg, int32_t upstream_port);

/* Patch a response frame in place (ports, controller id); false if it does not parse. */
bool WirePatchMetadata(uint8_t *frame, size_t len, int16_t version, WirePortMap map, void *arg);
bool WirePatchFindCoordinator(uint8_t *frame, size_t len, int16_t version, WirePortMap map,
							  void *arg);

/* Append the ApiVersions response with CreateTopics added to out; false if it does not parse. */
bool WireAddCreateTopics(const uint8_t *frame, size_t len, int16_t version, WireBuf *out);

/*
 * Creates one topic (or only checks it, validate_only); returns a Kafka error code and may set
 * *message. partitions and replication are -1 when the client left them to the broker.
 */
typedef int16_t (*WireCreateTopic)(void *arg, const char *name, int32_t partitions,
								   int16_t replication, bool validate_only, const char **message);

/* Answer a CreateTopics request frame: create each topic, append the response frame to out. */
bool WireAnswerCreateTopics(const uint8_t *frame, size_t len, const WireRequest *req,
							WireCreateTopic create, void *arg, WireBuf *out);

/* Append an ApiVersions v0 request frame with this correlation id (the proxy's placeholder). */
void WireApiVersionsRequest(int32_t correlation_id, WireBuf *out);

#endif
