/* listenaddr.h -- where a server of the bot listens, as its config writes
 * it: an address literal and a port, "127.0.0.1:9464" or "[::1]:9464".
 * Read once for the metrics endpoint and the Application Service
 * listener; whether that address may go without TLS is netaddr's
 * question, not this one's. */
#ifndef FAQBOT_LISTENADDR_H
#define FAQBOT_LISTENADDR_H

#include <stddef.h>
#include <sys/socket.h>

#include "err.h"

/* listenaddr_parse reads s into ss (*v6 says which family) and the address
 * as written into host (hostlen bytes). ERR_INVALID for anything else: a
 * name, no port, a port over 65535, an address too long for host. */
enum err listenaddr_parse(const char *s, struct sockaddr_storage *ss, int *v6, char *host,
			  size_t hostlen);

#endif
