#!/bin/bash
# Password rotation without a restart. The agent's ACL user (HS_ACL=1) gets a
# second password on every server; the agent's password file is replaced;
# the old password is removed and the agent's connections are killed.
#   - Before SIGHUP the agent still sends the old password: AUTH is refused
#     (logged, never the password) and its Sentinel links stay down.
#   - After SIGHUP (the files are read again) every link comes back with the
#     new password, and a failover is followed: ROLE on the new master, a
#     new connection, authenticates with the new Redis password.
# The agent keeps its pid throughout.
# Conditions are single-quoted and eval'd by hs_wait_until:
# shellcheck disable=SC2016,SC2034,SC2119
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
set -u -o pipefail
HS_ACL=1
HS_REDIS_PASSWORD="admin-$$-$RANDOM$RANDOM"
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

hs_setup
hs_start_lab
hs_start_haproxy
hs_start_agent
pid=$(hs_pid agent)
hs_wait_applied 10
master=$(hs_sentinel_master) || hs_fail "no sentinel answers GET-MASTER-ADDR-BY-NAME"
hs_wait_until 5 'hs_agent_confirmed_master "$(hs_hostport "${master##*:}")"' "ROLE to confirm $master"

links_up() {
	hs_agent_status | jq -e '[.sentinels[] | select(.cmd_link == "up" and .pubsub_link == "up")] | length == '"${#HS_SENTINEL_NAMES[@]}" >/dev/null
}
links_down() {
	hs_agent_status | jq -e '[.sentinels[] | select(.cmd_link == "up" or .pubsub_link == "up")] | length == 0' >/dev/null
}
on_all() {
	local n
	for n in "${HS_SENTINEL_NAMES[@]}" "${HS_REDIS_NAMES[@]}"; do
		[ -n "${HS_PID[$n]:-}" ] || continue
		hs_cli "${HS_PORT[$n]}" "$@" >/dev/null || hs_fail "$n: $* failed"
	done
}

old=$HS_AGENT_PASSWORD nm=
new=agent-new-$RANDOM$RANDOM$RANDOM
hs_log "adding the new password on every server, replacing the agent's password file"
on_all ACL SETUSER "$HS_AGENT_USER" ">$new"
(umask 077 && printf '%s\n' "$new" >"$HS_TMP/agent.pw.tmp") && mv "$HS_TMP/agent.pw.tmp" "$HS_TMP/agent.pw"
hs_log "removing the old password, killing the agent's connections"
on_all ACL SETUSER "$HS_AGENT_USER" "<$old"
on_all CLIENT KILL USER "$HS_AGENT_USER"
hs_wait_until 10 'grep -q "AUTH refused" "$HS_TMP/agent.log"' "the agent to be refused with the old password"
hs_wait_until 5 links_down "every Sentinel link of the agent to be down (old password)"

hs_log "SIGHUP"
kill -HUP "$pid"
hs_wait_until 5 'grep -q "SIGHUP: 2 password file(s) read again" "$HS_TMP/agent.log"' "the agent to read its password files again"
hs_wait_until 10 links_up "every Sentinel link to come back with the new password"

hs_log "killing the master ($master)"
hs_kill9 "$(hs_name_of_port "${master##*:}")"
hs_wait_until 20 'nm=$(hs_sentinel_master) && [ "$nm" != "$master" ]' "Sentinel to promote a replica"
hs_wait_until 5 '[ "$(hs_ready_servers "$HS_WRITE_BACKEND")" = "$nm" ]' "the write backend to follow to $nm"
hs_wait_until 5 'hs_agent_confirmed_master "$(hs_hostport "${nm##*:}")"' "ROLE (new password) to confirm $nm"

[ "$(hs_pid agent)" = "$pid" ] || hs_fail "the agent was restarted"
hs_alive "$pid" || hs_fail "the agent exited"
for pw in "$old" "$new"; do
	grep -aqF -- "$pw" "$HS_TMP/agent.log" && hs_fail "a password is in the agent's log"
done
hs_log "t11_password_rotation: ok"
