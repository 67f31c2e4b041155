/* mx_repair.h -- the raw-bytes side of reading Matrix JSON, no I/O: the
 * repair pass that makes what a member wrote readable to jansson, the scan
 * that finds a next_batch in a body that cannot be parsed even so, and the
 * one way every body from the network is loaded (repaired, then parsed).
 *
 * A homeserver relays what members send, and some of it is valid JSON that
 * jansson refuses (\u0000 in a key, a lone surrogate escape, a number
 * beyond 64 bits, nesting past its depth limit): the repair rewrites those
 * in place, byte for byte, so one member's message cannot make a whole
 * /sync response unreadable. Fuzzed by tests/fuzz/fuzz_mx_sync.c. */
#ifndef FAQBOT_MX_REPAIR_H
#define FAQBOT_MX_REPAIR_H

#include <jansson.h>
#include <stddef.h>

#include "err.h"

#define MX_NEXT_BATCH_MAX 4096 /* a since token we will store and resend */
/* Containers nested deeper than this are replaced before parsing (see
 * mx_json_repair). Nothing the bot reads is deeper than 12; jansson gives
 * up at 2048, and a 64 KB event can nest 32000 deep. */
#define MX_JSON_DEPTH_MAX 64

/* What mx_json_repair changed, by kind. */
struct mx_repair {
	size_t surrogates; /* lone surrogate escapes, now \ufffd */
	size_t key_nuls;   /* \u0000 in an object key, now \ufffd */
	size_t bad_bytes;  /* in a string: a byte that is not UTF-8, now '?', or
	                    * a raw control character, now ' ' */
	size_t numbers;    /* an integer beyond 64 bits, or a number of 1e308
	                    * or more, now null */
	size_t deep;       /* a container at depth MX_JSON_DEPTH_MAX + 1, now 0 */
};

/* mx_json_repair makes JSON text that jansson (with JSON_ALLOW_NUL) would
 * refuse for what a member wrote into text it accepts, without moving a
 * byte: every rewrite keeps the length (a value becomes "null" or "0" and
 * spaces), so offsets still match the input. It understands string escapes
 * ("\\ud800" is a backslash and text, not a surrogate) and leaves text
 * outside strings alone, so a body that is not JSON stays not JSON. A
 * valid surrogate pair is kept. Linear time, no recursion.
 * *out is NULL when nothing needed changing (read in as it is), else a new
 * buffer of len bytes and a NUL the caller frees. r (may be NULL) counts
 * the rewrites. ERR_NOMEM only. */
enum err mx_json_repair(const char *in, size_t len, char **out, struct mx_repair *r);

/* mx_next_batch_scan finds the next_batch of a /sync body that cannot be
 * parsed, by a narrow scan of the bytes: the body must open with an object;
 * strings and nesting are followed, and a key "next_batch" (escapes
 * decoded) directly in that object, followed by a string, is taken (the
 * last one, as a parser keeps the last of a duplicated key). The value is
 * decoded (a lone surrogate becomes U+FFFD) into buf. ERR_PARSE when there
 * is none or it is not usable (see mx_sync_parse), ERR_LIMIT when buf is
 * too small for it (MX_NEXT_BATCH_MAX + 1 is always enough). */
enum err mx_next_batch_scan(const char *json, size_t len, char *buf, size_t buflen);

/* mx_next_batch_usable: s[0..n) is 1 to MX_NEXT_BATCH_MAX bytes with no
 * control character (it is stored in a file and sent back in a URL). */
int mx_next_batch_usable(const char *s, size_t n);

/* mx_json_load parses a body from the network: repaired first
 * (mx_json_repair), a NUL allowed in a string value. Returns a new
 * reference, or NULL when it is not JSON even so (why in *jerr, which may
 * be NULL) or, with *e = ERR_NOMEM, out of memory (e may be NULL). rep
 * (may be NULL) gets the repairs. */
json_t *mx_json_load(const char *json, size_t len, struct mx_repair *rep, json_error_t *jerr,
		     enum err *e);

#endif
