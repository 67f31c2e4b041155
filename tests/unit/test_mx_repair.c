/* test_mx_repair.c -- the raw bytes of a Matrix body: the repair pass
 * (lone surrogates, NULs in keys, numbers past 64 bits, nesting past the
 * limit rewritten in place, byte for byte, so jansson reads what a member
 * wrote) and the next_batch scan of a body that is not JSON even so. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mx_json.h"
#include "mx_nest.h"
#include "mx_repair.h"

/* repair runs mx_json_repair on a C string and returns the text jansson
 * will read (a copy the caller frees; "=" + the input when unchanged). */
static char *repair(const char *in, struct mx_repair *r)
{
	char *out = NULL, *ret;
	size_t n = strlen(in);

	assert_int_equal(mx_json_repair(in, n, &out, r), ERR_OK);
	if (!out) {
		ret = malloc(n + 2);
		assert_non_null(ret);
		ret[0] = '=';
		memcpy(ret + 1, in, n + 1);
		return ret;
	}
	assert_int_equal(strlen(out), n); /* no byte moved */
	return out;
}

/* loads: the text parses with jansson as the bot parses it */
static int loads(const char *text)
{
	json_t *j = json_loadb(text, strlen(text), JSON_ALLOW_NUL, NULL);
	int ok = j != NULL;

	json_decref(j);
	return ok;
}

static void test_repair_strings(void **st)
{
	static const struct {
		const char *in, *want; /* want "=..." : left as it is */
		size_t sur, keys, bytes;
	} cases[] = {
	    {"[\"\\ud800\"]", "[\"\\ufffd\"]", 1, 0, 0},
	    {"[\"\\uD800\"]", "[\"\\ufffd\"]", 1, 0, 0},
	    {"[\"a\\udc00b\"]", "[\"a\\ufffdb\"]", 1, 0, 0},
	    {"[\"\\ud800\\u0041\"]", "[\"\\ufffd\\u0041\"]", 1, 0, 0},
	    {"[\"\\ud800\\ud800\\udc00\"]", "[\"\\ufffd\\ud800\\udc00\"]", 1, 0, 0},
	    {"[\"\\udc00\\ud800\"]", "[\"\\ufffd\\ufffd\"]", 2, 0, 0},
	    {"[\"\\ud83d\\ude00\"]", "=[\"\\ud83d\\ude00\"]", 0, 0, 0},
	    /* an escaped backslash, then text: not an escape at all */
	    {"[\"\\\\ud800\"]", "=[\"\\\\ud800\"]", 0, 0, 0},
	    /* an escaped backslash, then a real escape */
	    {"[\"\\\\\\ud800\"]", "[\"\\\\\\ufffd\"]", 1, 0, 0},
	    /* an escaped quote does not end the string */
	    {"[\"\\\"\\ud800\"]", "[\"\\\"\\ufffd\"]", 1, 0, 0},
	    /* \u0000: kept in a value (JSON_ALLOW_NUL), not in a key */
	    {"{\"a\":\"x\\u0000y\"}", "={\"a\":\"x\\u0000y\"}", 0, 0, 0},
	    {"{\"a\\u0000\":1}", "{\"a\\ufffd\":1}", 0, 1, 0},
	    {"{\"\\u0000\\u0000\" \n :1}", "{\"\\ufffd\\ufffd\" \n :1}", 0, 2, 0},
	    {"{\"\\\\u0000\":1}", "={\"\\\\u0000\":1}", 0, 0, 0},
	    {"[\"\\u0000\",\"\\u0000\"]", "=[\"\\u0000\",\"\\u0000\"]", 0, 0, 0},
	    /* bytes that are not UTF-8, raw control characters */
	    {"[\"\xff\"]", "[\"?\"]", 0, 0, 1},
	    {"[\"\xc0\x80\"]", "[\"??\"]", 0, 0, 2},
	    {"[\"\xed\xa0\x80\"]", "[\"???\"]", 0, 0, 3},
	    {"[\"\xf4\x90\x80\x80\"]", "[\"????\"]", 0, 0, 4},
	    {"[\"\xe2\x82\"]", "[\"??\"]", 0, 0, 2},
	    {"[\"caf\xc3\xa9 \xf0\x9f\x98\x80\"]", "=[\"caf\xc3\xa9 \xf0\x9f\x98\x80\"]", 0, 0, 0},
	    {"[\"a\tb\x01\"]", "[\"a b \"]", 0, 0, 2},
	    /* outside strings nothing changes: what is not JSON stays so */
	    {"\xff[\"\\ud800\"", "\xff[\"\\ufffd\"", 1, 0, 0},
	    {"[\\ud800]", "=[\\ud800]", 0, 0, 0},
	    /* cut inside an escape */
	    {"[\"\\ud8", "=[\"\\ud8", 0, 0, 0},
	    {"[\"\\", "=[\"\\", 0, 0, 0},
	};
	struct mx_repair r;
	char *out;
	size_t i;

	(void)st;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		out = repair(cases[i].in, &r);
		assert_string_equal(out, cases[i].want);
		assert_int_equal(r.surrogates, cases[i].sur);
		assert_int_equal(r.key_nuls, cases[i].keys);
		assert_int_equal(r.bad_bytes, cases[i].bytes);
		assert_int_equal(r.numbers + r.deep, 0);
		/* what was rewritten now parses, unless it was cut or not JSON */
		if (out[0] != '=' && out[0] != '\xff' && out[strlen(out) - 1] != '"')
			assert_true(loads(out));
		free(out);
	}
}

static void test_repair_numbers(void **st)
{
	static const struct {
		const char *in, *want;
	} cases[] = {
	    {"[9223372036854775807,-9223372036854775808]",
	     "=[9223372036854775807,-9223372036854775808]"},
	    {"[9223372036854775808]", "[null               ]"},
	    {"[-9223372036854775809]", "[null                ]"},
	    {"[99999999999999999999999]", "[null                   ]"},
	    {"[1e999]", "[null ]"},
	    {"[-1E+400]", "[null   ]"},
	    {"[1e308]", "[null ]"},
	    {"[0.00001e313]", "[null       ]"},
	    {"[1.7e307,0.00001e312,1e-999,0.0e999,0]", "=[1.7e307,0.00001e312,1e-999,0.0e999,0]"},
	    {"{\"ts\":100000000000000000000000000000,\"n\":1}",
	     "{\"ts\":null                          ,\"n\":1}"},
	    /* in a string it is text */
	    {"[\"99999999999999999999\"]", "=[\"99999999999999999999\"]"},
	    /* not numbers: left for jansson to refuse */
	    {"[01,-,1.,1e,--1]", "=[01,-,1.,1e,--1]"},
	};
	struct mx_repair r;
	char *out;
	size_t i;

	(void)st;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		out = repair(cases[i].in, &r);
		assert_string_equal(out, cases[i].want);
		if (out[0] != '=')
			assert_true(loads(out));
		assert_int_equal(r.numbers, out[0] == '=' ? 0 : 1);
		free(out);
	}
}

static void test_repair_depth(void **st)
{
	struct mx_repair r;
	char *in, *out;
	size_t i;

	(void)st;
	/* up to the limit, kept */
	in = nest("", MX_JSON_DEPTH_MAX, "");
	out = repair(in, &r);
	assert_int_equal(out[0], '=');
	assert_int_equal(r.deep, 0);
	free(out);
	free(in);
	/* one more: the innermost becomes 0 */
	in = nest("", MX_JSON_DEPTH_MAX + 1, "");
	out = repair(in, &r);
	assert_int_equal(r.deep, 1);
	assert_int_equal(out[MX_JSON_DEPTH_MAX], '0');
	assert_int_equal(out[MX_JSON_DEPTH_MAX + 1], ' ');
	assert_true(loads(out));
	free(out);
	free(in);
	/* 10000 deep, twice, with strings holding brackets, beside a value
	 * that stays */
	in = nest("{\"a\":[\"]]\",", 10000, ",1],\"b\":\"[[\",\"c\":");
	out = malloc(strlen(in) + 64);
	assert_non_null(out);
	snprintf(out, strlen(in) + 64, "%s%s", in, "[[]]}");
	free(in);
	in = out;
	out = repair(in, &r);
	assert_int_equal(r.deep, 1);
	assert_true(loads(out));
	assert_non_null(strstr(out, "\"b\":\"[[\",\"c\":[[]]}"));
	free(out);
	/* cut before it closes: left alone (jansson refuses it, and the
	 * caller falls back to mx_next_batch_scan) */
	in[strlen(in) / 2] = '\0';
	out = repair(in, &r);
	assert_int_equal(out[0], '=');
	assert_int_equal(r.deep, 0);
	free(out);
	free(in);
	/* every prefix of a hostile mix: no crash, length kept */
	in = nest("{\"k\\u0000\":\"\\ud800\xff\",\"n\":1e999,\"d\":", 80, "}");
	for (i = 0; i <= strlen(in); i++) {
		char *o = NULL;

		assert_int_equal(mx_json_repair(in, i, &o, NULL), ERR_OK);
		if (o)
			assert_int_equal(strlen(o), i);
		free(o);
	}
	out = repair(in, &r);
	assert_true(loads(out));
	assert_int_equal(r.key_nuls + r.surrogates + r.bad_bytes + r.numbers + r.deep, 5);
	free(out);
	free(in);
}

static void test_next_batch_scan(void **st)
{
	static const struct {
		const char *in, *want; /* want NULL: ERR_PARSE */
	} cases[] = {
	    {"{\"next_batch\":\"s1\"}", "s1"},
	    {" \n{ \"next_batch\" : \"s1\" }", "s1"},
	    /* nested ones are not the top level's */
	    {"{\"rooms\":{\"next_batch\":\"x\"},\"next_batch\":\"s2\"}", "s2"},
	    {"{\"rooms\":{\"next_batch\":\"x\"}}", NULL},
	    {"{\"a\":[{\"next_batch\":\"x\"}]}", NULL},
	    /* cut after it, or garbage around it */
	    {"{\"next_batch\":\"s3\",\"rooms\":{\"join\":{\"!r:x\":{\"timeline\":", "s3"},
	    {"{\"rooms\":{\"join\":[1,,2] junk \xff},\"next_batch\":\"s4\"}", "s4"},
	    {"{\"rooms\":[1,,2], junk, \"next_batch\":\"s4\"", "s4"},
	    /* inside a string it is text */
	    {"{\"a\":\"\\\"next_batch\\\":\\\"evil\\\"\",\"next_batch\":\"s5\"}", "s5"},
	    {"{\"a\":\"\\\"next_batch\\\":\\\"evil\\\"\"}", NULL},
	    {"{\"a\":\"next_batch\",\"b\":1}", NULL},
	    {"{\"a\":\"next_batch\":\"evil\"}", NULL},
	    /* escapes, in the key and in the value */
	    {"{\"next\\u005fbatch\":\"s6\"}", "s6"},
	    {"{\"next_batch\":\"a\\/b\\u0041\"}", "a/bA"},
	    {"{\"next_batch\":\"\\ud800x\"}", "\xef\xbf\xbdx"},
	    {"{\"next_batch\":\"\\ud83d\\ude00\"}", "\xf0\x9f\x98\x80"},
	    /* not usable */
	    {"{\"next_batch\":\"\"}", NULL},
	    {"{\"next_batch\":\"a\\u0000\"}", NULL},
	    {"{\"next_batch\":\"a\\nb\"}", NULL},
	    {"{\"next_batch\":\"a\\qb\"}", NULL},
	    {"{\"next_batch\":5}", NULL},
	    {"{\"next_batch\":\"s7", NULL},
	    {"{\"next_batch\"", NULL},
	    /* the last one counts, as in a parser */
	    {"{\"next_batch\":\"a\",\"next_batch\":\"b\"}", "b"},
	    {"{\"next_batch\":\"a\",\"next_batch\":[\"b\"]}", NULL},
	    /* not an object at the top */
	    {"[\"next_batch\",\"x\"]", NULL},
	    {"\"next_batch\":\"x\"", NULL},
	    {"", NULL},
	    {"<html>502</html>", NULL},
	    /* after the top object closes, nothing counts */
	    {"{}{\"next_batch\":\"x\"}", NULL},
	};
	char buf[MX_NEXT_BATCH_MAX + 1], *big;
	size_t i, n;

	(void)st;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		n = strlen(cases[i].in);
		if (!cases[i].want) {
			assert_int_equal(mx_next_batch_scan(cases[i].in, n, buf, sizeof(buf)),
			                 ERR_PARSE);
			continue;
		}
		assert_int_equal(mx_next_batch_scan(cases[i].in, n, buf, sizeof(buf)), ERR_OK);
		assert_string_equal(buf, cases[i].want);
	}
	assert_int_equal(mx_next_batch_scan("{\"next_batch\":\"abcdef\"}", 23, buf, 4),
	                 ERR_LIMIT);
	/* the longest usable one, and one byte more */
	big = malloc(MX_NEXT_BATCH_MAX + 64);
	assert_non_null(big);
	for (n = MX_NEXT_BATCH_MAX; n <= MX_NEXT_BATCH_MAX + 1; n++) {
		memcpy(big, "{\"next_batch\":\"", 15);
		memset(big + 15, 'x', n);
		memcpy(big + 15 + n, "\"}", 3);
		assert_int_equal(mx_next_batch_scan(big, strlen(big), buf, sizeof(buf)),
		                 n == MX_NEXT_BATCH_MAX ? ERR_OK : ERR_PARSE);
	}
	free(big);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_repair_strings),
	    cmocka_unit_test(test_repair_numbers),
	    cmocka_unit_test(test_repair_depth),
	    cmocka_unit_test(test_next_batch_scan),
	};

	return cmocka_run_group_tests_name("mx_repair", tests, NULL, NULL);
}
