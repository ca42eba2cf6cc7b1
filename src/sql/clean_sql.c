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
#include "utils/numeric.h"

#include "clean.h"
#include "pin_datum.h"
#include "pin_json.h"
#include "pg_compat.h"

PG_FUNCTION_INFO_V1(pinpipe_parse_follower_count);
PG_FUNCTION_INFO_V1(pinpipe_parse_tag_list);
PG_FUNCTION_INFO_V1(pinpipe_clean_save_location);
PG_FUNCTION_INFO_V1(pinpipe_media_class);
PG_FUNCTION_INFO_V1(pinpipe_clean_pin);
PG_FUNCTION_INFO_V1(pinpipe_clean_pin_text);
PG_FUNCTION_INFO_V1(pinpipe_clean_geo);
PG_FUNCTION_INFO_V1(pinpipe_clean_geo_text);
PG_FUNCTION_INFO_V1(pinpipe_clean_user);
PG_FUNCTION_INFO_V1(pinpipe_clean_user_text);

/* parse_follower_count(text) → bigint */
Datum
pinpipe_parse_follower_count(PG_FUNCTION_ARGS)
{
	text *t = PG_GETARG_TEXT_PP(0);
	int64_t n;
	bool flagged;

	if (!CleanFollowerCount(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t), &n, &flagged))
		PG_RETURN_NULL();
	PG_RETURN_INT64(n);
}

/* parse_tag_list(text) → text[] */
Datum
pinpipe_parse_tag_list(PG_FUNCTION_ARGS)
{
	text *t = PG_GETARG_TEXT_PP(0);
	CleanText list, tag;
	bool flagged;
	size_t pos = 0;
	int n, i = 0;
	Datum *elems;

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
	text *t = PG_GETARG_TEXT_PP(0);
	bool flagged;
	CleanText c = CleanSaveLocation(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t), &flagged);

	if (c.ptr == NULL)
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(cstring_to_text_with_len(c.ptr, (int) c.len));
}

/* media_class(text) → text: 'image', 'video', 'story' or 'other' (clean.c's one rule) */
Datum
pinpipe_media_class(PG_FUNCTION_ARGS)
{
	text *t = PG_GETARG_TEXT_PP(0);

	PG_RETURN_TEXT_P(
		cstring_to_text(clean_media_names[CleanMediaClass(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t))]));
}

/* The result descriptor of a clean_* function, built once per query (it is costly), not per row. */
static TupleDesc
CleanResultDesc(FunctionCallInfo fcinfo)
{
	TupleDesc tupdesc = (TupleDesc) fcinfo->flinfo->fn_extra;

	if (tupdesc == NULL)
	{
		MemoryContext old = MemoryContextSwitchTo(fcinfo->flinfo->fn_mcxt);

		if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
			elog(ERROR, "a clean function must return a composite type");
		tupdesc = BlessTupleDesc(CreateTupleDescCopy(tupdesc));
		fcinfo->flinfo->fn_extra = tupdesc;
		MemoryContextSwitchTo(old);
	}
	return tupdesc;
}

/* The composite result of clean_pin for a parsed record. */
static Datum
CleanPinResult(FunctionCallInfo fcinfo, const PinRecord *rec, PinParseResult r)
{
	TupleDesc tupdesc = CleanResultDesc(fcinfo);
	CleanPin pin;
	Datum values[PIN_DATUM_NCOLS];
	bool nulls[PIN_DATUM_NCOLS];

	if (r != PIN_OK)
		PinReportErrors(rec, r);
	CleanPinRecord(rec, &pin);
	PinDatumsFromClean(&pin, values, nulls);
	return HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls));
}

/*
 * A field of a jsonb object as a PinValue: strings are already decoded, numbers
 * are given as their numeric text.
 */
static PinValue
JsonbFieldValue(Jsonb *jb, const char *name)
{
	JsonbValue buf;
	JsonbValue *v = getKeyJsonValueFromContainer(&jb->root, name, strlen(name), &buf);
	PinValue pv;

	memset(&pv, 0, sizeof(pv));
	if (v == NULL)
		return pv;
	switch (v->type)
	{
		case jbvString:
			pv.kind = PIN_VALUE_STRING;
			pv.ptr = v->val.string.val;
			pv.len = v->val.string.len;
			break;
		case jbvNumeric:
			pv.kind = PIN_VALUE_NUMBER;
			pv.ptr =
				DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(v->val.numeric)));
			pv.len = strlen(pv.ptr);
			pv.is_integer = strpbrk(pv.ptr, ".eE") == NULL;
			break;
		case jbvBool:
			pv.kind = v->val.boolean ? PIN_VALUE_TRUE : PIN_VALUE_FALSE;
			break;
		case jbvNull:
			pv.kind = PIN_VALUE_NULL;
			break;
		default:
			pv.kind = (v->type == jbvBinary && JsonContainerIsObject(v->val.binary.data))
						  ? PIN_VALUE_OBJECT
						  : PIN_VALUE_ARRAY;
			break;
	}
	return pv;
}

/* Validate a jsonb record against a model, reading the fields straight from the jsonb. */
static PinParseResult
JsonbValidate(const RecordModel *m, Jsonb *jb, PinRecord *rec)
{
	if (JB_ROOT_IS_OBJECT(jb))
	{
		PinValue values[PIN_NFIELDS];

		for (int f = 0; f < m->nfields; f++)
			values[f] = JsonbFieldValue(jb, m->field_names[f]);
		return RecordValidate(m, values, rec, palloc(PIN_SCRATCH_SIZE(0)));
	}
	else
	{
		/* not an object: let the JSON reader give the usual error */
		char *json = JsonbToCString(NULL, &jb->root, VARSIZE(jb));

		return RecordParse(m, json, strlen(json), rec, palloc(PIN_SCRATCH_SIZE(strlen(json))));
	}
}

/* clean_pin(jsonb) → record */
Datum
pinpipe_clean_pin(PG_FUNCTION_ARGS)
{
	PinRecord rec;
	PinParseResult r = JsonbValidate(&pin_model, PG_GETARG_JSONB_P(0), &rec);

	PG_RETURN_DATUM(CleanPinResult(fcinfo, &rec, r));
}

/* clean_pin(text) → record: the same over JSON text, e.g. raw_pins.payload */
Datum
pinpipe_clean_pin_text(PG_FUNCTION_ARGS)
{
	text *t = PG_GETARG_TEXT_PP(0);
	size_t len = VARSIZE_ANY_EXHDR(t);
	PinRecord rec;
	PinParseResult r = PinParse(VARDATA_ANY(t), len, &rec, palloc(PIN_SCRATCH_SIZE(len)));

	PG_RETURN_DATUM(CleanPinResult(fcinfo, &rec, r));
}

/* The composite result of clean_geo / clean_user for a record of that model. */
static Datum
CleanStreamResult(FunctionCallInfo fcinfo, const RecordModel *m, const PinRecord *rec,
				  PinParseResult r)
{
	TupleDesc tupdesc = CleanResultDesc(fcinfo);
	Datum values[Max(GEO_DATUM_NCOLS, USER_DATUM_NCOLS)];
	bool nulls[Max(GEO_DATUM_NCOLS, USER_DATUM_NCOLS)];

	if (r != PIN_OK)
		RecordReportErrors(m, rec, r);
	if (m == &geo_model)
	{
		CleanGeo geo;

		CleanGeoRecord(rec, &geo);
		GeoDatumsFromClean(&geo, values, nulls);
	}
	else
	{
		CleanUser user;

		CleanUserRecord(rec, &user);
		UserDatumsFromClean(&user, values, nulls);
	}
	return HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls));
}

/* clean_geo / clean_user over JSON text (e.g. raw_pins.payload). */
static Datum
CleanStreamText(FunctionCallInfo fcinfo, const RecordModel *m)
{
	text *t = PG_GETARG_TEXT_PP(0);
	size_t len = VARSIZE_ANY_EXHDR(t);
	PinRecord rec;
	PinParseResult r = RecordParse(m, VARDATA_ANY(t), len, &rec, palloc(PIN_SCRATCH_SIZE(len)));

	return CleanStreamResult(fcinfo, m, &rec, r);
}

/* clean_geo(jsonb) → pinpipe.cleaned_geo */
Datum
pinpipe_clean_geo(PG_FUNCTION_ARGS)
{
	PinRecord rec;
	PinParseResult r = JsonbValidate(&geo_model, PG_GETARG_JSONB_P(0), &rec);

	PG_RETURN_DATUM(CleanStreamResult(fcinfo, &geo_model, &rec, r));
}

/* clean_geo(text) → pinpipe.cleaned_geo */
Datum
pinpipe_clean_geo_text(PG_FUNCTION_ARGS)
{
	PG_RETURN_DATUM(CleanStreamText(fcinfo, &geo_model));
}

/* clean_user(jsonb) → pinpipe.cleaned_user */
Datum
pinpipe_clean_user(PG_FUNCTION_ARGS)
{
	PinRecord rec;
	PinParseResult r = JsonbValidate(&user_model, PG_GETARG_JSONB_P(0), &rec);

	PG_RETURN_DATUM(CleanStreamResult(fcinfo, &user_model, &rec, r));
}

/* clean_user(text) → pinpipe.cleaned_user */
Datum
pinpipe_clean_user_text(PG_FUNCTION_ARGS)
{
	PG_RETURN_DATUM(CleanStreamText(fcinfo, &user_model));
}
