/* matrix_http.c -- the Matrix transport's HTTP (see matrix_int.h): the
 * exchanges in the one multi handle, each on its own easy handle (the
 * sync, a send, the re-login, a blocking call), moved on by matrix_pump
 * and polled by the loop through matrix_multi_want; the retry policy
 * (matrix.c's top comment) as a verdict each owner acts on (matrix_judge);
 * the blocking call of start-up, with its waits. Paths come to it written
 * by mx_path (mx_html.h), every part escaped.
 *
 * Not here: what any request means (the session, rooms, sync and reply
 * parts ask), nor JSON (mx_json, mx_body). */
#include "matrix_int.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "backoff.h"
#include "clock.h"
#include "metrics.h"

/* For "%.*s": a request path without its query string. */
#define PATH_ARG(p) (int)strcspn((p), "?"), (p)

void matrix_set_err(struct matrix *m, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(m->errstr, sizeof(m->errstr), fmt, ap);
	va_end(ap);
}

int matrix_stopping(struct matrix *m, int long_poll)
{
	if (!m->stop || !*m->stop)
		return 0;
	if (!m->stop_at)
		m->stop_at = clock_mono_ms();
	return long_poll || clock_mono_ms() - m->stop_at >= MATRIX_STOP_GRACE_MS;
}

int matrix_nap(struct matrix *m, long long ms, int long_poll)
{
	long long end = clock_mono_ms() + ms, left;
	struct timespec ts;

	while ((left = end - clock_mono_ms()) > 0) {
		if (matrix_stopping(m, long_poll))
			return 1;
		if (left > MATRIX_POLL_MS)
			left = MATRIX_POLL_MS;
		ts.tv_sec = 0;
		ts.tv_nsec = (long)left * 1000000L;
		nanosleep(&ts, NULL);
	}
	return matrix_stopping(m, long_poll);
}

enum matrix_fail matrix_fail_kind(long status, int curl_code)
{
	if (status != 0)
		return MATRIX_FAIL_SERVER;
	switch (curl_code) {
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_COULDNT_RESOLVE_HOST: /* curl cannot tell a lasting failure;
	                                  * at start-up that one is fatal anyway */
	case CURLE_COULDNT_CONNECT:      /* refused: nothing listens yet */
	case CURLE_GOT_NOTHING:          /* closed with no answer: going down */
	case CURLE_SEND_ERROR:           /* reset */
	case CURLE_RECV_ERROR:
	case CURLE_PARTIAL_FILE: /* cut in the middle of an answer */
		return MATRIX_FAIL_CONNECT;
	default:
		/* a timeout is a server that accepted and did not answer, TLS
		 * is one that answered wrongly: neither is helped by hurrying */
		return MATRIX_FAIL_SERVER;
	}
}

long long matrix_backoff_ms(enum matrix_fail kind, int attempt, unsigned rnd, long max_ms)
{
	long long cap = max_ms > 0 ? max_ms : MATRIX_BACKOFF_MAX_MS;

	if (kind == MATRIX_FAIL_CONNECT && cap > MATRIX_CONNECT_WAIT_MAX_MS)
		cap = MATRIX_CONNECT_WAIT_MAX_MS;
	return backoff_delay_ms(MATRIX_BACKOFF_BASE_MS, cap, attempt > 0 ? (unsigned)attempt : 0,
				rnd);
}

long long matrix_backoff_draw(struct matrix *m, enum matrix_fail kind, int attempt)
{
	/* the high half: xorshift's low bits are its weakest */
	return matrix_backoff_ms(kind, attempt, (unsigned)(backoff_rand(&m->rng) >> 32),
				 m->backoff_max);
}

/* ---- one exchange ----------------------------------------------------- */

static size_t on_body(char *data, size_t size, size_t nmemb, void *userp)
{
	struct matrix_resp *r = userp;
	size_t n = size * nmemb, ncap;
	char *nb;

	if (r->len + n > r->max) {
		r->over = 1;
		return 0; /* curl aborts with CURLE_WRITE_ERROR */
	}
	if (r->len + n + 1 > r->cap) {
		ncap = r->cap ? r->cap : 4096;
		while (ncap < r->len + n + 1)
			ncap *= 2;
		nb = realloc(r->body, ncap);
		if (!nb)
			return 0;
		r->body = nb;
		r->cap = ncap;
	}
	memcpy(r->body + r->len, data, n);
	r->len += n;
	r->body[r->len] = '\0';
	return n;
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *userp)
{
	struct matrix_resp *r = userp;
	size_t n = size * nmemb;
	char val[128], *end;
	long long secs;
	time_t when;

	if (n > 12 && n < 12 + sizeof(val) && !strncasecmp(data, "Retry-After:", 12)) {
		memcpy(val, data + 12, n - 12);
		val[n - 12] = '\0';
		val[strcspn(val, "\r\n")] = '\0';
		errno = 0;
		secs = strtoll(val, &end, 10);
		if (end != val && errno == 0 && secs >= 0 && *(end + strspn(end, " ")) == '\0') {
			r->retry_after_ms = secs > MATRIX_RETRY_AFTER_MAX_MS / 1000
						    ? MATRIX_RETRY_AFTER_MAX_MS
						    : secs * 1000;
		} else {
			when = curl_getdate(val + strspn(val, " "), NULL);
			if (when != (time_t)-1)
				r->retry_after_ms = when * 1000LL > clock_wall_ms()
							    ? when * 1000LL - clock_wall_ms()
							    : 0;
		}
	}
	return n;
}

static void resp_reset(struct matrix_resp *r, size_t max)
{
	free(r->body);
	memset(r, 0, sizeof(*r));
	r->max = max;
	r->retry_after_ms = -1;
}

void matrix_resp_release(struct matrix_resp *r)
{
	free(r->body);
	memset(r, 0, sizeof(*r));
}

/* easy_setup sets x's handle up for one exchange: TLS verified, no
 * redirects, the caps and timeouts, the body and headers (the token, if
 * any, into auth, which the caller wipes). x->hdrs is freed when it ends. */
static enum err easy_setup(struct matrix *m, struct matrix_xfer *x, const char *url,
			   const char *method, const char *body, long timeout_ms, int flags,
			   struct matrix_resp *r, char *auth, size_t authlen)
{
	struct curl_slist *h;
	CURL *c = x->easy;

	curl_easy_reset(c);
	curl_easy_setopt(c, CURLOPT_PRIVATE, (void *)x);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
	/* Debian's libcurl has both a CA bundle and a CA path compiled in; the
	 * bundle is read whole into every handle (about 1 MB resident), the
	 * path (/etc/ssl/certs, hashed) is looked up one certificate at a
	 * time. Still verified, against the same system store. */
	curl_easy_setopt(c, CURLOPT_CAINFO, (char *)NULL);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms < 10000 ? timeout_ms : 10000L);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "faqbot/" FAQBOT_VERSION);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
	curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");
	if (!(flags & MATRIX_CALL_NO_AUTH) && m->token[0]) {
		snprintf(auth, authlen, "Authorization: Bearer %s", m->token);
		h = curl_slist_append(x->hdrs, auth);
		if (!h)
			return ERR_NOMEM;
		x->hdrs = h;
	}
	if (body) {
		/* "Expect:" turns off 100-continue, a round trip for nothing */
		h = curl_slist_append(x->hdrs, "Expect:");
		if (h)
			x->hdrs = h;
		h = h ? curl_slist_append(x->hdrs, "Content-Type: application/json") : NULL;
		if (!h)
			return ERR_NOMEM;
		x->hdrs = h;
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
	}
	if (strcmp(method, "GET") && strcmp(method, "POST"))
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	else if (!strcmp(method, "POST") && !body)
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, "{}");
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, x->hdrs);
	return ERR_OK;
}

/* out_of_multi takes x's handle out of the multi handle and frees its
 * headers (the token's copy among them). */
static void out_of_multi(struct matrix *m, struct matrix_xfer *x)
{
	curl_multi_remove_handle(m->multi, x->easy);
	curl_easy_setopt(x->easy, CURLOPT_HTTPHEADER, NULL);
	curl_slist_free_all(x->hdrs);
	x->hdrs = NULL;
	x->busy = 0;
	m->n_busy--;
}

/* ended takes the outcome of an exchange curl says is over into x->r and
 * marks it done for its owner. */
static void ended(struct matrix *m, struct matrix_xfer *x, CURLcode cc)
{
	struct matrix_resp *r = x->r;

	r->cc = cc;
	if (cc == CURLE_OK && !r->stopped)
		curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &r->status);
	else
		r->status = 0;
	out_of_multi(m, x);
	x->done = 1;
}

/* ---- the multi socket interface ----------------------------------------
 *
 * curl names the sockets it wants watched (on_socket) and when its timer
 * is due (on_timer); the loop polls them beside every other network's
 * (matrix_multi_want), and what is ready is handed back with
 * curl_multi_socket_action (matrix_multi_ready), which moves only the
 * exchanges that can move, never waits. */

static int on_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *sockp)
{
	struct matrix *m = userp;
	size_t i;

	(void)easy;
	(void)sockp;
	for (i = 0; i < m->n_socks && m->socks[i].fd != fd; i++)
		;
	if (what == CURL_POLL_REMOVE) {
		if (i < m->n_socks)
			m->socks[i] = m->socks[--m->n_socks];
		return 0;
	}
	if (i == m->n_socks) {
		if (m->n_socks == MATRIX_SOCKS_MAX) {
			/* far above the exchanges there can be: its exchange
			 * ends by its timeout, and says so */
			log_warn("curl's socket %d not watched: %d already are", (int)fd,
				 MATRIX_SOCKS_MAX);
			return 0;
		}
		m->n_socks++;
	}
	m->socks[i].fd = fd;
	m->socks[i].what = what;
	return 0;
}

static int on_timer(CURLM *multi, long ms, void *userp)
{
	struct matrix *m = userp;

	(void)multi;
	m->curl_at = ms < 0 ? -1 : clock_mono_ms() + ms;
	return 0;
}

enum err matrix_multi_init(struct matrix *m)
{
	m->curl_at = -1;
	m->multi = curl_multi_init();
	if (!m->multi)
		return ERR_NOMEM;
	if (curl_multi_setopt(m->multi, CURLMOPT_SOCKETFUNCTION, on_socket) != CURLM_OK ||
	    curl_multi_setopt(m->multi, CURLMOPT_SOCKETDATA, m) != CURLM_OK ||
	    curl_multi_setopt(m->multi, CURLMOPT_TIMERFUNCTION, on_timer) != CURLM_OK ||
	    curl_multi_setopt(m->multi, CURLMOPT_TIMERDATA, m) != CURLM_OK)
		return ERR_IO;
	return ERR_OK;
}

/* take_ends marks every exchange curl says is over done, for its owner. */
static void take_ends(struct matrix *m)
{
	struct matrix_xfer *x;
	CURLMsg *msg;
	CURLcode cc;
	CURL *easy;
	int left;

	while ((msg = curl_multi_info_read(m->multi, &left))) {
		if (msg->msg != CURLMSG_DONE)
			continue;
		/* msg is curl's until the handle leaves the multi handle */
		easy = msg->easy_handle;
		cc = msg->data.result;
		x = NULL;
		curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&x);
		if (x && x->busy && x->easy == easy)
			ended(m, x, cc);
	}
}

/* ready_now hands curl every watched socket that is ready now (a poll
 * that does not wait): a batch's pumps between its messages move the
 * sends on as curl_multi_perform did, so a room's next reply need not
 * wait for the loop's next turn. */
static void ready_now(struct matrix *m)
{
	struct pollfd p[MATRIX_SOCKS_MAX];
	size_t i, n = m->n_socks;
	int running = 0, ev;

	for (i = 0; i < n; i++) {
		p[i].fd = m->socks[i].fd;
		p[i].events = (short)((m->socks[i].what & CURL_POLL_IN ? POLLIN : 0) |
				      (m->socks[i].what & CURL_POLL_OUT ? POLLOUT : 0));
		p[i].revents = 0;
	}
	if (!n || poll(p, (nfds_t)n, 0) <= 0)
		return;
	for (i = 0; i < n; i++) {
		if (!p[i].revents)
			continue;
		ev = (p[i].revents & POLLIN ? CURL_CSELECT_IN : 0) |
		     (p[i].revents & POLLOUT ? CURL_CSELECT_OUT : 0) |
		     (p[i].revents & (POLLERR | POLLHUP | POLLNVAL) ? CURL_CSELECT_ERR : 0);
		curl_multi_socket_action(m->multi, p[i].fd, ev, &running);
	}
}

void matrix_pump(struct matrix *m)
{
	curl_socket_t fds[MATRIX_SOCKS_MAX];
	long long now = clock_mono_ms();
	int running = 0;
	size_t i, n;

	if (!m->n_busy)
		return;
	ready_now(m);
	if (m->socks_over) {
		/* sockets the loop could not poll (over TR_FDS_MAX): curl
		 * looks at each itself (ev 0), on a short timer */
		m->socks_over = 0;
		n = m->n_socks;
		for (i = 0; i < n; i++)
			fds[i] = m->socks[i].fd;
		for (i = 0; i < n; i++)
			curl_multi_socket_action(m->multi, fds[i], 0, &running);
	}
	if (m->curl_at >= 0 && now >= m->curl_at) {
		curl_multi_socket_action(m->multi, CURL_SOCKET_TIMEOUT, 0, &running);
		/* curl's clock is finer than ours: a timer a fraction of a ms
		 * away is not due for it yet, and it says nothing new */
		if (m->curl_at >= 0 && m->curl_at <= now)
			m->curl_at = now + 1;
	}
	take_ends(m);
}

void matrix_multi_ready(struct matrix *m, const struct tr_wait *w)
{
	int running = 0, ev;
	size_t i, j;

	for (i = 0; i < w->n && m->n_busy; i++) {
		if (!w->fd[i].revents)
			continue;
		for (j = 0; j < m->n_socks && m->socks[j].fd != w->fd[i].fd; j++)
			;
		if (j == m->n_socks)
			continue; /* another's (the listener's), or gone meanwhile */
		ev = (w->fd[i].revents & POLLIN ? CURL_CSELECT_IN : 0) |
		     (w->fd[i].revents & POLLOUT ? CURL_CSELECT_OUT : 0) |
		     (w->fd[i].revents & (POLLERR | POLLHUP | POLLNVAL) ? CURL_CSELECT_ERR : 0);
		curl_multi_socket_action(m->multi, w->fd[i].fd, ev, &running);
	}
	matrix_pump(m);
}

void matrix_multi_wait(struct matrix *m, long long ms)
{
	struct tr_wait w;
	long long now = clock_mono_ms(), wait = ms;

	memset(&w, 0, sizeof(w));
	w.at_ms = -1;
	matrix_multi_want(m, &w);
	if (w.at_ms >= 0 && w.at_ms - now < wait)
		wait = w.at_ms > now ? w.at_ms - now : 0;
	if (poll(w.fd, (nfds_t)w.n, (int)wait) < 0)
		memset(w.fd, 0, sizeof(w.fd)); /* a signal: look again */
	matrix_multi_ready(m, &w);
}

enum err matrix_xfer_begin(struct matrix *m, struct matrix_xfer *x, const char *method,
			   const char *path, const char *body, int flags, struct matrix_resp *r)
{
	char url[MATRIX_URL_MAX], auth[MATRIX_TOKEN_MAX + 32] = "";
	long timeout = m->req_timeout;
	enum err e;

	if (flags & MATRIX_CALL_LONG_POLL)
		timeout += m->sync_timeout;
	if ((flags & MATRIX_CALL_QUICK) && timeout > MATRIX_QUICK_TIMEOUT_MS)
		timeout = MATRIX_QUICK_TIMEOUT_MS;
	resp_reset(r, m->max_body);
	x->r = r;
	x->done = 0;
	if ((size_t)snprintf(url, sizeof(url), "%s%s", m->hs, path) >= sizeof(url))
		return ERR_LIMIT;
	if (!x->easy && !(x->easy = curl_easy_init()))
		return ERR_NOMEM;
	e = easy_setup(m, x, url, method, body, timeout, flags, r, auth, sizeof(auth));
	memset(auth, 0, sizeof(auth)); /* the token, off the stack (the list has a copy) */
	if (e == ERR_OK && curl_multi_add_handle(m->multi, x->easy) != CURLM_OK)
		e = ERR_IO;
	if (e != ERR_OK) {
		curl_easy_setopt(x->easy, CURLOPT_HTTPHEADER, NULL);
		curl_slist_free_all(x->hdrs);
		x->hdrs = NULL;
		return e;
	}
	x->busy = 1;
	m->n_busy++;
	return ERR_OK;
}

void matrix_xfer_abort(struct matrix *m, struct matrix_xfer *x)
{
	if (!x->busy)
		return;
	x->r->stopped = 1;
	x->r->status = 0;
	x->r->cc = CURLE_ABORTED_BY_CALLBACK;
	out_of_multi(m, x);
	x->done = 0;
}

void matrix_xfer_free(struct matrix *m, struct matrix_xfer *x)
{
	if (x->busy && m->multi)
		matrix_xfer_abort(m, x);
	if (x->easy)
		curl_easy_cleanup(x->easy);
	memset(x, 0, sizeof(*x));
}

/* http does one exchange, blocking, on the call's own handle: the others
 * in the multi handle move on too, and wait for their owners when they
 * end. It fails only for local reasons; any network outcome is in r
 * (status 0, cc, stopped). */
static enum err http(struct matrix *m, const char *method, const char *path, const char *body,
		     int flags, struct matrix_resp *r)
{
	struct matrix_xfer *x = &m->call_x;
	enum err e = matrix_xfer_begin(m, x, method, path, body, flags, r);

	if (e != ERR_OK)
		return e;
	for (;;) {
		matrix_pump(m);
		if (x->done)
			break;
		if (matrix_stopping(m, flags & MATRIX_CALL_LONG_POLL)) {
			matrix_xfer_abort(m, x);
			break;
		}
		matrix_multi_wait(m, MATRIX_POLL_MS);
	}
	x->done = 0;
	return ERR_OK;
}

void matrix_multi_want(struct matrix *m, struct tr_wait *w)
{
	long long at = m->curl_at;
	size_t i;

	if (!m->n_busy)
		return;
	for (i = 0; i < m->n_socks; i++) {
		if (w->n >= TR_FDS_MAX) {
			m->socks_over = 1; /* not polled: look again soon instead */
			break;
		}
		w->fd[w->n].fd = m->socks[i].fd;
		w->fd[w->n].events = (short)((m->socks[i].what & CURL_POLL_IN ? POLLIN : 0) |
					     (m->socks[i].what & CURL_POLL_OUT ? POLLOUT : 0));
		w->fd[w->n].revents = 0;
		w->n++;
	}
	if (m->socks_over) {
		long long soon = clock_mono_ms() + MATRIX_POLL_MS;

		at = at < 0 || soon < at ? soon : at;
	}
	if (at >= 0 && (w->at_ms < 0 || at < w->at_ms))
		w->at_ms = at;
}

/* ---- the retry policy ------------------------------------------------- */

/* retry_wait sorts a failed exchange that is not a 401: MATRIX_V_RETRY and
 * *wait, how long to wait before the next try, or what else it is. */
static enum matrix_verdict retry_wait(struct matrix *m, const char *method, const char *path,
				      int flags, const struct matrix_resp *r,
				      const struct mx_error *me, int attempt, long long *wait)
{
	if (r->status == 429) {
		*wait = r->retry_after_ms >= 0 ? r->retry_after_ms : me->retry_after_ms;
		if (*wait < 0)
			*wait = matrix_backoff_draw(m, MATRIX_FAIL_SERVER, attempt);
		if (*wait > MATRIX_RETRY_AFTER_MAX_MS)
			*wait = MATRIX_RETRY_AFTER_MAX_MS;
		log_warn("rate limited on %s %.*s, retrying in %lld ms", method, PATH_ARG(path),
			 *wait);
		metrics_inc(M_RETRY_RATE_LIMITED);
		return MATRIX_V_RETRY;
	}
	if (r->status != 0 && r->status < 500) {
		if (flags & MATRIX_CALL_ONCE)
			matrix_set_err(m, "%s %.*s: HTTP %ld %s %s", method, PATH_ARG(path),
				       r->status, me->errcode, me->error);
		return MATRIX_V_REFUSED;
	}
	*wait = matrix_backoff_draw(m, matrix_fail_kind(r->status, (int)r->cc), attempt);
	log_warn("%s %.*s failed (%s), retrying in %lld ms", method, PATH_ARG(path),
		 r->status ? "server error"
		 : r->over ? "response over max_body"
			   : curl_easy_strerror(r->cc),
		 *wait);
	if (flags & MATRIX_CALL_ONCE) {
		matrix_set_err(m, "the homeserver at %s answered HTTP %ld", m->hs, r->status);
		return MATRIX_V_FAILED;
	}
	metrics_inc(r->status ? M_RETRY_SERVER_ERROR : M_RETRY_NETWORK);
	return MATRIX_V_RETRY;
}

enum matrix_verdict matrix_judge(struct matrix *m, const char *method, const char *path, int flags,
				 const struct matrix_resp *r, int *attempt, long long *wait)
{
	enum matrix_verdict v;
	struct mx_error me;

	*wait = -1;
	if (r->stopped)
		return MATRIX_V_STOPPED;
	if (r->status >= 200 && r->status < 300)
		return MATRIX_V_DONE;
	if (r->status == 0 && (flags & MATRIX_CALL_ONCE)) {
		matrix_set_err(m, "cannot reach the homeserver at %s: %s", m->hs,
			       r->over ? "response too large" : curl_easy_strerror(r->cc));
		return MATRIX_V_FAILED;
	}
	if (r->over && (flags & MATRIX_CALL_SYNC))
		return MATRIX_V_OVER;
	mx_error_parse(r->body ? r->body : "", r->len, &me);
	if (r->status == 401 && (flags & MATRIX_CALL_UIA) &&
	    strcmp(me.errcode, "M_UNKNOWN_TOKEN") && strcmp(me.errcode, "M_MISSING_TOKEN"))
		return MATRIX_V_REFUSED; /* an auth challenge: its caller answers it */
	if (r->status == 401 && !(flags & MATRIX_CALL_NO_AUTH)) {
		/* any 401 is a refused token (the spec has M_UNKNOWN_TOKEN and
		 * M_MISSING_TOKEN; a proxy in front may say it with no body),
		 * and a server error's backoff would never get the bot back in */
		log_warn("token refused (HTTP 401 %s%s)",
			 me.errcode[0] ? me.errcode : "with no errcode",
			 me.soft_logout ? ", soft logout" : "");
		metrics_inc(M_RETRY_AUTH);
		return MATRIX_V_AUTH;
	}
	v = retry_wait(m, method, path, flags, r, &me, *attempt, wait);
	if (v == MATRIX_V_RETRY) {
		m->stats.retries++;
		(*attempt)++;
	}
	return v;
}

/* relogin answers a 401 to a blocking call: one fresh login a call, on
 * the spot (start-up: nothing else is being served yet). ERR_OK: try
 * again at once. */
static enum err relogin(struct matrix *m, int *relogins)
{
	if (!(*relogins)++ && matrix_login(m, 0) == ERR_OK) {
		metrics_inc(M_RECONNECT_MATRIX);
		return ERR_OK;
	}
	if (!m->errstr[0] || !m->fatal)
		matrix_set_err(m,
			       "the homeserver %s refused the access token and logging in "
			       "again failed",
			       m->hs);
	m->fatal = 1;
	return ERR_INVALID;
}

enum err matrix_call(struct matrix *m, const char *method, const char *path, const char *body,
		     int flags, struct matrix_resp *r)
{
	int attempt = 0, relogins = 0, quick = flags & MATRIX_CALL_QUICK;
	long long wait;
	enum err e;

	for (;;) {
		e = http(m, method, path, body, flags, r);
		if (e != ERR_OK)
			return e;
		switch (matrix_judge(m, method, path, flags, r, &attempt, &wait)) {
		case MATRIX_V_DONE:
			return ERR_OK;
		case MATRIX_V_REFUSED:
			return ERR_INVALID;
		case MATRIX_V_OVER:
			return ERR_LIMIT;
		case MATRIX_V_STOPPED:
		case MATRIX_V_FAILED:
			return ERR_IO;
		case MATRIX_V_AUTH:
			if (quick) {
				matrix_login_want(m);
				return ERR_IO;
			}
			e = relogin(m, &relogins);
			if (e != ERR_OK)
				return e;
			break;
		case MATRIX_V_RETRY:
			if (quick)
				return ERR_IO;
			if (wait > 0 && matrix_nap(m, wait, flags & MATRIX_CALL_LONG_POLL))
				return ERR_IO;
			break;
		}
	}
}
