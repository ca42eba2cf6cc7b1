#!/usr/bin/env python3
"""bench/perf_phases.py — a perf profile (recorded with --call-graph dwarf) summed by
phase of the write path: each sample goes to the innermost frame of its stack that
names a phase (PostgreSQL's own binary is stripped, so static functions have no name;
their samples go to the nearest named caller). Prints percent of samples per phase.

    perf script -F ip,sym -i perf.data | python3 bench/perf_phases.py
"""
import collections
import sys

# (phase, prefixes of function names), innermost match wins; order breaks ties in one frame;
# a trailing * matches a prefix.
PHASES = [
    ("commit (WAL flush)", ["XLogFlush", "CommitTransactionCommand", "CommitTransaction"]),
    ("nextval (raw_pins.id)", ["nextval_internal"]),
    ("index entries", ["ExecInsertIndexTuples", "PinpipeInsertIndexTuples", "index_insert",
                       "_bt_doinsert", "brininsert"]),
    ("heap insert (tuples, pages, WAL)", ["heap_multi_insert", "heap_insert", "table_multi_insert",
                                          "CopyMultiInsertBufferFlush"]),
    ("constraints (NOT NULL, CHECK)", ["ExecConstraints"]),
    ("category_minute upsert", ["SinkWriteAggregates", "SPI_execute_plan"]),
    ("parse JSON + clean (pinpipe)", ["RecordParse", "PinParse", "CleanPinRecord", "SinkClean",
                                      "RecordValidate", "RecordFromJsonb"]),
    ("row values (Datums, text copies)", ["PinDatumsFromClean", "SinkCleanedDatums",
                                          "cstring_to_text_with_len", "SinkInsertRows",
                                          "BulkWriterAdd", "SinkRowWriter"]),
    ("COPY: read + parse columns", ["NextCopyFrom", "CopyReadLine", "InputFunctionCall",
                                    "CopyFromTextLikeOneRow", "NextCopyFromRawFields"]),
    ("jsonb -> text (ingest(jsonb))", ["JsonbToCString", "ElementText", "JsonbToCStringWorker"]),
    ("jsonb element access", ["getIthJsonbValueFromContainer", "fillJsonbValue"]),
    ("input detoast / scan", ["pg_detoast_datum", "detoast_attr", "heap_tuple_untoast_attr",
                              "toast_fetch_datum", "ExecScan", "heapgettup"]),
    ("memory (palloc/free, page faults)", ["palloc", "palloc0", "MemoryContextDelete",
                                           "MemoryContextReset", "MemoryContextResetOnly",
                                           "pfree", "AllocSetReset", "AllocSetDelete"]),
    ("sink batch (other)", ["SinkWriteBatch", "SinkInsertRange"]),
    ("COPY (other)", ["CopyFrom", "DoCopy"]),
    ("ingest call (other)", ["pinpipe_ingest_text", "pinpipe_ingest"]),
    ("consumer: offsets row update", ["ConsumerOffsetsStore"]),
    ("consumer: decompression", ["ZSTD_*", "LZ4_*", "inflate*", "snappy*", "rd_kafka_lz4*",
                                 "rd_kafka_zstd*", "rd_kafka_gzip*", "rd_kafka_snappy*"]),
    ("consumer: librdkafka threads (fetch, parse)", ["rd_kafka_*", "rd_*"]),
    ("consumer: batch loop (other)", ["ConsumerWriteBatchTx", "ConsumerWriteBatch", "Consumer*"]),
]


def phase_of(frames):
    for sym in frames:  # innermost first
        name = sym.split("+")[0].replace(" (inlined)", "")
        for phase, prefixes in PHASES:
            if any(name == p or (p.endswith("*") and name.startswith(p[:-1])) for p in prefixes):
                return phase
    return "other (executor, idle, unresolved)"


def main():
    counts = collections.Counter()
    total = 0
    for block in sys.stdin.read().split("\n\n"):
        frames = []
        for line in block.strip().split("\n"):
            parts = line.strip().split(None, 1)
            if len(parts) == 2:
                frames.append(parts[1])
        if not frames:
            continue
        total += 1
        counts[phase_of(frames)] += 1
    for phase, n in counts.most_common():
        print(f"{100.0 * n / max(total, 1):6.1f}%  {phase}")
    print(f"({total} samples)")


if __name__ == "__main__":
    main()
