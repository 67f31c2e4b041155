/* matrix_e2ee.c -- reading encrypted rooms (see matrix_int.h): a /sync's
 * to-device events decrypted with Olm (mx_crypto) for the room keys they
 * bring, checked as the spec says; a room's m.room.encrypted event
 * decrypted with its Megolm session and handed to the answer path
 * (matrix_handle_message) as any other message; one whose key has not
 * come yet kept (MX_E2EE_PENDING_MAX, MATRIX_E2EE_WAIT_MS), asked for
 * with an m.room_key_request, and answered when the key comes, else
 * counted and logged without its text.
 *
 * Delivery: what a batch changed (sessions, the account, the waiting
 * list) is written by matrix_e2ee_save before the batch's since is: a
 * crash before it replays the batch (a room key already kept comes again
 * and changes nothing; a message already answered meets its transaction
 * id), a crash after it loses nothing. The waiting list is a file too
 * (STATE_DIR/e2ee_pending, ciphertexts and ids, no plaintext), so a
 * message whose key comes after a restart is still answered.
 *
 * Not here: sending encrypted (issue 15's item 3: replies still go out
 * as they always have, unencrypted, which a room's members see marked as
 * such). */
#include "matrix_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "metrics.h"
#include "mx_crypto.h"
#include "mx_e2ee.h"
#include "mx_html.h"
#include "state.h"

#define E2EE_PENDING_FILE "e2ee_pending"

struct matrix_e2ee {
	struct mx_pending *p; /* waiting for their key, oldest first */
	size_t n;
	int dirty; /* the waiting list's file is behind */
};

/* ---- the waiting list ---------------------------------------------------- */

/* pending_damaged: the waiting list's file did not read back whole (e, or
 * entries skipped): said at error level, with what it costs, and a copy
 * kept beside it before its next write replaces it */
static void pending_damaged(struct matrix *m, const char *text, size_t len, enum err e)
{
	char name[64], copy[MATRIX_ERRSTR_MAX];

	snprintf(name, sizeof(name), "%s.damaged-%lld", E2EE_PENDING_FILE, clock_wall_ms() / 1000);
	if (text && state_write_max(m->state_dir, name, text, len, 0600, len + 1) == ERR_OK)
		snprintf(copy, sizeof(copy), "its copy is kept as %s/%s", m->state_dir, name);
	else
		snprintf(copy, sizeof(copy), "no copy of it could be kept");
	log_error("encryption: %s/%s is damaged (%s); %s; %zu waiting messages read back: those "
		  "left out are not answered when their room keys come (the moderators may look "
		  "at the rooms); nothing else to do",
		  m->state_dir, E2EE_PENDING_FILE,
		  e == ERR_OK ? "entries that do not read" : err_str(e), copy, m->e2ee->n);
}

enum err matrix_e2ee_new(struct matrix *m)
{
	struct matrix_e2ee *x = calloc(1, sizeof(*x));
	char *text = NULL;
	size_t len = 0, skipped = 0;
	enum err e;

	if (!x)
		return ERR_NOMEM;
	m->e2ee = x;
	e = state_read_max(m->state_dir, E2EE_PENDING_FILE, MX_E2EE_STORE_MAX, &text, &len);
	if (e == ERR_OK)
		e = mx_e2ee_pending_parse(text, len, &x->p, &x->n, &skipped);
	if (e != ERR_NOTFOUND && e != ERR_NOMEM && (e != ERR_OK || skipped))
		pending_damaged(m, text, len, e);
	free(text);
	if (e == ERR_NOTFOUND)
		return ERR_OK;
	if (e == ERR_NOMEM)
		return e;
	if (x->n)
		log_info("encryption: %zu messages still wait for their room key", x->n);
	return ERR_OK;
}

void matrix_e2ee_free(struct matrix *m)
{
	if (!m->e2ee)
		return;
	mx_e2ee_pending_free(m->e2ee->p, m->e2ee->n);
	free(m->e2ee);
	m->e2ee = NULL;
}

/* drop removes waiting entry i */
static void drop(struct matrix_e2ee *x, size_t i)
{
	mx_e2ee_megolm_release(&x->p[i].m);
	memmove(&x->p[i], &x->p[i + 1], (x->n - i - 1) * sizeof(*x->p));
	x->n--;
	x->dirty = 1;
}

/* give_up counts and logs a message that will not be read (no text) */
static void give_up(struct matrix *m, const char *room, const char *event, const char *why)
{
	m->stats.undecryptable++;
	metrics_inc(M_E2EE_UNDECRYPTABLE);
	log_warn("encrypted message room=%s event=%s cannot be read: %s", room, event, why);
}

/* expire gives up the messages that waited their time */
static void expire(struct matrix *m)
{
	struct matrix_e2ee *x = m->e2ee;
	long long now = clock_wall_ms();
	size_t i = 0;

	while (i < x->n) {
		if (now - x->p[i].first_ms < MATRIX_E2EE_WAIT_MS) {
			i++;
			continue;
		}
		give_up(m, x->p[i].room_id, x->p[i].event_id, "its room key did not come in time");
		drop(x, i);
	}
}

/* key_request queues an m.room_key_request for p's session to every
 * device of its sender (the spec's advice: not the deprecated
 * sender_key or device_id alone); not journaled: one lost is one fewer
 * chance, and the waiting list is what keeps the message. */
static void key_request(struct matrix *m, struct mx_pending *p)
{
	char txn[MX_TXN_MAX], *body = NULL;
	struct matrix_send_spec sp;
	enum err e;

	e = mx_txn_key_request(p->m.session_id, txn, sizeof(txn));
	if (e == ERR_OK)
		e = mx_e2ee_key_request_json(p->sender, p->room_id, p->m.sender_key,
					     p->m.session_id, txn, m->device, &body);
	if (e != ERR_OK) {
		log_warn("encryption: no key request for event=%s: %s", p->event_id, err_str(e));
		return;
	}
	memset(&sp, 0, sizeof(sp));
	sp.kind = MATRIX_SEND_TO_DEVICE;
	sp.room = p->sender; /* its own queue: the user asked */
	sp.txn = txn;
	sp.body = body;
	sp.event = p->event_id;
	sp.about = p->room_id;
	sp.klass = "m.room_key_request";
	if (matrix_send_put(m, &sp, NULL) == ERR_OK)
		p->asked = 1;
	free(body);
}

/* keep puts a message whose key has not come on the waiting list */
static enum err keep(struct matrix *m, const struct mx_action *a)
{
	struct matrix_e2ee *x = m->e2ee;
	struct mx_pending *p, *nv;
	size_t i;

	for (i = 0; i < x->n; i++)
		if (!strcmp(x->p[i].event_id, a->event_id))
			return ERR_OK; /* a replayed batch: waiting already */
	if (x->n >= MX_E2EE_PENDING_MAX) {
		give_up(m, x->p[0].room_id, x->p[0].event_id,
			"too many messages wait for their keys");
		drop(x, 0);
	}
	nv = realloc(x->p, (x->n + 1) * sizeof(*nv));
	if (!nv)
		return ERR_NOMEM;
	x->p = nv;
	p = &nv[x->n];
	memset(p, 0, sizeof(*p));
	if (mx_e2ee_megolm_copy(a->enc, &p->m) != ERR_OK)
		return ERR_NOMEM;
	snprintf(p->room_id, sizeof(p->room_id), "%s", a->room_id);
	snprintf(p->event_id, sizeof(p->event_id), "%s", a->event_id);
	snprintf(p->sender, sizeof(p->sender), "%s", a->sender);
	p->ts = a->ts;
	p->first_ms = clock_wall_ms();
	x->n++;
	x->dirty = 1;
	log_info("encrypted message room=%s event=%s waits for its room key", a->room_id,
		 a->event_id);
	if (!mx_crypto_room_checking(matrix_keys_crypto(m), p->m.session_id))
		key_request(m, p); /* a key being checked is here: none to ask */
	return ERR_OK;
}

/* ---- a room's encrypted message ---------------------------------------- */

/* answer hands a decrypted message to the answer path */
static enum err answer(struct matrix *m, const struct mx_action *outer, const char *plain,
		       tr_handler_fn fn, void *ctx, int late)
{
	struct mx_action dec;
	enum err e;

	e = mx_sync_decrypted(plain, strlen(plain), outer, m->user_id, &dec);
	if (e == ERR_NOMEM)
		return e;
	if (e != ERR_OK) {
		m->stats.refused_enc++;
		metrics_inc(M_E2EE_REFUSED);
		log_warn("encrypted message room=%s event=%s refused: its plaintext is not a "
			 "message of this room",
			 outer->room_id, outer->event_id);
		return ERR_OK;
	}
	m->stats.decrypted++;
	metrics_inc(late ? M_E2EE_LATE : M_E2EE_DECRYPTED);
	log_info("encrypted message room=%s event=%s decrypted%s", outer->room_id, outer->event_id,
		 late ? " (its key came later)" : "");
	e = dec.ignore == MX_IGN_NONE && fn ? matrix_handle_message(m, &dec, fn, ctx) : ERR_OK;
	mx_action_release(&dec);
	return e;
}

/* try_one decrypts a and answers it: ERR_NOTFOUND when its key has not
 * come (the caller keeps it); a refusal is counted and logged. */
static enum err try_one(struct matrix *m, const struct mx_action *a, tr_handler_fn fn, void *ctx,
			int late)
{
	char why[200], *plain = NULL;
	enum err e;

	e = mx_crypto_room_decrypt(matrix_keys_crypto(m), a->room_id, a->sender, a->event_id,
				   a->enc, &plain, why, sizeof(why));
	if (e == ERR_OK)
		e = answer(m, a, plain, fn, ctx, late);
	else if (e == ERR_INVALID) {
		m->stats.refused_enc++;
		metrics_inc(M_E2EE_REFUSED);
		log_warn("encrypted message room=%s event=%s refused: %s", a->room_id, a->event_id,
			 why);
		e = ERR_OK;
	}
	mx_crypto_plain_free(plain);
	return e;
}

enum err matrix_e2ee_message(struct matrix *m, const struct mx_action *a, tr_handler_fn fn,
			     void *ctx)
{
	enum err e;

	if (!fn || !strcmp(a->sender, m->user_id))
		return ERR_OK; /* a first start (no backlog is answered); the bot's own */
	if (!m->e2ee || !matrix_keys_crypto(m) || !a->enc) {
		give_up(m, a->room_id, a->event_id,
			!m->e2ee ? "encryption is off (encryption = true in [matrix])"
				 : "not Megolm, or not whole");
		return ERR_OK;
	}
	e = try_one(m, a, fn, ctx, 0);
	return e == ERR_NOTFOUND ? keep(m, a) : e;
}

/* retry tries every waiting message of session_id again */
static enum err retry(struct matrix *m, const char *session_id, tr_handler_fn fn, void *ctx)
{
	struct matrix_e2ee *x = m->e2ee;
	struct mx_action a;
	size_t i = 0;
	enum err e;

	while (i < x->n) {
		struct mx_pending *p = &x->p[i];

		if (strcmp(p->m.session_id, session_id)) {
			i++;
			continue;
		}
		memset(&a, 0, sizeof(a));
		a.kind = MX_ACT_MESSAGE;
		a.ignore = MX_IGN_ENCRYPTED;
		a.room_id = p->room_id;
		a.event_id = p->event_id;
		a.sender = p->sender;
		a.ts = p->ts;
		a.enc = &p->m;
		e = try_one(m, &a, fn, ctx, 1);
		if (e == ERR_NOTFOUND) {
			i++;
			continue;
		}
		if (e != ERR_OK)
			return e; /* the journal: stop, the batch replays */
		drop(x, i);
	}
	return ERR_OK;
}

void matrix_e2ee_checked(struct matrix *m, const char *session_id)
{
	if (m->e2ee && m->fn && retry(m, session_id, m->fn, m->ctx) != ERR_OK)
		log_error("encryption: the messages of a room key just checked wait: %s",
			  m->errstr);
}

/* ---- to-device ----------------------------------------------------------- */

/* requested: the waiting message of session_id from user that a key
 * request went out for, or NULL */
static const struct mx_pending *requested(const struct matrix *m, const char *session_id,
					  const char *user)
{
	size_t i;

	for (i = 0; i < m->e2ee->n; i++)
		if (m->e2ee->p[i].asked && !strcmp(m->e2ee->p[i].m.session_id, session_id) &&
		    !strcmp(m->e2ee->p[i].sender, user))
			return &m->e2ee->p[i];
	return NULL;
}

/* room_key keeps the room key a checked Olm event carried; *sid gets its
 * session id when one was added (to retry its messages). */
static void room_key(struct matrix *m, const struct mx_todev *t, const struct mx_olm_plain *pl,
		     char *sid, size_t sidlen)
{
	char why[200];
	int added = 0;

	if (pl->key.forwarded && !requested(m, pl->key.session_id, t->sender)) {
		/* only what the bot asked for, and from the user whose
		 * message waits: no one can vouch for another's session */
		log_info("encryption: a forwarded room key from %s not asked for: ignored",
			 t->sender);
		return;
	}
	if (mx_crypto_room_key(matrix_keys_crypto(m), &pl->key, t->sender, t->sender_key,
			       pl->sender_ed25519, &added, why, sizeof(why)) != ERR_OK) {
		m->stats.refused_enc++;
		metrics_inc(M_E2EE_REFUSED);
		log_warn("encryption: a room key from %s for room=%s refused: %s", t->sender,
			 pl->key.room_id, why);
		return;
	}
	if (added) {
		log_info("encryption: room key for room=%s from %s kept%s", pl->key.room_id,
			 t->sender, pl->key.forwarded ? " (forwarded)" : "");
		snprintf(sid, sidlen, "%s", pl->key.session_id);
	}
}

/* todev_one decrypts one Olm to-device event and keeps its room key. */
static void todev_one(struct matrix *m, const struct mx_todev *t, char *sid, size_t sidlen)
{
	struct mx_crypto *c = matrix_keys_crypto(m);
	struct mx_crypto_identity id;
	const struct mx_olm_cipher *oc;
	struct mx_olm_expect xp;
	struct mx_olm_plain pl;
	char why[200], *plain = NULL;
	enum err e;

	if (mx_crypto_identity(c, &id) != ERR_OK)
		return;
	oc = mx_e2ee_cipher_for(t, id.curve25519);
	if (!oc)
		return; /* for another device of the bot's */
	e = mx_crypto_olm_decrypt(c, t->sender_key, oc->type, oc->body, &plain, why, sizeof(why));
	if (e != ERR_OK) {
		log_warn("encryption: a to-device message from %s cannot be decrypted: %s",
			 t->sender, why);
		return;
	}
	memset(&xp, 0, sizeof(xp));
	xp.sender = t->sender;
	xp.sender_key = t->sender_key;
	xp.me = m->user_id;
	xp.my_ed25519 = id.ed25519;
	xp.verify = mx_crypto_verify;
	e = mx_e2ee_olm_plain(plain, strlen(plain), &xp, &pl, why, sizeof(why));
	mx_crypto_plain_free(plain);
	if (e != ERR_OK) {
		m->stats.refused_enc++;
		metrics_inc(M_E2EE_REFUSED);
		log_warn("encryption: a to-device message from %s refused: %s", t->sender, why);
	} else if (pl.has_key) {
		room_key(m, t, &pl, sid, sidlen);
		/* sent without its device's keys: the spec's /keys/query check,
		 * asked without holding the loop; its messages wait for it */
		if (sid[0] && !pl.device_keys &&
		    mx_crypto_room_check(c, sid, MX_CHECK_WAIT) == ERR_OK) {
			log_info("encryption: room key for room=%s from %s waits for its device's "
				 "check (/keys/query)",
				 pl.key.room_id, t->sender);
			sid[0] = '\0';
		}
	} else {
		log_info("encryption: a to-device %s from %s (nothing to do)", pl.type, t->sender);
	}
	mx_e2ee_plain_release(&pl);
}

enum err matrix_e2ee_to_device(struct matrix *m, const struct mx_sync *s, tr_handler_fn fn,
			       void *ctx)
{
	char sid[MX_KEY_MAX];
	size_t i;
	enum err e = ERR_OK;

	if (!m->e2ee || !matrix_keys_crypto(m))
		return ERR_OK;
	for (i = 0; i < s->n_todev && e == ERR_OK; i++) {
		if (!s->todev[i].olm)
			continue;
		sid[0] = '\0';
		todev_one(m, &s->todev[i], sid, sizeof(sid));
		if (sid[0])
			e = retry(m, sid, fn, ctx);
	}
	return e;
}

enum err matrix_e2ee_save(struct matrix *m)
{
	struct matrix_e2ee *x = m->e2ee;
	char err[MATRIX_ERRSTR_MAX], *json = NULL;
	enum err e;

	if (!x || !matrix_keys_crypto(m))
		return ERR_OK;
	expire(m);
	e = mx_crypto_save(matrix_keys_crypto(m), err, sizeof(err));
	if (e != ERR_OK) {
		matrix_set_err(m, "%s", err);
		log_error("encryption: %s", err);
		return e;
	}
	if (!x->dirty)
		return ERR_OK;
	e = x->n ? mx_e2ee_pending_json(x->p, x->n, &json) : ERR_OK;
	if (e == ERR_OK && json)
		e = state_write_max(m->state_dir, E2EE_PENDING_FILE, json, strlen(json), 0600,
				    MX_E2EE_STORE_MAX);
	else if (e == ERR_OK)
		e = state_remove(m->state_dir, E2EE_PENDING_FILE);
	free(json);
	if (e != ERR_OK) {
		matrix_set_err(m, "cannot save %s/%s: %s", m->state_dir, E2EE_PENDING_FILE,
			       err_str(e));
		log_error("encryption: %s", m->errstr);
		return e;
	}
	x->dirty = 0;
	return ERR_OK;
}
