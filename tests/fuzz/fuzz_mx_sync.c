/* fuzz_mx_sync.c -- libFuzzer target for mx_sync_parse, the code that turns
 * a homeserver's /sync response into actions. The input is the response
 * body; every action is walked so that a field left dangling shows up
 * under ASan: power level tables are looked up and copied, and each
 * message body is tried as the member a reply is directed to (a reply is
 * built when it resolves). Also fuzzes the error-body parser, the power
 * levels parser (a GET state body) and the other small bodies on the same
 * bytes.
 *
 * And it checks that no body holds the bot (abort otherwise): whenever
 * jansson, reading as the bot does, finds a usable top-level next_batch
 * string in the input, or in the input after mx_json_repair, mx_sync_parse
 * returns it, readable; mx_next_batch_scan finds exactly what jansson finds
 * in any body jansson accepts; every next_batch returned is usable; and
 * the repair keeps the length and never breaks a body jansson accepted.
 * And that reading a body a room at a time (mx_sync_parse) gives what
 * reading it as one tree gives (mx_sync_parse_tree), action for action. */
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mx_body.h"
#include "mx_html.h"
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

/* usable: what mx_sync_parse promises of a next_batch, written again
 * here rather than shared, so a slip in one shows against the other */
static int usable(const char *v, size_t n)
{
	size_t i;

	if (n == 0 || n > MX_NEXT_BATCH_MAX)
		return 0;
	for (i = 0; i < n; i++)
		if ((unsigned char)v[i] < 0x20 || v[i] == 0x7f)
			return 0;
	return 1;
}

/* oracle reads text as the bot would if it were plain jansson: 1 and a
 * copy of the usable top-level next_batch in buf, 0 when there is none;
 * *parsed says whether jansson took the text at all. */
static int oracle(const char *text, size_t len, char *buf, int *parsed)
{
	json_t *root = json_loadb(text, len, JSON_ALLOW_NUL, NULL);
	json_t *v = json_object_get(root, "next_batch");
	int ok = 0;

	*parsed = root != NULL;
	if (json_is_string(v) && usable(json_string_value(v), json_string_length(v))) {
		memcpy(buf, json_string_value(v), json_string_length(v) + 1);
		ok = 1;
	}
	json_decref(root);
	return ok;
}

static int same_str(const char *a, const char *b)
{
	return (!a && !b) || (a && b && !strcmp(a, b));
}

/* same_sync aborts unless the room-at-a-time reading (s, rc) and the
 * one-tree reading of the same bytes agree. */
static void same_sync(const char *text, size_t len, const struct mx_sync *s, enum err rc)
{
	struct mx_sync *t = NULL;
	enum err rt = mx_sync_parse_tree(text, len, "@faqbot:hs.test", &t, NULL, 0);
	size_t i;

	if (rc == ERR_NOMEM || rt == ERR_NOMEM)
		goto out; /* the fuzzer's malloc limit: nothing to compare */
	if (rc != rt)
		abort();
	if (rc != ERR_OK)
		goto out;
	if (s->n != t->n || s->unreadable != t->unreadable || s->skipped != t->skipped ||
	    s->repaired != t->repaired || s->gaps != t->gaps || s->rooms != t->rooms ||
	    strcmp(s->next_batch, t->next_batch) || s->keys.otk_known != t->keys.otk_known ||
	    s->keys.otk != t->keys.otk || s->keys.fallback_known != t->keys.fallback_known ||
	    s->keys.fallback_unused != t->keys.fallback_unused)
		abort();
	for (i = 0; i < s->n; i++) {
		const struct mx_action *a = &s->actions[i], *b = &t->actions[i];

		if (a->kind != b->kind || a->ignore != b->ignore || a->ts != b->ts ||
		    a->members != b->members || a->mentions_bot != b->mentions_bot ||
		    a->is_direct != b->is_direct || a->truncated != b->truncated ||
		    !same_str(a->room_id, b->room_id) || !same_str(a->sender, b->sender) ||
		    !same_str(a->sender_name, b->sender_name) ||
		    !same_str(a->event_id, b->event_id) || !same_str(a->msgtype, b->msgtype) ||
		    !same_str(a->body, b->body) ||
		    !same_str(a->formatted_body, b->formatted_body) ||
		    !same_str(a->thread_root, b->thread_root) ||
		    !same_str(a->reply_to, b->reply_to) || !a->power != !b->power ||
		    (a->power && mx_power_level(a->power, "@faqbot:hs.test") !=
					 mx_power_level(b->power, "@faqbot:hs.test")))
			abort();
	}
out:
	mx_sync_free(t);
}

/* check_batch: the promises about next_batch (see the top). */
static void check_batch(const char *text, size_t len, const struct mx_sync *s,
                        enum err rc)
{
	static char want[MX_NEXT_BATCH_MAX + 1], got[MX_NEXT_BATCH_MAX + 1];
	char *fixed = NULL;
	int parsed, has, fixed_parsed;

	if (rc == ERR_OK && !usable(s->next_batch, strlen(s->next_batch)))
		abort();
	has = oracle(text, len, want, &parsed);
	if (has && (rc != ERR_OK || s->unreadable || strcmp(s->next_batch, want)))
		abort();
	if (parsed) {
		enum err sc = mx_next_batch_scan(text, len, got, sizeof(got));

		if (has != (sc == ERR_OK) || (has && strcmp(got, want)))
			abort();
	}
	if (mx_json_repair(text, len, &fixed, NULL) != ERR_OK)
		return; /* out of memory: nothing to check */
	if (fixed) {
		has = oracle(fixed, len, want, &fixed_parsed);
		if (parsed && !fixed_parsed)
			abort(); /* a repair broke what was whole */
		if (has && (rc != ERR_OK || s->unreadable || strcmp(s->next_batch, want)))
			abort();
		free(fixed);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mx_sync *s = NULL;
	struct mx_power *p = NULL, *d;
	struct mx_error me;
	size_t i, sum = 0;
	char err[128], buf[MX_NEXT_BATCH_MAX + 1];
	long members;
	enum err rc;

	rc = mx_sync_parse((const char *)data, size, "@faqbot:hs.test", &s, err, sizeof(err));
	check_batch((const char *)data, size, s, rc);
	same_sync((const char *)data, size, s, rc);
	if (rc == ERR_OK) {
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
	if (mx_joined_count((const char *)data, size, &members) == ERR_OK)
		sum += (size_t)members;
	if (mx_field_string((const char *)data, size, "event_id", buf, sizeof(buf)) == ERR_OK)
		sum += strlen(buf);
	if (mx_power_parse((const char *)data, size, &p, NULL) == ERR_OK)
		sum += (size_t)mx_power_level(p, "@faqbot:hs.test");
	mx_power_free(p);
	return sum == (size_t)-1;
}
