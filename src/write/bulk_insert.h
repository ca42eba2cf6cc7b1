/*
 * bulk_insert.h — multi-row inserts into one table, the way COPY FROM does them:
 * heap multi-insert, then index entries, constraints and triggers honoured.
 *
 * Columns are addressed by name (BulkWriterColumn), so a table that gained
 * columns still loads (they get NULL). Checks INSERT privilege on open, and
 * refuses (42501) a table whose row-level security policies apply to the user:
 * it never writes past them.
 * Needs a transaction with an active snapshot.
 */
#ifndef BULK_INSERT_H
#define BULK_INSERT_H

#include "postgres.h"

#include "utils/relcache.h"

typedef struct BulkWriter BulkWriter;

/* Open relid for bulk inserts of up to `capacity` buffered rows. */
extern BulkWriter *BulkWriterOpen(Oid relid, int capacity);

/* Attribute index (0-based) of column `name`, for filling row arrays; error if absent. */
extern int BulkWriterColumn(BulkWriter *w, const char *name);

/* The same, or -1 when the table has no such column (one an older schema lacks). */
extern int BulkWriterFindColumn(BulkWriter *w, const char *name);

/* Number of attributes of a row (size of the values/nulls arrays). */
extern int BulkWriterNatts(BulkWriter *w);

/* Buffer one row (values/nulls have BulkWriterNatts entries; Datums must stay valid until flushed).
 */
extern void BulkWriterAdd(BulkWriter *w, const Datum *values, const bool *nulls);

/* Write the buffered rows (heap, indexes, AFTER triggers). */
extern void BulkWriterFlush(BulkWriter *w);

/* Flush and release everything (the table's lock is kept until transaction end). */
extern void BulkWriterClose(BulkWriter *w);

#endif /* BULK_INSERT_H */
