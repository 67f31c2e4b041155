/* irc_conn.c -- one connection to an IRC server: see irc_conn.h.
 *
 * Shape: the checks and the TLS context (once, at irc_conn_new), then for
 * each connection a lookup, a connect and a handshake in steps the loop
 * drives (irc_conn_begin, irc_conn_advance), reads and
 * writes with one contract for TCP and TLS (io_send, irc_conn_recv), and
 * the write buffer with its byte counts. */
#define _GNU_SOURCE /* getaddrinfo_a: the host looked up without blocking the loop */
#include "irc_conn.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "netaddr.h"
#include "ssl_dl.h"
#include "strs.h"

/* Where a connection is: closed, looking the host up, connecting (TCP),
 * in the TLS handshake, or up. */
enum conn_phase { CONN_CLOSED, CONN_RESOLVE, CONN_TCP, CONN_TLS, CONN_UP };

struct irc_conn {
	char *host, *ca_file, *cert_file, *key_file; /* owned copies */
	enum conn_phase phase;
	long long deadline; /* of the phase under way (clock_mono_ms) */
	short ev;           /* what the phase under way waits for on fd */
	/* the lookup (getaddrinfo_a writes into gai from its own thread while
	 * resolving) and the addresses left to try */
	struct gaicb gai;
	struct addrinfo hints;
	char port_s[16];
	int resolving;
	struct addrinfo *res, *ai;
	int port, tls;
	long connect_ms;
	void *ssl_ctx; /* with tls: one context for every connection */
	void *ssl;     /* with tls: this connection's */
	int fd;
	char wbuf[IRC_WBUF_MAX];
	size_t wlen;
	/* bytes of this connection put in wbuf, and handed to the kernel:
	 * the queue's marks, compared with what the server acknowledged */
	unsigned long long put_bytes, sent_bytes;
	unsigned long long ack_limit; /* bytes past it were dropped unsent (a
	                               * stop's QUIT cut in): never acked */
};

/* ---- the checks ---- */

/* check_tls_files checks the client certificate and key files that can be
 * checked without libssl: named only with tls, readable, and the key not
 * readable by every user (a private key is a secret; group-readable stays
 * allowed, as Debian's ssl-cert group does). tls_setup checks the rest. */
static enum err check_tls_files(const struct irc_conn_config *cfg, char *errbuf, size_t errlen)
{
	const char *key = cfg->tls_key_file ? cfg->tls_key_file : cfg->tls_cert_file;
	const char *unreadable;
	struct stat sb;

	if (cfg->tls_key_file && !cfg->tls_cert_file) {
		err_printf(errbuf, errlen, "irc: tls_key_file %s without tls_cert_file",
			   cfg->tls_key_file);
		return ERR_INVALID;
	}
	if (!cfg->tls_cert_file)
		return ERR_OK;
	if (!cfg->tls) {
		err_printf(errbuf, errlen, "irc: tls_cert_file %s: only with tls on",
			   cfg->tls_cert_file);
		return ERR_INVALID;
	}
	unreadable = access(cfg->tls_cert_file, R_OK) != 0 ? cfg->tls_cert_file
		     : access(key, R_OK) != 0              ? key
							   : NULL;
	if (unreadable) {
		err_printf(errbuf, errlen, "irc: %s %s: %s",
			   unreadable == cfg->tls_cert_file ? "tls_cert_file" : "tls_key_file",
			   unreadable, strerror(errno));
		return ERR_INVALID;
	}
	if (stat(key, &sb) == 0 && (sb.st_mode & S_IROTH)) {
		err_printf(
			errbuf, errlen,
			"irc: %s %s holds a private key every user can read: chmod o-r (or 600) it",
			cfg->tls_key_file ? "tls_key_file" : "tls_cert_file", key);
		return ERR_INVALID;
	}
	return ERR_OK;
}

static enum err check_config(const struct irc_conn_config *cfg, char *errbuf, size_t errlen)
{
	if (!cfg->host || !*cfg->host || strpbrk(cfg->host, " \r\n/")) {
		err_printf(errbuf, errlen, "irc: no server host (host = irc.example.org)");
		return ERR_INVALID;
	}
	if (!cfg->tls) {
		char why[256];

		if (netaddr_check_plain(cfg->host, why, sizeof(why)) != ERR_OK) {
			err_printf(errbuf, errlen, "irc: host %s with tls = false: %s", cfg->host,
				   why);
			return ERR_INVALID;
		}
	}
	if (cfg->tls_ca_file && (!cfg->tls || access(cfg->tls_ca_file, R_OK) != 0)) {
		err_printf(errbuf, errlen, "irc: tls_ca_file %s: %s", cfg->tls_ca_file,
			   cfg->tls ? strerror(errno) : "only with tls on");
		return ERR_INVALID;
	}
	if (check_tls_files(cfg, errbuf, errlen) != ERR_OK)
		return ERR_INVALID;
	if (cfg->port < 1 || cfg->port > 65535) {
		err_printf(errbuf, errlen, "irc: port %d is not between 1 and 65535", cfg->port);
		return ERR_INVALID;
	}
	return ERR_OK;
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
static enum err tls_client_cert(struct irc_conn *c, char *errbuf, size_t errlen)
{
	const char *key = c->key_file ? c->key_file : c->cert_file;
	char why[256];

	ssl_dl.ctx_set_default_passwd_cb(c->ssl_ctx, no_passphrase);
	if (ssl_dl.ctx_use_privatekey_file(c->ssl_ctx, key, SSL_DL_FILETYPE_PEM) != 1) {
		tls_why(why, sizeof(why));
		err_printf(errbuf, errlen,
			   "irc: %s %s: no PEM private key in it (one with a passphrase is not "
			   "supported): %s",
			   c->key_file ? "tls_key_file" : "tls_cert_file (no tls_key_file)", key,
			   why);
		return ERR_INVALID;
	}
	if (ssl_dl.ctx_use_certificate_chain_file(c->ssl_ctx, c->cert_file) != 1) {
		tls_why(why, sizeof(why));
		err_printf(errbuf, errlen, "irc: tls_cert_file %s: no PEM certificate in it: %s",
			   c->cert_file, why);
		return ERR_INVALID;
	}
	if (ssl_dl.ctx_check_private_key(c->ssl_ctx) != 1) {
		ssl_dl.err_clear_error();
		err_printf(errbuf, errlen,
			   "irc: the private key in %s does not match the certificate in %s", key,
			   c->cert_file);
		return ERR_INVALID;
	}
	return ERR_OK;
}

/* tls_setup loads libssl and makes the one context: TLS 1.2 or later, the
 * peer verified against the system's trust store or the named file, and
 * our own certificate when one is configured. */
static enum err tls_setup(struct irc_conn *c, char *errbuf, size_t errlen)
{
	char why[256];

	if (ssl_dl_load(why, sizeof(why)) != ERR_OK) {
		err_printf(errbuf, errlen, "irc: TLS: %s", why);
		return ERR_NOTFOUND;
	}
	c->ssl_ctx = ssl_dl.ctx_new(ssl_dl.tls_client_method());
	if (!c->ssl_ctx) {
		tls_why(why, sizeof(why));
		err_printf(errbuf, errlen, "irc: TLS: %s", why);
		return ERR_NOMEM;
	}
	ssl_dl.ctx_ctrl(c->ssl_ctx, SSL_DL_CTRL_SET_MIN_PROTO_VERSION, SSL_DL_TLS1_2_VERSION, NULL);
	/* the write buffer moves its bytes and grows between retries of a write */
	ssl_dl.ctx_ctrl(c->ssl_ctx, SSL_DL_CTRL_MODE,
			SSL_DL_MODE_ENABLE_PARTIAL_WRITE | SSL_DL_MODE_ACCEPT_MOVING_WRITE_BUFFER,
			NULL);
	ssl_dl.ctx_set_verify(c->ssl_ctx, SSL_DL_VERIFY_PEER, NULL);
	if (c->ca_file ? ssl_dl.ctx_load_verify_locations(c->ssl_ctx, c->ca_file, NULL) != 1
		       : ssl_dl.ctx_set_default_verify_paths(c->ssl_ctx) != 1) {
		tls_why(why, sizeof(why));
		err_printf(errbuf, errlen, "irc: TLS: cannot load %s: %s",
			   c->ca_file ? c->ca_file : "the system's certificates", why);
		return ERR_INVALID;
	}
	if (c->cert_file)
		return tls_client_cert(c, errbuf, errlen);
	return ERR_OK;
}

/* An IP literal gets its address checked against the certificate and no
 * SNI (RFC 6066 allows host names only). */
static int host_is_ip(const char *h)
{
	return strchr(h, ':') || strspn(h, "0123456789.") == strlen(h);
}

/* tls_name sets what the certificate must name, and SNI for a host name. */
static int tls_name(struct irc_conn *c)
{
	if (host_is_ip(c->host))
		return ssl_dl.param_set1_ip_asc(ssl_dl.get0_param(c->ssl), c->host) == 1;
	return ssl_dl.set1_host(c->ssl, c->host) == 1 &&
	       ssl_dl.ssl_ctrl(c->ssl, SSL_DL_CTRL_SET_TLSEXT_HOSTNAME,
			       SSL_DL_TLSEXT_NAMETYPE_HOST_NAME, c->host) == 1;
}

/* tls_fail says why a handshake failed (a certificate not trusted, a name
 * that does not match, a timeout...): logged and written to errbuf. */
static void tls_fail(struct irc_conn *c, const char *why_given, char *errbuf, size_t errlen)
{
	char why[256];

	if (why_given) {
		snprintf(why, sizeof(why), "%s", why_given);
	} else if (c->ssl && ssl_dl.get_verify_result(c->ssl) != SSL_DL_X509_V_OK) {
		snprintf(why, sizeof(why), "certificate verify failed: %s",
			 ssl_dl.verify_cert_error_string(ssl_dl.get_verify_result(c->ssl)));
		ssl_dl.err_clear_error();
	} else {
		tls_why(why, sizeof(why));
	}
	err_printf(errbuf, errlen, "irc: TLS with %s port %d: %s", c->host, c->port, why);
	log_error("irc: TLS with %s port %d: %s", c->host, c->port, why);
}

/* tls_step takes the handshake as far as the socket lets it now: 1 done,
 * 0 waiting for the socket (c->ev says which way), -1 failed (tls_fail). */
static int tls_step(struct irc_conn *c, char *errbuf, size_t errlen)
{
	int rc, e;

	errno = 0;
	rc = ssl_dl.connect(c->ssl);
	if (rc == 1)
		return 1;
	e = ssl_dl.get_error(c->ssl, rc);
	if (e == SSL_DL_ERROR_WANT_READ)
		c->ev = POLLIN;
	else if (e == SSL_DL_ERROR_WANT_WRITE)
		c->ev = POLLOUT;
	else {
		tls_fail(c, NULL, errbuf, errlen);
		return -1;
	}
	if (clock_mono_ms() >= c->deadline) {
		tls_fail(c, "timed out", errbuf, errlen);
		return -1;
	}
	return 0;
}

/* ssl_result maps what SSL_read or SSL_write returned (n) onto the
 * recv/send convention: bytes, 0 for an orderly end (reads only), or -1 with
 * errno (EAGAIN when TLS wants the socket again, else fallback). */
static ssize_t ssl_result(struct irc_conn *c, int n, int reading, int fallback)
{
	int e;

	if (n > 0)
		return n;
	e = ssl_dl.get_error(c->ssl, n);
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

/* ---- new, free ---- */

enum err irc_conn_new(const struct irc_conn_config *cfg, struct irc_conn **out, char *errbuf,
		      size_t errlen)
{
	struct irc_conn *c;
	int bad = 0;
	enum err e;

	*out = NULL;
	e = check_config(cfg, errbuf, errlen);
	if (e != ERR_OK)
		return e;
	c = calloc(1, sizeof(*c));
	if (!c) {
		err_printf(errbuf, errlen, "irc: out of memory");
		return ERR_NOMEM;
	}
	c->fd = -1;
	c->ack_limit = ~0ULL;
	c->port = cfg->port;
	c->tls = cfg->tls != 0;
	c->connect_ms = cfg->connect_timeout_ms;
	c->host = strs_dup_or_null(cfg->host, &bad);
	c->ca_file = strs_dup_or_null(cfg->tls_ca_file, &bad);
	c->cert_file = strs_dup_or_null(cfg->tls_cert_file, &bad);
	c->key_file = strs_dup_or_null(cfg->tls_key_file, &bad);
	if (bad) {
		irc_conn_free(c);
		err_printf(errbuf, errlen, "irc: out of memory");
		return ERR_NOMEM;
	}
	if (c->tls) {
		e = tls_setup(c, errbuf, errlen);
		if (e != ERR_OK) {
			irc_conn_free(c);
			return e;
		}
	}
	*out = c;
	return ERR_OK;
}

void irc_conn_free(struct irc_conn *c)
{
	if (!c)
		return;
	irc_conn_close(c);
	if (c->ssl_ctx)
		ssl_dl.ctx_free(c->ssl_ctx);
	free(c->host);
	free(c->ca_file);
	free(c->cert_file);
	free(c->key_file);
	free(c);
}

/* ---- connecting ----
 *
 * A connection is made in steps the loop drives, never in a wait of its
 * own: the host resolved by glibc's getaddrinfo_a (its own thread; the
 * loop looks every IRC_CONN_RESOLVE_LOOK_MS), each address it gives tried
 * in turn with a non-blocking connect, each within the connect timeout,
 * then the TLS handshake, as far as the socket lets it at each step, within
 * the connect timeout again. A silent server or a slow DNS costs the other
 * networks nothing. */

/* resolve_end forgets the lookup and its addresses. A lookup glibc cannot
 * cancel any more is waited for: its thread writes into c->gai. */
static void resolve_end(struct irc_conn *c)
{
	if (c->resolving) {
		if (gai_cancel(&c->gai) == EAI_NOTCANCELED) {
			const struct gaicb *list[1] = {&c->gai};

			while (gai_suspend(list, 1, NULL) == EAI_INTR)
				;
		}
		if (gai_error(&c->gai) == 0 && c->gai.ar_result)
			freeaddrinfo(c->gai.ar_result);
		c->resolving = 0;
	}
	if (c->res)
		freeaddrinfo(c->res);
	c->res = c->ai = NULL;
}

/* connect_next starts a connect to the next address: 0 under way (or
 * done), -1 when none is left (each failure logged). */
static int connect_next(struct irc_conn *c)
{
	for (; c->ai; c->ai = c->ai->ai_next) {
		struct addrinfo *ai = c->ai;
		int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
				ai->ai_protocol);

		if (fd < 0)
			continue;
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0 && errno != EINPROGRESS) {
			log_warn("irc: connecting to %s port %d: %s", c->host, c->port,
				 strerror(errno));
			close(fd);
			continue;
		}
		c->fd = fd;
		c->ai = ai->ai_next;
		c->phase = CONN_TCP;
		c->ev = POLLOUT;
		c->deadline = clock_mono_ms() + c->connect_ms;
		return 0;
	}
	return -1;
}

/* tcp_step looks whether the connect under way is done: 1 connected, 0
 * not yet, -1 failed (the next address is tried first). */
static int tcp_step(struct irc_conn *c)
{
	struct pollfd pfd = {c->fd, POLLOUT, 0};
	int soerr = 0, one = 1, rc = poll(&pfd, 1, 0);
	socklen_t sl = sizeof(soerr);

	if (rc <= 0) { /* not yet (or a signal: look again next turn) */
		if (clock_mono_ms() < c->deadline)
			return 0;
		soerr = ETIMEDOUT;
	} else if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0) {
		soerr = errno;
	}
	if (soerr) {
		log_warn("irc: connecting to %s port %d: %s", c->host, c->port, strerror(soerr));
		close(c->fd);
		c->fd = -1;
		return connect_next(c) < 0 ? -1 : 0;
	}
	/* whole lines go out in one send() already; Nagle would only hold a
	 * paced line back for the server's ACK */
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return 1;
}

/* resolve_step looks whether the lookup is done: 0 not yet or the first
 * connect under way, -1 failed (logged). */
static int resolve_step(struct irc_conn *c)
{
	int rc = gai_error(&c->gai);

	if (rc == EAI_INPROGRESS) {
		if (clock_mono_ms() < c->deadline)
			return 0;
		log_warn("irc: resolving %s: timed out", c->host);
		return -1;
	}
	c->resolving = 0;
	if (rc != 0) {
		log_warn("irc: resolving %s: %s", c->host, gai_strerror(rc));
		return -1;
	}
	c->res = c->ai = c->gai.ar_result;
	c->gai.ar_result = NULL;
	return connect_next(c) < 0 ? -1 : 0;
}

enum err irc_conn_begin(struct irc_conn *c)
{
	struct sigevent none;
	struct gaicb *list[1] = {&c->gai};

	irc_conn_close(c);
	c->wlen = 0;
	c->put_bytes = c->sent_bytes = 0;
	c->ack_limit = ~0ULL;
	memset(&c->hints, 0, sizeof(c->hints));
	c->hints.ai_family = AF_UNSPEC;
	c->hints.ai_socktype = SOCK_STREAM;
	snprintf(c->port_s, sizeof(c->port_s), "%d", c->port);
	memset(&c->gai, 0, sizeof(c->gai));
	c->gai.ar_name = c->host;
	c->gai.ar_service = c->port_s;
	c->gai.ar_request = &c->hints;
	memset(&none, 0, sizeof(none));
	none.sigev_notify = SIGEV_NONE;
	if (getaddrinfo_a(GAI_NOWAIT, list, 1, &none) != 0) {
		log_warn("irc: resolving %s: the lookup could not start", c->host);
		return ERR_IO;
	}
	c->resolving = 1;
	c->phase = CONN_RESOLVE;
	c->deadline = clock_mono_ms() + c->connect_ms;
	return ERR_OK;
}

int irc_conn_advance(struct irc_conn *c, char *errbuf, size_t errlen)
{
	int rc = 0;

	if (c->phase == CONN_RESOLVE)
		rc = resolve_step(c);
	if (rc == 0 && c->phase == CONN_TCP) {
		rc = tcp_step(c);
		if (rc == 1 && c->tls) {
			c->ssl = ssl_dl.ssl_new(c->ssl_ctx);
			if (!c->ssl || ssl_dl.set_fd(c->ssl, c->fd) != 1 || !tls_name(c)) {
				tls_fail(c, NULL, errbuf, errlen);
				rc = -1;
			} else {
				c->phase = CONN_TLS;
				c->deadline = clock_mono_ms() + c->connect_ms;
				rc = 0;
			}
		}
	}
	if (rc == 0 && c->phase == CONN_TLS)
		rc = tls_step(c, errbuf, errlen);
	if (rc < 0) {
		irc_conn_close(c);
		return -1;
	}
	if (rc == 1) {
		resolve_end(c); /* the other addresses are not needed */
		c->phase = CONN_UP;
	}
	return rc;
}

int irc_conn_up(const struct irc_conn *c)
{
	return c->phase == CONN_UP;
}

void irc_conn_want(const struct irc_conn *c, short *events, long long *at_ms)
{
	long long look = clock_mono_ms() + IRC_CONN_RESOLVE_LOOK_MS;

	*events = c->phase == CONN_RESOLVE || c->fd < 0 ? 0 : c->ev;
	*at_ms = c->deadline;
	if (c->phase == CONN_RESOLVE && look < c->deadline)
		*at_ms = look;
}

void irc_conn_close(struct irc_conn *c)
{
	resolve_end(c);
	if (c->ssl)
		ssl_dl.ssl_free(c->ssl);
	c->ssl = NULL;
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->phase = CONN_CLOSED;
}

int irc_conn_fd(const struct irc_conn *c)
{
	return c->fd;
}

const char *irc_conn_host(const struct irc_conn *c)
{
	return c->host;
}

int irc_conn_port(const struct irc_conn *c)
{
	return c->port;
}

/* ---- reading ---- */

/* quick_ack asks the kernel to acknowledge what was just read at once,
 * not up to 40 ms later. A server that leaves Nagle on (InspIRCd does)
 * holds the next message for the bot until the last one is acknowledged,
 * so a question right behind another channel message waited for the
 * delayed-ACK timer (the bench saw 42 ms of a 44 ms reply). Linux resets
 * the flag by itself, hence after every read. */
static void quick_ack(const struct irc_conn *c)
{
#ifdef TCP_QUICKACK
	int one = 1;

	setsockopt(c->fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof(one));
#else
	(void)c;
#endif
}

ssize_t irc_conn_recv(struct irc_conn *c, char *buf, size_t len)
{
	ssize_t n;

	if (!c->ssl) {
		n = recv(c->fd, buf, len, 0);
	} else {
		errno = 0;
		n = ssl_result(c, ssl_dl.read(c->ssl, buf, (int)len), 1, EPROTO);
	}
	if (n > 0)
		quick_ack(c);
	return n;
}

int irc_conn_pending(const struct irc_conn *c)
{
	return c->ssl ? ssl_dl.pending(c->ssl) : 0;
}

/* ---- writing ---- */

int irc_conn_put(struct irc_conn *c, const char *bytes, size_t len)
{
	if (len > sizeof(c->wbuf) - c->wlen)
		return -1;
	memcpy(c->wbuf + c->wlen, bytes, len);
	c->wlen += len;
	c->put_bytes += len;
	return 0;
}

size_t irc_conn_room(const struct irc_conn *c)
{
	return sizeof(c->wbuf) - c->wlen;
}

unsigned long long irc_conn_put_total(const struct irc_conn *c)
{
	return c->put_bytes;
}

size_t irc_conn_unsent(const struct irc_conn *c)
{
	return c->wlen;
}

static ssize_t io_send(struct irc_conn *c, const char *buf, size_t len)
{
	if (!c->ssl)
		return send(c->fd, buf, len, MSG_NOSIGNAL);
	errno = 0;
	return ssl_result(c, ssl_dl.write(c->ssl, buf, (int)len), 0, EPIPE);
}

int irc_conn_flush(struct irc_conn *c)
{
	while (c->wlen) {
		ssize_t n = io_send(c, c->wbuf, c->wlen);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			log_warn("irc: send: %s", strerror(errno));
			return -1;
		}
		memmove(c->wbuf, c->wbuf + n, c->wlen - (size_t)n);
		c->wlen -= (size_t)n;
		c->sent_bytes += (unsigned long long)n;
	}
	return 0;
}

/* Plain TCP: what the kernel took, less what it still holds. TLS adds its
 * own bytes, so there only an empty send queue says that everything
 * written arrived. Without the ioctl, what the kernel took counts. */
int irc_conn_acked(const struct irc_conn *c, unsigned long long *acked)
{
	int outq = 0;
	unsigned long long a;

	if (c->fd < 0)
		return 0;
#ifdef TIOCOUTQ
	if (ioctl(c->fd, TIOCOUTQ, &outq) != 0)
		outq = 0;
#endif
	if (outq < 0)
		outq = 0;
	if (c->ssl) {
		if (outq != 0)
			return 0;
		a = c->sent_bytes;
	} else {
		if ((unsigned long long)outq > c->sent_bytes)
			return 0;
		a = c->sent_bytes - (unsigned long long)outq;
	}
	*acked = a < c->ack_limit ? a : c->ack_limit;
	return 1;
}

void irc_conn_quit(struct irc_conn *c, const char *line, size_t len, long wait_ms)
{
	long long deadline = clock_mono_ms() + wait_ms;

	if (c->fd < 0)
		return;
	if (c->wlen) {
		const char *nl = memchr(c->wbuf, '\n', c->wlen);

		c->wlen = nl ? (size_t)(nl - c->wbuf) + 1 : 0;
		/* the bytes dropped were never sent: what they carried is not done */
		c->ack_limit = c->sent_bytes + c->wlen;
	}
	irc_conn_put(c, line, len);
	while (c->wlen && clock_mono_ms() < deadline) {
		struct pollfd pfd = {c->fd, POLLOUT, 0};

		if (poll(&pfd, 1, IRC_CONN_SLICE_MS) > 0 && irc_conn_flush(c) < 0)
			break;
	}
	if (c->ssl)
		ssl_dl.shutdown(c->ssl); /* close_notify, best effort */
	shutdown(c->fd, SHUT_WR);
}
