/* match.h -- PCRE2 behind a small door: compile once (with JIT where it
 * pays for its memory), match under limits. No I/O, no knowledge of FAQ
 * entries.
 *
 * Every pattern comes from a moderator's file, so every match runs with a
 * match limit, a depth limit and a heap limit: a pattern with nested repeats
 * fed a hostile message stops with ERR_LIMIT instead of stalling the bot. */
#ifndef FAQBOT_MATCH_H
#define FAQBOT_MATCH_H

#include <stddef.h>

#include "err.h"

/* The limits every match runs under. High enough that no sane pattern on a
 * TEXT_CLASSIFY_MAX message gets near them (the shipped FAQ stays below
 * 1/100th), low enough that a catastrophic one costs well under a
 * millisecond before it is cut off. */
#define MATCH_LIMIT       200000u /* backtracking steps (pcre2_set_match_limit) */
#define MATCH_DEPTH_LIMIT 2000u   /* nested backtracking (pcre2_set_depth_limit) */
#define MATCH_HEAP_LIMIT  1024u   /* KiB of heap for backtracking (pcre2_set_heap_limit) */

struct match_re;  /* one compiled pattern */
struct match_ctx; /* match data and limits, one per thread that matches */

/* match_compile compiles src (exactly as PCRE2 reads it, UTF; caseless
 * when it holds an upper-case or non-ASCII letter, since the text it meets
 * is case-folded already)
 * and JIT-compiles it where JIT is available (at its first match, not
 * here: most patterns of a FAQ never run in a given process, thanks to
 * the prefilter), unless every match must begin
 * with one known character: the interpreter runs those about as fast, and
 * JIT code costs ~7 KB a pattern (match.c says more). Either way it finds
 * the same matches; only how far a runaway pattern gets before a limit
 * stops it differs. On error, *re is NULL, errbuf
 * gets PCRE2's message and *erroff the byte offset in src where it is. */
enum err match_compile(const char *src, struct match_re **re, char *errbuf, size_t errlen,
		       size_t *erroff);
void match_free(struct match_re *re);

/* match_jit_wanted is 0 when the environment turns PCRE2's JIT off:
 * FAQBOT_NO_JIT set to anything but "" or "0". Every pattern then runs in
 * the interpreter, as on a build of PCRE2 without JIT or where JIT memory
 * is refused (SELinux's execmem, MemoryDenyWriteExecute=): how `faqbot
 * check` proves the FAQ holds there too. Read at each match_compile, so a
 * reload follows the environment. */
int match_jit_wanted(void);

/* match_is_jit says whether re runs as JIT code (1: from its first match
 * on) or in PCRE2's interpreter (0): for tests and diagnostics. */
int match_is_jit(const struct match_re *re);

/* match_ctx_new makes a context sized for any pattern (captures are not
 * used). limit_scale divides the limits (1 normally; tests use larger values
 * to provoke them cheaply). */
struct match_ctx *match_ctx_new(unsigned limit_scale);
void match_ctx_free(struct match_ctx *ctx);

/* match_find looks for re in text[0..len). Returns ERR_OK with *found set
 * (and the match at text[*start .. *start + *mlen)), or ERR_LIMIT when a
 * limit stopped the search, or ERR_INVALID for any other PCRE2 failure. */
enum err match_find(struct match_ctx *ctx, const struct match_re *re, const char *text, size_t len,
		    size_t from, int *found, size_t *start, size_t *mlen);

/* match_version writes PCRE2's version and whether JIT is on. */
void match_version(char *buf, size_t len);

#endif
