/* test_mx_appsvc.c -- the Application Service requests, read: routes and
 * their parameters (hostile paths), the hs_token check (both places,
 * missing, wrong, another scheme), a transaction's events as the actions a
 * /sync would give (invite, join, message, kick, a room not named, a body
 * that is no transaction), the ids handled (ring, text round trip, lines
 * that are no id), joined_rooms. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mx_appsvc.h"

#define BOT "@faqbot-1:ex.org"

static enum mx_as_route route(const char *method, const char *path, char *arg)
{
	const char *a;
	size_t n;
	enum mx_as_route r = mx_as_route(method, path, &a, &n);

	arg[0] = '\0';
	if (a) {
		memcpy(arg, a, n);
		arg[n] = '\0';
	}
	return r;
}

static void test_route(void **st)
{
	char arg[512], big[400];

	(void)st;
	assert_int_equal(route("PUT", "/_matrix/app/v1/transactions/35", arg), MX_AS_TXN);
	assert_string_equal(arg, "35");
	assert_int_equal(route("PUT", "/transactions/36", arg), MX_AS_TXN); /* legacy */
	assert_string_equal(arg, "36");
	assert_int_equal(route("GET", "/_matrix/app/v1/transactions/35", arg), MX_AS_METHOD);
	assert_int_equal(route("PUT", "/_matrix/app/v1/transactions/", arg), MX_AS_UNKNOWN);
	assert_int_equal(route("PUT", "/_matrix/app/v1/transactions/a/b", arg), MX_AS_UNKNOWN);
	assert_int_equal(route("PUT", "/_matrix/app/v1/transactions/a\nb", arg), MX_AS_BAD_PARAM);
	memset(big, 'x', sizeof(big));
	memcpy(big, "/transactions/", 14);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(route("PUT", big, arg), MX_AS_BAD_PARAM); /* too long: never cut */
	assert_int_equal(route("POST", "/_matrix/app/v1/ping", arg), MX_AS_PING);
	assert_int_equal(route("GET", "/_matrix/app/v1/ping", arg), MX_AS_METHOD);
	assert_int_equal(route("POST", "/ping", arg), MX_AS_UNKNOWN); /* no legacy ping */
	assert_int_equal(route("GET", "/_matrix/app/v1/users/@a:ex.org", arg), MX_AS_USER);
	assert_string_equal(arg, "@a:ex.org");
	assert_int_equal(route("GET", "/_matrix/app/v1/users/a:ex.org", arg), MX_AS_BAD_PARAM);
	assert_int_equal(route("GET", "/_matrix/app/v1/rooms/#r:ex.org", arg), MX_AS_ROOM);
	assert_int_equal(route("GET", "/rooms/#r:ex.org", arg), MX_AS_ROOM);
	assert_int_equal(route("GET", "/_matrix/app/v1/thirdparty/protocol/irc", arg),
			 MX_AS_UNKNOWN);
	assert_int_equal(route("GET", "/", arg), MX_AS_UNKNOWN);
	assert_int_equal(route("GET", "", arg), MX_AS_UNKNOWN);
	assert_int_equal(route(NULL, NULL, arg), MX_AS_UNKNOWN);
	assert_int_equal(route("PUT", "/_matrix/app/v1transactions/1", arg), MX_AS_UNKNOWN);
}

static void test_auth(void **st)
{
	(void)st;
	assert_int_equal(mx_as_auth_check("Bearer sekrit", NULL, "sekrit"), MX_AS_AUTH_OK);
	assert_int_equal(mx_as_auth_check("bearer  sekrit ", NULL, "sekrit"), MX_AS_AUTH_OK);
	assert_int_equal(mx_as_auth_check(NULL, "sekrit", "sekrit"), MX_AS_AUTH_OK);
	assert_int_equal(mx_as_auth_check("Bearer sekrit", "sekrit", "sekrit"), MX_AS_AUTH_OK);
	assert_int_equal(mx_as_auth_check(NULL, NULL, "sekrit"), MX_AS_AUTH_MISSING);
	assert_int_equal(mx_as_auth_check("Bearer sekri", NULL, "sekrit"), MX_AS_AUTH_WRONG);
	assert_int_equal(mx_as_auth_check("Bearer sekrit2", NULL, "sekrit"), MX_AS_AUTH_WRONG);
	assert_int_equal(mx_as_auth_check("Basic sekrit", NULL, "sekrit"), MX_AS_AUTH_WRONG);
	assert_int_equal(mx_as_auth_check("Bearer", NULL, "sekrit"), MX_AS_AUTH_WRONG);
	assert_int_equal(mx_as_auth_check("Bearersekrit", NULL, "sekrit"), MX_AS_AUTH_WRONG);
	/* both given: both must match */
	assert_int_equal(mx_as_auth_check("Bearer sekrit", "other", "sekrit"), MX_AS_AUTH_WRONG);
	assert_int_equal(mx_as_auth_check("Bearer other", "sekrit", "sekrit"), MX_AS_AUTH_WRONG);
	/* no hs_token configured: nothing is let in */
	assert_int_equal(mx_as_auth_check("Bearer ", NULL, ""), MX_AS_AUTH_WRONG);
	assert_int_equal(mx_as_auth_check(NULL, "", ""), MX_AS_AUTH_WRONG);
}

static struct mx_sync *parse(const char *json)
{
	struct mx_sync *s = NULL;
	char why[128];

	assert_int_equal(mx_as_txn_parse(json, strlen(json), BOT, &s, why, sizeof(why)), ERR_OK);
	return s;
}

static void test_txn_events(void **st)
{
	struct mx_sync *s;

	(void)st;
	s = parse("{\"events\":["
		  "{\"type\":\"m.room.member\",\"room_id\":\"!a:ex.org\",\"state_key\":\"" BOT
		  "\",\"sender\":\"@mod:ex.org\",\"event_id\":\"$1\","
		  "\"content\":{\"membership\":\"invite\",\"is_direct\":true}},"
		  "{\"type\":\"m.room.member\",\"room_id\":\"!b:ex.org\",\"state_key\":\"" BOT
		  "\",\"sender\":\"" BOT "\",\"event_id\":\"$2\","
		  "\"content\":{\"membership\":\"join\"}},"
		  "{\"type\":\"m.room.message\",\"room_id\":\"!b:ex.org\","
		  "\"sender\":\"@ann:ex.org\",\"event_id\":\"$3\",\"origin_server_ts\":5,"
		  "\"content\":{\"msgtype\":\"m.text\",\"body\":\"what is TMS?\"}},"
		  "{\"type\":\"m.room.message\",\"room_id\":\"!b:ex.org\","
		  "\"sender\":\"" BOT "\",\"event_id\":\"$4\","
		  "\"content\":{\"msgtype\":\"m.notice\",\"body\":\"mine\"}},"
		  "{\"type\":\"m.room.message\",\"sender\":\"@ann:ex.org\",\"event_id\":\"$5\","
		  "\"content\":{\"msgtype\":\"m.text\",\"body\":\"no room\"}},"
		  "17,"
		  "{\"type\":\"m.room.member\",\"room_id\":\"!c:ex.org\",\"state_key\":\"" BOT
		  "\",\"sender\":\"@mod:ex.org\",\"event_id\":\"$6\","
		  "\"content\":{\"membership\":\"leave\"}}"
		  "],\"ephemeral\":[{\"type\":\"m.typing\"}]}");
	assert_int_equal(s->skipped, 2); /* no room id; not an object */
	assert_true(s->n >= 5);
	assert_int_equal(s->actions[0].kind, MX_ACT_INVITE);
	assert_string_equal(s->actions[0].room_id, "!a:ex.org");
	assert_string_equal(s->actions[0].sender, "@mod:ex.org");
	assert_int_equal(s->actions[0].is_direct, 1);
	/* the join run: the name, the join, the message, the bot's own */
	{
		size_t i, joined = 0, msgs = 0, own = 0;

		for (i = 1; i < s->n - 1; i++) {
			assert_string_equal(s->actions[i].room_id, "!b:ex.org");
			joined += s->actions[i].kind == MX_ACT_JOINED;
			if (s->actions[i].kind == MX_ACT_MESSAGE) {
				msgs++;
				own += s->actions[i].ignore == MX_IGN_OWN;
			}
		}
		assert_int_equal(joined, 1);
		assert_int_equal(msgs, 2);
		assert_int_equal(own, 1);
	}
	assert_int_equal(s->actions[s->n - 1].kind, MX_ACT_KICKED);
	assert_string_equal(s->actions[s->n - 1].room_id, "!c:ex.org");
	mx_sync_free(s);

	s = parse("{\"events\":[]}");
	assert_int_equal(s->n, 0);
	mx_sync_free(s);
}

static void test_txn_bad(void **st)
{
	static const char *const bad[] = {"", "[]", "{}", "{\"events\":{}}", "{\"events\":",
					  "\"x\"", "null"};
	struct mx_sync *s;
	char why[128];
	size_t i;

	(void)st;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why[0] = '\0';
		assert_int_equal(mx_as_txn_parse(bad[i], strlen(bad[i]), BOT, &s, why, sizeof(why)),
				 ERR_PARSE);
		assert_null(s);
		assert_true(why[0] != '\0');
	}
	/* a NUL, a lone surrogate in a body: the message is still read */
	{
		const char j[] = "{\"events\":[{\"type\":\"m.room.message\",\"room_id\":\"!b:ex.org\","
				 "\"sender\":\"@ann:ex.org\",\"event_id\":\"$3\",\"content\":{"
				 "\"msgtype\":\"m.text\",\"body\":\"a\\u0000b \\ud800 help\"}}]}";

		assert_int_equal(mx_as_txn_parse(j, sizeof(j) - 1, BOT, &s, why, sizeof(why)),
				 ERR_OK);
		assert_int_equal(s->n, 1);
		assert_int_equal(s->actions[0].kind, MX_ACT_MESSAGE);
		assert_non_null(strstr(s->actions[0].body, "help"));
		mx_sync_free(s);
	}
}

static void test_txns(void **st)
{
	struct mx_as_txns t, u;
	char id[32], *text;
	size_t i;

	(void)st;
	memset(&t, 0, sizeof(t));
	memset(&u, 0, sizeof(u));
	assert_false(mx_as_txns_has(&t, "1"));
	assert_int_equal(mx_as_txns_add(&t, "1"), ERR_OK);
	assert_true(mx_as_txns_has(&t, "1"));
	assert_int_equal(mx_as_txns_add(&t, "bad id"), ERR_INVALID);
	assert_int_equal(mx_as_txns_add(&t, ""), ERR_INVALID);
	for (i = 2; i <= MX_AS_TXNS_KEEP + 10; i++) {
		snprintf(id, sizeof(id), "%zu", i);
		assert_int_equal(mx_as_txns_add(&t, id), ERR_OK);
	}
	assert_int_equal(t.n, MX_AS_TXNS_KEEP);
	assert_false(mx_as_txns_has(&t, "1"));  /* the oldest went */
	assert_false(mx_as_txns_has(&t, "10")); /* and the nine after */
	assert_true(mx_as_txns_has(&t, "11"));
	snprintf(id, sizeof(id), "%d", MX_AS_TXNS_KEEP + 10);
	assert_true(mx_as_txns_has(&t, id));
	text = mx_as_txns_text(&t);
	assert_non_null(text);
	assert_true(strlen(text) < 64 * 1024);
	assert_int_equal(strncmp(text, "11\n", 3), 0); /* oldest first */
	assert_int_equal(mx_as_txns_load(&u, text, strlen(text)), ERR_OK);
	assert_int_equal(u.n, MX_AS_TXNS_KEEP);
	assert_true(mx_as_txns_has(&u, "11") && mx_as_txns_has(&u, id));
	free(text);
	/* the newest forgotten (it could not be kept): a retry of it is new,
	 * the rest stay, and another comes in its place */
	mx_as_txns_forget_newest(&u);
	assert_int_equal(u.n, MX_AS_TXNS_KEEP - 1);
	assert_false(mx_as_txns_has(&u, id));
	assert_true(mx_as_txns_has(&u, "11"));
	assert_int_equal(mx_as_txns_add(&u, "again"), ERR_OK);
	assert_true(mx_as_txns_has(&u, "again") && mx_as_txns_has(&u, "11"));
	text = mx_as_txns_text(&u);
	assert_non_null(text);
	assert_int_equal(strncmp(text, "11\n", 3), 0);
	assert_non_null(strstr(text, "\nagain\n"));
	free(text);
	mx_as_txns_release(&u);
	mx_as_txns_add(&u, "only");
	mx_as_txns_forget_newest(&u);
	mx_as_txns_forget_newest(&u); /* none: no-op */
	assert_int_equal(u.n, 0);
	assert_false(mx_as_txns_has(&u, "only"));
	mx_as_txns_release(&u);
	/* lines that are no id are skipped; no line end at the end is fine */
	assert_int_equal(mx_as_txns_load(&u, "a\n\nb c\n\x01\nd", 10), ERR_OK);
	assert_int_equal(u.n, 2);
	assert_true(mx_as_txns_has(&u, "a") && mx_as_txns_has(&u, "d"));
	mx_as_txns_release(&u);
	mx_as_txns_release(&t);
}

static void test_joined(void **st)
{
	const char *j = "{\"joined_rooms\":[\"!b:x\",\"!a:x\",3,\"nope\",\"!c:x\"]}";
	char **list;
	size_t n, i;

	(void)st;
	assert_int_equal(mx_as_joined_rooms(j, strlen(j), &list, &n), ERR_OK);
	assert_int_equal(n, 3);
	assert_string_equal(list[0], "!a:x");
	assert_string_equal(list[2], "!c:x");
	for (i = 0; i < n; i++)
		free(list[i]);
	free(list);
	assert_int_equal(mx_as_joined_rooms("{\"joined_rooms\":[]}", 19, &list, &n), ERR_OK);
	assert_int_equal(n, 0);
	assert_null(list);
	assert_int_equal(mx_as_joined_rooms("{}", 2, &list, &n), ERR_PARSE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_route),   cmocka_unit_test(test_auth),
	    cmocka_unit_test(test_txn_events), cmocka_unit_test(test_txn_bad),
	    cmocka_unit_test(test_txns),    cmocka_unit_test(test_joined),
	};

	return cmocka_run_group_tests_name("mx_appsvc", tests, NULL, NULL);
}
