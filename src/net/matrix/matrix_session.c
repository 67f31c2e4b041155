/* matrix_session.c -- who the bot is on the homeserver (see matrix_int.h):
 * the password login (blocking at start-up; while serving, the one shared
 * re-login every refused exchange waits for, driven by the loop), the
 * token and device kept 0600 in the state directory (session.json) so a
 * restart reuses them, and whoami, which checks a token names the
 * configured user. Secrets are wiped from memory once sent or written. */
#include "matrix_int.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "metrics.h"
#include "mx_body.h"
#include "state.h"
#include "strs.h"

/* save keeps the token and device 0600 in the state directory, for the
 * next start; the copy in memory is wiped after. */
static enum err save(struct matrix *m)
{
	json_t *j = json_pack("{s:s, s:s, s:s, s:s}", "homeserver", m->hs, "user_id", m->user_id,
			      "access_token", m->token, "device_id", m->device);
	char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
	enum err e =
		s ? state_write(m->state_dir, MATRIX_SESSION_FILE, s, strlen(s), 0600) : ERR_NOMEM;

	if (s)
		memset(s, 0, strlen(s));
	free(s);
	json_decref(j);
	if (e != ERR_OK)
		log_error("cannot save the session in %s: %s", m->state_dir, err_str(e));
	return e;
}

void matrix_session_load(struct matrix *m, int want_token)
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

/* no_password: a refused token with nothing to log in again with. */
static enum err no_password(struct matrix *m)
{
	matrix_set_err(m,
		       "the homeserver %s refused the access token and no "
		       "password is configured to log in again",
		       m->hs);
	m->fatal = 1;
	return ERR_INVALID;
}

/* refused: the login's own refusal (a wrong password): cannot go on. */
static void refused(struct matrix *m, const struct matrix_resp *r)
{
	struct mx_error me;

	mx_error_parse(r->body ? r->body : "", r->len, &me);
	matrix_set_err(m, "login as %s at %s failed: HTTP %ld %s %s", m->user_id, m->hs, r->status,
		       me.errcode, me.error);
	m->fatal = 1;
}

/* took takes a login's 2xx answer: the new token and device, logged (the
 * device, never the token) and saved; login_gen moves, so every exchange
 * refused with the old token tries again. */
static enum err took(struct matrix *m, const struct matrix_resp *r)
{
	char tok[MATRIX_TOKEN_MAX], dev[MATRIX_TOKEN_MAX];
	enum err e;

	e = mx_field_string(r->body, r->len, "access_token", tok, sizeof(tok));
	if (e == ERR_OK)
		e = mx_field_string(r->body, r->len, "device_id", dev, sizeof(dev));
	if (e != ERR_OK) {
		matrix_set_err(m,
			       "login at %s: the response has no usable access_token and "
			       "device_id",
			       m->hs);
		m->fatal = 1;
		memset(tok, 0, sizeof(tok));
		return e;
	}
	memcpy(m->token, tok, sizeof(m->token));
	memcpy(m->device, dev, sizeof(m->device));
	memset(tok, 0, sizeof(tok));
	log_info("login user=%s device=%s", m->user_id, m->device);
	m->relogged = 1;
	m->login_gen++;
	return save(m);
}

enum err matrix_login(struct matrix *m, int flags)
{
	struct matrix_resp r = {0};
	char *body = NULL;
	enum err e;

	if (!m->password)
		return no_password(m);
	e = mx_login_json(m->user_id, m->password, m->device[0] ? m->device : NULL, &body);
	if (e == ERR_OK)
		e = matrix_call(m, "POST", MATRIX_API "/login", body, MATRIX_CALL_NO_AUTH | flags,
				&r);
	if (e != ERR_OK && r.status >= 400)
		refused(m, &r);
	else if (e == ERR_OK)
		e = took(m, &r);
	strs_wipe_free(body);
	if (r.body)
		memset(r.body, 0, r.len); /* the new token */
	matrix_resp_release(&r);
	return e;
}

/* ---- the shared re-login, while serving ------------------------------- */

void matrix_login_want(struct matrix *m)
{
	if (m->login_state != MATRIX_LOGIN_IDLE || m->fatal)
		return;
	if (!m->password) {
		no_password(m);
		return;
	}
	m->login_state = MATRIX_LOGIN_WANTED;
	m->login_at = 0;
	m->login_attempt = 0;
}

int matrix_token_refused(struct matrix *m, unsigned long gen, int *relogins, int *wants)
{
	if (gen != m->login_gen)
		return 1;
	if ((*relogins)++ && m->login_state == MATRIX_LOGIN_IDLE) {
		matrix_set_err(m,
			       "the homeserver %s refused the access token and logging in "
			       "again failed",
			       m->hs);
		m->fatal = 1;
		return -1;
	}
	*wants = 1;
	matrix_login_want(m);
	return 0;
}

long long matrix_login_want_at(const struct matrix *m)
{
	return m->login_state == MATRIX_LOGIN_WANTED ? m->login_at : -1;
}

/* login_ended acts on the re-login's answer. */
static void login_ended(struct matrix *m)
{
	struct matrix_resp *r = &m->login_r;
	long long wait;

	m->login_x.done = 0;
	strs_wipe_free(m->login_body);
	m->login_body = NULL;
	switch (matrix_judge(m, "POST", MATRIX_API "/login", MATRIX_CALL_NO_AUTH, r,
			     &m->login_attempt, &wait)) {
	case MATRIX_V_DONE:
		m->login_state = MATRIX_LOGIN_IDLE;
		took(m, r); /* a session file not saved is logged; the token works */
		if (!m->fatal)
			metrics_inc(M_RECONNECT_MATRIX);
		break;
	case MATRIX_V_RETRY:
		m->login_state = MATRIX_LOGIN_WANTED;
		m->login_at = clock_mono_ms() + wait;
		break;
	case MATRIX_V_STOPPED:
		m->login_state = MATRIX_LOGIN_WANTED;
		m->login_at = 0;
		break;
	default: /* refused, or a 401 to a login */
		m->login_state = MATRIX_LOGIN_IDLE;
		refused(m, r);
		break;
	}
	if (r->body)
		memset(r->body, 0, r->len);
	matrix_resp_release(r);
}

void matrix_login_step(struct matrix *m)
{
	enum err e;

	if (m->login_state == MATRIX_LOGIN_BUSY && m->login_x.done)
		login_ended(m);
	if (m->login_state != MATRIX_LOGIN_WANTED || m->fatal || clock_mono_ms() < m->login_at)
		return;
	e = mx_login_json(m->user_id, m->password, m->device[0] ? m->device : NULL, &m->login_body);
	if (e == ERR_OK)
		e = matrix_xfer_begin(m, &m->login_x, "POST", MATRIX_API "/login", m->login_body,
				      MATRIX_CALL_NO_AUTH, &m->login_r);
	if (e != ERR_OK) {
		strs_wipe_free(m->login_body);
		m->login_body = NULL;
		log_error("cannot log in again now: %s", err_str(e));
		m->login_at = clock_mono_ms() +
			      matrix_backoff_draw(m, MATRIX_FAIL_SERVER, m->login_attempt++);
		return;
	}
	m->login_state = MATRIX_LOGIN_BUSY;
}

enum err matrix_whoami(struct matrix *m)
{
	char uid[MX_ID_MAX + 1], dev[MATRIX_TOKEN_MAX];
	struct matrix_resp r = {0};
	struct mx_error me;
	enum err e;

	e = matrix_call(m, "GET", MATRIX_API "/account/whoami", NULL, MATRIX_CALL_ONCE, &r);
	if (e == ERR_INVALID && !m->fatal) {
		mx_error_parse(r.body ? r.body : "", r.len, &me);
		matrix_set_err(m, "whoami at %s failed: HTTP %ld %s %s", m->hs, r.status,
			       me.errcode, me.error);
		m->fatal = 1;
	}
	if (e != ERR_OK)
		goto out;
	if (mx_field_string(r.body, r.len, "user_id", uid, sizeof(uid)) != ERR_OK) {
		matrix_set_err(m,
			       "whoami at %s: no user_id in the answer; is %s a Matrix "
			       "homeserver?",
			       m->hs, m->hs);
		e = ERR_PARSE;
		goto out;
	}
	if (strcmp(uid, m->user_id)) {
		matrix_set_err(m, "the access token is for %s, not for the configured %s", uid,
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
	matrix_resp_release(&r);
	return e;
}
