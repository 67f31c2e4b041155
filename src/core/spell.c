/* spell.c -- the mended view: unknown words put back to the FAQ's own
 * words one edit away (see spell.h). */
#include "spell.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* A word's slot: 8 bytes, for a vocabulary of ~9,000 words in ~16,000
 * slots (a slot a word, with its own malloc'd copy, cost ~1.5 MB of the
 * bot's peak; this costs ~0.3 MB). The words themselves are in one arena,
 * each a length byte then its letters. */
struct slot {
	uint32_t at;    /* 1 + the word's offset in the arena; 0: empty */
	uint32_t count; /* SPELL_KNOWN and SPELL_TARGET bits, and the count */
};

#define SPELL_KNOWN  0x80000000u /* written in the FAQ's own examples: never mended */
#define SPELL_TARGET 0x40000000u /* a word of risk (spell_add's target): mended towards */
#define SPELL_COUNT  0x3fffffffu

struct spell {
	struct slot *v;
	size_t cap, n; /* cap a power of two, n < cap / 2 */
	char *arena;
	size_t used, room;
	/* the highest count of a target word of each length: a word no
	 * target one edit away could outnumber SPELL_OFTEN times is not
	 * tried */
	unsigned top[SPELL_WORD_MAX + 2];
};

static uint64_t hash(const char *w, size_t n)
{
	uint64_t h = 1469598103934665603ULL;
	size_t i;

	for (i = 0; i < n; i++) {
		h ^= (unsigned char)w[i];
		h *= 1099511628211ULL;
	}
	return h;
}

static int same(const struct spell *sp, const struct slot *s, const char *w, size_t n)
{
	const char *a = sp->arena + s->at - 1;

	return (unsigned char)a[0] == n && !memcmp(a + 1, w, n);
}

/* find: the slot of w[0, n), or the empty slot where it would go */
static struct slot *find(const struct spell *sp, const char *w, size_t n)
{
	size_t i = (size_t)hash(w, n) & (sp->cap - 1);

	while (sp->v[i].at && !same(sp, &sp->v[i], w, n))
		i = (i + 1) & (sp->cap - 1);
	return &sp->v[i];
}

static unsigned count_of(const struct spell *sp, const char *w, size_t n)
{
	return sp->cap ? find(sp, w, n)->count & SPELL_COUNT : 0;
}

struct spell *spell_new(void)
{
	return calloc(1, sizeof(struct spell));
}

void spell_free(struct spell *sp)
{
	if (!sp)
		return;
	free(sp->v);
	free(sp->arena);
	free(sp);
}

size_t spell_words(const struct spell *sp)
{
	return sp->n;
}

static enum err grow(struct spell *sp)
{
	size_t cap = sp->cap ? sp->cap * 2 : 1024, i;
	struct slot *old = sp->v, *v = calloc(cap, sizeof(*v));

	if (!v)
		return ERR_NOMEM;
	sp->v = v;
	sp->cap = cap;
	for (i = 0; i < cap / 2 && old; i++)
		if (old[i].at) {
			const char *a = sp->arena + old[i].at - 1;

			*find(sp, a + 1, (unsigned char)a[0]) = old[i];
		}
	free(old);
	return ERR_OK;
}

static enum err add_word(struct spell *sp, const char *w, size_t n, int known, int target)
{
	struct slot *s;
	unsigned c;

	if ((sp->n + 1) * 2 >= sp->cap && grow(sp) != ERR_OK)
		return ERR_NOMEM;
	s = find(sp, w, n);
	if (!s->at) {
		if (sp->used + n + 1 > sp->room) {
			size_t room = sp->room ? sp->room * 2 : 16384;
			char *a = room <= UINT32_MAX ? realloc(sp->arena, room) : NULL;

			if (!a)
				return ERR_NOMEM; /* the old arena stays, whole */
			sp->arena = a;
			sp->room = room;
		}
		sp->arena[sp->used] = (char)n; /* n <= SPELL_WORD_MAX */
		memcpy(sp->arena + sp->used + 1, w, n);
		s->at = (uint32_t)sp->used + 1;
		sp->used += n + 1;
		sp->n++;
	}
	if ((s->count & SPELL_COUNT) < SPELL_COUNT)
		s->count++;
	s->count |= (known ? SPELL_KNOWN : 0) | (target ? SPELL_TARGET : 0);
	c = s->count & SPELL_COUNT;
	if ((s->count & SPELL_TARGET) && c > sp->top[n])
		sp->top[n] = c;
	return ERR_OK;
}

static int is_letter(char c)
{
	return c >= 'a' && c <= 'z';
}

/* word_at: the length of the word at text[i] (letters and apostrophes,
 * starting with a letter), 0 when none starts there */
static size_t word_at(const char *text, size_t len, size_t i)
{
	size_t j = i;

	if (i > 0 && (is_letter(text[i - 1]) || text[i - 1] == '\'' ||
		      (text[i - 1] >= '0' && text[i - 1] <= '9')))
		return 0;
	while (j < len && (is_letter(text[j]) || text[j] == '\''))
		j++;
	if (j < len && ((unsigned char)text[j] >= 0x80 || (text[j] >= '0' && text[j] <= '9')))
		return 0; /* part of a word of another script, or of a number */
	return j > i && is_letter(text[i]) ? j - i : 0;
}

/* squeeze: w without apostrophes ("can't" is counted as "cant", which the
 * patterns read too), into buf; its length */
static size_t squeeze(const char *w, size_t n, char *buf)
{
	size_t i, o = 0;

	for (i = 0; i < n; i++)
		if (w[i] != '\'')
			buf[o++] = w[i];
	return o;
}

static enum err add_text(struct spell *sp, const char *text, size_t len, int known, int target)
{
	size_t i = 0;

	while (i < len) {
		size_t n = word_at(text, len, i);
		char buf[SPELL_WORD_MAX + 1];

		if (n == 0) {
			i++;
			continue;
		}
		if (n <= SPELL_WORD_MAX &&
		    add_word(sp, buf, squeeze(text + i, n, buf), known, target) != ERR_OK)
			return ERR_NOMEM;
		i += n;
	}
	return ERR_OK;
}

enum err spell_add(struct spell *sp, const char *text, size_t len, int target)
{
	return add_text(sp, text, len, 1, target);
}

enum err spell_count(struct spell *sp, const char *text, size_t len)
{
	/* a line at a time, lower-cased in a buffer of its own: a learn/ file
	 * is a megabyte, and a copy of it would be the process's peak */
	char stack[4096], *low;
	size_t i = 0;

	while (i < len) {
		const char *nl = memchr(text + i, '\n', len - i);
		size_t n = (nl ? (size_t)(nl - text) : len) - i, j;
		enum err e;

		low = n < sizeof(stack) ? stack : malloc(n);
		if (!low)
			return ERR_NOMEM;
		for (j = 0; j < n; j++) {
			char c = text[i + j];

			low[j] = c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
		}
		e = add_text(sp, low, n, 0, 0);
		if (low != stack)
			free(low);
		if (e != ERR_OK)
			return e;
		i += n + 1;
	}
	return ERR_OK;
}

/* consider: cand[0, n) as the mend, when it is a target used more than
 * the best so far */
static void consider(const struct spell *sp, const char *cand, size_t n, char *best, size_t *best_n,
		     unsigned *best_count)
{
	const struct slot *w = find(sp, cand, n);

	if (w->at && (w->count & SPELL_TARGET) && (w->count & SPELL_COUNT) > *best_count) {
		memcpy(best, cand, n);
		*best_n = n;
		*best_count = w->count & SPELL_COUNT;
	}
}

/* mend_word: the most used known word one edit from w[0, n) into best;
 * its length, or 0 for none. Two-letter words are only lengthened ("hw",
 * "th", "nt"), and three-letter ones not changed letter for letter: a
 * short word one letter from another is as often a word of its own
 * ("dye", "cut" and "cnt") as a slip. */
static size_t mend_word(const struct spell *sp, const char *w, size_t n, char *best)
{
	char cand[SPELL_WORD_MAX + 2];
	size_t i, best_n = 0;
	unsigned best_count = 0;
	char c;

	if (n >= 4)
		for (i = 0; i < n; i++) { /* a letter too many */
			memcpy(cand, w, i);
			memcpy(cand + i, w + i + 1, n - i - 1);
			consider(sp, cand, n - 1, best, &best_n, &best_count);
		}
	if (n >= 3)
		for (i = 0; i + 1 < n; i++) { /* two letters swapped */
			memcpy(cand, w, n);
			cand[i] = w[i + 1];
			cand[i + 1] = w[i];
			consider(sp, cand, n, best, &best_n, &best_count);
		}
	if (n >= 4)
		for (i = 0; i < n; i++) { /* a letter wrong */
			memcpy(cand, w, n);
			for (c = 'a'; c <= 'z'; c++)
				if (c != w[i]) {
					cand[i] = c;
					consider(sp, cand, n, best, &best_n, &best_count);
				}
		}
	for (i = 0; i <= n; i++) { /* a letter missing */
		memcpy(cand, w, i);
		memcpy(cand + i + 1, w + i, n - i);
		for (c = 'a'; c <= 'z'; c++) {
			cand[i] = c;
			consider(sp, cand, n + 1, best, &best_n, &best_count);
		}
	}
	return best_n;
}

/* segment: w[0, n), letters run together ("iwanttodie": spaced letters
 * the views joined, or words typed without spaces), read as the words
 * the FAQ's messages use, written to out with spaces between; its length,
 * or 0 when no reading holds a word of risk. Of the readings into words
 * counted SPELL_PIECE_MIN times or more, the one whose words are the most
 * common, counting each word's log count less a cost a word (so that
 * fewer, longer words win over many short ones). */
static size_t segment(const struct spell *sp, const char *w, size_t n, char *out)
{
	double best[SPELL_RUN_MAX + 1];
	int from[SPELL_RUN_MAX + 1], risk[SPELL_RUN_MAX + 1];
	size_t i, j, k = 0, cuts[SPELL_RUN_MAX + 1], ncuts = 0;

	best[0] = 0;
	risk[0] = 0;
	for (i = 1; i <= n; i++) {
		best[i] = -HUGE_VAL;
		risk[i] = 0;
		for (j = i > SPELL_WORD_MAX ? i - SPELL_WORD_MAX : 0; j < i; j++) {
			const struct slot *s;
			unsigned c;
			double score;

			if (best[j] == -HUGE_VAL)
				continue;
			if (i - j == 1 && w[j] != 'i' && w[j] != 'a')
				continue; /* one letter is a word only as "i" or "a" */
			s = find(sp, w + j, i - j);
			c = s->at ? s->count & SPELL_COUNT : 0;
			if (c < SPELL_PIECE_MIN)
				continue;
			score = best[j] + log((double)c) - SPELL_PIECE_COST;
			if (score > best[i]) {
				best[i] = score;
				from[i] = (int)j;
				risk[i] = risk[j] || (s->count & SPELL_TARGET);
			}
		}
	}
	if (best[n] == -HUGE_VAL || !risk[n])
		return 0;
	for (i = n; i > 0; i = (size_t)from[i])
		cuts[ncuts++] = i;
	if (ncuts < 2)
		return 0; /* one word: nothing to part */
	for (j = 0, i = ncuts; i-- > 0;) {
		memcpy(out + k, w + j, cuts[i] - j);
		k += cuts[i] - j;
		j = cuts[i];
		if (i > 0)
			out[k++] = ' ';
	}
	return k;
}

/* masked_at: the length of a word with letters starred out at text[i]
 * ("k*ll", "mys*lf", "s**cide": a letter first, one or two '*', two
 * letters or more, whole), 0 when none starts there. */
static size_t masked_at(const char *text, size_t len, size_t i)
{
	size_t j = i, stars = 0;

	if (i > 0 && (is_letter(text[i - 1]) || text[i - 1] == '\'' || text[i - 1] == '*' ||
		      (text[i - 1] >= '0' && text[i - 1] <= '9')))
		return 0;
	if (i >= len || !is_letter(text[i]))
		return 0;
	while (j < len && (is_letter(text[j]) || text[j] == '*'))
		stars += text[j++] == '*';
	if (j < len && ((unsigned char)text[j] >= 0x80 || text[j] == '\'' ||
			(text[j] >= '0' && text[j] <= '9')))
		return 0;
	if (stars < 1 || stars > SPELL_MASK_MAX || j - i - stars < 2 || j - i > SPELL_WORD_MAX)
		return 0;
	return j - i;
}

/* mend_masked: the most used word of risk that w[0, n), with letters
 * starred out, can be (each '*' one letter), into best; its length, or 0.
 * People star out the word they would rather not write: on a support
 * group's chat that is as often "k*ll mys*lf" as a swear word, and only
 * a word of risk is ever read into it. */
static size_t mend_masked(const struct spell *sp, const char *w, size_t n, char *best)
{
	char cand[SPELL_WORD_MAX + 1];
	size_t at[SPELL_MASK_MAX], nat = 0, i, best_n = 0, combos = 1, k;
	unsigned best_count = 0;

	for (i = 0; i < n; i++)
		if (w[i] == '*')
			at[nat++] = i;
	for (i = 0; i < nat; i++)
		combos *= 26;
	memcpy(cand, w, n);
	for (k = 0; k < combos; k++) {
		size_t r = k;

		for (i = 0; i < nat; i++, r /= 26)
			cand[at[i]] = (char)('a' + r % 26);
		consider(sp, cand, n, best, &best_n, &best_count);
	}
	return best_n;
}

/* top_near: the highest count of a target one edit from a word of n
 * letters could have */
static unsigned top_near(const struct spell *sp, size_t n)
{
	unsigned t = sp->top[n];

	if (n > 0 && sp->top[n - 1] > t)
		t = sp->top[n - 1];
	if (n + 1 <= SPELL_WORD_MAX + 1 && sp->top[n + 1] > t)
		t = sp->top[n + 1];
	return t;
}

/* mend_one writes the mended reading of the word w (n bytes, no mask in
 * it) to best and returns its length, or 0: the word stays as written. */
static size_t mend_one(const struct spell *sp, const char *w, size_t n, char *best)
{
	const struct slot *s;
	size_t m = 0;

	/* one lookup serves both readings below */
	s = sp->cap && n >= SPELL_WORD_MIN && n <= SPELL_RUN_MAX && !memchr(w, '\'', n)
		    ? find(sp, w, n)
		    : NULL;
	if (s && n <= SPELL_WORD_MAX) {
		unsigned c = s->count & SPELL_COUNT;

		/* a word of the examples is as the FAQ writes it (a slip there
		 * is one a pattern reads already); a word of the messages
		 * learnt from may be a slip there too (their writers typed as
		 * members type), mended only towards a word used many times as
		 * often */
		/* (and no word counted so often that no target could be used
		 * SPELL_OFTEN times as often: most words of a message are, and
		 * trying 300 edits of each is what this view would otherwise
		 * cost) */
		if (!(s->count & SPELL_KNOWN) &&
		    (unsigned long)SPELL_OFTEN * (c + 1) <= top_near(sp, n)) {
			m = mend_word(sp, w, n, best);
			if (m && count_of(sp, best, m) < SPELL_OFTEN * (c + 1))
				m = 0;
		}
	}
	if (!m && s && n >= SPELL_RUN_MIN && !s->at)
		m = segment(sp, w, n, best);
	return m;
}

enum err spell_mend(const struct spell *sp, const char *text, size_t len, char **out,
		    size_t *out_len, unsigned char **mask)
{
	/* a mended word is at most one letter longer than the word, and a
	 * run of letters read as words at most twice as long ("i a ...") */
	size_t cap = 2 * len + 2, i = 0, k = 0;
	char *o = malloc(cap);
	unsigned char *mk = calloc(cap, 1);
	int changed = 0;

	*out = NULL;
	*mask = NULL;
	if (!o || !mk) {
		free(o);
		free(mk);
		return ERR_NOMEM;
	}
	while (i < len) {
		size_t n = word_at(text, len, i), masked, m;
		char best[2 * SPELL_RUN_MAX + 2];

		if (sp->cap && (masked = masked_at(text, len, i)) > 0) {
			n = masked;
			m = mend_masked(sp, text + i, n, best);
		} else if (n == 0) {
			o[k++] = text[i++];
			continue;
		} else {
			m = mend_one(sp, text + i, n, best);
		}
		if (m) {
			memcpy(o + k, best, m);
			memset(mk + k, 1, m);
			k += m;
			changed = 1;
		} else {
			memcpy(o + k, text + i, n);
			k += n;
		}
		i += n;
	}
	o[k] = '\0';
	*out = o;
	*out_len = k;
	if (changed)
		*mask = mk;
	else
		free(mk);
	return ERR_OK;
}
