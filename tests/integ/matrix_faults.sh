#!/usr/bin/env bash
# matrix_faults.sh -- the homeserver misbehaves, the member still sees
# exactly one reply: 429 with Retry-After or retry_after_ms (resent with the
# same transaction id, after the wait), a 500 or a dropped connection after
# the event was stored (the retry must not post twice), a send slower than
# the request timeout, 500s, drops and a malformed body on /sync.
. "$(dirname "$0")/matrix_lib.inc"

start_hs
R=$(fake POST room "{\"members\":[\"$MEMBER\",\"$BOT_USER\"]}" | j 'd["room_id"]')
start_bot --request-timeout-ms 1000
wait_first_sync || notok "the bot started"
n=0

# ask QUESTION RULES-JSON: script faults, ask, wait for the reply; sets Q
ask() {
	[ -n "$2" ] && fake POST script "{\"rules\":$2}" >/dev/null
	n=$((n + 1))
	MARK=$(fake GET log | j 'max([r["n"] for r in d["requests"]] or [0])')
	T0=$(date +%s%N)
	Q=$(member_send "$R" "\"body\":\"$1\"")
	wait_bot "$R" "$n" 15000
	ELAPSED=$((($(date +%s%N) - T0) / 1000000))
}
puts() { # PUTs to send since MARK, as "txn" lines
	fake GET "log?after=$MARK" | j "'\\n'.join(r['path'].rsplit('/',1)[1] for r in d['requests'] if r['method']=='PUT')"
}

ask "429 with Retry-After?" '[{"path":"/send/","action":"429","retry_after":1}]'
check "429 Retry-After: one reply" test "$(replies_to "$R" "$Q")" = 1
check "429 Retry-After: waited >= 1 s (${ELAPSED} ms)" test "$ELAPSED" -ge 1000
check "429 Retry-After: resent with the same txn id" test "$(puts | sort -u | wc -l):$(puts | wc -l)" = "1:2"

ask "429 with retry_after_ms?" '[{"path":"/send/","action":"429","retry_after_ms":700}]'
check "429 retry_after_ms: one reply" test "$(replies_to "$R" "$Q")" = 1
check "429 retry_after_ms: waited >= 0.7 s (${ELAPSED} ms)" test "$ELAPSED" -ge 700
check "429 retry_after_ms: resent with the same txn id" test "$(puts | sort -u | wc -l):$(puts | wc -l)" = "1:2"

# nputs N: at least N PUTs since MARK. A fault after commit shows the reply
# in the room at the first try, while the bot still retries: the next rule
# must wait for the retry, or the retry meets it (both copies of the suite
# run at once: "1:3" here and "1:1" below)
nputs() { [ "$(puts | wc -l)" -ge "$1" ]; }
ask "500 after the event was stored?" '[{"path":"/send/","action":"commit_then_500"}]'
wait_for 30 nputs 2
check "500 after commit: one reply, not two" test "$(replies_to "$R" "$Q")" = 1
check "500 after commit: resent with the same txn id" test "$(puts | sort -u | wc -l):$(puts | wc -l)" = "1:2"

ask "connection dropped after the event was stored?" '[{"path":"/send/","action":"commit_then_drop","count":2}]'
wait_for 30 nputs 3
check "drop after commit (twice): one reply" test "$(replies_to "$R" "$Q")" = 1
check "drop after commit (twice): three tries, one txn id" test "$(puts | sort -u | wc -l):$(puts | wc -l)" = "1:3"

ask "a send slower than the request timeout?" '[{"path":"/send/","action":"slow","ms":2500}]'
sleep 2 # let the slow first try finish on the server too
check "slow send: one reply" test "$(replies_to "$R" "$Q")" = 1

ask "502s on send?" '[{"path":"/send/","action":"502","count":3}]'
check "3 x 502 on send: one reply" test "$(replies_to "$R" "$Q")" = 1
check "3 x 502 on send: backed off (${ELAPSED} ms >= 750)" test "$ELAPSED" -ge 750

# the bot is in a long poll already: wake it with a message it does not
# answer, so that its next polls meet the faults, then ask
fake POST script '{"rules":[{"path":"/sync$","action":"500"},{"path":"/sync$","action":"drop"},{"path":"/sync$","action":"malformed"},{"path":"/sync$","action":"429","retry_after_ms":100}]}' >/dev/null
SMARK=$(fake GET log | j 'max([r["n"] for r in d["requests"]] or [0])')
member_send "$R" '"body":"just saying hello"' >/dev/null
ask "faults on sync?" ""
check "sync met 500, drop, malformed body and 429" \
	test "$(fake GET "log?after=$SMARK" | j "[r['action'] for r in d['requests'] if r['path'].endswith('/sync') and r['action']]")" = '["500", "drop", "malformed", "429"]'
check "500, drop, malformed body and 429 on sync: the reply still comes, once" test "$(replies_to "$R" "$Q")" = 1

kill -0 "$BOT_PID" 2>/dev/null
check "the bot is still running" test $? = 0
stop_bot
check "SIGTERM: exit 0 in ${STOP_MS} ms" test "$STOP_RC:$((STOP_MS < 2000))" = "0:1"
check "every fault was logged as a retry, no crash" grep -q "retries=[1-9]" "$T/bot.log"
finish
