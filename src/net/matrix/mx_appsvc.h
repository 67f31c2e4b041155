/* mx_appsvc.h -- what the homeserver sends an Application Service, no I/O
 * (the spec's Application Service API, ../shared/spec/matrix/content/
 * application-service-api.md): the request's route (which endpoint, and
 * its one path parameter), the hs_token check, a transaction's body made
 * into the same actions a /sync batch gives (mx_json.h), and the ids of
 * the transactions handled, as the text kept in state_dir.
 *
 * Everything here takes bytes and returns bytes, so it is unit-tested with
 * hostile input and fuzzed (tests/fuzz/fuzz_mx_appsvc.c). The listener and
 * the transport that acts on the actions are matrix_appsvc.c's. */
#ifndef FAQBOT_MX_APPSVC_H
#define FAQBOT_MX_APPSVC_H

#include <stddef.h>

#include "err.h"
#include "mx_json.h"

/* A transaction id the bot keeps: 1 to MX_AS_TXN_ID_MAX printable ASCII
 * bytes (Synapse sends a counter). Longer or stranger ones are refused
 * (400), never cut: two ids cut alike would be taken for one. */
#define MX_AS_TXN_ID_MAX 128
/* Transaction ids remembered as handled, newest kept: a homeserver
 * retries one transaction until it is acknowledged, in order, so a retry
 * is always among the last few; 256 of at most 128 bytes stay within a
 * state file (STATE_FILE_MAX). */
#define MX_AS_TXNS_KEEP  256

/* What a request asks, by its method and path (the path decoded, without
 * the query). The legacy paths without /_matrix/app/v1 (the spec's
 * "Legacy routes") are the same endpoints. */
enum mx_as_route {
	MX_AS_UNKNOWN,  /* 404 M_UNRECOGNIZED */
	MX_AS_METHOD,   /* a known path, another method: 405 M_UNRECOGNIZED */
	MX_AS_TXN,      /* PUT transactions/{txnId} */
	MX_AS_PING,     /* POST ping */
	MX_AS_USER,     /* GET users/{userId} */
	MX_AS_ROOM,     /* GET rooms/{roomAlias} */
	MX_AS_BAD_PARAM /* a known endpoint whose parameter is not usable (a
	                   * txn id too long or with a control byte, a user id
	                   * or an alias of the wrong shape): 400 */
};

/* mx_as_route sorts a request. For MX_AS_TXN, MX_AS_USER and MX_AS_ROOM,
 * *arg (borrowed, within path) and *arg_len are the parameter. */
enum mx_as_route mx_as_route(const char *method, const char *path, const char **arg,
			     size_t *arg_len);

/* How a request's credentials compare with the hs_token. */
enum mx_as_auth {
	MX_AS_AUTH_OK,
	MX_AS_AUTH_MISSING, /* neither an Authorization: Bearer header nor an
	                     * access_token query parameter */
	MX_AS_AUTH_WRONG    /* one is given and one does not match (both given:
	                     * both must match, as the spec asks) */
};

/* mx_as_auth_check compares the Authorization header's value (or NULL)
 * and the legacy access_token query parameter (or NULL) with hs_token, in
 * time that does not depend on where they differ. */
enum mx_as_auth mx_as_auth_check(const char *authorization, const char *query_token,
				 const char *hs_token);

/* mx_as_txn_parse turns a transaction's body ({"events": [...],
 * "ephemeral": [...]}) into actions, as mx_sync_parse does a /sync's:
 * each event, in order, is what a /sync would have brought of it: the
 * bot's invite (an m.room.member with state key bot_user_id, membership
 * invite) as an invite, its leave, kick or ban as such, anything else as
 * a joined room's timeline. Ephemeral data is not read. An event that is
 * not an object with a room id is skipped and counted. ERR_PARSE (why in
 * errbuf, never text of the body) when the body is not a JSON object with
 * an "events" array; ERR_NOMEM. *out is freed with mx_sync_free; its
 * next_batch means nothing. */
enum err mx_as_txn_parse(const char *json, size_t len, const char *bot_user_id,
			 struct mx_sync **out, char *errbuf, size_t errlen);

/* mx_as_joined_rooms reads the body of GET /joined_rooms: the room ids of
 * its joined_rooms array (valid ones; others skipped) as a new sorted
 * list of *n new strings (the caller frees each and the list; NULL when
 * none). ERR_PARSE when there is no such array, ERR_NOMEM. */
enum err mx_as_joined_rooms(const char *json, size_t len, char ***out, size_t *n);

/* The transaction ids handled, a ring of the last MX_AS_TXNS_KEEP. Start
 * it zeroed; mx_as_txns_release frees it. */
struct mx_as_txns {
	char *ids[MX_AS_TXNS_KEEP];
	size_t n, next; /* ids held; where the next one goes */
};

/* mx_as_txn_id_ok: s[0..n) is a transaction id the bot keeps. */
int mx_as_txn_id_ok(const char *s, size_t n);
int mx_as_txns_has(const struct mx_as_txns *t, const char *id);
/* mx_as_txns_add remembers id (copied), forgetting the oldest when full;
 * ERR_INVALID for an id mx_as_txn_id_ok refuses, ERR_NOMEM. */
enum err mx_as_txns_add(struct mx_as_txns *t, const char *id);
/* mx_as_txns_forget_newest forgets the id added last (one that could not
 * be kept on disk: not handled, as far as a retry is concerned); the one
 * it pushed out when full stays forgotten (a retry is always among the
 * newest). */
void mx_as_txns_forget_newest(struct mx_as_txns *t);
/* mx_as_txns_load reads the kept text (one id a line, oldest first);
 * a line that is no id is skipped. ERR_NOMEM only. */
enum err mx_as_txns_load(struct mx_as_txns *t, const char *text, size_t len);
/* mx_as_txns_text: the ids as the text to keep, new (the caller frees),
 * or NULL when out of memory. */
char *mx_as_txns_text(const struct mx_as_txns *t);
void mx_as_txns_release(struct mx_as_txns *t);

#endif
