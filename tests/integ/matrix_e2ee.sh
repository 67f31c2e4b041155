#!/usr/bin/env bash
# matrix_e2ee.sh -- the device's identity for end-to-end encryption (issue
# 15, item 1), against the fake homeserver, checked as a member's client
# would: python3-olm verifies every signature the bot uploads over the
# canonical JSON Python itself writes (the spec's own recipe), not the
# bot's.
#   - without encryption the bot asks nothing of the keys endpoints;
#   - with it, the first start uploads signed device keys (Olm and Megolm,
#     the device logged in as), 50 signed one-time keys and a signed
#     fallback key; `faqbot keys` prints that ed25519 key as a fingerprint;
#   - members claiming 30 keys make the bot top up to 50 with new keys;
#     claiming every one and then the fallback key makes it upload 50 more
#     and a new fallback key;
#   - SIGTERM and a restart: the same identity, no device keys again;
#   - kill -9 after the server took an upload but before the bot heard so:
#     the restart sends the very same keys (made and saved before the
#     upload), which the server takes as the same, not a 400;
#   - a wrong pickle key, a damaged account or another device's token
#     stops the start (exit 4, 1 for the stand-in) naming the file, and
#     leaves the file as it was.
. "$(dirname "$0")/matrix_lib.inc"

need_olm_py

start_hs
MEMBER_TOKEN=anntok
fake POST user "{\"user_id\":\"$MEMBER\",\"token\":\"$MEMBER_TOKEN\"}" >/dev/null

keys_json() { fake GET "keys?user_id=$(urlenc "$BOT_USER")"; }

# summary: what the server holds of the bot's devices' keys, every
# signature checked with python3-olm over canonical JSON written here
summary() {
	keys_json | "$OLM_PY" -c '
import json, sys, olm
bot = sys.argv[1]
def canon(o):
    return json.dumps(o, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
def verify(obj, ed, dev, bad, what):
    o = {k: v for k, v in obj.items() if k not in ("signatures", "unsigned")}
    try:
        olm.ed25519_verify(ed, canon(o), obj["signatures"][bot]["ed25519:" + dev])
        return True
    except Exception as e:
        bad.append("%s: %s" % (what, e))
        return False
d = json.load(sys.stdin)["devices"]
out = {"devices": {}}
for dev, k in d.items():
    if not k["uploads"]:
        continue
    bad, idents, n_dk, otk_names, fbs = [], [], 0, [], []
    ed = (k["device_keys"] or {}).get("keys", {}).get("ed25519:" + dev)
    for i, body in enumerate(k["uploads"]):
        dk = body.get("device_keys")
        if dk:
            n_dk += 1
            ident = [dk["keys"].get("ed25519:" + dev), dk["keys"].get("curve25519:" + dev)]
            if ident not in idents:
                idents.append(ident)
            verify(dk, ident[0], dev, bad, "device_keys of upload %d" % i)
            if dk.get("user_id") != bot or dk.get("device_id") != dev:
                bad.append("device_keys name %s %s" % (dk.get("user_id"), dk.get("device_id")))
            if dk.get("algorithms") != ["m.olm.v1.curve25519-aes-sha2", "m.megolm.v1.aes-sha2"]:
                bad.append("algorithms %r" % dk.get("algorithms"))
        for name, obj in (body.get("one_time_keys") or {}).items():
            otk_names.append(name)
            if not name.startswith("signed_curve25519:") or "fallback" in obj:
                bad.append("one-time key %s" % name)
            verify(obj, ed, dev, bad, name)
        for name, obj in (body.get("fallback_keys") or {}).items():
            fbs.append(name)
            if obj.get("fallback") is not True:
                bad.append("fallback key %s without fallback: true" % name)
            verify(obj, ed, dev, bad, name)
    out["devices"][dev] = {
        "ed25519": ed, "identities": idents, "device_keys_uploads": n_dk,
        "uploads": len(k["uploads"]), "otk_uploaded": otk_names,
        "otk_held": len(k["otk_ids"]), "fallbacks": fbs, "fallback": k["fallback"],
        "bad": bad}
print(json.dumps(out))
' "$BOT_USER"
}
# dev FIELD: the one device's FIELD in $T/sum (a Python expression on it)
dev() { j "list(d['devices'].values())[0]$1" <"$T/sum"; }
one_device() { [ "$(j 'len(d["devices"])' <"$T/sum")" = 1 ]; }
held_is() { summary >"$T/sum" && one_device && [ "$(dev "['otk_held']")" = "$1" ]; }
uploads_are() { summary >"$T/sum" && one_device && [ "$(dev "['uploads']")" = "$1" ]; }

# claim N: N of the bot's keys claimed at once, as members' clients would
# one by one (each takes a one-time key, or the fallback key once they are
# gone), so that the bot sees the stock fall in one sync
claim() {
	local dev_id
	dev_id=$(keys_json | j 'list(d["devices"])[0]')
	fake POST claim "{\"user_id\":\"$BOT_USER\",\"device_id\":\"$dev_id\",\"count\":$1}" >/dev/null
}
log_n() { fake GET log | j 'max([r["n"] for r in d["requests"]] + [0])'; }
# synced_after N: the bot long-polled after request N (it is up again)
synced_after() {
	fake GET "log?after=$1" | j "any(r['path'].endswith('/sync') and 'since' in r['query'] for r in d['requests'])" |
		grep -q True
}
keys_requests() { fake GET log | j "len([r for r in d['requests'] if '/keys/' in r['path']])"; }

# ---- without encryption: nothing of the keys --------------------------
start_bot
wait_first_sync || notok "the bot started"
check "without encryption: no request to the keys endpoints" test "$(keys_requests)" = 0
check "without encryption: no olm_account in the state folder" test ! -e "$T/state/olm_account"
stop_bot
DEVICE=$(j 'd["device_id"]' <"$T/state/session.json")

# ---- encryption on: the first start ------------------------------------
BOT_PICKLE_KEY=$(head -c 32 /dev/urandom | base64)
export BOT_PICKLE_KEY
n=$(log_n)
start_bot
wait_for 60 uploads_are 1 || notok "the bot uploaded its keys"
wait_for 60 synced_after "$n" || notok "the bot synced with encryption on"
summary >"$T/sum"
check "one device, the one the bot was logged in as ($DEVICE)" \
	test "$(j 'list(d["devices"])' <"$T/sum")" = "[\"$DEVICE\"]"
check "every signature verifies with python3-olm over canonical JSON ($(dev "['bad']"))" \
	test "$(dev "['bad']")" = "[]"
check "signed device keys, once" test "$(dev "['device_keys_uploads']")" = 1
check "50 signed one-time keys, held by the server" \
	test "$(dev "['otk_held']"):$(dev "['otk_uploaded'].__len__()")" = "50:50"
check "a signed fallback key, unused" \
	test "$(dev "['fallbacks'].__len__()"):$(dev "['fallback']['used']")" = "1:False"
ED=$(dev "['ed25519']")
CURVE=$(dev "['identities'][0][1]")
FB1=$(dev "['fallback']['id']")
check "olm_account: mode 0600" test "$(stat -c %a "$T/state/olm_account")" = 600
check "olm_account: neither the pickle key nor the identity keys in the clear" \
	bash -c '! grep -qF -- "$1" "$3" && ! grep -qF -- "$2" "$3"' _ "$BOT_PICKLE_KEY" "$ED" "$T/state/olm_account"
check "the log has the fingerprint and no secret" \
	bash -c 'grep -q "fingerprint=${1:0:4} ${1:4:4} " "$3" && ! grep -qF -- "$2" "$3"' _ "$ED" "$BOT_PICKLE_KEY" "$T/bot.log"
if [ "$MX_BOT" = faqbot ]; then
	out=$("${FAQBOT:-build/asan/faqbot}" keys --config "$T/faqbot.conf" 2>&1)
	fp=$(sed -E 's/(.{4})/\1 /g; s/ $//' <<<"$ED")
	check "faqbot keys prints the uploaded key as the fingerprint ($fp)" \
		bash -c 'grep -qx "fingerprint $1" <<<"$3" && grep -qx "ed25519     $2" <<<"$3" &&
			grep -qx "device      $4" <<<"$3"' _ "$fp" "$ED" "$out" "$DEVICE"
else
	ok "faqbot keys # SKIP faqbot only"
fi

# ---- the server's stock falls: topped up ------------------------------
# a member's client claims one key as the Client-Server API has it: a key
# object the bot signed
curl -sS --max-time 30 -X POST -H "Authorization: Bearer $MEMBER_TOKEN" \
	--data-binary "{\"one_time_keys\":{\"$BOT_USER\":{\"$DEVICE\":\"signed_curve25519\"}}}" \
	"$HS/_matrix/client/v3/keys/claim" >"$T/claimed"
check "a member claims a one-time key: signed by the device's ed25519 key" \
	"$OLM_PY" -c '
import json, sys, olm
bot, dev, ed = sys.argv[1:4]
(name, obj), = json.load(open(sys.argv[4]))["one_time_keys"][bot][dev].items()
o = {k: v for k, v in obj.items() if k != "signatures"}
olm.ed25519_verify(ed, json.dumps(o, separators=(",", ":"), sort_keys=True),
                   obj["signatures"][bot]["ed25519:" + dev])
assert name.startswith("signed_curve25519:") and set(o) == {"key"}
' "$BOT_USER" "$DEVICE" "$ED" "$T/claimed"
topped() { held_is 50 && [ "$(dev "['uploads']")" = "$1" ]; }
wait_for 60 topped 2 || notok "topped up after one claim"
check "one claimed: the bot tops up that one ($(dev "['otk_held']") held, $(dev "['uploads']") uploads)" \
	test "$(dev "['otk_uploaded'].__len__()")" = 51
claim 30
wait_for 60 topped 3 || notok "topped up after 30 claims"
check "30 claimed: the bot tops up to 50 ($(dev "['otk_held']") held, $(dev "['uploads']") uploads)" \
	test "$(dev "['otk_held']"):$(dev "['uploads']")" = "50:3"
check "with 30 new keys, every key ever uploaded distinct, and no device keys again" \
	test "$(dev "['otk_uploaded'].__len__()"):$(dev "['otk_uploaded']" | j 'len(set(d))'):$(dev "['device_keys_uploads']")" = "81:81:1"
check "every signature still verifies" test "$(dev "['bad']")" = "[]"

# every one-time key claimed, then the fallback key: 50 more and a new
# fallback key
claim 51
fallback_new() { summary >"$T/sum" && [ "$(dev "['fallback']['id']")" != "$FB1" ] && held_is 50; }
wait_for 60 fallback_new || notok "a new fallback key"
check "the fallback key handed out: a new one, unused, and 50 one-time keys" \
	test "$(dev "['fallback']['used']"):$(dev "['otk_held']"):$(dev "['fallbacks'].__len__()")" = "False:50:2"
check "every signature still verifies" test "$(dev "['bad']")" = "[]"

# ---- a restart keeps the identity ------------------------------------
stop_bot
check "SIGTERM: exit 0" test "$STOP_RC" = 0
n=$(log_n)
start_bot
wait_for 60 synced_after "$n" || notok "the bot synced after the restart"
summary >"$T/sum"
check "after a restart: the same identity, no device keys uploaded again" \
	test "$(dev "['identities']")" = "[[\"$ED\", \"$CURVE\"]]" -a "$(dev "['device_keys_uploads']")" = 1
check "after a restart: nothing to upload (50 held)" \
	test "$(dev "['otk_held']"):$(fake GET "log?after=$n" | j "len([r for r in d['requests'] if '/keys/upload' in r['path']])")" = "50:0"

# ---- kill -9 between the server taking keys and the bot hearing so ----
fake POST script '{"rules":[{"path":"/keys/upload","action":"commit_then_hold","count":1}]}' >/dev/null
claim 30
held_upload() { fake GET log | j "any(r.get('action')=='commit_then_hold' for r in d['requests'])" | grep -q True; }
wait_for 60 held_upload || notok "an upload held"
{ kill -9 "$BOT_PID" && wait "$BOT_PID"; } 2>/dev/null
BOT_PID=""
fake POST script_clear >/dev/null
fake POST release >/dev/null
held_body=$(fake GET log | j "[sorted(r['body']['one_time_keys']) for r in d['requests'] if r.get('action')=='commit_then_hold'][0]")
n=$(log_n)
start_bot
wait_for 60 synced_after "$n" || notok "the bot synced after kill -9"
wait_for 30 held_is 50
resent=$(fake GET "log?after=$n" | j "[sorted(r['body'].get('one_time_keys',{})) for r in d['requests'] if '/keys/upload' in r['path']]")
statuses=$(fake GET "log?after=$n" | j "[r['status'] for r in d['requests'] if '/keys/upload' in r['path']]")
summary >"$T/sum"
check "after kill -9: the same 30 keys sent again, taken as the same ($statuses)" \
	test "$resent" = "[$held_body]" -a "$statuses" = "[200]"
check "after kill -9: 50 held, not 80; the same identity, device keys once" \
	test "$(dev "['otk_held']"):$(dev "['identities'].__len__()"):$(dev "['device_keys_uploads']")" = "50:1:1"
check "every signature still verifies" test "$(dev "['bad']")" = "[]"
stop_bot

# ---- what must stop the start, and leave the file ---------------------
want_rc=4
[ "$MX_BOT" = faqbot ] || want_rc=1
sum_before=$(sha256sum <"$T/state/olm_account")
refused() { # refused NAME PATTERN: the bot will not start, saying PATTERN
	local name=$1 pat=$2 rc
	start_bot
	wait "$BOT_PID"
	rc=$?
	BOT_PID=""
	check "$name: exit $want_rc ($rc)" test "$rc" = "$want_rc"
	check "$name: says so, naming the file" grep -q "$T/state/olm_account.*$pat\|$pat.*$T/state/olm_account" "$T/bot.log"
}
good_key=$BOT_PICKLE_KEY
BOT_PICKLE_KEY=$(head -c 32 /dev/urandom | base64)
refused "a wrong pickle key" "does not open with the pickle key"
check "a wrong pickle key: the file is as it was" test "$(sha256sum <"$T/state/olm_account")" = "$sum_before"
BOT_PICKLE_KEY=$good_key
cp "$T/state/olm_account" "$T/olm_account.good"
head -c 200 "$T/olm_account.good" >"$T/state/olm_account"
refused "a damaged olm_account" "is not a faqbot Olm account"
check "a damaged olm_account: not replaced by a new identity" \
	test "$(head -c 200 "$T/olm_account.good" | sha256sum)" = "$(sha256sum <"$T/state/olm_account")"
cp "$T/olm_account.good" "$T/state/olm_account"
# an access token of another device: its identity is not this one's
fake POST user "{\"user_id\":\"$BOT_USER\",\"token\":\"othertok\",\"device_id\":\"OTHERDEV\"}" >/dev/null
BOT_TOKEN=othertok refused "another device's token" "is device $DEVICE of .*logged in as device OTHERDEV"
check "another device's token: no keys uploaded for it" \
	test "$(keys_json | j "len(d['devices'].get('OTHERDEV', {}).get('uploads', []))")" = 0
n=$(log_n)
start_bot
wait_for 60 synced_after "$n" || notok "the bot synced with its file back"
summary >"$T/sum"
check "its file back: the same identity, still one device" \
	test "$(dev "['identities']")" = "[[\"$ED\", \"$CURVE\"]]"
stop_bot
finish
