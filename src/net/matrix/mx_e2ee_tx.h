/* mx_e2ee_tx.h -- the JSON of sending in encrypted rooms, no I/O: the
 * bodies of POST /keys/query and /keys/claim and their answers read (the
 * members' devices, each one's device keys checked against its own
 * signature; the one-time keys claimed, each checked against its
 * device's signature), the Olm plaintext of an m.room_key, the
 * to-device bodies (m.room.encrypted with Olm, m.room_key.withheld), the
 * Megolm plaintext of a room event and the m.room.encrypted content that
 * carries its ciphertext, a room's m.room.encryption settings, the
 * joined members' list, the device-list changes of a /sync, and the file
 * the outbound Megolm sessions are kept in.
 *
 * Everything read comes from outside (the server, members' devices, a
 * state file): capped, every type checked, a wrong item skipped and a
 * wrong shape an error, never a crash (tests/fuzz/fuzz_mx_e2ee_tx.c).
 *
 * Not here: the encryption (mx_crypto, the one caller of libolm), the
 * requests and the order they go in (matrix_e2ee_tx.c). */
#ifndef FAQBOT_MX_E2EE_TX_H
#define FAQBOT_MX_E2EE_TX_H

#include <jansson.h>
#include <stddef.h>

#include "err.h"
#include "mx_e2ee.h" /* mx_verify_fn */
#include "mx_keys.h" /* MX_KEY_MAX, MX_DEVICE_MAX */

#define MX_TX_USER_DEVICES_MAX 100   /* devices read for one user */
#define MX_TX_DEVICES_MAX      5000  /* devices read from one answer */
#define MX_TX_MEMBERS_MAX      10000 /* joined members read of a room */
#define MX_TX_CHANGED_MAX      10000 /* device-list changes read from a sync */
#define MX_TX_SHARED_MAX       20000 /* devices a session is noted shared with */
#define MX_TX_OUT_MAX          5000  /* outbound sessions kept (rooms) */
#define MX_TX_STORE_MAX        (32u << 20)
/* The spec's defaults for m.room.encryption's rotation: a week, 100
 * messages */
#define MX_TX_ROT_MS_DEFAULT   (7LL * 24 * 3600 * 1000)
#define MX_TX_ROT_MSGS_DEFAULT 100L

/* A member's device, as /keys/query gave it and its signature held. */
struct mx_tx_dev {
	char user[MX_ID_MAX + 1];
	char device[MX_DEVICE_MAX + 1];
	char curve[MX_KEY_MAX]; /* curve25519 */
	char ed[MX_KEY_MAX];    /* ed25519 */
};

/* mx_tx_query_json: {"device_keys": {USER: [] ...}, "timeout": 10000}
 * for users[0..n); *out new. */
enum err mx_tx_query_json(const char *const *users, size_t n, char **out);

/* mx_tx_query_parse reads a /keys/query answer: every device of every
 * user whose device keys are whole (user_id and device_id as the map
 * says, both Olm and Megolm among its algorithms, a curve25519 and an
 * ed25519 key) and signed by its own ed25519 key (verify); the others
 * skipped and counted in *skipped (may be NULL). *out new (free), *n
 * devices, at most MX_TX_USER_DEVICES_MAX a user and MX_TX_DEVICES_MAX
 * in all. ERR_PARSE when it is not such an answer. */
enum err mx_tx_query_parse(const char *json, size_t len, mx_verify_fn verify,
			   struct mx_tx_dev **out, size_t *n, size_t *skipped);

/* mx_tx_claim_json: {"one_time_keys": {USER: {DEVICE:
 * "signed_curve25519"}}, "timeout": 10000} for devs[0..n); *out new. */
enum err mx_tx_claim_json(const struct mx_tx_dev *devs, size_t n, char **out);

/* mx_tx_claim_parse reads a /keys/claim answer: for each devs[i], otk[i]
 * gets its signed_curve25519 key, signed by the device's ed25519 key
 * (verify), or "" when the answer has none that holds. otk is an array
 * of n keys of MX_KEY_MAX bytes. ERR_PARSE when it is not an answer. */
enum err mx_tx_claim_parse(const char *json, size_t len, mx_verify_fn verify,
			   const struct mx_tx_dev *devs, size_t n, char (*otk)[MX_KEY_MAX]);

/* The bot's device, for what it sends (borrowed). */
struct mx_tx_me {
	const char *user, *device, *curve, *ed;
};

/* mx_tx_room_key_plain: the Olm plaintext of an m.room_key for the
 * device to (sender, recipient, recipient_keys, keys as the spec's
 * "m.olm.v1.curve25519-aes-sha2" requires). *out new, a secret (wipe). */
enum err mx_tx_room_key_plain(const struct mx_tx_me *me, const struct mx_tx_dev *to,
			      const char *room, const char *session_id, const char *session_key,
			      char **out);

/* One to-device message: content is JSON text (borrowed). */
struct mx_tx_msg {
	const char *user, *device, *content;
};

/* mx_tx_olm_content: the m.room.encrypted content of an Olm message for
 * the device whose curve25519 key is to_curve; *out new. */
enum err mx_tx_olm_content(const struct mx_tx_me *me, const char *to_curve, int type,
			   const char *body, char **out);

/* mx_tx_withheld_content: an m.room_key.withheld content: code is the
 * spec's (m.no_olm, m.unavailable...), reason for a person. *out new. */
enum err mx_tx_withheld_content(const struct mx_tx_me *me, const char *room, const char *session_id,
				const char *code, const char *reason, char **out);

/* mx_tx_todev_body: {"messages": {USER: {DEVICE: CONTENT}}} of
 * msgs[0..n). ERR_PARSE when a content is not a JSON object. *out new. */
enum err mx_tx_todev_body(const struct mx_tx_msg *msgs, size_t n, char **out);

/* mx_tx_megolm_plain: what a room event's Megolm ciphertext carries:
 * {"type": type, "content": content (a JSON object's text), "room_id":
 * room}. ERR_PARSE when content is not an object. *out new. */
enum err mx_tx_megolm_plain(const char *room, const char *type, const char *content, char **out);

/* mx_tx_megolm_content: the m.room.encrypted content of a Megolm
 * ciphertext: algorithm, ciphertext, session_id, and the deprecated
 * sender_key and device_id that clients still read. The m.relates_to of
 * the plaintext's content (relates, may be NULL or "": none) goes beside
 * them in clear, as the spec says, so a thread or reply shows before it
 * is decrypted. *out new. */
enum err mx_tx_megolm_content(const struct mx_tx_me *me, const char *session_id,
			      const char *ciphertext, const char *relates, char **out);

/* mx_tx_relates: the m.relates_to object of a message content, as JSON
 * text (new), or NULL in *out when it has none. ERR_PARSE: not an
 * object. */
enum err mx_tx_relates(const char *content, char **out);

/* mx_tx_encryption: a room's m.room.encryption content (borrowed): 1
 * when it is Megolm, with its rotation (*msgs, *ms: the spec's defaults
 * when absent or not positive integers); 0 otherwise. */
int mx_tx_encryption(const json_t *content, long *msgs, long long *ms);
/* mx_tx_encryption_text: the same, of JSON text. */
int mx_tx_encryption_text(const char *json, size_t len, long *msgs, long long *ms);

/* mx_tx_joined_parse: the user ids of a GET /rooms/{room}/joined_members
 * answer (valid ids only, at most MX_TX_MEMBERS_MAX), *out a new array
 * of new strings (mx_tx_strs_free). ERR_PARSE: not such an answer. */
enum err mx_tx_joined_parse(const char *json, size_t len, char ***out, size_t *n);
void mx_tx_strs_free(char **v, size_t n);

/* mx_tx_device_lists: the users of a /sync body's device_lists.changed
 * and .left (sync: its top-level object, borrowed), valid ids only, at
 * most MX_TX_CHANGED_MAX; *out new (mx_tx_strs_free), NULL when none. */
enum err mx_tx_device_lists(const json_t *sync, char ***out, size_t *n);

/* ---- the outbound sessions' file -------------------------------------- */

/* A room's outbound Megolm session, pickled, and who has its key. */
struct mx_out_rec {
	char room_id[MX_ID_MAX + 1];
	char session_id[MX_KEY_MAX];
	long long created_ms; /* wall ms */
	long msgs;            /* messages encrypted with it */
	char *pickle;         /* owned */
	char **shared;        /* curve25519 keys of the devices given its key */
	size_t n_shared;
};

struct mx_out_set {
	struct mx_out_rec *v;
	size_t n;
};

/* mx_tx_out_json writes s as the file (version 1); *out new.
 * mx_tx_out_parse reads it back whole (ERR_PARSE for anything that is not
 * such a file, ERR_LIMIT past the caps). Release with mx_tx_out_release
 * (pickles wiped); mx_tx_out_rec_release one record. */
enum err mx_tx_out_json(const struct mx_out_set *s, char **out);
enum err mx_tx_out_parse(const char *json, size_t len, struct mx_out_set *s);
void mx_tx_out_release(struct mx_out_set *s);
void mx_tx_out_rec_release(struct mx_out_rec *r);

#endif
