#!/usr/bin/env bash
# prefilter_fallback.sh -- faqbot without Vectorscan, as on a host where it
# is not installed or will not load: the prefilter is off, `check` says
# why, and `ask` gives the very same answers, PCRE2 trying every pattern.
# And without the compiler half only (libhs): a prefilter already in the
# cache still serves, read by the runtime half alone; with none there, off.
#
# The libraries are hidden in a private mount namespace (/dev/null bound
# over them, so dlopen() fails as on a broken install): nothing on the
# machine changes. Needs root or user namespaces for `unshare -m`; else
# skipped (exit 77), with the reason.
HARNESS_NAME=prefilter
. "$(dirname "$0")/harness.inc"
# grep in $out (a here-string: under pipefail, `echo | grep -q` can fail on
# SIGPIPE when grep leaves at its first match)
grep_out() { grep "$@" <<<"$out"; }
BIN=$(readlink -f "${FAQBOT:-./faqbot}")

[ -x "$BIN" ] || skip "no faqbot binary at $BIN"
lib() { readlink -f "$(ldconfig -p | sed -n "s/^[[:space:]]*$1 .*=> //p" | head -1)" 2>/dev/null; }
rt=$(lib libhs_runtime.so.5) cc=$(lib libhs.so.5)
[ -f "$rt" ] && [ -f "$cc" ] || skip "Vectorscan (libvectorscan5) is not installed here"
if unshare -m true 2>/dev/null; then ns="unshare -m"
elif unshare -rm true 2>/dev/null; then ns="unshare -rm"
else skip "needs 'unshare -m' (root) or 'unshare -rm' (user namespaces)"
fi

# without WHAT (the libraries' paths), run faqbot with the arguments
without() {
	local what=$1 mounts="" f
	shift
	for f in $what; do mounts="$mounts mount --bind /dev/null $f &&"; done
	$ns sh -c "$mounts exec \"\$0\" \"\$@\"" "$BIN" "$@"
}

grep -v '^#' tests/data/kinds.tsv faq/learn/crisis.tsv faq/learn/chat.tsv | cut -f1 | cut -d: -f2- > "$T/messages"
# The caches here are about the prefilter: they start without one. The
# learned stage of the shipped FAQ, which every faqbot start needs and
# which is not what this tests, is copied into each from the suite's cache
# (tests/run.sh trains it once a run) where there is one: without it each
# cold cache below trains it again, ~30 s a time under ASan.
seed() {
	mkdir -p "$1"
	[ -n "${FAQBOT_CACHE:-}" ] && cp "$FAQBOT_CACHE"/stage-* "$1"/ 2>/dev/null
	true
}
seed "$T/cache"
seed "$T/empty"
export FAQBOT_CACHE="$T/cache"
"$BIN" ask --json --explain - < "$T/messages" > "$T/with" 2>&1

out=$(without "$rt $cc" check faq 2>&1); rc=$?
[ $rc -eq 0 ] && grep_out -q "^prefilter: off (cannot load libhs_runtime.so.5" &&
	ok "no Vectorscan at all: check passes and says the prefilter is off, and why" ||
	notok "check without Vectorscan (rc $rc)" "$out"
without "$rt $cc" ask --json --explain - < "$T/messages" > "$T/without" 2>&1
cmp -s "$T/with" "$T/without" && [ -s "$T/with" ] &&
	ok "no Vectorscan at all: ask answers $(wc -l < "$T/messages") messages exactly as with it" ||
	notok "answers differ without Vectorscan" "$(diff "$T/with" "$T/without" | head)"

# the compiler half missing: from the cache the prefilter still serves
"$BIN" check faq >/dev/null 2>&1 # the cache holds this FAQ's prefilter
out=$(without "$cc" check faq 2>&1)
grep_out -q "^prefilter: Vectorscan .*from the cache" &&
	ok "libhs missing: the prefilter in the cache serves, read by libhs_runtime alone" ||
	notok "libhs missing, warm cache" "$out"
out=$(FAQBOT_CACHE="$T/empty" without "$cc" check faq 2>&1); rc=$?
[ $rc -eq 0 ] && grep_out -q "^prefilter: off (cannot load libhs.so.5" &&
	ok "libhs missing, nothing cached: check passes, the prefilter off and why" ||
	notok "libhs missing, cold cache (rc $rc)" "$out"
FAQBOT_CACHE="$T/empty" without "$cc" ask --json --explain - < "$T/messages" > "$T/nocc" 2>&1
cmp -s "$T/with" "$T/nocc" && ok "libhs missing: the same answers" ||
	notok "answers differ without libhs" "$(diff "$T/with" "$T/nocc" | head)"

# a cache file that is not a prefilter: rebuilt, never in the way
for f in "$T"/cache/prefilter-*.blob; do printf 'not a prefilter' > "$f"; done
out=$("$BIN" check faq 2>&1); rc=$?
[ $rc -eq 0 ] && grep_out -q "^prefilter: Vectorscan .*compiled" &&
	ok "a damaged cache file: compiled again, check passes" || notok "damaged cache (rc $rc)" "$out"
"$BIN" ask --json --explain - < "$T/messages" > "$T/again" 2>&1
cmp -s "$T/with" "$T/again" && ok "and the same answers" || notok "answers after a damaged cache"

echo "# $NCHECK checks, $NFAIL failed"
done_checks
