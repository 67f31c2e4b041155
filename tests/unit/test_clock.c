/* test_clock.c -- the monotonic clock goes forward by what was slept, the
 * wall clock is near time(NULL): the two are not swapped. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <cmocka.h>

#include "clock.h"

static void test_mono(void **st)
{
	struct timespec ts = {0, 30 * 1000000L};
	long long a, b;

	(void)st;
	a = clock_mono_ms();
	nanosleep(&ts, NULL);
	b = clock_mono_ms();
	assert_true(b - a >= 30);
	assert_true(b - a < 5000);
	assert_true(clock_mono_ms() >= b);
}

static void test_wall(void **st)
{
	long long w, t;

	(void)st;
	t = (long long)time(NULL) * 1000;
	w = clock_wall_ms();
	assert_true(w >= t - 2000 && w <= t + 2000);
	/* the monotonic one is not the epoch's (it counts from boot) */
	assert_true(w - clock_mono_ms() > 1000LL * 86400 * 365);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_mono),
	    cmocka_unit_test(test_wall),
	};

	return cmocka_run_group_tests_name("clock", tests, NULL, NULL);
}
