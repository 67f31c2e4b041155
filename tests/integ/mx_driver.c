/* mx_driver.c -- the Matrix transport with a stand-in core, for the
 * scenario scripts (tests/integ/matrix_*.sh) and the latency bench.
 *
 * It links src/net/matrix/matrix.c and friends as they are, and answers with a fixed
 * rule instead of the FAQ: a message containing "CRISIS" is a crisis
 * (reply and moderators' alert), a question (ends with '?'), a direct
 * message or a mention gets an FAQ answer, anything else silence. The
 * answer text carries HTML specials on purpose, so every reply tests the
 * escaping. Words in a message steer the rest of the reply:
 *   mention=WHO   directed to WHO (tr_reply.mention, as written)
 *   see=EVENT     points to an earlier message (tr_reply.see_event)
 *   MODNOTE       a notice for the moderators too (tr_reply.mod_text)
 *   POWER         the answer is "power=N account=ID" (what the core saw)
 * Secrets come from environment variables named on the command line,
 * never from argv itself.
 *
 * It runs the transport in the bot's one loop (loop.h), as faqbot does.
 * The tick (on unless --tick 0) counts its calls and posts a notice for
 * the moderators when woken: SIGUSR1 sets the wake flag, SIGUSR2 writes to
 * the wake fd (a pipe); the notice says which and how many ms after the
 * signal the tick ran. With MX_DRIVER_NOTICE_FILE set, a tick that finds
 * that file posts its contents (up to 4 KB) and removes it. With
 * MX_DRIVER_WAKE_NODRAIN set, the tick never drains the pipe, and with
 * MX_DRIVER_WAKE_CLOSED the loop is given an fd that is not open
 * (broken cores, which must not make the loop spin).
 *
 *   mx_driver --hs URL --user ID --state DIR [--token-env VAR]
 *             [--password-env VAR] [--room R]... [--allow A]... [--mod-room R]
 *             [--mod U]... [--sync-timeout-ms N] [--request-timeout-ms N]
 *             [--backoff-max-ms N] [--handler-ms N] [--tick 0|1]
 *             [--max-body BYTES] [--pickle-key-env VAR]
 *
 * --pickle-key-env turns end-to-end encryption on (matrix_config's
 * pickle_key, from that variable): the device's identity and keys.
 *
 * Exit: 0 after SIGINT/SIGTERM, 1 with one line on standard error. */
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
#include "matrix.h"

#define DRIVER_LIST_MAX 64

#define DRIVER_WORD_MAX 300
#define DRIVER_NOTE_MAX 4096
#define DRIVER_MS_MOD 1000000000L

static volatile sig_atomic_t stop_flag;
static volatile sig_atomic_t wake_flag;
static volatile sig_atomic_t wake_ms; /* ms of the last wake signal, mod 1e9 */
static int wake_pipe[2] = {-1, -1};

static void on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

static long mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts); /* async-signal-safe */
	return (long)((ts.tv_sec % 1000000) * 1000 + ts.tv_nsec / 1000000) % DRIVER_MS_MOD;
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

struct driver {
	long handler_ms;
	unsigned long calls, ticks;
	int nodrain, stuck;
	const char *notice_file;
	char mention[DRIVER_WORD_MAX], see[DRIVER_WORD_MAX];
	char text[512];
	char note[DRIVER_NOTE_MAX];
};

/* word copies the text after key in s, up to a blank, into buf; 0 if s
 * has no key. */
static int word(const char *s, const char *key, char *buf, size_t len)
{
	const char *p = strstr(s, key);
	size_t n;

	if (!p)
		return 0;
	p += strlen(key);
	n = strcspn(p, " \t\n");
	if (n >= len)
		n = len - 1;
	memcpy(buf, p, n);
	buf[n] = '\0';
	return 1;
}

static enum err tick(void *ctx, struct tr_notice *out)
{
	struct driver *d = ctx;
	long lat = (mono_ms() - wake_ms + DRIVER_MS_MOD) % DRIVER_MS_MOD;
	char buf[64];
	size_t n = 0;
	ssize_t k;
	FILE *f;

	d->ticks++;
	if (wake_flag) {
		wake_flag = 0;
		snprintf(d->note, sizeof(d->note), "tick: woken by flag after %ld ms <&>", lat);
		out->mod_text = d->note;
		return ERR_OK;
	}
	if (!d->nodrain) {
		while ((k = read(wake_pipe[0], buf, sizeof(buf))) > 0)
			n += (size_t)k;
	} else if (!d->stuck) { /* say it once, as a core would before it broke */
		struct pollfd p = {wake_pipe[0], POLLIN, 0};

		n = d->stuck = poll(&p, 1, 0) > 0;
	}
	if (n) {
		snprintf(d->note, sizeof(d->note), "tick: woken by fd after %ld ms <&>", lat);
		out->mod_text = d->note;
		return ERR_OK;
	}
	if (d->notice_file && (f = fopen(d->notice_file, "r"))) {
		n = fread(d->note, 1, sizeof(d->note) - 1, f);
		fclose(f);
		d->note[n] = '\0';
		unlink(d->notice_file);
		out->mod_text = d->note;
	}
	return ERR_OK;
}

static enum err handle(void *ctx, const struct tr_message *msg, struct tr_reply *out)
{
	struct driver *d = ctx;
	size_t n = strlen(msg->text);
	struct timespec ts;

	d->calls++;
	if (d->handler_ms > 0) {
		ts.tv_sec = d->handler_ms / 1000;
		ts.tv_nsec = (d->handler_ms % 1000) * 1000000L;
		nanosleep(&ts, NULL);
	}
	if (strstr(msg->text, "CRISIS")) {
		out->reply = 1;
		out->kind = "crisis";
		out->entry_id = "crisis-test";
		out->text = "You matter, and you are not alone.\n\n"
		            "Call <your local line> now & tell them \"it's urgent\".";
		out->alert_moderators = 1;
	} else if ((n > 0 && msg->text[n - 1] == '?') || msg->direct || msg->mentions_bot) {
		out->reply = 1;
		out->kind = "faq";
		out->entry_id = msg->direct ? "faq-direct" : "faq-test";
		out->text = "An <answer> & its \"first\" paragraph.\nSame paragraph.\n\n"
		            "A second <b>paragraph</b>.";
		if (strstr(msg->text, "POWER")) {
			snprintf(d->text, sizeof(d->text), "power=%d account=%s",
			         msg->sender_power,
			         msg->sender_account ? msg->sender_account : "(none)");
			out->text = d->text;
		}
	} else {
		return ERR_OK;
	}
	if (word(msg->text, "mention=", d->mention, sizeof(d->mention)))
		out->mention = d->mention;
	if (word(msg->text, "see=", d->see, sizeof(d->see)))
		out->see_event = d->see;
	if (strstr(msg->text, "MODNOTE"))
		out->mod_text = "core note: <b>entry</b> & \"more\"";
	return ERR_OK;
}

static int add(const char **list, size_t *n, const char *v)
{
	if (*n >= DRIVER_LIST_MAX)
		return -1;
	list[(*n)++] = v;
	return 0;
}

static const char *env_secret(const char *var)
{
	const char *v = var ? getenv(var) : NULL;

	return v && *v ? v : NULL;
}

int main(int argc, char **argv)
{
	const char *rooms[DRIVER_LIST_MAX], *allow[DRIVER_LIST_MAX], *mods[DRIVER_LIST_MAX];
	struct matrix_config cfg;
	struct driver d;
	struct tr_tick tk = {tick, -1, &wake_flag};
	int ticks_on = 1;
	struct matrix_stats st;
	struct matrix *m = NULL;
	struct loop *l = NULL;
	struct loop_config lc;
	struct sigaction sa;
	char err[512] = "";
	const char *tok_env = NULL, *pw_env = NULL, *pickle_env = NULL;
	enum err e;
	int i, rc = 1;

	memset(&cfg, 0, sizeof(cfg));
	memset(&d, 0, sizeof(d));
	for (i = 1; i + 1 < argc; i += 2) {
		const char *k = argv[i], *v = argv[i + 1];
		int bad = 0;

		if (!strcmp(k, "--hs"))
			cfg.homeserver = v;
		else if (!strcmp(k, "--user"))
			cfg.user_id = v;
		else if (!strcmp(k, "--state"))
			cfg.state_dir = v;
		else if (!strcmp(k, "--token-env"))
			tok_env = v;
		else if (!strcmp(k, "--password-env"))
			pw_env = v;
		else if (!strcmp(k, "--pickle-key-env"))
			pickle_env = v;
		else if (!strcmp(k, "--room"))
			bad = add(rooms, &cfg.n_rooms, v);
		else if (!strcmp(k, "--allow"))
			bad = add(allow, &cfg.n_allow_invites, v);
		else if (!strcmp(k, "--mod"))
			bad = add(mods, &cfg.n_moderators, v);
		else if (!strcmp(k, "--mod-room"))
			cfg.mod_room = v;
		else if (!strcmp(k, "--sync-timeout-ms"))
			cfg.sync_timeout_ms = strtol(v, NULL, 10);
		else if (!strcmp(k, "--request-timeout-ms"))
			cfg.request_timeout_ms = strtol(v, NULL, 10);
		else if (!strcmp(k, "--backoff-max-ms"))
			cfg.backoff_max_ms = strtol(v, NULL, 10);
		else if (!strcmp(k, "--max-body"))
			cfg.max_body = (size_t)strtoul(v, NULL, 10);
		else if (!strcmp(k, "--handler-ms"))
			d.handler_ms = strtol(v, NULL, 10);
		else if (!strcmp(k, "--tick"))
			ticks_on = strcmp(v, "0") != 0;
		else
			bad = 1;
		if (bad) {
			fprintf(stderr, "mx_driver: bad option %s\n", k);
			return 2;
		}
	}
	if (i != argc) {
		fprintf(stderr, "mx_driver: options come in pairs\n");
		return 2;
	}
	cfg.rooms = rooms;
	cfg.allow_invites = allow;
	cfg.moderators = mods;
	cfg.access_token = env_secret(tok_env);
	cfg.password = env_secret(pw_env);
	cfg.pickle_key = env_secret(pickle_env);
	if (getenv("MX_DRIVER_DEBUG"))
		log_set_level(LOG_DEBUG);

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	if (pipe(wake_pipe) != 0 || fcntl(wake_pipe[0], F_SETFL, O_NONBLOCK) != 0 ||
	    fcntl(wake_pipe[1], F_SETFL, O_NONBLOCK) != 0) {
		fprintf(stderr, "mx_driver: pipe: %s\n", strerror(errno));
		return 1;
	}
	sa.sa_handler = on_wake;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGUSR2, &sa, NULL);
	d.notice_file = getenv("MX_DRIVER_NOTICE_FILE");
	d.nodrain = getenv("MX_DRIVER_WAKE_NODRAIN") != NULL;
	tk.wake_fd = wake_pipe[0];

	e = matrix_new(&cfg, &m, err, sizeof(err));
	if (e != ERR_OK) {
		fprintf(stderr, "mx_driver: %s\n", err);
		return 1;
	}
	if (getenv("MX_DRIVER_WAKE_CLOSED"))
		tk.wake_fd = 1000; /* not open: curl will not get it either */
	memset(&lc, 0, sizeof(lc));
	lc.handle = handle;
	lc.ctx = &d;
	lc.stop = &stop_flag;
	if (ticks_on)
		lc.tick = tk;
	e = loop_new(&lc, &l);
	if (e == ERR_OK)
		e = loop_add(l, &matrix_ops, m, cfg.state_dir, NULL, 1);
	if (e == ERR_OK)
		e = loop_run(l);
	matrix_get_stats(m, &st);
	fprintf(stderr,
	        "mx_driver: stats syncs=%lu batches=%lu messages=%lu replies=%lu "
	        "alerts=%lu retries=%lu skipped=%lu joins=%lu declined=%lu calls=%lu "
	        "ticks=%lu/%lu notices=%lu unreadable=%lu decrypted=%lu undecryptable=%lu "
	        "refused_enc=%lu\n",
	        st.syncs, st.batches, st.messages, st.replies, st.alerts, st.retries,
	        st.skipped, st.joins, st.declined, d.calls, l ? loop_ticks(l) : 0UL, d.ticks, st.notices,
	        st.unreadable, st.decrypted, st.undecryptable, st.refused_enc);
	if (e != ERR_OK)
		fprintf(stderr, "mx_driver: %s\n", matrix_errstr(m));
	else
		rc = 0;
	loop_free(l);
	matrix_free(m);
	close(wake_pipe[0]);
	close(wake_pipe[1]);
	return rc;
}
