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

/* Only the first TEXT_CLASSIFY_MAX bytes of a message are classified (cut at
 * a character boundary). A chat message is rarely longer; the cap bounds the
 * work one message can cost. Documented in faq/README.md. */
#define TEXT_CLASSIFY_MAX 4096

/* text_normalise turns raw message text (any bytes) into the form patterns
 * are written against:
 *   - invalid UTF-8 bytes become U+FFFD;
 *   - the quoted fallback of a Matrix rich reply (leading "> " lines and the
 *     blank line after them) is dropped;
 *   - IRC formatting codes (bold, colour with its digits, italics, ...) and
 *     other control characters are dropped;
 *   - NFKC case folding, default-ignorable characters (zero-width space...)
 *     and combining marks removed;
 *   - curly apostrophes and quotes become ' and ", dashes become -;
 *   - white space runs become one space; the ends are trimmed.
 * Only the first TEXT_CLASSIFY_MAX bytes of raw are read.
 * On ERR_OK *out is a new NUL-terminated string the caller frees, and
 * *out_len its length. */
enum err text_normalise(const char *raw, size_t len, char **out, size_t *out_len);

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

/* text_word_count counts white-space separated words. */
size_t text_word_count(const char *s);

#endif
