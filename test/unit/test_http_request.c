/*
 * test_http_request.c — the HTTP request layer (src/http_request.c) alone, without
 * PostgreSQL, the worker or Kafka: a libmicrohttpd daemon on a loopback port with
 * the request layer's callbacks and a fake HttpBackend that stores nothing and
 * settles every record at once. Shows that the layer needs nothing above it but the
 * backend it is handed, and checks what it does with it: pins submitted, health and
 * mode asked, connection hooks called, framing refused before the backend is asked.
 * The metrics counters are stubbed here (metrics.c needs shared memory).
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "guc.h"
#include "http_request.h"
#include "metrics.h"
#include "unit_check.h"

/* The settings http_request.c reads (normally guc.c). */
char *pinpipe_http_auth_token = "";
int pinpipe_http_max_body = 1 << 20;
int pinpipe_http_timeout = 30;

/* Metrics stubs: count what the request layer reports. */
static int requests_counted = 0;
void
MetricsRequest(HttpEndpoint endpoint, int status, double seconds)
{
	requests_counted++;
}
void
MetricsPins(int64_t accepted, int64_t rejected, int64_t dead_letters)
{
}
void
MetricsMalformed(void)
{
}
bool
MetricsRender(char **out, size_t *len, int64_t produce_queue_depth)
{
	*out = strdup("x 1\n");
	*len = 4;
	return *out != NULL;
}

/* The fake backend: its calls are counted. */
static int submits = 0, submitted_records = 0, started = 0, done = 0, progress = 0;
static bool healthy = true;

static bool
FakeSubmit(void *ctx, HttpRequest *req, const char **reason)
{
	submits++;
	if (!healthy)
	{
		*reason = "fake backend down";
		return false;
	}
	for (int i = 0; i < req->nrecords; i++)
		if (req->records[i].outcome == HTTP_REC_PENDING)
		{
			submitted_records++;
			HttpRecordDone(req, &req->records[i], HTTP_REC_ACCEPTED, NULL);
		}
	return true;
}
static const char *
FakeHealth(void *ctx)
{
	return healthy ? NULL : "fake backend down";
}
static const char *
FakeMode(void *ctx)
{
	return "fake";
}
static int64_t
FakeDepth(void *ctx)
{
	return 0;
}
static void
FakeStarted(void *ctx, struct MHD_Connection *c)
{
	started++;
}
static void
FakeDone(void *ctx, struct MHD_Connection *c)
{
	done++;
}
static void
FakeProgress(void *ctx, struct MHD_Connection *c, bool in_body)
{
	progress++;
}
static bool
FakeOverLimit(void *ctx, struct MHD_Connection *c)
{
	return false;
}

/* takes the validated pins, as embedded mode does: their ownership is exercised under ASan */
static bool
FakeTakesPins(void *ctx)
{
	return true;
}

static const HttpBackend fake = {
	.ctx = NULL,
	.submit = FakeSubmit,
	.health = FakeHealth,
	.mode = FakeMode,
	.queue_depth = FakeDepth,
	.takes_pins = FakeTakesPins,
	.request_started = FakeStarted,
	.request_done = FakeDone,
	.body_progress = FakeProgress,
	.over_limit = FakeOverLimit,
};

/* Send one raw request and drive the daemon (and the ready list) until the answer is in. */
static void
Exchange(struct MHD_Daemon *d, int port, const char *raw, char *out, size_t cap)
{
	struct sockaddr_in a;
	int s = socket(AF_INET, SOCK_STREAM, 0);
	size_t got = 0;

	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_port = htons((uint16_t) port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	out[0] = '\0';
	if (connect(s, (struct sockaddr *) &a, sizeof(a)) != 0)
		return;
	if (write(s, raw, strlen(raw)) < 0)
		return;
	fcntl(s, F_SETFL, O_NONBLOCK);
	for (int i = 0; i < 2000 && !strstr(out, "\r\n\r\n"); i++)
	{
		ssize_t n;

		HttpRun(d);
		if (HttpResumeReady())
			HttpRun(d);
		n = read(s, out + got, cap - 1 - got);
		if (n > 0)
		{
			got += (size_t) n;
			out[got] = '\0';
		}
		else
			usleep(1000);
	}
	close(s);
	for (int i = 0; i < 5; i++)
		HttpRun(d);
}

int
main(void)
{
	bool mhd_answered;
	char out[8192];
	char req[2048];
	const char *pin = "{\"index\": 1, \"unique_id\": \"79dbcedb-4f96-4fcc-bcb2-70dc82f646e1\", "
					  "\"title\": \"t\", \"description\": \"d\", \"poster_name\": \"p\", "
					  "\"follower_count\": \"2M\", \"tag_list\": \"a,b\", \"is_image_or_video\": "
					  "\"image\", \"image_src\": \"https://x/y.jpg\", \"downloaded\": 1, "
					  "\"save_location\": \"Local save in /data\", \"category\": \"art\"}";
	struct MHD_Daemon *d = NULL;
	int port = 0;

	for (int tries = 0; d == NULL && tries < 50; tries++)
	{
		port = 20000 + (int) (((unsigned) getpid() * 7919u + (unsigned) tries * 104729u) % 12000u);
		d = MHD_start_daemon(MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG, (uint16_t) port, NULL,
							 NULL, HttpAccessHandler, (void *) &fake, MHD_OPTION_NOTIFY_COMPLETED,
							 HttpRequestCompleted, (void *) &fake, MHD_OPTION_END);
	}
	CHECK(d != NULL, "daemon started");
	if (d == NULL)
		return 1;

	Exchange(d, port, "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", out,
			 sizeof(out));
	CHECK(strncmp(out, "HTTP/1.1 200", 12) == 0 && strstr(out, "\"mode\":\"fake\""),
		  "healthz asks the backend: %.60s", out);

	snprintf(req, sizeof(req),
			 "POST /pins HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: %zu\r\n\r\n"
			 "[1]\n%s\n%s\n",
			 strlen(pin) * 2 + 6, pin, pin);
	Exchange(d, port, req, out, sizeof(out));
	CHECK(strncmp(out, "HTTP/1.1 200", 12) == 0, "/pins answered 200: %.60s", out);
	CHECK(submits == 1 && submitted_records == 2, "two valid pins submitted (%d, %d)", submits,
		  submitted_records);
	CHECK(started >= 2 && done >= 2 && progress >= 2,
		  "connection hooks called (started %d, done %d, progress %d)", started, done, progress);

	snprintf(req, sizeof(req),
			 "POST /pin/ HTTP/1.1\r\nHost: x\r\nContent-Length: %zu\r\nContent-Length: 3\r\n\r\n%s",
			 strlen(pin), pin);
	Exchange(d, port, req, out, sizeof(out));
	CHECK(strncmp(out, "HTTP/1.1 400", 12) == 0 && strstr(out, "onnection: close"),
		  "two Content-Lengths: 400 and close: %.60s", out);
	CHECK(submits == 1, "framing refused before the backend is asked (%d)", submits);
	/* libmicrohttpd 1.0 (Debian sid) refuses a second Content-Length itself, with an HTML
	 * body, before the request layer sees it: that answer is not ours to count */
	mhd_answered = strstr(out, "<html>") != NULL;

	healthy = false;
	snprintf(req, sizeof(req),
			 "POST /pin/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: %zu\r\n\r\n%s",
			 strlen(pin), pin);
	Exchange(d, port, req, out, sizeof(out));
	CHECK(strncmp(out, "HTTP/1.1 503", 12) == 0 && strstr(out, "fake backend down") &&
			  strstr(out, "Retry-After: 1"),
		  "backend unavailable: 503 with its reason: %.80s", out);
	CHECK(requests_counted == (mhd_answered ? 3 : 4), "every answer of ours counted (%d)",
		  requests_counted);

	MHD_stop_daemon(d);
	return UnitReport("http_request");
}
