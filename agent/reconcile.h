/* The reconciler: turns the topology into HAProxy's state.
 *
 * On every topology change and on every resync tick it reads HAProxy's
 * current state ("show servers state"), plans the commands for each managed
 * group (plan.c) and sends them. It also owns the ROLE probes that confirm a
 * master on the node itself before it takes writes, and notices HAProxy
 * reloads and restarts ("show info": Pid and uptime). One reconcile is in
 * flight at a time; requests made meanwhile are merged into the next. */
#ifndef HASENTINEL_RECONCILE_H
#define HASENTINEL_RECONCILE_H

#include <stdint.h>

#include <ev.h>

#include "config.h"
#include "haproxy.h"
#include "journal.h"
#include "topo.h"

struct reconciler;

/* Group states as shown in status and logs. */
enum group_state {
	GS_OK = 0,         /* master decided and confirmed */
	GS_UNCONFIRMED,    /* master decided, ROLE not (yet) master */
	GS_NO_MASTER,      /* no Sentinel has answered for it yet */
	GS_DISAGREE,       /* Sentinels disagree at the highest epoch */
	GS_FROZEN,         /* no usable Sentinel: HAProxy left as it is */
};
const char *group_state_name(enum group_state s);

struct reconciler *rec_new(struct ev_loop *loop, const struct config *cfg, struct topo *topo,
			   struct hap_client *hap);
void rec_free(struct reconciler *rc);
/* Where decisions, commands and failover stages are recorded (borrowed). */
void rec_set_journal(struct reconciler *rc, struct journal *j);

/* From the Sentinel side: g's views or replicas changed. Decides (topo_decide),
 * logs switches, starts ROLE probes and schedules a reconcile of g. */
void rec_group_updated(struct reconciler *rc, struct group *g);
/* Resync tick: decide every group again (views age out) and reconcile all. */
void rec_tick(struct reconciler *rc);

enum group_state rec_group_state(const struct reconciler *rc, const struct group *g);

#define REC_APPLY_BUCKETS 10

struct rec_stats {
	uint64_t runs, full_runs;
	uint64_t commands_sent, commands_failed;
	uint64_t drift_corrections;     /* commands needed with no topology change */
	uint64_t reloads_seen;
	uint64_t switches;
	long hap_pid;
	int64_t last_run_wall_ms;
	int64_t last_switch_apply_ms;   /* decision -> HAProxy acknowledged, last switch; -1 none */
	int64_t last_reload_wall_ms;    /* when a reload or restart was last seen, 0 never */
	/* decision -> HAProxy acknowledged, every switch: a histogram */
	uint64_t apply_count;
	double apply_sum_s;
	uint64_t apply_buckets[REC_APPLY_BUCKETS];   /* cumulative counts per REC_APPLY_BOUNDS */
};
/* Upper bounds in seconds of the histogram buckets (the last is +Inf). */
extern const double rec_apply_bounds[REC_APPLY_BUCKETS - 1];
void rec_get_stats(const struct reconciler *rc, struct rec_stats *out);

#endif
