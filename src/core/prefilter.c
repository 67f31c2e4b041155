/* prefilter.c -- the atoms of each pattern, one Vectorscan database for all
 * of them, candidates by scan (prefilter.h).
 *
 * Three parts: a reader of PCRE2's syntax that finds what a pattern
 * requires (conservative: what it does not understand requires nothing);
 * the blob, the tables that turn the atoms found in a text into candidate
 * patterns and the literals' database, built in a child process and kept
 * in the cache; and the scan. */
#define _GNU_SOURCE /* dl_iterate_phdr: the program's build ID (blob_key) */
#include "prefilter.h"

#include <ctype.h>
#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <link.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "hs_dl.h"
#include "log.h"
#include "state.h"

/* A word boundary inside an atom: a byte no UTF-8 text holds, and never a
 * literal an atom keeps (the reader takes no non-ASCII literal but the
 * Kelvin sign and the long s, see set_char). */
#define MARK ((char)0xff)

/* Bumped whenever atoms change meaning: it is part of the cache key. */
#define PREFILTER_FORMAT "faqbot-prefilter-2"
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

/* common: the longest string that every string of s holds, when it is
 * worth looking for on its own (PREFILTER_COMMON_MIN), or NULL */
static const char *common(struct reader *rd, const struct strset *s)
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
			r = arena_alloc(rd->ar, len + 1);
			if (r)
				memcpy(r, buf, len + 1);
			return r;
		}
	return NULL;
}

/* clause_of: the OR of the strings of s, or an empty clause (nothing
 * required) when one of them is too weak to look for. Where the strings
 * have a long enough part in common ("want to die", "wanna die", "wana
 * die": " die"), that part alone stands for them: found wherever any of
 * them is, and one literal instead of many (the shipped FAQ's database:
 * 879 -> 779 KB, as many candidates within 3%). */
static void clause_of(struct reader *rd, const struct strset *s, struct clause *c)
{
	size_t i;
	const char *com;

	c->n = 0;
	c->atom = NULL;
	if (s->n > 1 && (com = common(rd, s)) != NULL) {
		c->atom = arena_alloc(rd->ar, sizeof(*c->atom));
		if (!c->atom)
			return;
		c->atom[0] = com;
		c->n = 1;
		return;
	}
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

/* --- what a built prefilter is ---------------------------------------------- */

/* What Vectorscan looks for are literals: the atoms without their word
 * boundaries (Vectorscan's own \b made the shipped FAQ's database 3.4 MB
 * and 3.5 s to compile, against 0.9 MB and 0.25 s). The boundaries are
 * checked where a literal is found, which is cheap: an atom's boundaries
 * are a mask of the places in its literal that need one. Atoms of one
 * literal ("kys", "\bkys\b") share its one expression.
 *
 * A built prefilter is one block of memory, the blob: a head, the tables
 * below, then Vectorscan's serialized database. The cache keeps blobs, and
 * a child process that builds one sends it whole through a pipe, so a bot
 * that finds its blob in the cache reads no pattern and holds none of the
 * building's memory. The tables are used where they lie in the blob; the
 * database is read out of it into Vectorscan's own memory, and the blob
 * shrunk to the tables. */
struct blob_head {
	uint64_t magic, key;
	uint64_t sum;    /* FNV-1a of everything after the head */
	uint64_t db_len; /* bytes of serialized database, at the end */
	uint32_t npat, natom, nclause, nlit, nmember, pad;
};

struct tables {
	uint64_t *atom_mask;  /* natom: bit i, a boundary before literal byte i */
	uint32_t *pat_start;  /* npat + 1: pattern i's clauses are pat_start[i] ..
	                       * pat_start[i + 1] - 1; none: always a candidate */
	uint32_t *clause_pat; /* nclause: the pattern a clause belongs to */
	uint32_t *atom_start; /* natom + 1: atom a is in clauses atom_cl[atom_start[a]
	                       * .. atom_start[a + 1] - 1] */
	uint32_t *atom_cl;    /* nmember */
	uint32_t *lit_start;  /* nlit + 1: literal l stands for atoms lit_atom[...] */
	uint32_t *lit_atom;   /* natom */
	uint8_t *lit_len;     /* nlit */
};

/* layout: where each table lies after a head h in a blob at base (NULL:
 * only the size); returns the offset of the database */
static size_t layout(const struct blob_head *h, char *base, struct tables *t)
{
	size_t o = sizeof(*h);

#define PLACE(field, type, count)                                              \
	do {                                                                   \
		if (base)                                                      \
			t->field = (type *)(void *)(base + o);                 \
		o += ((size_t)(count) * sizeof(type) + 7) & ~(size_t)7;        \
	} while (0)
	PLACE(atom_mask, uint64_t, h->natom);
	PLACE(pat_start, uint32_t, h->npat + 1);
	PLACE(clause_pat, uint32_t, h->nclause);
	PLACE(atom_start, uint32_t, h->natom + 1);
	PLACE(atom_cl, uint32_t, h->nmember);
	PLACE(lit_start, uint32_t, h->nlit + 1);
	PLACE(lit_atom, uint32_t, h->natom);
	PLACE(lit_len, uint8_t, h->nlit);
#undef PLACE
	return o;
}

struct prefilter {
	struct blob_head h;
	struct tables t;
	char *blob; /* the tables live here */
	hs_database_t *db;
	hs_scratch_t *scratch;
	uint64_t *sat[PREFILTER_SLOTS]; /* clauses that have an atom in the text */
	/* clauses of each pattern that have none yet: a candidate at 0 (one
	 * look, where prefilter_may is asked about every pattern) */
	uint16_t *need[PREFILTER_SLOTS], *need0;
	int all[PREFILTER_SLOTS]; /* the scan failed: every pattern */
	/* an atom found once in a scan is done: its literal may be reported
	 * at every place it occurs */
	uint32_t *atom_seen, scan_no;
	size_t db_bytes, always;
	int from_cache;
	double build_ms;
	int warned;
};

static const char *cache_dir, *shipped_dir;

void prefilter_set_cache(const char *dir)
{
	cache_dir = dir;
}

void prefilter_set_shipped(const char *dir)
{
	shipped_dir = dir;
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

#define FNV_START 0xcbf29ce484222325ull

/* --- building -------------------------------------------------------------- */

/* A set of strings being gathered, numbered in order: open addressing. */
struct strtab {
	char **v;
	size_t n, cap;
	size_t *slot, nslot; /* index + 1, 0 empty */
};

static long strtab_intern(struct strtab *t, const char *s)
{
	uint64_t h;
	size_t i;

	if (t->n * 2 >= t->nslot) {
		size_t ns = t->nslot ? t->nslot * 2 : 1024, k;
		size_t *nv = calloc(ns, sizeof(*nv));

		if (!nv)
			return -1;
		for (k = 0; k < t->n; k++) {
			h = fnv(FNV_START, t->v[k], strlen(t->v[k]));
			for (i = h & (ns - 1); nv[i]; i = (i + 1) & (ns - 1))
				;
			nv[i] = k + 1;
		}
		free(t->slot);
		t->slot = nv;
		t->nslot = ns;
	}
	h = fnv(FNV_START, s, strlen(s));
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

static void strtab_release(struct strtab *t)
{
	size_t i;

	for (i = 0; i < t->n; i++)
		free(t->v[i]);
	free(t->v);
	free(t->slot);
}

/* A growable array of 32-bit numbers. */
struct u32s {
	uint32_t *v;
	size_t n, cap;
};

static int u32_push(struct u32s *a, size_t x)
{
	if (x > UINT32_MAX)
		return -1;
	if (a->n == a->cap) {
		size_t nc = a->cap ? a->cap * 2 : 1024;
		uint32_t *nv = realloc(a->v, nc * sizeof(*nv));

		if (!nv)
			return -1;
		a->v = nv;
		a->cap = nc;
	}
	a->v[a->n++] = (uint32_t)x;
	return 0;
}

/* What building gathers before the blob is written. */
struct build {
	struct strtab atoms, lits;
	struct u32s pat_start, cl_start, cl_atom; /* clauses, pattern by pattern */
	struct u32s clause_pat, lit_of;           /* lit_of[a]: atom a's literal */
	uint64_t *mask;
	size_t cap_mask;
};

static void build_release(struct build *b)
{
	strtab_release(&b->atoms);
	strtab_release(&b->lits);
	free(b->pat_start.v);
	free(b->cl_start.v);
	free(b->cl_atom.v);
	free(b->clause_pat.v);
	free(b->lit_of.v);
	free(b->mask);
}

/* gather: every pattern's clauses, their atoms interned, and each atom's
 * literal and boundary mask */
static enum err gather(struct build *b, const char *const *src, size_t n)
{
	size_t i, j, k;

	for (i = 0; i < n; i++) {
		struct arena ar = {NULL, 0};
		struct cnf f;
		int bad = 0;

		if (u32_push(&b->pat_start, b->cl_start.n) < 0)
			return ERR_NOMEM;
		extract(src[i], &ar, &f);
		bad = ar.nomem;
		for (j = 0; j < f.n && !bad; j++) {
			bad |= u32_push(&b->cl_start, b->cl_atom.n) < 0 ||
			       u32_push(&b->clause_pat, i) < 0;
			for (k = 0; k < f.c[j].n && !bad; k++) {
				long id = strtab_intern(&b->atoms, f.c[j].atom[k]);

				bad |= id < 0 || u32_push(&b->cl_atom, (size_t)id) < 0;
			}
		}
		arena_release(&ar);
		if (bad)
			return ERR_NOMEM;
	}
	if (u32_push(&b->pat_start, b->cl_start.n) < 0 ||
	    u32_push(&b->cl_start, b->cl_atom.n) < 0)
		return ERR_NOMEM;
	b->mask = calloc(b->atoms.n + 1, sizeof(*b->mask));
	if (!b->mask)
		return ERR_NOMEM;
	for (i = 0; i < b->atoms.n; i++) {
		char lit[PREFILTER_STRING_MAX + 1];
		const char *p = b->atoms.v[i];
		size_t o = 0;
		long id;

		for (; *p; p++) {
			if (*p == MARK)
				b->mask[i] |= 1ull << o;
			else if (o < PREFILTER_STRING_MAX)
				lit[o++] = *p;
		}
		lit[o] = '\0';
		id = strtab_intern(&b->lits, lit);
		if (id < 0 || u32_push(&b->lit_of, (size_t)id) < 0)
			return ERR_NOMEM;
	}
	return ERR_OK;
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

/* compile: the literals' database, serialized into *bytes (malloc). Each
 * literal is reported at every place it occurs (no HS_FLAG_SINGLEMATCH:
 * the first place may sit inside a word where a boundary is wanted, and
 * the flag costs the database 128 KB); the scan takes each atom once. */
static enum err compile(const struct build *b, char **bytes, size_t *len, char *why,
			size_t whylen)
{
	size_t n = b->lits.n, i;
	const char **ex = calloc(n + 1, sizeof(*ex));
	unsigned *flags = calloc(n + 1, sizeof(*flags));
	unsigned *ids = calloc(n + 1, sizeof(*ids));
	hs_database_t *db = NULL;
	hs_compile_error_t *ce = NULL;
	enum err e = ERR_NOMEM;

	*bytes = NULL;
	*len = 0;
	if (!ex || !flags || !ids)
		goto out;
	for (i = 0; i < n; i++) {
		ex[i] = expr(b->lits.v[i]);
		if (!ex[i])
			goto out;
		flags[i] = HS_FLAG_CASELESS;
		ids[i] = (unsigned)i;
	}
	e = hs_dl_compiler(why, whylen);
	if (e != ERR_OK)
		goto out;
	if (hs_cc.compile_multi(ex, flags, ids, (unsigned)n, HS_MODE_BLOCK, NULL, &db, &ce) !=
	    HS_SUCCESS) {
		snprintf(why, whylen, "Vectorscan refused literal %d: %s", ce ? ce->expression : -1,
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
	for (i = 0; ex && i < n; i++)
		free((void *)ex[i]);
	free(ex);
	free(flags);
	free(ids);
	return e;
}

/* csr: for each of n owners, the items that name it: start[owner] ..
 * start[owner + 1] - 1 in items (of owner[k] for k < m) */
static void csr(uint32_t *start, uint32_t *items, size_t n, const uint32_t *owner_of,
		const uint32_t *item_of, size_t m)
{
	size_t k;

	memset(start, 0, (n + 1) * sizeof(*start));
	for (k = 0; k < m; k++)
		start[owner_of[k] + 1]++;
	for (k = 0; k < n; k++)
		start[k + 1] += start[k];
	for (k = 0; k < m; k++)
		items[start[owner_of[k]]++] = item_of ? item_of[k] : (uint32_t)k;
	for (k = n; k > 0; k--)
		start[k] = start[k - 1];
	start[0] = 0;
}

/* build_blob reads the n patterns, compiles their literals and writes the
 * blob of key into *out (malloc). */
static enum err build_blob(const char *const *src, size_t n, uint64_t key, char **out,
			   size_t *outlen, char *why, size_t whylen)
{
	struct build b;
	struct blob_head h;
	struct tables t;
	char *blob = NULL, *db = NULL;
	size_t dblen = 0, off, c, k;
	uint32_t *cl_owner = NULL;
	enum err e;

	memset(&b, 0, sizeof(b));
	*out = NULL;
	e = gather(&b, src, n);
	if (e == ERR_OK && b.lits.n > 0)
		e = compile(&b, &db, &dblen, why, whylen);
	if (e != ERR_OK)
		goto out;
	e = ERR_NOMEM;
	memset(&h, 0, sizeof(h));
	h.magic = PREFILTER_MAGIC;
	h.key = key;
	h.db_len = dblen;
	h.npat = (uint32_t)n;
	h.natom = (uint32_t)b.atoms.n;
	h.nclause = (uint32_t)b.clause_pat.n;
	h.nlit = (uint32_t)b.lits.n;
	h.nmember = (uint32_t)b.cl_atom.n;
	off = layout(&h, NULL, NULL);
	blob = calloc(1, off + dblen);
	cl_owner = malloc((b.cl_atom.n + 1) * sizeof(*cl_owner));
	if (!blob || !cl_owner)
		goto out;
	layout(&h, blob, &t);
	if (b.atoms.n)
		memcpy(t.atom_mask, b.mask, b.atoms.n * sizeof(*b.mask));
	memcpy(t.pat_start, b.pat_start.v, (n + 1) * sizeof(uint32_t));
	if (b.clause_pat.n)
		memcpy(t.clause_pat, b.clause_pat.v, b.clause_pat.n * sizeof(uint32_t));
	/* atom -> clauses: clause c holds cl_atom[cl_start[c] .. cl_start[c + 1]) */
	for (c = 0; c < b.clause_pat.n; c++)
		for (k = b.cl_start.v[c]; k < b.cl_start.v[c + 1]; k++)
			cl_owner[k] = (uint32_t)c;
	csr(t.atom_start, t.atom_cl, b.atoms.n, b.cl_atom.v, cl_owner, b.cl_atom.n);
	csr(t.lit_start, t.lit_atom, b.lits.n, b.lit_of.v, NULL, b.atoms.n);
	for (k = 0; k < b.lits.n; k++)
		t.lit_len[k] = (uint8_t)strlen(b.lits.v[k]);
	if (dblen)
		memcpy(blob + off, db, dblen);
	memcpy(blob, &h, sizeof(h));
	h.sum = fnv(FNV_START, blob + sizeof(h), off + dblen - sizeof(h));
	memcpy(blob, &h, sizeof(h));
	*out = blob;
	*outlen = off + dblen;
	blob = NULL;
	e = ERR_OK;
out:
	free(blob);
	free(db);
	free(cl_owner);
	build_release(&b);
	return e;
}

/* --- the blob's key, and where it is kept ------------------------------------ */

/* build_id: this program's GNU build ID (the linker's hash of it). A
 * rebuilt faqbot reads patterns with a reader that may have changed, so
 * its blobs are its own. */
static int on_object(struct dl_phdr_info *info, size_t size, void *data)
{
	uint64_t *h = data;
	int i;

	(void)size;
	for (i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		const char *p, *end;

		if (ph->p_type != PT_NOTE)
			continue;
		p = (const char *)(info->dlpi_addr + ph->p_vaddr);
		end = p + ph->p_memsz;
		while (p + sizeof(ElfW(Nhdr)) <= end) {
			const ElfW(Nhdr) *nh = (const ElfW(Nhdr) *)(const void *)p;
			const char *name = p + sizeof(*nh);
			const char *desc = name + ((nh->n_namesz + 3) & ~3u);

			if (desc + nh->n_descsz > end)
				break;
			if (nh->n_type == NT_GNU_BUILD_ID && nh->n_namesz == 4 &&
			    memcmp(name, "GNU", 4) == 0) {
				*h = fnv(*h, desc, nh->n_descsz);
				return 1;
			}
			p = desc + ((nh->n_descsz + 3) & ~3u);
		}
	}
	return 1; /* the first object is the program itself: no further */
}

/* blob_key: what a blob is for: these patterns, read by this build of
 * faqbot, compiled by this Vectorscan for this CPU */
static uint64_t blob_key(const char *const *src, size_t n)
{
	uint64_t h = FNV_START;
	const char *v = hs_rt.version();
	size_t i;

	h = fnv(h, PREFILTER_FORMAT, sizeof(PREFILTER_FORMAT));
	dl_iterate_phdr(on_object, &h);
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
	h = fnv(h, &n, sizeof(n));
	for (i = 0; i < n; i++)
		h = fnv(h, src[i], strlen(src[i]) + 1);
	return h;
}

static void cache_path(char *buf, size_t len, const char *dir, uint64_t key)
{
	snprintf(buf, len, "%s/prefilter-%016llx.blob", dir, (unsigned long long)key);
}

static int read_all(int fd, void *p, size_t n)
{
	char *b = p;

	while (n) {
		ssize_t r = read(fd, b, n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		b += r;
		n -= (size_t)r;
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

/* A blob read back: mapped (a cache file, or what a child sent) so that,
 * once the tables are copied out and the database read, all of it goes
 * back to the system at once; a freed heap block of its size would stay
 * resident (~0.8 MB of the bot's peak). Built here, it is on the heap. */
struct bytes {
	char *p;
	size_t len;
	int mapped;
};

static void bytes_release(struct bytes *b)
{
	if (b->mapped && b->p)
		munmap(b->p, b->len);
	else
		free(b->p);
	memset(b, 0, sizeof(*b));
}

/* read_from: the blob of key as dir holds it, or nothing (none, or not
 * readable: then it is built again) */
static void read_from(const char *dir, uint64_t key, struct bytes *b)
{
	char path[4096];
	struct stat st;
	void *p;
	int fd;

	memset(b, 0, sizeof(*b));
	if (!dir)
		return;
	cache_path(path, sizeof(path), dir, key);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
	    (size_t)st.st_size >= sizeof(struct blob_head) &&
	    (size_t)st.st_size <= PREFILTER_BLOB_MAX) {
		p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
		if (p != MAP_FAILED) {
			b->p = p;
			b->len = (size_t)st.st_size;
			b->mapped = 1;
		}
	}
	close(fd);
}

/* cache_read: from the cache folder, else from what was shipped at
 * install (prefilter_set_shipped) */
static void cache_read(uint64_t key, struct bytes *b)
{
	read_from(cache_dir, key, b);
	if (!b->p)
		read_from(shipped_dir, key, b);
}

/* prune: the oldest blobs in the cache folder, beyond PREFILTER_CACHE_KEEP */
static void prune(void)
{
	for (;;) {
		char oldest[4200] = "", p[4200];
		struct timespec when = {0, 0};
		struct dirent *de;
		size_t n = 0;
		DIR *dh = opendir(cache_dir);

		if (!dh)
			return;
		while ((de = readdir(dh)) != NULL) {
			struct stat st;
			size_t l = strlen(de->d_name);

			if (strncmp(de->d_name, "prefilter-", 10) != 0 || l < 5 ||
			    strcmp(de->d_name + l - 5, ".blob") != 0)
				continue;
			snprintf(p, sizeof(p), "%s/%s", cache_dir, de->d_name);
			if (stat(p, &st) != 0)
				continue;
			n++;
			if (!*oldest || st.st_mtim.tv_sec < when.tv_sec ||
			    (st.st_mtim.tv_sec == when.tv_sec && st.st_mtim.tv_nsec < when.tv_nsec)) {
				when = st.st_mtim;
				memcpy(oldest, p, sizeof(oldest));
			}
		}
		closedir(dh);
		if (n <= PREFILTER_CACHE_KEEP || unlink(oldest) != 0)
			return;
	}
}

/* cache_write: the blob, written beside and renamed over, so a reader sees
 * a whole file or none (and checks it whole anyway). Blobs of other keys
 * go but the newest few: an edited FAQ would otherwise leave one behind at
 * every save, while a bot and a `faqbot ask` of another build (bench,
 * tests) sharing the folder must not throw each other's out at every
 * start. A cache that cannot be written costs a build at the next start,
 * nothing more. */
static void cache_write(uint64_t key, const char *blob, size_t len)
{
	char path[4096], tmp[4200];
	int fd;

	if (!cache_dir || state_make_dirs(cache_dir) != ERR_OK)
		return;
	cache_path(path, sizeof(path), cache_dir, key);
	snprintf(tmp, sizeof(tmp), "%s.%ld.tmp", path, (long)getpid());
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return;
	if (write_all(fd, blob, len) != 0 || close(fd) != 0 || rename(tmp, path) != 0) {
		unlink(tmp);
		return;
	}
	prune();
}

/* build_apart builds the blob in a child process that sends it back
 * through a pipe: the reading of every pattern, the compiler (libhs and
 * the C++ runtime, +2.1 MB resident) and their working memory never enter
 * the serving process, whose peak stays what it needs to serve. -1 when no
 * child could be had (the caller builds here instead). */
static int build_apart(const char *const *src, size_t n, uint64_t key, struct bytes *blob,
		       enum err *e, char *why, size_t whylen)
{
	struct {
		uint64_t len;
		int err;
		char why[256];
	} head;
	int fds[2], status;
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
		size_t bl = 0;

		close(fds[0]);
		memset(&head, 0, sizeof(head));
		head.err = build_blob(src, n, key, &b, &bl, head.why, sizeof(head.why));
		head.len = head.err == ERR_OK ? bl : 0;
		if (write_all(fds[1], &head, sizeof(head)) != 0 ||
		    (head.len && write_all(fds[1], b, bl) != 0))
			_exit(1);
		_exit(0);
	}
	close(fds[1]);
	memset(blob, 0, sizeof(*blob));
	*e = ERR_INVALID;
	snprintf(why, whylen, "the process that compiles the prefilter failed");
	if (read_all(fds[0], &head, sizeof(head)) == 0) {
		if (head.err != ERR_OK) {
			*e = (enum err)head.err;
			snprintf(why, whylen, "%.*s", (int)sizeof(head.why) - 1, head.why);
		} else if (head.len >= sizeof(struct blob_head) && head.len <= PREFILTER_BLOB_MAX) {
			void *p = mmap(NULL, (size_t)head.len, PROT_READ | PROT_WRITE,
				       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

			if (p == MAP_FAILED) {
				*e = ERR_NOMEM;
			} else {
				blob->p = p;
				blob->len = (size_t)head.len;
				blob->mapped = 1;
				if (read_all(fds[0], blob->p, blob->len) == 0)
					*e = ERR_OK;
				else
					bytes_release(blob);
			}
		}
	}
	close(fds[0]);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			break;
	return 0;
}

/* blob_ok: blob is whole, of key, and every number in its tables points
 * where it may (a blob is trusted with the classifier's answers: what is
 * not sound is built again) */
static int blob_ok(const char *blob, size_t len, uint64_t key, size_t npat)
{
	struct blob_head h;
	struct tables t;
	size_t off, i;

	if (len < sizeof(h))
		return 0;
	memcpy(&h, blob, sizeof(h));
	if (h.magic != PREFILTER_MAGIC || h.key != key || h.npat != npat || h.db_len > len)
		return 0;
	off = layout(&h, NULL, NULL);
	if (off + h.db_len != len || h.sum != fnv(FNV_START, blob + sizeof(h), len - sizeof(h)))
		return 0;
	layout(&h, (char *)blob, &t);
	if (t.pat_start[0] != 0 || t.pat_start[h.npat] != h.nclause || t.atom_start[0] != 0 ||
	    t.atom_start[h.natom] != h.nmember || t.lit_start[0] != 0 ||
	    t.lit_start[h.nlit] != h.natom || (h.nlit > 0) != (h.db_len > 0))
		return 0;
	for (i = 0; i < h.npat; i++)
		if (t.pat_start[i] > t.pat_start[i + 1] ||
		    t.pat_start[i + 1] - t.pat_start[i] > PREFILTER_CLAUSES_MAX)
			return 0;
	for (i = 0; i < h.nclause; i++)
		if (t.clause_pat[i] >= h.npat)
			return 0;
	for (i = 0; i < h.natom; i++)
		if (t.atom_start[i] > t.atom_start[i + 1] || t.lit_atom[i] >= h.natom)
			return 0;
	for (i = 0; i < h.nmember; i++)
		if (t.atom_cl[i] >= h.nclause)
			return 0;
	for (i = 0; i < h.nlit; i++)
		if (t.lit_start[i] > t.lit_start[i + 1] || t.lit_len[i] == 0 ||
		    t.lit_len[i] > PREFILTER_STRING_MAX)
			return 0;
	return 1;
}

/* adopt: pf takes the tables of blob (sound: blob_ok), copied out, and
 * its database, read out by Vectorscan; the blob stays the caller's. */
static enum err adopt(struct prefilter *pf, const struct bytes *blob, char *why, size_t whylen)
{
	size_t off, i;

	memcpy(&pf->h, blob->p, sizeof(pf->h));
	off = layout(&pf->h, NULL, NULL);
	pf->blob = malloc(off);
	if (!pf->blob)
		return ERR_NOMEM;
	memcpy(pf->blob, blob->p, off);
	layout(&pf->h, pf->blob, &pf->t);
	if (pf->h.db_len > 0 && hs_rt.deserialize_database(blob->p + off, (size_t)pf->h.db_len,
							   &pf->db) != HS_SUCCESS) {
		pf->db = NULL;
		snprintf(why, whylen, "Vectorscan could not read its database back");
		return ERR_INVALID;
	}
	if (pf->db && (hs_rt.alloc_scratch(pf->db, &pf->scratch) != HS_SUCCESS ||
		       hs_rt.database_size(pf->db, &pf->db_bytes) != HS_SUCCESS)) {
		snprintf(why, whylen, "Vectorscan could not make its scratch space");
		return ERR_NOMEM;
	}
	pf->need0 = calloc(pf->h.npat + 1, sizeof(uint16_t));
	pf->atom_seen = calloc(pf->h.natom + 1, sizeof(uint32_t));
	if (!pf->need0 || !pf->atom_seen)
		return ERR_NOMEM;
	for (i = 0; i < pf->h.npat; i++) {
		pf->need0[i] = (uint16_t)(pf->t.pat_start[i + 1] - pf->t.pat_start[i]);
		pf->always += pf->need0[i] == 0;
	}
	for (i = 0; i < PREFILTER_SLOTS; i++) {
		pf->sat[i] = calloc(pf->h.nclause / 64 + 1, sizeof(uint64_t));
		pf->need[i] = calloc(pf->h.npat + 1, sizeof(uint16_t));
		pf->all[i] = 1;
		if (!pf->sat[i] || !pf->need[i])
			return ERR_NOMEM;
	}
	return ERR_OK;
}

static int env_on(const char *name)
{
	const char *v = getenv(name);

	return v && *v && strcmp(v, "0") != 0;
}

enum err prefilter_new(const char *const *src, size_t n, struct prefilter **out, char *why,
		       size_t whylen)
{
	struct prefilter *pf = NULL;
	struct bytes blob = {NULL, 0, 0};
	double t0 = (double)clock_mono_ms();
	uint64_t key;
	enum err e;

	*out = NULL;
	if (env_on("FAQBOT_NO_PREFILTER")) {
		snprintf(why, whylen, "FAQBOT_NO_PREFILTER is set");
		return ERR_NOTFOUND;
	}
	e = hs_dl_runtime(why, whylen);
	if (e != ERR_OK)
		return e;
	if (n > UINT32_MAX / 2)
		return ERR_LIMIT;
	pf = calloc(1, sizeof(*pf));
	if (!pf)
		return ERR_NOMEM;
	key = blob_key(src, n);
	cache_read(key, &blob);
	if (blob.p && blob_ok(blob.p, blob.len, key, n)) {
		pf->from_cache = 1;
	} else {
		bytes_release(&blob);
		if (build_apart(src, n, key, &blob, &e, why, whylen) < 0)
			e = build_blob(src, n, key, &blob.p, &blob.len, why, whylen);
		if (e == ERR_OK && !blob_ok(blob.p, blob.len, key, n)) {
			snprintf(why, whylen, "the prefilter built is not sound");
			e = ERR_INVALID;
		}
		if (e != ERR_OK)
			goto out;
		cache_write(key, blob.p, blob.len);
	}
	e = adopt(pf, &blob, why, whylen);
	if (e != ERR_OK)
		goto out;
	pf->build_ms = (double)clock_mono_ms() - t0;
	*out = pf;
	pf = NULL;
out:
	bytes_release(&blob);
	prefilter_free(pf);
	if (e != ERR_OK && e != ERR_NOMEM)
		e = ERR_NOTFOUND;
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
	free(pf->blob);
	for (i = 0; i < PREFILTER_SLOTS; i++) {
		free(pf->sat[i]);
		free(pf->need[i]);
	}
	free(pf->need0);
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
	uint16_t *need;
};

/* is_word: a word character as PCRE2 reads \b without UCP (and
 * Vectorscan too): ASCII letters, digits and the underscore */
static int is_word(int c)
{
	return c < 0x80 && (isalnum(c) || c == '_');
}

/* bounds_ok: every boundary of mask holds where the literal starts */
static int bounds_ok(const unsigned char *text, size_t len, size_t start, uint64_t mask)
{
	for (; mask; mask &= mask - 1) {
		size_t pos = start + (size_t)__builtin_ctzll(mask);
		int before = pos > 0 && is_word(text[pos - 1]);
		int after = pos < len && is_word(text[pos]);

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
	const struct tables *t = &pf->t;
	size_t k, j, start = (size_t)to - t->lit_len[id];

	(void)from, (void)flags;
	for (k = t->lit_start[id]; k < t->lit_start[id + 1]; k++) {
		uint32_t a = t->lit_atom[k];

		if (pf->atom_seen[a] == pf->scan_no ||
		    (t->atom_mask[a] && !bounds_ok(sc->text, sc->len, start, t->atom_mask[a])))
			continue;
		pf->atom_seen[a] = pf->scan_no;
		for (j = t->atom_start[a]; j < t->atom_start[a + 1]; j++) {
			uint32_t c = t->atom_cl[j];
			uint64_t bit = 1ull << (c % 64);

			if (!(sc->sat[c / 64] & bit)) {
				sc->sat[c / 64] |= bit;
				sc->need[t->clause_pat[c]]--;
			}
		}
	}
	return 0;
}

void prefilter_scan(struct prefilter *pf, unsigned slot, const char *text, size_t len)
{
	struct scan_ctx sc = {pf, (const unsigned char *)text, len, pf->sat[slot], pf->need[slot]};
	hs_error_t rc;

	memset(pf->sat[slot], 0, (pf->h.nclause / 64 + 1) * sizeof(uint64_t));
	memcpy(pf->need[slot], pf->need0, pf->h.npat * sizeof(uint16_t));
	pf->all[slot] = 0;
	if (!pf->db)
		return; /* no atoms: every pattern is always a candidate */
	if (++pf->scan_no == 0) {
		/* once in 2^32 scans: no atom may look seen by a stale number */
		memset(pf->atom_seen, 0, pf->h.natom * sizeof(uint32_t));
		pf->scan_no = 1;
	}
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

/* version_len: Vectorscan's version without the blank its build date
 * leaves behind */
static int version_len(void)
{
	const char *v = hs_rt.version();
	size_t n = strlen(v);

	while (n > 0 && v[n - 1] == ' ')
		n--;
	return (int)n;
}

void prefilter_figures(const struct prefilter *pf, struct prefilter_figures *f)
{
	memset(f, 0, sizeof(*f));
	f->patterns = pf->h.npat;
	f->always = pf->always;
	f->atoms = pf->h.natom;
	f->db_bytes = pf->db_bytes;
	f->from_cache = pf->from_cache;
	f->build_ms = pf->build_ms;
	f->version = hs_rt.version ? hs_rt.version() : "";
	f->version_len = hs_rt.version ? version_len() : 0;
}

void prefilter_version(char *buf, size_t len)
{
	char why[256];

	if (hs_dl_runtime(why, sizeof(why)) == ERR_OK)
		snprintf(buf, len, "Vectorscan %.*s", version_len(), hs_rt.version());
	else
		snprintf(buf, len, "Vectorscan not loaded: %s", why);
}

/* --- checking without Vectorscan --------------------------------------------- */

/* found: atom a (MARK for \b) occurs in text[0, len), ASCII case aside */
static int found(const char *a, const unsigned char *text, size_t len)
{
	char lit[PREFILTER_STRING_MAX + 1];
	uint64_t mask = 0;
	size_t n = 0, at;

	for (; *a; a++) {
		if (*a == MARK)
			mask |= 1ull << n;
		else
			lit[n++] = *a;
	}
	for (at = 0; at + n <= len; at++) {
		size_t i;

		for (i = 0; i < n && tolower(text[at + i]) == (unsigned char)lit[i]; i++)
			;
		if (i == n && bounds_ok(text, len, at, mask))
			return 1;
	}
	return 0;
}

int prefilter_admits(const char *src, const char *text, size_t len)
{
	struct arena ar = {NULL, 0};
	struct cnf f;
	size_t i, j;
	int ok = 1;

	extract(src, &ar, &f);
	if (ar.nomem) {
		arena_release(&ar);
		return -1;
	}
	for (i = 0; i < f.n && ok; i++) {
		for (j = 0; j < f.c[i].n; j++)
			if (found(f.c[i].atom[j], (const unsigned char *)text, len))
				break;
		ok = j < f.c[i].n;
	}
	arena_release(&ar);
	return ok;
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
