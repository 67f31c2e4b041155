/* test_strs.c -- string and list copies: NULL in, NULL out, and a
 * failure flag that one check reads at the end; err_printf's optional
 * buffer (the formatter every _new shares). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "err.h"
#include "strs.h"

static void test_dup(void **st)
{
	int failed = 0;
	char *d;

	(void)st;
	assert_null(strs_dup(NULL));
	d = strs_dup("abc");
	assert_string_equal(d, "abc");
	free(d);
	assert_null(strs_dup_or_null(NULL, &failed));
	assert_int_equal(failed, 0);
	d = strs_dup_or_null("x", &failed);
	assert_string_equal(d, "x");
	assert_int_equal(failed, 0);
	free(d);
	/* the flag is only ever set, never cleared */
	failed = 1;
	d = strs_dup_or_null("y", &failed);
	assert_int_equal(failed, 1);
	free(d);
}

static void test_list(void **st)
{
	const char *v[] = {"a", NULL, "ccc"};
	char **l = NULL;

	(void)st;
	assert_int_equal(strs_list_copy(v, 3, &l), ERR_OK);
	assert_non_null(l);
	assert_string_equal(l[0], "a");
	assert_null(l[1]);
	assert_string_equal(l[2], "ccc");
	assert_null(l[3]); /* the closing slot */
	assert_true(l[0] != v[0]);
	strs_list_free(l, 3);
	/* an empty list is an empty array, not a failure */
	assert_int_equal(strs_list_copy(NULL, 0, &l), ERR_OK);
	assert_non_null(l);
	assert_null(l[0]);
	strs_list_free(l, 0);
	strs_list_free(NULL, 5);
}

static void test_err_printf(void **st)
{
	char buf[8];

	(void)st;
	err_printf(buf, sizeof(buf), "%s %d", "port", 70000);
	assert_string_equal(buf, "port 70"); /* cut to the buffer */
	err_printf(NULL, 10, "nothing %d", 1);
	buf[0] = 'z';
	err_printf(buf, 0, "nothing");
	assert_int_equal(buf[0], 'z');
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_dup),
	    cmocka_unit_test(test_list),
	    cmocka_unit_test(test_err_printf),
	};

	return cmocka_run_group_tests_name("strs", tests, NULL, NULL);
}
