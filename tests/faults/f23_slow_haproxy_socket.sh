#!/bin/bash
# f23: a slow and sliced HAProxy admin socket. The agent talks to HAProxy
# through tests/tools/slow_socket, which hands every answer back in slices
# of 7 bytes, 1 ms apart (a "show servers state" arrives in hundreds of
# reads). (1) The master is SIGKILLed: the write backend must follow.
# (2) The socket turns slow (2.5 s before every slice, beyond the agent's
# haproxy-timeout of 2 s) and the new master is SIGKILLed too; 4 s later
# the socket is fast again. The agent must stay alive, recover, and put
# the last master alone in the write backend; never two ready write slots
# (polled every 20 ms on the real socket), never a dead master back.
# converge_ms: (2), from the second kill to the write backend on the third
# master. DETAIL: sliced_ms (the first failover's convergence), timeouts
# (agent.log lines about the HAProxy timeout).
# Conditions are single-quoted and eval'd by hs_wait_until:
# shellcheck disable=SC2016,SC2034,SC2119
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
set -u -o pipefail
. "$(dirname "$0")/faultlib.sh"

hsf_setup f23_slow_haproxy_socket
SLOW=${HSF_SLOW_SOCKET:-$(dirname "$HSF_WRITER")/slow_socket}
hs_require_bin "$SLOW"
hs_start_lab
hs_start_haproxy
slow=$HS_TMP/slow.sock
_hs_spawn "$HS_TMP/slow_socket.log" "$SLOW" "$slow" "$HS_ADMIN_SOCKET" 7 1
hs_register slow_socket "$HS_BG_PID"
hs_wait_until 5 '[ -S "$slow" ]' "the slow socket"
HS_ADMIN_SOCKET=$slow hs_start_agent
grep -q "^haproxy-socket $slow\$" "$HS_TMP/hasentinel.conf" || hs_fail "the agent is not configured with the slow socket"
hs_wait_applied 10
hsf_start_events
hsf_start_writer

m1=$(hs_sentinel_master "$HS_MASTER") || hs_fail "no sentinel answers GET-MASTER-ADDR-BY-NAME"
n1=$(hs_name_of_port "${m1##*:}") || hs_fail "the master $m1 is not one of the lab's servers"
hsf_start_sampler lab 0.02 "$HS_WRITE_BACKEND"
hs_wait_until 5 '[ "$(grep -c "^A " "$HS_TMP/writer.txt")" -ge 200 ]' "200 acknowledged writes before the first kill"
hs_log "(1) sliced socket: SIGKILL to the master $n1 ($m1)"
hsf_mark fault1
hs_kill9 "$n1"
hsf_wait_write_master "$HSF_FAILOVER_WAIT" "$m1"
m2=$HSF_NEW
sliced=$(hsf_since fault1)
hsf_mark switch1
n2=$(hs_name_of_port "${m2##*:}") || hs_fail "the new master $m2 is not one of the lab's servers"
hsf_mark restart1
hs_start_redis "$n1" replicaof "${m2##*:}"
hs_wait_applied 30
hs_log "(1) converged in $sliced ms; (2) slow socket: 2500 ms per slice, SIGKILL to $n2 ($m2)"
echo 2500 >"$slow.delay"
hsf_mark fault
hs_kill9 "$n2"
sleep 4
echo 1 >"$slow.delay"
hs_log "(2) socket fast again"
hs_wait_until "$HSF_FAILOVER_WAIT" 'HSF_NEW=$(hs_sentinel_master "$HS_MASTER") && [ "$HSF_NEW" != "$m2" ] &&
	[ "$(hs_ready_servers "$HS_WRITE_BACKEND")" = "$HSF_NEW" ]' "the write backend on the third master"
hsf_converged_ms fault
m3=$HSF_NEW
hsf_mark converged
hs_alive "${HS_PID[agent]}" || hs_fail "the agent died"
hs_start_redis "$n2" replicaof "${m3##*:}"
hs_wait_applied 30
hsf_stop_sampler lab

multi=$(hsf_sampler_multi lab "$HS_WRITE_BACKEND")
[ "$multi" = 0 ] || hs_fail "$multi polls saw more than one ready server in $HS_WRITE_BACKEND"
# (m1, restarted as a replica, may be the third master)
b1=$(awk -v a="$HS_WRITE_BACKEND=$m1" -v from="${HSF_MARK[switch1]}" -v to="${HSF_MARK[restart1]}" \
	'$1 >= from && $1 < to { for (i = 2; i <= NF; i++) if ($i == a) n++ } END { print n + 0 }' "$HS_TMP/lab.samples")
[ "$b1" = 0 ] || hs_fail "the dead master $m1 was ready again at $b1 polls after its switch"
b2=0
[ "$m3" = "$m2" ] || b2=$(hsf_sampler_has lab "$HS_WRITE_BACKEND" "$m2" "${HSF_MARK[converged]}")
[ "$b2" = 0 ] || hs_fail "the dead master $m2 was ready again at $b2 polls after its switch"
hs_log "write backend: $(hsf_sampler_values lab "$HS_WRITE_BACKEND" | paste -sd' ')"
timeouts=$(grep -ciE 'timed? ?out' "$HS_TMP/agent.log")
HSF_RESULT_EXTRA="sliced_ms=$sliced timeouts=$timeouts polls=$(hsf_sampler_count lab)"
hsf_finish
