#!/bin/bash
# f05: a replica is killed, then restarted, with a writer on the write port.
# It leaves the read backend (maint) and comes back (ready); the write
# backend never changes (sampled every 50 ms throughout).
# converge_ms: from the kill to the first poll at which the read backend
# has exactly the surviving replica. DETAIL: back_ms, from the restart to
# the first poll at which both replicas are ready again.
# Conditions are single-quoted and eval'd by hs_wait_until:
# shellcheck disable=SC2016,SC2034,SC2119
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
set -u -o pipefail
. "$(dirname "$0")/faultlib.sh"

hsf_setup f05_replica_restart
hsf_start_lab_writing

master=$(hs_sentinel_master "$HS_MASTER") || hs_fail "no sentinel answers GET-MASTER-ADDR-BY-NAME"
replicas=$(hs_replica_addrs)
victim_addr=$(head -n 1 <<<"$replicas")
survivor=$(tail -n 1 <<<"$replicas")
victim=$(hs_name_of_port "${victim_addr##*:}") || hs_fail "replica $victim_addr is not one of the lab's servers"

hsf_start_sampler lab 0.05 "$HS_WRITE_BACKEND" "$HS_READ_BACKEND"
hs_log "SIGKILL to the replica $victim ($victim_addr)"
hsf_mark fault
hs_kill9 "$victim"
hs_wait_until 10 '[ "$(hs_ready_servers "$HS_READ_BACKEND")" = "$survivor" ]' \
	"$HS_READ_BACKEND to have exactly the surviving replica $survivor"
hsf_converged_ms fault

hs_log "restarting $victim"
hsf_mark back
hs_start_redis "$victim" replicaof "${master##*:}"
hs_wait_until 15 '[ "$(hs_ready_servers "$HS_READ_BACKEND")" = "$replicas" ]' \
	"$HS_READ_BACKEND to have both replicas ready again"
back_ms=$(hsf_since back)
hs_log "both replicas ready again $back_ms ms after the restart"
hsf_mark both
hs_wait_until 5 'awk -v t="${HSF_MARK[both]}" "\$1 == \"A\" && \$2 > t { f = 1; exit } END { exit !f }" "$HS_TMP/writer.txt"' \
	"writes acknowledged after both replicas are back"
hsf_stop_sampler lab

# The write backend was exactly the master at every poll.
wvals=$(hsf_sampler_values lab "$HS_WRITE_BACKEND" | paste -sd' ')
[ "$wvals" = "$master" ] || hs_fail "$HS_WRITE_BACKEND changed while a replica died and came back: $wvals"
# The read backend went: both -> the survivor -> both (nothing else).
rvals=$(hsf_sampler_values lab "$HS_READ_BACKEND" | paste -sd' ')
[ "$rvals" = "$(paste -sd, <<<"$replicas") $survivor" ] ||
	hs_fail "$HS_READ_BACKEND went through '$rvals', expected '$(paste -sd, <<<"$replicas") $survivor' (and back)"
HSF_RESULT_EXTRA="back_ms=$back_ms polls=$(hsf_sampler_count lab)"
hsf_finish
