/*
 * test_prom.c — unit tests of the Prometheus text writer (src/core/prom_format.c),
 * outside the server, under ASan/UBSan (make unit). The live /metrics output
 * is also checked with promtool by test/t/40_http_api.sh.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "prom_format.h"
#include "unit_check.h"

/* A string check that shows both sides when it fails. */
#define CHECK_STR(what, got, want)                                                                 \
	do                                                                                             \
	{                                                                                              \
		if (strcmp((got), (want)) == 0)                                                            \
			passed++;                                                                              \
		else                                                                                       \
		{                                                                                          \
			failed++;                                                                              \
			fprintf(stderr, "FAIL %s:\n got: [%s]\nwant: [%s]\n", (what), (got), (want));          \
		}                                                                                          \
	} while (0)

int
main(void)
{
	StrBuf b = {0};
	char labels[64];
	static const char *const keys[] = {"topic", "partition"};
	const char *values[] = {"a\"b\\c\nd", "3"};
	static const double bounds[] = {0.1, 1};
	const int64_t counts[] = {2, 3, 1};

	PromFamily(&b, "pinpipe_x_total", "counter", "Things.");
	PromSampleInt(&b, "pinpipe_x_total", NULL, 42);
	CHECK_STR(
		"family + sample", b.data,
		"# HELP pinpipe_x_total Things.\n# TYPE pinpipe_x_total counter\npinpipe_x_total 42\n");
	StrBufFree(&b);

	CHECK_STR("label escaping", (PromLabels(labels, sizeof(labels), 2, keys, values), labels),
			  "topic=\"a\\\"b\\\\c\\nd\",partition=\"3\"");
	CHECK_STR("labels that do not fit are refused",
			  PromLabels(labels, 8, 2, keys, values) ? "fit" : labels, "");

	PromHistogram(&b, "pinpipe_h_seconds", "kind=\"http\"", bounds, 2, counts, 1.5);
	CHECK_STR("histogram (cumulative buckets, sum, count)", b.data,
			  "pinpipe_h_seconds_bucket{kind=\"http\",le=\"0.1\"} 2\n"
			  "pinpipe_h_seconds_bucket{kind=\"http\",le=\"1\"} 5\n"
			  "pinpipe_h_seconds_bucket{kind=\"http\",le=\"+Inf\"} 6\n"
			  "pinpipe_h_seconds_sum{kind=\"http\"} 1.5\n"
			  "pinpipe_h_seconds_count{kind=\"http\"} 6\n");
	StrBufFree(&b);

	PromHistogram(&b, "h", NULL, bounds, 2, counts, 0);
	CHECK_STR("histogram without labels", b.data,
			  "h_bucket{le=\"0.1\"} 2\nh_bucket{le=\"1\"} 5\nh_bucket{le=\"+Inf\"} 6\nh_sum "
			  "0\nh_count 6\n");
	StrBufFree(&b);

	PromSampleDouble(&b, "g", NULL, INFINITY);
	PromSampleDouble(&b, "g", "a=\"1\"", NAN);
	PromSampleDouble(&b, "g", NULL, 0.000125);
	CHECK_STR("special floats", b.data, "g +Inf\ng{a=\"1\"} NaN\ng 0.000125\n");
	StrBufFree(&b);

	/* growth well past the first allocation */
	for (int i = 0; i < 20000; i++)
		PromSampleInt(&b, "pinpipe_many", NULL, i);
	CHECK_STR("large output ends right", b.data + b.len - strlen("pinpipe_many 19999\n"),
			  "pinpipe_many 19999\n");
	if (b.oom)
		failed++;
	StrBufFree(&b);

	return UnitReport("prom_format");
}
