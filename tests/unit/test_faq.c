/* test_faq.c -- loading a FAQ folder: a good one loads whole, and every kind
 * of broken file gives its own message at the right file, line and column.
 *
 * Each folder in tests/data/broken/ is one case; its `expect` file says
 * "FILE:LINE:COL:words the message must contain". */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <sys/stat.h>
#include <unistd.h>

#include "faq.h"
#include "helpers.h"

#define MINI TH_MINI
#define BROKEN "tests/data/broken"

static void test_good_folder_loads(void **state)
{
	struct faq_diags d = {0};
	struct faq *faq = NULL;
	const struct faq_entry *e;

	(void)state;
	assert_int_equal(faq_load(MINI, &faq, &d), ERR_OK);
	assert_int_equal(d.errors, 0);
	assert_int_equal(faq->nentries, 5);
	/* file name order */
	assert_string_equal(faq->entries[0].id, "advice-test");
	e = faq_find(faq, "crisis-test");
	assert_non_null(e);
	assert_int_equal(e->cls, FAQ_CLASS_CRISIS);
	assert_int_equal(e->npatterns, 3);
	assert_int_equal(e->nnegations, 1);
	/* patterns keep their backslashes and their own line numbers */
	assert_string_equal(e->patterns[0].src, "\\bkill (?:my ?self|myself)\\b");
	assert_int_equal(e->patterns[0].line, 7);
	assert_int_equal(e->patterns[0].col, 3);
	assert_int_equal(e->patterns[2].line, 9);
	assert_string_equal(e->examples[1].text, "I\xE2\x80\x99m SUICIDAL");
	assert_int_equal(faq_find(faq, "tms-cost")->priority, 1);
	assert_string_equal(faq_article_title(faq, "000_3eda1d225fd94fd4.txt"),
			    "When Nothing Works: A Test Article");
	assert_null(faq_article_title(faq, "999_nope.txt"));
	/* an answer wrapped in the file is one paragraph to members (a line
	 * on IRC is one paced message) */
	assert_string_equal(faq_find(faq, "tms-cost")->answer,
			    "The cost of TMS depends on where you live, the clinic and your "
			    "insurance. Many insurers cover it once a few medicines have not "
			    "helped, but the rules differ, so it is worth calling your insurer "
			    "and asking the clinic for a written estimate before you start. A "
			    "clinic's staff can often help with the paperwork. Your psychiatrist "
			    "can also tell you what is covered.");
	assert_null(faq_find(faq, "nope"));
	assert_non_null(faq_region(faq, NULL));
	assert_string_equal(faq_region(faq, NULL)->code, "us");
	assert_non_null(faq_region(faq, "UK"));
	assert_null(faq_region(faq, "fr"));
	faq_free(faq);
	faq_diags_release(&d);
}

/* Paragraphs stay parted, list items and placeholders keep their lines. */
static void test_answer_reflow(void **state)
{
	static const char entry[] =
		"id: lines\nclass: crisis\nquestion: Lines?\nreviewed: 2026-11-20\n"
		"sources: []\npatterns: |\n  \\bwidgetcrisis\\b\n"
		"answer: |\n  First line\n  goes on here.\n\n  Call one of these:\n\n"
		"  {crisis_lines}\n\n  Or:\n  - a friend\n  - a doctor who\n    knows you\n"
		"  1. first\n  2. second\n\n  Last\n  words.\n"
		"examples: |\n  widgetcrisis\n";
	static const char *const lines[] = {"lines.yml", NULL};
	char dir[64];
	struct faq_diags d = {0};
	struct faq *faq = NULL;

	(void)state;
	assert_int_equal(th_mini_dir(dir, sizeof(dir), "reflow", lines), 0);
	th_put(dir, "zz.yml", entry);
	assert_int_equal(faq_load(dir, &faq, &d), ERR_OK);
	assert_string_equal(faq_find(faq, "lines")->answer,
			    "First line goes on here.\n\nCall one of these:\n\n{crisis_lines}\n\n"
			    "Or:\n- a friend\n- a doctor who knows you\n1. first\n2. second\n\n"
			    "Last words.");
	faq_free(faq);
	faq_diags_release(&d);
	assert_int_equal(th_rmtree(dir), 0);
}

/* An entry's own word lists: named in its patterns before concepts.yml's,
 * never among the store's concepts (the learned stage's tags); '#' lines
 * are comments in lists, patterns and examples; a pattern goes on over a
 * line indented deeper. */
static void test_entry_words(void **state)
{
	static const char concepts[] = "concepts:\n  place: |\n    clinic\n    {where}\n"
				       "  where: |\n    hospital\n";
	static const char entry[] =
		"id: words-test\nquestion: Can my doctor help?\nreviewed: 2026-11-20\n"
		"sources: [000_3eda1d225fd94fd4.txt]\n"
		"words:\n  # who a member asks\n  doctor: |\n    doctor\n    # not a word\n    gp*\n"
		"  where: |\n    surgery\n"
		"patterns: |\n  # the person, then the place\n  \\b{doctor}\\b.{0,40}\n    \\b{place}\\b\n"
		"  \\b{where}\\b\n"
		"answer: |\n  Your doctor can tell you more about what fits you, and the clinic "
		"can explain\n  how a course of treatment runs, what it costs and what insurers "
		"usually cover.\n  Bring your questions and a list of what you have tried so far; "
		"it helps them\n  give you a clear answer quickly.\n"
		"examples: |\n  # a comment among examples\n  can my doctor help at the clinic?\n";
	char dir[64];
	struct faq_diags d = {0};
	struct faq *faq = NULL;
	const struct faq_entry *e;
	size_t i;

	(void)state;
	assert_int_equal(th_mini_dir(dir, sizeof(dir), "words", NULL), 0);
	th_put(dir, "concepts.yml", concepts);
	th_put(dir, "zz-words.yml", entry);
	if (faq_load(dir, &faq, &d) != ERR_OK)
		for (i = 0; i < d.n; i++)
			fprintf(stderr, "  %s:%u:%u: %s\n", d.v[i].file, d.v[i].line, d.v[i].col,
				d.v[i].msg);
	assert_non_null(faq);
	e = faq_find(faq, "words-test");
	assert_non_null(e);
	assert_int_equal(e->words.n, 2);
	assert_int_equal(e->words.v[0].nphrases, 2);
	assert_int_equal(faq->concepts.n, 2); /* the entry's lists are not concepts */
	assert_int_equal(e->npatterns, 2);
	assert_string_equal(e->patterns[0].src, "\\b{doctor}\\b.{0,40}\\b{place}\\b");
	assert_int_equal(e->patterns[0].line, 15);
	/* the shared {place} keeps its own {where}: hospital, not surgery */
	assert_string_equal(e->patterns[0].expanded,
			    "\\b(?:doctor|gp\\w*)\\b.{0,40}\\b(?:clinic|(?:hospital))\\b");
	assert_string_equal(e->patterns[1].expanded, "\\b(?:surgery)\\b");
	assert_int_equal(e->nexamples, 1);
	assert_string_equal(e->examples[0].text, "can my doctor help at the clinic?");
	faq_free(faq);
	faq_diags_release(&d);
	assert_int_equal(th_rmtree(dir), 0);
}

static void check_case(const char *name)
{
	char dir[512], path[700], line[512], file[128], words[400];
	unsigned want_line = 0, want_col = 0;
	struct faq_diags d = {0};
	struct faq *faq = NULL;
	FILE *f;
	size_t i;
	int seen = 0;

	snprintf(dir, sizeof(dir), BROKEN "/%s", name);
	snprintf(path, sizeof(path), "%s/expect", dir);
	f = fopen(path, "r");
	assert_non_null(f);
	assert_non_null(fgets(line, sizeof(line), f));
	fclose(f);
	line[strcspn(line, "\n")] = '\0';
	assert_int_equal(sscanf(line, "%127[^:]:%u:%u:%399[^\n]", file, &want_line, &want_col, words), 4);
	assert_int_equal(faq_load(dir, &faq, &d), ERR_INVALID);
	assert_null(faq);
	snprintf(path, sizeof(path), "%s/%s", dir, file);
	for (i = 0; i < d.n; i++)
		if (!d.v[i].warning && strcmp(d.v[i].file, path) == 0 && d.v[i].line == want_line &&
		    d.v[i].col == want_col && strstr(d.v[i].msg, words))
			seen = 1;
	if (!seen) {
		for (i = 0; i < d.n; i++)
			fprintf(stderr, "  got %s:%u:%u: %s\n", d.v[i].file, d.v[i].line, d.v[i].col,
				d.v[i].msg);
		fail_msg("case %s: no error %s:%u:%u containing '%s'", name, path, want_line,
			 want_col, words);
	}
	faq_diags_release(&d);
}

static void test_every_broken_case(void **state)
{
	DIR *dh = opendir(BROKEN);
	struct dirent *de;
	int n = 0;

	(void)state;
	assert_non_null(dh);
	while ((de = readdir(dh)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		check_case(de->d_name);
		n++;
	}
	closedir(dh);
	assert_true(n >= 15);
}

/* A name ending in .yml that is not a readable file is an error naming it
 * (an entry must never vanish without a word), for each kind of special
 * file; the rest of the folder is still read and checked. */
static void test_special_files_are_errors(void **state)
{
	static const struct {
		const char *name, *words;
	} cases[] = {
		{"dangling.yml", "does not exist"},
		{"loop.yml", "loops back"},
		{"fifo.yml", "FIFO"},
		{"folder.yml", "folder"},
	};
	size_t i, j;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char dir[64], path[512];
		struct faq_diags d = {0};
		struct faq *faq = NULL;
		int seen = 0;

		assert_int_equal(th_mini_dir(dir, sizeof(dir), "special", NULL), 0);
		snprintf(path, sizeof(path), "%s/%s", dir, cases[i].name);
		if (i == 0)
			assert_int_equal(symlink("/nonexistent/entry.yml", path), 0);
		else if (i == 1)
			assert_int_equal(symlink(cases[i].name, path), 0);
		else if (i == 2)
			assert_int_equal(mkfifo(path, 0600), 0);
		else
			assert_int_equal(mkdir(path, 0700), 0);
		assert_int_equal(faq_load(dir, &faq, &d), ERR_INVALID);
		assert_null(faq);
		for (j = 0; j < d.n; j++)
			if (!d.v[j].warning && strcmp(d.v[j].file, path) == 0 &&
			    strstr(d.v[j].msg, cases[i].words))
				seen = 1;
		if (!seen)
			fail_msg("%s: no error naming it with '%s'", path, cases[i].words);
		assert_int_equal(d.errors, 1); /* the rest of the folder is fine */
		faq_diags_release(&d);
		assert_int_equal(th_rmtree(dir), 0);
	}
}

static void test_missing_folder(void **state)
{
	struct faq_diags d = {0};
	struct faq *faq = NULL;

	(void)state;
	assert_int_equal(faq_load("tests/data/no-such-folder", &faq, &d), ERR_IO);
	assert_int_equal(d.errors, 1);
	assert_non_null(strstr(d.v[0].msg, "cannot open the FAQ folder"));
	faq_diags_release(&d);
}

static void test_parse_text_hostile(void **state)
{
	static const char *const inputs[] = {
		"", "-", "[", "{a: [b, {c: d}]}", "id: x\nid: y\n", "*alias", "a: &x 1\nb: *x\n",
		"patterns: |\n  (\n", "regions: 5", "regions: [1, {lines: [5]}]",
		"id: \"\\xff\"\n", "\t\t\t",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++) {
		struct faq_diags d = {0};

		assert_int_equal(faq_parse_text("x.yml", inputs[i], strlen(inputs[i]), &d), ERR_OK);
		faq_diags_release(&d);
	}
}

static void test_dates(void **state)
{
	(void)state;
	assert_true(faq_date_ok("2026-11-21"));
	assert_true(faq_date_ok("2024-02-29"));
	assert_false(faq_date_ok("2025-02-29"));
	assert_false(faq_date_ok("2026-4-01"));
	assert_false(faq_date_ok("21/11/2026"));
	assert_false(faq_date_ok("2026-04-31"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good_folder_loads),
		cmocka_unit_test(test_answer_reflow),
		cmocka_unit_test(test_entry_words),
		cmocka_unit_test(test_every_broken_case),
		cmocka_unit_test(test_missing_folder),
		cmocka_unit_test(test_special_files_are_errors),
		cmocka_unit_test(test_parse_text_hostile),
		cmocka_unit_test(test_dates),
	};
	return cmocka_run_group_tests_name("faq", tests, NULL, NULL);
}
