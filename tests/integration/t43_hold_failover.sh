#!/bin/bash
# A held connection is released to the new master on the switch, with real
# Redis, Sentinel, HAProxy and the agent. The write backend is emptied the
# way early fencing would do it (the old master's slot in maintenance while
# the agent is paused), then the master is killed and a client connects: it
# is held through Sentinel's failover, the resumed agent readies the new
# master, and the held connection's first command is answered by the new
# master, with no error. Also: with a master ready a connection is not held.
. "$(dirname "$0")/lib.sh"
hs_setup
HS_HOLD_MS=20000   # Sentinel's whole failover on a loaded machine
hs_start_lab
hs_start_haproxy
hs_start_agent
hs_wait_applied 15
B=$HS_WRITE_BACKEND
old=$(hs_sentinel_master)

hs_log "no hold with a master ready"
t0=$(hs_now_ms)
[ "$(hs_cli "$HS_WRITE_PORT" INFO server | tr -d '\r' | sed -n 's/^tcp_port://p')" = "${old##*:}" ] ||
	hs_fail "the write port does not reach the master $old"
t1=$(hs_now_ms)
((t1 - t0 < 1000)) || hs_fail "a command through the write port took $((t1 - t0)) ms with a master ready"

hs_log "agent paused, the master's slot in maintenance, the master killed"
kill -STOP "${HS_PID[agent]}"
slot=$(hs_hap show servers state "$B" | awk -v ip="${old%:*}" -v p="${old##*:}" '$5 == ip && $19 == p && $6 == 2 { print $4 }')
[ -n "$slot" ] || { kill -CONT "${HS_PID[agent]}"; hs_fail "no running write slot for $old"; }
hs_hap "set server $B/$slot state maint" >/dev/null
[ -z "$(hs_ready_servers "$B")" ] || { kill -CONT "${HS_PID[agent]}"; hs_fail "the write backend is not empty"; }
hs_kill9 "$(hs_name_of_port "${old##*:}")"

# The held client: connects now, its INFO is answered after the switch.
timeout 40 redis-cli -h 127.0.0.1 -p "$HS_WRITE_PORT" INFO server >"$HS_TMP/held.out" 2>&1 &
held=$!
hs_register held "$held"
t_conn=$(hs_now_ms)
sleep 0.5
hs_alive "$held" || { kill -CONT "${HS_PID[agent]}"; hs_fail "the client was not held: $(cat "$HS_TMP/held.out")"; }
# The agent resumes once Sentinel has promoted a replica: it then goes
# straight to the new master (resumed earlier, it would first put back the
# master it still believes in: fencing a dead master is not this test's
# subject).
if ! (hs_wait_until 30 '[ "$(hs_sentinel_master)" != "$old" ]' 'Sentinel to promote a replica'); then
	kill -CONT "${HS_PID[agent]}"
	hs_fail "Sentinel did not fail over"
fi
hs_alive "$held" || { kill -CONT "${HS_PID[agent]}"; hs_fail "the client was not held through the failover: $(cat "$HS_TMP/held.out")"; }
kill -CONT "${HS_PID[agent]}"

hs_wait_until 30 '! hs_alive "$held"' 'the held client to be answered'
wait "$held" || hs_fail "the held client failed: $(cat "$HS_TMP/held.out")"
_hs_forget_pid "$held"
t_end=$(hs_now_ms)
new=$(hs_sentinel_master)
[ "$new" != "$old" ] || hs_fail "Sentinel did not fail over"
port=$(tr -d '\r' <"$HS_TMP/held.out" | sed -n 's/^tcp_port://p')
hs_log "held $((t_end - t_conn)) ms, answered by :$port; new master $new"
[ "$port" = "${new##*:}" ] || hs_fail "the held connection was answered by :$port, not the new master $new"
grep -q "^ERR\|^(error)" "$HS_TMP/held.out" && hs_fail "the held client got an error: $(cat "$HS_TMP/held.out")"
hs_wait_applied 15
hs_log "PASS"
