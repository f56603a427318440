#!/bin/bash
# f14: the failover leader is frozen longer than failover-timeout. Every
# Sentinel gets a failover-timeout of 4 s; the master is SIGKILLed; as soon
# as a Sentinel announces +elected-leader it gets SIGSTOP for 6 s, then
# SIGCONT. Depending on how far it got (it may already have sent REPLICAOF
# NO ONE), the others fail over after 2 * failover-timeout, or take over its
# promotion from its config once it resumes. The write backend must end on
# the master every Sentinel agrees on, never take the dead master back,
# never have two ready slots (polled every 20 ms), and no write may be
# acknowledged by a node before Sentinel announced it.
# converge_ms: from the kill to every Sentinel naming the same new master
# with the write backend on it. DETAIL: leader, paused_ms, first_switch_ms
# (first poll with a new master in the write backend), write_outage_ms.
# Conditions are single-quoted and eval'd by hs_wait_until:
# shellcheck disable=SC2016,SC2034,SC2119
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
set -u -o pipefail
. "$(dirname "$0")/faultlib.sh"

hsf_setup f14_leader_paused
hsf_start_lab_writing

old=$(hs_sentinel_master "$HS_MASTER") || hs_fail "no sentinel answers GET-MASTER-ADDR-BY-NAME"
oldname=$(hs_name_of_port "${old##*:}") || hs_fail "the master $old is not one of the lab's servers"
for n in "${HS_SENTINEL_NAMES[@]}"; do
	[ "$(hs_cli "${HS_PORT[$n]}" SENTINEL SET "$HS_MASTER" failover-timeout 4000)" = OK ] ||
		hs_fail "SENTINEL SET failover-timeout on $n"
done
hsf_start_sampler lab 0.02 "$HS_WRITE_BACKEND"
hs_wait_until 5 '[ "$(grep -c "^A " "$HS_TMP/writer.txt")" -ge 200 ]' "200 acknowledged writes before the kill"
hs_log "SIGKILL to the master $oldname ($old)"
hsf_mark fault
hs_kill9 "$oldname"
line=$(hsf_wait_event "$HSF_FAILOVER_WAIT" ' \+elected-leader ') || hs_fail "no Sentinel announced +elected-leader"
leader=$(awk '{ print $2 }' <<<"$line")
kill -STOP "${HS_PID[$leader]}"
hsf_mark stop
hs_log "$leader elected leader ($(($(hs_now_ms) - HSF_MARK[fault])) ms after the kill): SIGSTOP for 6 s"
sleep 6
kill -CONT "${HS_PID[$leader]}"
paused=$(hsf_since stop)
hs_log "SIGCONT to $leader after $paused ms"
hs_wait_until 40 'hsf_sentinels_agree "$old"' "every Sentinel to name the same new master and $HS_WRITE_BACKEND to have it"
hsf_converged_ms fault
new=$HSF_AGREED
hsf_mark converged
hs_log "every Sentinel names $new"
hs_wait_until 5 '(($(hsf_acks_since "${HSF_MARK[converged]}") >= 100))' "100 writes acknowledged after the switch"
hs_start_redis "$oldname" replicaof "${new##*:}"
hs_wait_applied 40
hsf_stop_sampler lab
hsf_events_from_logs

multi=$(hsf_sampler_multi lab "$HS_WRITE_BACKEND")
[ "$multi" = 0 ] || hs_fail "$multi polls saw more than one ready server in $HS_WRITE_BACKEND"
first=$(awk -v o="$old" -v t="${HSF_MARK[fault]}" '$1 >= t { v = $2; sub(/^[^=]*=/, "", v); if (v != "" && v != "?" && v != o) { print $1 - t; exit } }' "$HS_TMP/lab.samples")
back=$(hsf_sampler_has lab "$HS_WRITE_BACKEND" "$old" "$((HSF_MARK[fault] + ${first:-0}))")
[ "$back" = 0 ] || hs_fail "the dead master $old was ready in $HS_WRITE_BACKEND again at $back polls after the first switch"
hs_log "write backend: $(hsf_sampler_values lab "$HS_WRITE_BACKEND" | paste -sd' ')"
HSF_RESULT_EXTRA="leader=$leader paused_ms=$paused first_switch_ms=${first:--} write_outage_ms=$(hsf_outage_ms "${HSF_MARK[fault]}") polls=$(hsf_sampler_count lab)"
hsf_finish
