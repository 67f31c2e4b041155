/* test_irc_parse.c -- the IRC line reader and parser, CTCP and targets, the
 * formatting strip, and the output builders (the 512-byte property of the
 * splitter, UTF-8 never cut, injection refused). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <utf8proc.h>

#include "irc_parse.h"
#include "text.h"

static void parse_ok(const char *line, struct irc_msg *m)
{
	assert_int_equal(irc_parse_line(line, strlen(line), m), ERR_OK);
}

static void test_spec_examples(void **state)
{
	static struct irc_msg m;

	(void)state;
	parse_ok(":irc.example.com CAP LS * :multi-prefix extended-join sasl", &m);
	assert_string_equal(m.source, "irc.example.com");
	assert_string_equal(m.nick, "irc.example.com");
	assert_null(m.user);
	assert_null(m.host);
	assert_string_equal(m.command, "CAP");
	assert_int_equal(m.nparams, 3);
	assert_string_equal(m.params[0], "LS");
	assert_string_equal(m.params[1], "*");
	assert_string_equal(m.params[2], "multi-prefix extended-join sasl");

	parse_ok("@id=234AB :dan!d@localhost PRIVMSG #chan :Hey what's up!", &m);
	assert_int_equal(m.ntags, 1);
	assert_string_equal(m.tags[0].key, "id");
	assert_string_equal(m.tags[0].value, "234AB");
	assert_string_equal(m.nick, "dan");
	assert_string_equal(m.user, "d");
	assert_string_equal(m.host, "localhost");
	assert_string_equal(m.source, "dan!d@localhost");
	assert_string_equal(m.command, "PRIVMSG");
	assert_int_equal(m.nparams, 2);
	assert_string_equal(m.params[0], "#chan");
	assert_string_equal(m.params[1], "Hey what's up!");

	parse_ok("CAP REQ :sasl", &m);
	assert_null(m.source);
	assert_string_equal(m.command, "CAP");
	assert_int_equal(m.nparams, 2);
	assert_string_equal(m.params[1], "sasl");

	parse_ok(":dan!d@localhost PRIVMSG #chan ::-)", &m);
	assert_string_equal(m.params[1], ":-)");
	parse_ok(":dan!d@localhost PRIVMSG #chan Hey!", &m);
	assert_string_equal(m.params[1], "Hey!");
	parse_ok(":dan!d@localhost PRIVMSG #chan :", &m);
	assert_int_equal(m.nparams, 2);
	assert_string_equal(m.params[1], "");

	parse_ok(":irc.example.com 001 faqbot :Welcome to the Internet Relay Network faqbot\r\n",
		 &m);
	assert_string_equal(m.command, "001");
	assert_string_equal(m.params[0], "faqbot");

	parse_ok("PING :irc.example.com", &m);
	assert_string_equal(m.command, "PING");
	assert_string_equal(m.params[0], "irc.example.com");
	parse_ok("AUTHENTICATE +", &m);
	assert_string_equal(m.params[0], "+");
	parse_ok(":nick@host NOTICE  faqbot   :two  spaces ", &m);
	assert_string_equal(m.nick, "nick");
	assert_null(m.user);
	assert_string_equal(m.host, "host");
	assert_string_equal(m.params[0], "faqbot");
	assert_string_equal(m.params[1], "two  spaces ");
	parse_ok("JOIN #a   ", &m);
	assert_int_equal(m.nparams, 1);

	assert_int_equal(irc_parse_line("", 0, &m), ERR_PARSE);
	assert_int_equal(irc_parse_line(":only.source", 12, &m), ERR_PARSE);
	assert_int_equal(irc_parse_line(": PING", 6, &m), ERR_PARSE);
	assert_int_equal(irc_parse_line("@a=b", 4, &m), ERR_PARSE);
	assert_int_equal(irc_parse_line("12 x", 4, &m), ERR_PARSE);
	assert_int_equal(irc_parse_line("PRI-VMSG x", 10, &m), ERR_PARSE);
	assert_int_equal(irc_parse_line("PING a\0b", 8, &m), ERR_PARSE);
}

static void test_tags(void **state)
{
	static struct irc_msg m;

	(void)state;
	parse_ok("@url=;netsplit=tur,ty :dan!d@localhost QUIT :Bye", &m);
	assert_int_equal(m.ntags, 2);
	assert_string_equal(irc_msg_tag(&m, "url"), "");
	assert_string_equal(irc_msg_tag(&m, "netsplit"), "tur,ty");
	assert_null(irc_msg_tag(&m, "time"));

	parse_ok("@a=b\\:c\\sd\\\\e\\r\\nf;b=x\\y\\;c;+example.com/d=1;;=v;a=last PING x", &m);
	assert_string_equal(m.tags[0].value, "b;c d\\e\r\nf");
	assert_string_equal(irc_msg_tag(&m, "b"), "xy");
	assert_string_equal(irc_msg_tag(&m, "c"), "");
	assert_string_equal(irc_msg_tag(&m, "+example.com/d"), "1");
	assert_string_equal(irc_msg_tag(&m, "a"), "last"); /* the last one wins */
	assert_string_equal(m.command, "PING");

	parse_ok("@time=2026-11-21T23:35:25.000Z;msgid=abc :n!u@h PRIVMSG #c :hi", &m);
	assert_string_equal(irc_msg_tag(&m, "time"), "2026-11-21T23:35:25.000Z");
	assert_string_equal(m.params[1], "hi");
}

static void test_tag_count_cap(void **state)
{
	static struct irc_msg m;
	static char line[IRC_WIRE_MAX];
	size_t n = 0, i;

	(void)state;
	line[n++] = '@';
	for (i = 0; i < IRC_TAG_COUNT_MAX + 10; i++)
		n += (size_t)snprintf(line + n, sizeof(line) - n, "t%zu=%zu;", i, i);
	n += (size_t)snprintf(line + n, sizeof(line) - n, " PING x");
	assert_int_equal(irc_parse_line(line, n, &m), ERR_OK);
	assert_int_equal(m.ntags, IRC_TAG_COUNT_MAX);
	assert_int_equal(m.tags_dropped, 10);
	assert_string_equal(m.command, "PING");
}

static void test_params_limit(void **state)
{
	static struct irc_msg m;

	(void)state;
	parse_ok("CMD 1 2 3 4 5 6 7 8 9 10 11 12 13 14", &m);
	assert_int_equal(m.nparams, 14);
	parse_ok("CMD 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15", &m);
	assert_int_equal(m.nparams, 15);
	assert_string_equal(m.params[14], "15");
	/* beyond 15, the 15th takes the rest of the line (RFC 2812 grammar) */
	parse_ok("CMD 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17", &m);
	assert_int_equal(m.nparams, 15);
	assert_string_equal(m.params[13], "14");
	assert_string_equal(m.params[14], "15 16 17");
	parse_ok("CMD 1 2 3 4 5 6 7 8 9 10 11 12 13 14 :15 16", &m);
	assert_int_equal(m.nparams, 15);
	assert_string_equal(m.params[14], "15 16");
}

static void test_line_limits(void **state)
{
	static struct irc_msg m;
	static char line[IRC_WIRE_MAX + 10];
	size_t n;

	(void)state;
	/* the IRC part: 510 bytes and CRLF fit, 511 do not */
	memcpy(line, "PRIVMSG #c :", 12);
	memset(line + 12, 'x', 510 - 12);
	assert_int_equal(irc_parse_line(line, 510, &m), ERR_OK);
	line[510] = 'x';
	assert_int_equal(irc_parse_line(line, 511, &m), ERR_LIMIT);
	/* tags: 8191 bytes with '@' and the space fit, one more does not */
	line[0] = '@';
	line[1] = 'a';
	line[2] = '=';
	memset(line + 3, 'v', IRC_TAGS_MAX - 4);
	n = IRC_TAGS_MAX - 1;
	memcpy(line + n, " PING x", 7);
	assert_int_equal(irc_parse_line(line, n + 7, &m), ERR_OK);
	assert_int_equal(strlen(m.tags[0].value), IRC_TAGS_MAX - 4);
	memset(line + 3, 'v', IRC_TAGS_MAX - 3);
	n = IRC_TAGS_MAX;
	memcpy(line + n, " PING x", 7);
	assert_int_equal(irc_parse_line(line, n + 7, &m), ERR_LIMIT);
}

/* drain reads every message out of r, appending "OK command p0|p1..." or
 * "ERR n" lines to out. */
static void drain(struct irc_reader *r, char *out, size_t cap, size_t *o)
{
	static struct irc_msg m;

	for (;;) {
		int got = 0;
		enum err e = irc_reader_next(r, &m, &got);
		size_t i;

		if (e != ERR_OK) {
			*o += (size_t)snprintf(out + *o, cap - *o, "ERR %d\n", (int)e);
			continue;
		}
		if (!got)
			return;
		*o += (size_t)snprintf(out + *o, cap - *o, "OK %s %s", m.source ? m.source : "-",
				       m.command);
		for (i = 0; i < m.ntags; i++)
			*o += (size_t)snprintf(out + *o, cap - *o, " @%s=%s", m.tags[i].key,
					       m.tags[i].value);
		for (i = 0; i < m.nparams; i++)
			*o += (size_t)snprintf(out + *o, cap - *o, " |%s", m.params[i]);
		*o += (size_t)snprintf(out + *o, cap - *o, "\n");
		assert_true(*o < cap);
	}
}

/* feed_all feeds in chunks of at most chunk bytes, draining as it goes. */
static void feed_all(struct irc_reader *r, const char *in, size_t len, size_t chunk, char *out,
		     size_t cap, size_t *o)
{
	size_t pos = 0;

	while (pos < len) {
		size_t want = len - pos < chunk ? len - pos : chunk;
		size_t took = irc_reader_feed(r, in + pos, want);

		pos += took;
		drain(r, out, cap, o);
		if (took == 0)
			assert_true(irc_reader_feed(r, in + pos, want) > 0);
	}
	drain(r, out, cap, o);
}

static const char multi[] =
	"@time=2026-01-01T00:00:00Z;+x=a\\sb :dan!d@host PRIVMSG #chan :hello there\r\n"
	"PING :irc.example.com\n"
	"\r\n"
	":irc.example.com 001 faqbot :Welcome\r\n"
	"!!garbage, no command\r\n"
	":server NOTICE * :*** Looking up your hostname\r\n"
	"\n"
	":n!u@h PRIVMSG faqbot :\x01VERSION\x01\r\n"
	"AUTHENTICATE +\r\n";

static void test_split_feeding(void **state)
{
	static char want[8192], got[8192];
	size_t wn = 0, gn, i, j;
	struct irc_reader *r = irc_reader_new();
	size_t len = sizeof(multi) - 1;

	(void)state;
	assert_non_null(r);
	feed_all(r, multi, len, len, want, sizeof(want), &wn);
	assert_non_null(strstr(want, "OK dan!d@host PRIVMSG @time=2026-01-01T00:00:00Z @+x=a b "
				     "|#chan |hello there\n"));
	assert_non_null(strstr(want, "ERR 3\n")); /* ERR_PARSE for the garbage */
	assert_non_null(strstr(want, "OK - AUTHENTICATE |+\n"));
	irc_reader_free(r);
	/* split in two at every byte, and in three at every pair */
	for (i = 0; i <= len; i++) {
		for (j = i; j <= len; j += (i % 7 == 0 ? 1 : 37)) {
			r = irc_reader_new();
			gn = 0;
			irc_reader_feed(r, multi, i);
			drain(r, got, sizeof(got), &gn);
			irc_reader_feed(r, multi + i, j - i);
			drain(r, got, sizeof(got), &gn);
			irc_reader_feed(r, multi + j, len - j);
			drain(r, got, sizeof(got), &gn);
			assert_string_equal(got, want);
			irc_reader_free(r);
		}
	}
	/* byte by byte */
	r = irc_reader_new();
	gn = 0;
	feed_all(r, multi, len, 1, got, sizeof(got), &gn);
	assert_string_equal(got, want);
	irc_reader_free(r);
}

static void test_overlong_resync(void **state)
{
	static char in[4 * IRC_WIRE_MAX], got[4096];
	size_t n = 0, gn, chunk;
	const size_t chunks[] = {1, 7, 512, 4096, sizeof(in)};
	size_t c;

	(void)state;
	n += (size_t)snprintf(in + n, sizeof(in) - n, "PING :a\r\n");
	memset(in + n, 'x', IRC_WIRE_MAX + 5); /* over the wire limit */
	n += IRC_WIRE_MAX + 5;
	n += (size_t)snprintf(in + n, sizeof(in) - n, "\r\nPING :b\r\n");
	memset(in + n, 'y', IRC_WIRE_MAX + 100); /* two in a row */
	n += IRC_WIRE_MAX + 100;
	in[n++] = '\n';
	memset(in + n, 'z', IRC_WIRE_MAX + 1);
	n += IRC_WIRE_MAX + 1;
	in[n++] = '\n';
	memset(in + n, 'w', 600); /* within the wire, over the IRC part */
	n += 600;
	n += (size_t)snprintf(in + n, sizeof(in) - n, "\nPING :c\r\n");
	for (c = 0; c < sizeof(chunks) / sizeof(chunks[0]); c++) {
		struct irc_reader *r = irc_reader_new();

		chunk = chunks[c];
		gn = 0;
		feed_all(r, in, n, chunk, got, sizeof(got), &gn);
		assert_string_equal(got, "OK - PING |a\nERR 5\nOK - PING |b\nERR 5\nERR 5\nERR 5\n"
					 "OK - PING |c\n");
		irc_reader_free(r);
	}
}

/* What a hostile line costs: itself only. Each is followed by a PING that
 * must come out whole, however the stream is cut. The transport's side of
 * the audit (what it does with the lines that do parse) is irc.c's
 * comment above read_some and tests/integ/irc_faults.sh. */
static void test_hostile_lines_cost_one_line(void **state)
{
	static const struct {
		const char *line; /* without its line end */
		size_t len;       /* 0: strlen */
		const char *out;  /* what drain() writes for it */
	} cases[] = {
		/* a NUL: the line is dropped, never read as two */
		{"PRIVMSG #c :a\0b", 15, "ERR 3\n"},
		/* invalid UTF-8 is the core's to clean up (text.c): kept */
		{"PRIVMSG #c :\xff\xfe\xc3", 0, "OK - PRIVMSG |#c |\xff\xfe\xc3\n"},
		{"@ PING x", 0, "OK - PING |x\n"},
		{"@a=b", 0, "ERR 3\n"},               /* tags and no command */
		{"@a=b\\ PING x", 0, "OK - PING @a=b |x\n"}, /* a lone \ dropped */
		{"@=;;=x;=y :n!u@h PRIVMSG #c :t", 0, "OK n!u@h PRIVMSG |#c |t\n"},
		{"@a=1;a=2 PING x", 0, "OK - PING @a=1 @a=2 |x\n"},
		{":only.source", 0, "ERR 3\n"},
		{": PING x", 0, "ERR 3\n"},           /* an empty source */
		{"   ", 0, "ERR 3\n"},
		{"12 x", 0, "ERR 3\n"},               /* a numeric is 3 digits */
		{"1234 x", 0, "ERR 3\n"},
		{"PRIV\x01MSG #c :x", 0, "ERR 3\n"},
		{"P\xc3\xa9NG x", 0, "ERR 3\n"},      /* a command is ASCII letters */
		{"999 faqbot :what is this", 0, "OK - 999 |faqbot |what is this\n"},
		{"@a=b  :n!u@h  PRIVMSG  #c  :t", 0, "OK n!u@h PRIVMSG @a=b |#c |t\n"},
		{"PING :a\rb", 0, "OK - PING |a\rb\n"}, /* a CR inside: kept, and the
		                                          * builder refuses to echo it */
		{":n!u@h PRIVMSG #c", 0, "OK n!u@h PRIVMSG |#c\n"}, /* no text: irc.c skips it */
		{":n!u@h PRIVMSG", 0, "OK n!u@h PRIVMSG\n"},
		{"CAP * ACK", 0, "OK - CAP |* |ACK\n"},
	};
	static char in[8192], want[8192], got[8192];
	const size_t chunks[] = {1, 3, 64, sizeof(in)};
	size_t n = 0, wn = 0, i, c;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t len = cases[i].len ? cases[i].len : strlen(cases[i].line);

		memcpy(in + n, cases[i].line, len);
		n += len;
		n += (size_t)snprintf(in + n, sizeof(in) - n, "\r\nPING :ok%zu\r\n", i);
		wn += (size_t)snprintf(want + wn, sizeof(want) - wn, "%sOK - PING |ok%zu\n",
				       cases[i].out, i);
	}
	for (c = 0; c < sizeof(chunks) / sizeof(chunks[0]); c++) {
		struct irc_reader *r = irc_reader_new();
		size_t gn = 0;

		assert_non_null(r);
		feed_all(r, in, n, chunks[c], got, sizeof(got), &gn);
		assert_string_equal(got, want);
		irc_reader_free(r);
	}
	{
		char line[IRC_LINE_MAX + 1];
		size_t len;
		const char *p[1] = {"a\rb"};

		assert_int_equal(irc_build(line, sizeof(line), &len, "PONG", p, 1), ERR_INVALID);
	}
}

static void test_backpressure(void **state)
{
	static char in[200 * 1000], got[200 * 1000];
	size_t n = 0, gn = 0, i, pos = 0, lines = 0;
	struct irc_reader *r = irc_reader_new();

	(void)state;
	for (i = 0; i < 5000; i++)
		n += (size_t)snprintf(in + n, sizeof(in) - n, "PING :%zu\r\n", i);
	/* one big feed is taken only in part; drained, the rest goes in */
	assert_true(irc_reader_feed(r, in, n) < n);
	assert_int_equal(irc_reader_space(r), 0);
	drain(r, got, sizeof(got), &gn);
	pos = 0;
	gn = 0;
	irc_reader_free(r);
	r = irc_reader_new();
	while (pos < n) {
		pos += irc_reader_feed(r, in + pos, n - pos);
		drain(r, got, sizeof(got), &gn);
	}
	for (i = 0; i < gn; i++)
		lines += got[i] == '\n';
	assert_int_equal(lines, 5000);
	assert_non_null(strstr(got, "OK - PING |4999\n"));
	irc_reader_free(r);
}

static void test_ctcp_and_targets(void **state)
{
	struct irc_ctcp c;

	(void)state;
	assert_int_equal(irc_ctcp_parse("\x01VERSION\x01", &c), 1);
	assert_string_equal(c.command, "VERSION");
	assert_int_equal(c.arg_len, 0);
	assert_int_equal(irc_ctcp_parse("\x01" "action waves hello\x01", &c), 1);
	assert_string_equal(c.command, "ACTION");
	assert_int_equal(c.arg_len, 11);
	assert_memory_equal(c.arg, "waves hello", 11);
	assert_int_equal(irc_ctcp_parse("\x01PING 123", &c), 1); /* no closing \x01 */
	assert_string_equal(c.command, "PING");
	assert_int_equal(c.arg_len, 3);
	assert_int_equal(irc_ctcp_parse("\x01", &c), 1);
	assert_string_equal(c.command, "");
	assert_int_equal(irc_ctcp_parse("hello \x01VERSION\x01", &c), 0);
	assert_int_equal(irc_ctcp_parse("", &c), 0);
	assert_int_equal(irc_ctcp_parse(NULL, &c), 0);
	assert_int_equal(irc_ctcp_parse("\x01VERYLONGCOMMANDWORDTHATGOESONANDONANDON x\x01", &c),
			 1);
	assert_int_equal(strlen(c.command), IRC_CTCP_CMD_MAX - 1);
	assert_memory_equal(c.arg, "x", 1);

	assert_true(irc_target_is_channel("#chan", NULL));
	assert_true(irc_target_is_channel("&local", NULL));
	assert_false(irc_target_is_channel("faqbot", NULL));
	assert_false(irc_target_is_channel("", NULL));
	assert_false(irc_target_is_channel(NULL, NULL));
	assert_true(irc_target_is_channel("!chan", "#!"));
	assert_true(irc_target_is_me("FaqBot", "faqbot"));
	assert_true(irc_target_is_me("faq[bot]", "FAQ{BOT}"));
	assert_false(irc_target_is_me("#faqbot", "faqbot"));
	assert_false(irc_target_is_me("faqbot", ""));
	assert_false(irc_target_is_me("faqbot_", "faqbot"));
	assert_int_equal(irc_casecmp("a\\b~", "A|B^"), 0);
	assert_true(irc_casecmp("a", "b") < 0);
}

static void expect_strip(const char *in, const char *want)
{
	char buf[256];
	size_t n = strlen(in);

	memcpy(buf, in, n + 1);
	assert_int_equal(irc_strip_format(buf, n), strlen(want));
	assert_string_equal(buf, want);
}

static void test_strip(void **state)
{
	(void)state;
	expect_strip("\x02" "bold\x02 and \x03" "04,12red\x03 \x1Ditalic\x0F", "bold and red italic");
	expect_strip("\x03" "042 pills", "2 pills");
	expect_strip("\x03" "12,5x", "x");
	expect_strip("\x03,5x", ",5x"); /* no foreground: the comma is text */
	expect_strip("\x03" "4,x", ",x");
	expect_strip("\x04" "FF0000hex", "hex");
	expect_strip("\x04" "FF0000,00FF00text", "text");
	expect_strip("\x04" "FF00,00FF00", ",00FF00"); /* as text.c: no bg after a short fg */
	expect_strip("\x1F" "u\x1E" "s\x11" "m\x16" "r\x1D" "i", "usmri");
	expect_strip("a\tb\r\nc", "a b  c");
	expect_strip("\x03", "");
	expect_strip("\x03" "1", "");
	expect_strip("\x03" "1,", ",");
	expect_strip("caf\xC3\xA9 \xE2\x80\x94", "caf\xC3\xA9 \xE2\x80\x94");
}

/* The strip and text_normalise agree: normalising stripped text gives what
 * normalising the raw text gives. */
static void test_strip_matches_normalise(void **state)
{
	static const char *bits[] = {"\x02", "\x03", "\x03" "4", "\x03" "04,1", "\x04", "\x04" "ABCDEF",
				     "\x04" "abcdef,012345", ",", "1", "12", "a", "B", "f", " ", "\x0F",
				     "\x16", "\x1D", "\t", "\xC3\xA9", "x"};
	uint32_t seed = 12345;
	int t;

	(void)state;
	for (t = 0; t < 3000; t++) {
		char raw[128], cp[128];
		size_t n = 0, m;
		char *a = NULL, *b = NULL;
		size_t alen, blen;

		while (n < 100) {
			const char *s;

			seed = seed * 1103515245u + 12345u;
			s = bits[(seed >> 16) % (sizeof(bits) / sizeof(bits[0]))];
			memcpy(raw + n, s, strlen(s));
			n += strlen(s);
		}
		raw[n] = '\0';
		memcpy(cp, raw, n + 1);
		m = irc_strip_format(cp, n);
		assert_int_equal(text_normalise(raw, n, &a, &alen), ERR_OK);
		assert_int_equal(text_normalise(cp, m, &b, &blen), ERR_OK);
		assert_string_equal(a, b);
		free(a);
		free(b);
	}
}

static void test_build(void **state)
{
	char out[IRC_LINE_MAX + 1];
	size_t n;
	const char *p1[] = {"#chan", "hello world"};
	const char *p2[] = {"#chan", "one"};
	const char *p3[] = {"#chan", ":-)"};
	const char *p4[] = {"#chan", ""};
	const char *bad1[] = {"#chan\r\nQUIT", "x"};
	const char *bad2[] = {"#chan x", "x"};
	const char *bad3[] = {"#chan", "hi\r\nQUIT :bye"};
	const char *bad4[] = {"#chan", "hi\nJOIN #x"};
	const char *bad5[] = {"", "x"};
	const char *bad6[] = {":x", "x"};
	static char big[600];

	(void)state;
	assert_int_equal(irc_build(out, sizeof(out), &n, "PRIVMSG", p1, 2), ERR_OK);
	assert_string_equal(out, "PRIVMSG #chan :hello world\r\n");
	assert_int_equal(n, strlen(out));
	assert_int_equal(irc_build(out, sizeof(out), &n, "PRIVMSG", p2, 2), ERR_OK);
	assert_string_equal(out, "PRIVMSG #chan one\r\n");
	assert_int_equal(irc_build(out, sizeof(out), &n, "PRIVMSG", p3, 2), ERR_OK);
	assert_string_equal(out, "PRIVMSG #chan ::-)\r\n");
	assert_int_equal(irc_build(out, sizeof(out), &n, "PRIVMSG", p4, 2), ERR_OK);
	assert_string_equal(out, "PRIVMSG #chan :\r\n");
	assert_int_equal(irc_build(out, sizeof(out), &n, "QUIT", NULL, 0), ERR_OK);
	assert_string_equal(out, "QUIT\r\n");
	assert_int_equal(irc_build(out, sizeof(out), &n, "PRIVMSG", bad1, 2), ERR_INVALID);
	assert_string_equal(out, "");
	assert_int_equal(irc_build(out, sizeof(out), &n, "PRIVMSG", bad2, 2), ERR_INVALID);
	assert_int_equal(irc_build(out, sizeof(out), &n, "PRIVMSG", bad3, 2), ERR_INVALID);
	assert_int_equal(irc_build(out, sizeof(out), &n, "PRIVMSG", bad4, 2), ERR_INVALID);
	assert_int_equal(irc_build(out, sizeof(out), &n, "PRIVMSG", bad5, 2), ERR_INVALID);
	assert_int_equal(irc_build(out, sizeof(out), &n, "PRIVMSG", bad6, 2), ERR_INVALID);
	assert_int_equal(irc_build(out, sizeof(out), &n, "PRIV MSG", p1, 2), ERR_INVALID);
	assert_int_equal(irc_build(out, sizeof(out), &n, "PRIVMSG\r\nQUIT", p1, 2), ERR_INVALID);
	assert_int_equal(irc_build(out, 10, &n, "PRIVMSG", p1, 2), ERR_LIMIT);
	memset(big, 'a', sizeof(big) - 1);
	{
		const char *pb[] = {"#chan", big};

		assert_int_equal(irc_build(out, sizeof(out), &n, "PRIVMSG", pb, 2), ERR_LIMIT);
		/* exactly 512 with CRLF fits (no space: no colon) */
		big[IRC_LINE_MAX - 2 - 14] = '\0';
		assert_int_equal(irc_build(out, sizeof(out), &n, "PRIVMSG", pb, 2), ERR_OK);
		assert_int_equal(n, IRC_LINE_MAX);
		big[IRC_LINE_MAX - 2 - 14] = 'a';
		big[IRC_LINE_MAX - 2 - 13] = '\0';
		assert_int_equal(irc_build(out, sizeof(out), &n, "PRIVMSG", pb, 2), ERR_LIMIT);
	}
}

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

/* check_lines asserts the splitter's invariants on out for text, and that the
 * words of text come back in order, a word longer than room in pieces. */
static void check_lines(const struct irc_lines *out, const char *target, const char *text,
			size_t prefix_len)
{
	char head[64];
	size_t hlen = (size_t)snprintf(head, sizeof(head), "PRIVMSG %s :", target);
	size_t room = IRC_LINE_MAX - prefix_len - hlen - 2;
	const char *w = text;
	size_t i, off = 0;

	for (i = 0; i < out->n; i++) {
		const char *l = out->v[i];
		size_t n = out->len[i];

		assert_int_equal(strlen(l), n);
		assert_true(prefix_len + n <= IRC_LINE_MAX);
		assert_memory_equal(l, head, hlen);
		assert_memory_equal(l + n - 2, "\r\n", 2);
		assert_null(memchr(l, '\r', n - 2));
		assert_null(memchr(l, '\n', n - 2));
		assert_true(n - 2 > hlen); /* never an empty message */
		assert_true(l[hlen] != ' ' && l[n - 3] != ' ');
		assert_true(utf8_valid(l + hlen, n - 2 - hlen));
	}
	/* walk the words of text against the tokens of the lines */
	i = 0;
	off = hlen;
	for (;;) {
		size_t wl, got = 0;

		while (*w == ' ' || *w == '\n' || *w == '\r')
			w++;
		if (!*w)
			break;
		wl = strcspn(w, " \r\n");
		while (got < wl) {
			const char *tok;
			size_t tl;

			assert_true(i < out->n);
			while (out->v[i][off] == ' ')
				off++;
			if (off >= out->len[i] - 2) {
				i++;
				off = hlen;
				continue;
			}
			tok = out->v[i] + off;
			tl = strcspn(tok, " \r");
			assert_true(got + tl <= wl);
			assert_memory_equal(tok, w + got, tl);
			if (tl < wl)
				assert_true(wl > room); /* only a long word is cut */
			got += tl;
			off += tl;
		}
		w += wl;
	}
	for (; i < out->n; i++) { /* nothing left over */
		while (out->v[i][off] == ' ')
			off++;
		assert_int_equal(off, out->len[i] - 2);
		off = hlen;
	}
}

static void test_split_examples(void **state)
{
	struct irc_lines l = IRC_LINES_INIT;
	static char text[4000];
	size_t i;

	(void)state;
	assert_int_equal(irc_split_text("PRIVMSG", "#c", "hello world", 11, 30, &l), ERR_OK);
	assert_int_equal(l.n, 1);
	assert_string_equal(l.v[0], "PRIVMSG #c :hello world\r\n");
	irc_lines_release(&l);
	assert_int_equal(l.n, 0);

	assert_int_equal(irc_split_text("PRIVMSG", "#c", "one\n\n\ntwo\r\nthree\rfour  \n  ", 27,
					30, &l),
			 ERR_OK);
	assert_int_equal(l.n, 4);
	assert_string_equal(l.v[0], "PRIVMSG #c :one\r\n");
	assert_string_equal(l.v[1], "PRIVMSG #c :two\r\n");
	assert_string_equal(l.v[2], "PRIVMSG #c :three\r\n");
	assert_string_equal(l.v[3], "PRIVMSG #c :four\r\n");
	irc_lines_release(&l);

	/* NUL and controls never reach the wire */
	assert_int_equal(irc_split_text("NOTICE", "n", "a\0b\x01" "c\x7f", 6, 30, &l), ERR_OK);
	assert_int_equal(l.n, 1);
	assert_string_equal(l.v[0], "NOTICE n :a b c\r\n");
	irc_lines_release(&l);

	/* injection through the text becomes text */
	assert_int_equal(irc_split_text("PRIVMSG", "#c", "hi\r\nQUIT :bye", 13, 30, &l), ERR_OK);
	assert_int_equal(l.n, 2);
	assert_string_equal(l.v[1], "PRIVMSG #c :QUIT :bye\r\n");
	irc_lines_release(&l);
	assert_int_equal(irc_split_text("PRIVMSG", "#c x", "hi", 2, 30, &l), ERR_INVALID);
	assert_int_equal(irc_split_text("PRIVMSG", "#c\r\nQUIT", "hi", 2, 30, &l), ERR_INVALID);
	assert_int_equal(irc_split_text("PRIVMSG", "", "hi", 2, 30, &l), ERR_INVALID);
	assert_int_equal(irc_split_text("PRIV MSG", "#c", "hi", 2, 30, &l), ERR_INVALID);
	assert_int_equal(irc_split_text("PRIVMSG", "#c", "hi", 2, 500, &l), ERR_LIMIT);
	assert_int_equal(l.n, 0);
	assert_int_equal(irc_split_text("PRIVMSG", "#c", "", 0, 30, &l), ERR_OK);
	assert_int_equal(l.n, 0);

	assert_int_equal(irc_prefix_len("faqbot", "~fb", "example.org"),
			 strlen(":faqbot!~fb@example.org "));
	assert_int_equal(irc_prefix_len("faqbot", NULL, NULL),
			 strlen(":faqbot!@ ") + IRC_USER_GUESS + IRC_HOST_GUESS);

	/* a 3000-byte word of 3-byte characters, with a prefix */
	for (i = 0; i + 3 <= 3000; i += 3)
		memcpy(text + i, "\xE2\x82\xAC", 3);
	text[3000] = '\0';
	assert_int_equal(irc_split_text("PRIVMSG", "#c", text, 3000, 62, &l), ERR_OK);
	check_lines(&l, "#c", text, 62);
	assert_true(l.n >= 7);
	irc_lines_release(&l);

	/* a long word of e + combining acute: a cut never parts the two */
	for (i = 0; i + 3 <= 3000; i += 3)
		memcpy(text + i, "e\xCC\x81", 3);
	text[3000] = '\0';
	assert_int_equal(irc_split_text("PRIVMSG", "#c", text, 3000, 61, &l), ERR_OK);
	check_lines(&l, "#c", text, 61);
	for (i = 0; i < l.n; i++) {
		assert_int_equal(l.v[i][strlen("PRIVMSG #c :")], 'e');
		assert_int_equal((l.len[i] - 2 - strlen("PRIVMSG #c :")) % 3, 0);
	}
	irc_lines_release(&l);

	/* one cluster longer than a line (zalgo): cut between characters */
	text[0] = 'z';
	for (i = 1; i + 2 <= 1200; i += 2)
		memcpy(text + i, "\xCC\xB7", 2);
	text[1199] = '\0';
	assert_int_equal(irc_split_text("PRIVMSG", "#c", text, 1199, 40, &l), ERR_OK);
	check_lines(&l, "#c", text, 40);
	assert_true(l.n >= 3);
	irc_lines_release(&l);
}

/* random texts: words of ASCII and 2-, 3-, 4-byte characters, some very
 * long, single and double newlines, runs of spaces. */
static void test_split_property(void **state)
{
	static const char *pieces[] = {"a", "bc", "def", "\xC3\xA9", "\xE2\x82\xAC", "\xF0\x9F\x98\x80",
				       "\xE3\x81\x82", "x", "TMS", "?", "e\xCC\x81",
				       "\xF0\x9F\x91\xA9\xE2\x80\x8D\xF0\x9F\x92\xBB"};
	static char text[6000];
	uint32_t seed = 42;
	int t;

	(void)state;
	for (t = 0; t < 2000; t++) {
		struct irc_lines l = IRC_LINES_INIT;
		size_t n = 0, target_len;
		size_t prefix_len;
		const char *target;

		seed = seed * 1103515245u + 12345u;
		target_len = (seed >> 16) % 2000 + 1;
		seed = seed * 1103515245u + 12345u;
		prefix_len = (seed >> 16) % 120;
		target = (t & 1) ? "#support-group" : "someone";
		while (n < target_len) {
			uint32_t r;
			size_t wl, k;

			seed = seed * 1103515245u + 12345u;
			r = seed >> 16;
			wl = (r % 50 == 0) ? 300 + r % 900 : 1 + r % 12; /* sometimes huge */
			for (k = 0; k < wl && n + 8 < sizeof(text) - 8; k++) {
				const char *p;

				seed = seed * 1103515245u + 12345u;
				p = pieces[(seed >> 16) % (sizeof(pieces) / sizeof(pieces[0]))];
				memcpy(text + n, p, strlen(p));
				n += strlen(p);
			}
			seed = seed * 1103515245u + 12345u;
			r = (seed >> 16) % 40;
			text[n++] = r == 0 ? '\n' : ' ';
			if (r == 1) {
				text[n++] = '\n';
				text[n++] = '\n';
			} else if (r == 2) {
				text[n++] = ' ';
				text[n++] = ' ';
			}
		}
		text[n] = '\0';
		assert_true(utf8_valid(text, n));
		assert_int_equal(irc_split_text("PRIVMSG", target, text, n, prefix_len, &l), ERR_OK);
		check_lines(&l, target, text, prefix_len);
		irc_lines_release(&l);
	}
}

/* Greedy: a line that ended at a space could not have taken the next word. */
static void test_split_greedy(void **state)
{
	struct irc_lines l = IRC_LINES_INIT;
	static char text[3000];
	size_t n = 0, i, room;
	const size_t prefix = 40;

	(void)state;
	while (n < 2900) {
		size_t wl = 1 + (n * 7) % 11, k;

		for (k = 0; k < wl; k++, n++)
			text[n] = (char)('a' + (n % 26));
		text[n++] = ' ';
	}
	text[n] = '\0';
	assert_int_equal(irc_split_text("PRIVMSG", "#c", text, n, prefix, &l), ERR_OK);
	check_lines(&l, "#c", text, prefix);
	room = IRC_LINE_MAX - prefix - strlen("PRIVMSG #c :") - 2;
	for (i = 0; i + 1 < l.n; i++) {
		size_t used = l.len[i] - 2 - strlen("PRIVMSG #c :");
		size_t next = strcspn(l.v[i + 1] + strlen("PRIVMSG #c :"), " \r");

		assert_true(used + 1 + next > room);
	}
	irc_lines_release(&l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_spec_examples),
		cmocka_unit_test(test_tags),
		cmocka_unit_test(test_tag_count_cap),
		cmocka_unit_test(test_params_limit),
		cmocka_unit_test(test_line_limits),
		cmocka_unit_test(test_split_feeding),
		cmocka_unit_test(test_overlong_resync),
		cmocka_unit_test(test_hostile_lines_cost_one_line),
		cmocka_unit_test(test_backpressure),
		cmocka_unit_test(test_ctcp_and_targets),
		cmocka_unit_test(test_strip),
		cmocka_unit_test(test_strip_matches_normalise),
		cmocka_unit_test(test_build),
		cmocka_unit_test(test_split_examples),
		cmocka_unit_test(test_split_property),
		cmocka_unit_test(test_split_greedy),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
