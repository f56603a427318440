#!/bin/bash
# f20: two agents on one HAProxy at once (same Sentinels, same admin
# socket, their own status sockets), then the master is SIGKILLed. Both
# drive the same slots: the write backend must switch to the new master,
# never have two ready slots, never take the dead master back (polled every
# 20 ms), and stay put once switched (no tug of war: over 5 s of polls the
# values are the masters Sentinel announced, in order; one unless Sentinel
# fails the fresh master over again). Both agents stay alive and name the
# same master.
# converge_ms: from the kill to the write backend on the new master.
# DETAIL: write_values (distinct values after the switch), write_outage_ms.
# Conditions are single-quoted and eval'd by hs_wait_until:
# shellcheck disable=SC2016,SC2034,SC2119
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
set -u -o pipefail
. "$(dirname "$0")/faultlib.sh"

hsf_setup f20_two_agents
hs_start_lab
hs_start_haproxy
hs_start_agent
# The second agent: the same configuration but its own status socket.
sed "s|^status-socket .*|status-socket $HS_TMP/agent2.sock|" "$HS_TMP/hasentinel.conf" >"$HS_TMP/agent2.conf"
_hs_spawn "$HS_TMP/agent2.log" "$HASENTINEL" -c "$HS_TMP/agent2.conf"
hs_register agent2 "$HS_BG_PID"
agent2_status() {
	timeout 3 "$HASENTINELCTL" -s "$HS_TMP/agent2.sock" status --json
}
_hs_wait_started agent2 5 'agent2_status'
hs_wait_applied 5
hsf_start_events
hsf_start_writer

old=$(hs_sentinel_master "$HS_MASTER") || hs_fail "no sentinel answers GET-MASTER-ADDR-BY-NAME"
oldname=$(hs_name_of_port "${old##*:}") || hs_fail "the master $old is not one of the lab's servers"
hsf_start_sampler lab 0.02 "$HS_WRITE_BACKEND" "$HS_READ_BACKEND"
hs_wait_until 5 '[ "$(grep -c "^A " "$HS_TMP/writer.txt")" -ge 200 ]' "200 acknowledged writes before the kill"
hs_log "SIGKILL to the master $oldname ($old), two agents running"
hsf_mark fault
hs_kill9 "$oldname"
hsf_wait_write_master "$HSF_FAILOVER_WAIT" "$old"
hsf_converged_ms fault
new=$HSF_NEW
hsf_mark converged
sleep 5
hs_alive "${HS_PID[agent]}" || hs_fail "the first agent died"
hs_alive "${HS_PID[agent2]}" || hs_fail "the second agent died"
hs_start_redis "$oldname" replicaof "${new##*:}"
hs_wait_applied 30
hsf_stop_sampler lab
for s in hs_agent_status agent2_status; do
	$s | jq -e --arg n "$HS_MASTER" --arg hp "$(hs_sentinel_master "$HS_MASTER")" \
		'any(.masters[]?; .name == $n and .master == $hp)' >/dev/null || hs_fail "$s does not name the current master"
done

multi=$(hsf_sampler_multi lab "$HS_WRITE_BACKEND")
[ "$multi" = 0 ] || hs_fail "$multi polls saw more than one ready server in $HS_WRITE_BACKEND"
back=$(hsf_sampler_has lab "$HS_WRITE_BACKEND" "$old" "${HSF_MARK[converged]}")
hsf_promotions | awk -v p="${old##*:}" '$2 == p { f = 1 } END { exit !f }' && back=0   # promoted again
[ "$back" = 0 ] || hs_fail "the dead master $old was ready in $HS_WRITE_BACKEND again at $back polls after the switch"
# The write backend's values after the switch, empty polls left out and
# repeats collapsed, must be the masters Sentinel announced from the new
# one on, in order: the new master, and only if Sentinel failed it over
# again (seen on a loaded machine: +sdown of the fresh master 1 s after
# its promotion) the next one. A tug of war between the agents would show
# as a value coming back.
after=$(awk -v t="${HSF_MARK[converged]}" -v be="$HS_WRITE_BACKEND=" '$1 >= t { for (i = 2; i <= NF; i++) if (index($i, be) == 1) print substr($i, length(be) + 1) }' "$HS_TMP/lab.samples" |
	grep -v -e '^?$' -e '^$' | uniq | paste -sd' ')
want=$(hsf_promotions | awk -v p="${new##*:}" '$2 == p { on = 1 } on { print $2 }' | uniq | paste -sd' ')
got=$(tr ' ' '\n' <<<"$after" | sed 's/.*://' | paste -sd' ')
[ -n "$want" ] || hs_fail "no announcement of $new in the Sentinel events"
[ "$got" = "$want" ] || hs_fail "$HS_WRITE_BACKEND after the switch: $after (expected the announced masters' ports in order: $want)"
flips=$(grep -chE 'state differs|correct' "$HS_TMP/agent.log" "$HS_TMP/agent2.log" | paste -sd' ')
HSF_RESULT_EXTRA="write_values=$(wc -w <<<"$after") corrections=${flips// /,} write_outage_ms=$(hsf_outage_ms "${HSF_MARK[fault]}") polls=$(hsf_sampler_count lab)"
hsf_finish
