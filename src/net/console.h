/* console.h -- the terminal as a transport: one member (the operator,
 * "you") in a direct conversation with the bot, so that a moderator can
 * try the FAQ, the commands and an edit with no server at all.
 *
 * Lines come from a descriptor (standard input), one a turn of the loop,
 * so the core's tick runs between them and a saved FAQ edit is live for
 * the next line. What the bot says, why it stays quiet, and the
 * moderators' notices are printed; nothing is sent anywhere. "!quit",
 * "!exit" or the end of the input end it (TR_DONE).
 *
 * Not here: deciding what to answer (the handler), the FAQ (serve). */
#ifndef FAQBOT_CONSOLE_H
#define FAQBOT_CONSOLE_H

#include <stdio.h>

#include "err.h"
#include "transport.h"

#define CONSOLE_LINE_MAX (64 * 1024) /* the rest of a longer line is dropped */

struct console;

/* console_new reads lines from fd and prints to out (both borrowed); with
 * prompt, it greets and prompts as for a person at a terminal. */
enum err console_new(int fd, FILE *out, int prompt, struct console **c);

/* console_ops: the ops table; its void pointer is a struct console. */
extern const struct transport_ops console_ops;

/* console_free frees c; NULL is a no-op. */
void console_free(struct console *c);

#endif
