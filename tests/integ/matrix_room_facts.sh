#!/usr/bin/env bash
# matrix_room_facts.sh -- a room's facts asked while serving hold up
# nothing but that room's ordinary messages (issue 12). After a restart
# the sync no longer brings a room's member count and power levels, so
# the bot asks them at the room's first message; the fake homeserver holds
# room A's asks open. Meanwhile a crisis in A is answered and alerted at
# once, ahead of A's question that came before it, and a question in room
# B is answered; A's questions wait, and once the asks end (let go: no
# answer) they are answered without the facts, once each, in order. The
# bot waits at most 5 s for an ask (MATRIX_QUICK_TIMEOUT_MS): every step
# that must fall inside that wait is taken right after the hold is seen.
. "$(dirname "$0")/matrix_lib.inc"

start_hs
RA=$(fake POST room "{\"members\":[\"$MEMBER\",\"$MOD\",\"$BOT_USER\"],\"name\":\"room A\"}" | j 'd["room_id"]')
RB=$(fake POST room "{\"members\":[\"$MEMBER\",\"$MOD\",\"$BOT_USER\"],\"name\":\"room B\"}" | j 'd["room_id"]')
MOD_ROOM=$(fake POST room "{\"members\":[\"$MOD\",\"$BOT_USER\"],\"name\":\"mods\"}" | j 'd["room_id"]')
start_bot
wait_first_sync || notok "the bot started"
stop_bot

# room A's asks (joined_members, state/m.room.power_levels) held open
python3 -c '
import json, re, sys, urllib.parse
r = {"path": re.escape("/rooms/" + urllib.parse.quote(sys.argv[1], safe="") + "/") +
     "(joined_members|state/m\\.room\\.power_levels)",
     "method": "GET", "action": "hold", "ms": 30000, "count": 100}
print(json.dumps({"rules": [r]}))' "$RA" >"$T/rule.json"
fake POST script "@$T/rule.json" >/dev/null
held() { fake GET log | j "any(r.get('action')=='hold' and 'joined_members' in r['path'] for r in d['requests'])" | grep -q True; }
alerted() { bot_events "$MOD_ROOM" | j "len([e for e in d if '$(urlenc "$1")' in e['content']['body']])"; }
put_n() { # put_n EVENT: the log number of the first PUT of the reply to EVENT
	fake GET log | j "min([r['n'] for r in d['requests'] if r['method']=='PUT' and r['path'].endswith('/fb-.24${1#\$}')] or [0])"
}

start_bot
Q1=$(member_send "$RA" '"body":"a first question in A?"')
check "the bot asks room A's facts, and the homeserver holds the ask" wait_for 60 held
C=$(member_send "$RA" '"body":"CRISIS in A"')
Q2=$(member_send "$RA" '"body":"a second question in A?"')
QB=$(member_send "$RB" '"body":"a question in B?"')
wait_bot "$RB" 1 20000
wait_bot "$MOD_ROOM" 1 20000
check "while A's facts are asked: A's crisis is answered and the moderators alerted" \
	test "$(replies_to "$RA" "$C"):$(alerted "$C")" = "1:1"
check "while A's facts are asked: B's question is answered" test "$(replies_to "$RB" "$QB")" = 1
fake POST release >/dev/null
fake POST script_clear >/dev/null
wait_bot "$RA" 3 20000
check "once the asks end: A's questions are answered, once each" \
	test "$(replies_to "$RA" "$Q1"):$(replies_to "$RA" "$Q2")" = "1:1"
check "the crisis went out before the question asked before it" \
	test "$(put_n "$C")" -lt "$(put_n "$Q1")"
check "A's questions are answered in the order they came" \
	test "$(put_n "$Q1")" -lt "$(put_n "$Q2")"
stop_bot
start_bot
M=$(member_send "$RA" '"body":"a marker question in A?"')
wait_bot "$RA" 4 20000
# a double of an earlier answer, sent again from the journal, would go out
# before the marker's in this room (a room's sends keep their order)
wait_for 20 test "$(replies_to "$RA" "$M")" = 1
check "after a restart: the marker is answered, nothing before it again" \
	test "$(replies_to "$RA" "$M"):$(replies_to "$RA" "$Q1"):$(replies_to "$RA" "$Q2"):$(replies_to "$RA" "$C")" = "1:1:1:1"
stop_bot
check "no message text in the bot's log" bash -c "! grep -qiE 'question in|CRISIS in' '$T/bot.log'"
finish
