/* config_secret.c -- secrets read as the config's are (config.h): from a
 * file only its owner can read, never a link, or from the environment; and
 * wiped when freed. Apart from config.c so that the parser stays one
 * concern, and so that a command that only needs a secret (the Application
 * Service's tokens, the pickle key) reads it the same way. config_load,
 * the whole config read with every secret it names, is here too: the
 * parser (config.c) never opens a secret. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "config_int.h"

enum err config_read_secret(const char *what, const char *file, const char *env, char **out,
			    char *err, size_t errlen)
{
	char buf[CONFIG_MAX_SECRET + 2];
	struct stat st;
	ssize_t n;
	size_t len;
	int fd;

	if (env) {
		const char *v = getenv(env);

		if (!v || !*v) {
			snprintf(err, errlen,
				 "the %s is to come from the environment variable %s, "
				 "which is not set",
				 what, env);
			return ERR_NOTFOUND;
		}
		*out = strdup(v);
		return *out ? ERR_OK : ERR_NOMEM;
	}
	fd = open(file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 && errno == ELOOP) {
		snprintf(err, errlen,
			 "the %s file %s is a symbolic link: secrets are read "
			 "only from the file itself (whoever can change a link can "
			 "point it elsewhere); give the real path",
			 what, file);
		return ERR_INVALID;
	}
	if (fd < 0) {
		snprintf(err, errlen, "cannot read the %s file %s: %s", what, file,
			 strerror(errno));
		return ERR_IO;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		snprintf(err, errlen, "the %s file %s is not a regular file", what, file);
		return ERR_INVALID;
	}
	if (st.st_mode & 077) {
		close(fd);
		snprintf(err, errlen,
			 "the %s file %s can be read by others (mode %03o): run "
			 "'chmod 600 %s'",
			 what, file, (unsigned)(st.st_mode & 0777), file);
		return ERR_INVALID;
	}
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 0 || (size_t)n > CONFIG_MAX_SECRET) {
		snprintf(err, errlen, "cannot read the %s file %s%s", what, file,
			 n < 0 ? "" : ": it is too long for a secret");
		return ERR_IO;
	}
	len = (size_t)n;
	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r' || buf[len - 1] == ' '))
		len--;
	if (len == 0) {
		snprintf(err, errlen, "the %s file %s is empty", what, file);
		return ERR_INVALID;
	}
	*out = strndup(buf, len);
	memset(buf, 0, sizeof(buf));
	return *out ? ERR_OK : ERR_NOMEM;
}

void config_secret_free(char *s)
{
	if (s) {
		/* volatile: the wipe is not optimised away before free */
		volatile char *v = s;

		while (*v)
			*v++ = '\0';
	}
	free(s);
}

/* config_read_channel_keys (config_int.h) reads "#channel key" lines (keys are shared
 * passwords: a 0600 file, like the other secrets) into c->irc_channel_keys,
 * one slot a configured channel. */
enum err config_read_channel_keys(struct config *c, char *err, size_t errlen)
{
	char *text = NULL, *line, *next;
	unsigned n = 0;
	enum err e;
	size_t i;

	e = config_read_secret("channel keys", c->irc_channel_keys_file, NULL, &text, err, errlen);
	if (e != ERR_OK)
		return e;
	c->irc_channel_keys = calloc(c->irc_channels.n ? c->irc_channels.n : 1, sizeof(char *));
	if (!c->irc_channel_keys) {
		config_secret_free(text);
		return ERR_NOMEM;
	}
	for (line = text; line && e == ERR_OK; line = next) {
		char chan[256], key[256], extra;
		int got;

		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		n++;
		got = sscanf(line, "%255s %255s %c", chan, key, &extra);
		/* blank, or a comment: channels start with '#', comments with "# " */
		if (got <= 0 || chan[0] == ';' || (line[0] == '#' && (line[1] == ' ' || !line[1])))
			continue;
		if (got != 2) {
			snprintf(err, errlen, "%s:%u: write '#channel key', one a line",
				 c->irc_channel_keys_file, n);
			e = ERR_INVALID;
			break;
		}
		for (i = 0; i < c->irc_channels.n && strcmp(c->irc_channels.v[i], chan); i++)
			;
		if (i == c->irc_channels.n) {
			snprintf(err, errlen, "%s:%u: %s is not in [irc] channels",
				 c->irc_channel_keys_file, n, chan);
			e = ERR_INVALID;
			break;
		}
		config_secret_free(c->irc_channel_keys[i]);
		c->irc_channel_keys[i] = strdup(key);
		if (!c->irc_channel_keys[i])
			e = ERR_NOMEM;
		memset(key, 0, sizeof(key));
	}
	config_secret_free(text);
	return e;
}

/* ---- the whole config, its secrets read --------------------------------- */

/* secret_at reads a secret as config_read_secret does; a refusal names the line
 * of the setting that named it. */
static enum err secret_at(const struct config *c, const char *section, const char *what,
			  const char *file, const char *file_key, const char *env,
			  const char *env_key, char **out, char *err, size_t errlen)
{
	enum err e = config_read_secret(what, file, env, out, err, errlen);
	unsigned line;
	char *copy;

	if (e == ERR_OK)
		return e;
	line = config_key_line(c, section, file ? file_key : env_key);
	copy = strdup(err);
	if (copy) {
		snprintf(err, errlen, "%s:%u: [%s] %s: %s", c->path, line, section,
			 file ? file_key : env_key, copy);
		free(copy);
	}
	return e;
}

enum err config_load(const char *path, struct config **out, char *err, size_t errlen)
{
	struct config *c = NULL;
	enum err e;

	*out = NULL;
	e = config_read(path, &c, err, errlen);
	if (e != ERR_OK)
		return e;
	if (c->has_appservice) {
		e = secret_at(c, "appservice", "as_token", c->as_token_file, "as_token_file", NULL,
			      NULL, &c->as_token, err, errlen);
		if (e == ERR_OK)
			e = secret_at(c, "appservice", "hs_token", c->as_hs_token_file,
				      "hs_token_file", NULL, NULL, &c->as_hs_token, err, errlen);
		if (e == ERR_NOTFOUND || e == ERR_IO) {
			size_t n = strlen(err);

			snprintf(err + n, errlen - n,
				 " (faqbot appservice-registration --config %s makes the tokens)",
				 path);
		}
	} else if (c->has_matrix) {
		int tok = c->access_token_file || c->access_token_env;
		int pw = c->password_file || c->password_env;

		if (c->access_token_file && c->access_token_env) {
			snprintf(err, errlen,
				 "access_token_env: the access token is named both as a "
				 "file and as an environment variable; keep one");
			e = ERR_INVALID;
		} else if (c->password_file && c->password_env) {
			snprintf(err, errlen,
				 "password_env: the password is named both as a file "
				 "and as an environment variable; keep one");
			e = ERR_INVALID;
		} else if (!tok && !pw) {
			snprintf(err, errlen,
				 "needs access_token_file, access_token_env, "
				 "password_file or password_env");
			e = ERR_INVALID;
		}
		if (e == ERR_OK && tok)
			e = secret_at(c, "matrix", "access token", c->access_token_file,
				      "access_token_file", c->access_token_env, "access_token_env",
				      &c->access_token, err, errlen);
		else if (e != ERR_OK)
			config_blame(c, "matrix", err, errlen);
		if (e == ERR_OK && pw)
			e = secret_at(c, "matrix", "password", c->password_file, "password_file",
				      c->password_env, "password_env", &c->password, err, errlen);
		if (e == ERR_OK)
			e = config_load_pickle_key(c, err, errlen);
	}
	if (e == ERR_OK && c->has_irc) {
		if (c->irc_sasl_password_file && c->irc_sasl_password_env) {
			snprintf(err, errlen,
				 "sasl_password_env: the SASL password is named both as "
				 "a file and as an environment variable; keep one");
			config_blame(c, "irc", err, errlen);
			e = ERR_INVALID;
		} else if (c->irc_sasl_password_file || c->irc_sasl_password_env) {
			e = secret_at(c, "irc", "SASL password", c->irc_sasl_password_file,
				      "sasl_password_file", c->irc_sasl_password_env,
				      "sasl_password_env", &c->irc_sasl_password, err, errlen);
		}
		if (e == ERR_OK && c->irc_channel_keys_file) {
			e = config_read_channel_keys(c, err, errlen);
			if (e != ERR_OK)
				config_blame(c, "irc", err, errlen);
		}
	}
	if (e != ERR_OK) {
		config_free(c);
		return e;
	}
	*out = c;
	return ERR_OK;
}

enum err config_load_pickle_key(struct config *c, char *err, size_t errlen)
{
	enum err e;

	if (!c->has_matrix || !c->encryption || c->pickle_key)
		return ERR_OK;
	if (c->pickle_key_file && c->pickle_key_env) {
		snprintf(err, errlen,
			 "pickle_key_env: the pickle key is named both as a file and as "
			 "an environment variable; keep one");
		config_blame(c, "matrix", err, errlen);
		return ERR_INVALID;
	}
	if (!c->pickle_key_file && !c->pickle_key_env) {
		snprintf(err, errlen,
			 "encryption = true needs pickle_key_file or pickle_key_env: "
			 "the key the device's encryption keys are kept encrypted with "
			 "in state_dir (make one: head -c 32 /dev/urandom | base64 > "
			 "FILE; chmod 600 FILE)");
		config_blame(c, "matrix", err, errlen);
		return ERR_INVALID;
	}
	e = secret_at(c, "matrix", "pickle key", c->pickle_key_file, "pickle_key_file",
		      c->pickle_key_env, "pickle_key_env", &c->pickle_key, err, errlen);
	if (e == ERR_OK && strlen(c->pickle_key) < CONFIG_PICKLE_KEY_MIN) {
		snprintf(err, errlen,
			 "%s: the pickle key is %zu bytes, and must be %d at least "
			 "(make one: head -c 32 /dev/urandom | base64 > FILE)",
			 c->pickle_key_file ? "pickle_key_file" : "pickle_key_env",
			 strlen(c->pickle_key), CONFIG_PICKLE_KEY_MIN);
		config_blame(c, "matrix", err, errlen);
		config_secret_free(c->pickle_key);
		c->pickle_key = NULL;
		e = ERR_INVALID;
	}
	return e;
}
