/* irc_driver.c -- the IRC transport with a stand-in core, for the scenario
 * scripts (tests/integ/irc_*.sh).
 *
 * It links src/net/irc/irc.c and friends as they are, and answers with a fixed
 * rule instead of the FAQ: a message containing "CRISIS" is a crisis
 * (reply and moderators' alert); a message containing "LONG" that is
 * addressed or private gets a long answer (many lines once split); a
 * question (contains '?') gets a short multi-sentence answer when it is
 * private or addresses the bot ("nick: ..."); anything else silence. Each
 * answer names the asker's words' number ("#12") when the text holds one,
 * so the burst scenario can tell that every question was answered. Words
 * that test the rest of the contract, in an addressed or private message:
 * "MENTION x" directs the answer to x (tr_reply.mention, as written),
 * "MODTEXT" adds a notice for the moderators (tr_reply.mod_text), and
 * "WHOAMI" answers "ACCOUNT=<sender_account>" ("(none)" for NULL) and
 * "POWER=<sender_power>". The server and SASL passwords come from
 * environment variables named on the command line, never from argv.
 *
 * Each message that gets an answer is logged as "driver: answering #N"
 * (its number only, never its words), so a scenario knows which answers
 * the bot has queued: the kill -9 test kills it while some still wait.
 *
 * It runs the transport in the bot's one loop (loop.h), as faqbot does.
 * With --tick 1 it gives the loop a tick: SIGUSR1 sets
 * the wake flag, SIGUSR2 writes a byte to the wake pipe; a tick that finds
 * either resets it and posts "TICK n flag" or "TICK n fd" to the
 * moderators. The exit line counts the ticks. --tick 2 gives it a wake fd
 * that is not open (the loop must drop it, not spin).
 *
 *   irc_driver --host H --port P --nick N [--alt N]... [--chan C[,KEY]]...
 *              [--mod NICK|CHAN]... [--user U] [--pass-env VAR]
 *              [--ping-idle-ms N] [--ping-timeout-ms N] [--backoff-min-ms N]
 *              [--backoff-max-ms N] [--burst N] [--interval-ms N] [--tls 1]
 *              [--ca-file PEM] [--sasl-account A --sasl-password-env VAR]
 *              [--sasl-mechanism PLAIN|EXTERNAL] [--cert PEM] [--key PEM]
 *              [--pm-over-lines N] [--tick 1] [--state-dir DIR]
 *
 * Exit: 0 after SIGINT/SIGTERM, 1 with one line on standard error. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "irc.h"
#include "log.h"
#include "loop.h"

#define DRIVER_LIST_MAX 64
#define DRIVER_REPLY_MAX 4096
#define DRIVER_CLOSED_FD 1000 /* far above what the driver opens */

static volatile sig_atomic_t stop_flag, wake_flag;
static int wake_pipe[2] = {-1, -1};

static void on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

static void on_usr(int sig)
{
	int saved = errno;

	if (sig == SIGUSR1)
		wake_flag = 1;
	else if (write(wake_pipe[1], "w", 1) < 0)
		(void)0; /* a full pipe wakes the tick all the same */
	errno = saved;
}

struct driver {
	unsigned long calls, ticks, notices;
	char reply[DRIVER_REPLY_MAX];
	char mention[DRIVER_REPLY_MAX];
	char tick_text[128];
};

static enum err tick(void *ctx, struct tr_notice *out)
{
	struct driver *d = ctx;
	char buf[64];
	int fd_woke = 0;

	d->ticks++;
	while (read(wake_pipe[0], buf, sizeof(buf)) > 0)
		fd_woke = 1;
	if (!wake_flag && !fd_woke)
		return ERR_OK;
	wake_flag = 0;
	snprintf(d->tick_text, sizeof(d->tick_text), "TICK %lu %s", ++d->notices,
	         fd_woke ? "fd" : "flag");
	out->mod_text = d->tick_text;
	return ERR_OK;
}

/* word_after copies the word after key in text into buf ("" if none). */
static void word_after(const char *text, const char *key, char *buf, size_t len)
{
	const char *p = strstr(text, key);
	size_t n;

	buf[0] = '\0';
	if (!p)
		return;
	p += strlen(key);
	p += strspn(p, " ");
	n = strcspn(p, " ");
	if (n >= len)
		n = len - 1;
	memcpy(buf, p, n);
	buf[n] = '\0';
}

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

static enum err handle(void *ctx, const struct tr_message *msg, struct tr_reply *out)
{
	struct driver *d = ctx;
	const char *hash;
	char num[16] = "";
	int addressed = msg->direct || msg->mentions_bot;

	d->calls++;
	hash = strchr(msg->text, '#');
	if (hash) {
		size_t i = 0;

		while (i + 1 < sizeof(num) && hash[1 + i] >= '0' && hash[1 + i] <= '9') {
			num[i] = hash[1 + i];
			i++;
		}
		num[i] = '\0';
	}
	if (strstr(msg->text, "CRISIS")) {
		out->reply = 1;
		out->kind = "crisis";
		out->entry_id = "crisis-test";
		out->text = "You matter, and you are not alone. Please call your local "
		            "crisis line now, or your emergency number.";
		out->alert_moderators = 1;
		log_info("driver: answering #%s (crisis)", *num ? num : "-");
		return ERR_OK;
	}
	if (!addressed)
		return ERR_OK;
	if (strstr(msg->text, "MODTEXT"))
		out->mod_text = "A notice for the moderators from the handler.";
	if (strstr(msg->text, "MENTION")) {
		word_after(msg->text, "MENTION", d->mention, sizeof(d->mention));
		out->mention = d->mention;
	}
	if (strstr(msg->text, "WHOAMI")) {
		snprintf(d->reply, sizeof(d->reply), "ACCOUNT=%s POWER=%d",
		         msg->sender_account ? msg->sender_account : "(none)", msg->sender_power);
		out->reply = 1;
		out->kind = "faq";
		out->text = d->reply;
		return ERR_OK;
	}
	if (strstr(msg->text, "LONG")) {
		out->reply = 1;
		out->kind = "faq";
		out->entry_id = "faq-long";
		out->text = long_text;
		return ERR_OK;
	}
	if (strchr(msg->text, '?')) {
		snprintf(d->reply, sizeof(d->reply),
		         "ANSWER%s%s: Many people here have asked the same. Talk to your "
		         "prescriber. You are welcome in this group.",
		         *num ? " #" : "", num);
		out->reply = 1;
		out->kind = "faq";
		out->entry_id = msg->direct ? "faq-direct" : "faq-test";
		out->text = d->reply;
		log_info("driver: answering #%s", *num ? num : "-");
	}
	return ERR_OK;
}

static int add(const char **list, size_t *n, const char *v)
{
	if (*n >= DRIVER_LIST_MAX)
		return -1;
	list[(*n)++] = v;
	return 0;
}

static long num_arg(const char *v)
{
	return strtol(v, NULL, 10);
}

int main(int argc, char **argv)
{
	const char *alts[DRIVER_LIST_MAX], *mods[DRIVER_LIST_MAX];
	struct irc_channel chans[DRIVER_LIST_MAX];
	char chanbuf[DRIVER_LIST_MAX][256];
	struct irc_config cfg;
	static struct driver d;
	struct irc_stats st;
	struct irc *irc = NULL;
	struct loop *l = NULL;
	struct loop_config lc;
	struct sigaction sa;
	char err[512] = "";
	const char *pass_env = NULL, *sasl_env = NULL;
	int want_tick = 0;
	enum err e;
	int i;

	memset(&cfg, 0, sizeof(cfg));
	for (i = 1; i + 1 < argc; i += 2) {
		const char *k = argv[i], *v = argv[i + 1];
		int bad = 0;

		if (!strcmp(k, "--host"))
			cfg.host = v;
		else if (!strcmp(k, "--port"))
			cfg.port = (int)num_arg(v);
		else if (!strcmp(k, "--tls"))
			cfg.tls = (int)num_arg(v);
		else if (!strcmp(k, "--ca-file"))
			cfg.tls_ca_file = v;
		else if (!strcmp(k, "--nick"))
			cfg.nick = v;
		else if (!strcmp(k, "--user"))
			cfg.user = v;
		else if (!strcmp(k, "--alt"))
			bad = add(alts, &cfg.n_alt_nicks, v);
		else if (!strcmp(k, "--mod"))
			bad = add(mods, &cfg.n_moderators, v);
		else if (!strcmp(k, "--chan")) {
			size_t n = cfg.n_channels;
			char *comma;

			if (n >= DRIVER_LIST_MAX || strlen(v) >= sizeof(chanbuf[0])) {
				bad = 1;
			} else {
				snprintf(chanbuf[n], sizeof(chanbuf[n]), "%s", v);
				comma = strchr(chanbuf[n], ',');
				if (comma)
					*comma = '\0';
				chans[n].name = chanbuf[n];
				chans[n].key = comma ? comma + 1 : NULL;
				cfg.n_channels++;
			}
		} else if (!strcmp(k, "--pass-env"))
			pass_env = v;
		else if (!strcmp(k, "--sasl-account"))
			cfg.sasl_account = v;
		else if (!strcmp(k, "--sasl-password-env"))
			sasl_env = v;
		else if (!strcmp(k, "--ping-idle-ms"))
			cfg.ping_idle_ms = num_arg(v);
		else if (!strcmp(k, "--ping-timeout-ms"))
			cfg.ping_timeout_ms = num_arg(v);
		else if (!strcmp(k, "--backoff-min-ms"))
			cfg.backoff_min_ms = num_arg(v);
		else if (!strcmp(k, "--backoff-max-ms"))
			cfg.backoff_max_ms = num_arg(v);
		else if (!strcmp(k, "--burst"))
			cfg.flood_burst = (int)num_arg(v);
		else if (!strcmp(k, "--interval-ms"))
			cfg.flood_interval_ms = num_arg(v);
		else if (!strcmp(k, "--pm-over-lines"))
			cfg.pm_over_lines = (int)num_arg(v);
		else if (!strcmp(k, "--sasl-mechanism"))
			cfg.sasl_mechanism = v;
		else if (!strcmp(k, "--cert"))
			cfg.tls_cert_file = v;
		else if (!strcmp(k, "--key"))
			cfg.tls_key_file = v;
		else if (!strcmp(k, "--tick"))
			want_tick = (int)num_arg(v);
		else if (!strcmp(k, "--state-dir"))
			cfg.state_dir = v;
		else
			bad = 1;
		if (bad) {
			fprintf(stderr, "irc_driver: bad option %s\n", k);
			return 2;
		}
	}
	if (i != argc) {
		fprintf(stderr, "irc_driver: options come in pairs\n");
		return 2;
	}
	cfg.alt_nicks = alts;
	cfg.moderators = mods;
	cfg.channels = chans;
	if (pass_env && getenv(pass_env) && *getenv(pass_env))
		cfg.server_password = getenv(pass_env);
	if (sasl_env && getenv(sasl_env) && *getenv(sasl_env))
		cfg.sasl_password = getenv(sasl_env);
	if (getenv("IRC_DRIVER_DEBUG"))
		log_set_level(LOG_DEBUG);

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	e = irc_new(&cfg, &irc, err, sizeof(err));
	if (e != ERR_OK) {
		fprintf(stderr, "irc_driver: %s\n", err);
		return 1;
	}
	memset(&lc, 0, sizeof(lc));
	lc.handle = handle;
	lc.ctx = &d;
	lc.stop = &stop_flag;
	if (want_tick) {
		struct tr_tick t;

		if (pipe(wake_pipe) < 0 || fcntl(wake_pipe[0], F_SETFL, O_NONBLOCK) < 0 ||
		    fcntl(wake_pipe[1], F_SETFL, O_NONBLOCK) < 0) {
			fprintf(stderr, "irc_driver: pipe: %s\n", strerror(errno));
			irc_free(irc);
			return 1;
		}
		/* no SA_RESTART: the signal must cut the transport's poll short */
		sa.sa_handler = on_usr;
		sigaction(SIGUSR1, &sa, NULL);
		sigaction(SIGUSR2, &sa, NULL);
		t.fn = tick;
		t.wake_fd = want_tick == 2 ? DRIVER_CLOSED_FD : wake_pipe[0];
		t.wake = &wake_flag;
		lc.tick = t;
	}
	e = loop_new(&lc, &l);
	if (e == ERR_OK)
		e = loop_add(l, &irc_ops, irc, cfg.state_dir, NULL, 1);
	if (e == ERR_OK)
		e = loop_run(l);
	irc_get_stats(irc, &st);
	fprintf(stderr,
	        "irc_driver: stats connects=%lu registrations=%lu messages=%lu "
	        "replies=%lu lines=%lu alerts=%lu notices=%lu dropped=%lu bad_lines=%lu "
	        "pings=%lu calls=%lu ticks=%lu replayed=%lu expired=%lu resent=%lu "
	        "journal_errors=%lu sasl_retries=%lu\n",
	        st.connects, st.registrations, st.messages, st.replies, st.lines, st.alerts,
	        st.notices, st.dropped, st.bad_lines, st.pings_sent, d.calls, d.ticks, st.replayed,
	        st.expired, st.resent, st.journal_errors, st.sasl_retries);
	if (wake_pipe[0] >= 0) {
		close(wake_pipe[0]);
		close(wake_pipe[1]);
	}
	if (e != ERR_OK) {
		fprintf(stderr, "irc_driver: %s\n", irc_errstr(irc));
		loop_free(l);
		irc_free(irc);
		return 1;
	}
	loop_free(l);
	irc_free(irc);
	return 0;
}
