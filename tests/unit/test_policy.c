/* test_policy.c -- cooldowns, mutes, opt-outs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "policy.h"

static void test_cooldown_pointer_then_silence(void **state)
{
	struct policy *p = policy_new(600);
	const char *earlier;

	(void)state;
	assert_int_equal(policy_repeat(p, "!r", "tms", "@a", 1000, &earlier), POLICY_FRESH);
	policy_answered(p, "!r", "tms", "@a", "$ev1", 1000);
	/* the same member again in a burst: nothing */
	assert_int_equal(policy_repeat(p, "!r", "tms", "@a", 1010, &earlier), POLICY_SILENT);
	/* someone else: a pointer to the first answer */
	assert_int_equal(policy_repeat(p, "!r", "tms", "@b", 1200, &earlier), POLICY_POINTER);
	assert_string_equal(earlier, "$ev1");
	policy_pointed(p, "!r", "tms", "@b", 1200);
	assert_int_equal(policy_repeat(p, "!r", "tms", "@b", 1300, &earlier), POLICY_SILENT);
	/* another room, another entry: fresh */
	assert_int_equal(policy_repeat(p, "!s", "tms", "@b", 1300, &earlier), POLICY_FRESH);
	assert_int_equal(policy_repeat(p, "!r", "ect", "@b", 1300, &earlier), POLICY_FRESH);
	/* the window is over, for the pointer too */
	assert_int_equal(policy_repeat(p, "!r", "tms", "@b", 1600, &earlier), POLICY_FRESH);
	assert_int_equal(policy_repeat(p, "!r", "tms", "@a", 1600, &earlier), POLICY_FRESH);
	policy_free(p);
}

static void test_no_window_no_cooldown(void **state)
{
	struct policy *p = policy_new(0);
	const char *earlier;

	(void)state;
	policy_answered(p, "!r", "tms", "@a", "$e", 1000);
	assert_int_equal(policy_repeat(p, "!r", "tms", "@a", 1001, &earlier), POLICY_FRESH);
	policy_free(p);
}

static void test_cooldowns_are_capped(void **state)
{
	struct policy *p = policy_new(600);
	const char *earlier;
	char room[32];
	int i;

	(void)state;
	for (i = 0; i < POLICY_COOLDOWNS_MAX + 10; i++) {
		snprintf(room, sizeof(room), "!r%d", i);
		assert_int_equal(policy_answered(p, room, "tms", "@a", NULL, 1000), ERR_OK);
	}
	/* the oldest went first, the newest is still there */
	assert_int_equal(policy_repeat(p, "!r0", "tms", "@a", 1001, &earlier), POLICY_FRESH);
	assert_int_equal(policy_repeat(p, room, "tms", "@a", 1001, &earlier), POLICY_SILENT);
	policy_free(p);
}

static void test_sets_survive_json(void **state)
{
	struct policy *p = policy_new(600), *q = policy_new(600);
	char *text;

	(void)state;
	assert_int_equal(policy_set(p, POLICY_MUTED, "!r", 1), ERR_OK);
	assert_int_equal(policy_set(p, POLICY_OPTED_OUT, "@a:hs", 1), ERR_OK);
	assert_int_equal(policy_set(p, POLICY_OPTED_OUT, "@b:hs", 1), ERR_OK);
	assert_int_equal(policy_set(p, POLICY_OPTED_OUT, "@b:hs", 0), ERR_OK);
	assert_int_equal(policy_set(p, POLICY_REFUSED, "@c:hs", 1), ERR_OK);
	text = policy_to_json(p);
	assert_non_null(text);
	assert_int_equal(policy_from_json(q, text, strlen(text), NULL), ERR_OK);
	assert_true(policy_has(q, POLICY_MUTED, "!r"));
	assert_true(policy_has(q, POLICY_OPTED_OUT, "@a:hs"));
	assert_false(policy_has(q, POLICY_OPTED_OUT, "@b:hs"));
	assert_false(policy_has(q, POLICY_REFUSED, "@c:hs")); /* not kept */
	/* one bad item costs that item: the mute beside it is kept */
	{
		static const char one_bad[] = "{\"muted\":[1,\"!kept\",\"\"],\"opted_out\":\"x\"}";
		size_t bad = 0;

		assert_int_equal(policy_from_json(q, one_bad, strlen(one_bad), &bad), ERR_OK);
		assert_int_equal(bad, 3);
		assert_true(policy_has(q, POLICY_MUTED, "!kept"));
		assert_int_equal(policy_from_json(q, "[1]", 3, &bad), ERR_PARSE);
		assert_int_equal(policy_from_json(q, "{\"muted\":", 10, &bad), ERR_PARSE);
	}
	free(text);
	policy_free(p);
	policy_free(q);
}

/* policy_decide: the core would not answer; an opted-out member who did
 * not address the bot; a muted room; then the cooldowns. */
static void test_decide_in_order(void **state)
{
	struct policy *p = policy_new(600);
	struct policy_ask a = {"!r", "@a", "tms", 1, 0, 0, 1000};
	const char *why, *earlier;

	(void)state;
	assert_int_equal(policy_decide(p, &a, &why, &earlier), POLICY_VERDICT_ANSWER);
	assert_null(why);
	a.reply = 0;
	assert_int_equal(policy_decide(p, &a, &why, &earlier), POLICY_VERDICT_QUIET);
	assert_string_equal(why, "not a question, and not addressed to the bot");
	a.reply = 1;
	policy_set(p, POLICY_OPTED_OUT, "@a", 1);
	policy_set(p, POLICY_MUTED, "!r", 1);
	assert_int_equal(policy_decide(p, &a, &why, &earlier), POLICY_VERDICT_QUIET);
	assert_string_equal(why, "the member opted out and did not address the bot");
	a.addressed = 1;
	assert_int_equal(policy_decide(p, &a, &why, &earlier), POLICY_VERDICT_QUIET);
	assert_string_equal(why, "FAQ answers are muted in this room");
	policy_set(p, POLICY_MUTED, "!r", 0);
	assert_int_equal(policy_decide(p, &a, &why, &earlier), POLICY_VERDICT_ANSWER);
	policy_answered(p, "!r", "tms", "@a", "$ev1", 1000);
	a.now = 1010;
	assert_int_equal(policy_decide(p, &a, &why, &earlier), POLICY_VERDICT_SILENT);
	assert_string_equal(why, "this member had this answer moments ago");
	a.member = "@b";
	assert_int_equal(policy_decide(p, &a, &why, &earlier), POLICY_VERDICT_POINTER);
	assert_null(why);
	assert_string_equal(earlier, "$ev1");
	policy_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cooldown_pointer_then_silence),
		cmocka_unit_test(test_no_window_no_cooldown),
		cmocka_unit_test(test_cooldowns_are_capped),
		cmocka_unit_test(test_sets_survive_json),
		cmocka_unit_test(test_decide_in_order),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
