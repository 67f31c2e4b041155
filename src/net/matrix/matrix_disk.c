/* matrix_disk.c -- the Matrix transport's fsyncs, off the loop (see
 * matrix_int.h): a batch's group files and then its sync position are
 * made durable by a thread of their own, in the order they were asked
 * for, while the loop goes on serving. An fsync costs this disk 3 to 6 ms
 * and a batch four of them; done in the loop they held every room's next
 * message that long, the tail of the reply latency.
 *
 * Why it is safe: the position in memory moves on at once (the next /sync
 * asks from it), the one on disk only after the files of every batch
 * before it are on disk, so a crash at any point restarts from a position
 * whose batches' sends are all in the outbox, or replays batches whose
 * sends the transaction ids keep from showing twice. A group file that
 * cannot be synced stops every later position from being saved, and the
 * loop then stops the transport (matrix_disk_failed), as a journal it
 * cannot write always did. */
#include "matrix_int.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "state.h"
#include "strs.h"

/* One piece of work: files of the outbox to sync (then the folder), then
 * a position to save. A job not begun yet takes the next one's work. */
struct disk_job {
	struct disk_job *next;
	char **files;
	size_t n, cap;
	char *since;
};

struct matrix_disk {
	pthread_t th;
	pthread_mutex_t mu;
	pthread_cond_t work, idle;
	struct disk_job *head, *tail; /* waiting, oldest first */
	int busy, stop, failed;
	char why[MATRIX_ERRSTR_MAX];
	char *outbox, *state_dir; /* copies: the thread reads them */
};

static void job_free(struct disk_job *j)
{
	size_t i;

	if (!j)
		return;
	for (i = 0; i < j->n; i++)
		free(j->files[i]);
	free(j->files);
	free(j->since);
	free(j);
}

/* run does one job; ERR_OK or why it failed in why. */
static enum err run(struct matrix_disk *d, const struct disk_job *j, char *why, size_t len)
{
	enum err e = ERR_OK;
	size_t i;

	for (i = 0; i < j->n && e == ERR_OK; i++)
		e = state_sync_file(d->outbox, j->files[i]);
	if (e == ERR_OK && j->n)
		e = state_sync_dir(d->outbox);
	if (e != ERR_OK) {
		snprintf(why, len, "cannot sync the outgoing queue in %s: %s", d->outbox,
			 err_str(e));
		return e;
	}
	if (j->since)
		e = state_write(d->state_dir, MATRIX_SINCE_FILE, j->since, strlen(j->since), 0600);
	if (e != ERR_OK)
		snprintf(why, len, "cannot save the sync position in %s: %s", d->state_dir,
			 err_str(e));
	return e;
}

static void *worker(void *arg)
{
	struct matrix_disk *d = arg;
	char why[MATRIX_ERRSTR_MAX];
	struct disk_job *j;
	enum err e;

	pthread_mutex_lock(&d->mu);
	for (;;) {
		while (!d->head && !d->stop)
			pthread_cond_wait(&d->work, &d->mu);
		if (!d->head)
			break; /* stopped, nothing left */
		j = d->head;
		d->head = j->next;
		if (!d->head)
			d->tail = NULL;
		d->busy = 1;
		pthread_mutex_unlock(&d->mu);
		/* after a failure no position is saved again: a later one would
		 * pass a batch whose sends are not on disk */
		e = d->failed ? ERR_IO : run(d, j, why, sizeof(why));
		job_free(j);
		pthread_mutex_lock(&d->mu);
		if (e != ERR_OK && !d->failed) {
			d->failed = 1;
			memcpy(d->why, why, sizeof(why));
		}
		d->busy = 0;
		pthread_cond_broadcast(&d->idle);
	}
	pthread_mutex_unlock(&d->mu);
	return NULL;
}

/* disk_of starts the thread at its first use; NULL on failure (the caller
 * then does the work itself, in the loop, as before). */
static struct matrix_disk *disk_of(struct matrix *m)
{
	struct matrix_disk *d = m->disk;

	if (d || m->disk_broken)
		return d;
	d = calloc(1, sizeof(*d));
	if (d) {
		size_t n = strlen(m->state_dir) + sizeof(MATRIX_OUTBOX_DIR) + 2;

		d->outbox = malloc(n);
		if (d->outbox)
			snprintf(d->outbox, n, "%s/%s", m->state_dir, MATRIX_OUTBOX_DIR);
		d->state_dir = strs_dup(m->state_dir);
	}
	if (!d || !d->outbox || !d->state_dir || pthread_mutex_init(&d->mu, NULL) ||
	    pthread_cond_init(&d->work, NULL) || pthread_cond_init(&d->idle, NULL) ||
	    pthread_create(&d->th, NULL, worker, d)) {
		log_warn("the sync position is saved in the loop: no thread for it");
		if (d) {
			free(d->outbox);
			free(d->state_dir);
		}
		free(d);
		m->disk_broken = 1;
		return NULL;
	}
	m->disk = d;
	return d;
}

/* tail_job: the newest job not begun, made if there is none; with mu held. */
static struct disk_job *tail_job(struct matrix_disk *d)
{
	struct disk_job *j = d->tail;

	if (j)
		return j; /* waiting: it takes this work too */
	j = calloc(1, sizeof(*j));
	if (j)
		d->head = d->tail = j;
	return j;
}

enum err matrix_disk_put(struct matrix *m, char **files, size_t n, const char *since)
{
	struct matrix_disk *d = disk_of(m);
	struct disk_job *j;
	enum err e = ERR_OK;
	char **nf, *copy = NULL;
	size_t i;

	if (!d)
		return ERR_INVALID; /* the caller does it itself */
	if (since && !(copy = strs_dup(since)))
		return ERR_NOMEM;
	pthread_mutex_lock(&d->mu);
	j = tail_job(d);
	if (!j)
		e = ERR_NOMEM;
	if (e == ERR_OK && j->n + n > j->cap) {
		nf = realloc(j->files, (j->n + n + 16) * sizeof(*nf));
		if (nf) {
			j->files = nf;
			j->cap = j->n + n + 16;
		} else {
			e = ERR_NOMEM;
		}
	}
	if (e == ERR_OK) {
		for (i = 0; i < n; i++)
			j->files[j->n++] = files[i]; /* taken */
		if (copy) {
			free(j->since); /* a later position replaces one not saved yet */
			j->since = copy;
			copy = NULL;
		}
		pthread_cond_signal(&d->work);
	}
	pthread_mutex_unlock(&d->mu);
	free(copy);
	return e;
}

int matrix_disk_failed(struct matrix *m)
{
	struct matrix_disk *d = m->disk;
	int failed;

	if (!d)
		return 0;
	pthread_mutex_lock(&d->mu);
	failed = d->failed;
	if (failed)
		matrix_set_err(m, "%s", d->why);
	pthread_mutex_unlock(&d->mu);
	return failed;
}

int matrix_disk_wait(struct matrix *m, long long ms)
{
	struct matrix_disk *d = m->disk;
	long long end = clock_mono_ms() + ms;
	struct timespec ts;
	int done;

	if (!d)
		return 1;
	pthread_mutex_lock(&d->mu);
	while ((d->head || d->busy) && clock_mono_ms() < end) {
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 20 * 1000000L; /* look at the clock again soon */
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&d->idle, &d->mu, &ts);
	}
	done = !d->head && !d->busy;
	pthread_mutex_unlock(&d->mu);
	return done;
}

void matrix_disk_free(struct matrix *m)
{
	struct matrix_disk *d = m->disk;
	struct disk_job *j;

	if (!d)
		return;
	pthread_mutex_lock(&d->mu);
	d->stop = 1;
	pthread_cond_signal(&d->work);
	pthread_mutex_unlock(&d->mu);
	pthread_join(d->th, NULL); /* it ends the jobs waiting first */
	while ((j = d->head)) {
		d->head = j->next;
		job_free(j);
	}
	pthread_mutex_destroy(&d->mu);
	pthread_cond_destroy(&d->work);
	pthread_cond_destroy(&d->idle);
	free(d->outbox);
	free(d->state_dir);
	free(d);
	m->disk = NULL;
}
