/* negate.c -- negations blanked, window by window (negate.h). */
#include "negate.h"

#include <string.h>

#include "match.h"
#include "text.h"

int negate_window(const struct faq *faq, char *buf, size_t from, size_t to,
		  const struct negate_hooks *h, int *limited)
{
	size_t i, j;
	int any = 0;

	for (i = 0; i < faq->nentries; i++) {
		const struct faq_entry *e = &faq->entries[i];

		if (e->cls != FAQ_CLASS_CRISIS)
			continue;
		for (j = 0; j < e->nnegations; j++) {
			size_t at = 0, s, n, len = to - from;
			int found, blanked = 0;

			if (h && h->may && !h->may(h->ctx, &e->negations[j]))
				continue;
			while (at <= len) {
				enum err r = match_find(faq->mctx, e->negations[j].re, buf + from,
							len, at, &found, &s, &n);

				if (r == ERR_LIMIT)
					*limited = 1;
				if (r != ERR_OK || !found)
					break;
				memset(buf + from + s, ' ', n);
				blanked |= n > 0;
				at = s + (n ? n : 1);
			}
			if (blanked && h && h->blanked)
				h->blanked(h->ctx, buf + from, len);
			any |= blanked;
		}
	}
	return any;
}

void negate_mask(const struct faq *faq, char *buf, size_t len, int *limited)
{
	size_t start, end;

	for (start = 0;; start = text_window_next(buf, len, start, end)) {
		end = text_window_end(buf, len, start);
		negate_window(faq, buf, start, end, NULL, limited);
		if (end >= len)
			break;
	}
}
