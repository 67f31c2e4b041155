/* transport.h -- the whole contract between faqbot's core and a chat
 * network (Matrix, IRC...).
 *
 * A transport receives members' messages, hands each one to a handler
 * (the loop wires the handler to the core), and posts what the handler
 * returns: a reply in the conversation and, when asked, an alert to the
 * moderators. The core never includes a transport header and a transport
 * never includes the core's headers; this file is all they share.
 *
 * At-least-once: a transport may hand the same message to the handler
 * again after a crash or a retry (it dedups what it posts, e.g. with a
 * transaction id derived from the message id), so a handler must be a
 * function of the message, not of how often it saw it. */
#ifndef FAQBOT_TRANSPORT_H
#define FAQBOT_TRANSPORT_H

#include <poll.h>
#include <signal.h>
#include <stddef.h>

#include "err.h"

/* An incoming message. Every pointer is borrowed and valid only during the
 * handler call. */
struct tr_message {
	const char *room;        /* room id or channel */
	const char *sender;      /* user id or nick */
	const char *sender_name; /* display name, or NULL */
	const char *event_id;    /* the network's id for the message, or NULL */
	const char *text;        /* plain text, UTF-8, quoted reply fallback gone */
	const char *thread_root; /* the thread it came in, or NULL */
	const char *bot_name;    /* the bot's own name for "name: ..." addressing */
	long long ts_ms;         /* when it was sent, ms since the epoch; 0: unknown */
	int direct;              /* a one-to-one conversation */
	int mentions_bot;        /* the network's own mention of the bot */
	/* Who the sender is, as the network vouches for it, for moderator
	 * commands: never a display name or a nick anyone can take. Matrix:
	 * the user id (the homeserver signs it). IRC: the services account
	 * from the account-tag, or NULL when the network does not say. */
	const char *sender_account;
	int sender_power; /* Matrix power level in the room; -1: unknown */
	/* 1: direct and sender_power are not known yet, the network is being
	 * asked (Matrix: a room's first message after a start). The handler
	 * answers now what they cannot change (a crisis); anything else it
	 * leaves untouched (nothing counted or kept) and sets
	 * tr_reply.wait_facts, and is called with the same message again,
	 * facts_pending 0, once they are known or given up on. */
	int facts_pending;
};

/* What the handler wants done. Pointers are owned by the handler's context
 * and must stay valid until the next handler call or until the context is
 * freed, whichever comes first. */
struct tr_reply {
	int reply;            /* 1: post text in the conversation */
	const char *kind;     /* "crisis", "advice" or "faq" */
	const char *entry_id; /* the FAQ entry answered with, or NULL */
	const char *text;     /* plain text, paragraphs split by a blank line */
	/* The same answer in a sentence or two (the entry's `short:`), or
	 * NULL: given only with a FAQ answer the classifier chose, never with
	 * a crisis, advice or a command's reply. A network where the whole
	 * text costs a room many paced lines (IRC) may send this instead,
	 * with a pointer to `!faq entry_id` for the rest. */
	const char *short_text;
	int alert_moderators; /* 1: tell the moderators (never with the text) */
	/* The member the answer is directed to ("!faq ID @alice", "> alice"),
	 * as the asker wrote it, or NULL. Matrix: a user id, or "@alice",
	 * which means alice on the sender's server; mentioned (m.mentions,
	 * a pill). IRC: a nick, addressed as "alice: " on the first line. */
	const char *mention;
	/* An earlier message this reply points to (a cooldown: "answered just
	 * above"): the network's id of the message that earlier answer
	 * replied to, in the same room, or NULL. Matrix links to the bot's
	 * answer to it where it still knows that event id, else to it; IRC,
	 * having no links, ignores it (the text says "above"). */
	const char *see_event;
	/* A notice for the moderators (their room, or their nicks), or NULL:
	 * a reload's outcome and the like, never a member's words. */
	const char *mod_text;
	/* Why there is no reply (static text), or NULL: for the console,
	 * which says so; networks ignore it. */
	const char *quiet_why;
	/* 1 (only to a message with facts_pending): nothing was done with
	 * it; hand it again with its facts. */
	int wait_facts;
};

/* What a tick wants done: only a notice for the moderators so far. */
struct tr_notice {
	const char *mod_text; /* or NULL; owned by the handler's context */
};

/* tr_tick_fn lets the core do work no message brings (reload the FAQ when
 * a file changed or SIGHUP came). The loop (loop.h) calls it between the
 * transports' turns, never while a reply is in flight: when wake_fd
 * becomes readable, when *wake becomes non-zero, at a deadline the core
 * names, and at least every TR_TICK_MS otherwise. It fills *out (zeroed by
 * the caller) and every transport posts out->mod_text to its moderators
 * (transport_ops.notice). */
typedef enum err (*tr_tick_fn)(void *ctx, struct tr_notice *out);

#define TR_TICK_MS 1000L

/* The tick and what wakes it, as the loop is given them; ctx is the
 * handler's. */
struct tr_tick {
	tr_tick_fn fn;               /* or NULL: no ticks */
	int wake_fd;                 /* readable: tick soon; -1: none */
	volatile sig_atomic_t *wake; /* non-zero: tick soon (the loop does
	                                * not reset it); or NULL */
};

/* tr_handler_fn is called once for each message worth reading. It fills
 * *out (zeroed by the caller: no reply) and returns ERR_OK, or an error,
 * which the transport logs and treats as "no reply". ctx is the pointer
 * given to the transport's start. */
typedef enum err (*tr_handler_fn)(void *ctx, const struct tr_message *msg, struct tr_reply *out);

/* ---- the ops table: what the one loop (loop.h) drives ------------------
 *
 * A transport is a struct of its own behind a void pointer and this table.
 * The loop owns time: it polls the descriptors every transport wants,
 * runs the core's tick, and calls each transport back when one of its
 * descriptors is ready or its deadline has come. A transport never sleeps
 * and never polls on its own while serving, but for the short, bounded
 * waits named in its header (IRC: a connection being opened; Matrix: an
 * encrypted message's sender device looked up, one short try). A reply, and a retry's wait, is
 * state the transport keeps (Matrix: a queue a room; IRC: the paced
 * outbox), moved on by ready; each goes out with its idempotence (Matrix
 * transaction ids from the event, kept in its journal; the IRC journal).
 * The loop sends only notices for the moderators (a tick's, another
 * network's alert), which a transport queues the same way. */

#define TR_FDS_MAX 16 /* descriptors one transport may want polled */

/* What a transport waits for. The loop zeroes it and sets at_ms to -1
 * before want; revents are the loop's to fill. */
struct tr_wait {
	struct pollfd fd[TR_FDS_MAX];
	size_t n;
	long long at_ms; /* clock_mono_ms() by which ready must run even with
	                  * nothing readable; -1: no deadline */
};

/* What ready says about the transport. */
enum tr_state {
	TR_RUNNING, /* call again */
	TR_DONE,    /* finished cleanly (the console at its end, a stop) */
	TR_FAILED   /* cannot go on; errstr says why */
};

/* A transport's sign of life, for `faqbot health`: the loop writes the
 * mark, never the transport. */
struct tr_health {
	long long alive_ms; /* clock_mono_ms() of the last proof that the
	                     * network is served (Matrix: a /sync handled and
	                     * its position saved; IRC: registered, now);
	                     * 0: none since the start */
	/* how far behind it is, for the mark's second half (health.h): how
	 * old the oldest event of the last batch was when it was handled
	 * (-1: not known, no batch with a time yet), and the sends waiting
	 * to go out with the age of the oldest (0 when none) */
	long long behind_ms;
	long sends;
	long long send_age_ms;
	/* an Application Service's transactions received and not
	 * acknowledged yet, and how long ago the oldest first came (-1: a
	 * transport without transactions) */
	long txns;
	long long txn_age_ms;
};

struct transport_ops {
	const char *name; /* "matrix", "irc", "console": for logs and alerts */
	/* start connects what must be there before serving (Matrix: the
	 * session and its checks, which may take a few bounded requests) and
	 * keeps fn, ctx and stop: fn is called with ctx for each member's
	 * message, *stop non-zero cuts any wait short. ERR_OK to serve; a stop
	 * while starting is ERR_OK too (the loop sees *stop). Any other
	 * error: cannot serve at all, errstr says why. */
	enum err (*start)(void *t, tr_handler_fn fn, void *ctx, volatile sig_atomic_t *stop);
	/* want fills *w with the descriptors to poll and the deadline. */
	void (*want)(void *t, struct tr_wait *w);
	/* ready handles what poll found (w as want filled it, revents set;
	 * called also when w->at_ms has passed). */
	enum tr_state (*ready)(void *t, const struct tr_wait *w);
	/* notice posts text (borrowed, never a member's words) to this
	 * network's moderators; one that cannot go now is kept for later, or
	 * dropped with a log line. */
	void (*notice)(void *t, const char *text);
	/* stop ends the transport gently (QUIT, the position saved), within
	 * the bounded wait its header names. */
	void (*stop)(void *t);
	void (*health)(const void *t, struct tr_health *h);
	/* errstr: the last error, one line, borrowed; "" when none. */
	const char *(*errstr)(const void *t);
};

#endif
