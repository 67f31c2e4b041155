/* err.h -- the one error idiom of faqbot.
 *
 * Every fallible function returns an enum err. ERR_OK is zero, so
 * "if (e != ERR_OK) goto out;" reads naturally. Text meant for a person
 * (which file, which line, what to fix) goes into a caller's buffer or an
 * object's errstr; the enum only says what kind of failure it was. */
#ifndef FAQBOT_ERR_H
#define FAQBOT_ERR_H

#include <stddef.h>

enum err {
	ERR_OK = 0,
	ERR_NOMEM,   /* allocation failed */
	ERR_IO,      /* a file or socket could not be read or written */
	ERR_PARSE,   /* input was not well-formed (YAML, JSON, IRC line...) */
	ERR_INVALID, /* well-formed, but a value is wrong (bad id, bad date...) */
	ERR_LIMIT,   /* a named limit was hit (size, PCRE2 match limit...) */
	ERR_NOTFOUND /* a looked-up thing does not exist */
};

/* err_str returns a static, lower-case name for e ("parse error"). */
const char *err_str(enum err e);

/* err_printf formats one line for a person into a caller's buffer (every
 * _new's errbuf): vsnprintf, cut to len. A NULL buf or a zero len is
 * allowed and writes nothing, since the buffer is optional in those APIs. */
void err_printf(char *buf, size_t len, const char *fmt, ...)
#if defined(__GNUC__)
	__attribute__((format(printf, 3, 4)))
#endif
	;

#endif
