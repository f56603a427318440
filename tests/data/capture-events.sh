#!/usr/bin/env bash
# shellcheck disable=SC2317  # cleanup is reached through trap
# Capture real Redis Sentinel Pub/Sub messages for the event parser tests.
#
# Starts, in a mktemp -d directory on free 127.0.0.1 ports, one master, two
# replicas and three sentinels, subscribes to every sentinel with
# `psubscribe *`, then drives: automatic failover (SIGKILL of the master),
# return of the old master, an aborted failover (no good replica), a manual
# SENTINEL FAILOVER, a replica reconfigured behind Sentinel's back, a replica
# killed and restarted, a sentinel paused, TILT, SENTINEL RESET, a new
# replica, SENTINEL REMOVE/MONITOR/SET.
#
# Writes "channel<TAB>payload" lines, grouped per sentinel, to $1 (default
# tests/data/sentinel-events.txt next to this script), followed by hand-made
# IPv6 and hostname lines. Ports are the real ones used during the capture.
# Exit 1 when a required event was not seen (the file is still written, for
# inspection), 77 when a Redis binary is missing.
set -u

here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here/sentinel-events.txt}

for b in redis-server redis-sentinel redis-cli python3 timeout; do
	if ! command -v "$b" >/dev/null 2>&1; then
		echo "capture-events: $b not found, skipping" >&2
		exit 77
	fi
done

dir=$(mktemp -d "${TMPDIR:-/tmp}/hs-capture.XXXXXX")
pids=()

cleanup() {
	local p i
	for p in "${pids[@]}"; do
		kill -CONT "$p" 2>/dev/null
		kill -TERM "$p" 2>/dev/null
	done
	for p in "${pids[@]}"; do
		for ((i = 0; i < 50; i++)); do
			kill -0 "$p" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# reap pid: wait for a process we killed and forget it, so that cleanup
# never signals a recycled pid.
reap() {
	local p keep=()
	wait "$1" 2>/dev/null
	for p in "${pids[@]}"; do
		[ "$p" != "$1" ] && keep+=("$p")
	done
	pids=("${keep[@]}")
}

log() { printf 'capture-events: %s\n' "$*" >&2; }

# free_ports N: N distinct ports on 127.0.0.1 that could be bound just now.
free_ports() {
	python3 - "$1" <<'EOF'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
EOF
}

# wait_until SECONDS 'shell condition': poll every 0.1 s, 1 on timeout.
wait_until() {
	local max=$(($1 * 10)) i
	for ((i = 0; i < max; i++)); do
		if eval "$2"; then
			return 0
		fi
		sleep 0.1
	done
	return 1
}

# step SECONDS 'condition' description: wait, log a miss (and carry on:
# one missed event should not cost the rest of the capture).
step() {
	if wait_until "$1" "$2"; then
		log "ok: $3"
	else
		log "MISSED (after $1 s): $3"
	fi
}

cli() {
	local port=$1
	shift
	timeout 5 redis-cli -h 127.0.0.1 -p "$port" --raw "$@" 2>/dev/null
}

read -r -a ports <<<"$(free_ports 10)"
rport=("${ports[0]}" "${ports[1]}" "${ports[2]}" "${ports[3]}")
sport=("${ports[4]}" "${ports[5]}" "${ports[6]}")
declare -A rpid
spid=()

start_redis() { # index [replicaof-port]
	local i=$1 port=${rport[$1]}
	{
		echo "port $port"
		echo "bind 127.0.0.1"
		echo "dir $dir"
		echo "dbfilename dump-$i.rdb"
		echo "save \"\""
		echo "appendonly no"
		echo "logfile $dir/redis-$i.log"
		[ -n "${2:-}" ] && echo "replicaof 127.0.0.1 $2"
	} >"$dir/redis-$i.conf"
	redis-server "$dir/redis-$i.conf" &
	rpid[$i]=$!
	pids+=("$!")
	wait_until 10 "cli $port ping | grep -q PONG" || { log "redis $i did not start"; exit 1; }
}

start_sentinel() { # index
	local i=$1 port=${sport[$1]}
	cat >"$dir/sentinel-$i.conf" <<EOF
port $port
bind 127.0.0.1
dir $dir
logfile $dir/sentinel-$i.log
sentinel monitor mymaster 127.0.0.1 ${rport[0]} 2
sentinel down-after-milliseconds mymaster 1000
sentinel failover-timeout mymaster 10000
sentinel parallel-syncs mymaster 1
EOF
	redis-sentinel "$dir/sentinel-$i.conf" &
	spid[i]=$!
	pids+=("$!")
	wait_until 10 "cli $port ping | grep -q PONG" || { log "sentinel $i did not start"; exit 1; }
	# Subscribe at once so that the first +slave/+sentinel are seen.
	redis-cli -h 127.0.0.1 -p "$port" --raw psubscribe '*' >"$dir/sub-$i.raw" 2>/dev/null &
	pids+=("$!")
}

# events [i]: "channel<TAB>payload" lines seen by sentinel i (default all).
# redis-cli --raw prints a message as four lines: pmessage, pattern,
# channel, payload.
events() {
	local files
	if [ -n "${1:-}" ]; then files=("$dir/sub-$1.raw"); else files=("$dir"/sub-*.raw); fi
	awk '$0 == "pmessage" { st = 1; next }
	     st == 1 { st = 2; next }
	     st == 2 { ch = $0; st = 3; next }
	     st == 3 { print ch "\t" $0; st = 0 }' "${files[@]}"
}
# seen REGEX [i]: an event line matches the extended regex.
seen() { events "${2:-}" | grep -Eq -- "$1"; }
count() { events "${2:-}" | grep -Ec -- "$1"; }

# sfield port field: one field of SENTINEL MASTER mymaster.
sfield() {
	cli "$1" sentinel master mymaster | awk -v f="$2" 'NR % 2 == 1 && $0 == f { getline; print; exit }'
}
master_port() {
	cli "${sport[0]}" sentinel get-master-addr-by-name mymaster | sed -n 2p
}
# replicas_ok port n: the sentinel sees n replicas, all flags "slave", link ok.
replicas_ok() {
	local r
	r=$(cli "$1" sentinel replicas mymaster) || return 1
	[ "$(printf '%s\n' "$r" | grep -cx 'master-link-status' )" -eq "$2" ] || return 1
	[ "$(printf '%s\n' "$r" | awk 'p { print; p = 0 } $0 == "flags" { p = 1 }' | grep -cx slave)" -eq "$2" ] || return 1
	[ "$(printf '%s\n' "$r" | awk 'p { print; p = 0 } $0 == "master-link-status" { p = 1 }' | grep -cx ok)" -eq "$2" ]
}
all_stable() { # n replicas
	local i
	for i in 0 1 2; do
		replicas_ok "${sport[$i]}" "$1" || return 1
		[ "$(sfield "${sport[$i]}" num-other-sentinels)" = 2 ] || return 1
		[ "$(sfield "${sport[$i]}" flags)" = master ] || return 1
	done
}
# all_priority prio: every sentinel sees every replica with that priority.
all_priority() {
	local i
	for i in 0 1 2; do
		cli "${sport[$i]}" sentinel replicas mymaster |
			awk -v p="$1" 'f { if ($0 != p) bad = 1; f = 0 } $0 == "slave-priority" { f = 1; n++ }
				END { exit (bad || n == 0) }' || return 1
	done
}
index_of_port() {
	local i
	for i in "${!rport[@]}"; do
		[ "${rport[$i]}" = "$1" ] && { echo "$i"; return; }
	done
}
replica_ports() { # the data ports that are replicas of the current master now
	local m i
	m=$(master_port)
	for i in 0 1 2; do
		[ "${rport[$i]}" != "$m" ] && echo "${rport[$i]}"
	done
}

log "dir $dir; redis ${rport[*]}; sentinels ${sport[*]}"
start_redis 0
start_redis 1 "${rport[0]}"
start_redis 2 "${rport[0]}"
start_sentinel 0
start_sentinel 1
start_sentinel 2
step 60 'all_stable 2' "3 sentinels see 2 replicas and each other"

# 1. Automatic failover: SIGKILL the master.
log "SIGKILL master ${rport[0]}"
kill -KILL "${rpid[0]}"
reap "${rpid[0]}"
step 60 "seen '^\+switch-master'" "+switch-master"
step 60 "seen '^\+failover-end'" "+failover-end"

# 2. The old master comes back and is converted into a replica.
start_redis 0
step 60 "seen '^\+convert-to-slave'" "+convert-to-slave of the old master"
step 60 'all_stable 2' "stable after the first failover"

# 3. Aborted failover: no replica may be promoted; the master pauses then
#    returns (+odown, -failover-abort-no-good-slave, -odown, -sdown).
for p in $(replica_ports); do cli "$p" config set replica-priority 0 >/dev/null; done
step 40 'all_priority 0' "sentinels see replica-priority 0"
m=$(master_port)
mi=$(index_of_port "$m")
log "SIGSTOP master $m"
kill -STOP "${rpid[$mi]}"
step 40 "seen '^-failover-abort-no-good-slave'" "-failover-abort-no-good-slave"
kill -CONT "${rpid[$mi]}"
step 40 "seen '^-odown'" "-odown"
for p in $(replica_ports); do cli "$p" config set replica-priority 100 >/dev/null; done
step 40 'all_priority 100' "sentinels see replica-priority 100"
step 60 'all_stable 2' "stable after the aborted failover"

# 4. Manual failover.
n=$(count '^\+switch-master')
step 60 "cli ${sport[0]} sentinel failover mymaster | grep -q OK" "SENTINEL FAILOVER accepted"
step 60 "[ \$(count '^\+switch-master') -gt $n ]" "+switch-master after SENTINEL FAILOVER"
step 60 'all_stable 2' "stable after the manual failover"

# 5. A replica changed behind Sentinel's back: promoted (+role-change /
#    -role-change, +convert-to-slave), then pointed at the wrong master
#    (+fix-slave-config).
read -r r1 r2 <<<"$(replica_ports | tr '\n' ' ')"
n=$(count '^\+convert-to-slave')
cli "$r1" replicaof no one >/dev/null
step 60 "[ \$(count '^\+convert-to-slave') -gt $n ]" "+convert-to-slave of a self-promoted replica"
step 60 'all_stable 2' "stable after the self-promoted replica"
cli "$r1" replicaof 127.0.0.1 "$r2" >/dev/null
step 60 "seen '^\+fix-slave-config'" "+fix-slave-config"
step 60 'all_stable 2' "stable after +fix-slave-config"

# 6. A replica dies and restarts (+sdown slave, -sdown slave, +reboot).
ri=$(index_of_port "$r2")
kill -KILL "${rpid[$ri]}"
reap "${rpid[$ri]}"
step 30 "seen '^\+sdown[[:space:]]slave'" "+sdown slave"
start_redis "$ri" "$(master_port)"
step 30 "seen '^-sdown[[:space:]]slave'" "-sdown slave"
step 60 "seen '^\+reboot'" "+reboot"
step 60 'all_stable 2' "stable after the replica restart"

# 7. A sentinel pauses (+sdown sentinel / -sdown sentinel on the others).
kill -STOP "${spid[2]}"
step 30 "seen '^\+sdown[[:space:]]sentinel' 0" "+sdown sentinel"
kill -CONT "${spid[2]}"
step 30 "seen '^-sdown[[:space:]]sentinel' 0" "-sdown sentinel"

# 8. TILT: a trigger shorter than the timer period enters it at once.
cli "${sport[2]}" sentinel debug tilt-period 1000 >/dev/null
cli "${sport[2]}" sentinel debug tilt-trigger 1 >/dev/null
step 20 "seen '^\+tilt' 2" "+tilt"
cli "${sport[2]}" sentinel debug tilt-trigger 2000 >/dev/null
step 20 "seen '^-tilt' 2" "-tilt"
cli "${sport[2]}" sentinel debug tilt-period 30000 >/dev/null

# 9. SENTINEL RESET: forgets replicas and sentinels, rediscovers them.
cli "${sport[0]}" sentinel reset mymaster >/dev/null
step 20 "seen '^\+reset-master' 0" "+reset-master"
step 60 'all_stable 2' "stable after SENTINEL RESET"

# 10. A new replica (+slave).
n=$(count '^\+slave[[:space:]]' 0)
start_redis 3 "$(master_port)"
step 60 "[ \$(count '^\+slave[[:space:]]' 0) -gt $n ]" "+slave for a new replica"
step 60 'all_stable 3' "3 replicas"

# 11. SENTINEL REMOVE / MONITOR / SET (-monitor, +monitor, +set).
m=$(master_port)
cli "${sport[1]}" sentinel remove mymaster >/dev/null
step 10 "seen '^-monitor' 1" "-monitor"
cli "${sport[1]}" sentinel monitor mymaster 127.0.0.1 "$m" 2 >/dev/null
step 10 "seen '^\+monitor' 1" "+monitor"
cli "${sport[1]}" sentinel set mymaster down-after-milliseconds 1000 failover-timeout 10000 >/dev/null
step 10 "seen '^\+set' 1" "+set"

# Write the file.
{
	echo "# Redis Sentinel Pub/Sub messages, channel<TAB>payload, one per line."
	echo "# Captured by tests/data/capture-events.sh with $(redis-sentinel --version | awk '{ print $1, $2, $3 }')."
	echo "# Redis ports ${rport[*]}, sentinel ports ${sport[*]}; the first master was ${rport[0]}."
	echo "# Grouped per subscribed sentinel, in arrival order; exact duplicates dropped."
	for i in 0 1 2; do
		echo "# sentinel 127.0.0.1:${sport[$i]}"
		events "$i"
	done | awk '/^#/ || !seen[$0]++'
	echo "# Hand-made, not captured: IPv6 instances (bare in the ip field, bracketed in"
	echo "# replica names) and hostnames (resolve-hostnames/announce-hostnames yes)."
	printf '%s\t%s\n' \
		'+sdown' 'slave [::1]:6380 ::1 6380 @ mymaster ::1 6379' \
		'+switch-master' 'mymaster ::1 6379 ::1 6380' \
		'+odown' 'master mymaster ::1 6379 #quorum 2/2' \
		'+sentinel' 'sentinel 8e6d1a4bb1dcd3ee55bbd4a7e58bcbae31f6a1c5 fe80::1%eth0 26379 @ mymaster fe80::2%eth0 6379' \
		'+sdown' 'master mymaster redis-1 6379' \
		'+switch-master' 'mymaster redis-1 6379 redis-2.example.internal 6379' \
		'+promoted-slave' 'slave redis-2:6379 redis-2 6379 @ mymaster redis-1 6379' \
		'+slave' 'slave redis-3:6379 redis-3 6379 @ mymaster redis-2.example.internal 6379'
} >"$out.tmp" && mv "$out.tmp" "$out"
log "wrote $(grep -vc '^#' "$out") messages to $out"

missing=0
for ch in +sdown -sdown +odown -odown +new-epoch +try-failover +vote-for-leader \
	+elected-leader +failover-state-select-slave +failover-state-send-slaveof-noone \
	+failover-state-wait-promotion +failover-state-reconf-slaves +selected-slave \
	+promoted-slave +slave-reconf-sent +slave-reconf-inprog +slave-reconf-done \
	+failover-end +switch-master +convert-to-slave +reboot +reset-master +slave \
	+sentinel +monitor -monitor +config-update-from +role-change -role-change \
	+fix-slave-config -failover-abort-no-good-slave +tilt -tilt; do
	if ! grep -q "^$ch	" "$out"; then
		log "not captured: $ch"
		missing=1
	fi
done
exit $missing
