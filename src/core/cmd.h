/* cmd.h -- chat commands: "!faq ketamine @alice" into a command, a word and
 * a person. Pure: no I/O, no FAQ, no state (serve.c acts on them); fuzzed.
 *
 * A command is a message whose first word starts with '!' and is one of
 * the names below; anything else (including "!!!" or "!wow") is an ordinary
 * message. The argument is the rest, trimmed. For the commands that show
 * something to a member (!faq, !crisis, !help, !sources), a last word
 * "@alice", "@alice:example.org" or "> alice" (IRC's way) directs the
 * answer to that member and is taken off the argument. */
#ifndef FAQBOT_CMD_H
#define FAQBOT_CMD_H

#include <stddef.h>

#define CMD_ARG_MAX    512 /* bytes of an argument we keep; longer is cut */
#define CMD_TARGET_MAX 256

#define CMD_UNKNOWN_MAX 20 /* letters of an unknown "!word" worth a reply */

enum cmd_kind {
	CMD_NONE = 0, /* not a command */
	/* members' */
	CMD_FAQ,     /* !faq [WORDS]: the topics, or the entry that best fits */
	CMD_CRISIS,  /* !crisis: the crisis lines for the room's region */
	CMD_HELP,    /* !help: what the bot is and does */
	CMD_SOURCES, /* !sources ID: the articles an answer comes from */
	CMD_OPTOUT,  /* !optout: answer me only when I address the bot */
	CMD_OPTIN,   /* !optin: undo !optout */
	/* moderators' */
	CMD_RELOAD, /* !reload: check the FAQ folder and swap it in */
	CMD_TEST,   /* !test TEXT: what would fire, without answering */
	CMD_STATS,  /* !stats: counts, never words */
	CMD_MUTE,   /* !mute: no FAQ answers in this room (crisis: always) */
	CMD_UNMUTE,
	/* "!foo" alone, a word the bot has no command for: arg is the word, so
	 * the reply can point to !help (and to "!faq" for "!faqs") rather
	 * than leave the member wondering. "!wow that helped" is chat. */
	CMD_UNKNOWN
};

struct cmd {
	enum cmd_kind kind;
	char arg[CMD_ARG_MAX];       /* the rest, trimmed; "" when none */
	char target[CMD_TARGET_MAX]; /* "@alice", "@alice:hs", "alice"; "" */
};

/* cmd_parse fills *out from text (UTF-8, len bytes) and returns its kind,
 * CMD_NONE for an ordinary message. */
enum cmd_kind cmd_parse(const char *text, size_t len, struct cmd *out);

/* cmd_near: the command whose name is one letter from word (added,
 * dropped or changed: "faqs", "hepl" is not), or NULL. */
const char *cmd_near(const char *word);

/* cmd_is_moderators says whether kind is for moderators only. */
int cmd_is_moderators(enum cmd_kind kind);

/* cmd_name: "faq", "reload"... for logs; "unknown" for CMD_UNKNOWN; ""
 * for CMD_NONE. */
const char *cmd_name(enum cmd_kind kind);

#endif
