#!/usr/bin/env bash
# matrix_xsign.sh -- cross-signing (issue 15, item 4), against the fake
# homeserver, checked as a member's client would: python3-olm verifies the
# signatures over canonical JSON Python itself writes.
#   - the first start makes the master, self-signing and user-signing keys,
#     uploads them (the server's 401 with flows and a session answered with
#     the password), and the device carries a self-signing signature; the
#     self-signing and user-signing keys carry the master key's;
#   - the keys' file is 0600 and holds no key or pickle key in the clear;
#     neither the password nor the pickle key in the log;
#   - a restart uploads nothing and keeps the same master key; `faqbot
#     keys` prints it;
#   - a damaged keys file stops the start naming the file, and is left as
#     it was;
#   - a wrong password: said so, nothing uploaded, and the bot still
#     answers in an unencrypted room;
#   - an access token and no password: the warning that the device is not
#     cross-signed and who will not see the bot; `faqbot keys` says so;
#   - keys from elsewhere on the account: said so, not replaced with the
#     password; once the server allows a replacement, faqbot's keys go up
#     and the device is signed.
. "$(dirname "$0")/matrix_lib.inc"

need_olm_py

start_hs
BOT_PICKLE_KEY=$(head -c 32 /dev/urandom | base64)
export BOT_PICKLE_KEY
PW="pw-$(head -c 12 /dev/urandom | base64 | tr -d '/+=')"
fake POST user "{\"user_id\":\"$BOT_USER\",\"password\":\"$PW\"}" >/dev/null
BOT_PASSWORD=$PW

xs() { fake GET "xsign?user_id=$(urlenc "$1")"; }
keys_json() { fake GET "keys?user_id=$(urlenc "$1")"; }

# verify USER DEVICE: every cross-signing signature the server holds for
# USER checked with python3-olm; prints "ok MASTER" or what is wrong
verify() {
	{
		xs "$1"
		echo
		keys_json "$1"
	} | "$OLM_PY" -c '
import json, sys, olm
user, dev = sys.argv[1], sys.argv[2]
xs, keys = [json.loads(l) for l in sys.stdin.read().split("\n", 1)]
def canon(o):
    o = {k: v for k, v in o.items() if k not in ("signatures", "unsigned")}
    return json.dumps(o, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
def pub(o):
    (name, key), = o["keys"].items()
    assert name == "ed25519:" + key, name
    return key
bad = []
def check(what, obj, key):
    try:
        olm.ed25519_verify(key, canon(obj), obj["signatures"][user]["ed25519:" + key])
    except Exception as e:
        bad.append("%s: %r" % (what, e))
k = xs["keys"]
try:
    master = pub(k["master_key"])
    ssk = pub(k["self_signing_key"])
    check("self_signing_key by master", k["self_signing_key"], master)
    check("user_signing_key by master", k["user_signing_key"], master)
    for f, u in (("master_key", "master"), ("self_signing_key", "self_signing"),
                 ("user_signing_key", "user_signing")):
        if k[f]["usage"] != [u] or k[f]["user_id"] != user:
            bad.append("%s: usage or user" % f)
    check("device keys by self_signing", keys["devices"][dev]["device_keys"], ssk)
except Exception as e:
    bad.append("missing: %r" % e)
print("ok " + master if not bad else "; ".join(bad))
' "$1" "$2"
}
n_uploads() { xs "$1" | j 'len(d["uploads"])'; }
n_sigs() { xs "$1" | j 'len(d["signatures"])'; }
master_of() { xs "$1" | j 'd["keys"].get("master_key", {}).get("keys", {})' | j 'list(d.values())[0] if d else ""'; }
signed() { [ "$(n_sigs "$1")" -ge "${2:-1}" ]; }
log_has() { grep -q -- "$1" "$T/bot.log"; }

# ---- the first start ---------------------------------------------------
start_bot
wait_for 60 signed "$BOT_USER" || notok "the bot signed its device" "$(tail -5 "$T/bot.log")"
DEVICE=$(j 'd["device_id"]' <"$T/state/session.json")
v=$(verify "$BOT_USER" "$DEVICE")
check_out "the self-signing and user-signing keys carry the master key's signature, the device the self-signing key's (python3-olm): $v" \
	test "${v%% *}" = ok
MASTER=${v#ok }
check "the keys went up once, the password asked for by a 401 and given in its session" \
	test "$(xs "$BOT_USER" | j '[len(d["uploads"]), d["challenges"], "auth" in d["uploads"][0], d["uploads"][1]["auth"]["type"], bool(d["uploads"][1]["auth"]["session"])]')" = '[2, 1, false, "m.login.password", true]'
check "one signature upload, for the device" \
	test "$(xs "$BOT_USER" | j "[len(d['signatures']), list(d['signatures'][0]['$BOT_USER'])]")" = "[1, [\"$DEVICE\"]]"
check "the keys' file: mode 0600" test "$(stat -c %a "$T/state/cross_signing")" = 600
check "the keys' file: the public keys beside pickles, no pickle key" \
	bash -c 'grep -qF -- "$1" "$3" && ! grep -qF -- "$2" "$3"' _ "$MASTER" "$BOT_PICKLE_KEY" "$T/state/cross_signing"
check "the log: the master key's fingerprint, no password, no pickle key" \
	bash -c 'grep -q "cross-signing: new keys, master=${1:0:4} ${1:4:4} " "$4" &&
		! grep -qF -- "$2" "$4" && ! grep -qF -- "$3" "$4"' _ "$MASTER" "$PW" "$BOT_PICKLE_KEY" "$T/bot.log"
flog=$(fake GET log)
check "the fake's log of requests: the password hidden" \
	bash -c 'grep -q "device_signing" <<<"$2" && ! grep -qF -- "$1" <<<"$2"' _ "$PW" "$flog"
stop_bot

# ---- a restart: nothing new --------------------------------------------
: >"$T/bot.log"
start_bot
wait_for 60 log_has "cross-signing: the stored keys" || notok "the restart checked its keys" "$(tail -5 "$T/bot.log")"
wait_for 60 first_synced || notok "the restart synced"
check "a restart: nothing uploaded again, the same master key" \
	test "$(n_uploads "$BOT_USER"):$(n_sigs "$BOT_USER"):$(master_of "$BOT_USER")" = "2:1:$MASTER"
check "a restart: the homeserver already has them, said so" log_has "the homeserver has them"
stop_bot
if [ -x "${FAQBOT:-build/asan/faqbot}" ]; then
	write_config
	out=$("${FAQBOT:-build/asan/faqbot}" keys --config "$T/faqbot.conf" 2>&1)
	fp=$(sed -E 's/(.{4})/\1 /g; s/ $//' <<<"$MASTER")
	check_out "faqbot keys prints the master key and its fingerprint" \
		bash -c 'grep -qx "master      $1" <<<"$3" && grep -qx "master fingerprint $2" <<<"$3" &&
			grep -q "^fingerprint " <<<"$3" && ! grep -q "cross-signed no" <<<"$3"' _ "$MASTER" "$fp" "$out"
else
	ok "faqbot keys # SKIP no faqbot binary"
fi

# ---- a damaged keys file -------------------------------------------------
want_rc=4
[ "$MX_BOT" = faqbot ] || want_rc=1
cp "$T/state/cross_signing" "$T/cross_signing.good"
python3 - "$T/state/cross_signing" <<'PY'
import json, sys
p = sys.argv[1]
d = json.load(open(p))
pk = d["self_signing"]["pickle"]
d["self_signing"]["pickle"] = pk[:20] + ("A" if pk[20] != "A" else "B") + pk[21:]
open(p, "w").write(json.dumps(d))
PY
sum_bad=$(sha256sum <"$T/state/cross_signing")
start_bot
wait "$BOT_PID"
rc=$?
BOT_PID=""
check "a damaged keys file: the start stops (exit $want_rc, $rc)" test "$rc" = "$want_rc"
check_out "a damaged keys file: said so, naming the file" \
	grep -q "$T/state/cross_signing" "$T/bot.log"
check "a damaged keys file: left as it was, no new identity uploaded" \
	test "$(sha256sum <"$T/state/cross_signing"):$(n_uploads "$BOT_USER")" = "$sum_bad:2"
head -c 40 "$T/cross_signing.good" >"$T/state/cross_signing"
: >"$T/bot.log"
start_bot
wait "$BOT_PID"
rc=$?
BOT_PID=""
check_out "a cut keys file: the start stops naming the file ($rc)" \
	bash -c '[ "$1" = "$2" ] && grep -q "$3.*is not faqbot.s cross-signing keys" "$4"' _ "$rc" "$want_rc" "$T/state/cross_signing" "$T/bot.log"
cp "$T/cross_signing.good" "$T/state/cross_signing"
mv "$T/state" "$T/state.first"

# a second bot account: fresh state, an access token of its own
second_bot() { # second_bot USER TOKEN PASSWORD
	BOT_USER=$1
	fake POST user "{\"user_id\":\"$1\",\"password\":\"$3\",\"token\":\"$2\",\"device_id\":\"DEV${2^^}\"}" >/dev/null
	rm -rf "$T/state"
	mkdir -p "$T/state" && chmod 700 "$T/state"
	: >"$T/bot.log"
}

# ---- a wrong password ----------------------------------------------------
second_bot "@bot2:fake.test" bot2tok right-pw-2
room=$(make_room)
BOT_TOKEN=bot2tok BOT_PASSWORD=wrong-pw start_bot --allow "$room"
wait_for 60 log_has "cross-signing: the homeserver refused the account's password" ||
	notok "a wrong password: said so" "$(tail -5 "$T/bot.log")"
check_out "a wrong password: the admin told what to do and what it means" \
	grep -q "check the password of @bot2:fake.test.*not cross-signed" "$T/bot.log"
check "a wrong password: no keys on the server" test "$(master_of "$BOT_USER")" = ""
wait_joined "$room" || notok "a wrong password: the bot joined a room"
ev=$(member_send "$room" "\"body\":\"$(ask_text "does the bot still answer?")\"")
wait_bot "$room" 1 || true
check "a wrong password: the bot still answers in an unencrypted room" test "$(replies_to "$room" "$ev")" = 1
stop_bot

# ---- a token and no password ---------------------------------------------
second_bot "@bot3:fake.test" bot3tok right-pw-3
BOT_TOKEN=bot3tok BOT_PASSWORD="" start_bot
wait_for 60 log_has "cross-signing: the bot is configured with an access token and no password" ||
	notok "a token only: said so" "$(tail -5 "$T/bot.log")"
check_out "a token only: the warning says who will not see the bot" \
	grep -q "not cross-signed: members whose Element excludes devices not verified" "$T/bot.log"
wait_for 60 first_synced || notok "a token only: the bot serves"
check "a token only: no keys on the server" test "$(master_of "$BOT_USER")" = ""
stop_bot
if [ -x "${FAQBOT:-build/asan/faqbot}" ]; then
	BOT_TOKEN=bot3tok BOT_PASSWORD="" write_config
	out=$(MX_TOKEN=bot3tok "${FAQBOT:-build/asan/faqbot}" keys --config "$T/faqbot.conf" 2>&1)
	check_out "a token only: faqbot keys says the device is not cross-signed yet" \
		grep -q "^cross-signed no: the homeserver does not have these keys" <<<"$out"
else
	ok "faqbot keys, a token only # SKIP no faqbot binary"
fi

# ---- keys from elsewhere on the account ----------------------------------
second_bot "@bot4:fake.test" bot4tok right-pw-4
OTHER=$("$OLM_PY" -c 'import olm; print(olm.PkSigning(olm.PkSigning.generate_seed()).public_key)')
fake POST xsign "{\"user_id\":\"$BOT_USER\",\"master_key\":{\"user_id\":\"$BOT_USER\",\"usage\":[\"master\"],\"keys\":{\"ed25519:$OTHER\":\"$OTHER\"}}}" >/dev/null
BOT_TOKEN=bot4tok BOT_PASSWORD=right-pw-4 start_bot
wait_for 60 log_has "already holds cross-signing keys that are not faqbot's" ||
	notok "keys from elsewhere: said so" "$(tail -5 "$T/bot.log")"
check_out "keys from elsewhere: the admin told how to verify from there or allow a replacement" \
	grep -q "_allow_cross_signing_replacement_without_uia) and restart faqbot" "$T/bot.log"
check "keys from elsewhere: not replaced, the password not sent" \
	test "$(master_of "$BOT_USER"):$(xs "$BOT_USER" | j '[u for u in d["uploads"] if "auth" in u]')" = "$OTHER:[]"
wait_for 60 first_synced || notok "keys from elsewhere: the bot serves"
stop_bot
fake POST xsign "{\"user_id\":\"$BOT_USER\",\"allow_replace\":true}" >/dev/null
: >"$T/bot.log"
BOT_TOKEN=bot4tok BOT_PASSWORD=right-pw-4 start_bot
wait_for 60 signed "$BOT_USER" || notok "a replacement allowed: the device signed" "$(tail -5 "$T/bot.log")"
v=$(verify "$BOT_USER" DEVBOT4TOK)
check_out "a replacement allowed: faqbot's keys replace them, the device signed ($v)" \
	bash -c '[ "${1%% *}" = ok ] && [ "${1#ok }" != "$2" ]' _ "$v" "$OTHER"
stop_bot

finish
