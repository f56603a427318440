#!/bin/bash
# Secrets: with password-protected Redis and Sentinels, the agent
# authenticates (Sentinel queries and ROLE checks work, a failover is
# followed) and the password shows nowhere: not in its argv, its environment
# (/proc/PID/environ), its log, or anything the status socket answers.
# Passwords from the command line are refused.
# shellcheck disable=SC2016
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
set -u -o pipefail
. "$(dirname "$0")/lib.sh"

HS_REDIS_PASSWORD="pw-$$-$RANDOM$RANDOM-secret"
# not exported: the processes the test starts must not inherit it
hs_setup
hs_start_lab
hs_start_haproxy

# The Sentinel password from a file, the Redis password from the environment.
printf '%s\n' "$HS_REDIS_PASSWORD" >"$HS_TMP/sentinel.pw"
chmod 600 "$HS_TMP/sentinel.pw"
export HASENTINEL_REDIS_PASSWORD=$HS_REDIS_PASSWORD
hs_start_agent "sentinel-password-file $HS_TMP/sentinel.pw"
unset HASENTINEL_REDIS_PASSWORD

hs_wait_applied 10
master=$(hs_sentinel_master)
hs_wait_until 5 'hs_agent_confirmed_master "$master"' "ROLE (with AUTH) to confirm $master"

# A failover: queries and ROLE on the new master need the passwords too.
hs_kill9 r0
hs_wait_until 20 '[ "$(hs_sentinel_master)" != "$master" ]' "Sentinel to promote a replica"
new=$(hs_sentinel_master)
hs_wait_until 5 '[ "$(hs_ready_servers "$HS_WRITE_BACKEND")" = "$new" ]' "the write backend to follow to $new"

pid=$(hs_pid agent)
leak() { grep -a -F -q -- "$HS_REDIS_PASSWORD"; }
tr '\0' ' ' <"/proc/$pid/cmdline" | leak && hs_fail "the password is in the agent's argv"
# Under a wrapper (valgrind) /proc/PID/environ is the wrapper's copy, which
# the agent cannot wipe.
if [ -z "${HS_AGENT_WRAPPER:-}" ]; then
	tr '\0' '\n' <"/proc/$pid/environ" | leak && hs_fail "the password is still in /proc/$pid/environ"
fi
ps -ww -o args= -p "$pid" | leak && hs_fail "the password shows in ps"
for c in status topology sentinels haproxy "events 512" timeline metrics check; do
	# shellcheck disable=SC2086
	out=$("$HASENTINELCTL" -s "$HS_STATUS_SOCKET" --json $c) || true
	[ -n "$out" ] || hs_fail "hasentinelctl $c answered nothing"
	leak <<<"$out" && hs_fail "the password is in the answer to '$c'"
done
leak <"$HS_TMP/agent.log" && hs_fail "the password is in the agent's log"

# -o sentinel-password=... is refused, and the refusal does not repeat it.
out=$("$HASENTINEL" -t -c "$HS_TMP/hasentinel.conf" -o "sentinel-password=$HS_REDIS_PASSWORD" 2>&1)
rc=$?
[ "$rc" -ne 0 ] || hs_fail "-o sentinel-password was accepted"
leak <<<"$out" && hs_fail "the refusal of -o sentinel-password prints the password"
grep -q 'command line' <<<"$out" || hs_fail "the refusal does not say why: $out"

# A wrong password: a clear error in the log, never the password.
printf 'wrong-%s\n' "$RANDOM" >"$HS_TMP/wrong.pw"
hs_stop "$pid"
: >"$HS_TMP/agent.log"
sed -i "s|^sentinel-password-file .*|sentinel-password-file $HS_TMP/wrong.pw|" "$HS_TMP/hasentinel.conf"
_hs_spawn "$HS_TMP/agent.log" "$HASENTINEL" -c "$HS_TMP/hasentinel.conf"
hs_register agent "$HS_BG_PID"
hs_wait_until 5 'grep -q "AUTH refused" "$HS_TMP/agent.log"' "the agent to log the refused AUTH"
leak <"$HS_TMP/agent.log" && hs_fail "the password is in the agent's log"
grep -q "wrong-" "$HS_TMP/agent.log" && hs_fail "the wrong password is in the agent's log"

hs_log "t07_secrets: ok"
