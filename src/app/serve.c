/* serve.c -- the running bot (see serve.h). */
#include "serve.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>
#include <dirent.h>

#include "bot.h"
#include "buf.h"
#include "check.h"
#include "clock.h"
#include "cmd.h"
#include "faq_learn.h"
#include "helpline.h"
#include "log.h"
#include "metrics.h"
#include "policy.h"
#include "recent.h"
#include "state.h"
#include "stats.h"
#include "strs.h"

#define STATS_FILE "stats.json"
#define POLICY_FILE "policy.json"
#define UNANSWERED_DIR "unanswered"
#define REPLY_MAX 8192 /* bytes of a composed command reply */

struct serve {
	struct serve_config c;
	struct recent *recent; /* members' last messages, memory only */
	char *faq_dir, *region, *state_dir, *mod_room, *mod_room2; /* owned copies */
	char **mods;
	size_t nmods;
	struct faq *faq;
	struct policy *pol;
	struct stats *st;
	time_t (*now)(void);
	time_t started, loaded, last_save, last_prune;
	int dirty;
	int ifd, iwd;        /* inotify, or -1 */
	long long change_ms; /* a change seen at (monotonic ms), 0: none pending */
	/* what the last handler or tick call handed out */
	struct bot_out last;
	char *out_text, *out_mod, *out_entry, *out_mention, *out_short;
	const char *quiet_why; /* static: why the last message got no reply */
};

static time_t wall_now(void)
{
	return time(NULL);
}

/* --- a growable reply, capped ------------------------------------------ */

/* reply_buf starts a command's reply: a long one (a report, the stats of
 * many rooms) is cut at REPLY_MAX, never unbounded and never lost. */
static struct buf reply_buf(void)
{
	struct buf b;

	buf_init_cut(&b, REPLY_MAX - 1);
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

static enum err save_policy(struct serve *s)
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

static void count_entry(struct serve *s, enum stats_kind kind, const struct faq_entry *e)
{
	char key[STATS_KEY_MAX];

	snprintf(key, sizeof(key), "%s:%s", faq_class_name(e->cls), e->id);
	count(s, kind, key);
}

/* --- unanswered questions' words, only when the operator asked ---------- */

static void keep_unanswered(struct serve *s, const struct tr_message *m)
{
	char dir[PATH_MAX], path[PATH_MAX + 32], day[16], stamp[32];
	time_t t = s->now();
	struct tm tm;
	const char *p;
	FILE *f;
	int fd;

	if (!s->c.keep_unanswered || !s->state_dir)
		return;
	gmtime_r(&t, &tm);
	strftime(day, sizeof(day), "%Y-%m-%d", &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", &tm);
	snprintf(dir, sizeof(dir), "%s/%s", s->state_dir, UNANSWERED_DIR);
	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		log_error("cannot make %s: %s", dir, strerror(errno));
		return;
	}
	if (snprintf(path, sizeof(path), "%s/%s.tsv", dir, day) >= (int)sizeof(path))
		return;
	/* 0600 from the first byte: only the bot's user reads members' words */
	fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0 || !(f = fdopen(fd, "a"))) {
		log_error("cannot write %s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return;
	}
	fprintf(f, "%s\t%s\t", stamp, m->room);
	for (p = m->text; *p && p - m->text < 4096; p++) /* one line, no tabs */
		fputc(*p == '\n' || *p == '\t' || *p == '\r' ? ' ' : *p, f);
	fputc('\n', f);
	fclose(f);
}

/* prune_unanswered removes the day files older than unanswered_days. */
static void prune_unanswered(struct serve *s)
{
	char dir[PATH_MAX];
	long today = stats_day(s->now());
	struct dirent *de;
	DIR *d;

	s->last_prune = s->now();
	if (!s->state_dir)
		return;
	snprintf(dir, sizeof(dir), "%s/%s", s->state_dir, UNANSWERED_DIR);
	d = opendir(dir);
	if (!d)
		return;
	while ((de = readdir(d))) {
		char path[PATH_MAX + 256], date[11];
		long day;

		/* only the day files keep_unanswered writes: YYYY-MM-DD.tsv */
		if (strlen(de->d_name) != 14 || strcmp(de->d_name + 10, ".tsv") != 0)
			continue;
		memcpy(date, de->d_name, 10);
		date[10] = '\0';
		day = stats_day_parse(date);
		if (day < 0 || today - day < s->c.unanswered_days)
			continue;
		if (snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) >= (int)sizeof(path))
			continue;
		if (unlink(path) == 0)
			log_info("unanswered: removed %s (older than %ld days)", de->d_name,
				 s->c.unanswered_days);
	}
	closedir(d);
}

/* --- the FAQ folder: watch and reload ----------------------------------- */

/* watch_add watches the FAQ folder for what an editor, a copy, git or a
 * ConfigMap swap does to it; the watch descriptor, or -1. */
static int watch_add(struct serve *s)
{
	s->iwd = inotify_add_watch(s->ifd, s->faq_dir,
				   IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_CREATE |
					   IN_DELETE | IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF);
	return s->iwd;
}

static void watch_start(struct serve *s)
{
	s->ifd = s->iwd = -1;
	if (!s->c.watch || !s->faq_dir)
		return;
	s->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (s->ifd < 0) {
		log_warn("cannot watch %s (%s): reload with SIGHUP or !reload", s->faq_dir,
			 strerror(errno));
		return;
	}
	if (watch_add(s) < 0)
		log_warn("cannot watch %s (%s): reload with SIGHUP or !reload", s->faq_dir,
			 strerror(errno));
}

static int faq_file_name(const char *name)
{
	size_t n = strlen(name);

	if (name[0] == '.') /* editors' swap and temp files */
		return 0;
	return (n > 4 && !strcmp(name + n - 4, ".yml")) ||
	       (n > 5 && !strcmp(name + n - 5, ".yaml"));
}

/* drain_events reads what inotify has and notes a change to a FAQ file
 * (or to the folder itself: a ConfigMap swap, a re-created folder). */
static void drain_events(struct serve *s)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	ssize_t n;

	if (s->ifd < 0)
		return;
	while ((n = read(s->ifd, buf, sizeof(buf))) > 0) {
		char *p = buf;

		while (p < buf + n) {
			const struct inotify_event *ev = (const struct inotify_event *)p;

			if ((ev->mask & (IN_Q_OVERFLOW | IN_DELETE_SELF | IN_MOVE_SELF |
					 IN_IGNORED)) ||
			    (ev->len && faq_file_name(ev->name)))
				s->change_ms = clock_mono_ms();
			if (ev->mask & (IN_DELETE_SELF | IN_MOVE_SELF | IN_IGNORED))
				s->iwd = -1; /* watched again after the reload */
			p += sizeof(*ev) + ev->len;
		}
	}
}

/* same_text: both NULL or equal. */
static int same_text(const char *a, const char *b)
{
	return (!a && !b) || (a && b && !strcmp(a, b));
}

static int entry_changed(const struct faq_entry *a, const struct faq_entry *b)
{
	size_t i;

	if (a->cls != b->cls || a->priority != b->priority || a->npatterns != b->npatterns ||
	    a->nnegations != b->nnegations || !same_text(a->answer, b->answer) ||
	    !same_text(a->question, b->question))
		return 1;
	for (i = 0; i < a->npatterns; i++)
		if (strcmp(a->patterns[i].src, b->patterns[i].src))
			return 1;
	for (i = 0; i < a->nnegations; i++)
		if (strcmp(a->negations[i].src, b->negations[i].src))
			return 1;
	return 0;
}

/* describe_change lists what differs between the old and the new FAQ. */
static void describe_change(struct buf *b, const struct faq *old, const struct faq *nf)
{
	size_t i, added = 0, removed = 0, changed = 0;

	for (i = 0; i < nf->nentries; i++) {
		const struct faq_entry *o = faq_find(old, nf->entries[i].id);

		if (!o)
			buf_printf(b, "%s %s", added++ ? "," : "; new:", nf->entries[i].id);
	}
	for (i = 0; i < old->nentries; i++)
		if (!faq_find(nf, old->entries[i].id))
			buf_printf(b, "%s %s", removed++ ? "," : "; removed:", old->entries[i].id);
	for (i = 0; i < nf->nentries; i++) {
		const struct faq_entry *o = faq_find(old, nf->entries[i].id);

		if (o && entry_changed(o, &nf->entries[i]))
			buf_printf(b, "%s %s", changed++ ? "," : "; changed:", nf->entries[i].id);
	}
	if (!added && !removed && !changed)
		buf_printf(b, "; no entry changed");
}

/* rooms_ok: every [room] region has crisis lines in the new FAQ, so no
 * room is left without them. */
static int rooms_ok(const struct serve *s, const struct faq *nf, struct faq_diags *d)
{
	size_t i;
	int ok = 1;

	if (s->region && !faq_region(nf, s->region)) {
		faq_diag_add(d, nf->lines_file, 1, 1, 0,
			     "no crisis lines for region '%s', which the bot uses", s->region);
		ok = 0;
	}
	for (i = 0; s->c.cfg && i < s->c.cfg->nroom; i++)
		if (s->c.cfg->room[i].region && !faq_region(nf, s->c.cfg->room[i].region)) {
			faq_diag_add(d, nf->lines_file, 1, 1, 0,
				     "no crisis lines for region '%s', which room %s uses",
				     s->c.cfg->room[i].region, s->c.cfg->room[i].id);
			ok = 0;
		}
	return ok;
}

/* count_due: the entries and crisis lines due for review, as a gauge. */
static void count_due(const struct serve *s)
{
	size_t due, lines_due;

	check_due(s->faq, s->c.max_age_days, &due, &lines_due);
	metrics_set(G_FAQ_DUE, (long long)(due + lines_due));
}

enum err serve_reload(struct serve *s, const char *why, char **report)
{
	struct check_opts co = {0};
	struct faq_diags d = {0};
	struct faq *nf = NULL;
	struct buf b = reply_buf();
	enum err e;
	size_t i, shown = 0;

	*report = NULL;
	co.max_age_days = s->c.max_age_days;
	/* a changed FAQ's learned stage is trained beside the loop: the new
	 * FAQ serves at once with the stage in use (faq_learn.h) */
	e = faq_learn_reload(s->faq_dir, s->faq, &nf, &d);
	if (e == ERR_OK)
		e = check_faq(nf, &co, &d);
	if (e == ERR_OK && (d.errors || !rooms_ok(s, nf, &d)))
		e = ERR_INVALID;
	if (e == ERR_NOMEM)
		goto out;
	if (e != ERR_OK) {
		char when[32];
		struct tm tm;

		gmtime_r(&s->loaded, &tm);
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M UTC", &tm);
		buf_printf(&b, "The FAQ in %s was not reloaded (%s): %zu error%s. The FAQ loaded %s "
			    "keeps serving. Fix, save, and it is checked again:", s->faq_dir, why,
			d.errors, d.errors == 1 ? "" : "s", when);
		for (i = 0; i < d.n; i++) {
			if (d.v[i].warning)
				continue;
			log_error("reload: %s:%u:%u: %s", d.v[i].file, d.v[i].line, d.v[i].col,
				  d.v[i].msg);
			/* a finding quotes whole patterns: the chat gets the start,
			 * faqbot check the rest */
			if (shown++ < SERVE_REPORT_MAX)
				buf_printf(&b, "\n%s:%u:%u: %.*s%s", d.v[i].file, d.v[i].line,
					d.v[i].col, SERVE_FINDING_MAX, d.v[i].msg,
					strlen(d.v[i].msg) > SERVE_FINDING_MAX ? "..." : "");
		}
		if (shown > SERVE_REPORT_MAX)
			buf_printf(&b, "\n(and %zu more: run faqbot check)", shown - SERVE_REPORT_MAX);
		log_error("reload refused (%s): %zu errors; the FAQ in use keeps serving", why,
			  d.errors);
		metrics_inc(M_RELOAD_REFUSED);
		faq_free(nf);
		e = ERR_INVALID;
		goto out;
	}
	faq_drop_examples(nf); /* check read them; serving does not */
	buf_printf(&b, "FAQ reloaded (%s): %zu entries", why, nf->nentries);
	describe_change(&b, s->faq, nf);
	if (d.warnings)
		buf_printf(&b, "; %zu warning%s (faqbot check shows them)", d.warnings,
			d.warnings == 1 ? "" : "s");
	buf_printf(&b, ".");
	log_info("reload (%s): %zu entries, %zu warnings", why, nf->nentries, d.warnings);
	/* the last reply may still point into the old store */
	bot_out_release(&s->last);
	memset(&s->last, 0, sizeof(s->last));
	faq_free(s->faq);
	s->faq = nf;
	s->loaded = s->now();
	metrics_inc(M_RELOAD_APPLIED);
	count_due(s);
out:
	faq_diags_release(&d);
	*report = buf_detach(&b);
	return e;
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

/* member_key: who a member is for opt-outs and cooldowns. */
static const char *member_key(const struct tr_message *m)
{
	return m->sender_account ? m->sender_account : m->sender ? m->sender : "";
}

static const char *room_region(const struct serve *s, const char *room)
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

static int is_mod_room(const struct serve *s, const char *room)
{
	return room && ((s->mod_room && !strcmp(s->mod_room, room)) ||
			(s->mod_room2 && !strcmp(s->mod_room2, room)));
}

/* --- the commands ------------------------------------------------------- */

static void say(struct serve *s, struct tr_reply *out, const char *kind, char *text)
{
	free(s->out_text);
	s->out_text = text;
	out->reply = text != NULL;
	out->kind = kind;
	out->text = text;
}

static char *help_text(int moderator)
{
	struct buf b = reply_buf();

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
		buf_printf(&b, "\n\nModerators: !reload (check the FAQ folder and use it), !test "
			    "TEXT (what would answer, without answering), !stats (counts, never "
			    "words), !mute and !unmute (FAQ answers in this room; crisis replies "
			    "always go out).");
	return buf_detach(&b);
}

static char *topics_text(const struct serve *s)
{
	struct buf b = reply_buf();
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
				score += 4 * word_in(e->id, p, wl) + 2 * word_in(e->question, p, wl) +
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
	char *text = bot_compose(s->faq, e, room_region(s, m->room));

	say(s, out, faq_class_name(e->cls), text);
	free(s->out_entry);
	s->out_entry = strdup(e->id);
	out->entry_id = s->out_entry;
	if (text)
		count_entry(s, STATS_ANSWER, e);
}

/* run_core classifies m's text in its room (the normal path) into s->last.
 * With context, the member's last messages in the room are read with it
 * (recent.h), and this one is kept for the next. */
static enum err run_core(struct serve *s, const struct tr_message *m, const char *text,
			 int direct, int context)
{
	struct bot_in in = {0};
	char *earlier = NULL;
	enum err e;

	bot_out_release(&s->last);
	if (context)
		earlier = recent_joined(s->recent, m->room, member_key(m), (long)s->now());
	in.text = text;
	in.len = strlen(text);
	in.direct = direct;
	in.mentioned = m->mentions_bot;
	in.nick = m->bot_name;
	in.region = room_region(s, m->room);
	in.policy = room_policy(s, m->room);
	in.context = earlier;
	e = bot_handle(s->faq, &in, &s->last);
	if (earlier) {
		memset(earlier, 0, strlen(earlier));
		free(earlier);
	}
	if (context && e == ERR_OK) {
		if (s->last.matched && s->last.cls == FAQ_CLASS_CRISIS)
			recent_forget(s->recent, m->room, member_key(m));
		else if (recent_add(s->recent, m->room, member_key(m), text, (long)s->now()) !=
			 ERR_OK)
			e = ERR_NOMEM;
	}
	return e;
}

static void cmd_faq(struct serve *s, const struct tr_message *m, const struct cmd *c,
		    struct tr_reply *out)
{
	const struct faq_entry *e;
	enum err err;

	if (!c->arg[0]) {
		say(s, out, "faq", topics_text(s));
		return;
	}
	e = faq_find(s->faq, c->arg);
	if (e && (e->cls == FAQ_CLASS_FAQ || e->cls == FAQ_CLASS_ADVICE)) {
		reply_entry(s, m, out, e);
		return;
	}
	/* the words as a question put to the bot directly */
	err = run_core(s, m, c->arg, 1, 0);
	if (err == ERR_OK && s->last.matched && s->last.cls != FAQ_CLASS_QUESTION) {
		reply_entry(s, m, out, s->last.entry);
		return;
	}
	e = best_entry(s->faq, c->arg);
	if (e) {
		reply_entry(s, m, out, e);
		return;
	}
	say(s, out, "faq",
	    strdup("I have no entry that fits those words. !faq lists the topics; the "
		   "moderators count questions I could not answer, to add entries."));
}

static void cmd_sources(struct serve *s, const struct cmd *c, struct tr_reply *out)
{
	const struct faq_entry *e = c->arg[0] ? faq_find(s->faq, c->arg) : NULL;
	struct buf b = reply_buf();
	size_t i;

	if (!c->arg[0]) {
		say(s, out, "faq",
		    strdup("Name an entry: !sources ketamine-safety (!faq lists them)."));
		return;
	}
	if (!e) {
		say(s, out, "faq", strdup("There is no entry with that id: !faq lists them."));
		return;
	}
	if (!e->nsources) {
		buf_printf(&b, "'%s' names no source article.", e->id);
	} else {
		buf_printf(&b, "The answer on '%s' is drawn from", e->question ? e->question : e->id);
		for (i = 0; i < e->nsources; i++) {
			const char *title = faq_article_title(s->faq, e->sources[i]);

			/* the article's own title, which a member can look for;
			 * its file name only where the FAQ gives none */
			buf_printf(&b, "%s \u201c%s\u201d", i == 0 ? "" : i + 1 == e->nsources ? " and" : ",",
				   title ? title : e->sources[i]);
		}
		buf_printf(&b, " (reviewed %s).", e->reviewed ? e->reviewed : "on no recorded date");
	}
	say(s, out, "faq", buf_detach(&b));
}

static void cmd_test(struct serve *s, const struct tr_message *m, const struct cmd *c,
		     struct tr_reply *out)
{
	struct buf b = reply_buf();
	char why[1024];
	enum err e;

	if (!c->arg[0]) {
		say(s, out, "faq", strdup("Give a message to test: !test is ketamine safe?"));
		return;
	}
	/* as if a member had written it in this room, unaddressed */
	e = run_core(s, m, c->arg, m->direct, 0);
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
			s->last.question ? ", so it would be counted as unanswered in !stats" : "",
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
						 : m->direct     ? "a direct message"
								 : "a question")
					      : "not a question and not addressed");
	}
	bot_out_release(&s->last);
	say(s, out, "faq", buf_detach(&b));
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

static void stats_block(struct buf *b, const struct serve *s, const char *title, long from,
			long to)
{
	buf_printf(b, "%s: %ld answered (crisis %ld, advice %ld, faq %ld); %ld questions "
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
	struct buf b = reply_buf();
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
		buf_printf(&b, " %s %ld%s", day,
			stats_total(s->st, STATS_UNANSWERED, today - (long)d, today - (long)d, ""),
			d ? "," : ".");
	}
	check_due(s->faq, s->c.max_age_days, &due, &lines_due);
	buf_printf(&b, "\n\nFreshness: %zu of %zu entries and %zu crisis line%s are due for review "
		    "(older than %d days, or a line not yet checked at its source).",
		due, s->faq->nentries, lines_due, lines_due == 1 ? "" : "s", s->c.max_age_days);
	if (policy_count(s->pol, POLICY_MUTED) || policy_count(s->pol, POLICY_OPTED_OUT))
		buf_printf(&b, " Muted rooms: %zu. Members opted out: %zu.",
			policy_count(s->pol, POLICY_MUTED), policy_count(s->pol, POLICY_OPTED_OUT));
	return buf_detach(&b);
}

static void set_and_say(struct serve *s, struct tr_reply *out, enum policy_set set,
			const char *id, int on, const char *done)
{
	enum err e = policy_set(s->pol, set, id, on);

	if (e == ERR_OK)
		e = save_policy(s);
	say(s, out, "faq",
	    strdup(e == ERR_OK ? done
			       : "Sorry, I could not save that; the operator will find why in "
				 "the log."));
}

/* do_command acts on a command from m (the crisis check came first). */
/* the key an unknown command's pointer to !help is remembered by, in the
 * cooldowns of FAQ entries (no entry id starts with '!') */
#define SERVE_UNKNOWN_KEY "!unknown"

static void do_command(struct serve *s, const struct tr_message *m, const struct cmd *c,
		       int moderator, int addressed, struct tr_reply *out)
{
	char *report = NULL;

	switch (c->kind) {
	case CMD_FAQ:
		cmd_faq(s, m, c, out);
		break;
	case CMD_CRISIS:
		say(s, out, "crisis", helpline_render(s->faq, room_region(s, m->room)));
		if (!out->text)
			say(s, out, "crisis", helpline_render(s->faq, NULL));
		break;
	case CMD_HELP:
		say(s, out, "faq", help_text(moderator));
		break;
	case CMD_SOURCES:
		cmd_sources(s, c, out);
		break;
	case CMD_OPTOUT:
		set_and_say(s, out, POLICY_OPTED_OUT, member_key(m), 1,
			    "Done: from now on I answer you only when you address me or write "
			    "to me directly. If you write about being in crisis, I will still "
			    "reply with crisis lines and alert the moderators. !optin undoes this.");
		break;
	case CMD_OPTIN:
		set_and_say(s, out, POLICY_OPTED_OUT, member_key(m), 0,
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
	case CMD_RELOAD: {
		enum err e = serve_reload(s, "!reload", &report);

		say(s, out, "faq", report);
		if (e == ERR_INVALID && report && !is_mod_room(s, m->room)) {
			free(s->out_mod);
			s->out_mod = strdup(report);
			out->mod_text = s->out_mod;
		}
		break;
	}
	case CMD_TEST:
		cmd_test(s, m, c, out);
		break;
	case CMD_STATS:
		say(s, out, "faq", stats_text(s));
		break;
	case CMD_UNKNOWN: {
		const char *near = cmd_near(c->arg), *earlier = NULL;
		struct buf b;

		/* the moderators' own talk there may start with '!' for other
		 * bots; and a member who keeps trying gets the pointer once a
		 * cooldown, not an argument */
		if (is_mod_room(s, m->room) && !addressed) {
			s->quiet_why = "an unknown command in the moderators' room, not addressed to me";
			break;
		}
		if (policy_repeat(s->pol, m->room, SERVE_UNKNOWN_KEY, member_key(m), s->now(),
				  &earlier) == POLICY_SILENT) {
			s->quiet_why = "an unknown command: this member was pointed to !help lately";
			break;
		}
		policy_answered(s->pol, m->room, SERVE_UNKNOWN_KEY, member_key(m), m->event_id,
				s->now());
		b = reply_buf();
		buf_printf(&b, "I have no command !%s.", c->arg);
		if (near)
			buf_printf(&b, " Did you mean !%s?", near);
		buf_printf(&b, " !help lists what I can do.");
		say(s, out, "faq", buf_detach(&b));
		break;
	}
	case CMD_NONE:
		break;
	}
	if (c->target[0] && out->reply) {
		s->out_mention = strdup(c->target);
		out->mention = s->out_mention;
	}
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
	count_entry(s, STATS_ANSWER, s->last.entry);
	log_info("crisis room=%s id=%s", m->room, s->last.entry->id);
}

/* class_metric: the messages counter of what the core made of one. */
static enum metric class_metric(const struct bot_out *o)
{
	if (!o->matched)
		return M_MSG_NONE;
	return o->cls == FAQ_CLASS_CRISIS ? M_MSG_CRISIS
	       : o->cls == FAQ_CLASS_ADVICE ? M_MSG_ADVICE
	       : o->cls == FAQ_CLASS_FAQ    ? M_MSG_FAQ
					    : M_MSG_NONE;
}

static enum err handle(struct serve *s, const struct tr_message *m, struct tr_reply *out)
{
	struct cmd c;
	int moderator, opted_out, addressed;
	const char *earlier = NULL;
	enum err e;

	release_out(s);
	s->quiet_why = NULL;
	cmd_parse(m->text, strlen(m->text), &c);
	addressed = m->direct || m->mentions_bot;
	if (c.kind == CMD_NONE && m->bot_name) { /* "faqbot: !faq tms" */
		size_t nl = strlen(m->bot_name);

		if (!strncasecmp(m->text, m->bot_name, nl) &&
		    (m->text[nl] == ':' || m->text[nl] == ',')) {
			cmd_parse(m->text + nl + 1, strlen(m->text + nl + 1), &c);
			addressed = 1;
		}
	}
	moderator = is_moderator(s, m);
	/* the moderators' room is for their talk and their commands: the bot
	 * neither answers nor alerts on what they discuss there */
	if (is_mod_room(s, m->room) && c.kind == CMD_NONE) {
		s->quiet_why = "the moderators' room: commands only";
		return ERR_OK;
	}
	/* a moderator's !test of crisis words is a test, not a crisis */
	if (!(c.kind == CMD_TEST && moderator)) {
		e = run_core(s, m, m->text, m->direct, c.kind == CMD_NONE);
		if (e != ERR_OK)
			return e;
		if (c.kind == CMD_NONE || (s->last.matched && s->last.cls == FAQ_CLASS_CRISIS))
			metrics_inc(class_metric(&s->last));
		if (s->last.matched && s->last.cls == FAQ_CLASS_CRISIS) {
			answer_crisis(s, m, out);
			return ERR_OK;
		}
	}
	if (c.kind != CMD_NONE) {
		bot_out_release(&s->last);
		log_info("command room=%s cmd=%s%s", m->room, cmd_name(c.kind),
			 cmd_is_moderators(c.kind) && !moderator ? " refused" : "");
		if (cmd_is_moderators(c.kind) && !moderator) {
			/* one short refusal a member, then silence: no arguing loop */
			if (!policy_has(s->pol, POLICY_REFUSED, member_key(m))) {
				policy_set(s->pol, POLICY_REFUSED, member_key(m), 1);
				say(s, out, "faq",
				    strdup("Sorry, that command is for the group's moderators. !help "
					   "shows what I can do for you."));
			} else {
				s->quiet_why = "a moderators' command, refused once already";
			}
			return ERR_OK;
		}
		do_command(s, m, &c, moderator, addressed, out);
		return ERR_OK;
	}
	if (!s->last.matched) {
		if (s->last.question) {
			count(s, STATS_UNANSWERED, m->room);
			keep_unanswered(s, m);
			s->quiet_why = "no FAQ entry matches this question (counted in !stats)";
		} else {
			s->quiet_why = "this reads as chat, not a question";
		}
		return ERR_OK;
	}
	if (s->last.cls == FAQ_CLASS_QUESTION)
		return ERR_OK;
	opted_out = policy_has(s->pol, POLICY_OPTED_OUT, member_key(m));
	s->quiet_why = "not a question, and not addressed to the bot";
	if (s->last.reply && opted_out && !m->direct && !s->last.addressed) {
		s->last.reply = 0;
		s->quiet_why = "the member opted out and did not address the bot";
	}
	if (s->last.reply && policy_has(s->pol, POLICY_MUTED, m->room)) {
		s->last.reply = 0;
		s->quiet_why = "FAQ answers are muted in this room";
	}
	if (!s->last.reply) {
		count_entry(s, STATS_QUIET, s->last.entry);
		log_info("quiet room=%s class=%s id=%s", m->room, bot_kind_name(&s->last),
			 s->last.entry->id);
		return ERR_OK;
	}
	out->kind = bot_kind_name(&s->last);
	s->out_entry = strdup(s->last.entry->id);
	out->entry_id = s->out_entry;
	switch (policy_repeat(s->pol, m->room, s->last.entry->id, member_key(m), s->now(),
			      &earlier)) {
	case POLICY_SILENT:
		log_info("repeat room=%s id=%s (answered lately: silent)", m->room,
			 s->last.entry->id);
		s->quiet_why = "this member had this answer moments ago";
		count_entry(s, STATS_QUIET, s->last.entry);
		return ERR_OK;
	case POLICY_POINTER: {
		struct buf b = reply_buf();

		buf_printf(&b, "I answered that here a few minutes ago (%s): see my reply above. "
			    "!faq %s shows it again.", s->last.entry->id, s->last.entry->id);
		s->quiet_why = NULL;
		say(s, out, out->kind, buf_detach(&b));
		out->entry_id = s->out_entry;
		out->see_event = earlier;
		policy_pointed(s->pol, m->room, s->last.entry->id, member_key(m), s->now());
		count_entry(s, STATS_ANSWER, s->last.entry);
		return ERR_OK;
	}
	case POLICY_FRESH:
		break;
	}
	s->quiet_why = NULL;
	out->reply = 1;
	out->text = s->last.text;
	if (s->last.cls == FAQ_CLASS_FAQ && s->last.entry->short_answer) {
		/* a copy: the store may be replaced by a reload before the
		 * transport is done with the reply */
		s->out_short = strdup(s->last.entry->short_answer);
		out->short_text = s->out_short;
	}
	count_entry(s, STATS_ANSWER, s->last.entry);
	policy_answered(s->pol, m->room, s->last.entry->id, member_key(m), m->event_id, s->now());
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
	drain_events(s);
	if (s->c.watch && s->ifd >= 0 && s->iwd < 0 && !s->change_ms) {
		/* the folder went away or was replaced: watch it again */
		if (watch_add(s) >= 0)
			s->change_ms = clock_mono_ms();
	}
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
		prune_unanswered(s);
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
	watch_start(s);
	count_due(s);
	if (s->c.keep_unanswered)
		prune_unanswered(s);
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
