/* irc_chat.h -- members' messages as the core reads them, and the core's
 * answers as IRC addresses them; pure.
 *
 * What it is: irc_chat_read says what a PRIVMSG is to the bot and, for a
 * member's message, fills a tr_message (transport.h): in a channel (by the
 * server's CHANTYPES) or private (to the bot's nick), the text with mIRC
 * formatting stripped, whether it addresses the bot ("nick:" or "nick,"),
 * the services account only where the server vouches for it (account-tag
 * ACKed; "*" or anything but one plain word is none), the msgid only when
 * it is one plain word. CTCP is not a message: VERSION is the one request
 * answered. irc_chat_answer turns the handler's tr_reply into what to send:
 * the crisis alert's text (the nick and the channel, never the member's
 * words), a long answer sent to the asker privately with a pointer to it in
 * the channel (never a crisis reply, which stays where it was asked), and
 * the reply with "nick: " in front when the core directs it to someone.
 * In a channel, a FAQ answer whose whole would take more lines than the
 * view allows goes out as its short form (tr_reply.short_text) with a
 * pointer to "/msg BOT !faq ID" for the whole: a burst of questions then
 * costs the room one paced line an answer, not two or three.
 *
 * What it is not: no queue, no sockets, no logging; the moderators' list
 * and the sending are the transport's (irc.c). */
#ifndef FAQBOT_IRC_CHAT_H
#define FAQBOT_IRC_CHAT_H

#include <stddef.h>

#include "err.h"
#include "irc_parse.h"
#include "transport.h"

#define IRC_CHAT_KIND_MAX 16 /* a kind from the core, with its NUL */

/* What the transport knows of this connection. */
struct irc_chat_view {
	const char *me;        /* the bot's nick now */
	const char *chantypes; /* the server's CHANTYPES ("#&") */
	int account_tag;       /* the server ACKed account-tag */
	size_t prefix_len;     /* the bot's prefix as relayed (irc_prefix_len) */
	int pm_over_lines;     /* > 0: a channel answer of more lines goes to
	                        * the asker privately; 0: never */
	int short_over_lines;  /* > 0: a FAQ answer of more lines goes to a
	                        * channel as its short form, when it has one,
	                        * with a pointer to the whole; 0: never */
};

enum irc_chat_what {
	IRC_CHAT_NONE,    /* not for the bot, or nothing to do */
	IRC_CHAT_VERSION, /* a CTCP VERSION request from m->nick */
	IRC_CHAT_MESSAGE  /* a member's message: *tm is filled */
};

/* irc_chat_read reads m, a PRIVMSG. For IRC_CHAT_MESSAGE, *tm is zeroed
 * and filled, its pointers borrowed from m, v and text, which gets the
 * stripped text (cap bytes; a longer text is cut). IRC_CHAT_NONE: the
 * bot's own, a sender that is no plain nick, a status message or one for
 * another, a CTCP other than VERSION, a PRIVMSG without text. */
enum irc_chat_what irc_chat_read(const struct irc_msg *m, const struct irc_chat_view *v, char *text,
				 size_t cap, struct tr_message *tm);

/* What to send for one reply, in this order: the alert to each moderator,
 * the note to the room, the reply. */
struct irc_chat_answer {
	char alert[IRC_LINE_MAX]; /* by PRIVMSG to each moderator, or "" */
	char note[IRC_LINE_MAX];  /* to the room: the answer went privately; or "" */
	const char *target;       /* the reply's: the room or the asker (borrowed
	                           * from the call); NULL: no reply */
	char *text;               /* the reply as sent: owned, see release */
	const char *kind;         /* for the journal: the core's word, or "faq" */
	const char *where;        /* for the log: "private", "private (long)" or
	                           * the room; NULL with no reply */
	int short_form;           /* 1: text is the answer's short form with a
	                           * pointer to the whole (`!faq ID` by private
	                           * message) */
};

/* irc_chat_answer fills *out for rep, the handler's reply to a message
 * from nick in room (direct: a private one). ERR_NOMEM: the reply could
 * not be built (target NULL; the alert and where are still set). Release
 * *out after, whatever the result. */
enum err irc_chat_answer(const struct tr_reply *rep, const char *room, const char *nick, int direct,
			 const struct irc_chat_view *v, struct irc_chat_answer *out);

/* irc_chat_answer_release frees out->text and zeroes *out. */
void irc_chat_answer_release(struct irc_chat_answer *out);

#endif
