#!/usr/bin/env bash
# matrix_auth.sh -- tokens, start-up errors and invites:
# a revoked token with a password configured: a fresh login on the same
# device, and replies go on; without a password: a clear one-line error and
# a non-zero exit; a wrong token, a wrong URL, plain http to a non-loopback
# host: one clear line each. Invites: from an allowed server or user,
# joined; from an unknown server, declined (never joined); a kick is noted.
. "$(dirname "$0")/matrix_lib.inc"

start_hs --token "tok-static=$BOT_USER"
R=$(fake POST room "{\"members\":[\"$MEMBER\",\"$BOT_USER\"]}" | j 'd["room_id"]')

# --- revoked token, password configured: log in again
start_bot
wait_first_sync || notok "the bot started"
DEV=$(python3 -c 'import json,sys;print(json.load(open(sys.argv[1]))["device_id"])' "$T/state/session.json")
fake POST revoke_token "{\"user_id\":\"$BOT_USER\"}" >/dev/null
Q=$(member_send "$R" '"body":"still there after a revoked token?"')
wait_bot "$R" 1 15000
check "revoked token + password: the question is answered once" test "$(replies_to "$R" "$Q")" = 1
check "revoked token + password: logged in again on the same device ($DEV)" \
	test "$(fake GET log | j "[r['body'].get('device_id') for r in d['requests'] if r['path'].endswith('/login')][-1]")" = "$DEV"
check "revoked token + password: the new token is stored" \
	bash -c "grep -q '\"device_id\":\"$DEV\"' '$T/state/session.json'"
stop_bot

# --- revoked token, no password: a clear error, exit non-zero
rm -rf "$T/state"
BOT_PASSWORD="" BOT_TOKEN=tok-static start_bot
wait_first_sync
fake POST revoke_token '{"token":"tok-static"}' >/dev/null
member_send "$R" '"body":"anyone?"' >/dev/null
wait_for 5 bash -c '! kill -0 "$1" 2>/dev/null' _ "$BOT_PID"
wait "$BOT_PID"
RC=$?
BOT_PID=""
check "revoked token, no password: exits non-zero ($RC)" test "$RC" -ne 0
check "revoked token, no password: says why in one line" \
	grep -q "refused the access token and no password is configured" "$T/bot.log"

# --- start-up errors: one line each, quickly
start_err() { # start_err NAME PATTERN: run the bot to its exit, check the line
	local name=$1 pat=$2 t0 rc
	: >"$T/bot.log"
	t0=$(date +%s%N)
	start_bot
	wait "$BOT_PID"
	rc=$?
	BOT_PID=""
	check "$name: exit non-zero ($rc) within 5 s" test "$rc" -ne 0 -a $((($(date +%s%N) - t0) / 1000000)) -lt 5000
	check "$name: one clear line" grep -qE "$pat" "$T/bot.log"
}
rm -rf "$T/state"
BOT_PASSWORD="" BOT_TOKEN=wrong-token start_err "wrong token" "refused the access token"
BOT_HS="http://127.0.0.1:9" start_err "nothing listening" "cannot reach the homeserver at http://127.0.0.1:9"
BOT_HS="http://matrix.example.org" start_err "plain http to a remote host" "uses plain http"
BOT_PASSWORD=wrong start_err "wrong password" "login as .* failed: HTTP 403 M_FORBIDDEN"

# --- invites
: >"$T/bot.log"
start_bot --allow friendly.test --allow "@trusted:far.test"
wait_first_sync
I1=$(fake POST room "{\"members\":[\"@x:friendly.test\"],\"creator\":\"@x:friendly.test\"}" | j 'd["room_id"]')
I2=$(fake POST room "{\"members\":[\"@trusted:far.test\"],\"creator\":\"@trusted:far.test\"}" | j 'd["room_id"]')
I3=$(fake POST room "{\"members\":[\"@spam:unknown.test\"],\"creator\":\"@spam:unknown.test\"}" | j 'd["room_id"]')
fake POST invite "{\"room_id\":\"$I3\",\"sender\":\"@spam:unknown.test\",\"target\":\"$BOT_USER\"}" >/dev/null
fake POST invite "{\"room_id\":\"$I1\",\"sender\":\"@x:friendly.test\",\"target\":\"$BOT_USER\"}" >/dev/null
fake POST invite "{\"room_id\":\"$I2\",\"sender\":\"@trusted:far.test\",\"target\":\"$BOT_USER\"}" >/dev/null
wait_joined "$I1"
check "invite from an allowed server: joined" test $? = 0
wait_joined "$I2"
check "invite from an allowed user: joined" test $? = 0
membership() {
	fake GET "events?room_id=$(urlenc "$1")" |
		j "[e['content']['membership'] for e in d['events'] if e['type']=='m.room.member' and e['state_key']=='$BOT_USER'][-1]"
}
# the leave goes out in its room's own queue, beside the joins: waited for
declined() { test "$(membership "$I3")" = leave; }
check "invite from an unknown server: not joined (declined)" wait_for 30 declined

Q=$(member_send "$I1" '"body":"does the bot answer here?"' "@x:friendly.test")
wait_bot "$I1" 1
check "a joined room is served" test "$(replies_to "$I1" "$Q")" = 1

fake POST membership "{\"room_id\":\"$I1\",\"sender\":\"@x:friendly.test\",\"target\":\"$BOT_USER\",\"membership\":\"kick\"}" >/dev/null
wait_for 5 grep -q "kicked room=$I1" "$T/bot.log"
check "a kick is noticed and logged" grep -q "kicked room=$I1 by=@x:friendly.test" "$T/bot.log"
kill -0 "$BOT_PID"
check "the bot runs on after the kick" test $? = 0
stop_bot
finish
