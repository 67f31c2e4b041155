/* mx_xsign.c -- the JSON of cross-signing (see mx_xsign.h). */
#include "mx_xsign.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mx_ids.h"
#include "mx_jget.h"

static const char *const usages[MX_XSIGN_ROLES] = {"master", "self_signing", "user_signing"};
static const char *const fields[MX_XSIGN_ROLES] = {"master_key", "self_signing_key",
						   "user_signing_key"};

const char *mx_xsign_usage(enum mx_xsign_role r)
{
	return r < MX_XSIGN_ROLES ? usages[r] : "";
}

/* canon_of: the canonical JSON of v, new */
static enum err canon_of(const json_t *v, char **out)
{
	char *s = json_dumps(v, JSON_COMPACT | JSON_ALLOW_NUL);
	enum err e;

	*out = NULL;
	if (!s)
		return ERR_NOMEM;
	e = mx_canonical_json(s, strlen(s), out);
	free(s);
	return e;
}

static json_t *key_object(const char *user_id, enum mx_xsign_role r, const char *pub)
{
	char name[MX_KEY_MAX + 16];

	if (r >= MX_XSIGN_ROLES || !mx_user_id_valid(user_id) || !mx_token_ok(pub, MX_KEY_MAX))
		return NULL;
	snprintf(name, sizeof(name), "ed25519:%s", pub);
	return json_pack("{s:{s:s}, s:[s], s:s}", "keys", name, pub, "usage", usages[r], "user_id",
			 user_id);
}

enum err mx_xsign_key_json(const char *user_id, enum mx_xsign_role r, const char *pub, char **out)
{
	json_t *o = key_object(user_id, r, pub);
	enum err e;

	*out = NULL;
	if (!o)
		return ERR_INVALID;
	e = canon_of(o, out);
	json_decref(o);
	return e;
}

/* sign_into signs o (its canonical JSON) and adds the signature under
 * signatures[user]["ed25519:" pub], as "Signing JSON" says */
static enum err sign_into(json_t *o, const char *user_id, const char *pub, mx_sign_fn sign,
			  void *ctx)
{
	char sig[MX_KEY_MAX], name[MX_KEY_MAX + 16], *msg = NULL;
	json_t *sigs;
	enum err e = canon_of(o, &msg);

	if (e == ERR_OK)
		e = sign(ctx, msg, strlen(msg), sig, sizeof(sig));
	free(msg);
	if (e != ERR_OK)
		return e;
	if (!mx_token_ok(sig, MX_KEY_MAX))
		return ERR_INVALID;
	snprintf(name, sizeof(name), "ed25519:%s", pub);
	sigs = json_pack("{s:{s:s}}", user_id, name, sig);
	if (!sigs || json_object_set_new(o, "signatures", sigs))
		return ERR_NOMEM;
	return ERR_OK;
}

static enum err add_auth(json_t *body, const struct mx_uia_password *a)
{
	json_t *o;

	if (!a->password || !a->session || !mx_user_id_valid(a->user_id))
		return ERR_INVALID;
	o = json_pack("{s:s, s:{s:s, s:s}, s:s, s:s}", "type", "m.login.password", "identifier",
		      "type", "m.id.user", "user", a->user_id, "password", a->password, "session",
		      a->session);
	if (!o || json_object_set_new(body, "auth", o))
		return ERR_NOMEM;
	return ERR_OK;
}

/* dump: body as compact text, new */
static enum err dump(json_t *body, char **out)
{
	*out = json_dumps(body, JSON_COMPACT);
	return *out ? ERR_OK : ERR_NOMEM;
}

enum err mx_xsign_upload_json(const char *user_id, const struct mx_xsign_pub *pub,
			      mx_sign_fn sign_master, void *ctx, const struct mx_uia_password *auth,
			      char **out)
{
	json_t *body = json_object(), *k;
	enum err e = body ? ERR_OK : ERR_NOMEM;
	int r;

	*out = NULL;
	for (r = 0; r < MX_XSIGN_ROLES && e == ERR_OK; r++) {
		k = key_object(user_id, (enum mx_xsign_role)r, pub->key[r]);
		if (!k) {
			e = ERR_INVALID;
			break;
		}
		if (r != MX_XSIGN_MASTER)
			e = sign_into(k, user_id, pub->key[MX_XSIGN_MASTER], sign_master, ctx);
		if (json_object_set_new(body, fields[r], k) && e == ERR_OK)
			e = ERR_NOMEM;
	}
	if (e == ERR_OK && auth)
		e = add_auth(body, auth);
	if (e == ERR_OK)
		e = dump(body, out);
	if (auth) {
		/* jansson's copy of the password: wiped before it is freed */
		json_t *a = json_object_get(body, "auth"), *p = json_object_get(a, "password");
		size_t n = json_string_length(p);

		if (p && n)
			memset((char *)json_string_value(p), 0, n);
	}
	json_decref(body);
	return e;
}

enum err mx_xsign_signatures_json(const struct mx_device *d, const char *self_pub,
				  mx_sign_fn sign_self, void *ctx, char **out)
{
	json_t *o = NULL, *body = NULL;
	char *dev = NULL;
	enum err e;

	*out = NULL;
	if (!mx_token_ok(self_pub, MX_KEY_MAX) || !sign_self)
		return ERR_INVALID;
	e = mx_keys_device_json(d, &dev);
	if (e == ERR_OK) {
		o = json_loads(dev, 0, NULL);
		e = o ? ERR_OK : ERR_NOMEM;
	}
	if (e == ERR_OK)
		e = sign_into(o, d->user_id, self_pub, sign_self, ctx);
	if (e == ERR_OK) {
		body = json_pack("{s:{s:O}}", d->user_id, d->device_id, o);
		e = body ? dump(body, out) : ERR_NOMEM;
	}
	json_decref(o);
	json_decref(body);
	free(dev);
	return e;
}

/* ---- what the server says --------------------------------------------- */

static void copy_str(char *dst, size_t cap, const json_t *v)
{
	const char *s = json_string_value(v);

	dst[0] = '\0';
	if (s && strlen(s) < cap && strlen(s) == json_string_length(v))
		memcpy(dst, s, strlen(s) + 1);
}

/* printable copies s into buf, control characters as '?' */
static void printable(char *buf, size_t cap, const char *s)
{
	size_t i;

	for (i = 0; s && s[i] && i + 1 < cap; i++)
		buf[i] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? '?' : s[i];
	if (cap)
		buf[i] = '\0';
}

/* clean: no control character (what goes into a log line) */
static int clean(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 0;
	return 1;
}

enum err mx_uia_parse(const char *json, size_t len, struct mx_uia *out)
{
	json_t *j = json_loadb(json, len, 0, NULL), *flows, *f, *stages;
	size_t i, used = 0;
	const char *st;

	memset(out, 0, sizeof(*out));
	flows = json_object_get(j, "flows");
	if (!json_is_array(flows)) {
		json_decref(j);
		return ERR_PARSE;
	}
	copy_str(out->session, sizeof(out->session), json_object_get(j, "session"));
	copy_str(out->errcode, sizeof(out->errcode), json_object_get(j, "errcode"));
	printable(out->errcode, sizeof(out->errcode), out->errcode);
	json_array_foreach(flows, i, f)
	{
		stages = json_object_get(f, "stages");
		st = json_string_value(json_array_get(stages, 0));
		if (!st || json_array_size(stages) == 0)
			continue;
		if (json_array_size(stages) == 1 && !strcmp(st, "m.login.password"))
			out->password = 1;
		/* printable only: this goes into a log line */
		if (used + strlen(st) + 2 < sizeof(out->stages) && clean(st)) {
			used += (size_t)snprintf(out->stages + used, sizeof(out->stages) - used,
						 "%s%s", used ? " " : "", st);
		}
	}
	json_decref(j);
	return ERR_OK;
}

int mx_xsign_sig_failed(const char *json, size_t len, const char *user_id, const char *device_id,
			char *why, size_t whylen)
{
	json_t *j = json_loadb(json, len, 0, NULL), *f;
	char code[64], text[160];

	if (!json_is_object(j)) {
		json_decref(j);
		snprintf(why, whylen, "an answer that is not JSON");
		return 1;
	}
	f = json_object_get(json_object_get(json_object_get(j, "failures"), user_id), device_id);
	if (f) {
		printable(code, sizeof(code), json_string_value(json_object_get(f, "errcode")));
		printable(text, sizeof(text), json_string_value(json_object_get(f, "error")));
		snprintf(why, whylen, "%s %s", code[0] ? code : "-", text);
	}
	json_decref(j);
	return f != NULL;
}

/* the_key: the one ed25519 key of a cross-signing key object that is
 * user's and has usage, into buf; "" otherwise */
static void the_key(const json_t *o, const char *user_id, const char *usage, char *buf, size_t cap)
{
	json_t *keys = json_object_get(o, "keys"), *u = json_object_get(o, "usage"), *v;
	const char *name, *uid = json_string_value(json_object_get(o, "user_id"));
	size_t i;
	int has = 0;

	buf[0] = '\0';
	if (!uid || strcmp(uid, user_id) || json_object_size(keys) != 1)
		return;
	json_array_foreach(u, i, v) if (json_string_value(v) &&
					!strcmp(json_string_value(v), usage)) has = 1;
	json_object_foreach(keys, name, v)
	{
		if (has && !strncmp(name, "ed25519:", 8) && json_string_value(v) &&
		    !strcmp(name + 8, json_string_value(v)) &&
		    mx_token_ok(json_string_value(v), MX_KEY_MAX))
			copy_str(buf, cap, v);
	}
}

enum err mx_xsign_query_parse(const char *json, size_t len, const char *user_id,
			      const char *device_id, const char *self_pub,
			      struct mx_xsign_server *out)
{
	json_t *j = json_loadb(json, len, 0, NULL), *dev, *sigs;
	char name[MX_KEY_MAX + 16];

	memset(out, 0, sizeof(*out));
	if (!json_is_object(j)) {
		json_decref(j);
		return ERR_PARSE;
	}
	the_key(json_object_get(json_object_get(j, "master_keys"), user_id), user_id, "master",
		out->master, sizeof(out->master));
	the_key(json_object_get(json_object_get(j, "self_signing_keys"), user_id), user_id,
		"self_signing", out->self_signing, sizeof(out->self_signing));
	dev = json_object_get(json_object_get(json_object_get(j, "device_keys"), user_id),
			      device_id);
	out->device_known = json_is_object(dev);
	sigs = json_object_get(json_object_get(dev, "signatures"), user_id);
	if (self_pub && mx_token_ok(self_pub, MX_KEY_MAX)) {
		snprintf(name, sizeof(name), "ed25519:%s", self_pub);
		out->device_signed = json_is_string(json_object_get(sigs, name));
	}
	json_decref(j);
	return ERR_OK;
}

/* ---- the file ----------------------------------------------------------- */

enum err mx_xsign_store_json(const struct mx_xsign_store *s, char **out)
{
	json_t *o = json_pack("{s:i, s:s, s:b, s:s}", "version", 1, "user_id", s->user_id,
			      "uploaded", s->uploaded, "signed_device", s->signed_device);
	json_t *k;
	enum err e = o ? ERR_OK : ERR_NOMEM;
	int r;

	*out = NULL;
	for (r = 0; r < MX_XSIGN_ROLES && e == ERR_OK; r++) {
		if (!mx_token_ok(s->pub[r], MX_KEY_MAX) || !s->pickle[r] || !*s->pickle[r]) {
			e = ERR_INVALID;
			break;
		}
		k = json_pack("{s:s, s:s}", "public", s->pub[r], "pickle", s->pickle[r]);
		if (!k || json_object_set_new(o, usages[r], k))
			e = ERR_NOMEM;
	}
	if (e == ERR_OK)
		e = dump(o, out);
	json_decref(o);
	return e;
}

/* b64_ok: a pickle, non-empty unpadded base64 */
static int b64_ok(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	return n > 0 && n < MX_XSIGN_PICKLE_MAX &&
	       strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/") == n;
}

enum err mx_xsign_store_parse(const char *json, size_t len, struct mx_xsign_store *s)
{
	json_t *j = json_loadb(json, len, JSON_REJECT_DUPLICATES, NULL), *k, *up;
	const char *uid, *dev, *pk;
	enum err e = ERR_PARSE;
	int r;

	memset(s, 0, sizeof(*s));
	uid = json_string_value(json_object_get(j, "user_id"));
	dev = json_string_value(json_object_get(j, "signed_device"));
	up = json_object_get(j, "uploaded");
	if (json_integer_value(json_object_get(j, "version")) != 1 || !uid ||
	    !mx_user_id_valid(uid) || !dev || strlen(dev) > MX_DEVICE_MAX || !json_is_boolean(up))
		goto out;
	memcpy(s->user_id, uid, strlen(uid) + 1);
	memcpy(s->signed_device, dev, strlen(dev) + 1);
	s->uploaded = json_is_true(up);
	for (r = 0; r < MX_XSIGN_ROLES; r++) {
		k = json_object_get(j, usages[r]);
		pk = json_string_value(json_object_get(k, "pickle"));
		copy_str(s->pub[r], sizeof(s->pub[r]), json_object_get(k, "public"));
		if (!mx_token_ok(s->pub[r], MX_KEY_MAX) || !b64_ok(pk))
			goto out;
		s->pickle[r] = strdup(pk);
		if (!s->pickle[r]) {
			e = ERR_NOMEM;
			goto out;
		}
	}
	e = ERR_OK;
out:
	if (e != ERR_OK)
		mx_xsign_store_release(s);
	json_decref(j);
	return e;
}

void mx_xsign_store_release(struct mx_xsign_store *s)
{
	int r;

	for (r = 0; r < MX_XSIGN_ROLES; r++) {
		if (s->pickle[r]) {
			memset(s->pickle[r], 0, strlen(s->pickle[r]));
			free(s->pickle[r]);
		}
		s->pickle[r] = NULL;
	}
}
