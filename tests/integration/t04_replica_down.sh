#!/bin/bash
# A replica dies: within down-after (1 s) + resync (1 s) + margin it is no
# longer ready in the read backend, the other replica and the master stay
# where they are. Restarted, it is ready again.
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

master=$(hs_sentinel_master "$HS_MASTER") || hs_fail "no sentinel answers GET-MASTER-ADDR-BY-NAME"
victim=r2
survivor=127.0.0.1:${HS_PORT[r1]}
both=$(printf '127.0.0.1:%s\n' "${HS_PORT[r1]}" "${HS_PORT[r2]}" | sort)

hs_log "killing replica $victim (${HS_PORT[$victim]})"
hs_kill9 "$victim"
hs_wait_until 6 '[ "$(hs_ready_servers "$HS_READ_BACKEND")" = "$survivor" ]' \
	"$HS_READ_BACKEND to have exactly the surviving replica $survivor ready"
[ "$(hs_ready_servers "$HS_WRITE_BACKEND")" = "$master" ] ||
	hs_fail "$HS_WRITE_BACKEND changed when a replica died: $(hs_ready_servers "$HS_WRITE_BACKEND" | paste -sd' ')"
role=$(hs_role_via "$HS_READ_PORT")
[ "$role" = slave ] || hs_fail "ROLE through the read port says '$role' with one replica down"

hs_log "restarting $victim"
hs_start_redis "$victim" replicaof "${master##*:}"
hs_wait_until 10 '[ "$(hs_ready_servers "$HS_READ_BACKEND")" = "$both" ]' \
	"$HS_READ_BACKEND to have both replicas ready again"
[ "$(hs_ready_servers "$HS_WRITE_BACKEND")" = "$master" ] ||
	hs_fail "$HS_WRITE_BACKEND changed when a replica came back"

hs_log "t04_replica_down: ok"
