/* Configuration: one key table drives the file parser, HASENTINEL_<KEY>
 * environment variables and -o key=value flags.
 *
 * Pure apart from config_load_file() and the password files read by
 * config_finish(). Never logs: every failure is described in err. Secret
 * values are never copied into err, and are wiped before they are freed. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE     /* strdup, strcasecmp, O_CLOEXEC, explicit_bzero under -std=c11 */
#endif

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "tk.h"
#include "util.h"

#ifndef RUNSTATEDIR
#define RUNSTATEDIR "/run"
#endif

#define CONF_LINE_MAX    4096            /* bytes per line, newline excluded */
#define CONF_FILE_MAX    (1024 * 1024)   /* config file size */
#define CONF_SECRET_MAX  4096            /* password file size */
#define CONF_MS_MIN      10
#define CONF_MS_MAX      3600000
#define CONF_MASTERS_MAX 1024
#define CONF_SHOW_MAX    64              /* bytes of a bad value quoted back */
#define CONF_ENV_PREFIX  "HASENTINEL_"
#define CONF_WORD_SEPS   " \t\r\v\f\n"   /* between words: conf_is_ws() and newline */
#define CONF_LIST_SEPS   "," CONF_WORD_SEPS   /* between list items */

/* sizeof(sun_path), without a variable */
#define CONF_SUN_PATH_MAX sizeof(((struct sockaddr_un *)0)->sun_path)

enum conf_type {
	T_STR,          /* char *; "" means none (NULL) unless CK_REQUIRED */
	T_HAPSOCK,      /* char *; unix socket path or HOST:PORT */
	T_UNIXPATH,     /* char *; unix socket path; "" disables */
	T_FORMAT,       /* char *; backend name format with one %s */
	T_MS,           /* int; milliseconds in [min, max] */
	T_BOOL,         /* int; yes|no */
	T_MREADS,       /* int; no|yes|fallback (enum master_reads) */
	T_MODE,         /* unsigned; octal file mode */
	T_LEVEL,        /* enum log_level */
	T_SENTINEL,     /* sentinels[], nsentinels */
	T_MASTER,       /* masters[], nmasters */
};

#define CK_SECRET   0x1     /* refused from -o; never quoted back */
#define CK_LIST     0x2     /* the value is a list: spaces allowed unquoted */
#define CK_REQUIRED 0x4     /* "" is an error, not "none" */

struct conf_key {
	const char *name;
	enum conf_type type;
	size_t off;             /* offset of the field in struct config */
	unsigned flags;
	long min, max;
};

/* The one key table. config_keys[] is generated from it, so the two cannot
 * drift apart. Defaults are set in config_init(). */
#define CONF_TABLE(X) \
	X("sentinel",               T_SENTINEL, sentinels,              CK_LIST,     0, 0) \
	X("sentinel-user",          T_STR,      sentinel_user,          0,           0, 0) \
	X("sentinel-password",      T_STR,      sentinel_password,      CK_SECRET,   0, 0) \
	X("sentinel-password-file", T_STR,      sentinel_password_file, 0,           0, 0) \
	X("redis-user",             T_STR,      redis_user,             0,           0, 0) \
	X("redis-password",         T_STR,      redis_password,         CK_SECRET,   0, 0) \
	X("redis-password-file",    T_STR,      redis_password_file,    0,           0, 0) \
	X("haproxy-socket",         T_HAPSOCK,  haproxy_socket,         0,           0, 0) \
	X("haproxy-timeout",        T_MS,       haproxy_timeout_ms,     0,           CONF_MS_MIN, CONF_MS_MAX) \
	X("haproxy-master-socket",  T_HAPSOCK,  haproxy_master_socket,  0,           0, 0) \
	X("status-socket",          T_UNIXPATH, status_socket,          0,           0, 0) \
	X("status-socket-mode",     T_MODE,     status_socket_mode,     0,           0, 0777) \
	X("master",                 T_MASTER,   masters,                CK_LIST,     0, 0) \
	X("write-backend-format",   T_FORMAT,   write_backend_format,   CK_REQUIRED, 0, 0) \
	X("read-backend-format",    T_FORMAT,   read_backend_format,    0,           0, 0) \
	X("master-reads",           T_MREADS,   master_reads,           0,           0, 2) \
	X("fence-on-reset",         T_BOOL,     fence_on_reset,         0,           0, 1) \
	X("fence-on-odown",         T_BOOL,     fence_on_odown,         0,           0, 1) \
	X("write-lease",            T_BOOL,     write_lease,            0,           0, 1) \
	X("write-lease-time",       T_MS,       write_lease_ms,         0,           0, CONF_MS_MAX) \
	X("resync-interval",        T_MS,       resync_interval_ms,     0,           CONF_MS_MIN, CONF_MS_MAX) \
	X("connect-timeout",        T_MS,       connect_timeout_ms,     0,           CONF_MS_MIN, CONF_MS_MAX) \
	X("command-timeout",        T_MS,       command_timeout_ms,     0,           CONF_MS_MIN, CONF_MS_MAX) \
	X("reconnect-max",          T_MS,       reconnect_max_ms,       0,           CONF_MS_MIN, CONF_MS_MAX) \
	X("resolver",               T_STR,      resolver,               0,           0, 0) \
	X("resolve-ttl-min",        T_MS,       resolve_ttl_min_ms,     0,           CONF_MS_MIN, CONF_MS_MAX) \
	X("resolve-ttl-max",        T_MS,       resolve_ttl_max_ms,     0,           CONF_MS_MIN, CONF_MS_MAX) \
	X("log-level",              T_LEVEL,    log_level,              0,           0, 0) \
	X("syslog",                 T_BOOL,     syslog,                 0,           0, 1) \
	X("syslog-ident",           T_STR,      syslog_ident,           CK_REQUIRED, 0, 0) \
	X("pidfile",                T_STR,      pidfile,                0,           0, 0) \
	X("notify-exec",            T_STR,      notify_exec,            0,           0, 0) \
	X("notify-timeout",         T_MS,       notify_timeout_ms,      0,           CONF_MS_MIN, CONF_MS_MAX) \
	X("metrics-listen",         T_STR,      metrics_listen,         0,           0, 0)

#define CONF_ENTRY(n, t, f, fl, lo, hi) { n, t, offsetof(struct config, f), fl, lo, hi },
static const struct conf_key conf_table[] = {
	CONF_TABLE(CONF_ENTRY)
};
#undef CONF_ENTRY

#define CONF_NAME(n, t, f, fl, lo, hi) n,
const char *const config_keys[] = {
	CONF_TABLE(CONF_NAME)
	NULL
};
#undef CONF_NAME

#define CONF_NKEYS (sizeof(conf_table) / sizeof(conf_table[0]))

/* Where a value came from, for messages. */
struct conf_loc {
	enum conf_source src;
	const char *name;       /* file name, "-o", or the variable name */
	int line;               /* > 0 for files */
};

/* ------------------------------------------------------------ helpers */

static void
conf_wipe(void *p, size_t n)
{
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 25))
	explicit_bzero(p, n);
#else
	volatile unsigned char *v = p;

	while (n--)
		*v++ = 0;
#endif
}

static void
conf_str_free(char **s)
{
	if (*s) {
		conf_wipe(*s, strlen(*s));
		free(*s);
		*s = NULL;
	}
}

static int
conf_is_ws(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\v' || ch == '\f';
}

/* Characters HAProxy accepts in proxy names. */
static int
conf_is_backend_char(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
	       (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' || ch == '.' || ch == ':';
}

static int
conf_is_backend_name(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if (!conf_is_backend_char(*s))
			return 0;
	return 1;
}

static int
conf_is_host_char(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
	       (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' || ch == '.';
}

/* An IP literal or a host name; "[...]" must hold an IPv6 literal. */
static int
conf_host_ok(const char *host, int bracketed)
{
	if (bracketed)
		return strchr(host, ':') && addr_is_ip(host);
	if (addr_is_ip(host))
		return 1;
	for (; *host; host++)
		if (!conf_is_host_char(*host))
			return 0;
	return 1;
}

/* A value made printable and short enough to quote back in a message. */
static const char *
conf_show(char *buf, size_t len, const char *v)
{
	size_t i, o = 0;

	for (i = 0; v[i] && o + 4 < len && i < CONF_SHOW_MAX; i++) {
		unsigned char ch = (unsigned char)v[i];

		buf[o++] = (ch < 0x20 || ch >= 0x7f) ? '?' : (char)ch;
	}
	if (v[i] && o + 3 < len) {
		memcpy(buf + o, "...", 3);
		o += 3;
	}
	buf[o] = '\0';
	return buf;
}

/* "HASENTINEL_" + key upper-cased, '-' -> '_'. */
static void
conf_env_name(char *buf, size_t len, const char *key)
{
	size_t o = str_copy(buf, CONF_ENV_PREFIX, len);

	for (; *key && o + 1 < len; key++, o++)
		buf[o] = *key == '-' ? '_' :
			 (*key >= 'a' && *key <= 'z') ? (char)(*key - 'a' + 'A') : *key;
	if (o < len)
		buf[o] = '\0';
}

static const struct conf_key *
conf_find(const char *key)
{
	for (size_t i = 0; i < CONF_NKEYS; i++)
		if (strcasecmp(conf_table[i].name, key) == 0)
			return &conf_table[i];
	return NULL;
}

/* Fill err with "name:line: " (files) or "name: ", then, except for
 * environment variables (whose name already says which key), "key: ", then
 * the message. Returns -1. */
static int conf_err(char *err, size_t errlen, const struct conf_loc *loc,
		    const struct conf_key *k, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

static int
conf_err(char *err, size_t errlen, const struct conf_loc *loc,
	 const struct conf_key *k, const char *fmt, ...)
{
	const char *kname = "", *ksep = "";
	char msg[512];
	va_list ap;

	if (!err || !errlen)
		return -1;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (k && loc->src != CONF_SRC_ENV) {
		kname = k->name;
		ksep = ": ";
	}
	if (loc->src == CONF_SRC_FILE && loc->line > 0)
		snprintf(err, errlen, "%s:%d: %s%s%s", loc->name, loc->line, kname, ksep, msg);
	else
		snprintf(err, errlen, "%s: %s%s%s", loc->name, kname, ksep, msg);
	conf_wipe(msg, sizeof(msg));
	return -1;
}

/* Check a backend name format: exactly one %s, no other %, only characters
 * HAProxy accepts in names, and room for a master name. 0 or -1. */
static int
conf_format_ok(const char *f)
{
	int ns = 0;
	size_t lit = 0;

	for (const char *p = f; *p; p++) {
		if (*p == '%') {
			if (p[1] != 's' || ns++)
				return -1;
			p++;
		} else if (!conf_is_backend_char(*p)) {
			return -1;
		} else {
			lit++;
		}
	}
	return ns == 1 && lit + 1 < CONF_NAME_MAX ? 0 : -1;
}

/* Expand a checked format with name into buf; 0, or -1 when it does not fit. */
static int
conf_format_expand(const char *f, const char *name, char *buf, size_t len)
{
	const char *pct = strstr(f, "%s");
	size_t pre, nlen, post;

	if (!pct || !len)
		return -1;
	pre = (size_t)(pct - f);
	nlen = strlen(name);
	post = strlen(pct + 2);
	if (pre + nlen + post >= len)
		return -1;
	memcpy(buf, f, pre);
	memcpy(buf + pre, name, nlen);
	memcpy(buf + pre + nlen, pct + 2, post + 1);
	return 0;
}

/* ------------------------------------------------------------ value setters */

static int
conf_set_str(struct config *c, const struct conf_key *k, const char *v,
	     const struct conf_loc *loc, char *err, size_t errlen)
{
	char **dst = (char **)(void *)((char *)c + k->off);
	char *copy;
	char show[CONF_SHOW_MAX + 8];

	switch (k->type) {
	case T_HAPSOCK:
		/* The one rule for this address (tk_sockaddr_parse): what passes
		 * here is what the HAProxy client connects to. */
		if (*v) {
			struct sockaddr_storage ss;
			socklen_t sl;
			char why[128];

			if (v[0] != '/' && !strchr(v, ':'))
				return conf_err(err, errlen, loc, k,
						"'%s' is a relative path: give the unix socket's "
						"absolute path, or IP:PORT",
						conf_show(show, sizeof(show), v));
			if (tk_sockaddr_parse(v, &ss, &sl, why, sizeof(why)) < 0)
				return v[0] == '/' ? conf_err(err, errlen, loc, k, "%s", why) :
				       conf_err(err, errlen, loc, k, "%s, got '%s'", why,
						conf_show(show, sizeof(show), v));
		}
		break;
	case T_UNIXPATH:
		if (strlen(v) >= CONF_SUN_PATH_MAX)
			return conf_err(err, errlen, loc, k,
					"unix socket path longer than %zu bytes",
					CONF_SUN_PATH_MAX - 1);
		break;
	case T_FORMAT:
		if (*v && conf_format_ok(v) < 0)
			return conf_err(err, errlen, loc, k,
					"expected a backend name with exactly one %%s, no other %%, "
					"and only letters, digits, '-', '_', '.', ':', got '%s'",
					conf_show(show, sizeof(show), v));
		break;
	default:
		break;
	}
	if (!*v) {
		if (k->flags & CK_REQUIRED)
			return conf_err(err, errlen, loc, k, "must not be empty");
		if (k->type != T_FORMAT) {
			conf_str_free(dst);
			return 0;
		}
		/* an empty format is kept, not NULL: "no read backend" */
	}
	copy = strdup(v);
	if (!copy)
		return conf_err(err, errlen, loc, k, "out of memory");
	conf_str_free(dst);
	*dst = copy;
	return 0;
}

static int
conf_set_sentinel(struct config *c, const struct conf_key *k, const char *v,
		  const struct conf_loc *loc, char *err, size_t errlen)
{
	char tok[CONF_HOST_MAX + 16], host[CONF_HOST_MAX], show[CONF_SHOW_MAX + 8];
	size_t n;
	int any = 0;

	if (c->sentinels_src != loc->src) {
		c->nsentinels = 0;
		c->sentinels_src = loc->src;
	}
	for (const char *p = v, *end = v + strlen(v), *t; tk_token(&p, end, CONF_LIST_SEPS, &t, &n);) {
		int port;

		any = 1;
		if (n >= sizeof(tok)) {
			memcpy(tok, t, sizeof(tok) - 1);
			tok[sizeof(tok) - 1] = '\0';
			return conf_err(err, errlen, loc, k, "expected HOST:PORT, got '%s'",
					conf_show(show, sizeof(show), tok));
		}
		memcpy(tok, t, n);
		tok[n] = '\0';
		if (addr_parse(tok, host, sizeof(host), &port) < 0)
			return conf_err(err, errlen, loc, k, "expected HOST:PORT, got '%s'",
					conf_show(show, sizeof(show), tok));
		if (!conf_host_ok(host, tok[0] == '['))
			return conf_err(err, errlen, loc, k, "expected HOST:PORT, got '%s'",
					conf_show(show, sizeof(show), tok));
		for (int i = 0; i < c->nsentinels; i++)
			if (c->sentinels[i].port == port && addr_ip_equal(c->sentinels[i].host, host))
				return conf_err(err, errlen, loc, k, "duplicate sentinel '%s'",
						conf_show(show, sizeof(show), tok));
		if (c->nsentinels >= CONF_MAX_SENTINELS)
			return conf_err(err, errlen, loc, k, "too many sentinels (max %d)",
					CONF_MAX_SENTINELS);
		str_copy(c->sentinels[c->nsentinels].host, host, CONF_HOST_MAX);
		c->sentinels[c->nsentinels].port = port;
		c->nsentinels++;
	}
	if (!any)
		return conf_err(err, errlen, loc, k, "expected HOST:PORT, got ''");
	return 0;
}

/* One "NAME WRITE [READ]" entry (len bytes at e, no ';'). */
static int
conf_add_master(struct config *c, const struct conf_key *k, const char *e, size_t len,
		const struct conf_loc *loc, char *err, size_t errlen)
{
	char words[3][CONF_NAME_MAX], show[CONF_SHOW_MAX + 8];
	const char *end = e + len, *p = e, *w;
	struct conf_master *m;
	size_t n;
	int nw = 0;

	while (tk_token(&p, end, CONF_WORD_SEPS, &w, &n)) {
		if (nw == 3)
			goto usage;
		if (n >= CONF_NAME_MAX)
			return conf_err(err, errlen, loc, k, "name longer than %d bytes",
					CONF_NAME_MAX - 1);
		memcpy(words[nw], w, n);
		words[nw][n] = '\0';
		nw++;
	}
	if (nw < 2)
		goto usage;
	for (const char *q = words[0]; *q; q++)
		if ((unsigned char)*q < 0x20 || (unsigned char)*q == 0x7f)
			return conf_err(err, errlen, loc, k, "master name has control characters");
	for (int i = 1; i < nw; i++)
		if (!conf_is_backend_name(words[i]))
			return conf_err(err, errlen, loc, k,
					"'%s' is not a valid HAProxy backend name "
					"(letters, digits, '-', '_', '.', ':')",
					conf_show(show, sizeof(show), words[i]));
	if (nw == 3 && strcmp(words[1], words[2]) == 0)
		return conf_err(err, errlen, loc, k,
				"write and read backend are both '%s'", words[1]);
	for (int i = 0; i < c->nmasters; i++) {
		const struct conf_master *o = &c->masters[i];

		if (strcmp(o->name, words[0]) == 0)
			return conf_err(err, errlen, loc, k, "duplicate master '%s'",
					conf_show(show, sizeof(show), words[0]));
		for (int j = 1; j < nw; j++)
			if (strcmp(o->write_backend, words[j]) == 0 ||
			    strcmp(o->read_backend, words[j]) == 0)
				return conf_err(err, errlen, loc, k,
						"backend '%s' is already used by master '%s'",
						words[j], conf_show(show, sizeof(show), o->name));
	}
	if (c->nmasters >= CONF_MASTERS_MAX)
		return conf_err(err, errlen, loc, k, "too many masters (max %d)", CONF_MASTERS_MAX);
	if (tk_grow(&c->masters, &c->masters_cap, (size_t)c->nmasters + 1, sizeof(*c->masters)) < 0)
		return conf_err(err, errlen, loc, k, "out of memory");
	m = &c->masters[c->nmasters++];
	memset(m, 0, sizeof(*m));
	str_copy(m->name, words[0], sizeof(m->name));
	str_copy(m->write_backend, words[1], sizeof(m->write_backend));
	if (nw == 3)
		str_copy(m->read_backend, words[2], sizeof(m->read_backend));
	return 0;

usage:
	{
		char entry[CONF_SHOW_MAX + 1];

		while (len && (conf_is_ws(*e) || *e == '\n')) {
			e++;
			len--;
		}
		while (len && (conf_is_ws(e[len - 1]) || e[len - 1] == '\n'))
			len--;
		n = len < CONF_SHOW_MAX ? len : CONF_SHOW_MAX;
		memcpy(entry, e, n);
		entry[n] = '\0';
		return conf_err(err, errlen, loc, k,
				"expected NAME WRITE_BACKEND [READ_BACKEND], got '%s'",
				conf_show(show, sizeof(show), entry));
	}
}

/* Entries separated by ';' (one per line in a file, usually). */
static int
conf_set_master(struct config *c, const struct conf_key *k, const char *v,
		const struct conf_loc *loc, char *err, size_t errlen)
{
	size_t n;
	int any = 0;

	if (c->masters_src != loc->src) {
		free(c->masters);
		c->masters = NULL;
		c->nmasters = 0;
		c->masters_cap = 0;
		c->masters_src = loc->src;
	}
	for (const char *p = v, *end = v + strlen(v), *e; tk_token(&p, end, ";", &e, &n);) {
		const char *q = e, *w;
		size_t wn;

		if (!tk_token(&q, e + n, CONF_WORD_SEPS, &w, &wn))
			continue;   /* a blank entry */
		if (conf_add_master(c, k, e, n, loc, err, errlen) < 0)
			return -1;
		any = 1;
	}
	if (!any)
		return conf_err(err, errlen, loc, k,
				"expected NAME WRITE_BACKEND [READ_BACKEND], got ''");
	return 0;
}

static int
conf_apply(struct config *c, const struct conf_key *k, const char *v,
	   const struct conf_loc *loc, char *err, size_t errlen)
{
	void *field = (char *)c + k->off;
	char show[CONF_SHOW_MAX + 8];
	long n;

	switch (k->type) {
	case T_STR:
	case T_HAPSOCK:
	case T_UNIXPATH:
	case T_FORMAT:
		return conf_set_str(c, k, v, loc, err, errlen);
	case T_MS:
		if (parse_long(v, k->min, k->max, &n) < 0)
			return conf_err(err, errlen, loc, k, "expected milliseconds %ld..%ld, got '%s'",
					k->min, k->max, conf_show(show, sizeof(show), v));
		*(int *)field = (int)n;
		return 0;
	case T_BOOL:
		if (strcasecmp(v, "yes") == 0)
			*(int *)field = 1;
		else if (strcasecmp(v, "no") == 0)
			*(int *)field = 0;
		else
			return conf_err(err, errlen, loc, k, "expected yes or no, got '%s'",
					conf_show(show, sizeof(show), v));
		return 0;
	case T_MREADS:
		if (strcasecmp(v, "yes") == 0)
			*(int *)field = MASTER_READS_YES;
		else if (strcasecmp(v, "no") == 0)
			*(int *)field = MASTER_READS_NO;
		else if (strcasecmp(v, "fallback") == 0)
			*(int *)field = MASTER_READS_FALLBACK;
		else
			return conf_err(err, errlen, loc, k, "expected yes, no or fallback, got '%s'",
					conf_show(show, sizeof(show), v));
		return 0;
	case T_MODE: {
		unsigned long mode = 0;
		const char *p = v;

		for (; *p >= '0' && *p <= '7' && p - v < 8; p++)
			mode = mode * 8 + (unsigned long)(*p - '0');
		if (p == v || *p || mode > (unsigned long)k->max)
			return conf_err(err, errlen, loc, k,
					"expected an octal mode 0000..0777 like 0660, got '%s'",
					conf_show(show, sizeof(show), v));
		*(unsigned *)field = (unsigned)mode;
		return 0;
	}
	case T_LEVEL: {
		int lvl = log_level_parse(v);

		if (lvl < 0)
			return conf_err(err, errlen, loc, k,
					"expected error, warning, info or debug, got '%s'",
					conf_show(show, sizeof(show), v));
		*(enum log_level *)field = (enum log_level)lvl;
		return 0;
	}
	case T_SENTINEL:
		return conf_set_sentinel(c, k, v, loc, err, errlen);
	case T_MASTER:
		return conf_set_master(c, k, v, loc, err, errlen);
	}
	return conf_err(err, errlen, loc, k, "internal error: bad key type");
}

static int
conf_set_loc(struct config *c, const char *key, const char *value,
	     const struct conf_loc *loc, char *err, size_t errlen)
{
	const struct conf_key *k = conf_find(key);
	char show[CONF_SHOW_MAX + 8];

	if (!k)
		return conf_err(err, errlen, loc, NULL, "unknown key '%s'",
				conf_show(show, sizeof(show), key));
	if (loc->src == CONF_SRC_ARGV && (k->flags & CK_SECRET)) {
		char env[64];

		conf_env_name(env, sizeof(env), k->name);
		return conf_err(err, errlen, loc, NULL,
				"%s may not be given on the command line (it would show in ps); "
				"use %s-file or %s", k->name, k->name, env);
	}
	return conf_apply(c, k, value ? value : "", loc, err, errlen);
}

/* ------------------------------------------------------------ public API */

static char *
conf_strdup_or_die(const char *s)
{
	char *d = strdup(s);

	/* config_init() cannot fail: it runs first thing at start-up. */
	if (!d)
		abort();
	return d;
}

void
config_init(struct config *c)
{
	memset(c, 0, sizeof(*c));
	c->haproxy_timeout_ms = 2000;
	c->status_socket = conf_strdup_or_die(RUNSTATEDIR "/hasentinel/hasentinel.sock");
	c->status_socket_mode = 0660;
	c->write_backend_format = conf_strdup_or_die("%s_write");
	c->read_backend_format = conf_strdup_or_die("%s_read");
	c->master_reads = MASTER_READS_NO;
	c->fence_on_reset = 1;
	c->fence_on_odown = 1;
	c->resync_interval_ms = 1000;
	c->connect_timeout_ms = 1000;
	c->command_timeout_ms = 1000;
	c->reconnect_max_ms = 2000;
	c->resolve_ttl_min_ms = 1000;
	c->resolve_ttl_max_ms = 30000;
	c->log_level = LOG_LVL_INFO;
	c->syslog = 0;
	c->syslog_ident = conf_strdup_or_die("hasentinel");
	c->notify_timeout_ms = 5000;
	c->sentinels_src = CONF_SRC_FILE;
	c->masters_src = CONF_SRC_FILE;
}

void
config_free(struct config *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < CONF_NKEYS; i++) {
		switch (conf_table[i].type) {
		case T_STR:
		case T_HAPSOCK:
		case T_UNIXPATH:
		case T_FORMAT:
			conf_str_free((char **)(void *)((char *)c + conf_table[i].off));
			break;
		default:
			break;
		}
	}
	free(c->masters);
	conf_wipe(c, sizeof(*c));
}

int
config_set(struct config *c, const char *key, const char *value,
	   enum conf_source src, const char *name, int line,
	   char *err, size_t errlen)
{
	struct conf_loc loc = { src, name ? name : (src == CONF_SRC_ARGV ? "-o" : "config"), line };

	return conf_set_loc(c, key ? key : "", value, &loc, err, errlen);
}

/* One line, NUL-terminated and modifiable. */
static int
conf_parse_line(struct config *c, char *s, const struct conf_loc *loc, char *err, size_t errlen)
{
	const struct conf_key *k;
	char *key, *value, show[CONF_SHOW_MAX + 8];

	while (conf_is_ws(*s))
		s++;
	if (!*s || *s == '#')
		return 0;
	key = s;
	while (*s && !conf_is_ws(*s))
		s++;
	if (*s)
		*s++ = '\0';
	while (conf_is_ws(*s))
		s++;
	value = s;

	k = conf_find(key);
	if (!k)
		return conf_err(err, errlen, loc, NULL, "unknown key '%s'",
				conf_show(show, sizeof(show), key));

	if (*value == '"') {
		char *in = value + 1, *out = value;

		for (;;) {
			if (!*in)
				return conf_err(err, errlen, loc, k, "unterminated quoted value");
			if (*in == '"') {
				in++;
				break;
			}
			if (*in == '\\') {
				if (in[1] != '"' && in[1] != '\\')
					return conf_err(err, errlen, loc, k,
							"bad escape in quoted value "
							"(only \\\" and \\\\ are allowed)");
				in++;
			}
			*out++ = *in++;
		}
		*out = '\0';
		while (conf_is_ws(*in))
			in++;
		if (*in)
			return conf_err(err, errlen, loc, k, "unexpected text after the closing quote");
	} else {
		char *end = value + strlen(value);

		while (end > value && conf_is_ws(end[-1]))
			*--end = '\0';
		if (!*value)
			return conf_err(err, errlen, loc, k, "missing value");
		if (!(k->flags & CK_LIST)) {
			for (const char *p = value; *p; p++)
				if (conf_is_ws(*p))
					return conf_err(err, errlen, loc, k,
							"unexpected text after the value "
							"(quote values that contain spaces)");
		}
	}
	return conf_apply(c, k, value, loc, err, errlen);
}

int
config_parse_buffer(struct config *c, const char *name, const char *buf, size_t len,
		    char *err, size_t errlen)
{
	char line[CONF_LINE_MAX + 1];
	struct conf_loc loc = { CONF_SRC_FILE, name ? name : "config", 0 };
	size_t pos = 0;
	int rc = 0;

	while (pos < len && rc == 0) {
		const char *nl = memchr(buf + pos, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - (buf + pos)) : len - pos;

		loc.line++;
		if (n > CONF_LINE_MAX) {
			rc = conf_err(err, errlen, &loc, NULL, "line too long (max %d bytes)",
				      CONF_LINE_MAX);
			break;
		}
		if (memchr(buf + pos, '\0', n)) {
			rc = conf_err(err, errlen, &loc, NULL, "NUL byte in line");
			break;
		}
		memcpy(line, buf + pos, n);
		line[n] = '\0';
		rc = conf_parse_line(c, line, &loc, err, errlen);
		pos += n + 1;
	}
	conf_wipe(line, sizeof(line));
	return rc;
}

/* Read a whole regular file of at most max bytes into a new NUL-terminated
 * buffer (owned; caller wipes and frees). 0, or -1 with errno-like reason. */
static int
conf_read_file(const char *path, size_t max, char **out, size_t *outlen,
	       const char **why)
{
	struct stat st;
	char *buf;
	size_t n = 0;
	int fd, saved;

	*why = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) < 0)
		goto fail;
	if (S_ISDIR(st.st_mode)) {
		errno = EISDIR;
		goto fail;
	}
	if (S_ISREG(st.st_mode) && (unsigned long long)st.st_size > max) {
		*why = "too large";
		goto fail;
	}
	buf = malloc(max + 2);
	if (!buf)
		goto fail;
	while (n <= max) {
		ssize_t r = read(fd, buf + n, max + 1 - n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			saved = errno;
			conf_wipe(buf, n);
			free(buf);
			errno = saved;
			goto fail;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	if (n > max) {
		conf_wipe(buf, n);
		free(buf);
		*why = "too large";
		return -1;
	}
	buf[n] = '\0';
	*out = buf;
	*outlen = n;
	return 0;
fail:
	saved = errno;
	close(fd);
	errno = saved;
	return -1;
}

int
config_load_file(struct config *c, const char *path, char *err, size_t errlen)
{
	const char *why;
	char *buf;
	size_t n;
	int rc;

	if (conf_read_file(path, CONF_FILE_MAX, &buf, &n, &why) < 0) {
		if (why)
			return tk_errf(err, errlen, "%s: %s (max %d bytes)", path, why,
					CONF_FILE_MAX);
		return tk_errf(err, errlen, "%s: %s", path, strerror(errno));
	}
	rc = config_parse_buffer(c, path, buf, n, err, errlen);
	conf_wipe(buf, n);
	free(buf);
	return rc;
}

int
config_apply_env(struct config *c, char *const *envp, char *err, size_t errlen)
{
	if (!envp)
		return 0;
	for (size_t i = 0; i < CONF_NKEYS; i++) {
		char var[64];
		size_t vlen;

		conf_env_name(var, sizeof(var), conf_table[i].name);
		vlen = strlen(var);
		/* the first definition wins, like getenv() */
		for (char *const *e = envp; *e; e++) {
			if (strncmp(*e, var, vlen) == 0 && (*e)[vlen] == '=') {
				struct conf_loc loc = { CONF_SRC_ENV, var, 0 };

				if (conf_apply(c, &conf_table[i], *e + vlen + 1, &loc, err, errlen) < 0)
					return -1;
				break;
			}
		}
	}
	return 0;
}

/* Read key's password file into *pass. */
static int
conf_read_secret(const char *key, const char *path, char **pass, char *err, size_t errlen)
{
	const char *why;
	char *buf;
	size_t n;

	if (conf_read_file(path, CONF_SECRET_MAX, &buf, &n, &why) < 0) {
		if (why)
			return tk_errf(err, errlen, "%s: %s: larger than %d bytes", key, path,
					CONF_SECRET_MAX);
		return tk_errf(err, errlen, "%s: %s: %s", key, path, strerror(errno));
	}
	if (n && buf[n - 1] == '\n') {
		buf[--n] = '\0';
		if (n && buf[n - 1] == '\r')
			buf[--n] = '\0';
	}
	if (memchr(buf, '\0', n)) {
		conf_wipe(buf, n);
		free(buf);
		return tk_errf(err, errlen, "%s: %s: contains a NUL byte", key, path);
	}
	if (!n) {
		free(buf);
		return tk_errf(err, errlen, "%s: %s: is empty", key, path);
	}
	conf_str_free(pass);
	*pass = buf;
	return 0;
}

/* Copy a password re-read from a file over the one in use (owned; wiped). */
static void
conf_secret_replace(char *dst, char **src)
{
	conf_wipe(dst, strlen(dst));
	memcpy(dst, *src, strlen(*src) + 1);
	conf_str_free(src);
}

int
config_reload_secrets(struct config *c, char *err, size_t errlen)
{
	char *sp = NULL, *rp = NULL;
	int n = 0;

	/* A password from a file sits in a buffer of CONF_SECRET_MAX + 2 bytes
	 * (conf_read_file), so a new one of any valid length fits in place. */
	if (c->sentinel_password_file && c->sentinel_password &&
	    conf_read_secret("sentinel-password-file", c->sentinel_password_file, &sp, err, errlen) < 0)
		return -1;
	if (c->redis_password_file && c->redis_password &&
	    conf_read_secret("redis-password-file", c->redis_password_file, &rp, err, errlen) < 0) {
		conf_str_free(&sp);
		return -1;
	}
	if (sp) {
		conf_secret_replace(c->sentinel_password, &sp);
		n++;
	}
	if (rp) {
		conf_secret_replace(c->redis_password, &rp);
		n++;
	}
	return n;
}

static int
conf_finish_auth(const char *who, char *user, char **pass, const char *file,
		 char *err, size_t errlen)
{
	char key[64];

	snprintf(key, sizeof(key), "%s-password-file", who);
	if (*pass && file)
		return tk_errf(err, errlen,
				"%s-password and %s-password-file are both set; use only one",
				who, who);
	if (file && conf_read_secret(key, file, pass, err, errlen) < 0)
		return -1;
	if (user && !*pass)
		return tk_errf(err, errlen,
				"%s-user is set but %s-password (or %s-password-file) is not",
				who, who, who);
	return 0;
}

/* resolver: "ip:port" or "[v6]:port", comma-separated, IP literals only. */
static int
conf_resolver_ok(const char *s)
{
	const char *p = s, *end = s + strlen(s), *tok;
	size_t len;
	int n = 0;

	while (tk_token(&p, end, ",", &tok, &len)) {
		char buf[CONF_HOST_MAX + 16], host[CONF_HOST_MAX];
		int port;

		if (len >= sizeof(buf))
			return -1;
		memcpy(buf, tok, len);
		buf[len] = '\0';
		if (addr_parse(buf, host, sizeof(host), &port) < 0 || !addr_is_ip(host))
			return -1;
		n++;
	}
	return n > 0 ? 0 : -1;
}

int
config_finish(struct config *c, char *err, size_t errlen)
{
	if (c->nsentinels < 1)
		return tk_errf(err, errlen,
				"no sentinel configured: set sentinel (or HASENTINEL_SENTINEL)");
	if (!c->haproxy_socket)
		return tk_errf(err, errlen,
				"haproxy-socket is not set (or HASENTINEL_HAPROXY_SOCKET)");
	if (conf_finish_auth("sentinel", c->sentinel_user, &c->sentinel_password,
			     c->sentinel_password_file, err, errlen) < 0)
		return -1;
	if (conf_finish_auth("redis", c->redis_user, &c->redis_password,
			     c->redis_password_file, err, errlen) < 0)
		return -1;
	if (!c->write_backend_format || conf_format_ok(c->write_backend_format) < 0)
		return tk_errf(err, errlen, "write-backend-format: invalid format");
	if (!c->read_backend_format ||
	    (*c->read_backend_format && conf_format_ok(c->read_backend_format) < 0))
		return tk_errf(err, errlen, "read-backend-format: invalid format");
	if (!c->syslog_ident || !*c->syslog_ident)
		return tk_errf(err, errlen, "syslog-ident: must not be empty");
	if (c->notify_exec && c->notify_exec[0] != '/')
		return tk_errf(err, errlen, "notify-exec: expected an absolute path, got '%s'", c->notify_exec);
	if (c->resolver && conf_resolver_ok(c->resolver) < 0)
		return tk_errf(err, errlen, "resolver: expected IP:PORT[,IP:PORT...] (IP literals), got '%s'",
			       c->resolver);
	if (c->resolve_ttl_max_ms < c->resolve_ttl_min_ms)
		return tk_errf(err, errlen, "resolve-ttl-max (%d ms) is below resolve-ttl-min (%d ms)",
			       c->resolve_ttl_max_ms, c->resolve_ttl_min_ms);
	if (c->metrics_listen) {
		char host[CONF_HOST_MAX];
		int port;

		if (addr_parse(c->metrics_listen, host, sizeof(host), &port) < 0 || !addr_is_ip(host))
			return tk_errf(err, errlen, "metrics-listen: expected IP:PORT, got '%s'",
					c->metrics_listen);
	}
	return 0;
}

int
config_backends(const struct config *c, const char *master,
		char *write, size_t wlen, char *read, size_t rlen)
{
	if (!master || !write || !read || !wlen || !rlen)
		return 0;
	if (c->nmasters > 0) {
		for (int i = 0; i < c->nmasters; i++) {
			const struct conf_master *m = &c->masters[i];

			if (strcmp(m->name, master) != 0)
				continue;
			if (strlen(m->write_backend) >= wlen || strlen(m->read_backend) >= rlen)
				return 0;
			str_copy(write, m->write_backend, wlen);
			str_copy(read, m->read_backend, rlen);
			return 1;
		}
		return 0;
	}
	/* The name becomes part of HAProxy runtime API commands: only names
	 * HAProxy itself would accept, nothing that could split a command. */
	if (!conf_is_backend_name(master) || !c->write_backend_format ||
	    conf_format_ok(c->write_backend_format) < 0)
		return 0;
	{
		char w[CONF_NAME_MAX], r[CONF_NAME_MAX];
		const char *rf = c->read_backend_format;

		if (conf_format_expand(c->write_backend_format, master, w, sizeof(w)) < 0 ||
		    strlen(w) >= wlen)
			return 0;
		r[0] = '\0';
		if (rf && *rf) {
			if (conf_format_ok(rf) < 0 ||
			    conf_format_expand(rf, master, r, sizeof(r)) < 0 || strlen(r) >= rlen)
				return 0;
		}
		str_copy(write, w, wlen);
		str_copy(read, r, rlen);
	}
	return 1;
}
