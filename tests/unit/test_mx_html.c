/* test_mx_html.c -- the HTML inside what the bot sends: escaping, plain
 * text as paragraphs, the pill, percent-encoding, request paths, and the
 * ceiling of the buffer they append to showing once, as ERR_LIMIT. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "buf.h"
#include "mx_html.h"
#include "mx_repair.h"

static void test_html_escape(void **st)
{
	char *out = NULL;

	(void)st;
	assert_int_equal(mx_html_escape("<a href=\"x\">'&'</a>", &out), ERR_OK);
	assert_string_equal(out, "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
	free(out);
	assert_int_equal(mx_html_escape(NULL, &out), ERR_OK);
	assert_string_equal(out, "");
	free(out);
}

static void test_url_escape_and_link(void **st)
{
	char *out = NULL;

	(void)st;
	assert_int_equal(mx_url_escape("!r:x/y?z#$ é", &out), ERR_OK);
	assert_string_equal(out, "%21r%3Ax%2Fy%3Fz%23%24%20%C3%A9");
	free(out);
	assert_int_equal(mx_matrix_to_link("!r:hs.test", "$ev/1", "hs.test", &out),
	                 ERR_OK);
	assert_string_equal(out, "https://matrix.to/#/%21r%3Ahs.test/%24ev%2F1?via=hs.test");
	free(out);
}

/* text renders text with lead and checks the result */
static void text(const char *in, const char *lead, const char *want)
{
	struct buf b;
	char *out = NULL;

	buf_init(&b, MX_HTML_MAX);
	mx_html_text(&b, in, lead);
	assert_int_equal(buf_take(&b, &out), ERR_OK);
	assert_string_equal(out, want);
	free(out);
}

static void test_text(void **st)
{
	(void)st;
	text("", NULL, "");
	text("a", NULL, "<p>a</p>");
	text("a\nb", NULL, "<p>a<br>b</p>");
	text("a\r\n\r\nb", NULL, "<p>a</p><p>b</p>");
	text("a\n \t\n\nb\n", NULL, "<p>a</p><p>b</p>");
	text("<x> & 'y' \"z\"", NULL, "<p>&lt;x&gt; &amp; &#39;y&#39; &quot;z&quot;</p>");
	/* the lead opens the first paragraph, or stands alone */
	text("\n\nhi\n\nthere", "<b>L</b>", "<p><b>L</b>hi</p><p>there</p>");
	text("", "<b>L</b>", "<p><b>L</b></p>");
}

static void test_pill_url(void **st)
{
	struct buf b;
	char *out = NULL;

	(void)st;
	buf_init(&b, MX_HTML_MAX);
	mx_html_pill(&b, "@a&b:x.org");
	assert_int_equal(buf_take(&b, &out), ERR_OK);
	assert_string_equal(out, "<a href=\"https://matrix.to/#/%40a%26b%3Ax.org\">"
	                         "@a&amp;b:x.org</a>: ");
	free(out);
	assert_int_equal(mx_url_escape("a b/~é", &out), ERR_OK);
	assert_string_equal(out, "a%20b%2F~%C3%A9");
	free(out);
	assert_int_equal(mx_html_escape(NULL, &out), ERR_OK);
	assert_string_equal(out, "");
	free(out);
	assert_int_equal(mx_matrix_to_link("!r:x", "$e", "x.org", &out), ERR_OK);
	assert_string_equal(out, "https://matrix.to/#/%21r%3Ax/%24e?via=x.org");
	free(out);
	assert_int_equal(mx_matrix_to_link(NULL, "$e", NULL, &out), ERR_INVALID);
	assert_null(out);
}

/* the ceiling: an append past it fails the buffer, every later append is
 * dropped, and buf_take says ERR_LIMIT with nothing handed over */
static void test_ceiling(void **st)
{
	struct buf b;
	char *out = (char *)"x", *big;

	(void)st;
	buf_init(&b, 10);
	mx_html_put(&b, "<<<", 3); /* 12 bytes escaped */
	mx_html_put(&b, "a", 1);
	assert_int_equal(buf_take(&b, &out), ERR_LIMIT);
	assert_null(out);
	/* a pill whose link passes its own ceiling fails the reply's buffer */
	big = malloc(2000);
	memset(big, 'a', 1999);
	big[0] = '@';
	big[1999] = '\0';
	buf_init(&b, MX_HTML_MAX);
	mx_html_pill(&b, big);
	assert_int_equal(buf_take(&b, &out), ERR_LIMIT);
	free(big);
	/* a buffer never appended to gives "" */
	buf_init(&b, 4);
	assert_int_equal(buf_take(&b, &out), ERR_OK);
	assert_string_equal(out, "");
	free(out);
}

/* mx_path: every %s is one escaped part, so an id cannot add a segment or
 * a query key; %ld is a number; the length is the caller's buffer */
static void test_path(void **st)
{
	char p[64];

	(void)st;
	assert_int_equal(mx_path(p, sizeof(p), "/rooms/%s/send/m.room.message/%s", "!a/b:x",
	                         "fb-$e"),
	                 ERR_OK);
	assert_string_equal(p, "/rooms/%21a%2Fb%3Ax/send/m.room.message/fb-%24e");
	assert_int_equal(mx_path(p, sizeof(p), "/sync?since=%s&timeout=%ld", "s1&set=x", 30000L),
	                 ERR_OK);
	assert_string_equal(p, "/sync?since=s1%26set%3Dx&timeout=30000");
	assert_int_equal(mx_path(p, sizeof(p), "/a%b%%"), ERR_OK);
	assert_string_equal(p, "/a%b%%");
	/* exactly full fits; one byte more does not */
	assert_int_equal(mx_path(p, 4, "/%s", "ab"), ERR_OK);
	assert_string_equal(p, "/ab");
	assert_int_equal(mx_path(p, 4, "/%s", "abc"), ERR_LIMIT);
	assert_int_equal(mx_path(p, 4, "/%s", "a b"), ERR_LIMIT);
}

static void test_next_batch_usable(void **st)
{
	char *big = malloc(MX_NEXT_BATCH_MAX + 1);

	(void)st;
	assert_true(mx_next_batch_usable("s72_1", 5));
	assert_false(mx_next_batch_usable("", 0));
	assert_false(mx_next_batch_usable("a\nb", 3));
	assert_false(mx_next_batch_usable("a\x7f", 2));
	memset(big, 'x', MX_NEXT_BATCH_MAX + 1);
	assert_true(mx_next_batch_usable(big, MX_NEXT_BATCH_MAX));
	assert_false(mx_next_batch_usable(big, MX_NEXT_BATCH_MAX + 1));
	free(big);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_html_escape),
	    cmocka_unit_test(test_url_escape_and_link),
	    cmocka_unit_test(test_text),
	    cmocka_unit_test(test_pill_url),
	    cmocka_unit_test(test_ceiling),
	    cmocka_unit_test(test_path),
	    cmocka_unit_test(test_next_batch_usable),
	};

	return cmocka_run_group_tests_name("mx_html", tests, NULL, NULL);
}
