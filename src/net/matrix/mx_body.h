/* mx_body.h -- the JSON the bot sends, no I/O: a reply (m.notice with an
 * HTML body, a rich reply relation, its thread, m.mentions, a pill for a
 * member it is directed to, a link to an earlier answer), a moderators'
 * alert (a matrix.to link, the sender and the class, never the message
 * text), a moderators' notice, a login and the sync filter.
 *
 * jansson builds the objects, so quoting JSON is never our job; the HTML
 * inside formatted_body is mx_html's. */
#ifndef FAQBOT_MX_BODY_H
#define FAQBOT_MX_BODY_H

#include <stddef.h>

#include "err.h"

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
	const char *sender_name;     /* or NULL */
	const char *kind;            /* "crisis" ... */
	const char *entry_id;        /* or NULL */
	const char *via;             /* a server name for the link, or NULL */
	const char *const *mentions; /* moderators to notify, or NULL */
	size_t n_mentions;
};

/* mx_alert_json builds an m.text alert for the moderators' room: who, what
 * class, a link to the event, and never the message text. Caller frees. */
enum err mx_alert_json(const struct mx_alert *a, char **out);

/* mx_notice_json builds an m.notice for the moderators' room from the
 * core's plain text (body as is, formatted_body escaped as in a reply),
 * mentioning no one: it is news, not an alarm. Caller frees *out. */
enum err mx_notice_json(const char *text, char **out);

/* mx_login_json builds an m.login.password request for a user id, reusing
 * device_id when not NULL. Caller frees *out. */
enum err mx_login_json(const char *user_id, const char *password, const char *device_id,
		       char **out);

/* mx_filter_json builds the sync filter: only messages, the member events
 * needed for names and kicks, m.room.power_levels (state and timeline),
 * room summaries; no presence, no ephemeral events, no account data.
 * timeline_limit caps each room's timeline. Caller frees *out. */
enum err mx_filter_json(int timeline_limit, char **out);

/* mx_filter_first_json builds the filter of a first start's one sync,
 * which answers nothing and wants only the position, the invites and each
 * room's summary (its member count): no state and no timeline event at
 * all (an empty "types" list includes none, spec: EventFilter), so the
 * body of 10,000 rooms is a few hundred bytes a room, not a group's
 * history. A room's power levels are asked when its first message comes,
 * as after any restart. Caller frees *out. */
enum err mx_filter_first_json(char **out);

#endif
