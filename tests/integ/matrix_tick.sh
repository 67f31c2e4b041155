#!/usr/bin/env bash
# matrix_tick.sh -- the core's tick (transport.h) with the stand-in core:
# a notice the tick finds reaches the moderators' room as an m.notice
# (escaped) within 2 s while the bot is in a long poll, which goes on
# otherwise; a wake (flag or fd) runs the tick at once and cuts the long
# poll, which resumes from the same sync position; questions racing wakes
# are each answered once; a wake fd the tick never drains, or one that is
# not open, does not make the bot spin; SIGTERM still exits 0
# in < 2 s.
# Stand-in core only: faqbot's own tick is main.c's, tested by its owners.
. "$(dirname "$0")/matrix_lib.inc"
[ "$MX_BOT" = driver ] || skip "ticks and wakes come from the stand-in core (mx_driver)"

export MX_DRIVER_NOTICE_FILE="$T/notice"
start_hs
R=$(fake POST room "{\"members\":[\"$MEMBER\",\"$MOD\",\"$BOT_USER\"]}" | j 'd["room_id"]')
MOD_ROOM=$(fake POST room "{\"members\":[\"$MOD\",\"$BOT_USER\"]}" | j 'd["room_id"]')
start_bot --sync-timeout-ms 30000
wait_first_sync || notok "the bot started"

now_ms() { echo $(($(date +%s%N) / 1000000)); }
# last_sync: the bot's latest /sync, as JSON
last_sync() {
	fake GET log | j "[r for r in d['requests'] if r['path'].endswith('/sync')][-1]"
}
# wait_long_poll: until the bot's latest /sync has a since token and the
# server has not answered it yet (a killed bot's last one hangs on: give
# the log position the new bot started from, START). Its latest /sync, not
# its latest request: its sends (a join, a reply) go out beside the poll.
START=-1
long_polling() {
	fake GET "log?after=$START" | j "(lambda r: 'since' in r.get('query', {}) and r.get('status') is None)(([r for r in d['requests'] if r['path'].endswith('/sync')] or [{'path': ''}])[-1])" |
		grep -q True
}
wait_long_poll() { wait_for 10 long_polling; }
# syncs_from SINCE: how many /sync requests asked from that position
syncs_from() {
	fake GET log | j "len([r for r in d['requests'] if r['path'].endswith('/sync') and r['query'].get('since')==['$1']])"
}
notices() { bot_events "$MOD_ROOM" | j "[e for e in d if e['content']['msgtype']=='m.notice']"; }
# during_poll SINCE: the newest notice went out during the long poll from
# SINCE, which it cut, and before that poll was asked again: by the order
# in which the homeserver saw the requests, not by how long anything took
# (a latency bound failed on a loaded machine, ASan and all: 2.8 s for a
# notice that cut its 5 s poll all the same)
during_poll() {
	fake GET log | j "(lambda s, p: len(s) >= 2 and len(p) >= 1 and s[0] < p[-1] < s[1])([r['n'] for r in d['requests'] if r['path'].endswith('/sync') and r['query'].get('since')==['$1']], [r['n'] for r in d['requests'] if r['method']=='PUT' and '/send/m.room.message/fbn-' in r['path']])" | grep -q True
}

# 1. a notice from a periodic tick, in the middle of a long poll
wait_long_poll || notok "the bot long-polls"
SINCE=$(last_sync | j 'd["query"]["since"][0]')
printf '%s' 'FAQ reloaded: 12 entries <ok> & "fine"' >"$T/notice.tmp"
T0=$(now_ms)
mv "$T/notice.tmp" "$T/notice"
wait_bot "$MOD_ROOM" 1 5000
EL=$(($(now_ms) - T0))
notices >"$T/n1.json"
check "a tick's notice reaches the moderators' room during a long poll (in ${EL} ms)" \
	bash -c '[ "$1" = 1 ] && "$2"' _ "$(j 'len(d)' <"$T/n1.json")" "$(during_poll "$SINCE" && echo true || echo false)"
check "the notice is an m.notice with the core's text as body" \
	test "$(j 'd[0]["content"]["body"]' <"$T/n1.json")" = 'FAQ reloaded: 12 entries <ok> & "fine"'
check "the notice's formatted_body is escaped" \
	test "$(j 'd[0]["content"]["formatted_body"]' <"$T/n1.json")" = '<p>FAQ reloaded: 12 entries &lt;ok&gt; &amp; &quot;fine&quot;</p>'
check "the notice mentions no one and relates to nothing" \
	test "$(j '[d[0]["content"]["m.mentions"], "m.relates_to" in d[0]["content"]]' <"$T/n1.json")" = '[{"user_ids": []}, false]'
check "the long poll was given up for it and asked again from the same position" \
	test "$(syncs_from "$SINCE")" -ge 2
check "the notice's transaction id is its own (fbn-...)" \
	test "$(fake GET log | j "len([r for r in d['requests'] if r['method']=='PUT' and '/send/m.room.message/fbn-' in r['path']])")" = 1

# 2. a quiet second: the periodic tick does not cut the long poll
wait_long_poll
N0=$(fake GET log | j "len([r for r in d['requests'] if r['path'].endswith('/sync')])")
sleep 2.5
check "ticks without a notice leave the long poll alone (no sync in 2.5 s)" \
	test "$(fake GET log | j "len([r for r in d['requests'] if r['path'].endswith('/sync')])")" = "$N0"

# 3. wakes: the flag (SIGUSR1) and the fd (SIGUSR2), three times each; the
# driver's notice says how long after the signal its tick ran
n=1
for sig in USR1 USR1 USR1 USR2 USR2 USR2; do
	wait_long_poll
	SINCE=$(last_sync | j 'd["query"]["since"][0]')
	n=$((n + 1))
	T0=$(now_ms)
	kill -"$sig" "$BOT_PID"
	wait_bot "$MOD_ROOM" "$n" 5000
	EL=$(($(now_ms) - T0))
	BODY=$(notices | j 'd[-1]["content"]["body"]')
	LAT=$(printf '%s' "$BODY" | sed -n 's/.* after \([0-9]*\) ms.*/\1/p')
	what=$([ "$sig" = USR1 ] && echo flag || echo fd)
	check "wake by $what: the tick ran ${LAT:-?} ms after it (< 300), the notice came in ${EL} ms, during the poll" \
		test "$(printf '%s' "$BODY" | grep -c "woken by $what"):$((${LAT:-9999} < 300)):$(during_poll "$SINCE" && echo 1 || echo 0)" = "1:1:1"
	check "wake by $what: the long poll was cut and resumed from the same position" \
		test "$(syncs_from "$SINCE")" -ge 2
done

# 4. questions racing wakes: every one answered, once
: >"$T/questions"
for i in $(seq 16); do
	member_send "$R" "\"body\":\"question $i during wakes?\"" >>"$T/questions"
	kill -"$([ $((i % 2)) = 0 ] && echo USR1 || echo USR2)" "$BOT_PID"
	[ $((i % 4)) = 0 ] && sleep 0.2
done
wait_bot "$R" 16 20000
sleep 1 # a double would show by now
bot_events "$R" >"$T/answers.json"
missing=0 doubled=0
while read -r q; do
	c=$(j "len([e for e in d if e['content']['m.relates_to']['m.in_reply_to']['event_id']=='$q'])" <"$T/answers.json")
	[ "$c" = 0 ] && missing=$((missing + 1))
	[ "$c" -gt 1 ] && doubled=$((doubled + 1))
done <"$T/questions"
check "16 questions racing 16 wakes: none lost ($missing), none doubled ($doubled)" \
	test "$missing:$doubled:$(j 'len(d)' <"$T/answers.json")" = "0:0:16"
check "some of those wakes cut a long poll (a position asked twice)" \
	test "$(fake GET log | j "(lambda s: len(s) - len(set(s)))([r['query']['since'][0] for r in d['requests'] if r['path'].endswith('/sync') and 'since' in r['query']])")" -ge 1

stop_bot
check "SIGTERM: exit 0 in ${STOP_MS} ms (< 2000)" test "$STOP_RC:$((STOP_MS < 2000))" = "0:1"
TICKS=$(sed -n 's/.*ticks=\([0-9]*\)\/.*/\1/p' "$T/bot.log" | tail -1)
check "the tick ran about every second (${TICKS:-0} ticks)" test "${TICKS:-0}" -ge 8
check "no notice text in the bot's log" bash -c "! grep -q 'FAQ reloaded' '$T/bot.log'"

# 5. a wake fd the tick never drains: one notice, then no spin
START=$(fake GET log | j 'max(r["n"] for r in d["requests"])')
MX_DRIVER_WAKE_NODRAIN=1 start_bot --sync-timeout-ms 30000
wait_long_poll || notok "the restarted bot long-polls"
BEFORE=$(notices | j 'len(d)')
kill -USR2 "$BOT_PID"
wait_bot "$MOD_ROOM" $((BEFORE + 1)) 5000
N0=$(fake GET log | j "len([r for r in d['requests'] if r['path'].endswith('/sync')])")
sleep 2
N1=$(fake GET log | j "len([r for r in d['requests'] if r['path'].endswith('/sync')])")
check "a wake fd left readable: one notice, and at most one more sync in 2 s ($((N1 - N0)))" \
	test "$(($(notices | j 'len(d)') - BEFORE)):$((N1 - N0 <= 1))" = "1:1"
Q=$(member_send "$R" '"body":"still answering?"')
wait_bot "$R" 17 10000
check "a wake fd left readable: questions are still answered" test "$(replies_to "$R" "$Q")" = 1
stop_bot
check "SIGTERM with a stuck wake fd: exit 0 in ${STOP_MS} ms (< 2000)" \
	test "$STOP_RC:$((STOP_MS < 2000))" = "0:1"

# 6. a wake fd that is not open: one warning, no busy loop
START=$(fake GET log | j 'max(r["n"] for r in d["requests"])')
MX_DRIVER_WAKE_CLOSED=1 start_bot --sync-timeout-ms 30000
wait_long_poll || notok "the bot long-polls with a wake fd not open"
cpu() { awk '{print $14 + $15}' "/proc/$BOT_PID/stat"; }
C0=$(cpu)
sleep 2
C1=$(cpu)
check "a wake fd not open: no busy loop ($((C1 - C0)) CPU ticks in 2 s) and one warning" \
	test "$(((C1 - C0) < 60)):$(grep -c 'wake fd .* is not open' "$T/bot.log")" = "1:1"
Q=$(member_send "$R" '"body":"and now?"')
wait_bot "$R" 18 10000
check "a wake fd not open: questions are still answered" test "$(replies_to "$R" "$Q")" = 1
stop_bot
finish
