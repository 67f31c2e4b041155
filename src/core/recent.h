/* recent.h -- a member's last few messages in a room, held in memory for a
 * few minutes, so that a crisis that shows only across two or three
 * messages ("nothing has worked" ... "put the pills aside") is seen.
 *
 * Member's words: never written to disk or to the log, kept at most
 * RECENT_TTL_S seconds and RECENT_PER_MEMBER messages, wiped when dropped.
 * A bounded table (RECENT_MEMBERS); the oldest member is forgotten first. */
#ifndef FAQBOT_RECENT_H
#define FAQBOT_RECENT_H

#include <stddef.h>

#include "err.h"

#define RECENT_TTL_S      300  /* how long a message is kept */
#define RECENT_PER_MEMBER 3    /* messages kept for one member in one room */
#define RECENT_TEXT_MAX   1024 /* bytes of one message kept */
#define RECENT_MEMBERS    512  /* members kept, over all rooms */

struct recent;

struct recent *recent_new(void);
void recent_free(struct recent *r);

/* recent_joined returns the member's kept messages in room, oldest first,
 * joined by " ... " (a new string the caller frees and should wipe), or
 * NULL when there are none younger than RECENT_TTL_S at now. */
char *recent_joined(struct recent *r, const char *room, const char *sender, long now);

/* recent_add keeps text (its first RECENT_TEXT_MAX bytes) as the member's
 * newest message in room at now. ERR_NOMEM only. */
enum err recent_add(struct recent *r, const char *room, const char *sender, const char *text,
		    long now);

/* recent_forget drops what is kept for the member in room (after a crisis
 * answer: the next messages start afresh). */
void recent_forget(struct recent *r, const char *room, const char *sender);

#endif
