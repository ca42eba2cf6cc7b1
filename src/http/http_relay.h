/*
 * http_relay.h — the HTTP worker's front door: its listening sockets, and a
 * relay between each client's socket and the libmicrohttpd connection that
 * serves it, which watches the request framing on the way in (http_framing.h).
 *
 * Why: libmicrohttpd 0.9.75 parses chunk-size lines inside its own read buffer
 * and never tells its application the size a chunk declares, so a client that
 * declares 2^64 bytes and sends three looks like a slow one and holds its
 * connection until pinpipe.http_timeout. The relay sees the size before
 * libmicrohttpd reads it and answers 413 at once.
 *
 * How: pinpipe owns accept. Each accepted client gets a socket pair; one end
 * goes to libmicrohttpd (MHD_add_connection, with the client's address, so
 * admission, the per-client cap and the connection tracking in http_worker.c
 * work as before), the relay moves bytes between the client and the other end,
 * both ways, with back-pressure, and passes on a half-close. Single-threaded,
 * non-blocking, run from the worker's loop; the epoll fd of HttpRelayFd() goes
 * into its WaitEventSet.
 */
#ifndef HTTP_RELAY_H
#define HTTP_RELAY_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include <microhttpd.h>

/*
 * Set up the relay for daemon (started with MHD_USE_NO_LISTEN_SOCKET); log
 * takes its log lines the way libmicrohttpd's own go (rate-limited, counted);
 * a chunk may declare at most max_body bytes (pinpipe.http_max_body). False
 * with errno set when its epoll fd cannot be made.
 */
typedef void (*HttpRelayLogger)(void *cls, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));

extern bool HttpRelayStart(struct MHD_Daemon *daemon, HttpRelayLogger log, void *log_cls,
						   uint64_t max_body);

/* Listen on addr (NULL: every address, both IP versions) at port. False with errno set. */
extern bool HttpRelayListen(const struct sockaddr *addr, socklen_t addrlen, int port);

/* The fd that is readable when the relay has work (a WaitEventSet socket event). */
extern int HttpRelayFd(void);

/* Accept waiting clients and move every byte that can move now, both ways. */
extern void HttpRelayRun(void);

/*
 * libmicrohttpd sent a whole answer on the connection it serves on peer_fd
 * (its end of a socket pair): counted, so that a refusal of the relay's own
 * never answers a request twice.
 */
extern void HttpRelayAnswered(int peer_fd);

/*
 * The whole text of an answer pinpipe gives outside libmicrohttpd: status
 * ("413 Content Too Large"), Connection: close and a JSON body {"detail": ...}
 * (detail needs no escaping). Returns its length (cut to fit cap).
 */
extern size_t HttpRelayAnswerText(char *buf, size_t cap, const char *status, const char *detail);

/* Stop accepting (graceful stop); open connections go on. */
extern void HttpRelayStopListening(void);

/* After MHD_stop_daemon: pass on what libmicrohttpd wrote last, then close every client. */
extern void HttpRelayStop(void);

#endif /* HTTP_RELAY_H */
