/* matrix_rooms.c -- what the Matrix transport knows of its rooms (see
 * matrix_int.h): a cache of rooms (member count, direct or not, power
 * levels), display names from earlier batches, which invites to accept,
 * joins and declines, and the ring of earlier answers for "see the answer
 * above" links. What a sync says of a room is acted on here
 * (matrix_room_act); what the server must be asked is matrix_ask.c's. */
#include "matrix_int.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mx_html.h"
#include "strs.h"

/* ---- the cache -------------------------------------------------------- */

/* The cache is an array (known) with an index beside it (mx_index): at
 * 10,000 rooms a scan of the array cost a message tens of microseconds. */
static const char *room_key(const void *ctx, size_t i)
{
	return ((const struct matrix *)ctx)->known[i].id;
}

struct matrix_room *matrix_room(struct matrix *m, const char *id, int create)
{
	struct matrix_room *nr;
	size_t ncap;
	long at;

	if (!m->rooms_ix.keyof)
		mx_index_init(&m->rooms_ix, room_key, m);
	at = mx_index_find(&m->rooms_ix, id);
	if (at >= 0)
		return &m->known[at];
	if (!create)
		return NULL;
	if (m->n_known == m->cap_known) {
		ncap = m->cap_known ? m->cap_known * 2 : 16;
		nr = realloc(m->known, ncap * sizeof(*nr));
		if (!nr)
			return NULL;
		m->known = nr;
		m->cap_known = ncap;
	}
	nr = &m->known[m->n_known];
	memset(nr, 0, sizeof(*nr));
	nr->id = strs_dup(id);
	if (!nr->id)
		return NULL;
	nr->members = -1;
	if (mx_index_add(&m->rooms_ix, m->n_known) != ERR_OK) {
		free(nr->id);
		return NULL;
	}
	m->n_known++;
	return nr;
}

static void room_forget(struct matrix *m, const char *id)
{
	long at = m->rooms_ix.keyof ? mx_index_find(&m->rooms_ix, id) : -1;
	size_t last = m->n_known - 1;
	struct matrix_room *r;

	if (at < 0)
		return;
	/* what waited for its facts is handled first, in order (its replies
	 * may not land: the log says so, as for any send refused) */
	matrix_held_flush(m, &m->known[at]);
	at = mx_index_find(&m->rooms_ix, id);
	if (at < 0)
		return;
	r = &m->known[at];
	mx_index_remove(&m->rooms_ix, r->id, (size_t)at);
	mx_index_moved(&m->rooms_ix, m->known[last].id, last, (size_t)at);
	free(r->id);
	mx_power_free(r->power);
	*r = m->known[last];
	m->n_known--;
}

/* name_hash: FNV-1a over room, a NUL, user: compared before the strings,
 * so a lookup in a full ring (MATRIX_NAMES_MAX names, the same member in
 * many rooms) is a scan of numbers, not of two strings an entry, once a
 * message */
static unsigned long name_hash(const char *room, const char *user)
{
	unsigned long h = 2166136261UL;
	const unsigned char *p;

	for (p = (const unsigned char *)room; *p; p++)
		h = ((h ^ *p) * 16777619UL) & 0xffffffffUL;
	h = (h * 16777619UL) & 0xffffffffUL; /* the NUL between them */
	for (p = (const unsigned char *)user; *p; p++)
		h = ((h ^ *p) * 16777619UL) & 0xffffffffUL;
	return h;
}

static struct matrix_name *name_find(struct matrix *m, const char *room, const char *user)
{
	unsigned long h = name_hash(room, user);
	size_t i;

	for (i = 0; i < MATRIX_NAMES_MAX; i++)
		if (m->names[i].hash == h && m->names[i].user && !strcmp(m->names[i].user, user) &&
		    !strcmp(m->names[i].room, room))
			return &m->names[i];
	return NULL;
}

/* name_set remembers (or, name NULL, forgets) user's name in room. */
static void name_set(struct matrix *m, const char *room, const char *user, const char *name)
{
	struct matrix_name *n = name_find(m, room, user);
	char *copy;

	if (!name) {
		if (n) {
			free(n->name);
			n->name = NULL;
		}
		return;
	}
	if (!n) {
		n = &m->names[m->names_next];
		m->names_next = (m->names_next + 1) % MATRIX_NAMES_MAX;
		free(n->room);
		free(n->user);
		free(n->name);
		n->room = strs_dup(room);
		n->user = strs_dup(user);
		n->name = NULL;
		n->hash = name_hash(room, user);
		if (!n->room || !n->user) {
			free(n->room);
			free(n->user);
			n->room = n->user = NULL;
			return;
		}
	}
	copy = strs_dup(name);
	if (copy) {
		free(n->name);
		n->name = copy;
	}
}

const char *matrix_room_name(struct matrix *m, const char *room, const char *user)
{
	struct matrix_name *n = name_find(m, room, user);

	return n ? n->name : NULL;
}

/* ---- power levels ----------------------------------------------------- */

int matrix_room_power(const struct matrix_room *room, const char *user)
{
	return room->power ? mx_power_level(room->power, user) : -1;
}

/* ---- membership ------------------------------------------------------- */

/* invite_allowed: see struct matrix_config. */
static int invite_allowed(const struct matrix *m, const char *room, const char *inviter)
{
	const char *server = inviter ? mx_server_name(inviter) : NULL;
	size_t i, sl, al;
	const char *a;

	if (m->mod_room && !strcmp(room, m->mod_room))
		return 1;
	for (i = 0; i < m->n_rooms; i++)
		if (m->rooms[i] && !strcmp(m->rooms[i], room))
			return 1;
	for (i = 0; inviter && i < m->n_mods; i++)
		if (m->mods[i] && !strcmp(m->mods[i], inviter))
			return 1;
	for (i = 0; i < m->n_allow; i++) {
		a = m->allow[i];
		if (!a || !*a)
			continue;
		if (a[0] == '!' && !strcmp(a, room))
			return 1;
		if (a[0] == '@' && inviter && !strcmp(a, inviter))
			return 1;
		if (!server || a[0] == '@' || a[0] == '!' || a[0] == '#')
			continue;
		if (!strcasecmp(a, server))
			return 1;
		if (a[0] == '*' && a[1] == '.') { /* "*.example.org" */
			sl = strlen(server);
			al = strlen(a + 1);
			if (sl > al && !strcasecmp(server + sl - al, a + 1))
				return 1;
		}
	}
	return 0;
}

enum err matrix_join(struct matrix *m, const char *target, int direct, int at_start)
{
	struct matrix_send_spec sp;
	enum err e;

	memset(&sp, 0, sizeof(sp));
	sp.kind = MATRIX_SEND_JOIN;
	sp.room = target;
	sp.direct = direct;
	sp.journal = !at_start;
	sp.gate = at_start && !m->since;
	e = matrix_send_put(m, &sp, NULL);
	if (e != ERR_OK)
		log_warn("join room=%s not queued: %s", target, err_str(e));
	return e;
}

void matrix_room_joined(struct matrix *m, const char *room, int direct)
{
	struct matrix_room *r;

	if (direct && (r = matrix_room(m, room, 1)))
		r->direct = 1;
}

/* decline queues the leave of a room the bot was invited to and will not
 * join. */
static enum err decline(struct matrix *m, const char *room)
{
	struct matrix_send_spec sp;

	memset(&sp, 0, sizeof(sp));
	sp.kind = MATRIX_SEND_LEAVE;
	sp.room = room;
	sp.journal = 1;
	return matrix_send_put(m, &sp, NULL);
}

static enum err invited(struct matrix *m, const struct mx_action *a)
{
	if (!invite_allowed(m, a->room_id, a->sender)) {
		log_info("invite room=%s from=%s declined (not in allow_invites)", a->room_id,
			 a->sender ? a->sender : "?");
		return decline(m, a->room_id);
	}
	log_info("invite room=%s from=%s accepted", a->room_id, a->sender ? a->sender : "?");
	return matrix_join(m, a->room_id, a->is_direct, 0);
}

static void set_power(struct matrix *m, const struct mx_action *a)
{
	struct mx_power *p = a->power ? mx_power_dup(a->power) : NULL;
	struct matrix_room *room = matrix_room(m, a->room_id, 1);

	if (room && p) {
		mx_power_free(room->power);
		room->power = p;
		room->power_asked = 1;
	} else {
		mx_power_free(p); /* no memory: the old levels stay */
	}
}

enum err matrix_room_act(struct matrix *m, const struct mx_action *a)
{
	struct matrix_room *room;

	switch (a->kind) {
	case MX_ACT_INVITE:
		return invited(m, a);
	case MX_ACT_JOINED:
		log_info("joined room=%s", a->room_id);
		break;
	case MX_ACT_LEFT:
		log_info("left room=%s", a->room_id);
		room_forget(m, a->room_id);
		break;
	case MX_ACT_KICKED:
		log_warn("kicked room=%s by=%s", a->room_id, a->sender ? a->sender : "?");
		room_forget(m, a->room_id);
		break;
	case MX_ACT_BANNED:
		log_warn("banned room=%s by=%s", a->room_id, a->sender ? a->sender : "?");
		room_forget(m, a->room_id);
		break;
	case MX_ACT_NAME:
		name_set(m, a->room_id, a->sender, a->sender_name);
		break;
	case MX_ACT_SUMMARY:
		room = matrix_room(m, a->room_id, 1);
		if (room)
			room->members = a->members;
		break;
	case MX_ACT_POWER:
		set_power(m, a);
		break;
	case MX_ACT_MESSAGE:
		break; /* matrix_handle_message's */
	}
	return ERR_OK;
}

/* ---- earlier answers -------------------------------------------------- */

const char *matrix_answer_find(const struct matrix *m, const char *event)
{
	size_t i;

	for (i = 0; i < MATRIX_ANSWERS_MAX; i++)
		if (m->answers[i].event && !strcmp(m->answers[i].event, event))
			return m->answers[i].reply;
	return NULL;
}

/* a replayed reply (same ids) takes no second slot */
void matrix_answer_put(struct matrix *m, const char *event, const char *reply)
{
	struct matrix_answer *a = NULL;
	char *ev, *rp;
	size_t i;

	for (i = 0; i < MATRIX_ANSWERS_MAX && !a; i++)
		if (m->answers[i].event && !strcmp(m->answers[i].event, event))
			a = &m->answers[i];
	if (!a) {
		a = &m->answers[m->answers_next];
		m->answers_next = (m->answers_next + 1) % MATRIX_ANSWERS_MAX;
	}
	ev = strs_dup(event);
	rp = strs_dup(reply);
	free(a->event);
	free(a->reply);
	a->event = ev && rp ? ev : NULL;
	a->reply = ev && rp ? rp : NULL;
	if (!a->event) {
		free(ev);
		free(rp);
	}
}
