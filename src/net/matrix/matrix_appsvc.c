/* matrix_appsvc.c -- Matrix as an Application Service (see
 * matrix_appsvc.h): a struct matrix that never syncs (its rooms, replies,
 * send queue and journal are the Matrix transport's parts, driven as
 * matrix.c drives them), the listener (matrix_aslisten.c) and the
 * transactions handled (state_dir/APPSVC_TXNS_FILE).
 *
 * Order, as for a /sync batch: act on every event of a transaction (its
 * sends journaled and queued), then keep its id (state_write), then
 * acknowledge it. A kill -9 anywhere before the acknowledgement leaves
 * the homeserver to send it again: every reply it brings has the
 * transaction id of its first handling (from the event), and a send still
 * in the journal is not queued twice, so nothing shows twice; nothing is
 * lost either, since the homeserver keeps a transaction until it is
 * acknowledged. After the acknowledgement, the journal holds what is not
 * sent yet. */
#include "matrix_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "matrix_appsvc.h"
#include "matrix_aslisten.h"
#include "metrics.h"
#include "mx_appsvc.h"
#include "state.h"
#include "strs.h"

struct appsvc {
	struct matrix *m;
	char *hs_token, *listen, *cert, *key;
	size_t max_body;
	struct matrix_aslisten *l;
	struct mx_as_txns txns;
	char **joined; /* the rooms the bot is in, sorted */
	size_t n_joined, cap_joined;
	/* the periodic whoami: the sign of life on a quiet server */
	struct matrix_xfer who_x;
	struct matrix_resp who_r;
	int who_busy, who_attempt;
	unsigned long who_gen;
	long long who_at; /* the next one, mono ms */
	long long alive_ms;
	/* transactions received and not acknowledged yet (each refused with
	 * a 503 until it can be kept), oldest first: the homeserver retries
	 * them, and `faqbot health` and the log say how many and since when */
	struct appsvc_waiting {
		char id[MX_AS_TXN_ID_MAX + 1];
		long long first_ms; /* when it first came, mono ms */
	} waiting[APPSVC_WAITING_MAX];
	size_t n_waiting;
	struct appsvc_stats stats;
	/* transactions handled whose messages wait for their rooms' facts
	 * (matrix_ask.c): kept and acknowledged once none waits */
	struct {
		char *txn;
		unsigned long ticket;
		size_t actions;
	} wait[APPSVC_WAIT_MAX];
	size_t n_wait;
};

/* ---- new and free ----------------------------------------------------- */

enum err appsvc_new(const struct appsvc_config *cfg, struct appsvc **out, char *errbuf,
		    size_t errlen)
{
	struct matrix_aslisten_config lc = {0};
	struct appsvc *a;
	enum err e;

	*out = NULL;
	if (cfg->matrix.password || cfg->matrix.pickle_key) {
		snprintf(
			errbuf, errlen, "%s",
			cfg->matrix.password
				? "password: an Application Service has no password (the as_token is its credential)"
				: "encryption: an Application Service gets no to-device events, so no room keys: encrypted rooms stay with the /sync mode");
		return ERR_INVALID;
	}
	if (!cfg->matrix.access_token || !*cfg->matrix.access_token) {
		snprintf(errbuf, errlen, "no as_token: run faqbot appservice-registration");
		return ERR_INVALID;
	}
	lc.listen = cfg->listen ? cfg->listen : APPSVC_LISTEN_DEFAULT;
	lc.tls_cert_file = cfg->tls_cert_file;
	lc.tls_key_file = cfg->tls_key_file;
	lc.hs_token = cfg->hs_token;
	e = matrix_aslisten_check(&lc, errbuf, errlen);
	if (e != ERR_OK)
		return e;
	a = calloc(1, sizeof(*a));
	if (!a)
		return ERR_NOMEM;
	a->hs_token = strs_dup(cfg->hs_token);
	a->listen = strs_dup(lc.listen);
	a->cert = cfg->tls_cert_file ? strs_dup(cfg->tls_cert_file) : NULL;
	a->key = cfg->tls_key_file ? strs_dup(cfg->tls_key_file) : NULL;
	a->max_body = cfg->max_body ? cfg->max_body : APPSVC_MAX_BODY;
	if (!a->hs_token || !a->listen || (cfg->tls_cert_file && (!a->cert || !a->key))) {
		appsvc_free(a);
		return ERR_NOMEM;
	}
	e = matrix_new(&cfg->matrix, &a->m, errbuf, errlen);
	if (e != ERR_OK) {
		appsvc_free(a);
		return e;
	}
	*out = a;
	return ERR_OK;
}

static void joined_free(struct appsvc *a)
{
	size_t i;

	for (i = 0; i < a->n_joined; i++)
		free(a->joined[i]);
	free(a->joined);
	a->joined = NULL;
	a->n_joined = a->cap_joined = 0;
}

void appsvc_free(struct appsvc *a)
{
	if (!a)
		return;
	matrix_aslisten_stop(a->l);
	while (a->n_wait)
		free(a->wait[--a->n_wait].txn);
	if (a->m) {
		matrix_xfer_free(a->m, &a->who_x);
		matrix_resp_release(&a->who_r);
	}
	matrix_free(a->m);
	mx_as_txns_release(&a->txns);
	joined_free(a);
	strs_wipe_free(a->hs_token);
	free(a->listen);
	free(a->cert);
	free(a->key);
	free(a);
}

unsigned appsvc_port(const struct appsvc *a)
{
	return a ? matrix_aslisten_port(a->l) : 0;
}

void appsvc_get_stats(const struct appsvc *a, struct appsvc_stats *out, struct matrix_stats *mout)
{
	*out = a->stats;
	out->refused = matrix_aslisten_refused(a->l);
	matrix_get_stats(a->m, mout);
}

/* ---- the rooms the bot is in ------------------------------------------ */

/* joined_at: where room is in the sorted list, or would go (*found) */
static size_t joined_at(const struct appsvc *a, const char *room, int *found)
{
	size_t lo = 0, hi = a->n_joined;

	*found = 0;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(a->joined[mid], room);

		if (c == 0) {
			*found = 1;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static void joined_set(struct appsvc *a, const char *room, int in)
{
	int found;
	size_t at = joined_at(a, room, &found);

	if (found && !in) {
		free(a->joined[at]);
		memmove(a->joined + at, a->joined + at + 1,
			(a->n_joined - at - 1) * sizeof(*a->joined));
		a->n_joined--;
	} else if (!found && in) {
		char *copy = strdup(room);

		if (a->n_joined == a->cap_joined) {
			size_t ncap = a->cap_joined ? a->cap_joined * 2 : 64;
			char **nj = realloc(a->joined, ncap * sizeof(*nj));

			if (!nj) {
				free(copy);
				return; /* no memory: the room's messages go unanswered */
			}
			a->joined = nj;
			a->cap_joined = ncap;
		}
		if (!copy)
			return;
		memmove(a->joined + at + 1, a->joined + at,
			(a->n_joined - at) * sizeof(*a->joined));
		a->joined[at] = copy;
		a->n_joined++;
	}
}

/* read_joined asks the homeserver which rooms the bot is in (at start;
 * a failure is one: the bot would not know where to answer). */
static enum err read_joined(struct appsvc *a)
{
	struct matrix_resp r = {0};
	enum err e;

	e = matrix_call(a->m, "GET", MATRIX_API "/joined_rooms", NULL, MATRIX_CALL_ONCE, &r);
	if (e == ERR_OK) {
		joined_free(a);
		e = mx_as_joined_rooms(r.body ? r.body : "", r.len, &a->joined, &a->n_joined);
		a->cap_joined = a->n_joined;
		if (e == ERR_PARSE)
			matrix_set_err(a->m, "joined_rooms at %s: no joined_rooms in the answer",
				       a->m->hs);
	} else if (!a->m->errstr[0]) {
		matrix_set_err(a->m, "joined_rooms at %s failed: HTTP %ld", a->m->hs, r.status);
	}
	matrix_resp_release(&r);
	return e;
}

/* ---- a transaction ---------------------------------------------------- */

/* act handles one action as a /sync batch's is (matrix_sync.c), but only
 * in a room the bot is in. A non-OK return: stop, do not acknowledge. */
static enum err act(struct appsvc *a, const struct mx_action *x)
{
	struct matrix *m = a->m;
	int found;

	switch (x->kind) {
	case MX_ACT_JOINED:
		joined_set(a, x->room_id, 1);
		break;
	case MX_ACT_LEFT:
	case MX_ACT_KICKED:
	case MX_ACT_BANNED:
		joined_set(a, x->room_id, 0);
		break;
	case MX_ACT_MESSAGE:
		joined_at(a, x->room_id, &found);
		if (!found) {
			a->stats.not_ours++;
			return ERR_OK;
		}
		return matrix_handle_message(m, x, m->fn, m->ctx);
	default:
		break;
	}
	return matrix_room_act(m, x);
}

static enum err handle(struct appsvc *a, const struct mx_sync *s)
{
	struct matrix *m = a->m;
	enum err e = ERR_OK;
	long long oldest = 0;
	size_t i;

	if (s->skipped)
		log_warn("appservice: %zu malformed pieces skipped", s->skipped);
	m->stats.skipped += s->skipped;
	metrics_add(M_MALFORMED_MATRIX, (long long)s->skipped);
	a->stats.events += s->n;
	for (i = 0; i < s->n && e == ERR_OK; i++) {
		const struct mx_action *x = &s->actions[i];

		if (matrix_stopping(m, 0) || (m->stop && *m->stop))
			return ERR_IO; /* the rest comes again: not acknowledged */
		if (x->kind == MX_ACT_MESSAGE && x->ts > 0 && (!oldest || x->ts < oldest))
			oldest = x->ts;
		e = act(a, x);
		if (m->fatal)
			return ERR_INVALID;
	}
	if (oldest) { /* how late the bot is, as for a /sync batch */
		long long now = clock_wall_ms();

		m->behind_ms = now > oldest ? now - oldest : 0;
	}
	return e;
}

/* ---- transactions waiting for their acknowledgement ------------------ */

static size_t waiting_at(const struct appsvc *a, const char *txn)
{
	size_t i;

	for (i = 0; i < a->n_waiting; i++)
		if (!strcmp(a->waiting[i].id, txn))
			return i;
	return a->n_waiting;
}

/* waiting_add notes txn as received (kept from its first coming); when
 * full the oldest is forgotten: the count then says "at least" */
static void waiting_add(struct appsvc *a, const char *txn)
{
	struct appsvc_waiting *w;

	if (waiting_at(a, txn) < a->n_waiting || strlen(txn) > MX_AS_TXN_ID_MAX)
		return;
	if (a->n_waiting == APPSVC_WAITING_MAX) {
		memmove(a->waiting, a->waiting + 1, (a->n_waiting - 1) * sizeof(*a->waiting));
		a->n_waiting--;
	}
	w = &a->waiting[a->n_waiting++];
	snprintf(w->id, sizeof(w->id), "%s", txn);
	w->first_ms = clock_mono_ms();
}

static void waiting_done(struct appsvc *a, const char *txn)
{
	size_t i = waiting_at(a, txn);

	if (i == a->n_waiting)
		return;
	memmove(a->waiting + i, a->waiting + i + 1, (a->n_waiting - i - 1) * sizeof(*a->waiting));
	a->n_waiting--;
}

/* waiting_age: since the oldest waiting first came, ms; 0 when none */
static long long waiting_age(const struct appsvc *a)
{
	long long age = a->n_waiting ? clock_mono_ms() - a->waiting[0].first_ms : 0;

	return age > 0 ? age : 0;
}

/* keep remembers txn as handled, on disk before it is acknowledged */
static enum err keep(struct appsvc *a, const char *txn)
{
	char *text;
	enum err e = mx_as_txns_add(&a->txns, txn);

	if (e != ERR_OK)
		return e;
	text = mx_as_txns_text(&a->txns);
	if (!text)
		return ERR_NOMEM;
	e = state_write(a->m->state_dir, APPSVC_TXNS_FILE, text, strlen(text), 0600);
	free(text);
	if (e != ERR_OK) /* its retry is handled again, not taken for done */
		mx_as_txns_forget_newest(&a->txns);
	if (e != ERR_OK)
		log_error("appservice: cannot write %s/%s: transactions are not acknowledged",
			  a->m->state_dir, APPSVC_TXNS_FILE);
	return e;
}

static void set_answer(struct matrix_aslisten_answer *out, unsigned status, const char *errcode,
		       const char *text)
{
	out->status = status;
	snprintf(out->body, sizeof(out->body), "{\"errcode\":\"%s\",\"error\":\"%s\"}", errcode,
		 text);
}

/* acked says how a transaction went, once handled: kept and answered
 * 200, or not (e) and answered 503, which has the homeserver send it
 * again. */
static void acked(struct appsvc *a, const char *txn, size_t actions, enum err e,
		  struct matrix_aslisten_answer *out)
{
	if (e == ERR_OK)
		e = keep(a, txn);
	if (e != ERR_OK) {
		a->stats.failed++;
		log_warn(
			"appservice: transaction %s not acknowledged (%s): the homeserver "
			"sends it again; %zu transactions waiting, the oldest first came %lld ms ago",
			txn, err_str(e), a->n_waiting, waiting_age(a));
		set_answer(out, 503, "M_UNKNOWN", "Not handled; try again");
	} else {
		a->stats.txns++;
		a->alive_ms = clock_mono_ms();
		waiting_done(a, txn);
		log_info(
			"appservice: transaction %s handled: %zu actions, the oldest event %lld ms "
			"old when handled; %zu transactions waiting, the oldest first came %lld ms ago",
			txn, actions, a->m->behind_ms > 0 ? a->m->behind_ms : 0, a->n_waiting,
			waiting_age(a));
	}
}

/* wait_put leaves the answer to txn for when no message waits for its
 * room's facts (settle); 0 when it cannot wait (too many do already). */
static int wait_put(struct appsvc *a, const char *txn, size_t actions,
		    struct matrix_aslisten_answer *out)
{
	char *copy;

	if (a->n_wait == APPSVC_WAIT_MAX || !(copy = strs_dup(txn)))
		return 0;
	a->wait[a->n_wait].txn = copy;
	a->wait[a->n_wait].ticket = out->ticket;
	a->wait[a->n_wait].actions = actions;
	a->n_wait++;
	out->later = 1;
	return 1;
}

/* settle answers the transactions that waited, once no message does: a
 * waiting message that could not be journaled leaves them unacknowledged
 * (sent again; the transaction ids keep what was sent from showing
 * twice). */
static void settle(struct appsvc *a)
{
	struct matrix_aslisten_answer out;
	size_t i;
	enum err e = a->m->held_failed ? ERR_IO : ERR_OK;

	if (a->m->n_held)
		return;
	a->m->held_failed = 0; /* a transaction answered already: sent again */
	for (i = 0; i < a->n_wait; i++) {
		memset(&out, 0, sizeof(out));
		out.status = 200;
		snprintf(out.body, sizeof(out.body), "{}");
		acked(a, a->wait[i].txn, a->wait[i].actions, e, &out);
		matrix_aslisten_reply(a->l, a->wait[i].ticket, out.status, out.body);
		free(a->wait[i].txn);
	}
	a->n_wait = 0;
}

static void on_txn(struct appsvc *a, const char *txn, const char *body, size_t len,
		   struct matrix_aslisten_answer *out)
{
	struct mx_sync *s = NULL;
	char why[128] = "";
	enum err e;

	if (mx_as_txns_has(&a->txns, txn)) {
		a->stats.dups++;
		waiting_done(a, txn);
		log_info("appservice: transaction %s again: handled before, acknowledged", txn);
		return;
	}
	e = mx_as_txn_parse(body, len, a->m->user_id, &s, why, sizeof(why));
	if (e == ERR_PARSE) {
		a->stats.bad++;
		waiting_done(a, txn); /* answered for good: never to be handled */
		log_warn("appservice: transaction %s refused: %s", txn, why);
		set_answer(out, 400, "M_BAD_JSON", "Not a transaction");
		return;
	}
	waiting_add(a, txn);
	if (e == ERR_OK)
		e = handle(a, s);
	if (e == ERR_OK && a->m->held_failed)
		e = ERR_IO; /* settle's, now */
	/* messages wait for their rooms' facts: acknowledged once handled */
	if (e != ERR_OK || !a->m->n_held || !wait_put(a, txn, s->n, out)) {
		if (e == ERR_OK && a->m->n_held)
			e = ERR_LIMIT; /* too many wait: sent again later */
		acked(a, txn, s->n, e, out);
	}
	mx_sync_free(s);
}

/* on_request answers what the listener hands over (matrix_aslisten.h) */
static void on_request(void *ctx, enum mx_as_route route, const char *param, const char *body,
		       size_t len, struct matrix_aslisten_answer *out)
{
	struct appsvc *a = ctx;

	switch (route) {
	case MX_AS_TXN:
		on_txn(a, param, body, len, out);
		break;
	case MX_AS_PING:
		a->alive_ms = clock_mono_ms();
		log_info("appservice: pinged by the homeserver");
		break;
	case MX_AS_USER:
		if (strcmp(param, a->m->user_id))
			set_answer(out, 404, "M_NOT_FOUND", "No such user here");
		break;
	default: /* MX_AS_ROOM: the bot makes no rooms */
		set_answer(out, 404, "M_NOT_FOUND", "No such room alias here");
		break;
	}
}

/* ---- the periodic whoami ---------------------------------------------- */

static void check_step(struct appsvc *a)
{
	struct matrix *m = a->m;
	long long wait;
	int wants = 0;

	if (a->who_busy && a->who_x.done) {
		a->who_x.done = 0;
		a->who_busy = 0;
		switch (matrix_judge(m, "GET", "/account/whoami", 0, &a->who_r, &a->who_attempt,
				     &wait)) {
		case MATRIX_V_DONE:
			a->alive_ms = clock_mono_ms();
			a->who_attempt = 0;
			break;
		case MATRIX_V_AUTH:
			/* no password: this is m->fatal, with why */
			matrix_token_refused(m, a->who_gen, &a->who_attempt, &wants);
			break;
		case MATRIX_V_RETRY:
			a->who_at = clock_mono_ms() + wait;
			matrix_resp_release(&a->who_r);
			return;
		default:
			break;
		}
		matrix_resp_release(&a->who_r);
		a->who_at = clock_mono_ms() + APPSVC_CHECK_MS;
	}
	if (!a->who_busy && !m->fatal && clock_mono_ms() >= a->who_at) {
		a->who_gen = m->login_gen;
		if (matrix_xfer_begin(m, &a->who_x, "GET", MATRIX_API "/account/whoami", NULL, 0,
				      &a->who_r) == ERR_OK)
			a->who_busy = 1;
		else
			a->who_at = clock_mono_ms() + APPSVC_CHECK_MS;
	}
}

/* ---- the ops (transport.h) -------------------------------------------- */

static enum err load_txns(struct appsvc *a)
{
	char *text = NULL;
	size_t len = 0;
	enum err e = state_read(a->m->state_dir, APPSVC_TXNS_FILE, &text, &len);

	if (e == ERR_NOTFOUND)
		return ERR_OK;
	if (e == ERR_OK)
		e = mx_as_txns_load(&a->txns, text, len);
	else
		matrix_set_err(a->m, "cannot read %s/%s: %s", a->m->state_dir, APPSVC_TXNS_FILE,
			       err_str(e));
	free(text);
	return e;
}

static enum err listen_now(struct appsvc *a)
{
	struct matrix_aslisten_config lc = {0};
	char err[512];
	enum err e;

	lc.listen = a->listen;
	lc.tls_cert_file = a->cert;
	lc.tls_key_file = a->key;
	lc.hs_token = a->hs_token;
	lc.max_body = a->max_body;
	lc.conns_max = APPSVC_CONNS_MAX;
	lc.conn_timeout_s = APPSVC_CONN_TIMEOUT_S;
	e = matrix_aslisten_start(&lc, on_request, a, &a->l, err, sizeof(err));
	if (e != ERR_OK)
		matrix_set_err(a->m, "appservice: %s", err);
	return e;
}

static enum err op_start(void *t, tr_handler_fn fn, void *ctx, volatile sig_atomic_t *stop)
{
	struct appsvc *a = t;
	struct matrix *m = a->m;
	enum err e;
	size_t i;

	m->fn = fn;
	m->ctx = ctx;
	m->stop = stop;
	m->errstr[0] = '\0';
	e = load_txns(a);
	if (e == ERR_OK)
		e = matrix_whoami(m);
	if (e == ERR_OK)
		e = read_joined(a);
	if (e != ERR_OK)
		return matrix_stopping(m, 1) ? ERR_OK : e;
	matrix_send_load(m);
	for (i = 0; i < m->n_rooms; i++)
		if (m->rooms[i])
			matrix_join(m, m->rooms[i], 0, 1);
	if (m->mod_room)
		matrix_join(m, m->mod_room, 0, 1);
	e = listen_now(a);
	if (e != ERR_OK)
		return e;
	a->alive_ms = clock_mono_ms();
	a->who_at = a->alive_ms + APPSVC_CHECK_MS;
	log_info("appservice: user=%s homeserver=%s rooms joined=%zu listening on %s port %u%s",
		 m->user_id, m->hs, a->n_joined, a->listen, appsvc_port(a),
		 a->cert ? " (https)" : "");
	return ERR_OK;
}

static void op_want(void *t, struct tr_wait *w)
{
	struct appsvc *a = t;
	long long at;

	matrix_aslisten_want(a->l, w); /* first: never crowded out */
	matrix_multi_want(a->m, w);
	at = matrix_send_want_at(a->m);
	if (at >= 0 && (w->at_ms < 0 || at < w->at_ms))
		w->at_ms = at;
	at = matrix_ask_want_at(a->m);
	if (at >= 0 && (w->at_ms < 0 || at < w->at_ms))
		w->at_ms = at;
	at = a->who_busy ? -1 : a->who_at;
	if (a->who_x.done)
		at = clock_mono_ms();
	if (at >= 0 && (w->at_ms < 0 || at < w->at_ms))
		w->at_ms = at;
}

static enum tr_state op_ready(void *t, const struct tr_wait *w)
{
	struct appsvc *a = t;
	struct matrix *m = a->m;

	matrix_multi_ready(m, w);
	matrix_aslisten_run(a->l); /* each request handled and answered */
	matrix_pump(m);
	check_step(a);
	matrix_ask_run(m);
	settle(a);
	matrix_send_run(m);
	if (m->fatal) {
		if (!m->errstr[0])
			matrix_set_err(m, "cannot go on: the as_token is refused");
		return TR_FAILED;
	}
	return TR_RUNNING;
}

static void op_notice(void *t, const char *text)
{
	struct appsvc *a = t;

	if (matrix_notice_post(a->m, text, NULL) != ERR_OK)
		log_warn("a notice for the moderators was not queued");
}

static void op_stop(void *t)
{
	struct appsvc *a = t;

	/* no new transaction: the homeserver keeps what it could not push,
	 * and those that waited are answered 503 (sent again) */
	matrix_aslisten_stop(a->l);
	while (a->n_wait)
		free(a->wait[--a->n_wait].txn);
	a->l = NULL;
	if (a->who_busy)
		matrix_xfer_abort(a->m, &a->who_x);
	a->who_busy = 0;
	matrix_send_stop(a->m);
	log_info("appservice: stop: %lu transactions handled, %lu retries acknowledged",
		 a->stats.txns, a->stats.dups);
}

static void op_health(const void *t, struct tr_health *h)
{
	const struct appsvc *a = t;
	long long oldest = matrix_send_oldest_ms(a->m);

	h->alive_ms = a->alive_ms;
	h->behind_ms = a->m->behind_ms;
	h->sends = (long)a->m->queued;
	h->send_age_ms = oldest ? clock_wall_ms() - oldest : 0;
	if (h->send_age_ms < 0)
		h->send_age_ms = 0;
	h->txns = (long)a->n_waiting;
	h->txn_age_ms = waiting_age(a);
}

static const char *op_errstr(const void *t)
{
	return matrix_errstr(((const struct appsvc *)t)->m);
}

const struct transport_ops appsvc_ops = {"matrix",  op_start, op_want,   op_ready,
					 op_notice, op_stop,  op_health, op_errstr};
