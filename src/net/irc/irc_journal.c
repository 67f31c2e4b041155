/* irc_journal.c -- replies not yet sent, on disk: see irc_journal.h.
 *
 * Shape: the line codec first (pure), then the file. In memory the journal
 * keeps only the ids still pending (a sorted array) and the file's size;
 * the text lives in the file and in the transport's queue. A compaction
 * reads the file back, which is rare (past IRC_JOURNAL_COMPACT_BYTES with
 * replies still pending, i.e. a long busy spell) and cheaper than keeping
 * a second copy of every reply. */
#include "irc_journal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define JOURNAL_PATH_MAX 4096
#define CRC_LEN          8

/* ---- the line codec ---- */

unsigned irc_journal_crc(const char *s, size_t n)
{
	unsigned h = 2166136261u;
	size_t i;

	for (i = 0; i < n; i++) {
		h ^= (unsigned char)s[i];
		h *= 16777619u;
	}
	return h;
}

void irc_journal_entry_release(struct irc_journal_entry *e)
{
	if (!e)
		return;
	free(e->kind);
	free(e->cmd);
	free(e->target);
	free(e->text);
	memset(e, 0, sizeof(*e));
}

/* esc_len is the escaped length of s (n bytes); words escape spaces. */
static size_t esc_len(const char *s, size_t n, int word)
{
	size_t i, o = 0;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '\\' || c == '\n' || c == '\r' || (word && c == ' '))
			o += 2;
		else if (c < 0x20 || c == 0x7f)
			o += 4;
		else
			o++;
	}
	return o;
}

static char *esc(char *o, const char *s, size_t n, int word)
{
	static const char hex[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '\\' || c == '\n' || c == '\r' || (word && c == ' ')) {
			*o++ = '\\';
			*o++ = c == '\\' ? '\\' : c == '\n' ? 'n' : c == '\r' ? 'r' : 's';
		} else if (c < 0x20 || c == 0x7f) {
			*o++ = '\\';
			*o++ = 'x';
			*o++ = hex[c >> 4];
			*o++ = hex[c & 15];
		} else {
			*o++ = (char)c;
		}
	}
	return o;
}

enum err irc_journal_format(const struct irc_journal_entry *e, char **out, size_t *len)
{
	const char *w[3];
	char head[64], *buf, *o;
	size_t wl[3], tl, total, i;
	int hl;

	*out = NULL;
	*len = 0;
	w[0] = e->kind;
	w[1] = e->cmd;
	w[2] = e->target;
	if (!e->id || !e->text || !*e->text)
		return ERR_INVALID;
	for (i = 0; i < 3; i++) {
		if (!w[i] || !*w[i])
			return ERR_INVALID;
		wl[i] = strlen(w[i]);
		if (wl[i] > IRC_JOURNAL_WORD_MAX)
			return ERR_LIMIT;
	}
	tl = strlen(e->text);
	if (tl > IRC_JOURNAL_TEXT_MAX)
		return ERR_LIMIT;
	hl = snprintf(head, sizeof(head), "A %llu %lld ", e->id, e->wall_ms);
	if (hl < 0 || (size_t)hl >= sizeof(head))
		return ERR_LIMIT;
	total = CRC_LEN + 1 + (size_t)hl + esc_len(w[0], wl[0], 1) + 1 + esc_len(w[1], wl[1], 1) +
		1 + esc_len(w[2], wl[2], 1) + 1 + esc_len(e->text, tl, 0) + 1;
	buf = malloc(total + 1);
	if (!buf)
		return ERR_NOMEM;
	o = buf + CRC_LEN + 1;
	memcpy(o, head, (size_t)hl);
	o += hl;
	for (i = 0; i < 3; i++) {
		o = esc(o, w[i], wl[i], 1);
		*o++ = ' ';
	}
	o = esc(o, e->text, tl, 0);
	snprintf(buf, CRC_LEN + 2, "%08x",
		 irc_journal_crc(buf + CRC_LEN + 1, (size_t)(o - buf) - CRC_LEN - 1));
	buf[CRC_LEN] = ' ';
	*o++ = '\n';
	*o = '\0';
	*out = buf;
	*len = (size_t)(o - buf);
	return ERR_OK;
}

size_t irc_journal_format_done(unsigned long long id, char *buf, size_t cap)
{
	char body[32];
	int n = snprintf(body, sizeof(body), "D %llu", id);
	int m;

	if (n < 0 || (size_t)n >= sizeof(body))
		return 0;
	m = snprintf(buf, cap, "%08x %s\n", irc_journal_crc(body, (size_t)n), body);
	return m < 0 || (size_t)m >= cap ? 0 : (size_t)m;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* unesc copies the escaped field s (n bytes) into a new string; NULL on a
 * bad escape, a raw control byte, a NUL, or out of memory (*nomem set). */
static char *unesc(const char *s, size_t n, int *nomem)
{
	char *out = malloc(n + 1), *o = out;
	size_t i;

	if (!out) {
		*nomem = 1;
		return NULL;
	}
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		int h, l;

		if (c < 0x20 || c == 0x7f)
			goto bad;
		if (c != '\\') {
			*o++ = (char)c;
			continue;
		}
		if (++i >= n)
			goto bad;
		switch (s[i]) {
		case '\\':
			*o++ = '\\';
			break;
		case 'n':
			*o++ = '\n';
			break;
		case 'r':
			*o++ = '\r';
			break;
		case 's':
			*o++ = ' ';
			break;
		case 'x':
			if (i + 2 >= n)
				goto bad;
			h = hexval(s[i + 1]);
			l = hexval(s[i + 2]);
			if (h < 0 || l < 0 || (h == 0 && l == 0))
				goto bad; /* a NUL would cut the string */
			*o++ = (char)(h << 4 | l);
			i += 2;
			break;
		default:
			goto bad;
		}
	}
	*o = '\0';
	return out;
bad:
	free(out);
	return NULL;
}

/* number reads the decimal digits s[0..n) into *v; 0 on anything else. */
static int number(const char *s, size_t n, unsigned long long *v)
{
	size_t i;

	*v = 0;
	if (n == 0 || n > 19)
		return 0;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return 0;
		*v = *v * 10 + (unsigned)(s[i] - '0');
	}
	return 1;
}

enum err irc_journal_parse(const char *line, size_t len, struct irc_journal_entry *e,
			   unsigned long long *done_id)
{
	const char *f[7], *p, *end;
	size_t fl[7], k;
	unsigned long long id, ms;
	unsigned crc = 0;
	int nomem = 0, i;

	*done_id = 0;
	if (len > 0 && line[len - 1] == '\n')
		len--;
	if (len > IRC_JOURNAL_LINE_MAX)
		return ERR_LIMIT;
	if (len < CRC_LEN + 4 || line[CRC_LEN] != ' ')
		return ERR_PARSE;
	for (i = 0; i < CRC_LEN; i++) {
		int h = hexval(line[i]);

		if (h < 0)
			return ERR_PARSE;
		crc = crc << 4 | (unsigned)h;
	}
	p = line + CRC_LEN + 1;
	end = line + len;
	if (irc_journal_crc(p, (size_t)(end - p)) != crc)
		return ERR_PARSE;
	/* fields: the last (the text) takes the rest of the line */
	for (k = 0;;) {
		const char *sp = k < 6 ? memchr(p, ' ', (size_t)(end - p)) : NULL;

		f[k] = p;
		fl[k] = sp ? (size_t)(sp - p) : (size_t)(end - p);
		k++;
		if (!sp)
			break;
		p = sp + 1;
	}
	if (k == 2 && fl[0] == 1 && f[0][0] == 'D') {
		if (!number(f[1], fl[1], &id) || !id)
			return ERR_PARSE;
		*done_id = id;
		return ERR_OK;
	}
	if (k != 7 || fl[0] != 1 || f[0][0] != 'A')
		return ERR_PARSE;
	/* a time past LLONG_MAX would come back negative, which the format
	 * cannot write and a later parse would refuse */
	if (!number(f[1], fl[1], &id) || !id || !number(f[2], fl[2], &ms) || ms > LLONG_MAX)
		return ERR_PARSE;
	for (i = 3; i < 7; i++)
		if (!fl[i])
			return ERR_PARSE;
	if (fl[3] > 4 * IRC_JOURNAL_WORD_MAX || fl[4] > 4 * IRC_JOURNAL_WORD_MAX ||
	    fl[5] > 4 * IRC_JOURNAL_WORD_MAX)
		return ERR_LIMIT;
	memset(e, 0, sizeof(*e));
	e->id = id;
	e->wall_ms = (long long)ms;
	e->kind = unesc(f[3], fl[3], &nomem);
	e->cmd = e->kind ? unesc(f[4], fl[4], &nomem) : NULL;
	e->target = e->cmd ? unesc(f[5], fl[5], &nomem) : NULL;
	e->text = e->target ? unesc(f[6], fl[6], &nomem) : NULL;
	if (!e->text) {
		irc_journal_entry_release(e);
		return nomem ? ERR_NOMEM : ERR_PARSE;
	}
	if (strlen(e->kind) > IRC_JOURNAL_WORD_MAX || strlen(e->cmd) > IRC_JOURNAL_WORD_MAX ||
	    strlen(e->target) > IRC_JOURNAL_WORD_MAX || strlen(e->text) > IRC_JOURNAL_TEXT_MAX) {
		irc_journal_entry_release(e);
		return ERR_LIMIT;
	}
	return ERR_OK;
}

/* ---- the file ---- */

struct irc_journal {
	char path[JOURNAL_PATH_MAX];
	char dir[JOURNAL_PATH_MAX];
	int fd;                     /* O_APPEND */
	size_t size;                /* bytes in the file */
	int unsynced;               /* entries added since the last sync */
	unsigned long long next_id; /* above every id seen */
	unsigned long long *ids;    /* pending, sorted */
	size_t n_ids, cap_ids;
	struct irc_journal_entry *loaded; /* pending at open, for the replay */
	size_t n_loaded;
};

/* find returns the index of id in the pending ids, or where it would go. */
static size_t find(const struct irc_journal *j, unsigned long long id, int *found)
{
	size_t lo = 0, hi = j->n_ids;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (j->ids[mid] < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = lo < j->n_ids && j->ids[lo] == id;
	return lo;
}

static enum err ids_add(struct irc_journal *j, unsigned long long id)
{
	int found;
	size_t at = find(j, id, &found);

	if (found)
		return ERR_OK;
	if (j->n_ids == j->cap_ids) {
		size_t cap = j->cap_ids ? j->cap_ids * 2 : 64;
		unsigned long long *v = realloc(j->ids, cap * sizeof(*v));

		if (!v)
			return ERR_NOMEM;
		j->ids = v;
		j->cap_ids = cap;
	}
	memmove(j->ids + at + 1, j->ids + at, (j->n_ids - at) * sizeof(*j->ids));
	j->ids[at] = id;
	j->n_ids++;
	return ERR_OK;
}

static int ids_remove(struct irc_journal *j, unsigned long long id)
{
	int found;
	size_t at = find(j, id, &found);

	if (!found)
		return 0;
	memmove(j->ids + at, j->ids + at + 1, (j->n_ids - at - 1) * sizeof(*j->ids));
	j->n_ids--;
	return 1;
}

static void free_entries(struct irc_journal_entry *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		irc_journal_entry_release(&v[i]);
	free(v);
}

/* read_all reads the file at path, at most IRC_JOURNAL_READ_MAX bytes,
 * into a new buffer; a missing file is empty. */
static enum err read_all(const char *path, char **out, size_t *len, int *cut)
{
	struct stat sb;
	char *buf = NULL;
	size_t n = 0, want;
	int fd;

	*out = NULL;
	*len = 0;
	*cut = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return errno == ENOENT ? ERR_OK : ERR_IO;
	if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
		close(fd);
		return ERR_IO;
	}
	want = (size_t)sb.st_size;
	if (want > IRC_JOURNAL_READ_MAX) {
		want = IRC_JOURNAL_READ_MAX;
		*cut = 1;
	}
	buf = malloc(want + 1);
	if (!buf) {
		close(fd);
		return ERR_NOMEM;
	}
	while (n < want) {
		ssize_t r = read(fd, buf + n, want - n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			free(buf);
			close(fd);
			return ERR_IO;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	buf[n] = '\0';
	*out = buf;
	*len = n;
	return ERR_OK;
}

/* The entries a load has found pending so far, oldest first. */
struct pending {
	struct irc_journal_entry *v;
	size_t n, cap;
};

/* pending_done drops the entry id, answered since (if it is there). */
static void pending_done(struct pending *p, unsigned long long id)
{
	size_t i;

	for (i = 0; i < p->n && p->v[i].id != id; i++)
		;
	if (i < p->n) {
		irc_journal_entry_release(&p->v[i]);
		memmove(p->v + i, p->v + i + 1, (p->n - i - 1) * sizeof(*p->v));
		p->n--;
	}
}

/* pending_add takes ent (released on failure): ERR_NOMEM, else ERR_OK. */
static enum err pending_add(struct pending *p, struct irc_journal_entry *ent)
{
	if (p->n == p->cap) {
		size_t nc = p->cap ? p->cap * 2 : 16;
		struct irc_journal_entry *nv = realloc(p->v, nc * sizeof(*nv));

		if (!nv) {
			irc_journal_entry_release(ent);
			return ERR_NOMEM;
		}
		p->v = nv;
		p->cap = nc;
	}
	p->v[p->n++] = *ent;
	return ERR_OK;
}

/* load parses the file's lines: the entries still pending, oldest first,
 * into *out (*n), the ids seen into j->next_id. */
static enum err load(struct irc_journal *j, struct irc_journal_entry **out, size_t *n,
		     struct irc_journal_stats *st)
{
	struct pending pend = {NULL, 0, 0};
	size_t len, off = 0;
	char *buf;
	int cut;
	enum err e = read_all(j->path, &buf, &len, &cut);

	*out = NULL;
	*n = 0;
	if (e != ERR_OK)
		return e;
	while (off < len && e == ERR_OK) {
		const char *line = buf + off, *nl = memchr(line, '\n', len - off);
		struct irc_journal_entry ent;
		unsigned long long done = 0;
		size_t ll;

		if (!nl) {
			/* the last line, torn by a crash in its write (or cut at
			 * the read limit): its reply is not known whole */
			if (cut)
				st->bad_lines++;
			else
				st->torn++;
			break;
		}
		ll = (size_t)(nl - line);
		off += ll + 1;
		if (ll == 0)
			continue;
		e = irc_journal_parse(line, ll, &ent, &done);
		if (e == ERR_NOMEM)
			break;
		if (e != ERR_OK) {
			st->bad_lines++;
			e = ERR_OK;
			continue;
		}
		if (done) {
			st->done++;
			if (done >= j->next_id)
				j->next_id = done + 1;
			pending_done(&pend, done);
			continue;
		}
		st->entries++;
		if (ent.id >= j->next_id)
			j->next_id = ent.id + 1;
		if (pend.n >= IRC_JOURNAL_PENDING_MAX) {
			st->bad_lines++;
			irc_journal_entry_release(&ent);
			continue;
		}
		e = pending_add(&pend, &ent);
	}
	free(buf);
	if (e != ERR_OK) {
		free_entries(pend.v, pend.n);
		return e;
	}
	*out = pend.v;
	*n = pend.n;
	return ERR_OK;
}

static enum err write_all(int fd, const char *p, size_t len)
{
	while (len > 0) {
		ssize_t w = write(fd, p, len);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return ERR_IO;
		p += w;
		len -= (size_t)w;
	}
	return ERR_OK;
}

/* rewrite replaces the file with the entries v (kept when in the pending
 * ids, or all when keep_all), atomically: a temp file beside it, synced,
 * renamed over it, the folder synced; then reopens it to append. Not
 * state_write: that one is for values of at most STATE_FILE_MAX. */
static enum err rewrite(struct irc_journal *j, const struct irc_journal_entry *v, size_t n,
			int keep_all)
{
	char tmp[JOURNAL_PATH_MAX + 32];
	enum err e = ERR_OK;
	size_t i, size = 0;
	int fd, dfd, found;

	if (snprintf(tmp, sizeof(tmp), "%s/.%s.tmp.%ld", j->dir, IRC_JOURNAL_FILE,
		     (long)getpid()) >= (int)sizeof(tmp))
		return ERR_LIMIT;
	unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return ERR_IO;
	if (fchmod(fd, 0600) != 0)
		e = ERR_IO;
	for (i = 0; i < n && e == ERR_OK; i++) {
		char *line;
		size_t len;

		if (!keep_all && (find(j, v[i].id, &found), !found))
			continue;
		e = irc_journal_format(&v[i], &line, &len);
		if (e != ERR_OK)
			break;
		e = write_all(fd, line, len);
		size += len;
		free(line);
	}
	if (e == ERR_OK && fsync(fd) != 0)
		e = ERR_IO;
	if (close(fd) != 0 && e == ERR_OK)
		e = ERR_IO;
	if (e == ERR_OK && rename(tmp, j->path) != 0)
		e = ERR_IO;
	if (e != ERR_OK) {
		unlink(tmp);
		return e;
	}
	dfd = open(j->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
	if (j->fd >= 0)
		close(j->fd);
	j->fd = open(j->path, O_WRONLY | O_APPEND | O_CLOEXEC | O_NOFOLLOW);
	if (j->fd < 0)
		return ERR_IO;
	j->size = size;
	j->unsynced = 0; /* the new file was synced whole */
	return ERR_OK;
}

enum err irc_journal_open(const char *dir, struct irc_journal **out, struct irc_journal_stats *st,
			  char *errbuf, size_t errlen)
{
	struct irc_journal_stats dummy;
	struct irc_journal *j;
	enum err e;
	size_t i;

	*out = NULL;
	if (!st)
		st = &dummy;
	memset(st, 0, sizeof(*st));
	j = calloc(1, sizeof(*j));
	if (!j) {
		snprintf(errbuf, errlen, "irc: journal: out of memory");
		return ERR_NOMEM;
	}
	j->fd = -1;
	j->next_id = 1;
	if (snprintf(j->dir, sizeof(j->dir), "%s", dir) >= (int)sizeof(j->dir) ||
	    snprintf(j->path, sizeof(j->path), "%s/%s", dir, IRC_JOURNAL_FILE) >=
		    (int)sizeof(j->path)) {
		snprintf(errbuf, errlen, "irc: journal: the state folder's path is too long");
		free(j);
		return ERR_LIMIT;
	}
	e = load(j, &j->loaded, &j->n_loaded, st);
	for (i = 0; e == ERR_OK && i < j->n_loaded; i++)
		e = ids_add(j, j->loaded[i].id);
	if (e == ERR_OK)
		e = rewrite(j, j->loaded, j->n_loaded, 1);
	if (e != ERR_OK) {
		snprintf(errbuf, errlen, "irc: journal %s: %s", j->path,
			 e == ERR_IO && errno ? strerror(errno) : err_str(e));
		irc_journal_free(j);
		return e == ERR_NOMEM ? ERR_NOMEM : ERR_IO;
	}
	st->pending = j->n_loaded;
	*out = j;
	return ERR_OK;
}

const struct irc_journal_entry *irc_journal_pending(const struct irc_journal *j, size_t *n)
{
	*n = j->n_loaded;
	return j->loaded;
}

void irc_journal_forget(struct irc_journal *j)
{
	free_entries(j->loaded, j->n_loaded);
	j->loaded = NULL;
	j->n_loaded = 0;
}

unsigned long long irc_journal_next_id(const struct irc_journal *j)
{
	return j->next_id;
}

size_t irc_journal_count_pending(const struct irc_journal *j)
{
	return j->n_ids;
}

/* append writes one line at the end; on a short write the file is cut
 * back, so the next line does not start inside a torn one. */
static enum err append(struct irc_journal *j, const char *line, size_t len)
{
	if (j->fd < 0)
		return ERR_IO;
	if (write_all(j->fd, line, len) != ERR_OK) {
		if (ftruncate(j->fd, (off_t)j->size) != 0)
			(void)0; /* the reader skips a torn line all the same */
		return ERR_IO;
	}
	j->size += len;
	return ERR_OK;
}

enum err irc_journal_add(struct irc_journal *j, const struct irc_journal_entry *e)
{
	char *line;
	size_t len;
	enum err r;

	if (j->n_ids >= IRC_JOURNAL_PENDING_MAX)
		return ERR_LIMIT;
	r = irc_journal_format(e, &line, &len);
	if (r != ERR_OK)
		return r;
	r = ids_add(j, e->id);
	if (r == ERR_OK)
		r = append(j, line, len);
	free(line);
	if (r != ERR_OK) {
		ids_remove(j, e->id);
		return r;
	}
	if (e->id >= j->next_id)
		j->next_id = e->id + 1;
	j->unsynced = 1;
	return ERR_OK;
}

enum err irc_journal_sync(struct irc_journal *j)
{
	if (!j->unsynced)
		return ERR_OK;
	j->unsynced = 0;
	/* data only: fdatasync also syncs the size, which reading the data
	 * back needs */
	return j->fd >= 0 && fdatasync(j->fd) == 0 ? ERR_OK : ERR_IO;
}

/* compact rewrites the file with the pending entries only. */
static enum err compact(struct irc_journal *j)
{
	struct irc_journal_stats st;
	struct irc_journal_entry *v;
	size_t n;
	enum err e;

	memset(&st, 0, sizeof(st));
	e = load(j, &v, &n, &st);
	if (e != ERR_OK)
		return e;
	e = rewrite(j, v, n, 0);
	free_entries(v, n);
	return e;
}

enum err irc_journal_done(struct irc_journal *j, unsigned long long id)
{
	char line[48];
	size_t len;

	if (!ids_remove(j, id))
		return ERR_OK;
	if (!j->n_ids) {
		/* nothing pending: an empty file says the same, and a crash
		 * between the truncation and its reaching the disk leaves
		 * only done entries */
		if (j->fd < 0 || ftruncate(j->fd, 0) != 0)
			return ERR_IO;
		j->size = 0;
		return ERR_OK;
	}
	len = irc_journal_format_done(id, line, sizeof(line));
	if (append(j, line, len) != ERR_OK)
		return ERR_IO;
	if (j->size > IRC_JOURNAL_COMPACT_BYTES)
		return compact(j);
	return ERR_OK;
}

void irc_journal_free(struct irc_journal *j)
{
	if (!j)
		return;
	if (j->fd >= 0) {
		irc_journal_sync(j);
		close(j->fd);
	}
	free_entries(j->loaded, j->n_loaded);
	free(j->ids);
	free(j);
}
