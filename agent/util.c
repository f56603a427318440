#include "util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "tk.h"

int
addr_parse(const char *text, char *host, size_t hostlen, int *port)
{
	const char *colon, *hend, *pstart;
	long p;

	if (!text || !*text)
		return -1;
	if (text[0] == '[') {
		hend = strchr(text, ']');
		if (!hend || hend[1] != ':')
			return -1;
		text++;
		pstart = hend + 2;
	} else {
		colon = strrchr(text, ':');
		if (!colon)
			return -1;
		/* Bare IPv6 without brackets is ambiguous: refuse. */
		if (memchr(text, ':', (size_t)(colon - text)))
			return -1;
		hend = colon;
		pstart = colon + 1;
	}
	if (hend == text || (size_t)(hend - text) >= hostlen)
		return -1;
	if (parse_long(pstart, 1, 65535, &p) < 0)
		return -1;
	memcpy(host, text, (size_t)(hend - text));
	host[hend - text] = '\0';
	*port = (int)p;
	return 0;
}

static int
to_bin(const char *s, unsigned char *buf, int *family)
{
	if (inet_pton(AF_INET, s, buf) == 1) {
		*family = AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, s, buf) == 1) {
		*family = AF_INET6;
		return 0;
	}
	return -1;
}

int
addr_ip_equal(const char *a, const char *b)
{
	unsigned char ba[sizeof(struct in6_addr)], bb[sizeof(struct in6_addr)];
	int fa, fb;

	/* The same text is the same address, literal or name: no parsing
	 * (most calls, on every tick, compare a node with itself). */
	if (strcmp(a, b) == 0)
		return 1;
	if (to_bin(a, ba, &fa) < 0 || to_bin(b, bb, &fb) < 0)
		return strcmp(a, b) == 0;
	if (fa != fb)
		return 0;
	return memcmp(ba, bb, fa == AF_INET ? 4 : 16) == 0;
}

int
addr_is_ip(const char *s)
{
	unsigned char buf[sizeof(struct in6_addr)];
	int f;

	return to_bin(s, buf, &f) == 0;
}

int
addr_is_hostname(const char *s)
{
	size_t n = 0, label = 0;
	int alpha = 0;

	if (!s || !*s)
		return 0;
	for (const char *p = s; *p; p++, n++) {
		char ch = *p;

		if (n >= ADDR_IP_MAX - 1)
			return 0;
		if (ch == '.') {
			if (label == 0 || p[-1] == '-')
				return 0;
			label = 0;
			continue;
		}
		if (ch == '-') {
			if (label == 0)
				return 0;
		} else if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '_') {
			alpha = 1;
		} else if (!(ch >= '0' && ch <= '9')) {
			return 0;
		}
		if (++label > 63)
			return 0;
	}
	/* A trailing dot (the root) is allowed; a trailing '-' is not. */
	if (s[n - 1] == '-')
		return 0;
	return alpha || strchr(s, '-') != NULL;
}

int
addr_is_host(const char *s)
{
	return addr_is_ip(s) || addr_is_hostname(s);
}

const char *
addr_format(char *buf, size_t len, const char *ip, int port)
{
	if (strchr(ip, ':'))
		snprintf(buf, len, "[%s]:%d", ip, port);
	else
		snprintf(buf, len, "%s:%d", ip, port);
	return buf;
}

int
parse_long(const char *s, long min, long max, long *out)
{
	char *end;
	long v;

	if (!s || !*s)
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || end == s || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

size_t
str_copy(char *dst, const char *src, size_t len)
{
	size_t n = strlen(src);

	if (len) {
		size_t c = n < len - 1 ? n : len - 1;
		memcpy(dst, src, c);
		dst[c] = '\0';
	}
	return n;
}

static int64_t
clock_ms(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t
now_mono_ms(void)
{
	return clock_ms(CLOCK_MONOTONIC);
}

int64_t
now_wall_ms(void)
{
	return clock_ms(CLOCK_REALTIME);
}

int
fd_nonblock_cloexec(int fd)
{
	int fl;

	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -1;
	fl = fcntl(fd, F_GETFD);
	if (fl < 0 || fcntl(fd, F_SETFD, fl | FD_CLOEXEC) < 0)
		return -1;
	return 0;
}

void
fd_reset_on_close(int fd)
{
	struct linger lg = { 1, 0 };

	(void)setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
}

void
fd_keepalive(int fd, int idle_s, int intvl_s, int cnt)
{
	int on = 1;

	(void)setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof(on));
	(void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle_s, sizeof(idle_s));
	(void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl_s, sizeof(intvl_s));
	(void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
}

int
fd_connect_error(int fd)
{
	int err = 0;
	socklen_t len = sizeof(err);

	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		err = errno;
	return err;
}

int
fd_connect_ip(const char *ip, int port, long fd_cap, int *fd)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	int s, err;

	*fd = -1;
	if (tk_sockaddr_ip(ip, port, &ss, &sl) < 0) {
		errno = EINVAL;
		return -1;
	}
	s = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -1;
	if (fd_cap > 0 && s >= fd_cap) {
		close(s);
		errno = EMFILE;
		return -1;
	}
	if (connect(s, (struct sockaddr *)&ss, sl) == 0) {
		*fd = s;
		return 0;
	}
	if (errno == EINPROGRESS) {
		struct pollfd p = { .fd = s, .events = POLLOUT };

		/* A local peer has usually answered by now (a loopback
		 * handshake runs inside connect()): then the caller goes on at
		 * once rather than one loop iteration later. */
		if (poll(&p, 1, 0) != 1 || !(p.revents & (POLLOUT | POLLERR | POLLHUP))) {
			*fd = s;
			return 1;
		}
		err = fd_connect_error(s);
		if (err == 0) {
			*fd = s;
			return 0;
		}
		close(s);
		errno = err;
		return -1;
	}
	err = errno;
	close(s);
	errno = err;
	return -1;
}

long long
self_rss_bytes(void)
{
	static int fd = -2;
	static long page;
	char buf[128], *p;
	ssize_t n;
	long long pages;

	if (fd == -2) {
		fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
		page = sysconf(_SC_PAGESIZE);
	}
	if (fd < 0 || page <= 0)
		return -1;
	do
		n = pread(fd, buf, sizeof(buf) - 1, 0);
	while (n < 0 && errno == EINTR);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	/* "size resident shared text lib data dt", in pages */
	p = strchr(buf, ' ');
	if (!p)
		return -1;
	pages = strtoll(p + 1, NULL, 10);
	return pages > 0 ? pages * page : -1;
}
