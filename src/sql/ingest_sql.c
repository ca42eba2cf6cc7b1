/*
 * ingest_sql.c — the SQL entries to the sink, in the caller's transaction:
 * pinpipe.ingest(jsonb) for one pin or a JSON array of pins, and
 * pinpipe.ingest_text(text) for the same as text, or NDJSON, passed on as is.
 * Their two-argument overloads name the stream ('pin', 'geo', 'user').
 */
#include "postgres.h"

#include "fmgr.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"

#include "pin_json.h"
#include "sink.h"
#include "pg_compat.h"

PG_FUNCTION_INFO_V1(pinpipe_ingest);
PG_FUNCTION_INFO_V1(pinpipe_ingest_text);

/* Messages handed to the sink at once (bounds memory for huge arrays). */
#define INGEST_BATCH 5000

/*
 * ingest(jsonb)'s element texts live in a context kept for the backend (reset
 * per chunk, one block that resets do not give back), as the sink's batch
 * memory does: fresh memory per call cost its page faults every time. A nested
 * call (a trigger on a pinpipe table ingests) gets a context of its own.
 */
#define INGEST_KEEP_BYTES (8 * 1024 * 1024)
static MemoryContext ingest_kept_cxt = NULL;
static bool ingest_kept_in_use = false;

/* The JSON text of one element and its length: containers are serialised, scalars wrapped first. */
static char *
ElementText(JsonbValue *v, size_t *len)
{
	StringInfoData out;

	initStringInfo(&out);
	if (v->type == jbvBinary)
		JsonbToCString(&out, v->val.binary.data, v->val.binary.len);
	else
		JsonbToCString(&out, &JsonbValueToJsonb(v)->root, 0);
	*len = out.len;
	return out.data;
}

/* The (accepted, dead_lettered) result row. */
static Datum
IngestResult(FunctionCallInfo fcinfo, const SinkCounts *counts)
{
	TupleDesc tupdesc;
	Datum values[2];
	bool nulls[2] = {false, false};

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "ingest must return a composite type");
	values[0] = Int64GetDatum(counts->accepted);
	values[1] = Int64GetDatum(counts->dead_lettered);
	return HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(tupdesc), values, nulls));
}

/* The stream named by the optional second argument ('pin' when there is none). */
static SinkStream
IngestStream(FunctionCallInfo fcinfo)
{
	SinkStream stream = SINK_STREAM_PIN;

	if (PG_NARGS() > 1)
	{
		text *name = PG_GETARG_TEXT_PP(1);

		if (!SinkStreamFromName(VARDATA_ANY(name), VARSIZE_ANY_EXHDR(name), &stream))
			ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
							errmsg("unknown stream \"%s\"", text_to_cstring(name)),
							errhint("The streams are 'pin', 'geo' and 'user'.")));
	}
	return stream;
}

/* Collects messages and hands them to the sink INGEST_BATCH at a time. */
typedef struct IngestBuffer
{
	SinkMessage msgs[INGEST_BATCH];
	int n;
	SinkStream stream;
	SinkCounts counts;
} IngestBuffer;

static void
IngestFlush(IngestBuffer *buf)
{
	if (buf->n > 0)
		SinkWriteBatch(SINK_SOURCE_SQL, buf->msgs, buf->n, &buf->counts);
	buf->n = 0;
}

static void
IngestAdd(IngestBuffer *buf, const char *data, size_t len)
{
	memset(&buf->msgs[buf->n], 0, sizeof(SinkMessage));
	buf->msgs[buf->n].data = data;
	buf->msgs[buf->n].len = len;
	buf->msgs[buf->n].stream = buf->stream;
	if (++buf->n == INGEST_BATCH)
		IngestFlush(buf);
}

/*
 * ingest_text(payload text): a JSON array of pins, one pin, or NDJSON (one pin
 * per line; blank lines skipped), told apart by PinBatchOpen. Every element, or
 * line without its surrounding blanks, is one message, written to the raw log as
 * given; a malformed line is a dead letter. Only a one-line malformed array is an
 * error (nothing of it is written).
 */
Datum
pinpipe_ingest_text(PG_FUNCTION_ARGS)
{
	text *t = PG_GETARG_TEXT_PP(0);
	const char *s = VARDATA_ANY(t);
	size_t len = VARSIZE_ANY_EXHDR(t);
	IngestBuffer *buf = palloc(sizeof(IngestBuffer));
	PinBatch batch;
	PinError err;
	const char *rec;
	size_t n;

	buf->n = 0;
	buf->stream = IngestStream(fcinfo);
	buf->counts.accepted = buf->counts.dead_lettered = 0;
	if (!PinBatchOpen(&batch, s, len, &err))
		ereport(ERROR, (errcode(ERRCODE_INVALID_JSON_TEXT),
						errmsg("invalid JSON array of pins: %s", err.msg),
						errdetail("The error is at byte %zu of the input.", err.offset)));
	while (PinBatchNext(&batch, &rec, &n))
		IngestAdd(buf, rec, n);
	IngestFlush(buf);
	PG_RETURN_DATUM(IngestResult(fcinfo, &buf->counts));
}

/* The elements of a jsonb array, as text, to the sink INGEST_BATCH at a time. */
static void
IngestJsonbArray(Jsonb *jb, SinkStream stream, SinkMessage *msgs, uint32 n, MemoryContext chunk_cxt,
				 SinkCounts *counts)
{
	for (uint32 start = 0; start < n; start += INGEST_BATCH)
	{
		uint32 count = Min(n - start, INGEST_BATCH);
		MemoryContext old = MemoryContextSwitchTo(chunk_cxt);

		for (uint32 i = 0; i < count; i++)
		{
			JsonbValue *v = getIthJsonbValueFromContainer(&jb->root, start + i);

			memset(&msgs[i], 0, sizeof(SinkMessage));
			msgs[i].data = ElementText(v, &msgs[i].len);
			msgs[i].stream = stream;
		}
		SinkWriteBatch(SINK_SOURCE_SQL, msgs, (int) count, counts);
		MemoryContextSwitchTo(old);
		MemoryContextReset(chunk_cxt);
	}
}

/* IngestJsonbArray in the kept context, given back (reset) even on error. */
static void
IngestJsonbArrayKept(Jsonb *jb, SinkStream stream, SinkMessage *msgs, uint32 n, SinkCounts *counts)
{
	if (ingest_kept_cxt == NULL)
		ingest_kept_cxt =
			AllocSetContextCreate(TopMemoryContext, "pinpipe ingest", INGEST_KEEP_BYTES,
								  INGEST_KEEP_BYTES, INGEST_KEEP_BYTES);
	ingest_kept_in_use = true;
	PG_TRY();
	{
		IngestJsonbArray(jb, stream, msgs, n, ingest_kept_cxt, counts);
	}
	PG_FINALLY();
	{
		MemoryContextReset(ingest_kept_cxt);
		ingest_kept_in_use = false;
	}
	PG_END_TRY();
}

/* ingest(pins jsonb, OUT accepted bigint, OUT dead_lettered bigint) */
Datum
pinpipe_ingest(PG_FUNCTION_ARGS)
{
	Jsonb *jb = PG_GETARG_JSONB_P(0);
	SinkStream stream = IngestStream(fcinfo);
	SinkCounts counts = {0, 0};

	if (JB_ROOT_IS_ARRAY(jb) && !JB_ROOT_IS_SCALAR(jb))
	{
		uint32 n = JB_ROOT_COUNT(jb);
		SinkMessage *msgs = palloc0(sizeof(SinkMessage) * Min(n, INGEST_BATCH) + 1);

		if (ingest_kept_in_use)
		{
			/* nested: a context of its own */
			MemoryContext chunk_cxt = AllocSetContextCreate(CurrentMemoryContext, "pinpipe ingest",
															ALLOCSET_DEFAULT_SIZES);

			IngestJsonbArray(jb, stream, msgs, n, chunk_cxt, &counts);
			MemoryContextDelete(chunk_cxt);
		}
		else
			IngestJsonbArrayKept(jb, stream, msgs, n, &counts);
	}
	else
	{
		SinkMessage msg;

		memset(&msg, 0, sizeof(msg));
		msg.data = JsonbToCString(NULL, &jb->root, VARSIZE(jb));
		msg.len = strlen(msg.data);
		msg.stream = stream;
		SinkWriteBatch(SINK_SOURCE_SQL, &msg, 1, &counts);
	}

	PG_RETURN_DATUM(IngestResult(fcinfo, &counts));
}
