/* test_irc_out.c -- the IRC outgoing queue: the token bucket and its
 * reserve for urgent lines, crisis first, no interleaving within a target,
 * ends reported only once acknowledged, requeueing at a new connection,
 * a full queue, and a random run checked against the flood law and
 * "every reply ends exactly once". */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "irc_out.h"
#include "irc_parse.h"

#define ENDS_MAX 4096

struct ends {
	size_t n;
	unsigned long long id[ENDS_MAX];
	enum irc_out_end how[ENDS_MAX];
};

static void on_end(void *ctx, unsigned long long id, enum irc_out_end how)
{
	struct ends *e = ctx;

	assert_true(e->n < ENDS_MAX);
	e->id[e->n] = id;
	e->how[e->n] = how;
	e->n++;
}

static struct irc_out *mk(int burst, long interval, struct ends *e, size_t max_replies)
{
	struct irc_out_config c;
	struct irc_out *o;

	memset(&c, 0, sizeof(c));
	c.burst = burst;
	c.interval_ms = interval;
	c.on_end = on_end;
	c.ctx = e;
	c.max_replies = max_replies;
	o = irc_out_new(&c);
	assert_non_null(o);
	irc_out_session(o, 0);
	return o;
}

static void push(struct irc_out *o, unsigned long long id, const char *target,
                 const char *text, int urgent)
{
	struct irc_out_reply r;

	memset(&r, 0, sizeof(r));
	r.id = id;
	r.cmd = "PRIVMSG";
	r.target = target;
	r.text = text;
	r.urgent = urgent;
	r.keep = 1;
	assert_int_equal(irc_out_push(o, &r, NULL), ERR_OK);
}

/* next takes the line that may go at now and returns a copy of its text
 * (the part after " :"), or "" when none may. */
static const char *next(struct irc_out *o, long long now, unsigned long long *mark)
{
	static char buf[IRC_LINE_MAX + 1];
	const char *l;
	size_t len;

	l = irc_out_peek(o, now, &len);
	if (!l)
		return "";
	assert_int_equal(strlen(l), len);
	assert_true(len >= 2 && l[len - 2] == '\r' && l[len - 1] == '\n');
	snprintf(buf, sizeof(buf), "%s", strstr(l, " :") ? strstr(l, " :") + 2 : l);
	buf[strcspn(buf, "\r")] = '\0';
	*mark += len;
	irc_out_take(o, *mark);
	return buf;
}

static void test_bucket_and_reserve(void **state)
{
	static struct ends e;
	struct irc_out *o = mk(4, 1000, &e, 0);
	unsigned long long mark = 0;

	(void)state;
	push(o, 1, "#a", "one", 0);
	push(o, 2, "#a", "two", 0);
	push(o, 3, "#a", "three", 0);
	push(o, 4, "#a", "four", 0);
	/* burst 4 with 2 kept for urgent lines: two ordinary lines at once */
	assert_string_equal(next(o, 0, &mark), "one");
	assert_string_equal(next(o, 0, &mark), "two");
	assert_string_equal(next(o, 0, &mark), "");
	assert_int_equal(irc_out_wait_ms(o, 0), 1001);
	assert_int_equal(irc_out_wait_ms(o, 500), 501);
	assert_string_equal(next(o, 999, &mark), "");
	assert_string_equal(next(o, 1000, &mark), "three");
	assert_string_equal(next(o, 1500, &mark), "");
	/* a crisis now spends the reserve: no wait */
	push(o, 5, "#b", "crisis", 1);
	assert_int_equal(irc_out_wait_ms(o, 1500), 0);
	assert_string_equal(next(o, 1500, &mark), "crisis");
	assert_string_equal(next(o, 2000, &mark), "");
	assert_string_equal(next(o, 3500, &mark), "four");
	assert_int_equal(irc_out_wait_ms(o, 3500), -1);
	assert_int_equal(irc_out_in_flight(o), 5);
	irc_out_free(o);
}

static void test_burst_one_has_no_reserve(void **state)
{
	static struct ends e;
	struct irc_out *o = mk(1, 100, &e, 0);
	unsigned long long mark = 0;

	(void)state;
	push(o, 1, "#a", "one", 0);
	push(o, 2, "#a", "two", 0);
	assert_string_equal(next(o, 0, &mark), "one");
	assert_string_equal(next(o, 50, &mark), "");
	assert_string_equal(next(o, 100, &mark), "two");
	irc_out_free(o);
}

/* test_pacing_fake_clock runs the transport's defaults (burst 4, a line
 * every 2000 ms) on a fake clock, the way irc.c does: sleep what
 * irc_out_wait_ms says, then take what peek gives. 20 answers queued at
 * once go two at once (the other two tokens are kept for a crisis), then
 * one each 2 s, never faster; after a quiet minute the bucket is full
 * again, but never more than full. */
static void test_pacing_fake_clock(void **state)
{
	static struct ends e;
	struct irc_out *o = mk(4, 2000, &e, 0);
	unsigned long long mark = 0;
	long long t = 0, sent_at[20];
	char text[16];
	size_t n = 0, i, j;
	long w;

	(void)state;
	for (i = 0; i < 20; i++) {
		snprintf(text, sizeof(text), "answer %zu", i);
		push(o, i + 1, "#support", text, 0);
	}
	while ((w = irc_out_wait_ms(o, t)) >= 0) {
		assert_true(n < 20);
		t += w;
		snprintf(text, sizeof(text), "answer %zu", n);
		assert_string_equal(next(o, t, &mark), text);
		sent_at[n++] = t;
	}
	assert_int_equal(n, 20);
	assert_int_equal(sent_at[0], 0);
	assert_int_equal(sent_at[1], 0);
	for (i = 2; i < 20; i++) /* one a token, as soon as it comes */
		assert_true(sent_at[i] - sent_at[i - 1] >= 1999 && sent_at[i] - sent_at[i - 1] <= 2001);
	/* the flood law: in any window, at most burst + window / interval */
	for (i = 0; i < 20; i++)
		for (j = i; j < 20; j++)
			assert_true((long long)(j - i + 1) <= 4 + (sent_at[j] - sent_at[i]) / 2000);
	/* a quiet minute: two at once again, and a crisis still goes at once */
	t += 60000;
	push(o, 21, "#support", "late 1", 0);
	push(o, 22, "#support", "late 2", 0);
	push(o, 23, "#support", "late 3", 0);
	assert_string_equal(next(o, t, &mark), "late 1");
	assert_string_equal(next(o, t, &mark), "late 2");
	assert_string_equal(next(o, t, &mark), "");
	push(o, 24, "#crisis", "crisis", 1);
	assert_string_equal(next(o, t, &mark), "crisis");
	/* the crisis spent a kept token: the next ordinary line waits until
	 * the reserve is whole again, two tokens later */
	assert_int_equal(irc_out_wait_ms(o, t), 4001);
	irc_out_free(o);
}

static void test_crisis_first(void **state)
{
	static struct ends e;
	struct irc_out *o = mk(1, 10, &e, 0);
	unsigned long long mark = 0;
	long long t = 0;
	char text[32];
	int i;

	(void)state;
	for (i = 1; i <= 50; i++) {
		snprintf(text, sizeof(text), "faq %d", i);
		push(o, (unsigned long long)i, "#a", text, 0);
	}
	assert_string_equal(next(o, t, &mark), "faq 1");
	push(o, 51, "mod", "alert", 1);
	push(o, 52, "#a", "crisis", 1);
	push(o, 53, "#a", "crisis two", 1);
	assert_string_equal(next(o, t += 10, &mark), "alert");
	assert_string_equal(next(o, t += 10, &mark), "crisis");
	assert_string_equal(next(o, t += 10, &mark), "crisis two");
	assert_string_equal(next(o, t += 10, &mark), "faq 2");
	irc_out_free(o);
}

static const char three_lines[] = "first line\nsecond line\nthird line";

static void test_no_interleave_in_a_target(void **state)
{
	static struct ends e;
	struct irc_out *o = mk(1, 10, &e, 0);
	unsigned long long mark = 0;
	long long t = 0;

	(void)state;
	push(o, 1, "#a", three_lines, 0);
	push(o, 2, "#a", "later faq", 0);
	assert_string_equal(next(o, t, &mark), "first line");
	/* a crisis in the same channel waits for the answer under way... */
	push(o, 3, "#A", "crisis in #a", 1);
	/* ...but an alert to a moderator goes at the next line boundary */
	push(o, 4, "mod", "alert", 1);
	assert_string_equal(next(o, t += 10, &mark), "second line");
	assert_string_equal(next(o, t += 10, &mark), "third line");
	assert_string_equal(next(o, t += 10, &mark), "crisis in #a");
	assert_string_equal(next(o, t += 10, &mark), "alert");
	assert_string_equal(next(o, t += 10, &mark), "later faq");
	irc_out_free(o);

	/* an urgent reply for another target cuts in at a line boundary */
	o = mk(1, 10, &e, 0);
	t = 0;
	push(o, 1, "#a", three_lines, 0);
	assert_string_equal(next(o, t, &mark), "first line");
	push(o, 2, "mod", "alert", 1);
	assert_string_equal(next(o, t += 10, &mark), "alert");
	assert_string_equal(next(o, t += 10, &mark), "second line");
	irc_out_free(o);

	/* a crisis not yet started is not held back by a later answer */
	o = mk(1, 10, &e, 0);
	t = 0;
	push(o, 1, "#a", three_lines, 0);
	push(o, 2, "#a", "crisis one\ncrisis two", 1);
	assert_string_equal(next(o, t, &mark), "crisis one");
	assert_string_equal(next(o, t += 10, &mark), "crisis two");
	assert_string_equal(next(o, t += 10, &mark), "first line");
	irc_out_free(o);
}

static void test_end_after_ack(void **state)
{
	static struct ends e;
	struct irc_out *o;
	unsigned long long mark = 0, m1;

	(void)state;
	memset(&e, 0, sizeof(e));
	o = mk(10, 10, &e, 0);
	push(o, 7, "#a", three_lines, 0);
	push(o, 8, "#a", "short", 0);
	next(o, 0, &mark);
	next(o, 0, &mark);
	irc_out_acked(o, mark); /* two lines of 7 acknowledged: not done */
	assert_int_equal(e.n, 0);
	next(o, 0, &mark);
	m1 = mark;
	next(o, 0, &mark);
	assert_int_equal(irc_out_in_flight(o), 2);
	irc_out_acked(o, m1 - 1);
	assert_int_equal(e.n, 0);
	irc_out_acked(o, m1);
	assert_int_equal(e.n, 1);
	assert_int_equal(e.id[0], 7);
	assert_int_equal(e.how[0], IRC_OUT_SENT);
	irc_out_acked(o, mark);
	assert_int_equal(e.n, 2);
	assert_int_equal(e.id[1], 8);
	assert_int_equal(irc_out_in_flight(o), 0);
	irc_out_free(o);
}

static void test_session_requeues(void **state)
{
	static struct ends e;
	struct irc_out_reply r;
	struct irc_out *o;
	unsigned long long mark = 0;
	const char *l;
	size_t len;

	(void)state;
	memset(&e, 0, sizeof(e));
	o = mk(10, 10, &e, 0);
	push(o, 1, "#a", "in flight", 0);
	push(o, 2, "#a", three_lines, 0);
	push(o, 3, "#a", "waiting", 0);
	memset(&r, 0, sizeof(r));
	r.id = 4;
	r.target = "bob";
	r.raw = "NOTICE bob :\001VERSION x\001\r\n";
	r.keep = 0;
	assert_int_equal(irc_out_push(o, &r, NULL), ERR_OK);
	r.id = 5;
	r.raw = NULL;
	r.cmd = "PRIVMSG";
	r.text = "too old by then";
	r.keep = 1;
	r.expires_ms = 500;
	assert_int_equal(irc_out_push(o, &r, NULL), ERR_OK);
	assert_string_equal(next(o, 0, &mark), "in flight");
	assert_string_equal(next(o, 0, &mark), "first line");
	/* the connection ends: 1 was written, not acknowledged; 2 half sent */
	assert_int_equal(irc_out_session(o, 1000), 2);
	assert_int_equal(e.n, 2);
	assert_int_equal(e.id[0], 4);
	assert_int_equal(e.how[0], IRC_OUT_DROPPED);
	assert_int_equal(e.id[1], 5);
	assert_int_equal(e.how[1], IRC_OUT_EXPIRED);
	assert_int_equal(irc_out_waiting(o), 3);
	assert_int_equal(irc_out_in_flight(o), 0);
	/* split again for the new prefix, whole, in id order */
	irc_out_set_prefix(o, irc_prefix_len("faqbot", "u", "h"));
	assert_string_equal(next(o, 1000, &mark), "in flight");
	assert_string_equal(next(o, 1000, &mark), "first line");
	assert_string_equal(next(o, 1000, &mark), "second line");
	assert_string_equal(next(o, 1000, &mark), "third line");
	l = irc_out_peek(o, 1000, &len);
	assert_non_null(l);
	assert_string_equal(l, "PRIVMSG #a :waiting\r\n");
	irc_out_free(o);
}

static void test_full_queue(void **state)
{
	static struct ends e;
	struct irc_out_reply r;
	struct irc_out *o;
	unsigned long long mark = 0;

	(void)state;
	memset(&e, 0, sizeof(e));
	o = mk(1, 10, &e, 3);
	push(o, 1, "#a", "a", 0);
	push(o, 2, "#a", "b", 0);
	push(o, 3, "#a", "c", 0);
	memset(&r, 0, sizeof(r));
	r.id = 4;
	r.cmd = "PRIVMSG";
	r.target = "#a";
	r.text = "d";
	assert_int_equal(irc_out_push(o, &r, NULL), ERR_LIMIT);
	assert_int_equal(e.n, 0);
	/* an urgent reply pushes out the newest ordinary one */
	r.id = 5;
	r.urgent = 1;
	assert_int_equal(irc_out_push(o, &r, NULL), ERR_OK);
	assert_int_equal(e.n, 1);
	assert_int_equal(e.id[0], 3);
	assert_int_equal(e.how[0], IRC_OUT_DROPPED);
	assert_string_equal(next(o, 0, &mark), "d");
	assert_string_equal(next(o, 10, &mark), "a");
	irc_out_free(o);

	/* urgent replies only: an urgent one is refused too */
	memset(&e, 0, sizeof(e));
	o = mk(1, 10, &e, 1);
	push(o, 1, "#a", "a", 1);
	r.id = 2;
	assert_int_equal(irc_out_push(o, &r, NULL), ERR_LIMIT);
	irc_out_free(o);
}

static void test_bad_replies(void **state)
{
	static struct ends e;
	struct irc_out_reply r;
	struct irc_out *o = mk(1, 10, &e, 0);
	char *big = malloc(IRC_SPLIT_TEXT_MAX + 2);
	size_t n = 99;

	(void)state;
	assert_non_null(big);
	memset(big, 'x', IRC_SPLIT_TEXT_MAX + 1);
	big[IRC_SPLIT_TEXT_MAX + 1] = '\0';
	memset(&r, 0, sizeof(r));
	r.id = 1;
	r.cmd = "PRIVMSG";
	r.target = "#a b";
	r.text = "x";
	assert_int_equal(irc_out_push(o, &r, &n), ERR_INVALID);
	assert_int_equal(n, 0);
	r.target = "#a";
	r.text = big;
	assert_int_equal(irc_out_push(o, &r, NULL), ERR_LIMIT);
	r.target = NULL;
	assert_int_equal(irc_out_push(o, &r, NULL), ERR_INVALID);
	r.target = "#a";
	r.text = three_lines;
	assert_int_equal(irc_out_push(o, &r, &n), ERR_OK);
	assert_int_equal(n, 3);
	assert_int_equal(e.n, 0);
	free(big);
	irc_out_free(o);
}

/* A random run: pushes, takes at random times, acks and new connections.
 * Checked: within a connection no window of time carries more lines than
 * the bucket allows (burst + elapsed / interval), and every reply queued
 * ends exactly once (sent, or pushed out by an urgent one). */
static void test_random_run(void **state)
{
	static struct ends e;
	static long long when[20000];
	static int pushed[3000], ended[3000];
	struct irc_out *o;
	unsigned long long mark = 0, id = 0;
	unsigned rng = 12345;
	long long t = 0;
	size_t nl = 0, i, first = 0, n_pushed = 0;
	int step, burst = 3;
	long interval = 50;

	(void)state;
	memset(&e, 0, sizeof(e));
	o = mk(burst, interval, &e, 40);
	for (step = 0; step < 20000 && nl < 20000; step++) {
		unsigned r;

		rng = rng * 1103515245u + 12345u;
		r = (rng >> 16) % 100;
		if (r < 20 && id < 2999) {
			struct irc_out_reply rep;

			memset(&rep, 0, sizeof(rep));
			rep.id = ++id;
			rep.cmd = "PRIVMSG";
			rep.target = (rng >> 4) % 2 ? "#a" : "#b";
			rep.text = (rng >> 12) % 3 ? "short" : three_lines;
			rep.urgent = (rng >> 8) % 7 == 0;
			rep.keep = 1;
			if (irc_out_push(o, &rep, NULL) == ERR_OK) {
				pushed[id] = 1;
				n_pushed++;
			}
		} else if (r < 85) {
			const char *l;
			size_t len, j;

			t += (rng >> 4) % 40;
			l = irc_out_peek(o, t, &len);
			if (!l)
				continue;
			when[nl++] = t;
			mark += len;
			irc_out_take(o, mark);
			/* the flood law, over this connection's recent lines */
			for (j = nl > first + 50 ? nl - 50 : first; j + 1 < nl; j++)
				assert_true((double)(nl - j) <=
				            burst + (double)(when[nl - 1] - when[j]) / interval + 1e-9);
		} else if (r < 98) {
			irc_out_acked(o, mark);
		} else {
			t += 100;
			irc_out_session(o, t);
			first = nl;
		}
	}
	assert_true(nl > 1000);
	/* drain */
	for (i = 0; i < 100000 && (irc_out_waiting(o) || irc_out_in_flight(o)); i++) {
		const char *l;
		size_t len;

		t += interval;
		l = irc_out_peek(o, t, &len);
		if (l) {
			mark += len;
			irc_out_take(o, mark);
		}
		irc_out_acked(o, mark);
	}
	assert_int_equal(irc_out_waiting(o), 0);
	assert_int_equal(irc_out_in_flight(o), 0);
	assert_int_equal(e.n, n_pushed);
	for (i = 0; i < e.n; i++) {
		assert_true(e.id[i] >= 1 && e.id[i] <= id);
		assert_int_equal(pushed[e.id[i]], 1);
		assert_int_equal(ended[e.id[i]], 0);
		ended[e.id[i]] = 1;
		assert_true(e.how[i] == IRC_OUT_SENT || e.how[i] == IRC_OUT_DROPPED);
	}
	irc_out_free(o);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bucket_and_reserve),
		cmocka_unit_test(test_burst_one_has_no_reserve),
		cmocka_unit_test(test_pacing_fake_clock),
		cmocka_unit_test(test_crisis_first),
		cmocka_unit_test(test_no_interleave_in_a_target),
		cmocka_unit_test(test_end_after_ack),
		cmocka_unit_test(test_session_requeues),
		cmocka_unit_test(test_full_queue),
		cmocka_unit_test(test_bad_replies),
		cmocka_unit_test(test_random_run),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
