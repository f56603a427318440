/* Status reports: the agent's state as JSON for the status socket. */
#ifndef HASENTINEL_REPORT_H
#define HASENTINEL_REPORT_H

#include <jansson.h>

#include "agent.h"
#include "status.h"

/* The status socket's request handler (status_handler_fn). arg is the agent. */
json_t *report_handle(void *arg, struct status_client *cl, const struct status_request *req);

/* {"version":..., "sentinels":[...], "haproxy":{...}, "masters":[...]}: new reference. */
json_t *report_status(const struct agent *ag);

#endif
