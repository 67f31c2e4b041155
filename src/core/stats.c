/* stats.c -- counts per day (see stats.h). */
#include "stats.h"

#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

#define SESSION (-1L) /* the day of the since-start records */

struct record {
	long day;
	enum stats_kind kind;
	long n;
	char *key;
};

struct stats {
	struct record *v;
	size_t n, cap;
	int full_logged;
};

static const char *const kind_names[STATS_KINDS] = {"answers", "unanswered", "quiet"};

long stats_day(time_t t)
{
	return (long)(t / 86400);
}

struct stats *stats_new(void)
{
	return calloc(1, sizeof(struct stats));
}

void stats_free(struct stats *st)
{
	size_t i;

	if (!st)
		return;
	for (i = 0; i < st->n; i++)
		free(st->v[i].key);
	free(st->v);
	free(st);
}

/* bump adds n to (day, kind, key), making the record when new. Today's
 * records sit at the end, so the search runs backwards. */
static enum err bump(struct stats *st, long day, enum stats_kind kind, const char *key, long n)
{
	size_t i, kl = strnlen(key, STATS_KEY_MAX - 1);
	struct record *r;

	for (i = st->n; i-- > 0;) {
		r = &st->v[i];
		if (r->day == day && r->kind == kind && strncmp(r->key, key, kl) == 0 &&
		    r->key[kl] == '\0') {
			r->n += n;
			return ERR_OK;
		}
	}
	if (st->n >= STATS_RECORDS_MAX) {
		if (!st->full_logged)
			log_warn("stats full: %d records; further keys are not counted",
				 STATS_RECORDS_MAX);
		st->full_logged = 1;
		return ERR_LIMIT;
	}
	if (st->n == st->cap) {
		size_t cap = st->cap ? st->cap * 2 : 64;
		struct record *nv = realloc(st->v, cap * sizeof(*nv));

		if (!nv)
			return ERR_NOMEM;
		st->v = nv;
		st->cap = cap;
	}
	r = &st->v[st->n];
	r->key = strndup(key, kl);
	if (!r->key)
		return ERR_NOMEM;
	r->day = day;
	r->kind = kind;
	r->n = n;
	st->n++;
	return ERR_OK;
}

enum err stats_add(struct stats *st, long day, enum stats_kind kind, const char *key)
{
	enum err e = bump(st, day, kind, key, 1);

	if (e != ERR_OK)
		return e;
	return bump(st, SESSION, kind, key, 1);
}

static int by_count(const void *a, const void *b)
{
	const struct stats_count *x = a, *y = b;

	if (x->n != y->n)
		return x->n < y->n ? 1 : -1;
	return strcmp(x->key, y->key);
}

static int in_range(long day, long from, long to)
{
	if (from < 0)
		return day == SESSION;
	return day != SESSION && day >= from && day <= to;
}

size_t stats_collect(const struct stats *st, enum stats_kind kind, long from, long to,
		     struct stats_count **out)
{
	struct stats_count *v;
	size_t i, j, n = 0;

	*out = NULL;
	v = calloc(st->n ? st->n : 1, sizeof(*v));
	if (!v)
		return 0;
	for (i = 0; i < st->n; i++) {
		const struct record *r = &st->v[i];

		if (r->kind != kind || !in_range(r->day, from, to))
			continue;
		for (j = 0; j < n && strcmp(v[j].key, r->key) != 0; j++)
			;
		if (j == n)
			v[n++].key = r->key;
		v[j].n += r->n;
	}
	qsort(v, n, sizeof(*v), by_count);
	*out = v;
	return n;
}

long stats_total(const struct stats *st, enum stats_kind kind, long from, long to,
		 const char *prefix)
{
	size_t i, pl = strlen(prefix);
	long sum = 0;

	for (i = 0; i < st->n; i++) {
		const struct record *r = &st->v[i];

		if (r->kind == kind && in_range(r->day, from, to) &&
		    strncmp(r->key, prefix, pl) == 0)
			sum += r->n;
	}
	return sum;
}

/* day_text writes day as YYYY-MM-DD. */
static void day_text(long day, char *buf, size_t len)
{
	time_t t = (time_t)day * 86400;
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, len, "%Y-%m-%d", &tm);
}

long stats_day_parse(const char *s)
{
	int y, m, d;
	struct tm tm = {0};
	char tail;

	if (sscanf(s, "%4d-%2d-%2d%c", &y, &m, &d, &tail) != 3 || y < 1970 || y > 9999 || m < 1 ||
	    m > 12 || d < 1 || d > 31)
		return -1;
	tm.tm_year = y - 1900;
	tm.tm_mon = m - 1;
	tm.tm_mday = d;
	return stats_day(timegm(&tm));
}

char *stats_to_json(const struct stats *st, long keep_from)
{
	json_t *root = json_object(), *days = json_object();
	char *text = NULL;
	size_t i;

	if (!root || !days)
		goto out;
	if (json_object_set_new(root, "version", json_integer(1)) != 0)
		goto out;
	for (i = 0; i < st->n; i++) {
		const struct record *r = &st->v[i];
		json_t *day, *kind;
		char name[16];

		if (r->day == SESSION || r->day < keep_from)
			continue;
		day_text(r->day, name, sizeof(name));
		day = json_object_get(days, name);
		if (!day) {
			day = json_object();
			if (!day || json_object_set_new(days, name, day) != 0)
				goto out;
		}
		kind = json_object_get(day, kind_names[r->kind]);
		if (!kind) {
			kind = json_object();
			if (!kind || json_object_set_new(day, kind_names[r->kind], kind) != 0)
				goto out;
		}
		if (json_object_set_new(kind, r->key, json_integer(r->n)) != 0)
			goto out;
	}
	if (json_object_set(root, "days", days) != 0)
		goto out;
	text = json_dumps(root, JSON_COMPACT | JSON_SORT_KEYS);
out:
	json_decref(days);
	json_decref(root);
	return text;
}

enum err stats_from_json(struct stats *st, const char *text, size_t len, size_t *skipped)
{
	json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL), *days, *day;
	struct stats tmp = {0};
	enum err e = ERR_PARSE;
	const char *name;
	size_t i, bad = 0;

	days = json_object_get(root, "days");
	if (!json_is_object(root) || !json_is_object(days))
		goto out;
	/* into tmp first, so that running out of memory half-way adds nothing */
	json_object_foreach(days, name, day)
	{
		long d = stats_day_parse(name);
		int k;

		if (d < 0 || !json_is_object(day)) {
			bad++;
			continue;
		}
		for (k = 0; k < STATS_KINDS; k++) {
			json_t *kind = json_object_get(day, kind_names[k]), *v;
			const char *key;

			if (!kind)
				continue;
			if (!json_is_object(kind)) {
				bad++;
				continue;
			}
			json_object_foreach(kind, key, v)
			{
				if (!json_is_integer(v) || json_integer_value(v) < 0 ||
				    json_integer_value(v) > LONG_MAX / 2) {
					bad++;
					continue;
				}
				e = bump(&tmp, d, (enum stats_kind)k, key,
					 (long)json_integer_value(v));
				if (e == ERR_NOMEM)
					goto out;
				bad += e != ERR_OK;
			}
		}
	}
	for (i = 0; i < tmp.n; i++) {
		e = bump(st, tmp.v[i].day, tmp.v[i].kind, tmp.v[i].key, tmp.v[i].n);
		if (e == ERR_NOMEM)
			goto out;
	}
	e = ERR_OK;
out:
	if (skipped)
		*skipped = bad;
	for (i = 0; i < tmp.n; i++)
		free(tmp.v[i].key);
	free(tmp.v);
	json_decref(root);
	return e;
}
