/* serve_unanswered.c -- the words of questions no entry answered, kept only
 * when the operator turned keep_unanswered on (serve_int.h): one 0600 file
 * a day in the state folder, removed after unanswered_days. */
#include "serve_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

#define UNANSWERED_DIR "unanswered"

void serve_unanswered_keep(struct serve *s, const struct tr_message *m)
{
	char dir[PATH_MAX], path[PATH_MAX + 32], day[16], stamp[32];
	time_t t = s->now();
	struct tm tm;
	const char *p;
	FILE *f;
	int fd;

	if (!s->c.keep_unanswered || !s->state_dir)
		return;
	gmtime_r(&t, &tm);
	strftime(day, sizeof(day), "%Y-%m-%d", &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", &tm);
	snprintf(dir, sizeof(dir), "%s/%s", s->state_dir, UNANSWERED_DIR);
	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		log_error("cannot make %s: %s", dir, strerror(errno));
		return;
	}
	if (snprintf(path, sizeof(path), "%s/%s.tsv", dir, day) >= (int)sizeof(path))
		return;
	/* 0600 from the first byte: only the bot's user reads members' words */
	fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0 || !(f = fdopen(fd, "a"))) {
		log_error("cannot write %s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return;
	}
	fprintf(f, "%s\t%s\t", stamp, m->room);
	for (p = m->text; *p && p - m->text < 4096; p++) /* one line, no tabs */
		fputc(*p == '\n' || *p == '\t' || *p == '\r' ? ' ' : *p, f);
	fputc('\n', f);
	fclose(f);
}

void serve_unanswered_prune(struct serve *s)
{
	char dir[PATH_MAX];
	long today = stats_day(s->now());
	struct dirent *de;
	DIR *d;

	s->last_prune = s->now();
	if (!s->state_dir)
		return;
	snprintf(dir, sizeof(dir), "%s/%s", s->state_dir, UNANSWERED_DIR);
	d = opendir(dir);
	if (!d)
		return;
	while ((de = readdir(d))) {
		char path[PATH_MAX + 256], date[11];
		long day;

		/* only the day files serve_unanswered_keep writes: YYYY-MM-DD.tsv */
		if (strlen(de->d_name) != 14 || strcmp(de->d_name + 10, ".tsv") != 0)
			continue;
		memcpy(date, de->d_name, 10);
		date[10] = '\0';
		day = stats_day_parse(date);
		if (day < 0 || today - day < s->c.unanswered_days)
			continue;
		if (snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) >= (int)sizeof(path))
			continue;
		if (unlink(path) == 0)
			log_info("unanswered: removed %s (older than %ld days)", de->d_name,
				 s->c.unanswered_days);
	}
	closedir(d);
}
