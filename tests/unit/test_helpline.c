/* test_helpline.c -- the shape of every crisis number, and the shipped list:
 * every line has a source and a date, and the required lines are there. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "bot.h"
#include "faq.h"
#include "helpline.h"

static enum err chk(const char *region, const char *kind, const char *number,
		    const char *keyword, const char *text)
{
	char why[256];

	return helpline_check(region, kind, number, keyword, NULL, text, why, sizeof(why));
}

static void test_shapes(void **state)
{
	(void)state;
	assert_int_equal(chk("us", "phone", "988", NULL, "Call 988"), ERR_OK);
	assert_int_equal(chk("us", "sms", "741741", "HOME", "Text HOME to 741741"), ERR_OK);
	/* the typo that matters: a digit missing or extra */
	assert_int_equal(chk("us", "sms", "74174", "HOME", "Text HOME to 74174"), ERR_INVALID);
	assert_int_equal(chk("us", "sms", "7417411", "HOME", "Text HOME to 7417411"), ERR_INVALID);
	assert_int_equal(chk("us", "phone", "98", NULL, "Call 98"), ERR_INVALID);
	assert_int_equal(chk("us", "emergency", "911", NULL, "Call 911"), ERR_OK);
	assert_int_equal(chk("us", "emergency", "991", NULL, "Call 991"), ERR_INVALID);
	assert_int_equal(chk("ca", "phone", "9-8-8", NULL, "Call or text 9-8-8"), ERR_OK);
	assert_int_equal(chk("uk", "phone", "116 123", NULL, "Call 116 123"), ERR_OK);
	assert_int_equal(chk("uk", "phone", "116 12", NULL, "Call 116 12"), ERR_INVALID);
	assert_int_equal(chk("uk", "sms", "85258", "SHOUT", "Text SHOUT to 85258"), ERR_OK);
	assert_int_equal(chk("uk", "sms", "852580", "SHOUT", "Text SHOUT to 852580"), ERR_INVALID);
	assert_int_equal(chk("uk", "emergency", "999", NULL, "Call 999"), ERR_OK);
	assert_int_equal(chk("ie", "emergency", "112", NULL, "Call 112"), ERR_OK);
	assert_int_equal(chk("au", "phone", "13 11 14", NULL, "Call 13 11 14"), ERR_OK);
	assert_int_equal(chk("au", "phone", "13 11 4", NULL, "Call 13 11 4"), ERR_INVALID);
	assert_int_equal(chk("au", "emergency", "000", NULL, "Call 000"), ERR_OK);
	assert_int_equal(chk("nz", "phone", "1737", NULL, "Call or text 1737"), ERR_OK);
	assert_int_equal(chk("nz", "emergency", "111", NULL, "Call 111"), ERR_OK);
	assert_int_equal(chk("in", "phone", "14416", NULL, "Call 14416"), ERR_OK);
	assert_int_equal(chk("in", "phone", "1416", NULL, "Call 1416"), ERR_INVALID);
	assert_int_equal(chk("in", "emergency", "112", NULL, "Call 112"), ERR_OK);
	assert_int_equal(chk("za", "phone", "0800 567 567", NULL, "Call 0800 567 567"), ERR_OK);
	assert_int_equal(chk("za", "phone", "0800 567 56", NULL, "Call 0800 567 56"), ERR_INVALID);
	assert_int_equal(chk("za", "emergency", "10111", NULL, "Call 10111"), ERR_OK);
	assert_int_equal(chk("sg", "phone", "1767", NULL, "Call 1767"), ERR_OK);
	assert_int_equal(chk("sg", "phone", "176", NULL, "Call 176"), ERR_INVALID);
	assert_int_equal(chk("sg", "emergency", "995", NULL, "Call 995"), ERR_OK);
	assert_int_equal(chk("ph", "phone", "1553", NULL, "Call 1553"), ERR_OK);
	assert_int_equal(chk("ph", "phone", "0917 899 872", NULL, "Call 0917 899 872"), ERR_INVALID);
	assert_int_equal(chk("ph", "emergency", "911", NULL, "Call 911"), ERR_OK);
	/* letters in a number, a text that disagrees, a missing keyword */
	assert_int_equal(chk("us", "phone", "98B", NULL, "Call 98B"), ERR_INVALID);
	assert_int_equal(chk("uk", "phone", "116 123", NULL, "Call 116 132"), ERR_INVALID);
	assert_int_equal(chk("us", "sms", "741741", NULL, "Text 741741"), ERR_INVALID);
	assert_int_equal(chk("us", "sms", "741741", "HOME", "Text START to 741741"), ERR_INVALID);
	assert_int_equal(chk("us", "fax", "988", NULL, "988"), ERR_INVALID);
}

static void test_web(void **state)
{
	char why[256];

	(void)state;
	assert_int_equal(helpline_check("intl", "web", NULL, NULL, "https://findahelpline.com",
					"Visit findahelpline.com", why, sizeof(why)), ERR_OK);
	assert_int_equal(helpline_check("intl", "web", NULL, NULL, "http://findahelpline.com",
					"Visit findahelpline.com", why, sizeof(why)), ERR_INVALID);
	assert_int_equal(helpline_check("intl", "web", NULL, NULL, "https://findahelpline.com",
					"Visit a directory", why, sizeof(why)), ERR_INVALID);
}

/* The shipped faq/ lines: every one has a source and a verified date, and
 * each number the issue names is there, in the text a member reads. */
static void test_shipped_lines(void **state)
{
	static const struct { const char *region, *digits; } required[] = {
		{"us", "988"}, {"us", "741741"}, {"us", "911"}, {"ca", "988"}, {"ca", "911"},
		{"uk", "116123"}, {"uk", "85258"}, {"uk", "999"}, {"ie", "116123"}, {"ie", "112"},
		{"au", "131114"}, {"au", "000"}, {"nz", "1737"}, {"nz", "111"},
		{"in", "14416"}, {"in", "112"}, {"za", "0800567567"}, {"za", "10111"},
		{"sg", "1767"}, {"sg", "995"}, {"ph", "1553"}, {"ph", "911"},
	};
	struct faq_diags d = {0};
	struct faq *faq = NULL;
	size_t i, j;

	(void)state;
	assert_int_equal(faq_load("faq", &faq, &d), ERR_OK);
	assert_string_equal(faq->default_region, "us");
	for (i = 0; i < faq->nregions; i++)
		for (j = 0; j < faq->regions[i].nlines; j++) {
			const struct faq_helpline *h = &faq->regions[i].lines[j];

			assert_non_null(h->source);
			assert_true(strncmp(h->source, "https://", 8) == 0);
			assert_non_null(h->verified);
			assert_true(faq_date_ok(h->verified));
		}
	for (i = 0; i < sizeof(required) / sizeof(required[0]); i++) {
		const struct faq_region *r = faq_region(faq, required[i].region);
		int found = 0;

		assert_non_null(r);
		for (j = 0; j < r->nlines; j++) {
			char dig[32];
			size_t o = 0;
			const char *p;

			for (p = r->lines[j].number ? r->lines[j].number : ""; *p && o < 31; p++)
				if (*p >= '0' && *p <= '9')
					dig[o++] = *p;
			dig[o] = '\0';
			found |= strcmp(dig, required[i].digits) == 0;
		}
		if (!found)
			fail_msg("region %s lacks %s", required[i].region, required[i].digits);
	}
	{
		/* the default shows the USA lines and the international directory */
		char *s = helpline_render(faq, NULL);

		assert_non_null(s);
		assert_non_null(strstr(s, "988"));
		assert_non_null(strstr(s, "741741"));
		assert_non_null(strstr(s, "findahelpline.com"));
		assert_null(strstr(s, "116 123"));
		free(s);
		s = helpline_render(faq, "uk");
		assert_non_null(strstr(s, "116 123"));
		assert_non_null(strstr(s, "85258"));
		assert_non_null(strstr(s, "findahelpline.com"));
		free(s);
		assert_null(helpline_render(faq, "xx"));
	}
	faq_free(faq);
	faq_diags_release(&d);
}

/* Every crisis reply, in every region: the member reads each of that
 * region's lines, then the international directory, and nothing is left
 * of the placeholder. */
static void test_every_reply_every_region(void **state)
{
	struct faq_diags d = {0};
	struct faq *faq = NULL;
	const struct faq_region *intl;
	size_t i, j, k, ncrisis = 0;

	(void)state;
	assert_int_equal(faq_load("faq", &faq, &d), ERR_OK);
	intl = faq_region(faq, HELPLINE_INTL);
	assert_non_null(intl);
	assert_true(faq->nregions >= 11); /* us ca uk ie au nz in za sg ph intl */
	for (i = 0; i < faq->nentries; i++) {
		const struct faq_entry *e = &faq->entries[i];

		if (e->cls != FAQ_CLASS_CRISIS)
			continue;
		ncrisis++;
		for (j = 0; j < faq->nregions; j++) {
			const struct faq_region *r = &faq->regions[j];
			char *reply = bot_compose(faq, e, r->code);

			assert_non_null(reply);
			assert_null(strstr(reply, FAQ_LINES_PLACEHOLDER));
			for (k = 0; k < r->nlines; k++)
				if (!strstr(reply, r->lines[k].text))
					fail_msg("'%s' in region %s lacks '%s'", e->id, r->code,
						 r->lines[k].text);
			for (k = 0; k < intl->nlines; k++)
				assert_non_null(strstr(reply, intl->lines[k].text));
			free(reply);
		}
	}
	assert_true(ncrisis >= 5);
	faq_free(faq);
	faq_diags_release(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_shapes),
		cmocka_unit_test(test_web),
		cmocka_unit_test(test_shipped_lines),
		cmocka_unit_test(test_every_reply_every_region),
	};
	return cmocka_run_group_tests_name("helpline", tests, NULL, NULL);
}
