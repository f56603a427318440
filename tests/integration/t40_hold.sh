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
#   - with a ready server there is no hold: connection setup is unchanged.
. "$(dirname "$0")/lib.sh"
hs_setup
HOLDCLIENT=${top_builddir:-$(dirname "$HASENTINEL")/..}/tests/tools/hs_holdclient
hs_require_bin "$HOLDCLIENT"

hs_start_redis r0
HS_HOLD_MS=6000
hs_start_haproxy
B=$HS_WRITE_BACKEND

# ------------------------------------------------------------ 1: released
hs_log "case 1: no server ready: a connection is held, then released to r0"
hs_hap "set server $B/r1 addr 127.0.0.1 port ${HS_PORT[r0]}" >/dev/null
"$HOLDCLIENT" 127.0.0.1 "$HS_WRITE_PORT" 10000 >"$HS_TMP/c1.out" 2>&1 &
c1=$!
hs_register c1 "$c1"
# Held well past the Lua session timeout (4 s) before the switch.
sleep 4.5
hs_alive "$c1" || { cat "$HS_TMP/c1.out" >&2; hs_fail "the held client ended before any server was ready"; }
read -r ack_ms out < <("$HOLDCLIENT" -a "$HS_ADMIN_SOCKET" "set server $B/r1 state ready")
[ -z "$out" ] || hs_fail "set server state ready: $out"
hs_wait_until 5 '! hs_alive "$c1"' 'the held client to get its answer'
wait "$c1" || { cat "$HS_TMP/c1.out" >&2; hs_fail "the held client failed"; }
_hs_forget_pid "$c1"
read -r res t_conn t_reply <"$HS_TMP/c1.out"
[ "$res" = "+PONG" ] || hs_fail "held client got '$res', want +PONG"
delay=$((t_reply - ack_ms))
held=$((t_reply - t_conn))
# HAProxy's side: the log line's accept date + Tw (the time the connection
# spent before its server was chosen: the hold) is when it was released.
line=$(grep -E "redis_write $B/r1 [0-9]+/" "$HS_TMP/haproxy.log" | tail -n 1)
[[ $line =~ \[([0-9]+/[A-Za-z]+/[0-9]+):([0-9:]+)\.([0-9]+)\]\ redis_write\ [^\ ]+\ ([0-9]+)/ ]] ||
	hs_fail "no log line for the held connection: $line"
acc_s=$(date -d "${BASH_REMATCH[1]//\// } ${BASH_REMATCH[2]}" +%s) || hs_fail "cannot read the log date"
released=$((acc_s * 1000 + 10#${BASH_REMATCH[3]} + BASH_REMATCH[4]))
hap_delay=$((released - ack_ms))
hs_log "held ${held} ms; released by HAProxy $hap_delay ms after it acknowledged ready (client answered after $delay ms; load: $(cut -d' ' -f1 /proc/loadavg))"
echo "release_delay_ms $hap_delay client_answer_ms $delay" >>"${HS_HOLD_RESULTS:-/dev/null}"
((held >= 4400)) || hs_fail "held only ${held} ms"
# 5 ms is the target (see the README); the assertion leaves room for a
# loaded machine, the measured value is in the log above.
((hap_delay <= 25)) || hs_fail "released $hap_delay ms after the acknowledgement"
((delay <= 200)) || hs_fail "the held client was answered $delay ms after the acknowledgement"

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
hs_wait_until 12 '! hs_alive "$c3"' 'the held client to be closed at the hold limit'
wait "$c3" && hs_fail "the client held on a placeholder got an answer: $(cat "$HS_TMP/c3.out")"
_hs_forget_pid "$c3"
read -r res t_conn t_end <"$HS_TMP/c3.out"
held=$((t_end - t_conn))
hs_log "closed after $held ms ($res)"
[ "$res" = closed ] || hs_fail "want the connection closed by HAProxy, got '$res'"
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
hs_log "PASS"
