/* ROLE asked on the fence's idle watch of a master (fence_ask_role), with a
 * listening socket of the test's own on 127.0.0.1 as the master: the
 * answer reaches the asker and never ends the watch; AUTH's answer is
 * skipped; a timeout gives NULL and the late answer is dropped; a close
 * gives NULL and the watch comes back; a cancelled ask calls nobody.
 * Asked while a new master's watch is still connecting, the question goes
 * out once it is up, or NULL comes when it is refused. */
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <ev.h>
#include <hiredis/hiredis.h>

#include "config.h"
#include "fence.h"
#include "topo.h"
#include "util.h"
#include "unit_net.h"
#include "unit_main.h"

#define ROLE_MASTER_REPLY "*3\r\n$6\r\nmaster\r\n:0\r\n*0\r\n"

static struct ev_loop *loop;
static struct config cfg;
static struct topo t;
static struct fence *f;
static struct group *g;
static int lfd = -1, sfd = -1;   /* listening socket, the watch's server side */
static int calls;
static int got_null;
static char got_role[32];

static void
on_changed(void *arg, struct group *gr)
{
	(void)arg;
	(void)gr;
}

static void
on_role(void *arg, const struct redisReply *r)
{
	ck_assert_ptr_eq(arg, &calls);
	calls++;
	got_null = r == NULL;
	got_role[0] = '\0';
	if (r && r->type == REDIS_REPLY_ARRAY && r->elements >= 1 && r->element[0]->type == REDIS_REPLY_STRING)
		snprintf(got_role, sizeof(got_role), "%s", r->element[0]->str);
	else if (r && r->type == REDIS_REPLY_STATUS)
		snprintf(got_role, sizeof(got_role), "status %s", r->str);
}

static unsigned
watching(void)
{
	unsigned w;
	unsigned long long d;

	fence_counts(f, &w, &d);
	ck_assert_uint_eq(d, 0);
	return w;
}

/* Run the loop until cond (evaluated once per round) or 3 s. */
#define RUN_UNTIL(cond) UNIT_RUN_UNTIL(loop, cond, 3000)

/* The agent's watch connects: accept it. */
static void
accept_watch(void)
{
	int64_t end = now_mono_ms() + 3000;

	sfd = -1;
	while (sfd < 0 && now_mono_ms() < end) {
		ev_run(loop, EVRUN_NOWAIT);
		sfd = accept(lfd, NULL, NULL);
		if (sfd < 0)
			(void)poll(NULL, 0, 2);
	}
	ck_assert_int_ge(sfd, 0);
	RUN_UNTIL(watching() == 1);
}

/* Read from the server side until want has come (3 s at most). */
static void
server_expect(const char *want)
{
	char buf[1024];
	size_t have = 0;
	int64_t end = now_mono_ms() + 3000;

	buf[0] = '\0';
	while (!strstr(buf, want) && now_mono_ms() < end) {
		struct pollfd p = { .fd = sfd, .events = POLLIN };
		ssize_t n;

		ev_run(loop, EVRUN_NOWAIT);
		if (poll(&p, 1, 5) <= 0)
			continue;
		n = read(sfd, buf + have, sizeof(buf) - 1 - have);
		ck_assert_int_gt(n, 0);
		have += (size_t)n;
		buf[have] = '\0';
	}
	ck_assert_msg(strstr(buf, want) != NULL, "the server got \"%s\", not \"%s\"", buf, want);
}

static void
server_send(const char *s)
{
	ck_assert_int_eq(write(sfd, s, strlen(s)), (ssize_t)strlen(s));
}

/* ROLE asked on the watch (connected, or once it is), answered master: the
 * asker hears it as its n-th answer. */
static void
ask_answered_master(int n)
{
	void *h = NULL;

	ck_assert_int_eq(fence_ask_role(g, on_role, &calls, &h), 0);
	server_expect("ROLE\r\n");
	server_send(ROLE_MASTER_REPLY);
	RUN_UNTIL(calls == n);
	ck_assert(!got_null);
	ck_assert_str_eq(got_role, "master");
}

static void
setup(void)
{
	int port;

	loop = ev_loop_new(EVFLAG_AUTO);
	ck_assert_ptr_nonnull(loop);
	config_init(&cfg);
	cfg.fence_on_reset = 1;
	cfg.command_timeout_ms = 200;
	lfd = unit_listen_tcp(&port);
	topo_init(&t, 3, 3000);
	g = topo_get(&t, "m");
	ck_assert_ptr_nonnull(g);
	strcpy(g->master_ip, "127.0.0.1");
	strcpy(g->master_addr, "127.0.0.1");
	g->master_port = port;
	f = fence_new(loop, &cfg, &t, on_changed, NULL);
	ck_assert_ptr_nonnull(f);
	fence_track(f, g);
	calls = 0;
	accept_watch();
}

static void
teardown(void)
{
	fence_free(f);
	topo_free(&t);
	cfg.redis_user = NULL;
	cfg.redis_password = NULL;
	config_free(&cfg);
	if (sfd >= 0)
		close(sfd);
	close(lfd);
	ev_loop_destroy(loop);
}

START_TEST(answer_on_the_watch)
{
	void *h = NULL;

	ck_assert_int_eq(fence_ask_role(g, on_role, &calls, &h), 0);
	ck_assert_int_eq(calls, 0);   /* never from inside the call */
	/* One question at a time. */
	ck_assert_int_eq(fence_ask_role(g, on_role, &calls, &h), -1);
	server_expect("ROLE\r\n");
	server_send(ROLE_MASTER_REPLY);
	RUN_UNTIL(calls == 1);
	ck_assert(!got_null);
	ck_assert_str_eq(got_role, "master");
	ck_assert_uint_eq(watching(), 1);
	/* Asked again on the same connection, the answer in pieces. */
	ck_assert_int_eq(fence_ask_role(g, on_role, &calls, &h), 0);
	server_expect("ROLE\r\n");
	server_send("*3\r\n$5\r\nsl");
	ev_run(loop, EVRUN_NOWAIT);
	server_send("ave\r\n:0\r\n*0\r\n");
	RUN_UNTIL(calls == 2);
	ck_assert_str_eq(got_role, "slave");
	ck_assert_uint_eq(watching(), 1);
}
END_TEST

START_TEST(auth_answer_is_skipped)
{
	void *h = NULL;

	cfg.redis_user = (char *)"agent";
	cfg.redis_password = (char *)"s3cret";
	ck_assert_int_eq(fence_ask_role(g, on_role, &calls, &h), 0);
	server_expect("$5\r\nagent\r\n$6\r\ns3cret\r\nROLE\r\n");
	server_send("+OK\r\n");
	ev_run(loop, EVRUN_NOWAIT);
	ck_assert_int_eq(calls, 0);
	server_send(ROLE_MASTER_REPLY);
	RUN_UNTIL(calls == 1);
	ck_assert_str_eq(got_role, "master");
}
END_TEST

START_TEST(timeout_keeps_the_watch)
{
	void *h = NULL;

	ck_assert_int_eq(fence_ask_role(g, on_role, &calls, &h), 0);
	server_expect("ROLE\r\n");
	RUN_UNTIL(calls == 1);
	ck_assert(got_null);
	ck_assert_uint_eq(watching(), 1);
	/* The answer is still owed: no question until it has come. */
	ck_assert_int_eq(fence_ask_role(g, on_role, &calls, &h), -1);
	server_send(ROLE_MASTER_REPLY);
	RUN_UNTIL(fence_ask_role(g, on_role, &calls, &h) == 0);
	ck_assert_int_eq(calls, 1);   /* the late answer went to nobody */
	server_expect("ROLE\r\n");
	server_send(ROLE_MASTER_REPLY);
	RUN_UNTIL(calls == 2);
	ck_assert_str_eq(got_role, "master");
}
END_TEST

START_TEST(close_is_still_the_signal)
{
	void *h = NULL;

	ck_assert_int_eq(fence_ask_role(g, on_role, &calls, &h), 0);
	server_expect("ROLE\r\n");
	close(sfd);
	sfd = -1;
	RUN_UNTIL(calls == 1);
	ck_assert(got_null);
	/* A fresh connection, accepted: watched again, no death. */
	accept_watch();
	ask_answered_master(2);
}
END_TEST

START_TEST(cancel_calls_nobody)
{
	void *h = NULL;

	ck_assert_int_eq(fence_ask_role(g, on_role, &calls, &h), 0);
	fence_ask_cancel(h, &calls);
	server_expect("ROLE\r\n");
	server_send(ROLE_MASTER_REPLY);
	RUN_UNTIL(fence_ask_role(g, on_role, &calls, &h) == 0);
	ck_assert_int_eq(calls, 0);
	/* A master that moved: not its watch. */
	fence_ask_cancel(h, &calls);
	g->master_port++;
	ck_assert_int_eq(fence_ask_role(g, on_role, &calls, &h), -1);
	g->master_port--;
}
END_TEST

/* The master moves to a fresh listener of the test's (the old one's
 * server side and listener in *old_sfd, *old_lfd): the fence tracks it. */
static void
new_master(int *old_sfd, int *old_lfd)
{
	int port;

	*old_sfd = sfd;
	*old_lfd = lfd;
	sfd = -1;
	lfd = unit_listen_tcp(&port);
	g->master_port = port;
	fence_track(f, g);
}

/* A new master: its watch is opened, and ROLE asked before it is up rides
 * on it (one connection a switch); the old master's watch ends with a
 * reset, not a closing handshake. */
START_TEST(asked_before_connected)
{
	void *h = NULL;
	int old_sfd, old_lfd;
	char c;

	new_master(&old_sfd, &old_lfd);
	ck_assert_int_eq(fence_ask_role(g, on_role, &calls, &h), 0);
	ck_assert_int_eq(calls, 0);
	/* One question at a time, connected or not. */
	ck_assert_int_eq(fence_ask_role(g, on_role, &calls, &h), -1);
	accept_watch();
	server_expect("ROLE\r\n");
	server_send(ROLE_MASTER_REPLY);
	RUN_UNTIL(calls == 1);
	ck_assert_str_eq(got_role, "master");
	ck_assert_uint_eq(watching(), 1);
	errno = 0;
	ck_assert_int_eq(read(old_sfd, &c, 1), -1);
	ck_assert_int_eq(errno, ECONNRESET);
	close(old_sfd);
	close(old_lfd);
}
END_TEST

/* Asked before the connection is up, and the connection is refused: NULL,
 * so the asker tries on its own; a watch that was refused is not asked
 * again while it waits out its backoff. */
START_TEST(asked_before_refused)
{
	void *h = NULL;
	int port, fd = unit_listen_tcp(&port);

	close(fd);   /* nothing listens there now */
	g->master_port = port;
	fence_track(f, g);
	ck_assert_int_eq(fence_ask_role(g, on_role, &calls, &h), 0);
	RUN_UNTIL(calls == 1);
	ck_assert(got_null);
	ck_assert_int_eq(fence_ask_role(g, on_role, &calls, &h), -1);
}
END_TEST

/* Cancelled before the connection is up: nothing is sent, nobody called. */
START_TEST(cancel_before_connected)
{
	void *h = NULL;
	int old_sfd, old_lfd;

	new_master(&old_sfd, &old_lfd);
	ck_assert_int_eq(fence_ask_role(g, on_role, &calls, &h), 0);
	fence_ask_cancel(h, &calls);
	accept_watch();
	/* The watch is free for the next question, which is the first sent. */
	ask_answered_master(1);
	close(old_sfd);
	close(old_lfd);
}
END_TEST

static int due_rc = 99;

static void
ask_cb(struct ev_loop *l, ev_timer *tm, int revents)
{
	void *h = NULL;

	(void)l;
	(void)tm;
	(void)revents;
	due_rc = fence_ask_role(g, on_role, &calls, &h);
}

/* A switch: the new master's watch connects from a timer at 0, and the
 * prober asks from another one at 0. Both expire in the same loop
 * iteration; when the asker's runs first, the watch's timer has expired
 * but its callback has not run (pending, no longer active). The question
 * must still wait for that connect and ride on it. */
START_TEST(asked_as_its_connect_comes_due)
{
	int lfd2, port2, old_sfd = sfd;
	ev_timer asker;

	lfd2 = unit_listen_tcp(&port2);
	g->master_port = port2;
	fence_track(f, g);
	ev_timer_init(&asker, ask_cb, 0., 0.);
	ev_set_priority(&asker, EV_MAXPRI);   /* runs first in that iteration */
	ev_timer_start(loop, &asker);
	RUN_UNTIL(due_rc != 99);
	ck_assert_int_eq(due_rc, 0);
	close(lfd);
	lfd = lfd2;
	accept_watch();
	server_expect("ROLE\r\n");
	server_send(ROLE_MASTER_REPLY);
	RUN_UNTIL(calls == 1);
	ck_assert(!got_null);
	ck_assert_str_eq(got_role, "master");
	close(old_sfd);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("fence");
	TCase *tc = tcase_create("ask_role");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, answer_on_the_watch);
	tcase_add_test(tc, auth_answer_is_skipped);
	tcase_add_test(tc, timeout_keeps_the_watch);
	tcase_add_test(tc, close_is_still_the_signal);
	tcase_add_test(tc, cancel_calls_nobody);
	tcase_add_test(tc, asked_before_connected);
	tcase_add_test(tc, asked_before_refused);
	tcase_add_test(tc, cancel_before_connected);
	tcase_add_test(tc, asked_as_its_connect_comes_due);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
