/* negate.c -- negations blanked, window by window (negate.h). */
#include "negate.h"

#include <string.h>

#include "match.h"
#include "text.h"

/* mask_window blanks, in buf, every stretch a crisis entry's negation
 * matches in buf[from, to). */
static void mask_window(const struct faq *faq, char *buf, size_t from, size_t to, int *limited)
{
	size_t i, j;

	for (i = 0; i < faq->nentries; i++) {
		const struct faq_entry *e = &faq->entries[i];

		if (e->cls != FAQ_CLASS_CRISIS)
			continue;
		for (j = 0; j < e->nnegations; j++) {
			size_t at = 0, s, n, len = to - from;
			int found;

			while (at <= len) {
				enum err r = match_find(faq->mctx, e->negations[j].re, buf + from,
							len, at, &found, &s, &n);

				if (r == ERR_LIMIT)
					*limited = 1;
				if (r != ERR_OK || !found)
					break;
				memset(buf + from + s, ' ', n);
				at = s + (n ? n : 1);
			}
		}
	}
}

void negate_mask(const struct faq *faq, char *buf, size_t len, int *limited)
{
	size_t start, end;

	for (start = 0;; start = text_window_next(buf, len, start, end)) {
		end = text_window_end(buf, len, start);
		mask_window(faq, buf, start, end, limited);
		if (end >= len)
			break;
	}
}
