#!/usr/bin/env bash
# tests/lint.sh -- `make lint`: what a reviewer should not have to look for.
#  1. include directions: the core (text match faq helpline classify check bot
#     views learn faq_learn concept recent buf negate prefilter
#     cmd policy stats), and serve but for transport.h,
#     never includes a transport or libcurl header; transports never include
#     the FAQ, classifier or bot headers (main.c wires them);
#  2. banned functions (curl's list): sprintf strcpy strcat strtok atoi gets;
#  3. formatting against .clang-format, where clang-format is installed.
set -uo pipefail
cd "$(dirname "$0")/.."
bad=0
core="text match faq helpline classify check bot cmd policy stats views learn faq_learn concept recent buf negate prefilter"
transport_h='#include "(matrix|mx_json|irc|irc_parse|transport|console)\.h"|#include <curl/'
for m in $core; do
	for f in src/$m.c src/$m.h; do
		[ -f "$f" ] || continue
		if grep -nE "$transport_h" "$f"; then echo "lint: $f: the core includes a transport header"; bad=1; fi
	done
done
# serve is the running bot: it speaks the contract (transport.h), never a
# transport's own header
for f in src/serve.c src/serve.h; do
	if grep -nE '#include "(matrix|mx_json|irc|irc_parse|curl_dl|ssl_dl)\.h"|#include <curl/' "$f"; then
		echo "lint: $f: serve includes a transport header"; bad=1
	fi
done
for f in src/matrix.c src/matrix.h src/mx_json.c src/mx_json.h src/irc.c src/irc.h src/irc_parse.c src/irc_parse.h src/irc_out.c src/irc_out.h src/irc_journal.c src/irc_journal.h; do
	[ -f "$f" ] || continue
	if grep -nE '#include "(faq|classify|bot|check|helpline)\.h"' "$f"; then
		echo "lint: $f: a transport includes a core header"; bad=1
	fi
done
if grep -nE '\b(sprintf|vsprintf|strcpy|strcat|strtok|atoi|gets)\s*\(' src/*.c src/*.h | grep -v '^\s*/\?\*'; then
	echo "lint: banned function (use snprintf, memcpy with a length, strtol)"; bad=1
fi
if command -v clang-format >/dev/null && [ -f .clang-format ]; then
	for f in src/*.c src/*.h; do
		if ! clang-format --dry-run -Werror "$f" >/dev/null 2>&1; then
			echo "lint: $f: not formatted (clang-format -i $f)"; bad=1
		fi
	done
fi
[ $bad -eq 0 ] && echo "lint: ok"
exit $bad
