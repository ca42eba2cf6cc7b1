/*
 * http_worker.h — the HTTP ingestion background worker (DESIGN §6, §7, §8).
 */
#ifndef HTTP_WORKER_H
#define HTTP_WORKER_H

#include "postgres.h"

/* Called from _PG_init while preloading: registers the worker when pinpipe.http_port > 0. */
extern void HttpInit(void);

/* Background worker entry point. */
extern PGDLLEXPORT void pinpipe_http_main(Datum main_arg);

#endif /* HTTP_WORKER_H */
