/* fuzz_learn.c -- the parser of the learned stage's messages (a file of
 * faq/learn/): any bytes give findings or messages, never a crash, a leak
 * or a hang. And the folded view (views.h) of any text stays in bounds. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "faq_learn.h"
#include "text.h"
#include "views.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct faq_diags d = {0};
	char *norm = NULL, *out = NULL;
	size_t nlen = 0, olen = 0;
	int changed;

	faq_learn_parse_text("fuzz.tsv", (const char *)data, size, &d);
	faq_diags_release(&d);
	/* views_fold reads normalised text, as classify gives it */
	if (text_normalise((const char *)data, size, &norm, &nlen) != ERR_OK)
		return 0;
	if (views_fold(norm, nlen, &out, &olen, &changed) == ERR_OK) {
		if (olen > 4 * nlen + 64 || strlen(out) != olen)
			abort();
		free(out);
	}
	free(norm);
	return 0;
}
