/* text.c -- normalisation and the question rule (see text.h).
 *
 * The passes run in an order that matters: the Matrix fallback is found by
 * lines, so it goes before white space is folded; IRC colour codes carry
 * digits after the control byte, so they go before utf8proc would drop the
 * control byte alone and leave the digits glued to the first word. */
#include "text.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <utf8proc.h>

/* Bytes a U+FFFD takes; an invalid byte may grow to this. */
#define TEXT_REPLACEMENT_LEN 3

/* utf8_seq_len returns the length of the valid UTF-8 sequence at s (at most
 * n bytes), or 0 when the bytes there are not valid UTF-8. */
static size_t utf8_seq_len(const unsigned char *s, size_t n)
{
	utf8proc_int32_t cp;
	utf8proc_ssize_t r = utf8proc_iterate(s, (utf8proc_ssize_t)n, &cp);

	return r > 0 ? (size_t)r : 0;
}

/* sanitise copies s[0..n) into a new string, every invalid byte replaced by
 * U+FFFD and NUL bytes made spaces (a NUL between two words must not join
 * them), so later passes may trust the encoding. */
static char *sanitise(const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	char *out = malloc(n * TEXT_REPLACEMENT_LEN + 1);
	size_t i = 0, o = 0;

	if (!out)
		return NULL;
	while (i < n) {
		size_t k = utf8_seq_len(u + i, n - i);

		if (k == 0) {
			memcpy(out + o, "\xEF\xBF\xBD", TEXT_REPLACEMENT_LEN);
			o += TEXT_REPLACEMENT_LEN;
			i++;
		} else if (u[i] == 0) {
			out[o++] = ' ';
			i++;
		} else if (k == 3 && !memcmp(s + i, "\xE1\xA0\x8E", 3)) {
			/* U+180E: utf8proc drops it as default-ignorable, but it
			 * separated words until Unicode 6.3 and still does where
			 * it is used as a trick */
			out[o++] = ' ';
			i += k;
		} else {
			memcpy(out + o, s + i, k);
			o += k;
			i += k;
		}
	}
	out[o] = '\0';
	return out;
}

/* skip_reply_fallback returns where the member's own words start: after the
 * "> " quote lines of a Matrix rich reply and the blank line that ends them.
 * Quote lines not followed by a blank line are the member's own and kept. */
static const char *skip_reply_fallback(const char *s)
{
	const char *p = s;

	if (*p != '>')
		return s;
	while (*p == '>') {
		const char *nl = strchr(p, '\n');

		if (!nl)
			return s;
		p = nl + 1;
	}
	if (*p == '\r')
		p++;
	if (*p != '\n')
		return s;
	return p + 1;
}

static int is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* skip_digits skips up to max characters accepted by ok. */
static const char *skip_run(const char *p, int max, int (*ok)(char))
{
	while (max-- > 0 && ok(*p))
		p++;
	return p;
}

/* is_space_ctl: the C0 controls that separate: tab, LF, VT, FF, CR. Each
 * becomes a space. (0x1C-0x1F, separators to Python, are IRC's italics,
 * strikethrough and underline: dropped like the other formatting.) */
static int is_space_ctl(unsigned char c)
{
	return c >= 0x09 && c <= 0x0d;
}

/* strip_controls removes IRC formatting (with the colour arguments) and
 * other C0 controls in place; the separating ones become spaces. */
static void strip_controls(char *s)
{
	const char *p = s;
	char *o = s;

	while (*p) {
		unsigned char c = (unsigned char)*p;

		if (c == 0x03) { /* colour: ^C[fg[,bg]], one or two digits each */
			const char *q = skip_run(p + 1, 2, is_digit);

			if (q > p + 1 && *q == ',' && is_digit(q[1]))
				q = skip_run(q + 1, 2, is_digit);
			p = q;
		} else if (c == 0x04) { /* hex colour: ^D[RRGGBB[,RRGGBB]] */
			const char *q = skip_run(p + 1, 6, is_hex);

			if (q == p + 7 && *q == ',' && is_hex(q[1]))
				q = skip_run(q + 1, 6, is_hex);
			p = q;
		} else if (is_space_ctl(c)) {
			*o++ = ' ';
			p++;
		} else if (c < 0x20 || c == 0x7f) {
			p++; /* bold, italics, reset, reverse... and stray controls */
		} else {
			*o++ = *p++;
		}
	}
	*o = '\0';
}

/* fold_char maps the look-alike punctuation members' keyboards produce to
 * the ASCII that patterns are written with. Returns the replacement code
 * point, or cp itself. */
static utf8proc_int32_t fold_char(utf8proc_int32_t cp)
{
	switch (cp) {
	case 0x2018:
	case 0x2019:
	case 0x201A:
	case 0x201B: /* ‘ ’ ‚ ‛ */
	case 0x02BC:
	case 0x2032:
	case 0x00B4:
	case 0x0060: /* ʼ ′ ´ ` */
	case 0xFF07:
		return '\'';
	case 0x201C:
	case 0x201D:
	case 0x201E:
	case 0x201F: /* “ ” „ ‟ */
	case 0x00AB:
	case 0x00BB:
	case 0x2033:
	case 0xFF02: /* « » ″ */
		return '"';
	case 0x2010:
	case 0x2011:
	case 0x2012:
	case 0x2013: /* hyphens, – */
	case 0x2014:
	case 0x2015:
	case 0x2212: /* — ― − */
		return '-';
	/* letters that look like a Latin letter with an accent but are
	 * letters of their own, so that dropping the accents leaves them:
	 * typed without them on a phone, "đến" is "den" and "ołówek"
	 * "olowek" */
	case 0x0111: /* đ */
		return 'd';
	case 0x0142: /* ł */
		return 'l';
	case 0x00F8: /* ø */
		return 'o';
	case 0x0131: /* ı */
		return 'i';
	default:
		return cp;
	}
}

static int is_space_cp(utf8proc_int32_t cp)
{
	utf8proc_category_t cat;

	/* Unicode's White_Space: the ASCII ones, NEL (a control character to
	 * utf8proc's categories) and the Z categories */
	if (cp == ' ' || (cp >= 0x09 && cp <= 0x0d) || cp == 0x85)
		return 1;
	cat = utf8proc_category(cp);
	return cat == UTF8PROC_CATEGORY_ZS || cat == UTF8PROC_CATEGORY_ZL ||
	       cat == UTF8PROC_CATEGORY_ZP;
}

/* fold_punct_space writes s with fold_char applied and white space runs
 * collapsed to one space, trimmed, into out (which has room for strlen(s)+1:
 * every replacement is no longer than what it replaces). */
static size_t fold_punct_space(const char *s, char *out)
{
	const utf8proc_uint8_t *u = (const utf8proc_uint8_t *)s;
	size_t n = strlen(s), i = 0, o = 0;
	int pending_space = 0;

	while (i < n) {
		utf8proc_int32_t cp;
		utf8proc_ssize_t k = utf8proc_iterate(u + i, (utf8proc_ssize_t)(n - i), &cp);

		if (k <= 0) { /* cannot happen after sanitise; skip a byte */
			i++;
			continue;
		}
		i += (size_t)k;
		if (is_space_cp(cp)) {
			pending_space = o > 0;
			continue;
		}
		if (pending_space) {
			out[o++] = ' ';
			pending_space = 0;
		}
		o += (size_t)utf8proc_encode_char(fold_char(cp), (utf8proc_uint8_t *)out + o);
	}
	out[o] = '\0';
	return o;
}

/* message_body: the part of raw that is read (its first TEXT_MESSAGE_MAX
 * bytes, cut at a character boundary), sanitised, without a reply's quoted
 * fallback or control characters: what both text_normalise and text_marks
 * start from. NULL when memory ran out. */
static char *message_body(const char *raw, size_t len)
{
	size_t n = len;
	char *clean;

	if (n > TEXT_MESSAGE_MAX) {
		n = TEXT_MESSAGE_MAX;
		/* back off to the start of a character */
		while (n > 0 && ((unsigned char)raw[n] & 0xC0) == 0x80)
			n--;
	}
	clean = sanitise(raw, n);
	if (!clean)
		return NULL;
	{
		const char *body = skip_reply_fallback(clean);

		memmove(clean, body, strlen(body) + 1);
	}
	strip_controls(clean);
	return clean;
}

/* The decomposition both fold_marks and text_marks read marks from:
 * NFKC-compatible, case folded, default-ignorables gone. */
#define DECOMPOSE_FOLD                                                                \
	(UTF8PROC_NULLTERM | UTF8PROC_STABLE | UTF8PROC_COMPAT | UTF8PROC_DECOMPOSE | \
	 UTF8PROC_CASEFOLD | UTF8PROC_IGNORE)

/* keeps_marks: the scripts whose combining marks are letters, not
 * accents: the vowel signs of Devanagari and the other Brahmic scripts
 * (Bengali to Sinhala), Thai, Lao, Tibetan, Myanmar and Khmer. Stripped
 * there, "jeena" (to live) and "jaana" (to go) read the same. */
static int keeps_marks(utf8proc_int32_t base)
{
	return (base >= 0x0900 && base <= 0x109F) || (base >= 0x1780 && base <= 0x17FF) ||
	       (base >= 0xA8E0 && base <= 0xA8FF);
}

/* fold_marks is NFKC case folding with the default-ignorable characters
 * removed, and every combining mark removed but those that write a
 * vowel in the scripts keeps_marks names (a nukta is still dropped:
 * members write a word with and without it). *out is utf8proc's; the
 * length, or a utf8proc error. */
static utf8proc_ssize_t fold_marks(const char *in, utf8proc_uint8_t **out)
{
	utf8proc_uint8_t *dec = NULL, *kept;
	utf8proc_ssize_t r, i = 0, o = 0;
	utf8proc_int32_t base = 0;

	*out = NULL;
	/* most messages are ASCII, where all of it is lower case: the same
	 * bytes, without the two passes through utf8proc */
	for (i = 0; in[i] && !((unsigned char)in[i] & 0x80); i++)
		;
	if (!in[i]) {
		*out = malloc((size_t)i + 1);
		if (!*out)
			return UTF8PROC_ERROR_NOMEM;
		for (o = 0; o <= i; o++)
			(*out)[o] = (utf8proc_uint8_t)((in[o] >= 'A' && in[o] <= 'Z') ? in[o] + 32
										      : in[o]);
		return i;
	}
	i = 0;
	r = utf8proc_map((const utf8proc_uint8_t *)in, 0, &dec, DECOMPOSE_FOLD);
	if (r < 0)
		return r;
	kept = dec; /* marks only ever leave: kept fits in place */
	while (i < r) {
		utf8proc_int32_t cp;
		utf8proc_ssize_t k = utf8proc_iterate(dec + i, r - i, &cp);
		utf8proc_category_t cat;

		if (k <= 0)
			break;
		cat = utf8proc_category(cp);
		if (cat == UTF8PROC_CATEGORY_MN || cat == UTF8PROC_CATEGORY_MC ||
		    cat == UTF8PROC_CATEGORY_ME) {
			if (!keeps_marks(base) || cp == 0x093C) {
				i += k;
				continue;
			}
		} else {
			base = cp;
		}
		memmove(kept + o, dec + i, (size_t)k);
		o += k;
		i += k;
	}
	kept[o] = '\0';
	r = utf8proc_map(kept, 0, out, UTF8PROC_NULLTERM | UTF8PROC_STABLE | UTF8PROC_COMPOSE);
	free(dec);
	return r;
}

enum err text_normalise(const char *raw, size_t len, char **out, size_t *out_len)
{
	char *clean = NULL, *folded = NULL;
	utf8proc_uint8_t *mapped = NULL;
	utf8proc_ssize_t r;
	enum err e = ERR_NOMEM;

	*out = NULL;
	clean = message_body(raw, len);
	if (!clean)
		goto out;
	r = fold_marks(clean, &mapped);
	if (r < 0) {
		e = r == UTF8PROC_ERROR_NOMEM ? ERR_NOMEM : ERR_PARSE;
		goto out;
	}
	folded = malloc((size_t)r + 1);
	if (!folded)
		goto out;
	*out_len = fold_punct_space((const char *)mapped, folded);
	*out = folded;
	folded = NULL;
	e = ERR_OK;
out:
	free(clean);
	free(mapped);
	free(folded);
	return e;
}

/* marked_cp: 1 when cp, a letter or mark of a word whose last base letter
 * is base, is something text_normalise drops or changes: an accent (but the
 * vowel signs keeps_marks names, a nukta, and the dot that case folding
 * leaves on Turkish İ), or a letter fold_char turns into a Latin one. */
static int marked_cp(utf8proc_int32_t cp, utf8proc_int32_t base, utf8proc_category_t cat)
{
	if (cat == UTF8PROC_CATEGORY_MN || cat == UTF8PROC_CATEGORY_MC ||
	    cat == UTF8PROC_CATEGORY_ME)
		return !(keeps_marks(base) || cp == 0x093C || (cp == 0x0307 && base == 'i'));
	return fold_char(cp) != cp;
}

/* add_marked appends the word w[0..n) (decomposed), composed again and with
 * the dot of a folded İ dropped, to out at *o, a space before it where out
 * has a word already. */
static enum err add_marked(const utf8proc_uint8_t *w, size_t n, char *out, size_t *o)
{
	utf8proc_uint8_t *c = NULL;
	utf8proc_ssize_t r =
		utf8proc_map(w, (utf8proc_ssize_t)n, &c, UTF8PROC_STABLE | UTF8PROC_COMPOSE);
	utf8proc_ssize_t i = 0;
	utf8proc_int32_t prev = 0;
	size_t o0 = *o, at = *o ? *o + 1 : 0; /* a space first, once a word is written */

	if (r < 0)
		return r == UTF8PROC_ERROR_NOMEM ? ERR_NOMEM : ERR_OK;
	while (i < r) {
		utf8proc_int32_t cp;
		utf8proc_ssize_t k = utf8proc_iterate(c + i, r - i, &cp);

		if (k <= 0)
			break;
		if (cp != 0x0307 || prev != 'i') {
			memcpy(out + at, c + i, (size_t)k);
			at += (size_t)k;
		}
		prev = cp;
		i += k;
	}
	if (at > (o0 ? o0 + 1 : 0)) {
		if (o0)
			out[o0] = ' ';
		*o = at;
	}
	free(c);
	return ERR_OK;
}

enum err text_marks(const char *raw, size_t len, char **out)
{
	char *clean = NULL, *words = NULL;
	utf8proc_uint8_t *dec = NULL;
	utf8proc_ssize_t r, i = 0, start = -1;
	utf8proc_int32_t base = 0;
	size_t n = len > TEXT_MESSAGE_MAX ? TEXT_MESSAGE_MAX : len, o = 0, k;
	int marked = 0;
	enum err e = ERR_NOMEM;

	*out = NULL;
	for (k = 0; k < n && !((unsigned char)raw[k] & 0x80); k++)
		;
	if (k == n) /* ASCII: no word has an accent */
		return ERR_OK;
	clean = message_body(raw, len);
	if (!clean)
		return ERR_NOMEM;
	r = utf8proc_map((const utf8proc_uint8_t *)clean, 0, &dec, DECOMPOSE_FOLD);
	if (r < 0) {
		e = r == UTF8PROC_ERROR_NOMEM ? ERR_NOMEM : ERR_PARSE;
		goto out;
	}
	/* composing never lengthens a word, and each word gets one space */
	words = malloc((size_t)r + 1);
	if (!words)
		goto out;
	while (i <= r) {
		utf8proc_int32_t cp = 0;
		utf8proc_ssize_t step = i < r ? utf8proc_iterate(dec + i, r - i, &cp) : 0;
		utf8proc_category_t cat = i < r && step > 0 ? utf8proc_category(cp) : 0;
		int in_word = i < r && step > 0 && cat >= UTF8PROC_CATEGORY_LU &&
			      cat <= UTF8PROC_CATEGORY_ME;

		if (in_word) {
			if (start < 0) {
				start = i;
				marked = 0;
			}
			marked |= marked_cp(cp, base, cat);
			if (cat < UTF8PROC_CATEGORY_MN)
				base = cp;
		} else if (start >= 0) {
			if (marked &&
			    add_marked(dec + start, (size_t)(i - start), words, &o) != ERR_OK)
				goto out;
			start = -1;
		}
		i += step > 0 ? step : 1;
	}
	words[o] = '\0';
	if (o) {
		*out = words;
		words = NULL;
	}
	e = ERR_OK;
out:
	free(clean);
	free(dec);
	free(words);
	return e;
}

/* Words that open a question. Compared against the first word (after a few
 * fillers), so "what", "whats" and "what's" each need a line. */
static const char *const question_openers[] = {
	"what",    "whats",    "what's",    "how",     "hows",     "how's",    "why",
	"whys",    "when",     "where",     "wheres",  "where's",  "who",      "whos",
	"who's",   "which",    "whom",      "is",      "isnt",     "isn't",    "are",
	"arent",   "aren't",   "am",        "can",     "cant",     "can't",    "could",
	"couldnt", "couldn't", "do",        "dont",    "don't",    "does",     "doesnt",
	"doesn't", "did",      "didnt",     "didn't",  "should",   "shouldnt", "shouldn't",
	"would",   "wouldnt",  "wouldn't",  "will",    "wont",     "won't",    "was",
	"were",    "has",      "have",      "any",     "anyone",   "anybody",  "tell",
	"explain", "help",     "wondering", "curious", "question", "shall",    "may",
	"might",   "must",     "whether",   NULL,
};

/* Words skipped before the opener: "so, how does...", "hey, is it...". */
static const char *const question_fillers[] = {
	"so", "and",  "but", "hey",   "hi",     "hello",  "ok",    "okay",   "also",
	"um", "umm",  "btw", "quick", "honest", "random", "sorry", "please", "pls",
	"i",  "just", "was", "im",    "i'm",    "still",  NULL,
};

static int word_in(const char *w, size_t n, const char *const *list)
{
	for (; *list; list++)
		if (strlen(*list) == n && memcmp(*list, w, n) == 0)
			return 1;
	return 0;
}

/* next_word finds the next run of letters and apostrophes in *p. */
static int next_word(const char **p, const char **w, size_t *n)
{
	const char *s = *p;

	while (*s && !((*s >= 'a' && *s <= 'z') || *s == '\''))
		s++;
	if (!*s)
		return 0;
	*w = s;
	while ((*s >= 'a' && *s <= 'z') || *s == '\'')
		s++;
	*n = (size_t)(s - *w);
	*p = s;
	return 1;
}

int text_is_question(const char *norm)
{
	const char *p = norm, *w;
	size_t n;
	int skipped = 0;

	if (strchr(norm, '?'))
		return 1;
	while (next_word(&p, &w, &n)) {
		if (word_in(w, n, question_openers))
			return 1;
		if (!word_in(w, n, question_fillers) || ++skipped > 3)
			return 0;
	}
	return 0;
}

int text_addresses(const char *norm, const char *nick)
{
	size_t n = nick ? strlen(nick) : 0;
	const char *p;

	if (n == 0)
		return 0;
	/* "nick: ...", "nick, ...", "nick ..." */
	if (strncasecmp(norm, nick, n) == 0 &&
	    (norm[n] == ':' || norm[n] == ',' || norm[n] == ' ' || norm[n] == '\0'))
		return 1;
	/* "@nick" anywhere, as a whole word */
	for (p = strchr(norm, '@'); p; p = strchr(p + 1, '@')) {
		char c;

		if (strncasecmp(p + 1, nick, n) != 0)
			continue;
		c = p[1 + n]; /* in bounds: the n bytes before it matched */
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
			return 1;
	}
	/* "hey nick", "hi nick", "thanks nick" at the start */
	for (p = norm; *p && *p != ' '; p++)
		;
	if (*p == ' ' && p - norm <= 6 && strncasecmp(p + 1, nick, n) == 0) {
		char c = p[1 + n];

		return c == '\0' || c == ' ' || c == ',' || c == ':' || c == '!' || c == '?';
	}
	return 0;
}

size_t text_after_address(const char *norm, const char *nick)
{
	size_t n = nick ? strlen(nick) : 0, at = norm[0] == '@';
	const char *p;

	if (n == 0 || strncasecmp(norm + at, nick, n) != 0)
		return 0;
	p = norm + at + n;
	if (*p != ':' && *p != ',')
		return 0;
	p++;
	while (*p == ' ')
		p++;
	return (size_t)(p - norm);
}

/* How far back from a window's hard end a space is looked for. */
#define TEXT_WINDOW_SLACK 64

size_t text_window_end(const char *norm, size_t len, size_t start)
{
	size_t end, k;

	if (start >= len || len - start <= TEXT_CLASSIFY_MAX)
		return len;
	end = start + TEXT_CLASSIFY_MAX;
	for (k = end; k > end - TEXT_WINDOW_SLACK; k--)
		if (norm[k] == ' ')
			return k;
	while (end > start + 1 && ((unsigned char)norm[end] & 0xC0) == 0x80)
		end--;
	return end;
}

size_t text_window_next(const char *norm, size_t len, size_t start, size_t end)
{
	size_t next;

	if (end >= len)
		return len;
	next = end > start + TEXT_WINDOW_OVERLAP ? end - TEXT_WINDOW_OVERLAP : end;
	if (next <= start)
		next = end;
	while (next > start + 1 && ((unsigned char)norm[next] & 0xC0) == 0x80)
		next--;
	return next > start ? next : end;
}

size_t text_word_count(const char *s)
{
	size_t n = 0;
	int in = 0;

	for (; *s; s++) {
		int sp = *s == ' ' || *s == '\n' || *s == '\t' || *s == '\r';

		if (!sp && !in)
			n++;
		in = !sp;
	}
	return n;
}
