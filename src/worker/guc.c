/*
 * guc.c — defines every pinpipe.* setting (DESIGN §6) and reserves the prefix.
 *
 * Settings that shape which workers exist or what they listen on are
 * PGC_POSTMASTER; the rest are PGC_SIGHUP and picked up by the workers on reload.
 * PostgreSQL only lets a library define PGC_POSTMASTER settings while it is
 * preloaded; loaded later (SQL functions only, no workers), those are defined as
 * PGC_SIGHUP instead, so SHOW still works and nothing can change a worker.
 */
#include "postgres.h"

#include "miscadmin.h"
#include "utils/guc.h"

#include "guc.h"
#include "kafka_config.h"

char *pinpipe_database = NULL;
char *pinpipe_kafka_brokers = NULL;
char *pinpipe_topic = NULL;
char *pinpipe_geo_topic = NULL;
char *pinpipe_user_topic = NULL;
char *pinpipe_consumer_group = NULL;
char *pinpipe_kafka_config = NULL;
int pinpipe_consumer_workers = 1;
int pinpipe_start_offset = PINPIPE_START_EARLIEST;
int pinpipe_batch_size = 5000;
int pinpipe_batch_timeout_ms = 1;
int pinpipe_max_message_bytes = 1024 * 1024;
int pinpipe_offset_out_of_range = PINPIPE_OOR_EARLIEST;

int pinpipe_http_port = 8000;
char *pinpipe_http_listen_addresses = NULL;
char *pinpipe_http_auth_token = NULL;
int pinpipe_http_max_body = 16 * 1024 * 1024;
int pinpipe_http_max_connections = 256;
int pinpipe_http_max_connections_per_client = 64;
int pinpipe_http_timeout = 30;

static const struct config_enum_entry start_offset_options[] = {
	{"earliest", PINPIPE_START_EARLIEST, false},
	{"latest", PINPIPE_START_LATEST, false},
	{NULL, 0, false}};

static const struct config_enum_entry offset_out_of_range_options[] = {
	{"earliest", PINPIPE_OOR_EARLIEST, false},
	{"latest", PINPIPE_OOR_LATEST, false},
	{"pause", PINPIPE_OOR_PAUSE, false},
	{NULL, 0, false}};

/* pinpipe.kafka_config: comma-separated librdkafka key=value pairs (kafka_config.c reads them). */
static bool
CheckKafkaConfig(char **newval, void **extra, GucSource source)
{
	char errstr[512];

	if (!KafkaConfigParse(*newval, NULL, NULL, errstr, sizeof(errstr)))
	{
		GUC_check_errdetail("%s", errstr);
		return false;
	}
	return true;
}

/* Topic and group names must be non-empty (Kafka rejects empty ones). */
static bool
CheckNonEmpty(char **newval, void **extra, GucSource source)
{
	if (*newval == NULL || (*newval)[0] == '\0')
	{
		GUC_check_errdetail("The value must not be empty.");
		return false;
	}
	return true;
}

void
GucInit(void)
{
	GucContext startup = process_shared_preload_libraries_in_progress ? PGC_POSTMASTER : PGC_SIGHUP;

	DefineCustomStringVariable("pinpipe.database", "Database the pinpipe workers connect to.",
							   "The pinpipe extension must be created in this database.",
							   &pinpipe_database, "postgres", startup, 0, NULL, NULL, NULL);

	DefineCustomStringVariable(
		"pinpipe.kafka_brokers",
		"Kafka bootstrap servers (host:port,...); empty runs the pipeline without Kafka.",
		"When set, the consumer workers read the streams' topics and the HTTP worker produces "
		"pins to pinpipe.topic; when empty (the default) the HTTP worker writes straight into the "
		"tables.",
		&pinpipe_kafka_brokers, "", startup, 0, NULL, NULL, NULL);

	DefineCustomStringVariable("pinpipe.topic", "Kafka topic carrying pins.",
							   "Topics named *.pin carry pins too (docs/kafka.md, \"Routing\").",
							   &pinpipe_topic, "pinterest.pins", startup, 0, CheckNonEmpty, NULL,
							   NULL);

	DefineCustomStringVariable("pinpipe.geo_topic", "Kafka topic carrying geolocation records.",
							   "Topics named *.geo carry them too.", &pinpipe_geo_topic,
							   "pinterest.geo", startup, 0, CheckNonEmpty, NULL, NULL);

	DefineCustomStringVariable("pinpipe.user_topic", "Kafka topic carrying user records.",
							   "Topics named *.user carry them too.", &pinpipe_user_topic,
							   "pinterest.user", startup, 0, CheckNonEmpty, NULL, NULL);

	DefineCustomStringVariable(
		"pinpipe.consumer_group", "Kafka consumer group of the consumer workers.",
		"Offsets are stored per group in pinpipe.kafka_offsets.", &pinpipe_consumer_group,
		"pinpipe", startup, 0, CheckNonEmpty, NULL, NULL);

	DefineCustomStringVariable(
		"pinpipe.kafka_config", "Extra librdkafka properties, as comma-separated key=value pairs.",
		"Passed to both the consumer and the producer, e.g. "
		"security.protocol=SASL_SSL,sasl.mechanism=PLAIN. "
		"Superuser-only because it may hold credentials.",
		&pinpipe_kafka_config, "", startup, GUC_SUPERUSER_ONLY, CheckKafkaConfig, NULL, NULL);

	DefineCustomIntVariable(
		"pinpipe.consumer_workers", "Number of Kafka consumer background workers.",
		"They join one consumer group and share the partitions of the streams' topics.",
		&pinpipe_consumer_workers, 1, 0, 64, startup, 0, NULL, NULL, NULL);

	DefineCustomEnumVariable(
		"pinpipe.start_offset", "Where a consumer starts in a partition that has no stored offset.",
		"earliest reads the whole retained log; latest only new messages.", &pinpipe_start_offset,
		PINPIPE_START_EARLIEST, start_offset_options, PGC_SIGHUP, 0, NULL, NULL, NULL);

	DefineCustomEnumVariable(
		"pinpipe.offset_out_of_range",
		"What a consumer does when a stored offset is outside the partition's log.",
		"earliest continues at the log start, latest at its end (both record the "
		"skipped range in pinpipe.kafka_gaps); pause stops that partition until "
		"pinpipe.reset_offsets() moves its offset.",
		&pinpipe_offset_out_of_range, PINPIPE_OOR_EARLIEST, offset_out_of_range_options, PGC_SIGHUP,
		0, NULL, NULL, NULL);

	DefineCustomIntVariable("pinpipe.batch_size",
							"Most messages written in one consumer transaction.", NULL,
							&pinpipe_batch_size, 5000, 1, 1000000, PGC_SIGHUP, 0, NULL, NULL, NULL);

	DefineCustomIntVariable("pinpipe.batch_timeout_ms",
							"Longest a consumer waits to fill a batch before writing what it has.",
							NULL, &pinpipe_batch_timeout_ms, 1, 1, 60000, PGC_SIGHUP, GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomIntVariable("pinpipe.http_port",
							"TCP port of the HTTP ingestion worker; 0 turns it off.", NULL,
							&pinpipe_http_port, 8000, 0, 65535, startup, 0, NULL, NULL, NULL);

	DefineCustomStringVariable("pinpipe.http_listen_addresses",
							   "Addresses the HTTP worker listens on (comma-separated; * for all).",
							   NULL, &pinpipe_http_listen_addresses, "127.0.0.1", startup, 0, NULL,
							   NULL, NULL);

	DefineCustomStringVariable(
		"pinpipe.http_auth_token",
		"Bearer token required by the HTTP worker; empty means no authentication.", NULL,
		&pinpipe_http_auth_token, "", PGC_SIGHUP, GUC_SUPERUSER_ONLY, NULL, NULL, NULL);

	DefineCustomIntVariable("pinpipe.http_max_body",
							"Largest request body the HTTP worker accepts (413 above).", NULL,
							&pinpipe_http_max_body, 16 * 1024 * 1024, 1024, 1024 * 1024 * 1024,
							PGC_SIGHUP, GUC_UNIT_BYTE, NULL, NULL, NULL);

	DefineCustomIntVariable("pinpipe.http_max_connections", "Most concurrent HTTP connections.",
							NULL, &pinpipe_http_max_connections, 256, 1, 65535, startup, 0, NULL,
							NULL, NULL);

	DefineCustomIntVariable("pinpipe.http_max_connections_per_client",
							"Most concurrent HTTP connections from one client address.",
							"At the limit the client's oldest idle connection is closed; with none "
							"idle, the new connection is answered 503.",
							&pinpipe_http_max_connections_per_client, 64, 1, 65535, startup, 0,
							NULL, NULL, NULL);

	DefineCustomIntVariable(
		"pinpipe.http_timeout",
		"Idle time after which an HTTP connection is closed; also the deadline for a request's "
		"header and for its body.",
		"A connection idle this long is closed; a request's header must be complete within this "
		"time of the connection opening or of its previous request, and its body within this "
		"time of the header, however slowly the client sends.",
		&pinpipe_http_timeout, 30, 1, 3600, startup, GUC_UNIT_S, NULL, NULL, NULL);

	DefineCustomIntVariable(
		"pinpipe.max_message_bytes",
		"Largest Kafka message the consumer accepts; larger ones are dead-lettered.",
		"The dead letter keeps the message's first kilobyte in payload_bytes.",
		&pinpipe_max_message_bytes, 1024 * 1024, 1024, 256 * 1024 * 1024, PGC_SIGHUP, GUC_UNIT_BYTE,
		NULL, NULL, NULL);

	MarkGUCPrefixReserved("pinpipe");
}

bool
GucKafkaEnabled(void)
{
	return pinpipe_kafka_brokers != NULL && pinpipe_kafka_brokers[0] != '\0';
}
