#!/bin/bash
# f24: HAProxy with nbthread 4, a burst of new connections while the write
# slot moves again and again. Four churners (hs_writer churn) open new
# connections through the write port as fast as they can, each asking the
# node behind it for INFO server and ROLE; meanwhile the master is moved by
# SENTINEL FAILOVER, one after the other, for about 25 s. Each move is the
# agent's maint -> addr -> ready sequence on other slots while connections
# are being set up on the other threads (HAProxy 2.6 lacks the fix for
# "set server addr" racing with a connection setup on another thread: the
# agent only changes the address of a slot in MAINT, which no new
# connection can pick).
# Checked: every connection answered by a node saying ROLE master; never
# two ready write slots (polled every 20 ms); a connection on the previous
# master after Sentinel announced the new one is only allowed within the
# agent's reaction time (bounded: 1 s; reported as late / max_late_ms). In
# a manual failover the old master keeps the role until Sentinel
# reconfigures it, after the switch, so there is no writer here: that
# window is Sentinel's, not what this scenario is about.
# RESULT: acked = connections, acked_by_non_master = connections on a node
# that did not say ROLE master.
# converge_ms: the longest of the moves (SENTINEL FAILOVER to the write
# backend on the new master). DETAIL: moves, threads, late, max_late_ms.
# Conditions are single-quoted and eval'd by hs_wait_until:
# shellcheck disable=SC2016,SC2034,SC2119
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
set -u -o pipefail
. "$(dirname "$0")/faultlib.sh"

hsf_setup f24_nbthread_burst
sed 's/^global$/global\n    nbthread 4/' "$HS_HAPROXY_CFG" >"$HS_TMP/haproxy-mt.cfg"
grep -q '^    nbthread 4$' "$HS_TMP/haproxy-mt.cfg" || hs_fail "could not add nbthread 4 to $HS_HAPROXY_CFG"
HS_HAPROXY_CFG=$HS_TMP/haproxy-mt.cfg
hs_start_lab
hs_start_haproxy
threads=$(hs_hap show info | awk '$1 == "Nbthread:" { print $2 }')
[ "$threads" = 4 ] || hs_fail "HAProxy runs $threads threads, expected 4"
hs_start_agent
hs_wait_applied 5
hsf_start_events
m=$(hs_sentinel_master "$HS_MASTER") || hs_fail "no sentinel answers GET-MASTER-ADDR-BY-NAME"
HSF_M0=${m##*:}
for i in 1 2 3 4; do
	_hs_spawn "$HS_TMP/churn$i.out" "$HSF_WRITER" 127.0.0.1 "$HS_WRITE_PORT" churn "$HS_TMP/churn$i.txt" 120 0 churn
	hs_register "churn$i" "$HS_BG_PID"
done
hsf_start_sampler lab 0.02 "$HS_WRITE_BACKEND"
hs_wait_until 5 '[ "$(cat "$HS_TMP"/churn*.txt | grep -c "^R ")" -ge 200 ]' "200 churned connections"

moves=0
worst=0
t_end=$(($(hs_now_ms) + 25000))
while (($(hs_now_ms) < t_end)); do
	m=$(hs_sentinel_master "$HS_MASTER") || hs_fail "no sentinel answers GET-MASTER-ADDR-BY-NAME"
	# a failover needs every replica known and linked (and the previous one finished)
	hs_wait_until 30 '_hs_lab_settled && _hs_applied' "the lab to settle before move $((moves + 1))"
	t0=$(hs_now_ms)
	out=$(hs_cli "${HS_PORT[s$((moves % 3))]}" SENTINEL FAILOVER "$HS_MASTER")
	if [ "$out" != OK ]; then
		hs_log "SENTINEL FAILOVER answered '$out'; retrying"
		sleep 0.5
		continue
	fi
	hsf_wait_write_master "$HSF_FAILOVER_WAIT" "$m"
	d=$(($(hs_now_ms) - t0))
	((d > worst)) && worst=$d
	moves=$((moves + 1))
	hs_log "move $moves: $m -> $HSF_NEW in $d ms"
done
for i in 1 2 3 4; do
	hs_stop "${HS_PID[churn$i]}"
done
hs_wait_applied 30
hsf_stop_sampler lab
HSF_CONVERGE_MS=$worst

multi=$(hsf_sampler_multi lab "$HS_WRITE_BACKEND")
[ "$multi" = 0 ] || hs_fail "$multi polls saw more than one ready server in $HS_WRITE_BACKEND"
cat "$HS_TMP"/churn*.txt | grep '^R ' | sort -n -k2,2 >"$HS_TMP/churn.txt"
conns=$(wc -l <"$HS_TMP/churn.txt")
notmaster=$(awk '$4 != "master"' "$HS_TMP/churn.txt" | wc -l)
# on the announced master of the time, or late on the previous one
promos=$(hsf_promotions)
read -r wrong late maxlate early < <(awk -v m0="$HSF_M0" 'FILENAME == ARGV[1] { pt[++np] = $1; pp[np] = $2; next }
	{
		cur = m0; prev = ""; at = 0
		for (i = 1; i <= np && pt[i] <= $2; i++) { prev = cur; cur = pp[i]; at = pt[i] }
		if ($3 == cur) next
		if ($3 == prev && $2 - at <= 1000) { late++; if ($2 - at > ml) ml = $2 - at; next }
		# the next master, just before our subscriber saw the announcement
		# (it reads events later than the agent does)
		if (i <= np && $3 == pp[i] && pt[i] - $2 <= 1000) { early++; next }
		wrong++
	}
	END { print wrong + 0, late + 0, ml + 0, early + 0 }' <(echo "$promos") "$HS_TMP/churn.txt")
hs_log "$moves moves, $conns connections, $notmaster answered by a non-master role, $late late on the previous master (max $maxlate ms after the announcement), $early on the next master just before our subscriber saw its announcement, $wrong elsewhere"
((moves >= 3)) || hs_fail "only $moves moves in 25 s"
((notmaster == 0)) || hs_fail "$notmaster connections landed on a node that did not say ROLE master: $(awk '$4 != "master"' "$HS_TMP/churn.txt" | head -n 5 | paste -sd'|')"
((wrong == 0)) || hs_fail "$wrong connections landed on a node other than the announced master (or the previous one within 1 s)"
hsf_check_write_backend
echo "RESULT scenario=$HSF_NAME converge_ms=$HSF_CONVERGE_MS acked=$conns acked_by_non_master=$notmaster lost_to_replication=0"
echo "DETAIL scenario=$HSF_NAME moves=$moves threads=$threads late=$late max_late_ms=$maxlate early=$early polls=$(hsf_sampler_count lab)"
hs_log "$HSF_NAME: ok"
