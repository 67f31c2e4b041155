/* mx_xsign.h -- the JSON of cross-signing, no I/O: the bot's three
 * cross-signing keys (master, self-signing, user-signing) as the spec's
 * CrossSigningKey objects, the body of POST /keys/device_signing/upload
 * (with its user-interactive auth), the body of POST
 * /keys/signatures/upload that carries the self-signing key's signature of
 * the device, what the server's answers say (a 401's auth flows and
 * session; /keys/query's cross-signing keys for the bot's own user), and
 * the file the keys are kept in (mx_crypto_xsign.c pickles the private
 * parts; this module only carries the pickles).
 *
 * Like mx_keys, it holds no secret key: signing is a caller's signer
 * (mx_sign_fn), so it is unit-tested with a signer that writes what it
 * was given. Everything read from outside is capped and never trusted: a
 * wrong shape is an error or "not said", never a crash (fuzz_mx_xsign).
 *
 * Not here: the keys (mx_crypto_xsign.c), HTTP (matrix_xsign.c). */
#ifndef FAQBOT_MX_XSIGN_H
#define FAQBOT_MX_XSIGN_H

#include <stddef.h>

#include "err.h"
#include "mx_keys.h" /* mx_sign_fn, struct mx_device, MX_KEY_MAX */

#define MX_XSIGN_SESSION_MAX 256 /* a user-interactive auth session id */
#define MX_XSIGN_PICKLE_MAX  4096

/* The three keys, in the order of the spec (and of the arrays below). */
enum mx_xsign_role { MX_XSIGN_MASTER, MX_XSIGN_SELF, MX_XSIGN_USER, MX_XSIGN_ROLES };

/* mx_xsign_usage: "master", "self_signing", "user_signing". */
const char *mx_xsign_usage(enum mx_xsign_role r);

/* The public keys (unpadded base64 ed25519), all borrowed. */
struct mx_xsign_pub {
	const char *key[MX_XSIGN_ROLES];
};

/* mx_xsign_key_json: the key of role r for user, unsigned, as canonical
 * JSON (what the master key's signature on it covers): {keys:
 * {"ed25519:PUB": PUB}, usage: [USAGE], user_id}. ERR_INVALID for a user
 * id or key mx_keys_upload_json would refuse; *out new. */
enum err mx_xsign_key_json(const char *user_id, enum mx_xsign_role r, const char *pub, char **out);

/* The user-interactive auth a second request carries: m.login.password
 * for user with password, in session (all borrowed). */
struct mx_uia_password {
	const char *user_id, *password, *session;
};

/* mx_xsign_upload_json builds the body of POST
 * /keys/device_signing/upload: master_key, self_signing_key and
 * user_signing_key, the last two signed by the master key (sign_master
 * over each one's canonical JSON, under signatures[user]["ed25519:MASTER"]),
 * and auth when auth is not NULL. The body holds the password then: the
 * caller wipes it before freeing. ERR_INVALID for an id, key or signature
 * that is empty, too long or not printable ASCII; *out new. */
enum err mx_xsign_upload_json(const char *user_id, const struct mx_xsign_pub *pub,
			      mx_sign_fn sign_master, void *ctx, const struct mx_uia_password *auth,
			      char **out);

/* mx_xsign_signatures_json builds the body of POST
 * /keys/signatures/upload that adds the self-signing key's signature to
 * the device's keys: {USER: {DEVICE: device keys object (as
 * mx_keys_device_json) with signatures[USER]["ed25519:SELF"]}}, signed by
 * sign_self over the object's canonical JSON. d's own signer is not
 * used. *out new. */
enum err mx_xsign_signatures_json(const struct mx_device *d, const char *self_pub,
				  mx_sign_fn sign_self, void *ctx, char **out);

/* What a 401 from a user-interactive auth endpoint says. */
struct mx_uia {
	char session[MX_XSIGN_SESSION_MAX]; /* "" when none */
	int password;                       /* a flow is m.login.password alone */
	char stages[256];                   /* the flows' first stages, for a message */
	char errcode[64];                   /* "" for the first challenge;
	                                     * M_FORBIDDEN: the password was wrong */
};

/* mx_uia_parse reads a 401 body: ERR_PARSE when it is not JSON with a
 * "flows" array (a 401 that is no auth challenge: a refused token). */
enum err mx_uia_parse(const char *json, size_t len, struct mx_uia *out);

/* mx_xsign_sig_failed: whether the answer of POST /keys/signatures/upload
 * lists a failure for user's device (1, with its errcode and error in why,
 * printable) or is not a JSON object (1, why says so); 0: taken. */
int mx_xsign_sig_failed(const char *json, size_t len, const char *user_id, const char *device_id,
			char *why, size_t whylen);

/* What POST /keys/query says of the bot's own cross-signing. */
struct mx_xsign_server {
	char master[MX_KEY_MAX];       /* the master key it holds; "" none */
	char self_signing[MX_KEY_MAX]; /* the self-signing key; "" none */
	int device_signed;             /* the device's keys carry a signature by
	                                * "ed25519:" self_pub (when given) */
	int device_known;              /* the server holds the device's keys */
};

/* mx_xsign_query_parse reads a /keys/query answer for user's master_keys
 * and self_signing_keys (each must be user's, with the right usage and
 * exactly one ed25519 key) and device's keys; the signature is only looked
 * for (its check is the member's client's). ERR_PARSE when it is not a
 * JSON object; a missing or odd part is "" or 0. */
enum err mx_xsign_query_parse(const char *json, size_t len, const char *user_id,
			      const char *device_id, const char *self_pub,
			      struct mx_xsign_server *out);

/* The file the keys are kept in (STATE_DIR/cross_signing): whose, each
 * key's public part and pickled private part (owned), and what the server
 * has taken. */
struct mx_xsign_store {
	char user_id[MX_ID_MAX + 1];
	char pub[MX_XSIGN_ROLES][MX_KEY_MAX];
	char *pickle[MX_XSIGN_ROLES];          /* owned (mx_xsign_store_release) */
	int uploaded;                          /* the server took the three keys */
	char signed_device[MX_DEVICE_MAX + 1]; /* the device whose signature it
	                                        * took; "" none */
};

/* mx_xsign_store_json writes s (version 1); *out new. mx_xsign_store_parse
 * reads it back into *s (pickles new: mx_xsign_store_release):
 * ERR_PARSE when it is not such a file. */
enum err mx_xsign_store_json(const struct mx_xsign_store *s, char **out);
enum err mx_xsign_store_parse(const char *json, size_t len, struct mx_xsign_store *s);
void mx_xsign_store_release(struct mx_xsign_store *s);

#endif
