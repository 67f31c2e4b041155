/* fuzz_mx_e2ee_tx.c -- libFuzzer target for the JSON of sending in
 * encrypted rooms (mx_e2ee_tx.h): whatever the bytes, read as a
 * /keys/query answer, a /keys/claim answer, a room's m.room.encryption,
 * a joined members' list, a /sync body's device lists or the outbound
 * sessions' file, each is read or refused, never a crash, and what is
 * read keeps its caps (a device has its ids and keys, a claimed key is
 * one of the devices asked; a file read writes back to what reads the
 * same). */
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mx_e2ee_tx.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static enum err verify_any(const char *ed, const char *msg, size_t len, const char *sig)
{
	(void)msg;
	if (!ed || !sig || !len)
		abort();
	return sig[0] == 'A' ? ERR_OK : ERR_INVALID;
}

static void query_and_claim(const char *text, size_t size)
{
	struct mx_tx_dev *d = NULL;
	size_t n = 0, skipped = 0, i;
	char(*otk)[MX_KEY_MAX];

	if (mx_tx_query_parse(text, size, verify_any, &d, &n, &skipped) != ERR_OK)
		return;
	if (n > MX_TX_DEVICES_MAX)
		abort();
	for (i = 0; i < n; i++)
		if (!d[i].user[0] || !d[i].device[0] || !d[i].curve[0] || !d[i].ed[0])
			abort();
	otk = n ? calloc(n, sizeof(*otk)) : NULL;
	/* the same bytes as a claim's answer for the devices read */
	if (otk && mx_tx_claim_parse(text, size, verify_any, d, n, otk) == ERR_OK)
		for (i = 0; i < n; i++)
			if (strlen(otk[i]) >= MX_KEY_MAX)
				abort();
	free(otk);
	free(d);
}

static void out_file(const char *text, size_t size)
{
	struct mx_out_set s, back;
	char *json = NULL, *again = NULL;

	if (mx_tx_out_parse(text, size, &s) != ERR_OK) {
		if (s.n || s.v)
			abort();
		return;
	}
	if (mx_tx_out_json(&s, &json) == ERR_OK) {
		if (mx_tx_out_parse(json, strlen(json), &back) != ERR_OK)
			abort();
		if (mx_tx_out_json(&back, &again) == ERR_OK && strcmp(json, again))
			abort();
		mx_tx_out_release(&back);
	}
	free(json);
	free(again);
	mx_tx_out_release(&s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	json_t *root;
	char **v = NULL;
	size_t n = 0;
	long msgs;
	long long ms;

	query_and_claim(text, size);
	out_file(text, size);
	if (mx_tx_encryption_text(text, size, &msgs, &ms) && (msgs <= 0 || ms <= 0))
		abort();
	if (mx_tx_joined_parse(text, size, &v, &n) == ERR_OK && n > MX_TX_MEMBERS_MAX)
		abort();
	mx_tx_strs_free(v, n);
	root = json_loadb(text, size, 0, NULL);
	v = NULL;
	n = 0;
	if (mx_tx_device_lists(root, &v, &n) == ERR_OK && n > MX_TX_CHANGED_MAX)
		abort();
	mx_tx_strs_free(v, n);
	json_decref(root);
	return 0;
}
