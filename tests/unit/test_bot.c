/* test_bot.c -- when the bot speaks, and what a member reads. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "bot.h"
#include "helpers.h"

static struct faq *mini;

static int setup(void **state)
{
	(void)state;
	return th_mini_load(&mini);
}

static int teardown(void **state)
{
	(void)state;
	faq_free(mini);
	return 0;
}

static void run(const char *text, int direct, enum bot_policy policy, const char *region,
		struct bot_out *out)
{
	struct bot_in in = {0};

	in.text = text;
	in.len = strlen(text);
	in.direct = direct;
	in.nick = "faqbot";
	in.policy = policy;
	in.region = region;
	assert_int_equal(bot_handle(mini, &in, out), ERR_OK);
}

static void test_crisis_always_answered_with_lines(void **state)
{
	struct bot_out out;

	(void)state;
	/* even in a mentions-only room, not addressed, not a question */
	run("i want to kill myself", 0, BOT_ANSWER_MENTIONS, NULL, &out);
	assert_true(out.reply);
	assert_true(out.alert);
	assert_string_equal(bot_kind_name(&out), "crisis");
	assert_non_null(strstr(out.text, "glad you told us"));
	assert_non_null(strstr(out.text, "Call or text 988"));
	assert_non_null(strstr(out.text, "741741"));
	assert_non_null(strstr(out.text, "findahelpline.com"));
	assert_null(strstr(out.text, "{crisis_lines}"));
	bot_out_release(&out);
	run("suicidal", 0, BOT_ANSWER_QUESTIONS, "uk", &out);
	assert_non_null(strstr(out.text, "116 123"));
	assert_null(strstr(out.text, "988"));
	bot_out_release(&out);
	/* an unknown region still gets the default lines, never none */
	run("suicidal", 0, BOT_ANSWER_QUESTIONS, "zz", &out);
	assert_non_null(strstr(out.text, "988"));
	bot_out_release(&out);
}

static void test_faq_needs_question_or_address(void **state)
{
	struct bot_out out;

	(void)state;
	run("tms tomorrow, wish me luck", 0, BOT_ANSWER_QUESTIONS, NULL, &out);
	assert_false(out.matched);
	assert_false(out.reply);
	assert_null(out.text);
	bot_out_release(&out);
	run("what is tms", 0, BOT_ANSWER_QUESTIONS, NULL, &out);
	assert_true(out.reply);
	assert_false(out.alert);
	assert_non_null(strstr(out.text, "magnetic pulses"));
	bot_out_release(&out);
	run("what is tms", 0, BOT_ANSWER_MENTIONS, NULL, &out);
	assert_false(out.reply);
	bot_out_release(&out);
	run("faqbot: what is tms", 0, BOT_ANSWER_MENTIONS, NULL, &out);
	assert_true(out.reply);
	bot_out_release(&out);
	run("what is tms", 1, BOT_ANSWER_MENTIONS, NULL, &out);
	assert_true(out.reply); /* a direct message is always answered */
	bot_out_release(&out);
}

static void test_none_is_silent(void **state)
{
	struct bot_out out;

	(void)state;
	run("thanks everyone!", 1, BOT_ANSWER_QUESTIONS, NULL, &out);
	assert_false(out.matched);
	assert_false(out.reply);
	assert_null(out.text);
	assert_string_equal(bot_kind_name(&out), "none");
	bot_out_release(&out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_crisis_always_answered_with_lines),
		cmocka_unit_test(test_faq_needs_question_or_address),
		cmocka_unit_test(test_none_is_silent),
	};
	return cmocka_run_group_tests_name("bot", tests, setup, teardown);
}
