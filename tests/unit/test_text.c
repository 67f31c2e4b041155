/* test_text.c -- normalisation and the question/addressing rule. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "text.h"

static void expect_norm(const char *in, const char *want)
{
	char *out = NULL;
	size_t len = 0;

	assert_int_equal(text_normalise(in, strlen(in), &out, &len), ERR_OK);
	assert_string_equal(out, want);
	assert_int_equal(len, strlen(want));
	free(out);
}

static void test_case_and_space(void **state)
{
	(void)state;
	expect_norm("  What   IS\tKetamine?\n", "what is ketamine?");
	expect_norm("", "");
	expect_norm(" \t\n ", "");
}

static void test_unicode_folding(void **state)
{
	(void)state;
	/* curly apostrophes and quotes, full-width letters, a zero-width space */
	expect_norm("I\xE2\x80\x99m \xE2\x80\x9C" "fine\xE2\x80\x9D", "i'm \"fine\"");
	expect_norm("\xEF\xBC\xAB\xEF\xBC\xA9\xEF\xBC\xAC\xEF\xBC\xAC" " me", "kill me");
	expect_norm("su\xE2\x80\x8B" "icide", "suicide");
	/* combining marks (zalgo) and accents are removed */
	expect_norm("k\xCC\xB7" "i\xCC\xB7" "ll", "kill");
	expect_norm("caf\xC3\xA9" "", "cafe");
	/* German sharp s folds, en and em dashes become '-' */
	expect_norm("STRA\xC3\x9F" "E \xE2\x80\x94 x", "strasse - x");
	/* non-breaking space is white space */
	expect_norm("a\xC2\xA0\xC2\xA0" "b", "a b");
}

static void test_irc_codes(void **state)
{
	(void)state;
	expect_norm("\x02" "bold\x02 and \x03" "04,12red\x03 \x1Ditalic\x0F", "bold and red italic");
	/* a colour code's digits are not glued to the next word */
	expect_norm("\x03" "04" "2 pills", "2 pills");
	expect_norm("\x03" "12,5" "x", "x");
	expect_norm("\x04" "FF0000hex", "hex");
}

static void test_matrix_fallback(void **state)
{
	(void)state;
	expect_norm("> <@alice:example.org> is tms painful\n> more\n\nIt was for me, why?",
		    "it was for me, why?");
	/* quote lines with no blank line after are the member's own words */
	expect_norm("> quoting myself", "> quoting myself");
	expect_norm("> a\nb", "> a b");
}

static void test_invalid_utf8(void **state)
{
	char *out = NULL;
	size_t len = 0;
	const char bad[] = "ok \xFF\xFE" " end \xC3";

	(void)state;
	assert_int_equal(text_normalise(bad, sizeof(bad) - 1, &out, &len), ERR_OK);
	assert_non_null(strstr(out, "ok "));
	assert_non_null(strstr(out, " end"));
	free(out);
	/* an embedded NUL is dropped, not a truncation */
	assert_int_equal(text_normalise("a\0b", 3, &out, &len), ERR_OK);
	assert_string_equal(out, "ab");
	free(out);
}

static void test_prefix_limit(void **state)
{
	char *big = malloc(TEXT_CLASSIFY_MAX * 2), *out = NULL;
	size_t len = 0, i;

	(void)state;
	/* two-byte characters, so the cut falls inside one unless it backs off */
	for (i = 0; i + 1 < TEXT_CLASSIFY_MAX * 2; i += 2) {
		big[i] = (char)0xC3;
		big[i + 1] = (char)0xA9;
	}
	assert_int_equal(text_normalise(big, TEXT_CLASSIFY_MAX * 2 - 1, &out, &len), ERR_OK);
	assert_true(len <= TEXT_CLASSIFY_MAX);
	assert_null(strstr(out, "\xEF\xBF\xBD")); /* no broken character at the cut */
	free(out);
	free(big);
}

static void test_is_question(void **state)
{
	(void)state;
	assert_true(text_is_question("what is tms"));
	assert_true(text_is_question("whats esketamine"));
	assert_true(text_is_question("trd meaning?"));
	assert_true(text_is_question("so, how does kap work"));
	assert_true(text_is_question("hey is ketamine safe"));
	assert_true(text_is_question("tell me about spravato"));
	assert_true(text_is_question("does anyone know if insurance covers it"));
	assert_false(text_is_question("spravato session went fine today"));
	assert_false(text_is_question("thanks everyone"));
	assert_false(text_is_question("i just got my ect consult scheduled"));
	assert_false(text_is_question(""));
}

static void test_addresses(void **state)
{
	(void)state;
	assert_true(text_addresses("faqbot: what is tms", "faqbot"));
	assert_true(text_addresses("faqbot, hi", "FaqBot"));
	assert_true(text_addresses("thanks @faqbot!", "faqbot"));
	assert_true(text_addresses("hey faqbot what is ect", "faqbot"));
	assert_false(text_addresses("faqbotty is a word", "faqbot"));
	assert_false(text_addresses("@faqbots", "faqbot"));
	assert_false(text_addresses("what is tms", "faqbot"));
	assert_false(text_addresses("faqbot: hi", NULL));
}

static void test_after_address(void **state)
{
	(void)state;
	assert_int_equal(text_after_address("faqbot: what is tms", "faqbot"), 8);
	assert_int_equal(text_after_address("@faqbot, hi", "faqbot"), 9);
	assert_int_equal(text_after_address("faqbot what", "faqbot"), 0);
	assert_int_equal(text_after_address("faqbo", "faqbot"), 0);
	assert_int_equal(text_after_address("what is tms", NULL), 0);
}

static void test_word_count(void **state)
{
	(void)state;
	assert_int_equal(text_word_count(""), 0);
	assert_int_equal(text_word_count("one"), 1);
	assert_int_equal(text_word_count("  two\n words  "), 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_case_and_space),
		cmocka_unit_test(test_unicode_folding),
		cmocka_unit_test(test_irc_codes),
		cmocka_unit_test(test_matrix_fallback),
		cmocka_unit_test(test_invalid_utf8),
		cmocka_unit_test(test_prefix_limit),
		cmocka_unit_test(test_is_question),
		cmocka_unit_test(test_addresses),
		cmocka_unit_test(test_after_address),
		cmocka_unit_test(test_word_count),
	};
	return cmocka_run_group_tests_name("text", tests, NULL, NULL);
}
