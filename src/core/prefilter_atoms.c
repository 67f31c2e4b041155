/* prefilter_atoms.c -- what a part of a pattern is known to match
 * (prefilter_int.h): sets of strings, clauses of atoms and their AND, the
 * algebra the reader builds a pattern's requirement with, in an arena. */
#include "prefilter_int.h"

#include <stdlib.h>
#include <string.h>

/* --- an arena for one pattern's reading ----------------------------------- */

struct prefilter_chunk {
	struct prefilter_chunk *next;
	size_t used, size;
	char mem[];
};

void *prefilter_arena_alloc(struct prefilter_arena *a, size_t n)
{
	struct prefilter_chunk *c = a->head;

	n = (n + 15) & ~(size_t)15;
	if (!c || c->size - c->used < n) {
		size_t size = n > 16384 ? n : 16384;

		c = malloc(sizeof(*c) + size);
		if (!c) {
			a->nomem = 1;
			return NULL;
		}
		c->next = a->head;
		c->used = 0;
		c->size = size;
		a->head = c;
	}
	c->used += n;
	return c->mem + c->used - n;
}

void prefilter_arena_release(struct prefilter_arena *a)
{
	while (a->head) {
		struct prefilter_chunk *next = a->head->next;

		free(a->head);
		a->head = next;
	}
}

/* --- what a part of a pattern is known to match --------------------------- */

void prefilter_strset_one(struct prefilter_strset *s, const char *str)
{
	s->n = 1;
	s->s[0] = str;
}

static int set_has(const struct prefilter_strset *s, const char *str)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		if (strcmp(s->s[i], str) == 0)
			return 1;
	return 0;
}

int prefilter_strset_add(struct prefilter_strset *s, const char *str)
{
	if (set_has(s, str))
		return 0;
	if (s->n == PREFILTER_WIDE_MAX)
		return -1;
	s->s[s->n++] = str;
	return 0;
}

/* only_marks: s is one string of nothing but word boundaries, or empty */
static int only_marks(const struct prefilter_strset *s)
{
	const char *p;

	if (s->n != 1)
		return 0;
	for (p = s->s[0]; *p; p++)
		if (*p != PREFILTER_MARK)
			return 0;
	return 1;
}

int prefilter_cross(struct prefilter_arena *ar, const struct prefilter_strset *a,
		    const struct prefilter_strset *b, struct prefilter_strset *out)
{
	size_t i, j;

	if (a->n * b->n > PREFILTER_EXACT_MAX && !only_marks(a) && !only_marks(b))
		return -1;
	out->n = 0;
	for (i = 0; i < a->n; i++)
		for (j = 0; j < b->n; j++) {
			size_t la = strlen(a->s[i]), lb = strlen(b->s[j]);
			const char *bs = b->s[j];
			char *s;

			if (la && lb && a->s[i][la - 1] == PREFILTER_MARK &&
			    bs[0] == PREFILTER_MARK)
				bs++, lb--;
			if (la + lb > PREFILTER_STRING_MAX)
				return -1;
			s = prefilter_arena_alloc(ar, la + lb + 1);
			if (!s)
				return -1;
			memcpy(s, a->s[i], la);
			memcpy(s + la, bs, lb + 1);
			if (prefilter_strset_add(out, s) < 0)
				return -1;
		}
	return 0;
}

/* weight: how much finding str says; below PREFILTER_ATOM_MIN it is found
 * in too many texts to be worth a look ("i", "or" inside any word). Its
 * characters count, and a word boundary at either end. A Chinese or
 * Japanese character or a Korean syllable (from U+2E80 on: three bytes
 * or four, lead byte 0xE2 with 0xBA or above, or any lead byte past it)
 * counts two: one of thousands, it says what two letters do, and a word
 * of two of them ("想死", "今夜") is worth a look. */
static size_t weight(const char *str)
{
	size_t n = strlen(str), w = 0, i;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)str[i];

		if (str[i] == PREFILTER_MARK || (c & 0xC0) == 0x80)
			continue;
		w += 1 +
		     (c > 0xE2 || (c == 0xE2 && i + 1 < n && (unsigned char)str[i + 1] >= 0xBA));
	}
	if (w == 0)
		return 0;
	return w + (str[0] == PREFILTER_MARK) + (n > 1 && str[n - 1] == PREFILTER_MARK);
}

static int clause_has(const struct prefilter_clause *c, const char *atom)
{
	size_t i;

	for (i = 0; i < c->n; i++)
		if (strcmp(c->atom[i], atom) == 0)
			return 1;
	return 0;
}

static int clause_same(const struct prefilter_clause *a, const struct prefilter_clause *b)
{
	size_t i;

	if (a->n != b->n)
		return 0;
	for (i = 0; i < a->n; i++)
		if (!clause_has(b, a->atom[i]))
			return 0;
	return 1;
}

/* prefilter_cnf_add ANDs clause c into f. A clause that does not fit is dropped: an
 * AND with fewer terms asks less, so the prefilter only lets more through.
 * When full, the widest clause makes room for a narrower one. */
void prefilter_cnf_add(struct prefilter_cnf *f, const struct prefilter_clause *c)
{
	size_t i, widest = 0;

	if (c->n == 0)
		return;
	for (i = 0; i < f->n; i++)
		if (clause_same(&f->c[i], c))
			return;
	if (f->n < PREFILTER_CLAUSES_MAX) {
		f->c[f->n++] = *c;
		return;
	}
	for (i = 1; i < f->n; i++)
		if (f->c[i].n > f->c[widest].n)
			widest = i;
	if (c->n < f->c[widest].n)
		f->c[widest] = *c;
}

void prefilter_cnf_and(struct prefilter_cnf *f, const struct prefilter_cnf *g)
{
	size_t i;

	for (i = 0; i < g->n; i++)
		prefilter_cnf_add(f, &g->c[i]);
}

/* common: the longest string that every string of s holds, when it is
 * worth looking for on its own (PREFILTER_COMMON_MIN), or NULL */
static const char *common(struct prefilter_arena *ar, const struct prefilter_strset *s)
{
	const char *base = s->s[0];
	size_t i, len, at, bl;

	for (i = 1; i < s->n; i++)
		if (strlen(s->s[i]) < strlen(base))
			base = s->s[i];
	bl = strlen(base);
	for (len = bl; len > 0; len--)
		for (at = 0; at + len <= bl; at++) {
			char buf[PREFILTER_STRING_MAX + 1], *r;

			memcpy(buf, base + at, len);
			buf[len] = '\0';
			for (i = 0; i < s->n && strstr(s->s[i], buf); i++)
				;
			if (i < s->n)
				continue;
			if (weight(buf) < PREFILTER_COMMON_MIN)
				return NULL;
			r = prefilter_arena_alloc(ar, len + 1);
			if (r)
				memcpy(r, buf, len + 1);
			return r;
		}
	return NULL;
}

/* prefilter_clause_of: the OR of the strings of s, or an empty clause (nothing
 * required) when one of them is too weak to look for. Where the strings
 * have a long enough part in common ("want to die", "wanna die", "wana
 * die": " die"), that part alone stands for them: found wherever any of
 * them is, and one literal instead of many (the shipped FAQ's database:
 * 879 -> 779 KB, as many candidates within 3%). */
void prefilter_clause_of(struct prefilter_arena *ar, const struct prefilter_strset *s,
			 struct prefilter_clause *c)
{
	size_t i;
	const char *com;

	c->n = 0;
	c->atom = NULL;
	if (s->n > 1 && (com = common(ar, s)) != NULL) {
		c->atom = prefilter_arena_alloc(ar, sizeof(*c->atom));
		if (!c->atom)
			return;
		c->atom[0] = com;
		c->n = 1;
		return;
	}
	for (i = 0; i < s->n; i++)
		if (weight(s->s[i]) < PREFILTER_ATOM_MIN)
			return;
	c->atom = prefilter_arena_alloc(ar, s->n * sizeof(*c->atom));
	if (!c->atom)
		return;
	for (i = 0; i < s->n; i++)
		c->atom[i] = s->s[i];
	c->n = s->n;
}

/* prefilter_to_cnf: all that part i requires, as ANDed ORs */
void prefilter_to_cnf(struct prefilter_arena *ar, const struct prefilter_info *i,
		      struct prefilter_cnf *out)
{
	*out = i->cnf;
	if (i->exact) {
		struct prefilter_clause c;

		prefilter_clause_of(ar, &i->ex, &c);
		prefilter_cnf_add(out, &c);
	}
}

/* prefilter_cnf_or: out = f OR g, as ANDed ORs: (a AND b) OR (c AND d) is
 * (a OR c) AND (a OR d) AND (b OR c) AND (b OR d). Either side requiring
 * nothing makes the whole require nothing. */
void prefilter_cnf_or(struct prefilter_arena *ar, const struct prefilter_cnf *f,
		      const struct prefilter_cnf *g, struct prefilter_cnf *out)
{
	size_t i, j, k;
	struct prefilter_cnf r;

	r.n = 0;
	for (i = 0; i < f->n; i++)
		for (j = 0; j < g->n; j++) {
			const struct prefilter_clause *a = &f->c[i], *b = &g->c[j];
			struct prefilter_clause u;

			if (a->n + b->n > PREFILTER_CLAUSE_MAX)
				continue;
			u.atom = prefilter_arena_alloc(ar, (a->n + b->n) * sizeof(*u.atom));
			if (!u.atom)
				continue;
			memcpy(u.atom, a->atom, a->n * sizeof(*u.atom));
			u.n = a->n;
			for (k = 0; k < b->n; k++)
				if (!clause_has(&u, b->atom[k]))
					u.atom[u.n++] = b->atom[k];
			prefilter_cnf_add(&r, &u);
		}
	*out = r;
}

void prefilter_info_unknown(struct prefilter_info *i)
{
	memset(i, 0, sizeof(*i));
}

void prefilter_info_empty(struct prefilter_info *i)
{
	prefilter_info_unknown(i);
	i->exact = 1;
	prefilter_strset_one(&i->ex, "");
}
