/*
 * worker_common.c — the parts every pinpipe background worker shares
 * (worker_common.h): registration, signals and exit policy, connection and
 * database readiness, the transaction bracket, backoff.
 *
 * Concurrency: one shared word, database_missing, read and written with
 * atomics by any worker (set when a connection attempt failed, cleared when a
 * worker without a database sees the database exist again). Everything else
 * here is process-local.
 */
#include "postgres.h"

#include <signal.h>

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/pg_database.h"
#include "commands/dbcommands.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "port/atomics.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "tcop/tcopprot.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "guc.h"
#include "sink.h"
#include "worker_common.h"

typedef struct WorkerCommonShared
{
	pg_atomic_uint32 database_missing; /* 1: connect to no database and wait */
} WorkerCommonShared;

static WorkerCommonShared *worker_common_shared = NULL;
static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

static bool stop_graceful = true;
static volatile sig_atomic_t term_sender = 0; /* pid that sent the last SIGTERM */
static volatile sig_atomic_t term_received = false;
static bool connecting = false; /* inside BackgroundWorkerInitializeConnection */
static bool has_database = false;

/* Reserve the shared word (PG15: only allowed from shmem_request_hook). */
static void
WorkerCommonShmemRequest(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(MAXALIGN(sizeof(WorkerCommonShared)));
}

/* Attach to (or create) the shared word. */
static void
WorkerCommonShmemStartup(void)
{
	bool found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	worker_common_shared =
		ShmemInitStruct("pinpipe worker common", sizeof(WorkerCommonShared), &found);
	if (!found)
		pg_atomic_init_u32(&worker_common_shared->database_missing, 0);
	LWLockRelease(AddinShmemInitLock);
}

void
WorkerCommonInit(void)
{
	if (!process_shared_preload_libraries_in_progress)
		return;
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = WorkerCommonShmemRequest;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = WorkerCommonShmemStartup;
}

void
WorkerRegister(const char *kind, int number, const char *function)
{
	BackgroundWorker bgw;

	memset(&bgw, 0, sizeof(bgw));
	bgw.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	bgw.bgw_start_time = BgWorkerStart_RecoveryFinished;
	bgw.bgw_restart_time = WORKER_RESTART_SECONDS;
	snprintf(bgw.bgw_library_name, BGW_MAXLEN, "pinpipe");
	snprintf(bgw.bgw_function_name, BGW_MAXLEN, "%s", function);
	snprintf(bgw.bgw_name, BGW_MAXLEN, "pinpipe %s %d", kind, number);
	snprintf(bgw.bgw_type, BGW_MAXLEN, "pinpipe %s", kind);
	bgw.bgw_main_arg = Int32GetDatum(number);
	RegisterBackgroundWorker(&bgw);
}

/* SIGTERM: note who sent it (the postmaster means a server shutdown), then stop. */
static void
WorkerOnSigterm(int signo, siginfo_t *info, void *context)
{
	term_sender = info ? (sig_atomic_t) info->si_pid : 0;
	term_received = true;
	if (stop_graceful)
		SignalHandlerForShutdownRequest(signo);
	else
		die(signo);
}

void
WorkerSignals(bool graceful)
{
	struct sigaction act;

	stop_graceful = graceful;
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	/* pqsignal cannot ask for the sender's pid: SA_SIGINFO by hand */
	memset(&act, 0, sizeof(act));
	act.sa_sigaction = WorkerOnSigterm;
	sigemptyset(&act.sa_mask);
	act.sa_flags = SA_SIGINFO | SA_RESTART;
	if (sigaction(SIGTERM, &act, NULL) != 0)
		elog(FATAL, "could not install the SIGTERM handler: %m");
	pqsignal(SIGPIPE, SIG_IGN);
	BackgroundWorkerUnblockSignals();
}

bool
WorkerStopRequested(void)
{
	return term_received;
}

bool
WorkerServiceInterrupts(const char *who)
{
	if (term_received && !stop_graceful)
		WorkerExit(who);
	CHECK_FOR_INTERRUPTS();
	if (!ConfigReloadPending)
		return false;
	ConfigReloadPending = false;
	ProcessConfigFile(PGC_SIGHUP);
	return true;
}

void
WorkerExit(const char *who)
{
	/* a pending die() would turn the log line below into a FATAL of its own */
	HOLD_INTERRUPTS();
	if (term_received && term_sender == PostmasterPid)
		proc_exit(0); /* server shutdown: the postmaster logs it */
	if (term_received)
		ereport(LOG, (errmsg("%s terminated by process %d, restarting in %d s", who,
							 (int) term_sender, WORKER_RESTART_SECONDS),
					  errdetail("A SIGTERM not sent by the postmaster (pg_terminate_backend, DROP "
								"DATABASE ... WITH (FORCE)) restarts a pinpipe worker.")));
	else
		ereport(LOG, (errmsg("%s stopped, restarting in %d s", who, WORKER_RESTART_SECONDS)));
	proc_exit(1);
}

void
WorkerExitToRestart(const char *who, const char *why)
{
	HOLD_INTERRUPTS();
	ereport(LOG, (errmsg("%s restarting in %d s: %s", who, WORKER_RESTART_SECONDS, why)));
	proc_exit(1);
}

/* Leaving while the connection was being set up: the database is missing (or refuses us). */
static void
WorkerConnectFailed(int code, Datum arg)
{
	if (connecting && worker_common_shared != NULL)
		pg_atomic_write_u32(&worker_common_shared->database_missing, 1);
}

void
WorkerConnect(bool need_database)
{
	bool missing = worker_common_shared != NULL &&
				   pg_atomic_read_u32(&worker_common_shared->database_missing) != 0;

	if (!need_database || missing)
	{
		BackgroundWorkerInitializeConnection(NULL, NULL, 0);
		has_database = false;
		return;
	}
	before_shmem_exit(WorkerConnectFailed, (Datum) 0);
	connecting = true;
	BackgroundWorkerInitializeConnection(pinpipe_database, NULL, 0);
	connecting = false;
	has_database = true;
}

typedef struct WorkerDbCheck
{
	WorkerDbState state;
	char *problem;
	size_t len;
} WorkerDbCheck;

/* Inside a transaction: is the extension there (connected), or the database (not)? */
static void
WorkerCheckDatabaseTx(void *arg)
{
	WorkerDbCheck *c = arg;

	WorkerTxBegin("pinpipe: checking the database", false);
	if (has_database)
	{
		c->state = SinkReady() ? WORKER_DB_READY : WORKER_DB_NO_EXTENSION;
		if (c->state == WORKER_DB_NO_EXTENSION)
			snprintf(c->problem, c->len, "extension pinpipe is not installed in database \"%s\"",
					 pinpipe_database);
	}
	else
	{
		/* pg_database is a shared catalog: readable without a database */
		Oid dboid = get_database_oid(pinpipe_database, true);
		HeapTuple tup =
			OidIsValid(dboid) ? SearchSysCache1(DATABASEOID, ObjectIdGetDatum(dboid)) : NULL;

		c->state = WORKER_DB_MISSING;
		if (!HeapTupleIsValid(tup))
			snprintf(c->problem, c->len, "database \"%s\" (pinpipe.database) does not exist",
					 pinpipe_database);
		else
		{
			Form_pg_database db = (Form_pg_database) GETSTRUCT(tup);

			if (!db->datallowconn)
				snprintf(c->problem, c->len,
						 "database \"%s\" (pinpipe.database) does not allow "
						 "connections",
						 pinpipe_database);
#ifdef DATCONNLIMIT_INVALID_DB
			/* left behind by an interrupted DROP DATABASE: connecting would fail */
			else if (db->datconnlimit == DATCONNLIMIT_INVALID_DB)
				snprintf(c->problem, c->len,
						 "database \"%s\" (pinpipe.database) is invalid (an interrupted DROP "
						 "DATABASE); drop it",
						 pinpipe_database);
#endif
			else
				c->state = WORKER_DB_APPEARED;
			ReleaseSysCache(tup);
		}
	}
	WorkerTxCommit(false);
}

WorkerDbState
WorkerCheckDatabase(char *problem, size_t len)
{
	WorkerDbCheck c = {WORKER_DB_ERROR, problem, len};
	ErrorData *edata;

	problem[0] = '\0';
	edata = WorkerTry(WorkerCheckDatabaseTx, &c, CurrentMemoryContext);
	if (edata)
	{
		snprintf(problem, len, "database unavailable: %s", edata->message);
		FreeErrorData(edata);
		return WORKER_DB_ERROR;
	}
	if (c.state == WORKER_DB_APPEARED && worker_common_shared != NULL)
		pg_atomic_write_u32(&worker_common_shared->database_missing, 0);
	return c.state;
}

void
WorkerTxBegin(const char *activity, bool spi)
{
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	if (spi)
		SPI_connect();
	PushActiveSnapshot(GetTransactionSnapshot());
	pgstat_report_activity(STATE_RUNNING, activity);
}

void
WorkerTxCommit(bool spi)
{
	if (spi)
		SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
	pgstat_report_stat(false);
	pgstat_report_activity(STATE_IDLE, NULL);
}

ErrorData *
WorkerTry(void (*fn)(void *arg), void *arg, MemoryContext errcxt)
{
	MemoryContext oldcxt = CurrentMemoryContext;
	ErrorData *volatile edata = NULL;

	PG_TRY();
	{
		fn(arg);
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(errcxt);
		edata = CopyErrorData();
		FlushErrorState();
		AbortCurrentTransaction();
		pgstat_report_activity(STATE_IDLE, NULL);
	}
	PG_END_TRY();
	MemoryContextSwitchTo(oldcxt);
	return edata;
}

int
WorkerBackoffFailed(WorkerBackoff *b)
{
	b->ms = b->ms == 0 ? WORKER_BACKOFF_MIN_MS : Min(b->ms * 2, WORKER_BACKOFF_MAX_MS);
	b->retry_at = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), b->ms);
	return b->ms;
}

void
WorkerBackoffReset(WorkerBackoff *b)
{
	b->ms = 0;
	b->retry_at = 0;
}

bool
WorkerBackoffWaiting(const WorkerBackoff *b)
{
	return b->retry_at != 0 && GetCurrentTimestamp() < b->retry_at;
}

long
WorkerMsUntil(TimestampTz t)
{
	TimestampTz now = GetCurrentTimestamp();

	return t <= now ? 0 : (long) ((t - now + 999) / 1000);
}
