/* matrix_ask.c -- a room's facts asked while serving (see matrix_int.h):
 * the member count (GET .../joined_members) and the power levels (GET
 * .../state/m.room.power_levels) of a room whose first message comes
 * before the sync said them (after a restart the sync brings only state
 * that changed). Each ask is an exchange in the one multi handle, driven
 * by the loop like a send; nothing here waits on the network.
 *
 * The room's messages wait for the answer, in order, as copies: the core
 * is given each with facts_pending (transport.h) and answers a crisis at
 * once, whatever the facts; the rest comes back here and is handed again,
 * in order, when the asks end, answered or not (then without the facts,
 * as when an ask fails: direct only when an invite said so, no power
 * level). Bounded: MATRIX_HELD_ROOM_MAX a room, MATRIX_HELD_MAX and
 * MATRIX_HELD_BYTES_MAX in all, MATRIX_HELD_WAIT_MS each; past a bound the room's messages are handed
 * at once without the facts. A batch whose messages wait is acknowledged
 * (its since saved, a transaction answered) only once none waits: a crash
 * meanwhile replays them (matrix_sync_settle, matrix_appsvc.c).
 *
 * Not here: what the facts mean (matrix_reply.c's to_core), the cache of
 * rooms (matrix_rooms.c). */
#include "matrix_int.h"

#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "mx_html.h"
#include "mx_power.h"
#include "strs.h"

/* ---- the waiting messages --------------------------------------------- */

/* action_copy: what a's answer needs of it (its HTML is not read, nor
 * its power levels or encrypted content), each string its own. */
static enum err action_copy(struct mx_action *to, const struct mx_action *a)
{
	const char *const from[] = {a->room_id, a->sender, a->sender_name, a->event_id,
				    a->msgtype, a->body,   a->thread_root, a->reply_to};
	char **const dst[] = {&to->room_id, &to->sender, &to->sender_name, &to->event_id,
			      &to->msgtype, &to->body,   &to->thread_root, &to->reply_to};
	size_t i;

	memset(to, 0, sizeof(*to));
	to->kind = a->kind;
	to->ignore = a->ignore;
	to->ts = a->ts;
	to->mentions_bot = a->mentions_bot;
	to->truncated = a->truncated;
	for (i = 0; i < sizeof(from) / sizeof(from[0]); i++)
		if (from[i] && !(*dst[i] = strs_dup(from[i]))) {
			mx_action_release(to);
			return ERR_NOMEM;
		}
	return ERR_OK;
}

/* held_size: what a waiting copy of a costs, counted against
 * MATRIX_HELD_BYTES_MAX. */
static size_t held_size(const struct mx_action *a)
{
	return sizeof(struct matrix_held) + (a->body ? strlen(a->body) : 0) + 256;
}

/* give_up: the room's facts are not waited for any longer (asked again
 * after MATRIX_QUICK_AGAIN_MS); asks in flight still land in the cache. */
static void give_up(struct matrix *m, struct matrix_room *room)
{
	if (room->ask_want & MATRIX_FACT_MEMBERS)
		m->ask_wanted--;
	if (room->ask_want & MATRIX_FACT_POWER)
		m->ask_wanted--;
	room->ask_want = 0;
	room->ask_at = clock_mono_ms() + MATRIX_QUICK_AGAIN_MS;
}

/* release hands the room's waiting messages to the core again, in order,
 * with what is known now. A journal that cannot be written keeps the
 * batch unacknowledged (held_failed). */
static void release(struct matrix *m, struct matrix_room *room)
{
	struct matrix_held *h = room->held, *next;
	enum err e;

	m->n_held -= room->n_held;
	room->held = room->held_tail = NULL;
	room->n_held = 0;
	for (; h; h = next) {
		next = h->next;
		m->held_bytes -= held_size(&h->a);
		e = matrix_handle_held(m, &h->a);
		if (e != ERR_OK) {
			log_error("a waiting message room=%s event=%s not handled: %s",
				  h->a.room_id, h->a.event_id, err_str(e));
			m->held_failed = 1;
		}
		mx_action_release(&h->a);
		free(h);
	}
}

enum err matrix_held_put(struct matrix *m, struct matrix_room *room, const struct mx_action *a)
{
	struct matrix_held *h = NULL;

	if (room->n_held < MATRIX_HELD_ROOM_MAX && m->n_held < MATRIX_HELD_MAX &&
	    m->held_bytes + held_size(a) <= MATRIX_HELD_BYTES_MAX && (h = calloc(1, sizeof(*h))) &&
	    action_copy(&h->a, a) == ERR_OK) {
		m->held_bytes += held_size(a);
		h->until = clock_mono_ms() + MATRIX_HELD_WAIT_MS;
		h->gen = m->batch_gen;
		if (room->held_tail)
			room->held_tail->next = h;
		else
			room->held = h;
		room->held_tail = h;
		room->n_held++;
		m->n_held++;
		return ERR_OK;
	}
	free(h);
	log_warn("room=%s: %zu messages wait for its facts (%zu in all): handled without them",
		 room->id, room->n_held, m->n_held);
	give_up(m, room);
	release(m, room);
	return matrix_handle_held(m, a);
}

unsigned long matrix_held_min_gen(const struct matrix *m)
{
	unsigned long gen = (unsigned long)-1;
	size_t i;

	/* a room's messages wait in the order they came: its first is its
	 * oldest */
	for (i = 0; m->n_held && i < m->n_known; i++)
		if (m->known[i].held && m->known[i].held->gen < gen)
			gen = m->known[i].held->gen;
	return gen;
}

void matrix_held_flush(struct matrix *m, struct matrix_room *room)
{
	if (!room->n_held)
		return;
	give_up(m, room);
	release(m, room);
}

/* ---- the asks --------------------------------------------------------- */

static enum err ask_path(const struct matrix_ask *k, char *path, size_t len)
{
	/* the empty state key's trailing slash is optional (spec), and not
	 * every server routes it */
	return k->fact == MATRIX_FACT_MEMBERS
		       ? mx_path(path, len, MATRIX_API "/rooms/%s/joined_members", k->room)
		       : mx_path(path, len, MATRIX_API "/rooms/%s/state/m.room.power_levels",
				 k->room);
}

/* failed: the fact is not known now; the room is not asked again for a
 * while, and its messages are not held for it meanwhile. */
static void failed(struct matrix_room *room)
{
	room->ask_at = clock_mono_ms() + MATRIX_QUICK_AGAIN_MS;
}

/* start asks fact of room in slot k; 0 when it could not start (taken as
 * an ask that got no answer). */
static int start(struct matrix *m, struct matrix_ask *k, struct matrix_room *room,
		 enum matrix_fact fact)
{
	char path[MATRIX_URL_MAX];

	k->room = strs_dup(room->id);
	k->fact = fact;
	if (!k->room || ask_path(k, path, sizeof(path)) != ERR_OK ||
	    matrix_xfer_begin(m, &k->x, "GET", path, NULL, MATRIX_CALL_QUICK, &k->r) != ERR_OK) {
		log_warn("room=%s: cannot ask its %s", room->id,
			 fact == MATRIX_FACT_MEMBERS ? "member count" : "power levels");
		free(k->room);
		k->room = NULL;
		failed(room);
		return 0;
	}
	room->ask_busy |= (int)fact;
	return 1;
}

/* start_wanted starts what rooms want asked while a slot is free. */
static void start_wanted(struct matrix *m)
{
	size_t i, s = 0;
	struct matrix_room *room;
	enum matrix_fact f;

	for (i = 0; i < m->n_known && m->ask_wanted; i++) {
		room = &m->known[i];
		while (room->ask_want) {
			while (s < MATRIX_ASKS_MAX && m->asks[s].room)
				s++;
			if (s == MATRIX_ASKS_MAX)
				return;
			f = room->ask_want & MATRIX_FACT_MEMBERS ? MATRIX_FACT_MEMBERS
								 : MATRIX_FACT_POWER;
			room->ask_want &= ~(int)f;
			m->ask_wanted--;
			start(m, &m->asks[s], room, f);
		}
	}
}

int matrix_ask_pending(struct matrix *m, struct matrix_room *room)
{
	int want = 0;

	if (clock_mono_ms() < room->ask_at)
		return 0; /* asked lately with no answer: not waited for */
	if (room->members < 0 && !room->direct)
		want |= MATRIX_FACT_MEMBERS;
	if (!room->power && !room->power_asked)
		want |= MATRIX_FACT_POWER;
	want &= ~(room->ask_want | room->ask_busy);
	if (want & MATRIX_FACT_MEMBERS)
		m->ask_wanted++;
	if (want & MATRIX_FACT_POWER)
		m->ask_wanted++;
	room->ask_want |= want;
	if (want)
		start_wanted(m);
	return (room->ask_want | room->ask_busy) != 0;
}

/* learn takes what an ask that ended says about room. */
static void learn(struct matrix *m, struct matrix_ask *k, struct matrix_room *room)
{
	char path[MATRIX_URL_MAX] = "";
	int attempt = 0;
	long long wait;
	enum matrix_verdict v;
	long n;

	ask_path(k, path, sizeof(path));
	v = matrix_judge(m, "GET", path, MATRIX_CALL_QUICK, &k->r, &attempt, &wait);
	if (v == MATRIX_V_AUTH)
		matrix_login_want(m);
	if (!room)
		return; /* left meanwhile */
	if (k->fact == MATRIX_FACT_MEMBERS && v == MATRIX_V_DONE) {
		if (mx_joined_count(k->r.body, k->r.len, &n) == ERR_OK) {
			room->members = n;
		} else {
			/* asked again it would say the same */
			log_warn("joined members of room=%s unreadable", room->id);
			room->members = 0;
		}
	} else if (k->fact == MATRIX_FACT_MEMBERS && v == MATRIX_V_REFUSED) {
		room->members = 0; /* refused: not ours to know, do not ask again */
	} else if (k->fact == MATRIX_FACT_POWER && (v == MATRIX_V_DONE || v == MATRIX_V_REFUSED)) {
		/* a 2xx or a refusal (404: the room has none) is the answer */
		if (v == MATRIX_V_DONE && !room->power &&
		    mx_power_parse(k->r.body, k->r.len, &room->power, NULL) != ERR_OK)
			log_warn("power levels of room=%s unreadable", room->id);
		room->power_asked = 1;
	} else {
		/* a stop, a 429, a server error, no connection: one try only */
		failed(room);
	}
}

void matrix_ask_run(struct matrix *m)
{
	struct matrix_room *room;
	struct matrix_ask *k;
	long long now;
	size_t i;

	for (i = 0; i < MATRIX_ASKS_MAX; i++) {
		k = &m->asks[i];
		if (!k->room || !k->x.done)
			continue;
		k->x.done = 0;
		room = matrix_room(m, k->room, 0);
		learn(m, k, room);
		matrix_resp_release(&k->r);
		free(k->room);
		k->room = NULL;
		if (!room)
			continue;
		room->ask_busy &= ~(int)k->fact;
		if (room->ask_want && clock_mono_ms() < room->ask_at)
			give_up(m, room); /* one failed: the other is not asked now */
	}
	if (m->ask_wanted)
		start_wanted(m);
	if (!m->n_held)
		return;
	/* a room whose asks are all over (answered, failed, or never
	 * started) is served now; one whose wait is over too */
	now = clock_mono_ms();
	for (i = 0; i < m->n_known; i++) {
		room = &m->known[i];
		if (!room->held)
			continue;
		if (room->ask_busy || room->ask_want) {
			if (now < room->held->until)
				continue;
			log_warn("room=%s: its facts did not come in time; %zu messages handled "
				 "without them",
				 room->id, room->n_held);
			give_up(m, room);
		}
		release(m, room);
	}
}

long long matrix_ask_want_at(const struct matrix *m)
{
	long long at = -1;
	size_t i;

	for (i = 0; i < MATRIX_ASKS_MAX; i++)
		if (m->asks[i].room && m->asks[i].x.done)
			return clock_mono_ms();
	for (i = 0; m->n_held && i < m->n_known; i++)
		if (m->known[i].held && (at < 0 || m->known[i].held->until < at))
			at = m->known[i].held->until;
	return at;
}

void matrix_ask_free(struct matrix *m)
{
	struct matrix_held *h, *next;
	size_t i;

	for (i = 0; i < MATRIX_ASKS_MAX; i++) {
		matrix_xfer_free(m, &m->asks[i].x);
		matrix_resp_release(&m->asks[i].r);
		free(m->asks[i].room);
		m->asks[i].room = NULL;
	}
	for (i = 0; i < m->n_known; i++) {
		for (h = m->known[i].held; h; h = next) {
			next = h->next;
			mx_action_release(&h->a);
			free(h);
		}
		m->known[i].held = m->known[i].held_tail = NULL;
		m->known[i].n_held = 0;
	}
	m->n_held = 0;
	m->held_bytes = 0;
}
