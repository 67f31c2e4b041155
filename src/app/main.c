/* main.c -- the command line: the global options, each command's help, and
 * which command runs (cli_ask.c, cli_faq.c, cli_run.c: cli.h). Only here
 * does the process exit, and only with the codes cli.h lists. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>
#include <yaml.h>

#include "cli.h"
#include "cli_appsvc.h"
#include "cli_ask.h"
#include "cli_faq.h"
#include "cli_keys.h"
#include "cli_run.h"
#include "curl_dl.h"
#include "faq_learn.h"
#include "match.h"
#include "prefilter.h"

#ifndef FAQBOT_VERSION
#define FAQBOT_VERSION "dev"
#endif
#ifndef FAQBOT_DATADIR
#define FAQBOT_DATADIR "/usr/local/share/faqbot"
#endif

static const char usage_text[] =
	"usage: faqbot [--faq DIR] [--region CODE] COMMAND [ARGS]\n"
	"\n"
	"commands:\n"
	"  run [--config FILE]\n"
	"                    start the bot on the networks FILE configures (see\n"
	"                    faqbot.ini.example); with no FILE, a console chat\n"
	"  chat              talk to the bot in this terminal (no server needed)\n"
	"  ask TEXT          print the reply a member would see for TEXT\n"
	"  ask [--json] -    read one message a line; with --json, print one JSON\n"
	"                    object a line: {\"kind\", \"id\", \"answer\"}\n"
	"      --explain     also say which stage decided (a pattern, where; or the\n"
	"                    learned stage, how sure) and why\n"
	"  check [DIR]       validate a FAQ folder (default: the one in use); errors\n"
	"                    as file:line:col: message\n"
	"      --seeds DIR   also require every source to be an article in DIR\n"
	"      --max-age N   warn about entries reviewed more than N days ago (365)\n"
	"  topics [--json] [--compiled]\n"
	"                    list every entry: id, class, question, word lists and\n"
	"                    patterns as written; --compiled: as PCRE2 runs them\n"
	"  health --config FILE [--max-age SECONDS]\n"
	"                    exit 0 when the bot FILE configures completed a sync in\n"
	"                    the last SECONDS (default: 2 x sync_timeout + 30 s, 90 s)\n"
	"  keys --config FILE\n"
	"                    the Matrix device's identity for encrypted rooms: its\n"
	"                    ed25519 fingerprint, for moderators to verify the bot\n"
	"  appservice-registration --config FILE [--rotate]\n"
	"                    the Application Service registration for the homeserver,\n"
	"                    its tokens made (or kept) in files only their owner reads\n"
	"\n"
	"options:\n"
	"  --faq DIR         the FAQ folder (default: $FAQBOT_FAQ_DIR, ./faq, or\n"
	"                    " FAQBOT_DATADIR "/faq)\n"
	"  --region CODE     crisis lines region (us, ca, uk, ie, au, nz, in, za,\n"
	"                    sg, ph; default from the FAQ)\n"
	"  -h, --help        this text\n"
	"  -V, --version     the version, with the libraries in use\n"
	"\n"
	"exit status: 0 success, 1 runtime failure, 2 usage error, 3 FAQ errors,\n"
	"             4 configuration or start-up error\n";

/* Each command's own help, for "faqbot COMMAND --help" (or -h): its lines
 * of the usage above, and what a newcomer to it most needs. */
static const struct {
	const char *name, *text;
} command_help[] = {
	{"run", "usage: faqbot run [--config FILE]\n"
		"Start the bot on the networks FILE configures (see faqbot.ini.example:\n"
		"[matrix] or [irc], a state_dir, secrets in files or the environment).\n"
		"With no FILE, the bot talks to this terminal, as 'faqbot chat' does.\n"
		"The FAQ is watched and reloaded when it changes, and on SIGHUP.\n"},
	{"chat", "usage: faqbot chat\n"
		 "Talk to the bot in this terminal: no server, no configuration. Type a\n"
		 "message as a member would; commands such as !faq and !help work too.\n"
		 "End with Ctrl-D.\n"},
	{"ask", "usage: faqbot ask TEXT\n"
		"       faqbot ask [--json] [--explain] -\n"
		"Print the reply a member would see for TEXT (exit 0; on stderr, why the\n"
		"bot would stay quiet). With '-', read one message a line from standard\n"
		"input; --json prints one object a line ({\"kind\", \"id\", \"answer\"}),\n"
		"and reads {\"sender\": ..., \"text\": ...} lines, so that one sender's\n"
		"messages are read together. --explain says which stage decided and why.\n"},
	{"check", "usage: faqbot check [--seeds DIR] [--max-age DAYS] [FAQ_DIR]\n"
		  "Validate a FAQ folder (default: the one in use). Every error is shown\n"
		  "as file:line:col: message, and the exit status is 3 when there is one.\n"
		  "Prints the learned stage's cross-validated figures. --seeds DIR also\n"
		  "requires every source to be an article in DIR; --max-age warns about\n"
		  "entries reviewed more than DAYS days ago (365).\n"},
	{"topics", "usage: faqbot topics [--json] [--compiled]\n"
		   "List every entry: its id, class, question, its word lists (names and\n"
		   "first words) and its patterns as written, {names} kept. --compiled\n"
		   "shows the patterns as PCRE2 runs them, word lists written out; with\n"
		   "--json, one object an entry, the compiled form only with --compiled.\n"},
	{"health", "usage: faqbot health --config FILE [--max-age SECONDS]\n"
		   "Exit 0 when the bot FILE configures completed a sync in the last\n"
		   "SECONDS (default: 2 x sync_timeout + 30 s), 1 when not: for a\n"
		   "container's HEALTHCHECK or a monitor.\n"},
	{"keys", "usage: faqbot keys --config FILE\n"
		 "Print the identity of the Matrix device the bot FILE configures uses in\n"
		 "encrypted rooms ([matrix] encryption = true): user, device, its ed25519\n"
		 "key and the same as a fingerprint in groups of four, and its curve25519\n"
		 "key. Moderators compare the fingerprint with the session key their\n"
		 "client shows for the bot's device before they verify it. Reads the\n"
		 "state folder with the pickle key; no network, no password needed.\n"},
	{"appservice-registration",
	 "usage: faqbot appservice-registration --config FILE [--rotate]\n"
	 "Write the registration the homeserver needs to push the [matrix] bot's events\n"
	 "to it ([appservice] in FILE): id, url, the as_token and hs_token, the bot's\n"
	 "sender_localpart and an exclusive namespace of its user alone. The tokens are\n"
	 "made from the kernel's random source into as_token_file and hs_token_file\n"
	 "(mode 0600; default: [matrix] state_dir), never printed. Run again, it keeps\n"
	 "them; --rotate makes new ones (copy the registration to the homeserver again).\n"},
	{"help", "usage: faqbot help\nThe list of commands (as faqbot --help).\n"},
	{"version", "usage: faqbot version\nThe version, with the libraries in use.\n"},
};

/* command_asks_help: the help of command when its arguments ask for it
 * (-h or --help anywhere among them), else NULL */
static const char *command_asks_help(const char *command, int argc, char **argv)
{
	size_t i;
	int j, asked = 0;

	for (j = 0; j < argc; j++)
		asked |= !strcmp(argv[j], "-h") || !strcmp(argv[j], "--help");
	if (!asked)
		return NULL;
	for (i = 0; i < sizeof(command_help) / sizeof(command_help[0]); i++)
		if (!strcmp(command_help[i].name, command))
			return command_help[i].text;
	return NULL;
}

/* cmd_version: faqbot --version, with the libraries in use. */
static int cmd_version(void)
{
	char pcre[96], why[256], curl[300], hs[300];

	match_version(pcre, sizeof(pcre));
	if (curl_dl_load(why, sizeof(why)) == ERR_OK) {
		const curl_version_info_data *cv = curl_version_info(CURLVERSION_NOW);

		snprintf(curl, sizeof(curl), "libcurl %s (%s)", cv->version,
			 cv->ssl_version ? cv->ssl_version : "no TLS");
	} else {
		snprintf(curl, sizeof(curl), "libcurl not loaded: %s", why);
	}
	prefilter_version(hs, sizeof(hs));
	printf("faqbot %s\n%s, %s, jansson %s, %s, libyaml %s, utf8proc %s\n", FAQBOT_VERSION, pcre,
	       hs, jansson_version_str(), curl, yaml_get_version_string(), utf8proc_version());
	return 0;
}

/* user_cache names where a trained learned stage and the prefilter's
 * compiled database are kept between runs of ask, check and chat:
 * $FAQBOT_CACHE, else $XDG_CACHE_HOME/faqbot, else
 * ~/.cache/faqbot ("FAQBOT_CACHE=" with nothing: no cache, train every
 * time). `run` keeps it in its state folder instead, unless FAQBOT_CACHE
 * is set. Without FAQBOT_CACHE, what was built at install in
 * FAQBOT_DATADIR/cache is read too. */
static void user_cache(void)
{
	static char buf[4096];
	const char *v = getenv("FAQBOT_CACHE"), *xdg = getenv("XDG_CACHE_HOME");
	const char *home = getenv("HOME");

	if (v) {
		faq_learn_set_cache(*v ? v : NULL);
		prefilter_set_cache(*v ? v : NULL);
		return;
	}
	/* what `make install` built for the FAQ as shipped: read when the
	 * cache has nothing for the FAQ at hand, so an installed bot's first
	 * start does not train. Not with FAQBOT_CACHE: that folder alone. */
	faq_learn_set_shipped(FAQBOT_DATADIR "/cache");
	prefilter_set_shipped(FAQBOT_DATADIR "/cache");
	if (xdg && *xdg == '/')
		snprintf(buf, sizeof(buf), "%s/faqbot", xdg);
	else if (home && *home == '/')
		snprintf(buf, sizeof(buf), "%s/.cache/faqbot", home);
	else
		return;
	faq_learn_set_cache(buf);
	prefilter_set_cache(buf);
}

int main(int argc, char **argv)
{
	struct cli_opts o = {NULL, NULL};
	int i;

	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		const char *a = argv[i];

		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			fputs(usage_text, stdout);
			return 0;
		} else if (strcmp(a, "-V") == 0 || strcmp(a, "--version") == 0) {
			return cmd_version();
		} else if (strcmp(a, "--faq") == 0 && i + 1 < argc) {
			o.faq_dir = argv[++i];
		} else if (strcmp(a, "--region") == 0 && i + 1 < argc) {
			o.region = argv[++i];
		} else {
			return cli_usage_error("unknown option '%s'", a);
		}
	}
	if (i >= argc)
		return cli_usage_error("%s", "no command given");
	{
		const char *help = command_asks_help(argv[i], argc - i - 1, argv + i + 1);

		if (help) {
			fputs(help, stdout);
			return 0;
		}
	}
	user_cache();
	if (strcmp(argv[i], "ask") == 0)
		return cli_ask(&o, argc - i - 1, argv + i + 1);
	if (strcmp(argv[i], "check") == 0)
		return cli_check(&o, argc - i - 1, argv + i + 1);
	if (strcmp(argv[i], "topics") == 0)
		return cli_topics(&o, argc - i - 1, argv + i + 1);
	if (strcmp(argv[i], "chat") == 0) {
		if (i + 1 < argc)
			return cli_usage_error(
				strcmp(argv[i + 1], "--config") == 0
					? "chat: no config: the console needs none "
					  "('%s'; 'faqbot run --config FILE' starts "
					  "the bot)"
					: "chat: unexpected '%s' (chat takes nothing)",
				argv[i + 1]);
		return cli_chat(&o);
	}
	if (strcmp(argv[i], "run") == 0)
		return cli_run(&o, argc - i - 1, argv + i + 1);
	if (strcmp(argv[i], "health") == 0)
		return cli_health(argc - i - 1, argv + i + 1);
	if (strcmp(argv[i], "keys") == 0)
		return cli_keys(argc - i - 1, argv + i + 1);
	if (strcmp(argv[i], "appservice-registration") == 0)
		return cli_appservice_registration(argc - i - 1, argv + i + 1);
	if (strcmp(argv[i], "help") == 0) {
		fputs(usage_text, stdout);
		return 0;
	}
	if (strcmp(argv[i], "version") == 0)
		return cmd_version();
	return cli_usage_error("unknown command '%s'", argv[i]);
}
