/* text.h -- what the classifier reads: normalisation of incoming text, and
 * the rule that says whether a message is a question or addresses the bot.
 *
 * Pure functions, no I/O. Every transport calls text_normalise() on what a
 * member wrote before anything is matched, so FAQ patterns see one shape of
 * text whatever network it came from. */
#ifndef FAQBOT_TEXT_H
#define FAQBOT_TEXT_H

#include <stddef.h>

#include "err.h"

/* A message is read whole up to TEXT_MESSAGE_MAX bytes: a Matrix event is at
 * most 64 KiB and an IRC line 512 bytes plus tags, so nothing a transport
 * accepts is cut. Crisis patterns read all of it, in windows of
 * TEXT_CLASSIFY_MAX bytes that overlap by TEXT_WINDOW_OVERLAP, so no single
 * match runs over more text than the match limits were set for and a
 * crisis phrase at the end of a long message is still found. Advice, FAQ
 * and question patterns read the first TEXT_CLASSIFY_MAX bytes: an answer
 * to a question asked 20 KB into a message is not worth the cost. Both
 * documented in faq/README.md. */
#define TEXT_MESSAGE_MAX    (64 * 1024)
#define TEXT_CLASSIFY_MAX   4096
#define TEXT_WINDOW_OVERLAP 512

/* text_normalise turns raw message text (any bytes) into the form patterns
 * are written against:
 *   - NUL bytes and every Unicode white space character (tab, VT, FF, CR,
 *     LF, NEL, no-break and ideographic spaces, line and paragraph
 *     separators...) become a space: nothing that separates words is
 *     allowed to join them;
 *   - invalid UTF-8 bytes become U+FFFD;
 *   - the quoted fallback of a Matrix rich reply (leading "> " lines and the
 *     blank line after them) is dropped;
 *   - IRC formatting codes (bold, colour with its digits, italics, ...) and
 *     other control characters are dropped (they sit inside words);
 *   - NFKC case folding, default-ignorable characters (zero-width space...)
 *     and combining marks removed (accents, zalgo), but for the vowel signs
 *     of Devanagari and the scripts like it (Bengali to Sinhala, Thai, Lao,
 *     Tibetan, Myanmar, Khmer), which are letters;
 *   - curly apostrophes and quotes become ' and ", dashes become -; the
 *     letters an accent cannot be dropped from (đ ł ø ı) become d l o i;
 *   - white space runs become one space; the ends are trimmed.
 * Only the first TEXT_MESSAGE_MAX bytes of raw are read (cut at a
 * character boundary).
 * On ERR_OK *out is a new NUL-terminated string the caller frees, and
 * *out_len its length. */
enum err text_normalise(const char *raw, size_t len, char **out, size_t *out_len);

/* text_marks writes the words of raw that text_normalise changes beyond
 * case: those with an accent it drops, or a letter it reads as a Latin one
 * ("gün", "trochę", "sống", "kızım"), as the member wrote them but case
 * folded, separated by spaces. Normalised, "her gün" (every day) reads as
 * "her gun": the learned stage reads these beside the words, so that a
 * language's own words keep their meaning (learn.h). *out is a new string
 * the caller frees, or NULL where no word has one (all ASCII text). */
enum err text_marks(const char *raw, size_t len, char **out);

/* text_is_question says whether normalised text reads as a question: it has
 * a '?', or opens with a question word ("what", "how", "can i", "is it",
 * "does anyone know", "tell me about", ...). */
int text_is_question(const char *norm);

/* text_addresses says whether normalised text is addressed to nick:
 * "nick: ...", "nick, ...", "@nick ..." or "hey nick ...". nick is compared
 * case-insensitively; NULL or "" never matches. */
int text_addresses(const char *norm, const char *nick);

/* text_after_address returns how many bytes of norm to skip so that what
 * follows is the message itself: "faqbot: what is tms" -> "what is tms".
 * Returns 0 when norm does not start with "nick:" or "nick," (or "@nick"). */
size_t text_after_address(const char *norm, const char *nick);

/* text_window_end returns where the window that starts at byte `start` of
 * norm (length len) ends: start + TEXT_CLASSIFY_MAX at most, moved back to
 * a space where one is near so that no word is cut, and never inside a
 * UTF-8 character. The next window starts TEXT_WINDOW_OVERLAP bytes before
 * that end (text_window_next). */
size_t text_window_end(const char *norm, size_t len, size_t start);

/* text_window_next returns where the window after [start, end) starts, or
 * len when end == len (no more windows). Always > start. */
size_t text_window_next(const char *norm, size_t len, size_t start, size_t end);

/* text_word_count counts white-space separated words. */
size_t text_word_count(const char *s);

#endif
