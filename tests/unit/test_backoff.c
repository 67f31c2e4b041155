/* test_backoff.c -- the one retry schedule (capped exponential, equal
 * jitter) with the draw given, and its xorshift generator: never stuck at
 * zero, spread over the range a wait uses. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <limits.h>
#include <cmocka.h>

#include "backoff.h"

static void test_delay_table(void **st)
{
	static const struct {
		long long base, cap;
		unsigned attempt;
		unsigned long long rnd;
		long long want;
	} cases[] = {
	    {1000, 60000, 0, 0, 500},          /* the first wait: half the base ... */
	    {1000, 60000, 0, 500, 1000},       /* ... up to the base */
	    {1000, 60000, 0, 501, 500},        /* the draw wraps, never over */
	    {1000, 60000, 3, 0, 4000},         /* doubled each attempt */
	    {1000, 60000, 3, 4000, 8000},
	    {1000, 60000, 6, 0, 30000},        /* 64 s capped at 60 */
	    {1000, 60000, 6, 30000, 60000},
	    {1000, 60000, UINT_MAX, 7, 30007}, /* no overflow however many */
	    {1000, 60000, UINT_MAX, ULLONG_MAX, 30000 + ULLONG_MAX % 30001},
	    {1000, 500, 4, 0, 500},            /* a cap under the base is the base */
	    {0, 0, 0, 0, 0},                   /* a zero base counts as 1 ms */
	    {0, 0, 0, 1, 0},                   /* (a 0 ms wait: the caller's floor) */
	    {-5, 10, 10, 5, 10},               /* a negative base too; capped */
	    {500, 3000, 3, 1500, 3000},        /* Matrix's no-connection cap */
	};
	size_t i;

	(void)st;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_true(backoff_delay_ms(cases[i].base, cases[i].cap, cases[i].attempt,
		                             cases[i].rnd) == cases[i].want);
}

/* every draw lands in [d / 2, d] */
static void test_delay_bounds(void **st)
{
	unsigned long long s = 12345;
	long long d, step;
	unsigned a;
	int i;

	(void)st;
	for (a = 0; a < 40; a++) {
		step = 250LL << (a < 8 ? a : 8);
		if (step > 60000)
			step = 60000;
		for (i = 0; i < 200; i++) {
			d = backoff_delay_ms(250, 60000, a, backoff_rand(&s));
			assert_true(d >= step / 2 && d <= step);
		}
	}
}

static void test_rand(void **st)
{
	unsigned long long s = 0, first, v;
	int seen[16] = {0}, i, buckets = 0;

	(void)st;
	/* a zero state would stay zero: it is moved on, not returned */
	first = backoff_rand(&s);
	assert_true(first != 0 && s == first);
	/* the same state gives the same sequence (tests can replay it) */
	s = 42;
	v = backoff_rand(&s);
	s = 42;
	assert_true(backoff_rand(&s) == v);
	/* spread: the low bits used by a modulo visit every bucket */
	for (i = 0; i < 1000; i++)
		seen[backoff_rand(&s) % 16] = 1;
	for (i = 0; i < 16; i++)
		buckets += seen[i];
	assert_int_equal(buckets, 16);
	assert_true(backoff_seed() != 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_delay_table),
	    cmocka_unit_test(test_delay_bounds),
	    cmocka_unit_test(test_rand),
	};

	return cmocka_run_group_tests_name("backoff", tests, NULL, NULL);
}
