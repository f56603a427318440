#include "probe.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "closer.h"
#include "fence.h"
#include "log.h"
#include "rlink.h"
#include "tk.h"

struct probe {
	struct prober *pr;
	uint32_t gid;            /* its group (a group may vanish meanwhile) */
	uint64_t gserial;
	char ip[ADDR_IP_MAX];     /* the node as Sentinel names it (IP literal or hostname) */
	char addr[ADDR_IP_MAX];   /* the IP literal this attempt connects to */
	int port;
	struct rlink *rl;
	ev_timer timer;          /* retry delay, or deferred free */
	int delay_ms;
	int done;                /* free on the next timer run */
	int replica;             /* a replica's link check, not a master's confirmation */
	int watch_tried;         /* asked (or tried to ask) on the fence's watch already */
	void *fw;                /* the watch asked, while its answer is awaited */
	/* A replica's ROLE answer, kept until PING (sent with it) answers. */
	enum role_seen r_role;
	char r_master_ip[ADDR_IP_MAX];
	int r_master_port;
	int r_link;
	int active;              /* holds one of the PROBE_MAX_ACTIVE connection slots */
	struct tk_list wait;     /* in the prober's wait list for a slot; empty (points to
				  * itself) when not waiting */
	struct tk_list all;      /* in the prober's list of every probe alive */
	struct probe *gnext;     /* the group's replica probes */
};

/* A read-ready replica's watch (R3 in topo.h): an idle connection of the
 * agent's own that never sends a command, a bare socket (no hiredis
 * context: a few hundred bytes a replica, not two kilobytes). When the
 * replica closes it (a restart, a crash, CLIENT KILL, Redis's timeout) the
 * replica is asked again at once, and Sentinel's "link ok" no longer
 * counts for it. */
struct rwatch {
	struct prober *pr;
	uint32_t gid;
	uint64_t gserial;
	char ip[ADDR_IP_MAX];     /* the replica as Sentinel names it */
	char addr[ADDR_IP_MAX];   /* the IP literal it is connected to */
	int port;
	int fd;
	int up;                  /* was connected */
	int over;                /* lost or no longer wanted: its socket is the closer's, the struct
				  * is freed when the loop is idle */
	ev_io io;
	ev_timer timer;          /* the connect deadline */
	struct rwatch *next;     /* the group's watches */
	struct rwatch *enext, **eprev;   /* the prober's ended watches, while over */
};

/* A watch is opened when the loop has nothing else to do (ev_idle at the
 * lowest priority), WATCH_IDLE_BATCH at a time, and at every tick up to
 * WATCH_TICK_BATCH of what is left (a loop that is never idle still gets
 * them all, a few ticks later): a loopback connect costs tens of
 * microseconds of the kernel's time in the agent's own thread, and in a
 * mass failover they stood between the decisions and HAProxy. An ended
 * watch's socket goes to the closer (closer.h), for the same reason. */
#define WATCH_IDLE_BATCH 16
#define WATCH_TICK_BATCH 256

/* Per group, by id. */
struct pgroup {
	uint64_t serial;
	struct probe *master;    /* the master's probe in flight */
	struct probe *replicas;  /* replica probes in flight */
	struct rwatch *watches;  /* read-ready replicas watched */
	int64_t recheck_at;      /* monotonic ms: ask the confirmed master again */
	int open_due;            /* in the prober's queue of watches to open */
};

/* A group whose replicas' watches are to be opened. */
struct wdue {
	uint32_t gid;
	uint64_t serial;
};

struct prober {
	struct ev_loop *loop;
	const struct config *cfg;
	struct topo *topo;
	probe_changed_cb changed;
	void *arg;
	struct journal *journal;
	struct tk_list probes;   /* every probe alive (struct probe.all) */
	size_t nprobes;
	int nactive;             /* probes holding a connection slot */
	struct tk_list waitq;    /* waiting for a slot, in order (struct probe.wait) */
	struct pgroup *pg;
	size_t npg;
	size_t cursor;           /* where the next tick's rechecks start */
	size_t nwatches;         /* struct rwatch alive */
	struct rwatch *ended;    /* over, to free */
	struct wdue *due;        /* groups whose watches are to be opened, in order */
	size_t ndue, due_head, due_cap;
	ev_idle idle;            /* does both while the loop has nothing else */
	struct closer closer;    /* the sockets of ended watches */
};

static void watch_free(struct rwatch *w);

/* A one-shot link of the agent's own to a Redis node (a ROLE probe): the
 * configured deadlines and credentials, no reconnect. */
static void
node_link_opts(const struct config *cfg, struct rlink_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->connect_timeout_ms = cfg->connect_timeout_ms;
	o->command_timeout_ms = cfg->command_timeout_ms;
	o->backoff_min_ms = 10;
	o->backoff_max_ms = 10;
	o->reconnect = 0;
	o->user = cfg->redis_user;
	o->password = cfg->redis_password;
	o->reset_on_close = 1;
}
static void watch_replicas(struct prober *pr, struct group *g);
static void watch_open(struct prober *pr, struct group *g);

#define JADD(pr, ...) do { if ((pr)->journal) journal_add((pr)->journal, now_wall_ms(), __VA_ARGS__); } while (0)

static struct pgroup *
pgroup_get(struct prober *pr, const struct group *g)
{
	struct pgroup *p;

	if (g->id >= pr->npg) {
		size_t old = pr->npg;

		if (tk_grow(&pr->pg, &pr->npg, (size_t)g->id + 1, sizeof(*pr->pg)) < 0)
			return NULL;
		memset(pr->pg + old, 0, (pr->npg - old) * sizeof(*pr->pg));
	}
	p = &pr->pg[g->id];
	if (p->serial != g->serial) {
		/* A reused id: the old group's probes are no longer its, nor
		 * its watches. */
		while (p->watches)
			watch_free(p->watches);
		memset(p, 0, sizeof(*p));
		p->serial = g->serial;
	}
	return p;
}

static struct pgroup *
pgroup_of(struct prober *pr, uint32_t id, uint64_t serial)
{
	return id < pr->npg && pr->pg[id].serial == serial ? &pr->pg[id] : NULL;
}

/* The group, while it is the same one. */
static struct group *
probe_owner(const struct probe *p)
{
	struct group *g = topo_by_id(p->pr->topo, p->gid);

	return g && g->serial == p->gserial ? g : NULL;
}

/* Give the connection slot back and start the next waiting probe. */
static void
slot_release(struct probe *p)
{
	struct prober *pr = p->pr;
	struct probe *w;

	if (!p->active)
		return;
	p->active = 0;
	pr->nactive--;
	if (!tk_list_empty(&pr->waitq)) {
		w = tk_container_of(pr->waitq.next, struct probe, wait);
		tk_list_del(&w->wait);
		ev_timer_stop(pr->loop, &w->timer);
		ev_timer_set(&w->timer, 0., 0.);
		ev_timer_start(pr->loop, &w->timer);
	}
}

static void
probe_finish(struct probe *p)
{
	if (p->fw) {
		fence_ask_cancel(p->fw, p);
		p->fw = NULL;
	}
	p->done = 1;
	slot_release(p);
	ev_timer_stop(p->pr->loop, &p->timer);
	ev_timer_set(&p->timer, 0., 0.);
	ev_timer_start(p->pr->loop, &p->timer);
}

static void
probe_free(struct probe *p)
{
	struct prober *pr = p->pr;
	struct pgroup *pg = pgroup_of(pr, p->gid, p->gserial);
	struct probe **pp;

	/* Both lists are doubly linked: a storm of thousands of probes
	 * is not a scan per probe freed. */
	tk_list_del(&p->all);
	pr->nprobes--;
	tk_list_del(&p->wait);
	slot_release(p);
	if (pg && pg->master == p)
		pg->master = NULL;
	if (pg && p->replica) {
		for (pp = &pg->replicas; *pp; pp = &(*pp)->gnext) {
			if (*pp == p) {
				*pp = p->gnext;
				break;
			}
		}
	}
	ev_timer_stop(pr->loop, &p->timer);
	if (p->fw)
		fence_ask_cancel(p->fw, p);
	rlink_free(p->rl);
	free(p);
}

/* Is this probe still useful? A master's: the group's candidate is still
 * that node. A replica's: the node is still known. */
static struct group *
probe_group(struct probe *p)
{
	struct group *g = probe_owner(p);
	struct pgroup *pg;

	if (!g || !(pg = pgroup_of(p->pr, g->id, g->serial)))
		return NULL;
	if (p->replica)
		return group_find_node(g, p->ip, p->port) ? g : NULL;
	if (pg->master != p || g->master_port != p->port || !addr_ip_equal(g->master_ip, p->ip))
		return NULL;
	return g;
}

/* "ip:port", or "name:port (ip)" for a name. */
static const char *
probe_label(char *buf, size_t len, const struct probe *p)
{
	char a[ADDR_IP_MAX + 8];

	addr_format(a, sizeof(a), p->ip, p->port);
	if (addr_ip_equal(p->ip, p->addr) || !p->addr[0])
		snprintf(buf, len, "%s", a);
	else
		snprintf(buf, len, "%s (%s)", a, p->addr);
	return buf;
}

/* A replica's ROLE: ["slave", master-ip, master-port, state, offset]. Kept
 * in the probe until the answer to PING comes (probe_replica_answer). */
static void
probe_replica_role(redisAsyncContext *ac, void *reply, void *privdata)
{
	struct probe *p = privdata;
	const redisReply *r = reply;

	(void)ac;
	if (!r || !p)
		return;
	p->r_role = ROLE_UNKNOWN;
	p->r_master_ip[0] = '\0';
	p->r_master_port = 0;
	p->r_link = 0;
	if (r->type == REDIS_REPLY_ARRAY && r->elements >= 1 && r->element[0]->type == REDIS_REPLY_STRING) {
		if (strcmp(r->element[0]->str, "master") == 0) {
			p->r_role = ROLE_MASTER;
		} else if (strcmp(r->element[0]->str, "slave") == 0 && r->elements >= 4 &&
			   r->element[1]->type == REDIS_REPLY_STRING && r->element[2]->type == REDIS_REPLY_INTEGER &&
			   r->element[3]->type == REDIS_REPLY_STRING &&
			   strlen(r->element[1]->str) < sizeof(p->r_master_ip)) {
			p->r_role = ROLE_SLAVE;
			str_copy(p->r_master_ip, r->element[1]->str, sizeof(p->r_master_ip));
			p->r_master_port = (int)r->element[2]->integer;
			p->r_link = strcmp(r->element[3]->str, "connected") == 0;
		}
	}
}

/* What PING says about serving (enum serve_seen, R1 in topo.h). */
static int
probe_serving(const redisReply *r)
{
	if (!r)
		return SERVE_UNKNOWN;
	if (r->type == REDIS_REPLY_STATUS && strcmp(r->str, "PONG") == 0)
		return SERVE_YES;
	if (r->type == REDIS_REPLY_ERROR &&
	    (strncmp(r->str, "LOADING", 7) == 0 || strncmp(r->str, "MASTERDOWN", 10) == 0))
		return SERVE_NO;
	return SERVE_UNKNOWN;
}

/* The replica's ROLE (kept by probe_replica_role) and PING (r), or NULL:
 * unreachable, nothing known. */
static void
probe_replica_answer(struct probe *p, struct group *g, const redisReply *r)
{
	enum role_seen role = r ? p->r_role : ROLE_UNKNOWN;
	const char *mip = role == ROLE_SLAVE ? p->r_master_ip : "";
	int mport = role == ROLE_SLAVE ? p->r_master_port : 0, link = role == ROLE_SLAVE && p->r_link;
	int serving = probe_serving(r);
	struct node *n = group_find_node(g, p->ip, p->port);

	if (!n || !addr_ip_equal(n->addr, p->addr)) {
		probe_finish(p);   /* its name moved: the answer is about another node */
		return;
	}
	if (topo_replica_probe(g, p->ip, p->port, role, mip, mport, link, serving, now_mono_ms())) {
		log_debug("%s: ROLE on %s:%d: %s of %s:%d, link %s%s", g->name, p->ip, p->port,
			  role_seen_name(role), mip, mport, link ? "up" : "down",
			  serving == SERVE_NO ? ", PING: not serving (loading)" : "");
		p->pr->changed(p->pr->arg, g);
		/* Readied by this answer: watch it from now on, not from the
		 * group's next check (a restart in between would go unseen). */
		watch_replicas(p->pr, g);
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
	log_debug("%s: ROLE on %s:%d: %s; again in %d ms", g->name, p->ip, p->port, why, p->delay_ms);
	p->done = 0;
	/* The link is closed (or closing): its slot waits for the retry. */
	slot_release(p);
	ev_timer_stop(p->pr->loop, &p->timer);
	ev_timer_set(&p->timer, p->delay_ms / 1000.0, 0.);
	ev_timer_start(p->pr->loop, &p->timer);
}

static int64_t
jittered_recheck(const struct prober *pr)
{
	int64_t iv = (int64_t)PROBE_RECHECK_TICKS * pr->cfg->resync_interval_ms;

	/* +- 20 %: groups confirmed together drift apart. */
	return iv * 8 / 10 + rand() % (iv * 4 / 10 + 1);
}

/* An answer to ROLE (and for a replica PING), on the probe's own link or
 * on the fence's watch. */
static void
probe_answer(struct probe *p, const redisReply *r)
{
	enum role_seen role = ROLE_UNKNOWN;
	struct group *g;

	if (r->type == REDIS_REPLY_ARRAY && r->elements >= 1 && r->element[0]->type == REDIS_REPLY_STRING) {
		if (strcmp(r->element[0]->str, "master") == 0)
			role = ROLE_MASTER;
		else if (strcmp(r->element[0]->str, "slave") == 0)
			role = ROLE_SLAVE;
	}
	if (p->rl)
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
	/* The answer counts only for the address HAProxy would route to: a
	 * name that moved meanwhile is asked again at its new address. */
	if (!addr_ip_equal(g->master_addr, p->addr)) {
		probe_retry(p, "its name resolves elsewhere now");
		return;
	}
	if (topo_role_result(g, p->ip, p->port, role, now_mono_ms())) {
		char a[ADDR_IP_MAX * 2 + 16];

		probe_label(a, sizeof(a), p);
		if (role == ROLE_MASTER) {
			log_info("%s: ROLE confirms %s is master", g->name, a);
			JADD(p->pr, "agent", "", g->name, "role-confirmed", "ROLE on %s says master", a);
			if (p->pr->journal)
				(void)journal_stage(p->pr->journal, g->name, TL_ROLE_CONFIRMED, now_wall_ms(), NULL, a,
						    g->epoch);
		} else {
			log_warn("%s: %s says it is a replica: kept out of the write backend", g->name, a);
			JADD(p->pr, "agent", "", g->name, "role-refused", "ROLE on %s says %s: not routed", a,
			     role_seen_name(role));
		}
		p->pr->changed(p->pr->arg, g);
	}
	if (role == ROLE_MASTER) {
		struct pgroup *pg = pgroup_of(p->pr, g->id, g->serial);

		if (pg)
			pg->recheck_at = now_mono_ms() + jittered_recheck(p->pr);
		probe_finish(p);
	} else {
		probe_retry(p, "role slave");
	}
}

static void
probe_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
	(void)ac;
	if (reply && privdata)
		probe_answer(privdata, reply);
}

/* The answer to a master's ROLE asked on the fence's watch of it. NULL
 * (no answer in time, the watch closed): a fresh connection asks, from the
 * loop, as any probe (only timer work here: the fence may be in the middle
 * of closing the watch). */
static void
probe_watch_answer(void *arg, const redisReply *r)
{
	struct probe *p = arg;

	p->fw = NULL;
	if (r) {
		probe_answer(p, r);
		return;
	}
	ev_timer_stop(p->pr->loop, &p->timer);
	ev_timer_set(&p->timer, 0., 0.);
	ev_timer_start(p->pr->loop, &p->timer);
}

static void
probe_up(struct rlink *rl, void *arg)
{
	struct probe *p = arg;

	/* A replica: PING with ROLE, its answer is R1's (topo.h); probe_reply
	 * gets it, after ROLE's. */
	if (p->replica) {
		p->r_role = ROLE_UNKNOWN;
		if (rlink_command(rl, probe_replica_role, p, "ROLE") < 0 ||
		    rlink_command(rl, probe_reply, p, "PING") < 0)
			rlink_close(rl, "cannot send ROLE");
		return;
	}
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

static int
pr_full(const struct prober *pr)
{
	return pr->nactive >= PROBE_MAX_ACTIVE;
}

static void
probe_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct probe *p = w->data;
	const struct config *cfg = p->pr->cfg;
	struct group *g;
	struct rlink_opts o;
	char name[TOPO_NAME_MAX + ADDR_IP_MAX * 2 + 32], a[ADDR_IP_MAX * 2 + 16];
	const char *addr;

	(void)loop;
	(void)revents;
	if (p->done || !(g = probe_group(p))) {
		probe_free(p);
		return;
	}
	/* The address HAProxy would route to: a hostname's as the agent
	 * resolved it (reconcile.c keeps it in the model). */
	if (p->replica) {
		const struct node *n = group_find_node(g, p->ip, p->port);

		addr = n ? n->addr : "";
	} else {
		addr = g->master_addr;
	}
	if (!addr[0]) {
		probe_retry(p, "its name does not resolve");
		return;
	}
	str_copy(p->addr, addr, sizeof(p->addr));
	/* A master's ROLE goes over the fence's watch of it when one is
	 * connected or connecting (a new master's is opened when it is
	 * decided): no connect and no close of our own. Once only: a timeout,
	 * a close, a refusal or another answer than master is followed up on
	 * a fresh connection, as before. */
	if (!p->replica && !p->watch_tried) {
		p->watch_tried = 1;
		if (fence_ask_role(g, probe_watch_answer, p, &p->fw) == 0)
			return;
	}
	/* At most PROBE_MAX_ACTIVE connections at once (thousands of groups
	 * switching together): the others wait for a slot, in order. */
	if (!p->active) {
		if (pr_full(p->pr)) {
			tk_list_append(&p->pr->waitq, &p->wait);
			return;
		}
		p->active = 1;
		p->pr->nactive++;
	}
	/* (Re)connect: a one-shot link per attempt. */
	rlink_free(p->rl);
	node_link_opts(cfg, &o);
	snprintf(name, sizeof(name), "%s ROLE %s", g->name, probe_label(a, sizeof(a), p));
	p->rl = rlink_new(p->pr->loop, name, p->addr, p->port, &o, probe_up, probe_down, p);
	if (!p->rl) {
		probe_retry(p, "out of memory");
		return;
	}
	rlink_start(p->rl);
}

static struct probe *
probe_new(struct prober *pr, const struct group *g, const char *ip, int port, int replica)
{
	struct probe *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->pr = pr;
	p->gid = g->id;
	p->gserial = g->serial;
	p->replica = replica;
	str_copy(p->ip, ip, sizeof(p->ip));
	p->port = port;
	ev_timer_init(&p->timer, probe_timer_cb, 0., 0.);
	p->timer.data = p;
	tk_list_init(&p->wait);
	tk_list_append(&pr->probes, &p->all);
	pr->nprobes++;
	/* Start right away, from the loop (never inside a hiredis callback). */
	ev_timer_start(pr->loop, &p->timer);
	return p;
}

static void
probe_master(struct prober *pr, struct group *g)
{
	struct pgroup *pg = pgroup_get(pr, g);

	if (!pg || pg->master || !g->master_ip[0])
		return;
	pg->master = probe_new(pr, g, g->master_ip, g->master_port, 0);
}

/* Sentinel refreshes what it knows of a replica every 10 s: after a switch
 * it says "link down" long after the replica has synced with the new
 * master, and after a restart "link ok" while the new process loads. Ask
 * ourselves the replicas Sentinel sees up but unlinked, those seen lost
 * since our ROLE last saw them linked, and those that did not serve (R1-R2
 * in topo.h). */
static void
probe_replicas(struct prober *pr, struct group *g)
{
	int64_t now = now_mono_ms();
	struct pgroup *pg = NULL;

	if (!g->master_ip[0])
		return;
	for (size_t i = 0; i < g->nnodes; i++) {
		struct node *n = &g->nodes[i];
		struct probe *p;

		if (!n->seen_by ||
		    (!(n->flags & (NODE_LINK_DOWN | NODE_ROLE_MASTER)) && !n->link_suspect && n->serving != SERVE_NO) ||
		    (n->flags & (NODE_S_DOWN | NODE_O_DOWN | NODE_DISCONNECTED)) || !n->addr[0] ||
		    (n->port == g->master_port && addr_ip_equal(n->ip, g->master_ip)) ||
		    (n->role_at_ms && now - n->role_at_ms < PROBE_RETRY_MIN_MS * 4))
			continue;
		if (!pg && !(pg = pgroup_get(pr, g)))
			return;
		for (p = pg->replicas; p; p = p->gnext)
			if (p->port == n->port && addr_ip_equal(p->ip, n->ip))
				break;
		if (p)
			continue;   /* being asked */
		p = probe_new(pr, g, n->ip, n->port, 1);
		if (!p)
			return;
		p->gnext = pg->replicas;
		pg->replicas = p;
	}
}

/* Close its socket, if open: our own idle connection, ended with a reset
 * (no TIME_WAIT left behind). */
static void
watch_close(struct rwatch *w)
{
	ev_io_stop(w->pr->loop, &w->io);
	if (w->fd >= 0) {
		fd_reset_on_close(w->fd);
		close(w->fd);
		w->fd = -1;
	}
}

/* Unlink from its group's list and free (from its timer, or from outside). */
static void
watch_free(struct rwatch *w)
{
	struct prober *pr = w->pr;
	struct pgroup *pg = pgroup_of(pr, w->gid, w->gserial);

	if (pg) {
		for (struct rwatch **pp = &pg->watches; *pp; pp = &(*pp)->next) {
			if (*pp == w) {
				*pp = w->next;
				break;
			}
		}
	}
	if (w->eprev) {
		*w->eprev = w->enext;
		if (w->enext)
			w->enext->eprev = w->eprev;
	}
	ev_timer_stop(pr->loop, &w->timer);
	watch_close(w);
	pr->nwatches--;
	free(w);
}

/* Done with it: nothing more is read from it; its socket goes to the
 * closer, the struct is freed when the loop is idle (or at the next tick:
 * the callers still look at it). */
static void
watch_end(struct rwatch *w)
{
	struct prober *pr = w->pr;

	if (w->over)
		return;
	w->over = 1;
	ev_io_stop(pr->loop, &w->io);
	ev_timer_stop(pr->loop, &w->timer);
	closer_add(&pr->closer, w->fd);
	w->fd = -1;
	w->enext = pr->ended;
	if (w->enext)
		w->enext->eprev = &w->enext;
	w->eprev = &pr->ended;
	pr->ended = w;
	ev_idle_start(pr->loop, &pr->idle);
}

/* The watch ended: a connection that was up and is lost is the signal;
 * one that never came up proves nothing (the next check tries again). */
static void
watch_down(struct rwatch *w, const char *why)
{
	struct prober *pr = w->pr;
	struct group *g;
	struct node *n;

	if (w->over)
		return;
	watch_end(w);
	if (!w->up)
		return;
	g = topo_by_id(pr->topo, w->gid);
	if (!g || g->serial != w->gserial || !(n = group_find_node(g, w->ip, w->port)) ||
	    !addr_ip_equal(n->addr, w->addr))
		return;
	log_info("%s: replica %s:%d closed the agent's connection (%s): asked again", g->name, w->ip, w->port,
		 why);
	(void)topo_replica_lost(g, w->ip, w->port);
	pr->changed(pr->arg, g);
	probe_replicas(pr, g);
}

static void
watch_up(struct rwatch *w)
{
	ev_timer_stop(w->pr->loop, &w->timer);
	ev_io_stop(w->pr->loop, &w->io);
	fd_keepalive(w->fd, 10, 5, 3);
	ev_io_set(&w->io, w->fd, EV_READ);
	ev_io_start(w->pr->loop, &w->io);
	w->up = 1;
}

static void
watch_io_cb(struct ev_loop *loop, ev_io *io, int revents)
{
	struct rwatch *w = io->data;
	char buf[256];
	int err;
	ssize_t n;

	(void)loop;
	(void)revents;
	if (!w->up) {
		err = fd_connect_error(w->fd);
		if (err == 0)
			watch_up(w);
		else
			watch_down(w, strerror(err));
		return;
	}
	/* Nothing is ever asked on it: bytes are drained (an error reply
	 * before a close), the end of stream or a reset is the signal. */
	n = recv(w->fd, buf, sizeof(buf), 0);
	if (n > 0 || (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)))
		return;
	watch_down(w, n == 0 ? "end of stream" : strerror(errno));
}

static void
watch_timer_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct rwatch *w = t->data;

	(void)loop;
	(void)revents;
	watch_down(w, "connect timeout");   /* never up: no conclusion */
}

/* Queue g for watch_open() when the loop is idle. */
static void
watch_open_later(struct prober *pr, struct pgroup *pg, struct group *g)
{
	if (pg->open_due)
		return;
	if (pr->due_head > 0 && pr->ndue == pr->due_cap) {
		memmove(pr->due, pr->due + pr->due_head, (pr->ndue - pr->due_head) * sizeof(*pr->due));
		pr->ndue -= pr->due_head;
		pr->due_head = 0;
	}
	if (pr->ndue == pr->due_cap && tk_grow(&pr->due, &pr->due_cap, pr->ndue + 1, sizeof(*pr->due)) < 0) {
		watch_open(pr, g);   /* no room to wait: now */
		return;
	}
	pr->due[pr->ndue].gid = g->id;
	pr->due[pr->ndue].serial = g->serial;
	pr->ndue++;
	pg->open_due = 1;
	ev_idle_start(pr->loop, &pr->idle);
}

/* n is a read-ready replica at an IP literal with no live watch (pg:
 * its group's bookkeeping, NULL none yet). */
static int
wants_watch(const struct pgroup *pg, const struct group *g, const struct node *n, int64_t wall)
{
	if (!n->addr[0] || !addr_is_ip(n->addr) || !topo_node_read_ready(g, n, wall))
		return 0;
	for (const struct rwatch *w = pg ? pg->watches : NULL; w; w = w->next)
		if (!w->over && w->port == n->port && addr_ip_equal(w->ip, n->ip))
			return 0;
	return 1;
}

/* Drop the watches of g's nodes gone, moved or now its master (at once:
 * nothing more is read from them), and have its read-ready replicas
 * watched (when the loop is idle). */
static void
watch_replicas(struct prober *pr, struct group *g)
{
	struct pgroup *pg = NULL;
	int64_t wall = now_wall_ms();

	if (g->id < pr->npg && pr->pg[g->id].serial == g->serial) {
		pg = &pr->pg[g->id];
		for (struct rwatch *w = pg->watches; w; w = w->next) {
			const struct node *n;

			if (w->over)
				continue;
			n = group_find_node(g, w->ip, w->port);
			if (!n || !addr_ip_equal(n->addr, w->addr) ||
			    (n->port == g->master_port && addr_ip_equal(n->ip, g->master_ip)))
				watch_end(w);
		}
	}
	for (size_t i = 0; i < g->nnodes; i++) {
		if (!wants_watch(pg, g, &g->nodes[i], wall))
			continue;
		/* At the cap nothing could open: no queueing (at 10 000
		 * groups thousands were queued again at every update). */
		if (pr->nwatches >= PROBE_MAX_WATCHES)
			return;
		if (!pg && !(pg = pgroup_get(pr, g)))
			return;
		watch_open_later(pr, pg, g);
		return;
	}
}

/* Open a watch for every read-ready replica of g that has none. */
static void
watch_open(struct prober *pr, struct group *g)
{
	struct pgroup *pg = pgroup_of(pr, g->id, g->serial);
	int64_t wall = now_wall_ms();
	const struct config *cfg = pr->cfg;

	for (size_t i = 0; i < g->nnodes; i++) {
		struct node *n = &g->nodes[i];
		struct rwatch *w;
		int rc;

		if (!wants_watch(pg, g, n, wall))
			continue;
		if (!pg && !(pg = pgroup_get(pr, g)))
			return;
		if (pr->nwatches >= PROBE_MAX_WATCHES || !(w = calloc(1, sizeof(*w))))
			return;
		w->pr = pr;
		w->gid = g->id;
		w->gserial = g->serial;
		str_copy(w->ip, n->ip, sizeof(w->ip));
		str_copy(w->addr, n->addr, sizeof(w->addr));
		w->port = n->port;
		rc = fd_connect_ip(w->addr, w->port, 0, &w->fd);
		if (rc < 0) {
			/* Refused at once, or no socket: no conclusion, the
			 * next check tries again; the other replicas still
			 * get theirs. */
			free(w);
			continue;
		}
		ev_io_init(&w->io, watch_io_cb, w->fd, rc == 0 ? EV_READ : EV_WRITE);
		w->io.data = w;
		ev_timer_init(&w->timer, watch_timer_cb, cfg->connect_timeout_ms / 1000.0, 0.);
		w->timer.data = w;
		w->next = pg->watches;
		pg->watches = w;
		pr->nwatches++;
		if (rc == 0) {
			watch_up(w);
		} else {
			ev_io_start(pr->loop, &w->io);
			ev_timer_start(pr->loop, &w->timer);
		}
	}
}

/* Free up to max ended watches and open the watches of up to max queued
 * groups. 1 while work is left. */
static int
watch_drain(struct prober *pr, size_t max)
{
	size_t k;

	for (k = 0; k < max && pr->ended; k++)
		watch_free(pr->ended);
	for (k = 0; k < max && pr->due_head < pr->ndue; k++) {
		struct wdue d = pr->due[pr->due_head++];
		struct pgroup *pg = pgroup_of(pr, d.gid, d.serial);
		struct group *g = topo_by_id(pr->topo, d.gid);

		if (!pg || !pg->open_due)
			continue;
		pg->open_due = 0;
		if (g && g->serial == d.serial)
			watch_open(pr, g);
	}
	if (pr->due_head == pr->ndue)
		pr->due_head = pr->ndue = 0;
	return pr->ended || pr->ndue > 0;
}

static void
idle_cb(struct ev_loop *loop, ev_idle *w, int revents)
{
	struct prober *pr = w->data;

	(void)revents;
	if (!watch_drain(pr, WATCH_IDLE_BATCH))
		ev_idle_stop(loop, w);
}

void
prober_new_master(struct prober *pr, struct group *g)
{
	struct pgroup *pg = pgroup_get(pr, g);

	if (pg && pg->master) {
		/* Probing the old candidate: let it go, start afresh. */
		probe_finish(pg->master);
		pg->master = NULL;
	}
	probe_master(pr, g);
}

void
prober_check(struct prober *pr, struct group *g)
{
	if (g->master_ip[0] && g->confirmed != 1)
		probe_master(pr, g);
	probe_replicas(pr, g);
	watch_replicas(pr, g);
}

void
prober_now(struct prober *pr, struct group *g)
{
	struct pgroup *pg = pgroup_get(pr, g);
	struct probe *p = pg ? pg->master : NULL;

	if (p && !p->done && tk_list_empty(&p->wait) && ev_is_active(&p->timer)) {
		ev_timer_stop(pr->loop, &p->timer);
		ev_timer_set(&p->timer, 0., 0.);
		ev_timer_start(pr->loop, &p->timer);
	}
	prober_check(pr, g);
}

void
prober_tick(struct prober *pr)
{
	int64_t now = now_mono_ms();
	int budget = PROBE_RECHECK_MAX;
	size_t n = pr->topo->n;

	if (pr->cursor >= n)
		pr->cursor = 0;
	for (size_t k = 0; k < n; k++) {
		struct group *g = pr->topo->groups[(pr->cursor + k) % n];

		prober_check(pr, g);
		/* A confirmed master is asked again at its own time: a node
		 * demoted behind Sentinel's back leaves the write backend.
		 * At most PROBE_RECHECK_MAX a tick; the others are next. */
		if (g->master_ip[0] && g->confirmed == 1 && budget > 0) {
			struct pgroup *pg = pgroup_get(pr, g);

			if (pg && !pg->master && now >= pg->recheck_at) {
				probe_master(pr, g);
				if (--budget == 0)
					pr->cursor = (pr->cursor + k + 1) % n;
			}
		}
	}
	/* What the idle moments have not done yet, a slice a tick. */
	if (!watch_drain(pr, WATCH_TICK_BATCH))
		ev_idle_stop(pr->loop, &pr->idle);
	closer_tick(&pr->closer);
}

struct prober *
prober_new(struct ev_loop *loop, const struct config *cfg, struct topo *topo, probe_changed_cb changed,
	   void *arg)
{
	struct prober *pr = calloc(1, sizeof(*pr));

	if (!pr)
		return NULL;
	pr->loop = loop;
	pr->cfg = cfg;
	pr->topo = topo;
	pr->changed = changed;
	pr->arg = arg;
	tk_list_init(&pr->probes);
	tk_list_init(&pr->waitq);
	ev_idle_init(&pr->idle, idle_cb);
	ev_set_priority(&pr->idle, EV_MINPRI);
	pr->idle.data = pr;
	closer_init(&pr->closer, loop);
	return pr;
}

void
prober_free(struct prober *pr)
{
	if (!pr)
		return;
	ev_idle_stop(pr->loop, &pr->idle);
	while (!tk_list_empty(&pr->probes))
		probe_free(tk_container_of(pr->probes.next, struct probe, all));
	for (size_t i = 0; i < pr->npg; i++)
		while (pr->pg[i].watches)
			watch_free(pr->pg[i].watches);
	closer_free(&pr->closer);
	free(pr->pg);
	free(pr->due);
	free(pr);
}

void
prober_set_journal(struct prober *pr, struct journal *j)
{
	pr->journal = j;
}

size_t
prober_in_flight(const struct prober *pr)
{
	return pr->nprobes;
}
