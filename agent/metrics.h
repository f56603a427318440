/* Optional Prometheus endpoint: a minimal HTTP/1.0 responder on a TCP port
 * (metrics-listen, off by default, loopback in the examples). GET /metrics
 * answers the text format; anything else 404. One request per connection,
 * bounded request size, a deadline per client, writes never block. */
#ifndef HASENTINEL_METRICS_H
#define HASENTINEL_METRICS_H

#include <stddef.h>

#include <ev.h>

#define METRICS_REQ_MAX 4096
#define METRICS_MAX_CLIENTS 16
#define METRICS_TIMEOUT_MS 5000

struct metrics_server;

/* Returns the metrics text (malloc'd; the server frees it), or NULL. */
typedef char *(*metrics_render_fn)(void *arg);

/* addr: IP:PORT or [IPv6]:PORT. NULL with err. */
struct metrics_server *metrics_server_new(struct ev_loop *loop, const char *addr,
					  metrics_render_fn render, void *arg, char *err, size_t errlen);
void metrics_server_free(struct metrics_server *ms);

#endif
