/*
 * bulk_insert.c — COPY-style multi-row inserts for the sink (see bulk_insert.h).
 *
 * Without row triggers, rows are buffered in slots and written with
 * table_multi_insert, then their index entries (unique checks included) are
 * added, as copyfrom.c does. With row triggers, each row goes through BEFORE
 * triggers, a single insert and AFTER triggers. CHECK and NOT NULL constraints
 * are always checked. The writer and its slots live in the memory context current
 * at open; row Datums may live in a shorter one, as long as it outlives the flush.
 */
#include "postgres.h"

#include "access/heapam.h"
#include "access/hio.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/pg_class.h"
#include "commands/trigger.h"
#include "executor/executor.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "storage/bufmgr.h"
#include "parser/parsetree.h"
#include "utils/acl.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/rls.h"

#include "bulk_insert.h"
#include "pg_compat.h"

struct BulkWriter
{
	Relation rel;
	EState *estate;
	ResultRelInfo *rri;
	BulkInsertState bistate;
	BufferAccessStrategy ring; /* the table's kept ring, in bistate; NULL: bistate's own */
	CommandId cid;
	TupleTableSlot **slots;
	int nslots;
	int capacity;
	bool row_triggers; /* BEFORE/AFTER ROW INSERT triggers: one row at a time */
	bool check_constraints;
	bool has_indexes;
	MemoryContext cxt; /* where the writer and its slots live */
};

/*
 * Bulk-write buffer rings kept for the backend, one per table written. A ring
 * per writer (as GetBulkInsertState makes) would take fresh shared buffers for
 * every batch and leave the last ring's dirty; one COPY keeps one ring for all
 * its rows, and so do the batches of one backend here. A ring holds only
 * buffer numbers, which the buffer manager re-checks on every reuse, so it is
 * valid across transactions and after errors.
 */
#define BULK_RINGS 8

typedef struct BulkRing
{
	Oid relid;
	BufferAccessStrategy strategy;
} BulkRing;

static BulkRing bulk_rings[BULK_RINGS];
static int bulk_nrings = 0;

/* The kept ring of a table (NULL when every slot is taken by other tables). */
static BufferAccessStrategy
BulkRingFor(Oid relid)
{
	MemoryContext old;

	for (int i = 0; i < bulk_nrings; i++)
		if (bulk_rings[i].relid == relid)
			return bulk_rings[i].strategy;
	if (bulk_nrings == BULK_RINGS)
		return NULL;
	old = MemoryContextSwitchTo(TopMemoryContext);
	bulk_rings[bulk_nrings].strategy = GetAccessStrategy(BAS_BULKWRITE);
	MemoryContextSwitchTo(old);
	bulk_rings[bulk_nrings].relid = relid;
	return bulk_rings[bulk_nrings++].strategy;
}

/*
 * Row-level security: the writer does not run the executor's policy checks, so
 * where policies would apply to this user it refuses rather than bypass them.
 * check_enable_rls itself raises INSERT's error when row_security is off.
 */
static void
BulkWriterRefuseRowSecurity(Relation rel)
{
	if (check_enable_rls(RelationGetRelid(rel), InvalidOid, false) != RLS_ENABLED)
		return;
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("pinpipe cannot write into table \"%s\" under row-level security",
					RelationGetRelationName(rel)),
			 errdetail("Row-level security is enabled on \"%s\" and applies to role \"%s\"; "
					   "pinpipe's bulk write path does not evaluate policies, so it refuses "
					   "instead of bypassing them.",
					   RelationGetRelationName(rel), GetUserNameFromId(GetUserId(), false)),
			 errhint("Ingest as a role that is not subject to the policies (the table owner or "
					 "a role with BYPASSRLS), or disable row-level security on the pinpipe "
					 "tables.")));
}

BulkWriter *
BulkWriterOpen(Oid relid, int capacity)
{
	BulkWriter *w = palloc0(sizeof(BulkWriter));
	RangeTblEntry *rte;
	AclResult aclresult;
	TriggerDesc *trig;

	w->cxt = CurrentMemoryContext;
	w->rel = table_open(relid, RowExclusiveLock);
	aclresult = pg_class_aclcheck(relid, GetUserId(), ACL_INSERT);
	/* every row fills every column: column grants covering all of them do, as for INSERT */
	if (aclresult != ACLCHECK_OK &&
		pg_attribute_aclcheck_all(relid, GetUserId(), ACL_INSERT, ACLMASK_ALL) == ACLCHECK_OK)
		aclresult = ACLCHECK_OK;
	if (aclresult != ACLCHECK_OK)
		aclcheck_error(aclresult, get_relkind_objtype(w->rel->rd_rel->relkind),
					   RelationGetRelationName(w->rel));
	BulkWriterRefuseRowSecurity(w->rel);
	if (w->rel->rd_rel->relkind != RELKIND_RELATION)
		ereport(ERROR, (errcode(ERRCODE_WRONG_OBJECT_TYPE),
						errmsg("\"%s\" is not a plain table", RelationGetRelationName(w->rel)),
						errhint("pinpipe writes into its own tables; do not replace them with "
								"views or partitioned tables.")));

	w->estate = CreateExecutorState();
	rte = makeNode(RangeTblEntry);
	rte->rtekind = RTE_RELATION;
	rte->relid = relid;
	rte->relkind = w->rel->rd_rel->relkind;
	rte->rellockmode = RowExclusiveLock;
	PinpipeInitRangeTable(w->estate, rte);
	w->rri = makeNode(ResultRelInfo);
	ExecInitResultRelation(w->estate, w->rri, 1);
	PinpipeCheckValidResultRel(w->rri, CMD_INSERT);
	ExecOpenIndices(w->rri, false);
	w->has_indexes = w->rri->ri_NumIndices > 0;
	w->check_constraints = w->rel->rd_att->constr != NULL;

	trig = w->rri->ri_TrigDesc;
	w->row_triggers =
		trig != NULL && (trig->trig_insert_before_row || trig->trig_insert_after_row ||
						 trig->trig_insert_instead_row);
	w->cid = GetCurrentCommandId(true);
	w->bistate = GetBulkInsertState();
	w->ring = BulkRingFor(relid);
	if (w->ring)
	{
		FreeAccessStrategy(w->bistate->strategy);
		w->bistate->strategy = w->ring;
	}
	w->capacity = Max(capacity, 1);
	w->slots = palloc0(sizeof(TupleTableSlot *) * w->capacity);

	AfterTriggerBeginQuery();
	ExecBSInsertTriggers(w->estate, w->rri);
	return w;
}

int
BulkWriterNatts(BulkWriter *w)
{
	return RelationGetDescr(w->rel)->natts;
}

int
BulkWriterFindColumn(BulkWriter *w, const char *name)
{
	TupleDesc desc = RelationGetDescr(w->rel);

	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		if (!att->attisdropped && strcmp(NameStr(att->attname), name) == 0)
			return i;
	}
	return -1;
}

int
BulkWriterColumn(BulkWriter *w, const char *name)
{
	int i = BulkWriterFindColumn(w, name);

	if (i >= 0)
		return i;
	ereport(ERROR, (errcode(ERRCODE_UNDEFINED_COLUMN),
					errmsg("column \"%s\" of pinpipe table \"%s\" is missing", name,
						   RelationGetRelationName(w->rel)),
					errhint("The pinpipe tables must keep the columns the extension created.")));
	return -1; /* keep compiler quiet */
}

/* Insert one row through triggers (used when the table has row triggers). */
static void
InsertOneWithTriggers(BulkWriter *w, TupleTableSlot *slot)
{
	List *recheck = NIL;

	if (w->rri->ri_TrigDesc->trig_insert_before_row &&
		!ExecBRInsertTriggers(w->estate, w->rri, slot))
		return; /* a BEFORE trigger skipped the row */
	if (w->check_constraints)
		ExecConstraints(w->rri, slot, w->estate);
	table_tuple_insert(w->rel, slot, w->cid, 0, w->bistate);
	if (w->has_indexes)
		recheck = PinpipeInsertIndexTuples(w->rri, slot, w->estate);
	ExecARInsertTriggers(w->estate, w->rri, slot, recheck, NULL);
	list_free(recheck);
}

void
BulkWriterAdd(BulkWriter *w, const Datum *values, const bool *nulls)
{
	TupleDesc desc = RelationGetDescr(w->rel);
	TupleTableSlot *slot;

	if (w->nslots == w->capacity)
		BulkWriterFlush(w);
	if (w->slots[w->nslots] == NULL)
	{
		/* slots outlive the caller's per-row memory: they belong to the writer */
		MemoryContext old = MemoryContextSwitchTo(w->cxt);

		w->slots[w->nslots] = MakeSingleTupleTableSlot(desc, table_slot_callbacks(w->rel));
		MemoryContextSwitchTo(old);
	}
	slot = w->slots[w->nslots];
	ExecClearTuple(slot);
	memcpy(slot->tts_values, values, sizeof(Datum) * desc->natts);
	memcpy(slot->tts_isnull, nulls, sizeof(bool) * desc->natts);
	ExecStoreVirtualTuple(slot);

	if (w->row_triggers)
	{
		InsertOneWithTriggers(w, slot);
		ResetPerTupleExprContext(w->estate);
		return;
	}
	if (w->check_constraints)
	{
		ExecConstraints(w->rri, slot, w->estate);
		ResetPerTupleExprContext(w->estate);
	}
	w->nslots++;
}

void
BulkWriterFlush(BulkWriter *w)
{
	if (w->nslots == 0)
		return;
	table_multi_insert(w->rel, w->slots, w->nslots, w->cid, 0, w->bistate);
	for (int i = 0; i < w->nslots; i++)
	{
		if (w->has_indexes)
		{
			List *recheck;

			recheck = PinpipeInsertIndexTuples(w->rri, w->slots[i], w->estate);
			list_free(recheck);
		}
		ExecClearTuple(w->slots[i]);
		ResetPerTupleExprContext(w->estate);
	}
	w->nslots = 0;
}

void
BulkWriterClose(BulkWriter *w)
{
	BulkWriterFlush(w);
	ExecASInsertTriggers(w->estate, w->rri, NULL);
	AfterTriggerEndQuery(w->estate);
	if (w->ring)
		w->bistate->strategy = NULL; /* kept for the next writer of the table */
	FreeBulkInsertState(w->bistate);
	for (int i = 0; i < w->capacity; i++)
		if (w->slots[i])
			ExecDropSingleTupleTableSlot(w->slots[i]);
	ExecCloseResultRelations(w->estate); /* closes the indexes too */
	ExecCloseRangeTableRelations(w->estate);
	FreeExecutorState(w->estate);
	table_close(w->rel, NoLock);
	pfree(w->slots);
	pfree(w);
}
