/* clock.h -- the two clocks faqbot reads, once.
 *
 * clock_mono_ms for intervals and deadlines (never jumps with the wall
 * clock, so a settime cannot stall a back-off or fire a timeout early);
 * clock_wall_ms for what must mean the same after a restart (transaction
 * ids, the age of a journalled reply). Not here: the core's clock, which
 * is a time_t passed in so its tests can set it. */
#ifndef FAQBOT_CLOCK_H
#define FAQBOT_CLOCK_H

/* clock_mono_ms: milliseconds on CLOCK_MONOTONIC (from an unspecified
 * start; only differences mean anything). */
long long clock_mono_ms(void);

/* clock_mono_ns: the same clock in nanoseconds, for measuring work (a
 * batch's cost, in the log and the bench). */
long long clock_mono_ns(void);

/* clock_cpu_ns: the calling thread's CPU time in nanoseconds: what a piece
 * of work cost, whatever else the machine was doing meanwhile. */
long long clock_cpu_ns(void);

/* clock_wall_ms: milliseconds since the epoch, CLOCK_REALTIME. */
long long clock_wall_ms(void);

#endif
