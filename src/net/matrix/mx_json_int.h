/* mx_json_int.h -- what mx_json.c lends mx_json_split.c, and no one else:
 * the readers of a room's value (a tree, borrowed) into actions, and the
 * start of a list from a body's top level. As mx_json.h says of them:
 * leaves, invites and joins; a malformed piece skipped and counted. */
#ifndef FAQBOT_MX_JSON_INT_H
#define FAQBOT_MX_JSON_INT_H

#include <jansson.h>

#include "mx_json.h"

/* The readers of rooms.leave, rooms.invite and rooms.join: room's value
 * r into actions appended to s; bot is the bot's user id. */
enum err mx_json_leave_room(struct mx_sync *s, const char *room, const json_t *r, const char *bot);
enum err mx_json_invite_room(struct mx_sync *s, const char *room, const json_t *r, const char *bot);
enum err mx_json_join_room(struct mx_sync *s, const char *room, const json_t *r, const char *bot);

/* mx_json_sync_start checks a body's top level (root, an object: its
 * next_batch, the key counts) and makes the list, counting rep's repairs.
 * ERR_PARSE (why in errbuf) when there is no usable next_batch. */
enum err mx_json_sync_start(const json_t *root, const struct mx_repair *rep, struct mx_sync **out,
			    char *errbuf, size_t errlen);

#endif
