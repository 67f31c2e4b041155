#!/usr/bin/env bash
# matrix_directed.sh -- what the core's new reply fields look like to a
# member and a moderator, with the stand-in core: an answer directed to
# another member mentions them (m.mentions, a pill, escaped) and not the
# asker; what is not a user id is ignored; a reply pointing to an earlier
# message links to the bot's answer to it (else to it); the core's notice
# for the moderators goes to their room after the reply and the alert; the
# sender's power level (m.room.power_levels: users, users_default, a change
# in the timeline, none at all) and account reach the core, also after a
# restart, when the sync no longer carries the levels.
# Stand-in core only: faqbot's own commands are main.c's and serve.c's.
. "$(dirname "$0")/matrix_lib.inc"
[ "$MX_BOT" = driver ] || skip "mention, see_event, mod_text and the power echo come from the stand-in core (mx_driver)"

start_hs
R=$(fake POST room "{\"members\":[\"$MEMBER\",\"$MOD\",\"$BOT_USER\"],\"creator\":\"$MOD\",\"power_levels\":{\"users\":{\"$MOD\":100,\"$BOT_USER\":50},\"users_default\":0,\"events_default\":0,\"state_default\":50}}" | j 'd["room_id"]')
BARE=$(fake POST room "{\"members\":[\"$MEMBER\",\"$MOD\",\"$BOT_USER\"]}" | j 'd["room_id"]')
MOD_ROOM=$(fake POST room "{\"members\":[\"$MOD\",\"$BOT_USER\"]}" | j 'd["room_id"]')
start_bot
wait_first_sync || notok "the bot started"

# ask ROOM BODY [SENDER]: send, wait for the reply to it; prints its JSON
ask() {
	local q n
	n=$(bot_events "$1" | j 'len(d)')
	q=$(member_send "$1" "\"body\":\"$2\"" "${3:-$MEMBER}")
	wait_bot "$1" $((n + 1)) 10000
	bot_events "$1" | j "[e for e in d if e['content'].get('m.relates_to',{}).get('m.in_reply_to',{}).get('event_id')=='$q']"
}
content() { j "d[0]['content']['$1'] if len(d)==1 else 'replies: %d' % len(d)"; }

# --- power levels and the account ---
check "a member's power level (users_default 0) and account reach the core" \
	test "$(ask "$R" 'POWER?' | content body)" = "power=0 account=$MEMBER"
check "a moderator's power level (users: 100) reaches the core" \
	test "$(ask "$R" 'POWER?' "$MOD" | content body)" = "power=100 account=$MOD"
check "a room without power levels: -1 (unknown)" \
	test "$(ask "$BARE" 'POWER?' | content body)" = "power=-1 account=$MEMBER"
fake POST state "{\"room_id\":\"$R\",\"sender\":\"$MOD\",\"type\":\"m.room.power_levels\",\"content\":{\"users\":{\"$MOD\":100,\"$MEMBER\":\"50\"},\"users_default\":5}}" >/dev/null
check "a change in the timeline is seen by the next message (a level as a string too)" \
	test "$(ask "$R" 'POWER?' | content body)" = "power=50 account=$MEMBER"
check "users_default applies to anyone not in users" \
	test "$(ask "$R" 'POWER?' "@zed:fake.test" | content body)" = "power=5 account=@zed:fake.test"
check "the sync filter asks for m.room.power_levels in state and timeline" \
	test "$(fake GET log | j "[(f['room']['state']['types'], 'm.room.power_levels' in f['room']['timeline']['types']) for f in [r['body'] for r in d['requests'] if r['path'].endswith('/filter')]][0]")" = '[["m.room.member", "m.room.power_levels", "m.room.encryption"], true]'
# a first start's sync brings no state (10,000 rooms' worth is megabytes):
# each room's levels are asked once, at its first message (as after any
# restart), and a change the timeline brings is not asked again
check "each room's levels are asked once (R: 200, a room without any: 404), a change in the timeline not again" \
	test "$(fake GET log | j "[(r['path'].split('/')[5], r['status']) for r in d['requests'] if '/state/' in r['path']]")" = "[[\"$(urlenc "$R")\", 200], [\"$(urlenc "$BARE")\", 404]]"

# --- directed answers ---
Q=$(ask "$R" 'mention=@bob what is TMS?')
check "directed to @bob: he, and not the asker, is in m.mentions" \
	test "$(printf '%s' "$Q" | j 'd[0]["content"]["m.mentions"]')" = '{"user_ids": ["@bob:fake.test"]}'
check "directed to @bob: the body starts with his user id" \
	test "$(printf '%s' "$Q" | j 'd[0]["content"]["body"].startswith("@bob:fake.test: An <answer>")')" = True
check "directed to @bob: formatted_body starts with a pill, then the escaped answer" \
	test "$(printf '%s' "$Q" | j 'd[0]["content"]["formatted_body"].startswith("<p><a href=\"https://matrix.to/#/%40bob%3Afake.test\">@bob:fake.test</a>: An &lt;answer&gt; &amp; its &quot;first&quot; paragraph.<br>")')" = True
check "directed to a full user id on another server" \
	test "$(ask "$R" 'mention=@carol:other.test what is TMS?' | j 'd[0]["content"]["m.mentions"]["user_ids"]')" = '["@carol:other.test"]'
check "directed to a bare name: that member on the asker's server" \
	test "$(ask "$R" 'mention=Dave what is TMS?' | j 'd[0]["content"]["m.mentions"]["user_ids"]')" = '["@dave:fake.test"]'
BAD=$(ask "$R" 'mention=<img/src=x/onerror=alert(1)> what is TMS?')
check "not a user id: ignored, the asker is answered and mentioned" \
	test "$(printf '%s' "$BAD" | j '[d[0]["content"]["m.mentions"]["user_ids"], d[0]["content"]["body"][:11]]')" = "[[\"$MEMBER\"], \"An <answer>\"]"
check "not a user id: nothing of it reaches formatted_body" \
	test "$(printf '%s' "$BAD" | j '"<img" in d[0]["content"]["formatted_body"] or "onerror" in d[0]["content"]["formatted_body"]')" = False
check "directed to the bot itself: the asker is answered" \
	test "$(ask "$R" 'mention=bot what is TMS?' | j 'd[0]["content"]["m.mentions"]["user_ids"]')" = "[\"$MEMBER\"]"

# --- a link to an earlier answer ---
Q1=$(member_send "$R" '"body":"how long does it last?"')
wait_bot "$R" "$(($(bot_events "$R" | j 'len(d)') + 1))"
A1=$(bot_events "$R" | j "[e['event_id'] for e in d if e['content']['m.relates_to']['m.in_reply_to']['event_id']=='$Q1'][0]")
SEE=$(ask "$R" "see=$Q1 how long does it last?")
LINK="https://matrix.to/#/$(urlenc "$R")/$(urlenc "$A1")?via=fake.test"
check "see an earlier question: the body ends with a link to the bot's answer" \
	test "$(printf '%s' "$SEE" | j 'd[0]["content"]["body"].endswith("\n\nEarlier answer: '"$LINK"'")')" = True
check "see an earlier question: formatted_body links to it with an <a>" \
	test "$(printf '%s' "$SEE" | j 'd[0]["content"]["formatted_body"].endswith("<p>Earlier answer: <a href=\"'"$LINK"'\">'"$LINK"'</a></p>")')" = True
CHAT=$(member_send "$R" '"body":"just chatting"')
LINK2="https://matrix.to/#/$(urlenc "$R")/$(urlenc "$CHAT")?via=fake.test"
check "see a message the bot never answered: the link goes to it" \
	test "$(ask "$R" "see=$CHAT and so?" | j 'd[0]["content"]["body"].endswith("Earlier message: '"$LINK2"'")')" = True
check "see something that is not an event id: no link" \
	test "$(ask "$R" 'see=nonsense<b> and so?' | j '"matrix.to" in json.dumps(d[0]["content"]) or "<b>" in d[0]["content"]["formatted_body"]')" = False

# --- the core's notice for the moderators ---
ask "$R" 'MODNOTE what is TMS?' >"$T/modnote.json"
wait_bot "$MOD_ROOM" 1
bot_events "$MOD_ROOM" >"$T/mod1.json"
check "mod_text: the member gets the reply" test "$(j 'len(d)' <"$T/modnote.json")" = 1
check "mod_text: the moderators' room gets an m.notice with the text, escaped" \
	test "$(j '[d[-1]["content"]["msgtype"], d[-1]["content"]["body"], d[-1]["content"]["formatted_body"]]' <"$T/mod1.json")" = '["m.notice", "core note: <b>entry</b> & \"more\"", "<p>core note: &lt;b&gt;entry&lt;/b&gt; &amp; &quot;more&quot;</p>"]'
ask "$R" 'CRISIS MODNOTE I cannot go on' >"$T/crisis.json"
wait_bot "$MOD_ROOM" 3
check "a crisis with mod_text: the reply, then the alert, then the notice" \
	test "$(j 'len(d)' <"$T/crisis.json"):$(bot_events "$MOD_ROOM" | j '[e["content"]["msgtype"] for e in d]')" = '1:["m.notice", "m.text", "m.notice"]'
check "mod_text's transaction id is derived from the event (fbm-...)" \
	test "$(fake GET log | j "len([r for r in d['requests'] if r['method']=='PUT' and '/send/m.room.message/fbm-' in r['path']])")" = 2

# --- a restart: levels asked once of the server; no moderators' room ---
stop_bot
MARK=$(fake GET log | j 'max(r["n"] for r in d["requests"])')
MOD_ROOM= start_bot
wait_first_sync
check "after a restart, the level comes from GET .../state/m.room.power_levels" \
	test "$(ask "$R" 'POWER?' | content body)" = "power=50 account=$MEMBER"
ask "$R" 'POWER?' "$MOD" >/dev/null
check "after a restart, the server is asked once a room" \
	test "$(fake GET "log?after=$MARK" | j "[(r['method'], r['path'].endswith('/state/m.room.power_levels'), r['status']) for r in d['requests'] if '/state/' in r['path']]")" = '[["GET", true, 200]]'
N=$(bot_events "$MOD_ROOM" | j 'len(d)')
ask "$R" 'MODNOTE again?' >/dev/null
sleep 0.5
check "no moderators' room: the notice is dropped, with one log line" \
	test "$(bot_events "$MOD_ROOM" | j 'len(d)'):$(grep -c "notice for the moderators (from a reply) dropped" "$T/bot.log")" = "$N:1"
stop_bot
check "SIGTERM: exit 0 in ${STOP_MS} ms (< 2000)" test "$STOP_RC:$((STOP_MS < 2000))" = "0:1"
check "no message text in the bot's log" bash -c "! grep -qiE 'how long does|cannot go on|core note' '$T/bot.log'"
finish
