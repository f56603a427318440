/* HAProxy runtime API client: a FIFO of batches, one in flight, each batch
 * sent over one or more short connections: non-interactive for one request
 * line, interactive ("prompt", then "quit") for several. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1  /* MSG_NOSIGNAL; harmless elsewhere */
#endif

#include "haproxy.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

#define HAP_LINE_MAX (8 * 1024)            /* one request line, '\n' included */
#define HAP_PROMPT "prompt\n"
#define HAP_QUIT "quit\n"
#define HAP_REQ_MAX (HAP_CONN_LINES * HAP_LINE_MAX + sizeof(HAP_PROMPT) + sizeof(HAP_QUIT))
#define HAP_ANSWER_MAX ((size_t)16 << 20)  /* all answers of one batch */
#define HAP_READ_CHUNK 16384

/* The connection carrying the current part of the batch in flight. */
enum hap_conn_state {
	HAP_CONN_IDLE = 0,
	HAP_CONN_CONNECTING,
	HAP_CONN_SENDING,
	HAP_CONN_READING,
};

struct hap_batch {
	struct hap_batch *next;
	char **cmds;             /* owned copies */
	size_t n;
	hap_batch_cb cb;
	void *arg;

	size_t first;            /* first command of the current connection */
	size_t chunk;            /* commands on the current connection */
	char *buf;               /* every answer of this batch, in order */
	size_t len, cap;
	size_t chunk_off;        /* where the current connection's answer starts */
	size_t *roff, *rlen;     /* replies found so far, as offsets into buf */
	size_t n_rep;
	struct hap_reply *tmp;   /* n + 1 slots for hap_reply_split() */
};

struct hap_client {
	struct ev_loop *loop;
	char name[sizeof(((struct sockaddr_un *)0)->sun_path) + 16];  /* for messages */
	union {
		struct sockaddr sa;
		struct sockaddr_un un;
		struct sockaddr_in in4;
		struct sockaddr_in6 in6;
	} sa;
	socklen_t salen;
	int timeout_ms;

	enum hap_conn_state cstate;
	int fd;
	int half_close;          /* shutdown(SHUT_WR) once a request is sent */
	ev_io io;
	ev_timer deadline;
	ev_timer kick;           /* starts the next batch from the loop, never from hap_submit() */
	char *line;              /* the current connection's request: HAP_REQ_MAX bytes */
	size_t line_len, line_off;
	int prompt;              /* the current connection is in interactive mode */

	struct hap_batch *cur;   /* in flight */
	struct hap_batch *head, **tail;
	size_t qlen;

	/* the watch connection */
	hap_watch_cb watch_cb;
	void *watch_arg;
	int wfd;
	ev_io wio;
	ev_timer wretry;
	int wconnecting;
	int wfailed;             /* connects failed since the last loss */
	int wlost;               /* the watch was lost since it last connected */
	int64_t wlost_at;        /* monotonic ms: when it was lost */

	struct hap_stats stats;
	int in_cb;               /* > 0 while a user callback runs */
	int free_pending;        /* hap_client_free() was called from a callback */
};

static const char *const conn_state_names[] = { "idle", "connecting", "sending", "reading" };

const char *
hap_link_state_name(enum hap_link_state s)
{
	switch (s) {
	case HAP_LINK_UNKNOWN: return "unknown";
	case HAP_LINK_UP: return "up";
	case HAP_LINK_DOWN: return "down";
	}
	return "?";
}

static void
set_conn_state(struct hap_client *hc, enum hap_conn_state s)
{
	if ((unsigned)s >= sizeof(conn_state_names) / sizeof(conn_state_names[0])) {
		log_err("haproxy: refusing unknown connection state %d", (int)s);
		return;
	}
	if (hc->cstate == s)
		return;
	log_debug("haproxy: connection to %s: %s -> %s", hc->name,
		  conn_state_names[hc->cstate], conn_state_names[s]);
	hc->cstate = s;
}

/* The link state; each transition is logged once. */
static void
set_link_state(struct hap_client *hc, enum hap_link_state s, const char *why)
{
	enum hap_link_state old = hc->stats.state;

	if (s != HAP_LINK_UP && s != HAP_LINK_DOWN) {
		log_err("haproxy: refusing link state %d", (int)s);
		return;
	}
	if (old == s)
		return;
	hc->stats.state = s;
	if (s == HAP_LINK_UP)
		log_info("haproxy: link up");
	else
		log_warn("haproxy: link down: %s", why ? why : "unknown error");
}

static void
batch_free(struct hap_batch *b)
{
	if (!b)
		return;
	for (size_t i = 0; i < b->n; i++)
		free(b->cmds[i]);
	free(b->cmds);
	free(b->buf);
	free(b->roff);
	free(b->rlen);
	free(b->tmp);
	free(b);
}

static void
conn_close(struct hap_client *hc)
{
	ev_io_stop(hc->loop, &hc->io);
	ev_timer_stop(hc->loop, &hc->deadline);
	if (hc->fd >= 0) {
		close(hc->fd);
		hc->fd = -1;
	}
	set_conn_state(hc, HAP_CONN_IDLE);
}

static void
watch_close(struct hap_client *hc)
{
	ev_io_stop(hc->loop, &hc->wio);
	if (hc->wfd >= 0) {
		close(hc->wfd);
		hc->wfd = -1;
	}
	hc->wconnecting = 0;
}

static void
client_destroy(struct hap_client *hc)
{
	struct hap_batch *b, *next;

	watch_close(hc);
	ev_timer_stop(hc->loop, &hc->wretry);
	conn_close(hc);
	ev_timer_stop(hc->loop, &hc->kick);
	batch_free(hc->cur);
	for (b = hc->head; b; b = next) {
		next = b->next;
		batch_free(b);
	}
	free(hc->line);
	free(hc);
}

/* Split the current connection's answer [chunk_off, len) and record its
 * complete replies. Returns how many were found (at most max). */
static size_t
collect_replies(struct hap_batch *b, size_t max)
{
	size_t found;

	if (b->len <= b->chunk_off || max == 0)
		return 0;
	found = hap_reply_split(b->buf + b->chunk_off, b->len - b->chunk_off, b->tmp, max);
	if (found > max)   /* defensive: the contract says it cannot */
		found = max;
	for (size_t i = 0; i < found && b->n_rep < b->n; i++) {
		b->roff[b->n_rep] = (size_t)(b->tmp[i].text - b->buf);
		b->rlen[b->n_rep] = b->tmp[i].len;
		b->n_rep++;
	}
	return found;
}

/* The current connection's answer in the non-interactive form (once). */
static void
answer_plain(struct hap_client *hc)
{
	struct hap_batch *b = hc->cur;

	if (!hc->prompt || !b)
		return;
	hc->prompt = 0;
	if (b->len > b->chunk_off)
		b->len = b->chunk_off + hap_prompt_strip(b->buf + b->chunk_off, b->len - b->chunk_off);
}

static void start_next_early(struct hap_client *hc);
static void do_send_try(struct hap_client *hc, int can_fail);

/* The batch in flight is over: report it, free it, schedule the next one.
 * hc may be freed when this returns: callers return right away. */
static void
batch_finish(struct hap_client *hc, int status, const char *err)
{
	struct hap_batch *b = hc->cur;
	struct hap_reply *rep = NULL;

	hc->cur = NULL;
	conn_close(hc);
	if (!b)
		return;
	if (status == 0) {
		hc->stats.batches_ok++;
		hc->stats.last_ok_ms = now_wall_ms();
		set_link_state(hc, HAP_LINK_UP, NULL);
	} else {
		hc->stats.batches_failed++;
		hc->stats.last_fail_ms = now_wall_ms();
		str_copy(hc->stats.last_error, err ? err : "unknown error", sizeof(hc->stats.last_error));
		log_debug("haproxy: batch of %zu commands failed after %zu replies: %s",
			  b->n, b->n_rep, hc->stats.last_error);
		set_link_state(hc, HAP_LINK_DOWN, hc->stats.last_error);
	}
	if (status == 0)
		start_next_early(hc);
	if (b->cb) {
		/* b->tmp has n + 1 slots: reuse it for the borrowed replies */
		rep = b->tmp;
		for (size_t i = 0; i < b->n_rep; i++) {
			rep[i].text = b->buf + b->roff[i];
			rep[i].len = b->rlen[i];
		}
		hc->in_cb++;
		b->cb(b->arg, status, (const char *const *)b->cmds, b->n,
		      b->n_rep ? rep : NULL, b->n_rep, status == 0 ? NULL : hc->stats.last_error);
		hc->in_cb--;
	}
	batch_free(b);
	if (hc->free_pending && !hc->in_cb) {
		client_destroy(hc);
		return;
	}
	if (hc->head && !hc->cur)
		ev_timer_start(hc->loop, &hc->kick);
}

static void
batch_fail(struct hap_client *hc, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
batch_fail(struct hap_client *hc, const char *fmt, ...)
{
	char err[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, sizeof(err), fmt, ap);
	va_end(ap);
	/* Keep the commands answered before the failure. */
	if (hc->cur && hc->cstate == HAP_CONN_READING) {
		answer_plain(hc);
		collect_replies(hc->cur, hc->cur->chunk);
	}
	batch_finish(hc, -1, err);
}

/* Open a connection for the commands from b->first on. 0, or -1 with err
 * filled (nothing sent; the caller fails or retries the batch). */
static int
conn_start(struct hap_client *hc, char *err, size_t errlen)
{
	struct hap_batch *b = hc->cur;
	const size_t pre = sizeof(HAP_PROMPT) - 1;
	size_t i = b->first, len = pre, lines = 0;
	int fd, rc;

	/* Pack the commands into request lines of at most HAP_LINE_MAX
	 * (hap_submit() made sure each one fits alone), up to HAP_CONN_LINES
	 * lines; the master CLI (half-close) gets one line a connection. The
	 * lines go after room for "prompt\n", written when there are two or
	 * more. */
	while (i < b->n && lines < (hc->half_close ? 1 : HAP_CONN_LINES)) {
		size_t ll = 0;

		for (; i < b->n; i++) {
			size_t l = strlen(b->cmds[i]);

			if (ll + l + 1 > HAP_LINE_MAX)
				break;
			memcpy(hc->line + len + ll, b->cmds[i], l);
			ll += l;
			hc->line[len + ll++] = ';';
		}
		hc->line[len + ll - 1] = '\n';
		len += ll;
		lines++;
	}
	hc->prompt = lines > 1;
	if (hc->prompt) {
		/* Interactive: HAProxy answers line after line, until quit. */
		memcpy(hc->line, HAP_PROMPT, pre);
		memcpy(hc->line + len, HAP_QUIT, sizeof(HAP_QUIT) - 1);
		len += sizeof(HAP_QUIT) - 1;
		hc->line_off = 0;
	} else {
		hc->line_off = pre;
	}
	hc->line_len = len;
	b->chunk = i - b->first;
	b->chunk_off = b->len;

	fd = socket(hc->sa.sa.sa_family, SOCK_STREAM, 0);
	if (fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	if (fd_nonblock_cloexec(fd) < 0) {
		int e = errno;
		close(fd);
		snprintf(err, errlen, "fcntl: %s", strerror(e));
		return -1;
	}
	log_debug("haproxy: connecting to %s for commands %zu..%zu of %zu (%zu lines, %zu bytes)",
		  hc->name, b->first + 1, b->first + b->chunk, b->n, lines, len - hc->line_off);
	do
		rc = connect(fd, &hc->sa.sa, hc->salen);
	while (rc < 0 && errno == EINTR);
	if (rc < 0 && errno != EINPROGRESS) {
		/* An AF_UNIX connect answers at once: ENOENT, ECONNREFUSED, or
		 * EAGAIN when the listen backlog is full (a failure too). */
		snprintf(err, errlen, "connect to %s: %s", hc->name, strerror(errno));
		close(fd);
		return -1;
	}
	hc->fd = fd;
	ev_timer_set(&hc->deadline, hc->timeout_ms / 1000.0, 0.);
	ev_timer_start(hc->loop, &hc->deadline);
	set_conn_state(hc, rc == 0 ? HAP_CONN_SENDING : HAP_CONN_CONNECTING);
	/* In interactive mode answers come while the request is still being
	 * sent: read them meanwhile, so that neither side waits for the
	 * other's buffer. */
	ev_io_set(&hc->io, fd, hc->prompt ? EV_READ | EV_WRITE : EV_WRITE);
	ev_io_start(hc->loop, &hc->io);
	/* A local socket is usually connected at once: send now rather than
	 * one loop iteration later (a busy loop makes that tens of ms). An
	 * error is left to the write watcher, which reports it in order. */
	if (rc == 0)
		do_send_try(hc, 0);
	return 0;
}

/* conn_start(), the batch failed (and finished) when it cannot. */
static int
conn_open(struct hap_client *hc)
{
	char err[256];

	if (conn_start(hc, err, sizeof(err)) == 0)
		return 0;
	batch_fail(hc, "%s", err);
	return -1;
}

/* The next queued batch becomes the one in flight. */
static void
pop_next(struct hap_client *hc)
{
	hc->cur = hc->head;
	hc->head = hc->cur->next;
	if (!hc->head)
		hc->tail = &hc->head;
	hc->qlen--;
	hc->cur->next = NULL;
}

/* Start the next batch while the finished one's callback runs: HAProxy
 * answered every command of it (it closes after the last), so the order is
 * kept. When the connect fails the batch goes back to the queue head: the
 * kick timer starts it again and reports the failure in order. */
static void
start_next_early(struct hap_client *hc)
{
	char err[256];

	if (hc->cur || !hc->head || hc->free_pending)
		return;
	pop_next(hc);
	if (conn_start(hc, err, sizeof(err)) == 0)
		return;
	hc->cur->first = 0;
	hc->cur->next = hc->head;
	hc->head = hc->cur;
	if (!hc->cur->next)
		hc->tail = &hc->cur->next;
	hc->qlen++;
	hc->cur = NULL;
}

static void
kick_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct hap_client *hc = w->data;

	(void)loop;
	(void)revents;
	if (hc->cur || !hc->head)
		return;
	pop_next(hc);
	(void)conn_open(hc);
}

static void
deadline_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct hap_client *hc = w->data;
	const char *what;

	(void)loop;
	(void)revents;
	switch (hc->cstate) {
	case HAP_CONN_CONNECTING: what = "connecting to"; break;
	case HAP_CONN_SENDING: what = "sending to"; break;
	case HAP_CONN_READING: what = "reading from"; break;
	case HAP_CONN_IDLE:
	default:
		return;
	}
	batch_fail(hc, "timeout after %d ms %s %s", hc->timeout_ms, what, hc->name);
}

/* EOF on the current connection: check the replies, go on or finish. */
static void
conn_eof(struct hap_client *hc)
{
	struct hap_batch *b = hc->cur;
	size_t found;

	answer_plain(hc);
	/* Ask for one more than expected to notice an answer we cannot map. */
	found = hap_reply_split(b->buf + b->chunk_off, b->len - b->chunk_off, b->tmp,
				b->chunk + 1);
	if (found > b->chunk) {
		batch_finish(hc, -1, "unexpected answer: more replies than commands");
		return;
	}
	collect_replies(b, b->chunk);
	if (found < b->chunk) {
		char err[96];
		snprintf(err, sizeof(err), "short answer: %zu of %zu replies", b->n_rep, b->n);
		batch_finish(hc, -1, err);
		return;
	}
	b->first += b->chunk;
	conn_close(hc);
	if (b->first < b->n) {
		(void)conn_open(hc);
		return;
	}
	batch_finish(hc, 0, NULL);
}

/* 0 when connected; -1 when the batch failed (hc may be gone). */
static int
on_connected(struct hap_client *hc)
{
	int soerr = fd_connect_error(hc->fd);

	if (soerr) {
		batch_fail(hc, "connect to %s: %s", hc->name, strerror(soerr));
		return -1;
	}
	set_conn_state(hc, HAP_CONN_SENDING);
	return 0;
}

static void
do_send_try(struct hap_client *hc, int can_fail)
{
	ssize_t r;

	while (hc->line_off < hc->line_len) {
		r = send(hc->fd, hc->line + hc->line_off, hc->line_len - hc->line_off, MSG_NOSIGNAL);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK || !can_fail)
				return;
			batch_fail(hc, "send to %s: %s", hc->name, strerror(errno));
			return;
		}
		hc->line_off += (size_t)r;
	}
	hc->stats.commands_sent += hc->cur->chunk;
	/* The master CLI answers and then waits for more unless the request
	 * side is closed; a worker's socket closes by itself. */
	if (hc->half_close)
		(void)shutdown(hc->fd, SHUT_WR);
	set_conn_state(hc, HAP_CONN_READING);
	ev_io_stop(hc->loop, &hc->io);
	ev_io_set(&hc->io, hc->fd, EV_READ);
	ev_io_start(hc->loop, &hc->io);
}

static void
do_send(struct hap_client *hc)
{
	do_send_try(hc, 1);
}

/* Read what is there. */
static void
do_read(struct hap_client *hc)
{
	struct hap_batch *b = hc->cur;
	ssize_t r;

	for (;;) {
		if (b->cap - b->len < HAP_READ_CHUNK / 4) {
			size_t ncap = b->cap ? b->cap * 2 : HAP_READ_CHUNK;
			char *nb;

			if (ncap > HAP_ANSWER_MAX)
				ncap = HAP_ANSWER_MAX;
			if (ncap <= b->len) {
				batch_fail(hc, "answer too large (over %zu bytes)", HAP_ANSWER_MAX);
				return;
			}
			nb = realloc(b->buf, ncap);
			if (!nb) {
				batch_fail(hc, "out of memory");
				return;
			}
			b->buf = nb;
			b->cap = ncap;
		}
		r = recv(hc->fd, b->buf + b->len, b->cap - b->len, 0);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			batch_fail(hc, "read from %s: %s", hc->name, strerror(errno));
			return;
		}
		if (r == 0) {
			conn_eof(hc);
			return;
		}
		b->len += (size_t)r;
	}
}

static void
io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct hap_client *hc = w->data;

	(void)loop;
	switch (hc->cstate) {
	case HAP_CONN_CONNECTING:
		if (on_connected(hc) == 0)
			do_send(hc);
		return;
	case HAP_CONN_SENDING:
		if (revents & EV_READ) {
			struct hap_batch *b = hc->cur;

			/* The batch may end here (a close, a failure), and
			 * its callback free the client: not before we know. */
			hc->in_cb++;
			do_read(hc);
			hc->in_cb--;
			if (hc->free_pending && !hc->in_cb) {
				client_destroy(hc);
				return;
			}
			if (hc->cur != b || hc->cstate != HAP_CONN_SENDING)
				return;
		}
		if (revents & EV_WRITE)
			do_send(hc);
		return;
	case HAP_CONN_READING:
		do_read(hc);
		return;
	case HAP_CONN_IDLE:
		ev_io_stop(hc->loop, &hc->io);
		return;
	}
}

static int
parse_addr(struct hap_client *hc, const char *addr, char *err, size_t errlen)
{
	char host[ADDR_IP_MAX];
	int port;

	memset(&hc->sa, 0, sizeof(hc->sa));
	if (addr[0] == '/' || addr[0] == '.') {
		if (strlen(addr) >= sizeof(hc->sa.un.sun_path)) {
			snprintf(err, errlen, "haproxy socket path too long: %s", addr);
			return -1;
		}
		hc->sa.un.sun_family = AF_UNIX;
		str_copy(hc->sa.un.sun_path, addr, sizeof(hc->sa.un.sun_path));
		hc->salen = sizeof(hc->sa.un);
		str_copy(hc->name, addr, sizeof(hc->name));
		return 0;
	}
	if (addr_parse(addr, host, sizeof(host), &port) < 0) {
		snprintf(err, errlen, "bad haproxy address '%s': want a unix socket path or IP:port",
			 addr);
		return -1;
	}
	if (inet_pton(AF_INET, host, &hc->sa.in4.sin_addr) == 1) {
		hc->sa.in4.sin_family = AF_INET;
		hc->sa.in4.sin_port = htons((uint16_t)port);
		hc->salen = sizeof(hc->sa.in4);
	} else if (inet_pton(AF_INET6, host, &hc->sa.in6.sin6_addr) == 1) {
		hc->sa.in6.sin6_family = AF_INET6;
		hc->sa.in6.sin6_port = htons((uint16_t)port);
		hc->salen = sizeof(hc->sa.in6);
	} else {
		snprintf(err, errlen, "bad haproxy address '%s': host must be an IP literal", addr);
		return -1;
	}
	addr_format(hc->name, sizeof(hc->name), host, port);
	return 0;
}

/* ---------------------------------------------------------------- watch */

static void watch_connect(struct hap_client *hc);

static void
watch_lost(struct hap_client *hc, int failed_connect)
{
	int64_t now = now_mono_ms();
	int ms;

	watch_close(hc);
	if (!hc->wlost)
		hc->wlost_at = now;
	hc->wlost = 1;
	if (failed_connect)
		hc->wfailed = 1;
	ev_timer_stop(hc->loop, &hc->wretry);
	/* The first reconnect right away, then every HAP_WATCH_FAST_MS while
	 * a restart would still be under way, then every HAP_WATCH_RETRY_MS. */
	ms = now - hc->wlost_at < HAP_WATCH_FAST_FOR_MS ? HAP_WATCH_FAST_MS : HAP_WATCH_RETRY_MS;
	ev_timer_set(&hc->wretry, failed_connect ? ms / 1000.0 : 0., 0.);
	ev_timer_start(hc->loop, &hc->wretry);
}

static void
watch_up(struct hap_client *hc)
{
	static const char prompt[] = "prompt\n";
	int gone = hc->wfailed, was_lost = hc->wlost;
	ssize_t r;

	hc->wconnecting = 0;
	hc->wfailed = 0;
	hc->wlost = 0;
	do
		r = send(hc->wfd, prompt, sizeof(prompt) - 1, MSG_NOSIGNAL);
	while (r < 0 && errno == EINTR);
	if (r != (ssize_t)sizeof(prompt) - 1) {
		watch_lost(hc, 1);
		return;
	}
	ev_io_stop(hc->loop, &hc->wio);
	ev_io_set(&hc->wio, hc->wfd, EV_READ);
	ev_io_start(hc->loop, &hc->wio);
	if (was_lost && hc->watch_cb)
		hc->watch_cb(hc->watch_arg, gone);
}

static void
watch_io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct hap_client *hc = w->data;
	char buf[512];
	ssize_t r;

	(void)loop;
	(void)revents;
	if (hc->wconnecting) {
		if (fd_connect_error(hc->wfd)) {
			watch_lost(hc, 1);
			return;
		}
		watch_up(hc);
		return;
	}
	/* Prompts and nothing else: read and drop; EOF or an error is the loss. */
	for (;;) {
		r = recv(hc->wfd, buf, sizeof(buf), 0);
		if (r > 0)
			continue;
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		log_debug("haproxy: watch connection to %s closed", hc->name);
		watch_lost(hc, 0);
		return;
	}
}

static void
watch_connect(struct hap_client *hc)
{
	int fd, rc;

	fd = socket(hc->sa.sa.sa_family, SOCK_STREAM, 0);
	if (fd < 0 || fd_nonblock_cloexec(fd) < 0) {
		if (fd >= 0)
			close(fd);
		watch_lost(hc, 1);
		return;
	}
	hc->wfd = fd;
	do
		rc = connect(fd, &hc->sa.sa, hc->salen);
	while (rc < 0 && errno == EINTR);
	if (rc < 0 && errno != EINPROGRESS) {
		watch_lost(hc, 1);
		return;
	}
	if (rc < 0) {
		hc->wconnecting = 1;
		ev_io_set(&hc->wio, fd, EV_WRITE);
		ev_io_start(hc->loop, &hc->wio);
		return;
	}
	watch_up(hc);
}

static void
watch_retry_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	watch_connect(w->data);
}

void
hap_watch_start(struct hap_client *hc, hap_watch_cb cb, void *arg)
{
	hc->watch_cb = cb;
	hc->watch_arg = arg;
	if (hc->wfd < 0 && !ev_is_active(&hc->wretry))
		watch_connect(hc);
}

/* ---------------------------------------------------------------- client */

struct hap_client *
hap_client_new(struct ev_loop *loop, const char *addr, int timeout_ms, char *err, size_t errlen)
{
	struct hap_client *hc;

	if (!addr || !*addr) {
		snprintf(err, errlen, "empty haproxy address");
		return NULL;
	}
	if (timeout_ms <= 0) {
		snprintf(err, errlen, "haproxy timeout must be positive");
		return NULL;
	}
	hc = calloc(1, sizeof(*hc));
	if (!hc) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (parse_addr(hc, addr, err, errlen) < 0) {
		free(hc);
		return NULL;
	}
	hc->line = malloc(HAP_REQ_MAX);
	if (!hc->line) {
		snprintf(err, errlen, "out of memory");
		free(hc);
		return NULL;
	}
	hc->loop = loop;
	hc->timeout_ms = timeout_ms;
	hc->fd = -1;
	hc->wfd = -1;
	ev_io_init(&hc->wio, watch_io_cb, -1, EV_READ);
	hc->wio.data = hc;
	ev_timer_init(&hc->wretry, watch_retry_cb, 0., 0.);
	hc->wretry.data = hc;
	hc->cstate = HAP_CONN_IDLE;
	hc->tail = &hc->head;
	hc->stats.state = HAP_LINK_UNKNOWN;
	ev_io_init(&hc->io, io_cb, -1, EV_WRITE);
	hc->io.data = hc;
	ev_timer_init(&hc->deadline, deadline_cb, 1., 0.);
	hc->deadline.data = hc;
	ev_timer_init(&hc->kick, kick_cb, 0., 0.);
	hc->kick.data = hc;
	/* Before other watchers of a loop iteration: a mass failover brings
	 * thousands of Sentinel events per iteration; a batch's next step
	 * should not wait behind them. */
	ev_set_priority(&hc->io, HAP_EV_PRIORITY);
	ev_set_priority(&hc->kick, HAP_EV_PRIORITY);
	return hc;
}

void
hap_client_set_half_close(struct hap_client *hc, int on)
{
	hc->half_close = on != 0;
}

void
hap_client_free(struct hap_client *hc)
{
	if (!hc)
		return;
	if (hc->in_cb) {
		/* Called from one of our callbacks: free once it returns. */
		hc->free_pending = 1;
		return;
	}
	client_destroy(hc);
}

int
hap_submit(struct hap_client *hc, const char *const *cmds, size_t n, hap_batch_cb cb, void *arg)
{
	struct hap_batch *b;

	if (!hc || !cmds || n == 0 || hc->free_pending)
		return -1;
	for (size_t i = 0; i < n; i++) {
		size_t l;

		if (!cmds[i])
			return -1;
		l = strlen(cmds[i]);
		/* A backslash would escape our ';' separator. */
		if (l == 0 || l + 1 > HAP_LINE_MAX || strpbrk(cmds[i], ";\n\r\\"))
			return -1;
	}
	b = calloc(1, sizeof(*b));
	if (!b)
		return -1;
	b->cmds = calloc(n, sizeof(*b->cmds));
	b->roff = calloc(n, sizeof(*b->roff));
	b->rlen = calloc(n, sizeof(*b->rlen));
	b->tmp = calloc(n + 1, sizeof(*b->tmp));
	if (!b->cmds || !b->roff || !b->rlen || !b->tmp) {
		batch_free(b);
		return -1;
	}
	b->n = n;
	for (size_t i = 0; i < n; i++) {
		b->cmds[i] = strdup(cmds[i]);
		if (!b->cmds[i]) {
			batch_free(b);
			return -1;
		}
	}
	b->cb = cb;
	b->arg = arg;
	*hc->tail = b;
	hc->tail = &b->next;
	hc->qlen++;
	if (!hc->cur)
		ev_timer_start(hc->loop, &hc->kick);
	return 0;
}

void
hap_cancel_pending(struct hap_client *hc)
{
	struct hap_batch *list, *b;

	if (!hc)
		return;
	list = hc->head;
	hc->head = NULL;
	hc->tail = &hc->head;
	hc->qlen = 0;
	ev_timer_stop(hc->loop, &hc->kick);
	hc->in_cb++;
	while ((b = list)) {
		list = b->next;
		if (b->cb)
			b->cb(b->arg, -1, (const char *const *)b->cmds, b->n, NULL, 0, "cancelled");
		batch_free(b);
	}
	hc->in_cb--;
	if (hc->free_pending && !hc->in_cb) {
		client_destroy(hc);
		return;
	}
	/* A callback may have queued new work. */
	if (hc->head && !hc->cur)
		ev_timer_start(hc->loop, &hc->kick);
}

size_t
hap_queue_len(const struct hap_client *hc)
{
	return hc ? hc->qlen : 0;
}

int
hap_watch_up(const struct hap_client *hc)
{
	return hc && hc->watch_cb && hc->wfd >= 0 && !hc->wconnecting && !hc->wlost;
}

int
hap_busy(const struct hap_client *hc)
{
	return hc && hc->cur != NULL;
}

const struct hap_stats *
hap_client_stats(const struct hap_client *hc)
{
	return &hc->stats;
}
