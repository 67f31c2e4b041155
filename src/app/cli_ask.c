/* cli_ask.c -- `faqbot ask` (cli_ask.h): each message answered as a direct
 * message would be, the command line being a conversation with the bot. */
#include "cli_ask.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bot.h"
#include "recent.h"

/* One input line of `ask -` is at most this long; the rest of a longer line
 * is read and dropped (TEXT_MESSAGE_MAX, the most a message is read, is 64 KiB too). */
#define ASK_LINE_MAX (64 * 1024)

/* print_json prints the object for one message and frees nothing of out. */
static int print_json(const struct bot_out *out, const char *explain)
{
	json_t *o = json_object();
	char *s;

	if (!o)
		return -1;
	json_object_set_new(o, "kind", json_string(bot_kind_name(out)));
	if (out->matched && out->entry->id)
		json_object_set_new(o, "id", json_string(out->entry->id));
	if (out->text)
		json_object_set_new(o, "answer", json_string(out->text));
	if (explain)
		json_object_set_new(o, "explain", json_string(explain));
	s = json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII);
	json_decref(o);
	if (!s)
		return -1;
	puts(s);
	free(s);
	fflush(stdout);
	return 0;
}

/* ask_one answers text as a direct message would be answered: the
 * command line is a conversation with the bot. context: the same member's
 * last messages (ask_line), or NULL. With why, also which stage decided
 * and why (--explain). */
static enum err ask_one(const struct faq *faq, const struct cli_opts *o, const char *text,
			size_t len, const char *context, struct bot_out *out, char *why,
			size_t whylen)
{
	struct bot_in in = {0};

	in.text = text;
	in.len = len;
	in.context = context;
	in.direct = 1;
	in.region = o->region;
	if (why)
		bot_explain(faq, &in, why, whylen);
	return bot_handle(faq, &in, out);
}

/* json_line reads {"text": ..., "sender": ...} (sender optional) into new
 * strings; 0 when line is not such an object (then it is read as text). */
static int json_line(const char *line, char **text, char **sender)
{
	json_t *o = json_loads(line, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
	const char *t = json_string_value(json_object_get(o, "text"));
	const char *s = json_string_value(json_object_get(o, "sender"));

	*text = *sender = NULL;
	if (!json_is_object(o) || !t) {
		json_decref(o);
		return 0;
	}
	*text = strdup(t);
	*sender = s && *s ? strdup(s) : NULL;
	json_decref(o);
	return *text != NULL;
}

/* read_line reads one line of at most max bytes into *buf (grown as needed),
 * dropping the rest of a longer line. Returns the length, or -1 at EOF. */
static long read_line(FILE *f, char **buf, size_t *cap, size_t max)
{
	size_t n = 0;
	int c, any = 0;

	while ((c = getc(f)) != EOF) {
		any = 1;
		if (c == '\n')
			break;
		if (n < max) {
			if (n + 2 > *cap) {
				size_t nc = *cap ? *cap * 2 : 256;
				char *nb = realloc(*buf, nc);

				if (!nb)
					return -2;
				*buf = nb;
				*cap = nc;
			}
			(*buf)[n++] = (char)c;
		}
	}
	if (!any)
		return -1;
	if (!*buf) {
		*buf = malloc(1);
		if (!*buf)
			return -2;
		*cap = 1;
	}
	if (n > 0 && (*buf)[n - 1] == '\r')
		n--;
	(*buf)[n] = '\0';
	return (long)n;
}

/* ask_line answers one line of `ask -`. why: NULL, or where --explain's
 * reason goes. ERR_NOMEM. */
static enum err ask_line(const struct faq *faq, const struct cli_opts *o, struct recent *recent,
			 const char *line, size_t n, struct bot_out *out, char *why, size_t whylen)
{
	const char *msg = line;
	size_t mlen = n;
	char *context = NULL, *sender = NULL, *owned = NULL;
	enum err e;

	/* {"sender": ..., "text": ...}: a member's messages are read
	 * together, as in a room (recent.h); a plain line is alone */
	if (n > 0 && line[0] == '{' && json_line(line, &owned, &sender)) {
		msg = owned;
		mlen = strlen(owned);
		if (sender)
			context = recent_joined(recent, "ask", sender, (long)time(NULL));
	}
	e = ask_one(faq, o, msg, mlen, context, out, why, whylen);
	if (e == ERR_OK && sender) {
		if (out->matched && out->cls == FAQ_CLASS_CRISIS)
			recent_forget(recent, "ask", sender);
		else
			e = recent_add(recent, "ask", sender, msg, (long)time(NULL));
	}
	free(context);
	free(sender);
	free(owned);
	return e;
}

/* ask_lines is `ask -`: one message a line of standard input, each
 * answered in turn. Returns the exit status. */
static int ask_lines(const struct faq *faq, const struct cli_opts *o, int json, int explain)
{
	char *line = NULL, why[1024];
	size_t cap = 0;
	long n;
	int rc = 0;
	struct recent *recent = recent_new();

	if (!recent)
		return CLI_EXIT_RUNTIME;
	while ((n = read_line(stdin, &line, &cap, ASK_LINE_MAX)) >= 0) {
		struct bot_out out;

		if (ask_line(faq, o, recent, line, (size_t)n, &out, explain ? why : NULL,
			     sizeof(why)) != ERR_OK) {
			fprintf(stderr, "faqbot: out of memory\n");
			rc = CLI_EXIT_RUNTIME;
			bot_out_release(&out);
			break;
		}
		if (json) {
			if (print_json(&out, explain ? why : NULL) < 0)
				rc = CLI_EXIT_RUNTIME;
		} else {
			printf("%s\n%s", out.text ? out.text : "", out.text ? "\n" : "");
			if (explain)
				printf("(%s: %s)\n\n", bot_kind_name(&out), why);
		}
		bot_out_release(&out);
	}
	if (n == -2)
		rc = CLI_EXIT_RUNTIME;
	free(line);
	recent_free(recent);
	return rc;
}

/* ask_text answers the one message given on the command line. Returns the
 * exit status. */
static int ask_text(const struct faq *faq, const struct cli_opts *o, const char *text, int json,
		    int explain)
{
	struct bot_out out;
	char why[1024];
	int rc = 0;

	if (ask_one(faq, o, text, strlen(text), NULL, &out, explain ? why : NULL, sizeof(why)) !=
	    ERR_OK) {
		rc = CLI_EXIT_RUNTIME;
	} else if (json) {
		rc = print_json(&out, explain ? why : NULL) < 0 ? CLI_EXIT_RUNTIME : 0;
	} else if (out.text) {
		puts(out.text);
	} else {
		fprintf(stderr, "faqbot: no answer: this reads as chat, or no FAQ entry "
				"matches it (the bot stays quiet)\n");
	}
	if (explain && !json)
		printf("(%s: %s)\n", bot_kind_name(&out), why);
	bot_out_release(&out);
	return rc;
}

int cli_ask(const struct cli_opts *o, int argc, char **argv)
{
	struct faq *faq;
	int json = 0, explain = 0, i, rc = 0;
	const char *text = NULL;

	for (i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0)
			json = 1;
		else if (strcmp(argv[i], "--explain") == 0)
			explain = 1;
		else if (argv[i][0] == '-' && argv[i][1] && strcmp(argv[i], "-") != 0)
			return cli_usage_error("ask: unknown option '%s'", argv[i]);
		else if (!text)
			text = argv[i];
		else
			return cli_usage_error("ask: one message at a time (quote it): '%s'",
					       argv[i]);
	}
	if (!text)
		return cli_usage_error("%s", "ask: give a message, or '-' to read one a line");
	faq = cli_load_faq(o, &rc);
	if (!faq)
		return rc;
	if (strcmp(text, "-") == 0)
		rc = ask_lines(faq, o, json, explain);
	else
		rc = ask_text(faq, o, text, json, explain);
	faq_free(faq);
	return rc;
}
