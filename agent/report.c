#include "report.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "metrics.h"
#include "oldworkers.h"
#include "resolve.h"

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
		json_array_append_new(arr, json_pack("{s:s, s:s, s:s, s:b, s:s, s:b, s:I, s:s, s:I, s:I}",
			"addr", si.addr,
			"cmd_link", si.cmd_state,
			"pubsub_link", si.sub_state,
			"subscribed", si.subscribed,
			"events_mode", si.subscribed ? "subscribed" : si.polling ? "polling" : "waiting",
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

	struct oldw_stats os;
	json_t *o;

	rec_get_stats(ag->rec, &rs);
	oldw_get_stats(ag->oldw, &os);
	o = json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:s, s:I, s:I, s:I}",
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
	/* The master CLI (oldworkers.h): present only when configured. */
	if (o && ag->oldw)
		json_object_set_new(o, "master_cli", json_pack("{s:s, s:i, s:I, s:I, s:s}",
			"socket", ag->cfg.haproxy_master_socket,
			"old_workers", os.old_workers,
			"sessions_cut", (json_int_t)os.sessions_cut,
			"sweeps", (json_int_t)os.sweeps,
			"last_error", os.last_error));
	return o;
}

/* A name Sentinel announces, as the resolver knows it (NULL for an IP
 * literal): {"name", "addr", "state", "error", "ttl_ms", "expires_in_ms",
 * "changes", "changed_ms"}. routed is the address the model uses. */
static json_t *
resolve_json(const struct agent *ag, const char *host, const char *routed)
{
	struct resolve_info ri;
	json_t *o;

	if (!host[0] || addr_is_ip(host))
		return NULL;
	if (resolver_info(ag->resolver, host, &ri) < 0) {
		memset(&ri, 0, sizeof(ri));
		str_copy(ri.name, host, sizeof(ri.name));
		ri.state = ag->resolver ? RESOLVE_PENDING : RESOLVE_FAILED;
		if (!ag->resolver)
			str_copy(ri.error, "no resolver", sizeof(ri.error));
	}
	o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:i, s:I}",
		"name", ri.name,
		"addr", ri.addr,
		"routed", routed,
		"state", resolve_state_name(ri.state),
		"error", ri.error,
		"ttl_ms", (json_int_t)ri.ttl_ms,
		"expires_in_ms", (json_int_t)(ri.expires_ms ? ri.expires_ms - now_mono_ms() : 0),
		"changes", (int)ri.changes,
		"changed_ms", (json_int_t)ri.changed_wall_ms);
	return o;
}

static json_t *
group_json(const struct agent *ag, const struct group *g)
{
	char wb[CONF_NAME_MAX] = "", rb[CONF_NAME_MAX] = "", a[ADDR_IP_MAX + 8], flags[128];
	int64_t now = now_mono_ms();
	json_t *o, *reps = json_array(), *views = json_array(), *others = json_array(), *wr = json_array();
	json_t *rep, *res;
	struct rec_hap_view hv;

	(void)config_backends(&ag->cfg, g->name, wb, sizeof(wb), rb, sizeof(rb));
	for (size_t i = 0; i < g->nnodes; i++) {
		const struct node *n = &g->nodes[i];

		if (n->port == g->master_port && addr_ip_equal(n->ip, g->master_ip))
			continue;
		node_flags_format(n->flags, flags, sizeof(flags));
		rep = json_pack("{s:s, s:s, s:s, s:s, s:b, s:i, s:I}",
			"addr", addr_format(a, sizeof(a), n->ip, n->port),
			"flags", flags,
			"link", (n->flags & NODE_LINK_DOWN) ? "err" : "ok",
			"role", (n->flags & NODE_ROLE_MASTER) ? "master" : "slave",
			"read_ready", n->addr[0] && topo_node_read_ready(g, n, now_wall_ms()),
			"priority", n->priority,
			"link_down_ms", (json_int_t)n->lag_ms);
		if ((res = resolve_json(ag, n->ip, n->addr)))
			json_object_set_new(rep, "resolve", res);
		json_array_append_new(reps, rep);
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
	/* A master announced by name: what it resolves to and what is routed. */
	if ((res = resolve_json(ag, g->master_ip, g->master_addr)))
		json_object_set_new(o, "master_resolve", res);
	/* Early fence (topo.h F1-F2): why the master is out of the write backend. */
	json_object_set_new(o, "fenced", json_string(topo_fence_name(g->fence)));
	if (g->fence)
		json_object_set_new(o, "fenced_since_ms", json_integer(g->fence_since_ms));
	/* The majority lease (topo.h F3): off, held or lost. */
	json_object_set_new(o, "write_lease", json_pack("{s:s, s:i, s:i, s:I}",
		"state", topo_lease_name(g->lease), "confirmed_by", g->lease_votes,
		"known_sentinels", g->lease_known, "lease_ms", (json_int_t)g->lease_ms));
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

/* What a command handler gets: the agent, the client (for subscribe) and
 * the request's argument (NULL when there is none). */
struct cmd_req {
	struct agent *ag;
	struct status_client *cl;
	const char *arg;
};

/* One handler per entry of STATUS_COMMANDS (status.h): cmd_NAME. */
#define REPORT_CMD_DECL(name, synopsis, help) static json_t *cmd_##name(const struct cmd_req *r);
STATUS_COMMANDS(REPORT_CMD_DECL)
#undef REPORT_CMD_DECL

static const struct {
	const char *name;
	json_t *(*fn)(const struct cmd_req *r);
} report_cmds[] = {
#define REPORT_CMD_ENTRY(name, synopsis, help) { #name, cmd_##name },
	STATUS_COMMANDS(REPORT_CMD_ENTRY)
#undef REPORT_CMD_ENTRY
};

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
cmd_topology(const struct cmd_req *r)
{
	const struct agent *ag = r->ag;
	const char *master = r->arg;
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
cmd_haproxy(const struct cmd_req *r)
{
	const struct agent *ag = r->ag;
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
cmd_events(const struct cmd_req *r)
{
	const struct agent *ag = r->ag;
	const char *arg = r->arg;
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

/* One failover timeline record as JSON. */
static json_t *
timeline_json(const struct tl_record *r)
{
	int order[TL_NSTAGES], n = 0;
	int64_t start = tl_start(r);
	json_t *stages = json_array();

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
	return json_pack("{s:s, s:s, s:s, s:I, s:b, s:s, s:I, s:I, s:o}",
		"master", r->master, "from", r->from, "to", r->to,
		"epoch", (json_int_t)r->epoch, "complete", r->complete,
		"outcome", tl_outcome_name(r->outcome),
		"start_ms", (json_int_t)start, "total_ms", (json_int_t)(tl_end(r) - start),
		"stages", stages);
}

static json_t *
cmd_timeline(const struct cmd_req *req)
{
	const struct agent *ag = req->ag;
	const char *master = req->arg;
	json_t *arr = json_array();

	/* Oldest first. */
	for (long i = JOURNAL_TIMELINES - 1; i >= 0; i--) {
		const struct tl_record *r = journal_timeline(&ag->journal, (size_t)i);

		if (!r || (master && strcmp(master, r->master) != 0))
			continue;
		json_array_append_new(arr, timeline_json(r));
	}
	return json_pack("{s:o}", "timelines", arr);
}

/* page [FROM]: what HAProxy's page (hasentinel.lua) shows, in answers that
 * each fit one HAProxy buffer: a Lua socket gets what fits in its first
 * buffer at once, and is refilled slowly after that. The status without
 * its masters, the groups from FROM on while the answer stays within
 * REPORT_PAGE_BYTES (at least one), where the next page starts and how
 * many groups there are; the first page also carries the newest
 * REPORT_PAGE_TIMELINES timelines (oldest first). The page asks again,
 * each time on a new connection (the agent closes it after the answer),
 * until masters_next = masters_total. */
#define REPORT_PAGE_BYTES 12000
#define REPORT_PAGE_TIMELINES 5

static json_t *
cmd_page(const struct cmd_req *r)
{
	const struct agent *ag = r->ag;
	json_t *o, *masters, *tls;
	size_t from = 0, i, used;

	if (r->arg && status_parse_count(r->arg, ag->topo.n, &from) < 0)
		return error_json("page: FROM must be a number of groups");
	/* One answer per connection: hasentinel.lua reads until the close. */
	if (r->cl)
		status_client_close_after(r->cl);
	o = report_status(ag);
	masters = json_array();
	tls = json_array();
	if (!o || !masters || !tls) {
		json_decref(o);
		json_decref(masters);
		json_decref(tls);
		return NULL;
	}
	if (from == 0) {
		size_t k = 0;

		for (long t = JOURNAL_TIMELINES - 1; t >= 0; t--)
			if (journal_timeline(&ag->journal, (size_t)t))
				k++;
		/* The newest REPORT_PAGE_TIMELINES, oldest first. */
		for (long t = JOURNAL_TIMELINES - 1; t >= 0; t--) {
			const struct tl_record *rec = journal_timeline(&ag->journal, (size_t)t);

			if (!rec)
				continue;
			if (k-- > REPORT_PAGE_TIMELINES)
				continue;
			json_array_append_new(tls, timeline_json(rec));
		}
	}
	json_object_set_new(o, "masters", json_array());
	json_object_set_new(o, "timelines", tls);
	used = json_dumpb(o, NULL, 0, JSON_COMPACT);
	for (i = from; i < ag->topo.n; i++) {
		json_t *g = group_json(ag, ag->topo.groups[i]);
		size_t len = g ? json_dumpb(g, NULL, 0, JSON_COMPACT) + 1 : 0;

		if (!g)
			break;
		if (i > from && used + len > REPORT_PAGE_BYTES) {
			json_decref(g);
			break;
		}
		used += len;
		json_array_append_new(masters, g);
	}
	json_object_set_new(o, "masters", masters);
	json_object_set_new(o, "masters_from", json_integer((json_int_t)from));
	json_object_set_new(o, "masters_next", json_integer((json_int_t)i));
	json_object_set_new(o, "masters_total", json_integer((json_int_t)ag->topo.n));
	return o;
}

static json_t *
cmd_check(const struct cmd_req *r)
{
	const struct agent *ag = r->ag;
	const struct hap_stats *hs = hap_client_stats(ag->hap);
	json_t *problems = json_array();
	int usable = sentinels_usable(ag->sentinels);
	char wb[CONF_NAME_MAX], rb[CONF_NAME_MAX];
	struct rec_hap_view hv;
	struct resolve_info ri;
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
		/* A master announced by name that does not resolve (a replica's
		 * name is as down as the replica: not a problem of the agent). */
		if (g->master_ip[0] && !addr_is_ip(g->master_ip) &&
		    resolver_info(ag->resolver, g->master_ip, &ri) == 0 && ri.state == RESOLVE_FAILED)
			json_array_append_new(problems, json_sprintf("%s: master %s does not resolve (%s)%s",
								     g->name, g->master_ip, ri.error,
								     g->master_addr[0] ? ": kept at its confirmed address" : ""));
		if (g->lease == LEASE_LOST)
			json_array_append_new(problems, json_sprintf("%s: write lease lost (%d of %d Sentinels "
				"confirmed the master within %lld ms): writes are held", g->name, g->lease_votes,
				g->lease_known, (long long)g->lease_ms));
	}
	n = json_array_size(problems);
	return json_pack("{s:b, s:i, s:o}", "ok", n == 0, "exit_code", n ? 1 : 0, "problems", problems);
}

static json_t *
cmd_status(const struct cmd_req *r)
{
	return report_status(r->ag);
}

static json_t *
cmd_sentinels(const struct cmd_req *r)
{
	return json_pack("{s:i, s:o}", "usable", sentinels_usable(r->ag->sentinels),
			 "sentinels", sentinels_json(r->ag));
}

static json_t *
cmd_metrics(const struct cmd_req *r)
{
	char *text = report_metrics(r->ag);
	json_t *o;

	if (!text)
		return error_json("out of memory");
	o = json_pack("{s:s, s:s}", "content_type", "text/plain; version=0.0.4", "text", text);
	free(text);
	return o;
}

static json_t *
cmd_resync(const struct cmd_req *r)
{
	log_info("resync requested on the status socket");
	(void)sentinels_resync(r->ag->sentinels);
	rec_tick(r->ag->rec);
	return json_pack("{s:b}", "ok", 1);
}

static json_t *
cmd_subscribe(const struct cmd_req *r)
{
	status_client_stream(r->cl);
	return json_null();
}

static json_t *
cmd_help(const struct cmd_req *r)
{
	json_t *arr = json_array();

	(void)r;
	for (size_t i = 0; i < status_ncommands; i++)
		json_array_append_new(arr, json_pack("{s:s, s:s, s:s}",
			"name", status_commands[i].name,
			"synopsis", status_commands[i].synopsis,
			"help", status_commands[i].help));
	return json_pack("{s:o}", "commands", arr);
}

json_t *
report_handle(void *arg, struct status_client *cl, const struct status_request *req)
{
	struct cmd_req r = { arg, cl, req->arg[0] ? req->arg : NULL };

	for (size_t i = 0; i < sizeof(report_cmds) / sizeof(report_cmds[0]); i++)
		if (strcmp(req->cmd, report_cmds[i].name) == 0)
			return report_cmds[i].fn(&r);
	return NULL;
}

/* ---------------------------------------------------------------- metrics */

char *
report_metrics(const struct agent *ag)
{
	return metrics_render(ag);
}

char *
report_metrics_cb(void *arg)
{
	return report_metrics(arg);
}
