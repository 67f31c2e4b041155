/* classify.h -- the safety-first classifier: normalised text in, one class
 * out, in the order crisis > advice > faq > none.
 *
 * A crisis is never outranked: crisis patterns run first and a match ends
 * the search. Negations ("not suicidal") blank only the words they match
 * before crisis patterns run, so they cannot hide any other risk phrase in
 * the same message. A crisis pattern stopped by a PCRE2 limit counts as a
 * match: on the crisis path a false alarm is the safe failure.
 *
 * Only the patterns the store's prefilter leaves for a text run on it
 * (prefilter.h): the answers are those of running them all, since a
 * pattern it rules out cannot match. */
#ifndef FAQBOT_CLASSIFY_H
#define FAQBOT_CLASSIFY_H

#include <stddef.h>

#include "err.h"
#include "faq.h"

/* Which text decided: the normalised message, or its folded view (views.h:
 * symbols read as letters, look-alike letters, spaced letters joined...).
 * start and len are offsets in that text. */
enum classify_view { CLASSIFY_VIEW_NORM, CLASSIFY_VIEW_FOLDED, CLASSIFY_VIEW_MENDED };

struct classify_result {
	int matched;                       /* 0: none */
	enum faq_class cls;                /* when matched */
	const struct faq_entry *entry;     /* borrowed from the store */
	const struct faq_pattern *pattern; /* the pattern that decided */
	size_t start, len;                 /* the matched text in the input */
	int limited;                       /* some pattern hit a PCRE2 limit */
	int question;                      /* the message reads as a question */
	enum classify_view view;           /* the text the match is in */
	/* Which stage decided: the patterns, or the learned stage (when no
	 * pattern of that class matched and the model's probability passed
	 * its threshold; pattern is then NULL). prob is the model's
	 * probability of the class decided, or -1 when it did not run. */
	enum classify_stage { CLASSIFY_BY_PATTERN, CLASSIFY_BY_MODEL } stage;
	float prob;
	/* Where patterns of two FAQ entries matched and the learned stage
	 * chose entry over the one priority chose: that one, else NULL. */
	const struct faq_entry *over;
};

/* Words a message needs before the learned stage may route it to an
 * advice or FAQ answer no pattern gave (a crisis it raises needs none). */
#define CLASSIFY_ROUTE_MIN_WORDS 3
/* Bytes of a message above which a FAQ entry answers only where the
 * question is asked near the topic (classify.c, asks_near): a long post's
 * "?" is often said to the room, about something else */
#define CLASSIFY_ASK_NEAR_MIN    240

/* classify_is_question says whether norm reads as a question: by the
 * patterns of the store's `class: question` entries where it has any, else
 * by text_is_question(). One rule for the classifier and for the bot. */
int classify_is_question(const struct faq *faq, const char *norm, size_t len);

/* classify runs the store's patterns over norm (text_normalise output), and
 * over its folded view (views.h) where that differs and norm decided
 * nothing at that class: crisis on either view comes first. Then the
 * learned stage (faq_learn.h), where the store has one: it may raise a
 * message no crisis pattern matched to crisis, and route a message no
 * pattern matched at all to advice or a FAQ entry; it never lowers what a
 * pattern found. marks: the message's accented words (text_marks of the
 * raw text, NULL for none), which the learned stage reads beside norm.
 * Returns ERR_NOMEM only; everything else is an answer in *r. */
enum err classify(const struct faq *faq, const char *norm, size_t len, const char *marks,
		  struct classify_result *r);

/* classify_explain writes, for a person, which stage decided r for norm and
 * why: the pattern's file, line and column (and the view it matched in), or
 * the learned stage's probability against its threshold and the words that
 * weighed most; for no match, the model's probabilities and that no
 * threshold was passed. One line, cut to buflen. */
void classify_explain(const struct faq *faq, const char *norm, size_t len, const char *marks,
		      const struct classify_result *r, char *buf, size_t buflen);

/* classify_patterns is classify without the learned stage: what the
 * moderators' patterns alone decide (`faqbot check` holds examples to
 * them; the model is judged by cross-validation instead). */
enum err classify_patterns(const struct faq *faq, const char *norm, size_t len,
			   struct classify_result *r);

#endif
