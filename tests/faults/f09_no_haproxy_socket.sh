#!/bin/bash
# f09: the agent starts before HAProxy (its admin socket does not exist
# yet). It keeps running, logs the HAProxy link down and reports it "down"
# in its status; once HAProxy starts, the state is applied within resync
# interval + 1 s. A writer runs from before HAProxy starts.
# converge_ms: from HAProxy binding its admin socket (the socket file's
# mtime) to the first poll (every 20 ms, from a sampler started before
# HAProxy) at which both backends are applied. DETAIL: first_ack_ms, from the same moment to the writer's first
# acknowledged write.
# Conditions are single-quoted and eval'd by hs_wait_until:
# shellcheck disable=SC2016,SC2034,SC2119
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
set -u -o pipefail
. "$(dirname "$0")/faultlib.sh"

hsf_setup f09_no_haproxy_socket
hs_start_lab
hsf_start_events
# HAProxy's paths and ports, fixed now: the agent and the writer need them
# before HAProxy exists (hs_start_haproxy keeps preset values).
HS_ADMIN_SOCKET=$HS_TMP/haproxy.sock
HS_WRITE_PORT=$(hs_free_port)
[ ! -e "$HS_ADMIN_SOCKET" ] || hs_fail "$HS_ADMIN_SOCKET exists before HAProxy started"
hs_start_agent

hap_link() {
	hs_agent_status | jq -r '.haproxy.link'
}
hs_wait_until 5 '[ "$(hap_link)" = down ]' 'the status to show the HAProxy link "down"'
hs_wait_until 5 'grep -q "haproxy: link down" "$HS_TMP/agent.log"' "agent.log to say the HAProxy link is down"
hs_log "agent without HAProxy: $(grep -m1 'haproxy: link down' "$HS_TMP/agent.log" | cut -d' ' -f3-)"
master=$(hs_sentinel_master "$HS_MASTER") || hs_fail "no sentinel answers GET-MASTER-ADDR-BY-NAME"
hs_wait_until 5 'hs_agent_names_master "$master"' "the agent to know the master $master from Sentinel"

# The writer, before HAProxy: connection failures only.
HSF_M0=${master##*:}
_hs_spawn "$HS_TMP/writer.out" "$HSF_WRITER" 127.0.0.1 "$HS_WRITE_PORT" "hsf:$HSF_NAME:$$" "$HS_TMP/writer.txt" 900 "$HSF_WRITER_INTERVAL_MS"
hs_register writer "$HS_BG_PID"
hs_wait_until 5 'grep -q "^C " "$HS_TMP/writer.txt"' "the writer's first connection attempt"
# Still alive and still "down" a couple of resync intervals later.
t0=$(hs_now_ms)
hs_wait_until 5 '! hs_alive "${HS_PID[agent]}" || (($(hs_now_ms) - t0 >= 2 * HS_RESYNC_MS))' "two resync intervals"
hs_alive "${HS_PID[agent]}" || hs_fail "the agent exited without HAProxy"
[ "$(hap_link)" = down ] || hs_fail "HAProxy link '$(hap_link)' without HAProxy, expected down"

replicas=$(hs_replica_addrs | paste -sd,)
# Polled every 20 ms from before HAProxy starts (polls fail until it is up).
hsf_start_sampler lab 0.02 "$HS_WRITE_BACKEND" "$HS_READ_BACKEND"
hs_log "starting haproxy"
hs_start_haproxy
up=$(hsf_socket_birth_ms)
limit=$((HS_RESYNC_MS + 1000))
hsf_wait_sets 5 "$master" "$replicas"
hsf_stop_sampler lab
applied=$(hsf_sampler_first lab "$up" "$HS_WRITE_BACKEND=$master" "$HS_READ_BACKEND=$replicas")
[ -n "$applied" ] || hs_fail "no poll saw both backends applied"
HSF_CONVERGE_MS=$((applied - up))
hs_log "applied $HSF_CONVERGE_MS ms after HAProxy bound its admin socket"
((HSF_CONVERGE_MS <= limit)) || hs_fail "applied $HSF_CONVERGE_MS ms after HAProxy started, limit $limit"
hs_wait_until 2 '[ "$(hap_link)" = up ]' 'the status to show the HAProxy link "up"'
hs_wait_until 5 'grep -q "^A " "$HS_TMP/writer.txt"' "the writer's first acknowledged write"
first_ack=$(awk '$1 == "A" { print $2; exit }' "$HS_TMP/writer.txt")
hs_wait_until 5 '(($(grep -c "^A " "$HS_TMP/writer.txt") >= 100))' "100 acknowledged writes"
HSF_RESULT_EXTRA="first_ack_ms=$((first_ack - up))"
hsf_finish
