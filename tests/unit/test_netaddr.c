/* test_netaddr.c -- the loopback rule for plain connections. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "netaddr.h"

static void literals_accepted(void **state)
{
	(void)state;
	assert_true(netaddr_is_loopback_literal("127.0.0.1"));
	assert_true(netaddr_is_loopback_literal("127.255.3.4"));
	assert_true(netaddr_is_loopback_literal("::1"));
	assert_true(netaddr_is_loopback_literal("[::1]"));
	assert_true(netaddr_is_loopback_literal("::ffff:127.0.0.1"));
	assert_true(netaddr_is_loopback_literal("[::ffff:127.0.0.1]"));
}

static void lookalikes_refused(void **state)
{
	char err[256];

	(void)state;
	assert_false(netaddr_is_loopback_literal("127.attacker.example"));
	assert_false(netaddr_is_loopback_literal("127.0.0.1.nip.io"));
	assert_false(netaddr_is_loopback_literal("0.0.0.0"));
	assert_false(netaddr_is_loopback_literal("::"));
	assert_false(netaddr_is_loopback_literal("::ffff:10.0.0.1"));
	assert_false(netaddr_is_loopback_literal("128.0.0.1"));
	assert_false(netaddr_is_loopback_literal("127.1"));
	assert_false(netaddr_is_loopback_literal("[127.0.0.1]"));
	assert_false(netaddr_is_loopback_literal(""));
	assert_false(netaddr_is_loopback_literal(NULL));
	assert_int_equal(netaddr_check_plain("127.attacker.example", err, sizeof(err)),
	                 ERR_INVALID);
	assert_non_null(strstr(err, "127.attacker.example"));
	assert_non_null(strstr(err, "TLS"));
	assert_int_equal(netaddr_check_plain("127.0.0.1.nip.io", err, sizeof(err)),
	                 ERR_INVALID);
	assert_int_equal(netaddr_check_plain("0.0.0.0", err, sizeof(err)), ERR_INVALID);
	assert_int_equal(netaddr_check_plain("irc.example.org", err, sizeof(err)),
	                 ERR_INVALID);
	assert_int_equal(netaddr_check_plain("", err, sizeof(err)), ERR_INVALID);
}

static void check_plain_accepts_loopback(void **state)
{
	char err[256];

	(void)state;
	assert_int_equal(netaddr_check_plain("127.0.0.1", err, sizeof(err)), ERR_OK);
	assert_int_equal(netaddr_check_plain("[::ffff:127.0.0.1]", err, sizeof(err)),
	                 ERR_OK);
	assert_int_equal(netaddr_check_plain("::1", err, sizeof(err)), ERR_OK);
	/* Debian's /etc/hosts names 127.0.0.1 and ::1 localhost */
	assert_int_equal(netaddr_check_plain("localhost", err, sizeof(err)), ERR_OK);
	assert_int_equal(netaddr_check_plain("LocalHost", err, sizeof(err)), ERR_OK);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(literals_accepted),
		cmocka_unit_test(lookalikes_refused),
		cmocka_unit_test(check_plain_accepts_loopback),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
