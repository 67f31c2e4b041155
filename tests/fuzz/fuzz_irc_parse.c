/* fuzz_irc_parse.c -- the IRC reader, parser and output builders on any
 * bytes. The first byte picks the chunk sizes the rest is fed in and the
 * prefix length for the splitter. Invariants, abort() on a violation:
 *   - the reader always makes progress and hands out well-formed messages
 *     (a command, at most IRC_PARAMS_MAX parameters, bounded strings);
 *   - irc_build of a parsed message parses back to the same message;
 *   - every line of irc_split_text fits IRC_LINE_MAX with the prefix, has
 *     no CR, LF or NUL inside, is valid UTF-8 when the input was, and the
 *     lines keep every visible byte of the text, in order;
 *   - irc_strip_format leaves no control characters. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "irc_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int utf8_valid(const char *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		utf8proc_int32_t cp;
		utf8proc_ssize_t k =
			utf8proc_iterate((const utf8proc_uint8_t *)s + i, (utf8proc_ssize_t)(n - i), &cp);

		if (k <= 0)
			return 0;
		i += (size_t)k;
	}
	return 1;
}

static struct irc_msg msg, again;

static void check_msg(const struct irc_msg *m)
{
	const char *params[IRC_PARAMS_MAX];
	char line[IRC_LINE_MAX + 1];
	size_t i, n;

	if (!m->command || m->nparams > IRC_PARAMS_MAX || m->ntags > IRC_TAG_COUNT_MAX)
		abort();
	if (strlen(m->command) > IRC_LINE_MAX)
		abort();
	for (i = 0; i < m->nparams; i++) {
		if (strlen(m->params[i]) > IRC_LINE_MAX)
			abort();
		params[i] = m->params[i];
	}
	for (i = 0; i < m->ntags; i++)
		if (!m->tags[i].key[0] || strlen(m->tags[i].value) > IRC_TAGS_MAX)
			abort();
	if (m->source && (!m->nick || strlen(m->source) > IRC_LINE_MAX))
		abort();
	(void)irc_ctcp_parse(m->nparams > 1 ? m->params[1] : NULL, NULL);
	if (irc_build(line, sizeof(line), &n, m->command, params, m->nparams) != ERR_OK)
		return;
	if (n > IRC_LINE_MAX || strlen(line) != n)
		abort();
	if (irc_parse_line(line, n, &again) != ERR_OK)
		abort();
	if (strcmp(again.command, m->command) != 0 || again.nparams != m->nparams)
		abort();
	for (i = 0; i < m->nparams; i++)
		if (strcmp(again.params[i], m->params[i]) != 0)
			abort();
}

static int visible(unsigned char c) { return c > 0x20 && c != 0x7f; }

static void check_split(const char *text, size_t len, size_t prefix_len)
{
	struct irc_lines l = IRC_LINES_INIT;
	const size_t hlen = strlen("PRIVMSG #c :");
	size_t i, j, t = 0;
	int valid = utf8_valid(text, len);

	if (irc_split_text("PRIVMSG", "#c", text, len, prefix_len, &l) != ERR_OK)
		return;
	for (i = 0; i < l.n; i++) {
		const char *s = l.v[i];
		size_t n = l.len[i];

		if (n < hlen + 2 || prefix_len + n > IRC_LINE_MAX || memcmp(s, "PRIVMSG #c :", hlen))
			abort();
		if (memcmp(s + n - 2, "\r\n", 2) || memchr(s, '\r', n - 2) || memchr(s, '\n', n - 2) ||
		    memchr(s, '\0', n))
			abort();
		if (valid && !utf8_valid(s + hlen, n - 2 - hlen))
			abort();
		for (j = hlen; j < n - 2; j++) { /* the visible bytes, in order */
			if (!visible((unsigned char)s[j]))
				continue;
			while (t < len && !visible((unsigned char)text[t]))
				t++;
			if (t >= len || text[t] != s[j])
				abort();
			t++;
		}
	}
	while (t < len && !visible((unsigned char)text[t]))
		t++;
	if (t != len)
		abort();
	irc_lines_release(&l);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct irc_reader *r;
	const char *in;
	size_t len, pos = 0, step = 0, i;
	unsigned sel;
	char *copy;

	if (size < 1)
		return 0;
	sel = data[0];
	in = (const char *)data + 1;
	len = size - 1;
	r = irc_reader_new();
	if (!r)
		return 0;
	while (pos < len) {
		/* chunks of 1..16 bytes, or the whole rest, as the first byte says */
		size_t chunk = (sel & 0x80) ? len - pos : 1 + ((sel + step * 7) & 15);
		size_t took;
		int got = 1;

		if (chunk > len - pos)
			chunk = len - pos;
		took = irc_reader_feed(r, in + pos, chunk);
		pos += took;
		step++;
		for (;;) {
			enum err e = irc_reader_next(r, &msg, &got);

			if (e != ERR_OK) {
				if (e != ERR_PARSE && e != ERR_LIMIT)
					abort();
				continue;
			}
			if (!got)
				break;
			check_msg(&msg);
		}
		if (took == 0) { /* drained, the reader must take something */
			took = irc_reader_feed(r, in + pos, chunk);
			if (took == 0)
				abort();
			pos += took;
		}
	}
	irc_reader_free(r);

	check_split(in, len, (sel * 3) % 300);

	copy = malloc(len + 1);
	if (!copy)
		return 0;
	memcpy(copy, in, len);
	copy[len] = '\0';
	i = irc_strip_format(copy, len);
	if (i > len || copy[i] != '\0')
		abort();
	while (i-- > 0)
		if ((unsigned char)copy[i] < 0x20 || copy[i] == 0x7f)
			abort();
	free(copy);
	return 0;
}
