/* mx_json.h -- the Matrix JSON of faqbot, and nothing else: no I/O.
 *
 * What comes in: a /sync response body becomes a flat list of actions the
 * transport acts on (invites, the bot's own joins and leaves, power
 * levels, text messages); error bodies become {errcode, error,
 * retry_after_ms}; login, whoami, filter and send responses give up their
 * one useful field; a room's m.room.power_levels content becomes a small
 * lookup table.
 * What goes out: the JSON of a reply (m.notice with an HTML body, a rich
 * reply relation, its thread, m.mentions, a pill for a member it is
 * directed to, a link to an earlier answer), of a moderators' alert (a
 * matrix.to link, the sender and the class, never the message text), of a
 * moderators' notice, of a login and of the sync filter; transaction ids;
 * user id checks; HTML and URL escaping.
 *
 * Everything here takes bytes and returns bytes, so it is unit-tested with
 * hostile input and fuzzed (tests/fuzz/fuzz_mx_sync.c). Input from the
 * network is never trusted: a malformed or unexpected shape is skipped and
 * counted, never a crash, and every string kept has a length cap.
 *
 * One bad item costs that item only. A homeserver relays what members send,
 * and some of it is valid JSON that jansson refuses (\u0000 in a key, a
 * lone surrogate escape, a number beyond 64 bits, nesting past its depth
 * limit): every body is read through mx_json_repair first, which rewrites
 * those in place, byte for byte, so one member's message cannot make a
 * whole /sync response unreadable. A \u0000 in a message body becomes a
 * space (the text after it is still read: a crisis there is still seen); in
 * an id, a type or any other field we compare, it makes the field unusable,
 * as a wrong type would. */
#ifndef FAQBOT_MX_JSON_H
#define FAQBOT_MX_JSON_H

#include <stddef.h>

#include "err.h"

/* Limits on what a sync response may make us keep. Longer strings are
 * skipped (ids) or cut at a UTF-8 boundary (bodies). */
#define MX_ID_MAX 255           /* user, room and event ids (spec: 255) */
#define MX_BODY_MAX 16384       /* a message body kept for classification */
#define MX_NAME_MAX 256         /* a display name */
#define MX_ACTIONS_MAX 50000    /* actions kept from one sync response */
#define MX_ERRCODE_MAX 64
#define MX_ERRTEXT_MAX 256
/* Per-user levels kept from one m.room.power_levels event. Rooms name a
 * handful of users; a bridged room can name thousands, and the bot keeps
 * one table a room for as long as it runs. */
#define MX_POWER_USERS_MAX 128
#define MX_NEXT_BATCH_MAX 4096 /* a since token we will store and resend */
/* Containers nested deeper than this are replaced before parsing (see
 * mx_json_repair). Nothing the bot reads is deeper than 12; jansson gives
 * up at 2048, and a 64 KB event can nest 32000 deep. */
#define MX_JSON_DEPTH_MAX 64

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

/* What the bot keeps of a room's m.room.power_levels: users_default and
 * at most MX_POWER_USERS_MAX entries of the users map (the highest levels,
 * when there are more), in one allocation. Read it with mx_power_level. */
struct mx_power;

/* One action. Strings are owned by the action list (freed by
 * mx_sync_free); a field the action kind does not use is NULL. */
struct mx_action {
	enum mx_action_kind kind;
	enum mx_ignore ignore;
	char *room_id;
	char *sender;        /* message sender, inviter, kicker */
	char *sender_name;   /* the sender's display name if this batch had it */
	char *event_id;
	char *msgtype;
	char *body;          /* plain text, rich-reply fallback stripped */
	char *formatted_body; /* HTML as sent, or NULL; never trusted */
	char *thread_root;   /* the m.thread root, or NULL */
	char *reply_to;      /* m.in_reply_to event id, or NULL */
	struct mx_power *power; /* MX_ACT_POWER: the levels, owned */
	long long ts;        /* origin_server_ts, ms */
	long members;        /* MX_ACT_SUMMARY: m.joined_member_count */
	int mentions_bot;    /* m.mentions names the bot, or the body or HTML has
	                      * its user id */
	int is_direct;       /* MX_ACT_INVITE: the invite said is_direct */
	int truncated;       /* body was longer than MX_BODY_MAX and was cut */
};

struct mx_sync {
	char *next_batch;           /* owned; never NULL after a parse */
	struct mx_action *actions;  /* owned array of n */
	size_t n;
	size_t cap;
	size_t skipped;             /* malformed pieces skipped */
	size_t repaired;            /* strings read after a repair: lone
	                             * surrogates, \u0000 in keys or bodies, bytes
	                             * that are not UTF-8 */
	size_t gaps;                /* rooms whose timeline was "limited" */
	/* 1: the body could not be read at all, even repaired; next_batch was
	 * found by mx_next_batch_scan and there are no actions. Whatever the
	 * batch held is lost unless the caller asks again. */
	int unreadable;
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
enum err mx_sync_parse(const char *json, size_t len, const char *bot_user_id,
                       struct mx_sync **out, char *errbuf, size_t errlen);
/* mx_sync_free frees a list from mx_sync_parse; NULL is a no-op. */
void mx_sync_free(struct mx_sync *s);

/* What mx_json_repair changed, by kind. */
struct mx_repair {
	size_t surrogates; /* lone surrogate escapes, now \ufffd */
	size_t key_nuls;   /* \u0000 in an object key, now \ufffd */
	size_t bad_bytes;  /* in a string: a byte that is not UTF-8, now '?', or
	                    * a raw control character, now ' ' */
	size_t numbers;    /* an integer beyond 64 bits, or a number of 1e308
	                    * or more, now null */
	size_t deep;       /* a container at depth MX_JSON_DEPTH_MAX + 1, now 0 */
};

/* mx_json_repair makes JSON text that jansson (with JSON_ALLOW_NUL) would
 * refuse for what a member wrote into text it accepts, without moving a
 * byte: every rewrite keeps the length (a value becomes "null" or "0" and
 * spaces), so offsets still match the input. It understands string escapes
 * ("\\ud800" is a backslash and text, not a surrogate) and leaves text
 * outside strings alone, so a body that is not JSON stays not JSON. A
 * valid surrogate pair is kept. Linear time, no recursion.
 * *out is NULL when nothing needed changing (read in as it is), else a new
 * buffer of len bytes and a NUL the caller frees. r (may be NULL) counts
 * the rewrites. ERR_NOMEM only. */
enum err mx_json_repair(const char *in, size_t len, char **out, struct mx_repair *r);

/* mx_next_batch_scan finds the next_batch of a /sync body that cannot be
 * parsed, by a narrow scan of the bytes: the body must open with an object;
 * strings and nesting are followed, and a key "next_batch" (escapes
 * decoded) directly in that object, followed by a string, is taken (the
 * last one, as a parser keeps the last of a duplicated key). The value is
 * decoded (a lone surrogate becomes U+FFFD) into buf. ERR_PARSE when there
 * is none or it is not usable (see mx_sync_parse), ERR_LIMIT when buf is
 * too small for it (MX_NEXT_BATCH_MAX + 1 is always enough). */
enum err mx_next_batch_scan(const char *json, size_t len, char *buf, size_t buflen);

/* mx_joined_count reads the body of GET /rooms/{id}/joined_members: the
 * number of members in its "joined" object. ERR_PARSE when there is none. */
enum err mx_joined_count(const char *json, size_t len, long *count);

/* mx_strip_reply_fallback removes the rich-reply fallback from a body in
 * place: leading lines that start with "> ", and the one blank line after
 * them. It does nothing unless such a blank line follows (so a member's
 * own quote without a blank line, or a body that is only a quote, stays). */
void mx_strip_reply_fallback(char *body);

/* mx_html_escape appends text, HTML-escaped (& < > " '), to a new string;
 * the caller frees *out. NULL text gives "". */
enum err mx_html_escape(const char *text, char **out);

/* mx_url_escape percent-encodes everything but RFC 3986 unreserved
 * characters, for a path segment or a URL fragment part. Caller frees. */
enum err mx_url_escape(const char *text, char **out);

/* mx_txn_reply and mx_txn_alert write the transaction id for the reply to,
 * and the moderators' alert about, event_id: "fb-" or "fba-" and the event
 * id with every byte outside [A-Za-z0-9_-] written as "." and two hex
 * digits. Deterministic, injective and URL-safe, so a retry or a restart
 * resends the same id. ERR_LIMIT if buf is too small (MX_TXN_MAX is
 * always enough for an id of MX_ID_MAX bytes). */
#define MX_TXN_MAX (8 + 3 * MX_ID_MAX)
enum err mx_txn_reply(const char *event_id, char *buf, size_t buflen);
enum err mx_txn_alert(const char *event_id, char *buf, size_t buflen);
/* mx_txn_mod: the same for the core's notice to the moderators that came
 * with the reply to event_id ("fbm-"). */
enum err mx_txn_mod(const char *event_id, char *buf, size_t buflen);
/* mx_txn_notice writes "fbn-<start>-<pid>-<n>" for the n-th notice of a
 * tick, which answers no event: start (ms since the epoch when the process
 * began) and pid keep it from meeting the id of an earlier run's notice,
 * which the server would take for a retry and not post. */
enum err mx_txn_notice(long long start_ms, long pid, unsigned long n, char *buf,
                       size_t buflen);
/* mx_txn_skip writes "fbs-" and 16 hex digits of a hash of since (NULL or
 * "" on a first start) for the moderators' notice that the batch asked for
 * with since was unreadable and skipped: a replay of the same skip posts it
 * once. */
enum err mx_txn_skip(const char *since, char *buf, size_t buflen);

/* mx_id_valid: sigil, then 1 to MX_ID_MAX - 1 bytes, no space or control
 * character: the shape every id from the network is held to. */
int mx_id_valid(const char *id, char sigil);

/* mx_user_id_valid: id follows the user id grammar of the spec
 * (appendices, "User Identifiers"): "@", a localpart of a-z 0-9 - . = _ /
 * +, ":", a server name (DNS name, IPv4 or [IPv6], optional :port), at
 * most MX_ID_MAX bytes. Stricter than what the bot accepts as a sender
 * (historical ids exist); this is for ids the bot writes itself. */
int mx_user_id_valid(const char *id);

/* mx_mention_resolve turns who an answer is directed to, as the asker
 * wrote it, into a user id in buf: "@alice:server" as it is, "@alice" and
 * "alice" as alice on sender's server; ASCII capitals of the localpart are
 * lowered (the spec has none, and says @USER reaches @user). Surrounding
 * blanks are dropped. ERR_INVALID when the result is not a valid user id
 * (mx_user_id_valid), ERR_LIMIT when buf is too small (MX_ID_MAX + 1 is
 * always enough). */
enum err mx_mention_resolve(const char *mention, const char *sender, char *buf,
                            size_t buflen);

/* What a reply says, all borrowed. text is plain text with blank-line
 * paragraphs; it becomes body as is and formatted_body escaped, one <p> a
 * paragraph and <br> for a single newline. */
struct mx_reply {
	const char *text;
	const char *in_reply_to; /* the event answered */
	const char *thread_root; /* or NULL */
	const char *mention;     /* the one user m.mentions names (the asker,
	                          * or the member it is directed to), or NULL */
	/* 1: the answer is directed to mention, which must then be a valid
	 * user id: body starts "<id>: ", formatted_body with a pill, a link
	 * to https://matrix.to/#/<id>, both id and link escaped. */
	int directed;
	/* A matrix.to link to an earlier message (mx_matrix_to_link), added
	 * as a last paragraph, or NULL. see_answer: it is the bot's earlier
	 * answer (else the message that answer replied to). */
	const char *see_link;
	int see_answer;
};

/* mx_reply_json builds the content of an m.notice reply; *out is a new
 * string the caller frees. ERR_INVALID for an empty text, a bad id or
 * text that is not UTF-8. */
enum err mx_reply_json(const struct mx_reply *r, char **out);

/* What a moderators' alert says, all borrowed. */
struct mx_alert {
	const char *room_id;
	const char *event_id;
	const char *sender;
	const char *sender_name; /* or NULL */
	const char *kind;        /* "crisis" ... */
	const char *entry_id;    /* or NULL */
	const char *via;         /* a server name for the link, or NULL */
	const char *const *mentions; /* moderators to notify, or NULL */
	size_t n_mentions;
};

/* mx_matrix_to_link writes https://matrix.to/#/<room>/<event>[?via=..]
 * with each part percent-encoded; the caller frees *out. */
enum err mx_matrix_to_link(const char *room_id, const char *event_id,
                           const char *via, char **out);

/* mx_alert_json builds an m.text alert for the moderators' room: who, what
 * class, a link to the event, and never the message text. Caller frees. */
enum err mx_alert_json(const struct mx_alert *a, char **out);

/* mx_notice_json builds an m.notice for the moderators' room from the
 * core's plain text (body as is, formatted_body escaped as in a reply),
 * mentioning no one: it is news, not an alarm. Caller frees *out. */
enum err mx_notice_json(const char *text, char **out);

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
enum err mx_field_string(const char *json, size_t len, const char *key,
                         char *buf, size_t buflen);

/* mx_login_json builds an m.login.password request for a user id, reusing
 * device_id when not NULL. Caller frees *out. */
enum err mx_login_json(const char *user_id, const char *password,
                       const char *device_id, char **out);

/* mx_filter_json builds the sync filter: only messages, the member events
 * needed for names and kicks, m.room.power_levels (state and timeline),
 * room summaries; no presence, no ephemeral events, no account data.
 * timeline_limit caps each room's timeline. Caller frees *out. */
enum err mx_filter_json(int timeline_limit, char **out);

/* mx_power_parse reads the content of an m.room.power_levels event (the
 * body of GET /rooms/{id}/state/m.room.power_levels) into a new table the
 * caller frees with mx_power_free. Levels may be integers or, in old
 * rooms, strings of digits; they are clamped to the range of an int.
 * Entries that are not a user id and an integer are skipped and counted in
 * *skipped (may be NULL). ERR_PARSE when the body is not a JSON object. */
enum err mx_power_parse(const char *json, size_t len, struct mx_power **out,
                        size_t *skipped);

/* mx_power_level: user's level by p: the users map, else users_default (a
 * user left out for MX_POWER_USERS_MAX gets the lower of users_default
 * and the lowest level left out, so a level is never overstated). */
int mx_power_level(const struct mx_power *p, const char *user);

/* mx_power_dup copies p (NULL on no memory); mx_power_free frees it, NULL
 * is a no-op. */
struct mx_power *mx_power_dup(const struct mx_power *p);
void mx_power_free(struct mx_power *p);

/* mx_server_name returns a borrowed pointer to the server part of a user
 * or room id (after the first ':'), or NULL. */
const char *mx_server_name(const char *id);

#endif
