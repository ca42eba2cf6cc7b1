/*
 * dev_proxy.c — the dev broker's Kafka proxy (see dev_proxy.h): sockets and relaying.
 *
 * Each client connection owns one connection to its mock broker. Bytes are read into a
 * per-direction input buffer, cut into frames (4-byte length prefix), and each frame is
 * appended to the other side's output buffer, rewritten when dev_wire.c says so.
 *
 * Which responses to rewrite is known from the requests: a Metadata, FindCoordinator or
 * ApiVersions request is remembered by its correlation id, and the response with that id
 * is patched on its way back. A CreateTopics request is answered by the proxy itself; to
 * keep the answer in its place among the responses (clients such as kafka-python require
 * responses in request order), the proxy sends the mock an ApiVersions request with the
 * same correlation id instead, and replaces that response by its own answer.
 *
 * Everything runs on the caller's thread in ProxyPoll; sockets are non-blocking, and a
 * side is not read while the other side's output holds more than PROXY_HIGH_WATER bytes.
 */
#define _GNU_SOURCE /* accept4 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "dev_proxy.h"

#define PROXY_MAX_BROKERS 16
/* Larger than any frame a client would send the dev broker (message.max.bytes 10 MB). */
#define PROXY_MAX_FRAME (128 * 1024 * 1024)
#define PROXY_HIGH_WATER (8 * 1024 * 1024)
#define PROXY_READ_CHUNK (256 * 1024)

enum
{
	CLIENT = 0,
	UPSTREAM = 1
};

/* A request whose response the proxy rewrites or replaces. */
typedef struct ProxyPending
{
	int32_t correlation_id;
	int16_t api_key;
	int16_t api_version;
	WireBuf answer; /* CreateTopics: the proxy's own response frame */
} ProxyPending;

typedef struct ProxyConn
{
	int fd[2];
	WireBuf in[2];	/* read from fd[i], not yet a whole frame */
	WireBuf out[2]; /* to be written to fd[i] */
	ProxyPending *pending;
	int npending;
	int cappending;
	bool dead;
	struct ProxyConn *next;
} ProxyConn;

typedef struct ProxyListener
{
	int fd;
	struct sockaddr_in addr;	 /* the proxy's, port fixed at start */
	struct sockaddr_in upstream; /* the mock broker's */
} ProxyListener;

struct Proxy
{
	ProxyListener lis[PROXY_MAX_BROKERS];
	int nlis;
	ProxyConn *conns;
	bool down;
	WireCreateTopic create;
	void *create_arg;
	char bootstraps[PROXY_MAX_BROKERS * 32];
	struct pollfd *pfds;
	size_t cappfds;
};

/* A socket bound to addr (port 0: any), listening unless listen_now is false; -1 on error. */
static int
ListenerSocket(struct sockaddr_in *addr, bool listen_now)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int on = 1;
	socklen_t alen = sizeof(*addr);

	if (fd < 0)
		return -1;
	/* Rebinding the same port after a simulated outage must not wait for TIME_WAIT. */
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
	if (bind(fd, (struct sockaddr *) addr, sizeof(*addr)) < 0 ||
		getsockname(fd, (struct sockaddr *) addr, &alen) < 0 || (listen_now && listen(fd, 64) < 0))
	{
		close(fd);
		return -1;
	}
	return fd;
}

/* Parse "host:port" (IPv4, as the mock prints it). */
static bool
ParseAddress(const char *s, size_t n, struct sockaddr_in *addr)
{
	char buf[64];
	char *colon;

	if (n >= sizeof(buf))
		return false;
	memcpy(buf, s, n);
	buf[n] = '\0';
	colon = strrchr(buf, ':');
	if (colon == NULL)
		return false;
	*colon = '\0';
	memset(addr, 0, sizeof(*addr));
	addr->sin_family = AF_INET;
	addr->sin_port = htons((uint16_t) atoi(colon + 1));
	return inet_pton(AF_INET, buf, &addr->sin_addr) == 1 && addr->sin_port != 0;
}

Proxy *
ProxyStart(const char *upstream, WireCreateTopic create, void *arg, char *err, size_t errlen)
{
	Proxy *p = calloc(1, sizeof(Proxy));
	const char *s = upstream;
	size_t used = 0;

	if (p == NULL)
	{
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	p->create = create;
	p->create_arg = arg;
	while (*s)
	{
		size_t n = strcspn(s, ",");
		ProxyListener *l = &p->lis[p->nlis];
		char host[INET_ADDRSTRLEN];

		if (p->nlis == PROXY_MAX_BROKERS || !ParseAddress(s, n, &l->upstream))
		{
			snprintf(err, errlen, "cannot proxy broker address list \"%s\"", upstream);
			ProxyStop(p);
			return NULL;
		}
		l->addr = l->upstream;
		l->addr.sin_port = 0;
		l->fd = ListenerSocket(&l->addr, true);
		if (l->fd < 0)
		{
			snprintf(err, errlen, "cannot listen: %s", strerror(errno));
			ProxyStop(p);
			return NULL;
		}
		p->nlis++;
		inet_ntop(AF_INET, &l->addr.sin_addr, host, sizeof(host));
		used += (size_t) snprintf(p->bootstraps + used, sizeof(p->bootstraps) - used, "%s%s:%d",
								  used ? "," : "", host, ntohs(l->addr.sin_port));
		s += n;
		if (*s == ',')
			s++;
	}
	return p;
}

const char *
ProxyBootstraps(const Proxy *p)
{
	return p->bootstraps;
}

/* Port of the mock broker → port of the proxy's listener in front of it (for dev_wire). */
static int32_t
MapPort(void *arg, int32_t upstream_port)
{
	Proxy *p = arg;

	for (int i = 0; i < p->nlis; i++)
		if (ntohs(p->lis[i].upstream.sin_port) == upstream_port)
			return ntohs(p->lis[i].addr.sin_port);
	return upstream_port;
}

static void
SetNoDelay(int fd)
{
	int on = 1;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
}

/* Accept a client on listener l and connect it to l's mock broker. */
static void
Accept(Proxy *p, ProxyListener *l)
{
	int client = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	int upstream;
	ProxyConn *c;

	if (client < 0)
		return;
	/* A blocking connect on the loopback: the mock answers or refuses at once. */
	upstream = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (upstream < 0 ||
		connect(upstream, (struct sockaddr *) &l->upstream, sizeof(l->upstream)) < 0 ||
		fcntl(upstream, F_SETFL, O_NONBLOCK) < 0 || (c = calloc(1, sizeof(ProxyConn))) == NULL)
	{
		close(client);
		if (upstream >= 0)
			close(upstream);
		return;
	}
	SetNoDelay(client);
	SetNoDelay(upstream);
	c->fd[CLIENT] = client;
	c->fd[UPSTREAM] = upstream;
	c->next = p->conns;
	p->conns = c;
}

static void
ConnFree(ProxyConn *c)
{
	for (int i = 0; i < 2; i++)
	{
		close(c->fd[i]);
		WireBufFree(&c->in[i]);
		WireBufFree(&c->out[i]);
	}
	for (int i = 0; i < c->npending; i++)
		WireBufFree(&c->pending[i].answer);
	free(c->pending);
	free(c);
}

static ProxyPending *
PendingAdd(ProxyConn *c, const WireRequest *req)
{
	ProxyPending *e;

	if (c->npending == c->cappending)
	{
		c->cappending = c->cappending ? c->cappending * 2 : 8;
		c->pending = WireRealloc(c->pending, (size_t) c->cappending * sizeof(ProxyPending));
	}
	e = &c->pending[c->npending++];
	memset(e, 0, sizeof(*e));
	e->correlation_id = req->correlation_id;
	e->api_key = req->api_key;
	e->api_version = req->api_version;
	return e;
}

/* A request frame from the client: remember, answer or forward it; false closes the connection. */
static bool
FromClient(Proxy *p, ProxyConn *c, const uint8_t *frame, size_t len)
{
	WireRequest req;
	WireBuf *out = &c->out[UPSTREAM];

	if (!WireRequestHeader(frame, len, &req))
		return false;
	switch (req.api_key)
	{
		case WIRE_API_METADATA:
			if (req.api_version <= WIRE_METADATA_MAX_VERSION)
				PendingAdd(c, &req);
			break;
		case WIRE_API_FIND_COORDINATOR:
			if (req.api_version <= WIRE_FIND_COORDINATOR_MAX_VERSION)
				PendingAdd(c, &req);
			break;
		case WIRE_API_API_VERSIONS:
			if (req.api_version <= WIRE_API_VERSIONS_MAX_VERSION)
				PendingAdd(c, &req);
			break;
		case WIRE_API_CREATE_TOPICS:
			if (req.api_version <= WIRE_CREATE_TOPICS_MAX_VERSION)
			{
				ProxyPending *e = PendingAdd(c, &req);

				if (!WireAnswerCreateTopics(frame, len, &req, p->create, p->create_arg, &e->answer))
					return false;
				WireApiVersionsRequest(req.correlation_id, out);
				return true;
			}
			break;
		default:
			break;
	}
	WireBufPut(out, frame, len);
	return true;
}

/* A response frame from the mock: rewrite it if its request was remembered, and pass it on. */
static bool
FromUpstream(Proxy *p, ProxyConn *c, uint8_t *frame, size_t len)
{
	int32_t corr = WireResponseCorrelation(frame, len);
	WireBuf *out = &c->out[CLIENT];
	ProxyPending e;
	int i;
	bool parsed = true;

	for (i = 0; i < c->npending; i++)
		if (c->pending[i].correlation_id == corr)
			break;
	if (i == c->npending)
	{
		WireBufPut(out, frame, len);
		return true;
	}
	e = c->pending[i];
	c->pending[i] = c->pending[--c->npending];
	switch (e.api_key)
	{
		case WIRE_API_METADATA:
			parsed = WirePatchMetadata(frame, len, e.api_version, MapPort, p);
			WireBufPut(out, frame, len);
			break;
		case WIRE_API_FIND_COORDINATOR:
			parsed = WirePatchFindCoordinator(frame, len, e.api_version, MapPort, p);
			WireBufPut(out, frame, len);
			break;
		case WIRE_API_API_VERSIONS:
			parsed = WireAddCreateTopics(frame, len, e.api_version, out);
			break;
		case WIRE_API_CREATE_TOPICS:
			WireBufPut(out, e.answer.data + e.answer.off, WireBufUsed(&e.answer));
			break;
	}
	WireBufFree(&e.answer);
	if (!parsed)
		fprintf(stderr, "pinpipe-devbroker: proxy: cannot parse response to API %d v%d\n",
				e.api_key, e.api_version);
	return parsed;
}

/* Read what side i has sent and relay its whole frames; false when the connection is over. */
static bool
ReadSide(Proxy *p, ProxyConn *c, int i)
{
	WireBuf *in = &c->in[i];
	long flen;
	ssize_t n;

	/* One read per poll round: level-triggered poll comes back for the rest. */
	WireBufReserve(in, PROXY_READ_CHUNK);
	do
		n = recv(c->fd[i], in->data + in->len, in->cap - in->len, 0);
	while (n < 0 && errno == EINTR);
	if (n == 0)
		return false;
	if (n < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK;
	in->len += (size_t) n;
	while ((flen = WireFrameLength(in->data + in->off, WireBufUsed(in), PROXY_MAX_FRAME)) > 0)
	{
		uint8_t *frame = in->data + in->off;
		bool ok = i == CLIENT ? FromClient(p, c, frame, (size_t) flen)
							  : FromUpstream(p, c, frame, (size_t) flen);

		if (!ok)
			return false;
		WireBufConsume(in, (size_t) flen);
	}
	return flen == 0;
}

/* Write what is queued for side i; false on a broken connection. */
static bool
WriteSide(ProxyConn *c, int i)
{
	WireBuf *out = &c->out[i];

	while (WireBufUsed(out) > 0)
	{
		ssize_t n = send(c->fd[i], out->data + out->off, WireBufUsed(out), MSG_NOSIGNAL);

		if (n < 0)
		{
			if (errno == EINTR)
				continue;
			return errno == EAGAIN || errno == EWOULDBLOCK;
		}
		WireBufConsume(out, (size_t) n);
	}
	return true;
}

static struct pollfd *
PollSlot(Proxy *p, size_t n)
{
	if (n >= p->cappfds)
	{
		p->cappfds = p->cappfds ? p->cappfds * 2 : 64;
		p->pfds = WireRealloc(p->pfds, p->cappfds * sizeof(struct pollfd));
	}
	return &p->pfds[n];
}

void
ProxyPoll(Proxy *p, int timeout_ms)
{
	size_t n = 0;
	size_t k;
	ProxyConn **link;

	for (int i = 0; i < p->nlis; i++)
		if (!p->down)
			*PollSlot(p, n++) = (struct pollfd){.fd = p->lis[i].fd, .events = POLLIN};
	for (ProxyConn *c = p->conns; c; c = c->next)
		for (int i = 0; i < 2; i++)
		{
			short ev = 0;

			if (WireBufUsed(&c->out[1 - i]) < PROXY_HIGH_WATER)
				ev |= POLLIN;
			if (WireBufUsed(&c->out[i]) > 0)
				ev |= POLLOUT;
			*PollSlot(p, n++) = (struct pollfd){.fd = c->fd[i], .events = ev};
		}
	if (poll(p->pfds, n, timeout_ms) <= 0)
		return;

	/* Same order as above: listeners first, then two slots per connection. */
	k = 0;
	for (int i = 0; i < p->nlis && !p->down; i++, k++)
		if (p->pfds[k].revents & POLLIN)
			Accept(p, &p->lis[i]);
	for (ProxyConn *c = p->conns; c; c = c->next)
	{
		/* Connections accepted just now are at the head, without slots. */
		if (k >= n || p->pfds[k].fd != c->fd[CLIENT])
			continue;
		for (int i = 0; i < 2; i++, k++)
		{
			short re = p->pfds[k].revents;

			if (c->dead)
				continue;
			if (re & (POLLIN | POLLHUP | POLLERR))
				c->dead = !ReadSide(p, c, i);
			if (!c->dead && (re & POLLOUT))
				c->dead = !WriteSide(c, i);
		}
		/* Send right away what this round produced rather than waiting for the next poll. */
		for (int i = 0; i < 2 && !c->dead; i++)
			c->dead = !WriteSide(c, i);
	}
	for (link = &p->conns; *link;)
	{
		ProxyConn *c = *link;

		if (c->dead)
		{
			*link = c->next;
			ConnFree(c);
		}
		else
			link = &c->next;
	}
}

void
ProxySetDown(Proxy *p, bool down)
{
	if (down == p->down)
		return;
	p->down = down;
	if (down)
	{
		/*
		 * Like the mock: drop every connection and keep the port bound but not listening,
		 * so that clients see their connections refused until the brokers come back.
		 */
		while (p->conns)
		{
			ProxyConn *c = p->conns;

			p->conns = c->next;
			ConnFree(c);
		}
		for (int i = 0; i < p->nlis; i++)
		{
			close(p->lis[i].fd);
			p->lis[i].fd = ListenerSocket(&p->lis[i].addr, false);
		}
	}
	else
		for (int i = 0; i < p->nlis; i++)
			if (p->lis[i].fd >= 0 && listen(p->lis[i].fd, 64) < 0)
				fprintf(stderr, "pinpipe-devbroker: proxy: listen: %s\n", strerror(errno));
}

void
ProxyStop(Proxy *p)
{
	while (p->conns)
	{
		ProxyConn *c = p->conns;

		p->conns = c->next;
		ConnFree(c);
	}
	for (int i = 0; i < p->nlis; i++)
		if (p->lis[i].fd >= 0)
			close(p->lis[i].fd);
	free(p->pfds);
	free(p);
}
