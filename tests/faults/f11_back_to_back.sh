#!/bin/bash
# f11: back-to-back failovers. The master is SIGKILLed; as soon as the write
# backend has the new master, that one is SIGKILLed too (within 1 s of the
# switch, well inside 5 s). Sentinel promotes the last node; the write
# backend must follow both switches and never take either dead master
# back (polled every 20 ms, never two ready write slots). Then both are
# restarted as replicas of the last master and the lab settles.
# converge_ms: from the second kill to the first poll at which the write
# backend has exactly the third master. DETAIL: first_ms (the first switch,
# from the first kill), write_outage_ms.
# Conditions are single-quoted and eval'd by hs_wait_until:
# shellcheck disable=SC2016,SC2034,SC2119
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
set -u -o pipefail
. "$(dirname "$0")/faultlib.sh"

hsf_setup f11_back_to_back
hsf_start_lab_writing

m1=$(hs_sentinel_master "$HS_MASTER") || hs_fail "no sentinel answers GET-MASTER-ADDR-BY-NAME"
n1=$(hs_name_of_port "${m1##*:}") || hs_fail "the master $m1 is not one of the lab's servers"
hsf_start_sampler lab 0.02 "$HS_WRITE_BACKEND"
hs_wait_until 5 '[ "$(grep -c "^A " "$HS_TMP/writer.txt")" -ge 200 ]' "200 acknowledged writes before the first kill"
hs_log "SIGKILL to the master $n1 ($m1)"
hsf_mark fault1
hs_kill9 "$n1"
hsf_wait_write_master "$HSF_FAILOVER_WAIT" "$m1"
m2=$HSF_NEW
first_ms=$(hsf_since fault1)
n2=$(hs_name_of_port "${m2##*:}") || hs_fail "the new master $m2 is not one of the lab's servers"
hs_log "first switch to $n2 ($m2) after $first_ms ms; SIGKILL to it"
hsf_mark switch1
# Up to 1 s for some writes on the second master (not required).
for ((i = 0; i < 20; i++)); do
	(($(hsf_acks_since "${HSF_MARK[switch1]}") >= 20)) && break
	sleep 0.05
done
hsf_mark fault
hs_kill9 "$n2"
((HSF_MARK[fault] - HSF_MARK[switch1] < 5000)) || hs_fail "the second kill came $((HSF_MARK[fault] - HSF_MARK[switch1])) ms after the switch"
hs_wait_until "$HSF_FAILOVER_WAIT" 'HSF_NEW=$(hs_sentinel_master "$HS_MASTER") && [ "$HSF_NEW" != "$m1" ] && [ "$HSF_NEW" != "$m2" ] &&
	[ "$(hs_ready_servers "$HS_WRITE_BACKEND")" = "$HSF_NEW" ]' \
	"Sentinel to name a third master and $HS_WRITE_BACKEND to have exactly it"
hsf_converged_ms fault
m3=$HSF_NEW
hsf_mark converged
hs_log "second switch to $m3"
hs_wait_until 5 '(($(hsf_acks_since "${HSF_MARK[converged]}") >= 100))' "100 writes acknowledged on the third master"

hs_log "restarting $n1 and $n2 as replicas of $m3"
hs_start_redis "$n1" replicaof "${m3##*:}"
hs_start_redis "$n2" replicaof "${m3##*:}"
hs_wait_applied 30
hsf_stop_sampler lab

multi=$(hsf_sampler_multi lab "$HS_WRITE_BACKEND")
[ "$multi" = 0 ] || hs_fail "$multi polls saw more than one ready server in $HS_WRITE_BACKEND"
b1=$(hsf_sampler_has lab "$HS_WRITE_BACKEND" "$m1" "${HSF_MARK[switch1]}")
b2=$(hsf_sampler_has lab "$HS_WRITE_BACKEND" "$m2" "${HSF_MARK[converged]}")
[ "$b1$b2" = 00 ] || hs_fail "a dead master was ready again after its switch ($m1: $b1 polls, $m2: $b2 polls)"
hs_log "write backend: $(hsf_sampler_values lab "$HS_WRITE_BACKEND" | paste -sd' ')"
HSF_RESULT_EXTRA="first_ms=$first_ms gap_ms=$((HSF_MARK[fault] - HSF_MARK[switch1])) write_outage_ms=$(hsf_outage_ms "${HSF_MARK[fault1]}") polls=$(hsf_sampler_count lab)"
hsf_finish
