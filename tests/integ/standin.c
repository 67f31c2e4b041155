/* standin.c -- the scenario drivers' stand-in core (standin.h): the rules
 * that answer instead of the FAQ, the tick and its wakes, the signals,
 * and the loop they run in. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "loop.h"
#include "standin.h"

#define STANDIN_REPLY_MAX 4096
#define STANDIN_WORD_MAX  300
#define STANDIN_NUM_MAX   16
#define STANDIN_MS_MOD    1000000000L
#define STANDIN_CLOSED_FD 1000 /* far above what a driver opens */

static volatile sig_atomic_t stop_flag, wake_flag;
static volatile sig_atomic_t wake_ms; /* ms of the last wake signal, mod 1e9 */
static int wake_pipe[2] = {-1, -1};

struct standin {
	const struct standin_dialect *dl;
	struct standin_opts opts;
	unsigned long calls, ticks, notices;
	int stuck; /* wake_nodrain: the undrained pipe was told once */
	char reply[STANDIN_REPLY_MAX];
	char whoami[STANDIN_REPLY_MAX];
	char mention[STANDIN_WORD_MAX], see[STANDIN_WORD_MAX];
	char note[STANDIN_REPLY_MAX];
};

static const char long_text[] =
	"This is the long answer, written to be split. "
	"Treatment-resistant depression means that at least two adequate trials "
	"of antidepressants did not bring enough relief, and it is more common "
	"than many people think. There are still many options: a different class "
	"of medication, augmentation with a second medicine, talking therapies "
	"such as CBT or behavioural activation, ketamine or esketamine under "
	"medical care, transcranial magnetic stimulation, and electroconvulsive "
	"therapy, which is much gentler today than its reputation suggests. "
	"Ask your prescriber which of these fit your history, and bring a list "
	"of what you have tried, at what dose and for how long.\n\n"
	"A second paragraph: sleep, daylight, movement and contact with other "
	"people do not cure depression, but they help the treatments work, and "
	"small steps count. Pick one thing for this week, write it down, and "
	"tell someone in this group how it went. Unicode survives the split too: "
	"caf\xc3\xa9, na\xc3\xafve, \xe2\x80\x9cquotes\xe2\x80\x9d and an ellipsis\xe2\x80\xa6 "
	"That is the end of the long answer. END-OF-LONG";

static void on_stop(int sig)
{
	(void)sig;
	stop_flag = 1;
}

static long mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts); /* async-signal-safe */
	return (long)((ts.tv_sec % 1000000) * 1000 + ts.tv_nsec / 1000000) % STANDIN_MS_MOD;
}

static void on_wake(int sig)
{
	int saved = errno;

	wake_ms = (sig_atomic_t)mono_ms();
	if (sig == SIGUSR1)
		wake_flag = 1;
	else if (write(wake_pipe[1], "w", 1) < 0) /* full: already readable */
		(void)0;
	errno = saved;
}

static int has(const char *text, const char *key)
{
	return key && strstr(text, key);
}

/* word copies the word after key in text (blanks skipped) into buf; 0 if
 * text has no key */
static int word(const char *text, const char *key, char *buf, size_t len)
{
	const char *p = key ? strstr(text, key) : NULL;
	size_t n;

	if (!p)
		return 0;
	p += strlen(key);
	p += strspn(p, " ");
	n = strcspn(p, " \t\n");
	if (n >= len)
		n = len - 1;
	memcpy(buf, p, n);
	buf[n] = '\0';
	return 1;
}

/* number copies the digits after the first '#' of text into num */
static void number(const char *text, char *num, size_t len)
{
	const char *hash = strchr(text, '#');
	size_t i = 0;

	while (hash && i + 1 < len && hash[1 + i] >= '0' && hash[1 + i] <= '9') {
		num[i] = hash[1 + i];
		i++;
	}
	num[i] = '\0';
}

static void steer(struct standin *s, const char *text, struct tr_reply *out)
{
	if (word(text, s->dl->mention_key, s->mention, sizeof(s->mention)))
		out->mention = s->mention;
	if (word(text, s->dl->see_key, s->see, sizeof(s->see)))
		out->see_event = s->see;
	if (has(text, s->dl->mod_key))
		out->mod_text = s->dl->mod_text;
}

static void answer(struct standin *s, const struct tr_message *msg, const char *num,
		   struct tr_reply *out)
{
	out->reply = 1;
	out->kind = "faq";
	out->entry_id = msg->direct ? "faq-direct" : "faq-test";
	out->text = s->dl->answer;
	if (s->dl->numbered) {
		snprintf(s->reply, sizeof(s->reply), "ANSWER%s%s: %s", *num ? " #" : "", num,
			 s->dl->answer);
		out->text = s->reply;
		log_info("driver: answering #%s", *num ? num : "-");
	}
	if (has(msg->text, s->dl->whoami_key)) {
		snprintf(s->whoami, sizeof(s->whoami), "power=%d account=%s", msg->sender_power,
			 msg->sender_account ? msg->sender_account : "(none)");
		out->text = s->whoami;
	}
}

static enum err handle(void *ctx, const struct tr_message *msg, struct tr_reply *out)
{
	struct standin *s = ctx;
	const struct standin_dialect *dl = s->dl;
	const char *text = msg->text;
	size_t n = strlen(text);
	int addressed = msg->direct || msg->mentions_bot;
	char num[STANDIN_NUM_MAX];

	if (msg->facts_pending && !strstr(text, "CRISIS")) {
		out->wait_facts = 1; /* as the core: only a crisis goes now */
		return ERR_OK;
	}
	s->calls++;
	if (s->opts.handler_ms > 0) {
		struct timespec ts = {s->opts.handler_ms / 1000,
				      (s->opts.handler_ms % 1000) * 1000000L};

		nanosleep(&ts, NULL);
	}
	number(text, num, sizeof(num));
	if (strstr(text, "CRISIS")) {
		out->reply = 1;
		out->kind = "crisis";
		out->entry_id = "crisis-test";
		out->text = dl->crisis;
		out->alert_moderators = 1;
		if (dl->numbered)
			log_info("driver: answering #%s (crisis)", *num ? num : "-");
		if (dl->crisis_steered)
			steer(s, text, out);
		return ERR_OK;
	}
	if (!addressed && (dl->addressed_only || n == 0 || text[n - 1] != '?'))
		return ERR_OK;
	steer(s, text, out);
	if (dl->whoami_upper && has(text, dl->whoami_key)) {
		snprintf(s->reply, sizeof(s->reply), "ACCOUNT=%s POWER=%d",
			 msg->sender_account ? msg->sender_account : "(none)", msg->sender_power);
		out->reply = 1;
		out->kind = "faq";
		out->text = s->reply;
		return ERR_OK;
	}
	if (has(text, dl->long_key)) {
		out->reply = 1;
		out->kind = "faq";
		out->entry_id = "faq-long";
		out->text = long_text;
		return ERR_OK;
	}
	if (dl->addressed_only && !strchr(text, '?'))
		return ERR_OK;
	answer(s, msg, num, out);
	return ERR_OK;
}

/* woken: the pipe's bytes read (or, with wake_nodrain, 1 the first time
 * it is found readable) */
static size_t woken(struct standin *s)
{
	char buf[64];
	size_t n = 0;
	ssize_t k;

	if (!s->opts.wake_nodrain) {
		while ((k = read(wake_pipe[0], buf, sizeof(buf))) > 0)
			n += (size_t)k;
	} else if (!s->stuck) { /* say it once, as a core would before it broke */
		struct pollfd p = {wake_pipe[0], POLLIN, 0};

		n = (size_t)(s->stuck = poll(&p, 1, 0) > 0);
	}
	return n;
}

static void wake_notice(struct standin *s, const char *by, struct tr_notice *out)
{
	long lat = (mono_ms() - wake_ms + STANDIN_MS_MOD) % STANDIN_MS_MOD;

	if (s->dl->tick_timed)
		snprintf(s->note, sizeof(s->note), "tick: woken by %s after %ld ms <&>", by, lat);
	else
		snprintf(s->note, sizeof(s->note), "TICK %lu %s", ++s->notices, by);
	out->mod_text = s->note;
}

static enum err tick(void *ctx, struct tr_notice *out)
{
	struct standin *s = ctx;
	size_t n;
	FILE *f;

	s->ticks++;
	if (wake_flag) {
		wake_flag = 0;
		wake_notice(s, "flag", out);
		return ERR_OK;
	}
	if (woken(s)) {
		wake_notice(s, "fd", out);
		return ERR_OK;
	}
	if (s->opts.notice_file && (f = fopen(s->opts.notice_file, "r"))) {
		n = fread(s->note, 1, sizeof(s->note) - 1, f);
		fclose(f);
		s->note[n] = '\0';
		unlink(s->opts.notice_file);
		out->mod_text = s->note;
	}
	return ERR_OK;
}

/* signals: SIGINT and SIGTERM stop; SIGUSR1 and SIGUSR2 wake (with
 * SA_RESTART: the loop's poll returns at a signal all the same, as poll
 * is never restarted) */
static int signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	if (pipe(wake_pipe) != 0 || fcntl(wake_pipe[0], F_SETFL, O_NONBLOCK) != 0 ||
	    fcntl(wake_pipe[1], F_SETFL, O_NONBLOCK) != 0) {
		fprintf(stderr, "standin: pipe: %s\n", strerror(errno));
		return -1;
	}
	sa.sa_handler = on_wake;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGUSR2, &sa, NULL);
	return 0;
}

enum err standin_run(const struct standin_dialect *dialect, const struct standin_opts *opts,
		     const struct transport_ops *ops, void *t, const char *state_dir,
		     struct standin_stats *stats)
{
	static struct standin s;
	struct loop_config lc;
	struct loop *l = NULL;
	enum err e = ERR_IO;

	memset(&s, 0, sizeof(s));
	s.dl = dialect;
	s.opts = *opts;
	memset(&lc, 0, sizeof(lc));
	lc.handle = handle;
	lc.ctx = &s;
	lc.stop = &stop_flag;
	if (signals() == 0) {
		if (opts->tick) {
			lc.tick.fn = tick;
			lc.tick.wake_fd = opts->wake_closed ? STANDIN_CLOSED_FD : wake_pipe[0];
			lc.tick.wake = &wake_flag;
		}
		e = loop_new(&lc, &l);
		if (e == ERR_OK)
			e = loop_add(l, ops, t, state_dir, NULL, 1);
		if (e == ERR_OK)
			e = loop_run(l);
	}
	stats->calls = s.calls;
	stats->ticks = s.ticks;
	stats->loop_ticks = l ? loop_ticks(l) : 0UL;
	loop_free(l);
	if (wake_pipe[0] >= 0) {
		close(wake_pipe[0]);
		close(wake_pipe[1]);
		wake_pipe[0] = wake_pipe[1] = -1;
	}
	return e;
}
