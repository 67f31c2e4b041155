#!/usr/bin/env bash
# appsvc_restart.sh -- kill -9 in the middle of a transaction loses nothing
# and doubles nothing: the homeserver keeps pushing a transaction until it
# is acknowledged, the bot acknowledges only what it handled and kept, and
# the replies' transaction ids keep a replay from showing twice. Two
# points: while the bot asks a room's member count inside the transaction
# (before its reply is queued), and while its reply is held on the way
# out (after the transaction was acknowledged). After a restart, an old
# transaction id pushed again is acknowledged and not handled (the ids
# handled are kept on disk). And a transaction the bot cannot keep waits,
# retried: the log and `faqbot health` say how many wait and since when.
. "$(dirname "$0")/appsvc_lib.inc"

start_hs
as_config 1
as_register 1 || notok "registration"
R=$(fake POST room "{\"members\":[\"$MEMBER\",\"$MOD\",\"$BOT_USER\"]}" | j 'd["room_id"]')
as_start 1 || notok "the bot listens"

held() { fake GET log | j "any(r.get('action')=='hold' and '$1' in r['path'] for r in d['requests'])" | grep -q True; }

# 1. inside the transaction: the member count asked, held; kill -9 there
fake POST script '{"rules":[{"path":"joined_members","action":"hold","ms":20000}]}' >/dev/null
Q1=$(member_send "$R" '"body":"first question?"')
wait_for 60 held joined_members && ok "the bot is inside the transaction" || notok "the bot is inside the transaction"
as_kill9 1
fake POST release >/dev/null
fake POST script_clear >/dev/null
check "killed before its answer" test "$(replies_to "$R" "$Q1")" = 0
check "the transaction was not acknowledged" \
	bash -c "curl -sS '$HS/_fake/as_log?id=faqbot-1' | python3 -c \"import json,sys; d=json.load(sys.stdin); sys.exit(0 if d['pending']>=1 and d['pushes'][-1]['status']!=200 else 1)\""
as_start 1
wait_bot "$R" 1 20000
check "after the restart, the homeserver's retry is answered" test "$(replies_to "$R" "$Q1")" = 1

# 2. after the acknowledgement: the reply held on the way out; kill -9
fake POST script '{"rules":[{"path":"/send/m\\.room\\.message/","method":"PUT","action":"hold","ms":20000}]}' >/dev/null
Q2=$(member_send "$R" '"body":"second question?"')
wait_for 60 held /send/ && ok "the reply is on its way out" || notok "the reply is on its way out"
as_kill9 1
fake POST release >/dev/null
fake POST script_clear >/dev/null
check "killed before the reply landed" test "$(replies_to "$R" "$Q2")" = 0
as_start 1
wait_bot "$R" 2 20000
sleep 1 # a double would show by now
check "after the restart, the journal sends it" test "$(replies_to "$R" "$Q2")" = 1
check "the first question is still answered once" test "$(replies_to "$R" "$Q1")" = 1
check "two replies in the room, no more" test "$(bot_events "$R" | j 'len(d)')" = 2

# 3. an old transaction id pushed again after the restart: not handled
OLD=$(as_log 1 | j "[p['txn'] for p in d['pushes'] if p['status']==200 and p['events']>0][0]")
body="{\"events\":[{\"type\":\"m.room.message\",\"room_id\":\"$R\",\"sender\":\"$MEMBER\",\"event_id\":\"\$stale1\",\"origin_server_ts\":$(date +%s)000,\"content\":{\"msgtype\":\"m.text\",\"body\":\"what is TMS? stale\"}}]}"
check "an old transaction id again: 200" \
	test "$(bot_says 1 PUT "/_matrix/app/v1/transactions/$OLD" "$(hs_token 1)" "$body")" = 200
sleep 1
check "and nothing in it handled (the ids handled survive a restart)" \
	test "$(replies_to "$R" '$stale1')" = 0
check "a new id with the same event: handled" \
	test "$(bot_says 1 PUT /_matrix/app/v1/transactions/fresh-1 "$(hs_token 1)" "$body")" = 200
wait_bot "$R" 3 20000
check "answered once" test "$(replies_to "$R" '$stale1')" = 1

# 4. a transaction the bot cannot keep (its ids' file cannot be replaced):
# refused with a 503 again and again, so waiting; the log and `faqbot
# health` say how many transactions wait, and since when
health() { "${FAQBOT:-build/asan/faqbot}" health --config "$T/as1/faqbot.conf" 2>&1; }
none_told() { health | grep -q "no transaction waiting to be acknowledged"; }
wait_for 60 none_told && ok "health before: no transaction waiting" || { notok "health before: no transaction waiting"; health; }
rm -f "$T/as1/state/appservice_txns"
mkdir -p "$T/as1/state/appservice_txns/held"
Q4=$(member_send "$R" '"body":"what is TMS? while the ids cannot be kept"')
refused2() { [ "$(as_log 1 | j "len([p for p in d['pushes'] if p['status']==503])")" -ge 2 ]; }
wait_for 60 refused2 && ok "the transaction is refused (503) and retried" || notok "the transaction is refused (503) and retried"
check "the log says one transaction waits" \
	grep -q "not acknowledged (.*): the homeserver sends it again; 1 transactions waiting, the oldest first came [0-9]* ms ago" "$T/bot1.log"
waiting_told() { health | grep -q "1 transactions received and not acknowledged yet, the oldest first came [0-9]* s ago"; }
wait_for 60 waiting_told && ok "faqbot health says one transaction waits, and since when" ||
	{ notok "faqbot health says one transaction waits, and since when"; health; }
rm -rf "$T/as1/state/appservice_txns"
wait_bot "$R" 4 20000
check "kept again: the question is answered once" test "$(replies_to "$R" "$Q4")" = 1
wait_for 60 none_told && ok "then health says none waits" || { notok "then health says none waits"; health; }
check "and the log says none waits" \
	grep -q "handled: .* 0 transactions waiting, the oldest first came 0 ms ago" "$T/bot1.log"
stop_bot
as_finish
