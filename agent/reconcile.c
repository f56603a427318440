#include "reconcile.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include "hapapi.h"
#include "log.h"
#include "oldworkers.h"
#include "plan.h"
#include "probe.h"
#include "resolve.h"
#include "tk.h"

/* One slot as the mirror keeps it (see struct rgroup): compact, the address
 * in binary. */
#define MSLOT_NAME 12
#define MIRROR_SLOTS 8     /* per backend; a group with more is always read */
struct mslot {
	char name[MSLOT_NAME];
	int32_t srv_id;
	uint16_t port;
	uint8_t admin_state;     /* HAP_ADMF_* (all below 0x100) */
	uint8_t op_state;
	uint8_t fam;             /* AF_INET, AF_INET6; 0: no address */
	uint8_t addr[16];
};

/* Per group, by id: the reconciler's own bookkeeping. */
struct rgroup {
	uint64_t serial;          /* the group's serial; another one: stale entry */
	int queued;               /* Q_DIRTY, Q_CHECK: in which queues it waits */
	uint64_t taken;           /* the run that took it last */
	int dirty;                /* the model changed: plan it */
	uint64_t planned_generation;  /* generation when last planned */
	int64_t switch_mono;      /* when the current master was chosen (monotonic ms) */
	int switch_acked;         /* HAProxy acknowledged writes to it since */
	int state_logged;         /* last group state logged */
	char hap_write_ready[ADDR_IP_MAX + 8];  /* what the write backend routes to after the last apply */
	int hap_read_ready;       /* ready servers in the read backend after the last apply */
	int hap_known;            /* the two fields above are known */
	int drifted;              /* counted as drift in the run being planned */
	/* The mirror: what HAProxy holds for the group's backends as far as
	 * the agent knows (the rows of its last read, and every command
	 * planned since, as if applied): the write slots, then the read
	 * slots. A switch is planned from it at once, without a read (see
	 * fast_run). */
	struct mslot *mirror[2];  /* owned: the write backend's slots, the read backend's */
	unsigned char mn[2];      /* slots in each */
	unsigned char mok[2];     /* those rows are known */
	uint64_t mseq;            /* plans made from the mirror */
	uint64_t read_mseq;       /* mseq when the read in flight took the group */
};

#define Q_DIRTY 1
#define Q_CHECK 2

/* A queue of group ids (with serials, a group may vanish meanwhile). */
struct idq {
	struct { uint32_t id; uint64_t serial; } *v;
	size_t n, cap;
};

/* What an applied command was for. */
struct plan_meta {
	uint32_t gid;
	uint64_t gserial;
	int write_ready;         /* the READY of a write backend's master */
	int shutdown;            /* a "shutdown sessions" (write backends only, plan.c) */
	int later;               /* may go after the run's other commands (a write slot left in maint) */
	int read_side;           /* for a read backend: may wait for the write backends' commands */
	int64_t switch_mono;
};

/* A planned command not handed to HAProxy yet. */
struct pcmd {
	char *text;              /* owned; NULL: dropped (its group is planned again) */
	struct plan_meta meta;
};

/* One apply batch in HAProxy's queue: its commands' meta, in order. */
struct apply_batch {
	struct reconciler *rc;
	struct apply_batch *prev, *next;
	size_t n;
	struct plan_meta meta[];
};

/* Applying: planned commands wait in the reconciler (rc->pend) and go to
 * HAProxy in batches of one request line (REC_APPLY_BYTES), at most
 * REC_APPLY_DEPTH batches queued at a time. So a big reapply (a restart:
 * thousands of commands) no longer holds the next run back: the next run's
 * state read waits behind at most REC_APPLY_DEPTH batches, and its commands
 * go before the ones still waiting.
 * Order: HAProxy runs the batches and reads of one client in order. When a
 * run's state read is queued, the waiting commands of the run's groups are
 * dropped (the run plans those groups again from what the read shows), so
 * no command planned from an older read runs after a newer read of the same
 * backends: every group's commands still come from one plan (plan.h) made
 * from the state they are applied to, or a prefix of it. */
#define REC_APPLY_BYTES 8000
#define REC_APPLY_DEPTH 2
/* With more than REC_APPLY_BIG lines' worth waiting (a restart's reapply,
 * a mass failover), a batch takes REC_APPLY_BIG lines, in one connection
 * (haproxy.h): HAProxy answers them with no loop iteration of ours in
 * between, and a switch still waits behind at most 2 x REC_APPLY_BIG lines.
 * 8 lines (a whole connection) made a mass failover's p99 worse (bench/SCALE.md). */
#define REC_APPLY_BIG 4
/* The heap is trimmed (malloc_trim) at a tick at least this long after the
 * last time, at the first tick after the resident memory grew by
 * REC_TRIM_FREE since then, and once a big run's commands are all sent. */
#define REC_TRIM_MS 10000
#define REC_TRIM_FREE ((size_t)1 << 20)

struct reconciler {
	struct ev_loop *loop;
	const struct config *cfg;
	struct topo *topo;
	struct hap_client *hap;
	struct prober *prober;
	ev_timer soon;           /* 0 s timer: coalesces requests of one loop iteration */
	int in_flight;           /* a run reads HAProxy's state (its plan is not made yet) */
	int hap_verified;        /* a "show info" was read since the watch last came back */
	struct idq fast;         /* groups planned from their mirror (fast_run) */
	int want_run;            /* a run is wanted (at least "show info") */
	int want_full;           /* read and plan every group */
	uint64_t resync_gen;     /* rec_resync() calls so far */
	uint64_t run_gen;        /* resync_gen when the run in flight began */
	uint64_t full_gen;       /* run_gen of the last full run planned */
	uint64_t ticks;
	long hap_pid;
	long hap_uptime;
	struct rec_stats stats;
	struct rgroup *rg;       /* by group id */
	size_t nrg;
	struct idq dirty, check; /* groups waiting for a run: model changes first */
	size_t check_cursor;     /* next group of the spread consistency check */
	/* the run in flight */
	struct idq run;
	uint64_t run_seq;
	int run_full;
	struct plan plan;        /* reused from run to run */
	struct plan_target *targets;
	size_t targetcap;
	struct plan_meta *meta;  /* per command of the apply batch */
	size_t nmeta, metacap;
	const char **cmdp;       /* command pointers of a batch */
	size_t cmdpcap;
	struct pcmd *pend;       /* planned, not yet sent: pend[pend_head .. npend) */
	size_t pend_head, npend, pendcap;
	int applies_out;         /* apply batches queued in HAProxy's client */
	int shrink_wanted;       /* a big run was planned: shrink() once all is sent */
	int64_t shrunk_ms;       /* monotonic ms of the last shrink() */
	long long shrunk_rss;    /* the resident bytes right after it, -1 unknown */
	struct apply_batch *batches;  /* those batches (freed with the reconciler) */
	char **backend_warned;   /* backends HAProxy does not have: warned once */
	size_t nwarned;
	struct journal *journal;
	struct oldworkers *oldw;        /* borrowed; NULL none */
	struct resolver *resolver;   /* borrowed; NULL: hostnames never resolve */
};

const double rec_apply_bounds[REC_APPLY_BUCKETS - 1] = {
	0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1.0,
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

static void schedule(struct reconciler *rc);
static void shrink(struct reconciler *rc);

#define JADD(rc, ...) do { if ((rc)->journal) journal_add((rc)->journal, now_wall_ms(), __VA_ARGS__); } while (0)
#define JSTAGE(rc, ...) do { if ((rc)->journal) (void)journal_stage((rc)->journal, __VA_ARGS__); } while (0)

/* ---------------------------------------------------------------- per group */

static struct rgroup *
rgroup_get(struct reconciler *rc, const struct group *g)
{
	struct rgroup *r;

	if (g->id >= rc->nrg) {
		size_t old = rc->nrg;

		if (tk_grow(&rc->rg, &rc->nrg, (size_t)g->id + 1, sizeof(*rc->rg)) < 0)
			return NULL;
		memset(rc->rg + old, 0, (rc->nrg - old) * sizeof(*rc->rg));
	}
	r = &rc->rg[g->id];
	if (r->serial != g->serial) {
		free(r->mirror[0]);
		free(r->mirror[1]);
		memset(r, 0, sizeof(*r));
		r->serial = g->serial;
	}
	return r;
}

static const struct rgroup *
rgroup_peek(const struct reconciler *rc, const struct group *g)
{
	return g->id < rc->nrg && rc->rg[g->id].serial == g->serial ? &rc->rg[g->id] : NULL;
}

/* The group a planned command is for, while it is the same one. */
static struct group *
meta_grp(const struct reconciler *rc, const struct plan_meta *m)
{
	struct group *g = topo_by_id(rc->topo, m->gid);

	return g && g->serial == m->gserial ? g : NULL;
}

/* ---------------------------------------------------------------- mirror */

static void
mirror_forget(struct rgroup *r)
{
	r->mok[0] = r->mok[1] = 0;
}

/* Keep rows (one backend's, in HAProxy's order) as the mirror of that
 * backend (which: 0 write, 1 read). -1 when they do not fit (more than
 * MIRROR_SLOTS, a long name, an address that is no IP literal): that
 * backend is then read before every plan, as before the mirror. */
static int
mirror_load(struct rgroup *r, int which, const struct hap_server *rows, size_t n)
{
	struct mslot *m;

	r->mok[which] = 0;
	if (n > MIRROR_SLOTS)
		return -1;
	if (n != r->mn[which] || !r->mirror[which]) {
		m = realloc(r->mirror[which], (n ? n : 1) * sizeof(*m));
		if (!m)
			return -1;
		r->mirror[which] = m;
		r->mn[which] = (unsigned char)n;
	}
	m = r->mirror[which];
	for (size_t i = 0; i < n; i++) {
		const struct hap_server *h = &rows[i];
		struct mslot *x = &m[i];
		size_t l = strlen(h->name);

		if (l >= sizeof(x->name) || h->port < 0 || h->port > 65535 || h->admin_state > 0xff ||
		    h->op_state < 0 || h->op_state > 0xff)
			return -1;
		memset(x, 0, sizeof(*x));
		memcpy(x->name, h->name, l + 1);   /* never x's own: see mirror_rows */
		x->srv_id = h->srv_id;
		x->port = (uint16_t)h->port;
		x->admin_state = (uint8_t)h->admin_state;
		x->op_state = (uint8_t)h->op_state;
		if (strcmp(h->addr, "-") == 0)
			x->fam = 0;   /* no address yet (init-addr none) */
		else if (inet_pton(AF_INET, h->addr, x->addr) == 1)
			x->fam = AF_INET;
		else if (inet_pton(AF_INET6, h->addr, x->addr) == 1)
			x->fam = AF_INET6;
		else
			return -1;
	}
	r->mok[which] = 1;
	return 0;
}

/* The mirror of one backend (named be) as rows, into rows[MIRROR_SLOTS];
 * their names are copied into names (so that mirror_load() may write the
 * mirror back from these rows). */
static size_t
mirror_rows(const struct rgroup *r, int which, const char *be, struct hap_server *rows,
	    char (*names)[MSLOT_NAME])
{
	const struct mslot *m = r->mirror[which];
	size_t n = r->mn[which];

	for (size_t i = 0; i < n; i++) {
		struct hap_server *h = &rows[i];

		memset(h, 0, sizeof(*h));
		h->backend = be;
		memcpy(names[i], m[i].name, sizeof(names[i]));
		h->name = names[i];
		h->srv_id = m[i].srv_id;
		h->port = m[i].port;
		h->admin_state = m[i].admin_state;
		h->op_state = m[i].op_state;
		if (!m[i].fam || !inet_ntop(m[i].fam, m[i].addr, h->addr, sizeof(h->addr)))
			str_copy(h->addr, "-", sizeof(h->addr));
	}
	return n;
}

/* mirror_rows() appended to st, the names copied into st's arena (they
 * must outlive the local buffers while st is planned from). 0, or -1 when
 * out of memory (st.n is then as before). */
static int
mirror_rows_to_state(const struct rgroup *r, int which, const char *be, struct hap_state *st)
{
	char names[MIRROR_SLOTS][MSLOT_NAME];
	struct hap_server *rows = st->srv + st->n;
	size_t k = mirror_rows(r, which, be, rows, names);
	const char *b = tk_arena_strndup(&st->names, be, strlen(be));

	if (!b)
		return -1;
	for (size_t i = 0; i < k; i++) {
		rows[i].backend = b;
		rows[i].name = tk_arena_strndup(&st->names, names[i], strlen(names[i]));
		if (!rows[i].name)
			return -1;
	}
	st->n += k;
	return 0;
}

/* The commands just planned for one backend of r, as if HAProxy had run
 * them: the mirror is what they leave. A command that fails, or is dropped
 * before it is sent, makes the group's mirror unknown (read again). */
static void
mirror_apply(struct rgroup *r, int which, const char *be, const struct plan_cmd *cmds, size_t n,
	     const struct plan_target *t, size_t nt)
{
	struct hap_server rows[MIRROR_SLOTS];
	char names[MIRROR_SLOTS][MSLOT_NAME];
	size_t k;

	if (!n || !r->mok[which])
		return;
	k = mirror_rows(r, which, be, rows, names);
	plan_apply(rows, k, t, nt, cmds, n);
	(void)mirror_load(r, which, rows, k);
}

static int
idq_push(struct idq *q, const struct group *g)
{
	if (tk_grow(&q->v, &q->cap, q->n + 1, sizeof(*q->v)) < 0)
		return -1;
	q->v[q->n].id = g->id;
	q->v[q->n].serial = g->serial;
	q->n++;
	return 0;
}

/* The group of queue entry i, NULL when it is gone. */
static struct group *
idq_group(const struct reconciler *rc, const struct idq *q, size_t i)
{
	struct group *g = topo_by_id(rc->topo, q->v[i].id);

	return g && g->serial == q->v[i].serial ? g : NULL;
}

/* Queue g for the next run: as dirty (its model changed) or for a check. */
static void
enqueue(struct reconciler *rc, struct group *g, int dirty)
{
	struct rgroup *r = rgroup_get(rc, g);
	int bit = dirty ? Q_DIRTY : Q_CHECK;

	if (!r)
		return;
	if (dirty)
		r->dirty = 1;
	/* Dirty groups go first: a group waiting for a check that changes
	 * joins the dirty queue too (a run takes it once). */
	if ((r->queued & Q_DIRTY) || (r->queued & bit))
		return;
	if (idq_push(dirty ? &rc->dirty : &rc->check, g) == 0)
		r->queued |= bit;
}

int
rec_group_haproxy(const struct reconciler *rc, const struct group *g, struct rec_hap_view *out)
{
	const struct rgroup *r = rgroup_peek(rc, g);

	memset(out, 0, sizeof(*out));
	if (!r || !r->hap_known)
		return 0;
	str_copy(out->write_ready, r->hap_write_ready, sizeof(out->write_ready));
	out->read_ready = r->hap_read_ready;
	return 1;
}

static void
forget_haproxy(struct reconciler *rc)
{
	for (size_t i = 0; i < rc->nrg; i++) {
		rc->rg[i].hap_known = 0;
		mirror_forget(&rc->rg[i]);
	}
}

/* What HAProxy holds is unknown now (the mirrors count commands that were
 * not applied): read and plan every group again. */
static void
reread_all(struct reconciler *rc)
{
	forget_haproxy(rc);
	rc->want_full = 1;
	schedule(rc);
}

/* The prober learnt something that changes what HAProxy should look like. */
static void
on_probe_changed(void *arg, struct group *g)
{
	struct reconciler *rc = arg;

	enqueue(rc, g, 1);
	schedule(rc);
}

/* ---------------------------------------------------------------- hostnames */

static void log_state_change(struct reconciler *rc, struct group *g);

/* The model gets the addresses the resolver knows now (topo.h: a name's
 * address; unknown is never a switch). Returns 1 when something changed;
 * *pending is set when a name of g has not been answered yet. */
static int
resolve_sync(struct reconciler *rc, struct group *g, int *pending)
{
	char addr[ADDR_IP_MAX], was[ADDR_IP_MAX], m[ADDR_IP_MAX + 8];
	int changed = 0, master_moved = 0;

	*pending = 0;
	if (g->master_ip[0] && !addr_is_ip(g->master_ip)) {
		str_copy(was, g->master_addr, sizeof(was));
		if (resolver_lookup(rc->resolver, g->master_ip, addr, sizeof(addr)) == RESOLVE_PENDING)
			*pending = 1;
		if (topo_master_resolved(g, addr)) {
			changed = master_moved = 1;
			addr_format(m, sizeof(m), g->master_ip, g->master_port);
			if (was[0] && addr[0])
				log_warn("%s: master %s moved from %s to %s: ROLE is asked there before writes go to it",
					 g->name, m, was, addr);
			else if (addr[0])
				log_info("%s: master %s is at %s", g->name, m, addr);
			else
				log_warn("%s: master %s does not resolve: no write target until it does", g->name, m);
			JADD(rc, "agent", "", g->name, "resolved", "master %s at %s", m, addr[0] ? addr : "(unknown)");
		}
	}
	for (size_t i = 0; i < g->nnodes; i++) {
		struct node *n = &g->nodes[i];

		if (addr_is_ip(n->ip))
			continue;
		if (resolver_lookup(rc->resolver, n->ip, addr, sizeof(addr)) == RESOLVE_PENDING)
			*pending = 1;
		changed |= topo_node_resolved(g, n, addr);
	}
	if (master_moved)
		prober_now(rc->prober, g);
	else if (changed)
		prober_check(rc->prober, g);
	return changed;
}

static int
group_names(const struct group *g, const char *name)
{
	if (strcasecmp(g->master_ip, name) == 0)
		return 1;
	for (size_t i = 0; i < g->nnodes; i++)
		if (strcasecmp(g->nodes[i].ip, name) == 0)
			return 1;
	return 0;
}

void
rec_name_changed(struct reconciler *rc, const char *name)
{
	for (size_t i = 0; i < rc->topo->n; i++) {
		struct group *g = rc->topo->groups[i];

		int pending;

		if (!group_names(g, name))
			continue;
		(void)resolve_sync(rc, g, &pending);
		log_state_change(rc, g);
		enqueue(rc, g, 1);
	}
	schedule(rc);
}

void
rec_set_resolver(struct reconciler *rc, struct resolver *res)
{
	rc->resolver = res;
}

/* ---------------------------------------------------------------- decisions */

static void
log_state_change(struct reconciler *rc, struct group *g)
{
	enum group_state s = rec_group_state(rc, g);
	struct rgroup *r = rgroup_get(rc, g);

	if (!r || (int)s == r->state_logged)
		return;
	/* The first state of a group is not news, except when it is bad. */
	if (r->state_logged != 0 || s == GS_FROZEN || s == GS_DISAGREE)
		JADD(rc, "agent", "", g->name, "state", "%s -> %s", group_state_name((enum group_state)r->state_logged),
		     group_state_name(s));
	r->state_logged = (int)s;
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
	struct rgroup *r;
	int pending;

	(void)resolve_sync(rc, g, &pending);

	switch (d) {
	case TOPO_NEW_MASTER:
		if ((r = rgroup_get(rc, g))) {
			r->switch_mono = now_mono_ms();
			r->switch_acked = 0;
		}
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
		prober_new_master(rc->prober, g);
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
	prober_check(rc->prober, g);
	log_state_change(rc, g);
	enqueue(rc, g, 1);
	schedule(rc);
}

/* The next slice of the consistency check: REC_CHECK_MIN groups or a
 * REC_CHECK_TICKS-th of them, whichever is more. */
static void
check_slice(struct reconciler *rc)
{
	size_t n = rc->topo->n, k = (n + REC_CHECK_TICKS - 1) / REC_CHECK_TICKS;

	if (k < REC_CHECK_MIN)
		k = REC_CHECK_MIN;
	if (k >= n) {
		rc->check_cursor = 0;
		for (size_t i = 0; i < n; i++)
			enqueue(rc, rc->topo->groups[i], 0);
		return;
	}
	if (rc->check_cursor >= n)
		rc->check_cursor = 0;
	for (size_t i = 0; i < k; i++)
		enqueue(rc, rc->topo->groups[(rc->check_cursor + i) % n], 0);
	rc->check_cursor = (rc->check_cursor + k) % n;
}

void
rec_tick(struct reconciler *rc)
{
	int64_t now = now_mono_ms(), wall = now_wall_ms();

	rc->ticks++;
	/* Every REC_TRIM_MS, and at the first tick after the resident memory
	 * grew by more than REC_TRIM_FREE (whatever the resync interval): the
	 * heap a burst left behind goes back at once, not ten intervals
	 * later. (Not the heap's own count of free bytes: mallinfo2() walks
	 * every free chunk, at 10 000 groups about 25 ms a tick.) */
	if (!rc->in_flight && !rc->applies_out &&
	    (now - rc->shrunk_ms >= REC_TRIM_MS ||
	     (rc->shrunk_rss >= 0 && self_rss_bytes() > rc->shrunk_rss + (long long)REC_TRIM_FREE)))
		shrink(rc);
	for (size_t i = 0; i < rc->topo->n; i++) {
		struct group *g = rc->topo->groups[i];

		(void)topo_decide(rc->topo, g, now, wall);
		log_state_change(rc, g);
	}
	prober_tick(rc->prober);
	check_slice(rc);
	rc->want_run = 1;
	schedule(rc);
}

uint64_t
rec_resync(struct reconciler *rc)
{
	rc->resync_gen++;
	rc->want_full = 1;
	rec_tick(rc);
	return rc->resync_gen;
}

int
rec_resync_done(const struct reconciler *rc, uint64_t gen)
{
	return rc->full_gen >= gen && !rc->in_flight && !rc->want_run && !rc->want_full &&
	       !rc->dirty.n && !rc->applies_out && rc->pend_head == rc->npend;
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

static void run(struct reconciler *rc);
static void fast_run(struct reconciler *rc);

/* The plan's buffers have grown past what a tick needs (and with
 * shrink_worth, the queue's). */
static int
plan_bufs_big(const struct reconciler *rc)
{
	return rc->plan.cap > 512 || rc->plan.tcap > 65536 || rc->metacap > 512;
}

static int
shrink_worth(const struct reconciler *rc)
{
	return plan_bufs_big(rc) || rc->pendcap > 512;
}

/* Give memory back after a big run (a restart, a mass failover): the
 * plan's buffers shrink, and the heap's free megabytes go back to the
 * system (glibc keeps them otherwise). */
static void
shrink(struct reconciler *rc)
{
	if (plan_bufs_big(rc)) {
		plan_free(&rc->plan);
		plan_init(&rc->plan);
		free(rc->meta);
		rc->meta = NULL;
		rc->metacap = rc->nmeta = 0;
		free(rc->cmdp);
		rc->cmdp = NULL;
		rc->cmdpcap = 0;
	}
	if (rc->npend == rc->pend_head && rc->pendcap > 512) {
		free(rc->pend);
		rc->pend = NULL;
		rc->pendcap = rc->npend = rc->pend_head = 0;
	}
#ifdef __GLIBC__
	(void)malloc_trim(0);
#endif
	rc->shrunk_ms = now_mono_ms();
	rc->shrunk_rss = self_rss_bytes();
}

/* The run's plan is made (and queued): the next run may read. Memory is
 * given back once the queue has drained (malloc_trim() walks the heap:
 * not while a restart's reapply is being sent). */
static void
run_done(struct reconciler *rc)
{
	/* A big run, or buffers grown big over many small runs (the first
	 * fill comes group by group as the Sentinels answer). */
	if (rc->run.n > 100 || shrink_worth(rc))
		rc->shrink_wanted = 1;
	if (rc->shrink_wanted && !rc->applies_out && rc->pend_head == rc->npend) {
		rc->shrink_wanted = 0;
		shrink(rc);
	}
	if (rc->run_full)
		rc->full_gen = rc->run_gen;
	rc->in_flight = 0;
	rc->run.n = 0;
	rc->nmeta = 0;
	if (rc->want_run || rc->want_full || rc->dirty.n || rc->check.n)
		schedule(rc);
}

static const char *
meta_group(const struct reconciler *rc, const struct plan_meta *m)
{
	const struct group *g = meta_grp(rc, m);

	return g ? g->name : "";
}

/* ---------------------------------------------------------------- applying */

/* Past the commands at the head that are gone (sent or dropped); an
 * empty queue starts again at 0. */
static void
pend_trim(struct reconciler *rc)
{
	while (rc->pend_head < rc->npend && !rc->pend[rc->pend_head].text)
		rc->pend_head++;
	if (rc->pend_head >= rc->npend)
		rc->pend_head = rc->npend = 0;
}

/* Drop the waiting commands: all, or those of the groups the current run
 * took. Their groups are planned again from a newer read, not counted as
 * drift then (HAProxy did not differ: the commands were not sent). */
static void
pend_drop(struct reconciler *rc, int all)
{
	for (size_t i = rc->pend_head; i < rc->npend; i++) {
		struct pcmd *c = &rc->pend[i];
		struct group *g;
		struct rgroup *r;

		if (!c->text)
			continue;
		g = meta_grp(rc, &c->meta);
		r = g ? rgroup_get(rc, g) : NULL;
		if (!all && (!r || r->taken != rc->run_seq))
			continue;
		free(c->text);
		c->text = NULL;
		if (r) {
			r->planned_generation = 0;
			/* it counted the dropped command as run */
			mirror_forget(r);
		}
	}
	pend_trim(rc);
}

/* Queue the plan's commands. A read's plan goes in front of those still
 * waiting: a newer run's groups have none among them (pend_drop), and
 * commands of different backends do not depend on each other, so a switch
 * planned from a read does not wait behind a restart's reapply. Plans from
 * the mirrors (at_back) go behind them, in the order they were made: a
 * group's commands still waiting are in its mirror already, so its new
 * ones must follow them; and first planned, first sent keeps every
 * switch's wait short when thousands come at once. -1
 * when out of memory (nothing queued). */
static int
pend_add_plan(struct reconciler *rc, int at_back)
{
	const struct plan *pl = &rc->plan;
	size_t left = rc->npend - rc->pend_head, n = pl->n, i, base;
	struct pcmd *v;

	if (n == 0)
		return 0;
	if (!at_back && rc->pend_head >= n) {
		v = rc->pend;
		rc->pend_head -= n;
		base = rc->pend_head;
	} else {
		size_t cap = rc->pendcap;

		if (left + n > cap || !rc->pend) {
			cap = cap ? cap : 64;
			while (cap < left + n)
				cap *= 2;
			v = malloc(cap * sizeof(*v));
			if (!v)
				return -1;
		} else {
			v = rc->pend;
		}
		if (left)
			memmove(v + (at_back ? 0 : n), rc->pend + rc->pend_head, left * sizeof(*v));
		if (v != rc->pend) {
			free(rc->pend);
			rc->pend = v;
			rc->pendcap = cap;
		}
		rc->pend_head = 0;
		rc->npend = left + n;
		base = at_back ? left : 0;
	}
	/* Commands marked later (plan_group) after all the others. */
	i = 0;
	for (int later = 0; later < 2; later++) {
		for (size_t j = 0; j < n; j++) {
			struct pcmd *c = &v[base + i];
			int lt = j < rc->nmeta && rc->meta[j].later;

			if (lt != later)
				continue;
			memset(&c->meta, 0, sizeof(c->meta));
			if (j < rc->nmeta)
				c->meta = rc->meta[j];
			c->text = strdup(pl->cmds[j].text);
			if (!c->text) {
				/* never half a plan: none of it is queued */
				for (size_t k = 0; k < i; k++) {
					free(v[base + k].text);
					v[base + k].text = NULL;
				}
				for (; i < n; i++)
					v[base + i].text = NULL;
				if (at_back)
					rc->npend = base;
				pend_trim(rc);
				return -1;
			}
			i++;
		}
	}
	return 0;
}

static void apply_cb(void *arg, int status, const char *const *cmds, size_t n_cmds,
		     const struct hap_reply *replies, size_t n_replies, const char *err);

/* Hand waiting commands to HAProxy's client, a request line at a time, up
 * to REC_APPLY_DEPTH batches queued. */
static void
pump(struct reconciler *rc)
{
	while (rc->applies_out < REC_APPLY_DEPTH && rc->pend_head < rc->npend) {
		size_t i, n = 0, bytes = 0, k = 0, max = REC_APPLY_BYTES;
		struct apply_batch *b;

		/* about 45 bytes a command */
		if ((rc->npend - rc->pend_head) * 45 > (size_t)REC_APPLY_BIG * REC_APPLY_BYTES * 2)
			max = (size_t)REC_APPLY_BIG * REC_APPLY_BYTES;

		/* Write backends' commands first, then the read backends':
		 * each backend's commands stay in their order, and different
		 * backends do not depend on each other. So a switch's READY
		 * does not wait behind read-side work queued before it; and
		 * a batch with write-side commands takes no read-side ones,
		 * so that their answer does not wait for those either. */
		for (int side = 0; side < 2; side++) {
			for (i = rc->pend_head; i < rc->npend; i++) {
				size_t l;

				if (!rc->pend[i].text || rc->pend[i].meta.read_side != side)
					continue;
				l = strlen(rc->pend[i].text) + 1;
				if (n && bytes + l > max)
					break;
				bytes += l;
				n++;
			}
			if (i < rc->npend || n > 0)
				break;   /* full, or the write side's */
		}
		if (n == 0) {
			rc->pend_head = rc->npend = 0;
			break;
		}
		b = malloc(sizeof(*b) + n * sizeof(b->meta[0]));
		if (!b || (n > rc->cmdpcap && tk_grow(&rc->cmdp, &rc->cmdpcap, n, sizeof(*rc->cmdp)) < 0)) {
			free(b);
			log_err("reconcile: out of memory");
			return;
		}
		b->rc = rc;
		b->n = n;
		for (int side = 0; side < 2 && k < n; side++) {
			for (i = rc->pend_head; i < rc->npend && k < n; i++) {
				struct pcmd *c = &rc->pend[i];

				if (!c->text || c->meta.read_side != side)
					continue;
				rc->cmdp[k] = c->text;
				b->meta[k] = c->meta;
				c->text = NULL;   /* handed out: freed below */
				if (c->meta.write_ready)
					JSTAGE(rc, meta_group(rc, &c->meta), TL_HAPROXY_SENT, now_wall_ms(), NULL, NULL, 0);
				k++;
			}
		}
		pend_trim(rc);
		rc->stats.commands_sent += n;
		if (hap_submit(rc->hap, rc->cmdp, n, apply_cb, b) < 0) {
			log_err("haproxy: cannot queue %zu commands", n);
			free(b);
			reread_all(rc);
		} else {
			b->prev = NULL;
			b->next = rc->batches;
			if (rc->batches)
				rc->batches->prev = b;
			rc->batches = b;
			rc->applies_out++;
		}
		for (k = 0; k < n; k++)
			free((char *)rc->cmdp[k]);
	}
}

/* Step 4's answer: HAProxy acknowledged (or refused) each command of one
 * batch. */
static void
apply_cb(void *arg, int status, const char *const *cmds, size_t n_cmds,
	 const struct hap_reply *replies, size_t n_replies, const char *err)
{
	struct apply_batch *batch = arg;
	struct reconciler *rc = batch->rc;
	const struct plan_meta *meta = batch->meta;
	size_t nmeta = batch->n;
	int64_t now = now_mono_ms();
	int demoted = 0;

	for (size_t i = 0; i < n_replies && i < n_cmds; i++) {
		int ok = hap_reply_ok(cmds[i], replies[i].text, replies[i].len);
		const char *gname = i < nmeta ? meta_group(rc, &meta[i]) : "";

		if (rc->journal)
			journal_cmd(rc->journal, now_wall_ms(), cmds[i], replies[i].text, replies[i].len, ok);
		if (!ok) {
			struct group *fg = i < nmeta ? meta_grp(rc, &meta[i]) : NULL;
			struct rgroup *fr = fg ? rgroup_get(rc, fg) : NULL;

			/* What the command left is unknown: read it again. */
			if (fr) {
				mirror_forget(fr);
				enqueue(rc, fg, 1);
				schedule(rc);
			}
			rc->stats.commands_failed++;
			log_err("haproxy: '%s' failed: %.*s", cmds[i], (int)(replies[i].len > 200 ? 200 : replies[i].len),
				replies[i].text);
			JADD(rc, "haproxy", "", gname, "command-failed", "%s: %.*s",
			     cmds[i], (int)(replies[i].len > 120 ? 120 : replies[i].len), replies[i].text);
			continue;
		}
		log_info("haproxy: %s", cmds[i]);
		JADD(rc, "haproxy", "", gname, "command", "%s", cmds[i]);
		if (i < nmeta && meta[i].shutdown)
			demoted = 1;
		if (i < nmeta && meta[i].write_ready) {
			struct group *g = meta_grp(rc, &meta[i]);
			struct rgroup *r = g ? rgroup_get(rc, g) : NULL;
			int64_t ms = now - meta[i].switch_mono;

			/* Only the first time after a decision is a switch's
			 * latency; later ones put a restarted HAProxy back. */
			if (!r || r->switch_acked)
				continue;
			r->switch_acked = 1;

			rc->stats.last_switch_apply_ms = ms;
			rc->stats.apply_count++;
			rc->stats.apply_sum_s += ms / 1000.0;
			for (int b = 0; b < REC_APPLY_BUCKETS; b++)
				if (b == REC_APPLY_BUCKETS - 1 || ms / 1000.0 <= rec_apply_bounds[b])
					rc->stats.apply_buckets[b]++;
			log_info("%s: writes go to %s, %lld ms after the decision", g->name,
				 r->hap_write_ready, (long long)ms);
			JADD(rc, "agent", "", g->name, "writes-routed", "writes go to %s, %lld ms after the decision",
			     r->hap_write_ready, (long long)ms);
			JSTAGE(rc, g->name, TL_HAPROXY_ACKED, now_wall_ms(), NULL, NULL, 0);
		}
	}
	if (batch->prev)
		batch->prev->next = batch->next;
	else
		rc->batches = batch->next;
	if (batch->next)
		batch->next->prev = batch->prev;
	free(batch);
	rc->applies_out--;
	if (demoted)
		oldw_kick(rc->oldw);
	if (status < 0) {
		rc->stats.commands_failed += n_cmds - n_replies;
		log_warn("haproxy: %zu of %zu commands not applied: %s", n_cmds - n_replies, n_cmds, err);
		/* What HAProxy holds is unknown now: read it all again. */
		pend_drop(rc, 1);
		reread_all(rc);
	}
	pump(rc);
	if (rc->shrink_wanted && !rc->applies_out && rc->pend_head == rc->npend && !rc->in_flight) {
		rc->shrink_wanted = 0;
		shrink(rc);
	}
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
			    g->master_addr[0] && addr_ip_equal(slots[i].addr, g->master_addr))
				master_ready = 1;
	}
	if (!write)
		master_ready = topo_master_read_target(g, rc->cfg->master_reads, now_wall_ms());
	/* A name that does not resolve (and was never confirmed): no target. */
	if (!g->master_addr[0])
		master_ready = -1;
	if (master_ready >= 0) {
		/* Leaving the read backend (fallback, a replica is ready again)
		 * is a plain maint: reads on the master are harmless, its open
		 * sessions finish on their own (plan.h). */
		str_copy(t[n].ip, g->master_addr, sizeof(t[n].ip));
		t[n].port = g->master_port;
		t[n].ready = master_ready;
		n++;
	}
	for (size_t i = 0; i < g->nnodes && n < max; i++) {
		const struct node *nd = &g->nodes[i];

		if (nd->port == g->master_port && addr_ip_equal(nd->ip, g->master_ip))
			continue;
		/* HAProxy's "set server addr" takes IP literals: a name that does
		 * not resolve is unknown, not a target. */
		if (!nd->addr[0] || (nd->port == g->master_port && addr_ip_equal(nd->addr, g->master_addr)))
			continue;
		str_copy(t[n].ip, nd->addr, sizeof(t[n].ip));
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

/* ---------------------------------------------------------------- write lease */

/* The configured Sentinels as "ip:port", for topo_sentinels_known(). */
struct conf_sents {
	char a[CONF_MAX_SENTINELS][ADDR_IP_MAX + 8];
	const char *p[CONF_MAX_SENTINELS];
	int n;
};

static void
conf_sents_init(const struct config *cfg, struct conf_sents *cs)
{
	cs->n = cfg->nsentinels < CONF_MAX_SENTINELS ? cfg->nsentinels : CONF_MAX_SENTINELS;
	for (int i = 0; i < cs->n; i++)
		cs->p[i] = addr_format(cs->a[i], sizeof(cs->a[i]), cfg->sentinels[i].host, cfg->sentinels[i].port);
}

/* The majority lease (topo.h F3) of g, evaluated now; logged and journaled
 * when it changes. Returns 1 when it changed. */
static int
lease_apply(struct reconciler *rc, struct group *g, const struct conf_sents *cs)
{
	int was = g->lease;

	if (!topo_lease_eval(rc->topo, g, rc->cfg->write_lease && g->master_ip[0],
			     topo_sentinels_known(g, cs->p, cs->n), rc->cfg->write_lease_ms, now_mono_ms()))
		return 0;
	if (g->lease == LEASE_LOST) {
		log_warn("%s: write lease lost: %d of %d Sentinels confirmed %s:%d within %lld ms",
			 g->name, g->lease_votes, g->lease_known, g->master_ip, g->master_port,
			 (long long)g->lease_ms);
		JADD(rc, "agent", "", g->name, "lease-lost", "%d of %d Sentinels within %lld ms", g->lease_votes,
		     g->lease_known, (long long)g->lease_ms);
	} else if (was == LEASE_LOST) {
		log_info("%s: write lease held again: %d of %d Sentinels confirmed %s:%d", g->name,
			 g->lease_votes, g->lease_known, g->master_ip, g->master_port);
		JADD(rc, "agent", "", g->name, "lease-held", "%d of %d Sentinels within %lld ms", g->lease_votes,
		     g->lease_known, (long long)g->lease_ms);
	}
	return 1;
}

int64_t
rec_lease_tick(struct reconciler *rc)
{
	int64_t min = 0;
	struct conf_sents cs;

	conf_sents_init(rc->cfg, &cs);
	for (size_t i = 0; i < rc->topo->n; i++) {
		struct group *g = rc->topo->groups[i];

		if (lease_apply(rc, g, &cs)) {
			enqueue(rc, g, 1);
			schedule(rc);
		}
		if (g->lease_ms > 0 && (min == 0 || g->lease_ms < min))
			min = g->lease_ms;
	}
	return min;
}

/* Early fence (topo.h F1-F3), applied when a group is planned: every
 * change (a refusal seen by fence.c, +odown, a ROLE answer, the lease)
 * plans it. */
static void
fence_apply(struct reconciler *rc, struct group *g)
{
	unsigned sig = (rc->cfg->fence_on_reset ? TOPO_FENCE_ON_RESET : 0u) |
		       (rc->cfg->fence_on_odown ? TOPO_FENCE_ON_ODOWN : 0u) |
		       (rc->cfg->write_lease ? TOPO_FENCE_ON_LEASE : 0u);
	int was = g->fence;
	char a[ADDR_IP_MAX + 8];
	struct conf_sents cs;

	conf_sents_init(rc->cfg, &cs);
	(void)lease_apply(rc, g, &cs);
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
		/* Lifted with the same master: no failover followed, and the
		 * timeline record the fence opened ends as such (a new master
		 * leaves the record to the switch). */
		if (g->fence == FENCE_NONE && strcmp(a, m) == 0 && rc->journal)
			(void)journal_master_back(rc->journal, g->name, now_wall_ms(), a);
	}
	JADD(rc, "agent", "", g->name, g->fence != FENCE_NONE ? "fenced" : "unfenced", "%s: %s -> %s", a,
	     topo_fence_name(was), topo_fence_name(g->fence));
	if (g->confirmed != 1)
		prober_now(rc->prober, g);
}

/* Plan one group; returns the number of commands added (-1 out of memory). */
static int
plan_group(struct reconciler *rc, struct group *g, const struct hap_state *st, int st_is_mirror, struct plan *pl,
	   int pass)
{
	char wb[CONF_NAME_MAX], rb[CONF_NAME_MAX], err[256];
	size_t first, count, before;
	struct plan_target *t;
	size_t max = g->nnodes + 1, nt, before_all = pl->n;
	int write_ready_cmd = -1, pending, frozen;
	size_t w_first = 0, w_end = 0, r_first = (size_t)-1;
	struct rgroup *r = rgroup_get(rc, g);

	if (!r || !config_backends(rc->cfg, g->name, wb, sizeof(wb), rb, sizeof(rb)))
		return 0;
	/* What a read shows is the mirror from now on, planned or not. */
	if (pass == 0 && !st_is_mirror) {
		if (hap_state_backend(st, wb, &first, &count) == 0)
			(void)mirror_load(r, 0, st->srv + first, count);
		else
			r->mok[0] = 0;
		if (rb[0] && hap_state_backend(st, rb, &first, &count) == 0)
			(void)mirror_load(r, 1, st->srv + first, count);
		else
			r->mok[1] = 0;
	}
	if (!g->master_ip[0])
		return 0;
	/* Frozen: HAProxy is left as it is, but for the write lease (topo.h
	 * F3): with no Sentinel left, writes stop. */
	frozen = rec_group_state(rc, g) == GS_FROZEN;
	if (frozen && (!rc->cfg->write_lease || pass == 1))
		return 0;
	/* A name not answered yet (the agent just started, a new node): HAProxy
	 * is left as it is until it is, at most the resolver's timeout; the
	 * answer plans the group again. Unknown is never a change. */
	(void)resolve_sync(rc, g, &pending);
	if (pending)
		return 0;
	fence_apply(rc, g);
	if (frozen && !topo_master_fenced(g))
		return 0;
	if (max > rc->targetcap) {
		size_t cap = max < 16 ? 16 : max * 2;

		t = realloc(rc->targets, cap * sizeof(*t));
		if (!t)
			return -1;
		rc->targets = t;
		rc->targetcap = cap;
	}
	t = rc->targets;
	memset(t, 0, max * sizeof(*t));

	if (pass == 1)
		goto read_side;
	if (hap_state_backend(st, wb, &first, &count) == 0) {
		before = pl->n;
		nt = build_targets(rc, g, st->srv + first, count, 1, t, max);
		/* Planned from the mirror, not a read: "sure" (plan.h). Another
		 * agent on the same HAProxy may have made a slot ready that the
		 * mirror says is in maint; a plan from the mirror is as safe as
		 * one from a read. Costs a few commands that change nothing,
		 * when a slot is made ready or readdressed. */
		if (plan_backend(wb, st->srv + first, count, t, nt, st_is_mirror ? PLAN_WRITE_SURE : 1, pl, err,
				 sizeof(err)) < 0)
			log_err("%s: %s", g->name, err);
		mirror_apply(r, 0, wb, pl->cmds + before, pl->n - before, t, nt);
		for (size_t i = before; i < pl->n; i++)
			if (pl->cmds[i].kind == PLAN_READY)
				write_ready_cmd = (int)i;
		w_first = before;
		w_end = pl->n;
		if (t[0].ready)
			addr_format(r->hap_write_ready, sizeof(r->hap_write_ready), g->master_ip, g->master_port);
		else
			r->hap_write_ready[0] = '\0';
		r->hap_known = 1;
	} else if (!backend_warned(rc, wb)) {
		log_err("%s: HAProxy has no backend '%s' (write)", g->name, wb);
	}

	if (pass == 0)
		goto done;
read_side:
	if (rb[0] && g->replicas_known) {
		if (hap_state_backend(st, rb, &first, &count) == 0) {
			int ready = 0, errors = pl->errors;

			before = pl->n;
			r_first = before;
			nt = build_targets(rc, g, st->srv + first, count, 0, t, max);
			if (plan_backend(rb, st->srv + first, count, t, nt, 0, pl, err, sizeof(err)) < 0)
				log_err("%s: %s", g->name, err);
			mirror_apply(r, 1, rb, pl->cmds + before, pl->n - before, t, nt);
			for (size_t i = 0; i < nt; i++)
				ready += t[i].ready;
			/* Ready targets get slots first: those left without one
			 * are the ones short of a slot. */
			ready -= pl->errors - errors;
			r->hap_read_ready = ready > 0 ? ready : 0;
		} else if (!backend_warned(rc, rb)) {
			log_err("%s: HAProxy has no backend '%s' (read)", g->name, rb);
		}
	}
done:
	if (pl->n > before_all && meta_reserve(rc, pl->n) == 0) {
		for (size_t i = before_all; i < pl->n; i++) {
			rc->meta[i].gid = g->id;
			rc->meta[i].gserial = g->serial;
			rc->meta[i].write_ready = (int)i == write_ready_cmd;
			rc->meta[i].shutdown = pl->cmds[i].kind == PLAN_SHUTDOWN;
			/* A write slot left in maint (a replica's) is
			 * addressed after the read side: after a restart
			 * every write master is ready one command sooner. */
			rc->meta[i].later = i >= w_first && i < w_end && pl->cmds[i].kind == PLAN_ADDR &&
					    pl->cmds[i].stays_maint;
			rc->meta[i].switch_mono = r->switch_mono;
			rc->meta[i].read_side = i >= r_first;
		}
	}
	return (int)(pl->n - before_all);
}

/* Step 2: a reload or restart since the last run (pid or uptime). */
static void
detect_reload(struct reconciler *rc, const struct hap_reply *info_reply)
{
	struct hap_info info;

	if (hap_info_parse(info_reply->text, info_reply->len, &info) < 0)
		return;
	if (rc->hap_pid && (info.pid != rc->hap_pid || info.uptime_sec < rc->hap_uptime)) {
		rc->stats.reloads_seen++;
		rc->stats.last_reload_wall_ms = now_wall_ms();
		JADD(rc, "haproxy", "", "", "reload", "pid %ld -> %ld", rc->hap_pid, info.pid);
		log_warn("haproxy: reload or restart seen (pid %ld -> %ld): reapplying everything",
			 rc->hap_pid, info.pid);
		if (!rc->run_full)
			rc->want_full = 1;
		/* planned for the old process */
		pend_drop(rc, 1);
		forget_haproxy(rc);
		oldw_kick(rc->oldw);
	}
	rc->hap_pid = info.pid;
	rc->hap_uptime = info.uptime_sec;
	rc->stats.hap_pid = info.pid;
}

/* Step 3: plan the groups of q against st: what HAProxy holds (a read), or
 * what the mirrors say it holds (fast_run). Returns how many groups
 * drifted (HAProxy differs with no change of the model; reads only). */
static int
plan_list(struct reconciler *rc, const struct hap_state *st, const struct idq *q, int from_read)
{
	int drift = 0;

	plan_clear(&rc->plan);
	rc->nmeta = 0;
	/* Two passes: every write backend first, then the read backends, so
	 * that after a restart writes are routed again before the read side
	 * is rebuilt (the order inside each backend is plan.c's). */
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < q->n; i++) {
			struct group *g = idq_group(rc, q, i);
			struct rgroup *r;
			int n;

			if (!g || !(r = rgroup_get(rc, g)))
				continue;
			/* Planned from its mirror after this read was asked
			 * for: the read is older than commands sent since, and
			 * planning from it could undo them. The mirror stays;
			 * the group waits for the next plan. */
			if (from_read && r->mseq != r->read_mseq) {
				if (pass == 0)
					enqueue(rc, g, 1);
				continue;
			}
			if (pass == 0)
				r->drifted = 0;
			n = plan_group(rc, g, st, !from_read, &rc->plan, pass);
			if (!from_read && n > 0 && pass == 0)
				r->mseq++;
			/* Work for a group whose model did not change since
			 * it was last planned: HAProxy drifted (a restart, a
			 * reload without state file, somebody's command). */
			if (from_read && n > 0 && g->generation == r->planned_generation && r->planned_generation &&
			    !r->drifted) {
				r->drifted = 1;
				drift++;
			}
			if (pass == 1)
				r->planned_generation = g->generation;
		}
	}
	return drift;
}

/* Step 4: queue the plan (pump() sends it). */
static void
submit_plan(struct reconciler *rc, int drift)
{
	struct plan *pl = &rc->plan;

	rc->stats.runs++;
	rc->stats.full_runs += rc->run_full;
	rc->stats.last_run_wall_ms = now_wall_ms();
	if (pl->n && drift) {
		rc->stats.drift_corrections += drift;
		JADD(rc, "haproxy", "", "", "drift", "HAProxy differs from the desired state in %d group(s): correcting",
		     drift);
		log_warn("haproxy: state differs from the desired state in %d group(s): correcting", drift);
	}
	if (pend_add_plan(rc, 0) < 0) {
		log_err("reconcile: out of memory: %zu commands not queued", pl->n);
		reread_all(rc);
	}
	pump(rc);
	run_done(rc);
}

/* Step 1's answer: "show info", then the state of the run's backends. */
static void
state_cb(void *arg, int status, const char *const *cmds, size_t n_cmds,
	 const struct hap_reply *replies, size_t n_replies, const char *err)
{
	struct reconciler *rc = arg;
	struct hap_state st = { 0 };
	char perr[256];
	int drift;

	if (status < 0 || n_replies != n_cmds) {
		/* The link logs its own state changes. Retried on the next
		 * tick: no spinning against a dead socket (the watch says
		 * when the socket is back). The run's groups wait for it. */
		log_debug("haproxy: cannot read state: %s", err ? err : "short answer");
		forget_haproxy(rc);
		for (size_t i = 0; i < rc->run.n; i++) {
			struct group *g = idq_group(rc, &rc->run, i);

			if (g)
				enqueue(rc, g, 1);
		}
		rc->want_run = rc->want_full = 0;
		rc->in_flight = 0;
		rc->run.n = 0;
		return;
	}
	detect_reload(rc, &replies[0]);
	rc->hap_verified = 1;
	for (size_t i = 1; i < n_replies; i++) {
		if (!hap_reply_ok(cmds[i], replies[i].text, replies[i].len))
			continue;   /* "Can't find backend.": reported per group below */
		if (hap_state_parse(replies[i].text, replies[i].len, &st, perr, sizeof(perr)) < 0)
			log_err("haproxy: cannot parse '%s': %s", cmds[i], perr);
	}
	(void)hap_state_index(&st);
	drift = plan_list(rc, &st, &rc->run, 1);
	hap_state_free(&st);
	submit_plan(rc, drift);
}

/* Take the groups of the next run: dirty ones first, then those due for a
 * check; every group when a full run is wanted. */
static void
take_run(struct reconciler *rc, int full)
{
	struct idq *qs[2] = { &rc->dirty, &rc->check };
	const int bits[2] = { Q_DIRTY, Q_CHECK };

	rc->run.n = 0;
	rc->run_seq++;
	if (full) {
		for (size_t i = 0; i < rc->topo->n; i++) {
			struct group *g = rc->topo->groups[i];
			struct rgroup *r = rgroup_get(rc, g);

			if (r && idq_push(&rc->run, g) == 0) {
				r->taken = rc->run_seq;
				r->read_mseq = r->mseq;
				r->dirty = 0;
			}
		}
	}
	for (int k = 0; k < 2; k++) {
		/* Checks wait while model changes are pending: a run of
		 * switches stays small and quick. */
		if (k == 1 && !full && rc->run.n > 0)
			break;
		for (size_t i = 0; i < qs[k]->n; i++) {
			struct group *g = idq_group(rc, qs[k], i);
			struct rgroup *r = g ? rgroup_get(rc, g) : NULL;

			if (!r)
				continue;
			r->queued &= ~bits[k];
			if (r->taken == rc->run_seq)
				continue;
			if (idq_push(&rc->run, g) == 0) {
				r->taken = rc->run_seq;
				r->read_mseq = r->mseq;
				r->dirty = 0;
			}
		}
		qs[k]->n = 0;
	}
}

/* The fast path: a group whose model changed (a switch, a fence, a replica)
 * is planned at once from its mirror (struct rgroup), and its commands go
 * out without waiting for a read: a read and a plan per batch of switches
 * were most of a switch's latency with many groups. Safe because the
 * mirror is HAProxy's state after every command the agent sent or queued
 * (HAProxy runs one client's commands in order), and anything that can
 * make it wrong makes it unknown: a failed or dropped command, a lost
 * batch, a reload or restart (reads only until "show info" has been read
 * again); somebody else's command is what the spread consistency check
 * finds, as before. A read asked for before such a plan is not planned
 * from for that group (plan_list). */
static void
fast_run(struct reconciler *rc)
{
	struct hap_state st = { 0 };
	char wb[CONF_NAME_MAX], rb[CONF_NAME_MAX];
	size_t i, k = 0;

	if (!rc->dirty.n || !rc->hap_verified || rc->want_full || !hap_watch_up(rc->hap))
		return;
	/* The dirty groups whose mirror is known for every backend the plan
	 * looks at (their commands still waiting are in it already, and the
	 * new ones queue behind them: pend_add_plan) leave the dirty queue,
	 * their mirrors become the state they are planned from. */
	rc->fast.n = 0;
	for (i = 0; i < rc->dirty.n; i++) {
		struct group *g = idq_group(rc, &rc->dirty, i);
		struct rgroup *r = g ? rgroup_get(rc, g) : NULL;

		if (!r)
			continue;
		if (r->mok[0] && config_backends(rc->cfg, g->name, wb, sizeof(wb), rb, sizeof(rb)) &&
		    (!rb[0] || !g->replicas_known || r->mok[1]) &&
		    tk_grow(&st.srv, &st.cap, st.n + 2 * MIRROR_SLOTS, sizeof(*st.srv)) == 0) {
			size_t n0 = st.n;

			if (mirror_rows_to_state(r, 0, wb, &st) < 0 ||
			    (rb[0] && r->mok[1] && mirror_rows_to_state(r, 1, rb, &st) < 0) ||
			    idq_push(&rc->fast, g) < 0) {
				st.n = n0;   /* out of memory: it stays dirty */
				rc->dirty.v[k++] = rc->dirty.v[i];
				continue;
			}
			r->queued &= ~Q_DIRTY;
			r->dirty = 0;
			continue;
		}
		rc->dirty.v[k++] = rc->dirty.v[i];
	}
	rc->dirty.n = k;
	if (rc->fast.n) {
		(void)hap_state_index(&st);
		(void)plan_list(rc, &st, &rc->fast, 0);
		if (pend_add_plan(rc, 1) == 0) {
			pump(rc);
		} else {
			log_err("reconcile: out of memory: HAProxy is read again");
			reread_all(rc);
		}
		rc->fast.n = 0;
	}
	hap_state_free(&st);
}

/* Step 1: ask HAProxy for its state. */
static void
run(struct reconciler *rc)
{
	char wb[CONF_NAME_MAX], rb[CONF_NAME_MAX];
	const char **cv = NULL;
	char (*names)[CONF_NAME_MAX + 32] = NULL;
	size_t n = 0;
	int full;

	fast_run(rc);
	if (rc->in_flight)
		return;
	if (!rc->want_run && !rc->want_full && !rc->dirty.n && !rc->check.n)
		return;
	full = rc->want_full;
	take_run(rc, full);
	rc->want_run = rc->want_full = 0;
	rc->run_full = full;
	rc->run_gen = rc->resync_gen;
	/* Commands of the run's groups not sent yet would follow this read
	 * while planned from an older one: the run plans them again. */
	pend_drop(rc, full);
	/* Everything in one command is cheaper once most groups are in the
	 * run; with many groups the backends are read one by one, so the
	 * answers are split over connections that each meet the deadline. */
	full = rc->topo->n <= REC_ONE_READ_MAX && (full || rc->run.n * 2 > rc->topo->n);
	cv = calloc(1 + (full ? 1 : 2 * rc->run.n), sizeof(*cv));
	names = full ? NULL : calloc(2 * rc->run.n + 1, sizeof(*names));
	if (!cv || (!full && !names))
		goto fail;
	cv[n++] = "show info";
	if (full) {
		cv[n++] = "show servers state";
	} else {
		for (size_t i = 0; i < rc->run.n; i++) {
			struct group *g = idq_group(rc, &rc->run, i);

			if (!g || !config_backends(rc->cfg, g->name, wb, sizeof(wb), rb, sizeof(rb)))
				continue;
			snprintf(names[n - 1], sizeof(names[0]), "show servers state %s", wb);
			cv[n] = names[n - 1];
			n++;
			if (rb[0]) {
				snprintf(names[n - 1], sizeof(names[0]), "show servers state %s", rb);
				cv[n] = names[n - 1];
				n++;
			}
		}
	}
	rc->in_flight = 1;
	if (hap_submit(rc->hap, cv, n, state_cb, rc) < 0) {
		log_err("haproxy: cannot queue a state read");
		rc->in_flight = 0;
		rc->run.n = 0;
	}
	free(cv);
	free(names);
	return;
fail:
	log_err("reconcile: out of memory");
	free(cv);
	free(names);
	rc->run.n = 0;
}

static void
soon_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	run(w->data);
}

static void
schedule(struct reconciler *rc)
{
	/* While a read is in flight only fast_run has work. */
	if (rc->in_flight && !rc->dirty.n)
		return;
	if (!ev_is_active(&rc->soon)) {
		ev_timer_set(&rc->soon, 0., 0.);
		ev_timer_start(rc->loop, &rc->soon);
	}
}

/* The watch on HAProxy's socket was lost and is back: a restart (gone) or
 * maybe a reload. Read everything at once after a restart; else "show info"
 * tells. */
static void
on_hap_watch(void *arg, int gone)
{
	struct reconciler *rc = arg;

	if (gone)
		rc->want_full = 1;
	/* maybe another process: what waits was planned for the old one, and
	 * nothing is planned from a mirror until "show info" says which */
	rc->hap_verified = 0;
	pend_drop(rc, 1);
	rc->want_run = 1;
	schedule(rc);
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
	/* opens /proc/self/statm now: the agent's descriptors are all there
	 * from its first tick on */
	rc->shrunk_rss = self_rss_bytes();
	rc->prober = prober_new(loop, cfg, topo, on_probe_changed, rc);
	if (!rc->prober) {
		free(rc);
		return NULL;
	}
	plan_init(&rc->plan);
	ev_timer_init(&rc->soon, soon_cb, 0., 0.);
	ev_set_priority(&rc->soon, HAP_EV_PRIORITY);
	rc->soon.data = rc;
	return rc;
}

void
rec_start(struct reconciler *rc)
{
	hap_watch_start(rc->hap, on_hap_watch, rc);
}

void
rec_free(struct reconciler *rc)
{
	if (!rc)
		return;
	ev_timer_stop(rc->loop, &rc->soon);
	prober_free(rc->prober);
	for (size_t i = 0; i < rc->nwarned; i++)
		free(rc->backend_warned[i]);
	free(rc->backend_warned);
	for (size_t i = 0; i < rc->nrg; i++) {
		free(rc->rg[i].mirror[0]);
		free(rc->rg[i].mirror[1]);
	}
	free(rc->rg);
	free(rc->fast.v);
	free(rc->dirty.v);
	free(rc->check.v);
	free(rc->run.v);
	plan_free(&rc->plan);
	free(rc->targets);
	free(rc->meta);
	free(rc->cmdp);
	for (size_t i = rc->pend_head; i < rc->npend; i++)
		free(rc->pend[i].text);
	free(rc->pend);
	/* HAProxy's client is freed after us and calls no callback then */
	while (rc->batches) {
		struct apply_batch *b = rc->batches;

		rc->batches = b->next;
		free(b);
	}
	free(rc);
}

void
rec_set_journal(struct reconciler *rc, struct journal *j)
{
	rc->journal = j;
	prober_set_journal(rc->prober, j);
}

void
rec_set_oldworkers(struct reconciler *rc, struct oldworkers *ow)
{
	rc->oldw = ow;
}

void
rec_get_stats(const struct reconciler *rc, struct rec_stats *out)
{
	*out = rc->stats;
}
