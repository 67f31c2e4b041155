/* irc_reg.h -- registration with an IRC server, as a pure state machine:
 * the opening lines, capability negotiation, SASL, the nick, the welcome.
 *
 * What it is: irc_reg_begin gives a new connection's first lines (CAP LS
 * 302, PASS, NICK, USER); irc_reg_on_line takes each message the server
 * sends, parsed (irc_parse.h), with the time, and says what to send back
 * and what changed. Capabilities: one CAP REQ a capability the bot uses
 * (sasl when configured, account-tag when offered: a NAK refuses a whole
 * request, and account-tag must not take sasl down), CAP END once every
 * REQ is answered and the login, if any, is over (sasl-3.1). SASL: PLAIN
 * (account, password) or EXTERNAL (the TLS client certificate; the account,
 * if given, as the authorization identity), the payload in base64 chunks of
 * IRC_SASL_CHUNK. The nick: 433 and its kin (432, 436, 437) before the
 * welcome try the alternatives, then the nick with "_", then with digits;
 * NICK follows the bot's own changes, and the bot's own JOIN echo and
 * RPL_VISIBLEHOST tell the user and host its lines carry. The welcome
 * (001) is refused without the login that was configured. Replies out of
 * order (an ACK or NAK not asked for, a second LS, AUTHENTICATE + or 903
 * before our mechanism, 902-907 when no login of ours is under way, a
 * second 001) change nothing.
 *
 * A refused login (no sasl capability, not our mechanism, a NAK, 902/904/
 * 905, an abort, a welcome without the login) is IRC_REG_FATAL while no
 * login has worked since irc_reg_new: the setting is wrong, and retrying
 * would only hammer the server. Once one has worked, the setting is right
 * and the services are down or out of step: IRC_REG_END, counted in
 * irc_reg_retries, and the transport's backoff tries again.
 *
 * What it is not: no sockets, no clock of its own (the time comes in), no
 * logging (what a person should read comes back in the result). Channels,
 * PING and members' messages are the transport's (irc.c). */
#ifndef FAQBOT_IRC_REG_H
#define FAQBOT_IRC_REG_H

#include <stddef.h>

#include "err.h"
#include "irc_parse.h"
#include "log.h"

#define IRC_NICK_MAX     64   /* a nick we send, with its NUL */
#define IRC_NICK_TRIES   10   /* suffix fallbacks after the alternatives */
#define IRC_SASL_CHUNK   400  /* AUTHENTICATE payload a line (sasl-3.1) */
#define IRC_SASL_RAW_MAX 1024 /* account, account and password, with NULs */
#define IRC_REG_LINES_MAX \
	8                    /* lines one step sends, at most (a SASL
                                * payload: 4 chunks and a "+") */
#define IRC_REG_NOTE_MAX 512 /* a note for the log, with its NUL */
#define IRC_HOST_MAX \
	255 /* a host (or user) the server says the bot
                                * has, longer is not believed: it would
                                * leave no room on a line */

/* What the bot registers as. irc_reg_new copies it all. */
struct irc_reg_config {
	const char *nick;             /* "faqbot" */
	const char *const *alt_nicks; /* tried in order on 433; then nick + "_", "1".. */
	size_t n_alt_nicks;
	const char *user;            /* or NULL: the nick */
	const char *realname;        /* or NULL: "faqbot" */
	const char *server_password; /* PASS, or NULL */
	const char *sasl_mechanism;  /* "PLAIN", "EXTERNAL", or NULL or "": PLAIN
	                               * when an account is set */
	const char *sasl_account;    /* PLAIN: the account; EXTERNAL: optional
	                               * authorization identity; NULL: no SASL
	                               * (with PLAIN) */
	const char *sasl_password;   /* PLAIN only; a secret: never in a note,
	                               * wiped on free */
	int tls_client_cert;         /* 1: the connection shows a client
	                               * certificate (EXTERNAL needs one) */
	int tls;                     /* 1: the connection is TLS */
	long register_timeout_ms;    /* connect to the welcome; > 0 */
};

/* What a step asks of the transport, beside the lines. */
enum irc_reg_step {
	IRC_REG_GO_ON,   /* nothing more */
	IRC_REG_WELCOME, /* registered now: join the channels */
	IRC_REG_END,     /* end this connection; the backoff tries again */
	IRC_REG_FATAL    /* end the run: a setting to fix, retrying cannot help */
};

/* What a step gives back; the callee fills it whole (n = 0, note "" when
 * there is nothing). It is large: keep one and reuse it. */
struct irc_reg_out {
	size_t n;                      /* lines, in order */
	size_t len[IRC_REG_LINES_MAX]; /* CRLF included */
	char line[IRC_REG_LINES_MAX][IRC_LINE_MAX + 1];
	int secret; /* a line holds a credential
	                                             * (PASS, the SASL payload):
	                                             * wipe out once written */
	enum log_level note_level;
	char note[IRC_REG_NOTE_MAX]; /* one line for the log, "irc:
	                                             * ...", or "" */
	char why[IRC_REG_NOTE_MAX];  /* with END or FATAL, the
	                                             * reason to keep as the
	                                             * transport's error, or "" */
};

struct irc_reg;

/* irc_reg_new checks cfg (nicks, user, realname and password fit on a
 * line; SASL has what its mechanism needs) and makes the state. On failure
 * *out is NULL and errbuf has one line ("irc: ...") saying what to fix:
 * ERR_INVALID, or ERR_NOMEM. */
enum err irc_reg_new(const struct irc_reg_config *cfg, struct irc_reg **out, char *errbuf,
		     size_t errlen);

/* irc_reg_free wipes the password and frees r; NULL is a no-op. */
void irc_reg_free(struct irc_reg *r);

/* irc_reg_begin starts a connection at now: unregistered, the configured
 * nick, nothing negotiated; out gets the opening lines. */
void irc_reg_begin(struct irc_reg *r, long long now, struct irc_reg_out *out);

/* irc_reg_on_line takes one message from the server, received at now.
 * Lines it has nothing to do with are IRC_REG_GO_ON with nothing in out. */
enum irc_reg_step irc_reg_on_line(struct irc_reg *r, const struct irc_msg *m, long long now,
				  struct irc_reg_out *out);

/* irc_reg_check looks at the clock: IRC_REG_END (and a note) when the
 * welcome has not come within the registration timeout of the begin. */
enum irc_reg_step irc_reg_check(struct irc_reg *r, long long now, struct irc_reg_out *out);

/* irc_reg_lost: the connection is gone; no longer registered. */
void irc_reg_lost(struct irc_reg *r);

/* The state, for the transport. irc_reg_nick is the bot's nick on this
 * connection (the one tried, then the one the server confirmed), borrowed
 * until the next call. irc_reg_prefix_len is the length of the prefix
 * the server puts in front of the bot's lines, ":nick!user@host ", with
 * the user and host the server showed (its JOIN echo, RPL_VISIBLEHOST)
 * or, until then, irc_prefix_len's long guesses. irc_reg_welcome_ms is
 * when the welcome came, -1 before. irc_reg_account_tag: the server ACKed account-tag, so an
 * "account" tag on a message is the server's word. irc_reg_retries counts
 * the refused logins retried since irc_reg_new. */
const char *irc_reg_nick(const struct irc_reg *r);
size_t irc_reg_prefix_len(const struct irc_reg *r);
int irc_reg_registered(const struct irc_reg *r);
long long irc_reg_welcome_ms(const struct irc_reg *r);
int irc_reg_account_tag(const struct irc_reg *r);
unsigned long irc_reg_retries(const struct irc_reg *r);

/* irc_reg_nick_ok says whether s is a nick the bot would send: a word
 * (irc_word_ok) short enough for IRC_NICK_MAX with a suffix, not starting
 * with a digit or '-', without !@#&:*?. */
int irc_reg_nick_ok(const char *s);

#endif
