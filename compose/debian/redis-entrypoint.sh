#!/bin/sh
# Entry point of the Debian-based Redis image (Dockerfile.redis), with the
# behaviour of the official image's docker-entrypoint.sh that
# compose/redis/redis-node.sh relies on:
#   - `docker-entrypoint.sh -opt...` or `docker-entrypoint.sh x.conf ...`
#     runs redis-server with those arguments;
#   - redis-server started as root gets the files of its working directory
#     (/data) handed to the redis user, then runs as that user;
#   - the default umask 022 becomes 077: Redis writes the config with the
#     passwords and the data.
set -eu

case ${1:-} in
-* | *.conf) set -- redis-server "$@" ;;
esac

if [ "${1:-}" = redis-server ] && [ "$(id -u)" = 0 ]; then
	find . ! -user redis -exec chown redis '{}' +
	exec setpriv --reuid=redis --regid=redis --init-groups "$0" "$@"
fi

[ "$(umask)" = 0022 ] && umask 0077
exec "$@"
