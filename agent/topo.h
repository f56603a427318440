/* Topology model: master groups, their nodes, and each Sentinel's view.
 * Pure data and the decision rule; no I/O. Only the model lives here:
 * modules that keep their own state per group (sentinel.c, probe.c,
 * reconcile.c) keep it in arrays indexed by group id.
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
 *     as it is (but for the write lease, F3: the master is fenced).
 * Replicas are read-ready when no Sentinel that lists them sees them down,
 * they report role slave, and they replicate from the current master with
 * the link up (Sentinel refreshes a replica's link state only every 10 s:
 * while it says the link is down, ROLE on the replica itself is asked, and
 * its answer counts). While the master they follow is down (s_down, o_down, a
 * failover under way, or the master just replaced) a replica whose link is
 * down keeps serving reads, possibly stale, as Redis's
 * replica-serve-stale-data does: a master failure is no read outage; so does
 * a replica resyncing with a new master just after a switch.
 * A loading replica is never read-ready (R1-R2):
 * R1. A replica that answers PING (asked with ROLE) with -LOADING serves
 *     nothing: it is loading its data set, from disk after a restart or the
 *     one a full sync brought. Nor with -MASTERDOWN (replica-serve-stale-data
 *     no, link down). Out, whatever else holds, the stale-read exceptions
 *     above included.
 * R2. Once a replica was seen lost (a Sentinel that lists it reports s_down or
 *     o_down, or every Sentinel that lists it says disconnected: a restart, or a crash),
 *     Sentinel's "link ok" no longer counts for it, nor a ROLE answer from
 *     before: Sentinel asks a replica INFO only every 10 s, so for up to 10 s
 *     after a restart it still reports the link of the process that died,
 *     while the new one loads its RDB. Only the agent's own ROLE saying
 *     slave of the current master with the link connected brings it back
 *     (a loading replica's link is "connect" or "sync", never "connected").
 *     The agent asks it at every resync tick meanwhile.
 *     Reason: the measured window (Redis 7.0): a replica restarted when
 *     Sentinel's last INFO was 3 s old was reported "ok" for the first 7 s
 *     of its 11 s of loading (until that next INFO), and without R2 was
 *     ready for 6 of them (disconnected, then s_down, for the first 1.2 s).
 * R3. A restart quicker than Sentinel's reconnect (~100 ms) shows no flag
 *     at all. So the agent keeps an idle connection to every read-ready
 *     replica; when the replica closes it, the replica is seen lost as in R2
 *     (without dropping the last ROLE answer: Redis's timeout or a CLIENT
 *     KILL also close it) and asked at once. A dead or restarting process
 *     refuses or answers "connect" and -LOADING: out within a round trip,
 *     before it has loaded anything; a live one answers "connected" and
 *     stays.
 *
 * Early fence (topo_fence_eval): between a master's death and Sentinel's
 * switch (down-after + election + promotion) HAProxy would still send new
 * connections to the dead master, to be refused. Instead the write backend is
 * left with no ready server, so HAProxy holds new connections (hasentinel.lua)
 * until the new master is ready.
 * F1. The decided master is fenced (its write slot goes to maint and its
 *     sessions are shut down; no other server is made ready) as soon as it
 *     is known dead:
 *     a. the agent's own idle connection to it (idle but for the periodic
        ROLE rechecks, their answers consumed) is closed or reset, and a
 *        fresh connection to its address is refused: the host answers and no
 *        process listens. A connect timeout says nothing (a partition between
 *        the agent and the master alone is no death): no fence. A reset
 *        alone says nothing either (Sentinel's CLIENT KILL, Redis's timeout).
 *     b. a counted Sentinel reports it o_down: a quorum of Sentinels agreed
 *        it is down (a hang, a lost host: no reset to see), and a failover
 *        is about to replace it anyway. Not the failover leader's view
 *        (failover_in_progress): once it has promoted a replica it names
 *        that one with the old master's flags.
 *     Reason: a fence only takes a server out, so it can never make two
 *     writable servers; the switch itself still follows rules 2-4.
 * F2. The fence ends, and the old master takes writes again at once, when no
 *     failover follows: its causes are gone (a fresh connection is accepted,
 *     no counted Sentinel reports o_down) and no failover is in progress, and
 *     then ROLE on the node, asked afresh, says master while Sentinel still
 *     names it. A new master (rule 2) ends the fence too: it follows rule 4.
 *     Reason: a master restarted within down-after, or a -odown, must not
 *     hold writes any longer than it takes to check the node.
 * F3. With write-lease on, the decided master is also fenced while the
 *     majority lease is lost (topo_lease_held below): the agent no longer
 *     hears from a majority of the group's Sentinels, so a majority it
 *     cannot hear may be about to promote another node. No recheck: the
 *     fence ends as soon as the lease is held again, a failover under way
 *     or not (F1-F2 still apply). After a switch the new master is fenced
 *     so until a majority names it too (the others follow the failover
 *     leader within tens of ms).
 *     Reason: on the minority side of a partition, with the old master, the
 *     agent would otherwise route writes to it until the partition heals,
 *     and every one acknowledged after the majority's promotion is lost. */
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
/* A replica's answer to PING, asked with ROLE: SERVE_NO is -LOADING (it is
 * loading a data set) or -MASTERDOWN (replica-serve-stale-data no, link
 * down): it serves no read. Any other error (-NOPERM: an ACL user without
 * +ping) says nothing. */
enum serve_seen { SERVE_UNKNOWN = 0, SERVE_YES, SERVE_NO };

struct node {
	char ip[ADDR_IP_MAX];    /* as Sentinel announces it: an IP literal or a hostname */
	char addr[ADDR_IP_MAX];  /* its IP literal: = ip, or the name resolved; "" unknown */
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
	int serving;             /* enum serve_seen: PING, asked with that ROLE */
	int link_suspect;        /* seen lost (s_down, o_down, disconnected) since our ROLE last
				  * saw its link up: Sentinel's "link ok" may predate the loss */
	int listed_round;        /* internal: listed in the replica list being applied */
};

/* What one Sentinel says about one group. */
struct sview {
	int valid;
	char ip[ADDR_IP_MAX];
	int port;
	uint64_t epoch;
	unsigned flags;          /* master's flags from that Sentinel */
	int64_t at_ms;           /* monotonic time of the answer, or of its last confirmation */
	int64_t down_after_ms;   /* the group's down-after-milliseconds on that Sentinel, 0 unknown */
	int nother;              /* its num-other-sentinels for the group, 0 unknown */
};

struct switch_rec {
	char from[ADDR_IP_MAX + 8];
	char to[ADDR_IP_MAX + 8];
	uint64_t epoch;
	int64_t at_wall_ms;
};

struct group {
	/* Dense index, reused after topo_remove(), and a serial never reused:
	 * modules keep their own per-group bookkeeping in arrays indexed by id
	 * and know an entry is stale when its serial differs. */
	uint32_t id;
	uint64_t serial;
	struct sview *views;     /* owned: one per configured Sentinel (nviews) */
	int nviews;
	/* The decided master (what the rule above says), "" when none yet. */
	char master_ip[ADDR_IP_MAX];
	/* The IP literal HAProxy routes the master's writes to: = master_ip,
	 * or its name resolved; "" unknown (topo_master_resolved). */
	char master_addr[ADDR_IP_MAX];
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
	char (*other_sentinels)[ADDR_IP_MAX + 8];  /* owned, nother of them: from SENTINEL SENTINELS */
	int nother;
	/* Early fence (F1-F2), changed by topo_fence_*() only. */
	int fence;               /* enum topo_fence */
	char fence_addr[ADDR_IP_MAX + 8];   /* the master it applies to */
	char fence_dead[ADDR_IP_MAX + 8];   /* seen dead by the agent (F1a), "" none */
	int64_t fence_since_ms;  /* wall ms the fence began */
	void *fence_watch;       /* fence.c's watch of the master */
	/* The majority lease (topo_lease_eval), when write-lease is on. */
	int lease;               /* enum topo_lease */
	int lease_votes;         /* Sentinels that confirmed the master within the lease */
	int lease_known;         /* Sentinels known for the group (topo_sentinels_known) */
	unsigned listed_by;      /* configured Sentinels that ever listed the group (bitmask, sticky) */
	int64_t lease_ms;        /* the lease's length, 0 unknown */
	char name[];             /* the master name, shorter than TOPO_NAME_MAX: allocated to its length */
};

struct topo {
	struct group **groups;   /* owned; in order of creation, for iteration */
	size_t n, cap;
	struct group **hash;     /* open addressing by name, hcap slots (power of 2) */
	size_t hcap;
	struct group **by_id;    /* by id; NULL for a free id */
	uint32_t nids;           /* ids handed out (by_id's length) */
	size_t idcap;
	uint64_t next_serial;
	/* Bumped when a group is added or removed or its master changes:
	 * who keeps per-master state (fence.c) looks again only then. */
	uint64_t master_changes;
	int nsentinels;          /* configured Sentinels: indexes of views */
	int64_t view_ttl_ms;     /* a view older than this does not count */
	/* Monotonic time each configured Sentinel was sent the last renewal
	 * ping it answered while its events reached the agent
	 * (topo_sentinel_heard), 0 never. */
	int64_t heard_ms[TOPO_MAX_SENTINELS];
};

void topo_init(struct topo *t, int nsentinels, int64_t view_ttl_ms);
void topo_free(struct topo *t);

/* Lookups by name are hashed: O(1) at any number of groups. */
struct group *topo_find(const struct topo *t, const char *name);
struct group *topo_get(struct topo *t, const char *name);   /* find or create */
void topo_remove(struct topo *t, const char *name);
/* The group with this id, NULL when none. */
struct group *topo_by_id(const struct topo *t, uint32_t id);

struct node *group_find_node(struct group *g, const char *ip, int port);
struct node *group_get_node(struct group *g, const char *ip, int port);  /* find or add */

/* Record Sentinel si's view of a group (from SENTINEL MASTERS /
 * GET-MASTER-ADDR-BY-NAME). now is monotonic ms. */
void topo_set_view(struct group *g, int si, const char *ip, int port, uint64_t epoch,
		   unsigned flags, int64_t now);
/* 1 when recording this view of Sentinel si would only confirm it: its
 * view counts at now (valid, not older than the view lifetime) and says
 * exactly this, and g's write lease is not lost (a confirmation may win it
 * back). 0 when it may change a decision. */
int topo_view_same(const struct topo *t, const struct group *g, int si, const char *ip, int port,
		   uint64_t epoch, unsigned flags, int64_t now);
/* Sentinel si confirmed, at now, that its view of g is unchanged (its
 * summary of the group did not change): the view counts again from now. */
void topo_touch_view(struct group *g, int si, int64_t now);
/* Sentinel si no longer reports g (it stopped monitoring it, or is in TILT). */
void topo_drop_view(struct group *g, int si);
void topo_drop_views(struct topo *t, int si);   /* a Sentinel went away */
/* The other Sentinels one Sentinel knows for g (SENTINEL SENTINELS), "ip:port". */
void topo_set_other_sentinels(struct group *g, const char *const *addrs, int n);

/* Replica list from Sentinel si: update for each replica, then end
 * (replicas si no longer lists lose si from seen_by; nodes seen by nobody
 * and not the master are dropped). */
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

/* Hostnames (resolve-hostnames): the agent resolves, topo keeps the result.
 * The master's name now resolves to addr ("" = does not resolve: unknown).
 * A new address voids ROLE's confirmation (asked again at that address);
 * unknown leaves a confirmed master where HAProxy routes already (never a
 * switch to nowhere) and an unconfirmed one with no address. No effect on
 * an IP literal. Returns 1 when something changed (generation bumped). */
int topo_master_resolved(struct group *g, const char *addr);
/* The same for a node: its address (and the ROLE answer, which was about the
 * old one) is replaced. Returns 1 when something changed. */
int topo_node_resolved(struct group *g, struct node *n, const char *addr);

/* Record a ROLE answer for ip:port in g (master or a node). Returns 1 when it
 * changed what HAProxy should look like. */
int topo_role_result(struct group *g, const char *ip, int port, enum role_seen role, int64_t now);

/* Record ROLE on a replica node: its role, the master it follows and
 * whether its link is connected. Returns 1 when something changed. */
int topo_replica_role(struct group *g, const char *ip, int port, enum role_seen role,
		      const char *master_ip, int master_port, int link_up, int64_t now);
/* The same with the answer to PING asked with it (enum serve_seen). A slave
 * of the current master with its link connected and not SERVE_NO is no
 * longer link_suspect. */
int topo_replica_probe(struct group *g, const char *ip, int port, enum role_seen role,
		       const char *master_ip, int master_port, int link_up, int serving, int64_t now);

/* The agent's own connection to a replica was closed (R3): it is
 * link_suspect and asked again at once (role_at_ms 0). Returns 1 when that
 * is new. */
int topo_replica_lost(struct group *g, const char *ip, int port);

/* Whether a replica should serve reads at wall clock now_wall_ms. */
int topo_node_read_ready(const struct group *g, const struct node *n, int64_t now_wall_ms);

/* Whether any replica of g would serve reads at now_wall_ms (only replicas
 * with a known address: the others are never in HAProxy). */
int topo_any_replica_read_ready(const struct group *g, int64_t now_wall_ms);

/* Whether the master is in the read backend under master-reads mode (enum
 * master_reads: 0 no, 1 yes, 2 fallback): -1 not a target at all, 0 a target
 * in maint, 1 ready. It is ready only when ROLE confirmed it and it is not
 * fenced; with fallback, only while no replica is ready. */
int topo_master_read_target(const struct group *g, int mode, int64_t now_wall_ms);

/* For this long after a switch a replica resyncing with the new master
 * (link down, following it) keeps serving reads: Sentinel reports a replica's
 * link state only every 10 s, and the data it serves is as fresh as at the
 * switch. */
#define TOPO_SWITCH_GRACE_MS 10000

/* 1 when the group is frozen: no view counts at now (rule 5); 0 when at
 * least one does. */
int topo_group_frozen(const struct topo *t, const struct group *g, int64_t now);

/* Early fence (F1-F2). */
enum topo_fence {
	FENCE_NONE = 0,
	FENCE_DEAD,       /* F1a: reset, then a fresh connection refused */
	FENCE_ODOWN,      /* F1b: a counted Sentinel reports o_down */
	FENCE_RECHECK,    /* F2: causes gone, waiting for ROLE master (or a failover) */
	FENCE_LEASE,      /* F3: the majority lease is lost (g->lease) */
};
#define TOPO_FENCE_ON_RESET 0x1   /* signals in use: F1a */
#define TOPO_FENCE_ON_ODOWN 0x2   /* F1b */
#define TOPO_FENCE_ON_LEASE 0x4   /* F3 (write-lease) */

/* The agent's own look at ip:port (F1a): dead 1 = its connection was
 * reset and a fresh one refused; 0 = a fresh connection was accepted.
 * Returns 1 when that changed what is known. */
int topo_fence_link(struct group *g, const char *ip, int port, int dead);
/* Apply F1-F2 with the signals in use (TOPO_FENCE_*). Entering
 * FENCE_RECHECK resets confirmed to 0 (the caller asks ROLE). Returns 1 when
 * g->fence changed (the generation is bumped). */
int topo_fence_eval(const struct topo *t, struct group *g, unsigned signals, int64_t now,
		    int64_t wall_now);
/* Whether the decided master must stay out of the write backend. */
int topo_master_fenced(const struct group *g);
const char *topo_fence_name(int fence);

const char *role_seen_name(enum role_seen r);
/* "s_down,o_down,disconnected" etc. */
void node_flags_format(unsigned flags, char *buf, size_t len);
/* Parse Sentinel's flags field ("master,s_down,...") into NODE_* bits. */
unsigned node_flags_parse(const char *s);

/* The majority lease (F3; the opt-in write-lease setting). The group's
 * decided master keeps the write backend only while more than half of the
 * group's known Sentinels (topo_sentinels_known: the Sentinels of the
 * group, down or not, not every configured one) confirmed, within the last LEASE_MS (monotonic NOW), that they name that
 * same address at an epoch not older than the group's. A Sentinel confirms
 * by an answer about the group (a round, a detail query) or, between
 * rounds, by answering a renewal ping (INFO server) while its events reach
 * the agent (topo_sentinel_heard): a switch it made would have been
 * announced on its event link first. Its view must still count (rule 1:
 * not older than the view lifetime, not in TILT).
 * LEASE_MS is shorter than the group's down-after-milliseconds: a majority
 * that cannot reach the master promotes a replica no sooner than
 * down-after (then o_down, an election and the promotion) after it lost the
 * master; when the agent is on the minority side with the master, it lost
 * the majority at the same moment, so the master leaves the write backend
 * before another can be promoted.
 * 1 held, 0 lost (also with no master, NKNOWN <= 0 or LEASE_MS <= 0: with
 * every Sentinel gone, writes stop). *VOTES (may be NULL) gets the number
 * of confirming Sentinels. */
int topo_lease_held(const struct topo *t, const struct group *g, int nknown, int64_t now,
		    int64_t lease_ms, int *votes);

/* Sentinel si answered a renewal ping sent at now, its events flowing (F3). */
void topo_sentinel_heard(struct topo *t, int si, int64_t now);
/* Sentinel si lists g in SENTINEL MASTERS / MASTER, with this
 * down-after-milliseconds and num-other-sentinels. */
void topo_set_summary(struct group *g, int si, int64_t down_after_ms, int nother);

/* The number of Sentinels known for g: the configured ones that ever listed
 * it (CONF: the NCONF configured Sentinels, "ip:port" each, by index) and
 * those SENTINEL SENTINELS named, each once; at least 1 + the largest
 * num-other-sentinels a Sentinel reported for it (known before SENTINEL
 * SENTINELS is asked). A configured Sentinel that does not monitor g (one of
 * another Sentinel set) is not one of its Sentinels. */
int topo_sentinels_known(const struct group *g, const char *const *conf, int nconf);

/* The lease's length for g: FIXED_MS when > 0, otherwise half the smallest
 * down-after-milliseconds its counted Sentinels report (0 when none does).
 * Half: the lease runs out at most LEASE + LEASE/4 (a renewal period, see
 * TOPO_LEASE_RENEW_DIV) after the last contact with the majority, and the
 * fence reaches HAProxy within a few ms more, while Sentinel needs at least
 * down-after, then o_down, an election and SLAVEOF NO ONE on the replica:
 * with down-after 1000 ms, the master is out by ~650 ms, the promotion comes
 * no sooner than ~1100 ms. A shorter lease fences on shorter stalls of the
 * agent's own links. */
int64_t topo_lease_ms(const struct topo *t, const struct group *g, int64_t fixed_ms, int64_t now);
/* Renewal: every Sentinel gets a renewal ping every lease / this. */
#define TOPO_LEASE_RENEW_DIV 4

enum topo_lease {
	LEASE_OFF = 0,    /* write-lease no */
	LEASE_HELD,
	LEASE_LOST,
};
/* Apply the lease rule to g (sets lease, lease_votes, lease_known,
 * lease_ms). Returns 1 when g->lease changed. */
int topo_lease_eval(const struct topo *t, struct group *g, int on, int nknown, int64_t fixed_ms,
		    int64_t now);
const char *topo_lease_name(int lease);

#endif
