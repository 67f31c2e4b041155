/* test_faq_learn.c -- the learned stage of a FAQ: labels checked at their
 * line, off (with a warning) when there is too little to learn from, the
 * shipped FAQ's cross-validated crisis recall held to a floor, and the
 * cache reused while nothing changed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "classify.h"
#include "faq_learn.h"
#include "text.h"
#include "views.h"
#include "helpers.h"

/* The floor under the shipped FAQ's cross-validated figures: an edit of
 * examples or learn/ lines that lowers them fails here, and the moderator
 * sees the figures in `faqbot check`. */
#define FLOOR_CRISIS_RECALL \
	0.86 /* 0.786 at a false-alarm budget of 0.03 (round 20);
                                  * 0.848 at 0.04 (round 22); 0.818 (round 26), when
                                  * 270 crisis messages in 37 languages were learnt
                                  * from: a language with three of them is hard to
                                  * find from the other folds (0.854 without them);
                                  * 0.884 at 0.05 (round 27), learning from 24,700 */
#define MAX_CRISIS_FALSE_ALARM FAQ_LEARN_FALSE_ALARM

static char cache[64];

static int setup(void **state)
{
	(void)state;
	if (th_tmpdir(cache, sizeof(cache), "cache") != 0)
		return -1;
	faq_learn_set_cache(cache);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	faq_learn_set_cache(NULL);
	return th_rmtree(cache);
}

static void test_shipped_stage(void **state)
{
	struct faq_diags d = {0};
	struct faq *faq = NULL, *again = NULL;
	const struct faq_stage *st;

	(void)state;
	assert_int_equal(faq_learn_load("faq", &faq, &d), ERR_OK);
	assert_int_equal(d.errors, 0);
	st = faq->stage;
	assert_non_null(st);
	assert_false(st->from_cache);
	assert_true(st->cv.crisis_recall >= FLOOR_CRISIS_RECALL);
	assert_true(st->cv.crisis_false_alarm <= MAX_CRISIS_FALSE_ALARM);
	assert_true(st->t_crisis >= FAQ_LEARN_CRISIS_MIN && st->t_crisis <= 1.0f);
	/* a question a pattern answers needs the model surer, never less */
	assert_true(st->t_crisis_over >= st->t_crisis && st->t_crisis_over <= 1.0f);
	/* the same FAQ again: from the cache, the same thresholds */
	assert_int_equal(faq_learn_load("faq", &again, &d), ERR_OK);
	assert_true(((const struct faq_stage *)again->stage)->from_cache);
	assert_true(((const struct faq_stage *)again->stage)->t_crisis == st->t_crisis);
	assert_true(((const struct faq_stage *)again->stage)->t_crisis_over == st->t_crisis_over);
	faq_free(again);
	/* the stage raises what no pattern caught, and says it did */
	{
		static const char msg[] = "everything is sorted for after i'm gone, the cat "
					  "goes to my sister";
		struct classify_result r;
		char *norm;
		size_t len;

		assert_int_equal(text_normalise(msg, strlen(msg), &norm, &len), ERR_OK);
		assert_int_equal(classify(faq, norm, len, NULL, &r), ERR_OK);
		if (r.matched && r.cls == FAQ_CLASS_CRISIS && r.stage == CLASSIFY_BY_MODEL) {
			assert_null(r.pattern);
			assert_true(r.prob >= st->t_crisis);
		}
		/* patterns alone never see the model */
		assert_int_equal(classify_patterns(faq, norm, len, &r), ERR_OK);
		assert_int_not_equal(r.stage, CLASSIFY_BY_MODEL);
		free(norm);
	}
	/* two entries' patterns fit; the model, from the examples, chooses
	 * the one members mean, and says over which */
	{
		static const char msg[] = "is ketamine actually effective for depression or is "
					  "it all hype?";
		struct classify_result r;
		char *norm;
		size_t len;

		assert_int_equal(text_normalise(msg, strlen(msg), &norm, &len), ERR_OK);
		assert_int_equal(classify(faq, norm, len, NULL, &r), ERR_OK);
		assert_true(r.matched && r.stage == CLASSIFY_BY_PATTERN);
		assert_string_equal(r.entry->id, "ketamine-effectiveness");
		assert_non_null(r.over);
		assert_string_equal(r.over->id, "ketamine-not-a-cure");
		assert_int_equal(classify_patterns(faq, norm, len, &r), ERR_OK);
		assert_int_not_equal(r.stage, CLASSIFY_BY_MODEL);
		free(norm);
	}
	/* a concept made only of others ({when}: {when-day}, {when-plan}) is
	 * no tag of its own: its parts are, each weighed apart */
	{
		static const char msg[] = "see you today, and i picked the day after the wedding";
		char tags[512], padded[sizeof(tags) + 2];

		faq_stage_tags(faq, msg, strlen(msg), tags, sizeof(tags));
		snprintf(padded, sizeof(padded), " %s ", tags);
		assert_non_null(strstr(padded, " when-day "));
		assert_non_null(strstr(padded, " when-plan "));
		assert_null(strstr(padded, " when "));
	}
	faq_free(faq);
	faq_diags_release(&d);
}

static void test_labels_and_too_little(void **state)
{
	char dir[64], path[256];
	struct faq_diags d = {0};
	struct faq *faq = NULL;
	size_t i;
	int seen = 0;

	(void)state;
	assert_int_equal(th_mini_dir(dir, sizeof(dir), "fl", NULL), 0);
	snprintf(path, sizeof(path), "%s/learn", dir);
	assert_int_equal(mkdir(path, 0700), 0);
	/* too little to learn from: the patterns serve alone, with a warning */
	assert_int_equal(faq_learn_load(dir, &faq, &d), ERR_OK);
	assert_null(faq->stage);
	for (i = 0; i < d.n; i++)
		seen |= d.v[i].warning && strstr(d.v[i].msg, "learned stage is off") != NULL;
	assert_true(seen);
	faq_free(faq);
	faq_diags_release(&d);
	/* a wrong label is an error at its file and line */
	snprintf(path, sizeof(path), "%s/learn/x.tsv", dir);
	th_write(path,
		 "# a comment\nhello there\tnone\nwhat is it\tfaq:no-such-entry\n"
		 "no tab on this line\n",
		 0644);
	assert_int_equal(faq_learn_load(dir, &faq, &d), ERR_INVALID);
	assert_null(faq);
	seen = 0;
	for (i = 0; i < d.n; i++) {
		if (!d.v[i].warning && d.v[i].line == 3 && strstr(d.v[i].msg, "no-such-entry"))
			seen |= 1;
		if (!d.v[i].warning && d.v[i].line == 4 && strstr(d.v[i].msg, "a tab"))
			seen |= 2;
	}
	assert_int_equal(seen, 3);
	faq_diags_release(&d);
	assert_int_equal(th_rmtree(dir), 0);
}

/* A FAQ edited under a running bot: the new FAQ serves at once with the
 * stage in use, while the new stage trains beside it; loaded again once
 * that is done, it comes from the cache and knows the new entry. */
static void test_reload_beside(void **state)
{
	char dir[64];
	struct faq_diags d = {0};
	struct faq *faq = NULL, *nf = NULL, *n2 = NULL;
	const struct faq_stage *st;
	struct timespec nap = {0, 50 * 1000 * 1000};
	int i;

	(void)state;
	assert_int_equal(th_tmpdir(dir, sizeof(dir), "rl"), 0);
	assert_int_equal(th_copy_tree("faq", dir, NULL), 0);
	assert_int_equal(faq_learn_load(dir, &faq, &d), ERR_OK);
	assert_non_null(faq->stage);
	assert_false(faq->stage_pending);
	th_put(dir, "glutamate.yml",
	       "id: glutamate\nquestion: What is glutamate?\nreviewed: 2026-12-06\n"
	       "sources:\n  - 001_ec26d130dbd3dfbf.txt\npatterns: |\n  \\bglutamate\\b\n"
	       "answer: |\n  Glutamate is the brain's most common go messenger, and it matters "
	       "for plasticity: the brain's ability to change, learn and build new connections. "
	       "Most antidepressants work on serotonin; ketamine and Spravato work on the "
	       "glutamate system instead, which may help explain why they can work when other "
	       "medicines did not. Your prescriber can say what that means for you.\n"
	       "examples: |\n  what is glutamate\n  what does glutamate do\n");
	assert_int_equal(faq_learn_reload(dir, faq, &nf, &d), ERR_OK);
	assert_true(nf->stage_pending);
	st = nf->stage;
	assert_non_null(st); /* the stage in use, for the new FAQ */
	assert_non_null(faq_find(nf, "glutamate"));
	faq_free(faq); /* the adopted stage is a copy: the old FAQ may go */
	{
		static const char msg[] = "i want to die";
		struct classify_result r;
		char *norm;
		size_t len;

		assert_int_equal(text_normalise(msg, strlen(msg), &norm, &len), ERR_OK);
		assert_int_equal(classify(nf, norm, len, NULL, &r), ERR_OK);
		assert_true(r.matched && r.cls == FAQ_CLASS_CRISIS);
		free(norm);
	}
	/* a condition with a timeout: the training beside ends */
	for (i = 0; i < 20 * 300 && faq_learn_training(); i++)
		nanosleep(&nap, NULL);
	assert_false(faq_learn_training());
	assert_int_equal(faq_learn_reload(dir, nf, &n2, &d), ERR_OK);
	assert_false(n2->stage_pending);
	st = n2->stage;
	assert_non_null(st);
	assert_true(st->from_cache);
	{
		size_t k;
		int found = 0;

		for (k = 0; k < st->nentries; k++)
			found |= st->entries[k] && !strcmp(st->entries[k]->id, "glutamate");
		assert_true(found);
	}
	faq_free(nf);
	faq_free(n2);
	faq_diags_release(&d);
	assert_int_equal(th_rmtree(dir), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_shipped_stage),
		cmocka_unit_test(test_labels_and_too_little),
		cmocka_unit_test(test_reload_beside),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
