/* cli_ask.h -- `faqbot ask`: the reply a member would see, for one message
 * on the command line or one a line on standard input (cli.h). */
#ifndef FAQBOT_CLI_ASK_H
#define FAQBOT_CLI_ASK_H

#include "cli.h"

/* cli_ask runs `faqbot ask` with its arguments (after the word "ask");
 * returns the exit status. */
int cli_ask(const struct cli_opts *o, int argc, char **argv);

#endif
