/*
 * pinpipe-emulate — the reference pipeline's user-posting emulator, done properly.
 *
 * The reference project's user_posting_emulation.py posts one random row at a time in
 * an endless loop, sleeping between posts, and never says what happened. This program
 * generates pins that look like the real data set (same formats, same placeholder
 * strings at the same rates and in the same combinations), or replays a JSONL file,
 * posts them to pinpipe's HTTP worker (or any FastAPI-compatible /pin/ endpoint) at a
 * target rate with a fixed number of connections, and reports what came back:
 * accepted / rejected / errors, the achieved rate and the latency percentiles.
 *
 * One thread drives every connection through libcurl's multi interface: a request
 * slot per connection, an open-loop schedule (request k is due at start + k·N/rate),
 * keep-alive connections reused across requests. Latencies go into a log-linear
 * histogram (32 sub-buckets per power of two, so quantiles are within about 3%, like
 * an HdrHistogram), so memory is constant however long it runs.
 *
 * Modules (tools/emulate/): emu_gen (the pin generator), emu_hist (latency histogram);
 * from src/: strbuf (the extension's growable buffer; out of memory is fatal here) and
 * pin_json's JsonEscape. It needs libcurl and those pure sources only, no PostgreSQL:
 * it builds and runs on a client machine.
 * Run with --help for the manual.
 */
#define _GNU_SOURCE
#include <curl/curl.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "emu_gen.h"
#include "emu_hist.h"
#include "strbuf.h"

/* Print "pinpipe-emulate: <message>" to stderr and exit with status 2. */
static void Die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void
Die(const char *fmt, ...)
{
	va_list ap;

	fputs("pinpipe-emulate: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(2);
}

/* A load generator has no plan B: a buffer that ran out of memory ends the run. */
static void
NeedMemory(const StrBuf *b)
{
	if (b->oom)
		Die("out of memory");
}

#define EMU_DEFAULT_URL "http://127.0.0.1:8000/pin/"
#define EMU_MAX_RESPONSE (256 * 1024) /* response bytes kept per request (batch results) */
#define EMU_MAX_SAMPLE 300			  /* bytes of the first failure shown in the report */

static double
NowSeconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ---------------------------------------------------------------- pin source */

typedef struct EmuSource
{
	EmuGen gen;
	/* replay */
	char *file;
	size_t file_len;
	size_t *line_off;
	size_t *line_len;
	size_t nlines;
	size_t next_line;
	bool loop;
} EmuSource;

static void
SourceLoadReplay(EmuSource *s, const char *path)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
	StrBuf b = {0};
	char chunk[65536];
	size_t n, cap = 0;

	if (f == NULL)
		Die("cannot open %s: %s", path, strerror(errno));
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		StrBufAppend(&b, chunk, n);
	if (ferror(f))
		Die("cannot read %s: %s", path, strerror(errno));
	if (f != stdin)
		fclose(f);
	NeedMemory(&b);
	s->file = StrBufTake(&b, &s->file_len);
	for (size_t pos = 0; pos < s->file_len;)
	{
		char *nl = memchr(s->file + pos, '\n', s->file_len - pos);
		size_t end = nl ? (size_t) (nl - s->file) : s->file_len;
		size_t len = end - pos;

		while (len > 0 && (s->file[pos + len - 1] == '\r' || s->file[pos + len - 1] == ' '))
			len--;
		if (len > 0)
		{
			if (s->nlines == cap)
			{
				cap = cap ? cap * 2 : 1024;
				s->line_off = realloc(s->line_off, cap * sizeof(size_t));
				s->line_len = realloc(s->line_len, cap * sizeof(size_t));
				if (!s->line_off || !s->line_len)
					Die("out of memory");
			}
			s->line_off[s->nlines] = pos;
			s->line_len[s->nlines] = len;
			s->nlines++;
		}
		pos = end + 1;
	}
	if (s->nlines == 0)
		Die("%s holds no records", path);
}

/* Append the next pin to out; false when a non-looping replay has run out. */
static bool
SourceNext(EmuSource *s, StrBuf *out, bool *invalid)
{
	*invalid = false;
	if (s->file == NULL)
	{
		GenPin(&s->gen, out, invalid);
		NeedMemory(out);
		return true;
	}
	if (s->next_line == s->nlines)
	{
		if (!s->loop)
			return false;
		s->next_line = 0;
	}
	StrBufAppend(out, s->file + s->line_off[s->next_line], s->line_len[s->next_line]);
	NeedMemory(out);
	s->next_line++;
	return true;
}
/* ---------------------------------------------------------------- options */

typedef struct EmuOptions
{
	const char *url;
	bool url_given;
	double rate; /* pins per second; 0 = unlimited */
	int concurrency;
	double duration;
	uint64_t count;
	int batch;
	bool ndjson;
	const char *token;
	const char *replay;
	bool loop;
	double invalid_rate;
	bool print;
	bool json;
	bool progress;
	bool seed_given;
	uint64_t seed;
	double timeout;
	int retries;
	bool quiet;
} EmuOptions;

static void
Usage(FILE *f)
{
	fputs(
		"NAME\n"
		"    pinpipe-emulate - post realistic Pinterest pins to pinpipe and measure the answers\n"
		"\n"
		"SYNOPSIS\n"
		"    pinpipe-emulate [--url URL] [--rate PINS_PER_S] [--concurrency N]\n"
		"                    [--count N | --duration SECONDS] [--batch N [--ndjson]]\n"
		"                    [--replay FILE [--loop]] [--invalid-rate P] [--token TOKEN]\n"
		"                    [--seed N] [--timeout SECONDS] [--retries N]\n"
		"                    [--progress] [--json] [--quiet]\n"
		"    pinpipe-emulate --print [--count N] [--seed N] [--invalid-rate P] [--replay FILE]\n"
		"\n"
		"DESCRIPTION\n"
		"    The user-posting emulator of the reference Pinterest pipeline, done properly.\n"
		"    Generates pins with the formats and placeholder rates of the real data set\n"
		"    (follower_count \"0\"..\"972\", \"1k\"..\"991k\", \"1M\"..\"15M\" or \"User Info "
		"Error\";\n"
		"    tag_list \"N,o, ,T,a,g,s, ,A,v,a,i,l,a,b,l,e\"; \"No Title Data Available\";\n"
		"    \"No description available[ Story format]\"; descriptions cut with \"...\\u00a0\";\n"
		"    \"Image src error.\" exactly when downloaded = 0; save_location\n"
		"    \"Local save in /data/<category>\" over the 13 categories; image, video and\n"
		"    story-page media; a fresh random UUID per pin), in the combinations the real\n"
		"    data has them, or replays a JSONL file. Posts them with HTTP/1.1 keep-alive\n"
		"    connections driven by one thread, on an open-loop schedule, and reports what\n"
		"    the server answered.\n"
		"\n"
		"    A pin answered 2xx counts as accepted, 4xx as rejected, anything else (5xx,\n"
		"    connection failure, timeout) as an error. With --batch, a 2xx answer's JSON\n"
		"    body is read for \"accepted\" and \"rejected\" counts; a pin is counted once.\n"
		"\n"
		"OPTIONS\n"
		"    -u, --url URL          endpoint (default " EMU_DEFAULT_URL "). With --batch and\n"
		"                           no --url, the default becomes .../pins; a --url ending in\n"
		"                           /pin/ or /pin is changed to /pins as well.\n"
		"    -r, --rate R           target pins per second over all connections; 0 (default)\n"
		"                           sends as fast as the connections allow. Requests are due\n"
		"                           at fixed times; a late request is sent as soon as a\n"
		"                           connection is free (the report shows the achieved rate).\n"
		"    -c, --concurrency N    connections, i.e. requests in flight (default 8).\n"
		"    -n, --count N          stop after N pins (default: no limit).\n"
		"    -d, --duration S       stop sending after S seconds (fractions allowed).\n"
		"                           Without --count and --duration it runs until SIGINT\n"
		"                           (Ctrl-C: finish in-flight requests and report; twice: quit).\n"
		"    -b, --batch N          N pins per request to POST /pins (default 1: POST /pin/).\n"
		"        --ndjson           send batches as NDJSON instead of a JSON array.\n"
		"        --replay FILE      send the records of a JSONL file (one pin per line, sent\n"
		"                           as is; - for stdin) instead of generating pins.\n"
		"        --loop             with --replay, start over at the end of the file.\n"
		"        --invalid-rate P   fraction (0..1) of generated pins made invalid on purpose\n"
		"                           (missing unique_id, bad UUID, non-integer index, list for\n"
		"                           downloaded, object for title): the server must reject\n"
		"                           them with 422. The report shows how many were sent.\n"
		"    -t, --token TOKEN      send Authorization: Bearer TOKEN.\n"
		"    -s, --seed N           seed of the generator: the same seed gives the same pins.\n"
		"        --timeout S        per-request timeout in seconds (default 30).\n"
		"        --retries N        resend a request answered 503 or failed in transport up to\n"
		"                           N times, after its Retry-After (default 0: count an error).\n"
		"    -p, --print, --dry-run write the pins as JSONL to stdout; no network.\n"
		"        --progress         one status line per second on stderr.\n"
		"        --json             the final report as one JSON object on stdout.\n"
		"    -q, --quiet            no report text on stderr (errors still go there).\n"
		"    -h, --help             this manual.\n"
		"\n"
		"OUTPUT\n"
		"    The report (stderr, or stdout with --json) gives pins sent, accepted, rejected,\n"
		"    errors, requests by status class, the achieved rate in pins/s and requests/s, and\n"
		"    request latency p50/p95/p99/max in milliseconds (per request, measured from the\n"
		"    moment it is handed to the connection to the last byte of the answer; log-linear\n"
		"    buckets, accurate to 3%). With --rate, it also says how far behind schedule the\n"
		"    latest request was sent: latency does not include that wait, so a large value\n"
		"    means the server (or --concurrency) could not keep up with the rate.\n"
		"    --json keys: url, sent, accepted, rejected, errors, invalid_sent, requests,\n"
		"    status_2xx, status_4xx, status_5xx, transport_errors, retries, unparsed_batches,\n"
		"    elapsed_s, rate_pins_s, rate_requests_s, latency_p50_ms, latency_p95_ms,\n"
		"    latency_p99_ms, latency_max_ms, latency_mean_ms, schedule_lag_max_ms,\n"
		"    first_failure.\n"
		"\n"
		"EXIT STATUS\n"
		"    0 when at least one pin was accepted (or --print wrote its pins), 1 when none\n"
		"    was, 2 on a usage error.\n"
		"\n"
		"EXAMPLES\n"
		"    pinpipe-emulate --count 10000 --concurrency 16\n"
		"    pinpipe-emulate --rate 500 --duration 60 --progress --invalid-rate 0.01\n"
		"    pinpipe-emulate --batch 500 --count 1000000 --json | jq .rate_pins_s\n"
		"    pinpipe-emulate --print --count 20000 --seed 1 > pins.jsonl\n"
		"    pinpipe-emulate --replay pins.jsonl --url http://db:8000/pin/ --token s3cret\n",
		f);
}

static double
ParseDouble(const char *opt, const char *s, double min, double max)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end != '\0' || !(v >= min && v <= max))
		Die("invalid value for %s: \"%s\" (expected a number in [%g, %g])", opt, s, min, max);
	return v;
}

static uint64_t
ParseU64(const char *opt, const char *s, uint64_t min, uint64_t max)
{
	char *end;
	unsigned long long v;

	errno = 0;
	if (*s == '-')
		Die("invalid value for %s: \"%s\"", opt, s);
	v = strtoull(s, &end, 10);
	if (errno || end == s || *end != '\0' || v < min || v > max)
		Die("invalid value for %s: \"%s\" (expected an integer in [%" PRIu64 ", %" PRIu64 "])", opt,
			s, min, max);
	return v;
}

enum
{
	OPT_NDJSON = 256,
	OPT_REPLAY,
	OPT_LOOP,
	OPT_INVALID_RATE,
	OPT_TIMEOUT,
	OPT_RETRIES,
	OPT_PROGRESS,
	OPT_JSON,
};

static void
ParseOptions(int argc, char **argv, EmuOptions *o)
{
	static const struct option longopts[] = {
		{"url", required_argument, NULL, 'u'},
		{"rate", required_argument, NULL, 'r'},
		{"concurrency", required_argument, NULL, 'c'},
		{"count", required_argument, NULL, 'n'},
		{"duration", required_argument, NULL, 'd'},
		{"batch", required_argument, NULL, 'b'},
		{"ndjson", no_argument, NULL, OPT_NDJSON},
		{"replay", required_argument, NULL, OPT_REPLAY},
		{"loop", no_argument, NULL, OPT_LOOP},
		{"invalid-rate", required_argument, NULL, OPT_INVALID_RATE},
		{"token", required_argument, NULL, 't'},
		{"seed", required_argument, NULL, 's'},
		{"timeout", required_argument, NULL, OPT_TIMEOUT},
		{"retries", required_argument, NULL, OPT_RETRIES},
		{"print", no_argument, NULL, 'p'},
		{"dry-run", no_argument, NULL, 'p'},
		{"progress", no_argument, NULL, OPT_PROGRESS},
		{"json", no_argument, NULL, OPT_JSON},
		{"quiet", no_argument, NULL, 'q'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0}};
	int ch;

	memset(o, 0, sizeof(*o));
	o->url = EMU_DEFAULT_URL;
	o->concurrency = 8;
	o->batch = 1;
	o->timeout = 30;

	while ((ch = getopt_long(argc, argv, "u:r:c:n:d:b:t:s:pqh", longopts, NULL)) != -1)
	{
		switch (ch)
		{
			case 'u':
				o->url = optarg;
				o->url_given = true;
				break;
			case 'r':
				o->rate = ParseDouble("--rate", optarg, 0, 1e9);
				break;
			case 'c':
				o->concurrency = (int) ParseU64("--concurrency", optarg, 1, 10000);
				break;
			case 'n':
				o->count = ParseU64("--count", optarg, 1, UINT64_MAX / 2);
				break;
			case 'd':
				o->duration = ParseDouble("--duration", optarg, 0.001, 1e9);
				break;
			case 'b':
				o->batch = (int) ParseU64("--batch", optarg, 1, 1000000);
				break;
			case OPT_NDJSON:
				o->ndjson = true;
				break;
			case OPT_REPLAY:
				o->replay = optarg;
				break;
			case OPT_LOOP:
				o->loop = true;
				break;
			case OPT_INVALID_RATE:
				o->invalid_rate = ParseDouble("--invalid-rate", optarg, 0, 1);
				break;
			case 't':
				o->token = optarg;
				break;
			case 's':
				o->seed = ParseU64("--seed", optarg, 0, UINT64_MAX);
				o->seed_given = true;
				break;
			case OPT_TIMEOUT:
				o->timeout = ParseDouble("--timeout", optarg, 0.001, 86400);
				break;
			case OPT_RETRIES:
				o->retries = (int) ParseU64("--retries", optarg, 0, 1000);
				break;
			case 'p':
				o->print = true;
				break;
			case OPT_PROGRESS:
				o->progress = true;
				break;
			case OPT_JSON:
				o->json = true;
				break;
			case 'q':
				o->quiet = true;
				break;
			case 'h':
				Usage(stdout);
				exit(0);
			default:
				fputs("Try 'pinpipe-emulate --help'.\n", stderr);
				exit(2);
		}
	}
	if (optind < argc)
		Die("unexpected argument \"%s\" (try --help)", argv[optind]);
	if (o->loop && !o->replay)
		Die("--loop needs --replay");
	if (o->replay && o->invalid_rate > 0)
		Die("--invalid-rate applies to generated pins, not to --replay");
	if (o->ndjson && o->batch == 1)
		Die("--ndjson needs --batch");
}

/* The URL of the batch endpoint: /pin/ or /pin at the end becomes /pins. */
static char *
BatchUrl(const char *url, bool given)
{
	size_t n = strlen(url);
	char *out = malloc(n + 8);

	if (out == NULL)
		Die("out of memory");
	strcpy(out, url);
	if (n >= 5 && strcmp(out + n - 5, "/pin/") == 0)
		strcpy(out + n - 5, "/pins");
	else if (n >= 4 && strcmp(out + n - 4, "/pin") == 0)
		strcpy(out + n - 4, "/pins");
	else if (!given)
		Die("cannot derive the /pins URL from %s", url);
	return out;
}

/* ---------------------------------------------------------------- print mode */

static int
RunPrint(const EmuOptions *o, EmuSource *src)
{
	StrBuf b = {0};
	bool invalid;
	uint64_t n = 0;

	while (o->count == 0 || n < o->count)
	{
		StrBufReset(&b);
		if (!SourceNext(src, &b, &invalid))
			break;
		StrBufAppend(&b, "\n", 1);
		NeedMemory(&b);
		if (fwrite(b.data, 1, b.len, stdout) != b.len)
			Die("write error: %s", strerror(errno));
		n++;
	}
	if (fflush(stdout) != 0)
		Die("write error: %s", strerror(errno));
	StrBufFree(&b);
	return n > 0 ? 0 : 1;
}

/* ---------------------------------------------------------------- network mode */

typedef struct EmuSlot
{
	CURL *easy;
	StrBuf body;
	StrBuf resp;
	int npins;
	int ninvalid;
	int attempts;
	bool busy; /* owned by the multi handle, or waiting for a retry */
	bool in_multi;
	double started;		/* when handed to the multi handle */
	double retry_at;	/* > 0: resend at this time */
	double retry_after; /* the answer's Retry-After in seconds, -1 if none */
	char errbuf[CURL_ERROR_SIZE];
} EmuSlot;

typedef struct EmuStats
{
	uint64_t sent; /* pins whose request got a final answer or failed for good */
	uint64_t accepted;
	uint64_t rejected;
	uint64_t errors;
	uint64_t invalid_sent;
	uint64_t requests; /* attempts answered or failed */
	uint64_t s2xx, s4xx, s5xx, transport;
	uint64_t retries;
	uint64_t unparsed;
	double schedule_lag_max; /* --rate: worst delay of a request behind its due time (s) */
	EmuHist hist;
	char first_failure[EMU_MAX_SAMPLE + 64];
} EmuStats;

static volatile sig_atomic_t emu_interrupts = 0;

static void
OnSignal(int sig)
{
	(void) sig;
	emu_interrupts++;
	if (emu_interrupts >= 2)
		_exit(130);
}

static size_t
OnResponseData(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	EmuSlot *s = userdata;
	size_t n = size * nmemb;

	if (s->resp.len < EMU_MAX_RESPONSE)
	{
		StrBufAppend(&s->resp, ptr,
					 n < EMU_MAX_RESPONSE - s->resp.len ? n : EMU_MAX_RESPONSE - s->resp.len);
		NeedMemory(&s->resp);
	}
	return n;
}

/* Remember Retry-After (delay-seconds; an HTTP-date counts as one second). */
static size_t
OnResponseHeader(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	EmuSlot *s = userdata;
	size_t n = size * nmemb;
	static const char name[] = "retry-after:";

	if (n > sizeof(name) - 1 && strncasecmp(ptr, name, sizeof(name) - 1) == 0)
	{
		char val[64];
		size_t vlen = n - (sizeof(name) - 1);
		char *end;
		double v;

		if (vlen >= sizeof(val))
			vlen = sizeof(val) - 1;
		memcpy(val, ptr + sizeof(name) - 1, vlen);
		val[vlen] = '\0';
		v = strtod(val, &end);
		s->retry_after = (end != val && v >= 0 && v < 3600) ? v : 1.0;
	}
	return n;
}

/* Find "key": <integer> in a JSON text; -1 when absent. Enough for the /pins summary. */
static long long
JsonFindCount(const char *json, size_t len, const char *key)
{
	size_t klen = strlen(key);

	for (const char *p = json; p && p + klen + 2 <= json + len;
		 p = memchr(p + 1, '"', (size_t) (json + len - p - 1)))
	{
		if (*p != '"' || (size_t) (json + len - p) < klen + 2 || memcmp(p + 1, key, klen) != 0 ||
			p[klen + 1] != '"')
			continue;
		const char *q = p + klen + 2;

		while (q < json + len && (*q == ' ' || *q == '\t' || *q == '\n' || *q == '\r'))
			q++;
		if (q >= json + len || *q != ':')
			continue;
		q++;
		while (q < json + len && (*q == ' ' || *q == '\t' || *q == '\n' || *q == '\r'))
			q++;
		if (q < json + len && *q >= '0' && *q <= '9')
		{
			long long v = 0;

			while (q < json + len && *q >= '0' && *q <= '9')
				v = v * 10 + (*q++ - '0');
			return v;
		}
	}
	return -1;
}

static void
NoteFailure(EmuStats *st, const char *what, const char *body, size_t len)
{
	if (st->first_failure[0] != '\0')
		return;
	if (len > EMU_MAX_SAMPLE)
		len = EMU_MAX_SAMPLE;
	snprintf(st->first_failure, sizeof(st->first_failure), "%s%s%.*s", what, len ? ": " : "",
			 (int) len, body ? body : "");
	for (char *c = st->first_failure; *c; c++)
		if (*c == '\n' || *c == '\r')
			*c = ' ';
}

/* Fill a free slot with the next request; false if the source had nothing left. */
static bool
SlotPrepare(EmuSlot *s, const EmuOptions *o, EmuSource *src, uint64_t limit)
{
	bool invalid;
	int n = 0, want = o->batch;

	if (limit > 0 && (uint64_t) want > limit)
		want = (int) limit;
	StrBufReset(&s->body);
	s->ninvalid = 0;
	if (o->batch > 1 && !o->ndjson)
		StrBufAppend(&s->body, "[", 1);
	for (; n < want; n++)
	{
		size_t before = s->body.len;

		if (n > 0)
			StrBufAppend(&s->body, o->ndjson ? "\n" : ",", 1);
		if (!SourceNext(src, &s->body, &invalid))
		{
			StrBufTruncate(&s->body, before);
			break;
		}
		s->ninvalid += invalid;
	}
	if (n == 0)
		return false;
	if (o->batch > 1 && !o->ndjson)
		StrBufAppend(&s->body, "]", 1);
	else if (o->ndjson)
		StrBufAppend(&s->body, "\n", 1);
	NeedMemory(&s->body);
	s->npins = n;
	s->attempts = 0;
	return true;
}

static void
SlotStart(EmuSlot *s, CURLM *multi, double now)
{
	CURLMcode mc;

	StrBufReset(&s->resp);
	s->errbuf[0] = '\0';
	s->retry_after = -1;
	curl_easy_setopt(s->easy, CURLOPT_POSTFIELDS, s->body.data);
	curl_easy_setopt(s->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) s->body.len);
	s->started = now;
	s->retry_at = 0;
	s->attempts++;
	s->busy = true;
	s->in_multi = true;
	mc = curl_multi_add_handle(multi, s->easy);
	if (mc != CURLM_OK)
		Die("curl_multi_add_handle: %s", curl_multi_strerror(mc));
}

/* Account for a finished attempt; returns true if the slot is free again. */
static bool
SlotFinish(EmuSlot *s, CURLcode result, const EmuOptions *o, EmuStats *st, double now)
{
	long code = 0;
	bool retryable;

	curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &code);
	HistRecord(&st->hist, now - s->started);
	st->requests++;
	if (result != CURLE_OK)
		st->transport++;
	else if (code >= 200 && code < 300)
		st->s2xx++;
	else if (code >= 400 && code < 500)
		st->s4xx++;
	else
		st->s5xx++;

	retryable = result != CURLE_OK || code == 503;
	if (retryable && s->attempts <= o->retries)
	{
		/* the server's Retry-After when it sent one, else 0.1 s doubling up to 3.2 s */
		double delay = 0.1 * (1 << (s->attempts < 6 ? s->attempts - 1 : 5));

		if (result == CURLE_OK && s->retry_after >= 0)
			delay = s->retry_after;
		st->retries++;
		s->retry_at = now + delay;
		return false;
	}

	st->sent += (uint64_t) s->npins;
	st->invalid_sent += (uint64_t) s->ninvalid;
	if (result != CURLE_OK)
	{
		char what[CURL_ERROR_SIZE + 64];

		st->errors += (uint64_t) s->npins;
		snprintf(what, sizeof(what), "transport error: %s",
				 s->errbuf[0] ? s->errbuf : curl_easy_strerror(result));
		NoteFailure(st, what, NULL, 0);
	}
	else if (code >= 200 && code < 300)
	{
		if (o->batch > 1)
		{
			long long acc =
				JsonFindCount(s->resp.data ? s->resp.data : "", s->resp.len, "accepted");

			if (acc < 0)
			{
				st->unparsed++;
				acc = s->npins;
			}
			if (acc > s->npins)
				acc = s->npins;
			st->accepted += (uint64_t) acc;
			st->rejected += (uint64_t) (s->npins - acc);
			if (acc < s->npins)
				NoteFailure(st, "batch with rejected records", s->resp.data, s->resp.len);
		}
		else
			st->accepted += (uint64_t) s->npins;
	}
	else
	{
		char what[64];

		snprintf(what, sizeof(what), "HTTP %ld", code);
		if (code >= 400 && code < 500)
			st->rejected += (uint64_t) s->npins;
		else
			st->errors += (uint64_t) s->npins;
		NoteFailure(st, what, s->resp.data, s->resp.len);
	}
	s->busy = false;
	return true;
}

static void
PrintJsonString(FILE *f, const char *s)
{
	StrBuf b = {0};

	StrBufJsonString(&b, s, strlen(s));
	NeedMemory(&b);
	fputs(b.data, f);
	StrBufFree(&b);
}

static void
Report(const EmuOptions *o, const char *url, const EmuStats *st, double elapsed)
{
	double rate = elapsed > 0 ? (double) st->sent / elapsed : 0;
	double rrate = elapsed > 0 ? (double) st->requests / elapsed : 0;
	const EmuHist *h = &st->hist;
	double mean = h->total ? h->sum_us / (double) h->total / 1000.0 : 0;

	if (o->json)
	{
		printf("{\"url\":");
		PrintJsonString(stdout, url);
		printf(",\"sent\":%" PRIu64 ",\"accepted\":%" PRIu64 ",\"rejected\":%" PRIu64
			   ",\"errors\":%" PRIu64 ",\"invalid_sent\":%" PRIu64 ",\"requests\":%" PRIu64
			   ",\"status_2xx\":%" PRIu64 ",\"status_4xx\":%" PRIu64 ",\"status_5xx\":%" PRIu64
			   ",\"transport_errors\":%" PRIu64 ",\"retries\":%" PRIu64
			   ",\"unparsed_batches\":%" PRIu64
			   ",\"elapsed_s\":%.3f,\"rate_pins_s\":%.1f,\"rate_requests_s\":%.1f"
			   ",\"latency_p50_ms\":%.3f,\"latency_p95_ms\":%.3f,\"latency_p99_ms\":%.3f"
			   ",\"latency_max_ms\":%.3f,\"latency_mean_ms\":%.3f,\"schedule_lag_max_ms\":%.3f"
			   ",\"first_failure\":",
			   st->sent, st->accepted, st->rejected, st->errors, st->invalid_sent, st->requests,
			   st->s2xx, st->s4xx, st->s5xx, st->transport, st->retries, st->unparsed, elapsed,
			   rate, rrate, HistQuantileMs(h, 0.50), HistQuantileMs(h, 0.95),
			   HistQuantileMs(h, 0.99), (double) h->max_us / 1000.0, mean,
			   st->schedule_lag_max * 1000.0);
		if (st->first_failure[0])
			PrintJsonString(stdout, st->first_failure);
		else
			fputs("null", stdout);
		fputs("}\n", stdout);
		fflush(stdout);
	}
	if (o->quiet)
		return;
	fprintf(stderr,
			"pinpipe-emulate: %" PRIu64 " pins in %" PRIu64 " requests to %s in %.2f s\n"
			"  accepted  %" PRIu64 "\n"
			"  rejected  %" PRIu64 "%s",
			st->sent, st->requests, url, elapsed, st->accepted, st->rejected,
			st->invalid_sent ? "" : "\n");
	if (st->invalid_sent)
		fprintf(stderr, "  (%" PRIu64 " invalid on purpose)\n", st->invalid_sent);
	fprintf(stderr,
			"  errors    %" PRIu64 "\n"
			"  requests  2xx %" PRIu64 ", 4xx %" PRIu64 ", 5xx/other %" PRIu64
			", transport %" PRIu64 ", retries %" PRIu64 "\n"
			"  rate      %.1f pins/s, %.1f requests/s\n"
			"  latency   p50 %.2f ms, p95 %.2f ms, p99 %.2f ms, max %.2f ms, mean %.2f ms\n",
			st->errors, st->s2xx, st->s4xx, st->s5xx, st->transport, st->retries, rate, rrate,
			HistQuantileMs(h, 0.50), HistQuantileMs(h, 0.95), HistQuantileMs(h, 0.99),
			(double) h->max_us / 1000.0, mean);
	if (o->rate > 0)
		fprintf(stderr, "  schedule  at most %.2f ms behind the --rate schedule%s\n",
				st->schedule_lag_max * 1000.0,
				st->schedule_lag_max > 0.1 ? " (the server or --concurrency limited the rate)"
										   : "");
	if (st->unparsed)
		fprintf(stderr,
				"  warning   %" PRIu64
				" batch answers had no \"accepted\" count (counted as all accepted)\n",
				st->unparsed);
	if (st->first_failure[0])
		fprintf(stderr, "  first failure: %s\n", st->first_failure);
}

static int
RunNetwork(const EmuOptions *o, EmuSource *src)
{
	const char *url = o->batch > 1 ? BatchUrl(o->url, o->url_given) : o->url;
	struct curl_slist *headers = NULL;
	char *auth = NULL;
	EmuSlot *slots;
	CURLM *multi;
	EmuStats *st;
	uint64_t issued = 0; /* pins handed to requests */
	int inflight = 0;
	double t0, t_end, next_tick, last_done;
	uint64_t tick_sent = 0;
	bool stopping = false;

	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		Die("curl_global_init failed");
	st = calloc(1, sizeof(*st));
	slots = calloc((size_t) o->concurrency, sizeof(*slots));
	if (!st || !slots)
		Die("out of memory");

	headers = curl_slist_append(headers, o->ndjson ? "Content-Type: application/x-ndjson"
												   : "Content-Type: application/json");
	headers = curl_slist_append(headers, "Expect:"); /* no 100-continue round trip */
	if (o->token)
	{
		size_t n = strlen(o->token) + 32;

		auth = malloc(n);
		if (auth == NULL)
			Die("out of memory");
		snprintf(auth, n, "Authorization: Bearer %s", o->token);
		headers = curl_slist_append(headers, auth);
	}

	multi = curl_multi_init();
	curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS, (long) o->concurrency);
	curl_multi_setopt(multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long) o->concurrency);
	for (int i = 0; i < o->concurrency; i++)
	{
		EmuSlot *s = &slots[i];

		s->easy = curl_easy_init();
		if (s->easy == NULL)
			Die("curl_easy_init failed");
		curl_easy_setopt(s->easy, CURLOPT_URL, url);
		curl_easy_setopt(s->easy, CURLOPT_HTTPHEADER, headers);
		curl_easy_setopt(s->easy, CURLOPT_POST, 1L);
		curl_easy_setopt(s->easy, CURLOPT_WRITEFUNCTION, OnResponseData);
		curl_easy_setopt(s->easy, CURLOPT_WRITEDATA, s);
		curl_easy_setopt(s->easy, CURLOPT_HEADERFUNCTION, OnResponseHeader);
		curl_easy_setopt(s->easy, CURLOPT_HEADERDATA, s);
		curl_easy_setopt(s->easy, CURLOPT_ERRORBUFFER, s->errbuf);
		curl_easy_setopt(s->easy, CURLOPT_TIMEOUT_MS, (long) (o->timeout * 1000));
		curl_easy_setopt(s->easy, CURLOPT_CONNECTTIMEOUT_MS, (long) (o->timeout * 1000));
		curl_easy_setopt(s->easy, CURLOPT_NOSIGNAL, 1L);
		curl_easy_setopt(s->easy, CURLOPT_TCP_NODELAY, 1L);
		curl_easy_setopt(s->easy, CURLOPT_PRIVATE, s);
		curl_easy_setopt(s->easy, CURLOPT_USERAGENT, "pinpipe-emulate/1");
	}

	signal(SIGINT, OnSignal);
	signal(SIGTERM, OnSignal);
	signal(SIGPIPE, SIG_IGN);

	t0 = NowSeconds();
	last_done = t0;
	t_end = o->duration > 0 ? t0 + o->duration : 0;
	next_tick = t0 + 1;

	for (;;)
	{
		double now = NowSeconds();
		int running = 0, pending;
		long wait_ms = 100;
		CURLMsg *msg;

		if (emu_interrupts > 0 || (t_end > 0 && now >= t_end))
			stopping = true;

		/* resend retries that are due, then start new requests that are due */
		for (int i = 0; i < o->concurrency; i++)
		{
			EmuSlot *s = &slots[i];

			if (s->busy && !s->in_multi && s->retry_at > 0)
			{
				if (now >= s->retry_at)
					SlotStart(s, multi, now);
				else if ((long) ceil((s->retry_at - now) * 1000) < wait_ms)
					wait_ms = (long) ceil((s->retry_at - now) * 1000);
			}
		}
		for (int i = 0; i < o->concurrency && !stopping; i++)
		{
			EmuSlot *s = &slots[i];

			if (s->busy)
				continue;
			if (o->rate > 0)
			{
				double due = t0 + (double) issued / o->rate;

				if (now - due > st->schedule_lag_max)
					st->schedule_lag_max = now - due;
				if (now < due)
				{
					/* round up: sleeping 0 ms would spin when requests are < 1 ms apart */
					long ms = (long) ceil((due - now) * 1000);

					if (ms < wait_ms)
						wait_ms = ms;
					break;
				}
			}
			if (o->count > 0 && issued >= o->count)
			{
				stopping = true;
				break;
			}
			if (!SlotPrepare(s, o, src, o->count ? o->count - issued : 0))
			{
				stopping = true;
				break;
			}
			issued += (uint64_t) s->npins;
			SlotStart(s, multi, now);
			inflight++;
		}
		if (stopping && inflight == 0)
			break;

		curl_multi_perform(multi, &running);
		while ((msg = curl_multi_info_read(multi, &pending)) != NULL)
		{
			EmuSlot *s = NULL;

			if (msg->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **) &s);
			curl_multi_remove_handle(multi, s->easy);
			s->in_multi = false;
			now = NowSeconds();
			if (SlotFinish(s, msg->data.result, o, st, now))
			{
				inflight--;
				last_done = now;
			}
			wait_ms = 0; /* a slot may be free: go round again at once */
		}

		if (o->progress && now >= next_tick)
		{
			fprintf(stderr,
					"[%5.1fs] sent %" PRIu64 " (+%" PRIu64 "/s) accepted %" PRIu64
					" rejected %" PRIu64 " errors %" PRIu64 " p99 %.2f ms\n",
					now - t0, st->sent, st->sent - tick_sent, st->accepted, st->rejected,
					st->errors, HistQuantileMs(&st->hist, 0.99));
			tick_sent = st->sent;
			next_tick += 1;
		}
		if (wait_ms > 0)
		{
			if (wait_ms > 100)
				wait_ms = 100;
			/* nothing in flight: no socket to wait on, only the next due time */
			if (running == 0)
			{
				struct timespec ts = {wait_ms / 1000, (wait_ms % 1000) * 1000000L};

				nanosleep(&ts, NULL);
			}
			else
				curl_multi_poll(multi, NULL, 0, (int) wait_ms, NULL);
		}
	}

	Report(o, url, st, last_done - t0);
	for (int i = 0; i < o->concurrency; i++)
	{
		curl_easy_cleanup(slots[i].easy);
		StrBufFree(&slots[i].body);
		StrBufFree(&slots[i].resp);
	}
	curl_multi_cleanup(multi);
	curl_slist_free_all(headers);
	curl_global_cleanup();
	free(auth);
	if (url != o->url)
		free((char *) url);
	free(slots);
	{
		int rc = st->accepted > 0 ? 0 : 1;

		free(st);
		return rc;
	}
}

int
main(int argc, char **argv)
{
	EmuOptions o;
	EmuSource src;
	int rc;

	ParseOptions(argc, argv, &o);
	memset(&src, 0, sizeof(src));
	if (!o.seed_given)
	{
		struct timespec ts;
		FILE *f = fopen("/dev/urandom", "rb");

		clock_gettime(CLOCK_REALTIME, &ts);
		o.seed = (uint64_t) ts.tv_nsec ^ ((uint64_t) ts.tv_sec << 20) ^ (uint64_t) getpid();
		if (f)
		{
			if (fread(&o.seed, sizeof(o.seed), 1, f) != 1)
				o.seed ^= 0x5eed;
			fclose(f);
		}
	}
	GenInit(&src.gen, o.seed, o.invalid_rate);
	if (o.replay)
	{
		SourceLoadReplay(&src, o.replay);
		src.loop = o.loop;
	}
	if (o.print)
		rc = RunPrint(&o, &src);
	else
		rc = RunNetwork(&o, &src);
	free(src.file);
	free(src.line_off);
	free(src.line_len);
	return rc;
}
