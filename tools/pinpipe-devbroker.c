/*
 * pinpipe-devbroker — a Kafka-protocol development broker and a bulk producer.
 *
 * Broker mode (default): starts librdkafka's mock cluster (rdkafka_mock.h), a
 * real Kafka-protocol broker set living in this process, creates the topic,
 * prints the bootstrap address on stdout (one line) and runs until SIGTERM or
 * SIGINT. SIGUSR1 takes every broker down, SIGUSR2 brings them back up, so
 * tests can simulate outages. Messages are kept in memory.
 *
 *   pinpipe-devbroker [--brokers N] [--topic T] [--partitions N] [--direct]
 *
 * The printed address is that of a small Kafka-protocol proxy in front of the
 * mock (devbroker/dev_proxy.c), not of the mock itself: the mock of librdkafka
 * 2.0.2 names a controller that does not exist (node 0) and cannot create
 * topics on request, which breaks clients other than librdkafka (kafkajs's
 * idempotent producer and admin client, kafka-python's admin client). The proxy
 * names a real broker as controller and answers CreateTopics through
 * rd_kafka_mock_topic_create; everything else passes through unchanged.
 * Topics created without a partition count get --partitions partitions.
 * --direct prints the mock's own address instead and starts no proxy: for
 * librdkafka clients only, it spares each request and response two hops and the
 * proxy's CPU (bench/bench_latency.sh measures latency that way).
 *
 * Note: the mock cluster retains only about 5 MB of (compressed) message sets
 * per partition and drops older ones, as retention would. Producers of large
 * backlogs use more partitions or pace themselves against the consumer.
 *
 * Producer mode: sends every line of a file (or stdin, "-") as one message to
 * a broker (the dev broker or a real one), waits for all acknowledgements and
 * exits non-zero if any message failed. Prints the count of delivered messages.
 *
 *   pinpipe-devbroker --produce FILE --bootstrap HOST:PORT [--topic T]
 *                     [--partition P | --partitions N]
 *
 * --partitions N spreads the lines round-robin over partitions 0..N-1; by
 * default librdkafka's partitioner picks.
 *
 * Signal handlers only set flags; the main thread does the librdkafka calls.
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "dev_proxy.h"

static volatile sig_atomic_t stop_requested = 0;
static volatile sig_atomic_t down_requested = 0;
static volatile sig_atomic_t up_requested = 0;
static long delivered = 0;
static long failed = 0;
static char first_error[512];

static void
HandleStop(int signo)
{
	(void) signo;
	stop_requested = 1;
}

static void
HandleDown(int signo)
{
	(void) signo;
	down_requested = 1;
}

static void
HandleUp(int signo)
{
	(void) signo;
	up_requested = 1;
}

static void
Usage(void)
{
	fprintf(stderr,
			"usage: pinpipe-devbroker [--brokers N] [--topic T] [--partitions N] [--direct]\n"
			"       pinpipe-devbroker --produce FILE --bootstrap HOST:PORT [--topic T] "
			"[--partition P | --partitions N]\n");
	exit(2);
}

/* What the proxy's CreateTopics answers need to know. */
typedef struct DevCluster
{
	rd_kafka_mock_cluster_t *mc;
	int nbrokers;
	int npartitions;
} DevCluster;

/* Kafka's rule for topic names: up to 249 of [a-zA-Z0-9._-], not "." or "..". */
static bool
TopicNameValid(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n > 249 || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return false;
	return strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == n;
}

/* One topic of a CreateTopics request (a WireCreateTopic): Kafka's checks, then the mock. */
static int16_t
CreateTopic(void *arg, const char *name, int32_t partitions, int16_t replication,
			bool validate_only, const char **message)
{
	DevCluster *dc = arg;
	rd_kafka_resp_err_t err;

	if (partitions == -1)
		partitions = dc->npartitions;
	if (replication == -1)
		replication = (int16_t) (dc->nbrokers < 3 ? dc->nbrokers : 3);
	if (!TopicNameValid(name))
	{
		*message = "Topic names are 1 to 249 characters of [a-zA-Z0-9._-].";
		return RD_KAFKA_RESP_ERR_TOPIC_EXCEPTION;
	}
	if (partitions < 1)
	{
		*message = "Number of partitions must be larger than 0.";
		return RD_KAFKA_RESP_ERR_INVALID_PARTITIONS;
	}
	if (replication < 1 || replication > dc->nbrokers)
	{
		*message = "Replication factor must be between 1 and the number of brokers.";
		return RD_KAFKA_RESP_ERR_INVALID_REPLICATION_FACTOR;
	}
	/* The mock has no way to ask whether a topic exists: validation stops here. */
	if (validate_only)
		return 0;
	err = rd_kafka_mock_topic_create(dc->mc, name, partitions, replication);
	if (err == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS)
		*message = "Topic already exists.";
	else if (err)
		*message = rd_kafka_err2str(err);
	else
		fprintf(stderr, "pinpipe-devbroker: created topic %s (%d partitions)\n", name, partitions);
	return (int16_t) err;
}

/* Runs the mock cluster behind its proxy until asked to stop. */
static int
RunBroker(int nbrokers, const char *topic, int npartitions, bool direct)
{
	char errstr[512];
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	rd_kafka_t *rk;
	rd_kafka_mock_cluster_t *mc;
	rd_kafka_resp_err_t err;
	struct sigaction sa;
	DevCluster dc;
	Proxy *proxy = NULL;

	/* The mock cluster needs a client handle to live in; its logs go to stderr. */
	rd_kafka_conf_set(conf, "log_level", "3", errstr, sizeof(errstr));
	rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
	if (rk == NULL)
	{
		fprintf(stderr, "pinpipe-devbroker: %s\n", errstr);
		return 1;
	}
	mc = rd_kafka_mock_cluster_new(rk, nbrokers);
	if (mc == NULL)
	{
		fprintf(stderr, "pinpipe-devbroker: could not start the mock cluster\n");
		return 1;
	}
	err = rd_kafka_mock_topic_create(mc, topic, npartitions, nbrokers < 3 ? nbrokers : 3);
	if (err)
	{
		fprintf(stderr, "pinpipe-devbroker: creating topic %s: %s\n", topic, rd_kafka_err2str(err));
		return 1;
	}

	dc.mc = mc;
	dc.nbrokers = nbrokers;
	dc.npartitions = npartitions;
	if (!direct && (proxy = ProxyStart(rd_kafka_mock_cluster_bootstraps(mc), CreateTopic, &dc,
									   errstr, sizeof(errstr))) == NULL)
	{
		fprintf(stderr, "pinpipe-devbroker: proxy: %s\n", errstr);
		return 1;
	}

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = HandleStop;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = HandleDown;
	sigaction(SIGUSR1, &sa, NULL);
	sa.sa_handler = HandleUp;
	sigaction(SIGUSR2, &sa, NULL);

	printf("%s\n", proxy ? ProxyBootstraps(proxy) : rd_kafka_mock_cluster_bootstraps(mc));
	fflush(stdout);

	while (!stop_requested)
	{
		if (down_requested || up_requested)
		{
			int down = down_requested;

			down_requested = up_requested = 0;
			for (int b = 1; b <= nbrokers; b++)
			{
				if (down)
					rd_kafka_mock_broker_set_down(mc, b);
				else
					rd_kafka_mock_broker_set_up(mc, b);
			}
			if (proxy)
				ProxySetDown(proxy, down);
			fprintf(stderr, "pinpipe-devbroker: brokers %s\n", down ? "down" : "up");
		}
		/* Woken early by any signal (EINTR); the flags are checked at least every 100 ms. */
		if (proxy)
			ProxyPoll(proxy, 100);
		else
			poll(NULL, 0, 100);
	}
	if (proxy)
		ProxyStop(proxy);
	rd_kafka_mock_cluster_destroy(mc);
	rd_kafka_destroy(rk);
	return 0;
}

/* Delivery report: counts outcomes (runs inside rd_kafka_poll on this thread). */
static void
OnDelivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
	(void) rk;
	(void) opaque;
	if (m->err)
	{
		if (failed++ == 0)
			snprintf(first_error, sizeof(first_error), "%s", rd_kafka_err2str(m->err));
	}
	else
		delivered++;
}

/* Produces every line of path; returns the exit status. */
static int
RunProducer(const char *path, const char *bootstrap, const char *topic, int partition, int spread)
{
	char errstr[512];
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	rd_kafka_t *rk;
	FILE *f;
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	long sent = 0;
	static const char *props[][2] = {
		{"enable.idempotence", "true"},
		{"acks", "all"},
		{"linger.ms", "20"},
		{"batch.num.messages", "10000"},
		{"queue.buffering.max.messages", "1000000"},
		{"queue.buffering.max.kbytes", "1048576"},
		{"message.max.bytes", "10000000"},
		/*
		 * The mock cluster keeps only about 5 MB of message sets per partition
		 * (older ones are dropped, like retention); compressed sets hold 3-4x
		 * more pins.
		 */
		{"compression.type", "zstd"},
		{"log_level", "3"},
	};

	if (bootstrap == NULL)
		Usage();
	for (size_t i = 0; i < sizeof(props) / sizeof(props[0]); i++)
		if (rd_kafka_conf_set(conf, props[i][0], props[i][1], errstr, sizeof(errstr)) !=
			RD_KAFKA_CONF_OK)
		{
			fprintf(stderr, "pinpipe-devbroker: %s\n", errstr);
			return 1;
		}
	rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap, errstr, sizeof(errstr));
	rd_kafka_conf_set_dr_msg_cb(conf, OnDelivery);
	rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
	if (rk == NULL)
	{
		fprintf(stderr, "pinpipe-devbroker: %s\n", errstr);
		return 1;
	}
	f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
	if (f == NULL)
	{
		fprintf(stderr, "pinpipe-devbroker: %s: %s\n", path, strerror(errno));
		return 1;
	}
	while ((n = getline(&line, &cap, f)) >= 0)
	{
		if (n > 0 && line[n - 1] == '\n')
			n--;
		for (;;)
		{
			rd_kafka_resp_err_t err;

			err = rd_kafka_producev(
				rk, RD_KAFKA_V_TOPIC(topic),
				RD_KAFKA_V_PARTITION(spread > 0 ? (int) (sent % spread) : partition),
				RD_KAFKA_V_VALUE(line, (size_t) n), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
				RD_KAFKA_V_END);
			if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL)
			{
				rd_kafka_poll(rk, 100);
				continue;
			}
			if (err)
			{
				fprintf(stderr, "pinpipe-devbroker: produce: %s\n", rd_kafka_err2str(err));
				return 1;
			}
			break;
		}
		sent++;
		rd_kafka_poll(rk, 0);
	}
	free(line);
	if (f != stdin)
		fclose(f);
	while (rd_kafka_outq_len(rk) > 0)
		rd_kafka_poll(rk, 100);
	rd_kafka_destroy(rk);
	printf("%ld\n", delivered);
	if (failed > 0 || delivered != sent)
	{
		fprintf(stderr, "pinpipe-devbroker: %ld of %ld messages failed (%s)\n", failed, sent,
				first_error);
		return 1;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {{"brokers", required_argument, NULL, 'b'},
										 {"topic", required_argument, NULL, 't'},
										 {"partitions", required_argument, NULL, 'p'},
										 {"produce", required_argument, NULL, 'P'},
										 {"bootstrap", required_argument, NULL, 'B'},
										 {"partition", required_argument, NULL, 'k'},
										 {"direct", no_argument, NULL, 'd'},
										 {"help", no_argument, NULL, 'h'},
										 {NULL, 0, NULL, 0}};
	int nbrokers = 1;
	int npartitions = 4;
	int partition = RD_KAFKA_PARTITION_UA;
	int spread = 0;
	const char *topic = "pinterest.pins";
	const char *produce = NULL;
	const char *bootstrap = NULL;
	bool direct = false;
	int c;

	while ((c = getopt_long(argc, argv, "b:t:p:P:B:k:dh", opts, NULL)) != -1)
	{
		switch (c)
		{
			case 'b':
				nbrokers = atoi(optarg);
				break;
			case 't':
				topic = optarg;
				break;
			case 'p':
				npartitions = atoi(optarg);
				spread = npartitions;
				break;
			case 'P':
				produce = optarg;
				break;
			case 'B':
				bootstrap = optarg;
				break;
			case 'k':
				partition = atoi(optarg);
				break;
			case 'd':
				direct = true;
				break;
			default:
				Usage();
		}
	}
	if (optind != argc || nbrokers < 1 || nbrokers > 16 || npartitions < 1)
		Usage();
	if (produce)
		return RunProducer(produce, bootstrap, topic, partition, spread);
	return RunBroker(nbrokers, topic, npartitions, direct);
}
