/* test_irc_outbox.c -- replies paced and journaled: without a folder the
 * queue alone; with one, replies and alerts survive a crash (crisis first
 * at the replay), notices and CTCP answers do not, a reply sent and
 * acknowledged is not sent again, a reply too old is dropped, a reply cut
 * off with a connection waits again whole, and a journal that cannot be
 * opened costs its protection, not the start. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "irc_journal.h"
#include "irc_outbox.h"
#include "irc_parse.h"
#include "helpers.h"

#define PREFIX 40 /* a prefix length; the lines here are short */

static char dir[64];

static int setup(void **state)
{
	(void)state;
	return th_tmpdir(dir, sizeof(dir), "outbox");
}

static int teardown(void **state)
{
	char path[128];

	(void)state;
	snprintf(path, sizeof(path), "%s/%s", dir, IRC_JOURNAL_FILE);
	unlink(path);
	return rmdir(dir);
}

static struct irc_outbox *mk(const char *state_dir)
{
	struct irc_outbox_config c;
	struct irc_outbox *ob = NULL;

	memset(&c, 0, sizeof(c));
	c.burst = 10;
	c.interval_ms = 1000;
	c.state_dir = state_dir;
	assert_int_equal(irc_outbox_new(&c, &ob), ERR_OK);
	assert_non_null(ob);
	irc_outbox_session(ob, 0);
	return ob;
}

/* take writes the next line that may go at now into buf ("" for none),
 * its CRLF dropped, and marks it taken at *mark. */
static const char *take(struct irc_outbox *ob, long long now, unsigned long long *mark)
{
	static char buf[IRC_LINE_MAX + 1];
	struct irc_out *q = irc_outbox_queue(ob);
	const char *l;
	size_t len;

	l = irc_out_peek(q, now, &len);
	if (!l)
		return "";
	snprintf(buf, sizeof(buf), "%.*s", (int)(len - 2), l);
	*mark += len;
	irc_out_take(q, *mark);
	return buf;
}

static struct irc_outbox_counts counts(const struct irc_outbox *ob)
{
	struct irc_outbox_counts n;

	irc_outbox_counts(ob, &n);
	return n;
}

static void test_no_folder(void **state)
{
	struct irc_outbox *ob = mk(NULL);
	unsigned long long mark = 0;

	(void)state;
	assert_int_equal(irc_outbox_say(ob, "PRIVMSG", "#c", "one\ntwo", "faq", 0, PREFIX), ERR_OK);
	assert_int_equal(irc_outbox_raw(ob, "ann", "NOTICE ann :\001VERSION x\001\r\n"), ERR_OK);
	assert_int_equal(counts(ob).lines, 3);
	assert_string_equal(take(ob, 0, &mark), "PRIVMSG #c :one");
	assert_string_equal(take(ob, 0, &mark), "PRIVMSG #c :two");
	assert_string_equal(take(ob, 0, &mark), "NOTICE ann :\001VERSION x\001");
	assert_string_equal(take(ob, 0, &mark), "");
	/* a text that cannot be split: refused, nothing queued */
	assert_int_equal(irc_outbox_say(ob, "PRIVMSG", "#c d", "x", "faq", 0, PREFIX), ERR_INVALID);
	assert_int_equal(counts(ob).lines, 3);
	irc_outbox_replay(ob, 0, PREFIX); /* nothing to replay */
	assert_int_equal(counts(ob).replayed, 0);
	irc_outbox_free(ob);
	irc_outbox_free(NULL);
}

static void test_survives_a_crash(void **state)
{
	struct irc_outbox *ob = mk(dir);
	unsigned long long mark = 0;

	(void)state;
	assert_int_equal(irc_outbox_say(ob, "PRIVMSG", "#c", "an answer", "faq", 0, PREFIX), ERR_OK);
	assert_int_equal(irc_outbox_say(ob, "NOTICE", "mod", "a notice", NULL, 0, PREFIX), ERR_OK);
	assert_int_equal(irc_outbox_raw(ob, "ann", "NOTICE ann :\001VERSION x\001\r\n"), ERR_OK);
	assert_int_equal(irc_outbox_say(ob, "PRIVMSG", "#c", "you matter", "crisis", 0, PREFIX),
	                 ERR_OK);
	assert_int_equal(irc_outbox_say(ob, "PRIVMSG", "mod", "alert", "alert", 0, PREFIX), ERR_OK);
	irc_outbox_sync(ob);
	irc_outbox_free(ob); /* a crash: nothing went */

	/* the next start: the reply, the crisis reply and the alert, urgent
	 * first; not the notice, not the CTCP answer */
	ob = mk(dir);
	irc_outbox_replay(ob, 0, PREFIX);
	assert_int_equal(counts(ob).replayed, 3);
	assert_string_equal(take(ob, 0, &mark), "PRIVMSG #c :you matter");
	assert_string_equal(take(ob, 0, &mark), "PRIVMSG mod :alert");
	assert_string_equal(take(ob, 0, &mark), "PRIVMSG #c :an answer");
	assert_string_equal(take(ob, 0, &mark), "");
	/* the server acknowledged the first two: they are done */
	irc_out_acked(irc_outbox_queue(ob), strlen("PRIVMSG #c :you matter\r\nPRIVMSG mod :alert\r\n"));
	irc_outbox_free(ob);

	/* so only the third comes back */
	ob = mk(dir);
	irc_outbox_replay(ob, 0, PREFIX);
	assert_int_equal(counts(ob).replayed, 1);
	mark = 0;
	assert_string_equal(take(ob, 0, &mark), "PRIVMSG #c :an answer");
	irc_out_acked(irc_outbox_queue(ob), mark);
	irc_outbox_free(ob);

	ob = mk(dir);
	irc_outbox_replay(ob, 0, PREFIX);
	assert_int_equal(counts(ob).replayed, 0);
	irc_outbox_free(ob);
}

static void test_too_old(void **state)
{
	struct irc_journal_stats st;
	struct irc_journal_entry e;
	struct irc_journal *j;
	struct irc_outbox *ob;
	struct timespec ts;
	unsigned long long mark = 0;
	long long wall;
	char err[256];

	(void)state;
	clock_gettime(CLOCK_REALTIME, &ts);
	wall = (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	assert_int_equal(irc_journal_open(dir, &j, &st, err, sizeof(err)), ERR_OK);
	memset(&e, 0, sizeof(e));
	e.cmd = "PRIVMSG";
	e.target = "#c";
	/* ten minutes: too old for an answer, not for an alert */
	e.id = 1;
	e.wall_ms = wall - 600000;
	e.kind = "faq";
	e.text = "stale answer";
	assert_int_equal(irc_journal_add(j, &e), ERR_OK);
	e.id = 2;
	e.kind = "alert";
	e.text = "late alert";
	assert_int_equal(irc_journal_add(j, &e), ERR_OK);
	assert_int_equal(irc_journal_sync(j), ERR_OK);
	irc_journal_free(j);

	ob = mk(dir);
	irc_outbox_replay(ob, 0, PREFIX);
	assert_int_equal(counts(ob).replayed, 1);
	assert_int_equal(counts(ob).expired, 1);
	assert_string_equal(take(ob, 0, &mark), "PRIVMSG #c :late alert");
	assert_string_equal(take(ob, 0, &mark), "");
	irc_out_acked(irc_outbox_queue(ob), mark);
	/* a new answer that waited for a connection past its five minutes:
	 * dropped when the connection comes */
	assert_int_equal(irc_outbox_say(ob, "PRIVMSG", "#c", "fresh", "faq", 0, PREFIX), ERR_OK);
	irc_outbox_session(ob, IRC_REPLY_MAX_AGE_MS + 1);
	assert_int_equal(counts(ob).expired, 2);
	irc_outbox_free(ob);
}

static void test_cut_off_waits_again(void **state)
{
	struct irc_outbox *ob = mk(NULL);
	unsigned long long mark = 0;

	(void)state;
	assert_int_equal(irc_outbox_say(ob, "PRIVMSG", "#c", "one\ntwo", "faq", 0, PREFIX), ERR_OK);
	assert_int_equal(irc_outbox_raw(ob, "ann", "NOTICE ann :\001VERSION x\001\r\n"), ERR_OK);
	assert_string_equal(take(ob, 0, &mark), "PRIVMSG #c :one");
	/* the connection ends mid-reply: it waits again, whole; the CTCP
	 * answer does not outlive the connection */
	irc_outbox_session(ob, 10);
	assert_int_equal(counts(ob).resent, 1);
	assert_int_equal(counts(ob).dropped, 1);
	mark = 0;
	assert_string_equal(take(ob, 10, &mark), "PRIVMSG #c :one");
	assert_string_equal(take(ob, 10, &mark), "PRIVMSG #c :two");
	assert_string_equal(take(ob, 10, &mark), "");
	irc_outbox_free(ob);
}

static void test_journal_cannot_open(void **state)
{
	char file[128];
	struct irc_outbox *ob;
	FILE *f;

	(void)state;
	/* a file where the folder should be: logged, and no journal */
	snprintf(file, sizeof(file), "%s/%s", dir, IRC_JOURNAL_FILE);
	f = fopen(file, "w");
	assert_non_null(f);
	fclose(f);
	ob = mk(file);
	assert_int_equal(irc_outbox_say(ob, "PRIVMSG", "#c", "still sent", "faq", 0, PREFIX), ERR_OK);
	assert_int_equal(counts(ob).lines, 1);
	irc_outbox_free(ob);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_no_folder),
		cmocka_unit_test_setup_teardown(test_survives_a_crash, setup, teardown),
		cmocka_unit_test_setup_teardown(test_too_old, setup, teardown),
		cmocka_unit_test(test_cut_off_waits_again),
		cmocka_unit_test_setup_teardown(test_journal_cannot_open, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
