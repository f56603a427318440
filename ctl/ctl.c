/* hasentinelctl: ask the daemon over its status socket, print the answer.
 *
 *   hasentinelctl [-s SOCKET] [--json [--pretty]] [-t TIMEOUT_MS] COMMAND [ARG...]
 *   hasentinelctl --list commands|config-keys|metrics
 *
 * This file: options, the socket, the exit code. What is printed for people
 * is in view.c. Exit codes: 0 ok; 1 the daemon answered {"error":...} (or garbage);
 * 2 usage; 3 cannot connect, timeout, no answer. A top-level integer
 * "exit_code" in the answer (the "check" command) is the exit code. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1  /* MSG_NOSIGNAL, getopt_long */
#endif

#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "metrics.h"
#include "status.h"
#include "tk.h"
#include "util.h"
#include "view.h"

#ifndef RUNSTATEDIR
#define RUNSTATEDIR "/run"
#endif
#define CTL_DEFAULT_SOCKET RUNSTATEDIR "/hasentinel/hasentinel.sock"
#define CTL_DEFAULT_TIMEOUT_MS 5000
#define CTL_REPLY_MAX ((size_t)256 << 20)   /* longest answer line we accept */

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
	const char *e = json_is_object(root) ? view_str(root, "error") : NULL;
	char c[1024];

	if (!e)
		return 0;
	view_clean(c, sizeof(c), e);
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
				view_pretty(root);
			else if (!o->json && view_is_event(root))
				view_event_line(root);
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
			view_pretty(root);
		else
			printf("%s\n", line);
		rc = is_error(root) ? CTL_EXIT_ERROR : CTL_EXIT_OK;
	} else if (is_error(root)) {
		rc = CTL_EXIT_ERROR;
	} else {
		rc = view_print(o->cmd, root);
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
