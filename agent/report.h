/* Status reports: the agent's state as JSON for the status socket. The
 * commands are STATUS_COMMANDS (status.h); report.c has one handler each. */
#ifndef HASENTINEL_REPORT_H
#define HASENTINEL_REPORT_H

#include <jansson.h>

#include "agent.h"
#include "status.h"

/* The status socket's request handler (status_handler_fn). arg is the agent. */
json_t *report_handle(void *arg, struct status_client *cl, const struct status_request *req);

/* {"version":..., "sentinels":[...], "haproxy":{...}, "masters":[...]}: new reference. */
json_t *report_status(const struct agent *ag);

/* One journal event as JSON (for "events" and the "subscribe" stream). */
json_t *report_event_json(const struct jevent *e);

/* Prometheus text format (metrics_render(), from the METRIC_FAMILIES
 * table); malloc'd, NULL when out of memory. The _cb form is a
 * metrics_render_fn (arg is the agent). */
char *report_metrics(const struct agent *ag);
char *report_metrics_cb(void *arg);

#endif
