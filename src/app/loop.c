/* loop.c -- the one event loop (see loop.h).
 *
 * A turn: want (each transport's descriptors and deadline, the wake fd,
 * the tick's times), one poll of at most LOOP_SLICE_MS, then the tick if
 * due (before the transports, so a saved FAQ edit is live for the next
 * message), then each transport whose descriptors are ready or whose
 * deadline came, then the alerts a crisis left for the other networks,
 * then the health marks. The tick and the alerts run between transports'
 * turns, never inside one: no reply is in flight then, and the handler's
 * strings are not in use. */
#include "loop.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "health.h"
#include "log.h"
#include "metrics.h"
#include "strs.h"

#define LOOP_POLL_MAX (1 + LOOP_NETS_MAX * TR_FDS_MAX)

struct loop;

struct loop_net {
	const struct transport_ops *ops;
	void *t;
	struct loop *l;
	const char *mark_dir, *mark_file;
	int alerts;
	int running;
	long long marked_ms, marked_alive; /* the last mark, and the life it told */
	long marked_txns;                  /* and the transactions waiting it told */
	int mark_warned;
	struct tr_wait w;
	size_t first; /* its first entry in the poll array */
};

struct loop {
	struct loop_config c;
	struct loop_net net[LOOP_NETS_MAX];
	size_t n;
	long long tick_ms; /* the last tick */
	int flag_armed;    /* *wake may wake a tick */
	int fd_armed;      /* wake_fd may wake a tick */
	unsigned long ticks;
	struct {
		char *text;
		const struct loop_net *from;
	} alerts[LOOP_ALERTS_MAX];
	size_t n_alerts;
	char errstr[LOOP_ERRSTR_MAX];
};

enum err loop_new(const struct loop_config *c, struct loop **out)
{
	struct loop *l = calloc(1, sizeof(*l));

	*out = l;
	if (!l)
		return ERR_NOMEM;
	l->c = *c;
	if (!l->c.tick.fn)
		l->c.tick.wake_fd = -1;
	l->flag_armed = l->fd_armed = 1;
	return ERR_OK;
}

enum err loop_add(struct loop *l, const struct transport_ops *ops, void *t, const char *mark_dir,
		  const char *mark_file, int alerts)
{
	struct loop_net *n;

	if (l->n >= LOOP_NETS_MAX)
		return ERR_LIMIT;
	n = &l->net[l->n++];
	memset(n, 0, sizeof(*n));
	n->ops = ops;
	n->t = t;
	n->l = l;
	n->mark_dir = mark_dir;
	n->mark_file = mark_file ? mark_file : HEALTH_STATUS_FILE;
	n->alerts = alerts;
	return ERR_OK;
}

const char *loop_errstr(const struct loop *l)
{
	return l ? l->errstr : "";
}

unsigned long loop_ticks(const struct loop *l)
{
	return l->ticks;
}

void loop_free(struct loop *l)
{
	size_t i;

	if (!l)
		return;
	for (i = 0; i < l->n_alerts; i++)
		free(l->alerts[i].text);
	free(l);
}

/* ---- a crisis told to the other networks ------------------------------ */

/* handle is the handler every transport gets: the core's, and then, for a
 * crisis, an alert kept for the other networks' moderators: which network,
 * room and member (as the network names them), never the words. */
static enum err handle(void *ctx, const struct tr_message *m, struct tr_reply *out)
{
	struct loop_net *n = ctx;
	struct loop *l = n->l;
	char text[1024];
	enum err e;
	size_t i;
	int others = 0;

	e = l->c.handle(l->c.ctx, m, out);
	if (e != ERR_OK || !out->alert_moderators)
		return e;
	for (i = 0; i < l->n; i++)
		others |= &l->net[i] != n && l->net[i].alerts && l->net[i].running;
	if (!others || l->n_alerts >= LOOP_ALERTS_MAX)
		return e;
	snprintf(text, sizeof(text),
		 "faqbot: a member may be in crisis on %s: %.200s in %.200s. They were "
		 "given the crisis lines, and the moderators there were alerted.",
		 n->ops->name, m->sender ? m->sender : "someone", m->room ? m->room : "a room");
	l->alerts[l->n_alerts].text = strs_dup(text);
	l->alerts[l->n_alerts].from = n;
	if (l->alerts[l->n_alerts].text)
		l->n_alerts++;
	return e;
}

/* send_alerts posts the waiting alerts to every network that takes them
 * but the one each came from. */
static void send_alerts(struct loop *l)
{
	size_t i, j;

	for (i = 0; i < l->n_alerts; i++) {
		for (j = 0; j < l->n; j++) {
			struct loop_net *n = &l->net[j];

			if (n->running && n->alerts && n != l->alerts[i].from)
				n->ops->notice(n->t, l->alerts[i].text);
		}
		free(l->alerts[i].text);
		l->alerts[i].text = NULL;
	}
	l->n_alerts = 0;
}

/* ---- the core's tick ------------------------------------------------- */

static int fd_readable(int fd)
{
	struct pollfd p = {fd, POLLIN, 0};

	return poll(&p, 1, 0) > 0 && (p.revents & POLLIN);
}

/* tick runs the core's tick and hands its notice to every network. A
 * wake still set after it is disarmed until a timed tick finds it clear. */
static void tick(struct loop *l, int woken)
{
	struct tr_notice note = {0};
	const struct tr_tick *t = &l->c.tick;
	enum err e;
	size_t i;

	l->tick_ms = clock_mono_ms();
	l->ticks++;
	e = t->fn(l->c.ctx, &note);
	if (e != ERR_OK)
		log_warn("tick failed: %s", err_str(e));
	else if (note.mod_text)
		for (i = 0; i < l->n; i++)
			if (l->net[i].running)
				l->net[i].ops->notice(l->net[i].t, note.mod_text);
	if (t->wake)
		l->flag_armed = !*t->wake || !woken;
	if (t->wake_fd >= 0)
		l->fd_armed = !fd_readable(t->wake_fd) || !woken;
}

/* tick_due: the tick's own deadline, clock_mono_ms() */
static long long tick_due(const struct loop *l)
{
	long long at = l->tick_ms + TR_TICK_MS, next;

	if (l->c.tick_next) {
		next = l->c.tick_next(l->c.ctx);
		if (next >= 0 && next < at)
			at = next;
	}
	return at;
}

/* ---- marks ------------------------------------------------------------ */

/* mark writes a network's health mark when it showed life since the last
 * one, at most every HEALTH_MARK_EVERY_S (each costs two fsyncs). A
 * failure is logged once: the probe then calls the bot stale. */
/* gauge shows a network's health in the metrics (metrics.h): when Matrix
 * last synced, in wall seconds, and whether IRC is registered. */
static void gauge(const struct loop_net *n, const struct tr_health *h, long long now)
{
	if (!strcmp(n->ops->name, "matrix") && h->alive_ms)
		metrics_set(G_MATRIX_LAST_SYNC, (long long)time(NULL) - (now - h->alive_ms) / 1000);
	else if (!strcmp(n->ops->name, "irc"))
		metrics_set(G_IRC_REGISTERED, n->running && h->alive_ms ? 1 : 0);
}

static void mark(struct loop_net *n, long long now)
{
	struct tr_health h = {0};
	struct health_lag lag;
	char path[4096];

	if (!n->running && n->ops->health)
		gauge(n, &h, now);
	if (!n->mark_dir || !n->running)
		return;
	h.behind_ms = -1; /* a transport that says nothing of it: no lag line */
	h.txns = -1;
	n->ops->health(n->t, &h);
	gauge(n, &h, now);
	/* marked when it proved alive again, or when its transactions waiting
	 * changed (a homeserver retrying one the bot cannot acknowledge shows
	 * in `faqbot health` before the next proof of life); the time written
	 * is always the last proof's */
	if (!h.alive_ms || (h.alive_ms <= n->marked_alive && h.txns == n->marked_txns) ||
	    (n->marked_ms && now - n->marked_ms < HEALTH_MARK_EVERY_S * 1000LL))
		return;
	n->marked_ms = now;
	n->marked_alive = h.alive_ms;
	n->marked_txns = h.txns;
	lag.behind_ms = h.behind_ms < 0 ? 0 : h.behind_ms; /* with txns: none handled yet */
	lag.sends = h.sends;
	lag.send_age_ms = h.send_age_ms;
	lag.txns = h.txns;
	lag.txn_age_ms = h.txn_age_ms;
	if (health_mark_lag(n->mark_dir, n->mark_file, time(NULL) - (now - h.alive_ms) / 1000,
			    h.behind_ms >= 0 || h.txns >= 0 ? &lag : NULL) != ERR_OK) {
		snprintf(path, sizeof(path), "%s/%s", n->mark_dir, n->mark_file);
		if (!n->mark_warned)
			log_warn("%s: cannot write the health mark %s", n->ops->name, path);
		n->mark_warned = 1;
		return;
	}
	n->mark_warned = 0;
}

/* ---- the loop --------------------------------------------------------- */

static void stop_all(struct loop *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		if (l->net[i].running) {
			l->net[i].ops->stop(l->net[i].t);
			l->net[i].running = 0;
		}
}

static enum err fail(struct loop *l, struct loop_net *n, enum err e)
{
	snprintf(l->errstr, sizeof(l->errstr), "%s", n->ops->errstr(n->t));
	n->running = 0;
	stop_all(l);
	return e;
}

/* gather fills p with every descriptor to poll and returns how many;
 * *timeout gets the poll's timeout. */
static nfds_t gather(struct loop *l, struct pollfd *p, int *timeout, int *wake_i)
{
	long long now = clock_mono_ms(), at = now + LOOP_SLICE_MS;
	nfds_t np = 0;
	size_t i, j;

	*wake_i = -1;
	if (l->c.tick.fn) {
		long long due = tick_due(l);

		if (due < at)
			at = due;
		if (l->c.tick.wake_fd >= 0 && l->fd_armed && now - l->tick_ms >= LOOP_WAKE_GAP_MS) {
			*wake_i = (int)np;
			p[np].fd = l->c.tick.wake_fd;
			p[np].events = POLLIN;
			p[np++].revents = 0;
		}
	}
	for (i = 0; i < l->n; i++) {
		struct loop_net *n = &l->net[i];

		if (!n->running)
			continue;
		memset(&n->w, 0, sizeof(n->w));
		n->w.at_ms = -1;
		n->ops->want(n->t, &n->w);
		n->first = np;
		for (j = 0; j < n->w.n && j < TR_FDS_MAX; j++) {
			p[np] = n->w.fd[j];
			p[np++].revents = 0;
		}
		if (n->w.at_ms >= 0 && n->w.at_ms < at)
			at = n->w.at_ms;
	}
	*timeout = at > now ? (int)(at - now) : 0;
	return np;
}

/* turn is one pass: the poll, the tick, the transports, the alerts, the
 * marks. ERR_OK to go on, else a transport failed (l->errstr). */
static enum err turn(struct loop *l, int *live)
{
	struct pollfd p[LOOP_POLL_MAX];
	int timeout, wake_i, woken = 0, rc;
	nfds_t np = gather(l, p, &timeout, &wake_i);
	long long now;
	size_t i, j;

	rc = poll(p, np, timeout);
	if (rc < 0 && errno != EINTR)
		log_warn("poll: %s", strerror(errno));
	now = clock_mono_ms();
	if (rc > 0 && wake_i >= 0 && (p[wake_i].revents & POLLNVAL)) {
		log_warn("the tick's wake fd %d is not open; wakes by fd are off",
			 l->c.tick.wake_fd);
		l->c.tick.wake_fd = -1;
	} else if (rc > 0 && wake_i >= 0 && p[wake_i].revents) {
		woken = 1;
	}
	if (l->c.tick.fn && l->c.tick.wake && *l->c.tick.wake && l->flag_armed &&
	    now - l->tick_ms >= LOOP_WAKE_GAP_MS)
		woken = 1;
	if (l->c.tick.fn && (woken || now >= tick_due(l)))
		tick(l, woken);
	*live = 0;
	for (i = 0; i < l->n; i++) {
		struct loop_net *n = &l->net[i];
		int go = n->w.at_ms >= 0 && clock_mono_ms() >= n->w.at_ms;
		enum tr_state st;

		if (!n->running)
			continue;
		for (j = 0; j < n->w.n && j < TR_FDS_MAX; j++) {
			n->w.fd[j].revents = rc > 0 ? p[n->first + j].revents : 0;
			go |= n->w.fd[j].revents != 0;
		}
		if (go && !(l->c.stop && *l->c.stop)) {
			st = n->ops->ready(n->t, &n->w);
			if (st == TR_FAILED)
				return fail(l, n, ERR_INVALID);
			if (st == TR_DONE)
				n->running = 0;
		}
		*live += n->running;
	}
	if (l->n_alerts)
		send_alerts(l);
	for (i = 0; i < l->n; i++)
		mark(&l->net[i], now);
	return ERR_OK;
}

enum err loop_run(struct loop *l)
{
	enum err e;
	size_t i;
	int live = 1;

	l->errstr[0] = '\0';
	for (i = 0; i < l->n; i++)
		if (l->net[i].mark_dir) /* the last run's mark says nothing of this one */
			health_clear_file(l->net[i].mark_dir, l->net[i].mark_file);
	for (i = 0; i < l->n; i++) {
		struct loop_net *n = &l->net[i];

		if (l->c.stop && *l->c.stop)
			break;
		e = n->ops->start(n->t, handle, n, l->c.stop);
		if (e != ERR_OK)
			return fail(l, n, e);
		n->running = 1;
	}
	l->tick_ms = 0; /* the first turn ticks: the core may have work already */
	while (live && !(l->c.stop && *l->c.stop)) {
		e = turn(l, &live);
		if (e != ERR_OK)
			return e;
	}
	stop_all(l);
	return ERR_OK;
}
