/* Hostnames: the name syntax, the resolver cache's pure rules (TTL clamp,
 * retry backoff, answers fed in without a DNS server) and what the model
 * does with a name's address. No servers, no DNS traffic. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ev.h>

#include "log.h"
#include "resolve.h"
#include "topo.h"
#include "util.h"
#include "unit_main.h"

/* ------------------------------------------------------------ names */

START_TEST(test_hostname_syntax)
{
	static const char *const ok[] = {
		"redis-a", "node1.lab", "r0.example.com.", "a", "x_y", "1-2", "0a.example",
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",   /* 63 */
	};
	static const char *const nok[] = {
		"", "-a", "a-", "a..b", ".a", "a.-b", "a-.b", "1.2.3.4", "1.2.3", "a b", "a;b", "a\nb", "a:b",
		"[::1]", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",   /* 64 */
		"a.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.b",     /* too long */
	};

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		ck_assert_msg(addr_is_hostname(ok[i]), "'%s' refused", ok[i]);
	for (size_t i = 0; i < sizeof(nok) / sizeof(nok[0]); i++)
		ck_assert_msg(!addr_is_hostname(nok[i]), "'%s' accepted", nok[i]);
	ck_assert(addr_is_host("10.0.0.1"));
	ck_assert(addr_is_host("::1"));
	ck_assert(addr_is_host("redis-a"));
	ck_assert(!addr_is_host("a;b"));
}
END_TEST

/* ------------------------------------------------------------ cache rules */

START_TEST(test_ttl_clamp)
{
	ck_assert_int_eq(resolve_clamp_ttl(0, 1000, 30000), 1000);
	ck_assert_int_eq(resolve_clamp_ttl(-5, 1000, 30000), 1000);
	ck_assert_int_eq(resolve_clamp_ttl(5, 1000, 30000), 5000);
	ck_assert_int_eq(resolve_clamp_ttl(86400, 1000, 30000), 30000);
	ck_assert_int_eq(resolve_clamp_ttl(2147483647L, 1000, 30000), 30000);
}
END_TEST

START_TEST(test_retry_backoff)
{
	ck_assert_int_eq(resolve_retry_ms(1, 1000, 30000), 1000);
	ck_assert_int_eq(resolve_retry_ms(2, 1000, 30000), 2000);
	ck_assert_int_eq(resolve_retry_ms(5, 1000, 30000), 16000);
	ck_assert_int_eq(resolve_retry_ms(6, 1000, 30000), 30000);
	ck_assert_int_eq(resolve_retry_ms(1000, 1000, 30000), 30000);
}
END_TEST

static struct ev_loop *loop;
static struct resolver *res;
static int nchanged;

static void
on_changed(void *arg, const char *name)
{
	(void)arg;
	(void)name;
	nchanged++;
}

static void
rsetup(void)
{
	char err[128];

	loop = ev_loop_new(0);
	ck_assert_ptr_nonnull(loop);
	/* A server that is never asked: the loop never runs here. */
	res = resolver_new(loop, "127.0.0.1:9", 1000, 30000, on_changed, NULL, err, sizeof(err));
	ck_assert_msg(res != NULL, "%s", err);
	nchanged = 0;
}

static void
rteardown(void)
{
	resolver_free(res);
	ev_loop_destroy(loop);
}

START_TEST(test_bad_servers)
{
	char err[128];

	ck_assert_ptr_null(resolver_new(loop, "not a server", 1000, 30000, on_changed, NULL, err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "resolver 'not a server'"));
}
END_TEST

START_TEST(test_lookup_literal_and_pending)
{
	char addr[ADDR_IP_MAX];
	struct resolve_info ri;

	ck_assert_int_eq(resolver_lookup(res, "10.1.2.3", addr, sizeof(addr)), RESOLVE_OK);
	ck_assert_str_eq(addr, "10.1.2.3");
	ck_assert_int_eq(resolver_count(res), 0);
	ck_assert_int_eq(resolver_lookup(res, "a;b", addr, sizeof(addr)), RESOLVE_FAILED);
	ck_assert_int_eq(resolver_count(res), 0);
	ck_assert_int_eq(resolver_lookup(res, "redis-a", addr, sizeof(addr)), RESOLVE_PENDING);
	ck_assert_str_eq(addr, "");
	ck_assert_int_eq(resolver_count(res), 1);
	ck_assert_int_eq(resolver_info(res, "REDIS-A", &ri), 0);   /* case-insensitive */
	ck_assert_int_eq(ri.state, RESOLVE_PENDING);
	ck_assert_int_eq(resolver_info(res, "redis-b", &ri), -1);
}
END_TEST

START_TEST(test_feed_ok_change_fail)
{
	char addr[ADDR_IP_MAX];
	struct resolve_info ri;

	(void)resolver_lookup(res, "redis-a", addr, sizeof(addr));
	ck_assert_int_eq(resolver_feed(res, "redis-a", 1, "10.0.0.5", 5, NULL, 1000), 1);
	ck_assert_int_eq(resolver_lookup(res, "redis-a", addr, sizeof(addr)), RESOLVE_OK);
	ck_assert_str_eq(addr, "10.0.0.5");
	ck_assert_int_eq(resolver_info(res, "redis-a", &ri), 0);
	ck_assert_int_eq(ri.ttl_ms, 5000);
	ck_assert_int_eq(ri.expires_ms, 6000);
	ck_assert_int_eq(ri.changes, 0);
	/* The same answer again: no news. */
	ck_assert_int_eq(resolver_feed(res, "redis-a", 1, "10.0.0.5", 5, NULL, 2000), 0);
	/* A new address behind the name. */
	ck_assert_int_eq(resolver_feed(res, "redis-a", 1, "10.0.0.6", 100000, NULL, 3000), 1);
	ck_assert_int_eq(resolver_info(res, "redis-a", &ri), 0);
	ck_assert_str_eq(ri.addr, "10.0.0.6");
	ck_assert_int_eq(ri.changes, 1);
	ck_assert_int_eq(ri.ttl_ms, 30000);
	/* NXDOMAIN: unknown, no address, the last one remembered for status. */
	ck_assert_int_eq(resolver_feed(res, "redis-a", 0, NULL, 0, "NXDOMAIN", 4000), 1);
	ck_assert_int_eq(resolver_lookup(res, "redis-a", addr, sizeof(addr)), RESOLVE_FAILED);
	ck_assert_str_eq(addr, "");
	ck_assert_int_eq(resolver_info(res, "redis-a", &ri), 0);
	ck_assert_str_eq(ri.error, "NXDOMAIN");
	ck_assert_str_eq(ri.last, "10.0.0.6");
	ck_assert_int_eq(ri.expires_ms, 5000);
	/* Failing again: same state, retried later. */
	ck_assert_int_eq(resolver_feed(res, "redis-a", 0, NULL, 0, "timeout", 5000), 0);
	ck_assert_int_eq(resolver_info(res, "redis-a", &ri), 0);
	ck_assert_int_eq(ri.expires_ms, 7000);
	/* A garbage answer is no address. */
	ck_assert_int_eq(resolver_feed(res, "redis-a", 1, "not-an-ip", 5, NULL, 6000), 0);
	ck_assert_int_eq(resolver_lookup(res, "redis-a", addr, sizeof(addr)), RESOLVE_FAILED);
	/* Back. */
	ck_assert_int_eq(resolver_feed(res, "redis-a", 1, "::1", 5, NULL, 7000), 1);
	ck_assert_int_eq(resolver_lookup(res, "redis-a", addr, sizeof(addr)), RESOLVE_OK);
	ck_assert_str_eq(addr, "::1");
	/* An answer for a name nobody asked about is ignored. */
	ck_assert_int_eq(resolver_feed(res, "redis-z", 1, "10.0.0.9", 5, NULL, 7000), 0);
}
END_TEST

START_TEST(test_many_names)
{
	char name[32], addr[ADDR_IP_MAX];

	for (int i = 0; i < 1000; i++) {
		snprintf(name, sizeof(name), "node-%d", i);
		ck_assert_int_eq(resolver_lookup(res, name, addr, sizeof(addr)), RESOLVE_PENDING);
	}
	ck_assert_int_eq(resolver_count(res), 1000);
	for (int i = 0; i < 1000; i++) {
		char ip[32];

		snprintf(name, sizeof(name), "node-%d", i);
		snprintf(ip, sizeof(ip), "10.0.%d.%d", i / 256, i % 256);
		ck_assert_int_eq(resolver_feed(res, name, 1, ip, 5, NULL, 1), 1);
	}
	ck_assert_int_eq(resolver_lookup(res, "node-777", addr, sizeof(addr)), RESOLVE_OK);
	ck_assert_str_eq(addr, "10.0.3.9");
}
END_TEST

/* ------------------------------------------------------------ the model */

static struct topo t;

START_TEST(test_master_by_name)
{
	struct group *g;

	topo_init(&t, 1, 3000);
	g = topo_get(&t, "m");
	topo_set_view(g, 0, "redis-a", 6379, 1, 0, 100);
	ck_assert_int_eq(topo_decide(&t, g, 100, 100), TOPO_NEW_MASTER);
	ck_assert_str_eq(g->master_ip, "redis-a");
	ck_assert_str_eq(g->master_addr, "");   /* not resolved yet: no target */
	/* Pending/failed with no address: nothing changes. */
	ck_assert_int_eq(topo_master_resolved(g, ""), 0);
	ck_assert_int_eq(topo_master_resolved(g, "10.0.0.5"), 1);
	ck_assert_str_eq(g->master_addr, "10.0.0.5");
	ck_assert_int_eq(topo_role_result(g, "redis-a", 6379, ROLE_MASTER, 200), 1);
	ck_assert_int_eq(g->confirmed, 1);
	/* The name now fails: unknown is no switch; HAProxy keeps the
	 * confirmed address. */
	ck_assert_int_eq(topo_master_resolved(g, ""), 0);
	ck_assert_str_eq(g->master_addr, "10.0.0.5");
	ck_assert_int_eq(g->confirmed, 1);
	/* It moved: ROLE is asked again at the new address. */
	ck_assert_int_eq(topo_master_resolved(g, "10.0.0.6"), 1);
	ck_assert_str_eq(g->master_addr, "10.0.0.6");
	ck_assert_int_eq(g->confirmed, 0);
	/* Unconfirmed and failing: no address at all. */
	ck_assert_int_eq(topo_master_resolved(g, ""), 1);
	ck_assert_str_eq(g->master_addr, "");
	/* Hostile text is still no target. */
	topo_set_view(g, 0, "a;b", 6379, 2, 0, 300);
	ck_assert_int_eq(g->views[0].valid, 0);
	topo_free(&t);
}
END_TEST

START_TEST(test_master_by_ip_unaffected)
{
	struct group *g;

	topo_init(&t, 1, 3000);
	g = topo_get(&t, "m");
	topo_set_view(g, 0, "10.0.0.1", 6379, 1, 0, 100);
	ck_assert_int_eq(topo_decide(&t, g, 100, 100), TOPO_NEW_MASTER);
	ck_assert_str_eq(g->master_addr, "10.0.0.1");
	ck_assert_int_eq(topo_master_resolved(g, "10.9.9.9"), 0);
	ck_assert_int_eq(topo_master_resolved(g, ""), 0);
	ck_assert_str_eq(g->master_addr, "10.0.0.1");
	topo_free(&t);
}
END_TEST

START_TEST(test_replica_by_name)
{
	struct group *g;
	struct node r, *n;

	topo_init(&t, 1, 3000);
	g = topo_get(&t, "m");
	topo_set_view(g, 0, "redis-a", 6379, 1, 0, 100);
	(void)topo_decide(&t, g, 100, 100);
	(void)topo_master_resolved(g, "10.0.0.5");
	memset(&r, 0, sizeof(r));
	strcpy(r.ip, "redis-b");
	r.port = 6379;
	strcpy(r.master_ip, "redis-a");
	r.master_port = 6379;
	topo_replica_update(g, 0, &r);
	topo_replicas_end(g, 0);
	n = group_find_node(g, "redis-b", 6379);
	ck_assert_ptr_nonnull(n);
	ck_assert_str_eq(n->addr, "");
	/* Read-ready by Sentinel's word, but not routable until resolved. */
	ck_assert(topo_node_read_ready(g, n, 1000000));
	ck_assert(!topo_any_replica_read_ready(g, 1000000));
	ck_assert_int_eq(topo_node_resolved(g, n, "10.0.0.7"), 1);
	ck_assert(topo_any_replica_read_ready(g, 1000000));
	ck_assert_int_eq(topo_node_resolved(g, n, "10.0.0.7"), 0);
	n->role = ROLE_SLAVE;
	n->role_at_ms = 5;
	ck_assert_int_eq(topo_node_resolved(g, n, "10.0.0.8"), 1);
	ck_assert_int_eq(n->role, ROLE_UNKNOWN);   /* ROLE was about the old address */
	ck_assert_int_eq(topo_node_resolved(g, n, ""), 1);
	ck_assert(!topo_any_replica_read_ready(g, 1000000));
	topo_free(&t);
}
END_TEST

static Suite *
resolve_suite(void)
{
	Suite *s = suite_create("resolve");
	TCase *tc = tcase_create("names");
	TCase *tr = tcase_create("cache");

	tcase_add_test(tc, test_hostname_syntax);
	tcase_add_test(tc, test_ttl_clamp);
	tcase_add_test(tc, test_retry_backoff);
	tcase_add_test(tc, test_master_by_name);
	tcase_add_test(tc, test_master_by_ip_unaffected);
	tcase_add_test(tc, test_replica_by_name);
	suite_add_tcase(s, tc);
	tcase_add_checked_fixture(tr, rsetup, rteardown);
	tcase_add_test(tr, test_bad_servers);
	tcase_add_test(tr, test_lookup_literal_and_pending);
	tcase_add_test(tr, test_feed_ok_change_fail);
	tcase_add_test(tr, test_many_names);
	suite_add_tcase(s, tr);
	return s;
}

int
main(void)
{
	log_open("check_resolve", 0, LOG_LVL_ERR);
	return unit_run(resolve_suite());
}
