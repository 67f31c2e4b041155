/* mx_repair.c -- the raw bytes of a Matrix body (see mx_repair.h): the
 * repair pass (a copy only when something needed changing), the next_batch
 * scan of a body that is not JSON even so, and loading through both, so no
 * body holds the bot. Linear, no recursion: the input is a member's. */
#include "mx_repair.h"

#include <stdlib.h>
#include <string.h>

static int is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* hex4 reads 4 hex digits at s (n bytes available); -1 if they are not. */
static long hex4(const char *s, size_t n)
{
	long v = 0;
	size_t i;
	char c;

	if (n < 4)
		return -1;
	for (i = 0; i < 4; i++) {
		c = s[i];
		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= c - '0';
		else if (c >= 'a' && c <= 'f')
			v |= c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			v |= c - 'A' + 10;
		else
			return -1;
	}
	return v;
}

/* utf8_len: the length of the well-formed UTF-8 sequence at s (RFC 3629:
 * no overlong forms, no surrogates, nothing past U+10FFFF), 0 if there is
 * none. n bytes are available. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	unsigned char c = s[0], lo = 0x80, hi = 0xBF;
	size_t k, i;

	if (c < 0x80)
		return 1;
	if (c >= 0xC2 && c <= 0xDF)
		k = 2;
	else if (c >= 0xE0 && c <= 0xEF)
		k = 3;
	else if (c >= 0xF0 && c <= 0xF4)
		k = 4;
	else
		return 0;
	if (c == 0xE0)
		lo = 0xA0;
	else if (c == 0xED)
		hi = 0x9F;
	else if (c == 0xF0)
		lo = 0x90;
	else if (c == 0xF4)
		hi = 0x8F;
	if (n < k || s[1] < lo || s[1] > hi)
		return 0;
	for (i = 2; i < k; i++)
		if ((s[i] & 0xC0) != 0x80)
			return 0;
	return k;
}

/* skip_string returns the index just after the string that opens at
 * in[i] == '"', or len + 1 when it does not close. */
static size_t skip_string(const char *in, size_t len, size_t i)
{
	for (i++; i < len; i++) {
		if (in[i] == '\\')
			i++;
		else if (in[i] == '"')
			return i + 1;
	}
	return len + 1;
}

/* The repair pass: reads in, writes rewrites to a copy made at the first. */
struct rp {
	const char *in;
	size_t len;
	char *out;
	struct mx_repair *r;
};

/* rp_put writes n bytes of s at offset at of the copy; -1: no memory. */
static int rp_put(struct rp *p, size_t at, const char *s, size_t n)
{
	if (!p->out) {
		p->out = malloc(p->len + 1);
		if (!p->out)
			return -1;
		memcpy(p->out, p->in, p->len);
		p->out[p->len] = '\0';
	}
	memcpy(p->out + at, s, n);
	return 0;
}

/* rp_blank replaces in[at, at + n) by word and spaces (n >= strlen(word)):
 * the value is gone, the bytes around it do not move. */
static int rp_blank(struct rp *p, size_t at, size_t n, const char *word)
{
	size_t w = strlen(word), i;

	if (rp_put(p, at, word, w))
		return -1;
	for (i = w; i < n; i++)
		p->out[at + i] = ' ';
	return 0;
}

/* rp_key_nuls rewrites each \u0000 of the key string in[a, b) (its
 * quotes excluded) as \ufffd: jansson has no NUL in a key, even with
 * JSON_ALLOW_NUL, and would refuse the whole body. */
static int rp_key_nuls(struct rp *p, size_t a, size_t b)
{
	size_t i;

	for (i = a; i < b; i++) {
		if (p->in[i] != '\\')
			continue;
		if (i + 6 <= b && p->in[i + 1] == 'u' && hex4(p->in + i + 2, 4) == 0) {
			if (rp_put(p, i, "\\ufffd", 6))
				return -1;
			p->r->key_nuls++;
			i += 5;
		} else {
			i++;
		}
	}
	return 0;
}

/* rp_string repairs the string that opens at in[i] == '"' and returns the
 * index after it (len if it does not close); (size_t)-1: no memory. */
static size_t rp_string(struct rp *p, size_t i)
{
	const char *in = p->in;
	size_t len = p->len, start = i + 1, k, n;
	int nuls = 0;
	long v, lo;

	for (i = start; i < len;) {
		unsigned char c = (unsigned char)in[i];

		if (c == '"')
			break;
		if (c == '\\') {
			if (i + 1 < len && in[i + 1] == 'u' &&
			    (v = hex4(in + i + 2, len - i - 2)) >= 0) {
				if (v >= 0xD800 && v <= 0xDBFF && i + 12 <= len &&
				    in[i + 6] == '\\' && in[i + 7] == 'u' &&
				    (lo = hex4(in + i + 8, 4)) >= 0xDC00 && lo <= 0xDFFF) {
					i += 12; /* a pair: one character, kept */
					continue;
				}
				if (v >= 0xD800 && v <= 0xDFFF) {
					if (rp_put(p, i, "\\ufffd", 6))
						return (size_t)-1;
					p->r->surrogates++;
				}
				nuls |= v == 0;
				i += 6;
				continue;
			}
			i += 2; /* any other escape; a bad one stays for jansson */
			continue;
		}
		if (c < 0x20) { /* raw control bytes are not JSON */
			if (rp_put(p, i, " ", 1))
				return (size_t)-1;
			p->r->bad_bytes++;
			i++;
			continue;
		}
		n = utf8_len((const unsigned char *)in + i, len - i);
		if (n) {
			i += n;
			continue;
		}
		if (rp_put(p, i, "?", 1)) /* one byte at a time: the rest follow */
			return (size_t)-1;
		p->r->bad_bytes++;
		i++;
	}
	if (i >= len)
		return len;
	/* a key is a string followed by ':' */
	for (k = i + 1; k < len && is_ws(in[k]); k++)
		;
	if (nuls && k < len && in[k] == ':' && rp_key_nuls(p, start, i))
		return (size_t)-1;
	return i + 1;
}

/* digits_over: whether the n decimal digits at d (no leading zeros) are
 * more than lim, a string of digits. */
static int digits_over(const char *d, size_t n, const char *lim)
{
	size_t ln = strlen(lim);

	if (n != ln)
		return n > ln;
	return memcmp(d, lim, n) > 0;
}

/* rp_number looks at the number token that starts at in[i] and returns
 * the index after it. Numbers jansson refuses as too big (an integer
 * outside 64 bits, a real that overflows a double) become null; so do
 * reals of 1e308 and up, which keeps the test exact without strtod (and
 * its locale). A token that is not a JSON number is left alone. */
static size_t rp_number(struct rp *p, size_t i, int *nomem)
{
	const char *in = p->in, *ip, *fp = NULL;
	size_t len = p->len, s = i, ni, nf = 0, k;
	long long ex = 0;
	int neg = 0, eneg = 0, real = 0, over = 0;

	if (in[i] == '-') {
		neg = 1;
		i++;
	}
	ip = in + i;
	for (ni = 0; i < len && in[i] >= '0' && in[i] <= '9'; i++)
		ni++;
	if (!ni || (ni > 1 && ip[0] == '0'))
		return i > s ? i : s + 1;
	if (i < len && in[i] == '.') {
		real = 1;
		fp = in + ++i;
		for (; i < len && in[i] >= '0' && in[i] <= '9'; i++)
			nf++;
		if (!nf)
			return i;
	}
	if (i < len && (in[i] == 'e' || in[i] == 'E')) {
		real = 1;
		i++;
		if (i < len && (in[i] == '+' || in[i] == '-'))
			eneg = in[i++] == '-';
		if (i >= len || in[i] < '0' || in[i] > '9')
			return i;
		for (; i < len && in[i] >= '0' && in[i] <= '9'; i++)
			if (ex < 100000000)
				ex = ex * 10 + (in[i] - '0');
		if (eneg)
			ex = -ex;
	}
	if (!real) {
		over = digits_over(ip, ni, neg ? "9223372036854775808" : "9223372036854775807");
	} else {
		/* the value is d.ddd x 10^m; m from the first digit not 0 */
		for (k = 0; k < ni && ip[k] == '0'; k++)
			;
		if (k < ni) {
			over = (long long)(ni - k) - 1 + ex >= 308;
		} else {
			for (k = 0; k < nf && fp[k] == '0'; k++)
				;
			over = k < nf && -(long long)k - 1 + ex >= 308;
		}
	}
	if (over) {
		if (rp_blank(p, s, i - s, "null")) {
			*nomem = 1;
			return i;
		}
		p->r->numbers++;
	}
	return i;
}

/* rp_prune replaces the container that opens at in[i], too deep to keep,
 * by 0 and spaces; it returns the index after it, or len (left as it is)
 * when it does not close. (size_t)-1: no memory. */
static size_t rp_prune(struct rp *p, size_t i)
{
	size_t k, d = 0;

	for (k = i; k < p->len; k++) {
		char c = p->in[k];

		if (c == '"') {
			k = skip_string(p->in, p->len, k) - 1;
		} else if (c == '[' || c == '{') {
			d++;
		} else if ((c == ']' || c == '}') && --d == 0) {
			if (rp_blank(p, i, k + 1 - i, "0"))
				return (size_t)-1;
			p->r->deep++;
			return k + 1;
		}
	}
	return p->len;
}

enum err mx_json_repair(const char *in, size_t len, char **out, struct mx_repair *r)
{
	struct mx_repair dummy;
	struct rp p = {in, len, NULL, r ? r : &dummy};
	size_t i = 0, depth = 0;
	int nomem = 0;
	char c;

	memset(p.r, 0, sizeof(*p.r));
	*out = NULL;
	while (i < len && !nomem) {
		c = in[i];
		if (c == '"') {
			i = rp_string(&p, i);
			nomem = i == (size_t)-1;
		} else if (c == '-' || (c >= '0' && c <= '9')) {
			i = rp_number(&p, i, &nomem);
		} else if (c == '[' || c == '{') {
			if (depth < MX_JSON_DEPTH_MAX) {
				depth++;
				i++;
			} else {
				i = rp_prune(&p, i);
				nomem = i == (size_t)-1;
			}
		} else {
			if ((c == ']' || c == '}') && depth > 0)
				depth--;
			i++;
		}
	}
	if (nomem) {
		free(p.out);
		return ERR_NOMEM;
	}
	*out = p.out;
	return ERR_OK;
}

int mx_next_batch_usable(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || n > MX_NEXT_BATCH_MAX)
		return 0;
	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return 0;
	return 1;
}

/* put_utf8 writes code point v as UTF-8 to out (4 bytes room). */
static size_t put_utf8(unsigned long v, char *out)
{
	if (v < 0x80) {
		out[0] = (char)v;
		return 1;
	}
	if (v < 0x800) {
		out[0] = (char)(0xC0 | (v >> 6));
		out[1] = (char)(0x80 | (v & 0x3F));
		return 2;
	}
	if (v < 0x10000) {
		out[0] = (char)(0xE0 | (v >> 12));
		out[1] = (char)(0x80 | ((v >> 6) & 0x3F));
		out[2] = (char)(0x80 | (v & 0x3F));
		return 3;
	}
	out[0] = (char)(0xF0 | (v >> 18));
	out[1] = (char)(0x80 | ((v >> 12) & 0x3F));
	out[2] = (char)(0x80 | ((v >> 6) & 0x3F));
	out[3] = (char)(0x80 | (v & 0x3F));
	return 4;
}

/* unescape decodes the inside of a JSON string, s[0, n), into out (max
 * bytes). Returns the decoded length, or (size_t)-1 when it does not fit
 * or an escape is not JSON. A lone surrogate becomes U+FFFD, as
 * mx_json_repair would have made it. */
static size_t unescape(const char *s, size_t n, char *out, size_t max)
{
	static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
	size_t i = 0, o = 0;
	const char *e;
	long v, lo;

	while (i < n) {
		if (o + 4 > max)
			return (size_t)-1;
		if (s[i] != '\\') {
			out[o++] = s[i++];
			continue;
		}
		if (i + 1 >= n)
			return (size_t)-1;
		if (s[i + 1] != 'u') {
			e = memchr(from, s[i + 1], sizeof(from) - 1);
			if (!e)
				return (size_t)-1;
			out[o++] = to[e - from];
			i += 2;
			continue;
		}
		v = hex4(s + i + 2, n - i - 2);
		if (v < 0)
			return (size_t)-1;
		i += 6;
		if (v >= 0xD800 && v <= 0xDBFF && i + 6 <= n && s[i] == '\\' && s[i + 1] == 'u' &&
		    (lo = hex4(s + i + 2, 4)) >= 0xDC00 && lo <= 0xDFFF) {
			v = 0x10000 + ((v - 0xD800) << 10) + (lo - 0xDC00);
			i += 6;
		} else if (v >= 0xD800 && v <= 0xDFFF) {
			v = 0xFFFD;
		}
		o += put_utf8((unsigned long)v, out + o);
	}
	return o;
}

/* scan_value reads the value of a top-level "next_batch" key, from k
 * (just after the ':'): a usable string is decoded into buf (*found = 1);
 * anything else undoes an earlier find, as it would in a parser. *next is
 * where the scan goes on, past len when the body is cut inside the
 * string. ERR_LIMIT when buf is too small. */
static enum err scan_value(const char *json, size_t len, size_t k, char *buf, size_t buflen,
			   size_t *found, size_t *next)
{
	char val[MX_NEXT_BATCH_MAX + 4];
	size_t j, n;

	for (; k < len && is_ws(json[k]); k++)
		;
	*found = 0;
	*next = k;
	if (k >= len || json[k] != '"')
		return ERR_OK;
	j = skip_string(json, len, k);
	*next = j;
	if (j > len)
		return ERR_OK;
	n = unescape(json + k + 1, j - k - 2, val, sizeof(val));
	if (n != (size_t)-1 && mx_next_batch_usable(val, n)) {
		if (n + 1 > buflen)
			return ERR_LIMIT;
		memcpy(buf, val, n);
		buf[n] = '\0';
		*found = 1;
	}
	return ERR_OK;
}

enum err mx_next_batch_scan(const char *json, size_t len, char *buf, size_t buflen)
{
	char key[16];
	size_t i = 0, j, k, n, depth, found = 0;
	int keypos = 1;

	while (i < len && is_ws(json[i]))
		i++;
	if (i >= len || json[i] != '{')
		return ERR_PARSE;
	for (depth = 1, i++; i < len && depth > 0;) {
		char c = json[i];

		if (c == '"') {
			j = skip_string(json, len, i);
			if (j > len)
				break; /* cut inside a string */
			if (depth != 1 || !keypos) {
				keypos = 0;
				i = j;
				continue;
			}
			keypos = 0;
			for (k = j; k < len && is_ws(json[k]); k++)
				;
			if (k >= len || json[k] != ':') {
				i = j;
				continue;
			}
			n = unescape(json + i + 1, j - i - 2, key, sizeof(key));
			if (n != 10 || memcmp(key, "next_batch", 10)) {
				i = k + 1;
				continue;
			}
			if (scan_value(json, len, k + 1, buf, buflen, &found, &i) != ERR_OK)
				return ERR_LIMIT;
			if (i > len)
				break; /* cut inside a string */
			continue;
		}
		if (c == '[' || c == '{')
			depth++;
		else if (c == ']' || c == '}')
			depth--;
		else if (c == ',' && depth == 1)
			keypos = 1;
		else if (depth == 1 && !is_ws(c))
			keypos = 0;
		i++;
	}
	return found ? ERR_OK : ERR_PARSE;
}

json_t *mx_json_load(const char *json, size_t len, struct mx_repair *rep, json_error_t *jerr,
		     enum err *e)
{
	char *fixed = NULL;
	json_t *root;
	enum err rc;

	rc = mx_json_repair(json, len, &fixed, rep);
	if (e)
		*e = rc;
	if (rc != ERR_OK)
		return NULL;
	root = json_loadb(fixed ? fixed : json, len, JSON_ALLOW_NUL, jerr);
	free(fixed);
	return root;
}
