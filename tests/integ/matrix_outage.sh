#!/usr/bin/env bash
# matrix_outage.sh -- the homeserver goes away (fakehs /_fake/outage: its
# port refuses connections, open ones are cut) and comes back: the bot,
# configured with the default 60 s backoff cap, is serving again within
# seconds. A refused or cut connection is retried within
# MATRIX_CONNECT_WAIT_MAX_MS (3 s) however long the outage, where the
# doubling for server errors would have reached tens of seconds. How soon
# after the server was ready the first reply came is printed, not asserted:
# the schedule itself is tested as a pure function (tests/unit/test_matrix.c).
# MX_OUTAGE_MS sets the outage (default 12000; the issue's was about 50000).
. "$(dirname "$0")/matrix_lib.inc"

OUTAGE_MS=${MX_OUTAGE_MS:-12000}
HS_MAX_SECONDS=$((OUTAGE_MS / 1000 + 240))
start_hs
R=$(fake POST room "{\"members\":[\"$MEMBER\",\"$BOT_USER\"]}" | j 'd["room_id"]')
start_bot --backoff-max-ms 60000
wait_first_sync || notok "the bot started"

Q0=$(member_send "$R" '"body":"a question before the outage?"')
wait_bot "$R" 1 60000
check "answered before the outage" test "$(replies_to "$R" "$Q0")" = 1

fake POST outage "{\"ms\":$OUTAGE_MS}" >/dev/null
up=0
came_back() {
	curl -sS --max-time 5 "$HS/_fake/status" >"$T/status" 2>/dev/null &&
		[ "$(j 'd["outages"]' <"$T/status")" = 1 ]
}
wait_for $((OUTAGE_MS / 1000 + 60)) came_back && up=1
check "the homeserver went away and came back" test "$up" = 1
Q=$(member_send "$R" '"body":"CRISIS right after the outage"')
wait_bot "$R" 2 60000
check "a crisis right after the outage is answered, once" test "$(replies_to "$R" "$Q")" = 1
UP_MS=$(j 'int(d["up_at"] * 1000)' <"$T/status")
REPLY_MS=$(bot_events "$R" | j "[e['origin_server_ts'] for e in d if e['content']['m.relates_to']['m.in_reply_to']['event_id']=='$Q'][0]")
echo "# outage $OUTAGE_MS ms; first reply $((REPLY_MS - UP_MS)) ms after the homeserver was ready"

# the waits the bot chose: every one for no connection is capped
grep -E "failed \((Couldn't connect|Server returned nothing|Failure when receiving|Recv failure|Send failure)" "$T/bot.log" |
	sed -n 's/.*retrying in \([0-9]*\) ms.*/\1/p' >"$T/waits"
check "the outage was met as no connection ($(wc -l <"$T/waits") retries)" test -s "$T/waits"
check "each of those waits was at most 3000 ms (longest $(sort -n "$T/waits" | tail -1) ms)" \
	test "$(awk '$1 > 3000' "$T/waits" | wc -l)" = 0
check "no server error's backoff during the outage" \
	test "$(grep -c "failed (server error)" "$T/bot.log")" = 0
stop_bot
check "SIGTERM: exit 0" test "$STOP_RC" = 0
finish
