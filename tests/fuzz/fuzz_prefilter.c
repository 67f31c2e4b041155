/* fuzz_prefilter.c -- the prefilter's reader of patterns on any bytes (a
 * moderator's pattern is outside input): it must not crash, and it must
 * keep its promise. The input is a pattern, a NUL byte, then a text; where
 * PCRE2 compiles the pattern and it matches the text, the text must hold
 * what the reader says the pattern requires (prefilter_admits). The text
 * is normalised first, as every text the patterns meet is (match.h: the
 * JIT skips PCRE2's UTF-8 checks, so a subject must be valid UTF-8; raw
 * bytes here crashed inside the JIT's code, a broken contract of this
 * harness, not a path the bot has). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "match.h"
#include "prefilter.h"
#include "text.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct match_ctx *ctx;
	const uint8_t *nul = memchr(data, '\0', size);
	size_t plen = nul ? (size_t)(nul - data) : size;
	const char *text = nul ? (const char *)nul + 1 : "";
	size_t tlen = nul ? size - plen - 1 : 0;
	struct match_re *re = NULL;
	char *pat, *norm = NULL, msg[128], desc[512];
	size_t off, s, n, nlen = 0;
	int found = 0;

	if (plen > 4096)
		return 0;
	if (!ctx)
		ctx = match_ctx_new(1);
	pat = malloc(plen + 1);
	if (!pat || !ctx)
		abort();
	memcpy(pat, data, plen);
	pat[plen] = '\0';
	if (prefilter_describe(pat, desc, sizeof(desc)) != ERR_OK)
		abort();
	if (text_normalise(text, tlen, &norm, &nlen) != ERR_OK)
		abort();
	if (match_compile(pat, &re, msg, sizeof(msg), &off) == ERR_OK) {
		if (match_find(ctx, re, norm, nlen, 0, &found, &s, &n) == ERR_OK && found &&
		    prefilter_admits(pat, norm, nlen) != 1)
			abort(); /* a match the prefilter would have ruled out */
		match_free(re);
	}
	free(norm);
	free(pat);
	return 0;
}
