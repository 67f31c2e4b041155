/* test_buf.c -- the one string builder: its ceiling fails the buffer once
 * and for all (buf_take says whether memory or the ceiling), or, made with
 * buf_init_cut, cuts the text at a UTF-8 boundary and drops what follows. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "buf.h"

static void test_ceiling_fails(void **st)
{
	struct buf b;
	char *out = NULL;

	(void)st;
	buf_init(&b, 8);
	buf_puts(&b, "1234");
	buf_printf(&b, "%d", 5678);
	assert_int_equal(b.len, 8);
	assert_false(b.failed);
	buf_puts(&b, "9"); /* one past */
	assert_true(b.failed);
	assert_false(b.nomem);
	buf_puts(&b, ""); /* dropped like any other */
	assert_int_equal(buf_take(&b, &out), ERR_LIMIT);
	assert_null(out);
	/* a fresh buffer: the text, then nothing left in b */
	buf_init(&b, 8);
	buf_printf(&b, "%s-%s", "ab", "cd");
	assert_int_equal(buf_take(&b, &out), ERR_OK);
	assert_string_equal(out, "ab-cd");
	assert_null(b.s);
	free(out);
	/* a big printf goes through the heap path */
	buf_init(&b, 4096);
	buf_printf(&b, "%0300d|", 7);
	assert_int_equal(b.len, 301);
	out = buf_detach(&b);
	assert_int_equal(out[300], '|');
	free(out);
}

static void test_cut(void **st)
{
	struct buf b;
	char *out;

	(void)st;
	buf_init_cut(&b, 6);
	buf_puts(&b, "abc");
	buf_puts(&b, "d\xc3\xa9\xc3\xa9"); /* "dé" fits (6), the next é does not */
	buf_puts(&b, "x");                  /* after a cut: dropped, not appended */
	assert_false(b.failed);
	assert_true(b.cut);
	out = buf_detach(&b);
	assert_string_equal(out, "abcd\xc3\xa9");
	free(out);
	/* a cut that would split the first sequence keeps nothing of it */
	buf_init_cut(&b, 4);
	buf_puts(&b, "abc\xe2\x82\xac");
	out = buf_detach(&b);
	assert_string_equal(out, "abc");
	free(out);
	/* nothing appended: "" (and buf_release of it is harmless) */
	buf_init_cut(&b, 4);
	out = buf_detach(&b);
	assert_string_equal(out, "");
	free(out);
	buf_release(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ceiling_fails),
	    cmocka_unit_test(test_cut),
	};

	return cmocka_run_group_tests_name("buf", tests, NULL, NULL);
}
