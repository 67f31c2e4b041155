/* metrics_http.h -- the Prometheus scrape endpoint, GET /metrics, served by
 * libmicrohttpd (Debian's embeddable HTTP server) on a thread of its own,
 * so a slow or hostile scraper never holds up a reply to a member.
 *
 * Off unless the config has a [metrics] section; it listens where that
 * says, 127.0.0.1:9464 by default: a loopback address unless the operator
 * names another. Plain HTTP: what it shows is counts, never a user id, a
 * room or a member's words (metrics.h). Anything but GET /metrics is 404
 * or 405; at most METRICS_HTTP_CONNS scrapers at once, each cut after
 * METRICS_HTTP_TIMEOUT_S seconds of silence. */
#ifndef FAQBOT_METRICS_HTTP_H
#define FAQBOT_METRICS_HTTP_H

#include <stddef.h>

#include "err.h"

#define METRICS_HTTP_DEFAULT   "127.0.0.1:9464"
#define METRICS_HTTP_CONNS     8
#define METRICS_HTTP_TIMEOUT_S 10

struct metrics_http; /* opaque */

/* metrics_http_start listens on listen ("ADDRESS:PORT": an IPv4 literal or
 * a bracketed IPv6 one; port 0 lets the kernel choose, for tests) and
 * serves until metrics_http_stop. ERR_INVALID for an address it cannot
 * read, ERR_IO when it cannot listen, each with a sentence in err. */
enum err metrics_http_start(const char *listen, struct metrics_http **out, char *err,
			    size_t errlen);

/* metrics_http_port: the port it listens on (the kernel's choice for 0). */
unsigned metrics_http_port(const struct metrics_http *h);

/* metrics_http_stop stops listening and frees h; NULL is a no-op. */
void metrics_http_stop(struct metrics_http *h);

#endif
