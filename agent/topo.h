/* Topology model: master groups, their nodes, and each Sentinel's view.
 * Pure data and the decision rule; no I/O.
 *
 * The decision rule (who may take writes):
 *  1. Only views of Sentinels that answered within the view lifetime and are
 *     not in TILT count.
 *  2. The candidate master is the address reported with the highest config
 *     epoch. If two counted Sentinels report different addresses at that
 *     epoch, the Sentinels disagree: nothing changes until they agree.
 *  3. A candidate with a lower epoch than the current master's never replaces
 *     it (an old +switch-master replayed, a Sentinel that lost its state).
 *  4. The candidate takes writes only once ROLE on the node itself says
 *     master. Until then the write backend has no ready server (or keeps the
 *     one HAProxy already routes to, if it is that same node: adoption).
 *  5. With no counted Sentinel at all the group is frozen: HAProxy is left
 *     as it is.
 * Replicas are read-ready when no Sentinel that lists them sees them down,
 * they report role slave, and they replicate from the current master with
 * the link up (Sentinel refreshes a replica's link state only every 10 s:
 * while it says the link is down, ROLE on the replica itself is asked, and
 * its answer counts). While the master they follow is down (s_down, o_down, a
 * failover under way, or the master just replaced) a replica whose link is
 * down keeps serving reads, possibly stale, as Redis's
 * replica-serve-stale-data does: a master failure is no read outage; so does
 * a replica resyncing with a new master just after a switch. */
#ifndef HASENTINEL_TOPO_H
#define HASENTINEL_TOPO_H

#include <stddef.h>
#include <stdint.h>

#include "util.h"

#define TOPO_NAME_MAX 128
#define TOPO_MAX_SENTINELS 16

/* Node flags, as Sentinel reports them (SENTINEL MASTERS/REPLICAS "flags"). */
#define NODE_S_DOWN        0x0001
#define NODE_O_DOWN        0x0002
#define NODE_DISCONNECTED  0x0004
#define NODE_LINK_DOWN     0x0008   /* replica: master-link-status err */
#define NODE_ROLE_MASTER   0x0010   /* replica whose role-reported is master */
#define NODE_PROMOTED      0x0020
#define NODE_FAILOVER      0x0040   /* master: failover_in_progress */

enum role_seen { ROLE_UNKNOWN = 0, ROLE_MASTER, ROLE_SLAVE };

struct node {
	char ip[ADDR_IP_MAX];
	int port;
	unsigned flags;          /* NODE_*, merged (OR) over the Sentinels that list it */
	unsigned sflags[TOPO_MAX_SENTINELS];  /* each Sentinel's own report */
	unsigned seen_by;        /* bitmask of Sentinels that listed this replica (last query) */
	char master_ip[ADDR_IP_MAX];  /* replica: the master it replicates from (Sentinel's "master-host") */
	int master_port;
	int priority;
	long long repl_offset;
	int64_t lag_ms;          /* replica: master-link-down-time or last-ok-ping based, -1 unknown */
	/* our own ROLE check */
	enum role_seen role;     /* what ROLE said last */
	int64_t role_at_ms;      /* monotonic time of that answer, 0 = never */
	char role_master_ip[ADDR_IP_MAX];  /* a replica's ROLE: the master it follows */
	int role_master_port;
	int role_link_up;        /* ... and its link state is "connected" */
	void *probe;             /* ROLE probe in flight (reconcile.c's) */
	int listed_round;        /* internal: listed in the replica list being applied */
};

/* What one Sentinel says about one group. */
struct sview {
	int valid;
	char ip[ADDR_IP_MAX];
	int port;
	uint64_t epoch;
	unsigned flags;          /* master's flags from that Sentinel */
	int64_t at_ms;           /* monotonic time of the answer */
	/* From SENTINEL MASTER(S), completed by the GET-MASTER-ADDR-BY-NAME
	 * answer pipelined right behind it (one atomic read on the Sentinel). */
	uint64_t pend_epoch;
	unsigned pend_flags;
	int pend_set;
};

struct switch_rec {
	char from[ADDR_IP_MAX + 8];
	char to[ADDR_IP_MAX + 8];
	uint64_t epoch;
	int64_t at_wall_ms;
};

struct group {
	char name[TOPO_NAME_MAX];
	struct sview views[TOPO_MAX_SENTINELS];
	/* The decided master (what the rule above says), "" when none yet. */
	char master_ip[ADDR_IP_MAX];
	int master_port;
	uint64_t epoch;
	int confirmed;           /* ROLE on master_ip:port since it was chosen: 1 master, -1 not master, 0 not asked yet */
	int disagree;            /* counted Sentinels disagree at the highest epoch */
	int replicas_known;      /* some Sentinel answered SENTINEL REPLICAS */
	struct node *nodes;      /* owned: replicas (and the old master once demoted) */
	size_t nnodes, capnodes;
	unsigned master_flags;
	struct switch_rec last_switch;
	int nswitches;
	uint64_t generation;     /* bumped on every change that may alter HAProxy's desired state */
	/* Owned by the reconciler (reconcile.c), not by the model. */
	int dirty;               /* must be reconciled */
	uint64_t planned_generation;  /* generation when last planned */
	int64_t switch_mono;     /* when the current master was chosen (monotonic ms) */
	int switch_acked;        /* HAProxy acknowledged writes to it since */
	int state_logged;        /* last group state logged (enum in reconcile.c) */
	void *probe;             /* ROLE probe in flight, reconcile.c's */
	char hap_write_ready[ADDR_IP_MAX + 8];  /* what the write backend routes to after the last apply */
	int hap_read_ready;      /* ready servers in the read backend after the last apply */
	int hap_known;           /* the two fields above are known */
	char other_sentinels[TOPO_MAX_SENTINELS][ADDR_IP_MAX + 8];  /* from SENTINEL SENTINELS */
	int nother;
};

struct topo {
	struct group **groups;   /* owned */
	size_t n, cap;
	int nsentinels;          /* configured Sentinels: indexes of views */
	int64_t view_ttl_ms;     /* a view older than this does not count */
};

void topo_init(struct topo *t, int nsentinels, int64_t view_ttl_ms);
void topo_free(struct topo *t);

struct group *topo_find(struct topo *t, const char *name);
struct group *topo_get(struct topo *t, const char *name);   /* find or create */
void topo_remove(struct topo *t, const char *name);

struct node *group_find_node(struct group *g, const char *ip, int port);
struct node *group_get_node(struct group *g, const char *ip, int port);  /* find or add */

/* Record Sentinel si's view of a group (from SENTINEL MASTERS /
 * GET-MASTER-ADDR-BY-NAME). now is monotonic ms. */
void topo_set_view(struct group *g, int si, const char *ip, int port, uint64_t epoch,
		   unsigned flags, int64_t now);
void topo_drop_views(struct topo *t, int si);   /* a Sentinel went away */

/* Replica list from Sentinel si: call begin, then update for each replica,
 * then end (replicas si no longer lists lose si from seen_by; nodes seen by
 * nobody and not the master are dropped). */
void topo_replicas_begin(struct group *g, int si);
void topo_replica_update(struct group *g, int si, const struct node *r);
void topo_replicas_end(struct group *g, int si);

/* Outcome of applying the rule. */
enum topo_decision {
	TOPO_NOCHANGE = 0,
	TOPO_NEW_MASTER,      /* master changed: old is in last_switch.from */
	TOPO_NO_VIEWS,        /* frozen: no Sentinel counts */
	TOPO_DISAGREE,
	TOPO_STALE,           /* best view has a lower epoch than ours: ignored */
};

/* Apply the rule. On TOPO_NEW_MASTER confirmed is reset to 0 and the
 * generation bumped. */
enum topo_decision topo_decide(struct topo *t, struct group *g, int64_t now, int64_t wall_now);

/* Record a ROLE answer for ip:port in g (master or a node). Returns 1 when it
 * changed what HAProxy should look like. */
int topo_role_result(struct group *g, const char *ip, int port, enum role_seen role, int64_t now);

/* Record ROLE on a replica node: its role, the master it follows and
 * whether its link is connected. Returns 1 when something changed. */
int topo_replica_role(struct group *g, const char *ip, int port, enum role_seen role,
		      const char *master_ip, int master_port, int link_up, int64_t now);

/* Whether a replica should serve reads at wall clock now_wall_ms. */
int topo_node_read_ready(const struct group *g, const struct node *n, int64_t now_wall_ms);

/* For this long after a switch a replica resyncing with the new master
 * (link down, following it) keeps serving reads: Sentinel reports a replica's
 * link state only every 10 s, and the data it serves is as fresh as at the
 * switch. */
#define TOPO_SWITCH_GRACE_MS 10000

/* Whether the group has a usable decision (some view counted). */
int topo_group_frozen(const struct topo *t, const struct group *g, int64_t now);

const char *role_seen_name(enum role_seen r);
/* "s_down,o_down,disconnected" etc. */
void node_flags_format(unsigned flags, char *buf, size_t len);
/* Parse Sentinel's flags field ("master,s_down,...") into NODE_* bits. */
unsigned node_flags_parse(const char *s);

/* The majority lease (a rule for an opt-in fencing setting; not used by
 * the agent yet): the group's decided master keeps the write backend only
 * while more than half of the group's NKNOWN Sentinels (configured or
 * discovered) reported that same address, at an epoch not older than the
 * group's, within the last LEASE_MS (monotonic NOW). LEASE_MS is meant to
 * be shorter than the group's down-after-milliseconds, so the old master
 * leaves the write backend before a majority could have promoted another.
 * 1 held, 0 lost (also with no master, NKNOWN <= 0 or LEASE_MS <= 0: with
 * every Sentinel gone, writes stop). */
int topo_lease_held(const struct group *g, int nknown, int64_t now, int64_t lease_ms);

#endif
