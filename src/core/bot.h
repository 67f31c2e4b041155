/* bot.h -- the dispatcher every transport shares: a member's message in,
 * a decision and the reply text out. No I/O.
 *
 * The rule for speaking: a crisis is always answered (and moderators are
 * alerted); advice and FAQ answers go out in a direct conversation, when the
 * bot is addressed, or, where the room's policy is BOT_ANSWER_QUESTIONS,
 * when the message reads as a question; everything else gets silence. */
#ifndef FAQBOT_BOT_H
#define FAQBOT_BOT_H

#include <stddef.h>

#include "err.h"
#include "faq.h"

enum bot_policy {
	BOT_ANSWER_QUESTIONS, /* answer questions and mentions (the default) */
	BOT_ANSWER_MENTIONS   /* answer only when addressed (crisis: always) */
};

struct bot_in {
	const char *text; /* raw, as the member wrote it */
	size_t len;
	int direct;         /* a one-to-one conversation */
	int mentioned;      /* the transport saw a mention of the bot */
	const char *nick;   /* the bot's name, for "nick: ..." addressing */
	const char *region; /* crisis lines region; NULL: the FAQ's default */
	enum bot_policy policy;
	/* The same member's last messages in this conversation, joined, or
	 * NULL: a crisis that shows only across them (this message read
	 * after them) is a crisis. Never anything but crisis comes of it. */
	const char *context;
};

struct bot_out {
	int reply;   /* 1: post out->text */
	int alert;   /* 1: alert the moderators (crisis) */
	int matched; /* 0: class none */
	enum faq_class cls;
	const struct faq_entry *entry;     /* borrowed from the store */
	const struct faq_pattern *pattern; /* the pattern that decided (!test) */
	int question;                      /* the message read as a question */
	int addressed;                     /* the message was addressed to the bot */
	int by_context;                    /* a crisis seen only with the member's last messages */
	char *text;                        /* owned: the reply, NULL when none */
};

/* bot_handle classifies in->text and decides. On ERR_OK, out is filled and
 * owns out->text (bot_out_release frees it). */
enum err bot_handle(const struct faq *faq, const struct bot_in *in, struct bot_out *out);
void bot_out_release(struct bot_out *out);

/* bot_compose returns a new string: the reply text for entry, with the
 * crisis lines of region put in for a crisis entry. */
char *bot_compose(const struct faq *faq, const struct faq_entry *entry, const char *region);

/* bot_explain writes classify_explain's line for in (as bot_handle read
 * it: normalised, the address to the bot taken off). */
void bot_explain(const struct faq *faq, const struct bot_in *in, char *buf, size_t buflen);

/* bot_kind_name: "crisis", "advice", "faq" or "none". */
const char *bot_kind_name(const struct bot_out *out);

#endif
