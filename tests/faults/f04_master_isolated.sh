#!/bin/bash
# f04: the master is cut off the network (a partition, not a crash), with a
# writer on the write port; healed after the failover.
# The master runs in a network namespace of its own, reached over a veth
# pair: HSF_ROOT_IP (10.231.X.1, root side) <-> HSF_NS_IP (10.231.X.2, its
# side). Sentinels, HAProxy, the agent and the writer stay in the root
# namespace; the Sentinels monitor HSF_NS_IP. The replicas listen on
# 127.0.0.1 and on HSF_ROOT_IP and announce HSF_ROOT_IP: after the failover
# the old master, back from the partition, must reach the new master, and
# 127.0.0.1 inside its namespace would be its own loopback.
# The partition: the namespace side of the veth goes down (every packet
# between the two sides is dropped; no RST, no ICMP). Healing: up again.
# After the switch the old master takes no write through the write port
# (polled every 50 ms: never in the write backend again); healed, Sentinel
# converts it into a replica of the new master and it syncs.
# converge_ms: from the partition to the first poll at which the write
# backend has exactly Sentinel's new master ready. DETAIL: replica_after_ms
# (from healing to the old master saying ROLE slave with its link up),
# write_outage_ms, read_empty_ms (as in f01).
# Needs root (network namespaces): exit 77 otherwise.
# Conditions are single-quoted and eval'd by hs_wait_until:
# shellcheck disable=SC2016,SC2034,SC2119
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
set -u -o pipefail
. "$(dirname "$0")/faultlib.sh"

hsf_setup f04_master_isolated
hsf_netns_create

hs_log "starting r0 in $HSF_NS ($HSF_NS_IP), r1 r2 on 127.0.0.1 + $HSF_ROOT_IP"
hsf_start_redis_ns r0
p0=${HS_PORT[r0]}
hsf_start_redis_announced r1 replicaof "$HSF_NS_IP" "$p0"
hsf_start_redis_announced r2 replicaof "$HSF_NS_IP" "$p0"
hs_wait_until 10 'for n in r1 r2; do hs_cli "${HS_PORT[$n]}" INFO replication | grep -q "^master_link_status:up" || exit 1; done' \
	"r1 and r2 linked to r0 over the veth"

hs_log "starting s0 s1 s2 (monitoring $HSF_NS_IP:$p0)"
for n in s0 s1 s2; do
	HS_PORT[$n]=$(hs_free_port)
	mkdir -p "$HS_TMP/$n"
	cat >"$HS_TMP/$n/sentinel.conf" <<-EOF2
		port ${HS_PORT[$n]}
		bind 127.0.0.1
		daemonize no
		logfile ""
		dir $HS_TMP/$n
		sentinel resolve-hostnames no
		sentinel announce-ip 127.0.0.1
		sentinel monitor $HS_MASTER $HSF_NS_IP $p0 2
		sentinel down-after-milliseconds $HS_MASTER $HS_DOWN_AFTER_MS
		sentinel failover-timeout $HS_MASTER $HS_FAILOVER_TIMEOUT_MS
		sentinel parallel-syncs $HS_MASTER 1
	EOF2
	hs_start_sentinel "$n" "$p0"
done
settled() {
	local n
	for n in s0 s1 s2; do
		[ "$(_hs_sentinel_field "${HS_PORT[$n]}" num-other-sentinels)" = 2 ] || return 1
		[ "$(_hs_sentinel_field "${HS_PORT[$n]}" num-slaves)" = 2 ] || return 1
	done
}
hs_wait_until 20 settled "every sentinel to know the 2 others and the 2 replicas"

old=$HSF_NS_IP:$p0
replicas=$(printf '%s\n' "$HSF_ROOT_IP:${HS_PORT[r1]}" "$HSF_ROOT_IP:${HS_PORT[r2]}" | sort | paste -sd,)
[ "$(hs_sentinel_master "$HS_MASTER")" = "$old" ] || hs_fail "Sentinel's master is not $old"
hs_start_haproxy
hs_start_agent
hsf_wait_sets 10 "$old" "$replicas"
hsf_start_events
hsf_start_writer
[ "$HSF_M0" = "$p0" ] || hs_fail "the writer's master is port $HSF_M0, expected $p0"
hs_wait_until 5 '[ "$(grep -c "^A " "$HS_TMP/writer.txt")" -ge 200 ]' "200 acknowledged writes before the partition"

hsf_start_sampler lab 0.05 "$HS_WRITE_BACKEND" "$HS_READ_BACKEND"
hs_log "partition: $HSF_VETH_NS down in $HSF_NS"
hsf_mark fault
hsf_netns_isolate
hsf_wait_write_master "$HSF_FAILOVER_WAIT" "$old"
hsf_converged_ms fault
new=$HSF_NEW
hs_log "write backend on the new master $new"
hsf_mark converged
hs_wait_until 5 '(($(hsf_acks_since "${HSF_MARK[converged]}") >= 100))' "100 writes acknowledged after the switch"

hs_log "healing the partition"
hsf_mark heal
hsf_netns_heal
role=$(hsf_cli "$HSF_NS_IP" "$p0" ROLE | head -n 1)
hs_log "the old master answers again, ROLE: $role"
hs_wait_until 30 '[ "$(hsf_cli "$HSF_NS_IP" "$p0" ROLE | head -n 1)" = slave ] &&
	hsf_cli "$HSF_NS_IP" "$p0" INFO replication | grep -q "^master_link_status:up"' \
	"the old master to become a replica with its link up"
replica_after=$(hsf_since heal)
hs_log "old master is a linked replica $replica_after ms after healing"
hsf_stop_sampler lab

# From the switch on, the old master was never ready for writes again (also
# not after healing, while it still claimed the role).
back=$(hsf_sampler_has lab "$HS_WRITE_BACKEND" "$old" $((HSF_MARK[fault] + HSF_CONVERGE_MS)))
[ "$back" = 0 ] || hs_fail "the old master $old was ready in $HS_WRITE_BACKEND again at $back polls after the switch"
multi=$(hsf_sampler_multi lab "$HS_WRITE_BACKEND")
[ "$multi" = 0 ] || hs_fail "$multi polls saw more than one ready server in $HS_WRITE_BACKEND"
HSF_RESULT_EXTRA="write_outage_ms=$(hsf_outage_ms "${HSF_MARK[fault]}") read_empty_ms=$(hsf_sampler_empty_ms lab "$HS_READ_BACKEND" "${HSF_MARK[fault]}") replica_after_ms=$replica_after polls=$(hsf_sampler_count lab)"
hsf_finish
