#!/usr/bin/env bash
# deps.sh -- scripts/deps installs what building and running need, and with
# --test what the tests need besides (the IRC servers, systemd-analyze,
# stress-ng, podman); it names only missing packages to apt-get, with
# --no-upgrade, and never upgrades; the README's two commands are the two
# ways to call it, and .ci/run runs exactly the README's test command.
# dpkg-query and apt-get are stand-ins on PATH here: nothing is installed.
HARNESS_NAME=deps
. "$(dirname "$0")/harness.inc"

# the stand-ins: dpkg-query says "installed" for the names in $T/installed;
# apt-get and sudo write what they were asked to $T/apt.log
mkdir -p "$T/bin"
cat >"$T/bin/dpkg-query" <<'SH'
#!/bin/sh
for a; do p=$a; done
grep -qx "$p" "$STUB_DIR/installed" && printf 'install ok installed'
exit 0
SH
cat >"$T/bin/apt-get" <<'SH'
#!/bin/sh
echo "apt-get $*" >>"$STUB_DIR/apt.log"
SH
cat >"$T/bin/sudo" <<'SH'
#!/bin/sh
echo "sudo" >>"$STUB_DIR/apt.log"
exec "$@"
SH
chmod +x "$T/bin"/*
deps() { # deps ARGS...: scripts/deps with the stand-ins; sets RC and LOG
	: >"$T/apt.log"
	STUB_DIR=$T PATH="$T/bin:$PATH" sh scripts/deps "$@" >"$T/out" 2>&1
	RC=$?
	LOG=$(cat "$T/apt.log")
}
install_line() { grep '^apt-get install' <<<"$LOG"; }
named() { # named PKG: the install line names PKG
	install_line | tr ' ' '\n' | grep -qx "$1"
}

BUILD="gcc make pkg-config libpcre2-dev libjansson-dev libcurl4-openssl-dev libyaml-dev
libutf8proc-dev libinih-dev libicu-dev liblinear-dev libvectorscan-dev libolm-dev"
TESTONLY="ngircd inspircd atheme-services systemd stress-ng podman libcmocka-dev clang groff-base
python3-olm"

# nothing installed
: >"$T/installed"
deps
check_out "scripts/deps: exit 0 (${RC})" test "$RC" = 0
missing=""
for p in $BUILD; do named "$p" || missing="$missing $p"; done
check_out "scripts/deps installs what building needs${missing:+ (missing:$missing)}" test -z "$missing"
extra=""
for p in $TESTONLY; do named "$p" && extra="$extra $p"; done
check_out "scripts/deps installs no test-only package${extra:+ (but:$extra)}" test -z "$extra"
deps --test
check_out "scripts/deps --test: exit 0 (${RC})" test "$RC" = 0
missing=""
for p in $BUILD $TESTONLY; do named "$p" || missing="$missing $p"; done
check_out "scripts/deps --test installs those and the test servers, systemd, stress-ng, podman${missing:+ (missing:$missing)}" \
	test -z "$missing"
check_out "apt-get install is told --no-upgrade, and nothing is upgraded" \
	bash -c 'grep -q -- "--no-upgrade" <<<"$1" && ! grep -qE "^apt-get (upgrade|dist-upgrade|full-upgrade)|--only-upgrade" <<<"$1"' _ "$LOG"

# everything installed: no apt-get at all
deps --test
install_line | tr ' ' '\n' | grep -v -- '^-' | grep -v '^apt-get$\|^install$' >"$T/installed"
deps --test
check_out "all there: scripts/deps --test calls no apt-get (not even update)" test -z "$LOG" -a "$RC" = 0
deps
check_out "all there: scripts/deps calls no apt-get" test -z "$LOG" -a "$RC" = 0

# one missing: only it is named
grep -vx ngircd "$T/installed" >"$T/i2" && mv "$T/i2" "$T/installed"
deps --test
check_out "one missing: only it is named to apt-get ($(install_line))" \
	test "$(install_line | tr ' ' '\n' | grep -v -- '^-' | grep -v '^apt-get$\|^install$')" = ngircd
deps
check_out "and plain scripts/deps, which does not need it, installs nothing" test -z "$LOG"

deps --frob
check_out "an unknown option: exit 2" test "$RC" = 2

# the README's two commands, and CI's
cmds=$(sed -n '/^```sh$/,/^```$/p' README.md | head -4 | grep -v '^```')
run_cmd=$(sed -n 1p <<<"$cmds" | sed 's/ *#.*//')
test_cmd=$(sed -n 2p <<<"$cmds" | sed 's/ *#.*//')
check_out "the README's first command installs with scripts/deps ($run_cmd)" \
	bash -c '[[ $1 == "scripts/deps && make "* ]]' _ "$run_cmd"
check_out "the README's test command installs with scripts/deps --test ($test_cmd)" \
	bash -c '[[ $1 == "scripts/deps --test && make test"* ]]' _ "$test_cmd"
check_out ".ci/run runs exactly the README's test command" \
	test "$(grep -v '^#\|^set \|^cd \|^$' .ci/run)" = "$test_cmd"
done_checks
