/* faq_learn_int.h -- the inside of the learned stage, shared by its parts
 * and by no one else (faq_learn.h is the contract):
 *   faq_learn.c        loading a FAQ with its stage: from the cache, or
 *                      trained (here, in a child, or beside a running bot's
 *                      loop), adopted from the stage serving, freed
 *   faq_learn_data.c   what it learns from: the learn/ files, their labels,
 *                      the sets the models read, and the key of it all
 *   faq_learn_train.c  the features (a message's view and tags), the two
 *                      models trained and cross-validated, the thresholds
 *   faq_learn_cache.c  trained stages kept in, and read back from, the
 *                      cache folder (and the stages shipped at install)
 * All of them work on one struct faq_stage and its sets; each file's
 * statics stay its own. Exported names start with faq_learn_ like the
 * public ones; nothing here is in faq_learn.h, so tests and callers cannot
 * lean on it. */
#ifndef FAQBOT_FAQ_LEARN_INT_H
#define FAQBOT_FAQ_LEARN_INT_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "faq.h"
#include "faq_learn.h"

/* One labelled message of learn/. */
struct faq_learn_sample {
	char *text, *label, *file;
	unsigned line;
};

struct faq_learn_samples {
	struct faq_learn_sample *v;
	size_t n, cap;
};

/* What the models learn from. */
struct faq_learn_sets {
	const char **texts;
	char **seen;       /* each text as the models read it: folded */
	char **tags;       /* each text's, faq_stage_tags */
	char **marks;      /* each text's accented words (text_marks), or NULL */
	int *kind, *entry; /* entry: index in st->entries, or -1 */
	size_t n;
};

/* ---- faq_learn_data.c ------------------------------------------------- */

/* faq_learn_read_dir appends the messages of every file of dir's learn/
 * folder, in the order of their names, to s; a bad line is reported in d
 * and costs that line. ERR_NOMEM only. */
enum err faq_learn_read_dir(const char *dir, struct faq_learn_samples *s, struct faq_diags *d);
void faq_learn_samples_release(struct faq_learn_samples *s);

/* faq_learn_sets_build fills s (its texts borrowed from faq and ls) with
 * every entry's examples and ls's messages, each with its kind and, where
 * it names one, its entry in st; an unknown label is an error in d. */
enum err faq_learn_sets_build(const struct faq *faq, struct faq_stage *st,
			      const struct faq_learn_samples *ls, struct faq_diags *d,
			      struct faq_learn_sets *s);
void faq_learn_sets_release(struct faq_learn_sets *s);

/* faq_learn_key: what a stage is trained from, without reading it as
 * messages: the entries (id, class, examples), the learn/ files as they
 * are, the concepts and crisis negations that make the tags (their
 * written-out patterns), and how it trains. A stage in the cache under
 * this key was trained from these very bytes, so none of them needs
 * parsing again (a bot's start and `faqbot ask` keep ~10,000 messages out
 * of memory). Counts the learn/ files' words into faq->spell on the way. */
enum err faq_learn_key(const struct faq *faq, const char *dir, uint64_t *key, struct faq_diags *d);

/* ---- faq_learn_train.c ------------------------------------------------ */

/* faq_learn_stage_entries: st's entry list (every advice and FAQ entry of
 * faq, the entry model's labels) and its concept matchers. */
enum err faq_learn_stage_entries(struct faq_stage *st, const struct faq *faq);

/* faq_learn_tags_compile makes st's matchers, one a concept of faq. A
 * concept that does not compile (the FAQ's own check reports its
 * patterns) is left out. */
enum err faq_learn_tags_compile(struct faq_stage *st, const struct faq *faq);

/* faq_learn_train trains both models of st from s and, by
 * cross-validation, the thresholds; err says why it could not. */
enum err faq_learn_train(const struct faq *faq, struct faq_stage *st, struct faq_learn_sets *s,
			 char *err, size_t errlen);

/* ---- faq_learn_cache.c ------------------------------------------------ */

/* faq_learn_cache_dir: the cache folder (faq_learn_set_cache), or NULL. */
const char *faq_learn_cache_dir(void);

/* faq_learn_cache_load: the stage of key into st from the cache folder,
 * else from the stages shipped at install; 0 when neither has it whole. */
int faq_learn_cache_load(struct faq_stage *st, uint64_t key);

/* faq_learn_cache_save keeps st under key in the cache folder (the other
 * keys' stages go); a cache that cannot be written costs a training at the
 * next load, nothing more. */
void faq_learn_cache_save(const struct faq_stage *st, uint64_t key);

#endif
