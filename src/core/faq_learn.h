/* faq_learn.h -- the learned second stage of a loaded FAQ: what it learns
 * from, how it is trained and checked, and the figures a moderator sees.
 *
 * It learns from every entry's examples (crisis, advice, or the entry's
 * id) and from the labelled messages in the FAQ folder's learn/ folder:
 * one message a line, a tab, then its label: crisis, advice, none or
 * faq:ID, optionally with a family after a colon for people to read
 * (crisis:self-harm, none:title). A label with a family names an entry
 * where one fits it: crisis:self-harm is crisis-self-harm's,
 * advice:choosing the one advice entry whose id starts with
 * advice-choosing. Two models come out of it:
 *   - `kind`: crisis, advice, faq or none, for every message;
 *   - `entry`: which entry, among those of the kind the message was given
 *     (the advice or FAQ entry whose answer fits it best). A crisis the
 *     model raises gets the crisis entry with the most examples, the most
 *     general crisis reply: training a model to choose among crisis
 *     replies cost seconds at every load for a choice between warm
 *     replies that all carry the lines.
 * Thresholds come from 5-fold cross-validation over the same messages: the
 * crisis threshold is the lowest at which at most FAQ_LEARN_FALSE_ALARM of
 * the messages that are not a crisis would have been called one; advice
 * and faq thresholds keep the routed messages at least FAQ_LEARN_PRECISION
 * right. The figures at those thresholds are kept for `faqbot check`.
 *
 * A model is costly to train and cheap to keep, so a trained stage is
 * saved in the cache folder (faq_learn_set_cache) under a key made of
 * everything it was trained on, and loaded from there while that is
 * unchanged. A stage that cannot be trained leaves the patterns serving
 * alone, with a warning. */
#ifndef FAQBOT_FAQ_LEARN_H
#define FAQBOT_FAQ_LEARN_H

#include <stddef.h>

#include "err.h"
#include "faq.h"
#include "learn.h"

#define FAQ_LEARN_DIR         "learn" /* the labelled messages, in the FAQ folder */
#define FAQ_LEARN_MAX_LINES   120000  /* messages read from it (about 82,000 in round 33) */
#define FAQ_LEARN_MAX_LINE    2048    /* bytes of one line */
/* The kind model's buckets: round 27, with 19,600 messages to learn from,
 * three writers' 1,000 unseen messages: at 1 << 16 against 1 << 15, 11 more
 * crises found of 550 (most in other languages) for 8 fewer false alarms
 * of 650; 1 << 17 found fewer then. Round 31, with 62,700 messages (more
 * words and pieces than 1 << 16 buckets keep apart: German "es" and "der"
 * shared crisis weight), twelve writers' 4,400 unseen messages: at 1 << 17,
 * 6 more crises found of 1,600 and 31 fewer false alarms of 3,200, for
 * 0.3 MB more of faqbot ask's peak (make bench: 16.8 MB vs 16.5) */
#define FAQ_LEARN_KIND_DIM    (1u << 17)
#define FAQ_LEARN_ENTRY_DIM   (1u << 13)
#define FAQ_LEARN_C           16.0 /* liblinear's cost */
#define FAQ_LEARN_FOLDS       5
#define FAQ_LEARN_ENTRY_FOLDS 3 /* the entry model: 42 labels cost more */
#define FAQ_LEARN_FALSE_ALARM \
	0.050 /* of non-crisis messages, at most: the
                                        * examples' negatives are the hard ones
                                        * (titles, heavy days, the past); on
                                        * members' everyday messages it is less.
                                        * 0.030 in round 21; round 22 measured
                                        * three writers' 1,500 messages the
                                        * model never learnt from: at 0.040
                                        * (threshold 0.67 -> 0.58) they lost 27
                                        * fewer crises of 650 for 4 more false
                                        * alarms of 850, and the seen sets
                                        * (holdout, fresh files, regress, dev)
                                        * 3 more crises for 8 more false alarms
                                        * of 3,000; 0.045 and 0.050 bought few
                                        * more crises, dearer. Round 27, with
                                        * 21,000 messages to learn from, four
                                        * writers' 1,500 unseen messages: at
                                        * 0.050 (threshold 0.55 -> 0.51), 10
                                        * more crises found of 590 for 5 more
                                        * false alarms of 1,090 */
#define FAQ_LEARN_FALSE_ALARM_OVER \
	0.030 /* the same, for a message an advice
                                        * or FAQ pattern answers: a question on
                                        * a topic needs the model surer (at
                                        * 0.040 alone, studied questions on
                                        * causes and cost were raised) */
#define FAQ_LEARN_CRISIS_WEIGHT \
	1.5 /* a crisis example weighs this much more
                                        * than its share in training: a miss
                                        * costs more than a false alarm */
#define FAQ_LEARN_PRECISION \
	0.85 /* of routed messages, at least: at
                                        * 0.90 a member's question the model
                                        * ranked right more often than not
                                        * got silence (measured on the seen
                                        * sets: +8 FAQ answers right, -4
                                        * chat lines kept quiet, round 23) */
#define FAQ_LEARN_OVER_PRECISION \
	0.98                         /* of FAQ questions turned to advice:
                                        * a pattern's answer is overruled
                                        * only when the model is surer */
#define FAQ_LEARN_CRISIS_MIN    0.30 /* the crisis threshold is never lower */
/* The FAQ threshold is never lower: the examples hold few of a room's
 * chat lines ("aw what a cute dog"), so at 0.05, where cross-validation
 * put it once 6,000 more questions were learnt, "what" alone routed chat
 * to an entry. Round 27, three writers' 1,000 unseen messages: at 0.25
 * against 0.05, 9 more chat lines left alone, 4 fewer questions in other
 * languages answered, the holdout unchanged. */
#define FAQ_LEARN_FAQ_MIN       0.25
/* When two FAQ entries' patterns both match, the entry model may choose
 * the other one than priority did: only when it gives that entry at least
 * this probability, and this many times the chosen one's (measured on the
 * studied sets: right entry 0.85-0.88 -> 0.89-0.91, the holdout 0.88 ->
 * 0.91). */
#define FAQ_LEARN_ARBITER_SURE  0.5f
#define FAQ_LEARN_ARBITER_RATIO 3.0f
#define FAQ_LEARN_TAGS_MAX      1024 /* bytes of a message's tags */
#define FAQ_LEARN_MIN_KIND \
	30 /* messages of each kind, at least: fewer
                                        * and a model learns noise */

/* The kind model's labels. */
enum faq_learn_kind { FAQ_KIND_CRISIS, FAQ_KIND_ADVICE, FAQ_KIND_FAQ, FAQ_KIND_NONE, FAQ_KINDS };

/* Cross-validated figures at the chosen thresholds. */
struct faq_learn_figures {
	size_t n, ncrisis, nadvice, nfaq, nnone; /* messages of each kind */
	/* crisis_false_alarm: of the messages in English that are not a
	 * crisis, the share raised (what the budget holds: choose_crisis in
	 * faq_learn_train.c); crisis_false_alarm_all: of all of them */
	double crisis_recall, crisis_false_alarm, crisis_false_alarm_all;
	double advice_recall, advice_precision;
	double faq_recall, faq_precision; /* routed to the right entry */
	/* advice over a FAQ question: of the advice and FAQ messages, the
	 * advice ones turned to advice, and how many of those turned were */
	double over_recall, over_precision;
};

struct faq_stage {
	struct learn_model *kind, *entry;
	/* one matcher a concept of the FAQ (concept.h), `\b{name}\b`: the
	 * concepts a message names are the models' tags (learn.h) */
	struct match_re **tag_re;
	const char **tag_name; /* borrowed from the FAQ's concepts */
	size_t ntags;
	float t_crisis, t_advice, t_faq;
	/* a message an advice or FAQ pattern answers is raised to crisis only
	 * at this (FAQ_LEARN_FALSE_ALARM_OVER's threshold), not t_crisis */
	float t_crisis_over;
	/* advice comes before FAQ: a message a FAQ pattern matched is advice
	 * when the model's advice probability passes this, and its FAQ one */
	float t_over;
	const struct faq_entry **entries; /* the entry model's labels: every
	                                   * advice and faq entry */
	/* For a class the entry model does not choose in (crisis), or when it
	 * has no entry: the entry of that class with the most examples, the
	 * most general answer. Set at every load (examples may be dropped
	 * after it, faq_drop_examples). */
	const struct faq_entry *general[FAQ_CLASS_QUESTION + 1];
	size_t nentries;
	struct faq_learn_figures cv;
	int from_cache;
	double train_ms; /* 0 when loaded from the cache */
};

/* faq_learn_set_cache names the folder trained stages are kept in (made
 * 0700 when missing), or NULL: none, train at every load. Borrowed. */
void faq_learn_set_cache(const char *dir);
/* faq_learn_set_shipped names a folder of stages built at install for the
 * FAQ as shipped (`make install`), read when the cache folder has none of
 * the key asked; never written. NULL: none. Borrowed. */
void faq_learn_set_shipped(const char *dir);

/* faq_learn_reload is faq_learn_load for a FAQ that is to replace old
 * (the one serving), for a running bot that must not stop answering for
 * the seconds training takes. When the new stage is not in the cache, it
 * is trained in a child process the load does not wait for, and the new
 * FAQ serves at once with a copy of old's stage, its entries matched by
 * id (an entry old did not have is answered by its patterns alone until
 * then), and stage_pending set; once faq_learn_training() says the child
 * is done, loading again finds the stage in the cache. A stage whose
 * training failed is not tried again: the FAQ loads with the patterns
 * alone, and a warning. Without a cache folder, as faq_learn_load. */
enum err faq_learn_reload(const char *dir, const struct faq *old, struct faq **out,
			  struct faq_diags *d);

/* faq_learn_training: 1 while a background training runs. */
int faq_learn_training(void);

/* faq_learn_load is faq_load with the learned stage: it reads dir, then its
 * learn/ folder (an error there is an error of the FAQ, at its file and
 * line), then trains or loads the stage into faq->stage. A stage that
 * cannot be had is a warning, never an error. */
enum err faq_learn_load(const char *dir, struct faq **out, struct faq_diags *d);

/* faq_stage_best_entry: among st's entries of class cls, the index of the
 * one probs (the entry model's, st->nentries values) ranks highest, or -1
 * when there is none of that class. */
int faq_stage_best_entry(const struct faq_stage *st, const float *probs, enum faq_class cls);

/* faq_stage_tags writes into buf the names of the FAQ's concepts that
 * occur in masked (the folded view of a normalised message, views.h, with
 * the crisis negations blanked, negate.h: a title or a past they recognise
 * names no concept; its first LEARN_MAX_TEXT bytes), separated by spaces:
 * the tags the models read. Empty without a stage. A concept that hits a
 * PCRE2 limit is not named. */
void faq_stage_tags(const struct faq *faq, const char *masked, size_t len, char *buf,
		    size_t buflen);

/* faq_learn_parse_text parses one learn/ file's text as faq_learn_load
 * would (name is for findings), appending findings to d and keeping
 * nothing: the parser alone, for fuzzing. ERR_NOMEM only. */
enum err faq_learn_parse_text(const char *name, const char *text, size_t len, struct faq_diags *d);

/* faq_learn_kind_name: "crisis", "advice", "faq", "none". */
const char *faq_learn_kind_name(enum faq_learn_kind k);

#endif
