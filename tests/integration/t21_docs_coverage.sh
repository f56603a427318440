#!/bin/bash
# Documentation coverage (pgbouncer's optscan idea): what the code accepts
# is documented. The tables are asked of the binary built from them
# (`hasentinelctl --list commands|config-keys|metrics`), not scraped:
#   - every config key is an item of doc/hasentinel.conf.5 and a setting in
#     doc/hasentinel.conf.example;
#   - every status command (the issue's list, plus the daemon's table) is an
#     item of doc/hasentinelctl.1 and a row of doc/status-json.md, and every
#     option letter of hasentinelctl's getopt string is in that page;
#   - every metric family is an item of doc/hasentinel.8;
#   - every option of agent/main.c's getopt string, and each long option,
#     is an item of doc/hasentinel.8;
#   - the man pages format without groff warnings (when groff is installed).
# Prints everything that is missing. No servers; needs hasentinelctl
# ($HASENTINELCTL, as make check sets it; skipped when it is not built).
# Re-run under bash when started as `sh t21_docs_coverage.sh`.
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
set -u -o pipefail
LC_ALL=C
export LC_ALL

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "${top_srcdir:-$here/../..}" && pwd)
main_c=$top/agent/main.c
ctl_c=$top/ctl/ctl.c
conf_man=$top/doc/hasentinel.conf.5
conf_example=$top/doc/hasentinel.conf.example
daemon_man=$top/doc/hasentinel.8
ctl_man=$top/doc/hasentinelctl.1
status_md=$top/doc/status-json.md
ctl_bin=${HASENTINELCTL:-${top_builddir:-$top}/agent/hasentinelctl}

# The commands the operators' issue asks hasentinelctl(1) to document.
BASE_COMMANDS="status topology sentinels haproxy events timeline metrics resync subscribe check"

missing=0
miss() {
	echo "MISSING: $*" >&2
	missing=$((missing + 1))
}

for f in "$main_c" "$ctl_c" "$conf_man" "$conf_example" "$daemon_man" "$ctl_man" "$status_md"; do
	[ -f "$f" ] || { echo "FAIL: ${f#"$top"/} does not exist" >&2; exit 1; }
done
if [ ! -x "$ctl_bin" ]; then
	echo "SKIP: $ctl_bin is not built: the tables cannot be asked" >&2
	exit 77
fi

# One of the tables the binaries are built from, one name per line.
table() {
	"$ctl_bin" --list "$1" || { echo "FAIL: hasentinelctl --list $1 failed" >&2; exit 1; }
}

# The tag lines of a man page's .TP items (the line after each .TP or
# .TQ), with roff's \- turned into -, so "-c" and "sentinel-user" can be
# matched as they are typed.
items() {
	awk '
		tag { print; tag = 0 }
		/^\.T[PQ]([ \t]|$)/ { tag = 1 }
	' "$1" | sed 's/\\-/-/g'
}

# items() of each page, computed once.
declare -A ITEMS=()
for f in "$conf_man" "$daemon_man" "$ctl_man"; do
	ITEMS[$f]=$(items "$f")
done
# The readers below take them as a here-string, not from a pipe: a reader
# that stops at its first match (grep -q, awk's exit) would make the writer
# of a pipe fail with SIGPIPE, and pipefail would turn a match into a miss.

# True when a tag line of $1 starts with a font macro whose first word is $2
# (".B key", ".BI key \" ARG\"", ".BR key \" [x]\"").
has_item() {
	awk -v w="$2" '
		$1 ~ /^\.(B|BI|BR|I|IR|IB)$/ {
			v = $2
			gsub(/"/, "", v)
			if (v == w) { found = 1; exit }
		}
		END { exit !found }' <<<"${ITEMS[$1]}"
}

# True when a tag line of $1 holds the option $2 ("-c", "--config") as a
# word of its own: after a space, a quote or a font change (\fP), and
# followed by a space, a quote, ',', '=' or the end.
has_option_item() {
	grep -q -E -- "(^|[ \"]|\\\\f[BIRP])$2([ \",=]|\$)" <<<"${ITEMS[$1]}"
}

# ------------------------------------------------------------ configuration keys

keys=$(table config-keys) || exit 1
nkeys=$(grep -c . <<<"$keys")
if [ -z "$keys" ]; then
	echo "FAIL: hasentinelctl --list config-keys printed no key" >&2
	exit 1
fi
echo "config keys: $nkeys" >&2

for k in $keys; do
	has_item "$conf_man" "$k" || miss "config key '$k' is not an item (.TP) of doc/hasentinel.conf.5"
	# A setting line, active or commented out: "key value" or "# key value".
	grep -q -E "^#?[[:space:]]*$k([[:space:]]|\$)" "$conf_example" ||
		miss "config key '$k' has no line in doc/hasentinel.conf.example"
done

# ------------------------------------------------------------ hasentinelctl

ctl_commands=$(table commands) || exit 1
if [ -z "$ctl_commands" ]; then
	echo "FAIL: hasentinelctl --list commands printed no command" >&2
	exit 1
fi
# shellcheck disable=SC2086 # word lists
commands=$(printf '%s\n' $BASE_COMMANDS $ctl_commands | sort -u)
echo "status commands: $(paste -sd' ' - <<<"$commands")" >&2
for c in $commands; do
	has_item "$ctl_man" "$c" || miss "status command '$c' is not an item (.TP) of doc/hasentinelctl.1"
	# A row of the command table: "| `name` |" or "| `name ARG` |".
	grep -q -E "^\| \`$c( [^\`]*)?\` \|" "$status_md" ||
		miss "status command '$c' is not a row of doc/status-json.md"
done

# ------------------------------------------------------------ metrics

families=$(table metrics) || exit 1
if [ -z "$families" ]; then
	echo "FAIL: hasentinelctl --list metrics printed no family" >&2
	exit 1
fi
echo "metric families: $(grep -c . <<<"$families")" >&2
for m in $families; do
	has_item "$daemon_man" "$m" || miss "metric family '$m' is not an item (.TP) of doc/hasentinel.8"
done

# getopt_long(argc, argv, "OPTSTRING", ...): the option letters.
optletters() {
	sed -n 's/.*getopt_long([^"]*"\([^"]*\)".*/\1/p' "$1" | head -n 1 | tr -d ':+-' | fold -w 1
}
# { "name", ..., 'x' } entries of the long option table.
longopts() {
	sed -n "s/^[[:space:]]*{ *\"\\([a-z-]*\\)\",.*'[A-Za-z]' *},.*/\\1/p" "$1"
}

letters=$(optletters "$ctl_c")
[ -n "$letters" ] || miss "no getopt_long option string found in ctl/ctl.c"
for l in $letters; do
	has_option_item "$ctl_man" "-$l" || miss "hasentinelctl option -$l is not an item of doc/hasentinelctl.1"
done
for o in $(longopts "$ctl_c"); do
	has_option_item "$ctl_man" "--$o" || miss "hasentinelctl option --$o is not an item of doc/hasentinelctl.1"
done

# ------------------------------------------------------------ hasentinel

letters=$(optletters "$main_c")
if [ -z "$letters" ]; then
	miss "no getopt_long option string found in agent/main.c"
fi
echo "hasentinel options: $(paste -sd' ' - <<<"$letters")" >&2
for l in $letters; do
	has_option_item "$daemon_man" "-$l" || miss "hasentinel option -$l is not an item of doc/hasentinel.8"
done
for o in $(longopts "$main_c"); do
	has_option_item "$daemon_man" "--$o" || miss "hasentinel option --$o is not an item of doc/hasentinel.8"
done

# ------------------------------------------------------------ formatting

if command -v groff >/dev/null 2>&1; then
	for f in "$daemon_man" "$ctl_man" "$conf_man"; do
		out=$(groff -man -Tutf8 -ww -z "$f" 2>&1)
		[ -z "$out" ] || miss "${f#"$top"/} formats with warnings: $out"
	done
else
	echo "note: groff is not installed: the man pages' formatting is not checked" >&2
fi

if [ "$missing" -gt 0 ]; then
	echo "t21_docs_coverage: $missing item(s) missing" >&2
	exit 1
fi
echo "t21_docs_coverage: ok" >&2
