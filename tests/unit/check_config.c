/* Unit tests for agent/config.c: no servers, temp files under /tmp only. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE     /* mkstemp, strdup under -std=c11 */
#endif

#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "unit_main.h"

#ifndef RUNSTATEDIR
#define RUNSTATEDIR "/run"
#endif
#ifndef SRCDIR
#define SRCDIR "."
#endif

static struct config C;
static char err[512];

static void
setup(void)
{
	config_init(&C);
	err[0] = '\0';
}

static void
teardown(void)
{
	config_free(&C);
}

static int
parse(const char *text)
{
	return config_parse_buffer(&C, "x.conf", text, strlen(text), err, sizeof(err));
}

static int
set_file(const char *key, const char *value)
{
	return config_set(&C, key, value, CONF_SRC_FILE, "x.conf", 3, err, sizeof(err));
}

static int
set_argv(const char *key, const char *value)
{
	return config_set(&C, key, value, CONF_SRC_ARGV, "-o", 0, err, sizeof(err));
}

static int
apply_env(const char *const *env)
{
	return config_apply_env(&C, (char *const *)(uintptr_t)env, err, sizeof(err));
}

/* Write text to a new temp file; path must hold 64 bytes. */
static void
temp_file(char *path, const char *text, size_t len)
{
	int fd;

	strcpy(path, "/tmp/check_config.XXXXXX");
	fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, text, len), (ssize_t)len);
	close(fd);
}

/* A complete minimal configuration. */
static void
minimal(void)
{
	ck_assert_int_eq(parse("sentinel 127.0.0.1:26379\nhaproxy-socket /run/haproxy.sock\n"), 0);
}

/* ------------------------------------------------------------ defaults */

START_TEST(test_defaults)
{
	ck_assert_int_eq(C.nsentinels, 0);
	ck_assert_ptr_null(C.sentinel_user);
	ck_assert_ptr_null(C.sentinel_password);
	ck_assert_ptr_null(C.sentinel_password_file);
	ck_assert_ptr_null(C.redis_user);
	ck_assert_ptr_null(C.redis_password);
	ck_assert_ptr_null(C.redis_password_file);
	ck_assert_ptr_null(C.haproxy_socket);
	ck_assert_int_eq(C.haproxy_timeout_ms, 2000);
	ck_assert_str_eq(C.status_socket, RUNSTATEDIR "/hasentinel/hasentinel.sock");
	ck_assert_uint_eq(C.status_socket_mode, 0660);
	ck_assert_ptr_null(C.masters);
	ck_assert_int_eq(C.nmasters, 0);
	ck_assert_str_eq(C.write_backend_format, "%s_write");
	ck_assert_str_eq(C.read_backend_format, "%s_read");
	ck_assert_int_eq(C.master_reads, 0);
	ck_assert_int_eq(C.write_lease, 0);
	ck_assert_int_eq(C.write_lease_ms, 0);
	ck_assert_int_eq(C.resync_interval_ms, 1000);
	ck_assert_int_eq(C.connect_timeout_ms, 1000);
	ck_assert_int_eq(C.command_timeout_ms, 1000);
	ck_assert_int_eq(C.reconnect_max_ms, 2000);
	ck_assert_int_eq(C.log_level, LOG_LVL_INFO);
	ck_assert_int_eq(C.syslog, 0);
	ck_assert_str_eq(C.syslog_ident, "hasentinel");
	ck_assert_ptr_null(C.pidfile);
}
END_TEST

/* ------------------------------------------------------------ every key */

/* A good value for every key. test_keys_covered checks that this table and
 * config_keys[] hold the same names, so a new key needs a test here. */
static const struct { const char *key, *value; } good[] = {
	{ "sentinel",               "10.0.0.1:26379" },
	{ "sentinel-user",          "hasentinel" },
	{ "sentinel-password",      "s3cret" },
	{ "sentinel-password-file", "/etc/hasentinel/sentinel.pw" },
	{ "redis-user",             "hasentinel" },
	{ "redis-password",         "r3dis" },
	{ "redis-password-file",    "/etc/hasentinel/redis.pw" },
	{ "haproxy-socket",         "/run/haproxy/admin.sock" },
	{ "haproxy-timeout",        "1500" },
	{ "haproxy-master-socket",  "/run/haproxy-master.sock" },
	{ "status-socket",          "/tmp/hs.sock" },
	{ "status-socket-mode",     "0600" },
	{ "master",                 "mymaster be_w be_r" },
	{ "write-backend-format",   "w_%s" },
	{ "read-backend-format",    "r_%s" },
	{ "master-reads",           "yes" },
	{ "fence-on-reset",         "no" },
	{ "fence-on-odown",         "no" },
	{ "write-lease",            "yes" },
	{ "write-lease-time",       "400" },
	{ "resync-interval",        "5000" },
	{ "connect-timeout",        "300" },
	{ "command-timeout",        "400" },
	{ "reconnect-max",          "60000" },
	{ "resolver",               "127.0.0.1:5353,[::1]:53" },
	{ "resolve-ttl-min",        "500" },
	{ "resolve-ttl-max",        "20000" },
	{ "log-level",              "debug" },
	{ "syslog",                 "yes" },
	{ "syslog-ident",           "hs-test" },
	{ "pidfile",                "/run/hasentinel.pid" },
	{ "notify-exec",            "/usr/local/bin/on-switch" },
	{ "notify-timeout",         "2500" },
	{ "metrics-listen",         "127.0.0.1:9121" },
};
#define NGOOD ((int)(sizeof(good) / sizeof(good[0])))

/* The value good[i] must have left in C. */
static void
check_good(int i)
{
	const char *k = good[i].key;

	if (!strcmp(k, "sentinel")) {
		ck_assert_int_eq(C.nsentinels, 1);
		ck_assert_str_eq(C.sentinels[0].host, "10.0.0.1");
		ck_assert_int_eq(C.sentinels[0].port, 26379);
	} else if (!strcmp(k, "sentinel-user")) {
		ck_assert_str_eq(C.sentinel_user, "hasentinel");
	} else if (!strcmp(k, "sentinel-password")) {
		ck_assert_str_eq(C.sentinel_password, "s3cret");
	} else if (!strcmp(k, "sentinel-password-file")) {
		ck_assert_str_eq(C.sentinel_password_file, "/etc/hasentinel/sentinel.pw");
	} else if (!strcmp(k, "redis-user")) {
		ck_assert_str_eq(C.redis_user, "hasentinel");
	} else if (!strcmp(k, "redis-password")) {
		ck_assert_str_eq(C.redis_password, "r3dis");
	} else if (!strcmp(k, "redis-password-file")) {
		ck_assert_str_eq(C.redis_password_file, "/etc/hasentinel/redis.pw");
	} else if (!strcmp(k, "haproxy-socket")) {
		ck_assert_str_eq(C.haproxy_socket, "/run/haproxy/admin.sock");
	} else if (!strcmp(k, "haproxy-master-socket")) {
		ck_assert_str_eq(C.haproxy_master_socket, "/run/haproxy-master.sock");
	} else if (!strcmp(k, "haproxy-timeout")) {
		ck_assert_int_eq(C.haproxy_timeout_ms, 1500);
	} else if (!strcmp(k, "status-socket")) {
		ck_assert_str_eq(C.status_socket, "/tmp/hs.sock");
	} else if (!strcmp(k, "status-socket-mode")) {
		ck_assert_uint_eq(C.status_socket_mode, 0600);
	} else if (!strcmp(k, "master")) {
		ck_assert_int_eq(C.nmasters, 1);
		ck_assert_str_eq(C.masters[0].name, "mymaster");
		ck_assert_str_eq(C.masters[0].write_backend, "be_w");
		ck_assert_str_eq(C.masters[0].read_backend, "be_r");
	} else if (!strcmp(k, "write-backend-format")) {
		ck_assert_str_eq(C.write_backend_format, "w_%s");
	} else if (!strcmp(k, "read-backend-format")) {
		ck_assert_str_eq(C.read_backend_format, "r_%s");
	} else if (!strcmp(k, "master-reads")) {
		ck_assert_int_eq(C.master_reads, 1);
	} else if (!strcmp(k, "fence-on-reset")) {
		ck_assert_int_eq(C.fence_on_reset, 0);
	} else if (!strcmp(k, "fence-on-odown")) {
		ck_assert_int_eq(C.fence_on_odown, 0);
	} else if (!strcmp(k, "write-lease")) {
		ck_assert_int_eq(C.write_lease, 1);
	} else if (!strcmp(k, "write-lease-time")) {
		ck_assert_int_eq(C.write_lease_ms, 400);
	} else if (!strcmp(k, "resync-interval")) {
		ck_assert_int_eq(C.resync_interval_ms, 5000);
	} else if (!strcmp(k, "connect-timeout")) {
		ck_assert_int_eq(C.connect_timeout_ms, 300);
	} else if (!strcmp(k, "command-timeout")) {
		ck_assert_int_eq(C.command_timeout_ms, 400);
	} else if (!strcmp(k, "reconnect-max")) {
		ck_assert_int_eq(C.reconnect_max_ms, 60000);
	} else if (!strcmp(k, "resolver")) {
		ck_assert_str_eq(C.resolver, "127.0.0.1:5353,[::1]:53");
	} else if (!strcmp(k, "resolve-ttl-min")) {
		ck_assert_int_eq(C.resolve_ttl_min_ms, 500);
	} else if (!strcmp(k, "resolve-ttl-max")) {
		ck_assert_int_eq(C.resolve_ttl_max_ms, 20000);
	} else if (!strcmp(k, "log-level")) {
		ck_assert_int_eq(C.log_level, LOG_LVL_DEBUG);
	} else if (!strcmp(k, "syslog")) {
		ck_assert_int_eq(C.syslog, 1);
	} else if (!strcmp(k, "syslog-ident")) {
		ck_assert_str_eq(C.syslog_ident, "hs-test");
	} else if (!strcmp(k, "pidfile")) {
		ck_assert_str_eq(C.pidfile, "/run/hasentinel.pid");
	} else if (!strcmp(k, "notify-exec")) {
		ck_assert_str_eq(C.notify_exec, "/usr/local/bin/on-switch");
	} else if (!strcmp(k, "notify-timeout")) {
		ck_assert_int_eq(C.notify_timeout_ms, 2500);
	} else if (!strcmp(k, "metrics-listen")) {
		ck_assert_str_eq(C.metrics_listen, "127.0.0.1:9121");
	} else {
		ck_abort_msg("no check for key %s", k);
	}
}

START_TEST(test_good_file)
{
	char text[256];

	snprintf(text, sizeof(text), "%s %s\n", good[_i].key, good[_i].value);
	ck_assert_msg(parse(text) == 0, "%s: %s", good[_i].key, err);
	check_good(_i);
}
END_TEST

/* HASENTINEL_ + upper case, '-' -> '_', built here independently. */
START_TEST(test_good_env)
{
	char var[256];
	const char *env[] = { "PATH=/bin", var, "HASENTINEL=/x/hasentinel", NULL };
	size_t o = (size_t)snprintf(var, sizeof(var), "HASENTINEL_");

	for (const char *k = good[_i].key; *k; k++)
		var[o++] = *k == '-' ? '_' : (char)(*k >= 'a' && *k <= 'z' ? *k - 32 : *k);
	snprintf(var + o, sizeof(var) - o, "=%s", good[_i].value);
	ck_assert_msg(apply_env(env) == 0, "%s: %s", var, err);
	check_good(_i);
}
END_TEST

START_TEST(test_good_argv)
{
	int rc = set_argv(good[_i].key, good[_i].value);

	if (strstr(good[_i].key, "password") && !strstr(good[_i].key, "-file")) {
		ck_assert_int_eq(rc, -1);
		return;
	}
	ck_assert_msg(rc == 0, "%s: %s", good[_i].key, err);
	check_good(_i);
}
END_TEST

START_TEST(test_keys_covered)
{
	int n = 0;

	for (const char *const *k = config_keys; *k; k++, n++) {
		int found = 0;

		for (int i = 0; i < NGOOD; i++)
			found |= !strcmp(good[i].key, *k);
		ck_assert_msg(found, "key %s has no test value", *k);
		/* every listed key is known to config_set */
		if (set_file(*k, "") < 0)
			ck_assert_msg(!strstr(err, "unknown key"), "%s: %s", *k, err);
	}
	ck_assert_int_eq(n, NGOOD);
	ck_assert_int_eq(n, 34);
}
END_TEST

/* Every key is documented in the example config, as "key " or "# key "
 * at the start of a line. */
START_TEST(test_keys_documented)
{
	FILE *f = fopen(SRCDIR "/doc/hasentinel.conf.example", "r");
	static char doc[65536];
	size_t n;

	ck_assert_ptr_nonnull(f);
	n = fread(doc + 1, 1, sizeof(doc) - 2, f);
	fclose(f);
	doc[0] = '\n';
	doc[n + 1] = '\0';
	for (const char *const *k = config_keys; *k; k++) {
		char a[64], b[64];

		snprintf(a, sizeof(a), "\n%s ", *k);
		snprintf(b, sizeof(b), "\n# %s ", *k);
		ck_assert_msg(strstr(doc, a) || strstr(doc, b), "%s is not in the example", *k);
	}
	/* and the example itself parses */
	{
		char path[] = SRCDIR "/doc/hasentinel.conf.example";

		ck_assert_msg(config_load_file(&C, path, err, sizeof(err)) == 0, "%s", err);
	}
}
END_TEST

/* Bad values, with the exact message. */
static const struct { const char *key, *value, *msg; } bad[] = {
	{ "sentinel", "foo", "x.conf:3: sentinel: expected HOST:PORT, got 'foo'" },
	{ "sentinel", "1.2.3.4:0", "x.conf:3: sentinel: expected HOST:PORT, got '1.2.3.4:0'" },
	{ "sentinel", "1.2.3.4:65536", "x.conf:3: sentinel: expected HOST:PORT, got '1.2.3.4:65536'" },
	{ "sentinel", "::1:26379", "x.conf:3: sentinel: expected HOST:PORT, got '::1:26379'" },
	{ "sentinel", "[10.0.0.1]:26379", "x.conf:3: sentinel: expected HOST:PORT, got '[10.0.0.1]:26379'" },
	{ "sentinel", "a/b:26379", "x.conf:3: sentinel: expected HOST:PORT, got 'a/b:26379'" },
	{ "sentinel", ":26379", "x.conf:3: sentinel: expected HOST:PORT, got ':26379'" },
	{ "sentinel", " , ", "x.conf:3: sentinel: expected HOST:PORT, got ''" },
	{ "sentinel", "1.2.3.4:1 1.2.3.4:1", "x.conf:3: sentinel: duplicate sentinel '1.2.3.4:1'" },
	{ "sentinel", "[::1]:1,[0:0::1]:1", "x.conf:3: sentinel: duplicate sentinel '[0:0::1]:1'" },
	{ "haproxy-socket", "host:http", "x.conf:3: haproxy-socket: expected an absolute unix socket path or IP:PORT, got 'host:http'" },
	/* One rule with the HAProxy client: an absolute path or an IP literal. */
	{ "haproxy-socket", "admin.sock", "x.conf:3: haproxy-socket: 'admin.sock' is a relative path: give the unix socket's absolute path, or IP:PORT" },
	{ "haproxy-socket", "./admin.sock", "x.conf:3: haproxy-socket: './admin.sock' is a relative path: give the unix socket's absolute path, or IP:PORT" },
	{ "haproxy-socket", "localhost:9999", "x.conf:3: haproxy-socket: expected an absolute unix socket path or IP:PORT, got 'localhost:9999'" },
	{ "haproxy-socket", "/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	  "x.conf:3: haproxy-socket: unix socket path longer than 107 bytes" },
	{ "status-socket", "/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	  "x.conf:3: status-socket: unix socket path longer than 107 bytes" },
	{ "haproxy-master-socket", "master.sock", "x.conf:3: haproxy-master-socket: 'master.sock' is a relative path: give the unix socket's absolute path, or IP:PORT" },
	{ "haproxy-timeout", "9", "x.conf:3: haproxy-timeout: expected milliseconds 10..3600000, got '9'" },
	{ "haproxy-timeout", "3600001", "x.conf:3: haproxy-timeout: expected milliseconds 10..3600000, got '3600001'" },
	{ "resync-interval", "1s", "x.conf:3: resync-interval: expected milliseconds 10..3600000, got '1s'" },
	{ "write-lease", "on", "x.conf:3: write-lease: expected yes or no, got 'on'" },
	{ "write-lease-time", "-1", "x.conf:3: write-lease-time: expected milliseconds 0..3600000, got '-1'" },
	{ "connect-timeout", "", "x.conf:3: connect-timeout: expected milliseconds 10..3600000, got ''" },
	{ "command-timeout", "-5", "x.conf:3: command-timeout: expected milliseconds 10..3600000, got '-5'" },
	{ "reconnect-max", "99999999999999999999", "x.conf:3: reconnect-max: expected milliseconds 10..3600000, got '99999999999999999999'" },
	{ "status-socket-mode", "0888", "x.conf:3: status-socket-mode: expected an octal mode 0000..0777 like 0660, got '0888'" },
	{ "status-socket-mode", "01777", "x.conf:3: status-socket-mode: expected an octal mode 0000..0777 like 0660, got '01777'" },
	{ "status-socket-mode", "rw", "x.conf:3: status-socket-mode: expected an octal mode 0000..0777 like 0660, got 'rw'" },
	{ "status-socket-mode", "", "x.conf:3: status-socket-mode: expected an octal mode 0000..0777 like 0660, got ''" },
	{ "master", "m", "x.conf:3: master: expected NAME WRITE_BACKEND [READ_BACKEND], got 'm'" },
	{ "master", "m w r x", "x.conf:3: master: expected NAME WRITE_BACKEND [READ_BACKEND], got 'm w r x'" },
	{ "master", "a w1; b ", "x.conf:3: master: expected NAME WRITE_BACKEND [READ_BACKEND], got 'b'" },
	{ "master", ";", "x.conf:3: master: expected NAME WRITE_BACKEND [READ_BACKEND], got ''" },
	{ "master", "m w/x", "x.conf:3: master: 'w/x' is not a valid HAProxy backend name (letters, digits, '-', '_', '.', ':')" },
	{ "master", "m w w", "x.conf:3: master: write and read backend are both 'w'" },
	{ "master", "m w1 r1; m w2", "x.conf:3: master: duplicate master 'm'" },
	{ "master", "a w1 r1; b r1", "x.conf:3: master: backend 'r1' is already used by master 'a'" },
	{ "master", "m aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	  "x.conf:3: master: name longer than 127 bytes" },
	{ "write-backend-format", "", "x.conf:3: write-backend-format: must not be empty" },
	{ "write-backend-format", "write", "x.conf:3: write-backend-format: expected a backend name with exactly one %s, no other %, and only letters, digits, '-', '_', '.', ':', got 'write'" },
	{ "write-backend-format", "%s_%s", "x.conf:3: write-backend-format: expected a backend name with exactly one %s, no other %, and only letters, digits, '-', '_', '.', ':', got '%s_%s'" },
	{ "read-backend-format", "%d_read", "x.conf:3: read-backend-format: expected a backend name with exactly one %s, no other %, and only letters, digits, '-', '_', '.', ':', got '%d_read'" },
	{ "read-backend-format", "%s%%", "x.conf:3: read-backend-format: expected a backend name with exactly one %s, no other %, and only letters, digits, '-', '_', '.', ':', got '%s%%'" },
	{ "read-backend-format", "%s read", "x.conf:3: read-backend-format: expected a backend name with exactly one %s, no other %, and only letters, digits, '-', '_', '.', ':', got '%s read'" },
	{ "master-reads", "true", "x.conf:3: master-reads: expected yes, no or fallback, got 'true'" },
	{ "syslog", "1", "x.conf:3: syslog: expected yes or no, got '1'" },
	{ "log-level", "verbose", "x.conf:3: log-level: expected error, warning, info or debug, got 'verbose'" },
	{ "syslog-ident", "", "x.conf:3: syslog-ident: must not be empty" },
	{ "sentinal", "1.2.3.4:5", "x.conf:3: unknown key 'sentinal'" },
	{ "resync-interval", "\x1b[31m", "x.conf:3: resync-interval: expected milliseconds 10..3600000, got '?[31m'" },
};
#define NBAD ((int)(sizeof(bad) / sizeof(bad[0])))

START_TEST(test_bad_value)
{
	ck_assert_int_eq(set_file(bad[_i].key, bad[_i].value), -1);
	ck_assert_str_eq(err, bad[_i].msg);
}
END_TEST

START_TEST(test_bad_value_env)
{
	char var[512];
	const char *env[] = { var, NULL };
	size_t o = (size_t)snprintf(var, sizeof(var), "HASENTINEL_");

	if (!strcmp(bad[_i].key, "sentinal"))
		return;     /* unknown variables are ignored: see test_env_ignored */
	for (const char *k = bad[_i].key; *k; k++)
		var[o++] = *k == '-' ? '_' : (char)(*k >= 'a' && *k <= 'z' ? *k - 32 : *k);
	var[o] = '\0';
	{
		/* "x.conf:3: key: msg" becomes "HASENTINEL_KEY: msg" */
		char want[1024];
		const char *msg = bad[_i].msg + strlen("x.conf:3: ") + strlen(bad[_i].key) + 2;

		snprintf(want, sizeof(want), "%s: %s", var, msg);
		snprintf(var + o, sizeof(var) - o, "=%s", bad[_i].value);
		ck_assert_int_eq(apply_env(env), -1);
		ck_assert_str_eq(err, want);
	}
}
END_TEST

START_TEST(test_values_more)
{
	ck_assert_int_eq(set_file("status-socket-mode", "660"), 0);
	ck_assert_uint_eq(C.status_socket_mode, 0660);
	ck_assert_int_eq(set_file("status-socket-mode", "0"), 0);
	ck_assert_uint_eq(C.status_socket_mode, 0);
	ck_assert_int_eq(set_file("haproxy-socket", "127.0.0.1:9999"), 0);
	ck_assert_str_eq(C.haproxy_socket, "127.0.0.1:9999");
	ck_assert_int_eq(set_file("haproxy-socket", "[::1]:9999"), 0);
	ck_assert_int_eq(set_file("haproxy-socket", ""), 0);
	ck_assert_ptr_null(C.haproxy_socket);
	ck_assert_int_eq(set_file("master-reads", "NO"), 0);
	ck_assert_int_eq(C.master_reads, MASTER_READS_NO);
	ck_assert_int_eq(set_file("master-reads", "fallback"), 0);
	ck_assert_int_eq(C.master_reads, MASTER_READS_FALLBACK);
	ck_assert_int_eq(set_file("master-reads", "yes"), 0);
	ck_assert_int_eq(C.master_reads, MASTER_READS_YES);
	ck_assert_int_eq(set_file("log-level", "warning"), 0);
	ck_assert_int_eq(C.log_level, LOG_LVL_WARN);
	ck_assert_int_eq(set_file("log-level", "error"), 0);
	ck_assert_int_eq(C.log_level, LOG_LVL_ERR);
	ck_assert_int_eq(set_file("log-level", "info"), 0);
	ck_assert_int_eq(C.log_level, LOG_LVL_INFO);
	ck_assert_int_eq(set_file("resync-interval", "10"), 0);
	ck_assert_int_eq(set_file("resync-interval", "3600000"), 0);
	ck_assert_int_eq(C.resync_interval_ms, 3600000);
	/* keys are case-insensitive, like redis.conf */
	ck_assert_int_eq(set_file("SYSLOG", "yes"), 0);
	ck_assert_int_eq(C.syslog, 1);
	/* "" empties optional strings, and the status socket */
	ck_assert_int_eq(set_file("status-socket", ""), 0);
	ck_assert_ptr_null(C.status_socket);
	ck_assert_int_eq(set_file("pidfile", "/a"), 0);
	ck_assert_int_eq(set_file("pidfile", ""), 0);
	ck_assert_ptr_null(C.pidfile);
	/* an empty read format means no read backend */
	ck_assert_int_eq(set_file("read-backend-format", ""), 0);
	ck_assert_str_eq(C.read_backend_format, "");
	/* setting a string twice replaces it (valgrind checks the old is freed) */
	ck_assert_int_eq(set_file("sentinel-password", "one"), 0);
	ck_assert_int_eq(set_file("sentinel-password", "two"), 0);
	ck_assert_str_eq(C.sentinel_password, "two");
	ck_assert_int_eq(set_file("syslog-ident", "a"), 0);
	ck_assert_int_eq(set_file("syslog-ident", "b"), 0);
	ck_assert_str_eq(C.syslog_ident, "b");
}
END_TEST

START_TEST(test_sentinel_list)
{
	ck_assert_int_eq(parse("sentinel 10.0.0.1:26379\n"
			       "sentinel [::1]:26380\n"
			       "sentinel sentinel-3.example:26381, 10.0.0.4:1 10.0.0.5:2\n"), 0);
	ck_assert_int_eq(C.nsentinels, 5);
	ck_assert_str_eq(C.sentinels[1].host, "::1");
	ck_assert_int_eq(C.sentinels[1].port, 26380);
	ck_assert_str_eq(C.sentinels[2].host, "sentinel-3.example");
	ck_assert_int_eq(C.sentinels[4].port, 2);
	/* a duplicate on a later line */
	ck_assert_int_eq(parse("sentinel 10.0.0.1:26379\n"), -1);
	ck_assert_str_eq(err, "x.conf:1: sentinel: duplicate sentinel '10.0.0.1:26379'");
}
END_TEST

START_TEST(test_sentinel_max)
{
	char text[1024];
	size_t o = 0;

	for (int i = 0; i < CONF_MAX_SENTINELS; i++)
		o += (size_t)snprintf(text + o, sizeof(text) - o, "sentinel 10.0.0.%d:26379\n", i + 1);
	ck_assert_msg(parse(text) == 0, "%s", err);
	ck_assert_int_eq(C.nsentinels, CONF_MAX_SENTINELS);
	ck_assert_int_eq(parse("sentinel 10.0.1.1:26379\n"), -1);
	ck_assert_str_eq(err, "x.conf:1: sentinel: too many sentinels (max 16)");
}
END_TEST

START_TEST(test_master_lines)
{
	ck_assert_int_eq(parse("master alpha alpha_w alpha_r\n"
			       "master beta beta_w\n"
			       "master gamma g_w g_r; delta d_w\n"), 0);
	ck_assert_int_eq(C.nmasters, 4);
	ck_assert_str_eq(C.masters[1].name, "beta");
	ck_assert_str_eq(C.masters[1].read_backend, "");
	ck_assert_str_eq(C.masters[3].write_backend, "d_w");
	ck_assert_int_eq(parse("\nmaster beta other_w\n"), -1);
	ck_assert_str_eq(err, "x.conf:2: master: duplicate master 'beta'");
}
END_TEST

/* ------------------------------------------------------------ syntax */

START_TEST(test_quoting)
{
	ck_assert_int_eq(parse("sentinel-password \"a b \\\"c\\\" \\\\ d\"  \n"), 0);
	ck_assert_str_eq(C.sentinel_password, "a b \"c\" \\ d");
	ck_assert_int_eq(parse("pidfile \"/run/my dir/x.pid\"\n"), 0);
	ck_assert_str_eq(C.pidfile, "/run/my dir/x.pid");
	ck_assert_int_eq(parse("redis-password \"#not a comment\"\n"), 0);
	ck_assert_str_eq(C.redis_password, "#not a comment");
	ck_assert_int_eq(parse("redis-password pass#word\n"), 0);
	ck_assert_str_eq(C.redis_password, "pass#word");
	ck_assert_int_eq(parse("read-backend-format \"\"\n"), 0);
	ck_assert_str_eq(C.read_backend_format, "");
	ck_assert_int_eq(parse("master \"m w r\"\n"), 0);
	ck_assert_str_eq(C.masters[0].read_backend, "r");
	/* a quote inside an unquoted value is just a character */
	ck_assert_int_eq(parse("syslog-ident a\"b\n"), 0);
	ck_assert_str_eq(C.syslog_ident, "a\"b");
}
END_TEST

START_TEST(test_quoting_bad)
{
	ck_assert_int_eq(parse("sentinel-password \"hunter2\n"), -1);
	ck_assert_str_eq(err, "x.conf:1: sentinel-password: unterminated quoted value");
	ck_assert_int_eq(parse("\n\nsentinel-password \"hun\\ter2\"\n"), -1);
	ck_assert_str_eq(err, "x.conf:3: sentinel-password: bad escape in quoted value "
			 "(only \\\" and \\\\ are allowed)");
	ck_assert_int_eq(parse("sentinel-password \"hunter\" 2\n"), -1);
	ck_assert_str_eq(err, "x.conf:1: sentinel-password: unexpected text after the closing quote");
	ck_assert_int_eq(parse("sentinel-password hunter 2\n"), -1);
	ck_assert_str_eq(err, "x.conf:1: sentinel-password: unexpected text after the value "
			 "(quote values that contain spaces)");
	ck_assert_int_eq(parse("pidfile\n"), -1);
	ck_assert_str_eq(err, "x.conf:1: pidfile: missing value");
	ck_assert_int_eq(parse("pidfile   \t\n"), -1);
	ck_assert_str_eq(err, "x.conf:1: pidfile: missing value");
	ck_assert_ptr_null(strstr(err, "hunter"));
}
END_TEST

START_TEST(test_comments)
{
	ck_assert_int_eq(parse("# a comment\n"
			       "   # indented comment\n"
			       "\t#tab comment\n"
			       "\n"
			       "   \t  \n"
			       "#sentinal 1.2.3.4:5\n"
			       "syslog yes\r\n"
			       "  log-level\tdebug  \n"
			       "pidfile /x.pid"), 0);   /* no final newline */
	ck_assert_int_eq(C.syslog, 1);
	ck_assert_int_eq(C.log_level, LOG_LVL_DEBUG);
	ck_assert_str_eq(C.pidfile, "/x.pid");
	ck_assert_int_eq(parse(""), 0);
}
END_TEST

START_TEST(test_unknown_key)
{
	ck_assert_int_eq(parse("# c\n\nfoo bar\n"), -1);
	ck_assert_str_eq(err, "x.conf:3: unknown key 'foo'");
	{
		const char *text = "\n\n\n\n\n\n\n\n\n\n\nsentinal 1.2.3.4:5\n";

		ck_assert_int_eq(config_parse_buffer(&C, "hasentinel.conf", text, strlen(text),
						     err, sizeof(err)), -1);
	}
	ck_assert_str_eq(err, "hasentinel.conf:12: unknown key 'sentinal'");
	ck_assert_int_eq(parse("foo\n"), -1);
	ck_assert_str_eq(err, "x.conf:1: unknown key 'foo'");
}
END_TEST

START_TEST(test_line_too_long)
{
	static char text[2 * 4096 + 16];
	size_t n;

	/* exactly 4096 bytes: fine */
	strcpy(text, "syslog yes\npidfile /");
	n = strlen(text);
	memset(text + n, 'a', 4096 - (n - strlen("syslog yes\n")));
	n += 4096 - (n - strlen("syslog yes\n"));
	text[n] = '\n';
	text[n + 1] = '\0';
	ck_assert_msg(parse(text) == 0, "%s", err);
	ck_assert_uint_eq(strlen(C.pidfile), 4096 - strlen("pidfile "));
	/* 4097: an error, not a truncation */
	text[n] = 'a';
	text[n + 1] = '\n';
	text[n + 2] = '\0';
	ck_assert_int_eq(parse(text), -1);
	ck_assert_str_eq(err, "x.conf:2: line too long (max 4096 bytes)");
	/* also without a final newline */
	text[n + 1] = '\0';
	ck_assert_int_eq(parse(text), -1);
	ck_assert_str_eq(err, "x.conf:2: line too long (max 4096 bytes)");
}
END_TEST

START_TEST(test_nul_byte)
{
	static const char text[] = "syslog yes\nsys\0log no\n";

	ck_assert_int_eq(config_parse_buffer(&C, "x.conf", text, sizeof(text) - 1, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "x.conf:2: NUL byte in line");
	ck_assert_int_eq(config_parse_buffer(&C, "x.conf", "#\0", 2, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "x.conf:1: NUL byte in line");
}
END_TEST

START_TEST(test_small_err_buffer)
{
	char small[8];

	ck_assert_int_eq(config_set(&C, "nope", "x", CONF_SRC_FILE, "x.conf", 1, small, sizeof(small)), -1);
	ck_assert_str_eq(small, "x.conf:");
	ck_assert_int_eq(config_set(&C, "nope", "x", CONF_SRC_FILE, "x.conf", 1, NULL, 0), -1);
	ck_assert_int_eq(config_set(&C, "syslog", "maybe", CONF_SRC_FILE, "x.conf", 1, small, 1), -1);
	ck_assert_str_eq(small, "");
}
END_TEST

/* ------------------------------------------------------------ sources */

START_TEST(test_env_replaces_sentinels)
{
	const char *env[] = {
		"HASENTINEL_SENTINEL=10.1.0.1:26379, 10.1.0.2:26379 [::1]:26379",
		NULL
	};

	ck_assert_int_eq(parse("sentinel 10.0.0.1:26379\nsentinel 10.0.0.2:26379\n"), 0);
	ck_assert_int_eq(C.nsentinels, 2);
	ck_assert_msg(apply_env(env) == 0, "%s", err);
	ck_assert_int_eq(C.nsentinels, 3);
	ck_assert_str_eq(C.sentinels[0].host, "10.1.0.1");
	ck_assert_str_eq(C.sentinels[1].host, "10.1.0.2");
	ck_assert_str_eq(C.sentinels[2].host, "::1");
	/* -o replaces again: the first one clears, the next ones append */
	ck_assert_int_eq(set_argv("sentinel", "10.2.0.1:1"), 0);
	ck_assert_int_eq(set_argv("sentinel", "10.2.0.2:1"), 0);
	ck_assert_int_eq(C.nsentinels, 2);
	ck_assert_str_eq(C.sentinels[0].host, "10.2.0.1");
	ck_assert_str_eq(C.sentinels[1].host, "10.2.0.2");
}
END_TEST

START_TEST(test_env_masters)
{
	const char *env[] = { "HASENTINEL_MASTER=a a_w a_r; b b_w;", NULL };
	const char *dup[] = { "HASENTINEL_MASTER=a a_w; a b_w", NULL };

	ck_assert_int_eq(parse("master old old_w\n"), 0);
	ck_assert_msg(apply_env(env) == 0, "%s", err);
	ck_assert_int_eq(C.nmasters, 2);
	ck_assert_str_eq(C.masters[0].name, "a");
	ck_assert_str_eq(C.masters[0].read_backend, "a_r");
	ck_assert_str_eq(C.masters[1].write_backend, "b_w");
	ck_assert_str_eq(C.masters[1].read_backend, "");
	ck_assert_int_eq(apply_env(dup), -1);
	ck_assert_str_eq(err, "HASENTINEL_MASTER: duplicate master 'a'");
}
END_TEST

START_TEST(test_env_misc)
{
	const char *env[] = {
		"HASENTINEL_HAPROXY_SOCKET=/run/haproxy.sock",
		"HASENTINEL_SENTINEL_PASSWORD=env secret",
		"HASENTINEL_SENTINEL_PASSWORD_FILE_X=ignored",
		"HASENTINEL_RESYNC_INTERVAL=250",
		"HASENTINEL_RESYNC_INTERVAL=999",       /* first wins, like getenv */
		"HASENTINEL_SENTINAL=1.2.3.4:5",        /* not a key: ignored */
		"HASENTINEL_haproxy_timeout=7",         /* names are case-sensitive */
		"HASENTINEL=/usr/sbin/hasentinel",
		"HASENTINEL_",
		"HASENTINEL_SYSLOG",                    /* no '=': ignored */
		"PATH=/usr/bin",
		NULL
	};
	const char *badenv[] = { "HASENTINEL_RESYNC_INTERVAL=x", NULL };

	ck_assert_msg(apply_env(env) == 0, "%s", err);
	ck_assert_str_eq(C.haproxy_socket, "/run/haproxy.sock");
	ck_assert_str_eq(C.sentinel_password, "env secret");
	ck_assert_ptr_null(C.sentinel_password_file);
	ck_assert_int_eq(C.resync_interval_ms, 250);
	ck_assert_int_eq(C.haproxy_timeout_ms, 2000);
	ck_assert_int_eq(C.syslog, 0);
	ck_assert_int_eq(apply_env(badenv), -1);
	ck_assert_str_eq(err, "HASENTINEL_RESYNC_INTERVAL: expected milliseconds 10..3600000, got 'x'");
	ck_assert_int_eq(config_apply_env(&C, NULL, err, sizeof(err)), 0);
}
END_TEST

START_TEST(test_argv_refuses_passwords)
{
	ck_assert_int_eq(set_argv("sentinel-password", "hunter2"), -1);
	ck_assert_str_eq(err, "-o: sentinel-password may not be given on the command line "
			 "(it would show in ps); use sentinel-password-file or "
			 "HASENTINEL_SENTINEL_PASSWORD");
	ck_assert_int_eq(set_argv("redis-password", "hunter2"), -1);
	ck_assert_str_eq(err, "-o: redis-password may not be given on the command line "
			 "(it would show in ps); use redis-password-file or "
			 "HASENTINEL_REDIS_PASSWORD");
	ck_assert_ptr_null(C.sentinel_password);
	ck_assert_ptr_null(C.redis_password);
	ck_assert_int_eq(set_argv("redis-password-file", "/etc/pw"), 0);
	ck_assert_str_eq(C.redis_password_file, "/etc/pw");
	ck_assert_int_eq(set_argv("resync-interval", "x"), -1);
	ck_assert_str_eq(err, "-o: resync-interval: expected milliseconds 10..3600000, got 'x'");
	ck_assert_int_eq(set_argv("nope", "x"), -1);
	ck_assert_str_eq(err, "-o: unknown key 'nope'");
	/* a NULL name still gives a readable message */
	ck_assert_int_eq(config_set(&C, "syslog", "x", CONF_SRC_ARGV, NULL, 0, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "-o: syslog: expected yes or no, got 'x'");
}
END_TEST

/* ------------------------------------------------------------ files */

START_TEST(test_load_file)
{
	static const char text[] = "# test\nsentinel 127.0.0.1:26379\nhaproxy-socket /run/h.sock\n"
				   "master m m_w\nbogus 1\n";
	char path[64], want[128];

	temp_file(path, text, sizeof(text) - 1);
	ck_assert_int_eq(config_load_file(&C, path, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s:5: unknown key 'bogus'", path);
	ck_assert_str_eq(err, want);
	ck_assert_int_eq(C.nsentinels, 1);
	ck_assert_str_eq(C.haproxy_socket, "/run/h.sock");
	unlink(path);

	ck_assert_int_eq(config_load_file(&C, path, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s: No such file or directory", path);
	ck_assert_str_eq(err, want);

	ck_assert_int_eq(config_load_file(&C, "/tmp", err, sizeof(err)), -1);
	ck_assert_str_eq(err, "/tmp: Is a directory");
}
END_TEST

START_TEST(test_load_file_too_big)
{
	size_t n = 1024 * 1024 + 1;
	char *text = malloc(n), path[64], want[128];

	ck_assert_ptr_nonnull(text);
	memset(text, '\n', n);
	temp_file(path, text, n);
	ck_assert_int_eq(config_load_file(&C, path, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s: too large (max 1048576 bytes)", path);
	ck_assert_str_eq(err, want);
	unlink(path);
	/* exactly 1 MiB is fine */
	temp_file(path, text, n - 1);
	ck_assert_msg(config_load_file(&C, path, err, sizeof(err)) == 0, "%s", err);
	unlink(path);
	free(text);
}
END_TEST

START_TEST(test_password_file)
{
	char spath[64], rpath[64], text[512];

	temp_file(spath, "sentinel pw\n\n", 13);
	temp_file(rpath, "redis pw\r\n", 10);
	snprintf(text, sizeof(text), "sentinel-password-file %s\nredis-password-file %s\n"
		 "sentinel-user u\nredis-user u\n", spath, rpath);
	minimal();
	ck_assert_int_eq(parse(text), 0);
	ck_assert_msg(config_finish(&C, err, sizeof(err)) == 0, "%s", err);
	ck_assert_str_eq(C.sentinel_password, "sentinel pw\n");   /* one newline stripped */
	ck_assert_str_eq(C.redis_password, "redis pw");
	unlink(spath);
	unlink(rpath);
}
END_TEST

/* SIGHUP: the files are read again, the passwords change in place (the
 * links borrow the pointers); an error changes nothing. */
START_TEST(test_password_reload)
{
	char spath[64], rpath[64], text[512];
	static char longpw[4097];
	const char *sp, *rp;
	FILE *f;

	temp_file(spath, "old-s\n", 6);
	temp_file(rpath, "old-r", 5);
	snprintf(text, sizeof(text), "sentinel-password-file %s\nredis-password-file %s\n", spath, rpath);
	minimal();
	ck_assert_int_eq(parse(text), 0);
	ck_assert_msg(config_finish(&C, err, sizeof(err)) == 0, "%s", err);
	sp = C.sentinel_password;
	rp = C.redis_password;

	/* the longest password a file may hold */
	memset(longpw, 'x', 4096);
	f = fopen(spath, "w");
	ck_assert_ptr_nonnull(f);
	fputs(longpw, f);
	fclose(f);
	f = fopen(rpath, "w");
	ck_assert_ptr_nonnull(f);
	fputs("new-r\n", f);
	fclose(f);
	ck_assert_int_eq(config_reload_secrets(&C, err, sizeof(err)), 2);
	ck_assert_ptr_eq(C.sentinel_password, sp);
	ck_assert_ptr_eq(C.redis_password, rp);
	ck_assert_str_eq(C.sentinel_password, longpw);
	ck_assert_str_eq(C.redis_password, "new-r");

	/* an empty file, then a missing one: nothing changes */
	f = fopen(rpath, "w");
	ck_assert_ptr_nonnull(f);
	fclose(f);
	ck_assert_int_eq(config_reload_secrets(&C, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "is empty"));
	unlink(rpath);
	ck_assert_int_eq(config_reload_secrets(&C, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "No such file"));
	ck_assert_ptr_null(strstr(err, "new-r"));
	ck_assert_str_eq(C.sentinel_password, longpw);
	ck_assert_str_eq(C.redis_password, "new-r");
	unlink(spath);
}
END_TEST

START_TEST(test_password_reload_inline)
{
	minimal();
	ck_assert_int_eq(parse("redis-password inline\n"), 0);
	ck_assert_msg(config_finish(&C, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(config_reload_secrets(&C, err, sizeof(err)), 0);
	ck_assert_str_eq(C.redis_password, "inline");
}
END_TEST

START_TEST(test_password_file_plain)
{
	char path[64], text[256];

	temp_file(path, "nonewline", 9);
	snprintf(text, sizeof(text), "redis-password-file %s\n", path);
	minimal();
	ck_assert_int_eq(parse(text), 0);
	ck_assert_msg(config_finish(&C, err, sizeof(err)) == 0, "%s", err);
	ck_assert_str_eq(C.redis_password, "nonewline");
	ck_assert_ptr_null(C.sentinel_password);
	unlink(path);
}
END_TEST

/* resolver: IP literals and ports only (c-ares would take a name and
 * resolve it with the system's resolver); the TTL bounds in order. */
START_TEST(test_finish_resolver)
{
	static const char *const nok[] = { "dns.example:53", "127.0.0.1", "127.0.0.1:0", ",", "127.0.0.1:53,x" };

	for (size_t i = 0; i < sizeof(nok) / sizeof(nok[0]); i++) {
		config_free(&C);
		config_init(&C);
		minimal();
		ck_assert_int_eq(set_file("resolver", nok[i]), 0);
		ck_assert_int_eq(config_finish(&C, err, sizeof(err)), -1);
		ck_assert_msg(strstr(err, "resolver: expected IP:PORT"), "%s: %s", nok[i], err);
	}
	config_free(&C);
	config_init(&C);
	minimal();
	ck_assert_int_eq(set_file("resolver", "127.0.0.1:5353,[::1]:53"), 0);
	ck_assert_msg(config_finish(&C, err, sizeof(err)) == 0, "%s", err);
	config_free(&C);
	config_init(&C);
	minimal();
	ck_assert_int_eq(parse("resolve-ttl-min 5000\nresolve-ttl-max 1000\n"), 0);
	ck_assert_int_eq(config_finish(&C, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "resolve-ttl-max (1000 ms) is below resolve-ttl-min (5000 ms)");
}
END_TEST

START_TEST(test_password_file_missing)
{
	char want[256];

	minimal();
	ck_assert_int_eq(parse("sentinel-password s3cret-inline\n"
			       "redis-password-file /nonexistent/hasentinel/pw\n"), 0);
	ck_assert_int_eq(config_finish(&C, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "redis-password-file: /nonexistent/hasentinel/pw: "
		 "No such file or directory");
	ck_assert_str_eq(err, want);
	ck_assert_ptr_null(strstr(err, "s3cret"));
}
END_TEST

START_TEST(test_password_file_bad)
{
	static char big[4097];
	char path[64], text[256], want[256];

	minimal();
	/* both set */
	temp_file(path, "filepw-secret\n", 14);
	snprintf(text, sizeof(text), "sentinel-password inline-secret\nsentinel-password-file %s\n", path);
	ck_assert_int_eq(parse(text), 0);
	ck_assert_int_eq(config_finish(&C, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "sentinel-password and sentinel-password-file are both set; use only one");
	unlink(path);

	/* empty */
	ck_assert_int_eq(parse("sentinel-password \"\"\n"), 0);
	ck_assert_ptr_null(C.sentinel_password);
	temp_file(path, "\n", 1);
	snprintf(text, sizeof(text), "sentinel-password-file %s\n", path);
	ck_assert_int_eq(parse(text), 0);
	ck_assert_int_eq(config_finish(&C, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "sentinel-password-file: %s: is empty", path);
	ck_assert_str_eq(err, want);
	unlink(path);

	/* NUL inside */
	temp_file(path, "ab\0cd-secret", 12);
	snprintf(text, sizeof(text), "sentinel-password-file %s\n", path);
	ck_assert_int_eq(parse(text), 0);
	ck_assert_int_eq(config_finish(&C, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "sentinel-password-file: %s: contains a NUL byte", path);
	ck_assert_str_eq(err, want);
	unlink(path);

	/* 4097 bytes is too large (even with a newline), 4096 is fine */
	memset(big, 'p', sizeof(big));
	big[4096] = '\n';
	temp_file(path, big, 4097);
	snprintf(text, sizeof(text), "sentinel-password-file %s\n", path);
	ck_assert_int_eq(parse(text), 0);
	ck_assert_int_eq(config_finish(&C, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "sentinel-password-file: %s: larger than 4096 bytes", path);
	ck_assert_str_eq(err, want);
	ck_assert_ptr_null(strstr(err, "ppp"));
	unlink(path);

	temp_file(path, big, 4096);
	snprintf(text, sizeof(text), "sentinel-password-file %s\n", path);
	ck_assert_int_eq(parse(text), 0);
	ck_assert_msg(config_finish(&C, err, sizeof(err)) == 0, "%s", err);
	ck_assert_uint_eq(strlen(C.sentinel_password), 4096);
	unlink(path);
}
END_TEST

/* ------------------------------------------------------------ finish */

START_TEST(test_finish_required)
{
	ck_assert_int_eq(config_finish(&C, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "no sentinel configured: set sentinel (or HASENTINEL_SENTINEL)");
	ck_assert_int_eq(parse("sentinel 127.0.0.1:26379\n"), 0);
	ck_assert_int_eq(config_finish(&C, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "haproxy-socket is not set (or HASENTINEL_HAPROXY_SOCKET)");
	ck_assert_int_eq(parse("haproxy-socket 127.0.0.1:9999\n"), 0);
	ck_assert_msg(config_finish(&C, err, sizeof(err)) == 0, "%s", err);
}
END_TEST

START_TEST(test_finish_user_without_password)
{
	minimal();
	ck_assert_int_eq(parse("redis-user app\n"), 0);
	ck_assert_int_eq(config_finish(&C, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "redis-user is set but redis-password (or redis-password-file) is not");
	ck_assert_int_eq(parse("redis-password x\n"), 0);
	ck_assert_msg(config_finish(&C, err, sizeof(err)) == 0, "%s", err);
}
END_TEST

/* ------------------------------------------------------------ backends */

START_TEST(test_backends_formats)
{
	char w[CONF_NAME_MAX], r[CONF_NAME_MAX];
	char longname[200];

	ck_assert_int_eq(config_backends(&C, "mymaster", w, sizeof(w), r, sizeof(r)), 1);
	ck_assert_str_eq(w, "mymaster_write");
	ck_assert_str_eq(r, "mymaster_read");
	ck_assert_int_eq(parse("write-backend-format be-%s-rw\nread-backend-format ro.%s\n"), 0);
	ck_assert_int_eq(config_backends(&C, "m1", w, sizeof(w), r, sizeof(r)), 1);
	ck_assert_str_eq(w, "be-m1-rw");
	ck_assert_str_eq(r, "ro.m1");
	ck_assert_int_eq(parse("read-backend-format \"\"\n"), 0);
	ck_assert_int_eq(config_backends(&C, "m1", w, sizeof(w), r, sizeof(r)), 1);
	ck_assert_str_eq(w, "be-m1-rw");
	ck_assert_str_eq(r, "");
	/* does not fit */
	ck_assert_int_eq(config_backends(&C, "m1", w, 8, r, sizeof(r)), 0);
	ck_assert_int_eq(config_backends(&C, "m1", w, 9, r, sizeof(r)), 1);
	memset(longname, 'x', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	ck_assert_int_eq(config_backends(&C, longname, w, sizeof(w), r, sizeof(r)), 0);
	/* names that could not be HAProxy backends, or split a runtime API command */
	ck_assert_int_eq(config_backends(&C, "a b", w, sizeof(w), r, sizeof(r)), 0);
	ck_assert_int_eq(config_backends(&C, "a;shutdown", w, sizeof(w), r, sizeof(r)), 0);
	ck_assert_int_eq(config_backends(&C, "", w, sizeof(w), r, sizeof(r)), 0);
	ck_assert_int_eq(config_backends(&C, NULL, w, sizeof(w), r, sizeof(r)), 0);
}
END_TEST

START_TEST(test_backends_masters)
{
	char w[CONF_NAME_MAX], r[CONF_NAME_MAX];

	ck_assert_int_eq(parse("master alpha be_alpha be_alpha_ro\nmaster beta be_beta\n"), 0);
	ck_assert_int_eq(config_backends(&C, "alpha", w, sizeof(w), r, sizeof(r)), 1);
	ck_assert_str_eq(w, "be_alpha");
	ck_assert_str_eq(r, "be_alpha_ro");
	ck_assert_int_eq(config_backends(&C, "beta", w, sizeof(w), r, sizeof(r)), 1);
	ck_assert_str_eq(w, "be_beta");
	ck_assert_str_eq(r, "");
	/* not listed: not managed, even though the formats would give names */
	ck_assert_int_eq(config_backends(&C, "gamma", w, sizeof(w), r, sizeof(r)), 0);
	ck_assert_int_eq(config_backends(&C, "alpha", w, 4, r, sizeof(r)), 0);
	ck_assert_int_eq(config_backends(&C, "alpha", w, sizeof(w), r, 4), 0);
}
END_TEST

START_TEST(test_free_twice)
{
	ck_assert_int_eq(parse("master a b\nsentinel-password x\n"), 0);
	config_free(&C);
	config_free(&C);   /* harmless: config_free leaves a zeroed struct */
	config_init(&C);
}
END_TEST

static Suite *
config_suite(void)
{
	Suite *s = suite_create("config");
	TCase *tc;

	tc = tcase_create("keys");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_defaults);
	tcase_add_loop_test(tc, test_good_file, 0, NGOOD);
	tcase_add_loop_test(tc, test_good_env, 0, NGOOD);
	tcase_add_loop_test(tc, test_good_argv, 0, NGOOD);
	tcase_add_test(tc, test_keys_covered);
	tcase_add_test(tc, test_keys_documented);
	tcase_add_loop_test(tc, test_bad_value, 0, NBAD);
	tcase_add_loop_test(tc, test_bad_value_env, 0, NBAD);
	tcase_add_test(tc, test_values_more);
	tcase_add_test(tc, test_sentinel_list);
	tcase_add_test(tc, test_sentinel_max);
	tcase_add_test(tc, test_master_lines);
	suite_add_tcase(s, tc);

	tc = tcase_create("syntax");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_quoting);
	tcase_add_test(tc, test_quoting_bad);
	tcase_add_test(tc, test_comments);
	tcase_add_test(tc, test_unknown_key);
	tcase_add_test(tc, test_line_too_long);
	tcase_add_test(tc, test_nul_byte);
	tcase_add_test(tc, test_small_err_buffer);
	suite_add_tcase(s, tc);

	tc = tcase_create("sources");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_env_replaces_sentinels);
	tcase_add_test(tc, test_env_masters);
	tcase_add_test(tc, test_env_misc);
	tcase_add_test(tc, test_argv_refuses_passwords);
	suite_add_tcase(s, tc);

	tc = tcase_create("files");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_load_file);
	tcase_add_test(tc, test_load_file_too_big);
	tcase_add_test(tc, test_password_file);
	tcase_add_test(tc, test_password_file_plain);
	tcase_add_test(tc, test_password_file_missing);
	tcase_add_test(tc, test_password_reload);
	tcase_add_test(tc, test_password_reload_inline);
	tcase_add_test(tc, test_password_file_bad);
	suite_add_tcase(s, tc);

	tc = tcase_create("finish");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_finish_required);
	tcase_add_test(tc, test_finish_resolver);
	tcase_add_test(tc, test_finish_user_without_password);
	tcase_add_test(tc, test_backends_formats);
	tcase_add_test(tc, test_backends_masters);
	tcase_add_test(tc, test_free_twice);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return unit_run(config_suite());
}
