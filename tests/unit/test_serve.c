/* test_serve.c -- the running bot as a member and a moderator meet it:
 * commands, who may use them, cooldowns, mutes, opt-outs, counts without
 * words, and a reload that never loses the FAQ in use. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "prefilter.h"
#include "serve.h"
#include "state.h"
#include "helpers.h"

static char top[64], faqdir[128], statedir[128];
static time_t clock_now = 1800000000;

static time_t fake_now(void)
{
	return clock_now;
}

static int setup(void **st)
{
	(void)st;
	if (th_tmpdir(top, sizeof(top), "serve") != 0)
		return -1;
	snprintf(faqdir, sizeof(faqdir), "%s/faq", top);
	snprintf(statedir, sizeof(statedir), "%s/state", top);
	mkdir(faqdir, 0700);
	return th_copy_tree(TH_MINI, faqdir, NULL);
}

static int teardown(void **st)
{
	(void)st;
	return th_rmtree(top);
}

static struct serve *start(const char *const *mods, size_t nmods)
{
	struct serve_config c = {0};
	struct faq_diags d = {0};
	struct serve *s = NULL;
	struct faq *faq = NULL;
	char err[256];

	assert_int_equal(faq_load(faqdir, &faq, &d), ERR_OK);
	faq_diags_release(&d);
	c.faq_dir = faqdir;
	c.state_dir = statedir;
	c.mod_room = "!mods:hs";
	c.moderators = mods;
	c.n_moderators = nmods;
	c.moderator_power = 50;
	c.cooldown_s = 600;
	c.stats_days = 90;
	c.max_age_days = 365;
	assert_int_equal(serve_new(&c, faq, &s, err, sizeof(err)), ERR_OK);
	serve_set_clock(s, fake_now);
	return s;
}

/* say sends text from who in room and returns the reply text or NULL. */
static const char *say(struct serve *s, const char *room, const char *who, int power,
		       const char *text, struct tr_reply *out)
{
	struct tr_message m = {0};

	memset(out, 0, sizeof(*out));
	m.room = room;
	m.sender = m.sender_account = who;
	m.sender_power = power;
	m.text = text;
	m.event_id = "$ev";
	m.bot_name = "faqbot";
	assert_int_equal(serve_handle(s, &m, out), ERR_OK);
	return out->reply ? out->text : NULL;
}

/* early sends text as say does, before the network knows the room's
 * facts (facts_pending) */
static const char *early(struct serve *s, const char *room, const char *who, const char *text,
			 struct tr_reply *out)
{
	struct tr_message m = {0};

	memset(out, 0, sizeof(*out));
	m.room = room;
	m.sender = m.sender_account = who;
	m.sender_power = -1;
	m.text = text;
	m.event_id = "$early";
	m.bot_name = "faqbot";
	m.facts_pending = 1;
	assert_int_equal(serve_handle(s, &m, out), ERR_OK);
	return out->reply ? out->text : NULL;
}

/* Before a room's facts are known: a crisis is answered at once (a
 * member's, and one behind !test, whose sender's level decides); anything
 * else is left untouched, to be handled whole with the facts: nothing
 * counted, no cooldown started, no refusal given. */
static void test_facts_pending(void **st)
{
	static const char *const mods[] = {"@mod:hs"};
	struct serve *s = start(mods, 1);
	struct tr_reply out;
	const char *t;

	(void)st;
	clock_now += 86400 * 30;
	t = early(s, "!f", "@a:hs", "i want to kill myself", &out);
	assert_non_null(strstr(t, "988"));
	assert_true(out.alert_moderators);
	assert_false(out.wait_facts);
	assert_null(early(s, "!f", "@b:hs", "what is tms?", &out));
	assert_true(out.wait_facts);
	assert_null(early(s, "!f", "@b:hs", "!mute", &out));
	assert_true(out.wait_facts);
	assert_null(early(s, "!f", "@b:hs", "!test i want to kill myself", &out));
	assert_true(out.wait_facts);
	assert_null(early(s, "!f", "@b:hs", "just chatting", &out));
	assert_true(out.wait_facts);
	/* handed again with the facts: handled as ever, the first time */
	assert_non_null(strstr(say(s, "!f", "@b:hs", 0, "what is tms?", &out), "magnetic"));
	assert_false(out.wait_facts);
	assert_non_null(strstr(say(s, "!f", "@b:hs", 0, "!mute", &out), "moderators"));
	t = say(s, "!f", "@mod:hs", 0, "!stats", &out);
	assert_non_null(strstr(t, "crisis 1"));
	assert_non_null(strstr(t, "faq:tms 1"));
	serve_free(s);
}

static void test_member_commands(void **st)
{
	struct serve *s = start(NULL, 0);
	struct tr_reply out;
	const char *t;

	(void)st;
	t = say(s, "!r", "@a:hs", 0, "!help", &out);
	assert_non_null(strstr(t, "not a clinician"));
	assert_non_null(strstr(t, "even if you have opted out"));
	assert_null(strstr(t, "!reload")); /* not a moderator: not shown */
	t = say(s, "!r", "@a:hs", 0, "!faq", &out);
	assert_non_null(strstr(t, "What is TMS? (tms)")); /* the question a member reads */
	t = say(s, "!r", "@a:hs", 0, "!faqs", &out);
	assert_non_null(strstr(t, "Did you mean !faq?"));
	assert_non_null(strstr(t, "!help"));
	t = say(s, "!r", "@c:hs", 0, "!foo", &out);
	assert_non_null(strstr(t, "I have no command !foo."));
	assert_null(strstr(t, "Did you mean"));
	/* once a cooldown a member: trying again gets silence, not an argument */
	assert_null(say(s, "!r", "@c:hs", 0, "!bar", &out));
	clock_now += 601;
	assert_non_null(say(s, "!r", "@c:hs", 0, "!bar", &out));
	/* the moderators' room: their talk may start with '!' for other bots */
	assert_null(say(s, "!mods:hs", "@d:hs", 0, "!remindme", &out));
	t = say(s, "!mods:hs", "@d:hs", 0, "faqbot: !remindme", &out);
	assert_non_null(strstr(t, "I have no command !remindme."));
	/* an unknown command is still read for a crisis first */
	t = say(s, "!r", "@a:hs", 0, "!suicidal", &out);
	assert_true(out.alert_moderators);
	t = say(s, "!r", "@a:hs", 0, "!faq tms @bob", &out);
	assert_non_null(strstr(t, "magnetic pulses"));
	assert_string_equal(out.mention, "@bob");
	assert_string_equal(out.entry_id, "tms");
	t = say(s, "!r", "@a:hs", 0, "!faq magnetic stimulation", &out);
	assert_non_null(strstr(t, "magnetic pulses"));
	t = say(s, "!r", "@a:hs", 0, "!crisis", &out);
	assert_non_null(strstr(t, "988"));
	assert_false(out.alert_moderators);
	t = say(s, "!r", "@a:hs", 0, "!sources tms", &out);
	/* the article by its title, which a member can look for */
	assert_non_null(strstr(t, "What is TMS?"));
	assert_non_null(strstr(t, "\u201cWhen Nothing Works: A Test Article\u201d"));
	assert_null(strstr(t, "000_3eda1d225fd94fd4.txt"));
	serve_free(s);
}

/* The short form goes with a FAQ answer the classifier chose, for a
 * network to send where the whole costs many lines; never with a command's
 * reply (`!faq tms` asks for the whole), a crisis or advice. */
static void test_short_form_only_with_a_chosen_faq_answer(void **st)
{
	struct serve *s = start(NULL, 0);
	struct tr_reply out;
	const char *t;

	(void)st;
	t = say(s, "!r", "@a:hs", 0, "what is tms?", &out);
	assert_non_null(strstr(t, "magnetic pulses"));
	assert_non_null(out.short_text);
	assert_non_null(strstr(out.short_text, "you stay awake"));
	assert_string_equal(out.entry_id, "tms");
	say(s, "!r", "@a:hs", 0, "!faq tms", &out);
	assert_true(out.reply);
	assert_null(out.short_text);
	say(s, "!r", "@b:hs", 0, "what dose of ketamine should i take?", &out);
	assert_string_equal(out.kind, "advice");
	assert_null(out.short_text);
	say(s, "!r", "@b:hs", 0, "i want to kill myself", &out);
	assert_string_equal(out.kind, "crisis");
	assert_null(out.short_text);
	serve_free(s);
}

static void test_moderators_only(void **st)
{
	static const char *const mods[] = {"@mod:hs"};
	struct serve *s = start(mods, 1);
	struct tr_reply out;
	const char *t;

	(void)st;
	/* a member, whatever their display name: one short refusal, then quiet */
	t = say(s, "!r", "@eve:hs", 0, "!mute", &out);
	assert_non_null(strstr(t, "for the group's moderators"));
	assert_null(say(s, "!r", "@eve:hs", 0, "!reload", &out));
	assert_null(say(s, "!r", "@eve:hs", 0, "!test what is tms", &out));
	/* ...and the room is not muted */
	assert_non_null(say(s, "!r", "@eve:hs", 0, "what is tms?", &out));
	/* a listed moderator, and anyone with power 50 */
	t = say(s, "!r", "@mod:hs", 0, "!test what is tms", &out);
	assert_non_null(strstr(t, "faq: tms"));
	assert_non_null(strstr(t, "tms.yml:"));
	t = say(s, "!r", "@op:hs", 50, "!test i want to kill myself", &out);
	assert_non_null(strstr(t, "crisis: crisis-test"));
	assert_false(out.alert_moderators); /* a test, not a crisis */
	/* a member's crisis words behind a moderators' command still count */
	t = say(s, "!r", "@bob:hs", 0, "!test i want to kill myself", &out);
	assert_true(out.alert_moderators);
	assert_string_equal(out.kind, "crisis");
	serve_free(s);
}

static void test_cooldown_mute_optout_and_crisis(void **st)
{
	static const char *const mods[] = {"@mod:hs"};
	struct serve *s = start(mods, 1);
	struct tr_reply out;
	const char *t;

	(void)st;
	assert_non_null(say(s, "!r", "@a:hs", 0, "what is tms?", &out));
	/* a repeat in a burst: one answer */
	assert_null(say(s, "!r", "@a:hs", 0, "what is tms???", &out));
	/* someone else: a pointer to it */
	clock_now += 60;
	t = say(s, "!r", "@b:hs", 0, "so what is tms?", &out);
	assert_non_null(strstr(t, "see my reply above"));
	assert_string_equal(out.see_event, "$ev");
	/* another room is not affected */
	assert_non_null(strstr(say(s, "!other", "@b:hs", 0, "what is tms?", &out), "magnetic"));
	/* after the window, a fresh answer */
	clock_now += 601;
	assert_non_null(strstr(say(s, "!r", "@b:hs", 0, "what is tms?", &out), "magnetic"));

	/* muted: no FAQ answers, crisis as ever */
	say(s, "!r", "@mod:hs", 0, "!mute", &out);
	clock_now += 601;
	assert_null(say(s, "!r", "@c:hs", 0, "what is tms?", &out));
	t = say(s, "!r", "@c:hs", 0, "i want to kill myself", &out);
	assert_non_null(strstr(t, "988"));
	assert_true(out.alert_moderators);
	say(s, "!r", "@mod:hs", 0, "!unmute", &out);
	assert_non_null(say(s, "!r", "@c:hs", 0, "what is tms?", &out));

	/* opted out: answered only when addressed; crisis as ever */
	clock_now += 601;
	say(s, "!r", "@d:hs", 0, "!optout", &out);
	assert_null(say(s, "!r", "@d:hs", 0, "what is tms?", &out));
	assert_non_null(say(s, "!r", "@d:hs", 0, "faqbot: what is tms?", &out));
	t = say(s, "!r", "@d:hs", 0, "i am suicidal", &out);
	assert_true(out.alert_moderators);
	serve_free(s);

	/* mutes and opt-outs outlive a restart */
	s = start(mods, 1);
	clock_now += 601;
	assert_null(say(s, "!r", "@d:hs", 0, "what is tms?", &out));
	say(s, "!r", "@d:hs", 0, "!optin", &out);
	assert_non_null(say(s, "!r", "@d:hs", 0, "what is tms?", &out));
	serve_free(s);
}

/* A state file faqbot cannot read costs nothing but itself: it is kept
 * aside as NAME.bad, the bot starts, and a crisis is still answered. One
 * bad item in a good file costs that item. */
static void test_bad_state_files(void **st)
{
	static const char *const mods[] = {"@mod:hs"};
	char path[512], bad[520];
	struct serve *s;
	struct tr_reply out;
	FILE *f;
	struct stat sb;

	(void)st;
	mkdir(statedir, 0700);
	snprintf(path, sizeof(path), "%s/policy.json", statedir);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("{\"muted\": [\"!r\"", f); /* cut short, as a full disk might */
	fclose(f);
	s = start(mods, 1);
	assert_non_null(strstr(say(s, "!r", "@a:hs", 0, "i want to kill myself", &out), "988"));
	assert_non_null(say(s, "!r", "@a:hs", 0, "what is tms?", &out)); /* not muted */
	serve_free(s);
	snprintf(bad, sizeof(bad), "%s.bad", path);
	assert_int_equal(stat(bad, &sb), 0);
	unlink(bad);
	/* one bad item: the mute beside it holds */
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("{\"muted\": [42, \"!q\"]}", f);
	fclose(f);
	s = start(mods, 1);
	clock_now += 601;
	assert_null(say(s, "!q", "@a:hs", 0, "what is tms?", &out));
	assert_non_null(strstr(say(s, "!q", "@a:hs", 0, "i want to kill myself", &out), "988"));
	say(s, "!q", "@mod:hs", 0, "!unmute", &out);
	serve_free(s);
}

static void test_stats_count_without_words(void **st)
{
	static const char *const mods[] = {"@mod:hs"};
	struct serve *s = start(mods, 1);
	struct tr_reply out;
	char *saved = NULL;
	const char *t;

	(void)st;
	state_remove(statedir, "stats.json");
	clock_now += 86400;
	say(s, "!r", "@a:hs", 0, "what is tms?", &out);
	say(s, "!r", "@b:hs", 0, "how do i grow tomatoes zzqx?", &out);
	say(s, "!r", "@c:hs", 0, "i want to kill myself", &out);
	t = say(s, "!r", "@mod:hs", 0, "!stats", &out);
	assert_non_null(strstr(t, "crisis 1"));
	assert_non_null(strstr(t, "faq:tms 1"));
	assert_non_null(strstr(t, "!r 1")); /* one unanswered question in !r */
	assert_null(strstr(t, "tomatoes"));
	assert_null(strstr(t, "kill"));
	assert_int_equal(serve_save(s), ERR_OK);
	serve_free(s);
	assert_int_equal(state_read(statedir, "stats.json", &saved, NULL), ERR_OK);
	assert_null(strstr(saved, "tomatoes"));
	assert_null(strstr(saved, "kill"));
	assert_null(strstr(saved, "@a:hs"));
	free(saved);
	/* the 7-day counts survive a restart */
	s = start(mods, 1);
	t = say(s, "!r", "@mod:hs", 0, "!stats", &out);
	assert_non_null(strstr(t, "Last 7 days: 2 answered"));
	serve_free(s);
}

static void test_reload_good_and_broken(void **st)
{
	static const char *const mods[] = {"@mod:hs"};
	struct serve *s = start(mods, 1);
	struct tr_reply out;
	char *report = NULL;
	const char *t;
	const struct prefilter *before = serve_faq(s)->prefilter;

	(void)st;
	clock_now += 86400;
	assert_null(say(s, "!r", "@a:hs", 0, "what is ect?", &out));
	th_put(faqdir, "ect.yml",
	       "id: ect\nquestion: What is ECT?\nreviewed: 2026-11-20\nsources:\n  - a.txt\npatterns: |\n"
	       "  \\bect\\b\nanswer: |\n  ECT, electroconvulsive therapy, is a treatment "
	       "given under general\n  anaesthesia in hospital. It is one of the most "
	       "effective options\n  for severe depression that other treatments did not "
	       "help. Your\n  psychiatrist can tell you whether it fits you, and what it "
	       "involves.\nexamples: |\n  what is ect\n");
	assert_int_equal(serve_reload(s, "test", &report), ERR_OK);
	assert_non_null(strstr(report, "new: ect"));
	free(report);
	assert_non_null(strstr(say(s, "!r", "@a:hs", 0, "what is ect?", &out), "anaesthesia"));
	if (before) {
		/* the reloaded FAQ came with a prefilter of its own, which
		 * knows the new pattern */
		const struct faq *nf = serve_faq(s);
		const struct faq_entry *ect = faq_find(nf, "ect");

		assert_non_null(nf->prefilter);
		assert_ptr_not_equal(nf->prefilter, before);
		prefilter_scan(nf->prefilter, 0, "what is ect?", 12);
		assert_true(prefilter_may(nf->prefilter, 0, ect->patterns[0].pf));
		prefilter_scan(nf->prefilter, 0, "what is tms?", 12);
		assert_false(prefilter_may(nf->prefilter, 0, ect->patterns[0].pf));
	}

	/* a broken edit: refused, said where, and the FAQ in use still answers */
	th_put(faqdir, "ect.yml", "id: ect\nquestion: [oops\n");
	t = say(s, "!mods:hs", "@mod:hs", 0, "!reload", &out);
	assert_non_null(strstr(t, "was not reloaded"));
	assert_non_null(strstr(t, "keeps serving"));
	assert_non_null(strstr(t, "ect.yml:3:1: YAML"));
	assert_null(out.mod_text); /* the moderator asked here: said once */
	clock_now += 601;
	assert_non_null(strstr(say(s, "!r", "@b:hs", 0, "what is ect?", &out), "anaesthesia"));
	/* the same, asked from a member room: the moderators' room hears too */
	t = say(s, "!r", "@mod:hs", 0, "!reload", &out);
	assert_non_null(out.mod_text);
	assert_non_null(strstr(out.mod_text, "ect.yml:3:1: YAML"));
	{
		char path[256];

		snprintf(path, sizeof(path), "%s/ect.yml", faqdir);
		unlink(path);
	}
	serve_free(s);
}

static void test_watch_reloads_on_save(void **st)
{
	struct serve_config c = {0};
	struct faq_diags d = {0};
	struct serve *s = NULL;
	struct faq *faq = NULL;
	struct tr_notice note = {0};
	struct tr_reply out;
	char err[256];
	int i;

	(void)st;
	assert_int_equal(faq_load(faqdir, &faq, &d), ERR_OK);
	faq_diags_release(&d);
	c.faq_dir = faqdir;
	c.watch = 1;
	c.max_age_days = 365;
	assert_int_equal(serve_new(&c, faq, &s, err, sizeof(err)), ERR_OK);
	assert_true(serve_wake_fd(s) >= 0);
	th_put(faqdir, "tms.yml",
	       "id: tms\nquestion: What is TMS?\nreviewed: 2026-11-20\nsources:\n  - a.txt\npatterns: |\n"
	       "  \\btms\\b\nanswer: |\n  TMS, transcranial magnetic stimulation, sends "
	       "magnetic pulses to\n  the parts of the brain that help control mood. It "
	       "needs no anaesthesia,\n  you stay awake, and most people go back to their "
	       "day straight after a\n  session. CHANGED. Your psychiatrist can tell you "
	       "whether it fits you.\nexamples: |\n  what is tms\n");
	for (i = 0; i < 30 && !note.mod_text; i++) {
		usleep(50 * 1000);
		assert_int_equal(serve_tick(s, &note), ERR_OK);
	}
	assert_non_null(note.mod_text);
	assert_non_null(strstr(note.mod_text, "changed: tms"));
	assert_non_null(strstr(say(s, "!r", "@a:hs", 0, "what is tms?", &out), "CHANGED"));
	serve_free(s);
}

static void test_unanswered_words_only_when_asked(void **st)
{
	struct serve_config c = {0};
	struct faq_diags d = {0};
	struct serve *s = NULL;
	struct faq *faq = NULL;
	struct tr_reply out;
	struct stat sb;
	char err[256], path[256], old[256], buf[512] = "";
	FILE *f;

	(void)st;
	/* off (the default): no file at all */
	s = start(NULL, 0);
	say(s, "!r", "@a:hs", 0, "how do i repot a fern?", &out);
	serve_free(s);
	snprintf(path, sizeof(path), "%s/unanswered", statedir);
	assert_int_not_equal(stat(path, &sb), 0);

	/* on: the words, in a file only the bot's user reads; old days go */
	assert_int_equal(faq_load(faqdir, &faq, &d), ERR_OK);
	faq_diags_release(&d);
	c.faq_dir = faqdir;
	c.state_dir = statedir;
	c.keep_unanswered = 1;
	c.unanswered_days = 14;
	assert_int_equal(serve_new(&c, faq, &s, err, sizeof(err)), ERR_OK);
	serve_set_clock(s, fake_now);
	say(s, "!r", "@a:hs", 0, "how do i repot a fern?", &out);
	say(s, "!r", "@a:hs", 0, "what is tms?", &out); /* answered: not kept */
	{
		char day[16];
		time_t t = fake_now();
		struct tm tm;

		gmtime_r(&t, &tm);
		strftime(day, sizeof(day), "%Y-%m-%d", &tm);
		snprintf(path, sizeof(path), "%s/unanswered/%s.tsv", statedir, day);
	}
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	f = fopen(path, "r");
	assert_non_null(f);
	assert_non_null(fgets(buf, sizeof(buf), f));
	fclose(f);
	assert_non_null(strstr(buf, "\t!r\thow do i repot a fern?"));
	assert_null(strstr(buf, "tms"));
	serve_free(s);
	/* fifteen days on, the hourly tidy-up removes that day's file */
	snprintf(old, sizeof(old), "%s", path);
	assert_int_equal(faq_load(faqdir, &faq, &d), ERR_OK);
	faq_diags_release(&d);
	assert_int_equal(serve_new(&c, faq, &s, err, sizeof(err)), ERR_OK);
	serve_set_clock(s, fake_now);
	clock_now += 13 * 86400;
	{
		struct tr_notice note = {0};

		assert_int_equal(serve_tick(s, &note), ERR_OK);
		assert_int_equal(stat(old, &sb), 0); /* 13 days: still kept */
		clock_now += 2 * 86400;
		assert_int_equal(serve_tick(s, &note), ERR_OK);
	}
	serve_free(s);
	assert_int_not_equal(stat(old, &sb), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_member_commands),
		cmocka_unit_test(test_facts_pending),
		cmocka_unit_test(test_short_form_only_with_a_chosen_faq_answer),
		cmocka_unit_test(test_moderators_only),
		cmocka_unit_test(test_cooldown_mute_optout_and_crisis),
		cmocka_unit_test(test_bad_state_files),
		cmocka_unit_test(test_stats_count_without_words),
		cmocka_unit_test(test_reload_good_and_broken),
		cmocka_unit_test(test_watch_reloads_on_save),
		cmocka_unit_test(test_unanswered_words_only_when_asked),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
