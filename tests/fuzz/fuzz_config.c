/* fuzz_config.c -- the configuration parser on any bytes: a config or one
 * line of error, never a crash, a leak or a hang. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config *c = NULL;
	char err[512];

	if (config_parse_text("fuzz.ini", (const char *)data, size, &c, err, sizeof(err)) == ERR_OK) {
		(void)config_room(c, "!a:b");
		config_free(c);
	} else if (memchr(err, '\n', strnlen(err, sizeof(err)))) {
		abort(); /* an error is one line */
	}
	return 0;
}
