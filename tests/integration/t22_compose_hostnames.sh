#!/bin/bash
# The compose hostnames variant (compose/compose.hostnames.yaml), without
# starting a container:
#   - `docker-compose config` accepts compose.yaml + compose.hostnames.yaml,
#     and with compose.debian.yaml between them;
#   - each redis-N announces its service name, the replicas follow redis-1
#     by name, each sentinel-N copies redis/sentinel.hostnames.conf, which
#     exists, resolves and announces hostnames and monitors redis-1 (a
#     service of the file);
#   - that template keeps sentinel.conf's monitor settings (quorum,
#     timings, master name);
#   - the agent's config passes `hasentinel --test-config` with the
#     variant's environment (HASENTINEL_RESOLVE_TTL_MAX);
#   - nothing else changes: the rest of the normalised file is compose.yaml's.
# Skipped (77) only when docker-compose is not installed.
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
set -u -o pipefail
LC_ALL=C
export LC_ALL

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "${top_srcdir:-$here/../..}" && pwd)
HASENTINEL=${HASENTINEL:-${top_builddir:-$top}/agent/hasentinel}
compose_dir=$top/compose
base=$compose_dir/compose.yaml
variant=$compose_dir/compose.hostnames.yaml
debian=$compose_dir/compose.debian.yaml
tmpl=$compose_dir/redis/sentinel.hostnames.conf
plain=$compose_dir/redis/sentinel.conf

. "$here/checklib.sh"
checks_need_compose

unset HS_HOST_WRITE_PORT HS_HOST_READ_PORT HS_HOST_STATS_PORT COMPOSE_FILE

if ! docker-compose -f "$base" config >"$tmp/base.yaml" 2>"$tmp/err" ||
	! docker-compose -f "$base" -f "$variant" config >"$tmp/names.yaml" 2>>"$tmp/err"; then
	cat "$tmp/err" >&2
	echo "FAIL: docker-compose config rejects compose.yaml + compose.hostnames.yaml" >&2
	exit 1
fi
pass "docker-compose config accepts compose.yaml + compose.hostnames.yaml"
if docker-compose -f "$base" -f "$debian" -f "$variant" config >"$tmp/debian.yaml" 2>"$tmp/err"; then
	pass "... and with compose.debian.yaml"
else
	cat "$tmp/err" >&2
	fail "docker-compose config rejects compose.yaml + compose.debian.yaml + compose.hostnames.yaml"
fi

# The lines of service $1 in file $2 (docker-compose 1.29 prints services
# at two spaces, their keys at four, values at six).
svc() {
	awk -v s="$1" '
		/^[^ ]/ { in_svc = ($0 == "services:"); cur = ""; next }
		in_svc && /^  [^ ]/ { cur = substr($0, 3); sub(/:$/, "", cur); next }
		in_svc && cur == s { print }
	' "$2"
}
# The environment value of key $1 in a service block on stdin, unquoted.
env_value() {
	awk -v k="$1" '
		{ line = $0; sub(/^ +/, "", line) }
		index(line, k ": ") == 1 { v = substr(line, length(k) + 3); gsub(/^["\x27]|["\x27]$/, "", v); print v; exit }
	'
}

services=$(docker-compose -f "$base" -f "$variant" config --services 2>/dev/null | sort)
redis_svcs=$(grep -E '^redis-[0-9]+$' <<<"$services" || true)
sentinel_svcs=$(grep -E '^sentinel-[0-9]+$' <<<"$services" || true)
[ -n "$redis_svcs" ] && [ -n "$sentinel_svcs" ] || fail "no redis-N or sentinel-N services"

mon_host=$(awk '$1 == "sentinel" && $2 == "monitor" { print $4; exit }' "$tmpl")
for s in $redis_svcs; do
	check "$s announces its name" test "$(svc "$s" "$tmp/names.yaml" | env_value HS_ANNOUNCE_IP)" = "$s"
	ro=$(svc "$s" "$tmp/names.yaml" | env_value HS_REPLICAOF)
	if [ "$s" = "$mon_host" ]; then
		check "$s (the monitored master) starts as master" test -z "$ro"
	else
		check "$s replicates from $mon_host by name" test "$ro" = "$mon_host 6379"
	fi
done
check "Sentinel monitors a service of the file ($mon_host)" grep -q -x -- "$mon_host" <<<"$redis_svcs"
for s in $sentinel_svcs; do
	t=$(svc "$s" "$tmp/names.yaml" | env_value HS_SENTINEL_TEMPLATE)
	check "$s copies redis/$t" test "$t" = "${tmpl##*/}" -a -f "$compose_dir/redis/$t"
done
check "redis-node.sh reads HS_SENTINEL_TEMPLATE" grep -q 'HS_SENTINEL_TEMPLATE' "$compose_dir/redis/redis-node.sh"
check "the template resolves hostnames" grep -q -x 'sentinel resolve-hostnames yes' "$tmpl"
check "the template announces hostnames" grep -q -x 'sentinel announce-hostnames yes' "$tmpl"

# The same monitor settings as sentinel.conf, the master's address aside.
settings() {
	awk '$1 == "sentinel" && $2 == "monitor" { $4 = "HOST" } $1 == "sentinel" && $2 ~ /hostnames$/ { next }
	     /^[a-z]/ { print }' "$1"
}
check "sentinel.hostnames.conf = sentinel.conf but for the master's name" \
	diff <(settings "$plain") <(settings "$tmpl")

# Nothing else changes.
strip() {
	awk '/^      (HS_ANNOUNCE_IP|HS_REPLICAOF|HS_SENTINEL_TEMPLATE|HASENTINEL_RESOLVE_TTL_MAX):/ { next }
	     /^    environment:/ { next } { print }' "$1" | sort
}
check "compose.hostnames.yaml changes only the announce/replicaof/template/resolver variables" \
	diff <(strip "$tmp/base.yaml") <(strip "$tmp/names.yaml")

# The agent's config with the variant's environment.
ttl=$(svc hasentinel "$tmp/names.yaml" | env_value HASENTINEL_RESOLVE_TTL_MAX)
check "the agent's resolve-ttl-max is set" test -n "$ttl"
if [ -x "$HASENTINEL" ]; then
	printf 'change-me\n' >"$tmp/pw"
	sed -e "s#/run/secrets/sentinel_password#$tmp/pw#" -e "s#/run/secrets/redis_password#$tmp/pw#" \
		"$compose_dir/hasentinel.conf" >"$tmp/hasentinel.conf"
	check "hasentinel --test-config accepts hasentinel.conf with HASENTINEL_RESOLVE_TTL_MAX=$ttl" \
		env HASENTINEL_RESOLVE_TTL_MAX="$ttl" "$HASENTINEL" --test-config -c "$tmp/hasentinel.conf"
else
	fail "$HASENTINEL not built"
fi

checks_end t22_compose_hostnames
