#include "report.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "notify.h"

#ifndef HASENTINEL_VERSION
#define HASENTINEL_VERSION "unknown"
#endif

static json_t *
sentinels_json(const struct agent *ag)
{
	json_t *arr = json_array();

	for (int i = 0; i < sentinels_count(ag->sentinels); i++) {
		struct sentinel_info si;

		sentinels_info(ag->sentinels, i, &si);
		json_array_append_new(arr, json_pack("{s:s, s:s, s:s, s:b, s:b, s:I, s:s, s:I, s:I}",
			"addr", si.addr,
			"cmd_link", si.cmd_state,
			"pubsub_link", si.sub_state,
			"subscribed", si.subscribed,
			"tilt", si.tilt,
			"last_ok_ms", (json_int_t)si.last_ok_wall_ms,
			"last_error", si.last_error ? si.last_error : "",
			"events", (json_int_t)si.events,
			"malformed_events", (json_int_t)si.malformed));
	}
	return arr;
}

static json_t *
haproxy_json(const struct agent *ag)
{
	const struct hap_stats *hs = hap_client_stats(ag->hap);
	struct rec_stats rs;

	rec_get_stats(ag->rec, &rs);
	return json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:s, s:I, s:I, s:I}",
		"socket", ag->cfg.haproxy_socket,
		"link", hap_link_state_name(hs->state),
		"pid", (json_int_t)rs.hap_pid,
		"reloads_seen", (json_int_t)rs.reloads_seen,
		"commands_sent", (json_int_t)rs.commands_sent,
		"commands_failed", (json_int_t)rs.commands_failed,
		"drift_corrections", (json_int_t)rs.drift_corrections,
		"reconciles", (json_int_t)rs.runs,
		"last_error", hs->last_error,
		"last_ok_ms", (json_int_t)hs->last_ok_ms,
		"last_switch_apply_ms", (json_int_t)rs.last_switch_apply_ms,
		"switches", (json_int_t)rs.switches);
}

static json_t *
group_json(const struct agent *ag, const struct group *g)
{
	char wb[CONF_NAME_MAX] = "", rb[CONF_NAME_MAX] = "", a[ADDR_IP_MAX + 8], flags[128];
	int64_t now = now_mono_ms();
	json_t *o, *reps = json_array(), *views = json_array(), *others = json_array(), *wr = json_array();
	struct rec_hap_view hv;

	(void)config_backends(&ag->cfg, g->name, wb, sizeof(wb), rb, sizeof(rb));
	for (size_t i = 0; i < g->nnodes; i++) {
		const struct node *n = &g->nodes[i];

		if (n->port == g->master_port && addr_ip_equal(n->ip, g->master_ip))
			continue;
		node_flags_format(n->flags, flags, sizeof(flags));
		json_array_append_new(reps, json_pack("{s:s, s:s, s:s, s:s, s:b, s:i, s:I}",
			"addr", addr_format(a, sizeof(a), n->ip, n->port),
			"flags", flags,
			"link", (n->flags & NODE_LINK_DOWN) ? "err" : "ok",
			"role", (n->flags & NODE_ROLE_MASTER) ? "master" : "slave",
			"read_ready", topo_node_read_ready(g, n, now_wall_ms()),
			"priority", n->priority,
			"link_down_ms", (json_int_t)n->lag_ms));
	}
	for (int i = 0; i < sentinels_count(ag->sentinels); i++) {
		const struct sview *v = &g->views[i];
		struct sentinel_info si;

		if (!v->valid)
			continue;
		sentinels_info(ag->sentinels, i, &si);
		json_array_append_new(views, json_pack("{s:s, s:s, s:I, s:I}",
			"sentinel", si.addr,
			"master", addr_format(a, sizeof(a), v->ip, v->port),
			"epoch", (json_int_t)v->epoch,
			"age_ms", (json_int_t)(now - v->at_ms)));
	}
	for (int i = 0; i < g->nother; i++)
		json_array_append_new(others, json_string(g->other_sentinels[i]));
	if (rec_group_haproxy(ag->rec, g, &hv) && hv.write_ready[0])
		json_array_append_new(wr, json_string(hv.write_ready));

	o = json_pack("{s:s, s:s, s:s, s:I, s:b, s:s, s:s, s:o, s:o, s:o, s:o}",
		"name", g->name,
		"state", group_state_name(rec_group_state(ag->rec, g)),
		"master", g->master_ip[0] ? addr_format(a, sizeof(a), g->master_ip, g->master_port) : "",
		"config_epoch", (json_int_t)g->epoch,
		"role_confirmed", g->confirmed == 1,
		"write_backend", wb,
		"read_backend", rb,
		"write_ready", wr,
		"replicas", reps,
		"sentinel_views", views,
		"known_sentinels", others);
	if (rec_group_haproxy(ag->rec, g, &hv))
		json_object_set_new(o, "read_ready_count", json_integer(hv.read_ready));
	if (g->last_switch.to[0])
		json_object_set_new(o, "last_switch", json_pack("{s:s, s:s, s:I, s:I}",
			"from", g->last_switch.from,
			"to", g->last_switch.to,
			"epoch", (json_int_t)g->last_switch.epoch,
			"at_ms", (json_int_t)g->last_switch.at_wall_ms));
	return o;
}

json_t *
report_status(const struct agent *ag)
{
	json_t *masters = json_array();

	for (size_t i = 0; i < ag->topo.n; i++)
		json_array_append_new(masters, group_json(ag, ag->topo.groups[i]));
	return json_pack("{s:s, s:i, s:I, s:I, s:o, s:i, s:o, s:o}",
		"version", HASENTINEL_VERSION,
		"pid", (int)getpid(),
		"uptime_ms", (json_int_t)(now_mono_ms() - ag->started_mono_ms),
		"started_ms", (json_int_t)ag->started_wall_ms,
		"sentinels", sentinels_json(ag),
		"sentinels_usable", sentinels_usable(ag->sentinels),
		"haproxy", haproxy_json(ag),
		"masters", masters);
}

/* ---------------------------------------------------------------- commands */

static const char *
arg_or_null(const struct status_request *req)
{
	return req->arg[0] ? req->arg : NULL;
}

static json_t *
error_json(const char *fmt, ...)
{
	char buf[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	return json_pack("{s:s}", "error", buf);
}

static json_t *
topology_json(const struct agent *ag, const char *master)
{
	json_t *arr = json_array();

	for (size_t i = 0; i < ag->topo.n; i++)
		if (!master || strcmp(master, ag->topo.groups[i]->name) == 0)
			json_array_append_new(arr, group_json(ag, ag->topo.groups[i]));
	if (master && json_array_size(arr) == 0) {
		json_decref(arr);
		return error_json("no master group named '%s'", master);
	}
	return json_pack("{s:o}", "masters", arr);
}

static json_t *
haproxy_detail_json(const struct agent *ag)
{
	json_t *o = haproxy_json(ag), *cmds = json_array();
	struct rec_stats rs;

	rec_get_stats(ag->rec, &rs);
	for (size_t i = 0; i < JOURNAL_CMDS; i++) {
		const struct jcmd *c = journal_cmd_at(&ag->journal, i);

		if (!c)
			break;
		json_array_append_new(cmds, json_pack("{s:I, s:s, s:s, s:b}",
			"at_ms", (json_int_t)c->at_ms, "command", c->command, "reply", c->reply, "ok", c->ok));
	}
	json_object_set_new(o, "last_reload_ms", json_integer(rs.last_reload_wall_ms));
	json_object_set_new(o, "last_commands", cmds);
	return o;
}

json_t *
report_event_json(const struct jevent *e)
{
	return json_pack("{s:I, s:I, s:s, s:s, s:s, s:s, s:s}",
		"at_ms", (json_int_t)e->at_ms,
		"seq", (json_int_t)e->seq,
		"source", e->source,
		"sentinel", e->sentinel,
		"master", e->master,
		"type", e->type,
		"text", e->text);
}

static json_t *
events_json(const struct agent *ag, const char *arg)
{
	long n = 50;
	json_t *arr = json_array();

	if (arg && parse_long(arg, 1, JOURNAL_EVENTS, &n) < 0) {
		json_decref(arr);
		return error_json("events: expected a count 1..%d, got '%s'", JOURNAL_EVENTS, arg);
	}
	/* Oldest first, like a log. */
	for (long i = n - 1; i >= 0; i--) {
		const struct jevent *e = journal_event(&ag->journal, (size_t)i);

		if (e)
			json_array_append_new(arr, report_event_json(e));
	}
	return json_pack("{s:o, s:I}", "events", arr, "total", (json_int_t)ag->journal.ev_total);
}

static json_t *
timeline_json(const struct agent *ag, const char *master)
{
	json_t *arr = json_array();

	/* Oldest first. */
	for (long i = JOURNAL_TIMELINES - 1; i >= 0; i--) {
		const struct tl_record *r = journal_timeline(&ag->journal, (size_t)i);
		json_t *stages;
		int64_t start;

		if (!r || (master && strcmp(master, r->master) != 0))
			continue;
		int order[TL_NSTAGES], n = 0;

		start = tl_start(r);
		stages = json_array();
		/* In the order they happened (ties: the order of the stages). */
		for (int st = 0; st < TL_NSTAGES; st++) {
			int k = n++;

			if (!r->at[st]) {
				n--;
				continue;
			}
			while (k > 0 && r->at[order[k - 1]] > r->at[st]) {
				order[k] = order[k - 1];
				k--;
			}
			order[k] = st;
		}
		for (int k = 0; k < n; k++)
			json_array_append_new(stages, json_pack("{s:s, s:I, s:I}",
				"stage", tl_stage_name((enum tl_stage)order[k]),
				"at_ms", (json_int_t)r->at[order[k]],
				"offset_ms", (json_int_t)(r->at[order[k]] - start)));
		json_array_append_new(arr, json_pack("{s:s, s:s, s:s, s:I, s:b, s:I, s:I, s:o}",
			"master", r->master, "from", r->from, "to", r->to,
			"epoch", (json_int_t)r->epoch, "complete", r->complete,
			"start_ms", (json_int_t)start, "total_ms", (json_int_t)(tl_end(r) - start),
			"stages", stages));
	}
	return json_pack("{s:o}", "timelines", arr);
}

static json_t *
check_json(const struct agent *ag)
{
	const struct hap_stats *hs = hap_client_stats(ag->hap);
	json_t *problems = json_array();
	int usable = sentinels_usable(ag->sentinels);
	char wb[CONF_NAME_MAX], rb[CONF_NAME_MAX];
	struct rec_hap_view hv;
	size_t n;

	if (usable == 0)
		json_array_append_new(problems, json_sprintf("no usable Sentinel (0 of %d answer)",
							     sentinels_count(ag->sentinels)));
	if (hs->state == HAP_LINK_DOWN)
		json_array_append_new(problems, json_sprintf("HAProxy runtime API unreachable: %s",
							     hs->last_error));
	if (ag->topo.n == 0)
		json_array_append_new(problems, json_string("no master group known yet"));
	for (size_t i = 0; i < ag->topo.n; i++) {
		const struct group *g = ag->topo.groups[i];
		enum group_state st = rec_group_state(ag->rec, g);

		if (!config_backends(&ag->cfg, g->name, wb, sizeof(wb), rb, sizeof(rb)))
			continue;
		if (st != GS_OK)
			json_array_append_new(problems, json_sprintf("%s: state %s", g->name,
								     group_state_name(st)));
		if (!rec_group_haproxy(ag->rec, g, &hv) || !hv.write_ready[0])
			json_array_append_new(problems, json_sprintf("%s: no ready write server in %s",
								     g->name, wb));
	}
	n = json_array_size(problems);
	return json_pack("{s:b, s:i, s:o}", "ok", n == 0, "exit_code", n ? 1 : 0, "problems", problems);
}

/* ---------------------------------------------------------------- metrics */

struct sbuf {
	char *p;
	size_t len, cap;
	int failed;
};

static void sb_printf(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
sb_printf(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->failed)
		return;
	for (;;) {
		size_t room = b->cap - b->len;

		va_start(ap, fmt);
		n = vsnprintf(b->p ? b->p + b->len : NULL, room, fmt, ap);
		va_end(ap);
		if (n < 0) {
			b->failed = 1;
			return;
		}
		if ((size_t)n < room) {
			b->len += (size_t)n;
			return;
		}
		size_t cap = (b->cap ? b->cap : 4096);
		while (cap - b->len <= (size_t)n)
			cap *= 2;
		char *np = realloc(b->p, cap);
		if (!np) {
			b->failed = 1;
			return;
		}
		b->p = np;
		b->cap = cap;
	}
}

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

char *
report_metrics(const struct agent *ag)
{
	const struct hap_stats *hs = hap_client_stats(ag->hap);
	struct sbuf b = { 0 };
	struct rec_stats rs;
	struct rec_hap_view hv;
	struct sentinel_info si[CONF_MAX_SENTINELS];
	char l1[160], l2[160];
	int nsi;

	rec_get_stats(ag->rec, &rs);
	sb_printf(&b, "# HELP hasentinel_up Always 1 while the agent answers.\n# TYPE hasentinel_up gauge\nhasentinel_up 1\n");
	sb_printf(&b, "# HELP hasentinel_uptime_seconds Seconds since the agent started.\n"
		  "# TYPE hasentinel_uptime_seconds gauge\nhasentinel_uptime_seconds %.3f\n",
		  (now_mono_ms() - ag->started_mono_ms) / 1000.0);
	/* Each Sentinel's state is read once for the three families below. */
	nsi = sentinels_count(ag->sentinels);
	for (int i = 0; i < nsi && i < CONF_MAX_SENTINELS; i++)
		sentinels_info(ag->sentinels, i, &si[i]);
	if (nsi > CONF_MAX_SENTINELS)
		nsi = CONF_MAX_SENTINELS;
	sb_printf(&b, "# HELP hasentinel_sentinel_link_up Command link to the Sentinel is up.\n"
		  "# TYPE hasentinel_sentinel_link_up gauge\n");
	for (int i = 0; i < nsi; i++)
		sb_printf(&b, "hasentinel_sentinel_link_up{sentinel=\"%s\"} %d\n", lv(si[i].addr, l1, sizeof(l1)),
			  strcmp(si[i].cmd_state, "up") == 0);
	sb_printf(&b, "# HELP hasentinel_sentinel_tilt The Sentinel is in TILT mode.\n# TYPE hasentinel_sentinel_tilt gauge\n");
	for (int i = 0; i < nsi; i++)
		sb_printf(&b, "hasentinel_sentinel_tilt{sentinel=\"%s\"} %d\n", lv(si[i].addr, l1, sizeof(l1)), si[i].tilt);
	sb_printf(&b, "# HELP hasentinel_sentinel_events_total Events received from the Sentinel.\n"
		  "# TYPE hasentinel_sentinel_events_total counter\n");
	for (int i = 0; i < nsi; i++)
		sb_printf(&b, "hasentinel_sentinel_events_total{sentinel=\"%s\"} %llu\n", lv(si[i].addr, l1, sizeof(l1)),
			  (unsigned long long)si[i].events);
	sb_printf(&b, "# HELP hasentinel_haproxy_link_up The last runtime API batch was answered.\n"
		  "# TYPE hasentinel_haproxy_link_up gauge\nhasentinel_haproxy_link_up %d\n", hs->state == HAP_LINK_UP);
	sb_printf(&b, "# HELP hasentinel_haproxy_commands_total Runtime API commands sent to change state.\n"
		  "# TYPE hasentinel_haproxy_commands_total counter\nhasentinel_haproxy_commands_total %llu\n",
		  (unsigned long long)rs.commands_sent);
	sb_printf(&b, "# HELP hasentinel_haproxy_commands_failed_total Runtime API commands that failed.\n"
		  "# TYPE hasentinel_haproxy_commands_failed_total counter\nhasentinel_haproxy_commands_failed_total %llu\n",
		  (unsigned long long)rs.commands_failed);
	sb_printf(&b, "# HELP hasentinel_haproxy_reloads_total HAProxy reloads or restarts seen.\n"
		  "# TYPE hasentinel_haproxy_reloads_total counter\nhasentinel_haproxy_reloads_total %llu\n",
		  (unsigned long long)rs.reloads_seen);
	sb_printf(&b, "# HELP hasentinel_resyncs_total Full reconciles (resync ticks) run.\n"
		  "# TYPE hasentinel_resyncs_total counter\nhasentinel_resyncs_total %llu\n",
		  (unsigned long long)rs.full_runs);
	sb_printf(&b, "# HELP hasentinel_drift_corrections_total Resyncs that found HAProxy different from the desired state.\n"
		  "# TYPE hasentinel_drift_corrections_total counter\nhasentinel_drift_corrections_total %llu\n",
		  (unsigned long long)rs.drift_corrections);
	sb_printf(&b, "# HELP hasentinel_switch_apply_seconds From the switch decision to HAProxy acknowledging the new write server.\n"
		  "# TYPE hasentinel_switch_apply_seconds histogram\n");
	for (int i = 0; i < REC_APPLY_BUCKETS; i++) {
		if (i < REC_APPLY_BUCKETS - 1)
			sb_printf(&b, "hasentinel_switch_apply_seconds_bucket{le=\"%g\"} %llu\n", rec_apply_bounds[i],
				  (unsigned long long)rs.apply_buckets[i]);
		else
			sb_printf(&b, "hasentinel_switch_apply_seconds_bucket{le=\"+Inf\"} %llu\n",
				  (unsigned long long)rs.apply_buckets[i]);
	}
	sb_printf(&b, "hasentinel_switch_apply_seconds_sum %.6f\nhasentinel_switch_apply_seconds_count %llu\n",
		  rs.apply_sum_s, (unsigned long long)rs.apply_count);
	sb_printf(&b, "# HELP hasentinel_failovers_total Master switches decided, per master group.\n"
		  "# TYPE hasentinel_failovers_total counter\n");
	for (size_t i = 0; i < ag->topo.n; i++)
		sb_printf(&b, "hasentinel_failovers_total{master=\"%s\"} %d\n",
			  lv(ag->topo.groups[i]->name, l1, sizeof(l1)), ag->topo.groups[i]->nswitches);
	sb_printf(&b, "# HELP hasentinel_master_config_epoch Config epoch of the current master.\n"
		  "# TYPE hasentinel_master_config_epoch gauge\n");
	for (size_t i = 0; i < ag->topo.n; i++)
		sb_printf(&b, "hasentinel_master_config_epoch{master=\"%s\"} %llu\n",
			  lv(ag->topo.groups[i]->name, l1, sizeof(l1)), (unsigned long long)ag->topo.groups[i]->epoch);
	sb_printf(&b, "# HELP hasentinel_write_ready Ready servers in the write backend (1 is healthy).\n"
		  "# TYPE hasentinel_write_ready gauge\n");
	for (size_t i = 0; i < ag->topo.n; i++) {
		const struct group *g = ag->topo.groups[i];

		if (rec_group_haproxy(ag->rec, g, &hv))
			sb_printf(&b, "hasentinel_write_ready{master=\"%s\"} %d\n", lv(g->name, l1, sizeof(l1)),
				  hv.write_ready[0] != '\0');
	}
	sb_printf(&b, "# HELP hasentinel_read_ready Ready servers in the read backend.\n# TYPE hasentinel_read_ready gauge\n");
	for (size_t i = 0; i < ag->topo.n; i++) {
		const struct group *g = ag->topo.groups[i];

		if (rec_group_haproxy(ag->rec, g, &hv))
			sb_printf(&b, "hasentinel_read_ready{master=\"%s\"} %d\n", lv(g->name, l1, sizeof(l1)),
				  hv.read_ready);
	}
	sb_printf(&b, "# HELP hasentinel_group_state 1 for the state the master group is in.\n"
		  "# TYPE hasentinel_group_state gauge\n");
	for (size_t i = 0; i < ag->topo.n; i++) {
		const struct group *g = ag->topo.groups[i];
		enum group_state cur = rec_group_state(ag->rec, g);

		for (int st = GS_OK; st <= GS_FROZEN; st++)
			sb_printf(&b, "hasentinel_group_state{master=\"%s\",state=\"%s\"} %d\n",
				  lv(g->name, l1, sizeof(l1)), lv(group_state_name((enum group_state)st), l2, sizeof(l2)),
				  (int)cur == st);
	}
	if (ag->notify) {
		struct notify_stats ns;

		notifier_stats(ag->notify, &ns);
		sb_printf(&b, "# HELP hasentinel_notify_total notify-exec commands started.\n"
			  "# TYPE hasentinel_notify_total counter\nhasentinel_notify_total %llu\n",
			  (unsigned long long)ns.started);
		sb_printf(&b, "# HELP hasentinel_notify_failed_total notify-exec commands that failed, timed out or were dropped.\n"
			  "# TYPE hasentinel_notify_failed_total counter\nhasentinel_notify_failed_total %llu\n",
			  (unsigned long long)(ns.failed + ns.timed_out + ns.dropped));
	}
	if (b.failed) {
		free(b.p);
		return NULL;
	}
	return b.p;
}

char *
report_metrics_cb(void *arg)
{
	return report_metrics(arg);
}

json_t *
report_handle(void *arg, struct status_client *cl, const struct status_request *req)
{
	struct agent *ag = arg;
	const char *a = arg_or_null(req);

	if (strcmp(req->cmd, "status") == 0)
		return report_status(ag);
	if (strcmp(req->cmd, "topology") == 0)
		return topology_json(ag, a);
	if (strcmp(req->cmd, "sentinels") == 0)
		return json_pack("{s:i, s:o}", "usable", sentinels_usable(ag->sentinels), "sentinels", sentinels_json(ag));
	if (strcmp(req->cmd, "haproxy") == 0)
		return haproxy_detail_json(ag);
	if (strcmp(req->cmd, "events") == 0)
		return events_json(ag, a);
	if (strcmp(req->cmd, "timeline") == 0)
		return timeline_json(ag, a);
	if (strcmp(req->cmd, "check") == 0)
		return check_json(ag);
	if (strcmp(req->cmd, "metrics") == 0) {
		char *text = report_metrics(ag);
		json_t *o;

		if (!text)
			return error_json("out of memory");
		o = json_pack("{s:s, s:s}", "content_type", "text/plain; version=0.0.4", "text", text);
		free(text);
		return o;
	}
	if (strcmp(req->cmd, "resync") == 0) {
		log_info("resync requested on the status socket");
		sentinels_resync(ag->sentinels);
		rec_tick(ag->rec);
		return json_pack("{s:b}", "ok", 1);
	}
	if (strcmp(req->cmd, "subscribe") == 0) {
		status_client_stream(cl);
		return json_null();
	}
	return NULL;
}
