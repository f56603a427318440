/* The reconciler: turns the topology into HAProxy's state.
 *
 * From the Sentinel side it gets "group g changed": it applies the decision
 * rule (topo_decide), logs switches, has the master confirmed with ROLE
 * (probe.c) and marks g dirty. A run is a pipeline of four steps:
 *   1. read:   "show info" and "show servers state" of the backends of the
 *              groups in the run (or of everything, when most groups are);
 *   2. detect: a reload or restart (pid or uptime from "show info"): then
 *              every group is read and planned again;
 *   3. plan:   plan.c for each group of the run;
 *   4. submit: the commands queue in the reconciler and go to HAProxy a
 *              request line (four for a big queue) at a time, acknowledged
 *              per command.
 * A run is for groups whose mirror is not known (below), and for the
 * consistency check.
 * A run takes dirty groups first, then groups due for a consistency check:
 * every resync tick adds a slice of the groups (all of them when there are
 * few), so every group is checked against HAProxy every REC_CHECK_TICKS
 * ticks at most without a burst of reads every tick. One run reads and plans
 * at a time; requests made meanwhile go into the next, which may start as
 * soon as the plan is queued: its read waits behind at most two batches of
 * commands, and its commands go before those still queued (reconcile.c says
 * why the order stays safe). A watch connection on HAProxy's socket
 * (haproxy.h) notices a restart at once.
 *
 * The fast path: the reconciler keeps, per group, what its backends hold
 * after every command it planned (the mirror: the rows of its last read,
 * with the commands applied as plan_apply() says). A dirty group whose
 * mirror is known is planned from it at once and its commands queue behind
 * those already waiting, without a read: no read, plan and submit cycle
 * per batch of switches. The mirror becomes unknown (the group is read
 * again) when a command fails or is dropped unsent, a batch is lost, or
 * HAProxy reloads or restarts (nothing is planned from a mirror until
 * "show info" has been read after the watch came back). A read asked for
 * before a group's plan from its mirror is not planned from for that
 * group. A plan from the mirror puts a write slot in maint before its
 * address changes, and every other write slot before one is made ready
 * (PLAN_WRITE_SURE), in case another writer readied one. Commands go to HAProxy write backends first, read backends
 * after, each backend's in order.
 *
 * The reconciler's own per-group state (dirty, what HAProxy routes to,
 * switch timing, the mirror) lives here, in an array indexed by group id. */
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

#define REC_CHECK_TICKS 60   /* every group is checked at least every 60 ticks */
#define REC_CHECK_MIN 16     /* ... and at least this many groups per tick */
#define REC_ONE_READ_MAX 2000  /* up to this many groups a full read is one "show servers state" */

struct reconciler *rec_new(struct ev_loop *loop, const struct config *cfg, struct topo *topo,
			   struct hap_client *hap);
void rec_free(struct reconciler *rc);
/* Where decisions, commands and failover stages are recorded (borrowed). */
void rec_set_journal(struct reconciler *rc, struct journal *j);
/* The old workers' sweeper (oldworkers.h, borrowed; NULL none): kicked
 * when a write slot is taken out of service and when a reload is seen. */
struct oldworkers;
void rec_set_oldworkers(struct reconciler *rc, struct oldworkers *ow);
/* Start watching HAProxy's socket (call once the loop is set up). */
void rec_start(struct reconciler *rc);

/* From the Sentinel side: g's views or replicas changed. Decides (topo_decide),
 * logs switches, starts ROLE probes and schedules a reconcile of g. */
void rec_group_updated(struct reconciler *rc, struct group *g);
/* Resync tick: decide every group again (views age out), recheck ROLE where
 * due, check the next slice of groups against HAProxy. */
void rec_tick(struct reconciler *rc);
/* Forced resync (SIGHUP): a tick that checks every group at once. Returns
 * a mark for rec_resync_done(). */
uint64_t rec_resync(struct reconciler *rc);
/* 1 once a run that read every backend has been planned after the resync
 * that returned gen, every command is acknowledged, and no group waits for
 * a run: HAProxy holds what the model wants. */
int rec_resync_done(const struct reconciler *rc, uint64_t gen);

/* Hostnames: where names are resolved (borrowed; NULL: names never
 * resolve, so nodes named so are never routed to). */
struct resolver;
void rec_set_resolver(struct reconciler *rc, struct resolver *res);
/* The resolver's news: name's address or state changed. */
void rec_name_changed(struct reconciler *rc, const char *name);
/* write-lease (topo.h F3): evaluate every group's lease now; the groups
 * whose lease changed are planned. Returns the shortest lease length (ms),
 * 0 when none is known yet. */
int64_t rec_lease_tick(struct reconciler *rc);

enum group_state rec_group_state(const struct reconciler *rc, const struct group *g);

/* What HAProxy routes to for g after the last apply. 1 when known. */
struct rec_hap_view {
	char write_ready[ADDR_IP_MAX + 8];  /* the write backend's ready server, "" none */
	int read_ready;                     /* ready servers in the read backend */
};
int rec_group_haproxy(const struct reconciler *rc, const struct group *g, struct rec_hap_view *out);

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
