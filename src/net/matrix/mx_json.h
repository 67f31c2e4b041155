/* mx_json.h -- the Matrix JSON that comes in, no I/O: a /sync response
 * body becomes a flat list of actions the transport acts on (invites, the
 * bot's own joins and leaves, power levels, display names, text messages);
 * error bodies become {errcode, error, retry_after_ms}; login, whoami,
 * filter, send and joined_members responses give up their one useful field.
 * Siblings: mx_repair (the raw bytes: repair, next_batch scan, loading),
 * mx_power (power level tables), mx_ids (id checks, transaction ids),
 * mx_html and mx_body (what goes out).
 *
 * Everything here takes bytes and returns bytes, so it is unit-tested with
 * hostile input and fuzzed (tests/fuzz/fuzz_mx_sync.c). Input from the
 * network is never trusted: a malformed or unexpected shape is skipped and
 * counted, never a crash, and every string kept has a length cap.
 *
 * One bad item costs that item only: every body is read through
 * mx_json_repair first (mx_repair.h), so one member's message cannot make a
 * whole /sync response unreadable. A \u0000 in a message body becomes a
 * space (the text after it is still read: a crisis there is still seen); in
 * an id, a type or any other field we compare, it makes the field unusable,
 * as a wrong type would. */
#ifndef FAQBOT_MX_JSON_H
#define FAQBOT_MX_JSON_H

#include <stddef.h>

#include "err.h"
#include "mx_e2ee.h"    /* struct mx_megolm, struct mx_todev */
#include "mx_e2ee_tx.h" /* mx_tx_device_lists, mx_tx_encryption */
#include "mx_ids.h"     /* MX_ID_MAX */
#include "mx_keys.h"    /* struct mx_key_counts */
#include "mx_power.h"   /* struct mx_power, in an action */
#include "mx_repair.h"  /* MX_NEXT_BATCH_MAX */

/* Limits on what a sync response may make us keep. Longer strings are
 * skipped (ids) or cut at a UTF-8 boundary (bodies). */
#define MX_BODY_MAX    16384 /* a message body kept for classification */
#define MX_NAME_MAX    256   /* a display name */
#define MX_ACTIONS_MAX 50000 /* actions kept from one sync response */
#define MX_ERRCODE_MAX 64
#define MX_ERRTEXT_MAX 256

enum mx_action_kind {
	MX_ACT_INVITE,  /* the bot was invited: room_id, sender = inviter */
	MX_ACT_JOINED,  /* the bot's own join showed up: room_id */
	MX_ACT_LEFT,    /* the bot left (by itself): room_id */
	MX_ACT_KICKED,  /* the bot was kicked: room_id, sender = who kicked */
	MX_ACT_BANNED,  /* the bot was banned: room_id, sender = who banned */
	MX_ACT_SUMMARY, /* a room's joined member count: room_id, members */
	MX_ACT_NAME,    /* a member's display name: room_id, sender, sender_name
	                 * (NULL: the member left or dropped the name) */
	MX_ACT_POWER,   /* the room's m.room.power_levels: room_id, power */
	MX_ACT_MESSAGE  /* an m.room.message or other timeline event */
};

/* Why a message is not to be answered. MX_IGN_NONE means answer it. */
enum mx_ignore {
	MX_IGN_NONE = 0,
	MX_IGN_OWN,       /* the bot's own event */
	MX_IGN_NOTICE,    /* m.notice: never answered automatically (spec) */
	MX_IGN_EDIT,      /* an m.replace edit */
	MX_IGN_REDACTION, /* an m.room.redaction, or a redacted message */
	MX_IGN_MSGTYPE,   /* not text: image, file, location... */
	MX_IGN_ENCRYPTED, /* m.room.encrypted: the bot cannot read it */
	MX_IGN_EMPTY      /* nothing left once the reply fallback is gone */
};

/* One action. Strings are owned by the action list (freed by
 * mx_sync_free); a field the action kind does not use is NULL. */
struct mx_action {
	enum mx_action_kind kind;
	enum mx_ignore ignore;
	char *room_id;
	char *sender;      /* message sender, inviter, kicker */
	char *sender_name; /* the sender's display name if this batch had it */
	char *event_id;
	char *msgtype;
	char *body;             /* plain text, rich-reply fallback stripped */
	char *formatted_body;   /* HTML as sent, or NULL; never trusted */
	char *thread_root;      /* the m.thread root, or NULL */
	char *reply_to;         /* m.in_reply_to event id, or NULL */
	struct mx_power *power; /* MX_ACT_POWER: the levels, owned */
	long long ts;           /* origin_server_ts, ms */
	long members;           /* MX_ACT_SUMMARY: m.joined_member_count */
	int mentions_bot;       /* m.mentions names the bot, or the body or HTML has
	                      * its user id */
	int is_direct;          /* MX_ACT_INVITE: the invite said is_direct */
	int truncated;          /* body was longer than MX_BODY_MAX and was cut */
	/* MX_IGN_ENCRYPTED from a member: the Megolm content to decrypt
	 * (owned), or NULL when it is not Megolm or not whole */
	struct mx_megolm *enc;
};

/* A room's m.room.encryption, as a batch brought it. */
struct mx_enc_state {
	char room_id[MX_ID_MAX + 1];
	int megolm;       /* its algorithm is m.megolm.v1.aes-sha2 */
	long rot_msgs;    /* rotation_period_msgs (the spec's default when absent) */
	long long rot_ms; /* rotation_period_ms (the same) */
};

struct mx_sync {
	char *next_batch;          /* owned; never NULL after a parse */
	struct mx_action *actions; /* owned array of n */
	size_t n;
	size_t cap;
	size_t skipped;  /* malformed pieces skipped */
	size_t repaired; /* strings read after a repair: lone
	                             * surrogates, \u0000 in keys or bodies, bytes
	                             * that are not UTF-8 */
	size_t gaps;     /* rooms whose timeline was "limited" */
	size_t rooms;    /* joined rooms the batch speaks of */
	/* 1: the body could not be read at all, even repaired; next_batch was
	 * found by mx_next_batch_scan and there are no actions. Whatever the
	 * batch held is lost unless the caller asks again. */
	int unreadable;
	/* what the server holds of the device's encryption keys (top-level
	 * device_one_time_keys_count, device_unused_fallback_key_types; all
	 * zero when it said nothing: mx_keys_sync_counts) */
	struct mx_key_counts keys;
	/* the to-device events (to_device.events), owned, in order; read
	 * before the rooms are acted on (a room key first, its messages
	 * after) */
	struct mx_todev *todev;
	size_t n_todev;
	/* the users whose devices changed or who share no room with the bot
	 * any more (device_lists.changed and .left; owned, mx_tx_strs_free) */
	char **dl_users;
	size_t n_dl;
	/* the rooms whose m.room.encryption the batch brought (state or
	 * timeline), in order */
	struct mx_enc_state *enc;
	size_t n_enc;
};

/* mx_sync_parse turns a /sync response body into actions, in this order:
 * leaves (left, kicked, banned), invites, then for each joined room its
 * summary, the names and power levels from its state, the bot's join if
 * present, and the timeline (names, power levels and messages) in order.
 * bot_user_id is borrowed and used to tell the bot's own events apart.
 * The body goes through mx_json_repair first. On ERR_OK *out is a new list
 * the caller frees with mx_sync_free; when the body cannot be read even so
 * but mx_next_batch_scan finds its next_batch, that is ERR_OK too, with
 * (*out)->unreadable set and no actions. Fails with ERR_PARSE when there is
 * no usable next_batch (the caller cannot advance past it), or ERR_NOMEM;
 * why goes to errbuf (may be NULL), and never any text of the body. Any
 * other oddity is skipped and counted.
 * A usable next_batch is 1 to MX_NEXT_BATCH_MAX bytes with no control
 * character (it is stored in a file and sent back in a URL). */
enum err mx_sync_parse(const char *json, size_t len, const char *bot_user_id, struct mx_sync **out,
		       char *errbuf, size_t errlen);
/* mx_sync_parse reads a body a room at a time (mx_split.h): the tree of
 * one room's value at once, never the whole body's; a body it finds odd
 * (not JSON, a room id twice) is read as one tree instead, which decides
 * about it as it always did. mx_sync_parse_tree is that one-tree reading
 * alone, for tests: the two must give the same list for any body. */
enum err mx_sync_parse_tree(const char *json, size_t len, const char *bot_user_id,
			    struct mx_sync **out, char *errbuf, size_t errlen);

/* mx_sync_free frees a list from mx_sync_parse; NULL is a no-op. */
void mx_sync_free(struct mx_sync *s);

/* mx_sync_decrypted reads a decrypted Megolm event (plain[0..len): {type,
 * content, room_id}) as the message it is, into *out, with the head
 * (event id, sender, time, name) of the encrypted event outer that
 * carried it: the same reading as any timeline message (mentions, reply
 * fallback, thread, what is not to be answered). ERR_INVALID when it is
 * not such an object or its room_id is not outer's (a message moved from
 * another room); an event type other than m.room.message is read as not
 * to be answered (MX_IGN_MSGTYPE). Release *out with mx_action_release. */
enum err mx_sync_decrypted(const char *plain, size_t len, const struct mx_action *outer,
			   const char *bot_user_id, struct mx_action *out);
/* mx_action_release frees what an action owns and zeroes it. */
void mx_action_release(struct mx_action *a);

/* mx_joined_count reads the body of GET /rooms/{id}/joined_members: the
 * number of members in its "joined" object. ERR_PARSE when there is none. */
enum err mx_joined_count(const char *json, size_t len, long *count);

/* mx_strip_reply_fallback removes the rich-reply fallback from a body in
 * place: leading lines that start with "> ", and the one blank line after
 * them. It does nothing unless such a blank line follows (so a member's
 * own quote without a blank line, or a body that is only a quote, stays). */
void mx_strip_reply_fallback(char *body);

/* An error body: {errcode, error, retry_after_ms, soft_logout}. */
struct mx_error {
	char errcode[MX_ERRCODE_MAX];
	char error[MX_ERRTEXT_MAX];
	long long retry_after_ms; /* -1 when absent */
	int soft_logout;
};

/* mx_error_parse reads an error body. ERR_PARSE when it is not a JSON
 * object with a string errcode; e is then cleared (errcode ""). Strings
 * are cut to fit and control characters replaced, so errcode and error can
 * go to a log line as they are. */
enum err mx_error_parse(const char *json, size_t len, struct mx_error *e);

/* mx_field_string reads the top-level string key of a JSON object (the
 * event_id of a send, the filter_id of a filter, the user_id of whoami)
 * into buf. ERR_PARSE if missing or not a string, ERR_LIMIT if too long,
 * ERR_INVALID if it has control characters. */
enum err mx_field_string(const char *json, size_t len, const char *key, char *buf, size_t buflen);

#endif
