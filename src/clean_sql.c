/*
 * clean_sql.c — the SQL-callable cleaning functions (DESIGN §5): thin wrappers
 * over clean.c and pin_json.c.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"

#include "clean.h"
#include "pin_datum.h"
#include "pin_json.h"

PG_FUNCTION_INFO_V1(pinpipe_parse_follower_count);
PG_FUNCTION_INFO_V1(pinpipe_parse_tag_list);
PG_FUNCTION_INFO_V1(pinpipe_clean_save_location);
PG_FUNCTION_INFO_V1(pinpipe_clean_pin);
PG_FUNCTION_INFO_V1(pinpipe_clean_pin_text);

/* parse_follower_count(text) → bigint */
Datum
pinpipe_parse_follower_count(PG_FUNCTION_ARGS)
{
	text	   *t = PG_GETARG_TEXT_PP(0);
	int64_t		n;
	bool		flagged;

	if (!CleanFollowerCount(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t), &n, &flagged))
		PG_RETURN_NULL();
	PG_RETURN_INT64(n);
}

/* parse_tag_list(text) → text[] */
Datum
pinpipe_parse_tag_list(PG_FUNCTION_ARGS)
{
	text	   *t = PG_GETARG_TEXT_PP(0);
	CleanText	list, tag;
	bool		flagged;
	size_t		pos = 0;
	int			n, i = 0;
	Datum	   *elems;

	n = CleanTagList(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t), &list, &flagged);
	if (n == 0)
		PG_RETURN_NULL();
	elems = palloc(sizeof(Datum) * n);
	while (i < n && CleanTagNext(list, &pos, &tag))
		elems[i++] = PointerGetDatum(cstring_to_text_with_len(tag.ptr, (int) tag.len));
	PG_RETURN_ARRAYTYPE_P(construct_array(elems, i, TEXTOID, -1, false, TYPALIGN_INT));
}

/* clean_save_location(text) → text */
Datum
pinpipe_clean_save_location(PG_FUNCTION_ARGS)
{
	text	   *t = PG_GETARG_TEXT_PP(0);
	bool		flagged;
	CleanText	c = CleanSaveLocation(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t), &flagged);

	if (c.ptr == NULL)
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(cstring_to_text_with_len(c.ptr, (int) c.len));
}

/* Validate and clean one pin given as JSON text; the composite result of clean_pin. */
static Datum
CleanPinDatum(FunctionCallInfo fcinfo, const char *json, size_t len)
{
	TupleDesc	tupdesc;
	PinRecord	rec;
	CleanPin	pin;
	PinParseResult r;
	Datum		values[PIN_DATUM_NCOLS];
	bool		nulls[PIN_DATUM_NCOLS];
	char	   *scratch = palloc(PIN_SCRATCH_SIZE(len));

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "clean_pin must return a composite type");
	r = PinParse(json, len, &rec, scratch);
	if (r != PIN_OK)
		PinReportErrors(&rec, r);
	CleanPinRecord(&rec, &pin);
	PinDatumsFromClean(&pin, values, nulls);
	return HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(tupdesc), values, nulls));
}

/* clean_pin(jsonb) → record */
Datum
pinpipe_clean_pin(PG_FUNCTION_ARGS)
{
	Jsonb	   *jb = PG_GETARG_JSONB_P(0);
	char	   *json = JsonbToCString(NULL, &jb->root, VARSIZE(jb));

	PG_RETURN_DATUM(CleanPinDatum(fcinfo, json, strlen(json)));
}

/* clean_pin(text) → record: the same over JSON text, e.g. raw_pins.payload */
Datum
pinpipe_clean_pin_text(PG_FUNCTION_ARGS)
{
	text	   *t = PG_GETARG_TEXT_PP(0);

	PG_RETURN_DATUM(CleanPinDatum(fcinfo, VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t)));
}
