#!/bin/bash
# SENTINEL FAILOVER with a client connected through the write port. After
# the switch, HAProxy has closed that client's connection itself (the old
# master's sessions are shut down, logged with termination state D or K),
# long before Sentinel would kill the demoted master's clients (at its next
# INFO, up to 10 s later), and the write backend has exactly the new master.
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
old=$(hs_sentinel_master "$HS_MASTER") || hs_fail "no sentinel answers GET-MASTER-ADDR-BY-NAME"

# A long-lived client on the write port, talking to the current master:
# INFO replication is one bulk reply ($LEN, then LEN bytes + CRLF), read whole.
exec 3<>"/dev/tcp/127.0.0.1/$HS_WRITE_PORT" || hs_fail "cannot connect to the write port"
printf 'INFO replication\r\n' >&3
IFS= read -r -t 2 line <&3 || hs_fail "no INFO reply on the held connection"
line=${line%$'\r'}
[[ $line =~ ^\$[0-9]+$ ]] || hs_fail "unexpected INFO reply on the held connection: $line"
IFS= read -r -N $((${line#\$} + 2)) -t 2 body <&3 || hs_fail "short INFO reply on the held connection"
[[ $body == *role:master* ]] || hs_fail "the held connection does not reach the master"

out=$(hs_cli "${HS_PORT[s0]}" SENTINEL FAILOVER "$HS_MASTER")
[ "$out" = OK ] || hs_fail "SENTINEL FAILOVER answered '$out'"

new=
hs_wait_until 15 'new=$(hs_sentinel_master "$HS_MASTER") && [ "$new" != "$old" ]' \
	"Sentinel to report a new master after SENTINEL FAILOVER"
hs_log "Sentinel's new master: $new"
hs_wait_until 1 '[ "$(hs_ready_servers "$HS_WRITE_BACKEND")" = "$new" ]' \
	"$HS_WRITE_BACKEND to have exactly $new ready"

# The held connection must be at EOF now (read fails with status 1; a
# status above 128 is the timeout: still open).
if IFS= read -r -t 2 line <&3; then
	hs_fail "the held connection is still open and got '$line'"
else
	rc=$?
	((rc <= 128)) || hs_fail "the held connection is still open 2 s after the switch"
	[ -z "${line:-}" ] || hs_fail "the held connection got '$line' before closing"
fi
exec 3<&-

# HAProxy logs the session when it ends; D = killed because its server went
# into maintenance (on-marked-down shutdown-sessions), K = `shutdown sessions`.
hs_wait_until 2 'grep -qE " redis_write $HS_WRITE_BACKEND/[^ ]+ [^ ]+ [^ ]+ [DK]" "$HS_TMP/haproxy.log"' \
	"haproxy.log to show the held session closed by HAProxy (termination state D or K)"
[ "$(hs_ready_servers "$HS_WRITE_BACKEND")" = "$new" ] ||
	hs_fail "$HS_WRITE_BACKEND changed after the switch: $(hs_ready_servers "$HS_WRITE_BACKEND" | paste -sd' ')"

hs_log "t03_manual_failover: ok"
