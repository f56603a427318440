/* Topology model and the decision rule, without any server. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "topo.h"
#include "unit_main.h"

#define TTL 3000
/* a wall clock well after every switch these tests make */
#define LATER (TOPO_SWITCH_GRACE_MS + 1000000)

static struct topo t;

static void
setup(void)
{
	topo_init(&t, 3, TTL);
}

static void
teardown(void)
{
	topo_free(&t);
}

static struct node
replica(const char *ip, int port, const char *mip, int mport, unsigned flags)
{
	struct node n;

	memset(&n, 0, sizeof(n));
	strcpy(n.ip, ip);
	n.port = port;
	strcpy(n.master_ip, mip);
	n.master_port = mport;
	n.flags = flags;
	return n;
}

START_TEST(test_first_master)
{
	struct group *g = topo_get(&t, "mymaster");

	ck_assert_ptr_nonnull(g);
	ck_assert_ptr_eq(topo_get(&t, "mymaster"), g);
	ck_assert_int_eq(topo_decide(&t, g, 1000, 0), TOPO_NO_VIEWS);
	topo_set_view(g, 0, "127.0.0.1", 7000, 0, 0, 1000);
	ck_assert_int_eq(topo_decide(&t, g, 1000, 5), TOPO_NEW_MASTER);
	ck_assert_str_eq(g->master_ip, "127.0.0.1");
	ck_assert_int_eq(g->master_port, 7000);
	ck_assert_int_eq(g->confirmed, 0);
	ck_assert_str_eq(g->last_switch.from, "");
	ck_assert_str_eq(g->last_switch.to, "127.0.0.1:7000");
	ck_assert_int_eq(topo_decide(&t, g, 1001, 6), TOPO_NOCHANGE);
}
END_TEST

START_TEST(test_highest_epoch_wins)
{
	uint64_t c0 = t.master_changes;
	struct group *g = topo_get(&t, "m");
	uint64_t c1;

	/* master_changes: a new group, then every switch (fence.c looks
	 * again only then); a decision without change leaves it alone. */
	ck_assert_uint_eq(t.master_changes, c0 + 1);
	topo_set_view(g, 0, "127.0.0.1", 7000, 1, 0, 100);
	topo_set_view(g, 1, "127.0.0.1", 7000, 1, 0, 100);
	ck_assert_int_eq(topo_decide(&t, g, 100, 0), TOPO_NEW_MASTER);
	ck_assert_uint_eq(t.master_changes, c0 + 2);
	g->confirmed = 1;
	c1 = t.master_changes;
	ck_assert_int_eq(topo_decide(&t, g, 150, 0), TOPO_NOCHANGE);
	ck_assert_uint_eq(t.master_changes, c1);
	/* one Sentinel (the failover leader) already has the new config */
	topo_set_view(g, 2, "127.0.0.1", 7001, 2, 0, 200);
	ck_assert_int_eq(topo_decide(&t, g, 200, 0), TOPO_NEW_MASTER);
	ck_assert_uint_eq(t.master_changes, c1 + 1);
	ck_assert_int_eq(g->master_port, 7001);
	ck_assert_uint_eq(g->epoch, 2);
	ck_assert_int_eq(g->confirmed, 0);
	ck_assert_str_eq(g->last_switch.from, "127.0.0.1:7000");
	ck_assert_str_eq(g->last_switch.to, "127.0.0.1:7001");
	ck_assert_int_eq(g->nswitches, 1);
}
END_TEST

START_TEST(test_stale_epoch_ignored)
{
	struct group *g = topo_get(&t, "m");

	topo_set_view(g, 0, "127.0.0.1", 7001, 5, 0, 100);
	ck_assert_int_eq(topo_decide(&t, g, 100, 0), TOPO_NEW_MASTER);
	/* the only view left claims an older master at an older epoch
	 * (a replayed +switch-master, a Sentinel that lost its state) */
	g->views[0].valid = 0;
	topo_set_view(g, 1, "127.0.0.1", 7000, 4, 0, 150);
	ck_assert_int_eq(topo_decide(&t, g, 150, 0), TOPO_STALE);
	ck_assert_int_eq(g->master_port, 7001);
	ck_assert_uint_eq(g->epoch, 5);
}
END_TEST

START_TEST(test_bad_address_view_ignored)
{
	struct group *g = topo_get(&t, "m");

	topo_set_view(g, 0, "127.0.0.1", 7000, 1, 0, 100);
	ck_assert_int_eq(topo_decide(&t, g, 100, 0), TOPO_NEW_MASTER);
	/* a higher epoch with an address that is no IP never wins */
	topo_set_view(g, 1, "127.0.0.1;disable frontend f", 7001, 9, 0, 150);
	ck_assert_int_eq(g->views[1].valid, 0);
	topo_set_view(g, 2, "127.0.0.1\nshutdown sessions server b/s", 7001, 9, 0, 150);
	ck_assert_int_eq(g->views[2].valid, 0);
	topo_set_view(g, 2, "127.0.0.1", 0, 9, 0, 150);
	ck_assert_int_eq(g->views[2].valid, 0);
	ck_assert_int_ne(topo_decide(&t, g, 150, 0), TOPO_NEW_MASTER);
	ck_assert_int_eq(g->master_port, 7000);
	ck_assert_uint_eq(g->epoch, 1);
}
END_TEST

START_TEST(test_majority_lease)
{
	struct group *g = topo_get(&t, "m");

	ck_assert_int_eq(topo_lease_held(&t, g, 3, 100, 500, NULL), 0);   /* no master yet */
	topo_set_view(g, 0, "127.0.0.1", 7000, 2, 0, 100);
	topo_set_view(g, 1, "127.0.0.1", 7000, 2, 0, 100);
	ck_assert_int_eq(topo_decide(&t, g, 100, 0), TOPO_NEW_MASTER);
	/* 2 of 3 known Sentinels confirmed it recently */
	ck_assert_int_eq(topo_lease_held(&t, g, 3, 400, 500, NULL), 1);
	/* ... but not of 4 (a discovered fourth one counts in the majority) */
	ck_assert_int_eq(topo_lease_held(&t, g, 4, 400, 500, NULL), 0);
	/* the confirmations grow older than the lease */
	ck_assert_int_eq(topo_lease_held(&t, g, 3, 601, 500, NULL), 0);
	/* one renewed: 1 of 3 is no majority; two renewed: held again */
	topo_set_view(g, 0, "127.0.0.1", 7000, 2, 0, 700);
	ck_assert_int_eq(topo_lease_held(&t, g, 3, 800, 500, NULL), 0);
	topo_set_view(g, 1, "127.0.0.1", 7000, 2, 0, 750);
	ck_assert_int_eq(topo_lease_held(&t, g, 3, 800, 500, NULL), 1);
	/* a Sentinel naming another node, or an older epoch, does not count */
	topo_set_view(g, 1, "127.0.0.1", 7001, 3, 0, 800);
	ck_assert_int_eq(topo_lease_held(&t, g, 3, 800, 500, NULL), 0);
	topo_set_view(g, 1, "127.0.0.1", 7000, 1, 0, 800);
	ck_assert_int_eq(topo_lease_held(&t, g, 3, 800, 500, NULL), 0);
	topo_set_view(g, 1, "127.0.0.1", 7000, 2, 0, 800);
	ck_assert_int_eq(topo_lease_held(&t, g, 3, 800, 500, NULL), 1);
	/* no Sentinel known, or no lease: lost */
	ck_assert_int_eq(topo_lease_held(&t, g, 0, 800, 500, NULL), 0);
	ck_assert_int_eq(topo_lease_held(&t, g, 3, 800, 0, NULL), 0);
}
END_TEST

START_TEST(test_lease_renewed_by_ping)
{
	struct group *g = topo_get(&t, "m");
	int votes = -1;

	topo_set_view(g, 0, "127.0.0.1", 7000, 2, 0, 100);
	topo_set_view(g, 1, "127.0.0.1", 7000, 2, 0, 100);
	ck_assert_int_eq(topo_decide(&t, g, 100, 0), TOPO_NEW_MASTER);
	ck_assert_int_eq(topo_lease_held(&t, g, 3, 700, 500, &votes), 0);
	ck_assert_int_eq(votes, 0);
	/* a PING answered by two Sentinels confirms their views */
	topo_sentinel_heard(&t, 0, 650);
	topo_sentinel_heard(&t, 1, 650);
	ck_assert_int_eq(topo_lease_held(&t, g, 3, 700, 500, &votes), 1);
	ck_assert_int_eq(votes, 2);
	/* ... but not a view that no longer counts (older than its lifetime) */
	topo_sentinel_heard(&t, 0, 100 + TTL + 1);
	topo_sentinel_heard(&t, 1, 100 + TTL + 1);
	ck_assert_int_eq(topo_lease_held(&t, g, 3, 100 + TTL + 1, 500, &votes), 0);
	/* ... nor a dropped view (TILT, the Sentinel stopped monitoring) */
	topo_set_view(g, 0, "127.0.0.1", 7000, 2, 0, 5000);
	topo_set_view(g, 1, "127.0.0.1", 7000, 2, 0, 5000);
	topo_drop_view(g, 1);
	topo_sentinel_heard(&t, 0, 5100);
	topo_sentinel_heard(&t, 1, 5100);
	ck_assert_int_eq(topo_lease_held(&t, g, 3, 5200, 500, &votes), 0);
	ck_assert_int_eq(votes, 1);
	/* out of range Sentinels are ignored */
	topo_sentinel_heard(&t, -1, 5100);
	topo_sentinel_heard(&t, TOPO_MAX_SENTINELS, 5100);
}
END_TEST

START_TEST(test_lease_known_and_length)
{
	struct group *g = topo_get(&t, "m");
	const char *conf[] = { "127.0.0.1:26379", "127.0.0.1:26380", "127.0.0.1:26381" };
	const char *other[] = { "127.0.0.1:26380", "127.0.0.1:26381", "127.0.0.1:26382", "127.0.0.1:26382" };

	/* configured Sentinels count once they list the group */
	ck_assert_int_eq(topo_sentinels_known(g, conf, 3), 0);
	topo_set_summary(g, 0, 1000, 0);
	ck_assert_int_eq(topo_sentinels_known(g, conf, 3), 1);
	/* ... and its num-other-sentinels says how many there are at least */
	topo_set_summary(g, 0, 1000, 2);
	ck_assert_int_eq(topo_sentinels_known(g, conf, 3), 3);
	topo_set_other_sentinels(g, other, 4);
	/* s0 listed it; 26380, 26381 and 26382 (named twice) discovered: 4 */
	ck_assert_int_eq(topo_sentinels_known(g, conf, 3), 4);
	/* a configured Sentinel that listed it and was discovered: once */
	topo_set_summary(g, 1, 1000, 2);
	topo_set_view(g, 2, "127.0.0.1", 7000, 2, 0, 100);
	ck_assert_int_eq(topo_sentinels_known(g, conf, 3), 4);
	ck_assert_int_eq(topo_sentinels_known(g, NULL, 0), 3);
	topo_set_summary(g, 40, 1000, 9);   /* no such Sentinel: ignored */
	ck_assert_int_eq(topo_sentinels_known(g, conf, 3), 4);
	topo_drop_view(g, 2);
	topo_drop_view(g, 1);

	/* length: fixed, or half the smallest down-after of the counted views */
	ck_assert_int_eq(topo_lease_ms(&t, g, 0, 100), 0);
	ck_assert_int_eq(topo_lease_ms(&t, g, 300, 100), 300);
	topo_set_view(g, 0, "127.0.0.1", 7000, 2, 0, 100);
	topo_set_view(g, 1, "127.0.0.1", 7000, 2, 0, 100);
	topo_set_summary(g, 0, 5000, 2);
	topo_set_summary(g, 1, 1000, 2);
	topo_set_summary(g, 2, 200, 2);      /* no view: does not count */
	topo_set_summary(g, 7, 10, 2);       /* no such Sentinel */
	ck_assert_int_eq(topo_lease_ms(&t, g, 0, 100), 500);
	topo_drop_view(g, 1);
	ck_assert_int_eq(topo_lease_ms(&t, g, 0, 100), 2500);
}
END_TEST

START_TEST(test_lease_eval)
{
	struct group *g = topo_get(&t, "m");

	topo_set_view(g, 0, "127.0.0.1", 7000, 2, 0, 100);
	topo_set_view(g, 1, "127.0.0.1", 7000, 2, 0, 100);
	topo_set_summary(g, 0, 1000, 2);
	topo_set_summary(g, 1, 1000, 2);
	ck_assert_int_eq(topo_decide(&t, g, 100, 0), TOPO_NEW_MASTER);
	ck_assert_int_eq(topo_lease_eval(&t, g, 0, 3, 0, 200), 0);   /* off: nothing changes */
	ck_assert_int_eq(g->lease, LEASE_OFF);
	ck_assert_int_eq(topo_lease_eval(&t, g, 1, 3, 0, 200), 1);
	ck_assert_int_eq(g->lease, LEASE_HELD);
	ck_assert_int_eq(g->lease_ms, 500);
	ck_assert_int_eq(g->lease_votes, 2);
	ck_assert_int_eq(g->lease_known, 3);
	ck_assert_int_eq(topo_lease_eval(&t, g, 1, 3, 0, 300), 0);
	ck_assert_int_eq(topo_lease_eval(&t, g, 1, 3, 0, 601), 1);
	ck_assert_int_eq(g->lease, LEASE_LOST);
	ck_assert_str_eq(topo_lease_name(g->lease), "lost");
	ck_assert_int_eq(topo_lease_eval(&t, g, 0, 3, 0, 601), 1);
	ck_assert_int_eq(g->lease, LEASE_OFF);
	ck_assert_str_eq(topo_lease_name(LEASE_HELD), "held");
	ck_assert_str_eq(topo_lease_name(LEASE_OFF), "off");
}
END_TEST

/* topo_view_same: only a counting view that says exactly this, with the
 * write lease not lost, is a mere confirmation. */
START_TEST(test_view_same)
{
	struct group *g = topo_get(&t, "m");

	ck_assert_int_eq(topo_view_same(&t, g, 0, "127.0.0.1", 7000, 2, 0, 100), 0);   /* no view yet */
	topo_set_view(g, 0, "127.0.0.1", 7000, 2, 0, 100);
	ck_assert_int_eq(topo_view_same(&t, g, 0, "127.0.0.1", 7000, 2, 0, 200), 1);
	ck_assert_int_eq(topo_view_same(&t, g, 0, "127.0.0.2", 7000, 2, 0, 200), 0);
	ck_assert_int_eq(topo_view_same(&t, g, 0, "127.0.0.1", 7001, 2, 0, 200), 0);
	ck_assert_int_eq(topo_view_same(&t, g, 0, "127.0.0.1", 7000, 3, 0, 200), 0);
	ck_assert_int_eq(topo_view_same(&t, g, 0, "127.0.0.1", 7000, 2, NODE_O_DOWN, 200), 0);
	ck_assert_int_eq(topo_view_same(&t, g, 1, "127.0.0.1", 7000, 2, 0, 200), 0);     /* another Sentinel */
	ck_assert_int_eq(topo_view_same(&t, g, 5, "127.0.0.1", 7000, 2, 0, 200), 0);
	ck_assert_int_eq(topo_view_same(&t, g, 0, NULL, 7000, 2, 0, 200), 0);
	/* a view older than its lifetime no longer counts: news again */
	ck_assert_int_eq(topo_view_same(&t, g, 0, "127.0.0.1", 7000, 2, 0, 100 + TTL), 1);
	ck_assert_int_eq(topo_view_same(&t, g, 0, "127.0.0.1", 7000, 2, 0, 101 + TTL), 0);
	/* with the lease lost, a confirmation may win it back */
	g->lease = LEASE_LOST;
	ck_assert_int_eq(topo_view_same(&t, g, 0, "127.0.0.1", 7000, 2, 0, 200), 0);
	g->lease = LEASE_HELD;
	ck_assert_int_eq(topo_view_same(&t, g, 0, "127.0.0.1", 7000, 2, 0, 200), 1);
	topo_drop_view(g, 0);
	ck_assert_int_eq(topo_view_same(&t, g, 0, "127.0.0.1", 7000, 2, 0, 200), 0);
}
END_TEST

START_TEST(test_disagree_same_epoch)
{
	struct group *g = topo_get(&t, "m");

	topo_set_view(g, 0, "127.0.0.1", 7000, 3, 0, 100);
	ck_assert_int_eq(topo_decide(&t, g, 100, 0), TOPO_NEW_MASTER);
	topo_set_view(g, 1, "127.0.0.1", 7001, 3, 0, 100);
	ck_assert_int_eq(topo_decide(&t, g, 100, 0), TOPO_DISAGREE);
	ck_assert_int_eq(g->disagree, 1);
	ck_assert_int_eq(g->master_port, 7000);
	/* the first Sentinel comes round: agreement, switch */
	topo_set_view(g, 0, "127.0.0.1", 7001, 3, 0, 200);
	ck_assert_int_eq(topo_decide(&t, g, 200, 0), TOPO_NEW_MASTER);
	ck_assert_int_eq(g->master_port, 7001);
	ck_assert_int_eq(g->disagree, 0);
}
END_TEST

START_TEST(test_same_epoch_switch_when_nobody_reports_ours)
{
	struct group *g = topo_get(&t, "m");

	topo_set_view(g, 0, "127.0.0.1", 7000, 3, 0, 100);
	ck_assert_int_eq(topo_decide(&t, g, 100, 0), TOPO_NEW_MASTER);
	topo_set_view(g, 0, "127.0.0.1", 7001, 3, 0, 200);
	topo_set_view(g, 1, "127.0.0.1", 7001, 3, 0, 200);
	ck_assert_int_eq(topo_decide(&t, g, 200, 0), TOPO_NEW_MASTER);
	ck_assert_int_eq(g->master_port, 7001);
	ck_assert_int_eq(g->disagree, 0);
}
END_TEST

START_TEST(test_views_age_out_freeze)
{
	struct group *g = topo_get(&t, "m");

	topo_set_view(g, 0, "127.0.0.1", 7000, 1, 0, 100);
	ck_assert_int_eq(topo_decide(&t, g, 100, 0), TOPO_NEW_MASTER);
	ck_assert_int_eq(topo_group_frozen(&t, g, 100 + TTL), 0);
	ck_assert_int_eq(topo_group_frozen(&t, g, 101 + TTL), 1);
	ck_assert_int_eq(topo_decide(&t, g, 101 + TTL, 0), TOPO_NO_VIEWS);
	/* frozen: the decided master stays as it was */
	ck_assert_int_eq(g->master_port, 7000);
	topo_drop_views(&t, 0);
	ck_assert_int_eq(g->views[0].valid, 0);
}
END_TEST

START_TEST(test_role_confirmation)
{
	struct group *g = topo_get(&t, "m");

	topo_set_view(g, 0, "127.0.0.1", 7000, 1, 0, 100);
	(void)topo_decide(&t, g, 100, 0);
	ck_assert_int_eq(topo_role_result(g, "127.0.0.1", 7000, ROLE_SLAVE, 110), 1);
	ck_assert_int_eq(g->confirmed, -1);
	ck_assert_int_eq(topo_role_result(g, "127.0.0.1", 7000, ROLE_MASTER, 120), 1);
	ck_assert_int_eq(g->confirmed, 1);
	ck_assert_int_eq(topo_role_result(g, "127.0.0.1", 7000, ROLE_MASTER, 130), 0);
	/* an answer about another node does not confirm the master */
	ck_assert_int_eq(topo_role_result(g, "127.0.0.1", 7009, ROLE_MASTER, 130), 0);
	ck_assert_int_eq(g->confirmed, 1);
}
END_TEST

START_TEST(test_replicas_and_read_ready)
{
	struct group *g = topo_get(&t, "m");
	struct node r1 = replica("127.0.0.1", 7001, "127.0.0.1", 7000, 0);
	struct node r2 = replica("127.0.0.1", 7002, "127.0.0.1", 7000, NODE_S_DOWN);
	struct node *n;

	topo_set_view(g, 0, "127.0.0.1", 7000, 1, 0, 100);
	(void)topo_decide(&t, g, 100, 0);
	topo_replica_update(g, 0, &r1);
	topo_replica_update(g, 0, &r2);
	topo_replicas_end(g, 0);
	ck_assert_int_eq(g->replicas_known, 1);
	ck_assert_uint_eq(g->nnodes, 2);
	ck_assert_int_eq(topo_node_read_ready(g, group_find_node(g, "127.0.0.1", 7001), LATER), 1);
	ck_assert_int_eq(topo_node_read_ready(g, group_find_node(g, "127.0.0.1", 7002), LATER), 0);

	/* link down, role reported master, linked to another master: not ready */
	r1.flags = NODE_LINK_DOWN;
	topo_replica_update(g, 0, &r1);
	ck_assert_int_eq(topo_node_read_ready(g, group_find_node(g, "127.0.0.1", 7001), LATER), 0);
	r1.flags = NODE_ROLE_MASTER;
	topo_replica_update(g, 0, &r1);
	ck_assert_int_eq(topo_node_read_ready(g, group_find_node(g, "127.0.0.1", 7001), LATER), 0);
	r1 = replica("127.0.0.1", 7001, "127.0.0.1", 6999, 0);
	topo_replica_update(g, 0, &r1);
	ck_assert_int_eq(topo_node_read_ready(g, group_find_node(g, "127.0.0.1", 7001), LATER), 0);
	/* our own ROLE check says master: fenced out of reads */
	r1 = replica("127.0.0.1", 7001, "127.0.0.1", 7000, 0);
	topo_replica_update(g, 0, &r1);
	n = group_find_node(g, "127.0.0.1", 7001);
	ck_assert_int_eq(topo_node_read_ready(g, n, LATER), 1);
	(void)topo_role_result(g, "127.0.0.1", 7001, ROLE_MASTER, 200);
	ck_assert_int_eq(topo_node_read_ready(g, n, LATER), 0);

	/* the master is down: a replica whose link is down keeps serving reads */
	r1 = replica("127.0.0.1", 7001, "127.0.0.1", 7000, NODE_LINK_DOWN);
	n->role = ROLE_UNKNOWN;
	topo_replica_update(g, 0, &r1);
	ck_assert_int_eq(topo_node_read_ready(g, n, LATER), 0);
	topo_set_view(g, 0, "127.0.0.1", 7000, 1, NODE_S_DOWN | NODE_O_DOWN, 300);
	(void)topo_decide(&t, g, 300, 0);
	ck_assert_int_eq(topo_node_read_ready(g, n, LATER), 1);
	/* but not when Sentinel sees the replica itself down */
	r1.flags = NODE_LINK_DOWN | NODE_S_DOWN;
	topo_replica_update(g, 0, &r1);
	ck_assert_int_eq(topo_node_read_ready(g, n, LATER), 0);

	/* a replica no Sentinel lists any more is dropped */
	r1.flags = 0;
	topo_replica_update(g, 0, &r1);
	topo_replicas_end(g, 0);
	ck_assert_uint_eq(g->nnodes, 1);
	ck_assert_ptr_null(group_find_node(g, "127.0.0.1", 7002));
}
END_TEST

/* master-reads: the master's place in the read backend (0 no, 1 yes, 2 fallback). */
START_TEST(test_master_read_target)
{
	struct group *g = topo_get(&t, "m");
	struct node r1 = replica("127.0.0.1", 7001, "127.0.0.1", 7000, 0);
	struct node r2 = replica("127.0.0.1", 7002, "127.0.0.1", 7000, 0);

	topo_set_view(g, 0, "127.0.0.1", 7000, 1, 0, 100);
	(void)topo_decide(&t, g, 100, 0);
	topo_replica_update(g, 0, &r1);
	topo_replica_update(g, 0, &r2);
	topo_replicas_end(g, 0);
	/* not confirmed by ROLE yet: a target, never ready */
	ck_assert_int_eq(topo_master_read_target(g, 0, LATER), -1);
	ck_assert_int_eq(topo_master_read_target(g, 1, LATER), 0);
	ck_assert_int_eq(topo_master_read_target(g, 2, LATER), 0);
	(void)topo_role_result(g, "127.0.0.1", 7000, ROLE_MASTER, 110);
	ck_assert_int_eq(topo_master_read_target(g, 0, LATER), -1);
	ck_assert_int_eq(topo_master_read_target(g, 1, LATER), 1);
	/* fallback: out while a replica is ready */
	ck_assert_int_eq(topo_any_replica_read_ready(g, LATER), 1);
	ck_assert_int_eq(topo_master_read_target(g, 2, LATER), 0);
	r1.flags = NODE_S_DOWN;
	topo_replica_update(g, 0, &r1);
	ck_assert_int_eq(topo_master_read_target(g, 2, LATER), 0);
	/* both replicas down: the master stands in */
	r2.flags = NODE_S_DOWN;
	topo_replica_update(g, 0, &r2);
	ck_assert_int_eq(topo_any_replica_read_ready(g, LATER), 0);
	ck_assert_int_eq(topo_master_read_target(g, 2, LATER), 1);
	ck_assert_int_eq(topo_master_read_target(g, 1, LATER), 1);
	/* a replica back: Sentinel's word is not enough once it was seen
	 * down (R2 in topo.h), our ROLE is; then the master leaves again */
	r2.flags = 0;
	topo_replica_update(g, 0, &r2);
	ck_assert_int_eq(topo_master_read_target(g, 2, LATER), 1);
	(void)topo_replica_probe(g, "127.0.0.1", 7002, ROLE_SLAVE, "127.0.0.1", 7000, 1, SERVE_YES, 115);
	ck_assert_int_eq(topo_master_read_target(g, 2, LATER), 0);
	/* a replica whose ROLE says master is no replica: it does not count */
	(void)topo_role_result(g, "127.0.0.1", 7002, ROLE_MASTER, 120);
	ck_assert_int_eq(topo_master_read_target(g, 2, LATER), 1);
	/* the master's own ROLE says replica: never ready */
	(void)topo_role_result(g, "127.0.0.1", 7000, ROLE_SLAVE, 130);
	ck_assert_int_eq(topo_master_read_target(g, 2, LATER), 0);
	ck_assert_int_eq(topo_master_read_target(g, 1, LATER), 0);
}
END_TEST

START_TEST(test_reads_during_failover)
{
	struct group *g = topo_get(&t, "m");
	struct node r1 = replica("127.0.0.1", 7001, "127.0.0.1", 7000, 0);
	struct node r2 = replica("127.0.0.1", 7002, "127.0.0.1", 7000, 0);

	topo_set_view(g, 0, "127.0.0.1", 7000, 1, 0, 100);
	(void)topo_decide(&t, g, 100, 0);
	topo_replica_update(g, 0, &r1);
	topo_replica_update(g, 0, &r2);
	topo_replicas_end(g, 0);
	/* 7001 promoted; 7002 still follows the old master, link down */
	topo_set_view(g, 0, "127.0.0.1", 7001, 2, 0, 200);
	ck_assert_int_eq(topo_decide(&t, g, 200, 0), TOPO_NEW_MASTER);
	r2.flags = NODE_LINK_DOWN;
	topo_replica_update(g, 0, &r2);
	ck_assert_int_eq(topo_node_read_ready(g, group_find_node(g, "127.0.0.1", 7002), LATER), 1);
	/* the new master is no read server */
	ck_assert_int_eq(topo_node_read_ready(g, group_find_node(g, "127.0.0.1", 7001), LATER), 0);
	/* reconfigured to the new master, not yet linked, master healthy: in
	 * for the grace period after the switch, out after it */
	r2 = replica("127.0.0.1", 7002, "127.0.0.1", 7001, NODE_LINK_DOWN);
	topo_replica_update(g, 0, &r2);
	ck_assert_int_eq(topo_node_read_ready(g, group_find_node(g, "127.0.0.1", 7002), TOPO_SWITCH_GRACE_MS - 1), 1);
	ck_assert_int_eq(topo_node_read_ready(g, group_find_node(g, "127.0.0.1", 7002), LATER), 0);
	r2.flags = 0;
	topo_replica_update(g, 0, &r2);
	ck_assert_int_eq(topo_node_read_ready(g, group_find_node(g, "127.0.0.1", 7002), LATER), 1);
	/* every Sentinel re-creates its replicas as disconnected when it
	 * switches: during the grace period that does not take reads away */
	r2.flags = NODE_DISCONNECTED | NODE_LINK_DOWN;
	topo_replica_update(g, 0, &r2);
	ck_assert_int_eq(topo_node_read_ready(g, group_find_node(g, "127.0.0.1", 7002), TOPO_SWITCH_GRACE_MS - 1), 1);
	ck_assert_int_eq(topo_node_read_ready(g, group_find_node(g, "127.0.0.1", 7002), LATER), 0);
	r2.flags = NODE_S_DOWN;
	topo_replica_update(g, 0, &r2);
	ck_assert_int_eq(topo_node_read_ready(g, group_find_node(g, "127.0.0.1", 7002), TOPO_SWITCH_GRACE_MS - 1), 0);
}
END_TEST

START_TEST(test_replica_role_probe)
{
	struct group *g = topo_get(&t, "m");
	struct node r1 = replica("127.0.0.1", 7001, "127.0.0.1", 7000, NODE_LINK_DOWN);
	struct node *n;

	topo_set_view(g, 0, "127.0.0.1", 7000, 1, 0, 100);
	(void)topo_decide(&t, g, 100, 0);
	topo_replica_update(g, 0, &r1);
	n = group_find_node(g, "127.0.0.1", 7001);
	ck_assert_int_eq(topo_node_read_ready(g, n, LATER), 0);
	/* ROLE on the replica: synced with the current master. Sentinel's
	 * 10 s old "link down" no longer keeps it out. */
	ck_assert_int_eq(topo_replica_role(g, "127.0.0.1", 7001, ROLE_SLAVE, "127.0.0.1", 7000, 1, 200), 1);
	ck_assert_int_eq(topo_node_read_ready(g, n, LATER), 1);
	ck_assert_int_eq(topo_replica_role(g, "127.0.0.1", 7001, ROLE_SLAVE, "127.0.0.1", 7000, 1, 300), 0);
	/* following another master, or still syncing: out */
	(void)topo_replica_role(g, "127.0.0.1", 7001, ROLE_SLAVE, "127.0.0.1", 6999, 1, 400);
	ck_assert_int_eq(topo_node_read_ready(g, n, LATER), 0);
	(void)topo_replica_role(g, "127.0.0.1", 7001, ROLE_SLAVE, "127.0.0.1", 7000, 0, 500);
	ck_assert_int_eq(topo_node_read_ready(g, n, LATER), 0);
	/* Sentinel newly sees it claim master: our answer stops counting */
	(void)topo_replica_role(g, "127.0.0.1", 7001, ROLE_SLAVE, "127.0.0.1", 7000, 1, 600);
	ck_assert_int_eq(topo_node_read_ready(g, n, LATER), 1);
	r1.flags = NODE_LINK_DOWN | NODE_ROLE_MASTER;
	topo_replica_update(g, 0, &r1);
	ck_assert_int_eq(topo_node_read_ready(g, n, LATER), 0);
	/* and ROLE saying master fences it */
	(void)topo_replica_role(g, "127.0.0.1", 7001, ROLE_MASTER, "", 0, 0, 700);
	ck_assert_int_eq(topo_node_read_ready(g, n, LATER), 0);
	ck_assert_int_eq(topo_replica_role(g, "127.0.0.1", 7999, ROLE_SLAVE, "x", 1, 1, 800), 0);
}
END_TEST

/* A loading replica is never read-ready (R1-R3 in topo.h). */
START_TEST(test_replica_loading)
{
	struct group *g = topo_get(&t, "m");
	struct node r1 = replica("127.0.0.1", 7001, "127.0.0.1", 7000, 0);
	struct node *n;

	topo_set_view(g, 0, "127.0.0.1", 7000, 1, 0, 100);
	(void)topo_decide(&t, g, 100, 0);
	topo_replica_update(g, 0, &r1);
	n = group_find_node(g, "127.0.0.1", 7001);
	ck_assert_int_eq(topo_node_read_ready(g, n, LATER), 1);
	/* R1: -LOADING to PING: out, whatever Sentinel says */
	ck_assert_int_eq(topo_replica_probe(g, "127.0.0.1", 7001, ROLE_SLAVE, "127.0.0.1", 7000, 0, SERVE_NO, 200), 1);
	ck_assert_int_eq(topo_node_read_ready(g, n, LATER), 0);
	/* ... even while its master is down (no stale reads from it) */
	topo_set_view(g, 0, "127.0.0.1", 7000, 1, NODE_S_DOWN | NODE_O_DOWN, 210);
	(void)topo_decide(&t, g, 210, 0);
	r1.flags = NODE_LINK_DOWN;
	topo_replica_update(g, 0, &r1);
	ck_assert_int_eq(topo_node_read_ready(g, n, LATER), 0);
	/* loaded, link still down, master down: stale reads again */
	(void)topo_replica_probe(g, "127.0.0.1", 7001, ROLE_SLAVE, "127.0.0.1", 7000, 0, SERVE_YES, 220);
	ck_assert_int_eq(topo_node_read_ready(g, n, LATER), 1);
	/* an unknown answer to PING (-NOPERM: no +ping) does not take it out */
	(void)topo_replica_probe(g, "127.0.0.1", 7001, ROLE_SLAVE, "127.0.0.1", 7000, 0, SERVE_UNKNOWN, 230);
	ck_assert_int_eq(topo_node_read_ready(g, n, LATER), 1);
	topo_set_view(g, 0, "127.0.0.1", 7000, 1, 0, 240);
	(void)topo_decide(&t, g, 240, 0);
	r1.flags = 0;
	topo_replica_update(g, 0, &r1);
	(void)topo_replica_probe(g, "127.0.0.1", 7001, ROLE_SLAVE, "127.0.0.1", 7000, 1, SERVE_YES, 250);
	ck_assert_int_eq(topo_node_read_ready(g, n, LATER), 1);
	ck_assert_int_eq(n->link_suspect, 0);

	/* R2: seen disconnected by every Sentinel (a restart): the last ROLE
	 * answer and Sentinel's "link ok" no longer count */
	r1.flags = NODE_DISCONNECTED;
	topo_replica_update(g, 0, &r1);
	ck_assert_int_eq(n->link_suspect, 1);
	ck_assert_int_eq(topo_node_read_ready(g, n, LATER), 0);
	r1.flags = 0;
	topo_replica_update(g, 0, &r1);
	ck_assert_int_eq(topo_node_read_ready(g, n, LATER), 0);
	/* loading: "connect", -LOADING */
	(void)topo_replica_probe(g, "127.0.0.1", 7001, ROLE_SLAVE, "127.0.0.1", 7000, 0, SERVE_NO, 300);
	ck_assert_int_eq(topo_node_read_ready(g, n, LATER), 0);
	/* loaded, not yet linked: still out (Sentinel's "ok" is stale) */
	(void)topo_replica_probe(g, "127.0.0.1", 7001, ROLE_SLAVE, "127.0.0.1", 7000, 0, SERVE_YES, 400);
	ck_assert_int_eq(topo_node_read_ready(g, n, LATER), 0);
	ck_assert_int_eq(n->link_suspect, 1);
	/* linked to another master: still suspect */
	(void)topo_replica_probe(g, "127.0.0.1", 7001, ROLE_SLAVE, "127.0.0.1", 6999, 1, SERVE_YES, 450);
	ck_assert_int_eq(n->link_suspect, 1);
	/* linked to the master: back, and Sentinel's word counts again */
	(void)topo_replica_probe(g, "127.0.0.1", 7001, ROLE_SLAVE, "127.0.0.1", 7000, 1, SERVE_YES, 500);
	ck_assert_int_eq(topo_node_read_ready(g, n, LATER), 1);
	ck_assert_int_eq(n->link_suspect, 0);
	n->role = ROLE_UNKNOWN;
	n->role_link_up = 0;
	ck_assert_int_eq(topo_node_read_ready(g, n, LATER), 1);

	/* R3: our own connection closed: suspect, asked again at once, the
	 * last ROLE answer still holds until the next one */
	(void)topo_replica_probe(g, "127.0.0.1", 7001, ROLE_SLAVE, "127.0.0.1", 7000, 1, SERVE_YES, 600);
	ck_assert_int_eq(topo_replica_lost(g, "127.0.0.1", 7001), 1);
	ck_assert_int_eq(topo_replica_lost(g, "127.0.0.1", 7001), 0);
	ck_assert_int_eq(topo_replica_lost(g, "127.0.0.1", 7999), 0);
	ck_assert_int_eq(n->role_at_ms, 0);
	ck_assert_int_eq(topo_node_read_ready(g, n, LATER), 1);
	/* refused (nothing known): out */
	(void)topo_replica_probe(g, "127.0.0.1", 7001, ROLE_UNKNOWN, "", 0, 0, SERVE_UNKNOWN, 700);
	ck_assert_int_eq(topo_node_read_ready(g, n, LATER), 0);
	/* a CLIENT KILL instead: "connected", PONG: stays */
	(void)topo_replica_probe(g, "127.0.0.1", 7001, ROLE_SLAVE, "127.0.0.1", 7000, 1, SERVE_YES, 800);
	ck_assert_int_eq(topo_node_read_ready(g, n, LATER), 1);
}
END_TEST

START_TEST(test_flags_merged_over_sentinels)
{
	struct group *g = topo_get(&t, "m");
	struct node r1 = replica("127.0.0.1", 7001, "127.0.0.1", 7000, NODE_S_DOWN);
	struct node *n;

	topo_replica_update(g, 0, &r1);
	r1.flags = 0;
	topo_replica_update(g, 1, &r1);
	n = group_find_node(g, "127.0.0.1", 7001);
	/* one Sentinel still sees it down: down, whatever the order of answers */
	ck_assert_uint_eq(n->flags, NODE_S_DOWN);
	topo_replica_update(g, 1, &r1);
	ck_assert_uint_eq(n->flags, NODE_S_DOWN);
	topo_replica_update(g, 0, &r1);
	ck_assert_uint_eq(n->flags, 0);
	/* "disconnected" is one Sentinel's own link: it counts only when all say so */
	r1.flags = NODE_DISCONNECTED;
	topo_replica_update(g, 0, &r1);
	ck_assert_uint_eq(n->flags, 0);
	topo_replica_update(g, 1, &r1);
	ck_assert_uint_eq(n->flags, NODE_DISCONNECTED);
}
END_TEST

START_TEST(test_replica_seen_by_two)
{
	struct group *g = topo_get(&t, "m");
	struct node r1 = replica("127.0.0.1", 7001, "127.0.0.1", 7000, 0);

	topo_replica_update(g, 0, &r1);
	topo_replicas_end(g, 0);
	topo_replica_update(g, 1, &r1);
	topo_replicas_end(g, 1);
	ck_assert_uint_eq(g->nodes[0].seen_by, 3);
	/* Sentinel 0 forgets it; Sentinel 1 still lists it: kept */
	topo_replicas_end(g, 0);
	ck_assert_uint_eq(g->nnodes, 1);
	ck_assert_uint_eq(g->nodes[0].seen_by, 2);
}
END_TEST

START_TEST(test_ipv6_equal_forms)
{
	struct group *g = topo_get(&t, "m");

	topo_set_view(g, 0, "::1", 7000, 1, 0, 100);
	ck_assert_int_eq(topo_decide(&t, g, 100, 0), TOPO_NEW_MASTER);
	topo_set_view(g, 0, "0:0:0:0:0:0:0:1", 7000, 1, 0, 110);
	ck_assert_int_eq(topo_decide(&t, g, 110, 0), TOPO_NOCHANGE);
	ck_assert_str_eq(g->last_switch.to, "[::1]:7000");
}
END_TEST

START_TEST(test_flags)
{
	char buf[128];
	unsigned f = node_flags_parse("slave,s_down,disconnected");

	ck_assert_uint_eq(f, NODE_S_DOWN | NODE_DISCONNECTED);
	ck_assert_uint_eq(node_flags_parse("master,o_down,s_down,failover_in_progress"),
			  NODE_O_DOWN | NODE_S_DOWN | NODE_FAILOVER);
	node_flags_format(f, buf, sizeof(buf));
	ck_assert_str_eq(buf, "s_down,disconnected");
	node_flags_format(0, buf, sizeof(buf));
	ck_assert_str_eq(buf, "");
	ck_assert_uint_eq(node_flags_parse(""), 0);
}
END_TEST

START_TEST(test_remove_and_names)
{
	char longname[TOPO_NAME_MAX + 10];

	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	ck_assert_ptr_null(topo_get(&t, longname));
	ck_assert_ptr_null(topo_get(&t, ""));
	for (int i = 0; i < 100; i++) {
		char n[16];

		snprintf(n, sizeof(n), "g%d", i);
		ck_assert_ptr_nonnull(topo_get(&t, n));
	}
	ck_assert_uint_eq(t.n, 100);
	topo_remove(&t, "g50");
	ck_assert_ptr_null(topo_find(&t, "g50"));
	ck_assert_ptr_nonnull(topo_find(&t, "g99"));
	ck_assert_uint_eq(t.n, 99);
}
END_TEST

/* ---------------------------------------------------------------- early fence (F1-F2) */

#define SIGS (TOPO_FENCE_ON_RESET | TOPO_FENCE_ON_ODOWN)

static struct group *
confirmed_master(void)
{
	struct group *g = topo_get(&t, "mymaster");

	topo_set_view(g, 0, "127.0.0.1", 7000, 1, 0, 1000);
	topo_set_view(g, 1, "127.0.0.1", 7000, 1, 0, 1000);
	ck_assert_int_eq(topo_decide(&t, g, 1000, 5), TOPO_NEW_MASTER);
	(void)topo_role_result(g, "127.0.0.1", 7000, ROLE_MASTER, 1000);
	ck_assert_int_eq(g->confirmed, 1);
	return g;
}

START_TEST(test_fence_lease)
{
	struct group *g = confirmed_master();
	unsigned sigs = SIGS | TOPO_FENCE_ON_LEASE;

	g->lease = LEASE_HELD;
	ck_assert_int_eq(topo_fence_eval(&t, g, sigs, 1001, 11), 0);
	/* lost: fenced at once, and back at once (no recheck) when held again */
	g->lease = LEASE_LOST;
	ck_assert_int_eq(topo_fence_eval(&t, g, SIGS, 1002, 12), 0);   /* signal off: no fence */
	ck_assert_int_eq(topo_fence_eval(&t, g, sigs, 1003, 13), 1);
	ck_assert_int_eq(g->fence, FENCE_LEASE);
	ck_assert_str_eq(topo_fence_name(g->fence), "lease");
	ck_assert(topo_master_fenced(g));
	ck_assert_str_eq(g->fence_addr, "127.0.0.1:7000");
	ck_assert_int_eq(g->fence_since_ms, 13);
	ck_assert_int_eq(topo_fence_eval(&t, g, sigs, 1004, 14), 0);
	ck_assert_int_eq(g->confirmed, 1);
	g->lease = LEASE_HELD;
	ck_assert_int_eq(topo_fence_eval(&t, g, sigs, 1005, 15), 1);
	ck_assert_int_eq(g->fence, FENCE_NONE);
	ck_assert(!topo_master_fenced(g));
	/* a death seen meanwhile wins, and is rechecked as before */
	g->lease = LEASE_LOST;
	ck_assert_int_eq(topo_fence_link(g, "127.0.0.1", 7000, 1), 1);
	ck_assert_int_eq(topo_fence_eval(&t, g, sigs, 1006, 16), 1);
	ck_assert_int_eq(g->fence, FENCE_DEAD);
	ck_assert_int_eq(topo_fence_link(g, "127.0.0.1", 7000, 0), 1);
	ck_assert_int_eq(topo_fence_eval(&t, g, sigs, 1007, 17), 1);
	ck_assert_int_eq(g->fence, FENCE_RECHECK);
	(void)topo_role_result(g, "127.0.0.1", 7000, ROLE_MASTER, 1008);
	/* confirmed, the lease still lost: out for the lease */
	ck_assert_int_eq(topo_fence_eval(&t, g, sigs, 1009, 19), 1);
	ck_assert_int_eq(g->fence, FENCE_LEASE);
	/* a new master ends the fence of the old one: rule 4 */
	g->lease = LEASE_HELD;
	topo_set_view(g, 0, "127.0.0.1", 7001, 2, 0, 1010);
	topo_set_view(g, 1, "127.0.0.1", 7001, 2, 0, 1010);
	ck_assert_int_eq(topo_decide(&t, g, 1010, 20), TOPO_NEW_MASTER);
	ck_assert_int_eq(topo_fence_eval(&t, g, sigs, 1011, 21), 1);
	ck_assert_int_eq(g->fence, FENCE_NONE);
	/* the new master, named first by the failover leader alone (its view
	 * flags failover_in_progress): out for the lease until a majority
	 * names it, then in at once, the failover still under way */
	topo_set_view(g, 0, "127.0.0.1", 7002, 3, NODE_FAILOVER, 1020);
	ck_assert_int_eq(topo_decide(&t, g, 1020, 30), TOPO_NEW_MASTER);
	ck_assert(g->master_flags & NODE_FAILOVER);
	g->lease = LEASE_LOST;
	ck_assert_int_eq(topo_fence_eval(&t, g, sigs, 1021, 31), 1);
	ck_assert_int_eq(g->fence, FENCE_LEASE);
	g->lease = LEASE_HELD;
	ck_assert_int_eq(topo_fence_eval(&t, g, sigs, 1022, 32), 1);
	ck_assert_int_eq(g->fence, FENCE_NONE);
}
END_TEST

START_TEST(test_fence_dead_and_back)
{
	struct group *g = confirmed_master();
	uint64_t gen;

	ck_assert_int_eq(topo_fence_eval(&t, g, SIGS, 1000, 10), 0);
	ck_assert(!topo_master_fenced(g));
	/* F1a: reset + refused */
	gen = g->generation;
	ck_assert_int_eq(topo_fence_link(g, "127.0.0.1", 7000, 1), 1);
	ck_assert_int_eq(topo_fence_link(g, "127.0.0.1", 7000, 1), 0);
	ck_assert_int_eq(topo_fence_eval(&t, g, SIGS, 1001, 11), 1);
	ck_assert_int_eq(g->fence, FENCE_DEAD);
	ck_assert(g->generation > gen);
	ck_assert(topo_master_fenced(g));
	ck_assert_str_eq(g->fence_addr, "127.0.0.1:7000");
	ck_assert_int_eq(g->fence_since_ms, 11);
	ck_assert_int_eq(g->confirmed, 1);
	ck_assert_int_eq(topo_fence_eval(&t, g, SIGS, 1002, 12), 0);
	/* F2: a fresh connection accepted: ROLE is asked afresh */
	ck_assert_int_eq(topo_fence_link(g, "127.0.0.1", 7000, 0), 1);
	ck_assert_int_eq(topo_fence_eval(&t, g, SIGS, 1003, 13), 1);
	ck_assert_int_eq(g->fence, FENCE_RECHECK);
	ck_assert_int_eq(g->confirmed, 0);
	ck_assert(topo_master_fenced(g));
	ck_assert_int_eq(topo_fence_eval(&t, g, SIGS, 1004, 14), 0);
	/* ROLE says slave: still out */
	(void)topo_role_result(g, "127.0.0.1", 7000, ROLE_SLAVE, 1005);
	ck_assert_int_eq(topo_fence_eval(&t, g, SIGS, 1005, 15), 0);
	ck_assert_int_eq(g->fence, FENCE_RECHECK);
	(void)topo_role_result(g, "127.0.0.1", 7000, ROLE_MASTER, 1006);
	ck_assert_int_eq(topo_fence_eval(&t, g, SIGS, 1006, 16), 1);
	ck_assert_int_eq(g->fence, FENCE_NONE);
	ck_assert(!topo_master_fenced(g));
	ck_assert_str_eq(g->fence_addr, "");
}
END_TEST

START_TEST(test_fence_only_the_master)
{
	struct group *g = confirmed_master();

	/* a replica seen dead: nothing */
	ck_assert_int_eq(topo_fence_link(g, "127.0.0.1", 7001, 1), 1);
	ck_assert_int_eq(topo_fence_eval(&t, g, SIGS, 1001, 11), 0);
	ck_assert(!topo_master_fenced(g));
	ck_assert_str_eq(g->fence_dead, "");
	/* an accepted connection to a node never seen dead changes nothing */
	ck_assert_int_eq(topo_fence_link(g, "127.0.0.1", 7000, 0), 0);
	/* signals off: no fence */
	ck_assert_int_eq(topo_fence_link(g, "127.0.0.1", 7000, 1), 1);
	ck_assert_int_eq(topo_fence_eval(&t, g, TOPO_FENCE_ON_ODOWN, 1001, 11), 0);
	ck_assert(!topo_master_fenced(g));
	ck_assert_int_eq(topo_fence_eval(&t, g, SIGS, 1001, 11), 1);
	ck_assert(topo_master_fenced(g));
}
END_TEST

START_TEST(test_fence_odown)
{
	struct group *g = confirmed_master();

	/* s_down alone is one Sentinel's opinion: no fence */
	topo_set_view(g, 0, "127.0.0.1", 7000, 1, NODE_S_DOWN, 1100);
	(void)topo_decide(&t, g, 1100, 20);
	ck_assert_int_eq(topo_fence_eval(&t, g, SIGS, 1100, 20), 0);
	/* F1b: one counted Sentinel says o_down */
	topo_set_view(g, 1, "127.0.0.1", 7000, 1, NODE_S_DOWN | NODE_O_DOWN, 1100);
	(void)topo_decide(&t, g, 1100, 20);
	ck_assert_int_eq(topo_fence_eval(&t, g, TOPO_FENCE_ON_RESET, 1100, 20), 0);
	ck_assert_int_eq(topo_fence_eval(&t, g, SIGS, 1100, 20), 1);
	ck_assert_int_eq(g->fence, FENCE_ODOWN);
	/* an o_down view that no longer counts (too old) is no signal */
	topo_set_view(g, 0, "127.0.0.1", 7000, 1, 0, 1100 + TTL);
	(void)topo_decide(&t, g, 1101 + TTL, 21);
	ck_assert_int_eq(topo_fence_eval(&t, g, SIGS, 1101 + TTL, 21), 1);
	ck_assert_int_eq(g->fence, FENCE_RECHECK);
	ck_assert_int_eq(g->confirmed, 0);
	/* back: o_down again, then -odown, ROLE master: writes again */
	topo_set_view(g, 1, "127.0.0.1", 7000, 1, NODE_O_DOWN, 1101 + TTL);
	ck_assert_int_eq(topo_fence_eval(&t, g, SIGS, 1101 + TTL, 22), 1);
	ck_assert_int_eq(g->fence, FENCE_ODOWN);
	ck_assert_int_eq(g->fence_since_ms, 20);   /* one fence, since its start */
	topo_set_view(g, 1, "127.0.0.1", 7000, 1, 0, 1102 + TTL);
	ck_assert_int_eq(topo_fence_eval(&t, g, SIGS, 1102 + TTL, 23), 1);
	ck_assert_int_eq(g->fence, FENCE_RECHECK);
	(void)topo_role_result(g, "127.0.0.1", 7000, ROLE_MASTER, 1103 + TTL);
	ck_assert_int_eq(topo_fence_eval(&t, g, SIGS, 1103 + TTL, 24), 1);
	ck_assert(!topo_master_fenced(g));
}
END_TEST

START_TEST(test_fence_failover_decides)
{
	struct group *g = confirmed_master();

	topo_set_view(g, 0, "127.0.0.1", 7000, 1, NODE_O_DOWN, 1100);
	(void)topo_decide(&t, g, 1100, 20);
	ck_assert_int_eq(topo_fence_eval(&t, g, SIGS, 1100, 20), 1);
	/* o_down cleared but a failover is under way: the fence stays */
	topo_set_view(g, 0, "127.0.0.1", 7000, 1, NODE_FAILOVER, 1200);
	(void)topo_decide(&t, g, 1200, 30);
	ck_assert_int_eq(g->master_flags, NODE_FAILOVER);
	ck_assert_int_eq(topo_fence_eval(&t, g, SIGS, 1200, 30), 0);
	ck_assert_int_eq(g->fence, FENCE_ODOWN);
	ck_assert_int_eq(g->confirmed, 1);
	/* the leader has promoted 7001: it names it, with the old master's
	 * flags; that o_down is not about 7001 */
	topo_set_view(g, 0, "127.0.0.1", 7001, 2, NODE_O_DOWN | NODE_FAILOVER, 1250);
	ck_assert_int_eq(topo_decide(&t, g, 1250, 35), TOPO_NEW_MASTER);
	ck_assert_int_eq(topo_fence_eval(&t, g, SIGS, 1250, 35), 1);
	ck_assert(!topo_master_fenced(g));
	(void)topo_role_result(g, "127.0.0.1", 7001, ROLE_MASTER, 1250);
	ck_assert_int_eq(topo_fence_eval(&t, g, SIGS, 1250, 35), 0);
	ck_assert(!topo_master_fenced(g));
	/* back to the old master (a test of the fence reset), then the switch */
	topo_set_view(g, 0, "127.0.0.1", 7000, 3, NODE_O_DOWN, 1260);
	topo_set_view(g, 1, "127.0.0.1", 7000, 3, 0, 1260);
	ck_assert_int_eq(topo_decide(&t, g, 1260, 36), TOPO_NEW_MASTER);
	(void)topo_role_result(g, "127.0.0.1", 7000, ROLE_MASTER, 1260);
	ck_assert_int_eq(topo_fence_eval(&t, g, SIGS, 1260, 36), 1);
	ck_assert_int_eq(g->fence, FENCE_ODOWN);
	/* the failover ends with a new master: the fence ends, rule 4 applies */
	ck_assert_int_eq(topo_fence_link(g, "127.0.0.1", 7000, 1), 1);
	topo_set_view(g, 0, "127.0.0.1", 7001, 4, 0, 1300);
	topo_set_view(g, 1, "127.0.0.1", 7001, 4, 0, 1300);
	ck_assert_int_eq(topo_decide(&t, g, 1300, 40), TOPO_NEW_MASTER);
	ck_assert_int_eq(topo_fence_eval(&t, g, SIGS, 1300, 40), 1);
	ck_assert(!topo_master_fenced(g));
	ck_assert_str_eq(g->fence_dead, "");
	ck_assert_int_eq(g->confirmed, 0);   /* rule 4: ROLE first */
	/* the old master coming back as master of a later epoch is not fenced
	 * by what was seen of it before */
	topo_set_view(g, 0, "127.0.0.1", 7000, 5, 0, 1400);
	topo_set_view(g, 1, "127.0.0.1", 7000, 5, 0, 1400);
	ck_assert_int_eq(topo_decide(&t, g, 1400, 50), TOPO_NEW_MASTER);
	ck_assert_int_eq(topo_fence_eval(&t, g, SIGS, 1400, 50), 0);
	ck_assert(!topo_master_fenced(g));
	ck_assert_str_eq(topo_fence_name(FENCE_DEAD), "dead");
	ck_assert_str_eq(topo_fence_name(FENCE_NONE), "none");
}
END_TEST

/* Hashed lookups stay exact through removals (clusters shift back), and ids
 * are dense, reused, with a serial that tells a reused id apart. */
START_TEST(test_hash_and_ids)
{
	char n[16];
	struct group *g;
	uint64_t serial;

	for (int i = 0; i < 2000; i++) {
		snprintf(n, sizeof(n), "m-%d", i);
		g = topo_get(&t, n);
		ck_assert_ptr_nonnull(g);
		ck_assert_uint_eq(g->id, (uint32_t)i);
		ck_assert_ptr_eq(topo_by_id(&t, g->id), g);
	}
	for (int i = 0; i < 2000; i += 3) {
		snprintf(n, sizeof(n), "m-%d", i);
		topo_remove(&t, n);
	}
	for (int i = 0; i < 2000; i++) {
		snprintf(n, sizeof(n), "m-%d", i);
		g = topo_find(&t, n);
		if (i % 3 == 0) {
			ck_assert_ptr_null(g);
		} else {
			ck_assert_ptr_nonnull(g);
			ck_assert_str_eq(g->name, n);
			ck_assert_ptr_eq(topo_by_id(&t, g->id), g);
		}
	}
	ck_assert_ptr_null(topo_by_id(&t, 0));
	serial = t.next_serial;
	g = topo_get(&t, "new");
	ck_assert_uint_lt(g->id, 2000);
	ck_assert_uint_gt(g->serial, serial);
	ck_assert_ptr_eq(topo_find(&t, "new"), g);
}
END_TEST

static Suite *
topo_suite(void)
{
	Suite *s = suite_create("topo");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_hash_and_ids);
	tcase_add_test(tc, test_first_master);
	tcase_add_test(tc, test_highest_epoch_wins);
	tcase_add_test(tc, test_stale_epoch_ignored);
	tcase_add_test(tc, test_bad_address_view_ignored);
	tcase_add_test(tc, test_majority_lease);
	tcase_add_test(tc, test_lease_renewed_by_ping);
	tcase_add_test(tc, test_lease_known_and_length);
	tcase_add_test(tc, test_lease_eval);
	tcase_add_test(tc, test_view_same);
	tcase_add_test(tc, test_disagree_same_epoch);
	tcase_add_test(tc, test_same_epoch_switch_when_nobody_reports_ours);
	tcase_add_test(tc, test_views_age_out_freeze);
	tcase_add_test(tc, test_role_confirmation);
	tcase_add_test(tc, test_replicas_and_read_ready);
	tcase_add_test(tc, test_replica_seen_by_two);
	tcase_add_test(tc, test_reads_during_failover);
	tcase_add_test(tc, test_master_read_target);
	tcase_add_test(tc, test_flags_merged_over_sentinels);
	tcase_add_test(tc, test_replica_role_probe);
	tcase_add_test(tc, test_replica_loading);
	tcase_add_test(tc, test_ipv6_equal_forms);
	tcase_add_test(tc, test_flags);
	tcase_add_test(tc, test_remove_and_names);
	tcase_add_test(tc, test_fence_dead_and_back);
	tcase_add_test(tc, test_fence_only_the_master);
	tcase_add_test(tc, test_fence_odown);
	tcase_add_test(tc, test_fence_failover_decides);
	tcase_add_test(tc, test_fence_lease);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return unit_run(topo_suite());
}
