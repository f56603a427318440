/* Unit tests for the runtime API reply parsers, on replies captured from
 * haproxy 2.6.12 (tests/data/haproxy-replies) and on garbage. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hapapi.h"
#include "unit_main.h"

#ifndef SRCDIR
#define SRCDIR "."
#endif

#define HDR "# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state " \
	"srv_uweight srv_iweight srv_time_since_last_change srv_check_status " \
	"srv_check_result srv_check_health srv_check_state srv_agent_state " \
	"bk_f_forced_id srv_f_forced_id srv_fqdn srv_port srvrecord srv_use_ssl " \
	"srv_check_port srv_check_addr srv_agent_addr srv_agent_port\n"
#define ROW(be, id, name, addr, op, adm, port) \
	"2 " be " " id " " name " " addr " " op " " adm " 1 1 1 1 0 0 8 0 0 0 - " port " - 0 0 - - 0\n"

/* Whole file, NUL-terminated for convenience (parsers get the length). */
static char *
load(const char *name, size_t *len)
{
	char path[1024];
	FILE *f;
	char *buf;
	long n;

	snprintf(path, sizeof(path), "%s/tests/data/haproxy-replies/%s", SRCDIR, name);
	f = fopen(path, "rb");
	ck_assert_msg(f != NULL, "cannot open %s", path);
	ck_assert_int_eq(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	ck_assert_int_ge(n, 0);
	rewind(f);
	buf = malloc((size_t)n + 1);
	ck_assert_ptr_nonnull(buf);
	ck_assert_uint_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	*len = (size_t)n;
	return buf;
}

/* hap_reply_ok on the first reply of a captured file. */
static int
file_ok(const char *cmd, const char *name)
{
	struct hap_reply r[4];
	size_t len, n;
	char *buf = load(name, &len);
	int ok;

	n = hap_reply_split(buf, len, r, 4);
	ck_assert_msg(n == 1, "%s: %zu replies", name, n);
	ok = hap_reply_ok(cmd, r[0].text, r[0].len);
	free(buf);
	return ok;
}

static int
parse_str(const char *text, struct hap_state *st, char *err, size_t errlen)
{
	return hap_state_parse(text, strlen(text), st, err, errlen);
}

/* ------------------------------------------------------------ show servers state */

/* The index answers exactly as the scan does, for every name, and parsing
 * more rows drops it (the rows may move). */
START_TEST(test_state_index)
{
	struct hap_state st = { 0 };
	char err[256] = "", text[65536];
	size_t off, f1, c1, f2, c2;
	const char *names[] = { "b9", "b0", "a", "b5", "zz", "nope", "b" };
	int ra, rb;

	off = (size_t)snprintf(text, sizeof(text), "1\n# be_id be_name srv_id srv_name srv_addr srv_op_state "
		"srv_admin_state srv_uweight srv_iweight srv_time_since_last_change srv_check_status "
		"srv_check_result srv_check_health srv_check_state srv_agent_state bk_f_forced_id "
		"srv_f_forced_id srv_fqdn srv_port srvrecord\n");
	for (int b = 9; b >= 0; b--)
		for (int k = 1; k <= 3; k++)
			off += (size_t)snprintf(text + off, sizeof(text) - off,
				"%d b%d %d r%d 127.0.0.1 0 5 1 1 1 1 0 0 8 0 0 0 - %d -\n", b, b, k, k, 7000 + k);
	off += (size_t)snprintf(text + off, sizeof(text) - off,
		"20 a 1 r1 127.0.0.1 0 5 1 1 1 1 0 0 8 0 0 0 - 1 -\n"
		"21 zz 1 r1 127.0.0.1 0 5 1 1 1 1 0 0 8 0 0 0 - 1 -\n");
	ck_assert_int_eq(parse_str(text, &st, err, sizeof(err)), 0);
	ck_assert_uint_eq(st.n, 32);
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		ck_assert_ptr_null(st.index);
		ra = hap_state_backend(&st, names[i], &f1, &c1);
		ck_assert_int_eq(hap_state_index(&st), 0);
		ck_assert_uint_eq(st.nindex, 12);
		rb = hap_state_backend(&st, names[i], &f2, &c2);
		ck_assert_int_eq(ra, rb);
		if (ra == 0) {
			ck_assert_uint_eq(f1, f2);
			ck_assert_uint_eq(c1, c2);
		}
		/* parsing again drops the index */
		ck_assert_int_eq(parse_str("1\n# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state "
			"srv_uweight srv_iweight srv_time_since_last_change srv_check_status srv_check_result "
			"srv_check_health srv_check_state srv_agent_state bk_f_forced_id srv_f_forced_id "
			"srv_fqdn srv_port srvrecord\n", &st, err, sizeof(err)), 0);
	}
	ck_assert_int_eq(hap_state_backend(&st, "b5", &f1, &c1), 0);
	ck_assert_uint_eq(f1, 12);
	ck_assert_uint_eq(c1, 3);
	hap_state_free(&st);
	ck_assert_ptr_null(st.index);
}
END_TEST

START_TEST(test_state_initial)
{
	struct hap_state st = { 0 };
	char err[256] = "";
	size_t len, first, count;
	char *buf = load("state_initial.txt", &len);

	ck_assert_int_eq(hap_state_parse(buf, len, &st, err, sizeof(err)), 0);
	ck_assert_uint_eq(st.n, 11);
	ck_assert_str_eq(st.srv[0].backend, "mymaster_write");
	ck_assert_int_eq(st.srv[0].be_id, 3);
	ck_assert_int_eq(st.srv[0].srv_id, 1);
	ck_assert_str_eq(st.srv[0].name, "r1");
	ck_assert_str_eq(st.srv[0].addr, "127.0.0.1");
	ck_assert_int_eq(st.srv[0].port, 9);
	ck_assert_int_eq(st.srv[0].op_state, HAP_OP_STOPPED);
	ck_assert_uint_eq(st.srv[0].admin_state, HAP_ADMF_FMAINT | HAP_ADMF_CMAINT);
	ck_assert_int_eq(hap_server_is_ready(&st.srv[0]), 0);

	ck_assert_int_eq(hap_state_backend(&st, "mymaster_read", &first, &count), 0);
	ck_assert_uint_eq(first, 3);
	ck_assert_uint_eq(count, 3);
	ck_assert_int_eq(hap_state_backend(&st, "v6master_write", &first, &count), 0);
	ck_assert_uint_eq(first, 6);
	ck_assert_uint_eq(count, 2);
	ck_assert_str_eq(st.srv[6].addr, "::1");
	ck_assert_int_eq(hap_state_backend(&st, "misc", &first, &count), 0);
	ck_assert_uint_eq(count, 3);
	ck_assert_int_eq(hap_state_backend(&st, "nope", &first, &count), -1);
	ck_assert_int_eq(hap_state_backend(&st, "mymaster", &first, &count), -1);

	/* a plain server without "disabled": running, admin 0, IPv6 */
	ck_assert_str_eq(st.srv[8].name, "s1");
	ck_assert_str_eq(st.srv[8].addr, "::1");
	ck_assert_int_eq(st.srv[8].port, 6379);
	ck_assert_int_eq(st.srv[8].op_state, HAP_OP_RUNNING);
	ck_assert_uint_eq(st.srv[8].admin_state, 0);
	ck_assert_int_eq(hap_server_is_ready(&st.srv[8]), 1);
	ck_assert_str_eq(st.srv[10].name, "longname_abcdefghijklmnopqrstuvwxyz_0123456789");
	ck_assert_str_eq(st.srv[10].addr, "10.0.0.1");
	hap_state_free(&st);
	ck_assert_ptr_null(st.srv);
	ck_assert_uint_eq(st.n, 0);
	free(buf);
}
END_TEST

START_TEST(test_state_ready_flags)
{
	struct hap_state st = { 0 };
	char err[256] = "";
	size_t len;
	char *buf = load("state_after_promotion.txt", &len);

	ck_assert_int_eq(hap_state_parse(buf, len, &st, err, sizeof(err)), 0);
	ck_assert_uint_eq(st.n, 11);
	/* r1: put in maint after being ready: FMAINT|CMAINT */
	ck_assert_uint_eq(st.srv[0].admin_state, 5);
	ck_assert_int_eq(hap_server_is_ready(&st.srv[0]), 0);
	ck_assert_int_eq(st.srv[0].port, 7000);
	/* r2: "state ready" on a "disabled" slot leaves CMAINT: ready */
	ck_assert_uint_eq(st.srv[1].admin_state, HAP_ADMF_CMAINT);
	ck_assert_int_eq(hap_server_is_ready(&st.srv[1]), 1);
	ck_assert_int_eq(st.srv[1].op_state, HAP_OP_RUNNING);
	/* v6master_write/r1 draining: CMAINT|FDRAIN = 12, not ready */
	ck_assert_str_eq(st.srv[6].backend, "v6master_write");
	ck_assert_uint_eq(st.srv[6].admin_state, 12);
	ck_assert_int_eq(hap_server_is_ready(&st.srv[6]), 0);
	hap_state_free(&st);
	free(buf);
}
END_TEST

START_TEST(test_state_unresolved_fqdn)
{
	struct hap_state st = { 0 };
	char err[256] = "";
	size_t len;
	char *buf = load("state_fqdn_unresolved.txt", &len);

	ck_assert_int_eq(hap_state_parse(buf, len, &st, err, sizeof(err)), 0);
	ck_assert_uint_eq(st.n, 2);
	ck_assert_str_eq(st.srv[0].addr, "-");
	ck_assert_int_eq(st.srv[0].port, 6379);
	ck_assert_uint_eq(st.srv[0].admin_state, 37);
	ck_assert_int_eq(hap_server_is_ready(&st.srv[0]), 0);
	hap_state_free(&st);
	free(buf);
}
END_TEST

/* haproxy.cfg's write backend as HAProxy 2.6.12 shows it: 8 slots and the
 * two backups on the hold's unix socket (srv_addr "-", port 0). The backups
 * are not slots: the parser leaves them out, so the plan never readdresses
 * or disables them. */
START_TEST(test_state_hold_loop)
{
	struct hap_state st = { 0 };
	char err[256] = "";
	size_t len, first, count, i;
	char *buf = load("state_hold_loop.txt", &len);

	ck_assert_int_eq(hap_state_parse(buf, len, &st, err, sizeof(err)), 0);
	ck_assert_uint_eq(st.n, 8);
	for (i = 0; i < st.n; i++) {
		ck_assert_str_eq(st.srv[i].addr, "127.0.0.1");
		ck_assert_int_eq(st.srv[i].port, 1);
		ck_assert_int_eq(st.srv[i].srv_id, (int)i + 1);
	}
	ck_assert_int_eq(hap_state_index(&st), 0);
	ck_assert_int_eq(hap_state_backend(&st, "mymaster_write", &first, &count), 0);
	ck_assert_uint_eq(first, 0);
	ck_assert_uint_eq(count, 8);
	hap_state_free(&st);
	free(buf);
}
END_TEST

START_TEST(test_state_append)
{
	struct hap_state st = { 0 };
	char err[256] = "";
	size_t len1, len2, first, count;
	char *a = load("state_initial.txt", &len1);
	char *b = load("state_one_backend.txt", &len2);

	ck_assert_int_eq(hap_state_parse(a, len1, &st, err, sizeof(err)), 0);
	ck_assert_int_eq(hap_state_parse(b, len2, &st, err, sizeof(err)), 0);
	/* the rows keep their own copies of the names, not the replies' */
	memset(a, 'x', len1);
	memset(b, 'x', len2);
	free(a);
	free(b);
	ck_assert_uint_eq(st.n, 14);
	ck_assert_str_eq(st.srv[0].backend, "mymaster_write");
	ck_assert_str_eq(st.srv[0].name, "r1");
	ck_assert_str_eq(st.srv[11].backend, "mymaster_read");
	ck_assert_str_eq(st.srv[11].name, "r1");
	ck_assert_int_eq(st.srv[11].port, 7001);
	/* one copy of a backend's name for its run of rows */
	ck_assert_ptr_eq(st.srv[3].backend, st.srv[5].backend);
	ck_assert_ptr_ne(st.srv[2].backend, st.srv[3].backend);
	/* the first contiguous run is reported */
	ck_assert_int_eq(hap_state_backend(&st, "mymaster_read", &first, &count), 0);
	ck_assert_uint_eq(first, 3);
	ck_assert_uint_eq(count, 3);
	hap_state_free(&st);
}
END_TEST

START_TEST(test_state_without_trailing_empty_line)
{
	struct hap_state st = { 0 };
	char err[256] = "";

	ck_assert_int_eq(parse_str("1\n" HDR ROW("w", "1", "r1", "127.0.0.1", "2", "4", "7000"),
				   &st, err, sizeof(err)), 0);
	ck_assert_uint_eq(st.n, 1);
	/* last row without its newline */
	ck_assert_int_eq(parse_str("1\n" HDR "2 w 2 r2 ::1 0 5 1 1 1 1 0 0 8 0 0 0 - 7001 - 0 0 - - 0",
				   &st, err, sizeof(err)), 0);
	ck_assert_uint_eq(st.n, 2);
	ck_assert_str_eq(st.srv[1].addr, "::1");
	ck_assert_int_eq(st.srv[1].port, 7001);
	/* CRLF */
	ck_assert_int_eq(parse_str("1\r\n" HDR "2 w 3 r3 ::1 0 5 1 1 1 1 0 0 8 0 0 0 - 7002 - 0 0 - - 0\r\n\r\n",
				   &st, err, sizeof(err)), 0);
	ck_assert_uint_eq(st.n, 3);
	ck_assert_int_eq(st.srv[2].port, 7002);
	/* no servers at all */
	ck_assert_int_eq(parse_str("1\n" HDR "\n", &st, err, sizeof(err)), 0);
	ck_assert_uint_eq(st.n, 3);
	hap_state_free(&st);
}
END_TEST

START_TEST(test_state_columns_by_name)
{
	struct hap_state st = { 0 };
	char err[256] = "";
	const char *text =
		"1\n"
		"# srv_port new_col srv_admin_state srv_op_state srv_addr srv_name srv_id be_name be_id\n"
		"7005 x 4 2 fe80::1 r4 4 wr 9\n";

	ck_assert_int_eq(parse_str(text, &st, err, sizeof(err)), 0);
	ck_assert_uint_eq(st.n, 1);
	ck_assert_int_eq(st.srv[0].port, 7005);
	ck_assert_uint_eq(st.srv[0].admin_state, 4);
	ck_assert_int_eq(st.srv[0].op_state, 2);
	ck_assert_str_eq(st.srv[0].addr, "fe80::1");
	ck_assert_str_eq(st.srv[0].name, "r4");
	ck_assert_int_eq(st.srv[0].srv_id, 4);
	ck_assert_str_eq(st.srv[0].backend, "wr");
	ck_assert_int_eq(st.srv[0].be_id, 9);
	hap_state_free(&st);
}
END_TEST

START_TEST(test_state_garbage)
{
	struct hap_state st = { 0 };
	char err[256];
	char name[HAP_NAME_MAX + 1], text[1024];

	err[0] = '\0';
	ck_assert_int_eq(parse_str("", &st, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "empty"));
	ck_assert_int_eq(parse_str("2\n" HDR, &st, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "version"));
	ck_assert_int_eq(parse_str("Can't find backend.\n", &st, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "version"));
	ck_assert_int_eq(parse_str(" 1\n" HDR, &st, err, sizeof(err)), -1);

	/* missing header */
	ck_assert_int_eq(parse_str("1\n" ROW("w", "1", "r1", "127.0.0.1", "2", "4", "7000"),
				   &st, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "header"));
	ck_assert_int_eq(parse_str("1\n", &st, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "header"));
	/* header without srv_port */
	ck_assert_int_eq(parse_str("1\n# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state\n",
				   &st, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "srv_port"));

	/* short row: the error names the line; rows before it stay */
	ck_assert_int_eq(parse_str("1\n" HDR ROW("w", "1", "r1", "127.0.0.1", "2", "4", "7000")
				   "2 w 2 r2 127.0.0.1 0 5 1 1\n", &st, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "line 4"));
	ck_assert_uint_eq(st.n, 1);

	/* overlong names */
	memset(name, 'a', HAP_NAME_MAX);
	name[HAP_NAME_MAX] = '\0';
	snprintf(text, sizeof(text), "1\n" HDR "2 w 1 %s 127.0.0.1 0 5 1 1 1 1 0 0 8 0 0 0 - 9 - 0 0 - - 0\n", name);
	ck_assert_int_eq(parse_str(text, &st, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "server name"));
	ck_assert_ptr_nonnull(strstr(err, "line 3"));
	snprintf(text, sizeof(text), "1\n" HDR "2 %s 1 r1 127.0.0.1 0 5 1 1 1 1 0 0 8 0 0 0 - 9 - 0 0 - - 0\n", name);
	ck_assert_int_eq(parse_str(text, &st, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "backend name"));
	/* the longest name that fits */
	name[HAP_NAME_MAX - 1] = '\0';
	snprintf(text, sizeof(text), "1\n" HDR "2 w 1 %s 127.0.0.1 0 5 1 1 1 1 0 0 8 0 0 0 - 9 - 0 0 - - 0\n", name);
	ck_assert_int_eq(parse_str(text, &st, err, sizeof(err)), 0);
	ck_assert_uint_eq(strlen(st.srv[1].name), HAP_NAME_MAX - 1);
	/* overlong address */
	snprintf(text, sizeof(text), "1\n" HDR "2 w 1 r1 %s 0 5 1 1 1 1 0 0 8 0 0 0 - 9 - 0 0 - - 0\n", name);
	ck_assert_int_eq(parse_str(text, &st, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "address"));

	/* bad numbers */
	ck_assert_int_eq(parse_str("1\n" HDR ROW("w", "1", "r1", "127.0.0.1", "2", "x4", "7000"),
				   &st, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "srv_admin_state"));
	ck_assert_int_eq(parse_str("1\n" HDR ROW("w", "1", "r1", "127.0.0.1", "9", "4", "7000"),
				   &st, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "srv_op_state"));
	ck_assert_int_eq(parse_str("1\n" HDR ROW("w", "1", "r1", "127.0.0.1", "2", "4", "65536"),
				   &st, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "srv_port"));
	ck_assert_int_eq(parse_str("1\n" HDR ROW("w", "-1", "r1", "127.0.0.1", "2", "4", "7000"),
				   &st, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "srv_id"));
	ck_assert_int_eq(parse_str("1\n" HDR ROW("w", "99999999999", "r1", "127.0.0.1", "2", "4", "7000"),
				   &st, err, sizeof(err)), -1);
	/* a second reply glued after the empty line */
	ck_assert_int_eq(parse_str("1\n" HDR "\nNo such server.\n", &st, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "after the end"));
	hap_state_free(&st);
}
END_TEST

START_TEST(test_state_row_cap)
{
	struct hap_state st = { 0 };
	char err[256] = "";
	const char *row = ROW("w", "1", "r1", "127.0.0.1", "2", "4", "7000");
	size_t rowlen = strlen(row), hdrlen = strlen("1\n" HDR), i, n = 100001;
	char *text = malloc(hdrlen + rowlen * n + 1), *p;

	ck_assert_ptr_nonnull(text);
	memcpy(text, "1\n" HDR, hdrlen);
	p = text + hdrlen;
	for (i = 0; i < n; i++, p += rowlen)
		memcpy(p, row, rowlen);
	*p = '\0';
	/* growth by doubling: 100000 rows fit in 16 * 2^13 */
	ck_assert_int_eq(hap_state_parse(text, (size_t)(p - text) - rowlen, &st, err, sizeof(err)), 0);
	ck_assert_uint_eq(st.n, 100000);
	ck_assert_uint_eq(st.cap, 16u << 13);
	hap_state_free(&st);
	ck_assert_int_eq(hap_state_parse(text, (size_t)(p - text), &st, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "more than 100000"));
	ck_assert_uint_eq(st.n, 100000);
	hap_state_free(&st);
	free(text);
}
END_TEST

/* ------------------------------------------------------------ show info */

START_TEST(test_info)
{
	struct hap_info info;
	size_t len;
	char *buf = load("info.txt", &len);

	ck_assert_int_eq(hap_info_parse(buf, len, &info), 0);
	ck_assert_int_eq(info.pid, 5749);
	ck_assert_int_eq(info.uptime_sec, 9);
	ck_assert_str_eq(info.version, "2.6.12-1+deb12u4");
	ck_assert_str_eq(info.node, "vm");
	free(buf);
}
END_TEST

START_TEST(test_info_garbage)
{
	struct hap_info info;
	const char *t;

	t = "Name: HAProxy\nVersion: 2.6\n";
	ck_assert_int_eq(hap_info_parse(t, strlen(t), &info), -1);
	t = "Pid: abc\n";
	ck_assert_int_eq(hap_info_parse(t, strlen(t), &info), -1);
	t = "Pid: 0\n";
	ck_assert_int_eq(hap_info_parse(t, strlen(t), &info), -1);
	t = "Pid: -5\n";
	ck_assert_int_eq(hap_info_parse(t, strlen(t), &info), -1);
	t = "Pid: 12\nUptime_sec: x\n";
	ck_assert_int_eq(hap_info_parse(t, strlen(t), &info), -1);
	t = "Pids: 12\n";
	ck_assert_int_eq(hap_info_parse(t, strlen(t), &info), -1);
	ck_assert_int_eq(hap_info_parse("", 0, &info), -1);
	/* CRLF, no trailing newline, missing optional fields */
	t = "Version: 2.6.12\r\nPid: 12\r\nUptime_sec: 3";
	ck_assert_int_eq(hap_info_parse(t, strlen(t), &info), 0);
	ck_assert_int_eq(info.pid, 12);
	ck_assert_int_eq(info.uptime_sec, 3);
	ck_assert_str_eq(info.version, "2.6.12");
	ck_assert_str_eq(info.node, "");
	/* length is honoured: "Pid: 12" cut to "Pid: 1" */
	t = "Pid: 12";
	ck_assert_int_eq(hap_info_parse(t, 6, &info), 0);
	ck_assert_int_eq(info.pid, 1);
	/* long values are truncated */
	t = "Pid: 7\nnode: xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n";
	ck_assert_int_eq(hap_info_parse(t, strlen(t), &info), 0);
	ck_assert_uint_eq(strlen(info.node), sizeof(info.node) - 1);
}
END_TEST

/* ------------------------------------------------------------ replies */

START_TEST(test_split_batch)
{
	static const char *const cmds[] = {
		"set server mymaster_write/r1 addr 127.0.0.1 port 7000",
		"set server mymaster_write/r1 state ready",
		"set server mymaster_read/r1 addr 127.0.0.1 port 7001",
		"set server mymaster_read/r1 state ready",
		"set server mymaster_read/r2 addr 127.0.0.1 port 7002",
		"set server mymaster_read/r2 state ready",
		"set server v6master_write/r1 addr ::1 port 7000",
		"set server v6master_write/r1 state ready",
		"show servers state mymaster_write",
	};
	struct hap_reply r[16];
	struct hap_state st = { 0 };
	char err[256] = "";
	size_t len, n, i;
	char *buf = load("batch_initial_fill.txt", &len);

	n = hap_reply_split(buf, len, r, 16);
	ck_assert_uint_eq(n, 9);
	for (i = 0; i < n; i++)
		ck_assert_msg(hap_reply_ok(cmds[i], r[i].text, r[i].len), "reply %zu: %.*s", i,
			      (int)r[i].len, r[i].text);
	ck_assert_uint_eq(r[1].len, 0);
	ck_assert_int_eq(strncmp(r[0].text, "no need to change the addr, port changed from '9' to '7000'", 59), 0);
	ck_assert_int_eq(r[0].text[r[0].len - 1], '\n');
	ck_assert_int_eq(hap_state_parse(r[8].text, r[8].len, &st, err, sizeof(err)), 0);
	ck_assert_uint_eq(st.n, 3);
	ck_assert_int_eq(hap_server_is_ready(&st.srv[0]), 1);
	ck_assert_int_eq(st.srv[0].port, 7000);
	/* the replies do not belong to other commands */
	ck_assert_int_eq(hap_reply_ok(cmds[1], r[0].text, r[0].len), 0);
	ck_assert_int_eq(hap_reply_ok(cmds[2], r[0].text, r[0].len), 0);
	ck_assert_int_eq(hap_reply_ok(cmds[0], r[1].text, r[1].len), 0);
	ck_assert_int_eq(hap_reply_ok(cmds[0], r[8].text, r[8].len), 0);
	/* fewer slots than replies */
	ck_assert_uint_eq(hap_reply_split(buf, len, r, 3), 3);
	ck_assert_uint_eq(hap_reply_split(buf, len, NULL, 0), 0);
	/* cut anywhere before the last empty line: the last reply is incomplete */
	ck_assert_uint_eq(hap_reply_split(buf, len - 1, r, 16), 8);
	ck_assert_uint_eq(hap_reply_split(buf, len - 2, r, 16), 8);
	hap_state_free(&st);
	free(buf);
}
END_TEST

START_TEST(test_split_promotion)
{
	static const char *const cmds[] = {
		"set server mymaster_write/r1 state maint",
		"shutdown sessions server mymaster_write/r1",
		"set server mymaster_write/r2 addr 127.0.0.1 port 7001",
		"set server mymaster_write/r2 state ready",
	};
	struct hap_reply r[8];
	size_t len, i;
	char *buf = load("batch_promotion.txt", &len);

	ck_assert_uint_eq(hap_reply_split(buf, len, r, 8), 4);
	for (i = 0; i < 4; i++)
		ck_assert(hap_reply_ok(cmds[i], r[i].text, r[i].len));
	free(buf);
}
END_TEST

/* Interactive mode: each answer ends with the prompt; the prompt command's
 * own answer comes first. Captured from HAProxy 2.6 with two request lines
 * ("prompt", two lines of two commands each, "quit"). */
START_TEST(test_prompt_strip)
{
	static const char *const cmds[] = {
		"set server b1/s1 addr 127.0.0.1 port 7000",
		"set server b1/s1 state ready",
		"set server b1/s9 state maint",
		"show servers state b1",
	};
	struct hap_reply r[8];
	struct hap_state st = { 0 };
	char err[256] = "";
	size_t len, n;
	char *buf = load("prompt_two_lines.txt", &len);
	char *cut;

	/* cut anywhere: never more replies than the whole has, never a
	 * longer text */
	cut = malloc(len);
	ck_assert_ptr_nonnull(cut);
	for (size_t k = 0; k <= len; k++) {
		size_t m;

		memcpy(cut, buf, k);
		m = hap_prompt_strip(cut, k);
		ck_assert_uint_le(m, k);
		ck_assert_uint_le(hap_reply_split(cut, m, r, 8), k + 2 >= len ? 4 : 3);
	}
	free(cut);

	n = hap_prompt_strip(buf, len);
	ck_assert_uint_eq(hap_reply_split(buf, n, r, 8), 4);
	for (size_t i = 0; i < 4; i++)
		ck_assert_msg(hap_reply_ok(cmds[i], r[i].text, r[i].len) == (i != 2), "reply %zu: %.*s", i,
			      (int)r[i].len, r[i].text);
	ck_assert_int_eq(strncmp(r[0].text, "no need to change the addr", 26), 0);
	ck_assert_uint_eq(r[1].len, 0);
	ck_assert_int_eq(strncmp(r[2].text, "No such server.\n", r[2].len), 0);
	ck_assert_int_eq(hap_state_parse(r[3].text, r[3].len, &st, err, sizeof(err)), 0);
	ck_assert_uint_eq(st.n, 2);
	hap_state_free(&st);
	free(buf);

	/* by hand: empty answers, a prompt cut after '>', nothing at all */
	{
		char a[] = "\n> \n> x\n\n> ";
		char b[] = "\n> \n>";
		char c[] = "";

		n = hap_prompt_strip(a, strlen(a));
		ck_assert_uint_eq(n, 4);
		ck_assert_int_eq(memcmp(a, "\nx\n\n", 4), 0);
		ck_assert_uint_eq(hap_prompt_strip(b, strlen(b)), 1);
		ck_assert_uint_eq(hap_prompt_strip(c, 0), 0);
		ck_assert_uint_eq(hap_prompt_strip(NULL, 0), 0);
	}
}
END_TEST

START_TEST(test_split_edges)
{
	struct hap_reply r[4];
	const char *t;

	ck_assert_uint_eq(hap_reply_split("", 0, r, 4), 0);
	ck_assert_uint_eq(hap_reply_split(NULL, 0, r, 4), 0);
	t = "No such server.\n";
	ck_assert_uint_eq(hap_reply_split(t, strlen(t), r, 4), 0);
	t = "No such server.";
	ck_assert_uint_eq(hap_reply_split(t, strlen(t), r, 4), 0);
	t = "\n\n";
	ck_assert_uint_eq(hap_reply_split(t, strlen(t), r, 4), 2);
	ck_assert_uint_eq(r[0].len, 0);
	ck_assert_uint_eq(r[1].len, 0);
	ck_assert_ptr_eq(r[1].text, t + 1);
	t = "a\nb\n\nc\n\nd";
	ck_assert_uint_eq(hap_reply_split(t, strlen(t), r, 4), 2);
	ck_assert_uint_eq(r[0].len, 4);
	ck_assert_int_eq(memcmp(r[0].text, "a\nb\n", 4), 0);
	ck_assert_uint_eq(r[1].len, 2);
	ck_assert_int_eq(memcmp(r[1].text, "c\n", 2), 0);
	t = "x\r\n\r\n";
	ck_assert_uint_eq(hap_reply_split(t, strlen(t), r, 4), 1);
	ck_assert_uint_eq(r[0].len, 3);
	/* a line of spaces is not the terminator */
	t = "x\n \n";
	ck_assert_uint_eq(hap_reply_split(t, strlen(t), r, 4), 0);
}
END_TEST

START_TEST(test_reply_ok_captured)
{
	const char *w = "set server mymaster_write/r9 state ready";
	const char *a = "set server mymaster_read/r3 addr 127.0.0.1 port 7003";

	ck_assert_int_eq(file_ok("set server mymaster_read/r3 state maint", "ok_state_maint.txt"), 1);
	ck_assert_int_eq(file_ok("shutdown sessions server mymaster_write/r1", "ok_shutdown.txt"), 1);
	ck_assert_int_eq(file_ok(w, "err_no_such_server.txt"), 0);
	ck_assert_int_eq(file_ok("set server nope/r1 state ready", "err_no_such_backend.txt"), 0);
	ck_assert_int_eq(file_ok("shutdown sessions server mymaster_write/r9", "err_shutdown_no_such_server.txt"), 0);
	ck_assert_int_eq(file_ok("set server mymaster_write/r1 state bogus", "err_state_arg.txt"), 0);
	ck_assert_int_eq(file_ok("bogus command", "err_unknown_command.txt"), 0);
	ck_assert_int_eq(file_ok("show info", "err_unknown_command.txt"), 0);
	ck_assert_int_eq(file_ok("show info", "info.txt"), 1);
	ck_assert_int_eq(file_ok("show servers state", "state_initial.txt"), 1);
	ck_assert_int_eq(file_ok("show servers state mymaster_read", "state_one_backend.txt"), 1);
	ck_assert_int_eq(file_ok("show servers state nope", "state_cant_find_backend.txt"), 0);
	ck_assert_int_eq(file_ok("show servers state", "err_unknown_command.txt"), 0);

	/* set server addr: success texts */
	ck_assert_int_eq(file_ok(a, "addr_port_changed.txt"), 1);
	ck_assert_int_eq(file_ok("set server mymaster_read/r3 addr ::1 port 7004", "addr_ip_port_changed.txt"), 1);
	ck_assert_int_eq(file_ok("set server mymaster_read/r3 addr 0::1 port 7004", "addr_ip_port_changed.txt"), 1);
	ck_assert_int_eq(file_ok("set server mymaster_read/r3 addr 127.0.0.1 port 7004", "addr_ip_changed.txt"), 1);
	ck_assert_int_eq(file_ok("set server mymaster_read/r3 addr 127.0.0.1 port 7004", "addr_unchanged.txt"), 1);
	ck_assert_int_eq(file_ok("set server mymaster_read/r3 addr 127.0.0.1", "addr_no_port.txt"), 1);
	/* ... that do not match the command */
	ck_assert_int_eq(file_ok("set server mymaster_read/r3 addr 127.0.0.1 port 7005", "addr_ip_port_changed.txt"), 0);
	ck_assert_int_eq(file_ok("set server mymaster_read/r3 addr 10.0.0.1 port 7004", "addr_ip_changed.txt"), 0);
	ck_assert_int_eq(file_ok("set server mymaster_read/r3 addr 127.0.0.1 port 7004", "addr_no_port.txt"), 0);
	ck_assert_int_eq(file_ok("set server mymaster_read/r3 addr 127.0.0.1", "addr_unchanged.txt"), 0);
	/* errors, some of which start like a success */
	ck_assert_int_eq(file_ok("set server mymaster_read/r3 addr foo port 7003", "addr_invalid.txt"), 0);
	ck_assert_int_eq(file_ok("set server mymaster_read/r3 addr 127.0.0.1 port 7003", "addr_port_plus.txt"), 0);
	ck_assert_int_eq(file_ok("set server mymaster_read/r3 addr 127.0.0.1 port 7003", "addr_port_abc.txt"), 0);
	ck_assert_int_eq(file_ok("set server mymaster_read/r3 addr", "addr_missing.txt"), 0);
	ck_assert_int_eq(file_ok(a, "addr_family_unsupported.txt"), 0);
	/* port 70000 is silently wrapped to 4464 by HAProxy */
	ck_assert_int_eq(file_ok("set server mymaster_read/r3 addr 127.0.0.1 port 70000", "addr_port_overflow.txt"), 0);
	ck_assert_int_eq(file_ok("set server mymaster_read/r3 addr 127.0.0.1 port 7003", "addr_port_overflow.txt"), 0);
	ck_assert_int_eq(file_ok(a, "err_no_such_server.txt"), 0);
	ck_assert_int_eq(file_ok(a, "ok_state_maint.txt"), 0);
}
END_TEST

START_TEST(test_reply_ok_texts)
{
	const char *a = "set server b/s addr 127.0.0.1 port 7000";
	const char *t;

	ck_assert_int_eq(hap_reply_ok("set server b/s state ready", "", 0), 1);
	ck_assert_int_eq(hap_reply_ok("set server b/s state ready", NULL, 0), 1);
	ck_assert_int_eq(hap_reply_ok("set server b/s state ready", " \n", 2), 1);
	ck_assert_int_eq(hap_reply_ok("set server b/s state ready", "x\n", 2), 0);
	ck_assert_int_eq(hap_reply_ok("set server b/s weight 10", "", 0), 1);
	ck_assert_int_eq(hap_reply_ok("show servers state", "", 0), 0);
	ck_assert_int_eq(hap_reply_ok("show servers state", "1", 1), 0);
	ck_assert_int_eq(hap_reply_ok("show servers state", "1\n", 2), 1);
	ck_assert_int_eq(hap_reply_ok("show servers state", "10\n", 3), 0);
	ck_assert_int_eq(hap_reply_ok("show info", "Pid: \n", 6), 0);
	ck_assert_int_eq(hap_reply_ok("show info", "Name: HAProxy\nPid: 1\n", 21), 1);
	ck_assert_int_eq(hap_reply_ok(a, NULL, 0), 0);
	t = "no need to change the addr, port changed from '9' to '7000'";
	ck_assert_int_eq(hap_reply_ok(a, t, strlen(t)), 1);
	t = "No need to change the addr, port changed from '9' to '7000' by 'x'\n";
	ck_assert_int_eq(hap_reply_ok(a, t, strlen(t)), 1);
	t = "no need to change the addr, port changed from '9' to '7000' by 'x' y\n";
	ck_assert_int_eq(hap_reply_ok(a, t, strlen(t)), 0);
	t = "no need to change the addr, port changed from '9' to '7000' by 'x'\nmore\n";
	ck_assert_int_eq(hap_reply_ok(a, t, strlen(t)), 0);
	t = "IP changed from '::1' to '127.0.0.1'";
	ck_assert_int_eq(hap_reply_ok(a, t, strlen(t)), 0);
	t = "IP changed from '::1' to '127.0.0.1', no need to change the port";
	ck_assert_int_eq(hap_reply_ok(a, t, strlen(t)), 1);
	t = "IP changed from '::1' to '127.0.0.1, no need to change the port";
	ck_assert_int_eq(hap_reply_ok(a, t, strlen(t)), 0);
	ck_assert_int_eq(hap_reply_ok("set server b/s addr 127.0.0.1 port 7000 x", "", 0), 0);
	ck_assert_int_eq(hap_reply_ok("set server b/s addr 127.0.0.1 prt 7000", "", 0), 0);
}
END_TEST

/* "show proc" on HAProxy 2.6.12's master CLI, two reloads, one old worker
 * still serving a connection. */
static const char proc_26[] =
	"#<PID>          <type>          <reloads>       <uptime>        <version>      \n"
	"22302           master          2 [failed: 0]   0d00h00m02s     2.6.12-1+deb12u4\n"
	"# workers\n"
	"22589           worker          0               0d00h00m00s     2.6.12-1+deb12u4\n"
	"# old workers\n"
	"22313           worker          2               0d00h00m02s     2.6.12-1+deb12u4\n"
	"22200           worker          3               0d00h00m09s     2.6.12-1+deb12u4\n"
	"# programs\n"
	"\n";

START_TEST(test_proc)
{
	long pids[4] = { 0 };

	ck_assert_int_eq(hap_proc_parse(proc_26, strlen(proc_26), pids, 4), 2);
	ck_assert_int_eq(pids[0], 22313);
	ck_assert_int_eq(pids[1], 22200);
	/* at most max */
	ck_assert_int_eq(hap_proc_parse(proc_26, strlen(proc_26), pids, 1), 1);
	ck_assert_int_eq(pids[0], 22313);
	/* no old workers: the section is absent */
	{
		const char *t = "#<PID> <type> <reloads> <uptime> <version>\n"
				"1 master 0 0d 2.6\n# workers\n2 worker 0 0d 2.6\n# programs\n\n";

		ck_assert_int_eq(hap_proc_parse(t, strlen(t), pids, 4), 0);
	}
	/* not a master CLI answer: a worker's "Unknown command" */
	{
		const char *t = "Unknown command: 'show proc'\n";

		ck_assert_int_eq(hap_proc_parse(t, strlen(t), pids, 4), -1);
		ck_assert_int_eq(hap_proc_parse("", 0, pids, 4), -1);
	}
	/* garbage rows in the section are skipped */
	{
		const char *t = "#<PID>\n# old workers\n-5 worker\nabc worker\n0 worker\n77 master\n"
				"99999999999999999999 worker\n12 worker 1\n";

		ck_assert_int_eq(hap_proc_parse(t, strlen(t), pids, 4), 1);
		ck_assert_int_eq(pids[0], 12);
	}
}
END_TEST

START_TEST(test_sess)
{
	/* "show sess" of an old 2.6.12 worker (lines cut after srv=) */
	const char *t =
		"0x55f796906040: proto=tcpv4 src=127.0.0.1:60106 fe=redis_write be=mymaster_write srv=r1 ts=00 epoch=0\n"
		"0x55f796a224d0: proto=sockpair src=unix:2 fe=GLOBAL be=<NONE> srv=<none> ts=00\n"
		"0x7f69d4039e60: proto=tcpv4 src=127.0.0.1:1 fe=f be=b\n"          /* no srv= */
		"0xzz: proto=tcpv4 be=b srv=s\n"                                    /* bad id */
		"garbage line be=b srv=s\n"
		"\n";
	struct hap_sess *s = NULL;
	long n = hap_sess_parse(t, strlen(t), &s);

	ck_assert_int_eq(n, 2);
	ck_assert_str_eq(s[0].id, "0x55f796906040");
	ck_assert_str_eq(s[0].backend, "mymaster_write");
	ck_assert_str_eq(s[0].server, "r1");
	ck_assert_str_eq(s[1].backend, "<NONE>");
	free(s);
	ck_assert_int_eq(hap_sess_parse("", 0, &s), 0);
	ck_assert_ptr_null(s);
}
END_TEST

static Suite *
hapapi_suite(void)
{
	Suite *s = suite_create("hapapi");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_state_initial);
	tcase_add_test(tc, test_state_index);
	tcase_add_test(tc, test_state_hold_loop);
	tcase_add_test(tc, test_state_ready_flags);
	tcase_add_test(tc, test_state_unresolved_fqdn);
	tcase_add_test(tc, test_state_append);
	tcase_add_test(tc, test_state_without_trailing_empty_line);
	tcase_add_test(tc, test_state_columns_by_name);
	tcase_add_test(tc, test_state_garbage);
	tcase_add_test(tc, test_state_row_cap);
	tcase_add_test(tc, test_info);
	tcase_add_test(tc, test_info_garbage);
	tcase_add_test(tc, test_split_batch);
	tcase_add_test(tc, test_split_promotion);
	tcase_add_test(tc, test_split_edges);
	tcase_add_test(tc, test_prompt_strip);
	tcase_add_test(tc, test_reply_ok_captured);
	tcase_add_test(tc, test_reply_ok_texts);
	tcase_add_test(tc, test_proc);
	tcase_add_test(tc, test_sess);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return unit_run(hapapi_suite());
}
