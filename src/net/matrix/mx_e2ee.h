/* mx_e2ee.h -- the JSON of receiving in encrypted rooms, no I/O: the
 * to-device events of a /sync (Olm-encrypted m.room.encrypted), a room's
 * m.room.encrypted content (Megolm), the Olm plaintext checked as the
 * spec's "Validation of incoming decrypted events" says and the room key
 * it carries (m.room_key, m.forwarded_room_key), the body of an
 * m.room_key_request, the message indices a Megolm session has shown
 * (replay protection), and the files the sessions and the messages
 * waiting for their key are kept in.
 *
 * Everything here reads outside input (the server's, a member's device's,
 * a state file): capped, every type checked, a wrong shape an error or a
 * skipped item, never a crash (tests/fuzz/fuzz_mx_e2ee.c). No secret is
 * logged from here: the session keys read are wiped when released.
 *
 * Not here: the decryption itself (mx_crypto, the one caller of libolm),
 * the requests (matrix_e2ee.c), the decrypted event read as a message
 * (mx_sync_decrypted in mx_json). */
#ifndef FAQBOT_MX_E2EE_H
#define FAQBOT_MX_E2EE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "mx_keys.h" /* MX_KEY_MAX, MX_DEVICE_MAX, mx_keys_signing_input */

#define MX_E2EE_TYPE_MAX    128          /* an event type */
#define MX_E2EE_CIPHERS_MAX 8            /* recipient keys read in one Olm event */
#define MX_E2EE_CIPHER_MAX  (256 * 1024) /* bytes of one ciphertext (base64) */
#define MX_E2EE_TODEV_MAX   1000         /* to-device events read from one sync */
#define MX_E2EE_SESSKEY_MAX 2048         /* a Megolm session key, base64 */
#define MX_E2EE_SEEN_MAX    128          /* message indices remembered a session */
#define MX_E2EE_PICKLE_MAX  (64 * 1024)  /* one pickled session */
#define MX_E2EE_OLM_MAX     1000         /* Olm sessions kept */
#define MX_E2EE_MEGOLM_MAX  5000         /* inbound Megolm sessions kept */
#define MX_E2EE_PENDING_MAX 256          /* messages waiting for their key */
#define MX_E2EE_STORE_MAX   (32u << 20)  /* bytes of the sessions' file */

/* ---- what /sync brings ------------------------------------------------ */

/* An Olm ciphertext for one recipient key. */
struct mx_olm_cipher {
	char key[MX_KEY_MAX]; /* the recipient's curve25519 key */
	int type;             /* 0: a pre-key message, 1: a normal one */
	char *body;           /* base64, owned */
};

/* One to-device event. Only m.room.encrypted with Olm keeps ciphers. */
struct mx_todev {
	char type[MX_E2EE_TYPE_MAX];
	char sender[MX_ID_MAX + 1];
	int olm;                     /* m.room.encrypted, m.olm.v1.curve25519-aes-sha2 */
	char sender_key[MX_KEY_MAX]; /* the sending device's curve25519 key */
	struct mx_olm_cipher c[MX_E2EE_CIPHERS_MAX];
	size_t n_c;
};

/* mx_e2ee_todev_parse reads the events of a /sync body's to_device (sync:
 * the body's top-level object, borrowed) into a new array (*out, *n; free
 * with mx_e2ee_todev_free). An event with no valid type or sender, or an
 * Olm event whose fields are wrong, is skipped and counted in *skipped;
 * past MX_E2EE_TODEV_MAX the rest too. ERR_NOMEM only. */
enum err mx_e2ee_todev_parse(const json_t *sync, struct mx_todev **out, size_t *n, size_t *skipped);
void mx_e2ee_todev_free(struct mx_todev *t, size_t n);

/* mx_e2ee_cipher_for: the ciphertext of t for the curve25519 key curve,
 * or NULL (borrowed). */
const struct mx_olm_cipher *mx_e2ee_cipher_for(const struct mx_todev *t, const char *curve);

/* A room's m.room.encrypted content, Megolm. sender_key and device_id are
 * deprecated (spec v1.3): read when present ("" when not), trusted for
 * nothing but finding the session. */
struct mx_megolm {
	char sender_key[MX_KEY_MAX];
	char session_id[MX_KEY_MAX];
	char device_id[MX_DEVICE_MAX + 1];
	char *ciphertext; /* base64, owned */
};

/* mx_e2ee_megolm_parse reads content (borrowed) into *out. ERR_INVALID
 * when it is not Megolm or a field is missing, of the wrong type or too
 * long (*out then holds nothing to release); ERR_NOMEM. */
enum err mx_e2ee_megolm_parse(const json_t *content, struct mx_megolm *out);
/* mx_e2ee_megolm_copy: a deep copy (ERR_NOMEM); release frees the text. */
enum err mx_e2ee_megolm_copy(const struct mx_megolm *from, struct mx_megolm *to);
void mx_e2ee_megolm_release(struct mx_megolm *m);

/* ---- an Olm plaintext ------------------------------------------------- */

/* A signature check: ERR_OK when sig (unpadded base64) is ed25519's
 * signature of msg[0..len) by key (mx_crypto_verify). */
typedef enum err (*mx_verify_fn)(const char *ed25519, const char *msg, size_t len, const char *sig);

/* What the decrypted Olm event must match, all borrowed. */
struct mx_olm_expect {
	const char *sender;     /* the to-device event's sender (the server says) */
	const char *sender_key; /* the curve25519 key the Olm session is with */
	const char *me;         /* the bot's user id */
	const char *my_ed25519; /* the bot's device's ed25519 key */
	mx_verify_fn verify;    /* checks sender_device_keys' signature */
};

/* A room key an Olm event carried. */
struct mx_room_key {
	int forwarded; /* m.forwarded_room_key: an export, not a session key */
	char room_id[MX_ID_MAX + 1];
	char session_id[MX_KEY_MAX];
	char session_key[MX_E2EE_SESSKEY_MAX]; /* secret: wiped by release */
	/* forwarded: the key of the device that made the session, and the
	 * ed25519 key it claimed; "" for an m.room_key */
	char sender_key[MX_KEY_MAX];
	char claimed_ed25519[MX_KEY_MAX];
};

/* The decrypted Olm event, checked. */
struct mx_olm_plain {
	char type[MX_E2EE_TYPE_MAX];
	char sender_ed25519[MX_KEY_MAX];       /* keys.ed25519 */
	char sender_device[MX_DEVICE_MAX + 1]; /* from sender_device_keys, or "" */
	int device_keys;                       /* sender_device_keys was there and checked */
	int has_key;                           /* type is m.room_key or m.forwarded_room_key,
	                                  * Megolm, and key is filled */
	struct mx_room_key key;
};

/* mx_e2ee_olm_plain reads an Olm plaintext (json[0..len)) and applies the
 * spec's checks: sender, recipient and recipient_keys.ed25519 as x says;
 * keys.ed25519 present; sender_device_keys, when present, of the sender,
 * with x->sender_key as its curve25519 key, keys.ed25519 as its ed25519
 * key, and signed by it (x->verify). ERR_INVALID when a check fails (why:
 * which, never a key); ERR_PARSE when it is not such an object; ERR_OK
 * with has_key when it carries a room key that is whole (a room id, a
 * session id, a key), else ERR_OK without. Release with
 * mx_e2ee_plain_release. */
enum err mx_e2ee_olm_plain(const char *json, size_t len, const struct mx_olm_expect *x,
			   struct mx_olm_plain *out, char *why, size_t whylen);
void mx_e2ee_plain_release(struct mx_olm_plain *p);

/* mx_e2ee_query_check reads the answer of POST /keys/query (json[0..len))
 * for a device of user whose keys are curve (curve25519) and ed
 * (ed25519), with a valid signature by ed over its device keys (verify):
 * ERR_OK with its id in device (devlen bytes), ERR_NOTFOUND when there is
 * none, ERR_PARSE when the body is not such an answer. */
enum err mx_e2ee_query_check(const char *json, size_t len, const char *user, const char *curve,
			     const char *ed, mx_verify_fn verify, char *device, size_t devlen);

/* ---- requests --------------------------------------------------------- */

/* mx_e2ee_key_request_json: the body of PUT /sendToDevice/m.room_key_request
 * asking every device of user (the one who used the session, as the spec
 * advises) for the session: {messages: {user: {"*": {action: request,
 * body: {algorithm, room_id, sender_key, session_id}, request_id,
 * requesting_device_id}}}}. sender_key may be "" (not sent). *out is new. */
enum err mx_e2ee_key_request_json(const char *user, const char *room, const char *sender_key,
				  const char *session_id, const char *request_id,
				  const char *device, char **out);

/* ---- replay protection ------------------------------------------------ */

/* The message indices a Megolm session has shown, with their event ids:
 * at most MX_E2EE_SEEN_MAX, the lowest forgotten first; an index below
 * floor (one past the highest forgotten; 0: none forgotten) is refused,
 * as one cannot tell it from a replay. All zero is an empty table. */
struct mx_seen_ent {
	uint32_t index;
	char *event; /* owned */
};
struct mx_seen {
	struct mx_seen_ent *v; /* sorted by index */
	size_t n;
	long long floor;
};

/* mx_seen_note: 0 a new index (remembered, *changed set), 1 the same
 * event again (not a replay), -1 a replay (another event at that index,
 * or below the floor); -2 out of memory. */
int mx_seen_note(struct mx_seen *s, uint32_t index, const char *event, int *changed);
void mx_seen_release(struct mx_seen *s);
/* mx_seen_compact forgets every index kept, the floor raised past the
 * highest: for a session quiet long enough that nothing of it is still on
 * its way, so the sessions' file does not carry its table for ever. 1:
 * something was forgotten. */
int mx_seen_compact(struct mx_seen *s);

/* ---- the sessions' file ----------------------------------------------- */

/* An Olm session, pickled (by libolm, under the pickle key). */
struct mx_olm_rec {
	char sender_key[MX_KEY_MAX];
	long long used_ms; /* last decrypted with (or made), wall ms */
	char *pickle;      /* owned */
};

/* An inbound Megolm session, pickled, with whom it came from. */
struct mx_grp_rec {
	char room_id[MX_ID_MAX + 1];
	char session_id[MX_KEY_MAX];
	char sender_key[MX_KEY_MAX]; /* the device that made it */
	char owner[MX_ID_MAX + 1];   /* the user whose device sent it over Olm:
	                              * its events must be theirs */
	char ed25519[MX_KEY_MAX];    /* the ed25519 key that device claimed */
	int forwarded;
	int unchecked; /* sent without its device's keys, and its device not
	                * checked by /keys/query yet: not used till it is */
	long long used_ms;
	char *pickle; /* owned */
	struct mx_seen seen;
};

struct mx_sessions {
	struct mx_olm_rec *olm;
	size_t n_olm;
	struct mx_grp_rec *grp;
	size_t n_grp;
};

/* mx_e2ee_sessions_json writes s as the file's JSON (version 1): *out is
 * new. mx_e2ee_sessions_parse reads it back (ERR_PARSE for anything that
 * is not such a file, whole: a file damaged is an error to report, never
 * a silent loss; ERR_LIMIT past the caps). Release with
 * mx_e2ee_sessions_release (pickles wiped). */
enum err mx_e2ee_sessions_json(const struct mx_sessions *s, char **out);
enum err mx_e2ee_sessions_parse(const char *json, size_t len, struct mx_sessions *s);
void mx_e2ee_sessions_release(struct mx_sessions *s);
void mx_e2ee_grp_release(struct mx_grp_rec *g);

/* ---- the messages waiting for their key ------------------------------- */

/* An encrypted message kept until its key comes (or its time is up). */
struct mx_pending {
	char room_id[MX_ID_MAX + 1];
	char event_id[MX_ID_MAX + 1];
	char sender[MX_ID_MAX + 1];
	long long ts;       /* origin_server_ts */
	long long first_ms; /* first seen, wall ms */
	int asked;          /* a key request went out */
	struct mx_megolm m;
};

/* mx_e2ee_pending_json / _parse: the waiting list's file (version 1);
 * the parse takes what is whole and counts the rest in *skipped (a list
 * of ciphertexts: losing one is better than losing all). */
enum err mx_e2ee_pending_json(const struct mx_pending *p, size_t n, char **out);
enum err mx_e2ee_pending_parse(const char *json, size_t len, struct mx_pending **out, size_t *n,
			       size_t *skipped);
void mx_e2ee_pending_free(struct mx_pending *p, size_t n);

#endif
