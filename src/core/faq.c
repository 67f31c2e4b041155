/* faq.c -- load and validate a FAQ folder (see faq.h): the folder, each
 * file read and told apart (an entry, faq_entry.c; the crisis lines,
 * faq_lines.c; concepts.yml; articles.yml), what no single file can tell,
 * and the store built whole. The YAML with its places is faq_yaml.c's. */
#include "faq.h"

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <utf8proc.h>
#include <yaml.h>

#include "faq_entry.h"
#include "faq_lines.h"
#include "faq_yaml.h"
#include "log.h"
#include "match.h"
#include "prefilter.h"
#include "spell.h"
#include "text.h"
#include "views.h"

/* --- diagnostics ---------------------------------------------------------- */

enum err faq_diag_add(struct faq_diags *d, const char *file, unsigned line, unsigned col,
		      int warning, const char *fmt, ...)
{
	char buf[1024];
	struct faq_diag *g;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (d->n == d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 16;
		struct faq_diag *v = realloc(d->v, cap * sizeof(*v));

		if (!v)
			return ERR_NOMEM;
		d->v = v;
		d->cap = cap;
	}
	g = &d->v[d->n];
	g->file = strdup(file ? file : "");
	g->msg = strdup(buf);
	if (!g->file || !g->msg) {
		free(g->file);
		free(g->msg);
		return ERR_NOMEM;
	}
	g->line = line;
	g->col = col;
	g->warning = warning;
	d->n++;
	if (warning)
		d->warnings++;
	else
		d->errors++;
	return ERR_OK;
}

void faq_diags_release(struct faq_diags *d)
{
	size_t i;

	if (!d)
		return;
	for (i = 0; i < d->n; i++) {
		free(d->v[i].file);
		free(d->v[i].msg);
	}
	free(d->v);
	memset(d, 0, sizeof(*d));
}

/* --- small helpers -------------------------------------------------------- */

const char *faq_class_name(enum faq_class c)
{
	switch (c) {
	case FAQ_CLASS_CRISIS:
		return "crisis";
	case FAQ_CLASS_ADVICE:
		return "advice";
	case FAQ_CLASS_FAQ:
		return "faq";
	case FAQ_CLASS_QUESTION:
		return "question";
	}
	return "faq";
}

int faq_date_ok(const char *s)
{
	static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	int y, m, dd, i;

	if (strlen(s) != 10 || s[4] != '-' || s[7] != '-')
		return 0;
	for (i = 0; i < 10; i++)
		if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
			return 0;
	y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
	m = (s[5] - '0') * 10 + (s[6] - '0');
	dd = (s[8] - '0') * 10 + (s[9] - '0');
	if (y < 2000 || m < 1 || m > 12 || dd < 1 || dd > mdays[m - 1])
		return 0;
	if (m == 2 && dd == 29 && !(y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)))
		return 0;
	return 1;
}

/* yaml_report says where a file stops being YAML and what to fix there.
 * libyaml notices a key with no ': ' only at the next line it cannot read,
 * so for that error the place is where the key began (context_mark), the
 * line a volunteer must mend. */
static void yaml_report(const yaml_parser_t *p, const char *path, struct faq_diags *d)
{
	static const struct {
		const char *problem, *hint;
	} hints[] = {
		{"could not find expected ':'",
		 "this line is not 'key: value': a key needs ': ' after it ('examples: |'), "
		 "and each line under a 'key: |' is indented two spaces"},
		{"did not find expected key",
		 "this line is indented differently from the lines around it: keys start "
		 "at the first column, and each line under a 'key: |' two spaces in"},
		{"mapping values are not allowed",
		 "': ' here reads as a new key: indent this line under a 'key: |' block, or "
		 "start the keys at the first column"},
		{"found character that cannot start any token",
		 "a tab, or a character YAML reserves ('@', '`'), where a line starts: indent "
		 "with spaces, and put such text under a 'key: |' block"},
	};
	const yaml_mark_t *m = &p->problem_mark;
	const char *hint = "check the indentation: keys start at the first column, and "
			   "each line under a 'key: |' is indented two spaces";
	size_t i;

	if (p->context && p->problem && strstr(p->problem, "could not find expected ':'"))
		m = &p->context_mark;
	for (i = 0; p->problem && i < sizeof(hints) / sizeof(hints[0]); i++)
		if (strstr(p->problem, hints[i].problem)) {
			hint = hints[i].hint;
			break;
		}
	faq_diag_add(d, path, (unsigned)m->line + 1, (unsigned)m->column + 1, 0, "YAML: %s: %s",
		     p->problem ? p->problem : "syntax error", hint);
}

/* --- files and folders ---------------------------------------------------- */

/* load_articles_file reads articles.yml: one key, articles, a mapping of
 * a source file's name to the article's title. Returns -1 only when
 * memory ran out. */
static int load_articles_file(struct faq_yfile *yf, yaml_node_t *root, struct faq *faq)
{
	yaml_node_pair_t *p, *q;

	for (p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top; p++) {
		yaml_node_t *kn = faq_yaml_node(yf, p->key), *v = faq_yaml_node(yf, p->value);
		const char *k = faq_yaml_scalar(kn);

		if (!k || strcmp(k, "articles") != 0) {
			faq_yerr(yf, kn,
				 "unknown key '%s': an articles file holds one key, 'articles'",
				 k ? k : "?");
			continue;
		}
		if (v->type != YAML_MAPPING_NODE) {
			faq_yerr(yf, v,
				 "'articles' must be lines of 'file name: the article's title'");
			continue;
		}
		for (q = v->data.mapping.pairs.start; q < v->data.mapping.pairs.top; q++) {
			yaml_node_t *fn = faq_yaml_node(yf, q->key),
				    *tn = faq_yaml_node(yf, q->value);
			const char *file = faq_yaml_scalar(fn), *title = faq_yaml_scalar(tn);
			struct faq_article *na;

			if (!file || !*file || !title || !*title) {
				faq_yerr(yf, fn,
					 "write each article as 'file name: its title' (put the "
					 "title in quotes when it holds a colon)");
				continue;
			}
			if (faq_article_title(faq, file)) {
				faq_yerr(yf, fn, "'%s' is given twice: keep one line", file);
				continue;
			}
			na = realloc(faq->articles, (faq->narticles + 1) * sizeof(*na));
			if (!na)
				return -1;
			faq->articles = na;
			na = &faq->articles[faq->narticles];
			na->file = strdup(file);
			na->title = faq_yaml_trimmed(title, strlen(title));
			na->line = (unsigned)fn->start_mark.line + 1;
			if (!na->file || !na->title) {
				free(na->file);
				free(na->title);
				return -1;
			}
			faq->narticles++;
		}
	}
	return 0;
}

const char *faq_article_title(const struct faq *faq, const char *file)
{
	size_t i;

	for (i = 0; i < faq->narticles; i++)
		if (!strcmp(faq->articles[i].file, file))
			return faq->articles[i].title;
	return NULL;
}

/* load_concepts_file reads concepts.yml: one key, concepts, a mapping of
 * name to a block of phrases (concept.h). Returns -1 only when memory ran
 * out. */
static int load_concepts_file(struct faq_yfile *yf, yaml_node_t *root, struct faq *faq)
{
	yaml_node_pair_t *p;

	for (p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top; p++) {
		yaml_node_t *kn = faq_yaml_node(yf, p->key), *v = faq_yaml_node(yf, p->value);
		const char *k = faq_yaml_scalar(kn);
		yaml_node_pair_t *q;

		if (!k || strcmp(k, "concepts") != 0) {
			faq_yerr(yf, kn,
				 "unknown key '%s': a concepts file holds one key, 'concepts'",
				 k ? k : "?");
			continue;
		}
		if (v->type != YAML_MAPPING_NODE) {
			faq_yerr(yf, v, "'concepts' must be a list of 'name: |' blocks of phrases");
			continue;
		}
		for (q = v->data.mapping.pairs.start; q < v->data.mapping.pairs.top; q++) {
			yaml_node_t *nn = faq_yaml_node(yf, q->key),
				    *lv = faq_yaml_node(yf, q->value);
			const char *name = faq_yaml_scalar(nn);

			if (!name) {
				faq_yerr(yf, nn, "a concept's name must be a word");
				continue;
			}
			if (faq_yaml_list(yf, nn, lv, name, &faq->concepts, yf->path) < 0)
				return -1;
		}
	}
	return 0;
}

static char *read_file(const char *path, size_t *len, struct faq_diags *d)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t n;

	if (!f) {
		faq_diag_add(d, path, 0, 0, 0, "cannot open: %s", strerror(errno));
		return NULL;
	}
	buf = malloc(FAQ_MAX_FILE_BYTES + 1);
	if (!buf) {
		fclose(f);
		return NULL;
	}
	n = fread(buf, 1, FAQ_MAX_FILE_BYTES + 1, f);
	if (ferror(f)) {
		faq_diag_add(d, path, 0, 0, 0, "cannot read: %s", strerror(errno));
		free(buf);
		buf = NULL;
	} else if (n > FAQ_MAX_FILE_BYTES) {
		faq_diag_add(d, path, 0, 0, 0, "file is larger than %d bytes; split it",
			     FAQ_MAX_FILE_BYTES);
		free(buf);
		buf = NULL;
	} else {
		buf[n] = '\0';
		*len = n;
	}
	fclose(f);
	return buf;
}

/* report_bad_utf8: 1 (with an error at its line and column) when src holds
 * bytes that are not UTF-8. libyaml would stop at them too, but with a mark
 * at 1:1 and no word about the encoding. */
static int report_bad_utf8(const char *path, const char *src, size_t len, struct faq_diags *d)
{
	const utf8proc_uint8_t *u = (const utf8proc_uint8_t *)src;
	size_t i = 0;
	unsigned line = 1, col = 1;

	while (i < len) {
		utf8proc_int32_t cp;
		utf8proc_ssize_t k = utf8proc_iterate(u + i, (utf8proc_ssize_t)(len - i), &cp);

		if (k <= 0) {
			faq_diag_add(d, path, line, col, 0,
				     "this line is not valid UTF-8 (byte 0x%02X): save the file "
				     "as UTF-8 (an editor's \"Save with encoding\"), or retype "
				     "the character",
				     (unsigned)u[i]);
			return 1;
		}
		if (cp == '\n') {
			line++;
			col = 1;
		} else {
			col++;
		}
		i += (size_t)k;
	}
	return 0;
}

/* load_root reads the document root of the file yf into faq, as what its
 * keys say it is: concepts.yml, articles.yml, the crisis lines, or else an
 * entry (appended to faq). -1 only when memory ran out. */
static int load_root(struct faq_yfile *yf, yaml_node_t *root, struct faq *faq)
{
	yaml_node_pair_t *p;
	int is_lines = 0, is_concepts = 0, is_articles = 0;
	struct faq_entry *ne, *e;

	for (p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top; p++) {
		const char *k = faq_yaml_scalar(faq_yaml_node(yf, p->key));

		is_lines |= k && strcmp(k, "regions") == 0;
		is_concepts |= k && strcmp(k, "concepts") == 0;
		is_articles |= k && strcmp(k, "articles") == 0;
	}
	if (is_concepts)
		return load_concepts_file(yf, root, faq);
	if (is_articles)
		return load_articles_file(yf, root, faq);
	if (is_lines) {
		if (faq->lines_file) {
			faq_yerr(yf, root, "crisis lines are already given in %s; keep one file",
				 faq->lines_file);
			return 0;
		}
		faq->lines_file = strdup(yf->path);
		return !faq->lines_file ? -1 : faq_lines_load(yf, root, faq);
	}
	ne = realloc(faq->entries, (faq->nentries + 1) * sizeof(*ne));
	if (!ne)
		return -1;
	faq->entries = ne;
	e = &faq->entries[faq->nentries++];
	memset(e, 0, sizeof(*e));
	e->file = strdup(yf->path);
	return !e->file ? -1 : faq_entry_load(yf, root, e);
}

/* parse_text parses one file, src[0, len), into faq (load_root). Returns
 * -1 only when memory ran out. */
static int parse_text(const char *path, const char *src, size_t len, struct faq *faq,
		      struct faq_diags *d)
{
	struct faq_yfile yf = {0};
	yaml_parser_t parser;
	yaml_node_t *root;
	int rc = 0, parser_ok = 0, doc_ok = 0;

	yf.path = path;
	yf.d = d;
	yf.faq = faq;
	yf.src = src;
	yf.srclen = len;
	if (faq_yaml_index_lines(&yf) < 0)
		return -1;
	if (memchr(src, '\0', len)) {
		faq_diag_add(d, path, 1, 1, 0, "the file holds a NUL byte; is it really text?");
		goto out;
	}
	if (report_bad_utf8(path, src, len, d))
		goto out;
	if (!yaml_parser_initialize(&parser))
		goto nomem;
	parser_ok = 1;
	yaml_parser_set_input_string(&parser, (const unsigned char *)src, len);
	if (!yaml_parser_load(&parser, &yf.doc)) {
		yaml_report(&parser, path, d);
		goto out;
	}
	doc_ok = 1;
	root = yaml_document_get_root_node(&yf.doc);
	if (!root) {
		faq_diag_add(d, path, 1, 1, 1, "the file is empty; it adds nothing");
		goto out;
	}
	if (root->type != YAML_MAPPING_NODE) {
		faq_yerr(&yf, root,
			 "the file must hold one entry: lines of 'key: value', "
			 "starting with 'id: ...'");
		goto out;
	}
	{
		/* a second document ("---") would be silently ignored: say so */
		yaml_document_t next;

		if (yaml_parser_load(&parser, &next)) {
			if (yaml_document_get_root_node(&next))
				faq_diag_add(
					d, path, (unsigned)next.start_mark.line + 1, 1, 0,
					"only one entry a file: move this one to a file of its own");
			yaml_document_delete(&next);
		}
	}
	if (load_root(&yf, root, faq) < 0)
		goto nomem;
	goto out;
nomem:
	rc = -1;
out:
	if (doc_ok)
		yaml_document_delete(&yf.doc);
	if (parser_ok)
		yaml_parser_delete(&parser);
	free(yf.line_off);
	return rc;
}

static int load_file(const char *path, struct faq *faq, struct faq_diags *d)
{
	size_t len = 0;
	char *src = read_file(path, &len, d);
	int rc;

	if (!src)
		return 0;
	rc = parse_text(path, src, len, faq, d);
	free(src);
	return rc;
}

enum err faq_parse_text(const char *name, const char *text, size_t len, struct faq_diags *d)
{
	struct faq *faq = calloc(1, sizeof(*faq));
	char *copy = malloc(len + 1);
	enum err e = ERR_NOMEM;

	if (faq && copy) {
		memcpy(copy, text, len);
		copy[len] = '\0';
		e = parse_text(name, copy, len, faq, d) < 0 ? ERR_NOMEM : ERR_OK;
	}
	free(copy);
	faq_free(faq);
	return e;
}

static int cmp_priority(const void *a, const void *b)
{
	const struct faq_entry *x = *(const struct faq_entry *const *)a;
	const struct faq_entry *y = *(const struct faq_entry *const *)b;

	if (x->priority != y->priority)
		return x->priority > y->priority ? -1 : 1;
	return x < y ? -1 : x > y; /* entries[] is in file order */
}

/* order_entries fills by_priority and each entry's shares_priority. */
static enum err order_entries(struct faq *faq)
{
	size_t i, j;

	faq->by_priority = malloc((faq->nentries ? faq->nentries : 1) * sizeof(*faq->by_priority));
	if (!faq->by_priority)
		return ERR_NOMEM;
	for (i = 0; i < faq->nentries; i++) {
		faq->by_priority[i] = &faq->entries[i];
		for (j = 0; j < faq->nentries; j++)
			if (j != i && faq->entries[j].cls == faq->entries[i].cls &&
			    faq->entries[j].priority == faq->entries[i].priority)
				faq->entries[i].shares_priority = 1;
	}
	qsort(faq->by_priority, faq->nentries, sizeof(*faq->by_priority), cmp_priority);
	return ERR_OK;
}

/* spell_text: text as messages are mended (normalised, folded) into sp */
static enum err spell_text(struct spell *sp, const char *text, int target)
{
	char *norm = NULL, *folded = NULL;
	size_t nlen = 0, flen = 0;
	int changed;
	enum err e = text_normalise(text, strlen(text), &norm, &nlen);

	if (e == ERR_OK)
		e = views_fold(norm, nlen, &folded, &flen, &changed);
	if (e == ERR_OK)
		e = spell_add(sp, folded, flen, target);
	free(norm);
	free(folded);
	return e;
}

/* build_spell: the words of every example and not_example, the words
 * members write here (spell.h); those of the concepts are the words of
 * risk a slip is mended to (a crisis example's "the" and "and" are not:
 * mending towards them would only cost a reading). */
static enum err build_spell(struct faq *faq)
{
	size_t i, j;

	faq->spell = spell_new();
	if (!faq->spell)
		return ERR_NOMEM;
	for (i = 0; i < faq->nentries; i++) {
		const struct faq_entry *en = &faq->entries[i];

		for (j = 0; j < en->nexamples; j++)
			if (spell_text(faq->spell, en->examples[j].text, 0) != ERR_OK)
				return ERR_NOMEM;
		for (j = 0; j < en->ncounter; j++)
			if (spell_text(faq->spell, en->counter[j].text, 0) != ERR_OK)
				return ERR_NOMEM;
	}
	for (i = 0; i < faq->concepts.n; i++) {
		const char *rx = faq->concepts.v[i].regex;

		if (spell_add(faq->spell, rx, strlen(rx), 1) != ERR_OK)
			return ERR_NOMEM;
	}
	return ERR_OK;
}

/* build_prefilter numbers every pattern and negation and builds the
 * store's prefilter over them, as compiled (concepts written out). Without
 * one (prefilter_why says why) every pattern is tried: ERR_NOMEM only. */
static enum err build_prefilter(struct faq *faq)
{
	const char **src;
	size_t i, j, n = 0;
	enum err e;

	for (i = 0; i < faq->nentries; i++)
		n += faq->entries[i].npatterns + faq->entries[i].nnegations;
	src = malloc((n ? n : 1) * sizeof(*src));
	if (!src)
		return ERR_NOMEM;
	n = 0;
	for (i = 0; i < faq->nentries; i++) {
		struct faq_entry *en = &faq->entries[i];

		for (j = 0; j < en->npatterns + en->nnegations; j++) {
			struct faq_pattern *p = j < en->npatterns
							? &en->patterns[j]
							: &en->negations[j - en->npatterns];

			p->pf = n;
			src[n++] = p->expanded ? p->expanded : p->src;
		}
	}
	e = prefilter_new(src, n, &faq->prefilter, faq->prefilter_why, sizeof(faq->prefilter_why));
	free(src);
	if (e == ERR_NOTFOUND)
		log_debug("prefilter off: %s", faq->prefilter_why);
	return e == ERR_NOMEM ? ERR_NOMEM : ERR_OK;
}

static int has_yaml_ext(const char *name)
{
	size_t n = strlen(name);

	return (n > 4 && strcmp(name + n - 4, ".yml") == 0) ||
	       (n > 5 && strcmp(name + n - 5, ".yaml") == 0);
}

/* is_readable_entry_file: 1 if path (a *.yml name in the folder) is a
 * regular file, or a link to one. Anything else named like an entry is an
 * error naming it, so that an entry never disappears without a word: a
 * dangling link, a link loop, a folder, a FIFO (which would also block the
 * read). A file removed since the folder was listed is simply not there. */
static int is_readable_entry_file(const char *path, struct stat *st, struct faq_diags *d)
{
	struct stat lst;
	const char *what;

	if (stat(path, st) == 0) {
		if (S_ISREG(st->st_mode))
			return 1;
		what = S_ISDIR(st->st_mode)    ? "is a folder"
		       : S_ISFIFO(st->st_mode) ? "is a FIFO (named pipe)"
		       : S_ISSOCK(st->st_mode) ? "is a socket"
					       : "is a device";
		faq_diag_add(d, path, 0, 0, 0,
			     "%s, not a file: an entry must be a regular file (rename it "
			     "so it does not end in .yml, or replace it with the entry)",
			     what);
		return 0;
	}
	if (errno == ELOOP) {
		faq_diag_add(d, path, 0, 0, 0,
			     "is a symbolic link that loops back on itself: point it at the "
			     "entry file, or remove it");
		return 0;
	}
	if (errno == ENOENT && lstat(path, &lst) != 0)
		return 0; /* removed since the folder was listed */
	if (errno == ENOENT) {
		faq_diag_add(d, path, 0, 0, 0,
			     "is a symbolic link to a file that does not exist: point it at "
			     "the entry file, or remove it");
		return 0;
	}
	faq_diag_add(d, path, 0, 0, 0, "cannot be read: %s", strerror(errno));
	return 0;
}

static int is_concepts_file(const char *path)
{
	const char *base = strrchr(path, '/');

	base = base ? base + 1 : path;
	return !strcmp(base, "concepts.yml") || !strcmp(base, "concepts.yaml");
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* cross_checks: what no single file can tell. */
static void cross_checks(struct faq *faq, struct faq_diags *d)
{
	size_t i, j, ncrisis = 0;

	for (i = 0; i < faq->nentries; i++) {
		const struct faq_entry *a = &faq->entries[i];

		ncrisis += a->cls == FAQ_CLASS_CRISIS;
		if (!a->id)
			continue;
		for (j = 0; j < i; j++) {
			const struct faq_entry *b = &faq->entries[j];

			if (b->id && strcmp(a->id, b->id) == 0) {
				faq_diag_add(d, a->file, a->line, 1, 0,
					     "duplicate id '%s': %s uses it already", a->id,
					     b->file);
				break;
			}
		}
	}
	/* once articles.yml names titles, a source without one is a slip */
	for (i = 0; faq->narticles && i < faq->nentries; i++)
		for (j = 0; j < faq->entries[i].nsources; j++)
			if (!faq_article_title(faq, faq->entries[i].sources[j]))
				faq_diag_add(d, faq->entries[i].file, faq->entries[i].line, 1, 1,
					     "source '%s' has no title in the articles file: "
					     "!sources shows members its file name",
					     faq->entries[i].sources[j]);
	if (ncrisis == 0)
		faq_diag_add(d, "", 0, 0, 0,
			     "no crisis entry: faqbot will not run without one "
			     "(an entry with class: crisis)");
	if (!faq->lines_file) {
		faq_diag_add(d, "", 0, 0, 0,
			     "no crisis lines file (a file with 'regions:'): "
			     "faqbot will not run without one");
	} else {
		for (i = 0; i < faq->nregions; i++)
			for (j = 0; j < i; j++)
				if (faq->regions[i].code && faq->regions[j].code &&
				    strcmp(faq->regions[i].code, faq->regions[j].code) == 0)
					faq_diag_add(d, faq->lines_file, faq->regions[i].line, 1, 0,
						     "region '%s' is given twice",
						     faq->regions[i].code);
		if (faq->default_region && !faq_region(faq, faq->default_region))
			faq_diag_add(d, faq->lines_file, 1, 1, 0,
				     "default_region '%s' is not one of the regions",
				     faq->default_region);
	}
}

enum err faq_load(const char *dir, struct faq **out, struct faq_diags *d)
{
	struct faq *faq = NULL;
	char **names = NULL;
	size_t nnames = 0, i;
	size_t errors_before = d->errors, dirlen = strlen(dir);
	enum err e = ERR_NOMEM;
	DIR *dh = NULL;
	struct dirent *de;

	*out = NULL;
	while (dirlen > 1 && dir[dirlen - 1] == '/') /* "faq/" names files faq/x.yml */
		dirlen--;
	dh = opendir(dir);
	if (!dh) {
		faq_diag_add(d, dir, 0, 0, 0, "cannot open the FAQ folder: %s", strerror(errno));
		return ERR_IO;
	}
	names = calloc(FAQ_MAX_FILES, sizeof(char *));
	faq = calloc(1, sizeof(*faq));
	if (!names || !faq)
		goto out;
	while ((de = readdir(dh)) != NULL) {
		char path[4096];
		struct stat st;

		if (de->d_name[0] == '.' || !has_yaml_ext(de->d_name))
			continue;
		if (nnames == FAQ_MAX_FILES) {
			faq_diag_add(d, dir, 0, 0, 0,
				     "more than %d FAQ files; only the first are read",
				     FAQ_MAX_FILES);
			break;
		}
		snprintf(path, sizeof(path), "%.*s/%s", (int)dirlen, dir, de->d_name);
		if (!is_readable_entry_file(path, &st, d))
			continue;
		names[nnames] = strdup(path);
		if (!names[nnames])
			goto out;
		nnames++;
	}
	/* file name order is the documented tie-break between equal matches;
	 * the concepts first, since any pattern may name them */
	qsort(names, nnames, sizeof(char *), cmp_str);
	for (i = 0; i < nnames; i++)
		if (is_concepts_file(names[i]) && load_file(names[i], faq, d) < 0)
			goto out;
	for (i = 0; i < nnames; i++)
		if (!is_concepts_file(names[i]) && load_file(names[i], faq, d) < 0)
			goto out;
	cross_checks(faq, d);
	faq->mctx = match_ctx_new(1);
	if (!faq->mctx)
		goto out;
	if (d->errors > errors_before) {
		e = ERR_INVALID;
		goto out;
	}
	if (order_entries(faq) != ERR_OK || build_prefilter(faq) != ERR_OK ||
	    build_spell(faq) != ERR_OK)
		goto out;
	*out = faq;
	faq = NULL;
	e = ERR_OK;
out:
	if (dh)
		closedir(dh);
	for (i = 0; i < nnames; i++)
		free(names[i]);
	free(names);
	faq_free(faq);
	return e;
}

void faq_free(struct faq *faq)
{
	size_t i;

	if (!faq)
		return;
	for (i = 0; i < faq->nentries; i++)
		faq_entry_release(&faq->entries[i]);
	free(faq->entries);
	free(faq->by_priority);
	for (i = 0; i < faq->nregions; i++)
		faq_lines_region_release(&faq->regions[i]);
	free(faq->regions);
	free(faq->default_region);
	free(faq->lines_file);
	for (i = 0; i < faq->narticles; i++) {
		free(faq->articles[i].file);
		free(faq->articles[i].title);
	}
	free(faq->articles);
	concepts_release(&faq->concepts);
	match_ctx_free(faq->mctx);
	prefilter_free(faq->prefilter);
	spell_free(faq->spell);
	if (faq->stage_free)
		faq->stage_free(faq->stage);
	free(faq);
}

void faq_drop_examples(struct faq *faq)
{
	size_t i;

	for (i = 0; i < faq->nentries; i++)
		faq_entry_drop_examples(&faq->entries[i]);
}

const struct faq_entry *faq_find(const struct faq *faq, const char *id)
{
	size_t i;

	for (i = 0; i < faq->nentries; i++)
		if (faq->entries[i].id && strcmp(faq->entries[i].id, id) == 0)
			return &faq->entries[i];
	return NULL;
}

const struct faq_region *faq_region(const struct faq *faq, const char *code)
{
	size_t i;

	if (!code)
		code = faq->default_region;
	if (!code)
		return NULL;
	for (i = 0; i < faq->nregions; i++)
		if (faq->regions[i].code && strcasecmp(faq->regions[i].code, code) == 0)
			return &faq->regions[i];
	return NULL;
}
