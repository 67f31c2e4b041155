/* irc_parse.c -- the pure IRC protocol layer: a bounded line reader, the
 * message parser (IRCv3 tags, source, command, params), CTCP and target
 * helpers, mIRC formatting strip, and the line builders for output.
 *
 * It does no I/O and keeps no global state, so it can be fed input split at
 * every byte in the unit tests and fuzzed. It does not know about
 * registration and capabilities (irc_reg.c) or flood control (irc_out.c). */
#include "irc_parse.h"

#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

/* The reader. buf[start, end) holds bytes not yet read by irc_reader_next:
 * complete lines, then at most one partial line (part bytes long, never more
 * than IRC_WIRE_MAX). A line that grows past the limit is dropped from the
 * buffer and the rest of it, up to its LF, is skipped (skipping). The error
 * is reported in order: err_at is the count of complete lines stored before
 * it, err_count how many over-long lines sit at that point. */
struct irc_reader {
	size_t start, end, part;
	int skipping;
	unsigned long lines_in, lines_out; /* complete lines stored, read */
	unsigned long err_at;
	unsigned long err_count;
	char buf[IRC_READER_BUF];
};

struct irc_reader *irc_reader_new(void)
{
	return calloc(1, sizeof(struct irc_reader));
}

void irc_reader_free(struct irc_reader *r)
{
	free(r);
}

size_t irc_reader_space(const struct irc_reader *r)
{
	return IRC_READER_BUF - (r->end - r->start);
}

size_t irc_reader_feed(struct irc_reader *r, const char *buf, size_t len)
{
	size_t i;

	if (r->start > 0 && r->end + len > IRC_READER_BUF) {
		memmove(r->buf, r->buf + r->start, r->end - r->start);
		r->end -= r->start;
		r->start = 0;
	}
	for (i = 0; i < len; i++) {
		char c = buf[i];

		if (r->skipping) {
			if (c == '\n')
				r->skipping = 0;
			continue;
		}
		if (c != '\n' && r->part + 1 >= IRC_WIRE_MAX) {
			/* The line would pass the limit with its LF. A second
			 * error at another place in the stream waits until the
			 * first has been read, so errors keep their order. */
			if (r->err_count > 0 && r->err_at != r->lines_in)
				break;
			r->end -= r->part;
			r->part = 0;
			r->skipping = 1;
			r->err_at = r->lines_in;
			r->err_count++;
			continue;
		}
		if (r->end >= IRC_READER_BUF)
			break;
		r->buf[r->end++] = c;
		if (c == '\n') {
			r->part = 0;
			r->lines_in++;
		} else {
			r->part++;
		}
	}
	return i;
}

enum err irc_reader_next(struct irc_reader *r, struct irc_msg *msg, int *got)
{
	*got = 0;
	for (;;) {
		const char *p, *nl;
		size_t n;
		enum err e;

		if (r->err_count > 0 && r->err_at == r->lines_out) {
			r->err_count--;
			return ERR_LIMIT;
		}
		if (r->lines_out == r->lines_in)
			return ERR_OK;
		p = r->buf + r->start;
		nl = memchr(p, '\n', r->end - r->start);
		if (!nl) /* cannot happen: lines_in counts the LFs stored */
			return ERR_OK;
		n = (size_t)(nl - p);
		r->start += n + 1;
		r->lines_out++;
		if (r->start == r->end)
			r->start = r->end = 0;
		if (n > 0 && p[n - 1] == '\r')
			n--;
		if (n == 0)
			continue; /* empty lines are ignored */
		/* p stays valid: nothing moves the buffer until the next feed */
		e = irc_parse_line(p, n, msg);
		if (e != ERR_OK)
			return e;
		*got = 1;
		return ERR_OK;
	}
}

/* unescape_tag_value undoes message-tags.md escaping in place: \: ; \s
 * space, \\ \, \r CR, \n LF; any other escaped character stands for itself
 * and a lone \ at the end is dropped. */
static void unescape_tag_value(char *s)
{
	char *o = s;

	while (*s) {
		if (*s != '\\') {
			*o++ = *s++;
			continue;
		}
		s++;
		switch (*s) {
		case '\0':
			continue;
		case ':':
			*o++ = ';';
			break;
		case 's':
			*o++ = ' ';
			break;
		case 'r':
			*o++ = '\r';
			break;
		case 'n':
			*o++ = '\n';
			break;
		default:
			*o++ = *s;
			break;
		}
		s++;
	}
	*o = '\0';
}

static int is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static int command_ok(const char *s)
{
	size_t i = 0;

	if (is_digit(s[0]))
		return is_digit(s[1]) && is_digit(s[2]) && s[3] == '\0';
	while (is_alpha(s[i]))
		i++;
	return i > 0 && s[i] == '\0';
}

/* parse_tags splits "k=v;k2;k3=" (NUL-terminated, in msg->line) into
 * msg->tags. Tags with an empty key are skipped. */
static void parse_tags(char *s, struct irc_msg *msg)
{
	while (*s) {
		char *semi = strchr(s, ';');
		char *eq;

		if (semi)
			*semi = '\0';
		eq = strchr(s, '=');
		if (eq)
			*eq = '\0';
		if (*s) {
			if (msg->ntags < IRC_TAG_COUNT_MAX) {
				struct irc_tag *t = &msg->tags[msg->ntags++];

				t->key = s;
				t->value = eq ? eq + 1 : "";
				if (eq)
					unescape_tag_value(eq + 1);
			} else {
				msg->tags_dropped++;
			}
		}
		if (!semi)
			break;
		s = semi + 1;
	}
}

/* split_source fills nick, user and host from msg->source, in msg->src. */
static void split_source(struct irc_msg *msg)
{
	size_t n = strlen(msg->source);
	char *bang, *at;

	memcpy(msg->src, msg->source, n + 1); /* n < IRC_LINE_MAX: checked */
	msg->nick = msg->src;
	at = strchr(msg->src, '@');
	if (at) {
		*at = '\0';
		msg->host = at + 1;
	}
	bang = strchr(msg->src, '!');
	if (bang) {
		*bang = '\0';
		msg->user = bang + 1;
	}
}

enum err irc_parse_line(const char *line, size_t len, struct irc_msg *msg)
{
	char *p, *end;

	msg->ntags = 0;
	msg->tags_dropped = 0;
	msg->source = msg->nick = msg->user = msg->host = NULL;
	msg->command = NULL;
	msg->nparams = 0;
	msg->line[0] = '\0';
	while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
		len--;
	if (len == 0)
		return ERR_PARSE;
	if (len > IRC_WIRE_MAX - 2)
		return ERR_LIMIT;
	if (memchr(line, '\0', len))
		return ERR_PARSE;
	memcpy(msg->line, line, len);
	msg->line[len] = '\0';
	p = msg->line;
	end = p + len;

	if (*p == '@') {
		char *sp = strchr(p, ' ');

		if (!sp)
			return ERR_PARSE;
		/* '@', the tags and the space */
		if ((size_t)(sp - p) + 1 > IRC_TAGS_MAX)
			return ERR_LIMIT;
		*sp = '\0';
		parse_tags(p + 1, msg);
		p = sp + 1;
	}
	while (*p == ' ')
		p++;
	if ((size_t)(end - p) + 2 > IRC_LINE_MAX)
		return ERR_LIMIT;
	if (*p == ':') {
		char *sp = strchr(p, ' ');

		if (!sp || sp == p + 1)
			return ERR_PARSE;
		*sp = '\0';
		msg->source = p + 1;
		split_source(msg);
		p = sp + 1;
		while (*p == ' ')
			p++;
	}
	msg->command = p;
	while (*p && *p != ' ')
		p++;
	if (*p)
		*p++ = '\0';
	if (!command_ok(msg->command)) {
		msg->command = NULL;
		return ERR_PARSE;
	}
	for (;;) {
		while (*p == ' ')
			p++;
		if (!*p)
			break;
		if (*p == ':' || msg->nparams == IRC_PARAMS_MAX - 1) {
			/* the trailing parameter, or the 15th: the rest */
			msg->params[msg->nparams++] = *p == ':' ? p + 1 : p;
			break;
		}
		msg->params[msg->nparams++] = p;
		while (*p && *p != ' ')
			p++;
		if (*p)
			*p++ = '\0';
	}
	return ERR_OK;
}

const char *irc_msg_tag(const struct irc_msg *msg, const char *key)
{
	size_t i;

	/* the last of duplicate keys wins, as message-tags.md asks */
	for (i = msg->ntags; i-- > 0;)
		if (strcmp(msg->tags[i].key, key) == 0)
			return msg->tags[i].value;
	return NULL;
}

int irc_ctcp_parse(const char *text, struct irc_ctcp *out)
{
	const char *p, *close;
	size_t n = 0;

	if (!text || text[0] != '\x01')
		return 0;
	p = text + 1;
	if (!out)
		return 1;
	while (p[n] && p[n] != ' ' && p[n] != '\x01') {
		if (n + 1 < IRC_CTCP_CMD_MAX) {
			char c = p[n];

			out->command[n] = (c >= 'a' && c <= 'z') ? (char)(c - 'a' + 'A') : c;
		}
		n++;
	}
	out->command[n < IRC_CTCP_CMD_MAX ? n : IRC_CTCP_CMD_MAX - 1] = '\0';
	p += n;
	if (*p == ' ')
		p++;
	close = strchr(p, '\x01');
	out->arg = p;
	out->arg_len = close ? (size_t)(close - p) : strlen(p);
	return 1;
}

int irc_target_is_channel(const char *target, const char *chantypes)
{
	if (!target || !target[0])
		return 0;
	return strchr(chantypes ? chantypes : "#&", target[0]) != NULL;
}

static int rfc1459_lower(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A' + 'a';
	switch (c) {
	case '[':
		return '{';
	case ']':
		return '}';
	case '\\':
		return '|';
	case '~':
		return '^';
	default:
		return c;
	}
}

int irc_casecmp(const char *a, const char *b)
{
	for (;; a++, b++) {
		int x = rfc1459_lower((unsigned char)*a), y = rfc1459_lower((unsigned char)*b);

		if (x != y || !x)
			return x - y;
	}
}

int irc_target_is_me(const char *target, const char *my_nick)
{
	if (!target || !my_nick || !my_nick[0])
		return 0;
	return irc_casecmp(target, my_nick) == 0;
}

static int is_hex(char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* skip_run returns how many of the at most max bytes from s[i] (s has len
 * bytes) ok accepts. */
static size_t skip_run(const char *s, size_t i, size_t len, size_t max, int (*ok)(char))
{
	size_t n = 0;

	while (n < max && i + n < len && ok(s[i + n]))
		n++;
	return n;
}

size_t irc_strip_format(char *s, size_t len)
{
	size_t i = 0, o = 0;

	while (i < len) {
		unsigned char c = (unsigned char)s[i];

		if (c == 0x03) { /* ^C[fg[,bg]], one or two digits each */
			size_t k = skip_run(s, i + 1, len, 2, is_digit);

			i += 1 + k;
			if (k > 0 && i + 1 < len && s[i] == ',' && is_digit(s[i + 1]))
				i += 1 + skip_run(s, i + 1, len, 2, is_digit);
		} else if (c == 0x04) { /* ^D[RRGGBB[,RRGGBB]] */
			size_t k = skip_run(s, i + 1, len, 6, is_hex);

			i += 1 + k;
			if (k == 6 && i + 1 < len && s[i] == ',' && is_hex(s[i + 1]))
				i += 1 + skip_run(s, i + 1, len, 6, is_hex);
		} else if (c == '\t' || c == '\n' || c == '\r') {
			s[o++] = ' ';
			i++;
		} else if (c < 0x20 || c == 0x7f) {
			i++; /* bold, italics, reset, reverse... and stray controls */
		} else {
			s[o++] = s[i++];
		}
	}
	s[o] = '\0';
	return o;
}

int irc_param_ok(const char *s, int last)
{
	if (!s)
		return 0;
	if (strpbrk(s, "\r\n"))
		return 0;
	if (last)
		return 1;
	return s[0] != '\0' && s[0] != ':' && !strchr(s, ' ');
}

int irc_word_ok(const char *s)
{
	return irc_param_ok(s, 0) && !strchr(s, ',');
}

/* needs_colon says whether the last parameter p must be sent after ':'. */
static int needs_colon(const char *p)
{
	return p[0] == '\0' || p[0] == ':' || strchr(p, ' ') != NULL;
}

enum err irc_build(char *out, size_t cap, size_t *out_len, const char *command,
		   const char *const *params, size_t nparams)
{
	size_t n, i, need;

	if (cap > 0)
		out[0] = '\0';
	*out_len = 0;
	if (!command || !command_ok(command) || nparams > IRC_PARAMS_MAX)
		return ERR_INVALID;
	need = strlen(command) + 2; /* and CRLF */
	for (i = 0; i < nparams; i++) {
		int last = i + 1 == nparams;

		if (!irc_param_ok(params[i], last))
			return ERR_INVALID;
		need += 1 + strlen(params[i]) + (last && needs_colon(params[i]));
	}
	if (need > IRC_LINE_MAX || need + 1 > cap)
		return ERR_LIMIT;
	n = strlen(command);
	memcpy(out, command, n);
	for (i = 0; i < nparams; i++) {
		const char *p = params[i];
		size_t k = strlen(p);

		out[n++] = ' ';
		if (i + 1 == nparams && needs_colon(p))
			out[n++] = ':';
		memcpy(out + n, p, k);
		n += k;
	}
	out[n++] = '\r';
	out[n++] = '\n';
	out[n] = '\0';
	*out_len = n;
	return ERR_OK;
}

size_t irc_prefix_len(const char *nick, const char *user, const char *host)
{
	return 1 + strlen(nick ? nick : "") + 1 + (user ? strlen(user) : IRC_USER_GUESS) + 1 +
	       (host ? strlen(host) : IRC_HOST_GUESS) + 1;
}

void irc_lines_release(struct irc_lines *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	free(l->len);
	l->n = l->cap = 0;
	l->v = NULL;
	l->len = NULL;
}

/* lines_push appends "head" + text[0, n) + CRLF to l. */
static enum err lines_push(struct irc_lines *l, const char *head, size_t hlen, const char *text,
			   size_t n)
{
	char *s;

	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 8;
		char **v = realloc(l->v, cap * sizeof(*v));
		size_t *len;

		if (!v)
			return ERR_NOMEM;
		l->v = v;
		len = realloc(l->len, cap * sizeof(*len));
		if (!len)
			return ERR_NOMEM;
		l->len = len;
		l->cap = cap;
	}
	s = malloc(hlen + n + 3);
	if (!s)
		return ERR_NOMEM;
	memcpy(s, head, hlen);
	memcpy(s + hlen, text, n);
	memcpy(s + hlen + n, "\r\n", 3);
	l->v[l->n] = s;
	l->len[l->n] = hlen + n + 2;
	l->n++;
	return ERR_OK;
}

static int is_cont(char c)
{
	return ((unsigned char)c & 0xC0) == 0x80;
}

/* grapheme_cut returns the end of the last whole grapheme cluster (a letter
 * with its accents, an emoji sequence) that starts at s[0] and ends within
 * max bytes, or 0 when there is none or the bytes are not valid UTF-8. n
 * is how many bytes s holds. */
static size_t grapheme_cut(const char *s, size_t n, size_t max)
{
	utf8proc_int32_t prev = -1, cp;
	utf8proc_int32_t gstate = 0;
	size_t i = 0, best = 0;

	while (i < n && i <= max) {
		utf8proc_ssize_t k = utf8proc_iterate((const utf8proc_uint8_t *)s + i,
						      (utf8proc_ssize_t)(n - i), &cp);

		if (k <= 0)
			return 0;
		if (prev >= 0 && utf8proc_grapheme_break_stateful(prev, cp, &gstate))
			best = i;
		prev = cp;
		i += (size_t)k;
	}
	if (i == n && i <= max) /* the end of the text is a boundary too */
		best = i;
	return best;
}

/* split_one wraps one line of text (no CR/LF/controls, s[0, n)) into chunks
 * of at most room bytes and pushes them. */
static enum err split_one(struct irc_lines *l, const char *head, size_t hlen, const char *s,
			  size_t n, size_t room)
{
	size_t pos = 0;
	enum err e;

	while (n > 0 && s[n - 1] == ' ')
		n--;
	for (;;) {
		size_t cut, k;

		while (pos < n && s[pos] == ' ')
			pos++;
		if (pos >= n)
			return ERR_OK;
		if (n - pos <= room)
			return lines_push(l, head, hlen, s + pos, n - pos);
		/* the last space within room + 1 bytes: text before it fits */
		cut = 0;
		for (k = pos + room; k > pos; k--) {
			if (s[k] == ' ') {
				cut = k;
				break;
			}
		}
		if (cut > pos) {
			k = cut;
			while (k > pos && s[k - 1] == ' ')
				k--;
			e = lines_push(l, head, hlen, s + pos, k - pos);
			if (e != ERR_OK)
				return e;
			pos = cut;
			continue;
		}
		/* one word longer than room: cut between grapheme clusters,
		 * else at a character boundary, so a letter never loses its
		 * accent and valid UTF-8 is never cut inside a character */
		cut = pos + grapheme_cut(s + pos, n - pos, room);
		if (cut == pos) { /* one cluster longer than room, or not UTF-8 */
			cut = pos + room;
			while (cut > pos && is_cont(s[cut]))
				cut--;
			if (cut == pos) /* a run of continuation bytes */
				cut = pos + room;
		}
		e = lines_push(l, head, hlen, s + pos, cut - pos);
		if (e != ERR_OK)
			return e;
		pos = cut;
	}
}

enum err irc_split_text(const char *command, const char *target, const char *text, size_t len,
			size_t prefix_len, struct irc_lines *out)
{
	char head[IRC_LINE_MAX];
	size_t hlen, room, start = 0, i, n0 = out->n;
	char *clean = NULL;
	enum err e = ERR_OK;

	if (!command || !command_ok(command) || !irc_param_ok(target, 0))
		return ERR_INVALID;
	if (len > IRC_SPLIT_TEXT_MAX)
		return ERR_LIMIT;
	hlen = strlen(command) + strlen(target) + 3; /* "CMD target :" */
	/* prefix, head, at least one 4-byte character and CRLF */
	if (prefix_len >= IRC_LINE_MAX || hlen + prefix_len + 4 + 2 > IRC_LINE_MAX)
		return ERR_LIMIT;
	room = IRC_LINE_MAX - prefix_len - hlen - 2;
	memcpy(head, command, strlen(command));
	i = strlen(command);
	head[i++] = ' ';
	memcpy(head + i, target, strlen(target));
	i += strlen(target);
	head[i++] = ' ';
	head[i++] = ':';

	clean = malloc(len + 1);
	if (!clean)
		return ERR_NOMEM;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)text[i];

		clean[i] = (c < 0x20 && c != '\r' && c != '\n') || c == 0x7f ? ' ' : (char)c;
	}
	clean[len] = '\0';
	for (i = 0; i <= len && e == ERR_OK; i++) {
		if (i == len || clean[i] == '\r' || clean[i] == '\n') {
			e = split_one(out, head, hlen, clean + start, i - start, room);
			start = i + 1;
		}
	}
	free(clean);
	if (e != ERR_OK) {
		for (i = n0; i < out->n; i++)
			free(out->v[i]);
		out->n = n0;
	}
	return e;
}
