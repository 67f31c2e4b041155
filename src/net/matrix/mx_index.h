/* mx_index.h -- an index by room id over an array the caller keeps (the
 * room cache, the send queues), no I/O: open addressing, linear probing,
 * at most half full, deletion by backward shift (no tombstones), so a
 * lookup is a hash and a compare or two whether the bot is in 10 rooms or
 * 10,000. The index holds positions in the caller's array, not keys: it
 * asks the caller for the key at a position (keyof). Tested with
 * test_mx_index against a linear scan. */
#ifndef FAQBOT_MX_INDEX_H
#define FAQBOT_MX_INDEX_H

#include <stddef.h>

#include "err.h"

/* keyof: the key of the entry at position i of the caller's array. */
typedef const char *(*mx_index_key_fn)(const void *ctx, size_t i);

struct mx_index {
	size_t *slots; /* a position plus one; 0: empty */
	size_t n_slots, n;
	mx_index_key_fn keyof;
	const void *ctx;
};

/* mx_index_init: an empty index (no memory yet) over keyof(ctx, i). */
void mx_index_init(struct mx_index *x, mx_index_key_fn keyof, const void *ctx);
void mx_index_release(struct mx_index *x);

/* mx_index_find: the position whose key is key, or -1. */
long mx_index_find(const struct mx_index *x, const char *key);

/* mx_index_add indexes position i (its key must not be in the index yet;
 * the caller's array already holds it). ERR_NOMEM: not indexed, the index
 * as it was. */
enum err mx_index_add(struct mx_index *x, size_t i);

/* mx_index_remove forgets position i, whose key is key; mx_index_moved
 * tells that the entry at from, whose key is key, goes to to (a removal
 * that fills the gap with the last entry). Both are called before the
 * caller's array changes: the index reads keys from it meanwhile. */
void mx_index_remove(struct mx_index *x, const char *key, size_t i);
void mx_index_moved(struct mx_index *x, const char *key, size_t from, size_t to);

#endif
