/* test_mx_ids.c -- Matrix ids: the shape every id from the network is
 * held to, the user id grammar for ids the bot writes, who an answer is
 * directed to, and transaction ids (deterministic, injective, URL-safe). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mx_ids.h"

static void test_txn(void **st)
{
	char a[MX_TXN_MAX], b[MX_TXN_MAX], big[MX_ID_MAX + 1];
	const char *p;

	(void)st;
	assert_int_equal(mx_txn_reply("$abc:x.org", a, sizeof(a)), ERR_OK);
	assert_string_equal(a, "fb-.24abc.3ax.2eorg");
	assert_int_equal(mx_txn_alert("$abc:x.org", b, sizeof(b)), ERR_OK);
	assert_string_equal(b, "fba-.24abc.3ax.2eorg");
	assert_string_not_equal(a, b);
	/* injective where a naive sanitiser would not be */
	assert_int_equal(mx_txn_reply("$a.b", a, sizeof(a)), ERR_OK);
	assert_int_equal(mx_txn_reply("$a_b", b, sizeof(b)), ERR_OK);
	assert_string_not_equal(a, b);
	for (p = a; *p; p++)
		assert_non_null(strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
		                       "0123456789-_.",
		                       *p));
	memset(big, ':', MX_ID_MAX);
	big[0] = '$';
	big[MX_ID_MAX] = '\0';
	assert_int_equal(mx_txn_reply(big, a, sizeof(a)), ERR_OK);
	assert_int_equal(mx_txn_reply(big, a, 10), ERR_LIMIT);
	assert_int_equal(mx_txn_reply("", a, sizeof(a)), ERR_INVALID);
}

static void test_user_id_valid(void **st)
{
	static const char *const good[] = {
	    "@alice:example.org", "@a:1.2.3.4:8448", "@a:[::1]", "@a:[1234:5678::abcd]:5678",
	    "@a.b_c=d-e/f+g:x", "@0:localhost",
	};
	static const char *const bad[] = {
	    "@Alice:x", "@:x", "alice:x", "@a", "@a:", "@a:x:", "@a:x:123456", "@a:[::1",
	    "@a:[]", "@a b:x", "@a:ex ample", "@a:x\n", "@<b>:x", "@a:x/y", "@a\"x:y",
	    "@a:x\">", "", "@\xc3\xa9:x",
	};
	char big[MX_ID_MAX + 2];
	size_t i;

	(void)st;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		assert_true(mx_user_id_valid(good[i]));
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_false(mx_user_id_valid(bad[i]));
	assert_false(mx_user_id_valid(NULL));
	memset(big, 'a', sizeof(big));
	big[0] = '@';
	memcpy(big + MX_ID_MAX - 2, ":x", 3); /* exactly MX_ID_MAX bytes */
	assert_true(mx_user_id_valid(big));
	memcpy(big + MX_ID_MAX - 1, ":x", 3);
	assert_false(mx_user_id_valid(big));
	assert_true(mx_id_valid("$e", '$'));
	assert_false(mx_id_valid("$", '$'));
	assert_false(mx_id_valid("$a b", '$'));
}

static void test_mention_resolve(void **st)
{
	static const char *const cases[][3] = {
	    /* mention, sender, result ("" = ERR_INVALID) */
	    {"@bob:other.org", "@ann:x", "@bob:other.org"},
	    {"@bob", "@ann:x", "@bob:x"},
	    {"bob", "@ann:x", "@bob:x"},
	    {" Bob \n", "@ann:x", "@bob:x"},
	    {"@BOB:X", "@ann:x", "@bob:X"},
	    {"bob:other", "@ann:x", "@bob:other"},
	    {"bob", "@ann:fake.test:8448", "@bob:fake.test:8448"},
	    {"<img src=x>", "@ann:x", ""},
	    {"bob\"><script>", "@ann:x", ""},
	    {"", "@ann:x", ""},
	    {"@", "@ann:x", ""},
	    {"  ", "@ann:x", ""},
	    {"bob", "@ann", ""},
	    {"bob", NULL, ""},
	    {"@bob:", "@ann:x", ""},
	    {"b ob", "@ann:x", ""},
	    {"@@bob", "@ann:x", ""},
	    {"bob\xc3\xa9", "@ann:x", ""},
	};
	char buf[MX_ID_MAX + 1], big[400];
	size_t i;

	(void)st;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		enum err e = mx_mention_resolve(cases[i][0], cases[i][1], buf, sizeof(buf));

		if (*cases[i][2]) {
			assert_int_equal(e, ERR_OK);
			assert_string_equal(buf, cases[i][2]);
		} else {
			assert_int_equal(e, ERR_INVALID);
		}
	}
	assert_int_equal(mx_mention_resolve(NULL, "@a:x", buf, sizeof(buf)), ERR_INVALID);
	assert_int_equal(mx_mention_resolve("bob", "@a:x", buf, 6), ERR_LIMIT);
	assert_int_equal(mx_mention_resolve("bob", "@a:x", buf, 7), ERR_OK);
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(mx_mention_resolve(big, "@a:x", buf, sizeof(buf)), ERR_INVALID);
}

static void test_txn_mod_notice(void **st)
{
	char a[MX_TXN_MAX], b[MX_TXN_MAX];

	(void)st;
	assert_int_equal(mx_txn_mod("$abc:x.org", a, sizeof(a)), ERR_OK);
	assert_string_equal(a, "fbm-.24abc.3ax.2eorg");
	assert_int_equal(mx_txn_reply("$abc:x.org", b, sizeof(b)), ERR_OK);
	assert_string_not_equal(a, b);
	assert_int_equal(mx_txn_notice(1700000000123LL, 4242, 3, a, sizeof(a)), ERR_OK);
	assert_string_equal(a, "fbn-1700000000123-4242-3");
	assert_int_equal(mx_txn_notice(1700000000123LL, 4242, 4, b, sizeof(b)), ERR_OK);
	assert_string_not_equal(a, b);
	assert_int_equal(mx_txn_notice(1700000000123LL, 4242, 3, a, 10), ERR_LIMIT);
}

static void test_txn_skip(void **st)
{
	char a[64], b[64], c[64];

	(void)st;
	assert_int_equal(mx_txn_skip("s42", a, sizeof(a)), ERR_OK);
	assert_int_equal(mx_txn_skip("s42", b, sizeof(b)), ERR_OK);
	assert_string_equal(a, b);
	assert_int_equal(strlen(a), 4 + 16);
	assert_true(!strncmp(a, "fbs-", 4));
	assert_int_equal(strspn(a + 4, "0123456789abcdef"), 16);
	assert_int_equal(mx_txn_skip("s43", c, sizeof(c)), ERR_OK);
	assert_string_not_equal(a, c);
	assert_int_equal(mx_txn_skip(NULL, b, sizeof(b)), ERR_OK);
	assert_int_equal(mx_txn_skip("", c, sizeof(c)), ERR_OK);
	assert_string_equal(b, c);
	assert_int_equal(mx_txn_skip("s42", a, 10), ERR_LIMIT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_txn),
	    cmocka_unit_test(test_user_id_valid),
	    cmocka_unit_test(test_mention_resolve),
	    cmocka_unit_test(test_txn_mod_notice),
	    cmocka_unit_test(test_txn_skip),
	};

	return cmocka_run_group_tests_name("mx_ids", tests, NULL, NULL);
}
