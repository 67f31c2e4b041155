/* test_mx_xsign.c -- cross-signing: the JSON (mx_xsign: a key object's
 * canonical JSON, the device_signing/upload body with the master key's
 * signatures over what the spec says they cover and the auth a second
 * request carries, the signatures/upload body, the 401's flows, the
 * cross-signing part of /keys/query, the keys' file) with a signer that
 * writes down what it was asked to sign; and the keys over libolm
 * (mx_crypto_xsign: made once, kept 0600 and encrypted, opened again
 * with the same keys, a damaged file or a wrong key a clear error that
 * leaves the file, signatures that libolm's utility verifies). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "helpers.h"
#include "mx_crypto.h"
#include "mx_xsign.h"

#define USER "@bot:hs.test"
#define KEY  "correct horse battery staple 42"
#define MPUB "bWFzdGVyIGtleSBvZiB0aGUgYm90IGhlcmUgMTIzNDU"
#define SPUB "c2VsZiBzaWduaW5nIGtleSBvZiB0aGUgYm90IDEyMzQ"
#define UPUB "dXNlciBzaWduaW5nIGtleSBvZiB0aGUgYm90IDEyMzQ"

/* the signer: remembers every message, signs "sig<n>" */
struct rec {
	char msg[4][1024];
	int n;
};

static enum err rec_sign(void *ctx, const char *msg, size_t len, char *sig, size_t siglen)
{
	struct rec *r = ctx;

	assert_true(r->n < 4 && len < sizeof(r->msg[0]));
	memcpy(r->msg[r->n], msg, len);
	r->msg[r->n][len] = '\0';
	snprintf(sig, siglen, "sig%d", r->n);
	r->n++;
	return ERR_OK;
}

static void test_key_json(void **st)
{
	char *out = NULL;

	(void)st;
	assert_int_equal(mx_xsign_key_json(USER, MX_XSIGN_SELF, SPUB, &out), ERR_OK);
	assert_string_equal(out, "{\"keys\":{\"ed25519:" SPUB "\":\"" SPUB "\"},\"usage\":"
				 "[\"self_signing\"],\"user_id\":\"" USER "\"}");
	free(out);
	assert_int_equal(mx_xsign_key_json("bot", MX_XSIGN_SELF, SPUB, &out), ERR_INVALID);
	assert_int_equal(mx_xsign_key_json(USER, MX_XSIGN_SELF, "a b", &out), ERR_INVALID);
	assert_int_equal(mx_xsign_key_json(USER, MX_XSIGN_ROLES, SPUB, &out), ERR_INVALID);
	assert_null(out);
}

static void test_upload_body(void **st)
{
	struct mx_xsign_pub pub = {{MPUB, SPUB, UPUB}};
	struct mx_uia_password auth = {USER, "hunter2 \"quoted\"", "sess1"};
	struct rec r = {0};
	char *out = NULL, *want = NULL;
	json_t *j;

	(void)st;
	assert_int_equal(mx_xsign_upload_json(USER, &pub, rec_sign, &r, NULL, &out), ERR_OK);
	/* the master key signs the two others, each over its own canonical
	 * JSON with no signatures in it */
	assert_int_equal(r.n, 2);
	assert_int_equal(mx_xsign_key_json(USER, MX_XSIGN_SELF, SPUB, &want), ERR_OK);
	assert_string_equal(r.msg[0], want);
	free(want);
	assert_int_equal(mx_xsign_key_json(USER, MX_XSIGN_USER, UPUB, &want), ERR_OK);
	assert_string_equal(r.msg[1], want);
	free(want);
	j = json_loads(out, 0, NULL);
	assert_non_null(j);
	assert_null(json_object_get(j, "auth"));
	assert_null(json_object_get(json_object_get(j, "master_key"), "signatures"));
	assert_string_equal(
		json_string_value(json_object_get(
			json_object_get(json_object_get(json_object_get(j, "self_signing_key"),
							"signatures"),
					USER),
			"ed25519:" MPUB)),
		"sig0");
	assert_string_equal(
		json_string_value(json_object_get(
			json_object_get(json_object_get(json_object_get(j, "user_signing_key"),
							"signatures"),
					USER),
			"ed25519:" MPUB)),
		"sig1");
	json_decref(j);
	free(out);

	/* the second request: m.login.password in the session */
	assert_int_equal(mx_xsign_upload_json(USER, &pub, rec_sign, &(struct rec){0}, &auth, &out),
			 ERR_OK);
	j = json_loads(out, 0, NULL);
	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(json_object_get(j, "auth"), "type")),
			    "m.login.password");
	assert_string_equal(
		json_string_value(json_object_get(json_object_get(j, "auth"), "password")),
		"hunter2 \"quoted\"");
	assert_string_equal(
		json_string_value(json_object_get(json_object_get(j, "auth"), "session")), "sess1");
	assert_string_equal(
		json_string_value(json_object_get(
			json_object_get(json_object_get(j, "auth"), "identifier"), "user")),
		USER);
	json_decref(j);
	free(out);

	pub.key[MX_XSIGN_USER] = "";
	assert_int_equal(mx_xsign_upload_json(USER, &pub, rec_sign, &(struct rec){0}, NULL, &out),
			 ERR_INVALID);
	assert_null(out);
}

static void test_signatures_body(void **st)
{
	struct mx_device d = {USER, "DEV1", "Y3VydmU", "ZWQyNTUxOQ", rec_sign, NULL};
	struct rec r = {0};
	char *out = NULL, *dev = NULL;
	json_t *j, *o;

	(void)st;
	assert_int_equal(mx_keys_device_json(&d, &dev), ERR_OK);
	assert_int_equal(mx_xsign_signatures_json(&d, SPUB, rec_sign, &r, &out), ERR_OK);
	/* signed over the device keys object exactly as uploaded */
	assert_int_equal(r.n, 1);
	assert_string_equal(r.msg[0], dev);
	j = json_loads(out, 0, NULL);
	o = json_object_get(json_object_get(j, USER), "DEV1");
	assert_non_null(o);
	assert_string_equal(
		json_string_value(json_object_get(
			json_object_get(json_object_get(o, "signatures"), USER), "ed25519:" SPUB)),
		"sig0");
	json_object_del(o, "signatures");
	free(out);
	out = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
	assert_string_equal(out, dev);
	json_decref(j);
	free(out);
	free(dev);
	assert_int_equal(mx_xsign_signatures_json(&d, "", rec_sign, &r, &out), ERR_INVALID);
}

static void test_uia_parse(void **st)
{
	struct mx_uia u;
	const char *first = "{\"flows\":[{\"stages\":[\"m.login.sso\"]},{\"stages\":"
			    "[\"m.login.password\"]}],\"params\":{},\"session\":\"xyz\"}";
	const char *wrong = "{\"errcode\":\"M_FORBIDDEN\",\"error\":\"Invalid password\","
			    "\"flows\":[{\"stages\":[\"m.login.password\"]}],\"session\":\"xyz\"}";
	const char *oauth =
		"{\"flows\":[{\"stages\":[\"m.oauth\"]},{\"stages\":"
		"[\"m.login.password\",\"m.login.email.identity\"]}],\"session\":\"s\"}";

	(void)st;
	assert_int_equal(mx_uia_parse(first, strlen(first), &u), ERR_OK);
	assert_string_equal(u.session, "xyz");
	assert_true(u.password);
	assert_string_equal(u.errcode, "");
	assert_string_equal(u.stages, "m.login.sso m.login.password");
	assert_int_equal(mx_uia_parse(wrong, strlen(wrong), &u), ERR_OK);
	assert_string_equal(u.errcode, "M_FORBIDDEN");
	assert_true(u.password);
	/* a password that is one stage of two is not a flow faqbot can finish */
	assert_int_equal(mx_uia_parse(oauth, strlen(oauth), &u), ERR_OK);
	assert_false(u.password);
	/* a refused token is no challenge */
	assert_int_equal(mx_uia_parse("{\"errcode\":\"M_UNKNOWN_TOKEN\"}", 29, &u), ERR_PARSE);
	assert_int_equal(mx_uia_parse("", 0, &u), ERR_PARSE);
	assert_int_equal(mx_uia_parse("{\"flows\":{}}", 12, &u), ERR_PARSE);
}

static void test_query_parse(void **st)
{
	struct mx_xsign_server s;
	const char *q =
		"{\"device_keys\":{\"" USER "\":{\"DEV1\":{\"signatures\":{\"" USER
		"\":{\"ed25519:DEV1\":\"a\",\"ed25519:" SPUB "\":\"b\"}}}}},"
		"\"master_keys\":{\"" USER "\":{\"user_id\":\"" USER "\",\"usage\":[\"master\"],"
		"\"keys\":{\"ed25519:" MPUB "\":\"" MPUB "\"}}},"
		"\"self_signing_keys\":{\"" USER "\":{\"user_id\":\"" USER "\",\"usage\":"
		"[\"self_signing\"],\"keys\":{\"ed25519:" SPUB "\":\"" SPUB "\"}}}}";
	/* a master key of another user, one with two keys, the wrong usage */
	const char *odd = "{\"master_keys\":{\"" USER "\":{\"user_id\":\"@eve:hs.test\",\"usage\":"
			  "[\"master\"],\"keys\":{\"ed25519:" MPUB "\":\"" MPUB "\"}}},"
			  "\"self_signing_keys\":{\"" USER "\":{\"user_id\":\"" USER "\",\"usage\":"
			  "[\"master\"],\"keys\":{\"ed25519:" SPUB "\":\"" SPUB "\"}}}}";

	(void)st;
	assert_int_equal(mx_xsign_query_parse(q, strlen(q), USER, "DEV1", SPUB, &s), ERR_OK);
	assert_string_equal(s.master, MPUB);
	assert_string_equal(s.self_signing, SPUB);
	assert_true(s.device_known);
	assert_true(s.device_signed);
	assert_int_equal(mx_xsign_query_parse(q, strlen(q), USER, "DEV1", UPUB, &s), ERR_OK);
	assert_false(s.device_signed);
	assert_int_equal(mx_xsign_query_parse(q, strlen(q), USER, "DEV2", SPUB, &s), ERR_OK);
	assert_false(s.device_known);
	assert_false(s.device_signed);
	assert_int_equal(mx_xsign_query_parse(odd, strlen(odd), USER, "DEV1", SPUB, &s), ERR_OK);
	assert_string_equal(s.master, "");
	assert_string_equal(s.self_signing, "");
	assert_int_equal(mx_xsign_query_parse("[]", 2, USER, "DEV1", SPUB, &s), ERR_PARSE);
}

static void test_sig_failed(void **st)
{
	char why[128];
	const char *f =
		"{\"failures\":{\"" USER "\":{\"DEV1\":{\"errcode\":\"M_INVALID_SIGNATURE\","
		"\"error\":\"bad\\nsig\"}}}}";

	(void)st;
	assert_int_equal(mx_xsign_sig_failed("{\"failures\":{}}", 15, USER, "DEV1", why, 128), 0);
	assert_int_equal(mx_xsign_sig_failed("{}", 2, USER, "DEV1", why, 128), 0);
	assert_int_equal(mx_xsign_sig_failed(f, strlen(f), USER, "DEV1", why, 128), 1);
	assert_string_equal(why, "M_INVALID_SIGNATURE bad?sig");
	assert_int_equal(mx_xsign_sig_failed("<html>", 6, USER, "DEV1", why, 128), 1);
}

static void test_store_round_trip(void **st)
{
	struct mx_xsign_store s = {0}, t;
	char *out = NULL, *again = NULL;

	(void)st;
	snprintf(s.user_id, sizeof(s.user_id), USER);
	snprintf(s.pub[0], MX_KEY_MAX, MPUB);
	snprintf(s.pub[1], MX_KEY_MAX, SPUB);
	snprintf(s.pub[2], MX_KEY_MAX, UPUB);
	s.pickle[0] = "cGlja2xlMQ";
	s.pickle[1] = "cGlja2xlMg";
	s.pickle[2] = "cGlja2xlMw";
	s.uploaded = 1;
	snprintf(s.signed_device, sizeof(s.signed_device), "DEV1");
	assert_int_equal(mx_xsign_store_json(&s, &out), ERR_OK);
	assert_int_equal(mx_xsign_store_parse(out, strlen(out), &t), ERR_OK);
	assert_string_equal(t.pub[1], SPUB);
	assert_string_equal(t.pickle[2], "cGlja2xlMw");
	assert_true(t.uploaded);
	assert_string_equal(t.signed_device, "DEV1");
	assert_int_equal(mx_xsign_store_json(&t, &again), ERR_OK);
	assert_string_equal(out, again);
	mx_xsign_store_release(&t);
	/* cut short, a pickle that is not base64, another version */
	assert_int_equal(mx_xsign_store_parse(out, strlen(out) / 2, &t), ERR_PARSE);
	free(again);
	s.pickle[1] = "not base64!";
	assert_int_equal(mx_xsign_store_json(&s, &again), ERR_OK);
	assert_int_equal(mx_xsign_store_parse(again, strlen(again), &t), ERR_PARSE);
	free(again);
	assert_int_equal(mx_xsign_store_parse("{\"version\":2}", 13, &t), ERR_PARSE);
	free(out);
}

/* ---- the keys over libolm ------------------------------------------------ */

static char dir[64];

static char *slurp(const char *p)
{
	FILE *f = fopen(p, "rb");
	char *s;
	long n;

	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	s = calloc(1, (size_t)n + 1);
	assert_non_null(s);
	assert_int_equal(fread(s, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	return s;
}

static int setup(void **st)
{
	(void)st;
	return th_tmpdir(dir, sizeof(dir), "xsign");
}

static int teardown(void **st)
{
	(void)st;
	return th_rmtree(dir);
}

static enum err crypto_sign(void *ctx, const char *msg, size_t len, char *sig, size_t siglen)
{
	return mx_crypto_xsign_sign(ctx, MX_XSIGN_MASTER, msg, len, sig, siglen);
}

static void test_keys_made_kept_signed(void **st)
{
	struct mx_crypto *c = NULL;
	const struct mx_xsign_store *k;
	char err[1024], path[128], pub[3][MX_KEY_MAX], sig[MX_KEY_MAX], *file, *msg = NULL;
	struct stat sb;
	struct mx_xsign_pub p;
	char *body = NULL;
	json_t *j;
	int r;

	(void)st;
	snprintf(path, sizeof(path), "%s/%s", dir, MX_CRYPTO_XSIGN_FILE);
	assert_int_equal(mx_crypto_load(dir, KEY, &c, err, sizeof(err)), ERR_OK);
	assert_int_equal(mx_crypto_xsign_load(c, err, sizeof(err)), ERR_OK);
	assert_null(mx_crypto_xsign_keys(c)); /* none yet */
	assert_int_equal(mx_crypto_xsign_make(c, USER, err, sizeof(err)), ERR_OK);
	assert_int_equal(mx_crypto_xsign_make(c, USER, err, sizeof(err)), ERR_INVALID);
	k = mx_crypto_xsign_keys(c);
	assert_non_null(k);
	for (r = 0; r < MX_XSIGN_ROLES; r++) {
		assert_int_equal(strlen(k->pub[r]), 43);
		memcpy(pub[r], k->pub[r], MX_KEY_MAX);
	}
	assert_string_not_equal(pub[0], pub[1]);
	assert_false(k->uploaded);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	file = slurp(path);
	assert_non_null(file);
	assert_null(strstr(file, KEY));
	free(file);

	/* the master key's signatures verify over the canonical JSON */
	p.key[0] = pub[0];
	p.key[1] = pub[1];
	p.key[2] = pub[2];
	assert_int_equal(mx_xsign_upload_json(USER, &p, crypto_sign, c, NULL, &body), ERR_OK);
	j = json_loads(body, 0, NULL);
	snprintf(err, sizeof(err), "ed25519:%s", pub[0]);
	snprintf(sig, sizeof(sig), "%s",
		 json_string_value(json_object_get(
			 json_object_get(json_object_get(json_object_get(j, "self_signing_key"),
							 "signatures"),
					 USER),
			 err)));
	assert_int_equal(mx_xsign_key_json(USER, MX_XSIGN_SELF, pub[1], &msg), ERR_OK);
	assert_int_equal(mx_crypto_verify(pub[0], msg, strlen(msg), sig), ERR_OK);
	assert_int_equal(mx_crypto_verify(pub[1], msg, strlen(msg), sig), ERR_INVALID);
	msg[5] ^= 1;
	assert_int_equal(mx_crypto_verify(pub[0], msg, strlen(msg), sig), ERR_INVALID);
	free(msg);
	json_decref(j);
	free(body);
	assert_int_equal(mx_crypto_xsign_mark(c, 1, "DEV1", err, sizeof(err)), ERR_OK);
	mx_crypto_free(c);

	/* opened again: the same keys, what the server took remembered */
	c = NULL;
	assert_int_equal(mx_crypto_load(dir, KEY, &c, err, sizeof(err)), ERR_OK);
	assert_int_equal(mx_crypto_xsign_load(c, err, sizeof(err)), ERR_OK);
	k = mx_crypto_xsign_keys(c);
	assert_non_null(k);
	for (r = 0; r < MX_XSIGN_ROLES; r++)
		assert_string_equal(k->pub[r], pub[r]);
	assert_true(k->uploaded);
	assert_string_equal(k->signed_device, "DEV1");
	assert_int_equal(mx_crypto_xsign_sign(c, MX_XSIGN_SELF, "abc", 3, sig, sizeof(sig)),
			 ERR_OK);
	assert_int_equal(mx_crypto_verify(pub[1], "abc", 3, sig), ERR_OK);
	mx_crypto_free(c);
}

static void test_keys_refusals(void **st)
{
	struct mx_crypto *c = NULL;
	char err[1024], path[128], *good, *bad;
	json_t *j;
	FILE *f;

	(void)st;
	snprintf(path, sizeof(path), "%s/%s", dir, MX_CRYPTO_XSIGN_FILE);
	assert_int_equal(mx_crypto_load(dir, KEY, &c, err, sizeof(err)), ERR_OK);
	assert_int_equal(mx_crypto_xsign_make(c, USER, err, sizeof(err)), ERR_OK);
	mx_crypto_free(c);
	good = slurp(path);

	/* a wrong pickle key */
	c = NULL;
	assert_int_equal(mx_crypto_load(dir, KEY "x", &c, err, sizeof(err)), ERR_OK);
	assert_int_equal(mx_crypto_xsign_load(c, err, sizeof(err)), ERR_INVALID);
	assert_non_null(strstr(err, path));
	assert_non_null(strstr(err, "do not open with the pickle key"));
	assert_null(mx_crypto_xsign_keys(c));
	mx_crypto_free(c);

	/* a public key that is not the pickled one's: damaged */
	j = json_loads(good, 0, NULL);
	json_object_set_new(json_object_get(j, "user_signing"), "public",
			    json_string(json_string_value(
				    json_object_get(json_object_get(j, "master"), "public"))));
	bad = json_dumps(j, 0);
	json_decref(j);
	f = fopen(path, "w");
	fputs(bad, f);
	fclose(f);
	free(bad);
	c = NULL;
	assert_int_equal(mx_crypto_load(dir, KEY, &c, err, sizeof(err)), ERR_OK);
	assert_int_equal(mx_crypto_xsign_load(c, err, sizeof(err)), ERR_PARSE);
	assert_non_null(strstr(err, "the user_signing key in"));
	assert_non_null(strstr(err, path));

	/* cut short */
	f = fopen(path, "w");
	fwrite(good, 1, 30, f);
	fclose(f);
	assert_int_equal(mx_crypto_xsign_load(c, err, sizeof(err)), ERR_PARSE);
	assert_non_null(strstr(err, "is not faqbot's cross-signing keys"));
	bad = slurp(path);
	assert_int_equal(strlen(bad), 30); /* left as it was */
	free(bad);
	mx_crypto_free(c);
	free(good);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_key_json),
		cmocka_unit_test(test_upload_body),
		cmocka_unit_test(test_signatures_body),
		cmocka_unit_test(test_uia_parse),
		cmocka_unit_test(test_query_parse),
		cmocka_unit_test(test_sig_failed),
		cmocka_unit_test(test_store_round_trip),
		cmocka_unit_test_setup_teardown(test_keys_made_kept_signed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_keys_refusals, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
