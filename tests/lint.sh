#!/usr/bin/env bash
# tests/lint.sh -- `make lint`: what a reviewer should not have to look for.
#  1. include directions: the core (text match faq helpline classify check bot
#     views learn faq_learn concept recent buf negate prefilter
#     cmd policy stats), and serve but for transport.h,
#     never includes a transport or libcurl header; transports never include
#     the FAQ, classifier or bot headers (main.c wires them); the IRC
#     transport's pure parts (irc_parse irc_reg irc_chat irc_out) do no I/O:
#     no sockets, poll, files, clock or logging, no connection or journal
#     header (their tests feed them lines and a fake clock); likewise the
#     Matrix transport's pure parts (mx_json mx_repair mx_power mx_ids
#     mx_html mx_body): no libcurl, sockets, files, clock or logging, no
#     header of the transport's I/O side (matrix, matrix_*);
#     matrix_int.h (the Matrix transport's inside) is included by its
#     own parts only (matrix.c, matrix_*.c);
#     the shared pieces (buf clock backoff strs err log) include none but
#     each other, so any layer may use them;
#  2. banned functions (curl's list): sprintf strcpy strcat strtok atoi gets;
#  3. formatting against .clang-format, where clang-format is installed.
set -uo pipefail
cd "$(dirname "$0")/.."
bad=0
core="text match faq helpline classify check bot cmd policy stats views learn faq_learn concept recent buf negate prefilter"
transport_h='#include "(matrix|matrix_[a-z]+|mx_[a-z]+|irc|irc_[a-z]+|transport|console)\.h"|#include <curl/'
# the IRC transport's files: irc.c and its parts (irc_conn, irc_reg, irc_chat,
# irc_out, irc_outbox, irc_journal, irc_parse)
irc_files=$(ls src/irc.[ch] src/irc_*.[ch] 2>/dev/null)
irc_pure="irc_parse irc_reg irc_chat irc_out"
for m in $core; do
	for f in src/$m.c src/$m.h; do
		[ -f "$f" ] || continue
		if grep -nE "$transport_h" "$f"; then echo "lint: $f: the core includes a transport header"; bad=1; fi
	done
done
# serve is the running bot: it speaks the contract (transport.h), never a
# transport's own header
for f in src/serve.c src/serve.h; do
	if grep -nE '#include "(matrix|matrix_[a-z]+|mx_[a-z]+|irc|irc_[a-z]+|curl_dl|ssl_dl)\.h"|#include <curl/' "$f"; then
		echo "lint: $f: serve includes a transport header"; bad=1
	fi
done
# the Matrix transport's files: matrix.c, its parts (matrix_*) and its
# pure JSON, HTML and id modules (mx_*)
mx_files=$(ls src/matrix.[ch] src/matrix_*.[ch] src/mx_*.[ch] 2>/dev/null)
mx_pure="mx_json mx_repair mx_power mx_ids mx_html mx_body"
for f in $mx_files $irc_files; do
	[ -f "$f" ] || continue
	if grep -nE '#include "(faq|classify|bot|check|helpline)\.h"' "$f"; then
		echo "lint: $f: a transport includes a core header"; bad=1
	fi
done
for m in $irc_pure; do
	for f in src/$m.c src/$m.h; do
		[ -f "$f" ] || continue
		if grep -nE '#include <(sys/socket|sys/ioctl|poll|netdb|unistd|fcntl|time)\.h>|#include "(irc|irc_conn|irc_outbox|irc_journal|ssl_dl|state|health|clock|backoff)\.h"|\blog_(debug|info|warn|error|msg)\(|\b(clock_gettime|poll|recv|send|fopen|open|write)\(' "$f"; then
			echo "lint: $f: a pure IRC part does I/O or includes a part that does"; bad=1
		fi
	done
done
for m in $mx_pure; do
	for f in src/$m.c src/$m.h; do
		[ -f "$f" ] || { echo "lint: $f: listed as a pure Matrix part, not found"; bad=1; continue; }
		if grep -nE '#include <(curl/[a-z]+|sys/socket|poll|netdb|unistd|fcntl|time)\.h>|#include "(matrix|matrix_[a-z]+|curl_dl|ssl_dl|state|health|log|clock|backoff)\.h"|\blog_(debug|info|warn|error|msg)\(|\b(clock_gettime|poll|recv|send|fopen|open|write)\(' "$f"; then
			echo "lint: $f: a pure Matrix part does I/O or includes a part that does"; bad=1
		fi
	done
done
# matrix_int.h is the Matrix transport's inside: its own parts only
if grep -lE '#include "matrix_int\.h"' src/*.c src/*.h | grep -vE '^src/matrix(_[a-z]+)?\.c$'; then
	echo "lint: matrix_int.h included outside the Matrix transport"; bad=1
fi
shared="buf clock backoff strs err log"
for m in $shared; do
	for f in src/$m.c src/$m.h; do
		[ -f "$f" ] || continue
		for inc in $(sed -n 's/^#include "\([a-z_]*\)\.h".*/\1/p' "$f"); do
			case " $shared " in
			*" $inc "*) ;;
			*) echo "lint: $f: a shared piece includes $inc.h"; bad=1 ;;
			esac
		done
	done
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
