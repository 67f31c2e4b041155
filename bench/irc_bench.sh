#!/usr/bin/env bash
# bench/irc_bench.sh -- the IRC part of `make bench`: a real InspIRCd on a
# free loopback port (started as in tests/integ/irc_lib.inc, which this
# sources, as the irc user when root), the release ./faqbot run with the
# shipped FAQ as the bot, Python members (bench/irc_bench.py). Prints
# "irc: ..." lines.
#
# Flood limits: InspIRCd's connect class and the bot's token bucket are
# both relaxed here, so that BENCH_IRC_N (default 500) questions take a
# minute or two, not the ~85 min of the default flood control (4 lines, then
# one every 2 s, with 5-line answers). BENCH_IRC_FLOOD=default keeps the
# bot's default flood control (then choose a small BENCH_IRC_N: each
# question takes ~15 s). The server is relaxed in either case: it is not
# what is measured. Cleanup kills only the PIDs started here (irc_lib.inc's
# trap).
set -uo pipefail
cd "$(dirname "$0")/.."
BENCH_ROOT=$(pwd)
# shellcheck source=../tests/integ/irc_lib.inc
. tests/integ/irc_lib.inc
cd "$BENCH_ROOT"
skip() { echo "irc: skipped: $*"; exit 0; }
need_inspircd
[ -x ./faqbot ] || { echo "irc: ./faqbot missing (run make)"; exit 1; }

N=${BENCH_IRC_N:-500}
BURST=${BENCH_IRC_BURST:-50}
FLOOD=${BENCH_IRC_FLOOD:-relaxed}
# a member may send as fast as it likes, and nobody is fakelagged
INSPIRCD_FLOOD='recvq="64K" threshold="1000000" commandrate="100000000" fakelag="no"'
start_inspircd
if [ "$FLOOD" = default ]; then
	BOT_BURST=0 BOT_INTERVAL=0 # the bot's defaults
else
	BOT_BURST=${BENCH_IRC_FLOOD_BURST:-20} BOT_INTERVAL=${BENCH_IRC_FLOOD_INTERVAL_MS:-10}
fi
# cooldown_s = 0: the bench asks the same question 500 times, and the
# core's cooldown would (rightly) answer a repeat with silence
{
	printf 'faq_dir = faq\ncooldown_s = 0\n[irc]\nhost = 127.0.0.1\nport = %s\ntls = false\n' "$PORT"
	printf 'nick = faqbot\nchannels = #bench\n'
	if [ "$BOT_BURST" -gt 0 ]; then
		printf 'flood_burst = %s\nflood_interval_ms = %s\n' "$BOT_BURST" "$BOT_INTERVAL"
	fi
} >"$T/bot.ini"
./faqbot run --config "$T/bot.ini" >>"$T/bot.log" 2>&1 &
BOT_PID=$!

echo "irc: InspIRCd $("$INSPIRCD" --version 2>/dev/null | grep -o '[0-9][0-9.]*' | head -1) on loopback," \
	"flood limits relaxed (no fakelag, no penalty); the bot: release ./faqbot run, shipped FAQ," \
	"$([ "$BOT_BURST" -gt 0 ] && echo "flood_burst $BOT_BURST, flood_interval_ms $BOT_INTERVAL" ||
		echo "default flood control (burst 4, then 1 line / 2 s)")"
# bounded: a relaxed question takes well under a second, a default-paced
# one ~15 s; the burst ~1 s relaxed, ~500 s by default
if [ "$BOT_BURST" -gt 0 ]; then limit=$((180 + N + BURST * 2)); else limit=$((180 + N * 20 + BURST * 15)); fi
T=$T PORT=$PORT BOT=faqbot N=$N BURST=$BURST FLOOD_BURST=$BOT_BURST \
	FLOOD_INTERVAL_MS=$BOT_INTERVAL timeout "$limit" python3 bench/irc_bench.py
rc=$?
if ! kill -0 "$BOT_PID" 2>/dev/null; then
	echo "irc: the bot exited during the bench"
	rc=1
fi
if [ "$rc" -ne 0 ]; then
	NFAIL=1 # keeps $T (logs) and says where
	echo "irc: bench failed (rc $rc); bot log tail:"
	tail -n 15 "$T/bot.log" | sed 's/^/irc:   /'
fi
exit "$rc"
