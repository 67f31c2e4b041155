/* log.c -- see log.h. Standard error, one line an event, UTC time stamps. */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <time.h>

static enum log_level log_min = LOG_INFO;
static int log_with_text;

void log_set_level(enum log_level min)
{
	log_min = min;
}
void log_set_text(int on)
{
	log_with_text = on;
}

const char *log_text(const char *text)
{
	return log_with_text && text ? text : "[message text hidden]";
}

void log_msg(enum log_level lvl, const char *fmt, ...)
{
	static const char *const names[] = {"debug", "info", "warn", "error"};
	char stamp[32] = "";
	struct tm tm;
	time_t now;
	va_list ap;

	if (lvl < log_min)
		return;
	now = time(NULL);
	if (gmtime_r(&now, &tm))
		strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", &tm);
	fprintf(stderr, "%s %s ", stamp, names[lvl]);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}
