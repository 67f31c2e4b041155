/* loop.h -- the one event loop of a running bot (app layer).
 *
 * One thread, one poll(): every transport behind its ops table
 * (transport.h), the core's tick and what wakes it (a flag a signal sets,
 * a descriptor such as the FAQ folder's inotify, a deadline the core
 * names, such as "the folder has been quiet long enough"), the health
 * marks `faqbot health` reads, and a crisis carried to the moderators of
 * the other networks. Nothing here sleeps but poll, and a poll never lasts
 * more than LOOP_SLICE_MS, so a stop flag set by a signal between two
 * looks is seen at once.
 *
 * Not here: the answer to a message (the handler, serve.h), what a network
 * does (its transport), argv and signal handlers (main.c). */
#ifndef FAQBOT_LOOP_H
#define FAQBOT_LOOP_H

#include <signal.h>

#include "err.h"
#include "transport.h"

#define LOOP_NETS_MAX 4   /* transports in one loop */
#define LOOP_SLICE_MS 100 /* the longest single poll */
#define LOOP_WAKE_GAP_MS \
	50                 /* a wake left set by a tick is not looked at
                              * sooner than this after it: no busy loop */
#define LOOP_ALERTS_MAX 16 /* alerts for other networks waiting a turn */
#define LOOP_ERRSTR_MAX 512

struct loop_config {
	tr_handler_fn handle; /* each member's message, with ctx */
	void *ctx;
	struct tr_tick tick; /* the core's tick, called with ctx; fn NULL:
	                       * none. The loop never resets *wake nor reads
	                       * wake_fd: the tick must. A wake the tick left
	                       * set is ignored until a timed tick (every
	                       * TR_TICK_MS) finds it cleared. */
	/* tick_next: clock_mono_ms() by which the core wants its tick again
	 * (serve_next_ms), or -1; NULL: only TR_TICK_MS and the wakes. */
	long long (*tick_next)(const void *ctx);
	volatile sig_atomic_t *stop; /* non-zero: stop every transport, return */
};

struct loop;

/* loop_new makes an empty loop; *c is copied. ERR_NOMEM. */
enum err loop_new(const struct loop_config *c, struct loop **out);

/* loop_add adds a transport (t, driven through ops; both borrowed, and
 * started by loop_run). mark_dir and mark_file: where the loop writes its
 * health mark (health.h) while it lives, or NULL: none. alerts: 1 when
 * this network's moderators are to hear of a crisis on another network
 * of the loop (who and where, never the words). ERR_LIMIT past
 * LOOP_NETS_MAX. */
enum err loop_add(struct loop *l, const struct transport_ops *ops, void *t, const char *mark_dir,
		  const char *mark_file, int alerts);

/* loop_run clears the marks, starts every transport in the order added,
 * and serves until *stop (each transport then stops gently, ERR_OK) or
 * until every transport is done (ERR_OK). A transport that cannot start
 * or fails stops the others and its error is returned, loop_errstr
 * saying "name: why". */
enum err loop_run(struct loop *l);

/* loop_errstr: one line, borrowed; "" when none. */
const char *loop_errstr(const struct loop *l);

/* loop_ticks: the ticks run, for the drivers' counts. */
unsigned long loop_ticks(const struct loop *l);

/* loop_free frees l, not the transports; NULL is a no-op. */
void loop_free(struct loop *l);

#endif
