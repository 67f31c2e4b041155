/* matrix_session.c -- who the bot is on the homeserver (see matrix_int.h):
 * the password login, the token and device kept 0600 in the state
 * directory (session.json) so a restart reuses them, and whoami, which
 * checks a token names the configured user. Secrets are wiped from memory
 * once sent or written. */
#include "matrix_int.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mx_body.h"
#include "state.h"

/* save keeps the token and device 0600 in the state directory, for the
 * next start; the copy in memory is wiped after. */
static enum err save(struct matrix *m)
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

enum err matrix_login(struct matrix *m, int flags)
{
	char *body = NULL, tok[MATRIX_TOKEN_MAX], dev[MATRIX_TOKEN_MAX];
	struct matrix_resp r = {0};
	struct mx_error me;
	enum err e;

	if (!m->password) {
		matrix_set_err(m, "the homeserver %s refused the access token and no "
		           "password is configured to log in again",
		        m->hs);
		m->fatal = 1;
		return ERR_INVALID;
	}
	e = mx_login_json(m->user_id, m->password, m->device[0] ? m->device : NULL,
	                  &body);
	if (e != ERR_OK)
		goto out;
	e = matrix_call(m, "POST", MATRIX_API "/login", body, MATRIX_CALL_NO_AUTH | flags, &r);
	if (e != ERR_OK && r.status >= 400) {
		mx_error_parse(r.body ? r.body : "", r.len, &me);
		matrix_set_err(m, "login as %s at %s failed: HTTP %ld %s %s", m->user_id, m->hs,
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
		matrix_set_err(m, "login at %s: the response has no usable access_token and "
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
	e = save(m);
out:
	if (body) {
		memset(body, 0, strlen(body));
		free(body);
	}
	matrix_resp_release(&r);
	return e;
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
		matrix_set_err(m, "whoami at %s: no user_id in the answer; is %s a Matrix "
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
