#!/bin/bash
# f16: a Sentinel link silently dropped: every loopback packet to or from
# s0's port vanishes (iptables DROP on this test's port only: no RST, no
# ICMP; the agent's established connections just stop answering). The agent
# must notice within its command timeout (1 s by default) after its next
# command: asserted, s0's command link no longer "up" in its status within
# 6 s (polled; the polls are slow on a loaded runner); reported, noticed_ms
# from the agent's own log line. Then the
# master is SIGKILLed: s1 and s2 fail over; the write backend must follow,
# never take the dead master back, never have two ready slots (polled every
# 20 ms). Healed (rules removed), the agent's link to s0 comes back up.
# converge_ms: from the kill to the write backend on the new master.
# DETAIL: noticed_ms (from the DROP to the status showing s0's link not
# up), relinked_ms (from healing to s0's link up again), write_outage_ms.
# Needs root (iptables): exit 77 otherwise.
# Conditions are single-quoted and eval'd by hs_wait_until:
# shellcheck disable=SC2016,SC2034,SC2119
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
set -u -o pipefail
. "$(dirname "$0")/faultlib.sh"

hsf_setup f16_sentinel_link_dropped
hsf_start_lab_writing

s0a=127.0.0.1:${HS_PORT[s0]}
link_of_s0() {
	hs_agent_status | jq -r --arg a "$s0a" '.sentinels[] | select(.addr == $a) | .cmd_link'
}
[ "$(link_of_s0)" = up ] || hs_fail "the agent's command link to s0 is not up before the fault"
old=$(hs_sentinel_master "$HS_MASTER") || hs_fail "no sentinel answers GET-MASTER-ADDR-BY-NAME"
oldname=$(hs_name_of_port "${old##*:}") || hs_fail "the master $old is not one of the lab's servers"

hs_log "dropping every packet to and from s0 ($s0a)"
hsf_mark drop
hsf_ipt_drop_port "${HS_PORT[s0]}"
hs_wait_until 6 '[ "$(link_of_s0)" != up ]' "the agent to notice that s0 no longer answers"
seen=$(hsf_since drop)
# When the agent noticed, from its own log (the status polls above are slow
# on a loaded runner): its first "cmd: closed" line for s0 (e.g. command timeout).
t=$(grep -m1 "sentinel $s0a cmd: closed" "$HS_TMP/agent.log" | cut -d' ' -f1)
noticed=-
if [ -n "$t" ] && t=$(date -d "$t" +%s%3N 2>/dev/null); then
	noticed=$((t - HSF_MARK[drop]))
fi
hs_log "the agent's link to s0 went down $noticed ms after the drop (agent.log: $(grep -m1 "sentinel $s0a cmd: closed" "$HS_TMP/agent.log" | cut -d' ' -f2-)); status shows '$(link_of_s0)' after $seen ms"

hsf_start_sampler lab 0.02 "$HS_WRITE_BACKEND"
hs_wait_until 5 '[ "$(grep -c "^A " "$HS_TMP/writer.txt")" -ge 200 ]' "200 acknowledged writes before the kill"
hs_log "SIGKILL to the master $oldname ($old) while s0 is cut off"
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
hs_wait_until 5 '(($(hsf_acks_since "${HSF_MARK[converged]}") >= 100))' "100 writes acknowledged after the switch"

hs_log "healing: removing the DROP rules"
hsf_mark heal
hsf_ipt_clear
hs_wait_until 15 '[ "$(link_of_s0)" = up ]' "the agent's link to s0 to come back up"
relinked=$(hsf_since heal)
hs_start_redis "$oldname" replicaof "${new##*:}"
hs_wait_until 30 'hsf_sentinels_agree "$old"' "every Sentinel to name the new master"
hs_wait_applied 20
hsf_stop_sampler lab

multi=$(hsf_sampler_multi lab "$HS_WRITE_BACKEND")
[ "$multi" = 0 ] || hs_fail "$multi polls saw more than one ready server in $HS_WRITE_BACKEND"
back=$(hsf_sampler_has lab "$HS_WRITE_BACKEND" "$old" "${HSF_MARK[converged]}")
[ "$back" = 0 ] || hs_fail "the dead master $old was ready in $HS_WRITE_BACKEND again at $back polls after the switch"
HSF_RESULT_EXTRA="noticed_ms=$noticed status_ms=$seen relinked_ms=$relinked write_outage_ms=$(hsf_outage_ms "${HSF_MARK[fault]}") polls=$(hsf_sampler_count lab)"
hsf_finish
