/* config.c -- read the configuration file with inih (see config.h); its
 * secrets are read by config_load, in config_secret.c. */
#include "config.h"
#include "config_int.h"

#include <errno.h>
#include <fcntl.h>
#include <ini.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

struct parse {
	struct config *c;
	const char *name;
	const char *text, *pos; /* the whole text, the rest of it */
	char msg[768];
	int failed;
};

/* cur_line: the line inih is handling (see fail). */
static unsigned cur_line(const struct parse *p)
{
	const char *q;
	unsigned line = 0;

	/* the handler runs once inih has read the whole line, so the line is
	 * the number of line ends read so far (plus one for a last line
	 * without one) */
	for (q = p->text; q < p->pos; q++)
		line += *q == '\n';
	if (p->pos > p->text && p->pos[-1] != '\n')
		line++;
	return line;
}

/* fail records the first error only: the one to fix first. Debian's inih
 * passes no line number to the handler, so the text is fed to it a line at
 * a time by read_line, which counts: p->line is the line being handled. */
static int fail(struct parse *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int fail(struct parse *p, const char *fmt, ...)
{
	if (!p->failed) {
		char msg[512];
		va_list ap;

		va_start(ap, fmt);
		vsnprintf(msg, sizeof(msg), fmt, ap);
		va_end(ap);
		snprintf(p->msg, sizeof(p->msg), "%s:%u: %s", p->name, cur_line(p), msg);
	}
	p->failed = 1;
	return 0; /* inih: an error on this line */
}

/* read_line is inih's reader: the next line of p->text into buf. */
static char *read_line(char *buf, int size, void *stream)
{
	struct parse *p = stream;
	size_t n = 0;

	if (*p->pos == '\0' || size < 2)
		return NULL;
	/* up to size - 1 bytes: a full buffer without a line end is how inih
	 * knows to grow it and read on */
	while (p->pos[n] && p->pos[n] != '\n' && n + 1 < (size_t)size)
		n++;
	if (p->pos[n] == '\n' && n + 1 < (size_t)size)
		n++;
	memcpy(buf, p->pos, n);
	buf[n] = '\0';
	p->pos += n;
	return buf;
}

static int set_str(char **slot, const char *v)
{
	char *d = strdup(v);

	if (!d)
		return -1;
	free(*slot);
	*slot = d;
	return 0;
}

/* split_list splits "a, b c" on commas and white space. */
static int split_list(struct config_list *l, const char *v)
{
	const char *p = v;

	while (*p) {
		size_t n;
		char **nv;

		while (*p == ',' || *p == ' ' || *p == '\t')
			p++;
		n = strcspn(p, ", \t");
		if (n == 0)
			break;
		if (l->n >= CONFIG_MAX_LIST)
			return -1;
		nv = realloc(l->v, (l->n + 1) * sizeof(*nv));
		if (!nv)
			return -1;
		l->v = nv;
		l->v[l->n] = strndup(p, n);
		if (!l->v[l->n])
			return -1;
		l->n++;
		p += n;
	}
	return 0;
}

static int parse_bool(const char *v, int *out)
{
	if (!strcasecmp(v, "true") || !strcasecmp(v, "yes") || !strcmp(v, "1") ||
	    !strcasecmp(v, "on"))
		*out = 1;
	else if (!strcasecmp(v, "false") || !strcasecmp(v, "no") || !strcmp(v, "0") ||
		 !strcasecmp(v, "off"))
		*out = 0;
	else
		return -1;
	return 0;
}

static int parse_long(const char *v, long *out)
{
	char *end;
	long n;

	errno = 0;
	n = strtol(v, &end, 10);
	if (errno || end == v || *end || n < 0)
		return -1;
	*out = n;
	return 0;
}

static int parse_policy(const char *v, enum config_policy *out)
{
	if (!strcmp(v, "questions"))
		*out = CONFIG_POLICY_QUESTIONS;
	else if (!strcmp(v, "mentions"))
		*out = CONFIG_POLICY_MENTIONS;
	else
		return -1;
	return 0;
}

/* What a setting holds, and so how its value is read. */
enum key_kind {
	KEY_STR,     /* a string (copied) */
	KEY_STR_OPT, /* a string; empty means none ("moderators_room =") */
	KEY_LONG,    /* a whole number, 0 or more; at most max when max > 0 */
	KEY_BOOL,    /* true/yes/on/1 or false/no/off/0 */
	KEY_POLICY,  /* questions or mentions */
	KEY_LIST,    /* names split on commas and white space */
	KEY_SECRET,  /* never in the file: a file or a variable names it */
};

/* One setting of a section: its key, its kind, where it goes (an offset in
 * the section's struct: struct config, or struct config_room for a
 * [room]), and for a number its bound or the message that says what it
 * must be (one %s, the value). */
struct key_def {
	const char *key;
	enum key_kind kind;
	size_t off;
	long max;
	const char *bad;
};

#define KEY(name, kind, field)                                      \
	{                                                           \
		name, kind, offsetof(struct config, field), 0, NULL \
	}
#define KEY_MAX(name, field, max)                                         \
	{                                                                 \
		name, KEY_LONG, offsetof(struct config, field), max, NULL \
	}

static const struct key_def bot_keys[] = {
	KEY("faq_dir", KEY_STR, faq_dir),
	KEY("region", KEY_STR, region),
	KEY("state_dir", KEY_STR, state_dir_bot),
	KEY("log_message_text", KEY_BOOL, log_message_text),
	KEY("unanswered_log", KEY_BOOL, unanswered_log),
	KEY("watch_faq", KEY_BOOL, watch_faq),
	KEY("policy", KEY_POLICY, policy),
	KEY_MAX("cooldown_s", cooldown_s, 7L * 86400),
	KEY_MAX("moderator_power", moderator_power, 1000000000L),
	KEY_MAX("stats_days", stats_days, 3660),
	KEY_MAX("unanswered_days", unanswered_days, 3660),
	KEY_MAX("faq_max_age_days", faq_max_age_days, 36600),
};

static const struct key_def matrix_keys[] = {
	KEY("access_token", KEY_SECRET, access_token),
	KEY("password", KEY_SECRET, password),
	KEY("pickle_key", KEY_SECRET, pickle_key),
	KEY("encryption", KEY_BOOL, encryption),
	KEY("homeserver", KEY_STR_OPT, homeserver),
	KEY("user_id", KEY_STR_OPT, user_id),
	KEY("device_id", KEY_STR_OPT, device_id),
	KEY("state_dir", KEY_STR_OPT, state_dir),
	KEY("moderators_room", KEY_STR_OPT, moderators_room),
	KEY("access_token_file", KEY_STR_OPT, access_token_file),
	KEY("access_token_env", KEY_STR_OPT, access_token_env),
	KEY("password_file", KEY_STR_OPT, password_file),
	KEY("password_env", KEY_STR_OPT, password_env),
	KEY("pickle_key_file", KEY_STR_OPT, pickle_key_file),
	KEY("pickle_key_env", KEY_STR_OPT, pickle_key_env),
	KEY("request_timeout_ms", KEY_LONG, request_timeout_ms),
	KEY("sync_timeout_ms", KEY_LONG, sync_timeout_ms),
	KEY("backoff_max_ms", KEY_LONG, backoff_max_ms),
	KEY("max_age_s", KEY_LONG, max_age_s),
	KEY("rooms", KEY_LIST, rooms),
	KEY("allow_invites", KEY_LIST, allow_invites),
	KEY("moderators", KEY_LIST, moderators),
};

static const struct key_def irc_keys[] = {
	KEY("sasl_password", KEY_SECRET, irc_sasl_password),
	KEY("host", KEY_STR, irc_host),
	KEY("tls_ca_file", KEY_STR, irc_tls_ca_file),
	KEY("nick", KEY_STR, irc_nick),
	KEY("user", KEY_STR, irc_user),
	KEY("realname", KEY_STR, irc_realname),
	KEY("sasl_account", KEY_STR, irc_sasl_account),
	KEY("sasl_password_file", KEY_STR, irc_sasl_password_file),
	KEY("sasl_password_env", KEY_STR, irc_sasl_password_env),
	KEY("tls_cert_file", KEY_STR, irc_tls_cert_file),
	KEY("tls_key_file", KEY_STR, irc_tls_key_file),
	KEY("sasl_mechanism", KEY_STR, irc_sasl_mechanism),
	KEY("channel_keys_file", KEY_STR, irc_channel_keys_file),
	KEY("port", KEY_LONG, irc_port),
	KEY("pm_over_lines", KEY_LONG, irc_pm_over_lines),
	KEY("flood_burst", KEY_LONG, irc_flood_burst),
	KEY("flood_interval_ms", KEY_LONG, irc_flood_interval_ms),
	{"short_over_lines", KEY_LONG, offsetof(struct config, irc_short_over_lines), 0,
	 "short_over_lines must be a whole number, 0 or more (0: answers always whole), "
	 "not '%s'"},
	KEY("tls", KEY_BOOL, irc_tls),
	KEY("alt_nicks", KEY_LIST, irc_alt_nicks),
	KEY("channels", KEY_LIST, irc_channels),
	KEY("moderators", KEY_LIST, irc_moderators),
	KEY("moderator_accounts", KEY_LIST, irc_moderator_accounts),
};

static const struct key_def room_keys[] = {
	{"policy", KEY_POLICY, offsetof(struct config_room, policy), 0, NULL},
	{"region", KEY_STR, offsetof(struct config_room, region), 0, NULL},
};

static const struct key_def appservice_keys[] = {
	KEY("id", KEY_STR, as_id),
	KEY("listen", KEY_STR, as_listen),
	KEY("url", KEY_STR, as_url),
	KEY("registration", KEY_STR, as_registration),
	KEY("as_token_file", KEY_STR, as_token_file),
	KEY("hs_token_file", KEY_STR, as_hs_token_file),
	KEY("tls_cert_file", KEY_STR, as_tls_cert_file),
	KEY("tls_key_file", KEY_STR, as_tls_key_file),
};

#undef KEY
#undef KEY_MAX

static int set_long(struct parse *p, const struct key_def *d, long *slot, const char *v)
{
	if (parse_long(v, slot) == 0 && (d->max <= 0 || *slot <= d->max))
		return 1;
	if (d->bad)
		return fail(p, d->bad, v);
	if (d->max > 0)
		return fail(p, "%s must be a whole number from 0 to %ld, not '%s'", d->key, d->max,
			    v);
	return fail(p, "%s must be a whole number, not '%s'", d->key, v);
}

/* set_key sets the value v of setting d in the section's struct base: 1,
 * or 0 with the error recorded (fail). */
static int set_key(struct parse *p, const struct key_def *d, void *base, const char *v)
{
	void *slot = (char *)base + d->off;

	switch (d->kind) {
	case KEY_STR_OPT:
		if (!*v)
			return 1;
		/* fall through */
	case KEY_STR:
		return set_str(slot, v) == 0 ? 1 : fail(p, "out of memory");
	case KEY_LONG:
		return set_long(p, d, slot, v);
	case KEY_BOOL:
		return parse_bool(v, slot) == 0
			       ? 1
			       : fail(p, "%s must be true or false, not '%s'", d->key, v);
	case KEY_POLICY:
		return parse_policy(v, slot) == 0
			       ? 1
			       : fail(p, "policy must be questions or mentions, not '%s'", v);
	case KEY_LIST:
		return split_list(slot, v) == 0 ? 1 : fail(p, "'%s' is too long a list", d->key);
	case KEY_SECRET:
		break;
	}
	return fail(p,
		    "'%s' may not be written in the config file: name a file (%s_file) or an "
		    "environment variable (%s_env) instead",
		    d->key, d->key, d->key);
}

/* find_key: the setting k of a section's table, or NULL */
static const struct key_def *find_key(const struct key_def *t, size_t n, const char *k)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!strcmp(t[i].key, k))
			return &t[i];
	return NULL;
}

#define FIND_KEY(table, k) find_key(table, sizeof(table) / sizeof(table[0]), k)

static int on_bot(struct parse *p, const char *k, const char *v)
{
	const struct key_def *d = FIND_KEY(bot_keys, k);

	if (d)
		return set_key(p, d, p->c, v);
	return fail(p,
		    "unknown setting '%s' (the top of the file has faq_dir, region, "
		    "state_dir, log_message_text, policy, cooldown_s, moderator_power, "
		    "stats_days, unanswered_log, unanswered_days, faq_max_age_days, "
		    "watch_faq)",
		    k);
}

static int on_matrix(struct parse *p, const char *k, const char *v)
{
	const struct key_def *d = FIND_KEY(matrix_keys, k);

	p->c->has_matrix = 1;
	if (d)
		return set_key(p, d, p->c, v);
	return fail(p, "unknown setting '%s' in [matrix]", k);
}

static int on_irc(struct parse *p, const char *k, const char *v)
{
	const struct key_def *d = FIND_KEY(irc_keys, k);

	p->c->has_irc = 1;
	if (d)
		return set_key(p, d, p->c, v);
	return fail(p, "unknown setting '%s' in [irc]", k);
}

static int on_appservice(struct parse *p, const char *k, const char *v)
{
	const struct key_def *d = FIND_KEY(appservice_keys, k);
	struct config *c = p->c;

	c->has_appservice = 1;
	if (!strcmp(k, "as_token") || !strcmp(k, "hs_token"))
		return fail(p,
			    "'%s' may not be written in the config file: it is kept in a "
			    "file only its owner reads (%s_file), which faqbot "
			    "appservice-registration writes",
			    k, k);
	if (d && !*v)
		return fail(p, "%s is empty", k);
	if (d)
		return set_key(p, d, c, v);
	if (!strcmp(k, "max_body"))
		return parse_long(v, &c->as_max_body) == 0 && c->as_max_body >= 4096 &&
				       c->as_max_body <= (64L << 20)
			       ? 1
			       : fail(p,
				      "max_body must be a number of bytes from 4096 to %ld, not '%s'",
				      64L << 20, v);
	return fail(p,
		    "unknown setting '%s' in [appservice] (it has id, listen, url, "
		    "registration, as_token_file, hs_token_file, tls_cert_file, tls_key_file, "
		    "max_body)",
		    k);
}

/* room_for: the [room ID] section's settings, made the first time (with
 * the bot's policy); NULL with the error recorded */
static struct config_room *room_for(struct parse *p, const char *id)
{
	struct config *c = p->c;
	struct config_room *r;
	size_t i;

	for (i = 0; i < c->nroom; i++)
		if (!strcmp(c->room[i].id, id))
			return &c->room[i];
	if (c->nroom >= CONFIG_MAX_LIST) {
		fail(p, "too many [room] sections");
		return NULL;
	}
	r = realloc(c->room, (c->nroom + 1) * sizeof(*r));
	if (!r) {
		fail(p, "out of memory");
		return NULL;
	}
	c->room = r;
	r = &c->room[c->nroom++];
	memset(r, 0, sizeof(*r));
	r->policy = c->policy;
	r->id = strdup(id);
	if (!r->id) {
		fail(p, "out of memory");
		return NULL;
	}
	return r;
}

static int on_room(struct parse *p, const char *id, const char *k, const char *v)
{
	struct config_room *r = room_for(p, id);
	const struct key_def *d = FIND_KEY(room_keys, k);

	if (!r)
		return 0;
	if (d)
		return set_key(p, d, r, v);
	return fail(p,
		    "unknown setting '%s' in a [room] section (it has policy and "
		    "region)",
		    k);
}

/* remember_key records where k was set, and refuses a setting given twice
 * in one section: inih would silently keep the last, and an admin who
 * edited the first would wonder why nothing changed. */
static int remember_key(struct parse *p, const char *section, const char *k)
{
	struct config *c = p->c;
	struct config_key *nk;
	size_t i;

	if (!strcmp(section, "faqbot"))
		section = "";
	for (i = 0; i < c->nkeys; i++)
		if (!strcmp(c->keys[i].section, section) && !strcmp(c->keys[i].key, k))
			return fail(p, "'%s' is set twice%s%s%s: here and on line %u; keep one", k,
				    *section ? " in [" : "", section, *section ? "]" : "",
				    c->keys[i].line);
	if (c->nkeys >= CONFIG_MAX_KEYS)
		return fail(p, "more than %d settings", CONFIG_MAX_KEYS);
	nk = realloc(c->keys, (c->nkeys + 1) * sizeof(*nk));
	if (!nk)
		return fail(p, "out of memory");
	c->keys = nk;
	nk = &c->keys[c->nkeys];
	nk->section = strdup(section);
	nk->key = strdup(k);
	nk->line = cur_line(p);
	if (!nk->section || !nk->key) {
		free(nk->section);
		free(nk->key);
		return fail(p, "out of memory");
	}
	c->nkeys++;
	return 1;
}

static int on_entry(void *user, const char *section, const char *k, const char *v)
{
	struct parse *p = user;

	if (!k) { /* a section header alone: nothing to do but note it */
		if (!strcmp(section, "appservice"))
			p->c->has_appservice = 1;
		return 1;
	}
	if (!remember_key(p, section, k))
		return 0;
	if (!*section || !strcmp(section, "faqbot"))
		return on_bot(p, k, v);
	if (!strcmp(section, "matrix"))
		return on_matrix(p, k, v);
	if (!strcmp(section, "irc"))
		return on_irc(p, k, v);
	if (!strcmp(section, "appservice"))
		return on_appservice(p, k, v);
	if (!strncmp(section, "room ", 5) && section[5])
		return on_room(p, section + 5, k, v);
	if (!strcmp(section, "metrics")) {
		p->c->has_metrics = 1;
		if (strcmp(k, "listen"))
			return fail(p, "unknown setting '%s' in [metrics] (it has listen)", k);
		return set_str(&p->c->metrics_listen, v) == 0 ? 1 : fail(p, "out of memory");
	}
	return fail(p,
		    "unknown section [%s] (sections: [matrix], [appservice], [irc], [room ID], "
		    "[metrics])",
		    section);
}

/* long_line: 1, with err saying which, when a line of text is longer than
 * inih reads (it stops there with the line's number only) */
static int long_line(const char *name, const char *text, size_t len, char *err, size_t errlen)
{
	const char *q = text, *end = text + len;
	unsigned line = 1;

	while (q < end) {
		const char *nl = memchr(q, '\n', (size_t)(end - q));
		size_t n = (size_t)((nl ? nl : end) - q);

		if (n + 2 > CONFIG_MAX_LINE) {
			snprintf(err, errlen, "%s:%u: line too long (%zu bytes, the limit is %d)",
				 name, line, n, CONFIG_MAX_LINE - 2);
			return 1;
		}
		if (!nl)
			break;
		q = nl + 1;
		line++;
	}
	return 0;
}

/* new_defaults: a config with every default a file may leave out;
 * NULL on no memory */
static struct config *new_defaults(void)
{
	struct config *c = calloc(1, sizeof(*c));

	if (c) {
		c->irc_tls = 1; /* TLS unless the file says otherwise */
		c->irc_short_over_lines = CONFIG_IRC_SHORT_OVER_LINES;
		c->cooldown_s = CONFIG_COOLDOWN_S;
		c->moderator_power = CONFIG_MODERATOR_POWER;
		c->stats_days = CONFIG_STATS_DAYS;
		c->unanswered_days = CONFIG_UNANSWERED_DAYS;
		c->faq_max_age_days = CONFIG_FAQ_MAX_AGE_DAYS;
		c->watch_faq = 1;
	}
	return c;
}

enum err config_parse_text(const char *name, const char *text, size_t len, struct config **out,
			   char *err, size_t errlen)
{
	struct parse p = {0};
	char *copy;
	int rc;

	*out = NULL;
	if (memchr(text, '\0', len)) {
		snprintf(err, errlen, "%s: holds a NUL byte: is it a text file?", name);
		return ERR_PARSE;
	}
	if (long_line(name, text, len, err, errlen))
		return ERR_LIMIT;
	copy = strndup(text, len);
	p.c = new_defaults();
	if (!copy || !p.c) {
		free(copy);
		free(p.c);
		snprintf(err, errlen, "out of memory");
		return ERR_NOMEM;
	}
	p.name = name;
	p.text = p.pos = copy;
	/* Debian's inih takes its build options at run time. '#' starts a
	 * comment only at the start of a line: room aliases begin with '#'. */
	ini_stop_on_first_error = true;
	ini_use_stack = false;
	ini_allow_realloc = true;
	ini_max_line = CONFIG_MAX_LINE;
	rc = ini_parse_stream(read_line, &p, on_entry, &p);
	free(copy);
	if (rc != 0 || p.failed) {
		if (p.failed)
			snprintf(err, errlen, "%s", p.msg);
		else
			snprintf(err, errlen,
				 "%s:%d: cannot read this line: write 'key = value', "
				 "'[section]' or a '#' comment",
				 name, rc);
		config_free(p.c);
		return ERR_PARSE;
	}
	p.c->path = strdup(name);
	if (!p.c->path) {
		config_free(p.c);
		snprintf(err, errlen, "out of memory");
		return ERR_NOMEM;
	}
	if (p.c->has_appservice) {
		enum err e = config_appservice_defaults(p.c, err, errlen);

		if (e != ERR_OK) {
			config_free(p.c);
			return e;
		}
	}
	*out = p.c;
	return ERR_OK;
}

/* in_dir sets *slot to dir/name unless it is set */
static int in_dir(char **slot, const char *dir, const char *name)
{
	size_t n;

	if (*slot)
		return 0;
	n = strlen(dir) + strlen(name) + 2;
	*slot = malloc(n);
	if (!*slot)
		return -1;
	snprintf(*slot, n, "%s/%s", dir, name);
	return 0;
}

/* as_refuse: why [matrix] cannot go with [appservice], or NULL */
static const char *as_refuse(const struct config *c)
{
	if (!c->has_matrix)
		return "[appservice] needs a [matrix] section: homeserver, user_id (the bot, "
		       "@sender_localpart:server) and state_dir";
	if (!c->user_id || c->user_id[0] != '@' || !strchr(c->user_id, ':'))
		return "[appservice] needs [matrix] user_id: the bot's user, "
		       "@sender_localpart:server (@faqbot-1:example.org)";
	if (!c->state_dir || !*c->state_dir)
		return "[appservice] needs [matrix] state_dir: the tokens, the transactions "
		       "handled and the outbox are kept there";
	if (c->access_token_file || c->access_token_env || c->password_file || c->password_env)
		return "[appservice]: remove [matrix]'s access token and password settings: the "
		       "as_token is the Application Service's credential";
	if (c->encryption)
		return "[appservice]: encryption = true cannot go with it: the homeserver pushes "
		       "an Application Service no to-device events, so no room keys; serve "
		       "encrypted rooms with the /sync mode (a config without [appservice])";
	return NULL;
}

enum err config_appservice_defaults(struct config *c, char *err, size_t errlen)
{
	const char *why = as_refuse(c), *colon;
	int bad = 0;

	if (why) {
		unsigned line = 0;
		size_t i;

		for (i = 0; i < c->nkeys && !line; i++)
			if (!strcmp(c->keys[i].section, "appservice"))
				line = c->keys[i].line;
		snprintf(err, errlen, "%s:%u: %s", c->path ? c->path : "config", line, why);
		return ERR_INVALID;
	}
	colon = strchr(c->user_id, ':');
	if (!c->as_id)
		c->as_id = strndup(c->user_id + 1, (size_t)(colon - c->user_id - 1));
	if (!c->as_listen)
		c->as_listen = strdup(CONFIG_AS_LISTEN_DEFAULT);
	if (!c->as_url && c->as_listen) {
		size_t n = strlen(c->as_listen) + 16;

		c->as_url = malloc(n);
		if (c->as_url)
			snprintf(c->as_url, n, "%s://%s", c->as_tls_cert_file ? "https" : "http",
				 c->as_listen);
	}
	bad |= in_dir(&c->as_token_file, c->state_dir, "as_token");
	bad |= in_dir(&c->as_hs_token_file, c->state_dir, "hs_token");
	bad |= in_dir(&c->as_registration, c->state_dir, "registration.yaml");
	if (bad || !c->as_id || !c->as_listen || !c->as_url) {
		snprintf(err, errlen, "out of memory");
		return ERR_NOMEM;
	}
	return ERR_OK;
}

enum err config_read(const char *path, struct config **out, char *err, size_t errlen)
{
	char *text = NULL;
	size_t len = 0;
	enum err e;
	FILE *f;

	*out = NULL;
	f = fopen(path, "rb");
	if (!f) {
		snprintf(err, errlen, "cannot read the config file %s: %s", path, strerror(errno));
		return ERR_IO;
	}
	text = malloc(CONFIG_MAX_BYTES + 1);
	if (!text) {
		fclose(f);
		snprintf(err, errlen, "out of memory");
		return ERR_NOMEM;
	}
	len = fread(text, 1, CONFIG_MAX_BYTES + 1, f);
	if (ferror(f) || len > CONFIG_MAX_BYTES) {
		snprintf(err, errlen, "%s: %s", path,
			 ferror(f) ? strerror(errno) : "larger than a config file can be");
		fclose(f);
		free(text);
		return ERR_IO;
	}
	fclose(f);
	e = config_parse_text(path, text, len, out, err, errlen);
	free(text);
	return e;
}

unsigned config_key_line(const struct config *c, const char *section, const char *key)
{
	size_t i;

	for (i = 0; i < c->nkeys; i++)
		if (!strcmp(c->keys[i].section, section) && !strcmp(c->keys[i].key, key))
			return c->keys[i].line;
	return 0;
}

/* word_at: where key first appears in msg as a whole word, or NULL. */
static const char *word_at(const char *msg, const char *key)
{
	size_t n = strlen(key);
	const char *q;

	for (q = strstr(msg, key); q; q = strstr(q + 1, key)) {
		char before = q > msg ? q[-1] : ' ', after = q[n];

		if (!(before == '_' || (before >= 'a' && before <= 'z')) &&
		    !(after == '_' || (after >= 'a' && after <= 'z')))
			return q;
	}
	return NULL;
}

void config_blame(const struct config *c, const char *section, char *msg, size_t len)
{
	const char *best = NULL;
	unsigned line = 0;
	char *copy;
	size_t i;

	for (i = 0; i < c->nkeys; i++) {
		const char *at;

		if (strcmp(c->keys[i].section, section))
			continue;
		if (!line)
			line = c->keys[i].line;
		at = word_at(msg, c->keys[i].key);
		if (at && (!best || at < best)) {
			best = at;
			line = c->keys[i].line;
		}
	}
	copy = strdup(msg);
	if (!copy)
		return;
	if (line)
		snprintf(msg, len, "%s:%u: [%s] %s", c->path ? c->path : "config", line, section,
			 copy);
	else
		snprintf(msg, len, "%s: [%s] %s", c->path ? c->path : "config", section, copy);
	free(copy);
}

const struct config_room *config_room(const struct config *c, const char *id)
{
	size_t i;

	for (i = 0; id && i < c->nroom; i++)
		if (!strcmp(c->room[i].id, id))
			return &c->room[i];
	return NULL;
}

static void list_free(struct config_list *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
}

void config_free(struct config *c)
{
	size_t i;

	if (!c)
		return;
	free(c->faq_dir);
	free(c->metrics_listen);
	free(c->as_id);
	free(c->as_listen);
	free(c->as_url);
	free(c->as_registration);
	free(c->as_token_file);
	free(c->as_hs_token_file);
	free(c->as_tls_cert_file);
	free(c->as_tls_key_file);
	config_secret_free(c->as_token);
	config_secret_free(c->as_hs_token);
	free(c->region);
	free(c->state_dir_bot);
	free(c->homeserver);
	free(c->user_id);
	free(c->device_id);
	free(c->state_dir);
	free(c->moderators_room);
	free(c->access_token_file);
	free(c->access_token_env);
	free(c->password_file);
	free(c->password_env);
	free(c->pickle_key_file);
	free(c->pickle_key_env);
	config_secret_free(c->pickle_key);
	config_secret_free(c->access_token);
	config_secret_free(c->password);
	config_secret_free(c->irc_sasl_password);
	free(c->irc_host);
	free(c->irc_tls_ca_file);
	free(c->irc_nick);
	free(c->irc_user);
	free(c->irc_realname);
	free(c->irc_sasl_account);
	free(c->irc_sasl_password_file);
	free(c->irc_sasl_password_env);
	free(c->irc_tls_cert_file);
	free(c->irc_tls_key_file);
	free(c->irc_sasl_mechanism);
	free(c->irc_channel_keys_file);
	for (i = 0; c->irc_channel_keys && i < c->irc_channels.n; i++)
		config_secret_free(c->irc_channel_keys[i]);
	free(c->irc_channel_keys);
	list_free(&c->irc_alt_nicks);
	list_free(&c->irc_channels);
	list_free(&c->irc_moderators);
	list_free(&c->irc_moderator_accounts);
	list_free(&c->rooms);
	list_free(&c->allow_invites);
	list_free(&c->moderators);
	for (i = 0; i < c->nroom; i++) {
		free(c->room[i].id);
		free(c->room[i].region);
	}
	free(c->room);
	for (i = 0; i < c->nkeys; i++) {
		free(c->keys[i].section);
		free(c->keys[i].key);
	}
	free(c->keys);
	free(c->path);
	free(c);
}
