/* test_prefilter.c -- the prefilter's promise: a pattern it rules out for a
 * text cannot match that text. Held for the reader alone over random
 * patterns (prefilter_admits), for the shipped FAQ's patterns over every
 * message we have as the bot runs them (Vectorscan), and as the
 * classifier's answers being the same with the prefilter off; and its
 * cache, which a broken file never stops. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>
#include <utf8proc.h>

#include "classify.h"
#include "faq.h"
#include "match.h"
#include "prefilter.h"
#include "text.h"
#include "views.h"
#include "helpers.h"

static char cache[64];

/* vectorscan_here: 1 where Vectorscan can be loaded; there, a store
 * without a prefilter is a failure, not a reason to skip */
static int vectorscan_here(void)
{
	char v[300];

	prefilter_version(v, sizeof(v));
	return strstr(v, "not loaded") == NULL;
}

static int setup(void **state)
{
	(void)state;
	if (th_tmpdir(cache, sizeof(cache), "prefilter") != 0)
		return -1;
	prefilter_set_cache(cache);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	prefilter_set_cache(NULL);
	return th_rmtree(cache);
}

static void describes(const char *src, const char *want)
{
	char got[4096];

	assert_int_equal(prefilter_describe(src, got, sizeof(got)), ERR_OK);
	if (strcmp(got, want) != 0)
		fail_msg("pattern %s\n  read as: %s\n  expected: %s", src, got, want);
}

/* What the reader takes from a pattern, and what it lets go. */
static void test_describe(void **state)
{
	(void)state;
	describes("\\bkys\\b", "(\"\\bkys\\b\")");
	/* the boundaries reach into a list of words, so "k" is worth a look */
	describes("\\b(?:k|ket|ketamine)\\b", "(\"\\bk\\b\" | \"\\bket\\b\" | \"\\bketamine\\b\")");
	describes("\\b(?:dead|gone|gne)\\b", "(\"\\bdead\\b\" | \"\\bgone\\b\" | \"\\bgne\\b\")");
	/* where they share a long enough part, it stands for them all */
	describes("better off (?:dead|gone)", "(\"better off \")");
	/* a lookahead requires what it looks for; a negative one nothing */
	describes("^(?!.*\\bnot\\b)(?=.*\\btms\\b).*\\b(?:hurt|pain)\\b",
		  "(\"\\btms\\b\") AND (\"\\bhurt\\b\" | \"\\bpain\\b\")");
	/* a gap cuts the run: each side is required on its own */
	describes("\\bhow many\\b.{0,30}\\bpills\\b", "(\"\\bhow many\\b\") AND (\"\\bpills\\b\")");
	/* optional parts: both ways */
	describes("kms(?:ing)?\\b", "(\"kmsing\\b\" | \"kms\\b\")");
	describes("kill(?:ing)? myself", "(\" myself\")");
	/* too short to be worth a look, or nothing fixed at all */
	describes("\\?", "always");
	describes("i", "always");
	describes("\\w+", "always");
	/* one weak branch makes the whole list weak */
	describes("(?:suicide|x)", "always");
	/* a class of a few letters is a few letters */
	describes("d[i1]e", "(\"die\" | \"d1e\")");
	/* in a UTF pattern (caseless, match.c) k and s also match the Kelvin
	 * sign and the long s */
	describes("kys \xc3\xa9",
		  "(\"kys \xc3\xa9\" | \"ky\xc5\xbf \xc3\xa9\" | \"\xe2\x84\xaays \xc3\xa9\" | "
		  "\"\xe2\x84\xaay\xc5\xbf \xc3\xa9\")");
	describes("é|kys", "always");
	/* a letter of another script is looked for as case folding leaves it
	 * (the texts scanned are folded): "ДОМ" as "дом", a final sigma as a
	 * sigma; where folding makes two letters of one (the sharp s), or for
	 * the Turkish i's, the letter is not looked for */
	describes("\\b\xd0\x94\xd0\x9e\xd0\x9c\\b", "(\"\\b\xd0\xb4\xd0\xbe\xd0\xbc\\b\")");
	describes("\xce\xbb\xce\xbf\xce\xb3\xce\xbf\xcf\x82",
		  "(\"\xce\xbb\xce\xbf\xce\xb3\xce\xbf\xcf\x83\")");
	describes("stra\xc3\x9f"
		  "e",
		  "(\"stra\" | \"\xc5\xbftra\")");
	describes("\xd7\xa9\xd7\x9c\xd7\x95\xd7\x9d|\xd9\x85\xd9\x88\xd8\xaa",
		  "(\"\xd7\xa9\xd7\x9c\xd7\x95\xd7\x9d\" | \"\xd9\x85\xd9\x88\xd8\xaa\")");
	describes("k\xc4\xb1z\xc4\xb1m", "always");
	/* constructs the reader does not follow: always tried */
	describes("(?x) k y s", "always");
	describes("(a)\\1kys", "always");
	describes("(?(1)kys|die)", "always");
	describes("(*UTF)kys", "always");
	describes("kys{,3}", "always");
	describes("\\Qkys\\E", "always");
	describes("kys)", "always");
	describes("(kys", "always");
}

/* A tiny generator of patterns: words, groups, quantifiers, boundaries,
 * lookarounds, classes, and the letters case folding treats specially. */
static unsigned long long rng = 88172645463325252ull;

static unsigned rnd(unsigned n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (unsigned)(rng % n);
}

/* ...and Cyrillic and Greek in both cases, the sigmas, the sharp s and its
 * capital, the Turkish i's: letters whose case forms fold to one */
static const char *const bits[] = {
	"a",
	"b",
	"k",
	"s",
	"ab",
	"ba",
	"kys",
	"sk",
	"ka",
	"abc",
	"K",
	"S",
	"\xc3\xa9",
	"\xc5\xbf",
	"\xe2\x84\xaa",
	"\\x{212a}",
	"(?>ab|a)",
	"(?<n>k)",
	"(?#c)",
	"a{2,}",
	"\\'",
	"[A-C]",
	"(?:ab)++",
	" ",
	"'",
	"-",
	"\\bk\\b",
	"(?|a|b)",
	"(?i:k)",
	"_",
	"\\K",
	"\xd0\x94",
	"\xd0\xb4",
	"\xce\xa3",
	"\xcf\x83",
	"\xcf\x82",
	"\xc3\x9f",
	"\xe1\xba\x9e",
	"\xc4\xb0",
	"\xc4\xb1",
	"\xd0\x94\xd0\xb0",
	"\xd7\xa9\xd7\x9c",
};
#define NBITS (sizeof(bits) / sizeof(bits[0]))

static void put(char *o, size_t *n, const char *s)
{
	size_t l = strlen(s);

	memcpy(o + *n, s, l);
	*n += l;
}

static void gen(char *o, size_t *n, int depth)
{
	static const char *const quant[] = {"?", "*", "+", "{2}", "{1,2}", "{0,3}", "??", "*+"};
	static const char *const look[] = {"(?=", "(?!", "(?<=", "(?<!"};
	static const char *const cls[] = {"[ab]", "[a-c]", "[^a]", "[ks]", "\\w",   "\\W",
					  "\\s",  ".",     "\\d",  "[k]",  "\\x41", "\\."};
	unsigned c = rnd(depth > 3 ? 4 : 14);

	if (c < 4) {
		put(o, n, bits[rnd(NBITS)]);
	} else if (c == 4) {
		put(o, n, "(?:");
		gen(o, n, depth + 1);
		put(o, n, "|");
		gen(o, n, depth + 1);
		put(o, n, ")");
	} else if (c == 5) {
		put(o, n, "(?:");
		gen(o, n, depth + 1);
		put(o, n, ")");
		put(o, n, quant[rnd(8)]);
	} else if (c == 6) {
		put(o, n, "\\b");
	} else if (c == 7) {
		const char *l = look[rnd(4)];

		put(o, n, l);
		if (l[2] == '<')
			put(o, n, bits[rnd(10)]); /* a lookbehind of fixed length */
		else
			gen(o, n, depth + 1);
		put(o, n, ")");
	} else if (c == 8) {
		put(o, n, cls[rnd(12)]);
	} else if (c == 9) {
		put(o, n, "^");
	} else if (c == 10) {
		put(o, n, "$");
	} else if (c == 11) {
		put(o, n, "(?i)");
	} else {
		gen(o, n, depth + 1);
		gen(o, n, depth + 1);
	}
}

/* fold_case folds text[0, *n) in place as text_normalise folds case (the
 * promise is for such texts, prefilter.h), leaving the accents */
static void fold_case(char *text, size_t *n, size_t cap)
{
	utf8proc_uint8_t *f = NULL;
	utf8proc_ssize_t k = utf8proc_map((const utf8proc_uint8_t *)text, (utf8proc_ssize_t)*n, &f,
					  UTF8PROC_STABLE | UTF8PROC_COMPOSE | UTF8PROC_CASEFOLD);

	assert_true(k >= 0 && (size_t)k < cap);
	memcpy(text, f, (size_t)k + 1);
	*n = (size_t)k;
	free(f);
}

/* The reader's promise over random patterns and texts made of their
 * pieces: whenever PCRE2 matches, the text holds what the pattern was
 * read to require. */
static void test_reader_never_drops_a_match(void **state)
{
	struct match_ctx *ctx = match_ctx_new(1);
	long it, matched = 0;

	(void)state;
	for (it = 0; it < 20000; it++) {
		char pat[8192], msg[128];
		struct match_re *re = NULL;
		size_t n = 0, off;
		int parts = 1 + (int)rnd(3), p, t;

		for (p = 0; p < parts && n < 6000; p++)
			gen(pat, &n, 0);
		pat[n] = '\0';
		if (n >= 6000 || match_compile(pat, &re, msg, sizeof(msg), &off) != ERR_OK)
			continue;
		for (t = 0; t < 12; t++) {
			char text[512];
			size_t m = 0, s, l;
			int w = (int)rnd(12), k, found = 0;

			for (k = 0; k < w; k++)
				put(text, &m,
				    k % 3 == 2    ? " "
				    : rnd(7) == 0 ? "A"
						  : bits[rnd(NBITS)]);
			text[m] = '\0';
			fold_case(text, &m, sizeof(text));
			if (match_find(ctx, re, text, m, 0, &found, &s, &l) == ERR_OK && found) {
				matched++;
				if (prefilter_admits(pat, text, m) != 1)
					fail_msg(
						"pattern [%s] matches [%s], but the prefilter rules it "
						"out",
						pat, text);
			}
		}
		match_free(re);
	}
	assert_true(matched > 10000);
	match_ctx_free(ctx);
}

/* --- the shipped FAQ ------------------------------------------------------- */

struct texts {
	char **v;
	size_t n, cap;
};

static void add_text(struct texts *t, const char *s, size_t len)
{
	if (t->n == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 1024;
		t->v = realloc(t->v, t->cap * sizeof(*t->v));
		assert_non_null(t->v);
	}
	t->v[t->n] = strndup(s, len);
	assert_non_null(t->v[t->n]);
	t->n++;
}

/* add_tsv: the first column of every line of a labelled file */
static void add_tsv(struct texts *t, const char *path)
{
	char line[8192];
	FILE *f = fopen(path, "r");

	if (!f)
		return; /* ../shared is beside a clone in CI, not always here */
	while (fgets(line, sizeof(line), f)) {
		char *tab = strchr(line, '\t');

		if (line[0] != '#' && tab)
			add_text(t, line, (size_t)(tab - line));
	}
	fclose(f);
}

/* every message we have: the shipped FAQ's examples and not_examples, the
 * learned stage's messages, our test sets and the dev set, and all of
 * them run together into one long message (windows, long texts) */
static void gather(const struct faq *faq, struct texts *t)
{
	static const char *const tsv[] = {
		"faq/learn/advice-faq.tsv", "faq/learn/chat.tsv",   "faq/learn/crisis.tsv",
		"tests/data/holdout.tsv",   "tests/data/kinds.tsv", "tests/data/fresh.tsv",
		"../shared/eval/dev.tsv",
	};
	size_t i, j, total = 0;
	char *all;

	for (i = 0; i < faq->nentries; i++) {
		const struct faq_entry *e = &faq->entries[i];

		for (j = 0; j < e->nexamples; j++)
			add_text(t, e->examples[j].text, strlen(e->examples[j].text));
		for (j = 0; j < e->ncounter; j++)
			add_text(t, e->counter[j].text, strlen(e->counter[j].text));
	}
	for (i = 0; i < sizeof(tsv) / sizeof(tsv[0]); i++)
		add_tsv(t, tsv[i]);
	for (i = 0; i < t->n; i++)
		total += strlen(t->v[i]) + 1;
	all = malloc(total + 1);
	assert_non_null(all);
	for (i = 0, j = 0; i < t->n; i++) {
		size_t l = strlen(t->v[i]);

		memcpy(all + j, t->v[i], l);
		all[j + l] = ' ';
		j += l + 1;
	}
	add_text(t, all, j < TEXT_MESSAGE_MAX ? j : TEXT_MESSAGE_MAX);
	free(all);
}

static void texts_free(struct texts *t)
{
	size_t i;

	for (i = 0; i < t->n; i++)
		free(t->v[i]);
	free(t->v);
}

/* check_subject: every pattern PCRE2 matches in subject is a candidate */
static void check_subject(const struct faq *faq, struct prefilter *pf, const char *subject,
			  size_t len, size_t *matches)
{
	size_t i, j;

	prefilter_scan(pf, 0, subject, len);
	for (i = 0; i < faq->nentries; i++) {
		const struct faq_entry *e = &faq->entries[i];

		for (j = 0; j < e->npatterns + e->nnegations; j++) {
			const struct faq_pattern *p = j < e->npatterns
							      ? &e->patterns[j]
							      : &e->negations[j - e->npatterns];
			size_t s, n;
			int found = 0;

			if (match_find(faq->mctx, p->re, subject, len, 0, &found, &s, &n) !=
				    ERR_OK ||
			    !found)
				continue;
			(*matches)++;
			if (!prefilter_may(pf, 0, p->pf))
				fail_msg("%s:%u matches \"%.200s\" but the prefilter ruled it out",
					 e->file, p->line, subject);
		}
	}
}

/* The shipped FAQ through Vectorscan, as the bot runs it: over every
 * message we have, normalised and folded (views.h), whole and in the
 * windows crisis patterns read, no pattern PCRE2 matches is ruled out. */
static void test_shipped_faq_never_drops_a_match(void **state)
{
	struct faq_diags d = {0};
	struct faq *faq = NULL;
	struct texts t = {NULL, 0, 0};
	size_t i, matches = 0;

	(void)state;
	assert_int_equal(faq_load("faq", &faq, &d), ERR_OK);
	faq_diags_release(&d);
	if (!faq->prefilter) {
		fprintf(stderr, "no prefilter: %s\n", faq->prefilter_why);
		assert_false(vectorscan_here());
		faq_free(faq);
		skip();
	}
	gather(faq, &t);
	for (i = 0; i < t.n; i++) {
		char *norm = NULL, *folded = NULL;
		size_t len, flen, start, end;
		int changed = 0;

		assert_int_equal(text_normalise(t.v[i], strlen(t.v[i]), &norm, &len), ERR_OK);
		for (start = 0;; start = text_window_next(norm, len, start, end)) {
			end = text_window_end(norm, len, start);
			check_subject(faq, faq->prefilter, norm + start, end - start, &matches);
			if (end >= len)
				break;
		}
		if (len > TEXT_CLASSIFY_MAX)
			check_subject(faq, faq->prefilter, norm, len, &matches);
		assert_int_equal(views_fold(norm, len, &folded, &flen, &changed), ERR_OK);
		if (changed)
			check_subject(faq, faq->prefilter, folded, flen, &matches);
		free(folded);
		free(norm);
	}
	assert_true(matches > 1000);
	texts_free(&t);
	faq_free(faq);
}

/* The classifier answers the same with the prefilter as without it:
 * class, entry, pattern, place, view and question, message by message. */
static void test_same_answers_off_and_on(void **state)
{
	struct faq_diags d = {0};
	struct faq *on = NULL, *off = NULL;
	struct texts t = {NULL, 0, 0};
	size_t i;

	(void)state;
	assert_int_equal(faq_load("faq", &on, &d), ERR_OK);
	faq_diags_release(&d);
	if (!on->prefilter) {
		fprintf(stderr, "no prefilter: %s\n", on->prefilter_why);
		assert_false(vectorscan_here());
		faq_free(on);
		skip();
	}
	assert_int_equal(setenv("FAQBOT_NO_PREFILTER", "1", 1), 0);
	assert_int_equal(faq_load("faq", &off, &d), ERR_OK);
	assert_int_equal(unsetenv("FAQBOT_NO_PREFILTER"), 0);
	faq_diags_release(&d);
	assert_null(off->prefilter);
	assert_non_null(strstr(off->prefilter_why, "FAQBOT_NO_PREFILTER"));
	gather(on, &t);
	for (i = 0; i < t.n; i++) {
		struct classify_result a, b;
		char *norm = NULL;
		size_t len;

		assert_int_equal(text_normalise(t.v[i], strlen(t.v[i]), &norm, &len), ERR_OK);
		assert_int_equal(classify_patterns(on, norm, len, &a), ERR_OK);
		assert_int_equal(classify_patterns(off, norm, len, &b), ERR_OK);
		assert_int_equal(a.matched, b.matched);
		assert_int_equal(a.question, b.question);
		if (a.matched) {
			const struct faq_entry *eb = faq_find(on, b.entry->id);

			/* the same entry and pattern, in the other store */
			assert_int_equal(a.cls, b.cls);
			assert_ptr_equal(a.entry, eb);
			assert_int_equal(a.pattern - a.entry->patterns,
					 b.pattern - b.entry->patterns);
			assert_int_equal(a.start, b.start);
			assert_int_equal(a.len, b.len);
			assert_int_equal(a.view, b.view);
		}
		free(norm);
	}
	texts_free(&t);
	faq_free(on);
	faq_free(off);
}

/* --- the cache ------------------------------------------------------------- */

static const char *const mini[] = {"\\bkys\\b", "\\btms\\b", "better off (?:dead|gone)", "\\?"};

static struct prefilter *build(int *from_cache)
{
	struct prefilter *pf = NULL;
	struct prefilter_figures f;
	char why[256];

	assert_int_equal(prefilter_new(mini, 4, &pf, why, sizeof(why)), ERR_OK);
	prefilter_figures(pf, &f);
	assert_int_equal(f.patterns, 4);
	assert_int_equal(f.always, 1);
	*from_cache = f.from_cache;
	/* and it works, whatever the cache held */
	prefilter_scan(pf, 1, "i am better off dead", 20);
	assert_false(prefilter_may(pf, 1, 0));
	assert_false(prefilter_may(pf, 1, 1));
	assert_true(prefilter_may(pf, 1, 2));
	assert_true(prefilter_may(pf, 1, 3));
	prefilter_scan(pf, 0, "kys", 3);
	assert_true(prefilter_may(pf, 0, 0));
	assert_false(prefilter_may(pf, 0, 2));
	assert_true(prefilter_may(pf, 1, 2)); /* the other slot keeps its own */
	prefilter_scan(pf, 0, "skyscraper", 10);
	assert_false(prefilter_may(pf, 0, 0)); /* "kys" inside a word */
	return pf;
}

/* cache_file: the one database file in the cache folder */
static void cache_file(char *path, size_t len)
{
	char cmd[256];
	FILE *p;

	snprintf(cmd, sizeof(cmd), "ls %s/prefilter-*.blob 2>/dev/null", cache);
	p = popen(cmd, "r");
	assert_non_null(p);
	assert_non_null(fgets(path, (int)len, p));
	path[strcspn(path, "\n")] = '\0';
	assert_null(fgets(cmd, sizeof(cmd), p)); /* the one for these patterns */
	pclose(p);
}

static void test_cache(void **state)
{
	struct prefilter *pf;
	char path[512], why[256];
	int from_cache = -1;
	FILE *f;

	(void)state;
	snprintf(path, sizeof(path), "rm -f %s/prefilter-*", cache);
	assert_int_equal(system(path), 0); /* what the tests before left */
	pf = NULL;
	if (prefilter_new(mini, 4, &pf, why, sizeof(why)) != ERR_OK) {
		fprintf(stderr, "no prefilter: %s\n", why);
		assert_false(vectorscan_here());
		skip();
	}
	prefilter_free(pf);
	/* compiled once, then read back */
	prefilter_free(build(&from_cache));
	assert_true(from_cache);
	cache_file(path, sizeof(path));
	/* a damaged file: compiled again, and replaced */
	f = fopen(path, "r+");
	assert_non_null(f);
	assert_int_equal(fseek(f, 200, SEEK_SET), 0);
	fputc('!', f);
	fclose(f);
	prefilter_free(build(&from_cache));
	assert_false(from_cache);
	prefilter_free(build(&from_cache));
	assert_true(from_cache);
	/* cut short, or empty */
	assert_int_equal(truncate(path, 100), 0);
	prefilter_free(build(&from_cache));
	assert_false(from_cache);
	assert_int_equal(truncate(path, 0), 0);
	prefilter_free(build(&from_cache));
	assert_false(from_cache);
	/* a folder where the file should be: it cannot be read nor written,
	 * and the prefilter still serves */
	assert_int_equal(unlink(path), 0);
	assert_int_equal(mkdir(path, 0700), 0);
	prefilter_free(build(&from_cache));
	assert_false(from_cache);
	assert_int_equal(rmdir(path), 0);
	/* other FAQs come and go: the newest few are kept */
	{
		char one[32], cmd[256];
		const char *src[1] = {one};
		int i;
		FILE *p;

		for (i = 0; i < PREFILTER_CACHE_KEEP + 3; i++) {
			snprintf(one, sizeof(one), "\\bword%d\\b", i);
			assert_int_equal(prefilter_new(src, 1, &pf, why, sizeof(why)), ERR_OK);
			prefilter_free(pf);
		}
		snprintf(cmd, sizeof(cmd), "ls %s | grep -c '^prefilter-.*\\.blob$'", cache);
		p = popen(cmd, "r");
		assert_non_null(p);
		assert_non_null(fgets(cmd, sizeof(cmd), p));
		pclose(p);
		assert_int_equal(strtol(cmd, NULL, 10), PREFILTER_CACHE_KEEP);
	}
	/* nothing worth looking for in any pattern: no database, and every
	 * pattern is always a candidate */
	{
		static const char *const weak[] = {"\\?", "i", "\\w+"};
		struct prefilter_figures fig;

		assert_int_equal(prefilter_new(weak, 3, &pf, why, sizeof(why)), ERR_OK);
		prefilter_figures(pf, &fig);
		assert_int_equal(fig.atoms, 0);
		assert_int_equal(fig.always, 3);
		prefilter_scan(pf, 0, "hello", 5);
		assert_true(prefilter_may(pf, 0, 0) && prefilter_may(pf, 0, 1) &&
			    prefilter_may(pf, 0, 2));
		prefilter_free(pf);
	}
	/* no cache at all */
	prefilter_set_cache(NULL);
	prefilter_free(build(&from_cache));
	assert_false(from_cache);
	prefilter_set_cache(cache);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_describe),
		cmocka_unit_test(test_reader_never_drops_a_match),
		cmocka_unit_test(test_shipped_faq_never_drops_a_match),
		cmocka_unit_test(test_same_answers_off_and_on),
		cmocka_unit_test(test_cache),
	};
	return cmocka_run_group_tests_name("prefilter", tests, setup, teardown);
}
