#!/bin/bash
# HAProxy restarts without a state file: every slot is back in maintenance,
# and the agent puts the state back within one resync interval + margin.
#
# The agent is paused (SIGSTOP) while HAProxy restarts, so that "every slot
# in maintenance at start" can be asserted without racing the agent; it is
# resumed (SIGCONT) before the 3 s deadline starts.
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
hs_wait_applied 5

hs_log "stopping haproxy (pid ${HS_PID[haproxy]})"
kill -STOP "${HS_PID[agent]}"
hs_stop "${HS_PID[haproxy]}"
rm -f "$HS_STATE_FILE"
hs_start_haproxy    # same ports, same admin socket
for be in "$HS_WRITE_BACKEND" "$HS_READ_BACKEND"; do
	ready=$(hs_ready_servers "$be") || hs_fail "cannot read $be's state"
	[ -z "$ready" ] || hs_fail "$be has ready servers right after a restart without state: $ready"
done

kill -CONT "${HS_PID[agent]}"
hs_wait_applied 3

hs_log "t05_haproxy_restart: ok"
