/* irc.h -- the IRC transport: a socket, registration, flood control,
 * keep-alive and reconnect around the pure protocol layer of irc_parse.h.
 *
 * One connection to one server, many channels. Registration negotiates
 * capabilities (CAP LS 302 ... CAP END), falls back to other nicks when
 * the nick is taken, joins the channels (with keys), answers PING and sends
 * its own after a silence, so a dead link is noticed; any fault ends the
 * connection and the next one starts after a capped exponential backoff
 * with jitter. Each member's PRIVMSG (formatting stripped, NOTICE and CTCP
 * ignored but for a VERSION reply by NOTICE) goes to the handler; its reply
 * is split into lines that fit 512 bytes with the bot's real prefix counted
 * and sent through a token bucket, so a burst never gets the bot
 * disconnected for flooding (irc_out.h: a crisis reply and the alert go
 * ahead of every FAQ answer waiting). A crisis alert goes by PRIVMSG to the
 * moderators (nicks or a channel), naming the channel and the nick, never
 * the message's text.
 *
 * With a state folder, replies not yet sent are journaled there
 * (irc_journal.h), so a crash, a kill or a stop loses none: at the next
 * start those younger than IRC_REPLY_MAX_AGE_MS (alerts:
 * IRC_ALERT_MAX_AGE_MS) are sent, crisis first. A reply counts as sent
 * once the server's TCP acknowledged its last line; one cut off by a
 * lost connection is sent again, whole, on the next.
 *
 * TLS is OpenSSL's libssl, loaded at run time (ssl_dl.h): the certificate
 * is verified against the system's trust store or the one file the config
 * names, and so is the host name (or IP address), with SNI. Plain TCP is
 * allowed only to a loopback host, where nobody sits between.
 *
 * SASL (sasl-3.1) when configured: PLAIN with an account and password, or
 * EXTERNAL with the client certificate the TLS handshake presents (the
 * services know its fingerprint, e.g. by NickServ CERT ADD). At the first
 * start, a refused login (or a server without SASL or without the
 * mechanism) ends the transport with an error rather than a reconnect storm: the
 * setting is wrong. Once a login has worked, the same on a reconnect means
 * the services are down or out of step: it is logged and retried with the
 * backoff, and the bot comes back when they do.
 *
 * IRCv3 account-tag, when the server offers it: each member's message
 * carries the services account that sent it (tr_message.sender_account).
 * The one loop (loop.h) polls its socket beside the other networks', and
 * what the core's tick or the handler has for the moderators goes to them
 * by NOTICE.
 *
 * The parts, each a header that is its whole contract: irc_conn.h (the
 * socket, TLS, the write buffer), irc_reg.h (capabilities, SASL, the nick;
 * pure), irc_chat.h (members' messages in, answers out; pure), irc_out.h
 * (the paced queue; pure), irc_outbox.h (the queue and the journal),
 * irc_parse.h (lines; pure). This header is all the rest of faqbot sees.
 *
 * Not here: reading the config file (main.c); deciding what to answer (the
 * core, through tr_handler_fn). */
#ifndef FAQBOT_IRC_H
#define FAQBOT_IRC_H

#include <signal.h>
#include <stddef.h>

#include "err.h"
#include "transport.h"

/* Defaults, used where a config field is 0. */
#define IRC_PORT_PLAIN          6667
#define IRC_PORT_TLS            6697
#define IRC_CONNECT_TIMEOUT_MS  15000L  /* TCP connect */
#define IRC_REGISTER_TIMEOUT_MS 30000L  /* connect to RPL_WELCOME */
#define IRC_PING_IDLE_MS        120000L /* silence before we send a PING */
#define IRC_PING_TIMEOUT_MS     60000L  /* then silence before we give up */
#define IRC_BACKOFF_MIN_MS      1000L   /* first reconnect delay (before jitter) */
#define IRC_BACKOFF_MAX_MS      300000L /* cap of the exponential backoff */
#define IRC_FLOOD_BURST         4       /* lines sent at once after a quiet spell */
#define IRC_FLOOD_INTERVAL_MS   2000L   /* then one line each interval */
#define IRC_QUIT_WAIT_MS        1000L   /* how long QUIT may take on stop */

/* Fixed limits. The parts have their own: IRC_NICK_MAX and IRC_NICK_TRIES
 * (irc_reg.h), IRC_WBUF_MAX (irc_conn.h), IRC_REPLY_MAX_AGE_MS and
 * IRC_ALERT_MAX_AGE_MS (irc_outbox.h), the queue's (irc_out.h). */
#define IRC_LIST_MAX        64 /* channels, alternative nicks, moderators */
#define IRC_NOTICE_WAIT_MAX 8  /* moderators' notices kept while unregistered */

struct irc_channel {
	const char *name; /* "#support" */
	const char *key;  /* or NULL */
};

/* Everything the transport needs. irc_new copies it all, so the caller may
 * free its strings afterwards. Lists are arrays of n entries. */
struct irc_config {
	const char *host;             /* with tls 0, a loopback host */
	int port;                     /* 0: IRC_PORT_TLS, or IRC_PORT_PLAIN */
	int tls;                      /* 1: TLS, verified */
	const char *tls_ca_file;      /* PEM certificates to trust instead of the
	                               * system's (a self-signed server's), or NULL */
	const char *tls_cert_file;    /* PEM client certificate (and chain) shown
	                               * in the handshake, for SASL EXTERNAL or
	                               * CertFP; or NULL. Needs tls. */
	const char *tls_key_file;     /* its PEM private key, no passphrase, not
	                               * readable by every user; NULL: in
	                               * tls_cert_file */
	const char *nick;             /* "faqbot" */
	const char *const *alt_nicks; /* tried in order on 433; then nick + "_", "1".. */
	size_t n_alt_nicks;
	const char *user;            /* or NULL: the nick */
	const char *realname;        /* or NULL: "faqbot" */
	const char *server_password; /* PASS, or NULL */
	const struct irc_channel *channels;
	size_t n_channels;
	const char *sasl_mechanism;    /* "PLAIN" (the default when sasl_account is
	                               * set) or "EXTERNAL" (needs tls_cert_file;
	                               * no password); NULL or "": the default */
	const char *sasl_account;      /* PLAIN: the account; EXTERNAL: optional,
	                               * sent as the authorization identity;
	                               * NULL with PLAIN: no SASL */
	const char *sasl_password;     /* PLAIN only; a secret: never logged,
	                               * wiped on free */
	const char *const *moderators; /* nicks, or a channel: crisis alerts
	                                * and the core's notices */
	size_t n_moderators;
	long connect_timeout_ms;  /* 0: IRC_CONNECT_TIMEOUT_MS */
	long register_timeout_ms; /* 0: IRC_REGISTER_TIMEOUT_MS */
	long ping_idle_ms;        /* 0: IRC_PING_IDLE_MS */
	long ping_timeout_ms;     /* 0: IRC_PING_TIMEOUT_MS */
	long backoff_min_ms;      /* 0: IRC_BACKOFF_MIN_MS */
	long backoff_max_ms;      /* 0: IRC_BACKOFF_MAX_MS */
	int flood_burst;          /* 0: IRC_FLOOD_BURST */
	long flood_interval_ms;   /* 0: IRC_FLOOD_INTERVAL_MS */
	int pm_over_lines;        /* > 0: a channel answer longer than this many
	                           * lines goes to the asker privately, with a
	                           * note in the channel (never a crisis reply);
	                           * 0: always in the channel */
	int short_over_lines;     /* > 0: a FAQ answer longer than this many
	                           * lines goes to a channel as its short form
	                           * (the entry's `short:`), with a pointer to
	                           * the whole by private message; 0: whole */
	const char *state_dir;    /* the folder for the reply journal (made 0700
	                           * if missing), or NULL: none (replies waiting die with the
	                           * process). A journal that cannot be opened
	                           * is logged, and the bot runs without it. */
};

struct irc;

/* irc_new checks cfg and makes a transport; nothing goes on the network
 * yet. On failure *out is NULL and errbuf has one line saying what is
 * wrong. */
enum err irc_new(const struct irc_config *cfg, struct irc **out, char *errbuf, size_t errlen);

/* irc_ops is the transport's ops table (transport.h); its void pointer is
 * a struct irc. start queues the journal's replies (see the top); the
 * loop then drives the sessions: ready connects when a reconnect is due
 * (a bounded wait, the connect timeout, cut short by *stop), reads what
 * poll found, keeps the link alive, and sends what the flood control lets
 * go. Network faults, a closed connection, garbage or a silent server are
 * retried with capped exponential backoff and jitter; ready says
 * TR_FAILED only for a SASL login the server refused (or cannot do)
 * before any login worked, with irc_errstr saying which. For each
 * member's PRIVMSG the handler is called; of its reply, a mention that is
 * a plausible nick (a leading '@' dropped) starts the first line
 * ("alice: ..."), mod_text goes to the moderators like a notice, and
 * see_event is ignored (IRC has no links). notice sends text to the
 * moderators by NOTICE through the flood control; one given while the bot
 * is not registered waits (IRC_NOTICE_WAIT_MAX of them) for the next
 * registration. stop sends QUIT and waits at most IRC_QUIT_WAIT_MS for it
 * to leave. health: alive while registered (the PING watch ends a dead
 * link). */
extern const struct transport_ops irc_ops;

/* irc_errstr: the last error, one line, borrowed; "" when none. */
const char *irc_errstr(const struct irc *irc);

/* Counters since irc_new, for tests and the bench. */
struct irc_stats {
	unsigned long connects, registrations, messages, replies, lines, alerts, notices, dropped,
		bad_lines, pings_sent;
	unsigned long replayed;       /* journaled replies queued at the start */
	unsigned long expired;        /* replies dropped for their age */
	unsigned long resent;         /* replies sent again after a lost connection */
	unsigned long journal_errors; /* replies the journal could not keep */
	unsigned long sasl_retries;   /* logins refused on a reconnect, retried */
};
void irc_get_stats(const struct irc *irc, struct irc_stats *out);

/* irc_free frees irc; NULL is a no-op. */
void irc_free(struct irc *irc);

#endif
