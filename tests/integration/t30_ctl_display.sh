#!/bin/bash
# hasentinelctl's human views, against a fake status server: socat listens on
# a unix socket in the temp dir and a small bash responder answers each
# request line with a canned JSON line (by command). Asserts what an operator
# sees for every command, the exit codes (check = 1 with the problem printed,
# 3 when the socket is missing) and --json passthrough.
#
# TEST_PREFIX runs every hasentinelctl under a wrapper, e.g.
#   TEST_PREFIX='valgrind -q --leak-check=full --error-exitcode=9' t30_ctl_display.sh
# T30_TRACE=1 logs every hasentinelctl call.
# shellcheck disable=SC2016
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
set -u -o pipefail
. "$(dirname "$0")/lib.sh"

hs_require_bin socat timeout "$HASENTINELCTL"
HS_TMP=$(mktemp -d "${TMPDIR:-/tmp}/hs.XXXXXX") || hs_fail "mktemp -d failed"
trap hs_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Local time is part of the output: pin it.
TZ=UTC
export TZ
unset COLUMNS HASENTINEL_STATUS_SOCKET
SOCK=$HS_TMP/status.sock
D=$HS_TMP/answers
mkdir "$D"
now=$(hs_now_ms)
base=1795795440951   # 2026-11-27 16:04:00.951 UTC

# ------------------------------------------------------------ canned answers
# One line each, as the daemon sends them.
oneline() { tr -d '\n\t' >"$D/$1"; }

oneline topology <<EOF
{"masters":[
 {"name":"mymaster","state":"ok","master":"127.0.0.1:7001","config_epoch":3,"role_confirmed":true,
  "write_backend":"mymaster_write","read_backend":"mymaster_read","write_ready":["127.0.0.1:7001"],
  "replicas":[
   {"addr":"127.0.0.1:7000","flags":"","link":"ok","role":"slave","read_ready":true},
   {"addr":"127.0.0.1:7002","flags":"s_down","link":"err","role":"slave","read_ready":false}],
  "sentinel_views":[
   {"sentinel":"127.0.0.1:26379","master":"127.0.0.1:7001","epoch":3,"age_ms":120},
   {"sentinel":"127.0.0.1:26380","master":"127.0.0.1:7001","epoch":3,"age_ms":1500},
   {"sentinel":"127.0.0.1:26381","master":"127.0.0.1:7000","epoch":2,"age_ms":61000}]},
 {"name":"other","state":"no-master","master":"","replicas":[]},
 {"name":"bare"}]}
EOF

oneline sentinels <<EOF
{"usable":2,"sentinels":[
 {"addr":"127.0.0.1:26379","cmd_link":"connected","pubsub_link":"connected","subscribed":true,
  "tilt":false,"last_ok_ms":$((now - 1200)),"last_error":"","events":42},
 {"addr":"127.0.0.1:26380","cmd_link":"connected","pubsub_link":"idle","subscribed":false,
  "events_mode":"polling","tilt":true,"last_ok_ms":$((now - 300)),"last_error":"","events":40},
 {"addr":"127.0.0.1:26381","cmd_link":"backoff","pubsub_link":"backoff","subscribed":false,
  "tilt":false,"last_ok_ms":0,"last_error":"Connection refused","events":0}]}
EOF

long_reply=$(printf 'x%.0s' {1..150})
oneline haproxy <<EOF
{"socket":"/run/haproxy/admin.sock","link":"ready","pid":4242,"reloads_seen":1,
 "commands_sent":12,"commands_failed":1,"drift_corrections":2,"reconciles":345,
 "last_error":"","last_ok_ms":$((now - 2000)),"last_switch_apply_ms":35,"last_reload_ms":0,
 "last_commands":[
  {"at_ms":$base,"command":"set server mymaster_write/s1 addr 127.0.0.1 port 7001","reply":"","ok":true},
  {"at_ms":$((base + 5)),"command":"set server mymaster_write/s1 state ready","reply":"No such server.\n\n","ok":false},
  {"at_ms":$((base + 9)),"command":"show servers state mymaster_read","reply":"1\n# be_id be_name $long_reply END","ok":true}]}
EOF

oneline events <<EOF
{"events":[
 {"at_ms":$base,"source":"sentinel","sentinel":"127.0.0.1:26379","master":"mymaster","type":"+sdown","text":"master mymaster 127.0.0.1 7000"},
 {"at_ms":$((base + 93)),"source":"sentinel","sentinel":"127.0.0.1:26380","master":"mymaster","type":"+odown","text":"+odown master mymaster 127.0.0.1 7000 #quorum 2/2"},
 {"at_ms":$((base + 851)),"source":"agent","master":"mymaster","type":"decision","text":"write -> 127.0.0.1:7001 epoch 3"},
 {"at_ms":$((base + 1060)),"source":"haproxy","master":"mymaster","type":"acked","text":"evil\u001b[31m text"}]}
EOF

stage() { printf '{"stage":"%s","at_ms":%s,"offset_ms":%s}' "$1" $((base + $2)) "$2"; }
{
	printf '{"timelines":[{"master":"mymaster","from":"127.0.0.1:7000","to":"127.0.0.1:7001",'
	printf '"epoch":3,"complete":true,"start_ms":%s,"total_ms":1060,"stages":[' "$base"
	stage sdown 0; echo ,; stage odown 93; echo ,; stage failover-start 120; echo ,
	stage promoted 780; echo ,; stage switch-master-seen 850; echo ,; stage decision 851; echo ,
	stage role-confirmed 990; echo ,; stage haproxy-sent 995; echo ,; stage haproxy-acked 1060
	printf ']},'
	# An unfinished one, with only at_ms and no totals.
	printf '{"master":"mymaster","from":"127.0.0.1:7001","to":"127.0.0.1:7002","epoch":4,'
	printf '"complete":false,"stages":[{"stage":"sdown","at_ms":%s},{"stage":"odown","at_ms":%s}]}]}' \
		$((base + 600000)) $((base + 612345))
} | oneline timeline

metrics_text='# HELP hasentinel_up 1 when the agent runs\n# TYPE hasentinel_up gauge\nhasentinel_up 1\nhasentinel_switches_total{master=\"mymaster\"} 3\n'
printf '{"content_type":"text/plain; version=0.0.4","text":"%s"}' "$metrics_text" | oneline metrics
echo '{"ok":true}' | oneline resync
echo '{"ok":false,"exit_code":1,"problems":["mymaster: no ready write server","other: no master"]}' |
	oneline check
echo '{"ok":true,"exit_code":0,"problems":[]}' | oneline check_ok
echo '{"something":"new","n":[1,2]}' | oneline future
{
	echo '{"ok":true}'
	printf '{"at_ms":%s,"source":"sentinel","sentinel":"127.0.0.1:26379","master":"mymaster","type":"+sdown","text":"master mymaster 127.0.0.1 7000"}\n' "$base"
	printf '{"at_ms":%s,"source":"agent","master":"mymaster","type":"decision","text":"write -> 127.0.0.1:7001"}\n' $((base + 851))
} >"$D/subscribe"

# The responder: one request line in, the canned answer for its command out.
cat >"$HS_TMP/responder" <<'EOF'
#!/bin/bash
IFS= read -r line || exit 0
line=${line%$'\r'}
printf '%s\n' "$line" >>"$ANSWERS/requests"
cmd=${line%% *}
case $cmd in
check) if [ "$line" = "check ok" ]; then cat "$ANSWERS/check_ok"; else cat "$ANSWERS/check"; fi; echo ;;
subscribe) cat "$ANSWERS/subscribe" ;;
hang) IFS= read -r -t 3 _ ;;   # no answer; returns when the client hangs up
*)
	if [[ $cmd =~ ^[a-z]+$ ]] && [ -f "$ANSWERS/$cmd" ]; then
		cat "$ANSWERS/$cmd"; echo
	else
		echo '{"error":"unknown command"}'
	fi
	;;
esac
EOF
chmod +x "$HS_TMP/responder"

ANSWERS=$D socat "UNIX-LISTEN:$SOCK,fork,unlink-early" "EXEC:$HS_TMP/responder" \
	</dev/null >>"$HS_TMP/socat.log" 2>&1 &
hs_register socat $!
hs_wait_until 5 '[ -S "$SOCK" ]' "the fake status socket"

# ------------------------------------------------------------ helpers

# ctl ARGS...: run hasentinelctl; stdout in OUT, stderr in ERR, status in RC.
ctl() {
	[ -z "${T30_TRACE:-}" ] || hs_log "ctl $*"
	# TEST_PREFIX is a command line on purpose (word splitting).
	# shellcheck disable=SC2086
	${TEST_PREFIX:-} "$HASENTINELCTL" -s "$SOCK" "$@" >"$HS_TMP/out" 2>"$HS_TMP/err"
	RC=$?
	OUT=$(cat "$HS_TMP/out")
	ERR=$(cat "$HS_TMP/err")
}

show() { printf '%s\n--- stderr:\n%s\n' "$OUT" "$ERR"; }

# expect_rc N WHAT
expect_rc() {
	[ "$RC" = "$1" ] || hs_fail "$2: exit $RC, expected $1
$(show)"
}

# has 'fixed string'... : every piece appears in OUT.
has() {
	local p
	for p in "$@"; do
		grep -qF -- "$p" <<<"$OUT" || hs_fail "output lacks '$p':
$(show)"
	done
}

# has_line REGEX: one line of OUT matches.
has_line() {
	grep -qE -- "$1" <<<"$OUT" || hs_fail "no output line matches /$1/:
$(show)"
}

# in_order 'a' 'b' ...: each piece on a later line than the previous one.
in_order() {
	local last=0 n p
	for p in "$@"; do
		n=$(grep -nF -- "$p" <<<"$OUT" | head -n 1 | cut -d: -f1)
		if [ -z "$n" ] || [ "$n" -le "$last" ]; then
			hs_fail "'$p' missing or out of order:
$(show)"
		fi
		last=$n
	done
}

# No line wider than N columns (the tree's box characters count as one).
max_width() {
	local w t=${OUT//├─/+-}
	t=${t//└─/+-}
	w=$(awk '{ if (length($0) > m) m = length($0) } END { print m + 0 }' <<<"$t")
	[ "$w" -le "$1" ] || hs_fail "a line is $w columns wide, more than $1:
$(show)"
}

no_trailing_blanks() {
	! grep -qE ' +$' <<<"$OUT" || hs_fail "trailing blanks:
$(show)"
}

# ------------------------------------------------------------ topology
hs_log "topology"
ctl topology
expect_rc 0 topology
has_line '^mymaster  epoch 3  ok$'
has_line '^├─ master +127\.0\.0\.1:7001 +write ready +ROLE confirmed$'
has_line '^├─ replica +127\.0\.0\.1:7000 +read ready +link ok$'
has_line '^└─ replica +127\.0\.0\.1:7002 +read maint +link err +s_down$'
has '   sentinels: 127.0.0.1:26379 -> 127.0.0.1:7001 @3 (120 ms ago),' \
	'127.0.0.1:26381 -> 127.0.0.1:7000 @2 (1 m 1 s ago)'
in_order 'mymaster  epoch 3' '├─ master' '├─ replica' '└─ replica' 'sentinels:' 'other  epoch'
has_line '^other  epoch -  no-master$'
has_line '^└─ master +none$'
has_line '^bare  epoch -  -$'
no_trailing_blanks
max_width 80
ctl topology mymaster
grep -qx 'topology mymaster' "$D/requests" || hs_fail "'topology mymaster' not sent as one request line"

# ------------------------------------------------------------ sentinels
hs_log "sentinels"
ctl sentinels
expect_rc 0 sentinels
has '3 sentinels, 2 usable'
has_line '^ADDR +CMD LINK +PUBSUB LINK +SUBSCRIBED +TILT +LAST OK +EVENTS +LAST ERROR$'
has_line '^127\.0\.0\.1:26379 +connected +connected +yes +no +[0-9]+ s ago +42 +-$'
# 26380 refused PSUBSCRIBE (no Pub/Sub in its ACL): followed by polling.
has_line '^127\.0\.0\.1:26380 +connected +idle +no \(polling\) +yes +[0-9]+ m?s ago +40 +-$'
has_line '^127\.0\.0\.1:26381 +backoff +backoff +no +no +never +0 +Connection refused$'
# Aligned: "LAST OK" and its values start in the same column.
c1=$(grep '^ADDR' <<<"$OUT" | awk '{ print index($0, "LAST OK") }')
c2=$(grep '26379' <<<"$OUT" | awk '{ print match($0, /[0-9]+ s ago/) }')
c3=$(grep '26381' <<<"$OUT" | awk '{ print index($0, "never") }')
if [ "$c1" != "$c2" ] || [ "$c1" != "$c3" ]; then
	hs_fail "LAST OK column not aligned ($c1 $c2 $c3):
$(show)"
fi
no_trailing_blanks

# ------------------------------------------------------------ haproxy
hs_log "haproxy"
ctl haproxy
expect_rc 0 haproxy
has_line '^socket +/run/haproxy/admin\.sock$'
has_line '^link +ready$'
has_line '^pid +4242$'
has_line '^commands failed +1$'
has_line '^drift corrections +2$'
has_line '^last ok +[0-9]+ s ago$'
has_line '^last switch applied in +35 ms$'
has_line '^last reload +never$'
has 'LAST COMMANDS'
has_line '^  TIME +RESULT +COMMAND +REPLY$'
has_line '^  16:04:00\.951 +OK +set server mymaster_write/s1 addr 127\.0\.0\.1 port 7001 +\(empty\)$'
has_line '^  16:04:00\.956 +FAIL +set server mymaster_write/s1 state ready +No such server\.$'
# Not a terminal: the reply is cut to 60 bytes, "..." included.
line=$(grep -F '16:04:00.960' <<<"$OUT")
reply="1 / #${line#*1 / #}"
if [ "${#reply}" -ne 60 ] || [[ $reply != "1 / # be_id be_name xxx"*... ]]; then
	hs_fail "long reply not cut to 60 bytes: '$reply' (${#reply})"
fi
# A terminal as wide as $COLUMNS: the line fits it.
COLUMNS=100 ctl haproxy
line=$(grep -F '16:04:00.960' <<<"$OUT")
[ "${#line}" -eq 100 ] || hs_fail "with COLUMNS=100 the long command line is ${#line} wide: '$line'"
no_trailing_blanks

# ------------------------------------------------------------ events
hs_log "events"
ctl events 5
expect_rc 0 events
grep -qx 'events 5' "$D/requests" || hs_fail "'events 5' not sent"
has_line '^16:04:00\.951  127\.0\.0\.1:26379  mymaster  \+sdown    master mymaster 127\.0\.0\.1 7000$'
has_line '^16:04:01\.802  agent            mymaster  decision  write -> 127\.0\.0\.1:7001 epoch 3$'
has_line '^16:04:02\.011  haproxy          mymaster  acked     evil\?\[31m text$'
# Sentinel's text repeats the type: shown once.
has_line '^16:04:01\.044  127\.0\.0\.1:26380  mymaster  \+odown    master mymaster 127\.0\.0\.1 7000 #quorum 2/2$'
in_order '+sdown' '+odown' 'decision' 'acked'

# ------------------------------------------------------------ timeline
hs_log "timeline"
ctl timeline
expect_rc 0 timeline
has_line '^mymaster  127\.0\.0\.1:7000 -> 127\.0\.0\.1:7001  epoch 3  2026-11-27 16:04:00\.951  total 1\.06 s$'
in_order '  sdown' '  odown' '  failover-start' '  promoted' '  switch-master-seen' \
	'  decision' '  role-confirmed' '  haproxy-sent' '  haproxy-acked' \
	'127.0.0.1:7001 -> 127.0.0.1:7002  epoch 4'
has_line '^  sdown +\+0 ms$'
has_line '^  odown +\+93 ms +\+93 ms +###$'
has_line '^  promoted +\+780 ms +\+660 ms +#{22}$'
has_line '^  decision +\+851 ms +\+1 ms +#+$'
has_line '^  haproxy-acked +\+1\.06 s +\+65 ms +#{30}$'
# The unfinished failover: offsets from at_ms, marked incomplete.
has_line '^mymaster  127\.0\.0\.1:7001 -> 127\.0\.0\.1:7002  epoch 4  2026-11-27 16:14:00\.951  total 12\.3 s  \(incomplete\)$'
has_line '^  odown +\+12\.3 s +\+12\.3 s +#{30}$'
# Stage lines are aligned: every offset ends in the same column.
ends=$(grep -E '^  [a-z-]+ +\+' <<<"$OUT" | head -n 9 |
	awk '{ match($0, /^  [a-z-]+ +\+[0-9.]+ m?s/); print RLENGTH }' | sort -u | wc -l)
[ "$ends" -eq 1 ] || hs_fail "stage offsets not right-aligned:
$(show)"
no_trailing_blanks
# Stage lines fit 80 columns (the header carries the whole failover).
w=$(grep -E '^  ' <<<"$OUT" | awk '{ if (length($0) > m) m = length($0) } END { print m }')
[ "$w" -le 80 ] || hs_fail "stage lines are $w wide"

# ------------------------------------------------------------ metrics
hs_log "metrics"
ctl metrics
expect_rc 0 metrics
expected=$(printf '%b' "${metrics_text//\\\"/\"}")
[ "$OUT" = "$expected" ] || hs_fail "metrics not printed raw:
$(show)
--- expected:
$expected"

# ------------------------------------------------------------ resync, check
hs_log "resync, check"
ctl resync
expect_rc 0 resync
[ "$OUT" = "resync started" ] || hs_fail "resync: '$OUT'"

ctl check
expect_rc 1 check
[ "$OUT" = "mymaster: no ready write server
other: no master" ] || hs_fail "check: problems not printed one per line:
$(show)"

ctl check ok
expect_rc 0 "check ok"
[ "$OUT" = OK ] || hs_fail "check ok: '$OUT'"

ctl --json check
expect_rc 1 "check --json"
[ "$OUT" = "$(cat "$D/check")" ] || hs_fail "check --json is not the daemon's line"

# ------------------------------------------------------------ subscribe
hs_log "subscribe"
ctl subscribe
expect_rc 0 subscribe
[ "$(wc -l <<<"$OUT")" -eq 2 ] || hs_fail "subscribe: expected 2 event lines (the ack hidden):
$(show)"
has_line '^16:04:00\.951  127\.0\.0\.1:26379  mymaster    \+sdown                master mymaster 127\.0\.0\.1 7000$'
has_line '^16:04:01\.802  agent            mymaster    decision              write -> 127\.0\.0\.1:7001$'
ctl --json subscribe
expect_rc 0 "subscribe --json"
[ "$OUT" = "$(cat "$D/subscribe")" ] || hs_fail "subscribe --json: not the raw lines:
$(show)"

# ------------------------------------------------------------ --json, unknown shapes, errors
hs_log "--json, fallbacks, errors"
for c in topology sentinels haproxy events timeline metrics resync; do
	ctl --json "$c"
	expect_rc 0 "$c --json"
	[ "$OUT" = "$(cat "$D/$c")" ] || hs_fail "$c --json: not the daemon's line:
$(show)"
done
ctl --json --pretty topology
expect_rc 0 "topology --json --pretty"
has '"masters": ['
[ "$(jq -c . <<<"$OUT" 2>/dev/null)" = "$(jq -c . "$D/topology")" ] ||
	hs_fail "--pretty is not the same document"

# A shape the CLI does not know: indented JSON.
ctl future
expect_rc 0 future
has '"something": "new"'
# A known command answered with an unknown shape: indented JSON too.
cp "$D/future" "$D/topology"
ctl topology
expect_rc 0 "topology, unknown shape"
has '"something": "new"'

ctl nosuchcommand
expect_rc 1 "unknown command"
grep -qF 'unknown command' <<<"$ERR" || hs_fail "the daemon's error is not shown: $(show)"

ctl -t 300 hang
expect_rc 3 "no answer"
grep -qF 'timeout' <<<"$ERR" || hs_fail "no timeout message: $(show)"

"$HASENTINELCTL" -s "$HS_TMP/missing.sock" status >"$HS_TMP/out" 2>"$HS_TMP/err"
RC=$?
OUT=$(cat "$HS_TMP/out"); ERR=$(cat "$HS_TMP/err")
expect_rc 3 "missing socket"
grep -qF 'cannot connect' <<<"$ERR" || hs_fail "missing socket: $(show)"

ctl help
expect_rc 0 help
for c in status topology sentinels haproxy events timeline metrics resync check subscribe; do
	has_line "^  $c( |$)"
done
ctl -h
expect_rc 0 -h
has_line '^  timeline \[MASTER\] '
# The tables the daemon is built from, one name per line.
ctl --list commands
expect_rc 0 "--list commands"
for c in status topology sentinels haproxy events timeline metrics resync check subscribe help; do
	has_line "^$c\$"
done
ctl --list metrics
expect_rc 0 "--list metrics"
has_line '^hasentinel_write_ready$'
ctl --list config-keys
expect_rc 0 "--list config-keys"
has_line '^haproxy-socket$'
ctl --list nothing
expect_rc 2 "--list nothing"

hs_log "ok"
