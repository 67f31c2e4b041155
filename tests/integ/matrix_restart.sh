#!/usr/bin/env bash
# matrix_restart.sh -- kill -9 in the middle of a batch, then a restart:
# no question left unanswered and none answered twice (the batch replays,
# the transaction ids keep the server from posting again). Messages sent
# while the bot was down are answered after a restart (it resumes, it does
# not skip), and SIGTERM in the middle of a batch still exits 0 in < 2 s.
. "$(dirname "$0")/matrix_lib.inc"

N=12
start_hs
R=$(fake POST room "{\"members\":[\"$MEMBER\",\"$BOT_USER\"]}" | j 'd["room_id"]')
start_bot --handler-ms 300
wait_first_sync || notok "the bot started"

# N questions in one go: they arrive in one or two sync batches. The
# homeserver lets 4 replies through and holds the 5th: the kill lands while
# the bot waits on it, whatever the machine's speed.
fake POST script '{"rules":[{"path":"/send/m\\.room\\.message/","method":"PUT","action":"hold","skip":4,"count":1000}]}' >/dev/null
for i in $(seq $N); do
	printf '{"room_id":"%s","sender":"%s","body":"%s"}' "$R" "$MEMBER" "$(ask_text "question $i?")" >"$T/q$i.json"
done
for i in $(seq $N); do
	curl -sS -X POST --data-binary @"$T/q$i.json" "$HS/_fake/send" | j 'd["event_id"]'
done >"$T/questions"
wait_bot "$R" 4 30000
held=0
logged() { fake GET log | j "any(r.get('action')=='$1' for r in d['requests'])" | grep -q True; }
wait_for 30 logged hold && held=1
check "the homeserver holds a reply mid-batch" test "$held" = 1
{ kill -9 "$BOT_PID" && wait "$BOT_PID"; } 2>/dev/null
BOT_PID=""
fake POST script_clear >/dev/null
fake POST release >/dev/null
BEFORE=$(bot_events "$R" | j 'len(d)')
check "killed mid-batch ($BEFORE of $N answered)" test "$BEFORE" -lt "$N"

# while it is down, two more questions
for i in 1 2; do
	member_send "$R" "\"body\":\"asked while the bot was down $i?\"" >>"$T/questions"
done
start_bot
wait_bot "$R" $((N + 2)) 20000
sleep 1 # anything doubled would show by now
bot_events "$R" >"$T/after.json"
missing=0 doubled=0
while read -r q; do
	c=$(j "len([e for e in d if e['content']['m.relates_to']['m.in_reply_to']['event_id']=='$q'])" <"$T/after.json")
	[ "$c" = 0 ] && missing=$((missing + 1))
	[ "$c" -gt 1 ] && doubled=$((doubled + 1))
done <"$T/questions"
check "after kill -9 and restart: none unanswered ($missing missing)" test "$missing" = 0
check "after kill -9 and restart: none answered twice ($doubled doubled)" test "$doubled" = 0
check "exactly $((N + 2)) replies in the room" test "$(j 'len(d)' <"$T/after.json")" = $((N + 2))
PUTS=$(fake GET log | j "len([r for r in d['requests'] if r['method']=='PUT'])")
check "the replay resent some replies, the server posted them once ($PUTS sends)" test "$PUTS" -gt $((N + 2))

# SIGTERM in the middle of a slow batch
stop_bot
start_bot --handler-ms 400
wait_first_sync
for i in 1 2 3 4 5; do
	member_send "$R" "\"body\":\"late question $i?\"" >>"$T/late"
done
wait_bot "$R" $((N + 3)) 15000
stop_bot
check "SIGTERM mid-batch: exit 0" test "$STOP_RC" = 0
check "SIGTERM mid-batch: gone in ${STOP_MS} ms (< 2000)" test "$STOP_MS" -lt 2000
start_bot
wait_bot "$R" $((N + 7)) 15000
sleep 0.5
check "after SIGTERM and restart: the rest answered, once each" \
	test "$(bot_events "$R" | j 'len(d)')" = $((N + 7))

# SIGTERM while a reply waits out a long 429: the wait is cut, the exit is
# clean and quick, and the question is answered after the restart
fake POST script '{"rules":[{"path":"/send/","action":"429","retry_after":30}]}' >/dev/null
Q=$(member_send "$R" '"body":"rate limited question?"')
wait_for 5 logged 429
sleep 0.3
stop_bot
check "SIGTERM during a 30 s Retry-After: exit 0 in ${STOP_MS} ms (< 10000, not the 30 s)" \
	test "$STOP_RC:$((STOP_MS < 10000))" = "0:1"
start_bot
wait_bot "$R" $((N + 8)) 15000
check "the rate-limited question is answered after the restart, once" \
	test "$(replies_to "$R" "$Q")" = 1
stop_bot
finish
