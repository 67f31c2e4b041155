/* test_recent.c -- a member's last messages: kept per member and room, a
 * few at most, for a few minutes, forgotten on request and when the table
 * is full (the member heard from longest ago first). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "recent.h"

static void expect_joined(struct recent *r, const char *room, const char *who, long now,
			  const char *want)
{
	char *j = recent_joined(r, room, who, now);

	if (!want) {
		assert_null(j);
		return;
	}
	assert_non_null(j);
	assert_string_equal(j, want);
	free(j);
}

static void test_keeps_and_forgets(void **state)
{
	struct recent *r = recent_new();

	(void)state;
	expect_joined(r, "!a", "@x", 100, NULL);
	assert_int_equal(recent_add(r, "!a", "@x", "one", 100), ERR_OK);
	assert_int_equal(recent_add(r, "!a", "@x", "two", 110), ERR_OK);
	expect_joined(r, "!a", "@x", 120, "one ... two");
	/* another room, another member: apart */
	expect_joined(r, "!b", "@x", 120, NULL);
	expect_joined(r, "!a", "@y", 120, NULL);
	/* at most RECENT_PER_MEMBER, the oldest dropped */
	recent_add(r, "!a", "@x", "three", 130);
	recent_add(r, "!a", "@x", "four", 140);
	expect_joined(r, "!a", "@x", 150, "two ... three ... four");
	/* after RECENT_TTL_S, gone */
	expect_joined(r, "!a", "@x", 110 + RECENT_TTL_S + 1, "three ... four");
	expect_joined(r, "!a", "@x", 140 + RECENT_TTL_S + 1, NULL);
	/* forgotten on request */
	recent_add(r, "!a", "@x", "five", 1000);
	recent_forget(r, "!a", "@x");
	expect_joined(r, "!a", "@x", 1001, NULL);
	recent_free(r);
}

static void test_bounded(void **state)
{
	struct recent *r = recent_new();
	char who[32], *big = malloc(RECENT_TEXT_MAX * 3 + 1), *j;
	int i;

	(void)state;
	memset(big, 'a', RECENT_TEXT_MAX * 3);
	big[RECENT_TEXT_MAX * 3] = '\0';
	recent_add(r, "!a", "@big", big, 5);
	j = recent_joined(r, "!a", "@big", 6);
	assert_int_equal(strlen(j), RECENT_TEXT_MAX);
	free(j);
	/* a full table forgets the member heard from longest ago */
	for (i = 0; i < RECENT_MEMBERS + 10; i++) {
		snprintf(who, sizeof(who), "@m%d", i);
		assert_int_equal(recent_add(r, "!a", who, "hi", 10 + i), ERR_OK);
	}
	expect_joined(r, "!a", "@m0", 20, NULL);
	expect_joined(r, "!a", "@big", 20, NULL);
	snprintf(who, sizeof(who), "@m%d", RECENT_MEMBERS + 9);
	expect_joined(r, "!a", who, RECENT_MEMBERS + 20, "hi");
	free(big);
	recent_free(r);
	recent_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_keeps_and_forgets),
		cmocka_unit_test(test_bounded),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
