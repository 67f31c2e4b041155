/* irc_reg.c -- registration as a pure state machine: see irc_reg.h.
 *
 * Shape: the config check and copies; then out_* helpers that build lines
 * and notes into the caller's irc_reg_out; the capability steps (LS, then
 * ACK or NAK), the SASL steps (the mechanism, the payload, 903 or a
 * refusal), the nick fallback and the welcome; irc_reg_on_line dispatches. */
#include "irc_reg.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "strs.h"

enum reg_mech { MECH_NONE, MECH_PLAIN, MECH_EXTERNAL };

/* Where a login stands on this connection. */
enum reg_sasl {
	SASL_IDLE,     /* none asked for (yet) */
	SASL_REQ,      /* CAP REQ sasl sent */
	SASL_MECH,     /* AUTHENTICATE <mechanism> sent */
	SASL_SENT,     /* the payload sent */
	SASL_LOGGED_IN /* 903 */
};

struct irc_reg {
	/* config, owned copies */
	char *nick, *user, *realname, *pass, *sasl_account, *sasl_password;
	char **alt_nicks;
	size_t n_alt_nicks;
	enum reg_mech mech;
	long register_ms;

	/* across connections */
	int ever_registered; /* a login worked once since irc_reg_new */
	unsigned long retries;

	/* this connection */
	char me[IRC_NICK_MAX];
	size_t nick_try; /* 0: nick; 1..n_alt: alternatives; then suffixes */
	int registered;
	long long begun_ms, welcome_ms;
	int cap_done;
	int cap_requested; /* the REQs went out after the last LS line */
	int cap_pending;   /* REQs not yet ACKed or NAKed */
	int sasl_offered;
	char sasl_mechs[IRC_LINE_MAX]; /* the sasl capability's value: "PLAIN,EXTERNAL" */
	int acct_offered, acct_tag;    /* account-tag offered, and ACKed */
	int acct_req;                  /* account-tag asked for, not yet answered */
	enum reg_sasl sasl;
	char my_user[IRC_LINE_MAX]; /* as the server says; "" unknown */
	char my_host[IRC_LINE_MAX];
};

/* ---- output ---- */

static void out_clear(struct irc_reg_out *out)
{
	out->n = 0;
	out->secret = 0;
	out->note_level = LOG_INFO;
	out->note[0] = '\0';
	out->why[0] = '\0';
}

static void note(struct irc_reg_out *out, enum log_level lvl, const char *fmt, ...)
	LOG_PRINTF(3, 4);
static void note(struct irc_reg_out *out, enum log_level lvl, const char *fmt, ...)
{
	va_list ap;

	out->note_level = lvl;
	va_start(ap, fmt);
	vsnprintf(out->note, sizeof(out->note), fmt, ap);
	va_end(ap);
}

/* send_cmd builds one line into out; parameters that would break the line
 * are refused by irc_build, so nothing from outside can inject. */
static void send_cmd(struct irc_reg_out *out, const char *cmd, const char *const *p, size_t n)
{
	if (out->n >= IRC_REG_LINES_MAX || irc_build(out->line[out->n], sizeof(out->line[0]),
						     &out->len[out->n], cmd, p, n) != ERR_OK) {
		note(out, LOG_WARN, "irc: refused to send a malformed %s line", cmd);
		return;
	}
	out->n++;
}

static void send1(struct irc_reg_out *out, const char *cmd, const char *a)
{
	const char *p[1];

	p[0] = a;
	send_cmd(out, cmd, p, a ? 1 : 0);
}

static void send2(struct irc_reg_out *out, const char *cmd, const char *a, const char *b)
{
	const char *p[2];

	p[0] = a;
	p[1] = b;
	send_cmd(out, cmd, p, 2);
}

/* ---- config ---- */

int irc_reg_nick_ok(const char *s)
{
	return irc_word_ok(s) && strlen(s) < IRC_NICK_MAX - 4 && !strpbrk(s, "!@#&:*?.") &&
	       !(*s >= '0' && *s <= '9') && *s != '-';
}

/* check_external: EXTERNAL logs in with the client certificate. */
static enum err check_external(const struct irc_reg_config *cfg, size_t alen, char *errbuf,
			       size_t errlen)
{
	if (!cfg->tls || !cfg->tls_client_cert) {
		err_printf(errbuf, errlen,
			   "irc: sasl_mechanism EXTERNAL logs in with a client "
			   "certificate: set tls_cert_file (and keep tls on)");
		return ERR_INVALID;
	}
	if (cfg->sasl_password) {
		err_printf(errbuf, errlen,
			   "irc: sasl_mechanism EXTERNAL logs in with the client "
			   "certificate, not a password: remove the SASL password");
		return ERR_INVALID;
	}
	if (cfg->sasl_account && (!alen || alen * 4 / 3 + 4 > IRC_SASL_RAW_MAX)) {
		err_printf(errbuf, errlen, "irc: the SASL account is empty or too long");
		return ERR_INVALID;
	}
	return ERR_OK;
}

/* check_sasl picks the SASL mechanism and checks that the config gives
 * what it needs. */
static enum err check_sasl(const struct irc_reg_config *cfg, enum reg_mech *mech, char *errbuf,
			   size_t errlen)
{
	const char *m = cfg->sasl_mechanism && *cfg->sasl_mechanism ? cfg->sasl_mechanism : NULL;
	size_t alen = cfg->sasl_account ? strlen(cfg->sasl_account) : 0;

	*mech = MECH_NONE;
	if (m && !strcasecmp(m, "EXTERNAL")) {
		if (check_external(cfg, alen, errbuf, errlen) != ERR_OK)
			return ERR_INVALID;
		*mech = MECH_EXTERNAL;
		return ERR_OK;
	}
	if (m && strcasecmp(m, "PLAIN")) {
		err_printf(errbuf, errlen, "irc: sasl_mechanism \"%.64s\" is not PLAIN or EXTERNAL",
			   m);
		return ERR_INVALID;
	}
	if (!m && !cfg->sasl_account && !cfg->sasl_password)
		return ERR_OK;
	if (!cfg->sasl_account || !cfg->sasl_password) {
		err_printf(errbuf, errlen, "irc: SASL PLAIN needs both an account and a password");
		return ERR_INVALID;
	}
	if (!alen || !*cfg->sasl_password ||
	    2 * alen + strlen(cfg->sasl_password) + 2 > IRC_SASL_RAW_MAX) {
		err_printf(errbuf, errlen,
			   "irc: the SASL account or password is empty or too long");
		return ERR_INVALID;
	}
	*mech = MECH_PLAIN;
	return ERR_OK;
}

static enum err check_names(const struct irc_reg_config *cfg, char *errbuf, size_t errlen)
{
	size_t i;

	if (!irc_reg_nick_ok(cfg->nick)) {
		err_printf(errbuf, errlen, "irc: nick \"%s\" is not a valid nick",
			   cfg->nick ? cfg->nick : "");
		return ERR_INVALID;
	}
	for (i = 0; i < cfg->n_alt_nicks; i++)
		if (!irc_reg_nick_ok(cfg->alt_nicks[i])) {
			err_printf(errbuf, errlen,
				   "irc: alternative nick \"%s\" is not a valid nick",
				   cfg->alt_nicks[i] ? cfg->alt_nicks[i] : "");
			return ERR_INVALID;
		}
	if ((cfg->user && !irc_word_ok(cfg->user)) ||
	    (cfg->realname && (!*cfg->realname || !irc_param_ok(cfg->realname, 1))) ||
	    (cfg->server_password && !irc_param_ok(cfg->server_password, 1))) {
		err_printf(errbuf, errlen,
			   "irc: user, realname or server password holds a "
			   "space, a line break or a leading ':'");
		return ERR_INVALID;
	}
	return ERR_OK;
}

enum err irc_reg_new(const struct irc_reg_config *cfg, struct irc_reg **out, char *errbuf,
		     size_t errlen)
{
	struct irc_reg *r;
	enum reg_mech mech;
	int bad = 0;
	size_t i;

	*out = NULL;
	if (check_sasl(cfg, &mech, errbuf, errlen) != ERR_OK ||
	    check_names(cfg, errbuf, errlen) != ERR_OK)
		return ERR_INVALID;
	r = calloc(1, sizeof(*r));
	if (!r)
		goto nomem;
	r->mech = mech;
	r->register_ms = cfg->register_timeout_ms;
	r->welcome_ms = -1;
	r->nick = strs_dup_or_null(cfg->nick, &bad);
	r->user = strs_dup_or_null(cfg->user ? cfg->user : cfg->nick, &bad);
	r->realname = strs_dup_or_null(cfg->realname ? cfg->realname : "faqbot", &bad);
	r->pass = strs_dup_or_null(cfg->server_password, &bad);
	r->sasl_account = strs_dup_or_null(cfg->sasl_account, &bad);
	r->sasl_password = strs_dup_or_null(cfg->sasl_password, &bad);
	r->alt_nicks = calloc(cfg->n_alt_nicks + 1, sizeof(char *));
	if (bad || !r->alt_nicks)
		goto nomem;
	r->n_alt_nicks = cfg->n_alt_nicks;
	for (i = 0; i < cfg->n_alt_nicks; i++)
		r->alt_nicks[i] = strs_dup_or_null(cfg->alt_nicks[i], &bad);
	if (bad)
		goto nomem;
	snprintf(r->me, sizeof(r->me), "%s", r->nick);
	*out = r;
	return ERR_OK;
nomem:
	irc_reg_free(r);
	err_printf(errbuf, errlen, "irc: out of memory");
	return ERR_NOMEM;
}

void irc_reg_free(struct irc_reg *r)
{
	size_t i;

	if (!r)
		return;
	free(r->nick);
	free(r->user);
	free(r->realname);
	if (r->pass) {
		memset(r->pass, 0, strlen(r->pass));
		free(r->pass);
	}
	free(r->sasl_account);
	if (r->sasl_password) {
		memset(r->sasl_password, 0, strlen(r->sasl_password));
		free(r->sasl_password);
	}
	if (r->alt_nicks)
		for (i = 0; i < r->n_alt_nicks; i++)
			free(r->alt_nicks[i]);
	free(r->alt_nicks);
	free(r);
}

/* ---- connection ---- */

void irc_reg_begin(struct irc_reg *r, long long now, struct irc_reg_out *out)
{
	const char *user[4];

	out_clear(out);
	r->registered = r->cap_done = 0;
	r->cap_requested = r->cap_pending = 0;
	r->sasl_offered = 0;
	r->sasl = SASL_IDLE;
	r->sasl_mechs[0] = '\0';
	r->acct_offered = r->acct_tag = r->acct_req = 0;
	r->nick_try = 0;
	r->my_user[0] = r->my_host[0] = '\0';
	r->begun_ms = now;
	r->welcome_ms = -1;
	snprintf(r->me, sizeof(r->me), "%s", r->nick);
	send2(out, "CAP", "LS", "302");
	if (r->pass) {
		send1(out, "PASS", r->pass);
		out->secret = 1;
	}
	send1(out, "NICK", r->me);
	user[0] = r->user;
	user[1] = "0";
	user[2] = "*";
	user[3] = r->realname;
	send_cmd(out, "USER", user, 4);
}

enum irc_reg_step irc_reg_check(struct irc_reg *r, long long now, struct irc_reg_out *out)
{
	out_clear(out);
	if (r->registered || now - r->begun_ms <= r->register_ms)
		return IRC_REG_GO_ON;
	note(out, LOG_WARN, "irc: no welcome after %ld ms", r->register_ms);
	return IRC_REG_END;
}

void irc_reg_lost(struct irc_reg *r)
{
	r->registered = 0;
}

const char *irc_reg_nick(const struct irc_reg *r)
{
	return r->me;
}

int irc_reg_registered(const struct irc_reg *r)
{
	return r->registered;
}

long long irc_reg_welcome_ms(const struct irc_reg *r)
{
	return r->welcome_ms;
}

int irc_reg_account_tag(const struct irc_reg *r)
{
	return r->acct_tag;
}

size_t irc_reg_prefix_len(const struct irc_reg *r)
{
	return irc_prefix_len(r->me, r->my_user[0] ? r->my_user : NULL,
			      r->my_host[0] ? r->my_host : NULL);
}

unsigned long irc_reg_retries(const struct irc_reg *r)
{
	return r->retries;
}

/* login_failed ends the connection when SASL cannot log the bot in (why;
 * hint says what to check). Before any login worked, that is a setting a
 * reconnect cannot fix: FATAL (retrying would only hammer the server).
 * Once one has worked, the setting is right and the services are down or
 * out of step (a server restarted without them offers no SASL, or refuses
 * every login until they link): END, and the backoff retries, so the bot
 * comes back with them. */
static enum irc_reg_step login_failed(struct irc_reg *r, struct irc_reg_out *out, const char *why,
				      const char *hint)
{
	if (!r->ever_registered) {
		snprintf(out->why, sizeof(out->why), "irc: %s (%s%snot retrying)", why,
			 hint ? hint : "", hint ? "; " : "");
		note(out, LOG_ERROR, "%s", out->why);
		return IRC_REG_FATAL;
	}
	r->retries++;
	snprintf(out->why, sizeof(out->why),
		 "irc: %s; a login worked before, so the services may be down: retrying", why);
	note(out, LOG_ERROR, "%s (retry %lu)", out->why, r->retries);
	return IRC_REG_END;
}

/* ---- capabilities ---- */

/* sasl_in_progress: a mechanism asked for and no answer yet (903, 904) */
static int sasl_in_progress(const struct irc_reg *r)
{
	return r->sasl == SASL_MECH || r->sasl == SASL_SENT;
}

/* cap_maybe_end ends negotiation once every REQ is answered and SASL, if
 * any, is over (sasl-3.1 asks for CAP END only after the login). */
static void cap_maybe_end(struct irc_reg *r, struct irc_reg_out *out)
{
	if (r->cap_requested && !r->cap_pending && !r->cap_done &&
	    (r->mech == MECH_NONE || r->sasl == SASL_LOGGED_IN)) {
		send1(out, "CAP", "END");
		r->cap_done = 1;
	}
}

/* cap_find looks for name (or name=value) in a space-separated list; on
 * a find it copies the value ("" if none) into val (cap bytes; may be
 * NULL) and returns 1. */
static int cap_find(const char *list, const char *name, char *val, size_t cap)
{
	size_t n = strlen(name);
	const char *p = list;

	while (*p) {
		size_t w;

		p += strspn(p, " ");
		w = strcspn(p, " ");
		if (w >= n && !strncmp(p, name, n) && (w == n || p[n] == '=')) {
			if (val && cap) {
				size_t vl = w > n ? w - n - 1 : 0;

				if (vl >= cap)
					vl = cap - 1;
				if (vl)
					memcpy(val, p + n + 1, vl);
				val[vl] = '\0';
			}
			return 1;
		}
		p += w;
	}
	return 0;
}

static int has_cap(const char *list, const char *name)
{
	return cap_find(list, name, NULL, 0);
}

static const char *mech_name(const struct irc_reg *r)
{
	return r->mech == MECH_EXTERNAL ? "EXTERNAL" : "PLAIN";
}

/* cap_req asks for one capability. One REQ each, not one for all: a NAK
 * refuses a whole request, and account-tag must not take sasl down. */
static void cap_req(struct irc_reg *r, struct irc_reg_out *out, const char *name)
{
	send2(out, "CAP", "REQ", name);
	r->cap_pending++;
}

/* req_sasl asks for sasl, unless the server's LS already says no: without
 * the capability, or without the mechanism, the bot stops rather than go
 * on unauthenticated. */
static enum irc_reg_step req_sasl(struct irc_reg *r, struct irc_reg_out *out)
{
	char m[sizeof(r->sasl_mechs) + 2], want[16];
	char why[IRC_REG_NOTE_MAX / 2];

	if (!r->sasl_offered)
		return login_failed(
			r, out, "SASL: the server does not offer it (no sasl capability)", NULL);
	/* sasl=PLAIN,EXTERNAL (CAP 302): a list without ours is a refusal
	 * known now; an empty value says nothing */
	snprintf(m, sizeof(m), ",%s,", r->sasl_mechs);
	snprintf(want, sizeof(want), ",%s,", mech_name(r));
	if (r->sasl_mechs[0] && !strstr(m, want)) {
		snprintf(why, sizeof(why), "SASL: the server offers %.200s, not %s", r->sasl_mechs,
			 mech_name(r));
		return login_failed(r, out, why, NULL);
	}
	cap_req(r, out, "sasl");
	r->sasl = SASL_REQ;
	return IRC_REG_GO_ON;
}

/* on_cap_ls, once the last LS line is in, asks for what the bot uses:
 * sasl when configured and account-tag when offered. account-tag brings
 * the tag syntax with it (message-tags.md), so message-tags itself is not
 * needed. */
static enum irc_reg_step on_cap_ls(struct irc_reg *r, const char *list, int more,
				   struct irc_reg_out *out)
{
	char mechs[sizeof(r->sasl_mechs)];

	if (cap_find(list, "sasl", mechs, sizeof(mechs))) {
		r->sasl_offered = 1;
		snprintf(r->sasl_mechs, sizeof(r->sasl_mechs), "%s", mechs);
	}
	if (has_cap(list, "account-tag"))
		r->acct_offered = 1;
	if (more || r->cap_done || r->cap_requested)
		return IRC_REG_GO_ON;
	r->cap_requested = 1;
	if (r->mech != MECH_NONE) {
		enum irc_reg_step s = req_sasl(r, out);

		if (s != IRC_REG_GO_ON)
			return s;
	}
	if (r->acct_offered) {
		cap_req(r, out, "account-tag");
		r->acct_req = 1;
	}
	cap_maybe_end(r, out);
	return IRC_REG_GO_ON;
}

/* on_cap: CAP * LS [*] :caps, CAP * ACK :caps, CAP * NAK :caps */
static enum irc_reg_step on_cap(struct irc_reg *r, const struct irc_msg *m, struct irc_reg_out *out)
{
	const char *sub = m->nparams >= 2 ? m->params[1] : "";
	const char *list = m->nparams >= 3 ? m->params[m->nparams - 1] : "";
	int ack = !strcmp(sub, "ACK");

	if (!strcmp(sub, "LS")) /* "*" before the list means more follows */
		return on_cap_ls(r, list, m->nparams >= 4 && !strcmp(m->params[2], "*"), out);
	if (!ack && strcmp(sub, "NAK"))
		return IRC_REG_GO_ON; /* NEW, DEL, LIST: nothing the bot needs */
	if (r->cap_pending && has_cap(list, "sasl") && r->sasl == SASL_REQ) {
		r->cap_pending--;
		if (!ack)
			return login_failed(r, out, "SASL: the server refused the sasl capability",
					    NULL);
		send1(out, "AUTHENTICATE", mech_name(r));
		r->sasl = SASL_MECH;
	}
	/* an answer to nothing asked (a second ACK, an unasked NAK) changes
	 * nothing: acct_req is cleared by the first */
	if (r->cap_pending && r->acct_req && has_cap(list, "account-tag")) {
		r->cap_pending--;
		r->acct_req = 0;
		r->acct_tag = ack;
		if (!ack)
			note(out, LOG_INFO,
			     "irc: the server refused account-tag: no sender accounts");
	}
	cap_maybe_end(r, out);
	return IRC_REG_GO_ON;
}

/* ---- SASL ---- */

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* b64_encode writes in (n bytes) as base64 into out (cap bytes); the
 * length, or 0 when it does not fit. */
static size_t b64_encode(const unsigned char *in, size_t n, char *out, size_t cap)
{
	size_t i, o = 0;

	if ((n + 2) / 3 * 4 + 1 > cap)
		return 0;
	for (i = 0; i < n; i += 3) {
		unsigned v = (unsigned)in[i] << 16;

		if (i + 1 < n)
			v |= (unsigned)in[i + 1] << 8;
		if (i + 2 < n)
			v |= in[i + 2];
		out[o++] = b64[v >> 18 & 63];
		out[o++] = b64[v >> 12 & 63];
		out[o++] = i + 1 < n ? b64[v >> 6 & 63] : '=';
		out[o++] = i + 2 < n ? b64[v & 63] : '=';
	}
	out[o] = '\0';
	return o;
}

/* sasl_raw writes the mechanism's message: PLAIN account\0account\0password;
 * EXTERNAL the account as the authorization identity when one is
 * configured, else nothing (the server takes the account from the
 * certificate's fingerprint). Its length. */
static size_t sasl_raw(const struct irc_reg *r, unsigned char raw[IRC_SASL_RAW_MAX])
{
	size_t a = r->sasl_account ? strlen(r->sasl_account) : 0, p;

	if (r->mech == MECH_EXTERNAL) {
		if (a)
			memcpy(raw, r->sasl_account, a);
		return a;
	}
	p = strlen(r->sasl_password);
	memcpy(raw, r->sasl_account, a);
	raw[a] = '\0';
	memcpy(raw + a + 1, r->sasl_account, a);
	raw[2 * a + 1] = '\0';
	memcpy(raw + 2 * a + 2, r->sasl_password, p);
	return a + 1 + a + 1 + p;
}

/* sasl_respond answers the server's "AUTHENTICATE +" in base64, in chunks
 * of IRC_SASL_CHUNK and a "+" after a full last chunk (ircv3 sasl-3.1).
 * The secret is wiped from the stack after; out is marked secret. */
static void sasl_respond(struct irc_reg *r, struct irc_reg_out *out)
{
	unsigned char raw[IRC_SASL_RAW_MAX];
	char enc[IRC_SASL_RAW_MAX / 3 * 4 + 8], chunk[IRC_SASL_CHUNK + 1];
	size_t len, off;

	len = b64_encode(raw, sasl_raw(r, raw), enc, sizeof(enc));
	for (off = 0; off < len; off += IRC_SASL_CHUNK) {
		size_t k = len - off < IRC_SASL_CHUNK ? len - off : IRC_SASL_CHUNK;

		memcpy(chunk, enc + off, k);
		chunk[k] = '\0';
		send1(out, "AUTHENTICATE", chunk);
	}
	if (len % IRC_SASL_CHUNK == 0)
		send1(out, "AUTHENTICATE", "+");
	out->secret = 1;
	memset(raw, 0, sizeof(raw));
	memset(enc, 0, sizeof(enc));
	memset(chunk, 0, sizeof(chunk));
	r->sasl = SASL_SENT;
}

/* on_sasl_numeric: 900 (logged in), 903 (success), 908 (the server's
 * mechanisms), 902/904/905 (refused), 906/907 (aborted). Outside a login
 * of ours (none configured, or over) a refusal refers to nothing the bot
 * did: that line costs nothing. */
static enum irc_reg_step on_sasl_numeric(struct irc_reg *r, const struct irc_msg *m,
					 struct irc_reg_out *out)
{
	const char *c = m->command;

	if (!strcmp(c, "900")) { /* RPL_LOGGEDIN: me me!u@h account :text */
		note(out, LOG_INFO, "irc: SASL %s: logged in as %s", mech_name(r),
		     m->nparams >= 3 ? m->params[2] : "?");
	} else if (!strcmp(c, "903")) { /* RPL_SASLSUCCESS */
		if (sasl_in_progress(r)) {
			r->sasl = SASL_LOGGED_IN;
			cap_maybe_end(r, out);
		}
	} else if (!strcmp(c, "908")) { /* RPL_SASLMECHS, before the 904 */
		note(out, LOG_WARN, "irc: SASL: the server's mechanisms are %s",
		     m->nparams >= 2 ? m->params[1] : "?");
	} else if (!sasl_in_progress(r)) {
		return IRC_REG_GO_ON;
	} else if (!strcmp(c, "906") || !strcmp(c, "907")) {
		return login_failed(r, out, "SASL: the login was aborted", NULL);
	} else if (r->mech == MECH_EXTERNAL) {
		return login_failed(r, out,
				    "SASL EXTERNAL: the server refused the client certificate",
				    "is its fingerprint on the account, e.g. by NickServ "
				    "CERT ADD? check tls_cert_file");
	} else {
		return login_failed(r, out, "SASL: the server refused the account or password",
				    "check sasl_account and the password");
	}
	return IRC_REG_GO_ON;
}

/* ---- the nick and the welcome ---- */

/* next_nick picks the nick to try after a 433: the alternatives, then the
 * nick with "_" and then digits. 0 when every try is used. */
static int next_nick(struct irc_reg *r)
{
	size_t k = ++r->nick_try;

	if (k <= r->n_alt_nicks) {
		snprintf(r->me, sizeof(r->me), "%s", r->alt_nicks[k - 1]);
		return 1;
	}
	k -= r->n_alt_nicks;
	if (k > IRC_NICK_TRIES)
		return 0;
	if (k == 1)
		snprintf(r->me, sizeof(r->me), "%s_", r->nick);
	else
		snprintf(r->me, sizeof(r->me), "%s%zu", r->nick, k - 1);
	return 1;
}

static enum irc_reg_step on_nick_refused(struct irc_reg *r, struct irc_reg_out *out)
{
	if (r->registered)
		return IRC_REG_GO_ON;
	if (!next_nick(r)) {
		snprintf(out->why, sizeof(out->why), "irc: every nick tried is taken or refused");
		note(out, LOG_WARN, "%s", out->why);
		return IRC_REG_END;
	}
	note(out, LOG_INFO, "irc: nick taken or refused, trying %s", r->me);
	send1(out, "NICK", r->me);
	return IRC_REG_GO_ON;
}

static enum irc_reg_step on_welcome(struct irc_reg *r, const struct irc_msg *m, long long now,
				    struct irc_reg_out *out)
{
	if (r->registered)
		return IRC_REG_GO_ON; /* a second welcome changes nothing */
	if (r->mech != MECH_NONE && r->sasl != SASL_LOGGED_IN)
		return login_failed(r, out,
				    "SASL: the server registered the bot without a login (it "
				    "ignored CAP)",
				    "not going on unauthenticated");
	r->registered = 1;
	r->ever_registered = 1;
	r->welcome_ms = now;
	if (m->nparams >= 1 && irc_reg_nick_ok(m->params[0]))
		snprintf(r->me, sizeof(r->me), "%s", m->params[0]);
	note(out, LOG_INFO, "irc: registered as %s", r->me);
	return IRC_REG_WELCOME;
}

/* credible says whether a user or host the server says the bot has is
 * one to size lines by: one word, not so long that the prefix would
 * leave no room for text (then the guess stays, and lines stay short). */
static int credible(const char *s)
{
	return irc_param_ok(s, 0) && strlen(s) <= IRC_HOST_MAX;
}

/* on_whoami takes the bot's user and host from its own JOIN echo
 * (nick!user@host) or RPL_VISIBLEHOST (396: me host :text). */
static void on_whoami(struct irc_reg *r, const struct irc_msg *m)
{
	if (!strcmp(m->command, "396")) {
		if (m->nparams >= 2 && credible(m->params[1]))
			snprintf(r->my_host, sizeof(r->my_host), "%s", m->params[1]);
		return;
	}
	if (!m->nick || irc_casecmp(m->nick, r->me) != 0)
		return;
	if (m->user && credible(m->user))
		snprintf(r->my_user, sizeof(r->my_user), "%s", m->user);
	if (m->host && credible(m->host))
		snprintf(r->my_host, sizeof(r->my_host), "%s", m->host);
}

static int is_one_of(const char *c, const char *const *set)
{
	for (; *set; set++)
		if (!strcmp(c, *set))
			return 1;
	return 0;
}

enum irc_reg_step irc_reg_on_line(struct irc_reg *r, const struct irc_msg *m, long long now,
				  struct irc_reg_out *out)
{
	static const char *const sasl_numerics[] = {"900", "902", "903", "904", "905",
						    "906", "907", "908", NULL};
	static const char *const nick_refused[] = {"432", "433", "436", "437", NULL};
	const char *c = m->command;

	out_clear(out);
	if (!strcmp(c, "CAP"))
		return on_cap(r, m, out);
	if (!strcmp(c, "AUTHENTICATE")) {
		if (r->sasl == SASL_MECH && m->nparams >= 1 && !strcmp(m->params[0], "+"))
			sasl_respond(r, out);
		return IRC_REG_GO_ON;
	}
	if (is_one_of(c, sasl_numerics))
		return on_sasl_numeric(r, m, out);
	if (!strcmp(c, "001"))
		return on_welcome(r, m, now, out);
	if (is_one_of(c, nick_refused))
		return on_nick_refused(r, out);
	if (!strcmp(c, "JOIN") || !strcmp(c, "396"))
		on_whoami(r, m);
	if (!strcmp(c, "NICK") && m->nick && m->nparams >= 1 && irc_casecmp(m->nick, r->me) == 0 &&
	    irc_reg_nick_ok(m->params[0]))
		snprintf(r->me, sizeof(r->me), "%s", m->params[0]);
	return IRC_REG_GO_ON;
}
