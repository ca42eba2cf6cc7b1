/*
 * dev_wire.c — Kafka protocol rewriting for the dev broker's proxy (see dev_wire.h).
 *
 * Field layouts follow the Kafka protocol guide (kafka.apache.org/protocol): big-endian
 * integers, STRING = int16 length + bytes, NULLABLE_STRING with length -1 for null,
 * ARRAY = int32 count + elements. A response frame is length, correlation id, body
 * (response header v0: every version handled here is non-flexible).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dev_wire.h"

/* Bounds-checked reader over one frame; any overrun sets bad and reads zeros. */
typedef struct WireReader
{
	const uint8_t *p;
	size_t len;
	size_t pos;
	bool bad;
} WireReader;

/* The body of a request or response starts after length (4) and correlation id (4). */
#define RESPONSE_BODY 8
/* Request header v1: length, api_key, api_version, correlation id, then client id. */
#define REQUEST_CLIENT_ID 12

/* CreateTopics topics in one request; more than Kafka's own clients would ever send. */
#define MAX_CREATE_TOPICS 1000

void *
WireRealloc(void *p, size_t n)
{
	p = realloc(p, n);
	if (p == NULL)
	{
		fprintf(stderr, "pinpipe-devbroker: out of memory\n");
		exit(1);
	}
	return p;
}

void
WireBufReserve(WireBuf *b, size_t n)
{
	if (b->len + n <= b->cap)
		return;
	/* Reclaim the consumed front first: buffers are drained and refilled all the time. */
	if (b->off > 0)
	{
		memmove(b->data, b->data + b->off, b->len - b->off);
		b->len -= b->off;
		b->off = 0;
	}
	if (b->len + n > b->cap)
	{
		size_t cap = b->cap ? b->cap : 4096;

		while (cap < b->len + n)
			cap *= 2;
		b->data = WireRealloc(b->data, cap);
		b->cap = cap;
	}
}

void
WireBufPut(WireBuf *b, const void *p, size_t n)
{
	WireBufReserve(b, n);
	memcpy(b->data + b->len, p, n);
	b->len += n;
}

void
WireBufConsume(WireBuf *b, size_t n)
{
	b->off += n;
	if (b->off >= b->len)
		b->off = b->len = 0;
}

void
WireBufFree(WireBuf *b)
{
	free(b->data);
	memset(b, 0, sizeof(*b));
}

static void
PutI16(WireBuf *b, int16_t v)
{
	uint8_t x[2] = {(uint8_t) ((uint16_t) v >> 8), (uint8_t) v};

	WireBufPut(b, x, 2);
}

static void
PutI32(WireBuf *b, int32_t v)
{
	uint32_t u = (uint32_t) v;
	uint8_t x[4] = {(uint8_t) (u >> 24), (uint8_t) (u >> 16), (uint8_t) (u >> 8), (uint8_t) u};

	WireBufPut(b, x, 4);
}

/* A STRING, or a NULLABLE_STRING's null when s is NULL. */
static void
PutStr(WireBuf *b, const char *s)
{
	size_t n = s ? strlen(s) : 0;

	PutI16(b, s ? (int16_t) n : -1);
	if (n > 0)
		WireBufPut(b, s, n);
}

static uint32_t
GetU32(const uint8_t *p)
{
	return ((uint32_t) p[0] << 24) | ((uint32_t) p[1] << 16) | ((uint32_t) p[2] << 8) | p[3];
}

static void
SetI32(uint8_t *p, int32_t v)
{
	uint32_t u = (uint32_t) v;

	p[0] = (uint8_t) (u >> 24);
	p[1] = (uint8_t) (u >> 16);
	p[2] = (uint8_t) (u >> 8);
	p[3] = (uint8_t) u;
}

static bool
Need(WireReader *r, size_t n)
{
	if (r->bad || r->len - r->pos < n)
	{
		r->bad = true;
		return false;
	}
	return true;
}

/* The next n bytes, or NULL (and bad) when the frame ends first. */
static const uint8_t *
Take(WireReader *r, size_t n)
{
	const uint8_t *s;

	if (!Need(r, n))
		return NULL;
	s = r->p + r->pos;
	r->pos += n;
	return s;
}

static int16_t
ReadI16(WireReader *r)
{
	const uint8_t *s = Take(r, 2);

	return s ? (int16_t) (((uint16_t) s[0] << 8) | s[1]) : 0;
}

static int32_t
ReadI32(WireReader *r)
{
	const uint8_t *s = Take(r, 4);

	return s ? (int32_t) GetU32(s) : 0;
}

static void
Skip(WireReader *r, size_t n)
{
	(void) Take(r, n);
}

/* A (NULLABLE_)STRING: its bytes and length (-1 for null). */
static const uint8_t *
ReadStr(WireReader *r, int16_t *n)
{
	*n = ReadI16(r);
	return *n < 0 ? NULL : Take(r, (size_t) *n);
}

static void
SkipStr(WireReader *r)
{
	int16_t n;

	(void) ReadStr(r, &n);
}

/* An array count, rejected when negative or when the rest of the frame cannot hold it. */
static int32_t
ReadCount(WireReader *r, size_t min_element)
{
	int32_t n = ReadI32(r);

	if (n < 0 || (size_t) n > (r->len - r->pos) / (min_element ? min_element : 1))
	{
		r->bad = true;
		return 0;
	}
	return n;
}

long
WireFrameLength(const uint8_t *p, size_t avail, size_t max_frame)
{
	uint32_t n;

	if (avail < 4)
		return 0;
	n = GetU32(p);
	if (n < 4 || n > max_frame)
		return -1;
	return avail - 4 >= n ? (long) n + 4 : 0;
}

bool
WireRequestHeader(const uint8_t *frame, size_t len, WireRequest *req)
{
	WireReader r = {frame, len, 4, false};

	req->api_key = ReadI16(&r);
	req->api_version = ReadI16(&r);
	req->correlation_id = ReadI32(&r);
	return !r.bad;
}

int32_t
WireResponseCorrelation(const uint8_t *frame, size_t len)
{
	return len >= RESPONSE_BODY ? (int32_t) GetU32(frame + 4) : -1;
}

/* Replace the port at the reader's position by the proxy's, and step over it. */
static void
PatchPort(WireReader *r, uint8_t *frame, WirePortMap map, void *arg)
{
	if (!Need(r, 4))
		return;
	SetI32(frame + r->pos, map(arg, (int32_t) GetU32(frame + r->pos)));
	r->pos += 4;
}

bool
WirePatchMetadata(uint8_t *frame, size_t len, int16_t version, WirePortMap map, void *arg)
{
	WireReader r = {frame, len, RESPONSE_BODY, false};
	int32_t nbrokers;
	int32_t controller = -1;

	if (version >= 3)
		Skip(&r, 4); /* throttle_time_ms */
	nbrokers = ReadCount(&r, 10);
	for (int32_t i = 0; i < nbrokers && !r.bad; i++)
	{
		int32_t node = ReadI32(&r);

		if (controller < 0 || node < controller)
			controller = node;
		SkipStr(&r); /* host: the proxy listens on the mock's address */
		PatchPort(&r, frame, map, arg);
		if (version >= 1)
			SkipStr(&r); /* rack */
	}
	if (version >= 2)
		SkipStr(&r); /* cluster_id */
	if (version >= 1 && Need(&r, 4))
	{
		/*
		 * The mock always says 0, a node that does not exist. Every mock broker answers
		 * what clients send the controller (InitProducerId; CreateTopics the proxy
		 * answers itself), so name the lowest broker id.
		 */
		if (controller >= 0)
			SetI32(frame + r.pos, controller);
		r.pos += 4;
	}
	return !r.bad;
}

bool
WirePatchFindCoordinator(uint8_t *frame, size_t len, int16_t version, WirePortMap map, void *arg)
{
	WireReader r = {frame, len, RESPONSE_BODY, false};

	if (version >= 1)
		Skip(&r, 4); /* throttle_time_ms */
	Skip(&r, 2);	 /* error_code */
	if (version >= 1)
		SkipStr(&r); /* error_message */
	Skip(&r, 4);	 /* node_id */
	SkipStr(&r);	 /* host */
	PatchPort(&r, frame, map, arg);
	return !r.bad;
}

bool
WireAddCreateTopics(const uint8_t *frame, size_t len, int16_t version, WireBuf *out)
{
	WireReader r = {frame, len, RESPONSE_BODY, false};
	int16_t error;
	int32_t n;
	size_t entries;
	size_t start = WireBufUsed(out);

	(void) version; /* v0-v2 differ only after the list (throttle_time_ms), copied as is */
	error = ReadI16(&r);
	n = ReadCount(&r, 6);
	entries = r.pos;
	for (int32_t i = 0; i < n && !r.bad; i++)
	{
		if (ReadI16(&r) == WIRE_API_CREATE_TOPICS)
			error = -1; /* the mock has it after all: nothing to add */
		Skip(&r, 4);
	}
	if (r.bad)
		return false;
	if (error != 0)
	{
		/* An error answer (or CreateTopics already listed) goes out unchanged. */
		WireBufPut(out, frame, len);
		return true;
	}
	PutI32(out, 0); /* length, set below */
	WireBufPut(out, frame + 4, entries - 4 - 4);
	PutI32(out, n + 1);
	WireBufPut(out, frame + entries, r.pos - entries);
	PutI16(out, WIRE_API_CREATE_TOPICS);
	PutI16(out, 0);
	PutI16(out, WIRE_CREATE_TOPICS_MAX_VERSION);
	WireBufPut(out, frame + r.pos, len - r.pos);
	SetI32(out->data + out->off + start, (int32_t) (WireBufUsed(out) - start - 4));
	return true;
}

/* One topic of a CreateTopics request, as parsed. */
typedef struct CreateTopic
{
	char *name;
	int32_t partitions;
	int16_t replication;
} CreateTopic;

/* Parse the topics of a CreateTopics request body (reader past the request header). */
static CreateTopic *
ParseCreateTopics(WireReader *r, int32_t *count)
{
	CreateTopic *topics;
	int32_t n = ReadCount(r, 2 + 4 + 2 + 4 + 4);

	if (r->bad || n > MAX_CREATE_TOPICS)
		return NULL;
	topics = calloc((size_t) n + 1, sizeof(CreateTopic));
	if (topics == NULL)
		return NULL;
	*count = n;
	for (int32_t i = 0; i < n && !r->bad; i++)
	{
		int16_t namelen;
		const uint8_t *name = ReadStr(r, &namelen);
		int32_t nassign, nconfig;

		if (name == NULL)
		{
			r->bad = true;
			break;
		}
		topics[i].name = strndup((const char *) name, (size_t) namelen);
		if (topics[i].name == NULL)
		{
			r->bad = true;
			break;
		}
		topics[i].partitions = ReadI32(r);
		topics[i].replication = ReadI16(r);
		/* Manual assignments: the mock places replicas itself, so only their shape counts. */
		nassign = ReadCount(r, 8);
		for (int32_t a = 0; a < nassign && !r->bad; a++)
		{
			int32_t nreplicas;

			Skip(r, 4); /* partition_index */
			nreplicas = ReadCount(r, 4);
			Skip(r, 4 * (size_t) nreplicas);
			if (a == 0)
				topics[i].replication = (int16_t) nreplicas;
		}
		if (nassign > 0)
			topics[i].partitions = nassign;
		/* Topic configs (retention, cleanup policy) mean nothing to an in-memory mock. */
		nconfig = ReadCount(r, 4);
		for (int32_t c = 0; c < nconfig && !r->bad; c++)
		{
			SkipStr(r);
			SkipStr(r);
		}
	}
	return topics;
}

bool
WireAnswerCreateTopics(const uint8_t *frame, size_t len, const WireRequest *req,
					   WireCreateTopic create, void *arg, WireBuf *out)
{
	WireReader r = {frame, len, REQUEST_CLIENT_ID, false};
	CreateTopic *topics;
	int32_t n = 0;
	bool validate_only = false;
	size_t start = WireBufUsed(out);

	SkipStr(&r); /* client_id */
	topics = ParseCreateTopics(&r, &n);
	Skip(&r, 4); /* timeout_ms: creation is immediate */
	if (req->api_version >= 1 && Need(&r, 1))
		validate_only = r.p[r.pos++] != 0;
	if (topics == NULL || r.bad)
	{
		for (int32_t i = 0; topics && i < n; i++)
			free(topics[i].name);
		free(topics);
		return false;
	}

	PutI32(out, 0); /* length, set below */
	PutI32(out, req->correlation_id);
	if (req->api_version >= 2)
		PutI32(out, 0); /* throttle_time_ms */
	PutI32(out, n);
	for (int32_t i = 0; i < n; i++)
	{
		const char *message = NULL;
		int16_t err = create(arg, topics[i].name, topics[i].partitions, topics[i].replication,
							 validate_only, &message);

		PutStr(out, topics[i].name);
		PutI16(out, err);
		if (req->api_version >= 1)
			PutStr(out, err ? message : NULL);
		free(topics[i].name);
	}
	free(topics);
	SetI32(out->data + out->off + start, (int32_t) (WireBufUsed(out) - start - 4));
	return true;
}

void
WireApiVersionsRequest(int32_t correlation_id, WireBuf *out)
{
	PutI32(out, 2 + 2 + 4 + 2);
	PutI16(out, WIRE_API_API_VERSIONS);
	PutI16(out, 0);
	PutI32(out, correlation_id);
	PutStr(out, NULL); /* client_id */
}
