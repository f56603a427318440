/* The journal: event ring, command ring, failover timelines. No server. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "journal.h"
#include "unit_main.h"

static struct journal j;

static void
setup(void)
{
	journal_init(&j);
}

static void
teardown(void)
{
	journal_free(&j);
}

START_TEST(test_event_ring)
{
	for (int i = 0; i < JOURNAL_EVENTS + 10; i++)
		journal_add(&j, 1000 + i, "agent", "", "m", "t", "event %d", i);
	ck_assert_uint_eq(j.ev_count, JOURNAL_EVENTS);
	ck_assert_uint_eq(j.ev_total, JOURNAL_EVENTS + 10);
	ck_assert_str_eq(journal_event(&j, 0)->text, "event 521");
	ck_assert_str_eq(journal_event(&j, JOURNAL_EVENTS - 1)->text, "event 10");
	ck_assert_ptr_null(journal_event(&j, JOURNAL_EVENTS));
	ck_assert_uint_eq(journal_event(&j, 0)->seq, JOURNAL_EVENTS + 10);
}
END_TEST

static int hook_calls;

static void
hook(void *arg, const struct jevent *e)
{
	(void)arg;
	ck_assert_str_eq(e->type, "switch");
	hook_calls++;
}

START_TEST(test_hook_and_truncation)
{
	char big[1000];

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	j.on_event = hook;
	journal_add(&j, 1, "agent", NULL, NULL, "switch", "%s", big);
	ck_assert_int_eq(hook_calls, 1);
	ck_assert_uint_eq(strlen(journal_event(&j, 0)->text), JEVENT_TEXT_MAX - 1);
	ck_assert_str_eq(journal_event(&j, 0)->master, "");
}
END_TEST

START_TEST(test_commands)
{
	journal_cmd(&j, 5, "show info", "Name: HAProxy\nPid: 1\n", 21, 1);
	journal_cmd(&j, 6, "set server b/s state ready", "No such server.\n", 16, 0);
	ck_assert_str_eq(journal_cmd_at(&j, 0)->command, "set server b/s state ready");
	ck_assert_int_eq(journal_cmd_at(&j, 0)->ok, 0);
	ck_assert_str_eq(journal_cmd_at(&j, 1)->reply, "Name: HAProxy Pid: 1 ");
	ck_assert_ptr_null(journal_cmd_at(&j, 2));
}
END_TEST

START_TEST(test_timeline_failover)
{
	const struct tl_record *r;

	ck_assert_ptr_nonnull(journal_stage(&j, "m", TL_SDOWN, 1000, "127.0.0.1:7000", NULL, 0));
	journal_stage(&j, "m", TL_ODOWN, 1100, NULL, NULL, 0);
	journal_stage(&j, "m", TL_SDOWN, 1150, NULL, NULL, 0);   /* second Sentinel: first time kept */
	journal_stage(&j, "m", TL_PROMOTED, 2000, NULL, "127.0.0.1:7001", 0);
	journal_stage(&j, "m", TL_DECISION, 2001, "127.0.0.1:7000", "127.0.0.1:7001", 3);
	journal_stage(&j, "m", TL_ROLE_CONFIRMED, 2002, NULL, NULL, 0);
	journal_stage(&j, "m", TL_HAPROXY_SENT, 2003, NULL, NULL, 0);
	journal_stage(&j, "m", TL_HAPROXY_ACKED, 2004, NULL, NULL, 0);
	r = journal_timeline(&j, 0);
	ck_assert_int_eq(r->complete, 0);
	journal_stage(&j, "m", TL_SWITCH_SEEN, 2100, "127.0.0.1:7000", "127.0.0.1:7001", 0);
	ck_assert_int_eq(r->complete, 1);
	ck_assert_uint_eq(j.tl_count, 1);
	ck_assert_int_eq(r->at[TL_SDOWN], 1000);
	ck_assert_str_eq(r->from, "127.0.0.1:7000");
	ck_assert_str_eq(r->to, "127.0.0.1:7001");
	ck_assert_uint_eq(r->epoch, 3);
	ck_assert_int_eq(tl_start(r), 1000);
	ck_assert_int_eq(tl_end(r), 2100);
	/* the other Sentinels announce the same switch later: no new record */
	journal_stage(&j, "m", TL_SWITCH_SEEN, 2200, "127.0.0.1:7000", "127.0.0.1:7001", 0);
	ck_assert_uint_eq(j.tl_count, 1);
	/* a new failover later opens a new record */
	journal_stage(&j, "m", TL_SDOWN, 60000, "127.0.0.1:7001", NULL, 0);
	ck_assert_uint_eq(j.tl_count, 2);
	ck_assert_int_eq(journal_timeline(&j, 0)->at[TL_SDOWN], 60000);
	ck_assert_int_eq(journal_timeline(&j, 1)->at[TL_SDOWN], 1000);
}
END_TEST

/* A fence (or +sdown) with no failover after it: the same master back ends
 * the record at once, as "no-failover"; a record with a promotion is not
 * ended that way, nor one about another address. */
START_TEST(test_timeline_master_back)
{
	struct tl_record *r;

	ck_assert_ptr_nonnull(journal_stage(&j, "m", TL_FENCED, 1000, "127.0.0.1:7000", NULL, 0));
	journal_stage(&j, "m", TL_SDOWN, 1500, "127.0.0.1:7000", NULL, 0);
	ck_assert_ptr_null(journal_master_back(&j, "m", 1600, "127.0.0.1:7001"));
	r = journal_master_back(&j, "m", 1700, "127.0.0.1:7000");
	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(r->complete, 1);
	ck_assert_int_eq(r->outcome, TL_NO_FAILOVER);
	ck_assert_str_eq(tl_outcome_name(r->outcome), "no-failover");
	ck_assert_int_eq(r->at[TL_MASTER_BACK], 1700);
	ck_assert_int_eq(tl_end(r), 1700);
	ck_assert_str_eq(r->to, "127.0.0.1:7000");
	/* closed: nothing more joins it, a later -sdown finds nothing open */
	ck_assert_ptr_null(journal_master_back(&j, "m", 1800, "127.0.0.1:7000"));
	/* a late announcement of nothing does not join it: a new record */
	journal_stage(&j, "m", TL_SDOWN, 1900, "127.0.0.1:7000", NULL, 0);
	ck_assert_uint_eq(j.tl_count, 2);
	/* a record with a promotion is left to the switch */
	journal_stage(&j, "m", TL_PROMOTED, 2000, NULL, "127.0.0.1:7001", 0);
	ck_assert_ptr_null(journal_master_back(&j, "m", 2100, "127.0.0.1:7000"));
	ck_assert_int_eq(journal_timeline(&j, 0)->complete, 0);
	ck_assert_str_eq(tl_outcome_name(journal_timeline(&j, 0)->outcome), "in-progress");
	ck_assert_str_eq(tl_stage_name(TL_MASTER_BACK), "master-back");
}
END_TEST

START_TEST(test_timeline_rules)
{
	/* stages that cannot start a failover do not open one */
	ck_assert_ptr_null(journal_stage(&j, "m", TL_HAPROXY_ACKED, 10, NULL, NULL, 0));
	ck_assert_ptr_null(journal_stage(&j, "m", TL_ROLE_CONFIRMED, 10, NULL, NULL, 0));
	ck_assert_ptr_null(journal_stage(&j, "", TL_SDOWN, 10, NULL, NULL, 0));
	ck_assert_ptr_null(journal_stage(&j, "m", TL_NSTAGES, 10, NULL, NULL, 0));
	ck_assert_uint_eq(j.tl_count, 0);
	/* groups are kept apart; an open record expires */
	journal_stage(&j, "a", TL_SDOWN, 100, NULL, NULL, 0);
	journal_stage(&j, "b", TL_SDOWN, 100, NULL, NULL, 0);
	ck_assert_uint_eq(j.tl_count, 2);
	journal_stage(&j, "a", TL_ODOWN, 100 + JOURNAL_TL_OPEN_MS + 1, NULL, NULL, 0);
	ck_assert_uint_eq(j.tl_count, 3);
	for (int i = 0; i < JOURNAL_TIMELINES * 2; i++) {
		char n[16];

		snprintf(n, sizeof(n), "g%d", i);
		journal_stage(&j, n, TL_DECISION, 1000, "x", "y", 1);
	}
	ck_assert_uint_eq(j.tl_count, JOURNAL_TIMELINES);
	ck_assert_str_eq(journal_timeline(&j, 0)->master, "g127");
	ck_assert_str_eq(tl_stage_name(TL_SWITCH_SEEN), "switch-master-seen");
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("journal");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_event_ring);
	tcase_add_test(tc, test_hook_and_truncation);
	tcase_add_test(tc, test_commands);
	tcase_add_test(tc, test_timeline_failover);
	tcase_add_test(tc, test_timeline_rules);
	tcase_add_test(tc, test_timeline_master_back);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
