/* Unit tests for the planner: exact command lists for the usual scenarios,
 * and a property test that replays random plans on simulated slots. */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plan.h"
#include "unit_main.h"

#define MAINT_SLOT (HAP_ADMF_FMAINT | HAP_ADMF_CMAINT)   /* 5: a "disabled" slot */
#define READY_SLOT HAP_ADMF_CMAINT                       /* 4: after "state ready" */

/* Slot names r0 .. r15 (a row borrows its name). */
static const char *
slot_name(int id)
{
	static char names[16][8];

	ck_assert(id >= 0 && id < 16);
	snprintf(names[id], sizeof(names[id]), "r%d", id);
	return names[id];
}

static struct hap_server
slot(const char *be, int id, const char *addr, int port, unsigned admin)
{
	struct hap_server s;

	memset(&s, 0, sizeof(s));
	s.backend = be;
	s.be_id = 2;
	s.srv_id = id;
	s.name = slot_name(id);
	snprintf(s.addr, sizeof(s.addr), "%s", addr);
	s.port = port;
	s.admin_state = admin;
	s.op_state = (admin & HAP_ADMF_MAINT) ? HAP_OP_STOPPED : HAP_OP_RUNNING;
	return s;
}

static struct plan_target
target(const char *ip, int port, int ready)
{
	struct plan_target t;

	memset(&t, 0, sizeof(t));
	snprintf(t.ip, sizeof(t.ip), "%s", ip);
	t.port = port;
	t.ready = ready;
	return t;
}

static enum plan_cmd_kind
kind_of(const char *text)
{
	if (strncmp(text, "shutdown sessions server ", 25) == 0)
		return PLAN_SHUTDOWN;
	if (strstr(text, " addr "))
		return PLAN_ADDR;
	if (strstr(text, " state maint"))
		return PLAN_MAINT;
	return PLAN_READY;
}

/* The plan is exactly the NULL-terminated list want (and kinds agree). */
static void
assert_cmds(const struct plan *p, size_t from, const char *const *want)
{
	size_t i;

	for (i = 0; want[i]; i++) {
		ck_assert_msg(from + i < p->n, "missing command %zu: %s", i, want[i]);
		ck_assert_str_eq(p->cmds[from + i].text, want[i]);
		ck_assert_int_eq(p->cmds[from + i].kind, kind_of(want[i]));
	}
	ck_assert_msg(from + i == p->n, "%zu extra commands, first: %s", p->n - from - i,
		      p->n > from + i ? p->cmds[from + i].text : "");
}

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

START_TEST(test_initial_fill)
{
	struct hap_server w[] = {
		slot("mymaster_write", 1, "127.0.0.1", 9, MAINT_SLOT),
		slot("mymaster_write", 2, "127.0.0.1", 9, MAINT_SLOT),
		slot("mymaster_write", 3, "127.0.0.1", 9, MAINT_SLOT),
	};
	struct hap_server r[] = {
		slot("mymaster_read", 1, "127.0.0.1", 9, MAINT_SLOT),
		slot("mymaster_read", 2, "127.0.0.1", 9, MAINT_SLOT),
		slot("mymaster_read", 3, "127.0.0.1", 9, MAINT_SLOT),
	};
	/* Sentinel lists the master last here: it still gets the first slot. */
	struct plan_target tw[] = {
		target("127.0.0.1", 7001, 0),
		target("127.0.0.1", 7002, 0),
		target("127.0.0.1", 7000, 1),
	};
	struct plan_target tr[] = {
		target("127.0.0.1", 7001, 1),
		target("127.0.0.1", 7002, 1),
	};
	struct plan p;
	char err[256] = "x";

	plan_init(&p);
	ck_assert_int_eq(plan_backend("mymaster_write", w, NELEM(w), tw, NELEM(tw), 1, &p, err, sizeof(err)), 0);
	ck_assert_str_eq(err, "");
	ck_assert_int_eq(plan_backend("mymaster_read", r, NELEM(r), tr, NELEM(tr), 0, &p, err, sizeof(err)), 0);
	/* addresses in slot order, then ready */
	assert_cmds(&p, 0, (const char *const[]){
		"set server mymaster_write/r1 addr 127.0.0.1 port 7000",
		"set server mymaster_write/r2 addr 127.0.0.1 port 7001",
		"set server mymaster_write/r3 addr 127.0.0.1 port 7002",
		"set server mymaster_write/r1 state ready",
		"set server mymaster_read/r1 addr 127.0.0.1 port 7001",
		"set server mymaster_read/r2 addr 127.0.0.1 port 7002",
		"set server mymaster_read/r1 state ready",
		"set server mymaster_read/r2 state ready",
		NULL });
	ck_assert_int_eq(p.errors, 0);
	/* the replicas' write slots stay in maint: their addresses may wait */
	for (size_t i = 0; i < p.n; i++)
		ck_assert_int_eq(p.cmds[i].stays_maint, i == 1 || i == 2);
	plan_free(&p);
	ck_assert_ptr_null(p.cmds);
}

/* Commands are as long as their text, in one buffer that grows: every text
 * stays right as it moves, and a plan rolled back (a command too long)
 * leaves the others intact. */
START_TEST(test_text_buffer)
{
	struct hap_server w[2];
	struct plan_target t = target("127.0.0.1", 7000, 1);
	char be[64], want[PLAN_CMD_MAX], err[256], longname[PLAN_CMD_MAX];
	struct plan p;
	size_t i;

	plan_init(&p);
	for (i = 0; i < 500; i++) {
		snprintf(be, sizeof(be), "g%zu_write", i);
		w[0] = slot(be, 1, "127.0.0.1", 9, MAINT_SLOT);
		w[1] = slot(be, 2, "127.0.0.1", 9, MAINT_SLOT);
		ck_assert_int_eq(plan_backend(be, w, 2, &t, 1, 1, &p, err, sizeof(err)), 0);
	}
	ck_assert_uint_eq(p.n, 1000);
	ck_assert_uint_lt(p.tcap, p.n * 100);   /* not PLAN_CMD_MAX bytes a command */
	memset(longname, 'x', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	w[0] = slot("b", 1, "127.0.0.1", 9, MAINT_SLOT);
	ck_assert_int_eq(plan_backend(longname, w, 1, &t, 1, 1, &p, err, sizeof(err)), -1);
	ck_assert_uint_eq(p.n, 1000);
	for (i = 0; i < p.n; i++) {
		ck_assert_ptr_eq(p.cmds[i].text, p.text + p.cmds[i].off);
		if (i % 2 == 0)
			snprintf(want, sizeof(want), "set server g%zu_write/r1 addr 127.0.0.1 port 7000", i / 2);
		else
			snprintf(want, sizeof(want), "set server g%zu_write/r1 state ready", i / 2);
		ck_assert_str_eq(p.cmds[i].text, want);
	}
	ck_assert_uint_eq(p.tlen, p.cmds[p.n - 1].off + strlen(p.cmds[p.n - 1].text) + 1);
	plan_clear(&p);
	ck_assert_uint_eq(p.n, 0);
	ck_assert_uint_eq(p.tlen, 0);
	plan_free(&p);
	ck_assert_ptr_null(p.text);
}
END_TEST
END_TEST

START_TEST(test_adoption_noop)
{
	/* What HAProxy holds after the initial fill (and "state ready" leaves CMAINT). */
	struct hap_server w[] = {
		slot("w", 1, "127.0.0.1", 7000, READY_SLOT),
		slot("w", 2, "127.0.0.1", 7001, MAINT_SLOT),
		slot("w", 3, "127.0.0.1", 7002, MAINT_SLOT),
	};
	struct hap_server r[] = {
		slot("r", 1, "127.0.0.1", 7001, READY_SLOT),
		slot("r", 2, "127.0.0.1", 7002, READY_SLOT),
		slot("r", 3, "127.0.0.1", 9, MAINT_SLOT),
	};
	struct plan_target tw[] = {
		target("127.0.0.1", 7002, 0),
		target("127.0.0.1", 7000, 1),
		target("127.0.0.1", 7001, 0),
	};
	struct plan_target tr[] = {
		target("127.0.0.1", 7002, 1),
		target("127.0.0.1", 7001, 1),
	};
	struct plan p;
	char err[256];

	plan_init(&p);
	ck_assert_int_eq(plan_backend("w", w, NELEM(w), tw, NELEM(tw), 1, &p, err, sizeof(err)), 0);
	ck_assert_int_eq(plan_backend("r", r, NELEM(r), tr, NELEM(tr), 0, &p, err, sizeof(err)), 0);
	ck_assert_uint_eq(p.n, 0);
	ck_assert_int_eq(p.errors, 0);
	plan_free(&p);
}
END_TEST

START_TEST(test_promotion)
{
	struct hap_server w[] = {
		slot("mymaster_write", 1, "127.0.0.1", 7000, READY_SLOT),
		slot("mymaster_write", 2, "127.0.0.1", 7001, MAINT_SLOT),
		slot("mymaster_write", 3, "127.0.0.1", 7002, MAINT_SLOT),
	};
	struct plan_target tw[] = {
		target("127.0.0.1", 7001, 1),
		target("127.0.0.1", 7000, 0),
		target("127.0.0.1", 7002, 0),
	};
	struct plan p;
	char err[256];

	plan_init(&p);
	ck_assert_int_eq(plan_backend("mymaster_write", w, NELEM(w), tw, NELEM(tw), 1, &p, err, sizeof(err)), 0);
	assert_cmds(&p, 0, (const char *const[]){
		"set server mymaster_write/r1 state maint",
		"shutdown sessions server mymaster_write/r1",
		"set server mymaster_write/r2 state ready",
		NULL });
	plan_free(&p);
}
END_TEST

START_TEST(test_promotion_old_master_gone)
{
	/* The old master vanished from the targets: its slot is unclaimed. */
	struct hap_server w[] = {
		slot("w", 1, "127.0.0.1", 7000, READY_SLOT),
		slot("w", 2, "127.0.0.1", 7001, MAINT_SLOT),
	};
	struct plan_target tw[] = { target("127.0.0.1", 7001, 1) };
	struct plan p;
	char err[256];

	plan_init(&p);
	ck_assert_int_eq(plan_backend("w", w, NELEM(w), tw, NELEM(tw), 1, &p, err, sizeof(err)), 0);
	assert_cmds(&p, 0, (const char *const[]){
		"set server w/r1 state maint",
		"shutdown sessions server w/r1",
		"set server w/r2 state ready",
		NULL });
	plan_free(&p);
}
END_TEST

START_TEST(test_replica_down)
{
	struct hap_server r[] = {
		slot("r", 1, "127.0.0.1", 7001, READY_SLOT),
		slot("r", 2, "127.0.0.1", 7002, READY_SLOT),
		slot("r", 3, "127.0.0.1", 9, MAINT_SLOT),
	};
	struct plan_target down[] = {
		target("127.0.0.1", 7001, 1),
		target("127.0.0.1", 7002, 0),
	};
	struct plan_target gone[] = { target("127.0.0.1", 7001, 1) };
	struct plan p;
	char err[256];

	plan_init(&p);
	ck_assert_int_eq(plan_backend("r", r, NELEM(r), down, NELEM(down), 0, &p, err, sizeof(err)), 0);
	assert_cmds(&p, 0, (const char *const[]){ "set server r/r2 state maint", NULL });
	ck_assert_int_eq(plan_backend("r", r, NELEM(r), gone, NELEM(gone), 0, &p, err, sizeof(err)), 0);
	assert_cmds(&p, 1, (const char *const[]){ "set server r/r2 state maint", NULL });
	plan_free(&p);
}
END_TEST

START_TEST(test_new_replica)
{
	struct hap_server r[] = {
		slot("r", 1, "127.0.0.1", 7001, READY_SLOT),
		slot("r", 2, "127.0.0.1", 7002, READY_SLOT),
		slot("r", 3, "127.0.0.1", 9, MAINT_SLOT),
	};
	struct plan_target t[] = {
		target("127.0.0.1", 7001, 1),
		target("127.0.0.1", 7003, 1),
		target("127.0.0.1", 7002, 1),
	};
	struct plan p;
	char err[256];

	plan_init(&p);
	ck_assert_int_eq(plan_backend("r", r, NELEM(r), t, NELEM(t), 0, &p, err, sizeof(err)), 0);
	assert_cmds(&p, 0, (const char *const[]){
		"set server r/r3 addr 127.0.0.1 port 7003",
		"set server r/r3 state ready",
		NULL });
	plan_free(&p);
}
END_TEST

START_TEST(test_free_slot_choice)
{
	/* Unclaimed slots in maint are taken before ready ones, then by srv_id. */
	struct hap_server r[] = {
		slot("r", 4, "127.0.0.1", 7009, READY_SLOT),
		slot("r", 3, "127.0.0.1", 9, MAINT_SLOT),
		slot("r", 2, "127.0.0.1", 9, MAINT_SLOT),
	};
	struct plan_target t[] = { target("127.0.0.1", 7003, 1) };
	struct plan p;
	char err[256];

	plan_init(&p);
	ck_assert_int_eq(plan_backend("r", r, NELEM(r), t, NELEM(t), 0, &p, err, sizeof(err)), 0);
	assert_cmds(&p, 0, (const char *const[]){
		"set server r/r4 state maint",
		"set server r/r2 addr 127.0.0.1 port 7003",
		"set server r/r2 state ready",
		NULL });
	plan_free(&p);
}
END_TEST

START_TEST(test_slots_exhausted)
{
	struct hap_server r[] = {
		slot("b", 1, "127.0.0.1", 9, MAINT_SLOT),
		slot("b", 2, "127.0.0.1", 9, MAINT_SLOT),
	};
	struct plan_target t[] = {
		target("127.0.0.1", 7001, 0),
		target("127.0.0.1", 7003, 0),
		target("127.0.0.1", 7002, 1),
	};
	struct plan_target t2[] = {
		target("127.0.0.1", 7001, 0),
		target("127.0.0.1", 7003, 0),
		target("127.0.0.1", 7004, 0),
		target("127.0.0.1", 7002, 1),
	};
	struct plan p;
	char err[256];

	plan_init(&p);
	ck_assert_int_eq(plan_backend("b", r, NELEM(r), t, NELEM(t), 0, &p, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "backend b: no free server slot for 127.0.0.1:7003 (2 slots)");
	ck_assert_int_eq(p.errors, 1);
	/* the ready target got a slot first, and the plan is still produced */
	assert_cmds(&p, 0, (const char *const[]){
		"set server b/r1 addr 127.0.0.1 port 7002",
		"set server b/r2 addr 127.0.0.1 port 7001",
		"set server b/r1 state ready",
		NULL });
	plan_free(&p);

	plan_init(&p);
	ck_assert_int_eq(plan_backend("b", r, NELEM(r), t2, NELEM(t2), 0, &p, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "backend b: no free server slot for 127.0.0.1:7003 and 1 more (2 slots)");
	ck_assert_int_eq(p.errors, 2);
	ck_assert_uint_eq(p.n, 3);
	/* no slots at all */
	ck_assert_int_eq(plan_backend("b", NULL, 0, t, 1, 0, &p, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "backend b: no free server slot for 127.0.0.1:7001 (0 slots)");
	ck_assert_int_eq(p.errors, 3);
	ck_assert_uint_eq(p.n, 3);
	plan_free(&p);
}
END_TEST

START_TEST(test_ready_takes_slot_from_others)
{
	/* Every slot is adopted by a replica that is down; the new master
	 * takes one of them (in maint first, then the lowest srv_id). */
	struct hap_server w[] = {
		slot("w", 1, "127.0.0.1", 7001, READY_SLOT),
		slot("w", 2, "127.0.0.1", 7002, MAINT_SLOT),
	};
	struct plan_target t[] = {
		target("127.0.0.1", 7001, 0),
		target("127.0.0.1", 7002, 0),
		target("127.0.0.1", 7003, 1),
	};
	struct plan p;
	char err[256];

	plan_init(&p);
	ck_assert_int_eq(plan_backend("w", w, NELEM(w), t, NELEM(t), 1, &p, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "backend w: no free server slot for 127.0.0.1:7002 (2 slots)");
	ck_assert_int_eq(p.errors, 1);
	assert_cmds(&p, 0, (const char *const[]){
		"set server w/r1 state maint",
		"shutdown sessions server w/r1",
		"set server w/r2 addr 127.0.0.1 port 7003",
		"set server w/r2 state ready",
		NULL });
	plan_free(&p);
}
END_TEST

START_TEST(test_ipv6)
{
	struct hap_server s[] = {
		slot("v6", 1, "::1", 9, MAINT_SLOT),
		slot("v6", 2, "0:0::1", 7000, READY_SLOT),
	};
	struct plan_target t[] = {
		target("::1", 7000, 1),          /* adopted despite the other spelling */
		target("::1", 7001, 0),
	};
	struct plan_target t3[] = {
		target("::1", 7000, 1),
		target("::1", 7001, 0),
		target("::1", 7003, 0),
	};
	struct plan p;
	char err[256];

	plan_init(&p);
	ck_assert_int_eq(plan_backend("v6", s, NELEM(s), t, NELEM(t), 1, &p, err, sizeof(err)), 0);
	assert_cmds(&p, 0, (const char *const[]){ "set server v6/r1 addr ::1 port 7001", NULL });
	ck_assert_int_eq(plan_backend("v6", s, NELEM(s), t3, NELEM(t3), 1, &p, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "backend v6: no free server slot for [::1]:7003 (2 slots)");
	plan_free(&p);
}
END_TEST

START_TEST(test_duplicate_slot_address)
{
	struct hap_server r[] = {
		slot("r", 1, "127.0.0.1", 7000, READY_SLOT),
		slot("r", 2, "127.0.0.1", 7000, READY_SLOT),
	};
	struct hap_server w[] = {
		slot("w", 1, "127.0.0.1", 7000, MAINT_SLOT),
		slot("w", 2, "127.0.0.1", 7000, READY_SLOT),
	};
	struct hap_server w2[] = {
		slot("w", 1, "127.0.0.1", 7000, MAINT_SLOT),
		slot("w", 2, "127.0.0.1", 7000, MAINT_SLOT),
		slot("w", 3, "127.0.0.1", 7001, MAINT_SLOT),
	};
	struct plan_target t[] = { target("127.0.0.1", 7000, 1) };
	struct plan_target t2[] = { target("127.0.0.1", 7000, 1), target("127.0.0.1", 7001, 0) };
	struct plan p;
	char err[256];

	plan_init(&p);
	/* the second slot with the address counts as unclaimed */
	ck_assert_int_eq(plan_backend("r", r, NELEM(r), t, NELEM(t), 0, &p, err, sizeof(err)), 0);
	assert_cmds(&p, 0, (const char *const[]){ "set server r/r2 state maint", NULL });
	/* the one already serving is kept: nothing flaps */
	ck_assert_int_eq(plan_backend("w", w, NELEM(w), t, NELEM(t), 1, &p, err, sizeof(err)), 0);
	ck_assert_uint_eq(p.n, 1);
	/* neither serves: the first one is used, the other stays in maint untouched */
	ck_assert_int_eq(plan_backend("w", w2, NELEM(w2), t2, NELEM(t2), 1, &p, err, sizeof(err)), 0);
	assert_cmds(&p, 1, (const char *const[]){ "set server w/r1 state ready", NULL });
	plan_free(&p);
}
END_TEST

START_TEST(test_duplicate_targets)
{
	struct hap_server w[] = {
		slot("w", 1, "127.0.0.1", 9, MAINT_SLOT),
		slot("w", 2, "127.0.0.1", 9, MAINT_SLOT),
	};
	struct plan_target t[] = {
		target("127.0.0.1", 7000, 0),
		target("::ffff:127.0.0.2", 7000, 0),
		target("127.0.0.1", 7000, 1),
	};
	struct plan p;
	char err[256];

	plan_init(&p);
	ck_assert_int_eq(plan_backend("w", w, NELEM(w), t, NELEM(t), 1, &p, err, sizeof(err)), 0);
	assert_cmds(&p, 0, (const char *const[]){
		"set server w/r1 addr 127.0.0.1 port 7000",
		"set server w/r2 addr ::ffff:127.0.0.2 port 7000",
		"set server w/r1 state ready",
		NULL });
	plan_free(&p);
}
END_TEST

START_TEST(test_write_two_ready)
{
	struct hap_server w[] = {
		slot("w", 1, "127.0.0.1", 9, MAINT_SLOT),
		slot("w", 2, "127.0.0.1", 9, MAINT_SLOT),
		slot("w", 3, "127.0.0.1", 9, MAINT_SLOT),
	};
	struct plan_target t[] = {
		target("127.0.0.1", 7005, 0),
		target("127.0.0.1", 7000, 1),
		target("127.0.0.1", 7001, 1),
	};
	struct plan p;
	char err[256];

	plan_init(&p);
	ck_assert_int_eq(plan_backend("w", w, NELEM(w), t, NELEM(t), 1, &p, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "backend w: 2 targets want ready in a write backend, only 127.0.0.1:7000 is made ready");
	ck_assert_int_eq(p.errors, 0);
	assert_cmds(&p, 0, (const char *const[]){
		"set server w/r1 addr 127.0.0.1 port 7000",
		"set server w/r2 addr 127.0.0.1 port 7005",
		"set server w/r3 addr 127.0.0.1 port 7001",
		"set server w/r1 state ready",
		NULL });
	plan_free(&p);
	/* the same targets are fine in a read backend */
	plan_init(&p);
	ck_assert_int_eq(plan_backend("r", w, NELEM(w), t, NELEM(t), 0, &p, err, sizeof(err)), 0);
	ck_assert_uint_eq(p.n, 5);
	plan_free(&p);
}
END_TEST

START_TEST(test_reassign_ready_slot)
{
	struct hap_server w[] = { slot("w", 1, "127.0.0.1", 7000, READY_SLOT) };
	struct plan_target t[] = { target("127.0.0.1", 7005, 1) };
	struct plan_target t0[] = { target("127.0.0.1", 7005, 0) };
	struct plan p;
	char err[256];

	plan_init(&p);
	ck_assert_int_eq(plan_backend("w", w, NELEM(w), t, NELEM(t), 1, &p, err, sizeof(err)), 0);
	assert_cmds(&p, 0, (const char *const[]){
		"set server w/r1 state maint",
		"shutdown sessions server w/r1",
		"set server w/r1 addr 127.0.0.1 port 7005",
		"set server w/r1 state ready",
		NULL });
	ck_assert_int_eq(plan_backend("r", w, NELEM(w), t0, NELEM(t0), 0, &p, err, sizeof(err)), 0);
	assert_cmds(&p, 4, (const char *const[]){
		"set server r/r1 state maint",
		"set server r/r1 addr 127.0.0.1 port 7005",
		NULL });
	plan_free(&p);
}
END_TEST

START_TEST(test_draining_slot)
{
	/* Draining is not ready, but still serves its sessions: leaving slots go to maint. */
	struct hap_server w[] = {
		slot("w", 1, "127.0.0.1", 7000, HAP_ADMF_CMAINT | HAP_ADMF_FDRAIN),
		slot("w", 2, "127.0.0.1", 7001, HAP_ADMF_CMAINT | HAP_ADMF_FDRAIN),
	};
	struct plan_target t[] = { target("127.0.0.1", 7001, 1) };
	struct plan p;
	char err[256];

	plan_init(&p);
	ck_assert_int_eq(plan_backend("w", w, NELEM(w), t, NELEM(t), 1, &p, err, sizeof(err)), 0);
	assert_cmds(&p, 0, (const char *const[]){
		"set server w/r1 state maint",
		"shutdown sessions server w/r1",
		"set server w/r2 state ready",
		NULL });
	plan_free(&p);
}
END_TEST

START_TEST(test_bad_targets)
{
	struct hap_server w[] = { slot("w", 1, "127.0.0.1", 9, MAINT_SLOT) };
	struct plan_target t[] = {
		target("redis.example", 7000, 1),
		target("127.0.0.1", 0, 1),
		target("127.0.0.1", 7001, 1),
	};
	struct plan p;
	char err[512];

	plan_init(&p);
	ck_assert_int_eq(plan_backend("w", w, NELEM(w), t, NELEM(t), 1, &p, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "redis.example port 7000 is not an IP address"));
	ck_assert_ptr_nonnull(strstr(err, "; backend w: target 127.0.0.1 port 0"));
	ck_assert_int_eq(p.errors, 2);
	assert_cmds(&p, 0, (const char *const[]){
		"set server w/r1 addr 127.0.0.1 port 7001",
		"set server w/r1 state ready",
		NULL });
	plan_free(&p);
}
END_TEST

START_TEST(test_command_too_long)
{
	struct hap_server w[2];
	struct hap_server other[] = { slot("o", 1, "127.0.0.1", 9, MAINT_SLOT) };
	struct plan_target t[] = { target("1111:2222:3333:4444:5555:6666:7777:8888", 65535, 1) };
	char be[HAP_NAME_MAX], name[HAP_NAME_MAX];
	struct plan p;
	char err[256];

	memset(be, 'b', sizeof(be) - 1);
	be[sizeof(be) - 1] = '\0';
	memset(name, 's', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	w[0] = slot(be, 1, "127.0.0.1", 7000, READY_SLOT);
	w[1] = slot(be, 2, "127.0.0.1", 9, MAINT_SLOT);
	w[1].name = name;
	plan_init(&p);
	ck_assert_int_eq(plan_backend("o", other, 1, t, 1, 0, &p, err, sizeof(err)), 0);
	ck_assert_uint_eq(p.n, 2);
	/* maint + shutdown of r1 fit, the addr command does not: nothing of
	 * this backend is kept, the earlier backend's commands stay */
	ck_assert_int_eq(plan_backend(be, w, 2, t, 1, 1, &p, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "longer than 319 bytes"));
	ck_assert_uint_eq(p.n, 2);
	plan_free(&p);
}
END_TEST

START_TEST(test_empty)
{
	struct plan p;
	char err[16];

	plan_init(&p);
	ck_assert_int_eq(plan_backend("b", NULL, 0, NULL, 0, 1, &p, err, sizeof(err)), 0);
	ck_assert_uint_eq(p.n, 0);
	ck_assert_int_eq(plan_backend("b", NULL, 0, NULL, 0, 0, &p, NULL, 0), 0);
	plan_free(&p);
	plan_free(&p);
}
END_TEST

/* ------------------------------------------------------------ property test */

static uint32_t rng_state;

static uint32_t
rng(uint32_t n)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 17;
	rng_state ^= rng_state << 5;
	return n ? rng_state % n : 0;
}

static int
sim_ready(const struct hap_server *s)
{
	return !(s->admin_state & HAP_ADMF_MAINT) && !(s->admin_state & HAP_ADMF_DRAIN);
}

static size_t
sim_count_ready(const struct hap_server *s, size_t n)
{
	size_t i, c = 0;

	for (i = 0; i < n; i++)
		c += (size_t)sim_ready(&s[i]);
	return c;
}

/* Find the slot a command names ("... server B/S ..."); asserts B. */
static struct hap_server *
sim_slot(struct hap_server *s, size_t n, const char *be, const char *text, const char **rest)
{
	const char *p = strstr(text, "server ");
	const char *slash, *end;
	size_t i;

	ck_assert_ptr_nonnull(p);
	p += 7;
	slash = strchr(p, '/');
	ck_assert_ptr_nonnull(slash);
	ck_assert_uint_eq((size_t)(slash - p), strlen(be));
	ck_assert_int_eq(strncmp(p, be, strlen(be)), 0);
	end = strchr(slash, ' ');
	if (!end)
		end = slash + strlen(slash);
	*rest = *end ? end + 1 : end;
	for (i = 0; i < n; i++)
		if (strlen(s[i].name) == (size_t)(end - slash - 1) &&
		    strncmp(s[i].name, slash + 1, (size_t)(end - slash - 1)) == 0)
			return &s[i];
	ck_abort_msg("no slot for %s", text);
	return NULL;
}

/* Apply one command as HAProxy 2.6 does, checking the ordering rules. */
static void
sim_apply(struct hap_server *s, size_t n, const char *be, int is_write,
	  const struct plan_cmd *c, const struct plan_cmd *prev, int *phase)
{
	const char *rest;
	struct hap_server *sv = sim_slot(s, n, be, c->text, &rest);
	size_t before = sim_count_ready(s, n), i;
	int ph;

	ck_assert_int_eq(c->kind, kind_of(c->text));
	ph = c->kind == PLAN_ADDR ? 1 : c->kind == PLAN_READY ? 2 : 0;
	ck_assert_msg(ph >= *phase, "%s after a later phase", c->text);
	*phase = ph;
	switch (c->kind) {
	case PLAN_MAINT:
		ck_assert_str_eq(rest, "state maint");
		ck_assert_msg(!(sv->admin_state & HAP_ADMF_MAINT), "redundant %s", c->text);
		sv->admin_state = (sv->admin_state & ~(unsigned)HAP_ADMF_FDRAIN) | HAP_ADMF_FMAINT;
		break;
	case PLAN_SHUTDOWN:
		ck_assert(is_write);
		ck_assert_str_eq(rest, "");
		ck_assert_ptr_nonnull(prev);
		ck_assert_int_eq(prev->kind, PLAN_MAINT);
		{
			char want[PLAN_CMD_MAX + 32];

			snprintf(want, sizeof(want), "set server %s state maint", strstr(c->text, "server ") + 7);
			ck_assert_str_eq(prev->text, want);
		}
		break;
	case PLAN_ADDR: {
		char ip[ADDR_IP_MAX];
		int port;

		ck_assert_msg(sv->admin_state & HAP_ADMF_MAINT, "%s on a slot in service", c->text);
		ck_assert_int_eq(sscanf(rest, "addr %63s port %d", ip, &port), 2);
		snprintf(sv->addr, sizeof(sv->addr), "%s", ip);
		sv->port = port;
		break;
	}
	case PLAN_READY:
		ck_assert_str_eq(rest, "state ready");
		ck_assert_msg(!sim_ready(sv), "redundant %s", c->text);
		if (is_write)
			for (i = 0; i < n; i++)
				ck_assert_msg(&s[i] == sv || (s[i].admin_state & HAP_ADMF_MAINT),
					      "%s while %s still serves", c->text, s[i].name);
		sv->admin_state &= ~(unsigned)(HAP_ADMF_FMAINT | HAP_ADMF_FDRAIN);
		break;
	}
	if (is_write) {
		size_t after = sim_count_ready(s, n);

		ck_assert(after <= before || after <= 1);
		if (before <= 1)
			ck_assert_uint_le(after, 1);
	}
	/* in a write backend every maint is followed by its shutdown */
	if (is_write && prev && prev->kind == PLAN_MAINT)
		ck_assert_int_eq(c->kind, PLAN_SHUTDOWN);
}

static const char *const pool_ip[] = { "127.0.0.1", "::1", "0:0::1", "127.0.0.2", "fe80::2" };
static const unsigned pool_admin[] = { 0, 1, 4, 5, 8, 12, 5, 5 };

START_TEST(test_property)
{
	struct hap_server s[6], sim[6];
	struct plan_target t[7], eff[7];
	int eff_ready[7];
	struct plan p, p2;
	char err[512], err2[512];
	int iter;

	rng_state = 0x9e3779b9u;
	for (iter = 0; iter < 5000; iter++) {
		size_t ns = rng(6), nt = rng(8), ne = 0, nready = 0, nready_raw = 0, i, j, missing;
		int is_write = (int)rng(2), ids[6], rc, rc2, phase = 0;

		for (i = 0; i < ns; i++)
			ids[i] = (int)i + 1;
		for (i = ns; i > 1; i--) {
			size_t k = rng((uint32_t)i);
			int tmp = ids[i - 1];

			ids[i - 1] = ids[k];
			ids[k] = tmp;
		}
		for (i = 0; i < ns; i++)
			s[i] = slot("b", ids[i], pool_ip[rng(5)], rng(4) ? 7000 + (int)rng(4) : 9,
				    pool_admin[rng(8)]);
		for (i = 0; i < nt; i++)
			t[i] = target(pool_ip[rng(5)], 7000 + (int)rng(4), (int)rng(3) == 0);

		/* what the planner should aim at */
		for (i = 0; i < nt; i++) {
			for (j = 0; j < ne; j++)
				if (eff[j].port == t[i].port && addr_ip_equal(eff[j].ip, t[i].ip))
					break;
			if (j == ne)
				eff[ne++] = t[i];
			else
				eff[j].ready |= t[i].ready;
		}
		for (j = 0; j < ne; j++) {
			nready_raw += (size_t)eff[j].ready;
			eff_ready[j] = eff[j].ready && (!is_write || nready == 0);
			nready += (size_t)eff_ready[j];
		}
		missing = ne > ns ? ne - ns : 0;

		plan_init(&p);
		rc = plan_backend("b", s, ns, t, nt, is_write, &p, err, sizeof(err));
		ck_assert_int_eq(p.errors, (int)missing);
		ck_assert_int_eq(rc, (missing || (is_write && nready_raw > 1)) ? -1 : 0);
		ck_assert_int_eq(rc < 0, err[0] != '\0');

		memcpy(sim, s, sizeof(s));
		for (i = 0; i < p.n; i++)
			sim_apply(sim, ns, "b", is_write, &p.cmds[i], i ? &p.cmds[i - 1] : NULL, &phase);
		if (is_write && p.n)
			ck_assert_int_ne(p.cmds[p.n - 1].kind, PLAN_MAINT);

		/* The addresses of slots left in maint may go last (reconcile.c
		 * sends a write backend's after the read side): same rules, same
		 * result. */
		{
			struct hap_server sim2[6];
			const struct plan_cmd *prev = NULL;
			int phase2 = 0;

			memcpy(sim2, s, sizeof(s));
			for (int later = 0; later < 2; later++) {
				for (i = 0; i < p.n; i++) {
					if (p.cmds[i].stays_maint != later)
						continue;
					if (later) {
						size_t len = (size_t)(strstr(p.cmds[i].text, " addr ") - p.cmds[i].text);

						ck_assert_int_eq(p.cmds[i].kind, PLAN_ADDR);
						for (j = 0; j < p.n; j++)
							ck_assert_msg(p.cmds[j].kind != PLAN_READY ||
								      strncmp(p.cmds[j].text, p.cmds[i].text, len) != 0 ||
								      strcmp(p.cmds[j].text + len, " state ready") != 0,
								      "iter %d: %s is made ready", iter, p.cmds[i].text);
						phase2 = 1;
					}
					sim_apply(sim2, ns, "b", is_write, &p.cmds[i], prev, &phase2);
					prev = &p.cmds[i];
				}
			}
			for (i = 0; i < ns; i++) {
				ck_assert_str_eq(sim2[i].addr, sim[i].addr);
				ck_assert_int_eq(sim2[i].port, sim[i].port);
				ck_assert_uint_eq(sim2[i].admin_state, sim[i].admin_state);
			}
		}

		/* final state: ready slots = ready targets that fit, each once */
		ck_assert_uint_eq(sim_count_ready(sim, ns), (nready < ns ? nready : ns));
		for (i = 0; i < ns; i++) {
			size_t k;

			ck_assert(sim_ready(&sim[i]) || (sim[i].admin_state & HAP_ADMF_MAINT));
			if (!sim_ready(&sim[i]))
				continue;
			for (j = 0; j < ne; j++)
				if (eff_ready[j] && eff[j].port == sim[i].port && addr_ip_equal(eff[j].ip, sim[i].addr))
					break;
			ck_assert_msg(j < ne, "iter %d: ready slot %s holds no ready target", iter, sim[i].name);
			for (k = i + 1; k < ns; k++)
				ck_assert(!sim_ready(&sim[k]) || sim[k].port != sim[i].port ||
					  !addr_ip_equal(sim[k].addr, sim[i].addr));
		}
		if (!missing) {
			for (j = 0; j < ne; j++) {
				int found = 0;

				for (i = 0; i < ns; i++)
					if (sim[i].port == eff[j].port && addr_ip_equal(sim[i].addr, eff[j].ip) &&
					    (sim_ready(&sim[i]) || !eff_ready[j]))
						found = 1;
				ck_assert_msg(found, "iter %d: target %s:%d not in place", iter, eff[j].ip, eff[j].port);
			}
		}

		/* plan_apply (the reconciler's mirror) leaves what HAProxy does */
		{
			struct hap_server ap[6];

			memcpy(ap, s, sizeof(s));
			plan_apply(ap, ns, t, nt, p.cmds, p.n);
			for (i = 0; i < ns; i++) {
				ck_assert_str_eq(ap[i].addr, sim[i].addr);
				ck_assert_int_eq(ap[i].port, sim[i].port);
				ck_assert_uint_eq(ap[i].admin_state, sim[i].admin_state);
			}
		}

		/* A write backend planned "sure" (from the agent's record, not
		 * a read): the same result; before any slot is made ready
		 * every slot that does not end ready has been put in maint, and
		 * before a slot's address changes that slot, whatever the
		 * slots said; sessions are shut down when they said it served;
		 * a plan that readies and readdresses nothing is unchanged. */
		if (is_write) {
			struct hap_server ap[6];
			int maint_seen[6] = { 0 }, readied = 0, moves = 0;

			plan_init(&p2);
			rc2 = plan_backend("b", s, ns, t, nt, PLAN_WRITE_SURE, &p2, err2, sizeof(err2));
			ck_assert_int_eq(rc2, rc);
			memcpy(ap, s, sizeof(s));
			plan_apply(ap, ns, t, nt, p2.cmds, p2.n);
			for (i = 0; i < ns; i++) {
				ck_assert_str_eq(ap[i].addr, sim[i].addr);
				ck_assert_int_eq(ap[i].port, sim[i].port);
				ck_assert_uint_eq(ap[i].admin_state & HAP_ADMF_MAINT, sim[i].admin_state & HAP_ADMF_MAINT);
			}
			for (i = 0; i < p2.n; i++) {
				const struct plan_cmd *c = &p2.cmds[i];

				ck_assert_int_ge(c->slot, 0);
				ck_assert_int_lt(c->slot, (int)ns);
				if (c->kind == PLAN_MAINT)
					maint_seen[c->slot] = 1;
				if (c->kind == PLAN_ADDR) {
					ck_assert_msg(maint_seen[c->slot], "iter %d: %s before its slot is put in maint",
						      iter, c->text);
					moves = 1;
				}
				if (c->kind == PLAN_SHUTDOWN)
					ck_assert(!(s[c->slot].admin_state & HAP_ADMF_MAINT));
				if (c->kind == PLAN_READY) {
					ck_assert_int_eq(readied++, 0);
					for (j = 0; j < ns; j++)
						ck_assert_msg((int)j == c->slot || maint_seen[j],
							      "iter %d: %s before %s is put in maint", iter, c->text,
							      s[j].name);
				}
			}
			if (!readied && !moves) {
				ck_assert_uint_eq(p2.n, p.n);
				for (i = 0; i < p.n; i++)
					ck_assert_str_eq(p2.cmds[i].text, p.cmds[i].text);
			}
			plan_free(&p2);
		}

		/* planning again on the result changes nothing */
		plan_init(&p2);
		rc2 = plan_backend("b", sim, ns, t, nt, is_write, &p2, err2, sizeof(err2));
		ck_assert_msg(p2.n == 0, "iter %d: not idempotent: %s", iter, p2.n ? p2.cmds[0].text : "");
		ck_assert_int_eq(rc2, rc);
		ck_assert_int_eq(p2.errors, p.errors);
		plan_free(&p2);
		plan_free(&p);
	}
}
END_TEST

static Suite *
plan_suite(void)
{
	Suite *s = suite_create("plan");
	TCase *tc = tcase_create("scenarios");
	TCase *tp = tcase_create("property");

	tcase_add_test(tc, test_initial_fill);
	tcase_add_test(tc, test_adoption_noop);
	tcase_add_test(tc, test_promotion);
	tcase_add_test(tc, test_promotion_old_master_gone);
	tcase_add_test(tc, test_replica_down);
	tcase_add_test(tc, test_new_replica);
	tcase_add_test(tc, test_free_slot_choice);
	tcase_add_test(tc, test_slots_exhausted);
	tcase_add_test(tc, test_ready_takes_slot_from_others);
	tcase_add_test(tc, test_ipv6);
	tcase_add_test(tc, test_duplicate_slot_address);
	tcase_add_test(tc, test_text_buffer);
	tcase_add_test(tc, test_duplicate_targets);
	tcase_add_test(tc, test_write_two_ready);
	tcase_add_test(tc, test_reassign_ready_slot);
	tcase_add_test(tc, test_draining_slot);
	tcase_add_test(tc, test_bad_targets);
	tcase_add_test(tc, test_command_too_long);
	tcase_add_test(tc, test_empty);
	suite_add_tcase(s, tc);
	tcase_set_timeout(tp, 120);
	tcase_add_test(tp, test_property);
	suite_add_tcase(s, tp);
	return s;
}

int
main(void)
{
	return unit_run(plan_suite());
}
