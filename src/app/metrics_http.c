/* metrics_http.c -- GET /metrics over libmicrohttpd (metrics_http.h). */
#include "metrics_http.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "buf.h"
#include "err.h"
#include "metrics.h"
#include "mhd_dl.h"
#include "listenaddr.h"

#define METRICS_HTTP_MAX (64 * 1024) /* bytes of one exposition, at most */

struct metrics_http {
	struct MHD_Daemon *d;
	unsigned port;
};

/* parse_listen reads "1.2.3.4:9464" or "[::1]:9464" into ss. */
static enum err parse_listen(const char *s, struct sockaddr_storage *ss, int *v6, char *err,
			     size_t errlen)
{
	char host[64];

	if (listenaddr_parse(s, ss, v6, host, sizeof(host)) == ERR_OK)
		return ERR_OK;
	err_printf(err, errlen,
		   "metrics: listen = '%s' is not ADDRESS:PORT with an address literal "
		   "(127.0.0.1:9464, [::1]:9464)",
		   s);
	return ERR_INVALID;
}

static enum MHD_Result answer(struct MHD_Connection *c, unsigned status, const char *type,
			      char *body, size_t len)
{
	struct MHD_Response *r =
		mhd_dl.create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
	enum MHD_Result ok;

	if (!r) {
		free(body);
		return MHD_NO;
	}
	mhd_dl.add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
		mhd_dl.add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET");
	ok = mhd_dl.queue_response(c, status, r);
	mhd_dl.destroy_response(r);
	return ok;
}

/* refuse answers status with a short plain text. */
static enum MHD_Result refuse(struct MHD_Connection *c, unsigned status, const char *text)
{
	char *body = strdup(text);

	if (!body)
		return MHD_NO;
	return answer(c, status, "text/plain; charset=utf-8", body, strlen(body));
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version, const char *upload,
				  size_t *upload_len, void **state)
{
	struct buf b;
	char *text;

	(void)cls;
	(void)version;
	(void)upload;
	/* the first call only says a request began; answer on the second,
	 * once any body (none is wanted) has been read */
	if (!*state) {
		*state = (void *)1;
		return MHD_YES;
	}
	if (*upload_len) {
		*upload_len = 0; /* a body is read and dropped */
		return MHD_YES;
	}
	if (strcmp(url, "/metrics") != 0)
		return refuse(c, MHD_HTTP_NOT_FOUND, "not found: the metrics are at /metrics\n");
	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
		return refuse(c, MHD_HTTP_METHOD_NOT_ALLOWED, "only GET\n");
	buf_init(&b, METRICS_HTTP_MAX);
	metrics_render(&b);
	text = buf_detach(&b);
	if (!text)
		return MHD_NO;
	return answer(c, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", text,
		      strlen(text));
}

enum err metrics_http_start(const char *listen, struct metrics_http **out, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	struct metrics_http *h;
	const union MHD_DaemonInfo *info;
	int v6 = 0;
	enum err e;

	*out = NULL;
	e = mhd_dl_load(err, errlen);
	if (e != ERR_OK)
		return e;
	e = parse_listen(listen ? listen : METRICS_HTTP_DEFAULT, &ss, &v6, err, errlen);
	if (e != ERR_OK)
		return e;
	h = calloc(1, sizeof(*h));
	if (!h)
		return ERR_NOMEM;
	h->d = mhd_dl.start_daemon(
		MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL | (v6 ? MHD_USE_IPv6 : 0), 0, NULL,
		NULL, on_request, NULL, MHD_OPTION_SOCK_ADDR, &ss, MHD_OPTION_CONNECTION_LIMIT,
		(unsigned)METRICS_HTTP_CONNS, MHD_OPTION_CONNECTION_TIMEOUT,
		(unsigned)METRICS_HTTP_TIMEOUT_S, MHD_OPTION_END);
	if (!h->d) {
		err_printf(err, errlen,
			   "metrics: cannot listen on %s (in use, or not an "
			   "address of this machine)",
			   listen ? listen : METRICS_HTTP_DEFAULT);
		free(h);
		return ERR_IO;
	}
	info = mhd_dl.get_daemon_info(h->d, MHD_DAEMON_INFO_BIND_PORT);
	h->port = info ? info->port : 0;
	*out = h;
	return ERR_OK;
}

unsigned metrics_http_port(const struct metrics_http *h)
{
	return h ? h->port : 0;
}

void metrics_http_stop(struct metrics_http *h)
{
	if (!h)
		return;
	mhd_dl.stop_daemon(h->d);
	free(h);
}
