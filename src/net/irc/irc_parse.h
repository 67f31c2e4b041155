/* irc_parse.h -- the pure IRC protocol layer: bytes to messages, and safe
 * lines back out.
 *
 * What it is: a line reader in the hiredis style (irc_reader_feed() takes
 * bytes split anywhere, irc_reader_next() hands out one parsed message at a
 * time), with IRCv3 message tags, a source, a command and up to 15
 * parameters; helpers for CTCP and message targets; the stripping of mIRC
 * formatting codes; and builders that turn text into PRIVMSG/NOTICE lines
 * that fit the 512-byte limit, and refuse parameters that would inject a
 * second command.
 *
 * What it is not: no sockets, no TLS, no timers, no flood control, no
 * registration or capability logic (that is irc_reg.c). Nothing here allocates
 * except the reader itself and the line lists of the splitter.
 *
 * Limits (modern-irc, message-tags.md): the IRC part of a line is at most
 * IRC_LINE_MAX bytes with its CRLF, the tags part at most IRC_TAGS_MAX bytes
 * with its '@' and the space after it. */
#ifndef FAQBOT_IRC_PARSE_H
#define FAQBOT_IRC_PARSE_H

#include <stddef.h>

#include "err.h"

#define IRC_LINE_MAX       512                           /* source, command, params and CRLF */
#define IRC_TAGS_MAX       8191                          /* '@', the tags and one space */
#define IRC_WIRE_MAX       (IRC_TAGS_MAX + IRC_LINE_MAX) /* one whole line on the wire */
#define IRC_PARAMS_MAX     15                            /* the 15th takes the rest of the line */
#define IRC_TAG_COUNT_MAX  64                 /* tags kept a message; more are counted, dropped */
#define IRC_READER_BUF     (4 * IRC_WIRE_MAX) /* the reader's input buffer */
#define IRC_CTCP_CMD_MAX   32                 /* a CTCP command word, with its NUL */
#define IRC_SPLIT_TEXT_MAX 65536              /* text one irc_split_text call accepts */

struct irc_tag {
	const char *key;   /* "time", "+draft/reply", "example.com/x" */
	const char *value; /* unescaped; "" for a tag with no value */
};

/* One parsed line. Every pointer points into the message's own storage, so
 * a message stays valid until it is overwritten or goes out of scope; copy
 * what must outlive it. It is large (about 9 KiB): keep one and reuse it. */
struct irc_msg {
	size_t ntags;
	size_t tags_dropped; /* tags beyond IRC_TAG_COUNT_MAX */
	struct irc_tag tags[IRC_TAG_COUNT_MAX];
	const char *source;  /* "nick!user@host" or "server.name"; NULL if none */
	const char *nick;    /* the source up to '!' or '@'; NULL if no source */
	const char *user;    /* after '!'; NULL if absent */
	const char *host;    /* after '@'; NULL if absent */
	const char *command; /* "PRIVMSG", "001": letters as received */
	size_t nparams;
	const char *params[IRC_PARAMS_MAX];
	char line[IRC_WIRE_MAX + 1]; /* storage for the pointers above */
	char src[IRC_LINE_MAX + 1];  /* storage for nick, user, host */
};

struct irc_reader; /* opaque */

/* irc_reader_new returns a new empty reader, or NULL when out of memory.
 * Free it with irc_reader_free (NULL is a no-op). */
struct irc_reader *irc_reader_new(void);
void irc_reader_free(struct irc_reader *r);

/* irc_reader_feed copies up to len bytes of buf into the reader and returns
 * how many it took. It takes them all unless its buffer (IRC_READER_BUF) is
 * full of lines not yet read with irc_reader_next: then read them and feed
 * the rest. It always takes at least one byte when len > 0 and every
 * complete line has been read. Lines end in LF, with or without a CR before
 * it. A line longer than IRC_WIRE_MAX is dropped as it arrives (the reader
 * keeps at most that much of a partial line) and reported by
 * irc_reader_next; the reader picks up again after the next LF. */
size_t irc_reader_feed(struct irc_reader *r, const char *buf, size_t len);

/* irc_reader_space says how many bytes irc_reader_feed would take now. */
size_t irc_reader_space(const struct irc_reader *r);

/* irc_reader_next takes the next complete line out of the reader.
 *   ERR_OK, *got = 1: msg holds the message;
 *   ERR_OK, *got = 0: no complete line yet (feed more);
 *   ERR_LIMIT: a line was too long (the wire limit, or its IRC part over
 *              IRC_LINE_MAX, or its tags over IRC_TAGS_MAX) and was dropped;
 *   ERR_PARSE: a line was malformed (no command, a NUL byte...) and dropped.
 * After an error, call again: the lines after it are still there. Empty
 * lines are skipped silently, as the spec asks. msg is overwritten. */
enum err irc_reader_next(struct irc_reader *r, struct irc_msg *msg, int *got);

/* Parameters: modern-irc asks clients to parse any number; we keep a fixed
 * array, so as in RFC 2812's grammar the 15th parameter holds the rest of
 * the line, spaces and all. Nothing is lost; servers send at most 15. */

/* irc_parse_line parses one line (without its line end; a trailing CR or
 * LF is ignored) of len bytes into msg. Errors as for irc_reader_next;
 * an empty line is ERR_PARSE. line is only read. */
enum err irc_parse_line(const char *line, size_t len, struct irc_msg *msg);

/* irc_msg_tag returns the value of the tag key (unescaped; "" when it has
 * none), or NULL when the message has no such tag. Borrowed from msg. */
const char *irc_msg_tag(const struct irc_msg *msg, const char *key);

/* A CTCP message: PRIVMSG or NOTICE text that starts with \x01. */
struct irc_ctcp {
	char command[IRC_CTCP_CMD_MAX]; /* upper-cased: "VERSION", "ACTION" */
	const char *arg;                /* into the text; "" if none */
	size_t arg_len;                 /* without the closing \x01 */
};

/* irc_ctcp_parse says whether text is a CTCP message (1) or not (0), and on
 * 1 fills *out (which may be NULL). The closing \x01 may be missing, as
 * ctcp.md allows. A command word longer than IRC_CTCP_CMD_MAX - 1 is cut. */
int irc_ctcp_parse(const char *text, struct irc_ctcp *out);

/* irc_target_is_channel says whether a PRIVMSG/NOTICE target names a
 * channel: its first byte is one of chantypes (the server's CHANTYPES;
 * NULL means "#&"). A status prefix such as "@#chan" is not handled. */
int irc_target_is_channel(const char *target, const char *chantypes);

/* irc_casecmp compares two nicks or channel names with the rfc1459 case
 * mapping ([]\~ are the upper case of {}|^). Returns <0, 0 or >0. */
int irc_casecmp(const char *a, const char *b);

/* irc_target_is_me says whether target is the bot's own nick (a private
 * message), compared with irc_casecmp. NULL or "" never matches. */
int irc_target_is_me(const char *target, const char *my_nick);

/* irc_strip_format removes mIRC formatting from s in place and returns the
 * new length; s[return] is set to NUL. Removed: bold ^B, colour ^C with up
 * to two foreground digits and ",bg" digits, hex colour ^D with RRGGBB and
 * ",RRGGBB", reset ^O, monospace ^Q, reverse ^V, italics ^], strike ^^,
 * underline ^_. Tab, CR and LF become spaces; other C0 controls and DEL are
 * dropped. The same rules as text_normalise in text.c, so what a member sees
 * stripped is what the classifier read. UTF-8 is left as it is. */
size_t irc_strip_format(char *s, size_t len);

/* irc_param_ok says whether s can be sent as a parameter: no NUL, CR or LF;
 * unless last, also non-empty, no space and not starting with ':'. */
int irc_param_ok(const char *s, int last);

/* irc_word_ok says whether s can be sent as one word of a list (a nick,
 * a channel, a key): irc_param_ok and not last, and no comma, which JOIN
 * and PRIVMSG would read as a second item. */
int irc_word_ok(const char *s);

/* irc_build writes "COMMAND p1 p2 ... :last\r\n" into out (cap bytes, NUL
 * terminated) and its length, CRLF included, into *out_len. The command
 * must be letters or three digits; every parameter must pass irc_param_ok
 * (the last one may hold spaces and is sent after ':' when it needs to).
 * ERR_INVALID when a command or parameter would break the line (so text
 * from outside can never smuggle in a second command), ERR_LIMIT when the
 * line would pass IRC_LINE_MAX or cap. Nothing is written on error but
 * out[0] = NUL. */
enum err irc_build(char *out, size_t cap, size_t *out_len, const char *command,
		   const char *const *params, size_t nparams);

/* A list of complete lines ("PRIVMSG #c :text\r\n"), each NUL-terminated.
 * Start with IRC_LINES_INIT; irc_lines_release frees the lines and the
 * list and leaves it empty. */
struct irc_lines {
	size_t n;
	size_t cap;
	char **v;
	size_t *len; /* len[i] == strlen(v[i]), CRLF included */
};
#define IRC_LINES_INIT           \
	{                        \
		0, 0, NULL, NULL \
	}
void irc_lines_release(struct irc_lines *l);

/* Until the server has told the bot its visible host (its own JOIN echo,
 * RPL_VISIBLEHOST 396, or RPL_WELCOME's nick!user@host), irc_prefix_len
 * assumes the longest: a user of IRC_USER_GUESS and a host of
 * IRC_HOST_GUESS bytes. */
#define IRC_USER_GUESS 11 /* USERLEN 10, and the '~' of a user without ident */
#define IRC_HOST_GUESS 63 /* HOSTLEN of most servers */

/* irc_prefix_len returns the length of ":nick!user@host " as a server
 * relays the bot's messages; user or host NULL (unknown) are guessed long. */
size_t irc_prefix_len(const char *nick, const char *user, const char *host);

/* irc_split_text turns text (len bytes, any bytes) into "COMMAND target
 * :chunk\r\n" lines appended to *out, each of which, relayed by the server
 * with the bot's prefix in front, fits IRC_LINE_MAX with its CRLF.
 * prefix_len is the length of that prefix as the server writes it,
 * ":nick!user@host " with the colon and the space. command is "PRIVMSG" or
 * "NOTICE"; target must pass irc_param_ok.
 * - CR, LF and CRLF end a line of text: each line becomes its own message
 *   (or messages); blank lines are dropped, so a paragraph break is one
 *   break. NUL, tab and other C0 controls and DEL become spaces.
 * - A line longer than the room left is cut at the last space that fits;
 *   a word longer than the room is cut at the last grapheme cluster
 *   boundary that fits (a letter keeps its accents), or, for one cluster
 *   longer than the room, at the last character boundary: valid UTF-8 is
 *   never cut inside a character. Invalid UTF-8 is cut where it must be.
 * - Spaces at a cut are dropped; the words are otherwise untouched.
 * ERR_INVALID for a bad command or target, ERR_LIMIT when text is longer
 * than IRC_SPLIT_TEXT_MAX or the prefix and target leave no room for a
 * character, ERR_NOMEM. On error *out is left as it was. */
enum err irc_split_text(const char *command, const char *target, const char *text, size_t len,
			size_t prefix_len, struct irc_lines *out);

#endif
