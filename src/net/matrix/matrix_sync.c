/* matrix_sync.c -- one /sync of the Matrix transport (see matrix_int.h):
 * the filter, the request (a long poll once the bot has a position),
 * reading the batch (mx_sync_parse), acting on it in order (rooms and
 * memberships here and in matrix_rooms, messages in matrix_reply, room
 * keys and encrypted messages in matrix_e2ee), then,
 * and only then, saving `since` and noting the sign of life the loop marks
 * for `faqbot health`: a crash in between
 * replays the batch and the transaction ids keep it from showing. A batch
 * that cannot be read is asked for again, then skipped with a notice to
 * the moderators (unreadable). */
#include "matrix_int.h"

#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "metrics.h"
#include "mx_body.h"
#include "mx_html.h"
#include "state.h"
#include "strs.h"

enum err matrix_make_filter(struct matrix *m)
{
	char path[MATRIX_URL_MAX], *body = NULL;
	struct matrix_resp r = {0};
	enum err e;

	e = mx_filter_json(m->timeline_limit, &body);
	if (e == ERR_OK)
		e = mx_path(path, sizeof(path), MATRIX_API "/user/%s/filter", m->user_id);
	if (e == ERR_OK)
		e = matrix_call(m, "POST", path, body, 0, &r);
	if (e == ERR_OK)
		e = mx_field_string(r.body, r.len, "filter_id", m->filter_id, sizeof(m->filter_id));
	if (e != ERR_OK && e != ERR_IO && !m->fatal) {
		/* refused, or an answer with no usable id: each sync carries the
		 * filter itself instead (a longer URL, the same batches) */
		log_warn("the homeserver did not take the sync filter (%s); each sync "
			 "will carry it",
			 err_str(e));
		m->filter_id[0] = '\0';
		e = ERR_OK;
	}
	free(body);
	matrix_resp_release(&r);
	return e;
}

/* save_pos writes the position on disk: by the fsyncs' thread after the
 * batch's group files (matrix_disk.c says why that is safe), or here
 * when it has none. */
static enum err save_pos(struct matrix *m, const char *since)
{
	enum err e = matrix_disk_put(m, NULL, 0, since);

	if (e == ERR_INVALID)
		e = state_write(m->state_dir, MATRIX_SINCE_FILE, since, strlen(since), 0600);
	if (e != ERR_OK)
		matrix_set_err(m, "cannot save the sync position in %s: %s", m->state_dir,
			       err_str(e));
	return e;
}

/* save_since moves the position: in memory at once (the next /sync asks
 * from it), and on disk (save_pos). */
static enum err save_since(struct matrix *m, const char *since)
{
	enum err e;
	char *copy;

	if (m->since && !strcmp(m->since, since))
		return ERR_OK; /* an empty long poll: nothing moved */
	e = save_pos(m, since);
	if (e != ERR_OK)
		return e;
	copy = strs_dup(since);
	if (!copy)
		return ERR_NOMEM;
	free(m->since);
	m->since = copy;
	return ERR_OK;
}

/* unsaved_put moves the position in memory (the next sync asks from it)
 * and keeps it to be saved by matrix_sync_settle. Past
 * MATRIX_UNSAVED_MAX the newest kept is replaced: saved later, never
 * early. */
static enum err unsaved_put(struct matrix *m, const char *next_batch)
{
	char *since = strs_dup(next_batch), *prev = m->since ? strs_dup(m->since) : NULL;
	size_t k = m->n_unsaved;

	if (!since || (m->since && !prev)) {
		free(since);
		free(prev);
		return ERR_NOMEM;
	}
	if (k == MATRIX_UNSAVED_MAX) {
		k--;
		free(m->unsaved[k].since);
		free(prev); /* the position before the one it replaces stays */
		prev = m->unsaved[k].prev;
	} else {
		m->n_unsaved++;
	}
	m->unsaved[k].gen = m->batch_gen;
	m->unsaved[k].since = since;
	m->unsaved[k].prev = prev;
	free(m->since);
	m->since = strs_dup(since);
	return m->since ? ERR_OK : ERR_NOMEM;
}

/* unsaved_drop forgets the first n positions kept. */
static void unsaved_drop(struct matrix *m, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(m->unsaved[i].since);
		free(m->unsaved[i].prev);
	}
	memmove(m->unsaved, m->unsaved + n, (m->n_unsaved - n) * sizeof(m->unsaved[0]));
	m->n_unsaved -= n;
}

/* later sets the next sync's time: a backoff before asking again. */
static void later(struct matrix *m, long long ms)
{
	m->sync_at = clock_mono_ms() + ms;
}

/* unreadable decides about a /sync response that could not be read,
 * whose next_batch the scan found (s->unreadable). The first time, it is
 * asked for again after a backoff (*skip = 0): a glitch on the way loses
 * nothing. The MATRIX_UNREADABLE_ASKS-th time, it is skipped (*skip = 1):
 * its messages are lost, the log says so without any of their text, and
 * the moderators' room gets one notice (its transaction id from the
 * batch's since, so a replay after a crash posts it once). A next_batch
 * that goes nowhere (the since asked with) is never skipped to: that
 * would ask for the same batch at once, forever. ERR_IO: stopped. The
 * asking again is the loop's, at sync_at. */
static enum err unreadable(struct matrix *m, const struct mx_sync *s, const char *why, int *attempt,
			   int *skip)
{
	char txn[MX_TXN_MAX], key[MX_NEXT_BATCH_MAX + 16], when[32], text[512];
	struct tm tm;
	time_t t;

	*skip = 0;
	if (m->since && !strcmp(s->next_batch, m->since)) {
		log_warn("sync: unreadable response (%s) that goes nowhere; asking again", why);
		later(m, matrix_backoff_draw(m, MATRIX_FAIL_SERVER, (*attempt)++));
		return ERR_OK;
	}
	if (++m->unreadable_asks < MATRIX_UNREADABLE_ASKS) {
		log_warn("sync: unreadable response (%s); asking once more before "
			 "skipping it",
			 why);
		later(m, matrix_backoff_draw(m, MATRIX_FAIL_SERVER, (*attempt)++));
		return ERR_OK;
	}
	m->unreadable_asks = 0;
	m->stats.unreadable++;
	m->stats.skipped++;
	metrics_inc(M_MALFORMED_MATRIX);
	log_warn("sync: unreadable response (%s) skipped, %d times the same: the "
		 "messages in it are lost; going on from its next_batch",
		 why, MATRIX_UNREADABLE_ASKS);
	*skip = 1;
	t = time(NULL);
	if (!gmtime_r(&t, &tm) || !strftime(when, sizeof(when), "%Y-%m-%d %H:%M", &tm))
		snprintf(when, sizeof(when), "now");
	snprintf(text, sizeof(text),
		 "faqbot could not read a batch of messages from the homeserver and "
		 "had to skip it: messages sent around %s UTC may have gone "
		 "unanswered, a crisis among them. Please look through the rooms "
		 "for anything it missed.",
		 when);
	snprintf(key, sizeof(key), "%s%s",
		 m->since ? "since:" : "first:", m->since ? m->since : s->next_batch);
	if (mx_txn_skip(key, txn, sizeof(txn)) != ERR_OK)
		return ERR_OK;
	/* queued and journaled before since moves past the batch */
	return matrix_post_notice(m, text, txn, "skipped batch", NULL);
}

/* What a batch cost, for the log and `faqbot health` (report). */
struct batch_cost {
	size_t messages;     /* timeline events acted on or looked at */
	long long oldest_ts; /* the oldest one's origin_server_ts; 0: none */
	long long handle_ns; /* acting on them, CPU time (the core's part in
	                      * m->core_ns) */
	long long flush_ns;  /* making their sends' journal durable, once */
};

/* report tells how a batch went: how old its oldest event was once
 * handled (behind_ms), and, for a large or a late batch, one line of what
 * it cost: the CPU time of reading and of handling (the machine's other
 * work left out), of which the core's part, the sends' HTTP (done as they
 * go), the asks of a room's facts (its first message after a start),
 * the rest (reading, routing, queueing) an event, and the wall time of
 * the journal's one sync (the bench reads this line). */
static void report(struct matrix *m, const struct mx_sync *s, const struct batch_cost *c)
{
	long long now = clock_wall_ms();
	long long rest_ns = m->read_ns + c->handle_ns - m->core_ns - m->send_ns - m->ask_ns;
	long long behind = c->oldest_ts > 0 && now > c->oldest_ts ? now - c->oldest_ts : 0;

	if (c->oldest_ts > 0)
		m->behind_ms = behind;
	if (c->messages < MATRIX_BATCH_LOG_MIN && behind < MATRIX_BEHIND_LOG_MS)
		return;
	log_msg(behind >= MATRIX_BEHIND_WARN_MS ? LOG_WARN : LOG_INFO,
		"sync: batch of %zu events in %zu rooms: cpu read %.2f ms, handled %.2f ms (the "
		"core %.2f ms, sending %.2f ms, asking rooms' facts %.2f ms; the rest %.2f us an "
		"event); journal synced in %.2f ms; the oldest %lld ms old when handled; %zu sends "
		"waiting",
		c->messages, s->rooms, m->read_ns / 1e6, c->handle_ns / 1e6, m->core_ns / 1e6,
		m->send_ns / 1e6, m->ask_ns / 1e6,
		c->messages ? rest_ns / 1e3 / (double)c->messages : 0.0, c->flush_ns / 1e6, behind,
		m->queued);
}

/* handle_batch acts on one sync response. answer = 0 on the first start:
 * memberships are acted on, messages are not (no backlog). A non-OK return
 * means "stop here and do not save since". */
static enum err handle_batch(struct matrix *m, const struct mx_sync *s, tr_handler_fn fn, void *ctx,
			     int answer, struct batch_cost *c)
{
	size_t i, backlog = 0;
	long long t0 = clock_cpu_ns();
	enum err e = ERR_OK;

	if (s->skipped)
		log_warn("sync: %zu malformed pieces skipped", s->skipped);
	if (s->repaired)
		log_info("sync: %zu strings read after a repair (a lone surrogate, a NUL, "
			 "bytes not UTF-8)",
			 s->repaired);
	if (s->gaps)
		log_warn("sync: %zu rooms had a timeline gap; older messages there "
			 "are not answered",
			 s->gaps);
	m->stats.skipped += s->skipped;
	metrics_add(M_MALFORMED_MATRIX, (long long)s->skipped);
	/* the room keys first: a key and its messages often come together,
	 * and messages that waited for a key are older than this batch's */
	e = matrix_e2ee_to_device(m, s, answer ? fn : NULL, ctx);
	for (i = 0; i < s->n && e == ERR_OK; i++) {
		const struct mx_action *a = &s->actions[i];
		int message = a->kind == MX_ACT_MESSAGE &&
			      (a->ignore == MX_IGN_NONE || a->ignore == MX_IGN_ENCRYPTED);

		if (matrix_stopping(m, 0) || (m->stop && *m->stop && message))
			return ERR_IO; /* finish no more: the rest replays next start */
		if (a->kind == MX_ACT_MESSAGE) {
			c->messages++;
			if (a->ts > 0 && (!c->oldest_ts || a->ts < c->oldest_ts))
				c->oldest_ts = a->ts;
		}
		if (a->kind != MX_ACT_MESSAGE)
			e = matrix_room_act(m, a);
		else if (a->ignore == MX_IGN_ENCRYPTED)
			e = matrix_e2ee_message(m, a, answer ? fn : NULL, ctx);
		else if (answer)
			e = matrix_handle_message(m, a, fn, ctx);
		else
			backlog += message;
		if (m->fatal)
			return ERR_INVALID;
	}
	if (backlog)
		log_info("first start: %zu earlier messages not answered", backlog);
	c->handle_ns = clock_cpu_ns() - t0;
	return e;
}

/* sync_path writes the /sync request: on a first start no event at all
 * and no wait (no backlog is answered; a group's history of 50 messages
 * in 100 rooms was once parsed whole, the peak of the bot's memory, and a
 * single event a room in 10,000 rooms is still 10 MB of JSON); after, a
 * long poll from since, with the stored filter or, when the server took
 * none, the filter inline. */
static enum err sync_path(struct matrix *m, char *path, size_t len)
{
	char *inline_filter = NULL;
	int first = !m->since;
	enum err e = ERR_OK;

	if (first)
		e = mx_filter_first_json(&inline_filter);
	else if (!m->filter_id[0])
		e = mx_filter_json(m->timeline_limit, &inline_filter);
	if (e == ERR_OK && first)
		e = mx_path(path, len, MATRIX_API "/sync?filter=%s&timeout=0&set_presence=offline",
			    inline_filter);
	else if (e == ERR_OK)
		e = mx_path(path, len,
			    MATRIX_API "/sync?filter=%s&timeout=%ld&set_presence=offline&since=%s",
			    inline_filter ? inline_filter : m->filter_id, m->sync_timeout,
			    m->since);
	free(inline_filter);
	return e;
}

enum err matrix_sync_begin(struct matrix *m)
{
	char path[MATRIX_URL_MAX];
	enum err e;

	e = sync_path(m, path, sizeof(path));
	if (e == ERR_OK)
		e = matrix_xfer_begin(m, &m->sync_x, "GET", path, NULL,
				      MATRIX_CALL_SYNC | (m->since ? MATRIX_CALL_LONG_POLL : 0),
				      &m->sync_r);
	if (e != ERR_OK) {
		log_error("sync: cannot ask: %s", err_str(e));
		later(m, matrix_backoff_draw(m, MATRIX_FAIL_SERVER, m->sync_attempt++));
		return e;
	}
	m->sync_login_gen = m->login_gen;
	m->syncing = 1;
	return ERR_OK;
}

/* fetched reads the batch the exchange brought into *s (e: how the
 * exchange ended, matrix_call's way). ERR_OK with *s NULL: nothing to
 * handle this time (refused or unreadable with nowhere to go; the next
 * sync waits a backoff). */
static enum err fetched(struct matrix *m, enum err e, struct matrix_resp *r, struct mx_sync **s,
			char *why, size_t whylen)
{
	struct mx_error me;
	long long t0;

	m->stats.syncs++;
	if (e == ERR_INVALID && !m->fatal) {
		mx_error_parse(r->body ? r->body : "", r->len, &me);
		log_error("sync refused: HTTP %ld %s %s", r->status, me.errcode, me.error);
		later(m, matrix_backoff_draw(m, MATRIX_FAIL_SERVER, m->sync_attempt++));
		return ERR_OK;
	}
	if (e == ERR_LIMIT) /* over max_body: what came is a beginning, which
	                     * holds the next_batch if the server wrote it
	                     * before the rooms; read as a body cut short */
		log_warn("sync: response over max_body (%zu bytes)", m->max_body);
	else if (e != ERR_OK)
		return e;
	t0 = clock_cpu_ns();
	e = mx_sync_parse(r->body ? r->body : "", r->len, m->user_id, s, why, whylen);
	m->read_ns = clock_cpu_ns() - t0;
	m->core_ns = m->send_ns = m->ask_ns = 0;
	if (e == ERR_PARSE || e == ERR_NOMEM) {
		/* nothing to go past it by: ask again, as after a server error
		 * (a glitch on the way, a proxy's page, memory short for now) */
		m->stats.skipped++;
		log_warn("sync: unreadable response, no next_batch to go on from (%s); "
			 "asking again",
			 e == ERR_NOMEM ? "out of memory" : why);
		later(m, matrix_backoff_draw(m, MATRIX_FAIL_SERVER, m->sync_attempt++));
		e = ERR_OK;
	}
	return e;
}

/* handle acts on a batch read whole, then saves since. */
static enum err handle(struct matrix *m, struct mx_sync *s, const char *why)
{
	int first = !m->since, skip = 0;
	struct batch_cost c;
	long long t0;
	enum err e, ef;

	if (s->unreadable) {
		e = unreadable(m, s, why, &m->sync_attempt, &skip);
		if (e != ERR_OK || !skip)
			return e;
	} else {
		m->unreadable_asks = 0;
	}
	m->sync_attempt = 0;
	m->stats.batches++;
	m->batch_gen++;
	memset(&c, 0, sizeof(c));
	/* the batch's sends are journaled unsynced, then made durable all at
	 * once before since moves past them (a crash before that replays the
	 * batch, and the transaction ids keep a send from showing twice) */
	m->journal_defer = 1;
	e = handle_batch(m, s, m->fn, m->ctx, !first, &c);
	m->journal_defer = 0;
	t0 = clock_mono_ns();
	ef = matrix_send_flush(m);
	c.flush_ns = clock_mono_ns() - t0;
	if (e == ERR_OK)
		e = ef;
	if (e == ERR_OK) /* keys and sessions on disk before the batch is
	                  * acknowledged: a kill -9 never loses one */
		e = matrix_e2ee_save(m);
	if (e == ERR_OK && !first)
		report(m, s, &c);
	if (e == ERR_OK && m->held_failed) {
		m->held_failed = 0; /* a waiting message not journaled: replay */
		e = ERR_IO;
	}
	if (e == ERR_OK && (m->n_held || m->n_unsaved)) {
		/* messages wait for their rooms' facts: the sync goes on from
		 * here, the position is saved once they are handled */
		e = unsaved_put(m, s->next_batch);
		if (e == ERR_OK)
			matrix_keys_sync(m, &s->keys);
		return e == ERR_OK ? matrix_sync_settle(m) : e;
	}
	if (e == ERR_OK)
		e = save_since(m, s->next_batch);
	if (e == ERR_OK)
		matrix_keys_sync(m, &s->keys);
	if (e == ERR_OK)
		matrix_tx_sync(m, s);
	if (e == ERR_OK)
		m->alive_ms = clock_mono_ms();
	if (e == ERR_OK && first)
		log_info("first start: sync position recorded");
	return e;
}

void matrix_sync_free(struct matrix *m)
{
	unsaved_drop(m, m->n_unsaved);
}

enum err matrix_sync_settle(struct matrix *m)
{
	unsigned long gen;
	size_t k;
	enum err e;

	if (!m->n_unsaved)
		return ERR_OK;
	if (m->held_failed) {
		/* back to the last saved position: those batches replay (the
		 * transaction ids keep what was sent from showing twice) */
		m->held_failed = 0;
		log_warn("sync: a waiting message could not be journaled; asking again from "
			 "the last saved position");
		free(m->since);
		m->since = m->unsaved[0].prev;
		m->unsaved[0].prev = NULL;
		unsaved_drop(m, m->n_unsaved);
		return ERR_OK;
	}
	gen = matrix_held_min_gen(m);
	for (k = m->n_unsaved; k > 0 && m->unsaved[k - 1].gen >= gen; k--)
		;
	if (!k)
		return ERR_OK;
	e = matrix_send_flush(m);
	if (e == ERR_OK)
		e = save_pos(m, m->unsaved[k - 1].since);
	if (e != ERR_OK)
		return e;
	m->alive_ms = clock_mono_ms();
	unsaved_drop(m, k);
	return ERR_OK;
}

/* refused_token answers a 401 to the sync as a send's is answered
 * (matrix_send.c): wait for the shared re-login, or, refused again after
 * one, give up. */
static void refused_token(struct matrix *m)
{
	if (matrix_token_refused(m, m->sync_login_gen, &m->call_relogins, &m->sync_wants_login) ==
	    1)
		later(m, 0); /* a newer token came meanwhile: try it */
}

enum err matrix_sync_step(struct matrix *m)
{
	struct matrix_resp *r = &m->sync_r;
	struct mx_sync *s = NULL;
	char why[128] = "";
	long long wait;
	enum err e = ERR_OK;

	if (matrix_disk_failed(m)) {
		m->fatal = 1; /* the outbox or since cannot be kept: cannot go on */
		return ERR_INVALID;
	}
	if (!m->sync_x.done)
		return ERR_OK; /* still running */
	m->sync_x.done = 0;
	m->syncing = 0;
	switch (matrix_judge(m, "GET", "/sync", MATRIX_CALL_SYNC, r, &m->call_attempt, &wait)) {
	case MATRIX_V_RETRY:
		later(m, wait); /* the request's own retry: same position */
		goto out;
	case MATRIX_V_AUTH:
		refused_token(m);
		e = m->fatal ? ERR_INVALID : ERR_OK;
		goto out;
	case MATRIX_V_STOPPED:
		e = ERR_IO;
		goto out;
	case MATRIX_V_DONE:
		break;
	case MATRIX_V_OVER:
		e = ERR_LIMIT;
		break;
	case MATRIX_V_REFUSED:
	case MATRIX_V_FAILED:
		e = ERR_INVALID;
		break;
	}
	m->call_attempt = m->call_relogins = 0;
	e = fetched(m, e, r, &s, why, sizeof(why));
	matrix_resp_release(r); /* the body can be large; the actions are copies */
	if (e == ERR_OK && s)
		e = handle(m, s, why);
out:
	matrix_resp_release(r);
	mx_sync_free(s);
	/* A batch leaves behind the freed nodes of a parsed JSON tree; give
	 * the whole pages among them back to the system, so a bot that runs
	 * for months stays at the size it needs (tens of microseconds). */
	malloc_trim(0);
	return e;
}
