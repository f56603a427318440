#!/bin/bash
# f07: HAProxy is reloaded, then restarted hard, with a writer on the write
# port.
#  - reload (hs_reload_haproxy: state file saved, SIGUSR2 to the master-worker
#    master): the new worker starts with the slots from the state file, so
#    the write backend is the master at the first poll; the agent reapplies
#    within the resync interval if anything differs;
#  - hard restart (SIGTERM to the master by pid, state file removed, start
#    again): every slot starts in maintenance; the agent sees the restart
#    and reapplies within resync interval + 1 s.
# converge_ms: from the restarted HAProxy binding its admin socket (the
# socket file's mtime) to the first poll of a sampler running throughout
# (every 20 ms) at which both backends are applied again. DETAIL: the
# clients' write outages (longest gap between acknowledged writes) around
# the reload and around the restart.
# Conditions are single-quoted and eval'd by hs_wait_until:
# shellcheck disable=SC2016,SC2034,SC2119
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
set -u -o pipefail
. "$(dirname "$0")/faultlib.sh"

hsf_setup f07_haproxy_reload
hsf_start_lab_writing

master=$(hs_sentinel_master "$HS_MASTER") || hs_fail "no sentinel answers GET-MASTER-ADDR-BY-NAME"
replicas=$(hs_replica_addrs | paste -sd,)
hsf_start_sampler lab 0.02 "$HS_WRITE_BACKEND" "$HS_READ_BACKEND"
reapply_limit=$((HS_RESYNC_MS + 1000))

# ---- reload
hs_log "reloading haproxy (USR2 to ${HS_PID[haproxy]})"
hsf_mark reload
hs_reload_haproxy
w=$(hs_ready_servers "$HS_WRITE_BACKEND")
[ "$w" = "$master" ] || hs_fail "right after the reload $HS_WRITE_BACKEND is '${w//$'\n'/ }': the state file was not applied"
hsf_mark reloaded
hs_wait_until $((reapply_limit / 1000)) _hs_applied "both backends applied within $reapply_limit ms of the reload"
# Writes keep being acknowledged.
hs_wait_until 5 '(($(awk -v t="${HSF_MARK[reloaded]}" "\$1 == \"A\" && \$2 > t" "$HS_TMP/writer.txt" | wc -l) >= 100))' \
	"100 acknowledged writes after the reload"
reload_outage=$(hsf_outage_ms "${HSF_MARK[reload]}" "$(hs_now_ms)")
hs_log "reload: longest gap between acknowledged writes $reload_outage ms"

# ---- hard restart
hs_log "stopping haproxy (pid ${HS_PID[haproxy]}) and starting it again without state file"
hsf_mark restart
hs_stop "${HS_PID[haproxy]}"
rm -f "$HS_STATE_FILE"
hs_start_haproxy
up=$(hsf_socket_birth_ms)
hsf_wait_sets 5 "$master" "$replicas"
# The sampler (every 20 ms, reconnecting as soon as the new socket exists)
# saw it first.
applied=$(hsf_sampler_first lab "$up" "$HS_WRITE_BACKEND=$master" "$HS_READ_BACKEND=$replicas")
[ -n "$applied" ] || applied=$HSF_NOW
HSF_CONVERGE_MS=$((applied - up))
hs_log "reapplied $HSF_CONVERGE_MS ms after the new HAProxy bound its admin socket"
((HSF_CONVERGE_MS <= reapply_limit)) || hs_fail "reapplied $HSF_CONVERGE_MS ms after the restart, limit $reapply_limit"
# The agent knew it had to: it saw the new process.
hs_wait_until 2 'awk -v t="$(date -u -d @$((HSF_MARK[restart] / 1000)) +%FT%T)" "\$1 >= t" "$HS_TMP/agent.log" |
	grep -qE "reload or restart seen|state differs from the desired state"' \
	"agent.log to show the restart seen and the state corrected"
hs_wait_until 5 '(($(awk -v t="$up" "\$1 == \"A\" && \$2 > t" "$HS_TMP/writer.txt" | wc -l) >= 100))' \
	"100 acknowledged writes after the restart"
restart_outage=$(hsf_outage_ms "${HSF_MARK[restart]}" "$(hs_now_ms)")
hs_log "restart: longest gap between acknowledged writes $restart_outage ms"
hsf_stop_sampler lab

# Between the polls at which HAProxy answered, the write backend was the
# master or empty (the restarted process before the agent), never another.
wvals=$(hsf_sampler_values lab "$HS_WRITE_BACKEND" | grep -vx -e "$master" -e '' -e '?' | paste -sd' ')
[ -z "$wvals" ] || hs_fail "$HS_WRITE_BACKEND routed elsewhere: $wvals"
reloads=$(hs_agent_status | jq -r '.haproxy.reloads_seen')
HSF_RESULT_EXTRA="reload_outage_ms=$reload_outage restart_outage_ms=$restart_outage reloads_seen=$reloads polls=$(hsf_sampler_count lab)"
hsf_finish
