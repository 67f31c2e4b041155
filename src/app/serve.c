/* serve.c -- the running bot (see serve.h): its state folder, who may do
 * what, and the pipeline a message goes through; the commands, the reload
 * and the unanswered files are its other parts (serve_int.h). */
#include "serve.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "clock.h"
#include "faq_learn.h"
#include "log.h"
#include "metrics.h"
#include "serve_int.h"
#include "state.h"
#include "strs.h"

#define STATS_FILE  "stats.json"
#define POLICY_FILE "policy.json"

static time_t wall_now(void)
{
	return time(NULL);
}

/* --- a growable reply, capped ------------------------------------------ */

struct buf serve_reply_buf(void)
{
	struct buf b;

	buf_init_cut(&b, SERVE_REPLY_MAX - 1);
	return b;
}

/* --- persistence ------------------------------------------------------- */

/* set_aside renames a state file faqbot cannot read to NAME.bad, so that
 * the next save does not destroy what a person might still recover. */
static void set_aside(const struct serve *s, const char *name)
{
	char from[4096], to[4096];

	snprintf(from, sizeof(from), "%s/%s", s->state_dir, name);
	snprintf(to, sizeof(to), "%s/%s.bad", s->state_dir, name);
	if (rename(from, to) == 0)
		log_warn("%s is not what faqbot writes: kept as %s, starting afresh", from, to);
	else
		log_warn("%s is not what faqbot writes: starting afresh", from);
}

static void load_state(struct serve *s)
{
	static const char *const names[] = {STATS_FILE, POLICY_FILE};
	size_t i;

	if (!s->state_dir)
		return;
	for (i = 0; i < 2; i++) {
		char *text = NULL;
		size_t len = 0, bad = 0;
		enum err e = state_read(s->state_dir, names[i], &text, &len);

		if (e == ERR_OK)
			e = i == 0 ? stats_from_json(s->st, text, len, &bad)
				   : policy_from_json(s->pol, text, len, &bad);
		free(text);
		if (e == ERR_PARSE || e == ERR_LIMIT)
			set_aside(s, names[i]);
		else if (e != ERR_OK && e != ERR_NOTFOUND)
			log_warn("%s/%s: %s: starting afresh", s->state_dir, names[i], err_str(e));
		else if (bad)
			log_warn("%s/%s: %zu item(s) that faqbot does not write were skipped",
				 s->state_dir, names[i], bad);
	}
}

enum err serve_save_policy(struct serve *s)
{
	char *text;
	enum err e;

	if (!s->state_dir)
		return ERR_OK;
	text = policy_to_json(s->pol);
	if (!text)
		return ERR_NOMEM;
	e = state_write(s->state_dir, POLICY_FILE, text, strlen(text), 0600);
	if (e != ERR_OK)
		log_error("cannot save %s/%s: %s", s->state_dir, POLICY_FILE, err_str(e));
	free(text);
	return e;
}

enum err serve_save(struct serve *s)
{
	char *text;
	enum err e;

	s->last_save = s->now();
	if (!s->state_dir || !s->dirty)
		return ERR_OK;
	text = stats_to_json(s->st, stats_day(s->now()) - s->c.stats_days + 1);
	if (!text)
		return ERR_NOMEM;
	e = state_write(s->state_dir, STATS_FILE, text, strlen(text), 0600);
	if (e == ERR_OK)
		s->dirty = 0;
	else
		log_error("cannot save %s/%s: %s", s->state_dir, STATS_FILE, err_str(e));
	free(text);
	return e;
}

static void count(struct serve *s, enum stats_kind kind, const char *key)
{
	if (stats_add(s->st, stats_day(s->now()), kind, key) == ERR_OK)
		s->dirty = 1;
}

void serve_count_entry(struct serve *s, enum stats_kind kind, const struct faq_entry *e)
{
	char key[STATS_KEY_MAX];

	snprintf(key, sizeof(key), "%s:%s", faq_class_name(e->cls), e->id);
	count(s, kind, key);
}

/* --- who may do what ---------------------------------------------------- */

static int is_moderator(const struct serve *s, const struct tr_message *m)
{
	size_t i;

	if (s->c.everyone_moderates)
		return 1;
	if (m->sender_account)
		for (i = 0; i < s->nmods; i++)
			if (!strcmp(s->mods[i], m->sender_account))
				return 1;
	return s->c.moderator_power > 0 && m->sender_power >= s->c.moderator_power;
}

const char *serve_member(const struct tr_message *m)
{
	return m->sender_account ? m->sender_account : m->sender ? m->sender : "";
}

const char *serve_room_region(const struct serve *s, const char *room)
{
	const struct config_room *r = s->c.cfg && room ? config_room(s->c.cfg, room) : NULL;

	return r && r->region ? r->region : s->region;
}

static enum bot_policy room_policy(const struct serve *s, const char *room)
{
	const struct config_room *r = s->c.cfg && room ? config_room(s->c.cfg, room) : NULL;

	return (r ? r->policy : s->c.policy) == CONFIG_POLICY_MENTIONS ? BOT_ANSWER_MENTIONS
								       : BOT_ANSWER_QUESTIONS;
}

int serve_is_mod_room(const struct serve *s, const char *room)
{
	return room && ((s->mod_room && !strcmp(s->mod_room, room)) ||
			(s->mod_room2 && !strcmp(s->mod_room2, room)));
}

/* --- the reply and the core ------------------------------------------- */

void serve_say(struct serve *s, struct tr_reply *out, const char *kind, char *text)
{
	free(s->out_text);
	s->out_text = text;
	out->reply = text != NULL;
	out->kind = kind;
	out->text = text;
}

/* classify_only: serve_classify's reading, which changes nothing but
 * s->last (the member's last messages are read, not added to). */
static enum err classify_only(struct serve *s, const struct tr_message *m, const char *text,
			      int direct, int context)
{
	struct bot_in in = {0};
	char *earlier = NULL;
	enum err e;

	bot_out_release(&s->last);
	if (context)
		earlier = recent_joined(s->recent, m->room, serve_member(m), (long)s->now());
	in.text = text;
	in.len = strlen(text);
	in.direct = direct;
	in.mentioned = m->mentions_bot;
	in.nick = m->bot_name;
	in.region = serve_room_region(s, m->room);
	in.policy = room_policy(s, m->room);
	in.context = earlier;
	e = bot_handle(s->faq, &in, &s->last);
	if (earlier) {
		memset(earlier, 0, strlen(earlier));
		free(earlier);
	}
	return e;
}

/* remember keeps (or, after a crisis, forgets) the member's last messages
 * in the room, once s->last holds what text was classified as. */
static enum err remember(struct serve *s, const struct tr_message *m, const char *text)
{
	if (s->last.matched && s->last.cls == FAQ_CLASS_CRISIS)
		recent_forget(s->recent, m->room, serve_member(m));
	else if (recent_add(s->recent, m->room, serve_member(m), text, (long)s->now()) != ERR_OK)
		return ERR_NOMEM;
	return ERR_OK;
}

enum err serve_classify(struct serve *s, const struct tr_message *m, const char *text, int direct,
			int context)
{
	enum err e = classify_only(s, m, text, direct, context);

	return context && e == ERR_OK ? remember(s, m, text) : e;
}

/* --- the handler -------------------------------------------------------- */

static void release_out(struct serve *s)
{
	bot_out_release(&s->last);
	free(s->out_text);
	free(s->out_mod);
	free(s->out_entry);
	free(s->out_mention);
	free(s->out_short);
	s->out_text = s->out_mod = s->out_entry = s->out_mention = s->out_short = NULL;
}

/* answer_crisis hands out s->last, a crisis, whatever else holds. */
static void answer_crisis(struct serve *s, const struct tr_message *m, struct tr_reply *out)
{
	out->reply = 1;
	out->alert_moderators = 1;
	out->kind = "crisis";
	s->out_entry = strdup(s->last.entry->id);
	out->entry_id = s->out_entry;
	out->text = s->last.text;
	serve_count_entry(s, STATS_ANSWER, s->last.entry);
	log_info("crisis room=%s id=%s", m->room, s->last.entry->id);
}

/* class_metric: the messages counter of what the core made of one. */
static enum metric class_metric(const struct bot_out *o)
{
	if (!o->matched)
		return M_MSG_NONE;
	return o->cls == FAQ_CLASS_CRISIS   ? M_MSG_CRISIS
	       : o->cls == FAQ_CLASS_ADVICE ? M_MSG_ADVICE
	       : o->cls == FAQ_CLASS_FAQ    ? M_MSG_FAQ
					    : M_MSG_NONE;
}

/* parse_command reads m as a command, also after the bot's name
 * ("faqbot: !faq tms"); *addressed: m addresses the bot. */
static void parse_command(const struct tr_message *m, struct cmd *c, int *addressed)
{
	cmd_parse(m->text, strlen(m->text), c);
	*addressed = m->direct || m->mentions_bot;
	if (c->kind == CMD_NONE && m->bot_name) {
		size_t nl = strlen(m->bot_name);

		if (!strncasecmp(m->text, m->bot_name, nl) &&
		    (m->text[nl] == ':' || m->text[nl] == ',')) {
			cmd_parse(m->text + nl + 1, strlen(m->text + nl + 1), c);
			*addressed = 1;
		}
	}
}

/* command runs c, the crisis check done: a moderators' command from a
 * member gets one short refusal a member, then silence (no arguing loop). */
static void command(struct serve *s, const struct tr_message *m, const struct cmd *c, int moderator,
		    int addressed, struct tr_reply *out)
{
	bot_out_release(&s->last);
	log_info("command room=%s cmd=%s%s", m->room, cmd_name(c->kind),
		 cmd_is_moderators(c->kind) && !moderator ? " refused" : "");
	if (!cmd_is_moderators(c->kind) || moderator) {
		serve_command(s, m, c, moderator, addressed, out);
		return;
	}
	if (!policy_has(s->pol, POLICY_REFUSED, serve_member(m))) {
		policy_set(s->pol, POLICY_REFUSED, serve_member(m), 1);
		serve_say(s, out, "faq",
			  strdup("Sorry, that command is for the group's moderators. !help "
				 "shows what I can do for you."));
	} else {
		s->quiet_why = "a moderators' command, refused once already";
	}
}

/* unmatched: no entry answers m; a question is counted (and its words kept
 * where the operator asked), chat is not. */
static void unmatched(struct serve *s, const struct tr_message *m)
{
	if (s->last.question) {
		count(s, STATS_UNANSWERED, m->room);
		serve_unanswered_keep(s, m);
		s->quiet_why = "no FAQ entry matches this question (counted in !stats)";
	} else {
		s->quiet_why = "this reads as chat, not a question";
	}
}

/* answer hands out s->last, an advice or FAQ answer, as the room's policy
 * has it (policy_decide: opt-outs, mutes, cooldowns). */
static void answer(struct serve *s, const struct tr_message *m, struct tr_reply *out)
{
	struct policy_ask ask;
	const char *earlier = NULL;
	enum policy_verdict v;

	ask.room = m->room;
	ask.member = serve_member(m);
	ask.entry = s->last.entry->id;
	ask.reply = s->last.reply;
	ask.direct = m->direct;
	ask.addressed = s->last.addressed;
	ask.now = s->now();
	v = policy_decide(s->pol, &ask, &s->quiet_why, &earlier);
	if (v == POLICY_VERDICT_QUIET) {
		s->last.reply = 0;
		serve_count_entry(s, STATS_QUIET, s->last.entry);
		log_info("quiet room=%s class=%s id=%s", m->room, bot_kind_name(&s->last),
			 s->last.entry->id);
		return;
	}
	out->kind = bot_kind_name(&s->last);
	s->out_entry = strdup(s->last.entry->id);
	out->entry_id = s->out_entry;
	if (v == POLICY_VERDICT_SILENT) {
		log_info("repeat room=%s id=%s (answered lately: silent)", m->room,
			 s->last.entry->id);
		serve_count_entry(s, STATS_QUIET, s->last.entry);
		return;
	}
	if (v == POLICY_VERDICT_POINTER) {
		struct buf b = serve_reply_buf();

		buf_printf(&b,
			   "I answered that here a few minutes ago (%s): see my reply above. "
			   "!faq %s shows it again.",
			   s->last.entry->id, s->last.entry->id);
		serve_say(s, out, out->kind, buf_detach(&b));
		out->entry_id = s->out_entry;
		out->see_event = earlier;
		policy_pointed(s->pol, m->room, s->last.entry->id, serve_member(m), s->now());
		serve_count_entry(s, STATS_ANSWER, s->last.entry);
		return;
	}
	out->reply = 1;
	out->text = s->last.text;
	if (s->last.cls == FAQ_CLASS_FAQ && s->last.entry->short_answer) {
		/* a copy: the store may be replaced by a reload before the
		 * transport is done with the reply */
		s->out_short = strdup(s->last.entry->short_answer);
		out->short_text = s->out_short;
	}
	serve_count_entry(s, STATS_ANSWER, s->last.entry);
	policy_answered(s->pol, m->room, s->last.entry->id, serve_member(m), m->event_id, s->now());
}

/* handle_early: m before the network knows its facts (the room's size,
 * the sender's power level; transport.h). Those decide whether and how to
 * answer, and whether a moderator's !test is a test, never whether a
 * member's message is a crisis: a crisis is answered now, like any other;
 * anything else is left untouched (nothing counted, kept or answered) to
 * be handled whole once the facts are in. */
static enum err handle_early(struct serve *s, const struct tr_message *m, const struct cmd *c,
			     struct tr_reply *out)
{
	enum err e;

	out->wait_facts = 1;
	if (c->kind == CMD_TEST)
		return ERR_OK; /* a test or a crisis: the sender's level says */
	/* one that cannot be read now is read again with its facts */
	e = classify_only(s, m, m->text, m->direct, c->kind == CMD_NONE);
	if (e != ERR_OK || !s->last.matched || s->last.cls != FAQ_CLASS_CRISIS) {
		bot_out_release(&s->last);
		return ERR_OK;
	}
	out->wait_facts = 0;
	if (c->kind == CMD_NONE)
		e = remember(s, m, m->text);
	if (e != ERR_OK)
		return e;
	metrics_inc(class_metric(&s->last));
	answer_crisis(s, m, out);
	return ERR_OK;
}

/* handle: the pipeline. A crisis gets its reply and alert whatever else
 * holds; then commands; then an advice or FAQ answer, as policy rules. */
static enum err handle(struct serve *s, const struct tr_message *m, struct tr_reply *out)
{
	struct cmd c;
	int moderator, addressed;
	enum err e;

	release_out(s);
	s->quiet_why = NULL;
	parse_command(m, &c, &addressed);
	moderator = is_moderator(s, m);
	/* the moderators' room is for their talk and their commands: the bot
	 * neither answers nor alerts on what they discuss there */
	if (serve_is_mod_room(s, m->room) && c.kind == CMD_NONE) {
		s->quiet_why = "the moderators' room: commands only";
		return ERR_OK;
	}
	if (m->facts_pending)
		return handle_early(s, m, &c, out);
	/* a moderator's !test of crisis words is a test, not a crisis */
	if (!(c.kind == CMD_TEST && moderator)) {
		e = serve_classify(s, m, m->text, m->direct, c.kind == CMD_NONE);
		if (e != ERR_OK)
			return e;
		if (c.kind == CMD_NONE || (s->last.matched && s->last.cls == FAQ_CLASS_CRISIS))
			metrics_inc(class_metric(&s->last));
		if (s->last.matched && s->last.cls == FAQ_CLASS_CRISIS) {
			answer_crisis(s, m, out);
			return ERR_OK;
		}
	}
	if (c.kind != CMD_NONE)
		command(s, m, &c, moderator, addressed, out);
	else if (!s->last.matched)
		unmatched(s, m);
	else if (s->last.cls != FAQ_CLASS_QUESTION)
		answer(s, m, out);
	return ERR_OK;
}

enum err serve_handle(void *ctx, const struct tr_message *m, struct tr_reply *out)
{
	struct serve *s = ctx;
	enum err e = handle(s, m, out);

	out->quiet_why = out->reply ? NULL : s->quiet_why;
	return e;
}

/* The FAQ folder is reloaded once it has been quiet for debounce_ms (an
 * editor or git writes several files in a row). The tick never waits for
 * that quiet: serve_next_ms gives the loop the moment to tick again. */
enum err serve_tick(void *ctx, struct tr_notice *out)
{
	struct serve *s = ctx;
	char *report = NULL;
	enum err e;
	int why_signal = s->c.reload_flag && *s->c.reload_flag;

	release_out(s);
	serve_watch_poll(s);
	if (why_signal || (s->change_ms && clock_mono_ms() - s->change_ms >= s->c.debounce_ms)) {
		if (why_signal)
			*s->c.reload_flag = 0;
		s->change_ms = 0;
		e = serve_reload(s, why_signal ? "SIGHUP" : "a file changed", &report);
		if (e == ERR_NOMEM)
			return e;
		s->out_mod = report;
		out->mod_text = report;
	}
	if (s->faq->stage_pending && !faq_learn_training()) {
		/* the stage trained for the FAQ in use is ready: take it in
		 * quietly (the moderators heard of the edit when it went live);
		 * once: if that load fails, the FAQ in use keeps its stage */
		s->faq->stage_pending = 0;
		e = serve_reload(s, "its learned stage is ready", &report);
		if (e == ERR_NOMEM)
			return e;
		free(report);
		report = NULL;
	}
	if (s->dirty && s->now() - s->last_save >= SERVE_SAVE_EVERY_S)
		serve_save(s);
	if (s->c.keep_unanswered && s->now() - s->last_prune >= 3600)
		serve_unanswered_prune(s);
	return ERR_OK;
}

const char *serve_quiet_why(const struct serve *s)
{
	return s->quiet_why;
}

long long serve_next_ms(const void *ctx)
{
	const struct serve *s = ctx;

	return s->change_ms ? s->change_ms + s->c.debounce_ms : -1;
}

int serve_wake_fd(const struct serve *s)
{
	return s->ifd;
}

const struct faq *serve_faq(const struct serve *s)
{
	return s->faq;
}

void serve_set_clock(struct serve *s, time_t (*now)(void))
{
	s->now = now;
	s->started = s->loaded = s->last_save = s->last_prune = now();
}

enum err serve_new(const struct serve_config *c, struct faq *faq, struct serve **out, char *err,
		   size_t errlen)
{
	struct serve *s = calloc(1, sizeof(*s));
	int failed = 0;
	size_t i;

	*out = NULL;
	if (!s) {
		faq_free(faq);
		snprintf(err, errlen, "out of memory");
		return ERR_NOMEM;
	}
	s->c = *c;
	s->faq = faq;
	s->ifd = s->iwd = -1;
	s->faq_dir = strs_dup_or_null(c->faq_dir, &failed);
	s->region = strs_dup_or_null(c->region, &failed);
	s->state_dir = strs_dup_or_null(c->state_dir, &failed);
	s->mod_room = strs_dup_or_null(c->mod_room, &failed);
	s->mod_room2 = strs_dup_or_null(c->mod_room2, &failed);
	s->mods = calloc(c->n_moderators ? c->n_moderators : 1, sizeof(char *));
	s->pol = policy_new(c->cooldown_s);
	s->st = stats_new();
	s->recent = recent_new();
	if (!s->mods || !s->pol || !s->st || !s->recent || failed)
		goto nomem;
	for (i = 0; i < c->n_moderators; i++) {
		s->mods[i] = strdup(c->moderators[i]);
		if (!s->mods[i])
			goto nomem;
		s->nmods++;
	}
	if (s->c.stats_days <= 0)
		s->c.stats_days = CONFIG_STATS_DAYS;
	if (s->c.unanswered_days <= 0)
		s->c.unanswered_days = CONFIG_UNANSWERED_DAYS;
	if (s->state_dir && state_dir_prepare(s->state_dir, err, errlen) != ERR_OK) {
		serve_free(s);
		return ERR_IO;
	}
	serve_set_clock(s, wall_now);
	load_state(s);
	serve_watch_start(s);
	serve_count_due(s);
	if (s->c.keep_unanswered)
		serve_unanswered_prune(s);
	*out = s;
	return ERR_OK;
nomem:
	serve_free(s);
	snprintf(err, errlen, "out of memory");
	return ERR_NOMEM;
}

void serve_free(struct serve *s)
{
	size_t i;

	if (!s)
		return;
	release_out(s);
	if (s->ifd >= 0)
		close(s->ifd);
	for (i = 0; i < s->nmods; i++)
		free(s->mods[i]);
	free(s->mods);
	policy_free(s->pol);
	stats_free(s->st);
	recent_free(s->recent);
	faq_free(s->faq);
	free(s->faq_dir);
	free(s->region);
	free(s->state_dir);
	free(s->mod_room);
	free(s->mod_room2);
	free(s);
}
