/* test_text.c -- normalisation and the question/addressing rule. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
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
	expect_norm("I\xE2\x80\x99m \xE2\x80\x9C"
		    "fine\xE2\x80\x9D",
		    "i'm \"fine\"");
	expect_norm("\xEF\xBC\xAB\xEF\xBC\xA9\xEF\xBC\xAC\xEF\xBC\xAC"
		    " me",
		    "kill me");
	expect_norm("su\xE2\x80\x8B"
		    "icide",
		    "suicide");
	/* combining marks (zalgo) and accents are removed */
	expect_norm("k\xCC\xB7"
		    "i\xCC\xB7"
		    "ll",
		    "kill");
	expect_norm("caf\xC3\xA9"
		    "",
		    "cafe");
	expect_norm("N\xC3\x83O quero", "nao quero");
	/* but the vowel signs of Devanagari are letters, and stay: "jeena"
	 * (to live) and "jaana" (to go) must not read the same; a nukta,
	 * written or not, folds away */
	expect_norm("\xE0\xA4\x9C\xE0\xA5\x80\xE0\xA4\xA8\xE0\xA4\xBE",
		    "\xE0\xA4\x9C\xE0\xA5\x80\xE0\xA4\xA8\xE0\xA4\xBE");
	expect_norm("\xE0\xA4\x9C\xE0\xA4\xBE\xE0\xA4\xA8\xE0\xA4\xBE",
		    "\xE0\xA4\x9C\xE0\xA4\xBE\xE0\xA4\xA8\xE0\xA4\xBE");
	expect_norm("\xE0\xA4\x96\xE0\xA4\xBC\xE0\xA5\x81", "\xE0\xA4\x96\xE0\xA5\x81");
	/* a mark on a Latin letter after Devanagari is still an accent */
	expect_norm("\xE0\xA4\x9C e\xCC\x81", "\xE0\xA4\x9C e");
	/* letters an accent cannot be dropped from read as the plain letter
	 * a phone without them types: "Đến", "pociełam", "dø", "kırık" */
	expect_norm("\xC4\x90\xE1\xBA\xBFn", "den");
	expect_norm("pocie\xC5\x82"
		    "am",
		    "pocielam");
	expect_norm("d\xC3\xB8 D\xC3\x98", "do do");
	expect_norm("k\xC4\xB1r\xC4\xB1k", "kirik");
	/* German sharp s folds, en and em dashes become '-' */
	expect_norm("STRA\xC3\x9F"
		    "E \xE2\x80\x94 x",
		    "strasse - x");
	/* non-breaking space is white space */
	expect_norm("a\xC2\xA0\xC2\xA0"
		    "b",
		    "a b");
}

static void test_irc_codes(void **state)
{
	(void)state;
	expect_norm("\x02"
		    "bold\x02 and \x03"
		    "04,12red\x03 \x1Ditalic\x0F",
		    "bold and red italic");
	/* a colour code's digits are not glued to the next word */
	expect_norm("\x03"
		    "04"
		    "2 pills",
		    "2 pills");
	expect_norm("\x03"
		    "12,5"
		    "x",
		    "x");
	expect_norm("\x04"
		    "FF0000hex",
		    "hex");
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
	const char bad[] = "ok \xFF\xFE"
			   " end \xC3";

	(void)state;
	assert_int_equal(text_normalise(bad, sizeof(bad) - 1, &out, &len), ERR_OK);
	assert_non_null(strstr(out, "ok "));
	assert_non_null(strstr(out, " end"));
	free(out);
	/* an embedded NUL separates words, and is not a truncation */
	assert_int_equal(text_normalise("a\0b", 3, &out, &len), ERR_OK);
	assert_string_equal(out, "a b");
	free(out);
}

static void test_message_limit(void **state)
{
	size_t n = TEXT_MESSAGE_MAX * 2, len = 0, i;
	char *big = malloc(n), *out = NULL;

	(void)state;
	/* two-byte characters, so the cut falls inside one unless it backs off */
	for (i = 0; i + 1 < n; i += 2) {
		big[i] = (char)0xC3;
		big[i + 1] = (char)0xA9;
	}
	assert_int_equal(text_normalise(big, n - 1, &out, &len), ERR_OK);
	assert_true(len <= TEXT_MESSAGE_MAX);
	assert_true(len > TEXT_MESSAGE_MAX / 4);  /* the whole message, not a prefix */
	assert_null(strstr(out, "\xEF\xBF\xBD")); /* no broken character at the cut */
	free(out);
	free(big);
}

/* Every character that separates words keeps them apart: a vertical tab
 * or a form feed used to be deleted, so "want to<VT>kill" read "tokill". */
static void test_white_space_separates(void **state)
{
	static const char *const seps[] = {
		"\v",
		"\f",
		"\t",
		"\r\n",
		"\xC2\x85" /* NEL */,
		"\xC2\xA0",
		"\xE1\x9A\x80" /* ogham */,
		"\xE2\x80\x83" /* em space */,
		"\xE2\x80\xA8" /* line sep */,
		"\xE2\x80\xA9" /* para sep */,
		"\xE2\x80\xAF",
		"\xE2\x81\x9F",
		"\xE3\x80\x80" /* ideographic */,
		"\xE1\xA0\x8E" /* mongolian vowel sep */,
	};
	char in[64];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(seps) / sizeof(seps[0]); i++) {
		snprintf(in, sizeof(in), "want to%skill myself", seps[i]);
		expect_norm(in, "want to kill myself");
	}
	{
		char *out = NULL;
		size_t len = 0;

		assert_int_equal(text_normalise("want to\0kill", 13, &out, &len), ERR_OK);
		assert_string_equal(out, "want to kill");
		free(out);
	}
}

/* Windows cover every byte, each at most TEXT_CLASSIFY_MAX long, each
 * overlapping the last, never starting inside a character. */
static void test_windows(void **state)
{
	size_t n = 20000, i, start, end, prev_end = 0, nwin = 0;
	char *s = malloc(n + 1);

	(void)state;
	for (i = 0; i < n; i++)
		s[i] = (i % 7 == 6) ? ' ' : (i % 3 ? 'a' : 'b');
	memcpy(s + 5000, "\xC3\xA9\xC3\xA9\xC3\xA9", 6);
	s[n] = '\0';
	for (start = 0;; start = text_window_next(s, n, start, end)) {
		end = text_window_end(s, n, start);
		assert_true(end > start);
		assert_true(end - start <= TEXT_CLASSIFY_MAX);
		assert_true(((unsigned char)s[start] & 0xC0) != 0x80);
		if (nwin++)
			assert_true(prev_end >= start + TEXT_WINDOW_OVERLAP / 2);
		prev_end = end;
		if (end >= n)
			break;
		assert_true(nwin < 100);
	}
	assert_true(nwin >= 5);
	/* a short text is one window */
	assert_int_equal(text_window_end("abc", 3, 0), 3);
	assert_int_equal(text_window_end("", 0, 0), 0);
	free(s);
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

/* The words normalising changes beyond case, as written: what tells Turkish
 * "gün" (day) from the "gun" it folds to. */
static void expect_marks(const char *raw, const char *want)
{
	char *got = NULL;

	assert_int_equal(text_marks(raw, strlen(raw), &got), ERR_OK);
	if (!want)
		assert_null(got);
	else
		assert_string_equal(got, want);
	free(got);
}

static void test_marks(void **state)
{
	(void)state;
	expect_marks("i have a gun at home", NULL);
	expect_marks("", NULL);
	expect_marks("Her GÜN yürüyorum", "gün yürüyorum");
	/* the dot case folding leaves on Turkish capital I is no accent */
	expect_marks("İstanbul'a gidiyorum", NULL);
	/* letters normalising reads as Latin ones count: kızım reads kizim */
	expect_marks("kızım okulda", "kızım");
	/* vowel signs of Devanagari are letters, kept by normalising */
	expect_marks("मैं ठीक हूँ", NULL);
	expect_marks("hôm nay tôi sống vui", "hôm tôi sống");
	/* decomposed input composes again */
	expect_marks("gu\xcc\x88n", "gün");
	/* a reply's quoted fallback is not the message */
	expect_marks("> sống\n\nok then", NULL);
	/* invalid bytes are not a word */
	expect_marks("caf\xc3 ok", NULL);
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
		cmocka_unit_test(test_message_limit),
		cmocka_unit_test(test_white_space_separates),
		cmocka_unit_test(test_windows),
		cmocka_unit_test(test_is_question),
		cmocka_unit_test(test_addresses),
		cmocka_unit_test(test_after_address),
		cmocka_unit_test(test_word_count),
		cmocka_unit_test(test_marks),
	};
	return cmocka_run_group_tests_name("text", tests, NULL, NULL);
}
