/* matrix.c -- the Matrix transport (see matrix.h).
 *
 * One thread, one curl multi handle (so connections are kept alive and the
 * wait can watch the stop flag every 50 ms), one easy handle reused for
 * every request. How failures are sorted (libcmatrix's split, with our own
 * backoff, matrix_backoff_ms):
 *   no connection: refused, reset, DNS  -> retry within a few seconds
 *   TLS, timeout, 5xx, unusable 200     -> back off longer, retry
 *   429 M_LIMIT_EXCEEDED                -> wait Retry-After, retry
 *   401 (M_UNKNOWN_TOKEN or not)        -> log in again, or give up
 *   any other 4xx                       -> up to the caller
 * A /sync that cannot be read even repaired is asked for once more, then
 * skipped to its next_batch (the moderators are told); one with no
 * next_batch is retried as a server error: no batch holds the bot.
 * Order of a batch: act on everything in it, then save `since`; a crash in
 * between replays the batch and the transaction ids keep it from showing.
 * The core's tick runs where no reply is in flight: before each sync,
 * between the messages of a batch, and inside the long poll's wait (which
 * a wake cuts, as a stop does, before any of its answer is read). */
#include "matrix.h"
#include "netaddr.h"

#include <arpa/inet.h>
#include <jansson.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <malloc.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "curl_dl.h" /* libcurl, loaded at first use */
#include "backoff.h"
#include "clock.h"
#include "health.h"
#include "log.h"
#include "mx_body.h"
#include "mx_html.h"
#include "mx_json.h"
#include "state.h"
#include "strs.h"

#define MATRIX_API "/_matrix/client/v3"
#define MATRIX_URL_MAX 4096
#define MATRIX_TOKEN_MAX 1024
#define MATRIX_ERRSTR_MAX 512
#define MATRIX_RETRY_AFTER_MAX_MS 600000L /* we wait at most 10 min a 429 */
#define MATRIX_STOP_GRACE_MS 1200L        /* a reply in flight after a stop */
#define MATRIX_POLL_MS 50                 /* how often a wait looks at stop */
#define MATRIX_NAMES_MAX 1024            /* display names remembered */
#define MATRIX_SESSION_FILE "session.json"
#define MATRIX_SINCE_FILE "since"

/* For "%.*s": a request path without its query string. */
#define PATH_ARG(p) (int)strcspn((p), "?"), (p)

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

	/* the core's tick (matrix_set_tick) */
	struct tr_tick tick;
	void *tick_ctx;       /* the handler's ctx, during matrix_run */
	long long tick_at;    /* when it last ran, ms; 0: not yet */
	int wake_armed;       /* a wake may cut a poll (see woken) */
	char *notice;         /* a tick's notice not yet posted, owned */
	unsigned long notice_n; /* notices posted or tried, for their txn ids */
	long long start_ms;   /* wall clock at matrix_new, for those ids too */

	CURLM *multi;
	CURL *easy;
	volatile sig_atomic_t *stop;
	long long stop_at;  /* when we first saw *stop, ms; 0: not yet */
	int fatal;          /* set when running cannot go on */
	int relogged;       /* a fresh login happened during this call */
	long long health_at; /* when the health mark was last written, ms */
	int health_warned;  /* its failure is logged once, not every sync */
	unsigned long long rng; /* backoff_rand's state */
	struct matrix_stats stats;
	char errstr[MATRIX_ERRSTR_MAX];
};

/* One HTTP exchange. */
struct resp {
	long status;       /* 0: no HTTP answer (network, timeout, stop) */
	char *body;
	size_t len, cap, max;
	int over;          /* the body went over max */
	int stopped;       /* cut short by *stop */
	long long retry_after_ms; /* from the Retry-After header; -1: none */
	CURLcode cc;
};

enum call_flags {
	CALL_LONG_POLL = 1, /* a stop cuts it at once */
	CALL_NO_AUTH = 2,   /* login: no token, no re-login */
	CALL_ONCE = 4,      /* start-up checks: report, do not retry */
	CALL_SYNC = 8       /* a body over max_body is returned (ERR_LIMIT),
	                     * not retried: asking again would bring it again */
};

static int tick_cuts(struct matrix *m);

static void set_err(struct matrix *m, const char *fmt, ...) LOG_PRINTF(2, 3);
static void set_err(struct matrix *m, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(m->errstr, sizeof(m->errstr), fmt, ap);
	va_end(ap);
}

/* stopping says whether a wait or transfer must end now: at once for a
 * long poll, after the grace period for anything else. */
static int stopping(struct matrix *m, int long_poll)
{
	if (!m->stop || !*m->stop)
		return 0;
	if (!m->stop_at)
		m->stop_at = clock_mono_ms();
	return long_poll || clock_mono_ms() - m->stop_at >= MATRIX_STOP_GRACE_MS;
}

/* nap sleeps ms, watching stop and, in a long poll's waits, the tick.
 * Returns 1 if cut short by either. */
static int nap(struct matrix *m, long long ms, int long_poll)
{
	long long end = clock_mono_ms() + ms, left;
	struct timespec ts;

	while ((left = end - clock_mono_ms()) > 0) {
		if (stopping(m, long_poll) || (long_poll && tick_cuts(m)))
			return 1;
		if (left > MATRIX_POLL_MS)
			left = MATRIX_POLL_MS;
		ts.tv_sec = 0;
		ts.tv_nsec = (long)left * 1000000L;
		nanosleep(&ts, NULL);
	}
	return stopping(m, long_poll);
}

enum matrix_fail matrix_fail_kind(long status, int curl_code)
{
	if (status != 0)
		return MATRIX_FAIL_SERVER;
	switch (curl_code) {
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_COULDNT_RESOLVE_HOST: /* curl cannot tell a lasting failure;
	                                  * at start-up that one is fatal anyway */
	case CURLE_COULDNT_CONNECT:      /* refused: nothing listens yet */
	case CURLE_GOT_NOTHING:          /* closed with no answer: going down */
	case CURLE_SEND_ERROR:           /* reset */
	case CURLE_RECV_ERROR:
	case CURLE_PARTIAL_FILE:         /* cut in the middle of an answer */
		return MATRIX_FAIL_CONNECT;
	default:
		/* a timeout is a server that accepted and did not answer, TLS
		 * is one that answered wrongly: neither is helped by hurrying */
		return MATRIX_FAIL_SERVER;
	}
}

long long matrix_backoff_ms(enum matrix_fail kind, int attempt, unsigned rnd,
                            long max_ms)
{
	long long cap = max_ms > 0 ? max_ms : MATRIX_BACKOFF_MAX_MS;

	if (kind == MATRIX_FAIL_CONNECT && cap > MATRIX_CONNECT_WAIT_MAX_MS)
		cap = MATRIX_CONNECT_WAIT_MAX_MS;
	return backoff_delay_ms(MATRIX_BACKOFF_BASE_MS, cap, attempt > 0 ? (unsigned)attempt : 0,
	                        rnd);
}

/* backoff_ms draws from the bot's generator for matrix_backoff_ms. */
static long long backoff_ms(struct matrix *m, enum matrix_fail kind, int attempt)
{
	/* the high half: xorshift's low bits are its weakest */
	return matrix_backoff_ms(kind, attempt, (unsigned)(backoff_rand(&m->rng) >> 32),
	                         m->backoff_max);
}

/* ---- small string helpers ---------------------------------------------- */

/* esc writes s percent-encoded into buf; ERR_LIMIT if it does not fit. */
static enum err esc(char *buf, size_t len, const char *s)
{
	char *e = NULL;
	enum err rc = mx_url_escape(s, &e);

	if (rc == ERR_OK && strlen(e) >= len)
		rc = ERR_LIMIT;
	if (rc == ERR_OK)
		memcpy(buf, e, strlen(e) + 1);
	free(e);
	return rc;
}

/* fmt_path formats a request path; ERR_LIMIT if it does not fit. */
static enum err fmt_path(char *buf, size_t len, const char *fmt, ...) LOG_PRINTF(3, 4);
static enum err fmt_path(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, len, fmt, ap);
	va_end(ap);
	return n < 0 || (size_t)n >= len ? ERR_LIMIT : ERR_OK;
}

/* ---- configuration ---------------------------------------------------- */

static enum err check_url(const char *url, char *errbuf, size_t errlen)
{
	char *scheme = NULL, *host = NULL;
	enum err e = ERR_INVALID;
	CURLU *u = curl_url();

	if (!u)
		return ERR_NOMEM;
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK) {
		snprintf(errbuf, errlen, "homeserver URL \"%s\" is not a URL", url);
		goto out;
	}
	if (!strcasecmp(scheme, "https")) {
		e = ERR_OK;
	} else if (!strcasecmp(scheme, "http")) {
		char why[256];

		if (netaddr_check_plain(host, why, sizeof(why)) == ERR_OK)
			e = ERR_OK;
		else
			snprintf(errbuf, errlen, "homeserver URL %s uses plain http: %s", url,
			         why);
	} else {
		snprintf(errbuf, errlen, "homeserver URL %s: scheme %s is not https",
		         url, scheme);
	}
out:
	curl_free(scheme);
	curl_free(host);
	curl_url_cleanup(u);
	return e;
}

void matrix_free(struct matrix *m)
{
	size_t i;

	if (!m)
		return;
	if (m->multi && m->easy)
		curl_multi_remove_handle(m->multi, m->easy);
	if (m->easy)
		curl_easy_cleanup(m->easy);
	if (m->multi) {
		curl_multi_cleanup(m->multi);
		curl_global_cleanup();
	}
	for (i = 0; i < m->n_known; i++)
		free(m->known[i].id);
	for (i = 0; i < MATRIX_NAMES_MAX; i++) {
		free(m->names[i].room);
		free(m->names[i].user);
		free(m->names[i].name);
	}
	for (i = 0; i < MATRIX_ANSWERS_MAX; i++) {
		free(m->answers[i].event);
		free(m->answers[i].reply);
	}
	for (i = 0; i < m->n_known; i++)
		mx_power_free(m->known[i].power);
	free(m->known);
	free(m->notice);
	free(m->hs);
	free(m->user_id);
	if (m->password)
		memset(m->password, 0, strlen(m->password));
	free(m->password);
	free(m->mod_room);
	free(m->state_dir);
	free(m->localpart);
	free(m->since);
	strs_list_free(m->rooms, m->n_rooms);
	strs_list_free(m->allow, m->n_allow);
	strs_list_free(m->mods, m->n_mods);
	memset(m->token, 0, sizeof(m->token));
	free(m);
}

enum err matrix_new(const struct matrix_config *cfg, struct matrix **out,
                    char *errbuf, size_t errlen)
{
	struct matrix *m = NULL;
	enum err e = ERR_OK;
	const char *colon;
	size_t n;

	*out = NULL;
	if (!cfg->homeserver || !*cfg->homeserver) {
		snprintf(errbuf, errlen, "no homeserver URL configured");
		return ERR_INVALID;
	}
	if (!cfg->user_id || cfg->user_id[0] != '@' || !mx_server_name(cfg->user_id) ||
	    strlen(cfg->user_id) > MX_ID_MAX) {
		snprintf(errbuf, errlen, "user id \"%s\" is not a Matrix user id like "
		                         "@faqbot:example.org",
		         cfg->user_id ? cfg->user_id : "");
		return ERR_INVALID;
	}
	if ((!cfg->access_token || !*cfg->access_token) &&
	    (!cfg->password || !*cfg->password) && !cfg->state_dir) {
		snprintf(errbuf, errlen, "neither an access token nor a password is "
		                         "configured");
		return ERR_INVALID;
	}
	if (cfg->access_token && strlen(cfg->access_token) >= MATRIX_TOKEN_MAX) {
		snprintf(errbuf, errlen, "access token is too long");
		return ERR_INVALID;
	}
	if (cfg->mod_room && *cfg->mod_room && cfg->mod_room[0] != '!') {
		snprintf(errbuf, errlen, "moderators' room \"%s\" must be a room id "
		                         "(!...:server)",
		         cfg->mod_room);
		return ERR_INVALID;
	}
	e = curl_dl_load(errbuf, errlen);
	if (e != ERR_OK)
		return e;
	e = check_url(cfg->homeserver, errbuf, errlen);
	if (e != ERR_OK)
		return e;
	e = state_dir_prepare(cfg->state_dir, errbuf, errlen);
	if (e != ERR_OK)
		return e;

	m = calloc(1, sizeof(*m));
	if (!m) {
		e = ERR_NOMEM;
		goto fail;
	}
	m->hs = strs_dup(cfg->homeserver);
	m->user_id = strs_dup(cfg->user_id);
	m->state_dir = strs_dup(cfg->state_dir);
	colon = strchr(cfg->user_id, ':');
	m->localpart = malloc((size_t)(colon - cfg->user_id));
	if (!m->hs || !m->user_id || !m->state_dir || !m->localpart) {
		e = ERR_NOMEM;
		goto fail;
	}
	memcpy(m->localpart, cfg->user_id + 1, (size_t)(colon - cfg->user_id - 1));
	m->localpart[colon - cfg->user_id - 1] = '\0';
	n = strlen(m->hs);
	while (n > 0 && m->hs[n - 1] == '/')
		m->hs[--n] = '\0';
	if ((cfg->password && *cfg->password && !(m->password = strs_dup(cfg->password))) ||
	    (cfg->mod_room && *cfg->mod_room && !(m->mod_room = strs_dup(cfg->mod_room)))) {
		e = ERR_NOMEM;
		goto fail;
	}
	if (cfg->access_token)
		snprintf(m->token, sizeof(m->token), "%s", cfg->access_token);
	if (cfg->device_id)
		snprintf(m->device, sizeof(m->device), "%s", cfg->device_id);
	e = strs_list_copy(cfg->rooms, cfg->n_rooms, &m->rooms);
	m->n_rooms = m->rooms ? cfg->n_rooms : 0;
	if (e == ERR_OK)
		e = strs_list_copy(cfg->allow_invites, cfg->n_allow_invites, &m->allow);
	m->n_allow = m->allow ? cfg->n_allow_invites : 0;
	if (e == ERR_OK)
		e = strs_list_copy(cfg->moderators, cfg->n_moderators, &m->mods);
	m->n_mods = m->mods ? cfg->n_moderators : 0;
	if (e != ERR_OK)
		goto fail;
	m->req_timeout = cfg->request_timeout_ms > 0 ? cfg->request_timeout_ms
	                                             : MATRIX_REQUEST_TIMEOUT_MS;
	m->sync_timeout = cfg->sync_timeout_ms > 0 ? cfg->sync_timeout_ms
	                                           : MATRIX_SYNC_TIMEOUT_MS;
	m->backoff_max = cfg->backoff_max_ms > 0 ? cfg->backoff_max_ms
	                                         : MATRIX_BACKOFF_MAX_MS;
	if (m->backoff_max < MATRIX_BACKOFF_BASE_MS)
		m->backoff_max = MATRIX_BACKOFF_BASE_MS;
	m->max_body = cfg->max_body ? cfg->max_body : MATRIX_MAX_BODY;
	m->max_age_s = cfg->max_age_s ? cfg->max_age_s : MATRIX_MAX_AGE_S;
	m->timeline_limit = cfg->timeline_limit > 0 ? cfg->timeline_limit
	                                            : MATRIX_TIMELINE_LIMIT;
	m->rng = backoff_seed();
	m->start_ms = clock_wall_ms();
	m->tick.wake_fd = -1;
	m->wake_armed = 1;

	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		e = ERR_IO;
		goto fail;
	}
	m->multi = curl_multi_init();
	if (!m->multi) {
		curl_global_cleanup();
		e = ERR_NOMEM;
		goto fail;
	}
	m->easy = curl_easy_init();
	if (!m->easy) {
		e = ERR_NOMEM;
		goto fail;
	}
	*out = m;
	return ERR_OK;
fail:
	if (e == ERR_NOMEM)
		snprintf(errbuf, errlen, "out of memory");
	else if (e == ERR_IO)
		snprintf(errbuf, errlen, "libcurl failed to initialise");
	matrix_free(m);
	return e;
}

const char *matrix_errstr(const struct matrix *m) { return m ? m->errstr : ""; }

void matrix_set_tick(struct matrix *m, const struct tr_tick *t)
{
	memset(&m->tick, 0, sizeof(m->tick));
	m->tick.wake_fd = -1;
	if (t && t->fn)
		m->tick = *t;
	m->wake_armed = 1;
}

void matrix_get_stats(const struct matrix *m, struct matrix_stats *out)
{
	*out = m->stats;
}

/* ---- HTTP ------------------------------------------------------------- */

static size_t on_body(char *data, size_t size, size_t nmemb, void *userp)
{
	struct resp *r = userp;
	size_t n = size * nmemb, ncap;
	char *nb;

	if (r->len + n > r->max) {
		r->over = 1;
		return 0; /* curl aborts with CURLE_WRITE_ERROR */
	}
	if (r->len + n + 1 > r->cap) {
		ncap = r->cap ? r->cap : 4096;
		while (ncap < r->len + n + 1)
			ncap *= 2;
		nb = realloc(r->body, ncap);
		if (!nb)
			return 0;
		r->body = nb;
		r->cap = ncap;
	}
	memcpy(r->body + r->len, data, n);
	r->len += n;
	r->body[r->len] = '\0';
	return n;
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *userp)
{
	struct resp *r = userp;
	size_t n = size * nmemb;
	char val[128], *end;
	long long secs;
	time_t when;

	if (n > 12 && n < 12 + sizeof(val) && !strncasecmp(data, "Retry-After:", 12)) {
		memcpy(val, data + 12, n - 12);
		val[n - 12] = '\0';
		val[strcspn(val, "\r\n")] = '\0';
		errno = 0;
		secs = strtoll(val, &end, 10);
		if (end != val && errno == 0 && secs >= 0 && *(end + strspn(end, " ")) == '\0') {
			r->retry_after_ms = secs > MATRIX_RETRY_AFTER_MAX_MS / 1000
			                        ? MATRIX_RETRY_AFTER_MAX_MS
			                        : secs * 1000;
		} else {
			when = curl_getdate(val + strspn(val, " "), NULL);
			if (when != (time_t)-1)
				r->retry_after_ms =
				    when * 1000LL > clock_wall_ms() ? when * 1000LL - clock_wall_ms() : 0;
		}
	}
	return n;
}

static void resp_reset(struct resp *r, size_t max)
{
	free(r->body);
	memset(r, 0, sizeof(*r));
	r->max = max;
	r->retry_after_ms = -1;
}

static void resp_release(struct resp *r)
{
	free(r->body);
	memset(r, 0, sizeof(*r));
}

/* http does one exchange. It fails only for local reasons (memory, a URL
 * too long); any network outcome is in r (status 0, cc, stopped). */
static enum err http(struct matrix *m, const char *method, const char *path,
                     const char *body, long timeout_ms, int flags, struct resp *r)
{
	char url[MATRIX_URL_MAX], auth[MATRIX_TOKEN_MAX + 32];
	struct curl_slist *hdrs = NULL, *h;
	enum err e = ERR_OK;
	CURLMsg *msg;
	int running = 1, left;
	CURL *c = m->easy;

	resp_reset(r, m->max_body);
	if ((size_t)snprintf(url, sizeof(url), "%s%s", m->hs, path) >= sizeof(url))
		return ERR_LIMIT;
	curl_easy_reset(c);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
	/* Debian's libcurl has both a CA bundle and a CA path compiled in; the
	 * bundle is read whole into every handle (about 1 MB resident), the
	 * path (/etc/ssl/certs, hashed) is looked up one certificate at a
	 * time. Still verified, against the same system store. */
	curl_easy_setopt(c, CURLOPT_CAINFO, (char *)NULL);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
	                 timeout_ms < 10000 ? timeout_ms : 10000L);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "faqbot/" FAQBOT_VERSION);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
	curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");
	if (!(flags & CALL_NO_AUTH) && m->token[0]) {
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", m->token);
		h = curl_slist_append(hdrs, auth);
		if (!h) {
			e = ERR_NOMEM;
			goto out;
		}
		hdrs = h;
	}
	if (body) {
		/* "Expect:" turns off 100-continue, a round trip for nothing */
		h = curl_slist_append(hdrs, "Expect:");
		if (h)
			hdrs = h;
		h = h ? curl_slist_append(hdrs, "Content-Type: application/json") : NULL;
		if (!h) {
			e = ERR_NOMEM;
			goto out;
		}
		hdrs = h;
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
	}
	if (strcmp(method, "GET") && strcmp(method, "POST"))
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	else if (!strcmp(method, "POST") && !body)
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, "{}");
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);

	if (curl_multi_add_handle(m->multi, c) != CURLM_OK) {
		e = ERR_IO;
		goto out;
	}
	r->cc = CURLE_OK;
	while (running) {
		struct curl_waitfd wfd;
		unsigned nfd = 0;

		if (curl_multi_perform(m->multi, &running) != CURLM_OK)
			break;
		if (!running)
			break;
		if (stopping(m, flags & CALL_LONG_POLL) ||
		    ((flags & CALL_LONG_POLL) && tick_cuts(m))) {
			r->stopped = 1;
			break;
		}
		/* the wake fd ends the wait at once; a disarmed one would
		 * end every wait, and is left to the 50 ms look */
		if ((flags & CALL_LONG_POLL) && m->tick.fn && m->tick.wake_fd >= 0 &&
		    m->wake_armed) {
			wfd.fd = m->tick.wake_fd;
			wfd.events = CURL_WAIT_POLLIN;
			wfd.revents = 0;
			nfd = 1;
		}
		curl_multi_poll(m->multi, nfd ? &wfd : NULL, nfd, MATRIX_POLL_MS, NULL);
	}
	r->cc = CURLE_ABORTED_BY_CALLBACK;
	while ((msg = curl_multi_info_read(m->multi, &left)))
		if (msg->msg == CURLMSG_DONE && msg->easy_handle == c)
			r->cc = msg->data.result;
	curl_multi_remove_handle(m->multi, c);
	if (r->cc == CURLE_OK && !r->stopped)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
	else
		r->status = 0;
out:
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
	curl_slist_free_all(hdrs);
	memset(auth, 0, sizeof(auth)); /* the token, off the stack */
	return e;
}


/* ---- the session: token and device, kept 0600 in the state dir -------- */

static enum err save_session(struct matrix *m)
{
	json_t *j = json_pack("{s:s, s:s, s:s, s:s}", "homeserver", m->hs, "user_id",
	                      m->user_id, "access_token", m->token, "device_id",
	                      m->device);
	char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
	enum err e = s ? state_write(m->state_dir, MATRIX_SESSION_FILE, s, strlen(s), 0600)
	               : ERR_NOMEM;

	if (s)
		memset(s, 0, strlen(s));
	free(s);
	json_decref(j);
	if (e != ERR_OK)
		log_error("cannot save the session in %s: %s", m->state_dir, err_str(e));
	return e;
}

/* load_session takes the stored token and device when they are for this
 * homeserver and user. A missing or foreign file is not an error. */
static void load_session(struct matrix *m, int want_token)
{
	const char *hs, *uid, *tok, *dev;
	char *buf = NULL;
	size_t len = 0;
	json_t *j;

	if (state_read(m->state_dir, MATRIX_SESSION_FILE, &buf, &len) != ERR_OK)
		return;
	j = json_loadb(buf, len, 0, NULL);
	hs = json_string_value(json_object_get(j, "homeserver"));
	uid = json_string_value(json_object_get(j, "user_id"));
	tok = json_string_value(json_object_get(j, "access_token"));
	dev = json_string_value(json_object_get(j, "device_id"));
	if (hs && uid && !strcmp(hs, m->hs) && !strcmp(uid, m->user_id)) {
		if (want_token && tok && strlen(tok) < sizeof(m->token))
			snprintf(m->token, sizeof(m->token), "%s", tok);
		if (!m->device[0] && dev && strlen(dev) < sizeof(m->device))
			snprintf(m->device, sizeof(m->device), "%s", dev);
	}
	json_decref(j);
	memset(buf, 0, len);
	free(buf);
}

static enum err call(struct matrix *m, const char *method, const char *path,
                     const char *body, int flags, struct resp *r);

/* login logs in with the password, reusing the device id, and saves the
 * new token. */
static enum err login(struct matrix *m, int flags)
{
	char *body = NULL, tok[MATRIX_TOKEN_MAX], dev[MATRIX_TOKEN_MAX];
	struct resp r = {0};
	struct mx_error me;
	enum err e;

	if (!m->password) {
		set_err(m, "the homeserver %s refused the access token and no "
		           "password is configured to log in again",
		        m->hs);
		m->fatal = 1;
		return ERR_INVALID;
	}
	e = mx_login_json(m->user_id, m->password, m->device[0] ? m->device : NULL,
	                  &body);
	if (e != ERR_OK)
		goto out;
	e = call(m, "POST", MATRIX_API "/login", body, CALL_NO_AUTH | flags, &r);
	if (e != ERR_OK && r.status >= 400) {
		mx_error_parse(r.body ? r.body : "", r.len, &me);
		set_err(m, "login as %s at %s failed: HTTP %ld %s %s", m->user_id, m->hs,
		        r.status, me.errcode, me.error);
		m->fatal = 1;
		goto out;
	}
	if (e != ERR_OK)
		goto out;
	e = mx_field_string(r.body, r.len, "access_token", tok, sizeof(tok));
	if (e == ERR_OK)
		e = mx_field_string(r.body, r.len, "device_id", dev, sizeof(dev));
	if (e != ERR_OK) {
		set_err(m, "login at %s: the response has no usable access_token and "
		           "device_id",
		        m->hs);
		m->fatal = 1;
		goto out;
	}
	memcpy(m->token, tok, sizeof(m->token));
	memcpy(m->device, dev, sizeof(m->device));
	memset(tok, 0, sizeof(tok));
	log_info("login user=%s device=%s", m->user_id, m->device);
	m->relogged = 1;
	e = save_session(m);
out:
	if (body) {
		memset(body, 0, strlen(body));
		free(body);
	}
	resp_release(&r);
	return e;
}

/* call does one request with the retry policy of the top of this file.
 * ERR_OK: a 2xx in r. ERR_INVALID: another 4xx in r (or the token is
 * refused and m->fatal is set). ERR_IO: stopped, or with CALL_ONCE a
 * network failure (m->errstr says which). */
static enum err call(struct matrix *m, const char *method, const char *path,
                     const char *body, int flags, struct resp *r)
{
	long timeout = m->req_timeout;
	int attempt = 0, relogins = 0;
	struct mx_error me;
	long long wait;
	enum err e;

	if (flags & CALL_LONG_POLL)
		timeout += m->sync_timeout;
	for (;;) {
		e = http(m, method, path, body, timeout, flags, r);
		if (e != ERR_OK)
			return e;
		if (r->stopped)
			return ERR_IO;
		if (r->status >= 200 && r->status < 300)
			return ERR_OK;
		if (r->status == 0 && (flags & CALL_ONCE)) {
			set_err(m, "cannot reach the homeserver at %s: %s", m->hs,
			        r->over ? "response too large" : curl_easy_strerror(r->cc));
			return ERR_IO;
		}
		if (r->over && (flags & CALL_SYNC))
			return ERR_LIMIT;
		mx_error_parse(r->body ? r->body : "", r->len, &me);
		/* Any 401 is a refused token (the spec has M_UNKNOWN_TOKEN and
		 * M_MISSING_TOKEN; a proxy in front may say it with no body):
		 * a server error's backoff would never get the bot back in. */
		if (r->status == 401 && !(flags & CALL_NO_AUTH)) {
			log_warn("token refused (HTTP 401 %s%s)",
			         me.errcode[0] ? me.errcode : "with no errcode",
			         me.soft_logout ? ", soft logout" : "");
			if (relogins++ || login(m, 0) != ERR_OK) {
				if (!m->errstr[0] || !m->fatal)
					set_err(m, "the homeserver %s refused the access token "
					           "(%s) and logging in again failed",
					        m->hs, me.errcode);
				m->fatal = 1;
				return ERR_INVALID;
			}
			continue;
		}
		if (r->status == 429) {
			wait = r->retry_after_ms >= 0 ? r->retry_after_ms : me.retry_after_ms;
			if (wait < 0)
				wait = backoff_ms(m, MATRIX_FAIL_SERVER, attempt);
			if (wait > MATRIX_RETRY_AFTER_MAX_MS)
				wait = MATRIX_RETRY_AFTER_MAX_MS;
			log_warn("rate limited on %s %.*s, retrying in %lld ms", method,
			         PATH_ARG(path), wait);
		} else if (r->status == 0 || r->status >= 500) {
			wait = backoff_ms(m, matrix_fail_kind(r->status, (int)r->cc), attempt);
			log_warn("%s %.*s failed (%s), retrying in %lld ms", method,
			         PATH_ARG(path),
			         r->status  ? "server error"
			         : r->over ? "response over max_body"
			                   : curl_easy_strerror(r->cc),
			         wait);
		} else {
			if (flags & CALL_ONCE)
				set_err(m, "%s %.*s: HTTP %ld %s %s", method, PATH_ARG(path),
				        r->status, me.errcode, me.error);
			return ERR_INVALID;
		}
		if (flags & CALL_ONCE && r->status != 429) {
			set_err(m, "the homeserver at %s answered HTTP %ld", m->hs, r->status);
			return ERR_IO;
		}
		m->stats.retries++;
		attempt++;
		if (nap(m, wait, flags & CALL_LONG_POLL))
			return ERR_IO;
	}
}

/* ---- rooms ------------------------------------------------------------ */

static struct matrix_room *room_get(struct matrix *m, const char *id, int create)
{
	struct matrix_room *nr;
	size_t i, ncap;

	for (i = 0; i < m->n_known; i++)
		if (!strcmp(m->known[i].id, id))
			return &m->known[i];
	if (!create)
		return NULL;
	if (m->n_known == m->cap_known) {
		ncap = m->cap_known ? m->cap_known * 2 : 16;
		nr = realloc(m->known, ncap * sizeof(*nr));
		if (!nr)
			return NULL;
		m->known = nr;
		m->cap_known = ncap;
	}
	nr = &m->known[m->n_known];
	nr->id = strs_dup(id);
	if (!nr->id)
		return NULL;
	nr->members = -1;
	nr->direct = 0;
	nr->power_asked = 0;
	nr->power = NULL;
	m->n_known++;
	return nr;
}

static void room_forget(struct matrix *m, const char *id)
{
	struct matrix_room *r = room_get(m, id, 0);

	if (!r)
		return;
	free(r->id);
	mx_power_free(r->power);
	*r = m->known[--m->n_known];
}

static struct matrix_name *name_find(struct matrix *m, const char *room,
                                     const char *user)
{
	size_t i;

	for (i = 0; i < MATRIX_NAMES_MAX; i++)
		if (m->names[i].user && !strcmp(m->names[i].user, user) &&
		    !strcmp(m->names[i].room, room))
			return &m->names[i];
	return NULL;
}

/* name_set remembers (or, name NULL, forgets) user's name in room. */
static void name_set(struct matrix *m, const char *room, const char *user,
                     const char *name)
{
	struct matrix_name *n = name_find(m, room, user);
	char *copy;

	if (!name) {
		if (n) {
			free(n->name);
			n->name = NULL;
		}
		return;
	}
	if (!n) {
		n = &m->names[m->names_next];
		m->names_next = (m->names_next + 1) % MATRIX_NAMES_MAX;
		free(n->room);
		free(n->user);
		free(n->name);
		n->room = strs_dup(room);
		n->user = strs_dup(user);
		n->name = NULL;
		if (!n->room || !n->user) {
			free(n->room);
			free(n->user);
			n->room = n->user = NULL;
			return;
		}
	}
	copy = strs_dup(name);
	if (copy) {
		free(n->name);
		n->name = copy;
	}
}

/* invite_allowed: see struct matrix_config. */
static int invite_allowed(const struct matrix *m, const char *room,
                          const char *inviter)
{
	const char *server = inviter ? mx_server_name(inviter) : NULL;
	size_t i, sl, al;
	const char *a;

	if (m->mod_room && !strcmp(room, m->mod_room))
		return 1;
	for (i = 0; i < m->n_rooms; i++)
		if (m->rooms[i] && !strcmp(m->rooms[i], room))
			return 1;
	for (i = 0; inviter && i < m->n_mods; i++)
		if (m->mods[i] && !strcmp(m->mods[i], inviter))
			return 1;
	for (i = 0; i < m->n_allow; i++) {
		a = m->allow[i];
		if (!a || !*a)
			continue;
		if (a[0] == '!' && !strcmp(a, room))
			return 1;
		if (a[0] == '@' && inviter && !strcmp(a, inviter))
			return 1;
		if (!server || a[0] == '@' || a[0] == '!' || a[0] == '#')
			continue;
		if (!strcasecmp(a, server))
			return 1;
		if (a[0] == '*' && a[1] == '.') { /* "*.example.org" */
			sl = strlen(server);
			al = strlen(a + 1);
			if (sl > al && !strcasecmp(server + sl - al, a + 1))
				return 1;
		}
	}
	return 0;
}

/* join joins a room id or alias; a failure is logged, not fatal. */
static enum err join(struct matrix *m, const char *target)
{
	char path[MATRIX_URL_MAX], e_id[3 * MX_ID_MAX + 1];
	struct resp r = {0};
	struct mx_error me;
	enum err e;

	e = esc(e_id, sizeof(e_id), target);
	if (e != ERR_OK)
		return e;
	e = fmt_path(path, sizeof(path), MATRIX_API "/join/%s", e_id);
	if (e != ERR_OK)
		return e;
	e = call(m, "POST", path, "{}", 0, &r);
	if (e == ERR_OK) {
		m->stats.joins++;
		log_info("join room=%s", target);
	} else if (r.status) {
		mx_error_parse(r.body ? r.body : "", r.len, &me);
		log_warn("join room=%s failed: HTTP %ld %s", target, r.status, me.errcode);
	}
	resp_release(&r);
	return e;
}

static void decline(struct matrix *m, const char *room)
{
	char path[MATRIX_URL_MAX], e_id[3 * MX_ID_MAX + 1];
	struct resp r = {0};

	if (esc(e_id, sizeof(e_id), room) != ERR_OK)
		return;
	if (fmt_path(path, sizeof(path), MATRIX_API "/rooms/%s/leave", e_id) == ERR_OK &&
	    call(m, "POST", path, "{}", 0, &r) == ERR_OK)
		m->stats.declined++;
	resp_release(&r);
}

/* members asks the server for a room's member count, once a room. */
static long members(struct matrix *m, struct matrix_room *room)
{
	char path[MATRIX_URL_MAX], e_id[3 * MX_ID_MAX + 1];
	struct resp r = {0};
	long n;

	if (room->members >= 0)
		return room->members;
	if (esc(e_id, sizeof(e_id), room->id) != ERR_OK)
		return -1;
	if (fmt_path(path, sizeof(path), MATRIX_API "/rooms/%s/joined_members", e_id) ==
	        ERR_OK &&
	    call(m, "GET", path, NULL, 0, &r) == ERR_OK) {
		if (mx_joined_count(r.body, r.len, &n) == ERR_OK) {
			room->members = n;
		} else {
			/* asked again it would say the same, once a message */
			log_warn("joined members of room=%s unreadable", room->id);
			room->members = 0;
		}
	} else if (r.status >= 400) {
		room->members = 0; /* not ours to know: do not ask again */
	}
	resp_release(&r);
	return room->members;
}

/* power_of: user's level in room, from the power levels a sync brought,
 * else asked of the server once (after a restart the sync brings only
 * state that changed since); -1 when the room has none the bot knows. */
static int power_of(struct matrix *m, struct matrix_room *room, const char *user)
{
	char path[MATRIX_URL_MAX], e_id[3 * MX_ID_MAX + 1];
	struct resp r = {0};

	if (!room->power && !room->power_asked && esc(e_id, sizeof(e_id), room->id) == ERR_OK &&
	    fmt_path(path, sizeof(path), MATRIX_API "/rooms/%s/state/m.room.power_levels",
	             e_id) == ERR_OK) {
		/* the empty state key's trailing slash is optional (spec), and
		 * not every server routes it */
		if (call(m, "GET", path, NULL, 0, &r) == ERR_OK &&
		    mx_power_parse(r.body, r.len, &room->power, NULL) != ERR_OK)
			log_warn("power levels of room=%s unreadable", room->id);
		/* any HTTP answer (404: the room has none) is the answer;
		 * a stop is not */
		room->power_asked = r.status != 0;
		resp_release(&r);
	}
	return room->power ? mx_power_level(room->power, user) : -1;
}

/* ---- earlier answers -------------------------------------------------- */

static const char *answer_find(const struct matrix *m, const char *event)
{
	size_t i;

	for (i = 0; i < MATRIX_ANSWERS_MAX; i++)
		if (m->answers[i].event && !strcmp(m->answers[i].event, event))
			return m->answers[i].reply;
	return NULL;
}

/* answer_put remembers that reply answered event; a replayed reply (same
 * ids) takes no second slot. Out of memory forgets it, nothing worse. */
static void answer_put(struct matrix *m, const char *event, const char *reply)
{
	struct matrix_answer *a = NULL;
	char *ev, *rp;
	size_t i;

	for (i = 0; i < MATRIX_ANSWERS_MAX && !a; i++)
		if (m->answers[i].event && !strcmp(m->answers[i].event, event))
			a = &m->answers[i];
	if (!a) {
		a = &m->answers[m->answers_next];
		m->answers_next = (m->answers_next + 1) % MATRIX_ANSWERS_MAX;
	}
	ev = strs_dup(event);
	rp = strs_dup(reply);
	free(a->event);
	free(a->reply);
	a->event = ev && rp ? ev : NULL;
	a->reply = ev && rp ? rp : NULL;
	if (!a->event) {
		free(ev);
		free(rp);
	}
}

/* ---- sending ---------------------------------------------------------- */

/* send_event PUTs content into room with the given transaction id. On
 * ERR_OK event_id (may be NULL) has the new event's id. */
static enum err send_event(struct matrix *m, const char *room, const char *txn,
                           const char *content, char *event_id, size_t idlen)
{
	char path[MATRIX_URL_MAX], e_room[3 * MX_ID_MAX + 1];
	struct resp r = {0};
	struct mx_error me;
	enum err e;

	e = esc(e_room, sizeof(e_room), room);
	if (e != ERR_OK)
		return e;
	/* txn is URL-safe by construction (mx_txn_*) */
	e = fmt_path(path, sizeof(path), MATRIX_API "/rooms/%s/send/m.room.message/%s",
	             e_room, txn);
	if (e != ERR_OK)
		return e;
	e = call(m, "PUT", path, content, 0, &r);
	if (e == ERR_OK && event_id &&
	    mx_field_string(r.body, r.len, "event_id", event_id, idlen) != ERR_OK)
		snprintf(event_id, idlen, "?");
	if (e == ERR_INVALID && !m->fatal) {
		mx_error_parse(r.body ? r.body : "", r.len, &me);
		log_error("send room=%s txn=%s failed: HTTP %ld %s", room, txn, r.status,
		          me.errcode);
	}
	resp_release(&r);
	return e;
}

/* post_notice posts the core's text to the moderators' room as an
 * m.notice with transaction id txn; from ("tick", "reply") names where it
 * came from in the log, which never has its text. A refused post is
 * logged and not an error. */
static enum err post_notice(struct matrix *m, const char *text, const char *txn,
                            const char *from)
{
	char sent[MX_ID_MAX + 1], *json = NULL;
	enum err e;

	if (!m->mod_room) {
		log_info("notice for the moderators (from a %s) dropped: no moderators' "
		         "room configured",
		         from);
		return ERR_OK;
	}
	e = mx_notice_json(text, &json);
	if (e != ERR_OK) {
		log_error("cannot build the notice for the moderators (from a %s): %s", from,
		          err_str(e));
		return ERR_OK;
	}
	e = send_event(m, m->mod_room, txn, json, sent, sizeof(sent));
	free(json);
	if (e == ERR_OK) {
		m->stats.notices++;
		log_info("notice room=%s from=%s txn=%s sent=%s", m->mod_room, from, txn, sent);
	} else if (e == ERR_IO) {
		log_warn("notice for the moderators (from a %s) not sent: stopping", from);
	} else if (e != ERR_INVALID) { /* a refusal is logged by send_event */
		log_error("notice for the moderators (from a %s) not sent: %s", from,
		          err_str(e));
	}
	/* only a stop or a fatal refusal concerns the caller */
	return e == ERR_IO || m->fatal ? e : ERR_OK;
}

/* ---- ticks: the core's work no message brings (transport.h) ---------- */

/* wake_set: the core asks for a tick (its flag, or its fd readable). */
static int wake_set(struct matrix *m)
{
	struct pollfd p;

	if (m->tick.wake && *m->tick.wake)
		return 1;
	if (m->tick.wake_fd < 0)
		return 0;
	p.fd = m->tick.wake_fd;
	p.events = POLLIN;
	p.revents = 0;
	if (poll(&p, 1, 0) <= 0)
		return 0;
	if (p.revents & POLLNVAL) {
		/* closed under us: every wait on it would return at once */
		log_warn("the tick's wake fd %d is not open; wakes by fd are off", p.fd);
		m->tick.wake_fd = -1;
		return 0;
	}
	return (p.revents & (POLLIN | POLLHUP | POLLERR)) != 0;
}

/* woken: a wake that counts. One still there after a tick (set again
 * while it ran, or an fd nobody drains) is disarmed until it clears: it
 * would cut every poll the moment it began, and no batch would come in. */
static int woken(struct matrix *m)
{
	if (!m->tick.fn)
		return 0;
	if (!wake_set(m)) {
		m->wake_armed = 1;
		return 0;
	}
	return m->wake_armed;
}

/* tick_run calls the tick and keeps a copy of its notice for
 * notice_flush (the text is the core's, valid only until its next call). */
static void tick_run(struct matrix *m)
{
	struct tr_notice n;
	enum err e;

	memset(&n, 0, sizeof(n));
	m->tick_at = clock_mono_ms();
	m->stats.ticks++;
	e = m->tick.fn(m->tick_ctx, &n);
	if (e != ERR_OK)
		log_warn("tick failed: %s", err_str(e));
	else if (n.mod_text && *n.mod_text && !(m->notice = strs_dup(n.mod_text)))
		log_error("notice for the moderators dropped: out of memory");
	m->wake_armed = !wake_set(m);
}

/* tick_cuts is asked in a long poll's waits: it runs a tick due by the
 * clock right there (the poll goes on), and says whether the wait must
 * end: for a wake (the tick runs next, between batches) or a notice to
 * post. */
static int tick_cuts(struct matrix *m)
{
	if (!m->tick.fn || !m->since)
		return 0; /* a first start's retries: not serving yet */
	if (woken(m))
		return 1;
	if (!m->notice && clock_mono_ms() - m->tick_at >= TR_TICK_MS)
		tick_run(m);
	return m->notice != NULL;
}

/* between runs a tick when one is due and posts its notice; called where
 * no reply is in flight (before a sync, between messages). */
static enum err between(struct matrix *m)
{
	char txn[MX_TXN_MAX];
	enum err e;

	if (m->tick.fn && !m->notice && (woken(m) || clock_mono_ms() - m->tick_at >= TR_TICK_MS))
		tick_run(m);
	if (!m->notice)
		return ERR_OK;
	e = mx_txn_notice(m->start_ms, (long)getpid(), ++m->notice_n, txn, sizeof(txn));
	if (e == ERR_OK)
		e = post_notice(m, m->notice, txn, "tick");
	free(m->notice);
	m->notice = NULL;
	return e;
}

/* ---- handling a batch ------------------------------------------------- */

/* reply_json builds the reply to a with what the handler said: directed
 * to out->mention when that is a user id (not the bot's), else to the
 * asker; with a link to see_event's answer (or to it) when that is an
 * event id. */
static enum err reply_json(struct matrix *m, const struct mx_action *a,
                           const struct tr_reply *out, char **json)
{
	char target[MX_ID_MAX + 1], *link = NULL;
	const char *earlier = NULL;
	struct mx_reply rep;
	enum err e;

	memset(&rep, 0, sizeof(rep));
	rep.text = out->text;
	rep.in_reply_to = a->event_id;
	rep.thread_root = a->thread_root;
	rep.mention = a->sender;
	if (out->mention) {
		if (mx_mention_resolve(out->mention, a->sender, target, sizeof(target)) ==
		        ERR_OK &&
		    strcmp(target, m->user_id)) {
			rep.mention = target; /* and not the asker: it is not for them */
			rep.directed = 1;
		} else {
			log_info("reply room=%s event=%s: directed to no valid user id; "
			         "answering the asker",
			         a->room_id, a->event_id);
		}
	}
	if (out->see_event && mx_id_valid(out->see_event, '$')) {
		earlier = answer_find(m, out->see_event);
		rep.see_answer = earlier != NULL;
		e = mx_matrix_to_link(a->room_id, earlier ? earlier : out->see_event,
		                      mx_server_name(m->user_id), &link);
		if (e != ERR_OK)
			log_warn("reply room=%s event=%s: no link to the earlier message: %s",
			         a->room_id, a->event_id, err_str(e));
		rep.see_link = link;
	} else if (out->see_event) {
		log_info("reply room=%s event=%s: the earlier message is not an event id; "
		         "no link",
		         a->room_id, a->event_id);
	}
	e = mx_reply_json(&rep, json);
	free(link);
	return e;
}

static enum err handle_message(struct matrix *m, const struct mx_action *a,
                               tr_handler_fn fn, void *ctx)
{
	char txn[MX_TXN_MAX], sent[MX_ID_MAX + 1], *json = NULL;
	struct tr_message msg;
	struct tr_reply out;
	struct mx_alert al;
	struct matrix_room *room;
	struct matrix_name *nm;
	long n;
	enum err e = ERR_OK;

	if (a->ignore != MX_IGN_NONE) {
		if (a->ignore == MX_IGN_ENCRYPTED)
			log_warn("encrypted message room=%s event=%s cannot be read",
			         a->room_id, a->event_id);
		return ERR_OK;
	}
	/* the moderators talk among themselves: only their commands ("!stats")
	 * reach the core from their room */
	if (m->mod_room && !strcmp(a->room_id, m->mod_room) && (!a->body || a->body[0] != '!'))
		return ERR_OK;
	if (m->max_age_s > 0 && a->ts > 0 && clock_wall_ms() - a->ts > m->max_age_s * 1000LL) {
		log_info("old message room=%s event=%s not answered", a->room_id,
		         a->event_id);
		return ERR_OK;
	}
	m->stats.messages++;
	room = room_get(m, a->room_id, 1);
	n = room ? members(m, room) : -1;
	memset(&msg, 0, sizeof(msg));
	msg.room = a->room_id;
	msg.sender = a->sender;
	msg.sender_name = a->sender_name;
	if (!msg.sender_name && (nm = name_find(m, a->room_id, a->sender)))
		msg.sender_name = nm->name;
	msg.event_id = a->event_id;
	msg.text = a->body;
	msg.thread_root = a->thread_root;
	msg.bot_name = m->localpart;
	msg.ts_ms = a->ts;
	msg.direct = room && (room->direct || n == 2);
	msg.mentions_bot = a->mentions_bot;
	msg.sender_account = a->sender; /* the homeserver vouches for it */
	msg.sender_power = room ? power_of(m, room, a->sender) : -1;
	memset(&out, 0, sizeof(out));
	e = fn(ctx, &msg, &out);
	if (e != ERR_OK) {
		log_warn("handler failed room=%s event=%s: %s", a->room_id, a->event_id,
		         err_str(e));
		return ERR_OK;
	}
	if (out.reply && out.text && *out.text) {
		e = reply_json(m, a, &out, &json);
		if (e == ERR_OK)
			e = mx_txn_reply(a->event_id, txn, sizeof(txn));
		if (e != ERR_OK) {
			log_error("cannot build reply room=%s event=%s: %s", a->room_id,
			          a->event_id, err_str(e));
			e = ERR_OK;
		} else {
			e = send_event(m, a->room_id, txn, json, sent, sizeof(sent));
			if (e == ERR_OK && mx_id_valid(sent, '$'))
				answer_put(m, a->event_id, sent);
			if (e == ERR_OK) {
				m->stats.replies++;
				log_info("reply room=%s event=%s class=%s id=%s sent=%s",
				         a->room_id, a->event_id, out.kind ? out.kind : "?",
				         out.entry_id ? out.entry_id : "-", sent);
			}
		}
		free(json);
		json = NULL;
		if (e == ERR_INVALID && !m->fatal)
			e = ERR_OK; /* this room refuses us: go on with the others */
		if (e != ERR_OK)
			return e;
	}
	if (out.alert_moderators && m->mod_room) {
		memset(&al, 0, sizeof(al));
		al.room_id = a->room_id;
		al.event_id = a->event_id;
		al.sender = a->sender;
		al.sender_name = msg.sender_name;
		al.kind = out.kind ? out.kind : "crisis";
		al.entry_id = out.entry_id;
		al.via = mx_server_name(m->user_id);
		al.mentions = (const char *const *)m->mods;
		al.n_mentions = m->n_mods;
		e = mx_alert_json(&al, &json);
		if (e == ERR_OK)
			e = mx_txn_alert(a->event_id, txn, sizeof(txn));
		if (e == ERR_OK) {
			e = send_event(m, m->mod_room, txn, json, sent, sizeof(sent));
			if (e == ERR_OK) {
				m->stats.alerts++;
				log_info("alert room=%s event=%s class=%s sent=%s", a->room_id,
				         a->event_id, al.kind, sent);
			}
		} else {
			log_error("cannot build alert room=%s event=%s: %s", a->room_id,
			          a->event_id, err_str(e));
			e = ERR_OK;
		}
		free(json);
		if (e == ERR_INVALID && !m->fatal)
			e = ERR_OK;
		if (e != ERR_OK)
			return e;
	}
	if (out.mod_text && *out.mod_text) {
		/* derived from the event, like the reply: a replay posts it once */
		e = mx_txn_mod(a->event_id, txn, sizeof(txn));
		if (e == ERR_OK)
			e = post_notice(m, out.mod_text, txn, "reply");
	}
	return e;
}

/* handle_batch acts on one sync response. answer = 0 on the first start:
 * memberships are acted on, messages are not (no backlog). A non-OK return
 * means "stop here and do not save since". */
static enum err handle_batch(struct matrix *m, const struct mx_sync *s,
                             tr_handler_fn fn, void *ctx, int answer)
{
	struct matrix_room *room;
	size_t i, backlog = 0;
	enum err e = ERR_OK;

	if (s->skipped)
		log_warn("sync: %zu malformed pieces skipped", s->skipped);
	if (s->repaired)
		log_info("sync: %zu strings read after a repair (a lone surrogate, a NUL, "
		         "bytes not UTF-8)",
		         s->repaired);
	if (s->gaps)
		log_warn("sync: %zu rooms had a timeline gap; older messages there "
		         "are not answered",
		         s->gaps);
	m->stats.skipped += s->skipped;
	for (i = 0; i < s->n && e == ERR_OK; i++) {
		const struct mx_action *a = &s->actions[i];

		if (stopping(m, 0) || (m->stop && *m->stop && a->kind == MX_ACT_MESSAGE &&
		                       a->ignore == MX_IGN_NONE))
			return ERR_IO; /* finish no more: the rest replays next start */
		if (answer && a->kind == MX_ACT_MESSAGE && a->ignore == MX_IGN_NONE) {
			/* a long batch must not hold the tick back */
			e = between(m);
			if (m->fatal)
				return ERR_INVALID;
			if (e != ERR_OK)
				return e;
		}
		switch (a->kind) {
		case MX_ACT_INVITE:
			if (invite_allowed(m, a->room_id, a->sender)) {
				log_info("invite room=%s from=%s accepted", a->room_id,
				         a->sender ? a->sender : "?");
				if (join(m, a->room_id) == ERR_OK && a->is_direct &&
				    (room = room_get(m, a->room_id, 1)))
					room->direct = 1;
			} else {
				log_info("invite room=%s from=%s declined (not in "
				         "allow_invites)",
				         a->room_id, a->sender ? a->sender : "?");
				decline(m, a->room_id);
			}
			break;
		case MX_ACT_JOINED: log_info("joined room=%s", a->room_id); break;
		case MX_ACT_LEFT:
			log_info("left room=%s", a->room_id);
			room_forget(m, a->room_id);
			break;
		case MX_ACT_KICKED:
			log_warn("kicked room=%s by=%s", a->room_id, a->sender ? a->sender : "?");
			room_forget(m, a->room_id);
			break;
		case MX_ACT_BANNED:
			log_warn("banned room=%s by=%s", a->room_id, a->sender ? a->sender : "?");
			room_forget(m, a->room_id);
			break;
		case MX_ACT_NAME:
			name_set(m, a->room_id, a->sender, a->sender_name);
			break;
		case MX_ACT_SUMMARY:
			room = room_get(m, a->room_id, 1);
			if (room)
				room->members = a->members;
			break;
		case MX_ACT_POWER: {
			struct mx_power *p = a->power ? mx_power_dup(a->power) : NULL;

			room = room_get(m, a->room_id, 1);
			if (room && p) {
				mx_power_free(room->power);
				room->power = p;
				room->power_asked = 1;
			} else {
				mx_power_free(p); /* no memory: the old levels stay */
			}
			break;
		}
		case MX_ACT_MESSAGE:
			if (!answer) {
				backlog += a->ignore == MX_IGN_NONE;
				break;
			}
			e = handle_message(m, a, fn, ctx);
			break;
		}
		if (m->fatal)
			return ERR_INVALID;
	}
	if (backlog)
		log_info("first start: %zu earlier messages not answered", backlog);
	return e;
}

/* ---- start-up and the loop -------------------------------------------- */

static enum err whoami(struct matrix *m)
{
	char uid[MX_ID_MAX + 1], dev[MATRIX_TOKEN_MAX];
	struct resp r = {0};
	struct mx_error me;
	enum err e;

	e = call(m, "GET", MATRIX_API "/account/whoami", NULL, CALL_ONCE, &r);
	if (e == ERR_INVALID && !m->fatal) {
		mx_error_parse(r.body ? r.body : "", r.len, &me);
		set_err(m, "whoami at %s failed: HTTP %ld %s %s", m->hs, r.status,
		        me.errcode, me.error);
		m->fatal = 1;
	}
	if (e != ERR_OK)
		goto out;
	if (mx_field_string(r.body, r.len, "user_id", uid, sizeof(uid)) != ERR_OK) {
		set_err(m, "whoami at %s: no user_id in the answer; is %s a Matrix "
		           "homeserver?",
		        m->hs, m->hs);
		e = ERR_PARSE;
		goto out;
	}
	if (strcmp(uid, m->user_id)) {
		set_err(m, "the access token is for %s, not for the configured %s", uid,
		        m->user_id);
		e = ERR_INVALID;
		goto out;
	}
	if (mx_field_string(r.body, r.len, "device_id", dev, sizeof(dev)) == ERR_OK &&
	    strcmp(dev, m->device)) {
		memcpy(m->device, dev, sizeof(m->device));
	}
	log_info("whoami user=%s device=%s", uid, m->device[0] ? m->device : "?");
out:
	resp_release(&r);
	return e;
}

static enum err make_filter(struct matrix *m)
{
	char path[MATRIX_URL_MAX], e_uid[3 * MX_ID_MAX + 1], *body = NULL;
	struct resp r = {0};
	enum err e;

	e = esc(e_uid, sizeof(e_uid), m->user_id);
	if (e == ERR_OK)
		e = mx_filter_json(m->timeline_limit, &body);
	if (e != ERR_OK)
		goto out;
	e = fmt_path(path, sizeof(path), MATRIX_API "/user/%s/filter", e_uid);
	if (e == ERR_OK)
		e = call(m, "POST", path, body, 0, &r);
	if (e == ERR_OK)
		e = mx_field_string(r.body, r.len, "filter_id", m->filter_id,
		                    sizeof(m->filter_id));
	if (e != ERR_OK && e != ERR_IO && !m->fatal) {
		/* refused, or an answer with no usable id: each sync carries the
		 * filter itself instead (a longer URL, the same batches) */
		log_warn("the homeserver did not take the sync filter (%s); each sync "
		         "will carry it",
		         err_str(e));
		m->filter_id[0] = '\0';
		e = ERR_OK;
	}
out:
	free(body);
	resp_release(&r);
	return e;
}

static enum err save_since(struct matrix *m, const char *since)
{
	enum err e;
	char *copy;

	if (m->since && !strcmp(m->since, since))
		return ERR_OK; /* an empty long poll: nothing moved */
	e = state_write(m->state_dir, MATRIX_SINCE_FILE, since, strlen(since), 0600);
	if (e != ERR_OK) {
		set_err(m, "cannot save the sync position in %s: %s", m->state_dir,
		        err_str(e));
		return e;
	}
	copy = strs_dup(since);
	if (!copy)
		return ERR_NOMEM;
	free(m->since);
	m->since = copy;
	return ERR_OK;
}

/* mark_healthy leaves the mark `faqbot health` reads (health.h) after a
 * completed sync. At most every HEALTH_MARK_EVERY_S: a busy room can sync
 * many times a second, and each mark costs two fsyncs. A failure is not
 * fatal (the bot still serves); it is logged once, and the probe will call
 * the bot stale, which is what an admin should then look at. */
static void mark_healthy(struct matrix *m)
{
	long long t = clock_mono_ms();
	enum err e;

	if (m->health_at && t - m->health_at < HEALTH_MARK_EVERY_S * 1000LL)
		return;
	e = health_mark(m->state_dir, time(NULL));
	if (e != ERR_OK) {
		if (!m->health_warned)
			log_warn("cannot write the health mark %s/%s: %s", m->state_dir,
			         HEALTH_STATUS_FILE, err_str(e));
		m->health_warned = 1;
		return;
	}
	m->health_at = t;
	m->health_warned = 0;
}

/* unreadable decides about a /sync response that could not be read,
 * whose next_batch the scan found (s->unreadable). The first time, it is
 * asked for again after a backoff (*skip = 0): a glitch on the way loses
 * nothing. The MATRIX_UNREADABLE_ASKS-th time, it is skipped (*skip = 1):
 * its messages are lost, the log says so without any of their text, and
 * the moderators' room gets one notice (its transaction id from the
 * batch's since, so a replay after a crash posts it once). A next_batch
 * that goes nowhere (the since asked with) is never skipped to: that
 * would ask for the same batch at once, forever. ERR_IO: stopped. */
static enum err unreadable(struct matrix *m, const struct mx_sync *s,
                           const char *why, int *attempt, int *skip)
{
	char txn[MX_TXN_MAX], key[MX_NEXT_BATCH_MAX + 16], when[32], text[512];
	struct tm tm;
	time_t t;

	*skip = 0;
	if (m->since && !strcmp(s->next_batch, m->since)) {
		log_warn("sync: unreadable response (%s) that goes nowhere; asking again",
		         why);
		return nap(m, backoff_ms(m, MATRIX_FAIL_SERVER, (*attempt)++), 1) ? ERR_IO
		                                                                  : ERR_OK;
	}
	if (++m->unreadable_asks < MATRIX_UNREADABLE_ASKS) {
		log_warn("sync: unreadable response (%s); asking once more before "
		         "skipping it",
		         why);
		return nap(m, backoff_ms(m, MATRIX_FAIL_SERVER, (*attempt)++), 1) ? ERR_IO
		                                                                  : ERR_OK;
	}
	m->unreadable_asks = 0;
	m->stats.unreadable++;
	m->stats.skipped++;
	log_warn("sync: unreadable response (%s) skipped, %d times the same: the "
	         "messages in it are lost; going on from its next_batch",
	         why, MATRIX_UNREADABLE_ASKS);
	*skip = 1;
	t = time(NULL);
	if (!gmtime_r(&t, &tm) || !strftime(when, sizeof(when), "%Y-%m-%d %H:%M", &tm))
		snprintf(when, sizeof(when), "now");
	snprintf(text, sizeof(text),
	         "faqbot could not read a batch of messages from the homeserver and "
	         "had to skip it: messages sent around %s UTC may have gone "
	         "unanswered, a crisis among them. Please look through the rooms "
	         "for anything it missed.",
	         when);
	snprintf(key, sizeof(key), "%s%s", m->since ? "since:" : "first:",
	         m->since ? m->since : s->next_batch);
	if (mx_txn_skip(key, txn, sizeof(txn)) != ERR_OK)
		return ERR_OK;
	return post_notice(m, text, txn, "skipped batch") == ERR_IO ? ERR_IO : ERR_OK;
}

/* sync_once does one /sync and handles it. ERR_IO: stopped. */
static enum err sync_once(struct matrix *m, tr_handler_fn fn, void *ctx,
                          int *attempt)
{
	char path[MATRIX_URL_MAX], e_since[3 * 4096 + 1], e_filter[3 * 1024 + 1];
	struct mx_sync *s = NULL;
	struct resp r = {0};
	char why[128] = "";
	int first = !m->since;
	enum err e;

	if (first || !m->filter_id[0]) {
		/* The first start answers no backlog, so its sync asks for one
		 * event a room (an inline filter of the same shape): a group's
		 * history of 50 messages in 100 rooms would otherwise be parsed
		 * whole, the peak of the bot's memory (26 MB, against 16). */
		char *inline_filter = NULL;

		e = mx_filter_json(first ? 1 : m->timeline_limit, &inline_filter);
		if (e == ERR_OK)
			e = esc(e_filter, sizeof(e_filter), inline_filter);
		free(inline_filter);
	} else {
		e = esc(e_filter, sizeof(e_filter), m->filter_id);
	}
	if (e == ERR_OK && !first)
		e = esc(e_since, sizeof(e_since), m->since);
	if (e != ERR_OK)
		return e;
	if (first)
		e = fmt_path(path, sizeof(path),
		         MATRIX_API "/sync?filter=%s&timeout=0&set_presence=offline",
		         e_filter);
	else
		e = fmt_path(path, sizeof(path),
		             MATRIX_API "/sync?filter=%s&timeout=%ld&set_presence=offline"
		                        "&since=%s",
		             e_filter, m->sync_timeout, e_since);
	if (e != ERR_OK)
		return e;
	e = call(m, "GET", path, NULL, CALL_SYNC | (first ? 0 : CALL_LONG_POLL), &r);
	m->stats.syncs++;
	if (e == ERR_INVALID && !m->fatal) {
		struct mx_error me;

		mx_error_parse(r.body ? r.body : "", r.len, &me);
		log_error("sync refused: HTTP %ld %s %s", r.status, me.errcode, me.error);
		e = nap(m, backoff_ms(m, MATRIX_FAIL_SERVER, (*attempt)++), 1) ? ERR_IO : ERR_OK;
		goto out;
	}
	if (e == ERR_LIMIT) /* over max_body: what came is a beginning, which
	                     * holds the next_batch if the server wrote it
	                     * before the rooms; read as a body cut short */
		log_warn("sync: response over max_body (%zu bytes)", m->max_body);
	else if (e != ERR_OK)
		goto out;
	e = mx_sync_parse(r.body ? r.body : "", r.len, m->user_id, &s, why, sizeof(why));
	if (e == ERR_PARSE || e == ERR_NOMEM) {
		/* nothing to go past it by: ask again, as after a server error
		 * (a glitch on the way, a proxy's page, memory short for now) */
		m->stats.skipped++;
		log_warn("sync: unreadable response, no next_batch to go on from (%s); "
		         "asking again",
		         e == ERR_NOMEM ? "out of memory" : why);
		e = nap(m, backoff_ms(m, MATRIX_FAIL_SERVER, (*attempt)++), 1) ? ERR_IO : ERR_OK;
		goto out;
	}
	if (e != ERR_OK)
		goto out;
	resp_release(&r); /* the body can be large; the actions are copies */
	if (s->unreadable) {
		int skip = 0;

		e = unreadable(m, s, why, attempt, &skip);
		if (e != ERR_OK || !skip)
			goto out;
	} else {
		m->unreadable_asks = 0;
	}
	*attempt = 0;
	m->stats.batches++;
	e = handle_batch(m, s, fn, ctx, !first);
	if (e != ERR_OK)
		goto out;
	e = save_since(m, s->next_batch);
	if (e == ERR_OK)
		mark_healthy(m);
	if (e == ERR_OK && first)
		log_info("first start: sync position recorded");
out:
	mx_sync_free(s);
	resp_release(&r);
	/* A batch leaves behind the freed nodes of a parsed JSON tree; give
	 * the whole pages among them back to the system, so a bot that runs
	 * for months stays at the size it needs (tens of microseconds). */
	malloc_trim(0);
	return e;
}

enum err matrix_run(struct matrix *m, tr_handler_fn fn, void *ctx,
                    volatile sig_atomic_t *stop)
{
	char *since = NULL;
	int attempt = 0;
	enum err e;
	size_t i;

	m->stop = stop;
	m->stop_at = 0;
	m->fatal = 0;
	m->tick_ctx = ctx;
	m->tick_at = 0;
	m->errstr[0] = '\0';
	/* The last run's mark says nothing about this one: until a sync
	 * completes, the probe says so. */
	health_clear(m->state_dir);
	m->health_at = 0;
	load_session(m, !m->token[0]);
	if (!m->token[0] && !m->password) {
		set_err(m, "no access token, no password, and no stored session in %s",
		        m->state_dir);
		return ERR_INVALID;
	}
	if (!m->token[0]) {
		e = login(m, CALL_ONCE);
		if (e != ERR_OK) {
			if (!m->errstr[0])
				set_err(m, "cannot log in at %s", m->hs);
			return e == ERR_IO && stopping(m, 1) ? ERR_OK : e;
		}
		m->relogged = 0;
	}
	e = whoami(m);
	if (e != ERR_OK)
		return stopping(m, 1) ? ERR_OK : e;
	if (m->relogged)
		log_info("the stored token was refused; logged in again");
	e = make_filter(m);
	if (e != ERR_OK)
		return stopping(m, 1) ? ERR_OK : e;
	if (!m->since && state_read(m->state_dir, MATRIX_SINCE_FILE, &since, NULL) == ERR_OK &&
	    *since && strlen(since) <= 4096)
		m->since = since;
	else
		free(since);
	log_info("start user=%s homeserver=%s rooms=%zu resume=%s", m->user_id, m->hs,
	         m->n_rooms, m->since ? "yes" : "no (first start)");
	for (i = 0; i < m->n_rooms && !stopping(m, 1); i++)
		if (m->rooms[i])
			join(m, m->rooms[i]);
	if (m->mod_room && !stopping(m, 1))
		join(m, m->mod_room);

	while (!stopping(m, 1)) {
		/* the first tick waits for the first sync: the bot is serving */
		e = m->since ? between(m) : ERR_OK;
		if (m->fatal)
			return e == ERR_OK ? ERR_INVALID : e;
		if (e != ERR_OK)
			continue; /* stopped: the loop ends */
		e = sync_once(m, fn, ctx, &attempt);
		if (m->fatal)
			return e == ERR_OK ? ERR_INVALID : e;
		if (e == ERR_IO && m->stop && *m->stop)
			break;
		if (e != ERR_OK && e != ERR_IO)
			return e;
	}
	log_info("stop: sync position %s", m->since ? "saved" : "not recorded");
	return ERR_OK;
}
