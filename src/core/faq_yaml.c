/* faq_yaml.c -- a FAQ file's YAML read with its places (faq_yaml.h). */
#include "faq_yaml.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

int faq_yaml_date_future(const char *s)
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

yaml_node_t *faq_yaml_node(struct faq_yfile *yf, int idx)
{
	return yaml_document_get_node(&yf->doc, idx);
}

const char *faq_yaml_scalar(yaml_node_t *n)
{
	return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

char *faq_yaml_trimmed(const char *s, size_t n)
{
	char *r;

	while (n > 0 && (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n'))
		s++, n--;
	while (n > 0 &&
	       (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
		n--;
	r = malloc(n + 1);
	if (r) {
		memcpy(r, s, n);
		r[n] = '\0';
	}
	return r;
}

char *faq_yaml_string(struct faq_yfile *yf, yaml_node_t *v, const char *key)
{
	const char *s = faq_yaml_scalar(v);
	char *r;

	if (!s) {
		faq_yerr(yf, v, "'%s' must be text, not a list or a mapping", key);
		return NULL;
	}
	r = faq_yaml_trimmed(s, strlen(s));
	if (r && !*r) {
		faq_yerr(yf, v, "'%s' is empty", key);
		free(r);
		return NULL;
	}
	return r;
}

unsigned faq_yaml_col(struct faq_yfile *yf, unsigned line)
{
	const char *p, *end = yf->src + yf->srclen;
	unsigned c = 1;

	if (line >= yf->nlines)
		return 1;
	for (p = yf->src + yf->line_off[line]; p < end && (*p == ' ' || *p == '\t'); p++)
		c++;
	return c;
}

int faq_yaml_index_lines(struct faq_yfile *yf)
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

/* The lines read so far. */
struct lines {
	struct faq_yaml_line *v;
	size_t n, cap;
};

/* push appends t (taken) at line, col; -1 when memory ran out (t freed). */
static int push(struct lines *ls, char *t, unsigned line, unsigned col)
{
	if (ls->n == ls->cap) {
		size_t nc = ls->cap ? ls->cap * 2 : 8;
		struct faq_yaml_line *ni = realloc(ls->v, nc * sizeof(*ni));

		if (!ni) {
			free(t);
			return -1;
		}
		ls->v = ni;
		ls->cap = nc;
	}
	ls->v[ls->n].text = t;
	ls->v[ls->n].line = line;
	ls->v[ls->n].col = col;
	ls->v[ls->n].first = strlen(t);
	ls->n++;
	return 0;
}

/* scalar_lines: a block scalar (or a plain one), an item a line. -1 when
 * memory ran out. */
static int scalar_lines(struct faq_yfile *yf, yaml_node_t *v, int comments, int join,
			struct lines *ls)
{
	const char *s = (const char *)v->data.scalar.value;
	int block = v->data.scalar.style == YAML_LITERAL_SCALAR_STYLE ||
		    v->data.scalar.style == YAML_FOLDED_SCALAR_STYLE;
	unsigned line = (unsigned)v->start_mark.line + (block ? 1 : 0);

	while (*s) {
		const char *nl = strchr(s, '\n');
		size_t len = nl ? (size_t)(nl - s) : strlen(s);
		char *t = faq_yaml_trimmed(s, len);

		if (!t)
			return -1;
		if (!*t || (comments && t[0] == '#')) {
			free(t);
		} else if (join && block && ls->n > 0 && (*s == ' ' || *s == '\t')) {
			/* indented deeper: the pattern above goes on */
			size_t a = strlen(ls->v[ls->n - 1].text), b = strlen(t);
			char *j = realloc(ls->v[ls->n - 1].text, a + b + 1);

			if (!j) {
				free(t);
				return -1;
			}
			memcpy(j + a, t, b + 1);
			ls->v[ls->n - 1].text = j;
			free(t);
		} else {
			unsigned col =
				block ? faq_yaml_col(yf, line) : (unsigned)v->start_mark.column + 1;

			if (push(ls, t, line + 1, col) < 0)
				return -1;
		}
		line++;
		s += len + (nl ? 1 : 0);
	}
	return 0;
}

/* sequence_lines: a sequence of scalars, an item each. -1 when memory ran
 * out. */
static int sequence_lines(struct faq_yfile *yf, yaml_node_t *v, const char *key, struct lines *ls)
{
	yaml_node_item_t *it;

	for (it = v->data.sequence.items.start; it < v->data.sequence.items.top; it++) {
		yaml_node_t *e = faq_yaml_node(yf, *it);
		const char *s = faq_yaml_scalar(e);
		char *t;

		if (!s) {
			faq_yerr(yf, e, "each item of '%s' must be one line of text", key);
			continue;
		}
		t = faq_yaml_trimmed(s, strlen(s));
		if (!t)
			return -1;
		if (!*t) {
			faq_yerr(yf, e, "an item of '%s' is empty", key);
			free(t);
			continue;
		}
		if (push(ls, t, (unsigned)e->start_mark.line + 1,
			 (unsigned)e->start_mark.column + 1 +
				 (e->data.scalar.style == YAML_SINGLE_QUOTED_SCALAR_STYLE ||
				  e->data.scalar.style == YAML_DOUBLE_QUOTED_SCALAR_STYLE)) < 0)
			return -1;
	}
	return 0;
}

int faq_yaml_lines(struct faq_yfile *yf, yaml_node_t *v, const char *key, int comments, int join,
		   struct faq_yaml_line **out, size_t *nout)
{
	struct lines ls = {NULL, 0, 0};
	int rc = 0;

	*out = NULL;
	*nout = 0;
	if (v->type == YAML_SCALAR_NODE)
		rc = scalar_lines(yf, v, comments, join, &ls);
	else if (v->type == YAML_SEQUENCE_NODE)
		rc = sequence_lines(yf, v, key, &ls);
	else
		faq_yerr(yf, v, "'%s' must be a block of lines ('%s: |') or a list", key, key);
	if (rc < 0) {
		faq_yaml_lines_free(ls.v, ls.n);
		return -1;
	}
	*out = ls.v;
	*nout = ls.n;
	return 0;
}

void faq_yaml_lines_free(struct faq_yaml_line *items, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(items[i].text);
	free(items);
}

int faq_yaml_list(struct faq_yfile *yf, yaml_node_t *nn, yaml_node_t *lv, const char *name,
		  struct concepts *c, const char *file)
{
	struct faq_yaml_line *items;
	const char **phrases;
	size_t n, i;
	char msg[256];
	enum err e;

	if (faq_yaml_lines(yf, lv, name, 1, 0, &items, &n) < 0)
		return -1;
	phrases = calloc(n ? n : 1, sizeof(*phrases));
	if (!phrases) {
		faq_yaml_lines_free(items, n);
		return -1;
	}
	for (i = 0; i < n; i++)
		phrases[i] = items[i].text;
	e = concept_add(c, name, phrases, n, file, (unsigned)nn->start_mark.line + 1, msg,
			sizeof(msg));
	free(phrases);
	faq_yaml_lines_free(items, n);
	if (e == ERR_NOMEM)
		return -1;
	if (e != ERR_OK)
		faq_yerr(yf, nn, "%s", msg);
	return 0;
}

int faq_yaml_near(const char *key, const char *known)
{
	size_t kl = strlen(key), n = strlen(known);

	return (kl + 1 == n && strncmp(known, key, kl) == 0) ||
	       (n + 1 == kl && strncmp(known, key, n) == 0) ||
	       (kl == n && strncasecmp(known, key, n) == 0);
}
