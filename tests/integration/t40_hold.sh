#!/bin/bash
# The hold (haproxy/hasentinel.lua, lua.hs_hold) in a real HAProxy, with the
# runtime API driven by the test itself in place of the agent, so each case
# is exact:
#   - with no usable server a new connection is held, not refused, and is
#     released to the server as soon as it is made ready, within 5 ms of
#     HAProxy's acknowledgement of `set server ... state ready`;
#   - a hold longer than tune.lua.session-timeout (4 s of Lua run time) and
#     than the poll interval survives: sleeping is not run time;
#   - the hold limit (HS_HOLD_MS) is respected: closed after it, not before;
#   - a slot made ready at the placeholder address (never by the agent)
#     does not release a held connection (a new connection is not held
#     then: the fast path only asks HAProxy whether a server is usable);
#   - with a ready server there is no hold: connection setup is unchanged;
#   - a connection the ready master refuses (dead, before the agent's
#     fence) is retried into the hold through the write backend's backups,
#     released to the next master made ready, and closed at the hold limit
#     when none comes, without looping;
#   - HAProxy's log line says how long a connection was held;
#   - a broken hasentinel.lua fails `haproxy -c`.
. "$(dirname "$0")/lib.sh"
hs_setup
HOLDCLIENT=${top_builddir:-$(dirname "$HASENTINEL")/..}/tests/tools/hs_holdclient
hs_require_bin "$HOLDCLIENT"

# A broken Lua file fails `haproxy -c`.
{ cat "$HS_SRCDIR/haproxy/hasentinel.lua"; echo "local x = = 1"; } >"$HS_TMP/broken.lua"
if HS_LUA=$HS_TMP/broken.lua HS_ADMIN_SOCKET=$HS_TMP/x.sock HS_STATE_FILE=$HS_TMP/x.state \
	haproxy -c -q -f "$HS_HAPROXY_CFG" >"$HS_TMP/broken.out" 2>&1; then
	hs_fail "haproxy -c accepts a broken hasentinel.lua"
fi

hs_start_redis r0
HS_HOLD_MS=6000
hs_start_haproxy
B=$HS_WRITE_BACKEND

# One field of `show stat`: PROXY SERVER FIELD (by the header's names).
stat_field() {
	hs_hap show stat | awk -F, -v p="$1" -v s="$2" -v f="$3" '
		NR == 1 { sub(/^# /, ""); for (i = 1; i <= NF; i++) c[$i] = i; next }
		$1 == p && $2 == s { print $(c[f]) }'
}

# answered_after_ready PID OUT: the test readies r1 (as the agent would);
# the held client PID, writing to OUT, must get +PONG. Sets ack_ms (when
# HAProxy acknowledged), t_conn and t_reply (the client's times).
answered_after_ready() {
	local out res aar_pid=$1   # (a name unlike hs_wait_until's locals: its eval sees them)
	read -r ack_ms out < <("$HOLDCLIENT" -a "$HS_ADMIN_SOCKET" "set server $B/r1 state ready")
	[ -z "$out" ] || hs_fail "set server state ready: $out"
	hs_wait_until 5 '! hs_alive "$aar_pid"' 'the held client to get its answer'
	wait "$aar_pid" || { cat "$2" >&2; hs_fail "the held client failed"; }
	_hs_forget_pid "$aar_pid"
	read -r res t_conn t_reply <"$2"
	[ "$res" = "+PONG" ] || hs_fail "held client got '$res', want +PONG"
}

# closed_by_haproxy PID SECS OUT: the held client PID (writing to OUT) is
# closed by HAProxy, without an answer, within SECS. Sets held (ms).
closed_by_haproxy() {
	local res t_conn t_end cbh_pid=$1
	hs_wait_until "$2" '! hs_alive "$cbh_pid"' 'the held client to be closed at the hold limit'
	wait "$cbh_pid" && hs_fail "the held client got an answer: $(cat "$3")"
	_hs_forget_pid "$cbh_pid"
	read -r res t_conn t_end <"$3"
	held=$((t_end - t_conn))
	hs_log "closed after $held ms ($res)"
	[ "$res" = closed ] || hs_fail "want the connection closed by HAProxy, got '$res'"
}

# ------------------------------------------------------------ 1: released
hs_log "case 1: no server ready: a connection is held, then released to r0"
hs_hap "set server $B/r1 addr 127.0.0.1 port ${HS_PORT[r0]}" >/dev/null
loops0=$(stat_field hasentinel_hold FRONTEND stot)
"$HOLDCLIENT" 127.0.0.1 "$HS_WRITE_PORT" 10000 >"$HS_TMP/c1.out" 2>&1 &
c1=$!
hs_register c1 "$c1"
# Held well past the Lua session timeout (4 s) before the switch.
sleep 4.5
hs_alive "$c1" || { cat "$HS_TMP/c1.out" >&2; hs_fail "the held client ended before any server was ready"; }
answered_after_ready "$c1" "$HS_TMP/c1.out"
delay=$((t_reply - ack_ms))
held=$((t_reply - t_conn))
# The acknowledgement and the answer are both stamped on this machine's
# clock when they arrive: the delay is an upper bound of the release delay
# (it includes connecting to Redis and its PING).
hs_log "held ${held} ms; answered $delay ms after HAProxy acknowledged ready (load: $(cut -d' ' -f1 /proc/loadavg))"
echo "answer_after_ack_ms $delay" >>"${HS_HOLD_RESULTS:-/dev/null}"
((held >= 4400)) || hs_fail "held only ${held} ms"
# held by the write frontend itself, not through the backups' loop
[ "$(stat_field hasentinel_hold FRONTEND stot)" = "$loops0" ] || hs_fail "a connection with no master went through the hold loop"
# HAProxy's log line says how long it was held
hs_wait_until 5 'grep -aqE " redis_write $B/r1 .* hold:[0-9]+$" "$HS_TMP/haproxy.log"' "the held connection's log line"
logged=$(grep -aoE " redis_write $B/r1 .* hold:[0-9]+$" "$HS_TMP/haproxy.log" | tail -n 1 | sed 's/.*hold://')
((logged >= 4400 && logged <= held)) || hs_fail "the log line says hold:$logged, the client waited $held ms"
# 5 ms is the target (see the README); the assertion leaves room for a
# loaded machine, the measured value is in the log above.
((delay >= -5 && delay <= 200)) || hs_fail "the held client was answered $delay ms after the acknowledgement"

# ------------------------------------------------------------ 2: no hold
hs_log "case 2: a ready server: no hold"
t0=$(hs_now_ms)
[ "$(hs_cli "$HS_WRITE_PORT" PING)" = PONG ] || hs_fail "PING through the write port failed"
t1=$(hs_now_ms)
((t1 - t0 < 1000)) || hs_fail "PING took $((t1 - t0)) ms with a ready server"

# ------------------------------------------------------------ 3: placeholder
hs_log "case 3: a held connection is not released to a placeholder slot made ready"
hs_hap "set server $B/r1 state maint" >/dev/null
"$HOLDCLIENT" 127.0.0.1 "$HS_WRITE_PORT" 10000 >"$HS_TMP/c3.out" 2>&1 &
c3=$!
hs_register c3 "$c3"
sleep 0.3
hs_hap "set server $B/r2 state ready" >/dev/null   # 127.0.0.1:1, never the agent's doing
[ "$(hs_ready_servers "$B")" = "127.0.0.1:1" ] || hs_fail "setup: r2 (placeholder) should be the only ready slot"
sleep 1
hs_alive "$c3" || hs_fail "the held client was let go when only the placeholder was ready: $(cat "$HS_TMP/c3.out")"
closed_by_haproxy "$c3" 12 "$HS_TMP/c3.out"
((held >= HS_HOLD_MS - 50 && held <= HS_HOLD_MS + 1000)) ||
	hs_fail "closed after $held ms, want about HS_HOLD_MS=$HS_HOLD_MS"
hs_hap "set server $B/r2 state maint" >/dev/null

# ------------------------------------------------------------ 4: limit
hs_log "case 4: no server at all: closed at the hold limit, and the read port too"
for port in "$HS_WRITE_PORT" "$HS_READ_PORT"; do
	t0=$(hs_now_ms)
	"$HOLDCLIENT" 127.0.0.1 "$port" 10000 >"$HS_TMP/c4.out" 2>&1 && hs_fail "port $port answered with no server"
	read -r res t_conn t_end <"$HS_TMP/c4.out"
	held=$((t_end - t_conn))
	hs_log "port $port: $res after $held ms"
	[ "$res" = closed ] || hs_fail "port $port: want closed, got '$res'"
	((held >= HS_HOLD_MS - 50 && held <= HS_HOLD_MS + 1000)) ||
		hs_fail "port $port: closed after $held ms, want about $HS_HOLD_MS"
done

# ------------------------------------------------------------ 5: client leaves
hs_log "case 5: a held client that gives up is let go; HAProxy stays up"
"$HOLDCLIENT" 127.0.0.1 "$HS_WRITE_PORT" 500 >"$HS_TMP/c5.out" 2>&1 && hs_fail "answered with no server"
read -r res _ <"$HS_TMP/c5.out"
[ "$res" = timeout ] || hs_fail "want the client's own timeout, got '$res'"
hs_hap "set server $B/r1 state ready" >/dev/null
hs_wait_until 3 '[ "$(hs_cli "$HS_WRITE_PORT" PING)" = PONG ]' 'PING through the write port'
hs_alive "${HS_PID[haproxy]}" || hs_fail "haproxy exited"

# ------------------------------------------------------------ 6: refused
# refused_then_fenced CASE: r2 (nothing listens there) the only ready slot,
# a client connects, HAProxy's attempt on r2 is refused, the test fences
# r2 as the agent would. Leaves the client running as $cl.
refused_then_fenced() {
	local dead
	dead=$(hs_free_port)
	hs_hap "set server $B/r1 state maint" >/dev/null
	hs_hap "set server $B/r2 addr 127.0.0.1 port $dead" >/dev/null
	hs_hap "set server $B/r2 state ready" >/dev/null
	[ "$(hs_ready_servers "$B")" = "127.0.0.1:$dead" ] || hs_fail "setup: r2 (nothing listens) should be the only ready slot"
	tries0=$(stat_field "$B" r2 stot)
	loops0=$(stat_field hasentinel_hold FRONTEND stot)
	"$HOLDCLIENT" 127.0.0.1 "$HS_WRITE_PORT" 10000 >"$HS_TMP/$1.out" 2>&1 &
	cl=$!
	hs_register "$1" "$cl"
	# HAProxy tried r2, which refused at once: it waits min(1 s, timeout
	# connect) before its one retry.
	hs_wait_until 5 '(( $(stat_field "$B" r2 stot) > tries0 ))' "HAProxy to try r2"
	hs_hap "set server $B/r2 state maint" >/dev/null
	# The retry finds no ready slot and goes to the backups: the hold loop.
	hs_wait_until 5 '[ "$(stat_field hasentinel_hold FRONTEND scur)" = 1 ]' "the retry to be held in hasentinel_hold"
}

hs_log "case 6: a connection the ready master refuses goes to the hold and then to the next master"
refused_then_fenced c6
answered_after_ready "$cl" "$HS_TMP/c6.out"
hs_log "refused, held and answered after $((t_reply - t_conn)) ms, $((t_reply - ack_ms)) ms after HAProxy acknowledged ready"
(($(stat_field hasentinel_hold FRONTEND stot) == loops0 + 1)) || hs_fail "the connection went through the hold loop more than once"

hs_log "case 7: refused, fenced, no next master: closed at the hold limit, one pass through the loop"
refused_then_fenced c7
closed_by_haproxy "$cl" $((HS_HOLD_MS / 1000 + 5)) "$HS_TMP/c7.out"
# the retry's pause (1 s), then the hold limit
((held >= HS_HOLD_MS + 900 && held <= HS_HOLD_MS + 2500)) ||
	hs_fail "closed after $held ms, want about 1 s + HS_HOLD_MS=$HS_HOLD_MS"
(($(stat_field hasentinel_hold FRONTEND stot) == loops0 + 1)) || hs_fail "the connection looped through hasentinel_hold"
hs_alive "${HS_PID[haproxy]}" || hs_fail "haproxy exited"
hs_log "PASS"
