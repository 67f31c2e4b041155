/* match.c -- PCRE2 compile and match under limits (see match.h). */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "match.h"

#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct match_re {
	pcre2_code *code;
	int jit;     /* JIT compiled: pcre2_jit_match may be used */
	int jit_due; /* to be JIT compiled at its first match (lazy_jit) */
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
			     *p == 'g' || *p == 'k') &&
			    p[1] == '{') {
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

/* worth_jit says whether JIT-compiling code pays for its memory. PCRE2's
 * JIT code is big: about 7.5 KB a pattern here, 3.9 MB for the shipped
 * FAQ, anonymous memory that stays resident for the life of the bot (the
 * JIT sizes its block for the longest jumps, so a third of it is never
 * even used, and the compiled pattern itself stays beside it). A pattern
 * whose match must begin with one known character (PCRE2 found a "first
 * code unit": \bnoose\b, \bbetter off ...) gains little from it: the
 * interpreter skips with memchr() from one occurrence of that character to
 * the next and fails most tries within a few bytes. Measured on the shipped
 * FAQ (make bench), leaving those ~200 patterns to the interpreter keeps
 * ~0.9 MB off the bot's RSS and classifies the dev set as fast as before
 * (short chat lines: ~35 bytes); on messages of 120 to 600 bytes it costs
 * about a quarter of the throughput, still well over 10x the Python
 * baseline. Everything else (alternations at the start, lookaheads over the
 * whole message) is where the JIT earns its size, and keeps it. */
static int worth_jit(const pcre2_code *code)
{
	uint32_t first = 0;

	if (pcre2_pattern_info(code, PCRE2_INFO_FIRSTCODETYPE, &first) != 0)
		return 1;
	return first != 1;
}

/* lazy_jit JIT-compiles re at its first match rather than at load. With
 * the prefilter most patterns are never run for a given stream of
 * messages (a `faqbot ask`, a quiet room), and each one's JIT code is
 * resident anonymous memory for the life of the process: compiling only
 * the ones that run keeps that off the peak, and the ones that do run are
 * JIT code from their first message on. re is const to match_find's
 * callers, who share it read-only; compiling it is a cache filled in
 * place, on the one thread a classifier store serves (classify.h). */
static void lazy_jit(struct match_re *re)
{
	re->jit_due = 0;
	re->jit = pcre2_jit_compile(re->code, PCRE2_JIT_COMPLETE) == 0;
}

int match_jit_wanted(void)
{
	const char *v = getenv("FAQBOT_NO_JIT");

	return !(v && *v && strcmp(v, "0") != 0);
}

enum err match_compile(const char *src, struct match_re **re, char *errbuf, size_t errlen,
		       size_t *erroff)
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
	r->jit_due = match_jit_wanted() && worth_jit(r->code);
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

int match_is_jit(const struct match_re *re)
{
	return re->jit || re->jit_due;
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

enum err match_find(struct match_ctx *ctx, const struct match_re *re, const char *text, size_t len,
		    size_t from, int *found, size_t *start, size_t *mlen)
{
	int rc;

	*found = 0;
	if (from > len)
		return ERR_OK;
	if (re->jit_due)
		lazy_jit((struct match_re *)re);
	/* pcre2_jit_match skips the sanity checks of pcre2_match; the subject is
	 * valid UTF-8 by construction (text_normalise), so that is safe. */
	if (re->jit)
		rc = pcre2_jit_match(re->code, (PCRE2_SPTR)text, len, from, 0, ctx->md, ctx->mctx);
	else
		rc = pcre2_match(re->code, (PCRE2_SPTR)text, len, from, 0, ctx->md, ctx->mctx);
	if (rc == PCRE2_ERROR_NOMATCH)
		return ERR_OK;
	if (rc == PCRE2_ERROR_MATCHLIMIT || rc == PCRE2_ERROR_DEPTHLIMIT ||
	    rc == PCRE2_ERROR_HEAPLIMIT || rc == PCRE2_ERROR_JIT_STACKLIMIT) {
		/* The interpreter keeps its backtracking frames in the match
		 * data and never shrinks them: a message that ran a pattern into
		 * a limit would leave up to MATCH_HEAP_LIMIT behind. A fresh
		 * match data starts small again. */
		if (!re->jit) {
			pcre2_match_data *md = pcre2_match_data_create(1, NULL);

			if (md) {
				pcre2_match_data_free(ctx->md);
				ctx->md = md;
			}
		}
		return ERR_LIMIT;
	}
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
	snprintf(buf, len, "PCRE2 %s%s", v,
		 !jit                 ? " (no JIT)"
		 : match_jit_wanted() ? " (JIT)"
				      : " (JIT off: FAQBOT_NO_JIT)");
}
