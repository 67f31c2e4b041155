/* serve_cmd.c -- the chat commands (serve_int.h): what !faq, !crisis,
 * !help, !sources, !optout, !optin, !mute, !unmute, !reload, !test, !stats
 * and an unknown !word answer. cmd.h reads them; serve.c has checked who
 * may use them. */
#include "serve_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "check.h"
#include "helpline.h"

static char *help_text(int moderator)
{
	struct buf b = serve_reply_buf();

	buf_printf(&b, "I'm faqbot, an automated helper for this group. I answer common questions "
		       "about treatment-resistant depression and its treatments from a FAQ that "
		       "the group's volunteer moderators keep. I'm not a clinician and I can't "
		       "give personal medical advice: for your own treatment, please talk to your "
		       "prescriber.\n\n"
		       "If you're in crisis, say so here or type !crisis. I always reply with "
		       "crisis lines and let the moderators know, even if you have opted out or "
		       "the room is muted.\n\n"
		       "Commands: !faq (the topics), !faq WORDS (the entry that fits best), "
		       "!crisis (crisis lines), !sources ID (the articles an answer comes from), "
		       "!optout (I answer you only when you address me), !optin (undo that). "
		       "Add @name to an answer (on IRC, > name) to send it to someone.");
	if (moderator)
		buf_printf(&b,
			   "\n\nModerators: !reload (check the FAQ folder and use it), !test "
			   "TEXT (what would answer, without answering), !stats (counts, never "
			   "words), !mute and !unmute (FAQ answers in this room; crisis replies "
			   "always go out).");
	return buf_detach(&b);
}

static char *topics_text(const struct serve *s)
{
	struct buf b = serve_reply_buf();
	size_t i, n = 0;

	/* the questions, as members would ask them, each with the word that
	 * fetches it: a member reads questions, not ids */
	buf_printf(&b, "Questions I can answer. Ask in your own words, or type !faq and a few "
		       "words or the name in brackets:");
	for (i = 0; i < s->faq->nentries; i++)
		if (s->faq->entries[i].cls == FAQ_CLASS_FAQ)
			buf_printf(&b, "%s %s (%s)", n++ ? " ·" : "", s->faq->entries[i].question,
				   s->faq->entries[i].id);
	return buf_detach(&b);
}

/* word_in says whether the word w (wl bytes) appears in hay as a word or a
 * part of a hyphenated id, ignoring case. */
static int word_in(const char *hay, const char *w, size_t wl)
{
	const char *p;

	if (!hay)
		return 0;
	for (p = hay; *p; p++)
		if (strncasecmp(p, w, wl) == 0 &&
		    (p == hay || !((p[-1] | 0x20) >= 'a' && (p[-1] | 0x20) <= 'z')))
			return 1;
	return 0;
}

/* best_entry finds the answerable entry whose id, question and answer
 * share the most words of at least three letters with words (a word in the
 * id counts most, in the answer least). */
static const struct faq_entry *best_entry(const struct faq *faq, const char *words)
{
	const struct faq_entry *best = NULL;
	int best_score = 0;
	size_t i;

	for (i = 0; i < faq->nentries; i++) {
		const struct faq_entry *e = faq->by_priority[i];
		const char *p = words;
		int score = 0;

		if (e->cls != FAQ_CLASS_FAQ)
			continue;
		while (*p) {
			size_t wl = 0;

			while (*p && !((*p | 0x20) >= 'a' && (*p | 0x20) <= 'z'))
				p++;
			while (((p[wl] | 0x20) >= 'a' && (p[wl] | 0x20) <= 'z'))
				wl++;
			if (wl >= 3)
				score += 4 * word_in(e->id, p, wl) +
					 2 * word_in(e->question, p, wl) +
					 word_in(e->answer, p, wl);
			p += wl;
		}
		if (score > best_score) {
			best = e;
			best_score = score;
		}
	}
	return best;
}

static void reply_entry(struct serve *s, const struct tr_message *m, struct tr_reply *out,
			const struct faq_entry *e)
{
	char *text = bot_compose(s->faq, e, serve_room_region(s, m->room));

	serve_say(s, out, faq_class_name(e->cls), text);
	free(s->out_entry);
	s->out_entry = strdup(e->id);
	out->entry_id = s->out_entry;
	if (text)
		serve_count_entry(s, STATS_ANSWER, e);
}

static void cmd_faq(struct serve *s, const struct tr_message *m, const struct cmd *c,
		    struct tr_reply *out)
{
	const struct faq_entry *e;
	enum err err;

	if (!c->arg[0]) {
		serve_say(s, out, "faq", topics_text(s));
		return;
	}
	e = faq_find(s->faq, c->arg);
	if (e && (e->cls == FAQ_CLASS_FAQ || e->cls == FAQ_CLASS_ADVICE)) {
		reply_entry(s, m, out, e);
		return;
	}
	/* the words as a question put to the bot directly */
	err = serve_classify(s, m, c->arg, 1, 0);
	if (err == ERR_OK && s->last.matched && s->last.cls != FAQ_CLASS_QUESTION) {
		reply_entry(s, m, out, s->last.entry);
		return;
	}
	e = best_entry(s->faq, c->arg);
	if (e) {
		reply_entry(s, m, out, e);
		return;
	}
	serve_say(s, out, "faq",
		  strdup("I have no entry that fits those words. !faq lists the topics; the "
			 "moderators count questions I could not answer, to add entries."));
}

static void cmd_sources(struct serve *s, const struct cmd *c, struct tr_reply *out)
{
	const struct faq_entry *e = c->arg[0] ? faq_find(s->faq, c->arg) : NULL;
	struct buf b = serve_reply_buf();
	size_t i;

	if (!c->arg[0]) {
		serve_say(s, out, "faq",
			  strdup("Name an entry: !sources ketamine-safety (!faq lists them)."));
		return;
	}
	if (!e) {
		serve_say(s, out, "faq",
			  strdup("There is no entry with that id: !faq lists them."));
		return;
	}
	if (!e->nsources) {
		buf_printf(&b, "'%s' names no source article.", e->id);
	} else {
		buf_printf(&b, "The answer on '%s' is drawn from",
			   e->question ? e->question : e->id);
		for (i = 0; i < e->nsources; i++) {
			const char *title = faq_article_title(s->faq, e->sources[i]);

			/* the article's own title, which a member can look for;
			 * its file name only where the FAQ gives none */
			buf_printf(&b, "%s \u201c%s\u201d",
				   i == 0                 ? ""
				   : i + 1 == e->nsources ? " and"
							  : ",",
				   title ? title : e->sources[i]);
		}
		buf_printf(&b, " (reviewed %s).",
			   e->reviewed ? e->reviewed : "on no recorded date");
	}
	serve_say(s, out, "faq", buf_detach(&b));
}

static void cmd_test(struct serve *s, const struct tr_message *m, const struct cmd *c,
		     struct tr_reply *out)
{
	struct buf b = serve_reply_buf();
	char why[1024];
	enum err e;

	if (!c->arg[0]) {
		serve_say(s, out, "faq", strdup("Give a message to test: !test is ketamine safe?"));
		return;
	}
	/* as if a member had written it in this room, unaddressed */
	e = serve_classify(s, m, c->arg, m->direct, 0);
	if (e != ERR_OK)
		return;
	{
		struct bot_in in = {0};

		in.text = c->arg;
		in.len = strlen(c->arg);
		in.nick = m->bot_name;
		bot_explain(s->faq, &in, why, sizeof(why));
	}
	if (!s->last.matched) {
		buf_printf(&b, "none: no entry matches. It reads as %sa question%s. (%s)",
			   s->last.question ? "" : "not ",
			   s->last.question ? ", so it would be counted as unanswered in !stats"
					    : "",
			   why);
	} else {
		const struct faq_entry *en = s->last.entry;
		const struct faq_pattern *p = s->last.pattern;

		buf_printf(&b, "%s: %s", faq_class_name(en->cls), en->id);
		if (p)
			buf_printf(&b, ", pattern at %s:%u:%u", en->file, p->line, p->col);
		else
			buf_printf(&b, ", %s", why);
		if (en->cls == FAQ_CLASS_CRISIS)
			buf_printf(&b, ". A member writing this gets the crisis reply and the "
				       "moderators an alert, in any room.");
		else
			buf_printf(&b, ". Here it would %s (%s).",
				   s->last.reply ? "be answered" : "stay quiet",
				   s->last.reply ? (s->last.addressed ? "addressed"
						    : m->direct       ? "a direct message"
								      : "a question")
						 : "not a question and not addressed");
	}
	bot_out_release(&s->last);
	serve_say(s, out, "faq", buf_detach(&b));
}

static void list_counts(struct buf *b, const struct stats *st, enum stats_kind kind, long from,
			long to, size_t max)
{
	struct stats_count *v = NULL;
	size_t i, n = stats_collect(st, kind, from, to, &v);

	for (i = 0; i < n && i < max; i++)
		buf_printf(b, "%s %s %ld", i ? "," : "", v[i].key, v[i].n);
	if (n > max)
		buf_printf(b, ", and %zu more", n - max);
	if (!n)
		buf_printf(b, " none");
	free(v);
}

static void stats_block(struct buf *b, const struct serve *s, const char *title, long from, long to)
{
	buf_printf(b,
		   "%s: %ld answered (crisis %ld, advice %ld, faq %ld); %ld questions "
		   "unanswered; %ld matched but left alone (not a question).",
		   title, stats_total(s->st, STATS_ANSWER, from, to, ""),
		   stats_total(s->st, STATS_ANSWER, from, to, "crisis:"),
		   stats_total(s->st, STATS_ANSWER, from, to, "advice:"),
		   stats_total(s->st, STATS_ANSWER, from, to, "faq:"),
		   stats_total(s->st, STATS_UNANSWERED, from, to, ""),
		   stats_total(s->st, STATS_QUIET, from, to, ""));
	buf_printf(b, "\nBy entry:");
	list_counts(b, s->st, STATS_ANSWER, from, to, 12);
	buf_printf(b, ".\nUnanswered questions by room:");
	list_counts(b, s->st, STATS_UNANSWERED, from, to, 8);
	buf_printf(b, ".");
}

static char *stats_text(const struct serve *s)
{
	long today = stats_day(s->now()), mins = (long)(s->now() - s->started) / 60;
	size_t due = 0, lines_due = 0, d;
	struct buf b = serve_reply_buf();
	char title[64];

	snprintf(title, sizeof(title), "Since start (%ld h %02ld min ago)", mins / 60, mins % 60);
	stats_block(&b, s, title, -1, -1);
	buf_printf(&b, "\n\n");
	stats_block(&b, s, "Last 7 days", today - 6, today);
	buf_printf(&b, "\n\nUnanswered questions a day, last 7 days:");
	for (d = 7; d-- > 0;) {
		char day[16];
		time_t t = (time_t)(today - (long)d) * 86400;
		struct tm tm;

		gmtime_r(&t, &tm);
		strftime(day, sizeof(day), "%m-%d", &tm);
		buf_printf(
			&b, " %s %ld%s", day,
			stats_total(s->st, STATS_UNANSWERED, today - (long)d, today - (long)d, ""),
			d ? "," : ".");
	}
	check_due(s->faq, s->c.max_age_days, &due, &lines_due);
	buf_printf(&b,
		   "\n\nFreshness: %zu of %zu entries and %zu crisis line%s are due for review "
		   "(older than %d days, or a line not yet checked at its source).",
		   due, s->faq->nentries, lines_due, lines_due == 1 ? "" : "s", s->c.max_age_days);
	if (policy_count(s->pol, POLICY_MUTED) || policy_count(s->pol, POLICY_OPTED_OUT))
		buf_printf(&b, " Muted rooms: %zu. Members opted out: %zu.",
			   policy_count(s->pol, POLICY_MUTED),
			   policy_count(s->pol, POLICY_OPTED_OUT));
	return buf_detach(&b);
}

static void set_and_say(struct serve *s, struct tr_reply *out, enum policy_set set, const char *id,
			int on, const char *done)
{
	enum err e = policy_set(s->pol, set, id, on);

	if (e == ERR_OK)
		e = serve_save_policy(s);
	serve_say(s, out, "faq",
		  strdup(e == ERR_OK ? done
				     : "Sorry, I could not save that; the operator will find why "
				       "in the log."));
}

/* the key an unknown command's pointer to !help is remembered by, in the
 * cooldowns of FAQ entries (no entry id starts with '!') */
#define SERVE_UNKNOWN_KEY "!unknown"

/* cmd_unknown answers "!word" that is no command with a pointer to !help
 * (and to the command one letter away). The moderators' own talk in their
 * room may start with '!' for other bots; and a member who keeps trying
 * gets the pointer once a cooldown, not an argument. */
static void cmd_unknown(struct serve *s, const struct tr_message *m, const struct cmd *c,
			int addressed, struct tr_reply *out)
{
	const char *near = cmd_near(c->arg), *earlier = NULL;
	struct buf b;

	if (serve_is_mod_room(s, m->room) && !addressed) {
		s->quiet_why = "an unknown command in the moderators' room, not addressed to me";
		return;
	}
	if (policy_repeat(s->pol, m->room, SERVE_UNKNOWN_KEY, serve_member(m), s->now(),
			  &earlier) == POLICY_SILENT) {
		s->quiet_why = "an unknown command: this member was pointed to !help lately";
		return;
	}
	policy_answered(s->pol, m->room, SERVE_UNKNOWN_KEY, serve_member(m), m->event_id, s->now());
	b = serve_reply_buf();
	buf_printf(&b, "I have no command !%s.", c->arg);
	if (near)
		buf_printf(&b, " Did you mean !%s?", near);
	buf_printf(&b, " !help lists what I can do.");
	serve_say(s, out, "faq", buf_detach(&b));
}

/* cmd_reload: !reload's report to whoever asked, and a refused one to the
 * moderators' room too when asked elsewhere. */
static void cmd_reload(struct serve *s, const struct tr_message *m, struct tr_reply *out)
{
	char *report = NULL;
	enum err e = serve_reload(s, "!reload", &report);

	serve_say(s, out, "faq", report);
	if (e == ERR_INVALID && report && !serve_is_mod_room(s, m->room)) {
		free(s->out_mod);
		s->out_mod = strdup(report);
		out->mod_text = s->out_mod;
	}
}

void serve_command(struct serve *s, const struct tr_message *m, const struct cmd *c, int moderator,
		   int addressed, struct tr_reply *out)
{
	switch (c->kind) {
	case CMD_FAQ:
		cmd_faq(s, m, c, out);
		break;
	case CMD_CRISIS:
		serve_say(s, out, "crisis", helpline_render(s->faq, serve_room_region(s, m->room)));
		if (!out->text)
			serve_say(s, out, "crisis", helpline_render(s->faq, NULL));
		break;
	case CMD_HELP:
		serve_say(s, out, "faq", help_text(moderator));
		break;
	case CMD_SOURCES:
		cmd_sources(s, c, out);
		break;
	case CMD_OPTOUT:
		set_and_say(
			s, out, POLICY_OPTED_OUT, serve_member(m), 1,
			"Done: from now on I answer you only when you address me or write "
			"to me directly. If you write about being in crisis, I will still "
			"reply with crisis lines and alert the moderators. !optin undoes this.");
		break;
	case CMD_OPTIN:
		set_and_say(s, out, POLICY_OPTED_OUT, serve_member(m), 0,
			    "Done: I answer your questions again.");
		break;
	case CMD_MUTE:
		set_and_say(s, out, POLICY_MUTED, m->room, 1,
			    "FAQ answers are muted in this room. Crisis replies and alerts still "
			    "go out, and commands still work. !unmute undoes this.");
		break;
	case CMD_UNMUTE:
		set_and_say(s, out, POLICY_MUTED, m->room, 0,
			    "FAQ answers are back on in this room.");
		break;
	case CMD_RELOAD:
		cmd_reload(s, m, out);
		break;
	case CMD_TEST:
		cmd_test(s, m, c, out);
		break;
	case CMD_STATS:
		serve_say(s, out, "faq", stats_text(s));
		break;
	case CMD_UNKNOWN:
		cmd_unknown(s, m, c, addressed, out);
		break;
	case CMD_NONE:
		break;
	}
	if (c->target[0] && out->reply) {
		s->out_mention = strdup(c->target);
		out->mention = s->out_mention;
	}
}
