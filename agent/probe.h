/* ROLE probes: the agent asks a node itself what it is.
 *
 * A decided master takes writes only once ROLE on it says master (rule 4
 * in topo.h); until then it is asked again with backoff. A confirmed master
 * is asked again every PROBE_RECHECK_TICKS resync intervals (at most
 * PROBE_RECHECK_MAX a tick), each group at its own jittered time, so rechecks of many groups are spread evenly and a master demoted
 * behind Sentinel's back leaves the write backend. Replicas that Sentinel
 * reports unlinked (it refreshes that only every 10 s), that were seen lost
 * since ROLE last saw them linked, or that did not serve are asked too, ROLE
 * and PING (-LOADING: not serving), and their answer counts for reads (R1-R2
 * in topo.h).
 *
 * Every read-ready replica is also watched (R3 in topo.h): one idle
 * connection each, at most PROBE_MAX_WATCHES; when the replica closes it,
 * topo_replica_lost() and the replica is asked at once. Watches are
 * opened when the loop has nothing else to do, and at every tick a slice
 * of what is left (never inside a switch); those no longer wanted are
 * closed the same way (closer.h).
 *
 * A master is asked first on the fence's watch of it (fence.h: no connect
 * and no close of our own), also while that watch is still connecting (a
 * master just decided: its watch is opened at the same time, so a switch
 * costs one connection); when there is none, or it is refused, times out
 * or closes, or the answer is not master, on a fresh connection as below.
 * Each other attempt is one short connection (connect, AUTH if configured, ROLE
 * (and PING for a replica), closed with a reset once answered); at most
 * PROBE_MAX_ACTIVE are open at once, the others wait in
 * order (thousands of groups switching at once stay under the descriptor
 * limit). Answers go into the model only through topo_role_result() and
 * topo_replica_role(); when one changes what HAProxy should look like, the
 * owner is told (changed callback). The prober keeps its own bookkeeping
 * per group, in an array indexed by group id. */
#ifndef HASENTINEL_PROBE_H
#define HASENTINEL_PROBE_H

#include <stdint.h>

#include <ev.h>

#include "config.h"
#include "journal.h"
#include "topo.h"

#define PROBE_RETRY_MIN_MS 50
#define PROBE_RETRY_MAX_MS 1000
#define PROBE_MAX_ACTIVE 256   /* connections open at once; more probes wait their turn */
#define PROBE_RECHECK_TICKS 5   /* a confirmed master is asked again every 5 resync intervals (+-20 %) */
#define PROBE_RECHECK_MAX 50    /* ... but at most this many rechecks a tick (over 250 groups: less often) */
#define PROBE_MAX_WATCHES 4096  /* read-ready replicas watched at once (one descriptor each) */

struct prober;

/* ROLE changed what g should look like in HAProxy. */
typedef void (*probe_changed_cb)(void *arg, struct group *g);

/* cfg and topo are borrowed and must outlive the prober. */
struct prober *prober_new(struct ev_loop *loop, const struct config *cfg, struct topo *topo,
			  probe_changed_cb changed, void *arg);
void prober_free(struct prober *pr);
/* Where role-confirmed / role-refused and the timeline stage go (borrowed). */
void prober_set_journal(struct prober *pr, struct journal *j);

/* g has a new candidate master: forget the probe of the old one, ask the new. */
void prober_new_master(struct prober *pr, struct group *g);
/* g changed: ask its master if it is not confirmed and not being asked,
 * and the replicas that need it. */
void prober_check(struct prober *pr, struct group *g);
/* Like prober_check(), and a master probe waiting out its retry delay (it
 * met the dead master) is sent now: the early fence's F2 recheck. */
void prober_now(struct prober *pr, struct group *g);
/* Resync tick: prober_check() for every group, and the rechecks now due. */
void prober_tick(struct prober *pr);

/* Probes alive (for status and tests). */
size_t prober_in_flight(const struct prober *pr);

#endif
