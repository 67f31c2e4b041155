/* fuzz_mx_sync.c -- libFuzzer target for mx_sync_parse, the code that turns
 * a homeserver's /sync response into actions. The input is the response
 * body; every action is walked so that a field left dangling shows up
 * under ASan. Also fuzzes the error-body parser on the same bytes. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "mx_json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mx_sync *s = NULL;
	struct mx_error me;
	size_t i, sum = 0;
	char err[128];

	if (mx_sync_parse((const char *)data, size, "@faqbot:hs.test", &s, err,
	                  sizeof(err)) == ERR_OK) {
		sum += strlen(s->next_batch);
		for (i = 0; i < s->n; i++) {
			const struct mx_action *a = &s->actions[i];

			sum += strlen(a->room_id);
			if (a->kind != MX_ACT_MESSAGE)
				continue;
			sum += strlen(a->event_id) + strlen(a->sender);
			if (a->body)
				sum += strlen(a->body);
			if (a->thread_root)
				sum += strlen(a->thread_root);
		}
		mx_sync_free(s);
	}
	(void)mx_error_parse((const char *)data, size, &me);
	return sum == (size_t)-1;
}
