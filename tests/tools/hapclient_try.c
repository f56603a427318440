/* Exercise the HAProxy runtime API client (agent/haproxy.c) against a real
 * haproxy started in a temp dir, and against a small fake runtime API (a
 * forked child) for the failures a real HAProxy rarely shows on demand.
 *
 *   hapclient_try [-v]          HAPROXY=/path/to/haproxy to pick the binary
 *
 * Prints "ok - NAME" / "not ok - NAME: why"; exit 0 all passed, 1 a
 * failure, 77 haproxy is not installed (the fake-server cases still run).
 * Everything lives in a mkdtemp() directory; children are killed by pid. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <ev.h>

#include "hapapi.h"
#include "haproxy.h"
#include "log.h"
#include "util.h"

static struct ev_loop *loop;
static char tmpdir[64];
static char hap_sock[128], hap_cfg[128];
static int hap_port;
static pid_t hap_pid = -1, fake_pid = -1;
static int failures, verbose;

/* ------------------------------------------------------------ reporting */

static int check_failed;

static void
fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
fail(const char *fmt, ...)
{
	va_list ap;

	if (check_failed++)
		return;   /* the first reason is enough */
	printf("    ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
}

#define CHECK(cond, ...) do { if (!(cond)) fail(__VA_ARGS__); } while (0)

static void
begin(void)
{
	check_failed = 0;
}

static void
end(const char *name)
{
	if (check_failed) {
		printf("not ok - %s\n", name);
		failures++;
	} else {
		printf("ok - %s\n", name);
	}
	fflush(stdout);
}

/* Count log lines (the link transitions must be logged once). */
static int n_link_down, n_link_up, n_connects;

static void
log_hook(enum log_level lvl, const char *msg, void *arg)
{
	(void)lvl;
	(void)arg;
	if (strstr(msg, "haproxy: link down"))
		n_link_down++;
	if (strstr(msg, "haproxy: link up"))
		n_link_up++;
	if (strstr(msg, "haproxy: connecting to"))
		n_connects++;
}

/* ------------------------------------------------------------ loop helpers */

static void
expire_cb(struct ev_loop *l, ev_timer *w, int revents)
{
	(void)l;
	(void)revents;
	*(int *)w->data = 1;
}

/* Run until *flag or ms pass. Returns *flag. */
static int
run_until(const int *flag, int ms)
{
	ev_timer t;
	int expired = 0;

	ev_timer_init(&t, expire_cb, ms / 1000.0, 0.);
	t.data = &expired;
	ev_timer_start(loop, &t);
	while (!expired && !(flag && *flag))
		ev_run(loop, EVRUN_ONCE);
	ev_timer_stop(loop, &t);
	return flag ? *flag : 1;
}

struct result {
	int called;
	int status;
	size_t n_cmds, n_replies;
	char err[256];
	char **replies;     /* copies */
	int order;          /* completion order */
};

static int completion_seq;

static void
result_clear(struct result *r)
{
	for (size_t i = 0; i < r->n_replies; i++)
		free(r->replies[i]);
	free(r->replies);
	memset(r, 0, sizeof(*r));
}

static void
batch_cb(void *arg, int status, const char *const *cmds, size_t n_cmds,
	 const struct hap_reply *replies, size_t n_replies, const char *err)
{
	struct result *r = arg;

	(void)cmds;
	r->called++;
	r->status = status;
	r->n_cmds = n_cmds;
	r->n_replies = n_replies;
	r->order = ++completion_seq;
	str_copy(r->err, err ? err : "", sizeof(r->err));
	r->replies = calloc(n_replies + 1, sizeof(char *));
	for (size_t i = 0; i < n_replies; i++)
		r->replies[i] = strndup(replies[i].text, replies[i].len);
}

/* Submit and wait for the callback. */
static int
run_batch(struct hap_client *hc, const char *const *cmds, size_t n, struct result *r, int ms)
{
	if (hap_submit(hc, cmds, n, batch_cb, r) < 0) {
		fail("hap_submit refused the batch");
		return -1;
	}
	if (!run_until(&r->called, ms)) {
		fail("no callback within %d ms", ms);
		return -1;
	}
	return 0;
}

/* ------------------------------------------------------------ processes */

static int
free_port(void)
{
	struct sockaddr_in sin;
	socklen_t sl = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd >= 0 && bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&sin, &sl) == 0)
		port = ntohs(sin.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

static const char *
find_haproxy(void)
{
	static char buf[512];
	const char *env = getenv("HAPROXY"), *path = getenv("PATH");

	if (env && *env)
		return access(env, X_OK) == 0 ? env : NULL;
	if (!path)
		path = "/usr/sbin:/usr/bin:/sbin:/bin";
	while (*path) {
		const char *c = strchr(path, ':');
		size_t l = c ? (size_t)(c - path) : strlen(path);

		snprintf(buf, sizeof(buf), "%.*s/haproxy", (int)l, path);
		if (l && access(buf, X_OK) == 0)
			return buf;
		path += l + (c ? 1 : 0);
	}
	/* Debian installs it in /usr/sbin, often not in a user's PATH. */
	if (access("/usr/sbin/haproxy", X_OK) == 0)
		return "/usr/sbin/haproxy";
	return NULL;
}

/* Wait until something accepts connections on the unix socket p (HAProxy
 * creates the file before it listens). */
static int
wait_for_listener(const char *p, int ms)
{
	int64_t end = now_mono_ms() + ms;
	struct timespec ts = { 0, 20 * 1000 * 1000 };
	struct sockaddr_un sun;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	str_copy(sun.sun_path, p, sizeof(sun.sun_path));
	while (now_mono_ms() < end) {
		int fd = socket(AF_UNIX, SOCK_STREAM, 0), rc;

		if (fd < 0)
			return -1;
		rc = connect(fd, (struct sockaddr *)&sun, sizeof(sun));
		close(fd);
		if (rc == 0)
			return 0;
		nanosleep(&ts, NULL);
	}
	return -1;
}

static void
write_haproxy_cfg(void)
{
	FILE *f = fopen(hap_cfg, "w");

	if (!f) {
		printf("%s: %s\n", hap_cfg, strerror(errno));
		exit(1);
	}
	fprintf(f,
		"global\n"
		"  stats socket %s mode 600 level admin\n"
		"  stats socket ipv4@127.0.0.1:%d level admin\n"
		"defaults\n"
		"  mode tcp\n"
		"  timeout connect 1s\n"
		"  timeout client 10s\n"
		"  timeout server 10s\n"
		"backend b\n", hap_sock, hap_port);
	for (int i = 1; i <= 10; i++)
		fprintf(f, "  server s%d 127.0.0.1:%d\n", i, 7000 + i);
	fclose(f);
}

static int
haproxy_start(const char *bin)
{
	unlink(hap_sock);
	hap_pid = fork();
	if (hap_pid < 0)
		return -1;
	if (hap_pid == 0) {
		int devnull = open("/dev/null", O_WRONLY);

		if (devnull >= 0) {
			dup2(devnull, 1);
			if (!verbose)
				dup2(devnull, 2);
		}
		execl(bin, "haproxy", "-db", "-f", hap_cfg, (char *)NULL);
		_exit(127);
	}
	if (wait_for_listener(hap_sock, 5000) < 0) {
		printf("haproxy does not listen on %s\n", hap_sock);
		return -1;
	}
	return 0;
}

static void
kill_child(pid_t *pid)
{
	if (*pid > 0) {
		kill(*pid, SIGKILL);
		waitpid(*pid, NULL, 0);
		*pid = -1;
	}
}

/* ------------------------------------------------------------ fake server */

enum fake_mode {
	FAKE_SECOND_CLOSES,  /* the first request line answered, at the next one the connection is closed */
	FAKE_SHORT,          /* one reply whatever was asked */
	FAKE_SILENT,         /* never answers */
	FAKE_HUGE,           /* 17 MiB of answer */
	FAKE_GARBLED,        /* one reply too many */
};

/* One request line: its commands counted in *ncmds; *word is "prompt",
 * "quit" or "" (anything else). */
static int
read_request(int fd, size_t *ncmds, char *word, size_t wlen)
{
	char c;
	size_t n = 1, len = 0;

	for (;;) {
		ssize_t r = read(fd, &c, 1);

		if (r <= 0)
			return -1;
		if (c == '\n')
			break;
		n += c == ';';
		if (len + 1 < wlen)
			word[len++] = c;
	}
	word[len] = '\0';
	if (strcmp(word, "prompt") != 0 && strcmp(word, "quit") != 0)
		word[0] = '\0';
	*ncmds = n;
	return 0;
}

static void
write_all(int fd, const char *p, size_t len)
{
	while (len > 0) {
		ssize_t r = write(fd, p, len);

		if (r <= 0)
			return;
		p += r;
		len -= (size_t)r;
	}
}

/* Like HAProxy's socket: one request line answered, then closed; or, after
 * "prompt", line after line with a prompt after each answer until "quit". */
static void
fake_child(int lfd, enum fake_mode mode)
{
	int lines = 0;   /* request lines seen, every connection */

	signal(SIGPIPE, SIG_IGN);
	for (;;) {
		int fd = accept(lfd, NULL, NULL);
		int prompt = 0;
		size_t n;
		char word[16];

		if (fd < 0)
			_exit(1);
		while (read_request(fd, &n, word, sizeof(word)) == 0) {
			const char *end = prompt ? "\n> " : "\n";

			if (strcmp(word, "quit") == 0)
				break;
			if (strcmp(word, "prompt") == 0) {
				prompt = 1;
				write_all(fd, "\n> ", 3);
				continue;
			}
			lines++;
			switch (mode) {
			case FAKE_SECOND_CLOSES:
				if (lines > 1) {
					/* The end of the answer, then whatever
					 * else is sent read away (a close with
					 * unread input would be a reset). */
					char sink[4096];

					shutdown(fd, SHUT_WR);
					while (read(fd, sink, sizeof(sink)) > 0)
						;
					goto done;
				}
				for (size_t i = 0; i < n; i++)
					write_all(fd, end, strlen(end));
				break;
			case FAKE_SHORT:
				write_all(fd, "ok\n\n", 4);
				goto done;
			case FAKE_SILENT:
				pause();
				break;
			case FAKE_HUGE: {
				static char blk[65536];
				memset(blk, 'x', sizeof(blk));
				for (int i = 0; i < 17 * 16; i++)
					write_all(fd, blk, sizeof(blk));
				goto done;
			}
			case FAKE_GARBLED:
				for (size_t i = 0; i <= n; i++)
					write_all(fd, "\n", 1);
				goto done;
			}
			if (!prompt)
				break;
		}
done:
		close(fd);
	}
}

static void
fake_start(const char *path, enum fake_mode mode)
{
	struct sockaddr_un sun;
	int lfd;

	unlink(path);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	str_copy(sun.sun_path, path, sizeof(sun.sun_path));
	lfd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sun, sizeof(sun)) < 0 || listen(lfd, 16) < 0) {
		printf("fake server: %s\n", strerror(errno));
		exit(1);
	}
	fake_pid = fork();
	if (fake_pid == 0)
		fake_child(lfd, mode);
	close(lfd);
}

static void
fake_stop(const char *path)
{
	kill_child(&fake_pid);
	unlink(path);
}

/* ------------------------------------------------------------ cases */

static struct hap_client *
client(const char *addr, int timeout_ms)
{
	char err[256];
	struct hap_client *hc = hap_client_new(loop, addr, timeout_ms, err, sizeof(err));

	if (!hc) {
		printf("hap_client_new(%s): %s\n", addr, err);
		exit(1);
	}
	return hc;
}

/* The admin state of b/NAME from a "show servers state b" reply; -1 if absent. */
static long
admin_state(const char *reply, const char *name)
{
	struct hap_state st = { 0 };
	char err[128];
	long v = -1;

	if (hap_state_parse(reply, strlen(reply), &st, err, sizeof(err)) < 0)
		return -1;
	for (size_t i = 0; i < st.n; i++)
		if (strcmp(st.srv[i].backend, "b") == 0 && strcmp(st.srv[i].name, name) == 0)
			v = (long)st.srv[i].admin_state;
	hap_state_free(&st);
	return v;
}

static void
case_three_commands(void)
{
	static const char *const cmds[] = {
		"show info", "set server b/s1 state maint", "show servers state b",
	};
	struct hap_client *hc = client(hap_sock, 2000);
	struct result r = { 0 };
	char want[64];

	begin();
	n_link_up = 0;
	if (run_batch(hc, cmds, 3, &r, 5000) == 0) {
		CHECK(r.status == 0, "status %d: %s", r.status, r.err);
		CHECK(r.n_replies == 3, "%zu replies", r.n_replies);
		if (r.n_replies == 3) {
			snprintf(want, sizeof(want), "Pid: %d\n", (int)hap_pid);
			CHECK(strstr(r.replies[0], want) != NULL, "show info without '%s'", want);
			CHECK(r.replies[1][0] == '\0', "set server answered '%s'", r.replies[1]);
			CHECK(hap_reply_ok(cmds[1], r.replies[1], strlen(r.replies[1])),
			      "hap_reply_ok says no");
			CHECK(admin_state(r.replies[2], "s1") == HAP_ADMF_FMAINT,
			      "s1 admin state %ld", admin_state(r.replies[2], "s1"));
		}
		CHECK(hap_client_stats(hc)->state == HAP_LINK_UP, "link %s",
		      hap_link_state_name(hap_client_stats(hc)->state));
		CHECK(hap_client_stats(hc)->commands_sent == 3, "commands_sent %llu",
		      (unsigned long long)hap_client_stats(hc)->commands_sent);
		CHECK(hap_client_stats(hc)->batches_ok == 1, "batches_ok");
		CHECK(hap_client_stats(hc)->last_ok_ms > 0, "last_ok_ms");
		CHECK(n_link_up == 1, "link up logged %d times", n_link_up);
	}
	result_clear(&r);
	hap_client_free(hc);
	end("batch of 3 commands over the unix socket");
}

static void
case_tcp(void)
{
	static const char *const cmds[] = { "show info" };
	struct hap_client *hc;
	struct result r = { 0 };
	char addr[64];

	begin();
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", hap_port);
	hc = client(addr, 2000);
	if (run_batch(hc, cmds, 1, &r, 5000) == 0) {
		CHECK(r.status == 0, "status %d: %s", r.status, r.err);
		CHECK(r.n_replies == 1 && strstr(r.replies[0], "Name: HAProxy"), "bad reply");
	}
	result_clear(&r);
	hap_client_free(hc);
	end("show info over TCP (ipv4@)");
}

#define BIG_N 2000
/* Over two connections' worth of request lines. */
#define HUGE_N 6000

static void
case_big_batch(void)
{
	static char cmdbuf[HUGE_N][48];
	static const char *cmds[HUGE_N];
	static const char *const check[] = { "show servers state b" };
	struct hap_client *hc = client(hap_sock, 5000);
	struct result r = { 0 }, r2 = { 0 };
	size_t bytes = 0;
	int ok_all = 1;

	begin();
	/* Ends with every server ready: the last 10 commands say so. */
	for (int i = 0; i < HUGE_N; i++) {
		snprintf(cmdbuf[i], sizeof(cmdbuf[i]), "set server b/s%d state %s", i % 10 + 1,
			 i / 10 % 2 ? "ready" : "maint");
		cmds[i] = cmdbuf[i];
		bytes += strlen(cmdbuf[i]) + 1;
	}
	n_connects = 0;
	if (run_batch(hc, cmds, HUGE_N, &r, 20000) == 0) {
		CHECK(r.status == 0, "status %d: %s", r.status, r.err);
		CHECK(r.n_replies == HUGE_N, "%zu replies", r.n_replies);
		for (size_t i = 0; i < r.n_replies; i++)
			ok_all &= r.replies[i][0] == '\0';
		CHECK(ok_all, "a set server reply was not empty");
		/* request lines of 8 KiB at most, HAP_CONN_LINES a connection */
		CHECK(n_connects >= (int)(bytes / (HAP_CONN_LINES * 8192)) + 1 && n_connects <= (int)(bytes / 4096),
		      "%d connections for %zu bytes", n_connects, bytes);
		CHECK(hap_client_stats(hc)->commands_sent == HUGE_N, "commands_sent");
	}
	if (run_batch(hc, check, 1, &r2, 5000) == 0 && r2.n_replies == 1)
		for (int i = 1; i <= 10; i++) {
			char name[8];
			snprintf(name, sizeof(name), "s%d", i);
			CHECK(admin_state(r2.replies[0], name) == 0, "%s not ready", name);
		}
	result_clear(&r);
	result_clear(&r2);
	hap_client_free(hc);
	end("6000 commands split over several interactive connections, in order");
}

static void
case_fifo_and_cancel(void)
{
	static const char *const a[] = { "show info" };
	static const char *const b[] = { "set server b/s2 state ready" };
	struct hap_client *hc = client(hap_sock, 2000);
	struct result ra = { 0 }, rb = { 0 }, rc = { 0 };

	begin();
	completion_seq = 0;
	CHECK(hap_submit(hc, a, 1, batch_cb, &ra) == 0, "submit a");
	CHECK(hap_submit(hc, b, 1, batch_cb, &rb) == 0, "submit b");
	CHECK(hap_submit(hc, a, 1, batch_cb, &rc) == 0, "submit c");
	CHECK(hap_queue_len(hc) == 3, "queue %zu", hap_queue_len(hc));
	run_until(&rc.called, 5000);
	CHECK(ra.order == 1 && rb.order == 2 && rc.order == 3, "order %d %d %d",
	      ra.order, rb.order, rc.order);
	CHECK(ra.status == 0 && rb.status == 0 && rc.status == 0, "a batch failed");
	result_clear(&ra);
	result_clear(&rb);
	result_clear(&rc);

	/* One in flight, two queued: cancel drops the queued ones only. */
	CHECK(hap_submit(hc, a, 1, batch_cb, &ra) == 0, "submit a");
	ev_run(loop, EVRUN_NOWAIT);
	CHECK(hap_busy(hc), "first batch not in flight");
	CHECK(hap_submit(hc, b, 1, batch_cb, &rb) == 0, "submit b");
	CHECK(hap_submit(hc, b, 1, batch_cb, &rc) == 0, "submit c");
	hap_cancel_pending(hc);
	CHECK(rb.called == 1 && rb.status == -1 && strcmp(rb.err, "cancelled") == 0,
	      "b not cancelled");
	CHECK(rc.called == 1 && strcmp(rc.err, "cancelled") == 0, "c not cancelled");
	CHECK(hap_queue_len(hc) == 0, "queue not empty");
	run_until(&ra.called, 5000);
	CHECK(ra.status == 0, "in-flight batch failed: %s", ra.err);
	CHECK(hap_client_stats(hc)->state == HAP_LINK_UP, "link not up after cancel");
	result_clear(&ra);
	result_clear(&rb);
	result_clear(&rc);
	hap_client_free(hc);
	end("FIFO order, hap_cancel_pending() keeps the batch in flight");
}

static void
case_bad_input(void)
{
	static const char *const semi[] = { "show info;show stat" };
	static const char *const nl[] = { "show info\n" };
	static const char *const empty[] = { "" };
	static const char *const bs[] = { "show info\\" };
	static char longcmd[9000];
	const char *const lng[] = { longcmd };
	struct hap_client *hc = client(hap_sock, 1000);
	char err[256];

	begin();
	memset(longcmd, 'a', sizeof(longcmd) - 1);
	CHECK(hap_submit(hc, semi, 1, NULL, NULL) == -1, "';' accepted");
	CHECK(hap_submit(hc, nl, 1, NULL, NULL) == -1, "newline accepted");
	CHECK(hap_submit(hc, empty, 1, NULL, NULL) == -1, "empty accepted");
	CHECK(hap_submit(hc, bs, 1, NULL, NULL) == -1, "backslash accepted");
	CHECK(hap_submit(hc, lng, 1, NULL, NULL) == -1, "9000-byte command accepted");
	CHECK(hap_submit(hc, semi, 0, NULL, NULL) == -1, "empty batch accepted");
	CHECK(hap_client_new(loop, "localhost:9999", 1000, err, sizeof(err)) == NULL,
	      "host name accepted");
	CHECK(hap_client_new(loop, "127.0.0.1:0", 1000, err, sizeof(err)) == NULL, "port 0");
	CHECK(hap_client_new(loop, "/x", 0, err, sizeof(err)) == NULL, "timeout 0");
	hap_client_free(client("[::1]:9999", 1000));
	hap_client_free(client("./relative.sock", 1000));
	hap_client_free(hc);
	end("bad commands and addresses refused");
}

static void
case_socket_missing(void)
{
	static const char *const cmds[] = { "show info", "show info" };
	struct hap_client *hc;
	struct result r = { 0 }, r2 = { 0 };
	char p[192];

	begin();
	snprintf(p, sizeof(p), "%s/missing.sock", tmpdir);
	hc = client(p, 1000);
	n_link_down = 0;
	if (run_batch(hc, cmds, 2, &r, 3000) == 0) {
		CHECK(r.status == -1, "status %d", r.status);
		CHECK(r.n_replies == 0, "%zu replies", r.n_replies);
		CHECK(strstr(r.err, "No such file or directory") != NULL, "err '%s'", r.err);
		CHECK(hap_client_stats(hc)->state == HAP_LINK_DOWN, "link not down");
		CHECK(hap_client_stats(hc)->batches_failed == 1, "batches_failed");
		CHECK(strcmp(hap_client_stats(hc)->last_error, r.err) == 0, "last_error");
	}
	if (run_batch(hc, cmds, 2, &r2, 3000) == 0)
		CHECK(r2.status == -1, "second status %d", r2.status);
	CHECK(n_link_down == 1, "link down logged %d times", n_link_down);
	result_clear(&r);
	result_clear(&r2);
	hap_client_free(hc);
	end("socket missing: status -1, link down logged once");
}

static void
case_haproxy_stopped(const char *bin)
{
	static const char *const cmds[] = { "show info" };
	struct hap_client *hc = client(hap_sock, 1000);
	struct result r = { 0 };

	begin();
	n_link_down = n_link_up = 0;
	if (run_batch(hc, cmds, 1, &r, 3000) == 0)
		CHECK(r.status == 0, "before: %s", r.err);
	result_clear(&r);
	kill_child(&hap_pid);
	if (run_batch(hc, cmds, 1, &r, 3000) == 0) {
		CHECK(r.status == -1, "status %d after haproxy stopped", r.status);
		CHECK(strstr(r.err, "connect to") != NULL, "err '%s'", r.err);
	}
	result_clear(&r);
	CHECK(hap_client_stats(hc)->state == HAP_LINK_DOWN, "link not down");
	CHECK(haproxy_start(bin) == 0, "restart failed");
	if (run_batch(hc, cmds, 1, &r, 3000) == 0)
		CHECK(r.status == 0, "after restart: %s", r.err);
	result_clear(&r);
	CHECK(n_link_down == 1 && n_link_up == 2, "transitions logged: down %d up %d",
	      n_link_down, n_link_up);
	hap_client_free(hc);
	end("haproxy stopped then restarted: link down, then up");
}

static void
case_fake_mid_batch(void)
{
	static char cmdbuf[BIG_N][48];
	const char *cmds[BIG_N];
	struct hap_client *hc;
	struct result r = { 0 };
	char p[192], want[64];

	begin();
	snprintf(p, sizeof(p), "%s/fake.sock", tmpdir);
	fake_start(p, FAKE_SECOND_CLOSES);
	for (int i = 0; i < BIG_N; i++) {
		snprintf(cmdbuf[i], sizeof(cmdbuf[i]), "set server b/s%d state ready", i % 10 + 1);
		cmds[i] = cmdbuf[i];
	}
	hc = client(p, 2000);
	if (run_batch(hc, cmds, BIG_N, &r, 5000) == 0) {
		CHECK(r.status == -1, "status %d", r.status);
		CHECK(r.n_replies > 0 && r.n_replies < BIG_N, "%zu replies", r.n_replies);
		snprintf(want, sizeof(want), "short answer: %zu of %d replies", r.n_replies, BIG_N);
		CHECK(strcmp(r.err, want) == 0, "err '%s'", r.err);
	}
	result_clear(&r);
	hap_client_free(hc);
	fake_stop(p);
	end("a connection closed after its first line: status -1 with the replies so far");
}

static void
case_fake(enum fake_mode mode, const char *name, const char *want_err, int timeout_ms)
{
	static const char *const cmds[] = { "show info", "show stat", "show sess" };
	struct hap_client *hc;
	struct result r = { 0 };
	char p[192];

	begin();
	snprintf(p, sizeof(p), "%s/fake.sock", tmpdir);
	fake_start(p, mode);
	hc = client(p, timeout_ms);
	if (run_batch(hc, cmds, 3, &r, timeout_ms + 5000) == 0) {
		CHECK(r.status == -1, "status %d", r.status);
		CHECK(strstr(r.err, want_err) != NULL, "err '%s', want '%s'", r.err, want_err);
		CHECK(hap_client_stats(hc)->state == HAP_LINK_DOWN, "link not down");
	}
	result_clear(&r);
	hap_client_free(hc);
	fake_stop(p);
	end(name);
}

/* Freeing the client from its own callback, and with a batch in flight. */
static int free_in_cb_calls;

static void
free_cb(void *arg, int status, const char *const *cmds, size_t n_cmds,
	const struct hap_reply *replies, size_t n_replies, const char *err)
{
	(void)status;
	(void)cmds;
	(void)n_cmds;
	(void)replies;
	(void)n_replies;
	(void)err;
	free_in_cb_calls++;
	hap_client_free(arg);
}

static void
case_free(void)
{
	static const char *const cmds[] = { "show info" };
	struct hap_client *hc;
	struct result r = { 0 };

	begin();
	hc = client(hap_sock, 2000);
	CHECK(hap_submit(hc, cmds, 1, free_cb, hc) == 0, "submit");
	CHECK(hap_submit(hc, cmds, 1, batch_cb, &r) == 0, "submit 2");
	run_until(NULL, 300);
	CHECK(free_in_cb_calls == 1, "callback ran %d times", free_in_cb_calls);
	CHECK(r.called == 0, "queued batch called back after free");

	hc = client(hap_sock, 2000);
	CHECK(hap_submit(hc, cmds, 1, batch_cb, &r) == 0, "submit 3");
	ev_run(loop, EVRUN_NOWAIT);
	CHECK(hap_busy(hc), "not in flight");
	hap_client_free(hc);
	run_until(NULL, 200);
	CHECK(r.called == 0, "in-flight batch called back after free");
	end("hap_client_free() from a callback and with a batch in flight");
}

int
main(int argc, char **argv)
{
	const char *bin = find_haproxy();
	char fake_err_timeout[64];

	if (argc > 1 && strcmp(argv[1], "-v") == 0)
		verbose = 1;
	signal(SIGPIPE, SIG_IGN);
	/* Debug logs always (the hook counts connections and link
	 * transitions); on stderr only with -v. Results go to stdout. */
	if (!verbose && !freopen("/dev/null", "w", stderr))
		return 1;
	log_open("hapclient_try", 0, LOG_LVL_DEBUG);
	log_set_hook(log_hook, NULL);
	str_copy(tmpdir, "/tmp/hapclient_try.XXXXXX", sizeof(tmpdir));
	if (!mkdtemp(tmpdir)) {
		printf("mkdtemp: %s\n", strerror(errno));
		return 1;
	}
	loop = ev_default_loop(0);

	case_fake_mid_batch();
	case_fake(FAKE_SHORT, "fewer replies than commands: short answer", "short answer: 1 of 3 replies",
		  2000);
	snprintf(fake_err_timeout, sizeof(fake_err_timeout), "timeout after 300 ms reading from");
	case_fake(FAKE_SILENT, "no answer: timeout", fake_err_timeout, 300);
	case_fake(FAKE_HUGE, "answer over 16 MiB: answer too large", "answer too large", 10000);
	case_fake(FAKE_GARBLED, "more replies than commands: refused", "unexpected answer", 2000);

	if (!bin) {
		printf("skip - haproxy not found (set HAPROXY=/path/to/haproxy)\n");
	} else {
		snprintf(hap_sock, sizeof(hap_sock), "%s/admin.sock", tmpdir);
		snprintf(hap_cfg, sizeof(hap_cfg), "%s/haproxy.cfg", tmpdir);
		hap_port = free_port();
		write_haproxy_cfg();
		if (haproxy_start(bin) < 0) {
			kill_child(&hap_pid);
			failures++;
		} else {
			case_three_commands();
			case_tcp();
			case_big_batch();
			case_fifo_and_cancel();
			case_bad_input();
			case_free();
			case_socket_missing();
			case_haproxy_stopped(bin);
		}
		kill_child(&hap_pid);
		unlink(hap_sock);
		unlink(hap_cfg);
	}
	kill_child(&fake_pid);
	rmdir(tmpdir);
	ev_loop_destroy(loop);
	log_close();
	printf("%s\n", failures ? "FAILED" : "PASSED");
	if (failures)
		return 1;
	return bin ? 0 : 77;
}
