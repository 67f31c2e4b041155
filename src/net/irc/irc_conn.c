/* irc_conn.c -- one connection to an IRC server: see irc_conn.h.
 *
 * Shape: the checks and the TLS context (once, at irc_conn_new), then for
 * each connection a connect and a handshake that poll in slices, reads and
 * writes with one contract for TCP and TLS (io_send, irc_conn_recv), and
 * the write buffer with its byte counts. */
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

struct irc_conn {
	char *host, *ca_file, *cert_file, *key_file; /* owned copies */
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
		err_printf(errbuf, errlen, "irc: tls_key_file %s without tls_cert_file", cfg->tls_key_file);
		return ERR_INVALID;
	}
	if (!cfg->tls_cert_file)
		return ERR_OK;
	if (!cfg->tls) {
		err_printf(errbuf, errlen, "irc: tls_cert_file %s: only with tls on", cfg->tls_cert_file);
		return ERR_INVALID;
	}
	unreadable = access(cfg->tls_cert_file, R_OK) != 0 ? cfg->tls_cert_file
	             : access(key, R_OK) != 0               ? key
	                                                    : NULL;
	if (unreadable) {
		err_printf(errbuf, errlen, "irc: %s %s: %s",
		           unreadable == cfg->tls_cert_file ? "tls_cert_file" : "tls_key_file", unreadable,
		           strerror(errno));
		return ERR_INVALID;
	}
	if (stat(key, &sb) == 0 && (sb.st_mode & S_IROTH)) {
		err_printf(errbuf, errlen,
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
			err_printf(errbuf, errlen, "irc: host %s with tls = false: %s", cfg->host, why);
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
		           c->key_file ? "tls_key_file" : "tls_cert_file (no tls_key_file)", key, why);
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
		err_printf(errbuf, errlen, "irc: the private key in %s does not match the certificate in %s",
		           key, c->cert_file);
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

/* tls_handshake runs the handshake on the connected socket, polling; -1
 * on failure, with the reason (a certificate not trusted, a name that does
 * not match...) logged and written to errbuf. */
static int tls_handshake(struct irc_conn *c, const struct irc_conn_wait *w, char *errbuf,
                         size_t errlen)
{
	long long deadline = clock_mono_ms() + c->connect_ms;
	char why[256];

	c->ssl = ssl_dl.ssl_new(c->ssl_ctx);
	if (!c->ssl || ssl_dl.set_fd(c->ssl, c->fd) != 1 || !tls_name(c))
		goto fail;
	for (;;) {
		struct pollfd pfd = {c->fd, 0, 0};
		long long left = deadline - clock_mono_ms();
		int rc, e;

		errno = 0;
		rc = ssl_dl.connect(c->ssl);
		if (rc == 1)
			return 0;
		e = ssl_dl.get_error(c->ssl, rc);
		if (e == SSL_DL_ERROR_WANT_READ)
			pfd.events = POLLIN;
		else if (e == SSL_DL_ERROR_WANT_WRITE)
			pfd.events = POLLOUT;
		else
			break;
		if (*w->stop || left <= 0) {
			snprintf(why, sizeof(why), "timed out");
			goto report;
		}
		poll(&pfd, 1, left < IRC_CONN_SLICE_MS ? (int)left : IRC_CONN_SLICE_MS);
		if (w->idle)
			w->idle(w->ctx);
	}
fail:
	if (c->ssl && ssl_dl.get_verify_result(c->ssl) != SSL_DL_X509_V_OK) {
		snprintf(why, sizeof(why), "certificate verify failed: %s",
		         ssl_dl.verify_cert_error_string(ssl_dl.get_verify_result(c->ssl)));
		ssl_dl.err_clear_error();
	} else {
		tls_why(why, sizeof(why));
	}
report:
	err_printf(errbuf, errlen, "irc: TLS with %s port %d: %s", c->host, c->port, why);
	log_error("irc: TLS with %s port %d: %s", c->host, c->port, why);
	return -1;
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

/* ---- connecting ---- */

/* wait_connected polls a connecting socket until it is connected, fails,
 * or deadline or stop; 0 or the socket error (ETIMEDOUT for the wait). */
static int wait_connected(int fd, long long deadline, const struct irc_conn_wait *w)
{
	int soerr = 0, rc;
	socklen_t sl = sizeof(soerr);

	for (;;) {
		struct pollfd pfd = {fd, POLLOUT, 0};
		long long left = deadline - clock_mono_ms();

		if (*w->stop || left <= 0)
			return ETIMEDOUT;
		rc = poll(&pfd, 1, left < IRC_CONN_SLICE_MS ? (int)left : IRC_CONN_SLICE_MS);
		if (w->idle)
			w->idle(w->ctx);
		if (rc > 0) {
			if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0)
				soerr = errno;
			return soerr;
		}
		if (rc < 0 && errno != EINTR)
			return errno;
	}
}

/* sock_connect tries each address of the host in turn; the socket, or -1
 * with each failure logged. */
static int sock_connect(struct irc_conn *c, const struct irc_conn_wait *w)
{
	struct addrinfo hints, *res = NULL, *ai;
	char port[16];
	int fd = -1, rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	snprintf(port, sizeof(port), "%d", c->port);
	rc = getaddrinfo(c->host, port, &hints, &res);
	if (rc != 0) {
		log_warn("irc: resolving %s: %s", c->host, gai_strerror(rc));
		return -1;
	}
	for (ai = res; ai && !*w->stop; ai = ai->ai_next) {
		int soerr = 0;

		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
		            ai->ai_protocol);
		if (fd < 0)
			continue;
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0 && errno != EINPROGRESS)
			soerr = errno;
		else
			soerr = wait_connected(fd, clock_mono_ms() + c->connect_ms, w);
		if (soerr == 0) {
			int one = 1;

			/* whole lines go out in one send() already; Nagle would
			 * only hold a paced line back for the server's ACK */
			setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
			break;
		}
		log_warn("irc: connecting to %s port %d: %s", c->host, c->port, strerror(soerr));
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	return fd;
}

enum err irc_conn_open(struct irc_conn *c, const struct irc_conn_wait *w, char *errbuf,
                       size_t errlen)
{
	irc_conn_close(c);
	c->wlen = 0;
	c->put_bytes = c->sent_bytes = 0;
	c->ack_limit = ~0ULL;
	c->fd = sock_connect(c, w);
	if (c->fd < 0)
		return ERR_IO;
	if (c->tls && tls_handshake(c, w, errbuf, errlen) < 0) {
		irc_conn_close(c);
		return ERR_IO;
	}
	return ERR_OK;
}

void irc_conn_close(struct irc_conn *c)
{
	if (c->ssl)
		ssl_dl.ssl_free(c->ssl);
	c->ssl = NULL;
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
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
