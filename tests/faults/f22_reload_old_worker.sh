#!/bin/bash
# f22: an HAProxy reload during a failover; the old worker's clients of the
# demoted master. A client connection is opened through the write port,
# then HAProxy is reloaded (the connection stays with the old worker, which
# lives on until hard-stop-after), then the master is frozen (SIGSTOP) until
# the write backend of the new worker has the new master, and resumed.
# The admin socket reaches only the new worker: the old worker's slot still
# points to the demoted master, which says ROLE master again once resumed
# (until Sentinel converts it). The agent cuts that connection through the
# master CLI (haproxy -S, haproxy-master-socket: "@!PID shutdown session"
# on every old worker, oldworkers.h). The held connection must be closed
# by the time the new master is in the write backend (3 s allowed for the
# sweep), before the old master resumes; and the writer through the write
# port (new connections, new worker) sees no write acknowledged by a
# non-master.
# converge_ms: from SIGSTOP to the write backend on the new master.
# DETAIL: held_cut (yes/no), cut_ms (from SIGSTOP to the agent's first cut
# in an old worker), held_ack (its SET when not cut: OK = acknowledged by the demoted
# master).
# Conditions are single-quoted and eval'd by hs_wait_until:
# shellcheck disable=SC2016,SC2034,SC2119
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
set -u -o pipefail
. "$(dirname "$0")/faultlib.sh"

hsf_setup f22_reload_old_worker
hs_start_lab
hs_start_haproxy
hs_start_agent
hs_wait_applied 5
hsf_start_events

old=$(hs_sentinel_master "$HS_MASTER") || hs_fail "no sentinel answers GET-MASTER-ADDR-BY-NAME"
oldname=$(hs_name_of_port "${old##*:}") || hs_fail "the master $old is not one of the lab's servers"
exec 3<>"/dev/tcp/127.0.0.1/$HS_WRITE_PORT" || hs_fail "cannot connect to the write port"
printf 'PING\r\n' >&3
IFS= read -r -t 2 line <&3 || hs_fail "no PING reply on the held connection"
[ "${line%$'\r'}" = +PONG ] || hs_fail "unexpected PING reply on the held connection: $line"
hs_log "held connection open; reloading HAProxy"
hs_reload_haproxy
hs_wait_applied 5
hsf_start_writer
hs_wait_until 5 '[ "$(grep -c "^A " "$HS_TMP/writer.txt")" -ge 200 ]' "200 acknowledged writes before the stop"

hs_log "SIGSTOP to the master $oldname ($old)"
hsf_mark fault
kill -STOP "${HS_PID[$oldname]}"
hsf_wait_write_master "$HSF_FAILOVER_WAIT" "$old"
hsf_converged_ms fault
# Closed by the old worker (EOF) within 3 s, or not cut (timeout).
held_cut=no
held_ack=none
cut_ms=-1
if IFS= read -r -t 3 line <&3; then
	hs_fail "unexpected data on the held connection: $line"
elif (($? <= 128)); then
	held_cut=yes
	t=$(grep -m1 'haproxy old worker: @!' "$HS_TMP/agent.log" | cut -d' ' -f1)
	[ -z "$t" ] || cut_ms=$(($(date -d "$t" +%s%3N) - HSF_MARK[fault]))
fi
kill -CONT "${HS_PID[$oldname]}"
hsf_mark cont
if [ "$held_cut" = no ] && printf '*3\r\n$3\r\nSET\r\n$8\r\nhsf:held\r\n$1\r\n1\r\n' >&3 2>/dev/null; then
	IFS= read -r -t 3 line <&3 && held_ack=${line%$'\r'}
fi
exec 3<&-
role=$(hs_role_via "${old##*:}")
hs_log "held connection: cut=$held_cut after ${cut_ms} ms, SET answered '$held_ack' (the old master says ROLE $role)"
hs_wait_until 20 '[ "$(hs_role_via "${old##*:}")" = slave ]' "Sentinel to convert the old master"
hs_wait_applied 20
HSF_RESULT_EXTRA="held_cut=$held_cut cut_ms=$cut_ms held_ack=${held_ack// /_}"
[ "$held_cut" = yes ] || hs_fail "the old worker's connection to the demoted master survived the switch (its SET answered '$held_ack')"
hsf_finish
