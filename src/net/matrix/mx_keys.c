/* mx_keys.c -- the JSON of the device's encryption keys (see mx_keys.h):
 * canonical JSON, signed device keys and key objects, the upload body and
 * its answer, the counts /sync brings, the account's file. */
#include "mx_keys.h"

#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "mx_repair.h" /* mx_json_load */
#include "mx_jget.h"

/* 2^53 - 1: the largest integer canonical JSON allows (a double holds it) */
#define CANON_INT_MAX    9007199254740991LL
#define STORE_VERSION    1
#define STORE_PICKLE_MAX (60 * 1024) /* a pickled account (about 10 KB) */

/* ---- canonical JSON --------------------------------------------------- */

static void canon_string(struct buf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t i, run = 0;

	buf_append(b, "\"", 1);
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		const char *esc = NULL;
		char u[6];

		switch (c) {
		case '"':
			esc = "\\\"";
			break;
		case '\\':
			esc = "\\\\";
			break;
		case '\b':
			esc = "\\b";
			break;
		case '\t':
			esc = "\\t";
			break;
		case '\n':
			esc = "\\n";
			break;
		case '\f':
			esc = "\\f";
			break;
		case '\r':
			esc = "\\r";
			break;
		default:
			if (c >= 0x20)
				continue; /* as it is, in the run */
		}
		buf_append(b, s + run, i - run);
		run = i + 1;
		if (esc) {
			buf_puts(b, esc);
		} else {
			u[0] = '\\', u[1] = 'u', u[2] = '0', u[3] = '0';
			u[4] = hex[c >> 4], u[5] = hex[c & 15];
			buf_append(b, u, 6);
		}
	}
	buf_append(b, s + run, n - run);
	buf_append(b, "\"", 1);
}

/* A member of an object, for sorting. */
struct member {
	const char *key;
	size_t len;
	json_t *value;
};

static int member_cmp(const void *a, const void *b)
{
	const struct member *x = a, *y = b;
	int c = memcmp(x->key, y->key, x->len < y->len ? x->len : y->len);

	return c ? c : (x->len > y->len) - (x->len < y->len);
}

static enum err canon_value(struct buf *b, const json_t *v, int depth);

static enum err canon_object(struct buf *b, const json_t *v, int depth)
{
	size_t n = json_object_size(v), i = 0, klen;
	struct member *m;
	const char *key;
	json_t *val;
	enum err e = ERR_OK;

	if (n == 0) {
		buf_puts(b, "{}");
		return ERR_OK;
	}
	m = calloc(n, sizeof(*m));
	if (!m)
		return ERR_NOMEM;
	json_object_keylen_foreach((json_t *)v, key, klen, val)
	{
		if (i == n)
			break;
		m[i].key = key;
		m[i].len = klen;
		m[i++].value = val;
	}
	qsort(m, i, sizeof(*m), member_cmp);
	buf_append(b, "{", 1);
	for (n = i, i = 0; i < n && e == ERR_OK; i++) {
		if (i)
			buf_append(b, ",", 1);
		canon_string(b, m[i].key, m[i].len);
		buf_append(b, ":", 1);
		e = canon_value(b, m[i].value, depth + 1);
	}
	buf_append(b, "}", 1);
	free(m);
	return e;
}

static enum err canon_value(struct buf *b, const json_t *v, int depth)
{
	char num[32];
	size_t i;
	enum err e = ERR_OK;

	if (depth > MX_CANON_DEPTH)
		return ERR_LIMIT;
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return canon_object(b, v, depth);
	case JSON_ARRAY:
		buf_append(b, "[", 1);
		for (i = 0; i < json_array_size(v) && e == ERR_OK; i++) {
			if (i)
				buf_append(b, ",", 1);
			e = canon_value(b, json_array_get(v, i), depth + 1);
		}
		buf_append(b, "]", 1);
		return e;
	case JSON_STRING:
		canon_string(b, json_string_value(v), json_string_length(v));
		return ERR_OK;
	case JSON_INTEGER: {
		long long n = (long long)json_integer_value(v);

		if (n > CANON_INT_MAX || n < -CANON_INT_MAX)
			return ERR_INVALID;
		snprintf(num, sizeof(num), "%lld", n);
		buf_puts(b, num);
		return ERR_OK;
	}
	case JSON_REAL: {
		/* 1e10 and -0 are integers written another way (the spec's
		 * example); 1.5 has no canonical form */
		double d = json_real_value(v);

		if (!(d >= -(double)CANON_INT_MAX && d <= (double)CANON_INT_MAX) ||
		    d != (double)(long long)d)
			return ERR_INVALID;
		snprintf(num, sizeof(num), "%lld", (long long)d);
		buf_puts(b, num);
		return ERR_OK;
	}
	case JSON_TRUE:
		buf_puts(b, "true");
		return ERR_OK;
	case JSON_FALSE:
		buf_puts(b, "false");
		return ERR_OK;
	case JSON_NULL:
		buf_puts(b, "null");
		return ERR_OK;
	}
	return ERR_INVALID;
}

/* canon writes v's canonical JSON into a new *out. */
static enum err canon(const json_t *v, char **out)
{
	struct buf b;
	enum err e;

	*out = NULL;
	buf_init(&b, MX_CANON_MAX);
	e = canon_value(&b, v, 0);
	if (e != ERR_OK) {
		buf_release(&b);
		return e;
	}
	return buf_take(&b, out);
}

/* load parses JSON to be signed or checked: strictly (a key given twice
 * would make two readers see two objects), a \u0000 allowed as canonical
 * JSON allows it. NULL when it is not JSON. */
static json_t *load(const char *json, size_t len)
{
	return json_loadb(json, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, NULL);
}

enum err mx_canonical_json(const char *json, size_t len, char **out)
{
	json_t *v = load(json, len);
	enum err e;

	*out = NULL;
	if (!v)
		return ERR_PARSE;
	e = canon(v, out);
	json_decref(v);
	return e;
}

enum err mx_keys_signing_input(const char *json, size_t len, char **out)
{
	json_t *v = load(json, len);
	enum err e = ERR_PARSE;

	*out = NULL;
	if (json_is_object(v)) {
		json_object_del(v, "signatures");
		json_object_del(v, "unsigned");
		e = canon(v, out);
	}
	json_decref(v);
	return e;
}

/* ---- what the device signs -------------------------------------------- */

/* device_id_ok: an opaque id, but one that goes into key names and a log */
static int device_id_ok(const char *s)
{
	size_t i;

	if (!s || !*s || strlen(s) > MX_DEVICE_MAX)
		return 0;
	for (i = 0; s[i]; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return 0;
	return 1;
}

static int device_ok(const struct mx_device *d)
{
	return d->user_id && mx_user_id_valid(d->user_id) && device_id_ok(d->device_id) &&
	       mx_token_ok(d->curve25519, MX_KEY_MAX) && mx_token_ok(d->ed25519, MX_KEY_MAX) &&
	       d->sign;
}

/* key_name writes "ALGO:ID" */
static enum err key_name(char *buf, size_t len, const char *algo, const char *id)
{
	return (size_t)snprintf(buf, len, "%s:%s", algo, id) < len ? ERR_OK : ERR_LIMIT;
}

static json_t *device_object(const struct mx_device *d)
{
	char curve[MX_DEVICE_MAX + 16], ed[MX_DEVICE_MAX + 16];

	if (key_name(curve, sizeof(curve), "curve25519", d->device_id) != ERR_OK ||
	    key_name(ed, sizeof(ed), "ed25519", d->device_id) != ERR_OK)
		return NULL;
	return json_pack("{s:s, s:s, s:[s, s], s:{s:s, s:s}}", "user_id", d->user_id, "device_id",
			 d->device_id, "algorithms", MX_KEYS_OLM, MX_KEYS_MEGOLM, "keys", curve,
			 d->curve25519, ed, d->ed25519);
}

enum err mx_keys_device_json(const struct mx_device *d, char **out)
{
	json_t *o;
	enum err e;

	*out = NULL;
	if (!device_ok(d))
		return ERR_INVALID;
	o = device_object(d);
	if (!o)
		return ERR_NOMEM;
	e = canon(o, out);
	json_decref(o);
	return e;
}

/* sign adds signatures[user_id]["ed25519:DEVICE"] to obj: d's signature
 * over obj's canonical JSON (obj has no signatures yet). */
static enum err sign(const struct mx_device *d, json_t *obj)
{
	char name[MX_DEVICE_MAX + 16], sig[MX_KEY_MAX] = "", *input = NULL;
	enum err e;

	e = key_name(name, sizeof(name), "ed25519", d->device_id);
	if (e == ERR_OK)
		e = canon(obj, &input);
	if (e == ERR_OK)
		e = d->sign(d->ctx, input, strlen(input), sig, sizeof(sig));
	free(input);
	if (e != ERR_OK)
		return e;
	if (!mx_token_ok(sig, MX_KEY_MAX))
		return ERR_INVALID;
	if (json_object_set_new(obj, "signatures", json_pack("{s:{s:s}}", d->user_id, name, sig)) !=
	    0)
		return ERR_NOMEM;
	return ERR_OK;
}

/* add_key puts "signed_curve25519:ID": {key, [fallback,] signatures} in
 * map. */
static enum err add_key(const struct mx_device *d, json_t *map, const struct mx_key *k,
			int fallback)
{
	char name[2 * MX_KEY_MAX];
	json_t *o;
	enum err e;

	if (!mx_token_ok(k->id, MX_KEY_MAX) || !mx_token_ok(k->key, MX_KEY_MAX))
		return ERR_INVALID;
	e = key_name(name, sizeof(name), MX_KEYS_OTK_ALGO, k->id);
	if (e != ERR_OK)
		return e;
	o = fallback ? json_pack("{s:s, s:b}", "key", k->key, "fallback", 1)
		     : json_pack("{s:s}", "key", k->key);
	if (!o)
		return ERR_NOMEM;
	e = sign(d, o);
	if (e == ERR_OK && json_object_set(map, name, o) != 0)
		e = ERR_NOMEM;
	json_decref(o);
	return e;
}

enum err mx_keys_upload_json(const struct mx_device *d, const struct mx_upload *u, char **out)
{
	json_t *body = json_object(), *dk = NULL, *otks = NULL, *fb = NULL;
	enum err e = body ? ERR_OK : ERR_NOMEM;
	size_t i;

	*out = NULL;
	if (e == ERR_OK && (!device_ok(d) || u->n_otks > MX_KEYS_LIST_MAX))
		e = ERR_INVALID;
	if (e == ERR_OK && u->device_keys) {
		dk = device_object(d);
		e = dk ? sign(d, dk) : ERR_NOMEM;
		if (e == ERR_OK && json_object_set(body, "device_keys", dk) != 0)
			e = ERR_NOMEM;
	}
	if (e == ERR_OK && u->n_otks) {
		otks = json_object();
		e = otks ? ERR_OK : ERR_NOMEM;
		for (i = 0; i < u->n_otks && e == ERR_OK; i++)
			e = add_key(d, otks, &u->otks[i], 0);
		if (e == ERR_OK && json_object_set(body, "one_time_keys", otks) != 0)
			e = ERR_NOMEM;
	}
	if (e == ERR_OK && u->fallback) {
		fb = json_object();
		e = fb ? add_key(d, fb, u->fallback, 1) : ERR_NOMEM;
		if (e == ERR_OK && json_object_set(body, "fallback_keys", fb) != 0)
			e = ERR_NOMEM;
	}
	if (e == ERR_OK)
		e = canon(body, out);
	json_decref(dk);
	json_decref(otks);
	json_decref(fb);
	json_decref(body);
	return e;
}

enum err mx_keys_curve_list(const char *json, size_t len, struct mx_key **out, size_t *n)
{
	json_t *root = load(json, len), *map = json_object_get(root, "curve25519"), *v;
	struct mx_key *list = NULL;
	const char *id;
	size_t i = 0;
	enum err e = ERR_OK;

	*out = NULL;
	*n = 0;
	if (!json_is_object(root) || !json_is_object(map) || json_object_size(root) != 1)
		e = ERR_PARSE;
	else if (json_object_size(map) > MX_KEYS_LIST_MAX)
		e = ERR_LIMIT;
	else if (json_object_size(map) && !(list = calloc(json_object_size(map), sizeof(*list))))
		e = ERR_NOMEM;
	if (e == ERR_OK) {
		json_object_foreach(map, id, v)
		{
			const char *key = json_string_value(v);

			if (i == json_object_size(map) || !json_is_string(v) ||
			    !mx_token_ok(id, MX_KEY_MAX) || !mx_token_ok(key, MX_KEY_MAX) ||
			    strlen(key) != json_string_length(v)) {
				e = ERR_INVALID;
				break;
			}
			memcpy(list[i].id, id, strlen(id) + 1);
			memcpy(list[i].key, key, strlen(key) + 1);
			i++;
		}
	}
	json_decref(root);
	if (e != ERR_OK) {
		free(list);
		return e;
	}
	*out = list;
	*n = i;
	return ERR_OK;
}

/* ---- what the server says --------------------------------------------- */

/* count_of: a count the server gave, -1 when it is not one */
static long count_of(const json_t *v)
{
	json_int_t n;

	if (!json_is_integer(v))
		return -1;
	n = json_integer_value(v);
	return n >= 0 && n <= MX_KEYS_COUNT_MAX ? (long)n : -1;
}

enum err mx_keys_upload_counts(const char *json, size_t len, long *otk)
{
	json_t *root = mx_json_load(json, len, NULL, NULL, NULL);
	json_t *counts = json_object_get(root, "one_time_key_counts");
	json_t *v = json_object_get(counts, MX_KEYS_OTK_ALGO);
	enum err e = ERR_PARSE;

	*otk = -1;
	if (json_is_object(root) && json_is_object(counts)) {
		*otk = v ? count_of(v) : 0;
		if (*otk >= 0)
			e = ERR_OK;
	}
	json_decref(root);
	return e;
}

void mx_keys_sync_counts(const json_t *sync, struct mx_key_counts *out)
{
	json_t *types, *counts, *v;
	size_t i;

	memset(out, 0, sizeof(*out));
	if (!json_is_object(sync))
		return;
	types = json_object_get(sync, "device_unused_fallback_key_types");
	if (json_is_array(types)) {
		out->fallback_known = 1;
		json_array_foreach(types, i, v)
		{
			if (json_is_string(v) && !strcmp(json_string_value(v), MX_KEYS_OTK_ALGO))
				out->fallback_unused = 1;
		}
	}
	counts = json_object_get(sync, "device_one_time_keys_count");
	if (json_is_object(counts)) {
		v = json_object_get(counts, MX_KEYS_OTK_ALGO);
		out->otk = v ? count_of(v) : 0;
		out->otk_known = out->otk >= 0;
	} else if (!counts && out->fallback_known) {
		out->otk = 0;
		out->otk_known = 1;
	}
	if (!out->otk_known)
		out->otk = 0;
}

enum err mx_keys_fingerprint(const char *ed25519, char *buf, size_t len)
{
	size_t i, o = 0;

	if (!mx_token_ok(ed25519, MX_KEY_MAX))
		return ERR_INVALID;
	for (i = 0; ed25519[i]; i++) {
		if (o + 3 > len)
			return ERR_LIMIT;
		if (i && i % 4 == 0)
			buf[o++] = ' ';
		buf[o++] = ed25519[i];
	}
	if (o + 1 > len)
		return ERR_LIMIT;
	buf[o] = '\0';
	return ERR_OK;
}

/* ---- the account's file ----------------------------------------------- */

static int base64_ok(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || n > STORE_PICKLE_MAX || strlen(s) != n)
		return 0;
	for (i = 0; i < n; i++)
		if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '+' || s[i] == '/' || s[i] == '='))
			return 0;
	return 1;
}

enum err mx_keys_store_json(const struct mx_store *s, char **out)
{
	json_t *o;
	enum err e;

	*out = NULL;
	if (!mx_user_id_valid(s->user_id) || !device_id_ok(s->device_id) || !s->pickle ||
	    !base64_ok(s->pickle, strlen(s->pickle)))
		return ERR_INVALID;
	o = json_pack("{s:i, s:s, s:s, s:b, s:b, s:s}", "version", STORE_VERSION, "user_id",
		      s->user_id, "device_id", s->device_id, "shared", s->shared ? 1 : 0,
		      "fallback", s->fallback ? 1 : 0, "account", s->pickle);
	if (!o)
		return ERR_NOMEM;
	e = canon(o, out);
	json_decref(o);
	return e;
}

enum err mx_keys_store_parse(const char *json, size_t len, struct mx_store *s)
{
	json_t *root = load(json, len);
	json_t *ver = json_object_get(root, "version"), *uid = json_object_get(root, "user_id");
	json_t *dev = json_object_get(root, "device_id"), *acc = json_object_get(root, "account");
	json_t *shared = json_object_get(root, "shared"), *fb = json_object_get(root, "fallback");
	enum err e = ERR_PARSE;

	memset(s, 0, sizeof(*s));
	if (!json_is_object(root) || !json_is_integer(ver) ||
	    json_integer_value(ver) != STORE_VERSION || !json_is_string(uid) ||
	    !json_is_string(dev) || !json_is_string(acc) || !json_is_boolean(shared) ||
	    !json_is_boolean(fb))
		goto out;
	if (json_string_length(uid) != strlen(json_string_value(uid)) ||
	    !mx_user_id_valid(json_string_value(uid)) ||
	    json_string_length(dev) != strlen(json_string_value(dev)) ||
	    !device_id_ok(json_string_value(dev)) ||
	    !base64_ok(json_string_value(acc), json_string_length(acc)))
		goto out;
	memcpy(s->user_id, json_string_value(uid), json_string_length(uid) + 1);
	memcpy(s->device_id, json_string_value(dev), json_string_length(dev) + 1);
	s->shared = json_is_true(shared);
	s->fallback = json_is_true(fb);
	s->pickle = strdup(json_string_value(acc));
	e = s->pickle ? ERR_OK : ERR_NOMEM;
out:
	json_decref(root);
	return e;
}

void mx_store_release(struct mx_store *s)
{
	if (s->pickle) {
		memset(s->pickle, 0, strlen(s->pickle));
		free(s->pickle);
	}
	s->pickle = NULL;
}
