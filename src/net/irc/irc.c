/* irc.c -- the IRC transport: see irc.h for what it is and is not.
 *
 * Shape: the transport is a run of sessions. A session is one connection
 * (irc_conn.h: the socket, TLS, the write buffer): one poll() loop with a
 * short slice (so the stop flag is seen quickly), a reader from
 * irc_parse.h, and two ways out: protocol lines go to the write buffer at
 * once (registration's, from the pure irc_reg.h; PONG, PING, JOIN, QUIT
 * from here), members' replies wait in the outbox (irc_outbox.h: the
 * paced queue of irc_out.h and the journal) and pass its token bucket. A
 * session ends on any fault; the next starts after a backoff. What
 * outlives a session: the config, the counters, the backoff state, the
 * registration's memory of a login that worked, the replies waiting and
 * the journal that keeps them across a crash.
 *
 * This file ties those together and does what is the transport's own:
 * the config of channels and moderators, members' messages to the
 * handler and its replies out (the "nick: " in front, the long answer
 * sent privately, the crisis alert), the moderators' notices, the core's
 * keep-alive, the backoff; and the ops the one loop drives (irc_ops,
 * transport.h): the loop polls the socket and calls ready, which reads,
 * keeps the link alive and sends what the flood control lets go. */
#include "irc.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "backoff.h"
#include "clock.h"
#include "irc_chat.h"
#include "irc_conn.h"
#include "irc_outbox.h"
#include "irc_parse.h"
#include "irc_reg.h"
#include "log.h"
#include "metrics.h"
#include "strs.h"

#define IRC_TICK_MS       IRC_CONN_SLICE_MS /* poll() slice: how fast stop is noticed */
#define IRC_RECV_CHUNK    4096              /* bytes read a recv() */
#define IRC_ERRSTR_MAX    512
#define IRC_CHANTYPES_MAX 16
#define IRC_STABLE_MS     60000L /* a session this long resets the backoff */
#define IRC_VERSION_REPLY "faqbot (a support-group FAQ bot)"

struct irc {
	/* the parts, made by irc_new */
	struct irc_conn *conn;
	struct irc_reg *reg;
	struct irc_outbox *ob;

	/* config, owned copies */
	char **chan_names, **chan_keys;
	size_t n_channels;
	char **mods;
	size_t n_mods;
	long ping_idle_ms, ping_timeout_ms;
	long backoff_min_ms, backoff_max_ms;
	int pm_over_lines;
	int short_over_lines;
	char *state_dir; /* or NULL: no journal */

	/* session */
	struct irc_reader *rd;
	struct irc_msg msg;
	struct irc_reg_out rout; /* the registration's last step */
	char chantypes[IRC_CHANTYPES_MAX];
	int fatal;
	long long last_rx_ms, ping_sent_ms;

	/* across sessions: the loop's (transport.h) */
	tr_handler_fn fn;
	void *ctx;
	volatile sig_atomic_t *stop;
	int in_session;     /* connected; else connecting, or waiting until retry_ms */
	int connecting;     /* irc_conn_begin done, irc_conn_advance not yet 1 */
	long long retry_ms; /* the next connection's time */
	char *notices[IRC_NOTICE_WAIT_MAX]; /* for the moderators, waiting for
	                                     * a registration */
	size_t n_notices;
	unsigned attempt;
	unsigned long long rng;
	char textbuf[IRC_WIRE_MAX + 1];
	char errstr[IRC_ERRSTR_MAX];
	struct irc_stats st; /* the transport's own; irc_get_stats adds the
	                      * outbox's and the registration's */
};

static long pick(long v, long def)
{
	return v > 0 ? v : def;
}

/* ---- new, free ---- */

void irc_free(struct irc *irc)
{
	size_t i;

	if (!irc)
		return;
	for (i = 0; i < irc->n_notices; i++)
		free(irc->notices[i]);
	strs_list_free(irc->chan_names, irc->n_channels);
	strs_list_free(irc->chan_keys, irc->n_channels);
	strs_list_free(irc->mods, irc->n_mods);
	free(irc->state_dir);
	irc_outbox_free(irc->ob);
	irc_reg_free(irc->reg);
	irc_conn_free(irc->conn);
	irc_reader_free(irc->rd);
	free(irc);
}

/* check_lists checks what is the transport's own in cfg: how many of each
 * list, the channels and the moderators. */
static enum err check_lists(const struct irc_config *cfg, char *errbuf, size_t errlen)
{
	size_t i;

	if (cfg->n_alt_nicks > IRC_LIST_MAX || cfg->n_channels > IRC_LIST_MAX ||
	    cfg->n_moderators > IRC_LIST_MAX) {
		err_printf(errbuf, errlen, "irc: more than %d nicks, channels or moderators",
			   IRC_LIST_MAX);
		return ERR_LIMIT;
	}
	for (i = 0; i < cfg->n_channels; i++) {
		const struct irc_channel *c = &cfg->channels[i];

		if (!irc_word_ok(c->name) || !irc_target_is_channel(c->name, NULL) ||
		    (c->key && !irc_word_ok(c->key))) {
			err_printf(errbuf, errlen,
				   "irc: channel \"%s\" (or its key) is not valid: a name starts "
				   "with # or &, no spaces or commas",
				   c->name ? c->name : "");
			return ERR_INVALID;
		}
	}
	for (i = 0; i < cfg->n_moderators; i++)
		if (!irc_word_ok(cfg->moderators[i])) {
			err_printf(errbuf, errlen, "irc: moderator \"%s\" is not a nick or channel",
				   cfg->moderators[i] ? cfg->moderators[i] : "");
			return ERR_INVALID;
		}
	return ERR_OK;
}

/* new_conn and new_reg hand cfg's parts to the connection and to the
 * registration, which check them. */
static enum err new_conn(struct irc *irc, const struct irc_config *cfg, char *errbuf, size_t errlen)
{
	struct irc_conn_config cc;

	memset(&cc, 0, sizeof(cc));
	cc.host = cfg->host;
	cc.port = cfg->port ? cfg->port : cfg->tls ? IRC_PORT_TLS : IRC_PORT_PLAIN;
	cc.tls = cfg->tls;
	cc.tls_ca_file = cfg->tls_ca_file;
	cc.tls_cert_file = cfg->tls_cert_file;
	cc.tls_key_file = cfg->tls_key_file;
	cc.connect_timeout_ms = pick(cfg->connect_timeout_ms, IRC_CONNECT_TIMEOUT_MS);
	return irc_conn_new(&cc, &irc->conn, errbuf, errlen);
}

static enum err new_reg(struct irc *irc, const struct irc_config *cfg, char *errbuf, size_t errlen)
{
	struct irc_reg_config rc;

	memset(&rc, 0, sizeof(rc));
	rc.nick = cfg->nick;
	rc.alt_nicks = cfg->alt_nicks;
	rc.n_alt_nicks = cfg->n_alt_nicks;
	rc.user = cfg->user;
	rc.realname = cfg->realname;
	rc.server_password = cfg->server_password;
	rc.sasl_mechanism = cfg->sasl_mechanism;
	rc.sasl_account = cfg->sasl_account;
	rc.sasl_password = cfg->sasl_password;
	rc.tls = cfg->tls;
	rc.tls_client_cert = cfg->tls_cert_file != NULL;
	rc.register_timeout_ms = pick(cfg->register_timeout_ms, IRC_REGISTER_TIMEOUT_MS);
	return irc_reg_new(&rc, &irc->reg, errbuf, errlen);
}

/* copy_config keeps the transport's own settings; ERR_NOMEM. */
static enum err copy_config(struct irc *irc, const struct irc_config *cfg)
{
	size_t i;

	irc->chan_names = calloc(cfg->n_channels + 1, sizeof(char *));
	irc->chan_keys = calloc(cfg->n_channels + 1, sizeof(char *));
	if (strs_list_copy(cfg->moderators, cfg->n_moderators, &irc->mods) != ERR_OK ||
	    !irc->chan_names || !irc->chan_keys)
		return ERR_NOMEM;
	irc->n_channels = cfg->n_channels;
	irc->n_mods = cfg->n_moderators;
	for (i = 0; i < cfg->n_channels; i++) {
		irc->chan_names[i] = strdup(cfg->channels[i].name);
		irc->chan_keys[i] = cfg->channels[i].key ? strdup(cfg->channels[i].key) : NULL;
		if (!irc->chan_names[i] || (cfg->channels[i].key && !irc->chan_keys[i]))
			return ERR_NOMEM;
	}
	if (cfg->state_dir && !(irc->state_dir = strdup(cfg->state_dir)))
		return ERR_NOMEM;
	irc->ping_idle_ms = pick(cfg->ping_idle_ms, IRC_PING_IDLE_MS);
	irc->ping_timeout_ms = pick(cfg->ping_timeout_ms, IRC_PING_TIMEOUT_MS);
	irc->backoff_min_ms = pick(cfg->backoff_min_ms, IRC_BACKOFF_MIN_MS);
	irc->backoff_max_ms = pick(cfg->backoff_max_ms, IRC_BACKOFF_MAX_MS);
	if (irc->backoff_max_ms < irc->backoff_min_ms)
		irc->backoff_max_ms = irc->backoff_min_ms;
	irc->pm_over_lines = cfg->pm_over_lines > 0 ? cfg->pm_over_lines : 0;
	irc->short_over_lines = cfg->short_over_lines > 0 ? cfg->short_over_lines : 0;
	return ERR_OK;
}

enum err irc_new(const struct irc_config *cfg, struct irc **out, char *errbuf, size_t errlen)
{
	struct irc_outbox_config oc;
	struct irc *irc;
	enum err e;

	*out = NULL;
	if (errbuf && errlen)
		errbuf[0] = '\0';
	irc = calloc(1, sizeof(*irc));
	if (!irc) {
		err_printf(errbuf, errlen, "irc: out of memory");
		return ERR_NOMEM;
	}
	e = new_conn(irc, cfg, errbuf, errlen);
	if (e == ERR_OK)
		e = new_reg(irc, cfg, errbuf, errlen);
	if (e == ERR_OK)
		e = check_lists(cfg, errbuf, errlen);
	if (e != ERR_OK) {
		irc_free(irc);
		return e == ERR_NOMEM || e == ERR_LIMIT ? e : ERR_INVALID;
	}
	memset(&oc, 0, sizeof(oc));
	oc.burst = cfg->flood_burst > 0 ? cfg->flood_burst : IRC_FLOOD_BURST;
	oc.interval_ms = pick(cfg->flood_interval_ms, IRC_FLOOD_INTERVAL_MS);
	oc.state_dir = cfg->state_dir;
	irc->rd = irc_reader_new();
	if (!irc->rd || copy_config(irc, cfg) != ERR_OK ||
	    irc_outbox_new(&oc, &irc->ob) != ERR_OK) {
		irc_free(irc);
		err_printf(errbuf, errlen, "irc: out of memory");
		return ERR_NOMEM;
	}
	irc->rng = backoff_seed();
	*out = irc;
	return ERR_OK;
}

const char *irc_errstr(const struct irc *irc)
{
	return irc->errstr;
}

void irc_get_stats(const struct irc *irc, struct irc_stats *out)
{
	struct irc_outbox_counts n;

	irc_outbox_counts(irc->ob, &n);
	*out = irc->st;
	out->lines += n.lines;
	out->dropped += n.dropped;
	out->expired += n.expired;
	out->replayed += n.replayed;
	out->resent += n.resent;
	out->journal_errors += n.journal_errors;
	out->sasl_retries = irc_reg_retries(irc->reg);
}

/* ---- output ---- */

/* put_raw appends one whole line to the write buffer (protocol lines: they
 * are few, small and must not wait behind replies). */
static void put_raw(struct irc *irc, const char *line, size_t len)
{
	if (irc_conn_put(irc->conn, line, len) < 0) {
		irc->st.dropped++;
		log_warn("irc: write buffer full, a protocol line dropped");
	}
}

/* send1 builds and writes a protocol line of one parameter (or none);
 * a parameter that would break the line is refused by irc_build, so
 * nothing from outside can inject. */
static void send1(struct irc *irc, const char *cmd, const char *a)
{
	char line[IRC_LINE_MAX + 1];
	const char *p[1];
	size_t len;

	p[0] = a;
	if (irc_build(line, sizeof(line), &len, cmd, p, a ? 1 : 0) != ERR_OK) {
		log_warn("irc: refused to send a malformed %s line", cmd);
		return;
	}
	put_raw(irc, line, len);
}

static void send2(struct irc *irc, const char *cmd, const char *a, const char *b)
{
	char line[IRC_LINE_MAX + 1];
	const char *p[2];
	size_t len;

	p[0] = a;
	p[1] = b;
	if (irc_build(line, sizeof(line), &len, cmd, p, 2) != ERR_OK) {
		log_warn("irc: refused to send a malformed %s line", cmd);
		return;
	}
	put_raw(irc, line, len);
}

static const char *me(const struct irc *irc)
{
	return irc_reg_nick(irc->reg);
}

static size_t my_prefix_len(const struct irc *irc)
{
	return irc_reg_prefix_len(irc->reg);
}

/* check_acked tells the queue how much of what was written the server's
 * TCP has acknowledged, so a reply is marked done only once it left this
 * machine: bytes still in the kernel's send queue die with a connection
 * reset (a kill -9 with unread input resets it). */
static void check_acked(struct irc *irc)
{
	struct irc_out *q = irc_outbox_queue(irc->ob);
	unsigned long long acked;

	if (irc_out_in_flight(q) && irc_conn_acked(irc->conn, &acked))
		irc_out_acked(q, acked);
}

/* flush writes what the kernel takes; -1 on a dead socket. */
static int flush(struct irc *irc)
{
	if (irc_conn_flush(irc->conn) < 0)
		return -1;
	check_acked(irc);
	return 0;
}

/* pace moves into the write buffer what the token bucket allows; first
 * the journal's new entries go to the disk, so no reply leaves before it
 * would survive a crash. */
static void pace(struct irc *irc, long long t)
{
	struct irc_out *q = irc_outbox_queue(irc->ob);
	const char *line;
	size_t len;

	irc_outbox_sync(irc->ob);
	irc_out_set_prefix(q, my_prefix_len(irc));
	while ((line = irc_out_peek(q, t, &len)) != NULL) {
		if (irc_conn_put(irc->conn, line, len) < 0)
			break;
		irc_out_take(q, irc_conn_put_total(irc->conn));
	}
}

/* say queues a reply, an alert or a notice (irc_outbox_say). */
static enum err say(struct irc *irc, const char *cmd, const char *target, const char *text,
		    const char *kind)
{
	return irc_outbox_say(irc->ob, cmd, target, text, kind, clock_mono_ms(),
			      my_prefix_len(irc));
}

/* ---- the moderators ---- */

/* mod_notice sends text to the moderators by NOTICE, paced like a reply:
 * NOTICE, unlike the alert's PRIVMSG, because it is an automatic report
 * that no person (and no bot) is asked to answer. Before registration it
 * waits in irc->notices (at most IRC_NOTICE_WAIT_MAX of them), so that a
 * server down for long does not pile up reports. Not journaled: it is
 * no reply, and the next start makes its own. */
static void mod_notice(struct irc *irc, const char *text)
{
	char *copy;
	size_t i;

	if (!text || !*text)
		return;
	if (!irc->n_mods) {
		log_warn("irc: a notice for the moderators, but no moderators are configured");
		return;
	}
	if (irc_reg_registered(irc->reg)) {
		for (i = 0; i < irc->n_mods; i++)
			if (say(irc, "NOTICE", irc->mods[i], text, NULL) == ERR_OK)
				irc->st.notices++;
		return;
	}
	copy = irc->n_notices < IRC_NOTICE_WAIT_MAX ? strdup(text) : NULL;
	if (!copy) {
		irc->st.dropped++;
		log_warn("irc: a notice for the moderators dropped (%d wait for a connection)",
			 IRC_NOTICE_WAIT_MAX);
		return;
	}
	irc->notices[irc->n_notices++] = copy;
}

/* notices_flush sends the notices that waited for this registration. */
static void notices_flush(struct irc *irc)
{
	size_t i;

	for (i = 0; i < irc->n_notices; i++) {
		mod_notice(irc, irc->notices[i]);
		free(irc->notices[i]);
		irc->notices[i] = NULL;
	}
	irc->n_notices = 0;
}

/* ---- members' messages ---- */

/* ctcp_version queues the one CTCP reply we give. Not through say(): the
 * splitter turns the \001 delimiters into spaces, as it should for text.
 * Not kept past this connection, nor journaled: a courtesy, not a reply. */
static void ctcp_version(struct irc *irc, const char *nick)
{
	const char *p[2] = {nick, "\001VERSION " IRC_VERSION_REPLY "\001"};
	char line[IRC_LINE_MAX + 1];
	size_t len;

	if (irc_build(line, sizeof(line), &len, "NOTICE", p, 2) == ERR_OK)
		irc_outbox_raw(irc->ob, nick, line);
}

static void chat_view(const struct irc *irc, struct irc_chat_view *v)
{
	v->me = me(irc);
	v->chantypes = irc->chantypes;
	v->account_tag = irc_reg_account_tag(irc->reg);
	v->prefix_len = my_prefix_len(irc);
	v->pm_over_lines = irc->pm_over_lines;
	v->short_over_lines = irc->short_over_lines;
}

/* answer posts the handler's reply to tm (irc_chat.h says what goes
 * where). The alert is one line and goes first: behind a crisis reply of
 * several lines, under flood control, it would reach the moderators many
 * seconds late; ahead of it, the reply waits one line at most. */
static void answer(struct irc *irc, const struct tr_message *tm, const struct tr_reply *rep)
{
	struct irc_chat_view v;
	struct irc_chat_answer a;
	size_t i;

	chat_view(irc, &v);
	if (irc_chat_answer(rep, tm->room, tm->sender, tm->direct, &v, &a) != ERR_OK)
		log_warn("irc: out of memory for a reply to %s", tm->room);
	if (a.alert[0]) {
		for (i = 0; i < irc->n_mods; i++)
			if (say(irc, "PRIVMSG", irc->mods[i], a.alert, "alert") == ERR_OK) {
				irc->st.alerts++;
				metrics_inc(M_CRISIS_ALERT_SENT);
			} else {
				metrics_inc(M_CRISIS_ALERT_FAILED);
			}
		if (!irc->n_mods)
			log_warn("irc: a crisis alert with no moderators configured");
	}
	if (a.note[0])
		say(irc, "PRIVMSG", tm->room, a.note, "note");
	if (a.target) {
		int crisis = rep->kind && !strcmp(rep->kind, "crisis");

		if (say(irc, "PRIVMSG", a.target, a.text, a.kind) == ERR_OK) {
			irc->st.replies++;
			metrics_inc(crisis ? M_CRISIS_REPLY_SENT : M_REPLY_SENT);
		} else {
			metrics_inc(crisis ? M_CRISIS_REPLY_FAILED : M_REPLY_FAILED);
		}
	}
	if (a.where)
		log_info("irc: reply kind=%s id=%s where=%s%s", rep->kind ? rep->kind : "-",
			 rep->entry_id ? rep->entry_id : "-", a.where,
			 a.short_form ? " (short)" : "");
	irc_chat_answer_release(&a);
	mod_notice(irc, rep->mod_text);
}

static void on_privmsg(struct irc *irc, const struct irc_msg *m, tr_handler_fn fn, void *ctx)
{
	struct irc_chat_view v;
	struct tr_message tm;
	struct tr_reply rep;
	enum err e;

	chat_view(irc, &v);
	switch (irc_chat_read(m, &v, irc->textbuf, sizeof(irc->textbuf), &tm)) {
	case IRC_CHAT_NONE:
		return;
	case IRC_CHAT_VERSION:
		ctcp_version(irc, m->nick);
		return;
	case IRC_CHAT_MESSAGE:
		break;
	}
	irc->st.messages++;
	memset(&rep, 0, sizeof(rep));
	e = fn(ctx, &tm, &rep);
	if (e != ERR_OK) {
		log_warn("irc: the handler failed: %s", err_str(e));
		return;
	}
	log_debug("irc: message in %s from %s: %s", tm.direct ? "private" : tm.room, m->nick,
		  log_text(irc->textbuf));
	answer(irc, &tm, &rep);
}

/* ---- the server's lines ---- */

/* on_isupport takes CHANTYPES from RPL_ISUPPORT (005). A value that is
 * empty or holds anything but the prefixes in use (#&+!) is ignored and
 * "#&" stays: taken as it is, it would make the configured channels no
 * channels, and silence the bot for the whole connection. */
static void on_isupport(struct irc *irc, const struct irc_msg *m)
{
	size_t i;

	for (i = 1; i + 1 < m->nparams; i++) {
		const char *v;

		if (strncmp(m->params[i], "CHANTYPES=", 10))
			continue;
		v = m->params[i] + 10;
		if (*v && strlen(v) < sizeof(irc->chantypes) && strspn(v, "#&+!") == strlen(v))
			snprintf(irc->chantypes, sizeof(irc->chantypes), "%s", v);
		else
			log_warn("irc: ignoring CHANTYPES=%.16s from the server", v);
	}
}

static void join_all(struct irc *irc)
{
	size_t i;

	for (i = 0; i < irc->n_channels; i++) {
		if (irc->chan_keys[i])
			send2(irc, "JOIN", irc->chan_names[i], irc->chan_keys[i]);
		else
			send1(irc, "JOIN", irc->chan_names[i]);
	}
}

/* reg_step writes what a registration step gave (its lines, its note,
 * its reason) and acts on the step; -1 ends the session. */
static int reg_step(struct irc *irc, enum irc_reg_step s)
{
	struct irc_reg_out *o = &irc->rout;
	size_t i;

	for (i = 0; i < o->n; i++)
		put_raw(irc, o->line[i], o->len[i]);
	if (o->secret)
		memset(o->line, 0, sizeof(o->line)); /* copied to the write buffer */
	if (o->note[0])
		log_msg(o->note_level, "%s", o->note);
	if (o->why[0])
		snprintf(irc->errstr, sizeof(irc->errstr), "%s", o->why);
	switch (s) {
	case IRC_REG_WELCOME:
		if (irc->st.registrations++)
			metrics_inc(M_RECONNECT_IRC);
		join_all(irc);
		notices_flush(irc);
		return 0;
	case IRC_REG_FATAL:
		irc->fatal = 1;
		return -1;
	case IRC_REG_END:
		return -1;
	case IRC_REG_GO_ON:
		break;
	}
	return 0;
}

/* on_line acts on one message; -1 ends the session. The registration
 * (irc_reg.h) sees every line first; the rest is the transport's.
 *
 * What a bad line from the server costs (tests: test_irc_parse.c's
 * hostile lines, test_irc_reg.c, irc_faults.sh), never more than that
 * line unless said:
 *   over IRC_WIRE_MAX, its IRC part over 512 bytes, its tags over 8191:
 *     dropped by the reader as it arrives, counted in bad_lines;
 *   a NUL, no command, an empty source, a command not letters or three
 *     digits: dropped (ERR_PARSE), counted;
 *   invalid UTF-8: kept as bytes; the core cleans a member's text
 *     (U+FFFD), the journal escapes it, the splitter cuts it safely;
 *   odd tags (no key, no value, a lone backslash, repeats): read as
 *     message-tags.md says; a value with a space, CR or LF is no account
 *     and no msgid (plain_tag, sender_account);
 *   an unknown numeric or command: ignored;
 *   CAP or SASL replies out of order, a second 001: ignored (irc_reg.h);
 *   an empty or strange CHANTYPES: ignored, "#&" kept (it made every
 *     channel no channel for the connection);
 *   a visible host or user over IRC_HOST_MAX (irc_reg.h): not believed,
 *     lines sized by the guess (it left no room for text: every reply
 *     refused);
 *   a PING token the builder will not echo (a CR in it): no PONG for that
 *     one; a silent link ends with the PING watch, as it should;
 *   ERROR, a refused login at the first start, every nick taken: the
 *     connection (what the server asks, or a setting to fix). */
static int on_line(struct irc *irc, const struct irc_msg *m, tr_handler_fn fn, void *ctx)
{
	const char *c = m->command;

	if (reg_step(irc, irc_reg_on_line(irc->reg, m, clock_mono_ms(), &irc->rout)) < 0)
		return -1;
	if (!strcmp(c, "PING")) {
		send1(irc, "PONG", m->nparams ? m->params[0] : irc_conn_host(irc->conn));
	} else if (!strcmp(c, "PRIVMSG")) {
		if (irc_reg_registered(irc->reg))
			on_privmsg(irc, m, fn, ctx);
	} else if (!strcmp(c, "005")) {
		on_isupport(irc, m);
	} else if (!strcmp(c, "JOIN")) {
		if (m->nick && irc_casecmp(m->nick, me(irc)) == 0)
			log_info("irc: joined %s", m->nparams ? m->params[0] : "?");
	} else if (!strcmp(c, "KICK")) {
		if (m->nparams >= 2 && irc_casecmp(m->params[1], me(irc)) == 0)
			log_warn("irc: kicked from %s", m->params[0]);
	} else if (!strcmp(c, "471") || !strcmp(c, "473") || !strcmp(c, "474") ||
		   !strcmp(c, "475") || !strcmp(c, "403") || !strcmp(c, "405")) {
		log_warn("irc: cannot join %s (numeric %s)", m->nparams >= 2 ? m->params[1] : "?",
			 c);
	} else if (!strcmp(c, "464")) {
		snprintf(irc->errstr, sizeof(irc->errstr), "irc: the server refused the password");
		log_error("%s", irc->errstr);
	} else if (!strcmp(c, "ERROR")) {
		log_warn("irc: the server closed the link");
		return -1;
	}
	/* NOTICE is never answered: two bots must not loop */
	return 0;
}

/* read_some reads once from the socket and handles every complete line;
 * -1 ends the session. */
static int read_some(struct irc *irc, tr_handler_fn fn, void *ctx)
{
	char buf[IRC_RECV_CHUNK];
	ssize_t n;
	size_t off = 0;

	n = irc_conn_recv(irc->conn, buf, sizeof(buf));
	if (n < 0)
		return errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
	if (n == 0) {
		log_warn("irc: the server closed the connection");
		return -1;
	}
	irc->last_rx_ms = clock_mono_ms();
	irc->ping_sent_ms = 0;
	while (off < (size_t)n) {
		int got = 1;

		off += irc_reader_feed(irc->rd, buf + off, (size_t)n - off);
		while (got) {
			enum err e = irc_reader_next(irc->rd, &irc->msg, &got);

			if (e != ERR_OK) {
				irc->st.bad_lines++;
				metrics_inc(M_MALFORMED_IRC);
				log_debug("irc: a line dropped: %s", err_str(e));
				got = 1;
				continue;
			}
			if (got && on_line(irc, &irc->msg, fn, ctx) < 0)
				return -1;
		}
	}
	return 0;
}

/* ---- a session ---- */

/* want_ms is how long the loop may wait before ready: a slice, or less when
 * a paced line gets its token sooner (with a short flood interval, a slice
 * would send lines in clumps of a slice's worth). A line that may go now
 * but did not (pace ran just before) waits for room in the write buffer:
 * POLLOUT says when, so the slice. */
static long want_ms(const struct irc *irc)
{
	long wait;

	if (!irc_reg_registered(irc->reg))
		return IRC_TICK_MS;
	wait = irc_out_wait_ms(irc_outbox_queue(irc->ob), clock_mono_ms());
	if (wait <= 0 || wait >= IRC_TICK_MS)
		return IRC_TICK_MS;
	return wait;
}

/* keep_alive is the clock's part of a session: the registration timeout,
 * then a PING after a silence and the end of a link that stays silent;
 * -1 ends the session. */
static int keep_alive(struct irc *irc, long long t)
{
	if (reg_step(irc, irc_reg_check(irc->reg, t, &irc->rout)) < 0)
		return -1;
	if (irc->ping_sent_ms && t - irc->ping_sent_ms > irc->ping_timeout_ms) {
		log_warn("irc: no answer to PING for %ld ms, the link is dead",
			 irc->ping_timeout_ms);
		return -1;
	}
	if (!irc->ping_sent_ms && t - irc->last_rx_ms > irc->ping_idle_ms) {
		send1(irc, "PING", "faqbot");
		irc->ping_sent_ms = t;
		irc->st.pings_sent++;
	}
	return 0;
}

/* session_step is one turn of a session: the reads poll found, the
 * clock's checks, the paced lines out; -1 ends the session. */
static int session_step(struct irc *irc, const struct tr_wait *w)
{
	long long t;

	if (w->n && (w->fd[0].revents & (POLLIN | POLLHUP | POLLERR)) &&
	    read_some(irc, irc->fn, irc->ctx) < 0)
		return -1;
	/* TLS may hold decrypted bytes poll() cannot see */
	if (irc_conn_pending(irc->conn) > 0 && read_some(irc, irc->fn, irc->ctx) < 0)
		return -1;
	t = clock_mono_ms();
	if (keep_alive(irc, t) < 0)
		return -1;
	if (irc_reg_registered(irc->reg))
		pace(irc, t);
	return flush(irc) < 0 ? -1 : 0;
}

static void session_reset(struct irc *irc)
{
	irc_conn_close(irc->conn);
	irc_reader_free(irc->rd);
	irc->rd = irc_reader_new();
	irc_outbox_session(irc->ob, clock_mono_ms());
	irc->ping_sent_ms = 0;
	snprintf(irc->chantypes, sizeof(irc->chantypes), "#&");
}

/* quit sends QUIT after the line under way, if one is, and before any
 * other, and gives it IRC_QUIT_WAIT_MS to leave. The replies not yet sent
 * stay in the journal for the next start. */
static void quit(struct irc *irc)
{
	const char *p[1] = {"faqbot stopping"};
	char line[IRC_LINE_MAX + 1];
	size_t len;

	if (irc_build(line, sizeof(line), &len, "QUIT", p, 1) == ERR_OK)
		irc_conn_quit(irc->conn, line, len, IRC_QUIT_WAIT_MS);
}

/* session_connect starts a connection; the loop drives it (op_want,
 * op_ready); -1 when it cannot start. */
static int session_connect(struct irc *irc)
{
	session_reset(irc);
	if (!irc->rd || irc_conn_begin(irc->conn) != ERR_OK)
		return -1;
	irc->connecting = 1;
	return 0;
}

/* session_open begins the registration on a connection just made. */
static void session_open(struct irc *irc)
{
	irc->connecting = 0;
	irc->st.connects++;
	irc->last_rx_ms = clock_mono_ms();
	log_info("irc: connected to %s port %d", irc_conn_host(irc->conn),
		 irc_conn_port(irc->conn));
	irc_reg_begin(irc->reg, irc->last_rx_ms, &irc->rout);
	reg_step(irc, IRC_REG_GO_ON);
	irc->in_session = 1;
}

/* connect_step takes a connection under way one step: 1 up (the session
 * opened), 0 not yet, -1 failed (closed). */
static int connect_step(struct irc *irc)
{
	int rc = irc_conn_advance(irc->conn, irc->errstr, sizeof(irc->errstr));

	if (rc == 1)
		session_open(irc);
	else if (rc < 0)
		irc->connecting = 0;
	return rc;
}

/* backoff sets the next connection's time: min * 2^attempt capped at max,
 * jittered down to half of it (backoff.h). */
static void backoff(struct irc *irc)
{
	long long d = backoff_delay_ms(irc->backoff_min_ms, irc->backoff_max_ms, irc->attempt,
				       backoff_rand(&irc->rng));

	if (irc->attempt < 30)
		irc->attempt++;
	metrics_inc(M_RETRY_NETWORK);
	log_info("irc: reconnecting in %lld ms", d);
	irc->retry_ms = clock_mono_ms() + d;
}

/* session_end ends a connection that failed or is stopped (quitting: say
 * QUIT first). */
static void session_end(struct irc *irc, int quitting)
{
	if (quitting)
		quit(irc);
	/* Only a connection that lasted resets the backoff: a server that
	 * welcomes the bot and drops it at once must not get a reconnect a
	 * second. */
	if (irc_reg_registered(irc->reg) &&
	    clock_mono_ms() - irc_reg_welcome_ms(irc->reg) >= IRC_STABLE_MS)
		irc->attempt = 0;
	irc_reg_lost(irc->reg); /* a notice from now on waits for the next session */
	check_acked(irc);       /* what arrived before the end is done, not resent */
	irc_conn_close(irc->conn);
	irc->in_session = 0;
}

/* ---- the ops (transport.h) ---- */

static enum err op_start(void *t, tr_handler_fn fn, void *ctx, volatile sig_atomic_t *stop)
{
	struct irc *irc = t;

	irc->errstr[0] = '\0';
	irc->fn = fn;
	irc->ctx = ctx;
	irc->stop = stop;
	irc->in_session = irc->connecting = 0;
	irc->retry_ms = 0;
	/* split for the configured nick until a connection says better */
	irc_outbox_replay(irc->ob, clock_mono_ms(), irc_prefix_len(me(irc), NULL, NULL));
	return ERR_OK;
}

static void op_want(void *t, struct tr_wait *w)
{
	struct irc *irc = t;

	if (irc->connecting) {
		irc_conn_want(irc->conn, &w->fd[0].events, &w->at_ms);
		w->fd[0].fd = irc_conn_fd(irc->conn);
		w->n = w->fd[0].fd >= 0 && w->fd[0].events;
		return;
	}
	if (!irc->in_session) {
		w->at_ms = irc->retry_ms;
		return;
	}
	w->fd[0].fd = irc_conn_fd(irc->conn);
	w->fd[0].events = POLLIN | (irc_conn_unsent(irc->conn) ? POLLOUT : 0);
	w->n = 1;
	w->at_ms = clock_mono_ms() + want_ms(irc);
}

static enum tr_state op_ready(void *t, const struct tr_wait *w)
{
	struct irc *irc = t;

	if (!irc->in_session && !irc->connecting) {
		if (clock_mono_ms() < irc->retry_ms)
			return TR_RUNNING;
		if (session_connect(irc) < 0) {
			backoff(irc);
			return TR_RUNNING;
		}
	}
	if (irc->connecting) {
		int rc = connect_step(irc);

		if (rc < 0)
			backoff(irc);
		if (rc <= 0)
			return TR_RUNNING;
		w = NULL; /* nothing polled on this connection yet */
	}
	if (session_step(irc, w ? w : &(struct tr_wait){.n = 0}) == 0 && !irc->fatal)
		return TR_RUNNING;
	session_end(irc, 0);
	if (irc->fatal)
		return TR_FAILED;
	backoff(irc);
	return TR_RUNNING;
}

static void op_notice(void *t, const char *text)
{
	mod_notice(t, text);
}

static void op_stop(void *t)
{
	struct irc *irc = t;

	if (irc->in_session)
		session_end(irc, 1);
	else if (irc->connecting)
		irc_conn_close(irc->conn);
	irc->connecting = 0;
}

static void op_health(const void *t, struct tr_health *h)
{
	const struct irc *irc = t;

	/* the session's PING watch ends a dead link, so a registered session
	 * is a live one; a bot waiting for its services, or for a server,
	 * shows none */
	h->alive_ms = irc->in_session && irc_reg_registered(irc->reg) ? clock_mono_ms() : 0;
}

static const char *op_errstr(const void *t)
{
	return irc_errstr(t);
}

const struct transport_ops irc_ops = {"irc",     op_start, op_want,   op_ready,
				      op_notice, op_stop,  op_health, op_errstr};
