/* helpline.c -- crisis line shapes and rendering (see helpline.h). */
#include "helpline.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "faq.h"

/* Shapes are written in a tiny notation: 'D' any digit, 'N' a digit 2-9,
 * any other digit itself; alternatives separated by '|'. Spaces and dashes
 * in a number are ignored before it is compared. */
struct shape {
	const char *region, *kind, *shapes;
};

static const struct shape shapes[] = {
	/* North America: 911; 988 is the Suicide & Crisis Lifeline (call and
	 * text); other lines are ten-digit NANP numbers, with or without the 1.
	 * US text short codes are five or six digits in general, but every
	 * crisis short code in use (741741, Canada's 686868) has six: requiring
	 * six is what catches a dropped digit, the typo that matters. */
	{"us", "emergency", "911"},
	{"us", "phone", "988|NDDNDDDDDD|1NDDNDDDDDD"},
	{"us", "sms", "988|DDDDDD"},
	{"ca", "emergency", "911"},
	{"ca", "phone", "988|NDDNDDDDDD|1NDDNDDDDDD"},
	{"ca", "sms", "988|DDDDDD"},
	/* UK and Ireland: 116 xxx is the harmonised European range for services
	 * of social value (Samaritans 116 123); UK short codes have five digits
	 * (Shout 85258). */
	{"uk", "emergency", "999|112"},
	{"uk", "phone", "116DDD|0800DDDDDDD|0808DDDDDDD"},
	{"uk", "sms", "DDDDD"},
	{"ie", "emergency", "112|999"},
	{"ie", "phone", "116DDD|1800DDDDDD"},
	{"ie", "sms", "DDDDD"},
	/* Australia: 000; 13 xx xx six-digit and 1800 numbers. */
	{"au", "emergency", "000|112"},
	{"au", "phone", "13DDDD|1300DDDDDD|1800DDDDDD"},
	{"au", "sms", "0DDDDDDDDD|DDDDDD"},
	/* New Zealand: 111; 1737 and other four-digit free numbers. */
	{"nz", "emergency", "111"},
	{"nz", "phone", "1DDD|0800DDDDDD"},
	{"nz", "sms", "1DDD"},
	/* India: 112; Tele-MANAS's short code 14416 and its 1-800 number. */
	{"in", "emergency", "112"},
	{"in", "phone", "14416|1800DDDDDDD"},
	/* South Africa: 10111 (police), 112 from a mobile; toll-free 0800
	 * numbers have ten digits. */
	{"za", "emergency", "10111|112"},
	{"za", "phone", "0800DDDDDD"},
	/* Singapore: 995 (ambulance), 999 (police); 17xx helpline short codes,
	 * eight-digit numbers. */
	{"sg", "emergency", "995|999"},
	{"sg", "phone", "17DD|NDDDDDDD"},
	/* Philippines: 911; the NCMH short code 1553, mobile numbers 09xx xxx
	 * xxxx. */
	{"ph", "emergency", "911"},
	{"ph", "phone", "1553|09DDDDDDDDD"},
};

/* digits_of copies the digits of s into out (at most n-1), refusing any
 * character other than digits, spaces and dashes. */
static int digits_of(const char *s, char *out, size_t n, int strict)
{
	size_t o = 0;

	for (; *s; s++) {
		if (*s >= '0' && *s <= '9') {
			if (o + 1 >= n)
				return -1;
			out[o++] = *s;
		} else if (strict && *s != ' ' && *s != '-') {
			return -1;
		}
	}
	out[o] = '\0';
	return 0;
}

static int fits_one(const char *digits, const char *shape, size_t slen)
{
	size_t i;

	if (strlen(digits) != slen)
		return 0;
	for (i = 0; i < slen; i++) {
		char s = shape[i], c = digits[i];

		if (s == 'D')
			continue;
		if (s == 'N' && c >= '2' && c <= '9')
			continue;
		if (s != c)
			return 0;
	}
	return 1;
}

static int fits(const char *digits, const char *shapes_alt)
{
	const char *p = shapes_alt;

	while (*p) {
		const char *bar = strchr(p, '|');
		size_t n = bar ? (size_t)(bar - p) : strlen(p);

		if (fits_one(digits, p, n))
			return 1;
		p += n + (bar ? 1 : 0);
	}
	return 0;
}

enum err helpline_check(const char *region, const char *kind, const char *number,
			const char *keyword, const char *url, const char *text, char *why,
			size_t whylen)
{
	char nd[32], td[256];
	size_t i;

	if (strcmp(kind, "web") == 0) {
		const char *host;

		if (!url || strncmp(url, "https://", 8) != 0 || !url[8]) {
			snprintf(why, whylen, "a web line needs a 'url' starting with https://");
			return ERR_INVALID;
		}
		host = url + 8;
		if (text && !strstr(text, host)) {
			size_t hl = strcspn(host, "/");
			char h[256];

			snprintf(h, sizeof(h), "%.*s", (int)(hl < 255 ? hl : 255), host);
			if (!strstr(text, h)) {
				snprintf(why, whylen, "the text does not mention %s", h);
				return ERR_INVALID;
			}
		}
		return ERR_OK;
	}
	if (strcmp(kind, "emergency") && strcmp(kind, "phone") && strcmp(kind, "sms")) {
		snprintf(why, whylen, "kind must be emergency, phone, sms or web, not '%s'", kind);
		return ERR_INVALID;
	}
	if (!number) {
		snprintf(why, whylen, "a %s line needs a 'number'", kind);
		return ERR_INVALID;
	}
	if (digits_of(number, nd, sizeof(nd), 1) < 0 || !nd[0]) {
		snprintf(why, whylen, "number '%s' may hold only digits, spaces and dashes",
			 number);
		return ERR_INVALID;
	}
	for (i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++) {
		if (strcasecmp(shapes[i].region, region) || strcmp(shapes[i].kind, kind))
			continue;
		if (!fits(nd, shapes[i].shapes)) {
			snprintf(why, whylen,
				 "number '%s' does not have the shape of a %s %s number (%s, where "
				 "D is a digit): is a digit missing or extra?",
				 number, region, kind, shapes[i].shapes);
			return ERR_INVALID;
		}
		break;
	}
	if (i == sizeof(shapes) / sizeof(shapes[0]) && (strlen(nd) < 3 || strlen(nd) > 15)) {
		snprintf(why, whylen, "number '%s' should have 3 to 15 digits", number);
		return ERR_INVALID;
	}
	if (strcmp(kind, "sms") == 0) {
		if (!keyword) {
			snprintf(why, whylen, "a text (sms) line needs the 'keyword' to send");
			return ERR_INVALID;
		}
		if (text && !strstr(text, keyword)) {
			snprintf(why, whylen, "the text does not show the keyword '%s'", keyword);
			return ERR_INVALID;
		}
	}
	/* The text a member reads must carry the same number. */
	if (text) {
		digits_of(text, td, sizeof(td), 0);
		if (!strstr(td, nd)) {
			snprintf(why, whylen,
				 "the text does not show the number %s: one of the "
				 "two has a typo",
				 number);
			return ERR_INVALID;
		}
	}
	return ERR_OK;
}

char *helpline_render(const struct faq *faq, const char *region)
{
	const struct faq_region *r = faq_region(faq, region), *intl;
	struct buf b;
	size_t i;

	if (!r)
		return NULL;
	buf_init(&b, HELPLINE_RENDER_MAX);
	intl = faq_region(faq, HELPLINE_INTL);
	for (i = 0; i < r->nlines; i++)
		if (r->lines[i].text)
			buf_printf(&b, "%s- %s", b.len ? "\n" : "", r->lines[i].text);
	if (intl && intl != r)
		for (i = 0; i < intl->nlines; i++)
			if (intl->lines[i].text)
				buf_printf(&b, "%s- %s", b.len ? "\n" : "", intl->lines[i].text);
	return buf_detach(&b);
}
