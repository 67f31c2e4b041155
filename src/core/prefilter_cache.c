/* prefilter_cache.c -- where blobs are kept (prefilter_int.h): the key a
 * blob is for, the cache folder (and the blobs shipped at install), and
 * the child process that builds one, so the serving process never holds
 * the building's memory. */
#define _GNU_SOURCE /* dl_iterate_phdr: the program's build ID (blob_key) */
#include "prefilter_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "hs_dl.h"
#include "state.h"

/* Bumped whenever atoms change meaning: it is part of the cache key. */
#define PREFILTER_FORMAT "faqbot-prefilter-2"

static const char *cache_dir, *shipped_dir;

void prefilter_set_cache(const char *dir)
{
	cache_dir = dir;
}

void prefilter_set_shipped(const char *dir)
{
	shipped_dir = dir;
}

/* --- the blob's key, and where it is kept ------------------------------------ */

/* build_id: this program's GNU build ID (the linker's hash of it). A
 * rebuilt faqbot reads patterns with a reader that may have changed, so
 * its blobs are its own. */
static int on_object(struct dl_phdr_info *info, size_t size, void *data)
{
	uint64_t *h = data;
	int i;

	(void)size;
	for (i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		const char *p, *end;

		if (ph->p_type != PT_NOTE)
			continue;
		p = (const char *)(info->dlpi_addr + ph->p_vaddr);
		end = p + ph->p_memsz;
		while (p + sizeof(ElfW(Nhdr)) <= end) {
			const ElfW(Nhdr) *nh = (const ElfW(Nhdr) *)(const void *)p;
			const char *name = p + sizeof(*nh);
			const char *desc = name + ((nh->n_namesz + 3) & ~3u);

			if (desc + nh->n_descsz > end)
				break;
			if (nh->n_type == NT_GNU_BUILD_ID && nh->n_namesz == 4 &&
			    memcmp(name, "GNU", 4) == 0) {
				*h = prefilter_fnv(*h, desc, nh->n_descsz);
				return 1;
			}
			p = desc + ((nh->n_descsz + 3) & ~3u);
		}
	}
	return 1; /* the first object is the program itself: no further */
}

/* prefilter_blob_key: what a blob is for: these patterns, read by this build of
 * faqbot, compiled by this Vectorscan for this CPU */
uint64_t prefilter_blob_key(const char *const *src, size_t n)
{
	uint64_t h = PREFILTER_FNV_START;
	const char *v = hs_rt.version();
	size_t i;

	h = prefilter_fnv(h, PREFILTER_FORMAT, sizeof(PREFILTER_FORMAT));
	dl_iterate_phdr(on_object, &h);
	h = prefilter_fnv(h, v, strlen(v) + 1);
#if defined(__x86_64__) || defined(__i386__)
	{
		/* a database is compiled for this CPU's features: a cache
		 * copied to another machine is not taken for this one's */
		char cpu[4] = {(char)__builtin_cpu_supports("avx2"),
			       (char)__builtin_cpu_supports("avx512f"),
			       (char)__builtin_cpu_supports("avx512bw"),
			       (char)__builtin_cpu_supports("avx512vbmi")};

		h = prefilter_fnv(h, cpu, sizeof(cpu));
	}
#endif
	h = prefilter_fnv(h, &n, sizeof(n));
	for (i = 0; i < n; i++)
		h = prefilter_fnv(h, src[i], strlen(src[i]) + 1);
	return h;
}

static void cache_path(char *buf, size_t len, const char *dir, uint64_t key)
{
	snprintf(buf, len, "%s/prefilter-%016llx.blob", dir, (unsigned long long)key);
}

static int read_all(int fd, void *p, size_t n)
{
	char *b = p;

	while (n) {
		ssize_t r = read(fd, b, n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		b += r;
		n -= (size_t)r;
	}
	return 0;
}

static int write_all(int fd, const void *p, size_t n)
{
	const char *b = p;

	while (n) {
		ssize_t w = write(fd, b, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		b += w;
		n -= (size_t)w;
	}
	return 0;
}

void prefilter_bytes_release(struct prefilter_bytes *b)
{
	if (b->mapped && b->p)
		munmap(b->p, b->len);
	else
		free(b->p);
	memset(b, 0, sizeof(*b));
}

/* read_from: the blob of key as dir holds it, or nothing (none, or not
 * readable: then it is built again) */
static void read_from(const char *dir, uint64_t key, struct prefilter_bytes *b)
{
	char path[4096];
	struct stat st;
	void *p;
	int fd;

	memset(b, 0, sizeof(*b));
	if (!dir)
		return;
	cache_path(path, sizeof(path), dir, key);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
	    (size_t)st.st_size >= sizeof(struct prefilter_blob_head) &&
	    (size_t)st.st_size <= PREFILTER_BLOB_MAX) {
		p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
		if (p != MAP_FAILED) {
			b->p = p;
			b->len = (size_t)st.st_size;
			b->mapped = 1;
		}
	}
	close(fd);
}

/* prefilter_cache_read: from the cache folder, else from what was shipped at
 * install (prefilter_set_shipped) */
void prefilter_cache_read(uint64_t key, struct prefilter_bytes *b)
{
	read_from(cache_dir, key, b);
	if (!b->p)
		read_from(shipped_dir, key, b);
}

/* prune: the oldest blobs in the cache folder, beyond PREFILTER_CACHE_KEEP */
static void prune(void)
{
	for (;;) {
		char oldest[4200] = "", p[4200];
		struct timespec when = {0, 0};
		struct dirent *de;
		size_t n = 0;
		DIR *dh = opendir(cache_dir);

		if (!dh)
			return;
		while ((de = readdir(dh)) != NULL) {
			struct stat st;
			size_t l = strlen(de->d_name);

			if (strncmp(de->d_name, "prefilter-", 10) != 0 || l < 5 ||
			    strcmp(de->d_name + l - 5, ".blob") != 0)
				continue;
			snprintf(p, sizeof(p), "%s/%s", cache_dir, de->d_name);
			if (stat(p, &st) != 0)
				continue;
			n++;
			if (!*oldest || st.st_mtim.tv_sec < when.tv_sec ||
			    (st.st_mtim.tv_sec == when.tv_sec &&
			     st.st_mtim.tv_nsec < when.tv_nsec)) {
				when = st.st_mtim;
				memcpy(oldest, p, sizeof(oldest));
			}
		}
		closedir(dh);
		if (n <= PREFILTER_CACHE_KEEP || unlink(oldest) != 0)
			return;
	}
}

/* prefilter_cache_write: the blob, written beside and renamed over, so a reader sees
 * a whole file or none (and checks it whole anyway). Blobs of other keys
 * go but the newest few: an edited FAQ would otherwise leave one behind at
 * every save, while a bot and a `faqbot ask` of another build (bench,
 * tests) sharing the folder must not throw each other's out at every
 * start. A cache that cannot be written costs a build at the next start,
 * nothing more. */
void prefilter_cache_write(uint64_t key, const char *blob, size_t len)
{
	char path[4096], tmp[4200];
	int fd;

	if (!cache_dir || state_make_dirs(cache_dir) != ERR_OK)
		return;
	cache_path(path, sizeof(path), cache_dir, key);
	snprintf(tmp, sizeof(tmp), "%s.%ld.tmp", path, (long)getpid());
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return;
	if (write_all(fd, blob, len) != 0 || close(fd) != 0 || rename(tmp, path) != 0) {
		unlink(tmp);
		return;
	}
	prune();
}

/* prefilter_build_apart builds the blob in a child process that sends it back
 * through a pipe: the reading of every pattern, the compiler (libhs and
 * the C++ runtime, +2.1 MB resident) and their working memory never enter
 * the serving process, whose peak stays what it needs to serve. -1 when no
 * child could be had (the caller builds here instead). */
int prefilter_build_apart(const char *const *src, size_t n, uint64_t key,
			  struct prefilter_bytes *blob, enum err *e, char *why, size_t whylen)
{
	struct {
		uint64_t len;
		int err;
		char why[256];
	} head;
	int fds[2], status;
	pid_t pid;

	if (pipe(fds) != 0)
		return -1;
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		close(fds[0]);
		close(fds[1]);
		return -1;
	}
	if (pid == 0) {
		char *b = NULL;
		size_t bl = 0;

		close(fds[0]);
		memset(&head, 0, sizeof(head));
		head.err = prefilter_blob_build(src, n, key, &b, &bl, head.why, sizeof(head.why));
		head.len = head.err == ERR_OK ? bl : 0;
		if (write_all(fds[1], &head, sizeof(head)) != 0 ||
		    (head.len && write_all(fds[1], b, bl) != 0))
			_exit(1);
		_exit(0);
	}
	close(fds[1]);
	memset(blob, 0, sizeof(*blob));
	*e = ERR_INVALID;
	snprintf(why, whylen, "the process that compiles the prefilter failed");
	if (read_all(fds[0], &head, sizeof(head)) == 0) {
		if (head.err != ERR_OK) {
			*e = (enum err)head.err;
			snprintf(why, whylen, "%.*s", (int)sizeof(head.why) - 1, head.why);
		} else if (head.len >= sizeof(struct prefilter_blob_head) &&
			   head.len <= PREFILTER_BLOB_MAX) {
			void *p = mmap(NULL, (size_t)head.len, PROT_READ | PROT_WRITE,
				       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

			if (p == MAP_FAILED) {
				*e = ERR_NOMEM;
			} else {
				blob->p = p;
				blob->len = (size_t)head.len;
				blob->mapped = 1;
				if (read_all(fds[0], blob->p, blob->len) == 0)
					*e = ERR_OK;
				else
					prefilter_bytes_release(blob);
			}
		}
	}
	close(fds[0]);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			break;
	return 0;
}
