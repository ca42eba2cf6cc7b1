/*
 * prom_format.c — Prometheus text format writer (see prom_format.h).
 *
 * No backend state: safe to unit-test outside the server.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "prom_format.h"

void
PromFamily(StrBuf *buf, const char *name, const char *type, const char *help)
{
	StrBufPrintf(buf, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

bool
PromLabels(char *out, size_t cap, int n, const char *const *keys, const char *const *values)
{
	size_t o = 0;

	if (cap == 0)
		return false;
	for (int i = 0; i < n; i++)
	{
		const char *v = values[i] ? values[i] : "";
		size_t klen = strlen(keys[i]);

		/* key=" plus a comma */
		if (o + klen + 3 >= cap)
			goto overflow;
		if (i > 0)
			out[o++] = ',';
		memcpy(out + o, keys[i], klen);
		o += klen;
		out[o++] = '=';
		out[o++] = '"';
		for (; *v; v++)
		{
			const char *esc = NULL;

			if (*v == '\\')
				esc = "\\\\";
			else if (*v == '"')
				esc = "\\\"";
			else if (*v == '\n')
				esc = "\\n";
			if (o + 3 >= cap)
				goto overflow;
			if (esc)
			{
				out[o++] = esc[0];
				out[o++] = esc[1];
			}
			else
				out[o++] = *v;
		}
		if (o + 2 >= cap)
			goto overflow;
		out[o++] = '"';
	}
	out[o] = '\0';
	return true;

overflow:
	out[0] = '\0';
	return false;
}

void
PromSampleInt(StrBuf *buf, const char *name, const char *labels, int64_t value)
{
	if (labels && labels[0])
		StrBufPrintf(buf, "%s{%s} %lld\n", name, labels, (long long) value);
	else
		StrBufPrintf(buf, "%s %lld\n", name, (long long) value);
}

/* A float the way Prometheus parses it (Go's ParseFloat: +Inf, -Inf, NaN). */
static void
PromFormatDouble(char *out, size_t cap, double v)
{
	if (isnan(v))
		snprintf(out, cap, "NaN");
	else if (isinf(v))
		snprintf(out, cap, v > 0 ? "+Inf" : "-Inf");
	else
		snprintf(out, cap, "%.9g", v);
}

void
PromSampleDouble(StrBuf *buf, const char *name, const char *labels, double value)
{
	char num[64];

	PromFormatDouble(num, sizeof(num), value);
	if (labels && labels[0])
		StrBufPrintf(buf, "%s{%s} %s\n", name, labels, num);
	else
		StrBufPrintf(buf, "%s %s\n", name, num);
}

void
PromHistogram(StrBuf *buf, const char *name, const char *labels, const double *bounds, int nbounds,
			  const int64_t *counts, double sum)
{
	int64_t cum = 0;
	const char *sep = (labels && labels[0]) ? "," : "";
	const char *lab = labels ? labels : "";

	for (int i = 0; i <= nbounds; i++)
	{
		char le[64];

		cum += counts[i];
		if (i < nbounds)
			PromFormatDouble(le, sizeof(le), bounds[i]);
		else
			snprintf(le, sizeof(le), "+Inf");
		StrBufPrintf(buf, "%s_bucket{%s%sle=\"%s\"} %lld\n", name, lab, sep, le, (long long) cum);
	}
	{
		char num[64];

		PromFormatDouble(num, sizeof(num), sum);
		if (lab[0])
			StrBufPrintf(buf, "%s_sum{%s} %s\n", name, lab, num);
		else
			StrBufPrintf(buf, "%s_sum %s\n", name, num);
	}
	if (lab[0])
		StrBufPrintf(buf, "%s_count{%s} %lld\n", name, lab, (long long) cum);
	else
		StrBufPrintf(buf, "%s_count %lld\n", name, (long long) cum);
}
