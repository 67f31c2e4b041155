/* matrix_aslisten.c -- the Application Service's HTTP listener (see
 * matrix_aslisten.h).
 *
 * libmicrohttpd in its "external" mode with epoll: no thread, one
 * descriptor for the loop to poll (MHD_DAEMON_INFO_EPOLL_FD), MHD_run
 * when it is ready or when MHD_get_timeout says (a connection's timeout,
 * or data it already read: then 0). A request's handler is called by
 * MHD_run, first with the headers (route and token are judged there, so a
 * refused request's body is never read), then with each piece of the
 * body, then once more with none: that last call runs the owner's
 * function and queues its answer. */
#include "matrix_aslisten.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "clock.h"
#include "listenaddr.h"
#include "log.h"
#include "mhd_dl.h"
#include "netaddr.h"

#define PEM_MAX (64 * 1024)

struct matrix_aslisten {
	struct MHD_Daemon *d;
	matrix_aslisten_fn fn;
	void *ctx;
	const char *hs_token;
	size_t max_body;
	unsigned port;
	int epfd;
	unsigned long refused;
	char *cert, *key;      /* the PEM texts MHD reads from memory */
	unsigned long tickets; /* the last ticket given */
	struct req *waiting;   /* requests the owner answers later */
};

/* One request while it is read, or while its answer waits. */
struct req {
	enum mx_as_route route;
	char param[MX_ID_MAX + 1];
	struct buf body;
	int answered; /* an early answer was queued (refused), or the
	               * owner's function ran */
	/* left for later by the owner: its connection suspended till
	 * matrix_aslisten_reply puts the answer in ans (ready) */
	struct MHD_Connection *c;
	unsigned long ticket;
	int waits, ready;
	struct matrix_aslisten_answer ans;
	struct req *next; /* in l->waiting */
};

/* ---- the address ------------------------------------------------------ */

enum err matrix_aslisten_check(const struct matrix_aslisten_config *c, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	char host[64];
	int v6;

	if (listenaddr_parse(c->listen, &ss, &v6, host, sizeof(host)) != ERR_OK) {
		snprintf(err, errlen,
			 "listen = '%s' is not ADDRESS:PORT with an address literal "
			 "(127.0.0.1:29331, [::1]:29331)",
			 c->listen);
		return ERR_INVALID;
	}
	if (!c->tls_cert_file != !c->tls_key_file) {
		snprintf(err, errlen, "%s is set without %s: HTTPS needs both",
			 c->tls_cert_file ? "tls_cert_file" : "tls_key_file",
			 c->tls_cert_file ? "tls_key_file" : "tls_cert_file");
		return ERR_INVALID;
	}
	if (!c->tls_cert_file && !netaddr_is_loopback_literal(host)) {
		snprintf(err, errlen,
			 "listen = '%s' is not a loopback address, and plain HTTP there "
			 "would carry the hs_token and every member's words in clear: "
			 "listen on 127.0.0.1 behind the homeserver or a reverse proxy, "
			 "or set tls_cert_file and tls_key_file",
			 c->listen);
		return ERR_INVALID;
	}
	if (!c->hs_token || !*c->hs_token) {
		snprintf(err, errlen, "no hs_token: run faqbot appservice-registration");
		return ERR_INVALID;
	}
	return ERR_OK;
}

/* read_pem reads a PEM file whole; a key must be its owner's alone. */
static enum err read_pem(const char *path, int secret, char **out, char *err, size_t errlen)
{
	struct buf b;
	struct stat st;
	char chunk[4096];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
		return ERR_IO;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || (secret && (st.st_mode & 077))) {
		close(fd);
		snprintf(err, errlen, "%s: %s", path,
			 secret ? "not a regular file readable by its owner only (chmod 600)"
				: "not a regular file");
		return ERR_INVALID;
	}
	buf_init(&b, PEM_MAX);
	while ((n = read(fd, chunk, sizeof(chunk))) > 0)
		buf_append(&b, chunk, (size_t)n);
	close(fd);
	memset(chunk, 0, sizeof(chunk));
	if (n < 0 || buf_take(&b, out) != ERR_OK) {
		snprintf(err, errlen, "cannot read %s (larger than %d bytes?)", path, PEM_MAX);
		return ERR_IO;
	}
	return ERR_OK;
}

/* ---- answers ---------------------------------------------------------- */

static enum MHD_Result answer(struct MHD_Connection *c, unsigned status, const char *json)
{
	struct MHD_Response *r = mhd_dl.create_response_from_buffer(strlen(json), (void *)json,
								    MHD_RESPMEM_MUST_COPY);
	enum MHD_Result ok;

	if (!r)
		return MHD_NO;
	mhd_dl.add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
	ok = mhd_dl.queue_response(c, status, r);
	mhd_dl.destroy_response(r);
	return ok;
}

static enum MHD_Result error(struct MHD_Connection *c, unsigned status, const char *errcode,
			     const char *text)
{
	char body[256];

	snprintf(body, sizeof(body), "{\"errcode\":\"%s\",\"error\":\"%s\"}", errcode, text);
	return answer(c, status, body);
}

/* judge answers a request by its headers when it is not the owner's to
 * answer (1), or says it is (0). */
static int judge(struct matrix_aslisten *l, struct MHD_Connection *c, struct req *q,
		 const char *method, const char *url, enum MHD_Result *res)
{
	const char *arg, *auth, *qtok, *clen;
	size_t n;

	q->route = mx_as_route(method, url, &arg, &n);
	if (q->route == MX_AS_UNKNOWN || q->route == MX_AS_METHOD) {
		*res = error(c, q->route == MX_AS_UNKNOWN ? 404 : 405, "M_UNRECOGNIZED",
			     q->route == MX_AS_UNKNOWN ? "Unrecognized request"
						       : "Method not allowed here");
		return 1;
	}
	auth = mhd_dl.lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
	qtok = mhd_dl.lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "access_token");
	if (mx_as_auth_check(auth, qtok, l->hs_token) != MX_AS_AUTH_OK) {
		l->refused++;
		log_warn("appservice: %s %s refused: %s hs_token", method,
			 q->route == MX_AS_TXN ? "transaction" : "request",
			 auth || qtok ? "a wrong" : "no");
		*res = error(c, 403, "M_FORBIDDEN", "Bad hs_token");
		return 1;
	}
	if (q->route == MX_AS_BAD_PARAM) {
		*res = error(c, 400, "M_INVALID_PARAM", "The path's parameter is not usable");
		return 1;
	}
	clen = mhd_dl.lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
	if (clen && strtoull(clen, NULL, 10) > l->max_body) {
		log_warn("appservice: a request of %s bytes refused (max_body %zu)", clen,
			 l->max_body);
		*res = error(c, 413, "M_TOO_LARGE", "Request too large");
		return 1;
	}
	if (arg && n < sizeof(q->param)) {
		memcpy(q->param, arg, n);
		q->param[n] = '\0';
	}
	return 0;
}

static void unlink_waiting(struct matrix_aslisten *l, struct req *q)
{
	struct req **p;

	for (p = &l->waiting; *p; p = &(*p)->next)
		if (*p == q) {
			*p = q->next;
			break;
		}
	q->waits = 0;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version, const char *upload,
				  size_t *upload_len, void **state)
{
	struct matrix_aslisten *l = cls;
	struct matrix_aslisten_answer out;
	struct req *q = *state;
	enum MHD_Result res = MHD_YES;

	(void)version;
	if (!q) {
		q = calloc(1, sizeof(*q));
		if (!q)
			return MHD_NO;
		buf_init(&q->body, l->max_body);
		*state = q;
		if (judge(l, c, q, method, url, &res))
			q->answered = 1;
		return res;
	}
	if (*upload_len) {
		if (!q->answered)
			buf_append(&q->body, upload, *upload_len);
		*upload_len = 0;
		return MHD_YES;
	}
	if (q->waits) { /* resumed: its answer is ready */
		if (!q->ready)
			return MHD_YES;
		unlink_waiting(l, q);
		return answer(c, q->ans.status, q->ans.body);
	}
	if (q->answered)
		return MHD_YES;
	q->answered = 1;
	if (q->body.failed)
		return q->body.nomem ? MHD_NO : error(c, 413, "M_TOO_LARGE", "Request too large");
	memset(&out, 0, sizeof(out));
	out.status = 200;
	out.ticket = ++l->tickets;
	snprintf(out.body, sizeof(out.body), "{}");
	l->fn(l->ctx, q->route, q->param, q->body.s ? q->body.s : "", q->body.len, &out);
	if (!out.later)
		return answer(c, out.status, out.body);
	q->c = c;
	q->ticket = out.ticket;
	q->waits = 1;
	q->next = l->waiting;
	l->waiting = q;
	mhd_dl.suspend_connection(c);
	return MHD_YES;
}

void matrix_aslisten_reply(struct matrix_aslisten *l, unsigned long ticket, unsigned status,
			   const char *body)
{
	struct req *q;

	for (q = l ? l->waiting : NULL; q; q = q->next)
		if (q->ticket == ticket && !q->ready)
			break;
	if (!q)
		return;
	q->ans.status = status;
	snprintf(q->ans.body, sizeof(q->ans.body), "%s", body ? body : "{}");
	q->ready = 1;
	mhd_dl.resume_connection(q->c); /* the next run sends it */
}

static void on_completed(void *cls, struct MHD_Connection *c, void **state,
			 enum MHD_RequestTerminationCode toe)
{
	struct req *q = *state;

	(void)c;
	(void)toe;
	if (q && q->waits)
		unlink_waiting(cls, q);
	if (q) {
		buf_release(&q->body);
		free(q);
		*state = NULL;
	}
}

/* ---- the daemon ------------------------------------------------------- */

enum err matrix_aslisten_start(const struct matrix_aslisten_config *c, matrix_aslisten_fn fn,
			       void *ctx, struct matrix_aslisten **out, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	struct matrix_aslisten *l;
	const union MHD_DaemonInfo *info;
	unsigned flags = MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME;
	char host[64];
	int v6 = 0;
	enum err e;

	*out = NULL;
	e = matrix_aslisten_check(c, err, errlen);
	if (e == ERR_OK)
		e = mhd_dl_load(err, errlen);
	if (e != ERR_OK)
		return e;
	listenaddr_parse(c->listen, &ss, &v6, host, sizeof(host));
	l = calloc(1, sizeof(*l));
	if (!l)
		return ERR_NOMEM;
	l->fn = fn;
	l->ctx = ctx;
	l->hs_token = c->hs_token;
	l->max_body = c->max_body;
	l->epfd = -1;
	if (c->tls_cert_file) {
		e = read_pem(c->tls_cert_file, 0, &l->cert, err, errlen);
		if (e == ERR_OK)
			e = read_pem(c->tls_key_file, 1, &l->key, err, errlen);
		if (e != ERR_OK) {
			matrix_aslisten_stop(l);
			return e;
		}
		flags |= MHD_USE_TLS;
	}
	if (v6)
		flags |= MHD_USE_IPv6;
	if (l->cert)
		l->d = mhd_dl.start_daemon(flags, 0, NULL, NULL, on_request, l,
					   MHD_OPTION_SOCK_ADDR, &ss, MHD_OPTION_CONNECTION_LIMIT,
					   c->conns_max, MHD_OPTION_CONNECTION_TIMEOUT,
					   c->conn_timeout_s, MHD_OPTION_NOTIFY_COMPLETED,
					   on_completed, l, MHD_OPTION_HTTPS_MEM_CERT, l->cert,
					   MHD_OPTION_HTTPS_MEM_KEY, l->key, MHD_OPTION_END);
	else
		l->d = mhd_dl.start_daemon(flags, 0, NULL, NULL, on_request, l,
					   MHD_OPTION_SOCK_ADDR, &ss, MHD_OPTION_CONNECTION_LIMIT,
					   c->conns_max, MHD_OPTION_CONNECTION_TIMEOUT,
					   c->conn_timeout_s, MHD_OPTION_NOTIFY_COMPLETED,
					   on_completed, l, MHD_OPTION_END);
	info = l->d ? mhd_dl.get_daemon_info(l->d, MHD_DAEMON_INFO_EPOLL_FD) : NULL;
	if (!info) {
		snprintf(err, errlen,
			 "cannot listen on %s (in use, not an address of this machine, or a "
			 "certificate libmicrohttpd cannot read)",
			 c->listen);
		matrix_aslisten_stop(l);
		return ERR_IO;
	}
	l->epfd = info->epoll_fd;
	info = mhd_dl.get_daemon_info(l->d, MHD_DAEMON_INFO_BIND_PORT);
	l->port = info ? info->port : 0;
	*out = l;
	return ERR_OK;
}

void matrix_aslisten_want(struct matrix_aslisten *l, struct tr_wait *w)
{
	MHD_UNSIGNED_LONG_LONG t = 0;

	if (!l || !l->d)
		return;
	if (w->n < TR_FDS_MAX) {
		w->fd[w->n].fd = l->epfd;
		w->fd[w->n].events = POLLIN;
		w->n++;
	}
	if (mhd_dl.get_timeout(l->d, &t) == MHD_YES) {
		long long at = clock_mono_ms() + (long long)(t > 3600000 ? 3600000 : t);

		if (w->at_ms < 0 || at < w->at_ms)
			w->at_ms = at;
	}
}

void matrix_aslisten_run(struct matrix_aslisten *l)
{
	if (l && l->d)
		mhd_dl.run(l->d);
}

unsigned long matrix_aslisten_refused(const struct matrix_aslisten *l)
{
	return l ? l->refused : 0;
}

unsigned matrix_aslisten_port(const struct matrix_aslisten *l)
{
	return l ? l->port : 0;
}

void matrix_aslisten_stop(struct matrix_aslisten *l)
{
	struct req *q;

	if (!l)
		return;
	/* an answer left for later is not coming: the homeserver sends the
	 * transaction again (libmicrohttpd stops no suspended connection) */
	for (q = l->waiting; q; q = q->next)
		if (!q->ready)
			matrix_aslisten_reply(
				l, q->ticket, 503,
				"{\"errcode\":\"M_UNKNOWN\",\"error\":\"Stopping; try "
				"again\"}");
	if (l->d && l->waiting)
		mhd_dl.run(l->d);
	if (l->d)
		mhd_dl.stop_daemon(l->d);
	if (l->key) {
		memset(l->key, 0, strlen(l->key));
		free(l->key);
	}
	free(l->cert);
	free(l);
}
