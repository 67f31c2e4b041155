/* mx_crypto_out.c -- sending: an outbound Megolm session a room (made,
 * rotated, its key given out, messages encrypted with it) and Olm
 * messages to members' devices (over the session kept with a device, or
 * a new one made from a one-time key it published). The third file of
 * the mx_crypto module (mx_crypto_int.h), the third that calls libolm.
 *
 * The outbound sessions are kept pickled (under the pickle key) in
 * STATE_DIR/megolm_out (MX_CRYPTO_OUT_FILE, 0600, written whole by
 * mx_crypto_save), with the devices each one's key was given to. A
 * Megolm ratchet step cannot be taken back: mx_crypto_save must have
 * written the session after an encryption before its ciphertext goes
 * out, or a restart would encrypt the next message at the same index
 * (which members' clients refuse as a replay). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "mx_crypto_int.h"
#include "olm_dl.h"
#include "state.h"

/* ---- small pieces ------------------------------------------------------ */

static void out_obj_free(OlmOutboundGroupSession *s)
{
	if (s) {
		olm_clear_outbound_group_session(s);
		free(s);
	}
}

static OlmOutboundGroupSession *out_obj_new(void)
{
	void *mem = malloc(olm_outbound_group_session_size());

	return mem ? olm_outbound_group_session(mem) : NULL;
}

static char *pickle_out(struct mx_crypto *c, OlmOutboundGroupSession *s)
{
	size_t n = olm_pickle_outbound_group_session_length(s);
	char *p = malloc(n + 1);

	if (p && olm_pickle_outbound_group_session(s, c->key, c->keylen, p, n) == olm_error()) {
		free(p);
		return NULL;
	}
	if (p)
		p[n] = '\0';
	return p;
}

static OlmOutboundGroupSession *unpickle_out(struct mx_crypto *c, const struct mx_out_rec *r)
{
	OlmOutboundGroupSession *s = out_obj_new();
	char *p = r->pickle ? strdup(r->pickle) : NULL; /* decoded in place */

	if (!s || !p ||
	    olm_unpickle_outbound_group_session(s, c->key, c->keylen, p, strlen(p)) ==
		    olm_error()) {
		out_obj_free(s);
		s = NULL;
	}
	if (p)
		mx_crypto_wiped_free(p, strlen(r->pickle));
	return s;
}

static struct mx_out_rec *out_find(struct mx_crypto *c, const char *room)
{
	size_t k;

	for (k = 0; k < c->out.n; k++)
		if (!strcmp(c->out.v[k].room_id, room))
			return &c->out.v[k];
	return NULL;
}

/* out_slot: room's record, emptied (a new one made when it has none) */
static struct mx_out_rec *out_slot(struct mx_crypto *c, const char *room)
{
	struct mx_out_rec *r = out_find(c, room), *nv;

	if (r) {
		mx_tx_out_rec_release(r);
	} else {
		if (c->out.n >= MX_TX_OUT_MAX)
			return NULL;
		nv = realloc(c->out.v, (c->out.n + 1) * sizeof(*nv));
		if (!nv)
			return NULL;
		c->out.v = nv;
		r = &nv[c->out.n++];
		memset(r, 0, sizeof(*r));
	}
	snprintf(r->room_id, sizeof(r->room_id), "%s", room);
	return r;
}

/* ---- the file ----------------------------------------------------------- */

/* out_sift leaves out the sessions whose pickles do not open with the key
 * (damaged), their rooms (a line's worth) in rooms; *bad of them */
static enum err out_sift(struct mx_crypto *c, size_t *bad, char *rooms, size_t roomslen)
{
	size_t k = 0, used = 0;

	*bad = 0;
	*rooms = '\0';
	while (k < c->out.n) {
		struct mx_out_rec *r = &c->out.v[k];
		OlmOutboundGroupSession *s = out_obj_new();
		char *p = s ? strdup(r->pickle) : NULL;
		int opens = p && olm_unpickle_outbound_group_session(s, c->key, c->keylen, p,
								     strlen(p)) != olm_error();

		if (p)
			mx_crypto_wiped_free(p, strlen(r->pickle));
		out_obj_free(s);
		if (!p)
			return ERR_NOMEM;
		if (opens) {
			k++;
			continue;
		}
		if (used + strlen(r->room_id) + 2 < roomslen)
			used += (size_t)snprintf(rooms + used, roomslen - used, "%s%s",
						 used ? " " : "", r->room_id);
		mx_tx_out_rec_release(r);
		c->out.v[k] = c->out.v[--c->out.n];
		(*bad)++;
	}
	return ERR_OK;
}

/* Said of a damaged megolm_out: what it costs, what to do */
#define OUT_LOST                                                                                \
	"the rooms whose room keys are left out get new ones, given to their members' devices " \
	"before the next message (members keep the keys of what was sent: nothing is lost); "   \
	"nothing to do but find what damaged it (a full disk, a copy cut short)"

enum err mx_crypto_out_load(struct mx_crypto *c, char *errbuf, size_t errlen)
{
	char *text = NULL, damage[600], rooms[400];
	size_t len = 0, bad = 0, all;
	enum err e, pe;

	e = state_read_max(c->dir, MX_CRYPTO_OUT_FILE, MX_TX_STORE_MAX, &text, &len);
	if (e == ERR_NOTFOUND)
		return ERR_OK;
	if (e == ERR_OK) {
		/* as the sessions' file: what does not open is left out and
		 * set aside, never the start stopped for it */
		pe = mx_tx_out_parse(text, len, &c->out);
		if (pe == ERR_OK) {
			all = c->out.n;
			e = out_sift(c, &bad, rooms, sizeof(rooms));
			snprintf(damage, sizeof(damage),
				 "%zu of its %zu room keys do not open with the pickle key: %s",
				 bad, all, rooms);
		} else if (pe != ERR_NOMEM) {
			mx_tx_out_release(&c->out);
			snprintf(damage, sizeof(damage), "not a faqbot room keys file: %s",
				 err_str(pe));
			bad = 1;
		} else {
			e = pe;
		}
		if (e == ERR_OK && bad) {
			e = mx_crypto_aside_keep(c, CRYPTO_ASIDE_OUT, text, len, damage, OUT_LOST);
			c->out_dirty = 1;
		}
	}
	if (text)
		mx_crypto_wiped_free(text, len);
	if (e == ERR_NOMEM)
		snprintf(errbuf, errlen, "out of memory");
	else if (e != ERR_OK)
		snprintf(errbuf, errlen,
			 "%s/%s (the room keys the bot encrypts its messages with) cannot be "
			 "read (%s): check its owner and mode (0600, the bot's user), or move it "
			 "away (new room keys are then made and shared)",
			 c->dir, MX_CRYPTO_OUT_FILE, err_str(e));
	return e;
}

enum err mx_crypto_out_save(struct mx_crypto *c, char *errbuf, size_t errlen)
{
	char *json = NULL;
	enum err e;

	if (!c->out_dirty)
		return ERR_OK;
	e = mx_crypto_aside_write(c, CRYPTO_ASIDE_OUT, errbuf, errlen);
	if (e != ERR_OK)
		return e;
	e = mx_tx_out_json(&c->out, &json);
	if (e == ERR_OK)
		e = state_write_max(c->dir, MX_CRYPTO_OUT_FILE, json, strlen(json), 0600,
				    MX_TX_STORE_MAX);
	if (json)
		mx_crypto_wiped_free(json, strlen(json));
	if (e != ERR_OK) {
		snprintf(errbuf, errlen, "cannot save the outbound room keys in %s/%s: %s", c->dir,
			 MX_CRYPTO_OUT_FILE, err_str(e));
		return e;
	}
	c->out_dirty = 0;
	return ERR_OK;
}

/* ---- Megolm out ------------------------------------------------------- */

/* out_new makes room's new session in r */
static enum err out_new(struct mx_crypto *c, const char *room, struct mx_out_rec **rp)
{
	OlmOutboundGroupSession *s = out_obj_new();
	uint8_t *rnd = NULL, id[MX_KEY_MAX];
	size_t n = 0, idn;
	struct mx_out_rec *r;
	enum err e = s ? ERR_OK : ERR_NOMEM;
	char *p = NULL;

	if (e == ERR_OK) {
		n = olm_init_outbound_group_session_random_length(s);
		rnd = malloc(n ? n : 1);
		e = rnd ? mx_crypto_random(rnd, n) : ERR_NOMEM;
	}
	if (e == ERR_OK && olm_init_outbound_group_session(s, rnd, n) == olm_error())
		e = ERR_INVALID;
	idn = e == ERR_OK ? olm_outbound_group_session_id_length(s) : 0;
	if (e == ERR_OK && (idn >= sizeof(id) || olm_outbound_group_session_id(s, id, idn) != idn))
		e = ERR_INVALID;
	if (e == ERR_OK && !(p = pickle_out(c, s)))
		e = ERR_NOMEM;
	r = e == ERR_OK ? out_slot(c, room) : NULL;
	if (e == ERR_OK && !r)
		e = ERR_NOMEM;
	if (e == ERR_OK) {
		memcpy(r->session_id, id, idn);
		r->session_id[idn] = '\0';
		r->created_ms = clock_wall_ms();
		r->msgs = 0;
		r->pickle = p;
		p = NULL;
		c->out_dirty = 1;
		*rp = r;
	}
	if (p)
		mx_crypto_wiped_free(p, strlen(p));
	if (rnd)
		mx_crypto_wiped_free(rnd, n ? n : 1);
	out_obj_free(s);
	return e;
}

enum err mx_crypto_out_begin(struct mx_crypto *c, const char *room, long max_msgs, long long max_ms,
			     struct mx_crypto_out_info *info)
{
	struct mx_out_rec *r = out_find(c, room);
	long long now = clock_wall_ms();
	enum err e = ERR_OK;

	memset(info, 0, sizeof(*info));
	if (!c->acc)
		return ERR_INVALID;
	if (r && (r->msgs >= max_msgs || now - r->created_ms >= max_ms || now < r->created_ms)) {
		info->rotated = 1; /* used up: a new one, shared anew */
		r = NULL;
	}
	if (!r) {
		e = out_new(c, room, &r);
		info->fresh = e == ERR_OK;
	}
	if (e == ERR_OK) {
		snprintf(info->session_id, sizeof(info->session_id), "%s", r->session_id);
		info->msgs = r->msgs;
	}
	return e;
}

void mx_crypto_out_discard(struct mx_crypto *c, const char *room)
{
	struct mx_out_rec *r = out_find(c, room);
	size_t at;

	if (!r)
		return;
	at = (size_t)(r - c->out.v);
	mx_tx_out_rec_release(r);
	c->out.v[at] = c->out.v[--c->out.n];
	c->out_dirty = 1;
}

int mx_crypto_out_has(struct mx_crypto *c, const char *room, const char *curve)
{
	struct mx_out_rec *r = out_find(c, room);
	size_t k;

	for (k = 0; r && k < r->n_shared; k++)
		if (!strcmp(r->shared[k], curve))
			return 1;
	return 0;
}

enum err mx_crypto_out_note(struct mx_crypto *c, const char *room, const char *session_id,
			    const char *curve)
{
	struct mx_out_rec *r = out_find(c, room);
	char **nv;

	if (!r || strcmp(r->session_id, session_id))
		return ERR_NOTFOUND; /* rotated meanwhile: the new one is shared anew */
	if (mx_crypto_out_has(c, room, curve))
		return ERR_OK;
	if (r->n_shared >= MX_TX_SHARED_MAX)
		return ERR_LIMIT;
	nv = realloc(r->shared, (r->n_shared + 1) * sizeof(*nv));
	if (!nv)
		return ERR_NOMEM;
	r->shared = nv;
	if (!(nv[r->n_shared] = strdup(curve)))
		return ERR_NOMEM;
	r->n_shared++;
	c->out_dirty = 1;
	return ERR_OK;
}

char *const *mx_crypto_out_shared(const struct mx_crypto *c, const char *room, size_t *n)
{
	size_t k;

	*n = 0;
	for (k = 0; k < c->out.n; k++)
		if (!strcmp(c->out.v[k].room_id, room)) {
			*n = c->out.v[k].n_shared;
			return c->out.v[k].shared;
		}
	return NULL;
}

enum err mx_crypto_out_key(struct mx_crypto *c, const char *room, const char *session_id, char *key,
			   size_t keylen)
{
	struct mx_out_rec *r = out_find(c, room);
	OlmOutboundGroupSession *s;
	size_t n;
	enum err e = ERR_OK;

	if (!r || strcmp(r->session_id, session_id))
		return ERR_NOTFOUND;
	s = unpickle_out(c, r);
	if (!s)
		return ERR_INVALID;
	n = olm_outbound_group_session_key_length(s);
	if (n >= keylen || olm_outbound_group_session_key(s, (uint8_t *)key, n) != n)
		e = ERR_LIMIT;
	else
		key[n] = '\0';
	out_obj_free(s);
	return e;
}

enum err mx_crypto_group_encrypt(struct mx_crypto *c, const char *room, const char *plain,
				 char **ct, char *session_id, size_t sidlen)
{
	struct mx_out_rec *r = out_find(c, room);
	OlmOutboundGroupSession *s;
	size_t plen = strlen(plain), n, got;
	char *buf = NULL, *p;
	enum err e = ERR_OK;

	*ct = NULL;
	if (!r)
		return ERR_NOTFOUND;
	s = unpickle_out(c, r);
	if (!s)
		return ERR_INVALID;
	n = olm_group_encrypt_message_length(s, plen);
	buf = malloc(n + 1);
	if (!buf)
		e = ERR_NOMEM;
	got = e == ERR_OK ? olm_group_encrypt(s, (const uint8_t *)plain, plen, (uint8_t *)buf, n)
			  : olm_error();
	if (e == ERR_OK && got == olm_error())
		e = ERR_INVALID;
	p = e == ERR_OK ? pickle_out(c, s) : NULL;
	if (e == ERR_OK && !p)
		e = ERR_NOMEM;
	out_obj_free(s);
	if (e != ERR_OK) {
		free(buf);
		return e;
	}
	buf[got] = '\0';
	mx_crypto_wiped_free(r->pickle, strlen(r->pickle));
	r->pickle = p;
	r->msgs++;
	c->out_dirty = 1;
	snprintf(session_id, sidlen, "%s", r->session_id);
	*ct = buf;
	return ERR_OK;
}

/* ---- Olm out ------------------------------------------------------------ */

int mx_crypto_olm_has(const struct mx_crypto *c, const char *curve)
{
	size_t k;

	for (k = 0; k < c->ss.n_olm; k++)
		if (!strcmp(c->ss.olm[k].sender_key, curve))
			return 1;
	return 0;
}

/* olm_latest: the record of the session with curve used last, or -1 */
static long olm_latest(const struct mx_crypto *c, const char *curve)
{
	long best = -1;
	size_t k;

	for (k = 0; k < c->ss.n_olm; k++)
		if (!strcmp(c->ss.olm[k].sender_key, curve) &&
		    (best < 0 || c->ss.olm[k].used_ms > c->ss.olm[best].used_ms))
			best = (long)k;
	return best;
}

/* olm_outbound: a new session with curve from its one-time key otk */
static OlmSession *olm_outbound(struct mx_crypto *c, const char *curve, const char *otk)
{
	OlmSession *s = mx_crypto_olm_obj_new();
	size_t n = s ? olm_create_outbound_session_random_length(s) : 0;
	void *rnd = s ? malloc(n ? n : 1) : NULL;

	if (!rnd || mx_crypto_random(rnd, n) != ERR_OK ||
	    olm_create_outbound_session(s, c->acc, curve, strlen(curve), otk, strlen(otk), rnd,
					n) == olm_error()) {
		mx_crypto_olm_obj_free(s);
		s = NULL;
	}
	if (rnd)
		mx_crypto_wiped_free(rnd, n ? n : 1);
	return s;
}

/* olm_seal encrypts plain with s: *type and a new base64 *body */
static enum err olm_seal(OlmSession *s, const char *plain, int *type, char **body)
{
	size_t plen = strlen(plain), rn = olm_encrypt_random_length(s), mn, got;
	void *rnd = malloc(rn ? rn : 1);
	char *msg = NULL;
	enum err e = rnd ? mx_crypto_random(rnd, rn) : ERR_NOMEM;

	*type = (int)olm_encrypt_message_type(s);
	mn = olm_encrypt_message_length(s, plen);
	if (e == ERR_OK && !(msg = malloc(mn + 1)))
		e = ERR_NOMEM;
	got = e == ERR_OK ? olm_encrypt(s, plain, plen, rnd, rn, msg, mn) : olm_error();
	if (e == ERR_OK && got == olm_error())
		e = ERR_INVALID;
	if (rnd)
		mx_crypto_wiped_free(rnd, rn ? rn : 1);
	if (e != ERR_OK) {
		free(msg);
		return e;
	}
	msg[got] = '\0';
	*body = msg;
	return ERR_OK;
}

enum err mx_crypto_olm_encrypt(struct mx_crypto *c, const char *curve, const char *otk,
			       const char *plain, int *type, char **body)
{
	long at = olm_latest(c, curve);
	OlmSession *s = NULL;
	enum err e;

	*body = NULL;
	if (!c->acc)
		return ERR_INVALID;
	if (at >= 0)
		s = mx_crypto_olm_unpickle(c, &c->ss.olm[at]);
	if (!s && otk && *otk) {
		s = olm_outbound(c, curve, otk);
		at = -1;
		if (!s)
			return ERR_INVALID;
	}
	if (!s)
		return ERR_NOTFOUND;
	e = olm_seal(s, plain, type, body);
	if (e == ERR_OK)
		e = mx_crypto_olm_keep(c, s, curve, at);
	if (e != ERR_OK) {
		free(*body);
		*body = NULL;
	}
	mx_crypto_olm_obj_free(s);
	return e;
}
