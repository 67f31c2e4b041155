#!/usr/bin/env bash
# bench/run.sh -- `make bench`. Figures are ratios against a baseline measured
# in the same run, because these machines are shared and noisy.
set -euo pipefail
cd "$(dirname "$0")/.."
TSV=${BENCH_TSV:-../shared/eval/dev.tsv}
REPS=${BENCH_REPS:-300}
PKGS="libpcre2-8 jansson yaml-0.1 libutf8proc inih"
mkdir -p build/bench
objs=$(ls build/rel/*.o | grep -v '/main.o$')
cc -O2 -std=c11 -D_POSIX_C_SOURCE=200809L -Isrc -o build/bench/bench_classify \
	bench/bench_classify.c $objs $(pkg-config --libs $PKGS) -ldl

echo "classification: $REPS x the messages of $TSV (normalise + classify)"
c=$(build/bench/bench_classify ${BENCH_FAQ:-faq} "$TSV" "$REPS")
p=$(python3 bench/baseline.py "./faqbot --faq ${BENCH_FAQ:-faq}" "$TSV" "$REPS")
echo "  faqbot (PCRE2 JIT):   $c"
echo "  baseline (Python re): $p"
python3 - "$c" "$p" <<'PY'
import sys
def parse(s): return {k: float(v) for k, v in (x.split("=") for x in s.split())}
c, p = parse(sys.argv[1]), parse(sys.argv[2])
print("  throughput ratio faqbot/baseline: %.1fx (goal >= 5x)" % (c["per_sec"] / p["per_sec"]))
print("  p50 latency: %.2f us vs %.2f us (%.1fx faster)" % (c["p50_us"], p["p50_us"], p["p50_us"] / c["p50_us"]))
print("  p99 latency: %.2f us vs %.2f us (%.1fx faster)" % (c["p99_us"], p["p99_us"], p["p99_us"] / c["p99_us"]))
PY

echo "memory: peak RSS of 'faqbot ask --json -' over $TSV"
cc -O2 -o build/bench/peak_rss bench/peak_rss.c
grep -v '^#' "$TSV" | cut -f1 > build/bench/messages
kb=$(build/bench/peak_rss ./faqbot --faq "${BENCH_FAQ:-faq}" ask --json - \
	< build/bench/messages 2>&1 >/dev/null | sed -n 's/^peak_rss_kb=//p')
base=$(build/bench/peak_rss ./faqbot --version 2>&1 >/dev/null | sed -n 's/^peak_rss_kb=//p')
awk -v kb="$kb" -v base="$base" 'BEGIN { printf "  peak RSS: %.1f MB (goal < 8 MB); faqbot --version alone: %.1f MB\n", kb / 1024, base / 1024 }'

echo "matrix: 'faqbot run' against tests/fakehs (the shipped FAQ, release build)"
MX_N=${BENCH_MX_N:-1000}
python3 tests/fakehs/mx_bench.py -n "$MX_N" --rooms 100 --question 'what is tms? (%d)' --bot '
	mkdir -p "$BOT_STATE" && chmod 700 "$BOT_STATE" &&
	printf "%s\n" "$BOT_PW" > "$BOT_STATE/pw" && chmod 600 "$BOT_STATE/pw" &&
	printf "faq_dir = faq\n[matrix]\nhomeserver = %s\nuser_id = @bot:fake.test\npassword_file = %s/pw\nstate_dir = %s\n" \
		"$BOT_HS" "$BOT_STATE" "$BOT_STATE" > "$BOT_STATE.ini" &&
	exec ./faqbot run --config "$BOT_STATE.ini"' | sed 's/^/  /'
echo "  (goals: p99 overhead under 5 ms beyond the homeserver's own round trip; RSS under 16 MB)"

echo "irc: 'faqbot run' against a real ngircd on loopback (the shipped FAQ, release build)"
# BENCH_IRC_N questions (default 20; 500 take ~85 min) take about 10 s each: the answer is 5
# lines and the bot's flood control sends one line per 2 s once its burst is spent
bash bench/irc_bench.sh
