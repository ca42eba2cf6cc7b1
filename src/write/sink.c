/*
 * sink.c — the one write path into the pipeline's tables (see sink.h).
 *
 * A batch: parse and clean every message (pure C, no database work), each by the
 * model of its stream (pin, geo, user); write the accepted ones to raw_pins and
 * their stream's table (pins, geo, users) with COPY-style multi-inserts inside a
 * subtransaction; if that fails with a record-level error (bad data, a
 * constraint, a trigger), roll the subtransaction back and bisect until the
 * failing messages are alone, then dead-letter them; finally add the batch's
 * per-category counts to category_minute and write the dead letters.
 *
 * Runs in the caller's transaction and backend; all memory is in a batch
 * context (kept for the backend and reset at the end; a nested batch's own is
 * deleted), except the per-message error strings, which are allocated in the
 * caller's context.
 */
#include "postgres.h"

#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/dependency.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "commands/dbcommands.h"
#include "commands/extension.h"
#include "commands/sequence.h"
#include "funcapi.h"
#include "parser/parse_func.h"
#include "executor/spi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/regproc.h"
#include "utils/timestamp.h"
#include "utils/xid8.h"

#include "bulk_insert.h"
#include "clean.h"
#include "pin_datum.h"
#include "pin_json.h"
#include "pg_compat.h"
#include "sink.h"

/* Rows written between flushes (bounds the memory of one insert round). */
#define SINK_CHUNK 1000

/*
 * The batch and row contexts are kept for the backend and reset, not deleted,
 * after each batch: their first block stays mapped, so a batch does not pay the
 * page faults of fresh memory again (a quarter of ingest_text's time before, see
 * docs/kafka.md "Where the time goes"). Only pages a batch touched are resident;
 * a batch larger than the kept block gets extra blocks, freed at the reset.
 */
#define SINK_KEEP_BYTES (16 * 1024 * 1024)
#define SINK_ROWS_KEEP_BYTES (4 * 1024 * 1024)

/* category_minute key for pins without a category. */
#define SINK_NO_CATEGORY "(none)"

typedef struct SinkTables
{
	Oid raw_pins;
	Oid raw_pins_seq;
	Oid dead_letters;
	/*
	 * Per stream: its cleaned table and its clean function over text, whose
	 * result's attributes name the table's cleaned columns. The geo and user
	 * ones are InvalidOid in a 0.1.0 schema (library updated, ALTER EXTENSION
	 * UPDATE not yet run): pins still flow, those streams are refused.
	 */
	Oid table[SINK_NSTREAMS];
	Oid clean[SINK_NSTREAMS];
} SinkTables;

/* Per stream: model, raw_pins.stream value, cleaned table, clean function, cleaned columns. */
typedef struct SinkStreamInfo
{
	const RecordModel *model;
	const char *table;
	const char *clean;
	int ncols;
} SinkStreamInfo;

static const SinkStreamInfo sink_streams[SINK_NSTREAMS] = {
	[SINK_STREAM_PIN] = {&pin_model, "pins", "clean_pin", PIN_DATUM_NCOLS},
	[SINK_STREAM_GEO] = {&geo_model, "geo", "clean_geo", GEO_DATUM_NCOLS},
	[SINK_STREAM_USER] = {&user_model, "users", "clean_user", USER_DATUM_NCOLS},
};

/* A cleaned record of any stream. */
typedef union SinkCleaned
{
	CleanPin pin;
	CleanGeo geo;
	CleanUser user;
} SinkCleaned;

/*
 * The counters of category_minute, addressed by column name: the upsert is
 * built from these names, so the table's column order does not matter.
 */
typedef enum SinkCounter
{
	SINK_POSTS = 0,
	SINK_ERROR_POSTS,
	SINK_FOLLOWER_SUM,
	SINK_FOLLOWER_KNOWN,
	SINK_IMAGE_POSTS,
	SINK_VIDEO_POSTS,
	SINK_STORY_POSTS,
	SINK_OTHER_MEDIA_POSTS,
	SINK_DOWNLOADED_POSTS,
	SINK_NCOUNTERS
} SinkCounter;

static const char *const sink_counter_columns[SINK_NCOUNTERS] = {
	[SINK_POSTS] = "posts",
	[SINK_ERROR_POSTS] = "error_posts",
	[SINK_FOLLOWER_SUM] = "follower_sum",
	[SINK_FOLLOWER_KNOWN] = "follower_known",
	[SINK_IMAGE_POSTS] = "image_posts",
	[SINK_VIDEO_POSTS] = "video_posts",
	[SINK_STORY_POSTS] = "story_posts",
	[SINK_OTHER_MEDIA_POSTS] = "other_media_posts",
	[SINK_DOWNLOADED_POSTS] = "downloaded_posts",
};

/* The counter of each media class (the classes are clean.c's, shared with SQL). */
static const SinkCounter sink_media_counter[CLEAN_MEDIA_NCLASSES] = {
	[CLEAN_MEDIA_IMAGE] = SINK_IMAGE_POSTS,
	[CLEAN_MEDIA_VIDEO] = SINK_VIDEO_POSTS,
	[CLEAN_MEDIA_STORY] = SINK_STORY_POSTS,
	[CLEAN_MEDIA_OTHER] = SINK_OTHER_MEDIA_POSTS,
};

/* Per-category counts of one batch, one row of category_minute. */
typedef struct SinkAggregate
{
	const char *category;
	size_t category_len;
	int64 counts[SINK_NCOUNTERS];
} SinkAggregate;

typedef struct SinkBatch
{
	SinkSource source;
	SinkMessage *msgs;
	SinkCleaned *cleaned; /* cleaned record of each accepted message */
	int *accepted;		  /* indexes into msgs of the messages to insert */
	SinkTables tables;
	Datum source_datum;
	TimestampTz received_at;
	FullTransactionId xact_id;
	MemoryContext caller_cxt;
	MemoryContext rows_cxt; /* the kept row context, or NULL: one per insert round */
	char *scratch;			/* the unused rest of the current parse scratch chunk */
	size_t scratch_left;
} SinkBatch;

/*
 * Parse scratch is carved from chunks of this size, each message taking only what
 * its parse used (PinRecord.scratch_used: decoded escapes, coerced numbers; most
 * values are slices of the message itself). Giving every message its own
 * PIN_SCRATCH_SIZE(len) allocation would cost about twice the message's length
 * (AllocSet rounds up to a power of two) for the whole batch: some 10 MB of a
 * 5,000-pin batch's memory. The chunk stays below the kept context's chunk limit,
 * so it comes from the kept block, not from freshly mapped memory.
 */
#define SINK_SCRATCH_CHUNK (8 * 1024 - 64)

static SPIPlanPtr aggregate_plan = NULL;

/* The kept contexts, and whether a batch uses them (a nested batch gets its own). */
static MemoryContext sink_kept_cxt = NULL;
static MemoryContext sink_kept_rows_cxt = NULL;
static bool sink_kept_in_use = false;

/* The raw_pins.source value of a source. */
static const char *
SinkSourceName(SinkSource source)
{
	switch (source)
	{
		case SINK_SOURCE_HTTP:
			return "http";
		case SINK_SOURCE_KAFKA:
			return "kafka";
		default:
			return "sql";
	}
}

/* Find the pinpipe tables; false if the extension's schema or a table is missing. */
static bool
SinkLookupTables(SinkTables *t)
{
	Oid nsp = get_namespace_oid("pinpipe", true);
	Oid text_type = TEXTOID;

	if (!OidIsValid(nsp))
		return false;
	t->raw_pins = get_relname_relid("raw_pins", nsp);
	t->raw_pins_seq = get_relname_relid("raw_pins_id_seq", nsp);
	t->dead_letters = get_relname_relid("dead_letters", nsp);
	for (int st = 0; st < SINK_NSTREAMS; st++)
	{
		t->table[st] = get_relname_relid(sink_streams[st].table, nsp);
		t->clean[st] = LookupFuncName(
			list_make2(makeString("pinpipe"), makeString(pstrdup(sink_streams[st].clean))), 1,
			&text_type, true);
		if (!OidIsValid(t->table[st]) || !OidIsValid(t->clean[st]))
			t->table[st] = t->clean[st] = InvalidOid;
	}
	return OidIsValid(t->raw_pins) && OidIsValid(t->raw_pins_seq) &&
		   OidIsValid(t->table[SINK_STREAM_PIN]) && OidIsValid(t->dead_letters);
}

bool
SinkStreamFromName(const char *name, size_t len, SinkStream *stream)
{
	for (int st = 0; st < SINK_NSTREAMS; st++)
		if (strlen(sink_streams[st].model->name) == len &&
			memcmp(sink_streams[st].model->name, name, len) == 0)
		{
			*stream = (SinkStream) st;
			return true;
		}
	return false;
}

/*
 * The identity sequence of dead_letters.id: a pg_depend scan, not a syscache hit,
 * so it is looked up only when a batch has dead letters to write.
 */
static Oid
SinkDeadLetterSequence(Oid dead_letters)
{
	AttrNumber id_att = get_attnum(dead_letters, "id");
	Oid seq = id_att == InvalidAttrNumber ? InvalidOid
										  : PinpipeIdentitySequence(dead_letters, id_att, true);

	if (!OidIsValid(seq))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("pinpipe.dead_letters.id has no identity sequence"),
				 errhint("The pinpipe tables must keep the columns the extension created.")));
	return seq;
}

/*
 * The rows take raw_pins.id from its sequence as the column default would, so
 * the caller needs what nextval() needs (USAGE or UPDATE). Checked once per
 * insert round; nextval_internal is then called without a check per row. The
 * identity sequence of dead_letters needs nothing: INSERT does not check it either.
 */
static void
SinkCheckSequence(Oid seq)
{
	if (pg_class_aclcheck(seq, GetUserId(), ACL_USAGE | ACL_UPDATE) != ACLCHECK_OK)
		ereport(ERROR, (errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
						errmsg("permission denied for sequence %s", get_rel_name(seq)),
						errhint("Ingesting needs USAGE on sequence pinpipe.raw_pins_id_seq, as an "
								"INSERT into pinpipe.raw_pins does.")));
}

bool
SinkReady(void)
{
	SinkTables t;

	return OidIsValid(get_extension_oid("pinpipe", true)) && SinkLookupTables(&t);
}

/* Errors that belong to a record (retrying it cannot help), as opposed to the database's state. */
static bool
SinkErrorIsRecordLevel(int sqlerrcode)
{
	switch (ERRCODE_TO_CATEGORY(sqlerrcode))
	{
		case ERRCODE_DATA_EXCEPTION:						/* 22 */
		case ERRCODE_INTEGRITY_CONSTRAINT_VIOLATION:		/* 23 */
		case ERRCODE_PROGRAM_LIMIT_EXCEEDED:				/* 54 */
		case ERRCODE_PLPGSQL_ERROR:							/* P0: RAISE in a trigger */
		case ERRCODE_WITH_CHECK_OPTION_VIOLATION:			/* 44 */
		case ERRCODE_TRIGGERED_DATA_CHANGE_VIOLATION:		/* 27 */
		case ERRCODE_EXTERNAL_ROUTINE_EXCEPTION:			/* 38 */
		case ERRCODE_EXTERNAL_ROUTINE_INVOCATION_EXCEPTION: /* 39 */
		case ERRCODE_SQL_ROUTINE_EXCEPTION:					/* 2F */
			return true;
		default:
			return false;
	}
}

/* Text Datum of a possibly-NULL C string. */
static Datum
OptionalText(const char *s, bool *isnull)
{
	*isnull = (s == NULL);
	return s ? CStringGetTextDatum(s) : (Datum) 0;
}

/*
 * Where each cleaned value goes in a stream's table: the attributes of its clean
 * function's result (in the *DatumsFromClean order) name the columns. For pins
 * that result is the type pinpipe.cleaned_pin; in a 0.1.0 schema (library
 * updated, ALTER EXTENSION UPDATE not yet run) it is the same list as OUT
 * parameters, so ingestion goes on between the two steps of an upgrade.
 */
static void
SinkCleanedColumns(Oid clean, int ncols, BulkWriter *w, int *columns)
{
	TupleDesc desc;

	if (get_func_result_type(clean, NULL, &desc) != TYPEFUNC_COMPOSITE || desc->natts != ncols)
		ereport(
			ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("%s does not return the %d cleaned columns", format_procedure_qualified(clean),
					ncols),
			 errhint("The pinpipe functions and types must stay as the extension created them.")));
	for (int c = 0; c < ncols; c++)
		columns[c] = BulkWriterColumn(w, NameStr(TupleDescAttr(desc, c)->attname));
	FreeTupleDesc(desc);
}

/* The writer of one stream's cleaned table during an insert round. */
typedef struct SinkRowWriter
{
	BulkWriter *w;
	Datum *v;
	bool *n;
	int natts;
	int c_raw, c_received, c_source, c_topic, c_partition, c_offset;
	int c_clean[PIN_DATUM_NCOLS];
} SinkRowWriter;

static void
SinkRowWriterOpen(SinkRowWriter *rw, Oid table)
{
	rw->w = BulkWriterOpen(table, SINK_CHUNK);
	rw->natts = BulkWriterNatts(rw->w);
	rw->v = palloc(sizeof(Datum) * rw->natts);
	rw->n = palloc(sizeof(bool) * rw->natts);
	rw->c_raw = BulkWriterColumn(rw->w, "raw_id");
	rw->c_received = BulkWriterColumn(rw->w, "received_at");
	rw->c_source = BulkWriterColumn(rw->w, "source");
	rw->c_topic = BulkWriterColumn(rw->w, "topic");
	rw->c_partition = BulkWriterColumn(rw->w, "partition");
	rw->c_offset = BulkWriterColumn(rw->w, "offset");
}

/* The cleaned values of an accepted message, in its stream's column order. */
static void
SinkCleanedDatums(SinkStream stream, const SinkCleaned *c, Datum *values, bool *nulls)
{
	switch (stream)
	{
		case SINK_STREAM_GEO:
			GeoDatumsFromClean(&c->geo, values, nulls);
			break;
		case SINK_STREAM_USER:
			UserDatumsFromClean(&c->user, values, nulls);
			break;
		default:
			PinDatumsFromClean(&c->pin, values, nulls);
			break;
	}
}

/* Write messages accepted[lo..hi) to raw_pins and their streams' tables. */
static void
SinkInsertRows(SinkBatch *b, int lo, int hi)
{
	BulkWriter *raw = BulkWriterOpen(b->tables.raw_pins, SINK_CHUNK);
	SinkRowWriter rows[SINK_NSTREAMS];
	bool used[SINK_NSTREAMS] = {false};
	int raw_natts = BulkWriterNatts(raw);
	Datum *rv = palloc(sizeof(Datum) * raw_natts);
	bool *rn = palloc(sizeof(bool) * raw_natts);
	int r_id = BulkWriterColumn(raw, "id"), r_received = BulkWriterColumn(raw, "received_at"),
		r_xact = BulkWriterColumn(raw, "xact_id"), r_source = BulkWriterColumn(raw, "source"),
		r_topic = BulkWriterColumn(raw, "topic"), r_partition = BulkWriterColumn(raw, "partition"),
		r_offset = BulkWriterColumn(raw, "offset"), r_payload = BulkWriterColumn(raw, "payload");
	/* absent in a 0.1.0 schema (library updated, ALTER EXTENSION UPDATE not run yet) */
	int r_cluster = BulkWriterFindColumn(raw, "xact_cluster");
	int r_stream = BulkWriterFindColumn(raw, "stream");
	Datum cluster = Int64GetDatum((int64) GetSystemIdentifier());
	Datum stream_names[SINK_NSTREAMS];
	MemoryContext rows_cxt = b->rows_cxt
								 ? b->rows_cxt
								 : AllocSetContextCreate(CurrentMemoryContext, "pinpipe sink rows",
														 ALLOCSET_DEFAULT_SIZES);
	MemoryContext old;

	MemoryContextReset(rows_cxt); /* what a failed round left */

	for (int k = lo; k < hi; k++)
		used[b->msgs[b->accepted[k]].stream] = true;
	for (int st = 0; st < SINK_NSTREAMS; st++)
	{
		stream_names[st] = CStringGetTextDatum(sink_streams[st].model->name);
		if (used[st])
			SinkRowWriterOpen(&rows[st], b->tables.table[st]);
	}
	/* after the tables' own checks, in the order an INSERT checks them */
	SinkCheckSequence(b->tables.raw_pins_seq);
	for (int st = 0; st < SINK_NSTREAMS; st++)
		if (used[st])
			SinkCleanedColumns(b->tables.clean[st], sink_streams[st].ncols, rows[st].w,
							   rows[st].c_clean);

	old = MemoryContextSwitchTo(rows_cxt);
	for (int k = lo; k < hi; k++)
	{
		SinkMessage *m = &b->msgs[b->accepted[k]];
		SinkRowWriter *rw = &rows[m->stream];
		int ncols = sink_streams[m->stream].ncols;
		Datum clean_values[PIN_DATUM_NCOLS];
		bool clean_nulls[PIN_DATUM_NCOLS];
		int64 id = nextval_internal(b->tables.raw_pins_seq, false);
		bool kafka = m->topic != NULL;

		memset(rn, true, sizeof(bool) * raw_natts);
		rv[r_id] = Int64GetDatum(id);
		m->raw_id = id; /* the last insert of a bisection is the one that commits */
		rv[r_received] = TimestampTzGetDatum(b->received_at);
		rv[r_xact] = FullTransactionIdGetDatum(b->xact_id);
		rv[r_source] = b->source_datum;
		rv[r_topic] = OptionalText(m->topic, &rn[r_topic]);
		rv[r_partition] = Int32GetDatum(m->partition);
		rv[r_offset] = Int64GetDatum(m->offset);
		rv[r_payload] = PointerGetDatum(cstring_to_text_with_len(m->data, (int) m->len));
		rn[r_id] = rn[r_received] = rn[r_xact] = rn[r_source] = rn[r_payload] = false;
		rn[r_partition] = rn[r_offset] = !kafka;
		if (r_cluster >= 0)
		{
			rv[r_cluster] = cluster;
			rn[r_cluster] = false;
		}
		if (r_stream >= 0)
		{
			rv[r_stream] = stream_names[m->stream];
			rn[r_stream] = false;
		}
		BulkWriterAdd(raw, rv, rn);

		memset(rw->n, true, sizeof(bool) * rw->natts);
		SinkCleanedDatums(m->stream, &b->cleaned[b->accepted[k]], clean_values, clean_nulls);
		for (int c = 0; c < ncols; c++)
		{
			rw->v[rw->c_clean[c]] = clean_values[c];
			rw->n[rw->c_clean[c]] = clean_nulls[c];
		}
		rw->v[rw->c_raw] = Int64GetDatum(id);
		rw->v[rw->c_received] = rv[r_received];
		rw->v[rw->c_source] = rv[r_source];
		rw->v[rw->c_topic] = rv[r_topic];
		rw->v[rw->c_partition] = rv[r_partition];
		rw->v[rw->c_offset] = rv[r_offset];
		rw->n[rw->c_raw] = rw->n[rw->c_received] = rw->n[rw->c_source] = false;
		rw->n[rw->c_topic] = rn[r_topic];
		rw->n[rw->c_partition] = rw->n[rw->c_offset] = !kafka;
		BulkWriterAdd(rw->w, rw->v, rw->n);

		if ((k - lo + 1) % SINK_CHUNK == 0)
		{
			BulkWriterFlush(raw);
			for (int st = 0; st < SINK_NSTREAMS; st++)
				if (used[st])
					BulkWriterFlush(rows[st].w);
			MemoryContextReset(rows_cxt);
		}
	}
	MemoryContextSwitchTo(old);
	BulkWriterClose(raw);
	for (int st = 0; st < SINK_NSTREAMS; st++)
		if (used[st])
			BulkWriterClose(rows[st].w);
	if (rows_cxt == b->rows_cxt)
		MemoryContextReset(rows_cxt);
	else
		MemoryContextDelete(rows_cxt);
}

/* Mark message i dead-lettered with an error (strings copied to the caller's context). */
static void
SinkReject(SinkBatch *b, SinkMessage *m, const char *error, const char *field, const char *sqlstate)
{
	MemoryContext old = MemoryContextSwitchTo(b->caller_cxt);

	m->outcome = SINK_DEAD_LETTERED;
	m->error = pstrdup(error);
	m->field = field ? pstrdup(field) : NULL;
	m->sqlstate = pstrdup(sqlstate);
	MemoryContextSwitchTo(old);
}

/*
 * Insert accepted[lo..hi) in a subtransaction; on a record-level error, bisect
 * until each failing message is alone and dead-letter it. Other errors propagate.
 */
static void
SinkInsertRange(SinkBatch *b, int lo, int hi)
{
	MemoryContext cxt = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	ErrorData *volatile edata = NULL;

	if (lo >= hi)
		return;
	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(cxt);
	PG_TRY();
	{
		SinkInsertRows(b, lo, hi);
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
	}
	PG_END_TRY();

	if (edata == NULL)
	{
		for (int k = lo; k < hi; k++)
			b->msgs[b->accepted[k]].outcome = SINK_ACCEPTED;
		return;
	}
	if (!SinkErrorIsRecordLevel(edata->sqlerrcode))
		ReThrowError(edata);
	if (hi - lo == 1)
	{
		SinkReject(b, &b->msgs[b->accepted[lo]], edata->message, edata->column_name,
				   unpack_sql_state(edata->sqlerrcode));
		return;
	}
	FreeErrorData(edata);
	SinkInsertRange(b, lo, lo + (hi - lo) / 2);
	SinkInsertRange(b, lo + (hi - lo) / 2, hi);
}

/* Add one accepted pin to its category's counts. */
static void
SinkCount(SinkAggregate *aggs, int *naggs, const CleanPin *p)
{
	const char *cat = p->category.ptr ? p->category.ptr : SINK_NO_CATEGORY;
	size_t len = p->category.ptr ? p->category.len : strlen(SINK_NO_CATEGORY);
	SinkAggregate *a = NULL;
	CleanText media = p->is_image_or_video;

	for (int i = 0; i < *naggs; i++)
		if (aggs[i].category_len == len && memcmp(aggs[i].category, cat, len) == 0)
		{
			a = &aggs[i];
			break;
		}
	if (a == NULL)
	{
		a = &aggs[(*naggs)++];
		memset(a, 0, sizeof(*a));
		a->category = cat;
		a->category_len = len;
	}
	a->counts[SINK_POSTS]++;
	if (p->error_mask != 0)
		a->counts[SINK_ERROR_POSTS]++;
	if (!p->follower_count_null)
	{
		a->counts[SINK_FOLLOWER_SUM] += p->follower_count;
		a->counts[SINK_FOLLOWER_KNOWN]++;
	}
	a->counts[sink_media_counter[CleanMediaClass(media.ptr, media.len)]]++;
	if (p->downloaded != 0)
		a->counts[SINK_DOWNLOADED_POSTS]++;
}

static int
SinkAggregateCompare(const void *x, const void *y)
{
	const SinkAggregate *a = x, *b = y;
	int c = memcmp(a->category, b->category, Min(a->category_len, b->category_len));

	if (c != 0)
		return c;
	return (a->category_len > b->category_len) - (a->category_len < b->category_len);
}

/*
 * The category_minute upsert ($1 minute, $2 category, then one parameter per
 * counter), written from sink_counter_columns; a saved plan, kept for the backend.
 */
static SPIPlanPtr
SinkPrepareAggregateUpsert(void)
{
	StringInfoData sql;
	Oid types[2 + SINK_NCOUNTERS];
	SPIPlanPtr plan;

	initStringInfo(&sql);
	appendStringInfoString(&sql, "INSERT INTO pinpipe.category_minute AS c (minute, category");
	for (int c = 0; c < SINK_NCOUNTERS; c++)
		appendStringInfo(&sql, ", %s", sink_counter_columns[c]);
	appendStringInfoString(&sql, ") VALUES ($1, $2");
	for (int c = 0; c < SINK_NCOUNTERS; c++)
		appendStringInfo(&sql, ", $%d", 3 + c);
	appendStringInfoString(&sql, ") ON CONFLICT (minute, category) DO UPDATE SET ");
	for (int c = 0; c < SINK_NCOUNTERS; c++)
		appendStringInfo(&sql, "%s%s = c.%s + EXCLUDED.%s", c > 0 ? ", " : "",
						 sink_counter_columns[c], sink_counter_columns[c], sink_counter_columns[c]);
	types[0] = TIMESTAMPTZOID;
	types[1] = TEXTOID;
	for (int c = 0; c < SINK_NCOUNTERS; c++)
		types[2 + c] = INT8OID;

	plan = SPI_prepare(sql.data, 2 + SINK_NCOUNTERS, types);
	if (plan == NULL)
		elog(ERROR, "could not prepare the category_minute upsert: %s",
			 SPI_result_code_string(SPI_result));
	SPI_keepplan(plan);
	pfree(sql.data);
	return plan;
}

/*
 * Add the batch's counts to category_minute (minute = transaction start, UTC).
 * Rows are upserted in category order, so concurrent writers cannot deadlock.
 */
static void
SinkWriteAggregates(SinkBatch *b, int nmsgs)
{
	SinkAggregate *aggs = palloc(sizeof(SinkAggregate) * Max(nmsgs, 1));
	int naggs = 0;
	TimestampTz minute = b->received_at - (b->received_at % USECS_PER_MINUTE);

	for (int i = 0; i < nmsgs; i++)
		if (b->msgs[i].outcome == SINK_ACCEPTED && b->msgs[i].stream == SINK_STREAM_PIN)
			SinkCount(aggs, &naggs, &b->cleaned[i].pin);
	if (naggs == 0)
		return;
	qsort(aggs, naggs, sizeof(SinkAggregate), SinkAggregateCompare);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (aggregate_plan == NULL)
		aggregate_plan = SinkPrepareAggregateUpsert();
	for (int i = 0; i < naggs; i++)
	{
		Datum values[2 + SINK_NCOUNTERS];
		int rc;

		values[0] = TimestampTzGetDatum(minute);
		values[1] =
			PointerGetDatum(cstring_to_text_with_len(aggs[i].category, (int) aggs[i].category_len));
		for (int c = 0; c < SINK_NCOUNTERS; c++)
			values[2 + c] = Int64GetDatum(aggs[i].counts[c]);
		rc = SPI_execute_plan(aggregate_plan, values, NULL, false, 0);
		if (rc != SPI_OK_INSERT)
			elog(ERROR, "category_minute upsert failed: %s", SPI_result_code_string(rc));
	}
	SPI_finish();
}

/* Write a dead letter for every rejected message. */
static void
SinkWriteDeadLetters(SinkBatch *b, int nmsgs)
{
	BulkWriter *w = NULL;
	int natts = 0;
	Datum *v = NULL;
	bool *n = NULL;
	int c_id = 0, c_received = 0, c_source = 0, c_topic = 0, c_partition = 0, c_offset = 0,
		c_payload = 0, c_bytes = 0, c_error = 0, c_field = 0, c_sqlstate = 0, c_stream = -1;
	Oid id_seq = InvalidOid;

	for (int i = 0; i < nmsgs; i++)
	{
		SinkMessage *m = &b->msgs[i];
		bool is_text;

		if (m->outcome != SINK_DEAD_LETTERED)
			continue;
		if (w == NULL)
		{
			id_seq = SinkDeadLetterSequence(b->tables.dead_letters);
			w = BulkWriterOpen(b->tables.dead_letters, 100);
			natts = BulkWriterNatts(w);
			v = palloc(sizeof(Datum) * natts);
			n = palloc(sizeof(bool) * natts);
			c_id = BulkWriterColumn(w, "id");
			c_received = BulkWriterColumn(w, "received_at");
			c_source = BulkWriterColumn(w, "source");
			c_topic = BulkWriterColumn(w, "topic");
			c_partition = BulkWriterColumn(w, "partition");
			c_offset = BulkWriterColumn(w, "offset");
			c_payload = BulkWriterColumn(w, "payload");
			c_bytes = BulkWriterColumn(w, "payload_bytes");
			c_error = BulkWriterColumn(w, "error");
			c_field = BulkWriterColumn(w, "field");
			c_sqlstate = BulkWriterColumn(w, "sqlstate");
			/* absent in a 0.1.0 schema, which has only pins */
			c_stream = BulkWriterFindColumn(w, "stream");
		}
		memset(n, true, sizeof(bool) * natts);
		is_text =
			!m->truncated && Utf8Valid(m->data, m->len) && memchr(m->data, '\0', m->len) == NULL;
		v[c_id] = Int64GetDatum(nextval_internal(id_seq, false));
		v[c_received] = TimestampTzGetDatum(b->received_at);
		v[c_source] = b->source_datum;
		v[c_topic] = OptionalText(m->topic, &n[c_topic]);
		v[c_partition] = Int32GetDatum(m->partition);
		v[c_offset] = Int64GetDatum(m->offset);
		if (is_text)
			v[c_payload] = PointerGetDatum(cstring_to_text_with_len(m->data, (int) m->len));
		else
		{
			bytea *bytes = palloc(VARHDRSZ + m->len);

			SET_VARSIZE(bytes, VARHDRSZ + m->len);
			memcpy(VARDATA(bytes), m->data, m->len);
			v[c_bytes] = PointerGetDatum(bytes);
		}
		v[c_error] = CStringGetTextDatum(m->error);
		v[c_field] = OptionalText(m->field, &n[c_field]);
		v[c_sqlstate] = CStringGetTextDatum(m->sqlstate);
		n[c_id] = n[c_received] = n[c_source] = n[c_error] = n[c_sqlstate] = false;
		n[c_partition] = n[c_offset] = m->topic == NULL;
		n[c_payload] = !is_text;
		n[c_bytes] = is_text;
		if (c_stream >= 0)
		{
			v[c_stream] = CStringGetTextDatum(sink_streams[m->stream].model->name);
			n[c_stream] = false;
		}
		BulkWriterAdd(w, v, n);
	}
	if (w)
		BulkWriterClose(w);
}

/* Clean a validated record of a stream. */
static void
SinkClean(SinkStream stream, const PinRecord *rec, SinkCleaned *out)
{
	switch (stream)
	{
		case SINK_STREAM_GEO:
			CleanGeoRecord(rec, &out->geo);
			break;
		case SINK_STREAM_USER:
			CleanUserRecord(rec, &out->user);
			break;
		default:
			CleanPinRecord(rec, &out->pin);
			break;
	}
}

/* Scratch for parsing a message of len bytes (at the start of what is left). */
static char *
SinkScratch(SinkBatch *b, size_t len)
{
	size_t need = PIN_SCRATCH_SIZE(len);

	if (need > b->scratch_left)
	{
		if (need > SINK_SCRATCH_CHUNK)
			return palloc(need); /* a message of several kilobytes: its own */
		b->scratch = palloc(SINK_SCRATCH_CHUNK);
		b->scratch_left = SINK_SCRATCH_CHUNK;
	}
	return b->scratch;
}

/* Keep what the parse at the start of the scratch left there (the record points into it). */
static void
SinkScratchKeep(SinkBatch *b, const char *scratch, size_t used)
{
	if (scratch != b->scratch)
		return; /* its own allocation */
	used = Min(used, b->scratch_left);
	b->scratch += used;
	b->scratch_left -= used;
}

/* The batch's work, in batch_cxt (current on entry). */
static void
SinkWriteBatchIn(SinkSource source, SinkMessage *msgs, int nmsgs, SinkCounts *counts,
				 MemoryContext caller_cxt, MemoryContext rows_cxt)
{
	SinkBatch b;
	int naccepted = 0;

	memset(&b, 0, sizeof(b));
	b.rows_cxt = rows_cxt;
	if (!SinkLookupTables(&b.tables))
		ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
						errmsg("the pinpipe extension is not installed in database \"%s\"",
							   get_database_name(MyDatabaseId)),
						errhint("Run CREATE EXTENSION pinpipe in that database.")));
	b.source = source;
	b.msgs = msgs;
	b.caller_cxt = caller_cxt;
	b.cleaned = palloc(sizeof(SinkCleaned) * Max(nmsgs, 1));
	b.accepted = palloc(sizeof(int) * Max(nmsgs, 1));
	b.source_datum = CStringGetTextDatum(SinkSourceName(source));
	b.received_at = GetCurrentTransactionStartTimestamp();
	b.xact_id = GetTopFullTransactionId();

	/*
	 * 1. Parse and clean: no database work, so a bad message costs nothing else.
	 * Pre-rejected messages go straight to the dead letters, pre-validated ones
	 * straight to cleaning.
	 */
	for (int i = 0; i < nmsgs; i++)
	{
		SinkMessage *m = &msgs[i];
		const RecordModel *model;
		PinRecord rec;
		PinParseResult r;
		char *scratch;

		if ((unsigned) m->stream >= SINK_NSTREAMS)
			elog(ERROR, "message with an unknown stream %d", (int) m->stream);
		model = sink_streams[m->stream].model;
		if (m->input != SINK_INPUT_REJECTED && !OidIsValid(b.tables.table[m->stream]))
			ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
							errmsg("the pinpipe extension in database \"%s\" has no %s stream",
								   get_database_name(MyDatabaseId), model->name),
							errhint("Run ALTER EXTENSION pinpipe UPDATE.")));
		if (m->input == SINK_INPUT_REJECTED)
		{
			if (m->error == NULL || m->sqlstate == NULL)
				elog(ERROR, "pre-rejected message without an error and SQLSTATE");
			SinkReject(&b, m, m->error, m->field, m->sqlstate);
			continue;
		}
		m->outcome = SINK_PENDING;
		m->error = m->field = m->sqlstate = NULL;
		if (m->input == SINK_INPUT_VALIDATED)
		{
			SinkClean(m->stream, m->record, &b.cleaned[i]);
			b.accepted[naccepted++] = i;
			continue;
		}
		scratch = SinkScratch(&b, m->len);
		r = RecordParse(model, m->data, m->len, &rec, scratch);
		if (r != PIN_OK)
		{
			SinkReject(&b, m, RecordErrorsText(model, &rec, r), RecordErrorsField(model, &rec),
					   PinErrorsSqlstate(&rec));
			continue;
		}
		SinkScratchKeep(&b, scratch, rec.scratch_used);
		SinkClean(m->stream, &rec, &b.cleaned[i]);
		b.accepted[naccepted++] = i;
	}

	/* 2. Raw log and cleaned rows; poison records isolated by bisection. */
	SinkInsertRange(&b, 0, naccepted);

	/* 3. Live aggregates and dead letters. */
	SinkWriteAggregates(&b, nmsgs);
	SinkWriteDeadLetters(&b, nmsgs);

	for (int i = 0; i < nmsgs; i++)
	{
		if (msgs[i].outcome == SINK_ACCEPTED)
			counts->accepted++;
		else if (msgs[i].outcome == SINK_DEAD_LETTERED)
			counts->dead_lettered++;
	}
}

void
SinkWriteBatch(SinkSource source, SinkMessage *msgs, int nmsgs, SinkCounts *counts)
{
	MemoryContext caller_cxt = CurrentMemoryContext;
	MemoryContext batch_cxt;

	if (sink_kept_in_use)
	{
		/* nested (a trigger on a pinpipe table ingests): contexts of its own */
		batch_cxt = AllocSetContextCreate(caller_cxt, "pinpipe sink batch", ALLOCSET_DEFAULT_SIZES);
		MemoryContextSwitchTo(batch_cxt);
		SinkWriteBatchIn(source, msgs, nmsgs, counts, caller_cxt, NULL);
		MemoryContextSwitchTo(caller_cxt);
		MemoryContextDelete(batch_cxt);
		return;
	}
	if (sink_kept_cxt == NULL)
	{
		/* one block of the kept size each, which resets do not give back */
		sink_kept_cxt = AllocSetContextCreate(TopMemoryContext, "pinpipe sink batch",
											  SINK_KEEP_BYTES, SINK_KEEP_BYTES, SINK_KEEP_BYTES);
		sink_kept_rows_cxt =
			AllocSetContextCreate(TopMemoryContext, "pinpipe sink rows", SINK_ROWS_KEEP_BYTES,
								  SINK_ROWS_KEEP_BYTES, SINK_ROWS_KEEP_BYTES);
	}
	sink_kept_in_use = true;
	PG_TRY();
	{
		MemoryContextSwitchTo(sink_kept_cxt);
		SinkWriteBatchIn(source, msgs, nmsgs, counts, caller_cxt, sink_kept_rows_cxt);
	}
	PG_FINALLY();
	{
		/* errors were copied to ErrorContext; the message strings live in caller_cxt */
		MemoryContextSwitchTo(caller_cxt);
		MemoryContextReset(sink_kept_cxt);
		MemoryContextReset(sink_kept_rows_cxt);
		sink_kept_in_use = false;
	}
	PG_END_TRY();
}
