#!/usr/bin/env bash
# deploy_systemd.sh -- systemd/faqbot.service as `make install` writes it:
# `systemd-analyze verify` accepts it (with its ExecStart pointed at the
# installed binary, and the installed man page on MANPATH for
# Documentation=), the hardening the README promises is there, and the
# settings that would break faqbot are not.
HARNESS_NAME=unit
. "$(dirname "$0")/harness.inc"

U=systemd/faqbot.service
# what the unit must say, whether or not systemd-analyze runs here
for kv in User=faqbot NoNewPrivileges=yes ProtectSystem=strict ProtectHome=yes PrivateTmp=yes \
	PrivateDevices=yes StateDirectory=faqbot ConfigurationDirectory=faqbot \
	"RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX" SystemCallFilter=@system-service \
	Restart=on-failure StartLimitBurst=5 StartLimitIntervalSec=10min \
	"ExecStart=/usr/local/bin/faqbot run --config /etc/faqbot/faqbot.ini"; do
	grep -qxF "$kv" "$U" && ok "$kv" || notok "the unit lacks $kv"
done
# PCRE2's JIT writes then executes its code
grep -qE '^MemoryDenyWriteExecute=' "$U" && notok "MemoryDenyWriteExecute= is set: PCRE2 JIT fails" ||
	ok "no MemoryDenyWriteExecute= (PCRE2 JIT needs W+X memory)"
# the example config agrees with the unit
grep -q '^state_dir = /var/lib/faqbot$' faqbot.ini.example && ok "the example's state_dir is the StateDirectory" ||
	notok "faqbot.ini.example state_dir is not /var/lib/faqbot"

command -v systemd-analyze >/dev/null || skip "systemd-analyze not installed (Debian package systemd)"
systemd-analyze --version >/dev/null 2>&1 || skip "systemd-analyze cannot run here"
command -v make >/dev/null && command -v cc >/dev/null || skip "no make or cc"
mkdir -p "$T/src"
cp -r Makefile src tools faq faqbot.1 faqbot.ini.example systemd "$T/src/"
if ! out=$(make -C "$T/src" -j2 install DESTDIR="$T/root" PREFIX=/usr 2>&1); then
	notok "make install" "$out"
	exit 1
fi
# verify checks that ExecStart's program exists and that man finds
# Documentation=man:faqbot(1): both from the installed tree
sed "s|^ExecStart=/usr/bin/faqbot|ExecStart=$T/root/usr/bin/faqbot|" \
	"$T/root/usr/lib/systemd/system/faqbot.service" >"$T/faqbot.service"
out=$(MANPATH=$T/root/usr/share/man systemd-analyze verify "$T/faqbot.service" 2>&1)
rc=$?
if [ $rc -eq 0 ] && [ -z "$out" ]; then
	ok "systemd-analyze verify accepts the installed unit"
elif grep -qiE "Failed to (connect|initialize)|Permission denied|not been booted with systemd" <<<"$out" &&
	! grep -q "faqbot.service:" <<<"$out"; then
	echo "skip: systemd-analyze verify cannot run here: $(head -1 <<<"$out")"
	exit 77
else
	notok "systemd-analyze verify (rc $rc)" "$out"
fi
# the exposure score, for the record (systemd >= 250 can score a unit file)
score=$(systemd-analyze security --offline=true "$T/faqbot.service" 2>/dev/null | sed -n 's/.*Overall exposure level for .*: \([0-9.]*\) \([A-Z]*\).*/\1 \2/p')
[ -n "$score" ] && ok "systemd-analyze security: exposure $score" || ok "systemd-analyze security # SKIP no offline mode here"
done_checks
