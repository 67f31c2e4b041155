/* mx_keys.h -- the JSON of the bot's end-to-end encryption keys, no I/O:
 * Matrix's canonical JSON (the bytes a signature covers, appendices
 * "Signing JSON"), the device keys and the one-time and fallback key
 * objects signed and put into the body of POST /keys/upload, the counts
 * its answer and /sync bring back, the fingerprint a moderator compares,
 * and the file the device's Olm account is kept in.
 *
 * The signing itself is the caller's (a signer function: mx_crypto's,
 * which holds the private key), so this module holds no secret, does no
 * I/O and is unit-tested with a signer that writes what it was given.
 * Everything read from outside (the server's answers, /sync, the state
 * file, any JSON to be signed or checked) is capped and never trusted:
 * a wrong shape is an error or "not said", never a crash (fuzz_mx_keys).
 *
 * Not here: the keys themselves (mx_crypto), HTTP (matrix_keys.c). */
#ifndef FAQBOT_MX_KEYS_H
#define FAQBOT_MX_KEYS_H

#include <jansson.h>
#include <stddef.h>

#include "err.h"
#include "mx_ids.h" /* MX_ID_MAX */

#define MX_KEYS_OLM        "m.olm.v1.curve25519-aes-sha2"
#define MX_KEYS_MEGOLM     "m.megolm.v1.aes-sha2"
#define MX_KEYS_OTK_ALGO   "signed_curve25519" /* one-time and fallback keys */
#define MX_KEY_MAX         128                 /* a base64 key, signature or key id */
#define MX_DEVICE_MAX      MX_ID_MAX           /* a device id */
#define MX_KEYS_LIST_MAX   1000                /* keys in one list (libolm holds 100) */
#define MX_CANON_DEPTH     64                  /* nesting canonical JSON will write */
#define MX_CANON_MAX       (1u << 20)          /* bytes of canonical JSON */
#define MX_KEYS_COUNT_MAX  1000000L            /* a key count we believe */
/* unpadded base64 of 32 bytes is 43 characters, in groups of 4 with a
 * space between: 11 groups */
#define MX_FINGERPRINT_MAX 64

/* mx_canonical_json writes the canonical JSON of the JSON text json[0..len)
 * (appendices "Canonical JSON"): no white space, object keys sorted by
 * their UTF-8 bytes (which is by code point), strings as UTF-8 with only
 * ", \ and the control characters escaped (\b \t \n \f \r, else \u00xx in
 * lower case), integers without exponent or fraction. A number with a
 * fraction, or an integer past +-(2^53 - 1), is ERR_INVALID (a real that
 * is a whole number in range, 1e10, is written as the integer); a key
 * given twice or text that is not JSON ERR_PARSE; nesting deeper than
 * MX_CANON_DEPTH or output over MX_CANON_MAX ERR_LIMIT. *out is a new
 * string the caller frees. */
enum err mx_canonical_json(const char *json, size_t len, char **out);

/* mx_keys_signing_input: what a signature on the JSON object json covers,
 * as the spec's "Checking for a Signature" computes it: the object
 * without its "signatures" and "unsigned" members, in canonical JSON.
 * ERR_PARSE when json is not an object; otherwise as mx_canonical_json. */
enum err mx_keys_signing_input(const char *json, size_t len, char **out);

/* A signer: writes the unpadded base64 ed25519 signature of msg[0..len)
 * into sig (siglen bytes, NUL-terminated). */
typedef enum err (*mx_sign_fn)(void *ctx, const char *msg, size_t len, char *sig, size_t siglen);

/* The device that signs, all borrowed: its ids, its identity keys
 * (unpadded base64) and its signer. */
struct mx_device {
	const char *user_id, *device_id;
	const char *curve25519, *ed25519;
	mx_sign_fn sign;
	void *ctx;
};

/* A curve25519 key and its key id (as libolm names them: "AAAAAQ"). */
struct mx_key {
	char id[MX_KEY_MAX];
	char key[MX_KEY_MAX];
};

/* What one /keys/upload carries, borrowed. */
struct mx_upload {
	int device_keys;           /* the device's signed identity keys */
	const struct mx_key *otks; /* one-time keys, n_otks of them */
	size_t n_otks;
	const struct mx_key *fallback; /* a fallback key, or NULL */
};

/* mx_keys_device_json: the device keys object, unsigned: user_id,
 * device_id, algorithms (Olm and Megolm), keys "curve25519:DEVICE" and
 * "ed25519:DEVICE". *out is new canonical JSON (the signing input). */
enum err mx_keys_device_json(const struct mx_device *d, char **out);

/* mx_keys_upload_json builds the body of POST /keys/upload: device_keys
 * (when u->device_keys) signed as the spec's "Signing JSON" says, each
 * one-time key as "signed_curve25519:ID": {key, signatures}, the fallback
 * key as "signed_curve25519:ID": {key, fallback: true, signatures}, each
 * signature by d->sign over the object's canonical JSON under
 * signatures[user_id]["ed25519:DEVICE"]. ERR_INVALID for an id, key or
 * signature that is empty, too long or not printable ASCII (base64 and
 * libolm's ids are); *out is new, the caller frees it. */
enum err mx_keys_upload_json(const struct mx_device *d, const struct mx_upload *u, char **out);

/* mx_keys_curve_list reads a map of key id to curve25519 key as libolm
 * writes its one-time and fallback keys, {"curve25519": {"ID": "KEY"}},
 * into a new array (*out, *n; the caller frees *out; NULL when n is 0).
 * ERR_PARSE for another shape, ERR_LIMIT past MX_KEYS_LIST_MAX keys,
 * ERR_INVALID for an id or key that mx_keys_upload_json would refuse. */
enum err mx_keys_curve_list(const char *json, size_t len, struct mx_key **out, size_t *n);

/* mx_keys_upload_counts reads the answer of POST /keys/upload: *otk, the
 * signed_curve25519 one-time keys the server holds (0 when
 * one_time_key_counts does not name the algorithm, as the spec says).
 * ERR_PARSE without a one_time_key_counts object, or with a count that is
 * not an integer from 0 to MX_KEYS_COUNT_MAX. */
enum err mx_keys_upload_counts(const char *json, size_t len, long *otk);

/* What a /sync says of the device's keys on the server. All zero: it said
 * nothing (an unreadable body, a server without end-to-end encryption). */
struct mx_key_counts {
	int otk_known;       /* otk is what the server said (or implied) */
	long otk;            /* signed_curve25519 one-time keys it holds */
	int fallback_known;  /* it listed the unused fallback key types */
	int fallback_unused; /* ... and signed_curve25519 is among them */
};

/* mx_keys_sync_counts reads device_one_time_keys_count and
 * device_unused_fallback_key_types from a /sync body's top level. The
 * spec lets a server leave out a count of 0, and the whole map when every
 * count is 0: a missing count is 0 when the map is there or the body has
 * device_unused_fallback_key_types (the field every server that speaks
 * this part of the spec sends), else not known. A count that is not an
 * integer from 0 to MX_KEYS_COUNT_MAX is not known. */
void mx_keys_sync_counts(const json_t *sync, struct mx_key_counts *out);

/* mx_keys_fingerprint writes an ed25519 key as moderators compare it with
 * what their client shows of the bot's device ("session key" in Element):
 * groups of four characters with a space between. ERR_LIMIT when buf is
 * too small (MX_FINGERPRINT_MAX is enough for a key). */
enum err mx_keys_fingerprint(const char *ed25519, char *buf, size_t len);

/* The file the device's Olm account is kept in (mx_crypto): whose device
 * it is, what the server has confirmed, and the account pickled by libolm
 * (encrypted with the pickle key; base64). */
struct mx_store {
	char user_id[MX_ID_MAX + 1];
	char device_id[MX_DEVICE_MAX + 1];
	int shared;   /* the server took the device keys */
	int fallback; /* a fallback key has been made */
	char *pickle; /* owned (mx_store_release) */
};

/* mx_keys_store_json writes s as the file's JSON (version 1); *out is new.
 * mx_keys_store_parse reads it back into *s (whose pickle is new: release
 * it with mx_store_release): ERR_PARSE when it is not such a file (not
 * JSON, another version, a field missing or of the wrong type or length).
 * Neither says anything of the pickle but that it is a non-empty string
 * of base64: whether the key opens it is libolm's to say. */
enum err mx_keys_store_json(const struct mx_store *s, char **out);
enum err mx_keys_store_parse(const char *json, size_t len, struct mx_store *s);
void mx_store_release(struct mx_store *s);

#endif
