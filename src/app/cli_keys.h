/* cli_keys.h -- `faqbot keys --config FILE`: the Matrix device's identity
 * for end-to-end encryption (its ed25519 key, the fingerprint moderators
 * compare with what their client shows of the bot's device), read from
 * the state folder with the pickle key, no network (cli.h). With main.c,
 * cli_run.c and nets.c, the only app file that includes a transport's
 * header (matrix.h: matrix_identity_read). */
#ifndef FAQBOT_CLI_KEYS_H
#define FAQBOT_CLI_KEYS_H

#include "cli.h"

/* cli_keys runs `faqbot keys` with its arguments (after the word "keys"):
 * prints user, device, ed25519, fingerprint and curve25519, one a line;
 * exit 0. CLI_EXIT_RUNTIME when there is no identity yet (the bot makes
 * it at its first start with encryption on), CLI_EXIT_CONFIG when the
 * config has no [matrix] encryption, no pickle key, or the identity does
 * not open with it; CLI_EXIT_USAGE without --config. */
int cli_keys(int argc, char **argv);

#endif
