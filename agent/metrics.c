#include "metrics.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "agent.h"
#include "log.h"
#include "notify.h"
#include "oldworkers.h"
#include "tk.h"
#include "util.h"

/* ------------------------------------------------------------ families */

#define METRICS_NAME(id, type, help) "hasentinel_" #id,
const char *const metrics_family_names[] = {
	METRIC_FAMILIES(METRICS_NAME)
};
#undef METRICS_NAME
const size_t metrics_nfamilies = sizeof(metrics_family_names) / sizeof(metrics_family_names[0]);

/* What the emitters read: gathered once per rendering. */
struct mctx {
	const struct agent *ag;
	const struct hap_stats *hs;
	struct rec_stats rs;
	struct sentinel_info si[CONF_MAX_SENTINELS];
	int nsi;
	char l1[160], l2[160];   /* label values */
};

/* Label values: escape backslash, quote and newline. Names here are HAProxy-
 * safe already, but Sentinel addresses come from the network. */
static const char *
lv(const char *s, char *buf, size_t len)
{
	size_t o = 0;

	for (; *s && o + 3 < len; s++) {
		if (*s == '\\' || *s == '"') {
			buf[o++] = '\\';
			buf[o++] = *s;
		} else if (*s == '\n') {
			buf[o++] = '\\';
			buf[o++] = 'n';
		} else {
			buf[o++] = *s;
		}
	}
	buf[o] = '\0';
	return buf;
}

/* Emitters: the samples of one family (name is its full name). -1 when the
 * family has nothing to report and is left out, header included. */
#define METRICS_EMIT_DECL(id, type, help) \
	static int emit_##id(struct tk_buf *b, const char *name, struct mctx *m);
METRIC_FAMILIES(METRICS_EMIT_DECL)
#undef METRICS_EMIT_DECL

static const struct {
	const char *type, *help;
	int (*emit)(struct tk_buf *b, const char *name, struct mctx *m);
} families[] = {
#define METRICS_ENTRY(id, type, help) { type, help, emit_##id },
	METRIC_FAMILIES(METRICS_ENTRY)
#undef METRICS_ENTRY
};

/* One sample per Sentinel / per master group: {sentinel="..."} v. */
static void
per_sentinel(struct tk_buf *b, const char *name, struct mctx *m,
	     unsigned long long (*val)(const struct sentinel_info *si))
{
	for (int i = 0; i < m->nsi; i++)
		tk_buf_printf(b, "%s{sentinel=\"%s\"} %llu\n", name, lv(m->si[i].addr, m->l1, sizeof(m->l1)),
			      val(&m->si[i]));
}

/* known_only: only groups whose HAProxy state is known. */
static void
per_group(struct tk_buf *b, const char *name, struct mctx *m, int known_only,
	  unsigned long long (*val)(const struct group *g, const struct rec_hap_view *hv))
{
	const struct topo *t = &m->ag->topo;

	for (size_t i = 0; i < t->n; i++) {
		const struct group *g = t->groups[i];
		struct rec_hap_view hv;
		int known = rec_group_haproxy(m->ag->rec, g, &hv);

		if (!known_only || known)
			tk_buf_printf(b, "%s{master=\"%s\"} %llu\n", name, lv(g->name, m->l1, sizeof(m->l1)),
				      val(g, &hv));
	}
}

static int
emit_value(struct tk_buf *b, const char *name, unsigned long long v)
{
	tk_buf_printf(b, "%s %llu\n", name, v);
	return 0;
}

static unsigned long long si_link_up(const struct sentinel_info *si) { return strcmp(si->cmd_state, "up") == 0; }
static unsigned long long si_tilt(const struct sentinel_info *si) { return (unsigned long long)si->tilt; }
static unsigned long long si_events(const struct sentinel_info *si) { return (unsigned long long)si->events; }
static unsigned long long g_switches(const struct group *g, const struct rec_hap_view *hv) { (void)hv; return (unsigned long long)g->nswitches; }
static unsigned long long g_epoch(const struct group *g, const struct rec_hap_view *hv) { (void)hv; return (unsigned long long)g->epoch; }
static unsigned long long g_write_ready(const struct group *g, const struct rec_hap_view *hv) { (void)g; return hv->write_ready[0] != '\0'; }
static unsigned long long g_fenced(const struct group *g, const struct rec_hap_view *hv) { (void)hv; return topo_master_fenced(g) != 0; }
static unsigned long long g_read_ready(const struct group *g, const struct rec_hap_view *hv) { (void)g; return (unsigned long long)hv->read_ready; }

static int
emit_up(struct tk_buf *b, const char *name, struct mctx *m)
{
	(void)m;
	return emit_value(b, name, 1);
}

static int
emit_uptime_seconds(struct tk_buf *b, const char *name, struct mctx *m)
{
	tk_buf_printf(b, "%s %.3f\n", name, (now_mono_ms() - m->ag->started_mono_ms) / 1000.0);
	return 0;
}

static int
emit_sentinel_link_up(struct tk_buf *b, const char *name, struct mctx *m)
{
	per_sentinel(b, name, m, si_link_up);
	return 0;
}

static int
emit_sentinel_tilt(struct tk_buf *b, const char *name, struct mctx *m)
{
	per_sentinel(b, name, m, si_tilt);
	return 0;
}

static int
emit_sentinel_events_total(struct tk_buf *b, const char *name, struct mctx *m)
{
	per_sentinel(b, name, m, si_events);
	return 0;
}

static int
emit_haproxy_link_up(struct tk_buf *b, const char *name, struct mctx *m)
{
	return emit_value(b, name, m->hs->state == HAP_LINK_UP);
}

static int
emit_haproxy_commands_total(struct tk_buf *b, const char *name, struct mctx *m)
{
	return emit_value(b, name, m->rs.commands_sent);
}

static int
emit_haproxy_commands_failed_total(struct tk_buf *b, const char *name, struct mctx *m)
{
	return emit_value(b, name, m->rs.commands_failed);
}

static int
emit_haproxy_reloads_total(struct tk_buf *b, const char *name, struct mctx *m)
{
	return emit_value(b, name, m->rs.reloads_seen);
}

static int
emit_resyncs_total(struct tk_buf *b, const char *name, struct mctx *m)
{
	return emit_value(b, name, m->rs.full_runs);
}

static int
emit_drift_corrections_total(struct tk_buf *b, const char *name, struct mctx *m)
{
	return emit_value(b, name, m->rs.drift_corrections);
}

static int
emit_switch_apply_seconds(struct tk_buf *b, const char *name, struct mctx *m)
{
	for (int i = 0; i < REC_APPLY_BUCKETS; i++) {
		if (i < REC_APPLY_BUCKETS - 1)
			tk_buf_printf(b, "%s_bucket{le=\"%g\"} %llu\n", name, rec_apply_bounds[i],
				      (unsigned long long)m->rs.apply_buckets[i]);
		else
			tk_buf_printf(b, "%s_bucket{le=\"+Inf\"} %llu\n", name,
				      (unsigned long long)m->rs.apply_buckets[i]);
	}
	tk_buf_printf(b, "%s_sum %.6f\n%s_count %llu\n", name, m->rs.apply_sum_s, name,
		      (unsigned long long)m->rs.apply_count);
	return 0;
}

static int
emit_failovers_total(struct tk_buf *b, const char *name, struct mctx *m)
{
	per_group(b, name, m, 0, g_switches);
	return 0;
}

static int
emit_master_config_epoch(struct tk_buf *b, const char *name, struct mctx *m)
{
	per_group(b, name, m, 0, g_epoch);
	return 0;
}

static int
emit_write_ready(struct tk_buf *b, const char *name, struct mctx *m)
{
	per_group(b, name, m, 1, g_write_ready);
	return 0;
}

static int
emit_read_ready(struct tk_buf *b, const char *name, struct mctx *m)
{
	per_group(b, name, m, 1, g_read_ready);
	return 0;
}

static int
emit_master_fenced(struct tk_buf *b, const char *name, struct mctx *m)
{
	per_group(b, name, m, 0, g_fenced);
	return 0;
}

/* Only with haproxy-master-socket. */
static int
emit_haproxy_old_worker_sessions_cut_total(struct tk_buf *b, const char *name, struct mctx *m)
{
	struct oldw_stats os;

	if (!m->ag->oldw)
		return -1;
	oldw_get_stats(m->ag->oldw, &os);
	return emit_value(b, name, os.sessions_cut);
}

static int
emit_group_state(struct tk_buf *b, const char *name, struct mctx *m)
{
	const struct topo *t = &m->ag->topo;

	for (size_t i = 0; i < t->n; i++) {
		const struct group *g = t->groups[i];
		enum group_state cur = rec_group_state(m->ag->rec, g);

		for (int st = GS_OK; st <= GS_FROZEN; st++)
			tk_buf_printf(b, "%s{master=\"%s\",state=\"%s\"} %d\n", name,
				      lv(g->name, m->l1, sizeof(m->l1)),
				      lv(group_state_name((enum group_state)st), m->l2, sizeof(m->l2)),
				      (int)cur == st);
	}
	return 0;
}

static int
emit_write_lease_held(struct tk_buf *b, const char *name, struct mctx *m)
{
	const struct topo *t = &m->ag->topo;

	/* write-lease off: the family with no sample */
	for (size_t i = 0; i < t->n; i++) {
		const struct group *g = t->groups[i];

		if (g->lease != LEASE_OFF)
			tk_buf_printf(b, "%s{master=\"%s\"} %d\n", name, lv(g->name, m->l1, sizeof(m->l1)),
				      g->lease == LEASE_HELD);
	}
	return 0;
}

static int
emit_notify_total(struct tk_buf *b, const char *name, struct mctx *m)
{
	struct notify_stats ns;

	if (!m->ag->notify)
		return -1;
	notifier_stats(m->ag->notify, &ns);
	return emit_value(b, name, ns.started);
}

static int
emit_notify_failed_total(struct tk_buf *b, const char *name, struct mctx *m)
{
	struct notify_stats ns;

	if (!m->ag->notify)
		return -1;
	notifier_stats(m->ag->notify, &ns);
	return emit_value(b, name, ns.failed + ns.timed_out + ns.dropped);
}

char *
metrics_render(const struct agent *ag)
{
	struct tk_buf b = { 0 };
	struct mctx *m = calloc(1, sizeof(*m));

	if (!m)
		return NULL;
	m->ag = ag;
	m->hs = hap_client_stats(ag->hap);
	rec_get_stats(ag->rec, &m->rs);
	/* Each Sentinel's state is read once for the per-Sentinel families. */
	m->nsi = sentinels_count(ag->sentinels);
	if (m->nsi > CONF_MAX_SENTINELS)
		m->nsi = CONF_MAX_SENTINELS;
	for (int i = 0; i < m->nsi; i++)
		sentinels_info(ag->sentinels, i, &m->si[i]);
	for (size_t f = 0; f < metrics_nfamilies; f++) {
		const char *name = metrics_family_names[f];
		size_t mark = b.len;

		tk_buf_printf(&b, "# HELP %s %s\n# TYPE %s %s\n", name, families[f].help, name,
			      families[f].type);
		if (families[f].emit(&b, name, m) < 0 && !b.failed) {
			b.len = mark;       /* nothing to report: no header either */
			b.p[mark] = '\0';
		}
	}
	free(m);
	return tk_buf_steal(&b);
}

struct mclient {
	struct metrics_server *ms;
	int fd;
	ev_io io;
	ev_timer timer;
	char req[METRICS_REQ_MAX];
	size_t reqlen;
	struct tk_buf out;         /* the response; sent from outoff */
	size_t outoff;
	struct tk_list link;       /* in metrics_server.clients */
};

struct metrics_server {
	struct ev_loop *loop;
	int fd;
	ev_io io;
	metrics_render_fn render;
	void *arg;
	struct tk_list clients;
	int nclients;
};

static void
client_free(struct mclient *c)
{
	tk_list_del(&c->link);
	ev_io_stop(c->ms->loop, &c->io);
	ev_timer_stop(c->ms->loop, &c->timer);
	close(c->fd);
	c->ms->nclients--;
	tk_buf_free(&c->out);
	free(c);
}

static void
respond(struct mclient *c)
{
	static const char not_found[] = "not found: try GET /metrics\n";
	char *body = NULL;
	const char *status = "404 Not Found", *ctype = "text/plain";

	if (strncmp(c->req, "GET /metrics ", 13) == 0 || strncmp(c->req, "GET /metrics\r", 13) == 0) {
		body = c->ms->render(c->ms->arg);
		if (body) {
			status = "200 OK";
			ctype = "text/plain; version=0.0.4; charset=utf-8";
		} else {
			status = "500 Internal Server Error";
		}
	}
	tk_buf_printf(&c->out,
		      "HTTP/1.0 %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
		      status, ctype, strlen(body ? body : not_found));
	tk_buf_puts(&c->out, body ? body : not_found);
	free(body);
	if (c->out.failed) {
		client_free(c);
		return;
	}
	ev_io_stop(c->ms->loop, &c->io);
	ev_io_set(&c->io, c->fd, EV_WRITE);
	ev_io_start(c->ms->loop, &c->io);
}

static void
client_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct mclient *c = w->data;
	ssize_t n;

	(void)loop;
	if (revents & EV_READ) {
		n = read(c->fd, c->req + c->reqlen, sizeof(c->req) - 1 - c->reqlen);
		if (n <= 0) {
			if (n < 0 && (errno == EAGAIN || errno == EINTR))
				return;
			client_free(c);
			return;
		}
		c->reqlen += (size_t)n;
		c->req[c->reqlen] = '\0';
		if (strstr(c->req, "\r\n\r\n") || strstr(c->req, "\n\n")) {
			respond(c);
			return;
		}
		if (c->reqlen >= sizeof(c->req) - 1) {
			log_debug("metrics: request too large: closing");
			client_free(c);
		}
		return;
	}
	if (revents & EV_WRITE) {
		n = send(c->fd, c->out.p + c->outoff, c->out.len - c->outoff, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return;
			client_free(c);
			return;
		}
		c->outoff += (size_t)n;
		if (c->outoff == c->out.len)
			client_free(c);
	}
}

static void
client_timeout(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	client_free(w->data);
}

static void
accept_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct metrics_server *ms = w->data;
	struct mclient *c;
	int fd;

	(void)revents;
	fd = accept4(ms->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0)
		return;
	if (ms->nclients >= METRICS_MAX_CLIENTS) {
		close(fd);
		return;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		close(fd);
		return;
	}
	c->ms = ms;
	c->fd = fd;
	ev_io_init(&c->io, client_cb, fd, EV_READ);
	c->io.data = c;
	ev_io_start(loop, &c->io);
	ev_timer_init(&c->timer, client_timeout, METRICS_TIMEOUT_MS / 1000.0, 0.);
	c->timer.data = c;
	ev_timer_start(loop, &c->timer);
	tk_list_push(&ms->clients, &c->link);
	ms->nclients++;
}

struct metrics_server *
metrics_server_new(struct ev_loop *loop, const char *addr, metrics_render_fn render, void *arg,
		   char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	char host[ADDR_IP_MAX];
	int port, one = 1, fd;
	struct metrics_server *ms;

	memset(&ss, 0, sizeof(ss));
	if (addr_parse(addr, host, sizeof(host), &port) < 0) {
		snprintf(err, errlen, "metrics-listen: expected IP:PORT, got '%s'", addr);
		return NULL;
	}
	if (tk_sockaddr_ip(host, port, &ss, &sl) < 0) {
		snprintf(err, errlen, "metrics-listen: '%s' is not an IP address", host);
		return NULL;
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "metrics-listen: socket: %s", strerror(errno));
		return NULL;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, sl) < 0 || listen(fd, 16) < 0) {
		snprintf(err, errlen, "metrics-listen %s: %s", addr, strerror(errno));
		close(fd);
		return NULL;
	}
	ms = calloc(1, sizeof(*ms));
	if (!ms) {
		close(fd);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	ms->loop = loop;
	ms->fd = fd;
	tk_list_init(&ms->clients);
	ms->render = render;
	ms->arg = arg;
	ev_io_init(&ms->io, accept_cb, fd, EV_READ);
	ms->io.data = ms;
	ev_io_start(loop, &ms->io);
	return ms;
}

void
metrics_server_free(struct metrics_server *ms)
{
	if (!ms)
		return;
	while (!tk_list_empty(&ms->clients))
		client_free(tk_container_of(ms->clients.next, struct mclient, link));
	ev_io_stop(ms->loop, &ms->io);
	close(ms->fd);
	free(ms);
}
