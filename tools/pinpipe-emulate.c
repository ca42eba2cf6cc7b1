/*
 * pinpipe-emulate — the reference pipeline's user-posting emulator, done properly.
 *
 * The reference project's user_posting_emulation.py posts one random row at a time in
 * an endless loop, sleeping between posts, and never says what happened; its 2023
 * edition posts the row's pin, geolocation and user record to three endpoints. This
 * program generates records that look like the real data set (for pins: the same
 * formats, placeholder strings at the same rates and in the same combinations), replays
 * a JSONL file of pins, or posts rows of the three sample files (pin, geo and user
 * records of one row index), and sends them in one of three API shapes: FastAPI-style
 * (pinpipe's POST /pin/ and /pins), Confluent REST Proxy v2 (POST /topics/<topic>) or
 * Kinesis-style (PUT /streams/<name>/record), at a target rate with a fixed number of
 * connections. It reports what came back: accepted / rejected / errors, per stream,
 * the achieved rate and the latency percentiles.
 *
 * One thread drives every connection through libcurl's multi interface: a request
 * slot per connection, an open-loop schedule (row k is due at start + k/rate),
 * keep-alive connections reused across requests. Latencies go into a log-linear
 * histogram (32 sub-buckets per power of two, so quantiles are within about 3%, like
 * an HdrHistogram), so memory is constant however long it runs.
 *
 * Modules (tools/emulate/): emu_gen (the record generator), emu_rows (JSONL files, rows
 * paired by index), emu_source (which records come next), emu_answer (strict reading of
 * the REST Proxy and Kinesis answers), emu_hist (latency histogram). It needs libcurl and
 * the extension's pure modules (src/core/, PURE_SRCS in the Makefile: the JSON reader, the
 * string escaper, strbuf), not PostgreSQL, so it builds on a client machine from the
 * source tree. Run with --help for the manual.
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

#include "emu_answer.h"
#include "emu_gen.h"
#include "emu_hist.h"
#include "emu_rows.h"
#include "emu_source.h"
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
#define EMU_DEFAULT_BASE "http://127.0.0.1:8000" /* --api restproxy, kinesis */
#define EMU_DEFAULT_NAMES "pinterest.{stream}"
#define EMU_MAX_RESPONSE (256 * 1024) /* response bytes kept per request (batch results) */
#define EMU_MAX_SAMPLE 300			  /* bytes of the first failure shown in the report */

static double
NowSeconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ---------------------------------------------------------------- options */

/* The API shapes it posts in. */
typedef enum EmuApi
{
	API_FASTAPI = 0, /* POST /pin/ (one pin), POST /pins (a batch): pins only */
	API_RESTPROXY,	 /* POST /topics/<topic>, Confluent REST Proxy v2 */
	API_KINESIS		 /* PUT /streams/<name>/record, API Gateway's Kinesis proxy */
} EmuApi;

static const char *const api_names[] = {"fastapi", "restproxy", "kinesis"};

typedef struct EmuOptions
{
	const char *url;
	bool url_given;
	EmuApi api;
	unsigned streams; /* bit per EmuStream */
	bool streams_given;
	const char *sample_dir;
	const char *files[EMU_NSTREAMS]; /* --pin-file, --geo-file, --user-file */
	bool rows;						 /* post rows of the sample files */
	bool all_rows;
	const char *names; /* topic / stream name template, {stream} = pin, geo, user */
	double rate;	   /* rows per second; 0 = unlimited */
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
		"    pinpipe-emulate - post realistic Pinterest records to pinpipe and measure the "
		"answers\n"
		"\n"
		"SYNOPSIS\n"
		"    pinpipe-emulate [--api fastapi|restproxy|kinesis] [--streams pin,geo,user]\n"
		"                    [--url URL] [--names TEMPLATE] [--rate ROWS_PER_S] [--concurrency N]\n"
		"                    [--count N | --duration SECONDS] [--batch N [--ndjson]]\n"
		"                    [--replay FILE [--loop] | --sample DIR [--all-rows]\n"
		"                     | --pin-file F --geo-file F --user-file F [--all-rows]]\n"
		"                    [--invalid-rate P] [--token TOKEN] [--seed N] [--timeout SECONDS]\n"
		"                    [--retries N] [--progress] [--json] [--quiet]\n"
		"    pinpipe-emulate --print [--count N] [--seed N] [--streams ...] [--invalid-rate P]\n"
		"                    [--replay FILE | --sample DIR [--all-rows]]\n"
		"\n"
		"DESCRIPTION\n"
		"    The user-posting emulator of the reference Pinterest pipeline, done properly.\n"
		"    Each row is a pin and, in the 2023 edition of the data set, the geolocation and\n"
		"    the user record of the same row index; the row's record of every selected\n"
		"    stream is posted, one request per stream (three requests per row, as the 2023\n"
		"    emulator does).\n"
		"\n"
		"    Generated pins have the formats and placeholder rates of the real data set\n"
		"    (follower_count \"0\"..\"972\", \"1k\"..\"991k\", \"1M\"..\"15M\" or \"User Info "
		"Error\";\n"
		"    tag_list \"N,o, ,T,a,g,s, ,A,v,a,i,l,a,b,l,e\"; \"No Title Data Available\";\n"
		"    \"No description available[ Story format]\"; descriptions cut with \"...\\u00a0\";\n"
		"    \"Image src error.\" exactly when downloaded = 0; save_location\n"
		"    \"Local save in /data/<category>\" over the 13 categories; image, video and\n"
		"    story-page media; a fresh random UUID per pin), in the combinations the real\n"
		"    data has them. Generated geolocation and user records have the sample files'\n"
		"    fields and formats and the pin's row index. Or it replays a JSONL file of pins\n"
		"    (--replay), or posts rows of the sample files (--sample): a random row each time\n"
		"    like the 2023 emulator, or with --all-rows every row once in a random order.\n"
		"    Requests go over HTTP/1.1 keep-alive connections driven by one thread, on an\n"
		"    open-loop schedule, and the report says what the server answered.\n"
		"\n"
		"    A record answered 2xx counts as accepted, 4xx as rejected, anything else (5xx,\n"
		"    connection failure, timeout) as an error. A 2xx answer of /pins is read for its\n"
		"    \"accepted\" count; a REST Proxy answer must list one offset per record (a\n"
		"    record with an error_code is rejected, or an error when the code is retriable:\n"
		"    2 or 5xxxx); a Kinesis answer must carry SequenceNumber and ShardId. A 2xx answer\n"
		"    not of its documented shape counts its records as errors (unparsed_batches).\n"
		"\n"
		"OPTIONS\n"
		"        --api SHAPE        fastapi (default): POST /pin/, or POST /pins with --batch;\n"
		"                           pins only (pinpipe serves no FastAPI-style geo/user routes).\n"
		"                           restproxy: POST URL/topics/<topic> with Content-Type\n"
		"                           application/vnd.kafka.json.v2+json and\n"
		"                           {\"records\":[{\"value\":RECORD},...]} (--batch records "
		"each).\n"
		"                           kinesis: PUT URL/streams/<name>/record with\n"
		"                           {\"StreamName\":...,\"Data\":RECORD,\"PartitionKey\":...}.\n"
		"        --streams LIST     comma-separated subset of pin,geo,user (default: all three\n"
		"                           for restproxy and kinesis, pin for fastapi and --replay;\n"
		"                           with --pin-file etc., the streams given a file).\n"
		"        --names TEMPLATE   the topic (restproxy) or stream name (kinesis) of each\n"
		"                           stream, {stream} replaced by pin, geo or user (default\n"
		"                           " EMU_DEFAULT_NAMES ": pinpipe maps *.pin, pinterest.geo and\n"
		"                           pinterest.user to its streams).\n"
		"    -u, --url URL          fastapi: the endpoint (default " EMU_DEFAULT_URL "); with\n"
		"                           --batch and no --url, the default becomes .../pins; a --url\n"
		"                           ending in /pin/ or /pin is changed to /pins as well.\n"
		"                           restproxy, kinesis: the base URL the paths are appended to\n"
		"                           (default " EMU_DEFAULT_BASE "; a path prefix such as an API\n"
		"                           Gateway stage is kept).\n"
		"    -r, --rate R           target rows per second over all connections (for one\n"
		"                           stream: records per second); 0 (default) sends as fast as\n"
		"                           the connections allow. Rows are due at fixed times; a late\n"
		"                           one is sent as soon as a connection is free (the report\n"
		"                           shows the achieved rate).\n"
		"    -c, --concurrency N    connections, i.e. requests in flight (default 8).\n"
		"    -n, --count N          stop after N rows (default: no limit).\n"
		"    -d, --duration S       stop sending after S seconds (fractions allowed).\n"
		"                           Without --count, --duration and --all-rows it runs until\n"
		"                           SIGINT (Ctrl-C: finish in-flight requests and report;\n"
		"                           twice: quit).\n"
		"    -b, --batch N          N records per request: fastapi POST /pins (default 1:\n"
		"                           POST /pin/), restproxy N records per request; not kinesis.\n"
		"        --ndjson           fastapi: send batches as NDJSON instead of a JSON array.\n"
		"        --replay FILE      send the records of a JSONL file (one pin per line, sent\n"
		"                           as is; - for stdin) in file order instead of generating.\n"
		"        --loop             with --replay, start over at the end of the file.\n"
		"        --sample DIR       rows of DIR/pins_sample.jsonl, DIR/geo_sample.jsonl and\n"
		"                           DIR/user_sample.jsonl, paired by \"index\" (pins) and\n"
		"                           \"ind\" (geo, user): a row is an index every selected\n"
		"                           stream's file has; records are sent as they are.\n"
		"        --pin-file F, --geo-file F, --user-file F\n"
		"                           the file of one stream (instead of, or over, --sample).\n"
		"        --all-rows         with --sample or the files: each row once, in a random\n"
		"                           order (--seed), then stop (default: a random row each\n"
		"                           time, as the 2023 emulator picks them).\n"
		"        --invalid-rate P   fraction (0..1) of generated pins made invalid on purpose\n"
		"                           (missing unique_id, bad UUID, non-integer index, list for\n"
		"                           downloaded, object for title): the server must reject\n"
		"                           them with 422. The report shows how many were sent.\n"
		"    -t, --token TOKEN      send Authorization: Bearer TOKEN.\n"
		"    -s, --seed N           seed of the generator and of the row picks: the same seed\n"
		"                           gives the same records in the same order.\n"
		"        --timeout S        per-request timeout in seconds (default 30).\n"
		"        --retries N        resend a request answered 503 (or 429/5xx with a\n"
		"                           Retry-After) or failed in transport up to N times, after\n"
		"                           its Retry-After (default 0: count an error).\n"
		"    -p, --print, --dry-run write the records as JSONL to stdout; no network. With\n"
		"                           several streams each line is {\"stream\":S,\"record\":R}.\n"
		"        --progress         one status line per second on stderr.\n"
		"        --json             the final report as one JSON object on stdout.\n"
		"    -q, --quiet            no report text on stderr (errors still go there).\n"
		"    -h, --help             this manual.\n"
		"\n"
		"OUTPUT\n"
		"    The report (stderr, or stdout with --json) gives records sent, accepted, rejected,\n"
		"    errors, in all and per stream, requests by status class, the achieved rate in\n"
		"    records/s and requests/s, and request latency p50/p95/p99/max in milliseconds (per\n"
		"    request, measured from the moment it is handed to the connection to the last byte\n"
		"    of the answer; log-linear buckets, accurate to 3%). With --rate, it also says how\n"
		"    far behind schedule the latest request was sent: latency does not include that\n"
		"    wait, so a large value means the server (or --concurrency) could not keep up.\n"
		"    --json keys: url, api, rows, sent, accepted, rejected, errors, invalid_sent,\n"
		"    requests, status_2xx, status_4xx, status_5xx, transport_errors, retries,\n"
		"    unparsed_batches, elapsed_s, rate_pins_s (records/s), rate_requests_s,\n"
		"    latency_p50_ms, latency_p95_ms, latency_p99_ms, latency_max_ms, latency_mean_ms,\n"
		"    schedule_lag_max_ms, first_failure, and streams: {pin|geo|user: {url, sent,\n"
		"    accepted, rejected, errors, requests}} for the selected streams.\n"
		"\n"
		"EXIT STATUS\n"
		"    0 when at least one record was accepted (or --print wrote its records), 1 when\n"
		"    none was, 2 on a usage error.\n"
		"\n"
		"EXAMPLES\n"
		"    pinpipe-emulate --count 10000 --concurrency 16\n"
		"    pinpipe-emulate --rate 500 --duration 60 --progress --invalid-rate 0.01\n"
		"    pinpipe-emulate --batch 500 --count 1000000 --json | jq .rate_pins_s\n"
		"    pinpipe-emulate --print --count 20000 --seed 1 > pins.jsonl\n"
		"    pinpipe-emulate --replay pins.jsonl --url http://db:8000/pin/ --token s3cret\n"
		"    pinpipe-emulate --api restproxy --sample data --all-rows --url http://db:8000\n"
		"    pinpipe-emulate --api kinesis --names 'streaming-0a1b-{stream}' --count 100 \\\n"
		"                    --url https://abc.execute-api.us-east-1.amazonaws.com/prod\n",
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
	OPT_API,
	OPT_STREAMS,
	OPT_NAMES,
	OPT_SAMPLE,
	OPT_PIN_FILE,
	OPT_GEO_FILE,
	OPT_USER_FILE,
	OPT_ALL_ROWS,
};

/* --streams: a comma-separated list of pin, geo, user → a bit per EmuStream. */
static unsigned
ParseStreams(const char *list)
{
	unsigned mask = 0;
	const char *p = list;

	for (;;)
	{
		size_t n = strcspn(p, ",");
		int s;

		for (s = 0; s < EMU_NSTREAMS; s++)
			if (strlen(emu_stream_names[s]) == n && strncmp(p, emu_stream_names[s], n) == 0)
				break;
		if (s == EMU_NSTREAMS)
			Die("invalid value for --streams: \"%s\" (expected pin, geo, user, comma-separated)",
				list);
		mask |= 1u << s;
		if (p[n] == '\0')
			return mask;
		p += n + 1;
	}
}

/* Checks of option combinations, and the defaults that depend on other options. */
static void
CheckOptions(EmuOptions *o)
{
	unsigned supported = o->api == API_FASTAPI ? 1u << EMU_PIN : (1u << EMU_NSTREAMS) - 1;
	unsigned have_files = 0;

	for (int s = 0; s < EMU_NSTREAMS; s++)
		if (o->files[s] || o->sample_dir)
			have_files |= 1u << s;
	o->rows = have_files != 0;
	if (!o->streams_given)
	{
		if (o->replay)
			o->streams = 1u << EMU_PIN;
		else if (o->rows && !o->sample_dir)
			o->streams = have_files & supported;
		else
			o->streams = supported;
	}
	if (o->streams & ~supported)
		Die("the fastapi shape has only /pin/ and /pins (pins): geo and user records need --api "
			"restproxy or --api kinesis");
	if (o->streams == 0)
		Die("no stream to post (see --streams)");
	if (o->loop && !o->replay)
		Die("--loop needs --replay");
	if (o->replay && o->rows)
		Die("--replay and --sample/--pin-file/--geo-file/--user-file exclude each other");
	if (o->replay && o->streams != 1u << EMU_PIN)
		Die("--replay sends pins only (use --sample or --geo-file/--user-file for the other "
			"streams)");
	if ((o->replay || o->rows) && o->invalid_rate > 0)
		Die("--invalid-rate applies to generated pins, not to --replay or --sample");
	if (o->all_rows && !o->rows)
		Die("--all-rows needs --sample or --pin-file/--geo-file/--user-file");
	for (int s = 0; s < EMU_NSTREAMS; s++)
		if (o->rows && (o->streams & (1u << s)) && !(have_files & (1u << s)))
			Die("--streams %s needs --%s-file or --sample", emu_stream_names[s],
				emu_stream_names[s]);
	if (o->ndjson && o->batch == 1)
		Die("--ndjson needs --batch");
	if (o->ndjson && o->api != API_FASTAPI)
		Die("--ndjson applies to --api fastapi");
	if (o->api == API_KINESIS && o->batch > 1)
		Die("--api kinesis sends one record per request (PutRecord): no --batch");
	if (o->api != API_FASTAPI && !o->url_given)
		o->url = EMU_DEFAULT_BASE;
}

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
		{"api", required_argument, NULL, OPT_API},
		{"streams", required_argument, NULL, OPT_STREAMS},
		{"names", required_argument, NULL, OPT_NAMES},
		{"sample", required_argument, NULL, OPT_SAMPLE},
		{"pin-file", required_argument, NULL, OPT_PIN_FILE},
		{"geo-file", required_argument, NULL, OPT_GEO_FILE},
		{"user-file", required_argument, NULL, OPT_USER_FILE},
		{"all-rows", no_argument, NULL, OPT_ALL_ROWS},
		{NULL, 0, NULL, 0}};
	int ch;

	memset(o, 0, sizeof(*o));
	o->url = EMU_DEFAULT_URL;
	o->concurrency = 8;
	o->batch = 1;
	o->timeout = 30;
	o->names = EMU_DEFAULT_NAMES;

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
			case OPT_API:
				for (o->api = API_FASTAPI; o->api <= API_KINESIS; o->api++)
					if (strcmp(optarg, api_names[o->api]) == 0)
						break;
				if (o->api > API_KINESIS)
					Die("invalid value for --api: \"%s\" (expected fastapi, restproxy or kinesis)",
						optarg);
				break;
			case OPT_STREAMS:
				o->streams = ParseStreams(optarg);
				o->streams_given = true;
				break;
			case OPT_NAMES:
				o->names = optarg;
				break;
			case OPT_SAMPLE:
				o->sample_dir = optarg;
				break;
			case OPT_PIN_FILE:
			case OPT_GEO_FILE:
			case OPT_USER_FILE:
				o->files[ch - OPT_PIN_FILE] = optarg;
				break;
			case OPT_ALL_ROWS:
				o->all_rows = true;
				break;
			default:
				fputs("Try 'pinpipe-emulate --help'.\n", stderr);
				exit(2);
		}
	}
	if (optind < argc)
		Die("unexpected argument \"%s\" (try --help)", argv[optind]);
	CheckOptions(o);
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

/*
 * The topic (restproxy) or stream name (kinesis) of a stream: the --names template
 * with {stream} replaced. Kafka's and Kinesis's name characters only, so that it goes
 * into the URL path as it is.
 */
static char *
StreamTarget(const char *tmpl, EmuStream stream)
{
	StrBuf b = {0};

	for (const char *p = tmpl; *p;)
	{
		if (strncmp(p, "{stream}", 8) == 0)
		{
			StrBufPuts(&b, emu_stream_names[stream]);
			p += 8;
		}
		else
			StrBufAppend(&b, p++, 1);
	}
	if (b.len == 0 || b.len > 249 ||
		strspn(b.data ? b.data : "",
			   "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") != b.len)
		Die("invalid --names \"%s\": %s is not a topic name (1..249 of [a-zA-Z0-9._-])", tmpl,
			b.data ? b.data : "\"\"");
	NeedMemory(&b);
	return b.data;
}

/* The URL a stream's requests go to, in the chosen API shape. */
static char *
StreamUrl(const EmuOptions *o, const char *target)
{
	StrBuf b = {0};
	size_t n = strlen(o->url);

	if (o->api == API_FASTAPI)
		return o->batch > 1 ? BatchUrl(o->url, o->url_given) : strdup(o->url);
	while (n > 0 && o->url[n - 1] == '/')
		n--;
	StrBufAppend(&b, o->url, n);
	StrBufPrintf(&b, o->api == API_RESTPROXY ? "/topics/%s" : "/streams/%s/record", target);
	NeedMemory(&b);
	return b.data;
}

/* ---------------------------------------------------------------- print mode */

static int
RunPrint(const EmuOptions *o, EmuSource *src)
{
	StrBuf rec[EMU_NSTREAMS] = {{0}}, line = {0};
	bool invalid[EMU_NSTREAMS];
	bool several = (o->streams & (o->streams - 1)) != 0;
	uint64_t n = 0;

	while (o->count == 0 || n < o->count)
	{
		for (int s = 0; s < EMU_NSTREAMS; s++)
			StrBufReset(&rec[s]);
		if (!SourceNextRow(src, rec, invalid))
			break;
		for (int s = 0; s < EMU_NSTREAMS; s++)
			NeedMemory(&rec[s]);
		StrBufReset(&line);
		for (int s = 0; s < EMU_NSTREAMS; s++)
		{
			if (!(o->streams & (1u << s)))
				continue;
			if (several)
				StrBufPrintf(&line, "{\"stream\":\"%s\",\"record\":", emu_stream_names[s]);
			StrBufAppend(&line, rec[s].data, rec[s].len);
			StrBufPuts(&line, several ? "}\n" : "\n");
		}
		NeedMemory(&line);
		if (fwrite(line.data, 1, line.len, stdout) != line.len)
			Die("write error: %s", strerror(errno));
		n++;
	}
	if (fflush(stdout) != 0)
		Die("write error: %s", strerror(errno));
	for (int s = 0; s < EMU_NSTREAMS; s++)
		StrBufFree(&rec[s]);
	StrBufFree(&line);
	return n > 0 ? 0 : 1;
}

/* ---------------------------------------------------------------- network mode */

typedef struct EmuSlot
{
	CURL *easy;
	StrBuf body;
	StrBuf resp;
	EmuStream stream;
	int npins; /* records in the request */
	int ninvalid;
	int attempts;
	bool busy; /* owned by the multi handle, or waiting for a retry */
	bool in_multi;
	double started;		/* when handed to the multi handle */
	double retry_at;	/* > 0: resend at this time */
	double retry_after; /* the answer's Retry-After in seconds, -1 if none */
	char errbuf[CURL_ERROR_SIZE];
} EmuSlot;

/* What happened to one stream's records. */
typedef struct EmuCounts
{
	uint64_t sent, accepted, rejected, errors, requests;
} EmuCounts;

typedef struct EmuStats
{
	uint64_t rows;
	EmuCounts per[EMU_NSTREAMS];
	uint64_t sent; /* records whose request got a final answer or failed for good */
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

/*
 * The requests of the next rows, one per selected stream, waiting for free slots: the
 * three records of a row go out together (with --batch, the records of N rows per
 * stream), in stream order.
 */
typedef struct EmuGroup
{
	StrBuf body[EMU_NSTREAMS];
	int nrec[EMU_NSTREAMS];
	int ninvalid[EMU_NSTREAMS];
	unsigned pending; /* bit per stream whose body is still to be sent */
	StrBuf rec[EMU_NSTREAMS];
	const char *target[EMU_NSTREAMS];
	uint64_t seq; /* rows framed so far (the Kinesis partition key) */
} EmuGroup;

/* Append one record to a stream's request body in the API's framing. */
static void
FrameRecord(const EmuOptions *o, EmuGroup *g, int s, int n)
{
	StrBuf *b = &g->body[s];

	switch (o->api)
	{
		case API_FASTAPI:
			if (n > 0)
				StrBufAppend(b, o->ndjson ? "\n" : ",", 1);
			StrBufAppend(b, g->rec[s].data, g->rec[s].len);
			break;
		case API_RESTPROXY:
			StrBufPuts(b, n > 0 ? ",{\"value\":" : "{\"value\":");
			StrBufAppend(b, g->rec[s].data, g->rec[s].len);
			StrBufPuts(b, "}");
			break;
		case API_KINESIS:
			StrBufPrintf(b, "{\"StreamName\":\"%s\",\"Data\":", g->target[s]);
			StrBufAppend(b, g->rec[s].data, g->rec[s].len);
			StrBufPrintf(b, ",\"PartitionKey\":\"%s-%" PRIu64 "\"}", emu_stream_names[s], g->seq);
			break;
	}
}

/* Frame the next rows (at most limit, 0 = no limit); returns how many there were. */
static int
GroupFill(EmuGroup *g, const EmuOptions *o, EmuSource *src, uint64_t limit)
{
	bool invalid[EMU_NSTREAMS];
	int n = 0, want = o->batch;

	if (limit > 0 && (uint64_t) want > limit)
		want = (int) limit;
	for (int s = 0; s < EMU_NSTREAMS; s++)
	{
		StrBufReset(&g->body[s]);
		g->nrec[s] = g->ninvalid[s] = 0;
		if (o->api == API_FASTAPI && o->batch > 1 && !o->ndjson)
			StrBufAppend(&g->body[s], "[", 1);
		else if (o->api == API_RESTPROXY)
			StrBufPuts(&g->body[s], "{\"records\":[");
	}
	for (; n < want; n++)
	{
		for (int s = 0; s < EMU_NSTREAMS; s++)
			StrBufReset(&g->rec[s]);
		if (!SourceNextRow(src, g->rec, invalid))
			break;
		for (int s = 0; s < EMU_NSTREAMS; s++)
			NeedMemory(&g->rec[s]);
		for (int s = 0; s < EMU_NSTREAMS; s++)
			if (o->streams & (1u << s))
			{
				FrameRecord(o, g, s, n);
				g->nrec[s]++;
				g->ninvalid[s] += invalid[s];
			}
		g->seq++;
	}
	if (n == 0)
		return 0;
	for (int s = 0; s < EMU_NSTREAMS; s++)
	{
		if (o->api == API_FASTAPI && o->batch > 1 && !o->ndjson)
			StrBufAppend(&g->body[s], "]", 1);
		else if (o->ndjson)
			StrBufAppend(&g->body[s], "\n", 1);
		else if (o->api == API_RESTPROXY)
			StrBufPuts(&g->body[s], "]}");
		NeedMemory(&g->body[s]);
	}
	g->pending = o->streams;
	return n;
}

/* Give a free slot the group's next request (the group must have one pending). */
static void
SlotTake(EmuSlot *s, EmuGroup *g)
{
	int st = __builtin_ctz(g->pending);
	StrBuf t = s->body;

	/* swap the buffers: the slot sends this body, the group reuses the slot's old one */
	s->body = g->body[st];
	g->body[st] = t;
	s->stream = (EmuStream) st;
	s->npins = g->nrec[st];
	s->ninvalid = g->ninvalid[st];
	s->attempts = 0;
	g->pending &= ~(1u << st);
}

static void
SlotStart(EmuSlot *s, CURLM *multi, double now, char *const urls[EMU_NSTREAMS])
{
	CURLMcode mc;

	curl_easy_setopt(s->easy, CURLOPT_URL, urls[s->stream]);
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

/* The records of a 2xx answer: accepted, rejected, errors (the API's answer read strictly). */
static void
Answered2xx(EmuSlot *s, const EmuOptions *o, EmuStats *st, uint64_t *acc, uint64_t *rej,
			uint64_t *err)
{
	const char *body = s->resp.data ? s->resp.data : "";
	EmuAnswer a;
	bool parsed;
	char what[sizeof(a.why) + 64];

	if (o->api == API_FASTAPI)
	{
		long long n = s->npins;

		if (o->batch > 1)
		{
			n = JsonFindCount(body, s->resp.len, "accepted");
			if (n < 0)
			{
				st->unparsed++;
				n = s->npins;
			}
			if (n > s->npins)
				n = s->npins;
			if (n < s->npins)
				NoteFailure(st, "batch with rejected records", s->resp.data, s->resp.len);
		}
		*acc = (uint64_t) n;
		*rej = (uint64_t) (s->npins - n);
		return;
	}
	parsed = o->api == API_RESTPROXY ? AnswerRestProxy(body, s->resp.len, s->npins, &a)
									 : AnswerKinesis(body, s->resp.len, &a);
	if (!parsed)
	{
		st->unparsed++;
		*err = (uint64_t) s->npins;
		snprintf(what, sizeof(what), "%s answer not of the documented shape (%s)",
				 o->api == API_RESTPROXY ? "REST Proxy" : "Kinesis", a.why);
		NoteFailure(st, what, s->resp.data, s->resp.len);
		return;
	}
	*acc = (uint64_t) a.accepted;
	*rej = (uint64_t) a.rejected;
	*err = (uint64_t) a.retriable;
	if (a.rejected + a.retriable > 0)
	{
		snprintf(what, sizeof(what), "records with an error_code (first %s)", a.first_error);
		NoteFailure(st, what, s->resp.data, s->resp.len);
	}
}

/* Account for a finished attempt; returns true if the slot is free again. */
static bool
SlotFinish(EmuSlot *s, CURLcode result, const EmuOptions *o, EmuStats *st, double now)
{
	EmuCounts *per = &st->per[s->stream];
	long code = 0;
	bool retryable;
	uint64_t acc = 0, rej = 0, err = 0;

	curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &code);
	HistRecord(&st->hist, now - s->started);
	st->requests++;
	per->requests++;
	if (result != CURLE_OK)
		st->transport++;
	else if (code >= 200 && code < 300)
		st->s2xx++;
	else if (code >= 400 && code < 500)
		st->s4xx++;
	else
		st->s5xx++;

	/* 503 (pinpipe's backlog answer), or a 429/5xx that says when to come back */
	retryable =
		result != CURLE_OK || code == 503 || ((code == 429 || code >= 500) && s->retry_after >= 0);
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

	if (result != CURLE_OK)
	{
		char what[CURL_ERROR_SIZE + 64];

		err = (uint64_t) s->npins;
		snprintf(what, sizeof(what), "transport error: %s",
				 s->errbuf[0] ? s->errbuf : curl_easy_strerror(result));
		NoteFailure(st, what, NULL, 0);
	}
	else if (code >= 200 && code < 300)
		Answered2xx(s, o, st, &acc, &rej, &err);
	else
	{
		char what[64];

		snprintf(what, sizeof(what), "HTTP %ld", code);
		if (code >= 400 && code < 500)
			rej = (uint64_t) s->npins;
		else
			err = (uint64_t) s->npins;
		NoteFailure(st, what, s->resp.data, s->resp.len);
	}
	st->sent += (uint64_t) s->npins;
	st->invalid_sent += (uint64_t) s->ninvalid;
	st->accepted += acc;
	st->rejected += rej;
	st->errors += err;
	per->sent += (uint64_t) s->npins;
	per->accepted += acc;
	per->rejected += rej;
	per->errors += err;
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
Report(const EmuOptions *o, char *const urls[EMU_NSTREAMS], const EmuStats *st, double elapsed)
{
	const char *url = o->api == API_FASTAPI ? urls[EMU_PIN] : o->url;
	bool one_shape = o->api == API_FASTAPI; /* pins only: the report of release 1 */
	double rate = elapsed > 0 ? (double) st->sent / elapsed : 0;
	double rrate = elapsed > 0 ? (double) st->requests / elapsed : 0;
	const EmuHist *h = &st->hist;
	double mean = h->total ? h->sum_us / (double) h->total / 1000.0 : 0;

	if (o->json)
	{
		printf("{\"url\":");
		PrintJsonString(stdout, url);
		printf(",\"api\":\"%s\",\"rows\":%" PRIu64, api_names[o->api], st->rows);
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
		fputs(",\"streams\":{", stdout);
		for (int s = 0, n = 0; s < EMU_NSTREAMS; s++)
		{
			const EmuCounts *c = &st->per[s];

			if (!(o->streams & (1u << s)))
				continue;
			printf("%s\"%s\":{\"url\":", n++ ? "," : "", emu_stream_names[s]);
			PrintJsonString(stdout, urls[s]);
			printf(",\"sent\":%" PRIu64 ",\"accepted\":%" PRIu64 ",\"rejected\":%" PRIu64
				   ",\"errors\":%" PRIu64 ",\"requests\":%" PRIu64 "}",
				   c->sent, c->accepted, c->rejected, c->errors, c->requests);
		}
		fputs("}}\n", stdout);
		fflush(stdout);
	}
	if (o->quiet)
		return;
	fprintf(stderr,
			"pinpipe-emulate: %" PRIu64 " %s in %" PRIu64 " requests to %s in %.2f s\n"
			"  accepted  %" PRIu64 "\n"
			"  rejected  %" PRIu64 "%s",
			st->sent, one_shape ? "pins" : "records", st->requests, url, elapsed, st->accepted,
			st->rejected, st->invalid_sent ? "" : "\n");
	if (st->invalid_sent)
		fprintf(stderr, "  (%" PRIu64 " invalid on purpose)\n", st->invalid_sent);
	fprintf(stderr,
			"  errors    %" PRIu64 "\n"
			"  requests  2xx %" PRIu64 ", 4xx %" PRIu64 ", 5xx/other %" PRIu64
			", transport %" PRIu64 ", retries %" PRIu64 "\n"
			"  rate      %.1f %s/s, %.1f requests/s\n"
			"  latency   p50 %.2f ms, p95 %.2f ms, p99 %.2f ms, max %.2f ms, mean %.2f ms\n",
			st->errors, st->s2xx, st->s4xx, st->s5xx, st->transport, st->retries, rate,
			one_shape ? "pins" : "records", rrate, HistQuantileMs(h, 0.50), HistQuantileMs(h, 0.95),
			HistQuantileMs(h, 0.99), (double) h->max_us / 1000.0, mean);
	if (o->rate > 0)
		fprintf(stderr, "  schedule  at most %.2f ms behind the --rate schedule%s\n",
				st->schedule_lag_max * 1000.0,
				st->schedule_lag_max > 0.1 ? " (the server or --concurrency limited the rate)"
										   : "");
	if (!one_shape)
		for (int s = 0; s < EMU_NSTREAMS; s++)
			if (o->streams & (1u << s))
				fprintf(stderr,
						"  %-9s %" PRIu64 " sent, %" PRIu64 " accepted, %" PRIu64
						" rejected, %" PRIu64 " errors (%s)\n",
						emu_stream_names[s], st->per[s].sent, st->per[s].accepted,
						st->per[s].rejected, st->per[s].errors, urls[s]);
	if (st->unparsed && one_shape)
		fprintf(stderr,
				"  warning   %" PRIu64
				" batch answers had no \"accepted\" count (counted as all accepted)\n",
				st->unparsed);
	else if (st->unparsed)
		fprintf(
			stderr,
			"  warning   %" PRIu64
			" answers were not of the API's documented shape (their records counted as errors)\n",
			st->unparsed);
	if (st->first_failure[0])
		fprintf(stderr, "  first failure: %s\n", st->first_failure);
}

static int
RunNetwork(const EmuOptions *o, EmuSource *src)
{
	char *urls[EMU_NSTREAMS] = {NULL}, *targets[EMU_NSTREAMS] = {NULL};
	EmuGroup group;
	struct curl_slist *headers = NULL;
	char *auth = NULL;
	EmuSlot *slots;
	CURLM *multi;
	EmuStats *st;
	uint64_t issued = 0; /* rows handed to requests */
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

	memset(&group, 0, sizeof(group));
	for (int s = 0; s < EMU_NSTREAMS; s++)
		if (o->streams & (1u << s))
		{
			targets[s] = StreamTarget(o->names, (EmuStream) s);
			urls[s] = StreamUrl(o, targets[s]);
			group.target[s] = targets[s];
		}
	headers =
		curl_slist_append(headers, o->ndjson				 ? "Content-Type: application/x-ndjson"
								   : o->api == API_RESTPROXY ? "Content-Type: "
															   "application/vnd.kafka.json.v2+json"
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
		curl_easy_setopt(s->easy, CURLOPT_HTTPHEADER, headers);
		curl_easy_setopt(s->easy, CURLOPT_POST, 1L);
		if (o->api == API_KINESIS)
			curl_easy_setopt(s->easy, CURLOPT_CUSTOMREQUEST, "PUT");
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
					SlotStart(s, multi, now, urls);
				else if ((long) ceil((s->retry_at - now) * 1000) < wait_ms)
					wait_ms = (long) ceil((s->retry_at - now) * 1000);
			}
		}
		for (int i = 0; i < o->concurrency; i++)
		{
			EmuSlot *s = &slots[i];
			int rows;

			if (s->busy)
				continue;
			/* the rest of a row's records go out even when stopping: rows stay whole */
			if (group.pending == 0)
			{
				if (stopping)
					break;
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
				rows = GroupFill(&group, o, src, o->count ? o->count - issued : 0);
				if (rows == 0)
				{
					stopping = true;
					break;
				}
				issued += (uint64_t) rows;
				st->rows += (uint64_t) rows;
			}
			SlotTake(s, &group);
			SlotStart(s, multi, now, urls);
			inflight++;
		}
		if (stopping && inflight == 0 && group.pending == 0)
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

	Report(o, urls, st, last_done - t0);
	for (int i = 0; i < o->concurrency; i++)
	{
		curl_easy_cleanup(slots[i].easy);
		free(slots[i].body.data);
		free(slots[i].resp.data);
	}
	curl_multi_cleanup(multi);
	curl_slist_free_all(headers);
	curl_global_cleanup();
	free(auth);
	for (int s = 0; s < EMU_NSTREAMS; s++)
	{
		free(urls[s]);
		free(targets[s]);
		free(group.body[s].data);
		free(group.rec[s].data);
	}
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
	char err[EMU_ROWS_ERRLEN];
	bool ok;
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
	if (o.replay)
	{
		if (!SourceInitReplay(&src, o.replay, o.loop, o.seed, err))
			Die("%s", err);
	}
	else if (o.rows)
	{
		const char *paths[EMU_NSTREAMS];
		static const char *const sample_files[EMU_NSTREAMS] = {
			"pins_sample.jsonl", "geo_sample.jsonl", "user_sample.jsonl"};
		char *joined[EMU_NSTREAMS] = {NULL};

		for (int s = 0; s < EMU_NSTREAMS; s++)
		{
			paths[s] = o.files[s];
			if (paths[s] == NULL && o.sample_dir)
			{
				StrBuf b = {0};

				StrBufPrintf(&b, "%s/%s", o.sample_dir, sample_files[s]);
				NeedMemory(&b);
				paths[s] = joined[s] = b.data;
			}
		}
		ok = SourceInitRows(&src, o.streams, paths, o.all_rows, o.seed, err);
		for (int s = 0; s < EMU_NSTREAMS; s++)
			free(joined[s]);
		if (!ok)
			Die("%s", err);
	}
	else
		SourceInitGenerate(&src, o.streams, o.seed, o.invalid_rate);
	if (o.print)
		rc = RunPrint(&o, &src);
	else
		rc = RunNetwork(&o, &src);
	SourceFree(&src);
	return rc;
}
