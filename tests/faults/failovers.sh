#!/bin/bash
# Many consecutive failovers: the agent's file descriptors and memory stay
# flat. `make failovers FAILOVERS=N` (default 1000; ./run check runs 20).
#
# The lab, HAProxy and the agent as in the fault suite; then N times:
# SENTINEL FAILOVER (a manual failover: no down-after to wait for, so a
# cycle takes about as long as Sentinel's promotion and reconfiguration),
# until every Sentinel names another master with no failover in progress,
# and the write backend has exactly it. The agent's open descriptors and RSS are sampled before the first
# failover, after a warm-up (a tenth of the cycles, at least 5: its rings
# of recent events and timelines fill up first) and every tenth of the way.
# Fails when at the end the agent holds more descriptors than at the start,
# or its RSS grew by more than FAILOVERS_RSS_SLACK_KB (default 512) since
# the warm-up, or a cycle did not converge within 60 s. Prints a table and
#   failovers: N cycles, cycle ms (request to settled) median/p99/max, fds A -> B, rss_kb C -> D
# Conditions are single-quoted and eval'd by hs_wait_until:
# shellcheck disable=SC2016
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
set -u -o pipefail
. "$(dirname "$0")/faultlib.sh"

N=${FAILOVERS:-1000}
SLACK_KB=${FAILOVERS_RSS_SLACK_KB:-512}
[[ $N =~ ^[0-9]+$ ]] && ((N >= 1)) || hs_fail "FAILOVERS must be a positive number, got '$N'"
WARM=$((N / 10))
((WARM >= 5)) || WARM=5
((WARM <= N)) || WARM=$N
EVERY=$(((N + 9) / 10))

hsf_setup failovers
hs_start_lab
hs_start_haproxy
hs_start_agent
hs_wait_applied 10
apid=${HS_PID[agent]}

fds() { find "/proc/$apid/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l; }
rss() { awk '$1 == "VmRSS:" { print $2 }' "/proc/$apid/status"; }
sample() { printf '%6s %6s %6s %8s\n' "$1" "$(fds)" "$(rss)" "${2:--}" >>"$HS_TMP/samples"; }

# One manual failover through the first Sentinel that accepts it (another
# may still be finishing the last one: INPROG, or NOGOODSLAVE while the
# replicas reconfigure).
ask_failover() {
	local n r
	for n in "${HS_SENTINEL_NAMES[@]}"; do
		r=$(hs_cli "${HS_PORT[$n]}" SENTINEL FAILOVER "$HS_MASTER") || continue
		[ "$r" = OK ] && return 0
	done
	return 1
}
# Settled on a master other than $old: every Sentinel names it and none
# has a failover in progress (a leader finishes its failover after the
# others already announce it: a new request then would race it), and the
# write backend has exactly it.
switched() {
	local n m= a flags
	for n in "${HS_SENTINEL_NAMES[@]}"; do
		a=$(hs_cli "${HS_PORT[$n]}" SENTINEL GET-MASTER-ADDR-BY-NAME "$HS_MASTER" | paste -sd:) || return 1
		[ -n "$m" ] || m=$a
		[ "$a" = "$m" ] || return 1
		flags=$(hs_cli "${HS_PORT[$n]}" SENTINEL MASTER "$HS_MASTER" | awk 'p { print; exit } $0 == "flags" { p = 1 }')
		[ "$flags" = master ] || return 1
	done
	[ "$m" != "$old" ] && [ "$(hs_ready_servers "$HS_WRITE_BACKEND")" = "$m" ]
}

printf '%6s %6s %6s %8s\n' cycle fds rss_kb cycle_ms >"$HS_TMP/samples"
sample 0
fd0=$(fds)
: >"$HS_TMP/switch_ms"
for ((i = 1; i <= N; i++)); do
	old=$(hs_sentinel_master "$HS_MASTER") || hs_fail "cycle $i: no Sentinel names a master"
	t0=$(hs_now_ms)
	hs_wait_until 60 ask_failover "cycle $i: a Sentinel to accept SENTINEL FAILOVER"
	hs_wait_until 60 switched "cycle $i: Sentinel to name a new master and the write backend to have exactly it"
	ms=$(($(hs_now_ms) - t0))
	echo "$ms" >>"$HS_TMP/switch_ms"
	hs_alive "$apid" || hs_fail "cycle $i: the agent died"
	if ((i == WARM)); then
		sample "$i" "$ms"
		rss_warm=$(rss)
	elif ((i % EVERY == 0 || i == N)); then
		sample "$i" "$ms"
	fi
done
fd1=$(fds)
rss1=$(rss)
hs_wait_applied 30
cat "$HS_TMP/samples"
read -r med p99 max < <(sort -n "$HS_TMP/switch_ms" | awk '{ v[NR] = $1 } END {
	i99 = int(NR * 0.99); if (i99 < 1) i99 = 1; if (i99 > NR) i99 = NR
	print v[int((NR + 1) / 2)], v[i99], v[NR] }')
echo "failovers: $N cycles, cycle ms (request to settled) median/p99/max $med/$p99/$max, fds $fd0 -> $fd1, rss_kb $rss_warm (after $WARM) -> $rss1"
((fd1 <= fd0)) || hs_fail "the agent holds $fd1 descriptors after $N failovers, $fd0 before"
((rss1 - rss_warm <= SLACK_KB)) ||
	hs_fail "the agent's RSS grew by $((rss1 - rss_warm)) kB from cycle $WARM to $N (slack $SLACK_KB kB)"
