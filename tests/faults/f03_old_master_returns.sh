#!/bin/bash
# f03: the master is killed; once the failover is over it is restarted with
# its original configuration (no replicaof): it comes back empty and
# claiming the master role, until Sentinel converts it into a replica
# (about 8 s later). For 15 s (and at least until that conversion), polled
# every 50 ms: it is never ready in the write backend, never ready in the
# read backend while it says master, and it acknowledges no write.
# converge_ms: from the kill to the first poll at which the write backend
# has exactly Sentinel's new master ready. DETAIL: when it became a replica.
# Conditions are single-quoted and eval'd by hs_wait_until:
# shellcheck disable=SC2016,SC2034,SC2119
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
set -u -o pipefail
. "$(dirname "$0")/faultlib.sh"

hsf_setup f03_old_master_returns
hsf_start_lab_writing

old=$(hs_sentinel_master "$HS_MASTER") || hs_fail "no sentinel answers GET-MASTER-ADDR-BY-NAME"
oldname=$(hs_name_of_port "${old##*:}") || hs_fail "the master $old is not one of the lab's servers"
oldport=${old##*:}
hs_wait_until 5 '[ "$(grep -c "^A " "$HS_TMP/writer.txt")" -ge 200 ]' "200 acknowledged writes before the kill"
hs_log "SIGKILL to the master $oldname ($old)"
hsf_mark fault
hs_kill9 "$oldname"
hsf_wait_write_master "$HSF_FAILOVER_WAIT" "$old"
hsf_converged_ms fault
new=$HSF_NEW

# Every Sentinel names the same new master (the failover is over) before
# the old one comes back.
_all_sentinels_switched() {
	local n m
	new=
	for n in "${HS_SENTINEL_NAMES[@]}"; do
		m=$(hs_cli "${HS_PORT[$n]}" SENTINEL GET-MASTER-ADDR-BY-NAME "$HS_MASTER" | paste -sd:)
		[ -n "$m" ] && [ "$m" != "$old" ] || return 1
		[ -z "$new" ] || [ "$m" = "$new" ] || return 1
		new=$m
	done
}
hs_wait_until 10 _all_sentinels_switched "every Sentinel to name the same new master"

hs_log "restarting $oldname on $oldport with its original configuration (claims master)"
hsf_mark back
hs_start_redis "$oldname"
role=$(hs_role_via "$oldport")
[ "$role" = master ] || hs_log "note: $oldname already says '$role' at its first poll"

# Polls: the write set, the read set, then ROLE on the old master (in that
# order: a read set holding it while the ROLE asked afterwards still says
# master proves it was ready while claiming master).
polls=0 converted_ms='' bad=''
while :; do
	_hsf_now
	el=$((HSF_NOW - HSF_MARK[back]))
	hsf_poll_backends "$HS_WRITE_BACKEND" "$HS_READ_BACKEND"
	hsf_role_fast "$oldport"
	role=$HSF_ROLE
	hsf_poll_get "$HS_WRITE_BACKEND"
	wset=$HSF_GOT
	hsf_poll_get "$HS_READ_BACKEND"
	rset=$HSF_GOT
	polls=$((polls + 1))
	echo "+$el $role W=$wset R=$rset" >>"$HS_TMP/back.samples"
	[[ ,$wset, == *",$old,"* ]] && bad+="+${el}ms: $old ready in $HS_WRITE_BACKEND ($wset)"$'\n'
	if [ "$role" != slave ] && [[ ,$rset, == *",$old,"* ]]; then
		bad+="+${el}ms: $old ready in $HS_READ_BACKEND while ROLE says '$role'"$'\n'
	fi
	if [ -z "$converted_ms" ] && [ "$role" = slave ]; then
		converted_ms=$el
		hs_log "$oldname is a replica $el ms after its restart"
	fi
	if ((el >= 15000)); then
		[ -n "$converted_ms" ] && break
		((el < 30000)) || hs_fail "Sentinel did not convert $oldname into a replica within 30 s"
	fi
	hsf_pause 0.05
done
hsf_hapc_close
[ -z "$bad" ] || hs_fail "the returning old master was routed to:
$bad"
hs_log "$polls polls over $(hsf_since back) ms: $old never ready for writes, never for reads while master"

# It rejoins as a replica: synced and ready for reads again (Sentinel
# refreshes a replica's INFO every 10 s).
hs_wait_applied 20
HSF_RESULT_EXTRA="replica_after_ms=$converted_ms polls=$polls"
hsf_finish
