#!/usr/bin/env bash
# tests/stress.sh -- `make test-stress`: the suite (tests/run.sh) with the
# machine loaded, both ways the suite must hold under:
#   1. beside `stress-ng --cpu N` (N = the cores: every core kept busy);
#   2. two copies of the suite at once, each in a copy of the tree (with
#      its build, and ../shared beside it as CI has it) in a folder of /tmp.
# Each run's output goes to a log (named at the end, kept when it failed);
# the last line is "N passed, N failed" over the three runs, as each run
# counts. Needs stress-ng (scripts/deps --test) for the first; without it
# that run is a failure, not a skip: the point is the load.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
W=$(mktemp -d /tmp/faqbot-stress.XXXXXX)
STRESS_PID=""
cleanup() {
	[ -n "$STRESS_PID" ] && kill "$STRESS_PID" 2>/dev/null && wait "$STRESS_PID" 2>/dev/null
	# the copies of the tree (with their builds, ~0.5 GB); the logs stay
	rm -rf "$W/a" "$W/b"
}
trap cleanup EXIT
ncpu=$(nproc 2>/dev/null || echo 2)
passed=0 failed=0 bad=0
tally() { # tally NAME LOG RC: adds the run's closing line to the totals
	local line
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$2" | tail -1)
	echo "$1: ${line:-no closing line} (exit $3, $4 s; log $2)"
	if [ -n "$line" ]; then
		passed=$((passed + $(awk '{print $1}' <<<"$line")))
		failed=$((failed + $(awk '{print $3}' <<<"$line")))
	else
		failed=$((failed + 1))
	fi
	[ "$3" -eq 0 ] || bad=1
	grep -E '^(failed:|FAIL:)' "$2" | sed 's/^/   /'
}

# 1. beside stress-ng
if command -v stress-ng >/dev/null; then
	stress-ng --cpu "$ncpu" --timeout 7200 --quiet &
	STRESS_PID=$!
	echo "== 1. the suite beside stress-ng --cpu $ncpu (log $W/stress-ng.log)"
	t0=$(date +%s)
	bash tests/run.sh >"$W/stress-ng.log" 2>&1
	rc=$?
	kill "$STRESS_PID" 2>/dev/null
	wait "$STRESS_PID" 2>/dev/null
	STRESS_PID=""
	tally "beside stress-ng --cpu $ncpu" "$W/stress-ng.log" "$rc" "$(($(date +%s) - t0))"
else
	echo "not ok: stress-ng is not installed (scripts/deps --test installs it)"
	failed=$((failed + 1)) bad=1
fi

# 2. two copies at once
echo "== 2. two copies of the suite at once ($W/a, $W/b)"
shared=$(cd "$ROOT/../shared" 2>/dev/null && pwd)
for c in a b; do
	mkdir -p "$W/$c"
	[ -n "$shared" ] && ln -s "$shared" "$W/$c/shared"
	# the tree as it is (uncommitted edits too) with its build, times kept
	# so that nothing is rebuilt
	tar -C "$ROOT" --exclude=./.git -cf - . | (mkdir -p "$W/$c/main" && tar -C "$W/$c/main" -xpf -)
done
t0=$(date +%s)
bash "$W/a/main/tests/run.sh" >"$W/copy-a.log" 2>&1 &
pa=$!
bash "$W/b/main/tests/run.sh" >"$W/copy-b.log" 2>&1 &
pb=$!
wait "$pa"
ra=$?
wait "$pb"
rb=$?
secs=$(($(date +%s) - t0))
tally "copy a, beside copy b" "$W/copy-a.log" "$ra" "$secs"
tally "copy b, beside copy a" "$W/copy-b.log" "$rb" "$secs"

echo
echo "$passed passed, $failed failed"
if [ "$bad" -eq 0 ] && [ "$failed" -eq 0 ]; then
	rm -rf "$W"
	exit 0
fi
echo "logs kept in $W"
exit 1
