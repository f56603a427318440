#!/bin/bash
# Take the README's screenshots of HAProxy's stats page and of the agent's
# page (/hasentinel) during a failover, and the matching hasentinelctl
# outputs, from the local lab (./run demo).
#
#   doc/screenshot.sh
#   SCREENSHOT_AT_MS=1000 doc/screenshot.sh   the page 1 s after the switch
#
# Writes, in doc/:
#   stats-failover.png     the stats page during the failover: in
#                          mymaster_write the old master's slot in maintenance
#                          and the new master's slot up ("no check": the write
#                          backend has no health check); in mymaster_read a
#                          replica up and the old master not yet back
#                          (see "When to take the page" below)
#   hasentinel-failover.png  the agent's page served by HAProxy
#                          (http://127.0.0.1:3000/hasentinel) right after the
#                          switch: the group, which slot each node occupies,
#                          the Sentinels' views, the failover's timeline
#   topology-example.txt   `hasentinelctl topology`, taken at the same moment
#   timeline-example.txt   `hasentinelctl timeline`, right after the failover
#
# Reuses a running lab (.lab/), else starts one with `./run demo` and stops
# it at the end. A fresh lab gives a timeline with this failover only.
# Needs, besides the lab's packages: chromium (Debian: apt-get install
# chromium) and curl. CHROMIUM=/path/to/chrome picks another binary.
set -euo pipefail

cd "$(dirname "$0")/.."
TOP=$(pwd)
LAB=$TOP/.lab
CTL=${HASENTINELCTL:-$TOP/build/agent/hasentinelctl}
MASTER=mymaster
SENTINEL_PORT=26379
WRITE_PORT=6379
READ_PORT=6380
STATS_URL=http://127.0.0.1:3000/
PNG=$TOP/doc/stats-failover.png
PAGE_URL=http://127.0.0.1:3000/hasentinel
PAGE_PNG=$TOP/doc/hasentinel-failover.png
PAGE_WINDOW=1300,1250
TOPOLOGY=$TOP/doc/topology-example.txt
TIMELINE=$TOP/doc/timeline-example.txt
# Big enough for the whole page (every frontend and backend) at 100 %.
WINDOW=1400,880

say() { printf '==> %s\n' "$*" >&2; }
die() { printf 'screenshot.sh: %s\n' "$*" >&2; exit 1; }

CHROMIUM=${CHROMIUM:-$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)}
[ -n "$CHROMIUM" ] || die "chromium not found (Debian: apt-get install chromium)"
for c in curl socat redis-cli; do
	command -v "$c" >/dev/null || die "$c not found"
done

started=0
bg_pids=()
tmp=$(mktemp -d)

cleanup() {
	local rc=$? p
	trap - EXIT
	set +e
	for p in "${bg_pids[@]}"; do
		kill "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	if [ "$started" = 1 ]; then
		say "stopping the lab this script started"
		./run demo stop
	fi
	rm -rf "$tmp"
	exit "$rc"
}
trap cleanup EXIT

now_ms() {
	local t=${EPOCHREALTIME/[.,]/}
	echo $((t / 1000))
}

# One runtime API command on the lab's admin socket.
hap() {
	echo "$*" | socat -t 2 - "UNIX-CONNECT:$LAB/haproxy.sock"
}

# Port of the write backend's running slot (the master HAProxy routes to).
write_port() {
	hap show servers state | awk -v b="${MASTER}_write" '$2 == b && $6 == 2 { print $19; exit }'
}

# How many read slots are running and fully healthy (green on the page, not
# "UP 1/2" going down): srv_check_health at rise + fall - 1 of the read
# backend's default-server (rise 1, fall 2).
read_up() {
	hap show servers state | awk -v b="${MASTER}_read" '$2 == b && $6 == 2 && $13 >= 2 { n++ } END { print n + 0 }'
}

lab_running() {
	[ -S "$LAB/haproxy.sock" ] && [ -S "$LAB/hasentinel.sock" ] &&
		hap show info 2>/dev/null | grep -q '^Pid:' &&
		"$CTL" -s "$LAB/hasentinel.sock" -t 2000 status >/dev/null 2>&1
}

# ------------------------------------------------------------ the lab

if lab_running; then
	say "reusing the running lab in .lab/"
else
	say "starting the lab: ./run demo"
	started=1
	./run demo >"$tmp/demo.out" || { cat "$tmp/demo.out" >&2; die "./run demo failed"; }
fi

# A settled lab: the agent sees no problem (a master routed, replicas in).
say "waiting until 'hasentinelctl check' is OK"
for _ in $(seq 60); do
	"$CTL" -s "$LAB/hasentinel.sock" check >/dev/null 2>&1 && break
	sleep 0.5
done
"$CTL" -s "$LAB/hasentinel.sock" check >&2 || die "the lab is not settled"
old=$(write_port)
[ -n "$old" ] || die "no server is ready in ${MASTER}_write"

# Some traffic, so the session counters show where clients went: a new
# connection every 100 ms on the write port and on the read port.
for port in "$WRITE_PORT" "$READ_PORT"; do
	(
		exec >/dev/null 2>&1
		while :; do
			if [ "$port" = "$WRITE_PORT" ]; then
				redis-cli -p "$port" INCR hasentinel:screenshot
			else
				redis-cli -p "$port" GET hasentinel:screenshot
			fi
			sleep 0.1
		done
	) &
	bg_pids+=($!)
done
sleep 2

# ------------------------------------------------------------ failover

say "failover: redis-cli -p $SENTINEL_PORT sentinel failover $MASTER (master now on :$old)"
for _ in $(seq 20); do
	out=$(redis-cli -p "$SENTINEL_PORT" SENTINEL FAILOVER "$MASTER" 2>&1) || true
	[ "$out" = OK ] && break
	sleep 1 # e.g. NOGOODSLAVE while Sentinel still probes the replicas
done
[ "$out" = OK ] || die "sentinel failover: $out"
t0=$(now_ms)

# The switch: the write backend's running slot is no longer the old master.
while :; do
	new=$(write_port)
	[ -n "$new" ] && [ "$new" != "$old" ] && break
	[ $(($(now_ms) - t0)) -lt 30000 ] || die "${MASTER}_write did not switch within 30 s"
	sleep 0.05
done
ts=$(now_ms)
say "${MASTER}_write switched :$old -> :$new $((ts - t0)) ms after the failover request"

# When to take the page. SCREENSHOT_AT_MS=N: N ms after the switch. By
# default: from 0.5 s on, as soon as a replica is fully up in the read
# backend again, at most 15 s after the switch. Right after the switch the
# agent takes the replicas out while they resync with the new master, and
# puts them back once Sentinel reports their link up, which Sentinel learns
# from its next INFO (every 10 s); a slot back from maintenance also shows
# "UP 1/2" (yellow) until its first health check. The old master stays in
# maintenance in both backends for longer: it rejoins the read backend once
# Sentinel reports it replicating from the new master.
at=${SCREENSHOT_AT_MS:-}
while :; do
	d=$(($(now_ms) - ts))
	if [ -n "$at" ]; then
		[ "$d" -ge "$at" ] && break
	else
		[ "$d" -ge 15000 ] && break
		[ "$d" -ge 500 ] && [ "$(read_up)" -gt 0 ] && break
	fi
	sleep 0.05
done
# The page as HAProxy serves it at this moment (";norefresh": without the
# Refresh header it reloads every second); rendered from the file below.
curl -fsS -o "$tmp/stats.html" "${STATS_URL};norefresh"
"$CTL" -s "$LAB/hasentinel.sock" topology >"$tmp/topology.txt"
say "page taken $(($(now_ms) - ts)) ms after the switch"
hap show servers state | awk -v w="${MASTER}_write" -v r="${MASTER}_read" \
	'($2 == w || $2 == r) && $19 != 1 { printf "    %s/%s :%s %s\n", $2, $4, $19, ($6 == 2 ? "up, health " $13 : "not up") }' >&2

# The timeline once the agent has seen Sentinel's +switch-master.
sleep 1
"$CTL" -s "$LAB/hasentinel.sock" timeline >"$tmp/timeline.txt"
# The agent's page at the same point, with this failover's timeline.
curl -fsS -o "$tmp/page.html" "$PAGE_URL"

# ------------------------------------------------------------ render

say "rendering with $CHROMIUM"
# Headless, and no connection anywhere: the page is a local file with no
# external resource, and Chromium's own background traffic is switched off.
"$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
	--disable-background-networking --disable-component-update --disable-sync \
	--hide-scrollbars --user-data-dir="$tmp/profile" --window-size="$WINDOW" \
	--screenshot="$tmp/stats.png" "file://$tmp/stats.html" >"$tmp/chromium.log" 2>&1 || true
if [ ! -s "$tmp/stats.png" ]; then
	cat "$tmp/chromium.log" >&2
	die "chromium wrote no screenshot"
fi

# The agent's page (self-contained: inline CSS, no external resource).
"$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
	--disable-background-networking --disable-component-update --disable-sync \
	--hide-scrollbars --user-data-dir="$tmp/profile" --window-size="$PAGE_WINDOW" \
	--screenshot="$tmp/page.png" "file://$tmp/page.html" >"$tmp/chromium.log" 2>&1 || true
if [ ! -s "$tmp/page.png" ]; then
	cat "$tmp/chromium.log" >&2
	die "chromium wrote no screenshot of the agent's page"
fi

mv "$tmp/stats.png" "$PNG"
mv "$tmp/page.png" "$PAGE_PNG"
mv "$tmp/topology.txt" "$TOPOLOGY"
mv "$tmp/timeline.txt" "$TIMELINE"
size=$(wc -c <"$PNG")
say "wrote ${PNG#"$TOP"/} ($((size / 1024)) KB), ${PAGE_PNG#"$TOP"/} ($(($(wc -c <"$PAGE_PNG") / 1024)) KB), ${TOPOLOGY#"$TOP"/}, ${TIMELINE#"$TOP"/}"
[ "$size" -le 307200 ] || say "warning: ${PNG#"$TOP"/} is over 300 KB"
cat "$TIMELINE" >&2
