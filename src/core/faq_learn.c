/* faq_learn.c -- the learned stage of a FAQ (faq_learn.h). */
#include "faq_learn.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "match.h"
#include "negate.h"
#include "state.h"
#include "text.h"
#include "spell.h"
#include "views.h"

/* Changes whenever features, solver or thresholds change meaning: a cached
 * stage of another version is never loaded. */
#define FAQ_LEARN_VERSION "faq-learn-8"
#define FAQ_LEARN_META_MAGIC 0x66716c6d32ULL

static const char *faq_learn_cache, *faq_learn_shipped;

void faq_learn_set_cache(const char *dir) { faq_learn_cache = dir; }
void faq_learn_set_shipped(const char *dir) { faq_learn_shipped = dir; }

const char *faq_learn_kind_name(enum faq_learn_kind k)
{
	static const char *const names[FAQ_KINDS] = {"crisis", "advice", "faq", "none"};

	return k < FAQ_KINDS ? names[k] : "?";
}

/* One labelled message of learn/. */
struct sample {
	char *text, *label, *file;
	unsigned line;
};

struct samples {
	struct sample *v;
	size_t n;
};

static void samples_release(struct samples *s)
{
	size_t i;

	for (i = 0; i < s->n; i++) {
		free(s->v[i].text);
		free(s->v[i].label);
		free(s->v[i].file);
	}
	free(s->v);
	s->v = NULL;
	s->n = 0;
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

/* read_file appends the messages of one learn/ file to s. */
/* parse_lines appends the messages of text (one learn/ file, name for
 * findings) to s. One bad line costs that line: it is reported, the rest is
 * read. */
static enum err parse_lines(const char *name, const char *text, size_t len, struct samples *s,
			    struct faq_diags *d)
{
	const char *p = text, *end = text + len;
	unsigned ln = 0;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = (size_t)((nl ? nl : end) - p);
		const char *tab;
		struct sample *nv, *v;

		ln++;
		while (n > 0 && p[n - 1] == '\r')
			n--;
		if (n == 0 || p[0] == '#')
			goto next;
		if (n > FAQ_LEARN_MAX_LINE) {
			faq_diag_add(d, name, ln, 1, 0, "line too long (%zu bytes, the limit is %d)", n,
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
			faq_diag_add(d, name, ln, 1, 0,
				     "write the message, a tab, then its label (crisis, advice, none "
				     "or faq:ID)");
			goto next;
		}
		if (s->n >= FAQ_LEARN_MAX_LINES) {
			faq_diag_add(d, name, ln, 1, 0, "more than %d messages in learn/; the rest "
							"is not read", FAQ_LEARN_MAX_LINES);
			return ERR_OK;
		}
		nv = realloc(s->v, (s->n + 1) * sizeof(*nv));
		if (!nv)
			return ERR_NOMEM;
		s->v = nv;
		v = &nv[s->n++];
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

/* read_file appends the messages of one learn/ file to s. */
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
			     ferror(f) ? strerror(errno) : "larger than a FAQ file can be; split it");
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

static enum err read_dir(const char *dir, struct samples *s, struct faq_diags *d)
{
	return each_file(dir, parse_fn, s, d);
}

enum err faq_learn_parse_text(const char *name, const char *text, size_t len, struct faq_diags *d)
{
	struct samples s = {0};
	enum err e = parse_lines(name, text, len, &s, d);

	samples_release(&s);
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
	} plain[] = {{"crisis", FAQ_KIND_CRISIS}, {"advice", FAQ_KIND_ADVICE}, {"none", FAQ_KIND_NONE}};
	size_t i;

	*entry = NULL;
	for (i = 0; i < 3; i++) {
		size_t n = strlen(plain[i].name);

		if (!strncmp(label, plain[i].name, n) && (label[n] == '\0' || label[n] == ':')) {
			/* crisis:self-harm is crisis-self-harm's; advice:choosing
			 * the one advice entry whose id starts advice-choosing */
			if (label[n] == ':' && plain[i].kind != FAQ_KIND_NONE)
				*entry = family_entry(faq, label, n,
						      plain[i].kind == FAQ_KIND_CRISIS ? FAQ_CLASS_CRISIS
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

/* What the models learn from. */
struct sets {
	const char **texts;
	char **seen; /* each text as the models read it: folded */
	char **tags; /* each text's, faq_stage_tags */
	int *kind, *entry; /* entry: index in st->entries, or -1 */
	size_t n;
};

static int entry_index(const struct faq_stage *st, const struct faq_entry *e)
{
	size_t i;

	for (i = 0; i < st->nentries; i++)
		if (st->entries[i] == e)
			return (int)i;
	return -1;
}

static enum err sets_add(struct sets *s, size_t cap, const char *text, int kind, int entry)
{
	if (s->n >= cap)
		return ERR_LIMIT;
	s->texts[s->n] = text;
	s->kind[s->n] = kind;
	s->entry[s->n] = entry;
	s->n++;
	return ERR_OK;
}

static void stage_tags(const struct faq_stage *st, struct match_ctx *ctx, const char *folded,
		       size_t len, char *buf, size_t buflen)
{
	size_t i, o = 0, s, n;
	int found;

	if (buflen == 0)
		return;
	buf[0] = '\0';
	if (!st)
		return;
	if (len > LEARN_MAX_TEXT)
		len = LEARN_MAX_TEXT;
	for (i = 0; i < st->ntags; i++) {
		size_t nl = strlen(st->tag_name[i]);

		if (!st->tag_re[i] || o + nl + 2 > buflen)
			continue;
		if (match_find(ctx, st->tag_re[i], folded, len, 0, &found, &s, &n) != ERR_OK ||
		    !found)
			continue;
		if (o)
			buf[o++] = ' ';
		memcpy(buf + o, st->tag_name[i], nl + 1);
		o += nl;
	}
}

void faq_stage_tags(const struct faq *faq, const char *masked, size_t len, char *buf,
		    size_t buflen)
{
	stage_tags(faq->stage, faq->mctx, masked, len, buf, buflen);
}

/* tags_compile makes st's matchers, one a concept of faq. A concept that
 * does not compile (the FAQ's own check reports its patterns) is left out. */
static enum err tags_compile(struct faq_stage *st, const struct faq *faq)
{
	size_t i;

	st->tag_re = calloc(faq->concepts.n + 1, sizeof(*st->tag_re));
	st->tag_name = calloc(faq->concepts.n + 1, sizeof(*st->tag_name));
	if (!st->tag_re || !st->tag_name)
		return ERR_NOMEM;
	for (i = 0; i < faq->concepts.n; i++) {
		char src[CONCEPT_NAME_MAX + 16], msg[256], *out = NULL;
		size_t off;
		enum err e;

		/* "i", "me", "my": in nearly every message, advice and chat as
		 * much as crisis; its words are features already, and as one
		 * heavy tag it made short first-person questions look like a
		 * crisis. risk-now likewise: the negations' guard ("again",
		 * "last night", "same here", "i want"), no signal of risk by
		 * itself, and as a tag it raised "same here" and "anyone watch
		 * the match last night?" */
		if (!strcmp(faq->concepts.v[i].name, "self") ||
		    !strcmp(faq->concepts.v[i].name, "risk-now"))
			continue;
		snprintf(src, sizeof(src), "\\b{%s}\\b", faq->concepts.v[i].name);
		e = concept_expand(&faq->concepts, src, &out, msg, sizeof(msg), &off);
		if (e == ERR_NOMEM)
			return e;
		if (e == ERR_OK && out)
			match_compile(out, &st->tag_re[st->ntags], msg, sizeof(msg), &off);
		free(out);
		if (st->tag_re[st->ntags])
			st->tag_name[st->ntags++] = faq->concepts.v[i].name;
	}
	return ERR_OK;
}

/* view_of: text as the models read it (normalised and folded, as
 * classify does) into *seen, and its tags (taken once the negations are
 * blanked) into *tags. */
static enum err view_of(const struct faq *faq, const struct faq_stage *st, const char *text,
			char **seen, char **tags)
{
	char *norm = NULL, *masked;
	size_t nlen = 0, flen = 0;
	int changed, limited = 0;

	*seen = NULL;
	*tags = malloc(FAQ_LEARN_TAGS_MAX);
	if (!*tags)
		return ERR_NOMEM;
	(*tags)[0] = '\0';
	if (text_normalise(text, strlen(text), &norm, &nlen) != ERR_OK)
		return ERR_NOMEM;
	if (views_fold(norm, nlen, seen, &flen, &changed) != ERR_OK) {
		free(norm);
		return ERR_NOMEM;
	}
	free(norm);
	masked = strndup(*seen, flen);
	if (!masked)
		return ERR_NOMEM;
	negate_mask(faq, masked, flen, &limited);
	stage_tags(st, faq->mctx, masked, flen, *tags, FAQ_LEARN_TAGS_MAX);
	free(masked);
	return ERR_OK;
}

/* stage_entries: st's entry list (every advice and FAQ entry of faq, the
 * entry model's labels) and its concept matchers. */
static enum err stage_entries(struct faq_stage *st, const struct faq *faq)
{
	size_t i;

	st->entries = calloc(faq->nentries + 1, sizeof(*st->entries));
	if (!st->entries || tags_compile(st, faq) != ERR_OK)
		return ERR_NOMEM;
	for (i = 0; i < faq->nentries; i++)
		if (faq->entries[i].cls == FAQ_CLASS_FAQ || faq->entries[i].cls == FAQ_CLASS_ADVICE)
			st->entries[st->nentries++] = &faq->entries[i];
	return ERR_OK;
}

static enum err build_sets(const struct faq *faq, struct faq_stage *st, const struct samples *ls,
			   struct faq_diags *d, struct sets *s)
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

/* sets_views: each message as the models read it, and its tags: costly
 * (every message folded, its negations run, its concepts looked for), so
 * done only to train, never to find a stage in the cache. */
static enum err sets_views(const struct faq *faq, const struct faq_stage *st, struct sets *s)
{
	size_t i;

	if (s->seen)
		return ERR_OK;
	s->tags = calloc(s->n + 1, sizeof(*s->tags));
	s->seen = calloc(s->n + 1, sizeof(*s->seen));
	if (!s->tags || !s->seen)
		return ERR_NOMEM;
	for (i = 0; i < s->n; i++)
		if (view_of(faq, st, s->texts[i], &s->seen[i], &s->tags[i]) != ERR_OK)
			return ERR_NOMEM;
	return ERR_OK;
}

static void sets_release(struct sets *s)
{
	size_t i;

	for (i = 0; s->tags && i < s->n; i++)
		free(s->tags[i]);
	for (i = 0; s->seen && i < s->n; i++)
		free(s->seen[i]);
	free(s->tags);
	free(s->seen);
	free(s->texts);
	free(s->kind);
	free(s->entry);
}

/* key_of: what a stage is trained from, without reading it as messages:
 * the entries (id, class, examples), the learn/ files as they are, the
 * concepts and crisis negations that make the tags (their written-out
 * patterns), and how it trains. A stage in the cache under this key was
 * trained from these very bytes, so none of them needs parsing again (a
 * bot's start and `faqbot ask` keep ~10,000 messages out of memory). */
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

static enum err key_of(const struct faq *faq, const char *dir, uint64_t *key,
		       struct faq_diags *d)
{
	struct keying k = {learn_hash(LEARN_HASH_INIT, FAQ_LEARN_VERSION,
				      sizeof(FAQ_LEARN_VERSION)),
			   faq->spell};
	/* how it trains and chooses: a change retrains */
	const double how[] = {FAQ_LEARN_KIND_DIM,	FAQ_LEARN_ENTRY_DIM,
			      FAQ_LEARN_C,		FAQ_LEARN_FOLDS,
			      FAQ_LEARN_ENTRY_FOLDS,	FAQ_LEARN_FALSE_ALARM,
			      FAQ_LEARN_PRECISION,	FAQ_LEARN_OVER_PRECISION,
			      FAQ_LEARN_CRISIS_MIN,	FAQ_LEARN_CRISIS_WEIGHT};
	size_t i, j;
	enum err e;

	k.h = learn_hash(k.h, how, sizeof(how));
	for (i = 0; i < faq->nentries; i++) {
		const struct faq_entry *en = &faq->entries[i];
		int cls = (int)en->cls;

		k.h = learn_hash(k.h, en->id, strlen(en->id) + 1);
		k.h = learn_hash(k.h, &cls, sizeof(cls));
		for (j = 0; j < en->nexamples; j++)
			k.h = learn_hash(k.h, en->examples[j].text, strlen(en->examples[j].text) + 1);
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
		k.h = learn_hash(k.h, faq->concepts.v[i].regex, strlen(faq->concepts.v[i].regex) + 1);
	}
	e = each_file(dir, key_file, &k, d);
	*key = k.h;
	return e;
}

static int cmp_float_desc(const void *a, const void *b)
{
	float x = *(const float *)a, y = *(const float *)b;

	return (x < y) - (x > y);
}

/* choose_over: the lowest threshold at which the advice and FAQ messages
 * the model calls advice (over FAQ, and at least that sure) are
 * FAQ_LEARN_OVER_PRECISION advice. */
static void choose_over(struct faq_stage *st, const struct sets *s, const float *pk)
{
	struct faq_learn_figures *f = &st->cv;
	float t;
	size_t i;

	st->t_over = 1.01f;
	f->over_recall = f->over_precision = 0;
	for (t = 0.30f; t < 1.0f; t += 0.05f) {
		size_t turned = 0, right = 0;

		for (i = 0; i < s->n; i++) {
			const float *p = pk + i * FAQ_KINDS;

			if (s->kind[i] != FAQ_KIND_ADVICE && s->kind[i] != FAQ_KIND_FAQ)
				continue;
			if (p[FAQ_KIND_ADVICE] <= p[FAQ_KIND_FAQ] || p[FAQ_KIND_ADVICE] < t)
				continue;
			turned++;
			right += s->kind[i] == FAQ_KIND_ADVICE;
		}
		if (turned && (double)right / (double)turned >= FAQ_LEARN_OVER_PRECISION) {
			st->t_over = t;
			f->over_recall = f->nadvice ? (double)right / (double)f->nadvice : 0;
			f->over_precision = (double)right / (double)turned;
			return;
		}
	}
}

/* within_budget: the lowest threshold at which at most budget of the n
 * negatives' scores (neg, highest first) would pass. */
static float within_budget(const float *neg, size_t n, double budget)
{
	size_t allowed = (size_t)(budget * (double)n);

	return allowed < n ? neg[allowed] + 1e-6f : 0;
}

/* choose: thresholds and figures from the cross-validated probabilities
 * (pk: n x FAQ_KINDS; guess[i]: the entry model's best entry of the
 * message's class, -1 where not scored; sure[i]: its probability for the
 * best FAQ entry, on a model that did not learn from message i). */
static void choose(struct faq_stage *st, const struct sets *s, const float *pk, const int *guess,
		   const float *sure)
{
	struct faq_learn_figures *f = &st->cv;
	float *neg = malloc((s->n + 1) * sizeof(float)), t;
	size_t i, nneg = 0;

	memset(f, 0, sizeof(*f));
	f->n = s->n;
	for (i = 0; i < s->n; i++) {
		f->ncrisis += s->kind[i] == FAQ_KIND_CRISIS;
		f->nadvice += s->kind[i] == FAQ_KIND_ADVICE;
		f->nfaq += s->kind[i] == FAQ_KIND_FAQ;
		f->nnone += s->kind[i] == FAQ_KIND_NONE;
	}
	st->t_crisis = st->t_crisis_over = 1.01f; /* never, unless set below */
	if (neg) {
		for (i = 0; i < s->n; i++)
			if (s->kind[i] != FAQ_KIND_CRISIS)
				neg[nneg++] = pk[i * FAQ_KINDS + FAQ_KIND_CRISIS];
		qsort(neg, nneg, sizeof(float), cmp_float_desc);
		t = within_budget(neg, nneg, FAQ_LEARN_FALSE_ALARM);
		st->t_crisis = t > FAQ_LEARN_CRISIS_MIN ? t : FAQ_LEARN_CRISIS_MIN;
		t = within_budget(neg, nneg, FAQ_LEARN_FALSE_ALARM_OVER);
		st->t_crisis_over = t > st->t_crisis ? t : st->t_crisis;
		free(neg);
	}
	{
		size_t hit = 0, fa = 0;

		for (i = 0; i < s->n; i++) {
			int up = pk[i * FAQ_KINDS + FAQ_KIND_CRISIS] >= st->t_crisis;

			if (s->kind[i] == FAQ_KIND_CRISIS)
				hit += up;
			else
				fa += up;
		}
		f->crisis_recall = f->ncrisis ? (double)hit / (double)f->ncrisis : 0;
		f->crisis_false_alarm = s->n > f->ncrisis ? (double)fa / (double)(s->n - f->ncrisis) : 0;
	}
	choose_over(st, s, pk);
	/* routing: the lowest threshold (in steps of 0.05) that keeps the
	 * routed messages FAQ_LEARN_PRECISION right */
	for (int kind = FAQ_KIND_ADVICE; kind <= FAQ_KIND_FAQ; kind++) {
		float *slot = kind == FAQ_KIND_ADVICE ? &st->t_advice : &st->t_faq;
		double *rec = kind == FAQ_KIND_ADVICE ? &f->advice_recall : &f->faq_recall;
		double *prec = kind == FAQ_KIND_ADVICE ? &f->advice_precision : &f->faq_precision;
		size_t total = kind == FAQ_KIND_ADVICE ? f->nadvice : f->nfaq;

		*slot = 1.01f;
		*rec = *prec = 0;
		/* a FAQ entry is routed to by how sure both models are: that it
		 * is a FAQ question, and which entry's */
		for (t = kind == FAQ_KIND_FAQ ? 0.05f : 0.30f; t < 1.0f;
		     t += kind == FAQ_KIND_FAQ ? 0.025f : 0.05f) {
			size_t routed = 0, right = 0;

			for (i = 0; i < s->n; i++) {
				const float *p = pk + i * FAQ_KINDS;
				int best = FAQ_KIND_ADVICE, k;
				float conf = kind == FAQ_KIND_FAQ ? p[kind] * sure[i] : p[kind];

				if (p[FAQ_KIND_CRISIS] >= st->t_crisis)
					continue;
				for (k = FAQ_KIND_ADVICE; k <= FAQ_KIND_NONE; k++)
					if (p[k] > p[best])
						best = k;
				if (best != kind || conf < t)
					continue;
				routed++;
				right += s->kind[i] == kind &&
					 (kind != FAQ_KIND_FAQ || guess[i] == s->entry[i]);
			}
			if (routed && (double)right / (double)routed >= FAQ_LEARN_PRECISION) {
				*slot = t;
				*rec = total ? (double)right / (double)total : 0;
				*prec = (double)right / (double)routed;
				break;
			}
		}
	}
}

/* sure_of_rest sets sure[i], for each message of s with no entry, to the
 * entry model's probability for its best FAQ entry. */
static enum err sure_of_rest(const struct faq_stage *st, const struct sets *s, float *sure)
{
	float *row = malloc((st->nentries + 1) * sizeof(float));
	size_t i;

	if (!row)
		return ERR_NOMEM;
	for (i = 0; i < s->n; i++) {
		int k;

		if (s->entry[i] >= 0)
			continue;
		if (learn_predict_folded(st->entry, s->seen[i], strlen(s->seen[i]), s->tags[i],
					 row) < 0) {
			free(row);
			return ERR_NOMEM;
		}
		k = faq_stage_best_entry(st, row, FAQ_CLASS_FAQ);
		sure[i] = k >= 0 ? row[k] : 0;
	}
	free(row);
	return ERR_OK;
}

/* train_stage trains both models and, by cross-validation, the thresholds. */
static enum err train_stage(const struct faq *faq, struct faq_stage *st, struct sets *s,
			    char *err, size_t errlen)
{
	static const double kind_weight[FAQ_KINDS] = {[FAQ_KIND_CRISIS] = FAQ_LEARN_CRISIS_WEIGHT,
						       [FAQ_KIND_ADVICE] = 1,
						       [FAQ_KIND_FAQ] = 1,
						       [FAQ_KIND_NONE] = 1};
	struct learn_set ks = {NULL, s->kind, s->n, FAQ_KINDS, 1, NULL, 1, kind_weight}, es;
	const char **etexts = NULL, **etags = NULL;
	int *elabels = NULL, *guess = NULL;
	float *pk = NULL, *pe = NULL, *sure = NULL;
	size_t i, ne = 0, *eidx = NULL;
	enum err e = ERR_NOMEM;

	if (sets_views(faq, st, s) != ERR_OK) {
		snprintf(err, errlen, "out of memory");
		return ERR_NOMEM;
	}
	ks.texts = (const char *const *)s->seen;
	ks.tags = (const char *const *)s->tags;
	pk = malloc(s->n * FAQ_KINDS * sizeof(float));
	guess = malloc((s->n + 1) * sizeof(int));
	sure = calloc(s->n + 1, sizeof(float));
	etexts = malloc((s->n + 1) * sizeof(*etexts));
	etags = malloc((s->n + 1) * sizeof(*etags));
	elabels = malloc((s->n + 1) * sizeof(int));
	eidx = malloc((s->n + 1) * sizeof(size_t));
	if (!pk || !guess || !sure || !etexts || !etags || !elabels || !eidx)
		goto out;
	for (i = 0; i < s->n; i++) {
		guess[i] = -1;
		if (s->entry[i] >= 0) {
			etexts[ne] = s->seen[i];
			etags[ne] = s->tags[i];
			elabels[ne] = s->entry[i];
			eidx[ne++] = i;
		}
	}
	es.texts = etexts;
	es.labels = elabels;
	es.n = ne;
	es.nlabels = (int)st->nentries;
	es.pieces = 1; /* pieces of words: right entry 0.47 -> 0.60 (cross-validated) for +10% training */
	es.tags = etags;
	es.folded = 1;
	es.weight = NULL;
	e = learn_train(&ks, FAQ_LEARN_KIND_DIM, FAQ_LEARN_C, &st->kind, err, errlen);
	if (e != ERR_OK)
		goto out;
	e = learn_cv(&ks, FAQ_LEARN_KIND_DIM, FAQ_LEARN_C, FAQ_LEARN_FOLDS, pk, err, errlen);
	if (e != ERR_OK)
		goto out;
	if (ne > 0 && st->nentries > 1) {
		e = learn_train(&es, FAQ_LEARN_ENTRY_DIM, FAQ_LEARN_C, &st->entry, err, errlen);
		if (e != ERR_OK)
			goto out;
		pe = malloc(ne * st->nentries * sizeof(float));
		e = ERR_NOMEM;
		if (!pe)
			goto out;
		e = learn_cv(&es, FAQ_LEARN_ENTRY_DIM, FAQ_LEARN_C, FAQ_LEARN_ENTRY_FOLDS, pe, err, errlen);
		if (e != ERR_OK)
			goto out;
		for (i = 0; i < ne; i++) {
			const float *row = pe + i * st->nentries;
			int k = faq_stage_best_entry(st, row, FAQ_CLASS_FAQ);

			/* as classify does: the best entry of the message's kind */
			guess[eidx[i]] =
				faq_stage_best_entry(st, row, st->entries[elabels[i]]->cls);
			sure[eidx[i]] = k >= 0 ? row[k] : 0;
		}
		/* the messages the entry model did not learn from (crisis,
		 * none) are scored by the whole model */
		e = sure_of_rest(st, s, sure);
		if (e != ERR_OK)
			goto out;
	}
	choose(st, s, pk, guess, sure);
	e = ERR_OK;
out:
	free(pk);
	free(pe);
	free(sure);
	free(guess);
	free(etexts);
	free(etags);
	free(elabels);
	free(eidx);
	return e;
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

/* load_cached: the stage of key from the cache folder, else from the
 * stages shipped beside the FAQ at install (read, never written: a FAQ
 * as installed then starts without training; an edited one misses them,
 * its key being another, and trains) */
static int load_cached(struct faq_stage *st, uint64_t key)
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

static void save_cached(const struct faq_stage *st, uint64_t key)
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

int faq_stage_best_entry(const struct faq_stage *st, const float *probs, enum faq_class cls)
{
	size_t k;
	int best = -1;

	for (k = 0; k < st->nentries; k++)
		if (st->entries[k] && st->entries[k]->cls == cls && (best < 0 || probs[k] > probs[best]))
			best = (int)k;
	return best;
}

/* A stage trained in the background (faq_learn_reload): the child
 * training it, the key it trains for, and the last key a child failed on
 * (not tried again: the patterns serve alone). */
static pid_t bg_pid = -1;
static uint64_t bg_key, bg_failed_key;
static int bg_failed;

/* fork_trainer forks a child that trains s and leaves the stage in the
 * cache; -1 when it cannot. */
static pid_t fork_trainer(const struct faq *faq, struct faq_stage *st, struct sets *s,
			  uint64_t key)
{
	pid_t pid;

	if (!faq_learn_cache || state_make_dirs(faq_learn_cache) != ERR_OK)
		return -1;
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		char err[256];

		if (train_stage(faq, st, s, err, sizeof(err)) != ERR_OK)
			_exit(1);
		save_cached(st, key);
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
static int train_apart(const struct faq *faq, struct faq_stage *st, struct sets *s,
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
	    tags_compile(st, faq) != ERR_OK) {
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

static enum err learn_load_with(const char *dir, const struct faq *old, struct faq **out,
				struct faq_diags *d);

enum err faq_learn_load(const char *dir, struct faq **out, struct faq_diags *d)
{
	return learn_load_with(dir, NULL, out, d);
}

enum err faq_learn_reload(const char *dir, const struct faq *old, struct faq **out,
			  struct faq_diags *d)
{
	return learn_load_with(dir, old, out, d);
}

static enum err learn_load_with(const char *dir, const struct faq *old, struct faq **out,
				struct faq_diags *d)
{
	struct samples ls = {0};
	struct faq_stage *st = NULL;
	struct sets s = {0};
	size_t errors_before = d->errors;
	char err[256] = "";
	struct faq *faq = NULL;
	enum err e;
	uint64_t key;

	*out = NULL;
	e = faq_load(dir, &faq, d);
	if (e != ERR_OK)
		return e;
	st = calloc(1, sizeof(*st));
	e = ERR_NOMEM;
	if (!st || stage_entries(st, faq) != ERR_OK)
		goto out;
	e = key_of(faq, dir, &key, d);
	if (e != ERR_OK)
		goto out;
	if (load_cached(st, key))
		goto have; /* as good as trained, and nothing parsed */
	e = read_dir(dir, &ls, d);
	if (e != ERR_OK)
		goto out;
	e = ERR_NOMEM;
	if (build_sets(faq, st, &ls, d, &s) != ERR_OK)
		goto out;
	if (d->errors > errors_before) {
		e = ERR_INVALID;
		goto out;
	}
	{
		size_t n[FAQ_KINDS] = {0}, i;
		int k;

		for (i = 0; i < s.n; i++)
			n[s.kind[i]]++;
		for (k = 0; k < FAQ_KINDS; k++)
			if (n[k] < FAQ_LEARN_MIN_KIND) {
				faq_diag_add(d, dir, 0, 0, 1,
					     "the learned stage is off: %zu %s message(s) to learn "
					     "from, and it needs %d of each kind (add examples, or "
					     "lines to %s/)",
					     n[k], faq_learn_kind_name((enum faq_learn_kind)k),
					     FAQ_LEARN_MIN_KIND, FAQ_LEARN_DIR);
				*out = faq;
				faq = NULL;
				e = ERR_OK;
				goto out;
			}
	}
	if (old && faq_learn_cache && bg_failed && bg_failed_key == key) {
		faq_diag_add(d, dir, 0, 0, 1, "the learned stage is off: training it failed "
					      "(the patterns serve alone)");
		stage_free(st);
		st = NULL;
	} else if (old && faq_learn_cache) {
		/* trained beside the loop; meanwhile the stage that serves now
		 * goes on serving, with the new FAQ's entries */
		if (bg_pid >= 0 && bg_key != key) {
			kill(bg_pid, SIGTERM); /* for a FAQ already edited again */
			while (waitpid(bg_pid, NULL, 0) < 0 && errno == EINTR)
				;
			bg_pid = -1;
		}
		if (bg_pid < 0) {
			bg_pid = fork_trainer(faq, st, &s, key);
			bg_key = key;
		}
		if (bg_pid < 0)
			goto in_place;
		stage_free(st);
		st = old->stage ? stage_adopt(old->stage, faq) : NULL;
		faq->stage_pending = 1;
	} else if (train_apart(faq, st, &s, key) && load_cached(st, key)) {
		st->from_cache = 0; /* trained now, in a child */
	} else {
		double t0;

in_place:
		t0 = (double)clock_mono_ms();

		e = train_stage(faq, st, &s, err, sizeof(err));
		if (e == ERR_NOMEM)
			goto out;
		if (e != ERR_OK) {
			/* the patterns serve alone; say why once */
			faq_diag_add(d, dir, 0, 0, 1, "the learned stage is off: %s", err);
			stage_free(st);
			st = NULL;
		} else {
			st->train_ms = (double)clock_mono_ms() - t0;
			save_cached(st, key);
		}
	}
have:
	if (st) {
		size_t i;

		for (i = 0; i < faq->nentries; i++) {
			const struct faq_entry *en = &faq->entries[i];
			const struct faq_entry **g = &st->general[en->cls];

			if (!*g || en->nexamples > (*g)->nexamples)
				*g = en;
		}
		faq->stage = st;
		faq->stage_free = stage_free;
		st = NULL;
	}
	*out = faq;
	faq = NULL;
	e = ERR_OK;
out:
	stage_free(st);
	sets_release(&s);
	samples_release(&ls);
	faq_free(faq);
	return e;
}
