#!/usr/bin/env bash
# metrics.sh -- the Prometheus endpoint of a real `faqbot run` against the
# fake homeserver: each count moves when its event happens (a crisis: the
# message, the reply and the moderators' alert; a 429: a retry; a malformed
# event: skipped and counted; a broken FAQ edit: a reload refused), the
# port comes from the kernel, a scrape never shows a user id, a room or a
# member's words, and the next crisis is still answered.
MX_BOT=faqbot
. "$(dirname "$0")/matrix_lib.inc"

SECRET=zqxsecret # in every member text: must never reach a scrape
start_hs
R=$(fake POST room "{\"members\":[\"$MEMBER\",\"$BOT_USER\"]}" | j 'd["room_id"]')
MOD_ROOM=$(fake POST room "{\"members\":[\"$MOD\",\"$BOT_USER\"]}" | j 'd["room_id"]')
cp -r faq "$T/faq"
write_config
sed -i "s|^faq_dir = .*|faq_dir = $T/faq|" "$T/faqbot.conf"
printf '[metrics]\nlisten = 127.0.0.1:0\n' >>"$T/faqbot.conf"
MX_TOKEN=${BOT_TOKEN:-} run_faqbot "$T/faqbot.conf"
wait_first_sync || notok "the bot started"
PORT=$(sed -n 's/.* metrics: GET \/metrics on 127\.0\.0\.1:0 (port \([0-9]*\)).*/\1/p' "$T/bot.log")
check "the endpoint listens on a port the kernel chose" test -n "$PORT"

scrape() { curl -s "http://127.0.0.1:$PORT/metrics"; }
# value SERIES: the number a scrape shows for one series, 0 if absent
value() { scrape | awk -v s="$1" '$1 == s { print $2; f = 1 } END { if (!f) print 0 }'; }
# moves_to SERIES N: wait until SERIES reaches at least N
at_least() { [ "$(value "$1")" -ge "$2" ]; }
moves_to() { wait_for 30 at_least "$1" "$2"; }

check "a scrape answers with the exposition" sh -c "curl -s http://127.0.0.1:$PORT/metrics | grep -q '^# TYPE faqbot_crisis_total counter'"

# a crisis: the message counted by class, the reply and the alert sent
Q=$(member_send "$R" "\"body\":\"$(ask_text "CRISIS $SECRET")\"")
wait_bot "$R" 1 20000
check "a crisis is answered" test "$(replies_to "$R" "$Q")" = 1
check "a crisis: messages{class=crisis} counts it" moves_to 'faqbot_messages_total{class="crisis"}' 1
check "a crisis: its reply is counted as sent" moves_to 'faqbot_crisis_total{result="reply_sent"}' 1
check "a crisis: the moderators' alert is counted as sent" moves_to 'faqbot_crisis_total{result="alert_sent"}' 1
check "a crisis: nothing counted as failed" test "$(value 'faqbot_crisis_total{result="reply_failed"}'):$(value 'faqbot_crisis_total{result="alert_failed"}')" = "0:0"

# a 429 on the send: a retry by its cause, one reply
fake POST script '{"rules":[{"path":"/send/","action":"429","retry_after_ms":200}]}' >/dev/null
Q=$(member_send "$R" "\"body\":\"$(ask_text "$SECRET?")\"")
wait_bot "$R" 2 20000
check "a 429: the answer still comes, once" test "$(replies_to "$R" "$Q")" = 1
check "a 429: retries{cause=rate_limited} moves" moves_to 'faqbot_retries_total{cause="rate_limited"}' 1
check "a 429: the answer is counted as a reply sent" moves_to 'faqbot_replies_total{result="sent"}' 1

# a malformed event: skipped, counted, and the next message still read
fake POST send_raw "{\"room_id\":\"$R\",\"sender\":\"$MEMBER\",\"raw\":\"42\",\"event\":true}" >/dev/null
check "a malformed event: malformed{transport=matrix} moves" moves_to 'faqbot_malformed_total{transport="matrix"}' 1

# a broken FAQ edit: the reload refused, the FAQ in use still serving
printf 'id: broken\nclass: faq\npatterns: |\n  broken(pattern\n' >"$T/faq/zz-broken.yml"
check "a broken FAQ edit: faq_reloads{result=refused} moves" moves_to 'faqbot_faq_reloads_total{result="refused"}' 1
check "the entries and lines due are a gauge" test "$(value faqbot_faq_due)" -ge 0

# a scrape never shows a member, a room or words
S=$(scrape)
check "a scrape shows no user id, room, event or member's words" \
	test -z "$(printf '%s' "$S" | grep -E "$SECRET|fake\.test|@|!|\\\$|life|TMS")"
check "every series is a known family with a fixed label" \
	test -z "$(printf '%s\n' "$S" | grep -v '^#' | grep -vE '^faqbot_[a-z_]+(\{[a-z]+="[a-z_]+"\})? -?[0-9]+$')"

# liveness: the next crisis is still answered
Q=$(member_send "$R" "\"body\":\"$(ask_text "CRISIS again $SECRET")\"")
wait_bot "$R" 3 20000
check "the next crisis is still answered" test "$(replies_to "$R" "$Q")" = 1
check "and counted" moves_to 'faqbot_messages_total{class="crisis"}' 2
stop_bot
check "SIGTERM: exit 0" test "$STOP_RC" = 0
finish
