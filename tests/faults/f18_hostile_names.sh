#!/bin/bash
# f18: names and addresses that could split a runtime API command never
# reach HAProxy. Besides the three real Sentinels the agent is configured
# with five stand-ins (tests/tools/fake_sentinel, each describing the lab's
# nodes by their real ports, at config epoch 5, higher than the real 0):
#   name_semicolon  group "mymaster;disable frontend redis_write"
#   name_newline    group "mymaster<LF>disable frontend redis_read"
#   name_backslash  group "mymaster\;disable frontend redis_write"
#   ip_semicolon    group mymaster, every node at "127.0.0.1;disable frontend redis_write"
#   ip_newline      group mymaster, every node at "127.0.0.1<LF>disable frontend redis_read"
# Each then "fails over" (SIGUSR1: +switch-master with the same names and
# addresses). For 5 s after that, polled every 50 ms: both frontends stay
# enabled (show stat: OPEN), the write backend is exactly the real master
# and the read backend the real replicas; the agent stays alive; the writer
# (through the write port) sees no write acknowledged by a non-master.
# converge_ms: 0 (nothing may change). DETAIL: polls, rejected (agent.log
# lines about a rejected name or address).
# Conditions are single-quoted and eval'd by hs_wait_until:
# shellcheck disable=SC2016,SC2034,SC2119
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
set -u -o pipefail
. "$(dirname "$0")/faultlib.sh"

hsf_setup f18_hostile_names
base=$(hsf_pick_consecutive_ports 3)
HS_PORT[r0]=$base HS_PORT[r1]=$((base + 1)) HS_PORT[r2]=$((base + 2))
hs_start_lab
hs_start_haproxy

declare -A FAKE_ARGS=(
	[name_semicolon]="-m|mymaster;disable frontend redis_write"
	[name_newline]="-m|mymaster"$'\n'"disable frontend redis_read"
	[name_backslash]="-m|mymaster\\;disable frontend redis_write"
	[ip_semicolon]="-i|127.0.0.1;disable frontend redis_write"
	[ip_newline]="-i|127.0.0.1"$'\n'"disable frontend redis_read"
)
lines=()
for f in "${!FAKE_ARGS[@]}"; do
	HS_PORT[$f]=$(hs_free_port)
	_hs_spawn "$HS_TMP/$f.log" "$HSF_FAKE_SENTINEL" -p "${HS_PORT[$f]}" -b "$base" -r 2 -e 5 \
		"${FAKE_ARGS[$f]%%|*}" "${FAKE_ARGS[$f]#*|}"
	hs_register "$f" "$HS_BG_PID"
	_hs_wait_started "$f" 5 '[ "$(hs_cli "${HS_PORT[$f]}" PING)" = PONG ]'
	lines+=("sentinel 127.0.0.1:${HS_PORT[$f]}")
done
hs_start_agent "${lines[@]}"
hs_wait_applied 5
hsf_start_events
hsf_start_writer
master=$(hs_sentinel_master "$HS_MASTER") || hs_fail "no sentinel answers GET-MASTER-ADDR-BY-NAME"
replicas=$(hs_replica_addrs | paste -sd,)

frontends_open() {
	local st
	st=$(hs_hap show stat | awk -F, '$2 == "FRONTEND" { print $1 "=" $18 }' | sort | paste -sd' ')
	# Every frontend open (stats and the hold's ticker included), the two
	# Redis ones among them.
	case " $st " in *" redis_read=OPEN "*) ;; *) echo "$st"; return 1 ;; esac
	case " $st " in *" redis_write=OPEN "*) ;; *) echo "$st"; return 1 ;; esac
	case "$st" in
	*=[!O]* | *=O[!P]*) echo "$st"; return 1 ;;
	esac
}
st=$(frontends_open) || hs_fail "frontends before the faults: $st"
hs_wait_until 10 '[ "$(hs_agent_status | jq "[.sentinels[] | select(.subscribed)] | length")" -ge 8 ]' \
	"the agent to subscribe to all 8 Sentinels"

hsf_start_sampler lab 0.05 "$HS_WRITE_BACKEND" "$HS_READ_BACKEND"
hsf_mark fault
for f in "${!FAKE_ARGS[@]}"; do
	kill -USR1 "${HS_PID[$f]}"
done
t0=$(hs_now_ms)
while (($(hs_now_ms) - t0 < 5000)); do
	hs_alive "${HS_PID[agent]}" || hs_fail "the agent died"
	st=$(frontends_open) || hs_fail "a frontend is no longer open: $st"
	sleep 0.2
done
hsf_stop_sampler lab
hs_alive "${HS_PID[agent]}" || hs_fail "the agent died"
wvals=$(hsf_sampler_values lab "$HS_WRITE_BACKEND" | paste -sd' ')
rvals=$(hsf_sampler_values lab "$HS_READ_BACKEND" | paste -sd' ')
[ "$wvals" = "$master" ] || hs_fail "$HS_WRITE_BACKEND was not always exactly $master: $wvals"
[ "$rvals" = "$replicas" ] || hs_fail "$HS_READ_BACKEND was not always exactly $replicas: $rvals"
hs_hap show servers state | grep -E 'disable|;' && hs_fail "a server line shows a hostile text"
rejected=$(grep -ciE 'invalid|reject|ignor|not a valid|bad name|bad addr' "$HS_TMP/agent.log")
hs_log "agent.log lines about rejected input: $rejected; e.g. $(grep -m3 -iE 'invalid|reject|ignor' "$HS_TMP/agent.log" | cut -c1-160 | paste -sd'|')"
HSF_CONVERGE_MS=0
HSF_RESULT_EXTRA="polls=$(hsf_sampler_count lab) rejected_log_lines=$rejected"
hsf_finish
