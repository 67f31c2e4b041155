#!/usr/bin/env bash
# appsvc_basic.sh -- faqbot as an Application Service: the homeserver
# pushes, the bot answers. An invite is joined; a question pushed in a
# transaction is answered once; a crisis is answered and the moderators'
# room alerted; the spec's other endpoints answer as it says (ping, user
# and alias queries, 404/405 M_UNRECOGNIZED, 403 for a wrong or missing
# hs_token, 413 over max_body); a push with a wrong hs_token is refused and
# nothing is answered until the token is right again; a transaction pushed
# twice, retried after its 200 was lost, retried after a reset, or split
# and reordered, is answered once for each question.
. "$(dirname "$0")/appsvc_lib.inc"

start_hs
MOD_ROOM=$(fake POST room "{\"members\":[\"$MOD\"],\"invite\":[\"$BOT_USER\"]}" | j 'd["room_id"]')
as_config 1 "max_body = 65536"
check "appservice-registration writes the registration" as_register 1
check "the tokens are files only their owner reads" \
	test "$(stat -c %a "$T/as1/state/as_token" "$T/as1/state/hs_token" "$T/as1/state/registration.yaml" | sort -u)" = 600
check "the tokens are not printed" \
	bash -c "! grep -qF '$(hs_token 1)' '$T/as1/reg.out' && ! grep -qF \"\$(cat '$T/as1/state/as_token')\" '$T/as1/reg.out'"
before=$(cat "$T/as1/state/as_token")
as_register 1
check "run twice, the tokens are kept" test "$(cat "$T/as1/state/as_token")" = "$before"
R=$(make_room)
as_start 1 || notok "the bot listens"
wait_joined "$R" && ok "an invite pushed in a transaction is joined" || notok "an invite pushed in a transaction is joined"
check "the bot joined the moderators' room" joined "$MOD_ROOM"

Q=$(member_send "$R" '"body":"first question?"')
wait_bot "$R" 1
check "a question pushed in a transaction is answered" test "$(replies_to "$R" "$Q")" = 1
check "the client calls carry the as_token" \
	bash -c "fake() { curl -sS '$HS/_fake/log'; }; fake | python3 -c \"import json,sys; d=json.load(sys.stdin); r=[x for x in d['requests'] if '/send/' in x['path']]; sys.exit(0 if r and all(x['token']=='$(cut -c59- "$T/as1/state/as_token")' for x in r) else 1)\""

C=$(member_send "$R" '"body":"CRISIS now"')
wait_bot "$R" 2
check "a crisis is answered" test "$(replies_to "$R" "$C")" = 1
wait_for 30 bash -c "[ \"\$(curl -sS '$HS/_fake/events?room_id=$(urlenc "$MOD_ROOM")' | python3 -c \"import json,sys; print(len([e for e in json.load(sys.stdin)['events'] if e['sender']=='$BOT_USER' and e['type']=='m.room.message']))\")\" -ge 1 ]" &&
	ok "the moderators' room is alerted" || notok "the moderators' room is alerted"

# the other endpoints, as the spec has them
HT=$(hs_token 1)
check "ping: 200" test "$(bot_says 1 POST /_matrix/app/v1/ping "$HT" '{"transaction_id":"t1"}')" = 200
check "ping with a wrong hs_token: 403 M_FORBIDDEN" \
	bash -c "[ \"\$(bot_says() { :; }; curl -s -o '$T/said' -w '%{http_code}' -X POST -H 'Authorization: Bearer nope' 'http://127.0.0.1:${AS_PORT[1]}/_matrix/app/v1/ping')\" = 403 ] && grep -q M_FORBIDDEN '$T/said'"
check "a transaction with no token: 403" \
	test "$(bot_says 1 PUT /_matrix/app/v1/transactions/x1 "" '{"events":[]}')" = 403
check "the bot's user: 200" test "$(bot_says 1 GET "/_matrix/app/v1/users/$(urlenc "$BOT_USER")" "$HT")" = 200
check "another user: 404" test "$(bot_says 1 GET "/_matrix/app/v1/users/$(urlenc @x:fake.test)" "$HT")" = 404
check "a room alias: 404" test "$(bot_says 1 GET "/_matrix/app/v1/rooms/$(urlenc '#x:fake.test')" "$HT")" = 404
check "an unknown path: 404 M_UNRECOGNIZED" \
	bash -c "[ \"\$(curl -s -o '$T/said' -w '%{http_code}' -H 'Authorization: Bearer $HT' 'http://127.0.0.1:${AS_PORT[1]}/_matrix/app/v1/nothing')\" = 404 ] && grep -q M_UNRECOGNIZED '$T/said'"
check "GET on a transaction: 405" test "$(bot_says 1 GET /_matrix/app/v1/transactions/x2 "$HT")" = 405
python3 -c 'import json; print(json.dumps({"events": [], "pad": "x" * 100000}))' >"$T/big.json"
check "a body over max_body: 413" test "$(bot_says 1 PUT /_matrix/app/v1/transactions/x3 "$HT" "@$T/big.json")" = 413
check "a body that is no transaction: 400" test "$(bot_says 1 PUT /_matrix/app/v1/transactions/x4 "$HT" '[1,2]')" = 400
check "a legacy path: the same endpoint" test "$(bot_says 1 PUT /transactions/x5 "$HT" '{"events":[]}')" = 200

# a wrong hs_token: refused, nothing answered; right again: answered once
fake POST appservice_token '{"id":"faqbot-1","hs_token":"wrong"}' >/dev/null
W=$(member_send "$R" '"body":"asked while the token is wrong?"')
refused() { as_log 1 | j "len([p for p in d['pushes'] if p['status']==403])" | grep -qv '^0$'; }
wait_for 60 refused && ok "a push with a wrong hs_token is refused (403)" || notok "a push with a wrong hs_token is refused (403)"
wait_for 60 bash -c "[ \"\$(curl -sS '$HS/_fake/as_log?id=faqbot-1' | python3 -c \"import json,sys; print(len([p for p in json.load(sys.stdin)['pushes'] if p['status']==403]))\")\" -ge 2 ]"
check "nothing is answered while the token is wrong" test "$(replies_to "$R" "$W")" = 0
check "the bot says why in its log (not the token)" \
	bash -c "grep -q 'refused: a wrong hs_token' '$T/bot1.log' && ! grep -qF '$HT' '$T/bot1.log'"
fake POST appservice_token "{\"id\":\"faqbot-1\",\"hs_token\":\"$HT\"}" >/dev/null
wait_bot "$R" 3 20000
check "the right token again: the question is answered once" test "$(replies_to "$R" "$W")" = 1

# faults of the push: each question is still answered once
n=3
for fault in duplicate ack_lost reset; do
	fake POST appservice_fault "{\"id\":\"faqbot-1\",\"rules\":[{\"action\":\"$fault\"}]}" >/dev/null
	F=$(member_send "$R" "\"body\":\"question under $fault?\"")
	n=$((n + 1))
	wait_bot "$R" $n 20000
	wait_for 30 bash -c "curl -sS '$HS/_fake/as_log?id=faqbot-1' | python3 -c \"import json,sys; d=json.load(sys.stdin); sys.exit(0 if d['pending']==0 else 1)\""
	sleep 0.5 # a second answer would show by now
	check "a transaction under '$fault' is answered once" test "$(replies_to "$R" "$F")" = 1
done
check "a retry of a handled transaction is acknowledged, not handled again" \
	grep -q "again: handled before" "$T/bot1.log"

# four questions in one transaction, split and pushed out of order
fake POST appservice_fault '{"id":"faqbot-1","rules":[{"action":"reorder"}]}' >/dev/null
reqs=""
for i in 1 2 3 4; do
	reqs="$reqs${reqs:+,}{\"name\":\"send\",\"body\":{\"room_id\":\"$R\",\"sender\":\"$MEMBER\",\"body\":\"what is TMS? reordered $i\"}}"
done
fake POST many "{\"requests\":[$reqs]}" | j '[r["event_id"] for r in d["results"]]' | tr -d '[]" ' | tr , '\n' >"$T/reordered"
wait_bot "$R" $((n + 4)) 20000
sleep 0.5
bad=0
while read -r e; do [ "$(replies_to "$R" "$e")" = 1 ] || bad=$((bad + 1)); done <"$T/reordered"
check "a transaction split and reordered: each question answered once ($bad not)" test "$bad" = 0
check "the split went out of order" \
	bash -c "curl -sS '$HS/_fake/as_log?id=faqbot-1' | python3 -c \"import json,sys; t=[int(p['txn']) for p in json.load(sys.stdin)['pushes'] if p['status']==200]; sys.exit(0 if any(b < a for a, b in zip(t, t[1:])) else 1)\""

stop_bot
check "SIGTERM: exit 0" test "$STOP_RC" = 0
as_finish
