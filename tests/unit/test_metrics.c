/* test_metrics.c -- the counts and their scrape endpoint: each count shows
 * in the exposition text with its fixed label, and GET /metrics serves it
 * from a port the kernel chose; anything else is refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cmocka.h>

#include "buf.h"
#include "metrics.h"
#include "metrics_http.h"

static char *rendered(void)
{
	struct buf b;

	buf_init(&b, 1 << 16);
	metrics_render(&b);
	return buf_detach(&b);
}

static void test_counts_show(void **state)
{
	char *t;

	(void)state;
	metrics_reset();
	metrics_inc(M_MSG_CRISIS);
	metrics_inc(M_MSG_CRISIS);
	metrics_inc(M_CRISIS_ALERT_FAILED);
	metrics_add(M_RETRY_RATE_LIMITED, 3);
	metrics_set(G_FAQ_DUE, 7);
	metrics_add(G_FAQ_DUE, 5);  /* a gauge is set, never added to */
	metrics_set(M_MSG_NONE, 9); /* a counter is added to, never set */
	t = rendered();
	assert_non_null(t);
	assert_non_null(strstr(t, "# TYPE faqbot_messages_total counter\n"));
	assert_non_null(strstr(t, "faqbot_messages_total{class=\"crisis\"} 2\n"));
	assert_non_null(strstr(t, "faqbot_messages_total{class=\"none\"} 0\n"));
	assert_non_null(strstr(t, "faqbot_crisis_total{result=\"alert_failed\"} 1\n"));
	assert_non_null(strstr(t, "faqbot_retries_total{cause=\"rate_limited\"} 3\n"));
	assert_non_null(strstr(t, "# TYPE faqbot_faq_due gauge\nfaqbot_faq_due 7\n"));
	/* one HELP and one TYPE a family, however many series it has */
	{
		const char *p = strstr(t, "# HELP faqbot_messages_total");

		assert_null(strstr(p + 1, "# HELP faqbot_messages_total"));
	}
	free(t);
}

/* get sends one request to 127.0.0.1:port and returns the whole answer. */
static char *get(unsigned port, const char *request)
{
	struct sockaddr_in a = {0};
	struct timeval tv = {10, 0};
	char *out = calloc(1, 1 << 16);
	size_t n = 0;
	ssize_t r;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	assert_non_null(out);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	a.sin_family = AF_INET;
	a.sin_port = htons((unsigned short)port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(write(fd, request, strlen(request)), (ssize_t)strlen(request));
	while (n < (1 << 16) - 1 && (r = read(fd, out + n, (1 << 16) - 1 - n)) > 0)
		n += (size_t)r;
	close(fd);
	return out;
}

static void test_endpoint(void **state)
{
	struct metrics_http *h = NULL;
	char err[256], *r;
	unsigned port;

	(void)state;
	metrics_reset();
	metrics_inc(M_RELOAD_REFUSED);
	assert_int_equal(metrics_http_start("127.0.0.1:0", &h, err, sizeof(err)), ERR_OK);
	port = metrics_http_port(h);
	assert_true(port > 0);
	r = get(port, "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
	assert_non_null(strstr(r, "HTTP/1.1 200"));
	assert_non_null(strstr(r, "text/plain; version=0.0.4"));
	assert_non_null(strstr(r, "faqbot_faq_reloads_total{result=\"refused\"} 1\n"));
	free(r);
	r = get(port, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
	assert_non_null(strstr(r, "HTTP/1.1 404"));
	/* the body is the text and no byte more (a NUL was sent once) */
	assert_non_null(strstr(r, "Content-Length: 39\r\n"));
	free(r);
	r = get(port, "POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n"
		      "Connection: close\r\n\r\nabc");
	assert_non_null(strstr(r, "HTTP/1.1 405"));
	free(r);
	/* a scraper that says nothing costs one connection, not the endpoint */
	{
		struct sockaddr_in a = {0};
		int idle = socket(AF_INET, SOCK_STREAM, 0);

		a.sin_family = AF_INET;
		a.sin_port = htons((unsigned short)port);
		a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		assert_int_equal(connect(idle, (struct sockaddr *)&a, sizeof(a)), 0);
		r = get(port, "GET /metrics HTTP/1.0\r\n\r\n");
		assert_non_null(strstr(r, " 200 "));
		free(r);
		close(idle);
	}
	metrics_http_stop(h);
}

static void test_listen_refused(void **state)
{
	struct metrics_http *h = NULL;
	char err[256];

	(void)state;
	assert_int_equal(metrics_http_start("localhost:9464", &h, err, sizeof(err)), ERR_INVALID);
	assert_non_null(strstr(err, "ADDRESS:PORT"));
	assert_int_equal(metrics_http_start("127.0.0.1", &h, err, sizeof(err)), ERR_INVALID);
	assert_int_equal(metrics_http_start("127.0.0.1:99999", &h, err, sizeof(err)),
			 ERR_INVALID);
	assert_int_equal(metrics_http_start("[::1:9464", &h, err, sizeof(err)), ERR_INVALID);
	assert_null(h);
	metrics_http_stop(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_counts_show),
		cmocka_unit_test(test_endpoint),
		cmocka_unit_test(test_listen_refused),
	};
	return cmocka_run_group_tests_name("metrics", tests, NULL, NULL);
}
