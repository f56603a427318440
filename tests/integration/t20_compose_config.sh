#!/bin/bash
# The compose deployment (compose/) describes the lab's topology from the
# lab's files, without starting a container:
#   - `docker-compose config` accepts compose/compose.yaml;
#   - services: 3 redis, 3 sentinels, haproxy, hasentinel;
#   - haproxy publishes the write, read and stats ports, mounts
#     haproxy/haproxy.cfg read-only, sets every variable haproxy.cfg reads
#     with presetenv, and `haproxy -c` accepts the file with those values;
#   - the agent shares HAProxy's admin-socket volume, and its
#     haproxy-socket is the same socket seen from its side;
#   - passwords are compose secrets, and the agent's *-password-file keys
#     name secrets the agent is given;
#   - compose/hasentinel.conf passes `hasentinel --test-config` (with the
#     secrets mapped to the example files);
#   - the static addresses agree across compose.yaml, redis/sentinel.conf and
#     hasentinel.conf;
#   - Sentinel's quorum and timings, the master name, the replication delay
#     and the resync interval are the lab's (tests/integration/lib.sh).
# Skipped (77) only when docker-compose is not installed.
# Re-run under bash when started as `sh t20_compose_config.sh`.
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
set -u -o pipefail
LC_ALL=C
export LC_ALL

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "${top_srcdir:-$here/../..}" && pwd)
HASENTINEL=${HASENTINEL:-${top_builddir:-$top}/agent/hasentinel}
compose_dir=$top/compose
compose_file=$compose_dir/compose.yaml
agent_conf=$compose_dir/hasentinel.conf
sentinel_conf=$compose_dir/redis/sentinel.conf
redis_conf=$compose_dir/redis/redis.conf
lab_lib=$top/tests/integration/lib.sh
haproxy_cfg=$top/haproxy/haproxy.cfg

. "$here/checklib.sh"
checks_need_compose
CFG=$tmp/config.yaml

# ------------------------------------------------------------ the normalised config

# The defaults of compose.yaml's variables, not the caller's.
unset HS_HOST_WRITE_PORT HS_HOST_READ_PORT HS_HOST_STATS_PORT COMPOSE_FILE

if ! docker-compose -f "$compose_file" config >"$CFG" 2>"$tmp/config.err"; then
	cat "$tmp/config.err" >&2
	echo "FAIL: docker-compose -f compose/compose.yaml config" >&2
	exit 1
fi
pass "docker-compose config accepts compose/compose.yaml"

# docker-compose 1.29 prints the normalised file with two-space indents:
# top-level keys at column 0, services at 2, their keys at 4, values at 6
# (list items of a service key are "    - ...").

# The lines of service $1, keys at four spaces.
svc() {
	awk -v s="$1" '
		/^[^ ]/ { in_svc = ($0 == "services:"); cur = ""; next }
		in_svc && /^  [^ ]/ { cur = substr($0, 3); sub(/:$/, "", cur); next }
		in_svc && cur == s { print }
	' "$CFG"
}

# From a service block on stdin: the lines under key $1, de-indented.
key_lines() {
	awk -v k="$1" '
		/^    [^ -]/ { on = (substr($0, 5) == k ":"); next }
		on { sub(/^ +/, ""); print }
	'
}

# From a service block on stdin: the inline value of key $1 (any depth).
key_value() {
	awk -v k="$1" '
		{ line = $0; sub(/^ +(- )?/, "", line) }
		index(line, k ": ") == 1 { print substr(line, length(k) + 3); exit }
	'
}

# A YAML scalar as docker-compose prints it: 'quoted', "quoted" or plain.
unquote() {
	local v=$1
	if [[ $v == \'*\' ]]; then
		v=${v:1:${#v}-2}
		v=${v//\'\'/\'}
	elif [[ $v == \"*\" ]]; then
		v=${v:1:${#v}-2}
	fi
	printf '%s' "$v"
}

# Lines of top-level section $1 ("secrets", "volumes", ...).
top_section() {
	awk -v s="$1" '
		/^[^ ]/ { on = ($0 == s ":"); next }
		on { print }
	' "$CFG"
}

# A config file's value for a key: first line "KEY VALUE..." (no quotes).
conf_value() {
	awk -v k="$2" '$1 == k { $1 = ""; sub(/^ +/, ""); print; exit }' "$1"
}

# ------------------------------------------------------------ services

services=$(docker-compose -f "$compose_file" config --services 2>/dev/null | sort)
redis_svcs=$(grep -E '^redis-[0-9]+$' <<<"$services" || true)
sentinel_svcs=$(grep -E '^sentinel-[0-9]+$' <<<"$services" || true)
others=$(grep -v -E '^(redis|sentinel)-[0-9]+$' <<<"$services" | paste -sd' ' -)
check "3 redis services ($(paste -sd' ' - <<<"$redis_svcs"))" \
	test "$(grep -c . <<<"$redis_svcs")" -eq 3
check "3 sentinel services ($(paste -sd' ' - <<<"$sentinel_svcs"))" \
	test "$(grep -c . <<<"$sentinel_svcs")" -eq 3
check "haproxy and hasentinel, nothing else (got: $others)" test "$others" = "haproxy hasentinel"

# ------------------------------------------------------------ haproxy

declare -A hap_env=()
while IFS= read -r line; do
	[[ $line == *:* ]] || continue
	hap_env[${line%%:*}]=$(unquote "${line#*: }")
done < <(svc haproxy | key_lines environment)

# Every variable haproxy.cfg reads with presetenv is set by compose.
presets=$(awk '$1 == "presetenv" { print $2 }' "$haproxy_cfg")
[ -n "$presets" ] || fail "no presetenv line found in haproxy/haproxy.cfg"
for v in $presets; do
	check "haproxy's environment sets $v" test -n "${hap_env[$v]+set}"
done

# The three ports, published on the same port numbers.
ports=$(svc haproxy | key_lines ports)
for v in HS_WRITE_PORT HS_READ_PORT HS_STATS_PORT; do
	p=${hap_env[$v]:-}
	check "haproxy publishes $v (${p:-unset})" \
		grep -q -E "^- ([0-9.]+:)?$p:$p(/tcp)?\$" <<<"${p:+$ports}"
done
for p in 6379 6380 3000; do
	check "haproxy publishes port $p" grep -q -E "^- ([0-9.]+:)?$p:$p(/tcp)?\$" <<<"$ports"
done

# haproxy/haproxy.cfg, read-only, where the image reads its configuration.
hap_vols=$(svc haproxy | key_lines volumes | sed 's/^- //')
cfg_mount=$(grep -E ':/usr/local/etc/haproxy/haproxy.cfg(:|$)' <<<"$hap_vols" | head -n 1)
cfg_src=${cfg_mount%%:*}
check "haproxy mounts haproxy/haproxy.cfg (got: ${cfg_mount:-none})" \
	test -n "$cfg_src" -a "$(cd "$(dirname "$cfg_src")" 2>/dev/null && pwd -P)/$(basename "$cfg_src")" \
	= "$(cd "$top/haproxy" && pwd -P)/haproxy.cfg"
check "haproxy.cfg is mounted read-only" grep -q -E ':ro$' <<<"$cfg_mount"

# haproxy/hasentinel.lua, read-only, where HS_LUA says.
lua_mount=$(grep -E ":${hap_env[HS_LUA]:-/nowhere}(:|\$)" <<<"$hap_vols" | head -n 1)
lua_src=${lua_mount%%:*}
check "haproxy mounts haproxy/hasentinel.lua at HS_LUA (got: ${lua_mount:-none})" \
	test -n "$lua_src" -a "$(cd "$(dirname "$lua_src")" 2>/dev/null && pwd -P)/$(basename "$lua_src")" \
	= "$(cd "$top/haproxy" && pwd -P)/hasentinel.lua"

# haproxy -c with the container's variables (HS_LUA: the file it mounts).
hap_env_args=()
for v in "${!hap_env[@]}"; do
	if [ "$v" = HS_LUA ]; then
		hap_env_args+=("HS_LUA=$top/haproxy/hasentinel.lua")
	else
		hap_env_args+=("$v=${hap_env[$v]}")
	fi
done
if command -v haproxy >/dev/null 2>&1; then
	if env "${hap_env_args[@]}" haproxy -c -q -f "$haproxy_cfg" >"$tmp/haproxy.out" 2>&1; then
		pass "haproxy -c accepts haproxy.cfg with compose's environment"
	else
		cat "$tmp/haproxy.out" >&2
		fail "haproxy -c rejects haproxy.cfg with compose's environment"
	fi
else
	fail "haproxy is not installed: cannot check haproxy.cfg (apt-get install haproxy)"
fi

# ------------------------------------------------------------ the shared admin socket

admin_sock=${hap_env[HS_ADMIN_SOCKET]:-}
sock_vol='' sock_rel=''
while IFS= read -r m; do
	name=${m%%:*} rest=${m#*:}
	path=${rest%%:*}
	[[ $name == */* || -z $path ]] && continue          # bind mounts
	if [[ $admin_sock == "$path"/* ]]; then
		sock_vol=$name
		sock_rel=${admin_sock#"$path"/}
	fi
done <<<"$hap_vols"
check "HAProxy's admin socket ($admin_sock) is in a named volume (${sock_vol:-none})" test -n "$sock_vol"
check "volume $sock_vol is declared" grep -q -E "^  $sock_vol:" < <(top_section volumes)

agent_vols=$(svc hasentinel | key_lines volumes | sed 's/^- //')
agent_mount=$(awk -F: -v v="$sock_vol" '$1 == v { print $2; exit }' <<<"$agent_vols")
check "hasentinel mounts volume $sock_vol (at ${agent_mount:-nothing})" test -n "$agent_mount"
agent_sock=$(conf_value "$agent_conf" haproxy-socket)
check "hasentinel.conf's haproxy-socket ($agent_sock) is HAProxy's socket seen from the agent ($agent_mount/$sock_rel)" \
	test "$agent_sock" = "$agent_mount/$sock_rel"

# HAProxy's /hasentinel page reads the agent's status socket: HS_AGENT_SOCKET
# is the agent's status-socket, seen through a volume both mount.
agent_status=$(conf_value "$agent_conf" status-socket)
hap_agent_sock=${hap_env[HS_AGENT_SOCKET]:-}
st_vol='' st_rel=''
while IFS= read -r m; do
	name=${m%%:*} rest=${m#*:}
	path=${rest%%:*}
	[[ $name == */* || -z $path ]] && continue
	if [[ $hap_agent_sock == "$path"/* ]]; then
		st_vol=$name
		st_rel=${hap_agent_sock#"$path"/}
	fi
done <<<"$hap_vols"
check "HS_AGENT_SOCKET ($hap_agent_sock) is in a volume haproxy mounts (${st_vol:-none})" test -n "$st_vol"
st_mount=$(awk -F: -v v="$st_vol" '$1 == v { print $2; exit }' <<<"$agent_vols")
check "HS_AGENT_SOCKET is the agent's status-socket ($agent_status) through volume ${st_vol:-none}" \
	test -n "$st_mount" -a "$agent_status" = "$st_mount/$st_rel"
# The first container to mount a new volume gives it its image's ownership:
# the agent's, for its status socket's directory.
check "haproxy starts after hasentinel (depends_on)" \
	grep -q -x 'hasentinel:' <<<"$(svc haproxy | key_lines depends_on)"
check "hasentinel does not depend on haproxy" \
	test -z "$(svc hasentinel | key_lines depends_on | grep -x 'haproxy:')"

# The agent's configuration is mounted where the image's entry point reads it.
check "hasentinel mounts compose/hasentinel.conf at /etc/hasentinel/hasentinel.conf" \
	grep -q -E "^$compose_dir/hasentinel.conf:/etc/hasentinel/hasentinel.conf(:ro)?\$" <<<"$agent_vols"
check "compose/Dockerfile's entry point reads /etc/hasentinel/hasentinel.conf" \
	grep -q -E '^ENTRYPOINT .*"/etc/hasentinel/hasentinel.conf"' "$compose_dir/Dockerfile"

# The image is built from the repository root with compose/Dockerfile, and
# every path the Dockerfile copies exists there.
check "hasentinel is built from the repository root" \
	test "$(svc hasentinel | key_value context)" = "$top"
check "hasentinel is built with compose/Dockerfile" \
	test "$(svc hasentinel | key_value dockerfile)" = compose/Dockerfile
while read -r src; do
	check "Dockerfile COPY source $src exists" test -e "$top/$src"
done < <(awk '$1 == "COPY" && $2 !~ /^--/ { for (i = 2; i < NF; i++) print $i }' "$compose_dir/Dockerfile")

# Healthcheck: hasentinelctl check on the agent's status socket.
health=$(svc hasentinel | key_lines healthcheck | awk '/^test:/ { on = 1; next } /^[a-z_]+:/ { on = 0 } on' |
	sed 's/^- //' | while IFS= read -r w; do unquote "$w"; printf ' '; done)
status_sock=$(conf_value "$agent_conf" status-socket)
check "hasentinel's healthcheck runs hasentinelctl check (got:$health)" \
	grep -q -E '(^| )hasentinelctl .*check $' <<<"$health"
check "the healthcheck reads the status socket of hasentinel.conf ($status_sock)" \
	grep -q -F -- "-s $status_sock " <<<"$health"

# ------------------------------------------------------------ secrets

declare -A secret_file=()
while read -r name; do
	f=$(top_section secrets | awk -v n="  $name:" '$0 == n { on = 1; next } /^  [^ ]/ { on = 0 } on && $1 == "file:" { print $2; exit }')
	secret_file[$name]=$f
	check "secret $name comes from an existing file (${f:-none})" test -n "$f" -a -f "$f"
done < <(top_section secrets | sed -n 's/^  \([^ ]*\):$/\1/p')
check "secrets are declared" test "${#secret_file[@]}" -gt 0

# Each service's secrets, as "source: NAME" lines.
svc_secrets() {
	svc "$1" | key_lines secrets | sed -n 's/^- source: //p'
}
agent_secrets=$(svc_secrets hasentinel)
for s in $redis_svcs $sentinel_svcs; do
	check "$s gets the redis_password secret" grep -qx redis_password <<<"$(svc_secrets "$s")"
done
for s in $sentinel_svcs; do
	check "$s gets the sentinel_password secret" grep -qx sentinel_password <<<"$(svc_secrets "$s")"
done

# The agent's *-password-file keys name secrets it is given; for
# --test-config they are mapped to the files compose would mount.
test_opts=()
for key in sentinel-password-file redis-password-file; do
	path=$(conf_value "$agent_conf" "$key")
	name=${path#/run/secrets/}
	if [ -z "$path" ] || [ "$name" = "$path" ]; then
		fail "hasentinel.conf: $key should be /run/secrets/NAME (got: ${path:-unset})"
		continue
	fi
	check "hasentinel is given secret $name ($key)" grep -qx "$name" <<<"$agent_secrets"
	if [ -n "${secret_file[$name]:-}" ]; then
		test_opts+=(-o "$key=${secret_file[$name]}")
	else
		fail "$key names secret $name, which compose.yaml does not declare"
	fi
done
check "no password in hasentinel.conf itself" \
	test -z "$(conf_value "$agent_conf" sentinel-password)$(conf_value "$agent_conf" redis-password)"

# ------------------------------------------------------------ hasentinel --test-config

if [ -x "$HASENTINEL" ]; then
	if (
		# Only the file and the -o options: none of the caller's settings.
		for v in $(compgen -e); do
			[[ $v == HASENTINEL_* ]] && unset "$v"
		done
		"$HASENTINEL" --test-config -c "$agent_conf" "${test_opts[@]}"
	) >"$tmp/test-config.out" 2>&1; then
		pass "hasentinel --test-config accepts compose/hasentinel.conf"
	else
		cat "$tmp/test-config.out" >&2
		fail "hasentinel --test-config rejects compose/hasentinel.conf"
	fi
else
	fail "$HASENTINEL is not built: cannot check compose/hasentinel.conf"
fi

# ------------------------------------------------------------ static addresses

ip_of() {
	svc "$1" | key_value ipv4_address
}
env_of() {
	unquote "$(svc "$1" | key_lines environment | key_value "$2")"
}

master_svc=''
for s in $redis_svcs $sentinel_svcs haproxy hasentinel; do
	check "$s has a static address ($(ip_of "$s"))" test -n "$(ip_of "$s")"
done
for s in $redis_svcs $sentinel_svcs; do
	check "$s announces its own address" test "$(env_of "$s" HS_ANNOUNCE_IP)" = "$(ip_of "$s")"
done
for s in $redis_svcs; do
	[ -z "$(env_of "$s" HS_REPLICAOF)" ] && master_svc="$master_svc $s"
done
master_svc=${master_svc# }
check "exactly one redis service starts as master (got: ${master_svc:-none})" \
	test -n "$master_svc" -a "${master_svc// /}" = "$master_svc"

read -r _ _ mon_name mon_ip mon_port mon_quorum < <(grep -E '^sentinel monitor ' "$sentinel_conf")
redis_port=$(conf_value "$redis_conf" port)
check "sentinel.conf monitors $master_svc ($(ip_of "$master_svc"):$redis_port; got $mon_ip:$mon_port)" \
	test "$mon_ip:$mon_port" = "$(ip_of "$master_svc"):$redis_port"
for s in $redis_svcs; do
	[ "$s" = "$master_svc" ] && continue
	check "$s replicates from $master_svc" test "$(env_of "$s" HS_REPLICAOF)" = "$mon_ip $mon_port"
done

sentinel_port=$(conf_value "$sentinel_conf" port)
want=$(for s in $sentinel_svcs; do echo "$(ip_of "$s"):$sentinel_port"; done | sort)
got=$(awk '$1 == "sentinel" { for (i = 2; i <= NF; i++) print $i }' "$agent_conf" | tr ',' '\n' | grep . | sort)
check "hasentinel.conf lists every sentinel service ($(paste -sd' ' - <<<"$want"))" test "$got" = "$want"

# The master name: Sentinel's, haproxy.cfg's backends, the agent's master line.
check "sentinel.conf's master name is HS_MASTER ($mon_name)" test "$mon_name" = "${hap_env[HS_MASTER]:-}"
check "hasentinel.conf: master $mon_name ${mon_name}_write ${mon_name}_read" \
	test "$(conf_value "$agent_conf" master)" = "$mon_name ${mon_name}_write ${mon_name}_read"

# ------------------------------------------------------------ same settings as the lab

# same WHAT LAB COMPOSE
same() {
	if [ -z "$2" ]; then
		fail "$1: cannot read the lab's value from tests/integration/lib.sh"
		return
	fi
	check "$1: compose ${3:-unset} = lab $2" test "$2" = "$3"
}

lab_quorum=$(grep -E '^[[:space:]]*sentinel monitor ' "$lab_lib" | awk '{ print $NF }' | head -n 1)
lab_down=$(sed -n 's/^HS_DOWN_AFTER_MS=\([0-9][0-9]*\)$/\1/p' "$lab_lib")
lab_fo=$(sed -n 's/^HS_FAILOVER_TIMEOUT_MS=\([0-9][0-9]*\)$/\1/p' "$lab_lib")
lab_ps=$(grep -E '^[[:space:]]*sentinel parallel-syncs ' "$lab_lib" | awk '{ print $NF }' | head -n 1)
lab_resync=$(sed -n 's/^HS_RESYNC_MS=\([0-9][0-9]*\)$/\1/p' "$lab_lib")
# shellcheck disable=SC2016 # a literal ${HS_MASTER:-...} in lib.sh
lab_master=$(sed -n 's/^HS_MASTER=\${HS_MASTER:-\([A-Za-z0-9_.-]*\)}$/\1/p' "$lab_lib")
lab_rdsd=$(grep -o -E -- '--repl-diskless-sync-delay [0-9]+' "$lab_lib" | awk '{ print $2 }' | head -n 1)

same "Sentinel quorum" "$lab_quorum" "$mon_quorum"
same "down-after-milliseconds" "$lab_down" "$(awk -v m="$mon_name" '$1 == "sentinel" && $2 == "down-after-milliseconds" && $3 == m { print $4 }' "$sentinel_conf")"
same "failover-timeout" "$lab_fo" "$(awk -v m="$mon_name" '$1 == "sentinel" && $2 == "failover-timeout" && $3 == m { print $4 }' "$sentinel_conf")"
same "parallel-syncs" "$lab_ps" "$(awk -v m="$mon_name" '$1 == "sentinel" && $2 == "parallel-syncs" && $3 == m { print $4 }' "$sentinel_conf")"
same "master name" "$lab_master" "$mon_name"
same "repl-diskless-sync-delay" "$lab_rdsd" "$(conf_value "$redis_conf" repl-diskless-sync-delay)"
same "resync-interval" "$lab_resync" "$(conf_value "$agent_conf" resync-interval)"

# ------------------------------------------------------------ compose.debian.yaml

# The override for machines without a registry (and the compose test)
# changes images only: the Redis and HAProxy services get a build from
# compose/debian/, the rest of the normalised file stays the same.
debian_file=$compose_dir/compose.debian.yaml
if docker-compose -f "$compose_file" -f "$debian_file" config >"$tmp/debian.yaml" 2>"$tmp/debian.err"; then
	pass "docker-compose config accepts compose.yaml + compose.debian.yaml"
	strip_images() {
		# Sorted: merging reorders list items (ports, volumes).
		awk '/^    (image|build):/ { skip = 1; next } skip && /^      / { next } { skip = 0; print }' "$1" | sort
	}
	check "compose.debian.yaml changes nothing but images and builds" \
		diff <(strip_images "$CFG") <(strip_images "$tmp/debian.yaml")
	for s in $redis_svcs $sentinel_svcs haproxy; do
		check "compose.debian.yaml builds $s from compose/debian" \
			grep -q -x -- "      context: $compose_dir/debian" <<<"$(CFG=$tmp/debian.yaml svc "$s")"
	done
	for f in "$compose_dir"/debian/Dockerfile.*; do
		while read -r src; do
			check "${f#"$top"/} COPY source $src exists" test -e "$compose_dir/debian/$src"
		done < <(awk '$1 == "COPY" && $2 !~ /^--/ { for (i = 2; i < NF; i++) print $i }' "$f")
	done
else
	cat "$tmp/debian.err" >&2
	fail "docker-compose config rejects compose.yaml + compose.debian.yaml"
fi
check "compose/debian/*.sh parse (sh -n)" sh -n "$compose_dir"/debian/*.sh

# ------------------------------------------------------------ the node script

check "compose/redis/redis-node.sh parses (sh -n)" sh -n "$compose_dir/redis/redis-node.sh"
for s in $redis_svcs $sentinel_svcs; do
	check "$s runs redis/redis-node.sh" \
		grep -q -x -- '- /usr/local/etc/hasentinel/redis-node.sh' <<<"$(svc "$s" | key_lines entrypoint)"
	check "$s mounts compose/redis at /usr/local/etc/hasentinel" \
		grep -q -x -E -- "- $compose_dir/redis:/usr/local/etc/hasentinel(:ro)?" <<<"$(svc "$s" | key_lines volumes)"
done

checks_end t20_compose_config
