/* mx_html.h -- the HTML and URLs inside what the bot sends to Matrix, no
 * I/O: escaping for HTML text and attributes, percent-encoding for URL
 * parts, plain text rendered as paragraphs, the pill that directs an answer
 * to a member, matrix.to links.
 *
 * formatted_body is HTML inside JSON: jansson quotes the JSON, this module
 * the HTML. The builders append to a struct buf (buf.h), whose ceiling
 * bounds every rendering; a failure shows once, at buf_take. */
#ifndef FAQBOT_MX_HTML_H
#define FAQBOT_MX_HTML_H

#include <stddef.h>

#include "buf.h"
#include "err.h"

#define MX_HTML_MAX (1 << 20) /* an escaped reply or alert */

/* mx_html_put appends s[0..n) escaped for HTML text and attribute values
 * (& < > " '). */
void mx_html_put(struct buf *b, const char *s, size_t n);

/* mx_html_url appends s percent-encoded: everything but RFC 3986
 * unreserved characters, for a path segment or a URL fragment part. */
void mx_html_url(struct buf *b, const char *s);

/* mx_html_text renders plain text: a blank line (possibly with spaces)
 * separates paragraphs, each a <p>; a single newline becomes <br>; all
 * else escaped. lead (HTML, trusted, or NULL) goes at the start of the
 * first paragraph, or in a paragraph of its own when there is none. */
void mx_html_text(struct buf *b, const char *text, const char *lead);

/* mx_html_pill appends the HTML that directs an answer to id: a link to
 * https://matrix.to/#/<id> that a client shows as a pill, and ": ". The
 * anchor text is the id, not the display name the spec suggests: a name
 * is anyone's to choose, and a pill reading "Moderator" must not point
 * elsewhere. */
void mx_html_pill(struct buf *b, const char *id);

/* mx_html_escape appends text, HTML-escaped (& < > " '), to a new string;
 * the caller frees *out. NULL text gives "". */
enum err mx_html_escape(const char *text, char **out);

/* mx_url_escape percent-encodes text (as mx_html_url) into a new string.
 * Caller frees. */
enum err mx_url_escape(const char *text, char **out);

/* mx_matrix_to_link writes https://matrix.to/#/<room>/<event>[?via=..]
 * with each part percent-encoded; the caller frees *out. */
enum err mx_matrix_to_link(const char *room_id, const char *event_id, const char *via, char **out);

/* mx_path writes a request path from fmt, in which every %s is an
 * argument percent-encoded as one path or query part (mx_html_url) and %ld
 * a long; any other '%' is itself. So no id, token or filter from outside
 * can add a path segment or a query key. ERR_LIMIT when it does not fit in
 * len (with its NUL), ERR_NOMEM. */
enum err mx_path(char *buf, size_t len, const char *fmt, ...);

#endif
