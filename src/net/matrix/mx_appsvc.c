/* mx_appsvc.c -- the Application Service requests, read (see
 * mx_appsvc.h).
 *
 * A transaction's events are read by mx_sync_parse, the one reader of
 * events the bot has: each run of events of one room that a /sync would
 * have put in the same place (the bot's invite, its leave, or a joined
 * room's timeline) is written as the smallest /sync body holding them and
 * read as one. Why not a second reader: every rule of what is a message,
 * what is the bot's own, what is a reply's fallback, what a NUL or a lone
 * surrogate does, is then the same in both modes by construction, and
 * stays so when that reader changes. The cost is a compact dump of the
 * events again (a transaction holds 100 events at most, in Synapse). */
#include "mx_appsvc.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mx_repair.h"

#define APP_V1 "/_matrix/app/v1"

/* ---- routes ----------------------------------------------------------- */

/* after_prefix: path without "/_matrix/app/v1" or, for a legacy route,
 * as it is when legacy is set; NULL when neither. */
static const char *after_prefix(const char *path, int legacy)
{
	size_t n = strlen(APP_V1);

	if (!strncmp(path, APP_V1 "/", n + 1))
		return path + n;
	return legacy ? path : NULL;
}

/* one_param: rest is "/NAME/PARAM" with PARAM one non-empty segment. */
static int one_param(const char *rest, const char *name, const char **arg, size_t *len)
{
	size_t n = strlen(name);

	if (rest[0] != '/' || strncmp(rest + 1, name, n) || rest[1 + n] != '/')
		return 0;
	*arg = rest + 2 + n;
	*len = strlen(*arg);
	return *len > 0 && !memchr(*arg, '/', *len);
}

static int id_shaped(const char *s, size_t n, char sigil)
{
	char buf[MX_ID_MAX + 1];

	if (n > MX_ID_MAX)
		return 0;
	memcpy(buf, s, n);
	buf[n] = '\0';
	return mx_id_valid(buf, sigil);
}

enum mx_as_route mx_as_route(const char *method, const char *path, const char **arg,
			     size_t *arg_len)
{
	const char *rest;
	int legacy;

	*arg = NULL;
	*arg_len = 0;
	if (!method || !path)
		return MX_AS_UNKNOWN;
	for (legacy = 0; legacy < 2; legacy++) {
		rest = after_prefix(path, legacy);
		if (!rest)
			continue;
		if (!legacy && !strcmp(rest, "/ping"))
			return strcmp(method, "POST") ? MX_AS_METHOD : MX_AS_PING;
		if (one_param(rest, "transactions", arg, arg_len)) {
			if (strcmp(method, "PUT"))
				return MX_AS_METHOD;
			return mx_as_txn_id_ok(*arg, *arg_len) ? MX_AS_TXN : MX_AS_BAD_PARAM;
		}
		if (one_param(rest, "users", arg, arg_len)) {
			if (strcmp(method, "GET"))
				return MX_AS_METHOD;
			return id_shaped(*arg, *arg_len, '@') ? MX_AS_USER : MX_AS_BAD_PARAM;
		}
		if (one_param(rest, "rooms", arg, arg_len)) {
			if (strcmp(method, "GET"))
				return MX_AS_METHOD;
			return id_shaped(*arg, *arg_len, '#') ? MX_AS_ROOM : MX_AS_BAD_PARAM;
		}
	}
	*arg = NULL;
	*arg_len = 0;
	return MX_AS_UNKNOWN;
}

/* ---- the hs_token ----------------------------------------------------- */

/* same: a and b are equal, in time that depends on their lengths only */
static int same(const char *a, const char *b)
{
	size_t na = strlen(a), nb = strlen(b), i;
	unsigned char d = na != nb;

	for (i = 0; i < na && i < nb; i++)
		d |= (unsigned char)(a[i] ^ b[i]);
	return d == 0;
}

/* bearer: the token of "Bearer TOKEN" (the scheme in any case, blanks
 * around), or NULL */
static const char *bearer(const char *h, char *buf, size_t len)
{
	size_t n;

	while (*h == ' ' || *h == '\t')
		h++;
	if (strncasecmp(h, "Bearer", 6) || (h[6] != ' ' && h[6] != '\t'))
		return NULL;
	h += 6;
	while (*h == ' ' || *h == '\t')
		h++;
	n = strlen(h);
	while (n > 0 && (h[n - 1] == ' ' || h[n - 1] == '\t'))
		n--;
	if (n == 0 || n >= len)
		return NULL;
	memcpy(buf, h, n);
	buf[n] = '\0';
	return buf;
}

enum mx_as_auth mx_as_auth_check(const char *authorization, const char *query_token,
				 const char *hs_token)
{
	char buf[4096];
	const char *tok = NULL;
	int ok = 1;

	if (!hs_token || !*hs_token)
		return MX_AS_AUTH_WRONG; /* nothing can match: refuse all */
	if (authorization) {
		tok = bearer(authorization, buf, sizeof(buf));
		if (!tok)
			return MX_AS_AUTH_WRONG; /* another scheme, or empty */
		ok &= same(tok, hs_token);
	}
	if (query_token) {
		ok &= same(query_token, hs_token);
		tok = query_token;
	}
	if (!tok)
		return MX_AS_AUTH_MISSING;
	return ok ? MX_AS_AUTH_OK : MX_AS_AUTH_WRONG;
}

/* ---- a transaction's events ------------------------------------------- */

enum place { PLACE_JOIN, PLACE_INVITE, PLACE_LEAVE };

static const char *jstr(const json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);

	return json_is_string(v) ? json_string_value(v) : NULL;
}

/* place_of: where a /sync would have put ev for the bot */
static enum place place_of(const json_t *ev, const char *bot)
{
	const char *t = jstr(ev, "type"), *sk = jstr(ev, "state_key"), *ms;
	json_t *c = json_object_get(ev, "content");

	if (!t || strcmp(t, "m.room.member") || !sk || strcmp(sk, bot) || !json_is_object(c))
		return PLACE_JOIN;
	ms = jstr(c, "membership");
	if (ms && !strcmp(ms, "invite"))
		return PLACE_INVITE;
	if (ms && (!strcmp(ms, "leave") || !strcmp(ms, "ban")))
		return PLACE_LEAVE;
	return PLACE_JOIN;
}

/* take_actions moves every action of from to the end of to (from keeps
 * none) and adds its counts. */
static enum err take_actions(struct mx_sync *to, struct mx_sync *from)
{
	size_t need = to->n + from->n;
	struct mx_action *na;

	if (need > to->cap) {
		na = realloc(to->actions, need * sizeof(*na));
		if (!na)
			return ERR_NOMEM;
		to->actions = na;
		to->cap = need;
	}
	if (from->n)
		memcpy(to->actions + to->n, from->actions, from->n * sizeof(*na));
	to->n = need;
	from->n = 0;
	to->skipped += from->skipped;
	to->repaired += from->repaired;
	return ERR_OK;
}

/* read_run reads evs (one room's, one place) as the /sync body that holds
 * them, and adds what it gives to out */
static enum err read_run(struct mx_sync *out, const char *room, enum place p, json_t *evs,
			 const char *bot)
{
	static const char *const section[] = {"join", "invite", "leave"};
	json_t *body;
	struct mx_sync *s = NULL;
	char *text;
	enum err e;

	body = json_pack("{s:s, s:{s:{s:{s:{s:O}}}}}", "next_batch", "as", "rooms", section[p],
			 room, p == PLACE_INVITE ? "invite_state" : "timeline", "events", evs);
	if (!body)
		return ERR_NOMEM;
	text = json_dumps(body, JSON_COMPACT);
	json_decref(body);
	if (!text)
		return ERR_NOMEM;
	e = mx_sync_parse(text, strlen(text), bot, &s, NULL, 0);
	free(text);
	if (e == ERR_OK && s->unreadable) {
		out->skipped++; /* cannot be: it was dumped by jansson */
	} else if (e == ERR_OK) {
		e = take_actions(out, s);
	} else if (e == ERR_PARSE) {
		out->skipped++;
		e = ERR_OK;
	}
	mx_sync_free(s);
	return e;
}

/* room_of: ev's room id when ev is an object with a usable one, else NULL */
static const char *room_of(const json_t *ev)
{
	const char *r = json_is_object(ev) ? jstr(ev, "room_id") : NULL;

	return r && mx_id_valid(r, '!') ? r : NULL;
}

/* each_run calls read_run for each run of events, in order */
static enum err each_run(struct mx_sync *out, const json_t *events, const char *bot)
{
	size_t i = 0, n = json_array_size(events), j;
	enum err e = ERR_OK;

	while (i < n && e == ERR_OK) {
		json_t *ev = json_array_get(events, i), *run;
		const char *room = room_of(ev);
		enum place p;

		if (!room) {
			out->skipped++;
			i++;
			continue;
		}
		p = place_of(ev, bot);
		run = json_array();
		if (!run)
			return ERR_NOMEM;
		for (j = i; j < n; j++) {
			json_t *next = json_array_get(events, j);
			const char *r = room_of(next);

			if (!r || strcmp(r, room) || place_of(next, bot) != p)
				break;
			json_array_append(run, next);
		}
		e = read_run(out, room, p, run, bot);
		json_decref(run);
		i = j;
	}
	return e;
}

enum err mx_as_txn_parse(const char *json, size_t len, const char *bot_user_id,
			 struct mx_sync **out, char *errbuf, size_t errlen)
{
	struct mx_repair rep = {0};
	struct mx_sync *s = NULL;
	json_t *root, *events;
	enum err e = ERR_OK;

	*out = NULL;
	if (!bot_user_id)
		bot_user_id = "";
	root = mx_json_load(json, len, &rep, NULL, &e);
	if (e != ERR_OK)
		return e;
	events = json_is_object(root) ? json_object_get(root, "events") : NULL;
	if (!json_is_array(events)) {
		if (errbuf && errlen)
			snprintf(errbuf, errlen, "%s",
				 !root                  ? "the transaction is not JSON"
				 : json_is_object(root) ? "the transaction has no events array"
							: "the transaction is not an object");
		json_decref(root);
		return ERR_PARSE;
	}
	s = calloc(1, sizeof(*s));
	if (!s || !(s->next_batch = strdup("as"))) {
		free(s);
		json_decref(root);
		return ERR_NOMEM;
	}
	s->skipped = rep.deep + rep.numbers;
	s->repaired = rep.surrogates + rep.key_nuls + rep.bad_bytes;
	e = each_run(s, events, bot_user_id);
	json_decref(root);
	if (e != ERR_OK) {
		mx_sync_free(s);
		return e;
	}
	*out = s;
	return ERR_OK;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

enum err mx_as_joined_rooms(const char *json, size_t len, char ***out, size_t *n)
{
	json_t *root = mx_json_load(json, len, NULL, NULL, NULL), *arr, *v;
	char **list = NULL;
	size_t i, k = 0;

	*out = NULL;
	*n = 0;
	arr = json_is_object(root) ? json_object_get(root, "joined_rooms") : NULL;
	if (!json_is_array(arr)) {
		json_decref(root);
		return ERR_PARSE;
	}
	if (json_array_size(arr)) {
		list = calloc(json_array_size(arr), sizeof(*list));
		if (!list) {
			json_decref(root);
			return ERR_NOMEM;
		}
	}
	json_array_foreach(arr, i, v)
	{
		const char *id = json_string_value(v);

		if (!id || !mx_id_valid(id, '!'))
			continue;
		list[k] = strdup(id);
		if (!list[k]) {
			while (k--)
				free(list[k]);
			free(list);
			json_decref(root);
			return ERR_NOMEM;
		}
		k++;
	}
	json_decref(root);
	if (k)
		qsort(list, k, sizeof(*list), cmp_str);
	else {
		free(list);
		list = NULL;
	}
	*out = list;
	*n = k;
	return ERR_OK;
}

/* ---- the transactions handled ----------------------------------------- */

int mx_as_txn_id_ok(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || n > MX_AS_TXN_ID_MAX)
		return 0;
	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
			return 0;
	return 1;
}

int mx_as_txns_has(const struct mx_as_txns *t, const char *id)
{
	size_t i, first = (t->next + MX_AS_TXNS_KEEP - t->n) % MX_AS_TXNS_KEEP;

	for (i = 0; i < t->n; i++)
		if (!strcmp(t->ids[(first + i) % MX_AS_TXNS_KEEP], id))
			return 1;
	return 0;
}

void mx_as_txns_forget_newest(struct mx_as_txns *t)
{
	if (!t->n)
		return;
	t->next = (t->next + MX_AS_TXNS_KEEP - 1) % MX_AS_TXNS_KEEP;
	free(t->ids[t->next]);
	t->ids[t->next] = NULL;
	t->n--;
}

enum err mx_as_txns_add(struct mx_as_txns *t, const char *id)
{
	char *copy;

	if (!id || !mx_as_txn_id_ok(id, strlen(id)))
		return ERR_INVALID;
	copy = strdup(id);
	if (!copy)
		return ERR_NOMEM;
	free(t->ids[t->next]); /* the oldest, once full */
	t->ids[t->next] = copy;
	t->next = (t->next + 1) % MX_AS_TXNS_KEEP;
	if (t->n < MX_AS_TXNS_KEEP)
		t->n++;
	return ERR_OK;
}

enum err mx_as_txns_load(struct mx_as_txns *t, const char *text, size_t len)
{
	const char *p = text, *end = text + len;
	char id[MX_AS_TXN_ID_MAX + 1];

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = (size_t)((nl ? nl : end) - p);

		if (mx_as_txn_id_ok(p, n)) {
			memcpy(id, p, n);
			id[n] = '\0';
			if (!mx_as_txns_has(t, id) && mx_as_txns_add(t, id) == ERR_NOMEM)
				return ERR_NOMEM;
		}
		p += n + 1;
	}
	return ERR_OK;
}

char *mx_as_txns_text(const struct mx_as_txns *t)
{
	size_t i, len = 1, at = 0, first = (t->next + MX_AS_TXNS_KEEP - t->n) % MX_AS_TXNS_KEEP;
	char *out;

	for (i = 0; i < t->n; i++)
		len += strlen(t->ids[(first + i) % MX_AS_TXNS_KEEP]) + 1;
	out = malloc(len);
	if (!out)
		return NULL;
	for (i = 0; i < t->n; i++) {
		const char *id = t->ids[(first + i) % MX_AS_TXNS_KEEP];
		size_t n = strlen(id);

		memcpy(out + at, id, n);
		out[at + n] = '\n';
		at += n + 1;
	}
	out[at] = '\0';
	return out;
}

void mx_as_txns_release(struct mx_as_txns *t)
{
	size_t i;

	for (i = 0; i < MX_AS_TXNS_KEEP; i++)
		free(t->ids[i]);
	memset(t, 0, sizeof(*t));
}
