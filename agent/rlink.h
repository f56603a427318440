/* One hiredis 0.14.1 async connection on libev, with what hiredis lacks:
 * a connect deadline, a command deadline, AUTH on connect, and reconnects
 * with capped exponential backoff and jitter, started only from a timer.
 *
 * hiredis calls only the connect callback when a connect fails, and the
 * disconnect callback once a connected link drops; it frees the context
 * itself afterwards. Both are routed to one "link lost" path that clears our
 * pointer and never frees the context. */
#ifndef HASENTINEL_RLINK_H
#define HASENTINEL_RLINK_H

#include <stdint.h>

#include <ev.h>
#include <hiredis/hiredis.h>
#include <hiredis/async.h>

#include "rreply.h"
#include "util.h"

enum rlink_state {
	RLINK_IDLE = 0,     /* not connected; a reconnect may be scheduled */
	RLINK_CONNECTING,
	RLINK_UP,
	RLINK_CLOSED,       /* stopped for good (one-shot link done, or freeing) */
};

struct rlink;

struct rlink_opts {
	int connect_timeout_ms;
	int command_timeout_ms;   /* 0: no command deadline (Pub/Sub links) */
	int backoff_min_ms;
	int backoff_max_ms;
	int reconnect;            /* 0: one-shot, the link closes for good when lost */
	const char *user;         /* borrowed; NULL = none */
	const char *password;     /* borrowed; NULL = no AUTH */
	/* Replies built in one arena each (rreply.h), keeping only these
	 * fields in arrays of maps (NULL: all); borrowed. */
	int arena;
	const struct rreply_keys *reply_keys;
	/* A connected link we close ends with a reset (SO_LINGER 0), not the
	 * closing handshake: for the agent's own short node links (ROLE
	 * probes), whose answers are all read when they close; no TIME_WAIT
	 * is left behind for each. */
	int reset_on_close;
};

/* on_up: connected and AUTH (if any) sent; commands may be issued.
 * on_down: the link was lost (or never came up); why is a short reason. */
typedef void (*rlink_up_fn)(struct rlink *rl, void *arg);
typedef void (*rlink_down_fn)(struct rlink *rl, void *arg, const char *why);

/* name (copied) prefixes every log line: "sentinel 127.0.0.1:26379 cmd". */
struct rlink *rlink_new(struct ev_loop *loop, const char *name, const char *ip, int port,
			const struct rlink_opts *opts, rlink_up_fn up, rlink_down_fn down, void *arg);
/* Connect now (or after the backoff when called from on_down). */
void rlink_start(struct rlink *rl);
/* Drop the connection; pending callbacks get a NULL reply; a reconnect is
 * scheduled if the link reconnects. Safe to call from a reply callback. */
void rlink_close(struct rlink *rl, const char *why);
/* Cancel a scheduled reconnect of a link that is not connected (call it
 * from on_down): the link stays idle until rlink_start. */
void rlink_stop(struct rlink *rl);
/* Free everything; pending callbacks get a NULL reply. Not from inside a
 * callback of this link. */
void rlink_free(struct rlink *rl);

/* Send a command; fn gets (ac, reply or NULL, priv). 0, or -1 when the link
 * is not up. The command deadline covers every command in flight. */
int rlink_command(struct rlink *rl, redisCallbackFn *fn, void *priv, const char *fmt, ...)
	__attribute__((warn_unused_result));
/* The same for a command whose callback is called many times (SUBSCRIBE);
 * no deadline applies to it. */
int rlink_subscribe(struct rlink *rl, redisCallbackFn *fn, void *priv, const char *fmt, ...)
	__attribute__((warn_unused_result));

enum rlink_state rlink_state(const struct rlink *rl);
const char *rlink_state_name(enum rlink_state s);
const char *rlink_last_error(const struct rlink *rl);

#endif
