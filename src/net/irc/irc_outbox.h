/* irc_outbox.h -- the IRC transport's replies on their way out: queued and
 * paced (irc_out.h), and kept on disk until sent (irc_journal.h).
 *
 * What it is: the one place a reply enters. irc_outbox_say gives it an id,
 * splits it for the bot's prefix into the queue (a crisis reply or an
 * alert ahead of every FAQ answer waiting), and journals it when it is a
 * reply or an alert, so a crash, a kill or a stop loses none; the journal
 * marks it done when the queue says it ended (sent and acknowledged,
 * dropped, or expired). At the start, irc_outbox_replay queues what the
 * last run's journal kept, if young enough (IRC_REPLY_MAX_AGE_MS, alerts
 * IRC_ALERT_MAX_AGE_MS), crisis first. Before a reply's first line may go,
 * irc_outbox_sync puts the journal's new entries on the disk (one sync for
 * a burst of questions read at once, not one each).
 *
 * What it is not: no sockets. The transport takes the paced lines from
 * the queue (irc_outbox_queue) and writes them; it says when a connection
 * starts (irc_outbox_session) and what the server acknowledged. Times are
 * passed in: monotonic milliseconds; the journal's wall-clock stamp is
 * taken here. */
#ifndef FAQBOT_IRC_OUTBOX_H
#define FAQBOT_IRC_OUTBOX_H

#include <stddef.h>

#include "err.h"
#include "irc_out.h"

#define IRC_REPLY_MAX_AGE_MS \
	300000L /* a reply older than this when a
                                       * connection (or a start) comes is
                                       * dropped: the talk has moved on */
#define IRC_ALERT_MAX_AGE_MS \
	1800000L /* an alert to the moderators: a late
                                       * one is still worth reading */

struct irc_outbox_config {
	int burst;             /* the token bucket (irc_out.h); >= 1 */
	long interval_ms;      /* >= 1 */
	const char *state_dir; /* the journal's folder (made 0700 if missing),
	                        * or NULL: no journal. One that cannot be
	                        * opened is logged, and the outbox runs
	                        * without it. */
};

/* What happened to replies since irc_outbox_new. */
struct irc_outbox_counts {
	unsigned long lines;          /* lines queued */
	unsigned long dropped;        /* replies dropped (a full queue...) */
	unsigned long expired;        /* replies dropped for their age */
	unsigned long replayed;       /* journaled replies queued at the start */
	unsigned long resent;         /* replies sent again after a lost connection */
	unsigned long journal_errors; /* replies the journal could not keep */
};

struct irc_outbox;

/* irc_outbox_new makes the queue and opens the journal; ERR_NOMEM is the
 * one failure (a journal that cannot be opened costs its protection,
 * never the start: a bot that does not start is silent). */
enum err irc_outbox_new(const struct irc_outbox_config *cfg, struct irc_outbox **out);

/* irc_outbox_free frees ob; what still waits stays in the journal for the
 * next start. NULL is a no-op. */
void irc_outbox_free(struct irc_outbox *ob);

/* irc_outbox_replay queues the last run's journaled replies young enough
 * at now, split for prefix_len (the configured nick's, until a connection
 * says better); the others are marked done. Logged. */
void irc_outbox_replay(struct irc_outbox *ob, long long now, size_t prefix_len);

/* irc_outbox_say splits text for target (prefix_len: the bot's prefix as
 * the server relays it) and queues it, cmd "PRIVMSG" or "NOTICE". kind:
 * "crisis" and "alert" are urgent; any kind journals the reply (a word:
 * "crisis", "alert", "faq", "note"...); NULL, a notice for the moderators,
 * is not journaled. Every pointer is borrowed. ERR_LIMIT for a full queue,
 * ERR_INVALID or ERR_LIMIT for text that cannot be split, ERR_NOMEM; each
 * logged, and nothing queued. */
enum err irc_outbox_say(struct irc_outbox *ob, const char *cmd, const char *target,
			const char *text, const char *kind, long long now, size_t prefix_len);

/* irc_outbox_raw queues one whole line with its CRLF for target, as it is
 * (a CTCP reply, whose \001 the splitter would turn into spaces): not
 * journaled and not kept past this connection. */
enum err irc_outbox_raw(struct irc_outbox *ob, const char *target, const char *line);

/* irc_outbox_sync puts the journal's new entries on the disk; call it
 * before taking lines from the queue. A failure is counted and logged
 * once. */
void irc_outbox_sync(struct irc_outbox *ob);

/* irc_outbox_session: a connection starts at now (irc_out_session): the
 * replies cut off with the last one wait again, whole; logged. */
void irc_outbox_session(struct irc_outbox *ob, long long now);

/* irc_outbox_queue is the queue, borrowed: the transport peeks and takes
 * its lines and reports what the server acknowledged. */
struct irc_out *irc_outbox_queue(struct irc_outbox *ob);

void irc_outbox_counts(const struct irc_outbox *ob, struct irc_outbox_counts *out);

#endif
