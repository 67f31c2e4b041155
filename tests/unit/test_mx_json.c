/* test_mx_json.c -- mx_json: sync responses in (messages, memberships,
 * names, power levels, poisoned batches, unreadable ones), error bodies and
 * the small responses. Its siblings have their own files: test_mx_ids,
 * test_mx_repair, test_mx_power, test_mx_html, test_mx_body.
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
#include "buf.h"
#include "mx_json.h"
#include "mx_nest.h"

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

/* ---- the repair pass, the next_batch scan, poisoned batches ----------- */

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

/* A body is read a room at a time; one the split way finds odd is read
 * whole, as before. The two agree: the same rooms in the same order, a
 * room id twice (the tree keeps the first's place and the last's value),
 * a section twice (the last), an earlier copy that is not JSON (the whole
 * body unreadable, both ways), 500 rooms. */
static void split_same(const char *body)
{
	struct mx_sync *a = NULL, *b = NULL;
	enum err ea = mx_sync_parse(body, strlen(body), "@bot:x", &a, NULL, 0);
	enum err eb = mx_sync_parse_tree(body, strlen(body), "@bot:x", &b, NULL, 0);
	size_t i;

	assert_int_equal(ea, eb);
	if (ea == ERR_OK) {
		assert_int_equal(a->n, b->n);
		assert_int_equal(a->unreadable, b->unreadable);
		assert_int_equal(a->skipped, b->skipped);
		assert_int_equal(a->rooms, b->rooms);
		for (i = 0; i < a->n; i++) {
			assert_int_equal(a->actions[i].kind, b->actions[i].kind);
			assert_string_equal(a->actions[i].room_id, b->actions[i].room_id);
			if (a->actions[i].body)
				assert_string_equal(a->actions[i].body, b->actions[i].body);
		}
	}
	mx_sync_free(a);
	mx_sync_free(b);
}

#define MSG(id, text)                                                                  \
	"{\"timeline\":{\"events\":[{\"type\":\"m.room.message\",\"sender\":\"@a:x\"," \
	"\"event_id\":\"$" id "\",\"content\":{\"msgtype\":\"m.text\",\"body\":\"" text "\"}}]}}"

static void test_split_same_as_tree(void **st)
{
	struct buf big;
	struct mx_sync *s = NULL;
	int i;

	(void)st;
	split_same("{\"next_batch\":\"s1\",\"rooms\":{\"join\":{\"!r:x\":" MSG(
		"e1",
		"one") ",\"!q:x\":" MSG("e2",
					"two") "},\"invite\":{\"!i:x\":{}},\"leave\":{\"!l:x\":{}}}}");
	split_same("{\"next_batch\":\"s1\",\"rooms\":{\"join\":{\"!r:x\":" MSG(
		"e1", "one") ",\"!q:x\":{},"
			     "\"!r:x\":" MSG("e2", "two") "}}}");
	split_same("{\"rooms\":{\"join\":{\"!r:x\":" MSG("e1", "one") "},\"join\":{\"!q:x\":" MSG(
		"e2", "two") "}},\"next_batch\":\"s1\",\"next_batch\":\"s2\"}");
	split_same(
		"{\"next_batch\":\"s1\",\"rooms\":{\"join\":{\"!r:x\":{\"a\":1:2}},\"join\":{}}}");
	split_same("{\"next_batch\":\"s1\",\"rooms\":{\"join\":{\"!r:x\":{}}}} trailing");
	split_same("{\"next_batch\":\"s1\",\"rooms\":[1,2],\"x\":{\"y\":[]}}");
	split_same("{\"next_batch\":\"s1\",\"rooms\":{\"join\":{\"\\u0021r:x\":" MSG("e1",
										     "one") "}}}");
	buf_init(&big, 1 << 24);
	buf_puts(&big, "{\"next_batch\":\"s9\",\"rooms\":{\"join\":{");
	for (i = 0; i < 500; i++)
		buf_printf(&big, "%s\"!r%d:x\":" MSG("e", "a question?"), i ? "," : "", i);
	buf_puts(&big, "}}}");
	split_same(big.s);
	assert_int_equal(mx_sync_parse(big.s, big.len, "@bot:x", &s, NULL, 0), ERR_OK);
	assert_int_equal(s->rooms, 500);
	mx_sync_free(s);
	buf_release(&big);
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
	    cmocka_unit_test(test_error_parse),
	    cmocka_unit_test(test_field_and_requests),
	    cmocka_unit_test(test_power_levels_sync),
	    cmocka_unit_test(test_sync_poison),
	    cmocka_unit_test(test_sync_poison_events),
	    cmocka_unit_test(test_sync_unreadable),
	    cmocka_unit_test(test_small_bodies_poison),
	    cmocka_unit_test(test_split_same_as_tree),
	};

	return cmocka_run_group_tests_name("mx_json", tests, NULL, NULL);
}
