/* mx_e2ee_tx.c -- the JSON of sending in encrypted rooms (see
 * mx_e2ee_tx.h). */
#include "mx_e2ee_tx.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mx_ids.h"
#include "mx_jget.h"

#define OUT_VERSION     1
#define KEYS_TIMEOUT_MS 10000

/* ---- small helpers ---------------------------------------------------- */

static void wipe_free(char *s)
{
	if (s) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

void mx_tx_strs_free(char **v, size_t n)
{
	size_t i;

	for (i = 0; v && i < n; i++)
		free(v[i]);
	free(v);
}

/* strs_push: a copy of s at the end of *v (*n, capped at max) */
static enum err strs_push(char ***v, size_t *n, size_t max, const char *s)
{
	char **nv;

	if (*n >= max)
		return ERR_LIMIT;
	nv = realloc(*v, (*n + 1) * sizeof(*nv));
	if (!nv)
		return ERR_NOMEM;
	*v = nv;
	nv[*n] = strdup(s);
	if (!nv[*n])
		return ERR_NOMEM;
	(*n)++;
	return ERR_OK;
}

/* signed_by: does obj carry user's signature by the ed25519 key ed of
 * device dev, good over its signing input? */
static int signed_by(const json_t *obj, const char *user, const char *dev, const char *ed,
		     mx_verify_fn verify)
{
	char name[MX_DEVICE_MAX + 16], *text = NULL, *input = NULL;
	const char *sig;
	int ok = 0;

	snprintf(name, sizeof(name), "ed25519:%s", dev);
	sig = mx_jstr(json_object_get(json_object_get(obj, "signatures"), user), name);
	if (!sig || !verify)
		return 0;
	text = json_dumps(obj, JSON_COMPACT);
	if (text && mx_keys_signing_input(text, strlen(text), &input) == ERR_OK)
		ok = verify(ed, input, strlen(input), sig) == ERR_OK;
	free(text);
	free(input);
	return ok;
}

static int has_algo(const json_t *dk, const char *algo)
{
	json_t *a = json_object_get(dk, "algorithms"), *v;
	size_t i;

	json_array_foreach(a, i, v)
	{
		if (json_is_string(v) && !strcmp(json_string_value(v), algo))
			return 1;
	}
	return 0;
}

/* ---- /keys/query -------------------------------------------------------- */

enum err mx_tx_query_json(const char *const *users, size_t n, char **out)
{
	json_t *dk = json_object(), *root;
	size_t i;

	*out = NULL;
	for (i = 0; dk && i < n; i++)
		if (json_object_set_new(dk, users[i], json_array())) {
			json_decref(dk);
			return ERR_NOMEM;
		}
	root = dk ? json_pack("{s:o, s:i}", "device_keys", dk, "timeout", KEYS_TIMEOUT_MS) : NULL;
	return mx_jdumps(root, out);
}

/* query_dev reads one device's keys into d; 0 when they do not hold */
static int query_dev(const json_t *dk, const char *user, const char *id, mx_verify_fn verify,
		     struct mx_tx_dev *d)
{
	json_t *keys = json_object_get(dk, "keys");
	char name[MX_DEVICE_MAX + 16];
	const char *curve, *ed;

	if (!json_is_object(dk) || !json_is_object(keys) || !mx_token_ok(id, sizeof(d->device)) ||
	    !mx_jstr(dk, "user_id") || strcmp(mx_jstr(dk, "user_id"), user) ||
	    !mx_jstr(dk, "device_id") || strcmp(mx_jstr(dk, "device_id"), id) ||
	    !has_algo(dk, MX_KEYS_OLM) || !has_algo(dk, MX_KEYS_MEGOLM))
		return 0;
	snprintf(name, sizeof(name), "curve25519:%s", id);
	curve = mx_jstr(keys, name);
	snprintf(name, sizeof(name), "ed25519:%s", id);
	ed = mx_jstr(keys, name);
	if (!mx_token_ok(curve, sizeof(d->curve)) || !mx_token_ok(ed, sizeof(d->ed)) ||
	    !signed_by(dk, user, id, ed, verify))
		return 0;
	memcpy(d->user, user, strlen(user) + 1);
	memcpy(d->device, id, strlen(id) + 1);
	memcpy(d->curve, curve, strlen(curve) + 1);
	memcpy(d->ed, ed, strlen(ed) + 1);
	return 1;
}

enum err mx_tx_query_parse(const char *json, size_t len, mx_verify_fn verify,
			   struct mx_tx_dev **out, size_t *n, size_t *skipped)
{
	json_t *root = mx_jload(json, len), *all, *devs, *dk;
	struct mx_tx_dev *v = NULL, *nv;
	const char *user, *id;
	size_t mine, bad = 0;

	*out = NULL;
	*n = 0;
	all = json_object_get(root, "device_keys");
	if (!json_is_object(root) || !json_is_object(all)) {
		json_decref(root);
		return ERR_PARSE;
	}
	json_object_foreach(all, user, devs)
	{
		mine = 0;
		if (!mx_id_valid(user, '@') || !json_is_object(devs)) {
			bad++;
			continue;
		}
		json_object_foreach(devs, id, dk)
		{
			if (mine >= MX_TX_USER_DEVICES_MAX || *n >= MX_TX_DEVICES_MAX) {
				bad++;
				continue;
			}
			nv = realloc(v, (*n + 1) * sizeof(*v));
			if (!nv) {
				free(v);
				json_decref(root);
				*n = 0;
				return ERR_NOMEM;
			}
			v = nv;
			memset(&v[*n], 0, sizeof(v[*n]));
			if (!query_dev(dk, user, id, verify, &v[*n])) {
				bad++;
				continue;
			}
			(*n)++;
			mine++;
		}
	}
	json_decref(root);
	if (skipped)
		*skipped = bad;
	if (!*n) {
		free(v);
		v = NULL;
	}
	*out = v;
	return ERR_OK;
}

/* ---- /keys/claim -------------------------------------------------------- */

enum err mx_tx_claim_json(const struct mx_tx_dev *devs, size_t n, char **out)
{
	json_t *otk = json_object(), *u, *root;
	size_t i;

	*out = NULL;
	for (i = 0; otk && i < n; i++) {
		u = json_object_get(otk, devs[i].user);
		if (!u && json_object_set_new(otk, devs[i].user, u = json_object()))
			u = NULL;
		if (!u || json_object_set_new(u, devs[i].device, json_string(MX_KEYS_OTK_ALGO))) {
			json_decref(otk);
			return ERR_NOMEM;
		}
	}
	root = otk ? json_pack("{s:o, s:i}", "one_time_keys", otk, "timeout", KEYS_TIMEOUT_MS)
		   : NULL;
	return mx_jdumps(root, out);
}

enum err mx_tx_claim_parse(const char *json, size_t len, mx_verify_fn verify,
			   const struct mx_tx_dev *devs, size_t n, char (*otk)[MX_KEY_MAX])
{
	json_t *root = mx_jload(json, len), *all, *keys, *k;
	const char *name, *key;
	size_t i;

	for (i = 0; i < n; i++)
		otk[i][0] = '\0';
	all = json_object_get(root, "one_time_keys");
	if (!json_is_object(root) || (all && !json_is_object(all))) {
		json_decref(root);
		return ERR_PARSE;
	}
	for (i = 0; all && i < n; i++) {
		keys = json_object_get(json_object_get(all, devs[i].user), devs[i].device);
		json_object_foreach(keys, name, k)
		{
			if (strncmp(name, MX_KEYS_OTK_ALGO ":", strlen(MX_KEYS_OTK_ALGO) + 1))
				continue;
			key = mx_jstr(k, "key");
			if (!mx_token_ok(key, MX_KEY_MAX) ||
			    !signed_by(k, devs[i].user, devs[i].device, devs[i].ed, verify))
				continue;
			memcpy(otk[i], key, strlen(key) + 1);
			break;
		}
	}
	json_decref(root);
	return ERR_OK;
}

/* ---- to-device ---------------------------------------------------------- */

enum err mx_tx_room_key_plain(const struct mx_tx_me *me, const struct mx_tx_dev *to,
			      const char *room, const char *session_id, const char *session_key,
			      char **out)
{
	json_t *v = json_pack("{s:s, s:{s:s, s:s, s:s, s:s}, s:s, s:s, s:{s:s}, s:{s:s}}", "type",
			      "m.room_key", "content", "algorithm", MX_KEYS_MEGOLM, "room_id", room,
			      "session_id", session_id, "session_key", session_key, "sender",
			      me->user, "recipient", to->user, "recipient_keys", "ed25519", to->ed,
			      "keys", "ed25519", me->ed);

	*out = NULL;
	if (!v)
		return ERR_NOMEM;
	*out = json_dumps(v, JSON_COMPACT);
	/* the key's string in jansson's tree: wiped before it goes */
	{
		json_t *c = json_object_get(v, "content"), *sk = json_object_get(c, "session_key");
		char *s = sk ? (char *)json_string_value(sk) : NULL;

		if (s)
			explicit_bzero(s, strlen(s));
	}
	json_decref(v);
	return *out ? ERR_OK : ERR_NOMEM;
}

enum err mx_tx_olm_content(const struct mx_tx_me *me, const char *to_curve, int type,
			   const char *body, char **out)
{
	return mx_jdumps(json_pack("{s:s, s:s, s:{s:{s:i, s:s}}}", "algorithm", MX_KEYS_OLM,
				   "sender_key", me->curve, "ciphertext", to_curve, "type", type,
				   "body", body),
			 out);
}

enum err mx_tx_withheld_content(const struct mx_tx_me *me, const char *room, const char *session_id,
				const char *code, const char *reason, char **out)
{
	return mx_jdumps(json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "algorithm",
				   MX_KEYS_MEGOLM, "room_id", room, "session_id", session_id,
				   "sender_key", me->curve, "from_device", me->device, "code", code,
				   "reason", reason),
			 out);
}

enum err mx_tx_todev_body(const struct mx_tx_msg *msgs, size_t n, char **out)
{
	json_t *all = json_object(), *u, *c;
	size_t i;

	*out = NULL;
	if (!all)
		return ERR_NOMEM;
	for (i = 0; i < n; i++) {
		c = mx_jload(msgs[i].content, strlen(msgs[i].content));
		if (!json_is_object(c)) {
			json_decref(c);
			json_decref(all);
			return ERR_PARSE;
		}
		u = json_object_get(all, msgs[i].user);
		if (!u && json_object_set_new(all, msgs[i].user, u = json_object()))
			u = NULL;
		if (!u || json_object_set_new(u, msgs[i].device, c)) {
			json_decref(all);
			return ERR_NOMEM;
		}
	}
	return mx_jdumps(json_pack("{s:o}", "messages", all), out);
}

/* ---- room events -------------------------------------------------------- */

enum err mx_tx_megolm_plain(const char *room, const char *type, const char *content, char **out)
{
	json_t *c = mx_jload(content, strlen(content));

	*out = NULL;
	if (!json_is_object(c)) {
		json_decref(c);
		return ERR_PARSE;
	}
	return mx_jdumps(json_pack("{s:s, s:o, s:s}", "type", type, "content", c, "room_id", room),
			 out);
}

enum err mx_tx_relates(const char *content, char **out)
{
	json_t *c = mx_jload(content, strlen(content)), *r;
	int has;

	*out = NULL;
	if (!json_is_object(c)) {
		json_decref(c);
		return ERR_PARSE;
	}
	r = json_object_get(c, "m.relates_to");
	has = json_is_object(r);
	if (has)
		*out = json_dumps(r, JSON_COMPACT);
	json_decref(c);
	return !has || *out ? ERR_OK : ERR_NOMEM;
}

enum err mx_tx_megolm_content(const struct mx_tx_me *me, const char *session_id,
			      const char *ciphertext, const char *relates, char **out)
{
	json_t *v = json_pack("{s:s, s:s, s:s, s:s, s:s}", "algorithm", MX_KEYS_MEGOLM,
			      "ciphertext", ciphertext, "session_id", session_id, "sender_key",
			      me->curve, "device_id", me->device),
	       *r;

	*out = NULL;
	if (!v)
		return ERR_NOMEM;
	if (relates && *relates) {
		r = mx_jload(relates, strlen(relates));
		if (!json_is_object(r)) {
			json_decref(r);
			json_decref(v);
			return ERR_PARSE;
		}
		if (json_object_set_new(v, "m.relates_to", r)) { /* r taken */
			json_decref(v);
			return ERR_NOMEM;
		}
	}
	return mx_jdumps(v, out);
}

int mx_tx_encryption(const json_t *content, long *msgs, long long *ms)
{
	const char *alg = mx_jstr(content, "algorithm");
	json_t *vm = json_object_get(content, "rotation_period_msgs");
	json_t *vt = json_object_get(content, "rotation_period_ms");

	*msgs = MX_TX_ROT_MSGS_DEFAULT;
	*ms = MX_TX_ROT_MS_DEFAULT;
	if (!alg || strcmp(alg, MX_KEYS_MEGOLM))
		return 0;
	if (json_is_integer(vm) && json_integer_value(vm) > 0)
		*msgs = json_integer_value(vm) > 1000000 ? 1000000 : (long)json_integer_value(vm);
	if (json_is_integer(vt) && json_integer_value(vt) > 0)
		*ms = (long long)json_integer_value(vt);
	return 1;
}

int mx_tx_encryption_text(const char *json, size_t len, long *msgs, long long *ms)
{
	json_t *c = mx_jload(json, len);
	int r = mx_tx_encryption(c, msgs, ms);

	json_decref(c);
	return r;
}

enum err mx_tx_joined_parse(const char *json, size_t len, char ***out, size_t *n)
{
	json_t *root = mx_jload(json, len), *j, *v;
	const char *user;
	enum err e = ERR_OK;

	*out = NULL;
	*n = 0;
	j = json_object_get(root, "joined");
	if (!json_is_object(j)) {
		json_decref(root);
		return ERR_PARSE;
	}
	json_object_foreach(j, user, v)
	{
		if (!mx_id_valid(user, '@'))
			continue;
		e = strs_push(out, n, MX_TX_MEMBERS_MAX, user);
		if (e != ERR_OK)
			break;
	}
	json_decref(root);
	if (e == ERR_LIMIT)
		e = ERR_OK; /* the first MX_TX_MEMBERS_MAX get the key */
	if (e != ERR_OK) {
		mx_tx_strs_free(*out, *n);
		*out = NULL;
		*n = 0;
	}
	return e;
}

enum err mx_tx_device_lists(const json_t *sync, char ***out, size_t *n)
{
	static const char *const which[] = {"changed", "left"};
	json_t *dl = json_object_get(sync, "device_lists"), *a, *v;
	enum err e = ERR_OK;
	size_t w, i;

	*out = NULL;
	*n = 0;
	for (w = 0; w < 2 && json_is_object(dl) && e == ERR_OK; w++) {
		a = json_object_get(dl, which[w]);
		json_array_foreach(a, i, v)
		{
			if (!json_is_string(v) || !mx_id_valid(json_string_value(v), '@'))
				continue;
			e = strs_push(out, n, MX_TX_CHANGED_MAX, json_string_value(v));
			if (e != ERR_OK)
				break;
		}
	}
	if (e == ERR_LIMIT)
		e = ERR_OK;
	if (e != ERR_OK) {
		mx_tx_strs_free(*out, *n);
		*out = NULL;
		*n = 0;
	}
	return e;
}

/* ---- the outbound sessions' file --------------------------------------- */

void mx_tx_out_rec_release(struct mx_out_rec *r)
{
	wipe_free(r->pickle);
	mx_tx_strs_free(r->shared, r->n_shared);
	memset(r, 0, sizeof(*r));
}

void mx_tx_out_release(struct mx_out_set *s)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		mx_tx_out_rec_release(&s->v[i]);
	free(s->v);
	s->v = NULL;
	s->n = 0;
}

enum err mx_tx_out_json(const struct mx_out_set *s, char **out)
{
	json_t *rooms = json_array(), *r, *sh;
	size_t i, k;

	*out = NULL;
	for (i = 0; rooms && i < s->n; i++) {
		const struct mx_out_rec *o = &s->v[i];

		sh = json_array();
		for (k = 0; sh && k < o->n_shared; k++)
			if (json_array_append_new(sh, json_string(o->shared[k])))
				json_decref(sh), sh = NULL;
		r = sh ? json_pack("{s:s, s:s, s:I, s:I, s:s, s:o}", "room_id", o->room_id,
				   "session_id", o->session_id, "created_ms",
				   (json_int_t)o->created_ms, "msgs", (json_int_t)o->msgs, "pickle",
				   o->pickle ? o->pickle : "", "shared", sh)
		       : NULL;
		if (!r || json_array_append_new(rooms, r)) {
			json_decref(rooms);
			return ERR_NOMEM;
		}
	}
	if (!rooms)
		return ERR_NOMEM;
	{
		enum err e = mx_jdumps(
			json_pack("{s:i, s:o}", "version", OUT_VERSION, "rooms", rooms), out);
		return e;
	}
}

/* out_rec reads one record; ERR_PARSE when it does not hold */
static enum err out_rec(const json_t *v, struct mx_out_rec *o)
{
	json_t *c = json_object_get(v, "created_ms"), *m = json_object_get(v, "msgs");
	json_t *sh = json_object_get(v, "shared"), *x;
	const char *room = mx_jstr(v, "room_id"), *sid = mx_jstr(v, "session_id");
	const char *p = mx_jstr(v, "pickle");
	enum err e = ERR_OK;
	size_t i;

	if (!mx_id_valid(room, '!') || !mx_token_ok(sid, sizeof(o->session_id)) ||
	    !json_is_integer(c) || !json_is_integer(m) || json_integer_value(m) < 0 ||
	    !mx_token_ok(p, MX_E2EE_PICKLE_MAX) || !json_is_array(sh) ||
	    json_array_size(sh) > MX_TX_SHARED_MAX || strlen(room) > MX_ID_MAX)
		return ERR_PARSE;
	memcpy(o->room_id, room, strlen(room) + 1);
	memcpy(o->session_id, sid, strlen(sid) + 1);
	o->created_ms = (long long)json_integer_value(c);
	o->msgs = json_integer_value(m) > 1000000000 ? 1000000000 : (long)json_integer_value(m);
	o->pickle = strdup(p);
	if (!o->pickle)
		return ERR_NOMEM;
	json_array_foreach(sh, i, x)
	{
		if (!json_is_string(x) || !mx_token_ok(json_string_value(x), MX_KEY_MAX))
			return ERR_PARSE;
		e = strs_push(&o->shared, &o->n_shared, MX_TX_SHARED_MAX, json_string_value(x));
		if (e != ERR_OK)
			return e;
	}
	return ERR_OK;
}

enum err mx_tx_out_parse(const char *json, size_t len, struct mx_out_set *s)
{
	json_t *root = mx_jload(json, len), *rooms, *v;
	enum err e = ERR_OK;
	size_t i;

	memset(s, 0, sizeof(*s));
	rooms = json_object_get(root, "rooms");
	if (!json_is_object(root) || !json_is_integer(json_object_get(root, "version")) ||
	    json_integer_value(json_object_get(root, "version")) != OUT_VERSION ||
	    !json_is_array(rooms)) {
		json_decref(root);
		return ERR_PARSE;
	}
	if (json_array_size(rooms) > MX_TX_OUT_MAX) {
		json_decref(root);
		return ERR_LIMIT;
	}
	s->v = json_array_size(rooms) ? calloc(json_array_size(rooms), sizeof(*s->v)) : NULL;
	if (json_array_size(rooms) && !s->v) {
		json_decref(root);
		return ERR_NOMEM;
	}
	json_array_foreach(rooms, i, v)
	{
		s->n = i + 1;
		e = out_rec(v, &s->v[i]);
		if (e != ERR_OK)
			break;
	}
	json_decref(root);
	if (e != ERR_OK)
		mx_tx_out_release(s);
	return e;
}
