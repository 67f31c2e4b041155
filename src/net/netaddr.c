/* netaddr.c -- the loopback rule for plain connections (see netaddr.h). */
#include "netaddr.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

/* The longest IPv6 literal with brackets, plus room for a NUL. */
#define NETADDR_LITERAL_MAX 64

static int v6_is_loopback(const unsigned char a[16])
{
	static const unsigned char one[16] = {[15] = 1};
	static const unsigned char mapped[12] = {[10] = 0xff, [11] = 0xff};

	if (!memcmp(a, one, 16))
		return 1;
	return !memcmp(a, mapped, 12) && a[12] == 127;
}

int netaddr_is_loopback_literal(const char *host)
{
	unsigned char a4[4], a6[16];
	char buf[NETADDR_LITERAL_MAX];
	size_t n;

	if (!host)
		return 0;
	/* inet_pton takes dotted-quad decimal only: no "127.1", no hex */
	if (inet_pton(AF_INET, host, a4) == 1)
		return a4[0] == 127;
	n = strlen(host);
	if (n >= 2 && host[0] == '[' && host[n - 1] == ']') {
		if (n - 2 >= sizeof(buf))
			return 0;
		memcpy(buf, host + 1, n - 2);
		buf[n - 2] = '\0';
		host = buf;
	}
	return inet_pton(AF_INET6, host, a6) == 1 && v6_is_loopback(a6);
}

static int addr_is_loopback(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)sa;
		return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)sa;
		return v6_is_loopback(in6->sin6_addr.s6_addr);
	}
	return 0;
}

/* localhost_is_loopback: every address "localhost" resolves to is loopback
 * (an /etc/hosts that points it elsewhere is refused). */
static int localhost_is_loopback(void)
{
	struct addrinfo hints, *res = NULL, *ai;
	int ok;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	if (getaddrinfo("localhost", NULL, &hints, &res) != 0 || !res)
		return 0;
	ok = 1;
	for (ai = res; ai; ai = ai->ai_next)
		if (!ai->ai_addr || !addr_is_loopback(ai->ai_addr))
			ok = 0;
	freeaddrinfo(res);
	return ok;
}

enum err netaddr_check_plain(const char *host, char *errbuf, size_t errlen)
{
	if (!host || !*host) {
		snprintf(errbuf, errlen, "no host given");
		return ERR_INVALID;
	}
	if (netaddr_is_loopback_literal(host))
		return ERR_OK;
	if (!strcasecmp(host, "localhost")) {
		if (localhost_is_loopback())
			return ERR_OK;
		snprintf(errbuf, errlen,
			 "\"localhost\" resolves to an address that is not loopback here "
			 "(see /etc/hosts): use 127.0.0.1 or ::1, or use TLS");
		return ERR_INVALID;
	}
	snprintf(errbuf, errlen,
		 "plain (unencrypted) connections are allowed only to a loopback "
		 "address (127.0.0.1, ::1 or localhost), and \"%.80s\" is not one: "
		 "use TLS",
		 host);
	return ERR_INVALID;
}
