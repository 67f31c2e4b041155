/* test_classify.c -- priority (crisis > advice > faq > none), negations
 * that cannot hide a risk, the priority field, and the longest-match rule. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "classify.h"
#include "text.h"
#include "helpers.h"

static struct faq *mini;

static int setup(void **state)
{
	(void)state;
	return th_mini_load(&mini);
}

static int teardown(void **state)
{
	(void)state;
	faq_free(mini);
	return 0;
}

/* label returns "crisis", "advice", "none" or the faq id. */
static const char *label(const char *raw)
{
	static char buf[128];
	struct classify_result r;
	char *norm;
	size_t len;

	assert_int_equal(text_normalise(raw, strlen(raw), &norm, &len), ERR_OK);
	assert_int_equal(classify(mini, norm, len, NULL, &r), ERR_OK);
	free(norm);
	if (!r.matched)
		return "none";
	snprintf(buf, sizeof(buf), "%s",
		 r.cls == FAQ_CLASS_FAQ ? r.entry->id : faq_class_name(r.cls));
	return buf;
}

static void test_order(void **state)
{
	(void)state;
	assert_string_equal(label("what is tms"), "tms");
	assert_string_equal(label("what dose should i take before tms"), "advice");
	/* crisis outranks everything else in the same message */
	assert_string_equal(label("what dose of tms would kill myself"), "crisis");
	assert_string_equal(label("what does tms cost, i'm suicidal"), "crisis");
	assert_string_equal(label("lovely weather"), "none");
	assert_string_equal(label(""), "none");
}

static void test_negation_only_lifts_its_words(void **state)
{
	(void)state;
	assert_string_equal(label("I'm not suicidal. what is tms?"), "tms");
	assert_string_equal(label("not suicidal but i want to kill myself"), "crisis");
	assert_string_equal(label("not suicidal, just asking how many pills"), "crisis");
	assert_string_equal(label("not suicidal. ok maybe suicidal"), "crisis");
}

static void test_normalised_forms_match(void **state)
{
	(void)state;
	assert_string_equal(label("I want to \xEF\xBC\xAB"
				  "ILL MYSELF"),
			    "crisis");
	assert_string_equal(label("\x02"
				  "kill\x02 myself"),
			    "crisis");
	assert_string_equal(label("> <@a:b> what is tms\n\nsuicidal tonight"), "crisis");
}

static void test_priority_then_length(void **state)
{
	(void)state;
	/* tms-cost has priority 1: it wins over the longer-matching tms entry */
	assert_string_equal(label("what does tms cost"), "tms-cost");
	assert_string_equal(label("tms cost?"), "tms-cost");
}

static void test_faq_needs_a_question(void **state)
{
	(void)state;
	/* faq entries match question-shaped messages only (the question
	 * entry's rule); crisis and advice do not wait for a question */
	assert_string_equal(label("tms tomorrow, wish me luck"), "none");
	assert_string_equal(label("tms tomorrow?"), "tms");
	assert_string_equal(label("what dose. thanks"), "advice");
	assert_string_equal(label("suicidal"), "crisis");
}

/* In a long post, a question said to the room about something else does
 * not make every topic the post names a question to the FAQ: the sentence
 * that names it, or the next, must ask. */
static void test_long_post_asks_near_its_topic(void **state)
{
	const char *story = "had my fourth session of tms today and the drive there took an hour "
			    "because of roadworks on the bypass. the dog was sick on the kitchen "
			    "floor when i got home and my sister rang to say she can't come at "
			    "christmas after all. work wants a sick note for next week too. anyone "
			    "else find the winter evenings endless?";
	const char *asks =
		"had my fourth session of tms today and the drive there took an hour "
		"because of roadworks on the bypass. is it normal to feel nothing yet? the "
		"dog was sick on the kitchen floor when i got home and my sister rang to "
		"say she can't come at christmas after all, so that was my evening.";
	const char *short_ =
		"had my fourth session of tms today. anyone else find the evenings endless?";

	(void)state;
	assert_true(strlen(story) > CLASSIFY_ASK_NEAR_MIN && strlen(asks) > CLASSIFY_ASK_NEAR_MIN);
	assert_string_equal(label(story), "none");
	assert_string_equal(label(asks), "tms");
	assert_string_equal(label(short_), "tms"); /* a short message is one question */
}

/* A crisis anywhere in the longest message a transport accepts is found,
 * at every offset around the window boundaries; advice and FAQ read the
 * first TEXT_CLASSIFY_MAX bytes only. */
static void test_long_message_crisis_anywhere(void **state)
{
	size_t n = TEXT_MESSAGE_MAX, off;
	char *big = malloc(n + 1);
	static const char phrase[] = "i feel suicidal";

	(void)state;
	for (off = 0; off < n; off++)
		big[off] = "hello "[off % 6];
	big[n] = '\0';
	assert_string_equal(label(big), "none");
	/* at the very end */
	memcpy(big + n - strlen(phrase), phrase, strlen(phrase));
	assert_string_equal(label(big), "crisis");
	memcpy(big + n - strlen(phrase), "hello hello hell", strlen(phrase));
	/* straddling each place a window could end, byte by byte */
	for (off = TEXT_CLASSIFY_MAX - 600; off < TEXT_CLASSIFY_MAX + 40; off += 7) {
		char *copy = strdup(big);

		memcpy(copy + off, phrase, strlen(phrase));
		assert_string_equal(label(copy), "crisis");
		free(copy);
	}
	/* a negation cut by a window still lifts only its own words */
	for (off = TEXT_CLASSIFY_MAX - 80; off < TEXT_CLASSIFY_MAX + 10; off += 3) {
		char *copy = strdup(big);

		memcpy(copy + off, " not suicidal ", 14);
		assert_string_not_equal(label(copy), "advice");
		free(copy);
	}
	/* a question far into the message is not answered */
	memcpy(big + TEXT_CLASSIFY_MAX * 2, " what is tms? ", 14);
	assert_string_equal(label(big), "none");
	free(big);
}

/* A crisis in disguise is read through the folded view (views.h); plain
 * words and numbers are not turned into one. */
static void test_disguised_crisis(void **state)
{
	(void)state;
	assert_string_equal(label("i want to k1ll mys3lf"), "crisis");
	assert_string_equal(label("[22:14] <kez> honestly su1c1dal tonight"), "crisis");
	assert_string_equal(label("i am s u i c i d a l"), "crisis");
	assert_string_equal(label("k-i-l-l myself"), "crisis");
	assert_string_equal(label("i'm su"
				  "\xD1\x96"
				  "cidal"),
			    "crisis"); /* Cyrillic i */
	assert_string_equal(label("killllll myself"), "crisis");
	assert_string_equal(label("i take 2 pills at 8am"), "none");
	/* a question in disguise still gets its entry */
	assert_string_equal(label("wh@t is tms?"), "tms");
}

/* A crisis pattern stopped by a PCRE2 limit counts as a crisis: a message
 * the bot could not read through must not be taken as safe. */
static void test_crisis_limit_fails_safe(void **state)
{
	static const char crisis[] =
		"id: slow-crisis\nclass: crisis\nquestion: q\nreviewed: 2026-11-20\n"
		"patterns: |\n  ^(a+)+$\nanswer: |\n  Please reach out. {crisis_lines}\n"
		"examples: |\n  aaaa\n";
	char dir[64];
	struct faq_diags d = {0};
	struct faq *faq = NULL;
	struct classify_result r;
	char subject[64];

	(void)state;
	assert_int_equal(th_mini_dir(dir, sizeof(dir), "limit", NULL), 0);
	th_put(dir, "slow.yml", crisis);
	assert_int_equal(faq_load(dir, &faq, &d), ERR_OK);
	memset(subject, 'a', sizeof(subject) - 2);
	subject[sizeof(subject) - 2] = '!';
	subject[sizeof(subject) - 1] = '\0';
	assert_int_equal(classify(faq, subject, strlen(subject), NULL, &r), ERR_OK);
	assert_true(r.limited);
	assert_true(r.matched);
	assert_int_equal(r.cls, FAQ_CLASS_CRISIS);
	assert_string_equal(r.entry->id, "slow-crisis");
	faq_free(faq);
	faq_diags_release(&d);
	assert_int_equal(th_rmtree(dir), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_order),
		cmocka_unit_test(test_negation_only_lifts_its_words),
		cmocka_unit_test(test_normalised_forms_match),
		cmocka_unit_test(test_priority_then_length),
		cmocka_unit_test(test_long_message_crisis_anywhere),
		cmocka_unit_test(test_faq_needs_a_question),
		cmocka_unit_test(test_long_post_asks_near_its_topic),
		cmocka_unit_test(test_crisis_limit_fails_safe),
		cmocka_unit_test(test_disguised_crisis),
	};
	return cmocka_run_group_tests_name("classify", tests, setup, teardown);
}
