#!/usr/bin/env bash
# deploy_man.sh -- faqbot.1 renders without a warning (man and groff), and
# says everything `faqbot --help` does: every command and option, every exit
# code, the files, the environment and the signals.
set -uo pipefail
cd "$(dirname "$0")/../.."
BIN=${FAQBOT:-./faqbot}
n=0 bad=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
no() { n=$((n + 1)); bad=$((bad + 1)); echo "not ok $n - $1"; [ -n "${2:-}" ] && echo "$2" | head -20 | sed 's/^/#   /'; }

command -v man >/dev/null || command -v groff >/dev/null ||
	{ echo "skip: neither man (man-db) nor groff is installed (scripts/deps installs them)"; exit 77; }
[ -x "$BIN" ] || { echo "skip: no faqbot binary at $BIN to compare --help with"; exit 77; }

if command -v man >/dev/null; then
	# man-db: -l reads the file itself; --warnings turns groff's on
	out=$(MANWIDTH=80 man --warnings -l ./faqbot.1 2>&1 >/dev/null)
	rc=$?
	[ $rc -eq 0 ] && [ -z "$out" ] && ok "man --warnings -l ./faqbot.1: no warning" || no "man warnings (rc $rc)" "$out"
fi
if command -v groff >/dev/null; then
	out=$(groff -man -ww -z -Tutf8 faqbot.1 2>&1)
	[ $? -eq 0 ] && [ -z "$out" ] && ok "groff -man -ww: no warning" || no "groff warnings" "$out"
fi
if command -v man >/dev/null; then
	text=$(MANWIDTH=200 man -l ./faqbot.1 2>/dev/null)
else
	text=$(groff -man -Tascii -rLL=200n faqbot.1 2>/dev/null | col -b)
fi

# every command and option of --help
help=$("$BIN" --help)
cmds=$(sed -n 's/^  \([a-z][a-z]*\)\( .*\|\)$/\1/p' <<<"$help" | sort -u)
opts=$(grep -oE '(^|[ [])--?[a-zA-Z][a-zA-Z-]*' <<<"$help" | tr -d ' [' | sort -u)
missing=""
for w in $cmds help version; do grep -qE "(^| )$w( |,|$)" <<<"$text" || missing="$missing $w"; done
[ -n "$cmds" ] && [ -z "$missing" ] && ok "every command of --help is in the man page ($(echo $cmds))" ||
	no "commands missing from the man page:$missing"
missing=""
for w in $opts; do grep -qF -- "$w" <<<"$text" || missing="$missing $w"; done
[ -n "$opts" ] && [ -z "$missing" ] && ok "every option of --help is in the man page ($(echo $opts))" ||
	no "options missing from the man page:$missing"

sect() { awk -v s="$1" '/^[A-Z][A-Z ]*$/{on=($0==s)} on' <<<"$text"; }
codes=$(sect "EXIT STATUS" | grep -oE '^ +[0-9]+ ' | tr -d ' ' | tr '\n' ' ')
[ "$codes" = "0 1 2 3 4 " ] && ok "EXIT STATUS: 0 to 4" || no "exit codes: '$codes'"
sect ENVIRONMENT | grep -q FAQBOT_FAQ_DIR && sect ENVIRONMENT | grep -q password_env &&
	ok "ENVIRONMENT: FAQBOT_FAQ_DIR and the secret variables" || no "environment section"
f=$(sect FILES)
grep -q /etc/faqbot/faqbot.ini <<<"$f" && grep -q /var/lib/faqbot <<<"$f" && grep -q share/faqbot/faq <<<"$f" &&
	grep -q password <<<"$f" && ok "FILES: config, state, FAQ, secret" || no "files section" "$f"
s=$(sect SIGNALS)
grep -q SIGTERM <<<"$s" && grep -q SIGINT <<<"$s" && grep -q SIGHUP <<<"$s" &&
	ok "SIGNALS: SIGINT, SIGTERM, SIGHUP" || no "signals section" "$s"
[ "$bad" -eq 0 ]
