#!/bin/bash
# f02: the master is frozen (SIGSTOP) for longer than down-after-milliseconds,
# until Sentinel has promoted a replica, then resumed (SIGCONT). It comes
# back still claiming the master role until Sentinel converts it (about 8 s
# later): in that window it must take no write through the write port. A
# client connection held open through the write port to the old master is
# cut by HAProxy when the write backend switches (EOF, not a timeout).
# converge_ms: from SIGSTOP to the first poll at which the write backend has
# exactly Sentinel's new master ready. DETAIL: write_outage_ms (longest gap
# between acknowledged writes), read_empty_ms (longest stretch without any
# ready read server; reported, not asserted).
# Conditions are single-quoted and eval'd by hs_wait_until:
# shellcheck disable=SC2016,SC2034,SC2119
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
set -u -o pipefail
. "$(dirname "$0")/faultlib.sh"

hsf_setup f02_master_stop
hsf_start_lab_writing

old=$(hs_sentinel_master "$HS_MASTER") || hs_fail "no sentinel answers GET-MASTER-ADDR-BY-NAME"
oldname=$(hs_name_of_port "${old##*:}") || hs_fail "the master $old is not one of the lab's servers"

# A long-lived client on the write port, talking to the current master
# (INFO replication is one bulk reply: $LEN, then LEN bytes + CRLF).
exec 3<>"/dev/tcp/127.0.0.1/$HS_WRITE_PORT" || hs_fail "cannot connect to the write port"
printf 'INFO replication\r\n' >&3
IFS= read -r -t 2 line <&3 || hs_fail "no INFO reply on the held connection"
line=${line%$'\r'}
[[ $line =~ ^\$[0-9]+$ ]] || hs_fail "unexpected INFO reply on the held connection: $line"
IFS= read -r -N $((${line#\$} + 2)) -t 2 body <&3 || hs_fail "short INFO reply on the held connection"
[[ $body == *role:master* ]] || hs_fail "the held connection does not reach the master"

hsf_start_sampler write 0.05 "$HS_WRITE_BACKEND" "$HS_READ_BACKEND"
hs_wait_until 5 '[ "$(grep -c "^A " "$HS_TMP/writer.txt")" -ge 200 ]' "200 acknowledged writes before the stop"
hs_log "SIGSTOP to the master $oldname ($old)"
hsf_mark fault
kill -STOP "${HS_PID[$oldname]}"

hsf_wait_write_master "$HSF_FAILOVER_WAIT" "$old"
hsf_converged_ms fault
new=$HSF_NEW
hs_log "write backend on the new master $new; SIGCONT to $oldname"

# The held connection must be at EOF (read status 1; above 128 is the
# timeout: still open).
if IFS= read -r -t 2 line <&3; then
	hs_fail "the held connection is still open and got '$line'"
else
	rc=$?
	((rc <= 128)) || hs_fail "the held connection is still open 2 s after the switch"
fi
exec 3<&-

hsf_mark cont
kill -CONT "${HS_PID[$oldname]}"
[ "$(hs_role_via "${old##*:}")" = master ] && hs_log "$oldname is back and still says it is master"
hs_wait_until 20 '[ "$(hs_role_via "${old##*:}")" = slave ]' "Sentinel to convert the old master $oldname into a replica"
hs_log "$oldname is a replica $(hsf_since cont) ms after SIGCONT"
hsf_stop_sampler write

# After the switch the old master was never ready for writes again (also
# not once it had resumed, still claiming the role).
after=$(hsf_sampler_values write "$HS_WRITE_BACKEND" | paste -sd' ')
hs_log "write backend during the fault: $after"
back=$(hsf_sampler_has write "$HS_WRITE_BACKEND" "$old" $((HSF_MARK[fault] + HSF_CONVERGE_MS)))
[ "$back" = 0 ] || hs_fail "the old master $old was ready in $HS_WRITE_BACKEND again at $back polls after the switch"
multi=$(hsf_sampler_multi write "$HS_WRITE_BACKEND")
[ "$multi" = 0 ] || hs_fail "$multi polls saw more than one ready server in $HS_WRITE_BACKEND"
HSF_RESULT_EXTRA="write_outage_ms=$(hsf_outage_ms "${HSF_MARK[fault]}") read_empty_ms=$(hsf_sampler_empty_ms write "$HS_READ_BACKEND" "${HSF_MARK[fault]}") polls=$(hsf_sampler_count write)"
hsf_finish
