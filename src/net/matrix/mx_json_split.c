/* mx_json_split.c -- a /sync body read a room at a time (see mx_json.h,
 * mx_sync_parse): its members found as spans (mx_split), every value but
 * the rooms parsed into a small top-level tree, then each room's value
 * parsed alone and read by mx_json.c's readers (mx_json_int.h), its tree
 * freed before the next: the whole body's tree, ten times the body, is
 * never built. Anything odd sends the body to the one-tree reading. */
#include "mx_json.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mx_json_int.h"
#include "mx_split.h"

/* The split way's answers beside an enum err: SPLIT_WHOLE, the body is to
 * be read whole instead (something odd: a duplicate room, a value that is
 * not JSON), which then decides exactly as before. */
#define SPLIT_WHOLE ((enum err)100)

static json_t *span_load(const char *body, size_t at, size_t len)
{
	return json_loadb(body + at, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
}

/* span_key: the member's key decoded (a new string), NULL when it is not
 * one the tree would read alike (not a string, or a NUL in it). */
static json_t *span_key(const char *body, const struct mx_member *m)
{
	json_t *k = span_load(body, m->key, m->key_len);

	if (json_is_string(k) && !memchr(json_string_value(k), '\0', json_string_length(k)))
		return k;
	json_decref(k);
	return NULL;
}

/* span_check parses a value only to know it is JSON; 1 when it is an
 * object. SPLIT_WHOLE when it is not JSON. */
static enum err span_check(const char *body, const struct mx_member *m, int *object)
{
	json_t *v = span_load(body, m->val, m->val_len);

	if (!v)
		return SPLIT_WHOLE;
	*object = json_is_object(v);
	json_decref(v);
	return ERR_OK;
}

static int by_key(const void *a, const void *b)
{
	return strcmp(json_string_value(*(json_t *const *)a),
		      json_string_value(*(json_t *const *)b));
}

/* split_keys decodes the n keys of mem into keys[] (new references);
 * SPLIT_WHOLE when one is unreadable or two are the same (the tree keeps
 * the first's place and the last's value: left to it). */
static enum err split_keys(const char *body, const struct mx_member *mem, size_t n, json_t **keys)
{
	json_t **sorted = malloc((n ? n : 1) * sizeof(*sorted));
	enum err e = ERR_OK;
	size_t i;

	if (!sorted)
		return ERR_NOMEM;
	for (i = 0; i < n && e == ERR_OK; i++) {
		keys[i] = sorted[i] = span_key(body, &mem[i]);
		if (!keys[i])
			e = SPLIT_WHOLE;
	}
	if (e == ERR_OK) {
		qsort(sorted, n, sizeof(*sorted), by_key);
		for (i = 1; i < n && e == ERR_OK; i++)
			if (!by_key(&sorted[i - 1], &sorted[i]))
				e = SPLIT_WHOLE;
	}
	free(sorted);
	return e;
}

typedef enum err (*room_fn)(struct mx_sync *, const char *, const json_t *, const char *);

/* split_section: each_room's work on rooms[section] given as a span: one
 * room's tree at a time. */
static enum err split_section(struct mx_sync *s, const char *body, const struct mx_member *sec,
			      const char *bot, room_fn fn)
{
	struct mx_member *mem = NULL;
	json_t **keys = NULL, *r;
	size_t n = 0, i;
	int object = 0;
	enum err e;

	if (body[sec->val] != '{') {
		e = span_check(body, sec, &object);
		s->skipped += e == ERR_OK;
		return e;
	}
	e = mx_split_object(body, sec->val, sec->val_len, (size_t)-1 / 2, &mem, &n);
	if (e == ERR_PARSE || e == ERR_LIMIT)
		return SPLIT_WHOLE;
	keys = e == ERR_OK ? calloc(n ? n : 1, sizeof(*keys)) : NULL;
	e = e != ERR_OK ? e : !keys ? ERR_NOMEM : split_keys(body, mem, n, keys);
	for (i = 0; i < n && e == ERR_OK; i++) {
		const char *room = json_string_value(keys[i]);

		r = span_load(body, mem[i].val, mem[i].val_len);
		if (!r)
			e = SPLIT_WHOLE;
		else if (!mx_id_valid(room, '!') || !json_is_object(r))
			s->skipped++;
		else
			e = fn(s, room, r, bot);
		json_decref(r);
	}
	for (i = 0; keys && i < n; i++)
		json_decref(keys[i]);
	free(keys);
	free(mem);
	return e;
}

/* split_rooms reads the "rooms" value: its sections leave, invite, join
 * in that order (the last of a name wins, as in the tree), every other
 * member only checked to be JSON. */
static enum err split_rooms(struct mx_sync *s, const char *body, const struct mx_member *rooms,
			    const char *bot)
{
	static const char *const names[3] = {"leave", "invite", "join"};
	static const room_fn fns[3] = {mx_json_leave_room, mx_json_invite_room, mx_json_join_room};
	struct mx_member *mem = NULL, sec[3];
	size_t n = 0, i, k;
	int object = 0, have[3] = {0, 0, 0};
	json_t *key;
	enum err e;

	if (body[rooms->val] != '{') {
		e = span_check(body, rooms, &object);
		s->skipped += e == ERR_OK;
		return e;
	}
	e = mx_split_object(body, rooms->val, rooms->val_len, 64, &mem, &n);
	if (e == ERR_PARSE || e == ERR_LIMIT)
		return SPLIT_WHOLE;
	for (i = 0; i < n && e == ERR_OK; i++) {
		key = span_key(body, &mem[i]);
		for (k = 0; key && k < 3 && strcmp(json_string_value(key), names[k]); k++)
			;
		if (!key)
			e = SPLIT_WHOLE;
		else if (k < 3 && have[k]) /* the last wins; the one before must be JSON */
			e = span_check(body, &sec[k], &object);
		else if (k >= 3)
			e = span_check(body, &mem[i], &object);
		if (key && k < 3 && e == ERR_OK)
			sec[k] = mem[i], have[k] = 1;
		json_decref(key);
	}
	for (k = 0; k < 3 && e == ERR_OK; k++)
		if (have[k])
			e = split_section(s, body, &sec[k], bot, fns[k]);
	free(mem);
	return e;
}

/* split_top reads the body's top level: every member but "rooms" into a
 * new object *root (the last of a key wins, as in the tree), the last
 * "rooms" into *rooms (val_len 0: none). */
static enum err split_top(const char *body, size_t len, json_t **root, struct mx_member *rooms)
{
	struct mx_member *mem = NULL;
	json_t *key, *v;
	size_t n = 0, i;
	int object = 0;
	enum err e;

	memset(rooms, 0, sizeof(*rooms));
	*root = NULL;
	e = mx_split_object(body, 0, len, 1024, &mem, &n);
	if (e == ERR_PARSE || e == ERR_LIMIT)
		return SPLIT_WHOLE;
	if (e == ERR_OK && !(*root = json_object()))
		e = ERR_NOMEM;
	for (i = 0; i < n && e == ERR_OK; i++) {
		key = span_key(body, &mem[i]);
		if (key && !strcmp(json_string_value(key), "rooms")) {
			/* the last wins; the one before must be JSON all the same */
			if (rooms->val_len && span_check(body, rooms, &object) != ERR_OK)
				e = SPLIT_WHOLE;
			*rooms = mem[i];
			json_object_del(*root, "rooms");
		} else if (key && (v = span_load(body, mem[i].val, mem[i].val_len))) {
			if (json_object_set_new(*root, json_string_value(key), v))
				e = ERR_NOMEM;
		} else {
			e = SPLIT_WHOLE;
		}
		json_decref(key);
	}
	free(mem);
	return e;
}

/* parse_split reads a body (repaired) the split way; SPLIT_WHOLE when it
 * is to be read whole instead. */
static enum err parse_split(const char *body, size_t len, const struct mx_repair *rep,
			    const char *bot, struct mx_sync **out, char *errbuf, size_t errlen)
{
	struct mx_member rooms;
	struct mx_sync *s = NULL;
	json_t *root = NULL;
	enum err e;

	e = split_top(body, len, &root, &rooms);
	if (e == ERR_OK)
		e = mx_json_sync_start(root, rep, &s, errbuf, errlen);
	json_decref(root); /* the rooms are not in it: a few small values */
	if (e == ERR_OK && rooms.val_len)
		e = split_rooms(s, body, &rooms, bot);
	if (e == ERR_OK) {
		*out = s;
		s = NULL;
	} else if (e != SPLIT_WHOLE && e != ERR_PARSE) {
		if (errbuf && errlen)
			snprintf(errbuf, errlen, "%s", err_str(e));
	}
	mx_sync_free(s);
	return e;
}

enum err mx_sync_parse(const char *json, size_t len, const char *bot_user_id, struct mx_sync **out,
		       char *errbuf, size_t errlen)
{
	struct mx_repair rep;
	char *fixed = NULL;
	enum err e;

	*out = NULL;
	if (!bot_user_id)
		bot_user_id = "";
	e = mx_json_repair(json, len, &fixed, &rep);
	if (e != ERR_OK)
		return e;
	/* a room at a time; a body the split way finds odd is read whole,
	 * which decides about it exactly as it always did */
	e = parse_split(fixed ? fixed : json, len, &rep, bot_user_id, out, errbuf, errlen);
	free(fixed);
	if (e == SPLIT_WHOLE)
		e = mx_sync_parse_tree(json, len, bot_user_id, out, errbuf, errlen);
	return e;
}
