/* negate.h -- the safe readings of a message, blanked before anything
 * reads it for risk.
 *
 * A crisis entry's negations name what only looks like risk: "not
 * suicidal", a film's title, a past the writer is clear of (faq/README.md).
 * negate_mask blanks every stretch they match, so that neither the crisis
 * patterns nor the concepts the learned stage reads as tags (faq_learn.h)
 * see it. Blanks keep offsets and word breaks where they were.
 *
 * Pure: no I/O. */
#ifndef FAQBOT_NEGATE_H
#define FAQBOT_NEGATE_H

#include <stddef.h>

#include "faq.h"

/* negate_mask blanks, in buf[0, len), every stretch a crisis entry's
 * negation of faq matches, window by window (text.h), all of them before
 * any pattern reads the text, so that a window boundary cannot leave half
 * of "not suicidal" behind. Sets *limited when a negation hit a PCRE2
 * limit (it then blanks nothing more). */
void negate_mask(const struct faq *faq, char *buf, size_t len, int *limited);

#endif
