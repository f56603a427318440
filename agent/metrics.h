/* Metrics: the metric families (one table) rendered in the Prometheus text
 * format, and an optional endpoint for them: a minimal HTTP/1.0 responder on
 * a TCP port (metrics-listen, off by default, loopback in the examples).
 * GET /metrics answers the text format; anything else 404. One request per
 * connection, bounded request size, a deadline per client, writes never
 * block. */
#ifndef HASENTINEL_METRICS_H
#define HASENTINEL_METRICS_H

#include <stddef.h>

#include <ev.h>

#define METRICS_REQ_MAX 4096
#define METRICS_MAX_CLIENTS 16
#define METRICS_TIMEOUT_MS 5000

struct metrics_server;
struct agent;

/* The metric families: the one table, read by the renderer (metrics.c: each
 * id has an emitter emit_ID there), and, through `hasentinelctl --list
 * metrics`, by the documentation test. X(id, type, help); the family's name
 * is "hasentinel_" id. Rendered in this order. */
#define METRIC_FAMILIES(X) \
	X(up,                          "gauge",     "Always 1 while the agent answers.") \
	X(uptime_seconds,              "gauge",     "Seconds since the agent started.") \
	X(sentinel_link_up,            "gauge",     "Command link to the Sentinel is up.") \
	X(sentinel_tilt,               "gauge",     "The Sentinel is in TILT mode.") \
	X(sentinel_events_total,       "counter",   "Events received from the Sentinel.") \
	X(haproxy_link_up,             "gauge",     "The last runtime API batch was answered.") \
	X(haproxy_commands_total,      "counter",   "Runtime API commands sent to change state.") \
	X(haproxy_commands_failed_total, "counter", "Runtime API commands that failed.") \
	X(haproxy_reloads_total,       "counter",   "HAProxy reloads or restarts seen.") \
	X(resyncs_total,               "counter",   "Full reconciles (resync ticks) run.") \
	X(drift_corrections_total,     "counter",   "Resyncs that found HAProxy different from the desired state.") \
	X(switch_apply_seconds,        "histogram", "From the switch decision to HAProxy acknowledging the new write server.") \
	X(failovers_total,             "counter",   "Master switches decided, per master group.") \
	X(master_config_epoch,         "gauge",     "Config epoch of the current master.") \
	X(write_ready,                 "gauge",     "Ready servers in the write backend (1 is healthy).") \
	X(read_ready,                  "gauge",     "Ready servers in the read backend.") \
	X(group_state,                 "gauge",     "1 for the state the master group is in.") \
	X(master_fenced,               "gauge",     "1 while the decided master is fenced out of the write backend (early fence).") \
	X(haproxy_old_worker_sessions_cut_total, "counter", "Clients of old HAProxy workers cut through the master CLI.") \
	X(write_lease_held,            "gauge",     "1 while the write lease is held, 0 lost (write-lease).") \
	X(notify_total,                "counter",   "notify-exec commands started.") \
	X(notify_failed_total,         "counter",   "notify-exec commands that failed, timed out or were dropped.")

/* The family names ("hasentinel_up", ...), in table order. */
extern const char *const metrics_family_names[];
extern const size_t metrics_nfamilies;

/* Every family in the text format; malloc'd, NULL when out of memory. A
 * family with nothing to report (notify-exec not set) is left out. */
char *metrics_render(const struct agent *ag);

/* Returns the metrics text (malloc'd; the server frees it), or NULL. */
typedef char *(*metrics_render_fn)(void *arg);

/* addr: IP:PORT or [IPv6]:PORT. NULL with err. */
struct metrics_server *metrics_server_new(struct ev_loop *loop, const char *addr,
					  metrics_render_fn render, void *arg, char *err, size_t errlen);
void metrics_server_free(struct metrics_server *ms);

#endif
