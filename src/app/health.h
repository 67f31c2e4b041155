/* health.h -- "has the bot talked to its chat network lately?", for a
 * container's HEALTHCHECK or any monitoring probe (`faqbot health`).
 *
 * A running transport marks each completed round trip (for Matrix, a
 * /sync handled and its position saved) by writing the unix time, one line,
 * into HEALTH_STATUS_FILE in its state directory, atomically (state.h; not
 * synced: see health_mark_lag). The
 * probe reads that line back and compares it with the clock. A file, not a
 * socket or a signal: the probe needs no access to the running process, only
 * read access to the state directory, and it works the same in a container,
 * under systemd or from cron.
 *
 * A mark may carry a second line saying how far behind the transport is
 * (struct health_lag): how old the oldest event of its last batch was
 * when it was handled, and the sends still waiting. The probe prints it;
 * it does not change the verdict, which stays the mark's age.
 *
 * Not here: deciding when to mark (the transport), argv and exit codes
 * (cli_run.c). */
#ifndef FAQBOT_HEALTH_H
#define FAQBOT_HEALTH_H

#include <stddef.h>
#include <time.h>

#include "err.h"

struct config; /* config.h: only health_read_config needs it */

#define HEALTH_STATUS_FILE   "last_sync"
#define HEALTH_IRC_FILE      "last_irc"         /* IRC's mark when Matrix's shares its folder */
#define HEALTH_MARK_EVERY_S  5                  /* a network is marked at most this often */
#define HEALTH_MARGIN_S      30                 /* slack on top of two long polls */
#define HEALTH_MAX_AGE_MAX_S (366L * 24 * 3600) /* --max-age at most */

/* health_default_max_age: how old a mark may be, in seconds, for a transport
 * whose long poll the server may hold for sync_timeout_ms: two polls and
 * HEALTH_MARGIN_S (90 s for the default 30 s poll). One poll always ends
 * within sync_timeout_ms when the network is up, so two missed in a row
 * mean the bot is stuck, or cannot reach its homeserver. */
long health_default_max_age(long sync_timeout_ms);

/* health_mark replaces dir/HEALTH_STATUS_FILE with the time now, written
 * atomically, mode 0600. */
enum err health_mark(const char *dir, time_t now);

/* health_clear removes the mark, so that a bot starting again is not taken
 * for healthy on its previous run's mark. A missing mark is not an error. */
enum err health_clear(const char *dir);

/* health_check reads the mark in dir and returns ERR_OK when it is at most
 * max_age_s seconds older than now. Otherwise errbuf has one line saying
 * why: ERR_NOTFOUND no mark yet (no sync completed since the start),
 * ERR_LIMIT the mark is too old, ERR_PARSE the file is not a mark (or is in
 * the future by more than HEALTH_MARGIN_S), ERR_IO it cannot be read. *age_s
 * (may be NULL) gets the mark's age when one was read, else -1. */
enum err health_check(const char *dir, long max_age_s, time_t now, long *age_s, char *errbuf,
		      size_t errlen);

/* The same, for a mark named file in dir (one process serving two networks
 * keeps a mark for each). */
enum err health_mark_file(const char *dir, const char *file, time_t now);
enum err health_clear_file(const char *dir, const char *file);
enum err health_check_file(const char *dir, const char *file, long max_age_s, time_t now,
			   long *age_s, char *errbuf, size_t errlen);

/* How far behind a transport is, as the mark's second line has it:
 * "behind_ms=N sends=N send_age_ms=N", and for an Application Service
 * " txns=N txn_age_ms=N" after it. */
struct health_lag {
	long long behind_ms;   /* the last batch's oldest event, once handled */
	long sends;            /* sends waiting to go out */
	long long send_age_ms; /* the oldest of them; 0 when none */
	long txns;             /* transactions received, not acknowledged yet;
	                        * -1: not said (the /sync mode has none) */
	long long txn_age_ms;  /* since the oldest of them first came; 0 when none */
};

/* health_mark_lag writes the mark with lag (NULL: none) as its second
 * line. health_read_lag reads it back from a mark (a valid one:
 * health_check_file says so): ERR_NOTFOUND when the mark has none (IRC's,
 * or no mark), ERR_PARSE when it is not one. */
enum err health_mark_lag(const char *dir, const char *file, time_t now,
			 const struct health_lag *lag);
enum err health_read_lag(const char *dir, const char *file, struct health_lag *lag);

/* health_read_config reads the config file at path for what the probe
 * needs (state_dir, sync_timeout_ms) without reading the secrets it names:
 * a probe should hold no secret, and may run where they are not readable
 * (a password in the bot's environment, a systemd credential). On failure
 * *out is NULL and errbuf has "file:line: what to fix" or why the file
 * cannot be read. The caller frees *out with config_free. */
enum err health_read_config(const char *path, struct config **out, char *errbuf, size_t errlen);

#endif
