/*
 * cluster_sql.c — pinpipe.system_identifier(): the identity of the cluster a
 * transaction id belongs to.
 *
 * raw_pins.xact_id is only meaningful inside the cluster that assigned it: a
 * logical restore into another cluster (or pg_upgrade) keeps the numbers but
 * restarts or moves the counter. The batch layer therefore keeps the system
 * identifier of pg_control with every transaction id it compares (raw_pins.
 * xact_cluster, batch_state.watermark_cluster); see docs/batch.md. A physical
 * copy (pg_basebackup, a standby) keeps both the identifier and the counter.
 */
#include "postgres.h"

#include "access/xlog.h"
#include "fmgr.h"

#include "pg_compat.h"

PG_FUNCTION_INFO_V1(pinpipe_system_identifier);

/* system_identifier() → bigint, as pg_control_system() shows it (without reading pg_control) */
Datum
pinpipe_system_identifier(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT64((int64) GetSystemIdentifier());
}
