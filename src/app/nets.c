/* nets.c -- the chat networks a config names (see nets.h). */
#include "nets.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "health.h"
#include "irc.h"
#include "log.h"
#include "matrix.h"
#include "matrix_appsvc.h"

struct nets {
	struct matrix *matrix;
	struct appsvc *appsvc; /* [appservice]: the [matrix] bot, pushed to */
	struct irc *irc;
	struct irc_channel *chans;
	struct nets_mark marks[NETS_MARKS_MAX];
	size_t n_marks;
	int matrix_alerts, irc_alerts; /* each has moderators to tell */
};

size_t nets_marks(const struct config *cfg, struct nets_mark *marks)
{
	size_t n = 0;
	const char *irc_dir = cfg->state_dir_bot ? cfg->state_dir_bot : NULL;

	if (cfg->has_matrix && cfg->state_dir && *cfg->state_dir) {
		marks[n].name = "matrix";
		marks[n].dir = cfg->state_dir;
		marks[n].file = HEALTH_STATUS_FILE;
		marks[n++].max_age_s = health_default_max_age(
			cfg->sync_timeout_ms > 0 ? cfg->sync_timeout_ms : MATRIX_SYNC_TIMEOUT_MS);
	}
	/* Matrix marks [matrix] state_dir after each sync; IRC marks the
	 * top-level state_dir every HEALTH_MARK_EVERY_S while registered
	 * (beside Matrix, the same folder if no other, under its own name) */
	if (cfg->has_irc && cfg->has_matrix && !irc_dir)
		irc_dir = cfg->state_dir;
	if (cfg->has_irc && irc_dir && *irc_dir) {
		marks[n].name = "irc";
		marks[n].dir = irc_dir;
		marks[n].file = cfg->has_matrix ? HEALTH_IRC_FILE : HEALTH_STATUS_FILE;
		marks[n++].max_age_s = health_default_max_age(HEALTH_MARK_EVERY_S * 1000L);
	}
	return n;
}

/* matrix_config_of fills mc with [matrix]'s settings */
static void matrix_config_of(const struct config *cfg, struct matrix_config *mc)
{
	mc->homeserver = cfg->homeserver;
	mc->user_id = cfg->user_id;
	mc->rooms = (const char *const *)cfg->rooms.v;
	mc->n_rooms = cfg->rooms.n;
	mc->allow_invites = (const char *const *)cfg->allow_invites.v;
	mc->n_allow_invites = cfg->allow_invites.n;
	mc->moderators = (const char *const *)cfg->moderators.v;
	mc->n_moderators = cfg->moderators.n;
	mc->mod_room = cfg->moderators_room;
	mc->state_dir = cfg->state_dir;
	mc->request_timeout_ms = cfg->request_timeout_ms;
	mc->backoff_max_ms = cfg->backoff_max_ms;
	mc->max_age_s = cfg->max_age_s;
}

/* new_appsvc: the [matrix] bot as an Application Service ([appservice]) */
static enum err new_appsvc(struct nets *n, const struct config *cfg, char *err, size_t errlen)
{
	struct appsvc_config ac = {0};

	matrix_config_of(cfg, &ac.matrix);
	ac.matrix.access_token = cfg->as_token;
	ac.hs_token = cfg->as_hs_token;
	ac.listen = cfg->as_listen;
	ac.tls_cert_file = cfg->as_tls_cert_file;
	ac.tls_key_file = cfg->as_tls_key_file;
	ac.max_body = (size_t)cfg->as_max_body;
	n->matrix_alerts = cfg->moderators_room && *cfg->moderators_room;
	if (appsvc_new(&ac, &n->appsvc, err, errlen) != ERR_OK) {
		config_blame(cfg, "appservice", err, errlen);
		return ERR_INVALID;
	}
	return ERR_OK;
}

static enum err new_matrix(struct nets *n, const struct config *cfg, char *err, size_t errlen)
{
	struct matrix_config mc = {0};

	mc.homeserver = cfg->homeserver;
	mc.user_id = cfg->user_id;
	mc.access_token = cfg->access_token;
	mc.password = cfg->password;
	mc.device_id = cfg->device_id;
	mc.rooms = (const char *const *)cfg->rooms.v;
	mc.n_rooms = cfg->rooms.n;
	mc.allow_invites = (const char *const *)cfg->allow_invites.v;
	mc.n_allow_invites = cfg->allow_invites.n;
	mc.moderators = (const char *const *)cfg->moderators.v;
	mc.n_moderators = cfg->moderators.n;
	mc.mod_room = cfg->moderators_room;
	mc.state_dir = cfg->state_dir;
	mc.request_timeout_ms = cfg->request_timeout_ms;
	mc.sync_timeout_ms = cfg->sync_timeout_ms;
	mc.backoff_max_ms = cfg->backoff_max_ms;
	mc.max_age_s = cfg->max_age_s;
	mc.pickle_key = cfg->encryption ? cfg->pickle_key : NULL;
	n->matrix_alerts = cfg->moderators_room && *cfg->moderators_room;
	if (matrix_new(&mc, &n->matrix, err, errlen) != ERR_OK) {
		config_blame(cfg, "matrix", err, errlen);
		return ERR_INVALID;
	}
	return ERR_OK;
}

static enum err new_irc(struct nets *n, const struct config *cfg, char *err, size_t errlen)
{
	struct irc_config ic = {0};
	size_t i;

	n->chans = calloc(cfg->irc_channels.n ? cfg->irc_channels.n : 1, sizeof(*n->chans));
	if (!n->chans)
		return ERR_NOMEM;
	for (i = 0; i < cfg->irc_channels.n; i++) {
		n->chans[i].name = cfg->irc_channels.v[i];
		n->chans[i].key = cfg->irc_channel_keys ? cfg->irc_channel_keys[i] : NULL;
	}
	ic.host = cfg->irc_host;
	ic.port = (int)cfg->irc_port;
	ic.tls = cfg->irc_tls;
	ic.tls_ca_file = cfg->irc_tls_ca_file;
	ic.nick = cfg->irc_nick;
	ic.alt_nicks = (const char *const *)cfg->irc_alt_nicks.v;
	ic.n_alt_nicks = cfg->irc_alt_nicks.n;
	ic.user = cfg->irc_user;
	ic.realname = cfg->irc_realname;
	ic.channels = n->chans;
	ic.n_channels = cfg->irc_channels.n;
	ic.sasl_account = cfg->irc_sasl_account;
	ic.sasl_password = cfg->irc_sasl_password;
	ic.moderators = (const char *const *)cfg->irc_moderators.v;
	ic.n_moderators = cfg->irc_moderators.n;
	ic.pm_over_lines = (int)cfg->irc_pm_over_lines;
	ic.short_over_lines = (int)cfg->irc_short_over_lines;
	ic.tls_cert_file = cfg->irc_tls_cert_file;
	ic.tls_key_file = cfg->irc_tls_key_file;
	ic.sasl_mechanism = cfg->irc_sasl_mechanism;
	ic.flood_burst = (int)cfg->irc_flood_burst;
	ic.flood_interval_ms = cfg->irc_flood_interval_ms;
	ic.state_dir = cfg->state_dir_bot; /* the reply journal */
	n->irc_alerts = cfg->irc_moderators.n > 0;
	if (irc_new(&ic, &n->irc, err, errlen) != ERR_OK) {
		config_blame(cfg, "irc", err, errlen);
		return ERR_INVALID;
	}
	return ERR_OK;
}

enum err nets_new(const struct config *cfg, struct nets **out, char *err, size_t errlen)
{
	struct nets *n = calloc(1, sizeof(*n));
	enum err e = n ? ERR_OK : ERR_NOMEM;

	*out = NULL;
	if (e == ERR_OK && cfg->has_appservice)
		e = new_appsvc(n, cfg, err, errlen);
	else if (e == ERR_OK && cfg->has_matrix)
		e = new_matrix(n, cfg, err, errlen);
	if (e == ERR_OK && cfg->has_irc)
		e = new_irc(n, cfg, err, errlen);
	if (e != ERR_OK) {
		if (e == ERR_NOMEM)
			snprintf(err, errlen, "out of memory");
		nets_free(n);
		return e;
	}
	n->n_marks = nets_marks(cfg, n->marks);
	*out = n;
	return ERR_OK;
}

/* mark_of: the mark of the network named name, or NULL */
static const struct nets_mark *mark_of(const struct nets *n, const char *name)
{
	size_t i;

	for (i = 0; i < n->n_marks; i++)
		if (!strcmp(n->marks[i].name, name))
			return &n->marks[i];
	return NULL;
}

enum err nets_add(struct nets *n, struct loop *l)
{
	const struct nets_mark *mk;
	enum err e = ERR_OK;

	if (n->matrix || n->appsvc) {
		mk = mark_of(n, "matrix");
		e = loop_add(l, n->appsvc ? &appsvc_ops : &matrix_ops,
			     n->appsvc ? (void *)n->appsvc : (void *)n->matrix, mk ? mk->dir : NULL,
			     mk ? mk->file : NULL, n->matrix_alerts);
	}
	if (e == ERR_OK && n->irc) {
		mk = mark_of(n, "irc");
		e = loop_add(l, &irc_ops, n->irc, mk ? mk->dir : NULL, mk ? mk->file : NULL,
			     n->irc_alerts);
	}
	return e;
}

void nets_log_stats(const struct nets *n)
{
	if (n->matrix) {
		struct matrix_stats st;

		matrix_get_stats(n->matrix, &st);
		log_info("stop syncs=%lu messages=%lu replies=%lu alerts=%lu retries=%lu "
			 "skipped=%lu joins=%lu declined=%lu",
			 st.syncs, st.messages, st.replies, st.alerts, st.retries, st.skipped,
			 st.joins, st.declined);
	}
	if (n->appsvc) {
		struct appsvc_stats as;
		struct matrix_stats st;

		appsvc_get_stats(n->appsvc, &as, &st);
		log_info("stop appservice transactions=%lu retries=%lu refused=%lu bad=%lu "
			 "unacknowledged=%lu not_joined=%lu messages=%lu replies=%lu alerts=%lu "
			 "joins=%lu declined=%lu",
			 as.txns, as.dups, as.refused, as.bad, as.failed, as.not_ours, st.messages,
			 st.replies, st.alerts, st.joins, st.declined);
	}
	if (n->irc)
		log_info("stop network=irc");
}

void nets_free(struct nets *n)
{
	if (!n)
		return;
	matrix_free(n->matrix);
	appsvc_free(n->appsvc);
	irc_free(n->irc);
	free(n->chans);
	free(n);
}
