/* cli.h -- what faqbot's commands share: the global options, the exit
 * codes, and the few steps every command that reads a FAQ takes (where it
 * is, loading it or saying why not).
 *
 * The commands themselves live one concern a file: cli_ask.c (ask),
 * cli_faq.c (check, topics), cli_run.c (run, chat, health); main.c reads
 * argv and hands each its arguments. Everything here prints for a person
 * on stdout or stderr: this is the command line, not the running bot.
 *
 * Exit codes (only main.c exits, with what a command returns):
 *   0  success
 *   1  a runtime failure (input unreadable, out of memory)
 *   2  a usage error (unknown command or option)
 *   3  the FAQ has errors (faqbot check, or any command that loads it)
 *   4  the configuration is wrong, or the chat network refused the bot at
 *      start-up (unreachable homeserver, wrong token) */
#ifndef FAQBOT_CLI_H
#define FAQBOT_CLI_H

#include <stddef.h>

#include "faq.h"

#define CLI_EXIT_RUNTIME 1
#define CLI_EXIT_USAGE   2
#define CLI_EXIT_FAQ     3
#define CLI_EXIT_CONFIG  4

/* The options before the command (faqbot --faq DIR --region CODE ...). */
struct cli_opts {
	const char *faq_dir; /* NULL: cli_faq_dir's default */
	const char *region;  /* NULL: the FAQ's (or the config's) default */
};

/* cli_usage_error prints "faqbot: " fmt (with arg) and the pointer to
 * --help on stderr; returns CLI_EXIT_USAGE. */
int cli_usage_error(const char *fmt, const char *arg);

/* cli_faq_dir: the FAQ folder in use: --faq, else $FAQBOT_FAQ_DIR, else
 * ./faq when there is one, else the installed copy. Borrowed. */
const char *cli_faq_dir(const struct cli_opts *o);

/* cli_print_diags prints every finding, file:line:col first, on stderr. */
void cli_print_diags(const struct faq_diags *d);

/* cli_regions writes the FAQ's crisis line regions, "us, ca, ...", to buf. */
void cli_regions(const struct faq *faq, char *buf, size_t n);

/* cli_load_faq loads the FAQ; on failure it prints why, sets *rc to the
 * exit status (CLI_EXIT_FAQ; CLI_EXIT_USAGE for a --region the FAQ has no
 * lines for) and returns NULL. On success *rc is left as it was: callers
 * go on to return it. The store is new: the caller frees it. */
struct faq *cli_load_faq(const struct cli_opts *o, int *rc);

#endif
