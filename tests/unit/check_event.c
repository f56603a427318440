/* Unit tests for the Sentinel Pub/Sub event parser (agent/event.c).
 *
 * The payloads are real: tests/data/sentinel-events.txt was captured from
 * redis-sentinel 7.0 by tests/data/capture-events.sh, and the exact-field
 * table below copies lines from it. Every input is handed to sev_parse() in
 * a malloc'd buffer of exactly its length, without a NUL, so that
 * AddressSanitizer catches any read past len. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1  /* getline, strdup under -std=c11 */
#endif
#include "event.h"
#include "unit_main.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef SRCDIR
#error "SRCDIR must be defined (the top source directory, as a string)"
#endif

#define EVENTS_FILE SRCDIR "/tests/data/sentinel-events.txt"

/* Parse from exact-size copies of channel[0..chlen) and payload[0..plen). */
static int
parse_n(const char *ch, size_t chlen, const char *pl, size_t plen, struct sentinel_event *ev)
{
	char *c = malloc(chlen ? chlen : 1), *p = malloc(plen ? plen : 1);
	int r;

	ck_assert_ptr_nonnull(c);
	ck_assert_ptr_nonnull(p);
	memcpy(c, ch, chlen);
	memcpy(p, pl, plen);
	r = sev_parse(c, chlen, p, plen, ev);
	free(c);
	free(p);
	return r;
}

static int
parse_s(const char *ch, const char *pl, struct sentinel_event *ev)
{
	return parse_n(ch, strlen(ch), pl, strlen(pl), ev);
}

static int
all_zero(const struct sentinel_event *ev)
{
	const unsigned char *p = (const unsigned char *)ev;
	size_t i;

	for (i = 0; i < sizeof(*ev); i++)
		if (p[i])
			return 0;
	return 1;
}

/* -------------------------------------------------- exact fields, per kind */

struct row {
	const char *ch, *pl;
	enum sev_type type;
	enum sev_inst_type it;
	const char *name, *ip;
	int port;
	const char *master, *mip;
	int mport;
	const char *nip;
	int nport;
	unsigned long long epoch;
	const char *extra;
	const char *line;  /* sev_format() */
};

#define RID1 "7b215efd27f146c47eb560e0781f742688284e30"
#define RID2 "14dc3cc1e3e4908f2d745b344d294dbc671d2647"
#define LH "127.0.0.1"

static const struct row rows[] = {
	{ "+switch-master", "mymaster " LH " 48817 " LH " 45269", SEV_SWITCH_MASTER, SEV_INST_NONE,
	  "", "", 0, "mymaster", LH, 48817, LH, 45269, 0, "",
	  "+switch-master mymaster 127.0.0.1:48817 -> 127.0.0.1:45269" },
	{ "+sdown", "master mymaster " LH " 48817", SEV_SDOWN, SEV_INST_MASTER,
	  "mymaster", LH, 48817, "mymaster", LH, 48817, "", 0, 0, "",
	  "+sdown master mymaster 127.0.0.1:48817" },
	{ "+sdown", "slave " LH ":48817 " LH " 48817 @ mymaster " LH " 45269", SEV_SDOWN, SEV_INST_SLAVE,
	  LH ":48817", LH, 48817, "mymaster", LH, 45269, "", 0, 0, "",
	  "+sdown slave 127.0.0.1:48817 @ mymaster" },
	{ "+sdown", "sentinel 4c9cdcb885e8808e6f6f57eaac72e5f921a4d6c1 " LH " 55033 @ mymaster " LH " 48817",
	  SEV_SDOWN, SEV_INST_SENTINEL, "4c9cdcb885e8808e6f6f57eaac72e5f921a4d6c1", LH, 55033,
	  "mymaster", LH, 48817, "", 0, 0, "",
	  "+sdown sentinel 4c9cdcb885e8808e6f6f57eaac72e5f921a4d6c1 127.0.0.1:55033 @ mymaster" },
	{ "-sdown", "slave " LH ":48817 " LH " 48817 @ mymaster " LH " 45269", SEV_SDOWN_CLEAR, SEV_INST_SLAVE,
	  LH ":48817", LH, 48817, "mymaster", LH, 45269, "", 0, 0, "", NULL },
	{ "+odown", "master mymaster " LH " 48817 #quorum 3/2", SEV_ODOWN, SEV_INST_MASTER,
	  "mymaster", LH, 48817, "mymaster", LH, 48817, "", 0, 0, "#quorum 3/2",
	  "+odown master mymaster 127.0.0.1:48817 #quorum 3/2" },
	{ "-odown", "master mymaster " LH " 45269", SEV_ODOWN_CLEAR, SEV_INST_MASTER,
	  "mymaster", LH, 45269, "mymaster", LH, 45269, "", 0, 0, "", NULL },
	{ "+slave", "slave " LH ":40227 " LH " 40227 @ mymaster " LH " 48817", SEV_SLAVE, SEV_INST_SLAVE,
	  LH ":40227", LH, 40227, "mymaster", LH, 48817, "", 0, 0, "", NULL },
	{ "+convert-to-slave", "slave " LH ":48817 " LH " 48817 @ mymaster " LH " 45269",
	  SEV_CONVERT_TO_SLAVE, SEV_INST_SLAVE, LH ":48817", LH, 48817, "mymaster", LH, 45269,
	  "", 0, 0, "", NULL },
	{ "+role-change", "slave " LH ":48817 " LH " 48817 @ mymaster " LH " 45269 new reported role is slave",
	  SEV_ROLE_CHANGE, SEV_INST_SLAVE, LH ":48817", LH, 48817, "mymaster", LH, 45269,
	  "", 0, 0, "new reported role is slave",
	  "+role-change slave 127.0.0.1:48817 @ mymaster new reported role is slave" },
	{ "-role-change", "slave " LH ":45269 " LH " 45269 @ mymaster " LH " 48817 new reported role is master",
	  SEV_ROLE_CHANGE_CLEAR, SEV_INST_SLAVE, LH ":45269", LH, 45269, "mymaster", LH, 48817,
	  "", 0, 0, "new reported role is master", NULL },
	{ "+reboot", "slave " LH ":45269 " LH " 45269 @ mymaster " LH " 48817", SEV_REBOOT, SEV_INST_SLAVE,
	  LH ":45269", LH, 45269, "mymaster", LH, 48817, "", 0, 0, "", NULL },
	{ "+failover-end", "master mymaster " LH " 48817", SEV_FAILOVER_END, SEV_INST_MASTER,
	  "mymaster", LH, 48817, "mymaster", LH, 48817, "", 0, 0, "", NULL },
	{ "+failover-end-for-timeout", "master mymaster " LH " 48817", SEV_FAILOVER_END, SEV_INST_MASTER,
	  "mymaster", LH, 48817, "mymaster", LH, 48817, "", 0, 0, "", NULL },
	{ "+new-epoch", "3", SEV_NEW_EPOCH, SEV_INST_NONE,
	  "", "", 0, "", "", 0, "", 0, 3, "", "+new-epoch 3" },
	{ "-failover-abort-no-good-slave", "master mymaster " LH " 45269", SEV_FAILOVER_ABORT,
	  SEV_INST_MASTER, "mymaster", LH, 45269, "mymaster", LH, 45269, "", 0, 0, "", NULL },
	{ "-failover-abort-not-elected", "master mymaster " LH " 45269", SEV_FAILOVER_ABORT,
	  SEV_INST_MASTER, "mymaster", LH, 45269, "mymaster", LH, 45269, "", 0, 0, "", NULL },
	{ "+try-failover", "master mymaster " LH " 45269", SEV_TRY_FAILOVER, SEV_INST_MASTER,
	  "mymaster", LH, 45269, "mymaster", LH, 45269, "", 0, 0, "", NULL },
	{ "+elected-leader", "master mymaster " LH " 45269", SEV_ELECTED_LEADER, SEV_INST_MASTER,
	  "mymaster", LH, 45269, "mymaster", LH, 45269, "", 0, 0, "", NULL },
	{ "+failover-state-select-slave", "master mymaster " LH " 45269", SEV_FAILOVER_STATE,
	  SEV_INST_MASTER, "mymaster", LH, 45269, "mymaster", LH, 45269, "", 0, 0, "", NULL },
	{ "+failover-state-send-slaveof-noone", "slave " LH ":48817 " LH " 48817 @ mymaster " LH " 45269",
	  SEV_FAILOVER_STATE, SEV_INST_SLAVE, LH ":48817", LH, 48817, "mymaster", LH, 45269,
	  "", 0, 0, "", NULL },
	{ "+selected-slave", "slave " LH ":48817 " LH " 48817 @ mymaster " LH " 45269", SEV_SELECTED_SLAVE,
	  SEV_INST_SLAVE, LH ":48817", LH, 48817, "mymaster", LH, 45269, "", 0, 0, "", NULL },
	{ "+promoted-slave", "slave " LH ":48817 " LH " 48817 @ mymaster " LH " 45269", SEV_PROMOTED_SLAVE,
	  SEV_INST_SLAVE, LH ":48817", LH, 48817, "mymaster", LH, 45269, "", 0, 0, "",
	  "+promoted-slave slave 127.0.0.1:48817 @ mymaster" },
	{ "+slave-reconf-sent", "slave " LH ":48181 " LH " 48181 @ mymaster " LH " 45269", SEV_SLAVE_RECONF,
	  SEV_INST_SLAVE, LH ":48181", LH, 48181, "mymaster", LH, 45269, "", 0, 0, "", NULL },
	{ "+slave-reconf-inprog", "slave " LH ":48181 " LH " 48181 @ mymaster " LH " 45269", SEV_SLAVE_RECONF,
	  SEV_INST_SLAVE, LH ":48181", LH, 48181, "mymaster", LH, 45269, "", 0, 0, "", NULL },
	{ "+slave-reconf-done", "slave " LH ":48181 " LH " 48181 @ mymaster " LH " 45269", SEV_SLAVE_RECONF,
	  SEV_INST_SLAVE, LH ":48181", LH, 48181, "mymaster", LH, 45269, "", 0, 0, "", NULL },
	{ "+sentinel", "sentinel " RID1 " " LH " 48071 @ mymaster " LH " 48817", SEV_SENTINEL,
	  SEV_INST_SENTINEL, RID1, LH, 48071, "mymaster", LH, 48817, "", 0, 0, "",
	  "+sentinel sentinel " RID1 " 127.0.0.1:48071 @ mymaster" },
	{ "+config-update-from", "sentinel " RID2 " " LH " 46319 @ mymaster " LH " 45269",
	  SEV_CONFIG_UPDATE, SEV_INST_SENTINEL, RID2, LH, 46319, "mymaster", LH, 45269, "", 0, 0, "", NULL },
	{ "+tilt", "#tilt mode entered", SEV_TILT, SEV_INST_NONE,
	  "", "", 0, "", "", 0, "", 0, 0, "#tilt mode entered", "+tilt #tilt mode entered" },
	{ "-tilt", "#tilt mode exited", SEV_TILT_CLEAR, SEV_INST_NONE,
	  "", "", 0, "", "", 0, "", 0, 0, "#tilt mode exited", NULL },
	{ "+monitor", "master mymaster " LH " 48817 quorum 2", SEV_MONITOR, SEV_INST_MASTER,
	  "mymaster", LH, 48817, "mymaster", LH, 48817, "", 0, 0, "quorum 2", NULL },
	{ "-monitor", "master mymaster " LH " 48817", SEV_REMOVE, SEV_INST_MASTER,
	  "mymaster", LH, 48817, "mymaster", LH, 48817, "", 0, 0, "", NULL },
	{ "+reset-master", "master mymaster " LH " 48817", SEV_RESET_MASTER, SEV_INST_MASTER,
	  "mymaster", LH, 48817, "mymaster", LH, 48817, "", 0, 0, "", NULL },
	{ "+fix-slave-config", "slave " LH ":48181 " LH " 48181 @ mymaster " LH " 48817",
	  SEV_FIX_SLAVE_CONFIG, SEV_INST_SLAVE, LH ":48181", LH, 48181, "mymaster", LH, 48817,
	  "", 0, 0, "", NULL },
	{ "+vote-for-leader", RID1 " 1", SEV_VOTE_FOR_LEADER, SEV_INST_NONE,
	  "", "", 0, "", "", 0, "", 0, 1, RID1, "+vote-for-leader " RID1 " epoch 1" },
	/* Unknown but well-formed: SEV_UNKNOWN, instance parsed when it is one. */
	{ "+set", "master mymaster " LH " 48817 down-after-milliseconds 1000", SEV_UNKNOWN,
	  SEV_INST_MASTER, "mymaster", LH, 48817, "mymaster", LH, 48817, "", 0, 0,
	  "down-after-milliseconds 1000", "+set master mymaster 127.0.0.1:48817 down-after-milliseconds 1000" },
	{ "+failover-detected", "master mymaster " LH " 6379", SEV_UNKNOWN, SEV_INST_MASTER,
	  "mymaster", LH, 6379, "mymaster", LH, 6379, "", 0, 0, "", NULL },
	{ "+init-done", "", SEV_UNKNOWN, SEV_INST_NONE,
	  "", "", 0, "", "", 0, "", 0, 0, "", "+init-done" },
	{ "-dup-sentinel", "master mymaster " LH " 6379 #duplicate of " LH ":26379 or x", SEV_UNKNOWN,
	  SEV_INST_MASTER, "mymaster", LH, 6379, "mymaster", LH, 6379, "", 0, 0,
	  "#duplicate of " LH ":26379 or x", NULL },
	{ "+cluster-whatever", "some free text", SEV_UNKNOWN, SEV_INST_NONE,
	  "", "", 0, "", "", 0, "", 0, 0, "some free text", "+cluster-whatever some free text" },
	{ "+failover-state-", "master mymaster " LH " 6379", SEV_UNKNOWN, SEV_INST_MASTER,
	  "mymaster", LH, 6379, "mymaster", LH, 6379, "", 0, 0, "", NULL },
	{ "+slave-reconf-later", "slave " LH ":1 " LH " 1 @ m " LH " 2", SEV_UNKNOWN, SEV_INST_SLAVE,
	  LH ":1", LH, 1, "m", LH, 2, "", 0, 0, "", NULL },
	/* IPv6: bare in the ip fields, bracketed in replica names. */
	{ "+sdown", "slave [::1]:6380 ::1 6380 @ mymaster ::1 6379", SEV_SDOWN, SEV_INST_SLAVE,
	  "[::1]:6380", "::1", 6380, "mymaster", "::1", 6379, "", 0, 0, "",
	  "+sdown slave [::1]:6380 @ mymaster" },
	{ "+switch-master", "mymaster ::1 6379 ::1 6380", SEV_SWITCH_MASTER, SEV_INST_NONE,
	  "", "", 0, "mymaster", "::1", 6379, "::1", 6380, 0, "",
	  "+switch-master mymaster [::1]:6379 -> [::1]:6380" },
	{ "+odown", "master mymaster 2001:db8::7 6379 #quorum 2/2", SEV_ODOWN, SEV_INST_MASTER,
	  "mymaster", "2001:db8::7", 6379, "mymaster", "2001:db8::7", 6379, "", 0, 0, "#quorum 2/2",
	  "+odown master mymaster [2001:db8::7]:6379 #quorum 2/2" },
	{ "+sentinel", "sentinel " RID1 " fe80::1%eth0 26379 @ mymaster fe80::2%eth0 6379", SEV_SENTINEL,
	  SEV_INST_SENTINEL, RID1, "fe80::1%eth0", 26379, "mymaster", "fe80::2%eth0", 6379, "", 0, 0, "", NULL },
	{ "+switch-master", "m ::ffff:10.0.0.1 6379 ::ffff:10.0.0.2 6379", SEV_SWITCH_MASTER, SEV_INST_NONE,
	  "", "", 0, "m", "::ffff:10.0.0.1", 6379, "::ffff:10.0.0.2", 6379, 0, "", NULL },
	/* Hostnames (announce-hostnames yes). */
	{ "+sdown", "master mymaster redis-1 6379", SEV_SDOWN, SEV_INST_MASTER,
	  "mymaster", "redis-1", 6379, "mymaster", "redis-1", 6379, "", 0, 0, "",
	  "+sdown master mymaster redis-1:6379" },
	{ "+switch-master", "mymaster redis-1 6379 redis-2.example.internal 6379", SEV_SWITCH_MASTER,
	  SEV_INST_NONE, "", "", 0, "mymaster", "redis-1", 6379, "redis-2.example.internal", 6379, 0, "",
	  "+switch-master mymaster redis-1:6379 -> redis-2.example.internal:6379" },
	{ "+promoted-slave", "slave redis-2:6379 redis-2 6379 @ mymaster redis-1 6379", SEV_PROMOTED_SLAVE,
	  SEV_INST_SLAVE, "redis-2:6379", "redis-2", 6379, "mymaster", "redis-1", 6379, "", 0, 0, "", NULL },
	{ "+slave", "slave redis_3:6379 redis_3 6379 @ my.master-2 10.0.0.1 6379", SEV_SLAVE,
	  SEV_INST_SLAVE, "redis_3:6379", "redis_3", 6379, "my.master-2", "10.0.0.1", 6379, "", 0, 0, "", NULL },
	/* Limits that still fit. */
	{ "+new-epoch", "18446744073709551615", SEV_NEW_EPOCH, SEV_INST_NONE,
	  "", "", 0, "", "", 0, "", 0, 18446744073709551615ULL, "", NULL },
	{ "+new-epoch", "0", SEV_NEW_EPOCH, SEV_INST_NONE,
	  "", "", 0, "", "", 0, "", 0, 0, "", NULL },
	{ "+sdown", "master m 1.2.3.4 65535", SEV_SDOWN, SEV_INST_MASTER,
	  "m", "1.2.3.4", 65535, "m", "1.2.3.4", 65535, "", 0, 0, "", NULL },
	{ "+sdown", "master m 1.2.3.4 1 @x", SEV_SDOWN, SEV_INST_MASTER,
	  "m", "1.2.3.4", 1, "m", "1.2.3.4", 1, "", 0, 0, "@x", NULL },
	{ "+role-change", "slave a:1 a 1 @ m b 2 x @ y z 3", SEV_ROLE_CHANGE, SEV_INST_SLAVE,
	  "a:1", "a", 1, "m", "b", 2, "", 0, 0, "x @ y z 3", NULL },
};

static void
check_row(const struct row *r)
{
	struct sentinel_event ev;
	char line[512];

	ck_assert_msg(parse_s(r->ch, r->pl, &ev) == 0, "%s %s", r->ch, r->pl);
	ck_assert_int_eq(ev.type, r->type);
	ck_assert_str_eq(ev.channel, r->ch);
	ck_assert_int_eq(ev.inst.type, r->it);
	ck_assert_str_eq(ev.inst.name, r->name);
	ck_assert_str_eq(ev.inst.ip, r->ip);
	ck_assert_int_eq(ev.inst.port, r->port);
	ck_assert_str_eq(ev.master, r->master);
	ck_assert_str_eq(ev.master_ip, r->mip);
	ck_assert_int_eq(ev.master_port, r->mport);
	ck_assert_str_eq(ev.new_ip, r->nip);
	ck_assert_int_eq(ev.new_port, r->nport);
	ck_assert_uint_eq(ev.epoch, r->epoch);
	ck_assert_str_eq(ev.extra, r->extra);
	sev_format(&ev, line, sizeof(line));
	if (r->line)
		ck_assert_str_eq(line, r->line);
	else
		ck_assert_uint_gt(strlen(line), strlen(r->ch));
}

START_TEST(test_rows)
{
	check_row(&rows[_i]);
}
END_TEST

/* Every kind in the enum has at least one exact-field row. */
START_TEST(test_rows_cover_enum)
{
	int seen[SEV_TYPE_COUNT] = { 0 };
	size_t i;
	int t;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		seen[rows[i].type]++;
	for (t = 0; t < SEV_TYPE_COUNT; t++)
		ck_assert_msg(seen[t] > 0, "no row for %s", sev_type_name((enum sev_type)t));
}
END_TEST

/* -------------------------------------------------- the captured messages */

struct msg {
	char *ch, *pl;
};

static struct msg *msgs;
static size_t nmsgs;

static void
load_events(void)
{
	FILE *f = fopen(EVENTS_FILE, "r");
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;

	ck_assert_msg(f != NULL, "cannot open %s", EVENTS_FILE);
	nmsgs = 0;
	msgs = NULL;
	while ((n = getline(&line, &cap, f)) >= 0) {
		char *tab;
		struct msg *m;

		if (n > 0 && line[n - 1] == '\n')
			line[--n] = '\0';
		if (n == 0 || line[0] == '#')
			continue;
		tab = strchr(line, '\t');
		ck_assert_msg(tab != NULL, "no tab in '%s'", line);
		m = realloc(msgs, (nmsgs + 1) * sizeof(*msgs));
		ck_assert_ptr_nonnull(m);
		msgs = m;
		*tab = '\0';
		msgs[nmsgs].ch = strdup(line);
		msgs[nmsgs].pl = strdup(tab + 1);
		ck_assert(msgs[nmsgs].ch && msgs[nmsgs].pl);
		nmsgs++;
	}
	free(line);
	fclose(f);
}

static void
free_events(void)
{
	size_t i;

	for (i = 0; i < nmsgs; i++) {
		free(msgs[i].ch);
		free(msgs[i].pl);
	}
	free(msgs);
	msgs = NULL;
	nmsgs = 0;
}

static const char *
inst_type_str(enum sev_inst_type t)
{
	return t == SEV_INST_MASTER ? "master" : t == SEV_INST_SLAVE ? "slave" : "sentinel";
}

/* Rebuild the payload from the parsed fields: nothing lost, nothing added. */
static void
rebuild(const struct sentinel_event *ev, char *buf, size_t len)
{
	int n = 0;

	switch (ev->type) {
	case SEV_SWITCH_MASTER:
		snprintf(buf, len, "%s %s %d %s %d", ev->master, ev->master_ip, ev->master_port,
			 ev->new_ip, ev->new_port);
		return;
	case SEV_NEW_EPOCH:
		snprintf(buf, len, "%llu", ev->epoch);
		return;
	case SEV_VOTE_FOR_LEADER:
		snprintf(buf, len, "%s %llu", ev->extra, ev->epoch);
		return;
	case SEV_TILT:
	case SEV_TILT_CLEAR:
		snprintf(buf, len, "%s", ev->extra);
		return;
	default:
		break;
	}
	ck_assert_int_ne(ev->inst.type, SEV_INST_NONE);
	if (ev->inst.type == SEV_INST_MASTER) {
		ck_assert_str_eq(ev->master, ev->inst.name);
		ck_assert_str_eq(ev->master_ip, ev->inst.ip);
		ck_assert_int_eq(ev->master_port, ev->inst.port);
		n = snprintf(buf, len, "master %s %s %d", ev->inst.name, ev->inst.ip, ev->inst.port);
	} else {
		n = snprintf(buf, len, "%s %s %s %d @ %s %s %d", inst_type_str(ev->inst.type),
			     ev->inst.name, ev->inst.ip, ev->inst.port,
			     ev->master, ev->master_ip, ev->master_port);
	}
	if (ev->extra[0] && n > 0 && (size_t)n < len)
		snprintf(buf + n, len - (size_t)n, " %s", ev->extra);
}

START_TEST(test_captured_roundtrip)
{
	size_t i;

	load_events();
	ck_assert_uint_ge(nmsgs, 60);
	for (i = 0; i < nmsgs; i++) {
		struct sentinel_event ev;
		char again[1024], line[1024];

		ck_assert_msg(parse_s(msgs[i].ch, msgs[i].pl, &ev) == 0, "line %zu: %s %s", i,
			      msgs[i].ch, msgs[i].pl);
		ck_assert_str_eq(ev.channel, msgs[i].ch);
		rebuild(&ev, again, sizeof(again));
		ck_assert_str_eq(again, msgs[i].pl);
		if (ev.inst.type != SEV_INST_NONE || ev.type == SEV_SWITCH_MASTER) {
			ck_assert_uint_gt(strlen(ev.master), 0);
			ck_assert_int_ge(ev.master_port, 1);
		}
		sev_format(&ev, line, sizeof(line));
		ck_assert_msg(strncmp(line, msgs[i].ch, strlen(msgs[i].ch)) == 0, "%s", line);
	}
	free_events();
}
END_TEST

/* The capture holds every kind of the enum, SEV_UNKNOWN included (+set). */
START_TEST(test_captured_kinds)
{
	int seen[SEV_TYPE_COUNT] = { 0 };
	size_t i;
	int t;

	load_events();
	for (i = 0; i < nmsgs; i++) {
		struct sentinel_event ev;

		ck_assert_int_eq(parse_s(msgs[i].ch, msgs[i].pl, &ev), 0);
		seen[ev.type]++;
	}
	free_events();
	for (t = 0; t < SEV_TYPE_COUNT; t++)
		ck_assert_msg(seen[t] > 0, "capture lacks %s", sev_type_name((enum sev_type)t));
}
END_TEST

/* Every prefix and every byte-truncation of a captured message is handled
 * within bounds, and success means a consistent event. */
START_TEST(test_captured_prefixes)
{
	size_t i, k;

	load_events();
	for (i = 0; i < nmsgs; i++) {
		size_t plen = strlen(msgs[i].pl);

		for (k = 0; k <= plen; k++) {
			struct sentinel_event ev;
			char line[512];

			if (parse_n(msgs[i].ch, strlen(msgs[i].ch), msgs[i].pl, k, &ev) < 0) {
				ck_assert(all_zero(&ev));
				continue;
			}
			sev_format(&ev, line, sizeof(line));
			if (ev.inst.type != SEV_INST_NONE)
				ck_assert(ev.inst.port >= 1 && ev.inst.port <= 65535);
		}
	}
	free_events();
}
END_TEST

/* -------------------------------------------------- malformed */

struct bad {
	const char *ch, *pl;
	const char *why;
};

#define N127 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define H63 "h12345678901234567890123456789012345678901234567890123456789012"

static const struct bad bads[] = {
	{ "", "master m 1.2.3.4 6379", "empty channel" },
	{ "+", "master m 1.2.3.4 6379", "sign only" },
	{ "sdown", "master m 1.2.3.4 6379", "no sign" },
	{ "*sdown", "master m 1.2.3.4 6379", "bad sign" },
	{ "+SDOWN", "master m 1.2.3.4 6379", "upper case channel" },
	{ "+sd own", "master m 1.2.3.4 6379", "space in channel" },
	{ "+sdown\n", "master m 1.2.3.4 6379", "newline in channel" },
	{ "+aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "", "64-byte channel" },
	{ "+sdown", "", "empty payload" },
	{ "+sdown", "master", "type only" },
	{ "+sdown", "master m", "no ip" },
	{ "+sdown", "master m 1.2.3.4", "missing port" },
	{ "+sdown", "master m 1.2.3.4 0", "port 0" },
	{ "+sdown", "master m 1.2.3.4 70000", "port 70000" },
	{ "+sdown", "master m 1.2.3.4 65536", "port 65536" },
	{ "+sdown", "master m 1.2.3.4 06379", "leading zero" },
	{ "+sdown", "master m 1.2.3.4 +6379", "port sign" },
	{ "+sdown", "master m 1.2.3.4 -1", "negative port" },
	{ "+sdown", "master m 1.2.3.4 6379a", "port suffix" },
	{ "+sdown", "master m 1.2.3.4 123456", "port too long" },
	{ "+sdown", "replica m 1.2.3.4 6379", "unknown instance type" },
	{ "+sdown", "master m 1.2.3.4 6379 @ m 1.2.3.4 6379", "master with @" },
	{ "+sdown", "slave a:1 a 1", "slave without @" },
	{ "+sentinel", "sentinel " RID1 " 1.2.3.4 26379", "sentinel without @" },
	{ "+sdown", "slave a:1 a 1 @", "dangling @" },
	{ "+sdown", "slave a:1 a 1 @ m", "@ without master address" },
	{ "+sdown", "slave a:1 a 1 @ m b", "@ without master port" },
	{ "+sdown", "slave a:1 a 1 @ m b 0", "@ master port 0" },
	{ "+sdown", "slave a:1 a 1 @ @ b 2", "@ as master name" },
	{ "+sdown", "master @ 1.2.3.4 6379", "@ as name" },
	{ "+sdown", "master  m 1.2.3.4 6379", "double space" },
	{ "+sdown", " master m 1.2.3.4 6379", "leading space" },
	{ "+sdown", "master m 1.2.3.4 6379 ", "trailing space" },
	{ "+odown", "master m 1.2.3.4 6379  #quorum 2/2", "double space before extra" },
	{ "+sdown", "master m 1.2.3.4\t6379", "tab" },
	{ "+sdown", "master m 1.2.3.4 6379 x\ny", "newline in extra" },
	{ "+sdown", "master m 1.2.3.4 6379 \x7f", "DEL in extra" },
	{ "+sdown", "master ma\xc3\xaetre 1.2.3.4 6379", "non-ASCII" },
	{ "+sdown", "master " N127 "a 1.2.3.4 6379", "128-byte name" },
	{ "+sdown", "master m " H63 "4 6379", "64-byte host" },
	{ "+sdown", "master m 1.2.3.4;reload 6379", "shell/CLI metacharacter in ip" },
	{ "+sdown", "master m 1.2.3.4/24 6379", "slash in ip" },
	{ "+sdown", "master m [::1] 6379", "bracketed ip field" },
	{ "+sdown", "master m 1.2.3.999 6379", "bad IPv4" },
	{ "+sdown", "master m 1.2.3 6379", "short IPv4" },
	{ "+sdown", "master m 1:2 6379", "bad IPv6" },
	{ "+sdown", "master m fe80::1% 6379", "empty zone" },
	{ "+sdown", "master m fe80::1%a%b 6379", "two zones" },
	{ "+sdown", "master m host%eth0 6379", "zone on a hostname" },
	{ "+sdown", "master m -host 6379", "hostname with leading -" },
	{ "+sdown", "master m host. 6379", "hostname with trailing ." },
	{ "+switch-master", "m 1.2.3.4 6379 1.2.3.5", "switch-master 4 tokens" },
	{ "+switch-master", "m 1.2.3.4 6379 1.2.3.5 6379 x", "switch-master 6 tokens" },
	{ "+switch-master", "m 1.2.3.4 6379", "switch-master 3 tokens" },
	{ "+switch-master", "", "switch-master empty" },
	{ "+switch-master", "m 1.2.3.4 6379 1.2.3.5 0", "switch-master new port 0" },
	{ "+switch-master", "m 1.2.3.4 6379 1.2.3.5 70000", "switch-master new port 70000" },
	{ "+switch-master", "m 1.2.3.4 0 1.2.3.5 6379", "switch-master old port 0" },
	{ "+switch-master", "m 1.2.3.4 6379  1.2.3.5 6379", "switch-master double space" },
	{ "+switch-master", "master m 1.2.3.4 6379", "switch-master in %@ form" },
	{ "+new-epoch", "", "epoch empty" },
	{ "+new-epoch", "abc", "epoch not numeric" },
	{ "+new-epoch", "-1", "epoch negative" },
	{ "+new-epoch", "+1", "epoch sign" },
	{ "+new-epoch", "01", "epoch leading zero" },
	{ "+new-epoch", "1 2", "epoch two tokens" },
	{ "+new-epoch", "18446744073709551616", "epoch overflow" },
	{ "+new-epoch", "99999999999999999999", "epoch overflow 2" },
	{ "+vote-for-leader", RID1, "vote without epoch" },
	{ "+vote-for-leader", RID1 " x", "vote epoch not numeric" },
	{ "+vote-for-leader", RID1 " 1 2", "vote extra token" },
	{ "+vote-for-leader", "", "vote empty" },
	{ "+tilt", "#tilt\x01", "control char in tilt text" },
	{ "+init-done", "a\x1b[31mb", "escape in unknown payload" },
};

START_TEST(test_bad)
{
	struct sentinel_event ev;

	memset(&ev, 0xa5, sizeof(ev));
	ck_assert_msg(parse_s(bads[_i].ch, bads[_i].pl, &ev) == -1, "accepted: %s", bads[_i].why);
	ck_assert_msg(all_zero(&ev), "not zeroed: %s", bads[_i].why);
}
END_TEST

START_TEST(test_embedded_nul)
{
	static const char pl[] = "master m 1.2.3.4 6379\0 extra";
	static const char pl2[] = "master m\0x 1.2.3.4 6379";
	static const char ch[] = "+sdown\0x";
	struct sentinel_event ev;

	ck_assert_int_eq(parse_n("+sdown", 6, pl, sizeof(pl) - 1, &ev), -1);
	ck_assert(all_zero(&ev));
	ck_assert_int_eq(parse_n("+sdown", 6, pl2, sizeof(pl2) - 1, &ev), -1);
	ck_assert_int_eq(parse_n(ch, sizeof(ch) - 1, "master m 1.2.3.4 6379", 21, &ev), -1);
	/* The NUL is outside len: fine. */
	ck_assert_int_eq(parse_n("+sdown", 6, pl, 21, &ev), 0);
	ck_assert_int_eq(ev.inst.port, 6379);
}
END_TEST

/* Only len bytes count: a longer buffer must not leak into the fields. */
START_TEST(test_len_bounds)
{
	const char *pl = "master mymaster 127.0.0.1 63790000";
	struct sentinel_event ev;

	ck_assert_int_eq(parse_n("+sdownXX", 6, pl, strlen(pl) - 4, &ev), 0);
	ck_assert_int_eq(ev.type, SEV_SDOWN);
	ck_assert_str_eq(ev.channel, "+sdown");
	ck_assert_int_eq(ev.master_port, 6379);
	ck_assert_int_eq(parse_n("+new-epoch", 10, "12345", 2, &ev), 0);
	ck_assert_uint_eq(ev.epoch, 12);
}
END_TEST

START_TEST(test_field_limits)
{
	struct sentinel_event ev;
	char pl[8192];

	/* 127-byte name, 63-byte host, 63-byte channel, 255-byte extra fit. */
	ck_assert_int_eq(parse_s("+sdown", "master " N127 " " H63 " 6379", &ev), 0);
	ck_assert_uint_eq(strlen(ev.master), 127);
	ck_assert_uint_eq(strlen(ev.inst.ip), 63);
	ck_assert_int_eq(parse_s("+aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "", &ev), 0);
	ck_assert_int_eq(ev.type, SEV_UNKNOWN);
	ck_assert_uint_eq(strlen(ev.channel), 63);

	memset(pl, 'x', sizeof(pl));
	memcpy(pl, "#tilt ", 6);
	ck_assert_int_eq(parse_n("+tilt", 5, pl, 255, &ev), 0);
	ck_assert_uint_eq(strlen(ev.extra), 255);
	ck_assert_int_eq(parse_n("+tilt", 5, pl, 256, &ev), -1);
	ck_assert(all_zero(&ev));

	snprintf(pl, sizeof(pl), "master m 1.2.3.4 6379 ");
	memset(pl + 22, 'e', 255);
	ck_assert_int_eq(parse_n("+odown", 6, pl, 22 + 255, &ev), 0);
	ck_assert_int_eq(parse_n("+odown", 6, pl, 22 + 256, &ev), -1);

	/* Over 4096 bytes is refused whatever the channel. */
	memset(pl, 'x', sizeof(pl));
	ck_assert_int_eq(parse_n("+init-done", 10, pl, 4097, &ev), -1);
	ck_assert_int_eq(parse_n("+init-done", 10, pl, sizeof(pl), &ev), -1);
	ck_assert_int_eq(parse_n("+tilt", 5, pl, 4097, &ev), -1);
}
END_TEST

START_TEST(test_null_args)
{
	struct sentinel_event ev;

	ck_assert_int_eq(sev_parse("+sdown", 6, "master m 1.2.3.4 1", 18, NULL), -1);
	ck_assert_int_eq(sev_parse(NULL, 0, "x", 1, &ev), -1);
	ck_assert_int_eq(sev_parse("+sdown", 6, NULL, 3, &ev), -1);
	ck_assert_int_eq(sev_parse("+init-done", 10, NULL, 0, &ev), 0);
	ck_assert_int_eq(ev.type, SEV_UNKNOWN);
}
END_TEST

/* -------------------------------------------------- names and format */

START_TEST(test_type_names)
{
	int t, u;

	ck_assert_str_eq(sev_type_name(SEV_UNKNOWN), "?");
	ck_assert_str_eq(sev_type_name(SEV_TYPE_COUNT), "?");
	ck_assert_str_eq(sev_type_name((enum sev_type)-1), "?");
	ck_assert_str_eq(sev_type_name(SEV_SWITCH_MASTER), "+switch-master");
	ck_assert_str_eq(sev_type_name(SEV_REMOVE), "-monitor");
	for (t = 1; t < SEV_TYPE_COUNT; t++) {
		const char *n = sev_type_name((enum sev_type)t);

		ck_assert(n[0] == '+' || n[0] == '-');
		for (u = 1; u < t; u++)
			ck_assert_str_ne(n, sev_type_name((enum sev_type)u));
	}
}
END_TEST

/* The canonical name of each exact-match kind parses back to that kind. */
START_TEST(test_type_names_parse)
{
	int t;

	for (t = 1; t < SEV_TYPE_COUNT; t++) {
		const char *n = sev_type_name((enum sev_type)t);
		struct sentinel_event ev;

		if (strchr(n, '*'))
			continue;
		if (parse_s(n, "master m 1.2.3.4 1", &ev) == 0 ||
		    parse_s(n, "m 1.2.3.4 1 1.2.3.5 2", &ev) == 0 || parse_s(n, "7", &ev) == 0 ||
		    parse_s(n, "r 7", &ev) == 0)
			ck_assert_msg(ev.type == (enum sev_type)t, "%s", n);
		else
			ck_abort_msg("no payload for %s", n);
	}
}
END_TEST

START_TEST(test_format_small_buffers)
{
	struct sentinel_event ev;
	char buf[16];
	size_t n;

	ck_assert_int_eq(parse_s("+sdown", "slave [::1]:6380 ::1 6380 @ mymaster ::1 6379", &ev), 0);
	for (n = 0; n <= sizeof(buf); n++) {
		memset(buf, 'Z', sizeof(buf));
		sev_format(&ev, buf, n);
		if (n) {
			ck_assert_uint_lt(strlen(buf), n);
			ck_assert(strncmp(buf, "+sdown slave [::1]:6380", n - 1) == 0);
		} else {
			ck_assert_int_eq(buf[0], 'Z');
		}
	}
	sev_format(NULL, buf, sizeof(buf));
	ck_assert_str_eq(buf, "");
	sev_format(&ev, NULL, 10);
}
END_TEST

START_TEST(test_format_zeroed_and_garbage)
{
	struct sentinel_event ev;
	char buf[1024];

	memset(&ev, 0, sizeof(ev));
	sev_format(&ev, buf, sizeof(buf));
	ck_assert_str_eq(buf, "?");
	ev.type = SEV_SDOWN;
	sev_format(&ev, buf, sizeof(buf));
	ck_assert_str_eq(buf, "+sdown");
	/* Unterminated fields and bogus enums stay within the struct. */
	memset(&ev, 'A', sizeof(ev));
	ev.type = SEV_SDOWN;
	ev.inst.type = (enum sev_inst_type)9;
	sev_format(&ev, buf, sizeof(buf));
	ck_assert_uint_gt(strlen(buf), 0);
	ev.type = (enum sev_type)1000;
	sev_format(&ev, buf, sizeof(buf));
	ck_assert_uint_gt(strlen(buf), 0);
}
END_TEST

static Suite *
event_suite(void)
{
	Suite *s = suite_create("event");
	TCase *tc;

	tc = tcase_create("fields");
	tcase_add_loop_test(tc, test_rows, 0, (int)(sizeof(rows) / sizeof(rows[0])));
	tcase_add_test(tc, test_rows_cover_enum);
	suite_add_tcase(s, tc);

	tc = tcase_create("captured");
	tcase_add_test(tc, test_captured_roundtrip);
	tcase_add_test(tc, test_captured_kinds);
	tcase_add_test(tc, test_captured_prefixes);
	tcase_set_timeout(tc, 30);
	suite_add_tcase(s, tc);

	tc = tcase_create("malformed");
	tcase_add_loop_test(tc, test_bad, 0, (int)(sizeof(bads) / sizeof(bads[0])));
	tcase_add_test(tc, test_embedded_nul);
	tcase_add_test(tc, test_len_bounds);
	tcase_add_test(tc, test_field_limits);
	tcase_add_test(tc, test_null_args);
	suite_add_tcase(s, tc);

	tc = tcase_create("format");
	tcase_add_test(tc, test_type_names);
	tcase_add_test(tc, test_type_names_parse);
	tcase_add_test(tc, test_format_small_buffers);
	tcase_add_test(tc, test_format_zeroed_and_garbage);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return unit_run(event_suite());
}
