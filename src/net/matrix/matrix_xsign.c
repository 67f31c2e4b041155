/* matrix_xsign.c -- cross-signing at start-up (see matrix_int.h): the
 * bot's master, self-signing and user-signing keys (mx_crypto_xsign.c)
 * made at the first start, uploaded with POST /keys/device_signing/upload
 * (user-interactive auth with the account's password when the server asks
 * for it), and the device signed by the self-signing key (POST
 * /keys/signatures/upload), so that clients which exclude devices their
 * owner has not cross-signed (MSC4153, Element since April 2026) send the
 * bot room keys.
 *
 * Each start asks /keys/query what the server holds of the bot's own
 * cross-signing and sends only what it lacks: a restart uploads nothing.
 * Blocking calls, one try each: this runs before serving, and nothing of
 * it stops the bot. A server that refuses (a wrong password, keys from
 * elsewhere on the account, a token with no password) is logged with what
 * the admin can do, and the bot serves, its device not cross-signed. Only
 * a keys file that cannot be opened stops it (mx_crypto_xsign_load): a new
 * identity in its place would have to be verified again.
 *
 * Not here: the keys and signing (mx_crypto), the JSON (mx_xsign). */
#include "matrix_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mx_crypto.h"
#include "mx_keys.h"
#include "mx_xsign.h"
#include "strs.h"

#define XSIGN_UPLOAD MATRIX_API "/keys/device_signing/upload"
#define XSIGN_SIGS   MATRIX_API "/keys/signatures/upload"

/* what the admin reads when the bot cannot cross-sign */
#define XSIGN_UNSIGNED                                                                      \
	"faqbot serves encrypted rooms with its device not cross-signed: members whose "    \
	"Element excludes devices not verified by their owner (\"insecure devices\") will " \
	"not see its replies there"

struct signer {
	struct mx_crypto *c;
	enum mx_xsign_role role;
};

static enum err sign_with(void *ctx, const char *msg, size_t len, char *sig, size_t siglen)
{
	struct signer *s = ctx;

	return mx_crypto_xsign_sign(s->c, s->role, msg, len, sig, siglen);
}

/* call: one blocking try whose failure is this module's to report, not
 * the reason the bot stopped (m->errstr kept) */
static enum err call(struct matrix *m, const char *path, const char *body, int flags,
		     struct matrix_resp *r)
{
	char saved[MATRIX_ERRSTR_MAX];
	enum err e;

	memcpy(saved, m->errstr, sizeof(saved));
	e = matrix_call(m, "POST", path, body, MATRIX_CALL_ONCE | flags, r);
	memcpy(m->errstr, saved, sizeof(saved));
	return e;
}

/* query asks what the server holds of the bot's cross-signing; ERR_OK
 * with *srv filled, else not known */
static enum err query(struct matrix *m, const char *self_pub, struct mx_xsign_server *srv)
{
	struct matrix_resp r = {0};
	json_t *q = json_pack("{s:{s:[]}}", "device_keys", m->user_id);
	char *body = q ? json_dumps(q, JSON_COMPACT) : NULL;
	enum err e = body ? call(m, MATRIX_API "/keys/query", body, 0, &r) : ERR_NOMEM;

	if (e == ERR_OK)
		e = mx_xsign_query_parse(r.body ? r.body : "", r.len, m->user_id, m->device,
					 self_pub, srv);
	if (e != ERR_OK)
		log_warn("cross-signing: /keys/query did not say what the homeserver holds (%s); "
			 "going by what faqbot noted",
			 err_str(e));
	json_decref(q);
	free(body);
	matrix_resp_release(&r);
	return e;
}

/* refused logs a refusal of the keys' upload with the server's words */
static void refused(struct matrix *m, const struct matrix_resp *r, const char *what)
{
	struct mx_error me;

	mx_error_parse(r->body ? r->body : "", r->len, &me);
	log_error("cross-signing: the homeserver refused %s (HTTP %ld %s %s); %s", what, r->status,
		  me.errcode[0] ? me.errcode : "-", me.error, XSIGN_UNSIGNED);
}

/* send_keys sends the keys, with auth when given: ERR_OK taken; *asked
 * a 401 challenge (ERR_INVALID, *uia filled); anything else reported here */
static enum err send_keys(struct matrix *m, struct mx_crypto *c, const struct mx_uia_password *auth,
			  struct mx_uia *uia, int *asked)
{
	const struct mx_xsign_store *k = mx_crypto_xsign_keys(c);
	struct mx_xsign_pub pub = {{k->pub[0], k->pub[1], k->pub[2]}};
	struct signer s = {c, MX_XSIGN_MASTER};
	struct matrix_resp r = {0};
	char *body = NULL;
	enum err e;

	*asked = 0;
	e = mx_xsign_upload_json(m->user_id, &pub, sign_with, &s, auth, &body);
	if (e == ERR_OK)
		e = call(m, XSIGN_UPLOAD, body, MATRIX_CALL_UIA, &r);
	if (e == ERR_INVALID && r.status == 401 &&
	    mx_uia_parse(r.body ? r.body : "", r.len, uia) == ERR_OK)
		*asked = 1;
	else if (e == ERR_INVALID)
		refused(m, &r, "the cross-signing keys");
	else if (e != ERR_OK)
		log_error("cross-signing: the keys were not uploaded (%s); the next start tries "
			  "again; %s",
			  err_str(e), XSIGN_UNSIGNED);
	strs_wipe_free(body);
	matrix_resp_release(&r);
	return e;
}

/* upload_keys uploads the keys, answering the server's password
 * challenge when the bot has a password and may_auth (never to replace
 * keys that are not faqbot's) */
static enum err upload_keys(struct matrix *m, struct mx_crypto *c, int may_auth)
{
	struct mx_uia_password pw = {m->user_id, m->password, NULL};
	struct mx_uia uia;
	int asked;
	enum err e = send_keys(m, c, NULL, &uia, &asked);

	if (!asked || !may_auth)
		return e;
	if (!m->password) {
		log_warn("cross-signing: the bot is configured with an access token and no "
			 "password, and the homeserver asks for the account's password to take its "
			 "cross-signing keys: faqbot cannot cross-sign its device. %s. Give the "
			 "password once (password_file or password_env in [matrix]) and restart",
			 XSIGN_UNSIGNED);
		return ERR_INVALID;
	}
	if (!uia.password) {
		log_error("cross-signing: the homeserver asks for %s to take the cross-signing "
			  "keys, and faqbot can answer only m.login.password; %s",
			  uia.stages[0] ? uia.stages : "(no stage named)", XSIGN_UNSIGNED);
		return ERR_INVALID;
	}
	pw.session = uia.session;
	e = send_keys(m, c, &pw, &uia, &asked);
	if (asked) {
		log_error("cross-signing: the homeserver refused the account's password (%s): "
			  "check the password of %s in [matrix] (password_file or password_env) "
			  "and restart; %s",
			  uia.errcode[0] ? uia.errcode : "asked again", m->user_id, XSIGN_UNSIGNED);
	}
	return e;
}

/* foreign reports cross-signing keys on the account that are not faqbot's */
static void foreign(struct matrix *m, const char *master)
{
	char fp[MX_FINGERPRINT_MAX];

	if (mx_keys_fingerprint(master, fp, sizeof(fp)) != ERR_OK)
		snprintf(fp, sizeof(fp), "?");
	log_error("cross-signing: the account %s already holds cross-signing keys that are not "
		  "faqbot's (master key %s: made by another client, or by a faqbot whose "
		  "state_dir was lost), and faqbot will not replace them with the password. %s. "
		  "Either verify the bot's device from a client that holds those keys (log in as "
		  "the bot in Element and verify the session whose fingerprint faqbot keys "
		  "prints), or let faqbot replace them: reset the account's cross-signing "
		  "(Synapse: POST /_synapse/admin/v1/users/%s/"
		  "_allow_cross_signing_replacement_without_uia) and restart faqbot within its "
		  "window; it then uploads its own keys and signs its device",
		  m->user_id, fp, XSIGN_UNSIGNED, m->user_id);
}

/* sign_device uploads the self-signing key's signature of the device */
static enum err sign_device(struct matrix *m, struct mx_crypto *c)
{
	const struct mx_xsign_store *k = mx_crypto_xsign_keys(c);
	struct signer s = {c, MX_XSIGN_SELF};
	struct mx_crypto_identity id;
	struct matrix_resp r = {0};
	char err[MATRIX_ERRSTR_MAX], *body = NULL;
	struct mx_device d;
	enum err e = mx_crypto_identity(c, &id);

	d.user_id = id.user_id;
	d.device_id = id.device_id;
	d.curve25519 = id.curve25519;
	d.ed25519 = id.ed25519;
	d.sign = sign_with; /* not called: the signature is the self-signing key's */
	d.ctx = &s;
	if (e == ERR_OK)
		e = mx_xsign_signatures_json(&d, k->pub[MX_XSIGN_SELF], sign_with, &s, &body);
	if (e == ERR_OK)
		e = call(m, XSIGN_SIGS, body, 0, &r);
	if (e == ERR_OK && mx_xsign_sig_failed(r.body ? r.body : "", r.len, m->user_id,
					       id.device_id, err, sizeof(err))) {
		log_error("cross-signing: the homeserver did not take the device's signature (%s); "
			  "the next start tries again; %s",
			  err, XSIGN_UNSIGNED);
		e = ERR_INVALID;
	} else if (e == ERR_INVALID) {
		refused(m, &r, "the device's signature");
	} else if (e != ERR_OK) {
		log_error("cross-signing: the device's signature was not uploaded (%s); the next "
			  "start tries again; %s",
			  err_str(e), XSIGN_UNSIGNED);
	}
	if (e == ERR_OK && mx_crypto_xsign_mark(c, 1, id.device_id, err, sizeof(err)) != ERR_OK)
		log_error("cross-signing: %s", err);
	free(body);
	matrix_resp_release(&r);
	return e;
}

/* have_keys loads the keys, or makes them when there are none: ERR_OK
 * with keys; otherwise m->fatal when the file cannot be opened */
static enum err have_keys(struct matrix *m, struct mx_crypto *c, int *made)
{
	const struct mx_xsign_store *k;
	char err[MATRIX_ERRSTR_MAX];
	enum err e = mx_crypto_xsign_load(c, err, sizeof(err));

	*made = 0;
	if (e != ERR_OK) {
		matrix_set_err(m, "%s", err);
		m->fatal = 1;
		return e;
	}
	k = mx_crypto_xsign_keys(c);
	if (k && strcmp(k->user_id, m->user_id)) {
		matrix_set_err(m,
			       "the cross-signing keys in %s/%s are %s's, and the bot is %s: use "
			       "the state_dir of that bot, or move %s out of this one",
			       m->state_dir, MX_CRYPTO_XSIGN_FILE, k->user_id, m->user_id,
			       MX_CRYPTO_XSIGN_FILE);
		m->fatal = 1;
		return ERR_INVALID;
	}
	if (k)
		return ERR_OK;
	e = mx_crypto_xsign_make(c, m->user_id, err, sizeof(err));
	if (e != ERR_OK)
		log_error("cross-signing: %s; %s", err, XSIGN_UNSIGNED);
	*made = e == ERR_OK;
	return e;
}

enum err matrix_xsign_start(struct matrix *m)
{
	struct mx_crypto *c = matrix_keys_crypto(m);
	const struct mx_xsign_store *k;
	struct mx_xsign_server srv;
	char fp[MX_FINGERPRINT_MAX], err[MATRIX_ERRSTR_MAX];
	int made, known, sent = 0;
	enum err e;

	if (!c)
		return ERR_OK;
	e = have_keys(m, c, &made);
	if (e != ERR_OK)
		return m->fatal ? e : ERR_OK;
	k = mx_crypto_xsign_keys(c);
	known = query(m, k->pub[MX_XSIGN_SELF], &srv) == ERR_OK;
	if (known && srv.master[0] && strcmp(srv.master, k->pub[MX_XSIGN_MASTER])) {
		/* the server may let them be replaced with no password (an
		 * admin allowed it): one try, never the password */
		if (upload_keys(m, c, 0) != ERR_OK) {
			foreign(m, srv.master);
			return ERR_OK;
		}
		log_info("cross-signing: the account's earlier keys replaced by faqbot's");
		srv.device_signed = 0;
		sent = 1;
	} else if (known ? !srv.master[0] : !k->uploaded) {
		if (upload_keys(m, c, 1) != ERR_OK)
			return ERR_OK;
		sent = 1;
	}
	if (!k->uploaded && mx_crypto_xsign_mark(c, 1, NULL, err, sizeof(err)) != ERR_OK)
		log_error("cross-signing: %s", err);
	if (known ? !srv.device_signed : strcmp(k->signed_device, m->device)) {
		if (sign_device(m, c) != ERR_OK)
			return ERR_OK;
		sent = 1;
	} else if (strcmp(k->signed_device, m->device) &&
		   mx_crypto_xsign_mark(c, 1, m->device, err, sizeof(err)) != ERR_OK) {
		log_error("cross-signing: %s", err);
	}
	if (mx_keys_fingerprint(k->pub[MX_XSIGN_MASTER], fp, sizeof(fp)) != ERR_OK)
		snprintf(fp, sizeof(fp), "?");
	log_info("cross-signing: %s keys, master=%s; device %s signed by the self-signing key%s",
		 made ? "new" : "the stored", fp, m->device,
		 sent ? " (uploaded now)" : " (the homeserver has them)");
	return ERR_OK;
}

enum err matrix_xsign_master(const char *state_dir, const char *pickle_key, char *master,
			     size_t mlen, char *fp, size_t fplen, int *uploaded, char *errbuf,
			     size_t errlen)
{
	struct mx_crypto *c = NULL;
	const struct mx_xsign_store *k;
	enum err e = mx_crypto_load(state_dir, pickle_key, &c, errbuf, errlen);

	if (mlen)
		*master = '\0';
	if (fplen)
		*fp = '\0';
	if (e == ERR_NOTFOUND) /* libolm missing: not "no keys" */
		e = ERR_INVALID;
	if (e == ERR_OK)
		e = mx_crypto_xsign_load(c, errbuf, errlen);
	k = e == ERR_OK ? mx_crypto_xsign_keys(c) : NULL;
	if (e == ERR_OK && !k) {
		snprintf(errbuf, errlen,
			 "no cross-signing keys in %s/%s yet: they are made at the bot's first "
			 "start with encryption = true",
			 state_dir, MX_CRYPTO_XSIGN_FILE);
		e = ERR_NOTFOUND;
	}
	if (e == ERR_OK && (size_t)snprintf(master, mlen, "%s", k->pub[MX_XSIGN_MASTER]) >= mlen)
		e = ERR_LIMIT;
	if (e == ERR_OK)
		e = mx_keys_fingerprint(k->pub[MX_XSIGN_MASTER], fp, fplen);
	*uploaded = e == ERR_OK && k->uploaded && k->signed_device[0];
	mx_crypto_free(c);
	return e;
}
