/* matrix_int.h -- the inside of the Matrix transport, shared by its parts
 * and by no one else (matrix.h is the contract):
 *   matrix.c          config, new and free, start-up and the loop's ops
 *   matrix_http.c     one HTTP exchange, the retry policy, the waits
 *   matrix_session.c  login, the stored session, whoami
 *   matrix_rooms.c    the room cache, names, power levels, invites, joins,
 *                     earlier answers
 *   matrix_ask.c      a room's facts asked while serving, the messages
 *                     waiting for them
 *   matrix_reply.c    a member's message to the core and its reply, alert
 *                     and notice built and queued; the loop's notices
 *   matrix_send.c     the outgoing queue: one queue a room, each send's
 *                     retries, the shared re-login's waiters
 *   matrix_journal.c  the queue's journal on disk: a send's file, a
 *                     batch's group files, read back at a start
 *   matrix_sync.c     one /sync: ask, read, act on the batch, save since
 *   matrix_xsign.c    cross-signing at start-up: the bot's keys, the
 *                     device signed
 *   matrix_keys.c     the device's encryption keys (mx_crypto) uploaded
 *                     and topped up
 *   matrix_appsvc.c   the Application Service mode (matrix_appsvc.h): the
 *                     same parts driven by pushed transactions, no sync
 *   matrix_e2ee.c     encrypted rooms read: to-device room keys, Megolm
 *                     messages decrypted or kept till their key comes
 *   matrix_e2ee_tx.c  encrypted rooms written: the room key given to the
 *                     members' devices, the bot's messages encrypted
 *   matrix_e2ee_check.c  a room key's sending device checked by
 *                     /keys/query, without holding the loop
 * All of them work on one struct matrix (one thread, one curl multi
 * handle, an easy handle an exchange), so the functions here take it
 * whole; each file's statics stay its own.
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
#include "mx_index.h"
#include "mx_json.h"
#include "transport.h"

#define MATRIX_API                "/_matrix/client/v3"
#define MATRIX_URL_MAX            4096
#define MATRIX_TOKEN_MAX          1024
#define MATRIX_ERRSTR_MAX         512
#define MATRIX_RETRY_AFTER_MAX_MS 600000L /* we wait at most 10 min a 429 */
#define MATRIX_STOP_GRACE_MS      1200L   /* a reply in flight after a stop */
#define MATRIX_DISK_STOP_MS       3000L   /* the last position's save at a stop */
#define MATRIX_POLL_MS            50      /* how often a wait looks at stop */
/* Sends in flight at once, each on its own easy handle in the one multi
 * handle; at most one a room, so a room's order is kept and a room that
 * hangs holds one of them, not the others. With the sync, a blocking
 * call and a login, their sockets stay within TR_FDS_MAX. */
#define MATRIX_SENDS_MAX          6
/* Sockets curl may ask the loop to watch: one a connection, an exchange
 * at most one connection (two while it tries IPv6 and IPv4); far above
 * the exchanges there can be (the sends, the sync, the asks, a login, a
 * start-up call, the Application Service's whoami). */
#define MATRIX_SOCKS_MAX          64
/* Ordinary sends (answers that are not a crisis, joins, leaves) waiting
 * in one room, and in all: more are dropped with a log line. A crisis
 * reply, a moderators' alert and a notice for them are always queued,
 * whatever the count. */
#define MATRIX_QUEUE_ROOM_MAX     64
#define MATRIX_QUEUE_MAX          1024
#define MATRIX_OUTBOX_DIR         "outbox" /* the queue's journal, in state_dir */
/* A room's facts (member count, power levels) are asked once a room, an
 * exchange the loop drives like a send (matrix_ask.c): one try of at most
 * MATRIX_QUICK_TIMEOUT_MS, MATRIX_ASKS_MAX at once, and after one that got
 * no answer not again for MATRIX_QUICK_AGAIN_MS. Meanwhile the room's
 * messages that are not a crisis wait for them, in order: at most
 * MATRIX_HELD_ROOM_MAX a room and MATRIX_HELD_MAX (of
 * MATRIX_HELD_BYTES_MAX) in all, so a first batch of a thousand new
 * rooms waits whole, each at most
 * MATRIX_HELD_WAIT_MS; past any of these they are handled without the
 * facts (as when an ask fails). */
#define MATRIX_QUICK_TIMEOUT_MS   5000L
#define MATRIX_QUICK_AGAIN_MS     60000L
#define MATRIX_ASKS_MAX           4
#define MATRIX_HELD_ROOM_MAX      32
#define MATRIX_HELD_MAX           2048
#define MATRIX_HELD_BYTES_MAX     (4u << 20)
#define MATRIX_HELD_WAIT_MS       (MATRIX_QUICK_TIMEOUT_MS + 3000L)
#define MATRIX_UNSAVED_MAX        32 /* positions waiting to be saved */
/* The longest a sync given up for a notice waits for that notice's first
 * try (a moderators' room that hangs holds the sync no longer). */
#define MATRIX_NOTICE_HOLD_MS     5000L
#define MATRIX_NAMES_MAX          1024 /* display names remembered */
/* An encrypted message whose room key has not come waits this long (and
 * at most MX_E2EE_PENDING_MAX of them), then is given up, counted and
 * logged without its text. */
#define MATRIX_E2EE_WAIT_MS       600000L
/* A message for an encrypted room waits at most this long for its room
 * key to reach the members' devices, then goes (matrix_e2ee_tx.c says
 * how): a crisis reply is never held longer by encryption. */
#define MATRIX_TX_WAIT_MS         20000L
/* A batch's cost and lateness go to the log when it holds this many
 * events, or when its oldest was this late once handled (a warning from
 * the second): the bot is falling behind its rooms. */
#define MATRIX_BATCH_LOG_MIN      100
#define MATRIX_BEHIND_LOG_MS      10000LL
#define MATRIX_BEHIND_WARN_MS     60000LL
#define MATRIX_SESSION_FILE       "session.json"
#define MATRIX_SINCE_FILE         "since"

/* A member's message waiting for its room's facts (matrix_ask.c): a copy
 * of the action, its own. */
struct matrix_held {
	struct matrix_held *next;
	struct mx_action a;
	long long until;   /* handled without the facts then, mono ms */
	unsigned long gen; /* the batch it came in (batch_gen) */
};

/* What we know of a room: its member count (from sync summaries, or asked
 * once), whether an invite said it was direct, and its power levels (from
 * the sync, or asked once); the asks of these on their way, and the
 * messages waiting for them. */
struct matrix_room {
	char *id;
	long members; /* -1: not known yet */
	int direct;
	int power_asked;                      /* the server was asked for them */
	struct mx_power *power;               /* NULL: not known */
	long long ask_at;                     /* an ask for these that got no answer: not
	                         * again before then, mono ms */
	int ask_want;                         /* MATRIX_FACT_* bits to ask, not started */
	int ask_busy;                         /* MATRIX_FACT_* bits asked, in flight */
	struct matrix_held *held, *held_tail; /* in arrival order */
	size_t n_held;
};

/* A room's facts, as bits of ask_want and ask_busy. */
enum matrix_fact { MATRIX_FACT_MEMBERS = 1, MATRIX_FACT_POWER = 2 };

/* An event the bot answered and the id of its reply, for a later "see the
 * answer above" link. A ring: the oldest goes first. */
struct matrix_answer {
	char *event, *reply;
};

/* A display name seen in a room, kept for later batches (lazy loading
 * sends a member's name once). A ring: the oldest goes first. */
struct matrix_name {
	char *room, *user, *name;
	unsigned long hash; /* of room and user (matrix_rooms.c's name_hash) */
};

/* One HTTP exchange's answer. */
struct matrix_resp {
	long status; /* 0: no HTTP answer (network, timeout, stop) */
	char *body;
	size_t len, cap, max;
	int over;                 /* the body went over max */
	int stopped;              /* cut short by *stop */
	long long retry_after_ms; /* from the Retry-After header; -1: none */
	CURLcode cc;
};

/* One exchange on its own easy handle in the multi handle (the sync's,
 * a blocking call's, the re-login's, one a send in flight). matrix_pump
 * moves them all and marks the ended ones done; each owner takes its own
 * end when it looks (done back to 0). */
struct matrix_xfer {
	CURL *easy;              /* made at its first use, kept for the next */
	struct curl_slist *hdrs; /* its headers, while it runs */
	struct matrix_resp *r;   /* where the answer goes (the owner's) */
	int busy;                /* in the multi handle */
	int done;                /* ended, r filled, the owner has not looked */
};

/* One ask of a room's fact in flight (matrix_ask.c). */
struct matrix_ask {
	char *room; /* NULL: the slot is free */
	enum matrix_fact fact;
	struct matrix_xfer x;
	struct matrix_resp r;
};

/* What a queued send is. */
enum matrix_send_kind {
	MATRIX_SEND_REPLY,    /* PUT m.room.message: an answer to a member */
	MATRIX_SEND_ALERT,    /* PUT m.room.message: the moderators' alert */
	MATRIX_SEND_NOTICE,   /* PUT m.room.message: a notice for the moderators */
	MATRIX_SEND_JOIN,     /* POST /join/{room}: a configured room, an invite */
	MATRIX_SEND_LEAVE,    /* POST /rooms/{room}/leave: an invite declined */
	MATRIX_SEND_TO_DEVICE /* PUT /sendToDevice/m.room_key_request: room is
	                       * the user asked (its own queue), txn the
	                       * request's */
};

/* One send in a room's queue: what goes out, fixed when it is queued
 * (the transaction id among it, so every try and a restart's carry the
 * same), and its retry state. Strings are its own. */
struct matrix_send {
	struct matrix_send *next; /* the next in its room's queue */
	unsigned long long seq;   /* queued order; its journal file's name */
	enum matrix_send_kind kind;
	char *room;               /* where it goes: a room id (or a join's alias) */
	char *txn;                /* the transaction id of a PUT; NULL for a join, a leave */
	char *body;               /* the JSON sent */
	char *event;              /* the event answered or alerted about, or NULL */
	char *about;              /* the room of that event (an alert goes elsewhere) */
	char *klass;              /* for the log: "crisis", "faq"...; a notice: whence */
	char *entry;              /* for the log: the FAQ entry, or NULL */
	int must;                 /* a crisis reply, an alert, a notice: never dropped by a
	              * limit */
	int direct;               /* a join of a direct chat's invite */
	int gate;                 /* a join at a first start: the first sync waits for its
	              * first try (join_gate) */
	int journaled;            /* its file is in the outbox */
	int deferred;             /* to be written with its batch's group */
	unsigned long long group; /* the group file it is in; 0: its own file */
	long long wall_ms;        /* when it was queued, ms since the epoch */
	int attempt;              /* retries so far, for the backoff */
	int relogins;             /* fresh logins a 401 of its asked for */
	unsigned long login_gen;  /* the token its last try carried */
	int wants_login;          /* waits for the shared re-login */
	long long at_ms;          /* not to be tried before, mono ms */
	struct matrix_xfer *x;    /* its exchange while in flight, else NULL */
	int enc;                  /* body is an m.room.encrypted content (journaled) */
	int tx_held;              /* waits for its room's key to be shared */
	long long tx_since;       /* it began to wait for that, mono ms; 0: not */
};

/* A group file of the journal (g-<seq>) and its sends not yet done. */
struct matrix_group {
	unsigned long long seq;
	size_t pending;
};

/* One room's queue: sent in order, one at a time. */
struct matrix_outq {
	char *room;
	struct matrix_send *head, *tail;
	size_t n, plain; /* entries, and those a limit may drop */
};

/* The shared re-login's state (matrix_session.c). */
enum matrix_login_state { MATRIX_LOGIN_IDLE, MATRIX_LOGIN_WANTED, MATRIX_LOGIN_BUSY };

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
	struct mx_index rooms_ix; /* known's index (matrix_rooms.c) */
	struct matrix_name names[MATRIX_NAMES_MAX];
	size_t names_next;
	struct matrix_answer answers[MATRIX_ANSWERS_MAX];
	size_t answers_next;

	/* the loop's (matrix_ops) */
	tr_handler_fn fn; /* each member's message, with ctx */
	void *ctx;
	long long sync_at;            /* the next sync may start then, mono ms */
	int sync_attempt;             /* syncs failed in a row, for the backoff */
	int call_attempt;             /* the sync request's retries (matrix_call's) */
	int call_relogins;            /* and its fresh logins */
	unsigned long sync_login_gen; /* the token its last try carried */
	int sync_wants_login;         /* it waits for the shared re-login */
	int syncing;                  /* the sync's exchange is in the multi handle */
	struct matrix_xfer sync_x;
	struct matrix_resp sync_r; /* its response, while it runs */
	/* a notice the sync gave way to (op_notice): the sync is asked again
	 * once that notice's first try is over, or at once if it cannot go
	 * now, or at sync_hold_end whatever the notice's fate; 0: none */
	unsigned long long sync_hold;
	long long sync_hold_end; /* mono ms */
	/* joins of a first start whose first try is not over: the first sync
	 * waits for them, or a room joined after it would come in the next
	 * batch with its history, which would be answered as new */
	size_t join_gate;
	long long alive_ms;     /* the last sync handled and saved, mono ms */
	long long behind_ms;    /* the last batch's oldest event's age when
	                         * handled, ms; -1: not known */
	long long core_ns;      /* time in the handler (the core), this batch */
	long long read_ns;      /* time reading (parsing) this batch */
	long long send_ns;      /* time sending (HTTP, as they go) in it */
	long long ask_ns;       /* time asking a room's facts in it */
	unsigned long notice_n; /* notices posted or tried, for their txn ids */
	long long start_ms;     /* wall clock at matrix_new, for those ids too */

	/* a room's facts asked while serving, and the messages waiting
	 * (matrix_ask.c) */
	struct matrix_ask asks[MATRIX_ASKS_MAX];
	size_t ask_wanted; /* facts wanted in every room, not started */
	size_t n_held;     /* messages waiting in every room */
	size_t held_bytes; /* and what they cost (matrix_ask.c's count) */
	int held_failed;   /* one of them could not be journaled: the
	                    * batches since the saved position are asked
	                    * for again */
	/* batches acted on whose position is not saved yet, because a
	 * message of theirs or of an earlier batch waits: the sync goes on
	 * from the newest, each is saved once none of those waits
	 * (matrix_sync_settle); prev is the position before it */
	struct {
		unsigned long gen;
		char *since, *prev;
	} unsaved[MATRIX_UNSAVED_MAX];
	size_t n_unsaved;
	unsigned long batch_gen; /* batches acted on so far */

	CURLM *multi;
	/* the multi socket interface (matrix_http.c): the sockets curl asked
	 * to be watched, and when its timer is due */
	struct {
		curl_socket_t fd;
		int what; /* CURL_POLL_IN, _OUT, _INOUT */
	} socks[MATRIX_SOCKS_MAX];
	size_t n_socks;
	int socks_over;            /* some were not polled: curl looks at them */
	long long curl_at;         /* mono ms; -1: no timer */
	struct matrix_xfer call_x; /* the blocking calls' (start-up) */
	int n_busy;                /* exchanges in the multi handle */

	/* the outgoing queue (matrix_send.c) */
	struct matrix_outq *outq;
	size_t n_outq, cap_outq;
	struct mx_index outq_ix;     /* outq's index by room */
	size_t queued, queued_plain; /* entries in every queue; those a limit
	                              * may drop */
	unsigned long long send_seq; /* the last seq given */
	size_t send_next;            /* the queue a round of starts begins at */
	struct matrix_xfer send_x[MATRIX_SENDS_MAX];
	struct matrix_resp send_r[MATRIX_SENDS_MAX];
	char *outbox; /* state_dir/MATRIX_OUTBOX_DIR */
	/* while a batch is handled, its sends are journaled together in
	 * group files before its since is saved (matrix_send_flush), not one
	 * file a send (matrix_send.c says why) */
	int journal_defer;
	struct matrix_disk *disk; /* the fsyncs' thread (matrix_disk.c) */
	int disk_broken;          /* it could not start: the loop syncs */
	size_t n_deferred;        /* sends waiting for their group file */
	struct matrix_group *groups;
	size_t n_groups, cap_groups;

	/* the one fresh login every refused exchange waits for */
	enum matrix_login_state login_state;
	long long login_at;      /* WANTED: may start then, mono ms */
	int login_attempt;       /* its retries, for the backoff */
	unsigned long login_gen; /* fresh logins so far: a token's generation */
	struct matrix_xfer login_x;
	struct matrix_resp login_r;
	char *login_body; /* the request (a password), wiped after */

	volatile sig_atomic_t *stop;
	long long stop_at;          /* when we first saw *stop, ms; 0: not yet */
	int fatal;                  /* set when running cannot go on */
	int relogged;               /* a fresh login happened during this call */
	long long health_at;        /* when the health mark was last written, ms */
	int health_warned;          /* its failure is logged once, not every sync */
	unsigned long long rng;     /* backoff_rand's state */
	struct matrix_keys *keys;   /* encryption's keys; NULL: encryption off */
	struct matrix_e2ee *e2ee;   /* encrypted rooms read; NULL: encryption off */
	struct matrix_e2ee_tx *tx;  /* encrypted rooms written; NULL: off */
	struct matrix_check *check; /* room keys' devices checked; NULL: off */
	struct matrix_stats stats;
	char errstr[MATRIX_ERRSTR_MAX];
};

/* ---- matrix_http.c ---------------------------------------------------- */

enum matrix_call_flags {
	MATRIX_CALL_LONG_POLL = 1, /* a stop cuts it at once */
	MATRIX_CALL_NO_AUTH = 2,   /* login: no token, no re-login */
	MATRIX_CALL_ONCE = 4,      /* start-up checks: report, do not retry */
	MATRIX_CALL_SYNC = 8,      /* a body over max_body is returned
	                            * (ERR_LIMIT), not retried: asking again
	                            * would bring it again */
	MATRIX_CALL_QUICK = 16,    /* while serving (a room's facts, a sender
	                            * device): one try of at most
	                            * MATRIX_QUICK_TIMEOUT_MS, never a wait; a
	                            * 401 asks for the shared re-login and
	                            * fails this call */
	MATRIX_CALL_UIA = 32       /* user-interactive auth: a 401 that is not
	                            * M_UNKNOWN_TOKEN or M_MISSING_TOKEN is the
	                            * server asking for auth (ERR_INVALID, the
	                            * flows in r), not a refused token */
};

/* matrix_set_err writes m->errstr, the one line matrix_errstr gives. */
void matrix_set_err(struct matrix *m, const char *fmt, ...) LOG_PRINTF(2, 3);

/* matrix_stopping says whether a wait or transfer must end now: at once
 * for a long poll, after MATRIX_STOP_GRACE_MS for anything else. */
int matrix_stopping(struct matrix *m, int long_poll);

/* matrix_nap sleeps ms (a start-up call's retry), watching stop. Returns 1
 * if cut short by it. */
int matrix_nap(struct matrix *m, long long ms, int long_poll);

/* matrix_backoff_draw: matrix_backoff_ms with the transport's own draw. */
long long matrix_backoff_draw(struct matrix *m, enum matrix_fail kind, int attempt);

/* matrix_call does one request, blocking, with the retry policy of
 * matrix.c's top comment: for start-up (login, whoami, the filter) and,
 * with MATRIX_CALL_QUICK, a call while serving (one try, no wait). ERR_OK: a 2xx in r. ERR_INVALID: another 4xx in r (or the token
 * is refused and m->fatal is set). ERR_IO: stopped, or with
 * MATRIX_CALL_ONCE a network failure (m->errstr says which), or with
 * MATRIX_CALL_QUICK anything to be tried again later. ERR_LIMIT: with
 * MATRIX_CALL_SYNC, a body over max_body (its beginning in r). r is
 * released by the caller (matrix_resp_release) whatever the outcome.
 * The other exchanges in the multi handle move on meanwhile; their ends
 * wait for their owners (matrix_xfer.done). */
enum err matrix_call(struct matrix *m, const char *method, const char *path, const char *body,
		     int flags, struct matrix_resp *r);
void matrix_resp_release(struct matrix_resp *r);

/* How an exchange ended, for its owner to act on (matrix_judge). */
enum matrix_verdict {
	MATRIX_V_DONE,    /* a 2xx */
	MATRIX_V_RETRY,   /* 429, 5xx, no connection...: again after *wait ms */
	MATRIX_V_AUTH,    /* 401: the token is refused (logged and counted) */
	MATRIX_V_REFUSED, /* another 4xx (or a 401 to a call with no token) */
	MATRIX_V_STOPPED, /* cut short: a stop, a give-up */
	MATRIX_V_FAILED,  /* MATRIX_CALL_ONCE: not retried, m->errstr says why */
	MATRIX_V_OVER     /* MATRIX_CALL_SYNC: a body over max_body */
};

/* matrix_judge sorts an exchange that ended (r) by the policy of
 * matrix.c's top comment, logs a retry (never a body) and counts it:
 * *attempt is the exchange's retries so far, raised by one for a
 * MATRIX_V_RETRY, whose wait is in *wait (ms; -1 otherwise). */
enum matrix_verdict matrix_judge(struct matrix *m, const char *method, const char *path, int flags,
				 const struct matrix_resp *r, int *attempt, long long *wait);

/* One exchange the loop drives instead of waiting for it. matrix_xfer_begin
 * sets x up (its easy handle made at the first use) and hands it to the
 * multi handle; body (or NULL) is borrowed and must live until the
 * exchange ends; flags as matrix_call's (the timeout: the request's, plus
 * the sync's for a long poll). It fails only for local reasons (memory, a
 * URL too long). matrix_pump runs curl's timer when due (never waits)
 * and marks each exchange that ended done, r filled. matrix_xfer_abort
 * gives one up (r->stopped; not marked done). */
enum err matrix_xfer_begin(struct matrix *m, struct matrix_xfer *x, const char *method,
			   const char *path, const char *body, int flags, struct matrix_resp *r);
void matrix_pump(struct matrix *m);
void matrix_xfer_abort(struct matrix *m, struct matrix_xfer *x);
void matrix_xfer_free(struct matrix *m, struct matrix_xfer *x);

/* The multi handle, driven through curl's multi socket interface:
 * matrix_multi_init makes it (m->multi) with its socket and timer
 * callbacks (ERR_NOMEM, ERR_IO). matrix_multi_want adds the sockets curl
 * asked to be watched (TR_FDS_MAX at most: the rest are looked at on a
 * short timer) and its timer to w; matrix_multi_ready hands what poll
 * found in w back to curl (curl_multi_socket_action), runs its timer when
 * due and marks the exchanges that ended done (matrix_pump does the last
 * two, for a caller with no poll result). matrix_multi_wait polls them
 * itself, at most ms, then as matrix_multi_ready: for the blocking calls
 * of start-up and a stop's grace. */
enum err matrix_multi_init(struct matrix *m);
void matrix_multi_want(struct matrix *m, struct tr_wait *w);
void matrix_multi_ready(struct matrix *m, const struct tr_wait *w);
void matrix_multi_wait(struct matrix *m, long long ms);

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

/* The shared re-login, while serving: a 401 to any exchange (the sync, a
 * send, a room's facts) asks for it with matrix_login_want, which starts
 * one fresh login if none is on its way (with no password: m->fatal), and
 * every refused exchange waits for m->login_gen to move. matrix_login_step
 * (each turn of the loop) starts it when due and takes its end: a new
 * token saved and login_gen raised; a refusal sets m->fatal; no answer is
 * tried again after a backoff, like any request. */
void matrix_login_want(struct matrix *m);
/* matrix_token_refused answers a 401 to an exchange whose try carried the
 * token of generation gen: 1 when a newer token came meanwhile (try again
 * now); 0 when it now waits for the shared re-login (*wants set); -1 when
 * it was refused again after a fresh login: the bot cannot go on
 * (m->fatal, the error set). *relogins counts the exchange's logins. */
int matrix_token_refused(struct matrix *m, unsigned long gen, int *relogins, int *wants);
void matrix_login_step(struct matrix *m);
/* matrix_login_want_at: when the login wants the loop back (its start),
 * mono ms; -1: nothing to do. */
long long matrix_login_want_at(const struct matrix *m);

/* ---- matrix_rooms.c --------------------------------------------------- */

/* matrix_room finds a room in the cache, or with create adds it (NULL on
 * no memory). Borrowed: valid until the next room is added or forgotten. */
struct matrix_room *matrix_room(struct matrix *m, const char *id, int create);

/* matrix_room_name: user's display name in room as a batch once said it,
 * or NULL (borrowed). */
const char *matrix_room_name(struct matrix *m, const char *room, const char *user);

/* matrix_room_power: user's level in room, from the power levels a sync
 * brought or an ask (matrix_ask.c) got; -1 when the room has none the bot
 * knows. */
int matrix_room_power(const struct matrix_room *room, const char *user);

/* matrix_room_act acts on a batch's action about membership or a room's
 * state (everything but MX_ACT_MESSAGE): invites accepted or declined
 * (the join or leave queued), joins, leaves, kicks and bans noted, names,
 * summaries and power levels kept. Failures are logged; only a journal
 * that cannot be written (matrix_send_put) is returned: it stops the
 * batch. */
enum err matrix_room_act(struct matrix *m, const struct mx_action *a);

/* matrix_join queues the join of a room id or alias (matrix_send.c sends
 * it, logs it, and notes a direct chat's room once joined); a failure is
 * logged, not fatal. direct: an invite said the room is a direct chat.
 * at_start: a configured room, joined at every start (so not journaled),
 * whose first try the first sync of a first start waits for; else an
 * invite's, journaled till sent. */
enum err matrix_join(struct matrix *m, const char *target, int direct, int at_start);

/* matrix_room_joined notes what a join sent means for the cache: the
 * room is direct when its invite said so. */
void matrix_room_joined(struct matrix *m, const char *room, int direct);

/* matrix_answer_find: the bot's reply to event among the last
 * MATRIX_ANSWERS_MAX, or NULL (borrowed); matrix_answer_put remembers one
 * (out of memory forgets it, nothing worse). */
const char *matrix_answer_find(const struct matrix *m, const char *event);
void matrix_answer_put(struct matrix *m, const char *event, const char *reply);

/* ---- matrix_ask.c ----------------------------------------------------- */

/* matrix_ask_pending: are room's facts (member count, power levels) on
 * their way, so that its messages wait? Starts the asks it lacks (one try
 * each, MATRIX_ASKS_MAX at once, the rest as slots free). 0: known,
 * refused, or asked lately with no answer (not waited for). */
int matrix_ask_pending(struct matrix *m, struct matrix_room *room);

/* matrix_held_put keeps a copy of a, a message of room the core left to
 * be handled with the facts (tr_reply.wait_facts), behind the room's
 * others. Over a bound (matrix_int.h) or out of memory, the room's
 * waiting messages and a are handled now without the facts; what that
 * returns (matrix_handle_held's) is returned. */
enum err matrix_held_put(struct matrix *m, struct matrix_room *room, const struct mx_action *a);

/* matrix_held_flush hands the room's waiting messages now, without the
 * facts (a room about to be forgotten). */
void matrix_held_flush(struct matrix *m, struct matrix_room *room);

/* matrix_ask_run takes the asks that ended (the facts into the cache),
 * hands the waiting messages of each room whose asks are over or whose
 * wait is (MATRIX_HELD_WAIT_MS), in order, and starts asks waiting for a
 * slot. Never waits. matrix_ask_want_at: when it wants the loop back,
 * mono ms; -1: nothing to do. matrix_ask_free frees the asks and every
 * waiting message (nothing handled). */
void matrix_ask_run(struct matrix *m);
long long matrix_ask_want_at(const struct matrix *m);
void matrix_ask_free(struct matrix *m);

/* ---- matrix_reply.c --------------------------------------------------- */

/* matrix_handle_message hands a member's message to the core (fn, ctx)
 * and queues what it says (matrix_send_put): the reply, the moderators'
 * alert, the core's notice, each with a transaction id derived from the
 * event. A non-OK return (the journal cannot be written) means "stop the
 * batch here, and do not save since". */
enum err matrix_handle_message(struct matrix *m, const struct mx_action *a, tr_handler_fn fn,
			       void *ctx);

/* matrix_handle_held hands a message that waited for its room's facts to
 * the core (m->fn, m->ctx) with what is known now, and queues what it
 * says; returns as matrix_handle_message. */
enum err matrix_handle_held(struct matrix *m, const struct mx_action *a);

/* matrix_post_notice queues text for the moderators' room as an m.notice
 * with transaction id txn; from names where it came from in the log,
 * which never has its text. With no moderators' room, or a body that
 * cannot be built, it is dropped with a log line. Only a journal that
 * cannot be written is an error. *seq (may be NULL) gets the queued
 * send's seq, 0 when none was queued. */
enum err matrix_post_notice(struct matrix *m, const char *text, const char *txn, const char *from,
			    unsigned long long *seq);

/* matrix_notice_post queues a notice from the loop (a tick's, another
 * network's alert) with a transaction id of its own; *seq as above. */
enum err matrix_notice_post(struct matrix *m, const char *text, unsigned long long *seq);

/* ---- matrix_send.c ---------------------------------------------------- */

/* What matrix_send_put queues; every string borrowed (copied). */
struct matrix_send_spec {
	enum matrix_send_kind kind;
	const char *room, *txn, *body, *event, *about, *klass, *entry;
	int must;    /* a crisis reply, an alert, a notice: never dropped by a
	              * limit */
	int direct;  /* a join: the invite said direct */
	int gate;    /* a join the first sync waits for (join_gate) */
	int journal; /* written to the outbox before it is queued */
};

/* matrix_send_put queues one send at the end of its room's queue. With
 * journal, its file is written (state_write: synced) first, so once this
 * returns the send survives a crash; since may then be saved. The same
 * send already waiting (room, kind, transaction id) is not queued twice
 * (a replayed batch after a crash meets its journal). An ordinary send
 * over a limit is dropped with a log line (ERR_OK); a must (a crisis
 * reply, an alert, a notice) never is. *seq (may be NULL) gets its seq, 0 when not queued.
 * ERR_IO: the journal cannot be written (m->errstr says where); ERR_NOMEM. */
enum err matrix_send_put(struct matrix *m, const struct matrix_send_spec *s,
			 unsigned long long *seq);

/* ---- matrix_journal.c ------------------------------------------------- */

/* matrix_send_kind_name: the kind's name in the journal and the log. */
const char *matrix_send_kind_name(enum matrix_send_kind k);

/* matrix_send_is_put: is a send of this kind a PUT with a transaction id
 * (a message, a to-device send), not a POST (a join, a leave)? */
int matrix_send_is_put(enum matrix_send_kind k);

/* matrix_send_destroy frees one send record (NULL: nothing). */
void matrix_send_destroy(struct matrix_send *s);

/* matrix_journal_write writes s's journal file (synced), or with
 * journal_defer marks it for its batch's group (matrix_send_flush). One
 * too large for a state file is sent unjournaled, with a warning. ERR_IO
 * (m->errstr says where). */
enum err matrix_journal_write(struct matrix *m, struct matrix_send *s);

/* matrix_journal_rewrite writes s's journal again after its body changed
 * (encrypted): its own file, synced, in place of its share of a group
 * file (a start that finds both keeps the encrypted one). Not journaled,
 * or still to be written with its batch's group: nothing to do. ERR_IO
 * (m->errstr says where). */
enum err matrix_journal_rewrite(struct matrix *m, struct matrix_send *s);

/* matrix_journal_drop removes s from the journal once it is done or
 * dropped: its file, or its share of its group's. */
void matrix_journal_drop(struct matrix *m, const struct matrix_send *s);

/* matrix_journal_read: every send the journal holds from an earlier run,
 * oldest first, in *v (the caller's, each record too), their count the
 * result; a torn or unreadable file is logged and removed, never read. */
size_t matrix_journal_read(struct matrix *m, struct matrix_send ***v);

/* matrix_send_flush writes the sends queued while journal_defer was set
 * and still waiting into group files, and has them synced with the
 * folder once: by the fsyncs' thread (matrix_disk_put), or here when it
 * has none. The batch's since is saved after it (asked of the same
 * thread after), never before. ERR_IO (m->errstr says where): not
 * written, do not save since. A send already done needs nothing. */
enum err matrix_send_flush(struct matrix *m);

/* matrix_send_load queues what the journal holds from an earlier run, in
 * its order (at start, before serving); an unreadable file is logged and
 * removed, never sent. */
void matrix_send_load(struct matrix *m);

/* matrix_send_run takes the ends of the sends in flight (done, retry
 * later, re-login, dropped) and starts every send that is due, the head
 * of its room's queue, while a handle is free. Never waits. */
void matrix_send_run(struct matrix *m);

/* matrix_send_want_at: when the queue wants the loop back (mono ms): now
 * for an end to take, else for a send to start (the earliest due head,
 * while a handle is free); -1: nothing to do. */
long long matrix_send_want_at(const struct matrix *m);

/* matrix_send_oldest_ms: the wall time the oldest waiting send was queued
 * (ms since the epoch), 0 when none waits. */
long long matrix_send_oldest_ms(const struct matrix *m);

/* matrix_send_in_flight: is the send seq in flight now? */
int matrix_send_in_flight(const struct matrix *m, unsigned long long seq);

/* matrix_send_stop gives the sends in flight until the stop's grace
 * (MATRIX_STOP_GRACE_MS) to end, then gives them up; what is left stays
 * in the journal for the next start. */
void matrix_send_stop(struct matrix *m);

/* matrix_send_free frees every queue and handle (nothing is sent). */
void matrix_send_free(struct matrix *m);

/* ---- matrix_disk.c ---------------------------------------------------- */

/* matrix_disk_put hands the thread of the fsyncs (started at its first
 * use) n outbox files to sync, then the folder, then since (may be NULL)
 * to save as the position, after everything asked before. files and its
 * strings are taken on ERR_OK (the array itself stays the caller's).
 * ERR_INVALID: no thread (the caller syncs and saves in the loop itself,
 * nothing taken); ERR_NOMEM. */
enum err matrix_disk_put(struct matrix *m, char **files, size_t n, const char *since);

/* matrix_disk_failed: 1 when a sync or the position's save failed (no
 * position is saved after it; m->errstr says why): the caller stops. */
int matrix_disk_failed(struct matrix *m);

/* matrix_disk_wait waits at most ms for everything asked to be done; 1
 * when it is. matrix_disk_free does what is left, then ends the thread. */
int matrix_disk_wait(struct matrix *m, long long ms);
void matrix_disk_free(struct matrix *m);

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

/* matrix_keys_crypto: the device's crypto (borrowed), NULL when off. */
struct mx_crypto *matrix_keys_crypto(const struct matrix *m);

/* ---- matrix_xsign.c --------------------------------------------------- */

/* matrix_xsign_start, after matrix_keys_start: the cross-signing keys
 * loaded or made, what the server lacks of them uploaded and the device
 * signed (blocking; nothing when encryption is off). ERR_OK but for a
 * keys file that cannot be opened (m->fatal, m->errstr naming it): a
 * refusal is logged with what the admin can do, and the bot serves with
 * its device not cross-signed. */
enum err matrix_xsign_start(struct matrix *m);

/* ---- matrix_e2ee.c ---------------------------------------------------- */

/* matrix_e2ee_new reads the waiting list kept from the last run (m->e2ee;
 * with encryption on); a damaged list is logged, never fatal.
 * matrix_e2ee_free frees it. */
enum err matrix_e2ee_new(struct matrix *m);
void matrix_e2ee_free(struct matrix *m);

/* matrix_e2ee_to_device acts on a batch's to-device events, before its
 * rooms: Olm decrypted, checked, room keys kept; the messages waiting for
 * a key that came are decrypted and handed to fn (matrix_handle_message).
 * A non-OK return: as matrix_handle_message's. */
enum err matrix_e2ee_to_device(struct matrix *m, const struct mx_sync *s, tr_handler_fn fn,
			       void *ctx);

/* matrix_e2ee_message: an m.room.encrypted event (a->ignore is
 * MX_IGN_ENCRYPTED) decrypted and handed to fn, kept when its key has not
 * come (a key request queued), refused (counted, logged) when it fails a
 * check. fn NULL: read and kept, not answered (a first start). */
enum err matrix_e2ee_message(struct matrix *m, const struct mx_action *a, tr_handler_fn fn,
			     void *ctx);

/* matrix_e2ee_save, after a batch and before its since is saved: gives
 * up the messages that waited too long, then writes what changed
 * (sessions, the account, the waiting list). ERR_IO: not saved, so the
 * batch must not be acknowledged (m->errstr says why). */
enum err matrix_e2ee_save(struct matrix *m);

/* matrix_e2ee_checked (matrix_e2ee.c): session_id's room key passed its
 * device's check (or was taken on the server's word): the messages that
 * waited for it are decrypted and answered (m->fn). The caller saves. */
void matrix_e2ee_checked(struct matrix *m, const char *session_id);

/* ---- matrix_e2ee_check.c ---------------------------------------------- */

/* matrix_check_new (with encryption on) and matrix_check_free: m->check.
 * matrix_check_run (the loop's turn) asks for the devices of the first
 * user with a key waiting for its check (mx_crypto_room_unchecked), one
 * exchange at a time, and settles the keys by the answer;
 * matrix_check_want_at: when it wants its turn (mono ms; -1 not). */
enum err matrix_check_new(struct matrix *m);
void matrix_check_free(struct matrix *m);
int matrix_check_known(const struct matrix *m, const char *user, const char *curve, const char *ed);
void matrix_check_run(struct matrix *m);
long long matrix_check_want_at(const struct matrix *m);

/* ---- matrix_e2ee_tx.c ------------------------------------------------- */

/* matrix_tx_new (with encryption on) and matrix_tx_free: m->tx. */
enum err matrix_tx_new(struct matrix *m);
void matrix_tx_free(struct matrix *m);

/* matrix_tx_ready, for a queue's head about to start: 1 when it may go
 * now (not a message, its room not encrypted, or encrypted now: its body
 * replaced and journaled again); 0 when it waits for its room's key to
 * be shared (s->tx_held, for at most MATRIX_TX_WAIT_MS). */
int matrix_tx_ready(struct matrix *m, struct matrix_send *s);

/* matrix_tx_run takes the end of the key sharing's exchange and starts
 * its next one (never waits); matrix_tx_want_at: when it wants the loop
 * back (mono ms), -1: nothing to do. Both called by matrix_send.c. */
void matrix_tx_run(struct matrix *m);
long long matrix_tx_want_at(const struct matrix *m);

/* matrix_tx_sync notes what a handled batch says: rooms' encryption,
 * member changes (their list asked again), users whose devices changed
 * (asked again before their next key). */
void matrix_tx_sync(struct matrix *m, const struct mx_sync *s);

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

/* matrix_sync_settle saves the newest position (unsaved) that no waiting
 * message came before: its batch's sends and those of the messages
 * handled since are durable first (alive_ms then). When a waiting
 * message could not be journaled, none is saved, and the sync goes back
 * to the last saved position (those batches replay). ERR_IO, ERR_NOMEM,
 * or the state folder's error. matrix_sync_free frees what it keeps. */
enum err matrix_sync_settle(struct matrix *m);
void matrix_sync_free(struct matrix *m);

/* matrix_held_min_gen: the oldest batch a waiting message came in; the
 * largest number when none waits. */
unsigned long matrix_held_min_gen(const struct matrix *m);

#endif
