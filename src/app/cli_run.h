/* cli_run.h -- the commands that run the bot or look at a running one:
 * `faqbot run` (the networks a config names, in the one loop), `faqbot
 * chat` (the console) and `faqbot health` (the container's probe) (cli.h).
 * With main.c and nets.c, the only app file that includes a transport's
 * header: the console's, which chat wires to the loop. */
#ifndef FAQBOT_CLI_RUN_H
#define FAQBOT_CLI_RUN_H

#include "cli.h"

/* cli_run runs `faqbot run` with its arguments (after the word "run"):
 * with no --config, the console (cli_chat). Sets o's FAQ folder and
 * region from the config where the command line named none. Returns the
 * exit status when the bot stops (SIGINT, SIGTERM) or could not start. */
int cli_run(struct cli_opts *o, int argc, char **argv);

/* cli_chat is the console: a conversation with the bot as a direct
 * message, so that a moderator can try the FAQ, the commands and an edit
 * with no server at all (console.h), in the one loop like any network. */
int cli_chat(const struct cli_opts *o);

/* cli_health is the probe of a container's HEALTHCHECK: is the mark the
 * running bot leaves after each sync (health.h) recent? It reads the config
 * only for state_dir and sync_timeout_ms, never the secrets. Exit 0 healthy,
 * 1 not (Docker's "unhealthy"), 2 usage, 4 the config is wrong. */
int cli_health(int argc, char **argv);

#endif
