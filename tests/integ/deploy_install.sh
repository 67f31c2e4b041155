#!/usr/bin/env bash
# deploy_install.sh -- `make install DESTDIR=... PREFIX=/usr` produces the
# tree the Makefile and README document, the installed binary finds the
# installed FAQ by itself (FAQBOT_DATADIR follows PREFIX) and checks it, and
# `make uninstall` takes it all away again. The build happens in a copy of
# the sources, so the checkout's ./faqbot is not rebuilt with another prefix.
HARNESS_NAME=install
. "$(dirname "$0")/harness.inc"

command -v make >/dev/null && command -v cc >/dev/null || skip "no make or cc"
mkdir -p "$T/src"
cp -r Makefile src tools faq faqbot.1 faqbot.ini.example systemd "$T/src/"

# --- PREFIX=/usr, the packager's case
R=$T/root
if out=$(make -C "$T/src" -j2 install DESTDIR="$R" PREFIX=/usr 2>&1); then
	ok "make install DESTDIR=... PREFIX=/usr"
else
	notok "make install DESTDIR=... PREFIX=/usr" "$out"
	exit 1
fi
# make prints one short line a file, the commands only with V=1
check_out "make prints one short line a file ('  CC      src/core/faq.c')" \
	grep -qx '  CC      src/core/faq.c' <<<"$out"
check_out "and no compiler command line without V=1" \
	test -z "$(grep -E '^(cc|gcc|clang) ' <<<"$out")"
mode() { stat -c %a "$1" 2>/dev/null; }
check_out "the binary: /usr/bin/faqbot, 755" test "$(mode "$R/usr/bin/faqbot")" = 755
n_src=$(ls faq/*.yml | wc -l)
n_dst=$(ls "$R"/usr/share/faqbot/faq/*.yml 2>/dev/null | wc -l)
check_out "the FAQ: /usr/share/faqbot/faq, all $n_src entries and its README" \
	test "$n_dst" = "$n_src" -a -f "$R/usr/share/faqbot/faq/README.md"
check_out "the FAQ files are 644" test "$(mode "$R/usr/share/faqbot/faq/tms.yml")" = 644
check_out "the man page: /usr/share/man/man1/faqbot.1, 644" test "$(mode "$R/usr/share/man/man1/faqbot.1")" = 644
check_out "the example config: /etc/faqbot/faqbot.ini.example, 644" \
	test "$(mode "$R/etc/faqbot/faqbot.ini.example")" = 644
check_out "the systemd unit: /usr/lib/systemd/system/faqbot.service" test -f "$R/usr/lib/systemd/system/faqbot.service"
check_out "the system user: /usr/lib/sysusers.d/faqbot.conf" test -f "$R/usr/lib/sysusers.d/faqbot.conf"
check_out "the shipped FAQ's learned stage, built at install: /usr/share/faqbot/cache, 644" \
	test "$(mode "$(ls "$R"/usr/share/faqbot/cache/stage-*.meta 2>/dev/null | head -1)")" = 644
check_out "and its prefilter" test -n "$(ls "$R"/usr/share/faqbot/cache/prefilter-*.blob 2>/dev/null)"
check_out "the learned stage's messages: faq/learn, every file" \
	test "$(ls "$R"/usr/share/faqbot/faq/learn/*.tsv 2>/dev/null | wc -l)" = "$(ls faq/learn/*.tsv | wc -l)"
extra=$(cd "$R" && find . -type f | grep -vE '^\./(usr/bin/faqbot|usr/share/faqbot/faq/[^/]+|usr/share/faqbot/faq/learn/[^/]+\.tsv|usr/share/faqbot/cache/(stage-[0-9a-f]{16}\.(kind|entry|meta)|prefilter-[0-9a-f]{16}\.blob)|usr/share/man/man1/faqbot\.1|etc/faqbot/faqbot\.ini\.example|usr/lib/systemd/system/faqbot\.service|usr/lib/sysusers\.d/faqbot\.conf)$')
check_out "nothing else installed" test -z "$extra"

# the installed pieces point at each other
check_out "the binary's default FAQ is /usr/share/faqbot/faq" \
	bash -c "'$R/usr/bin/faqbot' --help | grep -q '/usr/share/faqbot/faq'"
check_out "the unit starts /usr/bin/faqbot" grep -q '^ExecStart=/usr/bin/faqbot run --config /etc/faqbot/faqbot.ini$' "$R/usr/lib/systemd/system/faqbot.service"
check_out "the example config's faq_dir is the installed FAQ" \
	grep -q '^faq_dir = /usr/share/faqbot/faq$' "$R/etc/faqbot/faqbot.ini.example"
check_out "the man page names the installed FAQ" grep -q '/usr/share/faqbot/faq' "$R/usr/share/man/man1/faqbot.1"
check_out "the man page names no other prefix" bash -c "! grep -q /usr/local '$R/usr/share/man/man1/faqbot.1'"

# it runs: --version, and check on the installed FAQ (from another folder,
# so ./faq cannot be what it finds)
check_out "the installed binary runs --version" "$R/usr/bin/faqbot" --version
out=$(cd "$T" && "$R/usr/bin/faqbot" check "$R/usr/share/faqbot/faq" 2>&1)
if [ $? -eq 0 ] && grep -q ": ok: " <<<"$out"; then
	ok "the installed binary checks the installed FAQ: ${out##*: ok: }"
else
	notok "installed check" "$out"
fi
out=$(cd "$T" && "$R/usr/bin/faqbot" --faq "$R/usr/share/faqbot/faq" ask "what is tms?" 2>&1)
check_out "the installed binary answers from the installed FAQ" grep -qi magnetic <<<"$out"
# The example parses: health reads it (no secret needed) and gets as far
# as the state directory, which a fresh machine does not have (exit 1, not
# 2 or 4).
out=$("$R/usr/bin/faqbot" health --config "$R/etc/faqbot/faqbot.ini.example" 2>&1)
rc=$?
check_out "the installed example config parses (health exit $rc)" test "$rc" -eq 0 -o "$rc" -eq 1
if command -v systemd-sysusers >/dev/null; then
	mkdir -p "$T/users/etc"
	check_out "systemd-sysusers makes the faqbot user from the installed file" \
		bash -c "systemd-sysusers --root='$T/users' '$R/usr/lib/sysusers.d/faqbot.conf' >/dev/null 2>&1 && grep -q '^faqbot:x:[0-9]*:[0-9]*:.*:/var/lib/faqbot:/usr/sbin/nologin$' '$T/users/etc/passwd'"
else
	ok "systemd-sysusers # SKIP not installed"
fi

if out=$(make -C "$T/src" uninstall DESTDIR="$R" PREFIX=/usr 2>&1); then
	left=$(find "$R" -type f)
	check_out "make uninstall removes every file it installed" test -z "$left"
else
	notok "make uninstall" "$out"
fi

# --- installed where it runs (no DESTDIR): the first start reads the stage
# built at install instead of training, and leaves the user's cache empty
P=$T/pfx
if out=$(make -C "$T/src" -j2 install PREFIX="$P" SYSCONFDIR="$P/etc" 2>&1); then
	out=$(cd "$T" && env -u FAQBOT_CACHE -u XDG_CACHE_HOME HOME="$T/home" \
		"$P/bin/faqbot" check "$P/share/faqbot/faq" 2>&1)
	if grep -q "loaded from the cache" <<<"$out" && ! grep -q "trained" <<<"$out"; then
		ok "an installed FAQ's first check loads the stage built at install"
	else
		notok "an installed FAQ's first check loads the stage built at install" "$out"
	fi
	check_out "and writes no stage of its own to the user's cache" \
		test -z "$(ls "$T/home/.cache/faqbot"/stage-* 2>/dev/null)"
	cp -r "$P/share/faqbot/faq" "$T/edited"
	printf 'the garden centre had a sale on bulbs today\tnone:chat\n' >>"$T/edited/learn/chat.tsv"
	out=$(cd "$T" && env -u FAQBOT_CACHE -u XDG_CACHE_HOME HOME="$T/home" \
		"$P/bin/faqbot" check "$T/edited" 2>&1)
	check_out "an edited FAQ misses it and trains its own" grep -q "trained" <<<"$out"
else
	notok "make install PREFIX=..." "$out"
fi

# --- the default PREFIX (/usr/local), config still under /etc
R=$T/root-local
if out=$(make -C "$T/src" -j2 install DESTDIR="$R" 2>&1); then
	check_out "default PREFIX: /usr/local/bin, /usr/local/share/faqbot/faq, /etc/faqbot" \
		test -x "$R/usr/local/bin/faqbot" -a -f "$R/usr/local/share/faqbot/faq/tms.yml" \
		-a -f "$R/etc/faqbot/faqbot.ini.example" -a -f "$R/usr/local/share/man/man1/faqbot.1" \
		-a -f "$R/usr/local/lib/systemd/system/faqbot.service"
	check_out "default PREFIX: the binary's default FAQ is /usr/local/share/faqbot/faq" \
		bash -c "'$R/usr/local/bin/faqbot' --help | grep -q '/usr/local/share/faqbot/faq'"
	check_out "default PREFIX: the unit starts /usr/local/bin/faqbot" \
		grep -q '^ExecStart=/usr/local/bin/faqbot ' "$R/usr/local/lib/systemd/system/faqbot.service"
else
	notok "make install DESTDIR=... (default PREFIX)" "$out"
fi

done_checks
