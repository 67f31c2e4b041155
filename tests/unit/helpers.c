/* helpers.c -- the unit tests' shared pieces (helpers.h): temporary
 * folders, whole files, copies, the mini FAQ. No shell: a folder is copied
 * and removed here, entry by entry, so a path with a space or a quote in
 * it is no command. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "helpers.h"

#define TH_PATH_MAX   4096
#define TH_COPY_CHUNK 8192

int th_tmpdir(char *dir, size_t len, const char *name)
{
	const char *run = getenv("FAQBOT_RUN_ID");
	int n;

	if (run && *run)
		n = snprintf(dir, len, "/tmp/faqbot-%s-%s-XXXXXX", run, name);
	else
		n = snprintf(dir, len, "/tmp/faqbot-%s-XXXXXX", name);
	if (n < 0 || (size_t)n >= len) {
		fprintf(stderr, "th_tmpdir: the path for %s is longer than %zu bytes\n", name, len);
		return -1;
	}
	if (!mkdtemp(dir)) {
		fprintf(stderr, "th_tmpdir: %s: %s\n", dir, strerror(errno));
		return -1;
	}
	return 0;
}

/* join writes a/b to out; 0, or -1 when it does not fit */
static int join(char *out, size_t len, const char *a, const char *b)
{
	int n = snprintf(out, len, "%s/%s", a, b);

	return n < 0 || (size_t)n >= len ? -1 : 0;
}

int th_rmtree(const char *path)
{
	struct stat sb;
	struct dirent *e;
	DIR *d;
	int rc = 0;

	if (lstat(path, &sb) != 0)
		return errno == ENOENT ? 0 : -1;
	if (!S_ISDIR(sb.st_mode))
		return unlink(path);
	d = opendir(path);
	if (!d)
		return -1;
	while ((e = readdir(d))) {
		char sub[TH_PATH_MAX];

		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (join(sub, sizeof(sub), path, e->d_name) != 0 || th_rmtree(sub) != 0)
			rc = -1;
	}
	closedir(d);
	if (rmdir(path) != 0)
		rc = -1;
	if (rc != 0)
		fprintf(stderr, "th_rmtree: %s: not all removed\n", path);
	return rc;
}

void th_write(const char *path, const char *text, mode_t mode)
{
	FILE *f = fopen(path, "w");

	if (!f)
		fail_msg("th_write: %s: %s", path, strerror(errno));
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(chmod(path, mode), 0);
}

void th_put(const char *dir, const char *name, const char *text)
{
	char path[TH_PATH_MAX];

	assert_int_equal(join(path, sizeof(path), dir, name), 0);
	th_write(path, text, 0644);
}

char *th_read(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *s;
	long n;

	if (!f)
		fail_msg("th_read: %s: %s", path, strerror(errno));
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n >= 0);
	rewind(f);
	s = calloc(1, (size_t)n + 1);
	assert_non_null(s);
	assert_int_equal(fread(s, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	if (len)
		*len = (size_t)n;
	return s;
}

int th_copy(const char *from, const char *to)
{
	char buf[TH_COPY_CHUNK];
	FILE *in = fopen(from, "rb"), *out = in ? fopen(to, "wb") : NULL;
	size_t n;
	int rc = 0;

	if (!in || !out) {
		fprintf(stderr, "th_copy: %s to %s: %s\n", from, to, strerror(errno));
		if (in)
			fclose(in);
		return -1;
	}
	while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
		if (fwrite(buf, 1, n, out) != n)
			rc = -1;
	if (ferror(in))
		rc = -1;
	fclose(in);
	if (fclose(out) != 0)
		rc = -1;
	return rc;
}

static int listed(const char *name, const char *const *only)
{
	if (!only)
		return 1;
	for (; *only; only++)
		if (!strcmp(*only, name))
			return 1;
	return 0;
}

/* copy_one copies the entry from (a file, a folder with what is below it,
 * or a link, as a link) to to; anything else is left out */
static int copy_one(const char *from, const char *to)
{
	struct stat sb;

	if (lstat(from, &sb) != 0)
		return -1;
	if (S_ISREG(sb.st_mode))
		return th_copy(from, to);
	if (S_ISDIR(sb.st_mode)) {
		if (mkdir(to, 0700) != 0 && errno != EEXIST)
			return -1;
		return th_copy_tree(from, to, NULL);
	}
	if (S_ISLNK(sb.st_mode)) {
		char target[TH_PATH_MAX];
		ssize_t n = readlink(from, target, sizeof(target) - 1);

		if (n < 0)
			return -1;
		target[n] = '\0';
		return symlink(target, to);
	}
	return 0;
}

int th_copy_tree(const char *from, const char *to, const char *const *only)
{
	struct dirent *e;
	DIR *d = opendir(from);
	int rc = 0;

	if (!d) {
		fprintf(stderr, "th_copy_tree: %s: %s\n", from, strerror(errno));
		return -1;
	}
	while ((e = readdir(d))) {
		char a[TH_PATH_MAX], b[TH_PATH_MAX];

		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..") || !listed(e->d_name, only))
			continue;
		if (join(a, sizeof(a), from, e->d_name) != 0 ||
		    join(b, sizeof(b), to, e->d_name) != 0 || copy_one(a, b) != 0) {
			fprintf(stderr, "th_copy_tree: %s/%s not copied\n", from, e->d_name);
			rc = -1;
		}
	}
	closedir(d);
	return rc;
}

int th_mini_dir(char *dir, size_t len, const char *name, const char *const *only)
{
	if (th_tmpdir(dir, len, name) != 0)
		return -1;
	if (th_copy_tree(TH_MINI, dir, only) != 0) {
		th_rmtree(dir);
		return -1;
	}
	return 0;
}

int th_mini_load(struct faq **faq)
{
	struct faq_diags d = {0};
	enum err e = faq_load(TH_MINI, faq, &d);
	size_t i;

	if (e != ERR_OK)
		for (i = 0; i < d.n; i++)
			fprintf(stderr, "%s:%u:%u: %s\n", d.v[i].file, d.v[i].line, d.v[i].col,
				d.v[i].msg);
	faq_diags_release(&d);
	return e == ERR_OK ? 0 : -1;
}
