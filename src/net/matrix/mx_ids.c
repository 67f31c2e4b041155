/* mx_ids.c -- Matrix id checks, mention resolution and transaction ids
 * (see mx_ids.h). */
#include "mx_ids.h"

#include <stdio.h>
#include <string.h>

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

int mx_id_valid(const char *id, char sigil)
{
	return valid_id(id, sigil);
}

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

enum err mx_mention_resolve(const char *mention, const char *sender, char *buf, size_t buflen)
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

const char *mx_server_name(const char *id)
{
	const char *c = id ? strchr(id, ':') : NULL;

	return c && c[1] ? c + 1 : NULL;
}

/* ---- transaction ids ------------------------------------------------- */

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
		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '_') {
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

enum err mx_txn_key_request(const char *session_id, char *buf, size_t buflen)
{
	return txn("fbk-", session_id, buf, buflen);
}

enum err mx_txn_notice(long long start_ms, long pid, unsigned long n, char *buf, size_t buflen)
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
