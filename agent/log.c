#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <sys/time.h>
#include <unistd.h>

enum log_level log_level_cur = LOG_LVL_INFO;

static int log_syslog;
static const char *log_ident = "hasentinel";
static log_hook_fn log_hook;
static void *log_hook_arg;

/* Lines to stderr: written at once, or (log_set_buffered) gathered and
 * written by log_flush, once per loop iteration: a burst of thousands of
 * lines (a mass failover) costs a few writes, not one each. Lines are
 * formatted in place; when the longest line would not fit, the buffer is
 * flushed first. */
static char log_buf[64 * 1024];
static size_t log_len;
static int log_buffered;
/* The timestamp's seconds part, formatted once per second. */
static time_t log_ts_sec = (time_t)-1;
static char log_ts[32];
static long log_pid;          /* read at the first line */

static const char *const level_names[] = { "error", "warning", "info", "debug" };

int
log_level_parse(const char *s)
{
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++)
		if (strcmp(s, level_names[i]) == 0)
			return (int)i;
	if (strcmp(s, "err") == 0)
		return LOG_LVL_ERR;
	if (strcmp(s, "warn") == 0)
		return LOG_LVL_WARN;
	return -1;
}

const char *
log_level_name(enum log_level lvl)
{
	return (unsigned)lvl < 4 ? level_names[lvl] : "?";
}

void
log_open(const char *ident, int use_syslog, enum log_level lvl)
{
	log_ident = ident ? ident : "hasentinel";
	log_syslog = use_syslog;
	log_level_cur = lvl;
	if (log_syslog)
		openlog(log_ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void
log_flush(void)
{
	size_t off = 0;

	while (off < log_len) {
		ssize_t n = write(STDERR_FILENO, log_buf + off, log_len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;   /* stderr is gone or full: the lines are dropped */
		off += (size_t)n;
	}
	log_len = 0;
}

void
log_set_buffered(int on)
{
	if (!on)
		log_flush();
	log_buffered = on;
}

void
log_close(void)
{
	log_flush();
	log_buffered = 0;
	if (log_syslog)
		closelog();
	log_syslog = 0;
}

void
log_set_hook(log_hook_fn fn, void *arg)
{
	log_hook = fn;
	log_hook_arg = arg;
}

void
log_msg(enum log_level lvl, const char *fmt, ...)
{
	static const int prio[] = { LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG };
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);

	if (log_syslog) {
		syslog(prio[lvl], "%s", msg);
	} else {
		/* the longest line: the message and its prefix */
		enum { LINE_MAX_LEN = sizeof(msg) + 128 };
		struct timeval tv;
		int n;

		gettimeofday(&tv, NULL);
		if (tv.tv_sec != log_ts_sec) {
			struct tm tm;

			gmtime_r(&tv.tv_sec, &tm);
			strftime(log_ts, sizeof(log_ts), "%Y-%m-%dT%H:%M:%S", &tm);
			log_ts_sec = tv.tv_sec;
		}
		if (sizeof(log_buf) - log_len < LINE_MAX_LEN)
			log_flush();
		/* The agent never forks to log (notify-exec's child only
		 * execs): its pid is read once, not a system call a line. */
		if (!log_pid)
			log_pid = (long)getpid();
		n = snprintf(log_buf + log_len, LINE_MAX_LEN, "%s.%03ldZ %s[%ld] %s: %s\n", log_ts,
			     (long)(tv.tv_usec / 1000), log_ident, log_pid, level_names[lvl], msg);
		if (n > 0) {
			log_len += (size_t)n < LINE_MAX_LEN ? (size_t)n : LINE_MAX_LEN - 1;
			if (!log_buffered)
				log_flush();
		}
	}
	if (log_hook)
		log_hook(lvl, msg, log_hook_arg);
}
