/* test_irc_journal.c -- the IRC reply journal: the line codec (round trips
 * of any bytes, every corruption caught), and the file: pending entries
 * across a reopen, done marks, emptied when nothing is pending, compacted
 * when big, mode 0600, and a torn or corrupt line costing that line only. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "irc_journal.h"
#include "helpers.h"

static struct irc_journal_entry ent(unsigned long long id, const char *kind,
                                    const char *target, const char *text)
{
	struct irc_journal_entry e;

	e.id = id;
	e.wall_ms = 1700000000123LL + (long long)id;
	e.kind = (char *)kind;
	e.cmd = (char *)"PRIVMSG";
	e.target = (char *)target;
	e.text = (char *)text;
	return e;
}

static void roundtrip(const struct irc_journal_entry *in)
{
	struct irc_journal_entry out;
	unsigned long long done = 7;
	char *line;
	size_t len;

	assert_int_equal(irc_journal_format(in, &line, &len), ERR_OK);
	assert_int_equal(strlen(line), len);
	assert_int_equal(line[len - 1], '\n');
	assert_null(memchr(line, '\n', len - 1)); /* one line, whatever the text */
	assert_null(memchr(line, '\r', len));
	assert_int_equal(irc_journal_parse(line, len - 1, &out, &done), ERR_OK);
	assert_int_equal(done, 0);
	assert_int_equal(out.id, in->id);
	assert_int_equal(out.wall_ms, in->wall_ms);
	assert_string_equal(out.kind, in->kind);
	assert_string_equal(out.cmd, in->cmd);
	assert_string_equal(out.target, in->target);
	assert_string_equal(out.text, in->text);
	irc_journal_entry_release(&out);
	free(line);
}

static void test_codec_roundtrip(void **state)
{
	struct irc_journal_entry e;
	char text[300];
	int i;

	(void)state;
	e = ent(1, "faq", "#support", "alice: Talk to your prescriber.\n\nA second paragraph.");
	roundtrip(&e);
	e = ent(18446744073709551615ULL / 10, "crisis", "bob\\ x",
	        "back\\slash \\n not a newline\r\n\t\x01\x7f caf\xc3\xa9 \xff\xfe invalid");
	roundtrip(&e);
	e = ent(2, "alert", "a b c", "   leading and trailing spaces   ");
	roundtrip(&e);
	for (i = 1; i < 256; i++)
		text[i - 1] = (char)i;
	text[255] = '\0';
	e = ent(3, "k\x01nd", "t\xc3\xa9", text);
	roundtrip(&e);
	e.wall_ms = 0;
	roundtrip(&e);
}

static void test_codec_refuses(void **state)
{
	struct irc_journal_entry e;
	char *line, *big;
	size_t len;

	(void)state;
	e = ent(0, "faq", "#a", "x");
	assert_int_equal(irc_journal_format(&e, &line, &len), ERR_INVALID);
	e = ent(1, "faq", "#a", "");
	assert_int_equal(irc_journal_format(&e, &line, &len), ERR_INVALID);
	e = ent(1, "", "#a", "x");
	assert_int_equal(irc_journal_format(&e, &line, &len), ERR_INVALID);
	e = ent(1, "faq", NULL, "x");
	assert_int_equal(irc_journal_format(&e, &line, &len), ERR_INVALID);
	big = malloc(IRC_JOURNAL_TEXT_MAX + 2);
	assert_non_null(big);
	memset(big, 'x', IRC_JOURNAL_TEXT_MAX + 1);
	big[IRC_JOURNAL_TEXT_MAX + 1] = '\0';
	e = ent(1, "faq", "#a", big);
	assert_int_equal(irc_journal_format(&e, &line, &len), ERR_LIMIT);
	big[IRC_JOURNAL_TEXT_MAX] = '\0';
	assert_int_equal(irc_journal_format(&e, &line, &len), ERR_OK);
	free(line);
	free(big);
}

/* Every change of one byte, and every cut, of a good line is refused (or,
 * for a cut at the very end of a done mark, still the same mark). */
static void test_codec_catches_corruption(void **state)
{
	struct irc_journal_entry e = ent(42, "faq", "#support", "alice: the answer, caf\xc3\xa9.");
	struct irc_journal_entry out;
	unsigned long long done;
	char *line, *copy;
	size_t len, i;
	int v;

	(void)state;
	assert_int_equal(irc_journal_format(&e, &line, &len), ERR_OK);
	len--; /* without the LF */
	copy = malloc(len + 1);
	assert_non_null(copy);
	for (i = 0; i < len; i++) {
		for (v = 1; v < 256; v += 37) {
			enum err r;

			memcpy(copy, line, len);
			copy[i] = (char)(copy[i] ^ v);
			r = irc_journal_parse(copy, len, &out, &done);
			if (r == ERR_OK) {
				/* hex digits of the crc in another case read the same */
				assert_true(i < 8);
				irc_journal_entry_release(&out);
			} else {
				assert_true(r == ERR_PARSE || r == ERR_LIMIT);
			}
		}
		assert_int_equal(irc_journal_parse(line, i, &out, &done), ERR_PARSE);
	}
	free(copy);
	free(line);
	/* the done mark */
	{
		char buf[48];
		size_t n = irc_journal_format_done(42, buf, sizeof(buf));

		assert_true(n > 0 && buf[n - 1] == '\n');
		assert_int_equal(irc_journal_parse(buf, n - 1, &out, &done), ERR_OK);
		assert_int_equal(done, 42);
		buf[n - 2] = '3';
		assert_int_equal(irc_journal_parse(buf, n - 1, &out, &done), ERR_PARSE);
		assert_int_equal(irc_journal_format_done(42, buf, 5), 0);
	}
	/* a time of 19 digits past LLONG_MAX (fuzz_irc_journal found it: it
	 * came back negative and did not format back to itself) */
	{
		static const char *const times[] = {"9223372036854775807", "9223372036854775808",
		                                    "9700000000406205846"};
		char buf[128];
		size_t k;

		for (k = 0; k < 3; k++) {
			int n = snprintf(buf, sizeof(buf), "-------- A 8 %s cr PRIVMSG #c hi", times[k]);
			unsigned h = irc_journal_crc(buf + 9, (size_t)n - 9);
			char crc[9];

			snprintf(crc, sizeof(crc), "%08x", h);
			memcpy(buf, crc, 8);
			assert_int_equal(irc_journal_parse(buf, (size_t)n, &out, &done),
			                 k == 0 ? ERR_OK : ERR_PARSE);
			if (k == 0) {
				assert_int_equal(out.wall_ms, 9223372036854775807LL);
				irc_journal_entry_release(&out);
			}
		}
	}
	/* garbage */
	assert_int_equal(irc_journal_parse("", 0, &out, &done), ERR_PARSE);
	assert_int_equal(irc_journal_parse("hello", 5, &out, &done), ERR_PARSE);
	assert_int_equal(irc_journal_parse("zzzzzzzz A 1", 12, &out, &done), ERR_PARSE);
}

/* a temporary state folder */
static char dir[64];

static int setup(void **state)
{
	(void)state;
	return th_tmpdir(dir, sizeof(dir), "irc-journal");
}

static int teardown(void **state)
{
	(void)state;
	return th_rmtree(dir);
}

static off_t file_size(void)
{
	char path[128];
	struct stat sb;

	snprintf(path, sizeof(path), "%s/%s", dir, IRC_JOURNAL_FILE);
	if (stat(path, &sb) != 0)
		return -1;
	return sb.st_size;
}

static struct irc_journal *open_ok(struct irc_journal_stats *st)
{
	struct irc_journal *j = NULL;
	char err[256];

	assert_int_equal(irc_journal_open(dir, &j, st, err, sizeof(err)), ERR_OK);
	assert_non_null(j);
	return j;
}

static void test_file_lifecycle(void **state)
{
	struct irc_journal_stats st;
	const struct irc_journal_entry *v;
	struct irc_journal_entry e;
	struct irc_journal *j;
	char path[128];
	struct stat sb;
	size_t n;

	(void)state;
	j = open_ok(&st);
	assert_int_equal(st.pending, 0);
	assert_int_equal(irc_journal_next_id(j), 1);
	snprintf(path, sizeof(path), "%s/%s", dir, IRC_JOURNAL_FILE);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	e = ent(1, "faq", "#a", "one");
	assert_int_equal(irc_journal_add(j, &e), ERR_OK);
	e = ent(2, "crisis", "#a", "two");
	assert_int_equal(irc_journal_add(j, &e), ERR_OK);
	e = ent(3, "faq", "bob", "three");
	assert_int_equal(irc_journal_add(j, &e), ERR_OK);
	assert_int_equal(irc_journal_sync(j), ERR_OK);
	assert_int_equal(irc_journal_sync(j), ERR_OK); /* nothing new: no-op */
	assert_int_equal(irc_journal_done(j, 2), ERR_OK);
	assert_int_equal(irc_journal_done(j, 99), ERR_OK); /* never journaled */
	assert_int_equal(irc_journal_count_pending(j), 2);
	irc_journal_free(j); /* as a kill would leave it */

	j = open_ok(&st);
	assert_int_equal(st.entries, 3);
	assert_int_equal(st.done, 1);
	assert_int_equal(st.pending, 2);
	assert_int_equal(st.bad_lines, 0);
	assert_int_equal(irc_journal_next_id(j), 4);
	v = irc_journal_pending(j, &n);
	assert_int_equal(n, 2);
	assert_int_equal(v[0].id, 1);
	assert_string_equal(v[0].text, "one");
	assert_int_equal(v[1].id, 3);
	assert_string_equal(v[1].target, "bob");
	irc_journal_forget(j);
	v = irc_journal_pending(j, &n);
	assert_int_equal(n, 0);
	assert_int_equal(irc_journal_count_pending(j), 2);
	/* the reopen rewrote it with the pending entries only */
	assert_true(file_size() > 0);
	assert_int_equal(irc_journal_done(j, 1), ERR_OK);
	assert_true(file_size() > 0);
	assert_int_equal(irc_journal_done(j, 3), ERR_OK);
	assert_int_equal(file_size(), 0); /* nothing pending: emptied */
	e = ent(4, "faq", "#a", "four");
	assert_int_equal(irc_journal_add(j, &e), ERR_OK);
	irc_journal_free(j);
	j = open_ok(&st);
	assert_int_equal(st.pending, 1);
	assert_int_equal(irc_journal_next_id(j), 5);
	irc_journal_free(j);
}

static void append_raw(const char *bytes)
{
	char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, IRC_JOURNAL_FILE);
	f = fopen(path, "a");
	assert_non_null(f);
	fputs(bytes, f);
	fclose(f);
}

static void test_corrupt_and_torn_lines(void **state)
{
	struct irc_journal_stats st;
	const struct irc_journal_entry *v;
	struct irc_journal_entry e;
	struct irc_journal *j;
	char *line;
	size_t n, len;

	(void)state;
	j = open_ok(&st);
	e = ent(10, "faq", "#a", "good one");
	assert_int_equal(irc_journal_add(j, &e), ERR_OK);
	irc_journal_free(j);
	append_raw("garbage that is no entry\n\n");
	e = ent(11, "faq", "#a", "corrupted");
	assert_int_equal(irc_journal_format(&e, &line, &len), ERR_OK);
	line[20] ^= 1;
	append_raw(line);
	free(line);
	e = ent(12, "faq", "#a", "good two");
	assert_int_equal(irc_journal_format(&e, &line, &len), ERR_OK);
	append_raw(line);
	free(line);
	e = ent(13, "faq", "#a", "torn by a crash");
	assert_int_equal(irc_journal_format(&e, &line, &len), ERR_OK);
	line[len / 2] = '\0';
	append_raw(line);
	free(line);

	j = open_ok(&st);
	assert_int_equal(st.bad_lines, 2);
	assert_int_equal(st.torn, 1);
	assert_int_equal(st.pending, 2);
	v = irc_journal_pending(j, &n);
	assert_int_equal(n, 2);
	assert_string_equal(v[0].text, "good one");
	assert_string_equal(v[1].text, "good two");
	/* the torn tail is gone: a new entry is read back whole */
	e = ent(14, "faq", "#a", "after the tear");
	assert_int_equal(irc_journal_add(j, &e), ERR_OK);
	irc_journal_free(j);
	j = open_ok(&st);
	assert_int_equal(st.bad_lines, 0);
	assert_int_equal(st.torn, 0);
	v = irc_journal_pending(j, &n);
	assert_int_equal(n, 3);
	assert_string_equal(v[2].text, "after the tear");
	assert_true(irc_journal_next_id(j) >= 15);
	irc_journal_free(j);
}

static void test_compaction(void **state)
{
	struct irc_journal_stats st;
	struct irc_journal_entry e;
	struct irc_journal *j;
	char text[1024];
	unsigned long long id;
	off_t most = 0;

	(void)state;
	j = open_ok(&st);
	memset(text, 'y', sizeof(text) - 1);
	text[sizeof(text) - 1] = '\0';
	/* one entry stays pending the whole time; the file must not grow
	 * without end */
	e = ent(1, "faq", "#a", "the one that stays");
	assert_int_equal(irc_journal_add(j, &e), ERR_OK);
	for (id = 2; id < 2000; id++) {
		e = ent(id, "faq", "#a", text);
		assert_int_equal(irc_journal_add(j, &e), ERR_OK);
		assert_int_equal(irc_journal_done(j, id), ERR_OK);
		if (file_size() > most)
			most = file_size();
	}
	assert_true(most <= IRC_JOURNAL_COMPACT_BYTES + 2 * (off_t)sizeof(text));
	assert_true(file_size() < IRC_JOURNAL_COMPACT_BYTES);
	irc_journal_free(j);
	j = open_ok(&st);
	assert_int_equal(st.pending, 1);
	assert_int_equal(irc_journal_next_id(j) >= 2, 1);
	irc_journal_free(j);
}

static void test_open_fails_clearly(void **state)
{
	struct irc_journal *j = (struct irc_journal *)1;
	char err[256] = "";

	(void)state;
	assert_int_equal(irc_journal_open("/nonexistent/folder", &j, NULL, err, sizeof(err)),
	                 ERR_IO);
	assert_null(j);
	assert_non_null(strstr(err, "irc: journal /nonexistent/folder/irc_journal"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_codec_roundtrip),
		cmocka_unit_test(test_codec_refuses),
		cmocka_unit_test(test_codec_catches_corruption),
		cmocka_unit_test_setup_teardown(test_file_lifecycle, setup, teardown),
		cmocka_unit_test_setup_teardown(test_corrupt_and_torn_lines, setup, teardown),
		cmocka_unit_test_setup_teardown(test_compaction, setup, teardown),
		cmocka_unit_test(test_open_fails_clearly),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
