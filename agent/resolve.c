#include "resolve.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include <ares.h>

#include "log.h"
#include "tk.h"

struct rentry {
	struct resolver *r;
	struct resolve_info ri;
	int failures;            /* consecutive */
	int querying;            /* a c-ares query is in flight */
	int64_t used_ms;         /* last lookup (monotonic) */
};

struct rio {
	ares_socket_t fd;
	ev_io io;
	struct resolver *r;
};

struct resolver {
	struct ev_loop *loop;
	ares_channel ch;
	int ch_ok;
	int64_t ttl_min_ms, ttl_max_ms;
	resolve_changed_cb changed;
	void *arg;
	struct rentry **tab;     /* open addressing by name, cap slots (power of 2) */
	size_t cap, n;
	struct rio **ios;        /* c-ares sockets being watched */
	size_t nios, capios;
	ev_timer kick;           /* starts due queries: expiries and new names */
	ev_timer ares_tmo;       /* c-ares's own timeouts */
	int destroying;
};

const char *
resolve_state_name(enum resolve_state s)
{
	switch (s) {
	case RESOLVE_OK: return "ok";
	case RESOLVE_FAILED: return "failed";
	case RESOLVE_PENDING: break;
	}
	return "pending";
}

int64_t
resolve_clamp_ttl(long ttl_s, int64_t min_ms, int64_t max_ms)
{
	int64_t ms = ttl_s > 0 ? (int64_t)ttl_s * 1000 : 0;

	if (ms > max_ms)
		ms = max_ms;
	if (ms < min_ms)
		ms = min_ms;
	return ms;
}

int64_t
resolve_retry_ms(int failures, int64_t min_ms, int64_t max_ms)
{
	int64_t ms = min_ms;

	for (int i = 1; i < failures && ms < max_ms; i++)
		ms *= 2;
	return ms > max_ms ? max_ms : ms;
}

static uint64_t
name_hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *s; s++) {
		char ch = *s;

		if (ch >= 'A' && ch <= 'Z')
			ch = (char)(ch - 'A' + 'a');   /* DNS names are case-insensitive */
		h = (h ^ (unsigned char)ch) * 1099511628211ULL;
	}
	return h;
}

static struct rentry *
find(const struct resolver *r, const char *name)
{
	if (!r->cap)
		return NULL;
	for (size_t i = name_hash(name) & (r->cap - 1);; i = (i + 1) & (r->cap - 1)) {
		struct rentry *e = r->tab[i];

		if (!e)
			return NULL;
		if (strcasecmp(e->ri.name, name) == 0)
			return e;
	}
}

static int
insert(struct resolver *r, struct rentry *e)
{
	if ((r->n + 1) * 2 > r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 16;
		struct rentry **t = calloc(cap, sizeof(*t));

		if (!t)
			return -1;
		for (size_t k = 0; k < r->cap; k++) {
			struct rentry *o = r->tab[k];

			if (!o)
				continue;
			for (size_t i = name_hash(o->ri.name) & (cap - 1);; i = (i + 1) & (cap - 1)) {
				if (!t[i]) {
					t[i] = o;
					break;
				}
			}
		}
		free(r->tab);
		r->tab = t;
		r->cap = cap;
	}
	for (size_t i = name_hash(e->ri.name) & (r->cap - 1);; i = (i + 1) & (r->cap - 1)) {
		if (!r->tab[i]) {
			r->tab[i] = e;
			r->n++;
			return 0;
		}
	}
}

/* ------------------------------------------------------------ libev glue */

static void arm_ares_timer(struct resolver *r);

static void
io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct rio *io = w->data;
	struct resolver *r = io->r;

	(void)loop;
	ares_process_fd(r->ch, (revents & EV_READ) ? io->fd : ARES_SOCKET_BAD,
			(revents & EV_WRITE) ? io->fd : ARES_SOCKET_BAD);
	arm_ares_timer(r);
}

/* c-ares opens, changes or closes a socket. */
static void
sock_state_cb(void *data, ares_socket_t fd, int readable, int writable)
{
	struct resolver *r = data;
	size_t i;

	for (i = 0; i < r->nios; i++)
		if (r->ios[i]->fd == fd)
			break;
	if (!readable && !writable) {
		if (i < r->nios) {
			ev_io_stop(r->loop, &r->ios[i]->io);
			free(r->ios[i]);
			r->ios[i] = r->ios[--r->nios];
		}
		return;
	}
	if (i == r->nios) {
		struct rio *io;

		if (tk_grow(&r->ios, &r->capios, r->nios + 1, sizeof(*r->ios)) < 0 || !(io = calloc(1, sizeof(*io)))) {
			log_err("resolver: out of memory watching a DNS socket");
			return;
		}
		io->fd = fd;
		io->r = r;
		ev_init(&io->io, io_cb);
		io->io.data = io;
		r->ios[r->nios++] = io;
	}
	ev_io_stop(r->loop, &r->ios[i]->io);
	ev_io_set(&r->ios[i]->io, fd, (readable ? EV_READ : 0) | (writable ? EV_WRITE : 0));
	ev_io_start(r->loop, &r->ios[i]->io);
}

static void
ares_tmo_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct resolver *r = w->data;

	(void)loop;
	(void)revents;
	ares_process_fd(r->ch, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
	arm_ares_timer(r);
}

static void
arm_ares_timer(struct resolver *r)
{
	struct timeval tv, *tvp;

	if (r->destroying)
		return;
	ev_timer_stop(r->loop, &r->ares_tmo);
	tvp = ares_timeout(r->ch, NULL, &tv);
	if (!tvp)
		return;
	ev_timer_set(&r->ares_tmo, (double)tvp->tv_sec + tvp->tv_usec / 1e6 + 0.001, 0.);
	ev_timer_start(r->loop, &r->ares_tmo);
}

/* ------------------------------------------------------------ cache */

static void
set_expiry(struct rentry *e, int64_t delay, int64_t now)
{
	e->ri.ttl_ms = delay;
	e->ri.expires_ms = now + delay;
}

int
resolver_feed(struct resolver *r, const char *name, int ok, const char *addr, long ttl_s,
	      const char *err, int64_t now)
{
	struct rentry *e = find(r, name);
	enum resolve_state was;
	char old[ADDR_IP_MAX];

	if (!e)
		return 0;
	was = e->ri.state;
	str_copy(old, e->ri.addr, sizeof(old));
	if (ok && addr && addr_is_ip(addr)) {
		e->failures = 0;
		e->ri.state = RESOLVE_OK;
		e->ri.error[0] = '\0';
		str_copy(e->ri.addr, addr, sizeof(e->ri.addr));
		set_expiry(e, resolve_clamp_ttl(ttl_s, r->ttl_min_ms, r->ttl_max_ms), now);
	} else {
		e->failures++;
		e->ri.state = RESOLVE_FAILED;
		str_copy(e->ri.error, err && *err ? err : "no address", sizeof(e->ri.error));
		e->ri.addr[0] = '\0';
		set_expiry(e, resolve_retry_ms(e->failures, r->ttl_min_ms, r->ttl_max_ms), now);
	}
	if (was == e->ri.state && strcmp(old, e->ri.addr) == 0)
		return 0;
	e->ri.changed_wall_ms = now_wall_ms();
	if (e->ri.state == RESOLVE_OK) {
		if (e->ri.last[0] && strcmp(e->ri.last, e->ri.addr) != 0) {
			e->ri.changes++;
			log_warn("resolver: %s now resolves to %s (was %s)", name, e->ri.addr, e->ri.last);
		} else {
			log_info("resolver: %s resolves to %s (ttl %lld ms)", name, e->ri.addr,
				 (long long)e->ri.ttl_ms);
		}
		str_copy(e->ri.last, e->ri.addr, sizeof(e->ri.last));
	} else {
		log_warn("resolver: %s does not resolve (%s): unknown, nothing is routed to it; asked again in %lld ms",
			 name, e->ri.error, (long long)e->ri.ttl_ms);
	}
	return 1;
}

/* The first IPv4 address, else the first IPv6 one; ttl the smallest. */
static int
pick(const struct ares_addrinfo *res, char *addr, size_t len, long *ttl)
{
	const struct ares_addrinfo_node *best = NULL;

	for (const struct ares_addrinfo_node *n = res ? res->nodes : NULL; n; n = n->ai_next) {
		if (n->ai_family != AF_INET && n->ai_family != AF_INET6)
			continue;
		if (!best || (best->ai_family == AF_INET6 && n->ai_family == AF_INET))
			best = n;
	}
	if (!best)
		return -1;
	*ttl = best->ai_ttl;
	if (best->ai_family == AF_INET)
		return inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)best->ai_addr)->sin_addr,
				 addr, (socklen_t)len) ? 0 : -1;
	return inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)best->ai_addr)->sin6_addr,
			 addr, (socklen_t)len) ? 0 : -1;
}

static void schedule_kick(struct resolver *r, int64_t now);

static void
answer_cb(void *arg, int status, int timeouts, struct ares_addrinfo *res)
{
	struct rentry *e = arg;
	struct resolver *r = e->r;
	char addr[ADDR_IP_MAX] = "";
	long ttl = 0;
	int64_t now;

	(void)timeouts;
	if (status == ARES_EDESTRUCTION || r->destroying) {
		if (res)
			ares_freeaddrinfo(res);
		return;
	}
	e->querying = 0;
	now = now_mono_ms();
	if (status == ARES_SUCCESS && pick(res, addr, sizeof(addr), &ttl) == 0) {
		if (resolver_feed(r, e->ri.name, 1, addr, ttl, NULL, now) && r->changed)
			r->changed(r->arg, e->ri.name);
	} else {
		const char *why = status == ARES_ENOTFOUND ? "NXDOMAIN"
				  : status == ARES_ETIMEOUT ? "timeout"
				  : status == ARES_SUCCESS || status == ARES_ENODATA ? "no address"
				  : ares_strerror(status);

		if (resolver_feed(r, e->ri.name, 0, NULL, 0, why, now) && r->changed)
			r->changed(r->arg, e->ri.name);
	}
	if (res)
		ares_freeaddrinfo(res);
	schedule_kick(r, now);
}

static void
start_query(struct resolver *r, struct rentry *e)
{
	struct ares_addrinfo_hints h;

	memset(&h, 0, sizeof(h));
	h.ai_family = AF_UNSPEC;
	h.ai_socktype = SOCK_STREAM;
	h.ai_flags = ARES_AI_NOSORT;   /* no probing connects to sort them: we pick ourselves */
	e->querying = 1;
	log_debug("resolver: asking for %s", e->ri.name);
	ares_getaddrinfo(r->ch, e->ri.name, NULL, &h, answer_cb, e);
	arm_ares_timer(r);
}

/* Start what is due; re-arm for the next expiry. */
static void
kick_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct resolver *r = w->data;
	int64_t now = now_mono_ms();

	(void)loop;
	(void)revents;
	for (size_t i = 0; i < r->cap; i++) {
		struct rentry *e = r->tab[i];

		if (!e || e->querying || e->ri.expires_ms > now)
			continue;
		if (now - e->used_ms > RESOLVE_IDLE_MS)
			continue;   /* dormant: its next lookup asks again */
		start_query(r, e);
	}
	schedule_kick(r, now);
}

static void
schedule_kick(struct resolver *r, int64_t now)
{
	int64_t next = -1;

	if (r->destroying)
		return;
	for (size_t i = 0; i < r->cap; i++) {
		struct rentry *e = r->tab[i];

		if (!e || e->querying || now - e->used_ms > RESOLVE_IDLE_MS)
			continue;
		if (next < 0 || e->ri.expires_ms < next)
			next = e->ri.expires_ms;
	}
	ev_timer_stop(r->loop, &r->kick);
	if (next < 0)
		return;
	ev_timer_set(&r->kick, next > now ? (double)(next - now) / 1000.0 : 0., 0.);
	ev_timer_start(r->loop, &r->kick);
}

enum resolve_state
resolver_lookup(struct resolver *r, const char *host, char *addr, size_t addrlen)
{
	struct rentry *e;
	int64_t now;

	if (addrlen)
		addr[0] = '\0';
	if (!host || !*host)
		return RESOLVE_FAILED;
	if (addr_is_ip(host)) {
		str_copy(addr, host, addrlen);
		return RESOLVE_OK;
	}
	if (!r || !addr_is_hostname(host))
		return RESOLVE_FAILED;
	now = now_mono_ms();
	e = find(r, host);
	if (!e) {
		if (r->n >= RESOLVE_MAX_NAMES)
			return RESOLVE_FAILED;
		if (!(e = calloc(1, sizeof(*e))))
			return RESOLVE_FAILED;
		e->r = r;
		str_copy(e->ri.name, host, sizeof(e->ri.name));
		e->ri.state = RESOLVE_PENDING;
		e->ri.expires_ms = now;
		if (insert(r, e) < 0) {
			free(e);
			return RESOLVE_FAILED;
		}
		e->used_ms = now;
		schedule_kick(r, now);
	} else if (now - e->used_ms > RESOLVE_IDLE_MS) {
		/* Dormant: what it said may be long outdated. */
		e->ri.state = RESOLVE_PENDING;
		e->ri.addr[0] = '\0';
		e->used_ms = now;
		schedule_kick(r, now);
	}
	e->used_ms = now;
	if (e->ri.state == RESOLVE_OK)
		str_copy(addr, e->ri.addr, addrlen);
	return e->ri.state;
}

int
resolver_info(const struct resolver *r, const char *name, struct resolve_info *out)
{
	const struct rentry *e = r && name ? find(r, name) : NULL;

	if (!e)
		return -1;
	*out = e->ri;
	return 0;
}

void
resolver_each(const struct resolver *r, void (*fn)(void *arg, const struct resolve_info *ri), void *arg)
{
	for (size_t i = 0; r && i < r->cap; i++)
		if (r->tab[i])
			fn(arg, &r->tab[i]->ri);
}

size_t
resolver_count(const struct resolver *r)
{
	return r ? r->n : 0;
}

struct resolver *
resolver_new(struct ev_loop *loop, const char *servers, int64_t ttl_min_ms, int64_t ttl_max_ms,
	     resolve_changed_cb changed, void *arg, char *err, size_t errlen)
{
	struct resolver *r = calloc(1, sizeof(*r));
	struct ares_options o;
	int mask = ARES_OPT_SOCK_STATE_CB | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES, rc;
	char lookups[] = "b";

	if (!r) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if ((rc = ares_library_init(ARES_LIB_INIT_ALL)) != ARES_SUCCESS) {
		snprintf(err, errlen, "c-ares: %s", ares_strerror(rc));
		free(r);
		return NULL;
	}
	r->loop = loop;
	r->ttl_min_ms = ttl_min_ms > 0 ? ttl_min_ms : RESOLVE_TTL_MIN_MS;
	r->ttl_max_ms = ttl_max_ms >= r->ttl_min_ms ? ttl_max_ms : r->ttl_min_ms;
	r->changed = changed;
	r->arg = arg;
	memset(&o, 0, sizeof(o));
	o.sock_state_cb = sock_state_cb;
	o.sock_state_cb_data = r;
	o.timeout = 1000;   /* per try, ms */
	o.tries = 2;
	if (servers && *servers) {
		/* A DNS server of its own: ask it alone, not the hosts file. */
		o.lookups = lookups;
		mask |= ARES_OPT_LOOKUPS;
	}
	if ((rc = ares_init_options(&r->ch, &o, mask)) != ARES_SUCCESS) {
		snprintf(err, errlen, "c-ares: %s", ares_strerror(rc));
		ares_library_cleanup();
		free(r);
		return NULL;
	}
	r->ch_ok = 1;
	if (servers && *servers && (rc = ares_set_servers_ports_csv(r->ch, servers)) != ARES_SUCCESS) {
		snprintf(err, errlen, "resolver '%s': %s", servers, ares_strerror(rc));
		resolver_free(r);
		return NULL;
	}
	ev_timer_init(&r->kick, kick_cb, 0., 0.);
	r->kick.data = r;
	ev_timer_init(&r->ares_tmo, ares_tmo_cb, 0., 0.);
	r->ares_tmo.data = r;
	return r;
}

void
resolver_free(struct resolver *r)
{
	if (!r)
		return;
	r->destroying = 1;
	if (r->loop) {
		ev_timer_stop(r->loop, &r->kick);
		ev_timer_stop(r->loop, &r->ares_tmo);
	}
	if (r->ch_ok) {
		ares_destroy(r->ch);   /* in-flight answers are called with ARES_EDESTRUCTION */
		ares_library_cleanup();
	}
	for (size_t i = 0; i < r->nios; i++) {
		ev_io_stop(r->loop, &r->ios[i]->io);
		free(r->ios[i]);
	}
	free(r->ios);
	for (size_t i = 0; i < r->cap; i++)
		free(r->tab[i]);
	free(r->tab);
	free(r);
}
