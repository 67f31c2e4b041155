/* test_stats.c -- counts by day and entry, kept across a restart, no words. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "stats.h"

static void test_counts_by_window(void **state)
{
	struct stats *st = stats_new();
	struct stats_count *v = NULL;
	long today = 20000;
	size_t n;

	(void)state;
	assert_int_equal(stats_add(st, today, STATS_ANSWER, "faq:tms"), ERR_OK);
	assert_int_equal(stats_add(st, today, STATS_ANSWER, "faq:tms"), ERR_OK);
	assert_int_equal(stats_add(st, today - 3, STATS_ANSWER, "crisis:crisis-self"), ERR_OK);
	assert_int_equal(stats_add(st, today - 10, STATS_ANSWER, "faq:ect"), ERR_OK);
	assert_int_equal(stats_add(st, today, STATS_UNANSWERED, "!room:hs"), ERR_OK);
	assert_int_equal(stats_total(st, STATS_ANSWER, today - 6, today, ""), 3);
	assert_int_equal(stats_total(st, STATS_ANSWER, today - 6, today, "crisis:"), 1);
	assert_int_equal(stats_total(st, STATS_ANSWER, -1, -1, ""), 4); /* since start */
	assert_int_equal(stats_total(st, STATS_UNANSWERED, today, today, ""), 1);
	n = stats_collect(st, STATS_ANSWER, today - 6, today, &v);
	assert_int_equal(n, 2);
	assert_string_equal(v[0].key, "faq:tms"); /* most first */
	assert_int_equal(v[0].n, 2);
	free(v);
	stats_free(st);
}

static void test_json_round_trip_and_retention(void **state)
{
	struct stats *st = stats_new(), *back = stats_new();
	long today = 20000;
	char *text;

	(void)state;
	stats_add(st, today, STATS_ANSWER, "faq:tms");
	stats_add(st, today - 1, STATS_QUIET, "faq:tms");
	stats_add(st, today - 100, STATS_ANSWER, "faq:old");
	text = stats_to_json(st, today - 89);
	assert_non_null(text);
	assert_null(strstr(text, "faq:old")); /* past the retention */
	assert_int_equal(stats_from_json(back, text, strlen(text), NULL), ERR_OK);
	assert_int_equal(stats_total(back, STATS_ANSWER, today, today, ""), 1);
	assert_int_equal(stats_total(back, STATS_QUIET, today - 1, today - 1, ""), 1);
	/* a restart starts the since-start tally at zero */
	assert_int_equal(stats_total(back, STATS_ANSWER, -1, -1, ""), 0);
	free(text);
	stats_free(st);
	stats_free(back);
}

/* Text that is not the shape at all changes nothing; inside a good file,
 * one bad day or count costs that item and the rest is kept. */
static void test_bad_json_costs_the_item(void **state)
{
	static const char *bad[] = {"", "[]", "{\"days\":[]}", "{\"days\":"};
	static const char one_bad[] =
		"{\"days\":{\"2026-13-01\":{},\"x\":{},\"2026-11-01\":{\"answers\":"
		"{\"a\":-1,\"b\":\"7\",\"faq:tms\":2},\"quiet\":[]}}}";
	struct stats *st = stats_new();
	size_t i, skipped = 0;
	long day = stats_day_parse("2026-11-01");

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(stats_from_json(st, bad[i], strlen(bad[i]), NULL), ERR_PARSE);
	assert_int_equal(stats_total(st, STATS_ANSWER, 0, 100000, ""), 0);
	assert_int_equal(stats_from_json(st, one_bad, strlen(one_bad), &skipped), ERR_OK);
	assert_int_equal(skipped, 5);
	assert_int_equal(stats_total(st, STATS_ANSWER, day, day, ""), 2);
	stats_free(st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_counts_by_window),
		cmocka_unit_test(test_json_round_trip_and_retention),
		cmocka_unit_test(test_bad_json_costs_the_item),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
