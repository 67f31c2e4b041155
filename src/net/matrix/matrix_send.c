/* matrix_send.c -- the Matrix transport's outgoing queue (see
 * matrix_int.h): every send the bot makes while serving (a reply, a
 * moderators' alert, a notice, a join, a leave) waits in its room's queue
 * and goes out on an easy handle of its own in the one multi handle, which
 * the loop polls; nothing here waits.
 *
 * Order is kept within a room (one send in flight a room, the next only
 * after it ended), not across rooms: one room answering 429 with a long
 * Retry-After, or hanging, holds its own queue and nothing else: not the
 * other rooms, not the sync, not the other networks of the loop. Each
 * send's retry state is its own: the 429 wait, the backoff of a 5xx or a
 * lost connection (matrix_backoff_draw, by its own count of tries), a 401
 * (the one shared re-login, matrix_login_want; the send waits for the
 * token to change, and a second refusal after a fresh login is fatal, as
 * before); any other 4xx drops it with a log line (ids and the HTTP
 * status, never the text).
 *
 * The transaction id is fixed when a send is queued (from the event it
 * answers, mx_txn_*), kept across its tries, and written with it to the
 * journal in state_dir/outbox (JSON, 0600, written whole by state_write,
 * synced): a file a send (q-<seq>), or for the sends of one /sync batch
 * group files (g-<seq>, below) written together before its since is
 * saved; a file goes once its sends are done or dropped. The sync saves `since` only after its batch's sends are
 * queued, so journaled; a crash after that loses nothing (the next start
 * queues the journal again, before serving), a crash before it replays the
 * batch, whose sends meet their journal (the same send is not queued
 * twice) or the server's idempotence (the same transaction id posts
 * once). The journal holds what the bot says (its reply, an alert: who
 * and where) and ids, never a member's message.
 *
 * Limits: MATRIX_QUEUE_ROOM_MAX ordinary sends a room and MATRIX_QUEUE_MAX
 * in all; more are dropped with a log line. A crisis reply, a moderators'
 * alert and a notice for them are queued whatever the count. A stale
 * ordinary send (older than max_age_s) found in the journal at a start
 * is not sent; those never are stale. */
#include "matrix_int.h"

#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "metrics.h"
#include "mx_html.h"
#include "mx_jout.h"
#include "state.h"
#include "strs.h"

#define JOURNAL_NAME_MAX 32

/* ---- the queues ------------------------------------------------------- */

static const char *queue_key(const void *ctx, size_t i)
{
	return ((const struct matrix *)ctx)->outq[i].room;
}

/* queue_of: room's queue, found by the index (a busy bot has a queue
 * for each of a thousand rooms), or with create a new one. */
static struct matrix_outq *queue_of(struct matrix *m, const char *room, int create)
{
	struct matrix_outq *q;
	size_t ncap;
	long at;

	if (!m->outq_ix.keyof)
		mx_index_init(&m->outq_ix, queue_key, m);
	at = mx_index_find(&m->outq_ix, room);
	if (at >= 0)
		return &m->outq[at];
	if (!create)
		return NULL;
	if (m->n_outq == m->cap_outq) {
		ncap = m->cap_outq ? m->cap_outq * 2 : 16;
		q = realloc(m->outq, ncap * sizeof(*q));
		if (!q)
			return NULL;
		m->outq = q;
		m->cap_outq = ncap;
	}
	q = &m->outq[m->n_outq];
	memset(q, 0, sizeof(*q));
	q->room = strs_dup(room);
	if (!q->room)
		return NULL;
	if (mx_index_add(&m->outq_ix, m->n_outq) != ERR_OK) {
		free(q->room);
		return NULL;
	}
	m->n_outq++;
	return q;
}

static void append(struct matrix *m, struct matrix_outq *q, struct matrix_send *s)
{
	if (q->tail)
		q->tail->next = s;
	else
		q->head = s;
	q->tail = s;
	q->n++;
	m->queued++;
	if (!s->must) {
		q->plain++;
		m->queued_plain++;
	}
}

/* ungate: s's first try is over; the first sync need not wait for it. */
static void ungate(struct matrix *m, struct matrix_send *s)
{
	if (s->gate) {
		s->gate = 0;
		m->join_gate--;
	}
}

/* pop removes q's head (done or dropped) and its journal file; an empty
 * queue goes (its place taken by the last). */
static void pop(struct matrix *m, struct matrix_outq *q)
{
	struct matrix_send *s = q->head;

	q->head = s->next;
	if (!q->head)
		q->tail = NULL;
	q->n--;
	m->queued--;
	if (!s->must) {
		q->plain--;
		m->queued_plain--;
	}
	matrix_journal_drop(m, s);
	ungate(m, s);
	matrix_send_destroy(s);
	if (!q->n) {
		size_t at = (size_t)(q - m->outq), last = m->n_outq - 1;

		mx_index_remove(&m->outq_ix, q->room, at);
		mx_index_moved(&m->outq_ix, m->outq[last].room, last, at);
		free(q->room);
		*q = m->outq[--m->n_outq];
	}
}

/* waiting: the same send is in q already (a replayed batch after a crash
 * meets what its journal queued). */
static struct matrix_send *waiting(const struct matrix_outq *q, enum matrix_send_kind kind,
				   const char *txn)
{
	struct matrix_send *s;

	for (s = q->head; s; s = s->next)
		if (s->kind == kind &&
		    ((!txn && !s->txn) || (txn && s->txn && !strcmp(txn, s->txn))))
			return s;
	return NULL;
}

/* full says whether an ordinary send for q must be dropped, and logs it. */
static int full(struct matrix *m, const struct matrix_outq *q, const struct matrix_send_spec *sp)
{
	size_t in_room = q ? q->plain : 0;

	if (sp->must || (in_room < MATRIX_QUEUE_ROOM_MAX && m->queued_plain < MATRIX_QUEUE_MAX))
		return 0;
	log_warn("%s room=%s event=%s dropped: the queue is full (%zu in the room, %zu in all)",
		 matrix_send_kind_name(sp->kind), sp->room, sp->event ? sp->event : "-", in_room,
		 m->queued_plain);
	if (sp->kind == MATRIX_SEND_REPLY)
		metrics_inc(M_REPLY_FAILED);
	return 1;
}

enum err matrix_send_put(struct matrix *m, const struct matrix_send_spec *sp,
			 unsigned long long *seq)
{
	struct matrix_outq *q = queue_of(m, sp->room, 0);
	struct matrix_send *s, *had;
	enum err e;

	if (seq)
		*seq = 0;
	had = q ? waiting(q, sp->kind, sp->txn) : NULL;
	if (had) {
		if (seq)
			*seq = had->seq;
		return ERR_OK;
	}
	if (full(m, q, sp))
		return ERR_OK;
	s = calloc(1, sizeof(*s));
	if (!s)
		return ERR_NOMEM;
	s->kind = sp->kind;
	s->must = sp->must;
	s->direct = sp->direct;
	s->gate = sp->gate;
	s->wall_ms = clock_wall_ms();
	s->room = strs_dup(sp->room);
	s->body = strs_dup(sp->body ? sp->body : "{}");
	if (!s->room || !s->body || (sp->txn && !(s->txn = strs_dup(sp->txn))) ||
	    (sp->event && !(s->event = strs_dup(sp->event))) ||
	    (sp->about && !(s->about = strs_dup(sp->about))) ||
	    (sp->klass && !(s->klass = strs_dup(sp->klass))) ||
	    (sp->entry && !(s->entry = strs_dup(sp->entry)))) {
		matrix_send_destroy(s);
		return ERR_NOMEM;
	}
	s->seq = ++m->send_seq;
	if (sp->journal) {
		e = matrix_journal_write(m, s);
		if (e != ERR_OK) {
			matrix_send_destroy(s);
			return e;
		}
	}
	q = queue_of(m, sp->room, 1);
	if (!q) {
		matrix_journal_drop(m, s);
		matrix_send_destroy(s);
		return ERR_NOMEM;
	}
	append(m, q, s);
	m->join_gate += s->gate;
	if (seq)
		*seq = s->seq;
	return ERR_OK;
}

/* stale: an ordinary send queued longer ago than max_age_s (a member's
 * question that old is not answered either); a must is never stale. */
static int stale(const struct matrix *m, const struct matrix_send *s)
{
	return !s->must && m->max_age_s > 0 && s->wall_ms > 0 &&
	       clock_wall_ms() - s->wall_ms > m->max_age_s * 1000LL;
}

void matrix_send_load(struct matrix *m)
{
	struct matrix_send **v = NULL, *s;
	size_t n = matrix_journal_read(m, &v), i, kept = 0;
	struct matrix_outq *q;

	for (i = 0; i < n; i++) {
		s = v[i];
		q = stale(m, s) ? NULL : queue_of(m, s->room, 1);
		if (!q) {
			log_info("outbox: %s room=%s event=%s too old to send; removed",
				 matrix_send_kind_name(s->kind), s->room,
				 s->event ? s->event : "-");
			matrix_journal_drop(m, s);
			matrix_send_destroy(s);
			continue;
		}
		append(m, q, s);
		kept++;
	}
	free(v);
	if (kept)
		log_info("outbox: %zu sends from before the restart queued again", kept);
}

/* ---- sending ---------------------------------------------------------- */

/* request writes s's method and path. */
static enum err request(const struct matrix_send *s, const char **method, char *path, size_t len)
{
	*method = matrix_send_is_put(s->kind) ? "PUT" : "POST";
	switch (s->kind) {
	case MATRIX_SEND_JOIN:
		return mx_path(path, len, MATRIX_API "/join/%s", s->room);
	case MATRIX_SEND_LEAVE:
		return mx_path(path, len, MATRIX_API "/rooms/%s/leave", s->room);
	case MATRIX_SEND_TO_DEVICE:
		return mx_path(path, len, MATRIX_API "/sendToDevice/%s/%s", s->klass, s->txn);
	default:
		return mx_path(path, len, MATRIX_API "/rooms/%s/send/%s/%s", s->room,
			       s->enc ? "m.room.encrypted" : "m.room.message", s->txn);
	}
}

/* sent logs and counts a send the server took. */
static void sent(struct matrix *m, const struct matrix_send *s, const struct matrix_resp *r)
{
	char ev[MX_ID_MAX + 1] = "-";

	if (matrix_send_is_put(s->kind) &&
	    mx_field_string(r->body, r->len, "event_id", ev, sizeof(ev)) != ERR_OK)
		snprintf(ev, sizeof(ev), "?");
	switch (s->kind) {
	case MATRIX_SEND_REPLY:
		if (s->event && mx_id_valid(ev, '$'))
			matrix_answer_put(m, s->event, ev);
		m->stats.replies++;
		metrics_inc(s->must ? M_CRISIS_REPLY_SENT : M_REPLY_SENT);
		log_info("reply room=%s event=%s class=%s id=%s sent=%s", s->room,
			 s->event ? s->event : "-", s->klass ? s->klass : "?",
			 s->entry ? s->entry : "-", ev);
		break;
	case MATRIX_SEND_ALERT:
		m->stats.alerts++;
		metrics_inc(M_CRISIS_ALERT_SENT);
		log_info("alert room=%s event=%s class=%s sent=%s", s->about ? s->about : "-",
			 s->event ? s->event : "-", s->klass ? s->klass : "crisis", ev);
		break;
	case MATRIX_SEND_NOTICE:
		m->stats.notices++;
		log_info("notice room=%s from=%s txn=%s sent=%s", s->room,
			 s->klass ? s->klass : "?", s->txn, ev);
		break;
	case MATRIX_SEND_JOIN:
		m->stats.joins++;
		log_info("join room=%s", s->room);
		matrix_room_joined(m, s->room, s->direct);
		break;
	case MATRIX_SEND_LEAVE:
		m->stats.declined++;
		break;
	case MATRIX_SEND_TO_DEVICE:
		log_info("%s to %s sent (event=%s)", s->klass, s->room, s->event ? s->event : "-");
		break;
	}
}

/* refused logs and counts a send the server refused for good (a 4xx): it
 * is dropped, the ids and the status logged, never the text. */
static void refused(const struct matrix_send *s, const struct matrix_resp *r)
{
	struct mx_error me;

	mx_error_parse(r->body ? r->body : "", r->len, &me);
	switch (s->kind) {
	case MATRIX_SEND_JOIN:
	case MATRIX_SEND_LEAVE:
		log_warn("%s room=%s failed: HTTP %ld %s", matrix_send_kind_name(s->kind), s->room,
			 r->status, me.errcode);
		return;
	default:
		log_error("send room=%s txn=%s failed: HTTP %ld %s", s->room, s->txn, r->status,
			  me.errcode);
	}
	if (s->kind == MATRIX_SEND_REPLY)
		metrics_inc(s->must ? M_CRISIS_REPLY_FAILED : M_REPLY_FAILED);
	else if (s->kind == MATRIX_SEND_ALERT)
		metrics_inc(M_CRISIS_ALERT_FAILED);
}

/* auth answers a 401 to s: the newest token refused asks for the shared
 * re-login (or waits for the one on its way); refused again after a
 * fresh login, the bot cannot go on. */
static void auth(struct matrix *m, struct matrix_send *s)
{
	if (matrix_token_refused(m, s->login_gen, &s->relogins, &s->wants_login) == 1)
		s->at_ms = 0; /* a newer token came meanwhile: try it */
}

/* ended acts on the end of q's head's exchange. */
static void ended(struct matrix *m, struct matrix_outq *q)
{
	struct matrix_send *s = q->head;
	struct matrix_resp *r = s->x->r;
	char path[MATRIX_URL_MAX] = "";
	const char *method;
	long long wait;
	int pop_it = 0;

	s->x->done = 0;
	s->x = NULL;
	if (request(s, &method, path, sizeof(path)) != ERR_OK)
		snprintf(path, sizeof(path), "(%s)", matrix_send_kind_name(s->kind));
	switch (matrix_judge(m, method, path, 0, r, &s->attempt, &wait)) {
	case MATRIX_V_DONE:
		sent(m, s, r);
		pop_it = 1;
		break;
	case MATRIX_V_RETRY:
		s->at_ms = clock_mono_ms() + wait;
		ungate(m, s);
		break;
	case MATRIX_V_AUTH:
		auth(m, s);
		break;
	case MATRIX_V_STOPPED:
		s->at_ms = 0;
		break;
	default:
		refused(s, r);
		pop_it = 1;
		break;
	}
	matrix_resp_release(r);
	if (pop_it)
		pop(m, q);
}

static struct matrix_xfer *free_slot(struct matrix *m)
{
	size_t i;

	for (i = 0; i < MATRIX_SENDS_MAX; i++)
		if (!m->send_x[i].busy && !m->send_x[i].done)
			return &m->send_x[i];
	return NULL;
}

/* due: q's head may start now. */
static int due(const struct matrix *m, const struct matrix_outq *q, long long now)
{
	const struct matrix_send *s = q->head;

	if (!s || s->x)
		return 0;
	if (s->wants_login)
		return s->login_gen != m->login_gen;
	return s->at_ms <= now;
}

/* start puts q's head in flight on x. A send that can never go (its path
 * too long for a URL) is dropped; memory short, it waits a backoff. */
static void start(struct matrix *m, struct matrix_outq *q, struct matrix_xfer *x)
{
	struct matrix_send *s = q->head;
	size_t i = (size_t)(x - m->send_x);
	char path[MATRIX_URL_MAX];
	const char *method;
	enum err e;

	s->wants_login = 0;
	e = request(s, &method, path, sizeof(path));
	if (e == ERR_OK)
		e = matrix_xfer_begin(m, x, method, path, s->body, 0, &m->send_r[i]);
	if (e == ERR_OK) {
		s->x = x;
		s->login_gen = m->login_gen;
		return;
	}
	if (e == ERR_NOMEM || e == ERR_IO) {
		s->at_ms =
			clock_mono_ms() + matrix_backoff_draw(m, MATRIX_FAIL_SERVER, s->attempt++);
		return;
	}
	log_error("%s room=%s txn=%s cannot be sent: %s; dropped", matrix_send_kind_name(s->kind),
		  s->room, s->txn ? s->txn : "-", err_str(e));
	pop(m, q);
}

/* take_ends acts on every send whose exchange ended. */
static void take_ends(struct matrix *m)
{
	size_t i = 0, before;

	while (i < m->n_outq) {
		struct matrix_outq *q = &m->outq[i];

		before = m->n_outq;
		if (q->head && q->head->x && q->head->x->done) {
			ended(m, q);
			if (m->n_outq < before)
				continue; /* q went, the last took its place: look at it */
		}
		i++;
	}
}

void matrix_send_run(struct matrix *m)
{
	long long now = clock_mono_ms();
	struct matrix_xfer *x;
	size_t k, n, first;
	int started = 0;

	take_ends(m);
	matrix_tx_run(m); /* an encrypted room's key on its way */
	if (!m->fatal && !(m->stop && *m->stop) && m->n_outq) {
		n = m->n_outq;
		first = m->send_next % n;
		/* from a rotating first queue, so no room always goes last */
		for (k = 0; k < n && (x = free_slot(m)); k++) {
			size_t i = (first + k) % n;

			if (i >= m->n_outq || !due(m, &m->outq[i], now) ||
			    !matrix_tx_ready(m, m->outq[i].head))
				continue;
			start(m, &m->outq[i], x);
			started = 1;
			if (m->n_outq != n) /* a queue went: the indexes moved */
				break;
		}
		m->send_next = first + 1;
	}
	if (m->sync_hold &&
	    (!matrix_send_in_flight(m, m->sync_hold) || clock_mono_ms() >= m->sync_hold_end))
		m->sync_hold = 0;
	if (started)
		matrix_pump(m); /* the requests out now, not at the next turn */
}

long long matrix_send_want_at(const struct matrix *m)
{
	long long at = matrix_tx_want_at(m), now = clock_mono_ms();
	size_t i;
	int slot = 0;

	for (i = 0; i < MATRIX_SENDS_MAX; i++) {
		if (m->send_x[i].done)
			return now; /* an end to take */
		slot |= !m->send_x[i].busy;
	}
	if (!slot || m->fatal)
		return m->fatal ? -1 : at; /* the key sharing's own exchange */
	for (i = 0; i < m->n_outq; i++) {
		const struct matrix_send *s = m->outq[i].head;
		long long t;

		if (!s || s->x || s->tx_held || (s->wants_login && s->login_gen == m->login_gen))
			continue;
		t = s->wants_login || s->at_ms < now ? now : s->at_ms;
		if (at < 0 || t < at)
			at = t;
	}
	return at;
}

long long matrix_send_oldest_ms(const struct matrix *m)
{
	long long oldest = 0;
	size_t i;

	/* a queue's head is its oldest; the queues are the rooms waiting */
	for (i = 0; i < m->n_outq; i++)
		if (m->outq[i].head && m->outq[i].head->wall_ms > 0 &&
		    (!oldest || m->outq[i].head->wall_ms < oldest))
			oldest = m->outq[i].head->wall_ms;
	return oldest;
}

int matrix_send_in_flight(const struct matrix *m, unsigned long long seq)
{
	size_t i;

	for (i = 0; i < m->n_outq; i++)
		if (m->outq[i].head && m->outq[i].head->seq == seq && m->outq[i].head->x)
			return 1;
	return 0;
}

static int sends_busy(const struct matrix *m)
{
	size_t i;

	for (i = 0; i < MATRIX_SENDS_MAX; i++)
		if (m->send_x[i].busy)
			return 1;
	return 0;
}

void matrix_send_stop(struct matrix *m)
{
	long long end = (m->stop_at ? m->stop_at : clock_mono_ms()) + MATRIX_STOP_GRACE_MS;
	size_t i;

	while (sends_busy(m) && clock_mono_ms() < end) {
		matrix_multi_wait(m, MATRIX_POLL_MS);
		take_ends(m);
	}
	for (i = 0; i < m->n_outq; i++)
		if (m->outq[i].head && m->outq[i].head->x) {
			matrix_xfer_abort(m, m->outq[i].head->x);
			m->outq[i].head->x = NULL;
		}
	for (i = 0; i < MATRIX_SENDS_MAX; i++) {
		m->send_x[i].done = 0;
		matrix_resp_release(&m->send_r[i]);
	}
	if (m->queued)
		log_info("stop: %zu sends waiting, kept in the outbox for the next start",
			 m->queued);
}

void matrix_send_free(struct matrix *m)
{
	struct matrix_send *s, *next;
	size_t i;

	free(m->groups);
	m->groups = NULL;
	m->n_groups = m->cap_groups = 0;
	for (i = 0; i < MATRIX_SENDS_MAX; i++) {
		matrix_xfer_free(m, &m->send_x[i]);
		matrix_resp_release(&m->send_r[i]);
	}
	for (i = 0; i < m->n_outq; i++) {
		for (s = m->outq[i].head; s; s = next) {
			next = s->next;
			matrix_send_destroy(s);
		}
		free(m->outq[i].room);
	}
	free(m->outq);
	mx_index_release(&m->outq_ix);
	m->outq = NULL;
	m->n_outq = m->cap_outq = 0;
	free(m->outbox);
	m->outbox = NULL;
}
