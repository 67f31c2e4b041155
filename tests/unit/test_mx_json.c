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
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mx_body.h"
#include "mx_html.h"
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
	int seen[MX_ACT_MESSAGE + 1] = {0};
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
		case MX_ACT_POWER: fail(); break;
		}
	}
	for (i = 0; i <= MX_ACT_MESSAGE; i++)
		assert_int_equal(seen[i], i == MX_ACT_NAME ? 2 : i == MX_ACT_POWER ? 0 : 1);
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
	    "{\"next_batch\":\"a\\u0000b\"}", "{\"next_batch\":\"a\\nb\"}",
	    "<html>502</html>", "{\"rooms\":{\"join\":{", "{\"next_batch\":\"x",
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
	size_t nb_end = strlen("{\"next_batch\":\"s2\"");

	(void)st;
	/* Before the next_batch is whole, nothing to go on with; after it,
	 * the scan gives it, and the batch is marked unreadable. */
	for (n = 0; n < sizeof(json) - 1; n++) {
		s = NULL;
		if (n < nb_end) {
			assert_int_equal(mx_sync_parse(json, n, BOT, &s, NULL, 0), ERR_PARSE);
			assert_null(s);
			continue;
		}
		assert_int_equal(mx_sync_parse(json, n, BOT, &s, NULL, 0), ERR_OK);
		assert_true(s->unreadable);
		assert_int_equal(s->n, 0);
		assert_string_equal(s->next_batch, "s2");
		mx_sync_free(s);
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
	assert_true(has_str(json_object_get(json_object_get(room, "state"), "types"),
	                    "m.room.member"));
	assert_true(has_str(json_object_get(json_object_get(room, "timeline"), "types"),
	                    "m.room.power_levels"));
	assert_true(json_is_true(
	    json_object_get(json_object_get(room, "state"), "lazy_load_members")));
	assert_true(has_str(json_object_get(json_object_get(j, "presence"), "not_types"), "*"));
	assert_true(has_str(json_object_get(json_object_get(room, "ephemeral"), "not_types"),
	                    "*"));
	assert_int_equal(json_array_size(json_object_get(json_object_get(room, "state"), "types")),
	                 2);
	json_decref(j);
	free(out);
}

/* Power levels from state, then a change in the timeline, in order with
 * the messages; hostile entries skipped and counted. */
static void test_power_levels_sync(void **st)
{
	static const char json[] =
	    "{\"next_batch\":\"s3\",\"rooms\":{\"join\":{\"!p:x\":{"
	    " \"state\":{\"events\":[{\"type\":\"m.room.power_levels\",\"state_key\":\"\","
	    "  \"sender\":\"@mod:x\",\"event_id\":\"$pl1\",\"content\":{\"users_default\":10,"
	    "  \"users\":{\"@mod:x\":100,\"@old:x\":\"50\",\"bad\":7,\"@c:x\":\"x\","
	    "  \"@big:x\":9007199254740991,\"@neg:x\":-9007199254740991,\"@f:x\":1.5}}},"
	    "  {\"type\":\"m.room.power_levels\",\"state_key\":\"x\",\"content\":{}},"
	    "  {\"type\":\"m.room.power_levels\",\"state_key\":\"\",\"content\":[]}]},"
	    " \"timeline\":{\"events\":["
	    "  {\"type\":\"m.room.message\",\"event_id\":\"$m1\",\"sender\":\"@a:x\","
	    "   \"content\":{\"msgtype\":\"m.text\",\"body\":\"before?\"}},"
	    "  {\"type\":\"m.room.power_levels\",\"state_key\":\"\",\"sender\":\"@mod:x\","
	    "   \"event_id\":\"$pl2\",\"content\":{\"users\":{\"@mod:x\":100,\"@a:x\":50},"
	    "   \"users_default\":\"zero\"}},"
	    "  {\"type\":\"m.room.message\",\"event_id\":\"$m2\",\"sender\":\"@a:x\","
	    "   \"content\":{\"msgtype\":\"m.text\",\"body\":\"after?\"}}]}}}}}";
	struct mx_sync *s = parse_ok(json);
	const struct mx_power *p;

	(void)st;
	assert_int_equal(s->n, 4);
	assert_int_equal(s->actions[0].kind, MX_ACT_POWER);
	assert_int_equal(s->actions[1].kind, MX_ACT_MESSAGE);
	assert_int_equal(s->actions[2].kind, MX_ACT_POWER);
	assert_int_equal(s->actions[3].kind, MX_ACT_MESSAGE);
	assert_string_equal(s->actions[0].room_id, "!p:x");
	p = s->actions[0].power;
	assert_non_null(p);
	assert_int_equal(mx_power_level(p, "@mod:x"), 100);
	assert_int_equal(mx_power_level(p, "@old:x"), 50); /* a string, old rooms */
	assert_int_equal(mx_power_level(p, "@big:x"), INT_MAX);
	assert_int_equal(mx_power_level(p, "@neg:x"), INT_MIN);
	assert_int_equal(mx_power_level(p, "@c:x"), 10);   /* not a level: default */
	assert_int_equal(mx_power_level(p, "@f:x"), 10);   /* not an integer */
	assert_int_equal(mx_power_level(p, "@nobody:x"), 10);
	assert_int_equal(mx_power_level(p, "bad"), 10);
	p = s->actions[2].power;
	assert_int_equal(mx_power_level(p, "@a:x"), 50);
	assert_int_equal(mx_power_level(p, "@b:x"), 0); /* users_default unusable: 0 */
	/* bad, "x", 1.5, the state key "x", the array content, "zero" */
	assert_int_equal(s->skipped, 6);
	mx_sync_free(s);
}

/* A users map longer than MX_POWER_USERS_MAX keeps the highest levels,
 * and never overstates anyone left out. */
static void test_power_levels_truncated(void **st)
{
	json_t *c = json_object(), *users = json_object();
	struct mx_power *p = NULL, *d;
	char id[32], *body;
	size_t skipped = 99;
	int i;

	(void)st;
	for (i = 0; i < 300; i++) {
		snprintf(id, sizeof(id), "@u%d:x", i);
		json_object_set_new(users, id, json_integer(i));
	}
	json_object_set_new(c, "users", users);
	json_object_set_new(c, "users_default", json_integer(50));
	body = json_dumps(c, JSON_COMPACT);
	assert_int_equal(mx_power_parse(body, strlen(body), &p, &skipped), ERR_OK);
	assert_int_equal(skipped, 0);
	assert_int_equal(mx_power_level(p, "@u299:x"), 299);
	assert_int_equal(mx_power_level(p, "@u172:x"), 172); /* the 128th highest */
	assert_int_equal(mx_power_level(p, "@u171:x"), 0);   /* left out: the lowest */
	assert_int_equal(mx_power_level(p, "@u5:x"), 0);
	assert_int_equal(mx_power_level(p, "@stranger:x"), 0);
	d = mx_power_dup(p);
	assert_non_null(d);
	mx_power_free(p);
	assert_int_equal(mx_power_level(d, "@u200:x"), 200);
	mx_power_free(d);
	mx_power_free(NULL);
	free(body);
	json_decref(c);

	assert_int_equal(mx_power_parse("{}", 2, &p, NULL), ERR_OK);
	assert_int_equal(mx_power_level(p, "@a:x"), 0);
	mx_power_free(p);
	p = (struct mx_power *)1;
	assert_int_equal(mx_power_parse("[1]", 3, &p, NULL), ERR_PARSE);
	assert_null(p);
	assert_int_equal(mx_power_parse("{\"users\":", 10, &p, NULL), ERR_PARSE);
}

static void test_user_id_valid(void **st)
{
	static const char *const good[] = {
	    "@alice:example.org", "@a:1.2.3.4:8448", "@a:[::1]", "@a:[1234:5678::abcd]:5678",
	    "@a.b_c=d-e/f+g:x", "@0:localhost",
	};
	static const char *const bad[] = {
	    "@Alice:x", "@:x", "alice:x", "@a", "@a:", "@a:x:", "@a:x:123456", "@a:[::1",
	    "@a:[]", "@a b:x", "@a:ex ample", "@a:x\n", "@<b>:x", "@a:x/y", "@a\"x:y",
	    "@a:x\">", "", "@\xc3\xa9:x",
	};
	char big[MX_ID_MAX + 2];
	size_t i;

	(void)st;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		assert_true(mx_user_id_valid(good[i]));
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_false(mx_user_id_valid(bad[i]));
	assert_false(mx_user_id_valid(NULL));
	memset(big, 'a', sizeof(big));
	big[0] = '@';
	memcpy(big + MX_ID_MAX - 2, ":x", 3); /* exactly MX_ID_MAX bytes */
	assert_true(mx_user_id_valid(big));
	memcpy(big + MX_ID_MAX - 1, ":x", 3);
	assert_false(mx_user_id_valid(big));
	assert_true(mx_id_valid("$e", '$'));
	assert_false(mx_id_valid("$", '$'));
	assert_false(mx_id_valid("$a b", '$'));
}

static void test_mention_resolve(void **st)
{
	static const char *const cases[][3] = {
	    /* mention, sender, result ("" = ERR_INVALID) */
	    {"@bob:other.org", "@ann:x", "@bob:other.org"},
	    {"@bob", "@ann:x", "@bob:x"},
	    {"bob", "@ann:x", "@bob:x"},
	    {" Bob \n", "@ann:x", "@bob:x"},
	    {"@BOB:X", "@ann:x", "@bob:X"},
	    {"bob:other", "@ann:x", "@bob:other"},
	    {"bob", "@ann:fake.test:8448", "@bob:fake.test:8448"},
	    {"<img src=x>", "@ann:x", ""},
	    {"bob\"><script>", "@ann:x", ""},
	    {"", "@ann:x", ""},
	    {"@", "@ann:x", ""},
	    {"  ", "@ann:x", ""},
	    {"bob", "@ann", ""},
	    {"bob", NULL, ""},
	    {"@bob:", "@ann:x", ""},
	    {"b ob", "@ann:x", ""},
	    {"@@bob", "@ann:x", ""},
	    {"bob\xc3\xa9", "@ann:x", ""},
	};
	char buf[MX_ID_MAX + 1], big[400];
	size_t i;

	(void)st;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		enum err e = mx_mention_resolve(cases[i][0], cases[i][1], buf, sizeof(buf));

		if (*cases[i][2]) {
			assert_int_equal(e, ERR_OK);
			assert_string_equal(buf, cases[i][2]);
		} else {
			assert_int_equal(e, ERR_INVALID);
		}
	}
	assert_int_equal(mx_mention_resolve(NULL, "@a:x", buf, sizeof(buf)), ERR_INVALID);
	assert_int_equal(mx_mention_resolve("bob", "@a:x", buf, 6), ERR_LIMIT);
	assert_int_equal(mx_mention_resolve("bob", "@a:x", buf, 7), ERR_OK);
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(mx_mention_resolve(big, "@a:x", buf, sizeof(buf)), ERR_INVALID);
}

static const char *jget(const json_t *j, const char *k)
{
	return json_string_value(json_object_get(j, k));
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
	struct mx_reply r = {.text = "Answered just above.",
	                     .in_reply_to = "$q",
	                     .mention = "@a:x"};
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
	assert_string_equal(jget(j, "formatted_body"),
	                    "<p>FAQ reloaded: 3 &lt;entries&gt; &amp; &quot;more&quot;<br>fine</p>");
	assert_int_equal(json_array_size(json_object_get(json_object_get(j, "m.mentions"),
	                                                 "user_ids")),
	                 0);
	assert_null(json_object_get(j, "m.relates_to"));
	json_decref(j);
	free(out);
	assert_int_equal(mx_notice_json("", &out), ERR_INVALID);
	assert_int_equal(mx_notice_json(NULL, &out), ERR_INVALID);
	assert_int_equal(mx_notice_json("bad \xff", &out), ERR_INVALID);
	assert_null(out);
}

static void test_txn_mod_notice(void **st)
{
	char a[MX_TXN_MAX], b[MX_TXN_MAX];

	(void)st;
	assert_int_equal(mx_txn_mod("$abc:x.org", a, sizeof(a)), ERR_OK);
	assert_string_equal(a, "fbm-.24abc.3ax.2eorg");
	assert_int_equal(mx_txn_reply("$abc:x.org", b, sizeof(b)), ERR_OK);
	assert_string_not_equal(a, b);
	assert_int_equal(mx_txn_notice(1700000000123LL, 4242, 3, a, sizeof(a)), ERR_OK);
	assert_string_equal(a, "fbn-1700000000123-4242-3");
	assert_int_equal(mx_txn_notice(1700000000123LL, 4242, 4, b, sizeof(b)), ERR_OK);
	assert_string_not_equal(a, b);
	assert_int_equal(mx_txn_notice(1700000000123LL, 4242, 3, a, 10), ERR_LIMIT);
}

/* ---- the repair pass, the next_batch scan, poisoned batches ----------- */

/* repair runs mx_json_repair on a C string and returns the text jansson
 * will read (a copy the caller frees; "=" + the input when unchanged). */
static char *repair(const char *in, struct mx_repair *r)
{
	char *out = NULL, *ret;
	size_t n = strlen(in);

	assert_int_equal(mx_json_repair(in, n, &out, r), ERR_OK);
	if (!out) {
		ret = malloc(n + 2);
		assert_non_null(ret);
		ret[0] = '=';
		memcpy(ret + 1, in, n + 1);
		return ret;
	}
	assert_int_equal(strlen(out), n); /* no byte moved */
	return out;
}

/* loads: the text parses with jansson as the bot parses it */
static int loads(const char *text)
{
	json_t *j = json_loadb(text, strlen(text), JSON_ALLOW_NUL, NULL);
	int ok = j != NULL;

	json_decref(j);
	return ok;
}

static void test_repair_strings(void **st)
{
	static const struct {
		const char *in, *want; /* want "=..." : left as it is */
		size_t sur, keys, bytes;
	} cases[] = {
	    {"[\"\\ud800\"]", "[\"\\ufffd\"]", 1, 0, 0},
	    {"[\"\\uD800\"]", "[\"\\ufffd\"]", 1, 0, 0},
	    {"[\"a\\udc00b\"]", "[\"a\\ufffdb\"]", 1, 0, 0},
	    {"[\"\\ud800\\u0041\"]", "[\"\\ufffd\\u0041\"]", 1, 0, 0},
	    {"[\"\\ud800\\ud800\\udc00\"]", "[\"\\ufffd\\ud800\\udc00\"]", 1, 0, 0},
	    {"[\"\\udc00\\ud800\"]", "[\"\\ufffd\\ufffd\"]", 2, 0, 0},
	    {"[\"\\ud83d\\ude00\"]", "=[\"\\ud83d\\ude00\"]", 0, 0, 0},
	    /* an escaped backslash, then text: not an escape at all */
	    {"[\"\\\\ud800\"]", "=[\"\\\\ud800\"]", 0, 0, 0},
	    /* an escaped backslash, then a real escape */
	    {"[\"\\\\\\ud800\"]", "[\"\\\\\\ufffd\"]", 1, 0, 0},
	    /* an escaped quote does not end the string */
	    {"[\"\\\"\\ud800\"]", "[\"\\\"\\ufffd\"]", 1, 0, 0},
	    /* \u0000: kept in a value (JSON_ALLOW_NUL), not in a key */
	    {"{\"a\":\"x\\u0000y\"}", "={\"a\":\"x\\u0000y\"}", 0, 0, 0},
	    {"{\"a\\u0000\":1}", "{\"a\\ufffd\":1}", 0, 1, 0},
	    {"{\"\\u0000\\u0000\" \n :1}", "{\"\\ufffd\\ufffd\" \n :1}", 0, 2, 0},
	    {"{\"\\\\u0000\":1}", "={\"\\\\u0000\":1}", 0, 0, 0},
	    {"[\"\\u0000\",\"\\u0000\"]", "=[\"\\u0000\",\"\\u0000\"]", 0, 0, 0},
	    /* bytes that are not UTF-8, raw control characters */
	    {"[\"\xff\"]", "[\"?\"]", 0, 0, 1},
	    {"[\"\xc0\x80\"]", "[\"??\"]", 0, 0, 2},
	    {"[\"\xed\xa0\x80\"]", "[\"???\"]", 0, 0, 3},
	    {"[\"\xf4\x90\x80\x80\"]", "[\"????\"]", 0, 0, 4},
	    {"[\"\xe2\x82\"]", "[\"??\"]", 0, 0, 2},
	    {"[\"caf\xc3\xa9 \xf0\x9f\x98\x80\"]", "=[\"caf\xc3\xa9 \xf0\x9f\x98\x80\"]", 0, 0, 0},
	    {"[\"a\tb\x01\"]", "[\"a b \"]", 0, 0, 2},
	    /* outside strings nothing changes: what is not JSON stays so */
	    {"\xff[\"\\ud800\"", "\xff[\"\\ufffd\"", 1, 0, 0},
	    {"[\\ud800]", "=[\\ud800]", 0, 0, 0},
	    /* cut inside an escape */
	    {"[\"\\ud8", "=[\"\\ud8", 0, 0, 0},
	    {"[\"\\", "=[\"\\", 0, 0, 0},
	};
	struct mx_repair r;
	char *out;
	size_t i;

	(void)st;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		out = repair(cases[i].in, &r);
		assert_string_equal(out, cases[i].want);
		assert_int_equal(r.surrogates, cases[i].sur);
		assert_int_equal(r.key_nuls, cases[i].keys);
		assert_int_equal(r.bad_bytes, cases[i].bytes);
		assert_int_equal(r.numbers + r.deep, 0);
		/* what was rewritten now parses, unless it was cut or not JSON */
		if (out[0] != '=' && out[0] != '\xff' && out[strlen(out) - 1] != '"')
			assert_true(loads(out));
		free(out);
	}
}

static void test_repair_numbers(void **st)
{
	static const struct {
		const char *in, *want;
	} cases[] = {
	    {"[9223372036854775807,-9223372036854775808]",
	     "=[9223372036854775807,-9223372036854775808]"},
	    {"[9223372036854775808]", "[null               ]"},
	    {"[-9223372036854775809]", "[null                ]"},
	    {"[99999999999999999999999]", "[null                   ]"},
	    {"[1e999]", "[null ]"},
	    {"[-1E+400]", "[null   ]"},
	    {"[1e308]", "[null ]"},
	    {"[0.00001e313]", "[null       ]"},
	    {"[1.7e307,0.00001e312,1e-999,0.0e999,0]", "=[1.7e307,0.00001e312,1e-999,0.0e999,0]"},
	    {"{\"ts\":100000000000000000000000000000,\"n\":1}",
	     "{\"ts\":null                          ,\"n\":1}"},
	    /* in a string it is text */
	    {"[\"99999999999999999999\"]", "=[\"99999999999999999999\"]"},
	    /* not numbers: left for jansson to refuse */
	    {"[01,-,1.,1e,--1]", "=[01,-,1.,1e,--1]"},
	};
	struct mx_repair r;
	char *out;
	size_t i;

	(void)st;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		out = repair(cases[i].in, &r);
		assert_string_equal(out, cases[i].want);
		if (out[0] != '=')
			assert_true(loads(out));
		assert_int_equal(r.numbers, out[0] == '=' ? 0 : 1);
		free(out);
	}
}

/* nest writes pre, n '[' then n ']', then post, into a new string */
static char *nest(const char *pre, size_t n, const char *post)
{
	size_t a = strlen(pre), b = strlen(post);
	char *p = malloc(a + 2 * n + b + 1);

	assert_non_null(p);
	memcpy(p, pre, a);
	memset(p + a, '[', n);
	memset(p + a + n, ']', n);
	memcpy(p + a + 2 * n, post, b + 1);
	return p;
}

static void test_repair_depth(void **st)
{
	struct mx_repair r;
	char *in, *out;
	size_t i;

	(void)st;
	/* up to the limit, kept */
	in = nest("", MX_JSON_DEPTH_MAX, "");
	out = repair(in, &r);
	assert_int_equal(out[0], '=');
	assert_int_equal(r.deep, 0);
	free(out);
	free(in);
	/* one more: the innermost becomes 0 */
	in = nest("", MX_JSON_DEPTH_MAX + 1, "");
	out = repair(in, &r);
	assert_int_equal(r.deep, 1);
	assert_int_equal(out[MX_JSON_DEPTH_MAX], '0');
	assert_int_equal(out[MX_JSON_DEPTH_MAX + 1], ' ');
	assert_true(loads(out));
	free(out);
	free(in);
	/* 10000 deep, twice, with strings holding brackets, beside a value
	 * that stays */
	in = nest("{\"a\":[\"]]\",", 10000, ",1],\"b\":\"[[\",\"c\":");
	out = malloc(strlen(in) + 64);
	assert_non_null(out);
	snprintf(out, strlen(in) + 64, "%s%s", in, "[[]]}");
	free(in);
	in = out;
	out = repair(in, &r);
	assert_int_equal(r.deep, 1);
	assert_true(loads(out));
	assert_non_null(strstr(out, "\"b\":\"[[\",\"c\":[[]]}"));
	free(out);
	/* cut before it closes: left alone (jansson refuses it, and the
	 * caller falls back to mx_next_batch_scan) */
	in[strlen(in) / 2] = '\0';
	out = repair(in, &r);
	assert_int_equal(out[0], '=');
	assert_int_equal(r.deep, 0);
	free(out);
	free(in);
	/* every prefix of a hostile mix: no crash, length kept */
	in = nest("{\"k\\u0000\":\"\\ud800\xff\",\"n\":1e999,\"d\":", 80, "}");
	for (i = 0; i <= strlen(in); i++) {
		char *o = NULL;

		assert_int_equal(mx_json_repair(in, i, &o, NULL), ERR_OK);
		if (o)
			assert_int_equal(strlen(o), i);
		free(o);
	}
	out = repair(in, &r);
	assert_true(loads(out));
	assert_int_equal(r.key_nuls + r.surrogates + r.bad_bytes + r.numbers + r.deep, 5);
	free(out);
	free(in);
}

static void test_next_batch_scan(void **st)
{
	static const struct {
		const char *in, *want; /* want NULL: ERR_PARSE */
	} cases[] = {
	    {"{\"next_batch\":\"s1\"}", "s1"},
	    {" \n{ \"next_batch\" : \"s1\" }", "s1"},
	    /* nested ones are not the top level's */
	    {"{\"rooms\":{\"next_batch\":\"x\"},\"next_batch\":\"s2\"}", "s2"},
	    {"{\"rooms\":{\"next_batch\":\"x\"}}", NULL},
	    {"{\"a\":[{\"next_batch\":\"x\"}]}", NULL},
	    /* cut after it, or garbage around it */
	    {"{\"next_batch\":\"s3\",\"rooms\":{\"join\":{\"!r:x\":{\"timeline\":", "s3"},
	    {"{\"rooms\":{\"join\":[1,,2] junk \xff},\"next_batch\":\"s4\"}", "s4"},
	    {"{\"rooms\":[1,,2], junk, \"next_batch\":\"s4\"", "s4"},
	    /* inside a string it is text */
	    {"{\"a\":\"\\\"next_batch\\\":\\\"evil\\\"\",\"next_batch\":\"s5\"}", "s5"},
	    {"{\"a\":\"\\\"next_batch\\\":\\\"evil\\\"\"}", NULL},
	    {"{\"a\":\"next_batch\",\"b\":1}", NULL},
	    {"{\"a\":\"next_batch\":\"evil\"}", NULL},
	    /* escapes, in the key and in the value */
	    {"{\"next\\u005fbatch\":\"s6\"}", "s6"},
	    {"{\"next_batch\":\"a\\/b\\u0041\"}", "a/bA"},
	    {"{\"next_batch\":\"\\ud800x\"}", "\xef\xbf\xbdx"},
	    {"{\"next_batch\":\"\\ud83d\\ude00\"}", "\xf0\x9f\x98\x80"},
	    /* not usable */
	    {"{\"next_batch\":\"\"}", NULL},
	    {"{\"next_batch\":\"a\\u0000\"}", NULL},
	    {"{\"next_batch\":\"a\\nb\"}", NULL},
	    {"{\"next_batch\":\"a\\qb\"}", NULL},
	    {"{\"next_batch\":5}", NULL},
	    {"{\"next_batch\":\"s7", NULL},
	    {"{\"next_batch\"", NULL},
	    /* the last one counts, as in a parser */
	    {"{\"next_batch\":\"a\",\"next_batch\":\"b\"}", "b"},
	    {"{\"next_batch\":\"a\",\"next_batch\":[\"b\"]}", NULL},
	    /* not an object at the top */
	    {"[\"next_batch\",\"x\"]", NULL},
	    {"\"next_batch\":\"x\"", NULL},
	    {"", NULL},
	    {"<html>502</html>", NULL},
	    /* after the top object closes, nothing counts */
	    {"{}{\"next_batch\":\"x\"}", NULL},
	};
	char buf[MX_NEXT_BATCH_MAX + 1], *big;
	size_t i, n;

	(void)st;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		n = strlen(cases[i].in);
		if (!cases[i].want) {
			assert_int_equal(mx_next_batch_scan(cases[i].in, n, buf, sizeof(buf)),
			                 ERR_PARSE);
			continue;
		}
		assert_int_equal(mx_next_batch_scan(cases[i].in, n, buf, sizeof(buf)), ERR_OK);
		assert_string_equal(buf, cases[i].want);
	}
	assert_int_equal(mx_next_batch_scan("{\"next_batch\":\"abcdef\"}", 23, buf, 4),
	                 ERR_LIMIT);
	/* the longest usable one, and one byte more */
	big = malloc(MX_NEXT_BATCH_MAX + 64);
	assert_non_null(big);
	for (n = MX_NEXT_BATCH_MAX; n <= MX_NEXT_BATCH_MAX + 1; n++) {
		memcpy(big, "{\"next_batch\":\"", 15);
		memset(big + 15, 'x', n);
		memcpy(big + 15 + n, "\"}", 3);
		assert_int_equal(mx_next_batch_scan(big, strlen(big), buf, sizeof(buf)),
		                 n == MX_NEXT_BATCH_MAX ? ERR_OK : ERR_PARSE);
	}
	free(big);
}

/* A message event whose content is the JSON text c, and a second event
 * after it: the crisis the first must not hide. */
static char *poisoned(const char *c)
{
	static const char fmt[] =
	    "{\"next_batch\":\"s9\",\"rooms\":{\"join\":{\"!p:hs.test\":{\"timeline\":"
	    "{\"events\":[{\"type\":\"m.room.message\",\"event_id\":\"$p\","
	    "\"sender\":\"@a:hs.test\",\"content\":%s}]}},"
	    "\"!c:hs.test\":{\"timeline\":{\"events\":[{\"type\":\"m.room.message\","
	    "\"event_id\":\"$c\",\"sender\":\"@b:hs.test\",\"content\":{\"msgtype\":"
	    "\"m.text\",\"body\":\"CRISIS\"}}]}}}}}";
	size_t n = strlen(fmt) + strlen(c) + 1;
	char *p = malloc(n);

	assert_non_null(p);
	snprintf(p, n, fmt, c);
	return p;
}

/* find returns the message action for event id, or NULL */
static const struct mx_action *find(const struct mx_sync *s, const char *id)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		if (s->actions[i].kind == MX_ACT_MESSAGE && !strcmp(s->actions[i].event_id, id))
			return &s->actions[i];
	return NULL;
}

static void test_sync_poison(void **st)
{
	static const struct {
		const char *content;
		const char *body;   /* the poisoned event's body, NULL: skipped */
		size_t skipped, repaired;
	} cases[] = {
	    /* a NUL: a space, and what follows it is read */
	    {"{\"msgtype\":\"m.text\",\"body\":\"hi\\u0000 CRISIS\"}", "hi  CRISIS", 0, 1},
	    {"{\"msgtype\":\"m.text\",\"body\":\"\\u0000\\u0000x\"}", "  x", 0, 1},
	    {"{\"msgtype\":\"m.text\",\"body\":\"a\\ud800b\"}", "a\xef\xbf\xbd" "b", 0, 1},
	    {"{\"msgtype\":\"m.text\",\"body\":\"a\\\\ud800b\"}", "a\\ud800b", 0, 0},
	    {"{\"msgtype\":\"m.text\",\"body\":\"x\",\"k\\u0000\":1}", "x", 0, 1},
	    {"{\"msgtype\":\"m.text\",\"body\":\"x\",\"n\":1e999}", "x", 1, 0},
	    {"{\"msgtype\":\"m.text\",\"body\":\"x\",\"format\":\"org.matrix.custom.html\","
	     "\"formatted_body\":\"<b>\\u0000</b>\"}",
	     "x", 0, 1},
	    /* wrong types: that event only */
	    {"{\"msgtype\":\"m.text\",\"body\":5}", NULL, 1, 0},
	    {"\"x\"", NULL, 1, 0},
	    {"[]", NULL, 1, 0},
	    {"{\"msgtype\":\"m.te\\u0000xt\",\"body\":\"x\"}", NULL, 1, 0},
	    {"{\"msgtype\":[\"m.text\"],\"body\":\"x\"}", NULL, 1, 0},
	};
	struct mx_sync *s;
	const struct mx_action *a;
	char *j;
	size_t i;

	(void)st;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		j = poisoned(cases[i].content);
		s = parse_ok(j);
		free(j);
		assert_false(s->unreadable);
		assert_string_equal(s->next_batch, "s9");
		a = find(s, "$p");
		if (cases[i].body) {
			assert_non_null(a);
			assert_int_equal(a->ignore, MX_IGN_NONE);
			assert_string_equal(a->body, cases[i].body);
		} else {
			assert_null(a);
		}
		assert_int_equal(s->skipped, cases[i].skipped);
		assert_int_equal(s->repaired, cases[i].repaired);
		a = find(s, "$c");
		assert_non_null(a);
		assert_string_equal(a->body, "CRISIS");
		mx_sync_free(s);
	}
}

static void test_sync_poison_events(void **st)
{
	static const char *const evs[] = {
	    "\"an event that is a string\"",
	    "{\"type\":\"m.room.message\",\"event_id\":\"$p\",\"sender\":5,"
	    "\"content\":{\"msgtype\":\"m.text\",\"body\":\"x\"}}",
	    "{\"type\":\"m.room.message\",\"event_id\":\"$p\\u0000x\",\"sender\":\"@a:x\","
	    "\"content\":{\"msgtype\":\"m.text\",\"body\":\"x\"}}",
	    "{\"type\":\"m.room.message\",\"event_id\":\"$p\",\"sender\":\"@a:x\\u0000\","
	    "\"content\":{\"msgtype\":\"m.text\",\"body\":\"x\"}}",
	    "{\"type\":\"m.room.message\\u0000\",\"event_id\":\"$p\",\"sender\":\"@a:x\","
	    "\"content\":{\"msgtype\":\"m.text\",\"body\":\"x\"}}",
	};
	static const char fmt[] =
	    "{\"next_batch\":\"s9\",\"rooms\":{\"join\":{\"!p:hs.test\":{\"timeline\":"
	    "{\"events\":[%s,{\"type\":\"m.room.message\",\"event_id\":\"$c\","
	    "\"sender\":\"@b:hs.test\",\"origin_server_ts\":1e999,\"content\":"
	    "{\"msgtype\":\"m.text\",\"body\":\"CRISIS\"}}]}}}}}";
	char j[1024], *big, *deep;
	struct mx_sync *s;
	const struct mx_action *a;
	size_t i, n;

	(void)st;
	for (i = 0; i < sizeof(evs) / sizeof(evs[0]); i++) {
		snprintf(j, sizeof(j), fmt, evs[i]);
		s = parse_ok(j);
		assert_null(find(s, "$p"));
		assert_int_equal(s->skipped, 2); /* the event and the ts */
		a = find(s, "$c");
		assert_non_null(a);
		assert_true(a->ts == 0);
		mx_sync_free(s);
	}
	/* content 10000 arrays deep: that event goes, the next one is read */
	deep = nest("", 10000, "");
	big = poisoned(deep);
	s = parse_ok(big);
	free(big);
	assert_null(find(s, "$p"));
	assert_non_null(find(s, "$c"));
	assert_int_equal(s->skipped, 2); /* the pruned value, the event */
	mx_sync_free(s);
	/* the same nesting beside a body: the message itself is read */
	n = strlen(deep) + 64;
	big = malloc(n);
	assert_non_null(big);
	snprintf(big, n, "{\"msgtype\":\"m.text\",\"body\":\"CRISIS too\",\"x\":%s}", deep);
	free(deep);
	deep = poisoned(big);
	free(big);
	s = parse_ok(deep);
	free(deep);
	assert_non_null(find(s, "$p"));
	assert_string_equal(find(s, "$p")->body, "CRISIS too");
	assert_int_equal(s->skipped, 1);
	mx_sync_free(s);
	/* a 60 KB body: cut to MX_BODY_MAX and read, with the rest */
	n = 60 * 1024;
	big = malloc(n + 64);
	assert_non_null(big);
	i = (size_t)snprintf(big, 64, "{\"msgtype\":\"m.text\",\"body\":\"");
	memset(big + i, 'a', n);
	memcpy(big + i + n, "\"}", 3);
	deep = poisoned(big);
	free(big);
	s = parse_ok(deep);
	free(deep);
	a = find(s, "$p");
	assert_non_null(a);
	assert_true(a->truncated);
	assert_int_equal(strlen(a->body), MX_BODY_MAX);
	assert_non_null(find(s, "$c"));
	mx_sync_free(s);
}

static void test_sync_unreadable(void **st)
{
	static const char *const nb[] = {
	    "{\"next_batch\":\"s5\",\"rooms\":{\"join\":{\"!r:x\":{\"timeline\":{\"events\":[{",
	    "{\"rooms\":{\"join\":{\"!r:x\":[1,,]}}, \"next_batch\" : \"s5\"}",
	    "{\"next_batch\":\"s5\",\"rooms\":{\"join\":{\"!r:x\":{\"x\":\"\\x41\"}}}}",
	};
	struct mx_sync *s;
	char err[128];
	size_t i;

	(void)st;
	for (i = 0; i < sizeof(nb) / sizeof(nb[0]); i++) {
		s = NULL;
		err[0] = '\0';
		assert_int_equal(mx_sync_parse(nb[i], strlen(nb[i]), BOT, &s, err, sizeof(err)),
		                 ERR_OK);
		assert_true(s->unreadable);
		assert_int_equal(s->n, 0);
		assert_string_equal(s->next_batch, "s5");
		/* why, with no text of the body in it */
		assert_non_null(strstr(err, "not JSON (at byte "));
		assert_null(strchr(err, '"'));
		assert_null(strstr(err, "rooms"));
		mx_sync_free(s);
	}
}

#define E1 "{\"errcode\":\"M_X\",\"error\":\"a\\u0000b\\ud800\"}"
#define E2 "{\"errcode\":\"M_\\u0000X\"}"
#define E3 "{\"errcode\":\"M_X\",\"retry_after_ms\":1e999}"
#define F1 "{\"event_id\":\"$a\\u0000b\"}"
#define F2 "{\"x\":\"\\ud800\",\"event_id\":\"$a\"}"
#define P1                                                                       \
	"{\"users\":{\"@a\\u0000:x\":100,\"@m:x\":50,\"@b\\ud800:x\":1e999},"          \
	"\"users_default\":1}"
#define J1 "{\"joined\":{\"@a:x\":{\"display_name\":\"\\ud800\\u0000\"},\"@b\\u0000:x\":{}}}"

static void test_small_bodies_poison(void **st)
{
	struct mx_power *p = NULL;
	struct mx_error me;
	char buf[64];
	size_t skipped = 9;
	long n = -1;

	(void)st;
	/* error bodies: a NUL and a lone surrogate in the text cost nothing */
	assert_int_equal(mx_error_parse(E1, strlen(E1), &me),
	                 ERR_OK);
	assert_string_equal(me.errcode, "M_X");
	assert_string_equal(me.error, "a?b\xef\xbf\xbd");
	assert_int_equal(mx_error_parse(E2, strlen(E2), &me), ERR_PARSE);
	assert_int_equal(mx_error_parse(E3, strlen(E3), &me), ERR_OK);
	assert_true(me.retry_after_ms == -1);
	/* a field with a NUL is no field: it would be read as a shorter one */
	assert_int_equal(mx_field_string(F1, strlen(F1), "event_id", buf, sizeof(buf)),
	                 ERR_PARSE);
	assert_int_equal(mx_field_string(F2, strlen(F2), "event_id", buf, sizeof(buf)), ERR_OK);
	assert_string_equal(buf, "$a");
	/* power levels: the odd entries go, the rest stay */
	assert_int_equal(mx_power_parse(P1, strlen(P1), &p, &skipped), ERR_OK);
	assert_int_equal(mx_power_level(p, "@m:x"), 50);
	assert_int_equal(mx_power_level(p, "@z:x"), 1);
	assert_int_equal(skipped, 1);
	mx_power_free(p);
	/* joined members */
	assert_int_equal(mx_joined_count(J1, strlen(J1), &n), ERR_OK);
	assert_int_equal(n, 2);
	assert_int_equal(mx_joined_count("{\"joined\":[]}", 13, &n), ERR_PARSE);
	assert_int_equal(mx_joined_count("<html>", 6, &n), ERR_PARSE);
}

static void test_txn_skip(void **st)
{
	char a[64], b[64], c[64];

	(void)st;
	assert_int_equal(mx_txn_skip("s42", a, sizeof(a)), ERR_OK);
	assert_int_equal(mx_txn_skip("s42", b, sizeof(b)), ERR_OK);
	assert_string_equal(a, b);
	assert_int_equal(strlen(a), 4 + 16);
	assert_true(!strncmp(a, "fbs-", 4));
	assert_int_equal(strspn(a + 4, "0123456789abcdef"), 16);
	assert_int_equal(mx_txn_skip("s43", c, sizeof(c)), ERR_OK);
	assert_string_not_equal(a, c);
	assert_int_equal(mx_txn_skip(NULL, b, sizeof(b)), ERR_OK);
	assert_int_equal(mx_txn_skip("", c, sizeof(c)), ERR_OK);
	assert_string_equal(b, c);
	assert_int_equal(mx_txn_skip("s42", a, 10), ERR_LIMIT);
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
	    cmocka_unit_test(test_filter_power_levels),
	    cmocka_unit_test(test_power_levels_sync),
	    cmocka_unit_test(test_power_levels_truncated),
	    cmocka_unit_test(test_user_id_valid),
	    cmocka_unit_test(test_mention_resolve),
	    cmocka_unit_test(test_reply_directed),
	    cmocka_unit_test(test_reply_see_link),
	    cmocka_unit_test(test_notice_json),
	    cmocka_unit_test(test_txn_mod_notice),
	    cmocka_unit_test(test_repair_strings),
	    cmocka_unit_test(test_repair_numbers),
	    cmocka_unit_test(test_repair_depth),
	    cmocka_unit_test(test_next_batch_scan),
	    cmocka_unit_test(test_sync_poison),
	    cmocka_unit_test(test_sync_poison_events),
	    cmocka_unit_test(test_sync_unreadable),
	    cmocka_unit_test(test_small_bodies_poison),
	    cmocka_unit_test(test_txn_skip),
	};

	return cmocka_run_group_tests_name("mx_json", tests, NULL, NULL);
}
