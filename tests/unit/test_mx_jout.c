/* test_mx_jout.c -- mx_jout_dumps writes what json_dumps(JSON_COMPACT)
 * writes, byte for byte: the bodies the bot sends, every byte value in a
 * string (control characters, quotes, backslashes, UTF-8 of every length,
 * a NUL inside a string), nesting, integers at their limits, and random
 * trees; a real goes to json_dumps itself; a tree too deep is refused.
 * mx_jout_utf8_ok accepts what json_stringn accepts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mx_body.h"
#include "mx_jout.h"

static void same(const json_t *j)
{
	char *want = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY), *got = NULL;

	assert_non_null(want);
	assert_int_equal(mx_jout_dumps(j, &got), ERR_OK);
	assert_string_equal(got, want);
	free(want);
	free(got);
}

static void test_bytes(void **st)
{
	char s[300];
	json_t *o;
	int c;

	(void)st;
	for (c = 1; c < 0x80; c++) { /* every ASCII byte, alone and in a run */
		snprintf(s, sizeof(s), "a%cb%c%c", c, c, c);
		o = json_pack("{s:s, s:s}", s, s, "k", s);
		same(o);
		json_decref(o);
	}
	o = json_pack("{s:s}", "utf8", "\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xe2\x80\xa8 /</");
	same(o);
	json_decref(o);
	o = json_stringn("a\0b\x01\x1f\x7f", 6); /* a NUL inside: its length, not strlen */
	same(o);
	json_decref(o);
}

static void test_shapes(void **st)
{
	json_t *o;

	(void)st;
	o = json_pack("{s:[i,I,I,b,b,n,{},[]], s:{s:{s:[s]}}}", "a", 0, (json_int_t)INT64_MAX,
		      (json_int_t)INT64_MIN, 1, 0, "b", "c", "d", "e");
	same(o);
	json_decref(o);
	o = json_pack("{s:f, s:s}", "real", 0.1, "s", "x"); /* json_dumps's own */
	same(o);
	json_decref(o);
}

static void test_bodies(void **st)
{
	struct mx_reply r;
	char *a = NULL, *b = NULL;
	json_t *j;

	(void)st;
	memset(&r, 0, sizeof(r));
	r.text = "**TMS** is \"transcranial\" <magnetic> stimulation:\n- one\n- two\\ & more";
	r.in_reply_to = "$ev:x.org";
	r.mention = "@ann:x.org";
	assert_int_equal(mx_reply_json(&r, &a), ERR_OK);
	j = json_loads(a, 0, NULL); /* what it wrote reads back, and writes the same */
	assert_non_null(j);
	assert_int_equal(mx_jout_dumps(j, &b), ERR_OK);
	assert_string_equal(a, b);
	same(j);
	json_decref(j);
	free(a);
	free(b);
}

static void test_random(void **st)
{
	unsigned seed = 12345;
	char s[64];
	json_t *o, *arr;
	int i, k, n;

	(void)st;
	for (i = 0; i < 300; i++) {
		o = json_object();
		arr = json_array();
		for (k = 0; k < 8; k++) {
			n = (int)((seed = seed * 1103515245u + 12345u) >> 16) % 40;
			for (int x = 0; x < n; x++) {
				seed = seed * 1103515245u + 12345u;
				s[x] = (char)(1 + (seed >> 16) % 0x7f);
			}
			s[n] = '\0';
			json_object_set_new(o, s, json_string(s));
			json_array_append_new(arr, json_integer((json_int_t)seed - 70000));
		}
		json_object_set_new(o, "arr", arr);
		same(o);
		json_decref(o);
	}
}

static void test_too_deep(void **st)
{
	json_t *o = json_array(), *inner = o;
	char *out = (char *)1;
	int i;

	(void)st;
	for (i = 0; i < 100; i++) {
		json_t *n = json_array();

		json_array_append_new(inner, n);
		inner = n;
	}
	assert_int_equal(mx_jout_dumps(o, &out), ERR_INVALID);
	assert_null(out);
	assert_int_equal(mx_jout_dumps(NULL, &out), ERR_INVALID);
	json_decref(o);
}

/* mx_jout_utf8_ok accepts exactly what json_stringn does: every one- and
 * two-byte string, every lead byte with every continuation, and random
 * byte strings biased to UTF-8's edges (overlong, surrogates, past
 * U+10FFFF, cut short) */
static int jansson_ok(const char *s, size_t n)
{
	json_t *j = json_stringn(s, n);

	json_decref(j);
	return j != NULL;
}

static void test_utf8(void **st)
{
	static const unsigned char edge[] = {0x00, 0x41, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0,
					     0xbf, 0xc0, 0xc1, 0xc2, 0xdf, 0xe0, 0xed, 0xef,
					     0xf0, 0xf4, 0xf5, 0xff};
	unsigned seed = 777;
	char s[16];
	unsigned a, b, c, d;
	int i, n, x;

	(void)st;
	for (a = 0; a < 256; a++) {
		s[0] = (char)a;
		assert_int_equal(mx_jout_utf8_ok(s, 1), jansson_ok(s, 1));
		for (b = 0; b < 256; b++) {
			s[1] = (char)b;
			assert_int_equal(mx_jout_utf8_ok(s, 2), jansson_ok(s, 2));
		}
	}
	for (a = 0xe0; a < 256; a++)
		for (b = 0; b < sizeof(edge); b++)
			for (c = 0; c < sizeof(edge); c++)
				for (d = 0; d < sizeof(edge); d++) {
					s[0] = (char)a;
					s[1] = (char)edge[b];
					s[2] = (char)edge[c];
					s[3] = (char)edge[d];
					assert_int_equal(mx_jout_utf8_ok(s, 3), jansson_ok(s, 3));
					assert_int_equal(mx_jout_utf8_ok(s, 4), jansson_ok(s, 4));
				}
	for (i = 0; i < 20000; i++) {
		n = (int)((seed = seed * 1103515245u + 12345u) >> 16) % 12;
		for (x = 0; x < n; x++) {
			seed = seed * 1103515245u + 12345u;
			s[x] = (char)((seed >> 20) & 1 ? edge[(seed >> 16) % sizeof(edge)]
						       : (seed >> 8) & 0xff);
		}
		assert_int_equal(mx_jout_utf8_ok(s, (size_t)n), jansson_ok(s, (size_t)n));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bytes),    cmocka_unit_test(test_shapes),
		cmocka_unit_test(test_bodies),   cmocka_unit_test(test_random),
		cmocka_unit_test(test_too_deep), cmocka_unit_test(test_utf8),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
