/*
 * emu_hist.h — request latency histogram of pinpipe-emulate: constant memory,
 * log-linear buckets (HdrHistogram-like), quantiles within about 3%.
 */
#ifndef EMU_HIST_H
#define EMU_HIST_H

#include <stdint.h>

/*
 * Log-linear buckets over microseconds: values below 64 exactly, then 32 buckets per
 * power of two (relative error under 1/32 of the value, reported at the midpoint).
 */
#define HIST_SUB 32
#define HIST_BUCKETS (64 + 40 * HIST_SUB)

typedef struct EmuHist
{
	uint64_t count[HIST_BUCKETS];
	uint64_t total;
	uint64_t max_us;
	double sum_us;
} EmuHist;

/* Count one latency, in seconds. */
void HistRecord(EmuHist *h, double seconds);

/* The q-quantile (0 < q <= 1) in milliseconds; 0 when nothing was recorded. */
double HistQuantileMs(const EmuHist *h, double q);

#endif /* EMU_HIST_H */
