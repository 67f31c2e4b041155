/* buf.c -- a growable string with a ceiling (buf.h). */
#include "buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void buf_init(struct buf *b, size_t max)
{
	memset(b, 0, sizeof(*b));
	b->max = max;
}

void buf_init_cut(struct buf *b, size_t max)
{
	buf_init(b, max);
	b->cut_ok = 1;
}

void buf_append(struct buf *b, const char *data, size_t n)
{
	if (b->failed || b->cut)
		return;
	if (n > b->max - b->len) {
		if (!b->cut_ok) {
			b->failed = 1;
			return;
		}
		/* keep what fits, not ending inside a UTF-8 sequence */
		b->cut = 1;
		n = b->max - b->len;
		while (n > 0 && ((unsigned char)data[n] & 0xC0) == 0x80)
			n--;
		if (!n)
			return;
	}
	if (b->len + n + 1 > b->cap) {
		size_t nc = b->cap ? b->cap : 64;
		char *ns;

		while (nc < b->len + n + 1)
			nc *= 2;
		ns = realloc(b->s, nc);
		if (!ns) {
			b->failed = b->nomem = 1;
			return;
		}
		b->s = ns;
		b->cap = nc;
	}
	memcpy(b->s + b->len, data, n);
	b->len += n;
	b->s[b->len] = '\0';
}

void buf_puts(struct buf *b, const char *s)
{
	buf_append(b, s, strlen(s));
}

void buf_printf(struct buf *b, const char *fmt, ...)
{
	char small[256], *big = NULL;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0) {
		b->failed = 1;
		return;
	}
	if ((size_t)n < sizeof(small)) {
		buf_append(b, small, (size_t)n);
		return;
	}
	big = malloc((size_t)n + 1);
	if (!big) {
		b->failed = b->nomem = 1;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(big, (size_t)n + 1, fmt, ap);
	va_end(ap);
	buf_append(b, big, (size_t)n);
	free(big);
}

char *buf_detach(struct buf *b)
{
	char *s = b->failed ? NULL : b->s ? b->s : calloc(1, 1);

	if (b->failed)
		free(b->s);
	memset(b, 0, sizeof(*b));
	return s;
}

void buf_release(struct buf *b)
{
	free(b->s);
	memset(b, 0, sizeof(*b));
}

enum err buf_take(struct buf *b, char **out)
{
	enum err e = !b->failed ? ERR_OK : b->nomem ? ERR_NOMEM : ERR_LIMIT;

	*out = buf_detach(b);
	if (e == ERR_OK && !*out)
		e = ERR_NOMEM; /* the empty string for a buffer never appended to */
	return e;
}
