/* test_concept.c -- concepts: a phrase reads as plain text with its few
 * conveniences, names expand in place (also inside other concepts), and a
 * wrong name or a circle is an error that says where. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "concept.h"
#include "match.h"

static struct concepts c;

static int setup(void **state)
{
	static const char *const means[] = {"pills", "rope", "a.b (c)"};
	static const char *const prep[] = {"gave away", "cancel* my appointments", "won't need"};
	static const char *const both[] = {"{means}", "{prep}"};
	char err[256];

	(void)state;
	if (concept_add(&c, "means", means, 3, "c.yml", 2, err, sizeof(err)) != ERR_OK ||
	    concept_add(&c, "prep", prep, 3, "c.yml", 7, err, sizeof(err)) != ERR_OK ||
	    concept_add(&c, "both", both, 2, "c.yml", 9, err, sizeof(err)) != ERR_OK)
		return -1;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	concepts_release(&c);
	return 0;
}

/* matches: src (with concepts) compiled, run over text */
static int matches(const char *src, const char *text)
{
	char err[256], *exp = NULL;
	size_t off, s, n;
	struct match_re *re = NULL;
	struct match_ctx *ctx = match_ctx_new(1);
	int found = 0;

	assert_int_equal(concept_expand(&c, src, &exp, err, sizeof(err), &off), ERR_OK);
	assert_int_equal(match_compile(exp ? exp : src, &re, err, sizeof(err), &off), ERR_OK);
	assert_int_equal(match_find(ctx, re, text, strlen(text), 0, &found, &s, &n), ERR_OK);
	match_free(re);
	match_ctx_free(ctx);
	free(exp);
	return found;
}

static void test_phrases(void **state)
{
	(void)state;
	assert_true(matches("\\b{means}\\b", "all my pills"));
	assert_false(matches("\\b{means}\\b", "pillsbury"));
	/* the symbols in a phrase are plain characters */
	assert_true(matches("\\b{means}", "x a.b (c) y"));
	assert_false(matches("\\b{means}", "x axb c y"));
	/* '*' ends a word with anything; an apostrophe may be missing */
	assert_true(matches("\\b{prep}\\b", "i cancelled my appointments"));
	assert_true(matches("\\b{prep}\\b", "i wont need them"));
	assert_true(matches("\\b{prep}\\b", "i won't need them"));
	/* a concept inside a concept; repeats and escapes left alone */
	assert_true(matches("^{both}$", "rope"));
	assert_true(matches("^{both}$", "gave away"));
	assert_true(matches("^a{2}\\{means}$", "aa{means}"));
	assert_true(matches("^x.{0,3}{means}$", "x12pills"));
}

/* a phrase written with accents or capitals matches what a member typed,
 * which arrives normalised: accents dropped, case folded */
static void test_phrases_normalised(void **state)
{
	static const char *const vi[] = {"T\xC3\xB4i mu\xE1\xBB\x91n ch\xE1\xBA\xBFt",
					 "\xE0\xB8\xAD\xE0\xB8\xA2\xE0\xB8\xB2\xE0\xB8\x81"};
	struct concepts w = {0};
	char err[256], *exp = NULL;
	size_t off, s, n;
	struct match_re *re = NULL;
	struct match_ctx *ctx = match_ctx_new(1);
	int found = 0;

	(void)state;
	assert_int_equal(concept_add(&w, "vi", vi, 2, "c.yml", 1, err, sizeof(err)), ERR_OK);
	assert_int_equal(concept_expand(&w, "{vi}", &exp, err, sizeof(err), &off), ERR_OK);
	assert_int_equal(match_compile(exp, &re, err, sizeof(err), &off), ERR_OK);
	assert_int_equal(match_find(ctx, re, "toi muon chet", 13, 0, &found, &s, &n), ERR_OK);
	assert_true(found);
	/* Thai keeps its vowel signs: the phrase is unchanged, and matches */
	assert_int_equal(match_find(ctx, re, "\xE0\xB8\xAD\xE0\xB8\xA2\xE0\xB8\xB2\xE0\xB8\x81", 12,
				    0, &found, &s, &n),
			 ERR_OK);
	assert_true(found);
	assert_int_equal(match_find(ctx, re, "toi muon song", 13, 0, &found, &s, &n), ERR_OK);
	assert_false(found);
	match_free(re);
	match_ctx_free(ctx);
	free(exp);
	concepts_release(&w);
}

static void test_errors(void **state)
{
	static const char *const loop_a[] = {"{loop-b}"};
	static const char *const loop_b[] = {"{loop-a}"};
	char err[256], *exp = (char *)1;
	size_t off = 99;

	(void)state;
	assert_int_equal(concept_expand(&c, "no concept here", &exp, err, sizeof(err), &off),
			 ERR_OK);
	assert_null(exp);
	assert_int_equal(concept_expand(&c, "\\bx {nope}", &exp, err, sizeof(err), &off),
			 ERR_INVALID);
	assert_non_null(strstr(err, "unknown word list {nope}"));
	assert_int_equal(off, 4); /* the brace of {nope} */
	assert_int_equal(concept_add(&c, "Bad Name", loop_a, 1, "c.yml", 1, err, sizeof(err)),
			 ERR_INVALID);
	assert_int_equal(concept_add(&c, "means", loop_a, 1, "c.yml", 1, err, sizeof(err)),
			 ERR_INVALID);
	assert_non_null(strstr(err, "twice"));
	assert_int_equal(concept_add(&c, "empty", loop_a, 0, "c.yml", 1, err, sizeof(err)),
			 ERR_INVALID);
	assert_int_equal(concept_add(&c, "loop-a", loop_a, 1, "c.yml", 1, err, sizeof(err)),
			 ERR_OK);
	assert_int_equal(concept_add(&c, "loop-b", loop_b, 1, "c.yml", 2, err, sizeof(err)),
			 ERR_OK);
	assert_int_equal(concept_expand(&c, "{loop-a}", &exp, err, sizeof(err), &off), ERR_INVALID);
	assert_non_null(strstr(err, "deep, or itself"));
}

/* An entry's own lists: looked up before the shared ones, which keep their
 * own meaning (a shared list's {names} are the shared ones, whatever an
 * entry calls its lists); a name twice in one set is an error, the same
 * name in an entry and in the shared set is not. */
static void test_entry_lists(void **state)
{
	static const char *const means[] = {"gun"};
	static const char *const doctor[] = {"doctor", "gp*", "{means}"};
	struct concepts local = {0};
	char err[256], *exp = NULL;
	size_t off;

	(void)state;
	local.outer = &c;
	assert_int_equal(concept_add(&local, "doctor", doctor, 3, "e.yml", 3, err, sizeof(err)),
			 ERR_OK);
	assert_int_equal(concept_add(&local, "means", means, 1, "e.yml", 7, err, sizeof(err)),
			 ERR_OK);
	assert_int_equal(concept_add(&local, "doctor", means, 1, "e.yml", 9, err, sizeof(err)),
			 ERR_INVALID);
	assert_non_null(strstr(err, "word list 'doctor' is defined twice"));
	assert_int_equal(
		concept_expand(&local, "\\b{doctor}\\b {prep}", &exp, err, sizeof(err), &off),
		ERR_OK);
	assert_string_equal(exp, "\\b(?:doctor|gp\\w*|(?:gun))\\b (?:gave away|cancel\\w* my "
				 "appointments|won'?t need)");
	free(exp);
	/* {both} is shared: its {means} is the shared list, not the entry's */
	assert_int_equal(concept_expand(&local, "{both}", &exp, err, sizeof(err), &off), ERR_OK);
	assert_non_null(strstr(exp, "(?:pills|rope|a\\.b \\(c\\))"));
	assert_null(strstr(exp, "gun"));
	free(exp);
	assert_non_null(concept_find(&local, "prep", 4));
	assert_null(concept_find(&c, "doctor", 6));
	assert_int_equal(local.v[0].nphrases, 3);
	assert_string_equal(local.v[0].phrases, "doctor");
	assert_string_equal(local.v[0].phrases + strlen("doctor") + 1, "gp*");
	assert_int_equal(concept_expand(&local, "{docter}", &exp, err, sizeof(err), &off),
			 ERR_INVALID);
	assert_non_null(strstr(err, "unknown word list {docter}"));
	concepts_release(&local);
	assert_null(local.v);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_phrases),
		cmocka_unit_test(test_phrases_normalised),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_entry_lists),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
