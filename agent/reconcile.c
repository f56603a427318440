#include "reconcile.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hapapi.h"
#include "log.h"
#include "plan.h"
#include "rlink.h"

#define PROBE_RETRY_MIN_MS 50
#define PROBE_RETRY_MAX_MS 1000
#define RECHECK_EVERY 5      /* re-confirm masters with ROLE every Nth tick */

struct probe {
	struct reconciler *rc;
	char group[TOPO_NAME_MAX];
	char ip[ADDR_IP_MAX];
	int port;
	struct rlink *rl;
	ev_timer timer;          /* retry delay, or deferred free */
	int delay_ms;
	int done;                /* free on the next timer run */
	int replica;             /* a replica's link check, not a master's confirmation */
	struct probe *next;      /* every probe alive, for rec_free */
};

struct reconciler {
	struct ev_loop *loop;
	const struct config *cfg;
	struct topo *topo;
	struct hap_client *hap;
	ev_timer soon;           /* 0 s timer: coalesces requests of one loop iteration */
	int in_flight;
	int want_full;
	int want_any;
	uint64_t ticks;
	long hap_pid;
	long hap_uptime;
	struct rec_stats stats;
	/* groups of the run in flight, by name (a group may vanish meanwhile) */
	char (*run_groups)[TOPO_NAME_MAX];
	size_t nrun;
	int run_full;
	struct plan_meta *meta;  /* per command of the apply batch */
	size_t nmeta, metacap;
	char **backend_warned;   /* backends HAProxy does not have: warned once */
	size_t nwarned;
	struct probe *probes;
	struct journal *journal;
};

const double rec_apply_bounds[REC_APPLY_BUCKETS - 1] = {
	0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1.0,
};

/* What an applied command was for. */
struct plan_meta {
	char group[TOPO_NAME_MAX];
	int write_ready;         /* the READY of a write backend's master */
	int64_t switch_mono;
};

static const char *const gs_names[] = { "ok", "unconfirmed", "no-master", "disagree", "frozen" };

const char *
group_state_name(enum group_state s)
{
	return (unsigned)s < 5 ? gs_names[s] : "?";
}

enum group_state
rec_group_state(const struct reconciler *rc, const struct group *g)
{
	if (topo_group_frozen(rc->topo, g, now_mono_ms()))
		return GS_FROZEN;
	if (g->disagree)
		return GS_DISAGREE;
	if (!g->master_ip[0])
		return GS_NO_MASTER;
	return g->confirmed == 1 ? GS_OK : GS_UNCONFIRMED;
}

static void schedule(struct reconciler *rc, int full);

#define JADD(rc, ...) do { if ((rc)->journal) journal_add((rc)->journal, now_wall_ms(), __VA_ARGS__); } while (0)
#define JSTAGE(rc, ...) do { if ((rc)->journal) (void)journal_stage((rc)->journal, __VA_ARGS__); } while (0)
static void probe_start(struct reconciler *rc, struct group *g);

/* ---------------------------------------------------------------- ROLE probes */

static void
probe_finish(struct probe *p)
{
	p->done = 1;
	ev_timer_stop(p->rc->loop, &p->timer);
	ev_timer_set(&p->timer, 0., 0.);
	ev_timer_start(p->rc->loop, &p->timer);
}

static void
probe_free(struct probe *p)
{
	struct group *g = topo_find(p->rc->topo, p->group);
	struct probe **pp;

	for (pp = &p->rc->probes; *pp; pp = &(*pp)->next) {
		if (*pp == p) {
			*pp = p->next;
			break;
		}
	}
	if (g && !p->replica && g->probe == p)
		g->probe = NULL;
	if (g && p->replica) {
		struct node *n = group_find_node(g, p->ip, p->port);

		if (n && n->probe == p)
			n->probe = NULL;
	}
	ev_timer_stop(p->rc->loop, &p->timer);
	rlink_free(p->rl);
	free(p);
}

/* Is this probe still useful? A master's: the group's candidate is still
 * that node. A replica's: the node is still known. */
static struct group *
probe_group(struct probe *p)
{
	struct group *g = topo_find(p->rc->topo, p->group);
	struct node *n;

	if (!g)
		return NULL;
	if (p->replica) {
		n = group_find_node(g, p->ip, p->port);
		return n && n->probe == p ? g : NULL;
	}
	if (g->probe != p || g->master_port != p->port || !addr_ip_equal(g->master_ip, p->ip))
		return NULL;
	return g;
}

/* A replica's ROLE: ["slave", master-ip, master-port, state, offset]. */
static void
probe_replica_answer(struct probe *p, struct group *g, const redisReply *r)
{
	enum role_seen role = ROLE_UNKNOWN;
	const char *mip = "";
	int mport = 0, link = 0;

	if (r && r->type == REDIS_REPLY_ARRAY && r->elements >= 1 && r->element[0]->type == REDIS_REPLY_STRING) {
		if (strcmp(r->element[0]->str, "master") == 0) {
			role = ROLE_MASTER;
		} else if (strcmp(r->element[0]->str, "slave") == 0 && r->elements >= 4 &&
			   r->element[1]->type == REDIS_REPLY_STRING && r->element[2]->type == REDIS_REPLY_INTEGER &&
			   r->element[3]->type == REDIS_REPLY_STRING) {
			role = ROLE_SLAVE;
			mip = r->element[1]->str;
			mport = (int)r->element[2]->integer;
			link = strcmp(r->element[3]->str, "connected") == 0;
		}
	}
	if (topo_replica_role(g, p->ip, p->port, role, mip, mport, link, now_mono_ms())) {
		log_debug("%s: ROLE on %s:%d: %s of %s:%d, link %s", g->name, p->ip, p->port,
			  role_seen_name(role), mip, mport, link ? "up" : "down");
		g->dirty = 1;
		schedule(p->rc, 0);
	}
	probe_finish(p);
}

static void
probe_retry(struct probe *p, const char *why)
{
	struct group *g = probe_group(p);

	if (!g) {
		probe_finish(p);
		return;
	}
	if (p->replica) {
		/* Unreachable: its link is not known to be up. The next tick asks again. */
		probe_replica_answer(p, g, NULL);
		return;
	}
	p->delay_ms = p->delay_ms ? p->delay_ms * 2 : PROBE_RETRY_MIN_MS;
	if (p->delay_ms > PROBE_RETRY_MAX_MS)
		p->delay_ms = PROBE_RETRY_MAX_MS;
	log_debug("%s: ROLE on %s:%d: %s; again in %d ms", p->group, p->ip, p->port, why, p->delay_ms);
	p->done = 0;
	ev_timer_stop(p->rc->loop, &p->timer);
	ev_timer_set(&p->timer, p->delay_ms / 1000.0, 0.);
	ev_timer_start(p->rc->loop, &p->timer);
}

static void
probe_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
	struct probe *p = privdata;
	redisReply *r = reply;
	enum role_seen role = ROLE_UNKNOWN;
	struct group *g;

	(void)ac;
	if (!r || !p)
		return;
	if (r->type == REDIS_REPLY_ARRAY && r->elements >= 1 && r->element[0]->type == REDIS_REPLY_STRING) {
		if (strcmp(r->element[0]->str, "master") == 0)
			role = ROLE_MASTER;
		else if (strcmp(r->element[0]->str, "slave") == 0)
			role = ROLE_SLAVE;
	}
	rlink_close(p->rl, "done");
	g = probe_group(p);
	if (!g) {
		probe_finish(p);
		return;
	}
	if (p->replica) {
		probe_replica_answer(p, g, r);
		return;
	}
	if (role == ROLE_UNKNOWN) {
		probe_retry(p, r->type == REDIS_REPLY_ERROR ? r->str : "unexpected answer");
		return;
	}
	if (topo_role_result(g, p->ip, p->port, role, now_mono_ms())) {
		char a[ADDR_IP_MAX + 8];

		addr_format(a, sizeof(a), p->ip, p->port);
		if (role == ROLE_MASTER) {
			log_info("%s: ROLE confirms %s is master", g->name, a);
			JADD(p->rc, "agent", "", g->name, "role-confirmed", "ROLE on %s says master", a);
			JSTAGE(p->rc, g->name, TL_ROLE_CONFIRMED, now_wall_ms(), NULL, a, g->epoch);
		} else {
			log_warn("%s: %s says it is a replica: kept out of the write backend", g->name, a);
			JADD(p->rc, "agent", "", g->name, "role-refused", "ROLE on %s says %s: not routed",
			     a, role_seen_name(role));
		}
		g->dirty = 1;
		schedule(p->rc, 0);
	}
	if (role == ROLE_MASTER)
		probe_finish(p);
	else
		probe_retry(p, "role slave");
}

static void
probe_up(struct rlink *rl, void *arg)
{
	struct probe *p = arg;

	if (rlink_command(rl, probe_reply, p, "ROLE") < 0)
		rlink_close(rl, "cannot send ROLE");
}

static void
probe_down(struct rlink *rl, void *arg, const char *why)
{
	struct probe *p = arg;

	(void)rl;
	/* Closed by us after an answer: a retry or the free is already due. */
	if (p->done || ev_is_active(&p->timer))
		return;
	probe_retry(p, why);
}

static void
probe_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct probe *p = w->data;
	struct rlink_opts o;
	char name[TOPO_NAME_MAX + ADDR_IP_MAX + 32], a[ADDR_IP_MAX + 8];

	(void)loop;
	(void)revents;
	if (p->done || !probe_group(p)) {
		probe_free(p);
		return;
	}
	/* (Re)connect: a one-shot link per attempt. */
	rlink_free(p->rl);
	memset(&o, 0, sizeof(o));
	o.connect_timeout_ms = p->rc->cfg->connect_timeout_ms;
	o.command_timeout_ms = p->rc->cfg->command_timeout_ms;
	o.backoff_min_ms = 10;
	o.backoff_max_ms = 10;
	o.reconnect = 0;
	o.user = p->rc->cfg->redis_user;
	o.password = p->rc->cfg->redis_password;
	snprintf(name, sizeof(name), "%s ROLE %s", p->group, addr_format(a, sizeof(a), p->ip, p->port));
	p->rl = rlink_new(p->rc->loop, name, p->ip, p->port, &o, probe_up, probe_down, p);
	if (!p->rl) {
		probe_retry(p, "out of memory");
		return;
	}
	rlink_start(p->rl);
}

static void
probe_start(struct reconciler *rc, struct group *g)
{
	struct probe *p;

	if (g->probe || !g->master_ip[0])
		return;
	p = calloc(1, sizeof(*p));
	if (!p)
		return;
	p->rc = rc;
	str_copy(p->group, g->name, sizeof(p->group));
	str_copy(p->ip, g->master_ip, sizeof(p->ip));
	p->port = g->master_port;
	ev_timer_init(&p->timer, probe_timer_cb, 0., 0.);
	p->timer.data = p;
	p->next = rc->probes;
	rc->probes = p;
	g->probe = p;
	/* Start right away, from the loop (never inside a hiredis callback). */
	ev_timer_start(rc->loop, &p->timer);
}

/* Sentinel refreshes what it knows of a replica every 10 s: after a switch
 * it says "link down" long after the replica has synced with the new
 * master. Ask the replicas Sentinel sees up but unlinked ourselves. */
static void
probe_replicas(struct reconciler *rc, struct group *g)
{
	int64_t now = now_mono_ms();

	if (!g->master_ip[0])
		return;
	for (size_t i = 0; i < g->nnodes; i++) {
		struct node *n = &g->nodes[i];
		struct probe *p;

		if (n->probe || !n->seen_by || !(n->flags & (NODE_LINK_DOWN | NODE_ROLE_MASTER)) ||
		    (n->flags & (NODE_S_DOWN | NODE_O_DOWN | NODE_DISCONNECTED)) || !addr_is_ip(n->ip) ||
		    (n->port == g->master_port && addr_ip_equal(n->ip, g->master_ip)) ||
		    (n->role_at_ms && now - n->role_at_ms < PROBE_RETRY_MIN_MS * 4))
			continue;
		p = calloc(1, sizeof(*p));
		if (!p)
			return;
		p->rc = rc;
		p->replica = 1;
		str_copy(p->group, g->name, sizeof(p->group));
		str_copy(p->ip, n->ip, sizeof(p->ip));
		p->port = n->port;
		ev_timer_init(&p->timer, probe_timer_cb, 0., 0.);
		p->timer.data = p;
		p->next = rc->probes;
		rc->probes = p;
		n->probe = p;
		ev_timer_start(rc->loop, &p->timer);
	}
}

/* ---------------------------------------------------------------- decisions */

static void
log_state_change(struct reconciler *rc, struct group *g)
{
	enum group_state s = rec_group_state(rc, g);

	if ((int)s == g->state_logged)
		return;
	/* The first state of a group is not news, except when it is bad. */
	if (g->state_logged != 0 || s == GS_FROZEN || s == GS_DISAGREE)
		JADD(rc, "agent", "", g->name, "state", "%s -> %s", group_state_name((enum group_state)g->state_logged),
		     group_state_name(s));
	g->state_logged = (int)s;
	switch (s) {
	case GS_FROZEN:
		log_warn("%s: no usable Sentinel: HAProxy is left as it is until one answers", g->name);
		break;
	case GS_DISAGREE:
		log_warn("%s: Sentinels disagree on the master at epoch %llu: no switch until they agree",
			 g->name, (unsigned long long)g->epoch);
		break;
	case GS_OK:
	case GS_UNCONFIRMED:
	case GS_NO_MASTER:
		break;
	}
}

void
rec_group_updated(struct reconciler *rc, struct group *g)
{
	enum topo_decision d = topo_decide(rc->topo, g, now_mono_ms(), now_wall_ms());

	switch (d) {
	case TOPO_NEW_MASTER:
		g->switch_mono = now_mono_ms();
		g->switch_acked = 0;
		rc->stats.switches++;
		if (g->last_switch.from[0]) {
			log_info("switch %s %s -> %s epoch %llu", g->name, g->last_switch.from,
				 g->last_switch.to, (unsigned long long)g->epoch);
			JADD(rc, "agent", "", g->name, "switch", "%s -> %s epoch %llu", g->last_switch.from,
			     g->last_switch.to, (unsigned long long)g->epoch);
			JSTAGE(rc, g->name, TL_DECISION, g->last_switch.at_wall_ms, g->last_switch.from,
			       g->last_switch.to, g->epoch);
		} else {
			log_info("master %s is %s epoch %llu", g->name, g->last_switch.to,
				 (unsigned long long)g->epoch);
			JADD(rc, "agent", "", g->name, "master", "%s epoch %llu", g->last_switch.to,
			     (unsigned long long)g->epoch);
		}
		if (g->probe) {
			/* Probing the old candidate: let it go, start afresh. */
			probe_finish(g->probe);
			g->probe = NULL;
		}
		probe_start(rc, g);
		break;
	case TOPO_STALE:
		log_debug("%s: a Sentinel reports an older epoch than %llu: ignored", g->name,
			  (unsigned long long)g->epoch);
		break;
	case TOPO_NOCHANGE:
	case TOPO_NO_VIEWS:
	case TOPO_DISAGREE:
		break;
	}
	if (g->master_ip[0] && g->confirmed != 1 && !g->probe)
		probe_start(rc, g);
	probe_replicas(rc, g);
	log_state_change(rc, g);
	g->dirty = 1;
	schedule(rc, 0);
}

void
rec_tick(struct reconciler *rc)
{
	rc->ticks++;
	for (size_t i = 0; i < rc->topo->n; i++) {
		struct group *g = rc->topo->groups[i];

		(void)topo_decide(rc->topo, g, now_mono_ms(), now_wall_ms());
		log_state_change(rc, g);
		/* A confirmed master is asked again now and then: a node demoted
		 * behind Sentinel's back leaves the write backend. */
		if (g->master_ip[0] && !g->probe && (g->confirmed != 1 || rc->ticks % RECHECK_EVERY == 0))
			probe_start(rc, g);
		probe_replicas(rc, g);
	}
	schedule(rc, 1);
}

/* ---------------------------------------------------------------- reconcile */

static int
backend_warned(struct reconciler *rc, const char *be)
{
	char **n;

	for (size_t i = 0; i < rc->nwarned; i++)
		if (strcmp(rc->backend_warned[i], be) == 0)
			return 1;
	n = realloc(rc->backend_warned, (rc->nwarned + 1) * sizeof(*n));
	if (!n)
		return 1;
	rc->backend_warned = n;
	rc->backend_warned[rc->nwarned] = strdup(be);
	if (!rc->backend_warned[rc->nwarned])
		return 1;
	rc->nwarned++;
	return 0;
}

struct cmdvec {
	char **v;
	size_t n, cap;
};

static int
cmdvec_add(struct cmdvec *cv, const char *s)
{
	if (cv->n == cv->cap) {
		size_t cap = cv->cap ? cv->cap * 2 : 16;
		char **nv = realloc(cv->v, cap * sizeof(*nv));

		if (!nv)
			return -1;
		cv->v = nv;
		cv->cap = cap;
	}
	cv->v[cv->n] = strdup(s);
	if (!cv->v[cv->n])
		return -1;
	cv->n++;
	return 0;
}

static void
cmdvec_free(struct cmdvec *cv)
{
	for (size_t i = 0; i < cv->n; i++)
		free(cv->v[i]);
	free(cv->v);
	memset(cv, 0, sizeof(*cv));
}

static void run(struct reconciler *rc);

static void
run_done(struct reconciler *rc)
{
	rc->in_flight = 0;
	free(rc->run_groups);
	rc->run_groups = NULL;
	rc->nrun = 0;
	rc->nmeta = 0;
	if (rc->want_any)
		schedule(rc, rc->want_full);
}

static void
apply_cb(void *arg, int status, const char *const *cmds, size_t n_cmds,
	 const struct hap_reply *replies, size_t n_replies, const char *err)
{
	struct reconciler *rc = arg;
	int64_t now = now_mono_ms();

	for (size_t i = 0; i < n_replies && i < n_cmds; i++) {
		int ok = hap_reply_ok(cmds[i], replies[i].text, replies[i].len);

		if (rc->journal)
			journal_cmd(rc->journal, now_wall_ms(), cmds[i], replies[i].text, replies[i].len, ok);
		if (!ok) {
			rc->stats.commands_failed++;
			log_err("haproxy: '%s' failed: %.*s", cmds[i], (int)(replies[i].len > 200 ? 200 : replies[i].len),
				replies[i].text);
			JADD(rc, "haproxy", "", i < rc->nmeta ? rc->meta[i].group : "", "command-failed", "%s: %.*s",
			     cmds[i], (int)(replies[i].len > 120 ? 120 : replies[i].len), replies[i].text);
			continue;
		}
		log_info("haproxy: %s", cmds[i]);
		JADD(rc, "haproxy", "", i < rc->nmeta ? rc->meta[i].group : "", "command", "%s", cmds[i]);
		if (i < rc->nmeta && rc->meta[i].write_ready) {
			struct group *g = topo_find(rc->topo, rc->meta[i].group);
			int64_t ms = now - rc->meta[i].switch_mono;

			/* Only the first time after a decision is a switch's
			 * latency; later ones put a restarted HAProxy back. */
			if (!g || g->switch_acked)
				continue;
			g->switch_acked = 1;

			rc->stats.last_switch_apply_ms = ms;
			rc->stats.apply_count++;
			rc->stats.apply_sum_s += ms / 1000.0;
			for (int b = 0; b < REC_APPLY_BUCKETS; b++)
				if (b == REC_APPLY_BUCKETS - 1 || ms / 1000.0 <= rec_apply_bounds[b])
					rc->stats.apply_buckets[b]++;
			log_info("%s: writes go to %s, %lld ms after the decision", rc->meta[i].group,
				 g ? g->hap_write_ready : "?", (long long)ms);
			JADD(rc, "agent", "", rc->meta[i].group, "writes-routed", "writes go to %s, %lld ms after the decision",
			     g ? g->hap_write_ready : "?", (long long)ms);
			JSTAGE(rc, rc->meta[i].group, TL_HAPROXY_ACKED, now_wall_ms(), NULL, NULL, 0);
		}
	}
	if (status < 0) {
		rc->stats.commands_failed += n_cmds - n_replies;
		log_warn("haproxy: %zu of %zu commands not applied: %s", n_cmds - n_replies, n_cmds, err);
		/* What HAProxy holds is unknown now: read it again next time. */
		for (size_t i = 0; i < rc->topo->n; i++)
			rc->topo->groups[i]->hap_known = 0;
		rc->want_any = rc->want_full = 1;
	}
	run_done(rc);
}

static size_t
build_targets(const struct reconciler *rc, const struct group *g, const struct hap_server *slots,
	      size_t nslots, int write, struct plan_target *t, size_t max)
{
	size_t n = 0;
	int master_ready = g->confirmed == 1 && !topo_master_fenced(g);

	if (g->confirmed == 0 && write && !topo_master_fenced(g)) {
		/* Adoption: HAProxy already routes writes to this master (an agent
		 * restart); keep it while ROLE is being asked. */
		for (size_t i = 0; i < nslots; i++)
			if (hap_server_is_ready(&slots[i]) && slots[i].port == g->master_port &&
			    addr_ip_equal(slots[i].addr, g->master_ip))
				master_ready = 1;
	}
	if (write || rc->cfg->master_reads) {
		str_copy(t[n].ip, g->master_ip, sizeof(t[n].ip));
		t[n].port = g->master_port;
		t[n].ready = master_ready;
		n++;
	}
	for (size_t i = 0; i < g->nnodes && n < max; i++) {
		const struct node *nd = &g->nodes[i];

		if (nd->port == g->master_port && addr_ip_equal(nd->ip, g->master_ip))
			continue;
		if (!addr_is_ip(nd->ip))
			continue;   /* HAProxy's "set server addr" takes IP literals */
		str_copy(t[n].ip, nd->ip, sizeof(t[n].ip));
		t[n].port = nd->port;
		t[n].ready = write ? 0 : topo_node_read_ready(g, nd, now_wall_ms());
		n++;
	}
	return n;
}

static int
meta_reserve(struct reconciler *rc, size_t n)
{
	struct plan_meta *m;
	size_t cap = rc->metacap ? rc->metacap : 64;

	if (n <= rc->metacap)
		goto done;
	while (cap < n)
		cap *= 2;
	m = realloc(rc->meta, cap * sizeof(*m));
	if (!m)
		return -1;
	rc->meta = m;
	rc->metacap = cap;
done:
	for (size_t i = rc->nmeta; i < n; i++)
		memset(&rc->meta[i], 0, sizeof(rc->meta[i]));
	if (n > rc->nmeta)
		rc->nmeta = n;
	return 0;
}

/* Early fence (topo.h F1-F2), applied when a group is planned: every
 * change (a refusal seen by fence.c, +odown, a ROLE answer) plans it. */
static void
fence_apply(struct reconciler *rc, struct group *g)
{
	unsigned sig = (rc->cfg->fence_on_reset ? TOPO_FENCE_ON_RESET : 0u) |
		       (rc->cfg->fence_on_odown ? TOPO_FENCE_ON_ODOWN : 0u);
	int was = g->fence;
	char a[ADDR_IP_MAX + 8];

	str_copy(a, was == FENCE_NONE ? "" : g->fence_addr, sizeof(a));
	if (!topo_fence_eval(rc->topo, g, sig, now_mono_ms(), now_wall_ms()))
		return;
	if (was == FENCE_NONE) {
		str_copy(a, g->fence_addr, sizeof(a));
		log_warn("%s: master %s fenced (%s): out of the write backend until it is back or replaced",
			 g->name, a, topo_fence_name(g->fence));
		JSTAGE(rc, g->name, TL_FENCED, g->fence_since_ms, a, NULL, 0);
	} else {
		char m[ADDR_IP_MAX + 8];

		addr_format(m, sizeof(m), g->master_ip, g->master_port);
		log_info("%s: fence of %s: %s -> %s%s", g->name, a, topo_fence_name(was), topo_fence_name(g->fence),
			 strcmp(a, m) != 0 ? " (replaced)" : "");
	}
	JADD(rc, "agent", "", g->name, g->fence != FENCE_NONE ? "fenced" : "unfenced", "%s: %s -> %s", a,
	     topo_fence_name(was), topo_fence_name(g->fence));
	if (g->master_ip[0] && g->confirmed != 1 && !g->probe) {
		probe_start(rc, g);
	} else if (g->confirmed != 1 && g->probe) {
		struct probe *p = g->probe;

		/* A probe waiting out its backoff (it met the dead master): now. */
		if (!p->done && ev_is_active(&p->timer)) {
			ev_timer_stop(rc->loop, &p->timer);
			ev_timer_set(&p->timer, 0., 0.);
			ev_timer_start(rc->loop, &p->timer);
		}
	}
}

/* Plan one group; returns the number of commands added (-1 out of memory). */
static int
plan_group(struct reconciler *rc, struct group *g, const struct hap_state *st, struct plan *pl)
{
	char wb[CONF_NAME_MAX], rb[CONF_NAME_MAX], err[256];
	size_t first, count, before;
	struct plan_target *t;
	size_t max = g->nnodes + 1, nt, before_all = pl->n;
	int write_ready_cmd = -1;

	if (!config_backends(rc->cfg, g->name, wb, sizeof(wb), rb, sizeof(rb)))
		return 0;
	if (rec_group_state(rc, g) == GS_FROZEN || !g->master_ip[0])
		return 0;
	fence_apply(rc, g);
	t = calloc(max, sizeof(*t));
	if (!t)
		return -1;

	if (hap_state_backend(st, wb, &first, &count) == 0) {
		before = pl->n;
		nt = build_targets(rc, g, st->srv + first, count, 1, t, max);
		if (plan_backend(wb, st->srv + first, count, t, nt, 1, pl, err, sizeof(err)) < 0)
			log_err("%s: %s", g->name, err);
		for (size_t i = before; i < pl->n; i++)
			if (pl->cmds[i].kind == PLAN_READY)
				write_ready_cmd = (int)i;
		if (t[0].ready)
			addr_format(g->hap_write_ready, sizeof(g->hap_write_ready), g->master_ip, g->master_port);
		else
			g->hap_write_ready[0] = '\0';
		g->hap_known = 1;
	} else if (!backend_warned(rc, wb)) {
		log_err("%s: HAProxy has no backend '%s' (write)", g->name, wb);
	}

	if (rb[0] && g->replicas_known) {
		if (hap_state_backend(st, rb, &first, &count) == 0) {
			int ready = 0, errors = pl->errors;

			nt = build_targets(rc, g, st->srv + first, count, 0, t, max);
			if (plan_backend(rb, st->srv + first, count, t, nt, 0, pl, err, sizeof(err)) < 0)
				log_err("%s: %s", g->name, err);
			for (size_t i = 0; i < nt; i++)
				ready += t[i].ready;
			/* Ready targets get slots first: those left without one
			 * are the ones short of a slot. */
			ready -= pl->errors - errors;
			g->hap_read_ready = ready > 0 ? ready : 0;
		} else if (!backend_warned(rc, rb)) {
			log_err("%s: HAProxy has no backend '%s' (read)", g->name, rb);
		}
	}
	free(t);
	if (pl->n > before_all && meta_reserve(rc, pl->n) == 0) {
		for (size_t i = before_all; i < pl->n; i++) {
			str_copy(rc->meta[i].group, g->name, sizeof(rc->meta[i].group));
			rc->meta[i].write_ready = (int)i == write_ready_cmd;
			rc->meta[i].switch_mono = g->switch_mono;
		}
	}
	return (int)(pl->n - before_all);
}

static void
state_cb(void *arg, int status, const char *const *cmds, size_t n_cmds,
	 const struct hap_reply *replies, size_t n_replies, const char *err)
{
	struct reconciler *rc = arg;
	struct hap_state st = { 0 };
	struct hap_info info;
	struct plan pl;
	struct cmdvec cv = { 0 };
	char perr[256];
	int drift = 0;
	size_t i;

	(void)cmds;
	if (status < 0 || n_replies != n_cmds) {
		/* The link logs its own state changes. Retried on the next
		 * tick (a full run): no spinning against a dead socket. */
		log_debug("haproxy: cannot read state: %s", err ? err : "short answer");
		for (i = 0; i < rc->topo->n; i++)
			rc->topo->groups[i]->hap_known = 0;
		rc->want_any = rc->want_full = 0;
		run_done(rc);
		return;
	}
	if (hap_info_parse(replies[0].text, replies[0].len, &info) == 0) {
		if (rc->hap_pid && (info.pid != rc->hap_pid || info.uptime_sec < rc->hap_uptime)) {
			rc->stats.reloads_seen++;
			rc->stats.last_reload_wall_ms = now_wall_ms();
			JADD(rc, "haproxy", "", "", "reload", "pid %ld -> %ld", rc->hap_pid, info.pid);
			log_warn("haproxy: reload or restart seen (pid %ld -> %ld): reapplying everything",
				 rc->hap_pid, info.pid);
			if (!rc->run_full)
				rc->want_any = rc->want_full = 1;
		}
		rc->hap_pid = info.pid;
		rc->hap_uptime = info.uptime_sec;
		rc->stats.hap_pid = info.pid;
	}
	for (i = 1; i < n_replies; i++) {
		if (!hap_reply_ok(cmds[i], replies[i].text, replies[i].len))
			continue;   /* "Can't find backend.": reported per group below */
		if (hap_state_parse(replies[i].text, replies[i].len, &st, perr, sizeof(perr)) < 0)
			log_err("haproxy: cannot parse '%s': %s", cmds[i], perr);
	}

	(void)hap_state_index(&st);
	plan_init(&pl);
	if (rc->run_full) {
		for (i = 0; i < rc->topo->n; i++) {
			struct group *g = rc->topo->groups[i];
			int changed = g->generation != g->planned_generation;

			g->dirty = 0;
			/* Work for a group whose model did not change since it
			 * was last planned: HAProxy drifted (a restart, a reload
			 * without state file, somebody's command). */
			if (plan_group(rc, g, &st, &pl) > 0 && !changed && g->planned_generation)
				drift += 1;
			g->planned_generation = g->generation;
		}
	} else {
		for (i = 0; i < rc->nrun; i++) {
			struct group *g = topo_find(rc->topo, rc->run_groups[i]);

			if (g) {
				(void)plan_group(rc, g, &st, &pl);
				g->planned_generation = g->generation;
			}
		}
	}
	hap_state_free(&st);

	for (i = 0; i < pl.n; i++)
		if (cmdvec_add(&cv, pl.cmds[i].text) < 0)
			break;
	plan_free(&pl);
	rc->stats.runs++;
	rc->stats.full_runs += rc->run_full;
	rc->stats.last_run_wall_ms = now_wall_ms();
	if (cv.n == 0) {
		cmdvec_free(&cv);
		run_done(rc);
		return;
	}
	if (drift) {
		rc->stats.drift_corrections += drift;
		JADD(rc, "haproxy", "", "", "drift", "HAProxy differs from the desired state in %d group(s): correcting",
		     drift);
		log_warn("haproxy: state differs from the desired state in %d group(s): correcting", drift);
	}
	rc->stats.commands_sent += cv.n;
	for (i = 0; i < rc->nmeta; i++)
		if (rc->meta[i].write_ready)
			JSTAGE(rc, rc->meta[i].group, TL_HAPROXY_SENT, now_wall_ms(), NULL, NULL, 0);
	if (hap_submit(rc->hap, (const char *const *)cv.v, cv.n, apply_cb, rc) < 0) {
		log_err("haproxy: cannot queue %zu commands", cv.n);
		run_done(rc);
	}
	cmdvec_free(&cv);
}

static void
run(struct reconciler *rc)
{
	struct cmdvec cv = { 0 };
	char wb[CONF_NAME_MAX], rb[CONF_NAME_MAX], cmd[CONF_NAME_MAX + 32];
	int full = rc->want_full;

	if (rc->in_flight)
		return;
	rc->want_any = rc->want_full = 0;
	if (cmdvec_add(&cv, "show info") < 0)
		goto fail;
	if (full) {
		if (cmdvec_add(&cv, "show servers state") < 0)
			goto fail;
	} else {
		for (size_t i = 0; i < rc->topo->n; i++) {
			struct group *g = rc->topo->groups[i];
			char (*ng)[TOPO_NAME_MAX];

			if (!g->dirty)
				continue;
			g->dirty = 0;
			if (!config_backends(rc->cfg, g->name, wb, sizeof(wb), rb, sizeof(rb)))
				continue;
			ng = realloc(rc->run_groups, (rc->nrun + 1) * sizeof(*ng));
			if (!ng)
				goto fail;
			rc->run_groups = ng;
			str_copy(rc->run_groups[rc->nrun++], g->name, TOPO_NAME_MAX);
			snprintf(cmd, sizeof(cmd), "show servers state %s", wb);
			if (cmdvec_add(&cv, cmd) < 0)
				goto fail;
			if (rb[0]) {
				snprintf(cmd, sizeof(cmd), "show servers state %s", rb);
				if (cmdvec_add(&cv, cmd) < 0)
					goto fail;
			}
		}
		if (rc->nrun == 0) {
			cmdvec_free(&cv);
			return;
		}
	}
	rc->run_full = full;
	rc->in_flight = 1;
	if (hap_submit(rc->hap, (const char *const *)cv.v, cv.n, state_cb, rc) < 0) {
		log_err("haproxy: cannot queue a state read");
		rc->in_flight = 0;
	}
	cmdvec_free(&cv);
	return;
fail:
	log_err("reconcile: out of memory");
	cmdvec_free(&cv);
}

static void
soon_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	run(w->data);
}

static void
schedule(struct reconciler *rc, int full)
{
	rc->want_any = 1;
	if (full)
		rc->want_full = 1;
	if (rc->in_flight)
		return;
	if (!ev_is_active(&rc->soon)) {
		ev_timer_set(&rc->soon, 0., 0.);
		ev_timer_start(rc->loop, &rc->soon);
	}
}

struct reconciler *
rec_new(struct ev_loop *loop, const struct config *cfg, struct topo *topo, struct hap_client *hap)
{
	struct reconciler *rc = calloc(1, sizeof(*rc));

	if (!rc)
		return NULL;
	rc->loop = loop;
	rc->cfg = cfg;
	rc->topo = topo;
	rc->hap = hap;
	rc->stats.last_switch_apply_ms = -1;
	ev_timer_init(&rc->soon, soon_cb, 0., 0.);
	rc->soon.data = rc;
	return rc;
}

void
rec_free(struct reconciler *rc)
{
	if (!rc)
		return;
	ev_timer_stop(rc->loop, &rc->soon);
	while (rc->probes)
		probe_free(rc->probes);
	for (size_t i = 0; i < rc->nwarned; i++)
		free(rc->backend_warned[i]);
	free(rc->backend_warned);
	free(rc->run_groups);
	free(rc->meta);
	free(rc);
}

void
rec_set_journal(struct reconciler *rc, struct journal *j)
{
	rc->journal = j;
}

void
rec_get_stats(const struct reconciler *rc, struct rec_stats *out)
{
	*out = rc->stats;
}
