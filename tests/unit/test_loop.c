/* test_loop.c -- the one loop with fake transports (a pipe each): the
 * config is copied and nothing runs before loop_run; the tick and its wake
 * flag; a tick's notice reaches every network; a crisis on one network is
 * told to the others' moderators, not back to its own; the health marks
 * are the loop's (cleared at the start, written on a sign of life); a
 * transport that fails stops the others and its error is the loop's. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clock.h"
#include "health.h"
#include "loop.h"
#include "helpers.h"

static volatile sig_atomic_t stop_flag;

/* A fake network: its messages are bytes in a pipe, one a message: 'q'
 * asks (a question), 'c' is a crisis, 'x' ends it (TR_DONE), 's' sets the
 * stop flag (the end of every network), 'f' makes it fail. */
struct fake {
	const char *name;
	int fd[2];
	tr_handler_fn fn;
	void *ctx;
	int started, stopped, handled;
	long long alive_ms;
	char notices[8][512];
	size_t n_notices;
};

static enum err f_start(void *t, tr_handler_fn fn, void *ctx, volatile sig_atomic_t *stop)
{
	struct fake *f = t;

	(void)stop;
	f->fn = fn;
	f->ctx = ctx;
	f->started = 1;
	return ERR_OK;
}

static void f_want(void *t, struct tr_wait *w)
{
	struct fake *f = t;

	w->fd[0].fd = f->fd[0];
	w->fd[0].events = POLLIN;
	w->n = 1;
}

static enum tr_state f_ready(void *t, const struct tr_wait *w)
{
	struct fake *f = t;
	struct tr_message m = {0};
	struct tr_reply out = {0};
	char c;

	if (!(w->fd[0].revents & POLLIN) || read(f->fd[0], &c, 1) != 1)
		return TR_RUNNING;
	if (c == 'x')
		return TR_DONE;
	if (c == 's') {
		stop_flag = 1;
		return TR_RUNNING;
	}
	if (c == 'f')
		return TR_FAILED;
	f->alive_ms = clock_mono_ms();
	m.room = "#room";
	m.sender = "sam";
	m.text = c == 'c' ? "CRISIS words" : "a question?";
	f->handled++;
	f->fn(f->ctx, &m, &out);
	return TR_RUNNING;
}

static void f_notice(void *t, const char *text)
{
	struct fake *f = t;

	if (f->n_notices < 8)
		snprintf(f->notices[f->n_notices++], sizeof(f->notices[0]), "%s", text);
}

static void f_stop(void *t) { ((struct fake *)t)->stopped = 1; }

static void f_health(const void *t, struct tr_health *h)
{
	h->alive_ms = ((const struct fake *)t)->alive_ms;
}

static const char *f_errstr(const void *t)
{
	(void)t;
	return "fake: it broke";
}

static const struct transport_ops fake_a = {"fakea", f_start, f_want, f_ready, f_notice,
                                            f_stop, f_health, f_errstr};
static const struct transport_ops fake_b = {"fakeb", f_start, f_want, f_ready, f_notice,
                                            f_stop, f_health, f_errstr};

static void fake_init(struct fake *f)
{
	memset(f, 0, sizeof(*f));
	assert_int_equal(pipe(f->fd), 0);
}

static void fake_release(struct fake *f)
{
	close(f->fd[0]);
	close(f->fd[1]);
}

static void feed(struct fake *f, const char *bytes)
{
	assert_int_equal(write(f->fd[1], bytes, strlen(bytes)), (ssize_t)strlen(bytes));
}

/* the core stand-in: a crisis gets an alert, anything else a reply */
static enum err handle(void *ctx, const struct tr_message *m, struct tr_reply *out)
{
	(void)ctx;
	out->reply = 1;
	out->text = "an answer";
	out->alert_moderators = strstr(m->text, "CRISIS") != NULL;
	return ERR_OK;
}

static volatile sig_atomic_t wake;
static int ticks_seen;

static enum err tick(void *ctx, struct tr_notice *out)
{
	(void)ctx;
	ticks_seen++;
	if (wake) {
		wake = 0;
		out->mod_text = "FAQ reloaded";
	}
	return ERR_OK;
}

/* loop_new copies what it is given, so the caller's struct may go; no
 * tick runs before loop_run (was test_matrix's test_set_tick: the tick
 * moved from the transport to the loop). */
static void test_config_copied(void **st)
{
	struct loop_config *c = calloc(1, sizeof(*c));
	struct loop *l = NULL;

	(void)st;
	assert_non_null(c);
	c->handle = handle;
	c->tick.fn = tick;
	c->tick.wake_fd = -1;
	c->tick.wake = &wake;
	assert_int_equal(loop_new(c, &l), ERR_OK);
	free(c); /* copied */
	assert_int_equal(loop_ticks(l), 0);
	assert_string_equal(loop_errstr(l), "");
	loop_free(l);
	loop_free(NULL);
}

/* A woken tick runs at once, and its notice reaches every network. */
static void test_tick_notice_to_all(void **st)
{
	struct loop_config c = {0};
	struct fake a, b;
	struct loop *l = NULL;

	(void)st;
	fake_init(&a);
	fake_init(&b);
	c.handle = handle;
	c.tick.fn = tick;
	c.tick.wake_fd = -1;
	c.tick.wake = &wake;
	c.stop = &stop_flag;
	stop_flag = 0;
	wake = 1;
	ticks_seen = 0;
	assert_int_equal(loop_new(&c, &l), ERR_OK);
	assert_int_equal(loop_add(l, &fake_a, &a, NULL, NULL, 1), ERR_OK);
	assert_int_equal(loop_add(l, &fake_b, &b, NULL, NULL, 0), ERR_OK);
	feed(&a, "qs");
	assert_int_equal(loop_run(l), ERR_OK);
	assert_true(a.started && b.started);
	assert_int_equal(a.handled, 1);
	assert_true(ticks_seen >= 1);
	assert_true(b.stopped);
	assert_int_equal(a.n_notices, 1);
	assert_int_equal(b.n_notices, 1);
	assert_string_equal(a.notices[0], "FAQ reloaded");
	assert_string_equal(b.notices[0], "FAQ reloaded");
	loop_free(l);
	fake_release(&a);
	fake_release(&b);
}

/* A crisis on A is told to B's moderators (B takes alerts), naming the
 * network, the room and the member but no words; never back to A. */
static void test_crisis_to_other_network(void **st)
{
	struct loop_config c = {0};
	struct fake a, b;
	struct loop *l = NULL;

	(void)st;
	fake_init(&a);
	fake_init(&b);
	c.handle = handle;
	c.stop = &stop_flag;
	stop_flag = 0;
	assert_int_equal(loop_new(&c, &l), ERR_OK);
	assert_int_equal(loop_add(l, &fake_a, &a, NULL, NULL, 1), ERR_OK);
	assert_int_equal(loop_add(l, &fake_b, &b, NULL, NULL, 1), ERR_OK);
	feed(&a, "qcs");
	assert_int_equal(loop_run(l), ERR_OK);
	assert_int_equal(a.n_notices, 0);
	assert_int_equal(b.n_notices, 1);
	assert_non_null(strstr(b.notices[0], "crisis on fakea"));
	assert_non_null(strstr(b.notices[0], "sam in #room"));
	assert_null(strstr(b.notices[0], "CRISIS words"));
	loop_free(l);
	fake_release(&a);
	fake_release(&b);
}

/* A network that takes no alerts hears of no other's crisis. */
static void test_crisis_not_configured(void **st)
{
	struct loop_config c = {0};
	struct fake a, b;
	struct loop *l = NULL;

	(void)st;
	fake_init(&a);
	fake_init(&b);
	c.handle = handle;
	c.stop = &stop_flag;
	stop_flag = 0;
	assert_int_equal(loop_new(&c, &l), ERR_OK);
	assert_int_equal(loop_add(l, &fake_a, &a, NULL, NULL, 1), ERR_OK);
	assert_int_equal(loop_add(l, &fake_b, &b, NULL, NULL, 0), ERR_OK);
	feed(&a, "cs");
	assert_int_equal(loop_run(l), ERR_OK);
	assert_int_equal(b.n_notices, 0);
	loop_free(l);
	fake_release(&a);
	fake_release(&b);
}

/* The marks are the loop's: a stale one is cleared at the start, a new one
 * written once the network shows life, under the name asked for. */
static void test_health_marks(void **st)
{
	struct loop_config c = {0};
	struct fake a, b;
	struct loop *l = NULL;
	char dir[64], path[128];
	struct stat sb;
	long age;
	char err[256];

	(void)st;
	assert_int_equal(th_tmpdir(dir, sizeof(dir), "loop"), 0);
	assert_int_equal(health_mark_file(dir, "a_mark", 1), ERR_OK);
	assert_int_equal(health_mark_file(dir, "b_mark", 1), ERR_OK);
	fake_init(&a);
	fake_init(&b);
	c.handle = handle;
	assert_int_equal(loop_new(&c, &l), ERR_OK);
	assert_int_equal(loop_add(l, &fake_a, &a, dir, "a_mark", 0), ERR_OK);
	assert_int_equal(loop_add(l, &fake_b, &b, dir, "b_mark", 0), ERR_OK);
	feed(&a, "qx"); /* a shows life; b never does */
	feed(&b, "x");
	assert_int_equal(loop_run(l), ERR_OK);
	assert_int_equal(health_check_file(dir, "a_mark", 60, time(NULL), &age, err, sizeof(err)),
	                 ERR_OK);
	snprintf(path, sizeof(path), "%s/b_mark", dir);
	assert_int_not_equal(stat(path, &sb), 0);
	th_rmtree(dir);
	loop_free(l);
	fake_release(&a);
	fake_release(&b);
}

/* A transport that fails stops the others; its error is the loop's. */
static void test_failure_stops_all(void **st)
{
	struct loop_config c = {0};
	struct fake a, b;
	struct loop *l = NULL;

	(void)st;
	fake_init(&a);
	fake_init(&b);
	c.handle = handle;
	assert_int_equal(loop_new(&c, &l), ERR_OK);
	assert_int_equal(loop_add(l, &fake_a, &a, NULL, NULL, 0), ERR_OK);
	assert_int_equal(loop_add(l, &fake_b, &b, NULL, NULL, 0), ERR_OK);
	feed(&a, "f");
	assert_int_not_equal(loop_run(l), ERR_OK);
	assert_string_equal(loop_errstr(l), "fake: it broke");
	assert_true(b.stopped);
	assert_false(a.stopped); /* it failed: nothing of it to stop */
	loop_free(l);
	fake_release(&a);
	fake_release(&b);
}

/* A stop flag stops every transport and the loop returns ERR_OK. */
static enum err stopping_handle(void *ctx, const struct tr_message *m, struct tr_reply *out)
{
	stop_flag = 1;
	return handle(ctx, m, out);
}

static void test_stop(void **st)
{
	struct loop_config c = {0};
	struct fake a;
	struct loop *l = NULL;

	(void)st;
	fake_init(&a);
	c.handle = stopping_handle;
	c.stop = &stop_flag;
	stop_flag = 0;
	assert_int_equal(loop_new(&c, &l), ERR_OK);
	assert_int_equal(loop_add(l, &fake_a, &a, NULL, NULL, 0), ERR_OK);
	feed(&a, "qq");
	assert_int_equal(loop_run(l), ERR_OK);
	assert_int_equal(a.handled, 1); /* the second waits for the next start */
	assert_true(a.stopped);
	loop_free(l);
	fake_release(&a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_config_copied),
	    cmocka_unit_test(test_tick_notice_to_all),
	    cmocka_unit_test(test_crisis_to_other_network),
	    cmocka_unit_test(test_crisis_not_configured),
	    cmocka_unit_test(test_health_marks),
	    cmocka_unit_test(test_failure_stops_all),
	    cmocka_unit_test(test_stop),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
