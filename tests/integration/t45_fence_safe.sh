#!/bin/bash
# Early fence (topo.h F1-F2): no hold while the master is in fact fine.
#  1. A partition between the agent and the master alone: the agent runs as
#     its own user (uid 65534) and an iptables rule of this test drops that
#     user's packets to the master's port; the agent's idle connection to the
#     master is then cut (CLIENT KILL). Its fresh connection times out: no
#     death, no fence. The master stays ready for writes all along.
#  2. o_down without a failover (every replica has replica-priority 0): the
#     master is frozen (SIGSTOP) past down-after, the Sentinels agree it is
#     down (+odown) and it is fenced; resumed (SIGCONT), -odown, it takes
#     writes again at once, Sentinel still naming it at the same epoch (or
#     once a Sentinel that lost the vote has ended its failover attempt).
# Needs root (iptables, setpriv); skipped otherwise.
# Conditions are single-quoted and eval'd by hs_wait_until:
# shellcheck disable=SC2016,SC2034,SC2119
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
set -u -o pipefail
. "$(dirname "$0")/../faults/faultlib.sh"

AGENT_UID=65534
IPT_RULE=()

hsf_setup t45_fence_safe
[ "$(id -u)" = 0 ] || hs_skip "needs root (iptables, setpriv)"
hs_require_bin iptables setpriv
# Our own EXIT trap: the iptables rule goes first, then the usual cleanup.
_t45_cleanup() {
	local rc=$?
	[ "${#IPT_RULE[@]}" = 0 ] || iptables -D OUTPUT "${IPT_RULE[@]}" 2>/dev/null
	(exit "$rc")
	_hsf_cleanup
}
trap _t45_cleanup EXIT

hs_start_lab
hs_start_haproxy
# The agent as uid 65534, group root: it reads its config and reaches
# HAProxy's admin socket (mode 660) through the group; the status socket is
# created in the temp dir.
chmod 770 "$HS_TMP"
HS_AGENT_WRAPPER="setpriv --reuid=$AGENT_UID --regid=0 --clear-groups" hs_start_agent
hs_wait_applied 5
hsf_start_events

fenced() {
	hs_agent_status | jq -r --arg n "$HS_MASTER" '.masters[] | select(.name == $n) | .fenced'
}
old=$(hs_sentinel_master "$HS_MASTER") || hs_fail "no sentinel answers GET-MASTER-ADDR-BY-NAME"
mport=${HS_PORT[r0]}
[ "$old" = "127.0.0.1:$mport" ] || hs_fail "r0 is not the master ($old)"
# The agent's watch: the client of r0 that sent nothing, or only the agent's
# ROLE (the master's confirmation rides on it).
watch_ids() {
	hs_cli "$mport" CLIENT LIST | awk '/ cmd=(NULL|role) / { for (i = 1; i <= NF; i++) if ($i ~ /^id=/) print substr($i, 4) }'
}
hs_wait_until 5 '[ -n "$(watch_ids)" ]' "the agent's idle connection to the master"

# ---- 1. partition between the agent and the master alone
hsf_start_writer 5
hsf_start_sampler w 0.02 "$HS_WRITE_BACKEND"
IPT_RULE=(-p tcp -d 127.0.0.1 --dport "$mport" -m owner --uid-owner "$AGENT_UID" -j DROP)
iptables -I OUTPUT "${IPT_RULE[@]}" || hs_fail "cannot add the iptables rule"
hsf_mark cut
for id in $(watch_ids); do hs_cli "$mport" CLIENT KILL ID "$id" >/dev/null; done
hs_wait_until 5 'grep -q "watch of $old.*connect timeout" "$HS_TMP/agent.log"' \
	"the agent's fresh connection to the master to time out"
# Longer than a resync tick and a ROLE re-check (every 5 ticks).
hs_wait_until 15 '(($(hsf_since cut) >= 6000))' "6 s of partition"
[ "$(fenced)" = none ] || hs_fail "fenced during a partition between the agent and the master: $(fenced)"
hsf_stop_sampler w
gaps=$(awk -v be="$HS_WRITE_BACKEND=$old" -v from="${HSF_MARK[cut]}" '$1 >= from && $2 != be { n++ } END { print n + 0 }' "$HS_TMP/w.samples")
[ "$gaps" = 0 ] || hs_fail "the master left the write backend $gaps times during the partition"
iptables -D OUTPUT "${IPT_RULE[@]}" && IPT_RULE=()
hs_log "partition: no fence, the master stayed ready ($(hsf_sampler_count w) polls)"
hs_wait_until 10 '[ -n "$(watch_ids)" ]' "the agent to watch the master again"
hsf_stop_writer

# ---- 2. o_down, no failover possible, master back
for n in r1 r2; do
	hs_cli "${HS_PORT[$n]}" CONFIG SET replica-priority 0 >/dev/null || hs_fail "CONFIG SET on $n"
done
# Sentinel reads a replica's INFO every 10 s.
hs_wait_until 25 '[ "$(hs_cli "${HS_PORT[s0]}" SENTINEL REPLICAS "$HS_MASTER" | grep -A1 -x slave-priority | grep -cx 0)" = 2 ]' \
	"Sentinel to see replica-priority 0 on both replicas"
epoch0=$(_hs_sentinel_field "${HS_PORT[s0]}" config-epoch)
hsf_start_sampler w2 0.02 "$HS_WRITE_BACKEND"
hsf_mark stop
kill -STOP "${HS_PID[r0]}"
hs_wait_until 10 'hsf_events | grep -q " +odown master $HS_MASTER "' "+odown"
t_odown=$(hsf_events | awk -v m="$HS_MASTER" '$3 == "+odown" && $5 == m { print $1; exit }')
hsf_wait_sets 5 "" -
hs_log "fenced $((HSF_NOW - t_odown)) ms after the first +odown"
[ "$(fenced)" = odown ] || hs_fail "the agent reports fence '$(fenced)', expected odown"
hsf_mark cont
kill -CONT "${HS_PID[r0]}"
hs_wait_until 10 'hsf_events | grep -q " -odown master $HS_MASTER "' "-odown"
# A Sentinel that started a failover and lost the vote keeps its attempt
# (failover_in_progress) until its election timeout, min(10 s,
# failover-timeout); F2 keeps the fence while a counted Sentinel has a
# failover in progress. So the master is due back once -odown is out and
# every attempt has ended (here each ends in an abort: no replica may be
# promoted).
attempts_open() {
	hsf_events | awk -v m="$HS_MASTER" '$3 == "+try-failover" && $5 == m { n++ }
		$3 ~ /^-failover-abort-/ && $5 == m { n-- } END { print n + 0 }'
}
hs_wait_until 15 '(($(attempts_open) <= 0))' "every failover attempt to end"
hsf_wait_sets 5 "$old" -
t_mback=$(hsf_since cont)
t_unodown=$(hsf_events | awk -v m="$HS_MASTER" '$3 == "-odown" && $5 == m { print $1; exit }')
t_abort=$(hsf_events | awk -v m="$HS_MASTER" '$3 ~ /^-failover-abort-/ && $5 == m { t = $1 } END { print (t == "" ? 0 : t) }')
if ((t_abort > t_unodown)); then
	hs_log "a failover attempt ended $((t_abort - t_unodown)) ms after the first -odown"
	t_unodown=$t_abort
fi
hs_log "r0 ready for writes $t_mback ms after SIGCONT, $((HSF_NOW - t_unodown)) ms after the first -odown (or the last attempt's end)"
hsf_stop_sampler w2
[ "$(hs_sentinel_master "$HS_MASTER")" = "$old" ] || hs_fail "a failover happened"
[ "$(_hs_sentinel_field "${HS_PORT[s0]}" config-epoch)" = "$epoch0" ] || hs_fail "the epoch changed"
[ -z "$(hsf_promotions)" ] || hs_fail "Sentinel promoted a replica"
hs_wait_until 5 '[ "$(fenced)" = none ]' "the fence to be lifted"
# The failover timeline opened by the fence ends with the master back.
hsf_check_no_failover_timeline "$old"
multi=$(hsf_sampler_multi w2 "$HS_WRITE_BACKEND")
[ "$multi" = 0 ] || hs_fail "$multi polls saw more than one ready server"
# Once -odown is out and no failover is in progress, it must not take more
# than a ROLE round trip and a reconcile (generous: a loaded runner).
((HSF_NOW - t_unodown <= 2000)) || hs_fail "the master took $((HSF_NOW - t_unodown)) ms after -odown to take writes"
hs_log "t45_fence_safe: ok"
