/*
 * http_relay.c — the HTTP worker's listening sockets and the relay between
 * each client and its libmicrohttpd connection (see http_relay.h).
 *
 * A relay has two ends: the client's TCP socket and its end of a socket pair
 * whose other end libmicrohttpd serves. Bytes move "up" (client to
 * libmicrohttpd, through the framing tracker) and "down" (answers to the
 * client). Each direction reads only when the other side has taken everything
 * read before: what a non-blocking send could not take waits in that
 * direction's pending buffer, and the end it came from is not read meanwhile
 * (the kernel's buffers then push back on the sender). An end of input is
 * passed on as a half-close once what came before it is delivered.
 *
 * When libmicrohttpd has closed its end and everything it wrote went to the
 * client, the relay half-closes the client and reads what it still sends for
 * up to RELAY_LINGER_SECONDS before closing, so the close is a FIN after the
 * answer, not a reset that could discard it at the client.
 *
 * Plain C on libc and libmicrohttpd: no PostgreSQL calls (it never raises).
 */
#include "http_relay.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "http_framing.h"

#define RELAY_MAX_LISTEN 16
#define RELAY_BACKLOG 1024
#define RELAY_ACCEPT_BURST 64	 /* connections accepted per listening socket per run */
#define RELAY_MOVES_PER_PUMP 16	 /* reads per direction per event, so no client starves others */
#define RELAY_LINGER_SECONDS 2.0 /* reading a closed connection's last input */
#define RELAY_LINGER_CHECK 0.25	 /* seconds between looks for lingering that is over */
#define RELAY_ACCEPT_PAUSE 1.0	 /* after running out of file descriptors */
#define RELAY_EVENTS 128
#define RELAY_SCRATCH (64 * 1024)

typedef struct Relay Relay;

/* What an epoll event points at: a listening socket (relay NULL) or one end of a relay. */
typedef struct RelayEnd
{
	Relay *relay;
	int fd;
	uint32_t armed; /* the events registered for fd */
} RelayEnd;

/* Bytes a send could not take yet: data[off..len). */
typedef struct Pending
{
	char *data;
	size_t len;
	size_t off;
} Pending;

struct Relay
{
	RelayEnd client;
	RelayEnd mhd; /* fd -1 once closed */
	HttpFraming framing;
	Pending up;
	Pending down;
	bool client_eof; /* the client sent its end of input */
	bool mhd_eof;	 /* libmicrohttpd closed (or shut down) its end */
	bool up_shut;	 /* the client's end of input passed on to libmicrohttpd */
	bool down_shut;	 /* the client half-closed by us: lingering */
	bool dead;		 /* to be freed now */
	double linger_since;
	int peer_fd;		/* libmicrohttpd's end of the pair (a number only: never used) */
	int due;			/* directions to pump in this run (RELAY_UP, RELAY_DOWN) */
	uint64_t answers;	/* whole answers libmicrohttpd sent (HttpRelayAnswered) */
	uint64_t refuse_at; /* > 0: request number refuse_at declared too much: 413 */
	bool refusal_sent;
	Relay *prev;
	Relay *next;
};

static struct MHD_Daemon *relay_daemon = NULL;
static HttpRelayLogger relay_log = NULL;
static void *relay_log_cls = NULL;
static uint64_t relay_max_body = 0;
static int relay_epoll = -1;
static RelayEnd listeners[RELAY_MAX_LISTEN];
static int nlisteners = 0;
static double accept_paused_until = 0;
static Relay *relays = NULL;

static void RelayMoveDown(Relay *r);
static int nlingering = 0;
static double linger_checked_at = 0;
static int nrefusing = 0; /* relays with a refusal not sent yet */
static char scratch[RELAY_SCRATCH];

static double
RelayNow(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double) ts.tv_sec + ts.tv_nsec / 1e9;
}

static void RelayLog(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
RelayLog(const char *fmt, ...)
{
	va_list ap;

	if (relay_log == NULL)
		return;
	va_start(ap, fmt);
	relay_log(relay_log_cls, fmt, ap);
	va_end(ap);
}

bool
HttpRelayStart(struct MHD_Daemon *daemon, HttpRelayLogger log, void *log_cls, uint64_t max_body)
{
	relay_daemon = daemon;
	relay_log = log;
	relay_log_cls = log_cls;
	relay_max_body = max_body;
	relay_epoll = epoll_create1(EPOLL_CLOEXEC);
	return relay_epoll >= 0;
}

int
HttpRelayFd(void)
{
	return relay_epoll;
}

/*
 * Ask for the events of one end. An end that wants none leaves the epoll set:
 * a hung-up socket would otherwise report itself on every wait while the relay
 * waits for the other side.
 */
static void
RelayArmEnd(RelayEnd *e, uint32_t want)
{
	struct epoll_event ev;

	if (e->fd < 0 || e->armed == want)
		return;
	if (want == 0)
	{
		(void) epoll_ctl(relay_epoll, EPOLL_CTL_DEL, e->fd, NULL);
		e->armed = 0;
		return;
	}
	memset(&ev, 0, sizeof(ev));
	ev.events = want;
	ev.data.ptr = e;
	if (epoll_ctl(relay_epoll, e->armed == 0 ? EPOLL_CTL_ADD : EPOLL_CTL_MOD, e->fd, &ev) == 0)
		e->armed = want;
}

static bool
RelayAddEnd(RelayEnd *e, uint32_t want)
{
	e->armed = 0;
	RelayArmEnd(e, want);
	return e->armed == want;
}

static void
RelayCloseEnd(RelayEnd *e)
{
	if (e->fd < 0)
		return;
	RelayArmEnd(e, 0);
	close(e->fd);
	e->fd = -1;
}

bool
HttpRelayListen(const struct sockaddr *addr, socklen_t addrlen, int port)
{
	struct sockaddr_in6 any6;
	struct sockaddr_in any4;
	int family = addr ? addr->sa_family : AF_INET6;
	int on = 1;
	int off = 0;
	int fd;

	if (nlisteners >= RELAY_MAX_LISTEN)
	{
		errno = EMFILE;
		return false;
	}
	fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 && addr == NULL && errno == EAFNOSUPPORT)
	{
		family = AF_INET; /* no IPv6 on this machine: every IPv4 address */
		fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	}
	if (fd < 0)
		return false;
	(void) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
	if (family == AF_INET6)
		/* "*" listens on both IP versions; a named IPv6 address on IPv6 only */
		(void) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, addr ? &on : &off, sizeof(int));
	if (addr == NULL && family == AF_INET6)
	{
		memset(&any6, 0, sizeof(any6));
		any6.sin6_family = AF_INET6;
		any6.sin6_addr = in6addr_any;
		any6.sin6_port = htons((uint16_t) port);
		addr = (const struct sockaddr *) &any6;
		addrlen = sizeof(any6);
	}
	else if (addr == NULL)
	{
		memset(&any4, 0, sizeof(any4));
		any4.sin_family = AF_INET;
		any4.sin_addr.s_addr = htonl(INADDR_ANY);
		any4.sin_port = htons((uint16_t) port);
		addr = (const struct sockaddr *) &any4;
		addrlen = sizeof(any4);
	}
	listeners[nlisteners].relay = NULL;
	listeners[nlisteners].fd = fd;
	if (bind(fd, addr, addrlen) != 0 || listen(fd, RELAY_BACKLOG) != 0 ||
		!RelayAddEnd(&listeners[nlisteners], EPOLLIN))
	{
		int e = errno;

		close(fd);
		errno = e;
		return false;
	}
	nlisteners++;
	return true;
}

void
HttpRelayStopListening(void)
{
	for (int i = 0; i < nlisteners; i++)
		RelayCloseEnd(&listeners[i]);
	nlisteners = 0;
}

/* Keep data[0..n) to send later (false: out of memory). */
static bool
PendingKeep(Pending *p, const char *data, size_t n)
{
	p->data = malloc(n);
	if (p->data == NULL)
		return false;
	memcpy(p->data, data, n);
	p->len = n;
	p->off = 0;
	return true;
}

static bool
PendingEmpty(const Pending *p)
{
	return p->data == NULL;
}

static void
PendingDrop(Pending *p)
{
	free(p->data);
	p->data = NULL;
	p->len = p->off = 0;
}

/*
 * Send the pending bytes to fd. True when none are left; false when the socket
 * is full (try again on EPOLLOUT) or failed (*failed set).
 */
static bool
PendingFlush(Pending *p, int fd, bool *failed)
{
	while (p->data != NULL)
	{
		ssize_t n = send(fd, p->data + p->off, p->len - p->off, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0)
		{
			if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
				return false;
			*failed = true;
			PendingDrop(p);
			return false;
		}
		p->off += (size_t) n;
		if (p->off == p->len)
			PendingDrop(p);
	}
	return true;
}

/* Send data[0..n) to fd now, keeping what the socket does not take. False if it failed. */
static bool
RelaySend(Pending *p, int fd, const char *data, size_t n)
{
	ssize_t sent = send(fd, data, n, MSG_NOSIGNAL | MSG_DONTWAIT);

	if (sent < 0)
	{
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
			return false;
		sent = 0;
	}
	if ((size_t) sent < n && !PendingKeep(p, data + sent, n - (size_t) sent))
		return false;
	return true;
}

/* Start lingering: the client half-closed by us, its last input read and dropped. */
static void
RelayLinger(Relay *r)
{
	if (r->down_shut)
		return;
	(void) shutdown(r->client.fd, SHUT_WR);
	r->down_shut = true;
	r->linger_since = RelayNow();
	nlingering++;
	if (r->client_eof)
		r->dead = true;
}

/*
 * A chunk of the current request declared more than pinpipe.http_max_body.
 * Nothing more goes up. Once libmicrohttpd has answered every request before
 * this one (RelayRefusalDue), the relay closes its end and answers 413 for
 * this one, unless libmicrohttpd already answered it (an early refusal such as
 * 404), then closes the client. (libmicrohttpd 0.9.75 would not notice an end
 * of input in the middle of a body: a half-close alone would leave it waiting.)
 */
static void
RelayRefuseTooLarge(Relay *r)
{
	RelayLog("request refused: a chunk of its body declares more than pinpipe.http_max_body "
			 "(%llu bytes)",
			 (unsigned long long) relay_max_body);
	r->refuse_at = r->framing.requests;
	nrefusing++;
}

/* Refusing, and every request before the refused one answered: close libmicrohttpd's end. */
static void
RelayRefusalDue(Relay *r)
{
	if (r->mhd_eof || r->answers + 1 < r->refuse_at || !PendingEmpty(&r->up))
		return;
	RelayMoveDown(r); /* its last answers, sent whole before it said so */
	if (r->dead || !PendingEmpty(&r->down) || r->mhd_eof)
		return;
	RelayCloseEnd(&r->mhd);
	r->mhd_eof = true;
	RelayMoveDown(r); /* the 413, then lingering */
}

size_t
HttpRelayAnswerText(char *buf, size_t cap, const char *status, const char *detail)
{
	int n = snprintf(buf, cap,
					 "HTTP/1.1 %s\r\nConnection: close\r\nContent-Type: application/json\r\n"
					 "Content-Length: %zu\r\n\r\n{\"detail\":\"%s\"}",
					 status, strlen(detail) + 13, detail);

	return n < 0 ? 0 : (size_t) n < cap ? (size_t) n : cap - 1;
}

/* After libmicrohttpd closed: the 413 of a refused request, if it has no answer yet. */
static void
RelaySendRefusal(Relay *r)
{
	char answer[512];
	size_t n;

	r->refusal_sent = true;
	nrefusing--;
	if (r->answers >= r->refuse_at)
		return;
	n = HttpRelayAnswerText(answer, sizeof(answer), "413 Content Too Large",
							"a chunk of the request body declares more than pinpipe.http_max_body "
							"allows");
	if (!RelaySend(&r->down, r->client.fd, answer, n))
		r->dead = true;
}

/*
 * The relay whose libmicrohttpd end is peer_fd, by fd number (HttpRelayAnswered
 * runs once per answer: no list walk). A number is taken over by the newest
 * pair that gets it; a relay clears only its own entry.
 */
static Relay **by_peer_fd = NULL;
static int by_peer_fd_len = 0;

static void
RelayIndexPeer(Relay *r, int peer_fd)
{
	if (peer_fd >= by_peer_fd_len)
	{
		int len = peer_fd + 64 > 2 * by_peer_fd_len ? peer_fd + 64 : 2 * by_peer_fd_len;
		Relay **grown = realloc(by_peer_fd, sizeof(Relay *) * (size_t) len);

		if (grown == NULL)
			return; /* unindexed: its answers are not counted (a refusal then answers 413) */
		memset(grown + by_peer_fd_len, 0, sizeof(Relay *) * (size_t) (len - by_peer_fd_len));
		by_peer_fd = grown;
		by_peer_fd_len = len;
	}
	by_peer_fd[peer_fd] = r;
}

static void
RelayUnindexPeer(Relay *r)
{
	if (r->peer_fd >= 0 && r->peer_fd < by_peer_fd_len && by_peer_fd[r->peer_fd] == r)
		by_peer_fd[r->peer_fd] = NULL;
	r->peer_fd = -1;
}

void
HttpRelayAnswered(int peer_fd)
{
	if (peer_fd >= 0 && peer_fd < by_peer_fd_len && by_peer_fd[peer_fd] != NULL &&
		!by_peer_fd[peer_fd]->mhd_eof)
		by_peer_fd[peer_fd]->answers++;
}

/* Client to libmicrohttpd. */
static void
RelayMoveUp(Relay *r)
{
	bool failed = false;

	for (int moves = 0; moves < RELAY_MOVES_PER_PUMP && !r->dead; moves++)
	{
		ssize_t n;
		size_t taken;

		if (r->mhd.fd >= 0 && !PendingFlush(&r->up, r->mhd.fd, &failed))
		{
			if (failed)
				r->mhd_eof = true; /* libmicrohttpd closed its end */
			else
				return; /* its socket is full: wait for EPOLLOUT */
		}
		if (r->client_eof)
			break;
		n = recv(r->client.fd, scratch, sizeof(scratch), MSG_DONTWAIT);
		if (n == 0)
		{
			r->client_eof = true;
			if (r->down_shut)
				r->dead = true; /* lingering done */
			break;
		}
		if (n < 0)
		{
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
				r->dead = true; /* reset by the client */
			break;
		}
		if (r->mhd_eof || r->mhd.fd < 0 || r->refuse_at > 0)
			continue; /* nobody reads it any more: dropped */
		if (HttpFramingFeed(&r->framing, scratch, (size_t) n, &taken) == HTTP_FRAMING_TOO_LARGE)
		{
			/* the earlier requests' bytes (and this one's head) go up; the rest is dropped */
			if (!RelaySend(&r->up, r->mhd.fd, scratch, taken))
				r->mhd_eof = true;
			RelayRefuseTooLarge(r);
			continue;
		}
		if (!RelaySend(&r->up, r->mhd.fd, scratch, (size_t) n))
			r->mhd_eof = true;
		if ((size_t) n < sizeof(scratch))
			break; /* a short read: nothing more now (the next event says when) */
	}
	if (r->client_eof && !r->up_shut && PendingEmpty(&r->up) && r->mhd.fd >= 0)
	{
		(void) shutdown(r->mhd.fd, SHUT_WR); /* the client's half-close, passed on */
		r->up_shut = true;
	}
}

/* libmicrohttpd to the client. */
static void
RelayMoveDown(Relay *r)
{
	bool failed = false;

	for (int moves = 0; moves < RELAY_MOVES_PER_PUMP && !r->dead; moves++)
	{
		ssize_t n;

		if (!PendingFlush(&r->down, r->client.fd, &failed))
		{
			if (failed)
				r->dead = true; /* the client is gone */
			return;
		}
		if (r->mhd_eof || r->mhd.fd < 0)
			break;
		n = recv(r->mhd.fd, scratch, sizeof(scratch), MSG_DONTWAIT);
		if (n == 0)
		{
			r->mhd_eof = true;
			break;
		}
		if (n < 0)
		{
			if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
				return;
			r->mhd_eof = true;
			break;
		}
		if (!RelaySend(&r->down, r->client.fd, scratch, (size_t) n))
			r->dead = true;
		else if ((size_t) n < sizeof(scratch) && PendingEmpty(&r->down))
			break; /* a short read: nothing more now (the next event says when) */
	}
	if (r->mhd_eof && PendingEmpty(&r->down) && !r->dead && r->refuse_at > 0 && !r->refusal_sent)
		RelaySendRefusal(r);
	if (r->mhd_eof && PendingEmpty(&r->down) && !r->dead)
	{
		RelayCloseEnd(&r->mhd);
		PendingDrop(&r->up);
		RelayLinger(r);
	}
}

static void
RelayFree(Relay *r)
{
	if (r->down_shut)
		nlingering--;
	if (r->refuse_at > 0 && !r->refusal_sent)
		nrefusing--;
	RelayUnindexPeer(r);
	RelayCloseEnd(&r->client);
	RelayCloseEnd(&r->mhd);
	PendingDrop(&r->up);
	PendingDrop(&r->down);
	if (r->prev)
		r->prev->next = r->next;
	else
		relays = r->next;
	if (r->next)
		r->next->prev = r->prev;
	free(r);
}

/*
 * Move what can move (up, down or both: RELAY_UP, RELAY_DOWN), then ask for the
 * events that would let more move.
 */
#define RELAY_UP 1
#define RELAY_DOWN 2

static void
RelayPump(Relay *r, int directions)
{
	uint32_t client_want = 0;
	uint32_t mhd_want = 0;

	if (directions & RELAY_UP)
		RelayMoveUp(r);
	if (!r->dead && (directions & RELAY_DOWN))
		RelayMoveDown(r);
	if (r->dead)
	{
		RelayFree(r);
		return;
	}
	if (!r->client_eof && PendingEmpty(&r->up))
		client_want |= EPOLLIN;
	if (!PendingEmpty(&r->down))
		client_want |= EPOLLOUT;
	if (!r->mhd_eof && PendingEmpty(&r->down))
		mhd_want |= EPOLLIN;
	if (!PendingEmpty(&r->up))
		mhd_want |= EPOLLOUT;
	RelayArmEnd(&r->client, client_want);
	RelayArmEnd(&r->mhd, mhd_want);
}

/* A new client: its socket pair, its relay, its libmicrohttpd connection. */
static void
RelayAdopt(int client, const struct sockaddr *addr, socklen_t addrlen)
{
	int pair[2];
	int one = 1;
	Relay *r;

	(void) setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	r = calloc(1, sizeof(Relay));
	if (r == NULL || socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, pair) != 0)
	{
		RelayLog("could not take a connection: %s", strerror(errno));
		free(r);
		close(client);
		return;
	}
	r->client.relay = r->mhd.relay = r;
	r->client.fd = client;
	r->mhd.fd = pair[0];
	r->peer_fd = pair[1];
	RelayIndexPeer(r, pair[1]);
	HttpFramingInit(&r->framing, relay_max_body);
	if (!RelayAddEnd(&r->client, EPOLLIN) || !RelayAddEnd(&r->mhd, EPOLLIN))
	{
		RelayLog("could not take a connection: %s", strerror(errno));
		RelayArmEnd(&r->client, 0);
		close(client);
		close(pair[0]);
		close(pair[1]);
		free(r);
		return;
	}
	r->next = relays;
	if (relays)
		relays->prev = r;
	relays = r;
	/*
	 * libmicrohttpd runs the accept policy and the connection notification with
	 * the client's address; if it refuses, it closes pair[1] and the relay sees
	 * its end closed.
	 */
	(void) MHD_add_connection(relay_daemon, pair[1], addr, addrlen);
}

static void
RelayAccept(RelayEnd *l)
{
	for (int i = 0; i < RELAY_ACCEPT_BURST; i++)
	{
		struct sockaddr_storage addr;
		socklen_t addrlen = sizeof(addr);
		int fd = accept4(l->fd, (struct sockaddr *) &addr, &addrlen, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd >= 0)
		{
			RelayAdopt(fd, (struct sockaddr *) &addr, addrlen);
			continue;
		}
		if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
		{
			/* out of descriptors: stop accepting for a while (no busy loop on the backlog) */
			RelayLog("could not accept a connection: %s; pausing accept for %.0f s",
					 strerror(errno), RELAY_ACCEPT_PAUSE);
			accept_paused_until = RelayNow() + RELAY_ACCEPT_PAUSE;
			for (int k = 0; k < nlisteners; k++)
				RelayArmEnd(&listeners[k], 0);
		}
		return; /* EAGAIN: none left; other errors: the client's, gone already */
	}
}

void
HttpRelayRun(void)
{
	struct epoll_event events[RELAY_EVENTS];
	int n;

	if (relay_epoll < 0)
		return;
	if (accept_paused_until > 0 && RelayNow() >= accept_paused_until)
	{
		accept_paused_until = 0;
		for (int k = 0; k < nlisteners; k++)
			RelayArmEnd(&listeners[k], EPOLLIN);
	}
	n = epoll_wait(relay_epoll, events, RELAY_EVENTS, 0);
	for (int i = 0; i < n; i++)
	{
		RelayEnd *e = events[i].data.ptr;

		if (e->relay == NULL)
			RelayAccept(e);
	}
	/*
	 * Every relay with an event is pumped once, in the directions its events
	 * ask for (gathered in its due first, so a relay freed while pumping is
	 * not named by a later event of this batch).
	 */
	{
		Relay *ready[RELAY_EVENTS];
		int nready = 0;

		for (int i = 0; i < n; i++)
		{
			RelayEnd *e = events[i].data.ptr;
			uint32_t ev = events[i].events;
			int dir;

			if (e->relay == NULL)
				continue;
			/* readable client or writable libmicrohttpd end: up; the other two: down */
			if (ev & (EPOLLERR | EPOLLHUP))
				dir = RELAY_UP | RELAY_DOWN;
			else if (e == &e->relay->client)
				dir = ((ev & EPOLLIN) ? RELAY_UP : 0) | ((ev & EPOLLOUT) ? RELAY_DOWN : 0);
			else
				dir = ((ev & EPOLLIN) ? RELAY_DOWN : 0) | ((ev & EPOLLOUT) ? RELAY_UP : 0);
			if (e->relay->due == 0)
				ready[nready++] = e->relay;
			e->relay->due |= dir;
		}
		for (int k = 0; k < nready; k++)
		{
			int due = ready[k]->due;

			ready[k]->due = 0;
			RelayPump(ready[k], due);
		}
	}
	if (nrefusing > 0)
		for (Relay *r = relays, *next; r; r = next)
		{
			next = r->next;
			if (r->refuse_at > 0 && !r->refusal_sent)
			{
				RelayRefusalDue(r);
				if (r->dead)
					RelayFree(r);
				else
					RelayPump(r, RELAY_UP | RELAY_DOWN);
			}
		}
	if (nlingering > 0 && RelayNow() - linger_checked_at >= RELAY_LINGER_CHECK)
	{
		double now = RelayNow();

		linger_checked_at = now;
		for (Relay *r = relays, *next; r; r = next)
		{
			next = r->next;
			if (r->down_shut && now - r->linger_since >= RELAY_LINGER_SECONDS)
				RelayFree(r);
		}
	}
}

void
HttpRelayStop(void)
{
	HttpRelayStopListening();
	for (int round = 0; round < 3; round++)
		HttpRelayRun();
	while (relays)
		RelayFree(relays);
	if (relay_epoll >= 0)
		close(relay_epoll);
	relay_epoll = -1;
}
