/* matrix.c -- the Matrix transport (see matrix.h): its config, new and
 * free, start-up and the loop's ops. The parts (matrix_int.h): HTTP and the
 * retry policy (matrix_http), the session (matrix_session), rooms
 * (matrix_rooms), one /sync (matrix_sync), a message's answer and the
 * loop's notices (matrix_reply); the JSON is the pure mx_* modules'.
 *
 * One thread, one curl multi handle (so connections are kept alive), one
 * easy handle reused for every request. The long poll is the loop's: its
 * exchange sits in the multi handle, whose sockets (curl_multi_fdset) and
 * timeout the one loop polls beside the other networks'. Not the multi
 * socket interface (CURLMOPT_SOCKETFUNCTION): the sends a batch makes
 * still run to their end with curl_multi_perform on the same handle, and
 * curl does not mix the two ways of driving one multi handle; fdset is
 * what 7.88 offers in place of curl_multi_waitfds (8.8), and one
 * connection's sockets are few. How failures are sorted (libcmatrix's
 * split, with our own backoff, matrix_backoff_ms): How failures are sorted (libcmatrix's split, with our own
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
 * The loop runs the core's tick between its turns, so never while a reply
 * is in flight; a notice it brings gives up the long poll (before any of
 * its answer is read) and is posted, and the sync is asked again from
 * the same position. */
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

/* check_config refuses what cannot work, before anything is allocated. */
static enum err check_config(const struct matrix_config *cfg, char *errbuf, size_t errlen)
{
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
	m->req_timeout = cfg->request_timeout_ms > 0 ? cfg->request_timeout_ms
	                                             : MATRIX_REQUEST_TIMEOUT_MS;
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
	if (m->multi && m->easy)
		curl_multi_remove_handle(m->multi, m->easy);
	curl_slist_free_all(m->hdrs);
	if (m->sync_r)
		matrix_resp_release(m->sync_r);
	free(m->sync_r);
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
	log_info("start user=%s homeserver=%s rooms=%zu resume=%s", m->user_id, m->hs,
	         m->n_rooms, m->since ? "yes" : "no (first start)");
	for (i = 0; i < m->n_rooms && !matrix_stopping(m, 1); i++)
		if (m->rooms[i])
			matrix_join(m, m->rooms[i]);
	if (m->mod_room && !matrix_stopping(m, 1))
		matrix_join(m, m->mod_room);
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
	m->sync_at = 0;
	if (!start(m, &e))
		return e;
	return ERR_OK;
}

static void op_want(void *t, struct tr_wait *w)
{
	struct matrix *m = t;

	if (m->syncing)
		matrix_xfer_want(m, w);
	else
		w->at_ms = m->sync_at;
}

static enum tr_state op_ready(void *t, const struct tr_wait *w)
{
	struct matrix *m = t;
	enum err e = ERR_OK;

	(void)w;
	if (!m->syncing) {
		if (clock_mono_ms() < m->sync_at)
			return TR_RUNNING;
		e = matrix_sync_begin(m);
	}
	if (e == ERR_OK && m->syncing)
		e = matrix_sync_step(m);
	if (m->fatal) {
		if (!m->errstr[0])
			matrix_set_err(m, "cannot go on: %s", err_str(e));
		return TR_FAILED;
	}
	if (e != ERR_OK && e != ERR_IO && e != ERR_NOMEM) {
		/* the state folder failed (since not saved): cannot go on */
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
	matrix_xfer_abort(m, m->sync_r);
	matrix_resp_release(m->sync_r);
	m->syncing = 0;
}

static void op_notice(void *t, const char *text)
{
	struct matrix *m = t;
	int was = m->syncing;

	/* one exchange at a time: the long poll makes way, and is asked
	 * again from the same position at once */
	give_up(m);
	if (matrix_notice_post(m, text) != ERR_OK)
		log_warn("a notice for the moderators was not posted");
	if (was)
		m->sync_at = 0;
}

static void op_stop(void *t)
{
	struct matrix *m = t;

	give_up(m);
	log_info("stop: sync position %s", m->since ? "saved" : "not recorded");
}

static void op_health(const void *t, struct tr_health *h)
{
	h->alive_ms = ((const struct matrix *)t)->alive_ms;
}

static const char *op_errstr(const void *t) { return matrix_errstr(t); }

const struct transport_ops matrix_ops = {"matrix", op_start, op_want, op_ready, op_notice,
                                         op_stop, op_health, op_errstr};
