#!/usr/bin/env bash
# matrix_slow_room.sh -- one room's sends held up hold up no other room
# (issue 12, item 1). Two rooms, A and B. The fake homeserver answers the
# reply in room A with 429 and a Retry-After of 600 s; then it holds the
# next one open; then it answers 503 to every try. Each time a question
# and a crisis in room B are answered, and the moderators' alert posted,
# while A's reply still waits; then A's reply is posted exactly once, with
# the transaction id of its first try: after a restart (the 429's wait
# outlasts the process: the reply waited in the outbox), after the held
# request is let go, after the 503s stop. Last, the token is revoked:
# every request then refused with 401 waits for one fresh login, shared. What happened first is read
# from the order in which the homeserver saw the requests, and every wait
# is on a condition: no check depends on how fast the machine is.
. "$(dirname "$0")/matrix_lib.inc"

start_hs
RA=$(fake POST room "{\"members\":[\"$MEMBER\",\"$MOD\",\"$BOT_USER\"],\"name\":\"room A\"}" | j 'd["room_id"]')
RB=$(fake POST room "{\"members\":[\"$MEMBER\",\"$MOD\",\"$BOT_USER\"],\"name\":\"room B\"}" | j 'd["room_id"]')
MOD_ROOM=$(fake POST room "{\"members\":[\"$MOD\",\"$BOT_USER\"],\"name\":\"mods\"}" | j 'd["room_id"]')
start_bot
wait_first_sync || notok "the bot started"

# a_rule ACTION [EXTRA-JSON]: a fakehs rule for the sends to room A only
a_rule() {
	python3 -c '
import json, re, sys, urllib.parse
r = {"path": re.escape("/rooms/" + urllib.parse.quote(sys.argv[1], safe="") + "/send/"),
     "method": "PUT", "action": sys.argv[2]}
r.update(json.loads(sys.argv[3]))
print(json.dumps({"rules": [r]}))' "$RA" "$1" "${2:-{\}}" >"$T/rule.json"
	fake POST script "@$T/rule.json" >/dev/null
}
txn_of() { printf 'fb-.24%s' "${1#\$}"; } # mx_txn_reply of an event id
# log_n WHAT EVENT: the homeserver's log numbers of the PUTs of the reply
# to EVENT (WHAT: "all", or an action: "429", "hold", "503")
log_n() {
	fake GET log | j "[r['n'] for r in d['requests'] if r['method']=='PUT' and r['path'].endswith('/$(txn_of "$2")') and ('$1'=='all' or r.get('action')=='$1')]"
}
met() { test "$(log_n "$1" "$2" | j 'len(d)')" -ge "${3:-1}"; }
# first_put EVENT: the log number of the first PUT of the reply to EVENT
first_put() { log_n all "$1" | j 'min(d) if d else 0'; }
alerted() { bot_events "$MOD_ROOM" | j "len([e for e in d if '$(urlenc "$1")' in e['content']['body']])"; }
# b_served WHILE: a question and a crisis in B, answered, and the crisis
# alerted, while room A's reply to WHILE still has no answer; the first of
# B's replies reached the homeserver after A's reply was held up (LOG_N)
b_served() {
	local what=$1 qb cb nb nm
	nb=$(bot_events "$RB" | j 'len(d)')
	nm=$(bot_events "$MOD_ROOM" | j 'len(d)')
	qb=$(member_send "$RB" "\"body\":\"a question in B during $what?\"")
	cb=$(member_send "$RB" "\"body\":\"CRISIS in B during $what\"")
	wait_bot "$RB" $((nb + 2)) 20000
	wait_bot "$MOD_ROOM" $((nm + 1)) 20000
	check "$what: room B's question is answered while room A's reply waits" \
		test "$(replies_to "$RB" "$qb"):$(replies_to "$RA" "$QA")" = "1:0"
	check "$what: room B's crisis is answered, and the moderators alerted, while A waits" \
		test "$(replies_to "$RB" "$cb"):$(alerted "$cb"):$(replies_to "$RA" "$QA")" = "1:1:0"
	check "$what: B's replies reached the homeserver after A's reply was held up" \
		test "$(first_put "$qb")" -gt "$LOG_N"
}
# once EVENT: the reply to EVENT in A is there, and stays one: a marker
# question asked after it in A is answered (a room's sends keep their
# order), and still exactly one reply to EVENT, all its tries under one
# transaction id
once() {
	local mk n
	n=$(bot_events "$RA" | j 'len(d)')
	mk=$(member_send "$RA" '"body":"a marker question in A?"')
	wait_bot "$RA" $((n + 1)) 20000
	test "$(replies_to "$RA" "$mk"):$(replies_to "$RA" "$1")" = "1:1"
}

# 1. 429 with Retry-After 600 s: B is served, the stop is quick, A's reply
#    waits in the outbox and is posted once after the restart
# (every try of A meets the fault until it is cleared, so no check hangs
# on a try falling before or after one)
a_rule 429 '{"retry_after": 600, "count": 100000}'
QA=$(member_send "$RA" '"body":"a question in A?"')
check "room A's reply is answered 429, Retry-After 600 s" wait_for 60 met 429 "$QA"
LOG_N=$(log_n 429 "$QA" | j 'max(d)')
b_served "a 429 in A"
stop_bot
fake POST script_clear >/dev/null
check "SIGTERM while A's reply waits out its 429: exit 0 in ${STOP_MS} ms (< 2000)" \
	test "$STOP_RC:$((STOP_MS < 2000))" = "0:1"
check "A's reply waits in the outbox, its transaction id with it" \
	grep -lq "$(txn_of "$QA")" "$T"/state/outbox/[qg]-*
check "the outbox holds none of the member's words" \
	bash -c "! grep -rqiE 'question in A|end my life' '$T/state/outbox'"
start_bot
wait_bot "$RA" 1 20000
check "after the restart A's reply is posted" test "$(replies_to "$RA" "$QA")" = 1
check "...exactly once" once "$QA"
check "...with the transaction id of its first try (2 tries, one id)" \
	test "$(log_n all "$QA" | j 'len(d)')" = 2

# 2. A's send held open (in flight, no answer): B is served; let go, A's
#    reply is posted once
a_rule hold '{"ms": 600000, "count": 100000}'
QA=$(member_send "$RA" '"body":"a question in A while held?"')
check "room A's reply is held open by the homeserver" wait_for 60 met hold "$QA"
LOG_N=$(log_n hold "$QA" | j 'max(d)')
b_served "a held send in A"
fake POST script_clear >/dev/null
fake POST release >/dev/null
posted() { test "$(replies_to "$RA" "$QA")" = 1; }
check "let go, A's reply is posted" wait_for 60 posted
check "...exactly once" once "$QA"
check "...every try under one transaction id (the held one and the next)" met all "$QA" 2

# 3. 503 to every try in A: A backs off, B is served; the 503s stop, A's
#    reply is posted once
a_rule 503 '{"count": 100000}'
QA=$(member_send "$RA" '"body":"a question in A during 503s?"')
check "room A's reply meets 503s and is tried again" wait_for 60 met 503 "$QA" 2
LOG_N=$(log_n 503 "$QA" | j 'max(d)')
b_served "503s in A"
fake POST script_clear >/dev/null
check "the 503s over, A's reply is posted" wait_for 60 posted
check "...exactly once" once "$QA"

# 4. the token revoked: whatever the homeserver refuses with 401 then (the
#    next sync, each room's reply) waits for one fresh login, shared
MARK=$(fake GET log | j 'max(r["n"] for r in d["requests"])')
fake POST revoke_token "{\"user_id\":\"$BOT_USER\"}" >/dev/null
Q1=$(member_send "$RA" '"body":"a question in A after the revoke?"')
Q2=$(member_send "$RB" '"body":"a question in B after the revoke?"')
both() { test "$(replies_to "$RA" "$Q1"):$(replies_to "$RB" "$Q2")" = "1:1"; }
check "the token revoked: the questions in A and in B are answered" wait_for 60 both
since_mark() { fake GET "log?after=$MARK" | j "len([r for r in d['requests'] if $1])"; }
LOGINS=$(since_mark "r['path'].endswith('/login')")
REFUSED=$(since_mark "r.get('status')==401")
check "...after one fresh login ($LOGINS) for every request refused ($REFUSED)" \
	test "$LOGINS:$((REFUSED >= 1))" = "1:1"
check "...A's posted once (a question after it answered, still one)" once "$Q1"

stop_bot
check "SIGTERM: exit 0 in ${STOP_MS} ms (< 2000)" test "$STOP_RC:$((STOP_MS < 2000))" = "0:1"
check "the outbox is empty once everything is sent" \
	bash -c "! ls '$T'/state/outbox/[qg]-* >/dev/null 2>&1"
check "no message text in the bot's log" \
	bash -c "! grep -qiE 'question in|end my life|what is TMS' '$T/bot.log'"
finish
