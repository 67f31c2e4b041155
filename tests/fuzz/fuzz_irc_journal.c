/* fuzz_irc_journal.c -- the IRC reply journal's line codec on any bytes.
 * Invariants, abort() on a violation:
 * Half the inputs get a correct crc written over their first 9 bytes, so
 * the fuzzer reaches the fields behind the checksum.
 *   - irc_journal_parse never reads past its input and returns an entry
 *     or a done mark only with every field within its limit;
 *   - an entry it returns formats back to a line that parses to the same
 *     entry (the codec is its own inverse), one line, with no CR inside. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "irc_journal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct irc_journal_entry e, again;
	unsigned long long done = 0, done2 = 0;
	char *copy, *line;
	size_t len;

	/* a copy of exactly size bytes, so ASan sees any read past it */
	copy = malloc(size ? size : 1);
	if (!copy)
		return 0;
	memcpy(copy, data, size);
	if (size > 9 && (data[size - 1] & 1)) {
		static const char hex[] = "0123456789abcdef";
		unsigned h = irc_journal_crc(copy + 9, size - 9);
		int i;

		for (i = 7; i >= 0; i--, h >>= 4)
			copy[i] = hex[h & 15];
		copy[8] = ' ';
	}
	if (irc_journal_parse(copy, size, &e, &done) != ERR_OK) {
		free(copy);
		return 0;
	}
	free(copy);
	if (done)
		return 0;
	if (!e.id || strlen(e.text) > IRC_JOURNAL_TEXT_MAX || strlen(e.target) > IRC_JOURNAL_WORD_MAX ||
	    !*e.kind || !*e.cmd || !*e.target || !*e.text)
		abort();
	if (irc_journal_format(&e, &line, &len) != ERR_OK)
		abort();
	if (line[len - 1] != '\n' || memchr(line, '\n', len - 1) || memchr(line, '\r', len))
		abort();
	if (irc_journal_parse(line, len - 1, &again, &done2) != ERR_OK || done2 ||
	    again.id != e.id || again.wall_ms != e.wall_ms || strcmp(again.kind, e.kind) ||
	    strcmp(again.cmd, e.cmd) || strcmp(again.target, e.target) ||
	    strcmp(again.text, e.text))
		abort();
	irc_journal_entry_release(&again);
	irc_journal_entry_release(&e);
	free(line);
	return 0;
}
