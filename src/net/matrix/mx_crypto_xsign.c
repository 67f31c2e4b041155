/* mx_crypto_xsign.c -- the bot's cross-signing keys over libolm (see
 * mx_crypto.h, "cross-signing"): three ed25519 keys made from random
 * seeds (olm_pk_signing), each seed kept encrypted under the pickle key in
 * STATE_DIR/cross_signing (0600, written whole), and signing with them.
 *
 * Why a seed goes into a pk-decryption pickle: libolm pickles no signing
 * key, and the file must never hold a key in plain. Its pk-decryption
 * object holds 32 private bytes, taken as they are
 * (olm_pk_key_from_private) and given back as they are
 * (olm_pk_get_private_key), and pickles them with the same encryption as
 * the Olm account (AES-256-CBC and HMAC-SHA-256 under keys derived from
 * the pickle key); an ed25519 seed is 32 bytes. A pickle that does not
 * open, or a seed whose public key is not the one stored beside it, is an
 * error naming the file, never a new identity. */
#include "mx_crypto.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mx_crypto_int.h"
#include "olm_dl.h"
#include "state.h"

#define SEED_LEN 32 /* olm_pk_signing_seed_length and olm_pk_private_key_length */

struct mx_crypto_xs {
	struct mx_xsign_store st;
	unsigned char seed[MX_XSIGN_ROLES][SEED_LEN];
};

void mx_crypto_xsign_release(struct mx_crypto *c)
{
	if (!c->xs)
		return;
	mx_xsign_store_release(&c->xs->st);
	mx_crypto_wiped_free(c->xs, sizeof(*c->xs));
	c->xs = NULL;
}

/* public_of writes the ed25519 public key of seed into pub */
static enum err public_of(const unsigned char *seed, char *pub, size_t cap)
{
	void *mem = malloc(olm_pk_signing_size());
	OlmPkSigning *s;
	size_t n = olm_pk_signing_public_key_length(), r;

	if (!mem)
		return ERR_NOMEM;
	if (n + 1 > cap || olm_pk_signing_seed_length() != SEED_LEN) {
		free(mem);
		return ERR_LIMIT;
	}
	s = olm_pk_signing(mem);
	r = olm_pk_signing_key_from_seed(s, pub, n, seed, SEED_LEN);
	pub[r == olm_error() ? 0 : n] = '\0';
	olm_clear_pk_signing(s);
	free(mem);
	return r == olm_error() ? ERR_INVALID : ERR_OK;
}

/* pickle_seed encrypts seed under the pickle key: a new base64 string */
static enum err pickle_seed(struct mx_crypto *c, const unsigned char *seed, char **out)
{
	void *mem = malloc(olm_pk_decryption_size());
	char pub[MX_KEY_MAX];
	OlmPkDecryption *d;
	size_t n;
	enum err e = ERR_INVALID;

	*out = NULL;
	if (!mem || olm_pk_private_key_length() != SEED_LEN) {
		free(mem);
		return mem ? ERR_LIMIT : ERR_NOMEM;
	}
	d = olm_pk_decryption(mem);
	if (olm_pk_key_from_private(d, pub, sizeof(pub) - 1, seed, SEED_LEN) != olm_error()) {
		n = olm_pickle_pk_decryption_length(d);
		*out = malloc(n + 1);
		if (!*out)
			e = ERR_NOMEM;
		else if (olm_pickle_pk_decryption(d, c->key, c->keylen, *out, n) != olm_error())
			e = ERR_OK;
		if (e == ERR_OK)
			(*out)[n] = '\0';
	}
	olm_clear_pk_decryption(d);
	free(mem);
	if (e != ERR_OK) {
		free(*out);
		*out = NULL;
	}
	return e;
}

/* unpickle_seed opens a pickle (copied: libolm decodes in place) into
 * seed; *wrong_key when libolm says its MAC fails (a wrong key or damage:
 * it cannot tell them apart) */
static enum err unpickle_seed(struct mx_crypto *c, const char *pickle, unsigned char *seed,
			      int *wrong_key)
{
	void *mem = malloc(olm_pk_decryption_size());
	char pub[MX_KEY_MAX], *copy = strdup(pickle);
	OlmPkDecryption *d;
	enum err e = ERR_PARSE;

	*wrong_key = 0;
	if (!mem || !copy) {
		free(mem);
		free(copy);
		return ERR_NOMEM;
	}
	d = olm_pk_decryption(mem);
	if (olm_unpickle_pk_decryption(d, c->key, c->keylen, copy, strlen(copy), pub,
				       sizeof(pub) - 1) == olm_error())
		*wrong_key = !strcmp(olm_pk_decryption_last_error(d), "BAD_ACCOUNT_KEY");
	else if (olm_pk_get_private_key(d, seed, SEED_LEN) == SEED_LEN)
		e = ERR_OK;
	olm_clear_pk_decryption(d);
	free(mem);
	mx_crypto_wiped_free(copy, strlen(pickle));
	return e;
}

enum err mx_crypto_xsign_save(struct mx_crypto *c, char *errbuf, size_t errlen)
{
	char *json = NULL;
	enum err e = mx_xsign_store_json(&c->xs->st, &json);

	if (e == ERR_OK)
		e = state_write(c->dir, MX_CRYPTO_XSIGN_FILE, json, strlen(json), 0600);
	if (e != ERR_OK)
		snprintf(errbuf, errlen, "cannot save the cross-signing keys in %s/%s: %s", c->dir,
			 MX_CRYPTO_XSIGN_FILE, err_str(e));
	free(json);
	return e;
}

/* open_keys opens the three pickles of c->xs->st and checks each seed
 * makes the public key stored beside it */
static enum err open_keys(struct mx_crypto *c, const char *path, char *errbuf, size_t errlen)
{
	char pub[MX_KEY_MAX];
	int r, wrong_key;
	enum err e;

	for (r = 0; r < MX_XSIGN_ROLES; r++) {
		e = unpickle_seed(c, c->xs->st.pickle[r], c->xs->seed[r], &wrong_key);
		if (e == ERR_OK)
			e = public_of(c->xs->seed[r], pub, sizeof(pub));
		if (e == ERR_OK && strcmp(pub, c->xs->st.pub[r]))
			e = ERR_PARSE;
		if (e == ERR_NOMEM)
			return e;
		if (e != ERR_OK && wrong_key) {
			snprintf(errbuf, errlen,
				 "the cross-signing keys in %s do not open with the pickle key "
				 "(pickle_key_file or pickle_key_env): give the key they were "
				 "written with, or restore the file from a backup if it is damaged",
				 path);
			return ERR_INVALID;
		}
		if (e != ERR_OK) {
			snprintf(errbuf, errlen,
				 "the %s key in %s is damaged: restore the file from a backup; "
				 "faqbot will not make a new cross-signing identity in its place "
				 "(to start over on purpose, stop the bot, move %s out of the "
				 "state_dir and reset the bot account's cross-signing keys)",
				 mx_xsign_usage((enum mx_xsign_role)r), path, MX_CRYPTO_XSIGN_FILE);
			return ERR_PARSE;
		}
	}
	return ERR_OK;
}

enum err mx_crypto_xsign_load(struct mx_crypto *c, char *errbuf, size_t errlen)
{
	char path[CRYPTO_PATH_MAX], *text = NULL;
	size_t len = 0;
	enum err e;

	mx_crypto_xsign_release(c);
	snprintf(path, sizeof(path), "%s/%s", c->dir, MX_CRYPTO_XSIGN_FILE);
	e = state_read(c->dir, MX_CRYPTO_XSIGN_FILE, &text, &len);
	if (e == ERR_NOTFOUND)
		return ERR_OK; /* none yet: mx_crypto_xsign_make */
	if (e != ERR_OK) {
		snprintf(errbuf, errlen, "cannot read %s (the cross-signing keys): %s", path,
			 e == ERR_LIMIT ? "too large to be faqbot's" : strerror(errno));
		return e == ERR_LIMIT ? ERR_PARSE : e;
	}
	c->xs = calloc(1, sizeof(*c->xs));
	e = c->xs ? mx_xsign_store_parse(text, len, &c->xs->st) : ERR_NOMEM;
	mx_crypto_wiped_free(text, len);
	if (e == ERR_PARSE)
		snprintf(errbuf, errlen,
			 "%s is not faqbot's cross-signing keys (damaged or cut short?): restore "
			 "it from a backup; faqbot will not make a new cross-signing identity in "
			 "its place (to start over on purpose, stop the bot, move %s out of the "
			 "state_dir and reset the bot account's cross-signing keys)",
			 path, MX_CRYPTO_XSIGN_FILE);
	if (e == ERR_OK)
		e = open_keys(c, path, errbuf, errlen);
	if (e == ERR_NOMEM)
		snprintf(errbuf, errlen, "out of memory");
	if (e != ERR_OK)
		mx_crypto_xsign_release(c);
	return e;
}

enum err mx_crypto_xsign_make(struct mx_crypto *c, const char *user_id, char *errbuf, size_t errlen)
{
	enum err e = ERR_OK;
	int r;

	if (c->xs) {
		snprintf(errbuf, errlen, "the cross-signing keys exist already");
		return ERR_INVALID;
	}
	if (strlen(user_id) > MX_ID_MAX) {
		snprintf(errbuf, errlen, "the user id is too long");
		return ERR_INVALID;
	}
	c->xs = calloc(1, sizeof(*c->xs));
	if (!c->xs)
		e = ERR_NOMEM;
	else
		memcpy(c->xs->st.user_id, user_id, strlen(user_id) + 1);
	for (r = 0; r < MX_XSIGN_ROLES && e == ERR_OK; r++) {
		e = mx_crypto_random(c->xs->seed[r], SEED_LEN);
		if (e == ERR_OK)
			e = public_of(c->xs->seed[r], c->xs->st.pub[r], sizeof(c->xs->st.pub[r]));
		if (e == ERR_OK)
			e = pickle_seed(c, c->xs->seed[r], &c->xs->st.pickle[r]);
	}
	if (e == ERR_OK)
		return mx_crypto_xsign_save(c, errbuf, errlen); /* on disk before any upload */
	snprintf(errbuf, errlen, "cannot make the cross-signing keys: %s", err_str(e));
	mx_crypto_xsign_release(c);
	return e;
}

const struct mx_xsign_store *mx_crypto_xsign_keys(const struct mx_crypto *c)
{
	return c && c->xs ? &c->xs->st : NULL;
}

enum err mx_crypto_xsign_mark(struct mx_crypto *c, int uploaded, const char *signed_device,
			      char *errbuf, size_t errlen)
{
	if (!c->xs)
		return ERR_INVALID;
	if (signed_device && strlen(signed_device) > MX_DEVICE_MAX)
		return ERR_INVALID;
	if (c->xs->st.uploaded == uploaded && signed_device &&
	    !strcmp(c->xs->st.signed_device, signed_device))
		return ERR_OK;
	c->xs->st.uploaded = uploaded;
	if (signed_device)
		memcpy(c->xs->st.signed_device, signed_device, strlen(signed_device) + 1);
	return mx_crypto_xsign_save(c, errbuf, errlen);
}

enum err mx_crypto_xsign_sign(struct mx_crypto *c, enum mx_xsign_role role, const char *msg,
			      size_t len, char *sig, size_t siglen)
{
	void *mem;
	OlmPkSigning *s;
	char pub[MX_KEY_MAX];
	size_t n = olm_pk_signature_length(), r;

	if (!c->xs || role >= MX_XSIGN_ROLES)
		return ERR_INVALID;
	if (n + 1 > siglen)
		return ERR_LIMIT;
	mem = malloc(olm_pk_signing_size());
	if (!mem)
		return ERR_NOMEM;
	s = olm_pk_signing(mem);
	r = olm_pk_signing_key_from_seed(s, pub, olm_pk_signing_public_key_length(),
					 c->xs->seed[role], SEED_LEN);
	if (r != olm_error())
		r = olm_pk_sign(s, (const uint8_t *)msg, len, (uint8_t *)sig, n);
	sig[r == olm_error() ? 0 : n] = '\0';
	olm_clear_pk_signing(s);
	free(mem);
	return r == olm_error() ? ERR_INVALID : ERR_OK;
}
