#!/bin/bash
# Least-privilege ACL users (HS_ACL=1 in lib.sh): every Sentinel and every
# Redis server knows the agent only as a user with exactly the rules that
# README.md and hasentinel.conf(5) document (HS_ACL_SENTINEL_RULES,
# HS_ACL_REDIS_RULES), from an ACL file (Redis) and sentinel.conf (Sentinel).
# With those users the agent routes, confirms the master with ROLE, follows
# a failover (a write through HAProxy lands on the new master), and never
# runs a command the ACL denies (ACL LOG on every server stays empty for its
# user). The documented rules are the ones tested.
# Conditions are single-quoted and eval'd by hs_wait_until:
# shellcheck disable=SC2016,SC2034,SC2119
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
set -u -o pipefail
HS_ACL=1
HS_REDIS_PASSWORD="admin-$$-$RANDOM$RANDOM"
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

# The docs give the same rules as this test (roff escapes removed).
for doc in README.md doc/hasentinel.conf.5; do
	text=$(sed -e 's/\\-/-/g' -e 's/\\(dq/"/g' "$HS_SRCDIR/$doc")
	for rules in "$HS_ACL_SENTINEL_RULES" "$HS_ACL_REDIS_RULES"; do
		grep -qF -- "user hasentinel on >PASSWORD $rules" <<<"$text" ||
			hs_fail "$doc does not give the ACL 'user hasentinel on >PASSWORD $rules'"
	done
done

# Short rounds, so the agent sends every query it has (SENTINEL SENTINELS
# only every 10th round) several times within the test.
HS_RESYNC_MS=100
hs_setup
hs_start_lab
hs_start_haproxy
hs_start_agent
grep -q "^sentinel-user $HS_AGENT_USER\$" "$HS_TMP/hasentinel.conf" || hs_fail "the agent does not use its ACL user"

# The servers really restrict the agent's user (a denied command says so).
s0=${HS_PORT[s0]} r0=${HS_PORT[r0]}
as_agent() { REDISCLI_AUTH=$HS_AGENT_PASSWORD timeout 3 redis-cli --user "$HS_AGENT_USER" -h "$HS_IP" -p "$@" 2>&1; }
[[ $(as_agent "$s0" SENTINEL FAILOVER "$HS_MASTER") == *NOPERM* ]] || hs_fail "the Sentinel user may run SENTINEL FAILOVER"
[[ $(as_agent "$r0" GET x) == *NOPERM* ]] || hs_fail "the Redis user may run GET"
[ "$(as_agent "$r0" ROLE | head -n 1)" = master ] || hs_fail "the Redis user may not run ROLE"

hs_wait_applied 10
master=$(hs_sentinel_master) || hs_fail "no sentinel answers GET-MASTER-ADDR-BY-NAME"
hs_wait_until 5 'hs_agent_confirmed_master "$(hs_hostport "${master##*:}")"' "ROLE (as $HS_AGENT_USER) to confirm $master"
# SENTINEL SENTINELS (every 10th round) answered: the agent knows the peers.
hs_wait_until 5 '[ "$(hs_agent_status | jq --arg m "$HS_MASTER" "[.masters[] | select(.name == \$m) | .known_sentinels[]] | length")" -ge 2 ]' \
	"the agent to learn the other Sentinels (SENTINEL SENTINELS as $HS_AGENT_USER)"
# Its links are authenticated as its user: a command link and a Pub/Sub link
# on every Sentinel.
for n in "${HS_SENTINEL_NAMES[@]}"; do
	c=$(hs_cli "${HS_PORT[$n]}" CLIENT LIST | grep -c " user=$HS_AGENT_USER ") || true
	[ "$c" -ge 2 ] || hs_fail "sentinel $n: $c connection(s) of user $HS_AGENT_USER, expected its 2 links"
done

oldname=$(hs_name_of_port "${master##*:}") || hs_fail "the master $master is not one of the lab's servers"
hs_log "killing the master $oldname ($master)"
hs_kill9 "$oldname"
new=
hs_wait_until 20 'new=$(hs_sentinel_master) && [ "$new" != "$master" ]' "Sentinel to promote a replica"
hs_log "Sentinel's new master: $new"
hs_wait_until 5 '[ "$(hs_ready_servers "$HS_WRITE_BACKEND")" = "$new" ]' "the write backend to follow to $new"
hs_wait_until 5 'hs_agent_confirmed_master "$(hs_hostport "${new##*:}")"' "ROLE (as $HS_AGENT_USER) to confirm $new"
key=hasentinel:t10:$$
out=$(hs_cli "$HS_WRITE_PORT" SET "$key" "$new")
[ "$out" = OK ] || hs_fail "SET through the write port answered '$out'"
[ "$(hs_cli "${new##*:}" GET "$key")" = "$new" ] || hs_fail "the write did not land on the new master $new"
hs_wait_applied 15
# The event links (PSUBSCRIBE * as the agent's user) delivered every
# Sentinel's +sdown about the killed master.
hs_wait_until 5 '[ "$("$HASENTINELCTL" -s "$HS_STATUS_SOCKET" --json events 512 |
	jq "[.events[] | select(.source == \"sentinel\" and .type == \"+sdown\") | .sentinel] | unique | length")" = ${#HS_SENTINEL_NAMES[@]} ]' \
	"a +sdown event from each Sentinel on the agent's Pub/Sub links"
# Nothing the agent did was denied: no ACL LOG entry for its user anywhere
# (the two NOPERM probes above were made as that user too: reset first).
hs_log "checking ACL LOG"
denied='' probe=0
for n in "${HS_SENTINEL_NAMES[@]}" "${HS_REDIS_NAMES[@]}"; do
	[ -n "${HS_PID[$n]:-}" ] || continue
	log=$(hs_cli "${HS_PORT[$n]}" ACL LOG 100)
	[ "${HS_DEBUG_ACL:-0}" = 1 ] && printf '%s ACL LOG:\n%s\n' "$n" "$log" >&2
	# Entries are flat field/value lists; the probes are the only expected ones.
	while read -r cmd; do
		case "$n:$cmd" in
		"s0:sentinel|failover") probe=1 ;;
		"r0:get") ;;
		*) denied+="$n:$cmd " ;;
		esac
	done < <(awk 'p == "object" { print } { p = $0 }' <<<"$log")
done
[ -z "$denied" ] || hs_fail "the ACL denied the agent: $denied"
[ "$probe" = 1 ] || hs_fail "ACL LOG on s0 does not show the denied SENTINEL FAILOVER probe (cannot read ACL LOG?)"
grep -q NOPERM "$HS_TMP/agent.log" && hs_fail "the agent's log shows NOPERM"

hs_log "t10_acl_users: ok"
