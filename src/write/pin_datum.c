/*
 * pin_datum.c — cleaned pins as Datums and validation errors as PostgreSQL
 * errors (see pin_datum.h).
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "lib/stringinfo.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"
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

/* The error_fields array of a mask over a model's fields. */
static Datum
ErrorFieldsDatum(const RecordModel *m, uint32_t mask)
{
	Datum errs[PIN_NFIELDS];
	int nerrs = 0;

	for (int f = 0; f < m->nfields; f++)
		if (mask & (1u << f))
			errs[nerrs++] = CStringGetTextDatum(m->field_names[f]);
	return TextArrayDatum(errs, nerrs);
}

/* Microseconds since the Unix epoch (clean.c) as a timestamptz. */
static Datum
UnixMicrosDatum(int64_t usec)
{
	return TimestampTzGetDatum(
		(TimestampTz) (usec - (int64) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * USECS_PER_DAY));
}

void
GeoDatumsFromClean(const CleanGeo *geo, Datum *values, bool *nulls)
{
	memset(nulls, 0, sizeof(bool) * GEO_DATUM_NCOLS);
	values[0] = Int32GetDatum(geo->ind);
	nulls[1] = geo->timestamp_null;
	values[1] = geo->timestamp_null ? (Datum) 0 : UnixMicrosDatum(geo->timestamp);
	nulls[2] = geo->latitude_null;
	values[2] = Float8GetDatum(geo->latitude);
	nulls[3] = geo->longitude_null;
	values[3] = Float8GetDatum(geo->longitude);
	nulls[4] = geo->latitude_null || geo->longitude_null;
	if (!nulls[4])
	{
		Datum pair[2] = {Float8GetDatum(geo->latitude), Float8GetDatum(geo->longitude)};

		values[4] = PointerGetDatum(
			construct_array(pair, 2, FLOAT8OID, sizeof(float8), FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	}
	values[5] = TextDatum(geo->country, &nulls[5]);
	values[6] = ErrorFieldsDatum(&geo_model, geo->error_mask);
}

void
UserDatumsFromClean(const CleanUser *user, Datum *values, bool *nulls)
{
	memset(nulls, 0, sizeof(bool) * USER_DATUM_NCOLS);
	values[0] = Int32GetDatum(user->ind);
	values[1] = TextDatum(user->first_name, &nulls[1]);
	values[2] = TextDatum(user->last_name, &nulls[2]);
	nulls[3] = nulls[1] || nulls[2]; /* first_name || ' ' || last_name, as SQL would */
	if (!nulls[3])
	{
		size_t n = user->first_name.len + 1 + user->last_name.len;
		text *t = palloc(VARHDRSZ + n);

		SET_VARSIZE(t, VARHDRSZ + n);
		memcpy(VARDATA(t), user->first_name.ptr, user->first_name.len);
		VARDATA(t)[user->first_name.len] = ' ';
		memcpy(VARDATA(t) + user->first_name.len + 1, user->last_name.ptr, user->last_name.len);
		values[3] = PointerGetDatum(t);
	}
	values[4] = Int32GetDatum(user->age);
	nulls[5] = user->date_joined_null;
	values[5] = user->date_joined_null ? (Datum) 0 : UnixMicrosDatum(user->date_joined);
	values[6] = ErrorFieldsDatum(&user_model, user->error_mask);
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
	return RecordErrorsField(&pin_model, rec);
}

const char *
RecordErrorsField(const RecordModel *m, const PinRecord *rec)
{
	if (rec->nerrors == 0 || rec->errors[0].field == PIN_FIELD_BODY)
		return NULL;
	return m->field_names[rec->errors[0].field];
}

/* What the messages call a record of the model: "pin", "geo record", "user record". */
static const char *
RecordLabel(const RecordModel *m)
{
	return m == &pin_model ? "pin" : psprintf("%s record", m->name);
}

char *
PinErrorsText(const PinRecord *rec, PinParseResult result)
{
	return RecordErrorsText(&pin_model, rec, result);
}

char *
RecordErrorsText(const RecordModel *m, const PinRecord *rec, PinParseResult result)
{
	size_t n = RecordErrorsFormat(m, rec, result, NULL, 0);
	char *text = palloc(n + 1);

	RecordErrorsFormat(m, rec, result, text, n + 1);
	return text;
}

void
PinReportErrors(const PinRecord *rec, PinParseResult result)
{
	RecordReportErrors(&pin_model, rec, result);
}

void
RecordReportErrors(const RecordModel *m, const PinRecord *rec, PinParseResult result)
{
	const PinError *e = &rec->errors[0];
	const char *label = RecordLabel(m);

	if (result == PIN_BAD_JSON)
		ereport(ERROR, (errcode(SqlstateCode(e->sqlstate)),
						errmsg("invalid JSON in %s: %s", label, e->msg),
						errdetail("The error is at byte %zu of the input.", e->offset)));
	if (e->field == PIN_FIELD_BODY)
		ereport(ERROR,
				(errcode(SqlstateCode(e->sqlstate)), errmsg("invalid %s: %s", label, e->msg),
				 m == &pin_model
					 ? errhint("A pin is a JSON object with the fields of the reference model.")
					 : errhint("A %s is a JSON object with the fields of the %s model.", label,
							   m->name)));
	ereport(ERROR, (errcode(SqlstateCode(e->sqlstate)),
					errmsg("invalid %s: field \"%s\": %s", label, m->field_names[e->field], e->msg),
					rec->nerrors > 1 ? errdetail("%s.", RecordErrorsText(m, rec, result)) : 0));
}
