#!/usr/bin/env bash
# bench/irc_bench.sh -- the IRC part of `make bench`: a real ngircd on a free
# loopback port (started as in tests/integ/irc_lib.inc, which this sources),
# the release ./faqbot as the IRC bot, two Python members (bench/irc_bench.py).
# Prints "irc: ..." lines. BENCH_IRC_N (default 20; the issue asks 500, which
# takes about 85 minutes) addressed questions;
# each costs about 2 s x the answer's lines under the bot's flood control.
# Cleanup kills only the PIDs started here (irc_lib.inc's trap).
set -uo pipefail
cd "$(dirname "$0")/.."
BENCH_ROOT=$(pwd)
# shellcheck source=../tests/integ/irc_lib.inc
. tests/integ/irc_lib.inc
cd "$BENCH_ROOT"
skip() { echo "irc: skipped: $*"; exit 0; }
need_ngircd
[ -x ./faqbot ] || { echo "irc: ./faqbot missing (run make)"; exit 1; }

N=${BENCH_IRC_N:-20}
RELAY_N=${BENCH_IRC_RELAY_N:-500}
BURST=${BENCH_IRC_BURST:-50}
start_ircd
printf 'faq_dir = faq\n[irc]\nhost = 127.0.0.1\nport = %s\ntls = false\nnick = faqbot\nchannels = #bench\n' \
	"$PORT" > "$T/bot.ini"
./faqbot run --config "$T/bot.ini" >>"$T/bot.log" 2>&1 &
BOT_PID=$!

# bounded: the paced questions take about 5 s each at most, the burst
# about 2 s a line, plus set-up
limit=$((120 + N * 12 + BURST * 30))
T=$T PORT=$PORT BOT=faqbot N=$N RELAY_N=$RELAY_N BURST=$BURST \
	timeout "$limit" python3 bench/irc_bench.py
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
