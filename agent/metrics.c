#include "metrics.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

struct mclient {
	struct metrics_server *ms;
	int fd;
	ev_io io;
	ev_timer timer;
	char req[METRICS_REQ_MAX];
	size_t reqlen;
	char *out;
	size_t outlen, outoff;
	struct mclient *next;
};

struct metrics_server {
	struct ev_loop *loop;
	int fd;
	ev_io io;
	metrics_render_fn render;
	void *arg;
	struct mclient *clients;
	int nclients;
};

static void
client_free(struct mclient *c)
{
	struct mclient **pp;

	for (pp = &c->ms->clients; *pp; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	ev_io_stop(c->ms->loop, &c->io);
	ev_timer_stop(c->ms->loop, &c->timer);
	close(c->fd);
	c->ms->nclients--;
	free(c->out);
	free(c);
}

static void
respond(struct mclient *c)
{
	char *body = NULL;
	const char *status = "404 Not Found", *ctype = "text/plain";
	size_t blen, hlen;
	char head[256];

	if (strncmp(c->req, "GET /metrics ", 13) == 0 || strncmp(c->req, "GET /metrics\r", 13) == 0) {
		body = c->ms->render(c->ms->arg);
		if (body) {
			status = "200 OK";
			ctype = "text/plain; version=0.0.4; charset=utf-8";
		} else {
			status = "500 Internal Server Error";
		}
	}
	if (!body)
		body = strdup("not found: try GET /metrics\n");
	if (!body) {
		client_free(c);
		return;
	}
	blen = strlen(body);
	hlen = (size_t)snprintf(head, sizeof(head),
				"HTTP/1.0 %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
				status, ctype, blen);
	c->out = malloc(hlen + blen);
	if (!c->out) {
		free(body);
		client_free(c);
		return;
	}
	memcpy(c->out, head, hlen);
	memcpy(c->out + hlen, body, blen);
	free(body);
	c->outlen = hlen + blen;
	ev_io_stop(c->ms->loop, &c->io);
	ev_io_set(&c->io, c->fd, EV_WRITE);
	ev_io_start(c->ms->loop, &c->io);
}

static void
client_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct mclient *c = w->data;
	ssize_t n;

	(void)loop;
	if (revents & EV_READ) {
		n = read(c->fd, c->req + c->reqlen, sizeof(c->req) - 1 - c->reqlen);
		if (n <= 0) {
			if (n < 0 && (errno == EAGAIN || errno == EINTR))
				return;
			client_free(c);
			return;
		}
		c->reqlen += (size_t)n;
		c->req[c->reqlen] = '\0';
		if (strstr(c->req, "\r\n\r\n") || strstr(c->req, "\n\n")) {
			respond(c);
			return;
		}
		if (c->reqlen >= sizeof(c->req) - 1) {
			log_debug("metrics: request too large: closing");
			client_free(c);
		}
		return;
	}
	if (revents & EV_WRITE) {
		n = send(c->fd, c->out + c->outoff, c->outlen - c->outoff, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return;
			client_free(c);
			return;
		}
		c->outoff += (size_t)n;
		if (c->outoff == c->outlen)
			client_free(c);
	}
}

static void
client_timeout(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	client_free(w->data);
}

static void
accept_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct metrics_server *ms = w->data;
	struct mclient *c;
	int fd;

	(void)revents;
	fd = accept4(ms->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0)
		return;
	if (ms->nclients >= METRICS_MAX_CLIENTS) {
		close(fd);
		return;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		close(fd);
		return;
	}
	c->ms = ms;
	c->fd = fd;
	ev_io_init(&c->io, client_cb, fd, EV_READ);
	c->io.data = c;
	ev_io_start(loop, &c->io);
	ev_timer_init(&c->timer, client_timeout, METRICS_TIMEOUT_MS / 1000.0, 0.);
	c->timer.data = c;
	ev_timer_start(loop, &c->timer);
	c->next = ms->clients;
	ms->clients = c;
	ms->nclients++;
}

struct metrics_server *
metrics_server_new(struct ev_loop *loop, const char *addr, metrics_render_fn render, void *arg,
		   char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	char host[ADDR_IP_MAX];
	int port, one = 1, fd;
	struct metrics_server *ms;

	memset(&ss, 0, sizeof(ss));
	if (addr_parse(addr, host, sizeof(host), &port) < 0) {
		snprintf(err, errlen, "metrics-listen: expected IP:PORT, got '%s'", addr);
		return NULL;
	}
	if (inet_pton(AF_INET, host, &((struct sockaddr_in *)&ss)->sin_addr) == 1) {
		ss.ss_family = AF_INET;
		((struct sockaddr_in *)&ss)->sin_port = htons((uint16_t)port);
		sl = sizeof(struct sockaddr_in);
	} else if (inet_pton(AF_INET6, host, &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1) {
		ss.ss_family = AF_INET6;
		((struct sockaddr_in6 *)&ss)->sin6_port = htons((uint16_t)port);
		sl = sizeof(struct sockaddr_in6);
	} else {
		snprintf(err, errlen, "metrics-listen: '%s' is not an IP address", host);
		return NULL;
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "metrics-listen: socket: %s", strerror(errno));
		return NULL;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, sl) < 0 || listen(fd, 16) < 0) {
		snprintf(err, errlen, "metrics-listen %s: %s", addr, strerror(errno));
		close(fd);
		return NULL;
	}
	ms = calloc(1, sizeof(*ms));
	if (!ms) {
		close(fd);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	ms->loop = loop;
	ms->fd = fd;
	ms->render = render;
	ms->arg = arg;
	ev_io_init(&ms->io, accept_cb, fd, EV_READ);
	ms->io.data = ms;
	ev_io_start(loop, &ms->io);
	return ms;
}

void
metrics_server_free(struct metrics_server *ms)
{
	if (!ms)
		return;
	while (ms->clients)
		client_free(ms->clients);
	ev_io_stop(ms->loop, &ms->io);
	close(ms->fd);
	free(ms);
}
