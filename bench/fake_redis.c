/* fake_redis: a stand-in for many Redis masters, for the scale benchmark.
 *
 *   fake_redis -b BASE_PORT -n COUNT
 *
 * Listens on 127.0.0.1:BASE_PORT .. BASE_PORT+COUNT-1 (one epoll loop) and
 * answers, in RESP2, multibulk or inline:
 *   ROLE  -> *3 master :0 *0   (every port claims to be a master)
 *   PING  -> +PONG             AUTH, SELECT, CLIENT -> +OK
 *   QUIT  -> +OK, then closes  INFO -> tcp_port and role:master
 *   anything else -> -ERR
 * It holds no data. Prints "ready COUNT" on stdout once every port is bound;
 * exits 1 at once when a port cannot be bound (the caller picks another
 * range). Stops on SIGTERM/SIGINT. */
#define _GNU_SOURCE 1
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define INBUF 4096
#define OUTBUF 4096

struct conn {
	int fd;
	int port;           /* the local port: which "node" this is */
	int listener;       /* 1: a listening socket */
	int closing;        /* close once out is flushed */
	char in[INBUF];
	size_t inlen;
	char out[OUTBUF];
	size_t outlen;
};

static volatile sig_atomic_t stop;

static void
on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void
out_add(struct conn *c, const char *s, size_t n)
{
	if (c->outlen + n > sizeof(c->out)) {
		c->closing = 1;   /* a client that never reads: drop it */
		return;
	}
	memcpy(c->out + c->outlen, s, n);
	c->outlen += n;
}

static void
out_str(struct conn *c, const char *s)
{
	out_add(c, s, strlen(s));
}

static void
command(struct conn *c, int argc, char **argv)
{
	if (argc == 0)
		return;
	if (!strcasecmp(argv[0], "ROLE")) {
		out_str(c, "*3\r\n$6\r\nmaster\r\n:0\r\n*0\r\n");
	} else if (!strcasecmp(argv[0], "PING")) {
		out_str(c, "+PONG\r\n");
	} else if (!strcasecmp(argv[0], "AUTH") || !strcasecmp(argv[0], "SELECT") ||
		   !strcasecmp(argv[0], "CLIENT")) {
		out_str(c, "+OK\r\n");
	} else if (!strcasecmp(argv[0], "QUIT")) {
		out_str(c, "+OK\r\n");
		c->closing = 1;
	} else if (!strcasecmp(argv[0], "INFO")) {
		char body[128], head[32];

		snprintf(body, sizeof(body), "# Server\r\ntcp_port:%d\r\n# Replication\r\nrole:master\r\n", c->port);
		snprintf(head, sizeof(head), "$%zu\r\n", strlen(body));
		out_str(c, head);
		out_str(c, body);
		out_str(c, "\r\n");
	} else {
		out_str(c, "-ERR unknown command\r\n");
	}
}

/* Parse complete commands (RESP multibulk or inline); -1 on a protocol error. */
static int
parse(struct conn *c)
{
	size_t pos = 0;

	while (pos < c->inlen && !c->closing) {
		char *argv[8];
		int argc = 0;
		size_t p = pos;
		char *nl = memchr(c->in + p, '\n', c->inlen - p);

		if (!nl)
			break;
		if (c->in[p] == '*') {
			long n = strtol(c->in + p + 1, NULL, 10);

			if (n < 0 || n > 8)
				return -1;
			p = (size_t)(nl - c->in) + 1;
			for (argc = 0; argc < n; argc++) {
				long len;

				if (p >= c->inlen)
					goto incomplete;
				if (c->in[p] != '$')
					return -1;
				nl = memchr(c->in + p, '\n', c->inlen - p);
				if (!nl)
					goto incomplete;
				len = strtol(c->in + p + 1, NULL, 10);
				if (len < 0 || len > 1024)
					return -1;
				p = (size_t)(nl - c->in) + 1;
				if (p + (size_t)len + 2 > c->inlen)
					goto incomplete;
				argv[argc] = c->in + p;
				argv[argc][len] = '\0';
				p += (size_t)len + 2;
			}
		} else {
			/* Inline: "PING\r\n" (HAProxy's tcp-check sends these). */
			char *s = c->in + p, *save = NULL, *tok;

			*nl = '\0';
			if (nl > s && nl[-1] == '\r')
				nl[-1] = '\0';
			for (tok = strtok_r(s, " ", &save); tok && argc < 8; tok = strtok_r(NULL, " ", &save))
				argv[argc++] = tok;
			p = (size_t)(nl - c->in) + 1;
		}
		command(c, argc, argv);
		pos = p;
	}
incomplete:
	memmove(c->in, c->in + pos, c->inlen - pos);
	c->inlen -= pos;
	if (c->inlen == sizeof(c->in) - 1)
		return -1;   /* a command longer than the buffer */
	return 0;
}

static void
conn_free(int ep, struct conn *c)
{
	epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	free(c);
}

static int
flush_out(struct conn *c)
{
	while (c->outlen) {
		ssize_t w = write(c->fd, c->out, c->outlen);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return 0;
			return -1;
		}
		memmove(c->out, c->out + w, c->outlen - (size_t)w);
		c->outlen -= (size_t)w;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	int base = 0, count = 0, opt, ep, one = 1;
	struct epoll_event evs[256];
	struct sigaction sa;

	while ((opt = getopt(argc, argv, "b:n:")) != -1) {
		switch (opt) {
		case 'b': base = atoi(optarg); break;
		case 'n': count = atoi(optarg); break;
		default:
			fprintf(stderr, "usage: fake_redis -b BASE_PORT -n COUNT\n");
			return 2;
		}
	}
	if (base <= 0 || count <= 0 || base + count - 1 > 65535) {
		fprintf(stderr, "usage: fake_redis -b BASE_PORT -n COUNT\n");
		return 2;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0) {
		perror("epoll_create1");
		return 1;
	}
	for (int i = 0; i < count; i++) {
		struct sockaddr_in sin;
		struct epoll_event e;
		struct conn *l = calloc(1, sizeof(*l));
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

		if (!l || fd < 0) {
			perror("fake_redis: socket");
			return 1;
		}
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		memset(&sin, 0, sizeof(sin));
		sin.sin_family = AF_INET;
		sin.sin_port = htons((uint16_t)(base + i));
		sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 || listen(fd, 128) < 0) {
			fprintf(stderr, "fake_redis: bind 127.0.0.1:%d: %s\n", base + i, strerror(errno));
			return 1;
		}
		l->fd = fd;
		l->port = base + i;
		l->listener = 1;
		e.events = EPOLLIN;
		e.data.ptr = l;
		if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e) < 0) {
			perror("epoll_ctl");
			return 1;
		}
	}
	printf("ready %d\n", count);
	fflush(stdout);

	while (!stop) {
		int n = epoll_wait(ep, evs, (int)(sizeof(evs) / sizeof(evs[0])), 200);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			perror("epoll_wait");
			return 1;
		}
		for (int k = 0; k < n; k++) {
			struct conn *c = evs[k].data.ptr;

			if (c->listener) {
				for (;;) {
					int fd = accept4(c->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
					struct epoll_event e;
					struct conn *nc;

					if (fd < 0)
						break;
					nc = calloc(1, sizeof(*nc));
					if (!nc) {
						close(fd);
						break;
					}
					nc->fd = fd;
					nc->port = c->port;
					e.events = EPOLLIN;
					e.data.ptr = nc;
					if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e) < 0) {
						close(fd);
						free(nc);
					}
				}
				continue;
			}
			if (evs[k].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
				ssize_t r = read(c->fd, c->in + c->inlen, sizeof(c->in) - 1 - c->inlen);

				if (r <= 0 && !(r < 0 && (errno == EAGAIN || errno == EINTR))) {
					conn_free(ep, c);
					continue;
				}
				if (r > 0) {
					c->inlen += (size_t)r;
					if (parse(c) < 0) {
						conn_free(ep, c);
						continue;
					}
				}
			}
			if (flush_out(c) < 0 || (c->closing && c->outlen == 0)) {
				conn_free(ep, c);
				continue;
			}
			{
				struct epoll_event e;

				e.events = EPOLLIN | (c->outlen ? EPOLLOUT : 0);
				e.data.ptr = c;
				epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &e);
			}
		}
	}
	close(ep);
	return 0;
}
