/* config.h -- the configuration file: what the admin who deploys faqbot
 * writes, read with inih (INI: "key = value", [sections], '#' comments).
 *
 * '#' and ';' start a comment at the start of a line (not after a value:
 * room aliases start with '#').
 *
 *   faq_dir = /usr/share/faqbot/faq   (the top of the file: the bot itself)
 *   region = us
 *   log_message_text = false
 *   [matrix]                          (the Matrix transport)
 *   homeserver = https://matrix.example.org
 *   user_id = @faqbot:example.org
 *   password_file = /etc/faqbot/password   (or access_token_file,
 *                                     access_token_env, password_env)
 *   rooms = !abc:example.org, #support:example.org
 *   [irc]                             (the IRC transport; one network a process)
 *   host = irc.example.org
 *   nick = faqbot
 *   channels = #support
 *   [appservice]                      (Matrix as an Application Service;
 *   listen = 127.0.0.1:29331           the tokens come from the files
 *                                     `faqbot appservice-registration` writes)
 *   [room !abc:example.org]           (per room or channel: policy and region)
 *   policy = mentions
 *
 * Secrets never come from the file itself or from argv: only the name of a
 * file (refused when group or others may read it) or of an environment
 * variable. Pure parsing lives in config_parse_text (fuzzed); config_load
 * reads the file and the secrets. */
#ifndef FAQBOT_CONFIG_H
#define FAQBOT_CONFIG_H

#include <stddef.h>

#include "err.h"

#define CONFIG_MAX_BYTES            (256 * 1024) /* a config file */
#define CONFIG_MAX_LINE             8192         /* one line of it */
#define CONFIG_MAX_LIST             1000         /* items in one list (rooms...) */
#define CONFIG_MAX_KEYS             1000         /* settings in one file */
#define CONFIG_MAX_SECRET           4096         /* bytes of a token or password */
#define CONFIG_PICKLE_KEY_MIN       16           /* bytes of the encryption's pickle key */
/* Defaults of the moderators' settings. */
#define CONFIG_COOLDOWN_S           600 /* 10 minutes */
#define CONFIG_MODERATOR_POWER      50  /* Matrix's "Moderator" */
#define CONFIG_STATS_DAYS           90
#define CONFIG_IRC_SHORT_OVER_LINES 1 /* IRC: longer FAQ answers go out short */
#define CONFIG_UNANSWERED_DAYS      14
#define CONFIG_FAQ_MAX_AGE_DAYS     365
#define CONFIG_AS_LISTEN_DEFAULT    "127.0.0.1:29331" /* [appservice] listen */

enum config_policy { CONFIG_POLICY_QUESTIONS, CONFIG_POLICY_MENTIONS };

struct config_room {
	char *id;
	enum config_policy policy;
	char *region; /* or NULL: the bot's */
};

struct config_list {
	char **v;
	size_t n;
};

/* Where each setting was written: for messages that point at the line. */
struct config_key {
	char *section; /* "" for the top of the file, "matrix", "room ID"... */
	char *key;
	unsigned line;
};

struct config {
	char *path;              /* the file it was read from (the name given) */
	struct config_key *keys; /* every setting, in file order */
	size_t nkeys;
	/* the bot */
	char *faq_dir;
	char *region;
	int log_message_text;
	enum config_policy policy; /* rooms without a [room] section */
	char *state_dir_bot;       /* top-level state_dir: counts, mutes, opt-outs;
	                            * NULL: [matrix] state_dir */
	long cooldown_s;           /* an entry is not posted again in a room
	                            * within this (default CONFIG_COOLDOWN_S) */
	long moderator_power;      /* Matrix power level that makes a moderator;
	                            * 0: only the listed moderators */
	long stats_days;           /* days of counts kept */
	int unanswered_log;        /* keep the words of unanswered questions */
	long unanswered_days;      /* and for how long */
	long faq_max_age_days;     /* an entry older is due for review */
	int watch_faq;             /* reload when a FAQ file changes */
	/* [matrix] */
	int has_matrix;
	char *homeserver, *user_id, *device_id, *state_dir, *moderators_room;
	char *access_token_file, *access_token_env, *password_file, *password_env;
	struct config_list rooms, allow_invites, moderators;
	long request_timeout_ms, sync_timeout_ms, backoff_max_ms, max_age_s;
	/* end-to-end encryption (off unless encryption = true): the key the
	 * device's Olm account is kept encrypted with, from a file or a
	 * variable like the other secrets */
	int encryption;
	char *pickle_key_file, *pickle_key_env;
	/* secrets, filled by config_load from the file or variable named */
	char *access_token, *password;
	char *pickle_key; /* only with encryption */
	/* [irc] */
	int has_irc;
	char *irc_host, *irc_tls_ca_file, *irc_nick, *irc_user, *irc_realname;
	char *irc_sasl_account, *irc_sasl_password_file, *irc_sasl_password_env;
	char *irc_sasl_password; /* secret, filled by config_load */
	char *irc_tls_cert_file, *irc_tls_key_file, *irc_sasl_mechanism;
	char *irc_channel_keys_file; /* "#channel key" lines, a 0600 file */
	/* [appservice]: the [matrix] bot as an Application Service, the
	 * homeserver pushing to it instead of /sync. Token files default to
	 * [matrix] state_dir/as_token and hs_token, the registration to
	 * state_dir/registration.yaml, id to the bot's localpart, url to
	 * http(s)://listen. */
	int has_appservice;
	char *as_id, *as_listen, *as_url, *as_registration, *as_token_file, *as_hs_token_file;
	char *as_tls_cert_file, *as_tls_key_file;
	long as_max_body;
	char *as_token, *as_hs_token; /* secrets, filled by config_load */
	/* [metrics]: the Prometheus endpoint, off unless listen is set */
	int has_metrics;
	char *metrics_listen;
	char **irc_channel_keys; /* filled by config_load: the key of
	                              * irc_channels.v[i], or NULL */
	long irc_port, irc_pm_over_lines, irc_flood_burst, irc_flood_interval_ms;
	long irc_short_over_lines; /* CONFIG_IRC_SHORT_OVER_LINES unless set */
	int irc_tls;               /* default 1: TLS, verified */
	struct config_list irc_alt_nicks, irc_channels, irc_moderators;
	struct config_list irc_moderator_accounts; /* who may use moderator commands */
	/* [room ID] sections */
	struct config_room *room;
	size_t nroom;
};

/* config_parse_text parses text (name is for messages) into a new config.
 * On error *out is NULL and err holds "name:line: what to fix". Secrets
 * are not read here. */
enum err config_parse_text(const char *name, const char *text, size_t len, struct config **out,
			   char *err, size_t errlen);

/* config_read reads path and parses it, without reading the secrets it
 * names (the health probe holds none). One line in err on failure. */
enum err config_read(const char *path, struct config **out, char *err, size_t errlen);
/* config_load reads path, parses it and reads the secrets it names. One
 * line in err on failure: which file, which line, what to fix. */
enum err config_load(const char *path, struct config **out, char *err, size_t errlen);

/* config_load_pickle_key reads [matrix]'s pickle key into c->pickle_key
 * when encryption is on (config_load does; `faqbot keys` reads the
 * config without the other secrets and this alone). Nothing when it is
 * off. One line in err on failure, naming the setting's line. */
enum err config_load_pickle_key(struct config *c, char *err, size_t errlen);

/* config_appservice_defaults fills the [appservice] paths and names the
 * file leaves out from [matrix] (config_read does; exposed for tests).
 * ERR_INVALID with "FILE:LINE: why" in err when [appservice] cannot work
 * with the rest (no [matrix] section, no state_dir where a default lives);
 * ERR_NOMEM. */
enum err config_appservice_defaults(struct config *c, char *err, size_t errlen);

/* config_read_secret reads a secret as the config's are read: from file
 * (a regular file, not a link, that only its owner may read; blanks at
 * its end dropped) or, file NULL, the variable env. *out is new; free it
 * with config_secret_free, which wipes it. One line in err on failure:
 * ERR_IO (cannot read: missing...), ERR_INVALID (a link, others may read
 * it, empty), ERR_NOTFOUND (the variable is not set), ERR_NOMEM. */
enum err config_read_secret(const char *what, const char *file, const char *env, char **out,
			    char *err, size_t errlen);
void config_secret_free(char *s);

/* config_key_line: the line where key was set in section ("" for the top
 * of the file), or 0 when the file does not set it. */
unsigned config_key_line(const struct config *c, const char *section, const char *key);

/* config_blame rewrites msg (a refusal by a transport of what the config
 * gave it) as "FILE:LINE: [section] msg", with the line of the section's
 * setting whose name comes first in msg, or of the section's first setting.
 * So every refusal points at a line of the file. */
void config_blame(const struct config *c, const char *section, char *msg, size_t len);

/* config_room finds the [room] section for id, or NULL. Borrowed. */
const struct config_room *config_room(const struct config *c, const char *id);

void config_free(struct config *c);

#endif
