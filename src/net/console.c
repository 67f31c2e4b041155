/* console.c -- the terminal as a transport (see console.h). */
#include "console.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef FAQBOT_VERSION
#define FAQBOT_VERSION "dev"
#endif

#define CONSOLE_READ_CHUNK 4096

struct console {
	int fd;
	FILE *out;
	int prompt;
	tr_handler_fn fn;
	void *ctx;
	char *buf; /* bytes read, not yet a line handled */
	size_t len, cap;
	int eof;    /* the input ended */
	size_t cur; /* bytes of the line being read; past CONSOLE_LINE_MAX
	                * the rest of it is dropped */
};

enum err console_new(int fd, FILE *out, int prompt, struct console **c)
{
	*c = calloc(1, sizeof(**c));
	if (!*c)
		return ERR_NOMEM;
	(*c)->fd = fd;
	(*c)->out = out;
	(*c)->prompt = prompt;
	return ERR_OK;
}

void console_free(struct console *c)
{
	if (!c)
		return;
	free(c->buf);
	free(c);
}

static void show_prompt(struct console *c)
{
	if (c->prompt) {
		fprintf(c->out, "\nyou> ");
		fflush(c->out);
	}
}

static enum err start(void *t, tr_handler_fn fn, void *ctx, volatile sig_atomic_t *stop)
{
	struct console *c = t;

	(void)stop;
	c->fn = fn;
	c->ctx = ctx;
	if (c->prompt)
		fprintf(c->out,
			"faqbot %s console. Ask a question about treatment-resistant depression "
			"or its treatments.\nThis is an automated FAQ bot, not a clinician. "
			"Type !help for commands, !crisis for crisis lines, !quit or Ctrl-D to "
			"leave.\n",
			FAQBOT_VERSION);
	show_prompt(c);
	return ERR_OK;
}

/* line_end: the length of the first complete line in the buffer, or -1 */
static long line_end(const struct console *c)
{
	const char *nl = c->len ? memchr(c->buf, '\n', c->len) : NULL;

	if (nl)
		return nl - c->buf;
	return c->eof && c->len ? (long)c->len : -1;
}

static void want(void *t, struct tr_wait *w)
{
	struct console *c = t;

	if (line_end(c) >= 0 || c->eof) {
		w->at_ms = 0; /* a line is waiting: the next turn handles it */
		return;
	}
	w->fd[0].fd = c->fd;
	w->fd[0].events = POLLIN;
	w->n = 1;
}

/* fill reads what the descriptor has, keeping at most CONSOLE_LINE_MAX
 * bytes of a line. -1 on no memory. */
static int fill(struct console *c)
{
	char chunk[CONSOLE_READ_CHUNK];
	ssize_t n = read(c->fd, chunk, sizeof(chunk));
	ssize_t i;

	if (n < 0 && errno == EINTR)
		return 0;
	if (n <= 0) {
		c->eof = 1;
		return 0;
	}
	for (i = 0; i < n; i++) {
		if (chunk[i] == '\n')
			c->cur = 0;
		else if (c->cur++ >= CONSOLE_LINE_MAX)
			continue; /* the rest of a long line */
		if (c->len + 1 >= c->cap) {
			size_t nc = c->cap ? c->cap * 2 : 256;
			char *nb = realloc(c->buf, nc);

			if (!nb)
				return -1;
			c->buf = nb;
			c->cap = nc;
		}
		c->buf[c->len++] = chunk[i];
	}
	return 0;
}

/* say hands one line to the core and prints what a member would see. */
static int say(struct console *c, const char *line)
{
	struct tr_message m = {0};
	struct tr_reply out = {0};

	m.room = "console";
	m.sender = m.sender_account = "you";
	m.text = line;
	m.bot_name = "faqbot";
	m.direct = 1;
	m.sender_power = -1;
	if (c->fn(c->ctx, &m, &out) != ERR_OK) {
		fprintf(stderr, "faqbot: out of memory\n");
		return -1;
	}
	if (out.reply && out.text)
		fprintf(c->out, "faqbot> %s%s%s\n", out.mention ? out.mention : "",
			out.mention ? ": " : "", out.text);
	else
		fprintf(c->out, "faqbot> (stays quiet: %s)\n",
			out.quiet_why ? out.quiet_why : "nothing to say");
	if (out.mod_text)
		fprintf(c->out, "(moderators) %s\n", out.mod_text);
	if (out.alert_moderators) /* the reply says moderators know: here, nobody does */
		fprintf(c->out, "(console: in a chat room the moderators would now be alerted; "
				"nobody is alerted from this terminal)\n");
	fflush(c->out);
	return 0;
}

static enum tr_state ready(void *t, const struct tr_wait *w)
{
	struct console *c = t;
	long end;
	size_t n;
	int rc;

	if (w->n && w->fd[0].revents && fill(c) < 0)
		return TR_FAILED;
	end = line_end(c);
	if (end < 0)
		return c->eof ? TR_DONE : TR_RUNNING;
	n = (size_t)end;
	c->buf[n] = '\0'; /* the newline, or the byte past the last line (cap > len) */
	if (n > 0 && c->buf[n - 1] == '\r')
		c->buf[n - 1] = '\0';
	if (!strcmp(c->buf, "!quit") || !strcmp(c->buf, "!exit"))
		return TR_DONE;
	rc = c->buf[0] ? say(c, c->buf) : 0;
	if (n < c->len)
		n++;
	memmove(c->buf, c->buf + n, c->len - n);
	c->len -= n;
	if (rc < 0)
		return TR_FAILED;
	if (line_end(c) >= 0 || !c->eof)
		show_prompt(c);
	return TR_RUNNING;
}

static void notice(void *t, const char *text)
{
	struct console *c = t;

	fprintf(c->out, "(moderators) %s\n", text);
	fflush(c->out);
}

static void stop(void *t)
{
	(void)t;
}

static void health(const void *t, struct tr_health *h)
{
	(void)t;
	h->alive_ms = 0; /* a terminal has no network to be cut off from */
}

static const char *errstr(const void *t)
{
	(void)t;
	return "";
}

const struct transport_ops console_ops = {"console", start, want,   ready,
					  notice,    stop,  health, errstr};
