/* cli_appsvc.h -- `faqbot appservice-registration --config FILE`: what a
 * homeserver's admin needs to run the [matrix] bot as an Application
 * Service (cli.h): the two secrets made, kept in files only their owner
 * reads, and the registration YAML the homeserver reads (the spec's
 * Registration: id, url, as_token, hs_token, sender_localpart, an
 * exclusive users namespace of the bot's user alone, no rooms or aliases,
 * rate_limited: false). The tokens never go to stdout, a log or argv:
 * only into those files.
 *
 * Run again, it keeps the tokens it finds (the homeserver has them in its
 * copy of the registration: a silent change would lock the bot out) and
 * rewrites the YAML; --rotate makes new ones, to be copied to the
 * homeserver again. */
#ifndef FAQBOT_CLI_APPSVC_H
#define FAQBOT_CLI_APPSVC_H

#include <stddef.h>

#include "buf.h"

#define CLI_AS_TOKEN_BYTES 32 /* of randomness a token: 64 hex digits */

/* What the registration says. */
struct cli_as_reg {
	const char *id, *url, *as_token, *hs_token;
	const char *user_id; /* the bot, @sender_localpart:server */
};

/* cli_as_yaml writes the registration for r into b (pure): strings
 * double-quoted and escaped, the namespace the bot's user id as an
 * anchored regex with every metacharacter escaped. */
void cli_as_yaml(const struct cli_as_reg *r, struct buf *b);

/* cli_as_token makes a new token from the kernel's CSPRNG (getrandom):
 * 2 * CLI_AS_TOKEN_BYTES hex digits and a NUL into out (len 65 at
 * least). ERR_IO when the kernel gives none. */
enum err cli_as_token(char *out, size_t len);

/* cli_appservice_registration runs the command with its arguments (after
 * its name): --config FILE (needed), --rotate. Exit 0; CLI_EXIT_CONFIG
 * when the config has no [appservice] or a token file cannot be read or
 * written; CLI_EXIT_USAGE. */
int cli_appservice_registration(int argc, char **argv);

#endif
