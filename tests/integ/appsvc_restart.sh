#!/usr/bin/env bash
# appsvc_restart.sh -- kill -9 in the middle of a transaction loses nothing
# and doubles nothing: the homeserver keeps pushing a transaction until it
# is acknowledged, the bot acknowledges only what it handled and kept, and
# the replies' transaction ids keep a replay from showing twice. Two
# points: while the bot asks a room's member count inside the transaction
# (before its reply is queued), and while its reply is held on the way
# out (after the transaction was acknowledged). After a restart, an old
# transaction id pushed again is acknowledged and not handled (the ids
# handled are kept on disk).
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
stop_bot
as_finish
