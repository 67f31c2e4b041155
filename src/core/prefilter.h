/* prefilter.h -- which of a store's patterns could match a text, found in
 * one pass over it, so that PCRE2 runs only those.
 *
 * At build, every pattern is read for the strings any match of it must
 * contain: `\bkill(?:ing)? myself\b` cannot match a text that holds
 * neither "kill myself" nor "killing myself" (nor, asking less, " myself",
 * which both hold). Each
 * pattern becomes an AND of ORs of such strings (its "atoms", with the word
 * boundaries the pattern puts around them); a pattern with none worth
 * looking for (all too short, or a construct this reader does not take) is
 * always a candidate. Every atom of the store goes into one Vectorscan
 * database, compiled once and kept in the cache folder, and one scan of a
 * text finds them all. A pattern is a candidate for the text when each of
 * its ORs has an atom in it.
 *
 * The promise: a pattern that is not a candidate for a text cannot match
 * that text, for any text whose case is folded as text_normalise folds it
 * (the only texts the classifier scans: the normalised text, the folded
 * view, blanked copies of them). That is what lets a word in Cyrillic,
 * Greek or Armenian be an atom: of the case forms a caseless pattern
 * matches, only the folded one is in such a text. The atoms are necessary for a match, never sufficient, so
 * PCRE2 confirming the candidates gives exactly the answers of PCRE2 trying
 * every pattern. It is a proof, not a guess: a pattern the prefilter rules
 * out never runs, so it cannot hit a PCRE2 limit either, where before it
 * might have run into one on the way to finding nothing.
 *
 * Why atoms and not whole patterns in Vectorscan's prefilter mode: that was
 * measured on the shipped FAQ (545 patterns): 16 s to compile, a 5.4 MB
 * database (resident in the bot) and 167 MB of memory while compiling; the
 * bounded gaps (.{0,60}) and word lists of the crisis patterns are what it
 * pays for. The atoms (8,472 for the shipped FAQ, 7,245 literals) compile
 * in about 0.2 s into a 0.76 MB database, and leave 7.5 candidates a
 * message on average (of 545) over dev, tests/data and faq/learn.
 *
 * Without Vectorscan (not installed, a CPU it does not run on, a failure),
 * prefilter_new says why and the caller tries every pattern with PCRE2, as
 * before: slower, never wrong. FAQBOT_NO_PREFILTER=1 does the same on
 * purpose (to compare). One prefilter serves one thread (it holds its scan
 * state, like the store's match context). */
#ifndef FAQBOT_PREFILTER_H
#define FAQBOT_PREFILTER_H

#include <stddef.h>

#include "err.h"

#define PREFILTER_SLOTS      3           /* texts whose candidates are kept at once */
#define PREFILTER_BLOB_MAX   (32u << 20) /* bytes of a built prefilter read back */
#define PREFILTER_CACHE_KEEP 4           /* built prefilters kept in the cache folder */
#define PREFILTER_ATOM_MIN \
	3 /* an atom's weight: its characters, and one
                                     * for each word boundary at its ends */
#define PREFILTER_EXACT_MAX \
	16 /* strings a part of a pattern is known to be
                                     * one of, before only its presence is kept */
#define PREFILTER_WIDE_MAX \
	128                     /* the same for a list of words (an
                                     * alternation), as long as nothing but word
                                     * boundaries is put around them */
#define PREFILTER_STRING_MAX 40 /* bytes of one such string */
#define PREFILTER_COMMON_MIN \
	6                         /* weight of a part all strings of an OR
                                    * share, to stand for them alone */
#define PREFILTER_CLAUSE_MAX  512 /* atoms in one OR */
#define PREFILTER_CLAUSES_MAX 8   /* ORs a pattern keeps (the AND) */
#define PREFILTER_DEPTH_MAX   32  /* nested groups read */

struct prefilter;

/* prefilter_set_cache names the folder compiled databases are kept in
 * (made 0700 when missing), or NULL: compile at every build. Borrowed. */
void prefilter_set_cache(const char *dir);

/* prefilter_set_shipped names a folder of databases built at install,
 * read when the cache folder has none of the key asked; never written.
 * NULL: none. Borrowed. */
void prefilter_set_shipped(const char *dir);

/* prefilter_new builds the prefilter of n patterns, src[i] exactly as
 * match_compile took it; pattern i is asked about as i. Returns ERR_OK with
 * *out; ERR_NOTFOUND with *out NULL and, in why, the reason there is none
 * (Vectorscan missing or failing, FAQBOT_NO_PREFILTER set): the caller then
 * tries every pattern. ERR_NOMEM. The database comes from the cache where
 * it holds one for these atoms; else it is compiled in a child process
 * (here when none can be had) and written there. */
enum err prefilter_new(const char *const *src, size_t n, struct prefilter **out, char *why,
		       size_t whylen);
void prefilter_free(struct prefilter *pf);

/* prefilter_scan finds the candidates for text[0, len) (case folded, see
 * the promise above) and keeps them in
 * slot (< PREFILTER_SLOTS) until the next scan into it. A scan that fails
 * makes every pattern a candidate in that slot (and is logged). */
void prefilter_scan(struct prefilter *pf, unsigned slot, const char *text, size_t len);

/* prefilter_may says whether pattern i may match the text last scanned into
 * slot: 0 means it cannot. */
int prefilter_may(const struct prefilter *pf, unsigned slot, size_t i);

/* What a prefilter is made of, for `faqbot check`. */
struct prefilter_figures {
	size_t patterns, always; /* always: no atoms, every text a candidate */
	size_t atoms;
	size_t db_bytes;
	int from_cache;
	double build_ms;     /* extraction, and compiling where it was not cached */
	const char *version; /* Vectorscan's, borrowed: version_len bytes of it */
	int version_len;
};
void prefilter_figures(const struct prefilter *pf, struct prefilter_figures *f);

/* prefilter_version writes Vectorscan's version, or why it is not to be
 * had (loading it if it was not yet). */
void prefilter_version(char *buf, size_t len);

/* prefilter_describe writes what pattern src requires, as the prefilter
 * reads it: "always", or ORs of atoms joined by AND ("\b" marks a word
 * boundary): `("\bkys\b") AND ("pills" | "tablets")`. For tests and
 * diagnostics; needs no Vectorscan. Cut to buflen. ERR_NOMEM only. */
enum err prefilter_describe(const char *src, char *buf, size_t buflen);

/* prefilter_admits says whether text[0, len) (case folded) holds what src requires, by a
 * plain search instead of Vectorscan: 1 where a scan would make src a
 * candidate, 0 where it would not (-1: out of memory). For tests and the
 * fuzz target, which hold the reader to its promise on any pattern. */
int prefilter_admits(const char *src, const char *text, size_t len);

#endif
