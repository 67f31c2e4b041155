/* test_irc_reg.c -- registration as a pure state machine: the opening
 * lines; CAP LS (one line or several), REQ, ACK and NAK; SASL PLAIN that
 * works, is refused at the first start (fatal) or on a reconnect (retried,
 * counted), and its payload in chunks; EXTERNAL; a server without SASL or
 * without our mechanism; 433 and the nick fallback; replies out of order;
 * the registration timeout on a fake clock; the bot's prefix as the server
 * shows it; the config checks. Every server line goes through irc_parse,
 * as on the wire. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "irc_reg.h"

static struct irc_reg_out out;
static struct irc_msg msg;

static struct irc_reg *mk(const char *pass, const char *mech, const char *account,
                          const char *password)
{
	static const char *const alts[] = {"helper", "helper2"};
	struct irc_reg_config c;
	struct irc_reg *r = NULL;
	char err[256];

	memset(&c, 0, sizeof(c));
	c.nick = "faqbot";
	c.alt_nicks = alts;
	c.n_alt_nicks = 2;
	c.server_password = pass;
	c.sasl_mechanism = mech;
	c.sasl_account = account;
	c.sasl_password = password;
	c.tls = 1;
	c.tls_client_cert = 1;
	c.register_timeout_ms = 30000;
	assert_int_equal(irc_reg_new(&c, &r, err, sizeof(err)), ERR_OK);
	assert_non_null(r);
	return r;
}

/* lines is what out says to send, CRLFs dropped, joined by '|'. */
static const char *lines(void)
{
	static char buf[8192];
	size_t i, o = 0;

	buf[0] = '\0';
	for (i = 0; i < out.n; i++) {
		assert_true(out.len[i] >= 2 && out.len[i] == strlen(out.line[i]));
		assert_memory_equal(out.line[i] + out.len[i] - 2, "\r\n", 2);
		o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%s%.*s", i ? "|" : "",
		                      (int)(out.len[i] - 2), out.line[i]);
	}
	return buf;
}

/* feed gives the registration one server line at now. */
static enum irc_reg_step feed(struct irc_reg *r, const char *line, long long now)
{
	assert_int_equal(irc_parse_line(line, strlen(line), &msg), ERR_OK);
	return irc_reg_on_line(r, &msg, now, &out);
}

/* expect feeds line and checks the step and the lines sent back. */
static void expect(struct irc_reg *r, const char *line, enum irc_reg_step step, const char *sent)
{
	assert_int_equal(feed(r, line, 1000), step);
	assert_string_equal(lines(), sent);
}

static void begin(struct irc_reg *r, long long now)
{
	irc_reg_begin(r, now, &out);
}

/* base64 of s (n bytes), for the expected SASL payloads */
static const char *b64(const char *s, size_t n)
{
	static const char t[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	static char buf[4096];
	size_t i, o = 0;

	for (i = 0; i < n; i += 3) {
		unsigned v = (unsigned char)s[i] << 16;

		if (i + 1 < n)
			v |= (unsigned)(unsigned char)s[i + 1] << 8;
		if (i + 2 < n)
			v |= (unsigned char)s[i + 2];
		buf[o++] = t[v >> 18 & 63];
		buf[o++] = t[v >> 12 & 63];
		buf[o++] = i + 1 < n ? t[v >> 6 & 63] : '=';
		buf[o++] = i + 2 < n ? t[v & 63] : '=';
	}
	buf[o] = '\0';
	return buf;
}

static void test_opening_lines(void **state)
{
	struct irc_reg *r = mk(NULL, NULL, NULL, NULL);

	(void)state;
	begin(r, 0);
	assert_string_equal(lines(), "CAP LS 302|NICK faqbot|USER faqbot 0 * faqbot");
	assert_false(out.secret);
	assert_false(irc_reg_registered(r));
	assert_string_equal(irc_reg_nick(r), "faqbot");
	irc_reg_free(r);

	r = mk("server pw", NULL, NULL, NULL);
	begin(r, 0);
	assert_string_equal(lines(), "CAP LS 302|PASS :server pw|NICK faqbot|USER faqbot 0 * faqbot");
	assert_true(out.secret);
	irc_reg_free(r);
}

static void test_cap_without_sasl(void **state)
{
	struct irc_reg *r = mk(NULL, NULL, NULL, NULL);

	(void)state;
	/* nothing the bot uses: CAP END at once */
	begin(r, 0);
	expect(r, ":irc.test CAP * LS :multi-prefix away-notify", IRC_REG_GO_ON, "CAP END");
	/* a second LS (a server repeating itself) asks nothing more */
	expect(r, ":irc.test CAP * LS :account-tag", IRC_REG_GO_ON, "");
	expect(r, ":irc.test 001 faqbot :Welcome", IRC_REG_WELCOME, "");
	assert_true(irc_reg_registered(r));
	assert_int_equal(irc_reg_welcome_ms(r), 1000);
	assert_string_equal(out.note, "irc: registered as faqbot");
	assert_false(irc_reg_account_tag(r));
	/* a second welcome changes nothing */
	expect(r, ":irc.test 001 faqbot :Welcome again", IRC_REG_GO_ON, "");

	/* account-tag offered, over two LS lines: one REQ after the last */
	begin(r, 0);
	expect(r, ":irc.test CAP * LS * :multi-prefix account-tag", IRC_REG_GO_ON, "");
	expect(r, ":irc.test CAP * LS :away-notify", IRC_REG_GO_ON, "CAP REQ account-tag");
	assert_false(irc_reg_registered(r));
	/* an ACK for something not asked changes nothing */
	expect(r, ":irc.test CAP faqbot ACK :sasl", IRC_REG_GO_ON, "");
	expect(r, ":irc.test CAP faqbot ACK :account-tag", IRC_REG_GO_ON, "CAP END");
	assert_true(irc_reg_account_tag(r));
	/* and a second ACK no second END */
	expect(r, ":irc.test CAP faqbot ACK :account-tag", IRC_REG_GO_ON, "");

	/* a NAK: no sender accounts, said once, and CAP END all the same */
	begin(r, 0);
	assert_false(irc_reg_account_tag(r));
	expect(r, ":irc.test CAP * LS :account-tag", IRC_REG_GO_ON, "CAP REQ account-tag");
	expect(r, ":irc.test CAP faqbot NAK :account-tag", IRC_REG_GO_ON, "CAP END");
	assert_false(irc_reg_account_tag(r));
	assert_int_equal(out.note_level, LOG_INFO);
	assert_non_null(strstr(out.note, "refused account-tag"));
	/* CAP NEW, DEL, LIST: nothing */
	expect(r, ":irc.test CAP faqbot NEW :sasl", IRC_REG_GO_ON, "");
	irc_reg_free(r);
}

/* login runs a PLAIN login to the welcome on r. */
static void login(struct irc_reg *r, const char *payload)
{
	begin(r, 0);
	expect(r, ":irc.test CAP * LS :sasl=PLAIN,EXTERNAL account-tag", IRC_REG_GO_ON,
	       "CAP REQ sasl|CAP REQ account-tag");
	/* both answered in one ACK; no END while the login is to come */
	expect(r, ":irc.test CAP faqbot ACK :sasl account-tag", IRC_REG_GO_ON, "AUTHENTICATE PLAIN");
	assert_true(irc_reg_account_tag(r));
	expect(r, "AUTHENTICATE +", IRC_REG_GO_ON, payload);
	assert_true(out.secret);
	expect(r, ":irc.test 900 faqbot faqbot!u@h acct :You are now logged in", IRC_REG_GO_ON, "");
	assert_string_equal(out.note, "irc: SASL PLAIN: logged in as acct");
	/* sasl-3.1: CAP END only after the login */
	expect(r, ":irc.test 903 faqbot :SASL authentication successful", IRC_REG_GO_ON, "CAP END");
	expect(r, ":irc.test 001 faqbot :Welcome", IRC_REG_WELCOME, "");
}

static void test_sasl_plain(void **state)
{
	struct irc_reg *r = mk(NULL, NULL, "acct", "pw");
	char want[256];

	(void)state;
	snprintf(want, sizeof(want), "AUTHENTICATE %s", b64("acct\0acct\0pw", 12));
	login(r, want);
	assert_int_equal(irc_reg_retries(r), 0);
	/* once registered, a refusal refers to nothing under way */
	expect(r, ":irc.test 904 faqbot :SASL authentication failed", IRC_REG_GO_ON, "");
	irc_reg_free(r);
}

static void test_sasl_chunks(void **state)
{
	char raw[700], account[200], password[400], want[2048];
	struct irc_reg *r;
	const char *enc;
	size_t n;

	(void)state;
	/* 2 * 150 + 2 + 298 = 600 bytes: 800 of base64, two full chunks and a "+" */
	memset(account, 'a', 150);
	account[150] = '\0';
	memset(password, 'p', 298);
	password[298] = '\0';
	n = (size_t)snprintf(raw, sizeof(raw), "%s%c%s%c%s", account, 0, account, 0, password);
	enc = b64(raw, n);
	assert_int_equal(strlen(enc), 800);
	snprintf(want, sizeof(want), "AUTHENTICATE %.400s|AUTHENTICATE %.400s|AUTHENTICATE +", enc,
	         enc + 400);
	r = mk(NULL, "PLAIN", account, password);
	login(r, want);
	irc_reg_free(r);

	/* 597 bytes are 796 of base64: a short last chunk ends it, no "+" */
	password[295] = '\0';
	n = (size_t)snprintf(raw, sizeof(raw), "%s%c%s%c%s", account, 0, account, 0, password);
	enc = b64(raw, n);
	assert_int_equal(strlen(enc), 796);
	snprintf(want, sizeof(want), "AUTHENTICATE %.400s|AUTHENTICATE %s", enc, enc + 400);
	r = mk(NULL, "PLAIN", account, password);
	login(r, want);
	irc_reg_free(r);
}

static void test_sasl_refused_first_start(void **state)
{
	struct irc_reg *r = mk(NULL, NULL, "acct", "wrong");

	(void)state;
	begin(r, 0);
	expect(r, ":irc.test CAP * LS :sasl", IRC_REG_GO_ON, "CAP REQ sasl");
	expect(r, ":irc.test CAP faqbot ACK :sasl", IRC_REG_GO_ON, "AUTHENTICATE PLAIN");
	/* a 903 or a refusal before the payload was asked for is not ours yet:
	 * only AUTHENTICATE + after our mechanism gets the payload */
	assert_int_equal(feed(r, "AUTHENTICATE +", 1000), IRC_REG_GO_ON);
	assert_int_equal(out.n, 1);
	expect(r, ":irc.test 908 faqbot PLAIN,EXTERNAL :are available SASL mechanisms",
	       IRC_REG_GO_ON, "");
	assert_int_equal(out.note_level, LOG_WARN);
	expect(r, ":irc.test 904 faqbot :SASL authentication failed", IRC_REG_FATAL, "");
	assert_string_equal(out.why, "irc: SASL: the server refused the account or password "
	                             "(check sasl_account and the password; not retrying)");
	assert_string_equal(out.note, out.why);
	assert_int_equal(out.note_level, LOG_ERROR);
	assert_null(strstr(out.note, "wrong"));
	assert_int_equal(irc_reg_retries(r), 0);
	irc_reg_free(r);
}

static void test_sasl_retry_after_a_login(void **state)
{
	struct irc_reg *r = mk(NULL, NULL, "acct", "pw");
	char want[256];

	(void)state;
	snprintf(want, sizeof(want), "AUTHENTICATE %s", b64("acct\0acct\0pw", 12));
	login(r, want);
	irc_reg_lost(r);
	assert_false(irc_reg_registered(r));

	/* the services are down: refused, retried, counted */
	begin(r, 0);
	expect(r, ":irc.test CAP * LS :sasl", IRC_REG_GO_ON, "CAP REQ sasl");
	expect(r, ":irc.test CAP faqbot ACK :sasl", IRC_REG_GO_ON, "AUTHENTICATE PLAIN");
	expect(r, "AUTHENTICATE +", IRC_REG_GO_ON, want);
	expect(r, ":irc.test 904 faqbot :SASL authentication failed", IRC_REG_END, "");
	assert_string_equal(out.why, "irc: SASL: the server refused the account or password; a "
	                             "login worked before, so the services may be down: retrying");
	assert_non_null(strstr(out.note, "(retry 1)"));
	assert_int_equal(irc_reg_retries(r), 1);

	/* a server restarted without its services offers no SASL at all */
	begin(r, 0);
	expect(r, ":irc.test CAP * LS :multi-prefix", IRC_REG_END, "");
	assert_non_null(strstr(out.why, "does not offer it (no sasl capability); a login worked"));
	assert_int_equal(irc_reg_retries(r), 2);

	/* or registers the bot without a login */
	begin(r, 0);
	expect(r, ":irc.test 001 faqbot :Welcome", IRC_REG_END, "");
	assert_false(irc_reg_registered(r));
	assert_int_equal(irc_reg_retries(r), 3);

	/* an abort, and a NAK, likewise */
	begin(r, 0);
	expect(r, ":irc.test CAP * LS :sasl", IRC_REG_GO_ON, "CAP REQ sasl");
	expect(r, ":irc.test CAP faqbot ACK :sasl", IRC_REG_GO_ON, "AUTHENTICATE PLAIN");
	expect(r, ":irc.test 906 faqbot :SASL authentication aborted", IRC_REG_END, "");
	assert_non_null(strstr(out.why, "the login was aborted"));
	begin(r, 0);
	expect(r, ":irc.test CAP * LS :sasl", IRC_REG_GO_ON, "CAP REQ sasl");
	expect(r, ":irc.test CAP faqbot NAK :sasl", IRC_REG_END, "");
	assert_int_equal(irc_reg_retries(r), 5);

	/* and back: a login works again */
	login(r, want);
	irc_reg_free(r);
}

static void test_sasl_fatal_kinds(void **state)
{
	struct irc_reg *r = mk(NULL, NULL, "acct", "pw");

	(void)state;
	begin(r, 0);
	expect(r, ":irc.test CAP * LS :account-tag", IRC_REG_FATAL, "");
	assert_string_equal(out.why, "irc: SASL: the server does not offer it (no sasl "
	                             "capability) (not retrying)");
	begin(r, 0);
	expect(r, ":irc.test CAP * LS :sasl=EXTERNAL", IRC_REG_FATAL, "");
	assert_string_equal(out.why, "irc: SASL: the server offers EXTERNAL, not PLAIN (not "
	                             "retrying)");
	/* an empty value says nothing: ask */
	begin(r, 0);
	expect(r, ":irc.test CAP * LS :sasl", IRC_REG_GO_ON, "CAP REQ sasl");
	expect(r, ":irc.test CAP faqbot NAK :sasl", IRC_REG_FATAL, "");
	assert_non_null(strstr(out.why, "refused the sasl capability"));
	begin(r, 0);
	expect(r, ":irc.test 001 faqbot :Welcome", IRC_REG_FATAL, "");
	assert_non_null(strstr(out.why, "without a login (it ignored CAP)"));
	assert_int_equal(irc_reg_retries(r), 0);
	irc_reg_free(r);
}

static void test_sasl_external(void **state)
{
	struct irc_reg *r = mk(NULL, "EXTERNAL", NULL, NULL);
	char want[256];

	(void)state;
	begin(r, 0);
	expect(r, ":irc.test CAP * LS :sasl=PLAIN,EXTERNAL", IRC_REG_GO_ON, "CAP REQ sasl");
	expect(r, ":irc.test CAP faqbot ACK :sasl", IRC_REG_GO_ON, "AUTHENTICATE EXTERNAL");
	/* no account: an empty response, "+" */
	expect(r, "AUTHENTICATE +", IRC_REG_GO_ON, "AUTHENTICATE +");
	expect(r, ":irc.test 904 faqbot :SASL authentication failed", IRC_REG_FATAL, "");
	assert_non_null(strstr(out.why, "SASL EXTERNAL: the server refused the client certificate"));
	assert_non_null(strstr(out.why, "CERT ADD"));
	irc_reg_free(r);

	/* an account goes as the authorization identity */
	r = mk(NULL, "external", "acct", NULL);
	begin(r, 0);
	expect(r, ":irc.test CAP * LS :sasl", IRC_REG_GO_ON, "CAP REQ sasl");
	expect(r, ":irc.test CAP faqbot ACK :sasl", IRC_REG_GO_ON, "AUTHENTICATE EXTERNAL");
	snprintf(want, sizeof(want), "AUTHENTICATE %s", b64("acct", 4));
	expect(r, "AUTHENTICATE +", IRC_REG_GO_ON, want);
	expect(r, ":irc.test 903 faqbot :SASL authentication successful", IRC_REG_GO_ON, "CAP END");
	expect(r, ":irc.test 001 faqbot :Welcome", IRC_REG_WELCOME, "");
	irc_reg_free(r);
}

static void test_out_of_order(void **state)
{
	struct irc_reg *r = mk(NULL, NULL, NULL, NULL);

	(void)state;
	begin(r, 0);
	/* SASL numerics with no login of ours: nothing, never the end */
	expect(r, ":irc.test 904 faqbot :SASL authentication failed", IRC_REG_GO_ON, "");
	expect(r, ":irc.test 906 faqbot :aborted", IRC_REG_GO_ON, "");
	expect(r, ":irc.test 907 faqbot :already", IRC_REG_GO_ON, "");
	expect(r, ":irc.test 902 faqbot :nick locked", IRC_REG_GO_ON, "");
	expect(r, ":irc.test 903 faqbot :success?", IRC_REG_GO_ON, "");
	expect(r, "AUTHENTICATE +", IRC_REG_GO_ON, "");
	/* an unasked ACK or NAK, before any LS */
	expect(r, ":irc.test CAP faqbot ACK :account-tag", IRC_REG_GO_ON, "");
	expect(r, ":irc.test CAP faqbot NAK :sasl", IRC_REG_GO_ON, "");
	assert_false(irc_reg_account_tag(r));
	/* a CAP line with too few parameters */
	expect(r, ":irc.test CAP", IRC_REG_GO_ON, "");
	/* lines that are not registration's */
	expect(r, ":a!b@c PRIVMSG #c :hello", IRC_REG_GO_ON, "");
	expect(r, "PING :x", IRC_REG_GO_ON, "");
	expect(r, ":irc.test CAP * LS :", IRC_REG_GO_ON, "CAP END");
	expect(r, ":irc.test 001 faqbot :Welcome", IRC_REG_WELCOME, "");
	irc_reg_free(r);
}

static void test_nick_in_use(void **state)
{
	struct irc_reg *r = mk(NULL, NULL, NULL, NULL);
	char want[64];
	int i;

	(void)state;
	begin(r, 0);
	expect(r, ":irc.test 433 * faqbot :Nickname is already in use", IRC_REG_GO_ON, "NICK helper");
	assert_string_equal(irc_reg_nick(r), "helper");
	assert_string_equal(out.note, "irc: nick taken or refused, trying helper");
	expect(r, ":irc.test 433 * helper :in use", IRC_REG_GO_ON, "NICK helper2");
	/* 432 (erroneous), 436 (collision), 437 (unavailable) alike */
	expect(r, ":irc.test 432 * helper2 :Erroneous", IRC_REG_GO_ON, "NICK faqbot_");
	expect(r, ":irc.test 436 * faqbot_ :collision", IRC_REG_GO_ON, "NICK faqbot1");
	for (i = 2; i < IRC_NICK_TRIES; i++) {
		snprintf(want, sizeof(want), "NICK faqbot%d", i);
		expect(r, ":irc.test 437 * x :unavailable", IRC_REG_GO_ON, want);
	}
	expect(r, ":irc.test 433 * x :in use", IRC_REG_END, "");
	assert_string_equal(out.why, "irc: every nick tried is taken or refused");

	/* a new connection starts from the nick again; the welcome's nick wins */
	begin(r, 0);
	assert_string_equal(irc_reg_nick(r), "faqbot");
	expect(r, ":irc.test 433 * faqbot :in use", IRC_REG_GO_ON, "NICK helper");
	expect(r, ":irc.test CAP * LS :", IRC_REG_GO_ON, "CAP END");
	expect(r, ":irc.test 001 helper :Welcome", IRC_REG_WELCOME, "");
	assert_string_equal(irc_reg_nick(r), "helper");
	/* registered: a 433 (a NICK of ours refused) changes nothing */
	expect(r, ":irc.test 433 helper faqbot :in use", IRC_REG_GO_ON, "");
	assert_string_equal(irc_reg_nick(r), "helper");
	/* our own NICK change is followed, another's is not, a bad one neither */
	expect(r, ":someone!u@h NICK :other", IRC_REG_GO_ON, "");
	assert_string_equal(irc_reg_nick(r), "helper");
	expect(r, ":HELPER!u@h NICK :faqbot", IRC_REG_GO_ON, "");
	assert_string_equal(irc_reg_nick(r), "faqbot");
	expect(r, ":faqbot!u@h NICK :9lives", IRC_REG_GO_ON, "");
	assert_string_equal(irc_reg_nick(r), "faqbot");
	irc_reg_free(r);
}

static void test_register_timeout(void **state)
{
	struct irc_reg *r = mk(NULL, NULL, NULL, NULL);

	(void)state;
	begin(r, 5000);
	assert_int_equal(irc_reg_check(r, 5000, &out), IRC_REG_GO_ON);
	assert_int_equal(irc_reg_check(r, 35000, &out), IRC_REG_GO_ON);
	assert_int_equal(irc_reg_check(r, 35001, &out), IRC_REG_END);
	assert_string_equal(out.note, "irc: no welcome after 30000 ms");
	assert_int_equal(out.n, 0);
	/* registered: the clock no longer matters */
	begin(r, 5000);
	expect(r, ":irc.test CAP * LS :", IRC_REG_GO_ON, "CAP END");
	expect(r, ":irc.test 001 faqbot :Welcome", IRC_REG_WELCOME, "");
	assert_int_equal(irc_reg_check(r, 5000000, &out), IRC_REG_GO_ON);
	assert_string_equal(out.note, "");
	irc_reg_free(r);
}

static void test_prefix(void **state)
{
	struct irc_reg *r = mk(NULL, NULL, NULL, NULL);
	char longhost[400], line[512];

	(void)state;
	begin(r, 0);
	/* unknown user and host: guessed long */
	assert_int_equal(irc_reg_prefix_len(r), irc_prefix_len("faqbot", NULL, NULL));
	expect(r, ":irc.test CAP * LS :", IRC_REG_GO_ON, "CAP END");
	expect(r, ":irc.test 001 faqbot :Welcome", IRC_REG_WELCOME, "");
	/* another's JOIN says nothing of us; ours does */
	expect(r, ":ann!~a@host.example JOIN #c", IRC_REG_GO_ON, "");
	assert_int_equal(irc_reg_prefix_len(r), irc_prefix_len("faqbot", NULL, NULL));
	expect(r, ":FAQBOT!~fb@10.0.0.1 JOIN #c", IRC_REG_GO_ON, "");
	assert_int_equal(irc_reg_prefix_len(r), strlen(":faqbot!~fb@10.0.0.1 "));
	/* RPL_VISIBLEHOST: a cloak */
	expect(r, ":irc.test 396 faqbot users.example :is now your displayed host", IRC_REG_GO_ON,
	       "");
	assert_int_equal(irc_reg_prefix_len(r), strlen(":faqbot!~fb@users.example "));
	/* a host too long to leave room for text is not believed */
	memset(longhost, 'h', IRC_HOST_MAX + 1);
	longhost[IRC_HOST_MAX + 1] = '\0';
	snprintf(line, sizeof(line), ":irc.test 396 faqbot %s :is now your host", longhost);
	expect(r, line, IRC_REG_GO_ON, "");
	assert_int_equal(irc_reg_prefix_len(r), strlen(":faqbot!~fb@users.example "));
	/* a new connection forgets them */
	begin(r, 0);
	assert_int_equal(irc_reg_prefix_len(r), irc_prefix_len("faqbot", NULL, NULL));
	irc_reg_free(r);
}

static void test_config_checks(void **state)
{
	static const struct {
		const char *nick, *user, *mech, *account, *password, *want;
		int cert;
	} bad[] = {
	    {"9lives", NULL, NULL, NULL, NULL, "is not a valid nick", 0},
	    {"fa q", NULL, NULL, NULL, NULL, "is not a valid nick", 0},
	    {"a,b", NULL, NULL, NULL, NULL, "is not a valid nick", 0},
	    {"faqbot", "us er", NULL, NULL, NULL, "holds a space", 0},
	    {"faqbot", NULL, "SCRAM-SHA-256", "a", "b", "is not PLAIN or EXTERNAL", 0},
	    {"faqbot", NULL, "PLAIN", NULL, NULL, "needs both an account and a password", 0},
	    {"faqbot", NULL, NULL, "acct", NULL, "needs both an account and a password", 0},
	    {"faqbot", NULL, NULL, "", "pw", "empty or too long", 0},
	    {"faqbot", NULL, "EXTERNAL", NULL, NULL, "set tls_cert_file", 0},
	    {"faqbot", NULL, "EXTERNAL", NULL, "pw", "not a password", 1},
	};
	struct irc_reg_config c;
	struct irc_reg *r;
	char err[256];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&c, 0, sizeof(c));
		c.nick = bad[i].nick;
		c.user = bad[i].user;
		c.sasl_mechanism = bad[i].mech;
		c.sasl_account = bad[i].account;
		c.sasl_password = bad[i].password;
		c.tls = 1;
		c.tls_client_cert = bad[i].cert;
		c.register_timeout_ms = 1000;
		r = (struct irc_reg *)(void *)&c; /* not NULL: it must come back NULL */
		assert_int_equal(irc_reg_new(&c, &r, err, sizeof(err)), ERR_INVALID);
		assert_null(r);
		if (!strstr(err, bad[i].want))
			fail_msg("case %zu: \"%s\" does not say \"%s\"", i, err, bad[i].want);
	}
	assert_true(irc_reg_nick_ok("faqbot"));
	assert_true(irc_reg_nick_ok("[bot]^"));
	assert_false(irc_reg_nick_ok("-x"));
	assert_false(irc_reg_nick_ok("a.b"));
	assert_false(irc_reg_nick_ok(""));
	assert_false(irc_reg_nick_ok(NULL));
	irc_reg_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_opening_lines),
		cmocka_unit_test(test_cap_without_sasl),
		cmocka_unit_test(test_sasl_plain),
		cmocka_unit_test(test_sasl_chunks),
		cmocka_unit_test(test_sasl_refused_first_start),
		cmocka_unit_test(test_sasl_retry_after_a_login),
		cmocka_unit_test(test_sasl_fatal_kinds),
		cmocka_unit_test(test_sasl_external),
		cmocka_unit_test(test_out_of_order),
		cmocka_unit_test(test_nick_in_use),
		cmocka_unit_test(test_register_timeout),
		cmocka_unit_test(test_prefix),
		cmocka_unit_test(test_config_checks),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
