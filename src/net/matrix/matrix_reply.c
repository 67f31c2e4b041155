/* matrix_reply.c -- the Matrix transport's answer path (see
 * matrix_int.h): a member's message becomes the core's tr_message, and
 * what the core says goes out: the reply (rich reply, thread, mention or
 * pill, a link to an earlier answer), the moderators' alert, the core's
 * notice; each built, sent and logged once (send_built), each with a
 * transaction id derived from the event, so a replay never shows twice.
 * Also the loop's notices (a tick's, another network's alert), posted the
 * same way between the loop's turns, where no reply is in flight. */
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

/* ---- sending ---------------------------------------------------------- */

/* send_event PUTs content into room with the given transaction id. On
 * ERR_OK event_id (may be NULL) has the new event's id. */
static enum err send_event(struct matrix *m, const char *room, const char *txn,
                           const char *content, char *event_id, size_t idlen)
{
	char path[MATRIX_URL_MAX];
	struct matrix_resp r = {0};
	struct mx_error me;
	enum err e;

	e = mx_path(path, sizeof(path), MATRIX_API "/rooms/%s/send/m.room.message/%s", room,
	                txn);
	if (e != ERR_OK)
		return e;
	e = matrix_call(m, "PUT", path, content, 0, &r);
	if (e == ERR_OK && event_id &&
	    mx_field_string(r.body, r.len, "event_id", event_id, idlen) != ERR_OK)
		snprintf(event_id, idlen, "?");
	if (e == ERR_INVALID && !m->fatal) {
		mx_error_parse(r.body ? r.body : "", r.len, &me);
		log_error("send room=%s txn=%s failed: HTTP %ld %s", room, txn, r.status,
		          me.errcode);
	}
	matrix_resp_release(&r);
	return e;
}

/* send_built sends json, which building made with outcome built, to room
 * under txn, for the message a; what ("reply", "alert") names it in the
 * log. Returns 1 when it was sent (the new event's id in sent). *up is
 * what the message loop must return: ERR_OK to go on (a build that failed
 * is logged and skipped; a room that refuses us is logged by send_event
 * and skipped, so one room cannot silence the others), else a stop or a
 * failure that ends the batch. */
static int send_built(struct matrix *m, const char *what, const struct mx_action *a,
                      enum err built, const char *room, const char *txn, const char *json,
                      char *sent, size_t sentlen, enum err *up)
{
	enum err e;

	*up = ERR_OK;
	if (built != ERR_OK) {
		log_error("cannot build %s room=%s event=%s: %s", what, a->room_id, a->event_id,
		          err_str(built));
		return 0;
	}
	e = send_event(m, room, txn, json, sent, sentlen);
	if (e == ERR_OK)
		return 1;
	*up = e == ERR_INVALID && !m->fatal ? ERR_OK : e;
	return 0;
}

enum err matrix_post_notice(struct matrix *m, const char *text, const char *txn,
                            const char *from)
{
	char sent[MX_ID_MAX + 1], *json = NULL;
	enum err e;

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
	e = send_event(m, m->mod_room, txn, json, sent, sizeof(sent));
	free(json);
	if (e == ERR_OK) {
		m->stats.notices++;
		log_info("notice room=%s from=%s txn=%s sent=%s", m->mod_room, from, txn, sent);
	} else if (e == ERR_IO) {
		log_warn("notice for the moderators (from a %s) not sent: stopping", from);
	} else if (e != ERR_INVALID) { /* a refusal is logged by send_event */
		log_error("notice for the moderators (from a %s) not sent: %s", from,
		          err_str(e));
	}
	/* only a stop or a fatal refusal concerns the caller */
	return e == ERR_IO || m->fatal ? e : ERR_OK;
}

/* ---- a message and what is said to it -------------------------------- */

/* reply_json builds the reply to a with what the handler said: directed
 * to out->mention when that is a user id (not the bot's), else to the
 * asker; with a link to see_event's answer (or to it) when that is an
 * event id. */
static enum err reply_json(struct matrix *m, const struct mx_action *a,
                           const struct tr_reply *out, char **json)
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
		if (mx_mention_resolve(out->mention, a->sender, target, sizeof(target)) ==
		        ERR_OK &&
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

static enum err send_reply(struct matrix *m, const struct mx_action *a,
                           const struct tr_reply *out)
{
	char txn[MX_TXN_MAX], sent[MX_ID_MAX + 1], *json = NULL;
	enum err e, up;
	int crisis;

	e = reply_json(m, a, out, &json);
	if (e == ERR_OK)
		e = mx_txn_reply(a->event_id, txn, sizeof(txn));
	crisis = out->kind && !strcmp(out->kind, "crisis");
	if (send_built(m, "reply", a, e, a->room_id, txn, json, sent, sizeof(sent), &up)) {
		if (mx_id_valid(sent, '$'))
			matrix_answer_put(m, a->event_id, sent);
		m->stats.replies++;
		metrics_inc(crisis ? M_CRISIS_REPLY_SENT : M_REPLY_SENT);
		log_info("reply room=%s event=%s class=%s id=%s sent=%s", a->room_id, a->event_id,
		         out->kind ? out->kind : "?", out->entry_id ? out->entry_id : "-", sent);
	} else if (up == ERR_OK) { /* given up on, not left for a replay */
		metrics_inc(crisis ? M_CRISIS_REPLY_FAILED : M_REPLY_FAILED);
	}
	free(json);
	return up;
}

/* send_alert tells the moderators' room who and where, never what. */
static enum err send_alert(struct matrix *m, const struct mx_action *a,
                           const struct tr_message *msg, const struct tr_reply *out)
{
	char txn[MX_TXN_MAX], sent[MX_ID_MAX + 1], *json = NULL;
	struct mx_alert al;
	enum err e, up;

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
	if (send_built(m, "alert", a, e, m->mod_room, txn, json, sent, sizeof(sent), &up)) {
		m->stats.alerts++;
		metrics_inc(M_CRISIS_ALERT_SENT);
		log_info("alert room=%s event=%s class=%s sent=%s", a->room_id, a->event_id,
		         al.kind, sent);
	} else if (up == ERR_OK) {
		metrics_inc(M_CRISIS_ALERT_FAILED);
	}
	free(json);
	return up;
}

/* answerable says whether a message goes to the core at all. */
static int answerable(struct matrix *m, const struct mx_action *a)
{
	if (a->ignore != MX_IGN_NONE) {
		if (a->ignore == MX_IGN_ENCRYPTED)
			log_warn("encrypted message room=%s event=%s cannot be read", a->room_id,
			         a->event_id);
		return 0;
	}
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

/* to_core fills the core's view of the message: the room's size and the
 * sender's power level may be asked of the server (once a room). */
static void to_core(struct matrix *m, const struct mx_action *a, struct tr_message *msg)
{
	struct matrix_room *room = matrix_room(m, a->room_id, 1);
	long n = room ? matrix_room_members(m, room) : -1;

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
	msg->direct = room && (room->direct || n == 2);
	msg->mentions_bot = a->mentions_bot;
	msg->sender_account = a->sender; /* the homeserver vouches for it */
	msg->sender_power = room ? matrix_room_power(m, room, a->sender) : -1;
}

enum err matrix_handle_message(struct matrix *m, const struct mx_action *a,
                               tr_handler_fn fn, void *ctx)
{
	char txn[MX_TXN_MAX];
	struct tr_message msg;
	struct tr_reply out;
	enum err e;

	if (!answerable(m, a))
		return ERR_OK;
	m->stats.messages++;
	to_core(m, a, &msg);
	memset(&out, 0, sizeof(out));
	e = fn(ctx, &msg, &out);
	if (e != ERR_OK) {
		log_warn("handler failed room=%s event=%s: %s", a->room_id, a->event_id,
		         err_str(e));
		return ERR_OK;
	}
	e = ERR_OK;
	if (out.reply && out.text && *out.text)
		e = send_reply(m, a, &out);
	if (e == ERR_OK && out.alert_moderators && m->mod_room)
		e = send_alert(m, a, &msg, &out);
	if (e == ERR_OK && out.mod_text && *out.mod_text) {
		/* derived from the event, like the reply: a replay posts it once */
		e = mx_txn_mod(a->event_id, txn, sizeof(txn));
		if (e == ERR_OK)
			e = matrix_post_notice(m, out.mod_text, txn, "reply");
	}
	return e;
}

/* ---- the loop's notices (a tick's, another network's alert) --------- */

enum err matrix_notice_post(struct matrix *m, const char *text)
{
	char txn[MX_TXN_MAX];
	enum err e;

	if (!text || !*text)
		return ERR_OK;
	e = mx_txn_notice(m->start_ms, (long)getpid(), ++m->notice_n, txn, sizeof(txn));
	if (e == ERR_OK)
		e = matrix_post_notice(m, text, txn, "tick");
	return e;
}
