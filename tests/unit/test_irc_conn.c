/* test_irc_conn.c -- one IRC connection: the config checks (a host, the
 * loopback rule for plain TCP, a port, TLS files only with TLS), then a
 * real plain connection to a listener on 127.0.0.1: lines out and counted
 * as acknowledged, lines in, a refused connect, and a stop's QUIT that
 * goes after the line under way and drops the rest; the connect in the
 * loop's steps, where a silent TLS server holds nobody. Waits are on
 * conditions with a timeout, never a fixed sleep. */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "irc_conn.h"

#define WAIT_MS 10000 /* the longest any condition here may take */

static struct irc_conn_config cfg(const char *host, int port, int tls)
{
	struct irc_conn_config c;

	memset(&c, 0, sizeof(c));
	c.host = host;
	c.port = port;
	c.tls = tls;
	c.connect_timeout_ms = 5000;
	return c;
}

static void refused(struct irc_conn_config c, const char *want)
{
	struct irc_conn *conn = NULL;
	char err[512];

	assert_int_not_equal(irc_conn_new(&c, &conn, err, sizeof(err)), ERR_OK);
	assert_null(conn);
	if (!strstr(err, want))
		fail_msg("\"%s\" does not say \"%s\"", err, want);
}

static void test_config_checks(void **state)
{
	struct irc_conn_config c;

	(void)state;
	refused(cfg(NULL, 6667, 0), "no server host");
	refused(cfg("", 6667, 0), "no server host");
	refused(cfg("irc.example.org/x", 6667, 0), "no server host");
	/* plain TCP only where nobody sits between */
	refused(cfg("192.0.2.1", 6667, 0), "with tls = false");
	refused(cfg("127.attacker.example", 6667, 0), "with tls = false");
	refused(cfg("0.0.0.0", 6667, 0), "with tls = false");
	refused(cfg("127.0.0.1", 0, 0), "port 0 is not between 1 and 65535");
	refused(cfg("127.0.0.1", 65536, 0), "not between 1 and 65535");
	c = cfg("127.0.0.1", 6667, 0);
	c.tls_ca_file = "/etc/hostname";
	refused(c, "only with tls on");
	c = cfg("127.0.0.1", 6667, 0);
	c.tls_key_file = "/nonexistent.key";
	refused(c, "without tls_cert_file");
	c = cfg("irc.example.org", 6697, 1);
	c.tls_cert_file = "/nonexistent.crt";
	refused(c, "tls_cert_file /nonexistent.crt");
	irc_conn_free(NULL);
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* listener opens a socket on 127.0.0.1 and a free port. */
static int listener(int *port)
{
	struct sockaddr_in a;
	socklen_t al = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(fd, 4), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &al), 0);
	*port = ntohs(a.sin_port);
	return fd;
}

/* read_until reads from fd into buf until it holds want, or fails. */
static void read_until(int fd, char *buf, size_t cap, const char *want)
{
	long long end = now_ms() + WAIT_MS;
	size_t n = strlen(buf);

	while (!strstr(buf, want)) {
		struct pollfd p = {fd, POLLIN, 0};
		ssize_t k;

		assert_true(now_ms() < end);
		if (poll(&p, 1, 100) <= 0)
			continue;
		k = read(fd, buf + n, cap - 1 - n);
		assert_true(k > 0);
		n += (size_t)k;
		buf[n] = '\0';
	}
}

/* drive takes a connection under way through the loop's steps (the fd and
 * events irc_conn_want gives, polled) until it is up or failed; *pending
 * counts the steps that said "not yet". */
static int drive(struct irc_conn *conn, char *err, size_t errlen, int *pending, int sfd_hello)
{
	long long end = now_ms() + WAIT_MS;
	int rc;

	while ((rc = irc_conn_advance(conn, err, errlen)) == 0) {
		struct pollfd p = {irc_conn_fd(conn), 0, 0};
		long long at;

		(*pending)++;
		assert_true(now_ms() < end);
		irc_conn_want(conn, &p.events, &at);
		assert_true(at > 0);
		if (sfd_hello >= 0 && p.fd >= 0 && p.events == POLLIN) {
			/* waiting for the server in the handshake: the ClientHello
			 * went, and the step came back instead of waiting */
			struct pollfd h = {sfd_hello, POLLIN, 0};

			assert_int_equal(poll(&h, 1, WAIT_MS), 1);
		}
		poll(&p, p.fd >= 0 && p.events ? 1 : 0, 50);
	}
	return rc;
}

/* open_now connects c in the loop's steps: 1 up, -1 failed. */
static int open_now(struct irc_conn *c, char *err, size_t errlen)
{
	int pending = 0;

	assert_int_equal(irc_conn_begin(c), ERR_OK);
	return drive(c, err, errlen, &pending, -1);
}

/* connected opens conn to a fresh listener and returns the server's end. */
static int connected(struct irc_conn **conn, int *lfd)
{
	struct irc_conn_config c;
	char err[512];
	int port, sfd;

	*lfd = listener(&port);
	c = cfg("127.0.0.1", port, 0);
	assert_int_equal(irc_conn_new(&c, conn, err, sizeof(err)), ERR_OK);
	assert_int_equal(irc_conn_fd(*conn), -1);
	assert_int_equal(open_now(*conn, err, sizeof(err)), 1);
	assert_true(irc_conn_fd(*conn) >= 0);
	sfd = accept(*lfd, NULL, NULL);
	assert_true(sfd >= 0);
	return sfd;
}

static void test_lines_out_and_in(void **state)
{
	struct irc_conn *conn;
	char buf[4096] = "";
	unsigned long long acked = 0;
	long long end;
	ssize_t n;
	int lfd, sfd = connected(&conn, &lfd);

	(void)state;
	assert_string_equal(irc_conn_host(conn), "127.0.0.1");
	assert_int_equal(irc_conn_put(conn, "NICK a\r\n", 8), 0);
	assert_int_equal(irc_conn_put(conn, "USER a 0 * a\r\n", 14), 0);
	assert_int_equal(irc_conn_put_total(conn), 22);
	assert_int_equal(irc_conn_unsent(conn), 22);
	assert_int_equal(irc_conn_room(conn), IRC_WBUF_MAX - 22);
	assert_int_equal(irc_conn_flush(conn), 0);
	assert_int_equal(irc_conn_unsent(conn), 0);
	read_until(sfd, buf, sizeof(buf), "USER a 0 * a\r\n");
	assert_string_equal(buf, "NICK a\r\nUSER a 0 * a\r\n");
	/* acknowledged once the server's TCP has them: a loopback ACK */
	end = now_ms() + WAIT_MS;
	while (!(irc_conn_acked(conn, &acked) && acked == 22)) {
		assert_true(now_ms() < end);
		poll(NULL, 0, 10);
	}
	/* a put that does not fit takes nothing */
	{
		static char big[IRC_WBUF_MAX + 1];

		memset(big, 'x', sizeof(big));
		assert_int_equal(irc_conn_put(conn, big, sizeof(big)), -1);
		assert_int_equal(irc_conn_put_total(conn), 22);
	}
	/* in: what the server writes */
	assert_int_equal(write(sfd, "PING :x\r\n", 9), 9);
	end = now_ms() + WAIT_MS;
	for (;;) {
		struct pollfd p = {irc_conn_fd(conn), POLLIN, 0};

		assert_true(now_ms() < end);
		if (poll(&p, 1, 100) > 0)
			break;
	}
	n = irc_conn_recv(conn, buf, sizeof(buf));
	assert_int_equal(n, 9);
	assert_memory_equal(buf, "PING :x\r\n", 9);
	assert_int_equal(irc_conn_pending(conn), 0);
	/* the server closes: recv says 0 */
	close(sfd);
	end = now_ms() + WAIT_MS;
	while ((n = irc_conn_recv(conn, buf, sizeof(buf))) < 0 && errno == EAGAIN) {
		assert_true(now_ms() < end);
		poll(NULL, 0, 10);
	}
	assert_int_equal(n, 0);
	irc_conn_close(conn);
	assert_int_equal(irc_conn_fd(conn), -1);
	assert_int_equal(irc_conn_acked(conn, &acked), 0);
	irc_conn_free(conn);
	close(lfd);
}

static void test_quit_after_the_line_under_way(void **state)
{
	struct irc_conn *conn;
	char buf[4096] = "";
	unsigned long long acked = 0;
	long long end;
	int lfd, sfd = connected(&conn, &lfd);

	(void)state;
	/* two replies' lines wait unsent; a stop keeps the first line only
	 * (the server would read the rest of a cut line and QUIT as one) */
	assert_int_equal(irc_conn_put(conn, "PRIVMSG #c :one\r\nPRIVMSG #c :two\r\n", 34), 0);
	irc_conn_quit(conn, "QUIT :bye\r\n", 11, 5000);
	read_until(sfd, buf, sizeof(buf), "QUIT :bye\r\n");
	assert_string_equal(buf, "PRIVMSG #c :one\r\nQUIT :bye\r\n");
	/* the dropped line is never counted as acknowledged */
	end = now_ms() + WAIT_MS;
	while (!(irc_conn_acked(conn, &acked) && acked == 17)) {
		assert_true(now_ms() < end);
		assert_true(acked <= 17);
		poll(NULL, 0, 10);
	}
	irc_conn_free(conn);
	close(sfd);
	close(lfd);
}

static void test_refused_connect(void **state)
{
	struct irc_conn_config c;
	struct irc_conn *conn;
	char err[512] = "";
	int port, lfd = listener(&port);

	(void)state;
	close(lfd); /* nobody listens there now */
	c = cfg("127.0.0.1", port, 0);
	assert_int_equal(irc_conn_new(&c, &conn, err, sizeof(err)), ERR_OK);
	assert_int_equal(open_now(conn, err, sizeof(err)), -1);
	assert_int_equal(irc_conn_fd(conn), -1);
	assert_string_equal(err, ""); /* only a handshake's reason goes there */
	irc_conn_free(conn);
}

/* The loop's way: a connect in steps, and a TLS server that never answers
 * holds nobody: each step comes back while the handshake waits, and the
 * connect timeout ends it with a reason. */
static void test_steps_never_block(void **state)
{
	struct irc_conn_config c;
	struct irc_conn *conn;
	char err[512] = "";
	int port, lfd = listener(&port), sfd, pending = 0;

	(void)state;
	c = cfg("127.0.0.1", port, 0);
	assert_int_equal(irc_conn_new(&c, &conn, err, sizeof(err)), ERR_OK);
	assert_int_equal(irc_conn_begin(conn), ERR_OK);
	assert_int_equal(irc_conn_up(conn), 0);
	assert_int_equal(drive(conn, err, sizeof(err), &pending, -1), 1);
	assert_int_equal(irc_conn_up(conn), 1);
	sfd = accept(lfd, NULL, NULL);
	assert_true(sfd >= 0);
	close(sfd);
	irc_conn_free(conn);

	c = cfg("127.0.0.1", port, 1);
	c.connect_timeout_ms = 500;
	if (irc_conn_new(&c, &conn, err, sizeof(err)) != ERR_OK) {
		/* no libssl on this machine: the plain half above still ran */
		close(lfd);
		skip();
	}
	assert_int_equal(irc_conn_begin(conn), ERR_OK);
	pending = 0;
	/* the server accepts once the connect is under way, then says nothing */
	{
		long long end = now_ms() + WAIT_MS;
		int rc;

		while ((rc = irc_conn_advance(conn, err, sizeof(err))) == 0 &&
		       irc_conn_fd(conn) < 0) {
			assert_true(now_ms() < end);
			poll(NULL, 0, 10);
		}
		assert_int_equal(rc, 0);
	}
	sfd = accept(lfd, NULL, NULL);
	assert_true(sfd >= 0);
	assert_int_equal(drive(conn, err, sizeof(err), &pending, sfd), -1);
	assert_true(pending > 0);
	assert_int_equal(irc_conn_fd(conn), -1);
	assert_int_equal(irc_conn_up(conn), 0);
	if (!strstr(err, "timed out"))
		fail_msg("\"%s\" does not say \"timed out\"", err);
	irc_conn_free(conn);
	close(sfd);
	close(lfd);
}

/* A host that does not resolve fails through the steps too. */
static void test_unknown_host(void **state)
{
	struct irc_conn_config c;
	struct irc_conn *conn;
	char err[512] = "";
	int pending = 0;

	(void)state;
	c = cfg("no-such-host.invalid", 6697, 1);
	if (irc_conn_new(&c, &conn, err, sizeof(err)) != ERR_OK)
		skip();
	assert_int_equal(irc_conn_begin(conn), ERR_OK);
	assert_int_equal(drive(conn, err, sizeof(err), &pending, -1), -1);
	assert_int_equal(irc_conn_fd(conn), -1);
	irc_conn_free(conn);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_config_checks),
		cmocka_unit_test(test_lines_out_and_in),
		cmocka_unit_test(test_quit_after_the_line_under_way),
		cmocka_unit_test(test_refused_connect),
		cmocka_unit_test(test_steps_never_block),
		cmocka_unit_test(test_unknown_host),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
