/* Status server: the request parser, then a real server and real client
 * sockets in one process, both driven by one ev loop. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <ev.h>
#include <jansson.h>

#include "log.h"
#include "status.h"
#include "util.h"
#include "unit_main.h"

/* ------------------------------------------------------------ parser */

static int
parse(const char *line, struct status_request *req, char *err)
{
	return status_parse_request(line, strlen(line), req, err, 64);
}

START_TEST(parse_plain)
{
	struct status_request r;
	char err[64];

	ck_assert_int_eq(parse("status", &r, err), 0);
	ck_assert_str_eq(r.cmd, "status");
	ck_assert_str_eq(r.arg, "");
	ck_assert_int_eq(parse("events 20", &r, err), 0);
	ck_assert_str_eq(r.cmd, "events");
	ck_assert_str_eq(r.arg, "20");
	ck_assert_int_eq(parse("check-all-2", &r, err), 0);
	ck_assert_str_eq(r.cmd, "check-all-2");
}
END_TEST

START_TEST(parse_trim)
{
	struct status_request r;
	char err[64];

	ck_assert_int_eq(parse("   echo   hello   world  ", &r, err), 0);
	ck_assert_str_eq(r.cmd, "echo");
	ck_assert_str_eq(r.arg, "hello   world");
	ck_assert_int_eq(parse("status\r", &r, err), 0);
	ck_assert_str_eq(r.cmd, "status");
	ck_assert_int_eq(parse("echo x \r", &r, err), 0);
	ck_assert_str_eq(r.arg, "x");
	/* Only the length given counts, not the NUL. */
	ck_assert_int_eq(status_parse_request("statusXYZ", 6, &r, err, sizeof(err)), 0);
	ck_assert_str_eq(r.cmd, "status");
}
END_TEST

START_TEST(parse_empty)
{
	struct status_request r;
	char err[64];

	ck_assert_int_eq(parse("", &r, err), -1);
	ck_assert_str_eq(err, "empty request");
	ck_assert_int_eq(parse("    ", &r, err), -1);
	ck_assert_str_eq(err, "empty request");
	ck_assert_int_eq(parse("\r", &r, err), -1);
	ck_assert_str_eq(err, "empty request");
}
END_TEST

START_TEST(parse_bad_chars)
{
	static const char *const bad[] = {
		"Status", "sta\ttus", "st@t", "status\x01", "\x80status", "echo caf\xc3\xa9",
		"a\rb", "echo a\r\r", "status\n", "sta_tus", "\x7f",
	};
	struct status_request r;
	char err[64];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_msg(parse(bad[i], &r, err) == -1, "accepted case %zu", i);
		ck_assert_str_eq(err, "bad character");
	}
	/* An embedded NUL is a bad character too. */
	ck_assert_int_eq(status_parse_request("sta\0us", 6, &r, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "bad character");
}
END_TEST

START_TEST(parse_lengths)
{
	struct status_request r;
	char line[600], err[64];

	memset(line, 'c', 31);
	line[31] = '\0';
	ck_assert_int_eq(parse(line, &r, err), 0);
	ck_assert_uint_eq(strlen(r.cmd), 31);
	line[31] = 'c';
	line[32] = '\0';
	ck_assert_int_eq(parse(line, &r, err), -1);
	ck_assert_str_eq(err, "request too long");

	memcpy(line, "echo ", 5);
	memset(line + 5, 'x', 255);
	line[260] = '\0';
	ck_assert_int_eq(parse(line, &r, err), 0);
	ck_assert_uint_eq(strlen(r.arg), 255);
	memcpy(line + 260, "x  ", 4);   /* 256 after trimming */
	ck_assert_int_eq(parse(line, &r, err), -1);
	ck_assert_str_eq(err, "request too long");
	/* Trailing blanks do not count. */
	memcpy(line + 260, "     ", 6);
	ck_assert_int_eq(parse(line, &r, err), 0);
}
END_TEST

/* A small err buffer truncates the message, never overflows. */
START_TEST(parse_small_err)
{
	struct status_request r;
	char err[4];

	ck_assert_int_eq(status_parse_request("", 0, &r, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "emp");
}
END_TEST

/* "page FROM": digits only, clamped to the number of groups. */
START_TEST(parse_count)
{
	static const struct {
		const char *arg;
		size_t max, want;
	} good[] = {
		{ "0", 10, 0 },
		{ "7", 10, 7 },
		{ "10", 10, 10 },
		{ "11", 10, 10 },
		{ "00042", 1000, 42 },
		/* however many digits: clamped, no overflow */
		{ "99999999999999999999999999999999", 1000, 1000 },
		{ "18446744073709551616", SIZE_MAX, SIZE_MAX },
		{ "3", 0, 0 },
	};
	static const char *const bad[] = { "", "-1", "+1", " 1", "1 ", "1a", "0x10" };
	size_t v;

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		v = 12345;
		ck_assert_int_eq(status_parse_count(good[i].arg, good[i].max, &v), 0);
		ck_assert_uint_eq(v, good[i].want);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		v = 777;
		ck_assert_int_eq(status_parse_count(bad[i], 100, &v), -1);
		ck_assert_uint_eq(v, 777);   /* untouched on error */
	}
	ck_assert_int_eq(status_parse_count(NULL, 10, &v), -1);
}
END_TEST

/* ------------------------------------------------------------ sockets */

#define WAIT_MS 10000   /* generous: the suite also runs under valgrind */

static struct ev_loop *loop;
static struct status_server *srv;
static char tmpdir[64];
static char sockpath[128];

struct tclient {
	int fd;
	ev_io w;
	char *buf;
	size_t len, cap;
	size_t lines;
	int eof;
};

static json_t *
handler(void *arg, struct status_client *cl, const struct status_request *req)
{
	(void)arg;
	if (strcmp(req->cmd, "status") == 0)
		return json_pack("{s:b}", "ok", 1);
	if (strcmp(req->cmd, "echo") == 0)
		return json_pack("{s:s}", "arg", req->arg);
	if (strcmp(req->cmd, "quiet") == 0)
		return json_null();
	if (strcmp(req->cmd, "last") == 0) {
		status_client_close_after(cl);
		return json_pack("{s:s}", "last", req->arg);
	}
	if (strcmp(req->cmd, "subscribe") == 0) {
		status_client_stream(cl);
		return NULL;
	}
	if (strcmp(req->cmd, "big") == 0) {
		char *s = malloc(100000);
		json_t *o;

		memset(s, 'b', 99999);
		s[99999] = '\0';
		o = json_pack("{s:s}", "big", s);
		free(s);
		return o;
	}
	if (strcmp(req->cmd, "shout") == 0) {
		/* A broadcast from inside a handler. */
		json_t *o = json_pack("{s:s}", "event", req->arg);
		status_broadcast(srv, o);
		json_decref(o);
		return json_pack("{s:b}", "ok", 1);
	}
	return NULL;
}

static void
setup(void)
{
	char err[256];

	log_open("check_status", 0, LOG_LVL_ERR);
	str_copy(tmpdir, "/tmp/check_status.XXXXXX", sizeof(tmpdir));
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
	snprintf(sockpath, sizeof(sockpath), "%s/status.sock", tmpdir);
	loop = ev_loop_new(EVFLAG_AUTO);
	ck_assert_ptr_nonnull(loop);
	srv = status_server_new(loop, sockpath, 0600, handler, NULL, err, sizeof(err));
	ck_assert_msg(srv != NULL, "status_server_new: %s", err);
}

static void
teardown(void)
{
	char p[192];

	status_server_free(srv);
	srv = NULL;
	ev_loop_destroy(loop);
	loop = NULL;
	/* Whatever a test left behind. */
	snprintf(p, sizeof(p), "%s/other.sock", tmpdir);
	unlink(p);
	snprintf(p, sizeof(p), "%s/plain", tmpdir);
	unlink(p);
	unlink(sockpath);
	rmdir(tmpdir);
	log_close();
}

static void
tc_read_cb(struct ev_loop *l, ev_io *w, int revents)
{
	struct tclient *tc = w->data;
	ssize_t r;

	(void)revents;
	if (tc->cap - tc->len < 65536) {
		tc->cap = tc->cap ? tc->cap * 2 : 131072;
		tc->buf = realloc(tc->buf, tc->cap);
		ck_assert_ptr_nonnull(tc->buf);
	}
	r = recv(tc->fd, tc->buf + tc->len, tc->cap - tc->len - 1, 0);
	if (r < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (r <= 0) {   /* EOF, or ECONNRESET after a close with unread input */
		tc->eof = 1;
		ev_io_stop(l, w);
		return;
	}
	for (ssize_t i = 0; i < r; i++)
		tc->lines += tc->buf[tc->len + (size_t)i] == '\n';
	tc->len += (size_t)r;
	tc->buf[tc->len] = '\0';
}

static struct tclient *
tc_open(const char *path)
{
	struct tclient *tc = calloc(1, sizeof(*tc));
	struct sockaddr_un sun;

	ck_assert_ptr_nonnull(tc);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	str_copy(sun.sun_path, path, sizeof(sun.sun_path));
	tc->fd = socket(AF_UNIX, SOCK_STREAM, 0);
	ck_assert_int_ge(tc->fd, 0);
	ck_assert_int_eq(connect(tc->fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	ck_assert_int_eq(fcntl(tc->fd, F_SETFL, fcntl(tc->fd, F_GETFL) | O_NONBLOCK), 0);
	ev_io_init(&tc->w, tc_read_cb, tc->fd, EV_READ);
	tc->w.data = tc;
	ev_io_start(loop, &tc->w);
	return tc;
}

static void
tc_close(struct tclient *tc)
{
	ev_io_stop(loop, &tc->w);
	close(tc->fd);
	free(tc->buf);
	free(tc);
}

static void
tc_send(struct tclient *tc, const char *data, size_t len)
{
	while (len > 0) {
		ssize_t r = send(tc->fd, data, len, MSG_NOSIGNAL);

		if (r < 0 && errno == EAGAIN) {
			ev_run(loop, EVRUN_NOWAIT);
			continue;
		}
		ck_assert_int_gt(r, 0);
		data += r;
		len -= (size_t)r;
	}
}

static void
tc_sends(struct tclient *tc, const char *s)
{
	tc_send(tc, s, strlen(s));
}

static size_t
tc_lines(const struct tclient *tc)
{
	return tc->lines;
}

static void
stop_cb(struct ev_loop *l, ev_timer *w, int revents)
{
	(void)l;
	(void)revents;
	*(int *)w->data = 1;
}

typedef int (*pred_fn)(const void *arg);

/* Run the loop until pred holds or ms pass; returns pred's last value.
 * With pred NULL, just runs for ms. */
static int
run_until(pred_fn pred, const void *arg, int ms)
{
	ev_timer t;
	int expired = 0;

	ev_timer_init(&t, stop_cb, ms / 1000.0, 0.);
	t.data = &expired;
	ev_timer_start(loop, &t);
	while (!expired && !(pred && pred(arg)))
		ev_run(loop, EVRUN_ONCE);
	ev_timer_stop(loop, &t);
	return pred ? pred(arg) : 1;
}

struct want_lines {
	const struct tclient *tc;
	size_t n;
};

static int
has_lines(const void *arg)
{
	const struct want_lines *w = arg;

	return tc_lines(w->tc) >= w->n;
}

static int
wait_lines(const struct tclient *tc, size_t n)
{
	struct want_lines w = { tc, n };

	return run_until(has_lines, &w, WAIT_MS);
}

static int
is_eof(const void *arg)
{
	return ((const struct tclient *)arg)->eof;
}

static int
wait_eof(const struct tclient *tc)
{
	return run_until(is_eof, tc, WAIT_MS);
}

static size_t want_count;

static int
count_is(const void *arg)
{
	(void)arg;
	return status_client_count(srv) == want_count;
}

static int
wait_count(size_t n)
{
	want_count = n;
	return run_until(count_is, NULL, WAIT_MS);
}

START_TEST(sock_mode)
{
	struct status_server *s2;
	struct stat st;
	char p[192], err[256];

	ck_assert_int_eq(stat(sockpath, &st), 0);
	ck_assert(S_ISSOCK(st.st_mode));
	ck_assert_uint_eq(st.st_mode & 0777, 0600);

	snprintf(p, sizeof(p), "%s/other.sock", tmpdir);
	s2 = status_server_new(loop, p, 0660, handler, NULL, err, sizeof(err));
	ck_assert_msg(s2 != NULL, "%s", err);
	ck_assert_int_eq(stat(p, &st), 0);
	ck_assert_uint_eq(st.st_mode & 0777, 0660);
	status_server_free(s2);
	/* The file goes with the server. */
	ck_assert_int_eq(access(p, F_OK), -1);
}
END_TEST

START_TEST(sock_request)
{
	struct tclient *tc = tc_open(sockpath);

	tc_sends(tc, "status\n");
	ck_assert(wait_lines(tc, 1));
	ck_assert_str_eq(tc->buf, "{\"ok\":true}\n");
	ck_assert_uint_eq(status_client_count(srv), 1);
	/* The connection stays open for more. */
	tc_sends(tc, "echo hi there\r\n");
	ck_assert(wait_lines(tc, 2));
	ck_assert_str_eq(tc->buf, "{\"ok\":true}\n{\"arg\":\"hi there\"}\n");
	ck_assert(!tc->eof);
	tc_close(tc);
	ck_assert(wait_count(0));
}
END_TEST

START_TEST(sock_two_in_one_write)
{
	struct tclient *tc = tc_open(sockpath);

	tc_sends(tc, "echo one\necho two\n");
	ck_assert(wait_lines(tc, 2));
	ck_assert_str_eq(tc->buf, "{\"arg\":\"one\"}\n{\"arg\":\"two\"}\n");
	tc_close(tc);
}
END_TEST

START_TEST(sock_split_writes)
{
	struct tclient *tc = tc_open(sockpath);

	tc_sends(tc, "sta");
	run_until(NULL, NULL, 50);
	ck_assert_uint_eq(tc->len, 0);
	tc_sends(tc, "tu");
	run_until(NULL, NULL, 20);
	tc_sends(tc, "s\necho a");
	ck_assert(wait_lines(tc, 1));
	run_until(NULL, NULL, 20);
	ck_assert_str_eq(tc->buf, "{\"ok\":true}\n");
	tc_sends(tc, "b\n");
	ck_assert(wait_lines(tc, 2));
	ck_assert_str_eq(tc->buf, "{\"ok\":true}\n{\"arg\":\"ab\"}\n");
	tc_close(tc);
}
END_TEST

START_TEST(sock_too_long)
{
	struct tclient *tc = tc_open(sockpath);
	char big[3000];

	memset(big, 'a', sizeof(big));
	tc_send(tc, big, sizeof(big));
	ck_assert(wait_eof(tc));
	ck_assert_str_eq(tc->buf, "{\"error\":\"request too long\"}\n");
	ck_assert(wait_count(0));
	tc_close(tc);
}
END_TEST

/* The longest line that fits: STATUS_REQ_MAX with its newline. It parses
 * as "request too long" (the arg is over 255) but the connection stays. */
START_TEST(sock_longest_line)
{
	struct tclient *tc = tc_open(sockpath);
	char line[STATUS_REQ_MAX];

	memcpy(line, "echo ", 5);
	memset(line + 5, 'x', sizeof(line) - 6);
	line[sizeof(line) - 1] = '\n';
	tc_send(tc, line, sizeof(line));
	tc_sends(tc, "status\n");
	ck_assert(wait_lines(tc, 2));
	ck_assert_str_eq(tc->buf, "{\"error\":\"request too long\"}\n{\"ok\":true}\n");
	ck_assert(!tc->eof);
	tc_close(tc);
}
END_TEST

START_TEST(sock_errors)
{
	struct tclient *tc = tc_open(sockpath);

	tc_sends(tc, "foo bar\nBAD\n\nquiet\nstatus\n");
	ck_assert(wait_lines(tc, 4));
	run_until(NULL, NULL, 20);
	ck_assert_str_eq(tc->buf,
			 "{\"error\":\"unknown command: foo\"}\n"
			 "{\"error\":\"bad character\"}\n"
			 "{\"error\":\"empty request\"}\n"
			 "{\"ok\":true}\n");
	ck_assert(!tc->eof);
	tc_close(tc);
}
END_TEST

/* A client that half-closes after its request still gets the answer, also
 * for a last line without its newline. */
START_TEST(sock_half_close)
{
	struct tclient *tc = tc_open(sockpath);

	tc_sends(tc, "status\necho last");
	ck_assert_int_eq(shutdown(tc->fd, SHUT_WR), 0);
	ck_assert(wait_eof(tc));
	ck_assert_str_eq(tc->buf, "{\"ok\":true}\n{\"arg\":\"last\"}\n");
	ck_assert(wait_count(0));
	tc_close(tc);
}
END_TEST

/* A command that closes after its answer: requests after it on the same
 * connection are ignored, the answer is flushed, then EOF. */
START_TEST(sock_close_after)
{
	struct tclient *tc = tc_open(sockpath);

	tc_sends(tc, "echo one\nlast 0\necho ignored\n");
	ck_assert(wait_eof(tc));
	ck_assert_str_eq(tc->buf, "{\"arg\":\"one\"}\n{\"last\":\"0\"}\n");
	ck_assert(wait_count(0));
	tc_close(tc);
	/* A new connection is not affected by the last one. */
	tc = tc_open(sockpath);
	tc_sends(tc, "last x\n");
	ck_assert(wait_eof(tc));
	ck_assert_str_eq(tc->buf, "{\"last\":\"x\"}\n");
	tc_close(tc);
}
END_TEST

START_TEST(sock_idle_timeout)
{
	struct tclient *tc, *busy;
	int64_t t0;

	status_server_set_idle_timeout(srv, 300);
	t0 = now_mono_ms();
	tc = tc_open(sockpath);
	busy = tc_open(sockpath);
	/* Activity resets the timer of the busy one. */
	for (int i = 0; i < 4; i++) {
		run_until(NULL, NULL, 150);
		tc_sends(busy, "status\n");
	}
	ck_assert(tc->eof);
	ck_assert(!busy->eof);
	ck_assert_int_ge(now_mono_ms() - t0, 280);
	ck_assert(wait_eof(busy));
	ck_assert_uint_eq(tc->len, 0);
	ck_assert_uint_eq(tc_lines(busy), 4);
	ck_assert(wait_count(0));
	tc_close(tc);
	tc_close(busy);
}
END_TEST

START_TEST(sock_max_clients)
{
	struct tclient *tc[STATUS_MAX_CLIENTS], *extra;

	/* One at a time: a blocking connect would wait on a full backlog. */
	for (int i = 0; i < STATUS_MAX_CLIENTS; i++) {
		tc[i] = tc_open(sockpath);
		ck_assert(wait_count((size_t)i + 1));
	}
	extra = tc_open(sockpath);
	ck_assert(wait_eof(extra));
	ck_assert_str_eq(extra->buf, "{\"error\":\"too many clients\"}\n");
	ck_assert_uint_eq(status_client_count(srv), STATUS_MAX_CLIENTS);
	/* The others still work. */
	tc_sends(tc[7], "status\n");
	ck_assert(wait_lines(tc[7], 1));
	tc_close(extra);
	/* A slot frees up. */
	tc_close(tc[0]);
	ck_assert(wait_count(STATUS_MAX_CLIENTS - 1));
	extra = tc_open(sockpath);
	tc_sends(extra, "status\n");
	ck_assert(wait_lines(extra, 1));
	ck_assert_str_eq(extra->buf, "{\"ok\":true}\n");
	tc_close(extra);
	for (int i = 1; i < STATUS_MAX_CLIENTS; i++)
		tc_close(tc[i]);
	ck_assert(wait_count(0));
}
END_TEST

START_TEST(sock_in_use)
{
	struct status_server *s2;
	struct tclient *tc;
	char err[256], want[256];

	s2 = status_server_new(loop, sockpath, 0600, handler, NULL, err, sizeof(err));
	ck_assert_ptr_null(s2);
	snprintf(want, sizeof(want), "status socket %s is in use by another process", sockpath);
	ck_assert_str_eq(err, want);
	/* The live server is untouched. */
	tc = tc_open(sockpath);
	tc_sends(tc, "status\n");
	ck_assert(wait_lines(tc, 1));
	tc_close(tc);
}
END_TEST

START_TEST(sock_stale)
{
	struct status_server *s2;
	struct sockaddr_un sun;
	struct tclient *tc;
	char p[192], err[256];
	int fd;

	/* A socket file whose owner is gone. */
	snprintf(p, sizeof(p), "%s/other.sock", tmpdir);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	str_copy(sun.sun_path, p, sizeof(sun.sun_path));
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	close(fd);
	ck_assert_int_eq(access(p, F_OK), 0);

	s2 = status_server_new(loop, p, 0600, handler, NULL, err, sizeof(err));
	ck_assert_msg(s2 != NULL, "%s", err);
	tc = tc_open(p);
	tc_sends(tc, "status\n");
	ck_assert(wait_lines(tc, 1));
	ck_assert_str_eq(tc->buf, "{\"ok\":true}\n");
	tc_close(tc);
	status_server_free(s2);
}
END_TEST

START_TEST(sock_not_a_socket)
{
	char p[192], err[256];
	FILE *f;

	snprintf(p, sizeof(p), "%s/plain", tmpdir);
	f = fopen(p, "w");
	ck_assert_ptr_nonnull(f);
	fclose(f);
	ck_assert_ptr_null(status_server_new(loop, p, 0600, handler, NULL, err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "is not a socket"));
	ck_assert_int_eq(access(p, F_OK), 0);
	/* A path too long for sun_path. */
	memset(p, 'x', sizeof(p) - 1);
	p[0] = '/';
	p[sizeof(p) - 1] = '\0';
	ck_assert_ptr_null(status_server_new(loop, p, 0600, handler, NULL, err, sizeof(err)));
}
END_TEST

START_TEST(sock_stream)
{
	struct tclient *sub, *plain;
	json_t *ev;

	status_server_set_idle_timeout(srv, 200);
	sub = tc_open(sockpath);
	plain = tc_open(sockpath);
	tc_sends(sub, "subscribe\n");
	tc_sends(plain, "status\n");
	ck_assert(wait_lines(plain, 1));
	ev = json_pack("{s:i}", "n", 1);
	status_broadcast(srv, ev);
	json_decref(ev);
	ck_assert(wait_lines(sub, 1));
	ck_assert_str_eq(sub->buf, "{\"n\":1}\n");
	/* Subscribers have no idle timeout; the other one is gone. */
	ck_assert(wait_eof(plain));
	run_until(NULL, NULL, 300);
	ck_assert(!sub->eof);
	ck_assert_uint_eq(status_client_count(srv), 1);
	/* A subscriber may still ask; a broadcast from a handler reaches it. */
	tc_sends(sub, "shout hello\n");
	ck_assert(wait_lines(sub, 3));
	ck_assert_str_eq(sub->buf, "{\"n\":1}\n{\"event\":\"hello\"}\n{\"ok\":true}\n");
	tc_sends(sub, "nope\n");
	ck_assert(wait_lines(sub, 4));
	ck_assert_ptr_nonnull(strstr(sub->buf, "{\"error\":\"unknown command: nope\"}\n"));
	tc_close(sub);
	ck_assert(wait_count(0));
	tc_close(plain);
}
END_TEST

/* A subscriber that stops reading is dropped past 1 MiB of backlog; the
 * loop never blocks on it. */
START_TEST(sock_slow_subscriber)
{
	struct tclient *sub, *other;
	char *s = malloc(65536);
	json_t *ev;
	int i;

	memset(s, 'e', 65535);
	s[65535] = '\0';
	ev = json_pack("{s:s}", "e", s);
	free(s);
	sub = tc_open(sockpath);
	other = tc_open(sockpath);
	tc_sends(sub, "subscribe\n");
	tc_sends(other, "subscribe\n");
	run_until(NULL, NULL, 50);
	ev_io_stop(loop, &sub->w);   /* sub stops reading */
	for (i = 0; i < 200 && status_client_count(srv) == 2; i++) {
		status_broadcast(srv, ev);
		run_until(NULL, NULL, 5);
	}
	json_decref(ev);
	ck_assert_uint_eq(status_client_count(srv), 1);
	ck_assert_int_lt(i, 200);
	/* The reading subscriber got every event. */
	ck_assert(wait_lines(other, (size_t)i));
	ck_assert(!other->eof);
	tc_close(sub);
	tc_close(other);
}
END_TEST

/* Many pipelined requests with big answers: read pauses, nothing dropped. */
START_TEST(sock_pipelined_big)
{
	struct tclient *tc = tc_open(sockpath);
	char req[50 * 4];

	for (int i = 0; i < 50; i++)
		memcpy(req + 4 * i, "big\n", 4);
	tc_send(tc, req, sizeof(req));
	ck_assert(wait_lines(tc, 50));
	ck_assert(!tc->eof);
	ck_assert_uint_eq(tc->len, 50 * (sizeof("{\"big\":\"\"}\n") - 1 + 99999));
	tc_close(tc);
}
END_TEST

START_TEST(sock_free_with_clients)
{
	struct tclient *a = tc_open(sockpath), *b = tc_open(sockpath);

	tc_sends(a, "subscribe\n");
	tc_sends(b, "sta");
	ck_assert(wait_count(2));
	status_server_free(srv);
	srv = NULL;
	ck_assert_int_eq(access(sockpath, F_OK), -1);
	ck_assert(wait_eof(a));
	ck_assert(wait_eof(b));
	tc_close(a);
	tc_close(b);
}
END_TEST

static Suite *
status_suite(void)
{
	Suite *s = suite_create("status");
	TCase *tc = tcase_create("parse");

	tcase_add_test(tc, parse_plain);
	tcase_add_test(tc, parse_trim);
	tcase_add_test(tc, parse_empty);
	tcase_add_test(tc, parse_bad_chars);
	tcase_add_test(tc, parse_lengths);
	tcase_add_test(tc, parse_small_err);
	tcase_add_test(tc, parse_count);
	suite_add_tcase(s, tc);

	tc = tcase_create("socket");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, sock_mode);
	tcase_add_test(tc, sock_request);
	tcase_add_test(tc, sock_two_in_one_write);
	tcase_add_test(tc, sock_split_writes);
	tcase_add_test(tc, sock_too_long);
	tcase_add_test(tc, sock_longest_line);
	tcase_add_test(tc, sock_errors);
	tcase_add_test(tc, sock_half_close);
	tcase_add_test(tc, sock_close_after);
	tcase_add_test(tc, sock_idle_timeout);
	tcase_add_test(tc, sock_max_clients);
	tcase_add_test(tc, sock_in_use);
	tcase_add_test(tc, sock_stale);
	tcase_add_test(tc, sock_not_a_socket);
	tcase_add_test(tc, sock_stream);
	tcase_add_test(tc, sock_slow_subscriber);
	tcase_add_test(tc, sock_pipelined_big);
	tcase_add_test(tc, sock_free_with_clients);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return unit_run(status_suite());
}
