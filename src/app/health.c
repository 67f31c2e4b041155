/* health.c -- the mark a running transport leaves after each completed
 * sync, and the probe that reads it (see health.h).
 *
 * The mark is the unix time in decimal and a newline ("1763768400\n"): a
 * person can read it with cat, a script with date -d @$(cat ...). The
 * wall clock, not a monotonic one, because the probe is another process
 * (possibly in another container sharing the volume) and must compare the
 * mark with its own clock. */
#include "health.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "state.h"

#define HEALTH_MARK_MAX 128 /* "1763768400\n" and a lag line (health_lag) */

long health_default_max_age(long sync_timeout_ms)
{
	long poll_s = (sync_timeout_ms + 999) / 1000;

	if (poll_s < 1)
		poll_s = 1;
	return 2 * poll_s + HEALTH_MARGIN_S;
}

enum err health_mark(const char *dir, time_t now)
{
	return health_mark_file(dir, HEALTH_STATUS_FILE, now);
}

enum err health_mark_file(const char *dir, const char *file, time_t now)
{
	return health_mark_lag(dir, file, now, NULL);
}

enum err health_mark_lag(const char *dir, const char *file, time_t now,
			 const struct health_lag *lag)
{
	char line[HEALTH_MARK_MAX];
	int n;

	if (!lag)
		n = snprintf(line, sizeof(line), "%lld\n", (long long)now);
	else if (lag->txns < 0)
		n = snprintf(line, sizeof(line),
			     "%lld\nbehind_ms=%lld sends=%ld send_age_ms=%lld\n", (long long)now,
			     lag->behind_ms, lag->sends, lag->send_age_ms);
	else
		n = snprintf(line, sizeof(line),
			     "%lld\nbehind_ms=%lld sends=%ld send_age_ms=%lld txns=%ld "
			     "txn_age_ms=%lld\n",
			     (long long)now, lag->behind_ms, lag->sends, lag->send_age_ms,
			     lag->txns, lag->txn_age_ms);

	if (n < 0 || (size_t)n >= sizeof(line))
		return ERR_LIMIT;
	/* 0600 like the rest of the state directory: the probe runs as the
	 * bot's own user (docker exec, the HEALTHCHECK) or as root. Replaced
	 * atomically but not synced: the loop writes it every few seconds
	 * while it serves, and its two fsyncs (4-10 ms on these disks) held
	 * every room's next reply that long, the tail of the reply latency.
	 * A mark lost with the machine's power is no loss: a start clears
	 * the mark anyway, and the probe reads a garbled one as unhealthy. */
	return state_write_unsynced(dir, file, line, (size_t)n, 0600);
}

enum err health_clear(const char *dir)
{
	return state_remove(dir, HEALTH_STATUS_FILE);
}

enum err health_clear_file(const char *dir, const char *file)
{
	return state_remove(dir, file);
}

enum err health_check(const char *dir, long max_age_s, time_t now, long *age_s, char *errbuf,
		      size_t errlen)
{
	return health_check_file(dir, HEALTH_STATUS_FILE, max_age_s, now, age_s, errbuf, errlen);
}

/* lag_line reads "\nbehind_ms=N sends=N send_age_ms=N\n" at s into lag
 * (may be NULL), or the same with " txns=N txn_age_ms=N" before the end
 * of the line; 1 when it is exactly one of them. */
static int lag_line(const char *s, struct health_lag *lag)
{
	struct health_lag l;
	int n = -1, t = -1;

	l.txns = -1;
	l.txn_age_ms = 0;
	if (s[0] != '\n' ||
	    sscanf(s, "\nbehind_ms=%lld sends=%ld send_age_ms=%lld%n", &l.behind_ms, &l.sends,
		   &l.send_age_ms, &n) != 3 ||
	    n < 0 || l.behind_ms < 0 || l.sends < 0 || l.send_age_ms < 0)
		return 0;
	if (s[n] == ' ' &&
	    (sscanf(s + n, " txns=%ld txn_age_ms=%lld%n", &l.txns, &l.txn_age_ms, &t) != 2 ||
	     t < 0 || l.txns < 0 || l.txn_age_ms < 0))
		return 0;
	if (t > 0)
		n += t;
	if (s[n] != '\n' || s[n + 1])
		return 0;
	if (lag)
		*lag = l;
	return 1;
}

enum err health_read_lag(const char *dir, const char *file, struct health_lag *lag)
{
	char *buf = NULL, *nl;
	size_t len = 0;
	enum err e = state_read(dir, file, &buf, &len);

	if (e != ERR_OK)
		return e == ERR_NOTFOUND ? ERR_NOTFOUND : ERR_PARSE;
	nl = buf + strspn(buf, "0123456789"); /* the time, then the lag line */
	if (len > HEALTH_MARK_MAX || nl == buf || (*nl && *nl != '\n'))
		e = ERR_PARSE;
	else if (!*nl || !nl[1])
		e = ERR_NOTFOUND;
	else
		e = lag_line(nl, lag) ? ERR_OK : ERR_PARSE;
	free(buf);
	return e;
}

enum err health_check_file(const char *dir, const char *file, long max_age_s, time_t now,
			   long *age_s, char *errbuf, size_t errlen)
{
	char *buf = NULL, *end;
	long long t;
	long age;
	size_t len = 0;
	enum err e;

	if (age_s)
		*age_s = -1;
	e = state_read(dir, file, &buf, &len);
	if (e == ERR_NOTFOUND) {
		snprintf(errbuf, errlen,
			 "no sync completed yet: %s/%s does not exist (the bot "
			 "is starting, cannot reach its homeserver, or is not running)",
			 dir, file);
		return e;
	}
	if (e == ERR_IO) {
		snprintf(errbuf, errlen, "cannot read %s/%s: %s", dir, file, strerror(errno));
		return e;
	}
	if (e != ERR_OK) {
		snprintf(errbuf, errlen, "cannot read %s/%s: %s", dir, file,
			 e == ERR_LIMIT ? "too large for a health mark" : err_str(e));
		return e == ERR_LIMIT ? ERR_PARSE : e;
	}
	errno = 0;
	t = strtoll(buf, &end, 10);
	if (end == buf || errno || (*end && strcmp(end, "\n") != 0 && !lag_line(end, NULL)) ||
	    t <= 0 || len > HEALTH_MARK_MAX) {
		snprintf(errbuf, errlen, "%s/%s is not a health mark (a unix time in seconds)", dir,
			 file);
		free(buf);
		return ERR_PARSE;
	}
	free(buf);
	if ((long long)now - t < -HEALTH_MARGIN_S) {
		snprintf(errbuf, errlen,
			 "the last sync in %s/%s is %lld s in the future: was the "
			 "clock set back?",
			 dir, file, t - (long long)now);
		return ERR_PARSE;
	}
	/* A mark slightly ahead (clocks of two containers) counts as now. */
	age = (long long)now - t < 0 ? 0 : (long)((long long)now - t);
	if (age_s)
		*age_s = age;
	if (age > max_age_s) {
		snprintf(errbuf, errlen,
			 "the last sync completed %ld s ago, more than %ld s: the "
			 "bot is stuck or cannot reach its homeserver (see its log)",
			 age, max_age_s);
		return ERR_LIMIT;
	}
	return ERR_OK;
}

enum err health_read_config(const char *path, struct config **out, char *errbuf, size_t errlen)
{
	return config_read(path, out, errbuf, errlen);
}
