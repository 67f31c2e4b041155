/* mx_split.h -- the members of a JSON object as spans of its text, no I/O
 * and no tree. mx_sync_parse reads a /sync body with it a room at a time:
 * jansson builds the tree of one room's value, never the whole body's, so
 * the first sync of a bot in 10,000 rooms costs the body and one room, not
 * a tree ten times the body (90 MB at 10,000 rooms, where the bot's goal is
 * 32 MB in all).
 *
 * Strict about the object's own shape ({, "key", :, value, ",", }), and
 * lenient about each value, which is skipped by its strings and brackets
 * only: a value's own syntax is checked by whoever parses its span (a
 * caller that needs the whole text checked parses every span). Pure:
 * bytes in, offsets out; fuzzed through fuzz_mx_sync. */
#ifndef FAQBOT_MX_SPLIT_H
#define FAQBOT_MX_SPLIT_H

#include <stddef.h>

#include "err.h"

/* One member: the key's token (its quotes included, escapes not decoded)
 * and its value's text, as offsets into the text given. */
struct mx_member {
	size_t key, key_len;
	size_t val, val_len;
};

/* mx_split_object reads the object whose text is json[at, at + len)
 * (whitespace around it allowed, nothing else) into a new array *out of
 * *n members in their order (NULL and 0 for {}); the caller frees *out.
 * ERR_PARSE when the text is not an object of that shape (a string or a
 * bracket that does not close included), ERR_LIMIT over max members,
 * ERR_NOMEM. */
enum err mx_split_object(const char *json, size_t at, size_t len, size_t max,
			 struct mx_member **out, size_t *n);

#endif
