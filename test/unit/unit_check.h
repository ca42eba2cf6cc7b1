/*
 * unit_check.h — what every unit test in test/unit/ shares: the pass/fail
 * counters, CHECK (count a condition, print the place and a message when it
 * fails) and the closing line "<name>: N passed, N failed" with the exit status.
 * Included once, by the test's own .c file.
 */
#ifndef UNIT_CHECK_H
#define UNIT_CHECK_H

#include <stdio.h>

static int passed, failed;

#define CHECK(cond, ...)                                                                           \
	do                                                                                             \
	{                                                                                              \
		if (cond)                                                                                  \
			passed++;                                                                              \
		else                                                                                       \
		{                                                                                          \
			failed++;                                                                              \
			printf("FAIL %s:%d: ", __FILE__, __LINE__);                                            \
			printf(__VA_ARGS__);                                                                   \
			printf("\n");                                                                          \
		}                                                                                          \
	} while (0)

/* Print the counts; the exit status of main (1 if any check failed). */
static inline int
UnitReport(const char *name)
{
	printf("%s: %d passed, %d failed\n", name, passed, failed);
	return failed > 0;
}

#endif /* UNIT_CHECK_H */
