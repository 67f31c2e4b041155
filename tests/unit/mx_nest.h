/* mx_nest.h -- a test fixture the Matrix JSON tests share (test_mx_json,
 * test_mx_repair): deep nesting, as a member can send it. Header-only and
 * static inline, since each test is one program (Makefile). Include it
 * after cmocka.h (it asserts) and <string.h>, <stdlib.h>. */
#ifndef FAQBOT_TEST_MX_NEST_H
#define FAQBOT_TEST_MX_NEST_H

/* nest writes pre, n '[' then n ']', then post, into a new string */
static inline char *nest(const char *pre, size_t n, const char *post)
{
	size_t a = strlen(pre), b = strlen(post);
	char *p = malloc(a + 2 * n + b + 1);

	assert_non_null(p);
	memcpy(p, pre, a);
	memset(p + a, '[', n);
	memset(p + a + n, ']', n);
	memcpy(p + a + 2 * n, post, b + 1);
	return p;
}

#endif
