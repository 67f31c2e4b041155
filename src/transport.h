/* transport.h -- the whole contract between faqbot's core and a chat
 * network (Matrix, IRC...).
 *
 * A transport receives members' messages, hands each one to a handler
 * (main.c wires the handler to the core), and posts what the handler
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
};

/* What the handler wants done. Pointers are owned by the handler's context
 * and must stay valid until the next handler call or until the context is
 * freed, whichever comes first. */
struct tr_reply {
	int reply;              /* 1: post text in the conversation */
	const char *kind;       /* "crisis", "advice" or "faq" */
	const char *entry_id;   /* the FAQ entry answered with, or NULL */
	const char *text;       /* plain text, paragraphs split by a blank line */
	int alert_moderators;   /* 1: tell the moderators (never with the text) */
};

/* tr_handler_fn is called once for each message worth reading. It fills
 * *out (zeroed by the caller: no reply) and returns ERR_OK, or an error,
 * which the transport logs and treats as "no reply". ctx is the pointer
 * given to the transport's run function. */
typedef enum err (*tr_handler_fn)(void *ctx, const struct tr_message *msg,
                                  struct tr_reply *out);

#endif
