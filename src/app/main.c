/* main.c -- the command line and the wiring: the only file that sees every
 * module. Only here does the process exit, and only with the documented
 * codes:
 *   0  success
 *   1  a runtime failure (input unreadable, out of memory)
 *   2  a usage error (unknown command or option)
 *   3  the FAQ has errors (faqbot check, or any command that loads it)
 *   4  the configuration is wrong, or the chat network refused the bot at
 *      start-up (unreachable homeserver, wrong token) */
#include <errno.h>
#include <signal.h>
#include <jansson.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <utf8proc.h>
#include <yaml.h>

#include "bot.h"
#include "check.h"
#include "config.h"
#include "console.h"
#include "curl_dl.h"
#include "faq.h"
#include "faq_learn.h"
#include "health.h"
#include "helpline.h"
#include "metrics_http.h"
#include "log.h"
#include "nets.h"
#include "loop.h"
#include "match.h"
#include "prefilter.h"
#include "recent.h"
#include "serve.h"
#include "text.h"
#include "transport.h"

#ifndef FAQBOT_VERSION
#define FAQBOT_VERSION "dev"
#endif
#ifndef FAQBOT_DATADIR
#define FAQBOT_DATADIR "/usr/local/share/faqbot"
#endif

#define EXIT_RUNTIME 1
#define EXIT_USAGE   2
#define EXIT_FAQ     3
#define EXIT_CONFIG  4

/* One input line of `ask -` is at most this long; the rest of a longer line
 * is read and dropped (TEXT_MESSAGE_MAX, the most a message is read, is 64 KiB too). */
#define ASK_LINE_MAX (64 * 1024)

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

struct opts {
	const char *faq_dir;
	const char *region;
};

static int usage_error(const char *fmt, const char *arg)
{
	fprintf(stderr, "faqbot: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\nTry 'faqbot --help'.\n");
	return EXIT_USAGE;
}

static const char *default_faq_dir(void)
{
	const char *env = getenv("FAQBOT_FAQ_DIR");

	if (env && *env)
		return env;
	if (access("faq", R_OK | X_OK) == 0)
		return "faq";
	return FAQBOT_DATADIR "/faq";
}

static void print_diags(const struct faq_diags *d)
{
	size_t i;

	for (i = 0; i < d->n; i++) {
		const struct faq_diag *g = &d->v[i];

		if (g->line)
			fprintf(stderr, "%s:%u:%u: %s: %s\n", g->file, g->line, g->col,
				g->warning ? "warning" : "error", g->msg);
		else if (g->file[0])
			fprintf(stderr, "%s: %s: %s\n", g->file, g->warning ? "warning" : "error",
				g->msg);
		else
			fprintf(stderr, "faqbot: %s: %s\n", g->warning ? "warning" : "error", g->msg);
	}
}

/* regions_of writes the FAQ's crisis line regions, "us, ca, ...", to buf. */
static void regions_of(const struct faq *faq, char *buf, size_t n)
{
	size_t i, o = 0;

	buf[0] = '\0';
	for (i = 0; i < faq->nregions && o < n; i++)
		if (strcmp(faq->regions[i].code, HELPLINE_INTL))
			o += (size_t)snprintf(buf + o, n - o, "%s%s", o ? ", " : "",
					      faq->regions[i].code);
}

/* load_or_say loads the FAQ; on failure it prints why, sets *rc to the
 * exit status (EXIT_FAQ; EXIT_USAGE for a --region the FAQ has no lines
 * for) and returns NULL. On success *rc is left as it was: callers go on
 * to return it. */
static struct faq *load_or_say(const struct opts *o, int *rc)
{
	struct faq_diags d = {0};
	struct faq *faq = NULL;
	const char *dir = o->faq_dir ? o->faq_dir : default_faq_dir();

	if (faq_learn_load(dir, &faq, &d) != ERR_OK) {
		*rc = EXIT_FAQ;
		print_diags(&d);
		fprintf(stderr, "faqbot: the FAQ in %s has %zu error(s); run 'faqbot check %s'\n",
			dir, d.errors, dir);
	} else if (o->region && !faq_region(faq, o->region)) {
		char list[256];

		regions_of(faq, list, sizeof(list));
		fprintf(stderr, "faqbot: --region '%s': no crisis lines for that region; "
				"the FAQ has %s\nTry 'faqbot --help'.\n", o->region, list);
		*rc = EXIT_USAGE;
		faq_free(faq);
		faq = NULL;
	}
	faq_diags_release(&d);
	return faq;
}

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
	printf("faqbot %s\n%s, %s, jansson %s, %s, libyaml %s, utf8proc %s\n", FAQBOT_VERSION,
	       pcre, hs, jansson_version_str(), curl, yaml_get_version_string(),
	       utf8proc_version());
	return 0;
}

/* json_line prints the object for one message and frees nothing of out. */
static int print_json(const struct bot_out *out, const char *explain)
{
	json_t *o = json_object();
	char *s;

	if (!o)
		return -1;
	json_object_set_new(o, "kind", json_string(bot_kind_name(out)));
	if (out->matched && out->entry->id)
		json_object_set_new(o, "id", json_string(out->entry->id));
	if (out->text)
		json_object_set_new(o, "answer", json_string(out->text));
	if (explain)
		json_object_set_new(o, "explain", json_string(explain));
	s = json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII);
	json_decref(o);
	if (!s)
		return -1;
	puts(s);
	free(s);
	fflush(stdout);
	return 0;
}

/* ask_one answers text as a direct message would be answered: the
 * command line is a conversation with the bot. context: the same member's
 * last messages (ask_line), or NULL. With why, also which stage decided
 * and why (--explain). */
static enum err ask_one(const struct faq *faq, const struct opts *o, const char *text,
			size_t len, const char *context, struct bot_out *out, char *why,
			size_t whylen)
{
	struct bot_in in = {0};

	in.text = text;
	in.len = len;
	in.context = context;
	in.direct = 1;
	in.region = o->region;
	if (why)
		bot_explain(faq, &in, why, whylen);
	return bot_handle(faq, &in, out);
}

/* json_line reads {"text": ..., "sender": ...} (sender optional) into new
 * strings; 0 when line is not such an object (then it is read as text). */
static int json_line(const char *line, char **text, char **sender)
{
	json_t *o = json_loads(line, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
	const char *t = json_string_value(json_object_get(o, "text"));
	const char *s = json_string_value(json_object_get(o, "sender"));

	*text = *sender = NULL;
	if (!json_is_object(o) || !t) {
		json_decref(o);
		return 0;
	}
	*text = strdup(t);
	*sender = s && *s ? strdup(s) : NULL;
	json_decref(o);
	return *text != NULL;
}

/* read_line reads one line of at most max bytes into *buf (grown as needed),
 * dropping the rest of a longer line. Returns the length, or -1 at EOF. */
static long read_line(FILE *f, char **buf, size_t *cap, size_t max)
{
	size_t n = 0;
	int c, any = 0;

	while ((c = getc(f)) != EOF) {
		any = 1;
		if (c == '\n')
			break;
		if (n < max) {
			if (n + 2 > *cap) {
				size_t nc = *cap ? *cap * 2 : 256;
				char *nb = realloc(*buf, nc);

				if (!nb)
					return -2;
				*buf = nb;
				*cap = nc;
			}
			(*buf)[n++] = (char)c;
		}
	}
	if (!any)
		return -1;
	if (!*buf) {
		*buf = malloc(1);
		if (!*buf)
			return -2;
		*cap = 1;
	}
	if (n > 0 && (*buf)[n - 1] == '\r')
		n--;
	(*buf)[n] = '\0';
	return (long)n;
}

static int cmd_ask(const struct opts *o, int argc, char **argv)
{
	struct faq *faq;
	int json = 0, explain = 0, i, rc = 0;
	const char *text = NULL;
	char why[1024];

	for (i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0)
			json = 1;
		else if (strcmp(argv[i], "--explain") == 0)
			explain = 1;
		else if (argv[i][0] == '-' && argv[i][1] && strcmp(argv[i], "-") != 0)
			return usage_error("ask: unknown option '%s'", argv[i]);
		else if (!text)
			text = argv[i];
		else
			return usage_error("ask: one message at a time (quote it): '%s'", argv[i]);
	}
	if (!text)
		return usage_error("%s", "ask: give a message, or '-' to read one a line");
	faq = load_or_say(o, &rc);
	if (!faq)
		return rc;
	if (strcmp(text, "-") == 0) {
		char *line = NULL;
		size_t cap = 0;
		long n;
		struct recent *recent = recent_new();

		if (!recent) {
			faq_free(faq);
			return EXIT_RUNTIME;
		}
		while ((n = read_line(stdin, &line, &cap, ASK_LINE_MAX)) >= 0) {
			struct bot_out out;

			const char *msg = line;
			size_t mlen = (size_t)n;
			char *context = NULL, *sender = NULL, *owned = NULL;
			enum err e;

			/* {"sender": ..., "text": ...}: a member's messages are
			 * read together, as in a room (recent.h); a plain line
			 * is alone */
			if (n > 0 && line[0] == '{' && json_line(line, &owned, &sender)) {
				msg = owned;
				mlen = strlen(owned);
				if (sender)
					context = recent_joined(recent, "ask", sender, (long)time(NULL));
			}
			e = ask_one(faq, o, msg, mlen, context, &out, explain ? why : NULL,
				    sizeof(why));
			if (e == ERR_OK && sender) {
				if (out.matched && out.cls == FAQ_CLASS_CRISIS)
					recent_forget(recent, "ask", sender);
				else
					e = recent_add(recent, "ask", sender, msg, (long)time(NULL));
			}
			free(context);
			free(sender);
			free(owned);
			if (e != ERR_OK) {
				fprintf(stderr, "faqbot: out of memory\n");
				rc = EXIT_RUNTIME;
				bot_out_release(&out);
				break;
			}
			if (json) {
				if (print_json(&out, explain ? why : NULL) < 0)
					rc = EXIT_RUNTIME;
			} else {
				printf("%s\n%s", out.text ? out.text : "", out.text ? "\n" : "");
				if (explain)
					printf("(%s: %s)\n\n", bot_kind_name(&out), why);
			}
			bot_out_release(&out);
		}
		if (n == -2)
			rc = EXIT_RUNTIME;
		free(line);
		recent_free(recent);
	} else {
		struct bot_out out;

		if (ask_one(faq, o, text, strlen(text), NULL, &out, explain ? why : NULL,
			    sizeof(why)) != ERR_OK) {
			rc = EXIT_RUNTIME;
		} else if (json) {
			rc = print_json(&out, explain ? why : NULL) < 0 ? EXIT_RUNTIME : 0;
		} else if (out.text) {
			puts(out.text);
		} else {
			fprintf(stderr, "faqbot: no answer: this reads as chat, or no FAQ entry "
					"matches it (the bot stays quiet)\n");
		}
		if (explain && !json)
			printf("(%s: %s)\n", bot_kind_name(&out), why);
		bot_out_release(&out);
	}
	faq_free(faq);
	return rc;
}

/* print_stage: what the learned stage learnt from and how well it does on
 * messages it did not see (faq_learn.h), for the moderator who just edited
 * an example. */
/* print_prefilter: what the prefilter is made of, or why there is none */
static void print_prefilter(const struct faq *faq)
{
	struct prefilter_figures f;

	if (!faq->prefilter) {
		printf("prefilter: off (%s): every pattern is tried with PCRE2\n",
		       faq->prefilter_why);
		return;
	}
	prefilter_figures(faq->prefilter, &f);
	printf("prefilter: Vectorscan %.*s, %zu atoms for %zu patterns (%zu always tried), "
	       "%.0f KB, %s\n",
	       f.version_len, f.version, f.atoms, f.patterns, f.always, (double)f.db_bytes / 1024,
	       f.from_cache ? "from the cache" : "compiled");
}

static void print_stage(const struct faq_stage *st)
{
	const struct faq_learn_figures *f;

	if (!st) {
		printf("learned stage: off (the patterns decide alone)\n");
		return;
	}
	f = &st->cv;
	printf("learned stage: %zu messages (crisis %zu, advice %zu, faq %zu, none %zu), ",
	       f->n, f->ncrisis, f->nadvice, f->nfaq, f->nnone);
	if (st->from_cache)
		printf("loaded from the cache\n");
	else
		printf("trained in %.0f ms\n", st->train_ms);
	printf("  cross-validated (%d folds), on messages each model did not learn from:\n",
	       FAQ_LEARN_FOLDS);
	printf("  crisis: raised at %.2f: recall %.3f, false alarm %.3f\n", (double)st->t_crisis,
	       f->crisis_recall, f->crisis_false_alarm);
	if (st->t_crisis_over > st->t_crisis && st->t_crisis_over <= 1.0f)
		printf("  crisis over an advice or FAQ pattern's answer at %.2f\n",
		       (double)st->t_crisis_over);
	if (st->t_advice <= 1.0f)
		printf("  advice: routed at %.2f: recall %.3f, precision %.3f\n",
		       (double)st->t_advice, f->advice_recall, f->advice_precision);
	else
		printf("  advice: never routed (no threshold keeps precision %.2f)\n",
		       FAQ_LEARN_PRECISION);
	if (st->t_over <= 1.0f)
		printf("  advice over a FAQ pattern's answer at %.2f: recall %.3f, precision %.3f\n",
		       (double)st->t_over, f->over_recall, f->over_precision);
	else
		printf("  advice over a FAQ pattern's answer: never (no threshold keeps precision "
		       "%.2f)\n",
		       FAQ_LEARN_OVER_PRECISION);
	if (st->t_faq <= 1.0f)
		printf("  faq:    routed at %.2f: right entry %.3f, precision %.3f\n",
		       (double)st->t_faq, f->faq_recall, f->faq_precision);
	else
		printf("  faq:    never routed (no threshold keeps precision %.2f)\n",
		       FAQ_LEARN_PRECISION);
}

static int cmd_check(const struct opts *o, int argc, char **argv)
{
	struct check_opts co = {NULL, 365};
	struct faq_diags d = {0};
	struct faq *faq = NULL;
	const char *dir = NULL;
	int i, rc;

	for (i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--seeds") == 0 && i + 1 < argc) {
			co.seeds_dir = argv[++i];
		} else if (strcmp(argv[i], "--max-age") == 0 && i + 1 < argc) {
			char *end;
			long n = strtol(argv[++i], &end, 10);

			if (*end || n < 0 || n > 100000)
				return usage_error("check: --max-age takes a number of days, not '%s'",
						   argv[i]);
			co.max_age_days = (int)n;
		} else if (argv[i][0] == '-') {
			return usage_error("check: unknown option '%s'", argv[i]);
		} else if (!dir) {
			dir = argv[i];
		} else {
			return usage_error("check: one folder at a time: '%s'", argv[i]);
		}
	}
	if (!dir)
		dir = o->faq_dir ? o->faq_dir : default_faq_dir();
	if (faq_learn_load(dir, &faq, &d) == ERR_OK && check_faq(faq, &co, &d) != ERR_OK) {
		fprintf(stderr, "faqbot: out of memory\n");
		faq_free(faq);
		faq_diags_release(&d);
		return EXIT_RUNTIME;
	}
	print_diags(&d);
	if (d.errors == 0 && faq) {
		size_t ex = 0, pats = 0, k;

		for (k = 0; k < faq->nentries; k++) {
			ex += faq->entries[k].nexamples + faq->entries[k].ncounter;
			pats += faq->entries[k].npatterns + faq->entries[k].nnegations;
		}
		printf("%s: ok: %zu entries, %zu patterns, %zu examples, %zu crisis regions, "
		       "%zu warning(s)\n", dir, faq->nentries, pats, ex, faq->nregions, d.warnings);
		print_prefilter(faq);
		print_stage(faq->stage);
		rc = 0;
	} else {
		printf("%s: %zu error(s), %zu warning(s)\n", dir, d.errors, d.warnings);
		rc = EXIT_FAQ;
	}
	faq_free(faq);
	faq_diags_release(&d);
	return rc;
}

/* TOPICS_WORDS_SHOWN: the first words of a list `topics` shows. */
#define TOPICS_WORDS_SHOWN 5

/* topics_list_json: an entry's patterns (or negations), as written or
 * with their word lists written out (compiled). New reference. */
static json_t *topics_list_json(const struct faq_pattern *p, size_t n, int compiled)
{
	json_t *a = json_array();
	size_t j;

	for (j = 0; j < n; j++)
		json_array_append_new(a, json_string(compiled && p[j].expanded ? p[j].expanded
									: p[j].src));
	return a;
}

/* topics_print_patterns: one pattern a line, for a person. */
static void topics_print_patterns(const char *what, const struct faq_pattern *p, size_t n,
				  int compiled)
{
	size_t j;

	if (n)
		printf("  %s:\n", what);
	for (j = 0; j < n; j++)
		printf("    %u: %s\n", p[j].line,
		       compiled && p[j].expanded ? p[j].expanded : p[j].src);
}

/* cmd_topics lists the entries for a person: id, class, question, the
 * entry's word lists (name and first words) and its patterns as written,
 * {names} kept; --compiled shows the patterns PCRE2 runs instead. --json
 * gives one object an entry, with the compiled form only with --compiled. */
static int cmd_topics(const struct opts *o, int argc, char **argv)
{
	struct faq *faq;
	int json = 0, compiled = 0, i, rc;
	size_t e_i, j, k;

	for (i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0)
			json = 1;
		else if (strcmp(argv[i], "--compiled") == 0)
			compiled = 1;
		else
			return usage_error("topics: unexpected '%s'", argv[i]);
	}
	faq = load_or_say(o, &rc);
	if (!faq)
		return rc;
	for (e_i = 0; e_i < faq->nentries; e_i++) {
		const struct faq_entry *e = &faq->entries[e_i];

		if (json) {
			json_t *words = json_object(), *obj;
			char *s;

			for (j = 0; j < e->words.n; j++) {
				json_t *ph = json_array();
				const char *p = e->words.v[j].phrases;

				for (k = 0; k < e->words.v[j].nphrases; k++, p += strlen(p) + 1)
					json_array_append_new(ph, json_string(p));
				json_object_set_new(words, e->words.v[j].name, ph);
			}
			obj = json_pack("{s:s, s:s, s:s?, s:o, s:o, s:o, s:b, s:i}", "id", e->id,
					"class", faq_class_name(e->cls), "question", e->question,
					"words", words, "patterns",
					topics_list_json(e->patterns, e->npatterns, 0), "negations",
					topics_list_json(e->negations, e->nnegations, 0),
					"only_questions", e->only_questions, "priority", e->priority);
			if (obj && compiled) {
				json_object_set_new(obj, "compiled_patterns",
						    topics_list_json(e->patterns, e->npatterns, 1));
				json_object_set_new(obj, "compiled_negations",
						    topics_list_json(e->negations, e->nnegations, 1));
			}
			s = obj ? json_dumps(obj, JSON_COMPACT) : NULL;
			if (s)
				puts(s);
			free(s);
			json_decref(obj);
			continue;
		}
		printf("%s (%s, priority %d, %s): %s\n", e->id, faq_class_name(e->cls), e->priority,
		       e->file, e->question ? e->question : "");
		if (e->words.n && !compiled)
			printf("  words:\n");
		for (j = 0; j < e->words.n && !compiled; j++) {
			const struct concept *w = &e->words.v[j];
			const char *p = w->phrases;

			printf("    %s:", w->name);
			for (k = 0; k < w->nphrases && k < TOPICS_WORDS_SHOWN; k++, p += strlen(p) + 1)
				printf("%s %s", k ? "," : "", p);
			if (w->nphrases > TOPICS_WORDS_SHOWN)
				printf(", ... (%zu in all)", w->nphrases);
			printf("\n");
		}
		topics_print_patterns("patterns", e->patterns, e->npatterns, compiled);
		topics_print_patterns("negations", e->negations, e->nnegations, compiled);
	}
	faq_free(faq);
	return 0;
}

/* console_serve makes the bot the console talks to: the operator at the
 * terminal is a moderator, nothing is persisted, FAQ edits are live. */
static struct serve *console_serve(const struct opts *o, int *rc)
{
	struct serve_config sc = {0};
	struct serve *s = NULL;
	struct faq *faq = load_or_say(o, rc);
	char err[512];

	if (!faq)
		return NULL;
	sc.faq_dir = o->faq_dir ? o->faq_dir : default_faq_dir();
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

/* cmd_chat is the console: a conversation with the bot as a direct
 * message, so that a moderator can try the FAQ, the commands and an edit
 * with no server at all (console.h), in the one loop like any network. */
static int cmd_chat(const struct opts *o)
{
	int rc = EXIT_FAQ;
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
	    loop_new(&lc, &l) != ERR_OK ||
	    loop_add(l, &console_ops, c, NULL, NULL, 0) != ERR_OK) {
		fprintf(stderr, "faqbot: out of memory\n");
		rc = EXIT_RUNTIME;
	} else if (loop_run(l) != ERR_OK) {
		rc = EXIT_RUNTIME;
	}
	loop_free(l);
	console_free(c);
	serve_free(s);
	return rc;
}

/* cmd_health is the probe of a container's HEALTHCHECK: is the mark the
 * running bot leaves after each sync (health.h) recent? It reads the config
 * only for state_dir and sync_timeout_ms, never the secrets. Exit 0 healthy,
 * 1 not (Docker's "unhealthy"), 2 usage, 4 the config is wrong. */
static int cmd_health(int argc, char **argv)
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
				return usage_error("health: --max-age takes a number of seconds, not "
						   "'%s'", argv[i]);
		} else {
			return usage_error("health: unexpected '%s' (health --config FILE "
					   "[--max-age SECONDS])", argv[i]);
		}
	}
	if (!path)
		return usage_error("%s", "health: give --config FILE: its state_dir holds the "
					 "time of the bot's last sync");
	if (health_read_config(path, &cfg, err, sizeof(err)) != ERR_OK) {
		fprintf(stderr, "faqbot: %s\n", err);
		return EXIT_CONFIG;
	}
	n = nets_marks(cfg, marks);
	if (!n) {
		fprintf(stderr, "faqbot: %s configures no chat network with a state_dir: nothing "
				"to check\n", path);
		config_free(cfg);
		return EXIT_CONFIG;
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
	}
	config_free(cfg);
	return e == ERR_OK ? 0 : EXIT_RUNTIME;
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
static int make_serve(const struct opts *o, const struct config *cfg, const char *path,
		      struct faq *faq, struct serve **out)
{
	struct serve_config sc = {0};
	const char *irc_room = NULL, **mods;
	char err[1024];
	enum err e;
	size_t i;

	sc.faq_dir = o->faq_dir ? o->faq_dir : default_faq_dir();
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
		return EXIT_RUNTIME;
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
		return EXIT_CONFIG;
	}
	e = serve_new(&sc, faq, out, err, sizeof(err));
	free(mods); /* serve keeps copies */
	if (e != ERR_OK) {
		fprintf(stderr, "faqbot: %s\n", err);
		return EXIT_CONFIG;
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
		return EXIT_CONFIG;
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
	return e == ERR_OK ? 0 : EXIT_CONFIG;
}

static int cmd_run(struct opts *o, int argc, char **argv)
{
	struct metrics_http *mh = NULL;
	const char *path = NULL;
	struct config *cfg = NULL;
	struct serve *s = NULL;
	struct faq *faq;
	char err[1024];
	int i, rc;

	for (i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
			path = argv[++i];
		else
			return usage_error("run: unexpected '%s' (run [--config FILE])", argv[i]);
	}
	if (!path)
		return cmd_chat(o);
	if (config_load(path, &cfg, err, sizeof(err)) != ERR_OK) {
		fprintf(stderr, "faqbot: %s\n", err);
		return EXIT_CONFIG;
	}
	if (!cfg->has_matrix && !cfg->has_irc) {
		fprintf(stderr, "faqbot: %s configures no chat network (add a [matrix] or [irc] "
				"section); for the console, run faqbot with no --config\n", path);
		config_free(cfg);
		return EXIT_CONFIG;
	}
	log_set_text(cfg->log_message_text);
	{
		/* the learned stage's cache, and the prefilter's, in the bot's own
		 * state folder, unless FAQBOT_CACHE names one (bots that share a
		 * FAQ, and a test suite, then build them once) */
		static char cache[4096];
		const char *sd = cfg->state_dir_bot ? cfg->state_dir_bot : cfg->state_dir;

		if (sd && !getenv("FAQBOT_CACHE")) {
			snprintf(cache, sizeof(cache), "%s/learn-cache", sd);
			faq_learn_set_cache(cache);
			prefilter_set_cache(cache);
		}
	}
	if (!o->faq_dir)
		o->faq_dir = cfg->faq_dir;
	faq = load_or_say(o, &rc);
	if (!faq) {
		config_free(cfg);
		return rc;
	}
	if (!o->region && cfg->region && !faq_region(faq, cfg->region)) {
		char list[256];

		regions_of(faq, list, sizeof(list));
		fprintf(stderr, "faqbot: %s: region '%s': no crisis lines for that region; the "
				"FAQ has %s\n", path, cfg->region, list);
		faq_free(faq);
		config_free(cfg);
		return EXIT_CONFIG;
	}
	if (!o->region)
		o->region = cfg->region;
	for (i = 0; (size_t)i < cfg->nroom; i++)
		if (cfg->room[i].region && !faq_region(faq, cfg->room[i].region)) {
			fprintf(stderr, "faqbot: %s: room %s: no crisis lines for region '%s'\n", path,
				cfg->room[i].id, cfg->room[i].region);
			faq_free(faq);
			config_free(cfg);
			return EXIT_CONFIG;
		}
	/* serving needs neither the examples (check reads them) nor the heap
	 * pages loading left free */
	faq_drop_examples(faq);
	malloc_trim(0);
	log_info("start faq=%s entries=%zu region=%s", o->faq_dir ? o->faq_dir : default_faq_dir(),
		 faq->nentries, o->region ? o->region : faq->default_region);
	rc = make_serve(o, cfg, path, faq, &s);
	if (rc == 0 && cfg->has_metrics) {
		char why[256];

		if (metrics_http_start(cfg->metrics_listen, &mh, why, sizeof(why)) != ERR_OK) {
			fprintf(stderr, "faqbot: %s: %s\n", path, why);
			rc = EXIT_CONFIG;
		} else {
			log_info("metrics: GET /metrics on %s (port %u)",
				 cfg->metrics_listen ? cfg->metrics_listen : METRICS_HTTP_DEFAULT,
				 metrics_http_port(mh));
		}
	}
	if (rc == 0) {
		rc = run_nets(s, cfg);
		serve_save(s);
	}
	metrics_http_stop(mh);
	serve_free(s);
	config_free(cfg);
	return rc;
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
	struct opts o = {NULL, NULL};
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
			return usage_error("unknown option '%s'", a);
		}
	}
	if (i >= argc)
		return usage_error("%s", "no command given");
	{
		const char *help = command_asks_help(argv[i], argc - i - 1, argv + i + 1);

		if (help) {
			fputs(help, stdout);
			return 0;
		}
	}
	user_cache();
	if (strcmp(argv[i], "ask") == 0)
		return cmd_ask(&o, argc - i - 1, argv + i + 1);
	if (strcmp(argv[i], "check") == 0)
		return cmd_check(&o, argc - i - 1, argv + i + 1);
	if (strcmp(argv[i], "topics") == 0)
		return cmd_topics(&o, argc - i - 1, argv + i + 1);
	if (strcmp(argv[i], "chat") == 0) {
		if (i + 1 < argc)
			return usage_error(strcmp(argv[i + 1], "--config") == 0
						   ? "chat: no config: the console needs none ('%s'; "
						     "'faqbot run --config FILE' starts the bot)"
						   : "chat: unexpected '%s' (chat takes nothing)",
					   argv[i + 1]);
		return cmd_chat(&o);
	}
	if (strcmp(argv[i], "run") == 0)
		return cmd_run(&o, argc - i - 1, argv + i + 1);
	if (strcmp(argv[i], "health") == 0)
		return cmd_health(argc - i - 1, argv + i + 1);
	if (strcmp(argv[i], "help") == 0) {
		fputs(usage_text, stdout);
		return 0;
	}
	if (strcmp(argv[i], "version") == 0)
		return cmd_version();
	return usage_error("unknown command '%s'", argv[i]);
}
