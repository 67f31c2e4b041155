/* fuzz_normalise.c -- the normaliser and the question rule on any bytes:
 * the output must be valid UTF-8, no longer than the cap allows, and the
 * normaliser must be idempotent (normalising twice changes nothing). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "text.h"

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
	if (alen <= TEXT_CLASSIFY_MAX && text_normalise(a, alen, &b, &blen) == ERR_OK) {
		if (blen != alen || memcmp(a, b, alen) != 0)
			abort();
		free(b);
	}
	free(a);
	return 0;
}
