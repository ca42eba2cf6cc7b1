/*
 * pinpipe.c — module entry point. _PG_init only calls each module's init.
 *
 * The SQL functions work whether or not the library is preloaded; the background
 * workers (and the shared memory they report into) exist only when pinpipe is in
 * shared_preload_libraries.
 */
#include "postgres.h"

#include "fmgr.h"
#include "miscadmin.h"

#include "guc.h"
#include "http_worker.h"
#include "kafka_consumer.h"
#include "worker_common.h"
#include "worker_status.h"

PG_MODULE_MAGIC;

extern PGDLLEXPORT void _PG_init(void);

void
_PG_init(void)
{
	GucInit();

	if (!process_shared_preload_libraries_in_progress)
		return;

	/* Workers and their shared memory: registered by the worker modules. */
	WorkerStatusInit();
	WorkerCommonInit();
	ConsumerInit();
	HttpInit();
}
