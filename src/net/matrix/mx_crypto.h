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
 * Receiving (mx_crypto_in.c): Olm sessions with members' devices (made
 * from their pre-key messages), the Megolm room keys they bring, kept a
 * room and session with the user who sent them and the message indices
 * each has shown (a replayed index is refused), in STATE_DIR/olm_sessions
 * (MX_CRYPTO_SESSIONS_FILE: pickled under the same key, 0600, written
 * whole), saved by mx_crypto_save before the sync that brought them is
 * acknowledged.
 *
 * Cross-signing (mx_crypto_xsign.c): the bot's master, self-signing and
 * user-signing keys, below.
 *
 * Sending (mx_crypto_out.c): an outbound Megolm session a room, in
 * STATE_DIR/megolm_out (MX_CRYPTO_OUT_FILE: pickled under the same key,
 * 0600, written whole by mx_crypto_save, which must have written it
 * after an encryption before the ciphertext goes out: a ratchet step
 * cannot be taken back), with the devices its key was given to; Olm
 * messages to members' devices, over the session used last with a
 * device or a new one from a one-time key it published.
 *
 * Not here: HTTP (matrix_keys.c, matrix_e2ee.c, matrix_e2ee_tx.c,
 * matrix_xsign.c), the JSON (mx_keys, mx_e2ee, mx_e2ee_tx, mx_xsign). */
#ifndef FAQBOT_MX_CRYPTO_H
#define FAQBOT_MX_CRYPTO_H

#include <stddef.h>

#include "err.h"
#include "mx_e2ee.h" /* struct mx_room_key, struct mx_megolm */
#include "mx_keys.h"
#include "mx_xsign.h" /* enum mx_xsign_role, struct mx_xsign_store */

#define MX_CRYPTO_FILE          "olm_account"  /* in state_dir, 0600 */
#define MX_CRYPTO_SESSIONS_FILE "olm_sessions" /* in state_dir, 0600 */
#define MX_CRYPTO_OUT_FILE      "megolm_out"   /* in state_dir, 0600 */
#define MX_CRYPTO_OLM_PER_KEY   4              /* Olm sessions kept a device (spec: >= 4) */
/* A Megolm session quiet this long keeps only the floor of its replay
 * table (mx_seen_compact): a message of it delivered again after that is
 * refused, and the sessions' file stays small */
#define MX_CRYPTO_SEEN_KEEP_MS  (3600 * 1000LL)
#define MX_CRYPTO_KEY_MIN       16 /* bytes of a pickle key */
#define MX_CRYPTO_KEY_MAX       4096

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

/* mx_crypto_load_warning: the i-th line (from 0; NULL past the last)
 * saying what mx_crypto_load set aside. The Olm account is the device's
 * identity, and damage to it stops the load; the sessions' files
 * (MX_CRYPTO_SESSIONS_FILE, MX_CRYPTO_OUT_FILE) are not: a file that is
 * not such a file, or records in it that do not open with the pickle key
 * the account opened with, are left out and the bot goes on with the
 * rest, never with a new identity. Each line names the file, the copy of
 * it kept beside it before it is first written again (NAME.damaged-SECONDS,
 * 0600: nothing is lost), what it costs and what to do. For the log, at
 * error level: the admin must hear of it. */
const char *mx_crypto_load_warning(const struct mx_crypto *c, size_t i);

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

/* ---- receiving (mx_crypto_in.c) ------------------------------------- */

/* mx_crypto_olm_decrypt decrypts a to-device Olm message from the device
 * whose curve25519 key is sender_key: type 0 (pre-key) or 1, body base64.
 * A pre-key message no kept session matches makes a new inbound session
 * (its one-time key then removed from the account). ERR_OK: *plain is
 * new, free it with mx_crypto_plain_free. ERR_NOTFOUND: no session
 * decrypts it (a message already decrypted: a batch replayed after a
 * crash; a session lost); ERR_INVALID: a pre-key message that makes no
 * session (a one-time key not the bot's, or used). why: one line, no
 * secret. What changed waits for mx_crypto_save. */
enum err mx_crypto_olm_decrypt(struct mx_crypto *c, const char *sender_key, int type,
			       const char *body, char **plain, char *why, size_t whylen);

/* mx_crypto_room_key keeps the Megolm session k carries, which owner (a
 * user) sent over Olm from the device whose keys are sender_key and
 * ed25519 (for a forwarded key, k names the device that made it). The
 * same session again keeps whichever copy knows the earlier index; a
 * session id already kept from another user or for another room is
 * refused (ERR_INVALID), as is a key libolm refuses or whose id is not
 * k's. *added (may be NULL): a session new or improved. */
enum err mx_crypto_room_key(struct mx_crypto *c, const struct mx_room_key *k, const char *owner,
			    const char *sender_key, const char *ed25519, int *added, char *why,
			    size_t whylen);

/* mx_crypto_room_decrypt decrypts an m.room.encrypted event (id event_id,
 * from sender, in room) with the session kept for it. ERR_OK: *plain new
 * (mx_crypto_plain_free). ERR_NOTFOUND: no key yet (no session, or one
 * that starts after this message's index): keep it and try again when a
 * key comes. ERR_INVALID: refused, why says which: the session is
 * another room's or was sent by another user than sender, its sender key
 * is not the event's, the index was shown before by another event (a
 * replay), or the ciphertext does not decrypt. */
enum err mx_crypto_room_decrypt(struct mx_crypto *c, const char *room, const char *sender,
				const char *event_id, const struct mx_megolm *m, char **plain,
				char *why, size_t whylen);

/* The spec's check of a room key whose Olm event carried no
 * sender_device_keys: its sending device must be one /keys/query gives
 * for its user. Asked without holding the loop: the key is kept at once,
 * marked as waiting (MX_CHECK_WAIT), and mx_crypto_room_decrypt says
 * ERR_NOTFOUND for its messages ("waits for its device's check") until
 * the answer clears it (MX_CHECK_OK) or forgets the key (MX_CHECK_REFUSED).
 * The mark is saved with the key (mx_crypto_save), so a key kept before a
 * crash is checked after the restart, never used unchecked. */
struct mx_crypto_check {
	char session_id[MX_KEY_MAX];
	char owner[MX_ID_MAX + 1];   /* the user who sent it */
	char sender_key[MX_KEY_MAX]; /* its device's curve25519 key */
	char ed25519[MX_KEY_MAX];    /* the ed25519 key that device claimed */
};
enum mx_check_state { MX_CHECK_WAIT, MX_CHECK_OK, MX_CHECK_REFUSED };

/* mx_crypto_room_check sets session_id's key's state (ERR_NOTFOUND: no
 * such key). mx_crypto_room_checking: is it waiting? mx_crypto_room_unchecked
 * fills *out with the i-th key waiting (from 0): 0 past the last. */
enum err mx_crypto_room_check(struct mx_crypto *c, const char *session_id, enum mx_check_state st);
int mx_crypto_room_checking(struct mx_crypto *c, const char *session_id);
int mx_crypto_room_unchecked(const struct mx_crypto *c, size_t i, struct mx_crypto_check *out);

/* mx_crypto_save writes what receiving changed, the sessions' file, then
 * the account (a one-time key used): the caller acknowledges the sync
 * that brought it only after ERR_OK. Nothing changed: nothing written. */
enum err mx_crypto_save(struct mx_crypto *c, char *errbuf, size_t errlen);

/* mx_crypto_counts: Olm and Megolm sessions kept. */
void mx_crypto_counts(const struct mx_crypto *c, size_t *olm, size_t *megolm);

/* ---- cross-signing (mx_crypto_xsign.c) ------------------------------ */

/* The bot's master, self-signing and user-signing keys (ed25519), made
 * once (mx_crypto_xsign_make) and kept in STATE_DIR/MX_CRYPTO_XSIGN_FILE
 * (0600, written whole): each private key encrypted under the pickle key
 * as the account is, with its public key, whose user they are and what
 * the server has taken. */
#define MX_CRYPTO_XSIGN_FILE "cross_signing"

/* mx_crypto_xsign_load reads the file, if there is one (none: no keys,
 * ERR_OK). ERR_INVALID: it does not open with the pickle key; ERR_PARSE:
 * it is damaged (errbuf names the file and says what to do: never a new
 * identity in its place); ERR_IO: it cannot be read. */
enum err mx_crypto_xsign_load(struct mx_crypto *c, char *errbuf, size_t errlen);

/* mx_crypto_xsign_make makes the three keys for user_id and saves them
 * before returning (not uploaded yet). ERR_INVALID when there are keys. */
enum err mx_crypto_xsign_make(struct mx_crypto *c, const char *user_id, char *errbuf,
			      size_t errlen);

/* mx_crypto_xsign_keys: the keys' public parts and flags (borrowed; the
 * pickles are encrypted), or NULL when there are none. */
const struct mx_xsign_store *mx_crypto_xsign_keys(const struct mx_crypto *c);

/* mx_crypto_xsign_mark notes what the server took (the keys; the
 * signature of signed_device, NULL: unchanged) and saves it. */
enum err mx_crypto_xsign_mark(struct mx_crypto *c, int uploaded, const char *signed_device,
			      char *errbuf, size_t errlen);

/* mx_crypto_xsign_sign: an mx_sign_fn's work for the key of role: the
 * unpadded base64 ed25519 signature of msg[0..len) into sig. */
enum err mx_crypto_xsign_sign(struct mx_crypto *c, enum mx_xsign_role role, const char *msg,
			      size_t len, char *sig, size_t siglen);

/* ---- sending (mx_crypto_out.c) --------------------------------------- */

/* What mx_crypto_out_begin says of room's outbound session. */
struct mx_crypto_out_info {
	char session_id[MX_KEY_MAX];
	long msgs;   /* messages encrypted with it so far */
	int fresh;   /* made now: its key was given to no one yet */
	int rotated; /* ... because the last one was used up */
};

/* mx_crypto_out_begin: room's current outbound Megolm session, a new one
 * made when it has none or the one it has encrypted max_msgs messages or
 * is max_ms old (the room's rotation settings). A new one is saved by the
 * next mx_crypto_save. ERR_INVALID without an identity. */
enum err mx_crypto_out_begin(struct mx_crypto *c, const char *room, long max_msgs, long long max_ms,
			     struct mx_crypto_out_info *info);

/* mx_crypto_out_discard forgets room's outbound session (a member left:
 * the next message goes in a new one, shared with those still there). */
void mx_crypto_out_discard(struct mx_crypto *c, const char *room);

/* mx_crypto_out_has: was room's current session given to the device whose
 * curve25519 key is curve? mx_crypto_out_note notes it was (ERR_NOTFOUND
 * when room's session is no longer session_id: rotated meanwhile). */
int mx_crypto_out_has(struct mx_crypto *c, const char *room, const char *curve);
enum err mx_crypto_out_note(struct mx_crypto *c, const char *room, const char *session_id,
			    const char *curve);

/* mx_crypto_out_shared: the curve25519 keys of the devices room's current
 * session was given to (borrowed, until the next call that changes the
 * room's session), *n of them; NULL with none. */
char *const *mx_crypto_out_shared(const struct mx_crypto *c, const char *room, size_t *n);

/* mx_crypto_out_key writes room's session key (base64, from its next
 * message on: a secret, wipe it) into key (keylen bytes; 512 are
 * enough: libolm's are 306). ERR_NOTFOUND: room's session is not session_id. */
enum err mx_crypto_out_key(struct mx_crypto *c, const char *room, const char *session_id, char *key,
			   size_t keylen);

/* mx_crypto_group_encrypt encrypts plain (a room event's JSON) with
 * room's current session: *ct new (base64; free), its session's id in
 * session_id. The ratchet has moved: mx_crypto_save before *ct goes out.
 * ERR_NOTFOUND: no session (mx_crypto_out_begin first). */
enum err mx_crypto_group_encrypt(struct mx_crypto *c, const char *room, const char *plain,
				 char **ct, char *session_id, size_t sidlen);

/* mx_crypto_olm_has: is an Olm session kept with the device whose
 * curve25519 key is curve? */
int mx_crypto_olm_has(const struct mx_crypto *c, const char *curve);

/* mx_crypto_olm_encrypt encrypts plain for the device curve over the
 * session used last with it, or with none a new one made from its
 * one-time key otk (may be NULL). *type (0 pre-key, 1 normal) and *body
 * (base64, new). ERR_NOTFOUND: no session and no one-time key;
 * ERR_INVALID: libolm refused (a bad key). Saved by mx_crypto_save. */
enum err mx_crypto_olm_encrypt(struct mx_crypto *c, const char *curve, const char *otk,
			       const char *plain, int *type, char **body);

/* mx_crypto_plain_free wipes and frees a plaintext; NULL is a no-op. */
void mx_crypto_plain_free(char *plain);

/* mx_crypto_free wipes and frees c (the account's secrets, the pickle
 * key); NULL is a no-op. */
void mx_crypto_free(struct mx_crypto *c);

#endif
