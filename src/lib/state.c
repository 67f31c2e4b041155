/* state.c -- atomic small-file persistence (see state.h).
 *
 * The dance: open dir/.name.tmp.PID with O_EXCL and the final mode, write
 * it all, fsync, close, rename over dir/name, fsync the directory. A crash
 * at any point leaves either the old file or the new one; a leftover temp
 * file is harmless and overwritten by the next write of the same process
 * id (O_EXCL fails, so we unlink it first). */
#include "state.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define STATE_PATH_MAX 4096

static int name_ok(const char *name)
{
	size_t n = strlen(name);

	return n > 0 && n <= STATE_NAME_MAX && name[0] != '.' && !strchr(name, '/');
}

static enum err join_path(char *buf, size_t len, const char *dir, const char *name)
{
	int n = snprintf(buf, len, "%s/%s", dir, name);

	return n < 0 || (size_t)n >= len ? ERR_LIMIT : ERR_OK;
}

enum err state_dir_prepare(const char *dir, char *errbuf, size_t errlen)
{
	struct stat st;

	if (!dir || !*dir) {
		snprintf(errbuf, errlen, "no state directory configured");
		return ERR_INVALID;
	}
	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		snprintf(errbuf, errlen, "cannot create state directory %s: %s", dir,
			 strerror(errno));
		return ERR_IO;
	}
	if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
		snprintf(errbuf, errlen, "state directory %s is not a directory", dir);
		return ERR_IO;
	}
	if (access(dir, W_OK | X_OK) != 0) {
		snprintf(errbuf, errlen, "state directory %s is not writable: %s", dir,
			 strerror(errno));
		return ERR_IO;
	}
	return ERR_OK;
}

enum err state_make_dirs(const char *dir)
{
	char buf[4096];
	size_t i, n = strlen(dir);

	if (n == 0 || n >= sizeof(buf))
		return ERR_IO;
	memcpy(buf, dir, n + 1);
	for (i = 1; i <= n; i++) {
		if (buf[i] != '/' && buf[i] != '\0')
			continue;
		buf[i] = '\0';
		if (mkdir(buf, 0700) != 0 && errno != EEXIST)
			return ERR_IO;
		buf[i] = i < n ? '/' : '\0';
	}
	return ERR_OK;
}

static enum err fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY);
	enum err e = ERR_OK;

	if (fd < 0)
		return ERR_IO;
	if (fsync(fd) != 0 && errno != EINVAL)
		e = ERR_IO;
	close(fd);
	return e;
}

/* write_file is state_write_max, with its two fsyncs only when sync. */
static enum err write_file(const char *dir, const char *name, const void *data, size_t len,
			   mode_t mode, size_t max, int sync)
{
	char path[STATE_PATH_MAX], tmp[STATE_PATH_MAX], tname[STATE_NAME_MAX + 32];
	const char *p = data;
	enum err e = ERR_OK;
	int fd = -1;
	ssize_t w;

	if (!name_ok(name) || len > max)
		return ERR_INVALID;
	snprintf(tname, sizeof(tname), ".%s.tmp.%ld", name, (long)getpid());
	e = join_path(path, sizeof(path), dir, name);
	if (e == ERR_OK)
		e = join_path(tmp, sizeof(tmp), dir, tname);
	if (e != ERR_OK)
		return e;
	unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	if (fd < 0)
		return ERR_IO;
	/* umask may have narrowed mode; never widen, but make it exact. */
	if (fchmod(fd, mode) != 0) {
		e = ERR_IO;
		goto out;
	}
	while (len > 0) {
		w = write(fd, p, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			e = ERR_IO;
			goto out;
		}
		p += w;
		len -= (size_t)w;
	}
	if (sync && fsync(fd) != 0) {
		e = ERR_IO;
		goto out;
	}
	if (close(fd) != 0) {
		fd = -1;
		e = ERR_IO;
		goto out;
	}
	fd = -1;
	if (rename(tmp, path) != 0) {
		e = ERR_IO;
		goto out;
	}
	if (sync)
		e = fsync_dir(dir);
out:
	if (fd >= 0)
		close(fd);
	if (e != ERR_OK)
		unlink(tmp);
	return e;
}

enum err state_write(const char *dir, const char *name, const void *data, size_t len, mode_t mode)
{
	return write_file(dir, name, data, len, mode, STATE_FILE_MAX, 1);
}

enum err state_write_max(const char *dir, const char *name, const void *data, size_t len,
			 mode_t mode, size_t max)
{
	return write_file(dir, name, data, len, mode, max, 1);
}

enum err state_write_unsynced(const char *dir, const char *name, const void *data, size_t len,
			      mode_t mode)
{
	return write_file(dir, name, data, len, mode, STATE_FILE_MAX, 0);
}

enum err state_sync_file(const char *dir, const char *name)
{
	char path[STATE_PATH_MAX];
	enum err e;
	int fd;

	if (!name_ok(name))
		return ERR_INVALID;
	e = join_path(path, sizeof(path), dir, name);
	if (e != ERR_OK)
		return e;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? ERR_OK : ERR_IO; /* removed since: nothing to keep */
	if (fsync(fd) != 0)
		e = ERR_IO;
	close(fd);
	return e;
}

enum err state_sync_dir(const char *dir)
{
	return fsync_dir(dir);
}

enum err state_read(const char *dir, const char *name, char **out, size_t *len)
{
	return state_read_max(dir, name, STATE_FILE_MAX, out, len);
}

enum err state_read_max(const char *dir, const char *name, size_t max, char **out, size_t *len)
{
	char path[STATE_PATH_MAX];
	char *buf = NULL;
	enum err e = ERR_OK;
	size_t n = 0, cap;
	struct stat st;
	ssize_t r;
	int fd;

	*out = NULL;
	if (!name_ok(name))
		return ERR_INVALID;
	e = join_path(path, sizeof(path), dir, name);
	if (e != ERR_OK)
		return e;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? ERR_NOTFOUND : ERR_IO;
	/* room for what the file holds (a big cap is not a big buffer),
	 * and a byte more to see it did not grow past the cap */
	cap = fstat(fd, &st) == 0 && st.st_size >= 0 && (unsigned long long)st.st_size < max
		      ? (size_t)st.st_size
		      : max;
	buf = malloc(cap + 1);
	if (!buf) {
		e = ERR_NOMEM;
		goto out;
	}
	for (;;) {
		r = read(fd, buf + n, cap + 1 - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			e = ERR_IO;
			goto out;
		}
		if (r == 0)
			break;
		n += (size_t)r;
		if (n > cap) { /* past the cap, or grew as it was read */
			e = n > max || cap == max ? ERR_LIMIT : ERR_IO;
			goto out;
		}
	}
	buf[n] = '\0';
	*out = buf;
	buf = NULL;
	if (len)
		*len = n;
out:
	free(buf);
	close(fd);
	return e;
}

enum err state_remove(const char *dir, const char *name)
{
	char path[STATE_PATH_MAX];
	enum err e;

	if (!name_ok(name))
		return ERR_INVALID;
	e = join_path(path, sizeof(path), dir, name);
	if (e != ERR_OK)
		return e;
	if (unlink(path) != 0 && errno != ENOENT)
		return ERR_IO;
	return ERR_OK;
}
