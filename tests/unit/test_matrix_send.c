/* test_matrix_send.c -- the Matrix transport's outgoing queue
 * (matrix_send.c, its journal in matrix_journal.c), through its own
 * structures: a struct matrix made by matrix_new, whose homeserver is a
 * loopback socket that accepts connections and never answers, so a send
 * put in flight stays there until the test ends its exchange with the
 * answer it chooses (end_head: what curl would have handed over). No
 * curl is mocked: the exchanges are real easy handles in the real multi
 * handle, the outcomes are injected where matrix_pump would put them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "helpers.h"
#include "matrix_int.h"

static char dir[64];
static int lfd = -1;
static char hs[64];

static int setup(void **st)
{
	struct sockaddr_in a;
	socklen_t len = sizeof(a);

	(void)st;
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	/* a port from the kernel; connections wait in the backlog, unread */
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof(a)) || listen(lfd, 64) ||
	    getsockname(lfd, (struct sockaddr *)&a, &len))
		return -1;
	snprintf(hs, sizeof(hs), "http://127.0.0.1:%u", (unsigned)ntohs(a.sin_port));
	return th_tmpdir(dir, sizeof(dir), "mxsend");
}

static int teardown(void **st)
{
	(void)st;
	close(lfd);
	return th_rmtree(dir);
}

/* new_bot: a bot whose state folder is dir/sub (each test its own) */
static struct matrix *new_bot(const char *sub)
{
	struct matrix_config c;
	struct matrix *m = NULL;
	char err[512] = "", state[128];

	snprintf(state, sizeof(state), "%s/%s", dir, sub);
	memset(&c, 0, sizeof(c));
	c.homeserver = hs;
	c.user_id = "@faqbot:example.org";
	c.access_token = "tok";
	c.state_dir = state;
	c.request_timeout_ms = 600000; /* nothing ends but by the test */
	if (matrix_new(&c, &m, err, sizeof(err)) != ERR_OK)
		fail_msg("matrix_new: %s", err);
	return m;
}

/* put queues one send: a reply (or kind) in room with transaction id txn */
static unsigned long long put(struct matrix *m, enum matrix_send_kind kind, const char *room,
			      const char *txn, int must, int journal)
{
	struct matrix_send_spec sp;
	unsigned long long seq = 0;

	memset(&sp, 0, sizeof(sp));
	sp.kind = kind;
	sp.room = room;
	sp.txn = txn;
	sp.body = "{\"msgtype\":\"m.text\",\"body\":\"an answer\"}";
	sp.event = "$asked";
	sp.about = room;
	sp.klass = must ? "crisis" : "faq";
	sp.must = must;
	sp.journal = journal;
	assert_int_equal(matrix_send_put(m, &sp, &seq), ERR_OK);
	return seq;
}

static unsigned long long reply(struct matrix *m, const char *room, const char *txn)
{
	return put(m, MATRIX_SEND_REPLY, room, txn, 0, 0);
}

static struct matrix_outq *queue(struct matrix *m, const char *room)
{
	size_t i;

	for (i = 0; i < m->n_outq; i++)
		if (!strcmp(m->outq[i].room, room))
			return &m->outq[i];
	return NULL;
}

/* flying: the transaction id of room's send in flight, or NULL */
static const char *flying(struct matrix *m, const char *room)
{
	struct matrix_outq *q = queue(m, room);

	return q && q->head && q->head->x ? q->head->txn : NULL;
}

/* end_head ends the exchange of room's send in flight as the homeserver
 * would have: status, a Retry-After (ms, or -1), a body (or NULL). */
static void end_head(struct matrix *m, const char *room, long status, long long retry_ms,
		     const char *body)
{
	struct matrix_outq *q = queue(m, room);
	struct matrix_xfer *x;

	assert_non_null(q);
	assert_non_null(q->head);
	x = q->head->x;
	assert_non_null(x);
	matrix_xfer_abort(m, x); /* out of the multi handle */
	x->r->stopped = 0;
	x->r->status = status;
	x->r->cc = CURLE_OK;
	x->r->retry_after_ms = retry_ms;
	if (body) {
		x->r->body = strdup(body);
		x->r->len = strlen(body);
	}
	x->done = 1;
}

static void test_order_in_a_room(void **st)
{
	struct matrix *m = new_bot("order");

	(void)st;
	reply(m, "!a:x", "t1");
	reply(m, "!a:x", "t2");
	reply(m, "!a:x", "t3");
	matrix_send_run(m);
	/* one at a time in a room, in the order queued */
	assert_string_equal(flying(m, "!a:x"), "t1");
	assert_int_equal(m->queued, 3);
	matrix_send_run(m);
	assert_string_equal(flying(m, "!a:x"), "t1");
	end_head(m, "!a:x", 200, -1, "{\"event_id\":\"$r1\"}");
	matrix_send_run(m);
	assert_int_equal(m->queued, 2);
	assert_string_equal(flying(m, "!a:x"), "t2");
	end_head(m, "!a:x", 200, -1, "{\"event_id\":\"$r2\"}");
	matrix_send_run(m);
	assert_string_equal(flying(m, "!a:x"), "t3");
	end_head(m, "!a:x", 200, -1, "{\"event_id\":\"$r3\"}");
	matrix_send_run(m);
	assert_int_equal(m->queued, 0);
	assert_int_equal(m->n_outq, 0);
	assert_int_equal(m->stats.replies, 3);
	matrix_free(m);
}

static void test_slow_room_holds_no_other(void **st)
{
	struct matrix *m = new_bot("slow");
	long long now, at;

	(void)st;
	reply(m, "!a:x", "a1");
	reply(m, "!a:x", "a2");
	reply(m, "!b:x", "b1");
	matrix_send_run(m);
	assert_string_equal(flying(m, "!a:x"), "a1");
	assert_string_equal(flying(m, "!b:x"), "b1");
	/* A: 429 with Retry-After 600 s. A waits; B goes on, twice */
	now = clock_mono_ms();
	end_head(m, "!a:x", 429, 600000, "{\"errcode\":\"M_LIMIT_EXCEEDED\"}");
	matrix_send_run(m);
	assert_null(flying(m, "!a:x"));
	at = queue(m, "!a:x")->head->at_ms;
	assert_true(at >= now + 600000 && at <= clock_mono_ms() + 600000);
	assert_string_equal(queue(m, "!a:x")->head->txn, "a1"); /* still first */
	end_head(m, "!b:x", 200, -1, "{\"event_id\":\"$b1\"}");
	reply(m, "!b:x", "b2");
	matrix_send_run(m);
	assert_string_equal(flying(m, "!b:x"), "b2");
	assert_null(flying(m, "!a:x"));
	/* B: a 503 backs B off, and holds nothing of A's either */
	end_head(m, "!b:x", 503, -1, NULL);
	matrix_send_run(m);
	assert_null(flying(m, "!b:x"));
	assert_true(queue(m, "!b:x")->head->at_ms > clock_mono_ms() - 1);
	assert_int_equal(queue(m, "!b:x")->head->attempt, 1);
	/* A's wait over (its deadline moved to now): a1, with the same id */
	queue(m, "!a:x")->head->at_ms = 0;
	reply(m, "!c:x", "c1");
	matrix_send_run(m);
	assert_string_equal(flying(m, "!a:x"), "a1");
	assert_string_equal(flying(m, "!c:x"), "c1");
	assert_null(flying(m, "!b:x"));
	assert_int_equal(queue(m, "!a:x")->head->attempt, 1);
	matrix_free(m);
}

static void test_limits(void **st)
{
	struct matrix *m = new_bot("limits");
	char room[32], txn[32];
	size_t r, i;

	(void)st;
	/* a room: MATRIX_QUEUE_ROOM_MAX ordinary sends, the next dropped */
	for (i = 0; i < MATRIX_QUEUE_ROOM_MAX; i++) {
		snprintf(txn, sizeof(txn), "p%zu", i);
		assert_true(reply(m, "!full:x", txn) > 0);
	}
	assert_int_equal(reply(m, "!full:x", "one-more"), 0);
	assert_int_equal(queue(m, "!full:x")->n, MATRIX_QUEUE_ROOM_MAX);
	/* a crisis reply and an alert are queued whatever the count */
	assert_true(put(m, MATRIX_SEND_REPLY, "!full:x", "crisis", 1, 0) > 0);
	assert_true(put(m, MATRIX_SEND_ALERT, "!full:x", "alert", 1, 0) > 0);
	assert_int_equal(queue(m, "!full:x")->n, MATRIX_QUEUE_ROOM_MAX + 2);
	assert_int_equal(queue(m, "!full:x")->plain, MATRIX_QUEUE_ROOM_MAX);
	/* in all: MATRIX_QUEUE_MAX ordinary sends, spread over rooms */
	for (r = 1; m->queued_plain < MATRIX_QUEUE_MAX; r++)
		for (i = 0; i < MATRIX_QUEUE_ROOM_MAX && m->queued_plain < MATRIX_QUEUE_MAX; i++) {
			snprintf(room, sizeof(room), "!r%zu:x", r);
			snprintf(txn, sizeof(txn), "p%zu", i);
			assert_true(reply(m, room, txn) > 0);
		}
	assert_int_equal(m->queued_plain, MATRIX_QUEUE_MAX);
	assert_int_equal(reply(m, "!fresh:x", "p0"), 0); /* an empty room's too */
	assert_null(queue(m, "!fresh:x"));
	assert_true(put(m, MATRIX_SEND_REPLY, "!fresh:x", "crisis", 1, 0) > 0);
	assert_true(put(m, MATRIX_SEND_NOTICE, "!mods:x", "notice", 1, 0) > 0);
	assert_int_equal(m->queued, MATRIX_QUEUE_MAX + 4);
	matrix_free(m);
}

static void test_not_twice(void **st)
{
	struct matrix *m = new_bot("twice");
	unsigned long long s1, s2;

	(void)st;
	s1 = put(m, MATRIX_SEND_REPLY, "!a:x", "same", 0, 1);
	s2 = put(m, MATRIX_SEND_REPLY, "!a:x", "same", 0, 1);
	assert_true(s1 > 0);
	assert_int_equal(s2, s1);
	assert_int_equal(queue(m, "!a:x")->n, 1);
	/* another kind, or another id, is another send */
	assert_int_not_equal(put(m, MATRIX_SEND_ALERT, "!a:x", "same", 1, 1), s1);
	assert_int_not_equal(reply(m, "!a:x", "other"), s1);
	assert_int_equal(queue(m, "!a:x")->n, 3);
	/* still the same while in flight */
	matrix_send_run(m);
	assert_string_equal(flying(m, "!a:x"), "same");
	assert_int_equal(put(m, MATRIX_SEND_REPLY, "!a:x", "same", 0, 1), s1);
	assert_int_equal(queue(m, "!a:x")->n, 3);
	matrix_free(m);
}

/* queue_ids: the txn ids of room's queue, oldest first, joined */
static void queue_ids(struct matrix *m, const char *room, char *out, size_t len)
{
	struct matrix_outq *q = queue(m, room);
	struct matrix_send *s;

	out[0] = '\0';
	for (s = q ? q->head : NULL; s; s = s->next) {
		strncat(out, s->txn ? s->txn : "-", len - strlen(out) - 1);
		strncat(out, " ", len - strlen(out) - 1);
	}
}

static void test_journal_after_restart(void **st)
{
	struct matrix *m = new_bot("journal");
	char ids[256];

	(void)st;
	/* sends of their own (a file each), then a batch's (group files) */
	put(m, MATRIX_SEND_REPLY, "!a:x", "a1", 0, 1);
	put(m, MATRIX_SEND_REPLY, "!b:x", "b1", 0, 1);
	m->journal_defer = 1;
	put(m, MATRIX_SEND_REPLY, "!a:x", "a2", 0, 1);
	put(m, MATRIX_SEND_REPLY, "!a:x", "a3", 1, 1);
	put(m, MATRIX_SEND_ALERT, "!mods:x", "al", 1, 1);
	put(m, MATRIX_SEND_REPLY, "!b:x", "b2", 0, 1);
	m->journal_defer = 0;
	assert_int_equal(matrix_send_flush(m), ERR_OK);
	assert_true(matrix_disk_wait(m, 10000));
	/* one sent and done before the "crash": not read back */
	matrix_send_run(m);
	end_head(m, "!b:x", 200, -1, "{\"event_id\":\"$b1\"}");
	matrix_send_run(m);
	matrix_free(m); /* a crash: nothing more is sent */

	m = new_bot("journal");
	matrix_send_load(m);
	assert_int_equal(m->queued, 5);
	queue_ids(m, "!a:x", ids, sizeof(ids));
	assert_string_equal(ids, "a1 a2 a3 ");
	queue_ids(m, "!b:x", ids, sizeof(ids));
	assert_string_equal(ids, "b2 ");
	queue_ids(m, "!mods:x", ids, sizeof(ids));
	assert_string_equal(ids, "al ");
	assert_true(queue(m, "!a:x")->head->next->next->must);
	/* the same sends again (a replayed batch) meet the journal's */
	assert_int_equal(put(m, MATRIX_SEND_REPLY, "!a:x", "a2", 0, 1),
			 queue(m, "!a:x")->head->next->seq);
	assert_int_equal(m->queued, 5);
	/* and what is sent now leaves the journal */
	matrix_send_run(m);
	assert_string_equal(flying(m, "!a:x"), "a1");
	end_head(m, "!a:x", 200, -1, "{\"event_id\":\"$a1\"}");
	matrix_send_run(m);
	matrix_free(m);
	m = new_bot("journal");
	matrix_send_load(m);
	queue_ids(m, "!a:x", ids, sizeof(ids));
	assert_string_equal(ids, "a2 a3 ");
	assert_int_equal(m->queued, 4);
	matrix_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_order_in_a_room),
		cmocka_unit_test(test_slow_room_holds_no_other),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_not_twice),
		cmocka_unit_test(test_journal_after_restart),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
