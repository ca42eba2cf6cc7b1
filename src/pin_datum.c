/*
 * pin_datum.c — cleaned pins as Datums and validation errors as PostgreSQL
 * errors (see pin_datum.h).
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "lib/stringinfo.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/uuid.h"

#include "pin_datum.h"

/* A text Datum from a slice; sets *isnull for a NULL slice. */
static Datum
TextDatum(CleanText t, bool *isnull)
{
	*isnull = (t.ptr == NULL);
	return *isnull ? (Datum) 0 : PointerGetDatum(cstring_to_text_with_len(t.ptr, (int) t.len));
}

static Datum
TextArrayDatum(Datum *elems, int n)
{
	return PointerGetDatum(construct_array(elems, n, TEXTOID, -1, false, TYPALIGN_INT));
}

void
PinDatumsFromClean(const CleanPin *pin, Datum *values, bool *nulls)
{
	pg_uuid_t *uuid = palloc(sizeof(pg_uuid_t));
	Datum errs[PIN_NFIELDS];
	int nerrs = 0;

	memcpy(uuid->data, pin->unique_id, UUID_LEN);
	memset(nulls, 0, sizeof(bool) * PIN_DATUM_NCOLS);

	values[0] = Int32GetDatum(pin->ind);
	values[1] = UUIDPGetDatum(uuid);
	values[2] = TextDatum(pin->title, &nulls[2]);
	values[3] = TextDatum(pin->description, &nulls[3]);
	values[4] = TextDatum(pin->poster_name, &nulls[4]);
	nulls[5] = pin->follower_count_null;
	values[5] = Int64GetDatum(pin->follower_count);
	if (pin->ntags == 0)
		nulls[6] = true;
	else
	{
		Datum *tags = palloc(sizeof(Datum) * pin->ntags);
		CleanText tag;
		size_t pos = 0;
		int n = 0;

		while (n < pin->ntags && CleanTagNext(pin->tag_list, &pos, &tag))
			tags[n++] = PointerGetDatum(cstring_to_text_with_len(tag.ptr, (int) tag.len));
		values[6] = TextArrayDatum(tags, n);
	}
	values[7] = TextDatum(pin->is_image_or_video, &nulls[7]);
	values[8] = TextDatum(pin->image_src, &nulls[8]);
	values[9] = Int32GetDatum(pin->downloaded);
	values[10] = TextDatum(pin->save_location, &nulls[10]);
	values[11] = TextDatum(pin->category, &nulls[11]);
	for (int f = 0; f < PIN_NFIELDS; f++)
		if (pin->error_mask & (1u << f))
			errs[nerrs++] = CStringGetTextDatum(pin_field_names[f]);
	values[12] = TextArrayDatum(errs, nerrs);
}

static int
SqlstateCode(const char *s)
{
	return MAKE_SQLSTATE(s[0], s[1], s[2], s[3], s[4]);
}

const char *
PinErrorsSqlstate(const PinRecord *rec)
{
	return rec->nerrors > 0 ? rec->errors[0].sqlstate : "22023";
}

const char *
PinErrorsField(const PinRecord *rec)
{
	if (rec->nerrors == 0 || rec->errors[0].field == PIN_FIELD_BODY)
		return NULL;
	return pin_field_names[rec->errors[0].field];
}

char *
PinErrorsText(const PinRecord *rec, PinParseResult result)
{
	StringInfoData buf;

	initStringInfo(&buf);
	if (result == PIN_BAD_JSON)
	{
		appendStringInfo(&buf, "invalid JSON: %s at byte %zu", rec->errors[0].msg,
						 rec->errors[0].offset);
		return buf.data;
	}
	appendStringInfoString(&buf, "invalid pin: ");
	for (int i = 0; i < rec->nerrors; i++)
	{
		const PinError *e = &rec->errors[i];

		if (i > 0)
			appendStringInfoString(&buf, "; ");
		if (e->field == PIN_FIELD_BODY)
			appendStringInfo(&buf, "body: %s", e->msg);
		else
			appendStringInfo(&buf, "field \"%s\": %s", pin_field_names[e->field], e->msg);
	}
	return buf.data;
}

void
PinReportErrors(const PinRecord *rec, PinParseResult result)
{
	const PinError *e = &rec->errors[0];

	if (result == PIN_BAD_JSON)
		ereport(ERROR,
				(errcode(SqlstateCode(e->sqlstate)), errmsg("invalid JSON in pin: %s", e->msg),
				 errdetail("The error is at byte %zu of the input.", e->offset)));
	if (e->field == PIN_FIELD_BODY)
		ereport(ERROR, (errcode(SqlstateCode(e->sqlstate)), errmsg("invalid pin: %s", e->msg),
						errhint("A pin is a JSON object with the fields of the reference model.")));
	ereport(ERROR, (errcode(SqlstateCode(e->sqlstate)),
					errmsg("invalid pin: field \"%s\": %s", pin_field_names[e->field], e->msg),
					rec->nerrors > 1 ? errdetail("%s.", PinErrorsText(rec, result)) : 0));
}
