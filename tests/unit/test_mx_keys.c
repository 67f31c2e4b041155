/* test_mx_keys.c -- the JSON of the device's encryption keys: canonical
 * JSON (every example of the spec's appendix, and the escapes it names),
 * what a signature covers, the signed device keys and key objects in the
 * /keys/upload body (with a signer that writes down what it was asked to
 * sign), the counts the server sends back and /sync brings, the
 * fingerprint, and the account's file; hostile and odd shapes refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mx_keys.h"

/* canon_is: the canonical JSON of in is want */
static void canon_is(const char *in, const char *want)
{
	char *out = NULL;

	assert_int_equal(mx_canonical_json(in, strlen(in), &out), ERR_OK);
	assert_string_equal(out, want);
	free(out);
}

static void canon_err(const char *in, enum err want)
{
	char *out = (char *)1;

	assert_int_equal(mx_canonical_json(in, strlen(in), &out), want);
	assert_null(out);
}

/* the examples of ../shared/spec/matrix/content/appendices.md, in order */
static void test_canonical_spec_examples(void **st)
{
	(void)st;
	canon_is("{}", "{}");
	canon_is("{\n    \"one\": 1,\n    \"two\": \"Two\"\n}", "{\"one\":1,\"two\":\"Two\"}");
	canon_is("{\n    \"b\": \"2\",\n    \"a\": \"1\"\n}", "{\"a\":\"1\",\"b\":\"2\"}");
	canon_is("{\"b\":\"2\",\"a\":\"1\"}", "{\"a\":\"1\",\"b\":\"2\"}");
	canon_is("{\"auth\": {\"success\": true, \"mxid\": \"@john.doe:example.com\", "
	         "\"profile\": {\"display_name\": \"John Doe\", \"three_pids\": [{\"medium\": "
	         "\"email\", \"address\": \"john.doe@example.org\"}, {\"medium\": \"msisdn\", "
	         "\"address\": \"123456789\"}]}}}",
	         "{\"auth\":{\"mxid\":\"@john.doe:example.com\",\"profile\":{\"display_name\":"
	         "\"John Doe\",\"three_pids\":[{\"address\":\"john.doe@example.org\",\"medium\":"
	         "\"email\"},{\"address\":\"123456789\",\"medium\":\"msisdn\"}]},\"success\":"
	         "true}}");
	canon_is("{\"a\": \"\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\"}",
	         "{\"a\":\"\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\"}");
	/* {"本": 2, "日": 1}: sorted by code point, 日 (U+65E5) before 本 (U+672C) */
	canon_is("{\"\xe6\x9c\xac\": 2, \"\xe6\x97\xa5\": 1}",
	         "{\"\xe6\x97\xa5\":1,\"\xe6\x9c\xac\":2}");
	canon_is("{\"a\": \"\\u65E5\"}", "{\"a\":\"\xe6\x97\xa5\"}");
	canon_is("{\"a\": null}", "{\"a\":null}");
	canon_is("{\"a\": -0, \"b\": 1e10}", "{\"a\":0,\"b\":10000000000}");
}

/* the grammar's escapes: only " \ and the controls, \u00xx in lower case */
static void test_canonical_escapes(void **st)
{
	(void)st;
	canon_is("[\"q\\\"b\\\\s\\/\"]", "[\"q\\\"b\\\\s/\"]");
	canon_is("[\"\\b\\t\\n\\f\\r\"]", "[\"\\b\\t\\n\\f\\r\"]");
	canon_is("[\"\\u0001\\u001F\\u000b\\u000E\\u0000x\"]",
	         "[\"\\u0001\\u001f\\u000b\\u000e\\u0000x\"]");
	/* DEL, U+2028 and astral characters go as UTF-8, unescaped */
	canon_is("[\"\\u007f\\u2028\\ud83d\\ude00\"]",
	         "[\"\x7f\xe2\x80\xa8\xf0\x9f\x98\x80\"]");
	/* keys by their bytes: "B" < "a" < "ab" < "b" < "é" */
	canon_is("{\"b\":1,\"\xc3\xa9\":2,\"ab\":3,\"a\":4,\"B\":5}",
	         "{\"B\":5,\"a\":4,\"ab\":3,\"b\":1,\"\xc3\xa9\":2}");
	canon_is("[ [ ], { }, true, false, -17, 9007199254740991 ]",
	         "[[],{},true,false,-17,9007199254740991]");
}

static void test_canonical_refused(void **st)
{
	char deep[300];
	size_t i;

	(void)st;
	canon_err("{\"a\": 1.5}", ERR_INVALID);
	canon_err("[9007199254740992]", ERR_INVALID);
	canon_err("[-9007199254740992]", ERR_INVALID);
	canon_err("[1e300]", ERR_INVALID);
	canon_err("{\"a\": 1, \"a\": 2}", ERR_PARSE);
	canon_err("{\"a\": ", ERR_PARSE);
	canon_err("", ERR_PARSE);
	for (i = 0; i < 100; i++)
		deep[i] = '[';
	for (i = 100; i < 200; i++)
		deep[i] = ']';
	deep[200] = '\0';
	canon_err(deep, ERR_LIMIT);
}

static void test_signing_input(void **st)
{
	static const char obj[] =
	    "{\"name\": \"example.org\", \"signing_keys\": {\"ed25519:1\": \"XSl0\"}, "
	    "\"unsigned\": {\"age_ts\": 922834800000}, \"signatures\": {\"example.org\": "
	    "{\"ed25519:1\": \"s76R\"}}}";
	char *out = NULL;

	(void)st;
	assert_int_equal(mx_keys_signing_input(obj, strlen(obj), &out), ERR_OK);
	assert_string_equal(out, "{\"name\":\"example.org\",\"signing_keys\":{\"ed25519:1\":\"XSl0\"}}");
	free(out);
	assert_int_equal(mx_keys_signing_input("[1]", 3, &out), ERR_PARSE);
	assert_null(out);
	assert_int_equal(mx_keys_signing_input("\"x\"", 3, &out), ERR_PARSE);
}

/* ---- a signer that writes down what it signed ------------------------ */

#define SIGNED_MAX 64
static char *signed_input[SIGNED_MAX];
static size_t n_signed;
static int signer_fails;

static void signed_reset(void)
{
	while (n_signed)
		free(signed_input[--n_signed]);
	signer_fails = 0;
}

/* fake_sign: "sig" and the number of the call, after keeping the input */
static enum err fake_sign(void *ctx, const char *msg, size_t len, char *sig, size_t siglen)
{
	(void)ctx;
	if (signer_fails)
		return ERR_INVALID;
	assert_true(n_signed < SIGNED_MAX);
	assert_int_equal(strlen(msg), len);
	signed_input[n_signed] = strdup(msg);
	snprintf(sig, siglen, "sig%zu", n_signed++);
	return ERR_OK;
}

static const struct mx_device dev = {"@bot:hs.test", "DEVICE", "CURVEKEY", "EDKEY",
                                     fake_sign, NULL};

static void test_device_json(void **st)
{
	char *out = NULL;
	struct mx_device bad = dev;

	(void)st;
	assert_int_equal(mx_keys_device_json(&dev, &out), ERR_OK);
	assert_string_equal(out, "{\"algorithms\":[\"m.olm.v1.curve25519-aes-sha2\","
	                         "\"m.megolm.v1.aes-sha2\"],\"device_id\":\"DEVICE\",\"keys\":{"
	                         "\"curve25519:DEVICE\":\"CURVEKEY\",\"ed25519:DEVICE\":"
	                         "\"EDKEY\"},\"user_id\":\"@bot:hs.test\"}");
	free(out);
	bad.user_id = "bot";
	assert_int_equal(mx_keys_device_json(&bad, &out), ERR_INVALID);
	bad = dev;
	bad.ed25519 = "ED KEY";
	assert_int_equal(mx_keys_device_json(&bad, &out), ERR_INVALID);
	bad = dev;
	bad.device_id = "";
	assert_int_equal(mx_keys_device_json(&bad, &out), ERR_INVALID);
}

static void test_upload_json(void **st)
{
	struct mx_key otks[2] = {{"AAAAAQ", "K1"}, {"AAAAAg", "K2"}}, fb = {"AAAAAw", "FB"};
	struct mx_upload u = {1, otks, 2, &fb};
	char *out = NULL, *dk = NULL;
	json_t *j;

	(void)st;
	signed_reset();
	assert_int_equal(mx_keys_upload_json(&dev, &u, &out), ERR_OK);
	/* each signature covers the object as it was before it had one */
	assert_int_equal(n_signed, 4);
	assert_int_equal(mx_keys_device_json(&dev, &dk), ERR_OK);
	assert_string_equal(signed_input[0], dk);
	assert_string_equal(signed_input[1], "{\"key\":\"K1\"}");
	assert_string_equal(signed_input[2], "{\"key\":\"K2\"}");
	assert_string_equal(signed_input[3], "{\"fallback\":true,\"key\":\"FB\"}");
	j = json_loads(out, 0, NULL);
	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(json_object_get(
	                        json_object_get(json_object_get(j, "device_keys"), "signatures"),
	                        "@bot:hs.test"),
	                        "ed25519:DEVICE")),
	                    "sig0");
	json_decref(j);
	/* the whole body, canonical: what the test homeserver receives */
	assert_string_equal(
	    out,
	    "{\"device_keys\":{\"algorithms\":[\"m.olm.v1.curve25519-aes-sha2\","
	    "\"m.megolm.v1.aes-sha2\"],\"device_id\":\"DEVICE\",\"keys\":{\"curve25519:DEVICE\":"
	    "\"CURVEKEY\",\"ed25519:DEVICE\":\"EDKEY\"},\"signatures\":{\"@bot:hs.test\":{"
	    "\"ed25519:DEVICE\":\"sig0\"}},\"user_id\":\"@bot:hs.test\"},\"fallback_keys\":{"
	    "\"signed_curve25519:AAAAAw\":{\"fallback\":true,\"key\":\"FB\",\"signatures\":{"
	    "\"@bot:hs.test\":{\"ed25519:DEVICE\":\"sig3\"}}}},\"one_time_keys\":{"
	    "\"signed_curve25519:AAAAAQ\":{\"key\":\"K1\",\"signatures\":{\"@bot:hs.test\":{"
	    "\"ed25519:DEVICE\":\"sig1\"}}},\"signed_curve25519:AAAAAg\":{\"key\":\"K2\","
	    "\"signatures\":{\"@bot:hs.test\":{\"ed25519:DEVICE\":\"sig2\"}}}}}");
	free(out);
	free(dk);

	/* one-time keys alone, once the device keys are on the server */
	signed_reset();
	u.device_keys = 0;
	u.fallback = NULL;
	u.n_otks = 1;
	assert_int_equal(mx_keys_upload_json(&dev, &u, &out), ERR_OK);
	assert_string_equal(out, "{\"one_time_keys\":{\"signed_curve25519:AAAAAQ\":{\"key\":"
	                         "\"K1\",\"signatures\":{\"@bot:hs.test\":{\"ed25519:DEVICE\":"
	                         "\"sig0\"}}}}}");
	free(out);

	/* a key that is not base64-like, a signer that fails */
	snprintf(otks[0].key, sizeof(otks[0].key), "K 1");
	assert_int_equal(mx_keys_upload_json(&dev, &u, &out), ERR_INVALID);
	assert_null(out);
	snprintf(otks[0].key, sizeof(otks[0].key), "K1");
	signer_fails = 1;
	assert_int_equal(mx_keys_upload_json(&dev, &u, &out), ERR_INVALID);
	assert_null(out);
	signed_reset();
}

static void test_curve_list(void **st)
{
	static const char olm[] = "{\"curve25519\":{\"AAAAAA\":\"wo76WcYtb0Vk\","
	                          "\"AAAAAB\":\"LRvjo46L1X2v\"}}";
	struct mx_key *k = NULL;
	size_t n = 9;

	(void)st;
	assert_int_equal(mx_keys_curve_list(olm, strlen(olm), &k, &n), ERR_OK);
	assert_int_equal(n, 2);
	assert_string_equal(k[0].id, "AAAAAA");
	assert_string_equal(k[1].key, "LRvjo46L1X2v");
	free(k);
	assert_int_equal(mx_keys_curve_list("{\"curve25519\":{}}", 17, &k, &n), ERR_OK);
	assert_int_equal(n, 0);
	assert_null(k);
	assert_int_equal(mx_keys_curve_list("{\"ed25519\":{}}", 14, &k, &n), ERR_PARSE);
	assert_int_equal(mx_keys_curve_list("{\"curve25519\":{\"A\":1}}", 22, &k, &n),
	                 ERR_INVALID);
	assert_int_equal(mx_keys_curve_list("{\"curve25519\":{\"A A\":\"k\"}}", 26, &k, &n),
	                 ERR_INVALID);
	assert_int_equal(mx_keys_curve_list("[]", 2, &k, &n), ERR_PARSE);
	assert_null(k);
}

static void test_upload_counts(void **st)
{
	long n = 7;

	(void)st;
#define COUNTS(s) mx_keys_upload_counts(s, strlen(s), &n)
	assert_int_equal(COUNTS("{\"one_time_key_counts\":{\"signed_curve25519\":20}}"), ERR_OK);
	assert_int_equal(n, 20);
	/* the spec: an algorithm not listed counts zero */
	assert_int_equal(COUNTS("{\"one_time_key_counts\":{\"curve25519\":3}}"), ERR_OK);
	assert_int_equal(n, 0);
	assert_int_equal(COUNTS("{\"one_time_key_counts\":{}}"), ERR_OK);
	assert_int_equal(n, 0);
	assert_int_equal(COUNTS("{}"), ERR_PARSE);
	assert_int_equal(COUNTS("{\"one_time_key_counts\":[]}"), ERR_PARSE);
	assert_int_equal(COUNTS("{\"one_time_key_counts\":{\"signed_curve25519\":-1}}"), ERR_PARSE);
	assert_int_equal(COUNTS("{\"one_time_key_counts\":{\"signed_curve25519\":\"5\"}}"),
	                 ERR_PARSE);
	assert_int_equal(COUNTS("{\"one_time_key_counts\":{\"signed_curve25519\":2.5}}"), ERR_PARSE);
	assert_int_equal(COUNTS("{\"one_time_key_counts\":{\"signed_curve25519\":99999999999}}"),
	                 ERR_PARSE);
	assert_int_equal(COUNTS("<html>"), ERR_PARSE);
#undef COUNTS
}

/* counts_of: what mx_keys_sync_counts reads from a /sync body */
static struct mx_key_counts counts_of(const char *body)
{
	struct mx_key_counts k;
	json_t *j = json_loads(body, 0, NULL);

	assert_non_null(j);
	mx_keys_sync_counts(j, &k);
	json_decref(j);
	return k;
}

static void test_sync_counts(void **st)
{
	struct mx_key_counts k;

	(void)st;
	k = counts_of("{\"next_batch\":\"s1\",\"device_one_time_keys_count\":{"
	              "\"signed_curve25519\":20},\"device_unused_fallback_key_types\":["
	              "\"signed_curve25519\"]}");
	assert_true(k.otk_known && k.otk == 20 && k.fallback_known && k.fallback_unused);
	/* the fallback key was handed out */
	k = counts_of("{\"device_one_time_keys_count\":{\"signed_curve25519\":3},"
	              "\"device_unused_fallback_key_types\":[]}");
	assert_true(k.otk_known && k.otk == 3 && k.fallback_known && !k.fallback_unused);
	/* a count of 0 left out, inside the map or the whole map */
	k = counts_of("{\"device_one_time_keys_count\":{},\"device_unused_fallback_key_types\":[]}");
	assert_true(k.otk_known && k.otk == 0);
	k = counts_of("{\"next_batch\":\"s1\",\"device_unused_fallback_key_types\":[]}");
	assert_true(k.otk_known && k.otk == 0 && k.fallback_known);
	/* a server that says nothing of keys: nothing known */
	k = counts_of("{\"next_batch\":\"s1\",\"rooms\":{}}");
	assert_false(k.otk_known || k.fallback_known);
	/* shapes that are not counts */
	k = counts_of("{\"device_one_time_keys_count\":{\"signed_curve25519\":\"20\"}}");
	assert_false(k.otk_known);
	k = counts_of("{\"device_one_time_keys_count\":{\"signed_curve25519\":-3},"
	              "\"device_unused_fallback_key_types\":[]}");
	assert_false(k.otk_known);
	assert_int_equal(k.otk, 0);
	k = counts_of("{\"device_one_time_keys_count\":null,"
	              "\"device_unused_fallback_key_types\":\"signed_curve25519\"}");
	assert_false(k.otk_known || k.fallback_known);
	k = counts_of("[1]");
	assert_false(k.otk_known || k.fallback_known);
}

static void test_fingerprint(void **st)
{
	char buf[MX_FINGERPRINT_MAX];

	(void)st;
	assert_int_equal(mx_keys_fingerprint("lEuiRJBit0IG6nUf5pUzWTUEsRVVe/HJkoKuEww9ULI", buf,
	                                     sizeof(buf)),
	                 ERR_OK);
	assert_string_equal(buf, "lEui RJBi t0IG 6nUf 5pUz WTUE sRVV e/HJ koKu Eww9 ULI");
	assert_int_equal(mx_keys_fingerprint("abcd", buf, sizeof(buf)), ERR_OK);
	assert_string_equal(buf, "abcd");
	assert_int_equal(mx_keys_fingerprint("abcdefgh", buf, 9), ERR_LIMIT);
	assert_int_equal(mx_keys_fingerprint("ab cd", buf, sizeof(buf)), ERR_INVALID);
	assert_int_equal(mx_keys_fingerprint("", buf, sizeof(buf)), ERR_INVALID);
}

static void test_store(void **st)
{
	struct mx_store s = {"@bot:hs.test", "DEV1", 1, 0, NULL}, r;
	char *out = NULL;

	(void)st;
	s.pickle = strdup("QUJD+/ZGVm==");
	assert_int_equal(mx_keys_store_json(&s, &out), ERR_OK);
	assert_string_equal(out, "{\"account\":\"QUJD+/ZGVm==\",\"device_id\":\"DEV1\",\"fallback\":"
	                         "false,\"shared\":true,\"user_id\":\"@bot:hs.test\",\"version\":1}");
	assert_int_equal(mx_keys_store_parse(out, strlen(out), &r), ERR_OK);
	assert_string_equal(r.user_id, "@bot:hs.test");
	assert_string_equal(r.device_id, "DEV1");
	assert_string_equal(r.pickle, "QUJD+/ZGVm==");
	assert_true(r.shared && !r.fallback);
	mx_store_release(&r);
	assert_null(r.pickle);
	free(out);
	mx_store_release(&s);

#define BAD(text) assert_int_equal(mx_keys_store_parse(text, strlen(text), &r), ERR_PARSE)
	BAD("");
	BAD("{}");
	BAD("not json");
	BAD("{\"account\":\"QUJD\",\"device_id\":\"D\",\"fallback\":false,\"shared\":true,"
	    "\"user_id\":\"@b:h\",\"version\":2}");
	BAD("{\"account\":\"QU JD\",\"device_id\":\"D\",\"fallback\":false,\"shared\":true,"
	    "\"user_id\":\"@b:h\",\"version\":1}");
	BAD("{\"account\":\"\",\"device_id\":\"D\",\"fallback\":false,\"shared\":true,"
	    "\"user_id\":\"@b:h\",\"version\":1}");
	BAD("{\"account\":\"QUJD\",\"device_id\":\"D\",\"fallback\":false,\"shared\":1,"
	    "\"user_id\":\"@b:h\",\"version\":1}");
	BAD("{\"account\":\"QUJD\",\"device_id\":\"D\\n\",\"fallback\":false,\"shared\":true,"
	    "\"user_id\":\"@b:h\",\"version\":1}");
	BAD("{\"account\":\"QUJD\",\"device_id\":\"D\",\"fallback\":false,\"shared\":true,"
	    "\"user_id\":\"b\",\"version\":1}");
	BAD("{\"account\":\"QUJD\",\"account\":\"QUJD\",\"device_id\":\"D\",\"fallback\":false,"
	    "\"shared\":true,\"user_id\":\"@b:h\",\"version\":1}");
	/* cut short, as a torn write would leave it (state_write never does) */
	BAD("{\"account\":\"QUJD\",\"device_id\":\"D\",\"fallback\":false,\"shared\":true,"
	    "\"user_id\":\"@b:h\",\"vers");
#undef BAD
	assert_null(r.pickle);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_canonical_spec_examples),
		cmocka_unit_test(test_canonical_escapes),
		cmocka_unit_test(test_canonical_refused),
		cmocka_unit_test(test_signing_input),
		cmocka_unit_test(test_device_json),
		cmocka_unit_test(test_upload_json),
		cmocka_unit_test(test_curve_list),
		cmocka_unit_test(test_upload_counts),
		cmocka_unit_test(test_sync_counts),
		cmocka_unit_test(test_fingerprint),
		cmocka_unit_test(test_store),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
