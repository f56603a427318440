#!/bin/bash
# f17: asymmetric partition. The master stays reachable by HAProxy, the
# agent, the replicas and the clients, but not by the Sentinels: every
# Sentinel connects from a loopback address of its own (bind-source-addr
# 127.A.B.C, from this test's pid) and iptables drops, silently, the
# packets from that address to the master's port (this test's rule only).
# Sentinel fails the master over and cannot reconfigure it: the old master
# keeps saying ROLE master and keeps accepting writes from anyone who still
# reaches it. The write backend must switch to Sentinel's new master and
# never take the old one back (polled every 20 ms, never two ready slots);
# a write acknowledged by the old master more than 250 ms after Sentinel
# announced the new one is a violation (HSF_GRACE_MS: the old master is up
# and keeps the role, so the agent's reaction time after the announcement,
# a few ms, shows as late_acks; such writes are lost). Healed, Sentinel
# converts the old master.
# converge_ms: from the DROP to the write backend on the new master.
# DETAIL: old_master_role (ROLE of the old master after the switch),
# converted_ms (from healing to the old master being a linked replica),
# write_outage_ms.
# Needs root (iptables): exit 77 otherwise.
# Conditions are single-quoted and eval'd by hs_wait_until:
# shellcheck disable=SC2016,SC2034,SC2119
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
set -u -o pipefail
. "$(dirname "$0")/faultlib.sh"

hsf_setup f17_master_hidden_from_sentinels
src=127.$((($$ >> 16) % 200 + 20)).$((($$ >> 8) % 256)).$(($$ % 250 + 2))
hs_log "starting r0 r1 r2"
hs_start_redis r0
hs_start_redis r1 replicaof "${HS_PORT[r0]}"
hs_start_redis r2 replicaof "${HS_PORT[r0]}"
hs_wait_until 10 _hs_lab_settled 'replicas r1 r2 linked to r0'
p0=${HS_PORT[r0]}
# The Sentinels connect from $src: loopback, but not 127.0.0.1, which is
# all that protected mode lets in (every node listens on 127.0.0.1 only).
for n in r0 r1 r2; do
	[ "$(hs_cli "${HS_PORT[$n]}" CONFIG SET protected-mode no)" = OK ] || hs_fail "CONFIG SET protected-mode no on $n"
done
hs_log "starting s0 s1 s2, connecting from $src"
for n in s0 s1 s2; do
	HS_PORT[$n]=$(hs_free_port)
	mkdir -p "$HS_TMP/$n"
	cat >"$HS_TMP/$n/sentinel.conf" <<-EOF2
		port ${HS_PORT[$n]}
		bind 127.0.0.1
		bind-source-addr $src
		protected-mode no
		daemonize no
		logfile ""
		dir $HS_TMP/$n
		sentinel resolve-hostnames no
		sentinel announce-ip 127.0.0.1
		sentinel monitor $HS_MASTER 127.0.0.1 $p0 2
		sentinel down-after-milliseconds $HS_MASTER $HS_DOWN_AFTER_MS
		sentinel failover-timeout $HS_MASTER $HS_FAILOVER_TIMEOUT_MS
		sentinel parallel-syncs $HS_MASTER 1
	EOF2
	hs_start_sentinel "$n" "$p0"
done
hs_wait_lab_settled
from=$(ss -Htn "( dport = :$p0 )" | awk '{ split($4, a, ":"); print a[1] }' | sort -u | paste -sd' ')
[[ " $from " == *" $src "* ]] || hs_skip "Sentinel does not connect from bind-source-addr $src (sources to the master: $from)"
hs_start_haproxy
hs_start_agent
hs_wait_applied 5
hsf_start_events
hsf_start_writer

old=$(hs_sentinel_master "$HS_MASTER") || hs_fail "no sentinel answers GET-MASTER-ADDR-BY-NAME"
hsf_start_sampler lab 0.02 "$HS_WRITE_BACKEND"
hs_wait_until 5 '[ "$(grep -c "^A " "$HS_TMP/writer.txt")" -ge 200 ]' "200 acknowledged writes before the fault"
hs_log "dropping every packet from $src to the master $old"
hsf_mark fault
command -v iptables >/dev/null 2>&1 || hs_skip "iptables not installed"
iptables -w 5 -I INPUT -i lo -s "$src" -p tcp --dport "$p0" -m comment --comment "hsf$$" -j DROP 2>"$HS_TMP/ipt.err" ||
	hs_skip "iptables refuses a rule (needs root / CAP_NET_ADMIN): $(cat "$HS_TMP/ipt.err")"
HSF_IPT+=("INPUT -i lo -s $src -p tcp --dport $p0 -m comment --comment hsf$$ -j DROP")
hsf_wait_write_master "$HSF_FAILOVER_WAIT" "$old"
hsf_converged_ms fault
new=$HSF_NEW
hsf_mark converged
role=$(hs_role_via "$p0")
hs_log "write backend on $new; the old master still says ROLE $role"
hs_wait_until 5 '(($(hsf_acks_since "${HSF_MARK[converged]}") >= 100))' "100 writes acknowledged after the switch"
# 3 s more with two nodes saying master: the old one must stay out.
sleep 3
hs_log "healing"
hsf_mark heal
hsf_ipt_clear
hs_wait_until 30 '[ "$(hs_role_via "$p0")" = slave ] && hs_cli "$p0" INFO replication | grep -q "^master_link_status:up"' \
	"Sentinel to convert the old master into a linked replica"
converted=$(hsf_since heal)
hs_wait_applied 20
hsf_stop_sampler lab

multi=$(hsf_sampler_multi lab "$HS_WRITE_BACKEND")
[ "$multi" = 0 ] || hs_fail "$multi polls saw more than one ready server in $HS_WRITE_BACKEND"
back=$(hsf_sampler_has lab "$HS_WRITE_BACKEND" "$old" "${HSF_MARK[converged]}")
[ "$back" = 0 ] || hs_fail "the old master $old was ready in $HS_WRITE_BACKEND again at $back polls after the switch"
HSF_RESULT_EXTRA="old_master_role=$role converted_ms=$converted write_outage_ms=$(hsf_outage_ms "${HSF_MARK[fault]}") polls=$(hsf_sampler_count lab)"
hsf_finish
