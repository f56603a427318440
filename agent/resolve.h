/* Names Sentinel announces (resolve-hostnames / announce-hostnames), resolved
 * to IP literals without blocking the event loop: c-ares, driven by libev.
 *
 * Why here and not HAProxy's resolvers (`set server fqdn`): the ROLE check
 * must talk to the address HAProxy routes to, a name that fails to resolve
 * must never become a switch to nowhere, and the planner keeps setting IP
 * literals (`set server addr`) in its safety order. So the agent resolves,
 * confirms the address with ROLE, and only then routes to it.
 *
 * A cache: name -> address, state, expiry. A name is resolved on first
 * lookup (from the loop, never inside the caller) and again when its
 * record's TTL expires, clamped to [ttl_min_ms, ttl_max_ms]; a failure
 * (NXDOMAIN, no address, timeout) makes the name RESOLVE_FAILED ("unknown":
 * the caller routes nothing to it) and is retried from ttl_min_ms, doubling
 * up to ttl_max_ms. A name nobody looked up for RESOLVE_IDLE_MS is no longer
 * refreshed (its next lookup resolves it afresh). Every change of state or
 * address is logged once and reported to the owner (changed callback).
 * An IP literal "resolves" to itself, without a cache entry. */
#ifndef HASENTINEL_RESOLVE_H
#define HASENTINEL_RESOLVE_H

#include <stddef.h>
#include <stdint.h>

#include <ev.h>

#include "util.h"

#define RESOLVE_TTL_MIN_MS 1000     /* defaults of the floor and the ceiling */
#define RESOLVE_TTL_MAX_MS 30000
#define RESOLVE_IDLE_MS 600000      /* unused this long: no longer refreshed */
#define RESOLVE_MAX_NAMES 65536

enum resolve_state {
	RESOLVE_PENDING = 0,   /* asked, no answer yet */
	RESOLVE_OK,
	RESOLVE_FAILED,        /* NXDOMAIN, no address or timeout: unknown */
};

/* One name as the status output shows it (a copy). */
struct resolve_info {
	char name[ADDR_IP_MAX];
	char addr[ADDR_IP_MAX];    /* current address; "" unless RESOLVE_OK */
	char last[ADDR_IP_MAX];    /* the last address it had, "" never */
	enum resolve_state state;
	char error[64];            /* the last failure, "" none */
	int64_t ttl_ms;            /* clamped TTL of the last answer (or retry delay) */
	int64_t expires_ms;        /* monotonic: asked again then */
	int64_t changed_wall_ms;   /* when state or address last changed */
	unsigned changes;          /* address changes seen */
};

struct resolver;

/* A name's state or address changed (name borrowed for the call). */
typedef void (*resolve_changed_cb)(void *arg, const char *name);

/* servers: "ip:port[,ip:port...]" to ask only those DNS servers (no hosts
 * file), or NULL / "" for the system's (/etc/resolv.conf, /etc/hosts).
 * NULL with err on failure. */
struct resolver *resolver_new(struct ev_loop *loop, const char *servers, int64_t ttl_min_ms,
			      int64_t ttl_max_ms, resolve_changed_cb changed, void *arg, char *err,
			      size_t errlen) __attribute__((warn_unused_result));
void resolver_free(struct resolver *r);

/* host is an IP literal or a name. RESOLVE_OK with its IP literal in addr;
 * otherwise addr is "" (and a name not known yet is asked for). */
enum resolve_state resolver_lookup(struct resolver *r, const char *host, char *addr, size_t addrlen);

/* The cache entry of a name (no lookup is started): 0, or -1 when unknown. */
int resolver_info(const struct resolver *r, const char *name, struct resolve_info *out);
/* Every entry, in no order: fn(arg, info) for each. */
void resolver_each(const struct resolver *r, void (*fn)(void *arg, const struct resolve_info *ri), void *arg);
size_t resolver_count(const struct resolver *r);

const char *resolve_state_name(enum resolve_state s);

/* Pure parts (unit-tested). */
/* A record's TTL in seconds, clamped to [min_ms, max_ms]. */
int64_t resolve_clamp_ttl(long ttl_s, int64_t min_ms, int64_t max_ms);
/* The retry delay after the n-th consecutive failure (n >= 1). */
int64_t resolve_retry_ms(int failures, int64_t min_ms, int64_t max_ms);

/* Apply an answer for name at monotonic now, as the c-ares callback does
 * (tests feed answers without a DNS server): ok with addr and ttl_s, or a
 * failure with err. Returns 1 when the state or the address changed. */
int resolver_feed(struct resolver *r, const char *name, int ok, const char *addr, long ttl_s,
		  const char *err, int64_t now);

#endif
