#!/bin/bash
# Run the unit tests and a set of integration tests with the agent under
# valgrind; fail on any memory error or leak.
#
#   tests/valgrind.sh BUILDDIR
#
# Unit tests run with CK_FORK=no so valgrind sees the test bodies. The agent
# runs under valgrind (HS_AGENT_WRAPPER) through real failovers, HAProxy
# restarts, the status commands and a password rotation (SIGHUP); each of
# its valgrind logs must be empty.
set -u -o pipefail
build=$(cd "${1:?usage: tests/valgrind.sh BUILDDIR}" && pwd)
src=$(cd "$(dirname "$0")/.." && pwd)
command -v valgrind >/dev/null || { echo "SKIP: valgrind not installed"; exit 77; }
logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT
vg=(valgrind -q --leak-check=full --show-leak-kinds=definite,indirect,possible
	--errors-for-leak-kinds=definite,indirect,possible --error-exitcode=9)
fail=0 pass=0

for t in "$build"/tests/unit/check_*; do
	[ -x "$t" ] || continue
	if CK_FORK=no "${vg[@]}" --log-file="$logs/unit.%p.log" "$t" >"$logs/out" 2>&1; then
		pass=$((pass + 1))
		echo "PASS: valgrind $(basename "$t")"
	else
		fail=$((fail + 1))
		echo "FAIL: valgrind $(basename "$t")"
		tail -20 "$logs/out"
	fi
done

export top_srcdir=$src top_builddir=$build
export HASENTINEL=$build/agent/hasentinel HASENTINELCTL=$build/agent/hasentinelctl
export HS_AGENT_WRAPPER="${vg[*]} --log-file=$logs/agent.%p.log"
export HS_AGENT_START_S=30
for t in t02_master_kill t05_haproxy_restart t07_secrets t08_operator_view t11_password_rotation t14_hostnames t44_fence_kill; do
	bash "$src/tests/integration/$t.sh" >"$logs/$t.out" 2>&1
	rc=$?
	if [ "$rc" = 0 ]; then
		pass=$((pass + 1))
		echo "PASS: valgrind agent in $t"
	elif [ "$rc" = 77 ]; then
		echo "SKIP: valgrind agent in $t: $(tail -1 "$logs/$t.out")"   # t14 needs root (ip netns)
	else
		fail=$((fail + 1))
		echo "FAIL: valgrind agent in $t"
		tail -30 "$logs/$t.out"
	fi
done
for f in "$logs"/agent.*.log "$logs"/unit.*.log; do
	[ -e "$f" ] || continue
	if [ -s "$f" ]; then
		fail=$((fail + 1))
		echo "FAIL: valgrind report $(basename "$f"):"
		head -60 "$f"
	fi
done
echo "valgrind: $pass passed, $fail failed"
[ "$fail" = 0 ]
