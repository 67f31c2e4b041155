/* matrix.h -- the Matrix transport: libcurl for HTTP, the pure mx_*
 * modules for the JSON (mx_json in, mx_body out), state for what must
 * survive a restart. Its parts are listed in matrix_int.h.
 *
 * One process serves many rooms with one long-polling /sync loop. For each
 * batch: act on invites (join the allowed ones, decline the rest), note the
 * bot's joins, kicks and bans and each room's power levels, hand each
 * member's text message to the handler (with the sender's power level) and
 * queue its reply (m.notice, rich reply, in the thread, with m.mentions; a
 * pill for a member it is directed to; a link to an earlier answer) and,
 * for a crisis, an alert in the moderators' room, and the core's notice
 * for them; only then save the `since` token. The queue (one a room, kept
 * on disk in state_dir/outbox until sent) sends without holding the loop:
 * a slow room holds only itself. A reply's transaction id is derived from
 * the event it answers and fixed when it is queued, so a retry or a
 * restart after a crash never shows twice. The one loop (loop.h) drives it
 * through matrix_ops, and runs the core's tick between its turns.
 *
 * With a pickle key (encryption on), the device has an identity for
 * end-to-end encryption: made at the first start, kept in state_dir, its
 * signed device keys, one-time keys and a fallback key uploaded at start
 * and topped up as /sync says the server's stock falls (matrix_keys.c,
 * over mx_crypto); its cross-signing keys made at the first start,
 * uploaded with the password and the device signed (matrix_xsign.c).
 * Encrypted rooms are read (matrix_e2ee.c: room keys from to-device
 * events, Megolm messages decrypted) and answered encrypted
 * (matrix_e2ee_tx.c: the room's key shared to its members' devices, the
 * reply encrypted and journaled before its first try).
 *
 * Not here: deciding what to answer (the core, through tr_handler_fn),
 * reading the config file (main.c). */
#ifndef FAQBOT_MATRIX_H
#define FAQBOT_MATRIX_H

#include <signal.h>
#include <stddef.h>

#include "err.h"
#include "transport.h"

/* Defaults, used where a config field is 0. */
#define MATRIX_REQUEST_TIMEOUT_MS  30000L /* any one request, long poll aside */
#define MATRIX_SYNC_TIMEOUT_MS     30000L /* how long the server may hold a sync */
#define MATRIX_BACKOFF_MAX_MS      60000L /* cap of the exponential backoff */
#define MATRIX_BACKOFF_BASE_MS     500L   /* its first step */
/* Cap of the wait when there was no connection at all: a homeserver that
 * is restarting answers again the moment it is up, and the bot should be
 * back within seconds, not after a minute of doubling. */
#define MATRIX_CONNECT_WAIT_MAX_MS 3000L
/* Times the same unreadable /sync is asked for before it is skipped: once
 * more, so a glitch on the way loses nothing, and no more, so a body that
 * is unreadable every time cannot hold the bot. */
#define MATRIX_UNREADABLE_ASKS     2
#define MATRIX_MAX_BODY            (8u << 20) /* a response body we will read */
#define MATRIX_MAX_AGE_S           86400L     /* older messages are not answered */
#define MATRIX_TIMELINE_LIMIT      50         /* events a room a sync */
#define MATRIX_ANSWERS_MAX         256        /* "event -> our reply" remembered */

/* Everything the transport needs. matrix_new copies it all, so the caller
 * may free its strings afterwards. Lists are arrays of n strings. */
struct matrix_config {
	const char *homeserver;   /* base URL; https, or http to a loopback host */
	const char *user_id;      /* the bot, "@faqbot:example.org" */
	const char *access_token; /* a token, or NULL to log in with password */
	const char *password;     /* or NULL; also used to log in again when the
	                           * server says M_UNKNOWN_TOKEN */
	const char *device_id;    /* or NULL: reuse the stored one, or a new one */
	const char *const *rooms; /* room ids or aliases to join at start */
	size_t n_rooms;
	/* Whose invites to accept: "@user:server" (that inviter), "!room:server"
	 * (that room), "server.name" or "*.server.name" (inviters from that
	 * server). Invites to rooms in `rooms` or the moderators' room and
	 * invites from moderators are always accepted; the rest are declined. */
	const char *const *allow_invites;
	size_t n_allow_invites;
	const char *const *moderators; /* user ids, mentioned in alerts */
	size_t n_moderators;
	const char *mod_room;    /* room id for alerts, or NULL: no alerts */
	const char *state_dir;   /* holds session.json (0600) and since */
	long request_timeout_ms; /* 0: MATRIX_REQUEST_TIMEOUT_MS */
	long sync_timeout_ms;    /* 0: MATRIX_SYNC_TIMEOUT_MS */
	long backoff_max_ms;     /* 0: MATRIX_BACKOFF_MAX_MS */
	size_t max_body;         /* 0: MATRIX_MAX_BODY */
	long max_age_s;          /* 0: MATRIX_MAX_AGE_S; < 0: no limit */
	int timeline_limit;      /* 0: MATRIX_TIMELINE_LIMIT */
	/* end-to-end encryption: NULL off, as before; else the key the
	 * device's Olm account is encrypted with in state_dir (from a secrets
	 * file or the environment; MX_CRYPTO_KEY_MIN bytes at least) */
	const char *pickle_key;
};

struct matrix;

/* matrix_new checks cfg (URL scheme and host, user id, credentials, state
 * directory) and makes a transport; nothing goes on the network yet. On
 * failure *out is NULL and errbuf has one line saying what is wrong. */
enum err matrix_new(const struct matrix_config *cfg, struct matrix **out, char *errbuf,
		    size_t errlen);

/* matrix_ops is the transport's ops table (transport.h); its void pointer
 * is a struct matrix. start logs in if needed, checks the token with
 * whoami, uploads the filter, reads the stored position and joins the
 * rooms: a few requests, each bounded, cut by *stop (then ERR_OK). It
 * returns an error only when the bot cannot serve: the homeserver is
 * unreachable or refuses the bot, the token is refused and no password is
 * configured, or the state directory fails; matrix_errstr says why.
 *
 * Then the loop drives everything it sends and asks: the long poll and
 * each send are exchanges in curl's multi handle, each on its own easy
 * handle, whose sockets and timeout the loop polls (want), and ready moves
 * them on without waiting. When a /sync ends, its batch is handled whole
 * in ready: each member's message to the handler, its reply, alert and
 * mod_text built with a transaction id from the event, journaled
 * (state_dir/outbox, 0600: the bot's words and ids, never the member's)
 * and queued in its room's queue; only then is `since` saved. The queue
 * sends a room's sends in order, one at a time, up to MATRIX_SENDS_MAX
 * rooms at once; each send keeps its own retry state: a 429 waits its
 * Retry-After, a 5xx or a lost connection backs off (matrix_backoff_ms),
 * a 401 waits for the one fresh login all refused exchanges share (with
 * no password, or refused again after it: TR_FAILED), any other 4xx drops
 * it with a log line. Ordinary sends beyond MATRIX_QUEUE_ROOM_MAX a room
 * (MATRIX_QUEUE_MAX in all) are dropped with a log line; a crisis reply,
 * an alert and a notice for the moderators never are. What the journal holds at a start is sent
 * first; the configured rooms are joined through the queue too (the first
 * sync of a first start waits for their first try). The handler's message
 * has sender_account the sender's user id, and sender_power its level in
 * the room's m.room.power_levels (users, else users_default), from the
 * sync or, for a room the sync has not brought them for since the start,
 * asked of the server once (one try of at most MATRIX_QUICK_TIMEOUT_MS,
 * no wait: without an answer it is unknown this time and asked again a
 * minute later at the earliest); -1 when the room has none or it is not
 * known. The
 * reply's mention is honoured when it resolves to a valid user id other
 * than the bot's (mx_mention_resolve), see_event when it is an event id (a
 * link to the bot's answer to it among the last MATRIX_ANSWERS_MAX answers
 * sent, else to it). Network faults of the sync are retried with capped
 * exponential backoff and jitter (matrix_backoff_ms): the next sync's time
 * is a deadline the loop waits on, never a sleep. ready says TR_FAILED
 * only when the token is refused and logging in again fails, or the
 * position or the outbox cannot be saved.
 * A /sync response that cannot be read, even repaired (mx_sync_parse), is
 * asked for MATRIX_UNREADABLE_ASKS times, then skipped to its next_batch
 * with a notice to the moderators' room that messages may have been
 * missed; with no next_batch in it, it is asked for again after a
 * backoff, as for a server error.
 *
 * notice queues the text for the moderators' room as an m.notice (HTML
 * escaped, a transaction id of its own, journaled and retried like every
 * send; with no moderators' room it is dropped with one log line), and
 * gives up the long poll in flight, if any (the position is not moved:
 * the next sync asks from the same point, so no message is lost or
 * handled twice), which is asked again once the notice's first try is
 * over (5 s at most). stop gives up the long poll; the sends in flight when *stop is
 * set get up to 1.2 s to finish, and what is left waits in the outbox for
 * the next start. health: the time of the last sync handled and saved. */
extern const struct transport_ops matrix_ops;

/* matrix_errstr: the last error, one line, borrowed; "" when none. */
const char *matrix_errstr(const struct matrix *m);

/* Counters since matrix_new, for tests and the bench. unreadable: /sync
 * responses skipped unread (their messages lost, the moderators told). */
struct matrix_stats {
	unsigned long syncs, batches, messages, replies, alerts, retries, skipped, joins, declined,
		notices, unreadable;
	/* encrypted messages: read, never read, refused (matrix_e2ee.c) */
	unsigned long decrypted, undecryptable, refused_enc;
};

/* How a failed request is waited for before it is tried again. */
enum matrix_fail {
	/* no HTTP answer because there was no connection, or it was cut: a
	 * refused or reset connection, a name that did not resolve, a server
	 * that closed without answering. It is down or restarting: look again
	 * soon (capped at MATRIX_CONNECT_WAIT_MAX_MS). */
	MATRIX_FAIL_CONNECT,
	/* it answered 5xx, or 429 with no wait given, or timed out, or sent
	 * what cannot be used: it is up and struggling, so leave it alone
	 * longer (capped at backoff_max_ms). */
	MATRIX_FAIL_SERVER
};

/* matrix_fail_kind sorts a failed exchange: no HTTP status (0) and a curl
 * code of a connection not made or cut is MATRIX_FAIL_CONNECT, anything
 * else MATRIX_FAIL_SERVER. curl_code is a CURLcode. */
enum matrix_fail matrix_fail_kind(long status, int curl_code);

/* matrix_backoff_ms: how long to wait before retry number attempt + 1 (0
 * is the first retry). Capped exponential with "equal jitter": d is
 * MATRIX_BACKOFF_BASE_MS doubled attempt times, at most the cap (max_ms,
 * or MATRIX_BACKOFF_MAX_MS when max_ms <= 0; for MATRIX_FAIL_CONNECT no
 * more than MATRIX_CONNECT_WAIT_MAX_MS), and the wait is d / 2 plus rnd
 * modulo d / 2 + 1: between d / 2 and d, so bots restarting together do not
 * stampede. Pure: the caller draws rnd. */
long long matrix_backoff_ms(enum matrix_fail kind, int attempt, unsigned rnd, long max_ms);
void matrix_get_stats(const struct matrix *m, struct matrix_stats *out);

/* The device's public identity, as `faqbot keys` prints it. */
struct matrix_identity {
	char user_id[256], device_id[256];
	char ed25519[128];     /* the fingerprint's key */
	char fingerprint[128]; /* the same in groups of four, as clients show it */
	char curve25519[128];
};

/* matrix_identity_read reads the device identity kept in state_dir, opened
 * with pickle_key, with no network: ERR_NOTFOUND when there is none yet
 * (it is made at the first start with encryption on), else the errors of
 * start-up (a wrong key, a damaged file, libolm missing), errbuf saying
 * which file and what to do. */
enum err matrix_identity_read(const char *state_dir, const char *pickle_key,
			      struct matrix_identity *out, char *errbuf, size_t errlen);

/* matrix_xsign_master reads the bot's cross-signing master key kept in
 * state_dir (no network): the key (unpadded base64) into master and its
 * fingerprint (groups of four) into fp; *uploaded: the homeserver took
 * the keys and the device's signature, as faqbot last heard. ERR_NOTFOUND
 * when there are none yet; otherwise as matrix_identity_read. */
enum err matrix_xsign_master(const char *state_dir, const char *pickle_key, char *master,
			     size_t mlen, char *fp, size_t fplen, int *uploaded, char *errbuf,
			     size_t errlen);

/* matrix_free frees m; NULL is a no-op. */
void matrix_free(struct matrix *m);

#endif
