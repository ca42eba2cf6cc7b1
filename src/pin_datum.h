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

/* The columns of pinpipe.clean_pin() / the cleaned part of pinpipe.pins, in order. */
#define PIN_DATUM_NCOLS 13
extern const char *const pin_datum_columns[PIN_DATUM_NCOLS];

/* Fill values/nulls (PIN_DATUM_NCOLS each) from a cleaned pin; palloc's in the current context. */
extern void PinDatumsFromClean(const CleanPin *pin, Datum *values, bool *nulls);

/* Raise the parse/validation error of rec as an ERROR with its SQLSTATE, naming the field. */
extern void PinReportErrors(const PinRecord *rec, PinParseResult result) pg_attribute_noreturn();

/* The errors of rec as one line of text (for dead letters); palloc'd. */
extern char *PinErrorsText(const PinRecord *rec, PinParseResult result);

/* The SQLSTATE text of rec's first error. */
extern const char *PinErrorsSqlstate(const PinRecord *rec);

/* The field of rec's first error, or NULL if it is about the whole body. */
extern const char *PinErrorsField(const PinRecord *rec);

#endif /* PIN_DATUM_H */
