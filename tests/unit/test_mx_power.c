/* test_mx_power.c -- a room's power levels as a table: levels as
 * integers or strings, clamped; the highest kept when there are too many,
 * and a level never overstated for one left out. */
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

#include "mx_power.h"

/* A users map longer than MX_POWER_USERS_MAX keeps the highest levels,
 * and never overstates anyone left out. */
static void test_power_levels_truncated(void **st)
{
	json_t *c = json_object(), *users = json_object();
	struct mx_power *p = NULL, *d;
	char id[32], *body;
	size_t skipped = 99;
	int i;

	(void)st;
	for (i = 0; i < 300; i++) {
		snprintf(id, sizeof(id), "@u%d:x", i);
		json_object_set_new(users, id, json_integer(i));
	}
	json_object_set_new(c, "users", users);
	json_object_set_new(c, "users_default", json_integer(50));
	body = json_dumps(c, JSON_COMPACT);
	assert_int_equal(mx_power_parse(body, strlen(body), &p, &skipped), ERR_OK);
	assert_int_equal(skipped, 0);
	assert_int_equal(mx_power_level(p, "@u299:x"), 299);
	assert_int_equal(mx_power_level(p, "@u172:x"), 172); /* the 128th highest */
	assert_int_equal(mx_power_level(p, "@u171:x"), 0);   /* left out: the lowest */
	assert_int_equal(mx_power_level(p, "@u5:x"), 0);
	assert_int_equal(mx_power_level(p, "@stranger:x"), 0);
	d = mx_power_dup(p);
	assert_non_null(d);
	mx_power_free(p);
	assert_int_equal(mx_power_level(d, "@u200:x"), 200);
	mx_power_free(d);
	mx_power_free(NULL);
	free(body);
	json_decref(c);

	assert_int_equal(mx_power_parse("{}", 2, &p, NULL), ERR_OK);
	assert_int_equal(mx_power_level(p, "@a:x"), 0);
	mx_power_free(p);
	p = (struct mx_power *)1;
	assert_int_equal(mx_power_parse("[1]", 3, &p, NULL), ERR_PARSE);
	assert_null(p);
	assert_int_equal(mx_power_parse("{\"users\":", 10, &p, NULL), ERR_PARSE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_power_levels_truncated),
	};

	return cmocka_run_group_tests_name("mx_power", tests, NULL, NULL);
}
