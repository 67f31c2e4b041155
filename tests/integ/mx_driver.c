/* mx_driver.c -- the Matrix transport with a stand-in core, for the
 * scenario scripts (tests/integ/matrix_*.sh) and the latency bench.
 *
 * It links src/net/matrix/matrix.c and friends as they are, and answers with
 * the stand-in core the IRC driver shares (standin.h), in Matrix's words
 * and texts (mx_dialect below), instead of the FAQ: a message containing "CRISIS" is a crisis
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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "matrix.h"
#include "standin.h"

#define DRIVER_LIST_MAX 64

/* Matrix's words and texts for the stand-in core: HTML specials in every
 * text, so that each reply and notice tests the escaping */
static const struct standin_dialect mx_dialect = {
    .crisis = "You matter, and you are not alone.\n\n"
              "Call <your local line> now & tell them \"it's urgent\".",
    .answer = "An <answer> & its \"first\" paragraph.\nSame paragraph.\n\n"
              "A second <b>paragraph</b>.",
    .crisis_steered = 1,
    .mention_key = "mention=",
    .see_key = "see=",
    .mod_key = "MODNOTE",
    .mod_text = "core note: <b>entry</b> & \"more\"",
    .whoami_key = "POWER",
    .tick_timed = 1,
};

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
	struct standin_opts so = {0};
	struct standin_stats ss;
	struct matrix_stats st;
	struct matrix *m = NULL;
	char err[512] = "";
	const char *tok_env = NULL, *pw_env = NULL, *pickle_env = NULL;
	enum err e;
	int i, rc = 1;

	memset(&cfg, 0, sizeof(cfg));
	so.tick = 1;
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
			so.handler_ms = strtol(v, NULL, 10);
		else if (!strcmp(k, "--tick"))
			so.tick = strcmp(v, "0") != 0;
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

	so.notice_file = getenv("MX_DRIVER_NOTICE_FILE");
	so.wake_nodrain = getenv("MX_DRIVER_WAKE_NODRAIN") != NULL;
	so.wake_closed = getenv("MX_DRIVER_WAKE_CLOSED") != NULL;

	e = matrix_new(&cfg, &m, err, sizeof(err));
	if (e != ERR_OK) {
		fprintf(stderr, "mx_driver: %s\n", err);
		return 1;
	}
	e = standin_run(&mx_dialect, &so, &matrix_ops, m, cfg.state_dir, &ss);
	matrix_get_stats(m, &st);
	fprintf(stderr,
	        "mx_driver: stats syncs=%lu batches=%lu messages=%lu replies=%lu "
	        "alerts=%lu retries=%lu skipped=%lu joins=%lu declined=%lu calls=%lu "
	        "ticks=%lu/%lu notices=%lu unreadable=%lu decrypted=%lu undecryptable=%lu "
	        "refused_enc=%lu\n",
	        st.syncs, st.batches, st.messages, st.replies, st.alerts, st.retries,
	        st.skipped, st.joins, st.declined, ss.calls, ss.loop_ticks, ss.ticks, st.notices,
	        st.unreadable, st.decrypted, st.undecryptable, st.refused_enc);
	if (e != ERR_OK)
		fprintf(stderr, "mx_driver: %s\n", matrix_errstr(m));
	else
		rc = 0;
	matrix_free(m);
	return rc;
}
