/* Configuration: a line-based "key value" file like redis.conf, then
 * HASENTINEL_<KEY> environment variables, then -o key=value flags.
 * Table-driven; every key is documented in hasentinel.conf(5).
 *
 * Secrets (sentinel-password, redis-password) come from the file, from
 * *-password-file, or from HASENTINEL_SENTINEL_PASSWORD /
 * HASENTINEL_REDIS_PASSWORD; never from the command line. */
#ifndef HASENTINEL_CONFIG_H
#define HASENTINEL_CONFIG_H

#include <stddef.h>

#include "log.h"

#define CONF_MAX_SENTINELS 16
#define CONF_HOST_MAX 256
#define CONF_NAME_MAX 128      /* master names and HAProxy backend names */

enum conf_source {
	CONF_SRC_FILE,   /* config file: every key allowed */
	CONF_SRC_ENV,    /* environment: every key allowed */
	CONF_SRC_ARGV,   /* -o key=value: secrets refused */
};

struct conf_addr {
	char host[CONF_HOST_MAX];  /* IP literal or host name */
	int port;
};

/* "master NAME WRITE_BACKEND [READ_BACKEND]" */
struct conf_master {
	char name[CONF_NAME_MAX];
	char write_backend[CONF_NAME_MAX];
	char read_backend[CONF_NAME_MAX];   /* "" = none */
};

/* master-reads: whether the master is in the read backend. */
enum master_reads {
	MASTER_READS_NO = 0,            /* never */
	MASTER_READS_YES = 1,           /* always, with the replicas */
	MASTER_READS_FALLBACK = 2,      /* only while no replica is ready */
};

struct config {
	/* sentinel HOST:PORT (repeatable; env: space or comma separated list) */
	struct conf_addr sentinels[CONF_MAX_SENTINELS];
	int nsentinels;
	char *sentinel_user;            /* owned; NULL = none */
	char *sentinel_password;        /* owned; secret; NULL = none */
	char *sentinel_password_file;   /* owned; read by config_finish() */
	char *redis_user;
	char *redis_password;
	char *redis_password_file;

	/* haproxy-socket: an absolute unix socket path, or IP:PORT for a TCP
	 * stats socket (one rule: tk_sockaddr_parse) */
	char *haproxy_socket;
	int haproxy_timeout_ms;         /* haproxy-timeout, default 2000 */
	/* haproxy-master-socket: HAProxy's master CLI (haproxy -S), the same
	 * address forms; NULL = none. Reaches the old workers after a reload
	 * (oldworkers.h). */
	char *haproxy_master_socket;

	char *status_socket;            /* status-socket, default RUNSTATEDIR/hasentinel/hasentinel.sock */
	unsigned status_socket_mode;    /* status-socket-mode, octal, default 0660 */

	/* master NAME WRITE [READ] (repeatable). When at least one is given, only
	 * those masters are managed; otherwise every master Sentinel monitors is,
	 * with backends named by the formats below. */
	struct conf_master *masters;    /* owned array */
	int nmasters;
	size_t masters_cap;             /* internal to config.c: allocated entries */
	char *write_backend_format;     /* write-backend-format, default "%s_write" */
	char *read_backend_format;      /* read-backend-format, default "%s_read" */

	int master_reads;               /* master-reads no|yes|fallback (MASTER_READS_*), default no */
	int fence_on_reset;             /* fence-on-reset yes|no (topo.h F1a), default yes */
	int fence_on_odown;             /* fence-on-odown yes|no (topo.h F1b), default yes */
	int write_lease;                /* write-lease yes|no (topo.h F3), default no */
	int write_lease_ms;             /* write-lease-time, 0 (default): half of down-after-milliseconds */
	int resync_interval_ms;         /* resync-interval, default 1000 */
	int connect_timeout_ms;         /* connect-timeout, default 1000 */
	int command_timeout_ms;         /* command-timeout, default 1000 */
	int reconnect_max_ms;           /* reconnect-max, default 2000 (backoff cap) */
	char *resolver;                 /* resolver IP:PORT[,...]: DNS servers for announced names, default the system's */
	int resolve_ttl_min_ms;         /* resolve-ttl-min: floor of a name's TTL (and first retry), default 1000 */
	int resolve_ttl_max_ms;         /* resolve-ttl-max: ceiling, default 30000 */

	enum log_level log_level;       /* log-level error|warning|info|debug, default info */
	int syslog;                     /* syslog yes|no, default no */
	char *syslog_ident;             /* syslog-ident, default "hasentinel" */
	char *pidfile;                  /* pidfile, default none */
	char *notify_exec;              /* notify-exec: absolute path of a command run per switch, default none */
	int notify_timeout_ms;          /* notify-timeout, default 5000 */
	char *metrics_listen;           /* metrics-listen IP:PORT: Prometheus endpoint, default off */

	/* Internal to config.c: the source that filled sentinels[] / masters[].
	 * The first value from a newer source (env, then -o) replaces the list. */
	enum conf_source sentinels_src;
	enum conf_source masters_src;
};

/* Fill with defaults; everything owned is freed by config_free(). */
void config_init(struct config *c);
void config_free(struct config *c);

/* Set one key. name/line locate the error ("hasentinel.conf:12: ..."); for
 * CONF_SRC_ARGV name is "-o" and line 0. 0, or -1 with err filled. */
int config_set(struct config *c, const char *key, const char *value,
	       enum conf_source src, const char *name, int line,
	       char *err, size_t errlen) __attribute__((warn_unused_result));

/* Parse a whole config text (pure, no I/O; the fuzz target calls this).
 * name is used in messages. Blank lines and '#' comments are skipped; values
 * may be "double quoted". 0, or -1 with "name:line: message" in err. */
int config_parse_buffer(struct config *c, const char *name, const char *buf, size_t len,
			char *err, size_t errlen) __attribute__((warn_unused_result));

/* Read and parse a file (at most 1 MiB). */
int config_load_file(struct config *c, const char *path, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* Apply HASENTINEL_<KEY> variables ('-' becomes '_', upper case) from envp. */
int config_apply_env(struct config *c, char *const *envp, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* Read password files, check required keys and consistency. */
int config_finish(struct config *c, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* SIGHUP: read sentinel-password-file and redis-password-file again (after
 * config_finish()). The new passwords replace the old ones in place: the
 * links borrow c->sentinel_password and c->redis_password and send the new
 * one at their next AUTH (their next connect). Passwords that did not come
 * from a file are left alone. On any error nothing changes and err names the
 * file (never the password). The number of passwords re-read, or -1. */
int config_reload_secrets(struct config *c, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* Backends for a master. 1 when this master is managed (buffers filled; read
 * may be "" when there is no read backend), 0 when it is not. */
int config_backends(const struct config *c, const char *master,
		    char *write, size_t wlen, char *read, size_t rlen);

/* The key names, in the key table's order, NULL-terminated: printed by
 * `hasentinelctl --list config-keys`, which the documentation test reads. */
extern const char *const config_keys[];

#endif
