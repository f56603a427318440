/* Early fence, the I/O half (the rule is topo.h's F1-F2): per master group
 * one idle TCP connection of the agent's own to the decided master. Only
 * the prober's ROLE questions (a new master's confirmation, the periodic
 * rechecks) are sent on it (fence_ask_role), one at a time, their answers
 * consumed. When it is closed or reset, a fresh connection tells
 * a dead process (refused: the host answers, nothing listens) from
 * everything else (accepted: Sentinel's CLIENT KILL, Redis's idle timeout;
 * a timeout or unreachable: a partition, no conclusion). A refusal is
 * reported with topo_fence_link(g, ..., 1); while it lasts the address is
 * tried again every few ms, and the first accepted connection is reported
 * with topo_fence_link(g, ..., 0). After each report the owner's callback
 * runs (the reconciler applies the rule). A replaced master's watch is
 * reset when the loop has nothing else to do (or at the next tick), not
 * inside the switch; beyond 1024 waiting, at once.
 *
 * Owns its sockets and its per-group bookkeeping (keyed by group name). */
#ifndef HASENTINEL_FENCE_H
#define HASENTINEL_FENCE_H

#include <ev.h>

#include "config.h"
#include "topo.h"

struct fence;
struct redisReply;

typedef void (*fence_changed_fn)(void *arg, struct group *g);

/* cfg and topo are borrowed and must outlive it. */
struct fence *fence_new(struct ev_loop *loop, const struct config *cfg, struct topo *topo,
			fence_changed_fn changed, void *arg);
void fence_free(struct fence *f);

/* g's master may have changed: watch it (or stop watching a replaced one). */
void fence_track(struct fence *f, struct group *g);
/* Resync tick: when a master changed or a group came or went since the
 * last one (topo's master_changes), track every group and drop the watches
 * of groups that are gone; otherwise nothing. */
void fence_tick(struct fence *f);

/* The answer to ROLE asked on a watch: a hiredis reply (borrowed for the
 * call), or NULL (no answer in time, or the watch closed or went away). */
typedef void (*fence_role_fn)(void *arg, const struct redisReply *reply);

/* Ask ROLE (after AUTH, if configured) on the watch of g's master instead
 * of a fresh connection: a confirmation or recheck that costs no connect.
 * The watch may still be connecting (a master just decided: its watch is
 * opened at the same time); the question goes out once it is up. 0 and
 * fn is called exactly once later (never from inside this call), unless
 * fence_ask_cancel(*handle, arg) runs first; -1: no watch of that master
 * is connected or about to be (one refused or unreachable waits out a
 * backoff), or one is asked already (connect instead). The answer is
 * consumed, never taken for the watch's end; a close, a reset or a failed
 * connect is still the F1a signal (and NULL to fn). fn may close or free
 * the watch. */
int fence_ask_role(struct group *g, fence_role_fn fn, void *arg, void **handle);
/* The asker gives up (it is freed): fn will not be called. */
void fence_ask_cancel(void *handle, void *arg);

/* For status: watches open / masters seen dead since start. */
void fence_counts(const struct fence *f, unsigned *watching, unsigned long long *deaths);

#endif
