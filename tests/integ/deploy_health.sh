#!/usr/bin/env bash
# deploy_health.sh -- `faqbot health`, the container's HEALTHCHECK, against
# the real `faqbot run` and the fake homeserver: no mark before the first
# sync; a fresh mark (mode 0600, a unix time) after it; the mark kept fresh
# while the bot idles in long polls; stale once the bot is stopped; cleared
# by a start that fails. And its command line: usage errors exit 2, a config
# it cannot use exits 4, a config whose secret is missing still works (the
# probe reads no secret).
MX_BOT=faqbot
. "$(dirname "$0")/matrix_lib.inc"
BIN=${FAQBOT:-build/asan/faqbot}

# health [ARGS...]: run the probe; sets HRC and HOUT (stdout and stderr)
health() {
	HOUT=$("$BIN" health "$@" 2>&1)
	HRC=$?
}
mark() { cat "$T/state/last_sync" 2>/dev/null; }

# --- the command line
health
check "no --config: usage error, exit 2 ($HRC)" test "$HRC" = 2
health --config "$T/none.ini" --max-age soon
check "--max-age soon: usage error, exit 2 ($HRC)" test "$HRC" = 2
health --config "$T/none.ini"
check "a missing config: exit 4 ($HRC), one line naming it" \
	bash -c "[ $HRC = 4 ] && grep -q 'cannot read the config file $T/none.ini' <<<'$HOUT'"
printf 'region = uk\n' >"$T/nomatrix.ini"
health --config "$T/nomatrix.ini"
check "a config without [matrix]: exit 4 ($HRC)" test "$HRC" = 4

start_hs
R=$(fake POST room "{\"members\":[\"$MEMBER\",\"$BOT_USER\"]}" | j 'd["room_id"]')
write_config
mkdir -p "$T/state"
health --config "$T/faqbot.conf"
check "before any sync: unhealthy, exit 1 ($HRC)" test "$HRC" = 1
check "before any sync: says no sync completed yet" grep -q "no sync completed yet" <<<"$HOUT"
# The probe must not need the secret: the bot's environment or a systemd
# credential may hold it where the probe cannot read it.
sed "s|^password_file = .*|password_file = $T/not-there|" "$T/faqbot.conf" >"$T/nosecret.conf"
health --config "$T/nosecret.conf"
check "a config whose secret is unreadable: still probed (exit $HRC, not 4)" test "$HRC" = 1

# --- the running bot
start_bot
wait_first_sync || notok "the bot started"
wait_for 5 test -s "$T/state/last_sync"
M1=$(mark)
NOW=$(date +%s)
check "after the first sync: a mark with the time ($M1, now $NOW)" \
	test -n "$M1" -a "${M1:-0}" -ge $((NOW - 5)) -a "${M1:-0}" -le $((NOW + 1))
check "the mark is mode 0600" test "$(stat -c %a "$T/state/last_sync")" = 600
health --config "$T/faqbot.conf"
check "healthy: exit 0 ($HRC)" test "$HRC" = 0
check "healthy: says how long ago ($HOUT)" grep -qE "healthy: the last sync completed [0-9]+ s ago \(at most 40 s\)" <<<"$HOUT"

# sync_timeout_ms = 5000: an idle bot completes a long poll every 5 s, and
# marks again (at most every 5 s)
M2=$M1
newer_mark() { M2=$(mark) && [ -n "$M2" ] && [ "$M2" -gt "$M1" ]; }
wait_for 12 newer_mark
check "an idle bot refreshes the mark ($M1 -> $M2)" test "${M2:-0}" -gt "$M1"

Q=$(member_send "$R" '"body":"what is TMS?"')
wait_bot "$R" 1 10000
check "the bot still answers with the mark being written" test "$(replies_to "$R" "$Q")" = 1

# --- stopped: the mark ages
stop_bot
check "SIGTERM: exit 0 ($STOP_RC)" test "$STOP_RC" = 0
sleep 2.1
health --config "$T/faqbot.conf" --max-age 1
check "stopped, --max-age 1: unhealthy, exit 1 ($HRC)" test "$HRC" = 1
check "stopped, --max-age 1: says how old and the limit" grep -qE "completed [0-9]+ s ago, more than 1 s" <<<"$HOUT"

# --- a start that fails clears the last run's mark
: >"$T/bot.log"
BOT_HS="http://127.0.0.1:9" start_bot
wait "$BOT_PID"
RC=$?
BOT_PID=""
health --config "$T/faqbot.conf"
check "a failed start (exit $RC) leaves no mark: unhealthy ($HRC)" \
	bash -c "[ $HRC = 1 ] && grep -q 'no sync completed yet' <<<'$HOUT'"
finish
