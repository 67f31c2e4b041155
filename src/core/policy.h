/* policy.h -- the bot's memory of who it answered, where it may speak and
 * who asked it not to: cooldowns, mutes, opt-outs, one refusal each.
 *
 * Cooldowns: once an entry is answered in a room, for the window that
 * follows a second asker gets a short pointer to that answer and the first
 * asker, repeating in a burst, gets nothing more. Crisis replies never go
 * through here: they are always posted whole (serve.c).
 *
 * Mutes (rooms) and opt-outs (members) are what moderators and members
 * asked for, so they are kept across restarts: policy_to_json and
 * policy_from_json (serve.c writes them with state_write). Cooldowns and
 * refusals live in memory only: a restart forgets them, which costs at most
 * one repeated answer. Every table is capped; the oldest cooldown goes
 * first. */
#ifndef FAQBOT_POLICY_H
#define FAQBOT_POLICY_H

#include <stddef.h>
#include <time.h>

#include "err.h"

#define POLICY_COOLDOWNS_MAX 2048  /* (room, entry, member) answers remembered */
#define POLICY_SET_MAX       10000 /* muted rooms, opted-out members, refusals */
#define POLICY_ID_MAX        512   /* bytes of a room, member or event id kept */

enum policy_repeat {
	POLICY_FRESH,   /* answer */
	POLICY_POINTER, /* answered here lately to someone else: point to it */
	POLICY_SILENT   /* this member had this answer lately: say nothing */
};

enum policy_set { POLICY_MUTED, POLICY_OPTED_OUT, POLICY_REFUSED, POLICY_SETS };

struct policy;

/* policy_new: cooldown_s is the window; 0 turns cooldowns off. */
struct policy *policy_new(long cooldown_s);
void policy_free(struct policy *p);

/* policy_repeat says whether entry may be answered for member in room at
 * now. For POLICY_POINTER, *earlier (borrowed, valid until the next call
 * that changes p) is the id of the message answered before, or NULL when
 * that was not known. */
enum policy_repeat policy_repeat(const struct policy *p, const char *room, const char *entry,
				 const char *member, time_t now, const char **earlier);

/* policy_answered remembers that member got entry in room at now, in reply
 * to event (may be NULL); policy_pointed that member got a pointer to the
 * earlier answer (so a repeat of theirs is silent). */
enum err policy_answered(struct policy *p, const char *room, const char *entry, const char *member,
			 const char *event, time_t now);
enum err policy_pointed(struct policy *p, const char *room, const char *entry, const char *member,
			time_t now);

/* What becomes of an advice or FAQ answer the core chose (never of a
 * crisis reply, which always goes out whole): policy_decide's verdict. */
enum policy_verdict {
	POLICY_VERDICT_ANSWER,  /* answer it */
	POLICY_VERDICT_QUIET,   /* say nothing: not asked, opted out, or muted */
	POLICY_VERDICT_POINTER, /* answered here lately to someone else: point
	                         * to it (policy_repeat's POLICY_POINTER) */
	POLICY_VERDICT_SILENT   /* this member had it lately: nothing */
};

/* The answer policy_decide is asked about, and the message it is for. */
struct policy_ask {
	const char *room, *member, *entry; /* entry: the answer's id */
	int reply;                         /* the core would answer it (bot.h: a question where the
	                * room's policy takes one, addressed, or direct) */
	int direct;                        /* a direct conversation */
	int addressed;                     /* the message addresses the bot */
	time_t now;
};

/* policy_decide rules on answer a, in this order: the core would not
 * answer it; the member opted out and neither wrote directly nor
 * addressed the bot; the room is muted (each POLICY_VERDICT_QUIET); then
 * the cooldowns (policy_repeat). *why: static text, the reason nothing
 * goes out (QUIET, SILENT), NULL for an answer or a pointer. *earlier:
 * as policy_repeat's, for a POINTER; else NULL. */
enum policy_verdict policy_decide(const struct policy *p, const struct policy_ask *a,
				  const char **why, const char **earlier);

/* The sets. policy_set returns ERR_LIMIT when the set is full. */
int policy_has(const struct policy *p, enum policy_set set, const char *id);
enum err policy_set(struct policy *p, enum policy_set set, const char *id, int on);
size_t policy_count(const struct policy *p, enum policy_set set);

/* Mutes and opt-outs as JSON, and back. policy_from_json: ERR_PARSE when
 * text is not a JSON object (p then unchanged); otherwise every item that
 * is not a room or member id is skipped and counted in *skipped (which may
 * be NULL), and the rest is read: one bad item costs that item. */
char *policy_to_json(const struct policy *p);
enum err policy_from_json(struct policy *p, const char *text, size_t len, size_t *skipped);

#endif
