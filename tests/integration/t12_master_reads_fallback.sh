#!/bin/bash
# master-reads fallback: the master serves the read backend only while no
# replica is ready. Both replicas die: the master becomes ready in the read
# backend (reads keep working). One replica back: the master leaves the read
# backend again (a plain maint) and the write backend never moved.
# Conditions are single-quoted and eval'd by hs_wait_until:
# shellcheck disable=SC2016,SC2034,SC2119
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
set -u -o pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

hs_setup
hs_start_lab
hs_start_haproxy
hs_start_agent "master-reads fallback"
hs_wait_applied 5

master=$(hs_sentinel_master "$HS_MASTER") || hs_fail "no sentinel answers GET-MASTER-ADDR-BY-NAME"
both=$(printf '127.0.0.1:%s\n' "${HS_PORT[r1]}" "${HS_PORT[r2]}" | sort)
[ "$(hs_ready_servers "$HS_READ_BACKEND")" = "$both" ] ||
	hs_fail "with replicas ready the master must stay out of $HS_READ_BACKEND: $(hs_ready_servers "$HS_READ_BACKEND" | paste -sd' ')"

hs_log "killing both replicas"
hs_kill9 r1
hs_kill9 r2
t0=$(hs_now_ms)
hs_wait_until 8 '[ "$(hs_ready_servers "$HS_READ_BACKEND")" = "$master" ]' \
	"$HS_READ_BACKEND to have exactly the master $master ready"
hs_log "master in $HS_READ_BACKEND $(( $(hs_now_ms) - t0 )) ms after the kill"
[ "$(hs_ready_servers "$HS_WRITE_BACKEND")" = "$master" ] ||
	hs_fail "$HS_WRITE_BACKEND changed when the replicas died"
hs_wait_until 5 '[ "$(hs_role_via "$HS_READ_PORT")" = master ]' "ROLE through the read port to say master"

hs_log "restarting r1"
t0=$(hs_now_ms)
hs_start_redis r1 replicaof "${master##*:}"
hs_wait_until 15 '[ "$(hs_ready_servers "$HS_READ_BACKEND")" = "127.0.0.1:${HS_PORT[r1]}" ]' \
	"$HS_READ_BACKEND to have exactly the replica r1 ready, the master out"
hs_log "master out of $HS_READ_BACKEND $(( $(hs_now_ms) - t0 )) ms after the restart"
[ "$(hs_ready_servers "$HS_WRITE_BACKEND")" = "$master" ] ||
	hs_fail "$HS_WRITE_BACKEND changed when a replica came back"
hs_wait_until 5 '[ "$(hs_role_via "$HS_READ_PORT")" = slave ]' "ROLE through the read port to say slave"

hs_log "t12_master_reads_fallback: ok"
