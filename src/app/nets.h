/* nets.h -- the chat networks a config names, made and put in the loop:
 * the one place where the config's [matrix] and [irc] sections become each
 * transport's own config (app layer; with main.c and cli_run.c, the only
 * files that include a transport's header).
 *
 * Both sections in one file run both networks in one process, one FAQ,
 * one set of counts and mutes (the one serve), each network's moderators
 * told of a crisis on the other (who and where, never the words) where
 * they have a place to be told: a Matrix moderators' room, IRC
 * moderators.
 *
 * Not here: the core's config (serve_config, cli_run.c), the loop (loop.h). */
#ifndef FAQBOT_NETS_H
#define FAQBOT_NETS_H

#include <stddef.h>

#include "config.h"
#include "err.h"
#include "loop.h"

#define NETS_MARKS_MAX 2

/* Where each network's health mark goes (health.h). */
struct nets_mark {
	const char *name; /* "matrix", "irc" */
	const char *dir;  /* borrowed from the config */
	const char *file; /* HEALTH_STATUS_FILE, or HEALTH_IRC_FILE for IRC
	                    * beside Matrix */
	long max_age_s;   /* the probe's default for it */
};

/* nets_marks fills marks (NETS_MARKS_MAX) with the marks cfg's networks
 * leave, Matrix first; returns how many. The running bot and the probe
 * both ask here, so they agree. */
size_t nets_marks(const struct config *cfg, struct nets_mark *marks);

struct nets;

/* nets_new makes the transports cfg configures (nothing on the network
 * yet). On failure *out is NULL and err has "FILE:LINE: [section] what".
 * ERR_INVALID: a setting is wrong; ERR_NOMEM. */
enum err nets_new(const struct config *cfg, struct nets **out, char *err, size_t errlen);

/* nets_add puts every transport of n into l, with its mark and its share
 * of the crisis alerts. n must outlive l's run. */
enum err nets_add(struct nets *n, struct loop *l);

/* nets_log_stats logs each network's counts, at the end of a run. */
void nets_log_stats(const struct nets *n);

/* nets_free frees n and its transports; NULL is a no-op. */
void nets_free(struct nets *n);

#endif
