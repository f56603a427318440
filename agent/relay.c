#include "relay.h"

#include <string.h>

#include "agent.h"
#include "notify.h"
#include "report.h"

/* A Sentinel event: into the journal, and the failover timeline. */
void
relay_sentinel_event(void *arg, int si, const struct sentinel_event *ev)
{
	struct agent *ag = arg;
	struct sentinel_info info;
	char line[512], a[ADDR_IP_MAX + 8], b[ADDR_IP_MAX + 8];
	int64_t now = now_wall_ms();
	int master_inst = ev->inst.type == SEV_INST_MASTER;

	sentinels_info(ag->sentinels, si, &info);
	sev_format(ev, line, sizeof(line));
	journal_add(&ag->journal, now, "sentinel", info.addr, ev->master, ev->channel, "%s", line);
	if (!ev->master[0])
		return;
	switch (ev->type) {
	case SEV_SDOWN:
		if (master_inst)
			(void)journal_stage(&ag->journal, ev->master, TL_SDOWN, now,
					    addr_format(a, sizeof(a), ev->master_ip, ev->master_port), NULL, 0);
		break;
	case SEV_SDOWN_CLEAR:
		/* The master is back for this Sentinel: when no fence holds
		 * it out and no failover began, the record opened by +sdown
		 * ends here (a fenced master ends it when the fence lifts). */
		if (master_inst) {
			const struct group *g = topo_find(&ag->topo, ev->master);

			if (g && g->fence == FENCE_NONE)
				(void)journal_master_back(&ag->journal, ev->master, now,
							  addr_format(a, sizeof(a), ev->master_ip, ev->master_port));
		}
		break;
	case SEV_ODOWN:
		(void)journal_stage(&ag->journal, ev->master, TL_ODOWN, now,
				    addr_format(a, sizeof(a), ev->master_ip, ev->master_port), NULL, 0);
		break;
	case SEV_TRY_FAILOVER:
	case SEV_ELECTED_LEADER:
		(void)journal_stage(&ag->journal, ev->master, TL_FAILOVER_START, now,
				    addr_format(a, sizeof(a), ev->master_ip, ev->master_port), NULL, 0);
		break;
	case SEV_PROMOTED_SLAVE:
		(void)journal_stage(&ag->journal, ev->master, TL_PROMOTED, now,
				    addr_format(a, sizeof(a), ev->master_ip, ev->master_port),
				    addr_format(b, sizeof(b), ev->inst.ip, ev->inst.port), 0);
		break;
	case SEV_SWITCH_MASTER:
		(void)journal_stage(&ag->journal, ev->master, TL_SWITCH_SEEN, now,
				    addr_format(a, sizeof(a), ev->master_ip, ev->master_port),
				    addr_format(b, sizeof(b), ev->new_ip, ev->new_port), 0);
		break;
	default:
		break;
	}
}

/* Every journal entry: to the subscribers, and switches and group state
 * changes to notify-exec. */
void
relay_journal_entry(void *arg, const struct jevent *e)
{
	struct agent *ag = arg;
	json_t *o;

	int streams = status_has_streams(ag->status);
	int notify = ag->notify && strcmp(e->source, "agent") == 0 &&
		     (strcmp(e->type, "switch") == 0 || strcmp(e->type, "state") == 0);

	/* Nobody to tell: no JSON built (a mass failover or a reapply journals
	 * thousands of entries). */
	if (!streams && !notify)
		return;
	o = report_event_json(e);
	if (!o)
		return;
	if (streams)
		status_broadcast(ag->status, o);
	if (notify) {
		const struct group *g = topo_find(&ag->topo, e->master);

		notifier_send(ag->notify, e->type, e->master,
			      g && strcmp(e->type, "switch") == 0 ? g->last_switch.from : "",
			      g && strcmp(e->type, "switch") == 0 ? g->last_switch.to : e->text,
			      g ? g->epoch : 0, o);
	}
	json_decref(o);
}
