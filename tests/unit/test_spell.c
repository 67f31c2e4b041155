/* test_spell.c -- the mended view: a slip is put back to the word of risk
 * it most likely is, and nothing else is touched. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "spell.h"

/* count: text counted n times as a message learnt from */
static void count(struct spell *sp, const char *text, int n)
{
	while (n-- > 0)
		assert_int_equal(spell_count(sp, text, strlen(text)), ERR_OK);
}

static struct spell *vocab(void)
{
	const char *risk = "bridge pills again cutting stop the", *example = "i want to dye my hair";
	struct spell *sp = spell_new();

	/* words of risk (a concept's list) */
	assert_non_null(sp);
	assert_int_equal(spell_add(sp, risk, strlen(risk), 1), ERR_OK);
	/* words of an example: known, never mended */
	assert_int_equal(spell_add(sp, example, strlen(example), 0), ERR_OK);
	count(sp, "bridge pills again cutting stop the die", 40);
	count(sp, "shop shop", 6);
	count(sp, "coffee", 100);
	return sp;
}

/* mend: text mended; *mask_at tells whether byte at of the output is of a
 * mended word */
static char *mend(const struct spell *sp, const char *text, size_t at, int *mask_at)
{
	char *out = NULL;
	unsigned char *mask = NULL;
	size_t len = 0;

	assert_int_equal(spell_mend(sp, text, strlen(text), &out, &len, &mask), ERR_OK);
	assert_int_equal(strlen(out), len);
	*mask_at = mask && at < len ? mask[at] : 0;
	free(mask);
	return out;
}

static void test_slips_mended(void **state)
{
	struct spell *sp = vocab();
	char *o;
	int m;

	(void)state;
	o = mend(sp, "jmp of th brige", 12, &m);
	assert_string_equal(o, "jmp of the bridge"); /* "jmp": no word of risk near */
	assert_true(m);                              /* "bridge" is mended */
	free(o);
	o = mend(sp, "cuting agan, cnt stp", 0, &m);
	assert_string_equal(o, "cutting again, cnt stop");
	assert_true(m);
	free(o);
	o = mend(sp, "pils", 0, &m);
	assert_string_equal(o, "pills");
	free(o);
	spell_free(sp);
}

static void test_words_left_alone(void **state)
{
	struct spell *sp = vocab();
	char *o;
	int m;

	(void)state;
	/* a word of an example is never mended, whatever it is near */
	o = mend(sp, "i want to dye my hair", 10, &m);
	assert_string_equal(o, "i want to dye my hair");
	assert_false(m);
	free(o);
	/* counted too often to be a slip of "stop" (6 against 40 x 20) */
	o = mend(sp, "going to the shop", 0, &m);
	assert_string_equal(o, "going to the shop");
	free(o);
	/* no word of risk: "coffe" is no business of this view */
	o = mend(sp, "a coffe", 0, &m);
	assert_string_equal(o, "a coffe");
	free(o);
	/* three letters are not changed letter for letter ("dye", "die") */
	o = mend(sp, "dte", 0, &m);
	assert_string_equal(o, "dte");
	free(o);
	/* numbers, symbols, contractions and other scripts stay */
	o = mend(sp, "d1e pil5 can't brigé 988", 0, &m);
	assert_string_equal(o, "d1e pil5 can't brigé 988");
	free(o);
	spell_free(sp);
}

/* Letters run together are read as words, when one is a word of risk. */
static void test_runs_parted(void **state)
{
	struct spell *sp = vocab();
	char *o;
	int m;

	(void)state;
	count(sp, "i want to die and the quick brown fox", 10);
	/* "die" alone is no word of risk yet: the run stays as typed */
	o = mend(sp, "iwanttodie", 0, &m);
	assert_string_equal(o, "iwanttodie");
	free(o);
	assert_int_equal(spell_add(sp, "die", 3, 1), ERR_OK);
	o = mend(sp, "ok iwanttodie ok", 3, &m);
	assert_string_equal(o, "ok i want to die ok");
	assert_true(m);
	free(o);
	/* no word of risk in it: left as typed */
	o = mend(sp, "quickbrownfox", 0, &m);
	assert_string_equal(o, "quickbrownfox");
	assert_false(m);
	free(o);
	/* a run that no reading covers stays */
	o = mend(sp, "xqzwdiexq", 0, &m);
	assert_string_equal(o, "xqzwdiexq");
	free(o);
	spell_free(sp);
}

/* A word with letters starred out is the word of risk it can be; a word
 * of risk is all it is ever read as. */
static void test_starred_out(void **state)
{
	const char *risk = "kill myself suicide die";
	struct spell *sp = spell_new();
	char *o;
	int m;

	(void)state;
	assert_non_null(sp);
	assert_int_equal(spell_add(sp, risk, strlen(risk), 1), ERR_OK);
	count(sp, "kill myself suicide die", 10);
	count(sp, "shit fuck", 50);
	o = mend(sp, "wanna k*ll mys*lf tbh", 6, &m);
	assert_string_equal(o, "wanna kill myself tbh");
	assert_true(m); /* the mended word is marked */
	free(o);
	o = mend(sp, "thinking of s**cide", 12, &m);
	assert_string_equal(o, "thinking of suicide");
	free(o);
	/* a swear word stays starred (no word of risk fits), as do stars
	 * that are no word: a rating, three stars, one letter, a number */
	o = mend(sp, "sh*t happens, 5* hotel, ***, a*, k***l, 4*5", 0, &m);
	assert_string_equal(o, "sh*t happens, 5* hotel, ***, a*, k***l, 4*5");
	assert_false(m);
	free(o);
	spell_free(sp);
}

static void test_empty_and_hostile(void **state)
{
	struct spell *sp = spell_new();
	char *o, big[3000];
	int m;

	(void)state;
	o = mend(sp, "anything at all", 0, &m); /* an empty vocabulary mends nothing */
	assert_string_equal(o, "anything at all");
	free(o);
	spell_free(sp);
	sp = vocab();
	memset(big, 'a', sizeof(big) - 1); /* a word too long to try */
	big[sizeof(big) - 1] = '\0';
	o = mend(sp, big, 0, &m);
	assert_string_equal(o, big);
	free(o);
	o = mend(sp, "", 0, &m);
	assert_string_equal(o, "");
	free(o);
	spell_free(sp);
	spell_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_slips_mended),
		cmocka_unit_test(test_words_left_alone),
		cmocka_unit_test(test_runs_parted),
		cmocka_unit_test(test_starred_out),
		cmocka_unit_test(test_empty_and_hostile),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
