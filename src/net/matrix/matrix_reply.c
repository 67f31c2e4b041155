/* matrix_reply.c -- the Matrix transport's answer path (see
 * matrix_int.h): a member's message becomes the core's tr_message, and
 * what the core says is built and queued (matrix_send.c sends it, without
 * waiting): the reply (rich reply, thread, mention or pill, a link to an
 * earlier answer), the moderators' alert, the core's notice; each with a
 * transaction id derived from the event, fixed and journaled before the
 * first try, so a retry, a replay or a restart never shows twice. Also
 * the loop's notices (a tick's, another network's alert), queued the same
 * way. */
#include "matrix_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "metrics.h"
#include "mx_body.h"
#include "mx_html.h"
#include "strs.h"

/* ---- queueing -------------------------------------------------------- */

enum err matrix_post_notice(struct matrix *m, const char *text, const char *txn, const char *from,
			    unsigned long long *seq)
{
	struct matrix_send_spec sp;
	char *json = NULL;
	enum err e;

	if (seq)
		*seq = 0;
	if (!m->mod_room) {
		log_info("notice for the moderators (from a %s) dropped: no moderators' "
			 "room configured",
			 from);
		return ERR_OK;
	}
	e = mx_notice_json(text, &json);
	if (e != ERR_OK) {
		log_error("cannot build the notice for the moderators (from a %s): %s", from,
			  err_str(e));
		return ERR_OK;
	}
	memset(&sp, 0, sizeof(sp));
	sp.kind = MATRIX_SEND_NOTICE;
	sp.room = m->mod_room;
	sp.txn = txn;
	sp.body = json;
	sp.klass = from;
	/* for the moderators, and few: a reload's outcome, a skipped batch,
	 * another network's crisis; never dropped by a limit */
	sp.must = 1;
	sp.journal = 1;
	e = matrix_send_put(m, &sp, seq);
	free(json);
	return e;
}

/* ---- a message and what is said to it -------------------------------- */

/* reply_json builds the reply to a with what the handler said: directed
 * to out->mention when that is a user id (not the bot's), else to the
 * asker; with a link to see_event's answer (or to it) when that is an
 * event id. */
static enum err reply_json(struct matrix *m, const struct mx_action *a, const struct tr_reply *out,
			   char **json)
{
	char target[MX_ID_MAX + 1], *link = NULL;
	const char *earlier = NULL;
	struct mx_reply rep;
	enum err e;

	memset(&rep, 0, sizeof(rep));
	rep.text = out->text;
	rep.in_reply_to = a->event_id;
	rep.thread_root = a->thread_root;
	rep.mention = a->sender;
	if (out->mention) {
		if (mx_mention_resolve(out->mention, a->sender, target, sizeof(target)) == ERR_OK &&
		    strcmp(target, m->user_id)) {
			rep.mention = target; /* and not the asker: it is not for them */
			rep.directed = 1;
		} else {
			log_info("reply room=%s event=%s: directed to no valid user id; "
				 "answering the asker",
				 a->room_id, a->event_id);
		}
	}
	if (out->see_event && mx_id_valid(out->see_event, '$')) {
		earlier = matrix_answer_find(m, out->see_event);
		rep.see_answer = earlier != NULL;
		e = mx_matrix_to_link(a->room_id, earlier ? earlier : out->see_event,
				      mx_server_name(m->user_id), &link);
		if (e != ERR_OK)
			log_warn("reply room=%s event=%s: no link to the earlier message: %s",
				 a->room_id, a->event_id, err_str(e));
		rep.see_link = link;
	} else if (out->see_event) {
		log_info("reply room=%s event=%s: the earlier message is not an event id; "
			 "no link",
			 a->room_id, a->event_id);
	}
	e = mx_reply_json(&rep, json);
	free(link);
	return e;
}

/* queue_reply queues the reply to a; a reply that cannot be built is
 * logged and skipped (ERR_OK). */
static enum err queue_reply(struct matrix *m, const struct mx_action *a, const struct tr_reply *out)
{
	char txn[MX_TXN_MAX], *json = NULL;
	struct matrix_send_spec sp;
	enum err e;
	int crisis = out->kind && !strcmp(out->kind, "crisis");

	e = reply_json(m, a, out, &json);
	if (e == ERR_OK)
		e = mx_txn_reply(a->event_id, txn, sizeof(txn));
	if (e != ERR_OK) {
		log_error("cannot build reply room=%s event=%s: %s", a->room_id, a->event_id,
			  err_str(e));
		metrics_inc(crisis ? M_CRISIS_REPLY_FAILED : M_REPLY_FAILED);
		free(json);
		return ERR_OK;
	}
	memset(&sp, 0, sizeof(sp));
	sp.kind = MATRIX_SEND_REPLY;
	sp.room = a->room_id;
	sp.txn = txn;
	sp.body = json;
	sp.event = a->event_id;
	sp.about = a->room_id;
	sp.klass = out->kind ? out->kind : "?";
	sp.entry = out->entry_id;
	sp.must = crisis;
	sp.journal = 1;
	e = matrix_send_put(m, &sp, NULL);
	free(json);
	return e;
}

/* queue_alert queues the moderators' alert: who and where, never what. */
static enum err queue_alert(struct matrix *m, const struct mx_action *a,
			    const struct tr_message *msg, const struct tr_reply *out)
{
	char txn[MX_TXN_MAX], *json = NULL;
	struct matrix_send_spec sp;
	struct mx_alert al;
	enum err e;

	memset(&al, 0, sizeof(al));
	al.room_id = a->room_id;
	al.event_id = a->event_id;
	al.sender = a->sender;
	al.sender_name = msg->sender_name;
	al.kind = out->kind ? out->kind : "crisis";
	al.entry_id = out->entry_id;
	al.via = mx_server_name(m->user_id);
	al.mentions = (const char *const *)m->mods;
	al.n_mentions = m->n_mods;
	e = mx_alert_json(&al, &json);
	if (e == ERR_OK)
		e = mx_txn_alert(a->event_id, txn, sizeof(txn));
	if (e != ERR_OK) {
		log_error("cannot build alert room=%s event=%s: %s", a->room_id, a->event_id,
			  err_str(e));
		metrics_inc(M_CRISIS_ALERT_FAILED);
		free(json);
		return ERR_OK;
	}
	memset(&sp, 0, sizeof(sp));
	sp.kind = MATRIX_SEND_ALERT;
	sp.room = m->mod_room;
	sp.txn = txn;
	sp.body = json;
	sp.event = a->event_id;
	sp.about = a->room_id;
	sp.klass = al.kind;
	sp.entry = out->entry_id;
	sp.must = 1;
	sp.journal = 1;
	e = matrix_send_put(m, &sp, NULL);
	free(json);
	return e;
}

/* answerable says whether a message goes to the core at all. */
static int answerable(struct matrix *m, const struct mx_action *a)
{
	if (a->ignore != MX_IGN_NONE)
		return 0; /* an encrypted one went to matrix_e2ee_message */
	/* the moderators talk among themselves: only their commands ("!stats")
	 * reach the core from their room */
	if (m->mod_room && !strcmp(a->room_id, m->mod_room) && (!a->body || a->body[0] != '!'))
		return 0;
	if (m->max_age_s > 0 && a->ts > 0 && clock_wall_ms() - a->ts > m->max_age_s * 1000LL) {
		log_info("old message room=%s event=%s not answered", a->room_id, a->event_id);
		return 0;
	}
	return 1;
}

/* to_core fills the core's view of the message, with the room's facts
 * as known now; pending: they are being asked (matrix_ask.c). */
static void to_core(struct matrix *m, const struct mx_action *a, int pending,
		    struct tr_message *msg)
{
	const struct matrix_room *room = matrix_room(m, a->room_id, 1);

	memset(msg, 0, sizeof(*msg));
	msg->room = a->room_id;
	msg->sender = a->sender;
	msg->sender_name = a->sender_name;
	if (!msg->sender_name)
		msg->sender_name = matrix_room_name(m, a->room_id, a->sender);
	msg->event_id = a->event_id;
	msg->text = a->body;
	msg->thread_root = a->thread_root;
	msg->bot_name = m->localpart;
	msg->ts_ms = a->ts;
	msg->direct = room && (room->direct || room->members == 2);
	msg->mentions_bot = a->mentions_bot;
	msg->sender_account = a->sender; /* the homeserver vouches for it */
	msg->sender_power = room ? matrix_room_power(room, a->sender) : -1;
	msg->facts_pending = pending;
}

/* deliver hands a to the core (fn, ctx) and queues what it says; *wait:
 * the core left it for when its facts are known (pending only). */
static enum err deliver(struct matrix *m, const struct mx_action *a, tr_handler_fn fn, void *ctx,
			int pending, int *wait)
{
	char txn[MX_TXN_MAX];
	struct tr_message msg;
	struct tr_reply out;
	long long t0;
	enum err e;

	*wait = 0;
	to_core(m, a, pending, &msg);
	memset(&out, 0, sizeof(out));
	t0 = clock_cpu_ns();
	e = fn(ctx, &msg, &out);
	m->core_ns += clock_cpu_ns() - t0; /* the bench's "beyond classification" */
	if (e != ERR_OK) {
		log_warn("handler failed room=%s event=%s: %s", a->room_id, a->event_id,
			 err_str(e));
		return ERR_OK;
	}
	if (pending && out.wait_facts) {
		*wait = 1;
		return ERR_OK;
	}
	/* queued, each in its room's order, and journaled before this
	 * returns: the batch's since is saved only after */
	if (out.reply && out.text && *out.text)
		e = queue_reply(m, a, &out);
	if (e == ERR_OK && out.alert_moderators && m->mod_room)
		e = queue_alert(m, a, &msg, &out);
	if (e == ERR_OK && out.mod_text && *out.mod_text) {
		/* derived from the event, like the reply: a replay posts it once */
		if (mx_txn_mod(a->event_id, txn, sizeof(txn)) == ERR_OK)
			e = matrix_post_notice(m, out.mod_text, txn, "reply", NULL);
	}
	/* out now: no waiting for the rest of the batch, nor for the disk
	 * (the batch's journal sync and since, a few fsyncs): the pump puts
	 * the request on the wire before any of them */
	t0 = clock_cpu_ns();
	matrix_send_run(m);
	matrix_pump(m);
	m->send_ns += clock_cpu_ns() - t0;
	return e;
}

enum err matrix_handle_message(struct matrix *m, const struct mx_action *a, tr_handler_fn fn,
			       void *ctx)
{
	struct matrix_room *room;
	int pending, wait;
	long long t0;
	enum err e;

	if (!answerable(m, a))
		return ERR_OK;
	m->stats.messages++;
	/* a room's first message after a start may find its facts unknown:
	 * they are asked (never waited on here), and the message waits for
	 * them unless the core answers it at once (a crisis) */
	t0 = clock_cpu_ns();
	room = matrix_room(m, a->room_id, 1);
	pending = room && (room->n_held || matrix_ask_pending(m, room));
	m->ask_ns += clock_cpu_ns() - t0;
	e = deliver(m, a, fn, ctx, pending, &wait);
	if (e == ERR_OK && wait)
		e = matrix_held_put(m, room, a);
	return e;
}

enum err matrix_handle_held(struct matrix *m, const struct mx_action *a)
{
	int wait;

	return deliver(m, a, m->fn, m->ctx, 0, &wait);
}

/* ---- the loop's notices (a tick's, another network's alert) --------- */

enum err matrix_notice_post(struct matrix *m, const char *text, unsigned long long *seq)
{
	char txn[MX_TXN_MAX];
	enum err e;

	if (seq)
		*seq = 0;
	if (!text || !*text)
		return ERR_OK;
	e = mx_txn_notice(m->start_ms, (long)getpid(), ++m->notice_n, txn, sizeof(txn));
	if (e == ERR_OK)
		e = matrix_post_notice(m, text, txn, "tick", seq);
	return e;
}
