#include "fence.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "closer.h"
#include "log.h"

/* A dead master's address is tried again from every 5 ms up to every
 * 100 ms: a master restarted within down-after takes writes again within
 * that much of listening. One that cannot be reached (a timeout, no route)
 * is tried again with a slower backoff: it proves nothing either way. */
#define FENCE_RETRY_MIN_MS 5
#define FENCE_RETRY_MAX_MS 100
#define FENCE_REWATCH_MIN_MS 100
#define FENCE_REWATCH_MAX_MS 5000
/* Open file limit wanted: one watch per master group on top of the rest. */
#define FENCE_NOFILE 65536
/* Descriptors the watches leave to everything else (HAProxy's socket,
 * Sentinel links, ROLE probes, status clients): a watch never takes a
 * descriptor numbered this close to the limit. */
#define FENCE_FD_RESERVE 256

enum fw_state {
	FW_IDLE = 0,     /* no socket; the timer opens one */
	FW_CONNECTING,   /* a fresh connection in progress (the timer is its deadline) */
	FW_WATCHING,     /* connected and idle: waiting for EOF or a reset */
};

struct fwatch {
	struct fence *f;
	char ip[ADDR_IP_MAX];    /* the master as Sentinel names it */
	char addr[ADDR_IP_MAX];  /* its IP literal (a name resolved: g->master_addr) */
	int port;
	enum fw_state state;
	int fd;
	int dead;               /* the last conclusion was "refused" */
	int watched;            /* a connection was up since the last conclusion */
	int delay_ms;
	uint64_t tick;          /* last fence_tick that found its group */
	/* ROLE asked on the watch (fence_ask_role): the answer goes to
	 * ask_fn, unless it timed out; skip counts answers still owed that
	 * nobody waits for (AUTH's, a late ROLE's). */
	fence_role_fn ask_fn;
	void *ask_arg;
	int ask_queued;         /* asked before the connection was up: sent once it is */
	int skip;
	redisReader *reader;    /* while answers are owed */
	ev_io io;
	ev_timer timer;
	struct fwatch *next;
	char group[];            /* its group's name, allocated to its length */
};

struct fence {
	struct ev_loop *loop;
	const struct config *cfg;
	struct topo *topo;
	fence_changed_fn changed;
	void *arg;
	struct fwatch *watches;
	unsigned nwatching;
	unsigned long long deaths;
	uint64_t ticks;
	uint64_t seen_changes;  /* topo's master_changes at the last sweep */
	int swept;              /* a sweep ran since fence_new */
	long fd_cap;            /* descriptors from this number on are not for watches; 0 no cap */
	int fd_warned;
	struct closer closer;   /* the sockets of replaced masters' watches */
};

static void fw_connect(struct fwatch *w);
static int fw_send_ask(struct fwatch *w);

/* The answer to ROLE asked on w will not come: NULL to the asker. */
static void
fw_ask_fail(struct fwatch *w)
{
	fence_role_fn fn = w->ask_fn;

	w->ask_fn = NULL;
	w->ask_queued = 0;
	if (fn)
		fn(w->ask_arg, NULL);
}

static void
fw_close(struct fwatch *w)
{
	struct fence *f = w->f;

	if (w->reader) {
		redisReaderFree(w->reader);
		w->reader = NULL;
	}
	w->skip = 0;
	fw_ask_fail(w);
	ev_io_stop(f->loop, &w->io);
	ev_timer_stop(f->loop, &w->timer);
	if (w->fd >= 0) {
		/* Our own idle connection, nothing owed on it any more: a
		 * reset ends it at once, without the closing handshake and
		 * the TIME_WAIT it would leave here for every switch. */
		if (w->state == FW_WATCHING)
			fd_reset_on_close(w->fd);
		close(w->fd);
		w->fd = -1;
	}
	if (w->state == FW_WATCHING)
		f->nwatching--;
	w->state = FW_IDLE;
}

/* w's master is replaced: nothing more is read from its socket, which the
 * closer resets when the loop is idle (closer.h). */
static void
fw_close_later(struct fwatch *w)
{
	int fd = w->fd;

	if (fd < 0 || w->state != FW_WATCHING) {
		fw_close(w);
		return;
	}
	w->fd = -1;
	fw_close(w);
	closer_add(&w->f->closer, fd);
}

static void
fw_later(struct fwatch *w, int ms)
{
	ev_timer_stop(w->f->loop, &w->timer);
	ev_timer_set(&w->timer, ms / 1000.0, 0.);
	ev_timer_start(w->f->loop, &w->timer);
}

/* Tell the model; the owner applies the rule. */
static void
fw_report(struct fwatch *w, int dead)
{
	struct fence *f = w->f;
	struct group *g = topo_find(f->topo, w->group);
	char a[ADDR_IP_MAX + 8];

	if (!g || g->master_port != w->port || !addr_ip_equal(g->master_ip, w->ip) ||
	    !addr_ip_equal(g->master_addr, w->addr))
		return;
	if (!topo_fence_link(g, w->ip, w->port, dead))
		return;
	addr_format(a, sizeof(a), w->ip, w->port);
	if (dead) {
		f->deaths++;
		log_warn("%s: master %s refuses connections: its process is gone", g->name, a);
	} else {
		log_info("%s: master %s accepts connections again", g->name, a);
	}
	f->changed(f->arg, g);
}

static void
fw_refused(struct fwatch *w)
{
	fw_close(w);
	if (!w->dead || w->watched)
		w->delay_ms = 0;
	w->dead = 1;
	w->watched = 0;
	w->delay_ms = w->delay_ms ? w->delay_ms * 2 : FENCE_RETRY_MIN_MS;
	if (w->delay_ms > FENCE_RETRY_MAX_MS)
		w->delay_ms = FENCE_RETRY_MAX_MS;
	fw_later(w, w->delay_ms);
	fw_report(w, 1);
}

/* No answer, no route: a partition or a lost host, not a dead process. */
static void
fw_unreachable(struct fwatch *w, int err)
{
	fw_close(w);
	if (w->delay_ms < FENCE_REWATCH_MIN_MS)
		w->delay_ms = FENCE_REWATCH_MIN_MS;
	else if ((w->delay_ms *= 2) > FENCE_REWATCH_MAX_MS)
		w->delay_ms = FENCE_REWATCH_MAX_MS;
	log_debug("%s: watch of %s:%d: %s; again in %d ms", w->group, w->ip, w->port,
		  err ? strerror(err) : "connect timeout", w->delay_ms);
	fw_later(w, w->delay_ms);
}

static void
fw_connected(struct fwatch *w)
{
	struct fence *f = w->f;

	ev_timer_stop(f->loop, &w->timer);
	ev_io_stop(f->loop, &w->io);
	/* A watch that went silent (a host lost without a reset) is found
	 * by keepalive and opened again. */
	fd_keepalive(w->fd, 10, 5, 3);
	ev_io_set(&w->io, w->fd, EV_READ);
	ev_io_start(f->loop, &w->io);
	w->state = FW_WATCHING;
	f->nwatching++;
	w->delay_ms = 0;
	w->watched = 1;
	if (w->dead) {
		w->dead = 0;
		fw_report(w, 0);
	}
	/* ROLE asked while the connection was on its way (a new master's
	 * confirmation): now. The asker's callback may free the watch: last. */
	if (w->ask_fn && w->ask_queued && w->state == FW_WATCHING) {
		fence_role_fn fn = w->ask_fn;
		void *arg = w->ask_arg;

		w->ask_queued = 0;
		if (fw_send_ask(w) < 0) {
			w->ask_fn = NULL;
			fn(arg, NULL);
		}
	}
}

/* Bytes of the answers owed on the watch. The asker's callback runs last:
 * it may close or free the watch. */
static void
fw_answer(struct fwatch *w, const char *buf, size_t len)
{
	void *reply = NULL;
	fence_role_fn fn;
	void *arg;

	if (redisReaderFeed(w->reader, buf, len) != REDIS_OK)
		goto garbled;
	for (;;) {
		if (redisReaderGetReply(w->reader, &reply) != REDIS_OK)
			goto garbled;
		if (!reply)
			return;   /* the rest is still on its way */
		if (w->skip > 0) {
			w->skip--;
			freeReplyObject(reply);
			reply = NULL;
			if (w->skip == 0 && !w->ask_fn)
				break;
			continue;
		}
		if (!w->ask_fn) {
			freeReplyObject(reply);   /* nothing was asked: stray */
			break;
		}
		fn = w->ask_fn;
		arg = w->ask_arg;
		w->ask_fn = NULL;
		ev_timer_stop(w->f->loop, &w->timer);
		redisReaderFree(w->reader);
		w->reader = NULL;
		fn(arg, reply);
		freeReplyObject(reply);
		return;
	}
	/* Nothing owed any more. */
	redisReaderFree(w->reader);
	w->reader = NULL;
	return;
garbled:
	/* Not Redis's protocol: no conclusion from it; a fresh connection
	 * decides, as after a close. */
	log_debug("%s: watch of %s:%d: unreadable answer: a fresh connection decides", w->group, w->ip, w->port);
	fw_close(w);
	fw_connect(w);
}

static void
fw_io_cb(struct ev_loop *loop, ev_io *io, int revents)
{
	struct fwatch *w = io->data;
	char buf[256];
	int err;
	ssize_t n;

	(void)loop;
	(void)revents;
	if (w->state == FW_CONNECTING) {
		err = fd_connect_error(w->fd);
		if (err == 0)
			fw_connected(w);
		else if (err == ECONNREFUSED)
			fw_refused(w);
		else
			fw_unreachable(w, err);
		return;
	}
	/* Watching: the end of stream or a reset is the signal. Data is
	 * the answer to a ROLE asked on the watch (fence_ask_role), or a
	 * stray error reply (drained and ignored). */
	n = recv(w->fd, buf, sizeof(buf), 0);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return;
	if (n > 0) {
		if (w->reader)
			fw_answer(w, buf, (size_t)n);
		return;
	}
	log_debug("%s: watch of %s:%d closed (%s): a fresh connection decides", w->group, w->ip, w->port,
		  n == 0 ? "end of stream" : strerror(errno));
	fw_close(w);
	fw_connect(w);
}

static void
fw_timer_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct fwatch *w = t->data;

	(void)loop;
	(void)revents;
	if (w->state == FW_CONNECTING) {
		fw_unreachable(w, 0);
		return;
	}
	if (w->state == FW_WATCHING && w->ask_fn) {
		/* ROLE asked on the watch got no answer in time: the asker
		 * hears NULL, the late answer is dropped when it comes. The
		 * watch stays: silence is no close. */
		w->skip++;
		fw_ask_fail(w);
		return;
	}
	if (w->state == FW_IDLE)
		fw_connect(w);
}

static void
fw_connect(struct fwatch *w)
{
	struct fence *f = w->f;
	int fd, rc;

	if (!addr_is_ip(w->addr))
		return;   /* not an IP literal: never watched */
	rc = fd_connect_ip(w->addr, w->port, f->fd_cap, &fd);
	if (rc < 0 && errno == ECONNREFUSED) {
		fw_refused(w);
		return;
	}
	if (rc < 0) {
		if (errno == EMFILE || errno == ENFILE) {
			if (!f->fd_warned) {
				f->fd_warned = 1;
				log_warn("%s: cannot watch the master %s:%d: %s (early fence off for it until a socket is free)",
					 w->group, w->ip, w->port, strerror(errno));
			}
		}
		fw_unreachable(w, errno);
		return;
	}
	w->fd = fd;
	if (rc == 0) {
		fw_connected(w);
		return;
	}
	w->state = FW_CONNECTING;
	ev_io_set(&w->io, fd, EV_WRITE);
	ev_io_start(f->loop, &w->io);
	fw_later(w, f->cfg->connect_timeout_ms);
}

static void
fw_free(struct fwatch *w)
{
	struct fence *f = w->f;
	struct group *g = topo_find(f->topo, w->group);
	struct fwatch **pp;

	if (g && g->fence_watch == w)
		g->fence_watch = NULL;
	for (pp = &f->watches; *pp; pp = &(*pp)->next) {
		if (*pp == w) {
			*pp = w->next;
			break;
		}
	}
	fw_close(w);
	free(w);
}

void
fence_track(struct fence *f, struct group *g)
{
	struct fwatch *w = g->fence_watch;

	if (!f || !f->cfg->fence_on_reset)
		return;
	if (w)
		w->tick = f->ticks;
	/* The master's address: an IP literal, or its name resolved. */
	if (!g->master_ip[0] || !addr_is_ip(g->master_addr)) {
		if (w)
			fw_free(w);
		return;
	}
	if (w && w->port == g->master_port && addr_ip_equal(w->ip, g->master_ip) &&
	    addr_ip_equal(w->addr, g->master_addr))
		return;
	if (!w) {
		size_t len = strlen(g->name);

		w = calloc(1, sizeof(*w) + len + 1);
		if (!w)
			return;
		w->f = f;
		w->fd = -1;
		memcpy(w->group, g->name, len + 1);
		ev_io_init(&w->io, fw_io_cb, -1, EV_READ);
		w->io.data = w;
		ev_timer_init(&w->timer, fw_timer_cb, 0., 0.);
		w->timer.data = w;
		w->next = f->watches;
		f->watches = w;
		w->tick = f->ticks;
		g->fence_watch = w;
	}
	/* A new master: forget everything about the old one. */
	fw_close_later(w);
	str_copy(w->ip, g->master_ip, sizeof(w->ip));
	str_copy(w->addr, g->master_addr, sizeof(w->addr));
	w->port = g->master_port;
	w->dead = 0;
	w->watched = 0;
	w->delay_ms = 0;
	fw_later(w, 0);   /* from the loop, never inside a caller's callback */
}

void
fence_tick(struct fence *f)
{
	struct fwatch *w, *next;

	if (!f || !f->cfg->fence_on_reset)
		return;
	closer_tick(&f->closer);
	/* Masters change only in topo_decide() (and groups come and go only
	 * through topo_get/topo_remove), which bump master_changes: an idle
	 * tick costs nothing, however many groups there are. The watches'
	 * own timers do the rest. */
	if (f->swept && f->topo->master_changes == f->seen_changes)
		return;
	f->swept = 1;
	f->seen_changes = f->topo->master_changes;
	f->ticks++;
	for (size_t i = 0; i < f->topo->n; i++)
		fence_track(f, f->topo->groups[i]);
	for (w = f->watches; w; w = next) {
		next = w->next;
		if (w->tick != f->ticks)
			fw_free(w);   /* its group is gone */
	}
}

struct fence *
fence_new(struct ev_loop *loop, const struct config *cfg, struct topo *topo, fence_changed_fn changed,
	  void *arg)
{
	struct fence *f = calloc(1, sizeof(*f));
	struct rlimit rl;

	if (!f)
		return NULL;
	f->loop = loop;
	f->cfg = cfg;
	f->topo = topo;
	f->changed = changed;
	f->arg = arg;
	closer_init(&f->closer, loop);
	/* One descriptor per master group: raise the soft limit as far as
	 * allowed (up to FENCE_NOFILE). */
	if (cfg->fence_on_reset && getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < FENCE_NOFILE &&
	    rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max < FENCE_NOFILE ? rl.rlim_max : FENCE_NOFILE;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (cfg->fence_on_reset && getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
		f->fd_cap = rl.rlim_cur > 2 * FENCE_FD_RESERVE ? (long)(rl.rlim_cur - FENCE_FD_RESERVE)
							       : (long)(rl.rlim_cur / 2);
	return f;
}

void
fence_free(struct fence *f)
{
	if (!f)
		return;
	while (f->watches)
		fw_free(f->watches);
	closer_free(&f->closer);
	free(f);
}

void
fence_counts(const struct fence *f, unsigned *watching, unsigned long long *deaths)
{
	*watching = f ? f->nwatching : 0;
	*deaths = f ? f->deaths : 0;
}

/* ROLE (after AUTH, if configured) on w, connected with no answer owed;
 * its answer goes to w->ask_fn. 0 sent; -1 not sent (a send that failed
 * half-way closes the watch and opens a fresh one: the stream is no longer
 * known), w->ask_fn left for the caller to fail or forget. */
static int
fw_send_ask(struct fwatch *w)
{
	const struct config *cfg = w->f->cfg;
	char *cmd = NULL, *auth = NULL;
	int alen = 0;
	size_t len;
	ssize_t n;

	/* AUTH with every question (the watch itself never authenticates):
	 * its answer is skipped, ROLE's tells. */
	if (cfg->redis_password && cfg->redis_password[0]) {
		if (cfg->redis_user && cfg->redis_user[0])
			alen = redisFormatCommand(&auth, "AUTH %s %s", cfg->redis_user, cfg->redis_password);
		else
			alen = redisFormatCommand(&auth, "AUTH %s", cfg->redis_password);
		if (alen < 0)
			return -1;
	}
	len = (size_t)alen + 6;
	cmd = malloc(len);
	if (!cmd || !(w->reader = redisReaderCreate())) {
		free(cmd);
		if (auth) {
			memset(auth, 0, (size_t)alen);
			redisFreeCommand(auth);
		}
		return -1;
	}
	if (alen > 0)
		memcpy(cmd, auth, (size_t)alen);
	memcpy(cmd + alen, "ROLE\r\n", 6);
	if (auth) {
		memset(auth, 0, (size_t)alen);
		redisFreeCommand(auth);
	}
	n = send(w->fd, cmd, len, MSG_NOSIGNAL);
	memset(cmd, 0, len);
	free(cmd);
	if (n < 0 || (size_t)n != len) {
		redisReaderFree(w->reader);
		w->reader = NULL;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
			return -1;
		log_debug("%s: watch of %s:%d: cannot ask ROLE on it: a fresh connection decides", w->group, w->ip,
			  w->port);
		/* fw_close would fail the asker from inside this call. */
		w->ask_fn = NULL;
		w->ask_queued = 0;
		fw_close(w);
		fw_connect(w);
		return -1;
	}
	w->skip = alen > 0;
	fw_later(w, cfg->command_timeout_ms);
	return 0;
}

int
fence_ask_role(struct group *g, fence_role_fn fn, void *arg, void **handle)
{
	struct fwatch *w = g->fence_watch;

	/* Only over a watch of this very master with no answer owed (one
	 * question at a time, nothing left over) ... */
	if (!w || w->ask_fn || w->skip || w->reader || w->port != g->master_port ||
	    !addr_ip_equal(w->ip, g->master_ip) || !addr_ip_equal(w->addr, g->master_addr))
		return -1;
	/* ... connected, or about to be: a new master's watch is opened when
	 * it is decided, and the confirmation rides on it (one connection a
	 * switch, not two). Not one that was refused or unreachable: that one
	 * waits out a backoff. A connect due now may have its timer expired
	 * already, its callback still to run in this loop iteration (pending,
	 * no longer active): the asker's timer and the watch's, both started
	 * at 0 when the master was decided, expire together. */
	if (w->state != FW_WATCHING &&
	    (w->dead || !(w->state == FW_CONNECTING ||
			  (w->state == FW_IDLE && w->delay_ms == 0 &&
			   (ev_is_active(&w->timer) || ev_is_pending(&w->timer))))))
		return -1;
	w->ask_fn = fn;
	w->ask_arg = arg;
	if (w->state != FW_WATCHING) {
		w->ask_queued = 1;   /* sent by fw_connected */
	} else if (fw_send_ask(w) < 0) {
		w->ask_fn = NULL;
		return -1;
	}
	*handle = w;
	return 0;
}

void
fence_ask_cancel(void *handle, void *arg)
{
	struct fwatch *w = handle;

	if (!w || !w->ask_fn || w->ask_arg != arg)
		return;
	if (w->ask_queued) {
		/* Never sent: nothing to drop. */
		w->ask_fn = NULL;
		w->ask_queued = 0;
		return;
	}
	/* The answer still comes: dropped. */
	w->ask_fn = NULL;
	w->skip++;
	ev_timer_stop(w->f->loop, &w->timer);
}
