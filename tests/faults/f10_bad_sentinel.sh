#!/bin/bash
# f10: besides the three real Sentinels the agent is configured with two
# bad ones (tests/tools/fake_sentinel), after a real failover (SENTINEL
# FAILOVER: the real config epoch is then >= 1):
#  (a) one publishes garbage every 100 ms (truncated +switch-master,
#      malformed +sdown, a bogus channel, an 8 KB +odown); its view is the
#      lab before the failover (r0 master, epoch 0);
#  (b) one starts later, replays an old "+switch-master NEW -> OLD" on
#      subscription and answers every query with the stale epoch-0 view
#      pointing at the old master.
# The agent must ignore both: the write backend stays on the real master
# (5 s of polls every 50 ms after each), the agent stays alive, its log says
# the malformed events were ignored, and its status names the real master.
# The lab's ports are consecutive (r0 r1 r2 = BASE, BASE+1, BASE+2) so that
# fake_sentinel -b BASE -r 2 describes the lab's nodes.
# converge_ms: the real failover, from SENTINEL FAILOVER to the write
# backend on the new master (before the writer starts: a manual failover
# lets the old master take writes until the switch, which is not what this
# scenario is about).
# Conditions are single-quoted and eval'd by hs_wait_until:
# shellcheck disable=SC2016,SC2034,SC2119
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
set -u -o pipefail
. "$(dirname "$0")/faultlib.sh"

hsf_setup f10_bad_sentinel
base=$(hsf_pick_consecutive_ports 3)
HS_PORT[r0]=$base HS_PORT[r1]=$((base + 1)) HS_PORT[r2]=$((base + 2))
hs_start_lab
hs_start_haproxy

fa=$(hs_free_port)
fb=$(hs_free_port)
_hs_spawn "$HS_TMP/fake_a.log" "$HSF_FAKE_SENTINEL" -p "$fa" -b "$base" -r 2 -e 0 -g
hs_register fake_a "$HS_BG_PID"
_hs_wait_started fake_a 5 '[ "$(hs_cli "$fa" PING)" = PONG ]'
# fake_b's port is in the configuration already; it starts in phase (b).
hs_start_agent "sentinel 127.0.0.1:$fa" "sentinel 127.0.0.1:$fb"
hs_wait_applied 5

# ---- the real failover
old=$(hs_sentinel_master "$HS_MASTER") || hs_fail "no sentinel answers GET-MASTER-ADDR-BY-NAME"
hs_log "SENTINEL FAILOVER (master $old)"
hsf_mark failover
out=$(hs_cli "${HS_PORT[s0]}" SENTINEL FAILOVER "$HS_MASTER")
[ "$out" = OK ] || hs_fail "SENTINEL FAILOVER answered '$out'"
hsf_wait_write_master "$HSF_FAILOVER_WAIT" "$old"
hsf_converged_ms failover
new=$HSF_NEW
# Both replicas (the old master converted) ready for reads before the
# phases start. After a manual failover this takes up to about 20 s: the
# agent keeps a replica out of the read backend while Sentinel reports its
# link down, and Sentinel refreshes a replica's INFO only every 10 s.
hs_wait_until 40 '[ "$(hs_replica_addrs | wc -l)" = 2 ] && _hs_applied' \
	"both replicas (the old master converted) ready in $HS_READ_BACKEND"
hsf_mark settled
# (Sentinel may have failed the fresh master over once more meanwhile.)
new=$(hs_sentinel_master "$HS_MASTER") || hs_fail "no sentinel answers GET-MASTER-ADDR-BY-NAME"
[ "$new" != "$old" ] || hs_fail "Sentinel names the old master $old again"
HSF_RESULT_EXTRA="read_settled_ms=$(($(hs_now_ms) - HSF_MARK[failover]))"
epoch=$(_hs_sentinel_field "${HS_PORT[s0]}" config-epoch)
((epoch >= 1)) || hs_fail "the real config epoch is '$epoch' after a failover, expected >= 1"
hs_wait_until 5 'hs_agent_confirmed_master "$new"' "the agent to confirm $new"
hs_log "real master $new at epoch $epoch"

hsf_start_events
hsf_start_writer
replicas=$(hs_replica_addrs | paste -sd,)

# Polls for 5 s; the write backend must be exactly the real master at each,
# the agent alive throughout, the status naming the real master after.
watch_5s() {
	local name=$1 wvals rvals
	hsf_start_sampler "$name" 0.05 "$HS_WRITE_BACKEND" "$HS_READ_BACKEND"
	local t0
	t0=$(hs_now_ms)
	hs_wait_until 10 '! hs_alive "${HS_PID[agent]}" || (($(hs_now_ms) - t0 >= 5000))' "5 s of polls"
	hsf_stop_sampler "$name"
	hs_alive "${HS_PID[agent]}" || hs_fail "the agent died in phase $name"
	wvals=$(hsf_sampler_values "$name" "$HS_WRITE_BACKEND" | paste -sd' ')
	rvals=$(hsf_sampler_values "$name" "$HS_READ_BACKEND" | paste -sd' ')
	hs_log "phase $name: $(hsf_sampler_count "$name") polls, write backend: $wvals; read backend: $rvals"
	[ "$wvals" = "$new" ] || hs_fail "phase $name: $HS_WRITE_BACKEND was not always exactly $new: $wvals"
	[ "$rvals" = "$replicas" ] || hs_fail "phase $name: $HS_READ_BACKEND was not always exactly $replicas: $rvals"
	hs_agent_confirmed_master "$new" || hs_fail "phase $name: the agent's status does not name $new as the confirmed master"
}

# ---- (a) garbage (fake_a has been publishing since before the failover)
hs_wait_until 5 'grep -q "sentinel 127.0.0.1:$fa: malformed event ignored" "$HS_TMP/agent.log"' \
	"agent.log to say malformed events from 127.0.0.1:$fa were ignored"
watch_5s garbage
ignored=$(grep -c "sentinel 127.0.0.1:$fa: malformed event ignored" "$HS_TMP/agent.log")
hs_log "(a): $ignored malformed events ignored"

# ---- (b) a stale Sentinel replaying an old +switch-master
hs_log "starting fake_b: epoch 0, master ${old}, replaying +switch-master ${new##*:} -> ${old##*:}"
_hs_spawn "$HS_TMP/fake_b.log" "$HSF_FAKE_SENTINEL" -p "$fb" -b "$base" -r 2 -e 0 -s "${new##*:}:${old##*:}"
hs_register fake_b "$HS_BG_PID"
_hs_wait_started fake_b 5 '[ "$(hs_cli "$fb" PING)" = PONG ]'
hs_wait_until 10 'hs_agent_status | jq -e --arg a "127.0.0.1:$fb" "any(.sentinels[]; .addr == \$a and .subscribed)"' \
	"the agent to subscribe to fake_b"
hs_wait_until 5 'grep -q "sentinel 127.0.0.1:$fb: +switch-master" "$HS_TMP/agent.log"' \
	"agent.log to show the replayed +switch-master from fake_b"
hs_log "agent saw: $(grep -m1 "sentinel 127.0.0.1:$fb: +switch-master" "$HS_TMP/agent.log" | cut -d' ' -f3-)"
watch_5s stale
hs_wait_until 5 'hs_agent_status | jq -e --arg a "127.0.0.1:$fb" --arg n "$HS_MASTER" \
	"any(.masters[] | select(.name == \$n) | .sentinel_views[]; .sentinel == \$a and .epoch == 0)"' \
	"the status to show fake_b's epoch-0 view (read, and outvoted)"
grep -q 'reports an older epoch' "$HS_TMP/agent.log" && hs_log "(b): agent.log: $(grep -m1 'reports an older epoch' "$HS_TMP/agent.log" | cut -d' ' -f3-)"

HSF_RESULT_EXTRA+=" real_epoch=$epoch malformed_ignored=$ignored"
hsf_finish
