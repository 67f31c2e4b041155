/* cli_appsvc.c -- `faqbot appservice-registration` (cli_appsvc.h). */
#include "cli_appsvc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "cli.h"
#include "config.h"
#include "state.h"

/* yaml_str appends s as a YAML double-quoted scalar */
static void yaml_str(struct buf *b, const char *s)
{
	buf_puts(b, "\"");
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '"' || ch == '\\')
			buf_printf(b, "\\%c", ch);
		else if (ch < 0x20 || ch == 0x7f)
			buf_printf(b, "\\x%02x", ch);
		else
			buf_append(b, s, 1);
	}
	buf_puts(b, "\"");
}

/* regex_of writes ^id$ with every regex metacharacter escaped */
static void regex_of(struct buf *b, const char *id)
{
	buf_puts(b, "^");
	for (; *id; id++) {
		if (strchr(".^$*+?()[]{}|\\", *id))
			buf_puts(b, "\\");
		buf_append(b, id, 1);
	}
	buf_puts(b, "$");
}

void cli_as_yaml(const struct cli_as_reg *r, struct buf *b)
{
	const char *colon = strchr(r->user_id, ':');
	char local[256];
	struct buf re;
	size_t n = colon ? (size_t)(colon - r->user_id - 1) : 0;

	if (n >= sizeof(local))
		n = sizeof(local) - 1;
	memcpy(local, r->user_id + 1, n);
	local[n] = '\0';
	buf_init(&re, 1024);
	regex_of(&re, r->user_id);
	buf_puts(b,
		 "# faqbot's Application Service registration, made by faqbot\n"
		 "# appservice-registration. It holds two secrets: keep it readable by the\n"
		 "# homeserver only, and list it in the homeserver's app_service_config_files.\n");
	buf_puts(b, "id: ");
	yaml_str(b, r->id);
	buf_puts(b, "\nurl: ");
	yaml_str(b, r->url);
	buf_puts(b, "\nas_token: ");
	yaml_str(b, r->as_token);
	buf_puts(b, "\nhs_token: ");
	yaml_str(b, r->hs_token);
	buf_puts(b, "\nsender_localpart: ");
	yaml_str(b, local);
	buf_puts(b, "\nnamespaces:\n  users:\n    - exclusive: true\n      regex: ");
	yaml_str(b, re.s ? re.s : "^$");
	buf_puts(b,
		 "\n  aliases: []\n  rooms: []\nrate_limited: false\nreceive_ephemeral: false\n");
	buf_release(&re);
}

enum err cli_as_token(char *out, size_t len)
{
	unsigned char raw[CLI_AS_TOKEN_BYTES];
	size_t got = 0, i;

	if (len < 2 * sizeof(raw) + 1)
		return ERR_LIMIT;
	while (got < sizeof(raw)) {
		ssize_t n = getrandom(raw + got, sizeof(raw) - got, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return ERR_IO;
		got += (size_t)n;
	}
	for (i = 0; i < sizeof(raw); i++)
		snprintf(out + 2 * i, 3, "%02x", raw[i]);
	memset(raw, 0, sizeof(raw));
	return ERR_OK;
}

/* write_at writes data to path atomically, 0600 (state_write wants a
 * folder and a plain name) */
static enum err write_at(const char *path, const char *data)
{
	char dir[4096];
	const char *slash = strrchr(path, '/');
	size_t n;

	if (!slash) {
		snprintf(dir, sizeof(dir), ".");
		return state_write(dir, path, data, strlen(data), 0600);
	}
	n = (size_t)(slash - path);
	if (n == 0 || n >= sizeof(dir))
		snprintf(dir, sizeof(dir), "/");
	else
		snprintf(dir, sizeof(dir), "%.*s", (int)n, path);
	return state_write(dir, slash + 1, data, strlen(data), 0600);
}

/* token_at keeps the token in path, or with rotate (or none there yet)
 * makes one and writes it there; *made says which. */
static enum err token_at(const char *what, const char *path, int rotate, char **out, int *made,
			 char *err, size_t errlen)
{
	char tok[2 * CLI_AS_TOKEN_BYTES + 1];
	FILE *f;
	enum err e;

	*made = 0;
	f = rotate ? NULL : fopen(path, "r");
	if (f) {
		fclose(f);
		return config_read_secret(what, path, NULL, out, err, errlen);
	}
	if (!rotate && errno != ENOENT) {
		snprintf(err, errlen, "cannot read the %s file %s: %s", what, path,
			 strerror(errno));
		return ERR_IO;
	}
	e = cli_as_token(tok, sizeof(tok));
	if (e == ERR_OK)
		e = write_at(path, tok);
	if (e == ERR_OK)
		*out = strdup(tok);
	memset(tok, 0, sizeof(tok));
	if (e != ERR_OK) {
		snprintf(err, errlen, "cannot make the %s file %s", what, path);
		return e;
	}
	if (!*out)
		return ERR_NOMEM;
	*made = 1;
	return ERR_OK;
}

static int args(int argc, char **argv, const char **path, int *rotate)
{
	int i;

	for (i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--config") && i + 1 < argc)
			*path = argv[++i];
		else if (!strcmp(argv[i], "--rotate"))
			*rotate = 1;
		else
			return cli_usage_error("appservice-registration: unexpected '%s' "
					       "(appservice-registration --config FILE [--rotate])",
					       argv[i]);
	}
	if (!*path)
		return cli_usage_error("%s", "appservice-registration: give --config FILE: the "
					     "bot whose registration to write");
	return 0;
}

int cli_appservice_registration(int argc, char **argv)
{
	struct config *cfg = NULL;
	struct cli_as_reg r = {0};
	char *as = NULL, *hs = NULL, *yaml = NULL, err[1024];
	const char *path = NULL;
	int rotate = 0, made_as = 0, made_hs = 0, rc;
	struct buf b;
	enum err e;

	rc = args(argc, argv, &path, &rotate);
	if (rc)
		return rc;
	rc = CLI_EXIT_CONFIG;
	/* not config_load: the tokens are what this makes */
	if (config_read(path, &cfg, err, sizeof(err)) != ERR_OK) {
		fprintf(stderr, "faqbot: %s\n", err);
		return CLI_EXIT_CONFIG;
	}
	if (!cfg->has_appservice) {
		fprintf(stderr,
			"faqbot: %s: no [appservice] section: add one (listen = 127.0.0.1:29331) "
			"to run the [matrix] bot as an Application Service\n",
			path);
		goto out;
	}
	e = token_at("as_token", cfg->as_token_file, rotate, &as, &made_as, err, sizeof(err));
	if (e == ERR_OK)
		e = token_at("hs_token", cfg->as_hs_token_file, rotate, &hs, &made_hs, err,
			     sizeof(err));
	if (e != ERR_OK) {
		fprintf(stderr, "faqbot: %s\n", err);
		goto out;
	}
	r.id = cfg->as_id;
	r.url = cfg->as_url;
	r.as_token = as;
	r.hs_token = hs;
	r.user_id = cfg->user_id;
	buf_init(&b, 64 * 1024);
	cli_as_yaml(&r, &b);
	yaml = buf_detach(&b);
	if (!yaml || write_at(cfg->as_registration, yaml) != ERR_OK) {
		fprintf(stderr, "faqbot: cannot write the registration %s\n", cfg->as_registration);
		goto out;
	}
	printf("registration: %s (id %s, url %s, user %s)\n"
	       "as_token: %s (%s)\nhs_token: %s (%s)\n"
	       "next: copy the registration where the homeserver reads it, list it in its\n"
	       "app_service_config_files, restart the homeserver, then faqbot run --config %s\n",
	       cfg->as_registration, cfg->as_id, cfg->as_url, cfg->user_id, cfg->as_token_file,
	       made_as ? (rotate ? "new: the homeserver needs the new registration" : "new")
		       : "kept",
	       cfg->as_hs_token_file,
	       made_hs ? (rotate ? "new: the homeserver needs the new registration" : "new")
		       : "kept",
	       path);
	rc = 0;
out:
	if (yaml)
		memset(yaml, 0, strlen(yaml));
	free(yaml);
	config_secret_free(as);
	config_secret_free(hs);
	config_free(cfg);
	return rc;
}
