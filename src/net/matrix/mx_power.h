/* mx_power.h -- a room's m.room.power_levels as a small lookup table, no
 * I/O: from the sync (mx_sync_parse) or from GET
 * /rooms/{id}/state/m.room.power_levels, read with mx_power_level for the
 * sender's level the core is given. */
#ifndef FAQBOT_MX_POWER_H
#define FAQBOT_MX_POWER_H

#include <jansson.h>
#include <stddef.h>

#include "err.h"

/* Per-user levels kept from one m.room.power_levels event. Rooms name a
 * handful of users; a bridged room can name thousands, and the bot keeps
 * one table a room for as long as it runs. */
#define MX_POWER_USERS_MAX 128

/* What the bot keeps of a room's m.room.power_levels: users_default and
 * at most MX_POWER_USERS_MAX entries of the users map (the highest levels,
 * when there are more), in one allocation. Read it with mx_power_level. */
struct mx_power;

/* mx_power_parse reads the content of an m.room.power_levels event (the
 * body of GET /rooms/{id}/state/m.room.power_levels) into a new table the
 * caller frees with mx_power_free. Levels may be integers or, in old
 * rooms, strings of digits; they are clamped to the range of an int.
 * Entries that are not a user id and an integer are skipped and counted in
 * *skipped (may be NULL). ERR_PARSE when the body is not a JSON object. */
enum err mx_power_parse(const char *json, size_t len, struct mx_power **out, size_t *skipped);

/* mx_power_level: user's level by p: the users map, else users_default (a
 * user left out for MX_POWER_USERS_MAX gets the lower of users_default
 * and the lowest level left out, so a level is never overstated). */
int mx_power_level(const struct mx_power *p, const char *user);

/* mx_power_dup copies p (NULL on no memory); mx_power_free frees it, NULL
 * is a no-op. */
struct mx_power *mx_power_dup(const struct mx_power *p);
void mx_power_free(struct mx_power *p);

/* mx_power_from_json builds the table from an event's content already
 * parsed (borrowed), as mx_power_parse does from bytes; *skipped (not
 * NULL) is added the entries skipped. ERR_PARSE when c is not an object. */
enum err mx_power_from_json(const json_t *c, struct mx_power **out, size_t *skipped);

#endif
