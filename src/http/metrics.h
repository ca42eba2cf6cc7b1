/*
 * metrics.h — counters of the HTTP worker and the Prometheus text of GET /metrics.
 *
 * The HTTP worker's own counters live in its process memory (it is the only
 * process that serves /metrics); the consumers' rows, lag and batch histograms
 * come from shared memory through WorkerStatusSnapshot. Names are listed in
 * docs/http.md.
 */
#ifndef METRICS_H
#define METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http_endpoint.h"

/* Count one answered request: endpoint, status and latency. */
extern void MetricsRequest(HttpEndpoint endpoint, int status, double seconds);

/* Count pins answered as accepted / rejected (validation or dead letter). */
extern void MetricsPins(int64_t accepted, int64_t rejected, int64_t dead_letters);

/* Count Kafka delivery reports. */
extern void MetricsDelivery(bool ok);

/* Count a request refused for its HTTP framing, or a protocol error libmicrohttpd reported. */
extern void MetricsMalformed(void);

/* Count a connection closed to make room (idle keep-alive) or refused (503 over a limit). */
extern void MetricsConnectionShed(bool refused);

/* Track open connections (+1 / -1). */
extern void MetricsConnection(int delta);
extern int MetricsOpenConnections(void);

/*
 * Render /metrics into a malloc'd buffer; false if out of memory. Values that
 * are not counters of this module come in as arguments: produce_queue_depth is
 * the Kafka producer's queue (0 in embedded mode).
 */
extern bool MetricsRender(char **out, size_t *len, int64_t produce_queue_depth);

#endif /* METRICS_H */
