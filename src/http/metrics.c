/*
 * metrics.c — the HTTP worker's counters and the text of GET /metrics.
 *
 * The counters are plain process-local variables: only the HTTP worker's main
 * thread updates them and only it renders /metrics. Consumer figures come
 * from the shared-memory worker slots (WorkerStatusSnapshot copies them under
 * each slot's spinlock). Rendering happens inside a libmicrohttpd callback,
 * so it uses malloc and never raises an error. Metric names: docs/http.md.
 */
#include "postgres.h"

#include <stdlib.h>

#include "metrics.h"
#include "prom_format.h"
#include "worker_status.h"

/* Status codes counted individually; anything else falls into the last slot. */
static const int metrics_statuses[] = {200, 400, 401, 404, 405, 413, 415, 422, 500, 501, 503, 0};
#define METRICS_NSTATUS (sizeof(metrics_statuses) / sizeof(metrics_statuses[0]))

static const char *const metrics_endpoints[HTTP_EP_COUNT] = {
	"/pin/", "/pins", "/healthz", "/metrics", "/topics/{topic}", "/streams/{name}/record", "other"};

/* Request latency buckets (seconds). */
static const double metrics_latency_bounds[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
												0.1,	0.25,  0.5,	   1,	  2.5,	5,	   10};
#define METRICS_NLATENCY (sizeof(metrics_latency_bounds) / sizeof(metrics_latency_bounds[0]))

static struct
{
	int64_t requests[HTTP_EP_COUNT][METRICS_NSTATUS];
	int64_t latency[HTTP_EP_COUNT][METRICS_NLATENCY + 1];
	double latency_sum[HTTP_EP_COUNT];
	int64_t pins_accepted;
	int64_t pins_rejected;
	int64_t dead_letters;
	int64_t deliveries;
	int64_t delivery_errors;
	int64_t malformed;
	int64_t idle_closed;
	int64_t refused;
	int connections;
} counters;

static WorkerStatus *snapshot = NULL;

void
MetricsRequest(HttpEndpoint endpoint, int status, double seconds)
{
	size_t s;
	size_t b;

	if (endpoint < 0 || endpoint >= HTTP_EP_COUNT)
		endpoint = HTTP_EP_OTHER;
	for (s = 0; s < METRICS_NSTATUS - 1; s++)
		if (metrics_statuses[s] == status)
			break;
	counters.requests[endpoint][s]++;
	for (b = 0; b < METRICS_NLATENCY; b++)
		if (seconds <= metrics_latency_bounds[b])
			break;
	counters.latency[endpoint][b]++;
	counters.latency_sum[endpoint] += seconds;
}

void
MetricsPins(int64_t accepted, int64_t rejected, int64_t dead_letters)
{
	counters.pins_accepted += accepted;
	counters.pins_rejected += rejected;
	counters.dead_letters += dead_letters;
}

void
MetricsDelivery(bool ok)
{
	if (ok)
		counters.deliveries++;
	else
		counters.delivery_errors++;
}

void
MetricsMalformed(void)
{
	counters.malformed++;
}

void
MetricsConnectionShed(bool refused)
{
	if (refused)
		counters.refused++;
	else
		counters.idle_closed++;
}

void
MetricsConnection(int delta)
{
	counters.connections += delta;
}

int
MetricsOpenConnections(void)
{
	return counters.connections;
}

/* Labels kind="…",worker="N" of a worker slot. */
static void
MetricsWorkerLabels(const WorkerStatus *w, char *out, size_t cap)
{
	static const char *const keys[] = {"kind", "worker"};
	char num[16];
	const char *values[2];

	snprintf(num, sizeof(num), "%d", w->number);
	values[0] = WorkerKindName(w->kind);
	values[1] = num;
	PromLabels(out, cap, 2, keys, values);
}

/* One unlabelled counter family. */
static void
MetricsCounter(StrBuf *buf, const char *name, const char *help, int64_t value)
{
	PromFamily(buf, name, "counter", help);
	PromSampleInt(buf, name, NULL, value);
}

/* The HTTP worker's own families. */
static void
MetricsRenderHttp(StrBuf *buf, int64_t produce_queue_depth)
{
	char labels[256];

	PromFamily(buf, "pinpipe_http_requests_total", "counter",
			   "HTTP requests answered, by endpoint and status code.");
	for (int e = 0; e < HTTP_EP_COUNT; e++)
		for (size_t s = 0; s < METRICS_NSTATUS; s++)
		{
			static const char *const keys[] = {"endpoint", "code"};
			char code[16];
			const char *values[2];

			if (counters.requests[e][s] == 0 && !(e == HTTP_EP_PIN && s == 0))
				continue;
			if (metrics_statuses[s])
				snprintf(code, sizeof(code), "%d", metrics_statuses[s]);
			else
				snprintf(code, sizeof(code), "other");
			values[0] = metrics_endpoints[e];
			values[1] = code;
			PromLabels(labels, sizeof(labels), 2, keys, values);
			PromSampleInt(buf, "pinpipe_http_requests_total", labels, counters.requests[e][s]);
		}

	PromFamily(buf, "pinpipe_http_request_duration_seconds", "histogram",
			   "Time from the first byte of a request to its answer being queued, by endpoint.");
	for (int e = 0; e < HTTP_EP_COUNT; e++)
	{
		static const char *const keys[] = {"endpoint"};
		const char *values[1] = {metrics_endpoints[e]};

		PromLabels(labels, sizeof(labels), 1, keys, values);
		PromHistogram(buf, "pinpipe_http_request_duration_seconds", labels, metrics_latency_bounds,
					  METRICS_NLATENCY, counters.latency[e], counters.latency_sum[e]);
	}

	MetricsCounter(buf, "pinpipe_http_pins_accepted_total",
				   "Pins answered 2xx: committed (embedded mode) or acknowledged by Kafka.",
				   counters.pins_accepted);
	MetricsCounter(buf, "pinpipe_http_pins_rejected_total",
				   "Pins refused: failed validation or dead-lettered at insert time.",
				   counters.pins_rejected);
	MetricsCounter(buf, "pinpipe_http_dead_letters_total",
				   "Pins that validated but were dead-lettered when written (embedded mode).",
				   counters.dead_letters);
	MetricsCounter(buf, "pinpipe_http_malformed_requests_total",
				   "Requests refused for their HTTP framing, and protocol errors libmicrohttpd "
				   "reported.",
				   counters.malformed);
	MetricsCounter(buf, "pinpipe_http_idle_connections_closed_total",
				   "Idle keep-alive connections closed to make room for a new one.",
				   counters.idle_closed);
	MetricsCounter(buf, "pinpipe_http_connections_refused_total",
				   "Connections answered 503 because a connection limit was reached.",
				   counters.refused);
	PromFamily(buf, "pinpipe_http_open_connections", "gauge", "Open HTTP connections.");
	PromSampleInt(buf, "pinpipe_http_open_connections", NULL, counters.connections);

	PromFamily(buf, "pinpipe_kafka_produce_queue_depth", "gauge",
			   "Messages in the HTTP worker's Kafka producer queue, not yet acknowledged.");
	PromSampleInt(buf, "pinpipe_kafka_produce_queue_depth", NULL, produce_queue_depth);
	PromFamily(buf, "pinpipe_kafka_deliveries_total", "counter",
			   "Kafka delivery reports for produced pins that succeeded.");
	PromSampleInt(buf, "pinpipe_kafka_deliveries_total", NULL, counters.deliveries);
	PromFamily(buf, "pinpipe_kafka_delivery_errors_total", "counter",
			   "Kafka delivery reports for produced pins that failed (answered 503).");
	PromSampleInt(buf, "pinpipe_kafka_delivery_errors_total", NULL, counters.delivery_errors);
}

/*
 * pinpipe_ingest_lag_seconds{source}: the workers' lag histograms summed per
 * source (the consumers' as "kafka", the HTTP worker's as "http"), one series
 * per source that has a running worker.
 */
static void
MetricsRenderIngestLag(StrBuf *buf, const WorkerStatus *ws, int n)
{
	static const WorkerKind kinds[2] = {WORKER_KIND_HTTP, WORKER_KIND_CONSUMER};
	static const char *const sources[2] = {"http", "kafka"};

	PromFamily(buf, "pinpipe_ingest_lag_seconds", "histogram",
			   "Commit time minus the HTTP request's arrival (one per request) or the oldest "
			   "Kafka message timestamp of a batch (one per batch).");
	for (int s = 0; s < 2; s++)
	{
		static const char *const keys[] = {"source"};
		int64_t counts[WORKER_STATUS_LAG_NBUCKETS + 1] = {0};
		double sum = 0;
		bool present = false;
		char labels[64];

		for (int i = 0; i < n; i++)
		{
			if (ws[i].kind != kinds[s])
				continue;
			present = true;
			for (int b = 0; b <= WORKER_STATUS_LAG_NBUCKETS; b++)
				counts[b] += ws[i].lag_buckets[b];
			sum += ws[i].lag_seconds_sum;
		}
		if (!present)
			continue;
		PromLabels(labels, sizeof(labels), 1, keys, &sources[s]);
		PromHistogram(buf, "pinpipe_ingest_lag_seconds", labels, worker_status_lag_bounds,
					  WORKER_STATUS_LAG_NBUCKETS, counts, sum);
	}
}

/* Families from the shared-memory worker slots. */
static void
MetricsRenderWorkers(StrBuf *buf, const WorkerStatus *ws, int n)
{
	char labels[512];

	PromFamily(buf, "pinpipe_worker_up", "gauge", "1 for every running pinpipe background worker.");
	for (int i = 0; i < n; i++)
	{
		MetricsWorkerLabels(&ws[i], labels, sizeof(labels));
		PromSampleInt(buf, "pinpipe_worker_up", labels, 1);
	}
#define WORKER_COUNTER(metric, field, help)                                                        \
	do                                                                                             \
	{                                                                                              \
		PromFamily(buf, metric, "counter", help);                                                  \
		for (int i = 0; i < n; i++)                                                                \
		{                                                                                          \
			MetricsWorkerLabels(&ws[i], labels, sizeof(labels));                                   \
			PromSampleInt(buf, metric, labels, ws[i].field);                                       \
		}                                                                                          \
	} while (0)
	WORKER_COUNTER("pinpipe_worker_rows_total", rows,
				   "Messages accepted into pinpipe.pins by the worker.");
	WORKER_COUNTER("pinpipe_worker_dead_letters_total", dead_letters,
				   "Messages the worker dead-lettered.");
	WORKER_COUNTER("pinpipe_worker_batches_total", batches, "Transactions the worker committed.");
	WORKER_COUNTER("pinpipe_worker_errors_total", errors, "Batches that failed and were retried.");
	WORKER_COUNTER("pinpipe_worker_batch_rows_total", batch_rows_total,
				   "Messages in committed batches (batch size sum).");
#undef WORKER_COUNTER

	PromFamily(buf, "pinpipe_batch_duration_seconds", "histogram",
			   "Duration of the workers' committed batch transactions.");
	for (int i = 0; i < n; i++)
	{
		MetricsWorkerLabels(&ws[i], labels, sizeof(labels));
		PromHistogram(buf, "pinpipe_batch_duration_seconds", labels, worker_status_bucket_bounds,
					  WORKER_STATUS_NBUCKETS, ws[i].batch_seconds_buckets, ws[i].batch_seconds_sum);
	}

	MetricsRenderIngestLag(buf, ws, n);

	PromFamily(buf, "pinpipe_consumer_committed_offset", "gauge",
			   "Next offset to read per partition, as committed in PostgreSQL.");
	for (int pass = 0; pass < 3; pass++)
	{
		const char *metric = pass == 0	 ? "pinpipe_consumer_committed_offset"
							 : pass == 1 ? "pinpipe_consumer_high_watermark"
										 : "pinpipe_consumer_lag";

		if (pass == 1)
			PromFamily(buf, metric, "gauge", "Broker's end offset per partition (last refresh).");
		else if (pass == 2)
			PromFamily(buf, metric, "gauge",
					   "Messages in the partition not yet committed to PostgreSQL.");
		for (int i = 0; i < n; i++)
		{
			const WorkerStatus *w = &ws[i];

			if (w->kind != WORKER_KIND_CONSUMER)
				continue;
			for (int p = 0; p < w->npartitions && p < WORKER_STATUS_MAX_PARTITIONS; p++)
			{
				static const char *const keys[] = {"worker", "topic", "partition"};
				const WorkerPartitionStatus *ps = &w->partitions[p];
				char wnum[16];
				char pnum[16];
				const char *values[3];
				int64_t v;

				snprintf(wnum, sizeof(wnum), "%d", w->number);
				snprintf(pnum, sizeof(pnum), "%d", ps->partition);
				values[0] = wnum;
				values[1] = ps->topic;
				values[2] = pnum;
				PromLabels(labels, sizeof(labels), 3, keys, values);
				if (pass == 0)
					v = ps->committed_offset;
				else if (ps->high_watermark < 0)
					continue;
				else if (pass == 1)
					v = ps->high_watermark;
				else
					v = ps->high_watermark - (ps->committed_offset < 0 ? 0 : ps->committed_offset);
				if (pass == 2 && v < 0)
					v = 0;
				PromSampleInt(buf, metric, labels, v);
			}
		}
	}
}

/*
 * Offset gaps: messages skipped per (topic, partition), summed over workers; fetch
 * restarts gone ahead on their bound, per worker; paused partitions.
 */
static void
MetricsRenderGaps(StrBuf *buf, const WorkerStatus *ws, int n)
{
	WorkerSkippedStatus sum[WORKER_STATUS_MAX_PARTITIONS];
	int nsum = 0;
	char labels[512];

	for (int i = 0; i < n; i++)
	{
		if (ws[i].kind != WORKER_KIND_CONSUMER)
			continue;
		for (int g = 0; g < ws[i].nskipped && g < WORKER_STATUS_MAX_PARTITIONS; g++)
		{
			int j;

			const WorkerSkippedStatus *sk = &ws[i].skipped[g];

			for (j = 0; j < nsum; j++)
				if (sum[j].partition == sk->partition && strcmp(sum[j].topic, sk->topic) == 0)
					break;
			if (j == nsum)
			{
				if (nsum == WORKER_STATUS_MAX_PARTITIONS)
					continue;
				sum[nsum] = *sk;
				sum[nsum++].skipped = 0;
			}
			sum[j].skipped += sk->skipped;
		}
	}
	PromFamily(
		buf, "pinpipe_consumer_skipped_messages_total", "counter",
		"Messages skipped over offset gaps (recorded in pinpipe.kafka_gaps), per partition.");
	for (int j = 0; j < nsum; j++)
	{
		static const char *const keys[] = {"topic", "partition"};
		char pnum[16];
		const char *values[2];

		snprintf(pnum, sizeof(pnum), "%d", sum[j].partition);
		values[0] = sum[j].topic;
		values[1] = pnum;
		PromLabels(labels, sizeof(labels), 2, keys, values);
		PromSampleInt(buf, "pinpipe_consumer_skipped_messages_total", labels, sum[j].skipped);
	}

	PromFamily(buf, "pinpipe_consumer_settle_timeouts_total", "counter",
			   "Fetch restarts or unassigns that went ahead on the consumer's 1 s bound, without "
			   "seeing the last fetch restart settle.");
	for (int i = 0; i < n; i++)
	{
		static const char *const keys[] = {"worker"};
		char wnum[16];
		const char *values[1] = {wnum};

		if (ws[i].kind != WORKER_KIND_CONSUMER)
			continue;
		snprintf(wnum, sizeof(wnum), "%d", ws[i].number);
		PromLabels(labels, sizeof(labels), 1, keys, values);
		PromSampleInt(buf, "pinpipe_consumer_settle_timeouts_total", labels, ws[i].settle_timeouts);
	}

	PromFamily(buf, "pinpipe_consumer_partition_paused", "gauge",
			   "1 for a partition stopped by pinpipe.offset_out_of_range = pause, else 0.");
	for (int i = 0; i < n; i++)
	{
		if (ws[i].kind != WORKER_KIND_CONSUMER)
			continue;
		for (int p = 0; p < ws[i].npartitions && p < WORKER_STATUS_MAX_PARTITIONS; p++)
		{
			static const char *const keys[] = {"worker", "topic", "partition"};
			char wnum[16];
			char pnum[16];
			const char *values[3];

			snprintf(wnum, sizeof(wnum), "%d", ws[i].number);
			snprintf(pnum, sizeof(pnum), "%d", ws[i].partitions[p].partition);
			values[0] = wnum;
			values[1] = ws[i].partitions[p].topic;
			values[2] = pnum;
			PromLabels(labels, sizeof(labels), 3, keys, values);
			PromSampleInt(buf, "pinpipe_consumer_partition_paused", labels,
						  ws[i].partitions[p].paused ? 1 : 0);
		}
	}
}

bool
MetricsRender(char **out, size_t *len, int64_t produce_queue_depth)
{
	StrBuf buf = {0};
	int n = 0;

	if (snapshot == NULL)
		snapshot = malloc(sizeof(WorkerStatus) * WORKER_STATUS_MAX_WORKERS);
	if (snapshot != NULL)
		n = WorkerStatusSnapshot(snapshot, WORKER_STATUS_MAX_WORKERS);
	MetricsRenderHttp(&buf, produce_queue_depth);
	MetricsRenderWorkers(&buf, snapshot, n);
	MetricsRenderGaps(&buf, snapshot, n);
	*out = StrBufTake(&buf, len);
	return *out != NULL;
}
