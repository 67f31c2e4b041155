/* fuzz_irc_reg.c -- registration and members' messages on any server
 * lines. The first byte picks the SASL setup (none, PLAIN, EXTERNAL); the
 * rest is lines, each parsed and given to irc_reg_on_line with a clock
 * that moves, then to irc_chat_read, and a reply made for each message.
 * A step that ends the connection starts the next one, so refusals after
 * a login (the retry path) are reached too. Invariants, abort() on a
 * violation:
 *   - every line to send is whole (CRLF at its end and nowhere else) and
 *     fits IRC_LINE_MAX, and there are at most IRC_REG_LINES_MAX;
 *   - the password never appears in a note or a reason (unless the
 *     server's lines had it, which a note may quote);
 *   - the bot's nick is always one it would send, and its prefix length
 *     is at most the longest guess;
 *   - a member's message has its room and sender set, the alert and the
 *     note are one line each. */
#define _GNU_SOURCE /* memmem */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "irc_chat.h"
#include "irc_reg.h"

#define SECRET "fuzz-secret-pw"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct irc_msg msg;
static struct irc_reg_out out;
static char text[IRC_WIRE_MAX + 1];
static int secret_in_input;

static void check_out(void)
{
	size_t i;

	if (out.n > IRC_REG_LINES_MAX)
		abort();
	for (i = 0; i < out.n; i++) {
		const char *l = out.line[i];
		size_t n = out.len[i];

		if (n < 2 || n > IRC_LINE_MAX || strlen(l) != n || l[n - 2] != '\r' ||
		    l[n - 1] != '\n' || memchr(l, '\r', n - 2) || memchr(l, '\n', n - 2))
			abort();
	}
	if (!secret_in_input && (strstr(out.note, SECRET) || strstr(out.why, SECRET)))
		abort();
}

static struct irc_reg *mk(uint8_t pick)
{
	static const char *const alts[] = {"helper"};
	struct irc_reg_config c;
	struct irc_reg *r = NULL;
	char err[256];

	memset(&c, 0, sizeof(c));
	c.nick = "faqbot";
	c.alt_nicks = alts;
	c.n_alt_nicks = 1;
	c.tls = 1;
	c.tls_client_cert = 1;
	c.register_timeout_ms = 30000;
	if (pick % 3 == 1) {
		c.sasl_account = "acct";
		c.sasl_password = SECRET;
	} else if (pick % 3 == 2) {
		c.sasl_mechanism = "EXTERNAL";
		c.sasl_account = pick & 4 ? "acct" : NULL;
	}
	if (irc_reg_new(&c, &r, err, sizeof(err)) != ERR_OK)
		abort();
	return r;
}

static void chat(const struct irc_reg *r)
{
	struct irc_chat_view v;
	struct irc_chat_answer a;
	struct tr_message tm;
	struct tr_reply rep;

	memset(&v, 0, sizeof(v));
	v.me = irc_reg_nick(r);
	v.chantypes = "#&";
	v.account_tag = irc_reg_account_tag(r);
	v.prefix_len = irc_reg_prefix_len(r);
	v.pm_over_lines = 2;
	if (irc_chat_read(&msg, &v, text, sizeof(text), &tm) != IRC_CHAT_MESSAGE)
		return;
	if (!tm.room || !*tm.room || !tm.sender || strchr(tm.text, '\n'))
		abort();
	memset(&rep, 0, sizeof(rep));
	rep.reply = 1;
	rep.kind = tm.sender_account ? "crisis" : "faq";
	rep.text = tm.text[0] ? tm.text : "an answer\nin two lines\nor three";
	rep.mention = tm.event_id ? tm.event_id : tm.sender;
	rep.alert_moderators = tm.direct;
	if (irc_chat_answer(&rep, tm.room, tm.sender, tm.direct, &v, &a) == ERR_OK &&
	    (strpbrk(a.alert, "\r\n") || strpbrk(a.note, "\r\n") || !a.target || !a.text))
		abort();
	irc_chat_answer_release(&a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct irc_reg *r;
	long long now = 0;
	size_t off = 1;

	if (size < 1)
		return 0;
	secret_in_input = memmem(data, size, SECRET, strlen(SECRET)) != NULL;
	r = mk(data[0]);
	irc_reg_begin(r, now, &out);
	check_out();
	while (off < size) {
		const uint8_t *nl = memchr(data + off, '\n', size - off);
		size_t len = nl ? (size_t)(nl - (data + off)) : size - off;
		enum irc_reg_step s;

		now += 1 + (long long)(len % 7) * 5000; /* a silent server times out */
		if (irc_parse_line((const char *)data + off, len, &msg) == ERR_OK) {
			s = irc_reg_on_line(r, &msg, now, &out);
			check_out();
			if (s == IRC_REG_GO_ON || s == IRC_REG_WELCOME)
				chat(r);
		} else {
			s = irc_reg_check(r, now, &out);
			check_out();
		}
		if (!irc_reg_nick_ok(irc_reg_nick(r)) ||
		    irc_reg_prefix_len(r) > irc_prefix_len(irc_reg_nick(r), NULL, NULL) + 2 * IRC_HOST_MAX)
			abort();
		if (s == IRC_REG_END || s == IRC_REG_FATAL) {
			irc_reg_lost(r);
			irc_reg_begin(r, now, &out);
			check_out();
		}
		off += len + 1;
	}
	irc_reg_free(r);
	return 0;
}
