/* test_mx_json.c -- mx_json: sync responses in, replies and alerts out.
 *
 * Hostile input throughout: wrong types at every level, truncation at every
 * byte, ids with control characters, HTML in names and bodies. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mx_json.h"

#define BOT "@faqbot:hs.test"

static struct mx_sync *parse_ok(const char *json)
{
	struct mx_sync *s = NULL;
	char err[128] = "";

	assert_int_equal(mx_sync_parse(json, strlen(json), BOT, &s, err, sizeof(err)),
	                 ERR_OK);
	assert_non_null(s);
	return s;
}

/* A joined room's timeline with one event (ev is a JSON object text). */
static char *one_event(const char *ev)
{
	static const char fmt[] =
	    "{\"next_batch\":\"s2\",\"rooms\":{\"join\":{\"!r:hs.test\":"
	    "{\"timeline\":{\"events\":[%s]}}}}}";
	size_t n = strlen(fmt) + strlen(ev) + 1;
	char *p = malloc(n);

	assert_non_null(p);
	snprintf(p, n, fmt, ev);
	return p;
}

static struct mx_sync *parse_event(const char *ev)
{
	char *j = one_event(ev);
	struct mx_sync *s = parse_ok(j);

	free(j);
	return s;
}

static void test_plain_message(void **st)
{
	struct mx_sync *s = parse_event(
	    "{\"type\":\"m.room.message\",\"event_id\":\"$e1\",\"sender\":\"@a:hs.test\","
	    "\"origin_server_ts\":1700000000000,"
	    "\"content\":{\"msgtype\":\"m.text\",\"body\":\"what is TMS?\"}}");

	(void)st;
	assert_string_equal(s->next_batch, "s2");
	assert_int_equal(s->n, 1);
	assert_int_equal(s->actions[0].kind, MX_ACT_MESSAGE);
	assert_int_equal(s->actions[0].ignore, MX_IGN_NONE);
	assert_string_equal(s->actions[0].room_id, "!r:hs.test");
	assert_string_equal(s->actions[0].event_id, "$e1");
	assert_string_equal(s->actions[0].sender, "@a:hs.test");
	assert_string_equal(s->actions[0].body, "what is TMS?");
	assert_string_equal(s->actions[0].msgtype, "m.text");
	assert_true(s->actions[0].ts == 1700000000000LL);
	assert_null(s->actions[0].thread_root);
	assert_false(s->actions[0].mentions_bot);
	assert_int_equal(s->skipped, 0);
	mx_sync_free(s);
}

static void test_ignored_kinds(void **st)
{
	static const struct {
		const char *ev;
		enum mx_ignore want;
	} cases[] = {
	    {"{\"type\":\"m.room.message\",\"event_id\":\"$n\",\"sender\":\"@a:x\","
	     "\"content\":{\"msgtype\":\"m.notice\",\"body\":\"hi\"}}",
	     MX_IGN_NOTICE},
	    {"{\"type\":\"m.room.message\",\"event_id\":\"$o\",\"sender\":\"" BOT "\","
	     "\"content\":{\"msgtype\":\"m.text\",\"body\":\"hi\"}}",
	     MX_IGN_OWN},
	    {"{\"type\":\"m.room.message\",\"event_id\":\"$e\",\"sender\":\"@a:x\","
	     "\"content\":{\"msgtype\":\"m.text\",\"body\":\"* fixed\","
	     "\"m.new_content\":{\"msgtype\":\"m.text\",\"body\":\"fixed\"},"
	     "\"m.relates_to\":{\"rel_type\":\"m.replace\",\"event_id\":\"$o\"}}}",
	     MX_IGN_EDIT},
	    {"{\"type\":\"m.room.redaction\",\"event_id\":\"$r\",\"sender\":\"@a:x\","
	     "\"redacts\":\"$o\",\"content\":{}}",
	     MX_IGN_REDACTION},
	    {"{\"type\":\"m.room.message\",\"event_id\":\"$d\",\"sender\":\"@a:x\","
	     "\"content\":{},\"unsigned\":{\"redacted_because\":{}}}",
	     MX_IGN_REDACTION},
	    {"{\"type\":\"m.room.message\",\"event_id\":\"$i\",\"sender\":\"@a:x\","
	     "\"content\":{\"msgtype\":\"m.image\",\"body\":\"cat.png\"}}",
	     MX_IGN_MSGTYPE},
	    {"{\"type\":\"m.room.encrypted\",\"event_id\":\"$c\",\"sender\":\"@a:x\","
	     "\"content\":{\"algorithm\":\"m.megolm.v1.aes-sha2\"}}",
	     MX_IGN_ENCRYPTED},
	    {"{\"type\":\"m.room.message\",\"event_id\":\"$w\",\"sender\":\"@a:x\","
	     "\"content\":{\"msgtype\":\"m.text\",\"body\":\" \\n\\t\"}}",
	     MX_IGN_EMPTY},
	    {"{\"type\":\"m.room.message\",\"event_id\":\"$m\",\"sender\":\"@a:x\","
	     "\"content\":{\"msgtype\":\"m.emote\",\"body\":\"waves\"}}",
	     MX_IGN_NONE},
	};
	struct mx_sync *s;
	size_t i;

	(void)st;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		s = parse_event(cases[i].ev);
		assert_int_equal(s->n, 1);
		assert_int_equal(s->actions[0].ignore, cases[i].want);
		mx_sync_free(s);
	}
}

static void test_thread_and_reply(void **st)
{
	struct mx_sync *s = parse_event(
	    "{\"type\":\"m.room.message\",\"event_id\":\"$t2\",\"sender\":\"@a:x\","
	    "\"content\":{\"msgtype\":\"m.text\",\"body\":\"> <@b:x> earlier\\n> more\\n\\n"
	    "how long does ketamine last?\",\"m.relates_to\":{\"rel_type\":\"m.thread\","
	    "\"event_id\":\"$root\",\"m.in_reply_to\":{\"event_id\":\"$t1\"}},"
	    "\"m.mentions\":{\"user_ids\":[\"" BOT "\"]}}}");

	(void)st;
	assert_int_equal(s->n, 1);
	assert_string_equal(s->actions[0].thread_root, "$root");
	assert_string_equal(s->actions[0].reply_to, "$t1");
	assert_string_equal(s->actions[0].body, "how long does ketamine last?");
	assert_true(s->actions[0].mentions_bot);
	mx_sync_free(s);
}

static void test_strip_fallback(void **st)
{
	static const char *const cases[][2] = {
	    {"> <@a:x> hi\n\nreal", "real"},
	    {"> <@a:x> hi\r\n\r\nreal", "real"},
	    {"> a\n> b\n\nreal\n\nmore", "real\n\nmore"},
	    {"> only a quote", "> only a quote"},
	    {"> quote\nno blank line", "> quote\nno blank line"},
	    {">no space\n\nx", ">no space\n\nx"},
	    {"plain", "plain"},
	    {"", ""},
	    {"> \n\n", ""},
	};
	char buf[64];
	size_t i;

	(void)st;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(buf, sizeof(buf), "%s", cases[i][0]);
		mx_strip_reply_fallback(buf);
		assert_string_equal(buf, cases[i][1]);
	}
	mx_strip_reply_fallback(NULL);
}

static void test_membership(void **st)
{
	static const char json[] =
	    "{\"next_batch\":\"s9\",\"rooms\":{"
	    "\"leave\":{"
	    " \"!k:x\":{\"timeline\":{\"events\":[{\"type\":\"m.room.member\","
	    "  \"state_key\":\"" BOT "\",\"sender\":\"@mod:x\",\"event_id\":\"$1\","
	    "  \"content\":{\"membership\":\"leave\"}}]}},"
	    " \"!b:x\":{\"timeline\":{\"events\":[{\"type\":\"m.room.member\","
	    "  \"state_key\":\"" BOT "\",\"sender\":\"@mod:x\",\"event_id\":\"$2\","
	    "  \"content\":{\"membership\":\"ban\"}}]}},"
	    " \"!l:x\":{\"timeline\":{\"events\":[{\"type\":\"m.room.member\","
	    "  \"state_key\":\"" BOT "\",\"sender\":\"" BOT "\",\"event_id\":\"$3\","
	    "  \"content\":{\"membership\":\"leave\"}}]}}},"
	    "\"invite\":{\"!i:x\":{\"invite_state\":{\"events\":["
	    " {\"type\":\"m.room.name\",\"state_key\":\"\",\"sender\":\"@c:y\","
	    "  \"content\":{\"name\":\"<b>x</b>\"}},"
	    " {\"type\":\"m.room.member\",\"state_key\":\"" BOT "\",\"sender\":\"@c:y\","
	    "  \"content\":{\"membership\":\"invite\",\"is_direct\":true}}]}}},"
	    "\"join\":{\"!j:x\":{\"summary\":{\"m.joined_member_count\":2},"
	    " \"state\":{\"events\":[{\"type\":\"m.room.member\",\"state_key\":\"@a:x\","
	    "  \"sender\":\"@a:x\",\"content\":{\"membership\":\"join\","
	    "  \"displayname\":\"<script>alert(1)</script>\"}}]},"
	    " \"timeline\":{\"limited\":true,\"events\":[{\"type\":\"m.room.member\","
	    "  \"state_key\":\"" BOT "\",\"sender\":\"" BOT "\",\"event_id\":\"$4\","
	    "  \"content\":{\"membership\":\"join\"}},"
	    "  {\"type\":\"m.room.message\",\"event_id\":\"$5\",\"sender\":\"@a:x\","
	    "  \"content\":{\"msgtype\":\"m.text\",\"body\":\"hi " BOT "\"}}]}}}}}";
	struct mx_sync *s = parse_ok(json);
	int seen[8] = {0};
	size_t i;

	(void)st;
	assert_int_equal(s->gaps, 1);
	for (i = 0; i < s->n; i++) {
		struct mx_action *a = &s->actions[i];

		seen[a->kind]++;
		switch (a->kind) {
		case MX_ACT_KICKED:
			assert_string_equal(a->room_id, "!k:x");
			assert_string_equal(a->sender, "@mod:x");
			break;
		case MX_ACT_BANNED: assert_string_equal(a->room_id, "!b:x"); break;
		case MX_ACT_LEFT: assert_string_equal(a->room_id, "!l:x"); break;
		case MX_ACT_INVITE:
			assert_string_equal(a->sender, "@c:y");
			assert_true(a->is_direct);
			break;
		case MX_ACT_SUMMARY: assert_int_equal(a->members, 2); break;
		case MX_ACT_JOINED: assert_string_equal(a->room_id, "!j:x"); break;
		case MX_ACT_NAME:
			if (!strcmp(a->sender, "@a:x"))
				assert_string_equal(a->sender_name, "<script>alert(1)</script>");
			else
				assert_null(a->sender_name); /* the bot, no name */
			break;
		case MX_ACT_MESSAGE:
			assert_string_equal(a->sender_name, "<script>alert(1)</script>");
			assert_true(a->mentions_bot);
			break;
		}
	}
	for (i = 0; i < 8; i++)
		assert_int_equal(seen[i], i == MX_ACT_NAME ? 2 : 1);
	mx_sync_free(s);
}

/* Wrong types at every level: skipped and counted, never a crash. */
static void test_hostile_shapes(void **st)
{
	static const char *const ok[] = {
	    "{\"next_batch\":\"x\"}",
	    "{\"next_batch\":\"x\",\"rooms\":[]}",
	    "{\"next_batch\":\"x\",\"rooms\":{\"join\":[]}}",
	    "{\"next_batch\":\"x\",\"rooms\":{\"join\":{\"!r:x\":1}}}",
	    "{\"next_batch\":\"x\",\"rooms\":{\"join\":{\"notaroom\":{}}}}",
	    "{\"next_batch\":\"x\",\"rooms\":{\"join\":{\"!r:x\":{\"timeline\":1}}}}",
	    "{\"next_batch\":\"x\",\"rooms\":{\"join\":{\"!r:x\":{\"timeline\":"
	    "{\"events\":[1,null,\"s\",[],{},{\"type\":7}]}}}}}",
	    "{\"next_batch\":\"x\",\"rooms\":{\"join\":{\"!r:x\":{\"timeline\":"
	    "{\"events\":[{\"type\":\"m.room.message\"}]}}}}}",
	    "{\"next_batch\":\"x\",\"rooms\":{\"join\":{\"!r:x\":{\"timeline\":"
	    "{\"events\":[{\"type\":\"m.room.message\",\"event_id\":\"$a b\","
	    "\"sender\":\"@a:x\",\"content\":{\"msgtype\":\"m.text\",\"body\":\"x\"}}]}}}}}",
	    "{\"next_batch\":\"x\",\"rooms\":{\"join\":{\"!r:x\":{\"timeline\":"
	    "{\"events\":[{\"type\":\"m.room.message\",\"event_id\":\"$a\","
	    "\"sender\":\"@a:x\",\"content\":{\"msgtype\":1,\"body\":[]}}]}}}}}",
	    "{\"next_batch\":\"x\",\"rooms\":{\"join\":{\"!r:x\":{\"timeline\":"
	    "{\"events\":[{\"type\":\"m.room.message\",\"event_id\":\"$a\","
	    "\"sender\":\"@a:x\",\"content\":{\"msgtype\":\"m.text\",\"body\":\"x\","
	    "\"m.relates_to\":{\"rel_type\":\"m.thread\",\"event_id\":5,"
	    "\"m.in_reply_to\":\"$q\"},\"m.mentions\":{\"user_ids\":\"" BOT "\"}}}]}}}}}",
	    "{\"next_batch\":\"x\",\"rooms\":{\"invite\":{\"!r:x\":{\"invite_state\":"
	    "{\"events\":[{\"type\":\"m.room.member\"}]}}}}}",
	    "{\"next_batch\":\"x\",\"rooms\":{\"leave\":{\"!r:x\":{}}}}",
	    "{\"next_batch\":\"x\",\"rooms\":{\"join\":{\"!r:x\":{\"summary\":"
	    "{\"m.joined_member_count\":-3}}}}}",
	};
	static const char *const bad[] = {
	    "", "null", "[]", "{}", "{\"next_batch\":1}", "{\"next_batch\":\"\"}",
	    "{\"next_batch\":\"x\"", "{\"next_batch\":\"a\\u0000b\"}",
	};
	struct mx_sync *s;
	char err[128];
	size_t i;

	(void)st;
	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		s = parse_ok(ok[i]);
		for (size_t j = 0; j < s->n; j++)
			if (s->actions[j].kind == MX_ACT_MESSAGE) {
				assert_non_null(s->actions[j].event_id);
				assert_non_null(s->actions[j].sender);
			}
		mx_sync_free(s);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		s = (struct mx_sync *)1;
		assert_int_equal(mx_sync_parse(bad[i], strlen(bad[i]), BOT, &s, err,
		                               sizeof(err)),
		                 ERR_PARSE);
		assert_null(s);
	}
}

/* The response cut at every byte: each prefix parses or fails cleanly. */
static void test_truncated_everywhere(void **st)
{
	static const char json[] =
	    "{\"next_batch\":\"s2\",\"rooms\":{\"join\":{\"!r:x\":{\"timeline\":"
	    "{\"events\":[{\"type\":\"m.room.message\",\"event_id\":\"$e\","
	    "\"sender\":\"@a:x\",\"content\":{\"msgtype\":\"m.text\",\"body\":"
	    "\"caf\\u00e9 \\ud83d\\ude00?\"}}]}}}}}";
	struct mx_sync *s;
	size_t n;

	(void)st;
	for (n = 0; n < sizeof(json) - 1; n++) {
		s = NULL;
		assert_int_equal(mx_sync_parse(json, n, BOT, &s, NULL, 0), ERR_PARSE);
		assert_null(s);
	}
	s = parse_ok(json);
	assert_string_equal(s->actions[0].body, "caf\xc3\xa9 \xf0\x9f\x98\x80?");
	mx_sync_free(s);
}

static void test_long_body_cut_utf8(void **st)
{
	size_t n = MX_BODY_MAX + 100, i;
	char *ev = malloc(n * 2 + 256), *p;
	struct mx_sync *s;

	(void)st;
	assert_non_null(ev);
	p = ev + snprintf(ev, 256, "{\"type\":\"m.room.message\",\"event_id\":\"$e\","
	                           "\"sender\":\"@a:x\",\"content\":{\"msgtype\":"
	                           "\"m.text\",\"body\":\"x");
	for (i = 0; i < n / 2; i++) {
		memcpy(p, "\xc3\xa9", 2);
		p += 2;
	}
	memcpy(p, "\"}}", 4);
	s = parse_event(ev);
	assert_true(s->actions[0].truncated);
	assert_true(strlen(s->actions[0].body) <= MX_BODY_MAX);
	/* cut on a character boundary: ends with a whole é */
	p = s->actions[0].body + strlen(s->actions[0].body);
	assert_memory_equal(p - 2, "\xc3\xa9", 2);
	mx_sync_free(s);
	free(ev);
}

static void test_html_escape(void **st)
{
	char *out = NULL;

	(void)st;
	assert_int_equal(mx_html_escape("<a href=\"x\">'&'</a>", &out), ERR_OK);
	assert_string_equal(out, "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
	free(out);
	assert_int_equal(mx_html_escape(NULL, &out), ERR_OK);
	assert_string_equal(out, "");
	free(out);
}

static void test_url_escape_and_link(void **st)
{
	char *out = NULL;

	(void)st;
	assert_int_equal(mx_url_escape("!r:x/y?z#$ é", &out), ERR_OK);
	assert_string_equal(out, "%21r%3Ax%2Fy%3Fz%23%24%20%C3%A9");
	free(out);
	assert_int_equal(mx_matrix_to_link("!r:hs.test", "$ev/1", "hs.test", &out),
	                 ERR_OK);
	assert_string_equal(out, "https://matrix.to/#/%21r%3Ahs.test/%24ev%2F1?via=hs.test");
	free(out);
}

static void test_txn(void **st)
{
	char a[MX_TXN_MAX], b[MX_TXN_MAX], big[MX_ID_MAX + 1];
	const char *p;

	(void)st;
	assert_int_equal(mx_txn_reply("$abc:x.org", a, sizeof(a)), ERR_OK);
	assert_string_equal(a, "fb-.24abc.3ax.2eorg");
	assert_int_equal(mx_txn_alert("$abc:x.org", b, sizeof(b)), ERR_OK);
	assert_string_equal(b, "fba-.24abc.3ax.2eorg");
	assert_string_not_equal(a, b);
	/* injective where a naive sanitiser would not be */
	assert_int_equal(mx_txn_reply("$a.b", a, sizeof(a)), ERR_OK);
	assert_int_equal(mx_txn_reply("$a_b", b, sizeof(b)), ERR_OK);
	assert_string_not_equal(a, b);
	for (p = a; *p; p++)
		assert_non_null(strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
		                       "0123456789-_.",
		                       *p));
	memset(big, ':', MX_ID_MAX);
	big[0] = '$';
	big[MX_ID_MAX] = '\0';
	assert_int_equal(mx_txn_reply(big, a, sizeof(a)), ERR_OK);
	assert_int_equal(mx_txn_reply(big, a, 10), ERR_LIMIT);
	assert_int_equal(mx_txn_reply("", a, sizeof(a)), ERR_INVALID);
}

static void test_reply_json(void **st)
{
	struct mx_reply r = {"Line <one> & \"two\"\nsame para\n\n  \nSecond para",
	                     "$q", NULL, "@a:x"};
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
	assert_string_equal(
	    json_string_value(json_object_get(json_object_get(rel, "m.in_reply_to"),
	                                      "event_id")),
	    "$q");
	assert_string_equal(json_string_value(json_array_get(
	                        json_object_get(json_object_get(j, "m.mentions"),
	                                        "user_ids"),
	                        0)),
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
	struct mx_alert a = {"!r:x", "$ev:x", "@a:x", "<img src=x onerror=alert(1)>",
	                     "crisis", "crisis-uk", "x", mods, 1};
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
	assert_string_equal(json_string_value(json_array_get(
	                        json_object_get(json_object_get(j, "m.mentions"),
	                                        "user_ids"),
	                        0)),
	                    "@mod:x");
	json_decref(j);
	free(out);
}

static void test_error_parse(void **st)
{
	struct mx_error e;
	static const char lim[] =
	    "{\"errcode\":\"M_LIMIT_EXCEEDED\",\"error\":\"slow\\ndown\","
	    "\"retry_after_ms\":2500}";
	static const char neg[] = "{\"errcode\":\"X\",\"retry_after_ms\":-5}";
	static const char unk[] = "{\"errcode\":\"M_UNKNOWN_TOKEN\",\"soft_logout\":true}";

	(void)st;
	assert_int_equal(mx_error_parse(lim, strlen(lim), &e), ERR_OK);
	assert_string_equal(e.errcode, "M_LIMIT_EXCEEDED");
	assert_string_equal(e.error, "slow?down");
	assert_true(e.retry_after_ms == 2500);
	assert_int_equal(mx_error_parse(unk, strlen(unk), &e), ERR_OK);
	assert_string_equal(e.errcode, "M_UNKNOWN_TOKEN");
	assert_true(e.soft_logout);
	assert_true(e.retry_after_ms == -1);
	assert_int_equal(mx_error_parse("<html>502</html>", 16, &e), ERR_PARSE);
	assert_string_equal(e.errcode, "");
	assert_int_equal(mx_error_parse("{\"errcode\":5}", 13, &e), ERR_PARSE);
	assert_int_equal(mx_error_parse(neg, strlen(neg), &e), ERR_OK);
	assert_true(e.retry_after_ms == -1);
}

static void test_field_and_requests(void **st)
{
	char buf[64];
	char *out = NULL;
	json_t *j;

	(void)st;
	assert_int_equal(mx_field_string("{\"event_id\":\"$x\"}", 17, "event_id", buf,
	                                 sizeof(buf)),
	                 ERR_OK);
	assert_string_equal(buf, "$x");
	assert_int_equal(mx_field_string("{\"event_id\":7}", 14, "event_id", buf,
	                                 sizeof(buf)),
	                 ERR_PARSE);
	assert_int_equal(mx_field_string("{\"a\":\"x\\ty\"}", 12, "a", buf, sizeof(buf)),
	                 ERR_INVALID);
	assert_int_equal(mx_field_string("{\"a\":\"xxxxxxxx\"}", 16, "a", buf, 4),
	                 ERR_LIMIT);

	assert_int_equal(mx_login_json("@b:x", "pa\"ss", "DEV", &out), ERR_OK);
	j = json_loads(out, 0, NULL);
	assert_string_equal(json_string_value(json_object_get(j, "password")), "pa\"ss");
	assert_string_equal(json_string_value(json_object_get(j, "device_id")), "DEV");
	assert_string_equal(json_string_value(json_object_get(
	                        json_object_get(j, "identifier"), "user")),
	                    "@b:x");
	json_decref(j);
	free(out);

	assert_int_equal(mx_filter_json(50, &out), ERR_OK);
	j = json_loads(out, 0, NULL);
	assert_int_equal(json_integer_value(json_object_get(
	                     json_object_get(json_object_get(j, "room"), "timeline"),
	                     "limit")),
	                 50);
	json_decref(j);
	free(out);

	assert_string_equal(mx_server_name("@a:hs.test:8448"), "hs.test:8448");
	assert_null(mx_server_name("@a"));
	assert_null(mx_server_name("@a:"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_plain_message),
	    cmocka_unit_test(test_ignored_kinds),
	    cmocka_unit_test(test_thread_and_reply),
	    cmocka_unit_test(test_strip_fallback),
	    cmocka_unit_test(test_membership),
	    cmocka_unit_test(test_hostile_shapes),
	    cmocka_unit_test(test_truncated_everywhere),
	    cmocka_unit_test(test_long_body_cut_utf8),
	    cmocka_unit_test(test_html_escape),
	    cmocka_unit_test(test_url_escape_and_link),
	    cmocka_unit_test(test_txn),
	    cmocka_unit_test(test_reply_json),
	    cmocka_unit_test(test_alert_json),
	    cmocka_unit_test(test_error_parse),
	    cmocka_unit_test(test_field_and_requests),
	};

	return cmocka_run_group_tests_name("mx_json", tests, NULL, NULL);
}
