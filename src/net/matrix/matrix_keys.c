/* matrix_keys.c -- the device's encryption keys on the homeserver (see
 * matrix_int.h): the identity (mx_crypto) opened at matrix_new, tied to
 * the device at start, and POST /keys/upload of what the server lacks:
 * the signed device keys once, one-time keys up to half the account's
 * maximum, a fallback key, and again whenever a /sync says the stock fell
 * below that or the fallback key was handed out.
 *
 * A failed upload never stops the bot (it serves its unencrypted rooms as
 * before, crisis replies first): it is logged and tried again after a
 * backoff, at the next sync. One try a time, not matrix_call's retry
 * loop, so a server that keeps failing this one request holds no batch
 * (a 429 still waits its Retry-After, as every request of the transport
 * does). */
#include "matrix_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backoff.h"
#include "clock.h"
#include "mx_crypto.h"
#include "mx_keys.h"

#define KEYS_RETRY_MS          5000L    /* after a failed upload: 2.5 to 5 s, doubling */
#define KEYS_RETRY_MAX_MS      3600000L /* at most */
/* A server that says the fallback key was handed out is given a new one
 * at once; once more only after it has said the new one is unused, or
 * after this long: one that says it of every key (or keeps no fallback
 * keys) gets one upload in ten minutes, not one a sync. */
#define KEYS_FALLBACK_EVERY_MS 600000L

struct matrix_keys {
	struct mx_crypto *c;
	long long retry_at;    /* a failed upload: not again before, mono ms */
	int failed;            /* uploads failed in a row */
	long long fallback_at; /* a new fallback key was last made for the
	                        * server's word, mono ms; 0: not yet */
	int fallback_seen;     /* since then, the server listed it unused */
};

/* the public identity's fields are mx_crypto's, copied */
_Static_assert(sizeof(((struct matrix_identity *)0)->user_id) >= MX_ID_MAX + 1, "user_id");
_Static_assert(sizeof(((struct matrix_identity *)0)->device_id) >= MX_DEVICE_MAX + 1, "device_id");
_Static_assert(sizeof(((struct matrix_identity *)0)->ed25519) >= MX_KEY_MAX, "ed25519");
_Static_assert(sizeof(((struct matrix_identity *)0)->fingerprint) >= MX_FINGERPRINT_MAX,
	       "fingerprint");

enum err matrix_keys_new(struct matrix *m, const struct matrix_config *cfg, char *errbuf,
			 size_t errlen)
{
	struct matrix_keys *k;
	const char *dev, *warn;
	size_t i;
	enum err e;

	if (!cfg->pickle_key)
		return ERR_OK;
	k = calloc(1, sizeof(*k));
	if (!k) {
		snprintf(errbuf, errlen, "out of memory");
		return ERR_NOMEM;
	}
	e = mx_crypto_load(cfg->state_dir, cfg->pickle_key, &k->c, errbuf, errlen);
	if (e != ERR_OK) {
		free(k);
		return e;
	}
	m->keys = k;
	/* a damaged sessions' file: the bot goes on (see mx_crypto.h) */
	for (i = 0; (warn = mx_crypto_load_warning(k->c, i)); i++)
		log_error("encryption: %s", warn);
	e = matrix_e2ee_new(m);
	if (e == ERR_OK)
		e = matrix_tx_new(m);
	if (e == ERR_OK)
		e = matrix_check_new(m);
	if (e != ERR_OK) {
		snprintf(errbuf, errlen, "out of memory");
		return e;
	}
	/* the identity belongs to a device: log in as that one */
	dev = mx_crypto_device(k->c);
	if (dev && !m->device[0])
		snprintf(m->device, sizeof(m->device), "%s", dev);
	return ERR_OK;
}

void matrix_keys_free(struct matrix *m)
{
	matrix_check_free(m);
	matrix_tx_free(m);
	matrix_e2ee_free(m);
	if (!m->keys)
		return;
	mx_crypto_free(m->keys->c);
	free(m->keys);
	m->keys = NULL;
}

/* failed notes a failed upload: the next one after a backoff */
static long long failed(struct matrix *m)
{
	struct matrix_keys *k = m->keys;
	long long ms = backoff_delay_ms(KEYS_RETRY_MS, KEYS_RETRY_MAX_MS,
					(unsigned)(k->failed < 16 ? k->failed : 16),
					backoff_rand(&m->rng) >> 32);

	k->failed++;
	k->retry_at = clock_mono_ms() + ms;
	return ms;
}

/* upload sends what mx_crypto says the server lacks (server_otk: the
 * one-time keys it holds, -1 not known; new_fallback: it handed the
 * fallback key out). */
static void upload(struct matrix *m, long server_otk, int new_fallback)
{
	struct matrix_keys *k = m->keys;
	char err[MATRIX_ERRSTR_MAX], saved[MATRIX_ERRSTR_MAX], *body = NULL;
	struct matrix_resp r = {0};
	struct mx_crypto_sent sent;
	struct mx_error me;
	long held = -1;
	enum err e;

	e = mx_crypto_upload(k->c, server_otk, new_fallback, &body, &sent, err, sizeof(err));
	if (e != ERR_OK) {
		log_error("encryption keys not uploaded: %s; trying again in %lld s", err,
			  failed(m) / 1000);
		return;
	}
	if (!body) {
		k->failed = 0;
		k->retry_at = 0;
		return;
	}
	/* one try: what it says goes to the log, not to why the bot stopped */
	memcpy(saved, m->errstr, sizeof(saved));
	e = matrix_call(m, "POST", MATRIX_API "/keys/upload", body, MATRIX_CALL_ONCE, &r);
	memcpy(m->errstr, saved, sizeof(saved));
	if (e == ERR_OK) {
		k->failed = 0;
		k->retry_at = 0;
		(void)mx_keys_upload_counts(r.body ? r.body : "", r.len, &held);
		log_info("encryption keys uploaded: device_keys=%s one_time_keys=%zu fallback=%s "
			 "server_one_time_keys=%ld",
			 sent.device_keys ? "yes" : "no", sent.otks, sent.fallback ? "yes" : "no",
			 held);
		/* not marked published when this fails: the same keys go again
		 * with the next upload, which the server takes as the same */
		if (mx_crypto_published(k->c, err, sizeof(err)) != ERR_OK)
			log_error("encryption keys: %s", err);
	} else if (!(e == ERR_IO && matrix_stopping(m, 0)) && !m->fatal) {
		mx_error_parse(r.body ? r.body : "", r.len, &me);
		log_error("the homeserver did not take the device's encryption keys (HTTP %ld %s "
			  "%s); encrypted rooms cannot reach the bot until it does; trying again "
			  "in %lld s",
			  r.status, me.errcode[0] ? me.errcode : "-", me.error, failed(m) / 1000);
	}
	free(body);
	matrix_resp_release(&r);
}

enum err matrix_keys_start(struct matrix *m)
{
	struct matrix_keys *k = m->keys;
	struct mx_crypto_identity id;
	char err[MATRIX_ERRSTR_MAX], fp[MX_FINGERPRINT_MAX];
	int made;

	if (!k)
		return ERR_OK;
	if (!m->device[0]) {
		matrix_set_err(m,
			       "the homeserver %s did not say which device the bot is logged in "
			       "as, and encryption keys belong to a device: set device_id in "
			       "[matrix]",
			       m->hs);
		m->fatal = 1;
		return ERR_INVALID;
	}
	made = !mx_crypto_device(k->c);
	if (mx_crypto_bind(k->c, m->user_id, m->device, err, sizeof(err)) != ERR_OK) {
		matrix_set_err(m, "%s", err);
		m->fatal = 1;
		return ERR_INVALID;
	}
	if (mx_crypto_identity(k->c, &id) == ERR_OK &&
	    mx_keys_fingerprint(id.ed25519, fp, sizeof(fp)) == ERR_OK)
		log_info("encryption: %s device identity, device=%s fingerprint=%s",
			 made ? "a new" : "the stored", id.device_id, fp);
	upload(m, -1, 0);
	return ERR_OK;
}

void matrix_keys_sync(struct matrix *m, const struct mx_key_counts *c)
{
	struct matrix_keys *k = m->keys;
	long long now;
	int fallback, low;

	if (!k || !mx_crypto_device(k->c))
		return;
	now = clock_mono_ms();
	if (c->fallback_unused)
		k->fallback_seen = 1;
	if (k->retry_at && now < k->retry_at)
		return;
	fallback = c->fallback_known && !c->fallback_unused &&
		   (!k->fallback_at || k->fallback_seen ||
		    now - k->fallback_at >= KEYS_FALLBACK_EVERY_MS);
	low = c->otk_known && c->otk < mx_crypto_otk_target(k->c);
	if (!fallback && !low && !k->retry_at)
		return;
	if (fallback) {
		k->fallback_at = now;
		k->fallback_seen = 0;
	}
	upload(m, c->otk_known ? c->otk : -1, fallback);
}

struct mx_crypto *matrix_keys_crypto(const struct matrix *m)
{
	return m->keys && mx_crypto_device(m->keys->c) ? m->keys->c : NULL;
}

enum err matrix_identity_read(const char *state_dir, const char *pickle_key,
			      struct matrix_identity *out, char *errbuf, size_t errlen)
{
	struct mx_crypto *c = NULL;
	struct mx_crypto_identity id;
	enum err e;

	memset(out, 0, sizeof(*out));
	e = mx_crypto_load(state_dir, pickle_key, &c, errbuf, errlen);
	if (e == ERR_NOTFOUND) /* libolm missing: not "no identity" */
		e = ERR_INVALID;
	if (e == ERR_OK && mx_crypto_identity(c, &id) != ERR_OK) {
		snprintf(errbuf, errlen,
			 "no device identity in %s/%s yet: it is made at the bot's first start "
			 "with encryption = true (faqbot run)",
			 state_dir, MX_CRYPTO_FILE);
		e = ERR_NOTFOUND;
	}
	if (e == ERR_OK) {
		memcpy(out->user_id, id.user_id, sizeof(id.user_id));
		memcpy(out->device_id, id.device_id, sizeof(id.device_id));
		memcpy(out->ed25519, id.ed25519, sizeof(id.ed25519));
		memcpy(out->curve25519, id.curve25519, sizeof(id.curve25519));
		e = mx_keys_fingerprint(id.ed25519, out->fingerprint, sizeof(out->fingerprint));
	}
	mx_crypto_free(c);
	return e;
}
