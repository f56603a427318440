/* Logging: one line per message to stderr (default) or syslog.
 * Lines to stderr may be buffered for one loop iteration (log_set_buffered).
 * The level is tested before any formatting happens. */
#ifndef HASENTINEL_LOG_H
#define HASENTINEL_LOG_H

enum log_level {
	LOG_LVL_ERR = 0,
	LOG_LVL_WARN,
	LOG_LVL_INFO,
	LOG_LVL_DEBUG,
};

extern enum log_level log_level_cur;

/* Parse "error", "warning", "info", "debug"; -1 when unknown. */
int log_level_parse(const char *s);
const char *log_level_name(enum log_level lvl);

/* ident is borrowed and must outlive logging. */
void log_open(const char *ident, int use_syslog, enum log_level lvl);
/* Flushes what is buffered. */
void log_close(void);
/* Buffered: lines to stderr are kept until log_flush (the daemon's loop
 * calls it before it waits) or until the buffer is full. Off: each line is
 * written at once (the default, and what a fatal path wants). */
void log_set_buffered(int on);
void log_flush(void);

/* Every formatted message is also handed to the hook (for the event ring). */
typedef void (*log_hook_fn)(enum log_level lvl, const char *msg, void *arg);
void log_set_hook(log_hook_fn fn, void *arg);

void log_msg(enum log_level lvl, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define log_enabled(lvl) ((lvl) <= log_level_cur)
#define log_err(...)   do { if (log_enabled(LOG_LVL_ERR))   log_msg(LOG_LVL_ERR, __VA_ARGS__); } while (0)
#define log_warn(...)  do { if (log_enabled(LOG_LVL_WARN))  log_msg(LOG_LVL_WARN, __VA_ARGS__); } while (0)
#define log_info(...)  do { if (log_enabled(LOG_LVL_INFO))  log_msg(LOG_LVL_INFO, __VA_ARGS__); } while (0)
#define log_debug(...) do { if (log_enabled(LOG_LVL_DEBUG)) log_msg(LOG_LVL_DEBUG, __VA_ARGS__); } while (0)

#endif
