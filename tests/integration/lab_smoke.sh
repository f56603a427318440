#!/bin/bash
# The lab without the agent: 3 redis + 3 sentinels + haproxy. Checks the
# harness itself and haproxy.cfg: Sentinel agrees on the master, HAProxy
# starts with every slot in maintenance (nothing routed before the agent
# speaks), and the stats page answers.
# Re-run under bash when started as `sh lab_smoke.sh` (automake's default).
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
set -u -o pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

hs_setup
hs_start_lab
hs_start_haproxy

master=$(hs_sentinel_master "$HS_MASTER") || hs_fail "no sentinel answers GET-MASTER-ADDR-BY-NAME"
[ "$master" = "127.0.0.1:${HS_PORT[r0]}" ] ||
	hs_fail "Sentinel's master is $master, expected r0 (127.0.0.1:${HS_PORT[r0]})"
[ "$(hs_redis_port_of_role master)" = "${HS_PORT[r0]}" ] ||
	hs_fail "expected r0 alone to have role master, got: $(hs_redis_port_of_role master | paste -sd' ')"

for be in "$HS_WRITE_BACKEND" "$HS_READ_BACKEND"; do
	state=$(hs_hap show servers state "$be") || hs_fail "admin socket does not answer"
	slots=$(awk -v be="$be" '$2 == be && !($5 == "-" && $19 == 0)' <<<"$state" | wc -l)
	[ "$slots" -eq 8 ] || hs_fail "$be has $slots slots, expected 8"
	ready=$(hs_ready_servers "$be") || hs_fail "cannot read $be's state"
	[ -z "$ready" ] || hs_fail "$be has ready servers at start: $ready"
done

# Nothing is routed: a client on the write port gets no Redis answer.
role=$(hs_role_via "$HS_WRITE_PORT")
[ -z "$role" ] || hs_fail "the write port answered ROLE ($role) with every slot in maintenance"

# The stats page.
exec 3<>"/dev/tcp/127.0.0.1/$HS_STATS_PORT" || hs_fail "stats port $HS_STATS_PORT refuses connections"
printf 'GET / HTTP/1.0\r\nHost: localhost\r\n\r\n' >&3
IFS= read -r -t 5 status <&3 || hs_fail "no answer from the stats page"
exec 3<&-
[[ $status == "HTTP/1."?" 200"* ]] || hs_fail "stats page answered: $status"

hs_log "lab_smoke: ok"
