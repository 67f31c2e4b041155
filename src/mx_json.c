/* mx_json.c -- Matrix JSON in and out, no I/O (see mx_json.h).
 *
 * Reading: mx_json_repair makes what a member may have written readable
 * (a copy only when something needed changing), jansson parses the whole
 * body (the HTTP layer caps its size), then we walk only the paths we
 * know, checking every type on the way; anything else is skipped and
 * counted. Strings we keep are copied with a cap, so the jansson tree can
 * be freed before the caller acts. A body that is not JSON even so still
 * gives up its next_batch (mx_next_batch_scan), so no body holds the bot.
 * Writing: jansson builds the objects, so quoting JSON is never our job;
 * HTML escaping is, because formatted_body is HTML inside JSON. */
#include "mx_json.h"

#include <jansson.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MX_HTML_MAX (1 << 20)  /* an escaped reply or alert */

/* ---- small helpers ---------------------------------------------------- */

/* A growable string with a maximum size (curl's idiom): sb_add fails with
 * ERR_LIMIT rather than grow past max. */
struct sb {
	char *p;
	size_t len, cap, max;
};

static enum err sb_add(struct sb *b, const char *s, size_t n)
{
	size_t need, ncap;
	char *np;

	if (n > b->max || b->len + n > b->max)
		return ERR_LIMIT;
	need = b->len + n + 1;
	if (need > b->cap) {
		ncap = b->cap ? b->cap : 64;
		while (ncap < need)
			ncap *= 2;
		np = realloc(b->p, ncap);
		if (!np)
			return ERR_NOMEM;
		b->p = np;
		b->cap = ncap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
	return ERR_OK;
}

static enum err sb_str(struct sb *b, const char *s) { return sb_add(b, s, strlen(s)); }

/* sb_html appends s escaped for HTML text and attribute values. */
static enum err sb_html(struct sb *b, const char *s, size_t n)
{
	enum err e = ERR_OK;
	size_t i, run = 0;
	const char *rep;

	for (i = 0; i < n && e == ERR_OK; i++) {
		switch (s[i]) {
		case '&': rep = "&amp;"; break;
		case '<': rep = "&lt;"; break;
		case '>': rep = "&gt;"; break;
		case '"': rep = "&quot;"; break;
		case '\'': rep = "&#39;"; break;
		default: rep = NULL; break;
		}
		if (!rep)
			continue;
		e = sb_add(b, s + run, i - run);
		if (e == ERR_OK)
			e = sb_str(b, rep);
		run = i + 1;
	}
	if (e == ERR_OK)
		e = sb_add(b, s + run, n - run);
	return e;
}

static enum err sb_url(struct sb *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	enum err e = ERR_OK;
	unsigned char c;
	char esc[3];

	for (; *s && e == ERR_OK; s++) {
		c = (unsigned char)*s;
		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
		    c == '~') {
			e = sb_add(b, s, 1);
			continue;
		}
		esc[0] = '%';
		esc[1] = hex[c >> 4];
		esc[2] = hex[c & 15];
		e = sb_add(b, esc, 3);
	}
	return e;
}

/* utf8_cut returns the largest n <= max such that s[0..n) does not end in
 * the middle of a UTF-8 sequence. */
static size_t utf8_cut(const char *s, size_t len, size_t max)
{
	size_t n = len;

	if (n <= max)
		return n;
	n = max;
	while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
		n--;
	return n;
}

/* dup_cap copies at most max bytes of s (cut at a UTF-8 boundary). */
static char *dup_cap(const char *s, size_t max, int *truncated)
{
	size_t len = strlen(s), n = utf8_cut(s, len, max);
	char *p = malloc(n + 1);

	if (!p)
		return NULL;
	memcpy(p, s, n);
	p[n] = '\0';
	if (truncated && n < len)
		*truncated = 1;
	return p;
}

/* valid_id: sigil, then 1..254 bytes, no space, no control characters. */
static int valid_id(const char *s, char sigil)
{
	size_t n;

	if (!s || s[0] != sigil)
		return 0;
	for (n = 0; s[n]; n++)
		if ((unsigned char)s[n] <= 0x20 || (unsigned char)s[n] == 0x7f)
			return 0;
	return n >= 2 && n <= MX_ID_MAX;
}

int mx_id_valid(const char *id, char sigil) { return valid_id(id, sigil); }

/* server_name_valid: the server_name grammar of the spec's appendices:
 * hostname [":" port], hostname a DNS name or IPv4 literal (the same
 * characters), or an IPv6 literal in brackets; port 1 to 5 digits. */
static int server_name_valid(const char *s)
{
	size_t n;

	if (*s == '[') {
		n = strspn(s + 1, "0123456789ABCDEFabcdef:.");
		if (n < 2 || n > 45 || s[1 + n] != ']')
			return 0;
		s += n + 2;
	} else {
		n = strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
		              "0123456789-.");
		if (n < 1 || n > 255)
			return 0;
		s += n;
	}
	if (*s == '\0')
		return 1;
	if (*s != ':')
		return 0;
	n = strspn(s + 1, "0123456789");
	return n >= 1 && n <= 5 && s[1 + n] == '\0';
}

int mx_user_id_valid(const char *id)
{
	size_t n;

	if (!id || id[0] != '@' || strlen(id) > MX_ID_MAX)
		return 0;
	n = strspn(id + 1, "abcdefghijklmnopqrstuvwxyz0123456789-.=_/+");
	return n >= 1 && id[1 + n] == ':' && server_name_valid(id + 2 + n);
}

enum err mx_mention_resolve(const char *mention, const char *sender, char *buf,
                            size_t buflen)
{
	char id[MX_ID_MAX + 2];
	const char *p, *server = NULL;
	size_t n, need, i;

	if (!mention)
		return ERR_INVALID;
	p = mention + strspn(mention, " \t\r\n");
	n = strlen(p);
	while (n > 0 && strchr(" \t\r\n", p[n - 1]))
		n--;
	if (n > 0 && p[0] == '@') {
		p++;
		n--;
	}
	if (n == 0 || n > MX_ID_MAX || memchr(p, '\0', n))
		return ERR_INVALID;
	if (!memchr(p, ':', n)) { /* "alice": alice on the sender's server */
		server = mx_server_name(sender);
		if (!server)
			return ERR_INVALID;
	}
	need = 1 + n + (server ? 1 + strlen(server) : 0);
	if (need > MX_ID_MAX)
		return ERR_INVALID;
	id[0] = '@';
	memcpy(id + 1, p, n);
	id[1 + n] = '\0';
	if (server) {
		id[1 + n] = ':';
		memcpy(id + 2 + n, server, strlen(server) + 1);
	}
	/* The localpart has no capitals in the spec, which says @USER:x must
	 * reach @user:x; the server name stays as written (case-sensitive). */
	for (i = 1; id[i] && id[i] != ':'; i++)
		if (id[i] >= 'A' && id[i] <= 'Z')
			id[i] = (char)(id[i] - 'A' + 'a');
	if (!mx_user_id_valid(id))
		return ERR_INVALID;
	if (need + 1 > buflen)
		return ERR_LIMIT;
	memcpy(buf, id, need + 1);
	return ERR_OK;
}

/* ---- raw bytes: the repair pass and the next_batch scan ---------------- */

static int is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

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
			if (i + 1 < len && in[i + 1] == 'u' && (v = hex4(in + i + 2, len - i - 2)) >= 0) {
				if (v >= 0xD800 && v <= 0xDBFF && i + 12 <= len && in[i + 6] == '\\' &&
				    in[i + 7] == 'u' && (lo = hex4(in + i + 8, 4)) >= 0xDC00 &&
				    lo <= 0xDFFF) {
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

/* batch_usable: see mx_sync_parse. */
static int batch_usable(const char *s, size_t n)
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

enum err mx_next_batch_scan(const char *json, size_t len, char *buf, size_t buflen)
{
	char key[16], val[MX_NEXT_BATCH_MAX + 4];
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
			/* the value: a string, or anything else, which undoes an
			 * earlier find as it would in a parser */
			for (k++; k < len && is_ws(json[k]); k++)
				;
			found = 0;
			if (k >= len || json[k] != '"') {
				i = k;
				continue;
			}
			j = skip_string(json, len, k);
			if (j > len)
				break;
			n = unescape(json + k + 1, j - k - 2, val, sizeof(val));
			if (n != (size_t)-1 && batch_usable(val, n)) {
				if (n + 1 > buflen)
					return ERR_LIMIT;
				memcpy(buf, val, n);
				buf[n] = '\0';
				found = 1;
			}
			i = j;
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

/* load parses a body from the network: repaired first (mx_json_repair),
 * a NUL allowed in a string value. NULL when it is not JSON even so (why
 * in *jerr, which may be NULL) or, with *e = ERR_NOMEM, out of memory.
 * rep (may be NULL) gets the repairs. */
static json_t *load(const char *json, size_t len, struct mx_repair *rep,
                    json_error_t *jerr, enum err *e)
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

/* jstr returns obj[key] when it is a string with no NUL in it, else NULL
 * (borrowed): an id, a type or a token with a NUL would be read cut short,
 * as another. Text a member wrote is read with set_text instead. */
static const char *jstr(const json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);
	const char *s;

	if (!json_is_string(v))
		return NULL;
	s = json_string_value(v);
	return memchr(s, '\0', json_string_length(v)) ? NULL : s;
}

/* set_text copies the string v, text a member wrote, into a new *dst of
 * at most max bytes (cut at a UTF-8 boundary, *trunc set; trunc may be
 * NULL), each NUL made a space: a NUL would otherwise end the text there,
 * and what follows it (a crisis, say) must still be read. *nuls (may be
 * NULL) counts the strings that had one. v not a string: *dst stays NULL. */
static enum err set_text(char **dst, const json_t *v, size_t max, int *trunc,
                         size_t *nuls)
{
	const char *s;
	size_t len, n, i;
	int had = 0;
	char *p;

	if (!json_is_string(v))
		return ERR_OK;
	s = json_string_value(v);
	len = json_string_length(v);
	n = utf8_cut(s, len, max);
	p = malloc(n + 1);
	if (!p)
		return ERR_NOMEM;
	for (i = 0; i < n; i++) {
		p[i] = s[i] ? s[i] : ' ';
		had |= !s[i];
	}
	p[n] = '\0';
	if (trunc && n < len)
		*trunc = 1;
	if (nuls && had)
		(*nuls)++;
	*dst = p;
	return ERR_OK;
}

/* jarr returns obj[k1][k2] when it is an array, else NULL (borrowed). */
static json_t *jarr2(const json_t *obj, const char *k1, const char *k2)
{
	json_t *v = json_object_get(obj, k1);

	v = json_is_object(v) ? json_object_get(v, k2) : NULL;
	return json_is_array(v) ? v : NULL;
}

const char *mx_server_name(const char *id)
{
	const char *c = id ? strchr(id, ':') : NULL;

	return c && c[1] ? c + 1 : NULL;
}

/* ---- reading /sync ---------------------------------------------------- */

static void action_clear(struct mx_action *a)
{
	free(a->room_id);
	free(a->sender);
	free(a->sender_name);
	free(a->event_id);
	free(a->msgtype);
	free(a->body);
	free(a->formatted_body);
	free(a->thread_root);
	free(a->reply_to);
	mx_power_free(a->power);
	memset(a, 0, sizeof(*a));
}

void mx_sync_free(struct mx_sync *s)
{
	size_t i;

	if (!s)
		return;
	for (i = 0; i < s->n; i++)
		action_clear(&s->actions[i]);
	free(s->actions);
	free(s->next_batch);
	free(s);
}

/* push_action appends a zeroed action for room_id. NULL means "skipped":
 * either out of memory (*e set) or over MX_ACTIONS_MAX (counted). */
static struct mx_action *push_action(struct mx_sync *s, enum mx_action_kind k,
                                     const char *room_id, enum err *e)
{
	struct mx_action *a, *na;
	size_t ncap;

	if (s->n >= MX_ACTIONS_MAX) {
		s->skipped++;
		return NULL;
	}
	if (s->n == s->cap) {
		ncap = s->cap ? s->cap * 2 : 16;
		na = realloc(s->actions, ncap * sizeof(*na));
		if (!na) {
			*e = ERR_NOMEM;
			return NULL;
		}
		s->actions = na;
		s->cap = ncap;
	}
	a = &s->actions[s->n];
	memset(a, 0, sizeof(*a));
	a->kind = k;
	a->room_id = dup_cap(room_id, MX_ID_MAX, NULL);
	if (!a->room_id) {
		*e = ERR_NOMEM;
		return NULL;
	}
	s->n++;
	return a;
}

/* set_str copies s into *dst (capped); returns ERR_NOMEM on failure. A NULL
 * s leaves *dst NULL. */
static enum err set_str(char **dst, const char *s, size_t max, int *trunc)
{
	if (!s)
		return ERR_OK;
	*dst = dup_cap(s, max, trunc);
	return *dst ? ERR_OK : ERR_NOMEM;
}

/* member_of returns the membership of a valid m.room.member event for
 * state_key == who, or NULL. */
static const char *member_of(const json_t *ev, const char *who)
{
	const char *t = jstr(ev, "type"), *sk = jstr(ev, "state_key");
	json_t *c = json_object_get(ev, "content");

	if (!t || strcmp(t, "m.room.member") || !sk || strcmp(sk, who) ||
	    !json_is_object(c))
		return NULL;
	return jstr(c, "membership");
}

static enum err parse_leave_room(struct mx_sync *s, const char *room,
                                 const json_t *r, const char *bot)
{
	static const char *const where[][2] = {{"timeline", "events"},
	                                       {"state", "events"}};
	enum mx_action_kind k = MX_ACT_LEFT;
	const char *by = NULL, *ms, *snd;
	enum err e = ERR_OK;
	struct mx_action *a;
	json_t *evs, *ev;
	size_t w, i;

	/* The last word on the bot's membership wins: timeline first, and in
	 * order, so a later event overrides an earlier one. */
	for (w = 0; w < 2 && !by; w++) {
		evs = jarr2(r, where[w][0], where[w][1]);
		json_array_foreach(evs, i, ev)
		{
			ms = member_of(ev, bot);
			snd = jstr(ev, "sender");
			if (!ms || !snd)
				continue;
			if (!strcmp(ms, "ban"))
				k = MX_ACT_BANNED;
			else if (!strcmp(ms, "leave"))
				k = strcmp(snd, bot) ? MX_ACT_KICKED : MX_ACT_LEFT;
			else
				continue;
			by = snd;
		}
	}
	a = push_action(s, k, room, &e);
	if (a && by && valid_id(by, '@'))
		e = set_str(&a->sender, by, MX_ID_MAX, NULL);
	return e;
}

static enum err parse_invite_room(struct mx_sync *s, const char *room,
                                  const json_t *r, const char *bot)
{
	const char *ms, *by = NULL;
	enum err e = ERR_OK;
	struct mx_action *a;
	json_t *evs, *ev, *c, *d;
	int direct = 0;
	size_t i;

	evs = jarr2(r, "invite_state", "events");
	json_array_foreach(evs, i, ev)
	{
		ms = member_of(ev, bot);
		if (!ms || strcmp(ms, "invite"))
			continue;
		by = jstr(ev, "sender");
		c = json_object_get(ev, "content");
		d = json_object_get(c, "is_direct");
		direct = json_is_true(d);
	}
	if (!by || !valid_id(by, '@')) {
		/* An invite whose inviter we cannot name: the transport can
		 * still judge it by room, so keep it, but count the oddity. */
		s->skipped++;
		by = NULL;
	}
	a = push_action(s, MX_ACT_INVITE, room, &e);
	if (!a)
		return e;
	a->is_direct = direct;
	return set_str(&a->sender, by, MX_ID_MAX, NULL);
}

/* note_name records the display name from a member event into names, and
 * as an MX_ACT_NAME action so the transport can remember it across
 * batches (lazy-loaded members are sent once, not with every message). */
static enum err note_name(struct mx_sync *s, const char *room, json_t *names,
                          const json_t *ev)
{
	const char *t = jstr(ev, "type"), *sk = jstr(ev, "state_key");
	json_t *c = json_object_get(ev, "content");
	struct mx_action *a;
	const char *ms, *dn;
	enum err e = ERR_OK;

	if (!t || strcmp(t, "m.room.member") || !valid_id(sk, '@') ||
	    !json_is_object(c))
		return ERR_OK;
	ms = jstr(c, "membership");
	dn = jstr(c, "displayname");
	if (!ms || !strcmp(ms, "invite"))
		return ERR_OK;
	if (strcmp(ms, "join") || (dn && !*dn))
		dn = NULL;
	if (dn)
		json_object_set_new(names, sk, json_string(dn));
	else
		json_object_del(names, sk);
	a = push_action(s, MX_ACT_NAME, room, &e);
	if (a)
		e = set_str(&a->sender, sk, MX_ID_MAX, NULL);
	if (a && e == ERR_OK)
		e = set_str(&a->sender_name, dn, MX_NAME_MAX, NULL);
	return e;
}

static int contains_bot(const char *s, const char *bot)
{
	return s && *bot && strstr(s, bot) != NULL;
}

static int mentions_list_bot(const json_t *content, const char *bot)
{
	json_t *ids = jarr2(content, "m.mentions", "user_ids"), *v;
	size_t i;

	json_array_foreach(ids, i, v)
	{
		if (json_is_string(v) && !strcmp(json_string_value(v), bot))
			return 1;
	}
	return 0;
}

/* fill_message fills a message action from a timeline event. It returns
 * ERR_INVALID for an event too malformed to act on (the caller then drops
 * the action and counts it). */
static enum err fill_message(struct mx_action *a, const json_t *ev,
                             const char *type, const json_t *names,
                             const char *bot, size_t *nuls)
{
	const char *id = jstr(ev, "event_id"), *snd = jstr(ev, "sender");
	json_t *c = json_object_get(ev, "content"), *rel, *irt, *ts, *uns, *body;
	const char *mt, *fmt, *rt, *root, *nm;
	enum err e;

	if (!valid_id(id, '$') || !valid_id(snd, '@') || !json_is_object(c))
		return ERR_INVALID;
	e = set_str(&a->event_id, id, MX_ID_MAX, NULL);
	if (e == ERR_OK)
		e = set_str(&a->sender, snd, MX_ID_MAX, NULL);
	nm = jstr(names, snd);
	if (e == ERR_OK)
		e = set_str(&a->sender_name, nm, MX_NAME_MAX, NULL);
	if (e != ERR_OK)
		return e;
	ts = json_object_get(ev, "origin_server_ts");
	if (json_is_integer(ts))
		a->ts = (long long)json_integer_value(ts);

	if (!strcmp(type, "m.room.redaction")) {
		a->ignore = MX_IGN_REDACTION;
		return ERR_OK;
	}
	if (!strcmp(type, "m.room.encrypted")) {
		a->ignore = MX_IGN_ENCRYPTED;
		return ERR_OK;
	}
	uns = json_object_get(ev, "unsigned");
	if (json_is_object(uns) && json_object_get(uns, "redacted_because")) {
		a->ignore = MX_IGN_REDACTION;
		return ERR_OK;
	}
	mt = jstr(c, "msgtype");
	body = json_object_get(c, "body");
	if (!mt || !json_is_string(body)) {
		if (json_object_size(c) == 0) { /* redacted content */
			a->ignore = MX_IGN_REDACTION;
			return ERR_OK;
		}
		return ERR_INVALID;
	}
	e = set_str(&a->msgtype, mt, 64, NULL);
	if (e == ERR_OK)
		e = set_text(&a->body, body, MX_BODY_MAX, &a->truncated, nuls);
	fmt = jstr(c, "format");
	if (e == ERR_OK && fmt && !strcmp(fmt, "org.matrix.custom.html"))
		e = set_text(&a->formatted_body, json_object_get(c, "formatted_body"),
		             MX_BODY_MAX, NULL, nuls);
	if (e != ERR_OK)
		return e;

	rel = json_object_get(c, "m.relates_to");
	if (json_is_object(rel)) {
		rt = jstr(rel, "rel_type");
		root = jstr(rel, "event_id");
		if (rt && !strcmp(rt, "m.replace"))
			a->ignore = MX_IGN_EDIT;
		if (rt && !strcmp(rt, "m.thread") && valid_id(root, '$'))
			e = set_str(&a->thread_root, root, MX_ID_MAX, NULL);
		irt = json_object_get(rel, "m.in_reply_to");
		root = json_is_object(irt) ? jstr(irt, "event_id") : NULL;
		if (e == ERR_OK && valid_id(root, '$'))
			e = set_str(&a->reply_to, root, MX_ID_MAX, NULL);
		if (e != ERR_OK)
			return e;
	}
	if (json_object_get(c, "m.new_content"))
		a->ignore = MX_IGN_EDIT;

	/* A thread's falling-back reply carries no quote, but an old-style
	 * rich reply does; strip it before anyone reads the body. */
	if (a->reply_to)
		mx_strip_reply_fallback(a->body);
	a->mentions_bot = mentions_list_bot(c, bot) || contains_bot(a->body, bot) ||
	                  contains_bot(a->formatted_body, bot);

	if (a->ignore != MX_IGN_NONE)
		return ERR_OK;
	if (!strcmp(snd, bot))
		a->ignore = MX_IGN_OWN;
	else if (!strcmp(mt, "m.notice"))
		a->ignore = MX_IGN_NOTICE;
	else if (strcmp(mt, "m.text") && strcmp(mt, "m.emote"))
		a->ignore = MX_IGN_MSGTYPE;
	else if (a->body[strspn(a->body, " \t\r\n")] == '\0')
		a->ignore = MX_IGN_EMPTY;
	return ERR_OK;
}

/* ---- power levels ----------------------------------------------------- */

struct mx_power {
	size_t size;       /* bytes of this allocation, for mx_power_dup */
	size_t n;          /* users kept */
	int users_default;
	int missing;       /* the level of a user not in the table */
	int levels[];      /* n levels, then the n user ids, each ending in NUL,
	                    * back to back (one allocation, no pointers) */
};

struct power_entry {
	const char *id; /* borrowed from the jansson tree */
	int level;
};

/* power_value reads a level: an integer or, in rooms before version 10,
 * a string of one; clamped to an int. *ok = 0 for anything else. */
static int power_value(const json_t *v, int *ok)
{
	const char *s, *d;
	long long x;

	*ok = 1;
	if (json_is_integer(v)) {
		x = (long long)json_integer_value(v);
	} else if (json_is_string(v)) {
		s = json_string_value(v);
		d = s + (*s == '-' || *s == '+');
		if (!*d || strlen(d) > 18 || d[strspn(d, "0123456789")]) {
			*ok = 0;
			return 0;
		}
		x = strtoll(s, NULL, 10);
	} else {
		*ok = 0;
		return 0;
	}
	return x > INT_MAX ? INT_MAX : x < INT_MIN ? INT_MIN : (int)x;
}

/* power_cmp: highest level first, then by id, so the table kept from an
 * over-long users map is the same whatever order the map came in. */
static int power_cmp(const void *a, const void *b)
{
	const struct power_entry *x = a, *y = b;

	if (x->level != y->level)
		return x->level > y->level ? -1 : 1;
	return strcmp(x->id, y->id);
}

/* power_from builds a table from a content object; ERR_PARSE if c is not
 * one. Odd entries are skipped and counted in *skipped. */
static enum err power_from(const json_t *c, struct mx_power **out, size_t *skipped)
{
	struct power_entry *v = NULL;
	struct mx_power *p = NULL;
	size_t n = 0, keep, i, ids = 0, len, size;
	json_t *users, *val;
	const char *id;
	int ok, level;
	char *w;
	enum err e = ERR_OK;

	*out = NULL;
	if (!json_is_object(c))
		return ERR_PARSE;
	p = calloc(1, sizeof(*p)); /* the levels without a users map */
	if (!p)
		return ERR_NOMEM;
	val = json_object_get(c, "users_default");
	if (val) {
		p->users_default = power_value(val, &ok);
		*skipped += !ok;
	}
	p->missing = p->users_default;
	users = json_object_get(c, "users");
	if (users && !json_is_object(users)) {
		(*skipped)++;
		users = NULL;
	}
	if (json_object_size(users)) {
		v = malloc(json_object_size(users) * sizeof(*v));
		if (!v) {
			e = ERR_NOMEM;
			goto out;
		}
	}
	json_object_foreach(users, id, val)
	{
		level = power_value(val, &ok);
		if (!ok || !valid_id(id, '@')) {
			(*skipped)++;
			continue;
		}
		v[n].id = id;
		v[n].level = level;
		n++;
	}
	keep = n;
	if (n > MX_POWER_USERS_MAX) {
		/* Keep the highest (the moderators the core asks about); anyone
		 * left out gets no more than the lowest level left out. */
		qsort(v, n, sizeof(*v), power_cmp);
		keep = MX_POWER_USERS_MAX;
		if (v[n - 1].level < p->missing)
			p->missing = v[n - 1].level;
	}
	for (i = 0; i < keep; i++)
		ids += strlen(v[i].id) + 1;
	size = sizeof(*p) + keep * sizeof(int) + ids;
	*out = malloc(size);
	if (!*out) {
		e = ERR_NOMEM;
		goto out;
	}
	p->size = size;
	p->n = keep;
	memcpy(*out, p, sizeof(*p));
	w = (char *)((*out)->levels + keep);
	for (i = 0; i < keep; i++) {
		(*out)->levels[i] = v[i].level;
		len = strlen(v[i].id) + 1;
		memcpy(w, v[i].id, len);
		w += len;
	}
out:
	free(v);
	free(p);
	return e;
}

enum err mx_power_parse(const char *json, size_t len, struct mx_power **out,
                        size_t *skipped)
{
	json_error_t jerr;
	enum err e = ERR_OK;
	json_t *root = load(json, len, NULL, &jerr, &e);
	size_t sk = 0;

	if (e != ERR_OK) {
		*out = NULL;
		return e;
	}
	e = power_from(root, out, &sk);

	if (skipped)
		*skipped = sk;
	json_decref(root);
	return e;
}

int mx_power_level(const struct mx_power *p, const char *user)
{
	const char *id = (const char *)(p->levels + p->n);
	size_t i;

	for (i = 0; i < p->n; i++) {
		if (!strcmp(id, user))
			return p->levels[i];
		id += strlen(id) + 1;
	}
	return p->missing;
}

struct mx_power *mx_power_dup(const struct mx_power *p)
{
	struct mx_power *d = malloc(p->size);

	if (d)
		memcpy(d, p, p->size);
	return d;
}

void mx_power_free(struct mx_power *p) { free(p); }

/* note_power adds an MX_ACT_POWER action for an m.room.power_levels event
 * (state key ""). */
static enum err note_power(struct mx_sync *s, const char *room, const json_t *ev)
{
	const char *sk = jstr(ev, "state_key");
	struct mx_power *p = NULL;
	struct mx_action *a;
	enum err e;

	if (!sk || *sk) {
		s->skipped++;
		return ERR_OK;
	}
	e = power_from(json_object_get(ev, "content"), &p, &s->skipped);
	if (e == ERR_PARSE) {
		s->skipped++;
		return ERR_OK;
	}
	if (e != ERR_OK)
		return e;
	a = push_action(s, MX_ACT_POWER, room, &e);
	if (!a) {
		mx_power_free(p);
		return e;
	}
	a->power = p;
	return ERR_OK;
}

static int is_power_event(const json_t *ev)
{
	const char *t = jstr(ev, "type");

	return t && !strcmp(t, "m.room.power_levels");
}

static enum err parse_join_room(struct mx_sync *s, const char *room,
                                const json_t *r, const char *bot)
{
	json_t *names = NULL, *evs, *ev, *sum, *cnt, *tl;
	const char *type, *ms;
	struct mx_action *a;
	enum err e = ERR_OK;
	int joined = 0;
	size_t i;

	names = json_object();
	if (!names)
		return ERR_NOMEM;

	sum = json_object_get(r, "summary");
	cnt = json_is_object(sum) ? json_object_get(sum, "m.joined_member_count")
	                          : NULL;
	if (json_is_integer(cnt) && json_integer_value(cnt) >= 0) {
		a = push_action(s, MX_ACT_SUMMARY, room, &e);
		if (a)
			a->members = (long)(json_integer_value(cnt) > 1000000000
			                        ? 1000000000
			                        : json_integer_value(cnt));
		if (e != ERR_OK)
			goto out;
	}

	evs = jarr2(r, "state", "events");
	json_array_foreach(evs, i, ev)
	{
		if (!json_is_object(ev)) {
			s->skipped++;
			continue;
		}
		if (is_power_event(ev)) {
			e = note_power(s, room, ev);
			if (e != ERR_OK)
				goto out;
			continue;
		}
		e = note_name(s, room, names, ev);
		if (e != ERR_OK)
			goto out;
		ms = member_of(ev, bot);
		if (ms && !strcmp(ms, "join"))
			joined = 1;
	}
	if (joined) {
		push_action(s, MX_ACT_JOINED, room, &e);
		if (e != ERR_OK)
			goto out;
	}

	tl = json_object_get(r, "timeline");
	if (json_is_object(tl) && json_is_true(json_object_get(tl, "limited")))
		s->gaps++;
	evs = jarr2(r, "timeline", "events");
	json_array_foreach(evs, i, ev)
	{
		type = json_is_object(ev) ? jstr(ev, "type") : NULL;
		if (!type) {
			s->skipped++;
			continue;
		}
		if (is_power_event(ev)) {
			e = note_power(s, room, ev);
			if (e != ERR_OK)
				goto out;
			continue;
		}
		if (!strcmp(type, "m.room.member")) {
			e = note_name(s, room, names, ev);
			if (e != ERR_OK)
				goto out;
			ms = member_of(ev, bot);
			if (ms && !strcmp(ms, "join") && !joined) {
				joined = 1;
				push_action(s, MX_ACT_JOINED, room, &e);
				if (e != ERR_OK)
					goto out;
			}
			continue;
		}
		if (strcmp(type, "m.room.message") && strcmp(type, "m.room.redaction") &&
		    strcmp(type, "m.room.encrypted"))
			continue; /* not ours to act on; the filter should drop it */
		a = push_action(s, MX_ACT_MESSAGE, room, &e);
		if (!a) {
			if (e != ERR_OK)
				goto out;
			continue;
		}
		e = fill_message(a, ev, type, names, bot, &s->repaired);
		if (e == ERR_INVALID) {
			action_clear(a);
			s->n--;
			s->skipped++;
			e = ERR_OK;
		}
		if (e != ERR_OK)
			goto out;
	}
out:
	json_decref(names);
	return e;
}

/* each_room calls fn for each valid room id of rooms[section]. */
static enum err each_room(struct mx_sync *s, const json_t *rooms,
                          const char *section, const char *bot,
                          enum err (*fn)(struct mx_sync *, const char *,
                                         const json_t *, const char *))
{
	json_t *sec = json_object_get(rooms, section), *r;
	enum err e = ERR_OK;
	const char *room;

	if (!sec)
		return ERR_OK;
	if (!json_is_object(sec)) {
		s->skipped++;
		return ERR_OK;
	}
	json_object_foreach(sec, room, r)
	{
		if (!valid_id(room, '!') || !json_is_object(r)) {
			s->skipped++;
			continue;
		}
		e = fn(s, room, r, bot);
		if (e != ERR_OK)
			break;
	}
	return e;
}

static void set_errbuf(char *buf, size_t len, const char *msg)
{
	if (buf && len)
		snprintf(buf, len, "%s", msg);
}

enum err mx_sync_parse(const char *json, size_t len, const char *bot_user_id,
                       struct mx_sync **out, char *errbuf, size_t errlen)
{
	char nb_buf[MX_NEXT_BATCH_MAX + 1];
	struct mx_sync *s = NULL;
	json_t *root = NULL, *rooms;
	struct mx_repair rep;
	json_error_t jerr;
	const char *nb;
	enum err e = ERR_OK;

	*out = NULL;
	if (!bot_user_id)
		bot_user_id = "";
	root = load(json, len, &rep, &jerr, &e);
	if (e != ERR_OK)
		goto out;
	if (!root) {
		/* Not JSON even repaired: what it held is lost, but its
		 * next_batch, if it has one, lets the caller go past it instead
		 * of asking for it again and again. Only jansson's offset goes
		 * to errbuf: its text quotes the body. */
		e = mx_next_batch_scan(json, len, nb_buf, sizeof(nb_buf));
		if (errbuf && errlen)
			snprintf(errbuf, errlen, "sync response is not JSON (at byte %d)%s",
			         jerr.position, e == ERR_OK ? "" : " and has no next_batch");
		if (e != ERR_OK) {
			e = ERR_PARSE;
			goto out;
		}
		s = calloc(1, sizeof(*s));
		if (!s || !(s->next_batch = dup_cap(nb_buf, MX_NEXT_BATCH_MAX, NULL))) {
			e = ERR_NOMEM;
			goto out;
		}
		s->unreadable = 1;
		*out = s;
		return ERR_OK;
	}
	if (!json_is_object(root)) {
		set_errbuf(errbuf, errlen, "sync response is not an object");
		e = ERR_PARSE;
		goto out;
	}
	nb = jstr(root, "next_batch");
	if (!nb || !batch_usable(nb, strlen(nb))) {
		set_errbuf(errbuf, errlen, "sync response has no usable next_batch");
		e = ERR_PARSE;
		goto out;
	}
	s = calloc(1, sizeof(*s));
	if (!s || !(s->next_batch = dup_cap(nb, MX_NEXT_BATCH_MAX, NULL))) {
		e = ERR_NOMEM;
		goto out;
	}
	/* a pruned value or a number made null was a piece skipped; a
	 * repaired string is still read */
	s->skipped = rep.deep + rep.numbers;
	s->repaired = rep.surrogates + rep.key_nuls + rep.bad_bytes;
	rooms = json_object_get(root, "rooms");
	if (rooms && !json_is_object(rooms)) {
		s->skipped++;
		rooms = NULL;
	}
	e = each_room(s, rooms, "leave", bot_user_id, parse_leave_room);
	if (e == ERR_OK)
		e = each_room(s, rooms, "invite", bot_user_id, parse_invite_room);
	if (e == ERR_OK)
		e = each_room(s, rooms, "join", bot_user_id, parse_join_room);
	if (e != ERR_OK) {
		set_errbuf(errbuf, errlen, err_str(e));
		goto out;
	}
	*out = s;
	s = NULL;
out:
	mx_sync_free(s);
	json_decref(root);
	return e;
}

void mx_strip_reply_fallback(char *body)
{
	char *p = body, *nl;

	if (!body || strncmp(body, "> ", 2))
		return;
	while (!strncmp(p, "> ", 2)) {
		nl = strchr(p, '\n');
		if (!nl)
			return; /* all quote: leave it, someone may need it read */
		p = nl + 1;
	}
	if (*p == '\r' && p[1] == '\n')
		p++;
	if (*p != '\n')
		return; /* no blank line after: a quote of the member's own */
	p++;
	memmove(body, p, strlen(p) + 1);
}

/* ---- escaping and ids ------------------------------------------------- */

enum err mx_html_escape(const char *text, char **out)
{
	struct sb b = {NULL, 0, 0, MX_HTML_MAX};
	enum err e;

	*out = NULL;
	e = sb_add(&b, "", 0);
	if (e == ERR_OK && text)
		e = sb_html(&b, text, strlen(text));
	if (e != ERR_OK) {
		free(b.p);
		return e;
	}
	*out = b.p;
	return ERR_OK;
}

enum err mx_url_escape(const char *text, char **out)
{
	struct sb b = {NULL, 0, 0, MX_HTML_MAX};
	enum err e;

	*out = NULL;
	e = sb_add(&b, "", 0);
	if (e == ERR_OK && text)
		e = sb_url(&b, text);
	if (e != ERR_OK) {
		free(b.p);
		return e;
	}
	*out = b.p;
	return ERR_OK;
}

static enum err txn(const char *prefix, const char *id, char *buf, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = strlen(prefix);
	unsigned char c;

	if (!id || !*id || len < o + 1)
		return id && *id ? ERR_LIMIT : ERR_INVALID;
	memcpy(buf, prefix, o);
	for (; *id; id++) {
		c = (unsigned char)*id;
		if (o + 4 > len)
			return ERR_LIMIT;
		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '_') {
			buf[o++] = (char)c;
			continue;
		}
		buf[o++] = '.';
		buf[o++] = hex[c >> 4];
		buf[o++] = hex[c & 15];
	}
	buf[o] = '\0';
	return ERR_OK;
}

enum err mx_txn_reply(const char *event_id, char *buf, size_t buflen)
{
	return txn("fb-", event_id, buf, buflen);
}

enum err mx_txn_alert(const char *event_id, char *buf, size_t buflen)
{
	return txn("fba-", event_id, buf, buflen);
}

enum err mx_txn_mod(const char *event_id, char *buf, size_t buflen)
{
	return txn("fbm-", event_id, buf, buflen);
}

enum err mx_txn_notice(long long start_ms, long pid, unsigned long n, char *buf,
                       size_t buflen)
{
	int k = snprintf(buf, buflen, "fbn-%lld-%ld-%lu", start_ms, pid, n);

	return k < 0 || (size_t)k >= buflen ? ERR_LIMIT : ERR_OK;
}

enum err mx_txn_skip(const char *since, char *buf, size_t buflen)
{
	/* FNV-1a: a token can be 4096 bytes, too long to spell out in an id;
	 * a collision would cost one notice, not a message */
	unsigned long long h = 14695981039346656037ULL;
	int k;

	for (; since && *since; since++) {
		h ^= (unsigned char)*since;
		h *= 1099511628211ULL;
	}
	k = snprintf(buf, buflen, "fbs-%016llx", h);
	return k < 0 || (size_t)k >= buflen ? ERR_LIMIT : ERR_OK;
}

/* ---- writing replies and alerts --------------------------------------- */

/* text_to_html renders plain text: a blank line (possibly with spaces)
 * separates paragraphs, a single newline becomes <br>, all else escaped.
 * lead (HTML, or NULL) goes at the start of the first paragraph. */
static enum err text_to_html(const char *text, struct sb *b, const char *lead)
{
	const char *p = text, *nl, *q;
	enum err e = ERR_OK;
	int open = 0, pending_br = 0;

	while (*p && e == ERR_OK) {
		nl = strchr(p, '\n');
		if (!nl)
			nl = p + strlen(p);
		q = nl;
		if (q > p && q[-1] == '\r')
			q--;
		if (p + strspn(p, " \t\r") >= q) { /* a blank line */
			if (open)
				e = sb_str(b, "</p>");
			open = pending_br = 0;
		} else {
			if (!open)
				e = sb_str(b, "<p>");
			else if (pending_br)
				e = sb_str(b, "<br>");
			if (e == ERR_OK && !open && lead) {
				e = sb_str(b, lead);
				lead = NULL;
			}
			open = 1;
			if (e == ERR_OK)
				e = sb_html(b, p, (size_t)(q - p));
			pending_br = 1;
		}
		p = *nl ? nl + 1 : nl;
	}
	if (e == ERR_OK && open)
		e = sb_str(b, "</p>");
	if (e == ERR_OK && lead) { /* no paragraph to put it in */
		e = sb_str(b, "<p>");
		if (e == ERR_OK)
			e = sb_str(b, lead);
		if (e == ERR_OK)
			e = sb_str(b, "</p>");
	}
	return e;
}

/* dumps serialises obj compactly into a new string. */
static enum err dumps(json_t *obj, char **out)
{
	*out = json_dumps(obj, JSON_COMPACT);
	return *out ? ERR_OK : ERR_NOMEM;
}

/* set_s sets obj[key] to a new string; ERR_INVALID for bad UTF-8. */
static enum err set_s(json_t *obj, const char *key, const char *val)
{
	json_t *v = json_string(val);

	if (!v)
		return ERR_INVALID;
	return json_object_set_new(obj, key, v) ? ERR_NOMEM : ERR_OK;
}

static enum err mentions(json_t *content, const char *const *ids, size_t n)
{
	json_t *m = json_object(), *arr = json_array();
	enum err e = ERR_OK;
	size_t i;

	if (!m || !arr) {
		e = ERR_NOMEM;
		goto out;
	}
	for (i = 0; i < n && e == ERR_OK; i++)
		if (json_array_append_new(arr, json_string(ids[i])))
			e = ERR_INVALID;
	if (e == ERR_OK && json_object_set_new(m, "user_ids", arr))
		e = ERR_NOMEM;
	arr = NULL;
	if (e == ERR_OK && json_object_set_new(content, "m.mentions", m))
		e = ERR_NOMEM;
	m = NULL;
out:
	json_decref(arr);
	json_decref(m);
	return e;
}

/* pill_html writes the HTML that directs an answer to id: a link a
 * client shows as a pill, and ": ". The anchor text is the id, not the
 * display name the spec suggests: a name is anyone's to choose, and a
 * pill reading "Moderator" must not point elsewhere. */
static enum err pill_html(struct sb *b, const char *id)
{
	struct sb url = {NULL, 0, 0, 4 * MX_ID_MAX};
	enum err e;

	e = sb_str(&url, "https://matrix.to/#/");
	if (e == ERR_OK)
		e = sb_url(&url, id);
	if (e == ERR_OK)
		e = sb_str(b, "<a href=\"");
	if (e == ERR_OK)
		e = sb_html(b, url.p, url.len);
	if (e == ERR_OK)
		e = sb_str(b, "\">");
	if (e == ERR_OK)
		e = sb_html(b, id, strlen(id));
	if (e == ERR_OK)
		e = sb_str(b, "</a>: ");
	free(url.p);
	return e;
}

/* reply_texts writes the body and formatted_body of a reply. */
static enum err reply_texts(const struct mx_reply *r, struct sb *body, struct sb *html)
{
	const char *label = r->see_answer ? "Earlier answer: " : "Earlier message: ";
	struct sb lead = {NULL, 0, 0, 16 * MX_ID_MAX};
	enum err e = ERR_OK;

	if (r->directed) {
		e = pill_html(&lead, r->mention);
		if (e == ERR_OK)
			e = sb_str(body, r->mention);
		if (e == ERR_OK)
			e = sb_str(body, ": ");
	}
	if (e == ERR_OK)
		e = sb_str(body, r->text);
	if (e == ERR_OK)
		e = sb_add(html, "", 0);
	if (e == ERR_OK)
		e = text_to_html(r->text, html, lead.p);
	if (e == ERR_OK && r->see_link) {
		e = sb_str(body, "\n\n");
		if (e == ERR_OK)
			e = sb_str(body, label);
		if (e == ERR_OK)
			e = sb_str(body, r->see_link);
		if (e == ERR_OK)
			e = sb_str(html, "<p>");
		if (e == ERR_OK)
			e = sb_str(html, label);
		if (e == ERR_OK)
			e = sb_str(html, "<a href=\"");
		if (e == ERR_OK)
			e = sb_html(html, r->see_link, strlen(r->see_link));
		if (e == ERR_OK)
			e = sb_str(html, "\">");
		if (e == ERR_OK)
			e = sb_html(html, r->see_link, strlen(r->see_link));
		if (e == ERR_OK)
			e = sb_str(html, "</a></p>");
	}
	free(lead.p);
	return e;
}

enum err mx_reply_json(const struct mx_reply *r, char **out)
{
	struct sb html = {NULL, 0, 0, MX_HTML_MAX}, body = {NULL, 0, 0, MX_HTML_MAX};
	json_t *c = NULL, *rel = NULL, *irt = NULL;
	enum err e;

	*out = NULL;
	if (!r->text || !*r->text || !valid_id(r->in_reply_to, '$') ||
	    (r->thread_root && !valid_id(r->thread_root, '$')) ||
	    (r->directed && !mx_user_id_valid(r->mention)))
		return ERR_INVALID;
	e = reply_texts(r, &body, &html);
	if (e != ERR_OK)
		goto out;
	c = json_object();
	rel = json_object();
	irt = json_object();
	if (!c || !rel || !irt) {
		e = ERR_NOMEM;
		goto out;
	}
	e = set_s(c, "msgtype", "m.notice");
	if (e == ERR_OK)
		e = set_s(c, "body", body.p);
	if (e == ERR_OK)
		e = set_s(c, "format", "org.matrix.custom.html");
	if (e == ERR_OK)
		e = set_s(c, "formatted_body", html.p);
	if (e == ERR_OK)
		e = set_s(irt, "event_id", r->in_reply_to);
	if (e == ERR_OK && r->thread_root) {
		e = set_s(rel, "rel_type", "m.thread");
		if (e == ERR_OK)
			e = set_s(rel, "event_id", r->thread_root);
		if (e == ERR_OK && json_object_set_new(rel, "is_falling_back", json_true()))
			e = ERR_NOMEM;
	}
	if (e != ERR_OK)
		goto out;
	if (json_object_set(rel, "m.in_reply_to", irt) ||
	    json_object_set(c, "m.relates_to", rel)) {
		e = ERR_NOMEM;
		goto out;
	}
	e = mentions(c, &r->mention, r->mention ? 1 : 0);
	if (e == ERR_OK)
		e = dumps(c, out);
out:
	free(html.p);
	free(body.p);
	json_decref(irt);
	json_decref(rel);
	json_decref(c);
	return e;
}

enum err mx_matrix_to_link(const char *room_id, const char *event_id,
                           const char *via, char **out)
{
	struct sb b = {NULL, 0, 0, 4 * MX_ID_MAX * 3};
	enum err e;

	*out = NULL;
	if (!room_id || !event_id)
		return ERR_INVALID;
	e = sb_str(&b, "https://matrix.to/#/");
	if (e == ERR_OK)
		e = sb_url(&b, room_id);
	if (e == ERR_OK)
		e = sb_str(&b, "/");
	if (e == ERR_OK)
		e = sb_url(&b, event_id);
	if (e == ERR_OK && via && *via) {
		e = sb_str(&b, "?via=");
		if (e == ERR_OK)
			e = sb_url(&b, via);
	}
	if (e != ERR_OK) {
		free(b.p);
		return e;
	}
	*out = b.p;
	return ERR_OK;
}

/* alert_line appends one rendering of the alert; html says which. */
static enum err alert_line(struct sb *b, const struct mx_alert *a,
                           const char *link, int html)
{
	enum err (*put)(struct sb *, const char *, size_t) = html ? sb_html : sb_add;
	enum err e;

#define PUT(s) (e == ERR_OK ? (e = put(b, (s), strlen(s))) : e)
#define LIT(s) (e == ERR_OK ? (e = sb_str(b, (s))) : e)
	e = ERR_OK;
	LIT(html ? "<p><strong>faqbot: " : "faqbot: ");
	PUT(a->kind);
	LIT(html ? "</strong> message from " : " message from ");
	if (a->sender_name && *a->sender_name) {
		PUT(a->sender_name);
		LIT(" (");
		PUT(a->sender);
		LIT(")");
	} else {
		PUT(a->sender);
	}
	LIT(" in ");
	PUT(a->room_id);
	if (a->entry_id && *a->entry_id) {
		LIT(", answered with ");
		PUT(a->entry_id);
	}
	LIT(". The message itself is not copied here: ");
	if (html) {
		LIT("<a href=\"");
		PUT(link);
		LIT("\">");
		PUT(link);
		LIT("</a></p>");
	} else {
		PUT(link);
	}
#undef PUT
#undef LIT
	return e;
}

enum err mx_alert_json(const struct mx_alert *a, char **out)
{
	struct sb text = {NULL, 0, 0, MX_HTML_MAX}, html = {NULL, 0, 0, MX_HTML_MAX};
	char *link = NULL;
	json_t *c = NULL;
	enum err e;

	*out = NULL;
	if (!valid_id(a->room_id, '!') || !valid_id(a->event_id, '$') ||
	    !valid_id(a->sender, '@') || !a->kind)
		return ERR_INVALID;
	e = mx_matrix_to_link(a->room_id, a->event_id, a->via, &link);
	if (e == ERR_OK)
		e = alert_line(&text, a, link, 0);
	if (e == ERR_OK)
		e = alert_line(&html, a, link, 1);
	if (e != ERR_OK)
		goto out;
	c = json_object();
	if (!c) {
		e = ERR_NOMEM;
		goto out;
	}
	/* m.text, not m.notice: moderators must be notified, and notices are
	 * quiet by default in most clients. */
	e = set_s(c, "msgtype", "m.text");
	if (e == ERR_OK)
		e = set_s(c, "body", text.p);
	if (e == ERR_OK)
		e = set_s(c, "format", "org.matrix.custom.html");
	if (e == ERR_OK)
		e = set_s(c, "formatted_body", html.p);
	if (e == ERR_OK)
		e = mentions(c, a->mentions, a->mentions ? a->n_mentions : 0);
	if (e == ERR_OK)
		e = dumps(c, out);
out:
	json_decref(c);
	free(link);
	free(text.p);
	free(html.p);
	return e;
}

enum err mx_notice_json(const char *text, char **out)
{
	struct sb html = {NULL, 0, 0, MX_HTML_MAX};
	json_t *c = NULL;
	enum err e;

	*out = NULL;
	if (!text || !*text)
		return ERR_INVALID;
	e = sb_add(&html, "", 0);
	if (e == ERR_OK)
		e = text_to_html(text, &html, NULL);
	if (e != ERR_OK)
		goto out;
	c = json_object();
	if (!c) {
		e = ERR_NOMEM;
		goto out;
	}
	e = set_s(c, "msgtype", "m.notice");
	if (e == ERR_OK)
		e = set_s(c, "body", text);
	if (e == ERR_OK)
		e = set_s(c, "format", "org.matrix.custom.html");
	if (e == ERR_OK)
		e = set_s(c, "formatted_body", html.p);
	if (e == ERR_OK)
		e = mentions(c, NULL, 0);
	if (e == ERR_OK)
		e = dumps(c, out);
out:
	json_decref(c);
	free(html.p);
	return e;
}

/* ---- small responses and requests ------------------------------------- */

/* copy_clean copies the n bytes of s into buf (cut to fit), control
 * characters (NUL too) as '?'. */
static void copy_clean(char *buf, size_t len, const char *s, size_t n0)
{
	size_t n = utf8_cut(s, n0, len - 1), i;

	for (i = 0; i < n; i++)
		buf[i] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? '?' : s[i];
	buf[n] = '\0';
}

enum err mx_error_parse(const char *json, size_t len, struct mx_error *e)
{
	json_t *root, *ra, *sl, *msg;
	const char *code;
	enum err rc = ERR_PARSE;

	memset(e, 0, sizeof(*e));
	e->retry_after_ms = -1;
	root = load(json, len, NULL, NULL, NULL);
	code = json_is_object(root) ? jstr(root, "errcode") : NULL;
	if (!code)
		goto out;
	copy_clean(e->errcode, sizeof(e->errcode), code, strlen(code));
	msg = json_object_get(root, "error");
	if (json_is_string(msg))
		copy_clean(e->error, sizeof(e->error), json_string_value(msg),
		           json_string_length(msg));
	ra = json_object_get(root, "retry_after_ms");
	if (json_is_integer(ra) && json_integer_value(ra) >= 0)
		e->retry_after_ms = (long long)json_integer_value(ra);
	else if (json_is_real(ra) && json_real_value(ra) >= 0 &&
	         json_real_value(ra) < 1e15)
		e->retry_after_ms = (long long)json_real_value(ra);
	sl = json_object_get(root, "soft_logout");
	e->soft_logout = json_is_true(sl);
	rc = ERR_OK;
out:
	json_decref(root);
	return rc;
}

enum err mx_field_string(const char *json, size_t len, const char *key,
                         char *buf, size_t buflen)
{
	json_t *root = load(json, len, NULL, NULL, NULL);
	const char *v = json_is_object(root) ? jstr(root, key) : NULL;
	enum err e = ERR_OK;
	size_t n, i;

	if (!v) {
		e = ERR_PARSE;
		goto out;
	}
	n = strlen(v);
	if (n + 1 > buflen) {
		e = ERR_LIMIT;
		goto out;
	}
	for (i = 0; i < n; i++)
		if ((unsigned char)v[i] < 0x20 || v[i] == 0x7f)
			e = ERR_INVALID;
	if (e == ERR_OK)
		memcpy(buf, v, n + 1);
out:
	json_decref(root);
	return e;
}

enum err mx_joined_count(const char *json, size_t len, long *count)
{
	json_t *root = load(json, len, NULL, NULL, NULL);
	json_t *joined = json_object_get(root, "joined");
	enum err e = ERR_PARSE;

	if (json_is_object(joined)) {
		*count = (long)json_object_size(joined);
		e = ERR_OK;
	}
	json_decref(root);
	return e;
}

enum err mx_login_json(const char *user_id, const char *password,
                       const char *device_id, char **out)
{
	json_t *c = json_object(), *id = json_object();
	enum err e = ERR_OK;

	*out = NULL;
	if (!c || !id) {
		e = ERR_NOMEM;
		goto out;
	}
	e = set_s(id, "type", "m.id.user");
	if (e == ERR_OK)
		e = set_s(id, "user", user_id);
	if (e == ERR_OK)
		e = set_s(c, "type", "m.login.password");
	if (e == ERR_OK)
		e = set_s(c, "password", password);
	if (e == ERR_OK && device_id && *device_id)
		e = set_s(c, "device_id", device_id);
	if (e == ERR_OK)
		e = set_s(c, "initial_device_display_name", "faqbot");
	if (e == ERR_OK && json_object_set(c, "identifier", id))
		e = ERR_NOMEM;
	if (e == ERR_OK)
		e = dumps(c, out);
out:
	json_decref(id);
	json_decref(c);
	return e;
}

enum err mx_filter_json(int timeline_limit, char **out)
{
	json_t *f;

	*out = NULL;
	/* No presence, no account data, no ephemeral events (typing,
	 * receipts); state only for member events, lazily, which is enough
	 * for names, and the power levels (one event a room, for
	 * sender_power); the timeline only for what mx_sync_parse reads. */
	f = json_pack("{s:{s:[s]}, s:{s:[s]}, s:{s:{s:[s]}, s:{s:[s]},"
	              " s:{s:[s,s], s:b}, s:{s:[s,s,s,s,s], s:i}}}",
	              "presence", "not_types", "*",
	              "account_data", "not_types", "*",
	              "room",
	              "account_data", "not_types", "*",
	              "ephemeral", "not_types", "*",
	              "state", "types", "m.room.member", "m.room.power_levels",
	              "lazy_load_members", 1,
	              "timeline", "types", "m.room.message", "m.room.member",
	              "m.room.power_levels", "m.room.redaction", "m.room.encrypted",
	              "limit", timeline_limit);
	if (!f)
		return ERR_NOMEM;
	*out = json_dumps(f, JSON_COMPACT);
	json_decref(f);
	return *out ? ERR_OK : ERR_NOMEM;
}
