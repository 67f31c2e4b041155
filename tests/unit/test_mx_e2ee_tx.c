/* test_mx_e2ee_tx.c -- the JSON of sending in encrypted rooms: the
 * /keys/query body and its answer (devices whose keys do not hold, or
 * whose signature does not, skipped), the /keys/claim body and its answer
 * (a key whose signature does not hold refused), the m.room_key
 * plaintext, the to-device bodies (Olm, withheld), a room event's Megolm
 * plaintext and content (its relation in clear), m.room.encryption's
 * rotation and its defaults, joined members, a sync's device-list changes,
 * and the outbound sessions' file (and its damage refused). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mx_e2ee_tx.h"
#include "mx_json.h"

#define ANN "@ann:hs.test"
#define BOT "@bot:hs.test"

/* a signer stand-in: a signature is good when it is "ok-" and the key */
static enum err verify(const char *ed, const char *msg, size_t len, const char *sig)
{
	(void)msg;
	(void)len;
	return !strncmp(sig, "ok-", 3) && !strcmp(sig + 3, ed) ? ERR_OK : ERR_INVALID;
}

static json_t *load(const char *s)
{
	json_t *j = json_loads(s, 0, NULL);

	assert_non_null(j);
	return j;
}

static void test_query(void **st)
{
	const char *users[] = {ANN, BOT};
	struct mx_tx_dev *d = NULL;
	size_t n = 0, skipped = 0;
	char *body = NULL;
	json_t *j;
	const char *answer =
		"{\"device_keys\":{\"" ANN "\":{"
		/* good */
		"\"D1\":{\"user_id\":\"" ANN "\",\"device_id\":\"D1\",\"algorithms\":["
		"\"m.olm.v1.curve25519-aes-sha2\",\"m.megolm.v1.aes-sha2\"],\"keys\":{"
		"\"curve25519:D1\":\"C1\",\"ed25519:D1\":\"E1\"},\"signatures\":{\"" ANN "\":{"
		"\"ed25519:D1\":\"ok-E1\"}}},"
		/* a bad signature */
		"\"D2\":{\"user_id\":\"" ANN "\",\"device_id\":\"D2\",\"algorithms\":["
		"\"m.olm.v1.curve25519-aes-sha2\",\"m.megolm.v1.aes-sha2\"],\"keys\":{"
		"\"curve25519:D2\":\"C2\",\"ed25519:D2\":\"E2\"},\"signatures\":{\"" ANN "\":{"
		"\"ed25519:D2\":\"ok-E1\"}}},"
		/* another device's id inside */
		"\"D3\":{\"user_id\":\"" ANN "\",\"device_id\":\"D1\",\"algorithms\":["
		"\"m.olm.v1.curve25519-aes-sha2\",\"m.megolm.v1.aes-sha2\"],\"keys\":{"
		"\"curve25519:D1\":\"C1\",\"ed25519:D1\":\"E1\"},\"signatures\":{\"" ANN "\":{"
		"\"ed25519:D1\":\"ok-E1\"}}},"
		/* no Megolm */
		"\"D4\":{\"user_id\":\"" ANN "\",\"device_id\":\"D4\",\"algorithms\":["
		"\"m.olm.v1.curve25519-aes-sha2\"],\"keys\":{"
		"\"curve25519:D4\":\"C4\",\"ed25519:D4\":\"E4\"},\"signatures\":{\"" ANN "\":{"
		"\"ed25519:D4\":\"ok-E4\"}}},"
		"\"D5\":[]},"
		"\"not-a-user\":{}},\"failures\":{}}";

	(void)st;
	assert_int_equal(mx_tx_query_json(users, 2, &body), ERR_OK);
	j = load(body);
	assert_true(json_is_array(json_object_get(json_object_get(j, "device_keys"), ANN)));
	assert_true(json_is_array(json_object_get(json_object_get(j, "device_keys"), BOT)));
	json_decref(j);
	free(body);

	assert_int_equal(mx_tx_query_parse(answer, strlen(answer), verify, &d, &n, &skipped),
			 ERR_OK);
	assert_int_equal(n, 1);
	assert_int_equal(skipped, 5);
	assert_string_equal(d[0].user, ANN);
	assert_string_equal(d[0].device, "D1");
	assert_string_equal(d[0].curve, "C1");
	assert_string_equal(d[0].ed, "E1");
	free(d);
	assert_int_equal(mx_tx_query_parse("[]", 2, verify, &d, &n, NULL), ERR_PARSE);
	assert_int_equal(mx_tx_query_parse("{}", 2, verify, &d, &n, NULL), ERR_PARSE);
	assert_int_equal(mx_tx_query_parse("{\"device_keys\":{}}", 18, verify, &d, &n, NULL),
			 ERR_OK);
	assert_int_equal(n, 0);
	assert_null(d);
}

static void test_claim(void **st)
{
	struct mx_tx_dev devs[3] = {
		{ANN, "D1", "C1", "E1"}, {ANN, "D2", "C2", "E2"}, {BOT, "D3", "C3", "E3"}};
	char otk[3][MX_KEY_MAX], *body = NULL;
	json_t *j;
	const char *answer =
		"{\"one_time_keys\":{\"" ANN "\":{"
		"\"D1\":{\"signed_curve25519:AAAA\":{\"key\":\"K1\",\"signatures\":{\"" ANN "\":{"
		"\"ed25519:D1\":\"ok-E1\"}}}},"
		/* signed by another key: refused */
		"\"D2\":{\"signed_curve25519:AAAB\":{\"key\":\"K2\",\"signatures\":{\"" ANN "\":{"
		"\"ed25519:D2\":\"ok-E1\"}}}}}},\"failures\":{}}";

	(void)st;
	assert_int_equal(mx_tx_claim_json(devs, 3, &body), ERR_OK);
	j = load(body);
	assert_string_equal(
		json_string_value(json_object_get(
			json_object_get(json_object_get(j, "one_time_keys"), ANN), "D2")),
		"signed_curve25519");
	json_decref(j);
	free(body);
	assert_int_equal(mx_tx_claim_parse(answer, strlen(answer), verify, devs, 3, otk), ERR_OK);
	assert_string_equal(otk[0], "K1");
	assert_string_equal(otk[1], "");
	assert_string_equal(otk[2], "");
	assert_int_equal(mx_tx_claim_parse("nope", 4, verify, devs, 3, otk), ERR_PARSE);
	assert_int_equal(mx_tx_claim_parse("{}", 2, verify, devs, 3, otk), ERR_OK);
}

static void test_bodies(void **st)
{
	struct mx_tx_me me = {BOT, "BOTDEV", "BC", "BE"};
	struct mx_tx_dev to = {ANN, "D1", "C1", "E1"};
	struct mx_tx_msg msgs[2];
	char *a = NULL, *b = NULL, *c = NULL;
	json_t *j;

	(void)st;
	assert_int_equal(mx_tx_room_key_plain(&me, &to, "!r:hs.test", "SID", "KEY", &a), ERR_OK);
	j = load(a);
	assert_string_equal(json_string_value(json_object_get(j, "type")), "m.room_key");
	assert_string_equal(json_string_value(json_object_get(j, "sender")), BOT);
	assert_string_equal(json_string_value(json_object_get(j, "recipient")), ANN);
	assert_string_equal(
		json_string_value(json_object_get(json_object_get(j, "recipient_keys"), "ed25519")),
		"E1");
	assert_string_equal(
		json_string_value(json_object_get(json_object_get(j, "keys"), "ed25519")), "BE");
	assert_string_equal(
		json_string_value(json_object_get(json_object_get(j, "content"), "session_key")),
		"KEY");
	json_decref(j);
	free(a);

	assert_int_equal(mx_tx_olm_content(&me, "C1", 0, "QUJD", &a), ERR_OK);
	assert_int_equal(mx_tx_withheld_content(&me, "!r:hs.test", "SID", "m.no_olm", "none", &b),
			 ERR_OK);
	j = load(b);
	assert_string_equal(json_string_value(json_object_get(j, "code")), "m.no_olm");
	assert_string_equal(json_string_value(json_object_get(j, "sender_key")), "BC");
	json_decref(j);
	msgs[0] = (struct mx_tx_msg){ANN, "D1", a};
	msgs[1] = (struct mx_tx_msg){ANN, "D2", b};
	assert_int_equal(mx_tx_todev_body(msgs, 2, &c), ERR_OK);
	j = load(c);
	assert_int_equal(
		json_integer_value(json_object_get(
			json_object_get(
				json_object_get(
					json_object_get(
						json_object_get(json_object_get(j, "messages"),
								ANN),
						"D1"),
					"ciphertext"),
				"C1"),
			"type")),
		0);
	assert_string_equal(
		json_string_value(json_object_get(
			json_object_get(json_object_get(json_object_get(j, "messages"), ANN), "D2"),
			"code")),
		"m.no_olm");
	json_decref(j);
	free(c);
	msgs[1].content = "[]";
	assert_int_equal(mx_tx_todev_body(msgs, 2, &c), ERR_PARSE);
	free(a);
	free(b);
}

static void test_megolm(void **st)
{
	struct mx_tx_me me = {BOT, "BOTDEV", "BC", "BE"};
	const char *content = "{\"msgtype\":\"m.text\",\"body\":\"hi\",\"m.relates_to\":"
			      "{\"m.in_reply_to\":{\"event_id\":\"$q\"}}}";
	char *plain = NULL, *rel = NULL, *out = NULL;
	json_t *j;

	(void)st;
	assert_int_equal(mx_tx_megolm_plain("!r:hs.test", "m.room.message", content, &plain),
			 ERR_OK);
	j = load(plain);
	assert_string_equal(json_string_value(json_object_get(j, "room_id")), "!r:hs.test");
	assert_string_equal(
		json_string_value(json_object_get(json_object_get(j, "content"), "body")), "hi");
	json_decref(j);
	assert_int_equal(mx_tx_relates(content, &rel), ERR_OK);
	assert_non_null(rel);
	assert_int_equal(mx_tx_megolm_content(&me, "SID", "CT", rel, &out), ERR_OK);
	j = load(out);
	assert_string_equal(json_string_value(json_object_get(j, "algorithm")),
			    "m.megolm.v1.aes-sha2");
	assert_string_equal(json_string_value(json_object_get(j, "session_id")), "SID");
	assert_string_equal(json_string_value(json_object_get(j, "device_id")), "BOTDEV");
	assert_string_equal(
		json_string_value(json_object_get(
			json_object_get(json_object_get(j, "m.relates_to"), "m.in_reply_to"),
			"event_id")),
		"$q");
	assert_null(json_object_get(j, "body")); /* no text in clear */
	json_decref(j);
	free(out);
	free(rel);
	free(plain);
	assert_int_equal(mx_tx_relates("{\"body\":\"x\"}", &rel), ERR_OK);
	assert_null(rel);
	assert_int_equal(mx_tx_relates("[1]", &rel), ERR_PARSE);
	assert_int_equal(mx_tx_megolm_plain("!r:hs.test", "m.room.message", "7", &plain),
			 ERR_PARSE);
}

static void test_encryption(void **st)
{
	long msgs;
	long long ms;
	const char *a = "{\"algorithm\":\"m.megolm.v1.aes-sha2\",\"rotation_period_msgs\":3,"
			"\"rotation_period_ms\":60000}";

	(void)st;
	assert_int_equal(mx_tx_encryption_text(a, strlen(a), &msgs, &ms), 1);
	assert_int_equal(msgs, 3);
	assert_int_equal(ms, 60000);
	a = "{\"algorithm\":\"m.megolm.v1.aes-sha2\",\"rotation_period_msgs\":-1,"
	    "\"rotation_period_ms\":\"x\"}";
	assert_int_equal(mx_tx_encryption_text(a, strlen(a), &msgs, &ms), 1);
	assert_int_equal(msgs, MX_TX_ROT_MSGS_DEFAULT);
	assert_int_equal(ms, MX_TX_ROT_MS_DEFAULT);
	a = "{\"algorithm\":\"m.other\"}";
	assert_int_equal(mx_tx_encryption_text(a, strlen(a), &msgs, &ms), 0);
	assert_int_equal(mx_tx_encryption_text("x", 1, &msgs, &ms), 0);
}

static void test_members_and_lists(void **st)
{
	const char *a = "{\"joined\":{\"" ANN "\":{},\"" BOT "\":{\"display_name\":\"b\"},"
			"\"bad\":{}}}";
	const char *sync = "{\"next_batch\":\"s1\",\"device_lists\":{\"changed\":[\"" ANN
			   "\",7,\"x\"],\"left\":[\"" BOT "\"]}}";
	char **v = NULL;
	size_t n = 0;
	json_t *j;
	struct mx_sync *s = NULL;

	(void)st;
	assert_int_equal(mx_tx_joined_parse(a, strlen(a), &v, &n), ERR_OK);
	assert_int_equal(n, 2);
	mx_tx_strs_free(v, n);
	assert_int_equal(mx_tx_joined_parse("{}", 2, &v, &n), ERR_PARSE);
	j = load(sync);
	assert_int_equal(mx_tx_device_lists(j, &v, &n), ERR_OK);
	assert_int_equal(n, 2);
	assert_string_equal(v[0], ANN);
	assert_string_equal(v[1], BOT);
	mx_tx_strs_free(v, n);
	json_decref(j);
	/* and through the sync's parse, with a room's m.room.encryption */
	sync = "{\"next_batch\":\"s2\",\"device_lists\":{\"changed\":[\"" ANN "\"]},"
	       "\"rooms\":{\"join\":{\"!r:hs.test\":{\"timeline\":{\"events\":["
	       "{\"type\":\"m.room.encryption\",\"state_key\":\"\",\"sender\":\"" ANN "\","
	       "\"event_id\":\"$e\",\"content\":{\"algorithm\":\"m.megolm.v1.aes-sha2\","
	       "\"rotation_period_msgs\":5}}]}}}}}";
	assert_int_equal(mx_sync_parse(sync, strlen(sync), BOT, &s, NULL, 0), ERR_OK);
	assert_int_equal(s->n_dl, 1);
	assert_int_equal(s->n_enc, 1);
	assert_string_equal(s->enc[0].room_id, "!r:hs.test");
	assert_int_equal(s->enc[0].megolm, 1);
	assert_int_equal(s->enc[0].rot_msgs, 5);
	mx_sync_free(s);
}

static void test_out_file(void **st)
{
	char *sh[] = {"C1", "C2"};
	struct mx_out_rec r = {"!r:hs.test", "SID", 1000, 3, "UElDS0xF", sh, 2};
	struct mx_out_set s = {&r, 1}, back;
	char *json = NULL, *again = NULL;
	const char *bad[] = {"{}", "{\"version\":2,\"rooms\":[]}",
			     "{\"version\":1,\"rooms\":[{\"room_id\":\"x\"}]}",
			     "{\"version\":1,\"rooms\":[{\"room_id\":\"!r:hs.test\",\"session_id\":"
			     "\"S\",\"created_ms\":1,\"msgs\":-1,\"pickle\":\"P\",\"shared\":[]}]}",
			     "[]"};
	size_t i;

	(void)st;
	assert_int_equal(mx_tx_out_json(&s, &json), ERR_OK);
	assert_int_equal(mx_tx_out_parse(json, strlen(json), &back), ERR_OK);
	assert_int_equal(back.n, 1);
	assert_string_equal(back.v[0].session_id, "SID");
	assert_int_equal(back.v[0].msgs, 3);
	assert_int_equal(back.v[0].n_shared, 2);
	assert_int_equal(mx_tx_out_json(&back, &again), ERR_OK);
	assert_string_equal(json, again);
	mx_tx_out_release(&back);
	free(json);
	free(again);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(mx_tx_out_parse(bad[i], strlen(bad[i]), &back), ERR_PARSE);
		assert_int_equal(back.n, 0);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_query),      cmocka_unit_test(test_claim),
		cmocka_unit_test(test_bodies),     cmocka_unit_test(test_megolm),
		cmocka_unit_test(test_encryption), cmocka_unit_test(test_members_and_lists),
		cmocka_unit_test(test_out_file),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
