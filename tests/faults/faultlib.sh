# shellcheck shell=bash
# Conditions are passed as single-quoted strings and eval'd later (SC2016);
# variables set here are read by the scenarios that source this file (SC2034).
# shellcheck disable=SC2016,SC2034
# Helpers for the fault scenarios (tests/faults/fNN_*.sh), on top of
# tests/integration/lib.sh (sourced here: every hs_* helper is available).
#
# A scenario does:
#     . "$(dirname "$0")/faultlib.sh"
#     hsf_setup f01_master_kill       # hs_setup + the test tools
#     hs_start_lab; hs_start_haproxy; hs_start_agent; hs_wait_applied 5
#     hsf_start_events                # Pub/Sub subscriber on every Sentinel
#     hsf_start_writer                # hs_writer through the write port
#     hsf_mark fault; ...inject the fault...
#     hsf_wait_write_master "$HSF_FAILOVER_WAIT" "$old"
#     hsf_converged_ms fault          # converge_ms = since the mark
#     hsf_finish                      # stop the writer, check, print RESULT
#
# What "acknowledged by a non-master" means here. Every node is identified
# by its port (the writer learns it with INFO server on each connection).
# The master timeline starts with the master at hsf_start_writer time
# (HSF_M0); each time a Sentinel announces a new master (+promoted-slave or
# +switch-master, the earliest one seen on any Sentinel, wall clock), the
# master becomes that node. An "A" line of the writer whose node is not the
# master of the timeline at that wall time is a violation: the old master
# after the promotion, a restarted old master claiming the role, a replica.
#
# Every acknowledged key is then looked up (EXISTS) on the final master.
# Missing keys acknowledged by an earlier master before its replacement are
# "lost to async replication" (reported, allowed); missing keys acknowledged
# by the final master fail the scenario.
#
# Functions
#   hsf_setup NAME                 hs_setup, scenario name, test tools present
#   hsf_mark NAME                  remember the wall time (ms) of an event: HSF_MARK[NAME]
#   hsf_since MARK                 ms since that mark
#   hsf_start_events               one subscriber per Sentinel (psubscribe *), timestamped
#   hsf_start_writer [INTERVAL_MS] hs_writer on the write port (default HSF_WRITER_INTERVAL_MS)
#   hsf_stop_writer                SIGTERM it, wait
#   hsf_start_sampler NAME INTERVAL_S BACKEND...   background sampler: one line per
#                                  poll "<ms> <backend>=<ready,...> ..." in $HS_TMP/NAME.samples
#   hsf_stop_sampler NAME          stop it (after its current poll)
#   hsf_sampler_values NAME BACKEND   the distinct ready sets BACKEND had (one per line)
#   hsf_sampler_count NAME         number of polls
#   hsf_sampler_first NAME AFTER_MS BE=VALUE...   first poll time with these values
#   hsf_sampler_empty_ms NAME BE FROM_MS   longest stretch with BE empty (e.g. a read outage)
#   hsf_sampler_has NAME BE IP:PORT FROM_MS   polls since FROM_MS with IP:PORT ready in BE
#   hsf_acks_since MS              acknowledged writes (any node) after MS
#   hsf_wait_write_master SECS OLD until Sentinel names a master other than OLD and the
#                                  write backend has exactly it; sets HSF_NEW; prints nothing
#   hsf_converged_ms MARK          sets HSF_CONVERGE_MS to the ms since MARK
#   hsf_wait_sets SECS W R         fast polls until both backends have exactly these sets
#   hsf_socket_birth_ms            when HAProxy bound its admin socket (wall ms)
#   hsf_check_write_backend        exactly one ready write server = Sentinel's master, ROLE master
#   hsf_analyze                    writer log + events -> HSF_ACKED, HSF_NON_MASTER, HSF_LOST,
#                                  HSF_MISSING_MASTER (and details in $HS_TMP/analysis.txt)
#   hsf_outage_ms FROM_MS [TO_MS]  longest gap between acknowledged writes in that window
#   hsf_finish                     stop the writer, hsf_check_write_backend, hsf_analyze,
#                                  print the RESULT line, fail on any violation
#   hsf_pick_consecutive_ports N   N free consecutive ports, the first one printed
#   hsf_netns_create               namespace + veth pair (HSF_NS, HSF_NS_IP, HSF_ROOT_IP ...)
#   hsf_netns_isolate / hsf_netns_heal   ns-side veth down / up
#   hsf_start_redis_ns NAME [replicaof IP PORT]   redis-server inside the namespace
#   hsf_start_redis_announced NAME [replicaof IP PORT]   redis-server on 127.0.0.1 and
#                                  HSF_ROOT_IP, announcing HSF_ROOT_IP to its master
#   hsf_cli IP PORT ARGS...        redis-cli on any address (3 s deadline)
#
# Variables
#   HSF_NAME             the scenario name (RESULT line)
#   HSF_WRITER, HSF_FAKE_SENTINEL   the test tools
#   HSF_WRITER_INTERVAL_MS          pause between two writes (default 2)
#   HSF_FAILOVER_WAIT    seconds a failover may take (split votes included)
#   HSF_M0               port of the master when the writer started
#   HSF_CONVERGE_MS      set by the scenario (hsf_converged_ms)
#   HSF_RESULT_EXTRA     extra "key=value" words for the DETAIL line (hsf_finish adds
#                        failovers=N: the masters announced while the writer ran)
#   HSF_GRACE_MS         (default 250, as the soak's) writes the master just
#                        replaced acknowledges up to this long after the new
#                        master's announcement are counted apart (late_acks,
#                        and lost: the agent's reaction time), not as
#                        acknowledged by a non-master. Only a replaced master
#                        that is alive acknowledges anything then: Sentinel
#                        cannot reach it (f17), or it failed over a master
#                        just promoted (seen in f03, f12, f13 on a loaded
#                        machine: +sdown of the fresh master 1 s after its
#                        promotion, an ack 1 ms after the announcement)

. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/../integration/lib.sh"

HSF_WRITER=${HSF_WRITER:-${top_builddir:-$HS_SRCDIR}/tests/tools/hs_writer}
HSF_FAKE_SENTINEL=${HSF_FAKE_SENTINEL:-${top_builddir:-$HS_SRCDIR}/tests/tools/fake_sentinel}
HSF_WRITER_INTERVAL_MS=${HSF_WRITER_INTERVAL_MS:-2}
HSF_GRACE_MS=${HSF_GRACE_MS:-250}
# How long a failover may take: down-after (1 s) + election, and now and
# then a split vote (every Sentinel votes for itself; seen on a loaded
# runner): each then waits 2 * failover-timeout (20 s) before it tries again.
HSF_FAILOVER_WAIT=35
HSF_NAME=
HSF_M0=
HSF_NEW=
HSF_CONVERGE_MS=
HSF_RESULT_EXTRA=
HSF_ACKED=0
HSF_NON_MASTER=0
HSF_LOST=0
HSF_LATE=0
HSF_MISSING_MASTER=0
declare -gA HSF_MARK=()
HSF_NS=
HSF_NS_NAMES=()
HSF_VETH_ROOT=
HSF_VETH_NS=
HSF_IPT=()      # iptables rules added by the test ("CHAIN spec..."), removed at exit

hsf_setup() {
	HSF_NAME=$1
	hs_setup
	hs_require_bin "$HSF_WRITER" "$HSF_FAKE_SENTINEL"
	# Our own EXIT trap: tear the namespace down (if any), then hs_cleanup
	# (which stops every process and exits with the test's status).
	trap _hsf_cleanup EXIT
}

_hsf_cleanup() {
	local rc=$?
	set +e
	local n
	# The namespace's processes first, while the veth still exists.
	for n in "${HSF_NS_NAMES[@]}"; do
		[ -z "${HS_PID[$n]:-}" ] || hs_stop "${HS_PID[$n]}"
	done
	hsf_netns_destroy
	hsf_ipt_clear
	(exit "$rc")
	hs_cleanup
}

hsf_mark() {
	HSF_MARK[$1]=$(hs_now_ms)
	echo "${HSF_MARK[$1]} $1" >>"$HS_TMP/marks.txt"
}

hsf_since() {
	echo $(($(hs_now_ms) - ${HSF_MARK[$1]}))
}

hsf_converged_ms() {
	HSF_CONVERGE_MS=$(hsf_since "$1")
	hs_log "converged $HSF_CONVERGE_MS ms after '$1'"
}

hsf_cli() {
	local ip=$1 port=$2
	shift 2
	timeout 3 redis-cli -h "$ip" -p "$port" "$@" 2>/dev/null
}

# ------------------------------------------------------------ Sentinel events

# One subscriber: a bash subshell speaking RESP over /dev/tcp (one process,
# so it is stopped by its pid; no stdio buffering between the socket and the
# timestamp). Prints "<wall_ms> <sentinel> <channel> <payload>" per event and
# "<wall_ms> <sentinel> subscribed" once.
_hsf_subscriber() {
	local name=$1 port=$2 l n i t
	local -a parts
	exec 3<>"/dev/tcp/127.0.0.1/$port" || exit 1
	printf '*2\r\n$10\r\nPSUBSCRIBE\r\n$1\r\n*\r\n' >&3
	while IFS= read -r -u 3 l; do
		l=${l%$'\r'}
		[[ $l == \** ]] || continue
		n=${l#\*}
		[[ $n =~ ^[0-9]+$ ]] || continue
		parts=()
		for ((i = 0; i < n; i++)); do
			IFS= read -r -u 3 l || exit 0
			l=${l%$'\r'}
			if [[ $l == \$* ]]; then
				IFS= read -r -u 3 l || exit 0
				l=${l%$'\r'}
			fi
			parts+=("$l")
		done
		t=${EPOCHREALTIME/[.,]/}
		t=$((t / 1000))
		case ${parts[0]:-} in
		psubscribe) echo "$t $name subscribed" ;;
		pmessage) echo "$t $name ${parts[2]:-} ${parts[3]:-}" ;;
		esac
	done
}

# A subscriber on every Sentinel started so far (ev_NAME, events.NAME.txt).
hsf_start_events() {
	local n f
	for n in "${HS_SENTINEL_NAMES[@]}"; do
		[ -n "${HS_PID[$n]:-}" ] || continue
		f=$HS_TMP/events.$n.txt
		_hsf_subscriber "$n" "${HS_PORT[$n]}" </dev/null >>"$f" 2>/dev/null &
		hs_register "ev_$n" $!
		hs_wait_until 5 'grep -q " subscribed$" "$f"' "the event subscriber on $n"
	done
}

# Every event seen, merged and sorted by time.
hsf_events() {
	cat "$HS_TMP"/events.*.txt 2>/dev/null | sort -n -k1,1
}

# A Sentinel that exits right after a promotion (SIMULATE-FAILURE
# crash-after-promotion) logs +promoted-slave and saves it in its config,
# but its Pub/Sub message may never leave the process; and under load a
# subscriber here stamps a message later than the agent hears it. hsf_analyze
# calls this before it reads the master timeline. This copies the
# +promoted-slave / +switch-master lines of every Sentinel's log into
# events.log_NAME.txt, in the subscribers' format (log time, ms), so that
# the master timeline has them.
hsf_events_from_logs() {
	local n line d t rest
	for n in "${HS_SENTINEL_NAMES[@]}"; do
		[ -f "$HS_TMP/$n.log" ] || continue
		grep -E ' # \+(promoted-slave|switch-master) ' "$HS_TMP/$n.log" | while IFS= read -r line; do
			# "PID:X 01 Dec 2026 08:49:33.981 # +promoted-slave ..."
			d=$(awk '{ print $2, $3, $4, $5 }' <<<"$line")
			t=$(date -d "$d" +%s%3N 2>/dev/null) || continue
			rest=${line#* # }
			echo "$t $n $rest"
		done >"$HS_TMP/events.log_$n.txt"
	done
}

# "<wall_ms> <port>": the earliest announcement of each new master of
# HS_MASTER (+promoted-slave / +switch-master on any Sentinel), in order:
# an announcement starts a new master's time when it names another node
# than the current one (the several Sentinels announcing one failover
# collapse; a node promoted again later counts again).
hsf_promotions() {
	hsf_events | awk -v m="$HS_MASTER" -v cur="$HSF_M0" '
		$3 == "+switch-master" && $4 == m { p = $8 }
		$3 == "+promoted-slave" && $9 == m { p = $7 }
		($3 == "+switch-master" && $4 == m) || ($3 == "+promoted-slave" && $9 == m) {
			if (p != cur) { cur = p; print $1, p }
		}'
}

# hsf_sentinels_agree OLD: every live Sentinel names the same master, not
# OLD, and the write backend has exactly it ready. Sets HSF_AGREED.
hsf_sentinels_agree() {
	local n m
	HSF_AGREED=
	for n in "${HS_SENTINEL_NAMES[@]}"; do
		[ -n "${HS_PID[$n]:-}" ] || continue
		m=$(hs_cli "${HS_PORT[$n]}" SENTINEL GET-MASTER-ADDR-BY-NAME "$HS_MASTER" | paste -sd:)
		[ -n "$m" ] && [ "$m" != "$1" ] || return 1
		[ -z "$HSF_AGREED" ] || [ "$HSF_AGREED" = "$m" ] || return 1
		HSF_AGREED=$m
	done
	[ -n "$HSF_AGREED" ] && [ "$(hs_ready_servers "$HS_WRITE_BACKEND")" = "$HSF_AGREED" ]
}

# hsf_wait_event SECS REGEX: fast polls (20 ms) of the subscribers' files
# until a line matches (extended regex); prints that line.
hsf_wait_event() {
	local deadline line
	_hsf_now
	deadline=$((HSF_NOW + $1 * 1000))
	while :; do
		line=$(cat "$HS_TMP"/events.*.txt 2>/dev/null | grep -m1 -E "$2") && { echo "$line"; return 0; }
		_hsf_now
		((HSF_NOW < deadline)) || return 1
		hsf_pause 0.02
	done
}

# The last failover timeline of the lab's group, opened by a fence of OLD
# (or its +sdown), ended at once with the master back and no failover, not
# left open for 2 minutes, and hasentinelctl says so.
hsf_check_no_failover_timeline() {
	local old=$1 tl
	_hsf_tl_last() {
		"$HASENTINELCTL" -s "$HS_STATUS_SOCKET" --json timeline "$HS_MASTER" | jq -c '.timelines[-1]'
	}
	hs_wait_until 5 '[ "$(_hsf_tl_last | jq -r .outcome)" = no-failover ]' "the timeline to end as no failover"
	tl=$(_hsf_tl_last)
	[ "$(jq -r .complete <<<"$tl")" = true ] || hs_fail "the no-failover timeline is not complete: $tl"
	[ "$(jq -r .from <<<"$tl")" = "$old" ] || hs_fail "the timeline is not about $old: $tl"
	[ "$(jq -r '.stages[-1].stage' <<<"$tl")" = master-back ] || hs_fail "the timeline does not end with master-back: $tl"
	jq -e '[.stages[].stage] | index("promoted") == null' <<<"$tl" >/dev/null || hs_fail "a no-failover timeline with a promotion: $tl"
	"$HASENTINELCTL" -s "$HS_STATUS_SOCKET" timeline "$HS_MASTER" | grep -q "fence ended, master back, no failover" ||
		hs_fail "hasentinelctl timeline does not show the fence ended with no failover"
}

# ------------------------------------------------------------ the writer

# The usual start of a scenario: the lab, HAProxy and the agent, every
# slot applied, a subscriber on every Sentinel and the writer going.
hsf_start_lab_writing() {
	hs_start_lab
	hs_start_haproxy
	hs_start_agent
	hs_wait_applied 5
	hsf_start_events
	hsf_start_writer
}


hsf_start_writer() {
	local iv=${1:-$HSF_WRITER_INTERVAL_MS} m
	m=$(hs_sentinel_master "$HS_MASTER") || hs_fail "no sentinel answers GET-MASTER-ADDR-BY-NAME"
	HSF_M0=${m##*:}
	: >"$HS_TMP/writer.txt"
	# Stopped by hsf_stop_writer; 900 s is only a bound.
	_hs_spawn "$HS_TMP/writer.out" "$HSF_WRITER" 127.0.0.1 "$HS_WRITE_PORT" "hsf:$HSF_NAME:$$" \
		"$HS_TMP/writer.txt" 900 "$iv"
	hs_register writer "$HS_BG_PID"
	hs_log "writer started (pid $HS_BG_PID, every $iv ms) on the write port, master $m"
	hs_wait_until 5 'grep -q "^A " "$HS_TMP/writer.txt"' "the writer's first acknowledged write"
}

hsf_acks_since() {
	awk -v t="$1" '$1 == "A" && $2 > t { n++ } END { print n + 0 }' "$HS_TMP/writer.txt"
}

hsf_stop_writer() {
	[ -n "${HS_PID[writer]:-}" ] || return 0
	hs_stop "${HS_PID[writer]}"
	hs_log "writer: $(tail -n 1 "$HS_TMP/writer.out" 2>/dev/null)"
}

# Longest gap (ms) between two acknowledged writes with FROM <= t <= TO,
# counting from FROM (the last ack at or before FROM is the start).
hsf_outage_ms() {
	local from=$1 to=${2:-99999999999999}
	awk -v from="$from" -v to="$to" '
		$1 != "A" { next }
		$2 <= from { last = $2; next }
		$2 > to { exit }
		{ if (last == "") last = from; if ($2 - last > gap) gap = $2 - last; last = $2 }
		END { print gap + 0 }' "$HS_TMP/writer.txt"
}

# ------------------------------------------------------------ sampling

# Fast polls. lib.sh's hs_ready_servers starts socat, a subshell and sort
# for every poll: fine for waiting, but on a loaded 2-CPU runner each poll
# then takes 100-700 ms, far from the 20-50 ms a sampler needs. These keep
# one admin socket connection open (HAProxy's interactive "prompt" mode, a
# socat coprocess) and parse in the shell itself: one poll costs a round
# trip and no fork. The readiness test is the same as hs_ready_servers'.

# Open (or reopen) the connection; 1 when HAProxy does not answer.
hsf_hapc_open() {
	hsf_hapc_close
	[ -S "$HS_ADMIN_SOCKET" ] || return 1
	coproc HSF_HAPC { exec socat -T 30 - "UNIX-CONNECT:$HS_ADMIN_SOCKET" 2>/dev/null; }
	# shellcheck disable=SC2153  # set by coproc
	HSF_HAPC_PIDV=$HSF_HAPC_PID
	HSF_HAPC_IN=${HSF_HAPC[0]}
	HSF_HAPC_OUTFD=${HSF_HAPC[1]}
	printf 'prompt\n' 1>&"$HSF_HAPC_OUTFD" 2>/dev/null || { hsf_hapc_close; return 1; }
	_hsf_hapc_read || { hsf_hapc_close; return 1; }
}

hsf_hapc_close() {
	if [ -n "${HSF_HAPC_PIDV:-}" ]; then
		# (a redirection on exec itself would be permanent: the group's is not)
		{ exec {HSF_HAPC_OUTFD}>&- {HSF_HAPC_IN}<&-; } 2>/dev/null
		kill "$HSF_HAPC_PIDV" 2>/dev/null
		wait "$HSF_HAPC_PIDV" 2>/dev/null
	fi
	HSF_HAPC_PIDV=
	return 0
}

# Everything up to the next prompt ("\n> ") into HSF_HAPC_OUT, within 2 s.
# read -N in chunks with a short timeout: read -d would read byte by byte.
_hsf_hapc_read() {
	local chunk deadline
	_hsf_now
	deadline=$((HSF_NOW + 2000))
	HSF_HAPC_OUT=
	while :; do
		chunk=
		IFS= read -r -N 65536 -t 0.002 chunk <&"$HSF_HAPC_IN"
		case $? in
		0) ;;
		1) [ -n "$chunk" ] || return 1 ;;   # EOF
		esac
		HSF_HAPC_OUT+=$chunk
		[[ $HSF_HAPC_OUT == *$'\n> ' || $HSF_HAPC_OUT == '> ' ]] && break
		_hsf_now
		((HSF_NOW < deadline)) || return 1
	done
	HSF_HAPC_OUT=${HSF_HAPC_OUT%> }
}

# One command on the open connection (opened on demand); 1 on failure.
hsf_hapc_cmd() {
	if [ -z "${HSF_HAPC_PIDV:-}" ]; then
		hsf_hapc_open || return 1
	fi
	printf '%s\n' "$*" 1>&"$HSF_HAPC_OUTFD" 2>/dev/null && _hsf_hapc_read && return 0
	hsf_hapc_close
	return 1
}

# From a "show servers state" answer in HSF_HAPC_OUT: the ready slots of
# BACKEND, "ip:port" sorted and comma-separated, into HSF_READY.
_hsf_parse_ready() {
	local be=$1 line i j t IFS
	local -a lines f r=()
	local -
	set -f   # word splitting below, no globbing
	IFS=$'\n'
	# shellcheck disable=SC2206  # splitting on purpose (globbing is off)
	lines=($HSF_HAPC_OUT)
	IFS=' '
	for line in "${lines[@]}"; do
		# shellcheck disable=SC2206
		f=($line)
		[ "${#f[@]}" -ge 19 ] || continue
		[ "${f[1]}" = "$be" ] || continue
		[[ ${f[6]} =~ ^[0-9]+$ ]] || continue
		# the write backend's backups (the hold's loop) are not slots
		[ "${f[4]}:${f[18]}" != -:0 ] || continue
		if (((f[6] & 0x23) == 0 && (f[6] & 0x18) == 0)); then
			r+=("${f[4]}:${f[18]}")
		fi
	done
	for ((i = 1; i < ${#r[@]}; i++)); do
		for ((j = i; j > 0; j--)); do
			[[ ${r[j - 1]} > ${r[j]} ]] || break
			t=${r[j]}; r[j]=${r[j - 1]}; r[j - 1]=$t
		done
	done
	IFS=,
	HSF_READY="${r[*]}"
}

# Ready sets of the backends in one poll: "<be>=<ip:port,...> ..." into
# HSF_POLL ("<be>=?" when HAProxy did not answer).
hsf_poll_backends() {
	local be ok=1
	HSF_POLL=
	hsf_hapc_cmd show servers state || ok=0
	if ((ok)) && [[ $HSF_HAPC_OUT != *"# be_id"* ]]; then
		ok=0
		hsf_hapc_close
	fi
	for be in "$@"; do
		if ((ok)); then
			_hsf_parse_ready "$be"
			HSF_POLL+=" $be=$HSF_READY"
		else
			HSF_POLL+=" $be=?"
		fi
	done
	HSF_POLL=${HSF_POLL# }
}

# The value of BACKEND in HSF_POLL into HSF_GOT ("?" when unknown).
hsf_poll_get() {
	HSF_GOT=" $HSF_POLL"
	[[ $HSF_GOT == *" $1="* ]] || { HSF_GOT="?"; return 0; }
	HSF_GOT=${HSF_GOT#*" $1="}
	HSF_GOT=${HSF_GOT%% *}
}

# Pause a poll loop without a fork (a read with a timeout on a pipe that
# nobody writes to).
hsf_pause() {
	[ -n "${HSF_SLEEPFD:-}" ] || exec {HSF_SLEEPFD}<> <(:)
	read -r -t "$1" -u "$HSF_SLEEPFD" || true
}

# hsf_start_sampler NAME INTERVAL_S BACKEND...: polls the ready sets of the
# backends until hsf_stop_sampler NAME (bounded to 120 s). One line per poll
# in $HS_TMP/NAME.samples: "<wall_ms> <backend>=<ip:port,...|?> ...". The
# connection is reopened every second, so that after a reload the new
# process is the one polled.
hsf_start_sampler() {
	local name=$1 iv=$2
	shift 2
	local out=$HS_TMP/$name.samples stop=$HS_TMP/$name.stop
	rm -f "$stop"
	: >"$out"
	(
		_hsf_now
		start=$HSF_NOW
		opened=0
		while ((HSF_NOW - start < 120000)); do
			if ((HSF_NOW - opened >= 1000)); then
				hsf_hapc_close
				opened=$HSF_NOW
			fi
			hsf_poll_backends "$@"
			_hsf_now
			echo "$HSF_NOW $HSF_POLL"
			[ -f "$stop" ] && break
			hsf_pause "$iv"
			_hsf_now
		done
		hsf_hapc_close
		[ -f "$stop" ] || echo "sampler: no stop after 120 s"
	) </dev/null >>"$out" 2>/dev/null &
	hs_register "sampler_$name" $!
	hs_wait_until 5 '[ -s "$out" ]' "the sampler $name's first poll"
}

hsf_stop_sampler() {
	local name=$1 pid=${HS_PID[sampler_$1]:-}
	[ -n "$pid" ] || return 0
	touch "$HS_TMP/$name.stop"
	hs_wait_until 10 '! hs_alive "$pid"' "the sampler $name to stop"
	hs_stop "$pid"
}

# The distinct values BACKEND had in the sampler's polls, in order of first
# appearance ("" for none ready; polls HAProxy did not answer, "?", left
# out).
hsf_sampler_values() {
	awk -v be="$2" '{
		for (i = 2; i <= NF; i++)
			if (index($i, be "=") == 1) {
				v = substr($i, length(be) + 2)
				if (v != "?" && !(v in s)) { s[v] = 1; print v }
			}
	}' "$HS_TMP/$1.samples"
}

# hsf_sampler_first NAME AFTER_MS BACKEND=VALUE...: the wall time of the
# first poll at or after AFTER_MS at which every BACKEND had exactly VALUE
# (sorted, comma-separated); nothing when no poll matched.
hsf_sampler_first() {
	local name=$1 after=$2
	shift 2
	awk -v after="$after" -v want="$*" '
		BEGIN { n = split(want, w, " ") }
		$1 ~ /^[0-9]+$/ && $1 >= after {
			ok = 1
			for (i = 1; i <= n; i++) {
				found = 0
				for (j = 2; j <= NF; j++) if ($j == w[i]) found = 1
				if (!found) { ok = 0; break }
			}
			if (ok) { print $1; exit }
		}' "$HS_TMP/$name.samples"
}

# hsf_sampler_empty_ms NAME BACKEND FROM_MS: the longest stretch (ms, from
# the first poll that saw it empty to the next poll that did not) during
# which BACKEND had no ready server, from FROM_MS on. Polls without an
# answer ("?") neither start nor end a stretch.
hsf_sampler_empty_ms() {
	awk -v be="$2=" -v from="$3" '
		$1 !~ /^[0-9]+$/ || $1 < from { next }
		{
			v = "?"
			for (i = 2; i <= NF; i++) if (index($i, be) == 1) v = substr($i, length(be) + 1)
			if (v == "?") next
			if (v == "") { if (start == "") start = $1; last = $1; next }
			if (start != "") { if ($1 - start > max) max = $1 - start; start = "" }
		}
		END { if (start != "" && last - start > max) max = last - start; print max + 0 }' "$HS_TMP/$1.samples"
}

# hsf_sampler_has NAME BACKEND IP:PORT FROM_MS: how many polls at or after
# FROM_MS had IP:PORT ready in BACKEND.
hsf_sampler_has() {
	awk -v be="$2=" -v a="$3" -v from="$4" '
		$1 !~ /^[0-9]+$/ || $1 < from { next }
		{
			for (i = 2; i <= NF; i++)
				if (index($i, be) == 1 && index("," substr($i, length(be) + 1) ",", "," a ",") > 0) n++
		}
		END { print n + 0 }' "$HS_TMP/$1.samples"
}

hsf_sampler_count() {
	grep -c '^[0-9]' "$HS_TMP/$1.samples"
}

# Polls of BACKEND with more than one ready server: count.
hsf_sampler_multi() {
	awk -v be="$2" '{
		for (i = 2; i <= NF; i++)
			if (index($i, be "=") == 1 && index($i, ",") > 0) n++
	} END { print n + 0 }' "$HS_TMP/$1.samples"
}

# Role of a local redis-server on 127.0.0.1:PORT without a fork (INFO
# replication over /dev/tcp: one bulk reply) into HSF_ROLE: master, slave
# or down.
# Only for 127.0.0.1 (a local refusal is immediate; /dev/tcp has no
# connect timeout).
hsf_role_fast() {
	local fd line body role=down
	if exec {fd}<>"/dev/tcp/127.0.0.1/$1"; then
		printf 'INFO replication\r\n' >&"$fd"
		if IFS= read -r -t 2 line <&"$fd"; then
			line=${line%$'\r'}
			if [[ $line =~ ^\$[0-9]+$ ]] && IFS= read -r -N $((${line#\$} + 2)) -t 2 body <&"$fd"; then
				[[ $body == *role:master* ]] && role=master
				[[ $body == *role:slave* ]] && role=slave
			fi
		fi
		exec {fd}>&-
	fi 2>/dev/null
	HSF_ROLE=$role
}

# Wall clock ms into HSF_NOW (no command substitution, no fork).
_hsf_now() {
	local t=${EPOCHREALTIME/[.,]/}
	HSF_NOW=$((t / 1000))
}

# ------------------------------------------------------------ convergence

# Until Sentinel names a master other than OLD and the write backend routes
# to exactly that master. Sets HSF_NEW. (Later checks should not assume it
# stays the master: a second failover right after the first one happens
# now and then; what must never come back is OLD.)
hsf_wait_write_master() {
	local secs=$1 old=$2
	HSF_NEW=
	hs_wait_until "$secs" 'HSF_NEW=$(hs_sentinel_master "$HS_MASTER") && [ "$HSF_NEW" != "$old" ] &&
		[ "$(hs_ready_servers "$HS_WRITE_BACKEND")" = "$HSF_NEW" ]' \
		"Sentinel to name a new master (not $old) and $HS_WRITE_BACKEND to have exactly it ready"
}

# hsf_wait_sets SECS WRITE_SET READ_SET: fast polls (every 20 ms, no fork)
# until the write and read backends have exactly these ready servers
# ("ip:port,..." sorted; "-" for the read set: not checked). HSF_NOW is the
# wall time of the successful poll. hs_fail after SECS.
hsf_wait_sets() {
	local secs=$1 want_w=$2 want_r=$3 deadline
	_hsf_now
	deadline=$((HSF_NOW + secs * 1000))
	while :; do
		hsf_poll_backends "$HS_WRITE_BACKEND" "$HS_READ_BACKEND"
		_hsf_now
		hsf_poll_get "$HS_WRITE_BACKEND"
		if [ "$HSF_GOT" = "$want_w" ]; then
			hsf_poll_get "$HS_READ_BACKEND"
			if [ "$want_r" = - ] || [ "$HSF_GOT" = "$want_r" ]; then
				hsf_hapc_close
				return 0
			fi
		fi
		if ((HSF_NOW >= deadline)); then
			hsf_hapc_close
			hs_fail "timed out after ${secs}s waiting for $HS_WRITE_BACKEND = '$want_w' and $HS_READ_BACKEND = '$want_r' (last poll: $HSF_POLL)"
		fi
		hsf_pause 0.02
	done
}

# When HAProxy created its admin socket (bind time, wall ms): the moment
# a (re)started HAProxy begins to exist for the agent.
hsf_socket_birth_ms() {
	local t
	t=$(stat -c %.3Y "$HS_ADMIN_SOCKET") || hs_fail "no admin socket $HS_ADMIN_SOCKET"
	echo "${t/./}"
}

# Exactly one ready write server, it is Sentinel's master, and ROLE on it
# (through its own address) says master.
hsf_check_write_backend() {
	local ready m role n
	m=$(hs_sentinel_master "$HS_MASTER") || hs_fail "no sentinel answers GET-MASTER-ADDR-BY-NAME"
	ready=$(hs_ready_servers "$HS_WRITE_BACKEND") || hs_fail "cannot read $HS_WRITE_BACKEND's state"
	n=$(grep -c . <<<"$ready")
	[ "$n" -eq 1 ] || hs_fail "$HS_WRITE_BACKEND has $n ready servers (${ready//$'\n'/ }), expected exactly one"
	[ "$ready" = "$m" ] || hs_fail "$HS_WRITE_BACKEND routes to $ready, Sentinel's master is $m"
	role=$(hsf_cli "${m%:*}" "${m##*:}" ROLE | head -n 1)
	[ "$role" = master ] || hs_fail "ROLE on Sentinel's master $m says '$role'"
}

# ------------------------------------------------------------ analysis

hsf_analyze() {
	local m ip port promos
	m=$(hs_sentinel_master "$HS_MASTER") || hs_fail "no sentinel answers GET-MASTER-ADDR-BY-NAME"
	ip=${m%:*}
	port=${m##*:}
	promos=$HS_TMP/promotions.txt
	# Announcement times from the Sentinels' own logs too: a subscriber here
	# stamps a message later than the agent receives it under load, and a
	# write the new master acknowledged in between would look like one by a
	# non-master (f11, 1 ms). A Sentinel logs the event before publishing it.
	hsf_events_from_logs
	hsf_promotions >"$promos"
	[ -n "$HSF_M0" ] || hs_fail "hsf_analyze: the writer was never started"
	# Acked keys with their node and whether that node was the master then:
	# "<key> <t> <port> ok|NONMASTER <master_then> <replaced_at>"
	# LATE: by the master just replaced, at most HSF_GRACE_MS after the
	# announcement (the agent's reaction time; see HSF_GRACE_MS).
	awk -v m0="$HSF_M0" -v grace="$HSF_GRACE_MS" 'FILENAME == ARGV[1] { pt[++np] = $1; pp[np] = $2; next }
		$1 == "A" {
			t = $2; cur = m0; prev = ""; at = 0; rep = ""
			for (i = 1; i <= np && pt[i] <= t; i++) { prev = cur; cur = pp[i]; at = pt[i] }
			rep = (i <= np) ? pt[i] : "-"
			st = ($3 == cur) ? "ok" : (($3 == prev && t - at <= grace) ? "LATE" : "NONMASTER")
			print $4, t, $3, st, cur, rep
		}' "$promos" "$HS_TMP/writer.txt" >"$HS_TMP/acks.txt"
	HSF_ACKED=$(wc -l <"$HS_TMP/acks.txt")
	HSF_NON_MASTER=$(awk '$4 == "NONMASTER"' "$HS_TMP/acks.txt" | wc -l)
	HSF_LATE=$(awk '$4 == "LATE"' "$HS_TMP/acks.txt" | wc -l)
	# EXISTS of every acked key on the final master, one per line, in order.
	awk '{ print "EXISTS " $1 }' "$HS_TMP/acks.txt" |
		timeout 60 redis-cli -h "$ip" -p "$port" >"$HS_TMP/exists.txt" 2>&1 ||
		hs_fail "EXISTS of the acknowledged keys on $m failed"
	[ "$(wc -l <"$HS_TMP/exists.txt")" -eq "$HSF_ACKED" ] ||
		hs_fail "EXISTS on $m: $(wc -l <"$HS_TMP/exists.txt") answers for $HSF_ACKED keys"
	paste -d' ' "$HS_TMP/acks.txt" "$HS_TMP/exists.txt" >"$HS_TMP/acks_exists.txt"
	# Missing: acked by the final master -> hard failure; acked by an earlier
	# master while it was the master -> lost to async replication.
	HSF_MISSING_MASTER=$(awk -v p="$port" '$7 == "0" && $3 == p' "$HS_TMP/acks_exists.txt" | wc -l)
	HSF_LOST=$(awk -v p="$port" '$7 == "0" && $3 != p && ($4 == "ok" || $4 == "LATE")' "$HS_TMP/acks_exists.txt" | wc -l)
	{
		echo "final master $m; master at writer start: port $HSF_M0"
		echo "promotions (first announcement, wall ms, port):"
		sed 's/^/  /' "$promos"
		echo "acks per node port:"
		awk '{ n[$3]++ } END { for (p in n) print "  " p, n[p] }' "$HS_TMP/acks.txt" | sort
		echo "acks by a non-master (first 20):"
		awk '$4 == "NONMASTER"' "$HS_TMP/acks.txt" | head -n 20 | sed 's/^/  /'
		echo "missing on the final master (first 20):"
		awk '$7 == "0"' "$HS_TMP/acks_exists.txt" | head -n 20 | sed 's/^/  /'
	} >"$HS_TMP/analysis.txt"
}

# The common end of every scenario: the write backend check, the writer log
# analysis, the RESULT line; exit status 1 on any violation.
hsf_finish() {
	local bad=
	hsf_stop_writer
	hsf_check_write_backend
	hsf_analyze
	[ -n "$HSF_CONVERGE_MS" ] || HSF_CONVERGE_MS=0
	echo "RESULT scenario=$HSF_NAME converge_ms=$HSF_CONVERGE_MS acked=$HSF_ACKED acked_by_non_master=$HSF_NON_MASTER lost_to_replication=$HSF_LOST"
	# failovers: masters announced while the writer ran (now and then
	# Sentinel fails the fresh master over once more: a loaded runner, a
	# 1 s down-after; the analysis follows every announced master).
	echo "DETAIL scenario=$HSF_NAME ${HSF_RESULT_EXTRA:+$HSF_RESULT_EXTRA }failovers=$(grep -c . "$HS_TMP/promotions.txt") late_acks=$HSF_LATE grace_ms=$HSF_GRACE_MS"
	((HSF_ACKED > 0)) || bad+="no write was acknowledged; "
	((HSF_NON_MASTER == 0)) || bad+="$HSF_NON_MASTER writes acknowledged by a non-master; "
	((HSF_MISSING_MASTER == 0)) || bad+="$HSF_MISSING_MASTER writes acknowledged by the current master are missing on it; "
	if [ -n "$bad" ]; then
		cat "$HS_TMP/analysis.txt" >&2
		hs_fail "$HSF_NAME: ${bad%; }"
	fi
	hs_log "$HSF_NAME: ok"
}

# ------------------------------------------------------------ ports

# N consecutive free ports (for fake_sentinel's -b BASE -r N-1 view of the
# lab); prints the first one and records them all as handed out.
hsf_pick_consecutive_ports() {
	local n=$1 base i k ok
	for ((k = 0; k < 200; k++)); do
		base=$((15000 + RANDOM % 17000))
		ok=1
		for ((i = 0; i < n; i++)); do
			if grep -qx "$((base + i))" "$HS_TMP/ports" 2>/dev/null || _hs_port_in_use "$((base + i))"; then
				ok=0
				break
			fi
		done
		((ok)) || continue
		for ((i = 0; i < n; i++)); do
			echo "$((base + i))" >>"$HS_TMP/ports"
		done
		echo "$base"
		return 0
	done
	hs_fail "no $n consecutive free ports found"
}

# ------------------------------------------------------------ iptables

# hsf_ipt_drop_port PORT: silently drop every loopback packet to or from
# 127.0.0.1:PORT (a port of this test's own processes). The rules carry a
# comment naming this test's pid; hsf_ipt_clear (and the exit trap) remove
# them. Exit 77 when iptables is missing or refuses (not root).
hsf_ipt_drop_port() {
	local p=$1 spec
	command -v iptables >/dev/null 2>&1 || hs_skip "iptables not installed"
	for spec in "--dport $p" "--sport $p"; do
		# shellcheck disable=SC2086  # spec is two words on purpose
		if ! iptables -w 5 -I INPUT -i lo -p tcp $spec -m comment --comment "hsf$$" -j DROP 2>"$HS_TMP/ipt.err"; then
			hsf_ipt_clear
			hs_skip "iptables refuses a rule (needs root / CAP_NET_ADMIN): $(cat "$HS_TMP/ipt.err")"
		fi
		HSF_IPT+=("INPUT -i lo -p tcp $spec -m comment --comment hsf$$ -j DROP")
	done
}

hsf_ipt_clear() {
	local r
	for r in "${HSF_IPT[@]}"; do
		# shellcheck disable=SC2086
		iptables -w 5 -D $r 2>/dev/null
	done
	HSF_IPT=()
	return 0
}

# ------------------------------------------------------------ network namespace

# A namespace and a veth pair: HSF_ROOT_IP (10.231.X.1/30, root side) and
# HSF_NS_IP (10.231.X.2/30, inside). X comes from our pid, moved on while
# some interface already has that /30. Exit 77 when namespaces cannot be
# created (not root).
hsf_netns_create() {
	local x i
	command -v ip >/dev/null 2>&1 || hs_skip "ip (iproute2) not installed"
	for ((i = 0; i < 250; i++)); do
		x=$(((($$ + i) % 250) + 1))
		ip -4 -o addr show 2>/dev/null | grep -q " 10\.231\.$x\." || break
	done
	HSF_NS=hsf$$
	HSF_VETH_ROOT=hsfr$$
	HSF_VETH_NS=hsfn$$
	HSF_ROOT_IP=10.231.$x.1
	HSF_NS_IP=10.231.$x.2
	if ! ip netns add "$HSF_NS" 2>"$HS_TMP/netns.err"; then
		HSF_NS=
		hs_skip "cannot create a network namespace (needs root / CAP_NET_ADMIN): $(cat "$HS_TMP/netns.err")"
	fi
	if ! { ip link add "$HSF_VETH_ROOT" type veth peer name "$HSF_VETH_NS" &&
		ip link set "$HSF_VETH_NS" netns "$HSF_NS" &&
		ip addr add "$HSF_ROOT_IP/30" dev "$HSF_VETH_ROOT" &&
		ip link set "$HSF_VETH_ROOT" up &&
		ip netns exec "$HSF_NS" ip addr add "$HSF_NS_IP/30" dev "$HSF_VETH_NS" &&
		ip netns exec "$HSF_NS" ip link set "$HSF_VETH_NS" up &&
		ip netns exec "$HSF_NS" ip link set lo up; }; then
		hs_fail "cannot set up the veth pair $HSF_VETH_ROOT/$HSF_VETH_NS"
	fi
	hs_log "namespace $HSF_NS: $HSF_ROOT_IP ($HSF_VETH_ROOT) <-> $HSF_NS_IP ($HSF_VETH_NS)"
}

# Removes what hsf_netns_create made (the trap calls it too). Processes
# inside are stopped by hs_cleanup by pid; the namespace itself goes when
# the last of them exits.
hsf_netns_destroy() {
	[ -n "$HSF_NS" ] || return 0
	ip link del "$HSF_VETH_ROOT" 2>/dev/null
	ip netns del "$HSF_NS" 2>/dev/null
	HSF_NS=
	return 0
}

# The partition: the namespace side of the veth goes down. Packets between
# the namespace and the root namespace are dropped silently (the root side
# loses its carrier but keeps HSF_ROOT_IP, which root-namespace processes
# reach over the loopback route).
hsf_netns_isolate() {
	ip netns exec "$HSF_NS" ip link set "$HSF_VETH_NS" down || hs_fail "cannot take $HSF_VETH_NS down"
}

hsf_netns_heal() {
	ip netns exec "$HSF_NS" ip link set "$HSF_VETH_NS" up || hs_fail "cannot bring $HSF_VETH_NS up"
}

_hsf_redis_args() {
	local name=$1 port=$2 dir=$HS_TMP/$1
	mkdir -p "$dir"
	# protected-mode no: these take connections from the veth addresses
	# (Redis only accepts loopback clients in protected mode); they listen
	# on 127.0.0.1 and on the test's own 10.231.X.0/30 only.
	# shutdown-timeout 0: a master stopped at cleanup does not wait for a
	# replica across a (possibly cut) veth.
	HSF_REDIS_ARGS=(--port "$port" --save "" --appendonly no --repl-diskless-sync-delay 0
		--dir "$dir" --daemonize no --protected-mode no --shutdown-timeout 0)
}

# hsf_start_redis_ns NAME [replicaof IP PORT]: redis-server inside the
# namespace, bound to HSF_NS_IP. A NAME started before gets its port back.
hsf_start_redis_ns() {
	local name=$1 port
	port=${HS_PORT[$name]:-$(hs_free_port)}
	HS_PORT[$name]=$port
	_hsf_redis_args "$name" "$port"
	[ "${2:-}" != replicaof ] || HSF_REDIS_ARGS+=(--replicaof "$3" "$4")
	_hs_spawn "$HS_TMP/$name.log" ip netns exec "$HSF_NS" redis-server --bind "$HSF_NS_IP" "${HSF_REDIS_ARGS[@]}"
	hs_register "$name" "$HS_BG_PID"
	HSF_NS_NAMES+=("$name")
	_hs_wait_started "$name" 5 '[ "$(hsf_cli "$HSF_NS_IP" "$port" PING)" = PONG ]'
}

# hsf_start_redis_announced NAME [replicaof IP PORT]: redis-server on
# 127.0.0.1 and HSF_ROOT_IP, announcing HSF_ROOT_IP, so that Sentinel,
# HAProxy and the node in the namespace all reach it at the same address.
hsf_start_redis_announced() {
	local name=$1 port
	port=${HS_PORT[$name]:-$(hs_free_port)}
	HS_PORT[$name]=$port
	_hsf_redis_args "$name" "$port"
	[ "${2:-}" != replicaof ] || HSF_REDIS_ARGS+=(--replicaof "$3" "$4")
	_hs_spawn "$HS_TMP/$name.log" redis-server --bind 127.0.0.1 "$HSF_ROOT_IP" \
		--replica-announce-ip "$HSF_ROOT_IP" "${HSF_REDIS_ARGS[@]}"
	hs_register "$name" "$HS_BG_PID"
	_hs_wait_started "$name" 5 '[ "$(hs_cli "$port" PING)" = PONG ]'
}
