/* state.h -- small files that must survive a crash whole: the sync token,
 * the login session. No partial writes, ever: state_write writes a temp file
 * beside the target, fsyncs it, renames it over the target and fsyncs the
 * directory, so a reader sees the old content or the new, never a mix.
 *
 * Not a database: one file a value, read whole, written whole, capped. */
#ifndef FAQBOT_STATE_H
#define FAQBOT_STATE_H

#include <stddef.h>
#include <sys/types.h>

#include "err.h"

#define STATE_FILE_MAX (64 * 1024) /* a state file we will read */
#define STATE_NAME_MAX 64

/* state_dir_prepare creates dir (mode 0700) if it is missing. It fails with
 * ERR_IO and a reason in errbuf when dir cannot be made or used. */
enum err state_dir_prepare(const char *dir, char *errbuf, size_t errlen);

/* state_make_dirs creates dir and the folders above it that are missing
 * (mode 0700 where made): for caches, whose folder may be nested and
 * new. ERR_IO when one cannot be made. */
enum err state_make_dirs(const char *dir);

/* state_write replaces dir/name with len bytes of data, atomically (see the
 * top of this file), the file having the given mode (0600 for secrets).
 * name is a plain file name: no '/', no leading '.'. */
enum err state_write(const char *dir, const char *name, const void *data, size_t len, mode_t mode);

/* state_write_unsynced is state_write without its two fsyncs: a reader
 * still sees the old file or the new, but a crash may lose the new one
 * until state_sync_file has synced it and state_sync_dir its folder. For
 * many files written in a row (the sends of a /sync batch), made durable
 * together once: each fsync of state_write costs milliseconds of disk, a
 * write alone tens of microseconds. state_sync_file: a file removed
 * meanwhile is no error. */
enum err state_write_unsynced(const char *dir, const char *name, const void *data, size_t len,
			      mode_t mode);
enum err state_sync_file(const char *dir, const char *name);
enum err state_sync_dir(const char *dir);

/* state_read reads dir/name whole into a new NUL-terminated buffer (*out,
 * the caller frees; *len without the NUL, len may be NULL). ERR_NOTFOUND
 * when the file does not exist, ERR_LIMIT when it is over STATE_FILE_MAX,
 * ERR_IO otherwise. */
enum err state_read(const char *dir, const char *name, char **out, size_t *len);

/* state_write_max and state_read_max: the same with a cap of max bytes
 * instead of STATE_FILE_MAX, for the few files that grow with use (the
 * encryption sessions); state_read_max allocates max + 1 bytes. */
enum err state_write_max(const char *dir, const char *name, const void *data, size_t len,
			 mode_t mode, size_t max);
enum err state_read_max(const char *dir, const char *name, size_t max, char **out, size_t *len);

/* state_remove deletes dir/name; a missing file is not an error. */
enum err state_remove(const char *dir, const char *name);

#endif
