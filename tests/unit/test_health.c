/* test_health.c -- health: the mark after a sync, its age, what is not a
 * mark, and the config read without secrets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "health.h"
#include "helpers.h"

static char dir[64];

static int setup(void **st)
{
	(void)st;
	return th_tmpdir(dir, sizeof(dir), "health");
}

static int teardown(void **st)
{
	(void)st;
	return th_rmtree(dir);
}

static void put(const char *name, const char *text, mode_t mode)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	th_write(path, text, mode);
}

static void test_default_max_age(void **st)
{
	(void)st;
	assert_int_equal(health_default_max_age(30000), 90);
	assert_int_equal(health_default_max_age(5000), 40);
	assert_int_equal(health_default_max_age(1500), 34); /* rounds a poll up */
	assert_int_equal(health_default_max_age(0), 32);
}

static void test_fresh_stale_missing(void **st)
{
	char err[512], path[512];
	struct stat sb;
	long age;

	(void)st;
	assert_int_equal(health_check(dir, 90, 1000000, &age, err, sizeof(err)), ERR_NOTFOUND);
	assert_int_equal(age, -1);
	assert_non_null(strstr(err, "no sync completed yet"));

	assert_int_equal(health_mark(dir, 1000000), ERR_OK);
	snprintf(path, sizeof(path), "%s/%s", dir, HEALTH_STATUS_FILE);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);

	assert_int_equal(health_check(dir, 90, 1000000, &age, err, sizeof(err)), ERR_OK);
	assert_int_equal(age, 0);
	assert_int_equal(health_check(dir, 90, 1000090, &age, err, sizeof(err)), ERR_OK);
	assert_int_equal(age, 90);
	assert_int_equal(health_check(dir, 90, 1000091, &age, err, sizeof(err)), ERR_LIMIT);
	assert_int_equal(age, 91);
	assert_non_null(strstr(err, "91 s ago"));

	/* a little ahead (another container's clock) is now; far ahead is wrong */
	assert_int_equal(health_check(dir, 90, 1000000 - 5, &age, err, sizeof(err)), ERR_OK);
	assert_int_equal(age, 0);
	assert_int_equal(health_check(dir, 90, 1000000 - 3600, &age, err, sizeof(err)),
			 ERR_PARSE);
	assert_non_null(strstr(err, "future"));

	/* a restart clears the last run's mark */
	assert_int_equal(health_clear(dir), ERR_OK);
	assert_int_equal(health_clear(dir), ERR_OK);
	assert_int_equal(health_check(dir, 90, 1000000, &age, err, sizeof(err)), ERR_NOTFOUND);
}

static void test_not_a_mark(void **st)
{
	static const char *bad[] = {"", "\n", "soon\n", "12ab\n", "-5\n", "0\n",
				    "99999999999999999999999\n", "1000000\n1000001\n"};
	char err[512];
	size_t i;

	(void)st;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		put(HEALTH_STATUS_FILE, bad[i], 0600);
		assert_int_equal(health_check(dir, 90, 1000000, NULL, err, sizeof(err)), ERR_PARSE);
		assert_non_null(strstr(err, "not a health mark"));
	}
	put(HEALTH_STATUS_FILE, "1000000", 0600); /* no newline: still a mark */
	assert_int_equal(health_check(dir, 90, 1000010, NULL, err, sizeof(err)), ERR_OK);
}

static void test_unreadable(void **st)
{
	char err[512], path[512];

	(void)st;
	/* a folder where the mark should be: unreadable even for root */
	snprintf(path, sizeof(path), "%s/%s", dir, HEALTH_STATUS_FILE);
	assert_int_equal(mkdir(path, 0700), 0);
	assert_int_equal(health_check(dir, 90, 1000000, NULL, err, sizeof(err)), ERR_IO);
	assert_non_null(strstr(err, "cannot read"));
	rmdir(path);
}

static void test_config_without_secrets(void **st)
{
	struct config *c = NULL;
	char err[512], path[512], text[1024];

	(void)st;
	/* The secret file does not exist: the probe must not care. */
	snprintf(text, sizeof(text),
		 "[matrix]\nhomeserver = https://m.example.org\nuser_id = @b:example.org\n"
		 "password_file = %s/missing\nstate_dir = %s\nsync_timeout_ms = 10000\n",
		 dir, dir);
	put("faqbot.ini", text, 0644);
	snprintf(path, sizeof(path), "%s/faqbot.ini", dir);
	assert_int_equal(health_read_config(path, &c, err, sizeof(err)), ERR_OK);
	assert_non_null(c);
	assert_string_equal(c->state_dir, dir);
	assert_int_equal(c->sync_timeout_ms, 10000);
	assert_null(c->password);
	config_free(c);

	put("faqbot.ini", "[matrix]\nfrobnicate = 1\n", 0644);
	assert_int_not_equal(health_read_config(path, &c, err, sizeof(err)), ERR_OK);
	assert_null(c);
	assert_non_null(strstr(err, "faqbot.ini:2"));

	snprintf(path, sizeof(path), "%s/nope.ini", dir);
	assert_int_equal(health_read_config(path, &c, err, sizeof(err)), ERR_IO);
	assert_non_null(strstr(err, "cannot read the config file"));
}

/* A mark may say how far behind the transport is: the check still reads
 * the time, the probe the lag; a mark without it (IRC's) has none, and a
 * second line that is not one makes the mark no mark. */
static void test_lag(void **st)
{
	static const char *bad[] = {"1000000\nbehind_ms=5\n",
				    "1000000\nbehind_ms=-5 sends=0 send_age_ms=0\n",
				    "1000000\nbehind_ms=5 sends=1 send_age_ms=9 more\n",
				    "1000000behind_ms=5 sends=1 send_age_ms=9\n",
				    "1000000\nbehind_ms=5 sends=1 send_age_ms=9 txns=2\n",
				    "1000000\nbehind_ms=5 sends=1 send_age_ms=9 txns=-1 txn_age_ms=0\n",
				    "1000000\nbehind_ms=5 sends=1 send_age_ms=9 txns=1 txn_age_ms=3 x\n"};
	struct health_lag lag = {1234, 7, 20500, -1, 0}, got;
	char err[512];
	size_t i;

	(void)st;
	assert_int_equal(health_read_lag(dir, HEALTH_STATUS_FILE, &got), ERR_NOTFOUND);
	assert_int_equal(health_mark_lag(dir, HEALTH_STATUS_FILE, 1000000, &lag), ERR_OK);
	assert_int_equal(health_check(dir, 90, 1000010, NULL, err, sizeof(err)), ERR_OK);
	memset(&got, 0, sizeof(got));
	assert_int_equal(health_read_lag(dir, HEALTH_STATUS_FILE, &got), ERR_OK);
	assert_true(got.behind_ms == 1234 && got.sends == 7 && got.send_age_ms == 20500);
	assert_true(got.txns == -1); /* the /sync mode's: no transactions */

	/* an Application Service's: its transactions not acknowledged yet */
	lag.txns = 3;
	lag.txn_age_ms = 4200;
	assert_int_equal(health_mark_lag(dir, HEALTH_STATUS_FILE, 1000000, &lag), ERR_OK);
	assert_int_equal(health_check(dir, 90, 1000010, NULL, err, sizeof(err)), ERR_OK);
	memset(&got, 0, sizeof(got));
	assert_int_equal(health_read_lag(dir, HEALTH_STATUS_FILE, &got), ERR_OK);
	assert_true(got.behind_ms == 1234 && got.txns == 3 && got.txn_age_ms == 4200);

	assert_int_equal(health_mark(dir, 1000000), ERR_OK); /* no lag line */
	assert_int_equal(health_read_lag(dir, HEALTH_STATUS_FILE, &got), ERR_NOTFOUND);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		put(HEALTH_STATUS_FILE, bad[i], 0600);
		assert_int_equal(health_check(dir, 90, 1000000, NULL, err, sizeof(err)), ERR_PARSE);
		assert_int_equal(health_read_lag(dir, HEALTH_STATUS_FILE, &got), ERR_PARSE);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_default_max_age),
		cmocka_unit_test_setup_teardown(test_fresh_stale_missing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_not_a_mark, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unreadable, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lag, setup, teardown),
		cmocka_unit_test_setup_teardown(test_config_without_secrets, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
