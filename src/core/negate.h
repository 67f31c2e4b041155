/* negate.h -- the safe readings of a message, blanked before anything
 * reads it for risk.
 *
 * A crisis entry's negations name what only looks like risk: "not
 * suicidal", a film's title, a past the writer is clear of (faq/README.md).
 * Blanking every stretch they match keeps both the crisis patterns and the
 * concepts the learned stage reads as tags (faq_learn.h) from seeing it.
 * Blanks keep offsets and word breaks where they were.
 *
 * Pure: no I/O. */
#ifndef FAQBOT_NEGATE_H
#define FAQBOT_NEGATE_H

#include <stddef.h>

#include "faq.h"

/* What a caller that knows more may add (classify's prefilter): may says
 * whether a negation could match the window as it now stands (NULL: every
 * one may); blanked is told of the window after a negation blanked some
 * of it, before the next one runs. */
struct negate_hooks {
	int (*may)(void *ctx, const struct faq_pattern *neg);
	void (*blanked)(void *ctx, const char *window, size_t len);
	void *ctx;
};

/* negate_window blanks, in buf[from, to), every stretch a crisis entry's
 * negation of faq matches, in the FAQ's order. Returns 1 when anything was
 * blanked. Sets *limited when a negation hit a PCRE2 limit (that negation
 * then blanks nothing more). h may be NULL. */
int negate_window(const struct faq *faq, char *buf, size_t from, size_t to,
		  const struct negate_hooks *h, int *limited);

/* negate_mask: negate_window over buf[0, len), window by window (text.h),
 * all of them before any pattern reads the text, so that a window boundary
 * cannot leave half of "not suicidal" behind. */
void negate_mask(const struct faq *faq, char *buf, size_t len, int *limited);

#endif
