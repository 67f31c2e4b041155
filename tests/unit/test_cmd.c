/* test_cmd.c -- what counts as a command, and who an answer is sent to. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "cmd.h"

static enum cmd_kind parse(const char *text, struct cmd *c)
{
	return cmd_parse(text, strlen(text), c);
}

static void test_plain_messages_are_not_commands(void **state)
{
	struct cmd c;

	(void)state;
	assert_int_equal(parse("what is tms?", &c), CMD_NONE);
	assert_int_equal(parse("!!!", &c), CMD_NONE);
	assert_int_equal(parse("!wow that helped", &c), CMD_NONE);
	assert_int_equal(parse("i typed !faq by mistake", &c), CMD_NONE);
	assert_int_equal(parse("", &c), CMD_NONE);
	assert_int_equal(parse("!", &c), CMD_NONE);
	assert_int_equal(parse("!a", &c), CMD_NONE);
	assert_int_equal(parse("!hello123", &c), CMD_NONE);
	assert_int_equal(parse("!supercalifragilisticexpialidocious", &c), CMD_NONE);
}

/* "!foo" alone is a command the bot lacks: the reply points to !help, and
 * to the command one letter away */
static void test_unknown_commands(void **state)
{
	struct cmd c;

	(void)state;
	assert_int_equal(parse("!faqs", &c), CMD_UNKNOWN);
	assert_string_equal(c.arg, "faqs");
	assert_string_equal(cmd_near(c.arg), "faq");
	assert_int_equal(parse("  !Hepl ", &c), CMD_UNKNOWN);
	assert_string_equal(c.arg, "hepl");
	assert_null(cmd_near(c.arg)); /* two letters swapped is two edits */
	assert_int_equal(parse("!foo", &c), CMD_UNKNOWN);
	assert_null(cmd_near("foo"));
	assert_string_equal(cmd_near("stat"), "stats");
	assert_string_equal(cmd_near("crisiss"), "crisis");
	assert_string_equal(cmd_name(CMD_UNKNOWN), "unknown");
}

static void test_commands_and_arguments(void **state)
{
	struct cmd c;

	(void)state;
	assert_int_equal(parse("!faq", &c), CMD_FAQ);
	assert_string_equal(c.arg, "");
	assert_int_equal(parse("  !FAQ   ketamine  safety  ", &c), CMD_FAQ);
	assert_string_equal(c.arg, "ketamine  safety");
	assert_string_equal(c.target, "");
	assert_int_equal(parse("!test i want to kill myself", &c), CMD_TEST);
	assert_string_equal(c.arg, "i want to kill myself");
	assert_int_equal(parse("!stats", &c), CMD_STATS);
	assert_true(cmd_is_moderators(CMD_STATS));
	assert_true(cmd_is_moderators(CMD_RELOAD));
	assert_true(cmd_is_moderators(CMD_MUTE));
	assert_true(cmd_is_moderators(CMD_TEST));
	assert_false(cmd_is_moderators(CMD_FAQ));
	assert_false(cmd_is_moderators(CMD_OPTOUT));
	assert_string_equal(cmd_name(CMD_UNMUTE), "unmute");
}

static void test_directed_answers(void **state)
{
	struct cmd c;

	(void)state;
	assert_int_equal(parse("!faq ketamine-safety @alice", &c), CMD_FAQ);
	assert_string_equal(c.arg, "ketamine-safety");
	assert_string_equal(c.target, "@alice");
	parse("!faq ketamine-safety @alice:example.org", &c);
	assert_string_equal(c.target, "@alice:example.org");
	parse("!faq ketamine-safety > alice", &c);
	assert_string_equal(c.arg, "ketamine-safety");
	assert_string_equal(c.target, "alice");
	parse("!crisis @bob", &c);
	assert_string_equal(c.arg, "");
	assert_string_equal(c.target, "@bob");
	/* not a name: a lone '@', markup, a '>' inside a word */
	parse("!faq tms @", &c);
	assert_string_equal(c.target, "");
	parse("!faq tms @<b>x</b>", &c);
	assert_string_equal(c.target, "");
	parse("!faq a>b", &c);
	assert_string_equal(c.target, "");
	assert_string_equal(c.arg, "a>b");
	/* moderators' commands take no target: the words are the test */
	parse("!test is it safe @alice", &c);
	assert_string_equal(c.arg, "is it safe @alice");
	assert_string_equal(c.target, "");
}

static void test_long_argument_cut_on_a_character(void **state)
{
	char text[2 * CMD_ARG_MAX];
	struct cmd c;
	size_t i;

	(void)state;
	memcpy(text, "!faq ", 5);
	for (i = 5; i + 2 < sizeof(text) - 1; i += 2)
		memcpy(text + i, "\xc3\xa9", 2); /* é */
	text[i] = '\0';
	assert_int_equal(parse(text, &c), CMD_FAQ);
	assert_true(strlen(c.arg) < CMD_ARG_MAX);
	assert_int_equal(strlen(c.arg) % 2, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain_messages_are_not_commands),
		cmocka_unit_test(test_unknown_commands),
		cmocka_unit_test(test_commands_and_arguments),
		cmocka_unit_test(test_directed_answers),
		cmocka_unit_test(test_long_argument_cut_on_a_character),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
