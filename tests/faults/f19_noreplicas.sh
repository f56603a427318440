#!/bin/bash
# f19: the master runs with min-replicas-to-write 1 (min-replicas-max-lag
# 2) and both replicas are SIGKILLed. The master refuses writes
# (-NOREPLICAS) but stays up: Sentinel keeps it, and the write backend must
# keep exactly it, without flapping (polled every 20 ms for 8 s), while the
# read backend empties. The replicas come back: writes are acknowledged
# again, the read backend is whole again.
# converge_ms: from the kill to the read backend empty. DETAIL: noreplicas
# (writes refused with NOREPLICAS), resumed_ms (from the restart to the
# first write acknowledged again), write_values (distinct write backend sets
# seen: must be 1).
# Conditions are single-quoted and eval'd by hs_wait_until:
# shellcheck disable=SC2016,SC2034,SC2119
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
set -u -o pipefail
. "$(dirname "$0")/faultlib.sh"

hsf_setup f19_noreplicas
hs_start_lab
hs_start_haproxy
hs_start_agent
hs_wait_applied 5
master=$(hs_sentinel_master "$HS_MASTER") || hs_fail "no sentinel answers GET-MASTER-ADDR-BY-NAME"
mname=$(hs_name_of_port "${master##*:}") || hs_fail "the master $master is not one of the lab's servers"
for k in "min-replicas-to-write 1" "min-replicas-max-lag 2"; do
	# shellcheck disable=SC2086
	[ "$(hs_cli "${master##*:}" CONFIG SET $k)" = OK ] || hs_fail "CONFIG SET $k on $mname"
done
hsf_start_events
hsf_start_writer
reps=()
for n in "${HS_REDIS_NAMES[@]}"; do
	[ "$n" = "$mname" ] || reps+=("$n")
done
hsf_start_sampler lab 0.02 "$HS_WRITE_BACKEND" "$HS_READ_BACKEND"
hs_wait_until 5 '[ "$(grep -c "^A " "$HS_TMP/writer.txt")" -ge 200 ]' "200 acknowledged writes before the kill"
hs_log "SIGKILL to both replicas (${reps[*]})"
hsf_mark fault
for n in "${reps[@]}"; do
	hs_kill9 "$n"
done
hs_wait_until 10 '[ -z "$(hs_ready_servers "$HS_READ_BACKEND")" ]' "$HS_READ_BACKEND to empty"
hsf_converged_ms fault
hs_wait_until 10 'grep -q "^E .*NOREPLICAS" "$HS_TMP/writer.txt"' "the master to refuse writes with NOREPLICAS"
sleep 8
hs_log "restarting ${reps[*]}"
hsf_mark back
for n in "${reps[@]}"; do
	hs_start_redis "$n" replicaof "${master##*:}"
done
hs_wait_until 20 '(($(hsf_acks_since "${HSF_MARK[back]}") >= 100))' "writes acknowledged again"
resumed=$(awk -v t="${HSF_MARK[back]}" '$1 == "A" && $2 > t { print $2 - t; exit }' "$HS_TMP/writer.txt")
hs_wait_applied 20
hsf_stop_sampler lab

wvals=$(hsf_sampler_values lab "$HS_WRITE_BACKEND" | paste -sd' ')
[ "$wvals" = "$master" ] || hs_fail "$HS_WRITE_BACKEND was not always exactly $master: $wvals"
nr=$(grep -c '^E .*NOREPLICAS' "$HS_TMP/writer.txt")
late=$(awk -v t="${HSF_MARK[fault]}" -v b="${HSF_MARK[back]}" '$1 == "A" && $2 > t + 3000 && $2 < b' "$HS_TMP/writer.txt" | wc -l)
[ "$late" = 0 ] || hs_fail "$late writes acknowledged between 3 s after the kill and the restart (min-replicas-to-write)"
HSF_RESULT_EXTRA="noreplicas=$nr resumed_ms=$resumed write_values=$(wc -w <<<"$wvals") polls=$(hsf_sampler_count lab)"
hsf_finish
