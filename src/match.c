/* match.c -- PCRE2 compile and match under limits (see match.h). */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "match.h"

#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>

struct match_re {
	pcre2_code *code;
	int jit; /* JIT compiled: pcre2_jit_match may be used */
};

struct match_ctx {
	pcre2_match_context *mctx;
	pcre2_match_data *md;
};

/* needs_caseless says whether src has a letter that case folding could
 * matter for: an upper-case ASCII letter that is not part of an escape
 * (\B, \W, \p{Lu}...), or any non-ASCII byte. Messages reach patterns
 * case-folded already (text_normalise), so a lower-case pattern needs no
 * PCRE2_CASELESS, and matching without it is about a third faster. When in
 * doubt it says yes: caseless is never wrong, only slower. */
static int has_non_ascii(const char *src)
{
	for (; *src; src++)
		if ((unsigned char)*src >= 0x80)
			return 1;
	return 0;
}

static int needs_caseless(const char *src)
{
	const unsigned char *p = (const unsigned char *)src;

	for (; *p; p++) {
		if (*p == '\\' && p[1]) {
			p++;
			if ((*p == 'p' || *p == 'P' || *p == 'x' || *p == 'o' || *p == 'N' ||
			     *p == 'g' || *p == 'k') && p[1] == '{') {
				while (p[1] && p[1] != '}')
					p++;
			}
			continue;
		}
		if ((*p >= 'A' && *p <= 'Z') || *p >= 0x80)
			return 1;
	}
	return 0;
}

enum err match_compile(const char *src, struct match_re **re, char *errbuf,
		       size_t errlen, size_t *erroff)
{
	struct match_re *r;
	int errcode = 0;
	PCRE2_SIZE off = 0;
	uint32_t opts = 0;

	*re = NULL;
	*erroff = 0;
	r = calloc(1, sizeof(*r));
	if (!r)
		return ERR_NOMEM;
	/* An ASCII pattern is compiled without PCRE2_UTF: it then reads the
	 * text byte by byte, which is what it means anyway (without PCRE2_UCP,
	 * \w and \b are ASCII in both modes, and bytes above 0x7f are never
	 * word characters), and JIT matching skips UTF-8 decoding: about 12%
	 * faster. A pattern holding any non-ASCII character needs UTF mode to
	 * read that character as one. No PCRE2_UCP: text_normalise strips
	 * accents and folds case, so ASCII \w and \b see the words. */
	if (has_non_ascii(src))
		opts |= PCRE2_UTF;
	if (needs_caseless(src))
		opts |= PCRE2_CASELESS;
	r->code = pcre2_compile((PCRE2_SPTR)src, PCRE2_ZERO_TERMINATED, opts, &errcode, &off, NULL);
	if (!r->code) {
		if (errbuf && errlen)
			pcre2_get_error_message(errcode, (PCRE2_UCHAR *)errbuf, errlen);
		*erroff = off;
		free(r);
		return ERR_PARSE;
	}
	r->jit = pcre2_jit_compile(r->code, PCRE2_JIT_COMPLETE) == 0;
	*re = r;
	return ERR_OK;
}

void match_free(struct match_re *re)
{
	if (!re)
		return;
	pcre2_code_free(re->code);
	free(re);
}

struct match_ctx *match_ctx_new(unsigned limit_scale)
{
	struct match_ctx *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	if (limit_scale == 0)
		limit_scale = 1;
	c->mctx = pcre2_match_context_create(NULL);
	c->md = pcre2_match_data_create(1, NULL);
	if (!c->mctx || !c->md) {
		match_ctx_free(c);
		return NULL;
	}
	pcre2_set_match_limit(c->mctx, MATCH_LIMIT / limit_scale);
	pcre2_set_depth_limit(c->mctx, MATCH_DEPTH_LIMIT / limit_scale);
	pcre2_set_heap_limit(c->mctx, MATCH_HEAP_LIMIT / limit_scale);
	return c;
}

void match_ctx_free(struct match_ctx *ctx)
{
	if (!ctx)
		return;
	pcre2_match_data_free(ctx->md);
	pcre2_match_context_free(ctx->mctx);
	free(ctx);
}

enum err match_find(struct match_ctx *ctx, const struct match_re *re, const char *text,
		    size_t len, size_t from, int *found, size_t *start, size_t *mlen)
{
	int rc;

	*found = 0;
	if (from > len)
		return ERR_OK;
	/* pcre2_jit_match skips the sanity checks of pcre2_match; the subject is
	 * valid UTF-8 by construction (text_normalise), so that is safe. */
	if (re->jit)
		rc = pcre2_jit_match(re->code, (PCRE2_SPTR)text, len, from, 0, ctx->md, ctx->mctx);
	else
		rc = pcre2_match(re->code, (PCRE2_SPTR)text, len, from, 0, ctx->md, ctx->mctx);
	if (rc == PCRE2_ERROR_NOMATCH)
		return ERR_OK;
	if (rc == PCRE2_ERROR_MATCHLIMIT || rc == PCRE2_ERROR_DEPTHLIMIT ||
	    rc == PCRE2_ERROR_HEAPLIMIT || rc == PCRE2_ERROR_JIT_STACKLIMIT)
		return ERR_LIMIT;
	if (rc < 0)
		return ERR_INVALID;
	{
		PCRE2_SIZE *ov = pcre2_get_ovector_pointer(ctx->md);

		*found = 1;
		*start = ov[0];
		*mlen = ov[1] >= ov[0] ? ov[1] - ov[0] : 0;
	}
	return ERR_OK;
}

void match_version(char *buf, size_t len)
{
	char v[64] = "";
	uint32_t jit = 0;

	pcre2_config(PCRE2_CONFIG_VERSION, v);
	pcre2_config(PCRE2_CONFIG_JIT, &jit);
	snprintf(buf, len, "PCRE2 %s%s", v, jit ? " (JIT)" : " (no JIT)");
}
