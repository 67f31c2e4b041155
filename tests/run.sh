#!/usr/bin/env bash
# tests/run.sh -- the whole suite, as `make test` runs it (after building the
# ASan/UBSan binary, the unit tests and the fuzz targets).
#
# Parts: cmocka unit tests; CLI tests (tests/cli.sh); the dev-set score with
# the project's thresholds; a short run of every fuzz target over its corpus;
# every tests/integ/*.sh scenario script (exit 77 = skipped, with its reason).
# Ends with one line "N passed, N failed" counting every test case.
set -uo pipefail
cd "$(dirname "$0")/.."

export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:halt_on_error=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
FUZZ_SECONDS="${FUZZ_SECONDS:-10}"
# The learned stage's cache (faq_learn.h) for every faqbot the suite runs
# without a state folder: in a folder of the run's own, not the user's
# ~/.cache, and trained once for the shipped FAQ.
FAQBOT_CACHE=$(mktemp -d /tmp/faqbot-cache.XXXXXX)
export FAQBOT_CACHE
trap 'rm -rf "$FAQBOT_CACHE"' EXIT
passed=0 failed=0 skipped=0
failures=()

pass() { passed=$((passed + ${2:-1})); }
fail() { failed=$((failed + ${2:-1})); failures+=("$1"); echo "FAIL: $1"; }

echo "== unit tests (cmocka, ASan+UBSan)"
for t in build/asan/test_*; do
	[ -x "$t" ] || continue
	out=$("$t" 2>&1); rc=$?
	echo "$out" | grep -E '^\[  (PASSED|FAILED) |^\[  ERROR|runtime error|AddressSanitizer' || true
	np=$(echo "$out" | sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' | tail -1)
	nf=$(echo "$out" | sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' | tail -1)
	pass "$t" "${np:-0}"
	if [ "$rc" -ne 0 ]; then
		echo "$out" | tail -40
		fail "$t" "${nf:-1}"
	fi
done

echo "== command line (tests/cli.sh)"
out=$(bash tests/cli.sh build/asan/faqbot 2>&1); rc=$?
echo "$out" | grep -E '^(ok|not ok)' || true
np=$(echo "$out" | grep -c '^ok') ; nf=$(echo "$out" | grep -c '^not ok')
pass cli "$np"
if [ "$rc" -ne 0 ] || [ "$nf" -ne 0 ]; then
	echo "$out" | grep -v '^ok' | tail -40
	fail "tests/cli.sh" "$((nf > 0 ? nf : 1))"
fi

echo "== dev-set score (../shared/eval)"
if [ -x ../shared/eval/score ]; then
	if ../shared/eval/score --cmd "build/asan/faqbot --faq faq ask --json -" \
		--show-failures 20 --min-faq 0.9 --min-crisis-recall 1.0 \
		--max-crisis-false-alarm 0.03 --min-advice 0.9 --min-none 0.9 \
		../shared/eval/dev.tsv; then
		pass score
	else
		fail "dev-set score below the thresholds"
	fi
	# The frozen holdout (tests/data/holdout.tsv, written by someone who
	# never read faq/; never tuned on): a ratchet at today's figures, so
	# no change lowers them. And the kinds of the classifier issue in our
	# own wording (tests/data/kinds.tsv), every one held.
	if ../shared/eval/score --cmd "build/asan/faqbot --faq faq ask --json -" \
		--show-failures 0 --min-faq 0.90 --min-crisis-recall 0.99 \
		--max-crisis-false-alarm 0.015 --min-advice 0.94 --min-none 0.95 \
		tests/data/holdout.tsv; then
		pass holdout
	else
		fail "holdout score below the ratchet"
	fi
	# Lines we studied while tuning (tests/data/regress.tsv says which):
	# every one held, so a kind once fixed stays fixed.
	if ../shared/eval/score --cmd "build/asan/faqbot --faq faq ask --json -" \
		--show-failures 20 --min-faq 1.0 --min-crisis-recall 1.0 \
		--max-crisis-false-alarm 0 --min-advice 1.0 --min-none 1.0 \
		tests/data/regress.tsv; then
		pass regress
	else
		fail "a studied line regressed (tests/data/regress.tsv)"
	fi
	if ../shared/eval/score --cmd "build/asan/faqbot --faq faq ask --json -" \
		--show-failures 20 --min-crisis-recall 1.0 --max-crisis-false-alarm 0 \
		--min-advice 1.0 --min-none 1.0 tests/data/kinds.tsv; then
		pass kinds
	else
		fail "tests/data/kinds.tsv: a kind of message is misread"
	fi
else
	echo "skipped: ../shared/eval/score not found (CI has ../shared beside the clone)"
	skipped=$((skipped + 1))
fi

echo "== fuzz smoke runs (${FUZZ_SECONDS}s each, over the corpus)"
for f in build/fuzz/fuzz_*; do
	[ -x "$f" ] || continue
	name=${f##*/fuzz_}
	corpus=tests/fuzz/corpus/$name
	work=$(mktemp -d)
	[ -d "$corpus" ] && cp -r "$corpus"/. "$work"/ 2>/dev/null
	if "$f" -max_total_time="$FUZZ_SECONDS" -timeout=10 -rss_limit_mb=2048 \
		-print_final_stats=0 "$work" >"$work.log" 2>&1; then
		echo "ok: $f ($(grep -c . <(ls "$work")) inputs)"
		pass "$f"
	else
		tail -30 "$work.log"
		fail "$f"
	fi
	rm -rf "$work" "$work.log"
done

echo "== scenarios (tests/integ)"
# The Matrix scenarios run twice: with the transport's stand-in driver, and
# with the real `faqbot run --config` (MX_BOT=faqbot), so the product itself
# is what passes them.
scenarios=()
for s in tests/integ/*.sh; do
	[ -f "$s" ] || continue
	# the Debian package's test is a target of its own (make test-deb)
	case $s in tests/integ/deploy_deb.sh) continue ;; esac
	scenarios+=("$s")
	case $s in tests/integ/matrix_*) scenarios+=("MX_BOT=faqbot $s") ;; esac
done
for entry in "${scenarios[@]}"; do
	s=${entry##* }
	envs=${entry% *}
	[ "$envs" = "$entry" ] && envs=""
	echo "-- $entry"
	out=$(env $envs FAQBOT=build/asan/faqbot bash "$s" 2>&1); rc=$?
	echo "$out" | grep -E '^(ok|not ok|skip)' || true
	if [ "$rc" -eq 77 ]; then
		echo "skipped: $entry: $(echo "$out" | tail -1)"
		skipped=$((skipped + 1))
		continue
	fi
	np=$(echo "$out" | grep -c '^ok'); nf=$(echo "$out" | grep -c '^not ok')
	pass "$entry" "$np"
	if [ "$rc" -ne 0 ] || [ "$nf" -ne 0 ]; then
		echo "$out" | grep -v '^ok' | tail -40
		fail "$entry" "$((nf > 0 ? nf : 1))"
	fi
done

echo
for f in "${failures[@]}"; do echo "failed: $f"; done
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
