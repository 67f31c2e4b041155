/* mx_crypto.c -- the device's identity and published keys over libolm (see
 * mx_crypto.h). The one file that calls libolm: every olm_* call below
 * goes through olm_dl's table. */
#include "mx_crypto.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "clock.h"
#include "mx_crypto_int.h"
#include "mx_json.h" /* mx_field_string */
#include "olm_dl.h"
#include "state.h"
#include "strs.h"

/* ---- small pieces ------------------------------------------------------ */

enum err mx_crypto_random(void *buf, size_t n)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r = getrandom((char *)buf + got, n - got, 0);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return ERR_IO;
		got += (size_t)r;
	}
	return ERR_OK;
}

/* wiped_free: a secret's memory cleared, then freed */
void mx_crypto_wiped_free(void *p, size_t n)
{
	if (p)
		explicit_bzero(p, n);
	free(p);
}

/* ---- a damaged sessions' file, set aside ------------------------------- */

static const char *const aside_file[] = {MX_CRYPTO_SESSIONS_FILE, MX_CRYPTO_OUT_FILE};

/* aside_name: the copy's name, NAME.damaged-SECONDS (a plain name, as
 * state_write wants: the next damage gets its own copy) */
static void aside_name(const struct mx_crypto *c, int which, char *buf, size_t len)
{
	snprintf(buf, len, "%s.damaged-%lld", aside_file[which], c->aside_at / 1000);
}

enum err mx_crypto_aside_keep(struct mx_crypto *c, int which, const char *text, size_t len,
			      const char *damage, const char *what)
{
	struct crypto_aside *a = &c->aside[which];
	char name[128];

	if (!c->aside_at)
		c->aside_at = clock_wall_ms();
	if (a->text)
		mx_crypto_wiped_free(a->text, a->len);
	a->text = malloc(len ? len : 1);
	if (!a->text)
		return ERR_NOMEM;
	memcpy(a->text, text, len);
	a->len = len;
	aside_name(c, which, name, sizeof(name));
	snprintf(a->warn, sizeof(a->warn), "%s/%s is damaged (%s); its copy is kept as %s/%s: %s",
		 c->dir, aside_file[which], damage, c->dir, name, what);
	return ERR_OK;
}

enum err mx_crypto_aside_write(struct mx_crypto *c, int which, char *errbuf, size_t errlen)
{
	struct crypto_aside *a = &c->aside[which];
	char name[128];
	enum err e;

	if (!a->text)
		return ERR_OK;
	aside_name(c, which, name, sizeof(name));
	e = state_write_max(c->dir, name, a->text, a->len, 0600, a->len + 1);
	if (e != ERR_OK) {
		snprintf(errbuf, errlen,
			 "cannot keep the copy of the damaged %s/%s as %s: %s (it is not written "
			 "over until it can be)",
			 c->dir, aside_file[which], name, err_str(e));
		return e;
	}
	mx_crypto_wiped_free(a->text, a->len);
	a->text = NULL;
	return ERR_OK;
}

const char *mx_crypto_load_warning(const struct mx_crypto *c, size_t i)
{
	size_t k, n = 0;

	for (k = 0; c && k < sizeof(c->aside) / sizeof(c->aside[0]); k++)
		if (c->aside[k].warn[0] && n++ == i)
			return c->aside[k].warn;
	return NULL;
}

static void account_free(struct mx_crypto *c)
{
	if (c->acc)
		olm_clear_account(c->acc);
	free(c->mem);
	c->mem = NULL;
	c->acc = NULL;
}

static enum err account_new(struct mx_crypto *c)
{
	account_free(c);
	c->mem = malloc(olm_account_size());
	if (!c->mem)
		return ERR_NOMEM;
	c->acc = olm_account(c->mem);
	return ERR_OK;
}

/* olm_json: what a libolm call that writes JSON writes, as a new string */
static char *olm_json(struct mx_crypto *c, size_t (*len_fn)(const OlmAccount *),
		      size_t (*fn)(OlmAccount *, void *, size_t))
{
	size_t n = len_fn(c->acc);
	char *s = malloc(n + 1);

	if (!s)
		return NULL;
	n = fn(c->acc, s, n);
	if (n == olm_error()) {
		free(s);
		return NULL;
	}
	s[n] = '\0';
	return s;
}

/* read_identity reads the account's identity keys into c->id. */
static enum err read_identity(struct mx_crypto *c)
{
	char *ids = olm_json(c, olm_account_identity_keys_length, olm_account_identity_keys);
	enum err e = ids ? ERR_OK : ERR_NOMEM;

	if (e == ERR_OK)
		e = mx_field_string(ids, strlen(ids), "curve25519", c->id.curve25519,
				    sizeof(c->id.curve25519));
	if (e == ERR_OK)
		e = mx_field_string(ids, strlen(ids), "ed25519", c->id.ed25519,
				    sizeof(c->id.ed25519));
	free(ids);
	memcpy(c->id.user_id, c->st.user_id, sizeof(c->id.user_id));
	memcpy(c->id.device_id, c->st.device_id, sizeof(c->id.device_id));
	return e;
}

/* save writes the account, pickled under the key, with what the server
 * confirmed: the whole file at once (state_write), 0600. */
enum err mx_crypto_account_save(struct mx_crypto *c, char *errbuf, size_t errlen)
{
	size_t n = olm_pickle_account_length(c->acc);
	char *pickle = malloc(n + 1), *json = NULL;
	enum err e = pickle ? ERR_OK : ERR_NOMEM;
	int said = 0;

	if (e == ERR_OK &&
	    olm_pickle_account(c->acc, c->key, c->keylen, pickle, n) == olm_error()) {
		snprintf(errbuf, errlen, "libolm cannot pickle the account: %s",
			 olm_account_last_error(c->acc));
		e = ERR_INVALID;
		said = 1;
	}
	if (e == ERR_OK) {
		pickle[n] = '\0';
		c->st.pickle = pickle;
		e = mx_keys_store_json(&c->st, &json);
		c->st.pickle = NULL;
	}
	if (e == ERR_OK)
		e = state_write(c->dir, MX_CRYPTO_FILE, json, strlen(json), 0600);
	if (e != ERR_OK && !said)
		snprintf(errbuf, errlen, "cannot save the device's encryption keys in %s: %s",
			 c->path, err_str(e));
	free(json);
	mx_crypto_wiped_free(pickle, n + 1);
	return e;
}

/* ---- the stored identity ----------------------------------------------- */

/* open_stored opens the account the file's text holds. */
static enum err open_stored(struct mx_crypto *c, const char *text, size_t len, char *errbuf,
			    size_t errlen)
{
	const char *why;
	size_t n;
	enum err e;

	e = mx_keys_store_parse(text, len, &c->st);
	if (e == ERR_NOMEM)
		return e;
	if (e != ERR_OK) {
		snprintf(errbuf, errlen,
			 "%s is not a faqbot Olm account (damaged or cut short?): restore it from "
			 "a backup. Starting over makes a new device identity, which members'"
			 " clients must be brought to trust again: stop the bot, move %s and "
			 "session.json out of the state_dir (%s), log in as a new device, and "
			 "have the new fingerprint verified (faqbot keys)",
			 c->path, MX_CRYPTO_FILE, c->dir);
		return ERR_PARSE;
	}
	e = account_new(c);
	n = strlen(c->st.pickle);
	if (e == ERR_OK &&
	    olm_unpickle_account(c->acc, c->key, c->keylen, c->st.pickle, n) == olm_error()) {
		why = olm_account_last_error(c->acc);
		if (!strcmp(why, "BAD_ACCOUNT_KEY")) {
			/* libolm cannot tell a wrong key from damage: both fail its MAC */
			snprintf(errbuf, errlen,
				 "the Olm account in %s does not open with the pickle key "
				 "(pickle_key_file or pickle_key_env): give the key it was written "
				 "with, or restore the file from a backup if it is damaged; the "
				 "bot's device identity is in this file, and a new one would have "
				 "to be verified again",
				 c->path);
			e = ERR_INVALID;
		} else {
			snprintf(errbuf, errlen,
				 "the Olm account in %s is damaged (libolm: %s): restore it from a "
				 "backup; starting over makes a new device identity (move %s and "
				 "session.json out of the state_dir (%s), log in as a new device, "
				 "verify the new fingerprint with faqbot keys)",
				 c->path, why, MX_CRYPTO_FILE, c->dir);
			e = ERR_PARSE;
		}
	}
	mx_store_release(&c->st);
	if (e == ERR_OK && read_identity(c) != ERR_OK) {
		snprintf(errbuf, errlen, "the Olm account in %s has no readable identity keys",
			 c->path);
		e = ERR_PARSE;
	}
	if (e != ERR_OK)
		account_free(c);
	return e;
}

enum err mx_crypto_load(const char *state_dir, const char *pickle_key, struct mx_crypto **out,
			char *errbuf, size_t errlen)
{
	struct mx_crypto *c = NULL;
	char *text = NULL;
	size_t len = 0;
	enum err e;

	*out = NULL;
	if (errbuf && errlen)
		*errbuf = '\0';
	if (!state_dir || !*state_dir) {
		snprintf(errbuf, errlen,
			 "encryption needs a state_dir to keep the device's keys in");
		return ERR_INVALID;
	}
	if (!pickle_key || strlen(pickle_key) < MX_CRYPTO_KEY_MIN ||
	    strlen(pickle_key) > MX_CRYPTO_KEY_MAX) {
		snprintf(errbuf, errlen,
			 "the pickle key must be %d to %d bytes (make one: head -c 32 /dev/urandom "
			 "| base64 > FILE; chmod 600 FILE)",
			 MX_CRYPTO_KEY_MIN, MX_CRYPTO_KEY_MAX);
		return ERR_INVALID;
	}
	e = olm_dl_load(errbuf, errlen);
	if (e != ERR_OK)
		return e;
	c = calloc(1, sizeof(*c));
	if (!c || !(c->dir = strs_dup(state_dir)) || !(c->key = strs_dup(pickle_key))) {
		e = ERR_NOMEM;
		goto fail;
	}
	c->keylen = strlen(c->key);
	snprintf(c->path, sizeof(c->path), "%s/%s", state_dir, MX_CRYPTO_FILE);
	e = state_read(state_dir, MX_CRYPTO_FILE, &text, &len);
	if (e == ERR_NOTFOUND) {
		*out = c; /* no identity yet: mx_crypto_bind makes it */
		return ERR_OK;
	}
	if (e == ERR_LIMIT) {
		snprintf(errbuf, errlen, "%s is too large to be a faqbot Olm account", c->path);
		e = ERR_PARSE;
	} else if (e != ERR_OK) {
		snprintf(errbuf, errlen, "cannot read %s (the device's encryption keys): %s",
			 c->path, strerror(errno));
	} else {
		e = open_stored(c, text, len, errbuf, errlen);
	}
	if (text)
		mx_crypto_wiped_free(text, len);
	if (e == ERR_OK)
		e = mx_crypto_sessions_load(c, errbuf, errlen);
	if (e == ERR_OK) {
		*out = c;
		return ERR_OK;
	}
fail:
	if (e == ERR_NOMEM)
		snprintf(errbuf, errlen, "out of memory");
	mx_crypto_free(c);
	return e;
}

const char *mx_crypto_user(const struct mx_crypto *c)
{
	return c && c->acc ? c->id.user_id : NULL;
}

const char *mx_crypto_device(const struct mx_crypto *c)
{
	return c && c->acc ? c->id.device_id : NULL;
}

enum err mx_crypto_bind(struct mx_crypto *c, const char *user_id, const char *device_id,
			char *errbuf, size_t errlen)
{
	size_t n;
	void *rnd;
	enum err e;

	if (c->acc) {
		if (!strcmp(c->id.user_id, user_id) && !strcmp(c->id.device_id, device_id))
			return ERR_OK;
		snprintf(errbuf, errlen,
			 "the device identity in %s is device %s of %s, but the bot is logged in "
			 "as device %s of %s: set device_id = %s in [matrix] and log in with the "
			 "password (or an access token of that device); or, to give this device a "
			 "new identity the moderators verify again, move %s out of the state_dir "
			 "(%s)",
			 c->path, c->id.device_id, c->id.user_id, device_id, user_id,
			 c->id.device_id, MX_CRYPTO_FILE, c->dir);
		return ERR_INVALID;
	}
	if (!mx_user_id_valid(user_id) || !device_id || !*device_id ||
	    strlen(device_id) > MX_DEVICE_MAX) {
		snprintf(errbuf, errlen, "cannot make a device identity for user %s, device %s",
			 user_id, device_id ? device_id : "(none)");
		return ERR_INVALID;
	}
	e = account_new(c);
	if (e != ERR_OK)
		return e;
	n = olm_create_account_random_length(c->acc);
	rnd = malloc(n ? n : 1);
	e = rnd ? mx_crypto_random(rnd, n) : ERR_NOMEM;
	if (e == ERR_OK && olm_create_account(c->acc, rnd, n) == olm_error())
		e = ERR_INVALID;
	mx_crypto_wiped_free(rnd, n);
	memset(&c->st, 0, sizeof(c->st));
	memcpy(c->st.user_id, user_id, strlen(user_id) + 1);
	memcpy(c->st.device_id, device_id, strlen(device_id) + 1);
	if (e == ERR_OK)
		e = read_identity(c);
	if (e == ERR_OK)
		e = mx_crypto_account_save(c, errbuf, errlen);
	else
		snprintf(errbuf, errlen, "cannot make the device's identity: %s", err_str(e));
	if (e != ERR_OK)
		account_free(c); /* never an identity that is not on disk */
	return e;
}

enum err mx_crypto_identity(const struct mx_crypto *c, struct mx_crypto_identity *out)
{
	if (!c || !c->acc)
		return ERR_NOTFOUND;
	*out = c->id;
	return ERR_OK;
}

long mx_crypto_otk_target(const struct mx_crypto *c)
{
	return c && c->acc ? (long)olm_account_max_number_of_one_time_keys(c->acc) / 2 : 0;
}

/* ---- keys to publish --------------------------------------------------- */

static enum err signer(void *ctx, const char *msg, size_t len, char *sig, size_t siglen)
{
	struct mx_crypto *c = ctx;
	size_t n = olm_account_signature_length(c->acc);

	if (n + 1 > siglen)
		return ERR_LIMIT;
	n = olm_account_sign(c->acc, msg, len, sig, n);
	if (n == olm_error())
		return ERR_INVALID;
	sig[n] = '\0';
	return ERR_OK;
}

/* unpublished reads the keys libolm has not been told are published: the
 * one-time keys (*otks, *n_otks) and the fallback key (*fb, *n_fb: 0 or
 * 1). The caller frees both arrays. */
static enum err unpublished(struct mx_crypto *c, struct mx_key **otks, size_t *n_otks,
			    struct mx_key **fb, size_t *n_fb)
{
	char *o = olm_json(c, olm_account_one_time_keys_length, olm_account_one_time_keys);
	char *f = olm_json(c, olm_account_unpublished_fallback_key_length,
			   olm_account_unpublished_fallback_key);
	enum err e = o && f ? ERR_OK : ERR_NOMEM;

	*otks = *fb = NULL;
	*n_otks = *n_fb = 0;
	if (e == ERR_OK)
		e = mx_keys_curve_list(o, strlen(o), otks, n_otks);
	if (e == ERR_OK)
		e = mx_keys_curve_list(f, strlen(f), fb, n_fb);
	if (e == ERR_OK && *n_fb > 1)
		e = ERR_INVALID;
	free(o);
	free(f);
	return e;
}

/* make_keys makes the one-time keys the server lacks and a fallback key
 * when one is due; *made says whether it made any. */
static enum err make_keys(struct mx_crypto *c, long server_otk, int new_fallback, size_t n_otks,
			  size_t n_fb, int *made)
{
	long held = server_otk >= 0 ? server_otk : c->st.shared ? -1 : 0;
	long need = held >= 0 ? mx_crypto_otk_target(c) - held - (long)n_otks : 0;
	size_t n;
	void *rnd;
	enum err e = ERR_OK;

	*made = 0;
	if (need > 0) {
		n = olm_account_generate_one_time_keys_random_length(c->acc, (size_t)need);
		rnd = malloc(n ? n : 1);
		e = rnd ? mx_crypto_random(rnd, n) : ERR_NOMEM;
		if (e == ERR_OK &&
		    olm_account_generate_one_time_keys(c->acc, (size_t)need, rnd, n) == olm_error())
			e = ERR_INVALID;
		mx_crypto_wiped_free(rnd, n);
		*made = e == ERR_OK;
	}
	if (e == ERR_OK && (new_fallback || !c->st.fallback) && n_fb == 0) {
		n = olm_account_generate_fallback_key_random_length(c->acc);
		rnd = malloc(n ? n : 1);
		e = rnd ? mx_crypto_random(rnd, n) : ERR_NOMEM;
		if (e == ERR_OK && olm_account_generate_fallback_key(c->acc, rnd, n) == olm_error())
			e = ERR_INVALID;
		mx_crypto_wiped_free(rnd, n);
		if (e == ERR_OK)
			c->st.fallback = *made = 1;
	}
	return e;
}

enum err mx_crypto_upload(struct mx_crypto *c, long server_otk, int new_fallback, char **body,
			  struct mx_crypto_sent *sent, char *errbuf, size_t errlen)
{
	struct mx_key *otks = NULL, *fb = NULL;
	size_t n_otks, n_fb;
	struct mx_device d;
	struct mx_upload u;
	int made = 0;
	enum err e;

	*body = NULL;
	if (sent)
		memset(sent, 0, sizeof(*sent));
	if (errbuf && errlen)
		*errbuf = '\0';
	if (!c->acc) {
		snprintf(errbuf, errlen, "no device identity yet");
		return ERR_INVALID;
	}
	e = unpublished(c, &otks, &n_otks, &fb, &n_fb);
	if (e == ERR_OK)
		e = make_keys(c, server_otk, new_fallback, n_otks, n_fb, &made);
	if (made)
		c->dirty = 1;
	if (e == ERR_OK && c->dirty) {
		/* on disk before anyone can be handed them (made now, or made
		 * before and not saved then) */
		e = mx_crypto_account_save(c, errbuf, errlen);
		if (e == ERR_OK)
			c->dirty = 0;
		free(otks);
		free(fb);
		otks = fb = NULL;
		if (e == ERR_OK)
			e = unpublished(c, &otks, &n_otks, &fb, &n_fb);
	}
	if (e == ERR_OK && (!c->st.shared || n_otks || n_fb)) {
		d.user_id = c->id.user_id;
		d.device_id = c->id.device_id;
		d.curve25519 = c->id.curve25519;
		d.ed25519 = c->id.ed25519;
		d.sign = signer;
		d.ctx = c;
		u.device_keys = !c->st.shared;
		u.otks = otks;
		u.n_otks = n_otks;
		u.fallback = n_fb ? fb : NULL;
		e = mx_keys_upload_json(&d, &u, body);
		c->pending = e == ERR_OK;
		if (e == ERR_OK && sent) {
			sent->device_keys = u.device_keys;
			sent->otks = n_otks;
			sent->fallback = n_fb > 0;
		}
	}
	if (e != ERR_OK && !(errbuf && errlen && *errbuf))
		snprintf(errbuf, errlen, "cannot make the keys to upload: %s", err_str(e));
	free(otks);
	free(fb);
	return e;
}

enum err mx_crypto_published(struct mx_crypto *c, char *errbuf, size_t errlen)
{
	if (errbuf && errlen)
		*errbuf = '\0';
	if (!c->acc || !c->pending)
		return ERR_OK;
	olm_account_mark_keys_as_published(c->acc);
	c->st.shared = 1;
	c->pending = 0;
	return mx_crypto_account_save(c, errbuf, errlen);
}

enum err mx_crypto_verify(const char *ed25519, const char *msg, size_t len, const char *sig)
{
	char why[256], *s;
	void *mem;
	OlmUtility *u;
	size_t r;

	if (olm_dl_load(why, sizeof(why)) != ERR_OK)
		return ERR_NOTFOUND;
	if (!ed25519 || !sig)
		return ERR_INVALID;
	mem = malloc(olm_utility_size());
	s = strs_dup(sig); /* libolm decodes the signature in place */
	if (!mem || !s) {
		free(mem);
		free(s);
		return ERR_NOMEM;
	}
	u = olm_utility(mem);
	r = olm_ed25519_verify(u, ed25519, strlen(ed25519), msg, len, s, strlen(s));
	olm_clear_utility(u);
	free(mem);
	free(s);
	return r == olm_error() ? ERR_INVALID : ERR_OK;
}

void mx_crypto_free(struct mx_crypto *c)
{
	size_t k;

	if (!c)
		return;
	account_free(c);
	mx_crypto_xsign_release(c);
	mx_e2ee_sessions_release(&c->ss);
	mx_tx_out_release(&c->out);
	for (k = 0; k < sizeof(c->aside) / sizeof(c->aside[0]); k++)
		if (c->aside[k].text)
			mx_crypto_wiped_free(c->aside[k].text, c->aside[k].len);
	if (c->key)
		mx_crypto_wiped_free(c->key, c->keylen);
	free(c->dir);
	explicit_bzero(c, sizeof(*c));
	free(c);
}
