/* fuzz_mx_appsvc.c -- libFuzzer target for what an Application Service
 * reads of the homeserver's requests (mx_appsvc.h): the input as a
 * transaction body (every action walked, so a field left dangling shows
 * under ASan), as a request path under each method (a parameter returned
 * must lie within the path and be usable), as an Authorization header, as
 * the kept text of the transaction ids (read, written and read again: the
 * same text, aborting otherwise), and as a joined_rooms body. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mx_appsvc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void walk(const struct mx_sync *s)
{
	volatile size_t n = 0;
	size_t i;

	for (i = 0; i < s->n; i++) {
		const struct mx_action *a = &s->actions[i];

		n += strlen(a->room_id);
		if (a->sender)
			n += strlen(a->sender);
		if (a->body)
			n += strlen(a->body);
		if (a->event_id)
			n += strlen(a->event_id);
	}
}

static void paths(const char *p)
{
	static const char *const methods[] = {"GET", "PUT", "POST", "DELETE"};
	const char *arg;
	size_t i, n;

	for (i = 0; i < 4; i++) {
		enum mx_as_route r = mx_as_route(methods[i], p, &arg, &n);

		if (r == MX_AS_TXN && (!arg || arg < p || arg + n > p + strlen(p) ||
				       !mx_as_txn_id_ok(arg, n)))
			abort();
		if ((r == MX_AS_USER || r == MX_AS_ROOM) && (!arg || n == 0 || n > MX_ID_MAX))
			abort();
	}
}

static void txns(const char *text, size_t len)
{
	struct mx_as_txns a, b;
	char *t1, *t2;

	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	if (mx_as_txns_load(&a, text, len) != ERR_OK)
		return;
	t1 = mx_as_txns_text(&a);
	if (t1 && mx_as_txns_load(&b, t1, strlen(t1)) == ERR_OK) {
		t2 = mx_as_txns_text(&b);
		if (t2 && strcmp(t1, t2))
			abort(); /* what is kept reads back as it was */
		free(t2);
	}
	free(t1);
	mx_as_txns_release(&a);
	mx_as_txns_release(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mx_sync *s = NULL;
	char *text = malloc(size + 1), **rooms = NULL;
	size_t n = 0, i;

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	if (mx_as_txn_parse(text, size, "@faqbot-1:fake.test", &s, NULL, 0) == ERR_OK) {
		walk(s);
		mx_sync_free(s);
	}
	paths(text);
	(void)mx_as_auth_check(text, NULL, "sekrit");
	(void)mx_as_auth_check(NULL, text, "sekrit");
	txns(text, size);
	if (mx_as_joined_rooms(text, size, &rooms, &n) == ERR_OK) {
		for (i = 0; i < n; i++)
			free(rooms[i]);
		free(rooms);
	}
	free(text);
	return 0;
}
