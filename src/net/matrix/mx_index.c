/* mx_index.c -- an index by room id (see mx_index.h). */
#include "mx_index.h"

#include <stdlib.h>
#include <string.h>

#define INDEX_MIN 64 /* slots at the first add */

static size_t hash(const char *s)
{
	unsigned long long h = 14695981039346656037ULL; /* FNV-1a */

	while (*s)
		h = (h ^ (unsigned char)*s++) * 1099511628211ULL;
	return (size_t)(h ^ (h >> 32));
}

void mx_index_init(struct mx_index *x, mx_index_key_fn keyof, const void *ctx)
{
	memset(x, 0, sizeof(*x));
	x->keyof = keyof;
	x->ctx = ctx;
}

void mx_index_release(struct mx_index *x)
{
	free(x->slots);
	x->slots = NULL;
	x->n_slots = x->n = 0;
}

/* home: where key's probe starts. */
static size_t home(const struct mx_index *x, const char *key)
{
	return hash(key) & (x->n_slots - 1);
}

/* slot_of: the slot holding key, else the empty slot ending its probe. */
static size_t slot_of(const struct mx_index *x, const char *key)
{
	size_t mask = x->n_slots - 1, i = home(x, key);

	while (x->slots[i] && strcmp(x->keyof(x->ctx, x->slots[i] - 1), key))
		i = (i + 1) & mask;
	return i;
}

long mx_index_find(const struct mx_index *x, const char *key)
{
	size_t i;

	if (!x->n_slots)
		return -1;
	i = slot_of(x, key);
	return x->slots[i] ? (long)(x->slots[i] - 1) : -1;
}

static enum err grow(struct mx_index *x)
{
	size_t want = x->n_slots ? 2 * x->n_slots : INDEX_MIN, *old = x->slots, n = x->n_slots, i;

	x->slots = calloc(want, sizeof(*x->slots));
	if (!x->slots) {
		x->slots = old;
		return ERR_NOMEM;
	}
	x->n_slots = want;
	for (i = 0; i < n; i++)
		if (old[i])
			x->slots[slot_of(x, x->keyof(x->ctx, old[i] - 1))] = old[i];
	free(old);
	return ERR_OK;
}

enum err mx_index_add(struct mx_index *x, size_t i)
{
	if (2 * (x->n + 1) > x->n_slots && grow(x) != ERR_OK)
		return ERR_NOMEM;
	x->slots[slot_of(x, x->keyof(x->ctx, i))] = i + 1;
	x->n++;
	return ERR_OK;
}

/* between: is h on the cyclic way from a (exclusive) to b (inclusive)? */
static int between(size_t a, size_t h, size_t b)
{
	return a <= b ? (a < h && h <= b) : (a < h || h <= b);
}

void mx_index_remove(struct mx_index *x, const char *key, size_t i)
{
	size_t mask = x->n_slots - 1, gap, j, h;

	if (!x->n_slots)
		return;
	gap = slot_of(x, key);
	if (!x->slots[gap] || x->slots[gap] != i + 1)
		return;
	x->slots[gap] = 0;
	x->n--;
	/* backward shift: an entry after the gap whose probe passed the gap
	 * moves into it, so every probe still finds what it looks for */
	for (j = (gap + 1) & mask; x->slots[j]; j = (j + 1) & mask) {
		h = home(x, x->keyof(x->ctx, x->slots[j] - 1));
		if (between(gap, h, j))
			continue; /* its probe starts after the gap: stays */
		x->slots[gap] = x->slots[j];
		x->slots[j] = 0;
		gap = j;
	}
}

void mx_index_moved(struct mx_index *x, const char *key, size_t from, size_t to)
{
	size_t s;

	if (!x->n_slots || from == to)
		return;
	s = slot_of(x, key);
	if (x->slots[s] == from + 1)
		x->slots[s] = to + 1;
}
