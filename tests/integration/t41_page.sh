#!/bin/bash
# The agent's page in HAProxy (haproxy/hasentinel.lua, lua.hasentinel on the
# stats port), with real Redis, Sentinel, HAProxy and the agent:
#   - /hasentinel shows the master group, its master and replicas with the
#     HAProxy slot each one occupies, the Sentinels, and after a failover
#     its timeline as bars; /hasentinel.json is the agent's status JSON;
#     HAProxy's stats stay at /;
#   - with the agent stopped the page says so (503), the stats page and the
#     write port still work;
#   - whatever answers on the status socket (garbage, nothing, an endless
#     answer, a trickle, JSON that is not the status, parts beyond the 2 MiB
#     cap) gives an error page within a bounded time, and HAProxy keeps
#     serving;
#   - 1000 master groups (about 300 kB of status, in parts) render in full.
. "$(dirname "$0")/lib.sh"
hs_setup
hs_start_lab
hs_start_haproxy
hs_start_agent
hs_wait_applied 15

URL=http://127.0.0.1:$HS_STATS_PORT
# get PATH: body in $HS_TMP/body, HTTP status on stdout, 20 s at most.
get() {
	timeout 25 socat -t 20 -T 20 - "TCP:127.0.0.1:$HS_STATS_PORT" \
		<<<$'GET '"$1"$' HTTP/1.0\r\nHost: t\r\n\r' >"$HS_TMP/resp" 2>/dev/null
	sed '1,/^\r$/d' "$HS_TMP/resp" >"$HS_TMP/body"
	head -n 1 "$HS_TMP/resp" | awk '{ print $2 }'
}
page_has() {
	grep -qF -- "$1" "$HS_TMP/body" || hs_fail "page lacks '$1' (see body below)$(printf '\n'; head -c 3000 "$HS_TMP/body")"
}

# ------------------------------------------------------------ the page
m=$(hs_sentinel_master)
[ "$(get /hasentinel.json)" = 200 ] || hs_fail "/hasentinel.json: $(head -c 300 "$HS_TMP/resp")"
jq -e --arg m "$m" '.version and (.masters[0].master == $m)' "$HS_TMP/body" >/dev/null ||
	hs_fail "/hasentinel.json is not the agent's status naming $m: $(head -c 500 "$HS_TMP/body")"

hs_log "failover, for a timeline"
hs_cli "${HS_PORT[s0]}" SENTINEL FAILOVER "$HS_MASTER" >/dev/null
hs_wait_until 30 '[ "$(hs_sentinel_master)" != "$m" ]' 'Sentinel to promote a replica'
hs_wait_applied 30
m=$(hs_sentinel_master)
hs_wait_until 10 'hs_agent_status | jq -e "any(.masters[]; .last_switch.to == \"$m\")"' 'the agent to record the switch'
hs_wait_until 10 '[ "$(get /hasentinel)" = 200 ] && grep -q "s-haproxy-acked" "$HS_TMP/body"' 'the page to show the timeline'
slot=$(hs_hap show servers state "$HS_WRITE_BACKEND" | awk -v ip="${m%:*}" -v p="${m##*:}" '$5 == ip && $19 == p && $6 == 2 { print $4 }')
[ -n "$slot" ] || hs_fail "no running write slot for $m"
page_has "<h2>$HS_MASTER "
page_has "<b>$m</b>"
page_has "<td>$slot <span class=\"st ok\">no check</span></td>"
for r in $(hs_replica_addrs); do page_has "<td>$r</td>"; done
for n in s0 s1 s2; do page_has "127.0.0.1:${HS_PORT[$n]}"; done
page_has "Last failovers"
[ "$(get /)" = 200 ] || hs_fail "HAProxy's stats page at / is gone"
grep -q "$HS_WRITE_BACKEND" "$HS_TMP/body" || hs_fail "/ is not HAProxy's stats page"

# ------------------------------------------------------------ agent down
hs_log "agent stopped: the page says so, stats and traffic go on"
hs_stop "${HS_PID[agent]}"
[ "$(get /hasentinel)" = 503 ] || hs_fail "/hasentinel with the agent down: $(head -n 1 "$HS_TMP/resp")"
page_has "The agent is unreachable"
[ "$(get /hasentinel.json)" = 503 ] || hs_fail "/hasentinel.json with the agent down"
jq -e '.error | test("status socket")' "$HS_TMP/body" >/dev/null || hs_fail "no error in /hasentinel.json: $(cat "$HS_TMP/body")"
[ "$(get /)" = 200 ] || hs_fail "the stats page is down with the agent"
[ "$(hs_role_via "$HS_WRITE_PORT")" = master ] || hs_fail "the write port does not reach the master with the agent down"

# ------------------------------------------------------------ bad answers
# A stand-in status socket that runs the shell commands CMD for each
# connection (from a file: socat's address syntax has its own specials).
fake() {
	[ -z "${HS_PID[fake]:-}" ] || hs_stop "${HS_PID[fake]}"
	rm -f "$HS_STATUS_SOCKET"
	printf '%s\n' "$1" >"$HS_TMP/fake.sh"
	_hs_spawn "$HS_TMP/fake.log" socat "UNIX-LISTEN:$HS_STATUS_SOCKET,fork,unlink-early" "SYSTEM:sh $HS_TMP/fake.sh"
	hs_register fake "$HS_BG_PID"
	hs_wait_until 5 '[ -S "$HS_STATUS_SOCKET" ]' 'the fake status socket'
}
# bad NAME MAX_S WANT: the page is an error page naming WANT within MAX_S.
bad() {
	local t0 t1 code
	t0=$(hs_now_ms)
	code=$(get /hasentinel)
	t1=$(hs_now_ms)
	hs_log "$1: $code after $((t1 - t0)) ms: $(grep -o 'unreachable.</b><br>[^<]*' "$HS_TMP/body" | cut -c 20-)"
	[ "$code" = 503 ] || hs_fail "$1: HTTP $code, want 503"
	page_has "The agent is unreachable"
	page_has "$3"
	((t1 - t0 <= $2 * 1000)) || hs_fail "$1: the page took $((t1 - t0)) ms (max $2 s)"
	hs_alive "${HS_PID[haproxy]}" || hs_fail "$1: haproxy died"
	[ "$(get /)" = 200 ] || hs_fail "$1: the stats page is gone"
}
fake 'head -c 20000 /dev/urandom; sleep 5'
bad garbage 6 "the agent"
fake 'printf "no newline at all"'
bad "short garbage, closed" 6 "the agent"
fake 'sleep 30'
bad "no answer" 6 "no answer from the agent&#39;s status socket"
fake 'head -c 50000000 /dev/zero | tr "\\000" a; sleep 5'
bad "endless answer" 8 "answer"
fake 'for i in $(seq 150); do printf "{" || exit; sleep 0.2; done'
bad "a trickle" 15 "answer"
fake 'printf "{\"a\":1}\n{}\n"; sleep 3'
bad "JSON, not the status" 6 "no &quot;version&quot; field"
fake 'printf "{\"version\":\"x\",\"masters\":[{\"name\":\"<script>alert(1)</script>\",\"replicas\":7}],\"sentinels\":{}}\n{}\n"; sleep 3'
[ "$(get /hasentinel)" = 200 ] || hs_fail "a status with odd types: HTTP $(head -n 1 "$HS_TMP/resp")"
page_has "&lt;script&gt;alert(1)&lt;/script&gt;"
grep -q "<script>" "$HS_TMP/body" && hs_fail "a name from the status socket was not escaped"

# ------------------------------------------------------------ many groups
# The agent answers the page in parts ("page FROM", one HAProxy buffer each,
# then it closes): a stand-in serving 1000 groups (about 300 kB of status)
# in 40 parts renders every group within the page's own 3 s deadline.
mkdir -p "$HS_TMP/parts"
part() { # FROM COUNT TOTAL [PAD]: one part, groups FROM..FROM+COUNT-1
	local i sep=""
	printf '{"version":"x","pid":1,"uptime_ms":1,"started_ms":1,"sentinels":[],"sentinels_usable":0,"masters":['
	for ((i = $1; i < $1 + $2; i++)); do
		printf '%s{"name":"g%d","state":"ok","master":"10.0.%d.%d:6379","config_epoch":1,"role_confirmed":true,' \
			"$sep" "$i" $((i / 250)) $((i % 250))
		printf '"write_backend":"g%d_write","read_backend":"g%d_read","write_ready":["10.0.%d.%d:6379"],"read_ready_count":1,' \
			"$i" "$i" $((i / 250)) $((i % 250))
		printf '"replicas":[{"addr":"10.1.%d.%d:6379","flags":"%s","link":"ok","role":"slave","read_ready":true,"link_down_ms":0}],"sentinel_views":[]}' \
			$((i / 250)) $((i % 250)) "${4:-}"
		sep=,
	done
	printf '],"masters_from":%d,"masters_next":%d,"masters_total":%d' "$1" $(($1 + $2)) "$3"
	[ "$1" != 0 ] || printf ',"timelines":[]'
	printf '}\n'
}
for ((f = 0; f < 1000; f += 25)); do part "$f" 25 1000 >"$HS_TMP/parts/$f"; done
hs_log "1000 groups: $(cat "$HS_TMP/parts/"* | wc -c) bytes in $(ls "$HS_TMP/parts" | wc -l) parts of at most $(wc -c "$HS_TMP/parts/"* | sort -n | tail -n 2 | head -n 1 | awk '{ print $1 }') bytes"
fake 'read -r c f; cat "'"$HS_TMP"'/parts/${f:-0}" 2>/dev/null || printf "{\"error\":\"no part\"}\n"'
t0=$(hs_now_ms)
code=$(get /hasentinel)
t1=$(hs_now_ms)
hs_log "1000 groups: HTTP $code, $(wc -c <"$HS_TMP/body") bytes of page in $((t1 - t0)) ms"
[ "$code" = 200 ] || hs_fail "1000 groups: HTTP $code: $(grep -o 'unreachable.</b><br>[^<]*' "$HS_TMP/body")"
[ "$(grep -o '<h2>g[0-9]* ' "$HS_TMP/body" | sort -u | wc -l)" = 1000 ] || hs_fail "1000 groups: the page does not show every group"
page_has "<h2>g999 "
((t1 - t0 <= 10000)) || hs_fail "1000 groups: the page took $((t1 - t0)) ms"
[ "$(get /hasentinel.json)" = 200 ] || hs_fail "1000 groups: /hasentinel.json: $(head -c 300 "$HS_TMP/body")"
jq -e '(.masters | length) == 1000 and .masters[999].name == "g999" and (has("masters_next") | not)' "$HS_TMP/body" >/dev/null ||
	hs_fail "1000 groups: /hasentinel.json is not the whole status"

# Beyond the cap (2 MiB in all): parts of about 14 kB without end give the
# error page, within the deadline.
part 0 25 1000000 "$(printf '%0200d' 0)" >"$HS_TMP/parts/big"
hs_log "endless parts of $(wc -c <"$HS_TMP/parts/big") bytes"
fake 'read -r c f; sed "s/\"masters_from\":0,\"masters_next\":25/\"masters_from\":${f:-0},\"masters_next\":$((${f:-0} + 25))/" "'"$HS_TMP"'/parts/big"'
bad "parts beyond the cap" 8 "the agent&#39;s answer"
[ "$(get /hasentinel)" = 503 ] || hs_fail "beyond the cap: not an error page"
grep -Eq "is larger than 2097152 bytes|took longer than 3000 ms" "$HS_TMP/body" ||
	hs_fail "beyond the cap: not the size or time error: $(grep -o 'unreachable.</b><br>[^<]*' "$HS_TMP/body")"
hs_stop "${HS_PID[fake]}"

# ------------------------------------------------------------ back
hs_log "the agent again: the page is back"
rm -f "$HS_STATUS_SOCKET"
hs_start_agent
hs_wait_until 10 '[ "$(get /hasentinel)" = 200 ]' 'the page with the agent back'
page_has "<b>$m</b>"
[ "$(hs_role_via "$HS_WRITE_PORT")" = master ] || hs_fail "the write port does not reach the master"
hs_log "PASS"
