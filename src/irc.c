/* irc.c -- the IRC transport: see irc.h for what it is and is not.
 *
 * Shape: irc_run is a loop of sessions. A session is one connection: a
 * non-blocking socket, one poll() loop with a short tick (so the stop flag
 * is seen quickly), a reader from irc_parse.c, and two ways out: protocol
 * lines (registration, PONG, PING, JOIN, QUIT) go to the write buffer at
 * once, members' replies wait in the queue of irc_out.c and pass its token
 * bucket. A session ends on any fault; the next starts after a backoff.
 * What outlives a session: the config, the counters, the backoff state,
 * the replies waiting (sent on the next connection) and the journal that
 * keeps them across a crash (irc_journal.c). */
#include "irc.h"
#include "netaddr.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "health.h"
#include "irc_journal.h"
#include "irc_out.h"
#include "irc_parse.h"
#include "log.h"
#include "ssl_dl.h"
#include "state.h"

#define IRC_TICK_MS 100        /* poll() slice: how fast stop is noticed */
#define IRC_RECV_CHUNK 4096    /* bytes read a recv() */
#define IRC_ERRSTR_MAX 512
#define IRC_CHANTYPES_MAX 16
#define IRC_SASL_CHUNK 400     /* AUTHENTICATE payload a line (sasl-3.1) */
#define IRC_SASL_RAW_MAX 1024  /* account, account and password, with NULs */
#define IRC_STABLE_MS 60000L /* a session this long resets the backoff */
#define IRC_HOST_MAX 255     /* a host (or user) the server says we have,
                              * longer is not believed: it would leave
                              * no room on a line */
#define IRC_VERSION_REPLY "faqbot (a support-group FAQ bot)"

enum irc_sasl_mech { IRC_SASL_NONE, IRC_SASL_PLAIN, IRC_SASL_EXTERNAL };

struct irc {
	/* config, owned copies */
	char *host, *nick, *user, *realname, *pass, *ca_file, *cert_file, *key_file;
	char *sasl_account, *sasl_password;
	enum irc_sasl_mech sasl_mech;
	int port, tls;
	void *ssl_ctx; /* with tls: one context for every connection */
	char **alt_nicks;
	size_t n_alt_nicks;
	char **chan_names, **chan_keys;
	size_t n_channels;
	char **mods;
	size_t n_mods;
	long connect_ms, register_ms, ping_idle_ms, ping_timeout_ms;
	long backoff_min_ms, backoff_max_ms, flood_interval_ms;
	int flood_burst;
	int pm_over_lines;
	char *state_dir; /* or NULL: no journal, no health mark */
	struct tr_tick tick; /* fn NULL: no ticks */

	/* session */
	int fd;
	void *ssl; /* with tls: this connection's */
	struct irc_reader *rd;
	struct irc_msg msg;
	char me[IRC_NICK_MAX];
	char my_user[IRC_LINE_MAX];
	char my_host[IRC_LINE_MAX];
	int user_known, host_known;
	int registered;
	size_t nick_try; /* 0: nick; 1..n_alt: alternatives; then suffixes */
	char chantypes[IRC_CHANTYPES_MAX];
	int cap_done;
	int cap_requested; /* the REQs went out after the last LS line */
	int cap_pending;   /* REQs not yet ACKed or NAKed */
	int sasl_offered;
	char sasl_mechs[IRC_LINE_MAX]; /* the sasl capability's value: "PLAIN,EXTERNAL" */
	int acct_offered, acct_tag; /* account-tag offered, and ACKed */
	int sasl_state; /* 0 none, 1 REQ sent, 2 mechanism sent, 3 sent, 4 logged in */
	int acct_req; /* account-tag asked for, not yet answered */
	int fatal;
	long long last_rx_ms, ping_sent_ms, started_ms, registered_ms;
	int closing; /* the server sent ERROR, or we sent QUIT */
	char wbuf[IRC_WBUF_MAX];
	size_t wlen;
	/* bytes of this connection put in wbuf, and handed to the kernel:
	 * irc_out's marks, compared with what the server acknowledged */
	unsigned long long wr_bytes, sent_bytes;
	unsigned long long ack_limit; /* bytes past it were dropped unsent (a
	                               * stop's QUIT cut in): never acked */

	/* across sessions */
	struct irc_out *out;         /* replies waiting, paced */
	struct irc_journal *journal; /* or NULL */
	unsigned long long next_id;  /* of the next reply queued */
	int ever_registered;         /* a login worked once this run */
	int journal_warned;
	long long health_ms;         /* the last health mark; 0: none yet */
	int health_warned;
	void *run_ctx;            /* the handler's ctx, for ticks */
	long long tick_ms;        /* the last tick */
	char *notices[IRC_NOTICE_WAIT_MAX]; /* for the moderators, waiting for
	                                     * a registration */
	size_t n_notices;
	unsigned attempt;
	unsigned long long rng;
	char textbuf[IRC_WIRE_MAX + 1];
	char errstr[IRC_ERRSTR_MAX];
	struct irc_stats st;
};

/* the connection's own waits (connect, TLS handshake) keep ticking */
static void tick_maybe(struct irc *irc, int wake_ready);
static void on_out_end(void *ctx, unsigned long long id, enum irc_out_end how);

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void errf(char *buf, size_t len, const char *fmt, ...) LOG_PRINTF(3, 4);
static void errf(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (!buf || !len)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, len, fmt, ap);
	va_end(ap);
}

static char *dup_or_null(const char *s, int *bad)
{
	char *d;

	if (!s)
		return NULL;
	d = strdup(s);
	if (!d)
		*bad = 1;
	return d;
}

static void free_list(char **l, size_t n)
{
	size_t i;

	if (!l)
		return;
	for (i = 0; i < n; i++)
		free(l[i]);
	free(l);
}

/* A word we put on a line: a parameter that cannot break it, with no comma
 * (JOIN and PRIVMSG would read a list). */
static int word_ok(const char *s)
{
	return s && *s && irc_param_ok(s, 0) && !strchr(s, ',');
}

static int nick_ok(const char *s)
{
	return word_ok(s) && strlen(s) < IRC_NICK_MAX - 4 && !strpbrk(s, "!@#&:*?.") &&
	       !(*s >= '0' && *s <= '9') && *s != '-';
}

void irc_free(struct irc *irc)
{
	size_t i;

	if (!irc)
		return;
	free(irc->host);
	free(irc->nick);
	free(irc->user);
	free(irc->realname);
	free(irc->pass);
	free(irc->ca_file);
	free(irc->cert_file);
	free(irc->key_file);
	for (i = 0; i < irc->n_notices; i++)
		free(irc->notices[i]);
	free(irc->sasl_account);
	if (irc->sasl_password) {
		memset(irc->sasl_password, 0, strlen(irc->sasl_password));
		free(irc->sasl_password);
	}
	if (irc->ssl)
		ssl_dl.ssl_free(irc->ssl);
	if (irc->ssl_ctx)
		ssl_dl.ctx_free(irc->ssl_ctx);
	free_list(irc->alt_nicks, irc->n_alt_nicks);
	free_list(irc->chan_names, irc->n_channels);
	free_list(irc->chan_keys, irc->n_channels);
	free_list(irc->mods, irc->n_mods);
	free(irc->state_dir);
	irc_out_free(irc->out); /* what still waits is in the journal */
	irc_journal_free(irc->journal);
	irc_reader_free(irc->rd);
	if (irc->fd >= 0)
		close(irc->fd);
	free(irc);
}

/* ---- TLS ---- */

/* tls_why writes OpenSSL's reason for the last failure into buf. */
static void tls_why(char *buf, size_t len)
{
	unsigned long e = ssl_dl.err_get_error();

	if (e)
		ssl_dl.err_error_string_n(e, buf, len);
	else
		snprintf(buf, len, "%s", errno ? strerror(errno) : "connection closed");
	ssl_dl.err_clear_error();
}

/* no_passphrase is OpenSSL's passphrase callback: none. Its default would
 * ask on the terminal, and a service has nobody there; a key with a
 * passphrase fails to load, with a clear error, instead. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)u;
	return 0;
}

/* tls_client_cert loads the client certificate and its key into the
 * context and checks that they belong together, so that a wrong file is
 * a one-line error at start-up, not a refused SASL EXTERNAL later. The key
 * goes first: a certificate loaded after a key that is not its own drops
 * that key, and the check then names the mismatch (the other order fails
 * in the key's loading, with a reason that does not say so plainly). */
static enum err tls_client_cert(struct irc *irc, char *errbuf, size_t errlen)
{
	const char *key = irc->key_file ? irc->key_file : irc->cert_file;
	char why[256];

	ssl_dl.ctx_set_default_passwd_cb(irc->ssl_ctx, no_passphrase);
	if (ssl_dl.ctx_use_privatekey_file(irc->ssl_ctx, key, SSL_DL_FILETYPE_PEM) != 1) {
		tls_why(why, sizeof(why));
		errf(errbuf, errlen,
		     "irc: %s %s: no PEM private key in it (one with a passphrase is not "
		     "supported): %s",
		     irc->key_file ? "tls_key_file" : "tls_cert_file (no tls_key_file)", key, why);
		return ERR_INVALID;
	}
	if (ssl_dl.ctx_use_certificate_chain_file(irc->ssl_ctx, irc->cert_file) != 1) {
		tls_why(why, sizeof(why));
		errf(errbuf, errlen, "irc: tls_cert_file %s: no PEM certificate in it: %s",
		     irc->cert_file, why);
		return ERR_INVALID;
	}
	if (ssl_dl.ctx_check_private_key(irc->ssl_ctx) != 1) {
		ssl_dl.err_clear_error();
		errf(errbuf, errlen, "irc: the private key in %s does not match the certificate in %s",
		     key, irc->cert_file);
		return ERR_INVALID;
	}
	return ERR_OK;
}

/* tls_setup loads libssl and makes the one context: TLS 1.2 or later, the
 * peer verified against the system's trust store or the named file, and
 * our own certificate when one is configured. */
static enum err tls_setup(struct irc *irc, char *errbuf, size_t errlen)
{
	char why[256];

	if (ssl_dl_load(why, sizeof(why)) != ERR_OK) {
		errf(errbuf, errlen, "irc: TLS: %s", why);
		return ERR_NOTFOUND;
	}
	irc->ssl_ctx = ssl_dl.ctx_new(ssl_dl.tls_client_method());
	if (!irc->ssl_ctx) {
		tls_why(why, sizeof(why));
		errf(errbuf, errlen, "irc: TLS: %s", why);
		return ERR_NOMEM;
	}
	ssl_dl.ctx_ctrl(irc->ssl_ctx, SSL_DL_CTRL_SET_MIN_PROTO_VERSION, SSL_DL_TLS1_2_VERSION,
	                NULL);
	/* irc.c's write buffer moves and grows between retries of a write */
	ssl_dl.ctx_ctrl(irc->ssl_ctx, SSL_DL_CTRL_MODE,
	                SSL_DL_MODE_ENABLE_PARTIAL_WRITE | SSL_DL_MODE_ACCEPT_MOVING_WRITE_BUFFER,
	                NULL);
	ssl_dl.ctx_set_verify(irc->ssl_ctx, SSL_DL_VERIFY_PEER, NULL);
	if (irc->ca_file ? ssl_dl.ctx_load_verify_locations(irc->ssl_ctx, irc->ca_file, NULL) != 1
	                 : ssl_dl.ctx_set_default_verify_paths(irc->ssl_ctx) != 1) {
		tls_why(why, sizeof(why));
		errf(errbuf, errlen, "irc: TLS: cannot load %s: %s",
		     irc->ca_file ? irc->ca_file : "the system's certificates", why);
		return ERR_INVALID;
	}
	if (irc->cert_file)
		return tls_client_cert(irc, errbuf, errlen);
	return ERR_OK;
}

/* An IP literal gets its address checked against the certificate and no
 * SNI (RFC 6066 allows host names only). */
static int host_is_ip(const char *h)
{
	return strchr(h, ':') || strspn(h, "0123456789.") == strlen(h);
}

/* tls_handshake runs the handshake on the connected socket, polling; -1
 * on failure, with the reason (a certificate not trusted, a name that does
 * not match...) logged and kept in errstr. */
static int tls_handshake(struct irc *irc, volatile sig_atomic_t *stop)
{
	long long deadline = now_ms() + irc->connect_ms;
	char why[256];

	irc->ssl = ssl_dl.ssl_new(irc->ssl_ctx);
	if (!irc->ssl || ssl_dl.set_fd(irc->ssl, irc->fd) != 1)
		goto fail;
	if (host_is_ip(irc->host)) {
		if (ssl_dl.param_set1_ip_asc(ssl_dl.get0_param(irc->ssl), irc->host) != 1)
			goto fail;
	} else if (ssl_dl.set1_host(irc->ssl, irc->host) != 1 ||
	           ssl_dl.ssl_ctrl(irc->ssl, SSL_DL_CTRL_SET_TLSEXT_HOSTNAME,
	                           SSL_DL_TLSEXT_NAMETYPE_HOST_NAME, irc->host) != 1) {
		goto fail;
	}
	for (;;) {
		struct pollfd pfd = {irc->fd, 0, 0};
		long long left = deadline - now_ms();
		int rc, e;

		errno = 0;
		rc = ssl_dl.connect(irc->ssl);
		if (rc == 1)
			return 0;
		e = ssl_dl.get_error(irc->ssl, rc);
		if (e == SSL_DL_ERROR_WANT_READ)
			pfd.events = POLLIN;
		else if (e == SSL_DL_ERROR_WANT_WRITE)
			pfd.events = POLLOUT;
		else
			break;
		if (*stop || left <= 0) {
			snprintf(why, sizeof(why), "timed out");
			goto report;
		}
		poll(&pfd, 1, left < IRC_TICK_MS ? (int)left : IRC_TICK_MS);
		tick_maybe(irc, 0);
	}
fail:
	if (irc->ssl && ssl_dl.get_verify_result(irc->ssl) != SSL_DL_X509_V_OK) {
		snprintf(why, sizeof(why), "certificate verify failed: %s",
		         ssl_dl.verify_cert_error_string(ssl_dl.get_verify_result(irc->ssl)));
		ssl_dl.err_clear_error();
	} else {
		tls_why(why, sizeof(why));
	}
report:
	snprintf(irc->errstr, sizeof(irc->errstr), "irc: TLS with %s port %d: %s", irc->host,
	         irc->port, why);
	log_error("%s", irc->errstr);
	return -1;
}

/* io_recv and io_send: recv()/send() or their TLS forms, with the same
 * contract: > 0 bytes, 0 closed (recv only), -1 with errno EAGAIN for "not
 * now", -1 with another errno for a dead connection. */
/* ssl_result maps what SSL_read or SSL_write returned (n) onto the
 * recv/send convention: bytes, 0 for an orderly end (reads only), or -1 with
 * errno (EAGAIN when TLS wants the socket again, else fallback). */
static ssize_t ssl_result(struct irc *irc, int n, int reading, int fallback)
{
	int e;

	if (n > 0)
		return n;
	e = ssl_dl.get_error(irc->ssl, n);
	if (e == SSL_DL_ERROR_WANT_READ || e == SSL_DL_ERROR_WANT_WRITE) {
		errno = EAGAIN;
		return -1;
	}
	ssl_dl.err_clear_error();
	if (reading && (e == SSL_DL_ERROR_ZERO_RETURN || (e == SSL_DL_ERROR_SYSCALL && errno == 0)))
		return 0;
	if (!errno)
		errno = fallback;
	return -1;
}

static ssize_t io_recv(struct irc *irc, char *buf, size_t len)
{
	if (!irc->ssl)
		return recv(irc->fd, buf, len, 0);
	errno = 0;
	return ssl_result(irc, ssl_dl.read(irc->ssl, buf, (int)len), 1, EPROTO);
}

static ssize_t io_send(struct irc *irc, const char *buf, size_t len)
{
	if (!irc->ssl)
		return send(irc->fd, buf, len, MSG_NOSIGNAL);
	errno = 0;
	return ssl_result(irc, ssl_dl.write(irc->ssl, buf, (int)len), 0, EPIPE);
}

static long pick(long v, long def)
{
	return v > 0 ? v : def;
}

/* check_tls_files checks the client certificate and key files that can be
 * checked without libssl: named only with tls, readable, and the key not
 * readable by every user (a private key is a secret; group-readable stays
 * allowed, as Debian's ssl-cert group does). tls_setup checks the rest. */
static enum err check_tls_files(const struct irc_config *cfg, char *errbuf, size_t errlen)
{
	const char *key = cfg->tls_key_file ? cfg->tls_key_file : cfg->tls_cert_file;
	const char *unreadable;
	struct stat sb;

	if (cfg->tls_key_file && !cfg->tls_cert_file) {
		errf(errbuf, errlen, "irc: tls_key_file %s without tls_cert_file", cfg->tls_key_file);
		return ERR_INVALID;
	}
	if (!cfg->tls_cert_file)
		return ERR_OK;
	if (!cfg->tls) {
		errf(errbuf, errlen, "irc: tls_cert_file %s: only with tls on", cfg->tls_cert_file);
		return ERR_INVALID;
	}
	unreadable = access(cfg->tls_cert_file, R_OK) != 0 ? cfg->tls_cert_file
	             : access(key, R_OK) != 0               ? key
	                                                    : NULL;
	if (unreadable) {
		errf(errbuf, errlen, "irc: %s %s: %s",
		     unreadable == cfg->tls_cert_file ? "tls_cert_file" : "tls_key_file", unreadable,
		     strerror(errno));
		return ERR_INVALID;
	}
	if (stat(key, &sb) == 0 && (sb.st_mode & S_IROTH)) {
		errf(errbuf, errlen,
		     "irc: %s %s holds a private key every user can read: chmod o-r (or 600) it",
		     cfg->tls_key_file ? "tls_key_file" : "tls_cert_file", key);
		return ERR_INVALID;
	}
	return ERR_OK;
}

/* check_sasl picks the SASL mechanism and checks that the config gives
 * what it needs. */
static enum err check_sasl(const struct irc_config *cfg, enum irc_sasl_mech *mech,
                           char *errbuf, size_t errlen)
{
	const char *m = cfg->sasl_mechanism && *cfg->sasl_mechanism ? cfg->sasl_mechanism : NULL;
	size_t alen = cfg->sasl_account ? strlen(cfg->sasl_account) : 0;

	*mech = IRC_SASL_NONE;
	if (m && !strcasecmp(m, "EXTERNAL")) {
		if (!cfg->tls || !cfg->tls_cert_file) {
			errf(errbuf, errlen, "irc: sasl_mechanism EXTERNAL logs in with a client "
			                     "certificate: set tls_cert_file (and keep tls on)");
			return ERR_INVALID;
		}
		if (cfg->sasl_password) {
			errf(errbuf, errlen, "irc: sasl_mechanism EXTERNAL logs in with the client "
			                     "certificate, not a password: remove the SASL password");
			return ERR_INVALID;
		}
		if (cfg->sasl_account && (!alen || alen * 4 / 3 + 4 > IRC_SASL_RAW_MAX)) {
			errf(errbuf, errlen, "irc: the SASL account is empty or too long");
			return ERR_INVALID;
		}
		*mech = IRC_SASL_EXTERNAL;
		return ERR_OK;
	}
	if (m && strcasecmp(m, "PLAIN")) {
		errf(errbuf, errlen, "irc: sasl_mechanism \"%.64s\" is not PLAIN or EXTERNAL", m);
		return ERR_INVALID;
	}
	if (!m && !cfg->sasl_account && !cfg->sasl_password)
		return ERR_OK;
	if (!cfg->sasl_account || !cfg->sasl_password) {
		errf(errbuf, errlen, "irc: SASL PLAIN needs both an account and a password");
		return ERR_INVALID;
	}
	if (!alen || !*cfg->sasl_password ||
	    2 * alen + strlen(cfg->sasl_password) + 2 > IRC_SASL_RAW_MAX) {
		errf(errbuf, errlen, "irc: the SASL account or password is empty or too long");
		return ERR_INVALID;
	}
	*mech = IRC_SASL_PLAIN;
	return ERR_OK;
}

static long long wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* journal_open makes the state folder if needed and opens the journal;
 * what it holds waits in irc->journal for replay(). */
static enum err journal_open(struct irc *irc, char *errbuf, size_t errlen)
{
	struct irc_journal_stats st;
	char why[512];
	enum err e;

	if (state_dir_prepare(irc->state_dir, why, sizeof(why)) != ERR_OK) {
		errf(errbuf, errlen, "irc: %s", why);
		return ERR_IO;
	}
	e = irc_journal_open(irc->state_dir, &irc->journal, &st, errbuf, errlen);
	if (e != ERR_OK)
		return e;
	if (st.bad_lines || st.torn)
		log_warn("irc: the reply journal had %zu unreadable line%s%s; the rest is "
		         "kept",
		         st.bad_lines + st.torn, st.bad_lines + st.torn == 1 ? "" : "s",
		         st.torn ? " (the last one torn by a crash)" : "");
	irc->next_id = irc_journal_next_id(irc->journal);
	return ERR_OK;
}

static long max_age_ms(const char *kind)
{
	return kind && !strcmp(kind, "alert") ? IRC_ALERT_MAX_AGE_MS : IRC_REPLY_MAX_AGE_MS;
}

static int is_urgent(const char *kind)
{
	return kind && (!strcmp(kind, "crisis") || !strcmp(kind, "alert"));
}

/* replay queues the replies the journal kept from the last run, those
 * young enough; the others are marked done. irc_out puts the urgent ones
 * (a crisis reply, an alert) first. */
static void replay(struct irc *irc)
{
	const struct irc_journal_entry *v;
	long long wall = wall_ms(), mono = now_ms();
	size_t n, i, queued = 0, old = 0;

	if (!irc->journal)
		return;
	/* split for the configured nick until a connection says better */
	irc_out_set_prefix(irc->out, irc_prefix_len(irc->nick, NULL, NULL));
	v = irc_journal_pending(irc->journal, &n);
	for (i = 0; i < n; i++) {
		long long age = wall - v[i].wall_ms;
		struct irc_out_reply r;

		if (age < 0)
			age = 0; /* the clock went back: take it as new */
		if (age >= max_age_ms(v[i].kind)) {
			old++;
			irc_journal_done(irc->journal, v[i].id);
			continue;
		}
		memset(&r, 0, sizeof(r));
		r.id = v[i].id;
		r.cmd = v[i].cmd;
		r.target = v[i].target;
		r.text = v[i].text;
		r.urgent = is_urgent(v[i].kind);
		r.keep = 1;
		r.expires_ms = mono - age + max_age_ms(v[i].kind);
		if (irc_out_push(irc->out, &r, NULL) != ERR_OK) {
			irc_journal_done(irc->journal, v[i].id);
			irc->st.dropped++;
			continue;
		}
		queued++;
	}
	irc_journal_forget(irc->journal);
	irc->st.replayed += queued;
	irc->st.expired += old;
	if (queued || old)
		log_info("irc: the journal kept %zu repl%s from the last run: %zu to send, %zu "
		         "too old",
		         queued + old, queued + old == 1 ? "y" : "ies", queued, old);
}

enum err irc_new(const struct irc_config *cfg, struct irc **out, char *errbuf,
                 size_t errlen)
{
	struct irc *irc = NULL;
	enum irc_sasl_mech mech = IRC_SASL_NONE;
	int bad = 0;
	size_t i;

	*out = NULL;
	if (errbuf && errlen)
		errbuf[0] = '\0';
	if (!cfg->host || !*cfg->host || strpbrk(cfg->host, " \r\n/")) {
		errf(errbuf, errlen, "irc: no server host (host = irc.example.org)");
		return ERR_INVALID;
	}
	if (!cfg->tls) {
		char why[256];

		if (netaddr_check_plain(cfg->host, why, sizeof(why)) != ERR_OK) {
			errf(errbuf, errlen, "irc: host %s with tls = false: %s", cfg->host, why);
			return ERR_INVALID;
		}
	}
	if (cfg->tls_ca_file && (!cfg->tls || access(cfg->tls_ca_file, R_OK) != 0)) {
		errf(errbuf, errlen, "irc: tls_ca_file %s: %s", cfg->tls_ca_file,
		     cfg->tls ? strerror(errno) : "only with tls on");
		return ERR_INVALID;
	}
	if (check_tls_files(cfg, errbuf, errlen) != ERR_OK ||
	    check_sasl(cfg, &mech, errbuf, errlen) != ERR_OK)
		return ERR_INVALID;
	if (cfg->port < 0 || cfg->port > 65535) {
		errf(errbuf, errlen, "irc: port %d is not between 1 and 65535", cfg->port);
		return ERR_INVALID;
	}
	if (!nick_ok(cfg->nick)) {
		errf(errbuf, errlen, "irc: nick \"%s\" is not a valid nick",
		     cfg->nick ? cfg->nick : "");
		return ERR_INVALID;
	}
	if (cfg->n_alt_nicks > IRC_LIST_MAX || cfg->n_channels > IRC_LIST_MAX ||
	    cfg->n_moderators > IRC_LIST_MAX) {
		errf(errbuf, errlen, "irc: more than %d nicks, channels or moderators",
		     IRC_LIST_MAX);
		return ERR_LIMIT;
	}
	for (i = 0; i < cfg->n_alt_nicks; i++)
		if (!nick_ok(cfg->alt_nicks[i])) {
			errf(errbuf, errlen, "irc: alternative nick \"%s\" is not a valid nick",
			     cfg->alt_nicks[i] ? cfg->alt_nicks[i] : "");
			return ERR_INVALID;
		}
	if ((cfg->user && !word_ok(cfg->user)) ||
	    (cfg->realname && (!*cfg->realname || !irc_param_ok(cfg->realname, 1))) ||
	    (cfg->server_password && !irc_param_ok(cfg->server_password, 1))) {
		errf(errbuf, errlen, "irc: user, realname or server password holds a "
		                     "space, a line break or a leading ':'");
		return ERR_INVALID;
	}
	for (i = 0; i < cfg->n_channels; i++) {
		const struct irc_channel *c = &cfg->channels[i];

		if (!word_ok(c->name) || !irc_target_is_channel(c->name, NULL) ||
		    (c->key && !word_ok(c->key))) {
			errf(errbuf, errlen,
			     "irc: channel \"%s\" (or its key) is not valid: a name starts "
			     "with # or &, no spaces or commas",
			     c->name ? c->name : "");
			return ERR_INVALID;
		}
	}
	for (i = 0; i < cfg->n_moderators; i++)
		if (!word_ok(cfg->moderators[i])) {
			errf(errbuf, errlen, "irc: moderator \"%s\" is not a nick or channel",
			     cfg->moderators[i] ? cfg->moderators[i] : "");
			return ERR_INVALID;
		}

	irc = calloc(1, sizeof(*irc));
	if (!irc)
		goto nomem;
	irc->fd = -1;
	irc->tick.wake_fd = -1;
	irc->host = dup_or_null(cfg->host, &bad);
	irc->nick = dup_or_null(cfg->nick, &bad);
	irc->user = dup_or_null(cfg->user ? cfg->user : cfg->nick, &bad);
	irc->realname = dup_or_null(cfg->realname ? cfg->realname : "faqbot", &bad);
	irc->pass = dup_or_null(cfg->server_password, &bad);
	irc->ca_file = dup_or_null(cfg->tls_ca_file, &bad);
	irc->cert_file = dup_or_null(cfg->tls_cert_file, &bad);
	irc->key_file = dup_or_null(cfg->tls_key_file, &bad);
	irc->sasl_mech = mech;
	irc->sasl_account = dup_or_null(cfg->sasl_account, &bad);
	irc->sasl_password = dup_or_null(cfg->sasl_password, &bad);
	irc->tls = cfg->tls != 0;
	irc->port = cfg->port ? cfg->port : cfg->tls ? IRC_PORT_TLS : IRC_PORT_PLAIN;
	irc->alt_nicks = calloc(cfg->n_alt_nicks + 1, sizeof(char *));
	irc->chan_names = calloc(cfg->n_channels + 1, sizeof(char *));
	irc->chan_keys = calloc(cfg->n_channels + 1, sizeof(char *));
	irc->mods = calloc(cfg->n_moderators + 1, sizeof(char *));
	irc->rd = irc_reader_new();
	irc->state_dir = dup_or_null(cfg->state_dir, &bad);
	if (bad || !irc->alt_nicks || !irc->chan_names || !irc->chan_keys || !irc->mods ||
	    !irc->rd)
		goto nomem;
	irc->n_alt_nicks = cfg->n_alt_nicks;
	irc->n_channels = cfg->n_channels;
	irc->n_mods = cfg->n_moderators;
	for (i = 0; i < cfg->n_alt_nicks; i++)
		irc->alt_nicks[i] = dup_or_null(cfg->alt_nicks[i], &bad);
	for (i = 0; i < cfg->n_channels; i++) {
		irc->chan_names[i] = dup_or_null(cfg->channels[i].name, &bad);
		irc->chan_keys[i] = dup_or_null(cfg->channels[i].key, &bad);
	}
	for (i = 0; i < cfg->n_moderators; i++)
		irc->mods[i] = dup_or_null(cfg->moderators[i], &bad);
	if (bad)
		goto nomem;
	irc->connect_ms = pick(cfg->connect_timeout_ms, IRC_CONNECT_TIMEOUT_MS);
	irc->register_ms = pick(cfg->register_timeout_ms, IRC_REGISTER_TIMEOUT_MS);
	irc->ping_idle_ms = pick(cfg->ping_idle_ms, IRC_PING_IDLE_MS);
	irc->ping_timeout_ms = pick(cfg->ping_timeout_ms, IRC_PING_TIMEOUT_MS);
	irc->backoff_min_ms = pick(cfg->backoff_min_ms, IRC_BACKOFF_MIN_MS);
	irc->backoff_max_ms = pick(cfg->backoff_max_ms, IRC_BACKOFF_MAX_MS);
	if (irc->backoff_max_ms < irc->backoff_min_ms)
		irc->backoff_max_ms = irc->backoff_min_ms;
	irc->flood_burst = cfg->flood_burst > 0 ? cfg->flood_burst : IRC_FLOOD_BURST;
	irc->flood_interval_ms = pick(cfg->flood_interval_ms, IRC_FLOOD_INTERVAL_MS);
	irc->pm_over_lines = cfg->pm_over_lines > 0 ? cfg->pm_over_lines : 0;
	{
		struct irc_out_config oc;

		memset(&oc, 0, sizeof(oc));
		oc.burst = irc->flood_burst;
		oc.interval_ms = irc->flood_interval_ms;
		oc.on_end = on_out_end;
		oc.ctx = irc;
		irc->out = irc_out_new(&oc);
		if (!irc->out)
			goto nomem;
	}
	irc->next_id = 1;
	if (irc->state_dir) {
		char why[IRC_ERRSTR_MAX];

		/* a journal that cannot be read or written costs its protection,
		 * never the start: a bot that does not start is silent */
		if (journal_open(irc, why, sizeof(why)) != ERR_OK)
			log_error("%s; running without the reply journal: replies waiting will not "
			          "survive a crash",
			          why);
	}
	if (irc->tls && tls_setup(irc, errbuf, errlen) != ERR_OK) {
		irc_free(irc);
		return ERR_INVALID;
	}
	irc->rng = (unsigned long long)now_ms() * 6364136223846793005ULL ^
	           (unsigned long long)getpid() ^ 0x9e3779b97f4a7c15ULL;
	*out = irc;
	return ERR_OK;
nomem:
	irc_free(irc);
	errf(errbuf, errlen, "irc: out of memory");
	return ERR_NOMEM;
}

const char *irc_errstr(const struct irc *irc)
{
	return irc->errstr;
}

void irc_get_stats(const struct irc *irc, struct irc_stats *out)
{
	*out = irc->st;
}

/* ---- output ---- */

/* put_raw appends one whole line to the write buffer (protocol lines: they
 * are few, small and must not wait behind replies). */
static void put_raw(struct irc *irc, const char *line, size_t len)
{
	if (len > sizeof(irc->wbuf) - irc->wlen) {
		irc->st.dropped++;
		log_warn("irc: write buffer full, a protocol line dropped");
		return;
	}
	memcpy(irc->wbuf + irc->wlen, line, len);
	irc->wlen += len;
	irc->wr_bytes += len;
}

/* send_cmd builds and queues a protocol line; parameters that would break
 * the line are refused by irc_build, so nothing from outside can inject. */
static void send_cmd(struct irc *irc, const char *cmd, const char *const *p, size_t n)
{
	char line[IRC_LINE_MAX + 1];
	size_t len;

	if (irc_build(line, sizeof(line), &len, cmd, p, n) != ERR_OK) {
		log_warn("irc: refused to send a malformed %s line", cmd);
		return;
	}
	put_raw(irc, line, len);
}

static void send1(struct irc *irc, const char *cmd, const char *a)
{
	const char *p[1];

	p[0] = a;
	send_cmd(irc, cmd, p, a ? 1 : 0);
}

static void send2(struct irc *irc, const char *cmd, const char *a, const char *b)
{
	const char *p[2];

	p[0] = a;
	p[1] = b;
	send_cmd(irc, cmd, p, 2);
}

static size_t my_prefix_len(const struct irc *irc)
{
	return irc_prefix_len(irc->me, irc->user_known ? irc->my_user : NULL,
	                      irc->host_known ? irc->my_host : NULL);
}

/* on_out_end: a reply left the queue (irc_out.h); a journaled one is
 * marked done, whatever the reason, so it is never sent again. */
static void on_out_end(void *ctx, unsigned long long id, enum irc_out_end how)
{
	struct irc *irc = ctx;

	if (how == IRC_OUT_DROPPED)
		irc->st.dropped++;
	else if (how == IRC_OUT_EXPIRED)
		irc->st.expired++;
	if (irc->journal && irc_journal_done(irc->journal, id) != ERR_OK && !irc->journal_warned) {
		irc->journal_warned = 1;
		log_warn("irc: cannot write to the reply journal in %s: a reply sent may be "
		         "sent again after a crash",
		         irc->state_dir);
	}
}

/* say splits text for target and queues it (irc_out.h): urgent for a
 * crisis reply or an alert, which go ahead of ordinary replies. kind, for
 * a reply or an alert, journals it ("crisis", "alert", "faq"...); NULL
 * (a notice for the moderators) does not. */
static enum err say(struct irc *irc, const char *cmd, const char *target, const char *text,
                    const char *kind)
{
	struct irc_out_reply r;
	size_t n = 0;
	enum err e;

	memset(&r, 0, sizeof(r));
	r.id = irc->next_id++;
	r.cmd = cmd;
	r.target = target;
	r.text = text;
	r.urgent = is_urgent(kind);
	r.keep = 1;
	r.expires_ms = now_ms() + max_age_ms(kind);
	irc_out_set_prefix(irc->out, my_prefix_len(irc));
	e = irc_out_push(irc->out, &r, &n);
	if (e != ERR_OK) {
		if (e == ERR_LIMIT && irc_out_waiting(irc->out) + irc_out_in_flight(irc->out) > 0) {
			irc->st.dropped++;
			log_warn("irc: send queue full (%zu replies), a %s to %s dropped",
			         irc_out_waiting(irc->out) + irc_out_in_flight(irc->out), cmd, target);
		} else {
			log_warn("irc: a %s to %s could not be split: %s", cmd, target, err_str(e));
		}
		return e;
	}
	irc->st.lines += n;
	if (kind && irc->journal) {
		struct irc_journal_entry je;

		je.id = r.id;
		je.wall_ms = wall_ms();
		je.kind = (char *)kind;
		je.cmd = (char *)cmd;
		je.target = (char *)target;
		je.text = (char *)text;
		e = irc_journal_add(irc->journal, &je);
		if (e != ERR_OK) {
			/* sent all the same, only not kept across a crash */
			irc->st.journal_errors++;
			log_warn("irc: the reply journal in %s cannot keep a reply: %s", irc->state_dir,
			         err_str(e));
		}
	}
	return ERR_OK;
}

/* pace moves into the write buffer what the token bucket allows; first
 * the journal's new entries go to the disk, so no reply leaves before it
 * would survive a crash (one sync for a burst of questions read at once,
 * not one each). */
static void pace(struct irc *irc, long long t)
{
	const char *line;
	size_t len;

	if (irc->journal && irc_journal_sync(irc->journal) != ERR_OK) {
		irc->st.journal_errors++;
		if (!irc->journal_warned)
			log_warn("irc: cannot sync the reply journal in %s: replies may not survive "
			         "a power cut",
			         irc->state_dir);
		irc->journal_warned = 1;
	}
	irc_out_set_prefix(irc->out, my_prefix_len(irc));
	while ((line = irc_out_peek(irc->out, t, &len)) != NULL) {
		if (len > sizeof(irc->wbuf) - irc->wlen)
			break;
		memcpy(irc->wbuf + irc->wlen, line, len);
		irc->wlen += len;
		irc->wr_bytes += len;
		irc_out_take(irc->out, irc->wr_bytes);
	}
}

/* check_acked tells irc_out how much of what was written the server's TCP
 * has acknowledged, so a reply is marked done only once it left this
 * machine: bytes still in the kernel's send queue die with a connection
 * reset (a kill -9 with unread input resets it). Plain TCP: what the
 * kernel took, less what it still holds. TLS adds its own bytes, so
 * there only an empty send queue says that everything written arrived.
 * Without the ioctl, what the kernel took counts. */
static void check_acked(struct irc *irc)
{
	int outq = 0;

	if (!irc_out_in_flight(irc->out) || irc->fd < 0)
		return;
#ifdef TIOCOUTQ
	if (ioctl(irc->fd, TIOCOUTQ, &outq) != 0)
		outq = 0;
#endif
	if (outq < 0)
		outq = 0;
	if (irc->ssl) {
		if (outq == 0)
			irc_out_acked(irc->out, irc->sent_bytes < irc->ack_limit ? irc->sent_bytes
			                                                         : irc->ack_limit);
		return;
	}
	if ((unsigned long long)outq <= irc->sent_bytes) {
		unsigned long long acked = irc->sent_bytes - (unsigned long long)outq;

		irc_out_acked(irc->out, acked < irc->ack_limit ? acked : irc->ack_limit);
	}
}

/* flush writes what the kernel takes; -1 on a dead socket. */
static int flush(struct irc *irc)
{
	while (irc->wlen) {
		ssize_t n = io_send(irc, irc->wbuf, irc->wlen);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			log_warn("irc: send: %s", strerror(errno));
			return -1;
		}
		memmove(irc->wbuf, irc->wbuf + n, irc->wlen - (size_t)n);
		irc->wlen -= (size_t)n;
		irc->sent_bytes += (unsigned long long)n;
	}
	check_acked(irc);
	return 0;
}

/* ---- connection ---- */

static int sock_connect(struct irc *irc, volatile sig_atomic_t *stop)
{
	struct addrinfo hints, *res = NULL, *ai;
	char port[16];
	int fd = -1, rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	snprintf(port, sizeof(port), "%d", irc->port);
	rc = getaddrinfo(irc->host, port, &hints, &res);
	if (rc != 0) {
		log_warn("irc: resolving %s: %s", irc->host, gai_strerror(rc));
		return -1;
	}
	for (ai = res; ai && !*stop; ai = ai->ai_next) {
		long long deadline = now_ms() + irc->connect_ms;
		int soerr = 0;
		socklen_t sl = sizeof(soerr);

		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
		            ai->ai_protocol);
		if (fd < 0)
			continue;
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0 && errno != EINPROGRESS) {
			soerr = errno;
		} else {
			for (;;) {
				struct pollfd pfd = {fd, POLLOUT, 0};
				long long left = deadline - now_ms();

				if (*stop || left <= 0) {
					soerr = ETIMEDOUT;
					break;
				}
				rc = poll(&pfd, 1, left < IRC_TICK_MS ? (int)left : IRC_TICK_MS);
				tick_maybe(irc, 0);
				if (rc > 0) {
					if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0)
						soerr = errno;
					break;
				}
				if (rc < 0 && errno != EINTR) {
					soerr = errno;
					break;
				}
			}
		}
		if (soerr == 0) {
			int one = 1;

			/* whole lines go out in one send() already; Nagle would
			 * only hold a paced line back for the server's ACK */
			setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
			break;
		}
		log_warn("irc: connecting to %s port %d: %s", irc->host, irc->port,
		         strerror(soerr));
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	return fd;
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

/* next_nick picks the nick to try after a 433: the alternatives, then the
 * nick with "_" and then digits. 0 when every try is used. */
static int next_nick(struct irc *irc)
{
	size_t k = ++irc->nick_try;

	if (k <= irc->n_alt_nicks) {
		snprintf(irc->me, sizeof(irc->me), "%s", irc->alt_nicks[k - 1]);
		return 1;
	}
	k -= irc->n_alt_nicks;
	if (k > IRC_NICK_TRIES)
		return 0;
	if (k == 1)
		snprintf(irc->me, sizeof(irc->me), "%s_", irc->nick);
	else
		snprintf(irc->me, sizeof(irc->me), "%s%zu", irc->nick, k - 1);
	return 1;
}

/* credible says whether a user or host the server says the bot has is
 * one to size lines by: one word, not so long that the prefix would
 * leave no room for text (then the guess stays, and lines stay short). */
static int credible(const char *s)
{
	return irc_param_ok(s, 0) && strlen(s) <= IRC_HOST_MAX;
}

static void set_me_from_source(struct irc *irc, const struct irc_msg *m)
{
	if (m->user && credible(m->user)) {
		snprintf(irc->my_user, sizeof(irc->my_user), "%s", m->user);
		irc->user_known = 1;
	}
	if (m->host && credible(m->host)) {
		snprintf(irc->my_host, sizeof(irc->my_host), "%s", m->host);
		irc->host_known = 1;
	}
}

/* addressed says whether text starts with "nick:" or "nick," (any case). */
static int addressed(const char *text, const char *nick)
{
	char head[IRC_NICK_MAX];
	size_t n = strlen(nick);

	if (n >= sizeof(head) || strlen(text) <= n)
		return 0;
	memcpy(head, text, n);
	head[n] = '\0';
	return irc_casecmp(head, nick) == 0 && (text[n] == ':' || text[n] == ',');
}

static void alert(struct irc *irc, const char *where, const char *nick, int direct)
{
	char text[IRC_LINE_MAX];
	size_t i;

	if (direct)
		snprintf(text, sizeof(text),
		         "Crisis alert: %s may need support now (in a private message "
		         "to the bot). Please reach out to them.",
		         nick);
	else
		snprintf(text, sizeof(text),
		         "Crisis alert: %s may need support now in %s. Please reach out "
		         "to them.",
		         nick, where);
	for (i = 0; i < irc->n_mods; i++)
		if (say(irc, "PRIVMSG", irc->mods[i], text, "alert") == ERR_OK)
			irc->st.alerts++;
	if (!irc->n_mods)
		log_warn("irc: a crisis alert with no moderators configured");
}

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
	if (irc->registered) {
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

void irc_set_tick(struct irc *irc, const struct tr_tick *t)
{
	memset(&irc->tick, 0, sizeof(irc->tick));
	irc->tick.wake_fd = -1;
	if (t)
		irc->tick = *t;
}

/* tick_maybe calls the core's tick when it is due: TR_TICK_MS after the
 * last one, or once woken (wake_ready: poll saw wake_fd readable; or
 * *wake set) and a poll slice after the last one. That slice is the
 * guard against a tick that leaves wake_fd readable or *wake set: it
 * then repeats ten times a second, not in a busy loop. */
static void tick_maybe(struct irc *irc, int wake_ready)
{
	long long t = now_ms(), since = t - irc->tick_ms;
	int woken = wake_ready || (irc->tick.wake && *irc->tick.wake);
	struct tr_notice n;
	enum err e;

	if (!irc->tick.fn || (since < TR_TICK_MS && !(woken && since >= IRC_TICK_MS)))
		return;
	irc->tick_ms = t;
	memset(&n, 0, sizeof(n));
	e = irc->tick.fn(irc->run_ctx, &n);
	if (e != ERR_OK) {
		log_warn("irc: the tick failed: %s", err_str(e));
		return;
	}
	mod_notice(irc, n.mod_text);
}

/* wake_pollfd fills *p to poll wake_fd when a woken tick could run now;
 * 0 when it is not to be polled. */
static int wake_pollfd(const struct irc *irc, struct pollfd *p)
{
	if (!irc->tick.fn || irc->tick.wake_fd < 0 || now_ms() - irc->tick_ms < IRC_TICK_MS)
		return 0;
	p->fd = irc->tick.wake_fd;
	p->events = POLLIN;
	p->revents = 0;
	return 1;
}

/* ctcp_version queues the one CTCP reply we give. Not through say(): the
 * splitter turns the \001 delimiters into spaces, as it should for text.
 * Not kept past this connection, nor journaled: a courtesy, not a reply. */
static void ctcp_version(struct irc *irc, const char *nick)
{
	const char *p[2] = {nick, "\001VERSION " IRC_VERSION_REPLY "\001"};
	struct irc_out_reply r;
	char line[IRC_LINE_MAX + 1];
	size_t len;

	if (irc_build(line, sizeof(line), &len, "NOTICE", p, 2) != ERR_OK)
		return;
	memset(&r, 0, sizeof(r));
	r.id = irc->next_id++;
	r.target = nick;
	r.raw = line;
	if (irc_out_push(irc->out, &r, NULL) == ERR_OK)
		irc->st.lines++;
	else
		irc->st.dropped++;
}

/* count_lines says how many lines text would take in target; 0 on error. */
static size_t count_lines(const struct irc *irc, const char *target, const char *text)
{
	struct irc_lines l = IRC_LINES_INIT;
	size_t n = 0;

	if (irc_split_text("PRIVMSG", target, text, strlen(text), my_prefix_len(irc), &l) ==
	    ERR_OK)
		n = l.n;
	irc_lines_release(&l);
	return n;
}

/* plain_tag is a tag's value when it is one plain word (no space, CR, LF,
 * NUL: a tag value is unescaped and may hold them), else NULL: what goes
 * to the core is an id, never a second line. */
static const char *plain_tag(const char *v)
{
	return v && irc_param_ok(v, 0) ? v : NULL;
}

/* sender_account is the services account the server vouches for (the
 * account-tag), or NULL: when the capability is off (then a tag of that
 * name is not the server's), when the sender is logged out (no tag), or
 * for "*" or anything that is not one plain word. */
static const char *sender_account(const struct irc *irc, const struct irc_msg *m)
{
	const char *a = irc->acct_tag ? irc_msg_tag(m, "account") : NULL;

	if (!a || !strcmp(a, "*") || !irc_param_ok(a, 0))
		return NULL;
	return a;
}

/* mention_nick is the nick a reply is directed to ("@alice" or "alice"),
 * or NULL when there is none or it is not a plausible nick (so a mention
 * can never put a second line or a command in front of the answer), or it
 * is the bot itself. */
static const char *mention_nick(const struct irc *irc, const char *mention)
{
	if (!mention)
		return NULL;
	if (*mention == '@')
		mention++;
	if (!nick_ok(mention) || irc_casecmp(mention, irc->me) == 0)
		return NULL;
	return mention;
}

/* reply_to says text to target, its first line starting "nick: " when a
 * nick is given; kind as for say(). */
static enum err reply_to(struct irc *irc, const char *target, const char *text,
                         const char *nick, const char *kind)
{
	char *buf;
	size_t nl, tl;
	enum err e;

	if (!nick)
		return say(irc, "PRIVMSG", target, text, kind);
	text += strspn(text, " \t\r\n"); /* the nick goes on the first line of words */
	nl = strlen(nick);
	tl = strlen(text);
	buf = malloc(nl + 2 + tl + 1);
	if (!buf) {
		log_warn("irc: out of memory for a reply to %s", target);
		return ERR_NOMEM;
	}
	memcpy(buf, nick, nl);
	memcpy(buf + nl, ": ", 2);
	memcpy(buf + nl + 2, text, tl + 1);
	e = say(irc, "PRIVMSG", target, buf, kind);
	free(buf);
	return e;
}

static void on_privmsg(struct irc *irc, const struct irc_msg *m, tr_handler_fn fn,
                       void *ctx)
{
	const char *target = m->params[0], *room;
	struct tr_message tm;
	struct tr_reply rep;
	struct irc_ctcp ctcp;
	size_t len;
	int direct;
	enum err e;

	if (m->nparams < 2 || !m->nick || !irc_param_ok(m->nick, 0) || strchr(m->nick, ','))
		return;
	if (irc_casecmp(m->nick, irc->me) == 0)
		return;
	if (irc_target_is_channel(target, irc->chantypes)) {
		direct = 0;
		room = target;
	} else if (irc_target_is_me(target, irc->me)) {
		direct = 1;
		room = m->nick;
	} else {
		return; /* a status message (@#chan) or not for us */
	}
	if (irc_ctcp_parse(m->params[1], &ctcp)) {
		if (!strcmp(ctcp.command, "VERSION"))
			ctcp_version(irc, m->nick);
		return;
	}
	len = strlen(m->params[1]);
	if (len >= sizeof(irc->textbuf))
		len = sizeof(irc->textbuf) - 1;
	memcpy(irc->textbuf, m->params[1], len);
	irc->textbuf[len] = '\0';
	irc_strip_format(irc->textbuf, len);
	irc->st.messages++;

	memset(&tm, 0, sizeof(tm));
	memset(&rep, 0, sizeof(rep));
	tm.room = room;
	tm.sender = m->nick;
	tm.sender_name = m->nick;
	tm.event_id = plain_tag(irc_msg_tag(m, "msgid"));
	tm.text = irc->textbuf;
	tm.bot_name = irc->me;
	tm.direct = direct;
	tm.mentions_bot = direct || addressed(irc->textbuf, irc->me);
	tm.sender_account = sender_account(irc, m);
	tm.sender_power = -1;
	e = fn(ctx, &tm, &rep);
	if (e != ERR_OK) {
		log_warn("irc: the handler failed: %s", err_str(e));
		return;
	}
	log_debug("irc: message in %s from %s: %s", direct ? "private" : room, m->nick,
	          log_text(irc->textbuf));
	/* The alert is one line and goes first: behind a crisis reply of
	 * several lines, under flood control, it would reach the moderators
	 * many seconds late; ahead of it, the reply waits one line at most. */
	if (rep.alert_moderators)
		alert(irc, room, m->nick, direct);
	if (rep.reply && rep.text && *rep.text) {
		/* a word for the journal: what the core said, or "faq" */
		const char *kind = rep.kind && *rep.kind && irc_param_ok(rep.kind, 0) &&
		                           strlen(rep.kind) < 16
		                       ? rep.kind
		                       : "faq";
		int to_pm = !direct && irc->pm_over_lines > 0 && strcmp(kind, "crisis") != 0 &&
		            count_lines(irc, room, rep.text) > (size_t)irc->pm_over_lines;

		if (to_pm) {
			/* a long answer goes to the asker, a pointer to it to the
			 * channel; a crisis reply always stays where it was asked */
			char note[IRC_LINE_MAX];

			snprintf(note, sizeof(note),
			         "%s: the answer is long, so I sent it to you in a private "
			         "message.",
			         m->nick);
			say(irc, "PRIVMSG", room, note, "note");
		}
		if (reply_to(irc, to_pm ? m->nick : room, rep.text,
		             to_pm ? NULL : mention_nick(irc, rep.mention), kind) == ERR_OK)
			irc->st.replies++;
		log_info("irc: reply kind=%s id=%s where=%s", rep.kind ? rep.kind : "-",
		         rep.entry_id ? rep.entry_id : "-",
		         direct ? "private" : to_pm ? "private (long)" : room);
	}
	mod_notice(irc, rep.mod_text);
}

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

/* ---- capabilities and SASL ---- */

/* login_failed ends the session when SASL cannot log the bot in (why;
 * hint says what to check). Before any login worked in this run, that is
 * a setting a reconnect cannot fix: irc_run returns it (retrying would
 * only hammer the server). Once one has worked, the setting is right and
 * the services are down or out of step (a server restarted without them
 * offers no SASL, or refuses every login until they link): the session
 * ends and the backoff retries, so the bot comes back with them. */
static int login_failed(struct irc *irc, const char *why, const char *hint)
{
	if (!irc->ever_registered) {
		snprintf(irc->errstr, sizeof(irc->errstr), "irc: %s (%s%snot retrying)", why,
		         hint ? hint : "", hint ? "; " : "");
		log_error("%s", irc->errstr);
		irc->fatal = 1;
		return -1;
	}
	irc->st.sasl_retries++;
	snprintf(irc->errstr, sizeof(irc->errstr),
	         "irc: %s; a login worked before, so the services may be down: retrying", why);
	log_error("%s (retry %lu)", irc->errstr, irc->st.sasl_retries);
	return -1;
}

/* sasl_in_progress: a mechanism asked for and no answer yet (903, 904) */
static int sasl_in_progress(const struct irc *irc)
{
	return irc->sasl_state == 2 || irc->sasl_state == 3;
}

static void cap_end(struct irc *irc)
{
	if (!irc->cap_done) {
		send1(irc, "CAP", "END");
		irc->cap_done = 1;
	}
}

/* cap_maybe_end ends negotiation once every REQ is answered and SASL, if
 * any, is over (sasl-3.1 asks for CAP END only after the login). */
static void cap_maybe_end(struct irc *irc)
{
	if (irc->cap_requested && !irc->cap_pending &&
	    (irc->sasl_mech == IRC_SASL_NONE || irc->sasl_state == 4))
		cap_end(irc);
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

static const char *mech_name(const struct irc *irc)
{
	return irc->sasl_mech == IRC_SASL_EXTERNAL ? "EXTERNAL" : "PLAIN";
}

/* cap_req asks for one capability. One REQ each, not one for all: a NAK
 * refuses a whole request, and account-tag must not take sasl down. */
static void cap_req(struct irc *irc, const char *name)
{
	send2(irc, "CAP", "REQ", name);
	irc->cap_pending++;
}

/* on_cap_ls, once the last LS line is in, asks for what the bot uses:
 * sasl when configured (without it, or without the mechanism, the bot
 * stops rather than go on unauthenticated) and account-tag when offered.
 * account-tag brings the tag syntax with it (message-tags.md), so
 * message-tags itself is not needed. */
static int on_cap_ls(struct irc *irc, const char *list, int more)
{
	char mechs[sizeof(irc->sasl_mechs)];

	if (cap_find(list, "sasl", mechs, sizeof(mechs))) {
		irc->sasl_offered = 1;
		snprintf(irc->sasl_mechs, sizeof(irc->sasl_mechs), "%s", mechs);
	}
	if (has_cap(list, "account-tag"))
		irc->acct_offered = 1;
	if (more || irc->cap_done || irc->cap_requested)
		return 0;
	irc->cap_requested = 1;
	if (irc->sasl_mech != IRC_SASL_NONE) {
		char m[sizeof(irc->sasl_mechs) + 2], want[16];
		char why[IRC_ERRSTR_MAX / 2];

		if (!irc->sasl_offered)
			return login_failed(irc, "SASL: the server does not offer it (no sasl "
			                         "capability)",
			                    NULL);
		/* sasl=PLAIN,EXTERNAL (CAP 302): a list without ours is a
		 * refusal known now; an empty value says nothing */
		snprintf(m, sizeof(m), ",%s,", irc->sasl_mechs);
		snprintf(want, sizeof(want), ",%s,", mech_name(irc));
		if (irc->sasl_mechs[0] && !strstr(m, want)) {
			snprintf(why, sizeof(why), "SASL: the server offers %.200s, not %s",
			         irc->sasl_mechs, mech_name(irc));
			return login_failed(irc, why, NULL);
		}
		cap_req(irc, "sasl");
		irc->sasl_state = 1;
	}
	if (irc->acct_offered) {
		cap_req(irc, "account-tag");
		irc->acct_req = 1;
	}
	cap_maybe_end(irc);
	return 0;
}

static int on_cap(struct irc *irc, const struct irc_msg *m)
{
	const char *sub = m->nparams >= 2 ? m->params[1] : "";
	const char *list = m->nparams >= 3 ? m->params[m->nparams - 1] : "";
	int ack = !strcmp(sub, "ACK");

	if (!strcmp(sub, "LS")) {
		/* CAP * LS [*] :caps -- "*" before the list means more follows */
		return on_cap_ls(irc, list, m->nparams >= 4 && !strcmp(m->params[2], "*"));
	}
	if (!ack && strcmp(sub, "NAK"))
		return 0; /* NEW, DEL, LIST: nothing the bot needs */
	if (irc->cap_pending && has_cap(list, "sasl") && irc->sasl_state == 1) {
		irc->cap_pending--;
		if (!ack)
			return login_failed(irc, "SASL: the server refused the sasl capability",
			                    NULL);
		send1(irc, "AUTHENTICATE", mech_name(irc));
		irc->sasl_state = 2;
	}
	/* an answer to nothing asked (a second ACK, an unasked NAK) changes
	 * nothing: acct_req is cleared by the first */
	if (irc->cap_pending && irc->acct_req && has_cap(list, "account-tag")) {
		irc->cap_pending--;
		irc->acct_req = 0;
		irc->acct_tag = ack;
		if (!ack)
			log_info("irc: the server refused account-tag: no sender accounts");
	}
	cap_maybe_end(irc);
	return 0;
}

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

/* sasl_respond answers the server's "AUTHENTICATE +" in base64, in
 * chunks of IRC_SASL_CHUNK and a "+" after a full last chunk (ircv3
 * sasl-3.1). PLAIN: account\0account\0password. EXTERNAL: the account as
 * the authorization identity when one is configured, else nothing ("+"):
 * the server takes the account from the certificate's fingerprint. The
 * secret is wiped from the stack after. */
static int sasl_respond(struct irc *irc)
{
	unsigned char raw[IRC_SASL_RAW_MAX];
	char enc[IRC_SASL_RAW_MAX / 3 * 4 + 8], chunk[IRC_SASL_CHUNK + 1];
	size_t a = irc->sasl_account ? strlen(irc->sasl_account) : 0, n, len, off;

	if (irc->sasl_mech == IRC_SASL_EXTERNAL) {
		n = a;
		if (a)
			memcpy(raw, irc->sasl_account, a);
	} else {
		size_t p = strlen(irc->sasl_password);

		n = a + 1 + a + 1 + p;
		memcpy(raw, irc->sasl_account, a);
		raw[a] = '\0';
		memcpy(raw + a + 1, irc->sasl_account, a);
		raw[2 * a + 1] = '\0';
		memcpy(raw + 2 * a + 2, irc->sasl_password, p);
	}
	len = b64_encode(raw, n, enc, sizeof(enc));
	for (off = 0; off < len; off += IRC_SASL_CHUNK) {
		size_t k = len - off < IRC_SASL_CHUNK ? len - off : IRC_SASL_CHUNK;

		memcpy(chunk, enc + off, k);
		chunk[k] = '\0';
		send1(irc, "AUTHENTICATE", chunk);
	}
	if (len % IRC_SASL_CHUNK == 0)
		send1(irc, "AUTHENTICATE", "+");
	memset(raw, 0, sizeof(raw));
	memset(enc, 0, sizeof(enc));
	memset(chunk, 0, sizeof(chunk));
	irc->sasl_state = 3;
	return 0;
}

/* on_line acts on one message; -1 ends the session.
 *
 * What a bad line from the server costs (tests: test_irc_parse.c's
 * hostile lines, irc_faults.sh), never more than that line unless said:
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
 *   CAP or SASL replies out of order (an ACK or NAK not asked for, a
 *     second LS, AUTHENTICATE + or 903 before our mechanism, 904-907 when
 *     no login of ours is under way, a second 001): ignored, where an
 *     unasked 904, 906 or 907 used to end irc_run;
 *   an empty or strange CHANTYPES: ignored, "#&" kept (it made every
 *     channel no channel for the connection);
 *   a visible host or user over IRC_HOST_MAX: not believed, lines sized
 *     by the guess (it left no room for text: every reply refused);
 *   a PING token the builder will not echo (a CR in it): no PONG for that
 *     one; a silent link ends with the PING watch, as it should;
 *   ERROR, a refused login at the first start, every nick taken: the
 *     connection (what the server asks, or a setting to fix). */
static int on_line(struct irc *irc, const struct irc_msg *m, tr_handler_fn fn, void *ctx)
{
	const char *c = m->command;

	if (!strcmp(c, "PING")) {
		send1(irc, "PONG", m->nparams ? m->params[0] : irc->host);
	} else if (!strcmp(c, "PRIVMSG")) {
		if (irc->registered)
			on_privmsg(irc, m, fn, ctx);
	} else if (!strcmp(c, "NOTICE")) {
		/* never answered: two bots must not loop */
	} else if (!strcmp(c, "CAP")) {
		return on_cap(irc, m);
	} else if (!strcmp(c, "AUTHENTICATE")) {
		if (irc->sasl_state == 2 && m->nparams >= 1 && !strcmp(m->params[0], "+"))
			return sasl_respond(irc);
	} else if (!strcmp(c, "900")) { /* RPL_LOGGEDIN: me me!u@h account :text */
		log_info("irc: SASL %s: logged in as %s", mech_name(irc),
		         m->nparams >= 3 ? m->params[2] : "?");
	} else if (!strcmp(c, "903")) { /* RPL_SASLSUCCESS */
		if (sasl_in_progress(irc)) {
			irc->sasl_state = 4;
			cap_maybe_end(irc);
		}
	} else if (!strcmp(c, "908")) { /* RPL_SASLMECHS, before the 904 */
		log_warn("irc: SASL: the server's mechanisms are %s",
		         m->nparams >= 2 ? m->params[1] : "?");
	} else if (!strcmp(c, "904") || !strcmp(c, "905") || !strcmp(c, "902")) {
		/* outside a login of ours (none configured, or over) it refers
		 * to nothing the bot did: that line costs nothing */
		if (!sasl_in_progress(irc))
			return 0;
		if (irc->sasl_mech == IRC_SASL_EXTERNAL)
			return login_failed(irc, "SASL EXTERNAL: the server refused the client "
			                         "certificate",
			                    "is its fingerprint on the account, e.g. by NickServ "
			                    "CERT ADD? check tls_cert_file");
		return login_failed(irc, "SASL: the server refused the account or password",
		                    "check sasl_account and the password");
	} else if (!strcmp(c, "906") || !strcmp(c, "907")) {
		if (sasl_in_progress(irc))
			return login_failed(irc, "SASL: the login was aborted", NULL);
	} else if (!strcmp(c, "001")) {
		if (irc->registered)
			return 0; /* a second welcome changes nothing */
		if (irc->sasl_mech != IRC_SASL_NONE && irc->sasl_state != 4)
			return login_failed(irc, "SASL: the server registered the bot without a "
			                         "login (it ignored CAP)",
			                    "not going on unauthenticated");
		irc->registered = 1;
		irc->ever_registered = 1;
		irc->registered_ms = now_ms();
		irc->st.registrations++;
		if (m->nparams >= 1 && nick_ok(m->params[0]))
			snprintf(irc->me, sizeof(irc->me), "%s", m->params[0]);
		log_info("irc: registered as %s", irc->me);
		join_all(irc);
		notices_flush(irc);
	} else if (!strcmp(c, "005")) {
		on_isupport(irc, m);
	} else if (!strcmp(c, "396")) { /* RPL_VISIBLEHOST: me host :text */
		if (m->nparams >= 2 && credible(m->params[1])) {
			snprintf(irc->my_host, sizeof(irc->my_host), "%s", m->params[1]);
			irc->host_known = 1;
		}
	} else if (!strcmp(c, "433") || !strcmp(c, "432") || !strcmp(c, "436") ||
	           !strcmp(c, "437")) {
		if (irc->registered)
			return 0;
		if (!next_nick(irc)) {
			snprintf(irc->errstr, sizeof(irc->errstr),
			         "irc: every nick tried is taken or refused");
			log_warn("%s", irc->errstr);
			return -1;
		}
		log_info("irc: nick taken or refused, trying %s", irc->me);
		send1(irc, "NICK", irc->me);
	} else if (!strcmp(c, "NICK")) {
		if (m->nick && m->nparams >= 1 && irc_casecmp(m->nick, irc->me) == 0 &&
		    nick_ok(m->params[0]))
			snprintf(irc->me, sizeof(irc->me), "%s", m->params[0]);
	} else if (!strcmp(c, "JOIN")) {
		if (m->nick && irc_casecmp(m->nick, irc->me) == 0) {
			set_me_from_source(irc, m);
			log_info("irc: joined %s", m->nparams ? m->params[0] : "?");
		}
	} else if (!strcmp(c, "KICK")) {
		if (m->nparams >= 2 && irc_casecmp(m->params[1], irc->me) == 0)
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
		irc->closing = 1;
		return -1;
	}
	return 0;
}

/* quick_ack asks the kernel to acknowledge what was just read at once,
 * not up to 40 ms later. A server that leaves Nagle on (InspIRCd does)
 * holds the next message for the bot until the last one is acknowledged,
 * so a question right behind another channel message waited for the
 * delayed-ACK timer (the bench saw 42 ms of a 44 ms reply). Linux resets
 * the flag by itself, hence after every read. */
static void quick_ack(const struct irc *irc)
{
#ifdef TCP_QUICKACK
	int one = 1;

	setsockopt(irc->fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof(one));
#else
	(void)irc;
#endif
}

/* read_some reads once from the socket and handles every complete line;
 * -1 ends the session. */
static int read_some(struct irc *irc, tr_handler_fn fn, void *ctx)
{
	char buf[IRC_RECV_CHUNK];
	ssize_t n;
	size_t off = 0;

	n = io_recv(irc, buf, sizeof(buf));
	if (n < 0)
		return errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
	if (n == 0) {
		log_warn("irc: the server closed the connection");
		return -1;
	}
	irc->last_rx_ms = now_ms();
	irc->ping_sent_ms = 0;
	quick_ack(irc);
	while (off < (size_t)n) {
		int got = 1;

		off += irc_reader_feed(irc->rd, buf + off, (size_t)n - off);
		while (got) {
			enum err e = irc_reader_next(irc->rd, &irc->msg, &got);

			if (e != ERR_OK) {
				irc->st.bad_lines++;
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

static void session_reset(struct irc *irc)
{
	if (irc->fd >= 0)
		close(irc->fd);
	irc->fd = -1;
	if (irc->ssl)
		ssl_dl.ssl_free(irc->ssl);
	irc->ssl = NULL;
	irc_reader_free(irc->rd);
	irc->rd = irc_reader_new();
	irc->wlen = 0;
	irc->wr_bytes = irc->sent_bytes = 0;
	irc->ack_limit = ~0ULL;
	{
		size_t again = irc_out_session(irc->out, now_ms());

		if (again) {
			irc->st.resent += again;
			log_info("irc: %zu repl%s cut off with the last connection will be sent "
			         "again, whole",
			         again, again == 1 ? "y" : "ies");
		}
	}
	irc->registered = irc->cap_done = irc->closing = 0;
	irc->cap_requested = irc->cap_pending = 0;
	irc->sasl_offered = irc->sasl_state = 0;
	irc->sasl_mechs[0] = '\0';
	irc->acct_offered = irc->acct_tag = irc->acct_req = 0;
	irc->user_known = irc->host_known = 0;
	irc->nick_try = 0;
	irc->ping_sent_ms = 0;
	snprintf(irc->me, sizeof(irc->me), "%s", irc->nick);
	snprintf(irc->chantypes, sizeof(irc->chantypes), "#&");
}

/* quit sends QUIT and waits up to IRC_QUIT_WAIT_MS for it to leave. */
static void quit(struct irc *irc)
{
	long long deadline = now_ms() + IRC_QUIT_WAIT_MS;

	if (irc->fd < 0)
		return;
	/* QUIT goes next: after the line under way, if one is (the server
	 * would read the rest of it and QUIT as one line), before any other.
	 * The replies not yet sent stay in the journal for the next start. */
	if (irc->wlen) {
		const char *nl = memchr(irc->wbuf, '\n', irc->wlen);

		irc->wlen = nl ? (size_t)(nl - irc->wbuf) + 1 : 0;
		/* the replies whose lines were dropped are not done */
		irc->ack_limit = irc->sent_bytes + irc->wlen;
	}
	send1(irc, "QUIT", "faqbot stopping");
	while (irc->wlen && now_ms() < deadline) {
		struct pollfd pfd = {irc->fd, POLLOUT, 0};

		if (poll(&pfd, 1, IRC_TICK_MS) > 0 && flush(irc) < 0)
			break;
	}
	if (irc->ssl)
		ssl_dl.shutdown(irc->ssl); /* close_notify, best effort */
	shutdown(irc->fd, SHUT_WR);
}

/* poll_ms is how long the session's poll may wait: a slice, or less when a
 * paced line gets its token sooner (with a short flood interval, a slice
 * would send lines in clumps of a slice's worth). A line that may go now
 * but did not (pace ran just before) waits for room in the write buffer:
 * POLLOUT says when, so the slice. */
static int poll_ms(const struct irc *irc)
{
	long wait;

	if (!irc->registered)
		return IRC_TICK_MS;
	wait = irc_out_wait_ms(irc->out, now_ms());
	if (wait <= 0 || wait >= IRC_TICK_MS)
		return IRC_TICK_MS;
	return (int)wait;
}

/* mark_healthy writes the health mark (health.h) at most every
 * HEALTH_MARK_EVERY_S while registered: the session's PING watch ends a
 * dead link, so a registered session is a live one. A bot waiting for
 * its services, or for a server, writes none, and a probe sees it stale.
 * A failure to write is logged once, not fatal. */
static void mark_healthy(struct irc *irc)
{
	long long t = now_ms();

	if (!irc->state_dir || !irc->registered ||
	    (irc->health_ms && t - irc->health_ms < HEALTH_MARK_EVERY_S * 1000LL))
		return;
	irc->health_ms = t;
	if (health_mark(irc->state_dir, time(NULL)) != ERR_OK) {
		if (!irc->health_warned)
			log_warn("irc: cannot write the health mark %s/%s", irc->state_dir,
			         HEALTH_STATUS_FILE);
		irc->health_warned = 1;
		return;
	}
	irc->health_warned = 0;
}

/* session runs one connection until it fails or stop is set. */
static void session(struct irc *irc, tr_handler_fn fn, void *ctx,
                    volatile sig_atomic_t *stop)
{
	session_reset(irc);
	if (!irc->rd)
		return;
	irc->fd = sock_connect(irc, stop);
	if (irc->fd < 0)
		return;
	if (irc->tls && tls_handshake(irc, stop) < 0)
		goto out;
	irc->st.connects++;
	irc->started_ms = irc->last_rx_ms = now_ms();
	log_info("irc: connected to %s port %d", irc->host, irc->port);
	send2(irc, "CAP", "LS", "302");
	if (irc->pass)
		send1(irc, "PASS", irc->pass);
	send1(irc, "NICK", irc->me);
	{
		const char *p[4] = {irc->user, "0", "*", irc->realname};

		send_cmd(irc, "USER", p, 4);
	}
	while (!*stop) {
		struct pollfd pfd[2];
		long long t = now_ms();
		int rc, nfd;

		if (!irc->registered && t - irc->started_ms > irc->register_ms) {
			log_warn("irc: no welcome after %ld ms", irc->register_ms);
			break;
		}
		if (irc->ping_sent_ms && t - irc->ping_sent_ms > irc->ping_timeout_ms) {
			log_warn("irc: no answer to PING for %ld ms, the link is dead",
			         irc->ping_timeout_ms);
			break;
		}
		if (!irc->ping_sent_ms && t - irc->last_rx_ms > irc->ping_idle_ms) {
			send1(irc, "PING", "faqbot");
			irc->ping_sent_ms = t;
			irc->st.pings_sent++;
		}
		if (irc->registered)
			pace(irc, t);
		if (flush(irc) < 0)
			break;
		mark_healthy(irc);
		pfd[0].fd = irc->fd;
		pfd[0].events = POLLIN | (irc->wlen ? POLLOUT : 0);
		pfd[0].revents = 0;
		nfd = 1 + wake_pollfd(irc, &pfd[1]);
		rc = poll(pfd, (nfds_t)nfd, poll_ms(irc));
		if (rc < 0 && errno != EINTR) {
			log_warn("irc: poll: %s", strerror(errno));
			break;
		}
		if (rc > 0 && (pfd[0].revents & (POLLIN | POLLHUP | POLLERR)) &&
		    read_some(irc, fn, ctx) < 0)
			break;
		/* TLS may hold decrypted bytes poll() cannot see */
		if (irc->ssl && ssl_dl.pending(irc->ssl) > 0 && read_some(irc, fn, ctx) < 0)
			break;
		if (rc > 0 && nfd == 2 && (pfd[1].revents & POLLNVAL)) {
			/* not an open fd: it would wake every poll at once */
			log_warn("irc: the tick's wake fd %d is not open; wakes by fd are off",
			         irc->tick.wake_fd);
			irc->tick.wake_fd = -1;
		}
		/* after the reads: a tick falls between messages, and an EINTR
		 * (rc < 0) comes straight here to see *wake */
		tick_maybe(irc, rc > 0 && nfd == 2 && pfd[1].revents != 0);
	}
	if (*stop)
		quit(irc);
out:
	/* Only a connection that lasted resets the backoff: a server that
	 * welcomes the bot and drops it at once must not get a reconnect a
	 * second. */
	if (irc->registered && now_ms() - irc->registered_ms >= IRC_STABLE_MS)
		irc->attempt = 0;
	irc->registered = 0; /* a notice from now on waits for the next session */
	check_acked(irc); /* what arrived before the end is done, not resent */
	if (irc->ssl) {
		ssl_dl.ssl_free(irc->ssl);
		irc->ssl = NULL;
	}
	if (irc->fd >= 0)
		close(irc->fd);
	irc->fd = -1;
}

static unsigned long long rnd(struct irc *irc)
{
	/* xorshift64: jitter needs spread, not secrecy */
	irc->rng ^= irc->rng << 13;
	irc->rng ^= irc->rng >> 7;
	irc->rng ^= irc->rng << 17;
	return irc->rng;
}

/* backoff waits min * 2^attempt capped at max, jittered down to half of
 * it (so many bots do not come back in step), and never less than half
 * the minimum: no tight loop. */
static void backoff(struct irc *irc, volatile sig_atomic_t *stop)
{
	long long d = irc->backoff_min_ms, end;
	unsigned i;

	for (i = 0; i < irc->attempt && d < irc->backoff_max_ms; i++)
		d *= 2;
	if (d > irc->backoff_max_ms)
		d = irc->backoff_max_ms;
	d = d / 2 + (long long)(rnd(irc) % (unsigned long long)(d / 2 + 1));
	if (irc->attempt < 30)
		irc->attempt++;
	log_info("irc: reconnecting in %lld ms", d);
	end = now_ms() + d;
	while (!*stop && now_ms() < end) {
		struct pollfd pfd;
		int nfd = wake_pollfd(irc, &pfd), rc;

		/* the core's ticks go on while disconnected (a reload is not
		 * held up for minutes); their notices wait for the connection */
		rc = poll(nfd ? &pfd : NULL, (nfds_t)nfd, IRC_TICK_MS);
		if (rc > 0 && (pfd.revents & POLLNVAL)) {
			log_warn("irc: the tick's wake fd %d is not open; wakes by fd are off",
			         irc->tick.wake_fd);
			irc->tick.wake_fd = -1;
		}
		tick_maybe(irc, rc > 0);
	}
}

enum err irc_run(struct irc *irc, tr_handler_fn fn, void *ctx,
                 volatile sig_atomic_t *stop)
{
	irc->errstr[0] = '\0';
	irc->run_ctx = ctx;
	if (irc->state_dir) {
		/* the last run's mark says nothing about this one */
		health_clear(irc->state_dir);
		irc->health_ms = 0;
	}
	replay(irc);
	while (!*stop) {
		session(irc, fn, ctx, stop);
		if (irc->fatal)
			return ERR_INVALID;
		if (*stop)
			break;
		backoff(irc, stop);
	}
	return ERR_OK;
}
