#!/usr/bin/env bash
# tests/lint.sh -- `make lint`: what a reviewer should not have to look for.
#  1. include directions, by folder (docs/ARCHITECTURE.md): src/lib/ (the
#     shared pieces and the dlopen loaders) includes only src/lib/, so any
#     layer may use it; src/core/ includes only core/ and lib/ (never app/ or
#     net/, transport.h included, nor libcurl); src/net/ never includes
#     core/, and of app/ only metrics.h (the counters); of src/net/'s
#     headers, src/app/ includes only the contract (transport.h), but for
#     main.c, cli_run.c and nets.c, which wire the transports, and
#     cli_keys.c, which reads the Matrix device's identity; serve never
#     includes a transport's own header nor a loader of one (curl_dl,
#     ssl_dl); and
#     every "x.h" included is one of src/'s. Within the transports: the IRC
#     transport's pure parts (src/net/irc/: irc_parse irc_reg irc_chat
#     irc_out) do no I/O: no sockets, poll, files, clock or logging, no
#     connection or journal header (their tests feed them lines and a fake
#     clock); likewise the Matrix transport's pure parts (src/net/matrix/:
#     mx_json mx_repair mx_power mx_ids mx_html mx_body mx_keys): no libcurl,
#     sockets, files, clock or logging, no header of the transport's I/O
#     side (matrix, matrix_*); matrix_int.h (the Matrix transport's inside)
#     is included by its own parts only (matrix.c, matrix_*.c); libolm
#     (<olm/...> and its loader olm_dl.h) is called by one module,
#     src/net/matrix/mx_crypto.c, mx_crypto_in.c and mx_crypto_out.c, so vodozemac can
#     replace that module alone;
#  2. banned functions (curl's list): sprintf strcpy strcat strtok atoi gets;
#  3. formatting against .clang-format, where clang-format is installed.
set -uo pipefail
cd "$(dirname "$0")/.."
bad=0
files=$(find src -name '*.[ch]' | sort)
# the folder of each header: its layer (lib core app net; net/matrix and
# net/irc are net's)
declare -A layer
for f in $files; do
	case $f in *.h) ;; *) continue ;; esac
	l=${f#src/}
	layer[${f##*/}]=${l%%/*}
done
for f in $files; do
	from=${f#src/}
	from=${from%%/*}
	for inc in $(sed -n 's/^[[:space:]]*#[[:space:]]*include "\([^"]*\.h\)".*/\1/p' "$f"); do
		to=${layer[$inc]:-}
		case $from:$to in
		*:) echo "lint: $f: includes $inc, which is not in src/"; bad=1 ;;
		lib:lib | core:core | core:lib) ;;
		lib:*) echo "lint: $f: lib/ includes $to/$inc (lib/ includes only lib/)"; bad=1 ;;
		core:*) echo "lint: $f: the core includes $to/$inc (core/ includes only core/ and lib/)"; bad=1 ;;
		net:core) echo "lint: $f: a transport includes the core's $inc"; bad=1 ;;
		net:app)
			[ "$inc" = metrics.h ] || { echo "lint: $f: a transport includes app/$inc (of app/, only metrics.h)"; bad=1; } ;;
		app:net)
			case $f:$inc in
			*:transport.h | src/app/main.c:* | src/app/cli_run.c:* | src/app/nets.c:*) ;;
			src/app/cli_keys.c:matrix.h) ;; # faqbot keys: the device's identity
			*) echo "lint: $f: includes the transport header $inc (only main.c, cli_run.c, nets.c and cli_keys.c do)"; bad=1 ;;
			esac ;;
		esac
	done
done
if grep -nE '#include <curl/' $(find src/core src/lib -name '*.[ch]' ! -name curl_dl.[ch]); then
	echo "lint: libcurl's header outside the transports and curl_dl"; bad=1
fi
# serve is the running bot (serve.c and its parts, serve_*.c): it speaks
# the contract (transport.h), never a transport's own header, nor a loader
# of one
for f in src/app/serve.[ch] src/app/serve_*.[ch]; do
	if grep -nE '#include "(matrix|matrix_[a-z]+|mx_[a-z]+|irc|irc_[a-z]+|curl_dl|ssl_dl)\.h"|#include <curl/' "$f"; then
		echo "lint: $f: serve includes a transport header"; bad=1
	fi
done
irc_pure="irc_parse irc_reg irc_chat irc_out"
for m in $irc_pure; do
	for f in src/net/irc/$m.c src/net/irc/$m.h; do
		[ -f "$f" ] || { echo "lint: $f: listed as a pure IRC part, not found"; bad=1; continue; }
		if grep -nE '#include <(sys/socket|sys/ioctl|poll|netdb|unistd|fcntl|time)\.h>|#include "(irc|irc_conn|irc_outbox|irc_journal|ssl_dl|state|health|clock|backoff)\.h"|\blog_(debug|info|warn|error|msg)\(|\b(clock_gettime|poll|recv|send|fopen|open|write)\(' "$f"; then
			echo "lint: $f: a pure IRC part does I/O or includes a part that does"; bad=1
		fi
	done
done
mx_pure="mx_json mx_repair mx_power mx_ids mx_html mx_body mx_keys mx_appsvc"
for m in $mx_pure; do
	for f in src/net/matrix/$m.c src/net/matrix/$m.h; do
		[ -f "$f" ] || { echo "lint: $f: listed as a pure Matrix part, not found"; bad=1; continue; }
		if grep -nE '#include <(curl/[a-z]+|sys/socket|poll|netdb|unistd|fcntl|time)\.h>|#include "(matrix|matrix_[a-z]+|curl_dl|ssl_dl|state|health|log|clock|backoff)\.h"|\blog_(debug|info|warn|error|msg)\(|\b(clock_gettime|poll|recv|send|fopen|open|write)\(' "$f"; then
			echo "lint: $f: a pure Matrix part does I/O or includes a part that does"; bad=1
		fi
	done
done
# serve_int.h is the running bot's inside: its own parts only
if grep -lE '#include "serve_int\.h"' $files | grep -vE '^src/app/serve(_[a-z]+)?\.c$'; then
	echo "lint: serve_int.h included outside serve"; bad=1
fi
# matrix_int.h is the Matrix transport's inside: its own parts only
if grep -lE '#include "matrix_int\.h"' $files | grep -vE '^src/net/matrix/matrix(_[a-z0-9]+)*\.c$'; then
	echo "lint: matrix_int.h included outside the Matrix transport"; bad=1
fi
# libolm: one module calls it (mx_crypto.c), through its loader
if grep -nE '#include (<olm/|"olm_dl\.h")' $files | grep -vE '^src/(lib/olm_dl\.[ch]|net/matrix/mx_crypto(_in|_out|_xsign)?\.c):'; then
	echo "lint: libolm outside src/net/matrix/mx_crypto{,_in,_out,_xsign}.c (the one module that calls it)"; bad=1
fi
if grep -nE '\bolm_[a-z_]+\(' $files | grep -vE '^src/(lib/olm_dl\.[ch]|net/matrix/mx_crypto(_in|_out|_xsign)?\.c):'; then
	echo "lint: a libolm call outside src/net/matrix/mx_crypto{,_in,_out,_xsign}.c"; bad=1
fi
if grep -nE '\b(sprintf|vsprintf|strcpy|strcat|strtok|atoi|gets)\s*\(' $files | grep -v '^\s*/\?\*'; then
	echo "lint: banned function (use snprintf, memcpy with a length, strtol)"; bad=1
fi
if command -v clang-format >/dev/null && [ -f .clang-format ]; then
	for f in $files; do
		if ! clang-format --dry-run -Werror "$f" >/dev/null 2>&1; then
			echo "lint: $f: not formatted (clang-format -i $f)"; bad=1
		fi
	done
fi
[ $bad -eq 0 ] && echo "lint: ok"
exit $bad
