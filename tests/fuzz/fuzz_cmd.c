/* fuzz_cmd.c -- what members type and what the state folder holds, on any
 * bytes: chat commands (cmd_parse), and the counts and the mutes and
 * opt-outs files read back at start (a disk can hand back anything). The
 * first byte picks the parser. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "policy.h"
#include "stats.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data + 1;
	size_t len = size ? size - 1 : 0;

	if (size == 0)
		return 0;
	if (data[0] % 3 == 0) {
		struct cmd c;
		enum cmd_kind k = cmd_parse(text, len, &c);

		if (strlen(c.arg) >= CMD_ARG_MAX || strlen(c.target) >= CMD_TARGET_MAX)
			abort();
		if (k == CMD_NONE && (c.arg[0] || c.target[0]))
			abort();
		if (strpbrk(c.target, " \t\r\n<>&\""))
			abort(); /* a name never carries markup or spaces */
	} else if (data[0] % 3 == 1) {
		struct stats *st = stats_new();
		char *out;

		if (!st)
			return 0;
		if (stats_from_json(st, text, len, NULL) == ERR_OK) {
			out = stats_to_json(st, 0);
			free(out);
		}
		stats_free(st);
	} else {
		struct policy *p = policy_new(600);
		char *out;

		if (!p)
			return 0;
		if (policy_from_json(p, text, len, NULL) == ERR_OK) {
			out = policy_to_json(p);
			free(out);
		}
		policy_free(p);
	}
	return 0;
}
