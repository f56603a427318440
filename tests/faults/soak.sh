#!/bin/bash
# The randomized fault soak:
#
#   tests/faults/soak.sh [SECONDS [SEED]]     (or SOAK_SECONDS / SOAK_SEED;
#                                              `make soak SOAK_SECONDS=N SOAK_SEED=S`)
#
# The lab of the fault suite (r0 r1 r2, s0 s1 s2, HAProxy, the agent) with
# two writers through the write port: unique keys (SET) and one counter
# (INCR), each acknowledgement attributed to the node behind its
# connection. Faults are drawn one after the other from the catalogue
# below, from a generator seeded with SEED (the same seed gives the same
# schedule of kinds, victims and durations; the timings of the real
# processes differ). Between two faults the lab settles (Sentinel's master
# alone in the write backend, the replicas in the read one, every link up),
# then a random pause of 1-4 s.
#
# Catalogue: master_kill (SIGKILL, restarted as a replica), old_master_back
# (SIGKILL, restarted still claiming the master role), master_stop_short
# (SIGSTOP below down-after), master_stop_long (SIGSTOP until the write
# backend switched, then SIGCONT), replica_kill (restarted 0.5-3 s later),
# sentinel_kill (restarted 1-5 s later), sentinel_tilt (SIGSTOP 3 s: TILT),
# haproxy_reload, agent_kill (restarted 0-2 s later),
# agent_kill_in_failover (master and agent SIGKILLed together).
# An HAProxy reload and a failover may overlap: the agent cuts the old
# worker's clients of a demoted master through the master CLI (lib.sh
# starts HAProxy with -S and the agent with haproxy-master-socket).
#
# Checked while it runs: a sampler polls the write backend every 20 ms
# (one admin socket connection) and counts the polls with two ready slots.
# Checked at the end, against the master timeline that Sentinel's events
# give (each +switch-master / +promoted-slave naming another node starts an
# epoch):
#   - an acknowledgement by a node that was not the master at that time is
#     a violation (also for INCR);
#   - every key acknowledged in the final master's epoch is on it, and the
#     counter never went back below a value acknowledged in that epoch;
#   - an acknowledged write of an earlier epoch that is gone is "lost to
#     replication" (Sentinel's asynchronous replication), attributed to the
#     fault during which its epoch ended.
# Prints the seed, the schedule, a table per fault kind, and ends with
#   soak: seed S, F faults, A acked, L lost to replication, V violations
# A write acknowledged by the master just replaced at most SOAK_GRACE_MS
# (250) after the first announcement of its replacement (Sentinel's log or
# Pub/Sub, whichever is earlier) is "late": the agent's reaction time where
# Sentinel failed over a master that is still up; counted in L, shown
# apart, not a violation.
# Exit status 1 when V > 0 (or the lab did not settle at the end).
#   tests/faults/soak.sh --check DIR   runs the checker again on a directory
#                                      kept by a run with HS_KEEP=1
# Conditions are single-quoted and eval'd by hs_wait_until:
# shellcheck disable=SC2016,SC2034,SC2119
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
set -u -o pipefail
. "$(dirname "$0")/faultlib.sh"
SOAK_CHECK_ONLY=
if [ "${1:-}" = --check ]; then
	# Run the checker again on a directory kept by an earlier run.
	SOAK_CHECK_ONLY=${2:?usage: soak.sh --check DIR}
	shift 2
fi

SOAK_SECONDS=${1:-${SOAK_SECONDS:-120}}
SOAK_SEED=${2:-${SOAK_SEED:-}}
[ -n "$SOAK_SEED" ] || SOAK_SEED=$(($(date +%s) % 1000000))
[[ $SOAK_SECONDS =~ ^[0-9]+$ && $SOAK_SEED =~ ^[0-9]+$ ]] || {
	echo "usage: soak.sh [SECONDS [SEED]] (integers)" >&2
	exit 2
}
SOAK_KINDS=(master_kill old_master_back master_stop_short master_stop_long replica_kill
	sentinel_kill sentinel_tilt haproxy_reload agent_kill agent_kill_in_failover)

# ------------------------------------------------------------ the generator

# A 31-bit LCG of our own (bash's RANDOM is also drawn by hs_free_port).
SOAK_STATE=$((SOAK_SEED % 2147483648))
# soak_rand N: an integer in [0, N) into SOAK_R.
soak_rand() {
	SOAK_STATE=$(((SOAK_STATE * 1103515245 + 12345) % 2147483648))
	SOAK_R=$(((SOAK_STATE >> 8) % $1))
}

# ------------------------------------------------------------ helpers

# soak_wait SECS COND: like hs_wait_until, but returns 1 on timeout.
soak_wait() {
	local deadline
	deadline=$(($(hs_now_ms) + $1 * 1000))
	while ! eval "$2" >/dev/null 2>&1; do
		(($(hs_now_ms) < deadline)) || return 1
		sleep 0.05
	done
}

soak_events_for() {
	local n=$1 f=$HS_TMP/events.$1.txt
	_hsf_subscriber "$n" "${HS_PORT[$n]}" </dev/null >>"$f" 2>/dev/null &
	hs_register "ev_$n" $!
	soak_wait 5 'grep -q " subscribed$" "$f"' || hs_log "soak: no subscriber on $n"
}

soak_master() {
	SOAK_M=$(hs_sentinel_master "$HS_MASTER") || return 1
	SOAK_MNAME=$(hs_name_of_port "${SOAK_M##*:}") || return 1
}

# The write backend has exactly Sentinel's master, other than OLD.
soak_switched() {
	local m
	m=$(hs_sentinel_master "$HS_MASTER") && [ "$m" != "$1" ] &&
		[ "$(hs_ready_servers "$HS_WRITE_BACKEND")" = "$m" ]
}

# Settled: every process up, master/replicas as Sentinel says, both
# backends applied.
soak_settled() {
	local n m
	for n in "${HS_REDIS_NAMES[@]}" "${HS_SENTINEL_NAMES[@]}" agent haproxy; do
		[ -n "${HS_PID[$n]:-}" ] || return 1
	done
	m=$(hs_sentinel_master "$HS_MASTER") || return 1
	[ "$(hs_role_via "${m##*:}")" = master ] || return 1
	_hs_lab_settled || return 1
	_hs_applied || return 1
	# No Sentinel in TILT (30 s after a freeze): two of them would leave no
	# majority for the next fault's failover.
	for n in "${HS_SENTINEL_NAMES[@]}"; do
		hs_cli "${HS_PORT[$n]}" INFO sentinel | grep -q '^sentinel_tilt:0' || return 1
	done
}

# restart a redis node as a replica of the current master
soak_restart_replica() {
	local name=$1 m
	m=$(hs_sentinel_master "$HS_MASTER") || m=127.0.0.1:${HS_PORT[r0]}
	if [ "${m##*:}" = "${HS_PORT[$name]}" ]; then
		hs_start_redis "$name"
	else
		hs_start_redis "$name" replicaof "${m##*:}"
	fi
}

SOAK_N=0
SOAK_UNSETTLED=0
# soak_record START KIND DETAIL CONVERGE_MS: one line of the schedule
soak_record() {
	echo "$SOAK_N $1 $(hs_now_ms) $2 $4 $3" >>"$HS_TMP/faults.txt"
	printf '#%-4d +%6.1fs %-24s %-28s converge %s ms\n' "$SOAK_N" \
		"$(((($1 - SOAK_T0) / 100)))e-1" "$2" "$3" "$4" >&2
}

# ------------------------------------------------------------ the faults
# Each sets SOAK_DETAIL and SOAK_CONV (ms from the fault to the write
# backend on the new master, or to a settled lab; "-" when it timed out).

_soak_failover_wait() {
	local t0=$1 old=$2
	# (+30 s: a Sentinel may have entered TILT during the fault itself)
	if soak_wait $((HSF_FAILOVER_WAIT + 30)) 'soak_switched "$old"'; then
		SOAK_CONV=$(($(hs_now_ms) - t0))
	else
		SOAK_CONV=-
	fi
}

fault_master_kill() {
	local t0=$1 restart_as=$2 old=$SOAK_M name=$SOAK_MNAME
	SOAK_DETAIL="$name($old)"
	hs_kill9 "$name"
	_soak_failover_wait "$t0" "$old"
	if [ "$restart_as" = master ]; then
		hs_start_redis "$name"
	else
		soak_restart_replica "$name"
	fi
}

fault_master_stop_short() {
	local ms
	soak_rand 400
	ms=$((200 + SOAK_R))
	SOAK_DETAIL="$SOAK_MNAME ${ms}ms"
	kill -STOP "${HS_PID[$SOAK_MNAME]}"
	sleep "$((ms / 1000)).$(printf %03d $((ms % 1000)))"
	kill -CONT "${HS_PID[$SOAK_MNAME]}"
	SOAK_CONV=0
}

fault_master_stop_long() {
	local t0=$1 old=$SOAK_M name=$SOAK_MNAME
	SOAK_DETAIL="$name($old)"
	kill -STOP "${HS_PID[$name]}"
	_soak_failover_wait "$t0" "$old"
	kill -CONT "${HS_PID[$name]}"
}

# a random one of the redis nodes that are replicas now
_soak_pick_replica() {
	local n c=()
	for n in "${HS_REDIS_NAMES[@]}"; do
		[ "$n" = "$SOAK_MNAME" ] || c+=("$n")
	done
	soak_rand "${#c[@]}"
	SOAK_PICK=${c[SOAK_R]}
}

fault_replica_kill() {
	local ms
	_soak_pick_replica
	soak_rand 2500
	ms=$((500 + SOAK_R))
	SOAK_DETAIL="$SOAK_PICK ${ms}ms"
	hs_kill9 "$SOAK_PICK"
	sleep "$((ms / 1000)).$(printf %03d $((ms % 1000)))"
	soak_restart_replica "$SOAK_PICK"
	SOAK_CONV=
}

fault_sentinel_kill() {
	local n ms
	soak_rand 3
	n=s$SOAK_R
	soak_rand 4000
	ms=$((1000 + SOAK_R))
	SOAK_DETAIL="$n ${ms}ms"
	hs_kill9 "$n"
	[ -z "${HS_PID[ev_$n]:-}" ] || hs_stop "${HS_PID[ev_$n]}"
	sleep "$((ms / 1000)).$(printf %03d $((ms % 1000)))"
	hs_start_sentinel "$n" "${SOAK_M##*:}"
	soak_events_for "$n"
	SOAK_CONV=
}

fault_sentinel_tilt() {
	local n
	soak_rand 3
	n=s$SOAK_R
	SOAK_DETAIL="$n 3000ms"
	kill -STOP "${HS_PID[$n]}"
	sleep 3
	kill -CONT "${HS_PID[$n]}"
	SOAK_CONV=
}

fault_haproxy_reload() {
	SOAK_DETAIL="pid ${HS_PID[haproxy]}"
	hs_reload_haproxy
	SOAK_CONV=
}

fault_agent_kill() {
	local ms
	soak_rand 2000
	ms=$SOAK_R
	SOAK_DETAIL="${ms}ms"
	hs_kill9 agent
	sleep "$((ms / 1000)).$(printf %03d $((ms % 1000)))"
	hs_start_agent
	SOAK_CONV=
}

fault_agent_kill_in_failover() {
	local t0=$1 old=$SOAK_M name=$SOAK_MNAME ms
	soak_rand 2000
	ms=$SOAK_R
	SOAK_DETAIL="$name($old) +${ms}ms"
	hs_kill9 "$name"
	hs_kill9 agent
	soak_wait $((HSF_FAILOVER_WAIT + 30)) 'm=$(hs_sentinel_master "$HS_MASTER") && [ "$m" != "$old" ]' || true
	sleep "$((ms / 1000)).$(printf %03d $((ms % 1000)))"
	hs_start_agent
	_soak_failover_wait "$t0" "$old"
	soak_restart_replica "$name"
}

soak_one() {
	local kind=$1 t0
	soak_master || { hs_log "soak: no master before fault $SOAK_N"; return 1; }
	t0=$(hs_now_ms)
	SOAK_CONV=
	case $kind in
	master_kill) fault_master_kill "$t0" replica ;;
	old_master_back) fault_master_kill "$t0" master ;;
	*) "fault_$kind" "$t0" ;;
	esac
	if ! soak_wait 60 soak_settled; then
		SOAK_UNSETTLED=$((SOAK_UNSETTLED + 1))
		hs_log "soak: the lab did not settle within 60 s of fault $SOAK_N ($kind)"
		[ -n "$SOAK_CONV" ] || SOAK_CONV=-
	fi
	[ -n "$SOAK_CONV" ] || SOAK_CONV=$(($(hs_now_ms) - t0))
	soak_record "$t0" "$kind" "$SOAK_DETAIL" "$SOAK_CONV"
}

# ------------------------------------------------------------ the sampler

# Every 20 ms: the write backend's ready slots. Writes "<ms> MULTI <poll>"
# for a poll with two or more, "<ms> W <set>" when the set changes, and
# "<ms> polls <n>" at the end.
soak_start_sampler() {
	local out=$HS_TMP/soak.samples stop=$HS_TMP/soak.stop
	rm -f "$stop"
	: >"$out"
	(
		n=0
		opened=0
		last=x
		_hsf_now
		while [ ! -f "$stop" ]; do
			if ((HSF_NOW - opened >= 1000)); then
				hsf_hapc_close
				opened=$HSF_NOW
			fi
			hsf_poll_backends "$HS_WRITE_BACKEND"
			_hsf_now
			hsf_poll_get "$HS_WRITE_BACKEND"
			n=$((n + 1))
			[[ $HSF_GOT != *,* ]] || echo "$HSF_NOW MULTI $HSF_POLL"
			if [ "$HSF_GOT" != "$last" ] && [ "$HSF_GOT" != "?" ]; then
				echo "$HSF_NOW W $HSF_GOT"
				last=$HSF_GOT
			fi
			hsf_pause 0.02
			_hsf_now
		done
		hsf_hapc_close
		echo "$HSF_NOW polls $n"
	) </dev/null >>"$out" 2>/dev/null &
	hs_register soak_sampler $!
}

soak_stop_sampler() {
	local pid=${HS_PID[soak_sampler]:-}
	touch "$HS_TMP/soak.stop"
	soak_wait 10 '! hs_alive "$pid"' || true
	hs_stop "$pid"
}

# ------------------------------------------------------------ metrics

# "<fds> <rss_kb>" of the agent
soak_agent_res() {
	local pid=${HS_PID[agent]:-} fds rss
	[ -n "$pid" ] || { echo "- -"; return; }
	fds=$(find "/proc/$pid/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l)
	rss=$(awk '$1 == "VmRSS:" { print $2 }' "/proc/$pid/status" 2>/dev/null)
	echo "$fds ${rss:--}"
}

# ------------------------------------------------------------ the checker

# Writes acknowledged by the master just replaced, at most this long after
# the first announcement of its replacement (the agent's reaction time: it
# cannot act before Sentinel announces), are counted apart as "late" and
# are lost, not violations; they happen only where the replaced master is
# still up and reachable (Sentinel failing over a live master).
SOAK_GRACE_MS=${SOAK_GRACE_MS:-250}

soak_check() {
	local fport=${m##*:} acked nonmaster missing lost late multi polls violations last_port
	# Announcement times: the subscribers' (they read later than the agent
	# under load) and each Sentinel's own log (when it announced).
	hsf_events_from_logs
	# Epochs: "<start_ms> <port>", from the first master on; a new one each
	# time an announcement names another node than the current one.
	{
		echo "0 $HSF_M0"
		hsf_events | awk -v mn="$HS_MASTER" '
			$3 == "+switch-master" && $4 == mn { print $1, $8 }
			$3 == "+promoted-slave" && $9 == mn { print $1, $7 }'
	} | awk '$2 != cur { print; cur = $2 }' >"$HS_TMP/epochs.txt"
	last_port=$(tail -n 1 "$HS_TMP/epochs.txt" | awk '{ print $2 }')
	[ "$last_port" = "$fport" ] || hs_log "soak: the last announced master is port $last_port, Sentinel says $m"

# Per acknowledgement: epoch, whether its node was that epoch's master, the
# end of the epoch, and for keys whether it survived; for the counter,
# whether a later value (or the final one) went below it.
# Output of each: "<kind> <t> <port> <status> <epoch_end>" with status
# ok | NONMASTER | LOST | MISSING (MISSING: gone in the final epoch).
awk -v fport="$fport" -v fctr="$fctr" -v grace="$SOAK_GRACE_MS" '
	FILENAME == ARGV[1] { es[++ne] = $1; ep[ne] = $2; next }
	FILENAME == ARGV[2] { have[$1] = 1; next }
	FNR == 1 { cur = 1 }
	$1 != "A" { next }
	{
		t = $2
		kind = (FILENAME == ARGV[3]) ? "key" : "ctr"
		# epochs and acks are both in time order (one writer per file)
		while (cur < ne && es[cur + 1] <= t) cur++
		end = (cur < ne) ? es[cur + 1] : "-"
		if ($3 != ep[cur]) {
			st = (cur > 1 && $3 == ep[cur - 1] && t - es[cur] <= grace) ? "LATE" : "NONMASTER"
			if (st == "LATE" && kind == "key" && ($4 in have)) st = "LATEKEPT"
			print kind, t, $3, st, end
			next
		}
		if (kind == "key") { print kind, t, $3, (($4 in have) ? "ok" : (end == "-" ? "MISSING" : "LOST")), end; next }
		n++; tt[n] = t; pp[n] = $3; vv[n] = $5; ee[n] = end
	}
	END {
		# an increment is lost when the counter later went to or below
		# its value (or ended there)
		min = fctr + 1
		for (i = n; i >= 1; i--) {
			cs[i] = (vv[i] >= min) ? (ee[i] == "-" ? "MISSING" : "LOST") : "ok"
			if (vv[i] < min) min = vv[i]
		}
		for (i = 1; i <= n; i++) print "ctr", tt[i], pp[i], cs[i], ee[i]
	}' "$HS_TMP/epochs.txt" "$HS_TMP/final_keys.txt" "$HS_TMP/writer.txt" "$HS_TMP/counter.txt" \
	>"$HS_TMP/checked.txt"

acked=$(wc -l <"$HS_TMP/checked.txt")
nonmaster=$(awk '$4 == "NONMASTER"' "$HS_TMP/checked.txt" | wc -l)
missing=$(awk '$4 == "MISSING"' "$HS_TMP/checked.txt" | wc -l)
lost=$(awk '$4 == "LOST" || $4 == "LATE"' "$HS_TMP/checked.txt" | wc -l)
late=$(awk '$4 == "LATE" || $4 == "LATEKEPT"' "$HS_TMP/checked.txt" | wc -l)
maxlate=$(awk 'FILENAME == ARGV[1] { es[++ne] = $1; next }
	$4 == "LATE" || $4 == "LATEKEPT" { for (i = ne; i >= 1 && es[i] > $2; i--); d = $2 - es[i]; if (d > mx) mx = d }
	END { print mx + 0 }' "$HS_TMP/epochs.txt" "$HS_TMP/checked.txt")
multi=$(grep -c ' MULTI ' "$HS_TMP/soak.samples")
polls=$(awk '$2 == "polls" { print $3 }' "$HS_TMP/soak.samples")
violations=$((nonmaster + missing + multi))

# Lost writes -> the fault during which their epoch ended (the last fault
# started at or before that end).
awk 'FILENAME == ARGV[1] { fs[++nf] = $2; fk[nf] = $4; fid[nf] = $1; next }
	$4 == "LOST" {
		w = 0
		for (i = 1; i <= nf && fs[i] <= $5; i++) w = i
		key = w ? fid[w] : 0
		lost[key]++
	}
	END { for (k in lost) print k, lost[k] }' "$HS_TMP/faults.txt" "$HS_TMP/checked.txt" |
	sort -n >"$HS_TMP/lost_by_fault.txt"
# Acked writes per fault window (from its start to the next one's start).
awk 'FILENAME == ARGV[1] { fs[++nf] = $2; next }
	{ while (c < nf && fs[c + 1] <= $2) c++; n[c]++ }
	END { for (k in n) print k, n[k] }' "$HS_TMP/faults.txt" "$HS_TMP/checked.txt" | sort -n >"$HS_TMP/acked_by_fault.txt"

echo
echo "seed $SOAK_SEED, $SOAK_SECONDS s, $SOAK_N faults; final master $m (epochs: $(grep -c . "$HS_TMP/epochs.txt"))"
echo
echo "schedule (# id, start +s, kind, detail, converge ms, acked in its window, lost to replication):"
awk -v t0="$SOAK_T0" 'FILENAME == ARGV[1] { l[$1] = $2; next } FILENAME == ARGV[2] { a[$1] = $2; next }
	{ d = ""; for (i = 6; i <= NF; i++) d = d (i > 6 ? " " : "") $i
	  printf "  #%-4d +%7.1f  %-24s %-28s %8s %8d %6d\n", $1, ($2 - t0) / 1000, $4, d, $5, a[$1], l[$1] }' \
	"$HS_TMP/lost_by_fault.txt" "$HS_TMP/acked_by_fault.txt" "$HS_TMP/faults.txt"
echo
echo "| fault | count | converge ms (median) | converge ms (max) | lost to replication |"
echo "|---|---:|---:|---:|---:|"
for k in "${SOAK_KINDS[@]}"; do
	awk -v k="$k" 'FILENAME == ARGV[1] { l[$1] = $2; next }
		$4 == k { n++; lo += l[$1]; if ($5 != "-") c[++nc] = $5; else to++ }
		END {
			if (!n) { printf "| %s | 0 | - | - | - |\n", k; exit }
			for (i = 2; i <= nc; i++) for (j = i; j > 1 && c[j - 1] + 0 > c[j] + 0; j--) { x = c[j]; c[j] = c[j - 1]; c[j - 1] = x }
			med = nc ? c[int((nc + 1) / 2)] : "-"; mx = nc ? c[nc] : "-"
			printf "| %s | %d | %s | %s%s | %d |\n", k, n, med, mx, to ? " (" to " timed out)" : "", lo
		}' "$HS_TMP/lost_by_fault.txt" "$HS_TMP/faults.txt"
done
echo
echo "acked: $(awk '$1 == "key"' "$HS_TMP/checked.txt" | wc -l) keys, $(awk '$1 == "ctr"' "$HS_TMP/checked.txt" | wc -l) increments (final counter $fctr)"
echo "late: $late acknowledged by the master just replaced, at most $maxlate ms after the announcement (grace $SOAK_GRACE_MS ms: the agent's reaction time; counted in lost)"
echo "violations: $nonmaster acked by a non-master, $missing acked in the final epoch and gone, $multi polls (of ${polls:-0}) with two ready write slots"
echo "agent (pid $SOAK_AGENT_PID0 at start, $SOAK_AGENT_PID1 at end): fds rss_kb at start $res0, at end $res1"
# The agent process that lived longest: its fds and memory over the
# failovers it went through (flat = no leak).
awk 'FILENAME == ARGV[1] { et[++ne] = $1; next }
	{ n[$2]++; if (!($2 in t0)) { t0[$2] = $1; f0[$2] = $3; r0[$2] = $4 } t1[$2] = $1; f1[$2] = $3; r1[$2] = $4
	  if ($3 > fmax[$2]) fmax[$2] = $3; if ($4 > rmax[$2]) rmax[$2] = $4 }
	END {
		for (p in n) if (n[p] > best) { best = n[p]; bp = p }
		if (!best) exit
		for (i = 1; i <= ne; i++) if (et[i] >= t0[bp] && et[i] <= t1[bp]) k++
		printf "longest-lived agent (pid %s, %d samples, %d failovers): fds %s -> %s (max %s), rss_kb %s -> %s (max %s)\n",
			bp, best, k, f0[bp], f1[bp], fmax[bp], r0[bp], r1[bp], rmax[bp]
	}' "$HS_TMP/epochs.txt" "$HS_TMP/agent_res.txt"
((SOAK_UNSETTLED == 0)) || echo "unsettled: $SOAK_UNSETTLED times the lab did not settle within 60 s"
((final_settled)) || echo "the lab did not settle at the end"
if ((violations > 0)); then
	echo "first violations:"
	{
		awk '$4 == "NONMASTER" || $4 == "MISSING"' "$HS_TMP/checked.txt" | head -n 20
		grep ' MULTI ' "$HS_TMP/soak.samples" | head -n 10
	} | sed 's/^/  /'
	echo "epochs:"
	sed 's/^/  /' "$HS_TMP/epochs.txt"
	[ -n "${SOAK_CHECK_ONLY:-}" ] || { cp -r "$HS_TMP" "${TMPDIR:-/tmp}/soak-$SOAK_SEED-$$" 2>/dev/null &&
		echo "state kept in ${TMPDIR:-/tmp}/soak-$SOAK_SEED-$$ (tests/faults/soak.sh --check DIR checks it again)"; }
fi
echo "soak: seed $SOAK_SEED, $SOAK_N faults, $acked acked, $lost lost to replication, $violations violations"
((violations == 0 && final_settled)) || return 1
return 0
}

# ------------------------------------------------------------ the run

if [ -n "$SOAK_CHECK_ONLY" ]; then
	HS_TMP=$SOAK_CHECK_ONLY
	HS_SENTINEL_NAMES=(s0 s1 s2)
	# shellcheck disable=SC1091
	. "$HS_TMP/soak.env" || exit 2
	soak_check
	exit $?
fi
hsf_setup soak
hs_log "soak: seed $SOAK_SEED, $SOAK_SECONDS s"
hs_start_lab
hs_start_haproxy
hs_start_agent
hs_wait_applied 10
for n in "${HS_SENTINEL_NAMES[@]}"; do
	soak_events_for "$n"
done
m=$(hs_sentinel_master "$HS_MASTER") || hs_fail "no sentinel answers GET-MASTER-ADDR-BY-NAME"
HSF_M0=${m##*:}
SOAK_KEYS=hsf:soak:$$
SOAK_CTR=hsf:soakctr:$$
bound=$((SOAK_SECONDS + 600))
_hs_spawn "$HS_TMP/writer.out" "$HSF_WRITER" 127.0.0.1 "$HS_WRITE_PORT" "$SOAK_KEYS" \
	"$HS_TMP/writer.txt" "$bound" 3
hs_register writer "$HS_BG_PID"
_hs_spawn "$HS_TMP/counter.out" "$HSF_WRITER" 127.0.0.1 "$HS_WRITE_PORT" "$SOAK_CTR" \
	"$HS_TMP/counter.txt" "$bound" 5 incr
hs_register counter "$HS_BG_PID"
hs_wait_until 5 'grep -q "^A " "$HS_TMP/writer.txt" && grep -q "^A " "$HS_TMP/counter.txt"' \
	"the writers' first acknowledged writes"
soak_start_sampler
: >"$HS_TMP/faults.txt"
SOAK_T0=$(hs_now_ms)
res0=$(soak_agent_res)
SOAK_AGENT_PID0=${HS_PID[agent]}
: >"$HS_TMP/agent_res.txt"
end=$((SOAK_T0 + SOAK_SECONDS * 1000))
hs_log "soak: writers and sampler running; faults until +${SOAK_SECONDS}s"
while (($(hs_now_ms) < end)); do
	soak_rand "${#SOAK_KINDS[@]}"
	kind=${SOAK_KINDS[SOAK_R]}
	SOAK_N=$((SOAK_N + 1))
	soak_one "$kind" || SOAK_UNSETTLED=$((SOAK_UNSETTLED + 1))
	echo "$(hs_now_ms) ${HS_PID[agent]:-0} $(soak_agent_res)" >>"$HS_TMP/agent_res.txt"
	if ((SOAK_UNSETTLED >= 3)); then
		hs_log "soak: the lab did not settle 3 times: stopping the faults"
		break
	fi
	soak_rand 3000
	sleep "$((1 + SOAK_R / 1000)).$(printf %03d $((SOAK_R % 1000)))"
done
final_settled=1
soak_wait 60 soak_settled || final_settled=0
# Writes after the last fault, then stop.
sleep 1
res1=$(soak_agent_res)
for n in writer counter; do
	hs_stop "${HS_PID[$n]}"
done
soak_stop_sampler
hs_log "writer: $(tail -n 1 "$HS_TMP/writer.out") counter: $(tail -n 1 "$HS_TMP/counter.out")"

m=$(hs_sentinel_master "$HS_MASTER") || hs_fail "no sentinel answers GET-MASTER-ADDR-BY-NAME at the end"
fport=${m##*:}
timeout 120 redis-cli -h "${m%:*}" -p "$fport" --scan --pattern "$SOAK_KEYS:*" >"$HS_TMP/final_keys.txt" 2>/dev/null ||
	hs_fail "SCAN of the final master $m failed"
fctr=$(hs_cli "$fport" GET "$SOAK_CTR")
[[ $fctr =~ ^[0-9]+$ ]] || fctr=0
# Everything the checker needs, so that `soak.sh --check DIR` can run it
# again on a kept directory (HS_KEEP=1).
{
	for v in SOAK_SEED SOAK_SECONDS SOAK_N SOAK_T0 SOAK_UNSETTLED SOAK_AGENT_PID0 HSF_M0 m fctr res0 res1 final_settled; do
		printf '%s=%q\n' "$v" "${!v}"
	done
} >"$HS_TMP/soak.env"
SOAK_AGENT_PID1=${HS_PID[agent]:-none}
echo "SOAK_AGENT_PID1=$SOAK_AGENT_PID1" >>"$HS_TMP/soak.env"
soak_check
exit $?
