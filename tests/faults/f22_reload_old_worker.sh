#!/bin/bash
# f22: an HAProxy reload during a failover; the old worker's clients of the
# demoted master. A client connection is opened through the write port,
# then HAProxy is reloaded (the connection stays with the old worker, which
# lives on until hard-stop-after), then the master is frozen (SIGSTOP) until
# the write backend of the new worker has the new master, and resumed.
# The agent drives only the new worker through the admin socket: the old
# worker's slot still points to the demoted master, so the held connection
# is not cut, and once the old master resumes (still saying ROLE master
# until Sentinel converts it) a write on that connection is acknowledged by
# a non-master. Cutting it needs the master CLI (@!<pid> shutdown sessions
# on every old worker), which the agent does not use yet.
# Until then this scenario is an expected failure: it exits 77 (SKIP) with
# the reason when the held connection survives the switch, and passes when
# it is cut. The writer through the write port (new connections, new
# worker) must still see no write acknowledged by a non-master.
# converge_ms: from SIGSTOP to the write backend on the new master.
# DETAIL: held_cut (yes/no), held_ack (the held connection's SET after
# SIGCONT: OK = acknowledged by the demoted master).
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
kill -CONT "${HS_PID[$oldname]}"
hsf_mark cont
held_ack=none
held_cut=yes
if printf '*3\r\n$3\r\nSET\r\n$8\r\nhsf:held\r\n$1\r\n1\r\n' >&3 2>/dev/null; then
	if IFS= read -r -t 3 line <&3; then
		held_cut=no
		held_ack=${line%$'\r'}
	else
		(($? > 128)) && held_cut=no
	fi
fi
exec 3<&-
role=$(hs_role_via "${old##*:}")
hs_log "held connection: cut=$held_cut, SET answered '$held_ack' (the old master says ROLE $role)"
hs_wait_until 20 '[ "$(hs_role_via "${old##*:}")" = slave ]' "Sentinel to convert the old master"
hs_wait_applied 20
HSF_RESULT_EXTRA="held_cut=$held_cut held_ack=${held_ack// /_}"
hsf_finish
if [ "$held_cut" = no ]; then
	hs_skip "expected failure (known gap): the old worker's connection to the demoted master survived the switch (SET answered '$held_ack'); cutting it needs the master CLI (@!<pid>)"
fi
