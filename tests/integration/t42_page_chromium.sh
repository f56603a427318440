#!/bin/bash
# The agent's page (/hasentinel on the stats port) in a real browser:
# headless Chromium renders it from HAProxy (real Redis, Sentinel, agent),
# its DOM has the master group, the master, the replicas and the Sentinels,
# and a screenshot is written; with the agent stopped the rendered page
# shows the agent-down banner. Chromium talks to 127.0.0.1 only (its
# background traffic is switched off). Exit 77 without chromium.
. "$(dirname "$0")/lib.sh"
hs_setup
CHROMIUM=${CHROMIUM:-$(command -v chromium || command -v chromium-browser || true)}
[ -n "$CHROMIUM" ] || hs_skip "chromium not installed"
hs_start_lab
hs_start_haproxy
hs_start_agent
hs_wait_applied 15

# browse WHAT OUT: Chromium headless on the page; --dump-dom to OUT, or
# --screenshot=OUT when WHAT is "screenshot".
browse() {
	local prof
	prof=$(mktemp -d "$HS_TMP/chromium.XXXXXX")
	local args=(--headless --no-sandbox --disable-gpu --disable-quic --no-first-run
		--disable-background-networking --disable-component-update --disable-sync
		--disable-default-apps --hide-scrollbars --user-data-dir="$prof" --window-size=1300,900)
	if [ "$1" = screenshot ]; then
		timeout 120 "$CHROMIUM" "${args[@]}" --screenshot="$2" "http://127.0.0.1:$HS_STATS_PORT/hasentinel" \
			>>"$HS_TMP/chromium.log" 2>&1
	else
		timeout 120 "$CHROMIUM" "${args[@]}" --dump-dom "http://127.0.0.1:$HS_STATS_PORT/hasentinel" \
			>"$2" 2>>"$HS_TMP/chromium.log"
	fi
}
dom_has() {
	grep -qF -- "$1" "$HS_TMP/dom.html" || hs_fail "the rendered page lacks '$1'$(printf '\n'; head -c 2000 "$HS_TMP/dom.html")"
}

m=$(hs_sentinel_master)
hs_log "rendering /hasentinel with $CHROMIUM"
browse dom "$HS_TMP/dom.html" || hs_fail "chromium failed (see chromium.log)"
dom_has "<title>hasentinel</title>"
dom_has "<h2>$HS_MASTER "
dom_has "<b>$m</b>"
for r in $(hs_replica_addrs); do dom_has "<td>$r</td>"; done
for n in s0 s1 s2; do dom_has "127.0.0.1:${HS_PORT[$n]}"; done
grep -q 'id="agent-down"' "$HS_TMP/dom.html" && hs_fail "the agent-down banner is shown with the agent up"

browse screenshot "$HS_TMP/page.png" || hs_fail "chromium --screenshot failed (see chromium.log)"
[ "$(head -c 4 "$HS_TMP/page.png" | od -An -tx1 | tr -d ' ')" = 89504e47 ] || hs_fail "no PNG written"
hs_log "screenshot: $(wc -c <"$HS_TMP/page.png") bytes"

hs_log "agent stopped: the rendered page says so"
hs_stop "${HS_PID[agent]}"
browse dom "$HS_TMP/dom.html" || hs_fail "chromium failed (see chromium.log)"
dom_has 'id="agent-down"'
dom_has "The agent is unreachable"
hs_log "PASS"
