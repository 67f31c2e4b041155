/* fuzz_mx_xsign.c -- libFuzzer target for the cross-signing JSON read
 * from outside (mx_xsign.h): a user-interactive auth 401 body, the
 * cross-signing part of a /keys/query answer, the answer of
 * /keys/signatures/upload and the keys' file. Whatever the bytes: no
 * crash, every string read is NUL-terminated within its field and fit for
 * a log line where one goes there; a key read from /keys/query is one
 * mx_xsign_key_json takes; the file, when read, writes back to what reads
 * the same. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mx_xsign.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define USER "@bot:hs.test"

static void printable_or_abort(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20)
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	struct mx_xsign_server srv;
	struct mx_xsign_store st, st2;
	struct mx_uia uia;
	char why[256], *out = NULL;
	int r;

	if (mx_uia_parse(text, size, &uia) == ERR_OK) {
		if (strlen(uia.session) >= sizeof(uia.session) ||
		    strlen(uia.stages) >= sizeof(uia.stages) ||
		    strlen(uia.errcode) >= sizeof(uia.errcode))
			abort();
		printable_or_abort(uia.stages);
		printable_or_abort(uia.errcode);
	}
	if (mx_xsign_query_parse(text, size, USER, "DEVICE", "c2VsZg", &srv) == ERR_OK) {
		if (srv.master[0]) {
			if (mx_xsign_key_json(USER, MX_XSIGN_MASTER, srv.master, &out) != ERR_OK)
				abort();
			free(out);
			out = NULL;
		}
		if (srv.device_signed && !srv.device_known)
			abort();
	}
	if (mx_xsign_sig_failed(text, size, USER, "DEVICE", why, sizeof(why)))
		printable_or_abort(why);
	if (mx_xsign_store_parse(text, size, &st) == ERR_OK) {
		if (mx_xsign_store_json(&st, &out) != ERR_OK ||
		    mx_xsign_store_parse(out, strlen(out), &st2) != ERR_OK ||
		    strcmp(st.user_id, st2.user_id) || st.uploaded != st2.uploaded ||
		    strcmp(st.signed_device, st2.signed_device))
			abort();
		for (r = 0; r < MX_XSIGN_ROLES; r++)
			if (strcmp(st.pub[r], st2.pub[r]) || strcmp(st.pickle[r], st2.pickle[r]))
				abort();
		mx_xsign_store_release(&st2);
		mx_xsign_store_release(&st);
		free(out);
	}
	return 0;
}
