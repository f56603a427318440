/* The closer (closer.h): a socket handed over is not closed by
 * closer_add() but once the loop is idle, a batch at a time, or by
 * closer_tick(); a TCP peer then sees a reset, not an orderly end; with
 * CLOSER_MAX waiting, the next one is closed at once; closer_free()
 * closes what is left. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <ev.h>

#include "closer.h"
#include "util.h"
#include "unit_net.h"
#include "unit_main.h"

static int
fd_open(int fd)
{
	return fcntl(fd, F_GETFD) != -1;
}

/* n socket pairs: ours in a[], the peers in b[]. */
static void
pairs(int *a, int *b, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int sv[2];

		ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
		a[i] = sv[0];
		b[i] = sv[1];
	}
}

START_TEST(test_idle_then_tick)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct closer c;
	int a[40], b[40];

	pairs(a, b, 40);
	closer_init(&c, loop);
	for (size_t i = 0; i < 40; i++)
		closer_add(&c, a[i]);
	closer_add(&c, -1);   /* ignored */
	ck_assert_uint_eq(closer_waiting(&c), 40);
	for (size_t i = 0; i < 40; i++)
		ck_assert(fd_open(a[i]));
	/* one idle moment: one batch */
	ev_run(loop, EVRUN_NOWAIT);
	ck_assert_uint_eq(closer_waiting(&c), 40 - CLOSER_IDLE_BATCH);
	/* a tick: the rest */
	closer_tick(&c);
	ck_assert_uint_eq(closer_waiting(&c), 0);
	for (size_t i = 0; i < 40; i++) {
		char x;

		ck_assert(!fd_open(a[i]));
		ck_assert_int_eq(read(b[i], &x, 1), 0);   /* the peer sees the end */
		close(b[i]);
	}
	/* nothing waits: the idle watcher is stopped, the loop has nothing */
	ck_assert_int_eq(ev_run(loop, EVRUN_NOWAIT), 0);
	closer_free(&c);
	ev_loop_destroy(loop);
}
END_TEST

/* A TCP connection of our own ends with a reset: the peer reads
 * ECONNRESET, and no TIME_WAIT is left on our side. */
START_TEST(test_tcp_reset)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct closer c;
	int port, lfd = unit_listen_tcp(&port), fd, srv = -1, rc;
	char x;

	rc = fd_connect_ip("127.0.0.1", port, 0, &fd);
	ck_assert_int_ge(rc, 0);
	UNIT_RUN_UNTIL(loop, (srv = accept(lfd, NULL, NULL)) >= 0, 3000);
	closer_init(&c, loop);
	closer_add(&c, fd);
	UNIT_RUN_UNTIL(loop, closer_waiting(&c) == 0, 3000);
	errno = 0;
	UNIT_RUN_UNTIL(loop, read(srv, &x, 1) < 0 && errno == ECONNRESET, 3000);
	close(srv);
	close(lfd);
	closer_free(&c);
	ev_loop_destroy(loop);
}
END_TEST

/* At CLOSER_MAX waiting, the next socket is closed at once; closer_free()
 * closes every one left. */
START_TEST(test_bound_and_free)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct closer c;
	size_t n = CLOSER_MAX + 3;
	int *fds = calloc(n, sizeof(*fds)), base;
	struct rlimit rl;

	ck_assert_ptr_nonnull(fds);
	/* n descriptors besides the few the test has */
	ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < n + 64) {
		ck_assert_msg(rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= n + 64,
			      "the hard limit of descriptors is below %zu", n + 64);
		rl.rlim_cur = n + 64;
		ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
	}
	base = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_ge(base, 0);
	closer_init(&c, loop);
	for (size_t i = 0; i < n; i++) {
		fds[i] = dup(base);
		ck_assert_int_ge(fds[i], 0);
		closer_add(&c, fds[i]);
	}
	ck_assert_uint_eq(closer_waiting(&c), CLOSER_MAX);
	for (size_t i = 0; i < n; i++)
		ck_assert_int_eq(fd_open(fds[i]), i < CLOSER_MAX);
	closer_free(&c);
	for (size_t i = 0; i < n; i++)
		ck_assert(!fd_open(fds[i]));
	close(base);
	free(fds);
	ev_loop_destroy(loop);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("closer");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_idle_then_tick);
	tcase_add_test(tc, test_tcp_reset);
	tcase_add_test(tc, test_bound_and_free);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
