#!/usr/bin/env bash
# mx_bench.sh -- build the transport's stand-in bot (tests/integ/mx_driver.c)
# optimised, against build/rel, and run tests/fakehs/mx_bench.py with it.
# Usage: tests/fakehs/mx_bench.sh [-n 1000] [--rooms 100]
# (For the real bot, give mx_bench.py --bot "faqbot run --config ..." .)
set -euo pipefail
cd "$(dirname "$0")/../.."
pkgs="libpcre2-8 jansson libcurl yaml-0.1 libutf8proc"
objs=()
for f in src/*.c; do
	[ "$f" = src/main.c ] && continue
	f=${f#src/}
	objs+=("build/rel/${f%.c}.o")
done
make -s "${objs[@]}"
cc -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -O2 -DFAQBOT_VERSION='"bench"' \
	$(pkg-config --cflags $pkgs) -Isrc -o build/rel/mx_driver tests/integ/mx_driver.c \
	"${objs[@]}" $(pkg-config --libs $pkgs)
exec python3 tests/fakehs/mx_bench.py "$@" --bot \
	'MX_PW=$BOT_PW exec build/rel/mx_driver --hs "$BOT_HS" --user @bot:fake.test --state "$BOT_STATE" --password-env MX_PW'
