#!/bin/bash
# f12 (and f13 with HSF_SIMFAIL=crash-after-promotion): Sentinel's own
# failure injection. Every Sentinel gets SENTINEL SIMULATE-FAILURE MODE
# (crash-after-election: the elected leader exits right after winning;
# crash-after-promotion: right after it sent REPLICAOF NO ONE to the chosen
# replica) and a failover-timeout of 4 s (the others try again after
# 2 * failover-timeout), then the master is SIGKILLed. A crashed Sentinel is
# restarted at once (without the flag), until one completes the failover.
# With crash-after-promotion a replica may say ROLE master before any
# Sentinel announces it: the write backend must not take it before the
# announcement (the writer's acknowledgements are checked against the
# announced masters), never two ready write slots (polled every 20 ms).
# converge_ms: from the kill to the write backend on the announced new
# master. DETAIL: crashes (Sentinels that exited), write_outage_ms.
# Conditions are single-quoted and eval'd by hs_wait_until:
# shellcheck disable=SC2016,SC2034,SC2119
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
set -u -o pipefail
. "$(dirname "$0")/faultlib.sh"

# A crashed and restarted Sentinel can start a second failover away from
# the master just promoted, which is alive and still says master until
# Sentinel demotes it: its acknowledgements within the agent's reaction
# time after the new announcement are counted as late and lost, not hidden
# (HSF_GRACE_MS, as in f17; seen once: 45 acks in the 110 ms after the
# announcement).
mode=${HSF_SIMFAIL:-crash-after-election}
case $mode in
crash-after-election) hsf_setup f12_crash_after_election ;;
crash-after-promotion) hsf_setup f13_crash_after_promotion ;;
*) echo "unknown HSF_SIMFAIL $mode" >&2; exit 2 ;;
esac
hsf_start_lab_writing

old=$(hs_sentinel_master "$HS_MASTER") || hs_fail "no sentinel answers GET-MASTER-ADDR-BY-NAME"
oldname=$(hs_name_of_port "${old##*:}") || hs_fail "the master $old is not one of the lab's servers"
for n in "${HS_SENTINEL_NAMES[@]}"; do
	[ "$(hs_cli "${HS_PORT[$n]}" SENTINEL SET "$HS_MASTER" failover-timeout 4000)" = OK ] ||
		hs_fail "SENTINEL SET failover-timeout on $n"
	[ "$(hs_cli "${HS_PORT[$n]}" SENTINEL SIMULATE-FAILURE "$mode")" = OK ] ||
		hs_fail "SENTINEL SIMULATE-FAILURE $mode on $n"
done
hsf_start_sampler lab 0.02 "$HS_WRITE_BACKEND"
hs_wait_until 5 '[ "$(grep -c "^A " "$HS_TMP/writer.txt")" -ge 200 ]' "200 acknowledged writes before the kill"
hs_log "SIGKILL to the master $oldname ($old), every Sentinel set to $mode"
hsf_mark fault
hs_kill9 "$oldname"

# Restart every Sentinel that crashed, until the write backend has a new
# announced master.
crashes=0
restart_crashed() {
	local n
	for n in "${HS_SENTINEL_NAMES[@]}"; do
		[ -n "${HS_PID[$n]:-}" ] || continue
		hs_alive "${HS_PID[$n]}" && continue
		wait "${HS_PID[$n]}" 2>/dev/null
		_hs_forget_pid "${HS_PID[$n]}"
		crashes=$((crashes + 1))
		echo "$(hs_now_ms) $n exited; restarted" >>"$HS_TMP/crashes.txt"
		hs_start_sentinel "$n" "${old##*:}"
		[ -z "${HS_PID[ev_$n]:-}" ] || hs_stop "${HS_PID[ev_$n]}"
		_hsf_subscriber "$n" "${HS_PORT[$n]}" </dev/null >>"$HS_TMP/events.$n.txt" 2>/dev/null &
		hs_register "ev_$n" $!
	done
	return 1
}
hs_wait_until 55 'restart_crashed; HSF_NEW=$(hs_sentinel_master "$HS_MASTER") && [ "$HSF_NEW" != "$old" ] &&
	[ "$(hs_ready_servers "$HS_WRITE_BACKEND")" = "$HSF_NEW" ]' \
	"a new announced master alone in $HS_WRITE_BACKEND"
hsf_converged_ms fault
new=$HSF_NEW
hsf_mark converged
[ -f "$HS_TMP/crashes.txt" ] && sed 's/^/  /' "$HS_TMP/crashes.txt" >&2
((crashes >= 1)) || hs_fail "no Sentinel exited: SIMULATE-FAILURE $mode did not fire"
hs_log "write backend on $new after $crashes Sentinel crash(es)"
hs_wait_until 5 '(($(hsf_acks_since "${HSF_MARK[converged]}") >= 100))' "100 writes acknowledged after the switch"
# Now and then a second failover follows (the restarted leader's config
# reaches the others late, or the next leader crashes too): wait until
# every Sentinel names the same master and the write backend has it.
agree() {
	local n m
	AGREED=
	for n in "${HS_SENTINEL_NAMES[@]}"; do
		m=$(hs_cli "${HS_PORT[$n]}" SENTINEL GET-MASTER-ADDR-BY-NAME "$HS_MASTER" | paste -sd:)
		[ -n "$m" ] && [ "$m" != "$old" ] || return 1
		[ -z "$AGREED" ] || [ "$AGREED" = "$m" ] || return 1
		AGREED=$m
	done
	[ "$(hs_ready_servers "$HS_WRITE_BACKEND")" = "$AGREED" ]
}
hs_wait_until 40 'restart_crashed; agree' "every Sentinel to name the same new master and $HS_WRITE_BACKEND to have it"
hs_log "every Sentinel names $AGREED"
hs_start_redis "$oldname" replicaof "${AGREED##*:}"
hs_wait_until 40 'restart_crashed; _hs_applied' "the lab to settle (both backends applied)"
hsf_stop_sampler lab
hsf_events_from_logs

multi=$(hsf_sampler_multi lab "$HS_WRITE_BACKEND")
[ "$multi" = 0 ] || hs_fail "$multi polls saw more than one ready server in $HS_WRITE_BACKEND"
back=$(hsf_sampler_has lab "$HS_WRITE_BACKEND" "$old" "${HSF_MARK[converged]}")
[ "$back" = 0 ] || hs_fail "the dead master $old was ready in $HS_WRITE_BACKEND again at $back polls after the switch"
hs_log "write backend: $(hsf_sampler_values lab "$HS_WRITE_BACKEND" | paste -sd' ')"
HSF_RESULT_EXTRA="crashes=$crashes write_outage_ms=$(hsf_outage_ms "${HSF_MARK[fault]}") polls=$(hsf_sampler_count lab)"
hsf_finish
