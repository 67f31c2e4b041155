/* mx_e2ee.c -- the JSON of receiving in encrypted rooms (see mx_e2ee.h). */
#include "mx_e2ee.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mx_ids.h"
#include "mx_jget.h"

#define SESSIONS_VERSION 1
#define PENDING_VERSION  1

/* ---- small helpers ---------------------------------------------------- */

/* put: a checked token copied into buf (ERR_INVALID when it is not one) */
static enum err put(char *buf, size_t len, const char *s)
{
	if (!mx_token_ok(s, len))
		return ERR_INVALID;
	memcpy(buf, s, strlen(s) + 1);
	return ERR_OK;
}

/* put_opt: as put, "" when s is absent */
static enum err put_opt(char *buf, size_t len, const char *s)
{
	buf[0] = '\0';
	return s ? put(buf, len, s) : ERR_OK;
}

static int base64_ok(const char *s, size_t max)
{
	size_t i;

	if (!s || !*s)
		return 0;
	for (i = 0; s[i]; i++)
		if (i >= max ||
		    !((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '+' || s[i] == '/' || s[i] == '='))
			return 0;
	return 1;
}

static char *dup_b64(const char *s, size_t max)
{
	return base64_ok(s, max) ? strdup(s) : NULL;
}

static void wipe_free(char *s)
{
	if (s) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

/* ---- to-device events ------------------------------------------------- */

static void todev_clear(struct mx_todev *t)
{
	size_t i;

	for (i = 0; i < t->n_c; i++)
		free(t->c[i].body);
	memset(t, 0, sizeof(*t));
}

void mx_e2ee_todev_free(struct mx_todev *t, size_t n)
{
	size_t i;

	for (i = 0; t && i < n; i++)
		todev_clear(&t[i]);
	free(t);
}

/* todev_ciphers reads an Olm content's ciphertext map into t; ERR_INVALID
 * for a wrong shape. */
static enum err todev_ciphers(struct mx_todev *t, const json_t *c)
{
	json_t *map = json_object_get(c, "ciphertext"), *v, *type;
	const char *key, *body;

	if (put(t->sender_key, sizeof(t->sender_key), mx_jstr(c, "sender_key")) != ERR_OK ||
	    !json_is_object(map))
		return ERR_INVALID;
	json_object_foreach(map, key, v)
	{
		struct mx_olm_cipher *oc = &t->c[t->n_c];

		if (t->n_c >= MX_E2EE_CIPHERS_MAX)
			break;
		type = json_object_get(v, "type");
		body = mx_jstr(v, "body");
		if (!json_is_integer(type) ||
		    (json_integer_value(type) != 0 && json_integer_value(type) != 1) ||
		    put(oc->key, sizeof(oc->key), key) != ERR_OK)
			continue;
		oc->body = dup_b64(body, MX_E2EE_CIPHER_MAX);
		if (!oc->body) {
			if (body && base64_ok(body, MX_E2EE_CIPHER_MAX))
				return ERR_NOMEM;
			continue;
		}
		oc->type = (int)json_integer_value(type);
		t->n_c++;
	}
	return t->n_c ? ERR_OK : ERR_INVALID;
}

/* todev_one reads one event into t: ERR_INVALID to skip it */
static enum err todev_one(struct mx_todev *t, const json_t *ev)
{
	json_t *c = json_object_get(ev, "content");
	const char *alg;

	memset(t, 0, sizeof(*t));
	if (!json_is_object(ev) || put(t->type, sizeof(t->type), mx_jstr(ev, "type")) != ERR_OK ||
	    !mx_id_valid(mx_jstr(ev, "sender"), '@') || !json_is_object(c))
		return ERR_INVALID;
	memcpy(t->sender, mx_jstr(ev, "sender"), strlen(mx_jstr(ev, "sender")) + 1);
	if (strcmp(t->type, "m.room.encrypted"))
		return ERR_OK;
	alg = mx_jstr(c, "algorithm");
	if (!alg || strcmp(alg, MX_KEYS_OLM))
		return ERR_OK; /* not Olm: nothing to decrypt it with */
	t->olm = 1;
	return todev_ciphers(t, c);
}

enum err mx_e2ee_todev_parse(const json_t *sync, struct mx_todev **out, size_t *n, size_t *skipped)
{
	json_t *td = json_object_get(sync, "to_device"), *evs, *ev;
	size_t i, cnt;
	enum err e;

	*out = NULL;
	*n = 0;
	evs = json_is_object(td) ? json_object_get(td, "events") : NULL;
	if (!json_is_array(evs))
		return ERR_OK;
	cnt = json_array_size(evs);
	if (cnt > MX_E2EE_TODEV_MAX) {
		*skipped += cnt - MX_E2EE_TODEV_MAX;
		cnt = MX_E2EE_TODEV_MAX;
	}
	if (!cnt)
		return ERR_OK;
	*out = calloc(cnt, sizeof(**out));
	if (!*out)
		return ERR_NOMEM;
	for (i = 0; i < cnt; i++) {
		ev = json_array_get(evs, i);
		e = todev_one(&(*out)[*n], ev);
		if (e == ERR_NOMEM) {
			todev_clear(&(*out)[*n]);
			mx_e2ee_todev_free(*out, *n);
			*out = NULL;
			*n = 0;
			return e;
		}
		if (e != ERR_OK) {
			todev_clear(&(*out)[*n]);
			(*skipped)++;
			continue;
		}
		(*n)++;
	}
	return ERR_OK;
}

const struct mx_olm_cipher *mx_e2ee_cipher_for(const struct mx_todev *t, const char *curve)
{
	size_t i;

	for (i = 0; t && curve && i < t->n_c; i++)
		if (!strcmp(t->c[i].key, curve))
			return &t->c[i];
	return NULL;
}

/* ---- Megolm room events ------------------------------------------------ */

enum err mx_e2ee_megolm_parse(const json_t *content, struct mx_megolm *out)
{
	const char *alg = mx_jstr(content, "algorithm"), *ct = mx_jstr(content, "ciphertext");

	memset(out, 0, sizeof(*out));
	if (!alg || strcmp(alg, MX_KEYS_MEGOLM) ||
	    put(out->session_id, sizeof(out->session_id), mx_jstr(content, "session_id")) !=
		    ERR_OK ||
	    put_opt(out->sender_key, sizeof(out->sender_key), mx_jstr(content, "sender_key")) !=
		    ERR_OK ||
	    put_opt(out->device_id, sizeof(out->device_id), mx_jstr(content, "device_id")) !=
		    ERR_OK ||
	    !base64_ok(ct, MX_E2EE_CIPHER_MAX)) {
		memset(out, 0, sizeof(*out));
		return ERR_INVALID;
	}
	out->ciphertext = strdup(ct);
	return out->ciphertext ? ERR_OK : ERR_NOMEM;
}

enum err mx_e2ee_megolm_copy(const struct mx_megolm *from, struct mx_megolm *to)
{
	*to = *from;
	to->ciphertext = from->ciphertext ? strdup(from->ciphertext) : NULL;
	return !from->ciphertext || to->ciphertext ? ERR_OK : ERR_NOMEM;
}

void mx_e2ee_megolm_release(struct mx_megolm *m)
{
	free(m->ciphertext);
	memset(m, 0, sizeof(*m));
}

/* ---- the Olm plaintext ------------------------------------------------- */

static enum err fail(char *why, size_t whylen, const char *msg)
{
	if (why && whylen)
		snprintf(why, whylen, "%s", msg);
	return ERR_INVALID;
}

/* device_keys_check: the spec's check 5 of sender_device_keys (dk) */
static enum err device_keys_check(const json_t *dk, const struct mx_olm_expect *x,
				  struct mx_olm_plain *out, char *why, size_t whylen)
{
	const char *dev = mx_jstr(dk, "device_id"), *sig;
	json_t *keys = json_object_get(dk, "keys"), *sigs;
	char name[MX_DEVICE_MAX + 16], *text = NULL, *input = NULL;
	enum err e;

	if (!json_is_object(dk) || !mx_token_ok(dev, sizeof(out->sender_device)) ||
	    !json_is_object(keys))
		return fail(why, whylen, "sender_device_keys malformed");
	if (!mx_jstr(dk, "user_id") || strcmp(mx_jstr(dk, "user_id"), x->sender))
		return fail(why, whylen, "sender_device_keys of another user");
	snprintf(name, sizeof(name), "curve25519:%s", dev);
	if (!mx_jstr(keys, name) || strcmp(mx_jstr(keys, name), x->sender_key))
		return fail(why, whylen, "sender_device_keys with another curve25519 key");
	snprintf(name, sizeof(name), "ed25519:%s", dev);
	if (!mx_jstr(keys, name) || strcmp(mx_jstr(keys, name), out->sender_ed25519))
		return fail(why, whylen, "sender_device_keys with another ed25519 key");
	sigs = json_object_get(json_object_get(dk, "signatures"), x->sender);
	sig = mx_jstr(sigs, name);
	if (!sig || !x->verify)
		return fail(why, whylen, "sender_device_keys not signed by the device");
	text = json_dumps(dk, JSON_COMPACT);
	e = text ? mx_keys_signing_input(text, strlen(text), &input) : ERR_NOMEM;
	if (e == ERR_OK && x->verify(out->sender_ed25519, input, strlen(input), sig) != ERR_OK)
		e = fail(why, whylen, "sender_device_keys: bad signature");
	else if (e != ERR_OK && e != ERR_NOMEM)
		e = fail(why, whylen, "sender_device_keys cannot be checked");
	free(text);
	free(input);
	if (e == ERR_OK) {
		memcpy(out->sender_device, dev, strlen(dev) + 1);
		out->device_keys = 1;
	}
	return e;
}

/* room_key reads an m.room_key or m.forwarded_room_key content into k;
 * 0 when it is not a whole Megolm one. */
static int room_key(const json_t *c, int forwarded, struct mx_room_key *k)
{
	const char *alg = mx_jstr(c, "algorithm"), *sk = mx_jstr(c, "session_key");

	memset(k, 0, sizeof(*k));
	k->forwarded = forwarded;
	if (!alg || strcmp(alg, MX_KEYS_MEGOLM) || !mx_id_valid(mx_jstr(c, "room_id"), '!') ||
	    put(k->session_id, sizeof(k->session_id), mx_jstr(c, "session_id")) != ERR_OK ||
	    !base64_ok(sk, sizeof(k->session_key) - 1))
		return 0;
	if (forwarded &&
	    (put(k->sender_key, sizeof(k->sender_key), mx_jstr(c, "sender_key")) != ERR_OK ||
	     put(k->claimed_ed25519, sizeof(k->claimed_ed25519),
		 mx_jstr(c, "sender_claimed_ed25519_key")) != ERR_OK))
		return 0;
	memcpy(k->room_id, mx_jstr(c, "room_id"), strlen(mx_jstr(c, "room_id")) + 1);
	memcpy(k->session_key, sk, strlen(sk) + 1);
	return 1;
}

enum err mx_e2ee_olm_plain(const char *json, size_t len, const struct mx_olm_expect *x,
			   struct mx_olm_plain *out, char *why, size_t whylen)
{
	json_t *root = mx_jload(json, len), *c, *dk;
	const char *s;
	enum err e = ERR_OK;
	int fwd;

	memset(out, 0, sizeof(*out));
	if (why && whylen)
		*why = '\0';
	c = json_object_get(root, "content");
	if (!json_is_object(root) || put(out->type, sizeof(out->type), mx_jstr(root, "type")) ||
	    !json_is_object(c)) {
		e = ERR_PARSE;
		fail(why, whylen, "not an Olm plaintext");
		goto out;
	}
	s = mx_jstr(root, "sender");
	if (!s || strcmp(s, x->sender)) {
		e = fail(why, whylen, "sender is not the event's sender");
		goto out;
	}
	s = mx_jstr(root, "recipient");
	if (!s || strcmp(s, x->me)) {
		e = fail(why, whylen, "recipient is not the bot");
		goto out;
	}
	s = mx_jstr(json_object_get(root, "recipient_keys"), "ed25519");
	if (!s || strcmp(s, x->my_ed25519)) {
		e = fail(why, whylen, "recipient_keys is not the bot's device");
		goto out;
	}
	if (put(out->sender_ed25519, sizeof(out->sender_ed25519),
		mx_jstr(json_object_get(root, "keys"), "ed25519")) != ERR_OK) {
		e = fail(why, whylen, "no keys.ed25519");
		goto out;
	}
	dk = json_object_get(root, "sender_device_keys");
	if (dk && !json_is_null(dk)) {
		e = device_keys_check(dk, x, out, why, whylen);
		if (e != ERR_OK)
			goto out;
	}
	fwd = !strcmp(out->type, "m.forwarded_room_key");
	if (fwd || !strcmp(out->type, "m.room_key"))
		out->has_key = room_key(c, fwd, &out->key);
out:
	json_decref(root);
	return e;
}

void mx_e2ee_plain_release(struct mx_olm_plain *p)
{
	explicit_bzero(p, sizeof(*p));
}

enum err mx_e2ee_query_check(const char *json, size_t len, const char *user, const char *curve,
			     const char *ed, mx_verify_fn verify, char *device, size_t devlen)
{
	json_t *root = mx_jload(json, len), *devs, *dk;
	struct mx_olm_expect x;
	struct mx_olm_plain pl;
	const char *id;
	enum err e = ERR_NOTFOUND;

	devs = json_object_get(json_object_get(root, "device_keys"), user);
	if (!json_is_object(root) || !json_is_object(json_object_get(root, "device_keys"))) {
		json_decref(root);
		return ERR_PARSE;
	}
	memset(&x, 0, sizeof(x));
	x.sender = user;
	x.sender_key = curve;
	x.verify = verify;
	json_object_foreach(devs, id, dk)
	{
		memset(&pl, 0, sizeof(pl));
		if (put(pl.sender_ed25519, sizeof(pl.sender_ed25519), ed) != ERR_OK)
			break;
		if (!mx_jstr(dk, "device_id") || strcmp(mx_jstr(dk, "device_id"), id) ||
		    device_keys_check(dk, &x, &pl, NULL, 0) != ERR_OK)
			continue;
		snprintf(device, devlen, "%s", pl.sender_device);
		e = ERR_OK;
		break;
	}
	json_decref(root);
	return e;
}

/* ---- requests ----------------------------------------------------------- */

enum err mx_e2ee_key_request_json(const char *user, const char *room, const char *sender_key,
				  const char *session_id, const char *request_id,
				  const char *device, char **out)
{
	json_t *body, *req;

	*out = NULL;
	body = json_pack("{s:s, s:s, s:s}", "algorithm", MX_KEYS_MEGOLM, "room_id", room,
			 "session_id", session_id);
	if (body && sender_key && *sender_key &&
	    json_object_set_new(body, "sender_key", json_string(sender_key)))
		json_decref(body), body = NULL;
	if (!body)
		return ERR_NOMEM;
	req = json_pack("{s:s, s:o, s:s, s:s}", "action", "request", "body", body, "request_id",
			request_id, "requesting_device_id", device);
	if (!req)
		return ERR_NOMEM;
	return mx_jdumps(json_pack("{s:{s:{s:o}}}", "messages", user, "*", req), out);
}

/* ---- replay protection ---------------------------------------------- */

int mx_seen_note(struct mx_seen *s, uint32_t index, const char *event, int *changed)
{
	size_t lo = 0, hi = s->n, mid;
	struct mx_seen_ent *nv;
	char *copy;

	if ((long long)index < s->floor)
		return -1;
	while (lo < hi) {
		mid = (lo + hi) / 2;
		if (s->v[mid].index < index)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < s->n && s->v[lo].index == index)
		return strcmp(s->v[lo].event, event) ? -1 : 1;
	copy = strdup(event);
	if (!copy)
		return -2;
	if (s->n == MX_E2EE_SEEN_MAX && lo == 0) {
		/* lower than every one kept, and no room: it becomes the floor */
		free(copy);
		s->floor = (long long)index + 1;
		*changed = 1;
		return 0;
	}
	if (s->n == MX_E2EE_SEEN_MAX) { /* forget the lowest: the floor rises */
		s->floor = (long long)s->v[0].index + 1;
		free(s->v[0].event);
		memmove(&s->v[0], &s->v[1], (s->n - 1) * sizeof(*s->v));
		s->n--;
		lo--;
	} else if (!(s->n & (s->n + 1)) || !s->v) {
		nv = realloc(s->v, (s->n * 2 + 2) * sizeof(*nv));
		if (!nv) {
			free(copy);
			return -2;
		}
		s->v = nv;
	}
	memmove(&s->v[lo + 1], &s->v[lo], (s->n - lo) * sizeof(*s->v));
	s->v[lo].index = index;
	s->v[lo].event = copy;
	s->n++;
	*changed = 1;
	return 0;
}

int mx_seen_compact(struct mx_seen *s)
{
	long long floor;

	if (!s->n)
		return 0;
	floor = (long long)s->v[s->n - 1].index + 1;
	mx_seen_release(s);
	s->floor = floor;
	return 1;
}

void mx_seen_release(struct mx_seen *s)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		free(s->v[i].event);
	free(s->v);
	s->v = NULL;
	s->n = 0;
	s->floor = 0;
}

/* ---- the sessions' file ------------------------------------------------ */

void mx_e2ee_grp_release(struct mx_grp_rec *g)
{
	wipe_free(g->pickle);
	mx_seen_release(&g->seen);
	memset(g, 0, sizeof(*g));
}

void mx_e2ee_sessions_release(struct mx_sessions *s)
{
	size_t i;

	for (i = 0; i < s->n_olm; i++)
		wipe_free(s->olm[i].pickle);
	for (i = 0; i < s->n_grp; i++)
		mx_e2ee_grp_release(&s->grp[i]);
	free(s->olm);
	free(s->grp);
	memset(s, 0, sizeof(*s));
}

static json_t *seen_json(const struct mx_seen *s)
{
	json_t *a = json_array();
	size_t i;

	for (i = 0; a && i < s->n; i++)
		if (json_array_append_new(
			    a, json_pack("[I,s]", (json_int_t)s->v[i].index, s->v[i].event))) {
			json_decref(a);
			return NULL;
		}
	return a;
}

static json_t *grp_json(const struct mx_grp_rec *g)
{
	json_t *o =
		json_pack("{s:s, s:s, s:s, s:s, s:s, s:b, s:I, s:s, s:I, s:o*}", "room_id",
			  g->room_id, "session_id", g->session_id, "sender_key", g->sender_key,
			  "owner", g->owner, "ed25519", g->ed25519, "forwarded", g->forwarded,
			  "used_ms", (json_int_t)g->used_ms, "pickle", g->pickle ? g->pickle : "",
			  "floor", (json_int_t)g->seen.floor, "seen", seen_json(&g->seen));

	/* written only when set: a file without it reads as before */
	if (o && g->unchecked && json_object_set_new(o, "unchecked", json_true())) {
		json_decref(o);
		return NULL;
	}
	return o;
}

enum err mx_e2ee_sessions_json(const struct mx_sessions *s, char **out)
{
	json_t *root, *olm = json_array(), *grp = json_array();
	size_t i;
	int bad = !olm || !grp;

	*out = NULL;
	for (i = 0; !bad && i < s->n_olm; i++)
		bad = json_array_append_new(
			olm, json_pack("{s:s, s:I, s:s}", "sender_key", s->olm[i].sender_key,
				       "used_ms", (json_int_t)s->olm[i].used_ms, "pickle",
				       s->olm[i].pickle ? s->olm[i].pickle : ""));
	for (i = 0; !bad && i < s->n_grp; i++)
		bad = json_array_append_new(grp, grp_json(&s->grp[i]));
	if (bad) {
		json_decref(olm);
		json_decref(grp);
		return ERR_NOMEM;
	}
	root = json_pack("{s:i, s:o, s:o}", "version", SESSIONS_VERSION, "olm", olm, "megolm", grp);
	return mx_jdumps(root, out);
}

static int int_in(const json_t *v, long long lo, long long hi)
{
	return json_is_integer(v) && json_integer_value(v) >= lo && json_integer_value(v) <= hi;
}

static enum err rec_olm_parse(const json_t *o, struct mx_olm_rec *r)
{
	memset(r, 0, sizeof(*r));
	if (put(r->sender_key, sizeof(r->sender_key), mx_jstr(o, "sender_key")) != ERR_OK ||
	    !int_in(json_object_get(o, "used_ms"), 0, INT64_MAX / 2) ||
	    !base64_ok(mx_jstr(o, "pickle"), MX_E2EE_PICKLE_MAX))
		return ERR_PARSE;
	r->used_ms = json_integer_value(json_object_get(o, "used_ms"));
	r->pickle = strdup(mx_jstr(o, "pickle"));
	return r->pickle ? ERR_OK : ERR_NOMEM;
}

static enum err seen_parse(const json_t *a, struct mx_seen *s)
{
	json_t *v;
	size_t i;
	int changed, r;

	if (!json_is_array(a) || json_array_size(a) > MX_E2EE_SEEN_MAX)
		return ERR_PARSE;
	json_array_foreach(a, i, v)
	{
		if (!json_is_array(v) || json_array_size(v) != 2 ||
		    !int_in(json_array_get(v, 0), 0, UINT32_MAX) ||
		    !mx_id_valid(json_string_value(json_array_get(v, 1)), '$'))
			return ERR_PARSE;
		r = mx_seen_note(s, (uint32_t)json_integer_value(json_array_get(v, 0)),
				 json_string_value(json_array_get(v, 1)), &changed);
		if (r == -2)
			return ERR_NOMEM;
		if (r != 0)
			return ERR_PARSE; /* twice the same index */
	}
	return ERR_OK;
}

static enum err grp_parse(const json_t *o, struct mx_grp_rec *g)
{
	json_t *floor = json_object_get(o, "floor"), *fwd = json_object_get(o, "forwarded");
	json_t *unchecked = json_object_get(o, "unchecked");
	enum err e;

	memset(g, 0, sizeof(*g));
	if (!mx_id_valid(mx_jstr(o, "room_id"), '!') || !mx_id_valid(mx_jstr(o, "owner"), '@') ||
	    put(g->session_id, sizeof(g->session_id), mx_jstr(o, "session_id")) != ERR_OK ||
	    put(g->sender_key, sizeof(g->sender_key), mx_jstr(o, "sender_key")) != ERR_OK ||
	    put(g->ed25519, sizeof(g->ed25519), mx_jstr(o, "ed25519")) != ERR_OK ||
	    !json_is_boolean(fwd) || !int_in(json_object_get(o, "used_ms"), 0, INT64_MAX / 2) ||
	    (unchecked && !json_is_boolean(unchecked)) ||
	    !int_in(floor, 0, (long long)UINT32_MAX + 1) ||
	    !base64_ok(mx_jstr(o, "pickle"), MX_E2EE_PICKLE_MAX))
		return ERR_PARSE;
	memcpy(g->room_id, mx_jstr(o, "room_id"), strlen(mx_jstr(o, "room_id")) + 1);
	memcpy(g->owner, mx_jstr(o, "owner"), strlen(mx_jstr(o, "owner")) + 1);
	g->forwarded = json_is_true(fwd);
	g->unchecked = json_is_true(unchecked);
	g->used_ms = json_integer_value(json_object_get(o, "used_ms"));
	e = seen_parse(json_object_get(o, "seen"), &g->seen);
	/* the floor after the entries: a low entry at a full table moved it */
	if (e == ERR_OK && json_integer_value(floor) > g->seen.floor)
		g->seen.floor = json_integer_value(floor);
	if (e == ERR_OK && g->seen.n && (long long)g->seen.v[0].index < g->seen.floor)
		e = ERR_PARSE;
	if (e == ERR_OK && !(g->pickle = strdup(mx_jstr(o, "pickle"))))
		e = ERR_NOMEM;
	if (e != ERR_OK)
		mx_e2ee_grp_release(g);
	return e;
}

enum err mx_e2ee_sessions_parse(const char *json, size_t len, struct mx_sessions *s)
{
	json_t *root = mx_jload(json, len), *olm, *grp, *v;
	enum err e = ERR_PARSE;
	size_t i;

	memset(s, 0, sizeof(*s));
	olm = json_object_get(root, "olm");
	grp = json_object_get(root, "megolm");
	if (!json_is_object(root) || !int_in(json_object_get(root, "version"), 1, 1) ||
	    !json_is_array(olm) || !json_is_array(grp))
		goto out;
	e = ERR_LIMIT;
	if (json_array_size(olm) > MX_E2EE_OLM_MAX || json_array_size(grp) > MX_E2EE_MEGOLM_MAX)
		goto out;
	e = ERR_NOMEM;
	s->olm = calloc(json_array_size(olm) + 1, sizeof(*s->olm));
	s->grp = calloc(json_array_size(grp) + 1, sizeof(*s->grp));
	if (!s->olm || !s->grp)
		goto out;
	e = ERR_OK;
	json_array_foreach(olm, i, v)
	{
		e = rec_olm_parse(v, &s->olm[s->n_olm]);
		if (e != ERR_OK)
			break;
		s->n_olm++;
	}
	json_array_foreach(grp, i, v)
	{
		if (e != ERR_OK)
			break;
		e = grp_parse(v, &s->grp[s->n_grp]);
		if (e == ERR_OK)
			s->n_grp++;
	}
out:
	if (e != ERR_OK)
		mx_e2ee_sessions_release(s);
	json_decref(root);
	return e;
}

/* ---- the messages waiting for their key ---------------------------- */

void mx_e2ee_pending_free(struct mx_pending *p, size_t n)
{
	size_t i;

	for (i = 0; p && i < n; i++)
		mx_e2ee_megolm_release(&p[i].m);
	free(p);
}

enum err mx_e2ee_pending_json(const struct mx_pending *p, size_t n, char **out)
{
	json_t *a = json_array(), *c;
	size_t i;
	int bad = !a;

	*out = NULL;
	for (i = 0; !bad && i < n; i++) {
		c = json_pack("{s:s, s:s, s:s}", "algorithm", MX_KEYS_MEGOLM, "session_id",
			      p[i].m.session_id, "ciphertext", p[i].m.ciphertext);
		if (c && p[i].m.sender_key[0])
			json_object_set_new(c, "sender_key", json_string(p[i].m.sender_key));
		if (c && p[i].m.device_id[0])
			json_object_set_new(c, "device_id", json_string(p[i].m.device_id));
		bad = !c || json_array_append_new(
				    a, json_pack("{s:s, s:s, s:s, s:I, s:I, s:b, s:o}", "room_id",
						 p[i].room_id, "event_id", p[i].event_id, "sender",
						 p[i].sender, "ts", (json_int_t)p[i].ts, "first_ms",
						 (json_int_t)p[i].first_ms, "asked", p[i].asked,
						 "content", c));
	}
	if (bad) {
		json_decref(a);
		return ERR_NOMEM;
	}
	return mx_jdumps(json_pack("{s:i, s:o}", "version", PENDING_VERSION, "pending", a), out);
}

/* pending_one reads one waiting message: ERR_PARSE to skip it */
static enum err pending_one(const json_t *o, struct mx_pending *p)
{
	json_t *ts = json_object_get(o, "ts"), *first = json_object_get(o, "first_ms");
	enum err e;

	memset(p, 0, sizeof(*p));
	if (put(p->room_id, sizeof(p->room_id), mx_jstr(o, "room_id")) != ERR_OK ||
	    !mx_id_valid(p->room_id, '!') ||
	    put(p->event_id, sizeof(p->event_id), mx_jstr(o, "event_id")) != ERR_OK ||
	    !mx_id_valid(p->event_id, '$') || !mx_id_valid(mx_jstr(o, "sender"), '@') ||
	    !int_in(ts, 0, INT64_MAX / 2) || !int_in(first, 0, INT64_MAX / 2) ||
	    !json_is_boolean(json_object_get(o, "asked")))
		return ERR_PARSE;
	memcpy(p->sender, mx_jstr(o, "sender"), strlen(mx_jstr(o, "sender")) + 1);
	p->ts = json_integer_value(ts);
	p->first_ms = json_integer_value(first);
	p->asked = json_is_true(json_object_get(o, "asked"));
	e = mx_e2ee_megolm_parse(json_object_get(o, "content"), &p->m);
	return e == ERR_INVALID ? ERR_PARSE : e;
}

enum err mx_e2ee_pending_parse(const char *json, size_t len, struct mx_pending **out, size_t *n,
			       size_t *skipped)
{
	json_t *root = mx_jload(json, len), *a = json_object_get(root, "pending"), *v;
	enum err e = ERR_OK;
	size_t i;

	*out = NULL;
	*n = 0;
	if (!json_is_object(root) || !int_in(json_object_get(root, "version"), 1, 1) ||
	    !json_is_array(a)) {
		json_decref(root);
		return ERR_PARSE;
	}
	*out = calloc(json_array_size(a) + 1, sizeof(**out));
	if (!*out)
		e = ERR_NOMEM;
	json_array_foreach(a, i, v)
	{
		if (e != ERR_OK)
			break;
		if (*n >= MX_E2EE_PENDING_MAX) {
			(*skipped)++;
			continue;
		}
		e = pending_one(v, &(*out)[*n]);
		if (e == ERR_PARSE) {
			(*skipped)++;
			e = ERR_OK;
		} else if (e == ERR_OK) {
			(*n)++;
		}
	}
	if (e != ERR_OK) {
		mx_e2ee_pending_free(*out, *n);
		*out = NULL;
		*n = 0;
	}
	json_decref(root);
	return e;
}
