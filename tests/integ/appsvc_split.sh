#!/usr/bin/env bash
# appsvc_split.sh -- two processes, split by bot user: faqbot-1 and
# faqbot-2, each its own registration, exclusive namespace, listener and
# state, each invited to its share of the rooms. Every room is answered
# exactly once, by the bot it was given to; the other bot never posts
# there. A crisis in one bot's room alerts the shared moderators' room.
. "$(dirname "$0")/appsvc_lib.inc"

B1=$(as_user 1) B2=$(as_user 2)
start_hs
MOD_ROOM=$(fake POST room "{\"members\":[\"$MOD\"],\"invite\":[\"$B1\",\"$B2\"]}" | j 'd["room_id"]')
for n in 1 2; do
	as_config "$n"
	as_register "$n" || notok "registration $n"
done
check "each registration has its own user and exclusive namespace" \
	bash -c "grep -q 'regex: \"^@faqbot-1:fake\\\\\\\\.test\$\"' '$T/as1/state/registration.yaml' && grep -q 'regex: \"^@faqbot-2:fake\\\\\\\\.test\$\"' '$T/as2/state/registration.yaml' && ! cmp -s '$T/as1/state/as_token' '$T/as2/state/as_token'"
declare -A OWNER
for i in 1 2 3 4 5 6; do
	n=$(((i - 1) % 2 + 1))
	r=$(fake POST room "{\"members\":[\"$MEMBER\",\"$MOD\"],\"invite\":[\"$(as_user $n)\"]}" | j 'd["room_id"]')
	OWNER[$r]=$n
	echo "$r" >>"$T/rooms"
done
as_start 1 || notok "bot 1 listens"
as_start 2 || notok "bot 2 listens"
BOT_USER=$B1
while read -r r; do
	BOT_USER=$(as_user "${OWNER[$r]}")
	wait_joined "$r" || notok "bot ${OWNER[$r]} joined its room"
done <"$T/rooms"

while read -r r; do
	member_send "$r" '"body":"a question for this room?"' >"$T/q-${r//[^A-Za-z0-9]/}"
done <"$T/rooms"
bad=0 wrong=0
while read -r r; do
	BOT_USER=$(as_user "${OWNER[$r]}")
	wait_bot "$r" 1 20000
done <"$T/rooms"
sleep 1 # a second answer, from either bot, would show by now
while read -r r; do
	q=$(cat "$T/q-${r//[^A-Za-z0-9]/}")
	mine=$(replies_by "$(as_user "${OWNER[$r]}")" "$r" "$q")
	other=$(replies_by "$(as_user $((3 - OWNER[$r])))" "$r" "$q")
	[ "$mine" = 1 ] || bad=$((bad + 1))
	[ "$other" = 0 ] || wrong=$((wrong + 1))
done <"$T/rooms"
check "every room answered exactly once by its bot ($bad not)" test "$bad" = 0
check "no bot answered in the other's room ($wrong did)" test "$wrong" = 0

# a crisis in a room of bot 2: answered there, the moderators alerted once
r=$(sed -n 2p "$T/rooms")
BOT_USER=$B2
C=$(member_send "$r" '"body":"CRISIS tonight"')
wait_bot "$r" 2 20000
check "a crisis in bot 2's room is answered" test "$(replies_by "$B2" "$r" "$C")" = 1
alerts() { fake GET "events?room_id=$(urlenc "$MOD_ROOM")" | j "len([e for e in d['events'] if e['type']=='m.room.message' and e['sender'] in ('$B1','$B2')])"; }
wait_for 30 bash -c "[ \"\$(curl -sS '$HS/_fake/events?room_id=$(urlenc "$MOD_ROOM")' | python3 -c \"import json,sys; print(len([e for e in json.load(sys.stdin)['events'] if e['type']=='m.room.message']))\")\" -ge 1 ]"
sleep 0.5
check "the moderators' room is alerted once" test "$(alerts)" = 1
stop_bot
as_finish
