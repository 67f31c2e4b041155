/* test_learn.c -- the linear model: it learns what separates two kinds of
 * text, generalises to words it has seen in other messages, survives a
 * save and a load, and refuses a cache file that is not its own. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "learn.h"
#include "views.h"
#include "helpers.h"

static const char *const texts[] = {
	"my garden tomatoes are ripe",      "the roses in the garden bloom",
	"planting seeds in spring soil",    "watering the garden every morning",
	"weeding the vegetable beds today", "the apple tree needs pruning",
	"compost for the flower beds",      "my garden soil is too dry",
	"the car engine makes a noise",     "changing the oil in my car",
	"new tyres for the car tomorrow",   "the engine will not start",
	"my car battery died again",        "brake pads on the car are worn",
	"driving the car to the garage",    "the car needs a new engine belt",
};
static const int labels[] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1};

static struct learn_set set(void)
{
	struct learn_set s = {texts, labels, 16, 2, 1, NULL, 0, NULL, NULL};
	return s;
}

static void test_learns_and_generalises(void **state)
{
	struct learn_set s = set();
	struct learn_model *m = NULL;
	float p[2];
	char err[256];

	(void)state;
	assert_int_equal(learn_train(&s, 1u << 12, 4.0, &m, err, sizeof(err)), ERR_OK);
	assert_int_equal(learn_nlabels(m), 2);
	/* unseen messages made of words seen on one side */
	assert_int_equal(learn_predict(m, "roses and tomatoes in the beds", 30, p), 0);
	assert_true(p[0] > 0.5f && p[0] + p[1] > 0.99f && p[0] + p[1] < 1.01f);
	assert_int_equal(learn_predict(m, "the engine of my car", 20, p), 1);
	/* typos and disguises still read: pieces of words, the folded view */
	assert_int_equal(learn_predict(m, "my c4r eng1ne", 13, p), 1);
	assert_int_equal(learn_predict(m, "gardenning", 10, p), 0);
	learn_free(m);
}

/* A tag carries what a caller knows beyond the words: a message made only
 * of words no example used is read by its tag, and explain names it. */
static void test_tags(void **state)
{
	/* words that say nothing (each once), tags that say everything */
	static const char *const words[] = {"alpha", "bravo", "delta",  "echo", "golf",  "hotel",
					    "india", "kilo",  "lima",   "mike", "oscar", "papa",
					    "romeo", "tango", "victor", "zulu"};
	static const char *const tagged[] = {"garden", "car", "garden", "car", "garden", "car",
					     "garden", "car", "garden", "car", "garden", "car",
					     "garden", "car", "garden", "car"};
	static const int by_tag[] = {0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1};
	struct learn_set s = {words, by_tag, 16, 2, 1, tagged, 0, NULL, NULL};
	struct learn_model *m = NULL;
	float p[2];
	char err[256], why[256];
	char *folded = NULL;
	size_t flen;
	int changed;

	(void)state;
	assert_int_equal(learn_train(&s, 1u << 12, 4.0, &m, err, sizeof(err)), ERR_OK);
	assert_int_equal(views_fold("quartz", 6, &folded, &flen, &changed), ERR_OK);
	assert_int_equal(learn_predict_folded(m, folded, flen, "garden", NULL, p), 0);
	assert_int_equal(learn_predict_folded(m, folded, flen, "car", NULL, p), 1);
	assert_true(p[1] > 0.6f);
	learn_explain(m, "quartz", 6, "car", NULL, 1, why, sizeof(why));
	assert_non_null(strstr(why, "{car}"));
	/* an empty or absent list is no tag: no side is sure */
	learn_predict_folded(m, folded, flen, "", NULL, p);
	assert_true(p[0] < 0.6f && p[1] < 0.6f);
	learn_predict_folded(m, folded, flen, NULL, NULL, p);
	assert_true(p[0] < 0.6f && p[1] < 0.6f);
	free(folded);
	learn_free(m);
}

/* Words as written with their accents weigh apart from the words they fold
 * to: "gun" in English and "gün" (Turkish: day) fold alike, and only the
 * marked word tells the model which was written. */
static void test_marks(void **state)
{
	static const char *const gun_texts[] = {
		"a gun at home",       "her gun walk", "the gun is loaded",  "bir gun sonra",
		"got a gun today",     "her gun spor", "his gun in the car", "o gun geldi",
		"a gun in the drawer", "gun be gun",   "bought a gun",       "her gun kahve"};
	static const char *const marks[] = {NULL, "gün", NULL, "gün", NULL, "gün",
					    NULL, "gün", NULL, "gün", NULL, "gün"};
	static const int gun_labels[] = {1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0};
	struct learn_set s = {gun_texts, gun_labels, 12, 2, 0, NULL, 0, NULL, marks};
	struct learn_model *m = NULL;
	float p[2];
	char err[256], why[256];

	(void)state;
	assert_int_equal(learn_train(&s, 1u << 12, 4.0, &m, err, sizeof(err)), ERR_OK);
	assert_int_equal(learn_predict_folded(m, "gun", 3, NULL, NULL, p), 1);
	assert_int_equal(learn_predict_folded(m, "gun", 3, NULL, "gün", p), 0);
	learn_explain(m, "gun", 3, NULL, "gün", 0, why, sizeof(why));
	assert_non_null(strstr(why, "gün"));
	learn_free(m);
}

static void test_cross_validation(void **state)
{
	struct learn_set s = set();
	float *p = calloc(16 * 2, sizeof(float));
	char err[256];
	size_t i, right = 0;

	(void)state;
	assert_int_equal(learn_cv(&s, 1u << 12, 4.0, 4, p, NULL, err, sizeof(err)), ERR_OK);
	for (i = 0; i < 16; i++)
		right += (p[i * 2 + 1] > p[i * 2]) == labels[i];
	assert_true(right >= 12); /* each text scored by a model that never saw it */
	free(p);
}

/* learn_cv's folds train side by side in child processes, and its model of
 * the whole set beside them: the same figures as one by one, every time
 * (what `faqbot check` prints must not depend on the machine's processors
 * or on what was trained before) */
static void test_cross_validation_is_repeatable(void **state)
{
	struct learn_set s = set();
	float *p = calloc(16 * 2, sizeof(float)), *q = calloc(16 * 2, sizeof(float));
	struct learn_model *full = NULL, *alone = NULL;
	float a[2], b[2];
	char err[256];

	(void)state;
	assert_int_equal(learn_cv(&s, 1u << 12, 4.0, 4, p, &full, err, sizeof(err)), ERR_OK);
	assert_non_null(full);
	assert_int_equal(learn_cv(&s, 1u << 12, 4.0, 4, q, NULL, err, sizeof(err)), ERR_OK);
	assert_memory_equal(p, q, 16 * 2 * sizeof(float));
	assert_int_equal(learn_train(&s, 1u << 12, 4.0, &alone, err, sizeof(err)), ERR_OK);
	learn_predict(full, "car in the garden", 17, a);
	learn_predict(alone, "car in the garden", 17, b);
	assert_true(a[0] == b[0] && a[1] == b[1]);
	learn_free(full);
	learn_free(alone);
	free(p);
	free(q);
}

static void test_refuses_nothing_to_learn(void **state)
{
	static const int same[] = {0, 0, 0, 0};
	struct learn_set s = {texts, same, 4, 2, 1, NULL, 0, NULL, NULL};
	struct learn_model *m = NULL;
	char err[256];

	(void)state;
	assert_int_equal(learn_train(&s, 1u << 10, 1.0, &m, err, sizeof(err)), ERR_INVALID);
	assert_null(m);
	assert_non_null(strstr(err, "two labels"));
	s.labels = labels;
	assert_int_equal(learn_train(&s, 1000, 1.0, &m, err, sizeof(err)), ERR_INVALID);
}

static void test_save_load(void **state)
{
	struct learn_set s = set();
	struct learn_model *m = NULL, *back = NULL;
	char dir[64], path[128], err[256];
	float a[2], b[2];
	FILE *f;

	(void)state;
	assert_int_equal(th_tmpdir(dir, sizeof(dir), "learn"), 0);
	snprintf(path, sizeof(path), "%s/m", dir);
	assert_int_equal(learn_train(&s, 1u << 10, 4.0, &m, err, sizeof(err)), ERR_OK);
	assert_int_equal(learn_save(m, path, 42), ERR_OK);
	assert_int_equal(learn_load(path, 42, &back), ERR_OK);
	learn_predict(m, "car in the garden", 17, a);
	learn_predict(back, "car in the garden", 17, b);
	assert_true(a[0] == b[0] && a[1] == b[1]);
	learn_free(back);
	/* another key: another training set's model, never used */
	assert_int_equal(learn_load(path, 43, &back), ERR_NOTFOUND);
	assert_null(back);
	/* cut short: refused */
	assert_int_equal(truncate(path, 100), 0);
	assert_int_equal(learn_load(path, 42, &back), ERR_NOTFOUND);
	/* not ours at all */
	f = fopen(path, "w");
	fputs("hello", f);
	fclose(f);
	assert_int_equal(learn_load(path, 42, &back), ERR_NOTFOUND);
	unlink(path);
	assert_int_equal(learn_load(path, 42, &back), ERR_NOTFOUND);
	th_rmtree(dir);
	learn_free(m);
}

static int teardown(void **state)
{
	(void)state;
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_learns_and_generalises),
		cmocka_unit_test(test_tags),
		cmocka_unit_test(test_marks),
		cmocka_unit_test(test_cross_validation),
		cmocka_unit_test(test_cross_validation_is_repeatable),
		cmocka_unit_test(test_refuses_nothing_to_learn),
		cmocka_unit_test(test_save_load),
	};
	return cmocka_run_group_tests(tests, NULL, teardown);
}
