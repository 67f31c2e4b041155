/* mx_jout.c -- json_dumps(JSON_COMPACT)'s output, faster (see mx_jout.h). */
#include "mx_jout.h"

#include <stdio.h>
#include <string.h>

#include "buf.h"

#define JOUT_DEPTH_MAX 64        /* what the bot builds is a few levels deep */
#define JOUT_MAX       (1 << 26) /* 64 MB: far above any body it sends */

/* put_string writes s[0..n) quoted and escaped as jansson's dump_string
 * does without flags: a run of plain bytes at a time. */
static void put_string(struct buf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t i = 0, run;
	char esc[7];

	buf_append(b, "\"", 1);
	while (i < n) {
		for (run = i; run < n; run++) {
			unsigned char c = (unsigned char)s[run];

			if (c < 0x20 || c == '"' || c == '\\')
				break;
		}
		buf_append(b, s + i, run - i);
		if (run == n)
			break;
		switch (s[run]) {
		case '"':
			buf_append(b, "\\\"", 2);
			break;
		case '\\':
			buf_append(b, "\\\\", 2);
			break;
		case '\b':
			buf_append(b, "\\b", 2);
			break;
		case '\f':
			buf_append(b, "\\f", 2);
			break;
		case '\n':
			buf_append(b, "\\n", 2);
			break;
		case '\r':
			buf_append(b, "\\r", 2);
			break;
		case '\t':
			buf_append(b, "\\t", 2);
			break;
		default:
			memcpy(esc, "\\u00", 4);
			esc[4] = hex[((unsigned char)s[run] >> 4) & 0xF];
			esc[5] = hex[(unsigned char)s[run] & 0xF];
			buf_append(b, esc, 6);
		}
		i = run + 1;
	}
	buf_append(b, "\"", 1);
}

void mx_jout_string(struct buf *b, const char *s, size_t n)
{
	put_string(b, s, n);
}

/* utf8_len: the length of the sequence lead byte c starts, as jansson's
 * utf8_check_first has it; 0 for a byte no sequence starts with */
static size_t utf8_len(unsigned char c)
{
	if (c < 0x80)
		return 1;
	if (c < 0xC2)
		return 0; /* a continuation byte, or an overlong 2-byte lead */
	if (c < 0xE0)
		return 2;
	if (c < 0xF0)
		return 3;
	return c < 0xF5 ? 4 : 0;
}

int mx_jout_utf8_ok(const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0, k, len;
	unsigned long v;

	while (i < n) {
		if (u[i] < 0x80) { /* the common case: ASCII, a byte at a time */
			i++;
			continue;
		}
		len = utf8_len(u[i]);
		if (!len || n - i < len)
			return 0;
		v = u[i] & (len == 2 ? 0x1F : len == 3 ? 0x0F : 0x07);
		for (k = 1; k < len; k++) {
			if ((u[i + k] & 0xC0) != 0x80)
				return 0;
			v = (v << 6) | (u[i + k] & 0x3F);
		}
		if ((len == 3 && v < 0x800) || (len == 4 && v < 0x10000) || v > 0x10FFFF ||
		    (v >= 0xD800 && v <= 0xDFFF))
			return 0;
		i += len;
	}
	return 1;
}

/* has_real: is there a real number anywhere in j (depth-capped)? */
static int has_real(const json_t *j, int depth)
{
	const char *k;
	json_t *v;
	size_t i;

	if (depth > JOUT_DEPTH_MAX)
		return 0;
	if (json_is_real(j))
		return 1;
	if (json_is_object(j)) {
		json_object_foreach((json_t *)j, k, v)
		{
			if (has_real(v, depth + 1))
				return 1;
		}
	}
	json_array_foreach(j, i, v)
	{
		if (has_real(v, depth + 1))
			return 1;
	}
	return 0;
}

/* put_value writes j; -1 for what it cannot write (too deep). */
static int put_value(struct buf *b, const json_t *j, int depth)
{
	char num[32];
	const char *k;
	json_t *v;
	size_t i;
	int first = 1, n;

	if (depth > JOUT_DEPTH_MAX || !j)
		return -1;
	switch (json_typeof(j)) {
	case JSON_OBJECT:
		buf_append(b, "{", 1);
		json_object_foreach((json_t *)j, k, v)
		{
			if (!first)
				buf_append(b, ",", 1);
			first = 0;
			put_string(b, k, strlen(k));
			buf_append(b, ":", 1);
			if (put_value(b, v, depth + 1))
				return -1;
		}
		buf_append(b, "}", 1);
		return 0;
	case JSON_ARRAY:
		buf_append(b, "[", 1);
		json_array_foreach(j, i, v)
		{
			if (i)
				buf_append(b, ",", 1);
			if (put_value(b, v, depth + 1))
				return -1;
		}
		buf_append(b, "]", 1);
		return 0;
	case JSON_STRING:
		put_string(b, json_string_value(j), json_string_length(j));
		return 0;
	case JSON_INTEGER:
		n = snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, json_integer_value(j));
		buf_append(b, num, (size_t)n);
		return 0;
	case JSON_TRUE:
		buf_append(b, "true", 4);
		return 0;
	case JSON_FALSE:
		buf_append(b, "false", 5);
		return 0;
	case JSON_NULL:
		buf_append(b, "null", 4);
		return 0;
	default:
		return -1; /* a real: has_real sent it to json_dumps */
	}
}

enum err mx_jout_dumps(const json_t *j, char **out)
{
	struct buf b;

	*out = NULL;
	if (!j)
		return ERR_INVALID;
	if (has_real(j, 0)) {
		*out = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
		return *out ? ERR_OK : ERR_NOMEM;
	}
	buf_init(&b, JOUT_MAX);
	if (put_value(&b, j, 0)) {
		buf_release(&b);
		return ERR_INVALID;
	}
	return buf_take(&b, out) == ERR_OK ? ERR_OK : ERR_NOMEM;
}
