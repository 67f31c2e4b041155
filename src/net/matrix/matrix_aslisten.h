/* matrix_aslisten.h -- the Application Service's HTTP listener: the part
 * of matrix_appsvc that speaks HTTP (libmicrohttpd through mhd_dl, no
 * thread of its own: the loop polls its epoll descriptor and calls
 * matrix_aslisten_run). It reads each request whole within its limits,
 * routes it (mx_as_route), checks its hs_token (mx_as_auth_check) and
 * answers what it can by itself: 404/405 M_UNRECOGNIZED, 400
 * M_INVALID_PARAM, 403 M_FORBIDDEN, 413 M_TOO_LARGE. Every other request
 * (authenticated, routed) goes to the owner's function, synchronously,
 * and its answer is sent when the function returns, or when the owner
 * gives it later (matrix_aslisten_reply): so a transaction is
 * acknowledged only once the owner has handled it.
 * Used by matrix_appsvc.c alone. */
#ifndef FAQBOT_MATRIX_ASLISTEN_H
#define FAQBOT_MATRIX_ASLISTEN_H

#include <stddef.h>

#include "err.h"
#include "mx_appsvc.h"
#include "transport.h"

#define MATRIX_ASLISTEN_ANSWER_MAX 256

/* What the owner answers: a status and a JSON body (written in body).
 * Or later: the owner sets later and answers with
 * matrix_aslisten_reply(ticket, ...) when it can (the connection waits,
 * suspended; a stop answers it 503). */
struct matrix_aslisten_answer {
	unsigned status;
	char body[MATRIX_ASLISTEN_ANSWER_MAX];
	unsigned long ticket; /* the request's, given to the owner */
	int later;
};

/* The owner's function: route is MX_AS_TXN, MX_AS_PING, MX_AS_USER or
 * MX_AS_ROOM; param the path's parameter (NUL-terminated, borrowed) or
 * ""; body the request's (len bytes and a NUL, borrowed). out comes as
 * 200 {}. */
typedef void (*matrix_aslisten_fn)(void *ctx, enum mx_as_route route, const char *param,
				   const char *body, size_t len,
				   struct matrix_aslisten_answer *out);

struct matrix_aslisten_config {
	const char *listen;        /* "ADDRESS:PORT", an address literal */
	const char *tls_cert_file; /* both or neither */
	const char *tls_key_file;
	const char *hs_token; /* borrowed: must outlive the listener */
	size_t max_body;
	unsigned conns_max, conn_timeout_s;
};

struct matrix_aslisten;

/* matrix_aslisten_check refuses a config that cannot work, before
 * anything is opened: an address that is not a literal, TLS files given
 * by halves, a listen address off the loopback without TLS. */
enum err matrix_aslisten_check(const struct matrix_aslisten_config *c, char *err, size_t errlen);

/* matrix_aslisten_start opens the listener (mhd_dl_load first). ERR_IO:
 * the address is in use or not this machine's; ERR_NOTFOUND:
 * libmicrohttpd is missing; err says which. c's strings are read now,
 * hs_token kept borrowed. */
enum err matrix_aslisten_start(const struct matrix_aslisten_config *c, matrix_aslisten_fn fn,
			       void *ctx, struct matrix_aslisten **out, char *err, size_t errlen);

/* matrix_aslisten_want adds its descriptor and deadline to w;
 * matrix_aslisten_run handles what is ready (never waits on a socket). */
void matrix_aslisten_want(struct matrix_aslisten *l, struct tr_wait *w);
void matrix_aslisten_run(struct matrix_aslisten *l);

/* matrix_aslisten_reply answers the request of ticket that the owner
 * left for later (status, body as in the answer; body may be NULL: "{}").
 * A ticket unknown (its connection gone meanwhile) is no error. */
void matrix_aslisten_reply(struct matrix_aslisten *l, unsigned long ticket, unsigned status,
			   const char *body);

/* counts of requests refused for their token, for the owner's stats */
unsigned long matrix_aslisten_refused(const struct matrix_aslisten *l);
unsigned matrix_aslisten_port(const struct matrix_aslisten *l);

/* matrix_aslisten_stop closes every connection and the listener; NULL is
 * a no-op. */
void matrix_aslisten_stop(struct matrix_aslisten *l);

#endif
