/* test_mx_index.c -- the index by room id against a linear scan: random
 * adds and swap-removals (as the room cache and the send queues make
 * them) over keys that collide in few slots, every lookup the same as the
 * scan's, present or not; and an index used before anything was added. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mx_index.h"

#define N 3000

struct arr {
	char *keys[N];
	size_t n;
};

static const char *key_at(const void *ctx, size_t i)
{
	return ((const struct arr *)ctx)->keys[i];
}

static long scan(const struct arr *a, const char *k)
{
	size_t i;

	for (i = 0; i < a->n; i++)
		if (!strcmp(a->keys[i], k))
			return (long)i;
	return -1;
}

static void test_against_scan(void **st)
{
	static struct arr a;
	struct mx_index x;
	unsigned seed = 7;
	char k[64];
	size_t i, at, last;
	int op;

	(void)st;
	mx_index_init(&x, key_at, &a);
	assert_int_equal(mx_index_find(&x, "!none:x"), -1);
	mx_index_remove(&x, "!none:x", 0); /* empty: nothing to do */
	for (op = 0; op < 40000; op++) {
		seed = seed * 1103515245u + 12345u;
		snprintf(k, sizeof(k), "!room%u:x.org", (seed >> 8) % 5000);
		if (mx_index_find(&x, k) != scan(&a, k))
			fail_msg("lookup of %s differs at op %d", k, op);
		if (scan(&a, k) < 0 && a.n < N && (seed & 3)) {
			a.keys[a.n] = strdup(k);
			assert_int_equal(mx_index_add(&x, a.n), ERR_OK);
			a.n++;
		} else if (scan(&a, k) >= 0) { /* the swap-removal of the caches */
			at = (size_t)scan(&a, k);
			last = a.n - 1;
			mx_index_remove(&x, a.keys[at], at);
			mx_index_moved(&x, a.keys[last], last, at);
			free(a.keys[at]);
			a.keys[at] = a.keys[last];
			a.n--;
		}
	}
	for (i = 0; i < a.n; i++)
		assert_int_equal(mx_index_find(&x, a.keys[i]), (long)i);
	assert_int_equal(x.n, a.n);
	for (i = 0; i < a.n; i++)
		free(a.keys[i]);
	mx_index_release(&x);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_against_scan),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
