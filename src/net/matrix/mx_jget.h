/* mx_jget.h -- small readings of JSON from the network, shared by the pure
 * Matrix modules that parse it (mx_json, mx_e2ee, mx_e2ee_tx, mx_keys,
 * mx_xsign), so each is written once. No I/O. */
#ifndef FAQBOT_MX_JGET_H
#define FAQBOT_MX_JGET_H

#include <jansson.h>
#include <stddef.h>

#include "err.h"

/* mx_jstr: obj[key] when it is a string with no NUL in it, else NULL
 * (borrowed): an id, a type or a token with a NUL would be read cut short,
 * as another. Text a member wrote is read otherwise (mx_json's set_text). */
const char *mx_jstr(const json_t *obj, const char *key);

/* mx_token_ok: s is a key, an id or a type: 1 to max-1 printable ASCII
 * bytes (no space, no control byte). */
int mx_token_ok(const char *s, size_t max);

/* mx_jload reads json[0..len) refusing duplicate keys (two readers would
 * see two objects); NULL when it is not JSON. */
json_t *mx_jload(const char *json, size_t len);

/* mx_jdumps writes v compactly into *out (new) and releases v (NULL: no
 * memory). ERR_NOMEM, *out NULL, when either failed. */
enum err mx_jdumps(json_t *v, char **out);

#endif
