/* test_check.c -- faqbot check: stolen examples, matching not_examples and
 * patterns that hit the match limit are errors with file:line:col. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "check.h"
#include "helpers.h"

static char dir[64];

static void put(const char *name, const char *text)
{
	th_put(dir, name, text);
}

/* copy of the mini FAQ, with one more file */
static int setup(void **state)
{
	static const char *const files[] = {"crisis.yml", "advice.yml", "tms.yml",
					    "tms-cost.yml", "lines.yml", "question.yml", NULL};

	(void)state;
	return th_mini_dir(dir, sizeof(dir), "check", files);
}

static int teardown(void **state)
{
	(void)state;
	return th_rmtree(dir);
}

/* run_check loads and checks; returns whether some error contains words at
 * file:line. */
static int finds(const char *file, unsigned line, const char *words)
{
	struct faq_diags d = {0};
	struct faq *faq = NULL;
	struct check_opts o = {NULL, 0};
	char path[128];
	size_t i;
	int seen = 0;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	if (faq_load(dir, &faq, &d) == ERR_OK)
		assert_int_equal(check_faq(faq, &o, &d), ERR_OK);
	for (i = 0; i < d.n; i++) {
		if (!d.v[i].warning && strcmp(d.v[i].file, path) == 0 && d.v[i].line == line &&
		    strstr(d.v[i].msg, words))
			seen = 1;
	}
	if (!seen)
		for (i = 0; i < d.n; i++)
			fprintf(stderr, "  got %s:%u:%u: %s\n", d.v[i].file, d.v[i].line, d.v[i].col,
				d.v[i].msg);
	faq_free(faq);
	faq_diags_release(&d);
	return seen;
}

static void test_clean_copy(void **state)
{
	struct faq_diags d = {0};
	struct faq *faq = NULL;
	struct check_opts o = {NULL, 0};

	(void)state;
	assert_int_equal(faq_load(dir, &faq, &d), ERR_OK);
	assert_int_equal(check_faq(faq, &o, &d), ERR_OK);
	assert_int_equal(d.errors, 0);
	faq_free(faq);
	faq_diags_release(&d);
}

static const char greedy_answer[] =
	"answer: |\n"
	"  TMS, or transcranial magnetic stimulation, uses gentle magnetic pulses\n"
	"  aimed at the parts of the brain that help control mood. It does not need\n"
	"  anaesthesia, you stay awake, and you can usually go about your day after a\n"
	"  session. Improvement tends to come over a few weeks of regular sessions.\n"
	"  If you are curious whether it fits you, your psychiatrist can tell you more.\n";

static void test_stolen_example(void **state)
{
	char text[2048];

	(void)state;
	/* a greedy entry with a higher priority takes tms's example */
	snprintf(text, sizeof(text),
		 "id: greedy\nquestion: Anything\nreviewed: 2026-11-20\npriority: 5\n"
		 "sources: [x.txt]\npatterns: |\n  \\bwhat\\b\n%s"
		 "examples: |\n  what now\n", greedy_answer);
	put("zz-greedy.yml", text);
	assert_true(finds("tms.yml", 15, "is answered by 'greedy'"));
	/* both priorities and the winner's place, never its regular expression */
	assert_true(finds("tms.yml", 15, "'greedy' (its pattern at "));
	assert_true(finds("tms.yml", 15, ", priority 5) instead of 'tms' (priority 0): the "
					 "higher priority wins"));
	assert_false(finds("tms.yml", 15, "\\bwhat"));
	unlink("zz-greedy.yml");
	snprintf(text, sizeof(text), "%s/zz-greedy.yml", dir);
	unlink(text);
}

/* A broad new entry that takes the examples of several others is reported
 * once, in its own file, with a count; their files stay quiet (issue 13). */
static void test_broad_entry_once(void **state)
{
	static const char *const names[] = {"gadget", "gizmo", "doohickey"};
	char text[2048], name[64];
	size_t i;

	(void)state;
	for (i = 0; i < 3; i++) {
		snprintf(text, sizeof(text),
			 "id: %s\nquestion: What is a %s?\nreviewed: 2026-11-20\n"
			 "sources: [x.txt]\npatterns: |\n  \\b%s\\b\n%s"
			 "examples: |\n  what is a %s thing?\n", names[i], names[i], names[i],
			 greedy_answer, names[i]);
		snprintf(name, sizeof(name), "%s.yml", names[i]);
		put(name, text);
	}
	snprintf(text, sizeof(text),
		 "id: thing\nquestion: Things?\nreviewed: 2026-11-20\npriority: 7\n"
		 "sources: [x.txt]\npatterns: |\n  \\bthing\\b\n%s"
		 "examples: |\n  a thing?\n", greedy_answer);
	put("zz-thing.yml", text);
	assert_true(finds("zz-thing.yml", 7, "'thing' (priority 7) answers 3 examples of other "
					     "entries (doohickey, gadget, gizmo) instead of them: its "
					     "patterns are too broad"));
	for (i = 0; i < 3; i++) {
		snprintf(name, sizeof(name), "%s.yml", names[i]);
		assert_false(finds(name, 14, "is answered by"));
	}
	for (i = 0; i < 3; i++) {
		snprintf(text, sizeof(text), "%s/%s.yml", dir, names[i]);
		unlink(text);
	}
	snprintf(text, sizeof(text), "%s/zz-thing.yml", dir);
	unlink(text);
}

static void test_not_example_matches(void **state)
{
	char text[2048];

	(void)state;
	snprintf(text, sizeof(text),
		 "id: widget\nquestion: Widgets?\nreviewed: 2026-11-20\n"
		 "sources: [x.txt]\npatterns: |\n  \\bwidget\\b\n%s"
		 "examples: |\n  widget?\nnot_examples: |\n  my widget broke?\n", greedy_answer);
	put("widget.yml", text);
	assert_true(finds("widget.yml", 16, "not_example 'my widget broke?' is answered by this entry"));
	snprintf(text, sizeof(text), "%s/widget.yml", dir);
	unlink(text);
}

/* An example its pattern matches that gets no answer because it is no
 * question says so, rather than that no pattern matches it (issue 13). */
static void test_example_not_a_question(void **state)
{
	char text[2048];

	(void)state;
	snprintf(text, sizeof(text),
		 "id: widget\nquestion: Widgets?\nreviewed: 2026-11-20\n"
		 "sources: [x.txt]\npatterns: |\n  \\bwidget\\b\n%s"
		 "examples: |\n  widget?\n  my widget arrived today\n", greedy_answer);
	put("widget.yml", text);
	assert_true(finds("widget.yml", 15, "does not read as a question, and 'widget' answers "
					   "questions only"));
	assert_false(finds("widget.yml", 15, "no pattern of"));
	snprintf(text, sizeof(text), "%s/widget.yml", dir);
	unlink(text);
}

static void test_pattern_hits_limit(void **state)
{
	char text[2048];

	(void)state;
	snprintf(text, sizeof(text),
		 "id: slow\nquestion: Slow?\nreviewed: 2026-11-20\n"
		 "sources: [x.txt]\npatterns: |\n  \\bslowpoke\\b\n  ^(\\w+\\s?)*$\n%s"
		 "examples: |\n  slowpoke\n", greedy_answer);
	put("slow.yml", text);
	assert_true(finds("slow.yml", 7, "hits the PCRE2 match limit"));
	snprintf(text, sizeof(text), "%s/slow.yml", dir);
	unlink(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_clean_copy),
		cmocka_unit_test(test_stolen_example),
		cmocka_unit_test(test_broad_entry_once),
		cmocka_unit_test(test_not_example_matches),
		cmocka_unit_test(test_example_not_a_question),
		cmocka_unit_test(test_pattern_hits_limit),
	};
	return cmocka_run_group_tests_name("check", tests, setup, teardown);
}
