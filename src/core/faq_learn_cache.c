/* faq_learn_cache.c -- trained stages kept in the cache folder and read
 * back (faq_learn_int.h): a model is costly to train and cheap to keep. */
#include "faq_learn_int.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "learn.h"
#include "state.h"

#define FAQ_LEARN_META_MAGIC 0x66716c6d34ULL

static const char *faq_learn_cache, *faq_learn_shipped;

void faq_learn_set_cache(const char *dir)
{
	faq_learn_cache = dir;
}
void faq_learn_set_shipped(const char *dir)
{
	faq_learn_shipped = dir;
}

const char *faq_learn_cache_dir(void)
{
	return faq_learn_cache;
}

/* The thresholds and figures beside the cached models. */
struct meta {
	uint64_t magic, key;
	float t_crisis, t_advice, t_faq, t_over, t_crisis_over;
	struct faq_learn_figures cv;
	int has_entry;
};

static void cache_path(char *buf, size_t len, const char *dir, uint64_t key, const char *what)
{
	snprintf(buf, len, "%s/stage-%016llx.%s", dir, (unsigned long long)key, what);
}

/* meta_name: the thresholds' file name in the cache folder (state.h's
 * atomic small files). */
static void meta_name(char *buf, size_t len, uint64_t key)
{
	snprintf(buf, len, "stage-%016llx.meta", (unsigned long long)key);
}

static int load_from(const char *dir, struct faq_stage *st, uint64_t key)
{
	char path[4096], name[64], *text = NULL;
	struct meta m;
	size_t len = 0;
	int ok;

	if (!dir)
		return 0;
	meta_name(name, sizeof(name), key);
	if (state_read(dir, name, &text, &len) != ERR_OK)
		return 0;
	ok = len == sizeof(m);
	if (ok)
		memcpy(&m, text, sizeof(m));
	free(text);
	if (!ok || m.magic != FAQ_LEARN_META_MAGIC || m.key != key)
		return 0;
	cache_path(path, sizeof(path), dir, key, "kind");
	if (learn_load(path, key, &st->kind) != ERR_OK)
		return 0;
	if (m.has_entry) {
		cache_path(path, sizeof(path), dir, key, "entry");
		if (learn_load(path, key, &st->entry) != ERR_OK) {
			learn_free(st->kind);
			st->kind = NULL;
			return 0;
		}
	}
	st->t_crisis = m.t_crisis;
	st->t_crisis_over = m.t_crisis_over;
	st->t_advice = m.t_advice;
	st->t_over = m.t_over;
	st->t_faq = m.t_faq;
	st->cv = m.cv;
	st->from_cache = 1;
	return 1;
}

/* faq_learn_cache_load: the stage of key from the cache folder, else from the
 * stages shipped beside the FAQ at install (read, never written: a FAQ
 * as installed then starts without training; an edited one misses them,
 * its key being another, and trains) */
int faq_learn_cache_load(struct faq_stage *st, uint64_t key)
{
	return load_from(faq_learn_cache, st, key) || load_from(faq_learn_shipped, st, key);
}

/* prune removes the stages of other keys: a FAQ edit makes the old one
 * useless, and an edited FAQ would otherwise leave one a save. */
static void prune(uint64_t key)
{
	char keep[64], path[4096];
	struct dirent *de;
	DIR *dh = opendir(faq_learn_cache);

	if (!dh)
		return;
	snprintf(keep, sizeof(keep), "stage-%016llx.", (unsigned long long)key);
	while ((de = readdir(dh)) != NULL) {
		if (strncmp(de->d_name, "stage-", 6) || !strncmp(de->d_name, keep, strlen(keep)))
			continue;
		snprintf(path, sizeof(path), "%s/%s", faq_learn_cache, de->d_name);
		remove(path);
	}
	closedir(dh);
}

void faq_learn_cache_save(const struct faq_stage *st, uint64_t key)
{
	char path[4096], name[64];
	struct meta m;

	if (!faq_learn_cache || state_make_dirs(faq_learn_cache) != ERR_OK)
		return;
	prune(key);
	cache_path(path, sizeof(path), faq_learn_cache, key, "kind");
	if (learn_save(st->kind, path, key) != ERR_OK)
		return;
	if (st->entry) {
		cache_path(path, sizeof(path), faq_learn_cache, key, "entry");
		if (learn_save(st->entry, path, key) != ERR_OK)
			return;
	}
	memset(&m, 0, sizeof(m));
	m.magic = FAQ_LEARN_META_MAGIC;
	m.key = key;
	m.t_crisis = st->t_crisis;
	m.t_crisis_over = st->t_crisis_over;
	m.t_advice = st->t_advice;
	m.t_over = st->t_over;
	m.t_faq = st->t_faq;
	m.cv = st->cv;
	m.has_entry = st->entry != NULL;
	/* the meta file last, written whole or not at all: its presence says
	 * the models beside it are whole */
	meta_name(name, sizeof(name), key);
	state_write(faq_learn_cache, name, &m, sizeof(m), 0600);
}
