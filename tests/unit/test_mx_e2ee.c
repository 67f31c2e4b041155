/* test_mx_e2ee.c -- the JSON of reading encrypted rooms: a /sync's
 * to-device events, a room's Megolm content, the Olm plaintext and every
 * check the spec asks of it (sender, recipient, recipient_keys, keys,
 * sender_device_keys with its signature), the room keys it carries, the
 * key request's body, the replay table, a /keys/query answer, the
 * sessions' and the waiting list's files (and their damage refused), and
 * a decrypted Megolm event read as a message (mx_sync_decrypted). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mx_e2ee.h"
#include "mx_json.h"

#define ANN       "@ann:hs.test"
#define BOT       "@bot:hs.test"
#define ANN_CURVE "YW5uY3VydmU"
#define ANN_ED    "YW5uZWQ"
#define BOT_ED    "Ym90ZWQ"

/* ---- to-device --------------------------------------------------------- */

static void test_todev(void **st)
{
	const char *body =
		"{\"next_batch\":\"s1\",\"to_device\":{\"events\":["
		/* an Olm event for two keys */
		"{\"type\":\"m.room.encrypted\",\"sender\":\"" ANN "\",\"content\":{"
		"\"algorithm\":\"m.olm.v1.curve25519-aes-sha2\",\"sender_key\":\"" ANN_CURVE "\","
		"\"ciphertext\":{\"Ym90\":{\"type\":0,\"body\":\"QUJD\"},"
		"\"b3RoZXI\":{\"type\":1,\"body\":\"REVG\"}}}},"
		/* plain, kept with its type */
		"{\"type\":\"m.room_key_request\",\"sender\":\"" ANN "\",\"content\":{}},"
		/* skipped: no sender; a type 2; a body not base64; content not an object */
		"{\"type\":\"m.room.encrypted\",\"content\":{}},"
		"{\"type\":\"m.room.encrypted\",\"sender\":\"" ANN "\",\"content\":{"
		"\"algorithm\":\"m.olm.v1.curve25519-aes-sha2\",\"sender_key\":\"k\","
		"\"ciphertext\":{\"Ym90\":{\"type\":2,\"body\":\"QUJD\"}}}},"
		"{\"type\":\"m.room.encrypted\",\"sender\":\"" ANN "\",\"content\":{"
		"\"algorithm\":\"m.olm.v1.curve25519-aes-sha2\",\"sender_key\":\"k\","
		"\"ciphertext\":{\"Ym90\":{\"type\":0,\"body\":\"<html>\"}}}},"
		"{\"type\":\"m.dummy\",\"sender\":\"" ANN "\",\"content\":[]},"
		/* a historical user id (capitals): a sender like any other */
		"{\"type\":\"m.dummy\",\"sender\":\"@Ann_Old:hs.test\",\"content\":{}},"
		/* Megolm over to-device: no Olm to read it with, kept as not Olm */
		"{\"type\":\"m.room.encrypted\",\"sender\":\"" ANN "\",\"content\":{"
		"\"algorithm\":\"m.megolm.v1.aes-sha2\"}}"
		"]}}";
	json_t *root = json_loads(body, 0, NULL);
	struct mx_todev *t = NULL;
	const struct mx_olm_cipher *c;
	size_t n = 0, skipped = 0;

	(void)st;
	assert_non_null(root);
	assert_int_equal(mx_e2ee_todev_parse(root, &t, &n, &skipped), ERR_OK);
	assert_int_equal(n, 4);
	assert_int_equal(skipped, 4);
	assert_true(t[0].olm);
	assert_string_equal(t[0].sender, ANN);
	assert_string_equal(t[0].sender_key, ANN_CURVE);
	assert_int_equal(t[0].n_c, 2);
	c = mx_e2ee_cipher_for(&t[0], "Ym90");
	assert_non_null(c);
	assert_int_equal(c->type, 0);
	assert_string_equal(c->body, "QUJD");
	assert_null(mx_e2ee_cipher_for(&t[0], "bm9uZQ"));
	assert_false(t[1].olm);
	assert_string_equal(t[1].type, "m.room_key_request");
	assert_string_equal(t[2].sender, "@Ann_Old:hs.test");
	assert_false(t[3].olm);
	mx_e2ee_todev_free(t, n);
	json_decref(root);

	/* none at all, or not the shape: nothing, no error */
	root = json_loads("{\"to_device\":{\"events\":{}}}", 0, NULL);
	assert_int_equal(mx_e2ee_todev_parse(root, &t, &n, &skipped), ERR_OK);
	assert_int_equal(n, 0);
	assert_null(t);
	json_decref(root);
}

/* ---- Megolm content ---------------------------------------------------- */

static enum err megolm(const char *json, struct mx_megolm *m)
{
	json_t *c = json_loads(json, 0, NULL);
	enum err e;

	assert_non_null(c);
	e = mx_e2ee_megolm_parse(c, m);
	json_decref(c);
	return e;
}

static void test_megolm(void **st)
{
	struct mx_megolm m, m2;

	(void)st;
	assert_int_equal(megolm("{\"algorithm\":\"m.megolm.v1.aes-sha2\",\"sender_key\":\"c2s\","
				"\"ciphertext\":\"QUJDRA==\",\"session_id\":\"c2Vzcw\","
				"\"device_id\":\"DEV\"}",
				&m),
			 ERR_OK);
	assert_string_equal(m.session_id, "c2Vzcw");
	assert_string_equal(m.sender_key, "c2s");
	assert_string_equal(m.device_id, "DEV");
	assert_string_equal(m.ciphertext, "QUJDRA==");
	assert_int_equal(mx_e2ee_megolm_copy(&m, &m2), ERR_OK);
	assert_ptr_not_equal(m.ciphertext, m2.ciphertext);
	assert_string_equal(m2.ciphertext, m.ciphertext);
	mx_e2ee_megolm_release(&m2);
	mx_e2ee_megolm_release(&m);
	/* sender_key and device_id are deprecated: not needed */
	assert_int_equal(megolm("{\"algorithm\":\"m.megolm.v1.aes-sha2\",\"ciphertext\":\"QQ\","
				"\"session_id\":\"cw\"}",
				&m),
			 ERR_OK);
	assert_string_equal(m.sender_key, "");
	mx_e2ee_megolm_release(&m);
	/* refused: another algorithm, no session, a ciphertext not base64, a
	 * session id with a space */
	assert_int_equal(megolm("{\"algorithm\":\"m.olm.v1.curve25519-aes-sha2\","
				"\"ciphertext\":\"QQ\",\"session_id\":\"cw\"}",
				&m),
			 ERR_INVALID);
	assert_int_equal(
		megolm("{\"algorithm\":\"m.megolm.v1.aes-sha2\",\"ciphertext\":\"QQ\"}", &m),
		ERR_INVALID);
	assert_int_equal(megolm("{\"algorithm\":\"m.megolm.v1.aes-sha2\",\"ciphertext\":\"Q Q\","
				"\"session_id\":\"cw\"}",
				&m),
			 ERR_INVALID);
	assert_int_equal(megolm("{\"algorithm\":\"m.megolm.v1.aes-sha2\",\"ciphertext\":\"QQ\","
				"\"session_id\":\"c w\"}",
				&m),
			 ERR_INVALID);
	assert_null(m.ciphertext);
}

/* ---- the Olm plaintext -------------------------------------------------- */

/* what verify was last asked, and what it answers */
static char verified_msg[1024];
static enum err verify_answer = ERR_OK;

static enum err verify(const char *ed, const char *msg, size_t len, const char *sig)
{
	assert_string_equal(ed, ANN_ED);
	assert_string_equal(sig, "c2ln");
	snprintf(verified_msg, sizeof(verified_msg), "%.*s", (int)len, msg);
	return verify_answer;
}

static const struct mx_olm_expect expect = {ANN, ANN_CURVE, BOT, BOT_ED, verify};

/* plain_with: an Olm plaintext of type, with extra members */
static char *plain_with(const char *type, const char *extra)
{
	static char buf[4096];

	snprintf(buf, sizeof(buf),
		 "{\"type\":\"%s\",\"sender\":\"" ANN "\",\"recipient\":\"" BOT "\","
		 "\"recipient_keys\":{\"ed25519\":\"" BOT_ED "\"},\"keys\":{\"ed25519\":\"" ANN_ED
		 "\"}%s}",
		 type, extra);
	return buf;
}

#define ROOM_KEY                                                                           \
	",\"content\":{\"algorithm\":\"m.megolm.v1.aes-sha2\",\"room_id\":\"!r:hs.test\"," \
	"\"session_id\":\"c2Vzcw\",\"session_key\":\"a2V5a2V5\"}"
#define DEVICE_KEYS(user, curve, ed)                                                      \
	",\"sender_device_keys\":{\"user_id\":\"" user "\",\"device_id\":\"ANNDEV\","     \
	"\"algorithms\":[],\"keys\":{\"curve25519:ANNDEV\":\"" curve "\","                \
	"\"ed25519:ANNDEV\":\"" ed "\"},\"signatures\":{\"" ANN "\":{\"ed25519:ANNDEV\":" \
	"\"c2ln\"}}}"

static enum err olm_plain(const char *json, struct mx_olm_plain *p)
{
	char why[128];

	return mx_e2ee_olm_plain(json, strlen(json), &expect, p, why, sizeof(why));
}

static void test_olm_plain(void **st)
{
	struct mx_olm_plain p;
	char buf[4096];

	(void)st;
	assert_int_equal(olm_plain(plain_with("m.room_key", ROOM_KEY), &p), ERR_OK);
	assert_true(p.has_key);
	assert_false(p.key.forwarded);
	assert_false(p.device_keys);
	assert_string_equal(p.sender_ed25519, ANN_ED);
	assert_string_equal(p.key.room_id, "!r:hs.test");
	assert_string_equal(p.key.session_id, "c2Vzcw");
	assert_string_equal(p.key.session_key, "a2V5a2V5");
	mx_e2ee_plain_release(&p);
	assert_string_equal(p.key.session_key, ""); /* wiped */

	/* sender_device_keys: checked, and its signature over its canonical
	 * JSON without the signatures */
	snprintf(buf, sizeof(buf), "%s",
		 plain_with("m.room_key", ROOM_KEY DEVICE_KEYS(ANN, ANN_CURVE, ANN_ED)));
	verify_answer = ERR_OK;
	assert_int_equal(olm_plain(buf, &p), ERR_OK);
	assert_true(p.device_keys);
	assert_string_equal(p.sender_device, "ANNDEV");
	assert_string_equal(verified_msg,
			    "{\"algorithms\":[],\"device_id\":\"ANNDEV\",\"keys\":{\"curve25519:"
			    "ANNDEV\":\"" ANN_CURVE "\",\"ed25519:ANNDEV\":\"" ANN_ED
			    "\"},\"user_id\":\"" ANN "\"}");
	verify_answer = ERR_INVALID;
	assert_int_equal(olm_plain(buf, &p), ERR_INVALID);
	verify_answer = ERR_OK;
	snprintf(buf, sizeof(buf), "%s",
		 plain_with("m.room_key", ROOM_KEY DEVICE_KEYS("@eve:hs.test", ANN_CURVE, ANN_ED)));
	assert_int_equal(olm_plain(buf, &p), ERR_INVALID);
	snprintf(buf, sizeof(buf), "%s",
		 plain_with("m.room_key", ROOM_KEY DEVICE_KEYS(ANN, "ZXZl", ANN_ED)));
	assert_int_equal(olm_plain(buf, &p), ERR_INVALID);
	snprintf(buf, sizeof(buf), "%s",
		 plain_with("m.room_key", ROOM_KEY DEVICE_KEYS(ANN, ANN_CURVE, "ZXZl")));
	assert_int_equal(olm_plain(buf, &p), ERR_INVALID);

	/* the spec's checks 1 to 4 */
	assert_int_equal(olm_plain("{\"type\":\"m.room_key\",\"sender\":\"@eve:hs.test\","
				   "\"recipient\":\"" BOT
				   "\",\"recipient_keys\":{\"ed25519\":\"" BOT_ED
				   "\"},\"keys\":{\"ed25519\":\"" ANN_ED "\"},\"content\":{}}",
				   &p),
			 ERR_INVALID);
	assert_int_equal(
		olm_plain("{\"type\":\"m.room_key\",\"sender\":\"" ANN
			  "\",\"recipient\":\"@eve:hs.test\",\"recipient_keys\":{\"ed25519\":"
			  "\"" BOT_ED "\"},\"keys\":{\"ed25519\":\"" ANN_ED "\"},\"content\":{}}",
			  &p),
		ERR_INVALID);
	assert_int_equal(olm_plain("{\"type\":\"m.room_key\",\"sender\":\"" ANN
				   "\",\"recipient\":\"" BOT "\",\"recipient_keys\":{\"ed25519\":"
				   "\"ZXZl\"},\"keys\":{\"ed25519\":\"" ANN_ED
				   "\"},\"content\":{}}",
				   &p),
			 ERR_INVALID);
	assert_int_equal(olm_plain("{\"type\":\"m.room_key\",\"sender\":\"" ANN
				   "\",\"recipient\":\"" BOT "\",\"recipient_keys\":{\"ed25519\":"
				   "\"" BOT_ED "\"},\"content\":{}}",
				   &p),
			 ERR_INVALID);
	assert_int_equal(olm_plain("[1]", &p), ERR_PARSE);
	assert_int_equal(olm_plain("{\"type\":\"m.room_key\"", &p), ERR_PARSE);

	/* a room key not whole: no key, no error; another type: none */
	assert_int_equal(olm_plain(plain_with("m.room_key", ",\"content\":{\"algorithm\":"
							    "\"m.megolm.v1.aes-sha2\"}"),
				   &p),
			 ERR_OK);
	assert_false(p.has_key);
	assert_int_equal(olm_plain(plain_with("m.dummy", ",\"content\":{}"), &p), ERR_OK);
	assert_false(p.has_key);
	assert_string_equal(p.type, "m.dummy");

	/* forwarded: the device that made it, and the key it claimed */
	assert_int_equal(
		olm_plain(plain_with("m.forwarded_room_key",
				     ",\"content\":{\"algorithm\":\"m.megolm.v1.aes-sha2\","
				     "\"room_id\":\"!r:hs.test\",\"session_id\":\"c2Vzcw\","
				     "\"session_key\":\"a2V5\",\"sender_key\":\"b3JpZw\","
				     "\"sender_claimed_ed25519_key\":\"Y2xhaW0\","
				     "\"forwarding_curve25519_key_chain\":[]}"),
			  &p),
		ERR_OK);
	assert_true(p.has_key);
	assert_true(p.key.forwarded);
	assert_string_equal(p.key.sender_key, "b3JpZw");
	assert_string_equal(p.key.claimed_ed25519, "Y2xhaW0");
}

/* ---- a key request, /keys/query ---------------------------------------- */

static void test_key_request(void **st)
{
	char *out = NULL;
	json_t *v, *c;

	(void)st;
	assert_int_equal(mx_e2ee_key_request_json(ANN, "!r:hs.test", "c2s", "c2Vzcw", "fbk-1",
						  "BOTDEV", &out),
			 ERR_OK);
	v = json_loads(out, 0, NULL);
	c = json_object_get(json_object_get(json_object_get(v, "messages"), ANN), "*");
	assert_string_equal(json_string_value(json_object_get(c, "action")), "request");
	assert_string_equal(json_string_value(json_object_get(c, "request_id")), "fbk-1");
	assert_string_equal(json_string_value(json_object_get(c, "requesting_device_id")),
			    "BOTDEV");
	c = json_object_get(c, "body");
	assert_string_equal(json_string_value(json_object_get(c, "algorithm")),
			    "m.megolm.v1.aes-sha2");
	assert_string_equal(json_string_value(json_object_get(c, "room_id")), "!r:hs.test");
	assert_string_equal(json_string_value(json_object_get(c, "session_id")), "c2Vzcw");
	assert_string_equal(json_string_value(json_object_get(c, "sender_key")), "c2s");
	json_decref(v);
	free(out);
	/* no sender key: none sent */
	assert_int_equal(
		mx_e2ee_key_request_json(ANN, "!r:hs.test", "", "c2Vzcw", "fbk-1", "BOTDEV", &out),
		ERR_OK);
	assert_null(strstr(out, "sender_key"));
	free(out);
}

static void test_query_check(void **st)
{
	const char *q =
		"{\"device_keys\":{\"" ANN "\":{"
		"\"OTHER\":{\"user_id\":\"" ANN "\",\"device_id\":\"OTHER\",\"keys\":{"
		"\"curve25519:OTHER\":\"b3RoZXI\",\"ed25519:OTHER\":\"" ANN_ED "\"},"
		"\"signatures\":{\"" ANN "\":{\"ed25519:OTHER\":\"c2ln\"}}},"
		"\"ANNDEV\":{\"user_id\":\"" ANN "\",\"device_id\":\"ANNDEV\",\"keys\":{"
		"\"curve25519:ANNDEV\":\"" ANN_CURVE "\",\"ed25519:ANNDEV\":\"" ANN_ED "\"},"
		"\"signatures\":{\"" ANN "\":{\"ed25519:ANNDEV\":\"c2ln\"}}}}}}";
	char dev[64] = "";

	(void)st;
	verify_answer = ERR_OK;
	assert_int_equal(
		mx_e2ee_query_check(q, strlen(q), ANN, ANN_CURVE, ANN_ED, verify, dev, sizeof(dev)),
		ERR_OK);
	assert_string_equal(dev, "ANNDEV");
	/* another ed25519 key, another user, a bad signature: no device */
	assert_int_equal(
		mx_e2ee_query_check(q, strlen(q), ANN, ANN_CURVE, "ZXZl", verify, dev, sizeof(dev)),
		ERR_NOTFOUND);
	assert_int_equal(mx_e2ee_query_check(q, strlen(q), "@eve:hs.test", ANN_CURVE, ANN_ED,
					     verify, dev, sizeof(dev)),
			 ERR_NOTFOUND);
	verify_answer = ERR_INVALID;
	assert_int_equal(
		mx_e2ee_query_check(q, strlen(q), ANN, ANN_CURVE, ANN_ED, verify, dev, sizeof(dev)),
		ERR_NOTFOUND);
	verify_answer = ERR_OK;
	assert_int_equal(
		mx_e2ee_query_check("[]", 2, ANN, ANN_CURVE, ANN_ED, verify, dev, sizeof(dev)),
		ERR_PARSE);
}

/* ---- replay protection ---------------------------------------------------- */

static void test_seen(void **st)
{
	struct mx_seen s;
	char ev[32];
	uint32_t i;
	int changed = 0;

	(void)st;
	memset(&s, 0, sizeof(s));
	assert_int_equal(mx_seen_note(&s, 5, "$a", &changed), 0);
	assert_true(changed);
	changed = 0;
	assert_int_equal(mx_seen_note(&s, 5, "$a", &changed), 1); /* the same event again */
	assert_false(changed);
	assert_int_equal(mx_seen_note(&s, 5, "$b", &changed), -1); /* a replay */
	assert_int_equal(mx_seen_note(&s, 0, "$c", &changed), 0);  /* out of order: fine */
	assert_int_equal(mx_seen_note(&s, 3, "$d", &changed), 0);
	assert_int_equal(s.n, 3);
	assert_int_equal(s.v[0].index, 0);
	assert_int_equal(s.v[1].index, 3);
	assert_int_equal(s.v[2].index, 5);
	/* full: the lowest forgotten, and below it refused */
	for (i = 10; s.n < MX_E2EE_SEEN_MAX; i++) {
		snprintf(ev, sizeof(ev), "$e%u", i);
		assert_int_equal(mx_seen_note(&s, i, ev, &changed), 0);
	}
	assert_int_equal(s.floor, 0);
	assert_int_equal(mx_seen_note(&s, 1000, "$big", &changed), 0);
	assert_int_equal(s.n, MX_E2EE_SEEN_MAX);
	assert_int_equal(s.floor, 1);
	assert_int_equal(mx_seen_note(&s, 0, "$c", &changed), -1); /* forgotten: refused */
	assert_int_equal(mx_seen_note(&s, 3, "$d", &changed), 1);
	/* lower than all kept, and full: taken once, then the floor */
	assert_int_equal(mx_seen_note(&s, 2, "$two", &changed), 0);
	assert_int_equal(s.floor, 3);
	assert_int_equal(mx_seen_note(&s, 2, "$two", &changed), -1);
	/* compacted: nothing kept, everything up to the highest refused */
	assert_int_equal(mx_seen_compact(&s), 1);
	assert_int_equal(s.n, 0);
	assert_int_equal(s.floor, 1001);
	assert_int_equal(mx_seen_note(&s, 1000, "$big", &changed), -1);
	assert_int_equal(mx_seen_note(&s, 1001, "$next", &changed), 0);
	mx_seen_release(&s);
	assert_int_equal(s.n, 0);
}

/* ---- the files -------------------------------------------------------------- */

static void test_sessions_file(void **st)
{
	struct mx_sessions s, r;
	struct mx_olm_rec o = {"Y3VydmU", 42, NULL};
	struct mx_grp_rec g;
	char *out = NULL, *bad;
	int changed;

	(void)st;
	memset(&s, 0, sizeof(s));
	memset(&g, 0, sizeof(g));
	o.pickle = strdup("cGlja2xl");
	snprintf(g.room_id, sizeof(g.room_id), "!r:hs.test");
	snprintf(g.session_id, sizeof(g.session_id), "c2Vzcw");
	snprintf(g.sender_key, sizeof(g.sender_key), ANN_CURVE);
	snprintf(g.owner, sizeof(g.owner), ANN);
	snprintf(g.ed25519, sizeof(g.ed25519), ANN_ED);
	g.used_ms = 7;
	g.pickle = strdup("Z3JvdXA");
	assert_int_equal(mx_seen_note(&g.seen, 4, "$four", &changed), 0);
	s.olm = &o;
	s.n_olm = 1;
	s.grp = &g;
	s.n_grp = 1;
	assert_int_equal(mx_e2ee_sessions_json(&s, &out), ERR_OK);
	assert_int_equal(mx_e2ee_sessions_parse(out, strlen(out), &r), ERR_OK);
	assert_int_equal(r.n_olm, 1);
	assert_int_equal(r.n_grp, 1);
	assert_string_equal(r.olm[0].pickle, "cGlja2xl");
	assert_int_equal(r.olm[0].used_ms, 42);
	assert_string_equal(r.grp[0].owner, ANN);
	assert_string_equal(r.grp[0].pickle, "Z3JvdXA");
	assert_int_equal(r.grp[0].seen.n, 1);
	assert_string_equal(r.grp[0].seen.v[0].event, "$four");
	assert_int_equal(mx_seen_note(&r.grp[0].seen, 4, "$other", &changed), -1);
	assert_false(r.grp[0].unchecked);
	assert_null(strstr(out, "unchecked")); /* written only when set */
	mx_e2ee_sessions_release(&r);
	/* a key waiting for its device's check stays so across a restart */
	free(out);
	g.unchecked = 1;
	assert_int_equal(mx_e2ee_sessions_json(&s, &out), ERR_OK);
	assert_int_equal(mx_e2ee_sessions_parse(out, strlen(out), &r), ERR_OK);
	assert_true(r.grp[0].unchecked);
	mx_e2ee_sessions_release(&r);
	bad = strdup(out);
	memcpy(strstr(bad, "\"unchecked\":true"), "\"unchecked\":3   ", 16);
	assert_int_equal(mx_e2ee_sessions_parse(bad, strlen(bad), &r), ERR_PARSE);
	free(bad);
	/* damage: whole-file refusal, never a silent loss */
	bad = strdup(out);
	bad[strlen(bad) / 2] = '\0';
	assert_int_equal(mx_e2ee_sessions_parse(bad, strlen(bad), &r), ERR_PARSE);
	free(bad);
	bad = strdup(out);
	memcpy(strstr(bad, "Z3JvdXA"), "Z3J!dXA", 7);
	assert_int_equal(mx_e2ee_sessions_parse(bad, strlen(bad), &r), ERR_PARSE);
	free(bad);
	assert_int_equal(mx_e2ee_sessions_parse("{\"version\":2,\"olm\":[],\"megolm\":[]}", 35, &r),
			 ERR_PARSE);
	free(out);
	free(o.pickle);
	mx_e2ee_grp_release(&g);
}

static void test_pending_file(void **st)
{
	struct mx_pending p[2], *r = NULL;
	size_t n = 0, skipped = 0;
	char *out = NULL, *bad;

	(void)st;
	memset(p, 0, sizeof(p));
	snprintf(p[0].room_id, sizeof(p[0].room_id), "!r:hs.test");
	snprintf(p[0].event_id, sizeof(p[0].event_id), "$e1");
	snprintf(p[0].sender, sizeof(p[0].sender), ANN);
	p[0].ts = 11;
	p[0].first_ms = 12;
	p[0].asked = 1;
	snprintf(p[0].m.session_id, sizeof(p[0].m.session_id), "c2Vzcw");
	p[0].m.ciphertext = "QUJD";
	p[1] = p[0];
	snprintf(p[1].event_id, sizeof(p[1].event_id), "$e2");
	assert_int_equal(mx_e2ee_pending_json(p, 2, &out), ERR_OK);
	assert_int_equal(mx_e2ee_pending_parse(out, strlen(out), &r, &n, &skipped), ERR_OK);
	assert_int_equal(n, 2);
	assert_int_equal(skipped, 0);
	assert_string_equal(r[1].event_id, "$e2");
	assert_string_equal(r[0].m.ciphertext, "QUJD");
	assert_int_equal(r[0].ts, 11);
	assert_true(r[0].asked);
	mx_e2ee_pending_free(r, n);
	/* one entry damaged: the other kept */
	bad = strdup(out);
	memcpy(strstr(bad, "$e1"), "xe1", 3);
	assert_int_equal(mx_e2ee_pending_parse(bad, strlen(bad), &r, &n, &skipped), ERR_OK);
	assert_int_equal(n, 1);
	assert_int_equal(skipped, 1);
	assert_string_equal(r[0].event_id, "$e2");
	mx_e2ee_pending_free(r, n);
	free(bad);
	free(out);
	assert_int_equal(mx_e2ee_pending_parse("[]", 2, &r, &n, &skipped), ERR_PARSE);
}

/* ---- a decrypted event, read as a message -------------------------------------- */

static void test_decrypted(void **st)
{
	struct mx_action outer, a;
	const char *ok = "{\"type\":\"m.room.message\",\"room_id\":\"!r:hs.test\",\"content\":{"
			 "\"msgtype\":\"m.text\",\"body\":\"> <@x:hs.test> old\\n\\nwhat is TMS?\","
			 "\"m.relates_to\":{\"m.in_reply_to\":{\"event_id\":\"$old\"}},"
			 "\"m.mentions\":{\"user_ids\":[\"" BOT "\"]}}}";
	const char *other = "{\"type\":\"m.room.message\",\"room_id\":\"!other:hs.test\","
			    "\"content\":{\"msgtype\":\"m.text\",\"body\":\"hi\"}}";
	const char *react = "{\"type\":\"m.reaction\",\"room_id\":\"!r:hs.test\",\"content\":{"
			    "\"msgtype\":\"m.text\",\"body\":\"hi\"}}";
	const char *nested = "{\"type\":\"m.room.encrypted\",\"room_id\":\"!r:hs.test\","
			     "\"content\":{}}";

	(void)st;
	memset(&outer, 0, sizeof(outer));
	outer.kind = MX_ACT_MESSAGE;
	outer.ignore = MX_IGN_ENCRYPTED;
	outer.room_id = "!r:hs.test";
	outer.event_id = "$enc";
	outer.sender = ANN;
	outer.sender_name = "Ann";
	outer.ts = 99;
	assert_int_equal(mx_sync_decrypted(ok, strlen(ok), &outer, BOT, &a), ERR_OK);
	assert_int_equal(a.ignore, MX_IGN_NONE);
	assert_string_equal(a.room_id, "!r:hs.test");
	assert_string_equal(a.event_id, "$enc");
	assert_string_equal(a.sender, ANN);
	assert_string_equal(a.sender_name, "Ann");
	assert_string_equal(a.body, "what is TMS?"); /* the reply fallback gone */
	assert_string_equal(a.reply_to, "$old");
	assert_true(a.mentions_bot);
	assert_int_equal(a.ts, 99);
	mx_action_release(&a);
	/* moved from another room, an encrypted one inside, not JSON */
	assert_int_equal(mx_sync_decrypted(other, strlen(other), &outer, BOT, &a), ERR_INVALID);
	assert_null(a.body);
	assert_int_equal(mx_sync_decrypted(nested, strlen(nested), &outer, BOT, &a), ERR_INVALID);
	assert_int_equal(mx_sync_decrypted("{", 1, &outer, BOT, &a), ERR_INVALID);
	/* not a message: read, not answered */
	assert_int_equal(mx_sync_decrypted(react, strlen(react), &outer, BOT, &a), ERR_OK);
	assert_int_equal(a.ignore, MX_IGN_MSGTYPE);
	mx_action_release(&a);
}

/* a room event's encrypted content is kept in its action; the bot's own
 * is not */
static void test_sync_keeps_megolm(void **st)
{
	const char *body =
		"{\"next_batch\":\"s2\",\"rooms\":{\"join\":{\"!r:hs.test\":{\"timeline\":{"
		"\"events\":[{\"type\":\"m.room.encrypted\",\"event_id\":\"$1\",\"sender\":\"" ANN
		"\",\"content\":{\"algorithm\":\"m.megolm.v1.aes-sha2\",\"ciphertext\":\"QQ\","
		"\"session_id\":\"cw\"}},{\"type\":\"m.room.encrypted\",\"event_id\":\"$2\","
		"\"sender\":\"" BOT "\",\"content\":{\"algorithm\":\"m.megolm.v1.aes-sha2\","
		"\"ciphertext\":\"QQ\",\"session_id\":\"cw\"}}]}}}},\"to_device\":{\"events\":[{"
		"\"type\":\"m.dummy\",\"sender\":\"" ANN "\",\"content\":{}}]}}";
	struct mx_sync *s = NULL;

	(void)st;
	assert_int_equal(mx_sync_parse(body, strlen(body), BOT, &s, NULL, 0), ERR_OK);
	assert_int_equal(s->n, 2);
	assert_int_equal(s->actions[0].ignore, MX_IGN_ENCRYPTED);
	assert_non_null(s->actions[0].enc);
	assert_string_equal(s->actions[0].enc->session_id, "cw");
	assert_null(s->actions[1].enc);
	assert_int_equal(s->n_todev, 1);
	assert_string_equal(s->todev[0].type, "m.dummy");
	mx_sync_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_todev),         cmocka_unit_test(test_megolm),
		cmocka_unit_test(test_olm_plain),     cmocka_unit_test(test_key_request),
		cmocka_unit_test(test_query_check),   cmocka_unit_test(test_seen),
		cmocka_unit_test(test_sessions_file), cmocka_unit_test(test_pending_file),
		cmocka_unit_test(test_decrypted),     cmocka_unit_test(test_sync_keeps_megolm),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
