#!/bin/bash
# Run the fault scenarios (all of tests/faults/f*.sh, or those named) one
# after the other and print a table of their RESULT lines:
#
#   tests/faults/summary.sh [-o DIR] [fNN_name ...]
#
# Environment as for `make check`: top_srcdir, top_builddir, HASENTINEL,
# HASENTINELCTL (defaults: this source tree, built in place). Each
# scenario's full output goes to DIR/<name>.log (default: a temp dir,
# printed at the end). Exit status 1 when a scenario failed, 0 otherwise
# (a skipped scenario, exit 77, is shown as SKIP).
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
set -u -o pipefail
LC_ALL=C
export LC_ALL

here=$(cd "$(dirname "$0")" && pwd)
top_srcdir=${top_srcdir:-$(cd "$here/../.." && pwd)}
top_builddir=${top_builddir:-$top_srcdir}
HASENTINEL=${HASENTINEL:-$top_builddir/agent/hasentinel}
HASENTINELCTL=${HASENTINELCTL:-$top_builddir/agent/hasentinelctl}
export top_srcdir top_builddir HASENTINEL HASENTINELCTL

out=
if [ "${1:-}" = -o ]; then
	out=$2
	shift 2
fi
[ -n "$out" ] || out=$(mktemp -d "${TMPDIR:-/tmp}/hsf-summary.XXXXXX") || exit 1
mkdir -p "$out" || exit 1

if [ $# -gt 0 ]; then
	names=("$@")
else
	names=()
	for f in "$here"/f[0-9][0-9]_*.sh; do
		f=${f##*/}
		names+=("${f%.sh}")
	done
fi

# "key=value" from a RESULT / DETAIL line.
field() {
	local k=$2 w
	for w in $1; do
		[ "${w%%=*}" = "$k" ] && { echo "${w#*=}"; return; }
	done
	echo -
}

rows=()
failed=0
t_all=${EPOCHREALTIME%[.,]*}
for n in "${names[@]}"; do
	script=$here/$n.sh
	[ -f "$script" ] || { echo "no such scenario: $n" >&2; exit 2; }
	t0=${EPOCHREALTIME%[.,]*}
	bash "$script" >"$out/$n.log" 2>&1
	rc=$?
	secs=$((${EPOCHREALTIME%[.,]*} - t0))
	res=$(grep -m1 '^RESULT ' "$out/$n.log")
	det=$(grep -m1 '^DETAIL ' "$out/$n.log" | sed 's/^DETAIL scenario=[^ ]* //')
	case $rc in
	0) st=ok ;;
	77) st=SKIP ;;
	*) st=FAIL; failed=1 ;;
	esac
	rows+=("$n|$st|$(field "$res" converge_ms)|$(field "$res" acked)|$(field "$res" acked_by_non_master)|$(field "$res" lost_to_replication)|$secs|$det")
	printf '%-30s %-4s (%ss)\n' "$n" "$st" "$secs" >&2
	if [ "$st" = FAIL ]; then
		grep -m3 '^FAIL' "$out/$n.log" | sed 's/^/    /' >&2
	fi
done
total=$((${EPOCHREALTIME%[.,]*} - t_all))

echo
echo "| scenario | result | converge ms | acked | acked by non-master | lost to replication | run s | details |"
echo "|---|---|---:|---:|---:|---:|---:|---|"
for r in "${rows[@]}"; do
	IFS='|' read -r a b c d e f g h <<<"$r"
	echo "| $a | $b | $c | $d | $e | $f | $g | $h |"
done
echo
echo "total: ${total}s; logs in $out"
exit "$failed"
