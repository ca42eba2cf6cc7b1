/*
 * emu_hist.c — request latency histogram of pinpipe-emulate.
 */
#include <math.h>

#include "emu_hist.h"

/* Bucket of a value in microseconds: exact below 64, then 32 per power of two. */
static int
HistIndex(uint64_t v)
{
	if (v < 64)
		return (int) v;
	int msb = 63 - __builtin_clzll(v); /* >= 6 */
	int shift = msb - 5;			   /* keeps 6 significant bits: top in [32, 63] */
	int top = (int) (v >> shift);
	int idx = 64 + (shift - 1) * HIST_SUB + (top - HIST_SUB);

	return idx < HIST_BUCKETS ? idx : HIST_BUCKETS - 1;
}

/* Midpoint of a bucket, in microseconds. */
static double
HistValue(int idx)
{
	if (idx < 64)
		return idx;
	int shift = (idx - 64) / HIST_SUB + 1;
	int top = (idx - 64) % HIST_SUB + HIST_SUB;

	return (double) ((uint64_t) top << shift) + (double) (1ULL << shift) / 2.0;
}

void
HistRecord(EmuHist *h, double seconds)
{
	uint64_t us = seconds <= 0 ? 0 : (uint64_t) (seconds * 1e6);

	h->count[HistIndex(us)]++;
	h->total++;
	h->sum_us += (double) us;
	if (us > h->max_us)
		h->max_us = us;
}

/* The q-quantile (0 < q <= 1) in milliseconds; 0 when nothing was recorded. */
double
HistQuantileMs(const EmuHist *h, double q)
{
	uint64_t rank, seen = 0;

	if (h->total == 0)
		return 0;
	rank = (uint64_t) ceil(q * (double) h->total);
	if (rank < 1)
		rank = 1;
	for (int i = 0; i < HIST_BUCKETS; i++)
	{
		seen += h->count[i];
		if (seen >= rank)
		{
			double v = HistValue(i);

			return (v > (double) h->max_us ? (double) h->max_us : v) / 1000.0;
		}
	}
	return (double) h->max_us / 1000.0;
}
