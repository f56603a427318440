/* hasentinelctl: ask the daemon over its status socket, print the answer.
 *
 *   hasentinelctl [-s SOCKET] [--json [--pretty]] [-t TIMEOUT_MS] COMMAND [ARG...]
 *
 * Exit codes: 0 ok; 1 the daemon answered {"error":...} (or garbage);
 * 2 usage; 3 cannot connect, timeout, no answer. A top-level integer
 * "exit_code" in the answer (the "check" command) is the exit code. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1  /* MSG_NOSIGNAL, getopt_long */
#endif

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "status.h"
#include "util.h"

#ifndef RUNSTATEDIR
#define RUNSTATEDIR "/run"
#endif
#define CTL_DEFAULT_SOCKET RUNSTATEDIR "/hasentinel/hasentinel.sock"
#define CTL_DEFAULT_TIMEOUT_MS 5000
#define CTL_REPLY_MAX ((size_t)256 << 20)   /* longest answer line we accept */

enum ctl_exit {
	CTL_EXIT_OK = 0,
	CTL_EXIT_ERROR = 1,    /* the daemon answered an error */
	CTL_EXIT_USAGE = 2,
	CTL_EXIT_CONNECT = 3,  /* cannot connect, timeout, no answer */
};

static volatile sig_atomic_t got_sigint;

static void
on_sigint(int sig)
{
	(void)sig;
	got_sigint = 1;
}

static void
usage(FILE *f)
{
	fprintf(f,
		"usage: hasentinelctl [-s SOCKET] [--json [--pretty]] [-t TIMEOUT_MS] COMMAND [ARG...]\n"
		"\n"
		"  -s, --socket PATH    status socket (default $HASENTINEL_STATUS_SOCKET, else\n"
		"                       %s)\n"
		"  -j, --json           print the daemon's JSON answer as is\n"
		"  -p, --pretty         with --json: indent it\n"
		"  -t, --timeout MS     connect and answer deadline (default %d)\n"
		"  -h, --help           this text\n"
		"\n"
		"commands: status, topology, sentinels, haproxy, events, timeline, metrics,\n"
		"          resync, check, subscribe (prints events until EOF or Ctrl-C)\n"
		"exit: 0 ok, 1 the daemon answered an error, 2 usage, 3 cannot connect or timeout\n",
		CTL_DEFAULT_SOCKET, CTL_DEFAULT_TIMEOUT_MS);
}

static void ctl_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
ctl_err(const char *fmt, ...)
{
	va_list ap;

	fputs("hasentinelctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* ------------------------------------------------------------ socket I/O */

/* Milliseconds left before deadline (monotonic); -1 for no deadline. */
static int
ms_left(int64_t deadline)
{
	int64_t left;

	if (deadline < 0)
		return -1;
	left = deadline - now_mono_ms();
	return left < 0 ? 0 : (int)left;
}

/* Connect before the deadline. fd, or -1 with err. */
static int
ctl_connect(const char *path, int64_t deadline, char *err, size_t errlen)
{
	struct sockaddr_un sun;
	int fd, rc;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		snprintf(err, errlen, "path too long");
		return -1;
	}
	str_copy(sun.sun_path, path, sizeof(sun.sun_path));
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0 ||
	    fcntl(fd, F_SETFD, fcntl(fd, F_GETFD) | FD_CLOEXEC) < 0) {
		snprintf(err, errlen, "fcntl: %s", strerror(errno));
		close(fd);
		return -1;
	}
	for (;;) {
		rc = connect(fd, (struct sockaddr *)&sun, sizeof(sun));
		if (rc == 0)
			return fd;
		if (errno == EINTR)
			continue;
		/* A full listen backlog: retry until the deadline. */
		if (errno == EAGAIN && ms_left(deadline) > 0) {
			struct timespec ts = { 0, 20 * 1000 * 1000 };
			nanosleep(&ts, NULL);
			continue;
		}
		snprintf(err, errlen, "%s", errno == EAGAIN ? "timeout (daemon busy)" : strerror(errno));
		close(fd);
		return -1;
	}
}

/* Wait for events on fd. 1 ready, 0 timeout, -1 error or SIGINT (errno). */
static int
ctl_wait(int fd, short events, int64_t deadline)
{
	struct pollfd pfd = { .fd = fd, .events = events };
	int rc;

	for (;;) {
		if (got_sigint) {
			errno = EINTR;
			return -1;
		}
		rc = poll(&pfd, 1, ms_left(deadline));
		if (rc < 0 && errno == EINTR)
			continue;
		return rc < 0 ? -1 : rc > 0;
	}
}

static int
ctl_send(int fd, const char *buf, size_t len, int64_t deadline, char *err, size_t errlen)
{
	while (len > 0) {
		ssize_t r = send(fd, buf, len, MSG_NOSIGNAL);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				int w = ctl_wait(fd, POLLOUT, deadline);
				if (w > 0)
					continue;
				snprintf(err, errlen, "%s", w == 0 ? "timeout" : strerror(errno));
				return -1;
			}
			snprintf(err, errlen, "%s", strerror(errno));
			return -1;
		}
		buf += r;
		len -= (size_t)r;
	}
	return 0;
}

/* A line reader over the socket. */
struct reader {
	int fd;
	char *buf;
	size_t len, cap;
	size_t skip;   /* bytes of the previous line still at the start of buf */
};

enum read_rc { READ_LINE = 0, READ_EOF, READ_TIMEOUT, READ_ERROR, READ_INTERRUPTED };

/* Next line (NUL-terminated, without '\n') in *line. */
static enum read_rc
read_line(struct reader *rd, int64_t deadline, char **line, char *err, size_t errlen)
{
	char *nl;

	if (rd->skip) {
		memmove(rd->buf, rd->buf + rd->skip, rd->len - rd->skip);
		rd->len -= rd->skip;
		rd->skip = 0;
	}
	for (;;) {
		ssize_t r;
		int w;

		nl = rd->len ? memchr(rd->buf, '\n', rd->len) : NULL;
		if (nl) {
			*nl = '\0';
			*line = rd->buf;
			rd->skip = (size_t)(nl - rd->buf) + 1;
			return READ_LINE;
		}
		if (rd->cap - rd->len < 4096) {
			size_t ncap = rd->cap ? rd->cap * 2 : 65536;
			char *nb;

			if (ncap > CTL_REPLY_MAX) {
				snprintf(err, errlen, "answer too long");
				return READ_ERROR;
			}
			nb = realloc(rd->buf, ncap);
			if (!nb) {
				snprintf(err, errlen, "out of memory");
				return READ_ERROR;
			}
			rd->buf = nb;
			rd->cap = ncap;
		}
		r = recv(rd->fd, rd->buf + rd->len, rd->cap - rd->len - 1, 0);
		if (r > 0) {
			rd->len += (size_t)r;
			continue;
		}
		if (r == 0)
			return READ_EOF;
		if (errno == ECONNRESET)
			return READ_EOF;
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
			snprintf(err, errlen, "%s", strerror(errno));
			return READ_ERROR;
		}
		w = ctl_wait(rd->fd, POLLIN, deadline);
		if (w == 0)
			return READ_TIMEOUT;
		if (w < 0) {
			if (errno == EINTR)
				return READ_INTERRUPTED;
			snprintf(err, errlen, "%s", strerror(errno));
			return READ_ERROR;
		}
	}
}

/* ------------------------------------------------------------ JSON helpers */

static const char *
jstr(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s;
}

static int
jint(const json_t *o, const char *key, int64_t *out)
{
	json_t *v = json_object_get(o, key);

	if (json_is_integer(v)) {
		*out = (int64_t)json_integer_value(v);
		return 0;
	}
	if (json_is_real(v)) {
		*out = (int64_t)json_real_value(v);
		return 0;
	}
	return -1;
}

/* "yes", "no", or "-" when missing. */
static const char *
jyesno(const json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	if (!json_is_boolean(v))
		return "-";
	return json_is_true(v) ? "yes" : "no";
}

/* A printable copy: control characters from the network become '?', empty
 * or missing becomes "-". */
static void
clean(char *dst, size_t len, const char *src)
{
	size_t i;

	if (!src || !*src)
		src = "-";
	for (i = 0; src[i] && i + 1 < len; i++) {
		unsigned char c = (unsigned char)src[i];
		dst[i] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
	}
	dst[i] = '\0';
}

static const char *
fmt_int(char *buf, size_t len, const json_t *o, const char *key)
{
	int64_t v;

	if (jint(o, key, &v) < 0)
		return "-";
	snprintf(buf, len, "%" PRId64, v);
	return buf;
}

/* 120 ms, 12 s, 5 m 3 s, 2 h 5 m, 3 d 4 h */
static const char *
fmt_duration(char *buf, size_t len, int64_t ms)
{
	int64_t s;

	if (ms < 0)
		ms = 0;
	s = ms / 1000;
	if (ms < 1000)
		snprintf(buf, len, "%" PRId64 " ms", ms);
	else if (s < 60)
		snprintf(buf, len, "%" PRId64 " s", s);
	else if (s < 3600)
		snprintf(buf, len, "%" PRId64 " m %" PRId64 " s", s / 60, s % 60);
	else if (s < 86400)
		snprintf(buf, len, "%" PRId64 " h %" PRId64 " m", s / 3600, s % 3600 / 60);
	else
		snprintf(buf, len, "%" PRId64 " d %" PRId64 " h", s / 86400, s % 86400 / 3600);
	return buf;
}

/* ------------------------------------------------------------ tables */

#define TABLE_COLS 8
#define CELL_MAX 256

struct table {
	size_t ncol, nrow, cap;
	char (*cells)[TABLE_COLS][CELL_MAX];
};

static void
table_row(struct table *t, ...)
{
	va_list ap;

	if (t->nrow == t->cap) {
		size_t ncap = t->cap ? t->cap * 2 : 8;
		void *nb = realloc(t->cells, ncap * sizeof(*t->cells));

		if (!nb)
			return;
		t->cells = nb;
		t->cap = ncap;
	}
	va_start(ap, t);
	for (size_t c = 0; c < t->ncol; c++)
		clean(t->cells[t->nrow][c], CELL_MAX, va_arg(ap, const char *));
	va_end(ap);
	t->nrow++;
}

static void
table_print(struct table *t, const char *indent)
{
	size_t w[TABLE_COLS] = { 0 };

	for (size_t r = 0; r < t->nrow; r++)
		for (size_t c = 0; c < t->ncol; c++) {
			size_t l = strlen(t->cells[r][c]);
			if (l > w[c])
				w[c] = l;
		}
	for (size_t r = 0; r < t->nrow; r++) {
		fputs(indent, stdout);
		for (size_t c = 0; c < t->ncol; c++) {
			if (c + 1 < t->ncol)
				printf("%-*s  ", (int)w[c], t->cells[r][c]);
			else
				printf("%s\n", t->cells[r][c]);
		}
	}
	free(t->cells);
	t->cells = NULL;
	t->nrow = t->cap = 0;
}

/* ------------------------------------------------------------ status view */

static void
print_sentinels(const json_t *arr)
{
	struct table t = { .ncol = 5 };
	size_t i;
	json_t *s;

	printf("\nSENTINELS\n");
	if (!json_is_array(arr) || json_array_size(arr) == 0) {
		printf("  none\n");
		return;
	}
	table_row(&t, "ADDR", "COMMAND LINK", "PUBSUB LINK", "TILT", "LAST ERROR");
	json_array_foreach(arr, i, s)
		table_row(&t, jstr(s, "addr"), jstr(s, "cmd_link"), jstr(s, "pubsub_link"),
			  jyesno(s, "tilt"), jstr(s, "last_error"));
	table_print(&t, "  ");
}

static void
print_haproxy(const json_t *h)
{
	char sock[CELL_MAX], link[64], err[CELL_MAX], b1[32], b2[32], b3[32], b4[32];

	if (!json_is_object(h))
		return;
	clean(sock, sizeof(sock), jstr(h, "socket"));
	clean(link, sizeof(link), jstr(h, "link"));
	clean(err, sizeof(err), jstr(h, "last_error"));
	printf("\nHAProxy %s  link %s  pid %s  reloads seen %s  commands sent %s failed %s"
	       "  last error %s\n", sock, link,
	       fmt_int(b1, sizeof(b1), h, "pid"), fmt_int(b2, sizeof(b2), h, "reloads_seen"),
	       fmt_int(b3, sizeof(b3), h, "commands_sent"),
	       fmt_int(b4, sizeof(b4), h, "commands_failed"), err);
}

/* "a, b" from an array of strings; "none" when empty or missing. */
static const char *
join_strings(char *buf, size_t len, const json_t *arr)
{
	size_t i, off = 0;
	json_t *v;

	buf[0] = '\0';
	json_array_foreach(arr, i, v) {
		char c[CELL_MAX];

		if (!json_is_string(v))
			continue;
		clean(c, sizeof(c), json_string_value(v));
		off += (size_t)snprintf(buf + off, off < len ? len - off : 0, "%s%s",
					off ? ", " : "", c);
		if (off >= len)
			break;
	}
	return buf[0] ? buf : "none";
}

static void
print_master(const json_t *m)
{
	char name[CELL_MAX], master[CELL_MAX], state[64], wb[CELL_MAX], rb[CELL_MAX];
	char ready[1024], ep[32], b1[32], b2[32];
	const json_t *arr, *ls;
	json_t *v;
	size_t i;

	clean(name, sizeof(name), jstr(m, "name"));
	clean(master, sizeof(master), jstr(m, "master"));
	if (!jstr(m, "master") || !*jstr(m, "master"))
		str_copy(master, "none", sizeof(master));
	clean(state, sizeof(state), jstr(m, "state"));
	printf("\n%s  master %s  epoch %s  confirmed %s", name, master,
	       fmt_int(ep, sizeof(ep), m, "config_epoch"), jyesno(m, "role_confirmed"));
	if (jstr(m, "write_backend")) {
		clean(wb, sizeof(wb), jstr(m, "write_backend"));
		printf("  write %s: %s", wb, join_strings(ready, sizeof(ready),
							 json_object_get(m, "write_ready")));
	}
	printf("\n  state %s", state);
	if (jstr(m, "read_backend")) {
		clean(rb, sizeof(rb), jstr(m, "read_backend"));
		printf("  read %s", rb);
	}
	printf("\n");

	arr = json_object_get(m, "replicas");
	if (json_is_array(arr) && json_array_size(arr) > 0) {
		struct table t = { .ncol = 5 };

		table_row(&t, "ADDR", "FLAGS", "LINK", "ROLE", "READ READY");
		json_array_foreach(arr, i, v)
			table_row(&t, jstr(v, "addr"), jstr(v, "flags"), jstr(v, "link"),
				  jstr(v, "role"), jyesno(v, "read_ready"));
		table_print(&t, "  ");
	} else {
		printf("  no replicas\n");
	}

	arr = json_object_get(m, "sentinel_views");
	if (json_is_array(arr) && json_array_size(arr) > 0) {
		struct table t = { .ncol = 4 };

		table_row(&t, "SENTINEL", "SEES MASTER", "EPOCH", "AGE");
		json_array_foreach(arr, i, v) {
			int64_t age;
			const char *a = jint(v, "age_ms", &age) < 0 ? "-" :
					fmt_duration(b2, sizeof(b2), age);
			table_row(&t, jstr(v, "sentinel"), jstr(v, "master"),
				  fmt_int(b1, sizeof(b1), v, "epoch"), a);
		}
		table_print(&t, "  ");
	}

	ls = json_object_get(m, "last_switch");
	if (json_is_object(ls)) {
		char from[CELL_MAX], to[CELL_MAX], ago[48];
		int64_t at;

		clean(from, sizeof(from), jstr(ls, "from"));
		clean(to, sizeof(to), jstr(ls, "to"));
		if (jint(ls, "at_ms", &at) == 0)
			snprintf(ago, sizeof(ago), ", %s ago",
				 fmt_duration(b2, sizeof(b2), now_wall_ms() - at));
		else
			ago[0] = '\0';
		printf("  last switch %s -> %s epoch %s%s\n", from, to,
		       fmt_int(b1, sizeof(b1), ls, "epoch"), ago);
	}
}

/* 0 printed, -1 not a status document (the caller prints JSON). */
static int
print_status(const json_t *root)
{
	char ver[64], pid[32], up[48];
	const json_t *masters;
	json_t *m;
	int64_t upms;
	size_t i;

	if (!json_is_object(root) ||
	    !(json_object_get(root, "version") || json_object_get(root, "sentinels") ||
	      json_object_get(root, "haproxy") || json_object_get(root, "masters")))
		return -1;
	clean(ver, sizeof(ver), jstr(root, "version"));
	printf("hasentinel %s pid %s up %s\n", ver, fmt_int(pid, sizeof(pid), root, "pid"),
	       jint(root, "uptime_ms", &upms) == 0 ? fmt_duration(up, sizeof(up), upms) : "-");
	print_sentinels(json_object_get(root, "sentinels"));
	print_haproxy(json_object_get(root, "haproxy"));
	masters = json_object_get(root, "masters");
	if (json_is_array(masters)) {
		if (json_array_size(masters) == 0)
			printf("\nno masters\n");
		json_array_foreach(masters, i, m)
			if (json_is_object(m))
				print_master(m);
	}
	return 0;
}

static void
print_pretty(const json_t *root)
{
	char *s = json_dumps(root, JSON_INDENT(2) | JSON_ENCODE_ANY);

	if (s) {
		puts(s);
		free(s);
	}
}

/* ------------------------------------------------------------ main */

struct opts {
	const char *socket;
	int json, pretty;
	int timeout_ms;
	char request[STATUS_REQ_MAX];
	char cmd[64];
};

static int
parse_args(int argc, char **argv, struct opts *o)
{
	static const struct option longopts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ "pretty", no_argument, NULL, 'p' },
		{ "timeout", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	size_t off = 0;
	long v;
	int c;

	o->socket = getenv("HASENTINEL_STATUS_SOCKET");
	if (!o->socket || !*o->socket)
		o->socket = CTL_DEFAULT_SOCKET;
	o->timeout_ms = CTL_DEFAULT_TIMEOUT_MS;
	while ((c = getopt_long(argc, argv, "s:jpt:h", longopts, NULL)) != -1) {
		switch (c) {
		case 's':
			o->socket = optarg;
			break;
		case 'j':
			o->json = 1;
			break;
		case 'p':
			o->pretty = 1;
			break;
		case 't':
			if (parse_long(optarg, 1, 3600 * 1000, &v) < 0) {
				ctl_err("bad timeout '%s' (milliseconds, 1..3600000)", optarg);
				return -1;
			}
			o->timeout_ms = (int)v;
			break;
		case 'h':
			usage(stdout);
			exit(CTL_EXIT_OK);
		default:
			usage(stderr);
			return -1;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return -1;
	}
	str_copy(o->cmd, argv[optind], sizeof(o->cmd));
	/* COMMAND [ARG...]: the words joined by single spaces. */
	for (int i = optind; i < argc; i++) {
		const char *w = argv[i];

		for (const char *p = w; *p; p++)
			if ((unsigned char)*p < 0x20 || *p == 0x7f) {
				ctl_err("control characters are not allowed in requests");
				return -1;
			}
		if (!*w)
			continue;
		if (off + (off ? 1 : 0) + strlen(w) + 2 > sizeof(o->request)) {
			ctl_err("request too long (at most %d bytes)", STATUS_REQ_MAX - 1);
			return -1;
		}
		off += (size_t)snprintf(o->request + off, sizeof(o->request) - off, "%s%s",
					off ? " " : "", w);
	}
	if (off == 0) {
		usage(stderr);
		return -1;
	}
	o->request[off++] = '\n';
	o->request[off] = '\0';
	return 0;
}

/* 1 when root is {"error": "..."}: printed to stderr. */
static int
is_error(const json_t *root)
{
	const char *e = json_is_object(root) ? jstr(root, "error") : NULL;
	char c[1024];

	if (!e)
		return 0;
	clean(c, sizeof(c), e);
	ctl_err("%s", c);
	return 1;
}

static int
exit_code_of(const json_t *root, int dflt)
{
	json_t *v = json_is_object(root) ? json_object_get(root, "exit_code") : NULL;
	json_int_t c;

	if (!json_is_integer(v))
		return dflt;
	c = json_integer_value(v);
	return c < 0 || c > 255 ? CTL_EXIT_ERROR : (int)c;
}

/* subscribe: print every line until EOF or Ctrl-C. */
static int
run_stream(struct reader *rd, const struct opts *o)
{
	char err[256], *line;
	json_error_t jerr;

	for (;;) {
		enum read_rc rc = read_line(rd, -1, &line, err, sizeof(err));
		json_t *root;
		int failed;

		if (rc == READ_INTERRUPTED || rc == READ_EOF)
			return CTL_EXIT_OK;
		if (rc != READ_LINE) {
			ctl_err("reading from %s: %s", o->socket, err);
			return CTL_EXIT_CONNECT;
		}
		root = json_loads(line, JSON_DECODE_ANY, &jerr);
		failed = root && is_error(root);
		if (!failed && o->json && o->pretty && root)
			print_pretty(root);
		else if (!failed)
			printf("%s\n", line);
		fflush(stdout);
		json_decref(root);
		if (failed)
			return CTL_EXIT_ERROR;
	}
}

static int
run(const struct opts *o)
{
	struct reader rd = { .fd = -1 };
	int64_t deadline = now_mono_ms() + o->timeout_ms;
	char err[256], *line = NULL;
	json_error_t jerr;
	json_t *root;
	int rc, streaming = strcmp(o->cmd, "subscribe") == 0;

	rd.fd = ctl_connect(o->socket, deadline, err, sizeof(err));
	if (rd.fd < 0) {
		ctl_err("cannot connect to %s: %s", o->socket, err);
		return CTL_EXIT_CONNECT;
	}
	if (ctl_send(rd.fd, o->request, strlen(o->request), deadline, err, sizeof(err)) < 0) {
		ctl_err("cannot send to %s: %s", o->socket, err);
		close(rd.fd);
		return CTL_EXIT_CONNECT;
	}
	if (streaming) {
		rc = run_stream(&rd, o);
		goto out;
	}
	switch (read_line(&rd, deadline, &line, err, sizeof(err))) {
	case READ_LINE:
		break;
	case READ_TIMEOUT:
		ctl_err("timeout after %d ms waiting for %s", o->timeout_ms, o->socket);
		rc = CTL_EXIT_CONNECT;
		goto out;
	case READ_EOF:
		ctl_err("%s closed the connection without an answer", o->socket);
		rc = CTL_EXIT_CONNECT;
		goto out;
	case READ_INTERRUPTED:
		rc = 130;
		goto out;
	case READ_ERROR:
	default:
		ctl_err("reading from %s: %s", o->socket, err);
		rc = CTL_EXIT_CONNECT;
		goto out;
	}
	root = json_loads(line, JSON_DECODE_ANY, &jerr);
	if (!root) {
		ctl_err("bad answer from %s: %s", o->socket, jerr.text);
		rc = CTL_EXIT_ERROR;
		goto out;
	}
	if (o->json) {
		if (o->pretty)
			print_pretty(root);
		else
			printf("%s\n", line);
		rc = is_error(root) ? CTL_EXIT_ERROR : CTL_EXIT_OK;
	} else if (is_error(root)) {
		rc = CTL_EXIT_ERROR;
	} else {
		if (strcmp(o->cmd, "status") != 0 || print_status(root) < 0)
			print_pretty(root);
		rc = CTL_EXIT_OK;
	}
	rc = exit_code_of(root, rc);
	json_decref(root);
out:
	close(rd.fd);
	free(rd.buf);
	if (fflush(stdout) != 0 && rc == CTL_EXIT_OK)
		rc = CTL_EXIT_ERROR;
	return rc;
}

int
main(int argc, char **argv)
{
	struct opts o;
	struct sigaction sa;

	memset(&o, 0, sizeof(o));
	if (parse_args(argc, argv, &o) < 0)
		return CTL_EXIT_USAGE;
	/* Ctrl-C ends a subscription cleanly: no SA_RESTART, poll() returns. */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_sigint;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	return run(&o);
}
