/*
 * kafka_consumer.h — the Kafka consumer background workers (DESIGN §6).
 */
#ifndef KAFKA_CONSUMER_H
#define KAFKA_CONSUMER_H

#include "postgres.h"

/* Called from _PG_init while preloading: registers the consumer workers. */
extern void ConsumerInit(void);

/* Background worker entry point; main_arg is the worker's number. */
extern PGDLLEXPORT void pinpipe_consumer_main(Datum main_arg);

#endif /* KAFKA_CONSUMER_H */
