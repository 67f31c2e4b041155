/* matrix.c -- the Matrix transport (see matrix.h): its config, new and
 * free, start-up and the loop's ops. The parts (matrix_int.h): HTTP and the
 * retry policy (matrix_http), the session and the shared re-login
 * (matrix_session), rooms (matrix_rooms), one /sync (matrix_sync), a
 * message's answer and the loop's notices (matrix_reply), the outgoing
 * queue (matrix_send); the JSON is the pure mx_* modules'.
 *
 * One thread, one curl multi handle (so connections are kept alive), an
 * easy handle an exchange: the long poll, each send in flight (one a room,
 * MATRIX_SENDS_MAX at once), a room's facts asked (matrix_ask.c,
 * MATRIX_ASKS_MAX at once), the re-login. The multi handle is driven by
 * curl's multi socket interface (matrix_http.c): curl names the sockets
 * to watch and its timer (CURLMOPT_SOCKETFUNCTION, _TIMERFUNCTION), the
 * loop polls them beside the other networks' and calls ready, which hands
 * what is ready back with curl_multi_socket_action (never a wait) and
 * takes what ended. The blocking calls left, start-up's login, whoami and
 * filter (and, with encryption, a sender device's check), poll the same
 * sockets themselves (matrix_multi_wait): curl does not let one multi
 * handle mix curl_multi_perform with socket_action.
 * A room's first message after a start may come before its member count
 * and power levels are known: they are asked, and the room's messages
 * that are not a crisis wait for them in order (matrix_ask.c says how
 * long and how many); the sync goes on meanwhile, and a batch's since is
 * saved once none of its messages, nor of an earlier batch's, waits.
 *
 * Sending: what a batch (or the loop) has to say is built, given its
 * transaction id, journaled and queued in its room's queue (matrix_send.c);
 * the queue sends it when due, in order within the room, each send with
 * its own retry state, so a room answering 429 (or hanging) holds only its
 * own queue: never another room's replies, the sync, or IRC. How failures
 * are sorted (libcmatrix's split, with our own backoff, matrix_backoff_ms),
 * for the sync and each send alike:
 *   no connection: refused, reset, DNS  -> retry within a few seconds
 *   TLS, timeout, 5xx, unusable 200     -> back off longer, retry
 *   429 M_LIMIT_EXCEEDED                -> wait Retry-After, retry
 *   401 (M_UNKNOWN_TOKEN or not)        -> the one shared re-login, then
 *                                          retry; refused again: give up
 *   any other 4xx                       -> a send is dropped and logged
 *                                          (ids, never the text)
 * Each is a deadline the loop waits on, never a sleep. A /sync that cannot
 * be read even repaired is asked for once more, then skipped to its
 * next_batch (the moderators are told); one with no next_batch is retried
 * as a server error: no batch holds the bot.
 * Order of a batch: act on everything in it (its sends queued and
 * journaled), then save `since`; a crash in between replays the batch, a
 * crash after it sends the journal at the next start, and the transaction
 * ids keep either from showing twice.
 * The loop runs the core's tick between its turns; a notice it brings is
 * queued, and the long poll makes way for it: given up (before any of its
 * answer is read) and asked again from the same position once the
 * notice's first try is over (MATRIX_NOTICE_HOLD_MS at most). */
#include "matrix_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "backoff.h"
#include "clock.h"
#include "netaddr.h"
#include "state.h"
#include "strs.h"

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
			snprintf(errbuf, errlen, "homeserver URL %s uses plain http: %s", url, why);
	} else {
		snprintf(errbuf, errlen, "homeserver URL %s: scheme %s is not https", url, scheme);
	}
out:
	curl_free(scheme);
	curl_free(host);
	curl_url_cleanup(u);
	return e;
}

/* check_config refuses what cannot work, before anything is allocated. */
static enum err check_config(const struct matrix_config *cfg, char *errbuf, size_t errlen)
{
	if (!cfg->homeserver || !*cfg->homeserver) {
		snprintf(errbuf, errlen, "no homeserver URL configured");
		return ERR_INVALID;
	}
	if (!cfg->user_id || cfg->user_id[0] != '@' || !mx_server_name(cfg->user_id) ||
	    strlen(cfg->user_id) > MX_ID_MAX) {
		snprintf(errbuf, errlen,
			 "user id \"%s\" is not a Matrix user id like "
			 "@faqbot:example.org",
			 cfg->user_id ? cfg->user_id : "");
		return ERR_INVALID;
	}
	if ((!cfg->access_token || !*cfg->access_token) && (!cfg->password || !*cfg->password) &&
	    !cfg->state_dir) {
		snprintf(errbuf, errlen, "neither an access token nor a password is configured");
		return ERR_INVALID;
	}
	if (cfg->access_token && strlen(cfg->access_token) >= MATRIX_TOKEN_MAX) {
		snprintf(errbuf, errlen, "access token is too long");
		return ERR_INVALID;
	}
	if (cfg->mod_room && *cfg->mod_room && cfg->mod_room[0] != '!') {
		snprintf(errbuf, errlen, "moderators' room \"%s\" must be a room id (!...:server)",
			 cfg->mod_room);
		return ERR_INVALID;
	}
	return ERR_OK;
}

/* copy_strings keeps owned copies of cfg's strings and lists; ERR_NOMEM. */
static enum err copy_strings(struct matrix *m, const struct matrix_config *cfg)
{
	const char *colon = strchr(cfg->user_id, ':');
	size_t n;
	enum err e;

	m->hs = strs_dup(cfg->homeserver);
	m->user_id = strs_dup(cfg->user_id);
	m->state_dir = strs_dup(cfg->state_dir);
	m->localpart = malloc((size_t)(colon - cfg->user_id));
	if (!m->hs || !m->user_id || !m->state_dir || !m->localpart)
		return ERR_NOMEM;
	memcpy(m->localpart, cfg->user_id + 1, (size_t)(colon - cfg->user_id - 1));
	m->localpart[colon - cfg->user_id - 1] = '\0';
	n = strlen(m->hs);
	while (n > 0 && m->hs[n - 1] == '/')
		m->hs[--n] = '\0';
	if ((cfg->password && *cfg->password && !(m->password = strs_dup(cfg->password))) ||
	    (cfg->mod_room && *cfg->mod_room && !(m->mod_room = strs_dup(cfg->mod_room))))
		return ERR_NOMEM;
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
	return e;
}

/* set_limits takes cfg's numbers, a default for each one left at 0. */
static void set_limits(struct matrix *m, const struct matrix_config *cfg)
{
	m->req_timeout =
		cfg->request_timeout_ms > 0 ? cfg->request_timeout_ms : MATRIX_REQUEST_TIMEOUT_MS;
	m->sync_timeout = cfg->sync_timeout_ms > 0 ? cfg->sync_timeout_ms : MATRIX_SYNC_TIMEOUT_MS;
	m->backoff_max = cfg->backoff_max_ms > 0 ? cfg->backoff_max_ms : MATRIX_BACKOFF_MAX_MS;
	if (m->backoff_max < MATRIX_BACKOFF_BASE_MS)
		m->backoff_max = MATRIX_BACKOFF_BASE_MS;
	m->max_body = cfg->max_body ? cfg->max_body : MATRIX_MAX_BODY;
	m->max_age_s = cfg->max_age_s ? cfg->max_age_s : MATRIX_MAX_AGE_S;
	m->timeline_limit = cfg->timeline_limit > 0 ? cfg->timeline_limit : MATRIX_TIMELINE_LIMIT;
}

void matrix_free(struct matrix *m)
{
	size_t i;

	if (!m)
		return;
	matrix_disk_free(m); /* what it was asked is done first */
	matrix_send_free(m);
	matrix_ask_free(m);
	matrix_sync_free(m);
	matrix_xfer_free(m, &m->sync_x);
	matrix_xfer_free(m, &m->call_x);
	matrix_xfer_free(m, &m->login_x);
	matrix_resp_release(&m->sync_r);
	matrix_resp_release(&m->login_r);
	if (m->login_body) {
		memset(m->login_body, 0, strlen(m->login_body));
		free(m->login_body);
	}
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
	mx_index_release(&m->rooms_ix);
	free(m->hs);
	free(m->user_id);
	strs_wipe_free(m->password);
	free(m->mod_room);
	free(m->state_dir);
	free(m->localpart);
	free(m->since);
	strs_list_free(m->rooms, m->n_rooms);
	strs_list_free(m->allow, m->n_allow);
	strs_list_free(m->mods, m->n_mods);
	matrix_keys_free(m);
	memset(m->token, 0, sizeof(m->token));
	free(m);
}

enum err matrix_new(const struct matrix_config *cfg, struct matrix **out, char *errbuf,
		    size_t errlen)
{
	struct matrix *m = NULL;
	enum err e;

	*out = NULL;
	e = check_config(cfg, errbuf, errlen);
	if (e == ERR_OK)
		e = curl_dl_load(errbuf, errlen);
	if (e == ERR_OK)
		e = check_url(cfg->homeserver, errbuf, errlen);
	if (e == ERR_OK)
		e = state_dir_prepare(cfg->state_dir, errbuf, errlen);
	if (e != ERR_OK)
		return e;

	m = calloc(1, sizeof(*m));
	e = m ? copy_strings(m, cfg) : ERR_NOMEM;
	if (e != ERR_OK)
		goto fail;
	set_limits(m, cfg);
	e = matrix_keys_new(m, cfg, errbuf, errlen);
	if (e != ERR_OK) {
		matrix_free(m);
		return e;
	}
	m->rng = backoff_seed();
	m->start_ms = clock_wall_ms();

	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		e = ERR_IO;
		goto fail;
	}
	e = matrix_multi_init(m);
	if (e != ERR_OK) {
		if (m->multi)
			curl_multi_cleanup(m->multi);
		m->multi = NULL;
		curl_global_cleanup();
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

const char *matrix_errstr(const struct matrix *m)
{
	return m ? m->errstr : "";
}

void matrix_get_stats(const struct matrix *m, struct matrix_stats *out)
{
	*out = m->stats;
}

/* ---- start-up and the loop -------------------------------------------- */

/* start gets the bot in: a session (stored, or a login), a token whoami
 * accepts, the sync filter, the stored sync position, and the configured
 * rooms joined. Returns 1 to serve, or 0 and in *ret what op_start
 * returns: a stop while starting is a stop (ERR_OK), not a failure. */
static int start(struct matrix *m, enum err *ret)
{
	char *since = NULL;
	size_t i;

	matrix_session_load(m, !m->token[0]);
	if (!m->token[0] && !m->password) {
		matrix_set_err(m, "no access token, no password, and no stored session in %s",
			       m->state_dir);
		*ret = ERR_INVALID;
		return 0;
	}
	if (!m->token[0]) {
		*ret = matrix_login(m, MATRIX_CALL_ONCE);
		if (*ret != ERR_OK) {
			if (!m->errstr[0])
				matrix_set_err(m, "cannot log in at %s", m->hs);
			if (*ret == ERR_IO && matrix_stopping(m, 1))
				*ret = ERR_OK;
			return 0;
		}
		m->relogged = 0;
	}
	*ret = matrix_whoami(m);
	if (*ret == ERR_OK && m->relogged)
		log_info("the stored token was refused; logged in again");
	if (*ret == ERR_OK)
		*ret = matrix_keys_start(m);
	if (*ret == ERR_OK)
		*ret = matrix_xsign_start(m);
	if (*ret == ERR_OK)
		*ret = matrix_make_filter(m);
	if (*ret != ERR_OK) {
		if (matrix_stopping(m, 1))
			*ret = ERR_OK;
		return 0;
	}
	if (!m->since && state_read(m->state_dir, MATRIX_SINCE_FILE, &since, NULL) == ERR_OK &&
	    *since && strlen(since) <= 4096)
		m->since = since;
	else
		free(since);
	log_info("start user=%s homeserver=%s rooms=%zu resume=%s", m->user_id, m->hs, m->n_rooms,
		 m->since ? "yes" : "no (first start)");
	/* what an earlier run had queued and not sent goes first; then the
	 * joins, queued like every send (not journaled: every start joins) */
	matrix_send_load(m);
	for (i = 0; i < m->n_rooms; i++)
		if (m->rooms[i])
			matrix_join(m, m->rooms[i], 0, 1);
	if (m->mod_room)
		matrix_join(m, m->mod_room, 0, 1);
	return 1;
}

/* ---- the ops (transport.h) -------------------------------------------- */

static enum err op_start(void *t, tr_handler_fn fn, void *ctx, volatile sig_atomic_t *stop)
{
	struct matrix *m = t;
	enum err e;

	m->fn = fn;
	m->ctx = ctx;
	m->stop = stop;
	m->stop_at = 0;
	m->fatal = 0;
	m->errstr[0] = '\0';
	m->alive_ms = 0;
	m->behind_ms = -1;
	m->sync_at = 0;
	if (!start(m, &e))
		return e;
	return ERR_OK;
}

/* sync_may: no sync is running, and none waits for a notice's first try,
 * a first start's joins or the shared re-login. */
static int sync_may(const struct matrix *m)
{
	return !m->syncing && !m->sync_hold && !(m->join_gate && !m->since) &&
	       !(m->sync_wants_login && m->sync_login_gen == m->login_gen);
}

static long long earliest(long long a, long long b)
{
	return a < 0 ? b : b < 0 ? a : a < b ? a : b;
}

static void op_want(void *t, struct tr_wait *w)
{
	struct matrix *m = t;
	long long at;

	matrix_multi_want(m, w); /* the sockets of every exchange in flight */
	at = earliest(w->at_ms, matrix_send_want_at(m));
	at = earliest(at, matrix_login_want_at(m));
	at = earliest(at, matrix_ask_want_at(m));
	at = earliest(at, matrix_check_want_at(m));
	if (sync_may(m))
		at = earliest(at, m->sync_at);
	/* back at once: an exchange that ended while another was moved on
	 * (a send's pump can end the sync) waits for its owner; a sync held
	 * for a notice not yet in flight is to start it or be let go */
	if (m->sync_x.done || m->login_x.done ||
	    (m->sync_hold && !matrix_send_in_flight(m, m->sync_hold)))
		at = clock_mono_ms();
	else if (m->sync_hold)
		at = earliest(at, m->sync_hold_end);
	w->at_ms = at;
}

/* op_ready moves every exchange on (the sync, the sends, the re-login)
 * and takes what ended: a batch handled (its sends queued and journaled,
 * then since saved), a send done, retried later or dropped, a login. Then
 * it starts what is due. Nothing here waits on the network. */
static enum tr_state op_ready(void *t, const struct tr_wait *w)
{
	struct matrix *m = t;
	enum err e = ERR_OK;

	matrix_multi_ready(m, w);
	if (m->syncing)
		e = matrix_sync_step(m);
	matrix_login_step(m);
	matrix_ask_run(m);
	matrix_check_run(m);
	if (e == ERR_OK)
		e = matrix_sync_settle(m);
	matrix_send_run(m);
	if (e == ERR_OK && !m->fatal && sync_may(m) && clock_mono_ms() >= m->sync_at) {
		m->sync_wants_login = 0;
		e = matrix_sync_begin(m);
		if (e == ERR_OK)
			matrix_pump(m); /* the request out now */
	}
	if (m->fatal) {
		if (!m->errstr[0])
			matrix_set_err(m, "cannot go on: %s", err_str(e));
		return TR_FAILED;
	}
	if (e != ERR_OK && e != ERR_IO && e != ERR_NOMEM) {
		/* the state folder failed (since or the outbox not saved):
		 * cannot go on */
		if (!m->errstr[0])
			matrix_set_err(m, "sync: %s", err_str(e));
		return TR_FAILED;
	}
	return TR_RUNNING;
}

/* give_up ends the sync in flight, if one is: the position is not moved,
 * so the next sync asks from the same point and nothing is lost. */
static void give_up(struct matrix *m)
{
	if (!m->syncing)
		return;
	matrix_xfer_abort(m, &m->sync_x);
	m->sync_x.done = 0; /* an answer not read yet goes too: asked again */
	matrix_resp_release(&m->sync_r);
	m->syncing = 0;
}

/* op_notice queues the notice (journaled, in the moderators' room's
 * order). The long poll in flight makes way for it, as it always has: it
 * is given up and asked again from the same position once the notice's
 * first try is over (or at once if the notice cannot go now), so a
 * moderator reads the notice before anything the next batch brings. That
 * wait is one exchange at most (MATRIX_NOTICE_HOLD_MS at most), and only
 * for a notice. */
static void op_notice(void *t, const char *text)
{
	struct matrix *m = t;
	unsigned long long seq = 0;

	if (matrix_notice_post(m, text, &seq) != ERR_OK)
		log_warn("a notice for the moderators was not queued");
	if (!seq || !m->syncing)
		return;
	give_up(m);
	m->sync_hold = seq;
	m->sync_hold_end = clock_mono_ms() + MATRIX_NOTICE_HOLD_MS;
	m->sync_at = 0;
}

static void op_stop(void *t)
{
	struct matrix *m = t;

	give_up(m);
	matrix_send_stop(m);
	/* the fsyncs' thread saves the last position (a few ms; a disk that
	 * hangs leaves an older one, from which the next start replays) */
	if (!matrix_disk_wait(m, MATRIX_DISK_STOP_MS))
		log_warn("stop: the sync position's save is still waiting on the disk");
	log_info("stop: sync position %s", m->since ? "saved" : "not recorded");
}

static void op_health(const void *t, struct tr_health *h)
{
	const struct matrix *m = t;
	long long oldest = matrix_send_oldest_ms(m);

	h->alive_ms = m->alive_ms;
	h->behind_ms = m->behind_ms;
	h->sends = (long)m->queued;
	h->send_age_ms = oldest ? clock_wall_ms() - oldest : 0;
	if (h->send_age_ms < 0)
		h->send_age_ms = 0;
}

static const char *op_errstr(const void *t)
{
	return matrix_errstr(t);
}

const struct transport_ops matrix_ops = {"matrix",  op_start, op_want,   op_ready,
					 op_notice, op_stop,  op_health, op_errstr};
