/* err.c -- names for enum err, and the error line formatter (see err.h). */
#include "err.h"

#include <stdarg.h>
#include <stdio.h>

const char *err_str(enum err e)
{
	switch (e) {
	case ERR_OK:
		return "ok";
	case ERR_NOMEM:
		return "out of memory";
	case ERR_IO:
		return "i/o error";
	case ERR_PARSE:
		return "parse error";
	case ERR_INVALID:
		return "invalid value";
	case ERR_LIMIT:
		return "limit exceeded";
	case ERR_NOTFOUND:
		return "not found";
	}
	return "unknown error";
}

void err_printf(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (!buf || !len)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, len, fmt, ap);
	va_end(ap);
}
