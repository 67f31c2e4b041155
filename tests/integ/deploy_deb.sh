#!/usr/bin/env bash
# deploy_deb.sh -- the Debian package: `dpkg-buildpackage -us -uc -b` builds
# it from a copy of the tree (so the checkout's build/ and ./faqbot are left
# alone), lintian finds no error or warning in it, and it installs into a
# clean debian:bookworm-slim container with `apt-get install ./faqbot_*.deb`
# (so its Depends, the dlopened libraries among them, are resolved by apt
# and nothing else), where `faqbot --version`, `check` and `ask` work from
# the installed files alone, the unit and the sysusers file are where
# debhelper puts them, the faqbot user exists, the config is a conffile and
# the service is not enabled (it cannot log in before the admin sets it up).
#
# The container is made and run with ../shared/tools/check-dockerfile.sh,
# as deploy_docker.sh does (podman, no daemon, no registry: the base image
# is made by debootstrap the first time and kept in CHECK_STATE_DIR). The
# install inside it fetches the Depends from the Debian mirror this host's
# apt uses. Not part of `make test`: `make test-deb` runs it.
#
# Skips (77) saying why where it cannot run: not root, no check-dockerfile
# tool, dpkg-buildpackage or lintian missing and not installable, the
# build dependencies missing, no namespaces for podman, the container
# cannot reach the Debian mirror, or DEPLOY_DEB=0.
HARNESS_NAME=deb
. "$(dirname "$0")/harness.inc"

TOOL=${CHECK_DOCKERFILE:-$ROOT/../shared/tools/check-dockerfile.sh}
[ "${DEPLOY_DEB:-1}" != 0 ] || skip "DEPLOY_DEB=0"
[ -f "$TOOL" ] || skip "no $TOOL (CI has ../shared beside the clone)"
[ "$(id -u)" = 0 ] || skip "not root: check-dockerfile.sh needs rootful podman"

# dpkg-buildpackage (dpkg-dev), dh (debhelper) and lintian: installed here
# the first time, as check-dockerfile.sh installs podman, where apt can.
if ! command -v dpkg-buildpackage >/dev/null || ! command -v dh >/dev/null ||
	! command -v lintian >/dev/null; then
	[ "${CHECK_NO_INSTALL:-0}" != 1 ] || skip "dpkg-buildpackage, debhelper or lintian missing and CHECK_NO_INSTALL=1"
	command -v apt-get >/dev/null || skip "dpkg-buildpackage, debhelper or lintian missing and no apt-get"
	apt-cache policy debhelper 2>/dev/null | grep -q 'Candidate: [0-9]' ||
		skip "debhelper missing and not installable from this machine's apt sources"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
		dpkg-dev debhelper lintian >"$T/apt.log" 2>&1 ||
		skip "could not install dpkg-dev, debhelper and lintian: $(tail -1 "$T/apt.log")"
fi
if ! command -v podman >/dev/null || ! command -v runc >/dev/null || ! command -v debootstrap >/dev/null; then
	[ "${CHECK_NO_INSTALL:-0}" != 1 ] || skip "podman, runc or debootstrap missing and CHECK_NO_INSTALL=1"
	apt-cache policy podman 2>/dev/null | grep -q 'Candidate: [0-9]' ||
		skip "podman missing and not installable from this machine's apt sources"
fi
command -v unshare >/dev/null && unshare --mount --pid --fork true 2>/dev/null ||
	skip "this machine cannot make mount and pid namespaces (a container without privileges?)"

# --- build, in a copy of what the package is made from
mkdir -p "$T/src/faqbot"
cp -r Makefile src tools faq faqbot.1 faqbot.ini.example systemd debian "$T/src/faqbot/"
missing=$(cd "$T/src/faqbot" && dpkg-checkbuilddeps 2>&1) ||
	skip "build dependencies missing (scripts/deps installs the libraries): ${missing##*: }"
t0=$(date +%s%N)
if (cd "$T/src/faqbot" && dpkg-buildpackage -us -uc -b) >"$T/build.log" 2>&1; then
	ok "dpkg-buildpackage -us -uc -b builds it in $((($(date +%s%N) - t0) / 1000000000)) s"
else
	notok "dpkg-buildpackage -us -uc -b builds it"
	tail -30 "$T/build.log" | sed 's/^/#   /'
	done_checks
fi
DEB=$(ls "$T"/src/faqbot_*_*.deb 2>/dev/null | head -1)
CHANGES=$(ls "$T"/src/faqbot_*_*.changes 2>/dev/null | head -1)
check "it made faqbot_*.deb and the .changes (${DEB##*/})" test -f "$DEB" -a -f "$CHANGES"

# --- lintian: no error, no warning (debian/faqbot.lintian-overrides says
# why for the one it overrides)
lintian --fail-on none "$CHANGES" >"$T/lintian.log" 2>&1
sed 's/^/# lintian: /' "$T/lintian.log"
check "lintian: no error or warning on the .deb and the .changes" \
	bash -c "! grep -qE '^[EW]: ' '$T/lintian.log'"

# --- what is in the package, before installing it
dpkg-deb -c "$DEB" | awk '{print $6}' | sed 's|^\./|/|' >"$T/files"
dpkg-deb -I "$DEB" control >"$T/control"
has() { grep -qx "$1" "$T/files"; }
check "the unit where dh_installsystemd puts it: /lib/systemd/system/faqbot.service" \
	has /lib/systemd/system/faqbot.service
check "the system user where dh_installsysusers puts it: /usr/lib/sysusers.d/faqbot.conf" \
	has /usr/lib/sysusers.d/faqbot.conf
check "the program, the manual, the FAQ and its built cache" \
	bash -c "grep -qx /usr/bin/faqbot '$T/files' && grep -qx /usr/share/man/man1/faqbot.1.gz '$T/files' &&
		grep -qx /usr/share/faqbot/faq/tms.yml '$T/files' &&
		grep -qE '^/usr/share/faqbot/cache/stage-[0-9a-f]{16}\.meta$' '$T/files' &&
		grep -qE '^/usr/share/faqbot/cache/prefilter-[0-9a-f]{16}\.blob$' '$T/files'"
check "the config is a conffile: /etc/faqbot/faqbot.ini" \
	bash -c "dpkg-deb -I '$DEB' conffiles | grep -qx /etc/faqbot/faqbot.ini"
for lib in libcurl4 libssl3 liblinear4 libvectorscan5 libolm3; do
	check "Depends names $lib (dlopened: dpkg-shlibdeps cannot see it)" \
		grep -qE "^ ?Depends:.*[ ,]$lib(,| |$)" "$T/control"
done
check "the binary is hardened (bindnow, relro: hardening=+all)" \
	bash -c "dpkg-deb --fsys-tarfile '$DEB' | tar -xOf - ./usr/bin/faqbot >'$T/faqbot.bin' &&
		readelf -d '$T/faqbot.bin' | grep -q 'BIND_NOW' && readelf -l '$T/faqbot.bin' | grep -q GNU_RELRO"

# --- installed into a clean container: apt resolves the Depends
# A mark of this run goes in with the package: the package builds byte for
# byte the same from the same tree, and without it podman would reuse the
# layer of an earlier run's install (apt resolving nothing today), or run
# this run's commands in an older image. The runs after the first reuse
# this run's build, and cleanup removes its image.
mkdir -p "$T/ctx"
cp "$DEB" "$T/ctx/"
echo "${T##*/} $(date +%s%N)" >"$T/ctx/run-mark"
cat >"$T/ctx/Dockerfile" <<EOF
FROM debian:bookworm-slim
COPY run-mark ${DEB##*/} /tmp/
RUN apt-get update \\
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends /tmp/${DEB##*/} \\
 && rm -rf /var/lib/apt/lists/* /tmp/${DEB##*/}
EOF
export CHECK_IMAGE=${CHECK_IMAGE:-localhost/faqbot-deb-test:latest}
# in_image ARGS...: build (cached after the first) and run ARGS in it; sets
# IRC and IOUT (what ARGS wrote, after a mark: podman build writes its
# steps to the same stdout); the tool's log is $T/img.log.
MARK=--faqbot-deb-test-run--
in_image() {
	bash "$TOOL" "$T/ctx/Dockerfile" "$T/ctx" sh -c "echo $MARK; exec \"\$@\" 2>&1" sh "$@" \
		>"$T/img.out" 2>"$T/img.log"
	IRC=$?
	IOUT=$(sed "1,/^$MARK\$/d" "$T/img.out")
}
# cleanup_servers (the harness's cleanup calls it): this run's image, by
# its id, from the storage the tool used (its log names the driver), so
# that runs do not pile up images of ~55 MB each.
IMAGE_ID=""
cleanup_servers() {
	local drv state=${CHECK_STATE_DIR:-/var/tmp/dockerfile-check}
	[ -n "$IMAGE_ID" ] || return 0
	drv=$(sed -n 's/^check-dockerfile: building .* storage \([a-z]*\)) \.\.\.$/\1/p' "$T/first.log" | head -1)
	[ -n "$drv" ] || return 0
	CONTAINERS_CONF=$state/containers.conf podman --root "$state/storage-$drv" \
		--runroot "$state/run-$drv" --storage-driver "$drv" rmi "$IMAGE_ID" >/dev/null 2>&1
}
t0=$(date +%s%N)
in_image faqbot --version
cp "$T/img.log" "$T/first.log"
IMAGE_ID=$(sed -n 's/^image \([0-9a-f]*\): size=.*/\1/p' "$T/first.log" | head -1)
secs=$((($(date +%s%N) - t0) / 1000000000))
if [ "$IRC" -ne 0 ]; then
	if grep -qE "Temporary failure resolving|Could not resolve|Failed to fetch|Unable to connect|Network is unreachable" "$T/img.log"; then
		grep -E "Temporary failure|Could not resolve|Failed to fetch|Unable to connect|unreachable" "$T/img.log" | head -3 | sed 's/^/#   /'
		skip "the container cannot reach the Debian mirror to install the Depends"
	fi
	notok "apt-get install ./${DEB##*/} in debian:bookworm-slim, then faqbot --version (exit $IRC)"
	tail -30 "$T/img.log" | sed 's/^/#   /'
	done_checks
fi
ok "apt-get install ./${DEB##*/} in a clean debian:bookworm-slim resolves its Depends (${secs} s); faqbot --version: $(grep '^faqbot ' <<<"$IOUT")"
check "libcurl is there (dlopened, from Depends): $(grep -o 'libcurl [^,]*' <<<"$IOUT")" \
	grep -qE 'libcurl [0-9]+\.[0-9]+' <<<"$IOUT"
check "Vectorscan is there (dlopened, from Depends): $(grep -o 'Vectorscan [^,]*' <<<"$IOUT")" \
	grep -qE 'Vectorscan [0-9]+\.[0-9]+' <<<"$IOUT"

in_image faqbot check
check "faqbot check: the installed FAQ at /usr/share/faqbot/faq passes (exit $IRC)" \
	grep -q '^/usr/share/faqbot/faq: ok: ' <<<"$IOUT"
check "faqbot check: the learned stage loads from the package's cache, no training" \
	bash -c 'grep -q "loaded from the cache" <<<"$1" && ! grep -q "trained" <<<"$1"' _ "$IOUT"
check "faqbot check: the prefilter is on: $(grep '^prefilter: ' <<<"$IOUT")" \
	grep -q '^prefilter: Vectorscan ' <<<"$IOUT"

in_image faqbot ask "what is tms?"
check "faqbot ask \"what is tms?\" answers from the installed FAQ (exit $IRC): $(head -1 <<<"$IOUT" | cut -c1-70)..." \
	grep -qi magnetic <<<"$IOUT"

# where debhelper put things, on the installed system
in_image sh -c 'dpkg -L faqbot; echo "user: $(getent passwd faqbot)";
	echo "conffiles: $(dpkg-query -W -f="\${Conffiles}" faqbot)";
	echo "unit: $(grep ^ExecStart= /lib/systemd/system/faqbot.service)";
	ls /etc/systemd/system/multi-user.target.wants/ 2>/dev/null | sed "s/^/enabled: /"'
check "installed: /lib/systemd/system/faqbot.service, starting /usr/bin/faqbot" \
	bash -c 'grep -qx /lib/systemd/system/faqbot.service <<<"$1" &&
		grep -qx "unit: ExecStart=/usr/bin/faqbot run --config /etc/faqbot/faqbot.ini" <<<"$1"' _ "$IOUT"
check "installed: /usr/lib/sysusers.d/faqbot.conf" grep -qx /usr/lib/sysusers.d/faqbot.conf <<<"$IOUT"
check "the postinst made the faqbot user: $(grep '^user: ' <<<"$IOUT")" \
	grep -qE '^user: faqbot:x:[0-9]+:[0-9]+:.*:/var/lib/faqbot:/usr/sbin/nologin$' <<<"$IOUT"
check "dpkg knows /etc/faqbot/faqbot.ini as a conffile" \
	grep -qE '^conffiles: +/etc/faqbot/faqbot.ini [0-9a-f]{32}' <<<"$IOUT"
check "the service is not enabled at install (no config yet)" \
	bash -c '! grep -q "^enabled: faqbot.service" <<<"$1"' _ "$IOUT"
done_checks
