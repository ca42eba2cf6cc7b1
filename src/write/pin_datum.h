/*
 * pin_datum.h — pins in PostgreSQL terms: the cleaned columns as Datums, and
 * validation errors as ereport()s or dead-letter text. Shared by the SQL
 * functions (clean_sql.c) and the sink (sink.c), so both produce identical rows.
 */
#ifndef PIN_DATUM_H
#define PIN_DATUM_H

#include "postgres.h"

#include "clean.h"
#include "pg_compat.h"
#include "pin_json.h"

/*
 * The cleaned columns: the attributes of type pinpipe.cleaned_pin (clean_pin's
 * result; sql/install/10_cleaning.sql), which also name the cleaned part of
 * pinpipe.pins. Their order is the one of PinDatumsFromClean.
 */
#define PIN_DATUM_NCOLS 13

/* Fill values/nulls (PIN_DATUM_NCOLS each, in cleaned_pin's order) from a cleaned pin; palloc's. */
extern void PinDatumsFromClean(const CleanPin *pin, Datum *values, bool *nulls);

/*
 * The cleaned columns of the other streams: types pinpipe.cleaned_geo
 * (ind, timestamp, latitude, longitude, coordinates, country, error_fields) and
 * pinpipe.cleaned_user (ind, first_name, last_name, user_name, age, date_joined,
 * error_fields), which also name the cleaned part of pinpipe.geo and pinpipe.users.
 */
#define GEO_DATUM_NCOLS 7
#define USER_DATUM_NCOLS 7

extern void GeoDatumsFromClean(const CleanGeo *geo, Datum *values, bool *nulls);
extern void UserDatumsFromClean(const CleanUser *user, Datum *values, bool *nulls);

/* The Record* forms of the error functions below, for any model's record. */
extern void RecordReportErrors(const RecordModel *m, const PinRecord *rec, PinParseResult result)
	pg_attribute_noreturn();
extern char *RecordErrorsText(const RecordModel *m, const PinRecord *rec, PinParseResult result);
extern const char *RecordErrorsField(const RecordModel *m, const PinRecord *rec);

/* Raise the parse/validation error of rec as an ERROR with its SQLSTATE, naming the field. */
extern void PinReportErrors(const PinRecord *rec, PinParseResult result) pg_attribute_noreturn();

/* The errors of rec as one line of text (for dead letters); palloc'd. */
extern char *PinErrorsText(const PinRecord *rec, PinParseResult result);

/* The SQLSTATE text of rec's first error. */
extern const char *PinErrorsSqlstate(const PinRecord *rec);

/* The field of rec's first error, or NULL if it is about the whole body. */
extern const char *PinErrorsField(const PinRecord *rec);

#endif /* PIN_DATUM_H */
