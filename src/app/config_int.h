/* config_int.h -- what config.c and config_secret.c share, and nothing
 * else includes. */
#ifndef FAQBOT_CONFIG_INT_H
#define FAQBOT_CONFIG_INT_H

#include <stddef.h>

#include "config.h"
#include "err.h"

/* config_read_channel_keys reads c->irc_channel_keys_file's "#channel key"
 * lines (shared passwords, so a 0600 file like every secret) into
 * c->irc_channel_keys, one slot a configured channel. One line in err,
 * naming the file and line, when it cannot. */
enum err config_read_channel_keys(struct config *c, char *err, size_t errlen);

#endif
