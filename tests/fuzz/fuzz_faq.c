/* fuzz_faq.c -- the FAQ file parser: any bytes, as one file of a FAQ folder,
 * must give findings or nothing, never a crash, a leak or a hang. */
#include <stddef.h>
#include <stdint.h>

#include "faq.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct faq_diags d = {0};

	faq_parse_text("fuzz.yml", (const char *)data, size, &d);
	faq_diags_release(&d);
	return 0;
}
