/* irc_conn.h -- one connection to an IRC server: the socket, TLS, and the
 * bytes on their way out.
 *
 * What it is: the checks of where the bot connects (a host, a port, the
 * loopback rule of netaddr.h for plain TCP, the TLS files), one TLS
 * context for every connection (libssl loaded at run time, ssl_dl.h), a
 * lookup and connect with a timeout that never block the loop, the TLS
 * handshake (the certificate
 * verified against the system's trust store or the named file, and so is
 * the host name or IP address, with SNI), reads, and a write buffer that
 * counts the bytes handed to the kernel and how many of them the server's
 * TCP has acknowledged: the transport's queue (irc_out.h) marks a reply
 * sent only once its bytes left this machine.
 *
 * What it is not: no IRC. It moves bytes and whole lines it is given; what
 * they say, when to send them and when to give up on a silent server is
 * irc.c's. One connection at a time: irc_conn_begin starts the next. */
#ifndef FAQBOT_IRC_CONN_H
#define FAQBOT_IRC_CONN_H

#include <signal.h>
#include <stddef.h>
#include <sys/types.h>

#include "err.h"

#define IRC_WBUF_MAX             65536 /* bytes handed to the connection, not yet sent */
#define IRC_CONN_SLICE_MS        100   /* a wait looks at stop (and calls idle) this often */
#define IRC_CONN_RESOLVE_LOOK_MS 20    /* how often a lookup under way is looked at */

/* Where to connect. irc_conn_new copies the strings. */
struct irc_conn_config {
	const char *host;          /* with tls 0, a loopback host */
	int port;                  /* 1..65535 */
	int tls;                   /* 1: TLS, verified */
	const char *tls_ca_file;   /* PEM certificates to trust instead of the
	                            * system's, or NULL; needs tls */
	const char *tls_cert_file; /* PEM client certificate (and chain), or
	                            * NULL; needs tls */
	const char *tls_key_file;  /* its key, not readable by every user;
	                            * NULL: in tls_cert_file */
	long connect_timeout_ms;   /* TCP connect, and then the TLS handshake; > 0 */
};

struct irc_conn;

/* irc_conn_new checks cfg (a host, a port, plain TCP only to a loopback
 * host, TLS files only with tls, readable, a key not readable by all) and,
 * with tls, loads libssl and makes the TLS context with the client
 * certificate, checked against its key. Nothing goes on the network. On
 * failure *out is NULL and errbuf has one line ("irc: ...") saying what to
 * fix: ERR_INVALID, ERR_NOTFOUND (no libssl), ERR_NOMEM. */
enum err irc_conn_new(const struct irc_conn_config *cfg, struct irc_conn **out, char *errbuf,
		      size_t errlen);

/* irc_conn_free closes the connection and frees c; NULL is a no-op. */
void irc_conn_free(struct irc_conn *c);

/* Connecting without blocking, in steps the loop drives.
 *
 * irc_conn_begin closes the last connection if any, empties the write
 * buffer, zeroes the counts and starts looking the host up; ERR_IO when
 * the lookup cannot start (logged). Then, while irc_conn_advance says 0,
 * the loop polls irc_conn_fd (when >= 0) for the events irc_conn_want
 * gives, until its at_ms at the latest, and calls irc_conn_advance again:
 * each address the host resolves to is tried in turn, each within the
 * connect timeout, then, with tls, the handshake within it again.
 * irc_conn_advance: 1 connected (irc_conn_up), 0 not yet, -1 no
 * connection (closed; each reason logged, and a failed handshake's reason,
 * a certificate not trusted, a name that does not match, a timeout, also
 * written to errbuf, one line). */
enum err irc_conn_begin(struct irc_conn *c);
int irc_conn_advance(struct irc_conn *c, char *errbuf, size_t errlen);
void irc_conn_want(const struct irc_conn *c, short *events, long long *at_ms);
int irc_conn_up(const struct irc_conn *c);

/* irc_conn_close frees the TLS session and closes the socket; the counts
 * stay until the next open. No-op when closed. */
void irc_conn_close(struct irc_conn *c);

/* irc_conn_fd is the socket, for poll; -1 when closed. */
int irc_conn_fd(const struct irc_conn *c);

/* The host and port, as configured (borrowed). */
const char *irc_conn_host(const struct irc_conn *c);
int irc_conn_port(const struct irc_conn *c);

/* irc_conn_recv reads at most len bytes, with recv()'s contract: > 0
 * bytes, 0 for a closed connection, -1 with errno EAGAIN for "not now" or
 * another errno for a dead connection. After bytes came, it asks the kernel
 * to acknowledge them at once (see the .c for why). */
ssize_t irc_conn_recv(struct irc_conn *c, char *buf, size_t len);

/* irc_conn_pending: bytes TLS has decrypted that poll() cannot see; read
 * them now. 0 without TLS. */
int irc_conn_pending(const struct irc_conn *c);

/* irc_conn_put appends len bytes (whole lines) to the write buffer; 0, or
 * -1 with nothing appended when they do not fit. */
int irc_conn_put(struct irc_conn *c, const char *bytes, size_t len);

/* irc_conn_room: bytes irc_conn_put would take now. */
size_t irc_conn_room(const struct irc_conn *c);

/* irc_conn_put_total: bytes put since the open, the mark the queue keeps
 * for a reply's last line (irc_out_take). */
unsigned long long irc_conn_put_total(const struct irc_conn *c);

/* irc_conn_unsent: bytes put that the kernel has not taken yet. */
size_t irc_conn_unsent(const struct irc_conn *c);

/* irc_conn_flush writes what the kernel takes now; 0, or -1 (logged) on a
 * dead connection. */
int irc_conn_flush(struct irc_conn *c);

/* irc_conn_acked sets *acked to how many of the bytes put since the open
 * the server's TCP has acknowledged, as far as is known, and returns 1;
 * 0 when nothing can be said now (closed, or TLS with bytes still in the
 * kernel). Bytes dropped by irc_conn_quit are never counted. */
int irc_conn_acked(const struct irc_conn *c, unsigned long long *acked);

/* irc_conn_quit ends the connection politely: of what waits in the write
 * buffer only the line under way is kept (the server would read the rest
 * of it and line as one), then line (a whole line, QUIT) goes, and the
 * buffer is flushed for at most wait_ms; then TLS's close_notify and a
 * shutdown of our side. The socket stays open for irc_conn_acked and
 * irc_conn_close. No-op when closed. */
void irc_conn_quit(struct irc_conn *c, const char *line, size_t len, long wait_ms);

#endif
