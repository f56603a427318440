/* The daemon's parts, wired together by main.c:
 *   sentinel.c  -> topo (model)  -> reconcile.c (decide, probe.c ROLE,
 *                                   read/detect/plan/submit to haproxy.c)
 *   journal     -> relay.c -> status subscribers, notify-exec
 *   report.c    answers the status socket and /metrics from all of them. */
#ifndef HASENTINEL_AGENT_H
#define HASENTINEL_AGENT_H

#include <stdint.h>

#include <ev.h>

#include "config.h"
#include "haproxy.h"
#include "journal.h"
#include "reconcile.h"
#include "sentinel.h"
#include "status.h"
#include "topo.h"

struct fence;
struct notifier;
struct metrics_server;
struct resolver;

struct agent {
	struct ev_loop *loop;
	struct config cfg;
	struct topo topo;
	struct sentinels *sentinels;
	struct hap_client *hap;
	struct reconciler *rec;
	struct fence *fence;             /* early fence's watches (fence.c) */
	struct oldworkers *oldw;         /* old HAProxy workers (oldworkers.c); NULL none */
	struct status_server *status;
	struct journal journal;
	struct notifier *notify;
	struct metrics_server *metrics;
	struct resolver *resolver;       /* announced hostnames (resolve.c) */
	int64_t started_wall_ms;
	int64_t started_mono_ms;
	ev_timer tick;
	ev_timer lease_tick;             /* write-lease: evaluation and renewal */
	ev_signal sig_term, sig_int, sig_hup;
	/* a forced resync (SIGHUP) being watched until it is done */
	ev_prepare hup_check;
	ev_prepare log_flush;      /* buffered log lines out, before the loop waits */
	int64_t hup_t0;                  /* monotonic ms of the SIGHUP */
	uint64_t hup_sgen, hup_rgen;     /* its marks (sentinels_resync, rec_resync) */
};

#endif
