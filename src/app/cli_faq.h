/* cli_faq.h -- the commands that read a FAQ folder and report on it for a
 * moderator: `faqbot check` (is it sound, and how well does its learned
 * stage do) and `faqbot topics` (what is in it) (cli.h). */
#ifndef FAQBOT_CLI_FAQ_H
#define FAQBOT_CLI_FAQ_H

#include "cli.h"

/* cli_check runs `faqbot check` with its arguments (after the word
 * "check"); returns the exit status (CLI_EXIT_FAQ when the folder has an
 * error). */
int cli_check(const struct cli_opts *o, int argc, char **argv);

/* cli_topics runs `faqbot topics`; returns the exit status. */
int cli_topics(const struct cli_opts *o, int argc, char **argv);

#endif
