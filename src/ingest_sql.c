/*
 * ingest_sql.c — pinpipe.ingest(jsonb): the SQL entry to the sink, for one pin
 * or a JSON array of pins, in the caller's transaction.
 */
#include "postgres.h"

#include "fmgr.h"
#include "funcapi.h"
#include "utils/jsonb.h"

#include "sink.h"

PG_FUNCTION_INFO_V1(pinpipe_ingest);

/* Messages handed to the sink at once (bounds memory for huge arrays). */
#define INGEST_BATCH 5000

/* The JSON text of one element: containers are serialised, scalars wrapped first. */
static char *
ElementText(JsonbValue *v)
{
	if (v->type == jbvBinary)
		return JsonbToCString(NULL, v->val.binary.data, v->val.binary.len);
	return JsonbToCString(NULL, &JsonbValueToJsonb(v)->root, 0);
}

/* ingest(pins jsonb, OUT accepted bigint, OUT dead_lettered bigint) */
Datum
pinpipe_ingest(PG_FUNCTION_ARGS)
{
	Jsonb	   *jb = PG_GETARG_JSONB_P(0);
	SinkCounts	counts = {0, 0};
	TupleDesc	tupdesc;
	Datum		values[2];
	bool		nulls[2] = {false, false};

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "ingest must return a composite type");

	if (JB_ROOT_IS_ARRAY(jb) && !JB_ROOT_IS_SCALAR(jb))
	{
		uint32		n = JB_ROOT_COUNT(jb);
		SinkMessage *msgs = palloc0(sizeof(SinkMessage) * Min(n, INGEST_BATCH) + 1);
		MemoryContext chunk_cxt = AllocSetContextCreate(CurrentMemoryContext, "pinpipe ingest",
														ALLOCSET_DEFAULT_SIZES);

		for (uint32 start = 0; start < n; start += INGEST_BATCH)
		{
			uint32		count = Min(n - start, INGEST_BATCH);
			MemoryContext old = MemoryContextSwitchTo(chunk_cxt);

			for (uint32 i = 0; i < count; i++)
			{
				JsonbValue *v = getIthJsonbValueFromContainer(&jb->root, start + i);

				memset(&msgs[i], 0, sizeof(SinkMessage));
				msgs[i].data = ElementText(v);
				msgs[i].len = strlen(msgs[i].data);
			}
			SinkWriteBatch(SINK_SOURCE_SQL, msgs, (int) count, &counts);
			MemoryContextSwitchTo(old);
			MemoryContextReset(chunk_cxt);
		}
		MemoryContextDelete(chunk_cxt);
	}
	else
	{
		SinkMessage msg;

		memset(&msg, 0, sizeof(msg));
		msg.data = JsonbToCString(NULL, &jb->root, VARSIZE(jb));
		msg.len = strlen(msg.data);
		SinkWriteBatch(SINK_SOURCE_SQL, &msg, 1, &counts);
	}

	values[0] = Int64GetDatum(counts.accepted);
	values[1] = Int64GetDatum(counts.dead_lettered);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(tupdesc), values, nulls)));
}
