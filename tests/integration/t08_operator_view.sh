#!/bin/bash
# The operator's view against a real lab: after a failover, the timeline has
# every stage in order, the events hold the Sentinel events and the agent's
# decisions, a subscriber saw them live, notify-exec ran with the switch,
# /metrics counts the failover, and `hasentinelctl check` exits 0 when
# healthy and 1 with the reason when no Sentinel answers.
# shellcheck disable=SC2016
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
set -u -o pipefail
. "$(dirname "$0")/lib.sh"

hs_setup
hs_start_lab
hs_start_haproxy

# notify-exec: record the arguments and the JSON on stdin.
cat >"$HS_TMP/notify.sh" <<EOS
#!/bin/sh
printf 'ARGS %s\n' "\$*" >>"$HS_TMP/notify.out"
cat >>"$HS_TMP/notify.out"
EOS
chmod +x "$HS_TMP/notify.sh"
mport=$(hs_free_port)
hs_start_agent "notify-exec $HS_TMP/notify.sh" "metrics-listen 127.0.0.1:$mport"
hs_wait_applied 10
ctl() { "$HASENTINELCTL" -s "$HS_STATUS_SOCKET" "$@"; }
http_get() {   # PORT PATH: the body of an HTTP/1.0 GET, through bash's /dev/tcp
	local body
	exec 5<>"/dev/tcp/127.0.0.1/$1" || return 1
	printf 'GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' "$2" >&5
	body=$(timeout 3 cat <&5)
	exec 5<&-
	printf '%s\n' "$body"
}

ctl check >/dev/null || hs_fail "check failed on a healthy lab: $(ctl check)"

# A live subscriber.
"$HASENTINELCTL" -s "$HS_STATUS_SOCKET" --json subscribe >"$HS_TMP/subscribe.out" 2>&1 &
hs_register subscriber $!
hs_wait_until 3 '[ "$(ctl --json status | jq ".masters[0].state")" = "\"ok\"" ]' "state ok"

old=$(hs_sentinel_master)
hs_kill9 r0
hs_wait_until 20 '[ "$(hs_sentinel_master)" != "$old" ]' "Sentinel to promote a replica"
new=$(hs_sentinel_master)
hs_wait_until 5 '[ "$(hs_ready_servers "$HS_WRITE_BACKEND")" = "$new" ]' "the write backend to follow"
hs_wait_until 10 'ctl --json timeline | jq -e ".timelines[-1].complete" >/dev/null' "a complete timeline"

tl=$(ctl --json timeline)
stages=$(jq -r '.timelines[-1].stages[].stage' <<<"$tl" | paste -sd' ')
for s in sdown odown failover-start promoted switch-master-seen decision role-confirmed haproxy-sent haproxy-acked; do
	[[ " $stages " == *" $s "* ]] || hs_fail "timeline lacks stage $s: $stages"
done
[ "$(jq -r '.timelines[-1].from' <<<"$tl")" = "$old" ] || hs_fail "timeline from: $tl"
[ "$(jq -r '.timelines[-1].to' <<<"$tl")" = "$new" ] || hs_fail "timeline to: $tl"
# offsets never go backwards, and HAProxy acknowledged after the decision
jq -e '[.timelines[-1].stages[].offset_ms] | . == sort' <<<"$tl" >/dev/null || hs_fail "stages out of order: $tl"
jq -e '.timelines[-1].stages | (map(select(.stage=="haproxy-acked"))[0].at_ms) >= (map(select(.stage=="decision"))[0].at_ms)' \
	<<<"$tl" >/dev/null || hs_fail "acknowledged before the decision: $tl"
ctl timeline | grep -q "$old -> $new" || hs_fail "the human timeline does not name the switch"

ev=$(ctl --json events 512)
jq -e '.events | map(select(.type=="+switch-master")) | length > 0' <<<"$ev" >/dev/null ||
	hs_fail "no +switch-master in the events"
jq -e --arg t "$old -> $new" '.events | map(select(.source=="agent" and .type=="switch" and (.text | startswith($t)))) | length == 1' \
	<<<"$ev" >/dev/null || hs_fail "no single switch decision in the events"
hs_wait_until 3 'grep -q "\"type\":\"switch\"" "$HS_TMP/subscribe.out"' "the subscriber to see the switch"
grep -q '"+switch-master"' "$HS_TMP/subscribe.out" || hs_fail "the subscriber missed +switch-master"

hs_wait_until 5 'grep -q "^ARGS switch $HS_MASTER $old $new " "$HS_TMP/notify.out"' "notify-exec to run for the switch"
grep -q '"type":"switch"' "$HS_TMP/notify.out" || hs_fail "notify-exec got no JSON on stdin: $(cat "$HS_TMP/notify.out")"

m=$(http_get "$mport" /metrics)
grep -q '^HTTP/1.0 200' <<<"$m" || hs_fail "GET /metrics: $(head -1 <<<"$m")"
grep -q "^hasentinel_failovers_total{master=\"$HS_MASTER\"} 1" <<<"$m" || hs_fail "failovers_total is not 1"
grep -q '^hasentinel_write_ready{master="mymaster"} 1' <<<"$m" || hs_fail "write_ready is not 1"
grep -q '^hasentinel_switch_apply_seconds_count 2' <<<"$m" || hs_fail "the apply histogram did not count 2 switches (start + failover)"
[ "$(ctl metrics | grep -c '^hasentinel_sentinel_link_up{.*} 1$')" = 3 ] || hs_fail "metrics over the socket: 3 links up expected"
grep -q '^HTTP/1.0 404' <<<"$(http_get "$mport" /nope)" || hs_fail "GET /nope is not 404"
# Every family of the table is in the text (notify-exec is set here).
for f in $("$HASENTINELCTL" --list metrics); do
	grep -q "^# TYPE $f " <<<"$m" || hs_fail "metric family $f is missing from /metrics"
done
# The daemon's own help answers its command table, as hasentinelctl lists it.
daemon_cmds=$(printf 'help\n' | socat -T 5 - "UNIX-CONNECT:$HS_STATUS_SOCKET" | jq -r '.commands[].name')
[ "$daemon_cmds" = "$("$HASENTINELCTL" --list commands)" ] ||
	hs_fail "the daemon's help ($daemon_cmds) is not hasentinelctl --list commands"

# No Sentinel left: check says so and exits 1; HAProxy is left as it is.
for s in "${HS_SENTINEL_NAMES[@]}"; do hs_stop "$(hs_pid "$s")"; done
hs_wait_until 10 '! ctl check >/dev/null 2>&1' "check to fail without Sentinels"
out=$(ctl check 2>&1); rc=$?
[ "$rc" = 1 ] || hs_fail "check exit code $rc, expected 1"
grep -q "no usable Sentinel" <<<"$out" || hs_fail "check does not name the cause: $out"
[ "$(hs_ready_servers "$HS_WRITE_BACKEND")" = "$new" ] || hs_fail "the write backend changed without Sentinels"

hs_log "t08_operator_view: ok"
