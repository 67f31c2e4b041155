/* irc_driver.c -- the IRC transport with a stand-in core, for the scenario
 * scripts (tests/integ/irc_*.sh).
 *
 * It links src/net/irc/irc.c and friends as they are, and answers with the
 * stand-in core the Matrix driver shares (standin.h), in IRC's words and
 * texts (irc_dialect below), instead of the FAQ: a message containing "CRISIS" is a crisis
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
 * one resets it and posts "TICK n flag" or "TICK n fd" to the
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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "irc.h"
#include "log.h"
#include "standin.h"

#define DRIVER_LIST_MAX 64

/* IRC's words and texts for the stand-in core: plain text, one long
 * answer for the splitter, the asker's number in each answer */
static const struct standin_dialect irc_dialect = {
    .crisis = "You matter, and you are not alone. Please call your local "
              "crisis line now, or your emergency number.",
    .answer = "Many people here have asked the same. Talk to your "
              "prescriber. You are welcome in this group.",
    .numbered = 1,
    .addressed_only = 1,
    .mention_key = "MENTION",
    .mod_key = "MODTEXT",
    .mod_text = "A notice for the moderators from the handler.",
    .whoami_key = "WHOAMI",
    .whoami_upper = 1,
    .long_key = "LONG",
};

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
	struct standin_opts so = {0};
	struct standin_stats ss;
	struct irc_stats st;
	struct irc *irc = NULL;
	char err[512] = "";
	const char *pass_env = NULL, *sasl_env = NULL;
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
			so.tick = (int)num_arg(v);
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

	e = irc_new(&cfg, &irc, err, sizeof(err));
	if (e != ERR_OK) {
		fprintf(stderr, "irc_driver: %s\n", err);
		return 1;
	}
	/* --tick 2: a wake fd that is not open (the loop must drop it, not spin) */
	so.wake_closed = so.tick == 2;
	e = standin_run(&irc_dialect, &so, &irc_ops, irc, cfg.state_dir, &ss);
	irc_get_stats(irc, &st);
	fprintf(stderr,
	        "irc_driver: stats connects=%lu registrations=%lu messages=%lu "
	        "replies=%lu lines=%lu alerts=%lu notices=%lu dropped=%lu bad_lines=%lu "
	        "pings=%lu calls=%lu ticks=%lu replayed=%lu expired=%lu resent=%lu "
	        "journal_errors=%lu sasl_retries=%lu\n",
	        st.connects, st.registrations, st.messages, st.replies, st.lines, st.alerts,
	        st.notices, st.dropped, st.bad_lines, st.pings_sent, ss.calls, ss.ticks, st.replayed,
	        st.expired, st.resent, st.journal_errors, st.sasl_retries);
	if (e != ERR_OK) {
		fprintf(stderr, "irc_driver: %s\n", irc_errstr(irc));
		irc_free(irc);
		return 1;
	}
	irc_free(irc);
	return 0;
}
