/* backoff.h -- the wait before a retry, and the random draw that jitters
 * it: one for every transport.
 *
 * Capped exponential with "equal jitter": the step is base doubled once
 * an attempt, at most cap, and the wait is somewhere between half the step
 * and the step, so bots restarting together do not come back in step, and
 * never less than half the base, so no failure loops tight. The delay is
 * pure (the caller draws the random number), so tests give the draw; the
 * generator is xorshift64: jitter needs spread, not secrecy. Not here: the
 * waiting itself, which each transport does in its own loop. */
#ifndef FAQBOT_BACKOFF_H
#define FAQBOT_BACKOFF_H

/* backoff_delay_ms: the wait before retry number attempt + 1 (0 is the
 * first retry). base <= 0 counts as 1 and a cap below base as base. The
 * result is d / 2 + rnd % (d / 2 + 1), d = min(base * 2^attempt, cap). */
long long backoff_delay_ms(long long base, long long cap, unsigned attempt, unsigned long long rnd);

/* backoff_seed: a non-zero seed for backoff_rand, different from one
 * process and one start to the next (the wall clock, the monotonic clock
 * and the process id mixed). */
unsigned long long backoff_seed(void);

/* backoff_rand advances *state (never zero: a zero state is reseeded with
 * a fixed odd constant, since xorshift would stay at zero) and returns it. */
unsigned long long backoff_rand(unsigned long long *state);

#endif
