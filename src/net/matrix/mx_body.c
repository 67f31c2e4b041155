/* mx_body.c -- the JSON bodies the bot sends (see mx_body.h): jansson
 * builds the objects, mx_html renders the HTML inside them. */
#include "mx_body.h"

#include "mx_jout.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "mx_html.h"
#include "mx_ids.h"

/* a reply's JSON at most, as mx_jout_dumps allowed the tree's */
#define REPLY_JSON_MAX (1 << 26)

/* dumps serialises obj compactly into a new string. */
static enum err dumps(json_t *obj, char **out)
{
	return mx_jout_dumps(obj, out); /* json_dumps's bytes, faster */
}

/* set_s sets obj[key] to a new string; ERR_INVALID for bad UTF-8. */
static enum err set_s(json_t *obj, const char *key, const char *val)
{
	json_t *v = json_string(val);

	if (!v)
		return ERR_INVALID;
	return json_object_set_new(obj, key, v) ? ERR_NOMEM : ERR_OK;
}

static enum err mentions(json_t *content, const char *const *ids, size_t n)
{
	json_t *m = json_object(), *arr = json_array();
	enum err e = ERR_OK;
	size_t i;

	if (!m || !arr) {
		e = ERR_NOMEM;
		goto out;
	}
	for (i = 0; i < n && e == ERR_OK; i++)
		if (json_array_append_new(arr, json_string(ids[i])))
			e = ERR_INVALID;
	if (e == ERR_OK && json_object_set_new(m, "user_ids", arr))
		e = ERR_NOMEM;
	arr = NULL;
	if (e == ERR_OK && json_object_set_new(content, "m.mentions", m))
		e = ERR_NOMEM;
	m = NULL;
out:
	json_decref(arr);
	json_decref(m);
	return e;
}

/* reply_texts writes the body and formatted_body of a reply into new
 * strings (*body, *html), both NULL on failure. */
static enum err reply_texts(const struct mx_reply *r, char **body, char **html)
{
	const char *label = r->see_answer ? "Earlier answer: " : "Earlier message: ";
	struct buf lead, b, h;
	enum err e;

	buf_init(&lead, 16 * MX_ID_MAX);
	buf_init(&b, MX_HTML_MAX);
	buf_init(&h, MX_HTML_MAX);
	if (r->directed) {
		mx_html_pill(&lead, r->mention);
		buf_puts(&b, r->mention);
		buf_puts(&b, ": ");
	}
	buf_puts(&b, r->text);
	if (lead.failed) {
		h.failed = 1;
		h.nomem = lead.nomem;
	}
	mx_html_text(&h, r->text, lead.s);
	if (r->see_link) {
		buf_puts(&b, "\n\n");
		buf_puts(&b, label);
		buf_puts(&b, r->see_link);
		buf_puts(&h, "<p>");
		buf_puts(&h, label);
		buf_puts(&h, "<a href=\"");
		mx_html_put(&h, r->see_link, strlen(r->see_link));
		buf_puts(&h, "\">");
		mx_html_put(&h, r->see_link, strlen(r->see_link));
		buf_puts(&h, "</a></p>");
	}
	buf_release(&lead);
	e = buf_take(&b, body);
	if (e == ERR_OK)
		e = buf_take(&h, html);
	buf_release(&h);
	if (e != ERR_OK) {
		free(*body);
		*body = NULL;
	}
	return e;
}

/* put_field appends ,"key":"val" (no comma first when first); 0 when
 * val is not UTF-8 (json_string would refuse it) */
static int put_field(struct buf *b, int first, const char *key, const char *val)
{
	size_t n = strlen(val);

	if (!mx_jout_utf8_ok(val, n))
		return 0;
	if (!first)
		buf_append(b, ",", 1);
	mx_jout_string(b, key, strlen(key));
	buf_append(b, ":", 1);
	mx_jout_string(b, val, n);
	return 1;
}

/* mx_reply_json writes the reply's JSON directly, the bytes the jansson
 * tree it once built gave (its keys in the order they were set, written
 * as mx_jout writes them; test_mx_body compares the two): building the
 * tree was most of the cost of queueing a reply, once a message. */
enum err mx_reply_json(const struct mx_reply *r, char **out)
{
	char *html = NULL, *body = NULL;
	struct buf b;
	enum err e;
	int ok;

	*out = NULL;
	if (!r->text || !*r->text || !mx_id_valid(r->in_reply_to, '$') ||
	    (r->thread_root && !mx_id_valid(r->thread_root, '$')) ||
	    (r->directed && !mx_user_id_valid(r->mention)))
		return ERR_INVALID;
	e = reply_texts(r, &body, &html);
	if (e != ERR_OK)
		return e;
	buf_init(&b, REPLY_JSON_MAX);
	buf_append(&b, "{", 1);
	ok = put_field(&b, 1, "msgtype", "m.notice") && put_field(&b, 0, "body", body) &&
	     put_field(&b, 0, "format", "org.matrix.custom.html") &&
	     put_field(&b, 0, "formatted_body", html);
	if (ok) {
		buf_puts(&b, ",\"m.relates_to\":{");
		if (r->thread_root) {
			ok = put_field(&b, 1, "rel_type", "m.thread") &&
			     put_field(&b, 0, "event_id", r->thread_root);
			buf_puts(&b, ",\"is_falling_back\":true,");
		}
		buf_puts(&b, "\"m.in_reply_to\":{");
		ok = ok && put_field(&b, 1, "event_id", r->in_reply_to);
		buf_puts(&b, "}},\"m.mentions\":{\"user_ids\":[");
	}
	if (ok && r->mention) {
		ok = mx_jout_utf8_ok(r->mention, strlen(r->mention));
		mx_jout_string(&b, r->mention, strlen(r->mention));
	}
	buf_puts(&b, "]}}");
	free(html);
	free(body);
	if (!ok) {
		buf_release(&b);
		return ERR_INVALID;
	}
	return buf_take(&b, out) == ERR_OK ? ERR_OK : ERR_NOMEM;
}

/* alert_line appends one rendering of the alert; html says which. */
static void alert_line(struct buf *b, const struct mx_alert *a, const char *link, int html)
{
	/* what came from outside is escaped in the HTML rendering only */
#define PUT(s) (html ? mx_html_put(b, (s), strlen(s)) : buf_puts(b, (s)))
	buf_puts(b, html ? "<p><strong>faqbot: " : "faqbot: ");
	PUT(a->kind);
	buf_puts(b, html ? "</strong> message from " : " message from ");
	if (a->sender_name && *a->sender_name) {
		PUT(a->sender_name);
		buf_puts(b, " (");
		PUT(a->sender);
		buf_puts(b, ")");
	} else {
		PUT(a->sender);
	}
	buf_puts(b, " in ");
	PUT(a->room_id);
	if (a->entry_id && *a->entry_id) {
		buf_puts(b, ", answered with ");
		PUT(a->entry_id);
	}
	buf_puts(b, ". The message itself is not copied here: ");
	if (html) {
		buf_puts(b, "<a href=\"");
		PUT(link);
		buf_puts(b, "\">");
		PUT(link);
		buf_puts(b, "</a></p>");
	} else {
		PUT(link);
	}
#undef PUT
}

/* content_json builds {msgtype, body, format, formatted_body, m.mentions}
 * and serialises it into *out: the shape of an alert and of a notice. */
static enum err content_json(const char *msgtype, const char *body, const char *html,
			     const char *const *ids, size_t n, char **out)
{
	json_t *c = json_object();
	enum err e;

	if (!c)
		return ERR_NOMEM;
	e = set_s(c, "msgtype", msgtype);
	if (e == ERR_OK)
		e = set_s(c, "body", body);
	if (e == ERR_OK)
		e = set_s(c, "format", "org.matrix.custom.html");
	if (e == ERR_OK)
		e = set_s(c, "formatted_body", html);
	if (e == ERR_OK)
		e = mentions(c, ids, n);
	if (e == ERR_OK)
		e = dumps(c, out);
	json_decref(c);
	return e;
}

enum err mx_alert_json(const struct mx_alert *a, char **out)
{
	char *link = NULL, *text = NULL, *html = NULL;
	struct buf t, h;
	enum err e;

	*out = NULL;
	if (!mx_id_valid(a->room_id, '!') || !mx_id_valid(a->event_id, '$') ||
	    !mx_id_valid(a->sender, '@') || !a->kind)
		return ERR_INVALID;
	e = mx_matrix_to_link(a->room_id, a->event_id, a->via, &link);
	if (e != ERR_OK)
		return e;
	buf_init(&t, MX_HTML_MAX);
	buf_init(&h, MX_HTML_MAX);
	alert_line(&t, a, link, 0);
	alert_line(&h, a, link, 1);
	e = buf_take(&t, &text);
	if (e == ERR_OK)
		e = buf_take(&h, &html);
	/* m.text, not m.notice: moderators must be notified, and notices are
	 * quiet by default in most clients. */
	if (e == ERR_OK)
		e = content_json("m.text", text, html, a->mentions, a->mentions ? a->n_mentions : 0,
				 out);
	buf_release(&h);
	free(link);
	free(text);
	free(html);
	return e;
}

enum err mx_notice_json(const char *text, char **out)
{
	char *html = NULL;
	struct buf h;
	enum err e;

	*out = NULL;
	if (!text || !*text)
		return ERR_INVALID;
	buf_init(&h, MX_HTML_MAX);
	mx_html_text(&h, text, NULL);
	e = buf_take(&h, &html);
	/* news, not an alarm: it mentions no one */
	if (e == ERR_OK)
		e = content_json("m.notice", text, html, NULL, 0, out);
	free(html);
	return e;
}

enum err mx_login_json(const char *user_id, const char *password, const char *device_id, char **out)
{
	json_t *c = json_object(), *id = json_object();
	enum err e = ERR_OK;

	*out = NULL;
	if (!c || !id) {
		e = ERR_NOMEM;
		goto out;
	}
	e = set_s(id, "type", "m.id.user");
	if (e == ERR_OK)
		e = set_s(id, "user", user_id);
	if (e == ERR_OK)
		e = set_s(c, "type", "m.login.password");
	if (e == ERR_OK)
		e = set_s(c, "password", password);
	if (e == ERR_OK && device_id && *device_id)
		e = set_s(c, "device_id", device_id);
	if (e == ERR_OK)
		e = set_s(c, "initial_device_display_name", "faqbot");
	if (e == ERR_OK && json_object_set(c, "identifier", id))
		e = ERR_NOMEM;
	if (e == ERR_OK)
		e = dumps(c, out);
out:
	json_decref(id);
	json_decref(c);
	return e;
}

enum err mx_filter_json(int timeline_limit, char **out)
{
	json_t *f;

	*out = NULL;
	/* No presence, no account data, no ephemeral events (typing,
	 * receipts); state only for member events, lazily, which is enough
	 * for names, and the power levels (one event a room, for
	 * sender_power), m.room.encryption (whether replies there are
	 * encrypted, and how often its key turns); the timeline only for
	 * what mx_sync_parse reads. */
	f = json_pack("{s:{s:[s]}, s:{s:[s]}, s:{s:{s:[s]}, s:{s:[s]},"
		      " s:{s:[s,s,s], s:b}, s:{s:[s,s,s,s,s,s], s:i}}}",
		      "presence", "not_types", "*", "account_data", "not_types", "*", "room",
		      "account_data", "not_types", "*", "ephemeral", "not_types", "*", "state",
		      "types", "m.room.member", "m.room.power_levels", "m.room.encryption",
		      "lazy_load_members", 1, "timeline", "types", "m.room.message",
		      "m.room.member", "m.room.power_levels", "m.room.redaction",
		      "m.room.encrypted", "m.room.encryption", "limit", timeline_limit);
	if (!f)
		return ERR_NOMEM;
	*out = json_dumps(f, JSON_COMPACT);
	json_decref(f);
	return *out ? ERR_OK : ERR_NOMEM;
}

enum err mx_filter_first_json(char **out)
{
	json_t *f;

	*out = NULL;
	/* lazy_load_members stays: servers compute the summary with it */
	f = json_pack("{s:{s:[s]}, s:{s:[s]}, s:{s:{s:[s]}, s:{s:[s]},"
		      " s:{s:[], s:b}, s:{s:[], s:i}}}",
		      "presence", "not_types", "*", "account_data", "not_types", "*", "room",
		      "account_data", "not_types", "*", "ephemeral", "not_types", "*", "state",
		      "types", "lazy_load_members", 1, "timeline", "types", "limit", 1);
	if (!f)
		return ERR_NOMEM;
	*out = json_dumps(f, JSON_COMPACT);
	json_decref(f);
	return *out ? ERR_OK : ERR_NOMEM;
}
