#!/usr/bin/env bash
# deploy_docker.sh -- the Dockerfile builds, and its image works as the
# README says, as its non-root user: `--version` (libcurl and Vectorscan
# present although dlopened), `check` on the shipped FAQ (the prefilter on)
# and on a moderators' FAQ mounted read-only (FAQBOT_FAQ_DIR); `health`
# unhealthy before any sync; then the bot itself, config and secret mounted
# read-only and the state on a volume, serving the fake homeserver: it
# answers a member, `health` in a second container says healthy, and
# SIGTERM to the container (faqbot is PID 1) stops it cleanly within two
# seconds.
#
# Built and run with ../shared/tools/check-dockerfile.sh (podman, no daemon,
# no registry: it makes the Debian base image with debootstrap the first
# time). Measured on 2 cores: cold, about 100 s (installing podman 13 s,
# debootstrap and import 35-50 s, the two-stage build 20-35 s, the runs
# 15 s); warm, 17 s (a changed src/ adds ~10 s of build), as the base
# image and podman's layer cache persist in CHECK_STATE_DIR
# (/var/tmp/dockerfile-check) on the same machine. Skips (77) saying why where it cannot run:
# not root, no tool, podman not installable, no namespaces, or
# DEPLOY_DOCKER=0.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
TOOL=${CHECK_DOCKERFILE:-$ROOT/../shared/tools/check-dockerfile.sh}
skip0() { echo "skip: $*"; exit 77; }

[ "${DEPLOY_DOCKER:-1}" != 0 ] || skip0 "DEPLOY_DOCKER=0"
[ -f "$TOOL" ] || skip0 "no $TOOL (CI has ../shared beside the clone)"
[ "$(id -u)" = 0 ] || skip0 "not root: check-dockerfile.sh needs rootful podman"
if ! command -v podman >/dev/null || ! command -v runc >/dev/null || ! command -v debootstrap >/dev/null; then
	[ "${CHECK_NO_INSTALL:-0}" != 1 ] || skip0 "podman, runc or debootstrap missing and CHECK_NO_INSTALL=1"
	command -v apt-get >/dev/null || skip0 "podman missing and no apt-get to install it"
	apt-cache policy podman 2>/dev/null | grep -q 'Candidate: [0-9]' ||
		skip0 "podman missing and not installable from this machine's apt sources"
fi
command -v unshare >/dev/null && unshare --mount --pid --fork true 2>/dev/null ||
	skip0 "this machine cannot make mount and pid namespaces (a container without privileges?)"

# The Matrix scenario helpers (fake homeserver, member actions). They check
# for a host faqbot binary, which this test does not use.
MX_BOT=faqbot
FAQBOT=${FAQBOT:-/bin/true}
. "$ROOT/tests/integ/matrix_lib.inc"

export CHECK_IMAGE=${CHECK_IMAGE:-localhost/faqbot-deploy-test:latest}
export CHECK_REQUIRE_NONROOT=1
# HEALTHCHECK exists only in the docker image format (podman drops it from
# OCI images); no timer for it here, nothing runs it but this test.
export CHECK_BUILD_ARGS="--format docker"
NOHC="--health-interval disable"
TOOL_PID=""

stop_tool() { # the tool's `podman run` child, then the tool
	local p
	[ -n "$TOOL_PID" ] || return 0
	for p in $(ps -o pid= --ppid "$TOOL_PID" 2>/dev/null); do kill -TERM "$p" 2>/dev/null; done
	sleep 1
	for p in $(ps -o pid= --ppid "$TOOL_PID" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done
	wait "$TOOL_PID" 2>/dev/null
	TOOL_PID=""
}
trap 'stop_tool; cleanup' EXIT

# image ARGS...: build (cached) and run the image with ARGS; sets IRC, IOUT
# (the container's output) and ILOG (the tool's log, with the build).
image() {
	bash "$TOOL" "$ROOT/Dockerfile" "$ROOT" "$@" >"$T/img.out" 2>"$T/img.log"
	IRC=$?
	IOUT=$(cat "$T/img.out")
	ILOG=$(cat "$T/img.log")
}
# podman without systemd says so about healthchecks on every run: not ours
podman_noise() { grep -vE 'level=(error|warning) msg="unable to get systemd connection' "$@"; }

# --- build, and --version
t0=$(date +%s%N)
CHECK_RUN_ARGS="$NOHC" image --version
secs=$((($(date +%s%N) - t0) / 1000000000))
if [ "$IRC" -ne 0 ]; then
	notok "the image builds and runs --version (exit $IRC)"
	tail -40 "$T/img.log" | sed 's/^/#   /'
	finish
fi
size=$(sed -n 's/^image .*size=\([0-9]*\) .*/\1/p' <<<"$ILOG")
user=$(sed -n 's/^image .* user="\([^"]*\)".*/\1/p' <<<"$ILOG")
ok "the image builds (${secs} s with the cache as it was) and runs --version: $(grep '^faqbot ' <<<"$IOUT")"
check "it runs as a non-root user ($user)" test -n "$user" -a "${user%%:*}" != 0 -a "${user%%:*}" != root
check "its size is recorded: $((${size:-0} / 1000000)) MB" test "${size:-0}" -gt 0
check "libcurl is in the image (dlopened, not in ldd): $(grep -o 'libcurl [^,]*' <<<"$IOUT")" \
	grep -qE 'libcurl [0-9]+\.[0-9]+' <<<"$IOUT"
check "Vectorscan is in the image (dlopened, not in ldd): $(grep -o 'Vectorscan [^,]*' <<<"$IOUT")" \
	grep -qE 'Vectorscan [0-9]+\.[0-9]+' <<<"$IOUT"

# --- the FAQ: shipped, and a moderators' copy mounted read-only
CHECK_RUN_ARGS="$NOHC" image check
check "check: the shipped FAQ at /usr/share/faqbot/faq passes (exit $IRC)" \
	grep -q '^/usr/share/faqbot/faq: ok: ' <<<"$IOUT"
check "check: the prefilter is on in the image: $(grep '^prefilter: ' <<<"$IOUT")" \
	grep -q '^prefilter: Vectorscan ' <<<"$IOUT"
mkdir -p "$T/mods" && cp -r "$ROOT/faq" "$T/mods/faq"
CHECK_RUN_ARGS="$NOHC -v $T/mods/faq:/etc/faqbot/faq:ro -e FAQBOT_FAQ_DIR=/etc/faqbot/faq" image check
check "check: a FAQ mounted read-only, named by FAQBOT_FAQ_DIR, passes (exit $IRC)" \
	bash -c '[ "$1" = 0 ] && grep -q "^/etc/faqbot/faq: ok: " <<<"$2"' _ "$IRC" "$IOUT"
# a moderator's mistake: one clear line, exit 3
printf 'id: broken\nquestion: [unclosed\n' >"$T/mods/faq/zz-broken.yml"
CHECK_RUN_ARGS="$NOHC -v $T/mods/faq:/etc/faqbot/faq:ro -e FAQBOT_FAQ_DIR=/etc/faqbot/faq" image check
if [ "$IRC" = 3 ] && grep -q '/etc/faqbot/faq/zz-broken.yml:' "$T/img.out" "$T/img.log"; then
	ok "check: a broken mounted FAQ exits 3 naming the file: $(grep -h 'zz-broken.yml:' "$T/img.out" "$T/img.log" | head -1)"
else
	notok "check: a broken mounted FAQ exits 3 ($IRC) naming the file"
fi

# --- the bot in the image, against the fake homeserver on the host's
# loopback (the tool runs containers with --network host)
start_hs
R=$(fake POST room "{\"members\":[\"$MEMBER\",\"$BOT_USER\"]}" | j 'd["room_id"]')
mkdir -p "$T/etc" "$T/state"
printf 'pw\n' >"$T/etc/password"
chown 10001:10001 "$T/etc/password" "$T/state" && chmod 600 "$T/etc/password" && chmod 700 "$T/state"
cat >"$T/etc/faqbot.ini" <<CONF
[matrix]
homeserver = $HS
user_id = $BOT_USER
password_file = /etc/faqbot/password
state_dir = /var/lib/faqbot
sync_timeout_ms = 5000
backoff_max_ms = 2000
CONF
MOUNTS="-v $T/etc:/etc/faqbot:ro -v $T/state:/var/lib/faqbot"

CHECK_RUN_ARGS="$NOHC $MOUNTS" image health --config /etc/faqbot/faqbot.ini
check "health before any sync: unhealthy, exit 1 ($IRC)" \
	bash -c "[ $IRC = 1 ] && grep -q 'no sync completed yet' '$T/img.log'"

CHECK_RUN_ARGS="$NOHC $MOUNTS" bash "$TOOL" "$ROOT/Dockerfile" "$ROOT" \
	run --config /etc/faqbot/faqbot.ini >"$T/bot.log" 2>&1 &
TOOL_PID=$!
t_run=""
for i in $(seq 1200); do # 60 s: the build is cached, so this is the start
	[ -z "$t_run" ] && grep -q '^check-dockerfile: running:' "$T/bot.log" && t_run=$(date +%s%N)
	[ -s "$T/state/last_sync" ] && break
	kill -0 "$TOOL_PID" 2>/dev/null || break
	sleep 0.05
done
if [ -s "$T/state/last_sync" ] && [ -n "$t_run" ]; then
	ok "the bot in the image completed its first sync $((($(date +%s%N) - t_run) / 1000000)) ms after podman run (log in, whoami, filter, sync)"
else
	notok "the bot in the image completed a sync"
	podman_noise "$T/bot.log" | tail -20 | sed 's/^/#   /'
fi
check "its state is written by uid 10001, mode 0700/0600" \
	test "$(stat -c %u:%a "$T/state/last_sync" 2>/dev/null)" = "10001:600" -a "$(stat -c %a "$T/state")" = 700
Q=$(member_send "$R" '"body":"what is TMS?"')
wait_bot "$R" 1 15000
check "the bot in the image answers a member" test "$(replies_to "$R" "$Q")" = 1

CHECK_RUN_ARGS="$NOHC $MOUNTS" image health --config /etc/faqbot/faqbot.ini
check "health in a second container on the same state: healthy, exit 0 ($IRC)" \
	bash -c "[ $IRC = 0 ] && grep -q 'healthy: the last sync completed' <<<'$IOUT'"

# SIGTERM to `podman run`, which passes it to the container's PID 1
PODMAN_PID=$(ps -o pid=,args= --ppid "$TOOL_PID" | awk '$2 ~ /podman$/ && / run /{print $1; exit}')
if [ -n "$PODMAN_PID" ]; then
	t0=$(date +%s%N)
	kill -TERM "$PODMAN_PID"
	wait "$TOOL_PID"
	RC=$?
	MS=$((($(date +%s%N) - t0) / 1000000))
	TOOL_PID=""
	check "SIGTERM: the container exits 0 ($RC)" test "$RC" = 0
	check "SIGTERM: gone in $MS ms (< 3000, the bot's own limit is 2000)" test "$MS" -lt 3000
	check "SIGTERM reached faqbot as PID 1: it saved its position and logged its stop" \
		grep -q 'stop syncs=' "$T/bot.log"
else
	notok "found the podman run process to signal"
fi
finish
