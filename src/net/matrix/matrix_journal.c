/* matrix_journal.c -- the outgoing queue's journal (see matrix_int.h):
 * a send record's JSON, its file in state_dir/outbox, a /sync batch's
 * sends written together in group files, and the journal of an earlier
 * run read back at a start. The queue itself (order a room, retries,
 * limits) is matrix_send.c's; why the journal is there, and when each
 * file is written and removed, is said at the top of that file. */
#include "matrix_int.h"

#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mx_jout.h"
#include "state.h"
#include "strs.h"

#define JOURNAL_NAME_MAX  32
#define JOURNAL_FILES_MAX 100000 /* read at start; more are left alone */

static const char *const kind_name[] = {"reply", "alert", "notice", "join", "leave", "to-device"};
#define KINDS (sizeof(kind_name) / sizeof(kind_name[0]))

const char *matrix_send_kind_name(enum matrix_send_kind k)
{
	return (size_t)k < KINDS ? kind_name[k] : "?";
}

int matrix_send_is_put(enum matrix_send_kind k)
{
	return k == MATRIX_SEND_REPLY || k == MATRIX_SEND_ALERT || k == MATRIX_SEND_NOTICE ||
	       k == MATRIX_SEND_TO_DEVICE;
}

void matrix_send_destroy(struct matrix_send *s)
{
	if (!s)
		return;
	free(s->room);
	free(s->txn);
	free(s->body);
	free(s->event);
	free(s->about);
	free(s->klass);
	free(s->entry);
	free(s);
}

/* ---- the journal ------------------------------------------------------ */

static void file_name(unsigned long long seq, char *buf, size_t len)
{
	snprintf(buf, len, "q-%016llx", seq);
}

/* outbox makes the journal's folder once; ERR_IO when it cannot be. */
static enum err outbox(struct matrix *m)
{
	size_t n;

	if (!m->outbox) {
		n = strlen(m->state_dir) + sizeof(MATRIX_OUTBOX_DIR) + 2;
		m->outbox = malloc(n);
		if (!m->outbox)
			return ERR_NOMEM;
		snprintf(m->outbox, n, "%s/%s", m->state_dir, MATRIX_OUTBOX_DIR);
	}
	return state_make_dirs(m->outbox);
}

/* encode writes s as its journal file's JSON; the caller frees *out. */
static enum err encode(const struct matrix_send *s, char **out)
{
	json_t *j =
		json_pack("{s:i, s:I, s:s, s:s, s:s?, s:s, s:s?, s:s?, s:s?, s:s?, s:b, s:b, "
			  "s:I, s:b}",
			  "v", 1, "seq", (json_int_t)s->seq, "kind", kind_name[s->kind], "room",
			  s->room, "txn", s->txn, "body", s->body, "event", s->event, "about",
			  s->about, "class", s->klass, "entry", s->entry, "must", s->must, "direct",
			  s->direct, "wall_ms", (json_int_t)s->wall_ms, "enc", s->enc);
	enum err e = j ? mx_jout_dumps(j, out) : ERR_NOMEM; /* json_dumps's bytes */

	json_decref(j);
	return e;
}

/* dup_field copies j[key] when it is a string (NULL otherwise); 0 when a
 * copy failed. */
static int dup_field(const json_t *j, const char *key, char **out)
{
	const char *v = json_string_value(json_object_get(j, key));

	*out = v ? strs_dup(v) : NULL;
	return !v || *out;
}

/* decode_json reads one send as encode wrote it (j borrowed); NULL when
 * it is not one we wrote. */
static struct matrix_send *decode_json(const json_t *j)
{
	struct matrix_send *s = calloc(1, sizeof(*s));
	const char *kind = json_string_value(json_object_get(j, "kind"));
	json_int_t seq = json_integer_value(json_object_get(j, "seq"));
	size_t k;
	int ok = j && s && kind && seq > 0;

	for (k = 0; ok && k < KINDS && strcmp(kind, kind_name[k]); k++)
		;
	ok = ok && k < KINDS;
	if (ok) {
		s->kind = (enum matrix_send_kind)k;
		s->seq = (unsigned long long)seq;
		s->must = json_is_true(json_object_get(j, "must"));
		s->direct = json_is_true(json_object_get(j, "direct"));
		s->enc = json_is_true(json_object_get(j, "enc"));
		s->wall_ms = json_integer_value(json_object_get(j, "wall_ms"));
		ok = dup_field(j, "room", &s->room) && dup_field(j, "txn", &s->txn) &&
		     dup_field(j, "body", &s->body) && dup_field(j, "event", &s->event) &&
		     dup_field(j, "about", &s->about) && dup_field(j, "class", &s->klass) &&
		     dup_field(j, "entry", &s->entry);
	}
	ok = ok && s->room && *s->room && s->body &&
	     (!matrix_send_is_put(s->kind) || (s->txn && *s->txn));
	if (!ok) {
		matrix_send_destroy(s);
		return NULL;
	}
	return s;
}

/* decode reads a journal file; NULL when it is not one we wrote. */
static struct matrix_send *decode(const char *data, size_t len)
{
	json_t *j = json_loadb(data, len, 0, NULL);
	struct matrix_send *s = decode_json(j);

	json_decref(j);
	return s;
}

/* journal writes s's file. One too large for a state file (replies are
 * far smaller) is sent unjournaled, with a warning. */
enum err matrix_journal_write(struct matrix *m, struct matrix_send *s)
{
	char name[JOURNAL_NAME_MAX], *data = NULL;
	enum err e;

	if (m->journal_defer) { /* written with its batch's group */
		s->deferred = 1;
		m->n_deferred++;
		return ERR_OK;
	}
	e = outbox(m);

	if (e == ERR_OK)
		e = encode(s, &data);
	if (e == ERR_OK && strlen(data) > STATE_FILE_MAX) {
		log_warn("%s room=%s txn=%s: too large for the outbox; sent unjournaled",
			 kind_name[s->kind], s->room, s->txn ? s->txn : "-");
		free(data);
		return ERR_OK;
	}
	file_name(s->seq, name, sizeof(name));
	if (e == ERR_OK)
		e = state_write(m->outbox, name, data, strlen(data), 0600);
	free(data);
	if (e != ERR_OK) {
		matrix_set_err(m, "cannot write the outgoing queue in %s/%s: %s", m->state_dir,
			       MATRIX_OUTBOX_DIR, err_str(e));
		return ERR_IO;
	}
	s->journaled = 1;
	return ERR_OK;
}

/* ---- a batch's sends, journaled together -------------------------------
 *
 * While a /sync batch is handled (journal_defer), a send is not written
 * on its own: creating a file costs this machine's ext4 150 us of CPU
 * (inode allocation), two fsyncs 6 ms of disk, which a batch of 1,000
 * questions in 1,000 rooms pays 1,000 times. It is marked deferred, and
 * goes out at once all the same; matrix_send_flush, before the batch's
 * since is saved, writes every deferred send still waiting into group
 * files (g-<seq>: a JSON array of the sends, at most STATE_FILE_MAX
 * each), syncs them and the folder once, and each send then belongs to
 * its group: the file goes when its last send is done or dropped. A crash
 * before the flush replays the batch (since was not saved); at a start,
 * a group file queues its sends again like single files. A send already
 * done when its group's file was lost to a crash is sent again at most
 * once, and its transaction id keeps it from showing twice. */

static void group_name(unsigned long long seq, char *buf, size_t len)
{
	snprintf(buf, len, "g-%016llx", seq);
}

/* group_add counts one more send waiting in group seq; 0 on no memory. */
static int group_add(struct matrix *m, unsigned long long seq)
{
	struct matrix_group *g;
	size_t i, ncap;

	for (i = 0; i < m->n_groups; i++)
		if (m->groups[i].seq == seq) {
			m->groups[i].pending++;
			return 1;
		}
	if (m->n_groups == m->cap_groups) {
		ncap = m->cap_groups ? 2 * m->cap_groups : 16;
		g = realloc(m->groups, ncap * sizeof(*g));
		if (!g)
			return 0;
		m->groups = g;
		m->cap_groups = ncap;
	}
	m->groups[m->n_groups].seq = seq;
	m->groups[m->n_groups++].pending = 1;
	return 1;
}

/* group_done: one send of group seq is done or dropped; its file goes
 * with the last. */
static void group_done(struct matrix *m, unsigned long long seq)
{
	char name[JOURNAL_NAME_MAX];
	size_t i;

	for (i = 0; i < m->n_groups; i++)
		if (m->groups[i].seq == seq && --m->groups[i].pending == 0) {
			group_name(seq, name, sizeof(name));
			if (state_remove(m->outbox, name) != ERR_OK)
				log_warn("cannot remove %s/%s: its sends go again (once) at the "
					 "next start",
					 m->outbox, name);
			m->groups[i] = m->groups[--m->n_groups];
			return;
		}
}

/* group_write writes the sends v[0..n) as one group file, unsynced;
 * they belong to it once the caller has synced it. */
static enum err group_write(struct matrix *m, struct matrix_send **v, size_t n, const char *data,
			    size_t len, unsigned long long *seq)
{
	char name[JOURNAL_NAME_MAX];
	enum err e;
	size_t i;

	*seq = ++m->send_seq;
	group_name(*seq, name, sizeof(name));
	e = state_write_unsynced(m->outbox, name, data, len, 0600);
	for (i = 0; i < n && e == ERR_OK; i++) {
		if (!group_add(m, *seq))
			e = ERR_NOMEM;
		v[i]->group = *seq;
		v[i]->journaled = 1;
		v[i]->deferred = 0;
		m->n_deferred--;
	}
	return e;
}

/* flush_groups packs the deferred sends into group files of at most
 * STATE_FILE_MAX bytes; their names go to seqs (*n of them). */
static enum err flush_groups(struct matrix *m, unsigned long long *seqs, size_t *n)
{
	struct matrix_send *v[MATRIX_QUEUE_MAX], *s;
	char buf[STATE_FILE_MAX], *one;
	size_t len = 0, k = 0, i, l;
	enum err e = ERR_OK;

	*n = 0;
	for (i = 0; i < m->n_outq && e == ERR_OK; i++)
		for (s = m->outq[i].head; s && e == ERR_OK; s = s->next) {
			if (!s->deferred)
				continue;
			e = encode(s, &one);
			l = e == ERR_OK ? strlen(one) : 0;
			if (e == ERR_OK && k &&
			    (len + l + 2 > sizeof(buf) || k == MATRIX_QUEUE_MAX) &&
			    *n == MATRIX_QUEUE_MAX)
				e = ERR_LIMIT;
			if (e == ERR_OK && k &&
			    (len + l + 2 > sizeof(buf) || k == MATRIX_QUEUE_MAX)) {
				buf[len++] = ']';
				e = group_write(m, v, k, buf, len, &seqs[(*n)++]);
				len = k = 0;
			}
			if (e == ERR_OK && l + 2 > sizeof(buf))
				e = ERR_LIMIT; /* a send far larger than any reply */
			if (e == ERR_OK) {
				buf[len++] = k ? ',' : '[';
				memcpy(buf + len, one, l);
				len += l;
				v[k++] = s;
			}
			free(one);
		}
	if (e == ERR_OK && k) {
		buf[len++] = ']';
		e = group_write(m, v, k, buf, len, &seqs[(*n)++]);
	}
	return e;
}

/* to_disk hands the group files seqs[0..n) to the fsyncs' thread; 0 when
 * it cannot take them (the caller syncs them itself). */
static int to_disk(struct matrix *m, const unsigned long long *seqs, size_t n)
{
	char *names[MATRIX_QUEUE_MAX + 1];
	size_t i, k;

	for (i = 0; i < n; i++) {
		names[i] = malloc(JOURNAL_NAME_MAX);
		if (!names[i])
			break;
		group_name(seqs[i], names[i], JOURNAL_NAME_MAX);
	}
	if (i == n && matrix_disk_put(m, names, n, NULL) == ERR_OK)
		return 1;
	for (k = 0; k < i; k++)
		free(names[k]);
	return 0;
}

enum err matrix_send_flush(struct matrix *m)
{
	unsigned long long seqs[MATRIX_QUEUE_MAX + 1];
	char name[JOURNAL_NAME_MAX];
	enum err e = ERR_OK;
	size_t n = 0, i;

	if (!m->n_deferred)
		return ERR_OK;
	e = outbox(m);
	if (e == ERR_OK)
		e = flush_groups(m, seqs, &n);
	if (e == ERR_OK && n && to_disk(m, seqs, n))
		return ERR_OK; /* synced off the loop, before the batch's since */
	for (i = 0; i < n && e == ERR_OK; i++) {
		group_name(seqs[i], name, sizeof(name));
		e = state_sync_file(m->outbox, name);
	}
	if (e == ERR_OK && n)
		e = state_sync_dir(m->outbox);
	if (e != ERR_OK) {
		matrix_set_err(m, "cannot write the outgoing queue in %s/%s: %s", m->state_dir,
			       MATRIX_OUTBOX_DIR, err_str(e));
		return ERR_IO;
	}
	return ERR_OK;
}

enum err matrix_journal_rewrite(struct matrix *m, struct matrix_send *s)
{
	unsigned long long g = s->group;
	int defer = m->journal_defer;
	enum err e;

	if (!s->journaled || s->deferred)
		return ERR_OK; /* a group still to write takes the body as it is */
	/* its own file, synced, before its group lets go of the old body */
	s->group = 0;
	m->journal_defer = 0;
	e = matrix_journal_write(m, s);
	m->journal_defer = defer;
	if (e != ERR_OK) {
		s->group = g;
		return e;
	}
	if (g)
		group_done(m, g);
	return ERR_OK;
}

void matrix_journal_drop(struct matrix *m, const struct matrix_send *s)
{
	char name[JOURNAL_NAME_MAX];

	if (s->deferred)
		m->n_deferred--; /* done before its batch's group was written */
	if (s->group) {
		group_done(m, s->group);
		return;
	}
	if (!s->journaled || !m->outbox)
		return;
	file_name(s->seq, name, sizeof(name));
	if (state_remove(m->outbox, name) != ERR_OK)
		log_warn("cannot remove %s/%s: it will be sent again (once) at the next start",
			 m->outbox, name);
}

/* ---- at start: the journal of an earlier run -------------------------- */

static int by_seq(const void *a, const void *b)
{
	const struct matrix_send *x = *(struct matrix_send *const *)a;
	const struct matrix_send *y = *(struct matrix_send *const *)b;

	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* read_one reads the journal file name (q-<seq>) into *out, or removes
 * it when it cannot be read: a torn file is never sent. */
static void read_one(struct matrix *m, const char *name, struct matrix_send **out)
{
	char *data = NULL;
	size_t len = 0;

	*out = NULL;
	if (state_read(m->outbox, name, &data, &len) == ERR_OK)
		*out = decode(data, len);
	free(data);
	if (!*out) {
		log_warn("outbox: %s unreadable; removed", name);
		state_remove(m->outbox, name);
	}
}

/* keep adds s to the sends read (*v, *n of *cap); -1 on no memory (s
 * freed). */
static int keep(struct matrix_send ***v, size_t *n, size_t *cap, struct matrix_send *s)
{
	struct matrix_send **nv;

	if (*n == *cap) {
		*cap = *cap ? *cap * 2 : 16;
		nv = realloc(*v, *cap * sizeof(**v));
		if (!nv) {
			matrix_send_destroy(s);
			return -1;
		}
		*v = nv;
	}
	(*v)[(*n)++] = s;
	return 0;
}

/* read_group reads a group file (g-<seq>: the sends of one batch) into
 * the sends read; one that cannot be read is removed, as a single file
 * is, and a send in it that is not one we wrote is skipped. */
static void read_group(struct matrix *m, const char *name, unsigned long long seq,
		       struct matrix_send ***v, size_t *n, size_t *cap)
{
	struct matrix_send *s;
	json_t *j = NULL, *one;
	char *data = NULL;
	size_t len = 0, i, got = 0;

	if (state_read(m->outbox, name, &data, &len) == ERR_OK)
		j = json_loadb(data, len, 0, NULL);
	free(data);
	json_array_foreach(j, i, one)
	{
		s = decode_json(one);
		if (!s || !group_add(m, seq)) {
			matrix_send_destroy(s);
			continue;
		}
		s->group = seq;
		got++;
		if (keep(v, n, cap, s))
			break;
	}
	json_decref(j);
	if (!got) {
		log_warn("outbox: %s unreadable; removed", name);
		state_remove(m->outbox, name);
	}
}

/* same_seq keeps one of two records of the same send (v sorted by seq):
 * a send encrypted after its group was written has its own file too
 * (matrix_journal_rewrite), and a crash may leave both; the encrypted one
 * is what went, or goes, out. The new count. */
static size_t same_seq(struct matrix *m, struct matrix_send **v, size_t n)
{
	size_t i, k = 0;

	for (i = 0; i < n; i++) {
		struct matrix_send *s = v[i], *prev = k ? v[k - 1] : NULL, *drop;

		if (!prev || prev->seq != s->seq) {
			v[k++] = s;
			continue;
		}
		drop = s->enc && !prev->enc ? prev : s;
		if (drop == prev)
			v[k - 1] = s;
		if (drop->group)
			group_done(m, drop->group);
		matrix_send_destroy(drop);
	}
	return k;
}

/* matrix_journal_read: every send the journal holds, oldest first (*v,
 * the caller's; each marked journaled), their count the result. */
size_t matrix_journal_read(struct matrix *m, struct matrix_send ***v)
{
	struct matrix_send *s;
	size_t n = 0, cap = 0, i;
	unsigned long long seq;
	struct dirent *de;
	char path[4096], *end;
	DIR *d;

	if (outbox(m) != ERR_OK || !(d = opendir(m->outbox)))
		return 0;
	while ((de = readdir(d)) && n < JOURNAL_FILES_MAX) {
		if (!strncmp(de->d_name, ".q-", 3) || !strncmp(de->d_name, ".g-", 3)) {
			/* a write a crash cut short */
			snprintf(path, sizeof(path), "%s/%s", m->outbox, de->d_name);
			unlink(path);
			continue;
		}
		if ((strncmp(de->d_name, "q-", 2) && strncmp(de->d_name, "g-", 2)) ||
		    strlen(de->d_name) != 18)
			continue;
		errno = 0;
		seq = strtoull(de->d_name + 2, &end, 16);
		if (*end || errno || !seq)
			continue;
		if (seq > m->send_seq) /* new sends never take an old name */
			m->send_seq = seq;
		if (de->d_name[0] == 'g') {
			read_group(m, de->d_name, seq, v, &n, &cap);
			continue;
		}
		read_one(m, de->d_name, &s);
		if (!s)
			continue;
		s->seq = seq;
		if (keep(v, &n, &cap, s))
			break;
	}
	closedir(d);
	for (i = 0; i < n; i++)
		if ((*v)[i]->seq > m->send_seq)
			m->send_seq = (*v)[i]->seq;
	if (n)
		qsort(*v, n, sizeof(**v), by_seq);
	n = same_seq(m, *v, n);
	for (i = 0; i < n; i++)
		(*v)[i]->journaled = 1;
	return n;
}
