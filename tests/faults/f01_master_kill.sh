#!/bin/bash
# f01: the master is SIGKILLed while a writer writes through the write port.
# Sentinel promotes a replica; the write backend must then route to it alone.
# converge_ms: from the kill to the first poll (every 50 ms) at which the
# write backend has exactly Sentinel's new master ready. DETAIL: the longest
# gap between two acknowledged writes (the clients' write outage) and the
# longest stretch without any ready read server (polled every 50 ms;
# reported, not asserted).
# Conditions are single-quoted and eval'd by hs_wait_until:
# shellcheck disable=SC2016,SC2034,SC2119
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
set -u -o pipefail
. "$(dirname "$0")/faultlib.sh"

hsf_setup f01_master_kill
hsf_start_lab_writing

old=$(hs_sentinel_master "$HS_MASTER") || hs_fail "no sentinel answers GET-MASTER-ADDR-BY-NAME"
oldname=$(hs_name_of_port "${old##*:}") || hs_fail "the master $old is not one of the lab's servers"
hsf_start_sampler lab 0.05 "$HS_WRITE_BACKEND" "$HS_READ_BACKEND"
hs_wait_until 5 '[ "$(grep -c "^A " "$HS_TMP/writer.txt")" -ge 200 ]' "200 acknowledged writes before the kill"
hs_log "SIGKILL to the master $oldname ($old)"
hsf_mark fault
hs_kill9 "$oldname"

hsf_wait_write_master "$HSF_FAILOVER_WAIT" "$old"
hsf_converged_ms fault
hs_log "write backend on the new master $HSF_NEW"
hsf_mark converged
hs_wait_until 5 '(($(hsf_acks_since "${HSF_MARK[converged]}") >= 200))' "200 writes acknowledged after the switch"
hs_wait_applied 20
hsf_stop_sampler lab
multi=$(hsf_sampler_multi lab "$HS_WRITE_BACKEND")
[ "$multi" = 0 ] || hs_fail "$multi polls saw more than one ready server in $HS_WRITE_BACKEND"
back=$(hsf_sampler_has lab "$HS_WRITE_BACKEND" "$old" "${HSF_MARK[converged]}")
[ "$back" = 0 ] || hs_fail "the dead master $old was ready in $HS_WRITE_BACKEND again at $back polls after the switch"
# Reported, not asserted: how long reads had no replica at all.
HSF_RESULT_EXTRA="write_outage_ms=$(hsf_outage_ms "${HSF_MARK[fault]}") read_empty_ms=$(hsf_sampler_empty_ms lab "$HS_READ_BACKEND" "${HSF_MARK[fault]}") polls=$(hsf_sampler_count lab)"
hsf_finish
