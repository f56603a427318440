/* Old HAProxy workers, reached through the master CLI (haproxy -S).
 *
 * After a reload the previous worker lives on until its connections end
 * (or hard-stop-after): it accepts nothing new, but the clients it holds
 * keep the write slot they had. The admin socket reaches only the current
 * worker, so a switch made there leaves those clients on the demoted
 * master. A sweep finds them and cuts them:
 *   1. "show proc" on the master CLI: the old workers' pids;
 *   2. per old worker, "@!PID show servers state" and "@!PID show sess";
 *   3. every stream of a managed write backend whose server is not the
 *      write target the agent made ready in the current worker (any, when
 *      it made none ready) gets "@!PID shutdown session ID".
 * HAProxy 2.6 answers "Proxy is disabled." to "set server" and "shutdown
 * sessions server" in an old worker, so the cut is per stream.
 *
 * A sweep runs when kicked (a write slot was taken out of service, a
 * reload was seen) and every OLDW_RESWEEP_MS while old workers exist. One
 * sweep at a time; a kick during a sweep runs another after it. */
#ifndef HASENTINEL_OLDWORKERS_H
#define HASENTINEL_OLDWORKERS_H

#include <stddef.h>
#include <stdint.h>

#include <ev.h>

#include "config.h"
#include "topo.h"

#define OLDW_RESWEEP_MS 1000
#define OLDW_MAX_WORKERS 16

struct oldworkers;

/* The write target the agent made ready for g in the current worker, as
 * "ip:port" into buf; "" when none (every stream of the write backend is
 * then cut). 0 when unknown: g is skipped. */
typedef int (*oldw_want_fn)(void *arg, const struct group *g, char *buf, size_t len);

/* NULL with err when the address is bad. */
struct oldworkers *oldw_new(struct ev_loop *loop, const struct config *cfg, const struct topo *topo,
			    oldw_want_fn want, void *arg, char *err, size_t errlen);
void oldw_free(struct oldworkers *ow);
void oldw_kick(struct oldworkers *ow);

struct oldw_stats {
	uint64_t sweeps;
	uint64_t sessions_cut;
	int old_workers;            /* seen by the last sweep */
	int64_t last_sweep_wall_ms;
	char last_error[160];       /* "" when the last sweep worked */
};
void oldw_get_stats(const struct oldworkers *ow, struct oldw_stats *out);

#endif
