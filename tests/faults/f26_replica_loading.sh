#!/bin/bash
# f26: a replica that is loading its data set stays out of the read backend
# (topo.h R1-R3), with a writer on the write port. The master gets
# F26_KEYS keys; the replica restarts with key-load-delay (Redis 7's
# debugging delay per key loaded) and loading-process-events-interval-bytes
# 1024 (so that it answers while it loads), so loading lasts seconds:
#  a. restarted from its own RDB (SAVE first): it loads from disk, then
#     resyncs partially;
#  b. restarted with its RDB removed: it starts empty, the master sends a
#     full sync, and it loads what it received.
# While the replica itself says loading:1 (INFO persistence, polled about
# every 20 ms), its slot in the read backend is never ready (sampled every
# 50 ms), the other replica is ready at every poll, and no read through the
# read port (a new connection each, GET, every ~10 ms) gets -LOADING. Once
# it has loaded and linked it is ready again within 20 s. The write backend
# never changes.
# converge_ms: (a) from the end of loading (first poll with loading:0) to
# the read backend whole again. DETAIL: load_a_ms, load_b_ms (loading seen),
# back_b_ms, polls, reads, and where each reply went.
# Conditions are single-quoted and eval'd by hs_wait_until:
# shellcheck disable=SC2016,SC2034,SC2119
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
set -u -o pipefail
. "$(dirname "$0")/faultlib.sh"

F26_KEYS=${F26_KEYS:-40000}
# usleep per key: ~4-10 s of loading for 40000 keys, more on a loaded machine.
F26_DELAY_US=${F26_DELAY_US:-60}

hsf_setup f26_replica_loading
hsf_start_lab_writing

master=$(hs_sentinel_master "$HS_MASTER") || hs_fail "no sentinel answers GET-MASTER-ADDR-BY-NAME"
replicas=$(hs_replica_addrs)
victim_addr=$(head -n 1 <<<"$replicas")
survivor=$(tail -n 1 <<<"$replicas")
victim=$(hs_name_of_port "${victim_addr##*:}") || hs_fail "replica $victim_addr is not one of the lab's servers"
vport=${HS_PORT[$victim]}

# The data set: F26_KEYS keys through the master (replicated to both).
awk -v n="$F26_KEYS" 'BEGIN { for (i = 0; i < n; i++) {
	k = "f26:k:" i; v = "value-" i
	printf "*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n", length(k), k, length(v), v } }' |
	timeout 60 redis-cli -h "$HS_IP" -p "${master##*:}" --pipe >"$HS_TMP/pipe.out" 2>&1 ||
	hs_fail "redis-cli --pipe into the master failed: $(tail -n 2 "$HS_TMP/pipe.out")"
for p in $replicas; do
	hs_wait_until 30 '[ "$(hs_cli "${p##*:}" EXISTS "f26:k:$((F26_KEYS - 1))")" = 1 ]' "replica $p to have the keys"
done
hs_log "$F26_KEYS keys on the master and both replicas; victim $victim ($victim_addr), survivor $survivor"

# INFO persistence on PORT, without a fork: F26_LD=1 loading, 0 not, - no answer.
f26_loading() {
	local fd line body
	F26_LD=-
	if exec {fd}<>"/dev/tcp/$HS_IP/$1"; then
		printf 'INFO persistence\r\n' >&"$fd"
		if IFS= read -r -t 2 line <&"$fd"; then
			line=${line%$'\r'}
			if [[ $line =~ ^\$[0-9]+$ ]] && IFS= read -r -N $((${line#\$} + 2)) -t 2 body <&"$fd"; then
				[[ $body == *$'\nloading:1'* ]] && F26_LD=1
				[[ $body == *$'\nloading:0'* ]] && F26_LD=0
			fi
		fi
		exec {fd}>&-
	fi 2>/dev/null
}

# Reads through the read port, a new connection each (HAProxy spreads
# connections, not requests): "<wall_ms> <first line of the reply>" per read
# in $HS_TMP/reads.NAME, until $HS_TMP/reads.NAME.stop exists (120 s at most).
f26_start_reader() {
	local name=$1 out=$HS_TMP/reads.$1
	rm -f "$out.stop"
	: >"$out"
	(
		_hsf_now
		start=$HSF_NOW
		while ((HSF_NOW - start < 120000)) && [ ! -f "$out.stop" ]; do
			line=-
			if exec {fd}<>"/dev/tcp/$HS_IP/$HS_READ_PORT"; then
				printf 'GET f26:k:1\r\n' >&"$fd"
				IFS= read -r -t 2 line <&"$fd" || line=-
				exec {fd}>&-
			fi 2>/dev/null
			_hsf_now
			echo "$HSF_NOW ${line%$'\r'}"
			hsf_pause 0.01
			_hsf_now
		done
	) >>"$out" 2>/dev/null &
	hs_register "reader_$name" $!
}

f26_stop_reader() {
	local rpid=${HS_PID[reader_$1]}
	touch "$HS_TMP/reads.$1.stop"
	hs_wait_until 10 '! hs_alive "$rpid"' "the reader $1 to stop"
	hs_stop "$rpid"
}

# f26_restart NAME [fresh]: stop the replica, start it again (its RDB
# removed with "fresh") with the loading delay; returns once it answers ROLE
# (allowed while it loads; PING is not).
f26_restart() {
	local name=$1 dir=$HS_TMP/$1 port=${HS_PORT[$1]}
	hs_stop "${HS_PID[$name]}"
	[ "${2:-}" != fresh ] || rm -f "$dir/dump.rdb"
	# The command line of hs_start_redis (its redis.conf is still there).
	_hs_spawn "$HS_TMP/$name.log" redis-server "$dir/redis.conf" --port "$port" --bind "$HS_IP" \
		--save "" --appendonly no --repl-diskless-sync-delay 0 --dir "$dir" --daemonize no \
		--replicaof "$HS_IP" "${master##*:}" \
		--key-load-delay "$F26_DELAY_US" --loading-process-events-interval-bytes 1024
	hs_register "$name" "$HS_BG_PID"
	_hs_wait_started "$name" 5 '[ "$(hs_role_via "$port")" = slave ]'
}

# f26_phase NAME [fresh]: restart, follow loading to its end, check the
# samples and the reads. Sets F26_LOAD_MS (loading seen: first to last
# loading:1) and F26_BACK_MS (end of loading to both replicas ready).
f26_phase() {
	local ph=$1 lf=$HS_TMP/loading.$1 deadline first last end bad n reads loading_reads
	: >"$lf"
	hsf_start_sampler "$ph" 0.05 "$HS_WRITE_BACKEND" "$HS_READ_BACKEND"
	f26_start_reader "$ph"
	hsf_mark "restart_$ph"
	hs_log "phase $ph: restarting $victim${2:+ ($2: its RDB removed)}"
	f26_restart "$victim" "${2:-}"
	# Until it has loaded: loading:1 seen, then loading:0 (90 s at most).
	_hsf_now
	deadline=$((HSF_NOW + 90000))
	first=
	last=
	end=
	while :; do
		f26_loading "$vport"
		_hsf_now
		echo "$HSF_NOW $F26_LD" >>"$lf"
		if [ "$F26_LD" = 1 ]; then
			[ -n "$first" ] || first=$HSF_NOW
			last=$HSF_NOW
		elif [ "$F26_LD" = 0 ] && [ -n "$first" ]; then
			end=$HSF_NOW
			break
		fi
		((HSF_NOW < deadline)) || hs_fail "phase $ph: $victim did not finish loading within 90 s (first loading:1 at ${first:-never})"
		hsf_pause 0.02
	done
	F26_LOAD_MS=$((last - first))
	n=$(grep -c ' 1$' "$lf")
	hs_log "phase $ph: loading:1 from $first to $last ($F26_LOAD_MS ms, $n polls)"
	((F26_LOAD_MS >= 1000 && n >= 10)) ||
		hs_fail "phase $ph: loading seen for only $F26_LOAD_MS ms ($n polls): too short to check anything (raise F26_KEYS or F26_DELAY_US)"
	hs_wait_until 20 '[ "$(hs_ready_servers "$HS_READ_BACKEND")" = "$replicas" ]' \
		"phase $ph: $HS_READ_BACKEND to have both replicas ready again after loading"
	F26_BACK_MS=$(($(hs_now_ms) - end))
	hs_log "phase $ph: both replicas ready $F26_BACK_MS ms after the end of loading"
	hsf_stop_sampler "$ph"
	f26_stop_reader "$ph"

	# While it said loading:1, never ready; the survivor ready at every poll.
	n=$(awk -v a="$first" -v b="$last" '$1 >= a && $1 <= b' "$HS_TMP/$ph.samples" | wc -l)
	((n >= 10)) || hs_fail "phase $ph: only $n samples while loading"
	bad=$(awk -v a="$first" -v b="$last" -v be="$HS_READ_BACKEND" -v v="$victim_addr" '
		$1 >= a && $1 <= b { for (i = 2; i <= NF; i++) if (index($i, be "=") == 1) {
			s = "," substr($i, length(be) + 2) ","; if (index(s, "," v ",")) print } }' "$HS_TMP/$ph.samples")
	[ -z "$bad" ] || hs_fail "phase $ph: $victim_addr ready in $HS_READ_BACKEND while it was loading: $(head -n 3 <<<"$bad")"
	# (a poll HAProxy did not answer, "?", says nothing)
	bad=$(awk -v be="$HS_READ_BACKEND" -v v="$survivor" '
		{ for (i = 2; i <= NF; i++) if (index($i, be "=") == 1) {
			s = "," substr($i, length(be) + 2) ","; if (s != ",?," && !index(s, "," v ",")) print } }' "$HS_TMP/$ph.samples")
	[ -z "$bad" ] || hs_fail "phase $ph: the other replica $survivor was not ready at some polls: $(head -n 3 <<<"$bad")"
	bad=$(hsf_sampler_values "$ph" "$HS_WRITE_BACKEND" | paste -sd' ')
	[ "$bad" = "$master" ] || hs_fail "phase $ph: $HS_WRITE_BACKEND changed: $bad"
	# No read got -LOADING; reads kept working.
	reads=$(wc -l <"$HS_TMP/reads.$ph")
	loading_reads=$(grep -c ' -LOADING' "$HS_TMP/reads.$ph")
	((loading_reads == 0)) || hs_fail "phase $ph: $loading_reads reads through the read port got -LOADING: $(grep -m 3 ' -LOADING' "$HS_TMP/reads.$ph")"
	n=$(awk -v a="$first" -v b="$last" '$1 >= a && $1 <= b && $2 ~ /^\$/' "$HS_TMP/reads.$ph" | wc -l)
	((n >= 10)) || hs_fail "phase $ph: only $n reads answered while $victim was loading"
	F26_READS=$reads
	F26_POLLS=$(hsf_sampler_count "$ph")
	hs_log "phase $ph: $F26_POLLS polls, $reads reads ($n answered while loading, none -LOADING)"
}

f26_phase a
HSF_CONVERGE_MS=$F26_BACK_MS
load_a=$F26_LOAD_MS
polls=$F26_POLLS
reads=$F26_READS

# b: a full sync, loaded from what the master sent.
nfull=$(grep -c 'Full resync from master' "$HS_TMP/$victim.log")
nload=$(grep -c 'MASTER <-> REPLICA sync: Loading DB in memory' "$HS_TMP/$victim.log")
f26_phase b fresh
(($(grep -c 'Full resync from master' "$HS_TMP/$victim.log") > nfull)) ||
	hs_fail "phase b: $victim did not get a full sync (see $victim.log)"
(($(grep -c 'MASTER <-> REPLICA sync: Loading DB in memory' "$HS_TMP/$victim.log") > nload)) ||
	hs_fail "phase b: $victim did not load what the full sync sent (see $victim.log)"
HSF_RESULT_EXTRA="load_a_ms=$load_a load_b_ms=$F26_LOAD_MS back_b_ms=$F26_BACK_MS polls=$((polls + F26_POLLS)) reads=$((reads + F26_READS))"
hsf_finish
