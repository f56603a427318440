#!/bin/bash
# f08: the master is SIGKILLed and the agent right after it (before
# Sentinel can promote anyone: down-after is 1 s); the agent is started
# again once Sentinel has promoted a replica. The write backend is sampled
# every 20 ms throughout: it never has two ready servers, and it ends on
# the new master.
# converge_ms: from the agent's restart to the first poll at which the
# write backend has exactly Sentinel's new master ready. DETAIL: outage_ms
# (longest gap between acknowledged writes; it includes the time without
# an agent).
# Conditions are single-quoted and eval'd by hs_wait_until:
# shellcheck disable=SC2016,SC2034,SC2119
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
set -u -o pipefail
. "$(dirname "$0")/faultlib.sh"

hsf_setup f08_agent_killed_in_failover
hsf_start_lab_writing

old=$(hs_sentinel_master "$HS_MASTER") || hs_fail "no sentinel answers GET-MASTER-ADDR-BY-NAME"
oldname=$(hs_name_of_port "${old##*:}") || hs_fail "the master $old is not one of the lab's servers"
hsf_start_sampler write 0.02 "$HS_WRITE_BACKEND"
hs_wait_until 5 '[ "$(grep -c "^A " "$HS_TMP/writer.txt")" -ge 200 ]' "200 acknowledged writes before the kill"

hs_log "SIGKILL to the master $oldname ($old), then to the agent"
hsf_mark fault
hs_kill9 "$oldname"
hs_kill9 agent
new=
hs_wait_until "$HSF_FAILOVER_WAIT" 'new=$(hs_sentinel_master "$HS_MASTER") && [ "$new" != "$old" ]' \
	"Sentinel to promote a new master after $old died"
[ -z "$(hsf_promotions | awk -v t="${HSF_MARK[fault]}" '$1 < t')" ] ||
	hs_fail "a promotion was announced before the agent was killed"
w=$(hs_ready_servers "$HS_WRITE_BACKEND")
hs_log "Sentinel promoted $new; without an agent the write backend is still '${w//$'\n'/ }'"

hs_log "starting the agent again"
hsf_mark agent
hs_start_agent
hs_wait_until 5 'new=$(hs_sentinel_master "$HS_MASTER") && [ "$new" != "$old" ] &&
	[ "$(hs_ready_servers "$HS_WRITE_BACKEND")" = "$new" ]' \
	"$HS_WRITE_BACKEND to have exactly Sentinel's new master ready"
hsf_converged_ms agent
hsf_mark converged
hs_wait_until 5 '(($(hsf_acks_since "${HSF_MARK[converged]}") >= 100))' "100 writes acknowledged after the switch"
hs_wait_applied 20
hsf_stop_sampler write

multi=$(hsf_sampler_multi write "$HS_WRITE_BACKEND")
polls=$(hsf_sampler_count write)
[ "$multi" = 0 ] || hs_fail "$multi of $polls polls saw more than one ready server in $HS_WRITE_BACKEND:
$(grep , "$HS_TMP/write.samples" | head -n 10)"
back=$(hsf_sampler_has write "$HS_WRITE_BACKEND" "$old" "${HSF_MARK[converged]}")
[ "$back" = 0 ] || hs_fail "the dead master $old was ready in $HS_WRITE_BACKEND again at $back polls after the switch"
wvals=$(hsf_sampler_values write "$HS_WRITE_BACKEND" | paste -sd' ')
hs_log "write backend over $polls polls: $wvals"
HSF_RESULT_EXTRA="outage_ms=$(hsf_outage_ms "${HSF_MARK[fault]}") polls=$polls"
hsf_finish
