/* concept.h -- named word lists that patterns share.
 *
 * A concept is a signal that many entries look for ("means at hand",
 * "a date or a time", "preparation"), kept once in faq/concepts.yml as a
 * readable list, one word or phrase a line, and named in any pattern as
 * {name}: `\b{means}\b.{0,60}\b{hopeless}\b`. A moderator extends what the
 * bot understands by adding a word to a list, not by editing a 3,000
 * character alternation.
 *
 * A phrase is plain text, not a regular expression: every character means
 * itself, except
 *   - a space, which matches one space (messages are normalised);
 *   - an apostrophe, which may be missing ("don't" matches "dont");
 *   - '*' at the end of a word: any ending ("cancel*" matches "cancelled");
 *   - {other}: another concept, written out in place.
 * A phrase with letters beyond ASCII is read as a message is (text.h's
 * text_normalise: accents dropped, case folded), so "muốn chết" matches
 * what a member typed with or without the accents.
 * At load the patterns are expanded into plain PCRE2 (what `faqbot topics
 * --json` shows, and what the bench's Python re compiles).
 *
 * Pure: no I/O. */
#ifndef FAQBOT_CONCEPT_H
#define FAQBOT_CONCEPT_H

#include <stddef.h>

#include "err.h"

#define CONCEPT_NAME_MAX     48           /* bytes of a name */
#define CONCEPT_DEPTH_MAX    4            /* concepts inside concepts, at most */
#define CONCEPT_EXPANDED_MAX (256 * 1024) /* bytes of one expanded pattern */

struct concept {
	char *name;
	char *regex; /* "(?:a|b|c)", concepts inside still as {name} */
	/* the phrases as written, for a person to read (faqbot topics): one
	 * after another in one block, each ending in '\0' (one allocation:
	 * the shipped FAQ has some 13,000) */
	char *phrases;
	size_t nphrases;
	char *file; /* NULL for an entry's own list: its entry's file */
	unsigned line;
};

/* A set of concepts. An entry's own word lists (its `words:`) are a set
 * whose outer is the store's concepts.yml: a name is looked up here first,
 * then outward, and a concept's own {names} are looked up from the set that
 * defines it (so an entry's list never changes what a shared concept
 * means). outer is borrowed; concepts_release leaves it alone. */
struct concepts {
	struct concept *v;
	size_t n;
	const struct concepts *outer;
};

/* concept_name_ok: lower-case letters, digits and '-', starting with a
 * letter, at most CONCEPT_NAME_MAX bytes. */
int concept_name_ok(const char *name, size_t len);

/* concept_add adds name, matching any of the n phrases, defined at
 * file:line (file may be NULL). ERR_INVALID with a sentence in err when the name is not a
 * name, is given twice, or a phrase is empty. */
enum err concept_add(struct concepts *c, const char *name, const char *const *phrases, size_t n,
		     const char *file, unsigned line, char *err, size_t errlen);

/* concept_expand writes src with every {name} replaced by that concept's
 * alternation into *out (new; the caller frees), or sets *out to NULL when
 * src names no concept. Names are looked up in c, then in c->outer. ERR_INVALID with a sentence in err and the byte
 * offset in src in *erroff for an unknown name or a circle; ERR_LIMIT when
 * the result would pass CONCEPT_EXPANDED_MAX. A '{' after a backslash, or
 * one that starts a repeat ("{2}", "{0,40}"), is left alone. */
enum err concept_expand(const struct concepts *c, const char *src, char **out, char *err,
			size_t errlen, size_t *erroff);

/* concept_find: the concept called name (len bytes), in c or outward, or
 * NULL. Borrowed. */
const struct concept *concept_find(const struct concepts *c, const char *name, size_t len);

void concepts_release(struct concepts *c);

#endif
