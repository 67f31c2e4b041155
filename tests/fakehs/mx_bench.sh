#!/usr/bin/env bash
# mx_bench.sh -- build the transport's stand-in bot (tests/integ/mx_driver.c)
# optimised, against build/rel, and run tests/fakehs/mx_bench.py with it.
# Usage: tests/fakehs/mx_bench.sh [-n 1000] [--rooms 100]
# (For the real bot, give mx_bench.py --bot "faqbot run --config ..." .)
set -euo pipefail
cd "$(dirname "$0")/../.."
mkvar() { # the value of a Makefile variable
	make -s --no-print-directory -f Makefile -f /dev/stdin "print-$1" <<'MK'
print-%:
	@echo $($*)
MK
}
objs=()
for f in src/*/*.c src/*/*/*.c; do
	[ "$f" = src/app/main.c ] && continue
	f=${f##*/}
	objs+=("build/rel/${f%.c}.o")
done
make -s "${objs[@]}"
# shellcheck disable=SC2046
cc $(mkvar CSTD) -O2 -DFAQBOT_VERSION='"bench"' $(mkvar PKG_CFLAGS) $(mkvar INC) \
	-o build/rel/mx_driver tests/integ/mx_driver.c "${objs[@]}" $(mkvar PKG_LIBS)
exec python3 tests/fakehs/mx_bench.py "$@" --bot \
	'MX_PW=$BOT_PW exec build/rel/mx_driver --hs "$BOT_HS" --user @bot:fake.test --state "$BOT_STATE" --password-env MX_PW'
