/* spell.h -- the mended view of a message: words misspelt past reading
 * ("wnat to die", "cuting agan", "hw mny pils", "jmp of th brige") put back
 * to the words the FAQ itself is written in.
 *
 * A member in crisis may type fast, on a cracked phone, in tears. The
 * folded view (views.h) undoes disguises; this one undoes typos: a word
 * that the FAQ's examples never use is replaced by the word that they and
 * its learning messages (faq/learn) use most one edit away (a letter
 * dropped, added, changed, or two swapped), when that word is used
 * SPELL_OFTEN times as often as it. So a name or a word of
 * another language stays itself unless it is one slip from a word members
 * write here all the time; a word of an example is never changed (add
 * "dye my hair" to a not_example, and "dye" stays "dye"). The classifier
 * reads this view for a crisis only. Why not a general speller (hunspell, aspell): their
 * dictionaries know "dye" and "wana" is no English word to them, but they
 * do not know "kms", "spravato" or "unalive", and their suggestions cost
 * milliseconds a word; this costs microseconds and speaks the room's words.
 *
 * A word with a letter or two starred out ("k*ll mys*lf", "s**cide") is
 * read as the word of risk it can be that members use most.
 *
 * Letters run together ("iwanttodie": the views join "i w a n t t o d i
 * e" when double spaces marked the words, or a member typed it so) are
 * read as the words the FAQ's messages use, when one of them is a word of
 * risk.
 *
 * Built once from a FAQ's examples (faq_load), read-only afterwards. */
#ifndef FAQBOT_SPELL_H
#define FAQBOT_SPELL_H

#include <stddef.h>

#include "err.h"

#define SPELL_WORD_MIN   2   /* shorter words are left alone */
#define SPELL_WORD_MAX   16  /* longer words are left alone */
#define SPELL_MASK_MAX   2   /* letters starred out of a word ("k*ll"), at most */
#define SPELL_OFTEN      20  /* a word is mended to one counted this many times as often */
#define SPELL_RUN_MIN    6   /* letters run together are read as words from... */
#define SPELL_RUN_MAX    40  /* ...to this many */
#define SPELL_PIECE_MIN  3   /* a word read in a run is counted this often */
#define SPELL_PIECE_COST 4.0 /* what each more word of a reading costs */

struct spell; /* opaque */

/* spell_new returns an empty vocabulary, or NULL when out of memory.
 * spell_free(NULL) is a no-op. */
struct spell *spell_new(void);
void spell_free(struct spell *sp);

/* spell_add counts every word (a run of ASCII letters and apostrophes) of
 * text, len bytes, as written in the FAQ's examples: known words, never
 * mended; with target 1 (a crisis entry's example, a concept's list) also
 * words of risk, the only ones a slip is mended to: the view is read for a
 * crisis only, so that "coffe" stays as it is, and a message that holds no
 * slip of a word of risk costs no second reading. Text is the folded view
 * of normalised text, as messages are mended. spell_count counts the words
 * of any text (upper case read as lower): the messages the FAQ learns
 * from, whose counts say which word a slip most likely is, and which may
 * hold slips of their own. ERR_NOMEM. */
enum err spell_add(struct spell *sp, const char *text, size_t len, int target);
enum err spell_count(struct spell *sp, const char *text, size_t len);

/* spell_words says how many distinct words sp knows. */
size_t spell_words(const struct spell *sp);

/* spell_mend writes text (len bytes, a folded view) with each unknown word
 * mended, to *out (a new NUL-terminated string the caller frees, at most
 * 2 * len + 1 bytes with its NUL), and its length to *out_len. *mask is NULL when no word was mended; else a new
 * array of *out_len bytes, 1 where a byte is of a mended word (a reading
 * of the mended view should rest on one). ERR_NOMEM. */
enum err spell_mend(const struct spell *sp, const char *text, size_t len, char **out,
		    size_t *out_len, unsigned char **mask);

#endif
