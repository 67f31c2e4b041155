/* prefilter.c -- the atoms of each pattern, one Vectorscan database for all
 * of them, candidates by scan (prefilter.h).
 *
 * Three parts: a reader of PCRE2's syntax that finds what a pattern
 * requires (conservative: what it does not understand requires nothing);
 * the tables that turn the atoms found in a text into candidate patterns;
 * and the database, compiled in a child process and kept in the cache. */
#include "prefilter.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <dirent.h>

#include "hs_dl.h"
#include "log.h"

/* A word boundary inside an atom: a byte no UTF-8 text holds, and never a
 * literal an atom keeps (the reader takes no non-ASCII literal but the
 * Kelvin sign and the long s, see set_char). */
#define MARK ((char)0xff)

/* Bumped whenever atoms change meaning: it is part of the cache key. */
#define PREFILTER_FORMAT "faqbot-prefilter-1"
#define PREFILTER_MAGIC  0x31667270746f6266ull /* "fbotprf1" */

/* --- an arena for one pattern's reading ----------------------------------- */

struct chunk {
	struct chunk *next;
	size_t used, size;
	char mem[];
};

struct arena {
	struct chunk *head;
	int nomem;
};

static void *arena_alloc(struct arena *a, size_t n)
{
	struct chunk *c = a->head;

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

static void arena_release(struct arena *a)
{
	while (a->head) {
		struct chunk *next = a->head->next;

		free(a->head);
		a->head = next;
	}
}

/* --- what a part of a pattern is known to match --------------------------- */

/* exact: every string the part can match is one of ex (MARK for a word
 * boundary); cnf: ORs of atoms that hold of any text the part matches in
 * (from lookaheads, and from parts whose strings were too many to keep). A
 * part with neither is unknown: it may match anything, or nothing. */
struct strset {
	size_t n;
	const char *s[PREFILTER_WIDE_MAX];
};

struct clause {
	size_t n;
	const char **atom;
};

struct cnf {
	size_t n;
	struct clause c[PREFILTER_CLAUSES_MAX];
};

struct info {
	int exact;
	struct strset ex;
	struct cnf cnf;
};

struct reader {
	const char *p, *end;
	int utf;  /* the pattern holds a non-ASCII byte: PCRE2 reads it UTF-8 and
	           * caseless (match.c), where k and s also match the Kelvin
	           * sign and the long s */
	int fail; /* a construct this reader does not take */
	unsigned depth;
	struct arena *ar;
};

static void set_one(struct strset *s, const char *str)
{
	s->n = 1;
	s->s[0] = str;
}

static int set_has(const struct strset *s, const char *str)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		if (strcmp(s->s[i], str) == 0)
			return 1;
	return 0;
}

/* set_add: 0, or -1 when the set is full */
static int set_add(struct strset *s, const char *str)
{
	if (set_has(s, str))
		return 0;
	if (s->n == PREFILTER_WIDE_MAX)
		return -1;
	s->s[s->n++] = str;
	return 0;
}

/* only_marks: s is one string of nothing but word boundaries, or empty */
static int only_marks(const struct strset *s)
{
	const char *p;

	if (s->n != 1)
		return 0;
	for (p = s->s[0]; *p; p++)
		if (*p != MARK)
			return 0;
	return 1;
}

/* cross: every string of a followed by every string of b, into out; -1
 * when there would be too many or too long. Two boundaries in a row are
 * one. Up to PREFILTER_EXACT_MAX strings come of it, but a list of words
 * (up to PREFILTER_WIDE_MAX) may take the boundaries around it: \b(?:k|
 * ket|ketamine)\b is three atoms with their boundaries, where "k" alone
 * would be too weak to look for. */
static int cross(struct reader *rd, const struct strset *a, const struct strset *b,
		 struct strset *out)
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

			if (la && lb && a->s[i][la - 1] == MARK && bs[0] == MARK)
				bs++, lb--;
			if (la + lb > PREFILTER_STRING_MAX)
				return -1;
			s = arena_alloc(rd->ar, la + lb + 1);
			if (!s)
				return -1;
			memcpy(s, a->s[i], la);
			memcpy(s + la, bs, lb + 1);
			if (set_add(out, s) < 0)
				return -1;
		}
	return 0;
}

/* weight: how much finding str says; below PREFILTER_ATOM_MIN it is found
 * in too many texts to be worth a look ("i", "or" inside any word). Its
 * characters count, and a word boundary at either end. */
static size_t weight(const char *str)
{
	size_t n = strlen(str), w = 0, i;

	for (i = 0; i < n; i++)
		w += str[i] != MARK && ((unsigned char)str[i] & 0xC0) != 0x80;
	if (w == 0)
		return 0;
	return w + (str[0] == MARK) + (n > 1 && str[n - 1] == MARK);
}

static int clause_has(const struct clause *c, const char *atom)
{
	size_t i;

	for (i = 0; i < c->n; i++)
		if (strcmp(c->atom[i], atom) == 0)
			return 1;
	return 0;
}

static int clause_same(const struct clause *a, const struct clause *b)
{
	size_t i;

	if (a->n != b->n)
		return 0;
	for (i = 0; i < a->n; i++)
		if (!clause_has(b, a->atom[i]))
			return 0;
	return 1;
}

/* cnf_add ANDs clause c into f. A clause that does not fit is dropped: an
 * AND with fewer terms asks less, so the prefilter only lets more through.
 * When full, the widest clause makes room for a narrower one. */
static void cnf_add(struct cnf *f, const struct clause *c)
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

static void cnf_and(struct cnf *f, const struct cnf *g)
{
	size_t i;

	for (i = 0; i < g->n; i++)
		cnf_add(f, &g->c[i]);
}

/* clause_of: the OR of the strings of s, or an empty clause (nothing
 * required) when one of them is too weak to look for. */
static void clause_of(struct reader *rd, const struct strset *s, struct clause *c)
{
	size_t i;

	c->n = 0;
	c->atom = NULL;
	for (i = 0; i < s->n; i++)
		if (weight(s->s[i]) < PREFILTER_ATOM_MIN)
			return;
	c->atom = arena_alloc(rd->ar, s->n * sizeof(*c->atom));
	if (!c->atom)
		return;
	for (i = 0; i < s->n; i++)
		c->atom[i] = s->s[i];
	c->n = s->n;
}

/* to_cnf: all that part i requires, as ANDed ORs */
static void to_cnf(struct reader *rd, const struct info *i, struct cnf *out)
{
	*out = i->cnf;
	if (i->exact) {
		struct clause c;

		clause_of(rd, &i->ex, &c);
		cnf_add(out, &c);
	}
}

/* cnf_or: out = f OR g, as ANDed ORs: (a AND b) OR (c AND d) is
 * (a OR c) AND (a OR d) AND (b OR c) AND (b OR d). Either side requiring
 * nothing makes the whole require nothing. */
static void cnf_or(struct reader *rd, const struct cnf *f, const struct cnf *g, struct cnf *out)
{
	size_t i, j, k;
	struct cnf r;

	r.n = 0;
	for (i = 0; i < f->n; i++)
		for (j = 0; j < g->n; j++) {
			const struct clause *a = &f->c[i], *b = &g->c[j];
			struct clause u;

			if (a->n + b->n > PREFILTER_CLAUSE_MAX)
				continue;
			u.atom = arena_alloc(rd->ar, (a->n + b->n) * sizeof(*u.atom));
			if (!u.atom)
				continue;
			memcpy(u.atom, a->atom, a->n * sizeof(*u.atom));
			u.n = a->n;
			for (k = 0; k < b->n; k++)
				if (!clause_has(&u, b->atom[k]))
					u.atom[u.n++] = b->atom[k];
			cnf_add(&r, &u);
		}
	*out = r;
}

static void set_unknown(struct info *i)
{
	memset(i, 0, sizeof(*i));
}

static void set_empty(struct info *i)
{
	set_unknown(i);
	i->exact = 1;
	set_one(&i->ex, "");
}

static void set_char(struct reader *rd, struct info *i, int c)
{
	char *s;

	set_unknown(i);
	if (c <= 0 || c >= 0x80 || (char)c == MARK)
		return;
	c = tolower(c);
	s = arena_alloc(rd->ar, 2);
	if (!s)
		return;
	s[0] = (char)c;
	s[1] = '\0';
	i->exact = 1;
	set_one(&i->ex, s);
	/* In a UTF caseless pattern (match.c: one with a non-ASCII byte) k
	 * also matches the Kelvin sign and s the long s: the text may hold
	 * those instead (as bytes: the atoms are matched byte by byte) */
	if (rd->utf && c == 'k')
		set_add(&i->ex, "\xe2\x84\xaa");
	else if (rd->utf && c == 's')
		set_add(&i->ex, "\xc5\xbf");
}

/* --- the reader ------------------------------------------------------------ */

static void read_alt(struct reader *rd, struct info *out);

static int at_end(const struct reader *rd)
{
	return rd->p >= rd->end;
}

/* skip_utf8: past one UTF-8 character starting at rd->p */
static void skip_utf8(struct reader *rd)
{
	rd->p++;
	while (!at_end(rd) && ((unsigned char)*rd->p & 0xC0) == 0x80)
		rd->p++;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* read_code: a character written as \x.., \o{..} or \0.. (rd->p past the
 * letter); -1 for one that is not a single ASCII character */
static long read_code(struct reader *rd, int kind)
{
	long v = 0;
	int n = 0;

	if (kind == 'x' || kind == 'o') {
		int base = kind == 'x' ? 16 : 8;

		if (!at_end(rd) && *rd->p == '{') {
			rd->p++;
			while (!at_end(rd) && *rd->p != '}') {
				int d = hexval((unsigned char)*rd->p);

				if (d < 0 || d >= base || v > 0x10FFFF)
					return rd->fail = 1, -1;
				v = v * base + d;
				rd->p++;
			}
			if (at_end(rd))
				return rd->fail = 1, -1;
			rd->p++;
			return v;
		}
		if (kind == 'o')
			return rd->fail = 1, -1;
		while (n < 2 && !at_end(rd) && hexval((unsigned char)*rd->p) >= 0) {
			v = v * 16 + hexval((unsigned char)*rd->p);
			rd->p++, n++;
		}
		return v;
	}
	/* \0 and up to two more octal digits */
	while (n < 2 && !at_end(rd) && *rd->p >= '0' && *rd->p <= '7') {
		v = v * 8 + (*rd->p - '0');
		rd->p++, n++;
	}
	return v;
}

/* read_class: [...]; a handful of plain characters is exact, anything else
 * unknown */
static void read_class(struct reader *rd, struct info *out)
{
	int neg = 0, first = 1, unknown = 0;
	char members[8];
	size_t n = 0, i;

	rd->p++;
	if (!at_end(rd) && *rd->p == '^')
		neg = 1, rd->p++;
	for (;;) {
		long lo = -1, hi;

		if (at_end(rd)) {
			rd->fail = 1;
			return;
		}
		if (*rd->p == ']' && !first) {
			rd->p++;
			break;
		}
		first = 0;
		if (*rd->p == '[' && (rd->p[1] == ':' || rd->p[1] == '.' || rd->p[1] == '=')) {
			char close[3] = {rd->p[1], ']', '\0'};
			const char *e = strstr(rd->p + 2, close);

			if (!e || e >= rd->end) {
				rd->fail = 1;
				return;
			}
			rd->p = e + 2;
			unknown = 1;
			continue;
		}
		if (*rd->p == '\\') {
			int d = (unsigned char)rd->p[1];

			rd->p += 2;
			if (d == 0 || d == 'Q' || d == 'E' || (d >= '1' && d <= '9')) {
				rd->fail = 1;
				return;
			}
			if (strchr("dDwWsShHvVNRX", d)) {
				unknown = 1;
				continue;
			}
			if (d == 'p' || d == 'P') {
				if (!at_end(rd) && *rd->p == '{') {
					while (!at_end(rd) && *rd->p != '}')
						rd->p++;
					if (at_end(rd)) {
						rd->fail = 1;
						return;
					}
				}
				rd->p++;
				unknown = 1;
				continue;
			}
			if (d == 'x' || d == 'o' || d == '0')
				lo = read_code(rd, d);
			else if (d == 'b')
				lo = '\b';
			else if (d == 'n')
				lo = '\n';
			else if (d == 't')
				lo = '\t';
			else if (d == 'r')
				lo = '\r';
			else if (d == 'f')
				lo = '\f';
			else if (d == 'e')
				lo = 0x1b;
			else if (d == 'a')
				lo = 0x07;
			else if (d >= 0x80) {
				rd->p--;
				skip_utf8(rd);
				unknown = 1;
				continue;
			} else if (isalnum(d)) {
				rd->fail = 1;
				return;
			} else
				lo = d;
			if (rd->fail)
				return;
		} else if ((unsigned char)*rd->p >= 0x80) {
			skip_utf8(rd);
			unknown = 1;
			continue;
		} else {
			lo = (unsigned char)*rd->p++;
		}
		hi = lo;
		if (!at_end(rd) && *rd->p == '-' && rd->p + 1 < rd->end && rd->p[1] != ']') {
			rd->p++;
			if (*rd->p == '\\' || *rd->p == '[' || (unsigned char)*rd->p >= 0x80) {
				/* a range up to an escape or a wide character: not worth
				 * reading, and nothing to learn from */
				if (*rd->p == '\\') {
					rd->p++;
					if (at_end(rd)) {
						rd->fail = 1;
						return;
					}
				}
				if ((unsigned char)*rd->p >= 0x80)
					skip_utf8(rd);
				else
					rd->p++;
				unknown = 1;
				continue;
			}
			hi = (unsigned char)*rd->p++;
		}
		if (lo <= 0 || hi >= 0x80 || hi < lo || hi - lo >= 4) {
			unknown = 1;
			continue;
		}
		for (; lo <= hi; lo++) {
			int c = tolower((int)lo);

			if (rd->utf && strchr("ks", c))
				unknown = 1; /* the Kelvin sign, the long s: see set_char */
			for (i = 0; i < n && members[i] != c; i++)
				;
			if (i == n && n < 4)
				members[n++] = (char)c;
			else if (i == n)
				unknown = 1;
		}
	}
	set_unknown(out);
	if (neg || unknown || n == 0)
		return;
	out->exact = 1;
	for (i = 0; i < n; i++) {
		char *s = arena_alloc(rd->ar, 2);

		if (!s) {
			set_unknown(out);
			return;
		}
		s[0] = members[i];
		s[1] = '\0';
		set_add(&out->ex, s);
	}
}

/* read_escape: \ and what follows, outside a class */
static void read_escape(struct reader *rd, struct info *out)
{
	int d = (unsigned char)rd->p[1];
	long v;

	rd->p += 2;
	if (d == 0) {
		rd->fail = 1;
		return;
	}
	switch (d) {
	case 'b': {
		static const char mark[2] = {MARK, '\0'};

		set_unknown(out);
		out->exact = 1;
		set_one(&out->ex, mark);
		return;
	}
	case 'B': case 'A': case 'z': case 'Z': case 'G': case 'K': case 'E':
		set_empty(out);
		return;
	case 'd': case 'D': case 'w': case 'W': case 's': case 'S': case 'h': case 'H':
	case 'v': case 'V': case 'R': case 'X': case 'C':
		set_unknown(out);
		return;
	case 'N':
		if (!at_end(rd) && *rd->p == '{')
			rd->fail = 1; /* a code point by name or number: not read */
		set_unknown(out);
		return;
	case 'p': case 'P':
		if (!at_end(rd) && *rd->p == '{') {
			while (!at_end(rd) && *rd->p != '}')
				rd->p++;
			if (at_end(rd)) {
				rd->fail = 1;
				return;
			}
		}
		rd->p++;
		set_unknown(out);
		return;
	case 'c':
		if (at_end(rd)) {
			rd->fail = 1;
			return;
		}
		rd->p++;
		set_unknown(out);
		return;
	case 'x': case 'o': case '0':
		v = read_code(rd, d);
		if (rd->fail)
			return;
		set_char(rd, out, (int)(v > 0 && v < 0x80 ? v : -1));
		return;
	case 'n':
		set_char(rd, out, '\n');
		return;
	case 't':
		set_char(rd, out, '\t');
		return;
	case 'r':
		set_char(rd, out, '\r');
		return;
	case 'f':
		set_char(rd, out, '\f');
		return;
	case 'e':
		set_char(rd, out, 0x1b);
		return;
	case 'a':
		set_char(rd, out, 0x07);
		return;
	default:
		break;
	}
	if (d >= 0x80) {
		rd->p--;
		skip_utf8(rd);
		set_unknown(out);
		return;
	}
	if (isalnum(d)) {
		/* back references (\1, \g, \k: whose numbers and octal escapes
		 * PCRE2 tells apart by counting groups), \Q...\E, and what
		 * PCRE2 would refuse anyway */
		rd->fail = 1;
		return;
	}
	set_char(rd, out, d);
}

enum group { GROUP, LOOK_POS, LOOK_NEG };

/* read_group: ( ... ), rd->p at the '(' */
static void read_group(struct reader *rd, struct info *out)
{
	enum group g = GROUP;
	struct info inner;

	rd->p++;
	if (!at_end(rd) && *rd->p == '*') {
		rd->fail = 1; /* verbs and (*pla:...) */
		return;
	}
	if (!at_end(rd) && *rd->p == '?') {
		char c = rd->p[1];

		rd->p += 2;
		if (c == ':' || c == '>' || c == '|') {
			g = GROUP;
		} else if (c == '=') {
			g = LOOK_POS;
		} else if (c == '!') {
			g = LOOK_NEG;
		} else if (c == '<' && (*rd->p == '=' || *rd->p == '!')) {
			g = *rd->p == '=' ? LOOK_POS : LOOK_NEG;
			rd->p++;
		} else if (c == '<' || c == '\'' || (c == 'P' && *rd->p == '<')) {
			char close = c == '\'' ? '\'' : '>';

			if (c == 'P')
				rd->p++;
			while (!at_end(rd) && (isalnum((unsigned char)*rd->p) || *rd->p == '_'))
				rd->p++;
			if (at_end(rd) || *rd->p != close) {
				rd->fail = 1;
				return;
			}
			rd->p++;
		} else if (c == '#') {
			while (!at_end(rd) && *rd->p != ')')
				rd->p++;
			if (at_end(rd)) {
				rd->fail = 1;
				return;
			}
			rd->p++;
			set_empty(out);
			return;
		} else {
			/* option letters: (?i) (?i:...) (?-s); x would make white
			 * space and # mean nothing, which this reader does not
			 * follow */
			rd->p--;
			while (!at_end(rd) && strchr("imnsUJ-^", *rd->p) && *rd->p)
				rd->p++;
			if (at_end(rd) || (*rd->p != ')' && *rd->p != ':')) {
				rd->fail = 1;
				return;
			}
			if (*rd->p++ == ')') {
				set_empty(out);
				return;
			}
		}
	}
	if (++rd->depth > PREFILTER_DEPTH_MAX) {
		rd->fail = 1;
		return;
	}
	read_alt(rd, &inner);
	rd->depth--;
	if (rd->fail)
		return;
	if (at_end(rd) || *rd->p != ')') {
		rd->fail = 1;
		return;
	}
	rd->p++;
	if (g == GROUP) {
		*out = inner;
		return;
	}
	/* an assertion matches no characters; a positive one requires what
	 * it looks for */
	set_empty(out);
	if (g == LOOK_POS)
		to_cnf(rd, &inner, &out->cnf);
}

/* read_quantifier: after an item; 0 when there is none. max < 0: no
 * upper bound. */
static int read_quantifier(struct reader *rd, long *min, long *max)
{
	if (at_end(rd))
		return 0;
	switch (*rd->p) {
	case '?':
		*min = 0, *max = 1;
		break;
	case '*':
		*min = 0, *max = -1;
		break;
	case '+':
		*min = 1, *max = -1;
		break;
	case '{': {
		/* {n}, {n,}, {n,m} only: PCRE2 10.43 reads {,m} as a
		 * quantifier where 10.42 reads it as text, so a pattern that
		 * has one is not read at all */
		const char *q = rd->p + 1;
		char *e;

		if (!isdigit((unsigned char)*q)) {
			rd->fail = 1;
			return 0;
		}
		*min = strtol(q, &e, 10);
		if (*e == '}') {
			*max = *min;
		} else if (*e == ',' && e[1] == '}') {
			*max = -1, e++;
		} else if (*e == ',' && isdigit((unsigned char)e[1])) {
			*max = strtol(e + 1, &e, 10);
			if (*e != '}') {
				rd->fail = 1;
				return 0;
			}
		} else {
			rd->fail = 1;
			return 0;
		}
		rd->p = e;
		break;
	}
	default:
		return 0;
	}
	rd->p++;
	if (!at_end(rd) && (*rd->p == '?' || *rd->p == '+'))
		rd->p++; /* lazy or possessive: the same strings */
	if (!at_end(rd) && strchr("?*+{", *rd->p))
		rd->fail = 1;
	return 1;
}

/* quantify: item i repeated min..max times */
static void quantify(struct reader *rd, struct info *i, long min, long max)
{
	if (min == 0) {
		if (max == 1 && i->exact && set_add(&i->ex, "") == 0) {
			memset(&i->cnf, 0, sizeof(i->cnf));
			return; /* x? is x or nothing */
		}
		set_unknown(i);
		return;
	}
	if (i->exact && min == max && min <= 4) {
		struct strset r, t;
		long k;

		set_one(&r, "");
		for (k = 0; k < min; k++) {
			if (cross(rd, &r, &i->ex, &t) < 0)
				break;
			r = t;
		}
		if (k == min) {
			i->ex = r;
			return;
		}
	}
	/* at least once: what one copy requires, and the strings of a copy
	 * are found, but not what stands next to them */
	if (i->exact) {
		struct clause c;

		clause_of(rd, &i->ex, &c);
		cnf_add(&i->cnf, &c);
		i->exact = 0;
	}
}

/* read_item: one atom of a sequence and its quantifier */
static void read_item(struct reader *rd, struct info *out)
{
	unsigned char c = (unsigned char)*rd->p;
	long min, max;

	switch (c) {
	case '(':
		read_group(rd, out);
		break;
	case '[':
		read_class(rd, out);
		break;
	case '\\':
		read_escape(rd, out);
		break;
	case '.':
		rd->p++;
		set_unknown(out);
		break;
	case '^': case '$':
		rd->p++;
		set_empty(out);
		break;
	case '*': case '+': case '?': case '{':
		rd->fail = 1; /* nothing to repeat, or {,m} (see read_quantifier) */
		return;
	default:
		if (c >= 0x80) {
			skip_utf8(rd);
			set_unknown(out);
		} else {
			rd->p++;
			set_char(rd, out, c);
		}
	}
	if (rd->fail)
		return;
	if (read_quantifier(rd, &min, &max) && !rd->fail)
		quantify(rd, out, min, max);
}

/* close_run: the strings run together so far are found in the text */
static void close_run(struct reader *rd, const struct strset *run, struct cnf *cnf)
{
	struct clause c;

	clause_of(rd, run, &c);
	cnf_add(cnf, &c);
}

/* read_seq: items up to '|', ')' or the end, run together */
static void read_seq(struct reader *rd, struct info *out)
{
	struct strset run, t;
	struct cnf cnf;
	int closed = 0;

	set_one(&run, "");
	cnf.n = 0;
	while (!at_end(rd) && *rd->p != '|' && *rd->p != ')') {
		struct info it;

		read_item(rd, &it);
		if (rd->fail)
			return;
		cnf_and(&cnf, &it.cnf);
		if (it.exact && cross(rd, &run, &it.ex, &t) == 0) {
			run = t;
		} else {
			close_run(rd, &run, &cnf);
			closed = 1;
			if (it.exact)
				run = it.ex;
			else
				set_one(&run, "");
		}
	}
	set_unknown(out);
	if (!closed) {
		out->exact = 1;
		out->ex = run;
	} else {
		close_run(rd, &run, &cnf);
	}
	out->cnf = cnf;
}

/* read_alt: branches separated by '|' */
static void read_alt(struct reader *rd, struct info *out)
{
	struct info br;
	struct strset all;
	struct cnf any, mine, t;
	int exact = 1, n = 0;

	all.n = 0;
	any.n = 0;
	for (;;) {
		size_t i;

		read_seq(rd, &br);
		if (rd->fail)
			return;
		if (n == 0)
			*out = br;
		to_cnf(rd, &br, &mine);
		if (n == 0) {
			any = mine;
		} else {
			cnf_or(rd, &any, &mine, &t);
			any = t;
		}
		if (!br.exact)
			exact = 0;
		for (i = 0; exact && i < br.ex.n; i++)
			if (set_add(&all, br.ex.s[i]) < 0)
				exact = 0;
		n++;
		if (at_end(rd) || *rd->p != '|')
			break;
		rd->p++;
	}
	if (n == 1)
		return;
	set_unknown(out);
	if (exact) {
		/* one of the branches' strings; what their lookaheads required
		 * is let go (they are few, and it is only ever less asked) */
		out->exact = 1;
		out->ex = all;
	} else {
		out->cnf = any;
	}
}

static int has_non_ascii(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s >= 0x80)
			return 1;
	return 0;
}

/* extract: the ANDed ORs src requires, or n == 0 for a pattern that is
 * always to be tried */
static void extract(const char *src, struct arena *ar, struct cnf *out)
{
	struct reader rd;
	struct info top;

	memset(&rd, 0, sizeof(rd));
	rd.p = src;
	rd.end = src + strlen(src);
	rd.utf = has_non_ascii(src);
	rd.ar = ar;
	out->n = 0;
	read_alt(&rd, &top);
	if (rd.fail || !at_end(&rd) || ar->nomem)
		return; /* an unmatched ')', or what the reader does not take */
	to_cnf(&rd, &top, out);
}

/* --- the tables ------------------------------------------------------------ */

/* What Vectorscan looks for are literals: the atoms without their word
 * boundaries (Vectorscan's own \b made the shipped FAQ's database 3.4 MB
 * and 3.5 s to compile, against 0.9 MB and 0.25 s). The boundaries are
 * checked where a literal is found, which is cheap: an atom's boundaries
 * are a mask of the places in its literal that need one. Atoms of one
 * literal ("kys", "\bkys\b") share its one expression. */
struct prefilter {
	size_t npat, natom, nclause, nlit;
	char **atom;                 /* the strings, MARK for \b */
	uint64_t *atom_mask;         /* bit i: a boundary before literal byte i */
	char **lit;                  /* the atoms' literals */
	size_t *lit_len;
	size_t *lit_start, *lit_atom; /* the atoms of literal l (CSR) */
	size_t *pat_start;           /* pattern i's clauses are pat_start[i] ..
	                              * pat_start[i + 1] - 1 (gathered in pattern
	                              * order); none: always a candidate */
	size_t *atom_start, *atom_cl; /* clauses atom a is in, likewise */
	hs_database_t *db;
	hs_scratch_t *scratch;
	size_t *clause_pat;             /* the pattern a clause belongs to */
	uint64_t *sat[PREFILTER_SLOTS]; /* clauses that have an atom in the text */
	/* clauses of each pattern that have none yet: a candidate at 0 (one
	 * look, where prefilter_may is asked about every pattern) */
	unsigned short *need[PREFILTER_SLOTS], *need0;
	int all[PREFILTER_SLOTS];       /* the scan failed: every pattern */
	/* an atom found once in a scan is done: its literal may be reported
	 * at every place it occurs */
	uint32_t *atom_seen, scan_no;
	size_t db_bytes;
	int from_cache;
	double build_ms;
	int warned;
};

static const char *cache_dir;

void prefilter_set_cache(const char *dir)
{
	cache_dir = dir;
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

/* expr: literal a as a Vectorscan expression, every byte that is not a
 * letter or digit written \xHH */
static char *expr(const char *a)
{
	size_t n = strlen(a), i, o = 0;
	char *e = malloc(4 * n + 1);

	if (!e)
		return NULL;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)a[i];

		if (isalnum(c)) {
			e[o++] = (char)c;
		} else {
			snprintf(e + o, 5, "\\x%02x", c);
			o += 4;
		}
	}
	e[o] = '\0';
	return e;
}

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
	const unsigned char *b = p;

	while (n--) {
		h ^= *b++;
		h *= 0x100000001b3ull;
	}
	return h;
}

/* --- building -------------------------------------------------------------- */

/* A table of atoms being gathered: open addressing over their strings. */
struct atoms {
	char **v;
	size_t n, cap;
	size_t *slot, nslot; /* index + 1, 0 empty */
};

static long atoms_intern(struct atoms *t, const char *s)
{
	uint64_t h;
	size_t i;

	if (t->n * 2 >= t->nslot) {
		size_t ns = t->nslot ? t->nslot * 2 : 1024, k;
		size_t *nv = calloc(ns, sizeof(*nv));

		if (!nv)
			return -1;
		for (k = 0; k < t->n; k++) {
			h = fnv(0xcbf29ce484222325ull, t->v[k], strlen(t->v[k]));
			for (i = h & (ns - 1); nv[i]; i = (i + 1) & (ns - 1))
				;
			nv[i] = k + 1;
		}
		free(t->slot);
		t->slot = nv;
		t->nslot = ns;
	}
	h = fnv(0xcbf29ce484222325ull, s, strlen(s));
	for (i = h & (t->nslot - 1); t->slot[i]; i = (i + 1) & (t->nslot - 1))
		if (strcmp(t->v[t->slot[i] - 1], s) == 0)
			return (long)(t->slot[i] - 1);
	if (t->n == t->cap) {
		size_t nc = t->cap ? t->cap * 2 : 256;
		char **nv = realloc(t->v, nc * sizeof(*nv));

		if (!nv)
			return -1;
		t->v = nv;
		t->cap = nc;
	}
	t->v[t->n] = strdup(s);
	if (!t->v[t->n])
		return -1;
	t->slot[i] = t->n + 1;
	return (long)t->n++;
}

/* gather: every pattern's clauses, with atoms interned. cl_atoms holds
 * each clause's atom ids, cl_start where each begins. */
static enum err gather(struct prefilter *pf, const char *const *src, struct atoms *at,
		       size_t **cl_start, size_t **cl_atoms)
{
	size_t ncl = 0, capcl = 0, nca = 0, capca = 0, i, j, k;
	size_t *cs = NULL, *ca = NULL;
	enum err e = ERR_NOMEM;

	pf->pat_start = calloc(pf->npat + 1, sizeof(size_t));
	if (!pf->pat_start)
		return ERR_NOMEM;
	for (i = 0; i < pf->npat; i++) {
		struct arena ar = {NULL, 0};
		struct cnf f;

		pf->pat_start[i] = ncl;
		extract(src[i], &ar, &f);
		if (ar.nomem) {
			arena_release(&ar);
			goto out;
		}
		for (j = 0; j < f.n; j++) {
			if (ncl + 2 > capcl) {
				size_t *n2;

				capcl = capcl ? capcl * 2 : 512;
				n2 = realloc(cs, capcl * sizeof(*cs));
				if (!n2) {
					arena_release(&ar);
					goto out;
				}
				cs = n2;
			}
			cs[ncl] = nca;
			for (k = 0; k < f.c[j].n; k++) {
				long id = atoms_intern(at, f.c[j].atom[k]);

				if (id < 0) {
					arena_release(&ar);
					goto out;
				}
				if (nca == capca) {
					size_t *n2;

					capca = capca ? capca * 2 : 2048;
					n2 = realloc(ca, capca * sizeof(*ca));
					if (!n2) {
						arena_release(&ar);
						goto out;
					}
					ca = n2;
				}
				ca[nca++] = (size_t)id;
			}
			ncl++;
			cs[ncl] = nca;
		}
		arena_release(&ar);
	}
	pf->pat_start[pf->npat] = ncl;
	pf->nclause = ncl;
	if (!cs) {
		cs = calloc(1, sizeof(*cs));
		if (!cs)
			goto out;
	}
	*cl_start = cs;
	*cl_atoms = ca;
	cs = ca = NULL;
	e = ERR_OK;
out:
	free(cs);
	free(ca);
	return e;
}

/* index_atoms: for each atom, the clauses it is in (CSR) */
static enum err index_atoms(struct prefilter *pf, const size_t *cs, const size_t *ca)
{
	size_t c, k, *fill;

	pf->atom_start = calloc(pf->natom + 1, sizeof(size_t));
	pf->atom_cl = malloc((cs[pf->nclause] + 1) * sizeof(size_t));
	fill = calloc(pf->natom + 1, sizeof(size_t));
	if (!pf->atom_start || !pf->atom_cl || !fill) {
		free(fill);
		return ERR_NOMEM;
	}
	for (c = 0; c < pf->nclause; c++)
		for (k = cs[c]; k < cs[c + 1]; k++)
			pf->atom_start[ca[k] + 1]++;
	for (k = 0; k < pf->natom; k++)
		pf->atom_start[k + 1] += pf->atom_start[k];
	for (c = 0; c < pf->nclause; c++)
		for (k = cs[c]; k < cs[c + 1]; k++)
			pf->atom_cl[pf->atom_start[ca[k]] + fill[ca[k]]++] = c;
	free(fill);
	return ERR_OK;
}

/* split_atoms: each atom's literal (interned) and boundary mask, and each
 * literal's atoms */
static enum err split_atoms(struct prefilter *pf)
{
	struct atoms lt = {NULL, 0, 0, NULL, 0};
	size_t *of = NULL, a, *fill = NULL;
	enum err e = ERR_NOMEM;
	char buf[PREFILTER_STRING_MAX + 1];

	pf->atom_mask = calloc(pf->natom + 1, sizeof(*pf->atom_mask));
	of = calloc(pf->natom + 1, sizeof(*of));
	if (!pf->atom_mask || !of)
		goto out;
	for (a = 0; a < pf->natom; a++) {
		const char *p = pf->atom[a];
		size_t o = 0;
		long id;

		for (; *p; p++) {
			if (*p == MARK)
				pf->atom_mask[a] |= 1ull << o;
			else if (o < PREFILTER_STRING_MAX)
				buf[o++] = *p;
		}
		buf[o] = '\0';
		id = atoms_intern(&lt, buf);
		if (id < 0)
			goto out;
		of[a] = (size_t)id;
	}
	pf->nlit = lt.n;
	pf->lit_len = calloc(lt.n + 1, sizeof(size_t));
	pf->lit_start = calloc(lt.n + 1, sizeof(size_t));
	pf->lit_atom = calloc(pf->natom + 1, sizeof(size_t));
	fill = calloc(lt.n + 1, sizeof(size_t));
	if (!pf->lit_len || !pf->lit_start || !pf->lit_atom || !fill)
		goto out;
	for (a = 0; a < pf->natom; a++)
		pf->lit_start[of[a] + 1]++;
	for (a = 0; a < lt.n; a++) {
		pf->lit_start[a + 1] += pf->lit_start[a];
		pf->lit_len[a] = strlen(lt.v[a]);
	}
	for (a = 0; a < pf->natom; a++)
		pf->lit_atom[pf->lit_start[of[a]] + fill[of[a]]++] = a;
	pf->lit = lt.v;
	lt.v = NULL;
	e = ERR_OK;
out:
	for (a = 0; lt.v && a < lt.n; a++)
		free(lt.v[a]);
	free(lt.v);
	free(lt.slot);
	free(of);
	free(fill);
	return e;
}

static uint64_t cache_key(const struct prefilter *pf)
{
	uint64_t h = 0xcbf29ce484222325ull;
	size_t i;
	const char *v = hs_rt.version();

	h = fnv(h, PREFILTER_FORMAT, sizeof(PREFILTER_FORMAT));
	h = fnv(h, v, strlen(v) + 1);
#if defined(__x86_64__) || defined(__i386__)
	{
		/* a database is compiled for this CPU's features: a cache
		 * copied to another machine is not taken for this one's */
		char cpu[4] = {(char)__builtin_cpu_supports("avx2"),
			       (char)__builtin_cpu_supports("avx512f"),
			       (char)__builtin_cpu_supports("avx512bw"),
			       (char)__builtin_cpu_supports("avx512vbmi")};

		h = fnv(h, cpu, sizeof(cpu));
	}
#endif
	for (i = 0; i < pf->natom; i++)
		h = fnv(h, pf->atom[i], strlen(pf->atom[i]) + 1);
	return h;
}

/* The cache file: this header, then the serialized database. */
struct cache_head {
	uint64_t magic, key, len, sum;
};

static void cache_path(char *buf, size_t len, uint64_t key, const char *suffix)
{
	snprintf(buf, len, "%s/prefilter-%016llx.hsdb%s", cache_dir, (unsigned long long)key,
		 suffix);
}

/* cache_read: the serialized database of key, checked whole; NULL when
 * there is none that is sound (anything else: rebuild) */
static char *cache_read(uint64_t key, size_t *len)
{
	char path[4096], *buf = NULL;
	struct cache_head h;
	struct stat st;
	size_t got = 0;
	int fd;

	if (!cache_dir)
		return NULL;
	cache_path(path, sizeof(path), key, "");
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) != 0 || (size_t)st.st_size < sizeof(h) ||
	    (size_t)st.st_size > PREFILTER_DB_MAX + sizeof(h))
		goto bad;
	buf = malloc((size_t)st.st_size);
	if (!buf)
		goto bad;
	while (got < (size_t)st.st_size) {
		ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			goto bad;
		got += (size_t)r;
	}
	memcpy(&h, buf, sizeof(h));
	if (h.magic != PREFILTER_MAGIC || h.key != key || h.len != got - sizeof(h) ||
	    h.sum != fnv(0xcbf29ce484222325ull, buf + sizeof(h), (size_t)h.len))
		goto bad;
	close(fd);
	memmove(buf, buf + sizeof(h), (size_t)h.len);
	*len = (size_t)h.len;
	return buf;
bad:
	close(fd);
	free(buf);
	return NULL;
}

static int make_dirs(const char *dir)
{
	char buf[4096];
	size_t i, n = strlen(dir);

	if (n == 0 || n >= sizeof(buf))
		return -1;
	memcpy(buf, dir, n + 1);
	for (i = 1; i <= n; i++) {
		if (buf[i] != '/' && buf[i] != '\0')
			continue;
		buf[i] = '\0';
		if (mkdir(buf, 0700) != 0 && errno != EEXIST)
			return -1;
		buf[i] = i < n ? '/' : '\0';
	}
	return 0;
}

static int write_all(int fd, const void *p, size_t n)
{
	const char *b = p;

	while (n) {
		ssize_t w = write(fd, b, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		b += w;
		n -= (size_t)w;
	}
	return 0;
}

/* cache_write: the database under key, written beside and renamed over, so
 * a reader sees a whole file or none; the databases of other keys go (an
 * edited FAQ leaves its old one behind otherwise). A cache that cannot be
 * written costs a compile at the next start, nothing more. */
static void cache_write(uint64_t key, const char *bytes, size_t len)
{
	char path[4096], tmp[4200];
	struct cache_head h = {PREFILTER_MAGIC, key, len, 0};
	struct dirent *de;
	DIR *dh;
	int fd;

	if (!cache_dir || make_dirs(cache_dir) != 0)
		return;
	h.sum = fnv(0xcbf29ce484222325ull, bytes, len);
	cache_path(path, sizeof(path), key, "");
	snprintf(tmp, sizeof(tmp), "%s.%ld.tmp", path, (long)getpid());
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return;
	if (write_all(fd, &h, sizeof(h)) != 0 || write_all(fd, bytes, len) != 0 ||
	    close(fd) != 0 || rename(tmp, path) != 0) {
		unlink(tmp);
		return;
	}
	dh = opendir(cache_dir);
	if (!dh)
		return;
	while ((de = readdir(dh)) != NULL) {
		char other[4200];

		if (strncmp(de->d_name, "prefilter-", 10) != 0 ||
		    strcmp(de->d_name, strrchr(path, '/') + 1) == 0)
			continue;
		snprintf(other, sizeof(other), "%s/%s", cache_dir, de->d_name);
		unlink(other);
	}
	closedir(dh);
}

/* compile_here: the atoms' database, serialized into *bytes (malloc) */
static enum err compile_here(const struct prefilter *pf, char **bytes, size_t *len, char *why,
			     size_t whylen)
{
	const char **ex = calloc(pf->nlit ? pf->nlit : 1, sizeof(*ex));
	unsigned *flags = calloc(pf->nlit ? pf->nlit : 1, sizeof(*flags));
	unsigned *ids = calloc(pf->nlit ? pf->nlit : 1, sizeof(*ids));
	hs_database_t *db = NULL;
	hs_compile_error_t *ce = NULL;
	enum err e = ERR_NOMEM;
	size_t i;

	*bytes = NULL;
	if (!ex || !flags || !ids)
		goto out;
	for (i = 0; i < pf->nlit; i++) {
		size_t k;

		ex[i] = expr(pf->lit[i]);
		if (!ex[i])
			goto out;
		/* once is enough for a literal with no boundary to check; one
		 * with boundaries is reported at every place, since the first
		 * may sit inside a word */
		flags[i] = HS_FLAG_CASELESS | HS_FLAG_SINGLEMATCH;
		for (k = pf->lit_start[i]; k < pf->lit_start[i + 1]; k++)
			if (pf->atom_mask[pf->lit_atom[k]])
				flags[i] = HS_FLAG_CASELESS;
		ids[i] = (unsigned)i;
	}
	e = hs_dl_compiler(why, whylen);
	if (e != ERR_OK)
		goto out;

	if (hs_cc.compile_multi(ex, flags, ids, (unsigned)pf->nlit, HS_MODE_BLOCK, NULL, &db,
				&ce) != HS_SUCCESS) {
		snprintf(why, whylen, "Vectorscan refused atom %d (%s): %s",
			 ce ? ce->expression : -1,
			 ce && ce->expression >= 0 ? ex[ce->expression] : "",
			 ce ? ce->message : "?");
		if (ce)
			hs_cc.free_compile_error(ce);
		e = ERR_INVALID;
		goto out;
	}
	if (hs_cc.serialize_database(db, bytes, len) != HS_SUCCESS) {
		snprintf(why, whylen, "Vectorscan could not serialize the database");
		e = ERR_INVALID;
	}
	hs_cc.free_database(db);
out:
	for (i = 0; ex && i < pf->nlit; i++)
		free((void *)ex[i]);
	free(ex);
	free(flags);
	free(ids);
	return e;
}

/* compile_apart compiles in a child process that sends the serialized
 * database back through a pipe: the compiler (libhs and the C++ runtime,
 * ~1.5 MB resident) and its working memory never enter the serving
 * process, whose peak stays what it needs to serve. -1 when no child could
 * be had (the caller compiles here instead). */
static int compile_apart(const struct prefilter *pf, char **bytes, size_t *len, enum err *e,
			 char *why, size_t whylen)
{
	struct {
		uint64_t len;
		int err;
		char why[256];
	} head;
	int fds[2], status;
	size_t got = 0;
	pid_t pid;

	if (pipe(fds) != 0)
		return -1;
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		close(fds[0]);
		close(fds[1]);
		return -1;
	}
	if (pid == 0) {
		char *b = NULL;
		size_t n = 0;

		close(fds[0]);
		memset(&head, 0, sizeof(head));
		head.err = compile_here(pf, &b, &n, head.why, sizeof(head.why));
		head.len = head.err == ERR_OK ? n : 0;
		if (write_all(fds[1], &head, sizeof(head)) != 0 ||
		    (head.len && write_all(fds[1], b, n) != 0))
			_exit(1);
		_exit(0);
	}
	close(fds[1]);
	*bytes = NULL;
	*e = ERR_INVALID;
	snprintf(why, whylen, "the compiling process failed");
	while (got < sizeof(head)) {
		ssize_t r = read(fds[0], (char *)&head + got, sizeof(head) - got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	if (got == sizeof(head) && head.err != ERR_OK) {
		*e = (enum err)head.err;
		snprintf(why, whylen, "%.*s", (int)sizeof(head.why), head.why);
	} else if (got == sizeof(head) && head.len <= PREFILTER_DB_MAX) {
		*bytes = malloc(head.len ? (size_t)head.len : 1);
		got = 0;
		while (*bytes && got < head.len) {
			ssize_t r = read(fds[0], *bytes + got, (size_t)head.len - got);

			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0)
				break;
			got += (size_t)r;
		}
		if (*bytes && got == head.len) {
			*len = got;
			*e = ERR_OK;
		} else {
			*e = *bytes ? ERR_IO : ERR_NOMEM;
			free(*bytes);
			*bytes = NULL;
		}
	}
	close(fds[0]);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			break;
	return 0;
}

static int env_on(const char *name)
{
	const char *v = getenv(name);

	return v && *v && strcmp(v, "0") != 0;
}

/* load_db: the database, from the cache when it holds a sound one for
 * these atoms, else compiled (and then cached) */
static enum err load_db(struct prefilter *pf, char *why, size_t whylen)
{
	char *bytes = NULL;
	size_t len = 0;
	uint64_t key = cache_key(pf);
	enum err e = ERR_OK;

	bytes = cache_read(key, &len);
	if (bytes && hs_rt.deserialize_database(bytes, len, &pf->db) == HS_SUCCESS) {
		pf->from_cache = 1;
	} else {
		free(bytes);
		bytes = NULL;
		pf->db = NULL;
		if (compile_apart(pf, &bytes, &len, &e, why, whylen) < 0)
			e = compile_here(pf, &bytes, &len, why, whylen);
		if (e != ERR_OK)
			return e;
		if (hs_rt.deserialize_database(bytes, len, &pf->db) != HS_SUCCESS) {
			snprintf(why, whylen, "Vectorscan could not read back its database");
			free(bytes);
			return ERR_INVALID;
		}
		cache_write(key, bytes, len);
	}
	free(bytes);
	if (hs_rt.alloc_scratch(pf->db, &pf->scratch) != HS_SUCCESS) {
		snprintf(why, whylen, "Vectorscan could not allocate its scratch space");
		return ERR_NOMEM;
	}
	hs_rt.database_size(pf->db, &pf->db_bytes);
	return ERR_OK;
}

enum err prefilter_new(const char *const *src, size_t n, struct prefilter **out, char *why,
		       size_t whylen)
{
	struct prefilter *pf = NULL;
	struct atoms at = {NULL, 0, 0, NULL, 0};
	size_t *cs = NULL, *ca = NULL, i;
	double t0 = now_ms();
	enum err e;

	*out = NULL;
	if (env_on("FAQBOT_NO_PREFILTER")) {
		snprintf(why, whylen, "turned off (FAQBOT_NO_PREFILTER)");
		return ERR_NOTFOUND;
	}
	e = hs_dl_runtime(why, whylen);
	if (e != ERR_OK)
		return e;
	pf = calloc(1, sizeof(*pf));
	if (!pf)
		return ERR_NOMEM;
	pf->npat = n;
	e = gather(pf, src, &at, &cs, &ca);
	if (e != ERR_OK)
		goto out;
	pf->atom = at.v;
	pf->natom = at.n;
	at.v = NULL;
	e = index_atoms(pf, cs, ca);
	if (e == ERR_OK)
		e = split_atoms(pf);
	if (e != ERR_OK)
		goto out;
	pf->clause_pat = calloc(pf->nclause + 1, sizeof(size_t));
	pf->need0 = calloc(n + 1, sizeof(unsigned short));
	pf->atom_seen = calloc(pf->natom + 1, sizeof(uint32_t));
	if (!pf->clause_pat || !pf->need0 || !pf->atom_seen) {
		e = ERR_NOMEM;
		goto out;
	}
	for (i = 0; i < n; i++) {
		size_t c;

		/* PREFILTER_CLAUSES_MAX bounds a pattern's clauses */
		pf->need0[i] = (unsigned short)(pf->pat_start[i + 1] - pf->pat_start[i]);
		for (c = pf->pat_start[i]; c < pf->pat_start[i + 1]; c++)
			pf->clause_pat[c] = i;
	}
	for (i = 0; i < PREFILTER_SLOTS; i++) {
		pf->sat[i] = calloc(pf->nclause / 64 + 1, sizeof(uint64_t));
		pf->need[i] = calloc(n + 1, sizeof(unsigned short));
		pf->all[i] = 1;
		if (!pf->sat[i] || !pf->need[i]) {
			e = ERR_NOMEM;
			goto out;
		}
	}
	if (pf->natom > 0) {
		e = load_db(pf, why, whylen);
		if (e != ERR_OK) {
			if (e != ERR_NOMEM)
				e = ERR_NOTFOUND;
			goto out;
		}
	}
	pf->build_ms = now_ms() - t0;
	*out = pf;
	pf = NULL;
out:
	free(at.slot);
	for (i = 0; at.v && i < at.n; i++)
		free(at.v[i]);
	free(at.v);
	free(cs);
	free(ca);
	prefilter_free(pf);
	return e;
}

void prefilter_free(struct prefilter *pf)
{
	size_t i;

	if (!pf)
		return;
	if (pf->scratch)
		hs_rt.free_scratch(pf->scratch);
	if (pf->db)
		hs_rt.free_database(pf->db);
	for (i = 0; pf->atom && i < pf->natom; i++)
		free(pf->atom[i]);
	free(pf->atom);
	for (i = 0; pf->lit && i < pf->nlit; i++)
		free(pf->lit[i]);
	free(pf->lit);
	free(pf->lit_len);
	free(pf->lit_start);
	free(pf->lit_atom);
	free(pf->atom_mask);
	free(pf->pat_start);
	free(pf->atom_start);
	free(pf->atom_cl);
	for (i = 0; i < PREFILTER_SLOTS; i++) {
		free(pf->sat[i]);
		free(pf->need[i]);
	}
	free(pf->need0);
	free(pf->clause_pat);
	free(pf->atom_seen);
	free(pf);
}

/* --- scanning -------------------------------------------------------------- */

/* What a scan's callback needs. */
struct scan_ctx {
	struct prefilter *pf;
	const unsigned char *text;
	size_t len;
	uint64_t *sat;
	unsigned short *need;
};

/* is_word: a word character as PCRE2 reads \b without UCP (and
 * Vectorscan too): ASCII letters, digits and the underscore */
static int is_word(int c)
{
	return c < 0x80 && (isalnum(c) || c == '_');
}

/* bounds_ok: every boundary of mask holds where the literal starts */
static int bounds_ok(const struct scan_ctx *sc, size_t start, uint64_t mask)
{
	for (; mask; mask &= mask - 1) {
		size_t pos = start + (size_t)__builtin_ctzll(mask);
		int before = pos > 0 && is_word(sc->text[pos - 1]);
		int after = pos < sc->len && is_word(sc->text[pos]);

		if (before == after)
			return 0;
	}
	return 1;
}

static int on_literal(unsigned int id, unsigned long long from, unsigned long long to,
		      unsigned int flags, void *ctx)
{
	const struct scan_ctx *sc = ctx;
	struct prefilter *pf = sc->pf;
	size_t k, j, start = (size_t)to - pf->lit_len[id];

	(void)from, (void)flags;
	for (k = pf->lit_start[id]; k < pf->lit_start[id + 1]; k++) {
		size_t a = pf->lit_atom[k];

		if (pf->atom_seen[a] == pf->scan_no ||
		    (pf->atom_mask[a] && !bounds_ok(sc, start, pf->atom_mask[a])))
			continue;
		pf->atom_seen[a] = pf->scan_no;
		for (j = pf->atom_start[a]; j < pf->atom_start[a + 1]; j++) {
			size_t c = pf->atom_cl[j];
			uint64_t bit = 1ull << (c % 64);

			if (!(sc->sat[c / 64] & bit)) {
				sc->sat[c / 64] |= bit;
				sc->need[pf->clause_pat[c]]--;
			}
		}
	}
	return 0;
}

void prefilter_scan(struct prefilter *pf, unsigned slot, const char *text, size_t len)
{
	struct scan_ctx sc = {pf, (const unsigned char *)text, len, pf->sat[slot], pf->need[slot]};
	hs_error_t rc;

	memset(pf->sat[slot], 0, (pf->nclause / 64 + 1) * sizeof(uint64_t));
	memcpy(pf->need[slot], pf->need0, pf->npat * sizeof(unsigned short));
	pf->all[slot] = 0;
	if (++pf->scan_no == 0) {
		/* once in 2^32 scans: no atom may look seen by a stale number */
		memset(pf->atom_seen, 0, pf->natom * sizeof(uint32_t));
		pf->scan_no = 1;
	}
	if (!pf->db)
		return; /* no atoms: every pattern is always a candidate */
	rc = len > 0xFFFFFFFFu ? HS_INVALID
			       : hs_rt.scan(pf->db, text, (unsigned)len, 0, pf->scratch, on_literal,
					    &sc);
	if (rc != HS_SUCCESS) {
		pf->all[slot] = 1;
		if (!pf->warned++)
			log_warn("prefilter: Vectorscan failed a scan (%d): every pattern is tried "
				 "with PCRE2",
				 (int)rc);
	}
}

int prefilter_may(const struct prefilter *pf, unsigned slot, size_t i)
{
	return pf->all[slot] || pf->need[slot][i] == 0;
}

void prefilter_figures(const struct prefilter *pf, struct prefilter_figures *f)
{
	size_t i;

	memset(f, 0, sizeof(*f));
	f->patterns = pf->npat;
	for (i = 0; i < pf->npat; i++)
		f->always += pf->pat_start[i] == pf->pat_start[i + 1];
	f->atoms = pf->natom;
	f->db_bytes = pf->db_bytes;
	f->from_cache = pf->from_cache;
	f->build_ms = pf->build_ms;
	f->version = hs_rt.version ? hs_rt.version() : "";
}

/* --- describing ------------------------------------------------------------ */

enum err prefilter_describe(const char *src, char *buf, size_t buflen)
{
	struct arena ar = {NULL, 0};
	struct cnf f;
	size_t i, j, o = 0;

	if (buflen == 0)
		return ERR_OK;
	buf[0] = '\0';
	extract(src, &ar, &f);
	if (ar.nomem) {
		arena_release(&ar);
		return ERR_NOMEM;
	}
	if (f.n == 0)
		snprintf(buf, buflen, "always");
	for (i = 0; i < f.n && o < buflen; i++) {
		o += (size_t)snprintf(buf + o, buflen - o, "%s(", i ? " AND " : "");
		for (j = 0; j < f.c[i].n && o < buflen; j++) {
			const char *a = f.c[i].atom[j];

			o += (size_t)snprintf(buf + o, buflen - o, "%s\"", j ? " | " : "");
			for (; *a && o < buflen; a++)
				o += (size_t)snprintf(buf + o, buflen - o, "%s",
						      *a == MARK ? "\\b" : (char[]){*a, '\0'});
			if (o < buflen)
				o += (size_t)snprintf(buf + o, buflen - o, "\"");
		}
		if (o < buflen)
			o += (size_t)snprintf(buf + o, buflen - o, ")");
	}
	arena_release(&ar);
	return ERR_OK;
}
