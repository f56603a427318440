/* Sentinel links: for every configured Sentinel a command link and a
 * Pub/Sub link (PSUBSCRIBE *). A user without Pub/Sub rights (PSUBSCRIBE
 * refused with NOPERM) is followed by polling: the Pub/Sub link is not
 * reconnected (tried again only when the command link comes up again), the
 * rounds of every resync interval carry on alone, and it is logged once.
 *
 * A round (on connect, every resync tick, after TILT or monitor changes) is
 * INFO (TILT) and one SENTINEL MASTERS: a summary of every group (address,
 * epoch, flags, number of replicas and of other Sentinels). Details
 * (SENTINEL MASTER + GET-MASTER-ADDR-BY-NAME + REPLICAS, pipelined so the
 * Sentinel answers them from one state, and now and then SENTINELS) are
 * asked only for groups whose summary changed, that are in trouble, that
 * have no view yet, and for a slice of the rest so every group is read in
 * full every few rounds; an unchanged summary confirms the view as it is.
 * An event about a group asks its details at once; requests for a group
 * whose details are in flight are merged into one more.
 *
 * Answers change the model only through topo functions; the owner is told
 * which group changed. The decision itself is not made here (topo_decide).
 * Per group and per link bookkeeping lives here, indexed by group id. */
#ifndef HASENTINEL_SENTINEL_H
#define HASENTINEL_SENTINEL_H

#include <stdint.h>

#include <ev.h>

#include "config.h"
#include "event.h"
#include "topo.h"

struct sentinels;

struct sentinel_cbs {
	/* A view or the replica list of g changed (or a Sentinel went away). */
	void (*group_updated)(void *arg, struct group *g);
	/* Every parsed event, after the topology saw it. */
	void (*event)(void *arg, int si, const struct sentinel_event *ev);
};

/* cfg and topo are borrowed and must outlive the set. */
struct sentinels *sentinels_new(struct ev_loop *loop, const struct config *cfg, struct topo *topo,
				const struct sentinel_cbs *cbs, void *arg);
void sentinels_start(struct sentinels *s);
void sentinels_free(struct sentinels *s);

/* Query every Sentinel now (resync): a round on every link (or the one
 * already running). Returns a mark for sentinels_resync_done(). */
uint64_t sentinels_resync(struct sentinels *s);
/* 1 once every link whose command link is up has ended a round it was in
 * at or after the resync that returned gen (links that are down have
 * nothing to answer). */
int sentinels_resync_done(const struct sentinels *s, uint64_t gen);
/* Query one group on every Sentinel now. */
void sentinels_query_group(struct sentinels *s, const char *name);
/* write-lease renewal: one ping (INFO server) to every Sentinel whose
 * command link is up (none while the previous one is in flight); the answer
 * confirms its views (topo_sentinel_heard) while its events flow. One
 * command per Sentinel, whatever the number of groups. */
void sentinels_ping(struct sentinels *s);

struct sentinel_info {
	char addr[ADDR_IP_MAX + 8];
	const char *cmd_state;     /* rlink state name */
	const char *sub_state;
	int subscribed;
	int polling;               /* PSUBSCRIBE refused (NOPERM): rounds only */
	int tilt;
	int64_t last_ok_wall_ms;   /* last answered query, 0 never */
	const char *last_error;
	uint64_t events;           /* events received */
	uint64_t malformed;        /* messages that did not parse (ignored) */
	uint64_t rounds;
};
int sentinels_count(const struct sentinels *s);
void sentinels_info(const struct sentinels *s, int si, struct sentinel_info *out);
/* Number of Sentinels whose command link is up and that are not in TILT. */
int sentinels_usable(const struct sentinels *s);

#endif
