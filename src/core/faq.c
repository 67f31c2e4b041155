/* faq.c -- load and validate a FAQ folder (see faq.h).
 *
 * YAML is read with libyaml's document loader, which keeps the line and
 * column of every node; those marks are how a moderator is told where to fix
 * a file. Patterns and examples are usually literal blocks ("patterns: |"),
 * one a line: their positions are the block's first line plus the index, and
 * the column is read off the source line, since libyaml keeps only the
 * block's own mark. */
#include "faq.h"

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <utf8proc.h>
#include <yaml.h>

#include "helpline.h"
#include "log.h"
#include "match.h"
#include "prefilter.h"
#include "spell.h"
#include "text.h"
#include "views.h"

/* What one file's loading needs at hand. */
struct yfile {
	const char *path;
	const char *src; /* the whole file, for columns of block lines */
	size_t srclen;
	size_t *line_off; /* where each line starts in src */
	size_t nlines;
	yaml_document_t doc;
	struct faq_diags *d;
	size_t errors; /* errors found in this file */
	struct faq *faq; /* the store being loaded: its concepts */
};

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

/* yerr records an error at a node of the file being loaded. */
#define yerr(yf, node, ...)                                                             \
	do {                                                                            \
		(yf)->errors++;                                                         \
		faq_diag_add((yf)->d, (yf)->path, (unsigned)(node)->start_mark.line + 1, \
			     (unsigned)(node)->start_mark.column + 1, 0, __VA_ARGS__);  \
	} while (0)

/* --- small helpers -------------------------------------------------------- */

const char *faq_class_name(enum faq_class c)
{
	switch (c) {
	case FAQ_CLASS_CRISIS: return "crisis";
	case FAQ_CLASS_ADVICE: return "advice";
	case FAQ_CLASS_FAQ: return "faq";
	case FAQ_CLASS_QUESTION: return "question";
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

static int date_in_future(const char *s)
{
	char today[16];
	time_t now = time(NULL);
	struct tm tm;

	if (!gmtime_r(&now, &tm))
		return 0;
	strftime(today, sizeof(today), "%Y-%m-%d", &tm);
	/* a day of slack for moderators ahead of UTC */
	now += 24 * 3600;
	if (gmtime_r(&now, &tm))
		strftime(today, sizeof(today), "%Y-%m-%d", &tm);
	return strcmp(s, today) > 0;
}

static int id_ok(const char *s)
{
	size_t n = strlen(s), i;

	if (n == 0 || n > 64 || s[0] == '-' || s[n - 1] == '-')
		return 0;
	for (i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
			return 0;
	return 1;
}

static yaml_node_t *node_at(struct yfile *yf, int idx)
{
	return yaml_document_get_node(&yf->doc, idx);
}

static const char *scalar(yaml_node_t *n)
{
	return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

/* trimmed_dup copies s without leading and trailing white space. */
static char *trimmed_dup(const char *s, size_t n)
{
	char *r;

	while (n > 0 && (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n'))
		s++, n--;
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' ||
			 s[n - 1] == '\n'))
		n--;
	r = malloc(n + 1);
	if (r) {
		memcpy(r, s, n);
		r[n] = '\0';
	}
	return r;
}

/* starts_item: 1 when the line at p opens a list item ("- ", "* ", "• ",
 * "3. ", "3) ") or is a placeholder on its own ("{crisis_lines}"): kept
 * on a line of its own when an answer is reflowed. */
static int starts_item(const char *p)
{
	if ((p[0] == '-' || p[0] == '*') && p[1] == ' ')
		return 1;
	if (!strncmp(p, "\xe2\x80\xa2 ", 4)) /* U+2022 bullet */
		return 1;
	if (p[0] == '{')
		return 1;
	while (*p >= '0' && *p <= '9')
		p++;
	return (p[0] == '.' || p[0] == ')') && p[1] == ' ' && p[-1] >= '0' && p[-1] <= '9';
}

/* reflow joins the lines of each paragraph of an answer, in place: a line
 * break inside a paragraph becomes a space; a blank line still parts
 * paragraphs, and a list item or a placeholder keeps its own line.
 * Moderators wrap answers to read them in an editor; members should get
 * paragraphs their client wraps, and on IRC, where every line is one
 * message paced by flood control, a paragraph is then one message or
 * two instead of six (issue 13: a burst of questions took minutes). */
static void reflow(char *a)
{
	char *r = a, *w = a;
	int held = *a == '{'; /* the line being copied is a placeholder */

	/* r reads, w writes behind it: what r has passed may be overwritten,
	 * so what matters of a line is noted as it starts */
	while (*r) {
		if (*r == '\n' && r > a && r[-1] != '\n' && !held) {
			char *next = r + 1;

			while (*next == ' ' || *next == '\t')
				next++; /* a deeper indent, for a wrapped item */
			if (*next && *next != '\n' && *next != '\r' && !starts_item(next)) {
				*w++ = ' ';
				r = next;
				continue;
			}
		}
		if (*r == '\n')
			held = r[1] == '{';
		*w++ = *r++;
	}
	*w = '\0';
}

/* get_string returns a new copy of a scalar value, trimmed, or NULL with an
 * error recorded when the node is not a non-empty scalar. */
static char *get_string(struct yfile *yf, yaml_node_t *v, const char *key)
{
	const char *s = scalar(v);
	char *r;

	if (!s) {
		yerr(yf, v, "'%s' must be text, not a list or a mapping", key);
		return NULL;
	}
	r = trimmed_dup(s, strlen(s));
	if (r && !*r) {
		yerr(yf, v, "'%s' is empty", key);
		free(r);
		return NULL;
	}
	return r;
}

/* source_col finds the 1-based column of the first non-blank character of
 * 0-based line `line` in the file. */
static unsigned source_col(struct yfile *yf, unsigned line)
{
	const char *p, *end = yf->src + yf->srclen;
	unsigned c = 1;

	if (line >= yf->nlines)
		return 1;
	for (p = yf->src + yf->line_off[line]; p < end && (*p == ' ' || *p == '\t'); p++)
		c++;
	return c;
}

/* index_lines records where every line of the file starts, once, so that
 * source_col is not a scan from the top for each of a file's many lines. */
static int index_lines(struct yfile *yf)
{
	size_t i, n = 1;

	for (i = 0; i < yf->srclen; i++)
		n += yf->src[i] == '\n';
	yf->line_off = malloc(n * sizeof(*yf->line_off));
	if (!yf->line_off)
		return -1;
	yf->line_off[0] = 0;
	yf->nlines = 1;
	for (i = 0; i < yf->srclen; i++)
		if (yf->src[i] == '\n')
			yf->line_off[yf->nlines++] = i + 1;
	return 0;
}

/* A list of lines: either a YAML sequence of scalars or one block scalar
 * with one item a line. In patterns, word lists, examples and not_examples,
 * a line starting with '#' is a comment. With join (patterns), a line of a
 * block indented deeper than the block goes on from the line above, joined
 * with no space between (a long pattern kept under 160 columns: break it
 * where no space is lost). */
struct line_item {
	char *text;
	unsigned line, col;
	size_t first; /* bytes of text on its first line (it may go on) */
};

static int get_lines(struct yfile *yf, yaml_node_t *v, const char *key, int comments,
		     int join, struct line_item **out, size_t *nout)
{
	struct line_item *items = NULL;
	size_t n = 0, cap = 0;

	*out = NULL;
	*nout = 0;
#define PUSH_ITEM(t, l, c)                                                   \
	do {                                                                 \
		if (n == cap) {                                              \
			size_t nc = cap ? cap * 2 : 8;                       \
			struct line_item *ni = realloc(items, nc * sizeof(*ni)); \
			if (!ni) {                                           \
				free(t);                                     \
				goto nomem;                                  \
			}                                                    \
			items = ni;                                          \
			cap = nc;                                            \
		}                                                            \
		items[n].text = (t);                                         \
		items[n].line = (l);                                         \
		items[n].col = (c);                                          \
		items[n].first = strlen(t);                                  \
		n++;                                                         \
	} while (0)

	if (v->type == YAML_SCALAR_NODE) {
		const char *s = (const char *)v->data.scalar.value;
		int block = v->data.scalar.style == YAML_LITERAL_SCALAR_STYLE ||
			    v->data.scalar.style == YAML_FOLDED_SCALAR_STYLE;
		unsigned line = (unsigned)v->start_mark.line + (block ? 1 : 0);

		while (*s) {
			const char *nl = strchr(s, '\n');
			size_t len = nl ? (size_t)(nl - s) : strlen(s);
			char *t = trimmed_dup(s, len);

			if (!t)
				goto nomem;
			if (!*t || (comments && t[0] == '#')) {
				free(t);
			} else if (join && block && n > 0 && (*s == ' ' || *s == '\t')) {
				/* indented deeper: the pattern above goes on */
				size_t a = strlen(items[n - 1].text), b = strlen(t);
				char *j = realloc(items[n - 1].text, a + b + 1);

				if (!j) {
					free(t);
					goto nomem;
				}
				memcpy(j + a, t, b + 1);
				items[n - 1].text = j;
				free(t);
			} else {
				unsigned col = block ? source_col(yf, line)
						     : (unsigned)v->start_mark.column + 1;
				PUSH_ITEM(t, line + 1, col);
			}
			line++;
			s += len + (nl ? 1 : 0);
		}
	} else if (v->type == YAML_SEQUENCE_NODE) {
		yaml_node_item_t *it;

		for (it = v->data.sequence.items.start; it < v->data.sequence.items.top; it++) {
			yaml_node_t *e = node_at(yf, *it);
			const char *s = scalar(e);
			char *t;

			if (!s) {
				yerr(yf, e, "each item of '%s' must be one line of text", key);
				continue;
			}
			t = trimmed_dup(s, strlen(s));
			if (!t)
				goto nomem;
			if (!*t) {
				yerr(yf, e, "an item of '%s' is empty", key);
				free(t);
				continue;
			}
			PUSH_ITEM(t, (unsigned)e->start_mark.line + 1,
				  (unsigned)e->start_mark.column + 1 +
					  (e->data.scalar.style == YAML_SINGLE_QUOTED_SCALAR_STYLE ||
					   e->data.scalar.style == YAML_DOUBLE_QUOTED_SCALAR_STYLE));
		}
	} else {
		yerr(yf, v, "'%s' must be a block of lines ('%s: |') or a list", key, key);
	}
#undef PUSH_ITEM
	*out = items;
	*nout = n;
	return 0;
nomem:
	while (n > 0)
		free(items[--n].text);
	free(items);
	return -1;
}

static void free_lines(struct line_item *items, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(items[i].text);
	free(items);
}

/* compile_patterns turns lines into compiled patterns, reporting a PCRE2
 * error at its exact column. */
static int compile_patterns(struct yfile *yf, yaml_node_t *v, const char *key,
			    const struct concepts *words, struct faq_pattern **out, size_t *nout)
{
	struct line_item *items;
	struct faq_pattern *pats;
	size_t n, i, k = 0;

	*out = NULL;
	*nout = 0;
	if (get_lines(yf, v, key, 1, 1, &items, &n) < 0)
		return -1;
	pats = calloc(n ? n : 1, sizeof(*pats));
	if (!pats) {
		free_lines(items, n);
		return -1;
	}
	for (i = 0; i < n; i++) {
		char msg[256];
		size_t off = 0;
		struct match_re *re = NULL;
		char *expanded = NULL;
		enum err e = ERR_OK;

		if (yf->faq)
			e = concept_expand(words, items[i].text, &expanded, msg, sizeof(msg), &off);
		if (e == ERR_OK)
			e = match_compile(expanded ? expanded : items[i].text, &re, msg, sizeof(msg),
					  &off);
		if (e == ERR_NOMEM) {
			free(expanded);
			free(items[i].text);
			continue;
		}
		if (e != ERR_OK) {
			yf->errors++;
			/* an offset inside a written-out concept means nothing in
			 * the line as written: point at the pattern */
			if ((expanded && off > strlen(items[i].text)) || off > items[i].first)
				off = 0;
			faq_diag_add(yf->d, yf->path, items[i].line, items[i].col + (unsigned)off, 0,
				     "pattern does not compile: %s (in '%s')", msg, items[i].text);
			free(expanded);
			free(items[i].text);
			continue;
		}
		pats[k].src = items[i].text;
		pats[k].expanded = expanded;
		pats[k].re = re;
		pats[k].line = items[i].line;
		pats[k].col = items[i].col;
		k++;
	}
	free(items);
	*out = pats;
	*nout = k;
	return 0;
}

static int to_samples(struct yfile *yf, yaml_node_t *v, const char *key,
		      struct faq_sample **out, size_t *nout)
{
	struct line_item *items;
	size_t n, i;

	if (get_lines(yf, v, key, 1, 0, &items, &n) < 0)
		return -1;
	/* struct line_item and struct faq_sample have the same members, but
	 * copying keeps the two types free to diverge. */
	*out = calloc(n ? n : 1, sizeof(**out));
	if (!*out) {
		free_lines(items, n);
		return -1;
	}
	for (i = 0; i < n; i++) {
		(*out)[i].text = items[i].text;
		(*out)[i].line = items[i].line;
		(*out)[i].col = items[i].col;
	}
	free(items);
	*nout = n;
	return 0;
}

static void free_patterns(struct faq_pattern *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(p[i].src);
		free(p[i].expanded);
		match_free(p[i].re);
	}
	free(p);
}

static void free_samples(struct faq_sample *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(s[i].text);
	free(s);
}

static void entry_release(struct faq_entry *e)
{
	size_t i;

	free(e->id);
	free(e->question);
	free(e->answer);
	free(e->short_answer);
	free(e->reviewed);
	for (i = 0; i < e->nsources; i++)
		free(e->sources[i]);
	free(e->sources);
	free_patterns(e->patterns, e->npatterns);
	free_patterns(e->negations, e->nnegations);
	free_samples(e->examples, e->nexamples);
	free_samples(e->counter, e->ncounter);
	concepts_release(&e->words);
	free(e->file);
	memset(e, 0, sizeof(*e));
}

/* --- one FAQ entry -------------------------------------------------------- */

static const char *const entry_keys[] = {
	"id", "class", "question", "reviewed", "priority", "sources", "patterns",
	"negations", "answer", "short", "examples", "not_examples", "only_questions", "words",
	NULL,
};

/* add_list reads one 'name: |' block of phrases (lv, named by nn) into c,
 * as concepts.yml's lists and an entry's own 'words:' are both written;
 * file is the list's file (NULL: an entry's, named by the entry). A list
 * that cannot be added is reported at its name. -1 only when memory ran
 * out. */
static int add_list(struct yfile *yf, yaml_node_t *nn, yaml_node_t *lv, const char *name,
		    struct concepts *c, const char *file)
{
	struct line_item *items;
	const char **phrases;
	size_t n, i;
	char msg[256];
	enum err e;

	if (get_lines(yf, lv, name, 1, 0, &items, &n) < 0)
		return -1;
	phrases = calloc(n ? n : 1, sizeof(*phrases));
	if (!phrases) {
		free_lines(items, n);
		return -1;
	}
	for (i = 0; i < n; i++)
		phrases[i] = items[i].text;
	e = concept_add(c, name, phrases, n, file, (unsigned)nn->start_mark.line + 1, msg,
			sizeof(msg));
	free(phrases);
	free_lines(items, n);
	if (e == ERR_NOMEM)
		return -1;
	if (e != ERR_OK)
		yerr(yf, nn, "%s", msg);
	return 0;
}

/* load_words reads an entry's `words:`, a mapping of name to a block of
 * phrases read exactly as concepts.yml's lists are (concept.h), into
 * e->words, and checks that each list writes out (its {names} known).
 * Returns -1 only when memory ran out. */
static int load_words(struct yfile *yf, yaml_node_t *v, struct faq_entry *e)
{
	yaml_node_pair_t *q;
	size_t i;

	e->words.outer = yf->faq ? &yf->faq->concepts : NULL;
	if (v->type != YAML_MAPPING_NODE) {
		yerr(yf, v, "'words' must be word lists, each 'name: |' and then one word or "
			    "phrase a line, indented under it");
		return 0;
	}
	for (q = v->data.mapping.pairs.start; q < v->data.mapping.pairs.top; q++) {
		yaml_node_t *nn = node_at(yf, q->key), *lv = node_at(yf, q->value);
		const char *name = scalar(nn);

		if (!name) {
			yerr(yf, nn, "a word list's name must be a word");
			continue;
		}
		if (lv->type == YAML_SCALAR_NODE && !*scalar(lv)) {
			yerr(yf, nn, "word list '%s' has no words: one word or phrase a line, "
				     "indented under 'name: |'", name);
			continue;
		}
		if (add_list(yf, nn, lv, name, &e->words, NULL) < 0)
			return -1;
	}
	if (!yf->faq)
		return 0;
	for (i = 0; i < e->words.n; i++) { /* a list that names an unknown list */
		char src[CONCEPT_NAME_MAX + 3], msg[256], *out = NULL;
		size_t off;
		enum err err;

		snprintf(src, sizeof(src), "{%s}", e->words.v[i].name);
		err = concept_expand(&e->words, src, &out, msg, sizeof(msg), &off);
		free(out);
		if (err == ERR_NOMEM)
			return -1;
		if (err != ERR_OK) {
			yf->errors++;
			faq_diag_add(yf->d, yf->path, e->words.v[i].line,
				     source_col(yf, e->words.v[i].line - 1), 0, "in word list '%s': %s",
				     e->words.v[i].name, msg);
		}
	}
	return 0;
}

/* suggest names the known key nearest to a misspelt one ("pattern"). */
static const char *suggest(const char *key, const char *const *known)
{
	size_t kl = strlen(key);

	for (; *known; known++) {
		size_t n = strlen(*known);

		if ((kl + 1 == n && strncmp(*known, key, kl) == 0) ||
		    (n + 1 == kl && strncmp(*known, key, n) == 0) ||
		    (kl == n && strncasecmp(*known, key, n) == 0))
			return *known;
	}
	return NULL;
}

/* read_text reads v, the text of key (an answer, a short form), into
 * *out, trimmed and reflowed; what is not text is reported, with how to
 * write it ("key: STYLE" then the lines), and leaves *out NULL. -1 only
 * when memory ran out. */
static int read_text(struct yfile *yf, yaml_node_t *v, const char *key, const char *style,
		     char **out)
{
	const char *s = scalar(v);

	if (!s) {
		yerr(yf, v, "'%s' must be text ('%s: %s' then the lines)", key, key, style);
		return 0;
	}
	*out = trimmed_dup(s, strlen(s));
	if (!*out)
		return -1;
	reflow(*out);
	return 0;
}

/* check_short reports what is wrong with e's `short:` form, at v. */
static void check_short(struct yfile *yf, yaml_node_t *v, const struct faq_entry *e)
{
	const char *s = e->short_answer;

	if (e->cls != FAQ_CLASS_FAQ) {
		yerr(yf, v, "'short' is for FAQ answers only: %s replies always go out whole",
		     faq_class_name(e->cls));
		return;
	}
	if (!*s)
		yerr(yf, v, "'short' is empty: write the answer in a sentence or two, or leave "
			    "the key out");
	else if (strlen(s) > FAQ_SHORT_MAX)
		yerr(yf, v, "'short' has %zu characters; keep it to %d (one line on IRC, with "
			    "the pointer to the whole answer)",
		     strlen(s), FAQ_SHORT_MAX);
	else if (strchr(s, '\n'))
		yerr(yf, v, "'short' is one paragraph: no blank line inside it");
	else if (strstr(s, FAQ_LINES_PLACEHOLDER))
		yerr(yf, v, "%s only works in crisis answers", FAQ_LINES_PLACEHOLDER);
}

static int load_entry(struct yfile *yf, yaml_node_t *root, struct faq_entry *e)
{
	yaml_node_pair_t *p;
	yaml_node_t *answer_node = NULL, *short_node = NULL, *words_node = NULL;
	int only_q = -1; /* not given */

	e->cls = FAQ_CLASS_FAQ;
	e->line = (unsigned)root->start_mark.line + 1;
	/* the entry's own word lists first, wherever they are written: its
	 * patterns name them */
	e->words.outer = yf->faq ? &yf->faq->concepts : NULL;
	for (p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top; p++) {
		const char *k = scalar(node_at(yf, p->key));

		if (k && strcmp(k, "words") == 0) {
			if (words_node) {
				yerr(yf, node_at(yf, p->key), "'words' is given twice; keep one");
				continue;
			}
			words_node = node_at(yf, p->value);
			if (load_words(yf, words_node, e) < 0)
				return -1;
		}
	}
	for (p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top; p++) {
		yaml_node_t *kn = node_at(yf, p->key), *v = node_at(yf, p->value);
		const char *k = scalar(kn);
		const char *const *kk;
		int known = 0;

		if (!k) {
			yerr(yf, kn, "a key must be a plain word");
			continue;
		}
		for (kk = entry_keys; *kk; kk++)
			known |= strcmp(*kk, k) == 0;
		if (!known) {
			const char *s = suggest(k, entry_keys);

			if (s)
				yerr(yf, kn, "unknown key '%s' (did you mean '%s'?)", k, s);
			else
				yerr(yf, kn, "unknown key '%s'; an entry has id, class, question, "
					     "reviewed, priority, sources, words, patterns, "
					     "negations, answer, short, examples, not_examples", k);
			continue;
		}
#define ONCE(field)                                                        \
	if (field) {                                                       \
		yerr(yf, kn, "'%s' is given twice; keep one", k);          \
		continue;                                                  \
	}
		if (strcmp(k, "id") == 0) {
			ONCE(e->id);
			e->id = get_string(yf, v, k);
			if (e->id && !id_ok(e->id))
				yerr(yf, v, "id '%s' may use only a-z, 0-9 and '-' (at most 64, "
					    "not starting or ending with '-')", e->id);
		} else if (strcmp(k, "class") == 0) {
			const char *s = scalar(v);

			if (s && strcmp(s, "faq") == 0)
				e->cls = FAQ_CLASS_FAQ;
			else if (s && strcmp(s, "advice") == 0)
				e->cls = FAQ_CLASS_ADVICE;
			else if (s && strcmp(s, "crisis") == 0)
				e->cls = FAQ_CLASS_CRISIS;
			else if (s && strcmp(s, "question") == 0)
				e->cls = FAQ_CLASS_QUESTION;
			else
				yerr(yf, v, "class must be faq, advice, crisis or question, not '%s'",
				     s ? s : "?");
		} else if (strcmp(k, "only_questions") == 0) {
			const char *s = scalar(v);

			if (s && (strcmp(s, "true") == 0 || strcmp(s, "yes") == 0))
				only_q = 1;
			else if (s && (strcmp(s, "false") == 0 || strcmp(s, "no") == 0))
				only_q = 0;
			else
				yerr(yf, v, "only_questions must be true or false");
		} else if (strcmp(k, "question") == 0) {
			ONCE(e->question);
			e->question = get_string(yf, v, k);
		} else if (strcmp(k, "reviewed") == 0) {
			ONCE(e->reviewed);
			e->reviewed = get_string(yf, v, k);
			if (e->reviewed && !faq_date_ok(e->reviewed))
				yerr(yf, v, "reviewed must be a date written YYYY-MM-DD, like "
					    "2026-11-21, not '%s'", e->reviewed);
			else if (e->reviewed && date_in_future(e->reviewed))
				yerr(yf, v, "reviewed date %s is in the future", e->reviewed);
		} else if (strcmp(k, "priority") == 0) {
			const char *s = scalar(v);
			char *end = NULL;
			long n = s ? strtol(s, &end, 10) : 0;

			if (!s || !*s || *end || n < -100 || n > 100)
				yerr(yf, v, "priority must be a whole number from -100 to 100");
			else
				e->priority = (int)n;
		} else if (strcmp(k, "sources") == 0) {
			struct line_item *items;
			size_t n, i;

			ONCE(e->sources);
			if (get_lines(yf, v, k, 0, 0, &items, &n) < 0)
				return -1;
			e->sources = calloc(n ? n : 1, sizeof(char *));
			if (!e->sources) {
				free_lines(items, n);
				return -1;
			}
			for (i = 0; i < n; i++)
				e->sources[i] = items[i].text;
			e->nsources = n;
			free(items);
		} else if (strcmp(k, "patterns") == 0) {
			ONCE(e->patterns);
			if (compile_patterns(yf, v, k, &e->words, &e->patterns, &e->npatterns) < 0)
				return -1;
		} else if (strcmp(k, "negations") == 0) {
			ONCE(e->negations);
			if (compile_patterns(yf, v, k, &e->words, &e->negations, &e->nnegations) < 0)
				return -1;
		} else if (strcmp(k, "answer") == 0) {
			ONCE(e->answer);
			answer_node = v;
			if (read_text(yf, v, k, "|", &e->answer) < 0)
				return -1;
		} else if (strcmp(k, "short") == 0) {
			ONCE(e->short_answer);
			short_node = v;
			if (read_text(yf, v, k, ">-", &e->short_answer) < 0)
				return -1;
		} else if (strcmp(k, "examples") == 0) {
			ONCE(e->examples);
			if (to_samples(yf, v, k, &e->examples, &e->nexamples) < 0)
				return -1;
		} else if (strcmp(k, "not_examples") == 0) {
			ONCE(e->counter);
			if (to_samples(yf, v, k, &e->counter, &e->ncounter) < 0)
				return -1;
		}
#undef ONCE
	}

	/* faq entries answer questions unless they say otherwise; advice is
	 * given whatever the shape; crisis is never gated. */
	e->only_questions = only_q >= 0 ? only_q : e->cls == FAQ_CLASS_FAQ;
	if (only_q == 1 && (e->cls == FAQ_CLASS_CRISIS || e->cls == FAQ_CLASS_QUESTION))
		yerr(yf, root, "only_questions cannot be used in a %s entry: a crisis is "
			       "answered whatever its shape", faq_class_name(e->cls));
	if (e->cls == FAQ_CLASS_QUESTION) {
		e->only_questions = 0;
		if (!e->id)
			yerr(yf, root, "the entry has no 'id'");
		if (!e->patterns || e->npatterns == 0)
			yerr(yf, root, "the question entry has no 'patterns'");
		if (e->answer)
			yerr(yf, answer_node, "a question entry has no answer: it only says which "
					      "messages are questions");
		return 0;
	}

	/* What every entry needs, said at the entry's first line. */
	if (!e->id)
		yerr(yf, root, "the entry has no 'id'");
	if (!e->question)
		yerr(yf, root, "the entry has no 'question' (the question it answers, in plain words)");
	if (!e->reviewed)
		yerr(yf, root, "the entry has no 'reviewed' date (YYYY-MM-DD)");
	if (!e->patterns || e->npatterns == 0)
		yerr(yf, root, "the entry has no 'patterns': without one it can never be chosen");
	if (!e->examples || e->nexamples == 0)
		yerr(yf, root, "the entry has no 'examples': give at least one message that "
			       "must get this answer");
	if (e->cls == FAQ_CLASS_FAQ && e->nsources == 0 && e->id && strcmp(e->id, "about-bot") != 0)
		yerr(yf, root, "the entry has no 'sources': name the articles the answer comes from");
	if (e->nnegations && e->cls != FAQ_CLASS_CRISIS)
		yerr(yf, root, "'negations' only work in crisis entries");
	if (!e->answer || !*e->answer) {
		yerr(yf, answer_node ? answer_node : root, "the entry has no 'answer'");
	} else {
		size_t words = 0;
		const char *s = e->answer;
		int in = 0;

		for (; *s; s++) {
			int sp = *s == ' ' || *s == '\n' || *s == '\t';

			words += !sp && !in;
			in = !sp;
		}
		if (e->cls == FAQ_CLASS_FAQ &&
		    (words < FAQ_ANSWER_MIN_WORDS || words > FAQ_ANSWER_MAX_WORDS))
			yerr(yf, answer_node, "the answer has %zu words; keep it between %d and %d",
			     words, FAQ_ANSWER_MIN_WORDS, FAQ_ANSWER_MAX_WORDS);
		if (e->cls == FAQ_CLASS_CRISIS) {
			if (!strstr(e->answer, FAQ_LINES_PLACEHOLDER))
				yerr(yf, answer_node, "a crisis answer must contain %s where the "
						      "crisis lines go", FAQ_LINES_PLACEHOLDER);
			else if (words > FAQ_CRISIS_MAX_WORDS)
				yerr(yf, answer_node, "the crisis answer has %zu words; keep it under "
						      "%d: short is kinder in a crisis",
				     words, FAQ_CRISIS_MAX_WORDS);
		} else if (strstr(e->answer, FAQ_LINES_PLACEHOLDER)) {
			yerr(yf, answer_node, "%s only works in crisis answers", FAQ_LINES_PLACEHOLDER);
		}
	}
	if (e->short_answer)
		check_short(yf, short_node, e);
	return 0;
}

/* --- crisis lines --------------------------------------------------------- */

static const char *const line_keys[] = {
	"name", "kind", "number", "keyword", "url", "text", "source", "verified", "seen_in", NULL,
};

static void helpline_release(struct faq_helpline *h)
{
	free(h->name);
	free(h->kind);
	free(h->number);
	free(h->keyword);
	free(h->url);
	free(h->text);
	free(h->source);
	free(h->verified);
	free(h->seen_in);
}

static void region_release(struct faq_region *r)
{
	size_t i;

	for (i = 0; i < r->nlines; i++)
		helpline_release(&r->lines[i]);
	free(r->lines);
	free(r->code);
	free(r->name);
}

static int load_helpline(struct yfile *yf, const char *region, yaml_node_t *m,
			 struct faq_helpline *h)
{
	yaml_node_pair_t *p;
	char why[256];

	h->line = (unsigned)m->start_mark.line + 1;
	if (m->type != YAML_MAPPING_NODE) {
		yerr(yf, m, "each crisis line must be a mapping (name:, kind:, number: ...)");
		return 0;
	}
	for (p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++) {
		yaml_node_t *kn = node_at(yf, p->key), *v = node_at(yf, p->value);
		const char *k = scalar(kn);
		char **slot = NULL;

		if (!k) {
			yerr(yf, kn, "a key must be a plain word");
			continue;
		}
		if (strcmp(k, "name") == 0) slot = &h->name;
		else if (strcmp(k, "kind") == 0) slot = &h->kind;
		else if (strcmp(k, "number") == 0) slot = &h->number;
		else if (strcmp(k, "keyword") == 0) slot = &h->keyword;
		else if (strcmp(k, "url") == 0) slot = &h->url;
		else if (strcmp(k, "text") == 0) slot = &h->text;
		else if (strcmp(k, "source") == 0) slot = &h->source;
		else if (strcmp(k, "verified") == 0) slot = &h->verified;
		else if (strcmp(k, "seen_in") == 0) slot = &h->seen_in;
		if (!slot) {
			const char *s = suggest(k, line_keys);

			yerr(yf, kn, "unknown key '%s' in a crisis line%s%s%s", k,
			     s ? " (did you mean '" : "", s ? s : "", s ? "'?)" : "");
			continue;
		}
		if (*slot) {
			yerr(yf, kn, "'%s' is given twice; keep one", k);
			continue;
		}
		*slot = get_string(yf, v, k);
	}
	if (!h->name) yerr(yf, m, "the crisis line has no 'name'");
	if (!h->text) yerr(yf, m, "the crisis line has no 'text' (what a member reads)");
	if (!h->source) yerr(yf, m, "the crisis line has no 'source' (where it was checked)");
	if (!h->verified)
		yerr(yf, m, "the crisis line has no 'verified' date (YYYY-MM-DD)");
	else if (!faq_date_ok(h->verified))
		yerr(yf, m, "verified must be a date written YYYY-MM-DD, not '%s'", h->verified);
	else if (date_in_future(h->verified))
		yerr(yf, m, "verified date %s is in the future", h->verified);
	if (!h->kind) {
		yerr(yf, m, "the crisis line has no 'kind' (emergency, phone, sms or web)");
	} else if (helpline_check(region, h->kind, h->number, h->keyword, h->url, h->text,
				  why, sizeof(why)) != ERR_OK) {
		yerr(yf, m, "crisis line '%s': %s", h->name ? h->name : "?", why);
	}
	return 0;
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

static int load_lines_file(struct yfile *yf, yaml_node_t *root, struct faq *faq)
{
	yaml_node_pair_t *p;

	for (p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top; p++) {
		yaml_node_t *kn = node_at(yf, p->key), *v = node_at(yf, p->value);
		const char *k = scalar(kn);

		if (k && strcmp(k, "default_region") == 0) {
			free(faq->default_region);
			faq->default_region = get_string(yf, v, k);
		} else if (k && strcmp(k, "regions") == 0) {
			yaml_node_item_t *it;

			if (v->type != YAML_SEQUENCE_NODE) {
				yerr(yf, v, "'regions' must be a list of regions");
				continue;
			}
			for (it = v->data.sequence.items.start; it < v->data.sequence.items.top; it++) {
				yaml_node_t *rn = node_at(yf, *it);
				struct faq_region *r, *nr;
				yaml_node_pair_t *q;

				if (rn->type != YAML_MAPPING_NODE) {
					yerr(yf, rn, "each region must be a mapping (region:, name:, lines:)");
					continue;
				}
				nr = realloc(faq->regions, (faq->nregions + 1) * sizeof(*nr));
				if (!nr)
					return -1;
				faq->regions = nr;
				r = &faq->regions[faq->nregions++];
				memset(r, 0, sizeof(*r));
				r->line = (unsigned)rn->start_mark.line + 1;
				for (q = rn->data.mapping.pairs.start; q < rn->data.mapping.pairs.top; q++) {
					yaml_node_t *qk = node_at(yf, q->key), *qv = node_at(yf, q->value);
					const char *s = scalar(qk);

					if (s && strcmp(s, "region") == 0 && !r->code) {
						r->code = get_string(yf, qv, s);
					} else if (s && strcmp(s, "name") == 0 && !r->name) {
						r->name = get_string(yf, qv, s);
					} else if (s && strcmp(s, "lines") == 0 && !r->lines &&
						   qv->type == YAML_SEQUENCE_NODE) {
						size_t n = (size_t)(qv->data.sequence.items.top -
								    qv->data.sequence.items.start), i;

						r->lines = calloc(n ? n : 1, sizeof(*r->lines));
						if (!r->lines)
							return -1;
						for (i = 0; i < n; i++) {
							yaml_node_t *ln = node_at(yf, qv->data.sequence.items.start[i]);

							load_helpline(yf, r->code ? r->code : "", ln,
								      &r->lines[r->nlines++]);
						}
					} else {
						yerr(yf, qk, "unexpected '%s' in a region (it has region, "
							     "name and lines, once each)", s ? s : "?");
					}
				}
				if (!r->code)
					yerr(yf, rn, "the region has no 'region' code (like us or uk)");
				if (!r->lines || r->nlines == 0)
					yerr(yf, rn, "region '%s' has no 'lines'", r->code ? r->code : "?");
			}
		} else {
			yerr(yf, kn, "unknown key '%s' in the crisis lines file (it has "
				     "default_region and regions)", k ? k : "?");
		}
	}
	if (!faq->default_region)
		yerr(yf, root, "the crisis lines file has no 'default_region'");
	return 0;
}

/* --- files and folders ---------------------------------------------------- */

/* load_articles_file reads articles.yml: one key, articles, a mapping of
 * a source file's name to the article's title. Returns -1 only when
 * memory ran out. */
static int load_articles_file(struct yfile *yf, yaml_node_t *root, struct faq *faq)
{
	yaml_node_pair_t *p, *q;

	for (p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top; p++) {
		yaml_node_t *kn = node_at(yf, p->key), *v = node_at(yf, p->value);
		const char *k = scalar(kn);

		if (!k || strcmp(k, "articles") != 0) {
			yerr(yf, kn, "unknown key '%s': an articles file holds one key, 'articles'",
			     k ? k : "?");
			continue;
		}
		if (v->type != YAML_MAPPING_NODE) {
			yerr(yf, v, "'articles' must be lines of 'file name: the article's title'");
			continue;
		}
		for (q = v->data.mapping.pairs.start; q < v->data.mapping.pairs.top; q++) {
			yaml_node_t *fn = node_at(yf, q->key), *tn = node_at(yf, q->value);
			const char *file = scalar(fn), *title = scalar(tn);
			struct faq_article *na;

			if (!file || !*file || !title || !*title) {
				yerr(yf, fn, "write each article as 'file name: its title' (put the "
					     "title in quotes when it holds a colon)");
				continue;
			}
			if (faq_article_title(faq, file)) {
				yerr(yf, fn, "'%s' is given twice: keep one line", file);
				continue;
			}
			na = realloc(faq->articles, (faq->narticles + 1) * sizeof(*na));
			if (!na)
				return -1;
			faq->articles = na;
			na = &faq->articles[faq->narticles];
			na->file = strdup(file);
			na->title = trimmed_dup(title, strlen(title));
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
static int load_concepts_file(struct yfile *yf, yaml_node_t *root, struct faq *faq)
{
	yaml_node_pair_t *p;

	for (p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top; p++) {
		yaml_node_t *kn = node_at(yf, p->key), *v = node_at(yf, p->value);
		const char *k = scalar(kn);
		yaml_node_pair_t *q;

		if (!k || strcmp(k, "concepts") != 0) {
			yerr(yf, kn, "unknown key '%s': a concepts file holds one key, 'concepts'",
			     k ? k : "?");
			continue;
		}
		if (v->type != YAML_MAPPING_NODE) {
			yerr(yf, v, "'concepts' must be a list of 'name: |' blocks of phrases");
			continue;
		}
		for (q = v->data.mapping.pairs.start; q < v->data.mapping.pairs.top; q++) {
			yaml_node_t *nn = node_at(yf, q->key), *lv = node_at(yf, q->value);
			const char *name = scalar(nn);

			if (!name) {
				yerr(yf, nn, "a concept's name must be a word");
				continue;
			}
			if (add_list(yf, nn, lv, name, &faq->concepts, yf->path) < 0)
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

/* load_file parses one file into either an entry (appended to faq) or the
 * crisis lines. Returns -1 only when memory ran out. */
static int parse_text(const char *path, const char *src, size_t len, struct faq *faq,
		      struct faq_diags *d)
{
	struct yfile yf = {0};
	yaml_parser_t parser;
	yaml_node_t *root;
	int rc = 0, parser_ok = 0, doc_ok = 0;

	yf.path = path;
	yf.d = d;
	yf.faq = faq;
	yf.src = src;
	yf.srclen = len;
	if (index_lines(&yf) < 0)
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
		yerr(&yf, root, "the file must hold one entry: lines of 'key: value', "
				"starting with 'id: ...'");
		goto out;
	}
	{
		/* a second document ("---") would be silently ignored: say so */
		yaml_document_t next;

		if (yaml_parser_load(&parser, &next)) {
			if (yaml_document_get_root_node(&next))
				faq_diag_add(d, path, (unsigned)next.start_mark.line + 1, 1, 0,
					     "only one entry a file: move this one to a file of its own");
			yaml_document_delete(&next);
		}
	}
	{
		yaml_node_pair_t *p;
		int is_lines = 0;

		int is_concepts = 0, is_articles = 0;

		for (p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top; p++) {
			const char *k = scalar(node_at(&yf, p->key));

			is_lines |= k && strcmp(k, "regions") == 0;
			is_concepts |= k && strcmp(k, "concepts") == 0;
			is_articles |= k && strcmp(k, "articles") == 0;
		}
		if (is_concepts) {
			if (load_concepts_file(&yf, root, faq) < 0)
				goto nomem;
		} else if (is_articles) {
			if (load_articles_file(&yf, root, faq) < 0)
				goto nomem;
		} else if (is_lines) {
			if (faq->lines_file) {
				yerr(&yf, root, "crisis lines are already given in %s; keep one file",
				     faq->lines_file);
				goto out;
			}
			faq->lines_file = strdup(path);
			if (!faq->lines_file || load_lines_file(&yf, root, faq) < 0)
				goto nomem;
		} else {
			struct faq_entry *ne = realloc(faq->entries,
						       (faq->nentries + 1) * sizeof(*ne));
			struct faq_entry *e;

			if (!ne)
				goto nomem;
			faq->entries = ne;
			e = &faq->entries[faq->nentries++];
			memset(e, 0, sizeof(*e));
			e->file = strdup(path);
			if (!e->file || load_entry(&yf, root, e) < 0)
				goto nomem;
		}
	}
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
			struct faq_pattern *p = j < en->npatterns ? &en->patterns[j]
								  : &en->negations[j - en->npatterns];

			p->pf = n;
			src[n++] = p->expanded ? p->expanded : p->src;
		}
	}
	e = prefilter_new(src, n, &faq->prefilter, faq->prefilter_why,
			  sizeof(faq->prefilter_why));
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
					     "duplicate id '%s': %s uses it already", a->id, b->file);
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
		faq_diag_add(d, "", 0, 0, 0, "no crisis entry: faqbot will not run without one "
					     "(an entry with class: crisis)");
	if (!faq->lines_file) {
		faq_diag_add(d, "", 0, 0, 0, "no crisis lines file (a file with 'regions:'): "
					     "faqbot will not run without one");
	} else {
		for (i = 0; i < faq->nregions; i++)
			for (j = 0; j < i; j++)
				if (faq->regions[i].code && faq->regions[j].code &&
				    strcmp(faq->regions[i].code, faq->regions[j].code) == 0)
					faq_diag_add(d, faq->lines_file, faq->regions[i].line, 1, 0,
						     "region '%s' is given twice", faq->regions[i].code);
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
			faq_diag_add(d, dir, 0, 0, 0, "more than %d FAQ files; only the first are read",
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
		entry_release(&faq->entries[i]);
	free(faq->entries);
	free(faq->by_priority);
	for (i = 0; i < faq->nregions; i++)
		region_release(&faq->regions[i]);
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

	for (i = 0; i < faq->nentries; i++) {
		struct faq_entry *e = &faq->entries[i];

		free_samples(e->examples, e->nexamples);
		free_samples(e->counter, e->ncounter);
		e->examples = e->counter = NULL;
		e->nexamples = e->ncounter = 0;
	}
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
