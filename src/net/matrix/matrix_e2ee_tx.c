/* matrix_e2ee_tx.c -- sending in encrypted rooms (see matrix_int.h): a
 * reply, an alert or a notice for a room whose m.room.encryption is
 * Megolm waits at the head of its queue until the room's outbound
 * session has been given to every device of every joined member, then
 * is encrypted (mx_crypto), the session saved, the encrypted event
 * journaled in its place, and only then tried: a retry, a restart, a
 * kill -9 after that send the same ciphertext with the same transaction
 * id (a Megolm ratchet step cannot be taken again).
 *
 * Giving the key out takes exchanges, one at a time, each on its own
 * easy handle in the loop's multi handle (nothing here waits): the
 * room's m.room.encryption asked once (a first start's sync brings no
 * state), its joined members (again after a member event), the devices
 * of members not known yet (POST /keys/query; a user the sync says
 * changed devices is asked again), a one-time key of each device with no
 * Olm session yet (POST /keys/claim), then one PUT /sendToDevice of the
 * m.room_key, Olm-encrypted for each device, and one of
 * m.room_key.withheld (m.no_olm) for the devices that had no one-time
 * key. A device is noted as holding the key once the server took it.
 * A member who left turns the key (the next message goes in a new
 * session, given only to those still there), as does the room's
 * rotation_period_msgs or _ms (the spec's defaults: 100, a week).
 *
 * Bounded: a send that has waited MATRIX_TX_WAIT_MS for all that (a
 * server that does not answer /keys/query, say) goes anyway, encrypted
 * with the room's session for the devices that have its key; when no
 * device has it yet, a crisis reply, an alert or a notice (a "must") goes
 * unencrypted rather than unread by anyone, an ordinary reply encrypted.
 * The log says which, by ids. A room whose encryption could not be asked
 * is taken as encrypted when an encrypted event came from it, else as
 * not. No plaintext, key or pickle is ever logged. */
#include "matrix_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "mx_crypto.h"
#include "mx_e2ee_tx.h"
#include "mx_html.h"
#include "strs.h"

#define TX_TRIES     3                   /* tries of one ask before the room waits */
#define TX_AGAIN_MS  30000L              /* ... that long */
#define TX_SESSKEY   MX_E2EE_SESSKEY_MAX /* a Megolm session key (base64: 306) */
#define TX_ROOMS_MAX 10000

enum tx_enc { TX_ENC_UNKNOWN, TX_ENC_PLAIN, TX_ENC_ON };
enum tx_step { TX_IDLE, TX_STATE, TX_MEMBERS, TX_QUERY, TX_CLAIM, TX_KEYS, TX_WITHHELD };

static const char *const step_name[] = {
	"-",           "m.room.encryption", "joined_members",     "/keys/query",
	"/keys/claim", "m.room_key",        "m.room_key.withheld"};

struct tx_room {
	char *id;
	enum tx_enc enc;
	int hint; /* an encrypted event came from it */
	long rot_msgs;
	long long rot_ms;
	char **members;
	size_t n_members;
	int members_ok;     /* the list is current */
	int share;          /* some device may lack the key: look */
	long long again_at; /* asks failed: not before, mono ms */
};

struct matrix_e2ee_tx {
	struct tx_room *rooms;
	size_t n_rooms;
	struct mx_tx_dev *devs; /* the devices of the users asked */
	size_t n_devs;
	char **asked; /* users whose devices are current in devs */
	size_t n_asked;
	/* the one exchange */
	enum tx_step step;
	char *room; /* the room it works for */
	struct matrix_xfer x;
	struct matrix_resp r;
	const char *method;
	char path[MATRIX_URL_MAX];
	char *body;
	int attempt;
	long long at_ms; /* its retry, mono ms; 0: now */
	/* a share: the devices it gives the key to, their one-time keys */
	struct mx_tx_dev *to;
	size_t n_to;
	char (*otk)[MX_KEY_MAX];
	char sid[MX_KEY_MAX];
	char **sent_to; /* curve25519 keys the m.room_key body is for */
	size_t n_sent;
	char *withheld; /* the withheld body, to go after */
	unsigned long txn_n;
};

/* ---- rooms and devices ------------------------------------------------ */

static struct tx_room *room_of(struct matrix_e2ee_tx *t, const char *id, int create)
{
	struct tx_room *nv, *r;
	size_t i;

	for (i = 0; i < t->n_rooms; i++)
		if (!strcmp(t->rooms[i].id, id))
			return &t->rooms[i];
	if (!create || t->n_rooms >= TX_ROOMS_MAX)
		return NULL;
	nv = realloc(t->rooms, (t->n_rooms + 1) * sizeof(*nv));
	if (!nv)
		return NULL;
	t->rooms = nv;
	r = &nv[t->n_rooms];
	memset(r, 0, sizeof(*r));
	r->id = strs_dup(id);
	if (!r->id)
		return NULL;
	r->rot_msgs = MX_TX_ROT_MSGS_DEFAULT;
	r->rot_ms = MX_TX_ROT_MS_DEFAULT;
	r->share = 1;
	t->n_rooms++;
	return r;
}

static int in_list(char *const *v, size_t n, const char *s)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!strcmp(v[i], s))
			return 1;
	return 0;
}

/* forget_user: user's devices are to be asked again */
static void forget_user(struct matrix_e2ee_tx *t, const char *user)
{
	size_t i;

	for (i = 0; i < t->n_asked; i++)
		if (!strcmp(t->asked[i], user)) {
			free(t->asked[i]);
			t->asked[i] = t->asked[--t->n_asked];
			break;
		}
	for (i = 0; i < t->n_devs;)
		if (!strcmp(t->devs[i].user, user))
			t->devs[i] = t->devs[--t->n_devs];
		else
			i++;
}

/* reshare: the rooms user is in look again for devices without their
 * key (a device may have come while a share was under way: that share
 * ends without it, and must not end the room's look) */
static void reshare(struct matrix_e2ee_tx *t, const char *user)
{
	size_t k;

	for (k = 0; k < t->n_rooms; k++)
		if (in_list(t->rooms[k].members, t->rooms[k].n_members, user))
			t->rooms[k].share = 1;
}

static int is_message(enum matrix_send_kind k)
{
	return k == MATRIX_SEND_REPLY || k == MATRIX_SEND_ALERT || k == MATRIX_SEND_NOTICE;
}

static struct mx_crypto *crypto(const struct matrix *m)
{
	return matrix_keys_crypto(m);
}

/* me: the bot's device, for what it sends (id's strings) */
static int me_of(const struct matrix *m, struct mx_crypto_identity *id, struct mx_tx_me *me)
{
	if (!crypto(m) || mx_crypto_identity(crypto(m), id) != ERR_OK)
		return 0;
	me->user = id->user_id;
	me->device = id->device_id;
	me->curve = id->curve25519;
	me->ed = id->ed25519;
	return 1;
}

/* ---- the exchange ----------------------------------------------------- */

static void step_end(struct matrix_e2ee_tx *t)
{
	free(t->body);
	t->body = NULL;
	free(t->room);
	t->room = NULL;
	t->step = TX_IDLE;
	t->attempt = 0;
	t->at_ms = 0;
}

static void share_end(struct matrix_e2ee_tx *t)
{
	free(t->to);
	t->to = NULL;
	t->n_to = 0;
	free(t->otk);
	t->otk = NULL;
	mx_tx_strs_free(t->sent_to, t->n_sent);
	t->sent_to = NULL;
	t->n_sent = 0;
	free(t->withheld);
	t->withheld = NULL;
}

/* step_begin starts an exchange for room (body taken, may be NULL) */
static void step_begin(struct matrix *m, enum tx_step step, const char *room, const char *method,
		       char *body)
{
	struct matrix_e2ee_tx *t = m->tx;
	enum err e = ERR_OK;

	t->step = step;
	t->method = method;
	t->body = body;
	t->attempt = 0;
	t->at_ms = 0;
	free(t->room);
	t->room = strs_dup(room);
	switch (step) {
	case TX_STATE:
		e = mx_path(t->path, sizeof(t->path),
			    MATRIX_API "/rooms/%s/state/m.room.encryption", room);
		break;
	case TX_MEMBERS:
		e = mx_path(t->path, sizeof(t->path), MATRIX_API "/rooms/%s/joined_members", room);
		break;
	case TX_QUERY:
		snprintf(t->path, sizeof(t->path), "%s", MATRIX_API "/keys/query");
		break;
	case TX_CLAIM:
		snprintf(t->path, sizeof(t->path), "%s", MATRIX_API "/keys/claim");
		break;
	default: {
		char txn[64];

		snprintf(txn, sizeof(txn), "k%lld.%lu", m->start_ms, ++t->txn_n);
		e = mx_path(t->path, sizeof(t->path), MATRIX_API "/sendToDevice/%s/%s",
			    step == TX_KEYS ? "m.room.encrypted" : "m.room_key.withheld", txn);
	}
	}
	if (e != ERR_OK || !t->room) {
		log_error("encryption: room=%s %s cannot be asked: %s", room, step_name[step],
			  err_str(e != ERR_OK ? e : ERR_NOMEM));
		step_end(t);
		share_end(t);
	}
}

/* failed: the step gave up (refused, or tried TX_TRIES times): its room
 * waits TX_AGAIN_MS; its sends go at their bound */
static void failed(struct matrix *m, long status)
{
	struct matrix_e2ee_tx *t = m->tx;
	struct tx_room *r = room_of(t, t->room, 0);

	log_warn("encryption: room=%s %s failed (HTTP %ld); asked again in %ld s", t->room,
		 step_name[t->step], status, TX_AGAIN_MS / 1000);
	if (r)
		r->again_at = clock_mono_ms() + TX_AGAIN_MS;
	step_end(t);
	share_end(t);
}

/* ---- the steps' ends -------------------------------------------------- */

static void got_state(struct matrix *m, struct tx_room *r, const struct matrix_resp *res)
{
	if (res->status == 200 &&
	    mx_tx_encryption_text(res->body ? res->body : "", res->len, &r->rot_msgs, &r->rot_ms))
		r->enc = TX_ENC_ON;
	else
		r->enc = TX_ENC_PLAIN; /* 404: none; 403: not in it, the send will say */
	log_info("encryption: room=%s %s", r->id,
		 r->enc == TX_ENC_ON ? "is encrypted: replies there are too" : "is not encrypted");
	(void)m;
}

static void got_members(struct matrix *m, struct tx_room *r, const struct matrix_resp *res)
{
	char **v = NULL;
	size_t n = 0, i;
	int left = 0;

	if (mx_tx_joined_parse(res->body ? res->body : "", res->len, &v, &n) != ERR_OK) {
		r->again_at = clock_mono_ms() + TX_AGAIN_MS;
		return;
	}
	for (i = 0; i < r->n_members && !left; i++)
		left = !in_list(v, n, r->members[i]);
	if (left && crypto(m)) {
		/* the next message in a new session, given to those here */
		mx_crypto_out_discard(crypto(m), r->id);
		log_info("encryption: room=%s a member left: its room key turns", r->id);
	}
	mx_tx_strs_free(r->members, r->n_members);
	r->members = v;
	r->n_members = n;
	r->members_ok = 1;
	r->share = 1;
}

static void got_query(struct matrix *m, const struct matrix_resp *res)
{
	struct matrix_e2ee_tx *t = m->tx;
	struct mx_tx_dev *v = NULL, *nv;
	size_t n = 0, skipped = 0, i;
	json_t *q = t->body ? json_loads(t->body, 0, NULL) : NULL;
	const char *user;
	json_t *val;

	if (mx_tx_query_parse(res->body ? res->body : "", res->len, mx_crypto_verify, &v, &n,
			      &skipped) != ERR_OK) {
		json_decref(q);
		failed(m, res->status);
		return;
	}
	if (skipped)
		log_warn("encryption: /keys/query: %zu devices whose keys do not hold, skipped",
			 skipped);
	/* every user asked is known now, with the devices the answer had */
	json_object_foreach(json_object_get(q, "device_keys"), user, val)
	{
		reshare(t, user);
		forget_user(t, user);
		if (t->n_asked < MX_TX_MEMBERS_MAX) {
			char **na = realloc(t->asked, (t->n_asked + 1) * sizeof(*na));

			if (na && (na[t->n_asked] = strs_dup(user)))
				t->n_asked++;
			if (na)
				t->asked = na;
		}
	}
	json_decref(q);
	nv = n ? realloc(t->devs, (t->n_devs + n) * sizeof(*nv)) : t->devs;
	if (n && nv) {
		t->devs = nv;
		for (i = 0; i < n; i++)
			t->devs[t->n_devs++] = v[i];
	}
	free(v);
}

/* ---- a share ------------------------------------------------------------ */

/* targets: the devices of room's members that lack its session's key
 * (the bot's own device aside); 0 with none, -1 on no memory */
static int targets(struct matrix *m, struct tx_room *r, const char *my_device)
{
	struct matrix_e2ee_tx *t = m->tx;
	size_t i;

	share_end(t);
	for (i = 0; i < t->n_devs; i++) {
		const struct mx_tx_dev *d = &t->devs[i];

		if (!in_list(r->members, r->n_members, d->user) ||
		    (!strcmp(d->user, m->user_id) && !strcmp(d->device, my_device)) ||
		    mx_crypto_out_has(crypto(m), r->id, d->curve))
			continue;
		if (!(t->n_to % 64)) {
			struct mx_tx_dev *nv = realloc(t->to, (t->n_to + 64) * sizeof(*nv));

			if (!nv)
				return -1;
			t->to = nv;
		}
		t->to[t->n_to++] = *d;
	}
	if (!t->n_to)
		return 0;
	t->otk = calloc(t->n_to, sizeof(*t->otk));
	return t->otk ? 1 : -1;
}

/* seal_one: the m.room_key for device d, Olm-encrypted, as a to-device
 * content (new), or NULL when it has no session and no one-time key */
static char *seal_one(struct matrix *m, const struct mx_tx_me *me, const struct mx_tx_dev *d,
		      const char *room, const char *otk, const char *key)
{
	char *plain = NULL, *body = NULL, *content = NULL;
	int type = 0;

	if (mx_tx_room_key_plain(me, d, room, m->tx->sid, key, &plain) == ERR_OK &&
	    mx_crypto_olm_encrypt(crypto(m), d->curve, otk, plain, &type, &body) == ERR_OK)
		(void)mx_tx_olm_content(me, d->curve, type, body, &content);
	if (plain)
		mx_crypto_plain_free(plain);
	free(body);
	return content;
}

/* seal builds the m.room_key body for t->to (and the withheld body for
 * those it cannot reach), saves the Olm sessions it moved, and starts
 * its PUT; 0 when nothing can go (then the room's share is over) */
static int seal(struct matrix *m, struct tx_room *r)
{
	struct matrix_e2ee_tx *t = m->tx;
	struct mx_tx_msg *msgs = calloc(t->n_to, sizeof(*msgs)), *wh = calloc(t->n_to, sizeof(*wh));
	char key[TX_SESSKEY], err[MATRIX_ERRSTR_MAX], *body = NULL;
	size_t n = 0, nw = 0, i;
	struct mx_crypto_identity id;
	struct mx_tx_me me;
	char *withheld_c = NULL;

	enum err e = msgs && wh && me_of(m, &id, &me) ? ERR_OK : ERR_NOMEM;

	if (e == ERR_OK)
		e = mx_crypto_out_key(crypto(m), r->id, t->sid, key, sizeof(key));
	if (e == ERR_OK)
		e = mx_tx_withheld_content(&me, r->id, t->sid, "m.no_olm",
					   "No one-time key of this device could be claimed",
					   &withheld_c);
	if (e != ERR_OK) {
		log_error("encryption: room=%s session=%s its room key cannot be given out: %s",
			  r->id, t->sid, err_str(e));
		goto out;
	}
	t->sent_to = calloc(t->n_to, sizeof(*t->sent_to));
	for (i = 0; t->sent_to && i < t->n_to; i++) {
		char *c = seal_one(m, &me, &t->to[i], r->id, t->otk[i], key);

		if (c && (t->sent_to[t->n_sent] = strs_dup(t->to[i].curve))) {
			t->n_sent++;
			msgs[n++] = (struct mx_tx_msg){t->to[i].user, t->to[i].device, c};
		} else {
			free(c);
			wh[nw++] = (struct mx_tx_msg){t->to[i].user, t->to[i].device, withheld_c};
			log_info("encryption: room=%s device %s of %s has no Olm session and no "
				 "one-time key: m.room_key.withheld (m.no_olm)",
				 r->id, t->to[i].device, t->to[i].user);
		}
	}
	explicit_bzero(key, sizeof(key));
	/* the Olm sessions moved: on disk before their messages go */
	if (mx_crypto_save(crypto(m), err, sizeof(err)) != ERR_OK) {
		log_error("encryption: %s", err);
		n = 0;
	}
	if (n)
		(void)mx_tx_todev_body(msgs, n, &body);
	if (nw)
		(void)mx_tx_todev_body(wh, nw, &t->withheld);
out:
	for (i = 0; msgs && i < n; i++)
		free((char *)msgs[i].content);
	free(msgs);
	free(wh);
	free(withheld_c);
	if (body) {
		log_info("encryption: room=%s room key session=%s to %zu devices", r->id, t->sid,
			 n);
		step_begin(m, TX_KEYS, r->id, "PUT", body);
		return 1;
	}
	if (t->withheld) {
		step_begin(m, TX_WITHHELD, r->id, "PUT", t->withheld);
		t->withheld = NULL;
		return 1;
	}
	return 0;
}

static void got_keys(struct matrix *m, struct tx_room *r)
{
	struct matrix_e2ee_tx *t = m->tx;
	char err[MATRIX_ERRSTR_MAX];
	size_t i;

	for (i = 0; i < t->n_sent; i++)
		(void)mx_crypto_out_note(crypto(m), r->id, t->sid, t->sent_to[i]);
	if (mx_crypto_save(crypto(m), err, sizeof(err)) != ERR_OK)
		log_error("encryption: %s", err); /* given again after a restart */
}

/* device_gone: was r's current session given to a device that none of
 * its members has now (removed, or its keys no longer hold)? Asked when
 * every member's devices are current (needs), so a device not among them
 * is gone, not unknown. */
static int device_gone(struct matrix *m, const struct tx_room *r)
{
	const struct matrix_e2ee_tx *t = m->tx;
	size_t n = 0, i, k;
	char *const *v = mx_crypto_out_shared(crypto(m), r->id, &n);

	for (i = 0; i < n; i++) {
		for (k = 0; k < t->n_devs; k++)
			if (!strcmp(t->devs[k].curve, v[i]) &&
			    in_list(r->members, r->n_members, t->devs[k].user))
				break;
		if (k == t->n_devs)
			return 1;
	}
	return 0;
}

/* share_next: the share's next exchange for r, or its end */
static void share_next(struct matrix *m, struct tx_room *r)
{
	struct matrix_e2ee_tx *t = m->tx;
	struct mx_crypto_out_info info;
	struct mx_crypto_identity id;
	struct mx_tx_me me;
	char *body = NULL;
	size_t i, need = 0;
	int k;

	if (me_of(m, &id, &me) && device_gone(m, r)) {
		/* the next message in a new session, which it does not get */
		mx_crypto_out_discard(crypto(m), r->id);
		log_info("encryption: room=%s a device that had its room key is gone: the key "
			 "turns",
			 r->id);
	}
	if (!me_of(m, &id, &me) ||
	    mx_crypto_out_begin(crypto(m), r->id, r->rot_msgs, r->rot_ms, &info) != ERR_OK) {
		r->share = 0;
		return;
	}
	snprintf(t->sid, sizeof(t->sid), "%s", info.session_id);
	k = targets(m, r, id.device_id);
	log_info("encryption: room=%s %zu members, %zu devices known, %zu without its room key",
		 r->id, r->n_members, t->n_devs, t->n_to);
	if (k <= 0) {
		r->share = 0; /* every device has it (or no memory: the bound) */
		share_end(t);
		return;
	}
	for (i = 0; i < t->n_to; i++)
		need += !mx_crypto_olm_has(crypto(m), t->to[i].curve);
	if (need) {
		struct mx_tx_dev *v = calloc(need, sizeof(*v));
		size_t j = 0;

		for (i = 0; v && i < t->n_to; i++)
			if (!mx_crypto_olm_has(crypto(m), t->to[i].curve))
				v[j++] = t->to[i];
		if (v && mx_tx_claim_json(v, j, &body) == ERR_OK) {
			free(v);
			step_begin(m, TX_CLAIM, r->id, "POST", body);
			return;
		}
		free(v);
	}
	if (!seal(m, r)) {
		r->share = 0;
		share_end(t);
	}
}

static void got_claim(struct matrix *m, struct tx_room *r, const struct matrix_resp *res)
{
	struct matrix_e2ee_tx *t = m->tx;
	char(*got)[MX_KEY_MAX] = calloc(t->n_to, sizeof(*got));
	size_t i;

	if (got && mx_tx_claim_parse(res->body ? res->body : "", res->len, mx_crypto_verify, t->to,
				     t->n_to, got) == ERR_OK)
		for (i = 0; i < t->n_to; i++)
			memcpy(t->otk[i], got[i], sizeof(got[i]));
	free(got);
	step_end(t);
	if (!seal(m, r)) {
		r->share = 0;
		share_end(t);
	}
}

/* ended acts on the end of the step's exchange that went well */
static void ended_ok(struct matrix *m, struct tx_room *r)
{
	struct matrix_e2ee_tx *t = m->tx;
	struct matrix_resp *res = &t->r;
	enum tx_step step = t->step;

	switch (step) {
	case TX_STATE:
		got_state(m, r, res);
		break;
	case TX_MEMBERS:
		got_members(m, r, res);
		break;
	case TX_QUERY:
		got_query(m, res);
		break;
	case TX_CLAIM:
		got_claim(m, r, res);
		return;
	case TX_KEYS:
		got_keys(m, r);
		if (t->withheld) {
			char *w = t->withheld;

			t->withheld = NULL;
			free(t->body);
			t->body = NULL;
			step_begin(m, TX_WITHHELD, r->id, "PUT", w);
			return;
		}
		r->share = 0;
		share_end(t);
		break;
	case TX_WITHHELD:
		r->share = 0;
		share_end(t);
		break;
	default:
		break;
	}
	if (t->step == step)
		step_end(t);
}

/* take_end acts on the end of the exchange in flight */
static void take_end(struct matrix *m)
{
	struct matrix_e2ee_tx *t = m->tx;
	struct tx_room *r = room_of(t, t->room, 0);
	long long wait = -1;

	t->x.done = 0;
	switch (matrix_judge(m, t->method, t->path, 0, &t->r, &t->attempt, &wait)) {
	case MATRIX_V_DONE:
		if (r)
			ended_ok(m, r);
		else
			step_end(t);
		break;
	case MATRIX_V_RETRY:
		if (t->attempt >= TX_TRIES)
			failed(m, t->r.status);
		else
			t->at_ms = clock_mono_ms() + wait;
		break;
	case MATRIX_V_AUTH:
		matrix_login_want(m); /* the shared re-login; asked again after */
		t->at_ms = clock_mono_ms() + TX_AGAIN_MS / 10;
		break;
	case MATRIX_V_REFUSED:
		if (t->step == TX_STATE && r) {
			got_state(m, r, &t->r);
			step_end(t);
			break;
		}
		failed(m, t->r.status);
		break;
	default: /* stopped */
		step_end(t);
		share_end(t);
		break;
	}
	matrix_resp_release(&t->r);
}

/* needs: what r needs next before its sends can be encrypted */
static enum tx_step needs(const struct matrix *m, const struct tx_room *r)
{
	const struct matrix_e2ee_tx *t = m->tx;
	size_t i;

	if (r->enc == TX_ENC_UNKNOWN)
		return TX_STATE;
	if (r->enc != TX_ENC_ON)
		return TX_IDLE;
	if (!r->members_ok)
		return TX_MEMBERS;
	for (i = 0; i < r->n_members; i++)
		if (!in_list(t->asked, t->n_asked, r->members[i]))
			return TX_QUERY;
	return r->share ? TX_KEYS : TX_IDLE;
}

/* query_body: /keys/query for r's members not asked yet */
static char *query_body(struct matrix *m, const struct tx_room *r)
{
	const char **users = calloc(r->n_members ? r->n_members : 1, sizeof(*users));
	size_t n = 0, i;
	char *body = NULL;

	for (i = 0; users && i < r->n_members; i++)
		if (!in_list(m->tx->asked, m->tx->n_asked, r->members[i]))
			users[n++] = r->members[i];
	if (users)
		(void)mx_tx_query_json(users, n, &body);
	free(users);
	return body;
}

/* work starts the next exchange a waiting send's room needs */
static void work(struct matrix *m)
{
	long long now = clock_mono_ms();
	struct tx_room *r;
	size_t i;

	for (i = 0; i < m->n_outq && m->tx->step == TX_IDLE; i++) {
		const struct matrix_send *s = m->outq[i].head;

		if (!s || !s->tx_held || !(r = room_of(m->tx, s->room, 0)) ||
		    (r->again_at && now < r->again_at))
			continue;
		switch (needs(m, r)) {
		case TX_STATE:
			step_begin(m, TX_STATE, r->id, "GET", NULL);
			break;
		case TX_MEMBERS:
			step_begin(m, TX_MEMBERS, r->id, "GET", NULL);
			break;
		case TX_QUERY:
			step_begin(m, TX_QUERY, r->id, "POST", query_body(m, r));
			break;
		case TX_KEYS:
			share_next(m, r);
			break;
		default:
			break;
		}
	}
}

/* unhold: every head looks again (something moved) */
static void unhold(struct matrix *m)
{
	size_t i;

	for (i = 0; i < m->n_outq; i++)
		if (m->outq[i].head)
			m->outq[i].head->tx_held = 0;
}

void matrix_tx_run(struct matrix *m)
{
	struct matrix_e2ee_tx *t = m->tx;
	enum tx_step before;

	if (!t)
		return;
	before = t->step;
	if (t->step != TX_IDLE && t->x.done)
		take_end(m);
	if (t->step == TX_IDLE && !(m->stop && *m->stop) && !m->fatal)
		work(m);
	if (t->step != TX_IDLE && !t->x.busy && !t->x.done && clock_mono_ms() >= t->at_ms) {
		if (matrix_xfer_begin(m, &t->x, t->method, t->path, t->body, 0, &t->r) != ERR_OK)
			failed(m, 0);
		else
			matrix_pump(m);
	}
	if (t->step != before || t->step == TX_IDLE)
		unhold(m);
}

long long matrix_tx_want_at(const struct matrix *m)
{
	const struct matrix_e2ee_tx *t = m->tx;
	long long at = -1, now = clock_mono_ms(), d;
	const struct tx_room *r;
	size_t i;

	if (!t)
		return -1;
	if (t->x.done)
		return now;
	if (t->step != TX_IDLE && !t->x.busy)
		at = t->at_ms > now ? t->at_ms : now;
	for (i = 0; i < m->n_outq; i++) {
		const struct matrix_send *s = m->outq[i].head;

		if (!s || !s->tx_held)
			continue;
		d = s->tx_since + MATRIX_TX_WAIT_MS; /* its bound */
		r = room_of(m->tx, s->room, 0);
		if (t->step == TX_IDLE && r && needs(m, r) != TX_IDLE)
			d = r->again_at > now ? (r->again_at < d ? r->again_at : d) : now;
		if (at < 0 || d < at)
			at = d;
	}
	return at;
}

/* ---- a send encrypted ---------------------------------------------------- */

/* seal_send replaces s's body by its m.room.encrypted content: encrypted
 * with room's session, the session saved, then the send journaled again
 * (so a retry or a restart sends this very ciphertext). 0: it cannot be
 * (logged), and s is left as it was. */
static int seal_send(struct matrix *m, struct matrix_send *s)
{
	char *plain = NULL, *relates = NULL, *ct = NULL, *content = NULL;
	char sid[MX_KEY_MAX], err[MATRIX_ERRSTR_MAX];
	struct mx_crypto_identity id;
	struct mx_tx_me me;
	enum err e = ERR_NOMEM;

	if (me_of(m, &id, &me) &&
	    (e = mx_tx_megolm_plain(s->room, "m.room.message", s->body, &plain)) == ERR_OK &&
	    (e = mx_tx_relates(s->body, &relates)) == ERR_OK &&
	    (e = mx_crypto_group_encrypt(crypto(m), s->room, plain, &ct, sid, sizeof(sid))) ==
		    ERR_OK)
		e = mx_tx_megolm_content(&me, sid, ct, relates, &content);
	if (plain)
		mx_crypto_plain_free(plain);
	free(relates);
	free(ct);
	if (e == ERR_OK && mx_crypto_save(crypto(m), err, sizeof(err)) != ERR_OK) {
		log_error("encryption: %s", err);
		e = ERR_IO;
	}
	if (e != ERR_OK) {
		free(content);
		log_error("encryption: %s room=%s txn=%s cannot be encrypted: %s",
			  matrix_send_kind_name(s->kind), s->room, s->txn, err_str(e));
		return 0;
	}
	free(s->body);
	s->body = content;
	s->enc = 1;
	if (matrix_journal_rewrite(m, s) != ERR_OK)
		log_error("encryption: %s room=%s txn=%s: its encrypted event is not in the "
			  "outbox (%s); sent all the same",
			  matrix_send_kind_name(s->kind), s->room, s->txn, m->errstr);
	log_info("encryption: %s room=%s txn=%s encrypted session=%s",
		 matrix_send_kind_name(s->kind), s->room, s->txn, sid);
	return 1;
}

/* late: s waited its bound; what goes, said by ids */
static int late(struct matrix *m, struct matrix_send *s, struct tx_room *r)
{
	struct mx_crypto_out_info info;
	size_t i, with = 0;

	if (r->enc == TX_ENC_PLAIN || (r->enc == TX_ENC_UNKNOWN && !r->hint)) {
		log_warn("encryption: room=%s txn=%s: whether the room is encrypted could not be "
			 "asked in %ld s; sent unencrypted",
			 s->room, s->txn, MATRIX_TX_WAIT_MS / 1000);
		return 1;
	}
	if (mx_crypto_out_begin(crypto(m), r->id, r->rot_msgs, r->rot_ms, &info) == ERR_OK)
		for (i = 0; i < m->tx->n_devs; i++)
			with += mx_crypto_out_has(crypto(m), r->id, m->tx->devs[i].curve);
	if (!with && s->must) {
		log_warn(
			"encryption: room=%s txn=%s %s: its room key reached no member's device in "
			"%ld s; sent unencrypted, so that it is read",
			s->room, s->txn, matrix_send_kind_name(s->kind), MATRIX_TX_WAIT_MS / 1000);
		return 1;
	}
	log_warn("encryption: room=%s txn=%s: its room key reached %zu devices in %ld s; sent "
		 "encrypted for them",
		 s->room, s->txn, with, MATRIX_TX_WAIT_MS / 1000);
	if (seal_send(m, s) || s->must)
		return 1;
	s->tx_held = 1; /* cannot be encrypted now: another bound's wait */
	s->tx_since = clock_mono_ms();
	return 0;
}

int matrix_tx_ready(struct matrix *m, struct matrix_send *s)
{
	struct mx_crypto_out_info info;
	long long now = clock_mono_ms();
	struct tx_room *r;

	if (!m->tx || !crypto(m) || !is_message(s->kind) || s->enc)
		return 1;
	if (!s->tx_since)
		s->tx_since = now;
	r = room_of(m->tx, s->room, 1);
	if (!r || r->enc == TX_ENC_PLAIN)
		return 1;
	if (needs(m, r) == TX_IDLE && !(m->tx->step != TX_IDLE && !strcmp(m->tx->room, r->id))) {
		if (mx_crypto_out_begin(crypto(m), r->id, r->rot_msgs, r->rot_ms, &info) ==
			    ERR_OK &&
		    !info.fresh) {
			if (seal_send(m, s))
				return 1;
			/* it cannot be encrypted (logged): it waits its bound,
			 * as one whose key is not out, where a crisis goes */
			if (now - s->tx_since >= MATRIX_TX_WAIT_MS)
				return late(m, s, r);
			s->tx_held = 1;
			return 0;
		}
		if (info.rotated)
			log_info("encryption: room=%s its room key turns (%ld messages, or its "
				 "age)",
				 r->id, r->rot_msgs);
		r->share = 1; /* a new session: its key to everyone */
	}
	if (now - s->tx_since >= MATRIX_TX_WAIT_MS)
		return late(m, s, r);
	s->tx_held = 1;
	return 0;
}

/* ---- what a sync says ------------------------------------------------- */

void matrix_tx_sync(struct matrix *m, const struct mx_sync *s)
{
	struct matrix_e2ee_tx *t = m->tx;
	struct tx_room *r;
	size_t i;

	if (!t)
		return;
	for (i = 0; i < s->n_enc; i++) {
		r = room_of(t, s->enc[i].room_id, 1);
		if (!r || !s->enc[i].megolm)
			continue; /* once encrypted, a room stays so (spec) */
		r->enc = TX_ENC_ON;
		r->rot_msgs = s->enc[i].rot_msgs;
		r->rot_ms = s->enc[i].rot_ms;
	}
	for (i = 0; i < s->n; i++) {
		const struct mx_action *a = &s->actions[i];

		r = room_of(t, a->room_id, a->kind == MX_ACT_MESSAGE && a->enc);
		if (!r)
			continue;
		if (a->kind == MX_ACT_NAME)
			r->members_ok = 0; /* a join or a leave: asked again */
		else if (a->kind == MX_ACT_MESSAGE && a->enc)
			r->hint = 1;
	}
	for (i = 0; i < s->n_dl; i++) {
		forget_user(t, s->dl_users[i]);
		reshare(t, s->dl_users[i]);
	}
}

/* ---- life ------------------------------------------------------------- */

enum err matrix_tx_new(struct matrix *m)
{
	m->tx = calloc(1, sizeof(*m->tx));
	return m->tx ? ERR_OK : ERR_NOMEM;
}

void matrix_tx_free(struct matrix *m)
{
	struct matrix_e2ee_tx *t = m->tx;
	size_t i;

	if (!t)
		return;
	matrix_xfer_free(m, &t->x);
	matrix_resp_release(&t->r);
	step_end(t);
	share_end(t);
	for (i = 0; i < t->n_rooms; i++) {
		free(t->rooms[i].id);
		mx_tx_strs_free(t->rooms[i].members, t->rooms[i].n_members);
	}
	free(t->rooms);
	free(t->devs);
	mx_tx_strs_free(t->asked, t->n_asked);
	free(t);
	m->tx = NULL;
}
