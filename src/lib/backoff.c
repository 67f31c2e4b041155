/* backoff.c -- capped exponential back-off with jitter, and its random
 * source (see backoff.h). */
#include "backoff.h"

#include <unistd.h>

#include "clock.h"

long long backoff_delay_ms(long long base, long long cap, unsigned attempt, unsigned long long rnd)
{
	long long d = base > 0 ? base : 1;
	unsigned i;

	if (cap < d)
		cap = d;
	/* doubling stops at the cap, so d cannot overflow whatever attempt is */
	for (i = 0; i < attempt && d < cap; i++)
		d *= 2;
	if (d > cap)
		d = cap;
	return d / 2 + (long long)(rnd % (unsigned long long)(d / 2 + 1));
}

unsigned long long backoff_seed(void)
{
	/* the multiply spreads the clock's low bits over the word; the seed
	 * only has to differ between bots started together */
	unsigned long long s = (unsigned long long)clock_wall_ms() * 6364136223846793005ULL ^
			       (unsigned long long)clock_mono_ms() << 20 ^
			       (unsigned long long)getpid();

	return s ? s : 0x9e3779b97f4a7c15ULL;
}

unsigned long long backoff_rand(unsigned long long *state)
{
	unsigned long long x = *state ? *state : 0x9e3779b97f4a7c15ULL;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	*state = x;
	return x;
}
