/* netaddr.h -- is this host on this machine? The one check both transports
 * make before they agree to talk without TLS.
 *
 * Plain TCP (or plain HTTP) is allowed only where nobody can sit between
 * the bot and the server: an address literal in 127.0.0.0/8, ::1 or an
 * IPv4-mapped ::ffff:127.x.y.z (brackets allowed), or the name "localhost"
 * when every address it resolves to is one of those. Any other name is
 * refused without asking DNS, even one that starts with "127." (a name like
 * 127.attacker.example resolves wherever its owner likes), and so is
 * 0.0.0.0 (which reaches every interface). */
#ifndef FAQBOT_NETADDR_H
#define FAQBOT_NETADDR_H

#include <stddef.h>

#include "err.h"

/* netaddr_is_loopback_literal: 1 if host is an IP address literal on the
 * loopback (IPv4 127/8, ::1, ::ffff:127.0.0.0/104; an IPv6 literal may be
 * in brackets), else 0. Never resolves a name. */
int netaddr_is_loopback_literal(const char *host);

/* netaddr_check_plain: ERR_OK if plain (unencrypted) traffic to host is
 * allowed by the rule above. "localhost" is resolved (getaddrinfo, which
 * reads /etc/hosts) and every answer must be loopback. Otherwise
 * ERR_INVALID with a sentence in errbuf saying why and what to do. */
enum err netaddr_check_plain(const char *host, char *errbuf, size_t errlen);

#endif
