#!/usr/bin/env bash
# deploy_man.sh -- faqbot.1 renders without a warning (man and groff), and
# says everything `faqbot --help` does: every command and option, every exit
# code, the files, the environment and the signals.
HARNESS_NAME=man
. "$(dirname "$0")/harness.inc"
BIN=${FAQBOT:-./faqbot}

command -v man >/dev/null || command -v groff >/dev/null ||
	skip "neither man (man-db) nor groff is installed (scripts/deps installs them)"
[ -x "$BIN" ] || skip "no faqbot binary at $BIN to compare --help with"

if command -v man >/dev/null; then
	# man-db: -l reads the file itself; --warnings turns groff's on
	out=$(MANWIDTH=80 man --warnings -l ./faqbot.1 2>&1 >/dev/null)
	rc=$?
	[ $rc -eq 0 ] && [ -z "$out" ] && ok "man --warnings -l ./faqbot.1: no warning" || notok "man warnings (rc $rc)" "$out"
fi
if command -v groff >/dev/null; then
	out=$(groff -man -ww -z -Tutf8 faqbot.1 2>&1)
	[ $? -eq 0 ] && [ -z "$out" ] && ok "groff -man -ww: no warning" || notok "groff warnings" "$out"
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
	notok "commands missing from the man page:$missing"
missing=""
for w in $opts; do grep -qF -- "$w" <<<"$text" || missing="$missing $w"; done
[ -n "$opts" ] && [ -z "$missing" ] && ok "every option of --help is in the man page ($(echo $opts))" ||
	notok "options missing from the man page:$missing"

sect() { awk -v s="$1" '/^[A-Z][A-Z ]*$/{on=($0==s)} on' <<<"$text"; }
codes=$(sect "EXIT STATUS" | grep -oE '^ +[0-9]+ ' | tr -d ' ' | tr '\n' ' ')
[ "$codes" = "0 1 2 3 4 " ] && ok "EXIT STATUS: 0 to 4" || notok "exit codes: '$codes'"
sect ENVIRONMENT | grep -q FAQBOT_FAQ_DIR && sect ENVIRONMENT | grep -q password_env &&
	ok "ENVIRONMENT: FAQBOT_FAQ_DIR and the secret variables" || notok "environment section"
f=$(sect FILES)
grep -q /etc/faqbot/faqbot.ini <<<"$f" && grep -q /var/lib/faqbot <<<"$f" && grep -q share/faqbot/faq <<<"$f" &&
	grep -q password <<<"$f" && ok "FILES: config, state, FAQ, secret" || notok "files section" "$f"
s=$(sect SIGNALS)
grep -q SIGTERM <<<"$s" && grep -q SIGINT <<<"$s" && grep -q SIGHUP <<<"$s" &&
	ok "SIGNALS: SIGINT, SIGTERM, SIGHUP" || notok "signals section" "$s"
done_checks
