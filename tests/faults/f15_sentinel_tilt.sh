#!/bin/bash
# f15: a Sentinel in TILT. s0 (the first Sentinel in the agent's config) is
# frozen for 3 s (SIGSTOP/SIGCONT): its timer sees the jump and it enters
# TILT mode for 30 s, in which it acts on nothing. The agent must show it
# in TILT (status: sentinels[].tilt). Then the master is SIGKILLed: s1 and
# s2 fail over without s0; the write backend must follow them (not the
# TILTed Sentinel's stale view), never take the dead master back, never
# have two ready slots (polled every 20 ms).
# converge_ms: from the kill to the write backend on the new master (that
# s1 and s2 name). DETAIL: tilt_seen_ms (from SIGCONT to the agent's status
# showing the TILT), write_outage_ms.
# Conditions are single-quoted and eval'd by hs_wait_until:
# shellcheck disable=SC2016,SC2034,SC2119
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
set -u -o pipefail
. "$(dirname "$0")/faultlib.sh"

hsf_setup f15_sentinel_tilt
hsf_start_lab_writing

old=$(hs_sentinel_master "$HS_MASTER") || hs_fail "no sentinel answers GET-MASTER-ADDR-BY-NAME"
oldname=$(hs_name_of_port "${old##*:}") || hs_fail "the master $old is not one of the lab's servers"
hs_log "SIGSTOP to s0 for 3 s"
kill -STOP "${HS_PID[s0]}"
sleep 3
kill -CONT "${HS_PID[s0]}"
hsf_mark cont
hs_wait_until 5 'hs_cli "${HS_PORT[s0]}" INFO sentinel | grep -q "^sentinel_tilt:1"' "s0 to be in TILT"
hs_wait_until 10 'hs_agent_status | jq -e --arg a "127.0.0.1:${HS_PORT[s0]}" "any(.sentinels[]; .addr == \$a and .tilt == true)"' \
	"the agent's status to show s0 in TILT"
tilt_seen=$(hsf_since cont)
hs_log "the agent shows s0 in TILT $tilt_seen ms after SIGCONT"

hsf_start_sampler lab 0.02 "$HS_WRITE_BACKEND"
hs_wait_until 5 '[ "$(grep -c "^A " "$HS_TMP/writer.txt")" -ge 200 ]' "200 acknowledged writes before the kill"
hs_log "SIGKILL to the master $oldname ($old) while s0 is in TILT"
hsf_mark fault
hs_kill9 "$oldname"
s12() {
	local a b
	a=$(hs_cli "${HS_PORT[s1]}" SENTINEL GET-MASTER-ADDR-BY-NAME "$HS_MASTER" | paste -sd:)
	b=$(hs_cli "${HS_PORT[s2]}" SENTINEL GET-MASTER-ADDR-BY-NAME "$HS_MASTER" | paste -sd:)
	[ -n "$a" ] && [ "$a" = "$b" ] && [ "$a" != "$old" ] && [ "$(hs_ready_servers "$HS_WRITE_BACKEND")" = "$a" ] && HSF_NEW=$a
}
hs_wait_until "$HSF_FAILOVER_WAIT" s12 "s1 and s2 to name a new master and $HS_WRITE_BACKEND to have it"
hsf_converged_ms fault
new=$HSF_NEW
hsf_mark converged
still=$(hs_cli "${HS_PORT[s0]}" INFO sentinel | grep -c '^sentinel_tilt:1')
hs_log "write backend on $new (s0 still in TILT: $still)"
hs_wait_until 5 '(($(hsf_acks_since "${HSF_MARK[converged]}") >= 100))' "100 writes acknowledged after the switch"
hs_start_redis "$oldname" replicaof "${new##*:}"
hs_wait_until 45 'hsf_sentinels_agree "$old"' "every Sentinel (s0 out of TILT) to name the new master"
hs_wait_applied 20
hsf_stop_sampler lab

multi=$(hsf_sampler_multi lab "$HS_WRITE_BACKEND")
[ "$multi" = 0 ] || hs_fail "$multi polls saw more than one ready server in $HS_WRITE_BACKEND"
back=$(hsf_sampler_has lab "$HS_WRITE_BACKEND" "$old" "${HSF_MARK[converged]}")
[ "$back" = 0 ] || hs_fail "the dead master $old was ready in $HS_WRITE_BACKEND again at $back polls after the switch"
hs_log "write backend: $(hsf_sampler_values lab "$HS_WRITE_BACKEND" | paste -sd' ')"
HSF_RESULT_EXTRA="tilt_seen_ms=$tilt_seen s0_tilt_at_switch=$still write_outage_ms=$(hsf_outage_ms "${HSF_MARK[fault]}") polls=$(hsf_sampler_count lab)"
hsf_finish
