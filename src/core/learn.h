/* learn.h -- a linear text classifier over word and character n-grams, the
 * learned second stage behind the moderators' patterns.
 *
 * A message becomes a sparse vector: its folded view (views.h), split into
 * words; every word, every pair of neighbouring words and every 3- to
 * 5-letter piece of a word ("kil", "ill", "kill"), and the caller's tags and
 * words as written with their accents (struct learn_set), is hashed into one of
 * `dim` buckets; the vector is scaled to length 1. A model is liblinear's
 * logistic regression (one weight vector a label), trained on labelled
 * messages, and answers a probability for each label.
 *
 * What the labels mean and what a probability may decide is the caller's
 * (classify.c): this module knows texts and label numbers, nothing else.
 * No I/O except learn_save and learn_load, which write and read one file. */
#ifndef FAQBOT_LEARN_H
#define FAQBOT_LEARN_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

/* Words a message contributes at most (the rest is not read by the model;
 * the patterns still read the whole message). */
#define LEARN_MAX_WORDS 256
/* Bytes of a message the model reads (after folding). */
#define LEARN_MAX_TEXT  4096

/* Labelled texts. texts and labels are borrowed; labels are 0..nlabels-1. */
struct learn_set {
	const char *const *texts; /* raw or normalised text */
	const int *labels;
	size_t n;
	int nlabels;
	/* 1: pieces of words too (what survives typos and disguises); 0:
	 * words and word pairs only (a topic is named by its words, and a
	 * model of 40 labels trains several times faster) */
	int pieces;
	/* NULL, or for each text its tags: names the caller found in it,
	 * separated by spaces ("means when"), each one more feature. They
	 * carry what the caller knows beyond the words (faq_learn.h: the
	 * concepts a message names), so that a word the examples never used
	 * still counts when a moderator's list holds it. */
	const char *const *tags;
	/* 1: texts are the folded view already (views.h), as a classifier
	 * holds it; 0: any text, normalised and folded here */
	int folded;
	/* NULL, or a factor for each label's weight in training, on top of
	 * the balance that makes every label weigh as much as any other: a
	 * caller to whom one label's misses cost more says so here */
	const double *weight;
	/* NULL, or for each text the words it wrote with accents that
	 * normalising drops (text_marks), each one more feature: Turkish
	 * "gün" folds to "gun", and only this tells the two apart */
	const char *const *marks;
};

struct learn_model; /* opaque */

/* learn_train trains a model over set with hashed features in dim buckets
 * (a power of two). C is liblinear's cost (1 is a sane default). A label
 * with no example gets probability 0. ERR_INVALID with a sentence in err
 * when set is empty or has one label only. */
enum err learn_train(const struct learn_set *set, unsigned dim, double C, struct learn_model **out,
		     char *err, size_t errlen);

/* learn_predict writes a probability for each label (they sum to 1) into
 * probs[0..nlabels-1] for text and returns the label with the highest. -1
 * only when memory ran out. text is any text; learn_predict_folded takes
 * the folded view of normalised text (views_fold of text_normalise), which
 * a classifier holds already, and saves doing both again, and its tags
 * and marked words (as in struct learn_set; NULL for none). */
int learn_predict(const struct learn_model *m, const char *text, size_t len, float *probs);
int learn_predict_folded(const struct learn_model *m, const char *folded, size_t len,
			 const char *tags, const char *marks, float *probs);

/* learn_cv: k-fold cross-validation. Every text of set is scored by a
 * model trained without its fold; probs gets n * nlabels values (row i is
 * text i). Folds are taken by position modulo k, so the result does not
 * depend on a random seed. full: NULL, or where learn_train's model of the
 * whole set goes, trained beside the folds. The folds are trained in child
 * processes, as many at once as the machine has processors (one by one
 * where it cannot fork); every training starts from the same seed, so the
 * models and probs are the same however many ran at once. */
enum err learn_cv(const struct learn_set *set, unsigned dim, double C, unsigned k, float *probs,
		  struct learn_model **full, char *err, size_t errlen);

/* learn_explain writes the words, tags and marked words (NULL: none) of
 * text that weighed most for label, strongest first, as "word (0.83), {tag}
 * (0.40)"
 * into buf. For `ask --explain` and `!test`. */
void learn_explain(const struct learn_model *m, const char *text, size_t len, const char *tags,
		   const char *marks, int label, char *buf, size_t buflen);

int learn_nlabels(const struct learn_model *m);

/* learn_save writes m to path (atomically: a temp file renamed), tagged
 * with key (a hash of what it was trained on); learn_load reads it back
 * only when the tag and the format match, else ERR_NOTFOUND. */
enum err learn_save(const struct learn_model *m, const char *path, uint64_t key);
enum err learn_load(const char *path, uint64_t key, struct learn_model **out);

/* learn_copy: a model of its own with m's weights; NULL when memory ran
 * out. */
struct learn_model *learn_copy(const struct learn_model *m);

void learn_free(struct learn_model *m);

/* learn_hash: 64-bit FNV-1a of len bytes, chained from h (start with
 * LEARN_HASH_INIT): the key of a training set. */
#define LEARN_HASH_INIT 0xcbf29ce484222325ULL
uint64_t learn_hash(uint64_t h, const void *data, size_t len);

#endif
