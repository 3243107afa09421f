/*
 * A tiny test harness: every CHECK prints "ok - ..." or "not ok - ..." and
 * tests/run.sh counts those lines. check_done() returns the exit status.
 */
#ifndef OCCASIOND_TEST_CHECK_H
#define OCCASIOND_TEST_CHECK_H

#include <stdio.h>
#include <string.h>

static int check_failed_count;

#define CHECK(cond, ...) do { \
	if (cond) { printf("ok - "); printf(__VA_ARGS__); printf("\n"); } \
	else { check_failed_count++; printf("not ok - "); printf(__VA_ARGS__); \
	       printf("  (%s:%d: %s)\n", __FILE__, __LINE__, #cond); } \
} while (0)

#define CHECK_STR(got, want, ...) do { \
	const char *g_ = (got), *w_ = (want); \
	int eq_ = g_ && w_ && strcmp(g_, w_) == 0; \
	CHECK(eq_, __VA_ARGS__); \
	if (!eq_) printf("#   got:  [%s]\n#   want: [%s]\n", g_ ? g_ : "(null)", w_ ? w_ : "(null)"); \
} while (0)

#define SKIP(...) do { printf("skip - "); printf(__VA_ARGS__); printf("\n"); } while (0)

static inline int check_done(void)
{
	fflush(stdout);
	return check_failed_count ? 1 : 0;
}

#endif
