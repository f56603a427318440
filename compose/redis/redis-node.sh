#!/bin/sh
# Entry point of the redis-N and sentinel-N containers (official redis
# image, or debian/Dockerfile.redis with the same interface; run as root
# until the image's own docker-entrypoint.sh drops to the redis user).
#
#   sh redis-node.sh server      redis-server with /data/redis.conf
#   sh redis-node.sh sentinel    redis-sentinel with /data/sentinel.conf
#
# Redis and Sentinel both rewrite their config file (a failover records the
# new roles, Sentinel its epochs and the instances it learnt), so each
# container works on its own copy in its /data volume:
#   - first start: copy the template (redis.conf / sentinel.conf, mounted
#     read-only from compose/) and add `replicaof $HS_REPLICAOF` (servers,
#     when set);
#   - every start: replace the announce address and the passwords, so a new
#     secret or a new static IP takes effect on restart.
#
# Environment: HS_ANNOUNCE_IP (required): this container's static address
#              (or its name: compose.hostnames.yaml).
#              HS_REPLICAOF "IP PORT": servers that start as replicas.
#              HS_SENTINEL_TEMPLATE: Sentinel's template in compose/redis/,
#              default sentinel.conf (first start only).
# Secrets:     /run/secrets/redis_password    (requirepass, masterauth,
#                                              sentinel auth-pass)
#              /run/secrets/sentinel_password (Sentinel's requirepass)
# HS_ETC, HS_DATA and HS_SECRETS override the three directories (tests).
set -eu

HS_ETC=${HS_ETC:-/usr/local/etc/hasentinel}
HS_DATA=${HS_DATA:-/data}
HS_SECRETS=${HS_SECRETS:-/run/secrets}

die() {
	echo "redis-node.sh: $*" >&2
	exit 1
}

# The password in FILE, with trailing newlines removed. Refused: empty, and
# anything but printable ASCII without spaces, quotes or backslashes:
# Sentinel rewrites `sentinel auth-pass` unquoted, so such a password would
# make the rewritten file unreadable at the next start.
read_secret() {
	[ -r "$1" ] || die "$1: missing or unreadable (compose secrets)"
	pw=$(cat "$1")
	[ -n "$pw" ] || die "$1: empty password"
	case $pw in
	*[!!-~]* | *[\"\'\\]*)
		die "$1: use printable ASCII without spaces, quotes or backslashes (e.g. openssl rand -hex 32)"
		;;
	esac
	printf '%s' "$pw"
}

# Drop the lines that this script sets on every start (and the ACL line that
# CONFIG REWRITE derives from requirepass), then append the current values.
refresh() {
	conf=$1
	shift
	tmp=$conf.new
	grep -v -E '^[[:space:]]*(requirepass|masterauth|replica-announce-ip|user default|sentinel (auth-pass|announce-ip))[[:space:]]' \
		"$conf" >"$tmp" || true
	printf '%s\n' "$@" >>"$tmp"
	mv "$tmp" "$conf"
}

[ -n "${HS_ANNOUNCE_IP:-}" ] || die "HS_ANNOUNCE_IP is not set"
umask 077
cd "$HS_DATA"

case ${1:-} in
server)
	conf=$HS_DATA/redis.conf
	rpw=$(read_secret "$HS_SECRETS/redis_password")
	if [ ! -f "$conf" ]; then
		cp "$HS_ETC/redis.conf" "$conf.new"
		if [ -n "${HS_REPLICAOF:-}" ]; then
			printf 'replicaof %s\n' "$HS_REPLICAOF" >>"$conf.new"
		fi
		mv "$conf.new" "$conf"
	fi
	refresh "$conf" \
		"replica-announce-ip $HS_ANNOUNCE_IP" \
		"requirepass $rpw" \
		"masterauth $rpw"
	exec docker-entrypoint.sh redis-server "$conf"
	;;
sentinel)
	conf=$HS_DATA/sentinel.conf
	rpw=$(read_secret "$HS_SECRETS/redis_password")
	spw=$(read_secret "$HS_SECRETS/sentinel_password")
	[ -f "$conf" ] || cp "$HS_ETC/${HS_SENTINEL_TEMPLATE:-sentinel.conf}" "$conf"
	# One auth-pass per monitored master, after its `sentinel monitor` line.
	set -- "sentinel announce-ip $HS_ANNOUNCE_IP" "requirepass $spw"
	masters=$(awk '$1 == "sentinel" && $2 == "monitor" { print $3 }' "$conf")
	for m in $masters; do
		set -- "$@" "sentinel auth-pass $m $rpw"
	done
	refresh "$conf" "$@"
	# The image's entry point drops to the redis user for redis-server only.
	exec docker-entrypoint.sh redis-server "$conf" --sentinel
	;;
*)
	die "usage: redis-node.sh server|sentinel"
	;;
esac
