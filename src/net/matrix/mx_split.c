/* mx_split.c -- the members of a JSON object as spans (see mx_split.h).
 * Linear, no recursion: a value's brackets are counted, not descended. */
#include "mx_split.h"

#include <stdlib.h>

static int is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static size_t skip_ws(const char *s, size_t i, size_t end)
{
	while (i < end && is_ws(s[i]))
		i++;
	return i;
}

/* skip_string: the index just past the string opening at s[i] == '"', or
 * 0 when it does not close before end. */
static size_t skip_string(const char *s, size_t i, size_t end)
{
	for (i++; i < end; i++) {
		if (s[i] == '\\')
			i++;
		else if (s[i] == '"')
			return i + 1;
	}
	return 0;
}

/* skip_value: the index just past the value starting at s[i] (not a
 * space), or 0 when it does not end before end. A container ends at its
 * matching bracket (strings inside followed); a scalar at the next
 * delimiter. */
static size_t skip_value(const char *s, size_t i, size_t end)
{
	size_t depth = 0;

	if (s[i] == '"')
		return skip_string(s, i, end);
	if (s[i] != '{' && s[i] != '[') {
		while (i < end && !is_ws(s[i]) && s[i] != ',' && s[i] != '}' && s[i] != ']' &&
		       s[i] != ':' && s[i] != '"' && s[i] != '{' && s[i] != '[')
			i++;
		return i;
	}
	while (i < end) {
		char c = s[i];

		if (c == '"') {
			i = skip_string(s, i, end);
			if (!i)
				return 0;
			continue;
		}
		if (c == '{' || c == '[')
			depth++;
		else if ((c == '}' || c == ']') && --depth == 0)
			return i + 1;
		i++;
	}
	return 0;
}

static enum err push(struct mx_member **out, size_t *n, size_t *cap, size_t max,
		     const struct mx_member *m)
{
	struct mx_member *na;
	size_t ncap;

	if (*n >= max)
		return ERR_LIMIT;
	if (*n == *cap) {
		ncap = *cap ? *cap * 2 : 16;
		na = realloc(*out, ncap * sizeof(*na));
		if (!na)
			return ERR_NOMEM;
		*out = na;
		*cap = ncap;
	}
	(*out)[(*n)++] = *m;
	return ERR_OK;
}

/* member reads one "key": value at s[*i] into m, *i moved past it. */
static enum err member(const char *s, size_t *i, size_t end, struct mx_member *m)
{
	size_t j = *i, k;

	if (j >= end || s[j] != '"')
		return ERR_PARSE;
	k = skip_string(s, j, end);
	if (!k)
		return ERR_PARSE;
	m->key = j;
	m->key_len = k - j;
	j = skip_ws(s, k, end);
	if (j >= end || s[j] != ':')
		return ERR_PARSE;
	j = skip_ws(s, j + 1, end);
	if (j >= end)
		return ERR_PARSE;
	k = skip_value(s, j, end);
	if (!k || k == j)
		return ERR_PARSE;
	m->val = j;
	m->val_len = k - j;
	*i = skip_ws(s, k, end);
	return ERR_OK;
}

enum err mx_split_object(const char *json, size_t at, size_t len, size_t max,
			 struct mx_member **out, size_t *n)
{
	size_t end = at + len, i = skip_ws(json, at, at + len), cap = 0;
	struct mx_member m;
	enum err e = ERR_OK;

	*out = NULL;
	*n = 0;
	if (i >= end || json[i] != '{')
		return ERR_PARSE;
	i = skip_ws(json, i + 1, end);
	if (i < end && json[i] == '}') {
		i++;
	} else {
		for (;;) {
			e = member(json, &i, end, &m);
			if (e == ERR_OK)
				e = push(out, n, &cap, max, &m);
			if (e != ERR_OK)
				break;
			if (i < end && json[i] == ',') {
				i = skip_ws(json, i + 1, end);
				continue;
			}
			if (i < end && json[i] == '}') {
				i++;
				break;
			}
			e = ERR_PARSE;
			break;
		}
	}
	if (e == ERR_OK && skip_ws(json, i, end) != end)
		e = ERR_PARSE; /* something after the object */
	if (e != ERR_OK) {
		free(*out);
		*out = NULL;
		*n = 0;
	}
	return e;
}
