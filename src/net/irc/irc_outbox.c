/* irc_outbox.c -- replies on their way out, paced and journaled: see
 * irc_outbox.h. The queue's end callback (on_out_end) is where a journaled
 * reply is marked done, whatever the way it ended, so it is never sent
 * again after a crash. */
#include "irc_outbox.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "irc_journal.h"
#include "log.h"
#include "state.h"

#define IRC_OUTBOX_ERR_MAX 512

struct irc_outbox {
	struct irc_out *out;
	struct irc_journal *journal; /* or NULL */
	char *state_dir;             /* or NULL */
	unsigned long long next_id;  /* of the next reply queued */
	int journal_warned;
	struct irc_outbox_counts n;
};

static long max_age_ms(const char *kind)
{
	return kind && !strcmp(kind, "alert") ? IRC_ALERT_MAX_AGE_MS : IRC_REPLY_MAX_AGE_MS;
}

static int is_urgent(const char *kind)
{
	return kind && (!strcmp(kind, "crisis") || !strcmp(kind, "alert"));
}

/* on_out_end: a reply left the queue (irc_out.h). */
static void on_out_end(void *ctx, unsigned long long id, enum irc_out_end how)
{
	struct irc_outbox *ob = ctx;

	if (how == IRC_OUT_DROPPED)
		ob->n.dropped++;
	else if (how == IRC_OUT_EXPIRED)
		ob->n.expired++;
	if (ob->journal && irc_journal_done(ob->journal, id) != ERR_OK && !ob->journal_warned) {
		ob->journal_warned = 1;
		log_warn("irc: cannot write to the reply journal in %s: a reply sent may be "
			 "sent again after a crash",
			 ob->state_dir);
	}
}

/* journal_open makes the state folder if needed and opens the journal;
 * what it holds waits for irc_outbox_replay. */
static enum err journal_open(struct irc_outbox *ob, char *errbuf, size_t errlen)
{
	struct irc_journal_stats st;
	char why[512];
	enum err e;

	if (state_dir_prepare(ob->state_dir, why, sizeof(why)) != ERR_OK) {
		err_printf(errbuf, errlen, "irc: %s", why);
		return ERR_IO;
	}
	e = irc_journal_open(ob->state_dir, &ob->journal, &st, errbuf, errlen);
	if (e != ERR_OK)
		return e;
	if (st.bad_lines || st.torn)
		log_warn("irc: the reply journal had %zu unreadable line%s%s; the rest is "
			 "kept",
			 st.bad_lines + st.torn, st.bad_lines + st.torn == 1 ? "" : "s",
			 st.torn ? " (the last one torn by a crash)" : "");
	ob->next_id = irc_journal_next_id(ob->journal);
	return ERR_OK;
}

enum err irc_outbox_new(const struct irc_outbox_config *cfg, struct irc_outbox **out)
{
	struct irc_outbox *ob;
	struct irc_out_config oc;

	*out = NULL;
	ob = calloc(1, sizeof(*ob));
	if (!ob)
		return ERR_NOMEM;
	memset(&oc, 0, sizeof(oc));
	oc.burst = cfg->burst;
	oc.interval_ms = cfg->interval_ms;
	oc.on_end = on_out_end;
	oc.ctx = ob;
	ob->out = irc_out_new(&oc);
	ob->state_dir = cfg->state_dir ? strdup(cfg->state_dir) : NULL;
	if (!ob->out || (cfg->state_dir && !ob->state_dir)) {
		irc_outbox_free(ob);
		return ERR_NOMEM;
	}
	ob->next_id = 1;
	if (ob->state_dir) {
		char why[IRC_OUTBOX_ERR_MAX];

		if (journal_open(ob, why, sizeof(why)) != ERR_OK)
			log_error("%s; running without the reply journal: replies waiting will not "
				  "survive a crash",
				  why);
	}
	*out = ob;
	return ERR_OK;
}

void irc_outbox_free(struct irc_outbox *ob)
{
	if (!ob)
		return;
	irc_out_free(ob->out); /* what still waits is in the journal */
	irc_journal_free(ob->journal);
	free(ob->state_dir);
	free(ob);
}

/* replay_one queues one journaled reply of age ms; 1 if queued. */
static int replay_one(struct irc_outbox *ob, const struct irc_journal_entry *v, long long age,
		      long long now)
{
	struct irc_out_reply r;

	memset(&r, 0, sizeof(r));
	r.id = v->id;
	r.cmd = v->cmd;
	r.target = v->target;
	r.text = v->text;
	r.urgent = is_urgent(v->kind);
	r.keep = 1;
	r.expires_ms = now - age + max_age_ms(v->kind);
	if (irc_out_push(ob->out, &r, NULL) != ERR_OK) {
		irc_journal_done(ob->journal, v->id);
		ob->n.dropped++;
		return 0;
	}
	return 1;
}

void irc_outbox_replay(struct irc_outbox *ob, long long now, size_t prefix_len)
{
	const struct irc_journal_entry *v;
	long long wall = clock_wall_ms();
	size_t n, i, queued = 0, old = 0;

	if (!ob->journal)
		return;
	irc_out_set_prefix(ob->out, prefix_len);
	v = irc_journal_pending(ob->journal, &n);
	for (i = 0; i < n; i++) {
		long long age = wall - v[i].wall_ms;

		if (age < 0)
			age = 0; /* the clock went back: take it as new */
		if (age >= max_age_ms(v[i].kind)) {
			old++;
			irc_journal_done(ob->journal, v[i].id);
			continue;
		}
		queued += (size_t)replay_one(ob, &v[i], age, now);
	}
	irc_journal_forget(ob->journal);
	ob->n.replayed += queued;
	ob->n.expired += old;
	if (queued || old)
		log_info("irc: the journal kept %zu repl%s from the last run: %zu to send, %zu "
			 "too old",
			 queued + old, queued + old == 1 ? "y" : "ies", queued, old);
}

/* journal_add keeps a queued reply on disk; one that cannot be kept is
 * sent all the same, only not across a crash. */
static void journal_add(struct irc_outbox *ob, unsigned long long id, const char *cmd,
			const char *target, const char *text, const char *kind)
{
	struct irc_journal_entry je;
	enum err e;

	je.id = id;
	je.wall_ms = clock_wall_ms();
	je.kind = (char *)kind;
	je.cmd = (char *)cmd;
	je.target = (char *)target;
	je.text = (char *)text;
	e = irc_journal_add(ob->journal, &je);
	if (e != ERR_OK) {
		ob->n.journal_errors++;
		log_warn("irc: the reply journal in %s cannot keep a reply: %s", ob->state_dir,
			 err_str(e));
	}
}

enum err irc_outbox_say(struct irc_outbox *ob, const char *cmd, const char *target,
			const char *text, const char *kind, long long now, size_t prefix_len)
{
	struct irc_out_reply r;
	size_t n = 0, held;
	enum err e;

	memset(&r, 0, sizeof(r));
	r.id = ob->next_id++;
	r.cmd = cmd;
	r.target = target;
	r.text = text;
	r.urgent = is_urgent(kind);
	r.keep = 1;
	r.expires_ms = now + max_age_ms(kind);
	irc_out_set_prefix(ob->out, prefix_len);
	e = irc_out_push(ob->out, &r, &n);
	if (e != ERR_OK) {
		held = irc_out_waiting(ob->out) + irc_out_in_flight(ob->out);
		if (e == ERR_LIMIT && held > 0) {
			ob->n.dropped++;
			log_warn("irc: send queue full (%zu replies), a %s to %s dropped", held,
				 cmd, target);
		} else {
			log_warn("irc: a %s to %s could not be split: %s", cmd, target, err_str(e));
		}
		return e;
	}
	ob->n.lines += n;
	if (kind && ob->journal)
		journal_add(ob, r.id, cmd, target, text, kind);
	return ERR_OK;
}

enum err irc_outbox_raw(struct irc_outbox *ob, const char *target, const char *line)
{
	struct irc_out_reply r;
	enum err e;

	memset(&r, 0, sizeof(r));
	r.id = ob->next_id++;
	r.target = target;
	r.raw = line;
	e = irc_out_push(ob->out, &r, NULL);
	if (e == ERR_OK)
		ob->n.lines++;
	else
		ob->n.dropped++;
	return e;
}

void irc_outbox_sync(struct irc_outbox *ob)
{
	if (!ob->journal || irc_journal_sync(ob->journal) == ERR_OK)
		return;
	ob->n.journal_errors++;
	if (!ob->journal_warned)
		log_warn("irc: cannot sync the reply journal in %s: replies may not survive "
			 "a power cut",
			 ob->state_dir);
	ob->journal_warned = 1;
}

void irc_outbox_session(struct irc_outbox *ob, long long now)
{
	size_t again = irc_out_session(ob->out, now);

	if (!again)
		return;
	ob->n.resent += again;
	log_info("irc: %zu repl%s cut off with the last connection will be sent again, whole",
		 again, again == 1 ? "y" : "ies");
}

struct irc_out *irc_outbox_queue(struct irc_outbox *ob)
{
	return ob->out;
}

void irc_outbox_counts(const struct irc_outbox *ob, struct irc_outbox_counts *out)
{
	*out = ob->n;
}
