/* mx_json.c -- the Matrix JSON that comes in, no I/O (see mx_json.h).
 *
 * Every body is repaired first (mx_repair.h); a /sync body is then parsed
 * a room at a time (mx_json_split.c, with this file's readers of a room),
 * or, when that finds it odd, whole (mx_sync_parse_tree); a small body is
 * parsed whole (mx_json_load). We walk only the paths we know, checking every type on the way; anything
 * else is skipped and counted. Strings we keep are copied with a cap, so
 * the jansson tree can be freed before the caller acts. A body that is not
 * JSON even so still gives up its next_batch (mx_next_batch_scan), so no
 * body holds the bot. */
#include "mx_json.h"

#include "mx_json_int.h"
#include "mx_jget.h"

#include <jansson.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- small helpers ---------------------------------------------------- */

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

/* set_text copies the string v, text a member wrote, into a new *dst of
 * at most max bytes (cut at a UTF-8 boundary, *trunc set; trunc may be
 * NULL), each NUL made a space: a NUL would otherwise end the text there,
 * and what follows it (a crisis, say) must still be read. *nuls (may be
 * NULL) counts the strings that had one. v not a string: *dst stays NULL. */
static enum err set_text(char **dst, const json_t *v, size_t max, int *trunc, size_t *nuls)
{
	const char *s;
	size_t len, n, i;
	int had = 0;
	char *p;

	if (!json_is_string(v))
		return ERR_OK;
	s = json_string_value(v);
	len = json_string_length(v);
	n = utf8_cut(s, len, max);
	p = malloc(n + 1);
	if (!p)
		return ERR_NOMEM;
	for (i = 0; i < n; i++) {
		p[i] = s[i] ? s[i] : ' ';
		had |= !s[i];
	}
	p[n] = '\0';
	if (trunc && n < len)
		*trunc = 1;
	if (nuls && had)
		(*nuls)++;
	*dst = p;
	return ERR_OK;
}

/* jarr returns obj[k1][k2] when it is an array, else NULL (borrowed). */
static json_t *jarr2(const json_t *obj, const char *k1, const char *k2)
{
	json_t *v = json_object_get(obj, k1);

	v = json_is_object(v) ? json_object_get(v, k2) : NULL;
	return json_is_array(v) ? v : NULL;
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
	if (a->enc)
		mx_e2ee_megolm_release(a->enc);
	free(a->enc);
	memset(a, 0, sizeof(*a));
}

void mx_action_release(struct mx_action *a)
{
	action_clear(a);
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
	mx_e2ee_todev_free(s->todev, s->n_todev);
	mx_tx_strs_free(s->dl_users, s->n_dl);
	free(s->enc);
	free(s);
}

/* push_action appends a zeroed action for room_id. NULL means "skipped":
 * either out of memory (*e set) or over MX_ACTIONS_MAX (counted). */
static struct mx_action *push_action(struct mx_sync *s, enum mx_action_kind k, const char *room_id,
				     enum err *e)
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
	const char *t = mx_jstr(ev, "type"), *sk = mx_jstr(ev, "state_key");
	json_t *c = json_object_get(ev, "content");

	if (!t || strcmp(t, "m.room.member") || !sk || strcmp(sk, who) || !json_is_object(c))
		return NULL;
	return mx_jstr(c, "membership");
}

enum err mx_json_leave_room(struct mx_sync *s, const char *room, const json_t *r, const char *bot)
{
	static const char *const where[][2] = {{"timeline", "events"}, {"state", "events"}};
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
			snd = mx_jstr(ev, "sender");
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
	if (a && by && mx_id_valid(by, '@'))
		e = set_str(&a->sender, by, MX_ID_MAX, NULL);
	return e;
}

enum err mx_json_invite_room(struct mx_sync *s, const char *room, const json_t *r, const char *bot)
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
		by = mx_jstr(ev, "sender");
		c = json_object_get(ev, "content");
		d = json_object_get(c, "is_direct");
		direct = json_is_true(d);
	}
	if (!by || !mx_id_valid(by, '@')) {
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
static enum err note_name(struct mx_sync *s, const char *room, json_t *names, const json_t *ev)
{
	const char *t = mx_jstr(ev, "type"), *sk = mx_jstr(ev, "state_key");
	json_t *c = json_object_get(ev, "content");
	struct mx_action *a;
	const char *ms, *dn;
	enum err e = ERR_OK;

	if (!t || strcmp(t, "m.room.member") || !mx_id_valid(sk, '@') || !json_is_object(c))
		return ERR_OK;
	ms = mx_jstr(c, "membership");
	dn = mx_jstr(c, "displayname");
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

/* fill_head fills what every timeline event we act on has: its id, the
 * sender and the name this batch gave them, the time. ERR_INVALID when
 * the event is too malformed to act on. */
static enum err fill_head(struct mx_action *a, const json_t *ev, const json_t *names)
{
	const char *id = mx_jstr(ev, "event_id"), *snd = mx_jstr(ev, "sender");
	json_t *ts;
	enum err e;

	if (!mx_id_valid(id, '$') || !mx_id_valid(snd, '@') ||
	    !json_is_object(json_object_get(ev, "content")))
		return ERR_INVALID;
	e = set_str(&a->event_id, id, MX_ID_MAX, NULL);
	if (e == ERR_OK)
		e = set_str(&a->sender, snd, MX_ID_MAX, NULL);
	if (e == ERR_OK)
		e = set_str(&a->sender_name, mx_jstr(names, snd), MX_NAME_MAX, NULL);
	ts = json_object_get(ev, "origin_server_ts");
	if (json_is_integer(ts))
		a->ts = (long long)json_integer_value(ts);
	return e;
}

/* unreadable_kind: why an event of type can have no text to read
 * (redacted, encrypted), or MX_IGN_NONE. */
static enum mx_ignore unreadable_kind(const json_t *ev, const char *type)
{
	json_t *uns = json_object_get(ev, "unsigned");

	if (!strcmp(type, "m.room.redaction"))
		return MX_IGN_REDACTION;
	if (!strcmp(type, "m.room.encrypted"))
		return MX_IGN_ENCRYPTED;
	if (json_is_object(uns) && json_object_get(uns, "redacted_because"))
		return MX_IGN_REDACTION;
	return MX_IGN_NONE;
}

/* fill_text copies the msgtype, the body and, when it is HTML, the
 * formatted body. ERR_INVALID for content with no msgtype or body (but an
 * emptied content is a redaction). */
static enum err fill_text(struct mx_action *a, const json_t *c, size_t *nuls)
{
	const char *mt = mx_jstr(c, "msgtype"), *fmt = mx_jstr(c, "format");
	json_t *body = json_object_get(c, "body");
	enum err e;

	if (!mt || !json_is_string(body)) {
		if (json_object_size(c) == 0) { /* redacted content */
			a->ignore = MX_IGN_REDACTION;
			return ERR_OK;
		}
		return ERR_INVALID;
	}
	e = set_str(&a->msgtype, mt, 64, NULL);
	if (e == ERR_OK)
		e = set_text(&a->body, body, MX_BODY_MAX, &a->truncated, nuls);
	if (e == ERR_OK && fmt && !strcmp(fmt, "org.matrix.custom.html"))
		e = set_text(&a->formatted_body, json_object_get(c, "formatted_body"), MX_BODY_MAX,
			     NULL, nuls);
	return e;
}

/* fill_relations reads m.relates_to: an edit, the thread root, the event
 * replied to. */
static enum err fill_relations(struct mx_action *a, const json_t *c)
{
	json_t *rel = json_object_get(c, "m.relates_to"), *irt;
	const char *rt, *root;
	enum err e = ERR_OK;

	if (json_object_get(c, "m.new_content"))
		a->ignore = MX_IGN_EDIT;
	if (!json_is_object(rel))
		return ERR_OK;
	rt = mx_jstr(rel, "rel_type");
	root = mx_jstr(rel, "event_id");
	if (rt && !strcmp(rt, "m.replace"))
		a->ignore = MX_IGN_EDIT;
	if (rt && !strcmp(rt, "m.thread") && mx_id_valid(root, '$'))
		e = set_str(&a->thread_root, root, MX_ID_MAX, NULL);
	irt = json_object_get(rel, "m.in_reply_to");
	root = json_is_object(irt) ? mx_jstr(irt, "event_id") : NULL;
	if (e == ERR_OK && mx_id_valid(root, '$'))
		e = set_str(&a->reply_to, root, MX_ID_MAX, NULL);
	return e;
}

/* keep_megolm keeps an encrypted event's Megolm content for the
 * transport to decrypt; content it cannot use leaves a->enc NULL (the
 * event is then logged as unreadable, as before). */
static enum err keep_megolm(struct mx_action *a, const json_t *c)
{
	struct mx_megolm m;
	enum err e = mx_e2ee_megolm_parse(c, &m);

	if (e == ERR_INVALID)
		return ERR_OK;
	if (e != ERR_OK)
		return e;
	a->enc = malloc(sizeof(*a->enc));
	if (!a->enc) {
		mx_e2ee_megolm_release(&m);
		return ERR_NOMEM;
	}
	*a->enc = m;
	return ERR_OK;
}

/* fill_message fills a message action from a timeline event. It returns
 * ERR_INVALID for an event too malformed to act on (the caller then drops
 * the action and counts it). */
static enum err fill_message(struct mx_action *a, const json_t *ev, const char *type,
			     const json_t *names, const char *bot, size_t *nuls)
{
	json_t *c = json_object_get(ev, "content");
	enum err e;

	e = fill_head(a, ev, names);
	if (e != ERR_OK)
		return e;
	a->ignore = unreadable_kind(ev, type);
	if (a->ignore == MX_IGN_ENCRYPTED && strcmp(a->sender, bot))
		return keep_megolm(a, c);
	if (a->ignore != MX_IGN_NONE)
		return ERR_OK;
	e = fill_text(a, c, nuls);
	if (e != ERR_OK || a->ignore != MX_IGN_NONE)
		return e;
	e = fill_relations(a, c);
	if (e != ERR_OK)
		return e;
	/* A thread's falling-back reply carries no quote, but an old-style
	 * rich reply does; strip it before anyone reads the body. */
	if (a->reply_to)
		mx_strip_reply_fallback(a->body);
	a->mentions_bot = mentions_list_bot(c, bot) || contains_bot(a->body, bot) ||
			  contains_bot(a->formatted_body, bot);
	if (a->ignore != MX_IGN_NONE)
		return ERR_OK;
	if (!strcmp(a->sender, bot))
		a->ignore = MX_IGN_OWN;
	else if (!strcmp(a->msgtype, "m.notice"))
		a->ignore = MX_IGN_NOTICE;
	else if (strcmp(a->msgtype, "m.text") && strcmp(a->msgtype, "m.emote"))
		a->ignore = MX_IGN_MSGTYPE;
	else if (a->body[strspn(a->body, " \t\r\n")] == '\0')
		a->ignore = MX_IGN_EMPTY;
	return ERR_OK;
}

/* note_power adds an MX_ACT_POWER action for an m.room.power_levels event
 * (state key ""). */
static enum err note_power(struct mx_sync *s, const char *room, const json_t *ev)
{
	const char *sk = mx_jstr(ev, "state_key");
	struct mx_power *p = NULL;
	struct mx_action *a;
	enum err e;

	if (!sk || *sk) {
		s->skipped++;
		return ERR_OK;
	}
	e = mx_power_from_json(json_object_get(ev, "content"), &p, &s->skipped);
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

/* note_encryption keeps a room's m.room.encryption (ev, a state event);
 * 1 when ev is one (kept or, malformed, skipped) */
static int note_encryption(struct mx_sync *s, const char *room, const json_t *ev, enum err *e)
{
	const char *t = mx_jstr(ev, "type"), *sk = mx_jstr(ev, "state_key");
	struct mx_enc_state *nv;
	json_t *c = json_object_get(ev, "content");

	if (!t || strcmp(t, "m.room.encryption"))
		return 0;
	if (!sk || *sk || !json_is_object(c) || s->n_enc >= MX_ACTIONS_MAX) {
		s->skipped++;
		return 1;
	}
	nv = realloc(s->enc, (s->n_enc + 1) * sizeof(*nv));
	if (!nv) {
		*e = ERR_NOMEM;
		return 1;
	}
	s->enc = nv;
	nv = &s->enc[s->n_enc++];
	memset(nv, 0, sizeof(*nv));
	snprintf(nv->room_id, sizeof(nv->room_id), "%s", room);
	nv->megolm = mx_tx_encryption(c, &nv->rot_msgs, &nv->rot_ms);
	return 1;
}

static int is_power_event(const json_t *ev)
{
	const char *t = mx_jstr(ev, "type");

	return t && !strcmp(t, "m.room.power_levels");
}

/* join_summary adds the room's joined member count, when the sync has it. */
static enum err join_summary(struct mx_sync *s, const char *room, const json_t *r)
{
	json_t *sum = json_object_get(r, "summary");
	json_t *cnt = json_is_object(sum) ? json_object_get(sum, "m.joined_member_count") : NULL;
	struct mx_action *a;
	enum err e = ERR_OK;

	if (!json_is_integer(cnt) || json_integer_value(cnt) < 0)
		return ERR_OK;
	a = push_action(s, MX_ACT_SUMMARY, room, &e);
	if (a)
		a->members = (long)(json_integer_value(cnt) > 1000000000 ? 1000000000
									 : json_integer_value(cnt));
	return e;
}

/* join_state reads the room's state: power levels, names, and whether it
 * holds the bot's own join (*joined). */
static enum err join_state(struct mx_sync *s, const char *room, const json_t *r, json_t *names,
			   const char *bot, int *joined)
{
	json_t *evs = jarr2(r, "state", "events"), *ev;
	enum err e = ERR_OK;
	const char *ms;
	size_t i;

	json_array_foreach(evs, i, ev)
	{
		if (!json_is_object(ev)) {
			s->skipped++;
			continue;
		}
		if (is_power_event(ev)) {
			e = note_power(s, room, ev);
			if (e != ERR_OK)
				return e;
			continue;
		}
		if (note_encryption(s, room, ev, &e)) {
			if (e != ERR_OK)
				return e;
			continue;
		}
		e = note_name(s, room, names, ev);
		if (e != ERR_OK)
			return e;
		ms = member_of(ev, bot);
		if (ms && !strcmp(ms, "join"))
			*joined = 1;
	}
	if (*joined)
		push_action(s, MX_ACT_JOINED, room, &e);
	return e;
}

/* timeline_message adds a message action for ev, or drops and counts it
 * when it is too malformed to act on. */
static enum err timeline_message(struct mx_sync *s, const char *room, const json_t *ev,
				 const char *type, const json_t *names, const char *bot)
{
	struct mx_action *a;
	enum err e = ERR_OK;

	a = push_action(s, MX_ACT_MESSAGE, room, &e);
	if (!a)
		return e;
	e = fill_message(a, ev, type, names, bot, &s->repaired);
	if (e == ERR_INVALID) {
		action_clear(a);
		s->n--;
		s->skipped++;
		e = ERR_OK;
	}
	return e;
}

/* timeline_event acts on one timeline event, in order: power levels,
 * names and the bot's join (if the state had none), messages. */
static enum err timeline_event(struct mx_sync *s, const char *room, const json_t *ev, json_t *names,
			       const char *bot, int *joined)
{
	const char *type = json_is_object(ev) ? mx_jstr(ev, "type") : NULL, *ms;
	enum err e = ERR_OK;

	if (!type) {
		s->skipped++;
		return ERR_OK;
	}
	if (is_power_event(ev))
		return note_power(s, room, ev);
	if (note_encryption(s, room, ev, &e))
		return e;
	if (!strcmp(type, "m.room.member")) {
		e = note_name(s, room, names, ev);
		ms = e == ERR_OK ? member_of(ev, bot) : NULL;
		if (ms && !strcmp(ms, "join") && !*joined) {
			*joined = 1;
			push_action(s, MX_ACT_JOINED, room, &e);
		}
		return e;
	}
	if (strcmp(type, "m.room.message") && strcmp(type, "m.room.redaction") &&
	    strcmp(type, "m.room.encrypted"))
		return ERR_OK; /* not ours to act on; the filter should drop it */
	return timeline_message(s, room, ev, type, names, bot);
}

enum err mx_json_join_room(struct mx_sync *s, const char *room, const json_t *r, const char *bot)
{
	json_t *names = json_object(), *tl = json_object_get(r, "timeline"), *evs, *ev;
	enum err e;
	int joined = 0;
	size_t i;

	if (!names)
		return ERR_NOMEM;
	s->rooms++;
	e = join_summary(s, room, r);
	if (e == ERR_OK)
		e = join_state(s, room, r, names, bot, &joined);
	if (e != ERR_OK)
		goto out;
	if (json_is_object(tl) && json_is_true(json_object_get(tl, "limited")))
		s->gaps++;
	evs = jarr2(r, "timeline", "events");
	json_array_foreach(evs, i, ev)
	{
		e = timeline_event(s, room, ev, names, bot, &joined);
		if (e != ERR_OK)
			break;
	}
out:
	json_decref(names);
	return e;
}

/* each_room calls fn for each valid room id of rooms[section]. */
static enum err
each_room(struct mx_sync *s, const json_t *rooms, const char *section, const char *bot,
	  enum err (*fn)(struct mx_sync *, const char *, const json_t *, const char *))
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
		if (!mx_id_valid(room, '!') || !json_is_object(r)) {
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

/* not_json answers for a body that is not JSON even repaired: what it held
 * is lost, but its next_batch, if it has one, lets the caller go past it
 * instead of asking for it again and again. Only jansson's offset goes to
 * errbuf: its text quotes the body. */
static enum err not_json(const char *json, size_t len, const json_error_t *jerr,
			 struct mx_sync **out, char *errbuf, size_t errlen)
{
	char nb[MX_NEXT_BATCH_MAX + 1];
	struct mx_sync *s;
	enum err e;

	e = mx_next_batch_scan(json, len, nb, sizeof(nb));
	if (errbuf && errlen)
		snprintf(errbuf, errlen, "sync response is not JSON (at byte %d)%s", jerr->position,
			 e == ERR_OK ? "" : " and has no next_batch");
	if (e != ERR_OK)
		return ERR_PARSE;
	s = calloc(1, sizeof(*s));
	if (!s || !(s->next_batch = dup_cap(nb, MX_NEXT_BATCH_MAX, NULL))) {
		mx_sync_free(s);
		return ERR_NOMEM;
	}
	s->unreadable = 1;
	*out = s;
	return ERR_OK;
}

/* sync_start checks the top of a body read (root, an object) and makes
 * the list: its next_batch, the repairs counted, the key counts. */
enum err mx_json_sync_start(const json_t *root, const struct mx_repair *rep, struct mx_sync **out,
			    char *errbuf, size_t errlen)
{
	const char *nb = mx_jstr(root, "next_batch");
	struct mx_sync *s;
	enum err e;

	if (!nb || !mx_next_batch_usable(nb, strlen(nb))) {
		set_errbuf(errbuf, errlen, "sync response has no usable next_batch");
		return ERR_PARSE;
	}
	s = calloc(1, sizeof(*s));
	if (!s || !(s->next_batch = dup_cap(nb, MX_NEXT_BATCH_MAX, NULL))) {
		mx_sync_free(s);
		return ERR_NOMEM;
	}
	/* a pruned value or a number made null was a piece skipped; a
	 * repaired string is still read */
	s->skipped = rep->deep + rep->numbers;
	s->repaired = rep->surrogates + rep->key_nuls + rep->bad_bytes;
	mx_keys_sync_counts(root, &s->keys);
	e = mx_tx_device_lists(root, &s->dl_users, &s->n_dl);
	if (e == ERR_OK)
		e = mx_e2ee_todev_parse(root, &s->todev, &s->n_todev, &s->skipped);
	if (e != ERR_OK) {
		mx_sync_free(s);
		return e;
	}
	*out = s;
	return ERR_OK;
}

/* parse_whole reads a body (repaired) as one tree: the way for a body the
 * split way declined (odd, or not JSON). json is the body as it came, for
 * the next_batch scan of one that is not JSON. */
static enum err parse_whole(const char *json, const char *body, size_t len,
			    const struct mx_repair *rep, const char *bot, struct mx_sync **out,
			    char *errbuf, size_t errlen)
{
	struct mx_sync *s = NULL;
	json_t *root, *rooms;
	json_error_t jerr;
	enum err e;

	root = json_loadb(body, len, JSON_ALLOW_NUL, &jerr);
	if (!root)
		return not_json(json, len, &jerr, out, errbuf, errlen);
	if (!json_is_object(root)) {
		set_errbuf(errbuf, errlen, "sync response is not an object");
		e = ERR_PARSE;
		goto out;
	}
	e = mx_json_sync_start(root, rep, &s, errbuf, errlen);
	if (e != ERR_OK)
		goto out;
	rooms = json_object_get(root, "rooms");
	if (rooms && !json_is_object(rooms)) {
		s->skipped++;
		rooms = NULL;
	}
	e = each_room(s, rooms, "leave", bot, mx_json_leave_room);
	if (e == ERR_OK)
		e = each_room(s, rooms, "invite", bot, mx_json_invite_room);
	if (e == ERR_OK)
		e = each_room(s, rooms, "join", bot, mx_json_join_room);
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

enum err mx_sync_decrypted(const char *plain, size_t len, const struct mx_action *outer,
			   const char *bot_user_id, struct mx_action *out)
{
	json_t *root = json_loadb(plain, len, JSON_REJECT_DUPLICATES, NULL), *ev = NULL, *names;
	const char *type = mx_jstr(root, "type"), *room = mx_jstr(root, "room_id");
	size_t nuls = 0;
	enum err e = ERR_INVALID;

	memset(out, 0, sizeof(*out));
	out->kind = MX_ACT_MESSAGE;
	if (!json_is_object(root) || !type || !room || strcmp(room, outer->room_id) ||
	    !strcmp(type, "m.room.encrypted") || !json_is_object(json_object_get(root, "content")))
		goto out;
	/* the event as the timeline would have had it: the outer head, the
	 * inner type and content */
	names = json_object();
	ev = json_pack("{s:s, s:s, s:I, s:O}", "event_id", outer->event_id, "sender", outer->sender,
		       "origin_server_ts", (json_int_t)outer->ts, "content",
		       json_object_get(root, "content"));
	e = ev && names ? ERR_OK : ERR_NOMEM;
	if (e == ERR_OK && outer->sender_name)
		json_object_set_new(names, outer->sender, json_string(outer->sender_name));
	if (e == ERR_OK && !(out->room_id = dup_cap(outer->room_id, MX_ID_MAX, NULL)))
		e = ERR_NOMEM;
	if (e == ERR_OK)
		e = fill_message(out, ev, type, names, bot_user_id ? bot_user_id : "", &nuls);
	json_decref(names);
	if (e == ERR_OK && strcmp(type, "m.room.message") && out->ignore == MX_IGN_NONE)
		out->ignore = MX_IGN_MSGTYPE;
out:
	if (e != ERR_OK)
		action_clear(out);
	json_decref(ev);
	json_decref(root);
	return e;
}

enum err mx_sync_parse_tree(const char *json, size_t len, const char *bot_user_id,
			    struct mx_sync **out, char *errbuf, size_t errlen)
{
	struct mx_repair rep;
	char *fixed = NULL;
	enum err e;

	*out = NULL;
	e = mx_json_repair(json, len, &fixed, &rep);
	if (e == ERR_OK)
		e = parse_whole(json, fixed ? fixed : json, len, &rep,
				bot_user_id ? bot_user_id : "", out, errbuf, errlen);
	free(fixed);
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

/* ---- small responses and requests ------------------------------------- */

/* copy_clean copies the n bytes of s into buf (cut to fit), control
 * characters (NUL too) as '?'. */
static void copy_clean(char *buf, size_t len, const char *s, size_t n0)
{
	size_t n = utf8_cut(s, n0, len - 1), i;

	for (i = 0; i < n; i++)
		buf[i] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? '?' : s[i];
	buf[n] = '\0';
}

enum err mx_error_parse(const char *json, size_t len, struct mx_error *e)
{
	json_t *root, *ra, *sl, *msg;
	const char *code;
	enum err rc = ERR_PARSE;

	memset(e, 0, sizeof(*e));
	e->retry_after_ms = -1;
	root = mx_json_load(json, len, NULL, NULL, NULL);
	code = json_is_object(root) ? mx_jstr(root, "errcode") : NULL;
	if (!code)
		goto out;
	copy_clean(e->errcode, sizeof(e->errcode), code, strlen(code));
	msg = json_object_get(root, "error");
	if (json_is_string(msg))
		copy_clean(e->error, sizeof(e->error), json_string_value(msg),
			   json_string_length(msg));
	ra = json_object_get(root, "retry_after_ms");
	if (json_is_integer(ra) && json_integer_value(ra) >= 0)
		e->retry_after_ms = (long long)json_integer_value(ra);
	else if (json_is_real(ra) && json_real_value(ra) >= 0 && json_real_value(ra) < 1e15)
		e->retry_after_ms = (long long)json_real_value(ra);
	sl = json_object_get(root, "soft_logout");
	e->soft_logout = json_is_true(sl);
	rc = ERR_OK;
out:
	json_decref(root);
	return rc;
}

enum err mx_field_string(const char *json, size_t len, const char *key, char *buf, size_t buflen)
{
	json_t *root = mx_json_load(json, len, NULL, NULL, NULL);
	const char *v = json_is_object(root) ? mx_jstr(root, key) : NULL;
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

enum err mx_joined_count(const char *json, size_t len, long *count)
{
	json_t *root = mx_json_load(json, len, NULL, NULL, NULL);
	json_t *joined = json_object_get(root, "joined");
	enum err e = ERR_PARSE;

	if (json_is_object(joined)) {
		*count = (long)json_object_size(joined);
		e = ERR_OK;
	}
	json_decref(root);
	return e;
}
