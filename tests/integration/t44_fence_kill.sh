#!/bin/bash
# Early fence (topo.h F1-F2) with real Redis, Sentinel and HAProxy.
#  0. The agent's periodic ROLE recheck of the master goes over its watch
#     connection (probe.h): the master has a client older than 3 s whose
#     last command is ROLE (a fresh probe connection lives milliseconds).
#  1. The master is SIGKILLed and restarted on its port within
#     down-after-milliseconds (3 s here): its write slot leaves the write
#     backend at once (the agent's link to it is reset, a fresh connection
#     refused) and comes back as soon as the node answers ROLE master again,
#     with no failover (Sentinel still names it, the epoch is unchanged).
#  2. The master is SIGKILLed for good: its write slot is in maint within
#     FENCE_MAX_MS of the kill, long before Sentinel promotes a replica;
#     then the new master is ready alone. The write backend never has two
#     ready servers; no write is acknowledged by a non-master.
# Conditions are single-quoted and eval'd by hs_wait_until:
# shellcheck disable=SC2016,SC2034,SC2119
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
set -u -o pipefail
. "$(dirname "$0")/../faults/faultlib.sh"

# Generous for a loaded runner; measured: 5-10 ms.
FENCE_MAX_MS=${FENCE_MAX_MS:-1000}

hsf_setup t44_fence_kill
HS_DOWN_AFTER_MS=3000
hs_start_lab
hs_start_haproxy
hs_start_agent
hs_wait_applied 5
hsf_start_events
hsf_start_writer 5

fenced_metric() {
	"$HASENTINELCTL" -s "$HS_STATUS_SOCKET" metrics |
		awk -v k="hasentinel_master_fenced{master=\"$HS_MASTER\"}" '$1 == k { print $2 }'
}
fenced() {
	hs_agent_status | jq -r --arg n "$HS_MASTER" '.masters[] | select(.name == $n) | .fenced'
}

old=$(hs_sentinel_master "$HS_MASTER") || hs_fail "no sentinel answers GET-MASTER-ADDR-BY-NAME"
[ "$old" = "127.0.0.1:${HS_PORT[r0]}" ] || hs_fail "r0 is not the master ($old)"
[ "$(fenced)" = none ] || hs_fail "the agent reports a fence before any fault: $(fenced)"

# ---- 0. the rechecks go over the watch
role_on_watch() {
	hs_cli "${HS_PORT[r0]}" CLIENT LIST | awk '{
		age = -1; cmd = ""
		for (i = 1; i <= NF; i++) {
			if ($i ~ /^age=/) age = substr($i, 5) + 0
			if ($i ~ /^cmd=/) cmd = substr($i, 5)
		}
		if (cmd == "role" && age >= 3) n++
	} END { print n + 0 }'
}
hs_wait_until 20 '[ "$(role_on_watch)" -ge 1 ]' \
	"a ROLE recheck on the agent's watch of r0 (a client of 3 s or more whose last command is ROLE)"
hs_log "ROLE recheck seen on the agent's watch connection"
hsf_start_sampler w 0.01 "$HS_WRITE_BACKEND"

# ---- 1. killed and restarted within down-after: back at once, no failover
hs_log "SIGKILL to r0, restarted on its port right after"
hsf_mark kill1
hs_kill9 r0
hsf_wait_sets 5 "" -
t_empty=$(hsf_since kill1)
hs_log "write backend empty $t_empty ms after the kill"
hs_wait_until 5 '[ "$(fenced)" = dead ] || [ "$(fenced)" = recheck ]' "the agent to report the fence"
[ "$(fenced_metric)" = 1 ] || hs_fail "hasentinel_master_fenced is '$(fenced_metric)' while fenced, want 1"
"$HASENTINELCTL" -s "$HS_STATUS_SOCKET" status | grep -Eq "^  state .*  fenced (dead|recheck)" ||
	hs_fail "hasentinelctl status does not show the fence"
hs_start_redis r0
hsf_mark up1
hsf_wait_sets 5 "$old" -
t_back=$(hsf_since up1)
hs_log "r0 ready for writes again $t_back ms after it answered PING"
m=$(hs_sentinel_master "$HS_MASTER")
[ "$m" = "$old" ] || hs_fail "a failover followed ($m): the restart took longer than down-after?"
[ -z "$(hsf_promotions)" ] || hs_fail "Sentinel promoted a replica: $(hsf_promotions)"
hs_wait_until 5 '[ "$(fenced)" = none ]' "the fence to be lifted in the agent's status"
[ "$(fenced_metric)" = 0 ] || hs_fail "hasentinel_master_fenced is '$(fenced_metric)' after the fence, want 0"
((t_empty <= FENCE_MAX_MS)) || hs_fail "fenced $t_empty ms after the kill (more than $FENCE_MAX_MS)"
# ROLE is asked as soon as the node accepts connections (retried every
# 5-100 ms): well under a second even on a loaded runner.
((t_back <= 1500)) || hs_fail "the restarted master took $t_back ms to take writes again"
hs_wait_applied 20
hs_wait_until 10 '(($(hsf_acks_since "${HSF_MARK[up1]}") >= 50))' "writes acknowledged by the restarted master"
# The failover timeline opened by the fence ends with the master back.
hsf_check_no_failover_timeline "$old"

# ---- 2. killed for good: fenced before the promotion, then the new master
hs_log "SIGKILL to r0 for good"
hsf_mark kill2
hs_kill9 r0
hsf_wait_sets 5 "" -
fenced_at=$HSF_NOW
t_fence=$(hsf_since kill2)
hs_log "write backend empty $t_fence ms after the kill"
((t_fence <= FENCE_MAX_MS)) || hs_fail "fenced $t_fence ms after the kill (more than $FENCE_MAX_MS)"
hsf_wait_write_master "$HSF_FAILOVER_WAIT" "$old"
hsf_converged_ms kill2
promo=$(hsf_promotions | head -n 1 | awk '{ print $1 }')
[ -n "$promo" ] || hs_fail "no promotion seen"
ahead=$((promo - ${HSF_MARK[kill2]} - t_fence))
hs_log "fenced $ahead ms before Sentinel announced the promotion; new master $HSF_NEW ready $HSF_CONVERGE_MS ms after the kill"
((ahead > 0)) || hs_fail "the fence came after the promotion"
hs_wait_until 5 '[ "$(fenced)" = none ]' "no fence once the new master takes writes"
hs_wait_until 10 '(($(hsf_acks_since $((HSF_MARK[kill2] + HSF_CONVERGE_MS))) >= 50))' "writes acknowledged by the new master"
hsf_stop_sampler w
multi=$(hsf_sampler_multi w "$HS_WRITE_BACKEND")
[ "$multi" = 0 ] || hs_fail "$multi polls saw more than one ready server in $HS_WRITE_BACKEND"
back=$(hsf_sampler_has w "$HS_WRITE_BACKEND" "$old" $((fenced_at + 1)))
[ "$back" = 0 ] || hs_fail "the dead master $old was ready in $HS_WRITE_BACKEND again at $back polls after the fence"
grep -q '"fenced"' <(hs_agent_status) || hs_fail "no 'fenced' in the status JSON"
HSF_RESULT_EXTRA="fence_restart_ms=$t_empty back_after_restart_ms=$t_back fence_ms=$t_fence fence_ahead_of_promotion_ms=$ahead"
hsf_finish
