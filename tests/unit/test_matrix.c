/* test_matrix.c -- matrix_new's checks, which need no network: each bad
 * config gives ERR_INVALID and one line naming what is wrong; setting and
 * clearing the tick. The network side (syncs, ticks and wakes, replies) is
 * tested against tests/fakehs by tests/integ/matrix_*.sh. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "matrix.h"

static char dir[64];

static int setup(void **st)
{
	(void)st;
	snprintf(dir, sizeof(dir), "/tmp/faqbot-mxt-XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **st)
{
	(void)st;
	rmdir(dir);
	return 0;
}

static void base(struct matrix_config *c)
{
	memset(c, 0, sizeof(*c));
	c->homeserver = "https://matrix.example.org/";
	c->user_id = "@faqbot:example.org";
	c->access_token = "tok";
	c->state_dir = dir;
}

static void expect_bad(const struct matrix_config *c, const char *words)
{
	struct matrix *m = (struct matrix *)1;
	char err[512] = "";

	assert_int_not_equal(matrix_new(c, &m, err, sizeof(err)), ERR_OK);
	assert_null(m);
	assert_non_null(strstr(err, words));
	assert_null(strchr(err, '\n'));
}

static void test_good(void **st)
{
	static const char *const hosts[] = {"https://matrix.example.org",
	                                    "http://127.0.0.1:8008",
	                                    "http://localhost:8008", "http://[::1]:8008",
	                                    "http://127.1.2.3"};
	struct matrix_config c;
	struct matrix *m = NULL;
	char err[512] = "";
	size_t i;

	(void)st;
	for (i = 0; i < sizeof(hosts) / sizeof(hosts[0]); i++) {
		base(&c);
		c.homeserver = hosts[i];
		assert_int_equal(matrix_new(&c, &m, err, sizeof(err)), ERR_OK);
		assert_non_null(m);
		assert_string_equal(matrix_errstr(m), "");
		matrix_free(m);
		m = NULL;
	}
	matrix_free(NULL);
}

static void test_bad(void **st)
{
	struct matrix_config c;

	(void)st;
	base(&c);
	c.homeserver = "http://matrix.example.org";
	expect_bad(&c, "plain http");
	c.homeserver = "http://127.0.0.1.evil.example:80";
	expect_bad(&c, "plain http");
	c.homeserver = "http://localhost.evil.example";
	expect_bad(&c, "plain http");
	c.homeserver = "http://[::2]:8008";
	expect_bad(&c, "plain http");
	c.homeserver = "http://0.0.0.0:8008";
	expect_bad(&c, "plain http");
	c.homeserver = "http://127.attacker.example:8008";
	expect_bad(&c, "plain http");
	c.homeserver = "http://10.0.0.1:8008";
	expect_bad(&c, "plain http");
	c.homeserver = "ftp://matrix.example.org";
	expect_bad(&c, "not https");
	c.homeserver = "not a url at all";
	expect_bad(&c, "not a URL");
	c.homeserver = "";
	expect_bad(&c, "no homeserver");
	base(&c);
	c.user_id = "faqbot";
	expect_bad(&c, "not a Matrix user id");
	base(&c);
	c.mod_room = "#mods:example.org";
	expect_bad(&c, "must be a room id");
	base(&c);
	c.state_dir = "/proc/no/such/dir";
	expect_bad(&c, "/proc/no/such/dir");
}

static enum err quiet_tick(void *ctx, struct tr_notice *out)
{
	(void)ctx;
	(void)out;
	return ERR_OK;
}

/* matrix_set_tick copies what it is given, so the caller's struct may go;
 * NULL, or no fn, turns ticks off. Nothing runs before matrix_run. */
static void test_set_tick(void **st)
{
	static volatile sig_atomic_t wake;
	struct tr_tick *t = malloc(sizeof(*t));
	struct matrix_stats ms;
	struct matrix_config c;
	struct matrix *m = NULL;
	char err[512] = "";

	(void)st;
	assert_non_null(t);
	base(&c);
	assert_int_equal(matrix_new(&c, &m, err, sizeof(err)), ERR_OK);
	t->fn = quiet_tick;
	t->wake_fd = -1;
	t->wake = &wake;
	matrix_set_tick(m, t);
	free(t); /* copied */
	matrix_set_tick(m, NULL);
	matrix_get_stats(m, &ms);
	assert_int_equal(ms.ticks, 0);
	assert_int_equal(ms.notices, 0);
	matrix_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_good),
	    cmocka_unit_test(test_bad),
	    cmocka_unit_test(test_set_tick),
	};

	return cmocka_run_group_tests_name("matrix", tests, setup, teardown);
}
