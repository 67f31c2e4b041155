/* metrics.h -- the counts an operator watches, in Prometheus' text format.
 *
 * A fixed set of counters and gauges, each with at most one label whose
 * values are fixed here too: a class, a result, a cause, a transport. No
 * label ever carries a user id, a room, a nick or a member's words, by
 * construction: there is no call that takes a string. Counting is a
 * relaxed atomic add, safe from any thread (the HTTP listener renders
 * from its own) and cheap enough for the message path.
 *
 * The one number moderators must watch is crisis replies and alerts that
 * failed: faqbot_crisis_total{result="reply_failed"} and
 * {result="alert_failed"}. */
#ifndef FAQBOT_METRICS_H
#define FAQBOT_METRICS_H

#include <stddef.h>

#include "buf.h"

enum metric {
	/* messages read, by what the classifier made of them */
	M_MSG_CRISIS,
	M_MSG_ADVICE,
	M_MSG_FAQ,
	M_MSG_NONE,
	/* replies (advice and FAQ answers, commands) */
	M_REPLY_SENT,
	M_REPLY_FAILED,
	/* crisis replies in the room and alerts to the moderators */
	M_CRISIS_REPLY_SENT,
	M_CRISIS_REPLY_FAILED,
	M_CRISIS_ALERT_SENT,
	M_CRISIS_ALERT_FAILED,
	/* a request or line tried again, by why */
	M_RETRY_RATE_LIMITED,
	M_RETRY_SERVER_ERROR,
	M_RETRY_NETWORK,
	M_RETRY_AUTH,
	/* a connection or session made again */
	M_RECONNECT_MATRIX,
	M_RECONNECT_IRC,
	/* FAQ reloads: taken, or refused (the FAQ in use kept serving) */
	M_RELOAD_APPLIED,
	M_RELOAD_REFUSED,
	/* events or lines from outside that could not be read, skipped */
	M_MALFORMED_MATRIX,
	M_MALFORMED_IRC,
	/* encrypted messages (Matrix): decrypted at once, decrypted once their
	 * key came, never read (no key in time, encryption off), refused (a
	 * replay, a session of another room or sender, a check failed) */
	M_E2EE_DECRYPTED,
	M_E2EE_LATE,
	M_E2EE_UNDECRYPTABLE,
	M_E2EE_REFUSED,
	M_COUNTERS, /* the gauges follow */
	/* when the last Matrix sync completed (Unix seconds; the lag is
	 * time() minus it, in the query), 0 before the first */
	G_MATRIX_LAST_SYNC = M_COUNTERS,
	/* 1 while the IRC session is registered */
	G_IRC_REGISTERED,
	/* entries and crisis lines due for review (faq_max_age_days) */
	G_FAQ_DUE,
	M_ALL
};

/* metrics_add adds n to counter m (or sets gauge m to n, metrics_set).
 * metrics_get reads one, for tests. */
void metrics_add(enum metric m, long long n);
void metrics_set(enum metric m, long long v);
long long metrics_get(enum metric m);
#define metrics_inc(m) metrics_add((m), 1)

/* metrics_reset zeroes every count (a test's fresh start). */
void metrics_reset(void);

/* metrics_render appends the exposition text (# HELP, # TYPE, one line a
 * series) to b. */
void metrics_render(struct buf *b);

#endif
