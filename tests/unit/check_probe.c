/* The prober's replica watches (R3 in topo.h), with listening sockets of
 * the test's own on 127.0.0.1 as the nodes: a read-ready replica is
 * watched once the loop is idle (never from inside prober_check), or at
 * the next tick at the latest; its close is the signal (the replica no
 * longer counts for reads, the owner is told); a second replica gets its
 * own watch and the first no second one; a replica that refuses does
 * not keep the others unwatched; a replica made master loses its watch,
 * closed once the loop is idle, and that close is no signal. */
#include <check.h>
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <ev.h>

#include "config.h"
#include "probe.h"
#include "topo.h"
#include "util.h"
#include "unit_net.h"
#include "unit_main.h"

static struct ev_loop *loop;
static struct config cfg;
static struct topo t;
static struct prober *pr;
static struct group *g;
static int mfd = -1, mport;      /* the master (never asked: confirmed) */
static int r1fd = -1, r1port;    /* replicas */
static int r2fd = -1, r2port;
static int changed;

static void
on_changed(void *arg, struct group *gr)
{
	(void)arg;
	ck_assert_ptr_eq(gr, g);
	changed++;
}

/* Run the loop until cond (evaluated once per round) or 3 s. */
#define RUN_UNTIL(cond) UNIT_RUN_UNTIL(loop, cond, 3000)

static int accepted = -1;

/* A connection waiting on lfd: accepted into `accepted`. */
static int
accept_one(int lfd)
{
	accepted = accept(lfd, NULL, NULL);
	return accepted >= 0;
}

/* The server side of a connection sees its end (EOF or a reset). */
static int
peer_closed(int fd)
{
	char b[16];
	ssize_t n = recv(fd, b, sizeof(b), MSG_DONTWAIT);

	return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
}

static void
add_replica(int port)
{
	struct node n;

	memset(&n, 0, sizeof(n));
	strcpy(n.ip, "127.0.0.1");
	n.port = port;
	strcpy(n.master_ip, "127.0.0.1");
	n.master_port = mport;
	topo_replica_update(g, 0, &n);
}

static void
setup(void)
{
	int64_t now = now_mono_ms();

	mfd = unit_listen_tcp(&mport);
	r1fd = unit_listen_tcp(&r1port);
	r2fd = unit_listen_tcp(&r2port);
	changed = 0;
	accepted = -1;
	loop = ev_loop_new(EVFLAG_AUTO);
	ck_assert_ptr_nonnull(loop);
	config_init(&cfg);
	topo_init(&t, 1, 600000);
	g = topo_get(&t, "m");
	ck_assert_ptr_nonnull(g);
	topo_set_view(g, 0, "127.0.0.1", mport, 1, 0, now);
	ck_assert_int_eq(topo_decide(&t, g, now, now_wall_ms()), TOPO_NEW_MASTER);
	(void)topo_role_result(g, "127.0.0.1", mport, ROLE_MASTER, now);
	ck_assert_int_eq(g->confirmed, 1);
	pr = prober_new(loop, &cfg, &t, on_changed, NULL);
	ck_assert_ptr_nonnull(pr);
}

static void
teardown(void)
{
	prober_free(pr);
	topo_free(&t);
	config_free(&cfg);
	ev_loop_destroy(loop);
	if (accepted >= 0)
		close(accepted);
	close(mfd);
	close(r1fd);
	close(r2fd);
}

START_TEST(watched_once_the_loop_is_idle)
{
	struct node *n;

	add_replica(r1port);
	topo_replicas_end(g, 0);
	n = group_find_node(g, "127.0.0.1", r1port);
	ck_assert_ptr_nonnull(n);
	ck_assert_int_eq(topo_node_read_ready(g, n, now_wall_ms()), 1);

	prober_check(pr, g);
	/* not from inside the call: nothing has connected yet */
	ck_assert_int_eq(accept_one(r1fd), 0);
	RUN_UNTIL(accept_one(r1fd));

	/* the replica closes it: it no longer counts for reads, the owner
	 * is told */
	close(accepted);
	accepted = -1;
	RUN_UNTIL(changed == 1);
	ck_assert_int_eq(topo_node_read_ready(g, n, now_wall_ms()), 0);
}
END_TEST

START_TEST(the_tick_opens_what_is_left)
{
	add_replica(r1port);
	topo_replicas_end(g, 0);
	/* the loop never ran: the tick opens the watch itself */
	prober_tick(pr);
	ck_assert_int_eq(accept_one(r1fd), 1);
}
END_TEST

START_TEST(a_second_replica_adds_one_watch)
{
	int first, extra;

	add_replica(r1port);
	topo_replicas_end(g, 0);
	prober_check(pr, g);
	RUN_UNTIL(accept_one(r1fd));
	first = accepted;

	/* a second replica (Sentinel lists both): its watch, and no second
	 * one for the first */
	add_replica(r1port);
	add_replica(r2port);
	topo_replicas_end(g, 0);
	ck_assert_int_eq(topo_node_read_ready(g, group_find_node(g, "127.0.0.1", r1port), now_wall_ms()), 1);
	prober_check(pr, g);
	RUN_UNTIL(accept_one(r2fd));
	for (int i = 0; i < 10; i++)
		ev_run(loop, EVRUN_NOWAIT);
	prober_tick(pr);
	extra = accept(r1fd, NULL, NULL);
	if (extra >= 0)
		close(extra);
	close(first);
	ck_assert_msg(extra < 0, "the first replica was watched twice");
}
END_TEST

START_TEST(a_refused_replica_does_not_stop_the_others)
{
	int dead, dport;

	/* a port where nothing listens, first in the group's nodes */
	dead = unit_listen_tcp(&dport);
	close(dead);
	add_replica(dport);
	add_replica(r2port);
	topo_replicas_end(g, 0);
	ck_assert_int_eq(topo_node_read_ready(g, group_find_node(g, "127.0.0.1", dport), now_wall_ms()), 1);

	prober_check(pr, g);
	RUN_UNTIL(accept_one(r2fd));
	ck_assert_int_eq(changed, 0);
}
END_TEST

START_TEST(a_replica_made_master_loses_its_watch)
{
	int64_t now;
	int sfd;

	add_replica(r1port);
	topo_replicas_end(g, 0);
	prober_check(pr, g);
	RUN_UNTIL(accept_one(r1fd));
	sfd = accepted;

	/* Sentinel names the replica master */
	now = now_mono_ms();
	topo_set_view(g, 0, "127.0.0.1", r1port, 2, 0, now);
	ck_assert_int_eq(topo_decide(&t, g, now, now_wall_ms()), TOPO_NEW_MASTER);
	prober_check(pr, g);
	/* closed once the loop is idle, not from inside the call */
	ck_assert_int_eq(peer_closed(sfd), 0);
	RUN_UNTIL(peer_closed(sfd));
	/* our own close is no signal */
	for (int i = 0; i < 10; i++)
		ev_run(loop, EVRUN_NOWAIT);
	ck_assert_int_eq(changed, 0);
}
END_TEST

static Suite *
probe_suite(void)
{
	Suite *s = suite_create("probe");
	TCase *tc = tcase_create("watches");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, watched_once_the_loop_is_idle);
	tcase_add_test(tc, the_tick_opens_what_is_left);
	tcase_add_test(tc, a_second_replica_adds_one_watch);
	tcase_add_test(tc, a_refused_replica_does_not_stop_the_others);
	tcase_add_test(tc, a_replica_made_master_loses_its_watch);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return unit_run(probe_suite());
}
