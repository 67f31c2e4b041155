/* faq_learn_data.c -- what the learned stage learns from (faq_learn_int.h):
 * the labelled messages of the learn/ folder, what their labels name, the
 * sets the models read, and the key of all of it. */
#include "faq_learn_int.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "learn.h"
#include "spell.h"

/* Changes whenever features, solver or thresholds change meaning: a cached
 * stage of another version is never loaded. */
#define FAQ_LEARN_VERSION "faq-learn-10"

void faq_learn_samples_release(struct faq_learn_samples *s)
{
	size_t i;

	for (i = 0; i < s->n; i++) {
		free(s->v[i].text);
		free(s->v[i].label);
		free(s->v[i].file);
	}
	free(s->v);
	s->v = NULL;
	s->n = s->cap = 0;
}

static int has_tsv_ext(const char *name)
{
	size_t n = strlen(name);

	return name[0] != '.' && n > 4 && !strcmp(name + n - 4, ".tsv");
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* parse_lines appends the messages of text (one learn/ file, name for
 * findings) to s. One bad line costs that line: it is reported, the rest is
 * read. */
static enum err parse_lines(const char *name, const char *text, size_t len,
			    struct faq_learn_samples *s, struct faq_diags *d)
{
	const char *p = text, *end = text + len;
	unsigned ln = 0;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = (size_t)((nl ? nl : end) - p);
		const char *tab;
		struct faq_learn_sample *nv, *v;

		ln++;
		while (n > 0 && p[n - 1] == '\r')
			n--;
		if (n == 0 || p[0] == '#')
			goto next;
		if (n > FAQ_LEARN_MAX_LINE) {
			faq_diag_add(d, name, ln, 1, 0,
				     "line too long (%zu bytes, the limit is %d)", n,
				     FAQ_LEARN_MAX_LINE);
			goto next;
		}
		if (memchr(p, '\0', n)) {
			faq_diag_add(d, name, ln, 1, 0, "the line holds a NUL byte");
			goto next;
		}
		for (tab = p + n; tab > p && tab[-1] != '\t'; tab--)
			;
		if (tab == p || tab - 1 == p || tab == p + n) {
			faq_diag_add(
				d, name, ln, 1, 0,
				"write the message, a tab, then its label (crisis, advice, none "
				"or faq:ID)");
			goto next;
		}
		if (s->n >= FAQ_LEARN_MAX_LINES) {
			faq_diag_add(d, name, ln, 1, 0,
				     "more than %d messages in learn/; the rest "
				     "is not read",
				     FAQ_LEARN_MAX_LINES);
			return ERR_OK;
		}
		/* doubled, not grown a line at a time: some 60,000 lines, and
		 * where realloc always copies (ASan's) one more each time made
		 * reading learn/ quadratic (a reload took a minute there) */
		if (s->n == s->cap) {
			size_t cap = s->cap ? s->cap * 2 : 1024;

			nv = realloc(s->v, cap * sizeof(*nv));
			if (!nv)
				return ERR_NOMEM;
			s->v = nv;
			s->cap = cap;
		}
		v = &s->v[s->n++];
		v->text = strndup(p, (size_t)(tab - 1 - p));
		v->label = strndup(tab, (size_t)(p + n - tab));
		v->file = strdup(name);
		v->line = ln;
		if (!v->text || !v->label || !v->file)
			return ERR_NOMEM;
	next:
		p = nl ? nl + 1 : end;
	}
	return ERR_OK;
}

/* file_fn: what each_file does with one file's text. */
typedef enum err (*file_fn)(void *ctx, const char *path, const char *text, size_t len,
			    struct faq_diags *d);

static enum err read_file(const char *path, file_fn fn, void *ctx, struct faq_diags *d)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	size_t n;
	enum err e;

	if (!f) {
		faq_diag_add(d, path, 0, 0, 0, "cannot read: %s", strerror(errno));
		return ERR_IO;
	}
	buf = malloc(FAQ_MAX_FILE_BYTES + 1);
	if (!buf) {
		fclose(f);
		return ERR_NOMEM;
	}
	n = fread(buf, 1, FAQ_MAX_FILE_BYTES + 1, f);
	if (ferror(f) || n > FAQ_MAX_FILE_BYTES) {
		faq_diag_add(d, path, 0, 0, 0, ferror(f) ? "cannot read: %s" : "%s",
			     ferror(f) ? strerror(errno)
				       : "larger than a FAQ file can be; split it");
		fclose(f);
		free(buf);
		return ERR_IO;
	}
	fclose(f);
	e = fn(ctx, path, buf, n, d);
	free(buf);
	return e;
}

/* each_file gives fn the text of every file of dir's learn/ folder, in
 * the order of their names. */
static enum err each_file(const char *dir, file_fn fn, void *ctx, struct faq_diags *d)
{
	char path[4096];
	char **names = NULL;
	size_t n = 0, i;
	struct dirent *de;
	enum err e = ERR_OK;
	DIR *dh;

	snprintf(path, sizeof(path), "%s/%s", dir, FAQ_LEARN_DIR);
	dh = opendir(path);
	if (!dh)
		return ERR_OK;
	while ((de = readdir(dh)) != NULL) {
		char **nn;

		if (!has_tsv_ext(de->d_name) || n >= FAQ_MAX_FILES)
			continue;
		nn = realloc(names, (n + 1) * sizeof(*nn));
		if (!nn) {
			e = ERR_NOMEM;
			break;
		}
		names = nn;
		{
			size_t len = strlen(path) + strlen(de->d_name) + 2;

			names[n] = malloc(len);
			if (!names[n]) {
				e = ERR_NOMEM;
				break;
			}
			snprintf(names[n], len, "%s/%s", path, de->d_name);
		}
		n++;
	}
	closedir(dh);
	if (e == ERR_OK && n > 0)
		qsort(names, n, sizeof(*names), cmp_str);
	for (i = 0; i < n; i++) {
		if (e == ERR_OK) {
			enum err x = read_file(names[i], fn, ctx, d);

			if (x == ERR_NOMEM)
				e = x;
		}
		free(names[i]);
	}
	free(names);
	return e;
}

static enum err parse_fn(void *ctx, const char *path, const char *text, size_t len,
			 struct faq_diags *d)
{
	return parse_lines(path, text, len, ctx, d);
}

enum err faq_learn_read_dir(const char *dir, struct faq_learn_samples *s, struct faq_diags *d)
{
	return each_file(dir, parse_fn, s, d);
}

enum err faq_learn_parse_text(const char *name, const char *text, size_t len, struct faq_diags *d)
{
	struct faq_learn_samples s = {0};
	enum err e = parse_lines(name, text, len, &s, d);

	faq_learn_samples_release(&s);
	return e;
}

/* family_entry: the entry of class cls whose id is the label with '-' for
 * ':' ("crisis:self" -> crisis-self), or the only one whose id starts so;
 * NULL when there is none or more than one. */
static const struct faq_entry *family_entry(const struct faq *faq, const char *label, size_t n,
					    enum faq_class cls)
{
	char id[128];
	const struct faq_entry *found = NULL;
	size_t i, len;

	if ((size_t)snprintf(id, sizeof(id), "%.*s-%s", (int)n, label, label + n + 1) >= sizeof(id))
		return NULL;
	len = strlen(id);
	for (i = 0; i < faq->nentries; i++) {
		const struct faq_entry *e = &faq->entries[i];

		if (e->cls != cls || !e->id || strncmp(e->id, id, len))
			continue;
		if (!e->id[len])
			return e;
		if (e->id[len] == '-')
			found = found ? (const struct faq_entry *)-1 : e;
	}
	return found == (const struct faq_entry *)-1 ? NULL : found;
}

/* kind_of maps a label to its kind (and entry, where the label names one),
 * or -1. */
static int kind_of(const struct faq *faq, const char *label, const struct faq_entry **entry)
{
	static const struct {
		const char *name;
		enum faq_learn_kind kind;
	} plain[] = {
		{"crisis", FAQ_KIND_CRISIS}, {"advice", FAQ_KIND_ADVICE}, {"none", FAQ_KIND_NONE}};
	size_t i;

	*entry = NULL;
	for (i = 0; i < 3; i++) {
		size_t n = strlen(plain[i].name);

		if (!strncmp(label, plain[i].name, n) && (label[n] == '\0' || label[n] == ':')) {
			/* crisis:self-harm is crisis-self-harm's; advice:choosing
			 * the one advice entry whose id starts advice-choosing */
			if (label[n] == ':' && plain[i].kind != FAQ_KIND_NONE)
				*entry = family_entry(faq, label, n,
						      plain[i].kind == FAQ_KIND_CRISIS
							      ? FAQ_CLASS_CRISIS
							      : FAQ_CLASS_ADVICE);
			return (int)plain[i].kind;
		}
	}
	if (!strncmp(label, "faq:", 4)) {
		const struct faq_entry *e = faq_find(faq, label + 4);

		if (e && e->cls == FAQ_CLASS_FAQ) {
			*entry = e;
			return FAQ_KIND_FAQ;
		}
	}
	return -1;
}

static int entry_index(const struct faq_stage *st, const struct faq_entry *e)
{
	size_t i;

	for (i = 0; i < st->nentries; i++)
		if (st->entries[i] == e)
			return (int)i;
	return -1;
}

static enum err sets_add(struct faq_learn_sets *s, size_t cap, const char *text, int kind,
			 int entry)
{
	if (s->n >= cap)
		return ERR_LIMIT;
	s->texts[s->n] = text;
	s->kind[s->n] = kind;
	s->entry[s->n] = entry;
	s->n++;
	return ERR_OK;
}

enum err faq_learn_sets_build(const struct faq *faq, struct faq_stage *st,
			      const struct faq_learn_samples *ls, struct faq_diags *d,
			      struct faq_learn_sets *s)
{
	size_t i, j, cap = ls->n;

	for (i = 0; i < faq->nentries; i++)
		cap += faq->entries[i].nexamples;
	memset(s, 0, sizeof(*s));
	s->texts = calloc(cap + 1, sizeof(*s->texts));
	s->kind = calloc(cap + 1, sizeof(int));
	s->entry = calloc(cap + 1, sizeof(int));
	if (!s->texts || !s->kind || !s->entry)
		return ERR_NOMEM;
	for (i = 0; i < faq->nentries; i++) {
		const struct faq_entry *e = &faq->entries[i];
		int kind = e->cls == FAQ_CLASS_CRISIS   ? FAQ_KIND_CRISIS
			   : e->cls == FAQ_CLASS_ADVICE ? FAQ_KIND_ADVICE
			   : e->cls == FAQ_CLASS_FAQ    ? FAQ_KIND_FAQ
							: -1;

		if (kind < 0)
			continue;
		for (j = 0; j < e->nexamples; j++)
			sets_add(s, cap, e->examples[j].text, kind, entry_index(st, e));
	}
	for (i = 0; i < ls->n; i++) {
		const struct faq_entry *e;
		int kind = kind_of(faq, ls->v[i].label, &e);

		if (kind < 0) {
			faq_diag_add(d, ls->v[i].file, ls->v[i].line, 1, 0,
				     "unknown label '%s': write crisis, advice, none or faq:ID "
				     "with the id of an entry (a family may follow, as in "
				     "crisis:self-harm)",
				     ls->v[i].label);
			continue;
		}
		sets_add(s, cap, ls->v[i].text, kind, e ? entry_index(st, e) : -1);
	}
	return ERR_OK;
}

void faq_learn_sets_release(struct faq_learn_sets *s)
{
	size_t i;

	for (i = 0; s->tags && i < s->n; i++)
		free(s->tags[i]);
	for (i = 0; s->seen && i < s->n; i++)
		free(s->seen[i]);
	for (i = 0; s->marks && i < s->n; i++)
		free(s->marks[i]);
	free(s->marks);
	free(s->tags);
	free(s->seen);
	free(s->texts);
	free(s->kind);
	free(s->entry);
}

/* The key being made (faq_learn_key), file by file. */
struct keying {
	uint64_t h;
	struct spell *sp; /* the words of the learn/ files are counted here too */
};

static enum err key_file(void *ctx, const char *path, const char *text, size_t len,
			 struct faq_diags *d)
{
	struct keying *k = ctx;
	const char *base = strrchr(path, '/');

	(void)d;
	base = base ? base + 1 : path;
	k->h = learn_hash(k->h, base, strlen(base) + 1);
	k->h = learn_hash(k->h, &len, sizeof(len));
	k->h = learn_hash(k->h, text, len);
	/* the words members write, for the mended view (spell.h): read
	 * here, where every learn/ file passes anyway, even when the stage
	 * comes from the cache */
	if (k->sp)
		return spell_count(k->sp, text, len);
	return ERR_OK;
}

enum err faq_learn_key(const struct faq *faq, const char *dir, uint64_t *key, struct faq_diags *d)
{
	struct keying k = {
		learn_hash(LEARN_HASH_INIT, FAQ_LEARN_VERSION, sizeof(FAQ_LEARN_VERSION)),
		faq->spell};
	/* how it trains and chooses: a change retrains */
	const double how[] = {
		FAQ_LEARN_KIND_DIM,      FAQ_LEARN_ENTRY_DIM,      FAQ_LEARN_C,
		FAQ_LEARN_FOLDS,         FAQ_LEARN_ENTRY_FOLDS,    FAQ_LEARN_FALSE_ALARM,
		FAQ_LEARN_PRECISION,     FAQ_LEARN_OVER_PRECISION, FAQ_LEARN_CRISIS_MIN,
		FAQ_LEARN_CRISIS_WEIGHT, FAQ_LEARN_FAQ_MIN,        FAQ_LEARN_FALSE_ALARM_OVER};
	size_t i, j;
	enum err e;

	k.h = learn_hash(k.h, how, sizeof(how));
	for (i = 0; i < faq->nentries; i++) {
		const struct faq_entry *en = &faq->entries[i];
		int cls = (int)en->cls;

		k.h = learn_hash(k.h, en->id, strlen(en->id) + 1);
		k.h = learn_hash(k.h, &cls, sizeof(cls));
		for (j = 0; j < en->nexamples; j++)
			k.h = learn_hash(k.h, en->examples[j].text,
					 strlen(en->examples[j].text) + 1);
		if (en->cls != FAQ_CLASS_CRISIS)
			continue;
		for (j = 0; j < en->nnegations; j++) {
			const char *src = en->negations[j].expanded ? en->negations[j].expanded
								    : en->negations[j].src;

			k.h = learn_hash(k.h, src, strlen(src) + 1);
		}
	}
	for (i = 0; i < faq->concepts.n; i++) {
		k.h = learn_hash(k.h, faq->concepts.v[i].name, strlen(faq->concepts.v[i].name) + 1);
		k.h = learn_hash(k.h, faq->concepts.v[i].regex,
				 strlen(faq->concepts.v[i].regex) + 1);
	}
	e = each_file(dir, key_file, &k, d);
	*key = k.h;
	return e;
}
