/* buf.h -- a growable string with a ceiling.
 *
 * Every buffer that may hold outside input is created with a maximum size
 * (curl's rule): an append that would pass it, or that runs out of memory,
 * sets `failed` and is dropped, and every later append is too, so a
 * builder appends freely and checks once at the end. The text is always
 * NUL-terminated while not failed. A buffer made with buf_init_cut is cut
 * instead: what passes the ceiling is dropped, at a UTF-8 boundary, with
 * everything after it, and the text so far stands (a report that is long
 * is better cut than lost). */
#ifndef FAQBOT_BUF_H
#define FAQBOT_BUF_H

#include <stddef.h>

#include "err.h"

struct buf {
	char *s;    /* the text, or NULL before the first append */
	size_t len; /* without the NUL */
	size_t cap; /* allocated */
	size_t max; /* len never passes it */
	int failed; /* an append was dropped */
	int nomem;  /* ... because memory ran out, not the ceiling */
	int cut_ok; /* buf_init_cut: the ceiling cuts, it does not fail */
	int cut;    /* the text was cut at the ceiling */
};

/* buf_init starts an empty buffer that will hold at most max bytes. */
void buf_init(struct buf *b, size_t max);
/* buf_init_cut starts an empty buffer whose ceiling cuts (see above). */
void buf_init_cut(struct buf *b, size_t max);
void buf_append(struct buf *b, const char *data, size_t n);
void buf_puts(struct buf *b, const char *s);
void buf_printf(struct buf *b, const char *fmt, ...)
#if defined(__GNUC__)
	__attribute__((format(printf, 2, 3)))
#endif
	;
/* buf_detach hands the text over (an empty string when nothing was
 * appended), or NULL when the buffer failed; b is empty afterwards. */
char *buf_detach(struct buf *b);
void buf_release(struct buf *b);
/* buf_take is buf_detach for a function returning enum err: ERR_OK and
 * the text in *out, or *out NULL and ERR_NOMEM (memory ran out) or
 * ERR_LIMIT (an append would have passed max). b is empty afterwards. */
enum err buf_take(struct buf *b, char **out);

#endif
