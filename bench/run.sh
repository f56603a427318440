#!/bin/bash
# hasentinel's benchmarks: `make bench` runs this with top_srcdir,
# top_builddir, HASENTINEL and HASENTINELCTL exported.
#
#   bench/run.sh                 every section, then one table on stdout
#   bench/run.sh SECTION         one section (parse, lab, scale); its rows go
#                                to $BENCH_RESULTS (a TSV file) when set
#
# Sections
#   parse  bench_parse: sev_parse events/s, hap_state_parse rows/s,
#          plan_backend plans/s, one reconcile pass at 1000 groups
#   lab    one real lab (3 redis-server, 3 redis-sentinel, lib.sh timings)
#          with three HAProxy side by side, all seeing the same kills:
#            (a) bench/haproxy-tcpcheck.cfg: HAProxy finds the master itself
#                with tcp-check (INFO replication, role:master), no agent
#            (b) haproxy/haproxy.cfg driven by hasentinel
#            (c) haproxy/haproxy.cfg + `retries 0` in the write backend,
#                driven by a second hasentinel (a tuning candidate)
#          1. failover routing lag: BENCH_N kills of the master (the killed
#             node comes back as a replica, then everything settles), one
#             writer (tests/tools/hs_writer, ~1 write/ms) through each write
#             port, Sentinel events timestamped by bench_sub on every
#             Sentinel, the agent's own lag from its log
#          2. the old master comes back with its original config (claiming
#             master) while writers run for 15 s: a persistent one and one
#             that reconnects every second, per mode (a) and (b)
#          3. data plane: redis-benchmark direct vs through haproxy.cfg's
#             write port (and a few HAProxy tuning variants), alternating,
#             medians of 3 rounds
#   hold   the failover window as clients see it: one lab, HAProxy with the
#          hold (hasentinel.lua) and the agent's early fence, side by side
#          with variants (o_down fence only, no fence, no hold) and the
#          tcp-check setup; BENCH_HOLD_N master SIGKILLs (default 3); per
#          mode a writer every 5 ms reconnecting after errors + a pool of
#          20 persistent connections (bench/bench_clients): failed commands,
#          failed new connections, p99/max write latency, release after
#          HAProxy's ack; and, before the kills, connection setup with and
#          without the hold (bench_connrate: alternating rounds, conn/s and
#          HAProxy's CPU time per connection)
#   scale  one agent, 3 fake_sentinel (tests/tools), bench/fake_redis for
#          the Redis nodes (ROLE says master), a real haproxy with a write and
#          a read backend per group (generated): 1, 100, 1000 groups; RSS and
#          CPU from /proc; resync after an HAProxy restart (natural, and
#          forced with SIGHUP), a mass failover (SIGUSR1 to every
#          fake_sentinel); at 1000 groups again with resync-interval 5000
#          when idle CPU is 1% or more
#
# Environment
#   BENCH_N=6          kills per mode (>= 5 for the report; QUICK: 2)
#   BENCH_ONLY="hold"  sections `make bench` runs (default: parse lab hold scale)
#   BENCH_SCALE_LOG_LEVEL=debug  the scale agent's log level (default info)
#   BENCH_SCALE_PERF=FILE  perf record -g the scale agent over one phase into
#                      FILE.GROUPS (build with -fno-omit-frame-pointer)
#   BENCH_SCALE_PERF_AT=restart  that phase: failover (default: the mass
#                      failover alone), restart (the HAProxy restarts) or
#                      idle (the idle CPU window)
#   BENCH_SCALE_IDLE_S=20  seconds of the scale section's idle CPU window
#                      (default 10: CPU ticks are 10 ms, so 1 tick = 0.1 %)
#   BENCH_QUICK=1      smoke run: fewer kills, smaller data plane, 1 and 100
#                      groups only
#   BENCH_LOAD_WAIT=60 seconds to wait, before each section, for the 1-min
#                      load average to drop below BENCH_LOAD_MAX (nproc / 2)
#   HS_KEEP=1          keep each section's temp dir
#
# Everything runs on 127.0.0.1 in mktemp -d directories; every process is
# started by this script, recorded by pid and stopped by pid at exit.
# Conditions are passed single-quoted to hs_wait_until (SC2016); variables
# are read by sourced helpers (SC2034).
# shellcheck disable=SC2016,SC2034
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
set -u -o pipefail

BENCH_SELF=$(cd "$(dirname "$0")" && pwd)/$(basename "$0")
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
top_builddir=${top_builddir:-$top_srcdir}
export top_srcdir top_builddir
BENCH_BIN=$top_builddir/bench
TOOLS_BIN=$top_builddir/tests/tools
BENCH_QUICK=${BENCH_QUICK:-0}
if [ "$BENCH_QUICK" = 1 ]; then BENCH_N=${BENCH_N:-2}; else BENCH_N=${BENCH_N:-6}; fi
BENCH_LOAD_WAIT=${BENCH_LOAD_WAIT:-60}
BENCH_SECTION=${1:-all}

# ------------------------------------------------------------ results

# res METRIC MODE VALUE [TARGET] [OK]: one row of the final table.
res() {
	local f=${BENCH_RESULTS:-/dev/stdout}
	printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$BENCH_SECTION" "$1" "$2" "$3" "${4:--}" "${5:--}" >>"$f"
}

# note TEXT: a line printed under the table.
note() {
	local f=${BENCH_NOTES:-/dev/stderr}
	printf '%s: %s\n' "$BENCH_SECTION" "$*" >>"$f"
}

# stats: numbers on stdin -> "n min median p99 max" (nearest rank; empty -> "0 - - - -")
stats() {
	sort -g | awk '{ v[NR] = $1 }
		END {
			if (NR == 0) { print "0 - - - -"; exit }
			p = int(NR * 0.99); if (p < NR * 0.99) p++
			m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
			printf "%d %s %s %s %s\n", NR, v[1], m, v[p], v[NR]
		}'
}

# "min / median / max (n=N)" of numbers on stdin
mmm() {
	local n mn md p99 mx
	read -r n mn md p99 mx < <(stats)
	if [ "$n" = 0 ]; then echo "no samples"; return; fi
	printf '%s / %s / %s (n=%s)' "$mn" "$md" "$mx" "$n"
}

median() {
	local n mn md p99 mx
	read -r n mn md p99 mx < <(stats)
	echo "$md"
}

# ok_if EXPR: "yes" or "no" from an awk expression over the variables given
# as NAME=VALUE arguments, e.g. ok_if 'v < 5' v=3
ok_if() {
	local expr=$1 a args=()
	shift
	for a in "$@"; do args+=(-v "$a"); done
	if awk "${args[@]}" "BEGIN { exit !($expr) }" 2>/dev/null; then echo yes; else echo no; fi
}

load1() {
	cut -d' ' -f1 /proc/loadavg
}

# Wait (bounded) for the machine to be quiet: other test runs share it.
wait_low_load() {
	local max=${BENCH_LOAD_MAX:-} deadline now l
	[ -n "$max" ] || max=$(awk -v n="$(nproc)" 'BEGIN { print n / 2 }')
	deadline=$(($(date +%s) + BENCH_LOAD_WAIT))
	while :; do
		l=$(load1)
		awk -v l="$l" -v m="$max" 'BEGIN { exit !(l < m) }' && break
		now=$(date +%s)
		if ((now >= deadline)); then
			echo "load $l still >= $max after ${BENCH_LOAD_WAIT}s: running anyway" >&2
			break
		fi
		echo "load $l >= $max: waiting (at most $((deadline - now)) s more)" >&2
		sleep 5
	done
}

# /proc/PID/stat utime + stime, in clock ticks
cpu_ticks() {
	local line rest
	read -r line <"/proc/$1/stat" || return 1
	rest=${line##*) }
	# shellcheck disable=SC2086
	set -- $rest
	echo $((${12} + ${13}))
}

rss_kb() {
	awk '$1 == "VmRSS:" { print $2 }' "/proc/$1/status"
}

hwm_kb() {
	awk '$1 == "VmHWM:" { print $2 }' "/proc/$1/status"
}

# Reset the peak RSS (VmHWM) of our own process to its current RSS.
hwm_reset() {
	echo 5 >"/proc/$1/clear_refs" 2>/dev/null || true
}

CLK_TCK=$(getconf CLK_TCK 2>/dev/null || echo 100)

# ISO-8601 log timestamp (2024-01-02T03:04:05.678Z) -> epoch ms
iso_ms() {
	date -u -d "$1" +%s%3N
}

# ================================================================ parse

section_parse() {
	local out secs=1
	[ "$BENCH_QUICK" = 1 ] && secs=0.3
	out=$("$BENCH_BIN/bench_parse" "$top_srcdir/tests/data/sentinel-events.txt" "$secs" 1000 2>/dev/null) ||
		{ echo "bench_parse failed" >&2; return 1; }
	v() { awk -v k="$1" '$1 == k { print $2 }' <<<"$out"; }
	note "best of 10 slices of ${secs} s in total per measurement (CPU only, the machine is shared)"
	res "sev_parse (captured Sentinel messages)" "$(v sev_messages) msgs" "$(v sev_events_per_s) events/s"
	res "hap_state_parse (show servers state)" "$(v state_rows) rows" \
		"$(v state_rows_per_s) rows/s ($(v state_parse_ms) ms per reply)"
	res "plan_backend, all slots in maint" "per backend" "$(v plans_per_s) plans/s"
	res "plan_backend, nothing to change" "per backend" "$(v plans_steady_per_s) plans/s"
	res "one reconcile pass: index + lookup + plan (as reconcile.c)" "1000 groups" \
		"$(v state_index_ms) ms index, $(v lookup_plan_run_ms) ms pass, of which hap_state_backend lookups $(v lookup_only_run_ms) ms"
}

# ================================================================ lab

WRITER=$TOOLS_BIN/hs_writer
TC_CFG=$top_srcdir/bench/haproxy-tcpcheck.cfg

tc_hap() {
	printf '%s\n' "$*" | socat -T 5 - "UNIX-CONNECT:$TC_SOCKET" 2>/dev/null
}

# The tcp-check HAProxy, side by side with the lib's one: its own ports and
# socket, the three redis-servers listed statically.
tc_start_haproxy() {
	TC_WRITE_PORT=${TC_WRITE_PORT:-$(hs_free_port)}
	TC_READ_PORT=${TC_READ_PORT:-$(hs_free_port)}
	TC_STATS_PORT=${TC_STATS_PORT:-$(hs_free_port)}
	TC_SOCKET=$HS_TMP/tcheck.sock
	TC_ENV=(HS_BIND=127.0.0.1 HS_WRITE_PORT="$TC_WRITE_PORT" HS_READ_PORT="$TC_READ_PORT"
		HS_STATS_PORT="$TC_STATS_PORT" HS_ADMIN_SOCKET="$TC_SOCKET" HS_STATE_FILE="$HS_TMP/tcheck.state"
		HS_R0_PORT="${HS_PORT[r0]}" HS_R1_PORT="${HS_PORT[r1]}" HS_R2_PORT="${HS_PORT[r2]}")
	env "${TC_ENV[@]}" haproxy -c -q -f "$TC_CFG" >>"$HS_TMP/tcheck.log" 2>&1 ||
		hs_fail "haproxy -c rejects $TC_CFG (see tcheck.log)"
	_hs_spawn "$HS_TMP/tcheck.log" env "${TC_ENV[@]}" haproxy -W -db -f "$TC_CFG" -p "$HS_TMP/tcheck.pid"
	hs_register tcheck "$HS_BG_PID"
	_hs_wait_started tcheck 5 'tc_hap show info | grep -q "^Pid:" && _hs_port_listening "$TC_WRITE_PORT"'
}

# Mode (c): haproxy/haproxy.cfg with one line added to the write backend,
# `retries 0`, driven by a second hasentinel (same Sentinels). HAProxy's
# default (retries 3, with a turn-around of min(timeout connect, 1 s) before
# each retry on the same server) holds a client connecting during the
# outage on the dead master for up to 3 s, even after the switch.
rz_start() {
	local cfg=$HS_TMP/rz.cfg conf=$HS_TMP/agent2.conf n
	RZ_SOCKET=$HS_TMP/rz.sock
	RZ_WRITE_PORT=$(hs_free_port)
	awk '{ print } /^backend "\$\{HS_MASTER\}_write"/ { print "    retries 0" }' "$HS_HAPROXY_CFG" >"$cfg"
	grep -q '^    retries 0' "$cfg" || hs_fail "cannot find the write backend in $HS_HAPROXY_CFG"
	RZ_ENV=(HS_BIND=127.0.0.1 HS_WRITE_PORT="$RZ_WRITE_PORT" HS_READ_PORT="$(hs_free_port)"
		HS_STATS_PORT="$(hs_free_port)" HS_ADMIN_SOCKET="$RZ_SOCKET" HS_STATE_FILE="$HS_TMP/rz.state"
		HS_LUA="$top_srcdir/haproxy/hasentinel.lua")
	env "${RZ_ENV[@]}" haproxy -c -q -f "$cfg" >>"$HS_TMP/rz.log" 2>&1 || hs_fail "haproxy -c rejects $cfg"
	_hs_spawn "$HS_TMP/rz.log" env "${RZ_ENV[@]}" haproxy -W -db -f "$cfg"
	hs_register rz "$HS_BG_PID"
	_hs_wait_started rz 5 'rz_ready_servers >/dev/null && _hs_port_listening "$RZ_WRITE_PORT"'
	{
		for n in "${HS_SENTINEL_NAMES[@]}"; do echo "sentinel 127.0.0.1:${HS_PORT[$n]}"; done
		echo "haproxy-socket $RZ_SOCKET"
		echo "status-socket $HS_TMP/agent2.sock"
		echo "resync-interval $HS_RESYNC_MS"
		echo "master-reads no"
	} >"$conf"
	_hs_spawn "$HS_TMP/agent2.log" "$HASENTINEL" -c "$conf"
	hs_register agent2 "$HS_BG_PID"
	_hs_wait_started agent2 10 '[ "$(rz_ready_servers)" = "$(hs_sentinel_master)" ]'
}

rz_ready_servers() {
	HS_ADMIN_SOCKET=$RZ_SOCKET hs_ready_servers "$HS_WRITE_BACKEND"
}

# "ip:port" of the tcp-check write backend's servers that are UP (operational
# state running, admin state ready), sorted.
tc_up_servers() {
	local f
	tc_hap show servers state redis_write | while read -ra f; do
		[ "${#f[@]}" -ge 19 ] || continue
		[ "${f[1]}" = redis_write ] || continue
		if [ "${f[5]}" = 2 ] && [ "${f[6]}" = 0 ]; then echo "${f[4]}:${f[18]}"; fi
	done | sort
}

# The last acknowledged write in LOG is from node PORT, at most 1 s old.
acking_on() {
	local f now
	read -ra f < <(tail -n 50 "$1" 2>/dev/null | awk '$1 == "A" { l = $0 } END { print l }')
	[ "${#f[@]}" -ge 3 ] || return 1
	now=$(hs_now_ms)
	[ "${f[2]}" = "$2" ] && ((now - f[1] < 1000))
}

# LOG has an acknowledged write by node PORT after wall ms T.
acked_on_since() {
	# (awk reads everything: an early exit would SIGPIPE tail and fail the pipeline)
	tail -n 3000 "$1" 2>/dev/null | awk -v p="$2" -v t="$3" '$1 == "A" && $2 > t && $3 == p { f = 1 } END { exit !f }'
}

# Every sentinel agrees on the master and sees both replicas healthy.
sentinels_settled() {
	local n m="" x f
	for n in "${HS_SENTINEL_NAMES[@]}"; do
		x=$(hs_cli "${HS_PORT[$n]}" SENTINEL GET-MASTER-ADDR-BY-NAME "$HS_MASTER" | paste -sd:) || return 1
		[ -z "$m" ] && m=$x
		[ "$x" = "$m" ] || return 1
		# flags of each replica: exactly "slave" (no s_down, disconnected)
		f=$(hs_cli "${HS_PORT[$n]}" SENTINEL REPLICAS "$HS_MASTER" |
			awk 'p { print; p = 0 } $0 == "flags" { p = 1 }' | sort | paste -sd,)
		[ "$f" = "slave,slave" ] || return 1
	done
}

# A writer whose connection stays on a node that was demoted while alive
# (a second failover right after the first, or Sentinel converting a node)
# gets READONLY for ever: hs_writer reconnects only when the connection
# breaks. Restart it (a new log file), and count it.
heal_writers() {
	local w
	for w in wa wb wc; do
		[ -n "${HS_PID[$w]:-}" ] || continue
		if tail -n 20 "${WFILE[$w]}" 2>/dev/null | awk '$1 == "A" { a = 1 } /READONLY/ { r = 1 } END { exit !(r && !a) }'; then
			echo "$(hs_now_ms) $w" >>"$HS_TMP/writer-restarts"
			hs_stop "${HS_PID[$w]}"
			start_writer "$w" "${WPORT[$w]}"
		fi
	done
	return 0
}

# The current master acknowledged both writers' writes after T (wall ms).
both_switched_since() {
	local m
	heal_writers
	m=$(hs_sentinel_master) || return 1
	[ "$m" != "$2" ] || return 1
	acked_on_since "${WFILE[wa]}" "${m##*:}" "$1" && acked_on_since "${WFILE[wb]}" "${m##*:}" "$1" &&
		acked_on_since "${WFILE[wc]}" "${m##*:}" "$1"
}

# One master everywhere: Sentinels, the lib's HAProxy (agent), the tcp-check
# HAProxy, and both writers acknowledged by it in the last second.
lab_settled() {
	local m
	heal_writers
	_hs_lab_settled || return 1
	sentinels_settled || return 1
	m=$(hs_sentinel_master) || return 1
	_hs_applied || return 1
	[ "$(tc_up_servers)" = "$m" ] || return 1
	[ "$(rz_ready_servers)" = "$m" ] || return 1
	acking_on "${WFILE[wa]}" "${m##*:}" || return 1
	acking_on "${WFILE[wb]}" "${m##*:}" || return 1
	acking_on "${WFILE[wc]}" "${m##*:}"
}

# The masters Sentinel named between wall ms K and E (EVENTS from bench_sub):
# one line per failover, in order, "P NEW S": when the node was promoted
# (+promoted-slave, published by the leader; else its +switch-master), its
# port, and the first +switch-master naming it. Usually one line per kill;
# two when a second failover followed the first.
failover_timeline() { # EVENTS K E
	awk -v k="$2" -v e="$3" '
		$1 <= k || $1 >= e { next }
		$3 == "+promoted-slave" && !($7 in p) { p[$7] = $1 }
		$3 == "+switch-master" && !($8 in s) { s[$8] = $1; order[++n] = $8 }
		END { for (i = 1; i <= n; i++) { x = order[i]; print ((x in p) ? p[x] : s[x]), x, s[x] } }' "$1" | sort -n
}

# Writer acknowledgements around kill K (window end E), OLD the killed
# master, TIMELINE "P:port,P:port" (who is master from when). The master at
# time t is OLD before the first promotion, then the last promoted one.
# Prints "LAST_BEFORE_K FIRST_ACK_BY_A_NEW_MASTER NONMASTER_ACKS".
writer_window() { # K E OLD TIMELINE LOG...
	local k=$1 e=$2 old=$3 tl=$4
	shift 4
	cat "$@" | awk -v k="$k" -v e="$e" -v old="$old" -v tl="$tl" '
		BEGIN { n = split(tl, x, ","); for (i = 1; i <= n; i++) { split(x[i], y, ":"); pt[i] = y[1]; pp[i] = y[2] } }
		$1 != "A" { next }
		$2 <= k { last = $2; next }
		$2 >= e { next }
		{ m = old; for (i = 1; i <= n; i++) if ($2 >= pt[i]) m = pp[i]
		  if ($3 != m) nm++
		  else if (f == "" && $3 != old) f = $2 }
		END { print (last == "" ? "-" : last), (f == "" ? "-" : f), nm + 0 }'
}

# A writer through PORT, one ack per ~1 ms, logging to a new file each time
# it is (re)started: NAME.NNN.w (WFILE[NAME] is the current one).
start_writer() { # NAME PORT
	local seq=$((${WSEQ[$1]:-0} + 1))
	WSEQ[$1]=$seq
	WPORT[$1]=$2
	WFILE[$1]=$HS_TMP/$1.$(printf %03d "$seq").w
	_hs_spawn "$HS_TMP/$1.out" "$WRITER" 127.0.0.1 "$2" "bench:$1:$seq" "${WFILE[$1]}" 3600 1
	hs_register "$1" "$HS_BG_PID"
}

# A client that reconnects every second: hs_writer runs of 1 s, one after
# the other, until DEADLINE (wall ms); at most 40 runs.
churn_writer() { # NAME PORT DEADLINE
	local i
	for ((i = 0; i < 40; i++)); do
		(($(hs_now_ms) < $3)) || break
		"$WRITER" 127.0.0.1 "$2" "bench:$1:$i" "$HS_TMP/$1.$i.w" 1 1 >/dev/null 2>&1
	done
}

# Keys acknowledged by node PORT between T0 and T1 (wall ms) in the logs.
acked_keys() { # PORT T0 T1 LOG...
	local p=$1 t0=$2 t1=$3
	shift 3
	cat "$@" 2>/dev/null | awk -v p="$p" -v a="$t0" -v b="$t1" '$1 == "A" && $3 == p && $2 >= a && $2 <= b { print $4 }'
}

# How many of the keys on stdin exist on node PORT.
count_existing() {
	local port=$1 n=0 c
	while read -ra keys; do
		[ "${#keys[@]}" -gt 0 ] || continue
		c=$(hs_cli "$port" EXISTS "${keys[@]}") || c=0
		n=$((n + ${c:-0}))
	done < <(xargs -r -n 200 echo)
	echo "$n"
}

section_lab() {
	local i m mname t new S P N r out line e_end restart_ms
	# shellcheck source=../tests/integration/lib.sh
	. "$top_srcdir/tests/integration/lib.sh"
	hs_setup
	hs_require_bin redis-benchmark "$WRITER" "$BENCH_BIN/bench_sub"
	hs_start_lab
	hs_start_haproxy
	hs_start_agent "log-level info"
	tc_start_haproxy
	rz_start
	hs_wait_applied 10
	_hs_spawn "$HS_TMP/sub.out" "$BENCH_BIN/bench_sub" "$HS_TMP/events.txt" 3600 \
		"${HS_PORT[s0]}" "${HS_PORT[s1]}" "${HS_PORT[s2]}"
	hs_register sub "$HS_BG_PID"
	hs_wait_until 5 'grep -q ready "$HS_TMP/sub.out"' "the Sentinel subscriber"
	# A tcp-check HAProxy starts with every server up: a client connecting
	# before the first checks may land on a replica. Start writing once
	# only the master is up.
	hs_wait_until 30 '[ "$(tc_up_servers)" = "$(hs_sentinel_master)" ]' "the tcp-check HAProxy to mark only the master up"
	declare -gA WSEQ=() WPORT=() WFILE=()
	start_writer wa "$TC_WRITE_PORT"
	start_writer wb "$HS_WRITE_PORT"
	start_writer wc "$RZ_WRITE_PORT"
	hs_log "write ports: tcp-check $TC_WRITE_PORT, hasentinel $HS_WRITE_PORT, hasentinel + retries 0 $RZ_WRITE_PORT"

	# ---------------------------------------------------- 1. failover lag
	: >"$HS_TMP/kills"
	for ((i = 1; i <= BENCH_N; i++)); do
		hs_wait_until 90 lab_settled "lab, both HAProxy and both writers settled on one master"
		m=$(hs_sentinel_master) || hs_fail "no master"
		mname=$(hs_name_of_port "${m##*:}") || hs_fail "master $m is not one of ours"
		t=$(hs_now_ms)
		hs_kill9 "$mname"
		echo "$i $t ${m##*:} $mname" >>"$HS_TMP/kills"
		hs_log "kill $i/$BENCH_N: $mname (${m##*:})"
		hs_wait_until 60 'both_switched_since "$t" "$m"' "a new master, acknowledging both writers, after killing $m"
		new=$(hs_sentinel_master)
		hs_start_redis "$mname" replicaof "${new##*:}"
	done
	hs_wait_until 90 lab_settled "the lab to settle after the last kill"
	e_end=$(hs_now_ms)

	# ---------------------------------------------------- 2. old master returns
	m=$(hs_sentinel_master)
	mname=$(hs_name_of_port "${m##*:}")
	t=$(hs_now_ms)
	p2_kill=$t
	hs_kill9 "$mname"
	hs_log "old master returns: killed $mname (${m##*:})"
	hs_wait_until 60 'both_switched_since "$t" "$m"' "a new master, acknowledging both writers, after killing $m"
	hs_start_redis "$mname"     # its original config: a master, no replicaof
	restart_ms=$(hs_now_ms)
	hs_log "old master $mname back as a master; 15 s of writes"
	churn_writer ca "$TC_WRITE_PORT" $((restart_ms + 15000)) &
	hs_register ca $!
	churn_writer cb "$HS_WRITE_PORT" $((restart_ms + 15000)) &
	hs_register cb $!
	hs_wait_until 40 '! hs_alive "${HS_PID[ca]}" && ! hs_alive "${HS_PID[cb]}"' "the reconnecting writers to finish"
	wait "${HS_PID[ca]}" "${HS_PID[cb]}" 2>/dev/null
	_hs_forget_pid "${HS_PID[ca]}"
	_hs_forget_pid "${HS_PID[cb]}"
	t2=$(hs_now_ms)
	hs_wait_until 90 lab_settled "the old master to rejoin as a replica and the lab to settle"
	for n in wa wb wc sub tcheck agent2 rz; do hs_stop "${HS_PID[$n]}"; done

	# ---------------------------------------------------- analysis of 1
	local kills=0 last f nm tl nf P N S S1 w e old
	local -A NM=([a]=0 [b]=0 [c]=0) MODE=([a]=tcp-check [b]=hasentinel [c]="hasentinel, retries 0")
	for w in a b c; do : >"$HS_TMP/lag.$w"; : >"$HS_TMP/out.$w"; done
	: >"$HS_TMP/sentinel.ms"; : >"$HS_TMP/failovers"
	mapfile -t klines <"$HS_TMP/kills"
	for ((i = 0; i < ${#klines[@]}; i++)); do
		read -r _ t old _ <<<"${klines[$i]}"
		if ((i + 1 < ${#klines[@]})); then read -r _ e _ <<<"${klines[$((i + 1))]}"; else e=$e_end; fi
		tl=
		nf=0
		S1=
		while read -r P N S; do
			tl+=${tl:+,}$P:$N
			nf=$((nf + 1))
			[ -n "$S1" ] || S1=$S
			echo "$P $N $S" >>"$HS_TMP/failovers"
		done < <(failover_timeline "$HS_TMP/events.txt" "$t" "$e")
		if [ "$nf" = 0 ]; then note "kill $((i + 1)): no +switch-master seen"; continue; fi
		[ "$nf" -gt 1 ] && note "kill $((i + 1)): Sentinel failed over $nf times before settling (${tl//,/ then })"
		kills=$((kills + 1))
		echo $((S1 - t)) >>"$HS_TMP/sentinel.ms"
		for w in a b c; do
			read -r last f nm < <(writer_window "$t" "$e" "$old" "$tl" "$HS_TMP"/w"$w".*.w)
			[ "$f" != - ] && echo $((f - S1)) >>"$HS_TMP/lag.$w"
			[ "$f" != - ] && [ "$last" != - ] && echo $((f - last)) >>"$HS_TMP/out.$w"
			NM[$w]=$((NM[$w] + nm))
		done
	done
	res "kill -> first +switch-master (Sentinel, ms)" "lab" "$(mmm <"$HS_TMP/sentinel.ms")"
	for w in a b c; do
		res "+switch-master -> first ack by the new master (ms)" "${MODE[$w]}" "$(mmm <"$HS_TMP/lag.$w")"
	done
	for w in a b c; do
		res "write outage: last ack before kill -> first ack after (ms)" "${MODE[$w]}" "$(mmm <"$HS_TMP/out.$w")"
	done
	for w in a b c; do
		res "writes acked by a non-master (all kills)" "${MODE[$w]}" "${NM[$w]}" "0" "$([ "${NM[$w]}" = 0 ] && echo yes || echo no)"
	done
	local oa ob ratio
	oa=$(median <"$HS_TMP/out.a")
	for w in b c; do
		ob=$(median <"$HS_TMP/out.$w")
		ratio=$(awk -v a="$oa" -v b="$ob" 'BEGIN { if (b > 0) printf "%.1fx", a / b; else print "-" }')
		res "outage ratio tcp-check / ${MODE[$w]} (medians)" "a/$w" "$ratio ($oa / $ob ms)" "> 1" \
			"$(ok_if 'b > 0 && a > b' a="$oa" b="$ob")"
	done
	if [ "$kills" -lt "$BENCH_N" ]; then note "only $kills of $BENCH_N kills could be analysed"; fi
	if [ -s "$HS_TMP/writer-restarts" ]; then
		note "writers restarted because their connection stayed on a demoted node (READONLY for ever): $(awk '{ print $2 }' "$HS_TMP/writer-restarts" | sort | uniq -c | awk '{ printf "%s%s x%s", (NR > 1 ? ", " : ""), $2, $1 }') (wa = tcp-check, wb = hasentinel, wc = hasentinel + retries 0)"
	fi

	# The agent's own part: its log, "switch G A -> B" and "writes go to B, N ms after the decision".
	local n mn md p99 mx
	# (only after the first switch: the start-up fill is not a failover)
	awk -v g="$HS_MASTER" 'index($0, "info: switch " g " ") { s = 1 }
		s && index($0, " " g ": writes go to ") && / ms after the decision/ {
			sub(/ ms after the decision.*/, ""); sub(/.*, /, ""); print }' "$HS_TMP/agent.log" >"$HS_TMP/agent.ms"
	read -r n mn md p99 mx < <(stats <"$HS_TMP/agent.ms")
	res "agent: decision -> HAProxy acknowledged (ms)" "hasentinel" "median $md, p99 $p99, max $mx (n=$n)" "< 5 ms" \
		"$(ok_if 'n > 0 && p < 5' n="$n" p="$p99")"
	# When the agent decided, relative to Sentinel's events of that failover
	# (part 2's failover too).
	failover_timeline "$HS_TMP/events.txt" "$p2_kill" "$t2" >>"$HS_TMP/failovers"
	: >"$HS_TMP/dec.sw"
	: >"$HS_TMP/dec.pr"
	local ts to dms x y
	while read -r line; do
		ts=${line%% *}
		to=$(sed -n 's/.* -> [^ ]*:\([0-9][0-9]*\) epoch .*/\1/p' <<<"$line")
		dms=$(iso_ms "$ts") || continue
		# the failover that promoted this node, closest in time
		read -r x y < <(awk -v d="$dms" -v to="$to" '$2 == to { a = d - $1; if (a < 0) a = -a; if (b == "" || a < b) { b = a; r = (d - $1) " " (d - $3) } }
			END { if (b != "" && b < 30000) print r }' "$HS_TMP/failovers") || continue
		echo "$x" >>"$HS_TMP/dec.pr"
		echo "$y" >>"$HS_TMP/dec.sw"
	done < <(grep "info: switch $HS_MASTER " "$HS_TMP/agent.log")
	res "agent decision relative to +promoted-slave (ms)" "hasentinel" "$(mmm <"$HS_TMP/dec.pr")"
	res "agent decision relative to +switch-master (ms)" "hasentinel" "$(mmm <"$HS_TMP/dec.sw")"

	# ---------------------------------------------------- analysis of 2
	local op=${m##*:} nA nB cA cB lostA lostB cur
	cur=$(hs_sentinel_master)
	nA=$(acked_keys "$op" "$restart_ms" "$t2" "$HS_TMP"/wa.*.w | wc -l)
	nB=$(acked_keys "$op" "$restart_ms" "$t2" "$HS_TMP"/wb.*.w | wc -l)
	cA=$(acked_keys "$op" "$restart_ms" "$t2" "$HS_TMP"/ca.*.w | wc -l)
	cB=$(acked_keys "$op" "$restart_ms" "$t2" "$HS_TMP"/cb.*.w | wc -l)
	lostA=$((nA + cA - $(acked_keys "$op" "$restart_ms" "$t2" "$HS_TMP"/wa.*.w "$HS_TMP"/ca.*.w | count_existing "${cur##*:}")))
	lostB=$((nB + cB - $(acked_keys "$op" "$restart_ms" "$t2" "$HS_TMP"/wb.*.w "$HS_TMP"/cb.*.w | count_existing "${cur##*:}")))
	res "old master back: acks by it, client reconnecting each 1 s" "tcp-check" "$cA" "(baseline)"
	res "old master back: acks by it, client reconnecting each 1 s" "hasentinel" "$cB" "0" "$([ "$cB" = 0 ] && echo yes || echo no)"
	res "old master back: acks by it, persistent client" "tcp-check" "$nA" "(baseline)"
	res "old master back: acks by it, persistent client" "hasentinel" "$nB" "0" "$([ "$nB" = 0 ] && echo yes || echo no)"
	res "old master back: acked writes lost (not on the master after)" "tcp-check" "$lostA" "(baseline)"
	res "old master back: acked writes lost (not on the master after)" "hasentinel" "$lostB" "0" "$([ "$lostB" = 0 ] && echo yes || echo no)"

	# ---------------------------------------------------- 3. data plane
	lab_dataplane
}

# redis-benchmark PORT P -> "SET_rps GET_rps"
rb() {
	local n=100000
	[ "$BENCH_QUICK" = 1 ] && n=20000
	timeout 300 redis-benchmark -h 127.0.0.1 -p "$1" -t set,get -n "$n" -c 50 -P "$2" -q --csv 2>/dev/null |
		awk -F'","' '{ gsub(/"/, "") } $1 ~ /^SET/ { split($0, a, ","); s = a[2] } $1 ~ /^GET/ { split($0, a, ","); g = a[2] }
			END { print (s == "" ? 0 : s), (g == "" ? 0 : g) }'
}

# An extra HAProxy from haproxy/haproxy.cfg plus GLOBAL / DEFAULTS lines
# ("" for none), its write slot pointed at the master by hand (no agent).
start_variant() { # NAME GLOBAL_LINE DEFAULTS_LINE
	local n=$1 cfg=$HS_TMP/$1.cfg sock=$HS_TMP/$1.sock wp m
	awk -v g="$2" -v d="$3" '{ print } /^global/ && g != "" { print "    " g } /^defaults/ && d != "" { print "    " d }' \
		"$HS_HAPROXY_CFG" >"$cfg"
	wp=$(hs_free_port)
	VAR_ENV=(HS_BIND=127.0.0.1 HS_WRITE_PORT="$wp" HS_READ_PORT="$(hs_free_port)" HS_STATS_PORT="$(hs_free_port)"
		HS_ADMIN_SOCKET="$sock" HS_STATE_FILE="$HS_TMP/$n.state" HS_LUA="$top_srcdir/haproxy/hasentinel.lua")
	env "${VAR_ENV[@]}" haproxy -c -q -f "$cfg" >>"$HS_TMP/$n.log" 2>&1 || { hs_log "variant $n rejected by haproxy -c"; return 1; }
	_hs_spawn "$HS_TMP/$n.log" env "${VAR_ENV[@]}" haproxy -W -db -f "$cfg"
	hs_register "$n" "$HS_BG_PID"
	_hs_wait_started "$n" 5 'printf "show info\n" | socat -T 5 - "UNIX-CONNECT:$sock" | grep -q "^Pid:" && _hs_port_listening "$wp"'
	m=$(hs_sentinel_master)
	printf 'set server %s/r1 addr %s port %s;set server %s/r1 state ready\n' "$HS_WRITE_BACKEND" "${m%:*}" "${m##*:}" \
		"$HS_WRITE_BACKEND" | socat -T 5 - "UNIX-CONNECT:$sock" >/dev/null
	VPORT[$n]=$wp
}

lab_dataplane() {
	local m rounds=3 r v P s g
	declare -gA VPORT=()
	local -a variants=(direct shipped)
	m=$(hs_sentinel_master)
	VPORT[direct]=${m##*:}
	VPORT[shipped]=$HS_WRITE_PORT
	if [ "$BENCH_QUICK" != 1 ]; then
		start_variant nbthread1 "nbthread 1" "" && variants+=(nbthread1)
		start_variant bufsize64k "tune.bufsize 65536" "" && variants+=(bufsize64k)
		start_variant spliceauto "" "option splice-auto" && variants+=(spliceauto)
	else
		rounds=1
	fi
	hs_log "data plane: ${variants[*]}, $rounds round(s), load $(load1)"
	note "data plane: load average at start $(load1)"
	: >"$HS_TMP/rb"
	for ((r = 1; r <= rounds; r++)); do
		for P in 1 16; do
			# alternate the order from round to round
			local order=("${variants[@]}")
			if ((r % 2 == 0)); then
				order=()
				for ((i = ${#variants[@]} - 1; i >= 0; i--)); do order+=("${variants[$i]}"); done
			fi
			for v in "${order[@]}"; do
				read -r s g < <(rb "${VPORT[$v]}" "$P")
				echo "$v $P $s $g" >>"$HS_TMP/rb"
			done
		done
	done
	note "data plane: load average at end $(load1)"
	local dS dG pS pG
	for P in 1 16; do
		dS=$(awk -v P="$P" '$1 == "direct" && $2 == P { print $3 }' "$HS_TMP/rb" | median)
		dG=$(awk -v P="$P" '$1 == "direct" && $2 == P { print $4 }' "$HS_TMP/rb" | median)
		for v in "${variants[@]}"; do
			[ "$v" = direct ] && continue
			pS=$(awk -v v="$v" -v P="$P" '$1 == v && $2 == P { print $3 }' "$HS_TMP/rb" | median)
			pG=$(awk -v v="$v" -v P="$P" '$1 == v && $2 == P { print $4 }' "$HS_TMP/rb" | median)
			if [ "$v" = shipped ]; then
				res "redis-benchmark SET -P $P -c 50, median rps" "direct vs haproxy.cfg" \
					"$(printf '%.0f / %.0f = %.2f' "$dS" "$pS" "$(awk -v a="$pS" -v b="$dS" 'BEGIN { print (b > 0) ? a / b : 0 }')")"
				res "redis-benchmark GET -P $P -c 50, median rps" "direct vs haproxy.cfg" \
					"$(printf '%.0f / %.0f = %.2f' "$dG" "$pG" "$(awk -v a="$pG" -v b="$dG" 'BEGIN { print (b > 0) ? a / b : 0 }')")"
			else
				res "haproxy.cfg + $v: proxy/direct, -P $P" "variant" \
					"$(awk -v s="$pS" -v g="$pG" -v ds="$dS" -v dg="$dG" 'BEGIN { printf "SET %.2f GET %.2f", (ds > 0) ? s / ds : 0, (dg > 0) ? g / dg : 0 }')"
			fi
		done
	done
}

# ================================================================ hold

# The failover window as clients see it (issue: hold + early fence). One
# lab (lib.sh timings: down-after 1000 ms), several HAProxy side by side,
# every one seeing the same master SIGKILLs, each with its own clients
# (bench_clients: a writer every 5 ms that reconnects after each error, and
# a pool of 20 persistent connections writing every 20 ms each):
#   hold           haproxy/haproxy.cfg as shipped (the hold on) + an agent
#                  at its defaults (early fence on reset and on o_down)
#   hold-odown     the same, agent with fence-on-reset no (o_down only)
#   hold-nofence   the same, agent with both fences off
#   nohold         haproxy.cfg without the hold action + an agent (fences on)
#   tcpcheck       bench/haproxy-tcpcheck.cfg, no agent
HOLD_MODES=(hold hold-odown hold-nofence nohold tcpcheck)
CLIENTS=$BENCH_BIN/bench_clients

# hold_start NAME CFG_FILTER AGENT_LINES...: haproxy.cfg through the filter
# (cat, or a command dropping the hold) with its own ports, and an agent.
hold_start() {
	local n=$1 filter=$2 cfg conf s
	shift 2
	cfg=$HS_TMP/$n.cfg
	conf=$HS_TMP/$n.agent.conf
	$filter <"$HS_HAPROXY_CFG" >"$cfg"
	HPORT[$n]=$(hs_free_port)
	HSOCK[$n]=$HS_TMP/$n.sock
	local env=(HS_BIND=127.0.0.1 HS_WRITE_PORT="${HPORT[$n]}" HS_READ_PORT="$(hs_free_port)"
		HS_STATS_PORT="$(hs_free_port)" HS_ADMIN_SOCKET="${HSOCK[$n]}" HS_STATE_FILE="$HS_TMP/$n.state")
	local lua=${HS_LUA:-$top_srcdir/haproxy/hasentinel.lua}
	[ -f "$lua" ] && env+=(HS_LUA="$lua")
	env "${env[@]}" haproxy -c -q -f "$cfg" >>"$HS_TMP/$n.hap.log" 2>&1 || hs_fail "haproxy -c rejects $cfg"
	_hs_spawn "$HS_TMP/$n.hap.log" env "${env[@]}" haproxy -W -db -f "$cfg"
	hs_register "hap_$n" "$HS_BG_PID"
	{
		for s in "${HS_SENTINEL_NAMES[@]}"; do echo "sentinel 127.0.0.1:${HS_PORT[$s]}"; done
		echo "haproxy-socket ${HSOCK[$n]}"
		echo "status-socket $HS_TMP/$n.agent.sock"
		echo "resync-interval $HS_RESYNC_MS"
		echo "master-reads no"
		for s in "$@"; do echo "$s"; done
	} >"$conf"
	_hs_wait_started "hap_$n" 5 'HS_ADMIN_SOCKET=${HSOCK[$n]} hs_hap show info | grep -q "^Pid:"'
	_hs_spawn "$HS_TMP/$n.agent.log" "$HASENTINEL" -c "$conf"
	hs_register "agent_$n" "$HS_BG_PID"
}

# Without the hold: no hs_hold action, and no backups looping into it.
no_hold_filter() { grep -v -e 'tcp-request content lua.hs_hold' -e '^ *server hold[0-9] '; }

hold_routes() { # MODE -> the write backend's ready / up servers
	if [ "$1" = tcpcheck ]; then tc_up_servers; else HS_ADMIN_SOCKET=${HSOCK[$1]} hs_ready_servers "$HS_WRITE_BACKEND"; fi
}

hold_port() { if [ "$1" = tcpcheck ]; then echo "$TC_WRITE_PORT"; else echo "${HPORT[$1]}"; fi; }

# Every mode routes to Sentinel's master alone, and every client file has
# only acknowledged writes in its last 300 lines.
# (ACTIVE_MODES: the modes whose clients run, with their output files in
# CLIENT_FILE.)
hold_settled() {
	local m x
	_hs_lab_settled || return 1
	sentinels_settled || return 1
	m=$(hs_sentinel_master) || return 1
	for x in "${ACTIVE_MODES[@]}"; do
		[ "$(hold_routes "$x")" = "$m" ] || return 1
		tail -n 300 "${CLIENT_FILE[$x]}" | awk '$1 == "F" || ($1 == "R" && $6 != 1) { bad = 1 } END { exit bad }' || return 1
	done
}

hold_switched() { # OLD
	local m x
	m=$(hs_sentinel_master) || return 1
	[ "$m" != "$1" ] || return 1
	for x in "${ACTIVE_MODES[@]}"; do
		[ "$(hold_routes "$x")" = "$m" ] || return 1
	done
}

# hold_kills N KILLS_FILE: N master SIGKILLs, each once every active mode
# has settled; the killed node comes back as a replica 8 s after. One line
# per kill in KILLS_FILE: "i kill_ms old_port end_ms".
hold_kills() {
	local i m mname t new
	: >"$2"
	for ((i = 1; i <= $1; i++)); do
		hs_wait_until 90 hold_settled "every mode settled on one master, clients acknowledged"
		m=$(hs_sentinel_master) || hs_fail "no master"
		mname=$(hs_name_of_port "${m##*:}") || hs_fail "master $m is not one of ours"
		t=$(hs_now_ms)
		hs_kill9 "$mname"
		hs_log "hold: kill $i/$1 (${ACTIVE_MODES[*]}): $mname (${m##*:})"
		hs_wait_until 60 'hold_switched "$m"' "every mode to route to the new master"
		# the held and reconnecting clients get through
		hs_wait_until 20 '(( $(hs_now_ms) - t >= 8000 ))' "8 s after the kill"
		new=$(hs_sentinel_master)
		echo "$i $t ${m##*:} $(hs_now_ms)" >>"$2"
		hs_start_redis "$mname" replicaof "${new##*:}"
	done
}

# The shipped config, its log line also giving the accept time (ms): with
# the hold's "hold:MS" it tells when HAProxy let a held connection go.
hold_log_filter() { sed 's/hold:%\[var(txn.hs_hold_ms)\]"$/hold:%[var(txn.hs_hold_ms)] accept:%Ts%ms"/'; }

# hold_ack MODE KILL_MS: when the agent of MODE logged HAProxy's
# acknowledgement of the first switch after KILL_MS (wall ms).
hold_ack() {
	awk '/writes go to/ { print $1 }' "$HS_TMP/$1.agent.log" | while read -r l; do iso_ms "$l"; done | awk -v a="$2" '$1 > a { print; exit }'
}

# hold_hap_release MODE KILLS_FILE: for each kill, when HAProxy let each
# connection it held go, ms after the agent logged the acknowledgement
# (from HAProxy's log: accept time + hold time; HAProxy's clock is its
# event loop's, up to a millisecond behind), one per line.
hold_hap_release() {
	local ts te ack
	while read -r _ ts _ te; do
		ack=$(hold_ack "$1" "$ts")
		[ -n "$ack" ] || continue
		grep -ao 'hold:[0-9]* accept:[0-9]*' "$HS_TMP/$1.hap.log" |
			awk -v a="$ts" -v b="$te" -v k="$ack" '{ h = substr($1, 6) + 0; t = substr($2, 8) + 0 }
				t >= a && t < k && t < b { print t + h - k }'
	done <"$2"
}

# hold_release MODE KILLS_FILE CLIENTS_FILE: for each kill, how long after
# the agent logged HAProxy's acknowledgement of the switch ("writes go to")
# each command that was waiting then got its answer, ms, one per line.
hold_release() {
	local ts ack
	while read -r _ ts _ _; do
		ack=$(hold_ack "$1" "$ts")
		[ -n "$ack" ] || continue
		awk -v k="$ack" '$1 == "R" && $6 == 1 && $4 / 1000 < k && ($4 + $5) / 1000 >= k { printf "%.1f\n", ($4 + $5) / 1000 - k }' "$3"
	done <"$2"
}

# Connection setup with the hold action against without it, while no
# failover goes on: bench_connrate on the hold and nohold write ports
# (connect, PING, +PONG, close; 4 threads), in many short rounds alternating
# between the two (the median of the per-round ratios, so the machine's
# load weighs on both alike), and the CPU time (utime + stime) each HAProxy
# worker spent per connection, which does not depend on how busy the
# machine is. Prints "ratio <hold/nohold conn/s> <hold/nohold CPU per conn>".
hold_worker_pid() { # MODE
	HS_ADMIN_SOCKET=${HSOCK[$1]} hs_hap show info | awk '/^Pid:/ { print $2 }'
}

section_hold() {
	local x m N=${BENCH_HOLD_N:-3} crounds=40
	[ "$BENCH_QUICK" = 1 ] && { N=${BENCH_HOLD_N:-1}; crounds=10; }
	# shellcheck source=../tests/integration/lib.sh
	. "$top_srcdir/tests/integration/lib.sh"
	hs_setup
	hs_require_bin "$CLIENTS" "$BENCH_BIN/bench_sub" "$BENCH_BIN/bench_connrate"
	declare -gA HPORT=() HSOCK=()
	local have_hold=yes
	grep -q 'lua.hs_hold' "$HS_HAPROXY_CFG" || have_hold=no
	hs_start_lab
	hold_start hold hold_log_filter
	hold_start hold-odown cat "fence-on-reset no"
	hold_start hold-nofence cat "fence-on-reset no" "fence-on-odown no"
	hold_start nohold no_hold_filter
	tc_start_haproxy
	_hs_spawn "$HS_TMP/sub.out" "$BENCH_BIN/bench_sub" "$HS_TMP/events.txt" 3600 \
		"${HS_PORT[s0]}" "${HS_PORT[s1]}" "${HS_PORT[s2]}"
	hs_register sub "$HS_BG_PID"
	hs_wait_until 5 'grep -q ready "$HS_TMP/sub.out"' "the Sentinel subscriber"
	hs_wait_until 30 'm=$(hs_sentinel_master) && [ "$(hold_routes hold)" = "$m" ] && [ "$(hold_routes nohold)" = "$m" ] && [ "$(tc_up_servers)" = "$m" ]' \
		"every HAProxy to route to the master"
	note "hold in haproxy.cfg: $have_hold; down-after ${HS_DOWN_AFTER_MS} ms, failover-timeout ${HS_FAILOVER_TIMEOUT_MS} ms; clients per mode: a writer every 5 ms reconnecting after each error + 20 persistent connections writing every 20 ms"

	# ------------------------------------- connection setup, no failover
	local ph pn
	ph=$(hold_worker_pid hold)
	pn=$(hold_worker_pid nohold)
	if [ -z "$ph" ] || [ -z "$pn" ]; then hs_fail "no HAProxy worker pid"; fi
	"$BENCH_BIN/bench_connrate" 127.0.0.1 "${HPORT[hold]}" "$ph" "${HPORT[nohold]}" "$pn" "$crounds" 250 4 \
		>"$HS_TMP/connrate" || hs_fail "bench_connrate failed"
	local rw rc ah an
	read -r _ rw rc < <(awk '$1 == "ratio"' "$HS_TMP/connrate")
	read -r ah an < <(awk '$1 == "total" { c[$2] = $6; r[$2] = $7; f[$2] = $8 } END { printf "%s/s,%s_us,%s_failed %s/s,%s_us,%s_failed\n", r["A"], c["A"], f["A"], r["B"], c["B"], f["B"] }' "$HS_TMP/connrate")
	res "new connections/s through the write port (connect, PING, close; 4 threads), hold vs none, median of $crounds alternating 250 ms rounds (load $(cut -d' ' -f1 /proc/loadavg))" "hold / nohold" \
		"${rw}x (hold ${ah//_/ }; nohold ${an//_/ })" ">= 0.95x" "$(ok_if 'r >= 0.95' r="$rw")"
	res "HAProxy worker CPU time (utime + stime) per new connection, hold vs none" "hold / nohold" \
		"${rc}x" "<= 1.05x" "$(ok_if 'r <= 1.05' r="$rc")"

	# ------------------------------------- kills
	declare -gA CLIENT_FILE=()
	ACTIVE_MODES=("${HOLD_MODES[@]}")
	for x in "${HOLD_MODES[@]}"; do
		CLIENT_FILE[$x]=$HS_TMP/$x.clients
		_hs_spawn "$HS_TMP/$x.clients.out" "$CLIENTS" 127.0.0.1 "$(hold_port "$x")" "${CLIENT_FILE[$x]}" 3600 5 20 20
		hs_register "cl_$x" "$HS_BG_PID"
	done
	hold_kills "$N" "$HS_TMP/kills"
	for x in "${HOLD_MODES[@]}"; do hs_stop "${HS_PID[cl_$x]}"; done

	# ------------------------------------- release, the shipped setup alone
	# The side-by-side kills above release every mode's held connections at
	# once, while the modes without the hold reconnect in a loop (about
	# 1000 connections a second): the machine is busy. The release delay
	# is measured again with only the shipped setup's clients running.
	ACTIVE_MODES=(hold)
	CLIENT_FILE[hold]=$HS_TMP/hold.alone.clients
	_hs_spawn "$HS_TMP/hold.alone.clients.out" "$CLIENTS" 127.0.0.1 "$(hold_port hold)" "${CLIENT_FILE[hold]}" 3600 5 20 20
	hs_register cl_alone "$HS_BG_PID"
	hold_kills "$N" "$HS_TMP/kills.alone"
	hs_stop "${HS_PID[cl_alone]}"
	# every connection closed, so HAProxy has logged each one
	hs_wait_until 10 '[ "$(HS_ADMIN_SOCKET=${HSOCK[hold]} hs_hap show info | awk "/^CurrConns:/ { print \$2 }")" = 0 ]' \
		"the hold setup's connections to be closed and logged"
	hold_release hold "$HS_TMP/kills.alone" "${CLIENT_FILE[hold]}" >"$HS_TMP/hold.alone.rel"
	hold_hap_release hold "$HS_TMP/kills.alone" >"$HS_TMP/hold.alone.haprel"

	# ------------------------------------- analysis
	local k ts te promo p99 mx fw fp fn worst
	for x in "${HOLD_MODES[@]}"; do
		local fails=() news=() worsts=() lat=() promos=() rels=() reasons=""
		while read -r k ts _ te; do
			promo=$(awk -v a="$ts" -v b="$te" '$1 > a && $1 < b && $3 == "+promoted-slave" { print $1 - a; exit }' "$HS_TMP/events.txt")
			promos+=("${promo:-0}")
			# failed commands (writer / pool), worst thread, failed new connections
			# worst: failed commands on the connections open at the kill
			# (each fails at most once: the clients reconnect after an error)
			read -r fw fp worst fn < <(awk -v a="$ts" -v b="$te" '
				$1 == "R" && $4 / 1000 < a { open[$2] = $3 }
				$1 == "F" && $4 / 1000 >= a && $4 / 1000 < b { fnew++ }
				$1 == "R" && $4 / 1000 >= a && $4 / 1000 < b && $6 == 0 {
					if ($2 == 0) w++; else p++
					if ($7 == 1) fnew++; else if ($2 in open && open[$2] == $3) old++ }
				END { print w + 0, p + 0, old + 0, fnew + 0 }' "$HS_TMP/$x.clients")
			fails+=("$fw/$fp")
			worsts+=("$worst")
			news+=("$fn")
			# latency of every command started in the window
			awk -v a="$ts" -v b="$te" '$1 == "R" && $4 / 1000 >= a && $4 / 1000 < b { print $5 / 1000 }' "$HS_TMP/$x.clients" >>"$HS_TMP/$x.lat"
			read -r _ _ _ p99 mx < <(awk -v a="$ts" -v b="$te" '$1 == "R" && $4 / 1000 >= a && $4 / 1000 < b { print $5 / 1000 }' "$HS_TMP/$x.clients" | stats)
			lat+=("$p99/$mx")
			echo "$x $k ${promo:-0} $mx" >>"$HS_TMP/latmax"
			reasons+=$(awk -v a="$ts" -v b="$te" '$1 == "R" && $4 / 1000 >= a && $4 / 1000 < b && $6 == 0 { print $8 }' "$HS_TMP/$x.clients" | sort | uniq -c | awk '{ printf " %s x%s", $2, $1 }')
		done <"$HS_TMP/kills"
		# release: the agent's "writes go to" after each kill
		[ "$x" = tcpcheck ] || hold_release "$x" "$HS_TMP/kills" "$HS_TMP/$x.clients" >"$HS_TMP/$x.rel"
		local tf=0 twf=0 tpf=0 tn=0 tw=0 v
		for v in "${fails[@]}"; do twf=$((twf + ${v%/*})); tpf=$((tpf + ${v#*/})); done
		for v in "${news[@]}"; do tn=$((tn + v)); done
		for v in "${worsts[@]}"; do tw=$((tw + v)); done
		tf=$((twf + tpf))
		res "failed commands, $N kills (writer / pool); of them on the 21 connections open at the kill" "$x" \
			"$tf ($twf / $tpf), per kill ${fails[*]}; $tw (per kill ${worsts[*]})" "<= 21 per kill, all on open ones" \
			"$(ok_if 'o <= 21 * n && o == f' o="$tw" n="$N" f="$tf")"
		res "failed new connections, $N kills" "$x" "$tn (per kill ${news[*]})" "0" "$(ok_if 'n == 0' n="$tn")"
		local n mn md lp99 lmx pmax
		read -r n mn md lp99 lmx < <(stats <"$HS_TMP/$x.lat")
		pmax=$(printf '%s\n' "${promos[@]}" | sort -n | tail -n 1)
		res "write latency p99 / max, ms (per kill p99/max)" "$x" "$lp99 / $lmx (${lat[*]}); kill -> promotion ${promos[*]} ms" \
			"max <= promotion + 50" "$(awk -v f="$HS_TMP/latmax" -v x="$x" 'BEGIN { ok = 1; while ((getline l < f) > 0) { split(l, a, " "); if (a[1] == x && a[4] > a[3] + 50) ok = 0 } print ok ? "yes" : "no" }')"
		if [ "$x" != tcpcheck ] && [ -s "$HS_TMP/$x.rel" ]; then
			read -r n mn md lp99 lmx < <(stats <"$HS_TMP/$x.rel")
			res "held commands answered after HAProxy's ack of the switch, ms" "$x" "median $md, max $lmx (n=$n)" "<= 5" "$(ok_if 'v <= 5' v="$lmx")"
		fi
		[ -z "$reasons" ] || note "$x: failed commands by reason:$reasons"
	done
	if [ -s "$HS_TMP/hold.alone.haprel" ]; then
		read -r n mn md lp99 lmx < <(stats <"$HS_TMP/hold.alone.haprel")
		res "held connections let go by HAProxy after its ack of the switch (its log), the shipped setup's clients alone, ms" "hold" \
			"median $md, p99 $lp99, max $lmx (n=$n)" "<= 5" "$(ok_if 'v <= 5' v="$lmx")"
	fi
	if [ -s "$HS_TMP/hold.alone.rel" ]; then
		read -r n mn md lp99 lmx < <(stats <"$HS_TMP/hold.alone.rel")
		res "held commands answered after HAProxy's ack of the switch, the shipped setup's clients alone ($N more kills), ms" "hold" \
			"median $md, p99 $lp99, max $lmx (n=$n)" "<= 5" "$(ok_if 'v <= 5' v="$lmx")"
	fi
}

# ================================================================ scale

# A config in the style of haproxy/haproxy.cfg: per group a write backend
# (balance first, no check) and a read backend (PING check), 4 slots each.
scale_haproxy_cfg() { # GROUPS SOCKET
	local g name
	cat <<-EOF
		global
		    maxconn 4096
		    stats socket "$2" mode 600 level admin
		    stats timeout 30s
		    hard-stop-after 5s
		defaults
		    mode tcp
		    timeout connect 2s
		    timeout client  1h
		    timeout server  1h
		    timeout tunnel  1h
	EOF
	# Every checked slot holds a file descriptor in HAProxy: beyond 2000
	# groups the read backends go unchecked, or HAProxy wants more than
	# the usual limit of descriptors (the agent's work is the same).
	local check="check inter 1s fall 2 rise 1 "
	(($1 > 2000)) && check=""
	for ((g = 0; g < $1; g++)); do
		if [ "$1" = 1 ]; then name=mymaster; else name=mymaster-$g; fi
		cat <<-EOF
			backend ${name}_write
			    balance first
			    default-server on-marked-down shutdown-sessions
			    server-template r 1-4 127.0.0.1:1 disabled
			backend ${name}_read
			    balance roundrobin
			    option tcp-check
			    tcp-check send PING\r\n
			    tcp-check expect rstring ^(\+PONG|-NOAUTH)
			    tcp-check send QUIT\r\n
			    retries 2
			    option redispatch 1
			    default-server ${check}on-marked-down shutdown-sessions
			    server-template r 1-4 127.0.0.1:1 disabled
		EOF
	done
}

# fake_redis on 2*GROUPS ports: above the kernel's ephemeral range when it
# fits (no outgoing connection and no lib.sh test takes them), else a few
# random tries below it. Sets SC_BASE.
scale_start_fake_redis() { # GROUPS
	local hi n=$(($1 * 2)) try base per=8000 k procs ok
	hi=$(awk '{ print $2 }' /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 60999)
	# More nodes than free ports above the ephemeral range: groups share
	# stand-in nodes (fake_sentinel -w, bench_hapwait -w). The agent and
	# HAProxy still see one write and one read backend per group.
	SC_WRAP=0
	if ((hi + 1 + n > 65535 && n > 4000)); then
		SC_WRAP=4000
		n=$SC_WRAP
	fi
	procs=$(((n + per - 1) / per))
	for ((try = 0; try < 6; try++)); do
		if ((try == 0 && hi + 1 + n <= 65535)); then base=$((hi + 1 + RANDOM % (65535 - hi - n))); else base=$((20000 + RANDOM % 10000)); fi
		# one process per 8000 ports: each holds its listeners and their
		# clients under the file descriptor limit
		ok=1
		for ((k = 0; k < procs; k++)); do
			local kb=$((base + k * per)) kn=$((n - k * per))
			((kn > per)) && kn=$per
			: >"$HS_TMP/fake_redis$k.out"
			_hs_spawn "$HS_TMP/fake_redis$k.out" "$BENCH_BIN/fake_redis" -b "$kb" -n "$kn"
			hs_register "fake_redis$k" "$HS_BG_PID"
		done
		for ((k = 0; k < procs; k++)); do
			local deadline=$(($(hs_now_ms) + 5000))
			while :; do
				grep -q '^ready' "$HS_TMP/fake_redis$k.out" && break
				if ! hs_alive "${HS_PID[fake_redis$k]}" || (($(hs_now_ms) >= deadline)); then ok=0; break; fi
				sleep 0.02
			done
		done
		if ((ok)); then SC_BASE=$base; SC_FR_PROCS=$procs; return 0; fi
		for ((k = 0; k < procs; k++)); do hs_stop "${HS_PID[fake_redis$k]}"; done
	done
	hs_fail "fake_redis could not bind $n ports"
}

# BENCH_SCALE_PERF: perf over one phase of scale_one (apid, G are the
# caller's); a no-op for the other phase or without BENCH_SCALE_PERF.
SCALE_PERF_PID=
scale_perf_start() { # PHASE
	[ -n "${BENCH_SCALE_PERF:-}" ] && [ "$1" = "${BENCH_SCALE_PERF_AT:-failover}" ] || return 0
	perf record -q -g -p "$apid" -o "$BENCH_SCALE_PERF.$G" >/dev/null 2>&1 &
	SCALE_PERF_PID=$!
	hs_wait_until 5 '[ -s "$BENCH_SCALE_PERF.$G" ]' "perf to start"
}

scale_perf_stop() {
	[ -n "$SCALE_PERF_PID" ] || return 0
	kill -INT "$SCALE_PERF_PID"
	wait "$SCALE_PERF_PID" || true
	SCALE_PERF_PID=
}

scale_one() { # GROUPS RESYNC_MS
	local G=$1 iv=$2 i p sock cfg c0 c1 r out t0 sock_up tdone tag=$1
	[ "$iv" != 1000 ] && tag="$G, resync ${iv}ms"
	# deadlines grow with the size (x1 up to 1000 groups, x10 at 10 000)
	local sx=$(((G + 999) / 1000))
	hs_log "scale: $G group(s), resync-interval $iv ms, load $(load1)"
	scale_start_fake_redis "$G"
	HS_SENTINEL_NAMES=()
	for i in 0 1 2; do
		p=$(hs_free_port)
		HS_PORT["fs$i"]=$p
		_hs_spawn "$HS_TMP/fs$i.log" "$TOOLS_BIN/fake_sentinel" -p "$p" -n "$G" -b "$SC_BASE" -r 1 -w "$SC_WRAP"
		hs_register "fs$i" "$HS_BG_PID"
		HS_SENTINEL_NAMES+=("fs$i")
		_hs_wait_started "fs$i" 5 '[ "$(hs_cli "$p" PING)" = PONG ]'
	done
	sock=$HS_TMP/scale.sock
	cfg=$HS_TMP/scale-$G.cfg
	scale_haproxy_cfg "$G" "$sock" >"$cfg"
	haproxy -c -q -f "$cfg" >>"$HS_TMP/scale-haproxy.log" 2>&1 || hs_fail "haproxy -c rejects $cfg"
	rm -f "$sock"
	_hs_spawn "$HS_TMP/scale-haproxy.log" haproxy -W -db -f "$cfg"
	hs_register haproxy "$HS_BG_PID"
	HS_ADMIN_SOCKET=$sock
	_hs_wait_started haproxy $((20 * sx)) 'hs_hap show info | grep -q "^Pid:"'

	# Agent start -> every write backend holds its master.
	HS_STATUS_SOCKET=$HS_TMP/agent-$G.sock
	rm -f "$HS_TMP/agent.log"
	t0=$(hs_now_ms)
	HS_AGENT_START_S=$((5 * sx)) hs_start_agent "log-level ${BENCH_SCALE_LOG_LEVEL:-info}" "resync-interval $iv"
	local apid=${HS_PID[agent]}
	out=$("$BENCH_BIN/bench_hapwait" -s "$sock" -g "$G" -b "$SC_BASE" -w "$SC_WRAP" -k 0 -t $((60000 * sx)) -i 5) ||
		hs_fail "scale $G: the agent did not fill the write backends in 60 s: $out"
	read -r _ _ _ _ _ _ _ tdone _ <<<"$out"
	res "initial fill: agent start -> all write masters ready" "$tag" "$((tdone - t0)) ms"

	# Idle: let it settle, then 10 s of CPU and the RSS.
	hs_wait_until $((10 * sx)) '[ "$(hs_agent_status | jq "[.masters[] | select(.state == \"ok\")] | length")" = "$G" ]' \
		"every group ok in the agent's status"
	local idle_s=${BENCH_SCALE_IDLE_S:-10}
	[ "$BENCH_QUICK" = 1 ] && idle_s=5
	scale_perf_start idle
	c0=$(cpu_ticks "$apid")
	local w0 w1
	w0=$(hs_now_ms)
	hs_wait_until $((idle_s + 5)) '(( $(hs_now_ms) - w0 >= idle_s * 1000 ))' "$idle_s s of idle"
	w1=$(hs_now_ms)
	c1=$(cpu_ticks "$apid")
	scale_perf_stop
	local idle_pct rss
	idle_pct=$(awk -v c=$((c1 - c0)) -v hz="$CLK_TCK" -v ms=$((w1 - w0)) 'BEGIN { printf "%.1f", 100 * c / hz * 1000 / ms }')
	rss=$(rss_kb "$apid")
	res "agent CPU idle (${idle_s} s, % of one core)" "$tag" "${idle_pct}%" "~0 (< 1%)" "$(ok_if 'v < 1' v="$idle_pct")"
	res "agent RSS idle" "$tag" "$((rss / 1024)).$(((rss % 1024) * 10 / 1024)) MB" "< 8 MB" "$(ok_if 'v < 8192' v="$rss")"

	# A forced resync with HAProxy consistent: SIGHUP, and the agent's own
	# "resync done in N ms" (every Sentinel answered a round, every backend
	# read, nothing left to send).
	local hups=() hd k hmed
	for ((k = 0; k < 3; k++)); do
		hd=$(grep -c "SIGHUP: resync done in" "$HS_TMP/agent.log")
		kill -HUP "$apid"
		hs_wait_until $((10 * sx)) '(( $(grep -c "SIGHUP: resync done in" "$HS_TMP/agent.log") > hd ))' "the agent's resync to be done"
		hups+=("$(grep "SIGHUP: resync done in" "$HS_TMP/agent.log" | tail -n 1 | sed 's/.*done in \([0-9]*\) ms.*/\1/')")
	done
	hmed=$(printf '%s\n' "${hups[@]}" | median)
	res "forced resync (SIGHUP), HAProxy consistent: all groups asked and checked (ms)" "$tag" "$(printf '%s\n' "${hups[@]}" | mmm)" \
		"< 100 ms" "$(ok_if 'v < 100' v="$hmed")"

	# HAProxy restart without a state file, three ways:
	#  natural: the agent's watch connection sees the old socket close and
	#           the new one accept (haproxy.h), and it reapplies at once
	#  forced:  the agent is stopped (SIGSTOP) while HAProxy restarts, so
	#           nothing can start the work early; once the new socket answers
	#           it gets SIGHUP and SIGCONT: on_hup() runs a full resync at
	#           once (Sentinel round + HAProxy reconcile)
	#  alone:   no agent at all (stopped): bench_hapwait -a sends the write
	#           side's commands itself, in the agent's batches. HAProxy's own
	#           share of a restart resync; the agent's is what natural adds.
	local nat=() hup=() cpu=() hwm=0 h mode runs=3 lost0
	[ "$BENCH_QUICK" = 1 ] && runs=1
	lost0=$(grep -c "sentinel .*link down" "$HS_TMP/agent.log")
	scale_perf_start restart
	for ((k = 0; k < 2 * runs; k++)); do
		mode=natural
		((k % 2 == 1)) && mode=paused
		[ "$mode" = paused ] && kill -STOP "$apid"
		hs_stop "${HS_PID[haproxy]}"
		rm -f "$sock"
		hwm_reset "$apid"
		c0=$(cpu_ticks "$apid")
		_hs_spawn "$HS_TMP/scale-haproxy.log" haproxy -W -db -f "$cfg"
		hs_register haproxy "$HS_BG_PID"
		if [ "$mode" = paused ]; then
			hs_wait_until $((20 * sx)) '[ -S "$sock" ] && hs_hap show info | grep -q "^Pid:"' "the new haproxy"
			t0=$(hs_now_ms)
			kill -HUP "$apid"
			kill -CONT "$apid"
		fi
		out=$("$BENCH_BIN/bench_hapwait" -s "$sock" -g "$G" -b "$SC_BASE" -w "$SC_WRAP" -k 0 -t $((30000 * sx))) ||
			hs_fail "scale $G: no resync within 30 s after an haproxy restart: $out"
		read -r _ _ _ sock_up _ _ _ tdone _ <<<"$out"
		c1=$(cpu_ticks "$apid")
		h=$(hwm_kb "$apid")
		((h > hwm)) && hwm=$h
		cpu+=($(((c1 - c0) * 1000 / CLK_TCK)))
		if [ "$mode" = natural ]; then nat+=($((tdone - sock_up))); else hup+=($((tdone - t0))); fi
	done
	scale_perf_stop
	local alone=() hd sent
	for ((k = 0; k < runs; k++)); do
		kill -STOP "$apid"
		hs_stop "${HS_PID[haproxy]}"
		rm -f "$sock"
		_hs_spawn "$HS_TMP/scale-haproxy.log" haproxy -W -db -f "$cfg"
		hs_register haproxy "$HS_BG_PID"
		out=$("$BENCH_BIN/bench_hapwait" -a -s "$sock" -g "$G" -b "$SC_BASE" -w "$SC_WRAP" -k 0 -t $((30000 * sx))) ||
			hs_fail "scale $G: bench_hapwait -a did not make every master ready within 30 s: $out"
		read -r _ _ _ sock_up _ _ _ tdone _ <<<"$out"
		alone+=($((tdone - sock_up)))
		sent=${out##* sent }
		# the agent takes over this HAProxy before the next step
		hd=$(grep -c "SIGHUP: resync done in" "$HS_TMP/agent.log")
		kill -HUP "$apid"
		kill -CONT "$apid"
		hs_wait_until $((10 * sx)) '(( $(grep -c "SIGHUP: resync done in" "$HS_TMP/agent.log") > hd ))' "the agent's resync after the run without it"
	done
	res "HAProxy restart: socket up -> all write masters ready (ms)" "$tag" \
		"$(printf '%s\n' "${nat[@]}" | mmm)"
	res "  the write side sent with no agent (HAProxy's share, ms)" "$tag" \
		"$(printf '%s\n' "${alone[@]}" | mmm), $sent commands"
	hmed=$(printf '%s\n' "${hup[@]}" | median)
	res "HAProxy restart, agent paused, then SIGHUP -> all ready (ms)" "$tag" "$(printf '%s\n' "${hup[@]}" | mmm)" \
		"< 200 ms" "$(ok_if 'v < 200' v="$hmed")"
	if [ "$(grep -c "sentinel .*link down" "$HS_TMP/agent.log")" != "$lost0" ]; then
		note "$tag: $(($(grep -c "sentinel .*link down" "$HS_TMP/agent.log") - lost0)) Sentinel link losses during the restarts (grep 'link down' in the agent log)"
	fi
	res "agent CPU per restart resync (ms of CPU)" "$tag" "$(printf '%s\n' "${cpu[@]}" | mmm)"
	res "agent peak RSS during resyncs" "$tag" "$((hwm / 1024)).$(((hwm % 1024) * 10 / 1024)) MB" "< 8 MB" "$(ok_if 'v < 8192' v="$hwm")"

	# Mass failover: every fake_sentinel fails every group over at once.
	local sw0 n mn md p99 mx
	sw0=$(grep -c "writes go to" "$HS_TMP/agent.log")
	hwm_reset "$apid"
	c0=$(cpu_ticks "$apid")
	scale_perf_start failover
	out=$("$BENCH_BIN/bench_hapwait" -s "$sock" -g "$G" -b "$SC_BASE" -w "$SC_WRAP" -k 1 -t $((60000 * sx)) \
		-u "${HS_PID[fs0]},${HS_PID[fs1]},${HS_PID[fs2]}") ||
		hs_fail "scale $G: mass failover not applied in 60 s: $out"
	scale_perf_stop
	read -r _ t0 _ _ _ _ _ tdone _ <<<"$out"
	c1=$(cpu_ticks "$apid")
	res "mass failover: SIGUSR1 -> all write backends switched (ms)" "$tag" "$((tdone - t0)) ms, agent CPU $(((c1 - c0) * 1000 / CLK_TCK)) ms, peak RSS $(($(hwm_kb "$apid") / 1024)) MB"
	hs_wait_until $((10 * sx)) '[ "$(grep -c "writes go to" "$HS_TMP/agent.log")" -ge $((sw0 + G)) ]' "the agent to log every switch"
	sed -n 's/.* writes go to [^,]*, \(-\{0,1\}[0-9][0-9]*\) ms after the decision.*/\1/p' "$HS_TMP/agent.log" |
		tail -n +"$((sw0 + 1))" >"$HS_TMP/mass.ms"
	read -r n mn md p99 mx < <(stats <"$HS_TMP/mass.ms")
	res "mass failover: agent decision -> HAProxy ack (ms)" "$tag" "median $md, p99 $p99, max $mx (n=$n)" "< 5 ms" \
		"$(ok_if 'n > 0 && p < 5' n="$n" p="$p99")"

	# HAProxy's own share of a mass failover: the agent stopped, every
	# group fails back, bench_hapwait -a plans and sends the switches itself
	# (from a read: no extra maint commands, no ROLE step in between).
	kill -STOP "$apid"
	out=$("$BENCH_BIN/bench_hapwait" -a -s "$sock" -g "$G" -b "$SC_BASE" -w "$SC_WRAP" -k 0 -t $((60000 * sx)) \
		-u "${HS_PID[fs0]},${HS_PID[fs1]},${HS_PID[fs2]}") ||
		{ kill -CONT "$apid"; hs_fail "scale $G: bench_hapwait -a did not switch every group within 60 s: $out"; }
	read -r _ _ _ sock_up _ _ _ tdone _ <<<"$out"
	sent=${out##* sent }
	res "  the switches sent with no agent (HAProxy's share, ms)" "$tag" "$((tdone - sock_up)) ms for $sent commands"
	hd=$(grep -c "SIGHUP: resync done in" "$HS_TMP/agent.log")
	kill -HUP "$apid"
	kill -CONT "$apid"
	hs_wait_until $((10 * sx)) '(( $(grep -c "SIGHUP: resync done in" "$HS_TMP/agent.log") > hd ))' "the agent's resync after the failover without it"

	local lost
	lost=$(grep -c "sentinel .* cmd: link down" "$HS_TMP/agent.log")
	res "Sentinel command links lost (whole run of this size)" "$tag" "$lost" "0" "$([ "$lost" = 0 ] && echo yes || echo no)"
	[ "$lost" = 0 ] || note "$tag: $(grep "sentinel .* cmd: link down" "$HS_TMP/agent.log" | sed 's/.*link down: //' | sort | uniq -c | awk '{ c = $1; $1 = ""; printf "%s%s x%s", (NR > 1 ? ", " : ""), substr($0, 2), c }') (sentinel links)"

	# Stop this size's processes, keep the agent's log.
	hs_stop "$apid"
	mv "$HS_TMP/agent.log" "$HS_TMP/agent-$G-$iv.log"
	hs_stop "${HS_PID[haproxy]}"
	for i in 0 1 2; do hs_stop "${HS_PID[fs$i]}"; done
	for ((i = 0; i < SC_FR_PROCS; i++)); do hs_stop "${HS_PID[fake_redis$i]}"; done
	SC_LAST_IDLE=$idle_pct
}

section_scale() {
	local sizes=(${BENCH_SCALE_SIZES:-1 100 1000}) G
	# shellcheck source=../tests/integration/lib.sh
	. "$top_srcdir/tests/integration/lib.sh"
	hs_setup
	hs_require_bin "$TOOLS_BIN/fake_sentinel" "$BENCH_BIN/fake_redis" "$BENCH_BIN/bench_hapwait"
	[ "$BENCH_QUICK" = 1 ] && sizes=(1 100)
	note "3 fake_sentinel (tests/tools, -r 1: a master and one replica per group), bench/fake_redis answering ROLE master / PING on every node port, a real haproxy $(haproxy -v | awk 'NR == 1 { print $3 }') with a write and a read backend (4 slots each, read side PING-checked) per group; the agent is the real one at its defaults (log-level info)"
	for G in "${sizes[@]}"; do
		scale_one "$G" 1000
	done
	if [ "$BENCH_QUICK" != 1 ] && awk -v v="${SC_LAST_IDLE:-0}" 'BEGIN { exit !(v >= 1) }'; then
		scale_one 1000 5000
	fi
}

# ================================================================ main

print_table() {
	local tsv=$1
	awk -F'\t' '
		{ r[NR] = $0; for (i = 2; i <= 6; i++) { l = length($i); if (l > w[i]) w[i] = l } }
		END {
			h[2] = "metric"; h[3] = "mode/size"; h[4] = "value"; h[5] = "target"; h[6] = "ok?"
			for (i = 2; i <= 6; i++) if (length(h[i]) > w[i]) w[i] = length(h[i])
			fmt = "%-" w[2] "s  %-" w[3] "s  %-" w[4] "s  %-" w[5] "s  %s\n"
			printf fmt, h[2], h[3], h[4], h[5], h[6]
			sep = ""; for (i = 2; i <= 6; i++) { s = ""; for (j = 0; j < w[i]; j++) s = s "-"; sep = sep s (i < 6 ? "  " : "") }
			print sep
			last = ""
			for (n = 1; n <= NR; n++) {
				split(r[n], c, "\t")
				if (c[1] != last) { if (last != "") print ""; print "[" c[1] "]"; last = c[1] }
				printf fmt, c[2], c[3], c[4], c[5], c[6]
			}
		}' "$tsv"
}

main() {
	local s rc=0 t0 dir
	BENCH_DIR=$(mktemp -d "${TMPDIR:-/tmp}/hsbench.XXXXXX") || exit 1
	dir=$BENCH_DIR
	# (BENCH_DIR is global: the trap runs after main has returned)
	trap 'rm -rf "$BENCH_DIR"' EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	export BENCH_RESULTS=$dir/results.tsv BENCH_NOTES=$dir/notes.txt
	: >"$BENCH_RESULTS"
	: >"$BENCH_NOTES"
	t0=$(date +%s)
	{
		echo "hasentinel benchmarks ($(date -u +%Y-%m-%dT%H:%M:%SZ), BENCH_N=$BENCH_N$([ "$BENCH_QUICK" = 1 ] && echo ', BENCH_QUICK=1'))"
		echo "machine: $(nproc) CPU ($(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)), $(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo) RAM, $(uname -sr), load average at start $(cut -d' ' -f1-3 /proc/loadavg)"
		echo "software: $(haproxy -v | awk 'NR == 1 { print "haproxy " $3 }'), $(redis-server --version | awk '{ print "redis " $3 }' | tr -d 'v='), hasentinel $("${HASENTINEL:-$top_builddir/agent/hasentinel}" -V 2>/dev/null | awk '{ print $2 }')"
	} >"$dir/head"
	local only=${BENCH_ONLY:-parse lab hold scale}
	for s in $only; do
		wait_low_load
		echo "== section $s (load $(load1))" >&2
		echo "$s" "$(load1)" >>"$dir/loads"
		if ! bash "$BENCH_SELF" "$s"; then
			printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$s" "SECTION FAILED (see stderr)" "-" "-" "-" "no" >>"$BENCH_RESULTS"
			rc=1
		fi
	done
	echo
	cat "$dir/head"
	echo "load average (1 min) at the start of each section: $(awk '{ printf "%s%s %s", (NR > 1 ? ", " : ""), $1, $2 }' "$dir/loads"); at the end: $(cut -d' ' -f1-3 /proc/loadavg); total $(($(date +%s) - t0)) s"
	echo
	print_table "$BENCH_RESULTS"
	if [ -s "$BENCH_NOTES" ]; then
		echo
		sed 's/^/note: /' "$BENCH_NOTES"
	fi
	return "$rc"
}

case $BENCH_SECTION in
all) main ;;
parse) section_parse ;;
lab) section_lab ;;
scale) section_scale ;;
hold) section_hold ;;
*)
	echo "usage: bench/run.sh [parse|lab|hold|scale]" >&2
	exit 2
	;;
esac
