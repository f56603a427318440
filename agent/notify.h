/* notify-exec: run an operator's command for each switch (and each change of
 * a group's state), never blocking the loop. The command gets the event as
 * arguments (TYPE MASTER FROM TO EPOCH) and as one JSON line on stdin, a
 * minimal environment (no secrets), and is killed after the timeout. */
#ifndef HASENTINEL_NOTIFY_H
#define HASENTINEL_NOTIFY_H

#include <stdint.h>

#include <ev.h>
#include <jansson.h>

#define NOTIFY_MAX_RUNNING 8

struct notifier;

/* path is copied. */
struct notifier *notifier_new(struct ev_loop *loop, const char *path, int timeout_ms);
/* Running commands are killed (SIGKILL) and reaped. */
void notifier_free(struct notifier *n);

/* Start the command (dropped with a warning when NOTIFY_MAX_RUNNING run
 * already). obj is the JSON sent on stdin (borrowed). */
void notifier_send(struct notifier *n, const char *type, const char *master, const char *from,
		   const char *to, uint64_t epoch, json_t *obj);

struct notify_stats {
	uint64_t started, failed, timed_out, dropped;
	int running;
};
void notifier_stats(const struct notifier *n, struct notify_stats *out);

#endif
