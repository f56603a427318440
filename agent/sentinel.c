#include "sentinel.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "rlink.h"
#include "tk.h"

#define SENTINELS_EVERY 10   /* SENTINEL SENTINELS for a group every Nth round at most */
/* Every round asks details (MASTER, GET-MASTER-ADDR-BY-NAME, REPLICAS) of
 * the groups whose summary changed, of the groups in trouble, and of a
 * slice of the others, so that every group's details are read again at
 * least every DETAIL_EVERY rounds (Sentinel itself refreshes what it knows
 * of replicas only every 10 s; an event about a group asks at once, so the
 * slice only makes up for lost events), and of at least DETAIL_MIN groups. */
#define DETAIL_EVERY 60
#define DETAIL_MIN 8

/* What this link knows of one group: the summary (one SENTINEL MASTERS
 * entry) last seen, and the queries in flight. Indexed by group id. */
struct lgroup {
	uint64_t serial;          /* the group's serial; another one: stale entry */
	uint64_t listed_round;    /* last round whose SENTINEL MASTERS listed it */
	uint64_t detail_round;    /* last round that asked its details */
	uint64_t sentinels_round; /* last round that asked SENTINEL SENTINELS */
	int have_sum;
	uint32_t sum_addr;        /* hash of the summary's "ip port" */
	uint64_t sum_epoch;
	unsigned sum_flags;
	int sum_nslaves, sum_nother;
	/* From SENTINEL MASTER, completed by the GET-MASTER-ADDR-BY-NAME
	 * answer pipelined right behind it (one atomic read on the Sentinel). */
	uint64_t pend_epoch;
	unsigned pend_flags;
	int pend_set;
	int pending;              /* detail pipelines in flight */
	int again;                /* asked again meanwhile: one more when they end */
};

struct sentinel_link {
	struct sentinels *set;
	int index;
	char ip[ADDR_IP_MAX];
	int port;
	char addr[ADDR_IP_MAX + 8];
	struct rlink *cmd;
	struct rlink *sub;
	int subscribed;
	int polling;              /* PSUBSCRIBE refused (NOPERM): rounds only */
	int polling_logged;       /* the warning is said once */
	int sub_retry;            /* polling and the command link was lost: try Pub/Sub again */
	int tilt;
	int use_slaves;           /* the Sentinel does not know REPLICAS */
	int64_t last_ok_wall;
	uint64_t rounds;
	uint64_t events;
	uint64_t malformed;
	int64_t malformed_window;     /* start of the current minute of warnings */
	int malformed_logged;
	uint64_t malformed_quiet;     /* not logged in the current minute */
	int round_pending;        /* replies outstanding in the current round */
	uint64_t gen_started;     /* the last resync mark a round was running for */
	uint64_t gen_done;        /* the last such mark whose round has ended */
	struct lgroup *lg;        /* by group id */
	size_t nlg;
	size_t detail_cursor;     /* where the next slice of detail refreshes starts */
	/* write-lease renewal (sentinels_ping) */
	int ping_pending;         /* a renewal INFO server in flight */
	int64_t ping_sent_ms;     /* monotonic time it was sent */
};

struct sentinels {
	struct ev_loop *loop;
	const struct config *cfg;
	struct topo *topo;
	struct sentinel_cbs cbs;
	void *arg;
	struct sentinel_link *links;
	int n;
	ev_timer tick;
	struct rreply_keys keys;  /* the fields read from arrays of maps */
	uint64_t resync_gen;      /* sentinels_resync() calls so far */
};

/* Every field the parsers below read from an entry of SENTINEL MASTERS,
 * REPLICAS (SLAVES) or SENTINELS: the command link keeps only these
 * (rreply.h; a real Sentinel sends about 40 strings a group, most unused).
 * A field missing here reads as absent: a parser that reads one more
 * names it here. */
static const char *const entry_fields[] = {
	"name", "ip", "port", "flags", "config-epoch", "num-slaves", "num-other-sentinels",
	"down-after-milliseconds", "master-link-status", "role-reported", "master-host",
	"master-port", "slave-priority", "replica-priority", "slave-repl-offset",
	"master-link-down-time", NULL,
};

enum query_kind {
	Q_INFO,
	Q_MASTERS,
	Q_MASTER,
	Q_ADDR,
	Q_REPLICAS,
	Q_SENTINELS,
};

/* One per query; freed by its reply callback (always called, NULL on teardown). */
struct query {
	struct sentinel_link *sl;
	enum query_kind kind;
	int in_round;
	int last;                 /* the last query of a detail pipeline */
	uint32_t gid;             /* its group, when last */
	uint64_t gserial;
	char name[TOPO_NAME_MAX];
};

static void query_reply(redisAsyncContext *ac, void *reply, void *privdata);

/* ---------------------------------------------------------------- helpers */

static const redisReply *
kv_get(const redisReply *arr, const char *key)
{
	if (!arr || arr->type != REDIS_REPLY_ARRAY)
		return NULL;
	for (size_t i = 0; i + 1 < arr->elements; i += 2) {
		const redisReply *k = arr->element[i];

		if (k->type == REDIS_REPLY_STRING && strcmp(k->str, key) == 0)
			return arr->element[i + 1];
	}
	return NULL;
}

static const char *
kv_str(const redisReply *arr, const char *key)
{
	const redisReply *v = kv_get(arr, key);

	return v && v->type == REDIS_REPLY_STRING ? v->str : NULL;
}

static long long
kv_ll(const redisReply *arr, const char *key, long long dflt)
{
	const char *s = kv_str(arr, key);
	char *end;
	long long v;

	if (!s)
		return dflt;
	v = strtoll(s, &end, 10);
	return *end ? dflt : v;
}

/* This link's bookkeeping for g (reset when the id was reused); NULL when
 * out of memory. */
static struct lgroup *
lgroup_get(struct sentinel_link *sl, const struct group *g)
{
	struct lgroup *lg;

	if (g->id >= sl->nlg) {
		size_t old = sl->nlg;

		if (tk_grow(&sl->lg, &sl->nlg, (size_t)g->id + 1, sizeof(*sl->lg)) < 0)
			return NULL;
		memset(sl->lg + old, 0, (sl->nlg - old) * sizeof(*sl->lg));
	}
	lg = &sl->lg[g->id];
	if (lg->serial != g->serial) {
		memset(lg, 0, sizeof(*lg));
		lg->serial = g->serial;
	}
	return lg;
}

static struct lgroup *
lgroup_of(struct sentinel_link *sl, uint32_t id, uint64_t serial)
{
	return id < sl->nlg && sl->lg[id].serial == serial ? &sl->lg[id] : NULL;
}

static uint32_t
addr_hash(const char *ip, long long port)
{
	uint32_t h = 2166136261u;

	while (ip && *ip)
		h = (h ^ (unsigned char)*ip++) * 16777619u;
	return (h ^ (uint32_t)port) * 16777619u;
}

static int
managed(const struct sentinels *s, const char *name)
{
	char w[CONF_NAME_MAX], r[CONF_NAME_MAX];

	return config_backends(s->cfg, name, w, sizeof(w), r, sizeof(r));
}

static int
send_query_g(struct sentinel_link *sl, enum query_kind kind, const char *name, int in_round,
	     const struct group *last_of)
{
	struct query *q = calloc(1, sizeof(*q));
	int rc = -1;

	if (!q)
		return -1;
	q->sl = sl;
	q->kind = kind;
	q->in_round = in_round;
	if (last_of) {
		q->last = 1;
		q->gid = last_of->id;
		q->gserial = last_of->serial;
	}
	if (name)
		str_copy(q->name, name, sizeof(q->name));
	switch (kind) {
	case Q_INFO:
		rc = rlink_command(sl->cmd, query_reply, q, "INFO sentinel");
		break;
	case Q_MASTERS:
		rc = rlink_command(sl->cmd, query_reply, q, "SENTINEL MASTERS");
		break;
	case Q_MASTER:
		rc = rlink_command(sl->cmd, query_reply, q, "SENTINEL MASTER %s", name);
		break;
	case Q_ADDR:
		rc = rlink_command(sl->cmd, query_reply, q, "SENTINEL GET-MASTER-ADDR-BY-NAME %s", name);
		break;
	case Q_REPLICAS:
		rc = rlink_command(sl->cmd, query_reply, q, sl->use_slaves ? "SENTINEL SLAVES %s" :
				   "SENTINEL REPLICAS %s", name);
		break;
	case Q_SENTINELS:
		rc = rlink_command(sl->cmd, query_reply, q, "SENTINEL SENTINELS %s", name);
		break;
	}
	if (rc < 0) {
		free(q);
		return -1;
	}
	if (in_round)
		sl->round_pending++;
	return 0;
}

static int
send_query(struct sentinel_link *sl, enum query_kind kind, const char *name, int in_round)
{
	return send_query_g(sl, kind, name, in_round, NULL);
}

/* Ask g's details, pipelined so that the Sentinel answers them from one
 * state: MASTER (epoch, flags), GET-MASTER-ADDR-BY-NAME (the address the
 * failover leader already names), REPLICAS, and now and then SENTINELS.
 * While a pipeline for g is in flight, a request only marks it to be asked
 * once more when it ends. */
static void
query_group(struct sentinel_link *sl, struct group *g, int in_round, int with_sentinels)
{
	struct lgroup *lg = lgroup_get(sl, g);

	if (!lg)
		return;
	if (lg->pending > 0) {
		lg->again = 1;
		return;
	}
	lg->detail_round = sl->rounds;
	if (send_query(sl, Q_MASTER, g->name, in_round) < 0)
		return;
	(void)send_query(sl, Q_ADDR, g->name, in_round);
	if (with_sentinels) {
		lg->sentinels_round = sl->rounds;
		(void)send_query(sl, Q_REPLICAS, g->name, in_round);
		if (send_query_g(sl, Q_SENTINELS, g->name, in_round, g) == 0)
			lg->pending++;
	} else if (send_query_g(sl, Q_REPLICAS, g->name, in_round, g) == 0) {
		lg->pending++;
	}
}

/* Details of a group by name. A group not known yet is created by the
 * MASTER answer, if this Sentinel monitors it. */
static void
query_name(struct sentinel_link *sl, const char *name)
{
	struct group *g = topo_find(sl->set->topo, name);

	if (g) {
		query_group(sl, g, 0, 0);
		return;
	}
	if (send_query(sl, Q_MASTER, name, 0) < 0)
		return;
	(void)send_query(sl, Q_ADDR, name, 0);
	(void)send_query(sl, Q_REPLICAS, name, 0);
}

/* A round: INFO (TILT) and one SENTINEL MASTERS; the rest follows from its
 * answer (on_masters). */
static void
start_round(struct sentinel_link *sl)
{
	if (rlink_state(sl->cmd) != RLINK_UP)
		return;
	if (sl->round_pending > 0) {
		log_debug("sentinel %s: previous round still running, skipping a tick", sl->addr);
		return;
	}
	sl->rounds++;
	(void)send_query(sl, Q_INFO, NULL, 1);
	(void)send_query(sl, Q_MASTERS, NULL, 1);
}

/* ---------------------------------------------------------------- replies */

/* The fields of one SENTINEL MASTERS / MASTER entry the agent uses, in one
 * pass over the entry. */
struct msum {
	const char *name;
	const char *ip;
	long long port;
	const char *flags;
	uint64_t epoch;
	int nslaves, nother;
	long long down_after;     /* down-after-milliseconds, 0 absent */
};

static long long
str_ll(const redisReply *v, long long dflt)
{
	char *end;
	long long x;

	if (v->type != REDIS_REPLY_STRING)
		return dflt;
	x = strtoll(v->str, &end, 10);
	return *end || end == v->str ? dflt : x;
}

static int
msum_parse(const redisReply *m, struct msum *o)
{
	memset(o, 0, sizeof(*o));
	if (!m || m->type != REDIS_REPLY_ARRAY)
		return -1;
	for (size_t i = 0; i + 1 < m->elements; i += 2) {
		const redisReply *k = m->element[i], *v = m->element[i + 1];

		if (k->type != REDIS_REPLY_STRING || k->len < 2)
			continue;
		switch (k->str[0]) {
		case 'n':
			if (strcmp(k->str, "name") == 0 && v->type == REDIS_REPLY_STRING)
				o->name = v->str;
			else if (strcmp(k->str, "num-slaves") == 0)
				o->nslaves = (int)str_ll(v, 0);
			else if (strcmp(k->str, "num-other-sentinels") == 0)
				o->nother = (int)str_ll(v, 0);
			break;
		case 'i':
			if (strcmp(k->str, "ip") == 0 && v->type == REDIS_REPLY_STRING)
				o->ip = v->str;
			break;
		case 'p':
			if (strcmp(k->str, "port") == 0)
				o->port = str_ll(v, 0);
			break;
		case 'f':
			if (strcmp(k->str, "flags") == 0 && v->type == REDIS_REPLY_STRING)
				o->flags = v->str;
			break;
		case 'c':
			if (strcmp(k->str, "config-epoch") == 0)
				o->epoch = (uint64_t)str_ll(v, 0);
			break;
		case 'd':
			if (strcmp(k->str, "down-after-milliseconds") == 0)
				o->down_after = str_ll(v, 0);
			break;
		default:
			break;
		}
	}
	return o->name ? 0 : -1;
}

/* Remember the summary; 1 when it differs from the one seen before. */
static int
lgroup_summary(struct lgroup *lg, const struct msum *m, unsigned flags)
{
	uint32_t a = addr_hash(m->ip, m->port);
	int changed = !lg->have_sum || lg->sum_addr != a || lg->sum_epoch != m->epoch ||
		      lg->sum_flags != flags || lg->sum_nslaves != m->nslaves || lg->sum_nother != m->nother;

	lg->have_sum = 1;
	lg->sum_addr = a;
	lg->sum_epoch = m->epoch;
	lg->sum_flags = flags;
	lg->sum_nslaves = m->nslaves;
	lg->sum_nother = m->nother;
	return changed;
}

/* The group of a SENTINEL MASTERS / MASTER entry, created when it is new
 * and managed; NULL when not managed. */
static struct group *
entry_group(struct sentinel_link *sl, const char *name)
{
	struct sentinels *s = sl->set;
	struct group *g = topo_find(s->topo, name);

	if (g || !managed(s, name))
		return g;
	g = topo_get(s->topo, name);
	if (g)
		log_info("master group %s discovered via sentinel %s", name, sl->addr);
	return g;
}

/* SENTINEL MASTER name: the epoch and flags for the address that follows. */
static void
on_master(struct sentinel_link *sl, const redisReply *r)
{
	struct msum m;
	struct group *g;
	struct lgroup *lg;
	unsigned flags;

	if (msum_parse(r, &m) < 0 || !(g = entry_group(sl, m.name)) || !(lg = lgroup_get(sl, g)))
		return;
	flags = m.flags ? node_flags_parse(m.flags) : 0;
	topo_set_summary(g, sl->index, m.down_after, m.nother);
	(void)lgroup_summary(lg, &m, flags);
	lg->pend_epoch = m.epoch;
	lg->pend_flags = flags;
	lg->pend_set = 1;
}

/* One SENTINEL MASTERS answer: the summary of every group this Sentinel
 * monitors. Details are asked only for groups whose summary changed, that
 * are in trouble (down, failing over), that this link has no view of, and
 * for a slice of the rest; the views of the others are confirmed as they
 * are. A group this Sentinel no longer lists loses its view. */
static void
on_masters(struct sentinel_link *sl, const redisReply *r)
{
	struct sentinels *s = sl->set;
	struct topo *t = s->topo;
	int64_t now = now_mono_ms();
	size_t budget, i;

	for (i = 0; i < r->elements; i++) {
		struct msum m;
		struct group *g;
		struct lgroup *lg;
		unsigned flags;
		int changed;

		if (msum_parse(r->element[i], &m) < 0 || !(g = entry_group(sl, m.name)) ||
		    !(lg = lgroup_get(sl, g)))
			continue;
		flags = m.flags ? node_flags_parse(m.flags) : 0;
		topo_set_summary(g, sl->index, m.down_after, m.nother);
		changed = lgroup_summary(lg, &m, flags);
		lg->listed_round = sl->rounds;
		if (changed || !g->views[sl->index].valid || (flags & (NODE_S_DOWN | NODE_O_DOWN | NODE_FAILOVER))) {
			query_group(sl, g, 1, sl->rounds - lg->sentinels_round >= SENTINELS_EVERY);
		} else {
			/* Confirmed as it is. A view that had stopped counting
			 * (past its lifetime: the group may have frozen) or a
			 * lost write lease makes it news: planned at once, as a
			 * detail answer would be (on_addr). */
			const struct sview *v = &g->views[sl->index];
			int same = topo_view_same(t, g, sl->index, v->ip, v->port, v->epoch, v->flags, now);

			topo_touch_view(g, sl->index, now);
			if (!same)
				s->cbs.group_updated(s->arg, g);
		}
	}
	/* Not listed: this Sentinel no longer monitors it. The slice: the
	 * next groups not asked this round. */
	budget = (t->n + DETAIL_EVERY - 1) / DETAIL_EVERY;
	if (budget < DETAIL_MIN)
		budget = DETAIL_MIN;
	for (i = 0; i < t->n; i++) {
		struct group *g = t->groups[i];
		struct lgroup *lg = lgroup_get(sl, g);

		if (!lg)
			continue;
		if (lg->listed_round != sl->rounds) {
			if (g->views[sl->index].valid) {
				topo_drop_view(g, sl->index);
				s->cbs.group_updated(s->arg, g);
			}
		}
	}
	if (sl->detail_cursor >= t->n)
		sl->detail_cursor = 0;
	for (i = 0; i < t->n && budget > 0; i++) {
		struct group *g = t->groups[(sl->detail_cursor + i) % t->n];
		struct lgroup *lg = lgroup_get(sl, g);

		if (!lg || lg->listed_round != sl->rounds || lg->detail_round == sl->rounds)
			continue;
		query_group(sl, g, 1, sl->rounds - lg->sentinels_round >= SENTINELS_EVERY);
		budget--;
	}
	sl->detail_cursor = t->n ? (sl->detail_cursor + i) % t->n : 0;
}

static void
on_addr(struct sentinel_link *sl, const char *name, const redisReply *r)
{
	struct sentinels *s = sl->set;
	struct group *g = topo_find(s->topo, name);
	struct lgroup *lg;
	long port;
	int64_t now;
	int same;

	if (!g || !(lg = lgroup_get(sl, g)))
		return;
	if (r->type == REDIS_REPLY_NIL || (r->type == REDIS_REPLY_ARRAY && r->elements == 0)) {
		/* This Sentinel no longer monitors the group. */
		lg->pend_set = 0;
		if (g->views[sl->index].valid) {
			topo_drop_view(g, sl->index);
			s->cbs.group_updated(s->arg, g);
		}
		return;
	}
	if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
	    r->element[0]->type != REDIS_REPLY_STRING || r->element[1]->type != REDIS_REPLY_STRING ||
	    parse_long(r->element[1]->str, 1, 65535, &port) < 0 ||
	    strlen(r->element[0]->str) >= ADDR_IP_MAX) {
		log_warn("sentinel %s: malformed GET-MASTER-ADDR-BY-NAME answer for %s", sl->addr, name);
		return;
	}
	if (!lg->pend_set) {
		/* No epoch read with it: ask for the full picture first. */
		(void)send_query(sl, Q_MASTER, name, 0);
		(void)send_query(sl, Q_ADDR, name, 0);
		return;
	}
	lg->pend_set = 0;
	now = now_mono_ms();
	/* An answer that only confirms a counting view is news to nobody (as
	 * an unchanged summary): the group is not planned again for it. */
	same = topo_view_same(s->topo, g, sl->index, r->element[0]->str, (int)port, lg->pend_epoch,
			      lg->pend_flags, now);
	topo_set_view(g, sl->index, r->element[0]->str, (int)port, lg->pend_epoch, lg->pend_flags, now);
	if (!same)
		s->cbs.group_updated(s->arg, g);
}

/* 0, or -1 when the entry has no usable address (none, too long, bad port). */
static int
replica_from_reply(const redisReply *e, struct node *n)
{
	const char *ip = kv_str(e, "ip");
	const char *flags = kv_str(e, "flags");
	const char *link = kv_str(e, "master-link-status");
	const char *role = kv_str(e, "role-reported");
	const char *mhost = kv_str(e, "master-host");

	memset(n, 0, sizeof(*n));
	str_copy(n->ip, ip ? ip : "", sizeof(n->ip));
	n->port = (int)kv_ll(e, "port", 0);
	n->flags = flags ? node_flags_parse(flags) : 0;
	if (link && strcmp(link, "ok") != 0)
		n->flags |= NODE_LINK_DOWN;
	if (role && strcmp(role, "master") == 0)
		n->flags |= NODE_ROLE_MASTER;
	str_copy(n->master_ip, mhost ? mhost : "", sizeof(n->master_ip));
	n->master_port = (int)kv_ll(e, "master-port", 0);
	n->priority = (int)kv_ll(e, "slave-priority", kv_ll(e, "replica-priority", 100));
	n->repl_offset = kv_ll(e, "slave-repl-offset", 0);
	n->lag_ms = kv_ll(e, "master-link-down-time", -1);
	if (!ip || !*ip || strlen(ip) >= sizeof(n->ip) || n->port <= 0 || n->port > 65535)
		return -1;
	return 0;
}

static void
on_replicas(struct sentinel_link *sl, const char *name, const redisReply *r)
{
	struct sentinels *s = sl->set;
	struct group *g = topo_find(s->topo, name);
	uint64_t gen;

	if (!g)
		return;
	gen = g->generation;
	for (size_t i = 0; i < r->elements; i++) {
		struct node n;

		if (replica_from_reply(r->element[i], &n) < 0)
			continue;
		topo_replica_update(g, sl->index, &n);
	}
	topo_replicas_end(g, sl->index);
	if (g->generation != gen)
		s->cbs.group_updated(s->arg, g);
}

static void
on_sentinels(struct sentinel_link *sl, const char *name, const redisReply *r)
{
	struct group *g = topo_find(sl->set->topo, name);
	char addrs[TOPO_MAX_SENTINELS][ADDR_IP_MAX + 8];
	const char *p[TOPO_MAX_SENTINELS];
	int n = 0;

	if (!g)
		return;
	for (size_t i = 0; i < r->elements && n < TOPO_MAX_SENTINELS; i++) {
		const char *ip = kv_str(r->element[i], "ip");
		long long port = kv_ll(r->element[i], "port", 0);

		if (!ip || port <= 0 || port > 65535 || strlen(ip) >= ADDR_IP_MAX)
			continue;
		p[n] = addr_format(addrs[n], sizeof(addrs[n]), ip, (int)port);
		n++;
	}
	topo_set_other_sentinels(g, p, n);
}

static void
on_info(struct sentinel_link *sl, const redisReply *r)
{
	const char *p = strstr(r->str, "sentinel_tilt:");
	int tilt;

	if (!p)
		return;
	tilt = p[14] == '1';
	if (tilt != sl->tilt) {
		struct sentinels *s = sl->set;

		sl->tilt = tilt;
		log_warn("sentinel %s: %s TILT mode", sl->addr, tilt ? "in" : "left");
		if (tilt)
			topo_drop_views(s->topo, sl->index);
		for (size_t i = 0; i < s->topo->n; i++)
			s->cbs.group_updated(s->arg, s->topo->groups[i]);
	}
}

static void
query_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
	struct query *q = privdata;
	struct sentinel_link *sl = q->sl;
	redisReply *r = reply;

	(void)ac;
	if (q->last) {
		struct lgroup *lg = lgroup_of(sl, q->gid, q->gserial);

		if (lg && lg->pending > 0)
			lg->pending--;
		if (r && lg && lg->again && lg->pending == 0) {
			struct group *g = topo_by_id(sl->set->topo, q->gid);

			lg->again = 0;
			if (g && g->serial == q->gserial)
				query_group(sl, g, 0, 0);
		}
	}
	if (!r) {
		free(q);
		return;
	}
	if (q->in_round && sl->round_pending > 0)
		sl->round_pending--;
	if (r->type == REDIS_REPLY_ERROR) {
		if (q->kind == Q_REPLICAS && !sl->use_slaves && strstr(r->str, "nknown")) {
			sl->use_slaves = 1;
			(void)send_query(sl, Q_REPLICAS, q->name, 0);
		} else if (!(q->kind == Q_MASTER && strstr(r->str, "No such master"))) {
			log_warn("sentinel %s: query %d%s%s failed: %s", sl->addr, (int)q->kind,
				 q->name[0] ? " " : "", q->name, r->str);
		}
		goto done;
	}
	sl->last_ok_wall = now_wall_ms();
	/* In TILT a Sentinel's view does not count: keep links, skip data. */
	switch (q->kind) {
	case Q_INFO:
		if (r->type == REDIS_REPLY_STRING)
			on_info(sl, r);
		break;
	case Q_MASTERS:
		if (r->type == REDIS_REPLY_ARRAY)
			on_masters(sl, r);
		break;
	case Q_MASTER:
		if (r->type == REDIS_REPLY_ARRAY)
			on_master(sl, r);
		break;
	case Q_ADDR:
		if (!sl->tilt)
			on_addr(sl, q->name, r);
		break;
	case Q_REPLICAS:
		if (r->type == REDIS_REPLY_ARRAY)
			on_replicas(sl, q->name, r);
		break;
	case Q_SENTINELS:
		if (r->type == REDIS_REPLY_ARRAY)
			on_sentinels(sl, q->name, r);
		break;
	}
done:
	if (q->in_round && sl->round_pending == 0) {
		sl->gen_done = sl->gen_started;
		log_debug("sentinel %s: round %llu done", sl->addr, (unsigned long long)sl->rounds);
	}
	free(q);
}

/* ---------------------------------------------------------------- events */

static void
on_event(struct sentinel_link *sl, const char *chan, size_t chlen, const char *payload, size_t plen)
{
	struct sentinels *s = sl->set;
	struct sentinel_event ev;
	char line[512];

	if (sev_parse(chan, chlen, payload, plen, &ev) < 0) {
		int64_t now = now_mono_ms();

		sl->malformed++;
		/* A Sentinel that sends garbage must not flood the log: the
		 * first few per minute, then a count. */
		if (now - sl->malformed_window >= 60000) {
			if (sl->malformed_quiet)
				log_warn("sentinel %s: %llu more malformed events ignored in the last minute",
					 sl->addr, (unsigned long long)sl->malformed_quiet);
			sl->malformed_window = now;
			sl->malformed_logged = 0;
			sl->malformed_quiet = 0;
		}
		if (sl->malformed_logged < 5) {
			sl->malformed_logged++;
			log_warn("sentinel %s: malformed event ignored (%zu bytes on channel '%.*s')", sl->addr,
				 plen, (int)(chlen > 64 ? 64 : chlen), chan);
		} else {
			sl->malformed_quiet++;
		}
		return;
	}
	sl->events++;
	sev_format(&ev, line, sizeof(line));
	switch (ev.type) {
	case SEV_SWITCH_MASTER:
	case SEV_ODOWN:
	case SEV_ODOWN_CLEAR:
	case SEV_PROMOTED_SLAVE:
	case SEV_FAILOVER_ABORT:
	case SEV_FAILOVER_END:
	case SEV_TILT:
	case SEV_TILT_CLEAR:
	case SEV_CONVERT_TO_SLAVE:
		log_info("sentinel %s: %s", sl->addr, line);
		break;
	default:
		log_debug("sentinel %s: %s", sl->addr, line);
		break;
	}

	switch (ev.type) {
	case SEV_TILT:
	case SEV_TILT_CLEAR:
	case SEV_MONITOR:
	case SEV_REMOVE:
	case SEV_RESET_MASTER:
		/* Re-read everything from this Sentinel (INFO gives the TILT state). */
		start_round(sl);
		break;
	case SEV_UNKNOWN:
	case SEV_NEW_EPOCH:
	case SEV_VOTE_FOR_LEADER:
		break;
	default:
		if (ev.master[0] && managed(s, ev.master)) {
			int important = ev.type == SEV_SWITCH_MASTER || ev.type == SEV_PROMOTED_SLAVE ||
					ev.type == SEV_FAILOVER_END || ev.type == SEV_CONVERT_TO_SLAVE ||
					ev.type == SEV_ROLE_CHANGE || ev.type == SEV_REBOOT;

			/* The Sentinel that tells is asked; the others tell
			 * their own news as they learn it (each announces a
			 * switch it adopts), and the rounds catch what is
			 * missed. Asking everyone on every event asked each
			 * Sentinel three times a switch. An important event
			 * from a Sentinel whose command link is down asks the
			 * others. */
			if (rlink_state(sl->cmd) == RLINK_UP)
				query_name(sl, ev.master);
			else if (important)
				sentinels_query_group(s, ev.master);
		}
		break;
	}
	if (s->cbs.event)
		s->cbs.event(s->arg, sl->index, &ev);
}

static void
sub_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
	struct sentinel_link *sl = privdata;
	redisReply *r = reply;

	(void)ac;
	if (!r || !sl)
		return;
	if (r->type != REDIS_REPLY_ARRAY || r->elements < 3 || r->element[0]->type != REDIS_REPLY_STRING)
		return;
	if (strcmp(r->element[0]->str, "psubscribe") == 0) {
		sl->subscribed = 1;
		if (sl->polling)
			log_info("sentinel %s: subscribed to events, polling ends", sl->addr);
		else
			log_info("sentinel %s: subscribed to events", sl->addr);
		sl->polling = 0;
		sl->polling_logged = 0;
		/* Events may have been missed while the link was down. */
		start_round(sl);
		return;
	}
	if (strcmp(r->element[0]->str, "pmessage") == 0 && r->elements == 4 &&
	    r->element[2]->type == REDIS_REPLY_STRING && r->element[3]->type == REDIS_REPLY_STRING)
		on_event(sl, r->element[2]->str, r->element[2]->len, r->element[3]->str, r->element[3]->len);
}

/* ---------------------------------------------------------------- links */

static void
cmd_up(struct rlink *rl, void *arg)
{
	struct sentinel_link *sl = arg;

	(void)rl;
	log_info("sentinel %s: command link up", sl->addr);
	/* Refused Pub/Sub is tried again when the Sentinel is back: its ACL
	 * may have changed meanwhile. */
	if (sl->sub_retry && sl->polling && rlink_state(sl->sub) == RLINK_IDLE)
		rlink_start(sl->sub);
	sl->sub_retry = 0;
	start_round(sl);
}

static void
cmd_down(struct rlink *rl, void *arg, const char *why)
{
	struct sentinel_link *sl = arg;
	struct sentinels *s = sl->set;

	(void)rl;
	(void)why;
	sl->round_pending = 0;
	sl->ping_pending = 0;
	sl->tilt = 0;
	sl->sub_retry = sl->polling;
	/* Queries in flight are gone with the link: nothing is pending. */
	for (size_t i = 0; i < sl->nlg; i++) {
		sl->lg[i].pending = 0;
		sl->lg[i].again = 0;
		sl->lg[i].pend_set = 0;
		sl->lg[i].have_sum = 0;
	}
	/* Its views no longer count; when none is left the groups freeze. */
	topo_drop_views(s->topo, sl->index);
	for (size_t i = 0; i < s->topo->n; i++)
		s->cbs.group_updated(s->arg, s->topo->groups[i]);
	/* Both links of a Sentinel live and die together. */
	rlink_close(sl->sub, "command link lost");
}

static void
sub_up(struct rlink *rl, void *arg)
{
	struct sentinel_link *sl = arg;

	if (rlink_subscribe(rl, sub_reply, sl, "PSUBSCRIBE *") < 0)
		rlink_close(rl, "cannot subscribe");
}

static void
sub_down(struct rlink *rl, void *arg, const char *why)
{
	struct sentinel_link *sl = arg;

	sl->subscribed = 0;
	if (why && strncmp(why, "NOPERM", 6) == 0) {
		/* The user may not PSUBSCRIBE (a restricted Sentinel ACL):
		 * retrying cannot help, follow by polling. */
		sl->polling = 1;
		rlink_stop(rl);
		if (!sl->polling_logged)
			log_warn("sentinel %s: PSUBSCRIBE refused (%.100s): no events from it, "
				 "following it by polling every %d ms",
				 sl->addr, why, sl->set->cfg->resync_interval_ms);
		sl->polling_logged = 1;
	}
}

struct sentinels *
sentinels_new(struct ev_loop *loop, const struct config *cfg, struct topo *topo,
	      const struct sentinel_cbs *cbs, void *arg)
{
	struct sentinels *s = calloc(1, sizeof(*s));
	struct rlink_opts cmd_opts = {
		.connect_timeout_ms = cfg->connect_timeout_ms,
		.command_timeout_ms = cfg->command_timeout_ms,
		.backoff_min_ms = 50,
		.backoff_max_ms = cfg->reconnect_max_ms,
		.reconnect = 1,
		.user = cfg->sentinel_user,
		.password = cfg->sentinel_password,
	};
	struct rlink_opts sub_opts = cmd_opts;

	if (!s)
		return NULL;
	if (rreply_keys_init(&s->keys, entry_fields) < 0) {
		free(s);
		return NULL;
	}
	cmd_opts.arena = 1;
	cmd_opts.reply_keys = &s->keys;
	sub_opts = cmd_opts;
	sub_opts.reply_keys = NULL;
	sub_opts.command_timeout_ms = 0;
	s->loop = loop;
	s->cfg = cfg;
	s->topo = topo;
	s->cbs = *cbs;
	s->arg = arg;
	s->n = cfg->nsentinels;
	s->links = calloc((size_t)s->n, sizeof(*s->links));
	if (!s->links) {
		free(s);
		return NULL;
	}
	for (int i = 0; i < s->n; i++) {
		struct sentinel_link *sl = &s->links[i];
		char name[128];

		sl->set = s;
		sl->index = i;
		str_copy(sl->ip, cfg->sentinels[i].host, sizeof(sl->ip));
		sl->port = cfg->sentinels[i].port;
		addr_format(sl->addr, sizeof(sl->addr), sl->ip, sl->port);
		snprintf(name, sizeof(name), "sentinel %s cmd", sl->addr);
		sl->cmd = rlink_new(loop, name, sl->ip, sl->port, &cmd_opts, cmd_up, cmd_down, sl);
		snprintf(name, sizeof(name), "sentinel %s pubsub", sl->addr);
		sl->sub = rlink_new(loop, name, sl->ip, sl->port, &sub_opts, sub_up, sub_down, sl);
		if (!sl->cmd || !sl->sub) {
			s->n = i + 1;
			sentinels_free(s);
			return NULL;
		}
	}
	return s;
}

static void
tick_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct sentinels *s = w->data;

	(void)loop;
	(void)revents;
	(void)sentinels_resync(s);
}

void
sentinels_start(struct sentinels *s)
{
	double iv = s->cfg->resync_interval_ms / 1000.0;

	/* Subscribe first, then query: nothing falls between the two. */
	for (int i = 0; i < s->n; i++)
		rlink_start(s->links[i].sub);
	for (int i = 0; i < s->n; i++)
		rlink_start(s->links[i].cmd);
	ev_timer_init(&s->tick, tick_cb, iv, iv);
	s->tick.data = s;
	ev_timer_start(s->loop, &s->tick);
}

void
sentinels_free(struct sentinels *s)
{
	if (!s)
		return;
	ev_timer_stop(s->loop, &s->tick);
	for (int i = 0; i < s->n; i++) {
		rlink_free(s->links[i].sub);
		rlink_free(s->links[i].cmd);
	}
	for (int i = 0; i < s->n; i++)
		free(s->links[i].lg);
	free(s->links);
	free(s);
}

uint64_t
sentinels_resync(struct sentinels *s)
{
	s->resync_gen++;
	for (int i = 0; i < s->n; i++) {
		struct sentinel_link *sl = &s->links[i];

		/* A Pub/Sub link that stays down while the command link is up
		 * is reconnected by its own backoff; nothing to do here. */
		start_round(sl);
		sl->gen_started = s->resync_gen;
		if (sl->round_pending == 0)   /* nothing sent: link down */
			sl->gen_done = s->resync_gen;
	}
	return s->resync_gen;
}

int
sentinels_resync_done(const struct sentinels *s, uint64_t gen)
{
	for (int i = 0; i < s->n; i++) {
		const struct sentinel_link *sl = &s->links[i];

		if (sl->gen_done < gen && rlink_state(sl->cmd) == RLINK_UP)
			return 0;
	}
	return 1;
}

void
sentinels_query_group(struct sentinels *s, const char *name)
{
	for (int i = 0; i < s->n; i++)
		if (rlink_state(s->links[i].cmd) == RLINK_UP)
			query_name(&s->links[i], name);
}

/* ---------------------------------------------------------------- lease renewal */

/* The answer to a renewal ping (INFO server: small, and allowed by the
 * +info the agent's ACL user has anyway; PING would need one more rule):
 * the Sentinel was alive and reachable when it was sent. It confirms the
 * views only while its events reach the agent (a switch it made was
 * announced first) and it is not in TILT. */
static void
ping_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
	struct sentinel_link *sl = privdata;
	redisReply *r = reply;

	(void)ac;
	if (!sl)
		return;
	sl->ping_pending = 0;
	if (!r)
		return;
	if (r->type == REDIS_REPLY_STRING && sl->subscribed && !sl->tilt)
		topo_sentinel_heard(sl->set->topo, sl->index, sl->ping_sent_ms);
}

void
sentinels_ping(struct sentinels *s)
{
	for (int i = 0; i < s->n; i++) {
		struct sentinel_link *sl = &s->links[i];

		if (sl->ping_pending || rlink_state(sl->cmd) != RLINK_UP)
			continue;
		if (rlink_command(sl->cmd, ping_reply, sl, "INFO server") < 0)
			continue;
		sl->ping_pending = 1;
		sl->ping_sent_ms = now_mono_ms();
	}
}

int
sentinels_count(const struct sentinels *s)
{
	return s->n;
}

void
sentinels_info(const struct sentinels *s, int si, struct sentinel_info *out)
{
	const struct sentinel_link *sl = &s->links[si];

	memset(out, 0, sizeof(*out));
	str_copy(out->addr, sl->addr, sizeof(out->addr));
	out->cmd_state = rlink_state_name(rlink_state(sl->cmd));
	out->sub_state = rlink_state_name(rlink_state(sl->sub));
	out->subscribed = sl->subscribed;
	out->polling = sl->polling;
	out->tilt = sl->tilt;
	out->last_ok_wall_ms = sl->last_ok_wall;
	out->last_error = rlink_last_error(sl->cmd);
	out->events = sl->events;
	out->malformed = sl->malformed;
	out->rounds = sl->rounds;
}

int
sentinels_usable(const struct sentinels *s)
{
	int n = 0;

	for (int i = 0; i < s->n; i++)
		if (rlink_state(s->links[i].cmd) == RLINK_UP && !s->links[i].tilt)
			n++;
	return n;
}
