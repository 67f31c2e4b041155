/* strs.c -- string and string-list copies (see strs.h). */
#include "strs.h"

#include <stdlib.h>
#include <string.h>

char *strs_dup(const char *s)
{
	return s ? strdup(s) : NULL;
}

char *strs_dup_or_null(const char *s, int *failed)
{
	char *d;

	if (!s)
		return NULL;
	d = strdup(s);
	if (!d)
		*failed = 1;
	return d;
}

enum err strs_list_copy(const char *const *v, size_t n, char ***out)
{
	char **l = calloc(n + 1, sizeof(char *));
	int failed = 0;
	size_t i;

	*out = NULL;
	if (!l)
		return ERR_NOMEM;
	for (i = 0; i < n && !failed; i++)
		l[i] = strs_dup_or_null(v[i], &failed);
	if (failed) {
		strs_list_free(l, n);
		return ERR_NOMEM;
	}
	*out = l;
	return ERR_OK;
}

void strs_list_free(char **l, size_t n)
{
	size_t i;

	if (!l)
		return;
	for (i = 0; i < n; i++)
		free(l[i]);
	free(l);
}

void strs_wipe_free(char *s)
{
	if (!s)
		return;
	explicit_bzero(s, strlen(s));
	free(s);
}
