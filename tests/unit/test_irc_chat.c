/* test_irc_chat.c -- members' messages in and answers out: what is a
 * message for the bot (a channel by CHANTYPES, a private one, addressed
 * or not), what is not (its own, another's, a status message, CTCP), the
 * account and msgid only when trustworthy, formatting stripped; the alert
 * without the member's words, "nick: " for a directed answer and never a
 * forged one, a long answer sent privately but never a crisis reply. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "bot.h"
#include "faq.h"
#include "irc_chat.h"

static struct irc_msg msg;
static char textbuf[IRC_WIRE_MAX + 1];

static struct irc_chat_view view(int account_tag, int pm_over_lines)
{
	struct irc_chat_view v;

	memset(&v, 0, sizeof(v));
	v.me = "faqbot";
	v.chantypes = "#&";
	v.account_tag = account_tag;
	v.prefix_len = irc_prefix_len("faqbot", NULL, NULL);
	v.pm_over_lines = pm_over_lines;
	return v;
}

static enum irc_chat_what rd(const char *line, const struct irc_chat_view *v,
                             struct tr_message *tm)
{
	assert_int_equal(irc_parse_line(line, strlen(line), &msg), ERR_OK);
	return irc_chat_read(&msg, v, textbuf, sizeof(textbuf), tm);
}

static void test_read_messages(void **state)
{
	struct irc_chat_view v = view(0, 0);
	struct tr_message tm;

	(void)state;
	assert_int_equal(rd(":ann!a@h PRIVMSG #support :FAQBot: what is TMS?", &v, &tm),
	                 IRC_CHAT_MESSAGE);
	assert_string_equal(tm.room, "#support");
	assert_string_equal(tm.sender, "ann");
	assert_string_equal(tm.sender_name, "ann");
	assert_string_equal(tm.text, "FAQBot: what is TMS?");
	assert_string_equal(tm.bot_name, "faqbot");
	assert_false(tm.direct);
	assert_true(tm.mentions_bot);
	assert_int_equal(tm.sender_power, -1);
	assert_null(tm.event_id);
	assert_null(tm.sender_account);

	/* not addressed: "faqbots" or the nick later in the text */
	assert_int_equal(rd(":ann!a@h PRIVMSG #support :faqbots: hi", &v, &tm), IRC_CHAT_MESSAGE);
	assert_false(tm.mentions_bot);
	assert_int_equal(rd(":ann!a@h PRIVMSG &local :hi faqbot, hi", &v, &tm), IRC_CHAT_MESSAGE);
	assert_false(tm.mentions_bot);
	assert_string_equal(tm.room, "&local");
	assert_int_equal(rd(":ann!a@h PRIVMSG #support :faqbot,", &v, &tm), IRC_CHAT_MESSAGE);
	assert_true(tm.mentions_bot);

	/* private: the room is the sender, and it addresses the bot */
	assert_int_equal(rd(":bob!b@h PRIVMSG FaqBot :help", &v, &tm), IRC_CHAT_MESSAGE);
	assert_string_equal(tm.room, "bob");
	assert_true(tm.direct);
	assert_true(tm.mentions_bot);

	/* formatting stripped: what the member saw is what the core reads */
	assert_int_equal(rd(":ann!a@h PRIVMSG #support :\x02" "bold\x02 \x03" "04red\x03 x", &v, &tm),
	                 IRC_CHAT_MESSAGE);
	assert_string_equal(tm.text, "bold red x");
}

static void test_read_not_for_us(void **state)
{
	struct irc_chat_view v = view(0, 0);
	struct tr_message tm;

	(void)state;
	assert_int_equal(rd(":FAQBOT!x@h PRIVMSG #support :my own", &v, &tm), IRC_CHAT_NONE);
	assert_int_equal(rd(":ann!a@h PRIVMSG otherbot :not mine", &v, &tm), IRC_CHAT_NONE);
	assert_int_equal(rd(":ann!a@h PRIVMSG @#support :ops only", &v, &tm), IRC_CHAT_NONE);
	assert_int_equal(rd(":ann!a@h PRIVMSG +chan :no such type here", &v, &tm), IRC_CHAT_NONE);
	assert_int_equal(rd(":irc.test PRIVMSG #support :from a server", &v, &tm),
	                 IRC_CHAT_MESSAGE); /* a server name is a source like any */
	assert_int_equal(rd(":a,b!x@h PRIVMSG #support :a list as a sender", &v, &tm),
	                 IRC_CHAT_NONE);
	assert_int_equal(rd("PRIVMSG #support :no source", &v, &tm), IRC_CHAT_NONE);
	assert_int_equal(rd(":ann!a@h PRIVMSG #support", &v, &tm), IRC_CHAT_NONE);
	/* the server's CHANTYPES: "+" made a channel */
	v.chantypes = "#+";
	assert_int_equal(rd(":ann!a@h PRIVMSG +chan :now a channel", &v, &tm), IRC_CHAT_MESSAGE);
	/* CTCP: VERSION is answered, nothing else is a message */
	assert_int_equal(rd(":ann!a@h PRIVMSG faqbot :\x01VERSION\x01", &v, &tm), IRC_CHAT_VERSION);
	assert_int_equal(rd(":ann!a@h PRIVMSG #support :\x01" "ACTION waves\x01", &v, &tm),
	                 IRC_CHAT_NONE);
	assert_int_equal(rd(":ann!a@h PRIVMSG #support :\x01PING 1", &v, &tm), IRC_CHAT_NONE);
}

static void test_read_tags(void **state)
{
	struct irc_chat_view off = view(0, 0), on = view(1, 0);
	struct tr_message tm;

	(void)state;
	/* an account tag is the server's word only with account-tag ACKed */
	assert_int_equal(rd("@account=ann;msgid=m1 :ann!a@h PRIVMSG #c :x", &off, &tm),
	                 IRC_CHAT_MESSAGE);
	assert_null(tm.sender_account);
	assert_string_equal(tm.event_id, "m1");
	assert_int_equal(rd("@account=ann :ann!a@h PRIVMSG #c :x", &on, &tm), IRC_CHAT_MESSAGE);
	assert_string_equal(tm.sender_account, "ann");
	/* logged out ("*"), or not one plain word: none */
	assert_int_equal(rd("@account=* :ann!a@h PRIVMSG #c :x", &on, &tm), IRC_CHAT_MESSAGE);
	assert_null(tm.sender_account);
	assert_int_equal(rd("@account=a\\sb;msgid=x\\ny :ann!a@h PRIVMSG #c :x", &on, &tm),
	                 IRC_CHAT_MESSAGE);
	assert_null(tm.sender_account);
	assert_null(tm.event_id);
	assert_int_equal(rd("@account= :ann!a@h PRIVMSG #c :x", &on, &tm), IRC_CHAT_MESSAGE);
	assert_null(tm.sender_account);
}

static void test_read_cut(void **state)
{
	struct irc_chat_view v = view(0, 0);
	struct tr_message tm;
	char small[8];

	(void)state;
	assert_int_equal(irc_parse_line(":ann!a@h PRIVMSG #c :0123456789", 31, &msg), ERR_OK);
	assert_int_equal(irc_chat_read(&msg, &v, small, sizeof(small), &tm), IRC_CHAT_MESSAGE);
	assert_string_equal(tm.text, "0123456");
}

static struct tr_reply reply(const char *kind, const char *text, const char *mention,
                             int alert)
{
	struct tr_reply r;

	memset(&r, 0, sizeof(r));
	r.reply = text != NULL;
	r.kind = kind;
	r.text = text;
	r.mention = mention;
	r.alert_moderators = alert;
	return r;
}

static void test_answer_alert(void **state)
{
	struct irc_chat_view v = view(0, 0);
	struct tr_reply r = reply("crisis", "You matter. Call 988.", NULL, 1);
	struct irc_chat_answer a;

	(void)state;
	assert_int_equal(irc_chat_answer(&r, "#support", "ann", 0, &v, &a), ERR_OK);
	assert_string_equal(a.alert, "Crisis alert: ann may need support now in #support. Please "
	                             "reach out to them.");
	assert_string_equal(a.target, "#support");
	assert_string_equal(a.text, "You matter. Call 988.");
	assert_string_equal(a.kind, "crisis");
	assert_string_equal(a.where, "#support");
	assert_string_equal(a.note, "");
	irc_chat_answer_release(&a);

	/* private: the alert says so, and names no room */
	assert_int_equal(irc_chat_answer(&r, "ann", "ann", 1, &v, &a), ERR_OK);
	assert_non_null(strstr(a.alert, "(in a private message to the bot)"));
	assert_string_equal(a.where, "private");
	irc_chat_answer_release(&a);

	/* an alert with no reply */
	r = reply(NULL, NULL, NULL, 1);
	assert_int_equal(irc_chat_answer(&r, "#support", "ann", 0, &v, &a), ERR_OK);
	assert_true(a.alert[0]);
	assert_null(a.target);
	assert_null(a.text);
	assert_null(a.where);
	irc_chat_answer_release(&a);

	/* nothing at all */
	r = reply("faq", "", NULL, 0);
	assert_int_equal(irc_chat_answer(&r, "#support", "ann", 0, &v, &a), ERR_OK);
	assert_string_equal(a.alert, "");
	assert_null(a.target);
	irc_chat_answer_release(&a);
}

static void test_answer_mention(void **state)
{
	struct irc_chat_view v = view(0, 0);
	struct tr_reply r = reply("faq", "  \nTMS is a treatment.", "@bea", 0);
	struct irc_chat_answer a;

	(void)state;
	assert_int_equal(irc_chat_answer(&r, "#support", "ann", 0, &v, &a), ERR_OK);
	assert_string_equal(a.text, "bea: TMS is a treatment.");
	irc_chat_answer_release(&a);
	r.mention = "bea";
	assert_int_equal(irc_chat_answer(&r, "#support", "ann", 0, &v, &a), ERR_OK);
	assert_string_equal(a.text, "bea: TMS is a treatment.");
	irc_chat_answer_release(&a);
	/* the bot itself, or no plausible nick: no prefix, never a forged line */
	r.mention = "@FAQBOT";
	assert_int_equal(irc_chat_answer(&r, "#support", "ann", 0, &v, &a), ERR_OK);
	assert_string_equal(a.text, "  \nTMS is a treatment.");
	irc_chat_answer_release(&a);
	r.mention = "x\r\nQUIT";
	assert_int_equal(irc_chat_answer(&r, "#support", "ann", 0, &v, &a), ERR_OK);
	assert_null(strstr(a.text, "QUIT"));
	irc_chat_answer_release(&a);
	r.mention = "a b";
	assert_int_equal(irc_chat_answer(&r, "#support", "ann", 0, &v, &a), ERR_OK);
	assert_string_equal(a.text, "  \nTMS is a treatment.");
	irc_chat_answer_release(&a);
}

static void test_answer_kind(void **state)
{
	struct irc_chat_view v = view(0, 0);
	struct tr_reply r = reply("advice", "text", NULL, 0);
	struct irc_chat_answer a;

	(void)state;
	assert_int_equal(irc_chat_answer(&r, "#c", "ann", 0, &v, &a), ERR_OK);
	assert_string_equal(a.kind, "advice");
	irc_chat_answer_release(&a);
	r.kind = "two words";
	assert_int_equal(irc_chat_answer(&r, "#c", "ann", 0, &v, &a), ERR_OK);
	assert_string_equal(a.kind, "faq");
	irc_chat_answer_release(&a);
	r.kind = "averyveryverylongkind";
	assert_int_equal(irc_chat_answer(&r, "#c", "ann", 0, &v, &a), ERR_OK);
	assert_string_equal(a.kind, "faq");
	irc_chat_answer_release(&a);
	r.kind = NULL;
	assert_int_equal(irc_chat_answer(&r, "#c", "ann", 0, &v, &a), ERR_OK);
	assert_string_equal(a.kind, "faq");
	irc_chat_answer_release(&a);
}

static void test_answer_long_goes_private(void **state)
{
	struct irc_chat_view v = view(0, 2);
	struct tr_reply r = reply("faq", "one\ntwo\nthree", "@bea", 0);
	struct irc_chat_answer a;

	(void)state;
	/* three lines, over two: to the asker, a pointer in the channel, and
	 * no "nick: " (it is a private message) */
	assert_int_equal(irc_chat_answer(&r, "#support", "ann", 0, &v, &a), ERR_OK);
	assert_string_equal(a.target, "ann");
	assert_string_equal(a.text, "one\ntwo\nthree");
	assert_string_equal(a.note,
	                    "ann: the answer is long, so I sent it to you in a private message.");
	assert_string_equal(a.where, "private (long)");
	irc_chat_answer_release(&a);
	/* two lines: in the channel */
	r.text = "one\ntwo";
	assert_int_equal(irc_chat_answer(&r, "#support", "ann", 0, &v, &a), ERR_OK);
	assert_string_equal(a.target, "#support");
	assert_string_equal(a.note, "");
	irc_chat_answer_release(&a);
	/* a crisis reply stays where it was asked */
	r = reply("crisis", "one\ntwo\nthree", NULL, 1);
	assert_int_equal(irc_chat_answer(&r, "#support", "ann", 0, &v, &a), ERR_OK);
	assert_string_equal(a.target, "#support");
	assert_string_equal(a.note, "");
	irc_chat_answer_release(&a);
	/* a private question: private already, no note */
	r = reply("faq", "one\ntwo\nthree", NULL, 0);
	assert_int_equal(irc_chat_answer(&r, "ann", "ann", 1, &v, &a), ERR_OK);
	assert_string_equal(a.target, "ann");
	assert_string_equal(a.note, "");
	assert_string_equal(a.where, "private");
	irc_chat_answer_release(&a);
	/* off (0): always in the channel */
	v.pm_over_lines = 0;
	assert_int_equal(irc_chat_answer(&r, "#support", "ann", 0, &v, &a), ERR_OK);
	assert_string_equal(a.target, "#support");
	irc_chat_answer_release(&a);
}

/* A FAQ answer whose whole takes more lines than short_over_lines goes to
 * a channel as its short form with the pointer to the whole; a private
 * question, a crisis, advice, an answer without a short form or one short
 * enough already go whole. */
static void test_answer_short_form(void **state)
{
	struct irc_chat_view v = view(0, 4);
	struct tr_reply r = reply("faq", "one\ntwo\nthree", NULL, 0);
	struct irc_chat_answer a;

	(void)state;
	v.short_over_lines = 1;
	r.short_text = "One line.";
	r.entry_id = "tms";
	assert_int_equal(irc_chat_answer(&r, "#support", "ann", 0, &v, &a), ERR_OK);
	assert_string_equal(a.target, "#support");
	assert_string_equal(a.text, "One line. (The whole answer: /msg faqbot !faq tms)");
	assert_true(a.short_form);
	assert_string_equal(a.note, "");
	irc_chat_answer_release(&a);
	/* directed to someone: "bea: " in front of the short form */
	r.mention = "@bea";
	assert_int_equal(irc_chat_answer(&r, "#support", "ann", 0, &v, &a), ERR_OK);
	assert_string_equal(a.text, "bea: One line. (The whole answer: /msg faqbot !faq tms)");
	irc_chat_answer_release(&a);
	r.mention = NULL;
	/* privately: the whole */
	assert_int_equal(irc_chat_answer(&r, "ann", "ann", 1, &v, &a), ERR_OK);
	assert_string_equal(a.text, "one\ntwo\nthree");
	assert_false(a.short_form);
	irc_chat_answer_release(&a);
	/* one line already: whole */
	r.text = "one";
	assert_int_equal(irc_chat_answer(&r, "#support", "ann", 0, &v, &a), ERR_OK);
	assert_string_equal(a.text, "one");
	irc_chat_answer_release(&a);
	r.text = "one\ntwo\nthree";
	/* a crisis or advice reply is never shortened */
	r.kind = "crisis";
	assert_int_equal(irc_chat_answer(&r, "#support", "ann", 0, &v, &a), ERR_OK);
	assert_string_equal(a.text, "one\ntwo\nthree");
	irc_chat_answer_release(&a);
	r.kind = "advice";
	assert_int_equal(irc_chat_answer(&r, "#support", "ann", 0, &v, &a), ERR_OK);
	assert_string_equal(a.text, "one\ntwo\nthree");
	irc_chat_answer_release(&a);
	r.kind = "faq";
	/* no short form, or an id that is not one plain word: whole */
	r.entry_id = "two words";
	assert_int_equal(irc_chat_answer(&r, "#support", "ann", 0, &v, &a), ERR_OK);
	assert_string_equal(a.text, "one\ntwo\nthree");
	irc_chat_answer_release(&a);
	r.entry_id = "tms";
	r.short_text = NULL;
	assert_int_equal(irc_chat_answer(&r, "#support", "ann", 0, &v, &a), ERR_OK);
	assert_string_equal(a.text, "one\ntwo\nthree");
	irc_chat_answer_release(&a);
	/* off (0): whole */
	r.short_text = "One line.";
	v.short_over_lines = 0;
	assert_int_equal(irc_chat_answer(&r, "#support", "ann", 0, &v, &a), ERR_OK);
	assert_string_equal(a.text, "one\ntwo\nthree");
	irc_chat_answer_release(&a);
}

/* lines_of: the PRIVMSG lines a's text costs in its target. */
static size_t lines_of(const struct irc_chat_view *v, const struct irc_chat_answer *a)
{
	struct irc_lines l = IRC_LINES_INIT;
	size_t n;

	assert_int_equal(irc_split_text("PRIVMSG", a->target, a->text, strlen(a->text),
					v->prefix_len, &l),
			 ERR_OK);
	n = l.n;
	irc_lines_release(&l);
	return n;
}

/* A burst of questions, one for each shipped FAQ entry, asked in a channel
 * with a nick and host of common length: the lines the answers cost whole
 * and with the short forms. Every shipped FAQ entry has a short form of
 * one line, and the burst costs at most half the lines (the paced lines,
 * at one each 2 s, are the minutes a room waits). */
static void test_burst_of_shipped_answers(void **state)
{
	struct irc_chat_view whole = view(0, 0), brief;
	struct faq_diags d = {0};
	struct faq *faq = NULL;
	size_t i, n = 0, lines_whole = 0, lines_short = 0;

	(void)state;
	whole.prefix_len = irc_prefix_len("faqbot", "~faqbot", "user-203-0-113-7.example.net");
	brief = whole;
	brief.short_over_lines = 1;
	assert_int_equal(faq_load("faq", &faq, &d), ERR_OK);
	faq_diags_release(&d);
	for (i = 0; i < faq->nentries; i++) {
		const struct faq_entry *e = &faq->entries[i];
		struct irc_chat_answer a;
		struct tr_reply r;
		char *text;
		size_t k;

		if (e->cls != FAQ_CLASS_FAQ)
			continue;
		if (!e->short_answer)
			fail_msg("%s: a shipped FAQ entry without a short: form", e->id);
		text = bot_compose(faq, e, NULL);
		assert_non_null(text);
		r = reply("faq", text, NULL, 0);
		r.entry_id = e->id;
		r.short_text = e->short_answer;
		assert_int_equal(irc_chat_answer(&r, "#support", "ann", 0, &whole, &a), ERR_OK);
		lines_whole += lines_of(&whole, &a);
		irc_chat_answer_release(&a);
		assert_int_equal(irc_chat_answer(&r, "#support", "ann", 0, &brief, &a), ERR_OK);
		k = lines_of(&brief, &a);
		if (k != 1)
			fail_msg("%s: its short form takes %zu lines on IRC", e->id, k);
		lines_short += k;
		irc_chat_answer_release(&a);
		free(text);
		n++;
	}
	faq_free(faq);
	print_message("burst of %zu questions: %zu lines whole, %zu with short forms\n", n,
		      lines_whole, lines_short);
	assert_true(n >= 30);
	assert_true(lines_short * 2 <= lines_whole);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_read_messages),
		cmocka_unit_test(test_read_not_for_us),
		cmocka_unit_test(test_read_tags),
		cmocka_unit_test(test_read_cut),
		cmocka_unit_test(test_answer_alert),
		cmocka_unit_test(test_answer_mention),
		cmocka_unit_test(test_answer_kind),
		cmocka_unit_test(test_answer_long_goes_private),
		cmocka_unit_test(test_answer_short_form),
		cmocka_unit_test(test_burst_of_shipped_answers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
