/* test_mx_crypto.c -- the device's identity over libolm: made once, kept
 * 0600 in the state folder and encrypted (the key is nowhere in the file),
 * opened again with the same identity keys; a wrong key, a damaged file
 * or another device is a clear error that leaves the file as it was; the
 * upload body's signatures verify with libolm's own utility over what the
 * spec says they cover; keys made for an upload are on disk before the
 * body exists (a crash re-sends the same keys); the one-time keys are
 * topped up to half the account's maximum, and a fallback key is made
 * when asked. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mx_crypto.h"
#include "mx_keys.h"
#include "helpers.h"

#define KEY  "correct horse battery staple 42"
#define USER "@bot:hs.test"

static char dir[64];
static char path[128];

static int setup(void **st)
{
	(void)st;
	if (th_tmpdir(dir, sizeof(dir), "crypto") != 0)
		return -1;
	snprintf(path, sizeof(path), "%s/%s", dir, MX_CRYPTO_FILE);
	return 0;
}

static int teardown(void **st)
{
	(void)st;
	return th_rmtree(dir);
}

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

static void spill(const char *p, const char *text)
{
	FILE *f = fopen(p, "wb");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* fresh: a new identity for device dev, bound and saved */
static struct mx_crypto *fresh(const char *dev)
{
	struct mx_crypto *c = NULL;
	char err[1024];

	assert_int_equal(mx_crypto_load(dir, KEY, &c, err, sizeof(err)), ERR_OK);
	assert_null(mx_crypto_device(c));
	assert_int_equal(mx_crypto_bind(c, USER, dev, err, sizeof(err)), ERR_OK);
	return c;
}

static void test_made_kept_reopened(void **st)
{
	struct mx_crypto_identity a, b;
	struct mx_crypto *c = fresh("DEV1");
	struct stat sb;
	char err[1024], *text;

	(void)st;
	assert_int_equal(mx_crypto_identity(c, &a), ERR_OK);
	assert_int_equal(strlen(a.ed25519), 43);
	assert_int_equal(strlen(a.curve25519), 43);
	assert_string_equal(a.device_id, "DEV1");
	assert_string_equal(mx_crypto_device(c), "DEV1");
	assert_string_equal(mx_crypto_user(c), USER);
	assert_int_equal(mx_crypto_otk_target(c), 50); /* libolm keeps 100 */
	mx_crypto_free(c);

	/* 0600, and neither the key nor the private parts in the clear */
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	text = th_read(path, NULL);
	assert_null(strstr(text, KEY));
	assert_non_null(strstr(text, "\"device_id\":\"DEV1\""));
	assert_null(strstr(text, a.ed25519)); /* even the public keys are inside the pickle */
	free(text);

	/* opened again: the same identity */
	c = NULL;
	assert_int_equal(mx_crypto_load(dir, KEY, &c, err, sizeof(err)), ERR_OK);
	assert_string_equal(mx_crypto_device(c), "DEV1");
	assert_int_equal(mx_crypto_identity(c, &b), ERR_OK);
	assert_string_equal(a.ed25519, b.ed25519);
	assert_string_equal(a.curve25519, b.curve25519);
	/* bound again to the same device: nothing changes */
	assert_int_equal(mx_crypto_bind(c, USER, "DEV1", err, sizeof(err)), ERR_OK);
	assert_int_equal(mx_crypto_identity(c, &b), ERR_OK);
	assert_string_equal(a.ed25519, b.ed25519);
	mx_crypto_free(c);
}

static void test_refusals_leave_the_file(void **st)
{
	struct mx_crypto *c = fresh("DEV1");
	char err[1024], *before, *after, *bad;
	size_t i;

	(void)st;
	mx_crypto_free(c);
	before = th_read(path, NULL);

	/* another device: which one it is, and what to do */
	c = NULL;
	assert_int_equal(mx_crypto_load(dir, KEY, &c, err, sizeof(err)), ERR_OK);
	assert_int_equal(mx_crypto_bind(c, USER, "OTHER", err, sizeof(err)), ERR_INVALID);
	assert_non_null(strstr(err, path));
	assert_non_null(strstr(err, "device DEV1"));
	assert_non_null(strstr(err, "device_id = DEV1"));
	assert_int_equal(mx_crypto_bind(c, "@other:hs.test", "DEV1", err, sizeof(err)),
			 ERR_INVALID);
	mx_crypto_free(c);

	/* the wrong key */
	c = (struct mx_crypto *)1;
	assert_int_equal(
		mx_crypto_load(dir, "not the key it was written with", &c, err, sizeof(err)),
		ERR_INVALID);
	assert_null(c);
	assert_non_null(strstr(err, path));
	assert_non_null(strstr(err, "pickle key"));

	/* a key too short to be one */
	assert_int_equal(mx_crypto_load(dir, "short", &c, err, sizeof(err)), ERR_INVALID);
	assert_non_null(strstr(err, "head -c 32 /dev/urandom"));

	/* damage inside the pickle: its MAC fails, as a wrong key's does */
	bad = strdup(before);
	i = (size_t)(strstr(bad, "\"account\":\"") - bad) + 40;
	bad[i] = bad[i] == 'A' ? 'B' : 'A';
	th_write(path, bad, 0600);
	assert_int_not_equal(mx_crypto_load(dir, KEY, &c, err, sizeof(err)), ERR_OK);
	assert_null(c);
	assert_non_null(strstr(err, path));
	after = th_read(path, NULL);
	assert_string_equal(after, bad);
	free(after);

	/* not an account at all, and cut short */
	th_write(path, "{\"hello\": 1}", 0600);
	assert_int_equal(mx_crypto_load(dir, KEY, &c, err, sizeof(err)), ERR_PARSE);
	assert_non_null(strstr(err, path));
	assert_non_null(strstr(err, "backup"));
	bad[strlen(bad) / 2] = '\0';
	th_write(path, bad, 0600);
	assert_int_equal(mx_crypto_load(dir, KEY, &c, err, sizeof(err)), ERR_PARSE);
	after = th_read(path, NULL);
	assert_string_equal(after, bad); /* never replaced by a new identity */
	free(after);
	free(bad);

	/* put back, it opens */
	th_write(path, before, 0600);
	assert_int_equal(mx_crypto_load(dir, KEY, &c, err, sizeof(err)), ERR_OK);
	assert_string_equal(mx_crypto_device(c), "DEV1");
	mx_crypto_free(c);
	free(before);
}

/* verify_object: the signature of obj (a JSON object in the body) by the
 * device verifies over obj's signing input */
static enum err verify_object(const json_t *obj, const char *ed25519, const char *dev)
{
	char *text = json_dumps(obj, JSON_COMPACT), *input = NULL, name[64];
	const char *sig;
	enum err e;

	snprintf(name, sizeof(name), "ed25519:%s", dev);
	sig = json_string_value(
		json_object_get(json_object_get(json_object_get(obj, "signatures"), USER), name));
	assert_non_null(sig);
	assert_int_equal(mx_keys_signing_input(text, strlen(text), &input), ERR_OK);
	e = mx_crypto_verify(ed25519, input, strlen(input), sig);
	free(input);
	free(text);
	return e;
}

static void test_upload_signed_and_verified(void **st)
{
	struct mx_crypto *c = fresh("DEV2");
	struct mx_crypto_identity id;
	char err[1024], *body = NULL, *input = NULL, *tampered;
	json_t *j, *dk, *otks, *fb, *v;
	const char *name, *sig;
	size_t n = 0;

	(void)st;
	assert_int_equal(mx_crypto_identity(c, &id), ERR_OK);
	assert_int_equal(mx_crypto_upload(c, -1, 0, &body, NULL, err, sizeof(err)), ERR_OK);
	assert_non_null(body);
	j = json_loads(body, 0, NULL);
	assert_non_null(j);
	dk = json_object_get(j, "device_keys");
	assert_string_equal(json_string_value(json_object_get(dk, "user_id")), USER);
	assert_string_equal(json_string_value(json_object_get(dk, "device_id")), "DEV2");
	assert_string_equal(
		json_string_value(json_object_get(json_object_get(dk, "keys"), "ed25519:DEV2")),
		id.ed25519);
	assert_string_equal(
		json_string_value(json_object_get(json_object_get(dk, "keys"), "curve25519:DEV2")),
		id.curve25519);
	assert_int_equal(verify_object(dk, id.ed25519, "DEV2"), ERR_OK);

	/* the signature covers exactly the canonical object: a change breaks it */
	{
		char *text = json_dumps(dk, JSON_COMPACT);

		assert_int_equal(mx_keys_signing_input(text, strlen(text), &input), ERR_OK);
		free(text);
	}
	sig = json_string_value(json_object_get(
		json_object_get(json_object_get(dk, "signatures"), USER), "ed25519:DEV2"));
	tampered = strdup(input);
	tampered[strlen(tampered) - 3] ^= 1;
	assert_int_equal(mx_crypto_verify(id.ed25519, tampered, strlen(tampered), sig),
			 ERR_INVALID);
	assert_int_equal(mx_crypto_verify("not a key", input, strlen(input), sig), ERR_INVALID);
	assert_int_equal(mx_crypto_verify(id.ed25519, input, strlen(input), "bm90IGEgc2lnbmF0dXJl"),
			 ERR_INVALID);
	free(tampered);
	free(input);

	/* a new device: half the account's maximum, each signed */
	otks = json_object_get(j, "one_time_keys");
	assert_int_equal(json_object_size(otks), 50);
	json_object_foreach(otks, name, v)
	{
		assert_int_equal(strncmp(name, "signed_curve25519:", 18), 0);
		assert_null(json_object_get(v, "fallback"));
		assert_int_equal(verify_object(v, id.ed25519, "DEV2"), ERR_OK);
		n++;
	}
	assert_int_equal(n, 50);
	fb = json_object_get(j, "fallback_keys");
	assert_int_equal(json_object_size(fb), 1);
	json_object_foreach(fb, name, v)
	{
		assert_true(json_is_true(json_object_get(v, "fallback")));
		assert_int_equal(verify_object(v, id.ed25519, "DEV2"), ERR_OK);
	}
	json_decref(j);
	mx_crypto_free(c);
	free(body);
}

static void test_saved_before_upload(void **st)
{
	struct mx_crypto *c = fresh("DEV3");
	char err[1024], *first = NULL, *again = NULL, *top = NULL, *none = NULL;
	struct mx_crypto_sent sent;
	json_t *j, *otks;

	(void)st;
	assert_int_equal(mx_crypto_upload(c, -1, 0, &first, &sent, err, sizeof(err)), ERR_OK);
	assert_true(sent.device_keys && sent.otks == 50 && sent.fallback);
	/* the bot dies before the server's answer: a restart sends the same
	 * keys (the same ids with the same keys, which the server takes) */
	mx_crypto_free(c);
	c = NULL;
	assert_int_equal(mx_crypto_load(dir, KEY, &c, err, sizeof(err)), ERR_OK);
	assert_int_equal(mx_crypto_upload(c, -1, 0, &again, NULL, err, sizeof(err)), ERR_OK);
	assert_string_equal(first, again);
	/* the server took them: nothing more to send, whatever it held unknown */
	assert_int_equal(mx_crypto_published(c, err, sizeof(err)), ERR_OK);
	mx_crypto_free(c);
	c = NULL;
	assert_int_equal(mx_crypto_load(dir, KEY, &c, err, sizeof(err)), ERR_OK);
	assert_int_equal(mx_crypto_upload(c, -1, 0, &none, NULL, err, sizeof(err)), ERR_OK);
	assert_null(none);
	assert_int_equal(mx_crypto_upload(c, 50, 0, &none, NULL, err, sizeof(err)), ERR_OK);
	assert_null(none);
	/* 20 left on the server: 30 new ones, no device keys, no fallback */
	assert_int_equal(mx_crypto_upload(c, 20, 0, &top, &sent, err, sizeof(err)), ERR_OK);
	assert_non_null(top);
	assert_true(!sent.device_keys && sent.otks == 30 && !sent.fallback);
	j = json_loads(top, 0, NULL);
	otks = json_object_get(j, "one_time_keys");
	assert_int_equal(json_object_size(otks), 30);
	assert_null(json_object_get(j, "device_keys"));
	assert_null(json_object_get(j, "fallback_keys"));
	json_decref(j);
	assert_int_equal(mx_crypto_published(c, err, sizeof(err)), ERR_OK);
	free(top);
	top = NULL;
	/* the fallback key was handed out: a new one, with the keys due */
	assert_int_equal(mx_crypto_upload(c, 0, 1, &top, NULL, err, sizeof(err)), ERR_OK);
	j = json_loads(top, 0, NULL);
	assert_int_equal(json_object_size(json_object_get(j, "one_time_keys")), 50);
	assert_int_equal(json_object_size(json_object_get(j, "fallback_keys")), 1);
	assert_null(strstr(first, json_object_iter_key(json_object_iter(
					  json_object_get(j, "fallback_keys"))))); /* a new id */
	json_decref(j);
	mx_crypto_free(c);
	free(first);
	free(again);
	free(top);
}

#define BAD_SESSIONS "{\"version\":1,\"olm\":[],\"megolm\":[{\"room_id\":3}]}"

/* count_copies: files in dir named prefix... holding text */
static int count_copies(const char *prefix, const char *text)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char file[600], *got;
	int n = 0;

	assert_non_null(d);
	while ((de = readdir(d)))
		if (!strncmp(de->d_name, prefix, strlen(prefix))) {
			snprintf(file, sizeof(file), "%s/%s", dir, de->d_name);
			got = slurp(file);
			n += got && !strcmp(got, text);
			free(got);
		}
	closedir(d);
	return n;
}

/* receiving with nothing to receive with: each refusal its own error, no
 * file written for nothing; a damaged sessions' file is said (naming it
 * and its copy), left as it was until the next save, which first copies
 * it beside: the identity stays */
static void test_receiving_refusals(void **st)
{
	struct mx_crypto *c = fresh("DEV1");
	struct mx_room_key k;
	struct mx_megolm m;
	char err[1024], *plain = (char *)1, sess[128], *text;

	(void)st;
	assert_int_equal(mx_crypto_olm_decrypt(c, "Y3VydmU", 1, "QUJD", &plain, err, sizeof(err)),
			 ERR_NOTFOUND);
	assert_null(plain);
	assert_int_equal(mx_crypto_olm_decrypt(c, "Y3VydmU", 0, "QUJD", &plain, err, sizeof(err)),
			 ERR_INVALID);
	assert_non_null(strstr(err, "pre-key"));
	memset(&k, 0, sizeof(k));
	snprintf(k.room_id, sizeof(k.room_id), "!r:hs.test");
	snprintf(k.session_id, sizeof(k.session_id), "c2Vzcw");
	snprintf(k.session_key, sizeof(k.session_key), "a2V5a2V5");
	assert_int_equal(
		mx_crypto_room_key(c, &k, "@ann:hs.test", "Y3VydmU", "ZWQ", NULL, err, sizeof(err)),
		ERR_INVALID);
	memset(&m, 0, sizeof(m));
	snprintf(m.session_id, sizeof(m.session_id), "c2Vzcw");
	m.ciphertext = "QUJD";
	assert_int_equal(mx_crypto_room_decrypt(c, "!r:hs.test", "@ann:hs.test", "$e", &m, &plain,
						err, sizeof(err)),
			 ERR_NOTFOUND);
	assert_int_equal(mx_crypto_save(c, err, sizeof(err)), ERR_OK);
	snprintf(sess, sizeof(sess), "%s/%s", dir, MX_CRYPTO_SESSIONS_FILE);
	assert_int_equal(access(sess, F_OK), -1); /* nothing changed: nothing written */
	mx_crypto_free(c);
	spill(sess, BAD_SESSIONS);
	assert_int_equal(mx_crypto_load(dir, KEY, &c, err, sizeof(err)), ERR_OK);
	assert_non_null(mx_crypto_load_warning(c, 0));
	assert_null(mx_crypto_load_warning(c, 1));
	assert_non_null(strstr(mx_crypto_load_warning(c, 0), sess));
	assert_non_null(strstr(mx_crypto_load_warning(c, 0), "damaged-"));
	assert_non_null(strstr(mx_crypto_load_warning(c, 0), "backup"));
	text = slurp(sess); /* left as it was until it is written */
	assert_string_equal(text, BAD_SESSIONS);
	free(text);
	assert_non_null(mx_crypto_device(c)); /* the same identity, not a new one */
	assert_int_equal(mx_crypto_save(c, err, sizeof(err)), ERR_OK);
	mx_crypto_free(c);
	/* written again, whole, and its copy beside it */
	assert_int_equal(mx_crypto_load(dir, KEY, &c, err, sizeof(err)), ERR_OK);
	assert_null(mx_crypto_load_warning(c, 0));
	mx_crypto_free(c);
	assert_int_equal(count_copies(MX_CRYPTO_SESSIONS_FILE ".damaged-", BAD_SESSIONS), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_made_kept_reopened, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refusals_leave_the_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_upload_signed_and_verified, setup, teardown),
		cmocka_unit_test_setup_teardown(test_saved_before_upload, setup, teardown),
		cmocka_unit_test_setup_teardown(test_receiving_refusals, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
