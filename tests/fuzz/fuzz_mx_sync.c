/* fuzz_mx_sync.c -- libFuzzer target for mx_sync_parse, the code that turns
 * a homeserver's /sync response into actions. The input is the response
 * body; every action is walked so that a field left dangling shows up
 * under ASan: power level tables are looked up and copied, and each
 * message body is tried as the member a reply is directed to (a reply is
 * built when it resolves). Also fuzzes the error-body parser and the power
 * levels parser (a GET state body) on the same bytes. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mx_json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* directed builds a reply directed to whoever body names, as the
 * transport would for a core's tr_reply.mention. */
static size_t directed(const struct mx_action *a)
{
	char id[MX_ID_MAX + 1], *json = NULL;
	struct mx_reply r;
	size_t n = 0;

	if (mx_mention_resolve(a->body, a->sender, id, sizeof(id)) != ERR_OK)
		return 0;
	memset(&r, 0, sizeof(r));
	r.text = "answer <b>&</b>";
	r.in_reply_to = a->event_id;
	r.mention = id;
	r.directed = 1;
	r.see_link = "https://matrix.to/#/%21r%3Ax/%24e";
	if (mx_reply_json(&r, &json) == ERR_OK)
		n = strlen(json);
	free(json);
	return n + mx_user_id_valid(id);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mx_sync *s = NULL;
	struct mx_power *p = NULL, *d;
	struct mx_error me;
	size_t i, sum = 0;
	char err[128];

	if (mx_sync_parse((const char *)data, size, "@faqbot:hs.test", &s, err,
	                  sizeof(err)) == ERR_OK) {
		sum += strlen(s->next_batch);
		for (i = 0; i < s->n; i++) {
			const struct mx_action *a = &s->actions[i];

			sum += strlen(a->room_id);
			if (a->kind == MX_ACT_POWER) {
				sum += (size_t)mx_power_level(a->power, "@faqbot:hs.test");
				d = mx_power_dup(a->power);
				if (d)
					sum += (size_t)mx_power_level(d, "@a:x");
				mx_power_free(d);
			}
			if (a->kind != MX_ACT_MESSAGE)
				continue;
			sum += strlen(a->event_id) + strlen(a->sender);
			if (a->body)
				sum += strlen(a->body) + directed(a);
			if (a->thread_root)
				sum += strlen(a->thread_root);
		}
		mx_sync_free(s);
	}
	(void)mx_error_parse((const char *)data, size, &me);
	if (mx_power_parse((const char *)data, size, &p, NULL) == ERR_OK)
		sum += (size_t)mx_power_level(p, "@faqbot:hs.test");
	mx_power_free(p);
	return sum == (size_t)-1;
}
