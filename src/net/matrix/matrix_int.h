/* matrix_int.h -- the inside of the Matrix transport, shared by its parts
 * and by no one else (matrix.h is the contract):
 *   matrix.c          config, new and free, start-up and the loop's ops
 *   matrix_http.c     one HTTP exchange, the retry policy, the waits
 *   matrix_session.c  login, the stored session, whoami
 *   matrix_rooms.c    the room cache, names, power levels, invites, joins,
 *                     earlier answers
 *   matrix_reply.c    a member's message to the core and its reply, alert
 *                     and notice out; the loop's notices
 *   matrix_sync.c     one /sync: ask, read, act on the batch, save since
 *   matrix_keys.c     the device's encryption keys (mx_crypto) uploaded
 *                     and topped up
 * All of them work on one struct matrix (one thread, one curl handle), so
 * the functions here take it whole; each file's statics stay its own.
 * Exported names start with matrix_ like the public ones; nothing here is
 * in matrix.h, so tests and callers cannot lean on it. */
#ifndef FAQBOT_MATRIX_INT_H
#define FAQBOT_MATRIX_INT_H

#include <signal.h>
#include <stddef.h>

#include "curl_dl.h" /* libcurl, loaded at first use */
#include "err.h"
#include "log.h"
#include "matrix.h"
#include "mx_json.h"
#include "transport.h"

#define MATRIX_API "/_matrix/client/v3"
#define MATRIX_URL_MAX 4096
#define MATRIX_TOKEN_MAX 1024
#define MATRIX_ERRSTR_MAX 512
#define MATRIX_RETRY_AFTER_MAX_MS 600000L /* we wait at most 10 min a 429 */
#define MATRIX_STOP_GRACE_MS 1200L        /* a reply in flight after a stop */
#define MATRIX_POLL_MS 50                 /* how often a wait looks at stop */
#define MATRIX_NAMES_MAX 1024             /* display names remembered */
#define MATRIX_SESSION_FILE "session.json"
#define MATRIX_SINCE_FILE "since"

/* What we know of a room: its member count (from sync summaries, or asked
 * once), whether an invite said it was direct, and its power levels (from
 * the sync, or asked once). */
struct matrix_room {
	char *id;
	long members; /* -1: not known yet */
	int direct;
	int power_asked;        /* the server was asked for them */
	struct mx_power *power; /* NULL: not known */
};

/* An event the bot answered and the id of its reply, for a later "see the
 * answer above" link. A ring: the oldest goes first. */
struct matrix_answer {
	char *event, *reply;
};

/* A display name seen in a room, kept for later batches (lazy loading
 * sends a member's name once). A ring: the oldest goes first. */
struct matrix_name {
	char *room, *user, *name;
};

/* One HTTP exchange. */
struct matrix_resp {
	long status; /* 0: no HTTP answer (network, timeout, stop) */
	char *body;
	size_t len, cap, max;
	int over;                 /* the body went over max */
	int stopped;              /* cut short by *stop */
	long long retry_after_ms; /* from the Retry-After header; -1: none */
	CURLcode cc;
};

struct matrix {
	/* config, owned copies */
	char *hs, *user_id, *password, *mod_room, *state_dir, *localpart;
	char **rooms, **allow, **mods;
	size_t n_rooms, n_allow, n_mods;
	long req_timeout, sync_timeout, backoff_max, max_age_s;
	size_t max_body;
	int timeline_limit;

	/* session */
	char token[MATRIX_TOKEN_MAX];
	char device[MATRIX_TOKEN_MAX];
	char filter_id[256]; /* "": the server took none, syncs carry it */
	char *since;
	int unreadable_asks; /* times the batch at since came unreadable */

	struct matrix_room *known;
	size_t n_known, cap_known;
	struct matrix_name names[MATRIX_NAMES_MAX];
	size_t names_next;
	struct matrix_answer answers[MATRIX_ANSWERS_MAX];
	size_t answers_next;

	/* the loop's (matrix_ops) */
	tr_handler_fn fn;       /* each member's message, with ctx */
	void *ctx;
	long long sync_at;      /* the next sync may start then, mono ms */
	int sync_attempt;       /* syncs failed in a row, for the backoff */
	int call_attempt;       /* the sync request's retries (matrix_call's) */
	int call_relogins;      /* and its fresh logins */
	int syncing;            /* the sync's exchange is in the multi handle */
	struct matrix_resp *sync_r; /* its response, while it runs */
	long long alive_ms;     /* the last sync handled and saved, mono ms */
	unsigned long notice_n; /* notices posted or tried, for their txn ids */
	long long start_ms;     /* wall clock at matrix_new, for those ids too */

	CURLM *multi;
	CURL *easy;
	struct curl_slist *hdrs; /* the exchange's headers, while it runs */
	int in_flight;           /* the easy handle is in the multi handle */
	volatile sig_atomic_t *stop;
	long long stop_at;   /* when we first saw *stop, ms; 0: not yet */
	int fatal;           /* set when running cannot go on */
	int relogged;        /* a fresh login happened during this call */
	long long health_at; /* when the health mark was last written, ms */
	int health_warned;   /* its failure is logged once, not every sync */
	unsigned long long rng; /* backoff_rand's state */
	struct matrix_keys *keys; /* encryption's keys; NULL: encryption off */
	struct matrix_stats stats;
	char errstr[MATRIX_ERRSTR_MAX];
};

/* ---- matrix_http.c ---------------------------------------------------- */

enum matrix_call_flags {
	MATRIX_CALL_LONG_POLL = 1, /* a stop cuts it at once */
	MATRIX_CALL_NO_AUTH = 2,   /* login: no token, no re-login */
	MATRIX_CALL_ONCE = 4,      /* start-up checks: report, do not retry */
	MATRIX_CALL_SYNC = 8       /* a body over max_body is returned
	                            * (ERR_LIMIT), not retried: asking again
	                            * would bring it again */
};

/* matrix_set_err writes m->errstr, the one line matrix_errstr gives. */
void matrix_set_err(struct matrix *m, const char *fmt, ...) LOG_PRINTF(2, 3);

/* matrix_stopping says whether a wait or transfer must end now: at once
 * for a long poll, after MATRIX_STOP_GRACE_MS for anything else. */
int matrix_stopping(struct matrix *m, int long_poll);

/* matrix_nap sleeps ms (a send's retry), watching stop. Returns 1 if cut
 * short by it. */
int matrix_nap(struct matrix *m, long long ms, int long_poll);

/* matrix_backoff_draw: matrix_backoff_ms with the transport's own draw. */
long long matrix_backoff_draw(struct matrix *m, enum matrix_fail kind, int attempt);

/* matrix_call does one request with the retry policy of matrix.c's top
 * comment. ERR_OK: a 2xx in r. ERR_INVALID: another 4xx in r (or the token
 * is refused and m->fatal is set). ERR_IO: stopped, or with
 * MATRIX_CALL_ONCE a network failure (m->errstr says which). ERR_LIMIT:
 * with MATRIX_CALL_SYNC, a body over max_body (its beginning in r). r is
 * released by the caller (matrix_resp_release) whatever the outcome. */
enum err matrix_call(struct matrix *m, const char *method, const char *path,
                     const char *body, int flags, struct matrix_resp *r);
void matrix_resp_release(struct matrix_resp *r);

/* matrix_call_judge sorts an exchange that ended as matrix_call does:
 * ERR_OK with *wait -1, done (a 2xx); ERR_OK with *wait >= 0, try again
 * after *wait ms (a 401 logged in again, a 429, a network or server
 * failure; *attempt and *relogins count them); any other error is what
 * matrix_call returns. */
enum err matrix_call_judge(struct matrix *m, const char *method, const char *path,
                           int flags, const struct matrix_resp *r, int *attempt,
                           int *relogins, long long *wait);

/* One exchange the loop drives instead of waiting for it (the sync):
 * matrix_xfer_begin hands it to the multi handle (GET; flags as
 * matrix_call's); matrix_xfer_want fills the loop's wait with curl's
 * sockets and timeout; matrix_xfer_step moves it on and returns 1 while
 * it runs, 0 when it ended (r filled, the handle out); matrix_xfer_abort
 * gives it up (r->stopped). One exchange at a time: no blocking call may
 * run while one is in flight. */
enum err matrix_xfer_begin(struct matrix *m, const char *method, const char *path, int flags,
                           struct matrix_resp *r);
void matrix_xfer_want(struct matrix *m, struct tr_wait *w);
int matrix_xfer_step(struct matrix *m, struct matrix_resp *r);
void matrix_xfer_abort(struct matrix *m, struct matrix_resp *r);

/* ---- matrix_session.c ------------------------------------------------- */

/* matrix_session_load takes the stored token (when want_token) and device
 * when they are for this homeserver and user; a missing or foreign file
 * is not an error. */
void matrix_session_load(struct matrix *m, int want_token);

/* matrix_login logs in with the password, reusing the device id, and
 * saves the new token; flags are matrix_call's. With no password, or a
 * refusal, m->fatal is set and m->errstr says why. */
enum err matrix_login(struct matrix *m, int flags);

/* matrix_whoami checks the token names the configured user, and takes the
 * device id the server gives. */
enum err matrix_whoami(struct matrix *m);

/* ---- matrix_rooms.c --------------------------------------------------- */

/* matrix_room finds a room in the cache, or with create adds it (NULL on
 * no memory). Borrowed: valid until the next room is added or forgotten. */
struct matrix_room *matrix_room(struct matrix *m, const char *id, int create);

/* matrix_room_name: user's display name in room as a batch once said it,
 * or NULL (borrowed). */
const char *matrix_room_name(struct matrix *m, const char *room, const char *user);

/* matrix_room_members asks the server for a room's member count, once a
 * room; -1 when not known. */
long matrix_room_members(struct matrix *m, struct matrix_room *room);

/* matrix_room_power: user's level in room, from the power levels a sync
 * brought, else asked of the server once (after a restart the sync brings
 * only state that changed since); -1 when the room has none the bot
 * knows. */
int matrix_room_power(struct matrix *m, struct matrix_room *room, const char *user);

/* matrix_room_act acts on a batch's action about membership or a room's
 * state (everything but MX_ACT_MESSAGE): invites accepted or declined,
 * joins, leaves, kicks and bans noted, names, summaries and power levels
 * kept. Failures are logged; nothing here stops a batch. */
void matrix_room_act(struct matrix *m, const struct mx_action *a);

/* matrix_join joins a room id or alias; a failure is logged, not fatal. */
enum err matrix_join(struct matrix *m, const char *target);

/* matrix_answer_find: the bot's reply to event among the last
 * MATRIX_ANSWERS_MAX, or NULL (borrowed); matrix_answer_put remembers one
 * (out of memory forgets it, nothing worse). */
const char *matrix_answer_find(const struct matrix *m, const char *event);
void matrix_answer_put(struct matrix *m, const char *event, const char *reply);

/* ---- matrix_reply.c --------------------------------------------------- */

/* matrix_handle_message hands a member's message to the core (fn, ctx)
 * and sends what it says: the reply, the moderators' alert, the core's
 * notice, each with a transaction id derived from the event. A refusal by
 * one room is logged and skipped; a non-OK return (stopped, fatal) means
 * "stop the batch here". */
enum err matrix_handle_message(struct matrix *m, const struct mx_action *a,
                               tr_handler_fn fn, void *ctx);

/* matrix_post_notice posts text to the moderators' room as an m.notice
 * with transaction id txn; from names where it came from in the log,
 * which never has its text. A refused post is logged and not an error:
 * only a stop (ERR_IO) or a fatal refusal is returned. */
enum err matrix_post_notice(struct matrix *m, const char *text, const char *txn,
                            const char *from);

/* matrix_notice_post posts a notice from the loop (a tick's, another
 * network's alert) with a transaction id of its own. */
enum err matrix_notice_post(struct matrix *m, const char *text);

/* ---- matrix_keys.c ---------------------------------------------------- */

/* matrix_keys_new opens the device's identity when cfg has a pickle key
 * (m->keys; NULL, and nothing done, without): a stored identity's device
 * becomes the one to log in as when none is configured or stored. An
 * identity that cannot be opened is a start-up error in errbuf. */
enum err matrix_keys_new(struct matrix *m, const struct matrix_config *cfg, char *errbuf,
                         size_t errlen);

/* matrix_keys_start, after whoami: the identity is tied to the device
 * logged in as (made at the first start; another device's is fatal, with
 * what to do) and what the server lacks is uploaded. An upload that fails
 * is logged and tried again later: the bot serves without it. */
enum err matrix_keys_start(struct matrix *m);

/* matrix_keys_sync tops up the one-time keys and the fallback key from
 * what a /sync said (k), after its batch. */
void matrix_keys_sync(struct matrix *m, const struct mx_key_counts *k);

void matrix_keys_free(struct matrix *m);

/* ---- matrix_sync.c ---------------------------------------------------- */

/* matrix_make_filter uploads the sync filter; a refusal is no error (each
 * sync then carries the filter itself). */
enum err matrix_make_filter(struct matrix *m);

/* matrix_sync_begin asks for the next /sync (a long poll once the bot has
 * a position), for the loop to drive; matrix_sync_step moves it on and,
 * when it ended, handles it: the batch, then the saved since (alive_ms),
 * or a retry's time in sync_at. ERR_IO: stopped; m->fatal: cannot go
 * on. */
enum err matrix_sync_begin(struct matrix *m);
enum err matrix_sync_step(struct matrix *m);

#endif
