/* helpline.h -- crisis lines: what a valid number looks like, and how the
 * lines of a region are shown to a member.
 *
 * A wrong digit in a crisis line is the worst typo this project can ship, so
 * every number is checked against the shape of its kind in its region, and
 * against the text the member reads (a number and a text that disagree are
 * refused too). */
#ifndef FAQBOT_HELPLINE_H
#define FAQBOT_HELPLINE_H

#include <stddef.h>

#include "err.h"

struct faq;

/* The region whose lines follow every region's own (findahelpline.com). */
#define HELPLINE_INTL "intl"

/* The rendered lines of a region and the international ones: far more
 * than any FAQ holds (a region has a handful), a ceiling all the same. */
#define HELPLINE_RENDER_MAX (256u << 10)

/* helpline_check validates one line. kind is emergency, phone, sms or web;
 * number is needed for all but web, url for web, keyword for sms. On error,
 * why says what to fix. */
enum err helpline_check(const char *region, const char *kind, const char *number,
			const char *keyword, const char *url, const char *text, char *why,
			size_t whylen);

/* helpline_render returns a new string with the lines of region (NULL: the
 * default region) followed by the international ones, one "- text" a line.
 * Returns NULL when the region is unknown, memory ran out, or the text
 * would pass HELPLINE_RENDER_MAX. */
char *helpline_render(const struct faq *faq, const char *region);

#endif
