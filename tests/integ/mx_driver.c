/* mx_driver.c -- the Matrix transport with a stand-in core, for the
 * scenario scripts (tests/integ/matrix_*.sh) and the latency bench.
 *
 * It links src/matrix.c and friends as they are, and answers with a fixed
 * rule instead of the FAQ: a message containing "CRISIS" is a crisis
 * (reply and moderators' alert), a question (ends with '?'), a direct
 * message or a mention gets an FAQ answer, anything else silence. The
 * answer text carries HTML specials on purpose, so every reply tests the
 * escaping. Secrets come from environment variables named on the command
 * line, never from argv itself.
 *
 *   mx_driver --hs URL --user ID --state DIR [--token-env VAR]
 *             [--password-env VAR] [--room R]... [--allow A]... [--mod-room R]
 *             [--mod U]... [--sync-timeout-ms N] [--request-timeout-ms N]
 *             [--backoff-max-ms N] [--handler-ms N]
 *
 * Exit: 0 after SIGINT/SIGTERM, 1 with one line on standard error. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "matrix.h"

#define DRIVER_LIST_MAX 64

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

struct driver {
	long handler_ms;
	unsigned long calls;
};

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
		return ERR_OK;
	}
	if ((n > 0 && msg->text[n - 1] == '?') || msg->direct || msg->mentions_bot) {
		out->reply = 1;
		out->kind = "faq";
		out->entry_id = msg->direct ? "faq-direct" : "faq-test";
		out->text = "An <answer> & its \"first\" paragraph.\nSame paragraph.\n\n"
		            "A second <b>paragraph</b>.";
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

static const char *env_secret(const char *var)
{
	const char *v = var ? getenv(var) : NULL;

	return v && *v ? v : NULL;
}

int main(int argc, char **argv)
{
	const char *rooms[DRIVER_LIST_MAX], *allow[DRIVER_LIST_MAX], *mods[DRIVER_LIST_MAX];
	struct matrix_config cfg;
	struct driver d = {0, 0};
	struct matrix_stats st;
	struct matrix *m = NULL;
	struct sigaction sa;
	char err[512] = "";
	const char *tok_env = NULL, *pw_env = NULL;
	enum err e;
	int i, rc = 1;

	memset(&cfg, 0, sizeof(cfg));
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
		else if (!strcmp(k, "--handler-ms"))
			d.handler_ms = strtol(v, NULL, 10);
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
	if (getenv("MX_DRIVER_DEBUG"))
		log_set_level(LOG_DEBUG);

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	e = matrix_new(&cfg, &m, err, sizeof(err));
	if (e != ERR_OK) {
		fprintf(stderr, "mx_driver: %s\n", err);
		return 1;
	}
	e = matrix_run(m, handle, &d, &stop_flag);
	matrix_get_stats(m, &st);
	fprintf(stderr,
	        "mx_driver: stats syncs=%lu batches=%lu messages=%lu replies=%lu "
	        "alerts=%lu retries=%lu skipped=%lu joins=%lu declined=%lu calls=%lu\n",
	        st.syncs, st.batches, st.messages, st.replies, st.alerts, st.retries,
	        st.skipped, st.joins, st.declined, d.calls);
	if (e != ERR_OK)
		fprintf(stderr, "mx_driver: %s\n", matrix_errstr(m));
	else
		rc = 0;
	matrix_free(m);
	return rc;
}
