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
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "metrics.h"
#include "status.h"
#include "tk.h"
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
		"      --list WHAT      print the names of the daemon's status commands,\n"
		"                       config keys or metric families (WHAT: commands,\n"
		"                       config-keys, metrics), one per line\n"
		"\n"
		"commands:\n",
		CTL_DEFAULT_SOCKET, CTL_DEFAULT_TIMEOUT_MS);
	/* The daemon's own table (status.h): what it answers is what is listed. */
	for (size_t i = 0; i < status_ncommands; i++)
		fprintf(f, "  %-20s %s\n", status_commands[i].synopsis, status_commands[i].help);
	fprintf(f,
		"\n"
		"exit: 0 ok, 1 the daemon answered an error (check: a problem), 2 usage,\n"
		"      3 cannot connect or timeout\n");
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
	struct sockaddr_storage sa;
	socklen_t salen;
	int fd, rc;

	if (tk_sockaddr_unix(path, &sa, &salen) < 0) {
		snprintf(err, errlen, "%s", *path ? "path too long" : "empty path");
		return -1;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	for (;;) {
		rc = connect(fd, (struct sockaddr *)&sa, salen);
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
			/* 64 KiB first, then doubling, up to CTL_REPLY_MAX. */
			size_t need = rd->cap ? rd->cap * 2 : 65536;

			if (need > CTL_REPLY_MAX) {
				snprintf(err, errlen, "answer too long");
				return READ_ERROR;
			}
			if (tk_grow(&rd->buf, &rd->cap, need, 1) < 0) {
				snprintf(err, errlen, "out of memory");
				return READ_ERROR;
			}
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

/* Back up to the start of a UTF-8 sequence so a cut never splits one. */
static size_t
utf8_floor(const char *s, size_t n)
{
	while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
		n--;
	return n;
}

/* Shorten dst (a NUL-terminated string) to at most max bytes, ending in
 * "..." when something was cut. */
static void
ellipsize(char *dst, size_t max)
{
	size_t n;

	if (strlen(dst) <= max)
		return;
	if (max < 4) {
		dst[max] = '\0';
		return;
	}
	n = utf8_floor(dst, max - 3);
	memcpy(dst + n, "...", 4);
}

/* A printable copy: control characters from the network become '?', empty
 * or missing becomes "-"; too long ends in "...". */
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
	if (src[i] && len > 4)
		memcpy(dst + utf8_floor(dst, len - 4), "...", 4);
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

/* Rows of up to TABLE_COLS cells, left-aligned in columns two spaces apart.
 * keep_empty: an empty cell stays empty (else "-"). fit_last: the last
 * column is cut to the terminal width (60 bytes when not a terminal). */
struct table {
	size_t ncol, nrow, cap;
	int keep_empty, fit_last;
	char (*cells)[TABLE_COLS][CELL_MAX];
};

static void
table_row(struct table *t, ...)
{
	va_list ap;

	if (tk_grow(&t->cells, &t->cap, t->nrow + 1, sizeof(*t->cells)) < 0)
		return;
	va_start(ap, t);
	for (size_t c = 0; c < t->ncol; c++) {
		const char *v = va_arg(ap, const char *);

		if (t->keep_empty && (!v || !*v))
			t->cells[t->nrow][c][0] = '\0';
		else
			clean(t->cells[t->nrow][c], CELL_MAX, v);
	}
	va_end(ap);
	t->nrow++;
}

/* Columns of the terminal on stdout, else $COLUMNS, else 0 (unknown). */
static int
term_width(void)
{
	struct winsize ws;
	const char *env = getenv("COLUMNS");
	long v;

	if (isatty(STDOUT_FILENO) && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
		return ws.ws_col;
	if (env && parse_long(env, 20, 10000, &v) == 0)
		return (int)v;
	return 0;
}

/* Print and empty the table; no trailing blanks. */
static void
table_print(struct table *t, const char *indent)
{
	size_t w[TABLE_COLS] = { 0 }, used, last_max = 0;

	for (size_t r = 0; r < t->nrow; r++)
		for (size_t c = 0; c < t->ncol; c++) {
			size_t l = strlen(t->cells[r][c]);
			if (l > w[c])
				w[c] = l;
		}
	if (t->fit_last && t->ncol > 0) {
		int tw = term_width();

		used = strlen(indent);
		for (size_t c = 0; c + 1 < t->ncol; c++)
			used += w[c] + 2;
		last_max = tw <= 0 ? 60 : (size_t)tw > used + 20 ? (size_t)tw - used : 20;
	}
	for (size_t r = 0; r < t->nrow; r++) {
		size_t last = 0;

		for (size_t c = 0; c < t->ncol; c++)
			if (t->cells[r][c][0])
				last = c;
		if (last_max && last == t->ncol - 1)
			ellipsize(t->cells[r][last], last_max);
		fputs(indent, stdout);
		for (size_t c = 0; c <= last; c++) {
			if (c < last)
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

/* ------------------------------------------------------------ operator views
 *
 * One printer per command. Each returns an exit code, or -1 when the answer
 * is not the shape it knows (the caller then prints the JSON indented). Any
 * field may be missing: it prints as "-" or is left out. */

/* HH:MM:SS.mmm local time of a wall-clock ms; "-" when unknown. */
static const char *
fmt_clock(char *buf, size_t len, int64_t ms, int with_date)
{
	time_t secs;
	struct tm tm;
	char hms[32];

	if (ms <= 0)
		return "-";
	secs = (time_t)(ms / 1000);
	if (!localtime_r(&secs, &tm) ||
	    strftime(hms, sizeof(hms), with_date ? "%Y-%m-%d %H:%M:%S" : "%H:%M:%S", &tm) == 0)
		return "-";
	snprintf(buf, len, "%s.%03d", hms, (int)(ms % 1000));
	return buf;
}

static const char *
fmt_clock_of(char *buf, size_t len, const json_t *o, const char *key)
{
	int64_t ms;

	return jint(o, key, &ms) < 0 ? "-" : fmt_clock(buf, len, ms, 0);
}

/* "120 ms ago" from a wall-clock ms; "never" for 0, "-" when missing. */
static const char *
fmt_ago(char *buf, size_t len, const json_t *o, const char *key)
{
	char d[48];
	int64_t at;

	if (jint(o, key, &at) < 0)
		return "-";
	if (at <= 0)
		return "never";
	snprintf(buf, len, "%s ago", fmt_duration(d, sizeof(d), now_wall_ms() - at));
	return buf;
}

/* A short elapsed time with an optional sign: "+93 ms", "+1.06 s", "12.5 s". */
static const char *
fmt_elapsed(char *buf, size_t len, int64_t ms, int sign)
{
	const char *pfx = ms < 0 ? "-" : sign ? "+" : "";
	int64_t a = ms < 0 ? -ms : ms;
	char d[48];

	if (a < 1000)
		snprintf(buf, len, "%s%" PRId64 " ms", pfx, a);
	else if (a < 10000)
		snprintf(buf, len, "%s%" PRId64 ".%02" PRId64 " s", pfx, a / 1000, a % 1000 / 10);
	else if (a < 60000)
		snprintf(buf, len, "%s%" PRId64 ".%" PRId64 " s", pfx, a / 1000, a % 1000 / 100);
	else
		snprintf(buf, len, "%s%s", pfx, fmt_duration(d, sizeof(d), a));
	return buf;
}

/* Drop blanks at the end of s. */
static void
rtrim(char *s)
{
	size_t n = strlen(s);

	while (n > 0 && s[n - 1] == ' ')
		s[--n] = '\0';
}

/* 1 when the array holds the string s. */
static int
array_has_string(const json_t *arr, const char *s)
{
	size_t i;
	json_t *v;

	json_array_foreach(arr, i, v)
		if (json_is_string(v) && strcmp(json_string_value(v), s) == 0)
			return 1;
	return 0;
}

/* --- topology */

/* "   sentinels: A -> M @E (AGE ago), ..." wrapped at the terminal width. */
static void
print_views(const json_t *views)
{
	static const char head[] = "   sentinels: ";
	int width = term_width();
	size_t i, col, hl = sizeof(head) - 1;
	json_t *v;

	if (!json_is_array(views) || json_array_size(views) == 0)
		return;
	if (width <= 0)
		width = 80;
	fputs(head, stdout);
	col = hl;
	json_array_foreach(views, i, v) {
		char s[CELL_MAX], m[CELL_MAX], ep[32], age[48], item[3 * CELL_MAX];
		int64_t a;
		size_t l;

		clean(s, sizeof(s), jstr(v, "sentinel"));
		clean(m, sizeof(m), jstr(v, "master"));
		if (jint(v, "age_ms", &a) == 0) {
			char d[32];

			snprintf(age, sizeof(age), " (%s ago)", fmt_duration(d, sizeof(d), a));
		} else {
			age[0] = '\0';
		}
		snprintf(item, sizeof(item), "%s -> %s @%s%s%s", s, m,
			 fmt_int(ep, sizeof(ep), v, "epoch"), age,
			 i + 1 < json_array_size(views) ? "," : "");
		l = strlen(item);
		if (col > hl && col + 1 + l > (size_t)width) {
			printf("\n%*s", (int)hl, "");
			col = hl;
		} else if (col > hl) {
			putchar(' ');
			col++;
		}
		fputs(item, stdout);
		col += l;
	}
	putchar('\n');
}

static void
print_topology_master(const json_t *m)
{
	static const char *const tee = "\u251c\u2500 ", *const elbow = "\u2514\u2500 ";
	char name[CELL_MAX], state[64], ep[32], role[32];
	const char *master = jstr(m, "master"), *confirmed = "", *write = "write ?";
	const json_t *reps = json_object_get(m, "replicas"), *wr = json_object_get(m, "write_ready");
	struct table t = { .ncol = 4, .keep_empty = 1 };
	size_t i, nrep = 0, k = 0;
	json_t *r, *rc = json_object_get(m, "role_confirmed"), *v;

	clean(name, sizeof(name), jstr(m, "name"));
	clean(state, sizeof(state), jstr(m, "state"));
	printf("%s  epoch %s  %s\n", name, fmt_int(ep, sizeof(ep), m, "config_epoch"), state);
	json_array_foreach(reps, i, r)
		nrep += json_is_object(r);

	/* The branch is part of the first cell: every branch has the same
	 * byte length, so the byte-counted columns stay aligned. */
	if (json_is_boolean(rc))
		confirmed = json_is_true(rc) ? "ROLE confirmed" : "ROLE unconfirmed";
	if (master && *master && json_is_array(wr))
		write = array_has_string(wr, master) ? "write ready" : "write maint";
	snprintf(role, sizeof(role), "%smaster", nrep ? tee : elbow);
	table_row(&t, role, master && *master ? master : "none", master && *master ? write : "",
		  confirmed);
	json_array_foreach(reps, i, r) {
		json_t *rr = json_object_get(r, "read_ready");
		const char *link = jstr(r, "link"), *flags = jstr(r, "flags");
		char extra[CELL_MAX];

		if (!json_is_object(r))
			continue;
		snprintf(extra, sizeof(extra), "%s%s%s%s", link && *link ? "link " : "",
			 link && *link ? link : "", link && *link && flags && *flags ? "  " : "",
			 flags && *flags ? flags : "");
		snprintf(role, sizeof(role), "%sreplica", ++k < nrep ? tee : elbow);
		table_row(&t, role, jstr(r, "addr") ? jstr(r, "addr") : "-",
			  !json_is_boolean(rr) ? "read ?" : json_is_true(rr) ? "read ready" : "read maint",
			  extra);
	}
	table_print(&t, "");
	/* HAProxy sending writes somewhere else than the master: say so. */
	json_array_foreach(wr, i, v) {
		char a[CELL_MAX];

		if (!json_is_string(v) || (master && strcmp(json_string_value(v), master) == 0))
			continue;
		clean(a, sizeof(a), json_string_value(v));
		printf("   write ready on %s, not the master\n", a);
	}
	print_views(json_object_get(m, "sentinel_views"));
}

/* Each object of root[key] printed by one, a blank line between them;
 * none_msg when there is none. -1 when root[key] is not an array. */
static int
print_each(const json_t *root, const char *key, void (*one)(const json_t *o), const char *none_msg)
{
	const json_t *arr = json_object_get(root, key);
	size_t i, n = 0;
	json_t *o;

	if (!json_is_array(arr))
		return -1;
	json_array_foreach(arr, i, o) {
		if (!json_is_object(o))
			continue;
		if (n++)
			putchar('\n');
		one(o);
	}
	if (n == 0)
		printf("%s\n", none_msg);
	return CTL_EXIT_OK;
}

static int
print_topology(const json_t *root)
{
	return print_each(root, "masters", print_topology_master, "no masters");
}

/* --- sentinels */

static int
print_sentinel_table(const json_t *root)
{
	const json_t *arr = json_object_get(root, "sentinels");
	struct table t = { .ncol = 8 };
	char usable[32], ago[64], ev[32];
	size_t i;
	json_t *s;

	if (!json_is_array(arr))
		return -1;
	printf("%zu sentinels, %s usable\n", json_array_size(arr),
	       fmt_int(usable, sizeof(usable), root, "usable"));
	if (json_array_size(arr) == 0)
		return CTL_EXIT_OK;
	table_row(&t, "ADDR", "CMD LINK", "PUBSUB LINK", "SUBSCRIBED", "TILT", "LAST OK", "EVENTS",
		  "LAST ERROR");
	json_array_foreach(arr, i, s)
		if (json_is_object(s))
			table_row(&t, jstr(s, "addr"), jstr(s, "cmd_link"), jstr(s, "pubsub_link"),
				  jyesno(s, "subscribed"), jyesno(s, "tilt"),
				  fmt_ago(ago, sizeof(ago), s, "last_ok_ms"),
				  fmt_int(ev, sizeof(ev), s, "events"), jstr(s, "last_error"));
	table_print(&t, "");
	return CTL_EXIT_OK;
}

/* --- haproxy */

/* An HAProxy reply on one line: line breaks become " / ", trailing ones go. */
static void
one_line(char *dst, size_t len, const char *src)
{
	size_t o = 0;

	if (!src)
		src = "";
	while (*src && o + 1 < len) {
		if (*src == '\n' || *src == '\r') {
			while (*src == '\n' || *src == '\r')
				src++;
			if (*src && o + 4 < len) {
				memcpy(dst + o, " / ", 3);
				o += 3;
			}
			continue;
		}
		dst[o++] = *src++;
	}
	dst[o] = '\0';
	if (o == 0)
		str_copy(dst, "(empty)", len);
}

static int
print_haproxy_view(const json_t *h)
{
	static const char *const counters[][2] = {
		{ "pid", "pid" }, { "reloads_seen", "reloads seen" },
		{ "commands_sent", "commands sent" }, { "commands_failed", "commands failed" },
		{ "drift_corrections", "drift corrections" }, { "reconciles", "reconciles" },
	};
	const json_t *cmds;
	struct table kv = { .ncol = 2 };
	char b[64];
	int64_t v;
	size_t i;
	json_t *c;

	if (!json_is_object(h) || !(json_object_get(h, "socket") || json_object_get(h, "link") ||
				    json_object_get(h, "last_commands")))
		return -1;
	table_row(&kv, "socket", jstr(h, "socket"));
	table_row(&kv, "link", jstr(h, "link"));
	for (i = 0; i < sizeof(counters) / sizeof(counters[0]); i++)
		table_row(&kv, counters[i][1], fmt_int(b, sizeof(b), h, counters[i][0]));
	if (json_object_get(h, "switches"))
		table_row(&kv, "switches", fmt_int(b, sizeof(b), h, "switches"));
	table_row(&kv, "last reload", fmt_ago(b, sizeof(b), h, "last_reload_ms"));
	table_row(&kv, "last ok", fmt_ago(b, sizeof(b), h, "last_ok_ms"));
	table_row(&kv, "last switch applied in",
		  jint(h, "last_switch_apply_ms", &v) < 0 ? "-" :
		  v < 0 ? "never" : fmt_elapsed(b, sizeof(b), v, 0));
	table_row(&kv, "last error", jstr(h, "last_error"));
	table_print(&kv, "");

	cmds = json_object_get(h, "last_commands");
	if (!json_is_array(cmds))
		return CTL_EXIT_OK;
	printf("\nLAST COMMANDS\n");
	if (json_array_size(cmds) == 0) {
		printf("  none\n");
		return CTL_EXIT_OK;
	}
	{
		struct table t = { .ncol = 4, .fit_last = 1 };

		table_row(&t, "TIME", "RESULT", "COMMAND", "REPLY");
		json_array_foreach(cmds, i, c) {
			json_t *ok = json_object_get(c, "ok");
			char reply[CELL_MAX];

			if (!json_is_object(c))
				continue;
			one_line(reply, sizeof(reply), jstr(c, "reply"));
			table_row(&t, fmt_clock_of(b, sizeof(b), c, "at_ms"),
				  !json_is_boolean(ok) ? "-" : json_is_true(ok) ? "OK" : "FAIL",
				  jstr(c, "command"), reply);
		}
		table_print(&t, "  ");
	}
	return CTL_EXIT_OK;
}

/* --- events and subscribe */

struct event_cells {
	char at[32], source[CELL_MAX], master[CELL_MAX], type[CELL_MAX], text[1024];
};

/* A Sentinel's event shows the Sentinel's address as its source. */
static void
event_cells(const json_t *e, struct event_cells *c)
{
	const char *src = jstr(e, "source"), *sen = jstr(e, "sentinel");
	char b[32];
	size_t len;

	str_copy(c->at, fmt_clock_of(b, sizeof(b), e, "at_ms"), sizeof(c->at));
	if (sen && *sen && (!src || !*src || strcmp(src, "sentinel") == 0))
		src = sen;
	clean(c->source, sizeof(c->source), src);
	clean(c->master, sizeof(c->master), jstr(e, "master"));
	clean(c->type, sizeof(c->type), jstr(e, "type"));
	clean(c->text, sizeof(c->text), jstr(e, "text"));
	/* Sentinel's messages start with their type: not twice on a line. */
	len = strlen(c->type);
	if (strcmp(c->type, "-") != 0 && strncmp(c->text, c->type, len) == 0 && c->text[len] == ' ')
		memmove(c->text, c->text + len + 1, strlen(c->text + len + 1) + 1);
}

static int
looks_like_event(const json_t *e)
{
	return json_is_object(e) && (json_object_get(e, "type") || json_object_get(e, "text")) &&
	       !json_object_get(e, "error");
}

static int
print_events(const json_t *root)
{
	const json_t *arr = json_object_get(root, "events");
	struct table t = { .ncol = 5 };
	size_t i;
	json_t *e;

	if (!json_is_array(arr))
		return -1;
	if (json_array_size(arr) == 0) {
		printf("no events\n");
		return CTL_EXIT_OK;
	}
	json_array_foreach(arr, i, e) {
		struct event_cells c;

		if (!json_is_object(e))
			continue;
		event_cells(e, &c);
		table_row(&t, c.at, c.source, c.master, c.type, c.text);
	}
	table_print(&t, "");
	return CTL_EXIT_OK;
}

/* One streamed event: fixed minimum widths, since later lines are unknown. */
static void
print_event_line(const json_t *e)
{
	struct event_cells c;
	char line[2048];

	event_cells(e, &c);
	snprintf(line, sizeof(line), "%-12s  %-15s  %-10s  %-20s  %s", c.at, c.source, c.master,
		 c.type, c.text);
	rtrim(line);
	printf("%s\n", line);
}

/* --- timeline */

#define BAR_MAX 30

static void
print_timeline(const json_t *tl)
{
	const json_t *stages = json_object_get(tl, "stages");
	size_t n = json_is_array(stages) ? json_array_size(stages) : 0, i, wname = 0, woff = 0, wdel = 0;
	char name[CELL_MAX], from[CELL_MAX], to[CELL_MAX], ep[32], when[48], tot[32];
	int64_t start = -1, total = -1, span = 0, v;
	int64_t *off = n ? calloc(n, sizeof(*off)) : NULL;
	char *have = n ? calloc(n, 1) : NULL;
	json_t *st, *complete = json_object_get(tl, "complete");
	int width = term_width(), bar_max;

	clean(name, sizeof(name), jstr(tl, "master"));
	clean(from, sizeof(from), jstr(tl, "from"));
	clean(to, sizeof(to), jstr(tl, "to"));
	if (!off || !have)
		n = 0;  /* out of memory (or no stages): the header alone */
	/* The first stage is the origin: offsets from it. */
	if (jint(tl, "start_ms", &v) == 0 && v > 0)
		start = v;
	for (i = 0; start < 0 && i < n; i++)
		if (jint(json_array_get(stages, i), "at_ms", &v) == 0 && v > 0)
			start = v;
	for (i = 0; i < n; i++) {
		st = json_array_get(stages, i);
		if (jint(st, "offset_ms", &v) == 0) {
			off[i] = v;
			have[i] = 1;
		} else if (start > 0 && jint(st, "at_ms", &v) == 0 && v > 0) {
			off[i] = v - start;
			have[i] = 1;
		}
		if (have[i] && off[i] > span)
			span = off[i];
	}
	if (jint(tl, "total_ms", &v) == 0 && v >= 0)
		total = v;
	else if (n && have[n - 1])
		total = off[n - 1];
	if (total > span)
		span = total;

	printf("%s  %s -> %s  epoch %s  %s  total %s%s\n", name, from, to,
	       fmt_int(ep, sizeof(ep), tl, "epoch"),
	       start > 0 ? fmt_clock(when, sizeof(when), start, 1) : "-",
	       total >= 0 ? fmt_elapsed(tot, sizeof(tot), total, 0) : "-",
	       json_is_false(complete) ? "  (incomplete)" : "");
	if (n == 0) {
		printf("  no stages\n");
		goto out;
	}

	/* Column widths, then the bar gets what is left of the line. */
	for (i = 0; i < n; i++) {
		char s[CELL_MAX], b[32];
		int64_t prev = -1;

		clean(s, sizeof(s), jstr(json_array_get(stages, i), "stage"));
		if (strlen(s) > wname)
			wname = strlen(s);
		if (!have[i])
			continue;
		if (strlen(fmt_elapsed(b, sizeof(b), off[i], 1)) > woff)
			woff = strlen(b);
		for (size_t k = i; k-- > 0;)
			if (have[k]) {
				prev = off[k];
				break;
			}
		if (prev >= 0 && strlen(fmt_elapsed(b, sizeof(b), off[i] - prev, 1)) > wdel)
			wdel = strlen(b);
	}
	bar_max = (width > 0 ? width : 80) - 1 - (int)(2 + wname + 2 + woff + 2 + wdel + 2);
	if (bar_max > BAR_MAX)
		bar_max = BAR_MAX;
	if (bar_max < 10)
		bar_max = 10;

	for (i = 0; i < n; i++) {
		char s[CELL_MAX], o[32] = "?", d[32] = "", bar[BAR_MAX + 1] = "", line[512];
		int64_t prev = -1;

		st = json_array_get(stages, i);
		clean(s, sizeof(s), jstr(st, "stage"));
		if (have[i]) {
			fmt_elapsed(o, sizeof(o), off[i], 1);
			for (size_t k = i; k-- > 0;)
				if (have[k]) {
					prev = off[k];
					break;
				}
			if (prev >= 0)
				fmt_elapsed(d, sizeof(d), off[i] - prev, 1);
			if (span > 0 && off[i] > 0) {
				int64_t nb = (off[i] * bar_max + span / 2) / span;

				if (nb < 1)
					nb = 1;
				if (nb > bar_max)
					nb = bar_max;
				memset(bar, '#', (size_t)nb);
				bar[nb] = '\0';
			}
		}
		snprintf(line, sizeof(line), "  %-*s  %*s  %*s  %s", (int)wname, s, (int)woff, o,
			 (int)wdel, d, bar);
		rtrim(line);
		printf("%s\n", line);
	}
out:
	free(off);
	free(have);
}

static int
print_timelines(const json_t *root)
{
	return print_each(root, "timelines", print_timeline, "no failovers recorded");
}

/* --- metrics, resync, check */

static int
print_metrics(const json_t *root)
{
	const json_t *text = json_object_get(root, "text");
	size_t len;

	if (!json_is_string(text))
		return -1;
	len = json_string_length(text);
	fwrite(json_string_value(text), 1, len, stdout);
	if (len > 0 && json_string_value(text)[len - 1] != '\n')
		putchar('\n');
	return CTL_EXIT_OK;
}

static int
print_resync(const json_t *root)
{
	const json_t *ok = json_object_get(root, "ok");

	if (!json_is_boolean(ok))
		return -1;
	if (json_is_true(ok)) {
		printf("resync started\n");
		return CTL_EXIT_OK;
	}
	ctl_err("resync refused");
	return CTL_EXIT_ERROR;
}

static int
print_check(const json_t *root)
{
	const json_t *ok = json_object_get(root, "ok"), *probs = json_object_get(root, "problems");
	size_t i, n = 0;
	json_t *p;

	if (!json_is_boolean(ok) && !json_is_array(probs))
		return -1;
	json_array_foreach(probs, i, p) {
		char c[1024];

		clean(c, sizeof(c), json_is_string(p) ? json_string_value(p) : NULL);
		printf("%s\n", c);
		n++;
	}
	if (json_is_true(ok)) {
		printf("OK\n");  /* after any warnings */
		return CTL_EXIT_OK;
	}
	if (n == 0)
		printf("NOT OK\n");
	return CTL_EXIT_ERROR;
}

/* The human view of each command; the rest print indented JSON. */
static const struct {
	const char *cmd;
	int (*print)(const json_t *root);
} views[] = {
	{ "status", print_status },
	{ "topology", print_topology },
	{ "sentinels", print_sentinel_table },
	{ "haproxy", print_haproxy_view },
	{ "events", print_events },
	{ "timeline", print_timelines },
	{ "metrics", print_metrics },
	{ "resync", print_resync },
	{ "check", print_check },
};

/* Exit code; JSON indented when the command or the shape is unknown. */
static int
print_human(const char *cmd, const json_t *root)
{
	for (size_t i = 0; i < sizeof(views) / sizeof(views[0]); i++) {
		int rc;

		if (strcmp(views[i].cmd, cmd) != 0)
			continue;
		rc = json_is_object(root) ? views[i].print(root) : -1;
		if (rc >= 0)
			return rc;
		break;
	}
	print_pretty(root);
	return CTL_EXIT_OK;
}

/* ------------------------------------------------------------ main */

/* --list WHAT: the names in one of the tables the daemon is built from,
 * one per line (for scripts and the documentation test). Exit code. */
static int
list_names(const char *what)
{
	if (strcmp(what, "commands") == 0) {
		for (size_t i = 0; i < status_ncommands; i++)
			printf("%s\n", status_commands[i].name);
	} else if (strcmp(what, "config-keys") == 0) {
		for (size_t i = 0; config_keys[i]; i++)
			printf("%s\n", config_keys[i]);
	} else if (strcmp(what, "metrics") == 0) {
		for (size_t i = 0; i < metrics_nfamilies; i++)
			printf("%s\n", metrics_family_names[i]);
	} else {
		ctl_err("--list: expected commands, config-keys or metrics, got '%s'", what);
		return CTL_EXIT_USAGE;
	}
	return fflush(stdout) == 0 ? CTL_EXIT_OK : CTL_EXIT_ERROR;
}

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
		{ "list", required_argument, NULL, 'L' },
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
		case 'L':
			exit(list_names(optarg));
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
	if (strcmp(o->cmd, "help") == 0) {
		usage(stdout);
		exit(CTL_EXIT_OK);
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

/* {"ok":true} alone: a subscription acknowledged, nothing to show. */
static int
is_ack(const json_t *root)
{
	return json_is_object(root) && json_object_size(root) == 1 &&
	       json_is_true(json_object_get(root, "ok"));
}

/* subscribe: print every line until EOF or Ctrl-C; without --json, events
 * in the `events` line format. Flushed line by line. */
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
		if (!failed) {
			if (o->json && o->pretty && root)
				print_pretty(root);
			else if (!o->json && looks_like_event(root))
				print_event_line(root);
			else if (o->json || !is_ack(root))
				printf("%s\n", line);
		}
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
		rc = print_human(o->cmd, root);
	}
	/* {"ok":false} fails even without an exit_code. */
	if (rc == CTL_EXIT_OK && json_is_false(json_object_get(root, "ok")))
		rc = CTL_EXIT_ERROR;
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
