/* concept.c -- named word lists for patterns (concept.h). */
#include "concept.h"
#include "text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

int concept_name_ok(const char *name, size_t len)
{
	size_t i;

	if (len == 0 || len > CONCEPT_NAME_MAX || !(name[0] >= 'a' && name[0] <= 'z'))
		return 0;
	for (i = 0; i < len; i++)
		if (!((name[i] >= 'a' && name[i] <= 'z') || (name[i] >= '0' && name[i] <= '9') ||
		      name[i] == '-'))
			return 0;
	return 1;
}

/* find looks name up in c and outward; *in says which set defines it, the
 * set its own {names} are looked up from. */
static const struct concept *find(const struct concepts *c, const char *name, size_t len,
				  const struct concepts **in)
{
	size_t i;

	for (; c; c = c->outer)
		for (i = 0; i < c->n; i++)
			if (strlen(c->v[i].name) == len && !memcmp(c->v[i].name, name, len)) {
				if (in)
					*in = c;
				return &c->v[i];
			}
	return NULL;
}

const struct concept *concept_find(const struct concepts *c, const char *name, size_t len)
{
	return find(c, name, len, NULL);
}

/* find_here: name defined in c itself, outer sets aside */
static const struct concept *find_here(const struct concepts *c, const char *name)
{
	struct concepts one = *c;

	one.outer = NULL;
	return find(&one, name, strlen(name), NULL);
}

/* ref_len: when s starts "{name}", the length of name; else 0. */
static size_t ref_len(const char *s)
{
	size_t n = 0;

	if (*s != '{')
		return 0;
	while (s[1 + n] && s[1 + n] != '}')
		n++;
	return s[1 + n] == '}' && concept_name_ok(s + 1, n) ? n : 0;
}

/* phrase_regex appends phrase, as concept.h says it reads, to b. A phrase
 * with letters beyond ASCII is first normalised as a message is
 * (text_normalise: accents dropped, case folded): written "muốn chết" or
 * "أقتل", it would otherwise never match a message, which arrives as
 * "muon chet" and with the hamza dropped. */
static void phrase_regex(struct buf *b, const char *phrase)
{
	char *norm = NULL;
	size_t len;
	const char *p = phrase;

	for (; *p && !((unsigned char)*p & 0x80); p++)
		;
	if (*p && text_normalise(phrase, strlen(phrase), &norm, &len) == ERR_OK)
		phrase = norm;
	for (p = phrase; *p; p++) {
		size_t n = ref_len(p);

		if (n) { /* another concept: kept for concept_expand */
			buf_append(b, p, n + 2);
			p += n + 1;
		} else if (*p == '\'') {
			buf_puts(b, "'?");
		} else if (*p == '*' && (p[1] == '\0' || p[1] == ' ')) {
			buf_puts(b, "\\w*");
		} else if (strchr("\\^$.|?*+()[]{}/#", *p)) {
			buf_append(b, "\\", 1);
			buf_append(b, p, 1);
		} else {
			buf_append(b, p, 1);
		}
	}
	free(norm);
}

enum err concept_add(struct concepts *c, const char *name, const char *const *phrases, size_t n,
		     const char *file, unsigned line, char *err, size_t errlen)
{
	struct concept *nv;
	struct buf b;
	size_t i, len;

	if (!concept_name_ok(name, strlen(name))) {
		snprintf(err, errlen,
			 "'%s' is not a name for a word list: lower-case letters, "
			 "digits and '-', starting with a letter",
			 name);
		return ERR_INVALID;
	}
	if (find_here(c, name)) {
		snprintf(err, errlen, "word list '%s' is defined twice", name);
		return ERR_INVALID;
	}
	if (n == 0) {
		snprintf(err, errlen, "word list '%s' has no words", name);
		return ERR_INVALID;
	}
	buf_init(&b, CONCEPT_EXPANDED_MAX);
	buf_puts(&b, "(?:");
	for (i = 0; i < n; i++) {
		if (i)
			buf_puts(&b, "|");
		phrase_regex(&b, phrases[i]);
	}
	buf_puts(&b, ")");
	if (b.failed) {
		buf_release(&b);
		snprintf(err, errlen, "word list '%s' is too long", name);
		return ERR_LIMIT;
	}
	nv = realloc(c->v, (c->n + 1) * sizeof(*nv));
	if (!nv) {
		buf_release(&b);
		return ERR_NOMEM;
	}
	c->v = nv;
	nv[c->n].name = strdup(name);
	nv[c->n].file = file ? strdup(file) : NULL;
	nv[c->n].line = line;
	nv[c->n].regex = buf_detach(&b);
	nv[c->n].nphrases = n;
	for (i = 0, len = 0; i < n; i++)
		len += strlen(phrases[i]) + 1;
	nv[c->n].phrases = malloc(len);
	for (i = 0, len = 0; nv[c->n].phrases && i < n; i++) {
		size_t l = strlen(phrases[i]) + 1;

		memcpy(nv[c->n].phrases + len, phrases[i], l);
		len += l;
	}
	if (!nv[c->n].name || (file && !nv[c->n].file) || !nv[c->n].regex || !nv[c->n].phrases) {
		free(nv[c->n].name);
		free(nv[c->n].file);
		free(nv[c->n].regex);
		free(nv[c->n].phrases);
		return ERR_NOMEM;
	}
	c->n++;
	return ERR_OK;
}

/* expand_into appends s, its concepts written out, to b. depth counts the
 * concepts being written out around s. */
static enum err expand_into(const struct concepts *c, const char *s, struct buf *b, int depth,
			    char *err, size_t errlen, size_t *erroff, const char *top)
{
	const char *p;

	for (p = s; *p; p++) {
		size_t n;
		const struct concept *k;
		const struct concepts *in = c;
		enum err e;

		if (*p == '\\' && p[1]) { /* an escape: both characters as they are */
			buf_append(b, p, 2);
			p++;
			continue;
		}
		n = ref_len(p);
		if (!n) {
			buf_append(b, p, 1);
			continue;
		}
		k = find(c, p + 1, n, &in);
		if (!k) {
			snprintf(err, errlen,
				 "unknown word list {%.*s} (lists are defined under "
				 "the entry's 'words:' or in concepts.yml)",
				 (int)n, p + 1);
			*erroff = depth == 0 ? (size_t)(p - top) : 0;
			return ERR_INVALID;
		}
		if (depth >= CONCEPT_DEPTH_MAX) {
			snprintf(err, errlen, "concept {%s} names concepts %d deep, or itself",
				 k->name, CONCEPT_DEPTH_MAX);
			*erroff = 0;
			return ERR_INVALID;
		}
		e = expand_into(in, k->regex, b, depth + 1, err, errlen, erroff, top);
		if (e != ERR_OK)
			return e;
		p += n + 1;
	}
	return ERR_OK;
}

enum err concept_expand(const struct concepts *c, const char *src, char **out, char *err,
			size_t errlen, size_t *erroff)
{
	struct buf b;
	const char *p;
	enum err e;
	int any = 0;

	*out = NULL;
	*erroff = 0;
	for (p = src; *p; p++) {
		if (*p == '\\' && p[1]) {
			p++;
			continue;
		}
		any |= ref_len(p) > 0;
	}
	if (!any)
		return ERR_OK;
	buf_init(&b, CONCEPT_EXPANDED_MAX);
	e = expand_into(c, src, &b, 0, err, errlen, erroff, src);
	if (e == ERR_OK && b.failed) {
		snprintf(err, errlen, "written out, the pattern is over %d bytes",
			 CONCEPT_EXPANDED_MAX);
		e = ERR_LIMIT;
	}
	if (e != ERR_OK) {
		buf_release(&b);
		return e;
	}
	*out = buf_detach(&b);
	return *out ? ERR_OK : ERR_NOMEM;
}

void concepts_release(struct concepts *c)
{
	size_t i;

	for (i = 0; i < c->n; i++) {
		free(c->v[i].name);
		free(c->v[i].regex);
		free(c->v[i].file);
		free(c->v[i].phrases);
	}
	free(c->v);
	c->v = NULL;
	c->n = 0;
}
