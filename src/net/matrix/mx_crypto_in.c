/* mx_crypto_in.c -- receiving: Olm sessions with members' devices, the
 * inbound Megolm sessions they bring, decryption and replay protection
 * (see mx_crypto.h). Half of the mx_crypto module (mx_crypto_int.h): the
 * other file that calls libolm, through olm_dl's table.
 *
 * Sessions are kept pickled (mx_sessions, the file's very records) and
 * unpickled for each use: a few microseconds of AES and HMAC, against
 * holding every session's state in memory; an Olm session that moved on
 * is pickled again at once, so the records are always what is to be
 * saved. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "mx_crypto_int.h"
#include "olm_dl.h"
#include "state.h"

/* ---- small pieces ------------------------------------------------------ */

static char *copy(const char *s)
{
	return s ? strdup(s) : NULL;
}

/* repickle: a session's pickle, new, or NULL */
static char *pickle_olm(struct mx_crypto *c, OlmSession *s)
{
	size_t n = olm_pickle_session_length(s);
	char *p = malloc(n + 1);

	if (p && olm_pickle_session(s, c->key, c->keylen, p, n) == olm_error()) {
		free(p);
		return NULL;
	}
	if (p)
		p[n] = '\0';
	return p;
}

static char *pickle_grp(struct mx_crypto *c, OlmInboundGroupSession *s)
{
	size_t n = olm_pickle_inbound_group_session_length(s);
	char *p = malloc(n + 1);

	if (p && olm_pickle_inbound_group_session(s, c->key, c->keylen, p, n) == olm_error()) {
		free(p);
		return NULL;
	}
	if (p)
		p[n] = '\0';
	return p;
}

void mx_crypto_olm_obj_free(OlmSession *s)
{
	if (s) {
		olm_clear_session(s);
		free(s);
	}
}

OlmSession *mx_crypto_olm_obj_new(void)
{
	void *mem = malloc(olm_session_size());

	return mem ? olm_session(mem) : NULL;
}

/* unpickle_olm: the session a record holds, new, or NULL */
OlmSession *mx_crypto_olm_unpickle(struct mx_crypto *c, const struct mx_olm_rec *r)
{
	OlmSession *s = mx_crypto_olm_obj_new();
	char *p = copy(r->pickle); /* libolm decodes it in place */

	if (!s || !p || olm_unpickle_session(s, c->key, c->keylen, p, strlen(p)) == olm_error()) {
		mx_crypto_olm_obj_free(s);
		s = NULL;
	}
	if (p)
		mx_crypto_wiped_free(p, strlen(r->pickle));
	return s;
}

static void grp_obj_free(OlmInboundGroupSession *s)
{
	if (s) {
		olm_clear_inbound_group_session(s);
		free(s);
	}
}

static OlmInboundGroupSession *grp_obj_new(void)
{
	void *mem = malloc(olm_inbound_group_session_size());

	return mem ? olm_inbound_group_session(mem) : NULL;
}

static OlmInboundGroupSession *unpickle_grp(struct mx_crypto *c, const struct mx_grp_rec *r)
{
	OlmInboundGroupSession *s = grp_obj_new();
	char *p = copy(r->pickle);

	if (!s || !p ||
	    olm_unpickle_inbound_group_session(s, c->key, c->keylen, p, strlen(p)) == olm_error()) {
		grp_obj_free(s);
		s = NULL;
	}
	if (p)
		mx_crypto_wiped_free(p, strlen(r->pickle));
	return s;
}

void mx_crypto_plain_free(char *plain)
{
	if (plain)
		mx_crypto_wiped_free(plain, strlen(plain));
}

/* ---- the file ----------------------------------------------------------- */

/* sift leaves out the records of c->ss whose pickles do not open with the
 * key (the account opened with it: they are damaged); *bad, and the rooms
 * of the room keys left out (at most a line's worth) in rooms. ERR_NOMEM
 * when a session cannot be made to try. */
static enum err sift(struct mx_crypto *c, size_t *bad, char *rooms, size_t roomslen)
{
	size_t k = 0, used = 0;

	*bad = 0;
	*rooms = '\0';
	while (k < c->ss.n_olm) {
		OlmSession *s = mx_crypto_olm_obj_new();
		char *p = s ? copy(c->ss.olm[k].pickle) : NULL;
		int opens = p &&
			    olm_unpickle_session(s, c->key, c->keylen, p, strlen(p)) != olm_error();

		if (p)
			mx_crypto_wiped_free(p, strlen(c->ss.olm[k].pickle));
		mx_crypto_olm_obj_free(s);
		if (!p)
			return ERR_NOMEM;
		if (opens) {
			k++;
			continue;
		}
		mx_crypto_wiped_free(c->ss.olm[k].pickle, strlen(c->ss.olm[k].pickle));
		c->ss.olm[k] = c->ss.olm[--c->ss.n_olm];
		(*bad)++;
	}
	for (k = 0; k < c->ss.n_grp;) {
		OlmInboundGroupSession *g = grp_obj_new();
		char *p = g ? copy(c->ss.grp[k].pickle) : NULL;
		int opens = p && olm_unpickle_inbound_group_session(g, c->key, c->keylen, p,
								    strlen(p)) != olm_error();

		if (p)
			mx_crypto_wiped_free(p, strlen(c->ss.grp[k].pickle));
		grp_obj_free(g);
		if (!p)
			return ERR_NOMEM;
		if (opens) {
			k++;
			continue;
		}
		if (used + strlen(c->ss.grp[k].room_id) + 2 < roomslen &&
		    !strstr(rooms, c->ss.grp[k].room_id))
			used += (size_t)snprintf(rooms + used, roomslen - used, "%s%s",
						 used ? " " : "", c->ss.grp[k].room_id);
		mx_e2ee_grp_release(&c->ss.grp[k]);
		c->ss.grp[k] = c->ss.grp[--c->ss.n_grp];
		(*bad)++;
	}
	return ERR_OK;
}

/* Said of a damaged sessions' file: what it costs, what to do */
#define SESSIONS_LOST                                                                          \
	"the bot goes on without what is left out: a message whose room key was in it waits "  \
	"for the key again (the bot asks its sender's devices for it) and a member's device "  \
	"whose Olm session was in it must make a new one; to get them back, stop the bot and " \
	"put the file back from a backup"

enum err mx_crypto_sessions_load(struct mx_crypto *c, char *errbuf, size_t errlen)
{
	char *text = NULL, damage[600], rooms[400];
	size_t len = 0, bad = 0, all;
	enum err e;

	e = state_read_max(c->dir, MX_CRYPTO_SESSIONS_FILE, MX_E2EE_STORE_MAX, &text, &len);
	if (e == ERR_NOTFOUND)
		return mx_crypto_out_load(c, errbuf, errlen);
	if (e == ERR_OK) {
		/* not a sessions' file (cut, overwritten): none of it, set
		 * aside; whole, but sessions in it that do not open: those
		 * left out. Never the start stopped for it (every room would
		 * go unanswered) nor a new identity. */
		enum err pe = mx_e2ee_sessions_parse(text, len, &c->ss);

		if (pe == ERR_OK) {
			all = c->ss.n_olm + c->ss.n_grp;
			e = sift(c, &bad, rooms, sizeof(rooms));
			snprintf(damage, sizeof(damage),
				 "%zu of its %zu sessions do not open with the pickle key%s%s", bad,
				 all, rooms[0] ? "; room keys of " : "", rooms);
		} else if (pe != ERR_NOMEM) {
			mx_e2ee_sessions_release(&c->ss);
			snprintf(damage, sizeof(damage), "not a sessions file: %s", err_str(pe));
			e = ERR_OK;
			bad = 1;
		} else {
			e = pe;
		}
		if (e == ERR_OK && bad) {
			e = mx_crypto_aside_keep(c, CRYPTO_ASIDE_SESSIONS, text, len, damage,
						 SESSIONS_LOST);
			c->ss_dirty = 1; /* written without them, after the copy */
		}
	}
	if (text)
		mx_crypto_wiped_free(text, len);
	if (e == ERR_NOMEM)
		snprintf(errbuf, errlen, "out of memory");
	else if (e != ERR_OK)
		snprintf(errbuf, errlen,
			 "%s/%s (the encryption sessions members' devices made with the bot, "
			 "and the room keys they sent) cannot be read (%s): check its owner and "
			 "mode (0600, the bot's user), or move it away if it is too large",
			 c->dir, MX_CRYPTO_SESSIONS_FILE, err_str(e));
	return e == ERR_OK ? mx_crypto_out_load(c, errbuf, errlen) : e;
}

/* compact: the replay tables of sessions quiet for MX_CRYPTO_SEEN_KEEP_MS
 * folded into their floor (a replay of them is still refused) */
static void compact(struct mx_crypto *c)
{
	long long now = clock_wall_ms();
	size_t k;

	for (k = 0; k < c->ss.n_grp; k++)
		if (c->ss.grp[k].seen.n && now - c->ss.grp[k].used_ms >= MX_CRYPTO_SEEN_KEEP_MS &&
		    mx_seen_compact(&c->ss.grp[k].seen))
			c->ss_dirty = 1;
}

enum err mx_crypto_save(struct mx_crypto *c, char *errbuf, size_t errlen)
{
	char *json = NULL;
	enum err e = ERR_OK;

	if (errbuf && errlen)
		*errbuf = '\0';
	/* the outbound sessions first: a ratchet step is on disk before its
	 * ciphertext can go out */
	e = mx_crypto_out_save(c, errbuf, errlen);
	if (e != ERR_OK)
		return e;
	if (c->ss_dirty)
		compact(c); /* only with a write that is due anyway */
	if (c->ss_dirty) {
		e = mx_crypto_aside_write(c, CRYPTO_ASIDE_SESSIONS, errbuf, errlen);
		if (e != ERR_OK)
			return e;
		e = mx_e2ee_sessions_json(&c->ss, &json);
		if (e == ERR_OK)
			e = state_write_max(c->dir, MX_CRYPTO_SESSIONS_FILE, json, strlen(json),
					    0600, MX_E2EE_STORE_MAX);
		if (json)
			mx_crypto_wiped_free(json, strlen(json));
		if (e != ERR_OK) {
			snprintf(errbuf, errlen, "cannot save the encryption sessions in %s/%s: %s",
				 c->dir, MX_CRYPTO_SESSIONS_FILE, err_str(e));
			return e;
		}
		c->ss_dirty = 0;
	}
	/* after the sessions: a crash between leaves a one-time key in the
	 * account that the server will not hand out again, never a session
	 * lost */
	if (c->acc_dirty && c->acc) {
		e = mx_crypto_account_save(c, errbuf, errlen);
		if (e == ERR_OK)
			c->acc_dirty = 0;
	}
	return e;
}

void mx_crypto_counts(const struct mx_crypto *c, size_t *olm, size_t *megolm)
{
	*olm = c ? c->ss.n_olm : 0;
	*megolm = c ? c->ss.n_grp : 0;
}

/* ---- Olm ---------------------------------------------------------------- */

/* olm_try decrypts body (type) with s: a new plaintext, or NULL. */
static char *olm_try(OlmSession *s, int type, const char *body)
{
	size_t blen = strlen(body), max, n;
	char *buf = copy(body), *plain = NULL;

	if (!buf)
		return NULL;
	max = olm_decrypt_max_plaintext_length(s, (size_t)type, buf, blen);
	free(buf);
	if (max == olm_error() || !(buf = copy(body)) || !(plain = malloc(max + 1))) {
		free(buf);
		return NULL;
	}
	n = olm_decrypt(s, (size_t)type, buf, blen, plain, max);
	free(buf);
	if (n == olm_error()) {
		mx_crypto_wiped_free(plain, max + 1);
		return NULL;
	}
	plain[n] = '\0';
	if (strlen(plain) != n) { /* a NUL inside: not JSON text */
		mx_crypto_wiped_free(plain, max + 1);
		return NULL;
	}
	return plain;
}

/* olm_matches: is a pre-key message from sender_key for s? */
static int olm_matches(OlmSession *s, const char *sender_key, const char *body)
{
	char *buf = copy(body);
	size_t r;

	if (!buf)
		return 0;
	r = olm_matches_inbound_session_from(s, sender_key, strlen(sender_key), buf, strlen(buf));
	free(buf);
	return r == 1;
}

/* olm_keep stores s for sender_key (the record i, or a new one: the
 * device's least recently used beyond MX_CRYPTO_OLM_PER_KEY, or anyone's
 * beyond MX_E2EE_OLM_MAX, makes room). */
enum err mx_crypto_olm_keep(struct mx_crypto *c, OlmSession *s, const char *sender_key, long i)
{
	struct mx_olm_rec *r, *nv;
	size_t k, mine = 0, lru = (size_t)-1, any = 0;
	char *p = pickle_olm(c, s);

	if (!p)
		return ERR_NOMEM;
	if (i < 0) {
		for (k = 0; k < c->ss.n_olm; k++) {
			if (c->ss.olm[k].used_ms < c->ss.olm[any].used_ms)
				any = k;
			if (strcmp(c->ss.olm[k].sender_key, sender_key))
				continue;
			mine++;
			if (lru == (size_t)-1 || c->ss.olm[k].used_ms < c->ss.olm[lru].used_ms)
				lru = k;
		}
		if (mine >= MX_CRYPTO_OLM_PER_KEY)
			i = (long)lru;
		else if (c->ss.n_olm >= MX_E2EE_OLM_MAX)
			i = (long)any;
	}
	if (i < 0) {
		nv = realloc(c->ss.olm, (c->ss.n_olm + 1) * sizeof(*nv));
		if (!nv) {
			mx_crypto_wiped_free(p, strlen(p));
			return ERR_NOMEM;
		}
		c->ss.olm = nv;
		i = (long)c->ss.n_olm++;
		memset(&nv[i], 0, sizeof(nv[i]));
	}
	r = &c->ss.olm[i];
	if (r->pickle)
		mx_crypto_wiped_free(r->pickle, strlen(r->pickle));
	r->pickle = p;
	snprintf(r->sender_key, sizeof(r->sender_key), "%s", sender_key);
	r->used_ms = clock_wall_ms();
	c->ss_dirty = 1;
	return ERR_OK;
}

/* olm_new makes an inbound session from a pre-key message and decrypts it. */
static enum err olm_new(struct mx_crypto *c, const char *sender_key, const char *body, char **plain,
			char *why, size_t whylen)
{
	OlmSession *s = mx_crypto_olm_obj_new();
	char *buf = copy(body);
	enum err e = ERR_OK;

	if (!s || !buf) {
		e = ERR_NOMEM;
	} else if (olm_create_inbound_session_from(s, c->acc, sender_key, strlen(sender_key), buf,
						   strlen(buf)) == olm_error()) {
		snprintf(why, whylen, "a pre-key message that makes no session (libolm: %s)",
			 olm_session_last_error(s));
		e = ERR_INVALID;
	}
	free(buf);
	if (e == ERR_OK && !(*plain = olm_try(s, 0, body))) {
		snprintf(why, whylen, "a new Olm session that does not decrypt its message");
		e = ERR_INVALID;
	}
	if (e == ERR_OK) {
		/* the one-time key is spent (a fallback key is not removed:
		 * libolm says so, and that is no error) */
		if (olm_remove_one_time_keys(c->acc, s) != olm_error())
			c->acc_dirty = 1;
		e = mx_crypto_olm_keep(c, s, sender_key, -1);
	}
	mx_crypto_olm_obj_free(s);
	return e;
}

enum err mx_crypto_olm_decrypt(struct mx_crypto *c, const char *sender_key, int type,
			       const char *body, char **plain, char *why, size_t whylen)
{
	OlmSession *s;
	size_t k;
	enum err e;

	*plain = NULL;
	if (why && whylen)
		*why = '\0';
	if (!c->acc || !sender_key || !body || (type != 0 && type != 1)) {
		snprintf(why, whylen, "no identity, or not an Olm message");
		return ERR_INVALID;
	}
	for (k = 0; k < c->ss.n_olm; k++) {
		if (strcmp(c->ss.olm[k].sender_key, sender_key))
			continue;
		s = mx_crypto_olm_unpickle(c, &c->ss.olm[k]);
		if (!s)
			continue; /* cannot be: the file opened whole */
		if (type == 0 && !olm_matches(s, sender_key, body)) {
			mx_crypto_olm_obj_free(s);
			continue;
		}
		*plain = olm_try(s, type, body);
		e = *plain ? mx_crypto_olm_keep(c, s, sender_key, (long)k) : ERR_OK;
		mx_crypto_olm_obj_free(s);
		if (*plain || type == 0) {
			if (!*plain)
				snprintf(why, whylen,
					 "its Olm session cannot decrypt it again (a "
					 "message already read)");
			return *plain ? e : ERR_NOTFOUND;
		}
	}
	if (type == 1) {
		snprintf(why, whylen, "no Olm session with that device decrypts it");
		return ERR_NOTFOUND;
	}
	return olm_new(c, sender_key, body, plain, why, whylen);
}

/* ---- Megolm -------------------------------------------------------------- */

static struct mx_grp_rec *grp_find(struct mx_crypto *c, const char *session_id)
{
	size_t k;

	for (k = 0; k < c->ss.n_grp; k++)
		if (!strcmp(c->ss.grp[k].session_id, session_id))
			return &c->ss.grp[k];
	return NULL;
}

/* grp_slot: a record for a new session (the least recently used one
 * beyond MX_E2EE_MEGOLM_MAX is forgotten), zeroed; NULL: no memory. */
static struct mx_grp_rec *grp_slot(struct mx_crypto *c)
{
	struct mx_grp_rec *nv;
	size_t k, lru = 0;

	if (c->ss.n_grp >= MX_E2EE_MEGOLM_MAX) {
		for (k = 1; k < c->ss.n_grp; k++)
			if (c->ss.grp[k].used_ms < c->ss.grp[lru].used_ms)
				lru = k;
		mx_e2ee_grp_release(&c->ss.grp[lru]);
		return &c->ss.grp[lru];
	}
	nv = realloc(c->ss.grp, (c->ss.n_grp + 1) * sizeof(*nv));
	if (!nv)
		return NULL;
	c->ss.grp = nv;
	memset(&nv[c->ss.n_grp], 0, sizeof(*nv));
	return &nv[c->ss.n_grp++];
}

/* grp_from_key: the session k's key makes, checked to be k's; NULL with
 * why set. */
static OlmInboundGroupSession *grp_from_key(const struct mx_room_key *k, char *why, size_t whylen)
{
	OlmInboundGroupSession *s = grp_obj_new();
	uint8_t id[MX_KEY_MAX];
	char *key = copy(k->session_key); /* an import decodes it in place */
	size_t r, n;

	if (!s || !key) {
		snprintf(why, whylen, "out of memory");
		goto fail;
	}
	r = k->forwarded ? olm_import_inbound_group_session(s, (uint8_t *)key, strlen(key))
			 : olm_init_inbound_group_session(s, (uint8_t *)key, strlen(key));
	if (r == olm_error()) {
		snprintf(why, whylen, "a room key libolm refuses (%s)",
			 olm_inbound_group_session_last_error(s));
		goto fail;
	}
	n = olm_inbound_group_session_id_length(s);
	if (n >= sizeof(id) || olm_inbound_group_session_id(s, id, n) != n ||
	    strlen(k->session_id) != n || memcmp(id, k->session_id, n)) {
		snprintf(why, whylen, "a room key whose session is not the one it names");
		goto fail;
	}
	mx_crypto_wiped_free(key, strlen(k->session_key));
	return s;
fail:
	if (key)
		mx_crypto_wiped_free(key, strlen(k->session_key));
	grp_obj_free(s);
	return NULL;
}

/* grp_better: does the new session s know an earlier index than the
 * kept one g? */
static int grp_better(struct mx_crypto *c, const struct mx_grp_rec *g, OlmInboundGroupSession *s)
{
	OlmInboundGroupSession *old = unpickle_grp(c, g);
	int better = !old || olm_inbound_group_session_first_known_index(s) <
				     olm_inbound_group_session_first_known_index(old);

	grp_obj_free(old);
	return better;
}

enum err mx_crypto_room_key(struct mx_crypto *c, const struct mx_room_key *k, const char *owner,
			    const char *sender_key, const char *ed25519, int *added, char *why,
			    size_t whylen)
{
	OlmInboundGroupSession *s;
	struct mx_grp_rec *g;
	char *p;
	int fresh;

	if (added)
		*added = 0;
	if (why && whylen)
		*why = '\0';
	s = grp_from_key(k, why, whylen);
	if (!s)
		return ERR_INVALID;
	g = grp_find(c, k->session_id);
	if (g && (strcmp(g->room_id, k->room_id) || strcmp(g->owner, owner))) {
		snprintf(why, whylen, "a room key for a session kept for another %s",
			 strcmp(g->room_id, k->room_id) ? "room" : "sender");
		grp_obj_free(s);
		return ERR_INVALID;
	}
	if (g && !grp_better(c, g, s)) {
		grp_obj_free(s);
		return ERR_OK; /* the kept copy knows as much */
	}
	p = pickle_grp(c, s);
	grp_obj_free(s);
	fresh = !g;
	if (p && !g)
		g = grp_slot(c);
	if (!p || !g) {
		if (p)
			mx_crypto_wiped_free(p, strlen(p));
		return ERR_NOMEM;
	}
	if (g->pickle)
		mx_crypto_wiped_free(g->pickle, strlen(g->pickle));
	g->pickle = p;
	if (fresh) {
		snprintf(g->room_id, sizeof(g->room_id), "%s", k->room_id);
		snprintf(g->session_id, sizeof(g->session_id), "%s", k->session_id);
		snprintf(g->owner, sizeof(g->owner), "%s", owner);
	}
	snprintf(g->sender_key, sizeof(g->sender_key), "%s",
		 k->forwarded ? k->sender_key : sender_key);
	snprintf(g->ed25519, sizeof(g->ed25519), "%s", k->forwarded ? k->claimed_ed25519 : ed25519);
	g->forwarded = k->forwarded;
	g->used_ms = clock_wall_ms();
	c->ss_dirty = 1;
	if (added)
		*added = 1;
	return ERR_OK;
}

/* grp_decrypt: the plaintext of ct by s (new), its index in *index;
 * NULL with *unknown set when the session starts after it. */
static char *grp_decrypt(OlmInboundGroupSession *s, const char *ct, uint32_t *index, int *unknown)
{
	size_t len = strlen(ct), max, n;
	char *buf = copy(ct), *plain = NULL;

	*unknown = 0;
	if (!buf)
		return NULL;
	max = olm_group_decrypt_max_plaintext_length(s, (uint8_t *)buf, len);
	free(buf);
	if (max == olm_error() || !(buf = copy(ct)) || !(plain = malloc(max + 1))) {
		free(buf);
		return NULL;
	}
	n = olm_group_decrypt(s, (uint8_t *)buf, len, (uint8_t *)plain, max, index);
	free(buf);
	if (n == olm_error() || memchr(plain, '\0', n)) {
		*unknown = n == olm_error() &&
			   strstr(olm_inbound_group_session_last_error(s), "UNKNOWN_MESSAGE_INDEX");
		mx_crypto_wiped_free(plain, max + 1);
		return NULL;
	}
	plain[n] = '\0';
	return plain;
}

/* grp_check: is g the session for this event? ERR_INVALID with why */
static enum err grp_check(const struct mx_grp_rec *g, const char *room, const char *sender,
			  const struct mx_megolm *m, char *why, size_t whylen)
{
	if (strcmp(g->room_id, room)) {
		snprintf(why, whylen, "its session belongs to another room");
		return ERR_INVALID;
	}
	if (strcmp(g->owner, sender)) {
		snprintf(why, whylen, "its session was sent by another user than its sender");
		return ERR_INVALID;
	}
	if (m->sender_key[0] && strcmp(m->sender_key, g->sender_key)) {
		snprintf(why, whylen, "its sender_key is not its session's device");
		return ERR_INVALID;
	}
	return ERR_OK;
}

enum err mx_crypto_room_check(struct mx_crypto *c, const char *session_id, enum mx_check_state st)
{
	struct mx_grp_rec *g = grp_find(c, session_id);
	size_t at;

	if (!g)
		return ERR_NOTFOUND;
	if (st == MX_CHECK_REFUSED) {
		at = (size_t)(g - c->ss.grp);
		mx_e2ee_grp_release(g);
		c->ss.grp[at] = c->ss.grp[--c->ss.n_grp];
	} else if (g->unchecked != (st == MX_CHECK_WAIT)) {
		g->unchecked = st == MX_CHECK_WAIT;
	} else {
		return ERR_OK;
	}
	c->ss_dirty = 1;
	return ERR_OK;
}

int mx_crypto_room_checking(struct mx_crypto *c, const char *session_id)
{
	const struct mx_grp_rec *g = grp_find(c, session_id);

	return g && g->unchecked;
}

int mx_crypto_room_unchecked(const struct mx_crypto *c, size_t i, struct mx_crypto_check *out)
{
	size_t k, n = 0;

	for (k = 0; k < c->ss.n_grp; k++) {
		const struct mx_grp_rec *g = &c->ss.grp[k];

		if (!g->unchecked || n++ != i)
			continue;
		memcpy(out->session_id, g->session_id, sizeof(out->session_id));
		memcpy(out->owner, g->owner, sizeof(out->owner));
		memcpy(out->sender_key, g->sender_key, sizeof(out->sender_key));
		memcpy(out->ed25519, g->ed25519, sizeof(out->ed25519));
		return 1;
	}
	return 0;
}

enum err mx_crypto_room_decrypt(struct mx_crypto *c, const char *room, const char *sender,
				const char *event_id, const struct mx_megolm *m, char **plain,
				char *why, size_t whylen)
{
	OlmInboundGroupSession *s;
	struct mx_grp_rec *g;
	uint32_t index = 0;
	int unknown, seen, changed = 0;
	enum err e;

	*plain = NULL;
	if (why && whylen)
		*why = '\0';
	g = grp_find(c, m->session_id);
	if (!g) {
		snprintf(why, whylen, "no room key for its session yet");
		return ERR_NOTFOUND;
	}
	e = grp_check(g, room, sender, m, why, whylen);
	if (e != ERR_OK)
		return e;
	if (g->unchecked) {
		snprintf(why, whylen, "its room key waits for its device's check");
		return ERR_NOTFOUND;
	}
	s = unpickle_grp(c, g);
	if (!s)
		return ERR_NOMEM;
	*plain = grp_decrypt(s, m->ciphertext, &index, &unknown);
	grp_obj_free(s);
	if (!*plain) {
		snprintf(why, whylen, "%s",
			 unknown ? "its index is before the room key the bot has"
				 : "its ciphertext does not decrypt");
		return unknown ? ERR_NOTFOUND : ERR_INVALID;
	}
	seen = mx_seen_note(&g->seen, index, event_id, &changed);
	if (seen == -2 || seen == -1) {
		mx_crypto_plain_free(*plain);
		*plain = NULL;
		if (seen == -2)
			return ERR_NOMEM;
		snprintf(why, whylen,
			 "message index %lu of its session was another event's: a "
			 "replay",
			 (unsigned long)index);
		return ERR_INVALID;
	}
	if (changed) {
		g->used_ms = clock_wall_ms();
		c->ss_dirty = 1;
	}
	return ERR_OK;
}
