/* serve_reload.c -- the FAQ folder watched and reloaded (serve_int.h): a
 * change seen by inotify (or SIGHUP, or !reload) loads the folder whole and
 * checks it as `faqbot check` does; the new store is swapped in only when
 * clean, and the moderators read what changed or what is wrong. */
#include "serve_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "check.h"
#include "clock.h"
#include "faq_learn.h"
#include "log.h"
#include "metrics.h"

/* watch_add watches the FAQ folder for what an editor, a copy, git or a
 * ConfigMap swap does to it; the watch descriptor, or -1. */
static int watch_add(struct serve *s)
{
	s->iwd = inotify_add_watch(s->ifd, s->faq_dir,
				   IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_CREATE |
					   IN_DELETE | IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF);
	return s->iwd;
}

void serve_watch_start(struct serve *s)
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

			if ((ev->mask &
			     (IN_Q_OVERFLOW | IN_DELETE_SELF | IN_MOVE_SELF | IN_IGNORED)) ||
			    (ev->len && faq_file_name(ev->name)))
				s->change_ms = clock_mono_ms();
			if (ev->mask & (IN_DELETE_SELF | IN_MOVE_SELF | IN_IGNORED))
				s->iwd = -1; /* watched again after the reload */
			p += sizeof(*ev) + ev->len;
		}
	}
}

void serve_watch_poll(struct serve *s)
{
	drain_events(s);
	if (s->c.watch && s->ifd >= 0 && s->iwd < 0 && !s->change_ms) {
		/* the folder went away or was replaced: watch it again */
		if (watch_add(s) >= 0)
			s->change_ms = clock_mono_ms();
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

void serve_count_due(const struct serve *s)
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
	struct buf b = serve_reply_buf();
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
		buf_printf(&b,
			   "The FAQ in %s was not reloaded (%s): %zu error%s. The FAQ loaded %s "
			   "keeps serving. Fix, save, and it is checked again:",
			   s->faq_dir, why, d.errors, d.errors == 1 ? "" : "s", when);
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
			buf_printf(&b, "\n(and %zu more: run faqbot check)",
				   shown - SERVE_REPORT_MAX);
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
	serve_count_due(s);
out:
	faq_diags_release(&d);
	*report = buf_detach(&b);
	return e;
}
