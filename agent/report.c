#include "report.h"

#include <string.h>
#include <unistd.h>

#include "config.h"
#include "log.h"

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
		json_array_append_new(arr, json_pack("{s:s, s:s, s:s, s:b, s:b, s:I, s:s, s:I}",
			"addr", si.addr,
			"cmd_link", si.cmd_state,
			"pubsub_link", si.sub_state,
			"subscribed", si.subscribed,
			"tilt", si.tilt,
			"last_ok_ms", (json_int_t)si.last_ok_wall_ms,
			"last_error", si.last_error ? si.last_error : "",
			"events", (json_int_t)si.events));
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
			"read_ready", topo_node_read_ready(g, n),
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
	if (g->hap_known && g->hap_write_ready[0])
		json_array_append_new(wr, json_string(g->hap_write_ready));

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
	if (g->hap_known)
		json_object_set_new(o, "read_ready_count", json_integer(g->hap_read_ready));
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

json_t *
report_handle(void *arg, struct status_client *cl, const struct status_request *req)
{
	struct agent *ag = arg;

	(void)cl;
	if (strcmp(req->cmd, "status") == 0)
		return report_status(ag);
	if (strcmp(req->cmd, "resync") == 0) {
		sentinels_resync(ag->sentinels);
		rec_tick(ag->rec);
		return json_pack("{s:b}", "ok", 1);
	}
	return NULL;
}
