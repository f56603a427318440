#!/bin/bash
# IPv6 end to end: Redis, the Sentinels, HAProxy's binds and the agent all on
# ::1 (HS_IP=::1 in lib.sh). The agent follows the Sentinels over IPv6, fills
# HAProxy's slots with IPv6 addresses, confirms the master with ROLE over
# IPv6; after the master is killed the write backend routes to the new one
# alone, and a write through HAProxy's IPv6 write port lands on it.
# Skipped (77) only when the machine has no ::1.
# Conditions are single-quoted and eval'd by hs_wait_until:
# shellcheck disable=SC2016,SC2034,SC2119
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
set -u -o pipefail
HS_IP=::1
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

if ! python3 -c 'import socket; s = socket.socket(socket.AF_INET6); s.bind(("::1", 0))' 2>/dev/null &&
	! ip -6 addr show dev lo 2>/dev/null | grep -q 'inet6 ::1/'; then
	hs_skip "no IPv6 loopback (::1) on this machine"
fi

hs_setup
hs_start_lab
hs_start_haproxy
hs_start_agent
grep -q '^sentinel \[::1\]:' "$HS_TMP/hasentinel.conf" || hs_fail "the agent's config does not name the Sentinels as [::1]:port"
hs_wait_applied 10

old=$(hs_sentinel_master "$HS_MASTER") || hs_fail "no sentinel answers GET-MASTER-ADDR-BY-NAME"
[[ $old == ::1:* ]] || hs_fail "Sentinel's master is $old, not on ::1"
hs_log "master $old; write backend: $(hs_ready_servers "$HS_WRITE_BACKEND" | paste -sd' ')"
hs_wait_until 5 'hs_agent_confirmed_master "$(hs_hostport "${old##*:}")"' \
	"the agent to confirm [::1]:${old##*:} with ROLE over IPv6"
# HAProxy listens on ::1 only.
ss -Hltn "( sport = :$HS_WRITE_PORT )" | grep -q '\[::1\]' || hs_fail "the write port is not bound to ::1"
[ "$(hs_role_via "$HS_WRITE_PORT")" = master ] || hs_fail "ROLE through the IPv6 write port is not master"

oldname=$(hs_name_of_port "${old##*:}") || hs_fail "the master $old is not one of the lab's servers"
hs_log "killing the master $oldname ($old)"
hs_kill9 "$oldname"

new=
hs_wait_until 15 'new=$(hs_sentinel_master "$HS_MASTER") && [ "$new" != "$old" ]' \
	"Sentinel to promote a new master after $old died"
hs_log "Sentinel's new master: $new"
hs_wait_until 1 '[ "$(hs_ready_servers "$HS_WRITE_BACKEND")" = "$new" ]' \
	"$HS_WRITE_BACKEND to have exactly $new ready within 1 s of Sentinel reporting it"
hs_wait_until 5 'hs_agent_confirmed_master "$(hs_hostport "${new##*:}")"' \
	"the agent to name and confirm the new master [::1]:${new##*:}"

key=hasentinel:t09:$$
out=$(hs_cli "$HS_WRITE_PORT" SET "$key" "$new")
[ "$out" = OK ] || hs_fail "SET through the IPv6 write port answered '$out'"
got=$(hs_cli "${new##*:}" GET "$key")
[ "$got" = "$new" ] || hs_fail "the key written through HAProxy is not on the new master $new (GET: '$got')"
hs_wait_applied 15

hs_log "t09_ipv6: ok"
