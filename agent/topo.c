#include "topo.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tk.h"

void
topo_init(struct topo *t, int nsentinels, int64_t view_ttl_ms)
{
	memset(t, 0, sizeof(*t));
	t->nsentinels = nsentinels > TOPO_MAX_SENTINELS ? TOPO_MAX_SENTINELS : nsentinels;
	t->view_ttl_ms = view_ttl_ms;
}

static void
group_free(struct group *g)
{
	free(g->nodes);
	free(g->views);
	free(g->other_sentinels);
	free(g);
}

void
topo_free(struct topo *t)
{
	for (size_t i = 0; i < t->n; i++)
		group_free(t->groups[i]);
	free(t->groups);
	free(t->hash);
	free(t->by_id);
	memset(t, 0, sizeof(*t));
}

/* FNV-1a */
static size_t
name_hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	while (*s)
		h = (h ^ (unsigned char)*s++) * 1099511628211ULL;
	return (size_t)(h ^ (h >> 32));
}

static void
hash_put(struct group **tab, size_t cap, struct group *g)
{
	size_t i = name_hash(g->name) & (cap - 1);

	while (tab[i])
		i = (i + 1) & (cap - 1);
	tab[i] = g;
}

/* Rebuild the table with room for n groups at a load of at most 1/2. */
static int
hash_rebuild(struct topo *t, size_t n)
{
	size_t cap = 16;
	struct group **tab;

	while (cap < 2 * n)
		cap *= 2;
	tab = calloc(cap, sizeof(*tab));
	if (!tab)
		return -1;
	for (size_t i = 0; i < t->n; i++)
		hash_put(tab, cap, t->groups[i]);
	free(t->hash);
	t->hash = tab;
	t->hcap = cap;
	return 0;
}

/* Linear probing deletion: shift the rest of the cluster back. */
static void
hash_del(struct topo *t, const struct group *g)
{
	size_t m = t->hcap - 1, i, j, k;

	for (i = name_hash(g->name) & m; t->hash[i] && t->hash[i] != g; i = (i + 1) & m)
		;
	if (!t->hash[i])
		return;
	for (j = i;;) {
		j = (j + 1) & m;
		if (!t->hash[j])
			break;
		k = name_hash(t->hash[j]->name) & m;
		/* move j to i unless its home k lies cyclically in (i, j] */
		if (i <= j ? (k <= i || k > j) : (k <= i && k > j)) {
			t->hash[i] = t->hash[j];
			i = j;
		}
	}
	t->hash[i] = NULL;
}

struct group *
topo_find(const struct topo *t, const char *name)
{
	size_t i;

	if (!t->hcap)
		return NULL;
	for (i = name_hash(name) & (t->hcap - 1); t->hash[i]; i = (i + 1) & (t->hcap - 1))
		if (strcmp(t->hash[i]->name, name) == 0)
			return t->hash[i];
	return NULL;
}

struct group *
topo_by_id(const struct topo *t, uint32_t id)
{
	return id < t->nids ? t->by_id[id] : NULL;
}

static int
take_id(struct topo *t, struct group *g)
{
	/* ids are dense: a free one exists only after a remove */
	for (uint32_t i = 0; t->nids > t->n && i < t->nids; i++) {
		if (!t->by_id[i]) {
			g->id = i;
			t->by_id[i] = g;
			return 0;
		}
	}
	if (tk_grow(&t->by_id, &t->idcap, (size_t)t->nids + 1, sizeof(*t->by_id)) < 0)
		return -1;
	g->id = t->nids++;
	t->by_id[g->id] = g;
	return 0;
}

struct group *
topo_get(struct topo *t, const char *name)
{
	struct group *g = topo_find(t, name);
	size_t len = strlen(name);

	if (g)
		return g;
	if (len >= TOPO_NAME_MAX || !len)
		return NULL;
	if (tk_grow(&t->groups, &t->cap, t->n + 1, sizeof(*t->groups)) < 0)
		return NULL;
	if (2 * (t->n + 1) > t->hcap && hash_rebuild(t, t->n + 1) < 0)
		return NULL;
	g = calloc(1, sizeof(*g) + len + 1);
	if (!g)
		return NULL;
	/* Views sized by the configured Sentinels, not the most there can be. */
	g->nviews = t->nsentinels > 0 ? t->nsentinels : 1;
	g->views = calloc((size_t)g->nviews, sizeof(*g->views));
	if (!g->views) {
		free(g);
		return NULL;
	}
	memcpy(g->name, name, len + 1);
	if (take_id(t, g) < 0) {
		group_free(g);
		return NULL;
	}
	g->serial = ++t->next_serial;
	t->master_changes++;
	t->groups[t->n++] = g;
	hash_put(t->hash, t->hcap, g);
	return g;
}

void
topo_remove(struct topo *t, const char *name)
{
	for (size_t i = 0; i < t->n; i++) {
		struct group *g = t->groups[i];

		if (strcmp(g->name, name) == 0) {
			t->by_id[g->id] = NULL;
			t->master_changes++;
			hash_del(t, g);
			group_free(g);
			memmove(&t->groups[i], &t->groups[i + 1], (t->n - i - 1) * sizeof(t->groups[0]));
			t->n--;
			return;
		}
	}
}

struct node *
group_find_node(struct group *g, const char *ip, int port)
{
	for (size_t i = 0; i < g->nnodes; i++)
		if (g->nodes[i].port == port && addr_ip_equal(g->nodes[i].ip, ip))
			return &g->nodes[i];
	return NULL;
}

struct node *
group_get_node(struct group *g, const char *ip, int port)
{
	struct node *n = group_find_node(g, ip, port);

	if (n)
		return n;
	if (strlen(ip) >= ADDR_IP_MAX || port <= 0 || port > 65535)
		return NULL;
	if (g->nnodes == g->capnodes) {
		size_t cap = g->capnodes ? g->capnodes * 2 : 2;
		struct node *nn = realloc(g->nodes, cap * sizeof(*nn));

		if (!nn)
			return NULL;
		g->nodes = nn;
		g->capnodes = cap;
	}
	n = &g->nodes[g->nnodes++];
	memset(n, 0, sizeof(*n));
	str_copy(n->ip, ip, sizeof(n->ip));
	if (addr_is_ip(ip))
		str_copy(n->addr, ip, sizeof(n->addr));
	n->port = port;
	n->lag_ms = -1;
	g->generation++;
	return n;
}

void
topo_set_view(struct group *g, int si, const char *ip, int port, uint64_t epoch,
	      unsigned flags, int64_t now)
{
	struct sview *v;

	if (si < 0 || si >= g->nviews)
		return;
	v = &g->views[si];
	if (si < 32)
		g->listed_by |= 1u << si;
	/* Only an IP address or a hostname (resolve-hostnames; resolved by the
	 * agent before it routes) and a port may become a target: anything else
	 * (a hostile or broken Sentinel: ";", a newline...) would otherwise win
	 * on its epoch and then block the group at the plan's check. */
	if (!ip || !addr_is_host(ip) || port <= 0 || port > 65535) {
		v->valid = 0;
		return;
	}
	v->valid = 1;
	str_copy(v->ip, ip, sizeof(v->ip));
	v->port = port;
	v->epoch = epoch;
	v->flags = flags;
	v->at_ms = now;
}

static int view_counts(const struct topo *t, const struct sview *v, int64_t now);

int
topo_view_same(const struct topo *t, const struct group *g, int si, const char *ip, int port,
	       uint64_t epoch, unsigned flags, int64_t now)
{
	const struct sview *v;

	if (si < 0 || si >= g->nviews || !ip)
		return 0;
	v = &g->views[si];
	return view_counts(t, v, now) && v->port == port && v->epoch == epoch && v->flags == flags &&
	       strcmp(v->ip, ip) == 0 && g->lease != LEASE_LOST;
}

void
topo_touch_view(struct group *g, int si, int64_t now)
{
	if (si >= 0 && si < g->nviews && g->views[si].valid)
		g->views[si].at_ms = now;
}

void
topo_drop_view(struct group *g, int si)
{
	if (si >= 0 && si < g->nviews)
		g->views[si].valid = 0;
}

void
topo_set_other_sentinels(struct group *g, const char *const *addrs, int n)
{
	if (n > TOPO_MAX_SENTINELS)
		n = TOPO_MAX_SENTINELS;
	if (n > g->nother || !g->other_sentinels) {
		void *o = realloc(g->other_sentinels, (size_t)(n > 0 ? n : 1) * sizeof(*g->other_sentinels));

		if (!o)
			return;
		g->other_sentinels = o;
	}
	g->nother = 0;
	for (int i = 0; i < n; i++)
		str_copy(g->other_sentinels[g->nother++], addrs[i], sizeof(g->other_sentinels[0]));
}

void
topo_drop_views(struct topo *t, int si)
{
	if (si < 0 || si >= TOPO_MAX_SENTINELS)
		return;
	for (size_t i = 0; i < t->n; i++)
		topo_drop_view(t->groups[i], si);
}

static int
is_master_addr(const struct group *g, const char *ip, int port)
{
	return g->master_ip[0] && g->master_port == port && addr_ip_equal(g->master_ip, ip);
}

/* Any Sentinel's report of trouble counts, except "disconnected": that is a
 * Sentinel's own link to the node (every replica is "disconnected" for a
 * moment after a Sentinel switches and re-creates them), so it counts only
 * when every Sentinel that lists the node says so. */
static unsigned
merge_flags(const struct node *n)
{
	unsigned any = 0, all = ~0u;

	for (int i = 0; i < TOPO_MAX_SENTINELS; i++) {
		if (n->seen_by & (1u << i)) {
			any |= n->sflags[i];
			all &= n->sflags[i];
		}
	}
	if (!n->seen_by)
		return 0;
	return (any & ~NODE_DISCONNECTED) | (all & NODE_DISCONNECTED);
}

void
topo_replica_update(struct group *g, int si, const struct node *r)
{
	struct node *n;
	unsigned bit = 1u << si;
	const char *r_master_ip = r->master_ip;
	int r_master_port = r->master_port;

	if (si < 0 || si >= TOPO_MAX_SENTINELS)
		return;
	n = group_get_node(g, r->ip, r->port);
	if (!n)
		return;
	unsigned merged;

	n->seen_by |= bit;
	n->sflags[si] = r->flags;
	merged = merge_flags(n);
	/* A Sentinel that just re-created the replica does not know its master
	 * yet ("?", 0): keep what another one said. */
	if (r->master_port <= 0 || !addr_is_host(r->master_ip)) {
		r_master_ip = n->master_ip;
		r_master_port = n->master_port;
	}
	if (n->flags != merged || n->master_port != r_master_port ||
	    !addr_ip_equal(n->master_ip, r_master_ip))
		g->generation++;
	/* Sentinel newly sees the node claim master: our last ROLE answer no
	 * longer counts until asked again. */
	if ((merged & ~n->flags) & NODE_ROLE_MASTER)
		n->role_link_up = 0;
	/* Seen lost (R2): Sentinel's "link ok" and our last ROLE answer may be
	 * about the process before a restart. */
	if (merged & (NODE_S_DOWN | NODE_O_DOWN | NODE_DISCONNECTED)) {
		if (!n->link_suspect || n->role_link_up || n->serving != SERVE_UNKNOWN)
			g->generation++;
		n->link_suspect = 1;
		n->role_link_up = 0;
		n->serving = SERVE_UNKNOWN;
	}
	n->flags = merged;
	if (r_master_ip != n->master_ip) {
		str_copy(n->master_ip, r_master_ip, sizeof(n->master_ip));
		n->master_port = r_master_port;
	}
	n->priority = r->priority;
	n->repl_offset = r->repl_offset;
	n->lag_ms = r->lag_ms;
	n->listed_round = 1;
}

void
topo_replicas_end(struct group *g, int si)
{
	unsigned bit = 1u << si;
	size_t i = 0;

	g->replicas_known = 1;
	while (i < g->nnodes) {
		struct node *n = &g->nodes[i];

		if (n->listed_round) {
			n->listed_round = 0;
			i++;
			continue;
		}
		if (n->seen_by & bit) {
			n->seen_by &= ~bit;
			n->sflags[si] = 0;
			n->flags = merge_flags(n);
			g->generation++;
		}
		if (!n->seen_by && !is_master_addr(g, n->ip, n->port)) {
			memmove(n, n + 1, (g->nnodes - i - 1) * sizeof(*n));
			g->nnodes--;
			g->generation++;
			continue;
		}
		i++;
	}
}

static int
view_counts(const struct topo *t, const struct sview *v, int64_t now)
{
	return v->valid && now - v->at_ms <= t->view_ttl_ms;
}

int
topo_group_frozen(const struct topo *t, const struct group *g, int64_t now)
{
	for (int i = 0; i < t->nsentinels; i++)
		if (view_counts(t, &g->views[i], now))
			return 0;
	return 1;
}

enum topo_decision
topo_decide(struct topo *t, struct group *g, int64_t now, int64_t wall_now)
{
	const struct sview *best = NULL;
	int counted = 0, disagree = 0;

	for (int i = 0; i < t->nsentinels; i++) {
		const struct sview *v = &g->views[i];

		if (!view_counts(t, v, now))
			continue;
		counted++;
		if (!best || v->epoch > best->epoch) {
			best = v;
			disagree = 0;
		} else if (v->epoch == best->epoch &&
			   (v->port != best->port || !addr_ip_equal(v->ip, best->ip))) {
			disagree = 1;
		}
	}
	if (!counted)
		return TOPO_NO_VIEWS;
	if (g->disagree != disagree) {
		g->disagree = disagree;
		g->generation++;
	}
	if (disagree)
		return TOPO_DISAGREE;
	if (g->master_flags != best->flags) {
		g->master_flags = best->flags;
		g->generation++;
	}
	if (is_master_addr(g, best->ip, best->port)) {
		if (best->epoch > g->epoch)
			g->epoch = best->epoch;
		return TOPO_NOCHANGE;
	}
	if (g->master_ip[0] && best->epoch < g->epoch)
		return TOPO_STALE;
	if (g->master_ip[0] && best->epoch == g->epoch) {
		/* Same epoch, another address: only when no counted Sentinel
		 * still reports ours (rule 2 already checked agreement). */
		for (int i = 0; i < t->nsentinels; i++) {
			const struct sview *v = &g->views[i];

			if (view_counts(t, v, now) && is_master_addr(g, v->ip, v->port))
				return TOPO_DISAGREE;
		}
	}

	if (g->master_ip[0]) {
		addr_format(g->last_switch.from, sizeof(g->last_switch.from), g->master_ip, g->master_port);
		g->nswitches++;
	} else {
		g->last_switch.from[0] = '\0';
	}
	addr_format(g->last_switch.to, sizeof(g->last_switch.to), best->ip, best->port);
	g->last_switch.epoch = best->epoch;
	g->last_switch.at_wall_ms = wall_now;
	str_copy(g->master_ip, best->ip, sizeof(g->master_ip));
	/* A name: its address comes from topo_master_resolved(). */
	str_copy(g->master_addr, addr_is_ip(best->ip) ? best->ip : "", sizeof(g->master_addr));
	g->master_port = best->port;
	g->epoch = best->epoch;
	g->confirmed = 0;
	t->master_changes++;
	/* ROLE answers were about the old configuration. */
	for (size_t i = 0; i < g->nnodes; i++) {
		g->nodes[i].role = ROLE_UNKNOWN;
		g->nodes[i].role_link_up = 0;
	}
	g->generation++;
	return TOPO_NEW_MASTER;
}

int
topo_master_resolved(struct group *g, const char *addr)
{
	if (!g->master_ip[0] || addr_is_ip(g->master_ip))
		return 0;
	if (!addr || !addr[0]) {
		/* Unknown: never a switch. A confirmed master keeps the address
		 * ROLE confirmed (HAProxy routes there already); any other has
		 * none. */
		if (g->confirmed == 1 || !g->master_addr[0])
			return 0;
		g->master_addr[0] = '\0';
		g->generation++;
		return 1;
	}
	if (addr_ip_equal(addr, g->master_addr))
		return 0;
	str_copy(g->master_addr, addr, sizeof(g->master_addr));
	/* What ROLE said was about another address. */
	g->confirmed = 0;
	g->generation++;
	return 1;
}

int
topo_node_resolved(struct group *g, struct node *n, const char *addr)
{
	if (addr_is_ip(n->ip) || addr_ip_equal(n->addr, addr ? addr : ""))
		return 0;
	str_copy(n->addr, addr ? addr : "", sizeof(n->addr));
	n->role = ROLE_UNKNOWN;
	n->role_at_ms = 0;
	n->role_link_up = 0;
	n->serving = SERVE_UNKNOWN;
	g->generation++;
	return 1;
}

int
topo_role_result(struct group *g, const char *ip, int port, enum role_seen role, int64_t now)
{
	struct node *n = group_find_node(g, ip, port);
	int changed = 0;

	if (n) {
		if (n->role != role)
			changed = 1;
		n->role = role;
		n->role_at_ms = now;
	}
	if (is_master_addr(g, ip, port)) {
		int c = role == ROLE_MASTER ? 1 : -1;

		if (c != g->confirmed)
			changed = 1;
		g->confirmed = c;
	}
	if (changed)
		g->generation++;
	return changed;
}

int
topo_replica_probe(struct group *g, const char *ip, int port, enum role_seen role,
		   const char *master_ip, int master_port, int link_up, int serving, int64_t now)
{
	struct node *n = group_find_node(g, ip, port);
	int changed, suspect;

	if (!n)
		return 0;
	if (!master_ip || strlen(master_ip) >= sizeof(n->role_master_ip))
		master_ip = "";
	if (serving != SERVE_YES && serving != SERVE_NO)
		serving = SERVE_UNKNOWN;
	link_up = role == ROLE_SLAVE && link_up;
	/* R2: only our own answer ends it, and only a linked replica of the
	 * current master that serves. */
	suspect = n->link_suspect && !(link_up && serving != SERVE_NO && g->master_ip[0] &&
				       master_port == g->master_port && addr_ip_equal(master_ip, g->master_ip));
	changed = n->role != role || n->role_link_up != link_up || n->role_master_port != master_port ||
		  !addr_ip_equal(n->role_master_ip, master_ip) || n->serving != serving ||
		  n->link_suspect != suspect;
	n->role = role;
	n->role_at_ms = now;
	n->role_link_up = link_up;
	n->serving = serving;
	n->link_suspect = suspect;
	str_copy(n->role_master_ip, master_ip, sizeof(n->role_master_ip));
	n->role_master_port = master_port;
	if (changed)
		g->generation++;
	return changed;
}

int
topo_replica_role(struct group *g, const char *ip, int port, enum role_seen role,
		  const char *master_ip, int master_port, int link_up, int64_t now)
{
	return topo_replica_probe(g, ip, port, role, master_ip, master_port, link_up, SERVE_UNKNOWN, now);
}

int
topo_replica_lost(struct group *g, const char *ip, int port)
{
	struct node *n = group_find_node(g, ip, port);

	if (!n)
		return 0;
	n->role_at_ms = 0;
	if (n->link_suspect)
		return 0;
	n->link_suspect = 1;
	g->generation++;
	return 1;
}

int
topo_node_read_ready(const struct group *g, const struct node *n, int64_t now_wall_ms)
{
	if (is_master_addr(g, n->ip, n->port))
		return 0;   /* the master serves reads only with master-reads (caller decides) */
	if (!n->seen_by)
		return 0;
	int grace = g->last_switch.from[0] && now_wall_ms - g->last_switch.at_wall_ms < TOPO_SWITCH_GRACE_MS;

	if (n->flags & (NODE_S_DOWN | NODE_O_DOWN))
		return 0;
	/* R1: -LOADING or -MASTERDOWN to our PING: it serves nothing, not even
	 * stale reads while its master is down. */
	if (n->serving == SERVE_NO)
		return 0;
	/* Fenced by our own ROLE check: a node that says master is no replica. */
	if (n->role == ROLE_MASTER || !g->master_ip[0])
		return 0;
	/* Our own ROLE answer is fresher than Sentinel's view of the link and
	 * the role (Sentinel asks replicas every 10 s). */
	if (n->role == ROLE_SLAVE && n->role_link_up && n->role_master_port == g->master_port &&
	    addr_ip_equal(n->role_master_ip, g->master_ip))
		return 1;
	/* "disconnected" is a Sentinel's own link to the node. Every Sentinel
	 * that has just switched re-creates its replicas as disconnected, so
	 * right after a switch it says nothing about the replica (HAProxy's
	 * health check on the read backend still catches a dead one). */
	if ((n->flags & NODE_DISCONNECTED) && !grace)
		return 0;
	if (n->flags & NODE_ROLE_MASTER)
		return 0;
	if (n->master_port == g->master_port && addr_ip_equal(n->master_ip, g->master_ip)) {
		/* R2: not once it was seen lost (then only our ROLE, above). */
		if (!(n->flags & NODE_LINK_DOWN))
			return !n->link_suspect;
		/* Link down because the master is: serve stale reads meanwhile. */
		if (g->master_flags & (NODE_S_DOWN | NODE_O_DOWN | NODE_FAILOVER))
			return 1;
		/* Resyncing with the master that just took over. */
		return grace;
	}
	/* Still following the master just replaced (down, or it would not
	 * have been replaced): serve until Sentinel reconfigures it. */
	if (g->last_switch.from[0]) {
		char a[ADDR_IP_MAX + 8];

		addr_format(a, sizeof(a), n->master_ip, n->master_port);
		return strcmp(a, g->last_switch.from) == 0 && addr_is_host(n->master_ip);
	}
	return 0;
}

int
topo_any_replica_read_ready(const struct group *g, int64_t now_wall_ms)
{
	for (size_t i = 0; i < g->nnodes; i++) {
		const struct node *n = &g->nodes[i];

		if (n->addr[0] && topo_node_read_ready(g, n, now_wall_ms))
			return 1;
	}
	return 0;
}

int
topo_master_read_target(const struct group *g, int mode, int64_t now_wall_ms)
{
	int ready = g->confirmed == 1 && !topo_master_fenced(g);

	switch (mode) {
	case 1:   /* yes */
		return ready;
	case 2:   /* fallback: the master stands in while no replica can */
		return ready && !topo_any_replica_read_ready(g, now_wall_ms);
	default:
		return -1;
	}
}

/* ---------------------------------------------------------------- early fence */

int
topo_fence_link(struct group *g, const char *ip, int port, int dead)
{
	char a[ADDR_IP_MAX + 8];

	addr_format(a, sizeof(a), ip, port);
	if (dead) {
		if (strcmp(g->fence_dead, a) == 0)
			return 0;
		str_copy(g->fence_dead, a, sizeof(g->fence_dead));
	} else {
		if (strcmp(g->fence_dead, a) != 0)
			return 0;
		g->fence_dead[0] = '\0';
	}
	g->generation++;
	return 1;
}

/* F1b: a counted Sentinel that names the decided master reports it o_down.
 * Not the failover leader (failover_in_progress): once it has promoted a
 * replica it names that one, with the flags of the old master it replaces. */
static int
master_odown(const struct topo *t, const struct group *g, int64_t now)
{
	for (int i = 0; i < t->nsentinels; i++) {
		const struct sview *v = &g->views[i];

		if (view_counts(t, v, now) && is_master_addr(g, v->ip, v->port) &&
		    (v->flags & (NODE_O_DOWN | NODE_FAILOVER)) == NODE_O_DOWN)
			return 1;
	}
	return 0;
}

int
topo_fence_eval(const struct topo *t, struct group *g, unsigned signals, int64_t now, int64_t wall_now)
{
	enum topo_fence want = FENCE_NONE, cur = (enum topo_fence)g->fence;
	char a[ADDR_IP_MAX + 8] = "";

	if (g->master_ip[0]) {
		addr_format(a, sizeof(a), g->master_ip, g->master_port);
		/* What was seen of another node is no longer about the master. */
		if (g->fence_dead[0] && strcmp(g->fence_dead, a) != 0)
			g->fence_dead[0] = '\0';
		/* A fence of a master since replaced ends: rule 4 applies. */
		if (cur != FENCE_NONE && strcmp(g->fence_addr, a) != 0)
			cur = FENCE_NONE;
		if ((signals & TOPO_FENCE_ON_RESET) && g->fence_dead[0])
			want = FENCE_DEAD;
		else if ((signals & TOPO_FENCE_ON_ODOWN) && master_odown(t, g, now))
			want = FENCE_ODOWN;
		else if (cur != FENCE_NONE && cur != FENCE_LEASE && (g->master_flags & NODE_FAILOVER))
			want = cur;     /* a failover under way: it decides */
		else if (cur == FENCE_DEAD || cur == FENCE_ODOWN)
			want = FENCE_RECHECK;
		else if (cur == FENCE_RECHECK)
			want = g->confirmed == 1 ? FENCE_NONE : FENCE_RECHECK;
		/* F3: one more reason to keep the master out; ends at once. */
		if (want == FENCE_NONE && (signals & TOPO_FENCE_ON_LEASE) && g->lease == LEASE_LOST)
			want = FENCE_LEASE;
	} else {
		g->fence_dead[0] = '\0';
	}
	if (want == (enum topo_fence)g->fence && (want == FENCE_NONE || cur != FENCE_NONE))
		return 0;
	if (want == FENCE_RECHECK && cur != FENCE_RECHECK)
		g->confirmed = 0;   /* ask the node afresh */
	if (want != FENCE_NONE && cur == FENCE_NONE) {
		str_copy(g->fence_addr, a, sizeof(g->fence_addr));
		g->fence_since_ms = wall_now;
	}
	if (want == FENCE_NONE)
		g->fence_addr[0] = '\0';
	g->fence = want;
	g->generation++;
	return 1;
}

int
topo_master_fenced(const struct group *g)
{
	return g->fence != FENCE_NONE;
}

const char *
topo_fence_name(int fence)
{
	switch ((enum topo_fence)fence) {
	case FENCE_NONE:
		return "none";
	case FENCE_DEAD:
		return "dead";
	case FENCE_ODOWN:
		return "odown";
	case FENCE_RECHECK:
		return "recheck";
	case FENCE_LEASE:
		return "lease";
	}
	return "?";
}

const char *
role_seen_name(enum role_seen r)
{
	switch (r) {
	case ROLE_MASTER:
		return "master";
	case ROLE_SLAVE:
		return "slave";
	case ROLE_UNKNOWN:
		break;
	}
	return "unknown";
}

static const struct {
	unsigned bit;
	const char *name;
} flag_names[] = {
	{ NODE_S_DOWN, "s_down" },
	{ NODE_O_DOWN, "o_down" },
	{ NODE_DISCONNECTED, "disconnected" },
	{ NODE_LINK_DOWN, "master_link_down" },
	{ NODE_ROLE_MASTER, "role_master" },
	{ NODE_PROMOTED, "promoted" },
	{ NODE_FAILOVER, "failover_in_progress" },
};

void
node_flags_format(unsigned flags, char *buf, size_t len)
{
	size_t off = 0;

	if (len)
		buf[0] = '\0';
	for (size_t i = 0; i < sizeof(flag_names) / sizeof(flag_names[0]); i++) {
		if (!(flags & flag_names[i].bit))
			continue;
		int w = snprintf(buf + off, len > off ? len - off : 0, "%s%s", off ? "," : "", flag_names[i].name);
		if (w < 0 || (size_t)w >= len - off)
			return;
		off += (size_t)w;
	}
}

unsigned
node_flags_parse(const char *s)
{
	unsigned f = 0;
	char tok[64];

	while (s && *s) {
		const char *e = strchr(s, ',');
		size_t l = e ? (size_t)(e - s) : strlen(s);

		if (l < sizeof(tok)) {
			memcpy(tok, s, l);
			tok[l] = '\0';
			if (!strcmp(tok, "s_down"))
				f |= NODE_S_DOWN;
			else if (!strcmp(tok, "o_down"))
				f |= NODE_O_DOWN;
			else if (!strcmp(tok, "disconnected"))
				f |= NODE_DISCONNECTED;
			else if (!strcmp(tok, "promoted"))
				f |= NODE_PROMOTED;
			else if (!strcmp(tok, "failover_in_progress"))
				f |= NODE_FAILOVER;
		}
		s = e ? e + 1 : NULL;
	}
	return f;
}

/* ---------------------------------------------------------------- majority lease */

int
topo_lease_held(const struct topo *t, const struct group *g, int nknown, int64_t now, int64_t lease_ms,
		int *votes)
{
	int n = 0;

	if (votes)
		*votes = 0;
	if (!g->master_ip[0] || g->master_port <= 0 || nknown <= 0 || lease_ms <= 0)
		return 0;
	for (int i = 0; i < g->nviews && i < t->nsentinels; i++) {
		const struct sview *v = &g->views[i];
		int64_t at = v->at_ms;

		if (!view_counts(t, v, now) || v->epoch < g->epoch)
			continue;
		if (t->heard_ms[i] > at)
			at = t->heard_ms[i];
		if (now - at > lease_ms || now < at)
			continue;
		if (v->port == g->master_port && addr_ip_equal(v->ip, g->master_ip))
			n++;
	}
	if (votes)
		*votes = n;
	return 2 * n > nknown;
}

void
topo_sentinel_heard(struct topo *t, int si, int64_t now)
{
	if (si >= 0 && si < t->nsentinels && si < TOPO_MAX_SENTINELS)
		t->heard_ms[si] = now;
}

void
topo_set_summary(struct group *g, int si, int64_t down_after_ms, int nother)
{
	if (si < 0 || si >= g->nviews || si >= 32)
		return;
	g->views[si].down_after_ms = down_after_ms > 0 ? down_after_ms : 0;
	g->views[si].nother = nother;
	g->listed_by |= 1u << si;
}

static int
conf_listed(const struct group *g, int i)
{
	return i < 32 && (g->listed_by & (1u << i));
}

int
topo_sentinels_known(const struct group *g, const char *const *conf, int nconf)
{
	int n = 0, least = 0;

	for (int j = 0; j < nconf; j++)
		n += conf_listed(g, j);
	for (int i = 0; i < g->nother; i++) {
		int dup = 0;

		for (int j = 0; j < nconf && !dup; j++)
			dup = conf_listed(g, j) && strcmp(g->other_sentinels[i], conf[j]) == 0;
		/* SENTINEL SENTINELS of one Sentinel never names it twice,
		 * but two discovered entries may repeat across answers. */
		for (int j = 0; j < i && !dup; j++)
			dup = strcmp(g->other_sentinels[i], g->other_sentinels[j]) == 0;
		n += !dup;
	}
	for (int i = 0; i < g->nviews && i < nconf; i++)
		if (conf_listed(g, i) && g->views[i].nother + 1 > least)
			least = g->views[i].nother + 1;
	return n > least ? n : least;
}

int64_t
topo_lease_ms(const struct topo *t, const struct group *g, int64_t fixed_ms, int64_t now)
{
	int64_t da = 0;

	if (fixed_ms > 0)
		return fixed_ms;
	for (int i = 0; i < g->nviews && i < t->nsentinels; i++) {
		const struct sview *v = &g->views[i];

		if (view_counts(t, v, now) && v->down_after_ms > 0 && (da == 0 || v->down_after_ms < da))
			da = v->down_after_ms;
	}
	return da / 2;
}

int
topo_lease_eval(const struct topo *t, struct group *g, int on, int nknown, int64_t fixed_ms, int64_t now)
{
	int was = g->lease;

	if (!on) {
		g->lease = LEASE_OFF;
		g->lease_votes = 0;
		g->lease_known = 0;
		g->lease_ms = 0;
	} else {
		g->lease_known = nknown;
		g->lease_ms = topo_lease_ms(t, g, fixed_ms, now);
		g->lease = topo_lease_held(t, g, nknown, now, g->lease_ms, &g->lease_votes) ? LEASE_HELD
											      : LEASE_LOST;
	}
	return g->lease != was;
}

const char *
topo_lease_name(int lease)
{
	switch ((enum topo_lease)lease) {
	case LEASE_OFF:
		return "off";
	case LEASE_HELD:
		return "held";
	case LEASE_LOST:
		return "lost";
	}
	return "?";
}
