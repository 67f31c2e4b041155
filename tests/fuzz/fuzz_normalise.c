/* fuzz_normalise.c -- the normaliser and the question rule on any bytes:
 * the output must be valid UTF-8, no longer than the cap allows, and the
 * normaliser must be idempotent (normalising twice changes nothing). The
 * views of it too: the folded view (views.h) and the mended one (spell.h),
 * whose length, mask and growth must be what their headers say. And the
 * marked words (text_marks): single spaces between words, each one a word
 * that normalising changes. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "spell.h"
#include "text.h"
#include "views.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *a = NULL, *b = NULL;
	size_t alen = 0, blen = 0, i = 0;

	if (text_normalise((const char *)data, size, &a, &alen) != ERR_OK)
		return 0;
	if (strlen(a) != alen)
		abort();
	while (i < alen) { /* valid UTF-8 throughout */
		utf8proc_int32_t cp;
		utf8proc_ssize_t k = utf8proc_iterate((const utf8proc_uint8_t *)a + i,
						      (utf8proc_ssize_t)(alen - i), &cp);

		if (k <= 0)
			abort();
		i += (size_t)k;
	}
	(void)text_is_question(a);
	(void)text_addresses(a, "faqbot");
	if (text_after_address(a, "faqbot") > alen)
		abort();
	{
		static struct spell *sp;
		static const char words[] =
			"want to die kill myself bridge pills again cutting the";
		char *f = NULL, *m = NULL;
		size_t flen = 0, mlen = 0, j;
		unsigned char *mask = NULL;
		int changed;

		if (!sp) {
			sp = spell_new();
			if (!sp || spell_add(sp, words, strlen(words), 1) != ERR_OK)
				abort();
			for (j = 0; j < 40; j++)
				if (spell_count(sp, words, strlen(words)) != ERR_OK)
					abort();
		}
		if (views_fold(a, alen, &f, &flen, &changed) == ERR_OK) {
			if (strlen(f) != flen || flen > 4 * alen + 64)
				abort();
			if (spell_mend(sp, f, flen, &m, &mlen, &mask) == ERR_OK) {
				if (strlen(m) != mlen || mlen > 2 * flen)
					abort();
				for (j = 0; mask && j < mlen; j++)
					if (mask[j] > 1)
						abort();
				free(m);
				free(mask);
			}
			free(f);
		}
	}
	{
		char *mk = NULL;

		if (text_marks((const char *)data, size, &mk) == ERR_OK && mk) {
			char *save = NULL, *w;

			if (!*mk || mk[0] == ' ' || mk[strlen(mk) - 1] == ' ' || strstr(mk, "  "))
				abort();
			for (w = strtok_r(mk, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
				char *n = NULL;
				size_t nl = 0;

				if (text_normalise(w, strlen(w), &n, &nl) == ERR_OK) {
					if (!strcmp(n, w))
						abort();
					free(n);
				}
			}
		}
		free(mk);
	}
	if (alen <= TEXT_CLASSIFY_MAX && text_normalise(a, alen, &b, &blen) == ERR_OK) {
		if (blen != alen || memcmp(a, b, alen) != 0)
			abort();
		free(b);
	}
	free(a);
	return 0;
}
