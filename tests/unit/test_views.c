/* test_views.c -- the folded view: each disguise undone, plain text and
 * numbers left alone. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "text.h"
#include "views.h"

/* fold normalises raw, folds it, and compares with want. */
static void fold(const char *raw, const char *want)
{
	char *norm = NULL, *out = NULL;
	size_t nlen = 0, olen = 0;
	int changed = -1;

	assert_int_equal(text_normalise(raw, strlen(raw), &norm, &nlen), ERR_OK);
	assert_int_equal(views_fold(norm, nlen, &out, &olen, &changed), ERR_OK);
	if (strcmp(out, want) != 0)
		fail_msg("fold(\"%s\") = \"%s\", want \"%s\"", raw, out, want);
	assert_int_equal(olen, strlen(out));
	assert_int_equal(changed, strcmp(norm, out) != 0);
	free(norm);
	free(out);
}

static void test_plain_text_unchanged(void **state)
{
	(void)state;
	fold("what is tms?", "what is tms?");
	fold("i take 50mg of sertraline, 2 pills at 8am", "i take 50mg of sertraline, 2 pills at 8am");
	fold("call 988 or text 741741", "call 988 or text 741741");
	fold("b12 and 5-htp, 24/7", "b12 and 5-htp, 24/7");
	fold("i'm thinking of the vitamin d and the cousin's cabin", "i'm thinking of the vitamin d and the cousin's cabin");
	fold("keep going, it will pass", "keep going, it will pass");
	fold("wow!", "wow!");
	fold("@alice how are you", "@alice how are you");
	fold("", "");
}

static void test_symbols_as_letters(void **state)
{
	(void)state;
	fold("wanna d1e tbh", "wanna die tbh");
	fold("i want to k1ll mys3lf", "i want to kill myself");
	fold("su1c1dal again", "suicidal again");
	fold("k!ll me", "kill me");
	fold("the p@in is too much", "the pain is too much");
	fold("$elf harm", "self harm");
	fold("i want to di3", "i want to die");
	/* a message written in symbols throughout: short words, runs of
	 * digits and a lone "1" are read too, once one word shows the way */
	fold("1 n33d t0 3nd 1t", "i need to end it");
	fold("1 w4nn4 k1ll mys3lf 2n1ght", "i wanna kill myself 2night");
	/* but not in a plain message: a measure, a vitamin, a count */
	fold("took 1 of my b12 and t2 meds", "took 1 of my b12 and t2 meds");
}

static void test_lookalike_letters(void **state)
{
	(void)state;
	/* Cyrillic a, o, e and i inside Latin words */
	fold("i w\xD0\xB0nt to d\xD1\x96\xD0\xB5", "i want to die");
	fold("s\xD0\xBE\xD0\xBEn", "soon");
	/* Greek omicron */
	fold("g\xCE\xBF\xCE\xBF" "dbye", "goodbye");
}

static void test_spaced_and_stretched(void **state)
{
	(void)state;
	fold("i want to d i e", "i want to die");
	fold("k i l l myself", "kill myself");
	fold("d.i.e now", "die now");
	fold("s-e-l-f h-a-r-m", "self harm");
	/* spaced, with symbols for letters: joined, then read */
	fold("s u 1 c 1 d 3 on my mind", "suicide on my mind");
	fold("w4nt to d 1 e", "want to die");
	/* numbers stay numbers, and a run of mostly symbols is not a word */
	fold("take 1 2 3 then stop", "take 1 2 3 then stop");
	fold("a 1 2 3 b", "a 1 2 3 b");
	fold("i want to diiiiie", "i want to diie");
	fold("killlll meeee", "kill mee");
	fold("sooooo tired", "soo tired");
}

static void test_dropped_g(void **state)
{
	(void)state;
	fold("thinkin bout endin it", "thinking bout ending it");
	fold("i feel like dyin", "i feel like dying");
	fold("nothin' left", "nothing left");
	fold("goin to bed", "going to bed");
	fold("my vitamin and aspirin, again", "my vitamin and aspirin, again");
	fold("the coffin in the brain", "the coffin in the brain");
}

static void test_log_paste_and_emoji(void **state)
{
	(void)state;
	fold("[22:14] <kez> the urge is bad again", "the urge is bad again");
	fold("<@kez> not doing well", "not doing well");
	fold("22:14 <kez> hi all", "hi all");
	fold("[not a stamp] <b> x", "[not a stamp] <b> x");
	fold("\xF0\x9F\x92\x80 soon", "dead soon");
	fold("me \xF0\x9F\xAA\xA6 soon", "me grave soon");
	fold("all my \xF0\x9F\x92\x8A saved up", "all my pills saved up");
}

/* Hostile input: any bytes, long runs, every kind at once; nothing grows
 * past the documented bound. */
static void test_bounds(void **state)
{
	size_t n = 20000, i, olen;
	char *s = malloc(n + 1), *out = NULL;
	int changed;

	(void)state;
	for (i = 0; i < n; i++)
		s[i] = "a 1$!@ d.i.e"[i % 12];
	s[n] = '\0';
	assert_int_equal(views_fold(s, n, &out, &olen, &changed), ERR_OK);
	assert_true(olen <= 4 * n + 64);
	free(out);
	for (i = 0; i < n; i += 4)
		memcpy(s + i, "\xF0\x9F\x92\x80", 4);
	assert_int_equal(views_fold(s, n, &out, &olen, &changed), ERR_OK);
	assert_true(olen <= 4 * n + 64);
	free(out);
	free(s);
}

static int teardown(void **state)
{
	(void)state;
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain_text_unchanged),
		cmocka_unit_test(test_symbols_as_letters),
		cmocka_unit_test(test_lookalike_letters),
		cmocka_unit_test(test_spaced_and_stretched),
		cmocka_unit_test(test_dropped_g),
		cmocka_unit_test(test_log_paste_and_emoji),
		cmocka_unit_test(test_bounds),
	};
	return cmocka_run_group_tests(tests, NULL, teardown);
}
