/* matrix_appsvc.h -- Matrix as an Application Service: the homeserver
 * pushes the bot's events to it over HTTP (the spec's Application Service
 * API) instead of the bot long-polling /sync. One more transport on the
 * one loop (transport.h), beside matrix_ops: the same rooms, replies,
 * alerts, send queue and journal (the Matrix transport's parts, driven
 * here), only the way events come in differs.
 *
 * The homeserver's registration (written by `faqbot
 * appservice-registration`) names the bot's user (@sender_localpart:server)
 * with an exclusive namespace of that user alone, and two secrets: the
 * as_token the bot sends with every client call (Authorization: Bearer,
 * as the bot user: no user_id parameter, the spec's default), and the
 * hs_token the homeserver sends with every push, checked here.
 *
 * The listener (libmicrohttpd, loaded by mhd_dl, no thread: its one epoll
 * descriptor is polled by the loop) answers:
 *   PUT  /_matrix/app/v1/transactions/{txnId}  the events, handled in
 *        order as a /sync batch is (invites joined as the policy allows,
 *        messages answered, alerts sent); then the txn id is kept in
 *        state_dir (APPSVC_TXNS_FILE, atomic) and only then 200 {}: a
 *        retry of a transaction handled is acknowledged and not handled
 *        again; a crash before the 200 makes the homeserver send it again,
 *        and the replies' transaction ids (from the events) keep that
 *        replay from showing twice. A journal or state folder that fails:
 *        503, the homeserver retries.
 *   POST /_matrix/app/v1/ping                  200 {}
 *   GET  /_matrix/app/v1/users/{userId}        200 {} for the bot's own
 *        user, 404 M_NOT_FOUND for any other (the bot makes no users)
 *   GET  /_matrix/app/v1/rooms/{roomAlias}     404 M_NOT_FOUND (no rooms)
 * and the legacy paths without /_matrix/app/v1. A wrong or missing
 * hs_token: 403 M_FORBIDDEN, nothing handled. A body over max_body: 413.
 * An unknown path: 404 M_UNRECOGNIZED; a known one with another method:
 * 405 M_UNRECOGNIZED.
 *
 * Only rooms the bot's user is joined to are answered: the rooms joined
 * at start (GET /joined_rooms) and those whose join a transaction brings.
 * A registration's rooms namespace may make the homeserver push other
 * rooms' events; they are counted and never answered (so two processes
 * split by bot user never both answer a room).
 *
 * Not served here: encrypted rooms (the stable API pushes no to-device
 * events, so no room keys: those rooms stay with the /sync mode). */
#ifndef FAQBOT_MATRIX_APPSVC_H
#define FAQBOT_MATRIX_APPSVC_H

#include <stddef.h>

#include "err.h"
#include "matrix.h"
#include "transport.h"

#define APPSVC_LISTEN_DEFAULT "127.0.0.1:29331"
#define APPSVC_MAX_BODY       (8u << 20)        /* a transaction's body, at most */
#define APPSVC_TXNS_FILE      "appservice_txns" /* in state_dir */
/* How often the bot asks the homeserver who it is (whoami with the
 * as_token) when no transaction came: its sign of life for `faqbot
 * health`, and how a revoked as_token is noticed on a quiet server. */
#define APPSVC_CHECK_MS       30000L
#define APPSVC_CONNS_MAX      32 /* connections the listener holds at once */
#define APPSVC_CONN_TIMEOUT_S 60 /* an idle connection is closed after it */
/* Transactions received and not acknowledged yet that the bot tracks for
 * `faqbot health` (a homeserver retries one at a time, in order: a few) */
#define APPSVC_WAITING_MAX    32
/* Transactions whose answer waits for their messages (a room's facts
 * asked, matrix_ask.c); one more is answered 503 and comes again. */
#define APPSVC_WAIT_MAX       8

struct appsvc_config {
	/* the bot: user_id is @sender_localpart:server, access_token the
	 * as_token; password and pickle_key must be NULL */
	struct matrix_config matrix;
	const char *hs_token;      /* what the homeserver must send */
	const char *listen;        /* "ADDRESS:PORT", an address literal
	                            * ([::1]:PORT for IPv6); NULL:
	                            * APPSVC_LISTEN_DEFAULT; port 0: the
	                            * kernel's choice (logged) */
	const char *tls_cert_file; /* PEM; with tls_key_file, HTTPS: needed for
	                            * any address that is not loopback */
	const char *tls_key_file;  /* PEM, readable by its owner only */
	size_t max_body;           /* 0: APPSVC_MAX_BODY */
};

struct appsvc;

/* appsvc_new checks cfg (a listen address that is not loopback without
 * TLS files is refused, saying so) and makes the transport; nothing
 * listens and nothing goes on the network yet. On failure *out is NULL and
 * errbuf says what is wrong, in terms of the config's settings. */
enum err appsvc_new(const struct appsvc_config *cfg, struct appsvc **out, char *errbuf,
		    size_t errlen);

/* appsvc_ops is the ops table; its void pointer is a struct appsvc. start:
 * whoami with the as_token (the homeserver knows the registration), the
 * journal's sends queued, the configured rooms joined, the rooms joined
 * read, then the listener opened (a port in use is an error). ready runs
 * the listener (each request answered in it, a transaction handled whole
 * before its answer) and the sends. A refused as_token (401 to any call)
 * is TR_FAILED: there is no password to log in with. health: the last
 * transaction handled or whoami answered; the oldest event of the last
 * transaction, once handled; the sends waiting; the transactions received
 * and not acknowledged yet (refused with a 503, the homeserver retrying
 * them) and since when the oldest of them first came. */
extern const struct transport_ops appsvc_ops;

/* appsvc_port: the port the listener has, once started; 0 before. */
unsigned appsvc_port(const struct appsvc *a);

/* Counts since appsvc_new, for the log and tests. */
struct appsvc_stats {
	unsigned long txns;     /* transactions handled */
	unsigned long dups;     /* retries of one already handled, acknowledged */
	unsigned long refused;  /* requests refused for their hs_token */
	unsigned long bad;      /* bodies that are not a transaction (400) */
	unsigned long failed;   /* transactions not acknowledged (503) */
	unsigned long not_ours; /* messages of rooms the bot is not in */
	unsigned long events;   /* actions read from the transactions */
};
void appsvc_get_stats(const struct appsvc *a, struct appsvc_stats *out, struct matrix_stats *mout);

/* appsvc_free frees a; NULL is a no-op. */
void appsvc_free(struct appsvc *a);

#endif
