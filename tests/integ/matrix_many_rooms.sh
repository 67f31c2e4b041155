#!/usr/bin/env bash
# matrix_many_rooms.sh -- a first start in many rooms (MX_ROOMS, default
# 2,000; the bench does 10,000), each with a history: an earlier question,
# and in some an earlier crisis. The bot answers none of it (a first start
# answers no backlog), then serves every room: a crisis in the last room
# is answered and the moderators alerted, a question in the first room is
# answered, and `faqbot health` says how far behind the bot is. Assertions
# on behaviour only; how fast and how large is the bench's (make bench).
. "$(dirname "$0")/matrix_lib.inc"

N=${MX_ROOMS:-2000}
start_hs
MOD_ROOM=$(fake POST room "{\"members\":[\"$MOD\",\"$BOT_USER\"]}" | j 'd["room_id"]')
# the rooms, 500 at a time under one lock (fake's "many"); then their
# history, one question a room and a crisis in every hundredth
python3 - "$HS" "$N" "$MEMBER" "$BOT_USER" "$MX_BOT" >"$T/rooms" <<'PY'
import json, sys, urllib.request
hs, n, member, bot, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
def many(reqs):
    out = []
    for i in range(0, len(reqs), 500):
        body = json.dumps({"requests": reqs[i:i + 500]}).encode()
        r = urllib.request.Request(hs + "/_fake/many", data=body, method="POST",
                                   headers={"Content-Type": "application/json"})
        out += json.load(urllib.request.urlopen(r, timeout=120))["results"]
    return out
rooms = [r["room_id"] for r in many([{"name": "room", "body": {"members": [member, bot]}}] * n)]
q = "what is TMS? an old question" if mode == "faqbot" else "an old question?"
c = "I want to end my life. an old CRISIS" if mode == "faqbot" else "an old CRISIS"
many([{"name": "send", "body": {"room_id": r, "sender": member, "body": q}} for r in rooms] +
     [{"name": "send", "body": {"room_id": r, "sender": member, "body": c}} for r in rooms[::100]])
print("\n".join(rooms))
PY
check "$N rooms made, each with a history" test "$(wc -l <"$T/rooms")" = "$N"
FIRST=$(head -1 "$T/rooms")
LAST=$(tail -1 "$T/rooms")

start_bot
wait_first_sync || notok "the bot started in $N rooms"
sent() { # the bot's messages the homeserver took, in every room
	fake GET log | j "len([r for r in d['requests'] if r['method']=='PUT' and '/send/' in r['path']])"
}
check "the first start answers none of the history, crises included" test "$(sent)" = 0
check "...and says so in its log" grep -q "first start: sync position recorded" "$T/bot.log"

C=$(member_send "$LAST" '"body":"CRISIS in the last room"')
wait_bot "$LAST" 1 20000
check "a crisis in room $N of $N is answered, once" test "$(replies_to "$LAST" "$C")" = 1
wait_bot "$MOD_ROOM" 1 20000
alert_names() { bot_events "$MOD_ROOM" | j "[e['content']['body'] for e in d]" | grep -qF "$LAST"; }
check "...and the moderators alerted, naming the room" alert_names
Q=$(member_send "$FIRST" '"body":"a question in the first room?"')
wait_bot "$FIRST" 1 20000
check "a question in room 1 is answered" test "$(replies_to "$FIRST" "$Q")" = 1
check "no other room got a message" test "$(sent)" = 3

if [ "$MX_BOT" = faqbot ]; then
	# the mark carries the lag once a batch with a time was handled
	# (the mark is written at most every 5 s: a wait on the condition)
	behind() { "${FAQBOT:-build/asan/faqbot}" health --config "$T/faqbot.conf" 2>&1 | grep -q "behind: "; }
	check "faqbot health says how far behind the bot is" wait_for 30 behind
	"${FAQBOT:-build/asan/faqbot}" health --config "$T/faqbot.conf" | sed 's/^/# /'
fi
stop_bot
check "SIGTERM: exit 0" test "$STOP_RC" = 0
finish
