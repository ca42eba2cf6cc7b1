/*
 * http_producer.h — the HTTP worker's Kafka producer (Kafka mode).
 *
 * An idempotent, acks=all librdkafka producer (configured by kafka_config.c).
 * A request's pins are produced and the request stays suspended until every
 * delivery report is in: a 2xx is only ever sent for acknowledged pins. Runs
 * in the worker's main thread: delivery reports, errors and statistics arrive
 * through rd_kafka_poll, woken by rd_kafka_queue_io_event_enable on a pipe
 * that the worker waits on. librdkafka's own threads never call into us.
 */
#ifndef HTTP_PRODUCER_H
#define HTTP_PRODUCER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http_request.h"

/* Create the producer; false with errbuf filled in if librdkafka refuses the config. */
extern bool HttpProducerStart(char *errbuf, size_t errlen);

/* The fd that becomes readable when librdkafka has events for us; -1 if not started. */
extern int HttpProducerFd(void);

/* Serve delivery reports and other events (non-blocking). */
extern void HttpProducerPoll(void);

/*
 * Produce the request's pending records. Returns false, having produced
 * nothing, when the broker is known to be down or the local queue is full
 * (*reason says which; the caller answers 503). Records produced are settled
 * later by HttpRecordDone from the delivery report callback.
 */
extern bool HttpProducerSend(HttpRequest *req, const char **reason);

/* NULL when the producer looks healthy, else why not. */
extern const char *HttpProducerProblem(void);

/* True after a fatal (idempotence) error: this producer can never produce again. */
extern bool HttpProducerFatal(void);

/*
 * Longest a request may wait for its acknowledgement before it is answered 503:
 * the producer's message.timeout.ms (10 s unless pinpipe.kafka_config sets it).
 */
extern double HttpProducerAnswerBound(void);

/* Messages waiting in librdkafka's queues (and in flight). */
extern int64_t HttpProducerQueueDepth(void);

/* Wait (bounded) for outstanding deliveries, then destroy the producer. */
extern void HttpProducerStop(int timeout_ms);

#endif /* HTTP_PRODUCER_H */
