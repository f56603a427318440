#!/bin/bash
# The compose deployment (compose/) for real, with podman and docker-compose
# on this machine, checked through the published ports as a user would:
#
#   tests/compose/compose_test.sh [BUILD_DIR]     (as root; ./run compose-test)
#
#  1. podman's Docker API on a socket of this test's own (`podman system
#     service`, stopped by pid at the end), with a containers.conf of its
#     own (CONTAINERS_CONF): nothing of the machine's configuration is
#     touched. The debian:12 base image is made once with debootstrap
#     (compose/debian/make-base-image.sh) and kept for later runs.
#  2. compose.yaml + compose.debian.yaml (Redis, Sentinel and HAProxy from
#     Debian 12's packages) + an override of this test's own: fresh random
#     passwords, free host ports. Build, up, wait for the agent's health
#     check to say healthy.
#  3. Through 127.0.0.1: the write port says ROLE master, the read port
#     reaches both replicas and only them, the stats page answers (and
#     /hasentinel when haproxy.cfg loads the page's Lua); `docker-compose
#     exec hasentinel hasentinelctl status` shows the topology.
#  4. A writer (tests/tools/hs_writer, nodes told apart by run_id) writes
#     through the write port all along:
#     - stop the master's container: within Sentinel's failover time the
#       write port reaches a new master;
#     - start it again: it comes back as a replica, and the write backend
#       never routes to it (stats page polled meanwhile);
#     - restart the haproxy container: the agent puts the routing back.
#     Then: 0 writes acknowledged by a non-master, every write acknowledged
#     by the final master is on it.
#  5. `docker-compose down -v` leaves no container, network or volume.
# Whatever happens, the trap removes the project's containers, network and
# volumes and stops the podman service.
#
# Runs one at a time per machine (flock): the network has a fixed subnet.
# Prints timings and the failover figures as "COMPOSE ..." lines.
# Environment: HS_KEEP=1 keeps the temp dir (the containers go anyway).
# Takes about 5 min on a first run (base image 1 min, image builds 2-3 min
# on 2 cores), 2-3 min once the images are cached.
# Re-run under bash when started as `sh compose_test.sh`.
# Conditions for hs_wait_until are single-quoted and eval'd later (SC2016).
# shellcheck disable=SC2016
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
set -u -o pipefail
LC_ALL=C
export LC_ALL

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
build=${1:-${top_builddir:-$top/build}}
HS_WRITER=${HS_WRITER:-$build/tests/tools/hs_writer}
CDIR=$top/compose

# shellcheck source-path=SCRIPTDIR source=../integration/lib.sh
. "$top/tests/integration/lib.sh"

# Sentinel's failover time in compose/redis/sentinel.conf: down-after 1 s,
# then the election and the promotion; failover-timeout bounds a failover.
FAILOVER_DEADLINE_S=10

T0=$(hs_now_ms)
P=hscompose$$                  # compose project: containers, network, volumes
SVC_PID=
UP=0

# ------------------------------------------------------------ cleanup

# ids: one per line, split on purpose.
# shellcheck disable=SC2086
cleanup() {
	local rc=$? ids
	trap - EXIT INT TERM
	set +e
	if [ "$UP" = 1 ]; then
		if [ "$rc" -ne 0 ]; then
			hs_log "failed: the last log lines of every service"
			dc logs --no-color --tail=30 >&2 2>&1
		fi
		timeout 120 "${DC[@]}" down -v -t 5 >/dev/null 2>&1
	fi
	# Whatever compose left (or never knew about): by the project's label.
	if command -v podman >/dev/null 2>&1; then
		ids=$(podman ps -a -q --filter "label=com.docker.compose.project=$P" 2>/dev/null)
		[ -z "$ids" ] || podman rm -f -t 0 $ids >/dev/null 2>&1
		podman network exists "${P}_hs" 2>/dev/null && podman network rm -f "${P}_hs" >/dev/null 2>&1
		ids=$(podman volume ls -q --filter "label=com.docker.compose.project=$P" 2>/dev/null)
		[ -z "$ids" ] || podman volume rm -f $ids >/dev/null 2>&1
	fi
	[ -z "$WRITER_PID" ] || { kill -TERM "$WRITER_PID" 2>/dev/null; wait "$WRITER_PID" 2>/dev/null; }
	if [ -n "$SVC_PID" ]; then
		kill -TERM "$SVC_PID" 2>/dev/null
		wait "$SVC_PID" 2>/dev/null
	fi
	if [ -n "$HS_TMP" ]; then
		if [ "${HS_KEEP:-0}" = 1 ]; then echo "kept $HS_TMP" >&2; else rm -rf "$HS_TMP"; fi
	fi
	exit "$rc"
}
WRITER_PID=
HS_TMP=
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

[ "$(id -u)" = 0 ] || hs_skip "needs root (rootful podman, debootstrap): ./run compose-test"
hs_require_bin podman runc debootstrap docker-compose redis-cli flock timeout "$HS_WRITER"

# One run at a time on this machine: the stack's subnet is fixed.
exec 9>/run/lock/hasentinel-compose-test.lock || hs_fail "cannot open the lock file"
if ! flock -n 9; then
	hs_log "another compose test runs on this machine: waiting for it (at most 30 min)"
	flock -w 1800 9 || hs_fail "the other compose test did not finish within 30 min"
fi

HS_TMP=$(mktemp -d "${TMPDIR:-/tmp}/hs-compose.XXXXXX") || hs_fail "mktemp -d failed"
: >"$HS_TMP/ports"
chmod 700 "$HS_TMP"

# ------------------------------------------------------------ podman's Docker API

# Container limits: podman asks for the maximum by default, which a host with
# lower hard limits refuses ("error setting rlimit type 7"). Use what podman
# itself gets here: read from a short-lived podman process.
hs_log "podman service on $HS_TMP/podman.sock"
podman system service --time=0 "unix://$HS_TMP/probe.sock" >/dev/null 2>&1 &
probe=$!
hs_wait_until 10 '[ -S "$HS_TMP/probe.sock" ]' "podman's probe service socket"
nofile=$(awk '/^Max open files/ { print $5 }' "/proc/$probe/limits")
nproc=$(awk '/^Max processes/ { print $4 }' "/proc/$probe/limits")
kill -TERM "$probe"
wait "$probe" 2>/dev/null
if [ -z "$nofile" ] || [ -z "$nproc" ]; then hs_fail "cannot read podman's limits"; fi
cat >"$HS_TMP/containers.conf" <<-EOF
	# hasentinel compose test: this podman service only (CONTAINERS_CONF).
	[containers]
	default_ulimits = ["nofile=$nofile:$nofile", "nproc=$nproc:$nproc"]
	[network]
	network_backend = "netavark"
	[engine]
	runtime = "runc"
EOF
CONTAINERS_CONF=$HS_TMP/containers.conf \
	podman system service --time=0 "unix://$HS_TMP/podman.sock" >"$HS_TMP/podman-service.log" 2>&1 &
SVC_PID=$!
hs_wait_until 10 '[ -S "$HS_TMP/podman.sock" ]' "the podman service socket"
export DOCKER_HOST=unix://$HS_TMP/podman.sock
unset COMPOSE_FILE COMPOSE_PROJECT_NAME DOCKER_BUILDKIT COMPOSE_DOCKER_CLI_BUILD
hs_wait_until 20 'docker-compose version' "docker-compose to reach $DOCKER_HOST"

# ------------------------------------------------------------ the base image

t=$(hs_now_ms)
if podman image exists debian:12 && podman image exists debian:12-slim; then
	hs_log "base image debian:12 is there (cached)"
	BASE_MS=0
else
	hs_log "making the base image debian:12 with debootstrap"
	ENGINE=podman sh "$CDIR/debian/make-base-image.sh" || hs_fail "make-base-image.sh failed"
	BASE_MS=$(($(hs_now_ms) - t))
fi

# ------------------------------------------------------------ the project

# Fresh passwords, mode 0644 as compose/README.md says (bind-mounted as they
# are; the agent runs unprivileged).
gen_pw() { od -An -tx1 -N24 /dev/urandom | tr -d ' \n'; }
mkdir -m 700 "$HS_TMP/secrets"
gen_pw >"$HS_TMP/secrets/redis_password"
gen_pw >"$HS_TMP/secrets/sentinel_password"
chmod 644 "$HS_TMP/secrets/"*
RPW=$(cat "$HS_TMP/secrets/redis_password")
cat >"$HS_TMP/compose.test.yaml" <<-EOF
	version: "3.8"
	secrets:
	  redis_password:
	    file: $HS_TMP/secrets/redis_password
	  sentinel_password:
	    file: $HS_TMP/secrets/sentinel_password
EOF

WPORT=$(hs_free_port)
RPORT=$(hs_free_port)
SPORT=$(hs_free_port)
export HS_HOST_WRITE_PORT=$WPORT HS_HOST_READ_PORT=$RPORT HS_HOST_STATS_PORT=$SPORT
hs_log "project $P: write port $WPORT, read port $RPORT, stats port $SPORT"

DC=(docker-compose -p "$P" -f "$CDIR/compose.yaml" -f "$CDIR/compose.debian.yaml"
	-f "$HS_TMP/compose.test.yaml")
dc() { "${DC[@]}" "$@"; }

# redis-cli through a published port (password from the environment, not argv).
rcli() {
	local port=$1
	shift
	REDISCLI_AUTH=$RPW timeout 5 redis-cli -h 127.0.0.1 -p "$port" "$@" 2>/dev/null | tr -d '\r'
}

# redis-cli inside a redis-N container, with its secret.
ncli() {
	local svc=$1
	shift
	# shellcheck disable=SC2016 # expanded in the container
	timeout 30 "${DC[@]}" exec -T "$svc" \
		sh -c 'REDISCLI_AUTH=$(cat /run/secrets/redis_password) exec redis-cli "$@"' sh "$@" 2>/dev/null |
		tr -d '\r'
}

run_id_of() { ncli "$1" INFO server | sed -n 's/^run_id://p'; }
run_id_via() { rcli "$1" INFO server | sed -n 's/^run_id://p'; }
role_via() { rcli "$1" ROLE | head -n 1; }
# "ROLE RUN_ID" of the server behind one connection to PORT (the read port
# hands each connection to the next replica).
role_id_via() {
	printf 'ROLE\nINFO server\n' | rcli "$1" | awk 'NR == 1 { r = $0 } sub(/^run_id:/, "") { id = $0 } END { print r, id }'
}

# GET a path of the stats port; the whole HTTP answer on stdout.
http_get() {
	timeout 5 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
		printf "GET %s HTTP/1.0\r\nHost: localhost\r\n\r\n" "$2" >&3
		cat <&3' _ "$SPORT" "$1" | tr -d '\r'
}

# The write backend's servers that are not in maintenance (ready), as
# "addr" lines, from the stats page's CSV. The backups (hold1, hold2) are
# the hold's loop back into HAProxy, not Redis servers.
write_ready() {
	http_get '/;csv;norefresh' | awk -F, -v be=mymaster_write '
		/^# / { sub(/^# /, ""); for (i = 1; i <= NF; i++) col[$i] = i; next }
		$1 == be && $2 != "BACKEND" && $2 != "FRONTEND" && $(col["status"]) != "MAINT" && $(col["bck"]) != 1 {
			print $(col["addr"])
		}'
}

# ------------------------------------------------------------ build, up, healthy

t=$(hs_now_ms)
hs_log "building the images"
dc build >"$HS_TMP/build.log" 2>&1 || { tail -n 40 "$HS_TMP/build.log" >&2; hs_fail "docker-compose build failed"; }
BUILD_MS=$(($(hs_now_ms) - t))

t=$(hs_now_ms)
UP=1
hs_log "docker-compose up -d"
timeout 300 "${DC[@]}" up -d >"$HS_TMP/up.log" 2>&1 || { cat "$HS_TMP/up.log" >&2; hs_fail "docker-compose up -d failed"; }
UP_MS=$(($(hs_now_ms) - t))

AGENT=$(dc ps -q hasentinel)
[ -n "$AGENT" ] || hs_fail "no hasentinel container"
# Without systemd podman schedules no health checks (it uses systemd
# timers): run the image's check ourselves, the status is recorded as with
# the timer, and docker-compose ps shows it.
hs_log "waiting for the agent's health check"
hs_wait_until 120 'podman healthcheck run "$AGENT"' "the agent's health check to pass"
[ "$(podman inspect --format '{{.State.Health.Status}}' "$AGENT")" = healthy ] ||
	hs_fail "the agent's health status is not healthy"
dc ps hasentinel | grep -q '(healthy)' || hs_fail "docker-compose ps does not show hasentinel healthy"
HEALTHY_MS=$(($(hs_now_ms) - t))
hs_log "healthy $HEALTHY_MS ms after up"

# ------------------------------------------------------------ through the ports

hs_wait_until 20 '[ "$(role_via "$WPORT")" = master ]' "ROLE master through the write port"
R1=$(run_id_of redis-1)
R2=$(run_id_of redis-2)
R3=$(run_id_of redis-3)
if [ -z "$R1" ] || [ -z "$R2" ] || [ -z "$R3" ]; then hs_fail "cannot read the run_ids of redis-1..3"; fi
[ "$(run_id_via "$WPORT")" = "$R1" ] || hs_fail "the write port does not reach redis-1, the first master"
hs_log "write port: ROLE master, redis-1"

# The read port: both replicas (round robin, Sentinel reports replicas
# within ~10 s of their start), never the master.
read_seen() {
	local i role id seen=
	for i in 1 2 3 4; do
		read -r role id < <(role_id_via "$RPORT")
		[ "$role" = slave ] && [ -n "$id" ] && [ "$id" != "$R1" ] || return 1
		seen+="$id "
	done
	[[ $seen == *"$R2"* && $seen == *"$R3"* ]]
}
hs_wait_until 30 read_seen "the read port to reach both replicas (redis-2, redis-3) and only them"
hs_log "read port: ROLE slave, redis-2 and redis-3"

ans=$(http_get /)
[[ $ans == "HTTP/1."[01]" 200"* ]] || hs_fail "the stats page does not answer 200: ${ans%%$'\n'*}"
grep -q 'mymaster_write' <<<"$ans" || hs_fail "the stats page does not show mymaster_write"
hs_log "stats page: 200"
# HAProxy (its own user, in the haproxy container) can reach the agent's
# status socket through the shared volume, where HS_AGENT_SOCKET says.
# shellcheck disable=SC2016 # expanded in the container
dc exec -T haproxy sh -c 's=$HS_AGENT_SOCKET; [ -n "$s" ] && [ -S "$s" ] && [ -r "$s" ] && [ -w "$s" ]' ||
	hs_fail "HAProxy cannot reach the agent's status socket (HS_AGENT_SOCKET)"
hs_log "HAProxy's user can reach the agent's status socket"
if grep -q 'use-service lua.hasentinel' "$top/haproxy/haproxy.cfg"; then
	ans=$(http_get /hasentinel)
	[[ $ans == "HTTP/1."[01]" 200"* ]] || hs_fail "/hasentinel does not answer 200: ${ans%%$'\n'*}"
	grep -q '172.28.0.11' <<<"$ans" || hs_fail "/hasentinel does not show the master 172.28.0.11"
	ans=$(http_get /hasentinel.json)
	[[ $ans == "HTTP/1."[01]" 200"* ]] || hs_fail "/hasentinel.json does not answer 200: ${ans%%$'\n'*}"
	grep -q '172.28.0.11' <<<"$ans" || hs_fail "/hasentinel.json does not name the master 172.28.0.11"
	PAGE=1
	hs_log "/hasentinel and /hasentinel.json: 200, show the master"
fi

st=$(dc exec -T hasentinel hasentinelctl -s /run/hasentinel/hasentinel.sock status 2>&1)
printf '%s\n' "$st" >"$HS_TMP/status.txt"
grep -q 'master 172.28.0.11:6379' <<<"$st" || hs_fail "hasentinelctl status does not show master 172.28.0.11:6379"
for a in 172.28.0.12:6379 172.28.0.13:6379 172.28.0.21:26379 172.28.0.22:26379 172.28.0.23:26379; do
	grep -q "$a" <<<"$st" || hs_fail "hasentinelctl status does not show $a"
done
grep -q 'link up' <<<"$st" || hs_fail "hasentinelctl status: HAProxy link not up"
hs_log "hasentinelctl status shows the topology"

# Service names resolve on the project's network (aardvark-dns with podman).
getent_out=$(dc exec -T hasentinel getent hosts redis-1 2>&1)
grep -q '^172.28.0.11 ' <<<"$getent_out" || hs_fail "service name redis-1 does not resolve to 172.28.0.11: $getent_out"
hs_log "service-name DNS: redis-1 is 172.28.0.11"

# ------------------------------------------------------------ failover

HS_WRITER_NODE=run_id HS_WRITER_PASSWORD=$RPW \
	"$HS_WRITER" 127.0.0.1 "$WPORT" k "$HS_TMP/writer.txt" 600 5 >"$HS_TMP/writer.out" 2>&1 &
WRITER_PID=$!
hs_wait_until 10 'grep -q "^A " "$HS_TMP/writer.txt"' "the writer's first acknowledged write"

hs_log "stopping the master's container (redis-1)"
STOP_T=$(hs_now_ms)
timeout 60 "${DC[@]}" stop -t 10 redis-1 >/dev/null 2>&1 || hs_fail "docker-compose stop redis-1 failed"
STOPPED_T=$(hs_now_ms)

new_master_via_port() {
	local role id
	read -r role id < <(role_id_via "$WPORT")
	[ "$role" = master ] && { [ "$id" = "$R2" ] || [ "$id" = "$R3" ]; }
}
hs_wait_until "$FAILOVER_DEADLINE_S" new_master_via_port \
	"the write port to reach a new master within $FAILOVER_DEADLINE_S s of redis-1's stop"
SWITCH_T=$(hs_now_ms)
NEW_ID=$(run_id_via "$WPORT")
if [ "$NEW_ID" = "$R2" ]; then NEW_SVC=redis-2 NEW_IP=172.28.0.12; else NEW_SVC=redis-3 NEW_IP=172.28.0.13; fi
hs_log "write port reaches $NEW_SVC $((SWITCH_T - STOPPED_T)) ms after the container stopped"
# The demotion made the agent look for old HAProxy workers through the
# master CLI (-S in the shared volume): it got there.
master_cli_ok() {
	dc exec -T hasentinel hasentinelctl -s /run/hasentinel/hasentinel.sock status --json 2>/dev/null |
		jq -e '.haproxy.master_cli.sweeps >= 1 and .haproxy.master_cli.last_error == ""' >/dev/null
}
hs_wait_until 10 master_cli_ok "the agent to reach HAProxy's master CLI (status: haproxy.master_cli)"
hs_log "the agent reached HAProxy's master CLI"

# ------------------------------------------------------------ the old master returns

hs_log "starting redis-1 again"
RESTART_T=$(hs_now_ms)
timeout 60 "${DC[@]}" start redis-1 >/dev/null 2>&1 || hs_fail "docker-compose start redis-1 failed"
: >"$HS_TMP/write_ready.txt"
returned() {
	write_ready >>"$HS_TMP/write_ready.txt"
	ncli redis-1 ROLE >"$HS_TMP/r1role.txt" || return 1
	[ "$(sed -n 1p "$HS_TMP/r1role.txt")" = slave ] &&
		[ "$(sed -n 2p "$HS_TMP/r1role.txt")" = "$NEW_IP" ] &&
		[ "$(sed -n 4p "$HS_TMP/r1role.txt")" = connected ]
}
hs_wait_until 60 returned "redis-1 to come back as a connected replica of $NEW_SVC"
R1B=$(run_id_of redis-1)
REPLICA_MS=$(($(hs_now_ms) - RESTART_T))
# A few more polls of the write backend once it is back.
for _ in 1 2 3 4 5; do write_ready >>"$HS_TMP/write_ready.txt"; sleep 0.2; done
if grep -q '^172.28.0.11:' "$HS_TMP/write_ready.txt"; then
	hs_fail "the write backend routed to the returned old master 172.28.0.11"
fi
[ "$(sort -u "$HS_TMP/write_ready.txt")" = "$NEW_IP:6379" ] ||
	hs_fail "the write backend had other servers than $NEW_IP:6379: $(sort -u "$HS_TMP/write_ready.txt" | paste -sd' ' -)"
hs_log "redis-1 is a replica of $NEW_SVC after $REPLICA_MS ms; write backend: only $NEW_IP:6379 in $(wc -l <"$HS_TMP/write_ready.txt") polls"

# ------------------------------------------------------------ HAProxy restarts

hs_log "restarting the haproxy container"
HAP_T=$(hs_now_ms)
timeout 60 "${DC[@]}" restart -t 10 haproxy >/dev/null 2>&1 || hs_fail "docker-compose restart haproxy failed"
HAP_DONE_T=$(hs_now_ms)
hs_wait_until 20 '[ "$(run_id_via "$WPORT")" = "$NEW_ID" ] && [ "$(role_via "$WPORT")" = master ]' \
	"the write port to reach $NEW_SVC again after HAProxy's restart"
HAP_BACK_T=$(hs_now_ms)
read_after_restart() {
	local role id
	read -r role id < <(role_id_via "$RPORT")
	[ "$role" = slave ] && [ -n "$id" ] && [ "$id" != "$NEW_ID" ]
}
hs_wait_until 30 read_after_restart "the read port to reach the replicas again"
[ "$(write_ready)" = "$NEW_IP:6379" ] || hs_fail "after HAProxy's restart the write backend is not exactly $NEW_IP:6379"
if [ "${PAGE:-0}" = 1 ]; then
	# The page from the new HAProxy, through the shared volume again.
	hs_wait_until 10 '[[ $(http_get /hasentinel.json) == "HTTP/1."[01]" 200"*"$NEW_IP:6379"* ]]' \
		"/hasentinel.json from the restarted HAProxy to name $NEW_IP"
fi
hs_log "HAProxy restarted; routing back $((HAP_BACK_T - HAP_DONE_T)) ms after the container was up again"

# ------------------------------------------------------------ the writes

sleep 1
kill -TERM "$WRITER_PID"
wait "$WRITER_PID"
WRITER_PID=
# Allowed: redis-1's first run_id until its container stopped, the new
# master's at any time (before its promotion it would have refused writes).
# Anything else (the other replica, redis-1 after its restart, redis-1
# after the stop) is a write acknowledged by a non-master.
awk -v r1="$R1" -v new="$NEW_ID" -v stopped="$STOPPED_T" '
	$1 != "A" { next }
	$3 == r1 && $2 <= stopped { old++; next }
	$3 == new { nw++; next }
	{ bad++; print "non-master ack:", $0 > "/dev/stderr" }
	END { printf "%d %d %d\n", old, nw, bad }' "$HS_TMP/writer.txt" >"$HS_TMP/acks.txt"
read -r ACK_OLD ACK_NEW ACK_BAD <"$HS_TMP/acks.txt"
ACKED=$((ACK_OLD + ACK_NEW + ACK_BAD))
# Write outage around the failover: from the stop to the first ack by the
# new master; and the longest gap between acks around HAProxy's restart.
FIRST_NEW=$(awk -v new="$NEW_ID" '$1 == "A" && $3 == new { print $2; exit }' "$HS_TMP/writer.txt")
LAST_OLD=$(awk -v r1="$R1" '$1 == "A" && $3 == r1 { t = $2 } END { print t }' "$HS_TMP/writer.txt")
HAP_GAP=$(awk -v from="$HAP_T" '$1 == "A" { if (prev && $2 >= from && $2 - prev > gap) gap = $2 - prev; prev = $2 } END { print gap + 0 }' "$HS_TMP/writer.txt")
# Every write the final master acknowledged is on it (EXISTS through the
# write port: the final master).
awk -v new="$NEW_ID" '$1 == "A" && $3 == new { print "EXISTS " $4 }' "$HS_TMP/writer.txt" |
	REDISCLI_AUTH=$RPW timeout 120 redis-cli -h 127.0.0.1 -p "$WPORT" >"$HS_TMP/exists.txt" 2>&1 ||
	hs_fail "EXISTS of the acknowledged keys failed"
MISSING=$(grep -c -x 0 "$HS_TMP/exists.txt")
[ "$(wc -l <"$HS_TMP/exists.txt")" -eq "$ACK_NEW" ] || hs_fail "EXISTS: $(wc -l <"$HS_TMP/exists.txt") answers for $ACK_NEW keys"
LOST=$(awk -v r1="$R1" '$1 == "A" && $3 == r1 { print "EXISTS " $4 }' "$HS_TMP/writer.txt" |
	REDISCLI_AUTH=$RPW timeout 120 redis-cli -h 127.0.0.1 -p "$WPORT" 2>/dev/null | grep -c -x 0)
[ -n "$R1B" ] || hs_fail "cannot read redis-1's run_id after its restart"
! grep -q " $R1B " "$HS_TMP/writer.txt" || hs_fail "writes reached redis-1 after its restart"

echo "COMPOSE failover: stop_ms=$((STOPPED_T - STOP_T)) port_switch_ms_after_stop=$((SWITCH_T - STOPPED_T)) write_outage_ms=$((FIRST_NEW - LAST_OLD)) first_new_ack_ms_after_stop=$((FIRST_NEW - STOPPED_T))"
echo "COMPOSE writes: acked=$ACKED old_master=$ACK_OLD new_master=$ACK_NEW acked_by_non_master=$ACK_BAD missing_on_final_master=$MISSING lost_to_replication=$LOST"
echo "COMPOSE returns: old_master_replica_ms=$REPLICA_MS haproxy_restart_ms=$((HAP_DONE_T - HAP_T)) routing_back_ms=$((HAP_BACK_T - HAP_DONE_T)) haproxy_write_gap_ms=$HAP_GAP"
if [ "$ACK_OLD" -eq 0 ] || [ "$ACK_NEW" -eq 0 ]; then
	hs_fail "writes missing on one side of the failover (old $ACK_OLD, new $ACK_NEW)"
fi
[ "$ACK_BAD" -eq 0 ] || hs_fail "$ACK_BAD writes acknowledged by a non-master"
[ "$MISSING" -eq 0 ] || hs_fail "$MISSING writes acknowledged by the final master are missing on it"

# ------------------------------------------------------------ down -v

hs_log "docker-compose down -v"
t=$(hs_now_ms)
timeout 120 "${DC[@]}" down -v >"$HS_TMP/down.log" 2>&1 || { cat "$HS_TMP/down.log" >&2; hs_fail "docker-compose down -v failed"; }
DOWN_MS=$(($(hs_now_ms) - t))
UP=0
left=$(podman ps -a -q --filter "label=com.docker.compose.project=$P")
[ -z "$left" ] || hs_fail "containers left after down -v: $left"
! podman network exists "${P}_hs" || hs_fail "network ${P}_hs left after down -v"
left=$(podman volume ls -q --filter "label=com.docker.compose.project=$P")
[ -z "$left" ] || hs_fail "volumes left after down -v: $left"
left=$(podman volume ls -q | grep "^${P}_" || true)
[ -z "$left" ] || hs_fail "volumes left after down -v: $left"

echo "COMPOSE timings: base_image_ms=$BASE_MS build_ms=$BUILD_MS up_ms=$UP_MS healthy_ms_after_up=$HEALTHY_MS down_ms=$DOWN_MS total_ms=$(($(hs_now_ms) - T0))"
echo "compose_test: ok" >&2
