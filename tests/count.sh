#!/usr/bin/env bash
# tests/count.sh SCRIPT... -- run scenario scripts on their own (as
# `make test-deb` does), showing their output, and end as tests/run.sh does
# with one line "N passed, N failed, N skipped": an "ok" line passes, a
# "not ok" line fails, exit 77 is a skip (its last line says why), and any
# other non-zero exit without a "not ok" counts as one failure.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
passed=0 failed=0 skipped=0
for s in "$@"; do
	echo "-- $s"
	log=$(mktemp /tmp/faqbot-count.XXXXXX)
	t0=$(date +%s)
	bash "$s" 2>&1 | tee "$log"
	rc=${PIPESTATUS[0]}
	echo "-- $s: exit $rc in $(($(date +%s) - t0)) s"
	if [ "$rc" -eq 77 ]; then
		skipped=$((skipped + 1))
	else
		np=$(grep -c '^ok' "$log"); nf=$(grep -c '^not ok' "$log")
		[ "$rc" -ne 0 ] && [ "$nf" -eq 0 ] && nf=1
		passed=$((passed + np)) failed=$((failed + nf))
	fi
	rm -f "$log"
done
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
