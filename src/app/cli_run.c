/* cli_run.c -- `faqbot run`, `faqbot chat` and `faqbot health`
 * (cli_run.h): the core wired to the transports and the loop. */
#include "cli_run.h"

#include <errno.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "console.h"
#include "faq_learn.h"
#include "health.h"
#include "log.h"
#include "loop.h"
#include "metrics_http.h"
#include "nets.h"
#include "prefilter.h"
#include "serve.h"

/* console_serve makes the bot the console talks to: the operator at the
 * terminal is a moderator, nothing is persisted, FAQ edits are live. */
static struct serve *console_serve(const struct cli_opts *o, int *rc)
{
	struct serve_config sc = {0};
	struct serve *s = NULL;
	struct faq *faq = cli_load_faq(o, rc);
	char err[512];

	if (!faq)
		return NULL;
	sc.faq_dir = cli_faq_dir(o);
	sc.region = o->region;
	sc.everyone_moderates = 1;
	sc.max_age_days = CONFIG_FAQ_MAX_AGE_DAYS;
	sc.watch = 1;
	if (serve_new(&sc, faq, &s, err, sizeof(err)) != ERR_OK) {
		fprintf(stderr, "faqbot: %s\n", err);
		return NULL;
	}
	return s;
}

/* the hooks the loop gets from the running bot */
static void serve_loop_config(struct serve *s, volatile sig_atomic_t *stop,
			      volatile sig_atomic_t *reload, struct loop_config *lc)
{
	memset(lc, 0, sizeof(*lc));
	lc->handle = serve_handle;
	lc->ctx = s;
	lc->tick.fn = serve_tick;
	lc->tick.wake_fd = serve_wake_fd(s);
	lc->tick.wake = reload;
	lc->tick_next = serve_next_ms;
	lc->stop = stop;
}

int cli_chat(const struct cli_opts *o)
{
	int rc = CLI_EXIT_FAQ;
	struct serve *s = console_serve(o, &rc);
	struct console *c = NULL;
	struct loop *l = NULL;
	struct loop_config lc;

	if (!s)
		return rc;
	rc = 0;
	/* the console prints what matters itself; its log would only
	 * interleave with the conversation */
	log_set_level(LOG_WARN);
	serve_loop_config(s, NULL, NULL, &lc);
	if (console_new(STDIN_FILENO, stdout, isatty(STDIN_FILENO), &c) != ERR_OK ||
	    loop_new(&lc, &l) != ERR_OK || loop_add(l, &console_ops, c, NULL, NULL, 0) != ERR_OK) {
		fprintf(stderr, "faqbot: out of memory\n");
		rc = CLI_EXIT_RUNTIME;
	} else if (loop_run(l) != ERR_OK) {
		rc = CLI_EXIT_RUNTIME;
	}
	loop_free(l);
	console_free(c);
	serve_free(s);
	return rc;
}

/* print_lag says how far behind the network's transport was at its last
 * mark, when the mark says (Matrix's does). */
static void print_lag(const struct nets_mark *mk, int named, FILE *f)
{
	struct health_lag lag;

	if (health_read_lag(mk->dir, mk->file, &lag) != ERR_OK)
		return;
	fprintf(f,
		"faqbot: %s%sbehind: the oldest event of the last batch was handled %lld ms after "
		"it was sent; %ld sends waiting%s",
		named ? mk->name : "", named ? ": " : "", lag.behind_ms, lag.sends,
		lag.sends ? "" : "\n");
	if (lag.sends)
		fprintf(f, ", the oldest for %lld s\n", lag.send_age_ms / 1000);
	if (lag.txns > 0)
		fprintf(f,
			"faqbot: %s%s%ld transactions received and not acknowledged yet, the oldest "
			"first came %lld s ago\n",
			named ? mk->name : "", named ? ": " : "", lag.txns, lag.txn_age_ms / 1000);
	else if (lag.txns == 0)
		fprintf(f, "faqbot: %s%sno transaction waiting to be acknowledged\n",
			named ? mk->name : "", named ? ": " : "");
}

int cli_health(int argc, char **argv)
{
	const char *path = NULL;
	struct config *cfg = NULL;
	long max_age = -1, age;
	struct nets_mark marks[NETS_MARKS_MAX];
	size_t n, k;
	char err[1024];
	enum err e = ERR_OK;
	int i;

	for (i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) {
			path = argv[++i];
		} else if (strcmp(argv[i], "--max-age") == 0 && i + 1 < argc) {
			char *end;

			errno = 0;
			max_age = strtol(argv[++i], &end, 10);
			if (errno || end == argv[i] || *end || max_age < 1 ||
			    max_age > HEALTH_MAX_AGE_MAX_S)
				return cli_usage_error(
					"health: --max-age takes a number of seconds, not "
					"'%s'",
					argv[i]);
		} else {
			return cli_usage_error("health: unexpected '%s' (health --config FILE "
					       "[--max-age SECONDS])",
					       argv[i]);
		}
	}
	if (!path)
		return cli_usage_error("%s", "health: give --config FILE: its state_dir holds the "
					     "time of the bot's last sync");
	if (health_read_config(path, &cfg, err, sizeof(err)) != ERR_OK) {
		fprintf(stderr, "faqbot: %s\n", err);
		return CLI_EXIT_CONFIG;
	}
	n = nets_marks(cfg, marks);
	if (!n) {
		fprintf(stderr,
			"faqbot: %s configures no chat network with a state_dir: nothing "
			"to check\n",
			path);
		config_free(cfg);
		return CLI_EXIT_CONFIG;
	}
	/* each network its own line: one unhealthy is the bot unhealthy */
	for (k = 0; k < n; k++) {
		long max = max_age < 0 ? marks[k].max_age_s : max_age;
		int matrix = !strcmp(marks[k].name, "matrix");
		enum err ek = health_check_file(marks[k].dir, marks[k].file, max, time(NULL), &age,
						err, sizeof(err));

		if (ek == ERR_OK)
			printf("faqbot: healthy: %s%sthe last %s %ld s ago (at most %ld s)\n",
			       n > 1 ? marks[k].name : "", n > 1 ? ": " : "",
			       matrix ? "sync completed" : "sign of a registered IRC session was",
			       age, max);
		else
			fprintf(stderr, "faqbot: unhealthy: %s%s%s\n", n > 1 ? marks[k].name : "",
				n > 1 ? ": " : "", err);
		if (ek != ERR_OK)
			e = ek;
		print_lag(&marks[k], n > 1, ek == ERR_OK ? stdout : stderr);
	}
	config_free(cfg);
	return e == ERR_OK ? 0 : CLI_EXIT_RUNTIME;
}

/* --- faqbot run: the core wired to a transport ------------------------ */

static volatile sig_atomic_t run_stop, run_reload;

static void on_hup(int sig)
{
	(void)sig;
	run_reload = 1;
}

static void on_stop_signal(int sig)
{
	(void)sig;
	run_stop = 1;
}

/* install_stop_handlers: SIGINT and SIGTERM end the run, gently; SIGHUP
 * reloads the FAQ (serve.h). */
static void install_stop_handlers(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sa.sa_handler = on_hup;
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

/* make_serve builds the running bot for the network cfg configures; it
 * takes faq. Exit code on failure, 0 on success. */
static int make_serve(const struct cli_opts *o, const struct config *cfg, const char *path,
		      struct faq *faq, struct serve **out)
{
	struct serve_config sc = {0};
	const char *irc_room = NULL, **mods;
	char err[1024];
	enum err e;
	size_t i;

	sc.faq_dir = cli_faq_dir(o);
	sc.region = o->region;
	sc.cfg = cfg;
	sc.policy = cfg->policy;
	sc.state_dir = cfg->state_dir_bot ? cfg->state_dir_bot : cfg->state_dir;
	if (cfg->has_matrix) {
		sc.mod_room = cfg->moderators_room;
		sc.moderator_power = cfg->moderator_power;
	}
	for (i = 0; cfg->has_irc && i < cfg->irc_moderators.n && !irc_room; i++)
		if (cfg->irc_moderators.v[i][0] == '#' || cfg->irc_moderators.v[i][0] == '&')
			irc_room = cfg->irc_moderators.v[i];
	if (sc.mod_room)
		sc.mod_room2 = irc_room;
	else
		sc.mod_room = irc_room;
	/* Matrix user ids, and IRC services accounts only: a nick is anyone's
	 * to take. Both networks in one process: both lists. */
	mods = calloc(cfg->moderators.n + cfg->irc_moderator_accounts.n + 1, sizeof(*mods));
	if (!mods) {
		faq_free(faq);
		return CLI_EXIT_RUNTIME;
	}
	for (i = 0; cfg->has_matrix && i < cfg->moderators.n; i++)
		mods[sc.n_moderators++] = cfg->moderators.v[i];
	for (i = 0; cfg->has_irc && i < cfg->irc_moderator_accounts.n; i++)
		mods[sc.n_moderators++] = cfg->irc_moderator_accounts.v[i];
	sc.moderators = mods;
	sc.cooldown_s = cfg->cooldown_s;
	sc.stats_days = cfg->stats_days;
	sc.max_age_days = (int)cfg->faq_max_age_days;
	sc.keep_unanswered = cfg->unanswered_log;
	sc.unanswered_days = cfg->unanswered_days;
	sc.watch = cfg->watch_faq;
	sc.debounce_ms = SERVE_DEBOUNCE_MS;
	sc.reload_flag = &run_reload;
	if (sc.keep_unanswered && !sc.state_dir) {
		fprintf(stderr, "faqbot: %s: unanswered_log needs a state_dir to write to\n", path);
		faq_free(faq);
		free(mods);
		return CLI_EXIT_CONFIG;
	}
	e = serve_new(&sc, faq, out, err, sizeof(err));
	free(mods); /* serve keeps copies */
	if (e != ERR_OK) {
		fprintf(stderr, "faqbot: %s\n", err);
		return CLI_EXIT_CONFIG;
	}
	return 0;
}

/* run_nets serves the networks cfg configures, in the one loop, until a
 * stop signal. */
static int run_nets(struct serve *s, const struct config *cfg)
{
	struct nets *n = NULL;
	struct loop *l = NULL;
	struct loop_config lc;
	char err[1024];
	enum err e;

	if (nets_new(cfg, &n, err, sizeof(err)) != ERR_OK) {
		fprintf(stderr, "faqbot: %s\n", err);
		return CLI_EXIT_CONFIG;
	}
	/* A long-running bot parses sync bodies of up to megabytes, then frees
	 * them. Without these, glibc keeps the freed heap for reuse, and the
	 * resident size only grows; with them, big buffers are mmapped and
	 * given back, and the heap top is trimmed. */
	mallopt(M_MMAP_THRESHOLD, 64 * 1024);
	mallopt(M_TRIM_THRESHOLD, 128 * 1024);
	install_stop_handlers();
	serve_loop_config(s, &run_stop, &run_reload, &lc);
	e = loop_new(&lc, &l);
	if (e == ERR_OK)
		e = nets_add(n, l);
	if (e == ERR_OK) {
		e = loop_run(l);
		if (e != ERR_OK)
			fprintf(stderr, "faqbot: %s\n", loop_errstr(l));
		else
			nets_log_stats(n);
	} else {
		fprintf(stderr, "faqbot: out of memory\n");
	}
	loop_free(l);
	nets_free(n);
	return e == ERR_OK ? 0 : CLI_EXIT_CONFIG;
}

/* run_config loads the config at path into *cfg, which must name a chat
 * network; 0, or the exit status having said what is wrong. */
static int run_config(const char *path, struct config **cfg)
{
	char err[1024];

	if (config_load(path, cfg, err, sizeof(err)) != ERR_OK) {
		fprintf(stderr, "faqbot: %s\n", err);
		return CLI_EXIT_CONFIG;
	}
	if (!(*cfg)->has_matrix && !(*cfg)->has_irc) {
		fprintf(stderr,
			"faqbot: %s configures no chat network (add a [matrix] or [irc] "
			"section); for the console, run faqbot with no --config\n",
			path);
		config_free(*cfg);
		*cfg = NULL;
		return CLI_EXIT_CONFIG;
	}
	return 0;
}

/* run_cache puts the learned stage's cache, and the prefilter's, in the
 * bot's own state folder, unless FAQBOT_CACHE names one (bots that share
 * a FAQ, and a test suite, then build them once) */
static void run_cache(const struct config *cfg)
{
	static char cache[4096];
	const char *sd = cfg->state_dir_bot ? cfg->state_dir_bot : cfg->state_dir;

	if (sd && !getenv("FAQBOT_CACHE")) {
		snprintf(cache, sizeof(cache), "%s/learn-cache", sd);
		faq_learn_set_cache(cache);
		prefilter_set_cache(cache);
	}
}

/* run_regions: the config's region (where the command line named none)
 * and every [room]'s have crisis lines in faq; 0, or the exit status
 * having said which has none. */
static int run_regions(const struct cli_opts *o, const struct config *cfg, const char *path,
		       const struct faq *faq)
{
	size_t i;

	if (!o->region && cfg->region && !faq_region(faq, cfg->region)) {
		char list[256];

		cli_regions(faq, list, sizeof(list));
		fprintf(stderr,
			"faqbot: %s: region '%s': no crisis lines for that region; the "
			"FAQ has %s\n",
			path, cfg->region, list);
		return CLI_EXIT_CONFIG;
	}
	for (i = 0; i < cfg->nroom; i++)
		if (cfg->room[i].region && !faq_region(faq, cfg->room[i].region)) {
			fprintf(stderr, "faqbot: %s: room %s: no crisis lines for region '%s'\n",
				path, cfg->room[i].id, cfg->room[i].region);
			return CLI_EXIT_CONFIG;
		}
	return 0;
}

/* run_metrics starts the metrics endpoint cfg asks for into *mh; 0, or
 * the exit status having said why it could not. */
static int run_metrics(const struct config *cfg, const char *path, struct metrics_http **mh)
{
	char why[256];

	if (metrics_http_start(cfg->metrics_listen, mh, why, sizeof(why)) != ERR_OK) {
		fprintf(stderr, "faqbot: %s: %s\n", path, why);
		return CLI_EXIT_CONFIG;
	}
	log_info("metrics: GET /metrics on %s (port %u)",
		 cfg->metrics_listen ? cfg->metrics_listen : METRICS_HTTP_DEFAULT,
		 metrics_http_port(*mh));
	return 0;
}

int cli_run(struct cli_opts *o, int argc, char **argv)
{
	struct metrics_http *mh = NULL;
	const char *path = NULL;
	struct config *cfg = NULL;
	struct serve *s = NULL;
	struct faq *faq;
	int i, rc;

	for (i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
			path = argv[++i];
		else
			return cli_usage_error("run: unexpected '%s' (run [--config FILE])",
					       argv[i]);
	}
	if (!path)
		return cli_chat(o);
	rc = run_config(path, &cfg);
	if (rc != 0)
		return rc;
	log_set_text(cfg->log_message_text);
	run_cache(cfg);
	if (!o->faq_dir)
		o->faq_dir = cfg->faq_dir;
	faq = cli_load_faq(o, &rc);
	if (!faq) {
		config_free(cfg);
		return rc;
	}
	rc = run_regions(o, cfg, path, faq);
	if (rc != 0) {
		faq_free(faq);
		config_free(cfg);
		return rc;
	}
	if (!o->region)
		o->region = cfg->region;
	/* serving needs neither the examples (check reads them) nor the heap
	 * pages loading left free */
	faq_drop_examples(faq);
	malloc_trim(0);
	log_info("start faq=%s entries=%zu region=%s", cli_faq_dir(o), faq->nentries,
		 o->region ? o->region : faq->default_region);
	rc = make_serve(o, cfg, path, faq, &s);
	if (rc == 0 && cfg->has_metrics)
		rc = run_metrics(cfg, path, &mh);
	if (rc == 0) {
		rc = run_nets(s, cfg);
		serve_save(s);
	}
	metrics_http_stop(mh);
	serve_free(s);
	config_free(cfg);
	return rc;
}
