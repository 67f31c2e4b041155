#!/usr/bin/env bash
# matrix_reply.sh -- what a member sees: a question gets exactly one reply
# with the right relation; a threaded message is answered in its thread;
# backlog from before the first start, notices, the bot's own messages and
# edits are not answered; a crisis gets a reply and a moderators' alert with
# a matrix.to link and no copy of the text; HTML in a display name or a
# message never reaches formatted_body unescaped; SIGTERM exits 0 in < 2 s.
. "$(dirname "$0")/matrix_lib.inc"

start_hs
R=$(fake POST room "{\"members\":[\"$MEMBER\",\"$MOD\",\"$BOT_USER\"],\"name\":\"support\"}" | j 'd["room_id"]')
MOD_ROOM=$(fake POST room "{\"members\":[\"$MOD\",\"$BOT_USER\"],\"name\":\"mods\"}" | j 'd["room_id"]')
OLD=$(member_send "$R" '"body":"a question from before the bot started?"')

start_bot
wait_first_sync

Q=$(member_send "$R" '"body":"what is TMS?"')
wait_bot "$R" 1
bot_events "$R" >"$T/r1.json"
check "a question gets exactly one reply" test "$(j 'len(d)' <"$T/r1.json")" = 1
check "the reply is an m.notice" test "$(j 'd[0]["content"]["msgtype"]' <"$T/r1.json")" = m.notice
check "the reply is a rich reply to the question" \
	test "$(j 'd[0]["content"]["m.relates_to"]["m.in_reply_to"]["event_id"]' <"$T/r1.json")" = "$Q"
check "the reply is not in a thread" test "$(j '"rel_type" in d[0]["content"]["m.relates_to"]' <"$T/r1.json")" = False
check "the reply mentions the asker (m.mentions)" \
	test "$(j 'd[0]["content"]["m.mentions"]["user_ids"]' <"$T/r1.json")" = "[\"$MEMBER\"]"
driver_only "the reply's HTML is escaped" \
	test "$(j 'd[0]["content"]["formatted_body"]' <"$T/r1.json")" = '<p>An &lt;answer&gt; &amp; its &quot;first&quot; paragraph.<br>Same paragraph.</p><p>A second &lt;b&gt;paragraph&lt;/b&gt;.</p>'
check "backlog from before the first start is not answered" \
	test "$(j "[e for e in d if e['content']['m.relates_to']['m.in_reply_to']['event_id']=='$OLD']" <"$T/r1.json")" = "[]"

# things never answered, then one question as a marker
member_send "$R" '"body":"a notice?","msgtype":"m.notice"' >/dev/null
member_send "$R" '"body":"the bot itself?"' "$BOT_USER" >/dev/null
member_send "$R" "\"content\":{\"msgtype\":\"m.text\",\"body\":\"* what is TMS?\",\"m.new_content\":{\"msgtype\":\"m.text\",\"body\":\"what is TMS?\"},\"m.relates_to\":{\"rel_type\":\"m.replace\",\"event_id\":\"$Q\"}}" >/dev/null
member_send "$R" '"content":{"msgtype":"m.image","body":"scan.png?","url":"mxc://x/y"}' >/dev/null
member_send "$R" '"type":"m.room.redaction","content":{"redacts":"$x","reason":"why?"}' >/dev/null
member_send "$R" '"type":"m.room.encrypted","content":{"algorithm":"m.megolm.v1.aes-sha2","ciphertext":"?"}' >/dev/null
T1=$(member_send "$R" "\"body\":\"does it hurt?\",\"thread_root\":\"$Q\"")
wait_bot "$R" 3   # 2 replies + the bot's own message above
bot_events "$R" >"$T/r2.json"
check "notices, own messages, edits, images, redactions and encrypted events get no reply" \
	test "$(j "len([e for e in d if e['content'].get('msgtype')=='m.notice'])" <"$T/r2.json")" = 2
check "a threaded question is answered in the thread" \
	test "$(j "[(e['content']['m.relates_to'].get('rel_type'), e['content']['m.relates_to'].get('event_id'), e['content']['m.relates_to'].get('is_falling_back'), e['content']['m.relates_to']['m.in_reply_to']['event_id']) for e in d if e['content'].get('msgtype')=='m.notice'][-1]" <"$T/r2.json")" = "[\"m.thread\", \"$Q\", true, \"$T1\"]"

# a crisis from a member whose display name is HTML
EVIL="@eve:fake.test"
fake POST membership "{\"room_id\":\"$R\",\"target\":\"$EVIL\",\"membership\":\"join\",\"displayname\":\"<img src=x onerror=alert(1)>\"}" >/dev/null
C=$(member_send "$R" '"body":"<b>CRISIS</b> <script>alert(2)</script> I cannot go on","formatted_body":"<b>CRISIS</b>"' "$EVIL")
wait_bot "$R" 4
wait_bot "$MOD_ROOM" 1
bot_events "$R" | j "[e for e in d if e['content'].get('m.relates_to',{}).get('m.in_reply_to',{}).get('event_id')=='$C']" >"$T/c.json"
bot_events "$MOD_ROOM" >"$T/alert.json"
check "a crisis gets one reply" test "$(j 'len(d)' <"$T/c.json")" = 1
check "a crisis gets one moderators' alert" test "$(j 'len(d)' <"$T/alert.json")" = 1
LINK="https://matrix.to/#/$(urlenc "$R")/$(urlenc "$C")?via=fake.test"
check "the alert links to the event (matrix.to, percent-encoded)" \
	grep -qF "$LINK" <(j 'd[0]["content"]["body"]' <"$T/alert.json")
check "the alert names the sender" grep -qF "$EVIL" <(j 'd[0]["content"]["body"]' <"$T/alert.json")
check "the alert copies no message text" \
	test "$(j "any(s in json.dumps(d) for s in ['cannot go on','script','alert(2)'])" <"$T/alert.json")" = False
check "the alert mentions the moderators" \
	test "$(j 'd[0]["content"]["m.mentions"]["user_ids"]' <"$T/alert.json")" = "[\"$MOD\"]"
check "HTML in a display name is escaped in formatted_body" \
	test "$(j "'<img' not in d[0]['content']['formatted_body'] and '&lt;img src=x onerror=alert(1)&gt;' in d[0]['content']['formatted_body']" <"$T/alert.json")" = True
check "no bot formatted_body carries a raw tag from outside" \
	test "$(bot_events "$R" | j "any(t in e['content']['formatted_body'] for e in d if 'formatted_body' in e['content'] for t in ['<script','<img','<b>CRISIS'])")" = False

# a direct conversation (two members) is answered without a question;
# a question in the moderators' room is not answered at all
DM=$(fake POST room "{\"creator\":\"$MEMBER\",\"members\":[\"$MEMBER\",\"$BOT_USER\"]}" | j 'd["room_id"]')
member_send "$MOD_ROOM" '"body":"should the bot answer us here?"' "$MOD" >/dev/null
D=$(member_send "$DM" '"body":"hello, I just wanted to talk"')
wait_bot "$DM" 1
driver_only "a direct message is answered without being a question" test "$(replies_to "$DM" "$D")" = 1
check "the moderators' room is never answered" test "$(bot_events "$MOD_ROOM" | j 'len(d)')" = 1

stop_bot
check "SIGTERM: exit 0" test "$STOP_RC" = 0
check "SIGTERM: gone within 2 s (${STOP_MS} ms)" test "$STOP_MS" -lt 2000
check "no secret in the bot's log" bash -c "! grep -q 'syt_' '$T/bot.log'"
check "no message text in the bot's log" bash -c "! grep -qiE 'what is TMS|cannot go on|does it hurt|wanted to talk|before the bot started' '$T/bot.log'"
check "the session file is mode 0600" test "$(stat -c %a "$T/state/session.json")" = 600
finish
