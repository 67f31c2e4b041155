/* test_match.c -- PCRE2 compile errors, the match limits, and the same
 * answers from JIT code and the interpreter. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "match.h"

static void test_compile_and_find(void **state)
{
	struct match_re *re = NULL;
	struct match_ctx *ctx = match_ctx_new(1);
	char msg[128];
	size_t off, s = 0, n = 0;
	int found;
	const char *t = "is ketamine safe";

	(void)state;
	assert_int_equal(match_compile("\\bketamine\\b", &re, msg, sizeof(msg), &off), ERR_OK);
	assert_int_equal(match_find(ctx, re, t, strlen(t), 0, &found, &s, &n), ERR_OK);
	assert_true(found);
	assert_int_equal(s, 3);
	assert_int_equal(n, 8);
	/* a lower-case pattern meets case-folded text; an upper-case one is
	 * compiled caseless so that it still matches */
	t = "über ketamine";
	assert_int_equal(match_find(ctx, re, t, strlen(t), 0, &found, &s, &n), ERR_OK);
	assert_true(found);
	t = "ketamines";
	assert_int_equal(match_find(ctx, re, t, strlen(t), 0, &found, &s, &n), ERR_OK);
	assert_false(found);
	match_free(re);
	assert_int_equal(match_compile("\\bKetamine\\b", &re, msg, sizeof(msg), &off), ERR_OK);
	t = "is ketamine safe";
	assert_int_equal(match_find(ctx, re, t, strlen(t), 0, &found, &s, &n), ERR_OK);
	assert_true(found);
	match_free(re);
	/* escapes with capitals (\W, \B) do not make a pattern caseless, and
	 * still mean what they say */
	assert_int_equal(match_compile("a\\Wb\\B", &re, msg, sizeof(msg), &off), ERR_OK);
	t = "a bc";
	assert_int_equal(match_find(ctx, re, t, strlen(t), 0, &found, &s, &n), ERR_OK);
	assert_true(found);
	match_free(re);
	match_ctx_free(ctx);
}

static void test_compile_error_offset(void **state)
{
	struct match_re *re = NULL;
	char msg[128] = "";
	size_t off = 0;

	(void)state;
	assert_int_equal(match_compile("ab(cd", &re, msg, sizeof(msg), &off), ERR_PARSE);
	assert_null(re);
	assert_int_equal(off, 5);
	assert_non_null(strstr(msg, "parenthesis"));
	assert_int_equal(match_compile("a{2,1}", &re, msg, sizeof(msg), &off), ERR_PARSE);
}

static void test_catastrophic_pattern_is_cut_off(void **state)
{
	struct match_re *re = NULL;
	struct match_ctx *ctx = match_ctx_new(1);
	char msg[128], subject[64];
	size_t off, s, n;
	int found = 0;

	(void)state;
	assert_int_equal(match_compile("(a+)+$", &re, msg, sizeof(msg), &off), ERR_OK);
	/* 60 a's and a '!': every split of the a's is tried before failing */
	memset(subject, 'a', sizeof(subject) - 2);
	subject[sizeof(subject) - 2] = '!';
	subject[sizeof(subject) - 1] = '\0';
	assert_int_equal(match_find(ctx, re, subject, strlen(subject), 0, &found, &s, &n), ERR_LIMIT);
	assert_false(found);
	match_free(re);
	match_ctx_free(ctx);
}

/* The same answers whichever way a pattern runs: the interpreter for a
 * pattern whose matches begin with one known character, JIT code for the
 * rest (where PCRE2 has a JIT at all). */
static void test_interpreted_and_jit_agree(void **state)
{
	static const char *const pats[] = {
		"\\bnoose\\b",                 /* first code unit 'n' */
		"\\b(?:noose|rope)\\b",        /* 'n' or 'r': no single first */
		"^(?=.*\\bnoose\\b).*\\bhelp", /* anchored lookahead */
		"\\b(?:i|we) (?:want|wanna) (?:\\w+ ){0,3}out\\b",
	};
	static const char *const texts[] = {
		"a noose", "nooses", "the rope is there", "i need help, a noose",
		"i want to get out", "i wanna really really get out", "", "n",
	};
	struct match_ctx *ctx = match_ctx_new(1);
	char msg[128], v[96];
	size_t i, j, off;
	uint32_t jit = 0;

	(void)state;
	match_version(v, sizeof(v));
	jit = strstr(v, "(JIT)") != NULL;
	for (i = 0; i < sizeof(pats) / sizeof(pats[0]); i++) {
		struct match_re *re = NULL;
		int expect[8] = {0};

		assert_int_equal(match_compile(pats[i], &re, msg, sizeof(msg), &off), ERR_OK);
		/* only the first pattern starts with one known character */
		assert_int_equal(match_is_jit(re), i == 0 ? 0 : (int)jit);
		if (i == 0)
			expect[0] = expect[3] = 1;
		else if (i == 1)
			expect[0] = expect[2] = expect[3] = 1;
		else if (i == 2)
			expect[3] = 1;
		else
			expect[4] = expect[5] = 1;
		for (j = 0; j < sizeof(texts) / sizeof(texts[0]); j++) {
			size_t s = 0, n = 0;
			int found = -1;

			assert_int_equal(match_find(ctx, re, texts[j], strlen(texts[j]), 0, &found,
						    &s, &n),
					 ERR_OK);
			assert_int_equal(found, expect[j]);
		}
		match_free(re);
	}
	match_ctx_free(ctx);
}

/* A runaway pattern is cut off on both paths, and the context still works
 * after the interpreter hit its limit (its frames were dropped). */
static void test_limits_on_both_paths(void **state)
{
	static const char *const pats[] = {"(a+)+$", "(?:a|b)(a+)+$"};
	struct match_ctx *ctx = match_ctx_new(1);
	char msg[128], subject[64];
	size_t i, off, s, n;
	int found;

	(void)state;
	memset(subject, 'a', sizeof(subject) - 2);
	subject[sizeof(subject) - 2] = '!';
	subject[sizeof(subject) - 1] = '\0';
	for (i = 0; i < 2; i++) {
		struct match_re *re = NULL, *ok = NULL;

		assert_int_equal(match_compile(pats[i], &re, msg, sizeof(msg), &off), ERR_OK);
		assert_int_equal(match_find(ctx, re, subject, strlen(subject), 0, &found, &s, &n),
				 ERR_LIMIT);
		assert_false(found);
		assert_int_equal(match_compile("a!", &ok, msg, sizeof(msg), &off), ERR_OK);
		assert_int_equal(match_find(ctx, ok, subject, strlen(subject), 0, &found, &s, &n),
				 ERR_OK);
		assert_true(found);
		assert_int_equal(s, sizeof(subject) - 3);
		match_free(ok);
		match_free(re);
	}
	match_ctx_free(ctx);
}

/* FAQBOT_NO_JIT=1: every pattern is left to the interpreter, with the same
 * answers; unset, or "0", JIT is back where PCRE2 has it. */
static void test_no_jit(void **state)
{
	struct match_ctx *ctx = match_ctx_new(1);
	struct match_re *re = NULL;
	char msg[128], v[96];
	size_t off, s = 0, n = 0;
	int found = 0;
	const char *t = "i wanna really get out";

	(void)state;
	assert_int_equal(setenv("FAQBOT_NO_JIT", "1", 1), 0);
	assert_int_equal(match_jit_wanted(), 0);
	assert_int_equal(match_compile("\\b(?:i|we) (?:want|wanna) (?:\\w+ ){0,3}out\\b", &re, msg,
				       sizeof(msg), &off),
			 ERR_OK);
	assert_int_equal(match_is_jit(re), 0);
	assert_int_equal(match_find(ctx, re, t, strlen(t), 0, &found, &s, &n), ERR_OK);
	assert_true(found);
	assert_int_equal(s, 0);
	assert_int_equal(n, strlen(t));
	match_version(v, sizeof(v));
	assert_true(strstr(v, "JIT off") != NULL || strstr(v, "no JIT") != NULL);
	match_free(re);
	assert_int_equal(setenv("FAQBOT_NO_JIT", "0", 1), 0);
	assert_int_equal(match_jit_wanted(), 1);
	assert_int_equal(unsetenv("FAQBOT_NO_JIT"), 0);
	assert_int_equal(match_jit_wanted(), 1);
	match_ctx_free(ctx);
}

static void test_version(void **state)
{
	char v[96];

	(void)state;
	match_version(v, sizeof(v));
	assert_non_null(strstr(v, "PCRE2 10."));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_compile_and_find),
		cmocka_unit_test(test_compile_error_offset),
		cmocka_unit_test(test_catastrophic_pattern_is_cut_off),
		cmocka_unit_test(test_interpreted_and_jit_agree),
		cmocka_unit_test(test_limits_on_both_paths),
		cmocka_unit_test(test_no_jit),
		cmocka_unit_test(test_version),
	};
	return cmocka_run_group_tests_name("match", tests, NULL, NULL);
}
