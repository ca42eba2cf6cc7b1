/*
 * http_producer.c — Kafka mode of the HTTP worker: produce pins, answer after
 * the broker's acknowledgement.
 *
 * Threads: librdkafka runs its own threads, but every callback we register
 * (delivery report, error, statistics) is served by rd_kafka_poll, which only
 * the worker's main thread calls. The main queue signals new events by writing
 * to a pipe (rd_kafka_queue_io_event_enable) that the worker waits on in its
 * WaitEventSet. No PostgreSQL function is called from here at all: the
 * callbacks run inside librdkafka and must not longjmp, so problems are kept
 * as text for the worker to log and report.
 *
 * Broker health: an ALL_BROKERS_DOWN error or a failed delivery marks the
 * broker down, and new requests get 503 at once instead of waiting for the
 * message timeout; the statistics callback (once a second) marks it up again
 * as soon as a broker connection is UP.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#include "guc.h"
#include "http_producer.h"
#include "kafka_config.h"
#include "metrics.h"

/* Why a pin over the message size is refused (413, not 503: retrying cannot help). */
#define HTTP_PRODUCER_TOO_LARGE                                                                    \
	"pin exceeds the Kafka message size limit (message.max.bytes); it can never be stored"

/* Why a record for a partition that does not exist is refused (a retry cannot help either). */
#define HTTP_PRODUCER_NO_PARTITION "Kafka: the topic has no such partition"

static rd_kafka_t *producer = NULL;
static rd_kafka_topic_t *producer_topic = NULL;
static rd_kafka_queue_t *producer_queue = NULL;
static int wake_pipe[2] = {-1, -1};

/*
 * Seconds a request may wait for its acknowledgement: message.timeout.ms less
 * HTTP_PRODUCER_ANSWER_MARGIN, so that the answer is on the wire within
 * message.timeout.ms of the request's first byte even on a loaded machine.
 */
#define HTTP_PRODUCER_ANSWER_MARGIN 0.5
static double answer_bound = 10.0 - HTTP_PRODUCER_ANSWER_MARGIN;
static long message_max_bytes = 1000000; /* the producer's message.max.bytes */
static bool broker_down = false;
static bool producer_fatal = false;
static char problem[256];

/* Delivery report: settle the record it belongs to. */
static void
HttpProducerDelivered(rd_kafka_t *rk, const rd_kafka_message_t *msg, void *opaque)
{
	HttpRecord *rec = msg->_private;

	if (msg->err == RD_KAFKA_RESP_ERR_NO_ERROR)
	{
		MetricsDelivery(true);
		broker_down = false;
		if (rec)
		{
			/* where it is: the REST APIs report it */
			rec->stored_partition = msg->partition;
			rec->stored_offset = msg->offset;
			HttpRecordDone(rec->req, rec, HTTP_REC_ACCEPTED, NULL);
		}
		return;
	}
	MetricsDelivery(false);
	if (msg->err == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE)
	{
		/* the broker's limit is below ours: a retry can never succeed */
		if (rec)
			HttpRecordDone(rec->req, rec, HTTP_REC_TOO_LARGE, HTTP_PRODUCER_TOO_LARGE);
		return;
	}
	if (msg->err == RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION && rec && rec->partition >= 0)
	{
		/* the client named a partition the topic does not have */
		HttpRecordDone(rec->req, rec, HTTP_REC_REFUSED, HTTP_PRODUCER_NO_PARTITION);
		return;
	}
	if (msg->err == RD_KAFKA_RESP_ERR__MSG_TIMED_OUT || msg->err == RD_KAFKA_RESP_ERR__TRANSPORT)
		broker_down = true;
	snprintf(problem, sizeof(problem), "Kafka delivery failed: %s", rd_kafka_err2str(msg->err));
	if (rec)
		HttpRecordDone(rec->req, rec, HTTP_REC_UNAVAILABLE,
					   "Kafka delivery failed; the pin was not stored, retry later");
}

/* Client-level errors: remember the broker state. */
static void
HttpProducerError(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
	if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN)
		broker_down = true;
	if (err == RD_KAFKA_RESP_ERR__FATAL)
	{
		char fatal[200];

		producer_fatal = true;
		rd_kafka_fatal_error(rk, fatal, sizeof(fatal));
		snprintf(problem, sizeof(problem), "Kafka producer fatal error: %s", fatal);
		return;
	}
	snprintf(problem, sizeof(problem), "Kafka: %s", reason ? reason : rd_kafka_err2str(err));
}

/* Statistics (once a second): a broker connection that is UP means we can produce again. */
static int
HttpProducerStats(rd_kafka_t *rk, char *json, size_t json_len, void *opaque)
{
	if (KafkaStatsBrokerUp(json))
		broker_down = false;
	return 0; /* librdkafka frees json */
}

bool
HttpProducerStart(char *errbuf, size_t errlen)
{
	rd_kafka_conf_t *conf;

	/* defaults (message.timeout.ms, linger.ms) and statistics: kafka_config.c */
	conf = KafkaConfigNew(KAFKA_ROLE_PRODUCER, "pinpipe-http", errbuf, errlen);
	if (conf == NULL)
		return false;
	/* the defaults (message.timeout.ms, linger.ms) are kafka_config.c's; read what is in force */
	{
		char cur[32];
		size_t sz = sizeof(cur);

		if (rd_kafka_conf_get(conf, "message.timeout.ms", cur, &sz) == RD_KAFKA_CONF_OK &&
			atof(cur) > 0)
			answer_bound = atof(cur) / 1000.0 - HTTP_PRODUCER_ANSWER_MARGIN;
		if (answer_bound < HTTP_PRODUCER_ANSWER_MARGIN)
			answer_bound = HTTP_PRODUCER_ANSWER_MARGIN;
	}
	{
		char cur[32];
		size_t sz = sizeof(cur);

		if (rd_kafka_conf_get(conf, "message.max.bytes", cur, &sz) == RD_KAFKA_CONF_OK &&
			atol(cur) > 0)
			message_max_bytes = atol(cur);
	}
	rd_kafka_conf_set_dr_msg_cb(conf, HttpProducerDelivered);
	rd_kafka_conf_set_error_cb(conf, HttpProducerError);
	rd_kafka_conf_set_stats_cb(conf, HttpProducerStats);

	producer = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errbuf, errlen);
	if (producer == NULL)
	{
		rd_kafka_conf_destroy(conf);
		return false;
	}
	producer_topic = rd_kafka_topic_new(producer, pinpipe_topic, NULL);
	if (producer_topic == NULL)
	{
		snprintf(errbuf, errlen, "cannot create topic handle: %s",
				 rd_kafka_err2str(rd_kafka_last_error()));
		HttpProducerStop(0);
		return false;
	}
	if (pipe(wake_pipe) != 0)
	{
		snprintf(errbuf, errlen, "cannot create pipe: %s", strerror(errno));
		HttpProducerStop(0);
		return false;
	}
	for (int i = 0; i < 2; i++)
	{
		fcntl(wake_pipe[i], F_SETFL, fcntl(wake_pipe[i], F_GETFL) | O_NONBLOCK);
		fcntl(wake_pipe[i], F_SETFD, FD_CLOEXEC);
	}
	producer_queue = rd_kafka_queue_get_main(producer);
	rd_kafka_queue_io_event_enable(producer_queue, wake_pipe[1], "1", 1);
	return true;
}

int
HttpProducerFd(void)
{
	return wake_pipe[0];
}

void
HttpProducerPoll(void)
{
	char buf[256];

	if (producer == NULL)
		return;
	/* Drain the wake-up bytes first, so an event arriving meanwhile writes a new one. */
	while (read(wake_pipe[0], buf, sizeof(buf)) > 0)
		;
	rd_kafka_poll(producer, 0);
}

bool
HttpProducerSend(HttpRequest *req, const char **reason)
{
	int produced = 0;
	rd_kafka_topic_t *rkt = producer_topic;
	bool ok = true;

	if (producer == NULL || producer_fatal)
	{
		*reason = "Kafka producer unavailable";
		return false;
	}
	/*
	 * A pin that can never fit is refused whatever the broker's state: a 503
	 * would only make the client retry it forever. (rd_kafka_produce checks the
	 * exact size with its framing overhead below.)
	 */
	for (int i = 0; i < req->nrecords; i++)
	{
		HttpRecord *rec = &req->records[i];

		if (rec->outcome == HTTP_REC_PENDING && (long) (rec->len + rec->keylen) > message_max_bytes)
			HttpRecordDone(req, rec, HTTP_REC_TOO_LARGE, HTTP_PRODUCER_TOO_LARGE);
	}
	if (req->pending == 0)
		return true; /* all settled: the request is readied */
	if (broker_down)
	{
		*reason = "Kafka broker unavailable; the pin was not stored, retry later";
		return false;
	}
	/* a request naming its topic (the REST APIs): librdkafka keeps one handle per topic */
	if (req->topic != NULL && strcmp(req->topic, pinpipe_topic) != 0)
	{
		rkt = rd_kafka_topic_new(producer, req->topic, NULL);
		if (rkt == NULL)
		{
			*reason = "Kafka produce failed: invalid topic; the record was not stored";
			return false;
		}
	}
	for (int i = 0; i < req->nrecords; i++)
	{
		HttpRecord *rec = &req->records[i];
		rd_kafka_resp_err_t err;

		if (rec->outcome != HTTP_REC_PENDING)
			continue;
		if (rd_kafka_produce(rkt, rec->partition >= 0 ? rec->partition : RD_KAFKA_PARTITION_UA,
							 RD_KAFKA_MSG_F_COPY, (void *) rec->data, rec->len, rec->key,
							 rec->keylen, rec) == 0)
		{
			produced++;
			continue;
		}
		err = rd_kafka_last_error();
		if (err == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE)
		{
			/* settled now; the request is readied once nothing else is pending */
			HttpRecordDone(req, rec, HTTP_REC_TOO_LARGE, HTTP_PRODUCER_TOO_LARGE);
			continue;
		}
		if (err == RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION && rec->partition >= 0)
		{
			HttpRecordDone(req, rec, HTTP_REC_REFUSED, HTTP_PRODUCER_NO_PARTITION);
			continue;
		}
		*reason = err == RD_KAFKA_RESP_ERR__QUEUE_FULL
					  ? "Kafka produce queue full; the pin was not stored, retry later"
					  : "Kafka produce failed; the pin was not stored, retry later";
		if (produced == 0)
		{
			ok = false;
			break;
		}
		/* Part of the request is on its way: settle the rest as unavailable (503). */
		for (int j = i; j < req->nrecords; j++)
			if (req->records[j].outcome == HTTP_REC_PENDING)
			{
				req->records[j].outcome = HTTP_REC_UNAVAILABLE;
				req->unavailable++;
				req->pending--;
			}
		if (req->unavailable_reason == NULL)
			req->unavailable_reason = *reason;
		break;
	}
	if (rkt != producer_topic)
		rd_kafka_topic_destroy(rkt);
	return ok;
}

const char *
HttpProducerProblem(void)
{
	if (producer == NULL)
		return "Kafka producer not started";
	if (producer_fatal)
		return problem;
	if (broker_down)
		return "Kafka broker unavailable";
	return NULL;
}

bool
HttpProducerFatal(void)
{
	return producer_fatal;
}

double
HttpProducerAnswerBound(void)
{
	return answer_bound;
}

int64_t
HttpProducerQueueDepth(void)
{
	return producer ? rd_kafka_outq_len(producer) : 0;
}

void
HttpProducerStop(int timeout_ms)
{
	if (producer != NULL)
	{
		if (timeout_ms > 0)
			rd_kafka_flush(producer, timeout_ms);
		rd_kafka_purge(producer, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
		rd_kafka_poll(producer, 0);
	}
	if (producer_queue != NULL)
	{
		rd_kafka_queue_io_event_enable(producer_queue, -1, NULL, 0);
		rd_kafka_queue_destroy(producer_queue);
		producer_queue = NULL;
	}
	if (producer_topic != NULL)
	{
		rd_kafka_topic_destroy(producer_topic);
		producer_topic = NULL;
	}
	if (producer != NULL)
	{
		rd_kafka_destroy(producer);
		producer = NULL;
	}
	for (int i = 0; i < 2; i++)
		if (wake_pipe[i] >= 0)
		{
			close(wake_pipe[i]);
			wake_pipe[i] = -1;
		}
}
