/* mx_crypto.h -- the bot's end-to-end encryption, in Matrix terms: the
 * device's identity (its curve25519 and ed25519 keys), the keys it
 * publishes (signed device keys, one-time keys, a fallback key) and the
 * file it is kept in. The only module that calls libolm (through olm_dl,
 * loaded when the first encrypted bot starts), so that moving to
 * vodozemac replaces this file and nothing else: nothing in this header
 * is libolm's.
 *
 * The identity is made once and kept: an Olm account, pickled by libolm
 * (AES-256 and HMAC-SHA-256 under keys derived from the pickle key, which
 * comes from a secrets file or the environment, never the config), in
 * STATE_DIR/olm_account (MX_CRYPTO_FILE, mode 0600, written whole: temp
 * file, fsync, rename), with the user and device it belongs to and what
 * the server has confirmed. A file that cannot be read, is not such a
 * file, or does not open with the key is an error that names it and says
 * what to do: never a new identity in its place, which moderators would
 * have to verify again and members' clients would not trust.
 *
 * Keys made for an upload are saved before the upload is built: a crash
 * after the server took them cannot make the bot forget a key the server
 * hands out to a member (it uploads the same keys again, which the server
 * takes as the same).
 *
 * Not here: HTTP (matrix_keys.c), the JSON (mx_keys), room messages (not
 * yet: issue 15's items 2 and 3). */
#ifndef FAQBOT_MX_CRYPTO_H
#define FAQBOT_MX_CRYPTO_H

#include <stddef.h>

#include "err.h"
#include "mx_keys.h"

#define MX_CRYPTO_FILE    "olm_account" /* in state_dir, 0600 */
#define MX_CRYPTO_KEY_MIN 16            /* bytes of a pickle key */
#define MX_CRYPTO_KEY_MAX 4096

struct mx_crypto;

/* mx_crypto_load loads libolm and reads STATE_DIR/MX_CRYPTO_FILE, opening
 * the account in it with pickle_key (copied: the caller wipes its own).
 * No file is no error: the identity is made by mx_crypto_bind once the
 * device is known. On failure *out is NULL and errbuf has one line:
 * ERR_NOTFOUND libolm is not installed; ERR_INVALID the key is too short
 * or is not the one the file was written with; ERR_PARSE the file is not
 * an account (corrupted, cut, another program's); ERR_IO it cannot be
 * read. Each names the file and what to do. */
enum err mx_crypto_load(const char *state_dir, const char *pickle_key, struct mx_crypto **out,
			char *errbuf, size_t errlen);

/* mx_crypto_device: the user and device the stored identity belongs to
 * (borrowed), or NULL when there is none yet. */
const char *mx_crypto_user(const struct mx_crypto *c);
const char *mx_crypto_device(const struct mx_crypto *c);

/* mx_crypto_bind ties the identity to the device the bot is logged in as:
 * with none yet, a new account is made and saved (ERR_IO when it cannot
 * be); with one, it must be this user's and this device's (ERR_INVALID,
 * errbuf saying which device it is and what the admin can do). */
enum err mx_crypto_bind(struct mx_crypto *c, const char *user_id, const char *device_id,
			char *errbuf, size_t errlen);

/* The device's public identity, for the upload, the log and `faqbot keys`. */
struct mx_crypto_identity {
	char user_id[MX_ID_MAX + 1];
	char device_id[MX_DEVICE_MAX + 1];
	char curve25519[MX_KEY_MAX];
	char ed25519[MX_KEY_MAX]; /* the fingerprint moderators compare */
};

/* mx_crypto_identity fills *out; ERR_NOTFOUND when there is no identity
 * yet (not bound). */
enum err mx_crypto_identity(const struct mx_crypto *c, struct mx_crypto_identity *out);

/* mx_crypto_upload builds the body of a POST /keys/upload that brings the
 * server up to date, or sets *body NULL when there is nothing to send:
 *   - the signed device keys, until the server has confirmed them once;
 *   - one-time keys, made so that the server holds half the account's
 *     maximum (mx_crypto_otk_target): server_otk is how many it holds, -1
 *     when not known (then none are made, but for a device whose keys the
 *     server never took: it holds none);
 *   - a new fallback key when new_fallback (the server handed the last
 *     one out) or when none was ever made;
 *   - keys made before and not confirmed (a crash, a refused upload).
 * Keys made here are saved before the body is returned (ERR_IO when the
 * file cannot be written: then nothing is to be uploaded). The caller
 * frees *body; *sent (may be NULL) says what is in it; errbuf has one
 * line on failure. */
struct mx_crypto_sent {
	int device_keys;
	size_t otks;
	int fallback;
};
enum err mx_crypto_upload(struct mx_crypto *c, long server_otk, int new_fallback, char **body,
			  struct mx_crypto_sent *sent, char *errbuf, size_t errlen);

/* mx_crypto_published: the server took the last body mx_crypto_upload
 * gave: its keys are marked published (libolm will not give them again)
 * and the device keys confirmed; saved. */
enum err mx_crypto_published(struct mx_crypto *c, char *errbuf, size_t errlen);

/* mx_crypto_otk_target: how many one-time keys the server should hold,
 * half the most the account keeps (so none the server still has is ever
 * dropped from the account to make room). 0 before mx_crypto_bind. */
long mx_crypto_otk_target(const struct mx_crypto *c);

/* mx_crypto_verify checks an ed25519 signature (unpadded base64) by key
 * over msg[0..len): ERR_OK when it is good, ERR_INVALID when it is not or
 * key or signature are not base64 of the right length; ERR_NOTFOUND when
 * libolm cannot be loaded. */
enum err mx_crypto_verify(const char *ed25519, const char *msg, size_t len, const char *sig);

/* mx_crypto_free wipes and frees c (the account's secrets, the pickle
 * key); NULL is a no-op. */
void mx_crypto_free(struct mx_crypto *c);

#endif
