/* prefilter_read.c -- the reader of PCRE2's syntax (prefilter_int.h): what
 * a pattern requires, as ANDed ORs of atoms. Conservative: what it does
 * not understand requires nothing, and a construct it does not take at all
 * makes the pattern always a candidate. */
#include "prefilter_int.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

struct reader {
	const char *p, *end;
	int utf;  /* the pattern holds a non-ASCII byte: PCRE2 reads it UTF-8 and
	           * caseless (match.c), where k and s also match the Kelvin
	           * sign and the long s */
	int fail; /* a construct this reader does not take */
	unsigned depth;
	struct prefilter_arena *ar;
};

static void set_char(struct reader *rd, struct prefilter_info *i, int c)
{
	char *s;

	prefilter_info_unknown(i);
	if (c <= 0 || c >= 0x80 || (char)c == PREFILTER_MARK)
		return;
	c = tolower(c);
	s = prefilter_arena_alloc(rd->ar, 2);
	if (!s)
		return;
	s[0] = (char)c;
	s[1] = '\0';
	i->exact = 1;
	prefilter_strset_one(&i->ex, s);
	/* In a UTF caseless pattern (match.c: one with a non-ASCII byte) k
	 * also matches the Kelvin sign and s the long s: the text may hold
	 * those instead (as bytes: the atoms are matched byte by byte) */
	if (rd->utf && c == 'k')
		prefilter_strset_add(&i->ex, "\xe2\x84\xaa");
	else if (rd->utf && c == 's')
		prefilter_strset_add(&i->ex, "\xc5\xbf");
}

/* --- the reader ------------------------------------------------------------ */

static void read_alt(struct reader *rd, struct prefilter_info *out);

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

/* set_wide: the non-ASCII character at rd->p (moved past it) as a literal.
 * Caseless PCRE2 matches any of the character's case forms; in a text
 * folded as text_normalise folds it (prefilter.h) only one of them can
 * stand, the character's case folding, so that is the string looked for.
 * Where folding gives more than one character (the sharp s, ligatures) or
 * the Turkish dotted and dotless i (whose case PCRE2 and Unicode's folding
 * see differently), the character is unknown. */
static void set_wide(struct reader *rd, struct prefilter_info *i)
{
	utf8proc_int32_t cp, fold[4];
	utf8proc_ssize_t k, n;
	char *s;

	k = utf8proc_iterate((const utf8proc_uint8_t *)rd->p, rd->end - rd->p, &cp);
	if (k <= 0) {
		skip_utf8(rd);
		prefilter_info_unknown(i);
		return;
	}
	rd->p += k;
	n = utf8proc_decompose_char(cp, fold, 4, UTF8PROC_CASEFOLD, NULL);
	/* the dotted capital I folds to two characters; the dotless i to itself */
	if (n != 1 || fold[0] == 0x131) {
		prefilter_info_unknown(i);
		return;
	}
	if (fold[0] < 0x80) {
		set_char(rd, i, (int)fold[0]);
		return;
	}
	prefilter_info_unknown(i);
	s = prefilter_arena_alloc(rd->ar, 5);
	if (!s)
		return;
	s[utf8proc_encode_char(fold[0], (utf8proc_uint8_t *)s)] = '\0';
	i->exact = 1;
	prefilter_strset_one(&i->ex, s);
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

/* control_char: the character \n, \t, \r, \f, \e or \a stand for (by
 * their letter d), or -1 for another letter. */
static int control_char(int d)
{
	switch (d) {
	case 'n':
		return '\n';
	case 't':
		return '\t';
	case 'r':
		return '\r';
	case 'f':
		return '\f';
	case 'e':
		return 0x1b;
	case 'a':
		return 0x07;
	}
	return -1;
}

/* skip_property: past \p or \P's name (rd->p after the letter): {Name} or
 * one letter. -1 when the reader fails (a '{' never closed). */
static int skip_property(struct reader *rd)
{
	if (!at_end(rd) && *rd->p == '{') {
		while (!at_end(rd) && *rd->p != '}')
			rd->p++;
		if (at_end(rd)) {
			rd->fail = 1;
			return -1;
		}
	}
	rd->p++;
	return 0;
}

/* class_escape: \ and what follows, in a class: 1 with the character in
 * *c; 0 for a member not read exactly (\d, \p{..}, a wide character); -1
 * when the reader fails. */
static int class_escape(struct reader *rd, long *c)
{
	int d = (unsigned char)rd->p[1];

	rd->p += 2;
	if (d == 0 || d == 'Q' || d == 'E' || (d >= '1' && d <= '9')) {
		rd->fail = 1;
		return -1;
	}
	if (strchr("dDwWsShHvVNRX", d))
		return 0;
	if (d == 'p' || d == 'P')
		return skip_property(rd) < 0 ? -1 : 0;
	if (d == 'x' || d == 'o' || d == '0') {
		*c = read_code(rd, d);
		return rd->fail ? -1 : 1;
	}
	if (d == 'b' || control_char(d) >= 0) {
		*c = d == 'b' ? '\b' : control_char(d);
		return 1;
	}
	if (d >= 0x80) {
		rd->p--;
		skip_utf8(rd);
		return 0;
	}
	if (isalnum(d)) {
		rd->fail = 1;
		return -1;
	}
	*c = d;
	return 1;
}

/* class_member reads one member of a class (rd->p at it, not at the ']'
 * that closes the class): 1 with the range of plain characters *lo..*hi;
 * 0 for a member not read exactly ([:alpha:], \d, a wide character, a
 * range up to one); -1 when the reader fails. */
static int class_member(struct reader *rd, long *lo, long *hi)
{
	if (*rd->p == '[' && (rd->p[1] == ':' || rd->p[1] == '.' || rd->p[1] == '=')) {
		char close[3] = {rd->p[1], ']', '\0'};
		const char *e = strstr(rd->p + 2, close);

		if (!e || e >= rd->end) {
			rd->fail = 1;
			return -1;
		}
		rd->p = e + 2;
		return 0;
	}
	if (*rd->p == '\\') {
		int r = class_escape(rd, lo);

		if (r <= 0)
			return r;
	} else if ((unsigned char)*rd->p >= 0x80) {
		skip_utf8(rd);
		return 0;
	} else {
		*lo = (unsigned char)*rd->p++;
	}
	*hi = *lo;
	if (!at_end(rd) && *rd->p == '-' && rd->p + 1 < rd->end && rd->p[1] != ']') {
		rd->p++;
		if (*rd->p == '\\' || *rd->p == '[' || (unsigned char)*rd->p >= 0x80) {
			/* a range up to an escape or a wide character: not worth
			 * reading, and nothing to learn from */
			if (*rd->p == '\\') {
				rd->p++;
				if (at_end(rd)) {
					rd->fail = 1;
					return -1;
				}
			}
			if ((unsigned char)*rd->p >= 0x80)
				skip_utf8(rd);
			else
				rd->p++;
			return 0;
		}
		*hi = (unsigned char)*rd->p++;
	}
	return 1;
}

/* read_class: [...]; a handful of plain characters is exact, anything else
 * unknown */
static void read_class(struct reader *rd, struct prefilter_info *out)
{
	int neg = 0, first = 1, unknown = 0;
	char members[8];
	size_t n = 0, i;

	rd->p++;
	if (!at_end(rd) && *rd->p == '^')
		neg = 1, rd->p++;
	for (;;) {
		long lo = -1, hi = -1;
		int r;

		if (at_end(rd)) {
			rd->fail = 1;
			return;
		}
		if (*rd->p == ']' && !first) {
			rd->p++;
			break;
		}
		first = 0;
		r = class_member(rd, &lo, &hi);
		if (r < 0)
			return;
		if (r == 0 || lo <= 0 || hi >= 0x80 || hi < lo || hi - lo >= 4) {
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
	prefilter_info_unknown(out);
	if (neg || unknown || n == 0)
		return;
	out->exact = 1;
	for (i = 0; i < n; i++) {
		char *s = prefilter_arena_alloc(rd->ar, 2);

		if (!s) {
			prefilter_info_unknown(out);
			return;
		}
		s[0] = members[i];
		s[1] = '\0';
		prefilter_strset_add(&out->ex, s);
	}
}

/* read_escape: \ and what follows, outside a class */
static void read_escape(struct reader *rd, struct prefilter_info *out)
{
	static const char mark[2] = {PREFILTER_MARK, '\0'};
	int d = (unsigned char)rd->p[1];
	long v;

	rd->p += 2;
	if (d == 0) {
		rd->fail = 1;
		return;
	}
	switch (d) {
	case 'b':
		prefilter_info_unknown(out);
		out->exact = 1;
		prefilter_strset_one(&out->ex, mark);
		return;
	case 'B':
	case 'A':
	case 'z':
	case 'Z':
	case 'G':
	case 'K':
	case 'E':
		prefilter_info_empty(out);
		return;
	case 'd':
	case 'D':
	case 'w':
	case 'W':
	case 's':
	case 'S':
	case 'h':
	case 'H':
	case 'v':
	case 'V':
	case 'R':
	case 'X':
	case 'C':
		prefilter_info_unknown(out);
		return;
	case 'N':
		if (!at_end(rd) && *rd->p == '{')
			rd->fail = 1; /* a code point by name or number: not read */
		prefilter_info_unknown(out);
		return;
	case 'p':
	case 'P':
		if (skip_property(rd) == 0)
			prefilter_info_unknown(out);
		return;
	case 'c':
		if (at_end(rd)) {
			rd->fail = 1;
			return;
		}
		rd->p++;
		prefilter_info_unknown(out);
		return;
	case 'x':
	case 'o':
	case '0':
		v = read_code(rd, d);
		if (!rd->fail)
			set_char(rd, out, (int)(v > 0 && v < 0x80 ? v : -1));
		return;
	default:
		break;
	}
	if (control_char(d) >= 0) {
		set_char(rd, out, control_char(d));
	} else if (d >= 0x80) {
		rd->p--;
		set_wide(rd, out);
	} else if (isalnum(d)) {
		/* back references (\1, \g, \k: whose numbers and octal escapes
		 * PCRE2 tells apart by counting groups), \Q...\E, and what
		 * PCRE2 would refuse anyway */
		rd->fail = 1;
	} else {
		set_char(rd, out, d);
	}
}

enum group { GROUP, LOOK_POS, LOOK_NEG };

/* group_open reads what follows a group's '(' up to its inside, and says
 * what group it is in *g: 0 to read the inside; 1 for a group that is
 * whole already and matches nothing (a comment, an option setting); -1
 * when the reader fails. */
static int group_open(struct reader *rd, enum group *g)
{
	char c;

	*g = GROUP;
	if (!at_end(rd) && *rd->p == '*') {
		rd->fail = 1; /* verbs and (*pla:...) */
		return -1;
	}
	if (at_end(rd) || *rd->p != '?')
		return 0;
	c = rd->p[1];
	rd->p += 2;
	if (c == ':' || c == '>' || c == '|') {
		*g = GROUP;
	} else if (c == '=') {
		*g = LOOK_POS;
	} else if (c == '!') {
		*g = LOOK_NEG;
	} else if (c == '<' && (*rd->p == '=' || *rd->p == '!')) {
		*g = *rd->p == '=' ? LOOK_POS : LOOK_NEG;
		rd->p++;
	} else if (c == '<' || c == '\'' || (c == 'P' && *rd->p == '<')) {
		char close = c == '\'' ? '\'' : '>';

		if (c == 'P')
			rd->p++;
		while (!at_end(rd) && (isalnum((unsigned char)*rd->p) || *rd->p == '_'))
			rd->p++;
		if (at_end(rd) || *rd->p != close) {
			rd->fail = 1;
			return -1;
		}
		rd->p++;
	} else if (c == '#') {
		while (!at_end(rd) && *rd->p != ')')
			rd->p++;
		if (at_end(rd)) {
			rd->fail = 1;
			return -1;
		}
		rd->p++;
		return 1;
	} else {
		/* option letters: (?i) (?i:...) (?-s); x would make white
		 * space and # mean nothing, which this reader does not
		 * follow */
		rd->p--;
		while (!at_end(rd) && strchr("imnsUJ-^", *rd->p) && *rd->p)
			rd->p++;
		if (at_end(rd) || (*rd->p != ')' && *rd->p != ':')) {
			rd->fail = 1;
			return -1;
		}
		if (*rd->p++ == ')')
			return 1;
	}
	return 0;
}

/* read_group: ( ... ), rd->p at the '(' */
static void read_group(struct reader *rd, struct prefilter_info *out)
{
	enum group g;
	struct prefilter_info inner;
	int r;

	rd->p++;
	r = group_open(rd, &g);
	if (r < 0)
		return;
	if (r > 0) {
		prefilter_info_empty(out);
		return;
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
	prefilter_info_empty(out);
	if (g == LOOK_POS)
		prefilter_to_cnf(rd->ar, &inner, &out->cnf);
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
static void quantify(struct reader *rd, struct prefilter_info *i, long min, long max)
{
	if (min == 0) {
		if (max == 1 && i->exact && prefilter_strset_add(&i->ex, "") == 0) {
			memset(&i->cnf, 0, sizeof(i->cnf));
			return; /* x? is x or nothing */
		}
		prefilter_info_unknown(i);
		return;
	}
	if (i->exact && min == max && min <= 4) {
		struct prefilter_strset r, t;
		long k;

		prefilter_strset_one(&r, "");
		for (k = 0; k < min; k++) {
			if (prefilter_cross(rd->ar, &r, &i->ex, &t) < 0)
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
		struct prefilter_clause c;

		prefilter_clause_of(rd->ar, &i->ex, &c);
		prefilter_cnf_add(&i->cnf, &c);
		i->exact = 0;
	}
}

/* read_item: one atom of a sequence and its quantifier */
static void read_item(struct reader *rd, struct prefilter_info *out)
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
		prefilter_info_unknown(out);
		break;
	case '^':
	case '$':
		rd->p++;
		prefilter_info_empty(out);
		break;
	case '*':
	case '+':
	case '?':
	case '{':
		rd->fail = 1; /* nothing to repeat, or {,m} (see read_quantifier) */
		return;
	default:
		if (c >= 0x80) {
			set_wide(rd, out);
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
static void close_run(struct reader *rd, const struct prefilter_strset *run,
		      struct prefilter_cnf *cnf)
{
	struct prefilter_clause c;

	prefilter_clause_of(rd->ar, run, &c);
	prefilter_cnf_add(cnf, &c);
}

/* read_seq: items up to '|', ')' or the end, run together */
static void read_seq(struct reader *rd, struct prefilter_info *out)
{
	struct prefilter_strset run, t;
	struct prefilter_cnf cnf;
	int closed = 0;

	prefilter_strset_one(&run, "");
	cnf.n = 0;
	while (!at_end(rd) && *rd->p != '|' && *rd->p != ')') {
		struct prefilter_info it;

		read_item(rd, &it);
		if (rd->fail)
			return;
		prefilter_cnf_and(&cnf, &it.cnf);
		if (it.exact && prefilter_cross(rd->ar, &run, &it.ex, &t) == 0) {
			run = t;
		} else {
			close_run(rd, &run, &cnf);
			closed = 1;
			if (it.exact)
				run = it.ex;
			else
				prefilter_strset_one(&run, "");
		}
	}
	prefilter_info_unknown(out);
	if (!closed) {
		out->exact = 1;
		out->ex = run;
	} else {
		close_run(rd, &run, &cnf);
	}
	out->cnf = cnf;
}

/* read_alt: branches separated by '|' */
static void read_alt(struct reader *rd, struct prefilter_info *out)
{
	struct prefilter_info br;
	struct prefilter_strset all;
	struct prefilter_cnf any, mine, t;
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
		prefilter_to_cnf(rd->ar, &br, &mine);
		if (n == 0) {
			any = mine;
		} else {
			prefilter_cnf_or(rd->ar, &any, &mine, &t);
			any = t;
		}
		if (!br.exact)
			exact = 0;
		for (i = 0; exact && i < br.ex.n; i++)
			if (prefilter_strset_add(&all, br.ex.s[i]) < 0)
				exact = 0;
		n++;
		if (at_end(rd) || *rd->p != '|')
			break;
		rd->p++;
	}
	if (n == 1)
		return;
	prefilter_info_unknown(out);
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
void prefilter_extract(const char *src, struct prefilter_arena *ar, struct prefilter_cnf *out)
{
	struct reader rd;
	struct prefilter_info top;

	memset(&rd, 0, sizeof(rd));
	rd.p = src;
	rd.end = src + strlen(src);
	rd.utf = has_non_ascii(src);
	rd.ar = ar;
	out->n = 0;
	read_alt(&rd, &top);
	if (rd.fail || !at_end(&rd) || ar->nomem)
		return; /* an unmatched ')', or what the reader does not take */
	prefilter_to_cnf(rd.ar, &top, out);
}
