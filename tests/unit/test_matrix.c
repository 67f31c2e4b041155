/* test_matrix.c -- matrix_new's checks, which need no network: each bad
 * config gives ERR_INVALID and one line naming what is wrong; setting and
 * clearing the tick; the retry schedule (matrix_fail_kind,
 * matrix_backoff_ms) as pure functions with the random draw given, not by
 * waiting. The network side (syncs, ticks and wakes, replies) is tested
 * against tests/fakehs by tests/integ/matrix_*.sh. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <curl/curl.h> /* the CURLcode values only: nothing is linked */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "matrix.h"
#include "helpers.h"

static char dir[64];

static int setup(void **st)
{
	(void)st;
	return th_tmpdir(dir, sizeof(dir), "mxt");
}

static int teardown(void **st)
{
	(void)st;
	return th_rmtree(dir);
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

static void test_fail_kind(void **st)
{
	static const struct {
		long status;
		int cc;
		enum matrix_fail want;
	} cases[] = {
	    {0, CURLE_COULDNT_CONNECT, MATRIX_FAIL_CONNECT},
	    {0, CURLE_COULDNT_RESOLVE_HOST, MATRIX_FAIL_CONNECT},
	    {0, CURLE_COULDNT_RESOLVE_PROXY, MATRIX_FAIL_CONNECT},
	    {0, CURLE_GOT_NOTHING, MATRIX_FAIL_CONNECT},
	    {0, CURLE_RECV_ERROR, MATRIX_FAIL_CONNECT},
	    {0, CURLE_SEND_ERROR, MATRIX_FAIL_CONNECT},
	    {0, CURLE_PARTIAL_FILE, MATRIX_FAIL_CONNECT},
	    {0, CURLE_OPERATION_TIMEDOUT, MATRIX_FAIL_SERVER},
	    {0, CURLE_SSL_CONNECT_ERROR, MATRIX_FAIL_SERVER},
	    {0, CURLE_PEER_FAILED_VERIFICATION, MATRIX_FAIL_SERVER},
	    {0, CURLE_WRITE_ERROR, MATRIX_FAIL_SERVER}, /* over max_body */
	    {500, CURLE_OK, MATRIX_FAIL_SERVER},
	    {502, CURLE_OK, MATRIX_FAIL_SERVER},
	    {503, CURLE_COULDNT_CONNECT, MATRIX_FAIL_SERVER},
	    {429, CURLE_OK, MATRIX_FAIL_SERVER},
	};
	size_t i;

	(void)st;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_int_equal(matrix_fail_kind(cases[i].status, cases[i].cc), cases[i].want);
}

/* The schedule, case by case: the wait is between d / 2 and d, d the base
 * doubled attempt times and capped; rnd picks where. */
static void test_backoff_table(void **st)
{
	static const struct {
		enum matrix_fail kind;
		int attempt;
		unsigned rnd;
		long max;
		long long want;
	} cases[] = {
	    /* a server error: doubling up to backoff_max_ms (60 s) */
	    {MATRIX_FAIL_SERVER, 0, 0, 60000, 250},
	    {MATRIX_FAIL_SERVER, 0, 250, 60000, 500},
	    {MATRIX_FAIL_SERVER, 0, 251, 60000, 250},
	    {MATRIX_FAIL_SERVER, 1, 0, 60000, 500},
	    {MATRIX_FAIL_SERVER, 1, 500, 60000, 1000},
	    {MATRIX_FAIL_SERVER, 6, 0, 60000, 16000},
	    {MATRIX_FAIL_SERVER, 6, 16000, 60000, 32000},
	    {MATRIX_FAIL_SERVER, 7, 0, 60000, 30000},
	    {MATRIX_FAIL_SERVER, 7, 30000, 60000, 60000},
	    {MATRIX_FAIL_SERVER, 1000, 7, 60000, 30007},
	    {MATRIX_FAIL_SERVER, INT_MAX, UINT_MAX, 60000, 30000 + UINT_MAX % 30001},
	    {MATRIX_FAIL_SERVER, 3, 0, 0, 2000}, /* 0: the default cap */
	    {MATRIX_FAIL_SERVER, 20, 0, 0, 30000},
	    {MATRIX_FAIL_SERVER, 20, 0, 2000, 1000}, /* the tests' config */
	    {MATRIX_FAIL_SERVER, 20, 0, 100, 250},   /* never under the base */
	    {MATRIX_FAIL_SERVER, -5, 0, 60000, 250},
	    /* no connection: the same start, capped at 3 s */
	    {MATRIX_FAIL_CONNECT, 0, 0, 60000, 250},
	    {MATRIX_FAIL_CONNECT, 0, 250, 60000, 500},
	    {MATRIX_FAIL_CONNECT, 1, 0, 60000, 500},
	    {MATRIX_FAIL_CONNECT, 2, 1000, 60000, 2000},
	    {MATRIX_FAIL_CONNECT, 3, 0, 60000, 1500},
	    {MATRIX_FAIL_CONNECT, 3, 1500, 60000, 3000},
	    {MATRIX_FAIL_CONNECT, 3, 1501, 60000, 1500},
	    {MATRIX_FAIL_CONNECT, 100, 1499, 60000, 2999},
	    {MATRIX_FAIL_CONNECT, INT_MAX, UINT_MAX, 0, 1500 + UINT_MAX % 1501},
	    {MATRIX_FAIL_CONNECT, 10, 0, 2000, 1000}, /* a lower cap still wins */
	};
	size_t i;

	(void)st;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_true(matrix_backoff_ms(cases[i].kind, cases[i].attempt, cases[i].rnd,
		                              cases[i].max) == cases[i].want);
}

/* back_after: how long after a server that comes back at ready_ms the
 * bot's next try lands, every wait the longest its draw allows (the wait
 * for rnd = d / 2 is d) and every refused try taking no time. */
static long long back_after(enum matrix_fail kind, long long ready_ms, long max)
{
	long long t = 0, lo;
	int attempt = 0;

	while (t < ready_ms) {
		lo = matrix_backoff_ms(kind, attempt, 0, max);
		t += matrix_backoff_ms(kind, attempt++, (unsigned)lo, max);
	}
	return t - ready_ms;
}

/* The outage (about 50 s, back 27 s late) as a schedule: for any
 * outage up to two minutes, the bot is back within
 * MATRIX_CONNECT_WAIT_MAX_MS of the server; with the server errors'
 * schedule, which was every failure's, it could take most of a minute. */
static void test_backoff_outage(void **st)
{
	long long ready, worst_connect = 0, worst_server = 0, d;
	unsigned r;
	int a;

	(void)st;
	for (ready = 1000; ready <= 120000; ready += 250) {
		d = back_after(MATRIX_FAIL_CONNECT, ready, 60000);
		worst_connect = d > worst_connect ? d : worst_connect;
		d = back_after(MATRIX_FAIL_SERVER, ready, 60000);
		worst_server = d > worst_server ? d : worst_server;
	}
	assert_true(worst_connect > 2000 && worst_connect <= MATRIX_CONNECT_WAIT_MAX_MS);
	assert_true(worst_server > 27000);
	/* every draw stays in [d / 2, d], under the cap */
	for (a = 0; a < 40; a++)
		for (r = 0; r < 70000; r += 997) {
			d = matrix_backoff_ms(MATRIX_FAIL_CONNECT, a, r, 60000);
			assert_true(d >= 250 && d <= MATRIX_CONNECT_WAIT_MAX_MS);
			d = matrix_backoff_ms(MATRIX_FAIL_SERVER, a, r, 60000);
			assert_true(d >= 250 && d <= 60000);
		}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_good),
	    cmocka_unit_test(test_bad),
	    cmocka_unit_test(test_fail_kind),
	    cmocka_unit_test(test_backoff_table),
	    cmocka_unit_test(test_backoff_outage),
	};

	return cmocka_run_group_tests_name("matrix", tests, setup, teardown);
}
