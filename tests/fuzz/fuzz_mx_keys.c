/* fuzz_mx_keys.c -- libFuzzer target for the JSON of the device's
 * encryption keys (mx_keys.h): whatever the bytes, canonical JSON is
 * written or refused, never a crash, and what is written is canonical for
 * good: it parses, strictly, and its own canonical form is itself (the
 * signing input of a signature must not depend on who wrote it first); a
 * signing input strips "signatures" and "unsigned" and is canonical too;
 * the server's answers (the upload's one_time_key_counts, /sync's counts)
 * give a count in range or none; libolm's key lists, when read, make an
 * upload body that is canonical JSON; the account's file, when read,
 * writes back to what reads the same. */
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mx_keys.h"
#include "mx_repair.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static enum err sign(void *ctx, const char *msg, size_t len, char *sig, size_t siglen)
{
	(void)ctx;
	(void)msg;
	if (len == 0 || siglen < 8)
		abort();
	memcpy(sig, "c2lnbmF0", 8);
	sig[siglen > 8 ? 8 : siglen - 1] = '\0';
	return ERR_OK;
}

/* canonical_fixed: out is canonical JSON that reads back to itself */
static void canonical_fixed(const char *out)
{
	char *again = NULL;

	if (mx_canonical_json(out, strlen(out), &again) != ERR_OK || strcmp(out, again))
		abort();
	free(again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	struct mx_device d = {"@bot:hs.test", "DEVICE", "Y3VydmU", "ZWQyNTUxOQ", sign, NULL};
	struct mx_key_counts kc;
	struct mx_key *keys = NULL;
	struct mx_upload u = {1, NULL, 0, NULL};
	struct mx_store st, st2;
	char *out = NULL, *body = NULL, fp[MX_FINGERPRINT_MAX], *s;
	size_t n = 0;
	long otk;
	json_t *root;

	if (mx_canonical_json(text, size, &out) == ERR_OK) {
		canonical_fixed(out);
		free(out);
		out = NULL;
	}
	if (mx_keys_signing_input(text, size, &out) == ERR_OK) {
		canonical_fixed(out);
		root = json_loads(out, JSON_ALLOW_NUL, NULL);
		if (!json_is_object(root) || json_object_get(root, "signatures") ||
		    json_object_get(root, "unsigned"))
			abort();
		json_decref(root);
		free(out);
		out = NULL;
	}
	if (mx_keys_upload_counts(text, size, &otk) == ERR_OK && (otk < 0 || otk > MX_KEYS_COUNT_MAX))
		abort();
	root = mx_json_load(text, size, NULL, NULL, NULL);
	mx_keys_sync_counts(root, &kc);
	if (kc.otk < 0 || kc.otk > MX_KEYS_COUNT_MAX || (!kc.otk_known && kc.otk) ||
	    (!kc.fallback_known && kc.fallback_unused))
		abort();
	json_decref(root);
	if (mx_keys_curve_list(text, size, &keys, &n) == ERR_OK) {
		u.otks = keys;
		u.n_otks = n;
		u.fallback = n ? &keys[0] : NULL;
		if (mx_keys_upload_json(&d, &u, &body) != ERR_OK)
			abort(); /* every key the list reader took is one to upload */
		canonical_fixed(body);
		free(body);
		free(keys);
	}
	if (mx_keys_store_parse(text, size, &st) == ERR_OK) {
		if (mx_keys_store_json(&st, &out) != ERR_OK ||
		    mx_keys_store_parse(out, strlen(out), &st2) != ERR_OK ||
		    strcmp(st.pickle, st2.pickle) || strcmp(st.user_id, st2.user_id) ||
		    strcmp(st.device_id, st2.device_id) || st.shared != st2.shared ||
		    st.fallback != st2.fallback)
			abort();
		mx_store_release(&st2);
		mx_store_release(&st);
		free(out);
	}
	s = strndup(text, size < 200 ? size : 200);
	if (s && mx_keys_fingerprint(s, fp, sizeof(fp)) == ERR_OK && strlen(fp) < strlen(s))
		abort();
	free(s);
	return 0;
}
