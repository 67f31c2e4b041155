/* test_mx_body.c -- what the bot sends to Matrix: replies (rich reply,
 * thread, mentions, a pill for a member it is directed to, a link to an
 * earlier answer), alerts (never the message text), notices, the sync
 * filter; hostile ids and HTML in names refused or escaped. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mx_body.h"
#include "mx_html.h"
#include "mx_ids.h"

static const char *jget(const json_t *j, const char *k)
{
	return json_string_value(json_object_get(j, k));
}

/* has_str: the JSON array arr holds the string s. */
static int has_str(const json_t *arr, const char *s)
{
	size_t i;
	json_t *v;

	json_array_foreach(arr, i, v)
	{
		if (json_is_string(v) && !strcmp(json_string_value(v), s))
			return 1;
	}
	return 0;
}

static void test_reply_json(void **st)
{
	struct mx_reply r = {.text = "Line <one> & \"two\"\nsame para\n\n  \nSecond para",
			     .in_reply_to = "$q",
			     .mention = "@a:x"};
	json_t *j, *rel;
	char *out = NULL;

	(void)st;
	assert_int_equal(mx_reply_json(&r, &out), ERR_OK);
	j = json_loads(out, 0, NULL);
	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(j, "msgtype")), "m.notice");
	assert_string_equal(json_string_value(json_object_get(j, "body")), r.text);
	assert_string_equal(json_string_value(json_object_get(j, "format")),
			    "org.matrix.custom.html");
	assert_string_equal(json_string_value(json_object_get(j, "formatted_body")),
			    "<p>Line &lt;one&gt; &amp; &quot;two&quot;<br>same para</p>"
			    "<p>Second para</p>");
	rel = json_object_get(j, "m.relates_to");
	assert_null(json_object_get(rel, "rel_type"));
	assert_string_equal(json_string_value(json_object_get(json_object_get(rel, "m.in_reply_to"),
							      "event_id")),
			    "$q");
	assert_string_equal(
		json_string_value(json_array_get(
			json_object_get(json_object_get(j, "m.mentions"), "user_ids"), 0)),
		"@a:x");
	json_decref(j);
	free(out);

	r.thread_root = "$root";
	assert_int_equal(mx_reply_json(&r, &out), ERR_OK);
	j = json_loads(out, 0, NULL);
	rel = json_object_get(j, "m.relates_to");
	assert_string_equal(json_string_value(json_object_get(rel, "rel_type")), "m.thread");
	assert_string_equal(json_string_value(json_object_get(rel, "event_id")), "$root");
	assert_true(json_is_true(json_object_get(rel, "is_falling_back")));
	json_decref(j);
	free(out);

	r.text = "bad utf8 \xff";
	assert_int_equal(mx_reply_json(&r, &out), ERR_INVALID);
	assert_null(out);
	r.text = "";
	assert_int_equal(mx_reply_json(&r, &out), ERR_INVALID);
	r.text = "ok";
	r.in_reply_to = "not an id";
	assert_int_equal(mx_reply_json(&r, &out), ERR_INVALID);
}

static void test_alert_json(void **st)
{
	static const char *const mods[] = {"@mod:x"};
	struct mx_alert a = {"!r:x",   "$ev:x",     "@a:x", "<img src=x onerror=alert(1)>",
			     "crisis", "crisis-uk", "x",    mods,
			     1};
	const char *body, *html;
	char *out = NULL;
	json_t *j;

	(void)st;
	assert_int_equal(mx_alert_json(&a, &out), ERR_OK);
	j = json_loads(out, 0, NULL);
	assert_non_null(j);
	body = json_string_value(json_object_get(j, "body"));
	html = json_string_value(json_object_get(j, "formatted_body"));
	assert_non_null(strstr(body, "https://matrix.to/#/%21r%3Ax/%24ev%3Ax?via=x"));
	assert_non_null(strstr(body, "crisis"));
	assert_non_null(strstr(body, "@a:x"));
	assert_null(strstr(html, "<img"));
	assert_non_null(strstr(html, "&lt;img src=x onerror=alert(1)&gt;"));
	assert_string_equal(
		json_string_value(json_array_get(
			json_object_get(json_object_get(j, "m.mentions"), "user_ids"), 0)),
		"@mod:x");
	json_decref(j);
	free(out);
}

/* A reply directed to another member: they, not the asker, are in
 * m.mentions; body and formatted_body start with them, as a pill. */
static void test_reply_directed(void **st)
{
	struct mx_reply r = {.text = "TMS is <magnetic> & safe.\n\nSecond.",
			     .in_reply_to = "$q",
			     .mention = "@bob:hs.test",
			     .directed = 1};
	json_t *j, *ids;
	char *out = NULL;

	(void)st;
	assert_int_equal(mx_reply_json(&r, &out), ERR_OK);
	j = json_loads(out, 0, NULL);
	assert_non_null(j);
	assert_string_equal(jget(j, "body"), "@bob:hs.test: TMS is <magnetic> & safe.\n\nSecond.");
	assert_string_equal(jget(j, "formatted_body"),
			    "<p><a href=\"https://matrix.to/#/%40bob%3Ahs.test\">@bob:hs.test</a>: "
			    "TMS is &lt;magnetic&gt; &amp; safe.</p><p>Second.</p>");
	ids = json_object_get(json_object_get(j, "m.mentions"), "user_ids");
	assert_int_equal(json_array_size(ids), 1);
	assert_string_equal(json_string_value(json_array_get(ids, 0)), "@bob:hs.test");
	json_decref(j);
	free(out);

	/* an IPv6 server: brackets and colons percent-encoded in the link */
	r.mention = "@bob:[::1]:8448";
	assert_int_equal(mx_reply_json(&r, &out), ERR_OK);
	j = json_loads(out, 0, NULL);
	assert_non_null(strstr(jget(j, "formatted_body"),
			       "<a href=\"https://matrix.to/#/%40bob%3A%5B%3A%3A1%5D%3A8448\">"
			       "@bob:[::1]:8448</a>: "));
	json_decref(j);
	free(out);

	/* a text of blanks only: the pill still stands in a paragraph */
	r.text = " ";
	assert_int_equal(mx_reply_json(&r, &out), ERR_OK);
	j = json_loads(out, 0, NULL);
	assert_string_equal(jget(j, "formatted_body"),
			    "<p><a href=\"https://matrix.to/#/%40bob%3A%5B%3A%3A1%5D%3A8448\">"
			    "@bob:[::1]:8448</a>: </p>");
	json_decref(j);
	free(out);

	/* what is not a user id is never written as one */
	r.text = "x";
	r.mention = "@bob:x\"><script>alert(1)</script>";
	assert_int_equal(mx_reply_json(&r, &out), ERR_INVALID);
	assert_null(out);
	r.mention = NULL;
	assert_int_equal(mx_reply_json(&r, &out), ERR_INVALID);
}

/* A link to an earlier answer: a last paragraph, escaped in HTML. */
static void test_reply_see_link(void **st)
{
	struct mx_reply r = {
		.text = "Answered just above.", .in_reply_to = "$q", .mention = "@a:x"};
	char *link = NULL, *out = NULL;
	json_t *j;

	(void)st;
	assert_int_equal(mx_matrix_to_link("!r:x", "$ans/1+2", NULL, &link), ERR_OK);
	assert_string_equal(link, "https://matrix.to/#/%21r%3Ax/%24ans%2F1%2B2");
	r.see_link = link;
	r.see_answer = 1;
	assert_int_equal(mx_reply_json(&r, &out), ERR_OK);
	j = json_loads(out, 0, NULL);
	assert_string_equal(jget(j, "body"), "Answered just above.\n\nEarlier answer: "
					     "https://matrix.to/#/%21r%3Ax/%24ans%2F1%2B2");
	assert_string_equal(jget(j, "formatted_body"),
			    "<p>Answered just above.</p><p>Earlier answer: <a href=\""
			    "https://matrix.to/#/%21r%3Ax/%24ans%2F1%2B2\">"
			    "https://matrix.to/#/%21r%3Ax/%24ans%2F1%2B2</a></p>");
	json_decref(j);
	free(out);
	free(link);

	/* the earlier message itself, and a link with HTML specials */
	r.see_link = "https://x.test/?a=1&b=\"<2>\"";
	r.see_answer = 0;
	assert_int_equal(mx_reply_json(&r, &out), ERR_OK);
	j = json_loads(out, 0, NULL);
	assert_non_null(strstr(jget(j, "body"), "\n\nEarlier message: https://x.test/"));
	assert_non_null(strstr(jget(j, "formatted_body"),
			       "<p>Earlier message: <a href=\"https://x.test/?a=1&amp;b="
			       "&quot;&lt;2&gt;&quot;\">"));
	assert_null(strstr(jget(j, "formatted_body"), "<2>"));
	json_decref(j);
	free(out);
}

static void test_notice_json(void **st)
{
	char *out = NULL;
	json_t *j;

	(void)st;
	assert_int_equal(mx_notice_json("FAQ reloaded: 3 <entries> & \"more\"\nfine", &out),
			 ERR_OK);
	j = json_loads(out, 0, NULL);
	assert_non_null(j);
	assert_string_equal(jget(j, "msgtype"), "m.notice");
	assert_string_equal(jget(j, "body"), "FAQ reloaded: 3 <entries> & \"more\"\nfine");
	assert_string_equal(jget(j, "format"), "org.matrix.custom.html");
	assert_string_equal(
		jget(j, "formatted_body"),
		"<p>FAQ reloaded: 3 &lt;entries&gt; &amp; &quot;more&quot;<br>fine</p>");
	assert_int_equal(
		json_array_size(json_object_get(json_object_get(j, "m.mentions"), "user_ids")), 0);
	assert_null(json_object_get(j, "m.relates_to"));
	json_decref(j);
	free(out);
	assert_int_equal(mx_notice_json("", &out), ERR_INVALID);
	assert_int_equal(mx_notice_json(NULL, &out), ERR_INVALID);
	assert_int_equal(mx_notice_json("bad \xff", &out), ERR_INVALID);
	assert_null(out);
}

/* The filter asks for power levels in state and timeline, and stays lean:
 * no presence, account data or ephemeral events (spec: sync_filter). */
static void test_filter_power_levels(void **st)
{
	json_t *j, *room;
	char *out = NULL;

	(void)st;
	assert_int_equal(mx_filter_json(50, &out), ERR_OK);
	j = json_loads(out, 0, NULL);
	assert_non_null(j);
	room = json_object_get(j, "room");
	assert_true(has_str(json_object_get(json_object_get(room, "state"), "types"),
			    "m.room.power_levels"));
	assert_true(
		has_str(json_object_get(json_object_get(room, "state"), "types"), "m.room.member"));
	assert_true(has_str(json_object_get(json_object_get(room, "timeline"), "types"),
			    "m.room.power_levels"));
	assert_true(
		json_is_true(json_object_get(json_object_get(room, "state"), "lazy_load_members")));
	assert_true(has_str(json_object_get(json_object_get(j, "presence"), "not_types"), "*"));
	assert_true(has_str(json_object_get(json_object_get(room, "ephemeral"), "not_types"), "*"));
	/* and m.room.encryption, whether replies in the room are encrypted */
	assert_true(has_str(json_object_get(json_object_get(room, "state"), "types"),
			    "m.room.encryption"));
	assert_true(has_str(json_object_get(json_object_get(room, "timeline"), "types"),
			    "m.room.encryption"));
	assert_int_equal(json_array_size(json_object_get(json_object_get(room, "state"), "types")),
			 3);
	json_decref(j);
	free(out);
}

/* reference: the reply's content as the jansson tree mx_reply_json once
 * built (keys in that order), written by json_dumps */
static char *reply_by_tree(const char *body, const char *html, const char *irt_id, const char *root,
			   const char *mention)
{
	json_t *c = json_object(), *rel = json_object(), *irt = json_object();
	json_t *men = json_object(), *ids = json_array();
	char *out;

	json_object_set_new(c, "msgtype", json_string("m.notice"));
	json_object_set_new(c, "body", json_string(body));
	json_object_set_new(c, "format", json_string("org.matrix.custom.html"));
	json_object_set_new(c, "formatted_body", json_string(html));
	json_object_set_new(irt, "event_id", json_string(irt_id));
	if (root) {
		json_object_set_new(rel, "rel_type", json_string("m.thread"));
		json_object_set_new(rel, "event_id", json_string(root));
		json_object_set_new(rel, "is_falling_back", json_true());
	}
	json_object_set_new(rel, "m.in_reply_to", irt);
	json_object_set_new(c, "m.relates_to", rel);
	if (mention)
		json_array_append_new(ids, json_string(mention));
	json_object_set_new(men, "user_ids", ids);
	json_object_set_new(c, "m.mentions", men);
	out = json_dumps(c, JSON_COMPACT);
	json_decref(c);
	return out;
}

/* The reply is written without a tree now: byte for byte what the tree
 * gave, for every shape (thread, directed, no mention, a link, escapes,
 * control bytes, non-ASCII); text json_string refuses is refused alike. */
static void test_reply_bytes(void **st)
{
	static const char *texts[] = {
		"what is tms? It is a treatment.",
		"Quotes \" and \\ back\tslash\r\n\b\f\x01\x1f <b>&amp;</b>\n\nnext",
		"caf\xc3\xa9 \xe2\x80\x94 \xf0\x9f\x92\x99 \xe2\x80\xa8 line sep",
	};
	static const char *bad[] = {"\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80",
				    "\xe2\x82", "\x80",         "ok \xff"};
	const char *roots[] = {NULL, "$root:x"}, *mentions[] = {NULL, "@a:x", "@b:x"};
	size_t t, k, i;

	(void)st;
	for (t = 0; t < sizeof(texts) / sizeof(texts[0]); t++)
		for (k = 0; k < 2; k++)
			for (i = 0; i < 3; i++) {
				struct mx_reply r = {
					.text = texts[t],
					.in_reply_to = "$q:x",
					.thread_root = roots[k],
					.mention = mentions[i],
					.directed = i == 2,
					.see_link = t == 1 ? "https://matrix.to/#/!r:x/$e" : NULL,
					.see_answer = (int)k};
				char *out = NULL, *ref;
				json_t *j;

				assert_int_equal(mx_reply_json(&r, &out), ERR_OK);
				j = json_loads(out, 0, NULL);
				assert_non_null(j);
				ref = reply_by_tree(jget(j, "body"), jget(j, "formatted_body"),
						    "$q:x", roots[k], mentions[i]);
				assert_string_equal(out, ref);
				free(ref);
				json_decref(j);
				free(out);
			}
	for (t = 0; t < sizeof(bad) / sizeof(bad[0]); t++) {
		struct mx_reply r = {.text = bad[t], .in_reply_to = "$q:x", .mention = "@a:x"};
		char *out = (char *)1;

		assert_int_equal(mx_reply_json(&r, &out), ERR_INVALID);
		assert_null(out);
		r.text = "fine";
		r.mention = bad[t]; /* not directed: only m.mentions names it */
		assert_int_equal(mx_reply_json(&r, &out), ERR_INVALID);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reply_json),          cmocka_unit_test(test_reply_bytes),
		cmocka_unit_test(test_alert_json),          cmocka_unit_test(test_reply_directed),
		cmocka_unit_test(test_reply_see_link),      cmocka_unit_test(test_notice_json),
		cmocka_unit_test(test_filter_power_levels),
	};

	return cmocka_run_group_tests_name("mx_body", tests, NULL, NULL);
}
