/* mx_json.h -- the Matrix JSON of faqbot, and nothing else: no I/O.
 *
 * What comes in: a /sync response body becomes a flat list of actions the
 * transport acts on (invites, the bot's own joins and leaves, text
 * messages); error bodies become {errcode, error, retry_after_ms}; login,
 * whoami, filter and send responses give up their one useful field.
 * What goes out: the JSON of a reply (m.notice with an HTML body, a rich
 * reply relation, its thread, m.mentions), of a moderators' alert (a
 * matrix.to link, the sender and the class, never the message text), of a
 * login and of the sync filter; transaction ids derived from event ids;
 * HTML and URL escaping.
 *
 * Everything here takes bytes and returns bytes, so it is unit-tested with
 * hostile input and fuzzed (tests/fuzz/fuzz_mx_sync.c). Input from the
 * network is never trusted: a malformed or unexpected shape is skipped and
 * counted, never a crash, and every string kept has a length cap. */
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

enum mx_action_kind {
	MX_ACT_INVITE,  /* the bot was invited: room_id, sender = inviter */
	MX_ACT_JOINED,  /* the bot's own join showed up: room_id */
	MX_ACT_LEFT,    /* the bot left (by itself): room_id */
	MX_ACT_KICKED,  /* the bot was kicked: room_id, sender = who kicked */
	MX_ACT_BANNED,  /* the bot was banned: room_id, sender = who banned */
	MX_ACT_SUMMARY, /* a room's joined member count: room_id, members */
	MX_ACT_NAME,    /* a member's display name: room_id, sender, sender_name
	                 * (NULL: the member left or dropped the name) */
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
	char *sender;        /* message sender, inviter, kicker */
	char *sender_name;   /* the sender's display name if this batch had it */
	char *event_id;
	char *msgtype;
	char *body;          /* plain text, rich-reply fallback stripped */
	char *formatted_body; /* HTML as sent, or NULL; never trusted */
	char *thread_root;   /* the m.thread root, or NULL */
	char *reply_to;      /* m.in_reply_to event id, or NULL */
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
	size_t gaps;                /* rooms whose timeline was "limited" */
};

/* mx_sync_parse turns a /sync response body into actions, in this order:
 * leaves (left, kicked, banned), invites, then for each joined room its
 * summary, the names from its state, the bot's join if present, and the
 * timeline (names and messages) in order.
 * bot_user_id is borrowed and used to tell the bot's own events apart.
 * On ERR_OK *out is a new list the caller frees with mx_sync_free. Fails
 * with ERR_PARSE when the body is not JSON or has no next_batch string (so
 * the caller cannot advance past it), ERR_NOMEM, or ERR_LIMIT; why goes to
 * errbuf (may be NULL). Any other oddity is skipped and counted. */
enum err mx_sync_parse(const char *json, size_t len, const char *bot_user_id,
                       struct mx_sync **out, char *errbuf, size_t errlen);
/* mx_sync_free frees a list from mx_sync_parse; NULL is a no-op. */
void mx_sync_free(struct mx_sync *s);

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

/* What a reply says, all borrowed. text is plain text with blank-line
 * paragraphs; it becomes body as is and formatted_body escaped, one <p> a
 * paragraph and <br> for a single newline. */
struct mx_reply {
	const char *text;
	const char *in_reply_to; /* the event answered */
	const char *thread_root; /* or NULL */
	const char *mention;     /* the asker's user id, or NULL */
};

/* mx_reply_json builds the content of an m.notice reply; *out is a new
 * string the caller frees. */
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
 * needed for names and kicks, room summaries; no presence, no ephemeral
 * events, no account data. timeline_limit caps each room's timeline.
 * Caller frees *out. */
enum err mx_filter_json(int timeline_limit, char **out);

/* mx_server_name returns a borrowed pointer to the server part of a user
 * or room id (after the first ':'), or NULL. */
const char *mx_server_name(const char *id);

#endif
