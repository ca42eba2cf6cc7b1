/*
 * prom_format.h — Prometheus text exposition format (version 0.0.4) writer.
 *
 * Pure C, no PostgreSQL headers: helpers that write metric families (HELP/TYPE
 * lines, samples, histograms) with correctly escaped label values into a
 * StrBuf (strbuf.h; allocation failure is sticky, so callers check once at the
 * end). Used by metrics.c for GET /metrics.
 */
#ifndef PROM_FORMAT_H
#define PROM_FORMAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "strbuf.h"

/* The # HELP and # TYPE lines of a family (type: counter, gauge, histogram). */
extern void PromFamily(StrBuf *buf, const char *name, const char *type, const char *help);

/*
 * Label set builder: PromLabels(out, cap, n, keys, values) writes
 * `k1="v1",k2="v2"` with values escaped (\\, \", \n); returns false if it
 * did not fit.
 */
extern bool PromLabels(char *out, size_t cap, int n, const char *const *keys,
					   const char *const *values);

/* One sample line: name{labels} value (labels may be NULL or empty). */
extern void PromSampleInt(StrBuf *buf, const char *name, const char *labels, int64_t value);
extern void PromSampleDouble(StrBuf *buf, const char *name, const char *labels, double value);

/*
 * A histogram's sample lines. counts[] are per-bucket (not cumulative) with
 * nbounds + 1 entries, the last one for +Inf; this writes the cumulative
 * _bucket lines, _sum and _count.
 */
extern void PromHistogram(StrBuf *buf, const char *name, const char *labels, const double *bounds,
						  int nbounds, const int64_t *counts, double sum);

#endif /* PROM_FORMAT_H */
