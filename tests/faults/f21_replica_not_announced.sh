#!/bin/bash
# f21: a replica that Sentinel does not announce stays out of the read
# backend. CONFIG SET replica-announced no on one replica: Sentinel leaves
# it out of SENTINEL REPLICAS, and the read backend must drop it and keep it
# out (polled every 50 ms for 5 s after it went) although it is up, linked
# and says ROLE slave. replica-announced yes again: it comes back. The write
# backend never changes.
# converge_ms: from the CONFIG SET to the read backend without it.
# DETAIL: back_ms (from yes again to the read backend whole).
# Conditions are single-quoted and eval'd by hs_wait_until:
# shellcheck disable=SC2016,SC2034,SC2119
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
set -u -o pipefail
. "$(dirname "$0")/faultlib.sh"

hsf_setup f21_replica_not_announced
hsf_start_lab_writing
master=$(hs_sentinel_master "$HS_MASTER") || hs_fail "no sentinel answers GET-MASTER-ADDR-BY-NAME"
replicas=$(hs_replica_addrs)
hidden=$(head -n 1 <<<"$replicas")
kept=$(tail -n 1 <<<"$replicas")

hsf_start_sampler lab 0.05 "$HS_WRITE_BACKEND" "$HS_READ_BACKEND"
hs_log "replica-announced no on $hidden"
hsf_mark fault
[ "$(hs_cli "${hidden##*:}" CONFIG SET replica-announced no)" = OK ] || hs_fail "CONFIG SET replica-announced no"
hs_wait_until 30 '[ "$(hs_ready_servers "$HS_READ_BACKEND")" = "$kept" ]' "$HS_READ_BACKEND to have only $kept"
hsf_converged_ms fault
hsf_mark gone
sleep 5
[ "$(hs_role_via "${hidden##*:}")" = slave ] || hs_fail "$hidden is no longer a replica"
back=$(hsf_sampler_has lab "$HS_READ_BACKEND" "$hidden" "${HSF_MARK[gone]}")
[ "$back" = 0 ] || hs_fail "$hidden was ready in $HS_READ_BACKEND at $back polls while not announced"
hs_log "replica-announced yes on $hidden"
hsf_mark yes
[ "$(hs_cli "${hidden##*:}" CONFIG SET replica-announced yes)" = OK ] || hs_fail "CONFIG SET replica-announced yes"
hs_wait_until 30 '[ "$(hs_ready_servers "$HS_READ_BACKEND")" = "$replicas" ]' "$HS_READ_BACKEND to have both replicas again"
back_ms=$(hsf_since yes)
hsf_stop_sampler lab
wvals=$(hsf_sampler_values lab "$HS_WRITE_BACKEND" | paste -sd' ')
[ "$wvals" = "$master" ] || hs_fail "$HS_WRITE_BACKEND changed: $wvals"
HSF_RESULT_EXTRA="back_ms=$back_ms polls=$(hsf_sampler_count lab)"
hsf_finish
