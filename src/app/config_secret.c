/* config_secret.c -- secrets read as the config's are (config.h): from a
 * file only its owner can read, never a link, or from the environment; and
 * wiped when freed. Apart from config.c so that the parser stays one
 * concern, and so that a command that only needs a secret (the Application
 * Service's tokens, the pickle key) reads it the same way. */
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
