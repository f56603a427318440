# shellcheck shell=bash
# Conditions are passed as single-quoted strings and eval'd later (SC2016);
# variables set here are read by the tests that source this file (SC2034).
# shellcheck disable=SC2016,SC2034
# Helpers for the integration tests (and for `./run demo`): start real
# redis-server, redis-sentinel, haproxy and hasentinel on 127.0.0.1 (or
# HS_IP, e.g. ::1), wait
# with deadlines, assert on HAProxy's real state.
#
# A test does:
#     . "$(dirname "$0")/lib.sh"
#     hs_setup                    # temp dir, traps, checks the binaries
#     hs_start_lab                # r0 master, r1 r2 replicas, s0 s1 s2 sentinels
#     hs_start_haproxy
#     hs_start_agent
#     hs_wait_until 5 '[ "$(hs_ready_servers "$HS_WRITE_BACKEND")" = "$(hs_sentinel_master)" ]' \
#         'the write backend to route to the master'
#
# Every process is started in the background by the test's own shell,
# recorded by name (HS_PID[name]) and stopped by pid at exit. Ports are free
# ports picked at random; a process restarted under the same name gets its
# old port back. Nothing here prints to stdout except the query helpers, so
# their output can be compared directly.
#
# Functions
#   hs_setup                          temp dir HS_TMP, traps, required binaries
#   hs_cleanup                        (trap) stop everything, show logs on failure
#   hs_log MSG...                     progress line on stderr
#   hs_fail MSG...                    "FAIL: MSG" on stderr, exit 1
#   hs_skip MSG...                    "SKIP: MSG" on stderr, exit 77
#   hs_require_bin BIN...             exit 77 naming the first missing binary
#   hs_free_port                      print a free TCP port on 127.0.0.1
#   hs_wait_until SECONDS CMD [WHAT]  run CMD (eval'd in this shell) every 50 ms
#                                     until it succeeds; hs_fail after SECONDS
#   hs_start_redis NAME [replicaof PORT]
#   hs_start_sentinel NAME MASTER_PORT
#   hs_start_lab                      r0 + replicas r1 r2 + sentinels s0 s1 s2, settled
#   hs_wait_lab_settled               replicas linked, every sentinel sees 2+2
#   hs_start_haproxy                  haproxy -W with haproxy/haproxy.cfg
#   hs_reload_haproxy                 save the server state, USR2, wait for the new worker
#   hs_start_agent [CONFIG_LINE...]   hasentinel with a generated config (+ extra lines)
#   hs_stop PID                       TERM, KILL after 5 s, reap; status in HS_LAST_STATUS
#   hs_kill9 NAME                     SIGKILL the process started as NAME, reap
#   hs_pid NAME / hs_port NAME        print the pid / port of NAME
#   hs_register NAME PID              record a process started by the test (stopped at exit)
#   hs_alive PID                      running and not a zombie
#   hs_now_ms                         wall clock in ms (EPOCHREALTIME)
#   hs_name_of_port PORT              print the NAME listening on PORT
#   hs_hap CMD...                     one runtime API command on the admin socket
#   hs_ready_servers BACKEND          "ip:port" of slots whose admin state is ready, sorted
#   hs_last_change BACKEND IP:PORT    srv_time_since_last_change of that slot
#   hs_cli PORT ARGS...               redis-cli -h $HS_IP -p PORT ARGS (3 s deadline)
#   hs_role_via PORT                  first line of ROLE through PORT (redis or haproxy)
#   hs_redis_port_of_role ROLE        ports of the lab's live redis-servers with that role
#   hs_sentinel_master [MASTER]       "ip:port" per the first sentinel that answers
#   hs_replica_addrs                  "$HS_IP:port" of the live replicas (ROLE slave), sorted
#   hs_hostport PORT                  "$HS_IP:PORT", "[$HS_IP]:PORT" for IPv6 (agent config)
#   hs_wait_applied SECONDS           until write = Sentinel's master and read = the replicas
#   hs_agent_status                   `hasentinelctl status --json`
#   hs_agent_names_master IP:PORT     the status JSON names that master for HS_MASTER
#   hs_agent_confirmed_master IP:PORT ... with role_confirmed true
#
# Variables (set by the functions above; read them, don't set them, except
# where noted)
#   HS_IP                the address every server listens on and is
#                        monitored at: 127.0.0.1 unless set before sourcing
#                        this file (::1 runs the lab on IPv6). Addresses in
#                        "ip:port" form (hs_sentinel_master, hs_ready_servers)
#                        are then "::1:port", without brackets
#   HS_TMP               the temp dir (./run demo sets it to .lab)
#   HS_PID[NAME]         pid of each process still running
#   HS_PORT[NAME]        port of each redis / sentinel (may be preset for fixed ports)
#   HS_REDIS_NAMES, HS_SENTINEL_NAMES   arrays of the names started so far
#   HS_MASTER            Sentinel's master name (mymaster)
#   HS_WRITE_BACKEND, HS_READ_BACKEND   ${HS_MASTER}_write, ${HS_MASTER}_read
#   HS_WRITE_PORT HS_READ_PORT HS_STATS_PORT HS_ADMIN_SOCKET HS_STATE_FILE
#                        exported for haproxy.cfg (may be preset)
#   HS_STATUS_SOCKET     the agent's status socket (HAProxy's HS_AGENT_SOCKET)
#   HS_LUA               haproxy/hasentinel.lua of this tree (may be preset)
#   HS_HOLD_MS           the hold limit given to haproxy.cfg (may be preset;
#                        haproxy.cfg's default otherwise)
#   HASENTINEL, HASENTINELCTL   the binaries (from `make check`, or the build dir)
#   HS_KEEP=1            keep the temp dir and print where it is
#   HS_AGENT_WRAPPER     a command prefix for the agent (valgrind), with
#   HS_AGENT_START_S     seconds the agent may take to answer (default 5)
#   HS_AGENT_CONF        extra lines for every agent's config, e.g.
#                        "write-lease yes" to run a test with the lease on
#                        (before hs_start_agent's own lines, which win)
#   HS_REDIS_PASSWORD    when set: requirepass/masterauth on every redis, and
#                        requirepass/auth-pass on every sentinel (config files
#                        only; hs_cli passes it through REDISCLI_AUTH)
#   HS_ACL=1             (needs HS_REDIS_PASSWORD, then the default user's
#                        password) the agent's own least-privilege ACL users:
#                        HS_AGENT_USER with HS_ACL_REDIS_RULES in every
#                        redis's ACL file (aclfile), with HS_ACL_SENTINEL_RULES
#                        in every sentinel's config; hs_start_agent adds
#                        sentinel-user/redis-user and the password file
#                        (HS_AGENT_PASSWORD, random) to the agent's config
#
# Needs bash >= 5 (EPOCHREALTIME), coreutils `timeout`, socat, redis-cli, ss
# (iproute2; /dev/tcp is the fallback) and jq (status JSON).

LC_ALL=C
export LC_ALL

HS_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
HS_SRCDIR=${top_srcdir:-$(cd "$HS_LIB_DIR/../.." && pwd)}
HS_HAPROXY_CFG=${HS_HAPROXY_CFG:-$HS_SRCDIR/haproxy/haproxy.cfg}
# The binaries: make check passes them; by hand, the in-tree build or
# ./run's build/ is used.
if [ -z "${HASENTINEL:-}" ]; then
	HS_BUILDDIR=${top_builddir:-$HS_SRCDIR}
	if [ -z "${top_builddir:-}" ] && [ ! -x "$HS_BUILDDIR/agent/hasentinel" ] &&
		[ -x "$HS_SRCDIR/build/agent/hasentinel" ]; then
		HS_BUILDDIR=$HS_SRCDIR/build
	fi
	HASENTINEL=$HS_BUILDDIR/agent/hasentinel
	HASENTINELCTL=${HASENTINELCTL:-$HS_BUILDDIR/agent/hasentinelctl}
fi
HASENTINELCTL=${HASENTINELCTL:-$(dirname "$HASENTINEL")/hasentinelctl}

HS_MASTER=${HS_MASTER:-mymaster}
HS_IP=${HS_IP:-127.0.0.1}
export HS_MASTER
HS_WRITE_BACKEND=${HS_MASTER}_write
HS_READ_BACKEND=${HS_MASTER}_read

# The agent's least-privilege ACL users, exactly as README.md ("ACL users")
# and hasentinel.conf(5) document them (t10_acl_users checks they match).
# Sentinel: INFO, the SENTINEL subcommands of a resync round, PSUBSCRIBE *.
HS_ACL_SENTINEL_RULES='resetchannels &* -@all +info +sentinel|masters +sentinel|master +sentinel|get-master-addr-by-name +sentinel|replicas +sentinel|sentinels +psubscribe'
# Redis: ROLE, and PING (sent to replicas with ROLE: -LOADING).
HS_ACL_REDIS_RULES='resetchannels -@all +role +ping'
HS_ACL=${HS_ACL:-0}
HS_AGENT_USER=${HS_AGENT_USER:-hasentinel}
HS_AGENT_PASSWORD=${HS_AGENT_PASSWORD:-}

# Sentinel timings shortened for tests (STYLE.md, Tests).
HS_DOWN_AFTER_MS=1000
HS_FAILOVER_TIMEOUT_MS=10000
HS_RESYNC_MS=1000

declare -gA HS_PID=()
declare -gA HS_PORT=()
# Hostnames (t14): extra redis-server arguments per NAME (words), the
# address Sentinels monitor the master at, and Sentinel's resolve-hostnames
# + announce-hostnames (yes|no).
declare -gA HS_REDIS_EXTRA=()
HS_MONITOR_HOST=${HS_MONITOR_HOST:-}
HS_SENTINEL_HOSTNAMES=${HS_SENTINEL_HOSTNAMES:-no}
HS_NAMES=()            # start order, for stopping in reverse
HS_REDIS_NAMES=()
HS_SENTINEL_NAMES=()
HS_TMP=${HS_TMP:-}
HS_LAST_STATUS=
HS_DETACH=${HS_DETACH:-0}   # 1: start daemons in their own session (./run demo)

# ------------------------------------------------------------ basics

hs_log() {
	printf '%s %s\n' "$(date +%H:%M:%S.%3N)" "$*" >&2
}

hs_fail() {
	printf 'FAIL: %s\n' "$*" >&2
	exit 1
}

hs_skip() {
	printf 'SKIP: %s\n' "$*" >&2
	exit 77
}

hs_require_bin() {
	local b
	for b in "$@"; do
		if [[ $b == */* ]]; then
			[ -x "$b" ] || hs_skip "$b not found (build it first: make)"
		else
			command -v "$b" >/dev/null 2>&1 || hs_skip "$b not installed"
		fi
	done
}

# Milliseconds, monotonic enough for deadlines of a few seconds.
hs_now_ms() {
	local t=${EPOCHREALTIME/[.,]/}
	echo $((t / 1000))
}

# "1.5" -> 1500
_hs_ms_of() {
	local s=$1 i f
	i=${s%%.*}
	if [[ $s == *.* ]]; then f=${s#*.}000; f=${f:0:3}; else f=000; fi
	echo $((10#${i:-0} * 1000 + 10#$f))
}

hs_setup() {
	hs_require_bin redis-server redis-sentinel redis-cli haproxy socat timeout jq
	HS_TMP=$(mktemp -d "${TMPDIR:-/tmp}/hs.XXXXXX") || hs_fail "mktemp -d failed"
	: >"$HS_TMP/ports"
	trap hs_cleanup EXIT
	# A trapped INT/TERM would otherwise resume the script after the handler:
	# exit instead, which runs hs_cleanup through the EXIT trap.
	trap 'exit 130' INT
	trap 'exit 143' TERM
	# The test's ports and paths are its own, never the caller's.
	unset HS_BIND HS_STATS_BIND HS_WRITE_PORT HS_READ_PORT HS_STATS_PORT \
		HS_ADMIN_SOCKET HS_STATE_FILE HS_MAXCONN HS_STATUS_SOCKET \
		HS_LUA HS_HOLD_MS HS_AGENT_SOCKET
	hs_log "temp dir $HS_TMP"
}

# Stop every recorded process (TERM, KILL after 5 s); on failure show the
# tail of each log; remove the temp dir unless HS_KEEP=1.
hs_cleanup() {
	local rc=$? n pid f left deadline
	trap - EXIT INT TERM
	set +e
	for pid in "${HS_PID[@]}"; do
		kill -TERM "$pid" 2>/dev/null
		kill -CONT "$pid" 2>/dev/null   # a test may have stopped it
	done
	deadline=$(($(hs_now_ms) + 5000))
	while :; do
		left=0
		for pid in "${HS_PID[@]}"; do
			hs_alive "$pid" && left=1
		done
		((left == 0)) && break
		if (($(hs_now_ms) >= deadline)); then
			for n in "${!HS_PID[@]}"; do
				hs_alive "${HS_PID[$n]}" || continue
				hs_log "$n (pid ${HS_PID[$n]}) ignored SIGTERM for 5 s: SIGKILL"
				kill -KILL "${HS_PID[$n]}" 2>/dev/null
			done
			break
		fi
		sleep 0.05
	done
	for pid in "${HS_PID[@]}"; do
		{ wait "$pid"; } 2>/dev/null
	done
	HS_PID=()
	# A sanitizer report from our own binaries fails the test even when every
	# assertion passed (the agent only reports leaks when it exits).
	if [ "$rc" -eq 0 ] && [ -n "$HS_TMP" ] && [ -f "$HS_TMP/agent.log" ] &&
		grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$HS_TMP/agent.log"; then
		echo "FAIL: sanitizer report in agent.log" >&2
		rc=1
	fi
	if [ "$rc" -ne 0 ] && [ "$rc" -ne 77 ] && [ -n "$HS_TMP" ]; then
		for f in "$HS_TMP"/*.log; do
			[ -f "$f" ] || continue
			printf '\n----- %s (last 40 lines)\n' "${f##*/}" >&2
			tail -n 40 "$f" >&2
		done
	fi
	if [ -n "$HS_TMP" ]; then
		if [ "${HS_KEEP:-0}" = 1 ]; then
			echo "kept $HS_TMP" >&2
		else
			rm -rf "$HS_TMP"
		fi
	fi
	exit "$rc"
}

# Alive and not a zombie (kill -0 succeeds on an unreaped child).
hs_alive() {
	local st
	kill -0 "$1" 2>/dev/null || return 1
	st=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
	[[ $st != Z* ]]
}

hs_register() {
	HS_PID[$1]=$2
	HS_NAMES+=("$1")
	[ "$HS_TMP" = "" ] || echo "$1 $2" >>"$HS_TMP/pids"
}

_hs_forget_pid() {
	local n
	for n in "${!HS_PID[@]}"; do
		[ "${HS_PID[$n]}" = "$1" ] && unset "HS_PID[$n]"
	done
	return 0
}

# Run "$@" in the background with stdin closed, output appended to LOG;
# sets HS_BG_PID. With HS_DETACH=1 the process gets its own session
# (setsid execs in place, so the pid stays the daemon's).
# LeakSanitizer stays on for the unit tests (make runs them directly); for
# the processes a test starts it is off: at the daemon's exit its
# stop-the-world tracer waited forever for the agent's thread to stop (seen
# in 1 of 4 runs of t06 under ASan, the agent killed after 5 s). The
# daemon's leaks are checked by tests/valgrind.sh instead.
case ${ASAN_OPTIONS:-} in
*detect_leaks=0) ;;
*) export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" ;;
esac

_hs_spawn() {
	local log=$1
	shift
	if [ "$HS_DETACH" = 1 ]; then
		setsid "$@" </dev/null >>"$log" 2>&1 &
	else
		"$@" </dev/null >>"$log" 2>&1 &
	fi
	HS_BG_PID=$!
}

hs_pid() {
	[ -n "${HS_PID[$1]:-}" ] || return 1
	echo "${HS_PID[$1]}"
}

hs_port() {
	[ -n "${HS_PORT[$1]:-}" ] || return 1
	echo "${HS_PORT[$1]}"
}

hs_name_of_port() {
	local n
	for n in "${!HS_PORT[@]}"; do
		[ "${HS_PORT[$n]}" = "$1" ] && { echo "$n"; return 0; }
	done
	return 1
}

# TERM, then KILL after 5 s; reaps the process when it is our child and
# leaves its exit status in HS_LAST_STATUS (143 = killed by SIGTERM, as the
# shell reports it).
hs_stop() {
	local pid=$1 deadline
	HS_LAST_STATUS=
	kill -TERM "$pid" 2>/dev/null || { _hs_forget_pid "$pid"; return 0; }
	kill -CONT "$pid" 2>/dev/null || true
	deadline=$(($(hs_now_ms) + 5000))
	while hs_alive "$pid"; do
		if (($(hs_now_ms) >= deadline)); then
			hs_log "pid $pid ignored SIGTERM for 5 s: SIGKILL"
			kill -KILL "$pid" 2>/dev/null || true
			break
		fi
		sleep 0.05
	done
	if { wait "$pid"; } 2>/dev/null; then HS_LAST_STATUS=0; else HS_LAST_STATUS=$?; fi
	_hs_forget_pid "$pid"
	return 0
}

hs_kill9() {
	local pid=${HS_PID[$1]:-}
	[ -n "$pid" ] || hs_fail "hs_kill9: no running process named $1"
	kill -KILL "$pid" 2>/dev/null || true
	{ wait "$pid"; } 2>/dev/null || true
	_hs_forget_pid "$pid"
	return 0
}

# ------------------------------------------------------------ waiting

# hs_wait_until SECONDS 'CMD' [WHAT]: CMD is eval'd in the caller's shell
# (so it may set variables), output discarded, every 50 ms until it
# succeeds. After SECONDS: hs_fail "timed out after SECONDS s waiting for WHAT".
hs_wait_until() {
	local secs=$1 cond=$2 what=${3:-$2} deadline
	deadline=$(($(hs_now_ms) + $(_hs_ms_of "$secs")))
	while :; do
		if eval "$cond" >/dev/null 2>&1; then
			return 0
		fi
		if (($(hs_now_ms) >= deadline)); then
			hs_fail "timed out after ${secs}s waiting for: $what"
		fi
		sleep 0.05
	done
}

# Like hs_wait_until, but also fails at once when process NAME has exited.
_hs_wait_started() {
	local name=$1 secs=$2 cond=$3 deadline
	deadline=$(($(hs_now_ms) + $(_hs_ms_of "$secs")))
	while :; do
		if eval "$cond" >/dev/null 2>&1; then
			return 0
		fi
		hs_alive "${HS_PID[$name]}" ||
			hs_fail "$name exited during start-up (see $name.log)"
		(($(hs_now_ms) < deadline)) ||
			hs_fail "$name not ready after ${secs}s (see $name.log)"
		sleep 0.05
	done
}

# ------------------------------------------------------------ ports

# A port nobody uses on 127.0.0.1 and not handed out before in this test
# (remembered in a file, so command substitutions see it too). Below the
# kernel's ephemeral range, so outgoing connections do not take it meanwhile.
hs_free_port() {
	local p i
	for ((i = 0; i < 200; i++)); do
		p=$((15000 + RANDOM % 17000))
		if [ -n "$HS_TMP" ] && grep -qx "$p" "$HS_TMP/ports" 2>/dev/null; then
			continue
		fi
		_hs_port_in_use "$p" && continue
		[ -z "$HS_TMP" ] || echo "$p" >>"$HS_TMP/ports"
		echo "$p"
		return 0
	done
	hs_fail "no free port found"
}

# Any TCP socket (listening, connected, TIME_WAIT) on that local port.
_hs_port_in_use() {
	if command -v ss >/dev/null 2>&1; then
		[ -n "$(ss -Htan "( sport = :$1 )" 2>/dev/null)" ]
	else
		_hs_port_listening "$1"
	fi
}

# ------------------------------------------------------------ redis

hs_cli() {
	local port=$1
	shift
	# REDISCLI_AUTH keeps the password out of redis-cli's argv.
	if [ -n "${HS_REDIS_PASSWORD:-}" ]; then
		REDISCLI_AUTH=$HS_REDIS_PASSWORD timeout 3 redis-cli -h "$HS_IP" -p "$port" "$@" 2>/dev/null
	else
		timeout 3 redis-cli -h "$HS_IP" -p "$port" "$@" 2>/dev/null
	fi
}

# hs_start_redis NAME [replicaof PORT]. A NAME started before gets its port
# and data dir back (a restart).
hs_start_redis() {
	local name=$1 port dir
	shift
	local args=()
	if [ $# -gt 0 ]; then
		if [ "$1" != replicaof ] || [ -z "${2:-}" ]; then
			hs_fail "hs_start_redis: usage: NAME [replicaof PORT]"
		fi
		args=(--replicaof "$HS_IP" "$2")
	fi
	port=${HS_PORT[$name]:-$(hs_free_port)}
	HS_PORT[$name]=$port
	dir=$HS_TMP/$name
	mkdir -p "$dir"
	# With HS_REDIS_PASSWORD the password goes into a config file, never
	# into argv.
	: >"$dir/redis.conf"
	if [ "$HS_ACL" = 1 ]; then
		# Users from an ACL file: the default user (the tests, replication,
		# the Sentinels) and the agent's.
		_hs_acl_init
		printf 'aclfile "%s"\nmasterauth "%s"\n' "$dir/users.acl" "$HS_REDIS_PASSWORD" >"$dir/redis.conf"
		printf 'user default on >%s ~* &* +@all\nuser %s on >%s %s\n' "$HS_REDIS_PASSWORD" \
			"$HS_AGENT_USER" "$HS_AGENT_PASSWORD" "$HS_ACL_REDIS_RULES" >"$dir/users.acl"
	elif [ -n "${HS_REDIS_PASSWORD:-}" ]; then
		printf 'requirepass "%s"\nmasterauth "%s"\n' "$HS_REDIS_PASSWORD" "$HS_REDIS_PASSWORD" >"$dir/redis.conf"
	fi
	# HS_REDIS_EXTRA[name] is a list of words:
	# shellcheck disable=SC2086
	_hs_spawn "$HS_TMP/$name.log" redis-server "$dir/redis.conf" --port "$port" --bind "$HS_IP" \
		--save "" --appendonly no --repl-diskless-sync-delay 0 --dir "$dir" --daemonize no "${args[@]}" \
		${HS_REDIS_EXTRA[$name]:-}
	hs_register "$name" "$HS_BG_PID"
	[[ " ${HS_REDIS_NAMES[*]} " == *" $name "* ]] || HS_REDIS_NAMES+=("$name")
	_hs_wait_started "$name" 5 '[ "$(hs_cli "$port" PING)" = PONG ]'
}

# hs_start_sentinel NAME MASTER_PORT. The config is written into the temp
# dir (Sentinel rewrites it); a restart keeps the rewritten one.
hs_start_sentinel() {
	local name=$1 mport=$2 port dir conf
	port=${HS_PORT[$name]:-$(hs_free_port)}
	HS_PORT[$name]=$port
	dir=$HS_TMP/$name
	conf=$dir/sentinel.conf
	mkdir -p "$dir"
	if [ ! -f "$conf" ]; then
		cat >"$conf" <<-EOF
			port $port
			bind $HS_IP
			daemonize no
			logfile ""
			dir $dir
			sentinel resolve-hostnames $HS_SENTINEL_HOSTNAMES
			sentinel announce-hostnames $HS_SENTINEL_HOSTNAMES
			sentinel monitor $HS_MASTER ${HS_MONITOR_HOST:-$HS_IP} $mport 2
			sentinel down-after-milliseconds $HS_MASTER $HS_DOWN_AFTER_MS
			sentinel failover-timeout $HS_MASTER $HS_FAILOVER_TIMEOUT_MS
			sentinel parallel-syncs $HS_MASTER 1
		EOF
		if [ -n "${HS_REDIS_PASSWORD:-}" ]; then
			printf 'requirepass "%s"\nsentinel auth-pass %s "%s"\n' "$HS_REDIS_PASSWORD" \
				"$HS_MASTER" "$HS_REDIS_PASSWORD" >>"$conf"
		fi
		if [ "$HS_ACL" = 1 ]; then
			_hs_acl_init
			printf 'user %s on >%s %s\n' "$HS_AGENT_USER" "$HS_AGENT_PASSWORD" \
				"$HS_ACL_SENTINEL_RULES" >>"$conf"
		fi
	fi
	_hs_spawn "$HS_TMP/$name.log" redis-sentinel "$conf"
	hs_register "$name" "$HS_BG_PID"
	[[ " ${HS_SENTINEL_NAMES[*]} " == *" $name "* ]] || HS_SENTINEL_NAMES+=("$name")
	_hs_wait_started "$name" 5 '[ "$(hs_cli "$port" PING)" = PONG ]'
}

# One field of SENTINEL MASTER (a flat name/value list).
_hs_sentinel_field() {
	hs_cli "$1" SENTINEL MASTER "$HS_MASTER" | awk -v k="$2" 'f { print; exit } $0 == k { f = 1 }'
}

_hs_lab_settled() {
	local n p
	for n in "${HS_REDIS_NAMES[@]}"; do
		[ -n "${HS_PID[$n]:-}" ] || continue
		[ "$(hs_role_via "${HS_PORT[$n]}")" = master ] && continue
		hs_cli "${HS_PORT[$n]}" INFO replication | grep -q '^master_link_status:up' || return 1
	done
	for n in "${HS_SENTINEL_NAMES[@]}"; do
		p=${HS_PORT[$n]}
		[ "$(_hs_sentinel_field "$p" num-other-sentinels)" = $((${#HS_SENTINEL_NAMES[@]} - 1)) ] || return 1
		[ "$(_hs_sentinel_field "$p" num-slaves)" = $((${#HS_REDIS_NAMES[@]} - 1)) ] || return 1
	done
}

# Replicas linked to their master, and every sentinel knows every other
# sentinel and every replica (so a failover can start at once).
hs_wait_lab_settled() {
	hs_wait_until 20 _hs_lab_settled 'replicas linked and sentinels knowing each other and the replicas'
}

# r0 master, r1 r2 its replicas, then sentinels s0 s1 s2 (started once the
# replicas are linked, so the master's first INFO already lists them).
hs_start_lab() {
	hs_log "starting r0 r1 r2"
	hs_start_redis r0
	hs_start_redis r1 replicaof "${HS_PORT[r0]}"
	hs_start_redis r2 replicaof "${HS_PORT[r0]}"
	hs_wait_until 10 _hs_lab_settled 'replicas r1 r2 linked to r0'
	hs_log "starting s0 s1 s2"
	hs_start_sentinel s0 "${HS_PORT[r0]}"
	hs_start_sentinel s1 "${HS_PORT[r0]}"
	hs_start_sentinel s2 "${HS_PORT[r0]}"
	hs_wait_lab_settled
	hs_log "lab settled: master r0 on ${HS_PORT[r0]}"
}

hs_role_via() {
	hs_cli "$1" ROLE | head -n 1
}

hs_redis_port_of_role() {
	local n
	for n in "${HS_REDIS_NAMES[@]}"; do
		[ -n "${HS_PID[$n]:-}" ] || continue
		[ "$(hs_role_via "${HS_PORT[$n]}")" = "$1" ] && echo "${HS_PORT[$n]}"
	done
	return 0
}

hs_sentinel_master() {
	local m=${1:-$HS_MASTER} n out
	for n in "${HS_SENTINEL_NAMES[@]}"; do
		[ -n "${HS_PID[$n]:-}" ] || continue
		out=$(hs_cli "${HS_PORT[$n]}" SENTINEL GET-MASTER-ADDR-BY-NAME "$m" | paste -sd:) || continue
		[[ $out == *:* ]] || continue
		echo "$out"
		return 0
	done
	return 1
}

# ------------------------------------------------------------ haproxy

# haproxy -W (master-worker) in the foreground of its own background job, so
# HS_PID[haproxy] is the master. Ports and paths come from the HS_* variables
# (preset ones are kept: a restart reuses them).
hs_start_haproxy() {
	HS_BIND=${HS_BIND:-$HS_IP}
	HS_WRITE_PORT=${HS_WRITE_PORT:-$(hs_free_port)}
	HS_READ_PORT=${HS_READ_PORT:-$(hs_free_port)}
	HS_STATS_PORT=${HS_STATS_PORT:-$(hs_free_port)}
	HS_ADMIN_SOCKET=${HS_ADMIN_SOCKET:-$HS_TMP/haproxy.sock}
	HS_STATE_FILE=${HS_STATE_FILE:-$HS_TMP/haproxy.state}
	# The master CLI (-S), as Debian's haproxy.service has it: the agent
	# reaches old workers through it after a reload.
	HS_MASTER_SOCKET=${HS_MASTER_SOCKET:-$HS_TMP/haproxy-master.sock}
	# The hold and the agent's page: this tree's Lua file, and the status
	# socket the agent will use (hs_start_agent).
	HS_LUA=${HS_LUA:-$HS_SRCDIR/haproxy/hasentinel.lua}
	HS_STATUS_SOCKET=${HS_STATUS_SOCKET:-$HS_TMP/hasentinel.sock}
	HS_AGENT_SOCKET=$HS_STATUS_SOCKET
	export HS_BIND HS_WRITE_PORT HS_READ_PORT HS_STATS_PORT HS_ADMIN_SOCKET HS_STATE_FILE \
		HS_LUA HS_AGENT_SOCKET
	[ -z "${HS_HOLD_MS:-}" ] || export HS_HOLD_MS
	haproxy -c -q -f "$HS_HAPROXY_CFG" >>"$HS_TMP/haproxy.log" 2>&1 ||
		hs_fail "haproxy -c rejects $HS_HAPROXY_CFG (see haproxy.log)"
	_hs_spawn "$HS_TMP/haproxy.log" haproxy -W -db -f "$HS_HAPROXY_CFG" -p "$HS_TMP/haproxy.pid" \
		-S "$HS_MASTER_SOCKET"
	hs_register haproxy "$HS_BG_PID"
	_hs_wait_started haproxy 5 \
		'hs_hap show info | grep -q "^Pid:" && _hs_port_listening "$HS_WRITE_PORT" && _hs_port_listening "$HS_READ_PORT" && _hs_port_listening "$HS_STATS_PORT"'
}

_hs_port_listening() {
	(exec 3<>"/dev/tcp/$HS_IP/$1") 2>/dev/null
}

_hs_hap_worker_pid() {
	hs_hap show info | awk '$1 == "Pid:" { print $2 }'
}

# Save the slots' state (HS_STATE_FILE, read back by the new process), send
# SIGUSR2 to the master, wait until a new worker answers the admin socket.
hs_reload_haproxy() {
	local old p
	old=$(_hs_hap_worker_pid)
	[ -n "$old" ] || hs_fail "hs_reload_haproxy: haproxy does not answer on $HS_ADMIN_SOCKET"
	if ! hs_hap show servers state >"$HS_STATE_FILE.tmp" || ! mv "$HS_STATE_FILE.tmp" "$HS_STATE_FILE"; then
		hs_fail "hs_reload_haproxy: could not save the server state"
	fi
	kill -USR2 "${HS_PID[haproxy]}" || hs_fail "hs_reload_haproxy: haproxy master is gone"
	_hs_wait_started haproxy 10 'p=$(_hs_hap_worker_pid) && [ -n "$p" ] && [ "$p" != "$old" ]'
}

hs_hap() {
	# -T: give up after 5 s without traffic (HAProxy closes once it answered).
	printf '%s\n' "$*" | socat -T 5 - "UNIX-CONNECT:$HS_ADMIN_SOCKET" 2>/dev/null
}

# Slots of BACKEND whose admin state is ready: none of FMAINT|IMAINT|RMAINT
# (0x23) nor FDRAIN|IDRAIN (0x18). CMAINT (0x04) alone is ready: a
# `disabled` slot keeps that bit after `set server ... state ready`.
# Servers on a unix socket (address "-", port 0) are not slots.
hs_ready_servers() {
	local out f
	out=$(hs_hap show servers state "$1") && [[ $out == *"# be_id"* ]] || return 1
	while read -ra f; do
		[ "${#f[@]}" -ge 19 ] || continue
		[ "${f[1]}" = "$1" ] || continue
		[[ ${f[6]} =~ ^[0-9]+$ ]] || continue
		# the write backend's backups (the hold's loop) are not slots
		[ "${f[4]}:${f[18]}" != -:0 ] || continue
		if (((f[6] & 0x23) == 0 && (f[6] & 0x18) == 0)); then
			echo "${f[4]}:${f[18]}"
		fi
	done <<<"$out" | sort
}

hs_last_change() {
	local f
	hs_hap show servers state "$1" | while read -ra f; do
		[ "${#f[@]}" -ge 19 ] || continue
		[ "${f[1]}" = "$1" ] || continue
		if [ "${f[4]}:${f[18]}" = "$2" ]; then
			echo "${f[9]}"
			break
		fi
	done
}

hs_replica_addrs() {
	local p
	for p in $(hs_redis_port_of_role slave); do
		echo "$HS_IP:$p"
	done | sort
}

_hs_applied() {
	local m
	m=$(hs_sentinel_master "$HS_MASTER") || return 1
	[ "$(hs_ready_servers "$HS_WRITE_BACKEND")" = "$m" ] || return 1
	[ "$(hs_ready_servers "$HS_READ_BACKEND")" = "$(hs_replica_addrs)" ]
}

# HAProxy shows what the agent should make of the lab: exactly Sentinel's
# master ready for writes, exactly the live replicas ready for reads.
hs_wait_applied() {
	hs_wait_until "$1" _hs_applied \
		"$HS_WRITE_BACKEND = exactly Sentinel's master and $HS_READ_BACKEND = exactly the replicas"
}

# ------------------------------------------------------------ agent

# Write $HS_TMP/hasentinel.conf (every sentinel started so far, the admin
# socket, the status socket; extra arguments are appended as config lines)
# and start the agent in the foreground of a background job.
hs_start_agent() {
	local conf=$HS_TMP/hasentinel.conf n line
	hs_require_bin "$HASENTINEL" "$HASENTINELCTL"
	HS_STATUS_SOCKET=${HS_STATUS_SOCKET:-$HS_TMP/hasentinel.sock}
	{
		echo "# written by tests/integration/lib.sh"
		for n in "${HS_SENTINEL_NAMES[@]}"; do
			echo "sentinel $(hs_hostport "${HS_PORT[$n]}")"
		done
		echo "haproxy-socket $HS_ADMIN_SOCKET"
		[ -z "${HS_MASTER_SOCKET:-}" ] || echo "haproxy-master-socket $HS_MASTER_SOCKET"
		echo "status-socket $HS_STATUS_SOCKET"
		echo "resync-interval $HS_RESYNC_MS"
		echo "log-level debug"
		echo "master-reads no"
		if [ "$HS_ACL" = 1 ]; then
			_hs_acl_init
			echo "sentinel-user $HS_AGENT_USER"
			echo "sentinel-password-file $HS_TMP/agent.pw"
			echo "redis-user $HS_AGENT_USER"
			echo "redis-password-file $HS_TMP/agent.pw"
		fi
		# HS_AGENT_CONF first: a test's own lines (later ones win) too.
		[ -z "${HS_AGENT_CONF:-}" ] || printf '%s\n' "$HS_AGENT_CONF"
		for line in "$@"; do
			echo "$line"
		done
	} >"$conf"
	hs_log "agent: $HASENTINEL"
	# HS_AGENT_WRAPPER (e.g. "valgrind --log-file=...") runs the agent
	# under a tool; it execs, so the recorded pid is the agent's.
	# shellcheck disable=SC2086
	_hs_spawn "$HS_TMP/agent.log" ${HS_AGENT_WRAPPER:-} "$HASENTINEL" -c "$conf"
	hs_register agent "$HS_BG_PID"
	_hs_wait_started agent "${HS_AGENT_START_S:-5}" 'hs_agent_status'
}

# HS_ACL=1: a random password for the agent's users, in $HS_TMP/agent.pw.
_hs_acl_init() {
	[ -n "${HS_REDIS_PASSWORD:-}" ] || hs_fail "HS_ACL=1 needs HS_REDIS_PASSWORD (the default user's password)"
	[ -n "$HS_AGENT_PASSWORD" ] || HS_AGENT_PASSWORD=agent-$RANDOM$RANDOM$RANDOM
	if [ ! -f "$HS_TMP/agent.pw" ]; then
		(umask 077 && printf '%s\n' "$HS_AGENT_PASSWORD" >"$HS_TMP/agent.pw")
	fi
}

hs_hostport() {
	if [[ $HS_IP == *:* ]]; then echo "[$HS_IP]:$1"; else echo "$HS_IP:$1"; fi
}

hs_agent_status() {
	timeout 3 "$HASENTINELCTL" -s "$HS_STATUS_SOCKET" status --json
}

# The agent's view of HS_MASTER in its status JSON names IP:PORT as the
# master (.masters[] | {name, master: "ip:port", role_confirmed, ...}).
hs_agent_names_master() {
	hs_agent_status | jq -e --arg name "$HS_MASTER" --arg hp "$1" \
		'any(.masters[]?; .name == $name and .master == $hp)' >/dev/null
}

# ... and has confirmed it (the node itself answered ROLE master).
hs_agent_confirmed_master() {
	hs_agent_status | jq -e --arg name "$HS_MASTER" --arg hp "$1" \
		'any(.masters[]?; .name == $name and .master == $hp and .role_confirmed == true)' >/dev/null
}
