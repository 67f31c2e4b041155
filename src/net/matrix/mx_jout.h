/* mx_jout.h -- a jansson tree written out as json_dumps(JSON_COMPACT)
 * writes it, byte for byte, in a quarter of the time: a string is copied
 * a run at a time between the bytes a table says need escaping, where
 * jansson decodes and looks at every code point. What the bot sends (a
 * reply of a few kilobytes, in text and HTML) is written once a message:
 * at 1,000 questions in a batch jansson's writer was most of the cost of
 * queueing them. No I/O; checked against json_dumps in test_mx_jout. */
#ifndef FAQBOT_MX_JOUT_H
#define FAQBOT_MX_JOUT_H

#include <jansson.h>

#include "err.h"

/* mx_jout_dumps writes j (borrowed) into a new string *out the caller
 * frees, as json_dumps(j, JSON_COMPACT) would: keys in the object's
 * order, strings escaped as jansson escapes them (\" \\ \b \f \n \r \t,
 * other bytes under 0x20 as \u00XX, the rest as they are). A tree with a
 * real number in it is handed to json_dumps itself (its formatting of
 * doubles is its own). ERR_NOMEM, or ERR_INVALID for a tree json_dumps
 * would refuse (NULL, too deep). */
enum err mx_jout_dumps(const json_t *j, char **out);

struct buf;

/* For a body written without a tree (a reply, once a message: building
 * the tree cost as much as writing it). mx_jout_utf8_ok says whether
 * s[0..n) is what json_string accepts (UTF-8 with no overlong form, no
 * surrogate, nothing above U+10FFFF); mx_jout_string appends it quoted
 * and escaped as mx_jout_dumps writes a string. */
int mx_jout_utf8_ok(const char *s, size_t n);
void mx_jout_string(struct buf *b, const char *s, size_t n);

#endif
