/* mx_ids.h -- Matrix ids and transaction ids: checks and small builds,
 * no I/O, no JSON.
 *
 * The shape every id from the network is held to (mx_id_valid), the
 * stricter grammar for ids the bot writes itself (mx_user_id_valid), who
 * an answer is directed to (mx_mention_resolve), and the transaction ids
 * that make every send idempotent: derived from the event answered, so a
 * retry or a restart after a crash never shows twice. */
#ifndef FAQBOT_MX_IDS_H
#define FAQBOT_MX_IDS_H

#include <stddef.h>

#include "err.h"

#define MX_ID_MAX 255 /* user, room and event ids (spec: 255) */

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
/* mx_txn_key_request: the transaction id (and request_id) of the
 * m.room_key_request for a Megolm session: one a session, so a replayed
 * batch or a second message of the session asks once. */
enum err mx_txn_key_request(const char *session_id, char *buf, size_t buflen);
/* mx_txn_notice writes "fbn-<start>-<pid>-<n>" for the n-th notice of a
 * tick, which answers no event: start (ms since the epoch when the process
 * began) and pid keep it from meeting the id of an earlier run's notice,
 * which the server would take for a retry and not post. */
enum err mx_txn_notice(long long start_ms, long pid, unsigned long n, char *buf, size_t buflen);
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
enum err mx_mention_resolve(const char *mention, const char *sender, char *buf, size_t buflen);

/* mx_server_name returns a borrowed pointer to the server part of a user
 * or room id (after the first ':'), or NULL. */
const char *mx_server_name(const char *id);

#endif
