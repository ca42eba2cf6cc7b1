/*
 * pg_compat.h — the PostgreSQL APIs whose signatures differ between the majors pinpipe
 * supports (15 to 18), behind one spelling each. Call sites use these names, so a
 * version guard lives here once instead of at every use.
 */
#ifndef PINPIPE_PG_COMPAT_H
#define PINPIPE_PG_COMPAT_H

#include "postgres.h"

#include "access/relation.h"
#include "catalog/dependency.h"
#include "executor/executor.h"
#include "storage/latch.h"
#include "storage/lockdefs.h"

#if PG_VERSION_NUM >= 160000
#include "parser/parse_relation.h"
#endif
#if PG_VERSION_NUM >= 180000
#include "storage/waiteventset.h"
#endif

/* PostgreSQL 18 replaced the postfix pg_attribute_noreturn() by a prefix pg_noreturn. */
#ifndef pg_attribute_noreturn
#define pg_attribute_noreturn() __attribute__((noreturn))
#endif

/*
 * SQL-callable functions are exported by PG_FUNCTION_INFO_V1. Before 16 it marks only the
 * info function PGDLLEXPORT, not the function itself, which -fvisibility=hidden would then
 * hide from the loader: declare both exported, with the version-1 calling convention.
 */
#if PG_VERSION_NUM < 160000
#include "fmgr.h"
#undef PG_FUNCTION_INFO_V1
#define PG_FUNCTION_INFO_V1(funcname)                                                              \
	extern PGDLLEXPORT Datum funcname(PG_FUNCTION_ARGS);                                           \
	extern PGDLLEXPORT const Pg_finfo_record *CppConcat(pg_finfo_, funcname)(void);                \
	const Pg_finfo_record *CppConcat(pg_finfo_, funcname)(void)                                    \
	{                                                                                              \
		static const Pg_finfo_record version1 = {1};                                               \
		return &version1;                                                                          \
	}                                                                                              \
	extern int pinpipe_finfo_semicolon
#endif

/*
 * The executor's range table of a bulk writer: one INSERT target. From PostgreSQL 16 the
 * permissions live in an RTEPermissionInfo the entry points to (the executor looks it up,
 * e.g. to show a failing row of a CHECK constraint); 18 also takes the set of entries left
 * after pruning (all of them: there is one). The INSERT privilege itself is checked by
 * the caller.
 */
static inline void
PinpipeInitRangeTable(EState *estate, RangeTblEntry *rte)
{
#if PG_VERSION_NUM < 160000
	rte->requiredPerms = ACL_INSERT;
	ExecInitRangeTable(estate, list_make1(rte));
#else
	List *perminfos = NIL;
	RTEPermissionInfo *perminfo = addRTEPermissionInfo(&perminfos, rte);

	perminfo->requiredPerms = ACL_INSERT;
#if PG_VERSION_NUM < 180000
	ExecInitRangeTable(estate, list_make1(rte), perminfos);
#else
	ExecInitRangeTable(estate, list_make1(rte), perminfos, bms_make_singleton(1));
#endif
#endif
}

/*
 * Check that a relation can take the INSERTs of a bulk writer. PostgreSQL 17 added the
 * MERGE actions to check, 18 the ON CONFLICT action (none of either here).
 */
#if PG_VERSION_NUM >= 180000
#define PinpipeCheckValidResultRel(rri, cmd) CheckValidResultRel((rri), (cmd), ONCONFLICT_NONE, NIL)
#elif PG_VERSION_NUM >= 170000
#define PinpipeCheckValidResultRel(rri, cmd) CheckValidResultRel((rri), (cmd), NIL)
#else
#define PinpipeCheckValidResultRel(rri, cmd) CheckValidResultRel((rri), (cmd))
#endif

/*
 * Index entries of a freshly inserted row (no UPDATE, no ON CONFLICT, no arbiter indexes);
 * returns the indexes whose deferred constraints need a recheck. PostgreSQL 16 added
 * onlySummarizing.
 */
#if PG_VERSION_NUM >= 160000
#define PinpipeInsertIndexTuples(rri, slot, estate)                                                \
	ExecInsertIndexTuples((rri), (slot), (estate), false, false, NULL, NIL, false)
#else
#define PinpipeInsertIndexTuples(rri, slot, estate)                                                \
	ExecInsertIndexTuples((rri), (slot), (estate), false, false, NULL, NIL)
#endif

/*
 * A wait event set that lives as long as the worker. Before 17 it is allocated in the
 * given memory context; from 17 on it is tied to a resource owner, and a NULL owner means
 * the caller frees it (FreeWaitEventSet) or the process exits with it, as ours do.
 */
#if PG_VERSION_NUM >= 170000
#define PinpipeCreateWaitEventSet(cxt, nevents) CreateWaitEventSet(NULL, (nevents))
#else
#define PinpipeCreateWaitEventSet(cxt, nevents) CreateWaitEventSet((cxt), (nevents))
#endif

/*
 * The identity sequence of a column. PostgreSQL 17 takes the open Relation (to find a
 * partition's root); before, the relation's OID.
 */
static inline Oid
PinpipeIdentitySequence(Oid relid, AttrNumber attnum, bool missing_ok)
{
#if PG_VERSION_NUM >= 170000
	Relation rel = relation_open(relid, AccessShareLock);
	Oid seq = getIdentitySequence(rel, attnum, missing_ok);

	relation_close(rel, AccessShareLock);
	return seq;
#else
	return getIdentitySequence(relid, attnum, missing_ok);
#endif
}

#endif /* PINPIPE_PG_COMPAT_H */
