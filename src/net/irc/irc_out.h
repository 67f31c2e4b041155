/* irc_out.h -- the IRC transport's outgoing queue: whole replies waiting
 * their turn, crisis first, paced by a token bucket.
 *
 * What it is: a queue of replies (a command, a target, the text; split into
 * lines that fit IRC_LINE_MAX), in two classes. Urgent replies (a crisis
 * reply, a moderators' alert) go ahead of every ordinary one still waiting,
 * behind earlier urgent ones. A reply that has started (its first line is
 * out) is not interleaved with another reply to the same target: an urgent
 * reply for that target waits for its last line, while an urgent reply for
 * another target (the moderators' nicks, another channel) goes at the next
 * line boundary, since nobody reads both. A token bucket (burst, then one
 * line an interval) keeps the bot under the server's flood limit; a few
 * tokens are kept for urgent lines (IRC_OUT_RESERVE), so a crisis does not
 * wait for the next token behind a busy channel's answers. A reply whose
 * last line is written goes in flight until the caller says the server's
 * TCP acknowledged those bytes; then, and only then, its end is reported
 * (on_end), so a journal marks it done. When a connection ends, replies in
 * flight or half sent go back to wait whole, in their first order, split
 * again for the next connection's prefix, unless they are too old.
 *
 * What it is not: no sockets, no files, no clock of its own (every call
 * that needs the time takes it, monotonic milliseconds). The journal that
 * makes replies survive a crash is irc_journal.h; irc_outbox.h ties them. */
#ifndef FAQBOT_IRC_OUT_H
#define FAQBOT_IRC_OUT_H

#include <stddef.h>

#include "err.h"

#define IRC_OUT_REPLIES_MAX 2000          /* replies waiting or in flight */
#define IRC_OUT_BYTES_MAX   (1024 * 1024) /* their text, together */
#define IRC_OUT_RESERVE     2  /* tokens only urgent lines may spend (at most burst - 1) */
#define IRC_OUT_CMD_MAX     16 /* "PRIVMSG", with its NUL */

/* How a reply left the queue, for on_end. */
enum irc_out_end {
	IRC_OUT_SENT,    /* its last line written, and acknowledged */
	IRC_OUT_DROPPED, /* the queue was full (for an urgent one), it could not
	                  * be split for a new prefix, or it was not to be kept
	                  * across connections */
	IRC_OUT_EXPIRED  /* it waited for a connection past its expiry */
};

typedef void (*irc_out_end_fn)(void *ctx, unsigned long long id, enum irc_out_end how);

struct irc_out_config {
	int burst;             /* lines at once after a quiet spell; >= 1 */
	long interval_ms;      /* then one line each interval; >= 1 */
	size_t max_replies;    /* 0: IRC_OUT_REPLIES_MAX */
	size_t max_bytes;      /* 0: IRC_OUT_BYTES_MAX */
	irc_out_end_fn on_end; /* or NULL; called from push (an urgent reply
	                        * pushing out ordinary ones), acked and session */
	void *ctx;
};

/* One reply to queue. Every pointer is borrowed for the call. */
struct irc_out_reply {
	unsigned long long id; /* the caller's, non-zero, increasing with each
	                        * push (replies requeued after a connection go
	                        * back in id order) */
	const char *cmd;       /* "PRIVMSG" or "NOTICE" */
	const char *target;    /* a channel or a nick */
	const char *text;      /* split with irc_split_text */
	int urgent;            /* a crisis reply or an alert */
	int keep;              /* 1: survives the end of a connection (replies);
	                        * 0: dropped then (a CTCP answer) */
	long long expires_ms;  /* monotonic; at a new connection a reply past
	                        * it is dropped (EXPIRED); 0: never */
	const char *raw;       /* instead of cmd and text: one whole line with
	                        * its CRLF, sent as it is (a CTCP reply, whose
	                        * \001 the splitter would turn into spaces) */
};

struct irc_out;

/* irc_out_new makes an empty queue with a full bucket; NULL when out of
 * memory. irc_out_free frees it and every reply in it without calling
 * on_end (a journal keeps them for the next start); NULL is a no-op. */
struct irc_out *irc_out_new(const struct irc_out_config *cfg);
void irc_out_free(struct irc_out *o);

/* irc_out_set_prefix sets the length of ":nick!user@host " the server puts
 * in front of the bot's lines, for the replies split from now on. */
void irc_out_set_prefix(struct irc_out *o, size_t prefix_len);

/* irc_out_push splits r->text for r->target now (the lines are counted in
 * *n_lines, which may be NULL) and queues the reply. ERR_INVALID or
 * ERR_LIMIT when it cannot be split (irc_split_text's errors), ERR_LIMIT
 * when the queue is full (an urgent reply first pushes out the newest
 * ordinary ones, reported DROPPED), ERR_NOMEM. Nothing is queued on error
 * and on_end is not called for r. */
enum err irc_out_push(struct irc_out *o, const struct irc_out_reply *r, size_t *n_lines);

/* irc_out_peek returns the line that may be written now (NUL-terminated,
 * CRLF included, *len bytes; borrowed until the next call), or NULL when
 * nothing waits or the bucket has no token for it. now refills the bucket
 * first. The caller writes the line and calls irc_out_take, or leaves it
 * (no room to write it yet) and peeks again later. */
const char *irc_out_peek(struct irc_out *o, long long now, size_t *len);

/* irc_out_take consumes the line irc_out_peek last returned and a token.
 * mark is the caller's count of bytes handed to the connection once this
 * line is through: when it was its reply's last line, the reply is in
 * flight until irc_out_acked passes mark. No-op without a peeked line. */
void irc_out_take(struct irc_out *o, unsigned long long mark);

/* irc_out_acked reports SENT for each reply in flight whose mark is at
 * most acked (bytes the server's TCP has acknowledged) and frees it. */
void irc_out_acked(struct irc_out *o, unsigned long long acked);

/* irc_out_session starts a connection at now: a full bucket; replies in
 * flight or half sent wait again, whole, in id order within their class;
 * every waiting reply is split again at its turn with the prefix then
 * set; those past their expiry are reported EXPIRED and those not kept
 * DROPPED. Returns how many replies in flight or half sent wait again. */
size_t irc_out_session(struct irc_out *o, long long now);

/* irc_out_wait_ms: how long until irc_out_peek can return a line (0: now),
 * or -1 when nothing waits. */
long irc_out_wait_ms(const struct irc_out *o, long long now);

/* Counts: replies waiting (started or not), and in flight. */
size_t irc_out_waiting(const struct irc_out *o);
size_t irc_out_in_flight(const struct irc_out *o);

#endif
