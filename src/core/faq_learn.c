/* faq_learn.c -- the learned stage of a FAQ (faq_learn.h): a FAQ loaded
 * with its stage, from the cache or trained (here, in a child process, or
 * beside a running bot's loop), or adopted from the stage serving. What it
 * learns from, how it trains and where it is kept are its other parts
 * (faq_learn_int.h). */
#include "faq_learn.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clock.h"
#include "faq_learn_int.h"
#include "match.h"
#include "state.h"

const char *faq_learn_kind_name(enum faq_learn_kind k)
{
	static const char *const names[FAQ_KINDS] = {"crisis", "advice", "faq", "none"};

	return k < FAQ_KINDS ? names[k] : "?";
}

/* A stage trained in the background (faq_learn_reload): the child
 * training it, the key it trains for, and the last key a child failed on
 * (not tried again: the patterns serve alone). */
static pid_t bg_pid = -1;
static uint64_t bg_key, bg_failed_key;
static int bg_failed;

/* fork_trainer forks a child that trains s and leaves the stage in the
 * cache; -1 when it cannot. */
static pid_t fork_trainer(const struct faq *faq, struct faq_stage *st, struct faq_learn_sets *s,
			  uint64_t key)
{
	pid_t pid;

	if (!faq_learn_cache_dir() || state_make_dirs(faq_learn_cache_dir()) != ERR_OK)
		return -1;
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		char err[256];

		if (faq_learn_train(faq, st, s, err, sizeof(err)) != ERR_OK)
			_exit(1);
		faq_learn_cache_save(st, key);
		_exit(0);
	}
	return pid;
}

int faq_learn_training(void)
{
	int status;
	pid_t r;

	if (bg_pid < 0)
		return 0;
	r = waitpid(bg_pid, &status, WNOHANG);
	if (r == 0 || (r < 0 && errno == EINTR))
		return 1;
	if (r < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		bg_failed = 1;
		bg_failed_key = bg_key;
	}
	bg_pid = -1;
	return 0;
}

/* train_apart trains in a child process that leaves the stage in the
 * cache, so that the serving process never holds the training's memory
 * (about 10 MB for the shipped FAQ, freed when the child exits: a
 * long-running bot's peak stays what it needs to serve). 1 when the child
 * says it did; 0 (train here) without a cache or when it could not. */
static int train_apart(const struct faq *faq, struct faq_stage *st, struct faq_learn_sets *s,
		       uint64_t key)
{
	double t0 = (double)clock_mono_ms();
	int status;
	pid_t pid = fork_trainer(faq, st, s, key);

	if (pid < 0)
		return 0;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return 0;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return 0;
	st->train_ms = (double)clock_mono_ms() - t0;
	return 1;
}

static void stage_free(void *p)
{
	struct faq_stage *st = p;
	size_t i;

	if (!st)
		return;
	learn_free(st->kind);
	learn_free(st->entry);
	for (i = 0; i < st->ntags; i++)
		match_free(st->tag_re[i]);
	free(st->tag_re);
	free(st->tag_name);
	free(st->entries);
	free(st);
}

/* stage_adopt: for faq, a copy of old's models, thresholds and figures,
 * old's entries matched by id to faq's (NULL where faq has none). */
static struct faq_stage *stage_adopt(const struct faq_stage *old, const struct faq *faq)
{
	struct faq_stage *st = calloc(1, sizeof(*st));
	size_t k;

	if (!st)
		return NULL;
	st->kind = learn_copy(old->kind);
	st->entry = old->entry ? learn_copy(old->entry) : NULL;
	st->entries = calloc(old->nentries + 1, sizeof(*st->entries));
	if (!st->kind || (old->entry && !st->entry) || !st->entries ||
	    faq_learn_tags_compile(st, faq) != ERR_OK) {
		stage_free(st);
		return NULL;
	}
	st->nentries = old->nentries;
	for (k = 0; k < old->nentries; k++)
		st->entries[k] = faq_find(faq, old->entries[k]->id);
	st->t_crisis = old->t_crisis;
	st->t_crisis_over = old->t_crisis_over;
	st->t_advice = old->t_advice;
	st->t_faq = old->t_faq;
	st->t_over = old->t_over;
	st->cv = old->cv;
	st->from_cache = 1;
	return st;
}

/* too_few: s has fewer than FAQ_LEARN_MIN_KIND messages of a kind, which
 * is said in d: the learned stage is then off. */
static int too_few(const char *dir, const struct faq_learn_sets *s, struct faq_diags *d)
{
	size_t n[FAQ_KINDS] = {0}, i;
	int k;

	for (i = 0; i < s->n; i++)
		n[s->kind[i]]++;
	for (k = 0; k < FAQ_KINDS; k++)
		if (n[k] < FAQ_LEARN_MIN_KIND) {
			faq_diag_add(d, dir, 0, 0, 1,
				     "the learned stage is off: %zu %s message(s) to learn "
				     "from, and it needs %d of each kind (add examples, or "
				     "lines to %s/)",
				     n[k], faq_learn_kind_name((enum faq_learn_kind)k),
				     FAQ_LEARN_MIN_KIND, FAQ_LEARN_DIR);
			return 1;
		}
	return 0;
}

/* train_beside trains the stage of key in a child beside a running bot's
 * loop (one child at a time: one for a FAQ edited again since is
 * stopped); meanwhile *stp becomes a copy of old's stage, for faq. 0 when
 * no child could be had (train here). */
static int train_beside(const struct faq *old, struct faq *faq, struct faq_stage **stp,
			struct faq_learn_sets *s, uint64_t key)
{
	if (bg_pid >= 0 && bg_key != key) {
		kill(bg_pid, SIGTERM); /* for a FAQ already edited again */
		while (waitpid(bg_pid, NULL, 0) < 0 && errno == EINTR)
			;
		bg_pid = -1;
	}
	if (bg_pid < 0) {
		bg_pid = fork_trainer(faq, *stp, s, key);
		bg_key = key;
	}
	if (bg_pid < 0)
		return 0;
	stage_free(*stp);
	*stp = old->stage ? stage_adopt(old->stage, faq) : NULL;
	faq->stage_pending = 1;
	return 1;
}

/* train_here trains *stp in this process and keeps it in the cache; one
 * that cannot be trained is a warning in d (the patterns serve alone) and
 * *stp NULL. ERR_NOMEM only. */
static enum err train_here(const char *dir, const struct faq *faq, struct faq_stage **stp,
			   struct faq_learn_sets *s, uint64_t key, struct faq_diags *d)
{
	char err[256] = "";
	double t0 = (double)clock_mono_ms();
	enum err e = faq_learn_train(faq, *stp, s, err, sizeof(err));

	if (e == ERR_NOMEM)
		return e;
	if (e != ERR_OK) {
		/* the patterns serve alone; say why once */
		faq_diag_add(d, dir, 0, 0, 1, "the learned stage is off: %s", err);
		stage_free(*stp);
		*stp = NULL;
	} else {
		(*stp)->train_ms = (double)clock_mono_ms() - t0;
		faq_learn_cache_save(*stp, key);
	}
	return ERR_OK;
}

/* train trains *stp from s: for a reload with a cache (old), beside the
 * loop, unless that failed for key before; else in a child, or here.
 * ERR_NOMEM only. */
static enum err train(const char *dir, const struct faq *old, struct faq *faq,
		      struct faq_stage **stp, struct faq_learn_sets *s, uint64_t key,
		      struct faq_diags *d)
{
	if (old && faq_learn_cache_dir() && bg_failed && bg_failed_key == key) {
		faq_diag_add(d, dir, 0, 0, 1,
			     "the learned stage is off: training it failed "
			     "(the patterns serve alone)");
		stage_free(*stp);
		*stp = NULL;
	} else if (old && faq_learn_cache_dir()) {
		/* trained beside the loop; meanwhile the stage that serves now
		 * goes on serving, with the new FAQ's entries */
		if (!train_beside(old, faq, stp, s, key))
			return train_here(dir, faq, stp, s, key, d);
	} else if (train_apart(faq, *stp, s, key) && faq_learn_cache_load(*stp, key)) {
		(*stp)->from_cache = 0; /* trained now, in a child */
	} else {
		return train_here(dir, faq, stp, s, key, d);
	}
	return ERR_OK;
}

/* set_general: for each class, the entry with the most examples (see
 * struct faq_stage). */
static void set_general(struct faq_stage *st, const struct faq *faq)
{
	size_t i;

	for (i = 0; i < faq->nentries; i++) {
		const struct faq_entry *en = &faq->entries[i];
		const struct faq_entry **g = &st->general[en->cls];

		if (!*g || en->nexamples > (*g)->nexamples)
			*g = en;
	}
}

static enum err learn_load_with(const char *dir, const struct faq *old, struct faq **out,
				struct faq_diags *d)
{
	struct faq_learn_samples ls = {0};
	struct faq_stage *st = NULL;
	struct faq_learn_sets s = {0};
	size_t errors_before = d->errors;
	struct faq *faq = NULL;
	enum err e;
	uint64_t key;

	*out = NULL;
	e = faq_load(dir, &faq, d);
	if (e != ERR_OK)
		return e;
	st = calloc(1, sizeof(*st));
	e = ERR_NOMEM;
	if (!st || faq_learn_stage_entries(st, faq) != ERR_OK)
		goto out;
	e = faq_learn_key(faq, dir, &key, d);
	if (e != ERR_OK)
		goto out;
	if (faq_learn_cache_load(st, key))
		goto have; /* as good as trained, and nothing parsed */
	e = faq_learn_read_dir(dir, &ls, d);
	if (e != ERR_OK)
		goto out;
	e = ERR_NOMEM;
	if (faq_learn_sets_build(faq, st, &ls, d, &s) != ERR_OK)
		goto out;
	if (d->errors > errors_before) {
		e = ERR_INVALID;
		goto out;
	}
	if (too_few(dir, &s, d)) {
		stage_free(st);
		st = NULL;
	} else if (train(dir, old, faq, &st, &s, key, d) != ERR_OK) {
		e = ERR_NOMEM;
		goto out;
	}
have:
	if (st) {
		set_general(st, faq);
		faq->stage = st;
		faq->stage_free = stage_free;
		st = NULL;
	}
	*out = faq;
	faq = NULL;
	e = ERR_OK;
out:
	stage_free(st);
	faq_learn_sets_release(&s);
	faq_learn_samples_release(&ls);
	faq_free(faq);
	return e;
}

enum err faq_learn_load(const char *dir, struct faq **out, struct faq_diags *d)
{
	return learn_load_with(dir, NULL, out, d);
}

enum err faq_learn_reload(const char *dir, const struct faq *old, struct faq **out,
			  struct faq_diags *d)
{
	return learn_load_with(dir, old, out, d);
}
