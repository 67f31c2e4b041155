/* serve_int.h -- the inside of the running bot, shared by its parts and by
 * no one else (serve.h is the contract):
 *   serve.c             new and free, the state folder, who may do what,
 *                       the handler (a message through the pipeline: crisis
 *                       first, commands, then policy_decide), the tick
 *   serve_cmd.c         the chat commands (!faq, !sources, !test, !stats...)
 *   serve_reload.c      the FAQ folder watched (inotify) and reloaded whole
 *   serve_unanswered.c  unanswered questions' words, when the operator asks
 * All of them work on one struct serve (one thread), so the functions here
 * take it whole; each file's statics stay its own. Exported names start
 * with serve_ like the public ones; nothing here is in serve.h, so tests
 * and callers cannot lean on it. */
#ifndef FAQBOT_SERVE_INT_H
#define FAQBOT_SERVE_INT_H

#include <stddef.h>
#include <time.h>

#include "bot.h"
#include "buf.h"
#include "cmd.h"
#include "err.h"
#include "faq.h"
#include "policy.h"
#include "recent.h"
#include "serve.h"
#include "stats.h"
#include "transport.h"

#define SERVE_REPLY_MAX 8192 /* bytes of a composed command reply */

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

/* ---- serve.c ---------------------------------------------------------- */

/* serve_reply_buf starts a command's reply: a long one (a report, the
 * stats of many rooms) is cut at SERVE_REPLY_MAX, never unbounded and
 * never lost. */
struct buf serve_reply_buf(void);

/* serve_say hands out text (taken: s frees it at the next call; NULL: no
 * reply) as the reply, of kind ("faq", "crisis"...). */
void serve_say(struct serve *s, struct tr_reply *out, const char *kind, char *text);

/* serve_classify classifies text, from m's room (the normal path), into
 * s->last. With context, the member's last messages in the room are read
 * with it (recent.h), and this one is kept for the next. */
enum err serve_classify(struct serve *s, const struct tr_message *m, const char *text, int direct,
			int context);

/* serve_member: who a member is for opt-outs and cooldowns. Borrowed. */
const char *serve_member(const struct tr_message *m);

/* serve_room_region: the crisis lines' region of room (its [room]
 * section's, else the bot's); NULL: the FAQ's default. */
const char *serve_room_region(const struct serve *s, const char *room);

/* serve_is_mod_room: room is a moderators' room (of either network). */
int serve_is_mod_room(const struct serve *s, const char *room);

/* serve_count_entry counts e under kind today (the counts are saved now
 * and then by the tick). */
void serve_count_entry(struct serve *s, enum stats_kind kind, const struct faq_entry *e);

/* serve_save_policy writes the mutes and opt-outs now (logged on failure). */
enum err serve_save_policy(struct serve *s);

/* ---- serve_cmd.c ------------------------------------------------------ */

/* serve_command acts on command c from m, which may use it (the crisis
 * check and the moderators' refusal came first). */
void serve_command(struct serve *s, const struct tr_message *m, const struct cmd *c, int moderator,
		   int addressed, struct tr_reply *out);

/* ---- serve_reload.c --------------------------------------------------- */

/* serve_watch_start watches the FAQ folder where s->c.watch asks (a
 * failure is logged: SIGHUP and !reload still reload). */
void serve_watch_start(struct serve *s);

/* serve_watch_poll reads what inotify has and notes in s->change_ms a
 * change to a FAQ file or to the folder itself; a folder gone or replaced
 * is watched again. Never waits. */
void serve_watch_poll(struct serve *s);

/* serve_count_due sets the gauge of the entries and crisis lines due for
 * review (metrics.h). */
void serve_count_due(const struct serve *s);

/* ---- serve_unanswered.c ----------------------------------------------- */

/* serve_unanswered_keep appends m's words to today's file of unanswered
 * questions (0600), when the operator turned keep_unanswered on. */
void serve_unanswered_keep(struct serve *s, const struct tr_message *m);

/* serve_unanswered_prune removes the day files older than unanswered_days. */
void serve_unanswered_prune(struct serve *s);

#endif
