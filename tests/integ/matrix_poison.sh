#!/usr/bin/env bash
# matrix_poison.sh -- no message silences the bot. Each poison below is
# sent raw (fakehs /_fake/send_raw: the bytes reach the bot as written) in
# one room, in the same /sync batch as a crisis in another room: the crisis
# is answered, and the poison costs its own event at most. Then the bot is
# killed, the same poison and a new crisis arrive while it is down, and the
# restarted bot answers the crisis too (the poison is in its first batch).
# Poisons: \u0000 in a body (the crisis after it is still seen), a lone
# surrogate, \u0000 in a key, 10000 nested arrays as the content and beside
# a body, a 60 KB body, a number past 1e308, bytes that are not UTF-8, body:
# 5, content: "x", an event that is a string. Then whole batches that are
# not JSON (fakehs garbage): with a next_batch, twice, the batch is skipped
# and the moderators told once; once, it is asked again and nothing is
# lost; with no next_batch, it is asked again until a good one comes. A
# fresh start whose first sync is poisoned or not JSON still serves; with
# the driver, a batch over max_body is skipped and told, not asked for
# forever. The bot's log and the moderators' room never show a member's
# text.
. "$(dirname "$0")/matrix_lib.inc"

SECRET=zqxsecret # in every member text: must never reach the log
HS_MAX_SECONDS=600
start_hs
A=$(fake POST room "{\"members\":[\"$MEMBER\",\"$BOT_USER\"],\"name\":\"poisoned\"}" | j 'd["room_id"]')
B=$(fake POST room "{\"members\":[\"$MEMBER\",\"$BOT_USER\"],\"name\":\"crisis\"}" | j 'd["room_id"]')
MOD_ROOM=$(fake POST room "{\"members\":[\"$MOD\",\"$BOT_USER\"],\"name\":\"mods\"}" | j 'd["room_id"]')
start_bot
wait_first_sync || notok "the bot started"

# many_body CASE PHASE: the /_fake/many request: the poison CASE in A and
# a crisis in B, in one batch; the crisis text is what the core answers as
# one (ask_text), the poison's body carries one too where it can be read
CASES="nul surrogate keynul deep deepfield big60k bignum badutf8 body5 contentstr eventstr"
READABLE=" nul surrogate keynul deepfield bignum badutf8 " # the poison's own crisis is answered
many_body() {
	python3 - "$1" "$A" "$B" "$MEMBER" "$(ask_text "CRISIS $SECRET $1 $2")" <<'PY'
import base64, json, sys
case, a, b, member, crisis = sys.argv[1:]
S = "zqxsecret"
c = json.dumps(crisis)[1:-1]  # the crisis as JSON string text
deep = "[" * 10000 + "]" * 10000
raw = {
    "nul": '{"msgtype":"m.text","body":"%s hello\\u0000 %s"}' % (S, c),
    "surrogate": '{"msgtype":"m.text","body":"%s \\ud800 %s \\udc00"}' % (S, c),
    "keynul": '{"msgtype":"m.text","body":"%s %s","k\\u0000\\ud800":1}' % (S, c),
    "deep": deep,
    "deepfield": '{"msgtype":"m.text","body":"%s %s","x":%s}' % (S, c, deep),
    "big60k": '{"msgtype":"m.text","body":"%s %s"}' % (S, "a" * 61440),
    "bignum": '{"msgtype":"m.text","body":"%s %s","n":1e999,"i":123456789012345678901234567890}' % (S, c),
    "body5": '{"msgtype":"m.text","body":5,"x":"%s"}' % S,
    "contentstr": '"%s"' % S,
}
req = {"room_id": a, "sender": member}
if case == "badutf8":
    req["raw_b64"] = base64.b64encode(
        b'{"msgtype":"m.text","body":"%s \xff\xfe\xc0\x80 %s"}' % (S.encode(), c.encode())).decode()
elif case == "eventstr":
    req["event"] = True
    req["raw"] = '"%s an event that is a string"' % S
else:
    req["raw"] = raw[case]
print(json.dumps({"requests": [
    {"name": "send_raw", "body": req},
    {"name": "send", "body": {"room_id": b, "sender": member, "body": crisis}}]}))
PY
}

# send_case CASE PHASE: sends it; sets P (the poison's event id), Q (the crisis')
send_case() {
	local out
	out=$(fake POST many "$(many_body "$1" "$2")")
	P=$(echo "$out" | j 'd["results"][0]["event_id"]')
	Q=$(echo "$out" | j 'd["results"][1]["event_id"]')
	echo "$Q" >>"$T/crises"
	case $READABLE in *" $1 "*) echo "$P" >>"$T/poisons" ;; esac
}

nb=0 na=0 # bot messages expected in B and in A
log_mark() { fake GET log | j 'max([r["n"] for r in d["requests"]] or [0])'; }
# wait_sync_after MARK: until the bot long-polls with a since token after
# request MARK (a first start is over, its backlog behind it)
synced_after() {
	fake GET "log?after=$1" | j "any(r['path'].endswith('/sync') and 'since' in r['query'] for r in d['requests'])" | grep -q True
}
wait_sync_after() { wait_for 30 synced_after "$1"; }

for c in $CASES; do
	send_case "$c" live
	nb=$((nb + 1))
	case $READABLE in *" $c "*) na=$((na + 1)) ;; esac
	wait_bot "$B" "$nb" 60000
	check "$c: the crisis in another room of the same batch is answered" test "$(replies_to "$B" "$Q")" = 1
	if [ "$na" -gt 0 ]; then
		wait_bot "$A" "$na" 60000
		case $READABLE in *" $c "*)
			check "$c: the poisoned message's own crisis is seen and answered" test "$(replies_to "$A" "$P")" = 1 ;;
		esac
	fi
	# the same poison in the first batch after a restart
	{ kill -9 "$BOT_PID" && wait "$BOT_PID"; } 2>/dev/null
	BOT_PID=""
	send_case "$c" restart
	nb=$((nb + 1))
	case $READABLE in *" $c "*) na=$((na + 1)) ;; esac
	start_bot
	wait_bot "$B" "$nb" 60000
	check "$c: after kill -9 and a restart, the crisis is answered" test "$(replies_to "$B" "$Q")" = 1
done

# mod_notices: the moderators' room's notices from the bot (not alerts)
mod_notices() {
	bot_events "$MOD_ROOM" | j "len([e for e in d if e['content'].get('msgtype')=='m.notice' and 'could not read' in e['content']['body']])"
}
# wait_notices N: until the moderators' room has N such notices
has_notices() { [ "$(mod_notices)" -ge "$1" ]; }
wait_notices() { wait_for 60 has_notices "$1"; }
# ask_in ROOM TEXT: a member's message; prints its event id
ask_in() { fake POST send "{\"room_id\":\"$1\",\"sender\":\"$MEMBER\",\"body\":\"$(ask_text "$2")\"}" | j 'd["event_id"]'; }
# garbage_rule STYLE COUNT MARK: the next /sync answers holding MARK are not JSON
garbage_rule() {
	fake POST script "{\"rules\":[{\"path\":\"/sync$\",\"action\":\"garbage\",\"style\":\"$1\",\"count\":$2,\"when\":\"$3\"}]}" >/dev/null
}

# a batch that is not JSON, with its next_batch after the junk, twice:
# skipped (the crisis after it is sent once the skip is done, or it would
# share the lost batch)
garbage_rule tail 2 lost1
X=$(ask_in "$A" "CRISIS $SECRET lost1")
wait_notices 1
Q=$(ask_in "$B" "CRISIS $SECRET after lost1")
echo "$Q" >>"$T/crises"
nb=$((nb + 1))
wait_bot "$B" "$nb" 60000
check "not JSON twice (next_batch after junk): the next crisis is answered" test "$(replies_to "$B" "$Q")" = 1
check "not JSON twice: its message is lost (skipped, not replayed)" test "$(replies_to "$A" "$X")" = 0
check "not JSON twice: one notice to the moderators that messages may be missed" test "$(mod_notices)" = 1

# the same with the next_batch first and the body cut
garbage_rule head 2 lost2
X=$(ask_in "$A" "CRISIS $SECRET lost2")
wait_notices 2
Q=$(ask_in "$B" "CRISIS $SECRET after lost2")
echo "$Q" >>"$T/crises"
nb=$((nb + 1))
wait_bot "$B" "$nb" 60000
check "cut body twice (next_batch first): the next crisis is answered" test "$(replies_to "$B" "$Q")" = 1
check "cut body twice: a second notice to the moderators" test "$(mod_notices)" = 2

# once only: a glitch; asked again, nothing is lost
garbage_rule tail 1 glitch
X=$(ask_in "$A" "CRISIS $SECRET glitch")
na=$((na + 1))
wait_bot "$A" "$na" 60000
check "not JSON once: asked again, its crisis is answered all the same" test "$(replies_to "$A" "$X")" = 1
echo "$X" >>"$T/poisons"

# no next_batch at all (a proxy's page), three times: asked again, nothing lost
garbage_rule none 3 nonb
X=$(ask_in "$A" "CRISIS $SECRET nonb")
na=$((na + 1))
wait_bot "$A" "$na" 60000
check "no next_batch (3 times): backed off, asked again, the crisis is answered" test "$(replies_to "$A" "$X")" = 1
echo "$X" >>"$T/poisons"
check "no next_batch: no notice (nothing was skipped)" test "$(mod_notices)" = 2

# a fresh start (no session, no sync position) whose first sync carries a
# poison as the room's latest event, then one that is not JSON at all
{ kill -9 "$BOT_PID" && wait "$BOT_PID"; } 2>/dev/null
BOT_PID=""
fake POST send_raw "$(python3 -c 'import json,sys; print(json.dumps({"room_id":sys.argv[1],"sender":sys.argv[2],"raw":"{\"msgtype\":\"m.text\",\"body\":\"zqxsecret \\u0000\\ud800\",\"x\":" + "["*10000 + "]"*10000 + "}"}))' "$A" "$MEMBER")" >/dev/null
rm -rf "$T/state"
MARK=$(log_mark)
start_bot
wait_sync_after "$MARK" || notok "fresh start: the first sync is over"
Q=$(ask_in "$B" "CRISIS $SECRET fresh")
echo "$Q" >>"$T/crises"
nb=$((nb + 1))
wait_bot "$B" "$nb" 60000
check "fresh start with a poisoned latest event: a crisis is answered" test "$(replies_to "$B" "$Q")" = 1
{ kill -9 "$BOT_PID" && wait "$BOT_PID"; } 2>/dev/null
BOT_PID=""
rm -rf "$T/state"
fake POST script '{"rules":[{"path":"/sync$","action":"garbage","style":"tail","count":2}]}' >/dev/null
MARK=$(log_mark)
start_bot
wait_sync_after "$MARK" || notok "fresh start, not JSON: the first sync is over"
Q=$(ask_in "$B" "CRISIS $SECRET fresh2")
echo "$Q" >>"$T/crises"
nb=$((nb + 1))
wait_bot "$B" "$nb" 60000
check "fresh start whose first sync is not JSON: skipped, then a crisis is answered" test "$(replies_to "$B" "$Q")" = 1

# driver only (the config has no max_body): a batch over max_body, once
# asked again forever, is read as a body cut short: skipped, and told
NSKIP=3
if [ "$MX_BOT" = driver ]; then
	stop_bot
	start_bot --max-body 65536
	X=$(fake POST send "$(python3 -c 'import json,sys; print(json.dumps({"room_id":sys.argv[1],"sender":sys.argv[2],"body":"zqxsecret " + "b" * 70000 + " CRISIS"}))' "$A" "$MEMBER")" | j 'd["event_id"]')
	wait_notices 4
	Q=$(ask_in "$B" "CRISIS $SECRET after a batch over max_body")
	echo "$Q" >>"$T/crises"
	nb=$((nb + 1))
	wait_bot "$B" "$nb" 60000
	check "a batch over max_body: skipped, told, the next crisis answered" test "$(replies_to "$B" "$Q"):$(mod_notices)" = 1:4
	NSKIP=4
fi

# the last crisis is answered: every batch before it is handled, replays too
bot_events "$B" >"$T/b.json"
bot_events "$A" >"$T/a.json"
doubled=0 missing=0
while read -r q; do
	c=$(j "len([e for e in d if e['content']['m.relates_to']['m.in_reply_to']['event_id']=='$q'])" <"$T/b.json")
	[ "$c" = 0 ] && missing=$((missing + 1))
	[ "$c" -gt 1 ] && doubled=$((doubled + 1))
done <"$T/crises"
while read -r q; do
	c=$(j "len([e for e in d if e['content']['m.relates_to']['m.in_reply_to']['event_id']=='$q'])" <"$T/a.json")
	[ "$c" = 0 ] && missing=$((missing + 1))
	[ "$c" -gt 1 ] && doubled=$((doubled + 1))
done <"$T/poisons"
check "every crisis answered ($missing missing), none twice ($doubled doubled), restarts included" test "$missing:$doubled" = 0:0
check "exactly $nb replies in the crisis room" test "$(j 'len(d)' <"$T/b.json")" = "$nb"
check "a moderators' alert for each crisis, and a notice for each skipped batch ($NSKIP)" \
	test "$(bot_events "$MOD_ROOM" | j "len(d)")" -ge $((nb + na + NSKIP))
check "no member text in the moderators' room" \
	test "$(bot_events "$MOD_ROOM" | grep -c "$SECRET")" = 0
check "no member text in the bot's log" test "$(grep -c "$SECRET" "$T/bot.log")" = 0
check "the log says each skip ($NSKIP)" test "$(grep -c "unreadable response .* skipped" "$T/bot.log")" = "$NSKIP"
check "and asked once more before each" test "$(grep -c "asking once more before skipping" "$T/bot.log")" -ge "$NSKIP"
kill -0 "$BOT_PID" 2>/dev/null
check "the bot is still running" test $? = 0
stop_bot
check "SIGTERM: exit 0" test "$STOP_RC" = 0
driver_only "the runs counted their skipped batches" test "$(grep -c "unreadable=1" "$T/bot.log")" = 2
finish
