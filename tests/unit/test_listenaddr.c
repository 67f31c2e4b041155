/* test_listenaddr.c -- a listening address as the config writes it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <arpa/inet.h>
#include <cmocka.h>
#include <netinet/in.h>

#include "listenaddr.h"

static void both_families(void **state)
{
	struct sockaddr_storage ss;
	char host[64];
	int v6 = -1;

	(void)state;
	assert_int_equal(listenaddr_parse("127.0.0.1:9464", &ss, &v6, host, sizeof(host)), ERR_OK);
	assert_int_equal(v6, 0);
	assert_string_equal(host, "127.0.0.1");
	assert_int_equal(ss.ss_family, AF_INET);
	assert_int_equal(ntohs(((struct sockaddr_in *)&ss)->sin_port), 9464);
	assert_int_equal(listenaddr_parse("[::1]:29331", &ss, &v6, host, sizeof(host)), ERR_OK);
	assert_int_equal(v6, 1);
	assert_string_equal(host, "::1");
	assert_int_equal(ss.ss_family, AF_INET6);
	assert_int_equal(ntohs(((struct sockaddr_in6 *)&ss)->sin6_port), 29331);
}

static void refused(void **state)
{
	static const char *bad[] = {
		"localhost:9464", "127.0.0.1", "127.0.0.1:", "127.0.0.1:65536", ":9464",
		"[::1:9464",      "::1:9464",  "[::1]9464",  "127.0.0.1:9x"};
	struct sockaddr_storage ss;
	char host[64], tiny[4];
	int v6;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(listenaddr_parse(bad[i], &ss, &v6, host, sizeof(host)),
				 ERR_INVALID);
	assert_int_equal(listenaddr_parse("127.0.0.1:80", &ss, &v6, tiny, sizeof(tiny)),
			 ERR_INVALID);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(both_families),
		cmocka_unit_test(refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
