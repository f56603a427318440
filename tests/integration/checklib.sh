# Soft checks for the tests that read files and start no server (t20, t22):
# every check runs and the failures are counted, so one run reports them
# all (lib.sh's hs_fail stops at the first, which suits live labs).
#   checks_need_compose      exit 77 (skip) when docker-compose is missing
#   fail MSG / pass MSG      count a failure / note a success
#   check WHAT CMD...        pass or fail on CMD's status
#   checks_end NAME          exit 1 with the count when a check failed
# Also sets tmp (a temp dir removed at exit) and failures.
# shellcheck shell=bash

checks_need_compose() {
	if ! command -v docker-compose >/dev/null 2>&1; then
		echo "SKIP: docker-compose is not installed (apt-get install docker-compose)" >&2
		exit 77
	fi
}

fail() {
	echo "FAIL: $*" >&2
	failures=$((failures + 1))
}
pass() {
	echo "ok: $*" >&2
}
check() {
	local what=$1
	shift
	if "$@"; then pass "$what"; else fail "$what"; fi
}

checks_end() {
	if [ "$failures" -gt 0 ]; then
		echo "$1: $failures check(s) failed" >&2
		exit 1
	fi
	echo "$1: ok" >&2
}

failures=0
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
