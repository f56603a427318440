/* Status server: line requests in, one compact JSON document per line out.
 * Every socket is non-blocking; a client is a small state machine with its
 * own read and write watchers and an idle timer. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1  /* MSG_NOSIGNAL, MSG_DONTWAIT */
#endif

#include "status.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"
#include "tk.h"
#include "util.h"

#define STATUS_BACKLOG 16
#define STATUS_OUT_MAX ((size_t)1 << 20)  /* unsent output that gets a client dropped */
#define STATUS_OUT_PAUSE ((size_t)64 << 10) /* stop reading requests above this */
#define STATUS_ACCEPT_BURST 16
#define STATUS_ACCEPT_RETRY_S 1.0           /* after EMFILE */

enum status_client_state {
	STATUS_CL_REQUESTS = 0,  /* reading requests and answering them */
	STATUS_CL_STREAMING,     /* subscriber: no idle timeout, gets broadcasts */
	STATUS_CL_CLOSING,       /* no more input: answer what is buffered, flush, close */
	STATUS_CL_DEAD,          /* dropped while its handler runs; freed afterwards */
};

static const char *const client_state_names[] = { "requests", "streaming", "closing", "dead" };

struct status_client {
	struct tk_list link;     /* in status_server.clients */
	struct status_server *srv;
	unsigned long id;
	int fd;
	enum status_client_state state;
	ev_io rd, wr;
	ev_timer idle;
	int busy;                /* > 0 while the handler runs for this client */
	int close_after;         /* status_client_close_after(): close once answered */
	char in[STATUS_REQ_MAX];
	size_t in_len;
	struct tk_buf out;       /* unsent output is out.p[out_off, out.len) */
	size_t out_off;
};

struct status_server {
	struct ev_loop *loop;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	dev_t dev;
	ino_t ino;
	int fd;
	ev_io accept_w;
	ev_timer accept_retry;
	status_handler_fn fn;
	void *arg;
	int idle_timeout_ms;
	struct tk_list clients;
	size_t n_clients;
	unsigned long next_id;
};

/* ------------------------------------------------------------ commands */

#define STATUS_CMD_ENTRY(name, synopsis, help) { #name, synopsis, help },
const struct status_command status_commands[] = {
	STATUS_COMMANDS(STATUS_CMD_ENTRY)
};
#undef STATUS_CMD_ENTRY
const size_t status_ncommands = sizeof(status_commands) / sizeof(status_commands[0]);

/* ------------------------------------------------------------ parser */

static int
is_cmd_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
}

int
status_parse_count(const char *arg, size_t max, size_t *out)
{
	size_t v = 0;
	int over = 0;

	if (!arg || !*arg)
		return -1;
	for (const char *p = arg; *p; p++) {
		size_t d;

		if (*p < '0' || *p > '9')
			return -1;
		d = (size_t)(*p - '0');
		/* v * 10 + d > max, without overflowing */
		if (!over && (max < d || v > (max - d) / 10))
			over = 1;
		else if (!over)
			v = v * 10 + d;
	}
	*out = over ? max : v;
	return 0;
}

int
status_parse_request(const char *line, size_t len, struct status_request *out,
		     char *err, size_t errlen)
{
	size_t i = 0, cs, ce, as, ae;

	memset(out, 0, sizeof(*out));
	if (len > 0 && line[len - 1] == '\r')
		len--;
	for (size_t k = 0; k < len; k++) {
		unsigned char c = (unsigned char)line[k];
		if (c < 0x20 || c > 0x7e) {
			snprintf(err, errlen, "bad character");
			return -1;
		}
	}
	while (i < len && line[i] == ' ')
		i++;
	if (i == len) {
		snprintf(err, errlen, "empty request");
		return -1;
	}
	cs = i;
	while (i < len && line[i] != ' ') {
		if (!is_cmd_char((unsigned char)line[i])) {
			snprintf(err, errlen, "bad character");
			return -1;
		}
		i++;
	}
	ce = i;
	while (i < len && line[i] == ' ')
		i++;
	as = i;
	ae = len;
	while (ae > as && line[ae - 1] == ' ')
		ae--;
	if (ce - cs >= sizeof(out->cmd) || ae - as >= sizeof(out->arg)) {
		snprintf(err, errlen, "request too long");
		return -1;
	}
	memcpy(out->cmd, line + cs, ce - cs);
	out->cmd[ce - cs] = '\0';
	memcpy(out->arg, line + as, ae - as);
	out->arg[ae - as] = '\0';
	return 0;
}

/* ------------------------------------------------------------ clients */

static void
set_client_state(struct status_client *cl, enum status_client_state s)
{
	if ((unsigned)s >= sizeof(client_state_names) / sizeof(client_state_names[0])) {
		log_err("status: client %lu: refusing unknown state %d", cl->id, (int)s);
		return;
	}
	if (cl->state == s)
		return;
	log_debug("status: client %lu: %s -> %s", cl->id,
		  client_state_names[cl->state], client_state_names[s]);
	cl->state = s;
}

static size_t
out_pending(const struct status_client *cl)
{
	return cl->out.len - cl->out_off;
}

static void
client_free(struct status_client *cl)
{
	tk_buf_free(&cl->out);
	free(cl);
}

static void
client_unlink(struct status_client *cl)
{
	tk_list_del(&cl->link);
	cl->srv->n_clients--;
}

/* Close the connection now. The memory goes too unless the handler is
 * running for this client (then the caller frees it when the handler
 * returns: state DEAD). why NULL: a normal close. */
static void
client_drop(struct status_client *cl, const char *why)
{
	struct ev_loop *loop = cl->srv->loop;

	if (cl->state == STATUS_CL_DEAD)
		return;
	if (why)
		log_info("status: dropping client %lu: %s", cl->id, why);
	else
		log_debug("status: client %lu closed", cl->id);
	ev_io_stop(loop, &cl->rd);
	ev_io_stop(loop, &cl->wr);
	ev_timer_stop(loop, &cl->idle);
	close(cl->fd);
	cl->fd = -1;
	client_unlink(cl);
	cl->state = STATUS_CL_DEAD;   /* logged just above */
	if (!cl->busy)
		client_free(cl);
}

static void
client_touch(struct status_client *cl)
{
	if (cl->state == STATUS_CL_REQUESTS || cl->state == STATUS_CL_CLOSING)
		ev_timer_again(cl->srv->loop, &cl->idle);
}

/* Queue data plus a newline, as one unit; -1 when the client was dropped
 * (and freed unless its handler is running). */
static int
client_queue_line(struct status_client *cl, const char *data, size_t len)
{
	size_t pend = out_pending(cl), need = len + 1;

	if (cl->state == STATUS_CL_DEAD)
		return -1;
	/* One reply of any size is accepted; a backlog on top of it is not. */
	if (pend > 0 && pend + need > STATUS_OUT_MAX) {
		client_drop(cl, "output backlog over 1 MiB (client not reading)");
		return -1;
	}
	tk_buf_consume(&cl->out, cl->out_off);
	cl->out_off = 0;
	if (tk_buf_add(&cl->out, data, len) < 0 || tk_buf_add(&cl->out, "\n", 1) < 0) {
		client_drop(cl, "out of memory");
		return -1;
	}
	ev_io_start(cl->srv->loop, &cl->wr);
	return 0;
}

#define INTERNAL_ERROR "{\"error\":\"internal error\"}"

/* Serialise obj (borrowed) as one line. */
static int
client_queue_json(struct status_client *cl, json_t *obj)
{
	char *s = json_dumps(obj, JSON_COMPACT);
	int rc;

	if (!s)
		return client_queue_line(cl, INTERNAL_ERROR, strlen(INTERNAL_ERROR));
	rc = client_queue_line(cl, s, strlen(s));
	free(s);
	return rc;
}

static int
client_queue_error(struct status_client *cl, const char *msg)
{
	json_t *o = json_pack("{s:s}", "error", msg);
	int rc;

	if (!o)
		return client_queue_line(cl, INTERNAL_ERROR, strlen(INTERNAL_ERROR));
	rc = client_queue_json(cl, o);
	json_decref(o);
	return rc;
}

/* One request line. -1 when the client is gone (freed): the caller must not
 * touch it. */
static int
client_request(struct status_client *cl, const char *line, size_t len)
{
	struct status_server *srv = cl->srv;
	struct status_request req;
	char err[64];
	json_t *reply;
	int was_streaming = cl->state == STATUS_CL_STREAMING;
	int rc = 0;

	if (status_parse_request(line, len, &req, err, sizeof(err)) < 0)
		return client_queue_error(cl, err);
	log_debug("status: client %lu: request '%s%s%s'", cl->id, req.cmd,
		  req.arg[0] ? " " : "", req.arg);
	cl->busy++;
	reply = srv->fn ? srv->fn(srv->arg, cl, &req) : NULL;
	cl->busy--;
	if (cl->state == STATUS_CL_DEAD) {
		/* Dropped while the handler ran (a broadcast): free it now. */
		json_decref(reply);
		if (!cl->busy)
			client_free(cl);
		return -1;
	}
	if (!reply) {
		if (!was_streaming && cl->state == STATUS_CL_STREAMING)
			return 0;
		snprintf(err, sizeof(err), "unknown command: %s", req.cmd);
		return client_queue_error(cl, err);
	}
	if (!json_is_null(reply))
		rc = client_queue_json(cl, reply);
	json_decref(reply);
	return rc;
}

/* Answer buffered requests, then decide what to watch. -1 when the client
 * is gone: the caller must not touch it. */
static int
client_pump(struct status_client *cl)
{
	struct ev_loop *loop = cl->srv->loop;
	char *nl;

	while (out_pending(cl) < STATUS_OUT_PAUSE && !cl->close_after &&
	       (nl = memchr(cl->in, '\n', cl->in_len)) != NULL) {
		size_t l = (size_t)(nl - cl->in);
		if (client_request(cl, cl->in, l) < 0)
			return -1;
		cl->in_len -= l + 1;
		memmove(cl->in, nl + 1, cl->in_len);
	}
	if (cl->close_after && cl->state != STATUS_CL_CLOSING) {
		/* That answer was the last: what else was sent is ignored. */
		cl->in_len = 0;
		set_client_state(cl, STATUS_CL_CLOSING);
	}
	nl = memchr(cl->in, '\n', cl->in_len);
	if (cl->state == STATUS_CL_CLOSING) {
		ev_io_stop(loop, &cl->rd);
		if (!nl && out_pending(cl) == 0) {
			client_drop(cl, NULL);
			return -1;
		}
		return 0;
	}
	if (!nl && cl->in_len == sizeof(cl->in)) {
		ev_io_stop(loop, &cl->rd);
		cl->in_len = 0;
		set_client_state(cl, STATUS_CL_CLOSING);
		if (client_queue_error(cl, "request too long") < 0)
			return -1;
		return 0;
	}
	if (out_pending(cl) >= STATUS_OUT_PAUSE)
		ev_io_stop(loop, &cl->rd);
	else
		ev_io_start(loop, &cl->rd);
	return 0;
}

static void
client_read_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct status_client *cl = w->data;
	ssize_t r;

	(void)revents;
	if (cl->in_len == sizeof(cl->in)) {   /* defensive: full and paused */
		ev_io_stop(loop, w);
		return;
	}
	r = recv(cl->fd, cl->in + cl->in_len, sizeof(cl->in) - cl->in_len, 0);
	if (r < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
			return;
		client_drop(cl, strerror(errno));
		return;
	}
	if (r == 0) {
		if (cl->state == STATUS_CL_STREAMING) {
			client_drop(cl, NULL);
			return;
		}
		/* The peer is done: an unterminated last line still counts
		 * (there is room, a full buffer was refused before). */
		if (cl->in_len > 0 && cl->in[cl->in_len - 1] != '\n')
			cl->in[cl->in_len++] = '\n';
		set_client_state(cl, STATUS_CL_CLOSING);
		client_touch(cl);
		(void)client_pump(cl);
		return;
	}
	cl->in_len += (size_t)r;
	client_touch(cl);
	(void)client_pump(cl);
}

static void
client_write_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct status_client *cl = w->data;
	ssize_t r;

	(void)revents;
	while (out_pending(cl) > 0) {
		r = send(cl->fd, cl->out.p + cl->out_off, out_pending(cl), MSG_NOSIGNAL);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			client_drop(cl, errno == EPIPE || errno == ECONNRESET ? NULL : strerror(errno));
			return;
		}
		cl->out_off += (size_t)r;
		client_touch(cl);
	}
	tk_buf_consume(&cl->out, cl->out.len);
	cl->out_off = 0;
	ev_io_stop(loop, w);
	(void)client_pump(cl);
}

static void
client_idle_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct status_client *cl = w->data;

	(void)loop;
	(void)revents;
	log_debug("status: client %lu: idle timeout", cl->id);
	client_drop(cl, NULL);
}

static void
client_new(struct status_server *srv, int fd)
{
	struct status_client *cl = calloc(1, sizeof(*cl));

	if (!cl) {
		close(fd);
		return;
	}
	cl->srv = srv;
	cl->fd = fd;
	cl->id = ++srv->next_id;
	cl->state = STATUS_CL_REQUESTS;
	ev_io_init(&cl->rd, client_read_cb, fd, EV_READ);
	cl->rd.data = cl;
	ev_io_init(&cl->wr, client_write_cb, fd, EV_WRITE);
	cl->wr.data = cl;
	ev_init(&cl->idle, client_idle_cb);
	cl->idle.repeat = srv->idle_timeout_ms / 1000.0;
	cl->idle.data = cl;
	tk_list_push(&srv->clients, &cl->link);
	srv->n_clients++;
	ev_io_start(srv->loop, &cl->rd);
	ev_timer_again(srv->loop, &cl->idle);
	log_debug("status: client %lu connected (%zu clients)", cl->id, srv->n_clients);
}

static void
accept_retry_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct status_server *srv = w->data;

	(void)revents;
	ev_io_start(loop, &srv->accept_w);
}

static void
accept_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	static const char busy_msg[] = "{\"error\":\"too many clients\"}\n";
	struct status_server *srv = w->data;

	(void)revents;
	for (int i = 0; i < STATUS_ACCEPT_BURST; i++) {
		int fd = accept(srv->fd, NULL, NULL);

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			/* Out of descriptors or memory: back off instead of spinning. */
			log_warn("status: accept on %s: %s", srv->path, strerror(errno));
			ev_io_stop(loop, w);
			ev_timer_set(&srv->accept_retry, STATUS_ACCEPT_RETRY_S, 0.);
			ev_timer_start(loop, &srv->accept_retry);
			return;
		}
		if (fd_nonblock_cloexec(fd) < 0) {
			close(fd);
			continue;
		}
		if (srv->n_clients >= STATUS_MAX_CLIENTS) {
			/* Best effort: a fresh socket has room for one short line. */
			ssize_t r = send(fd, busy_msg, sizeof(busy_msg) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
			(void)r;
			close(fd);
			log_debug("status: refused a client: %d clients already", STATUS_MAX_CLIENTS);
			continue;
		}
		client_new(srv, fd);
	}
}

/* ------------------------------------------------------------ server */

/* Is something listening on path? 1 yes, 0 no (stale), -1 error. */
static int
socket_in_use(const char *path, const struct sockaddr_storage *sa, socklen_t salen,
	      char *err, size_t errlen)
{
	/* Non-blocking, so a full backlog cannot block start-up. */
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int rc;

	if (fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	rc = connect(fd, (const struct sockaddr *)sa, salen);
	if (rc == 0 || errno == EAGAIN || errno == EINPROGRESS) {
		close(fd);
		return 1;
	}
	rc = errno;
	close(fd);
	if (rc == ECONNREFUSED || rc == ENOENT)
		return 0;
	snprintf(err, errlen, "status socket %s: %s", path, strerror(rc));
	return -1;
}

struct status_server *
status_server_new(struct ev_loop *loop, const char *path, unsigned mode,
		  status_handler_fn fn, void *arg, char *err, size_t errlen)
{
	struct status_server *srv;
	struct sockaddr_storage sa;
	socklen_t salen;
	struct stat st;
	mode_t old_umask;
	int fd, rc;

	if (!path || tk_sockaddr_unix(path, &sa, &salen) < 0) {
		snprintf(err, errlen, "bad status socket path '%s' (at most %zu bytes)",
			 path ? path : "", sizeof(srv->path) - 1);
		return NULL;
	}
	mode &= 0777;

	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			snprintf(err, errlen, "status socket %s exists and is not a socket", path);
			return NULL;
		}
		rc = socket_in_use(path, &sa, salen, err, errlen);
		if (rc < 0)
			return NULL;
		if (rc > 0) {
			snprintf(err, errlen, "status socket %s is in use by another process", path);
			return NULL;
		}
		if (unlink(path) < 0 && errno != ENOENT) {
			snprintf(err, errlen, "cannot remove stale status socket %s: %s", path,
				 strerror(errno));
			return NULL;
		}
		log_info("status: removed stale socket %s", path);
	} else if (errno != ENOENT) {
		snprintf(err, errlen, "status socket %s: %s", path, strerror(errno));
		return NULL;
	}

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return NULL;
	}
	/* The socket is born with the right mode (single-threaded: the umask
	 * change is not visible to anyone else); chmod makes it exact. */
	old_umask = umask((mode_t)(~mode & 0777));
	rc = bind(fd, (struct sockaddr *)&sa, salen);
	umask(old_umask);
	if (rc < 0) {
		snprintf(err, errlen, "bind %s: %s", path, strerror(errno));
		close(fd);
		return NULL;
	}
	if (chmod(path, (mode_t)mode) < 0 || stat(path, &st) < 0) {
		snprintf(err, errlen, "chmod %s: %s", path, strerror(errno));
		goto fail;
	}
	if (listen(fd, STATUS_BACKLOG) < 0) {
		snprintf(err, errlen, "listen %s: %s", path, strerror(errno));
		goto fail;
	}
	srv = calloc(1, sizeof(*srv));
	if (!srv) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	srv->loop = loop;
	str_copy(srv->path, path, sizeof(srv->path));
	srv->dev = st.st_dev;
	srv->ino = st.st_ino;
	srv->fd = fd;
	srv->fn = fn;
	srv->arg = arg;
	srv->idle_timeout_ms = STATUS_IDLE_TIMEOUT_MS;
	tk_list_init(&srv->clients);
	ev_io_init(&srv->accept_w, accept_cb, fd, EV_READ);
	srv->accept_w.data = srv;
	ev_timer_init(&srv->accept_retry, accept_retry_cb, STATUS_ACCEPT_RETRY_S, 0.);
	srv->accept_retry.data = srv;
	ev_io_start(loop, &srv->accept_w);
	log_info("status: listening on %s", path);
	return srv;

fail:
	close(fd);
	unlink(path);
	return NULL;
}

void
status_server_free(struct status_server *srv)
{
	struct stat st;

	if (!srv)
		return;
	while (!tk_list_empty(&srv->clients))
		client_drop(tk_container_of(srv->clients.next, struct status_client, link), NULL);
	ev_io_stop(srv->loop, &srv->accept_w);
	ev_timer_stop(srv->loop, &srv->accept_retry);
	close(srv->fd);
	/* Only remove the file if it is still ours. */
	if (lstat(srv->path, &st) == 0 && st.st_dev == srv->dev && st.st_ino == srv->ino)
		unlink(srv->path);
	free(srv);
}

void
status_server_set_idle_timeout(struct status_server *srv, int ms)
{
	if (srv && ms > 0)
		srv->idle_timeout_ms = ms;
}

void
status_client_close_after(struct status_client *cl)
{
	if (cl->state == STATUS_CL_REQUESTS)
		cl->close_after = 1;
}

void
status_client_stream(struct status_client *cl)
{
	if (!cl || cl->state != STATUS_CL_REQUESTS)
		return;
	set_client_state(cl, STATUS_CL_STREAMING);
	ev_timer_stop(cl->srv->loop, &cl->idle);
}

void
status_broadcast(struct status_server *srv, json_t *obj)
{
	struct tk_list *pos, *tmp;
	char *s;
	size_t len;

	if (!srv || !obj || !status_has_streams(srv))
		return;
	s = json_dumps(obj, JSON_COMPACT);
	if (!s) {
		log_err("status: cannot serialise a broadcast");
		return;
	}
	len = strlen(s);
	tk_list_for_each_safe(pos, tmp, &srv->clients) {
		struct status_client *cl = tk_container_of(pos, struct status_client, link);

		if (cl->state != STATUS_CL_STREAMING)
			continue;
		(void)client_queue_line(cl, s, len);
	}
	free(s);
}

int
status_has_streams(const struct status_server *srv)
{
	const struct tk_list *pos;

	if (!srv)
		return 0;
	for (pos = srv->clients.next; pos != &srv->clients; pos = pos->next)
		if (tk_container_of(pos, struct status_client, link)->state == STATUS_CL_STREAMING)
			return 1;
	return 0;
}

size_t
status_client_count(const struct status_server *srv)
{
	return srv ? srv->n_clients : 0;
}
