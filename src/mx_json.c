/* mx_json.c -- Matrix JSON in and out, no I/O (see mx_json.h).
 *
 * Reading: jansson parses the whole body (the HTTP layer caps its size),
 * then we walk only the paths we know, checking every type on the way;
 * anything else is skipped and counted. Strings we keep are copied with a
 * cap, so the jansson tree can be freed before the caller acts.
 * Writing: jansson builds the objects, so quoting JSON is never our job;
 * HTML escaping is, because formatted_body is HTML inside JSON. */
#include "mx_json.h"

#include <jansson.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MX_NEXT_BATCH_MAX 4096 /* a since token we will store and resend */
#define MX_HTML_MAX (1 << 20)  /* an escaped reply or alert */

/* ---- small helpers ---------------------------------------------------- */

/* A growable string with a maximum size (curl's idiom): sb_add fails with
 * ERR_LIMIT rather than grow past max. */
struct sb {
	char *p;
	size_t len, cap, max;
};

static enum err sb_add(struct sb *b, const char *s, size_t n)
{
	size_t need, ncap;
	char *np;

	if (n > b->max || b->len + n > b->max)
		return ERR_LIMIT;
	need = b->len + n + 1;
	if (need > b->cap) {
		ncap = b->cap ? b->cap : 64;
		while (ncap < need)
			ncap *= 2;
		np = realloc(b->p, ncap);
		if (!np)
			return ERR_NOMEM;
		b->p = np;
		b->cap = ncap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
	return ERR_OK;
}

static enum err sb_str(struct sb *b, const char *s) { return sb_add(b, s, strlen(s)); }

/* sb_html appends s escaped for HTML text and attribute values. */
static enum err sb_html(struct sb *b, const char *s, size_t n)
{
	enum err e = ERR_OK;
	size_t i, run = 0;
	const char *rep;

	for (i = 0; i < n && e == ERR_OK; i++) {
		switch (s[i]) {
		case '&': rep = "&amp;"; break;
		case '<': rep = "&lt;"; break;
		case '>': rep = "&gt;"; break;
		case '"': rep = "&quot;"; break;
		case '\'': rep = "&#39;"; break;
		default: rep = NULL; break;
		}
		if (!rep)
			continue;
		e = sb_add(b, s + run, i - run);
		if (e == ERR_OK)
			e = sb_str(b, rep);
		run = i + 1;
	}
	if (e == ERR_OK)
		e = sb_add(b, s + run, n - run);
	return e;
}

static enum err sb_url(struct sb *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	enum err e = ERR_OK;
	unsigned char c;
	char esc[3];

	for (; *s && e == ERR_OK; s++) {
		c = (unsigned char)*s;
		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
		    c == '~') {
			e = sb_add(b, s, 1);
			continue;
		}
		esc[0] = '%';
		esc[1] = hex[c >> 4];
		esc[2] = hex[c & 15];
		e = sb_add(b, esc, 3);
	}
	return e;
}

/* utf8_cut returns the largest n <= max such that s[0..n) does not end in
 * the middle of a UTF-8 sequence. */
static size_t utf8_cut(const char *s, size_t len, size_t max)
{
	size_t n = len;

	if (n <= max)
		return n;
	n = max;
	while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
		n--;
	return n;
}

/* dup_cap copies at most max bytes of s (cut at a UTF-8 boundary). */
static char *dup_cap(const char *s, size_t max, int *truncated)
{
	size_t len = strlen(s), n = utf8_cut(s, len, max);
	char *p = malloc(n + 1);

	if (!p)
		return NULL;
	memcpy(p, s, n);
	p[n] = '\0';
	if (truncated && n < len)
		*truncated = 1;
	return p;
}

/* valid_id: sigil, then 1..254 bytes, no space, no control characters. */
static int valid_id(const char *s, char sigil)
{
	size_t n;

	if (!s || s[0] != sigil)
		return 0;
	for (n = 0; s[n]; n++)
		if ((unsigned char)s[n] <= 0x20 || (unsigned char)s[n] == 0x7f)
			return 0;
	return n >= 2 && n <= MX_ID_MAX;
}

int mx_id_valid(const char *id, char sigil) { return valid_id(id, sigil); }

/* server_name_valid: the server_name grammar of the spec's appendices:
 * hostname [":" port], hostname a DNS name or IPv4 literal (the same
 * characters), or an IPv6 literal in brackets; port 1 to 5 digits. */
static int server_name_valid(const char *s)
{
	size_t n;

	if (*s == '[') {
		n = strspn(s + 1, "0123456789ABCDEFabcdef:.");
		if (n < 2 || n > 45 || s[1 + n] != ']')
			return 0;
		s += n + 2;
	} else {
		n = strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
		              "0123456789-.");
		if (n < 1 || n > 255)
			return 0;
		s += n;
	}
	if (*s == '\0')
		return 1;
	if (*s != ':')
		return 0;
	n = strspn(s + 1, "0123456789");
	return n >= 1 && n <= 5 && s[1 + n] == '\0';
}

int mx_user_id_valid(const char *id)
{
	size_t n;

	if (!id || id[0] != '@' || strlen(id) > MX_ID_MAX)
		return 0;
	n = strspn(id + 1, "abcdefghijklmnopqrstuvwxyz0123456789-.=_/+");
	return n >= 1 && id[1 + n] == ':' && server_name_valid(id + 2 + n);
}

enum err mx_mention_resolve(const char *mention, const char *sender, char *buf,
                            size_t buflen)
{
	char id[MX_ID_MAX + 2];
	const char *p, *server = NULL;
	size_t n, need, i;

	if (!mention)
		return ERR_INVALID;
	p = mention + strspn(mention, " \t\r\n");
	n = strlen(p);
	while (n > 0 && strchr(" \t\r\n", p[n - 1]))
		n--;
	if (n > 0 && p[0] == '@') {
		p++;
		n--;
	}
	if (n == 0 || n > MX_ID_MAX || memchr(p, '\0', n))
		return ERR_INVALID;
	if (!memchr(p, ':', n)) { /* "alice": alice on the sender's server */
		server = mx_server_name(sender);
		if (!server)
			return ERR_INVALID;
	}
	need = 1 + n + (server ? 1 + strlen(server) : 0);
	if (need > MX_ID_MAX)
		return ERR_INVALID;
	id[0] = '@';
	memcpy(id + 1, p, n);
	id[1 + n] = '\0';
	if (server) {
		id[1 + n] = ':';
		memcpy(id + 2 + n, server, strlen(server) + 1);
	}
	/* The localpart has no capitals in the spec, which says @USER:x must
	 * reach @user:x; the server name stays as written (case-sensitive). */
	for (i = 1; id[i] && id[i] != ':'; i++)
		if (id[i] >= 'A' && id[i] <= 'Z')
			id[i] = (char)(id[i] - 'A' + 'a');
	if (!mx_user_id_valid(id))
		return ERR_INVALID;
	if (need + 1 > buflen)
		return ERR_LIMIT;
	memcpy(buf, id, need + 1);
	return ERR_OK;
}

/* jstr returns obj[key] when it is a string, else NULL (borrowed). */
static const char *jstr(const json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);

	return json_is_string(v) ? json_string_value(v) : NULL;
}

/* jarr returns obj[k1][k2] when it is an array, else NULL (borrowed). */
static json_t *jarr2(const json_t *obj, const char *k1, const char *k2)
{
	json_t *v = json_object_get(obj, k1);

	v = json_is_object(v) ? json_object_get(v, k2) : NULL;
	return json_is_array(v) ? v : NULL;
}

const char *mx_server_name(const char *id)
{
	const char *c = id ? strchr(id, ':') : NULL;

	return c && c[1] ? c + 1 : NULL;
}

/* ---- reading /sync ---------------------------------------------------- */

static void action_clear(struct mx_action *a)
{
	free(a->room_id);
	free(a->sender);
	free(a->sender_name);
	free(a->event_id);
	free(a->msgtype);
	free(a->body);
	free(a->formatted_body);
	free(a->thread_root);
	free(a->reply_to);
	mx_power_free(a->power);
	memset(a, 0, sizeof(*a));
}

void mx_sync_free(struct mx_sync *s)
{
	size_t i;

	if (!s)
		return;
	for (i = 0; i < s->n; i++)
		action_clear(&s->actions[i]);
	free(s->actions);
	free(s->next_batch);
	free(s);
}

/* push_action appends a zeroed action for room_id. NULL means "skipped":
 * either out of memory (*e set) or over MX_ACTIONS_MAX (counted). */
static struct mx_action *push_action(struct mx_sync *s, enum mx_action_kind k,
                                     const char *room_id, enum err *e)
{
	struct mx_action *a, *na;
	size_t ncap;

	if (s->n >= MX_ACTIONS_MAX) {
		s->skipped++;
		return NULL;
	}
	if (s->n == s->cap) {
		ncap = s->cap ? s->cap * 2 : 16;
		na = realloc(s->actions, ncap * sizeof(*na));
		if (!na) {
			*e = ERR_NOMEM;
			return NULL;
		}
		s->actions = na;
		s->cap = ncap;
	}
	a = &s->actions[s->n];
	memset(a, 0, sizeof(*a));
	a->kind = k;
	a->room_id = dup_cap(room_id, MX_ID_MAX, NULL);
	if (!a->room_id) {
		*e = ERR_NOMEM;
		return NULL;
	}
	s->n++;
	return a;
}

/* set_str copies s into *dst (capped); returns ERR_NOMEM on failure. A NULL
 * s leaves *dst NULL. */
static enum err set_str(char **dst, const char *s, size_t max, int *trunc)
{
	if (!s)
		return ERR_OK;
	*dst = dup_cap(s, max, trunc);
	return *dst ? ERR_OK : ERR_NOMEM;
}

/* member_of returns the membership of a valid m.room.member event for
 * state_key == who, or NULL. */
static const char *member_of(const json_t *ev, const char *who)
{
	const char *t = jstr(ev, "type"), *sk = jstr(ev, "state_key");
	json_t *c = json_object_get(ev, "content");

	if (!t || strcmp(t, "m.room.member") || !sk || strcmp(sk, who) ||
	    !json_is_object(c))
		return NULL;
	return jstr(c, "membership");
}

static enum err parse_leave_room(struct mx_sync *s, const char *room,
                                 const json_t *r, const char *bot)
{
	static const char *const where[][2] = {{"timeline", "events"},
	                                       {"state", "events"}};
	enum mx_action_kind k = MX_ACT_LEFT;
	const char *by = NULL, *ms, *snd;
	enum err e = ERR_OK;
	struct mx_action *a;
	json_t *evs, *ev;
	size_t w, i;

	/* The last word on the bot's membership wins: timeline first, and in
	 * order, so a later event overrides an earlier one. */
	for (w = 0; w < 2 && !by; w++) {
		evs = jarr2(r, where[w][0], where[w][1]);
		json_array_foreach(evs, i, ev)
		{
			ms = member_of(ev, bot);
			snd = jstr(ev, "sender");
			if (!ms || !snd)
				continue;
			if (!strcmp(ms, "ban"))
				k = MX_ACT_BANNED;
			else if (!strcmp(ms, "leave"))
				k = strcmp(snd, bot) ? MX_ACT_KICKED : MX_ACT_LEFT;
			else
				continue;
			by = snd;
		}
	}
	a = push_action(s, k, room, &e);
	if (a && by && valid_id(by, '@'))
		e = set_str(&a->sender, by, MX_ID_MAX, NULL);
	return e;
}

static enum err parse_invite_room(struct mx_sync *s, const char *room,
                                  const json_t *r, const char *bot)
{
	const char *ms, *by = NULL;
	enum err e = ERR_OK;
	struct mx_action *a;
	json_t *evs, *ev, *c, *d;
	int direct = 0;
	size_t i;

	evs = jarr2(r, "invite_state", "events");
	json_array_foreach(evs, i, ev)
	{
		ms = member_of(ev, bot);
		if (!ms || strcmp(ms, "invite"))
			continue;
		by = jstr(ev, "sender");
		c = json_object_get(ev, "content");
		d = json_object_get(c, "is_direct");
		direct = json_is_true(d);
	}
	if (!by || !valid_id(by, '@')) {
		/* An invite whose inviter we cannot name: the transport can
		 * still judge it by room, so keep it, but count the oddity. */
		s->skipped++;
		by = NULL;
	}
	a = push_action(s, MX_ACT_INVITE, room, &e);
	if (!a)
		return e;
	a->is_direct = direct;
	return set_str(&a->sender, by, MX_ID_MAX, NULL);
}

/* note_name records the display name from a member event into names, and
 * as an MX_ACT_NAME action so the transport can remember it across
 * batches (lazy-loaded members are sent once, not with every message). */
static enum err note_name(struct mx_sync *s, const char *room, json_t *names,
                          const json_t *ev)
{
	const char *t = jstr(ev, "type"), *sk = jstr(ev, "state_key");
	json_t *c = json_object_get(ev, "content");
	struct mx_action *a;
	const char *ms, *dn;
	enum err e = ERR_OK;

	if (!t || strcmp(t, "m.room.member") || !valid_id(sk, '@') ||
	    !json_is_object(c))
		return ERR_OK;
	ms = jstr(c, "membership");
	dn = jstr(c, "displayname");
	if (!ms || !strcmp(ms, "invite"))
		return ERR_OK;
	if (strcmp(ms, "join") || (dn && !*dn))
		dn = NULL;
	if (dn)
		json_object_set_new(names, sk, json_string(dn));
	else
		json_object_del(names, sk);
	a = push_action(s, MX_ACT_NAME, room, &e);
	if (a)
		e = set_str(&a->sender, sk, MX_ID_MAX, NULL);
	if (a && e == ERR_OK)
		e = set_str(&a->sender_name, dn, MX_NAME_MAX, NULL);
	return e;
}

static int contains_bot(const char *s, const char *bot)
{
	return s && *bot && strstr(s, bot) != NULL;
}

static int mentions_list_bot(const json_t *content, const char *bot)
{
	json_t *ids = jarr2(content, "m.mentions", "user_ids"), *v;
	size_t i;

	json_array_foreach(ids, i, v)
	{
		if (json_is_string(v) && !strcmp(json_string_value(v), bot))
			return 1;
	}
	return 0;
}

/* fill_message fills a message action from a timeline event. It returns
 * ERR_INVALID for an event too malformed to act on (the caller then drops
 * the action and counts it). */
static enum err fill_message(struct mx_action *a, const json_t *ev,
                             const char *type, const json_t *names,
                             const char *bot)
{
	const char *id = jstr(ev, "event_id"), *snd = jstr(ev, "sender");
	json_t *c = json_object_get(ev, "content"), *rel, *irt, *ts, *uns;
	const char *mt, *body, *fmt, *fb, *rt, *root, *nm;
	enum err e;

	if (!valid_id(id, '$') || !valid_id(snd, '@') || !json_is_object(c))
		return ERR_INVALID;
	e = set_str(&a->event_id, id, MX_ID_MAX, NULL);
	if (e == ERR_OK)
		e = set_str(&a->sender, snd, MX_ID_MAX, NULL);
	nm = jstr(names, snd);
	if (e == ERR_OK)
		e = set_str(&a->sender_name, nm, MX_NAME_MAX, NULL);
	if (e != ERR_OK)
		return e;
	ts = json_object_get(ev, "origin_server_ts");
	if (json_is_integer(ts))
		a->ts = (long long)json_integer_value(ts);

	if (!strcmp(type, "m.room.redaction")) {
		a->ignore = MX_IGN_REDACTION;
		return ERR_OK;
	}
	if (!strcmp(type, "m.room.encrypted")) {
		a->ignore = MX_IGN_ENCRYPTED;
		return ERR_OK;
	}
	uns = json_object_get(ev, "unsigned");
	if (json_is_object(uns) && json_object_get(uns, "redacted_because")) {
		a->ignore = MX_IGN_REDACTION;
		return ERR_OK;
	}
	mt = jstr(c, "msgtype");
	body = jstr(c, "body");
	if (!mt || !body) {
		if (json_object_size(c) == 0) { /* redacted content */
			a->ignore = MX_IGN_REDACTION;
			return ERR_OK;
		}
		return ERR_INVALID;
	}
	e = set_str(&a->msgtype, mt, 64, NULL);
	if (e == ERR_OK)
		e = set_str(&a->body, body, MX_BODY_MAX, &a->truncated);
	fmt = jstr(c, "format");
	fb = jstr(c, "formatted_body");
	if (e == ERR_OK && fmt && fb && !strcmp(fmt, "org.matrix.custom.html"))
		e = set_str(&a->formatted_body, fb, MX_BODY_MAX, NULL);
	if (e != ERR_OK)
		return e;

	rel = json_object_get(c, "m.relates_to");
	if (json_is_object(rel)) {
		rt = jstr(rel, "rel_type");
		root = jstr(rel, "event_id");
		if (rt && !strcmp(rt, "m.replace"))
			a->ignore = MX_IGN_EDIT;
		if (rt && !strcmp(rt, "m.thread") && valid_id(root, '$'))
			e = set_str(&a->thread_root, root, MX_ID_MAX, NULL);
		irt = json_object_get(rel, "m.in_reply_to");
		root = json_is_object(irt) ? jstr(irt, "event_id") : NULL;
		if (e == ERR_OK && valid_id(root, '$'))
			e = set_str(&a->reply_to, root, MX_ID_MAX, NULL);
		if (e != ERR_OK)
			return e;
	}
	if (json_object_get(c, "m.new_content"))
		a->ignore = MX_IGN_EDIT;

	/* A thread's falling-back reply carries no quote, but an old-style
	 * rich reply does; strip it before anyone reads the body. */
	if (a->reply_to)
		mx_strip_reply_fallback(a->body);
	a->mentions_bot = mentions_list_bot(c, bot) || contains_bot(a->body, bot) ||
	                  contains_bot(a->formatted_body, bot);

	if (a->ignore != MX_IGN_NONE)
		return ERR_OK;
	if (!strcmp(snd, bot))
		a->ignore = MX_IGN_OWN;
	else if (!strcmp(mt, "m.notice"))
		a->ignore = MX_IGN_NOTICE;
	else if (strcmp(mt, "m.text") && strcmp(mt, "m.emote"))
		a->ignore = MX_IGN_MSGTYPE;
	else if (a->body[strspn(a->body, " \t\r\n")] == '\0')
		a->ignore = MX_IGN_EMPTY;
	return ERR_OK;
}

/* ---- power levels ----------------------------------------------------- */

struct mx_power {
	size_t size;       /* bytes of this allocation, for mx_power_dup */
	size_t n;          /* users kept */
	int users_default;
	int missing;       /* the level of a user not in the table */
	int levels[];      /* n levels, then the n user ids, each ending in NUL,
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

/* power_from builds a table from a content object; ERR_PARSE if c is not
 * one. Odd entries are skipped and counted in *skipped. */
static enum err power_from(const json_t *c, struct mx_power **out, size_t *skipped)
{
	struct power_entry *v = NULL;
	struct mx_power *p = NULL;
	size_t n = 0, keep, i, ids = 0, len, size;
	json_t *users, *val;
	const char *id;
	int ok, level;
	char *w;
	enum err e = ERR_OK;

	*out = NULL;
	if (!json_is_object(c))
		return ERR_PARSE;
	p = calloc(1, sizeof(*p)); /* the levels without a users map */
	if (!p)
		return ERR_NOMEM;
	val = json_object_get(c, "users_default");
	if (val) {
		p->users_default = power_value(val, &ok);
		*skipped += !ok;
	}
	p->missing = p->users_default;
	users = json_object_get(c, "users");
	if (users && !json_is_object(users)) {
		(*skipped)++;
		users = NULL;
	}
	if (json_object_size(users)) {
		v = malloc(json_object_size(users) * sizeof(*v));
		if (!v) {
			e = ERR_NOMEM;
			goto out;
		}
	}
	json_object_foreach(users, id, val)
	{
		level = power_value(val, &ok);
		if (!ok || !valid_id(id, '@')) {
			(*skipped)++;
			continue;
		}
		v[n].id = id;
		v[n].level = level;
		n++;
	}
	keep = n;
	if (n > MX_POWER_USERS_MAX) {
		/* Keep the highest (the moderators the core asks about); anyone
		 * left out gets no more than the lowest level left out. */
		qsort(v, n, sizeof(*v), power_cmp);
		keep = MX_POWER_USERS_MAX;
		if (v[n - 1].level < p->missing)
			p->missing = v[n - 1].level;
	}
	for (i = 0; i < keep; i++)
		ids += strlen(v[i].id) + 1;
	size = sizeof(*p) + keep * sizeof(int) + ids;
	*out = malloc(size);
	if (!*out) {
		e = ERR_NOMEM;
		goto out;
	}
	p->size = size;
	p->n = keep;
	memcpy(*out, p, sizeof(*p));
	w = (char *)((*out)->levels + keep);
	for (i = 0; i < keep; i++) {
		(*out)->levels[i] = v[i].level;
		len = strlen(v[i].id) + 1;
		memcpy(w, v[i].id, len);
		w += len;
	}
out:
	free(v);
	free(p);
	return e;
}

enum err mx_power_parse(const char *json, size_t len, struct mx_power **out,
                        size_t *skipped)
{
	json_t *root = json_loadb(json, len, 0, NULL);
	size_t sk = 0;
	enum err e = power_from(root, out, &sk);

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

void mx_power_free(struct mx_power *p) { free(p); }

/* note_power adds an MX_ACT_POWER action for an m.room.power_levels event
 * (state key ""). */
static enum err note_power(struct mx_sync *s, const char *room, const json_t *ev)
{
	const char *sk = jstr(ev, "state_key");
	struct mx_power *p = NULL;
	struct mx_action *a;
	enum err e;

	if (!sk || *sk) {
		s->skipped++;
		return ERR_OK;
	}
	e = power_from(json_object_get(ev, "content"), &p, &s->skipped);
	if (e == ERR_PARSE) {
		s->skipped++;
		return ERR_OK;
	}
	if (e != ERR_OK)
		return e;
	a = push_action(s, MX_ACT_POWER, room, &e);
	if (!a) {
		mx_power_free(p);
		return e;
	}
	a->power = p;
	return ERR_OK;
}

static int is_power_event(const json_t *ev)
{
	const char *t = jstr(ev, "type");

	return t && !strcmp(t, "m.room.power_levels");
}

static enum err parse_join_room(struct mx_sync *s, const char *room,
                                const json_t *r, const char *bot)
{
	json_t *names = NULL, *evs, *ev, *sum, *cnt, *tl;
	const char *type, *ms;
	struct mx_action *a;
	enum err e = ERR_OK;
	int joined = 0;
	size_t i;

	names = json_object();
	if (!names)
		return ERR_NOMEM;

	sum = json_object_get(r, "summary");
	cnt = json_is_object(sum) ? json_object_get(sum, "m.joined_member_count")
	                          : NULL;
	if (json_is_integer(cnt) && json_integer_value(cnt) >= 0) {
		a = push_action(s, MX_ACT_SUMMARY, room, &e);
		if (a)
			a->members = (long)(json_integer_value(cnt) > 1000000000
			                        ? 1000000000
			                        : json_integer_value(cnt));
		if (e != ERR_OK)
			goto out;
	}

	evs = jarr2(r, "state", "events");
	json_array_foreach(evs, i, ev)
	{
		if (!json_is_object(ev)) {
			s->skipped++;
			continue;
		}
		if (is_power_event(ev)) {
			e = note_power(s, room, ev);
			if (e != ERR_OK)
				goto out;
			continue;
		}
		e = note_name(s, room, names, ev);
		if (e != ERR_OK)
			goto out;
		ms = member_of(ev, bot);
		if (ms && !strcmp(ms, "join"))
			joined = 1;
	}
	if (joined) {
		push_action(s, MX_ACT_JOINED, room, &e);
		if (e != ERR_OK)
			goto out;
	}

	tl = json_object_get(r, "timeline");
	if (json_is_object(tl) && json_is_true(json_object_get(tl, "limited")))
		s->gaps++;
	evs = jarr2(r, "timeline", "events");
	json_array_foreach(evs, i, ev)
	{
		type = json_is_object(ev) ? jstr(ev, "type") : NULL;
		if (!type) {
			s->skipped++;
			continue;
		}
		if (is_power_event(ev)) {
			e = note_power(s, room, ev);
			if (e != ERR_OK)
				goto out;
			continue;
		}
		if (!strcmp(type, "m.room.member")) {
			e = note_name(s, room, names, ev);
			if (e != ERR_OK)
				goto out;
			ms = member_of(ev, bot);
			if (ms && !strcmp(ms, "join") && !joined) {
				joined = 1;
				push_action(s, MX_ACT_JOINED, room, &e);
				if (e != ERR_OK)
					goto out;
			}
			continue;
		}
		if (strcmp(type, "m.room.message") && strcmp(type, "m.room.redaction") &&
		    strcmp(type, "m.room.encrypted"))
			continue; /* not ours to act on; the filter should drop it */
		a = push_action(s, MX_ACT_MESSAGE, room, &e);
		if (!a) {
			if (e != ERR_OK)
				goto out;
			continue;
		}
		e = fill_message(a, ev, type, names, bot);
		if (e == ERR_INVALID) {
			action_clear(a);
			s->n--;
			s->skipped++;
			e = ERR_OK;
		}
		if (e != ERR_OK)
			goto out;
	}
out:
	json_decref(names);
	return e;
}

/* each_room calls fn for each valid room id of rooms[section]. */
static enum err each_room(struct mx_sync *s, const json_t *rooms,
                          const char *section, const char *bot,
                          enum err (*fn)(struct mx_sync *, const char *,
                                         const json_t *, const char *))
{
	json_t *sec = json_object_get(rooms, section), *r;
	enum err e = ERR_OK;
	const char *room;

	if (!sec)
		return ERR_OK;
	if (!json_is_object(sec)) {
		s->skipped++;
		return ERR_OK;
	}
	json_object_foreach(sec, room, r)
	{
		if (!valid_id(room, '!') || !json_is_object(r)) {
			s->skipped++;
			continue;
		}
		e = fn(s, room, r, bot);
		if (e != ERR_OK)
			break;
	}
	return e;
}

static void set_errbuf(char *buf, size_t len, const char *msg)
{
	if (buf && len)
		snprintf(buf, len, "%s", msg);
}

enum err mx_sync_parse(const char *json, size_t len, const char *bot_user_id,
                       struct mx_sync **out, char *errbuf, size_t errlen)
{
	struct mx_sync *s = NULL;
	json_t *root = NULL, *rooms;
	json_error_t jerr;
	const char *nb;
	enum err e = ERR_OK;

	*out = NULL;
	if (!bot_user_id)
		bot_user_id = "";
	root = json_loadb(json, len, 0, &jerr);
	if (!root || !json_is_object(root)) {
		set_errbuf(errbuf, errlen, root ? "sync response is not an object"
		                                : "sync response is not JSON");
		e = ERR_PARSE;
		goto out;
	}
	nb = jstr(root, "next_batch");
	if (!nb || !*nb || strlen(nb) > MX_NEXT_BATCH_MAX) {
		set_errbuf(errbuf, errlen, "sync response has no usable next_batch");
		e = ERR_PARSE;
		goto out;
	}
	s = calloc(1, sizeof(*s));
	if (!s || !(s->next_batch = dup_cap(nb, MX_NEXT_BATCH_MAX, NULL))) {
		e = ERR_NOMEM;
		goto out;
	}
	rooms = json_object_get(root, "rooms");
	if (rooms && !json_is_object(rooms)) {
		s->skipped++;
		rooms = NULL;
	}
	e = each_room(s, rooms, "leave", bot_user_id, parse_leave_room);
	if (e == ERR_OK)
		e = each_room(s, rooms, "invite", bot_user_id, parse_invite_room);
	if (e == ERR_OK)
		e = each_room(s, rooms, "join", bot_user_id, parse_join_room);
	if (e != ERR_OK) {
		set_errbuf(errbuf, errlen, err_str(e));
		goto out;
	}
	*out = s;
	s = NULL;
out:
	mx_sync_free(s);
	json_decref(root);
	return e;
}

void mx_strip_reply_fallback(char *body)
{
	char *p = body, *nl;

	if (!body || strncmp(body, "> ", 2))
		return;
	while (!strncmp(p, "> ", 2)) {
		nl = strchr(p, '\n');
		if (!nl)
			return; /* all quote: leave it, someone may need it read */
		p = nl + 1;
	}
	if (*p == '\r' && p[1] == '\n')
		p++;
	if (*p != '\n')
		return; /* no blank line after: a quote of the member's own */
	p++;
	memmove(body, p, strlen(p) + 1);
}

/* ---- escaping and ids ------------------------------------------------- */

enum err mx_html_escape(const char *text, char **out)
{
	struct sb b = {NULL, 0, 0, MX_HTML_MAX};
	enum err e;

	*out = NULL;
	e = sb_add(&b, "", 0);
	if (e == ERR_OK && text)
		e = sb_html(&b, text, strlen(text));
	if (e != ERR_OK) {
		free(b.p);
		return e;
	}
	*out = b.p;
	return ERR_OK;
}

enum err mx_url_escape(const char *text, char **out)
{
	struct sb b = {NULL, 0, 0, MX_HTML_MAX};
	enum err e;

	*out = NULL;
	e = sb_add(&b, "", 0);
	if (e == ERR_OK && text)
		e = sb_url(&b, text);
	if (e != ERR_OK) {
		free(b.p);
		return e;
	}
	*out = b.p;
	return ERR_OK;
}

static enum err txn(const char *prefix, const char *id, char *buf, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = strlen(prefix);
	unsigned char c;

	if (!id || !*id || len < o + 1)
		return id && *id ? ERR_LIMIT : ERR_INVALID;
	memcpy(buf, prefix, o);
	for (; *id; id++) {
		c = (unsigned char)*id;
		if (o + 4 > len)
			return ERR_LIMIT;
		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '_') {
			buf[o++] = (char)c;
			continue;
		}
		buf[o++] = '.';
		buf[o++] = hex[c >> 4];
		buf[o++] = hex[c & 15];
	}
	buf[o] = '\0';
	return ERR_OK;
}

enum err mx_txn_reply(const char *event_id, char *buf, size_t buflen)
{
	return txn("fb-", event_id, buf, buflen);
}

enum err mx_txn_alert(const char *event_id, char *buf, size_t buflen)
{
	return txn("fba-", event_id, buf, buflen);
}

enum err mx_txn_mod(const char *event_id, char *buf, size_t buflen)
{
	return txn("fbm-", event_id, buf, buflen);
}

enum err mx_txn_notice(long long start_ms, long pid, unsigned long n, char *buf,
                       size_t buflen)
{
	int k = snprintf(buf, buflen, "fbn-%lld-%ld-%lu", start_ms, pid, n);

	return k < 0 || (size_t)k >= buflen ? ERR_LIMIT : ERR_OK;
}

/* ---- writing replies and alerts --------------------------------------- */

/* text_to_html renders plain text: a blank line (possibly with spaces)
 * separates paragraphs, a single newline becomes <br>, all else escaped.
 * lead (HTML, or NULL) goes at the start of the first paragraph. */
static enum err text_to_html(const char *text, struct sb *b, const char *lead)
{
	const char *p = text, *nl, *q;
	enum err e = ERR_OK;
	int open = 0, pending_br = 0;

	while (*p && e == ERR_OK) {
		nl = strchr(p, '\n');
		if (!nl)
			nl = p + strlen(p);
		q = nl;
		if (q > p && q[-1] == '\r')
			q--;
		if (p + strspn(p, " \t\r") >= q) { /* a blank line */
			if (open)
				e = sb_str(b, "</p>");
			open = pending_br = 0;
		} else {
			if (!open)
				e = sb_str(b, "<p>");
			else if (pending_br)
				e = sb_str(b, "<br>");
			if (e == ERR_OK && !open && lead) {
				e = sb_str(b, lead);
				lead = NULL;
			}
			open = 1;
			if (e == ERR_OK)
				e = sb_html(b, p, (size_t)(q - p));
			pending_br = 1;
		}
		p = *nl ? nl + 1 : nl;
	}
	if (e == ERR_OK && open)
		e = sb_str(b, "</p>");
	if (e == ERR_OK && lead) { /* no paragraph to put it in */
		e = sb_str(b, "<p>");
		if (e == ERR_OK)
			e = sb_str(b, lead);
		if (e == ERR_OK)
			e = sb_str(b, "</p>");
	}
	return e;
}

/* dumps serialises obj compactly into a new string. */
static enum err dumps(json_t *obj, char **out)
{
	*out = json_dumps(obj, JSON_COMPACT);
	return *out ? ERR_OK : ERR_NOMEM;
}

/* set_s sets obj[key] to a new string; ERR_INVALID for bad UTF-8. */
static enum err set_s(json_t *obj, const char *key, const char *val)
{
	json_t *v = json_string(val);

	if (!v)
		return ERR_INVALID;
	return json_object_set_new(obj, key, v) ? ERR_NOMEM : ERR_OK;
}

static enum err mentions(json_t *content, const char *const *ids, size_t n)
{
	json_t *m = json_object(), *arr = json_array();
	enum err e = ERR_OK;
	size_t i;

	if (!m || !arr) {
		e = ERR_NOMEM;
		goto out;
	}
	for (i = 0; i < n && e == ERR_OK; i++)
		if (json_array_append_new(arr, json_string(ids[i])))
			e = ERR_INVALID;
	if (e == ERR_OK && json_object_set_new(m, "user_ids", arr))
		e = ERR_NOMEM;
	arr = NULL;
	if (e == ERR_OK && json_object_set_new(content, "m.mentions", m))
		e = ERR_NOMEM;
	m = NULL;
out:
	json_decref(arr);
	json_decref(m);
	return e;
}

/* pill_html writes the HTML that directs an answer to id: a link a
 * client shows as a pill, and ": ". The anchor text is the id, not the
 * display name the spec suggests: a name is anyone's to choose, and a
 * pill reading "Moderator" must not point elsewhere. */
static enum err pill_html(struct sb *b, const char *id)
{
	struct sb url = {NULL, 0, 0, 4 * MX_ID_MAX};
	enum err e;

	e = sb_str(&url, "https://matrix.to/#/");
	if (e == ERR_OK)
		e = sb_url(&url, id);
	if (e == ERR_OK)
		e = sb_str(b, "<a href=\"");
	if (e == ERR_OK)
		e = sb_html(b, url.p, url.len);
	if (e == ERR_OK)
		e = sb_str(b, "\">");
	if (e == ERR_OK)
		e = sb_html(b, id, strlen(id));
	if (e == ERR_OK)
		e = sb_str(b, "</a>: ");
	free(url.p);
	return e;
}

/* reply_texts writes the body and formatted_body of a reply. */
static enum err reply_texts(const struct mx_reply *r, struct sb *body, struct sb *html)
{
	const char *label = r->see_answer ? "Earlier answer: " : "Earlier message: ";
	struct sb lead = {NULL, 0, 0, 16 * MX_ID_MAX};
	enum err e = ERR_OK;

	if (r->directed) {
		e = pill_html(&lead, r->mention);
		if (e == ERR_OK)
			e = sb_str(body, r->mention);
		if (e == ERR_OK)
			e = sb_str(body, ": ");
	}
	if (e == ERR_OK)
		e = sb_str(body, r->text);
	if (e == ERR_OK)
		e = sb_add(html, "", 0);
	if (e == ERR_OK)
		e = text_to_html(r->text, html, lead.p);
	if (e == ERR_OK && r->see_link) {
		e = sb_str(body, "\n\n");
		if (e == ERR_OK)
			e = sb_str(body, label);
		if (e == ERR_OK)
			e = sb_str(body, r->see_link);
		if (e == ERR_OK)
			e = sb_str(html, "<p>");
		if (e == ERR_OK)
			e = sb_str(html, label);
		if (e == ERR_OK)
			e = sb_str(html, "<a href=\"");
		if (e == ERR_OK)
			e = sb_html(html, r->see_link, strlen(r->see_link));
		if (e == ERR_OK)
			e = sb_str(html, "\">");
		if (e == ERR_OK)
			e = sb_html(html, r->see_link, strlen(r->see_link));
		if (e == ERR_OK)
			e = sb_str(html, "</a></p>");
	}
	free(lead.p);
	return e;
}

enum err mx_reply_json(const struct mx_reply *r, char **out)
{
	struct sb html = {NULL, 0, 0, MX_HTML_MAX}, body = {NULL, 0, 0, MX_HTML_MAX};
	json_t *c = NULL, *rel = NULL, *irt = NULL;
	enum err e;

	*out = NULL;
	if (!r->text || !*r->text || !valid_id(r->in_reply_to, '$') ||
	    (r->thread_root && !valid_id(r->thread_root, '$')) ||
	    (r->directed && !mx_user_id_valid(r->mention)))
		return ERR_INVALID;
	e = reply_texts(r, &body, &html);
	if (e != ERR_OK)
		goto out;
	c = json_object();
	rel = json_object();
	irt = json_object();
	if (!c || !rel || !irt) {
		e = ERR_NOMEM;
		goto out;
	}
	e = set_s(c, "msgtype", "m.notice");
	if (e == ERR_OK)
		e = set_s(c, "body", body.p);
	if (e == ERR_OK)
		e = set_s(c, "format", "org.matrix.custom.html");
	if (e == ERR_OK)
		e = set_s(c, "formatted_body", html.p);
	if (e == ERR_OK)
		e = set_s(irt, "event_id", r->in_reply_to);
	if (e == ERR_OK && r->thread_root) {
		e = set_s(rel, "rel_type", "m.thread");
		if (e == ERR_OK)
			e = set_s(rel, "event_id", r->thread_root);
		if (e == ERR_OK && json_object_set_new(rel, "is_falling_back", json_true()))
			e = ERR_NOMEM;
	}
	if (e != ERR_OK)
		goto out;
	if (json_object_set(rel, "m.in_reply_to", irt) ||
	    json_object_set(c, "m.relates_to", rel)) {
		e = ERR_NOMEM;
		goto out;
	}
	e = mentions(c, &r->mention, r->mention ? 1 : 0);
	if (e == ERR_OK)
		e = dumps(c, out);
out:
	free(html.p);
	free(body.p);
	json_decref(irt);
	json_decref(rel);
	json_decref(c);
	return e;
}

enum err mx_matrix_to_link(const char *room_id, const char *event_id,
                           const char *via, char **out)
{
	struct sb b = {NULL, 0, 0, 4 * MX_ID_MAX * 3};
	enum err e;

	*out = NULL;
	if (!room_id || !event_id)
		return ERR_INVALID;
	e = sb_str(&b, "https://matrix.to/#/");
	if (e == ERR_OK)
		e = sb_url(&b, room_id);
	if (e == ERR_OK)
		e = sb_str(&b, "/");
	if (e == ERR_OK)
		e = sb_url(&b, event_id);
	if (e == ERR_OK && via && *via) {
		e = sb_str(&b, "?via=");
		if (e == ERR_OK)
			e = sb_url(&b, via);
	}
	if (e != ERR_OK) {
		free(b.p);
		return e;
	}
	*out = b.p;
	return ERR_OK;
}

/* alert_line appends one rendering of the alert; html says which. */
static enum err alert_line(struct sb *b, const struct mx_alert *a,
                           const char *link, int html)
{
	enum err (*put)(struct sb *, const char *, size_t) = html ? sb_html : sb_add;
	enum err e;

#define PUT(s) (e == ERR_OK ? (e = put(b, (s), strlen(s))) : e)
#define LIT(s) (e == ERR_OK ? (e = sb_str(b, (s))) : e)
	e = ERR_OK;
	LIT(html ? "<p><strong>faqbot: " : "faqbot: ");
	PUT(a->kind);
	LIT(html ? "</strong> message from " : " message from ");
	if (a->sender_name && *a->sender_name) {
		PUT(a->sender_name);
		LIT(" (");
		PUT(a->sender);
		LIT(")");
	} else {
		PUT(a->sender);
	}
	LIT(" in ");
	PUT(a->room_id);
	if (a->entry_id && *a->entry_id) {
		LIT(", answered with ");
		PUT(a->entry_id);
	}
	LIT(". The message itself is not copied here: ");
	if (html) {
		LIT("<a href=\"");
		PUT(link);
		LIT("\">");
		PUT(link);
		LIT("</a></p>");
	} else {
		PUT(link);
	}
#undef PUT
#undef LIT
	return e;
}

enum err mx_alert_json(const struct mx_alert *a, char **out)
{
	struct sb text = {NULL, 0, 0, MX_HTML_MAX}, html = {NULL, 0, 0, MX_HTML_MAX};
	char *link = NULL;
	json_t *c = NULL;
	enum err e;

	*out = NULL;
	if (!valid_id(a->room_id, '!') || !valid_id(a->event_id, '$') ||
	    !valid_id(a->sender, '@') || !a->kind)
		return ERR_INVALID;
	e = mx_matrix_to_link(a->room_id, a->event_id, a->via, &link);
	if (e == ERR_OK)
		e = alert_line(&text, a, link, 0);
	if (e == ERR_OK)
		e = alert_line(&html, a, link, 1);
	if (e != ERR_OK)
		goto out;
	c = json_object();
	if (!c) {
		e = ERR_NOMEM;
		goto out;
	}
	/* m.text, not m.notice: moderators must be notified, and notices are
	 * quiet by default in most clients. */
	e = set_s(c, "msgtype", "m.text");
	if (e == ERR_OK)
		e = set_s(c, "body", text.p);
	if (e == ERR_OK)
		e = set_s(c, "format", "org.matrix.custom.html");
	if (e == ERR_OK)
		e = set_s(c, "formatted_body", html.p);
	if (e == ERR_OK)
		e = mentions(c, a->mentions, a->mentions ? a->n_mentions : 0);
	if (e == ERR_OK)
		e = dumps(c, out);
out:
	json_decref(c);
	free(link);
	free(text.p);
	free(html.p);
	return e;
}

enum err mx_notice_json(const char *text, char **out)
{
	struct sb html = {NULL, 0, 0, MX_HTML_MAX};
	json_t *c = NULL;
	enum err e;

	*out = NULL;
	if (!text || !*text)
		return ERR_INVALID;
	e = sb_add(&html, "", 0);
	if (e == ERR_OK)
		e = text_to_html(text, &html, NULL);
	if (e != ERR_OK)
		goto out;
	c = json_object();
	if (!c) {
		e = ERR_NOMEM;
		goto out;
	}
	e = set_s(c, "msgtype", "m.notice");
	if (e == ERR_OK)
		e = set_s(c, "body", text);
	if (e == ERR_OK)
		e = set_s(c, "format", "org.matrix.custom.html");
	if (e == ERR_OK)
		e = set_s(c, "formatted_body", html.p);
	if (e == ERR_OK)
		e = mentions(c, NULL, 0);
	if (e == ERR_OK)
		e = dumps(c, out);
out:
	json_decref(c);
	free(html.p);
	return e;
}

/* ---- small responses and requests ------------------------------------- */

/* copy_clean copies s into buf (cut to fit), control characters as '?'. */
static void copy_clean(char *buf, size_t len, const char *s)
{
	size_t n = utf8_cut(s, strlen(s), len - 1), i;

	for (i = 0; i < n; i++)
		buf[i] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? '?' : s[i];
	buf[n] = '\0';
}

enum err mx_error_parse(const char *json, size_t len, struct mx_error *e)
{
	json_t *root, *ra, *sl;
	const char *code, *msg;
	enum err rc = ERR_PARSE;

	memset(e, 0, sizeof(*e));
	e->retry_after_ms = -1;
	root = json_loadb(json, len, 0, NULL);
	code = json_is_object(root) ? jstr(root, "errcode") : NULL;
	if (!code)
		goto out;
	copy_clean(e->errcode, sizeof(e->errcode), code);
	msg = jstr(root, "error");
	if (msg)
		copy_clean(e->error, sizeof(e->error), msg);
	ra = json_object_get(root, "retry_after_ms");
	if (json_is_integer(ra) && json_integer_value(ra) >= 0)
		e->retry_after_ms = (long long)json_integer_value(ra);
	else if (json_is_real(ra) && json_real_value(ra) >= 0 &&
	         json_real_value(ra) < 1e15)
		e->retry_after_ms = (long long)json_real_value(ra);
	sl = json_object_get(root, "soft_logout");
	e->soft_logout = json_is_true(sl);
	rc = ERR_OK;
out:
	json_decref(root);
	return rc;
}

enum err mx_field_string(const char *json, size_t len, const char *key,
                         char *buf, size_t buflen)
{
	json_t *root = json_loadb(json, len, 0, NULL);
	const char *v = json_is_object(root) ? jstr(root, key) : NULL;
	enum err e = ERR_OK;
	size_t n, i;

	if (!v) {
		e = ERR_PARSE;
		goto out;
	}
	n = strlen(v);
	if (n + 1 > buflen) {
		e = ERR_LIMIT;
		goto out;
	}
	for (i = 0; i < n; i++)
		if ((unsigned char)v[i] < 0x20 || v[i] == 0x7f)
			e = ERR_INVALID;
	if (e == ERR_OK)
		memcpy(buf, v, n + 1);
out:
	json_decref(root);
	return e;
}

enum err mx_login_json(const char *user_id, const char *password,
                       const char *device_id, char **out)
{
	json_t *c = json_object(), *id = json_object();
	enum err e = ERR_OK;

	*out = NULL;
	if (!c || !id) {
		e = ERR_NOMEM;
		goto out;
	}
	e = set_s(id, "type", "m.id.user");
	if (e == ERR_OK)
		e = set_s(id, "user", user_id);
	if (e == ERR_OK)
		e = set_s(c, "type", "m.login.password");
	if (e == ERR_OK)
		e = set_s(c, "password", password);
	if (e == ERR_OK && device_id && *device_id)
		e = set_s(c, "device_id", device_id);
	if (e == ERR_OK)
		e = set_s(c, "initial_device_display_name", "faqbot");
	if (e == ERR_OK && json_object_set(c, "identifier", id))
		e = ERR_NOMEM;
	if (e == ERR_OK)
		e = dumps(c, out);
out:
	json_decref(id);
	json_decref(c);
	return e;
}

enum err mx_filter_json(int timeline_limit, char **out)
{
	json_t *f;

	*out = NULL;
	/* No presence, no account data, no ephemeral events (typing,
	 * receipts); state only for member events, lazily, which is enough
	 * for names, and the power levels (one event a room, for
	 * sender_power); the timeline only for what mx_sync_parse reads. */
	f = json_pack("{s:{s:[s]}, s:{s:[s]}, s:{s:{s:[s]}, s:{s:[s]},"
	              " s:{s:[s,s], s:b}, s:{s:[s,s,s,s,s], s:i}}}",
	              "presence", "not_types", "*",
	              "account_data", "not_types", "*",
	              "room",
	              "account_data", "not_types", "*",
	              "ephemeral", "not_types", "*",
	              "state", "types", "m.room.member", "m.room.power_levels",
	              "lazy_load_members", 1,
	              "timeline", "types", "m.room.message", "m.room.member",
	              "m.room.power_levels", "m.room.redaction", "m.room.encrypted",
	              "limit", timeline_limit);
	if (!f)
		return ERR_NOMEM;
	*out = json_dumps(f, JSON_COMPACT);
	json_decref(f);
	return *out ? ERR_OK : ERR_NOMEM;
}
