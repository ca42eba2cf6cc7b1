/*
 * worker_common.h — what every pinpipe background worker shares: registration,
 * signals and the exit policy, the database connection and its readiness, the
 * transaction bracket with error recovery, and retry backoff.
 *
 * Exit policy (the postmaster's restart rules): a worker that exits 0 is
 * unregistered for good, one that exits 1 is started again after
 * WORKER_RESTART_SECONDS. Only a SIGTERM sent by the postmaster itself (a
 * server shutdown) ends a pinpipe worker with 0; a SIGTERM from anyone else
 * (pg_terminate_backend, DROP DATABASE ... WITH (FORCE)) and every other stop
 * ends it with 1, and is logged with its reason.
 */
#ifndef WORKER_COMMON_H
#define WORKER_COMMON_H

#include "postgres.h"

#include "datatype/timestamp.h"

#include "pg_compat.h"

#define WORKER_RESTART_SECONDS 5
#define WORKER_BACKOFF_MIN_MS 100
#define WORKER_BACKOFF_MAX_MS 30000
#define WORKER_DB_CHECK_MS 5000 /* recheck of a missing database or extension */
#define WORKER_PROBLEM_LEN 256

/* Called from _PG_init while preloading: the shared flag of WorkerConnect. */
extern void WorkerCommonInit(void);

/* Register a static worker "pinpipe <kind> <number>" of type "pinpipe <kind>". */
extern void WorkerRegister(const char *kind, int number, const char *function);

/*
 * Signals: SIGHUP reloads the configuration; SIGTERM (its sender noted)
 * either only asks the loop to stop (graceful: the loop finishes its work and
 * calls WorkerExit) or also cancels a running query (die: any
 * CHECK_FOR_INTERRUPTS ends the process with FATAL, exit code 1).
 */
extern void WorkerSignals(bool graceful);

/* Has a SIGTERM arrived? */
extern bool WorkerStopRequested(void);

/*
 * Once per loop iteration, after the wait: stop if asked (non-graceful
 * workers), serve interrupts, reload the configuration. True if it reloaded.
 */
extern bool WorkerServiceInterrupts(const char *who);

/* End the process by the exit policy above (after a SIGTERM, or at the end of main). */
extern void WorkerExit(const char *who) pg_attribute_noreturn();

/* End the process with code 1 so that the postmaster starts it again; logs why. */
extern void WorkerExitToRestart(const char *who, const char *why) pg_attribute_noreturn();

/*
 * Connect to pinpipe.database, or to no database at all when the last attempt
 * found it missing (a shared flag). Connecting is possible once per process:
 * a worker without a database reads pg_database (WorkerCheckDatabase) and,
 * once the database exists, exits to be restarted connected to it. A failed
 * connection (the database does not exist) sets the flag on its way out, so
 * the next start waits without a database instead of failing again.
 */
extern void WorkerConnect(bool need_database);

typedef enum WorkerDbState
{
	WORKER_DB_READY,		/* connected, extension installed */
	WORKER_DB_NO_EXTENSION, /* connected, extension missing */
	WORKER_DB_MISSING,		/* not connected: pinpipe.database does not exist (or refuses) */
	WORKER_DB_APPEARED,		/* not connected: the database exists now; restart to connect */
	WORKER_DB_ERROR			/* the check itself failed (problem says why) */
} WorkerDbState;

/* Check the database side in a short transaction of its own; never throws. */
extern WorkerDbState WorkerCheckDatabase(char *problem, size_t len);

/* Transaction bracket: statement time, transaction, [SPI], snapshot, activity. */
extern void WorkerTxBegin(const char *activity, bool spi);
extern void WorkerTxCommit(bool spi);

/*
 * Run fn(arg); if it throws, roll back whatever transaction is open, flush the
 * error state and return a copy of the error (allocated in errcxt), else NULL.
 * The caller's memory context is current again on return either way.
 */
extern ErrorData *WorkerTry(void (*fn)(void *arg), void *arg, MemoryContext errcxt);

/* Exponential retry backoff, WORKER_BACKOFF_MIN_MS doubling up to _MAX_MS. */
typedef struct WorkerBackoff
{
	int ms;				  /* last delay; 0 = no failure pending */
	TimestampTz retry_at; /* 0 = not waiting */
} WorkerBackoff;

/* Count a failure: schedule the retry, return the delay in ms. */
extern int WorkerBackoffFailed(WorkerBackoff *b);
extern void WorkerBackoffReset(WorkerBackoff *b);

/* Is a retry scheduled and not yet due? */
extern bool WorkerBackoffWaiting(const WorkerBackoff *b);

/* Milliseconds until t (at least 0). */
extern long WorkerMsUntil(TimestampTz t);

#endif /* WORKER_COMMON_H */
