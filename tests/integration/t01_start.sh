#!/bin/bash
# Start-up: the agent fills the empty slots from Sentinel. Within 5 s the
# write backend has exactly Sentinel's master ready, the read backend exactly
# the two replicas; traffic goes where HAProxy's state says; the status
# JSON names the master. A SIGHUP resync reports when it is done and
# changes nothing.
# Conditions are single-quoted and eval'd by hs_wait_until:
# shellcheck disable=SC2016,SC2034,SC2119
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
set -u -o pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

hs_setup
hs_start_lab
hs_start_haproxy
hs_start_agent

master=$(hs_sentinel_master "$HS_MASTER") || hs_fail "no sentinel answers GET-MASTER-ADDR-BY-NAME"
[ "$master" = "127.0.0.1:${HS_PORT[r0]}" ] || hs_fail "Sentinel's master is $master, expected r0"
replicas=$(printf '127.0.0.1:%s\n' "${HS_PORT[r1]}" "${HS_PORT[r2]}" | sort)

hs_wait_until 5 '[ "$(hs_ready_servers "$HS_WRITE_BACKEND")" = "$master" ]' \
	"$HS_WRITE_BACKEND to have exactly $master ready"
hs_wait_until 5 '[ "$(hs_ready_servers "$HS_READ_BACKEND")" = "$replicas" ]' \
	"$HS_READ_BACKEND to have exactly the replicas $(paste -sd' ' <<<"$replicas") ready"

role=$(hs_role_via "$HS_WRITE_PORT")
[ "$role" = master ] || hs_fail "ROLE through the write port says '$role', expected master"

# 20 new connections to the read port: each lands on a replica, and round
# robin uses both. ROLE and CONFIG GET port go over the same connection
# (redis-cli reading commands from stdin).
declare -A seen=()
for ((i = 1; i <= 20; i++)); do
	out=$(printf 'ROLE\nCONFIG GET port\n' | hs_cli "$HS_READ_PORT")
	role=$(head -n 1 <<<"$out")
	port=$(tail -n 1 <<<"$out")
	[ "$role" = slave ] || hs_fail "read connection $i: ROLE says '$role', expected slave"
	[[ $port =~ ^[0-9]+$ ]] || hs_fail "read connection $i: CONFIG GET port got '$port'"
	seen[$port]=$((${seen[$port]:-0} + 1))
done
for p in "${HS_PORT[r1]}" "${HS_PORT[r2]}"; do
	[ "${seen[$p]:-0}" -gt 0 ] || hs_fail "replica on $p got none of 20 read connections"
done
[ "${#seen[@]}" -eq 2 ] || hs_fail "read connections reached ports ${!seen[*]}, expected only the replicas"

hs_wait_until 5 'hs_agent_names_master "$master"' "hasentinelctl status --json to name the master $master"

# A forced resync (SIGHUP) with nothing to change: the agent says when every
# Sentinel has answered and HAProxy has been read whole, and HAProxy is as
# before.
hs_log "SIGHUP"
kill -HUP "$(hs_pid agent)"
hs_wait_until 10 'grep -q "SIGHUP: resync done in [0-9]* ms" "$HS_TMP/agent.log"' "the agent to report its SIGHUP resync done"
hs_log "$(grep -o "SIGHUP: resync done in [0-9]* ms" "$HS_TMP/agent.log" | tail -n 1)"
hs_wait_applied 5
grep -q "haproxy: set server" <(sed -n '/SIGHUP: resync with/,$p' "$HS_TMP/agent.log") &&
	hs_fail "the SIGHUP resync sent commands to a consistent HAProxy"

hs_log "t01_start: ok"
