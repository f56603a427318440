#!/bin/bash
# The master dies (SIGKILL). As soon as Sentinel names the new master, the
# write backend routes to it alone (within 1 s), and a write through HAProxy
# lands on the new master.
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
oldname=$(hs_name_of_port "${old##*:}") || hs_fail "the master $old is not one of the lab's servers"
hs_log "killing the master $oldname ($old)"
hs_kill9 "$oldname"

new=
hs_wait_until 15 'new=$(hs_sentinel_master "$HS_MASTER") && [ "$new" != "$old" ]' \
	"Sentinel to promote a new master after $old died"
hs_log "Sentinel's new master: $new"
hs_wait_until 1 '[ "$(hs_ready_servers "$HS_WRITE_BACKEND")" = "$new" ]' \
	"$HS_WRITE_BACKEND to have exactly $new ready within 1 s of Sentinel reporting it"

key=hasentinel:t02:$$
out=$(hs_cli "$HS_WRITE_PORT" SET "$key" "$new")
[ "$out" = OK ] || hs_fail "SET through the write port answered '$out'"
got=$(hs_cli "${new##*:}" GET "$key")
[ "$got" = "$new" ] || hs_fail "the key written through HAProxy is not on the new master $new (GET: '$got')"

hs_log "t02_master_kill: ok"
