/* serve.h -- the running bot: what a message gets, whoever carries it.
 *
 * serve sits between the core (faq, classify, bot) and the transports: it
 * is the tr_handler_fn and tr_tick_fn that cli_run.c hands to Matrix, IRC or
 * the console. It owns the FAQ in use and swaps in a new one only when the
 * new one is clean (reload); it runs the chat commands (cmd.h), keeps the
 * cooldowns, mutes and opt-outs (policy.h) and the counts (stats.h), and
 * persists what must outlive a restart in the state folder.
 *
 * Safety first, in this order, for every message: a crisis gets its reply
 * and its alert whatever else holds (a muted room, an opted-out member, a
 * cooldown, a command that is not theirs); then commands; then FAQ and
 * advice answers, subject to the room's policy, mutes, opt-outs and
 * cooldowns. Members' words are never logged (log.h) nor counted: counts
 * are by entry and room. Words of unanswered questions are written only
 * when the operator turned keep_unanswered on, to a 0600 file a day, kept
 * unanswered_days.
 *
 * Reload (SIGHUP through *reload_flag, !reload, or a change in the FAQ
 * folder seen by inotify): the folder is loaded and checked whole, as
 * `faqbot check` does; on any error the FAQ in use keeps serving and the
 * findings, file:line:col first, go to the log and to the moderators.
 * Reloads happen between messages, so none is lost or answered twice.
 *
 * Not here: any network, the config file (cli_run.c fills serve_config). */
#ifndef FAQBOT_SERVE_H
#define FAQBOT_SERVE_H

#include <signal.h>
#include <stddef.h>
#include <time.h>

#include "config.h"
#include "err.h"
#include "faq.h"
#include "transport.h"

#define SERVE_SAVE_EVERY_S 60  /* counts are written at most this often */
#define SERVE_DEBOUNCE_MS  250 /* quiet after a file change before reloading */
#define SERVE_REPORT_MAX   10  /* findings shown to moderators of a reload */
#define SERVE_FINDING_MAX  240 /* bytes of each, the rest in faqbot check */

struct serve_config {
	const char *faq_dir;           /* the folder in use, reloaded from */
	const char *region;            /* crisis lines where a room sets none; NULL:
	                           * the FAQ's default */
	const struct config *cfg;      /* [room] sections, or NULL (the console) */
	enum config_policy policy;     /* rooms without a [room] section */
	const char *state_dir;         /* counts, mutes, opt-outs; NULL: memory only */
	const char *mod_room;          /* where moderators read notices (a room or
	                           * channel), so a reply there is not doubled */
	const char *mod_room2;         /* the other network's, when one process
	                           * serves two; or NULL */
	const char *const *moderators; /* accounts (Matrix user ids, IRC
	                                * services accounts) of moderators */
	size_t n_moderators;
	long moderator_power;               /* Matrix power level that also makes one; 0: no */
	int everyone_moderates;             /* the console: the operator at the terminal */
	long cooldown_s;                    /* 0: no cooldowns */
	long stats_days;                    /* days of counts kept */
	int max_age_days;                   /* freshness: older entries are due; 0: never */
	int keep_unanswered;                /* write unanswered questions' words */
	long unanswered_days;               /* and keep them this long */
	int watch;                          /* reload on a change in faq_dir (inotify) */
	long debounce_ms;                   /* after a change, wait this long for quiet
	                           * (an editor or git writes several files);
	                           * SERVE_DEBOUNCE_MS on a network */
	volatile sig_atomic_t *reload_flag; /* set by SIGHUP; serve resets it */
};

struct serve;

/* serve_new takes faq (a loaded, checked store: freed by serve from now on,
 * even on failure) and reads what the state folder holds. On failure *out
 * is NULL and err says what is wrong in one line. */
enum err serve_new(const struct serve_config *c, struct faq *faq, struct serve **out, char *err,
		   size_t errlen);

/* serve_handle is a tr_handler_fn (ctx: a struct serve). The strings in
 * *out are owned by s and valid until the next serve_handle, serve_tick or
 * serve_free. */
enum err serve_handle(void *ctx, const struct tr_message *m, struct tr_reply *out);

/* serve_tick is a tr_tick_fn: reload when asked or when files changed and
 * went quiet, save counts now and then, drop expired unanswered files. */
enum err serve_tick(void *ctx, struct tr_notice *out);

/* serve_next_ms: the clock_mono_ms() by which serve_tick wants to run
 * again (a change in the FAQ folder, once it has been quiet for
 * debounce_ms), or -1 when only the periodic tick is needed. serve_tick
 * never waits for that quiet itself. ctx: a struct serve. */
long long serve_next_ms(const void *ctx);

/* serve_wake_fd: a descriptor that becomes readable when the FAQ folder
 * changes (call serve_tick soon), or -1 when not watching. Borrowed. */
int serve_wake_fd(const struct serve *s);

/* serve_reload checks the folder and swaps it in when clean. *report (new
 * string, the caller frees; may be NULL on ERR_NOMEM) says what happened,
 * for a moderator. ERR_INVALID when the new FAQ was refused. */
enum err serve_reload(struct serve *s, const char *why, char **report);

/* serve_quiet_why: why the last message got no reply (static text), or
 * NULL when it got one. For the console and tests. */
const char *serve_quiet_why(const struct serve *s);

/* serve_faq: the store in use (borrowed; replaced by a reload). */
const struct faq *serve_faq(const struct serve *s);

/* serve_save writes the counts, mutes and opt-outs now (at exit). */
enum err serve_save(struct serve *s);

/* serve_set_clock replaces time(NULL), for tests. */
void serve_set_clock(struct serve *s, time_t (*now)(void));

void serve_free(struct serve *s);

#endif
