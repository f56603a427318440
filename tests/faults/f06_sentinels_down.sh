#!/bin/bash
# f06: the Sentinels go away one by one, then come back, with a writer on
# the write port and both backends sampled every 50 ms throughout.
#  - one down: nothing changes, no flapping (5 s);
#  - two down: the agent follows the last one (its view alone counts, group
#    state "ok"), HAProxy does not change (5 s). No failover could happen
#    now: one Sentinel of three reaches neither the quorum (2) nor the
#    majority a failover needs (SENTINEL CKQUORUM says NOQUORUM); the agent
#    would keep routing to the current master whatever happens to it;
#  - all three down: the group state is "frozen" and HAProxy's state stays
#    exactly as it was (5 s);
#  - all three back: the group state is "ok" again.
# converge_ms: from restarting the Sentinels to the status showing "ok"
# again with every Sentinel's view counted.
# Conditions are single-quoted and eval'd by hs_wait_until:
# shellcheck disable=SC2016,SC2034,SC2119
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
set -u -o pipefail
. "$(dirname "$0")/faultlib.sh"

hsf_setup f06_sentinels_down
hs_start_lab
hs_start_haproxy
hs_start_agent
hs_wait_applied 5
hsf_start_writer

master=$(hs_sentinel_master "$HS_MASTER") || hs_fail "no sentinel answers GET-MASTER-ADDR-BY-NAME"
replicas=$(hs_replica_addrs | paste -sd,)
hs_wait_until 5 'hs_agent_confirmed_master "$master"' "the agent to confirm $master"

group_state() {
	hs_agent_status | jq -r --arg n "$HS_MASTER" '.masters[] | select(.name == $n) | .state'
}
views() {
	hs_agent_status | jq -r --arg n "$HS_MASTER" '.masters[] | select(.name == $n) | .sentinel_views | length'
}
# Slot lines of both backends without srv_time_since_last_change and the
# read side's health check fields: what the agent sets (address, port,
# admin state) and what follows from it.
hap_snapshot() {
	hs_hap show servers state | awk -v w="$HS_WRITE_BACKEND" -v r="$HS_READ_BACKEND" \
		'$2 == w || $2 == r { print $2, $4, $5, $7, $19 }'
}
# Observe for SECS: only the sampler and the agent's liveness matter.
# (Names unlike hs_wait_until's locals: its eval sees those first.)
observe() {
	local obs_t0 obs_ms=$(($1 * 1000))
	obs_t0=$(hs_now_ms)
	hs_wait_until $(($1 + 5)) '! hs_alive "${HS_PID[agent]}" || (($(hs_now_ms) - obs_t0 >= obs_ms))' "$1 s to pass"
	hs_alive "${HS_PID[agent]}" || hs_fail "the agent exited ($2)"
}

hsf_start_sampler lab 0.05 "$HS_WRITE_BACKEND" "$HS_READ_BACKEND"
before=$(hap_snapshot)

hs_log "stopping sentinel s0"
hs_stop "${HS_PID[s0]}"
observe 5 "one Sentinel down"
[ "$(group_state)" = ok ] || hs_fail "group state '$(group_state)' with one Sentinel down, expected ok"

hs_log "stopping sentinel s1"
hs_stop "${HS_PID[s1]}"
observe 5 "two Sentinels down"
hs_wait_until 5 '[ "$(views)" = 1 ]' "the agent to count the last Sentinel's view only"
[ "$(group_state)" = ok ] || hs_fail "group state '$(group_state)' with one Sentinel left, expected ok"
hs_wait_until 5 'hs_cli "${HS_PORT[s2]}" SENTINEL CKQUORUM "$HS_MASTER" | grep -q NOQUORUM' \
	"s2 to report NOQUORUM (no failover possible with 1 Sentinel of 3)"
hs_log "s2 alone: $(hs_cli "${HS_PORT[s2]}" SENTINEL CKQUORUM "$HS_MASTER" | cut -c1-80)"

hs_log "stopping sentinel s2 (the last one)"
hsf_mark all_down
hs_stop "${HS_PID[s2]}"
hs_wait_until 10 '[ "$(group_state)" = frozen ]' 'the group state to become "frozen"'
frozen_ms=$(hsf_since all_down)
hs_log "frozen $frozen_ms ms after the last Sentinel stopped"
grep -q 'no usable Sentinel' "$HS_TMP/agent.log" || hs_fail "agent.log does not say that no Sentinel is usable"
observe 5 "all Sentinels down"
[ "$(group_state)" = frozen ] || hs_fail "group state '$(group_state)' with every Sentinel down, expected frozen"
after=$(hap_snapshot)
[ "$after" = "$before" ] || hs_fail "HAProxy's slots changed while the group was frozen:
$(diff <(echo "$before") <(echo "$after"))"

hs_log "starting s0 s1 s2 again"
hsf_mark back
for n in s0 s1 s2; do
	hs_start_sentinel "$n" "${master##*:}"
done
hs_wait_until 15 '[ "$(group_state)" = ok ] && [ "$(views)" = 3 ]' 'the group state "ok" with 3 Sentinel views'
hsf_converged_ms back
observe 2 "Sentinels back"
hsf_stop_sampler lab

wvals=$(hsf_sampler_values lab "$HS_WRITE_BACKEND" | paste -sd' ')
rvals=$(hsf_sampler_values lab "$HS_READ_BACKEND" | paste -sd' ')
[ "$wvals" = "$master" ] || hs_fail "$HS_WRITE_BACKEND was not constant ($master): $wvals"
[ "$rvals" = "$replicas" ] || hs_fail "$HS_READ_BACKEND was not constant ($replicas): $rvals"
HSF_RESULT_EXTRA="frozen_after_ms=$frozen_ms polls=$(hsf_sampler_count lab)"
hsf_finish
