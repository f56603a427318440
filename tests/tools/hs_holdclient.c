/* hs_holdclient: one Redis client connection, timed, for the hold tests; or
 * a connection setup rate.
 *
 *   hs_holdclient HOST PORT TIMEOUT_MS
 *       Connects, sends PING, waits up to TIMEOUT_MS for the answer and
 *       prints one line: "RESULT CONNECT_MS END_MS" (wall clock, ms), where
 *       RESULT is the first reply line ("+PONG"), "closed" (the peer closed
 *       or reset the connection without answering), "timeout", or
 *       "connect-failed". Exit 0 only for a reply.
 *   hs_holdclient -r SECONDS HOST PORT
 *       For SECONDS: connect, PING, read +PONG, close, again. Prints
 *       "setups N failed M per_s R": completed round trips per second.
 *   hs_holdclient -a SOCKET COMMAND
 *       Sends COMMAND to HAProxy's runtime API on the unix SOCKET and prints
 *       "ACK_MS REPLY": the wall clock when the reply (HAProxy's
 *       acknowledgement) arrived, then the reply on one line.
 *
 * Plain sockets and poll(): no library, so the timing is the kernel's. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static long long
wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static double
mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
dial(const char *host, int port)
{
	struct sockaddr_in sa;
	int fd, one = 1;

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((unsigned short)port);
	if (inet_pton(AF_INET, host, &sa.sin_addr) != 1)
		return -1;
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
		return -1;
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Send PING and read the first reply line into line (without CRLF).
 * 1: a line; 0: closed without one; -1: timeout. */
static int
ping(int fd, int timeout_ms, char *line, size_t cap)
{
	static const char req[] = "PING\r\n";
	size_t len = 0;
	double end = mono_s() + timeout_ms / 1000.0;

	if (send(fd, req, sizeof(req) - 1, MSG_NOSIGNAL) != (ssize_t)(sizeof(req) - 1))
		return 0;
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		double left = end - mono_s();
		ssize_t r;
		char *nl;

		if (left <= 0)
			return -1;
		r = poll(&p, 1, (int)(left * 1000) + 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			continue;
		r = recv(fd, line + len, cap - 1 - len, 0);
		if (r <= 0)
			return 0;
		len += (size_t)r;
		line[len] = '\0';
		nl = strstr(line, "\r\n");
		if (nl) {
			*nl = '\0';
			return 1;
		}
		if (len == cap - 1)
			return 1;
	}
}

static int
one(const char *host, int port, int timeout_ms)
{
	char line[256];
	long long t_conn;
	int fd, rc;

	fd = dial(host, port);
	t_conn = wall_ms();
	if (fd < 0) {
		printf("connect-failed %lld %lld\n", t_conn, t_conn);
		return 1;
	}
	rc = ping(fd, timeout_ms, line, sizeof(line));
	printf("%s %lld %lld\n", rc == 1 ? line : rc == 0 ? "closed" : "timeout", t_conn, wall_ms());
	close(fd);
	return rc == 1 ? 0 : 1;
}

static int
rate(double seconds, const char *host, int port)
{
	double start = mono_s(), el;
	long n = 0, failed = 0;
	char line[256];

	while ((el = mono_s() - start) < seconds) {
		int fd = dial(host, port);

		if (fd < 0) {
			failed++;
			continue;
		}
		if (ping(fd, 2000, line, sizeof(line)) == 1 && strcmp(line, "+PONG") == 0)
			n++;
		else
			failed++;
		close(fd);
	}
	printf("setups %ld failed %ld per_s %.0f\n", n, failed, n / el);
	return failed ? 1 : 0;
}

static int
ack(const char *path, const char *cmd)
{
	struct sockaddr_un sa;
	char buf[4096];
	size_t len = 0;
	long long t_ack = 0;
	ssize_t r;
	int fd;

	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa.sun_path))
		return 2;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		perror(path);
		return 1;
	}
	if (send(fd, cmd, strlen(cmd), MSG_NOSIGNAL) < 0 || send(fd, "\n", 1, MSG_NOSIGNAL) < 0) {
		perror("send");
		close(fd);
		return 1;
	}
	while (len < sizeof(buf) - 1 && (r = recv(fd, buf + len, sizeof(buf) - 1 - len, 0)) > 0) {
		if (!t_ack)
			t_ack = wall_ms();
		len += (size_t)r;
	}
	close(fd);
	buf[len] = '\0';
	for (size_t i = 0; i < len; i++)
		if (buf[i] == '\n')
			buf[i] = ' ';
	printf("%lld %s\n", t_ack ? t_ack : wall_ms(), buf);
	return 0;
}

int
main(int argc, char **argv)
{
	if (argc == 4 && strcmp(argv[1], "-a") == 0)
		return ack(argv[2], argv[3]);
	if (argc == 5 && strcmp(argv[1], "-r") == 0)
		return rate(atof(argv[2]), argv[3], atoi(argv[4]));
	if (argc == 4)
		return one(argv[1], atoi(argv[2]), atoi(argv[3]));
	fprintf(stderr, "usage: hs_holdclient HOST PORT TIMEOUT_MS\n"
			"       hs_holdclient -r SECONDS HOST PORT\n"
			"       hs_holdclient -a SOCKET COMMAND\n");
	return 2;
}
