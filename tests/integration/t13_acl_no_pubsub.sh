#!/bin/bash
# Without Pub/Sub: the restricted Sentinel ACL of the Redis docs has no
# +psubscribe. The agent's PSUBSCRIBE is refused (NOPERM); it does not
# reconnect in a loop, says so once in its log and in status (events_mode
# "polling", hasentinelctl's sentinels view), and still follows a master
# kill by its rounds (every resync interval): the write backend switches and
# a write through HAProxy lands on the new master. Granted the right later,
# a Sentinel is subscribed again after its command link came back.
# Conditions are single-quoted and eval'd by hs_wait_until:
# shellcheck disable=SC2016,SC2034,SC2119
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
set -u -o pipefail
HS_ACL=1
HS_REDIS_PASSWORD="admin-$$-$RANDOM$RANDOM"
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
# The documented rules without Pub/Sub. HS_T13_EVENTS=1 keeps them whole
# and only measures the switch (the same failover with events, to compare).
if [ "${HS_T13_EVENTS:-0}" != 1 ]; then
	HS_ACL_SENTINEL_RULES=${HS_ACL_SENTINEL_RULES% +psubscribe}
	[[ $HS_ACL_SENTINEL_RULES != *psubscribe* ]] || hs_fail "could not drop +psubscribe from the rules"
fi

hs_setup
hs_start_lab
hs_start_haproxy
hs_start_agent
hs_wait_applied 10

nsent=${#HS_SENTINEL_NAMES[@]}
polling() {
	[ "${HS_T13_EVENTS:-0}" = 1 ] ||
	[ "$(hs_agent_status | jq '[.sentinels[] | select(.events_mode == "polling" and (.subscribed | not))] | length')" = "$nsent" ]
}
if [ "${HS_T13_EVENTS:-0}" != 1 ]; then
	hs_wait_until 5 polling "every Sentinel to show events_mode polling in status"
	"$HASENTINELCTL" -s "$HS_STATUS_SOCKET" sentinels | grep -c 'no (polling)' | grep -qx "$nsent" ||
		hs_fail "hasentinelctl sentinels does not show 'no (polling)' for each Sentinel"

	# No reconnect loop: one refused PSUBSCRIBE per Sentinel, over several
	# resync intervals.
	sleep 3   # the span observed, not a synchronisation
	for n in "${HS_SENTINEL_NAMES[@]}"; do
		c=$(hs_cli "${HS_PORT[$n]}" CLIENT LIST | grep -c " user=$HS_AGENT_USER ") || true
		[ "$c" = 1 ] || hs_fail "sentinel $n: $c connection(s) of user $HS_AGENT_USER, expected only the command link"
	done
	refused=$(grep -c "PSUBSCRIBE refused" "$HS_TMP/agent.log") || true
	[ "$refused" = "$nsent" ] || hs_fail "the refusal is logged $refused times, expected once per Sentinel ($nsent)"
	# (one more try is allowed after each loss of a command link)
	downs=$(grep -c "pubsub: link down" "$HS_TMP/agent.log") || true
	cmd_downs=$(grep -c "cmd: link down" "$HS_TMP/agent.log") || true
	[ "$downs" -le $((nsent + cmd_downs)) ] ||
		hs_fail "the Pub/Sub links went down $downs times ($cmd_downs command link losses): a reconnect loop"
fi

master=$(hs_sentinel_master) || hs_fail "no sentinel answers GET-MASTER-ADDR-BY-NAME"
oldname=$(hs_name_of_port "${master##*:}") || hs_fail "the master $master is not one of the lab's servers"
hs_log "killing the master $oldname ($master)"
hs_kill9 "$oldname"
t0=$(hs_now_ms)
new=
hs_wait_until 20 'new=$(hs_sentinel_master) && [ "$new" != "$master" ]' "Sentinel to promote a replica"
t1=$(hs_now_ms)
hs_wait_until 10 '[ "$(hs_ready_servers "$HS_WRITE_BACKEND")" = "$new" ]' "the write backend to follow to $new by polling"
t2=$(hs_now_ms)
hs_log "$([ "${HS_T13_EVENTS:-0}" = 1 ] && echo events || echo polling): write backend on $new $((t2 - t0)) ms after the kill, $((t2 - t1)) ms after Sentinel named it (resync ${HS_RESYNC_MS} ms)"
key=hasentinel:t13:$$
out=$(hs_cli "$HS_WRITE_PORT" SET "$key" "$new")
[ "$out" = OK ] || hs_fail "SET through the write port answered '$out'"
[ "$(hs_cli "${new##*:}" GET "$key")" = "$new" ] || hs_fail "the write did not land on the new master $new"
hs_wait_applied 15
polling || hs_fail "status no longer shows polling after the failover"

# The right granted later: once its command link is lost and back, the
# agent tries PSUBSCRIBE again and that Sentinel leaves polling.
if [ "${HS_T13_EVENTS:-0}" != 1 ]; then
	s0=${HS_PORT[s0]}
	[ "$(hs_cli "$s0" ACL SETUSER "$HS_AGENT_USER" +psubscribe)" = OK ] || hs_fail "ACL SETUSER on s0 failed"
	hs_cli "$s0" CLIENT KILL USER "$HS_AGENT_USER" >/dev/null || hs_fail "CLIENT KILL USER on s0 failed"
	hs_wait_until 10 '[ "$(hs_agent_status | jq -r --arg a "$(hs_hostport "$s0")" ".sentinels[] | select(.addr == \$a) | .events_mode")" = subscribed ]' \
		"s0 to be subscribed again once the agent may PSUBSCRIBE"
	grep -q "subscribed to events, polling ends" "$HS_TMP/agent.log" || hs_fail "the log does not say that polling ended"
fi

hs_log "t13_acl_no_pubsub: ok"
