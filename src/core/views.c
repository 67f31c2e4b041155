/* views.c -- the folded view of a message (views.h).
 *
 * Three passes over the normalised text: code points (emoji to words,
 * look-alike letters to Latin), then words (symbols read as letters,
 * squeezed runs, dropped g's), then runs of words (spaced letters joined).
 * Each pass writes a new buffer; none grows a word by more than a few
 * bytes, and an emoji becomes at most VIEWS_WORD_MAX bytes, so 4 * len + 64
 * bounds every buffer (views.h). */
#include "views.h"

#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

/* The longest word an emoji becomes, with its spaces. */
#define VIEWS_WORD_MAX 8
/* A chat-log nick is at most this long ("<kez> "). */
#define VIEWS_NICK_MAX 32

/* ICU's confusables: every letter whose skeleton is one Latin letter,
 * sorted by code point. Generated at build time by tools/gen_confusables.c
 * (ICU at run time cost 3-4 MB of memory in every process for this). */
static const struct {
	int32_t cp;
	char letter;
} views_confusables[] = {
#include "confusables.inc"
};

/* latin_of: the one Latin letter cp looks like, or 0. */
static char latin_of(int32_t cp)
{
	size_t lo = 0, hi = sizeof(views_confusables) / sizeof(views_confusables[0]);

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (views_confusables[mid].cp == cp)
			return views_confusables[mid].letter;
		if (views_confusables[mid].cp < cp)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

/* emoji_word: the word an emoji stands for here, or NULL. Only the ones
 * members use for death, a grave, a means or an injury. */
static const char *emoji_word(int32_t cp)
{
	switch (cp) {
	case 0x1F480:
	case 0x2620: /* skull, skull and crossbones */
		return " dead ";
	case 0x26B0: /* coffin */
		return " coffin ";
	case 0x1FAA6:
	case 0x26B1: /* headstone, urn */
		return " grave ";
	case 0x1F52B: /* pistol */
		return " gun ";
	case 0x1F52A:
	case 0x1F5E1: /* knife, dagger */
		return " knife ";
	case 0x1F48A: /* pill */
		return " pills ";
	case 0x1FA78: /* drop of blood */
		return " blood ";
	case 0x1FAA2: /* knot */
		return " rope ";
	default:
		return NULL;
	}
}

static int is_letter(char c)
{
	return c >= 'a' && c <= 'z';
}
static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* skip_log_prefix: how many bytes of a pasted chat-log line's prefix begin
 * s: "[22:14] ", "[22:14:05] ", "22:14 ", then "<nick> " (with a mode sign
 * such as @ or +), or 0. */
static size_t skip_log_prefix(const char *s)
{
	const char *p = s;
	size_t n;

	if (*p == '[') {
		const char *q = p + 1;

		while (is_digit(*q) || *q == ':' || *q == '.')
			q++;
		if (q > p + 1 && *q == ']' && q[1] == ' ')
			p = q + 2;
	} else if (is_digit(*p)) {
		const char *q = p;

		while (is_digit(*q) || *q == ':')
			q++;
		if (q - p >= 4 && memchr(p, ':', (size_t)(q - p)) && *q == ' ' && q[1] == '<')
			p = q + 1;
	}
	if (*p != '<')
		return p == s ? 0 : (size_t)(p - s);
	n = strcspn(p + 1, "> ");
	if (n == 0 || n > VIEWS_NICK_MAX || p[1 + n] != '>' || p[2 + n] != ' ')
		return p == s ? 0 : (size_t)(p - s);
	return (size_t)(p + 3 + n - s);
}

/* pass_codepoints: emoji to words, look-alike letters to Latin. */
static size_t pass_codepoints(const char *in, size_t len, char *out)
{
	const utf8proc_uint8_t *u = (const utf8proc_uint8_t *)in;
	size_t i = 0, o = 0;

	while (i < len) {
		utf8proc_int32_t cp;
		utf8proc_ssize_t k = utf8proc_iterate(u + i, (utf8proc_ssize_t)(len - i), &cp);
		const char *w;

		if (k <= 0) { /* not after text_normalise; copy the byte */
			out[o++] = in[i++];
			continue;
		}
		if (cp < 0x80) {
			out[o++] = (char)cp;
		} else if ((w = emoji_word(cp)) != NULL) {
			memcpy(out + o, w, strlen(w));
			o += strlen(w);
		} else {
			char l = latin_of(cp);

			if (l) {
				out[o++] = l;
			} else {
				memcpy(out + o, in + i, (size_t)k);
				o += (size_t)k;
			}
		}
		i += (size_t)k;
	}
	out[o] = '\0';
	return o;
}

/* leet_letter: the letter a digit or symbol stands for inside a word. */
static char leet_letter(char c)
{
	switch (c) {
	case '0':
		return 'o';
	case '1':
		return 'i';
	case '3':
		return 'e';
	case '4':
		return 'a';
	case '5':
		return 's';
	case '7':
		return 't';
	case '8':
		return 'b';
	case '@':
		return 'a';
	case '$':
		return 's';
	case '!':
		return 'i';
	case '|':
		return 'l';
	default:
		return 0;
	}
}

/* fold_leet reads symbols inside the word w[0..n) as letters, in place:
 * one with letters on both sides ("d1e", "k!ll", "p@in"), or at an end of
 * a word of two letters or more: a digit last ("di3") or '$' first
 * ("$elf"). Numbers and measures stay: "988", "50mg", "b12" keep their
 * digits, since a letter must sit right beside the symbol and a run of two
 * digits is never read. */
static int fold_leet(char *w, size_t n)
{
	size_t i, letters = 0;
	int round, any = 0;

	for (i = 0; i < n; i++)
		letters += is_letter(w[i]);
	if (letters < 2)
		return 0;
	for (round = 0; round < 3; round++) {
		int changed = 0;

		for (i = 0; i < n; i++) {
			char l = leet_letter(w[i]);
			int left = i > 0 && is_letter(w[i - 1]);
			int right = i + 1 < n && is_letter(w[i + 1]);
			/* at an end: "$elf", "di3"; a digit first is a measure
			 * or a time ("8am", "5htp", "3rd"), never read */
			int edge = (i == 0 && right && w[i] == '$') ||
				   (i + 1 == n && left && is_digit(w[i]));

			if (!l || (i > 0 && is_digit(w[i - 1])) ||
			    (i + 1 < n && is_digit(w[i + 1])))
				continue;
			if ((left && right) || edge) {
				w[i] = l;
				changed = any = 1;
			}
		}
		if (!changed)
			break;
	}
	return any;
}

/* fold_leet_all reads every symbol of a word with a letter in it as a
 * letter ("t0", "d13", "3nd"), and a lone "1" as "i": only in a message
 * shown to be written that way, where "1 w4nt t0 d13" means "i want to
 * die" and a measure like "50mg" is unlikely (and would only be misread in
 * the folded view, beside the text as written). */
static void fold_leet_all(char *w, size_t n)
{
	size_t i, letters = 0;

	if (n == 1 && w[0] == '1') {
		w[0] = 'i';
		return;
	}
	for (i = 0; i < n; i++)
		letters += is_letter(w[i]);
	if (letters == 0)
		return;
	for (i = 0; i < n; i++) {
		char l = leet_letter(w[i]);

		if (l && w[i] != '|' && w[i] != '$')
			w[i] = l;
	}
}

/* leet_looking: w[0..n) starts with a letter, holds a digit that stands
 * for one, and is 2 letters or more once read ("n33d", "t0"; "3rd" is
 * not). */
static int leet_looking(const char *w, size_t n)
{
	size_t i, digits = 0;

	if (n < 2 || !is_letter(w[0]))
		return 0;
	for (i = 0; i < n; i++) {
		if (is_digit(w[i]) && !leet_letter(w[i]))
			return 0;
		if (!is_letter(w[i]) && !leet_letter(w[i]))
			return 0;
		digits += is_digit(w[i]);
	}
	return digits > 0;
}

/* pass_leet: fold_leet over every word of in; where it read any, or two
 * words or more look written in digits, the message is written in
 * symbols, and fold_leet_all reads the rest. */
static void pass_leet(char *in, size_t len)
{
	size_t i = 0, looking = 0;
	int seen = 0, round;

	for (round = 0; round < 2; round++) {
		for (i = 0; i < len;) {
			size_t j = i;

			while (j < len && in[j] != ' ')
				j++;
			if (round == 0) {
				looking += leet_looking(in + i, j - i);
				seen |= fold_leet(in + i, j - i);
			} else
				fold_leet_all(in + i, j - i);
			i = j < len ? j + 1 : j;
		}
		if (!seen && looking < 2)
			break;
	}
}

/* A word ending in -in that is not a dropped g. */
static const char *const views_in_words[] = {
	"begin",     "within",   "cousin",   "robin",     "vitamin",   "insulin",  "ketamin",
	"esketamin", "margin",   "origin",   "basin",     "cabin",     "toxin",    "satin",
	"raisin",    "penguin",  "napkin",   "pumpkin",   "dolphin",   "aspirin",  "melatonin",
	"serotonin", "heparin",  "latin",    "admin",     "berlin",    "kevin",    "austin",
	"martin",    "justin",   "dustin",   "erin",      "darwin",    "goblin",   "muffin",
	"puffin",    "coffin",   "violin",   "javelin",   "bulletin",  "chagrin",  "assassin",
	"ritalin",   "skin",     "thin",     "twin",      "spin",      "grin",     "chin",
	"shin",      "akin",     "mandolin", "zeppelin",  "sequin",    "kin",      "gin",
	"tin",       "bin",      "din",      "fin",       "pin",       "sin",      "win",
	"lin",       "yin",      "min",      "heroin",    "protein",   "lanolin",  "gelatin",
	"pectin",    "resin",    "rosin",    "muslin",    "denim",     "pippin",   "bodkin",
	"catkin",    "gherkin",  "griffin",  "tarpaulin", "porcelain", "mandarin", "tamarin",
	"saccharin", "paraffin", "linkedin", NULL,
};

static int in_list(const char *w, size_t n, const char *const *list)
{
	for (; *list; list++)
		if (strlen(*list) == n && !memcmp(*list, w, n))
			return 1;
	return 0;
}

/* dropped_g: 1 when w[0..n) is a verb with its g dropped ("thinkin",
 * "dyin", "goin"), to be written with "ing". */
static int dropped_g(const char *w, size_t n)
{
	char c;

	if (n < 4 || w[n - 2] != 'i' || w[n - 1] != 'n' || in_list(w, n, views_in_words))
		return 0;
	if ((n == 4 && (!memcmp(w, "goin", 4) || !memcmp(w, "doin", 4))))
		return 1;
	c = w[n - 3];
	if (!is_letter(c) || strchr("aeiou", c))
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!is_letter(w[i]))
			return 0;
	return 1;
}

/* pass_words: per word, runs of 3+ to 2, dropped g's (symbols as letters
 * are pass_leet's, before).
 * out has room for len + len / 4 + 2 bytes (a 'g' per word of 4+). */
static size_t pass_words(char *in, size_t len, char *out)
{
	size_t i = 0, o = 0;

	while (i < len) {
		size_t j = i, k, w0;

		if (in[i] == ' ') {
			out[o++] = in[i++];
			continue;
		}
		while (j < len && in[j] != ' ')
			j++;
		w0 = o;
		for (k = i; k < j; k++) {
			if (k >= i + 2 && in[k] == in[k - 1] && in[k] == in[k - 2] &&
			    is_letter(in[k]))
				continue; /* a third of a run */
			out[o++] = in[k];
		}
		/* "nothin'" and "nothin" alike */
		if (o - w0 >= 5 && out[o - 1] == '\'' && dropped_g(out + w0, o - w0 - 1))
			out[o - 1] = 'g';
		else if (dropped_g(out + w0, o - w0))
			out[o++] = 'g';
		i = j;
	}
	out[o] = '\0';
	return o;
}

/* spaced_word: 1 when w[0..n) is letters joined by one separator each
 * ("d.i.e", "s-e-l-f"), three letters or more. */
static int spaced_word(const char *w, size_t n)
{
	size_t i;

	if (n < 5 || !(n & 1))
		return 0;
	for (i = 0; i < n; i++) {
		if (i % 2 == 0 && !is_letter(w[i]))
			return 0;
		if (i % 2 == 1 && !strchr(".-_*", w[i]))
			return 0;
	}
	for (i = 3; i < n; i += 2) /* one separator all through */
		if (w[i] != w[1])
			return 0;
	return 1;
}

/* leet_run: the one-character words from in[i] that are letters or
 * symbols read as letters ("s u 1 c 1 d 3"), counted in *run; 1 when they
 * are three or more, at least half of them letters, and some symbol among
 * them (a run of letters alone is pass_join's own case) */
static int leet_run(const char *in, size_t len, size_t i, size_t *run)
{
	size_t letters = 0, n = 0;

	while (i < len && (is_letter(in[i]) || leet_letter(in[i])) &&
	       (i + 1 == len || in[i + 1] == ' ')) {
		letters += is_letter(in[i]);
		n++;
		i += 2;
	}
	*run = n;
	return n >= 3 && letters < n && 2 * letters >= n;
}

/* pass_join: runs of three or more one-letter words joined ("k i l l"),
 * letters with separators joined ("d.i.e"), and a run of one-character
 * words with symbols for some of its letters joined and read
 * ("s u 1 c 1 d 3" -> "suicide"). */
static size_t pass_join(const char *in, size_t len, char *out)
{
	size_t i = 0, o = 0;

	while (i < len) {
		size_t j = i, run = 0, k;

		int leet = leet_run(in, len, i, &run);

		if (!leet) {
			/* a run of one-letter words from i */
			run = 0;
			while (j < len && is_letter(in[j]) && (j + 1 == len || in[j + 1] == ' ')) {
				run++;
				j += 2;
			}
		}
		if (leet || run >= 3) {
			for (k = 0; k < run; k++)
				out[o + k] = in[i + 2 * k];
			if (leet)
				fold_leet(out + o, run);
			o += run;
			i = i + 2 * run - 1; /* at the space after the run, or len */
			if (i > len)
				i = len;
			continue;
		}
		/* one word, as it is, or with its separators taken out */
		j = i;
		while (j < len && in[j] != ' ')
			j++;
		if (spaced_word(in + i, j - i)) {
			for (k = i; k < j; k += 2)
				out[o++] = in[k];
		} else {
			memcpy(out + o, in + i, j - i);
			o += j - i;
		}
		if (j < len)
			out[o++] = ' ';
		i = j + 1;
	}
	/* a trailing space left by a joined run at the end */
	while (o > 0 && out[o - 1] == ' ')
		o--;
	out[o] = '\0';
	return o;
}

/* squeeze_spaces: one space between words, none at the ends, in place. */
static size_t squeeze_spaces(char *s, size_t n)
{
	size_t i, o = 0;

	for (i = 0; i < n; i++) {
		if (s[i] == ' ' && (o == 0 || s[o - 1] == ' '))
			continue;
		s[o++] = s[i];
	}
	while (o > 0 && s[o - 1] == ' ')
		o--;
	s[o] = '\0';
	return o;
}

enum err views_fold(const char *norm, size_t len, char **out, size_t *out_len, int *changed)
{
	size_t cap = 4 * len + 64, n, skip = skip_log_prefix(norm);
	char *a = malloc(cap), *b = malloc(cap);

	*out = NULL;
	if (!a || !b) {
		free(a);
		free(b);
		return ERR_NOMEM;
	}
	n = pass_codepoints(norm + skip, len - skip, a);
	n = squeeze_spaces(a, n);
	pass_leet(a, n);
	n = pass_words(a, n, b);
	n = pass_join(b, n, a);
	free(b);
	*out = a;
	*out_len = n;
	*changed = n != len || memcmp(a, norm, len) != 0;
	return ERR_OK;
}
