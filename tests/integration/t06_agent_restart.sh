#!/bin/bash
# The agent restarts (SIGTERM, start again) while HAProxy keeps running: the
# traffic must not notice. Polled every 50 ms from before the stop until
# after the new agent has confirmed the master, the write backend is always
# exactly the master, and the master's slot was never changed (its
# srv_time_since_last_change keeps growing).
# Conditions are single-quoted and eval'd by hs_wait_until:
# shellcheck disable=SC2016,SC2034,SC2119
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
set -u -o pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

hs_setup
hs_start_lab
hs_start_haproxy
hs_start_agent
hs_wait_applied 5

master=$(hs_sentinel_master "$HS_MASTER") || hs_fail "no sentinel answers GET-MASTER-ADDR-BY-NAME"
hs_wait_until 5 'hs_agent_confirmed_master "$master"' "hasentinelctl status --json to show the master $master confirmed"
before=$(hs_last_change "$HS_WRITE_BACKEND" "$master")
[ -n "$before" ] || hs_fail "no slot of $HS_WRITE_BACKEND holds $master"

# The watcher: polls the write backend every 50 ms (plus the time a poll
# takes) for at least 3 s, and until 1.5 s after the main script creates the
# stop file (bounded to 20 s). Every poll appends one line to watch.txt: "ok"
# or what it saw instead; the main script appends "mark ..." lines there too,
# so the log shows the polls before the stop and after the confirmation.
watch_log=$HS_TMP/watch.txt
stop_file=$HS_TMP/watch.stop
(
	start=$(hs_now_ms)
	stop_at=
	while (($(hs_now_ms) - start < 20000)); do
		if ready=$(hs_ready_servers "$HS_WRITE_BACKEND"); then
			if [ "$ready" = "$master" ]; then echo ok; else echo "$(date +%T.%3N) ready: ${ready:-none}" | paste -sd' '; fi
		else
			echo "$(date +%T.%3N) admin socket did not answer"
		fi
		if [ -z "$stop_at" ] && [ -f "$stop_file" ]; then
			stop_at=$(($(hs_now_ms) + 1500))
		fi
		if [ -n "$stop_at" ] && (($(hs_now_ms) >= stop_at && $(hs_now_ms) - start >= 3000)); then
			exit 0
		fi
		sleep 0.05
	done
	echo "watcher: no stop after 20 s"
) >>"$watch_log" &
hs_register watcher $!

hs_wait_until 2 'grep -q "^ok$" "$watch_log"' "the watcher's first poll"
hs_log "restarting the agent (pid ${HS_PID[agent]})"
echo "mark stop" >>"$watch_log"
hs_stop "${HS_PID[agent]}"
[ "$HS_LAST_STATUS" = 0 ] || hs_fail "the agent exited with status $HS_LAST_STATUS on SIGTERM, expected 0"
hs_start_agent
hs_wait_until 5 'hs_agent_confirmed_master "$master"' \
	"the restarted agent's status to show the master $master confirmed"
echo "mark confirmed" >>"$watch_log"
touch "$stop_file"
hs_wait_until 25 '! hs_alive "${HS_PID[watcher]}"' "the watcher to finish"
hs_stop "${HS_PID[watcher]}"

bad=$(grep -v -e '^ok$' -e '^mark ' "$watch_log")
[ -z "$bad" ] || hs_fail "the write backend was not exactly $master during the agent restart:
$bad"
# Polls on both sides of the restart: before the stop, after the confirmation.
polls_before=$(sed '/^mark stop$/q' "$watch_log" | grep -c '^ok$')
polls_after=$(sed '1,/^mark confirmed$/d' "$watch_log" | grep -c '^ok$')
polls=$(grep -c '^ok$' "$watch_log")
((polls_before >= 1 && polls_after >= 1)) ||
	hs_fail "the watcher did not poll across the restart ($polls_before polls before the stop, $polls_after after the confirmation)"

after=$(hs_last_change "$HS_WRITE_BACKEND" "$master")
[ -n "$after" ] || hs_fail "no slot of $HS_WRITE_BACKEND holds $master any more"
((after >= before)) ||
	hs_fail "the master's slot changed during the restart (srv_time_since_last_change $before -> $after)"

hs_log "t06_agent_restart: ok ($polls polls)"
