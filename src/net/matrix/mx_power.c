/* mx_power.c -- m.room.power_levels as a lookup table (see mx_power.h):
 * one allocation, no pointers, so a table is copied with memcpy. */
#include "mx_power.h"

#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mx_ids.h"
#include "mx_repair.h"

struct mx_power {
	size_t size; /* bytes of this allocation, for mx_power_dup */
	size_t n;    /* users kept */
	int users_default;
	int missing;  /* the level of a user not in the table */
	int levels[]; /* n levels, then the n user ids, each ending in NUL,
	                    * back to back (one allocation, no pointers) */
};

struct power_entry {
	const char *id; /* borrowed from the jansson tree */
	int level;
};

/* power_value reads a level: an integer or, in rooms before version 10,
 * a string of one; clamped to an int. *ok = 0 for anything else. */
static int power_value(const json_t *v, int *ok)
{
	const char *s, *d;
	long long x;

	*ok = 1;
	if (json_is_integer(v)) {
		x = (long long)json_integer_value(v);
	} else if (json_is_string(v)) {
		s = json_string_value(v);
		d = s + (*s == '-' || *s == '+');
		if (!*d || strlen(d) > 18 || d[strspn(d, "0123456789")]) {
			*ok = 0;
			return 0;
		}
		x = strtoll(s, NULL, 10);
	} else {
		*ok = 0;
		return 0;
	}
	return x > INT_MAX ? INT_MAX : x < INT_MIN ? INT_MIN : (int)x;
}

/* power_cmp: highest level first, then by id, so the table kept from an
 * over-long users map is the same whatever order the map came in. */
static int power_cmp(const void *a, const void *b)
{
	const struct power_entry *x = a, *y = b;

	if (x->level != y->level)
		return x->level > y->level ? -1 : 1;
	return strcmp(x->id, y->id);
}

/* collect_users reads the users map into a new array *v of *n valid
 * entries (ids borrowed from the tree); the rest are counted in *skipped. */
static enum err collect_users(const json_t *users, struct power_entry **v, size_t *n,
			      size_t *skipped)
{
	const char *id;
	json_t *val;
	int ok, level;

	*v = NULL;
	*n = 0;
	if (!json_object_size(users))
		return ERR_OK;
	*v = malloc(json_object_size(users) * sizeof(**v));
	if (!*v)
		return ERR_NOMEM;
	json_object_foreach((json_t *)users, id, val)
	{
		level = power_value(val, &ok);
		if (!ok || !mx_id_valid(id, '@')) {
			(*skipped)++;
			continue;
		}
		(*v)[*n].id = id;
		(*v)[*n].level = level;
		(*n)++;
	}
	return ERR_OK;
}

/* pack makes the one allocation: head's fields, then keep levels, then
 * their ids. */
static struct mx_power *pack(struct mx_power *head, const struct power_entry *v, size_t keep)
{
	size_t i, ids = 0, len, size;
	struct mx_power *p;
	char *w;

	for (i = 0; i < keep; i++)
		ids += strlen(v[i].id) + 1;
	size = sizeof(*p) + keep * sizeof(int) + ids;
	p = malloc(size);
	if (!p)
		return NULL;
	head->size = size;
	head->n = keep;
	memcpy(p, head, sizeof(*p));
	w = (char *)(p->levels + keep);
	for (i = 0; i < keep; i++) {
		p->levels[i] = v[i].level;
		len = strlen(v[i].id) + 1;
		memcpy(w, v[i].id, len);
		w += len;
	}
	return p;
}

enum err mx_power_from_json(const json_t *c, struct mx_power **out, size_t *skipped)
{
	struct power_entry *v = NULL;
	struct mx_power head;
	size_t n = 0, keep;
	json_t *users, *val;
	enum err e;
	int ok;

	*out = NULL;
	if (!json_is_object(c))
		return ERR_PARSE;
	memset(&head, 0, sizeof(head)); /* the levels without a users map */
	val = json_object_get(c, "users_default");
	if (val) {
		head.users_default = power_value(val, &ok);
		*skipped += !ok;
	}
	head.missing = head.users_default;
	users = json_object_get(c, "users");
	if (users && !json_is_object(users)) {
		(*skipped)++;
		users = NULL;
	}
	e = collect_users(users, &v, &n, skipped);
	if (e != ERR_OK)
		return e;
	keep = n;
	if (n > MX_POWER_USERS_MAX) {
		/* Keep the highest (the moderators the core asks about); anyone
		 * left out gets no more than the lowest level left out. */
		qsort(v, n, sizeof(*v), power_cmp);
		keep = MX_POWER_USERS_MAX;
		if (v[n - 1].level < head.missing)
			head.missing = v[n - 1].level;
	}
	*out = pack(&head, v, keep);
	free(v);
	return *out ? ERR_OK : ERR_NOMEM;
}

enum err mx_power_parse(const char *json, size_t len, struct mx_power **out, size_t *skipped)
{
	json_error_t jerr;
	enum err e = ERR_OK;
	json_t *root = mx_json_load(json, len, NULL, &jerr, &e);
	size_t sk = 0;

	if (e != ERR_OK) {
		*out = NULL;
		return e;
	}
	e = mx_power_from_json(root, out, &sk);

	if (skipped)
		*skipped = sk;
	json_decref(root);
	return e;
}

int mx_power_level(const struct mx_power *p, const char *user)
{
	const char *id = (const char *)(p->levels + p->n);
	size_t i;

	for (i = 0; i < p->n; i++) {
		if (!strcmp(id, user))
			return p->levels[i];
		id += strlen(id) + 1;
	}
	return p->missing;
}

struct mx_power *mx_power_dup(const struct mx_power *p)
{
	struct mx_power *d = malloc(p->size);

	if (d)
		memcpy(d, p, p->size);
	return d;
}

void mx_power_free(struct mx_power *p)
{
	free(p);
}
