/*
 * http_worker.c — the HTTP ingestion background worker and its event loop.
 *
 * One process, one thread (DESIGN §8). http_relay.c listens on every address
 * of pinpipe.http_listen_addresses, accepts, and hands each connection to one
 * libmicrohttpd daemon through a socket pair, watching the request framing on
 * the way (a chunk larger than pinpipe.http_max_body is refused at once).
 * libmicrohttpd runs without threads of its own, in epoll mode. Its epoll fd
 * and the relay's sit in the worker's WaitEventSet beside the latch,
 * postmaster death and, in Kafka mode, the producer's wake-up pipe. Every
 * iteration waits once (bounded by MHD_get_timeout), then runs the relay and
 * the daemon, serves librdkafka's events, writes the queued pins (embedded
 * mode), resumes the requests whose answer is known and passes the answers on.
 *
 * Embedded mode: the access handler validates pins and queues the request;
 * the loop writes every queued request's pins in one transaction through
 * SinkWriteBatch and answers them all after the commit. Kafka mode: see
 * http_producer.c. In both, the connection is suspended until the answer is
 * certain, and the loop never blocks on it.
 *
 * All PostgreSQL calls happen here, in the loop, outside libmicrohttpd and
 * librdkafka callbacks, inside WorkerTry (worker_common.h) where they may fail.
 *
 * Lifecycle (worker_common.h): a SIGTERM stops the loop gracefully; the exit
 * code then says whether the postmaster restarts us (anything but a server
 * shutdown). Kafka mode runs without a database session; embedded mode
 * without one when pinpipe.database was missing at start: it answers 503 and
 * restarts itself once the database exists.
 */
#include "postgres.h"

#include <netdb.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "access/xact.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "guc.h"
#include "http_producer.h"
#include "http_relay.h"
#include "http_request.h"
#include "http_worker.h"
#include "metrics.h"
#include "pg_compat.h"
#include "sink.h"
#include "worker_common.h"
#include "worker_status.h"

#define HTTP_MAX_ADDRESSES 16
#define HTTP_LOG_SLOTS 8
#define HTTP_LOG_BURST 5	 /* libmicrohttpd lines logged per window ... */
#define HTTP_LOG_WINDOW 10.0 /* ... of this many seconds */
#define HTTP_READY_CHECK_SECONDS 1.0
#define HTTP_MAX_BATCH_PINS 20000 /* pins per embedded-mode transaction (whole requests) */
#define HTTP_WHO "pinpipe http worker"

/* libmicrohttpd serves every connection; http_relay.c listens and hands them over. */
static struct MHD_Daemon *mhd_daemon = NULL;
static struct sockaddr_storage listen_addrs[HTTP_MAX_ADDRESSES];
static int nlisten = 0;
static bool kafka_mode = false;
static WorkerStatus *my_status = NULL;

/* Embedded mode: requests whose pins wait for the next transaction. */
static HttpRequest *queue_head = NULL;
static HttpRequest *queue_tail = NULL;

/* Embedded mode: is the database side usable (extension installed, last write ok)? */
static bool db_ready = false;
static WorkerDbState db_state = WORKER_DB_ERROR; /* of the last check */
static double db_checked_at = 0;
static char db_problem[256] = "not checked yet";

/* libmicrohttpd's log lines, kept until the loop can ereport them. */
static char mhd_log[HTTP_LOG_SLOTS][256];
static int mhd_log_count = 0;
static int mhd_log_dropped = 0; /* lines beyond the slots, since the last flush */

static MemoryContext batch_context = NULL;

static void HttpShutdown(void);

/* Health as the worker sees it: NULL when healthy, else why not. */
static const char *
HttpHealthProblem(void)
{
	if (kafka_mode)
		return HttpProducerProblem();
	return db_ready ? NULL : db_problem;
}

/* Embedded mode: queue a request's valid records for the next transaction. */
static bool
HttpEmbeddedEnqueue(HttpRequest *req)
{
	if (!db_ready)
		return false;
	req->next = NULL;
	if (queue_tail)
		queue_tail->next = req;
	else
		queue_head = req;
	queue_tail = req;
	return true;
}

/*
 * libmicrohttpd's error log (and the relay's): keep the text (we are inside
 * MHD, so no ereport here). Its connections are the relay's socket pairs, not
 * TCP sockets: its complaints that TCP options (TCP_NODELAY, TCP_CORK) cannot
 * be set on them, and that it could not "push" after them, say nothing about a
 * client and are dropped (the relay sets TCP_NODELAY on the client's socket).
 */
static void HttpMhdLogger(void *cls, const char *fmt, va_list ap) pg_attribute_printf(2, 0);

static void
HttpMhdLogger(void *cls, const char *fmt, va_list ap)
{
	if (strncmp(fmt, "Setting %s option to %s state failed", 36) == 0 ||
		strncmp(fmt, "Failed to push the data from buffers to the network", 51) == 0)
		return;
	if (mhd_log_count < HTTP_LOG_SLOTS)
		vsnprintf(mhd_log[mhd_log_count++], sizeof(mhd_log[0]), fmt, ap);
	else
	{
		mhd_log_dropped++;
		MetricsMalformed();
	}
}

/*
 * An open connection: for the header deadline (see HttpConnRequestStarted) and
 * for admission (HttpAcceptPolicy), which needs each connection's client
 * address and whether it is idle (waiting for a request header).
 */
typedef struct HttpConn
{
	MHD_socket fd;
	double waiting_since; /* start of the wait for a request header; 0 = in a request */
	bool cut;			  /* already shut down (no longer counted as open) */
	bool over_limit;	  /* accepted over a limit: its request gets 503 */
	bool in_body;		  /* a request body is being received */
	double progress_at;	  /* last time the request layer saw its body advance */
	struct sockaddr_storage addr;
	struct HttpConn *prev;
	struct HttpConn *next;
} HttpConn;

static HttpConn *conns = NULL;
static double conns_checked_at = 0;

/* Set by the accept policy for the connection libmicrohttpd creates right after it. */
static bool next_conn_over_limit = false;

/*
 * Connections libmicrohttpd may hold beyond pinpipe.http_max_connections: room
 * to answer 503 to clients over a limit instead of leaving them unanswered in
 * the listen backlog.
 */
#define HTTP_CONN_SPARE 64

/* Shut a connection down; libmicrohttpd sees it fail and frees it in its next run. */
static void
HttpConnCut(HttpConn *c)
{
	if (c->cut)
		return;
	if (c->fd != MHD_INVALID_SOCKET)
		shutdown(c->fd, SHUT_RDWR);
	c->cut = true;
	MetricsConnection(-1);
}

/* Count connections (for /metrics and the limits) and track them. */
static void
HttpConnectionNotify(void *cls, struct MHD_Connection *conn, void **socket_context,
					 enum MHD_ConnectionNotificationCode toe)
{
	HttpConn *c = *socket_context;

	if (toe == MHD_CONNECTION_NOTIFY_STARTED)
	{
		const union MHD_ConnectionInfo *info =
			MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
		const union MHD_ConnectionInfo *ainfo =
			MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
		bool over = next_conn_over_limit;

		next_conn_over_limit = false;
		MetricsConnection(1);
		if (over)
			MetricsConnectionShed(true);
		c = calloc(1, sizeof(HttpConn));
		if (c == NULL)
			return; /* untracked: MHD's idle timeout still applies */
		c->fd = info ? info->connect_fd : MHD_INVALID_SOCKET;
		c->waiting_since = HttpNow();
		c->over_limit = over;
		if (ainfo && ainfo->client_addr)
			memcpy(&c->addr, ainfo->client_addr,
				   ainfo->client_addr->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
															 : sizeof(struct sockaddr_in));
		c->next = conns;
		if (conns)
			conns->prev = c;
		conns = c;
		*socket_context = c;
		return;
	}
	if (c == NULL)
	{
		MetricsConnection(-1);
		return;
	}
	if (!c->cut)
		MetricsConnection(-1);
	if (c->prev)
		c->prev->next = c->next;
	else
		conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	free(c);
	*socket_context = NULL;
}

/* The tracking record of a connection, or NULL. */
static HttpConn *
HttpConnOf(struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *info =
		MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

	return info ? (HttpConn *) info->socket_context : NULL;
}

static void
HttpConnRequestStarted(void *ctx, struct MHD_Connection *conn)
{
	HttpConn *c = HttpConnOf(conn);

	if (c)
		c->waiting_since = 0;
}

static void
HttpConnRequestDone(void *ctx, struct MHD_Connection *conn, bool answered)
{
	HttpConn *c = conn ? HttpConnOf(conn) : NULL;

	if (c)
	{
		c->waiting_since = HttpNow();
		if (answered)
			HttpRelayAnswered(c->fd);
	}
}

static void
HttpConnBodyProgress(void *ctx, struct MHD_Connection *conn, bool in_body)
{
	HttpConn *c = HttpConnOf(conn);

	if (c)
	{
		c->in_body = in_body;
		c->progress_at = HttpNow();
	}
}

static bool
HttpConnOverLimit(void *ctx, struct MHD_Connection *conn)
{
	HttpConn *c = HttpConnOf(conn);

	return c != NULL && c->over_limit;
}

/*
 * Answer 400 on libmicrohttpd's end of the connection and close: for a body
 * libmicrohttpd stopped reading (a chunk line longer than its buffer), where it
 * would neither answer nor read on until the timeout. libmicrohttpd has sent
 * nothing on this request, so these are the only bytes of the answer; the
 * relay passes them on and closes the client with a FIN after them.
 */
static void
HttpConnRefuseStalled(HttpConn *c)
{
	char buf[512];
	size_t n = HttpRelayAnswerText(buf, sizeof(buf), "400 Bad Request", "malformed chunked body");

	(void) send(c->fd, buf, n, MSG_NOSIGNAL | MSG_DONTWAIT);
	MetricsMalformed();
	HttpConnCut(c);
}

/*
 * Has the client closed its sending side, with nothing left unread? Asked only
 * between requests (no complete header held by libmicrohttpd, none in the
 * socket), when no further request can come. libmicrohttpd 0.9.75 notices the
 * end of input only on a later readiness edge: when the end arrived together
 * with the request it had read (and the answer was not deferred) it would keep
 * the connection open, answered, until pinpipe.http_timeout.
 */
static bool
HttpConnPeerClosed(HttpConn *c)
{
	char b;

	return recv(c->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT) == 0;
}

/*
 * Close connections that have not sent a whole request header within
 * pinpipe.http_timeout, however slowly they trickle bytes (libmicrohttpd's own
 * timeout only counts idle time), and those whose client half-closed between
 * requests; and refuse bodies libmicrohttpd stopped reading: bytes wait in the
 * socket, yet the body has not advanced for a second.
 */
static void
HttpCutSlowConnections(void)
{
	double now = HttpNow();

	if (now - conns_checked_at < 0.5)
		return;
	conns_checked_at = now;
	for (HttpConn *c = conns; c; c = c->next)
	{
		int waiting = 0;

		if (c->cut || c->fd == MHD_INVALID_SOCKET)
			continue;
		if (c->waiting_since > 0 && now - c->waiting_since > (double) pinpipe_http_timeout)
			HttpConnCut(c);
		else if (c->waiting_since > 0 && HttpConnPeerClosed(c))
			HttpConnCut(c);
		else if (c->waiting_since == 0 && c->in_body && now - c->progress_at >= 1.0 &&
				 ioctl(c->fd, FIONREAD, &waiting) == 0 && waiting > 0)
			HttpConnRefuseStalled(c);
	}
}

/*
 * Embedded mode has one partition, 0, per stream (the raw log): a REST-proxy
 * record that asks for another is refused.
 */
static void
HttpEmbeddedRefusePartitions(HttpRequest *req)
{
	for (int i = 0; i < req->nrecords; i++)
		if (req->records[i].outcome == HTTP_REC_PENDING && req->records[i].partition > 0)
			HttpRecordDone(req, &req->records[i], HTTP_REC_REFUSED,
						   "no such partition: embedded mode has partition 0 only");
}

/* The request layer's backend (HttpBackend): this worker, in either mode. */
static bool
HttpBackendSubmit(void *ctx, HttpRequest *req, const char **reason)
{
	if (kafka_mode)
		return HttpProducerSend(req, reason);
	if (!db_ready)
	{
		*reason = HttpHealthProblem();
		return false;
	}
	HttpEmbeddedRefusePartitions(req);
	if (req->pending == 0)
		return true; /* all settled: the request is readied */
	if (HttpEmbeddedEnqueue(req))
		return true;
	*reason = HttpHealthProblem();
	return false;
}

static const char *
HttpBackendHealth(void *ctx)
{
	return HttpHealthProblem();
}

static const char *
HttpBackendMode(void *ctx)
{
	return kafka_mode ? "kafka" : "embedded";
}

static int64_t
HttpBackendQueueDepth(void *ctx)
{
	return kafka_mode ? HttpProducerQueueDepth() : 0;
}

static bool
HttpBackendTakesPins(void *ctx)
{
	return !kafka_mode;
}

static const HttpBackend http_backend = {
	.ctx = NULL,
	.submit = HttpBackendSubmit,
	.health = HttpBackendHealth,
	.mode = HttpBackendMode,
	.queue_depth = HttpBackendQueueDepth,
	.takes_pins = HttpBackendTakesPins,
	.request_started = HttpConnRequestStarted,
	.request_done = HttpConnRequestDone,
	.body_progress = HttpConnBodyProgress,
	.over_limit = HttpConnOverLimit,
};

/* True when a connection comes from the client address addr (the port aside). */
static bool
HttpConnFrom(const HttpConn *c, const struct sockaddr *addr)
{
	if (c->addr.ss_family != addr->sa_family)
		return false;
	if (addr->sa_family == AF_INET)
		return memcmp(&((const struct sockaddr_in *) &c->addr)->sin_addr,
					  &((const struct sockaddr_in *) addr)->sin_addr, sizeof(struct in_addr)) == 0;
	if (addr->sa_family == AF_INET6)
		return memcmp(&((const struct sockaddr_in6 *) &c->addr)->sin6_addr,
					  &((const struct sockaddr_in6 *) addr)->sin6_addr,
					  sizeof(struct in6_addr)) == 0;
	return false;
}

/*
 * Admission of a new connection. pinpipe.http_max_connections counts across all
 * listening addresses and pinpipe.http_max_connections_per_client per client
 * address. At a limit, the oldest idle connection (no request in progress) in
 * its scope is closed to make room; with none idle, the new connection is still
 * accepted (while libmicrohttpd has spare room) and answered 503 + Retry-After,
 * so that no client waits unanswered in the listen backlog.
 */
static enum MHD_Result
HttpAcceptPolicy(void *cls, const struct sockaddr *addr, socklen_t addrlen)
{
	int live = 0;
	int mine = 0;
	HttpConn *idle = NULL;
	HttpConn *idle_mine = NULL;

	next_conn_over_limit = false;
	for (HttpConn *c = conns; c; c = c->next)
	{
		bool same;

		if (c->cut)
			continue;
		same = addr != NULL && HttpConnFrom(c, addr);
		live++;
		if (same)
			mine++;
		if (c->waiting_since > 0)
		{
			if (idle == NULL || c->waiting_since < idle->waiting_since)
				idle = c;
			if (same && (idle_mine == NULL || c->waiting_since < idle_mine->waiting_since))
				idle_mine = c;
		}
	}
	if (mine >= pinpipe_http_max_connections_per_client)
	{
		if (idle_mine)
		{
			HttpConnCut(idle_mine);
			MetricsConnectionShed(false);
		}
		else
			next_conn_over_limit = true;
	}
	else if (live >= pinpipe_http_max_connections)
	{
		if (idle)
		{
			HttpConnCut(idle);
			MetricsConnectionShed(false);
		}
		else
			next_conn_over_limit = true;
	}
	return MHD_YES;
}

/*
 * The one daemon: no listening socket of its own (http_relay.c accepts and
 * hands each connection over with its client's address).
 */
static struct MHD_Daemon *
HttpStartDaemon(void)
{
	unsigned int flags =
		MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG | MHD_USE_NO_LISTEN_SOCKET;

	/* clang-format off */
	return MHD_start_daemon(flags, 0, HttpAcceptPolicy, NULL,
							HttpAccessHandler, (void *) &http_backend,
							MHD_OPTION_EXTERNAL_LOGGER, HttpMhdLogger, NULL,
							MHD_OPTION_NOTIFY_COMPLETED, HttpRequestCompleted, (void *) &http_backend,
							MHD_OPTION_NOTIFY_CONNECTION, HttpConnectionNotify, NULL,
							MHD_OPTION_CONNECTION_LIMIT, (unsigned int) (pinpipe_http_max_connections + HTTP_CONN_SPARE),
							MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int) pinpipe_http_timeout,
							MHD_OPTION_END);
	/* clang-format on */
}

/* Listening on host failed (errno says why). */
static pg_attribute_noreturn() void HttpListenFailed(const char *host)
{
	if (strcmp(host, "*") == 0)
		ereport(ERROR,
				(errcode(ERRCODE_CONNECTION_FAILURE),
				 errmsg("pinpipe http worker could not listen on *:%d: %m", pinpipe_http_port),
				 errhint("Check that no other process uses the port (pinpipe.http_port).")));
	ereport(ERROR, (errcode(ERRCODE_CONNECTION_FAILURE),
					errmsg("pinpipe http worker could not listen on %s port %d: %m", host,
						   pinpipe_http_port),
					errhint("Check that no other process uses the port (pinpipe.http_port) "
							"and that the address is local.")));
}

/*
 * Start the daemon and the relay, and listen on every address of
 * pinpipe.http_listen_addresses; ERROR if one cannot be listened on.
 */
static void
HttpStartListening(void)
{
	char *list = pstrdup(pinpipe_http_listen_addresses ? pinpipe_http_listen_addresses : "");
	char *save = NULL;
	char port[16];

	mhd_daemon = HttpStartDaemon();
	if (mhd_daemon == NULL)
		elog(ERROR, "libmicrohttpd could not start");
	if (!HttpRelayStart(mhd_daemon, HttpMhdLogger, NULL, (uint64_t) pinpipe_http_max_body))
		elog(ERROR, "pinpipe http worker could not create its epoll set: %m");
	snprintf(port, sizeof(port), "%d", pinpipe_http_port);
	for (char *tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
	{
		struct addrinfo hints;
		struct addrinfo *res = NULL;
		char *host = tok;
		char *end;
		int rc;

		while (*host == ' ' || *host == '\t')
			host++;
		end = host + strlen(host);
		while (end > host && (end[-1] == ' ' || end[-1] == '\t'))
			*--end = '\0';
		if (*host == '\0')
			continue;
		if (strcmp(host, "*") == 0)
		{
			if (!HttpRelayListen(NULL, 0, pinpipe_http_port))
				HttpListenFailed(host);
			nlisten++;
			continue;
		}
		memset(&hints, 0, sizeof(hints));
		hints.ai_family = AF_UNSPEC;
		hints.ai_socktype = SOCK_STREAM;
		hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
		rc = getaddrinfo(host, port, &hints, &res);
		if (rc != 0)
			ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
							errmsg("invalid address \"%s\" in pinpipe.http_listen_addresses: %s",
								   host, gai_strerror(rc))));
		for (struct addrinfo *ai = res; ai; ai = ai->ai_next)
		{
			bool seen = false;

			if (nlisten >= HTTP_MAX_ADDRESSES || ai->ai_addrlen > sizeof(struct sockaddr_storage))
				break;
			/* "localhost, 127.0.0.1" names one address twice: listen once */
			for (int i = 0; i < nlisten; i++)
				if (memcmp(&listen_addrs[i], ai->ai_addr, ai->ai_addrlen) == 0)
					seen = true;
			if (seen)
				continue;
			memset(&listen_addrs[nlisten], 0, sizeof(struct sockaddr_storage));
			memcpy(&listen_addrs[nlisten], ai->ai_addr, ai->ai_addrlen);
			if (!HttpRelayListen(ai->ai_addr, ai->ai_addrlen, pinpipe_http_port))
			{
				int e = errno;

				freeaddrinfo(res);
				errno = e;
				HttpListenFailed(host);
			}
			nlisten++;
		}
		freeaddrinfo(res);
	}
	pfree(list);
	if (nlisten == 0)
		ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						errmsg("pinpipe.http_listen_addresses names no address to listen on")));
}

/*
 * Report what libmicrohttpd logged since the last iteration. Its lines are
 * mostly about clients (malformed requests, connections cut mid-request), so
 * anyone could flood the server log with them: each is counted in /metrics,
 * and at most HTTP_LOG_BURST are written per HTTP_LOG_WINDOW seconds, the rest
 * summed up in one line when the window ends.
 */
static void
HttpFlushMhdLog(void)
{
	static double window_start = 0;
	static int written = 0;
	static int suppressed = 0;
	double now = HttpNow();

	if (now - window_start >= HTTP_LOG_WINDOW)
	{
		if (suppressed > 0)
			ereport(LOG, (errmsg("pinpipe http: %d more libmicrohttpd messages suppressed in the "
								 "last %d s (see pinpipe_http_malformed_requests_total)",
								 suppressed, (int) HTTP_LOG_WINDOW)));
		window_start = now;
		written = 0;
		suppressed = 0;
	}
	for (int i = 0; i < mhd_log_count; i++)
	{
		size_t n = strlen(mhd_log[i]);

		MetricsMalformed();
		if (written >= HTTP_LOG_BURST)
		{
			suppressed++;
			continue;
		}
		while (n > 0 && mhd_log[i][n - 1] == '\n')
			mhd_log[i][--n] = '\0';
		ereport(LOG, (errmsg("pinpipe http: %s", mhd_log[i])));
		written++;
	}
	suppressed += mhd_log_dropped;
	mhd_log_count = 0;
	mhd_log_dropped = 0;
}

/* Settle every queued request's pending records with one outcome. */
static void
HttpSettleAll(HttpRequest *head, HttpRecordOutcome outcome, const char *reason)
{
	while (head)
	{
		HttpRequest *next = head->next;

		for (int i = 0; i < head->nrecords; i++)
			if (head->records[i].outcome == HTTP_REC_PENDING)
				HttpRecordDone(head, &head->records[i], outcome, reason);
		head = next;
	}
}

/*
 * Embedded mode: is the database side ready? Without a database session
 * (pinpipe.database was missing when this process started) this watches
 * pg_database and, once the database exists, restarts the worker connected
 * to it; the port stays open and answers 503 meanwhile.
 */
static void
HttpCheckDatabase(void)
{
	char problem[WORKER_PROBLEM_LEN];
	WorkerDbState state = WorkerCheckDatabase(problem, sizeof(problem));

	db_checked_at = HttpNow();
	if (state == WORKER_DB_APPEARED)
	{
		char why[WORKER_PROBLEM_LEN + 64];

		snprintf(why, sizeof(why), "database \"%s\" exists now, connecting to it",
				 pinpipe_database);
		HttpShutdown();
		WorkerExitToRestart(HTTP_WHO, why);
	}
	if (state != db_state && state == WORKER_DB_READY)
		ereport(LOG, (errmsg(HTTP_WHO ": extension found, accepting pins")));
	else if (state != db_state && state != WORKER_DB_ERROR)
		ereport(LOG, (errmsg(HTTP_WHO ": %s, answering 503; checking every %.0f s", problem,
							 HTTP_READY_CHECK_SECONDS)));
	db_state = state;
	db_ready = state == WORKER_DB_READY;
	if (!db_ready)
		strlcpy(db_problem, problem, sizeof(db_problem));
}

/* One embedded-mode write: the messages of the queued requests. */
typedef struct HttpWrite
{
	SinkMessage *msgs;
	int n;
	SinkCounts counts;
} HttpWrite;

/* The sink stream of a record: its request's model (none: a pin). */
static SinkStream
HttpRecordStream(const HttpRecord *rec)
{
	const RecordModel *m = rec->req->model;
	SinkStream st = SINK_STREAM_PIN;

	if (m != NULL && !SinkStreamFromName(m->name, strlen(m->name), &st))
		elog(ERROR, "record of an unknown stream \"%s\"", m->name);
	return st;
}

/* The transaction of HttpEmbeddedFlush (throws on any database error). */
static void
HttpEmbeddedWriteTx(void *arg)
{
	HttpWrite *w = arg;

	WorkerTxBegin("pinpipe http: writing pins", false);
	SinkWriteBatch(SINK_SOURCE_HTTP, w->msgs, w->n, &w->counts);
	WorkerTxCommit(false);
}

/*
 * The ingest lag of the requests just committed: commit time minus each one's
 * arrival (pinpipe_ingest_lag_seconds{source="http"}, pinpipe.workers).
 */
static void
HttpRecordIngestLag(HttpRequest *head)
{
	double now = HttpNow();
	double lags[64];
	int n = 0;

	for (HttpRequest *r = head; r; r = r->next)
	{
		lags[n++] = now - r->started;
		if (n == lengthof(lags) || r->next == NULL)
		{
			WorkerStatusIngestLag(my_status, lags, n, lags[n - 1]);
			n = 0;
		}
	}
}

/* Embedded mode: write every queued pin in one transaction, then settle the requests. */
static void
HttpEmbeddedFlush(void)
{
	HttpRequest *head = queue_head;
	int n = 0;
	int k = 0;
	SinkMessage *msgs;
	HttpRecord **recs;
	HttpWrite w;
	ErrorData *edata;
	MemoryContext oldcxt;
	TimestampTz start;

	if (head == NULL)
		return;
	/*
	 * Take whole requests until the transaction holds HTTP_MAX_BATCH_PINS pins;
	 * the rest stays queued for the next iteration (which then does not wait).
	 */
	{
		HttpRequest *last = head;
		int total = 0;

		for (HttpRequest *r = head; r; r = r->next)
		{
			for (int i = 0; i < r->nrecords; i++)
				if (r->records[i].outcome == HTTP_REC_PENDING)
					total++;
			last = r;
			if (total >= HTTP_MAX_BATCH_PINS)
				break;
		}
		queue_head = last->next;
		if (queue_head == NULL)
			queue_tail = NULL;
		last->next = NULL;
		n = total;
	}

	MemoryContextReset(batch_context);
	oldcxt = MemoryContextSwitchTo(batch_context);
	msgs = palloc0(sizeof(SinkMessage) * n);
	recs = palloc(sizeof(HttpRecord *) * n);
	for (HttpRequest *r = head; r; r = r->next)
		for (int i = 0; i < r->nrecords; i++)
			if (r->records[i].outcome == HTTP_REC_PENDING)
			{
				recs[k] = &r->records[i];
				msgs[k].data = r->records[i].data;
				msgs[k].len = r->records[i].len;
				msgs[k].topic = NULL;
				msgs[k].partition = -1;
				msgs[k].offset = -1;
				msgs[k].stream = HttpRecordStream(&r->records[i]);
				if (r->records[i].pin)
				{
					/* validated before the answer was due: the sink does not parse it again */
					msgs[k].input = SINK_INPUT_VALIDATED;
					msgs[k].record = &r->records[i].pin->rec;
				}
				k++;
			}

	start = GetCurrentTimestamp();
	w.msgs = msgs;
	w.n = n;
	w.counts.accepted = w.counts.dead_lettered = 0;
	edata = WorkerTry(HttpEmbeddedWriteTx, &w, batch_context);
	if (edata)
	{
		db_ready = false;
		db_state = WORKER_DB_ERROR;
		db_checked_at = HttpNow();
		snprintf(db_problem, sizeof(db_problem), "database write failed: %s", edata->message);
		ereport(LOG, (errmsg(HTTP_WHO " could not write %d pins: %s", n, edata->message)));
		WorkerStatusSetError(my_status, edata->message);
		WorkerStatusSetState(my_status, "database unavailable");
	}
	MemoryContextSwitchTo(oldcxt);

	if (edata == NULL)
	{
		long secs;
		int usecs;

		TimestampDifference(start, GetCurrentTimestamp(), &secs, &usecs);
		WorkerStatusBatchDone(my_status, w.counts.accepted, w.counts.dead_lettered,
							  (double) secs + usecs / 1e6);
		HttpRecordIngestLag(head);
		for (int i = 0; i < n; i++)
		{
			HttpRecord *rec = recs[i];

			if (msgs[i].outcome == SINK_ACCEPTED)
			{
				/* what the REST APIs report: partition 0, offset = its raw log id */
				rec->stored_partition = 0;
				rec->stored_offset = msgs[i].raw_id;
				HttpRecordDone(rec->req, rec, HTTP_REC_ACCEPTED, NULL);
			}
			else if (msgs[i].outcome == SINK_DEAD_LETTERED)
				HttpRecordDone(rec->req, rec, HTTP_REC_REJECTED,
							   msgs[i].error ? msgs[i].error : "dead-lettered");
			else
				HttpRecordDone(rec->req, rec, HTTP_REC_UNAVAILABLE, "pin was not written");
		}
	}
	else
		HttpSettleAll(head, HTTP_REC_UNAVAILABLE, db_problem);
}

/* Graceful stop: accept no more, answer what can be answered, then close everything. */
static void
HttpShutdown(void)
{
	if (mhd_daemon == NULL)
		return;
	HttpRelayStopListening();
	if (kafka_mode)
	{
		/* Deliveries in flight get their answer; the rest is purged and answered 503. */
		HttpProducerStop(3000);
	}
	else
	{
		HttpEmbeddedFlush();
		/* requests still arriving on open connections get 503 */
		db_ready = false;
		snprintf(db_problem, sizeof(db_problem), "server shutting down");
	}
	HttpResumeReady();
	for (int round = 0; round < 5; round++)
	{
		HttpRelayRun();
		HttpRun(mhd_daemon);
		HttpRelayRun();
	}
	HttpResumeReady();
	HttpRun(mhd_daemon);
	HttpRelayRun();
	MHD_stop_daemon(mhd_daemon);
	mhd_daemon = NULL;
	HttpRelayStop();
}

/* Process exit after an error: do not leave librdkafka threads running. */
static void
HttpBeforeShmemExit(int code, Datum arg)
{
	if (kafka_mode)
		HttpProducerStop(0);
}

void
pinpipe_http_main(Datum main_arg)
{
	WaitEventSet *wes;
	int nevents;
	char errbuf[512];
	const char *last_problem = NULL;

	/* graceful: requests in flight are answered before the process ends */
	WorkerSignals(true);
	kafka_mode = GucKafkaEnabled();
	/* Kafka mode never touches the database: it runs without one */
	WorkerConnect(!kafka_mode);

	my_status = WorkerStatusAttach(WORKER_KIND_HTTP, 0);
	batch_context =
		AllocSetContextCreate(TopMemoryContext, "pinpipe http batch", ALLOCSET_DEFAULT_SIZES);
	before_shmem_exit(HttpBeforeShmemExit, (Datum) 0);

	if (kafka_mode && !HttpProducerStart(errbuf, sizeof(errbuf)))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("pinpipe http worker could not create its Kafka producer: %s", errbuf),
				 errhint("Check pinpipe.kafka_brokers and pinpipe.kafka_config.")));
	if (!kafka_mode)
		HttpCheckDatabase();
	HttpStartListening();

	nevents = 4 + (kafka_mode ? 1 : 0);
	wes = PinpipeCreateWaitEventSet(TopMemoryContext, nevents);
	AddWaitEventToSet(wes, WL_LATCH_SET, PGINVALID_SOCKET, MyLatch, NULL);
	AddWaitEventToSet(wes, WL_EXIT_ON_PM_DEATH, PGINVALID_SOCKET, NULL, NULL);
	{
		const union MHD_DaemonInfo *info =
			MHD_get_daemon_info(mhd_daemon, MHD_DAEMON_INFO_EPOLL_FD);

		if (info == NULL)
			elog(ERROR, "libmicrohttpd did not give its epoll fd");
		AddWaitEventToSet(wes, WL_SOCKET_READABLE, info->epoll_fd, NULL, NULL);
	}
	AddWaitEventToSet(wes, WL_SOCKET_READABLE, HttpRelayFd(), NULL, NULL);
	if (kafka_mode)
		AddWaitEventToSet(wes, WL_SOCKET_READABLE, HttpProducerFd(), NULL, NULL);

	ereport(LOG, (errmsg("pinpipe http worker listening on %s port %d (%s mode)",
						 pinpipe_http_listen_addresses, pinpipe_http_port,
						 kafka_mode ? "Kafka" : "embedded")));
	WorkerStatusSetState(my_status, "listening");

	while (!WorkerStopRequested())
	{
		WaitEvent events[8];
		long timeout = 1000;
		const char *problem;
		MHD_UNSIGNED_LONG_LONG t;

		if (MHD_get_timeout(mhd_daemon, &t) == MHD_YES && (long) t < timeout)
			timeout = (long) t;
		if (queue_head != NULL)
			timeout = 0;
		if (kafka_mode)
		{
			/* wake up in time to answer a request at its deadline (HttpExpireWaiting) */
			long left = (long) (HttpExpireWaiting(HttpProducerAnswerBound()) * 1000.0) + 1;

			if (left < timeout)
				timeout = left;
		}
		(void) WaitEventSetWait(wes, timeout, events, lengthof(events), PG_WAIT_EXTENSION);

		ResetLatch(MyLatch);
		WorkerServiceInterrupts(HTTP_WHO);

		HttpRelayRun(); /* new clients and their bytes, before libmicrohttpd reads them */
		HttpRun(mhd_daemon);
		if (kafka_mode)
		{
			HttpProducerPoll();
			if (HttpProducerFatal())
			{
				/*
				 * An idempotent producer that hit a fatal error cannot continue:
				 * answer what is in flight (503 for what was not acknowledged)
				 * and exit, so the postmaster restarts us with a new producer.
				 */
				WorkerStatusSetError(my_status, HttpProducerProblem());
				HttpShutdown();
				WorkerExitToRestart(HTTP_WHO, HttpProducerProblem());
			}
		}
		else
		{
			HttpEmbeddedFlush();
			if (!db_ready && HttpNow() - db_checked_at >= HTTP_READY_CHECK_SECONDS)
				HttpCheckDatabase();
		}
		/* Answers known now go out in this iteration. */
		if (kafka_mode)
			(void) HttpExpireWaiting(HttpProducerAnswerBound());
		if (HttpResumeReady() || kafka_mode)
			HttpRun(mhd_daemon);
		HttpRelayRun(); /* what libmicrohttpd answered, to the clients now */
		HttpCutSlowConnections();
		HttpFlushMhdLog();

		problem = HttpHealthProblem();
		if (problem != last_problem)
		{
			if (problem)
				ereport(LOG, (errmsg("pinpipe http worker unavailable: %s", problem)));
			else if (last_problem)
				ereport(LOG, (errmsg("pinpipe http worker available again")));
			WorkerStatusSetState(my_status, problem ? "unavailable" : "listening");
			last_problem = problem;
		}
	}

	WorkerStatusSetState(my_status, "stopping");
	HttpShutdown();
	WorkerExit(HTTP_WHO);
}

void
HttpInit(void)
{
	if (pinpipe_http_port == 0)
		return;
	WorkerRegister("http", 0, "pinpipe_http_main");
}
