/* fuzz_mx_e2ee.c -- libFuzzer target for the JSON of reading encrypted
 * rooms (mx_e2ee.h, and mx_sync_decrypted in mx_json.h): whatever the
 * bytes, read as a /sync body's to-device events, a room event's
 * encrypted content, an Olm plaintext, a decrypted Megolm event, a
 * /keys/query answer, the sessions' file or the waiting list's, each is
 * read or refused, never a crash, and what is read keeps its caps (an Olm
 * event has a sender and ciphers, a room key names a room and a session;
 * a file read writes back to what reads the same). */
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mx_e2ee.h"
#include "mx_json.h"
#include "mx_repair.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static enum err verify_any(const char *ed, const char *msg, size_t len, const char *sig)
{
	(void)msg;
	if (!ed || !sig || !len)
		abort();
	return sig[0] == 'A' ? ERR_OK : ERR_INVALID;
}

static void todev(const char *text, size_t size)
{
	json_t *root = mx_json_load(text, size, NULL, NULL, NULL);
	struct mx_todev *t = NULL;
	size_t n = 0, skipped = 0, i, k;

	if (mx_e2ee_todev_parse(root, &t, &n, &skipped) == ERR_OK) {
		if (n > MX_E2EE_TODEV_MAX)
			abort();
		for (i = 0; i < n; i++) {
			if (!t[i].sender[0] || !t[i].type[0] || (t[i].olm && !t[i].n_c) ||
			    t[i].n_c > MX_E2EE_CIPHERS_MAX)
				abort();
			for (k = 0; k < t[i].n_c; k++)
				if (!t[i].c[k].body ||
				    mx_e2ee_cipher_for(&t[i], t[i].c[k].key) == NULL)
					abort();
		}
	}
	mx_e2ee_todev_free(t, n);
	if (json_is_object(root)) {
		struct mx_megolm m;

		if (mx_e2ee_megolm_parse(root, &m) == ERR_OK) {
			if (!m.ciphertext || !m.session_id[0])
				abort();
			mx_e2ee_megolm_release(&m);
		}
	}
	json_decref(root);
}

static void plain(const char *text, size_t size)
{
	struct mx_olm_expect x = {"@ann:hs.test", "Y3VydmU", "@bot:hs.test", "ZWQ", verify_any};
	struct mx_olm_plain p;
	struct mx_action outer, dec;
	char why[128], dev[64];

	if (mx_e2ee_olm_plain(text, size, &x, &p, why, sizeof(why)) == ERR_OK && p.has_key &&
	    (!p.key.room_id[0] || !p.key.session_id[0] || !p.key.session_key[0]))
		abort();
	mx_e2ee_plain_release(&p);
	memset(&outer, 0, sizeof(outer));
	outer.room_id = "!room:hs.test";
	outer.event_id = "$ev";
	outer.sender = "@ann:hs.test";
	if (mx_sync_decrypted(text, size, &outer, "@bot:hs.test", &dec) == ERR_OK) {
		if (!dec.room_id || strcmp(dec.room_id, outer.room_id) || dec.enc)
			abort();
		mx_action_release(&dec);
	}
	(void)mx_e2ee_query_check(text, size, "@ann:hs.test", "Y3VydmU", "ZWQ", verify_any, dev,
				  sizeof(dev));
}

static void files(const char *text, size_t size)
{
	struct mx_sessions s, s2;
	struct mx_pending *p = NULL, *p2 = NULL;
	size_t n = 0, n2 = 0, skipped = 0;
	char *out = NULL, *again = NULL;

	if (mx_e2ee_sessions_parse(text, size, &s) == ERR_OK) {
		if (mx_e2ee_sessions_json(&s, &out) != ERR_OK ||
		    mx_e2ee_sessions_parse(out, strlen(out), &s2) != ERR_OK ||
		    mx_e2ee_sessions_json(&s2, &again) != ERR_OK || strcmp(out, again))
			abort();
		mx_e2ee_sessions_release(&s2);
		mx_e2ee_sessions_release(&s);
		free(out);
		free(again);
		out = again = NULL;
	}
	if (mx_e2ee_pending_parse(text, size, &p, &n, &skipped) == ERR_OK) {
		if (n > MX_E2EE_PENDING_MAX || mx_e2ee_pending_json(p, n, &out) != ERR_OK ||
		    mx_e2ee_pending_parse(out, strlen(out), &p2, &n2, &skipped) != ERR_OK ||
		    n2 != n)
			abort();
		mx_e2ee_pending_free(p2, n2);
		free(out);
	}
	mx_e2ee_pending_free(p, n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;

	todev(text, size);
	plain(text, size);
	files(text, size);
	return 0;
}
