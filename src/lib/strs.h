/* strs.h -- owned copies of strings and of string lists, the way every
 * module's _new copies its config.
 *
 * A list is an array of n strings plus a NULL slot (so it can be walked
 * either way); an entry that was NULL stays NULL. Not here: growable text,
 * which is buf.h. */
#ifndef FAQBOT_STRS_H
#define FAQBOT_STRS_H

#include <stddef.h>

#include "err.h"

/* strs_dup: a new copy of s; NULL for a NULL s or when out of memory
 * (for a field the caller checks at once). */
char *strs_dup(const char *s);

/* strs_dup_or_null: a new copy of s, or NULL for a NULL s. When the copy
 * fails it returns NULL and sets *failed to 1 (never clears it), so a
 * constructor copies every field and checks once. */
char *strs_dup_or_null(const char *s, int *failed);

/* strs_list_copy makes *out a new list of copies of v[0..n-1]; on
 * ERR_NOMEM nothing is kept and *out is NULL. */
enum err strs_list_copy(const char *const *v, size_t n, char ***out);

/* strs_list_free frees a list of n strings; NULL is a no-op. */
void strs_list_free(char **l, size_t n);

/* strs_wipe_free overwrites s (a password, a token, a body that carried
 * one) with zeros the compiler may not drop, then frees it; NULL is a
 * no-op. */
void strs_wipe_free(char *s);

#endif
