#!/usr/bin/env bash
# matrix_e2ee_faults.sh -- encrypted rooms under faults (issue 15, item 5),
# against the fake homeserver, members' devices played by python3-olm
# (tests/integ/e2ee_member.py). After each fault an encrypted crisis is
# still answered.
#   - a member adds a device while the bot's /keys/claim for the room is
#     held: the sync's device_lists.changed makes the bot ask /keys/query
#     again, and the new device reads the reply held meanwhile (answered
#     once);
#   - a member removes a device while the bot's m.room_key is held: the
#     room key turns, and the device gone is not given the new one;
#   - a member with 20 devices: all 20 claimed, given the room key, and
#     each reads the reply;
#   - the server loses the bot's one-time keys (a /sync that leaves the
#     count of 0 out): the bot uploads new ones, and a member's new device
#     that claims one makes an Olm session and is answered; the server
#     has none left and the bot's uploads fail: a claim gets the fallback
#     key, which still opens, and once uploads work the bot gives a new
#     fallback key and one-time keys;
#   - a room key sent without its device's keys: the bot's /keys/query for
#     that device is held by the server, and another room's crisis is
#     answered meanwhile; the message waits, then is answered once;
#   - a damaged olm_sessions (one room's key, then the whole file),
#     megolm_out and e2ee_pending: the start goes on with the same
#     identity, the log names each file, its copy and what to do, the
#     copy holds the old bytes, the room whose key was kept is answered
#     at once, the one whose key was lost after its key comes again.
. "$(dirname "$0")/matrix_lib.inc"

need_olm_py

start_hs
# member WHO USER DEVICE ARGS...: WHO's device DEVICE (token WHO-DEVICE)
member() {
	local who=$1 user=$2 dev=$3
	shift 3
	"$OLM_PY" tests/integ/e2ee_member.py "$T/$who-$dev" "$HS" "$user" "tok-$who-$dev" "$dev" "$@"
}
# new_device WHO USER DEVICE: a device signed in, its keys and 5 one-time
# keys published
new_device() {
	fake POST user "{\"user_id\":\"$2\",\"token\":\"tok-$1-$3\",\"device_id\":\"$3\"}" >/dev/null &&
		member "$1" "$2" "$3" init && member "$1" "$2" "$3" upload-keys 5
}
ann() { member ann "$MEMBER" ANNDEV "$@"; }
mod() { member mod "$MOD" MODDEV "$@"; }
fake POST user "{\"user_id\":\"$MEMBER\",\"token\":\"tok-ann-ANNDEV\",\"device_id\":\"ANNDEV\"}" >/dev/null
fake POST user "{\"user_id\":\"$MOD\",\"token\":\"tok-mod-MODDEV\",\"device_id\":\"MODDEV\"}" >/dev/null
room_with_bot() {
	fake POST room "{\"members\":[\"$MEMBER\",\"$MOD\",\"$BOT_USER\"]}" | j 'd["room_id"]'
}

MOD_ROOM=$(fake POST room "{\"members\":[\"$MOD\",\"$BOT_USER\"],\"name\":\"mods\"}" | j 'd["room_id"]')
encrypt_room "$MOD_ROOM"
ROOM=$(room_with_bot)
encrypt_room "$ROOM"
ROOM1=$(room_with_bot)
encrypt_room "$ROOM1"
ROOMP=$(room_with_bot) # not encrypted
BOT_PICKLE_KEY=$(head -c 32 /dev/urandom | base64)
export BOT_PICKLE_KEY MOD_ROOM

ann init
ann upload-keys 5
mod init
mod upload-keys 5

start_bot
wait_for 60 bot_keys_up || notok "the bot uploaded its keys"
wait_first_sync || notok "the bot synced"
BOT_DEV=$(bot_keys | j 'list(d["devices"])[0]')
BOT_ED=$(bot_keys | j "d['devices']['$BOT_DEV']['device_keys']['keys']['ed25519:$BOT_DEV']")

# esend WHO ROOM TEXT: WHO's encrypted message (WHO: a function taking
# e2ee_member.py's arguments); prints its event id
esend() {
	local sender
	sender=$(case $1 in ann*) echo "$MEMBER" ;; *) echo "$MOD" ;; esac)
	"$1" encrypt "$2" "$(ask_text "$3")" >"$T/last" || return 1
	fake POST send "{\"room_id\":\"$2\",\"sender\":\"$sender\",\"type\":\"m.room.encrypted\",\"content\":$(cat "$T/last")}" |
		j 'd["event_id"]'
}
answered() { [ "$(replies_to "$1" "$2")" -ge 1 ]; }
reads() { "$1" read-keys >/dev/null && "$1" decrypt "$2" "$3" >/dev/null; }
log_n() { fake GET log | j 'max([r["n"] for r in d["requests"]] or [0])'; }
# synced_after N: the bot long-polled again after request N (the batch
# that answered its poll before, and what it carried, handled)
synced_after() {
	fake GET "log?after=$1" | j "any(r['path'].endswith('/sync') and 'since' in r['query'] for r in d['requests'])" | grep -q True
}
# held PATH-PART N: a request to it after request N is held by the server
held() {
	fake GET "log?after=$2" | j "any(r.get('action')=='hold' and '$1' in r['path'] for r in d['requests'])" | grep -q True
}
# crisis WHO ROOM LABEL: an encrypted crisis there is answered once, and
# WHO reads the reply
crisis() {
	local c r
	c=$(esend "$1" "$2" "MARKC $3 CRISIS now")
	wait_for 60 answered "$2" "$c"
	check "$3: an encrypted crisis is still answered, once" test "$(replies_to "$2" "$c")" = 1
	r=$(reply_of "$2" "$c" 2>/dev/null)
	check "...and the member reads the reply" reads "$1" "$2" "$r"
}

ann olm "$BOT_USER"
for r in "$ROOM" "$ROOM1"; do
	ann new-session "$r"
	ann share "$r" "$BOT_USER"
done
q0=$(esend ann "$ROOM" "MARKQ0 how long does it take?")
wait_for 60 answered "$ROOM" "$q0" || notok "the first question answered"
check "a first question in the encrypted room: its reply reads" reads ann "$ROOM" "$(reply_of "$ROOM" "$q0")"

# ---- 1. a device added while the bot's /keys/claim is held ----------------
# ben joins: the bot has no Olm session with his device, and claims
BEN=@ben:fake.test
new_device ben "$BEN" BENDEV
ben() { member ben "$BEN" BENDEV "$@"; }
fake POST membership "{\"room_id\":\"$ROOM1\",\"sender\":\"$BEN\",\"target\":\"$BEN\",\"membership\":\"join\"}" >/dev/null
fake POST script '{"rules":[{"path":"/keys/claim","action":"hold","count":1}]}' >/dev/null
n=$(log_n)
q1=$(esend ann "$ROOM1" "MARKQ1 and the waiting list?")
wait_for 60 held /keys/claim "$n" || notok "the bot claimed one-time keys for ROOM1"
n=$(log_n)
new_device ann "$MEMBER" ANNDEV2
ann2() { member ann "$MEMBER" ANNDEV2 "$@"; }
wait_for 60 synced_after "$n" || notok "the bot synced after the new device"
fake POST release >/dev/null
wait_for 90 answered "$ROOM1" "$q1"
check "a device added during a held claim: the question is answered once" \
	test "$(replies_to "$ROOM1" "$q1")" = 1
r1=$(reply_of "$ROOM1" "$q1")
check "...the devices known before read the reply" reads ann "$ROOM1" "$r1"
check "...and so does the new device, whose keys the bot asked again" reads ann2 "$ROOM1" "$r1"
q1b=$(esend ann "$ROOM1" "MARKQ1B and next?")
wait_for 60 answered "$ROOM1" "$q1b" || notok "the next question"
r1b=$(reply_of "$ROOM1" "$q1b")
check "...the next reply too, in the same session (a device added turns no key)" \
	bash -c 'test "$1" = "$2"' _ "$(session_of "$ROOM1" "$r1b")" "$(session_of "$ROOM1" "$r1")"
check "...which the new device reads" reads ann2 "$ROOM1" "$r1b"

check "...as does ben's" reads ben "$ROOM1" "$r1b"

# ---- 1b. a device removed while the bot's m.room_key is held -------------
# cal joins: the bot gives his device the room key, and that is held
CAL=@cal:fake.test
new_device cal "$CAL" CALDEV
fake POST membership "{\"room_id\":\"$ROOM1\",\"sender\":\"$CAL\",\"target\":\"$CAL\",\"membership\":\"join\"}" >/dev/null
fake POST script '{"rules":[{"path":"/sendToDevice/m\\.room\\.encrypted/","action":"hold","count":1}]}' >/dev/null
n=$(log_n)
q2=$(esend ann "$ROOM1" "MARKQ2 who else is here?")
wait_for 60 held /sendToDevice/m.room.encrypted/ "$n" || notok "the bot gave cal the room key"
n=$(log_n)
fake POST delete_device "{\"user_id\":\"$MEMBER\",\"device_id\":\"ANNDEV2\"}" >/dev/null
wait_for 60 synced_after "$n" || notok "the bot synced after the device went"
fake POST release >/dev/null
wait_for 90 answered "$ROOM1" "$q2"
check "a device removed during a held m.room_key: the question is answered once" \
	test "$(replies_to "$ROOM1" "$q2")" = 1
r2=$(reply_of "$ROOM1" "$q2")
check "...in a new session: the room key turned" \
	bash -c 'test "$1" != "$2"' _ "$(session_of "$ROOM1" "$r2")" "$(session_of "$ROOM1" "$r1")"
both_read() { reads ann "$ROOM1" "$1" && reads ben "$ROOM1" "$1"; }
check "...which the members' devices still there read" both_read "$r2"
not_read() { ! reads "$@" 2>/dev/null; }
check "...and the removed device was not given" not_read ann2 "$ROOM1" "$r2"
crisis ann "$ROOM1" "after a device came and went"

# ---- 2. a member with 20 devices --------------------------------------------
ZED=@zed:fake.test
for i in $(seq -w 1 20); do
	new_device zed "$ZED" "ZED$i" || notok "zed's device $i"
done
fake POST membership "{\"room_id\":\"$ROOM\",\"sender\":\"$ZED\",\"target\":\"$ZED\",\"membership\":\"join\"}" >/dev/null
n=$(log_n)
q3=$(esend ann "$ROOM" "MARKQ3 is anyone else on it?")
wait_for 90 answered "$ROOM" "$q3" || notok "answered with zed's 20 devices there"
r3=$(reply_of "$ROOM" "$q3")
claimed=$(fake GET "log?after=$n" | j "sorted({dv for r in d['requests'] if r['path'].endswith('/keys/claim') for dv in (r.get('body') or {}).get('one_time_keys',{}).get('$ZED',{})})")
check "a member with 20 devices: a one-time key of each claimed" \
	test "$(echo "$claimed" | j 'len(d)')" = 20
check "...in one /keys/claim" \
	test "$(fake GET "log?after=$n" | j "len([r for r in d['requests'] if r['path'].endswith('/keys/claim')])")" = 1
unread=""
for i in $(seq -w 1 20); do
	member zed "$ZED" "ZED$i" read-keys >/dev/null && member zed "$ZED" "ZED$i" decrypt "$ROOM" "$r3" >/dev/null ||
		unread="$unread ZED$i"
done
check "...each of the 20 reads the reply" test -z "$unread"
crisis ann "$ROOM" "with 20 devices in the room"

# ---- 3. the server loses the bot's one-time keys --------------------------
otks() { bot_keys | j "len(d['devices']['$BOT_DEV']['otk_ids'])"; }
uploads() { bot_keys | j "len(d['devices']['$BOT_DEV']['uploads'])"; }
u0=$(uploads)
check "the server drops the bot's one-time keys" \
	test "$(fake POST lose_keys "{\"user_id\":\"$BOT_USER\",\"device_id\":\"$BOT_DEV\",\"omit_zero\":true}" | j 'd["lost"]')" -gt 0
restocked() { [ "$(uploads)" -gt "$u0" ] && [ "$(otks)" -gt 0 ]; }
wait_for 60 restocked
check "...a /sync without its count: the bot uploads new ones" restocked
new_device ann "$MEMBER" ANNDEV3
ann3() { member ann "$MEMBER" ANNDEV3 "$@"; }
ann3 olm "$BOT_USER"
fb_used() { bot_keys | j "d['devices']['$BOT_DEV']['fallback']['used']"; }
check "...a member's new device claims one of them (not the fallback key)" test "$(fb_used)" = False
ann3 new-session "$ROOM"
ann3 share "$ROOM" "$BOT_USER"
crisis ann3 "$ROOM" "a new device's Olm session from a new one-time key"

new_device ann "$MEMBER" ANNDEV4
ann4() { member ann "$MEMBER" ANNDEV4 "$@"; }
fake POST script '{"rules":[{"path":"/keys/upload","action":"500","count":1000}]}' >/dev/null
fake POST lose_keys "{\"user_id\":\"$BOT_USER\",\"device_id\":\"$BOT_DEV\"}" >/dev/null
fb0=$(bot_keys | j "d['devices']['$BOT_DEV']['fallback']['id']")
ann4 olm "$BOT_USER"
check "no one-time key left and the uploads refused: a claim gets the fallback key" test "$(fb_used)" = True
ann4 new-session "$ROOM"
ann4 share "$ROOM" "$BOT_USER"
crisis ann4 "$ROOM" "an Olm session from the fallback key"
fake POST script_clear >/dev/null
new_fallback() {
	bot_keys | j "d['devices']['$BOT_DEV']['fallback']['id']!='$fb0' and not d['devices']['$BOT_DEV']['fallback']['used'] and len(d['devices']['$BOT_DEV']['otk_ids'])>0" | grep -q True
}
wait_for 120 new_fallback
check "...once the server takes uploads: a new fallback key and one-time keys" new_fallback

# ---- 5. a room key's device checked while the server holds /keys/query ----
fake POST script '{"rules":[{"path":"/keys/query","action":"hold","count":1}]}' >/dev/null
n=$(log_n)
ann new-session "$ROOM1"
ann share "$ROOM1" "$BOT_USER" nodk
q5=$(esend ann "$ROOM1" "MARKQ5 is it checked?")
wait_for 60 held /keys/query "$n" || notok "the bot asked /keys/query for ann's device"
c5=$(member_send "$ROOMP" '"body":"MARKC5 CRISIS now"' "$MOD")
wait_for 60 answered "$ROOMP" "$c5"
q5_then=$(replies_to "$ROOM1" "$q5")
check "a key's device check held by the server: another room's crisis is answered meanwhile" \
	test "$(replies_to "$ROOMP" "$c5")" = 1
check "...while the message whose key is checked still waits" test "$q5_then" = 0
fake POST script_clear >/dev/null
fake POST release >/dev/null
wait_for 90 answered "$ROOM1" "$q5"
check "...and is answered, once, when the answer comes" test "$(replies_to "$ROOM1" "$q5")" = 1
check "...its device checked by /keys/query" \
	grep -q "device ANNDEV of $MEMBER checked by /keys/query" "$T/bot.log"

# ---- 4. damaged encryption state files -------------------------------------
stop_bot
sha() { sha256sum "$T/state/$1" | cut -d' ' -f1; }
acc_sha=$(sha olm_account)
cp "$T/state/olm_sessions" "$T/sessions.before"
cp "$T/state/megolm_out" "$T/out.before"
# flip_pickle FILE LIST ROOM: one character in the middle of the pickle of
# each of ROOM's records in LIST (a libolm pickle whose MAC no longer holds)
flip_pickle() {
	python3 - "$T/state/$1" "$2" "$3" <<'PY'
import json, sys
f, key, room = sys.argv[1:]
d = json.load(open(f))
recs = [r for r in d[key] if r.get("room_id") == room]
assert recs, "no record of " + room
for r in recs:
    p = r["pickle"]
    i = len(p) // 2
    r["pickle"] = p[:i] + ("A" if p[i] != "A" else "B") + p[i + 1:]
json.dump(d, open(f, "w"))
PY
}
grp_key=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print([k for k,v in d.items() if isinstance(v,list) and v and "room_id" in v[0]][0])' "$T/state/olm_sessions")
out_key=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print([k for k,v in d.items() if isinstance(v,list) and v and "room_id" in v[0]][0])' "$T/state/megolm_out")
flip_pickle olm_sessions "$grp_key" "$ROOM1"
flip_pickle megolm_out "$out_key" "$ROOM"
cp "$T/state/olm_sessions" "$T/sessions.damaged"
cp "$T/state/megolm_out" "$T/out.damaged"
lines0=$(wc -l <"$T/bot.log")
n=$(log_n)
start_bot
wait_for 60 synced_after "$n" || notok "the bot started with damaged files"
# logged PATTERN...: the log since the start holds lines matching each
logged() {
	local p out
	out=$(tail -n +"$((lines0 + 1))" "$T/bot.log")
	for p in "$@"; do out=$(grep -E -- "$p" <<<"$out") || return 1; done
}
check "a damaged room key in olm_sessions: the log names the file, the room and what to do" \
	logged "error encryption: $T/state/olm_sessions is damaged .*$ROOM1" "copy is kept as" backup
check "...a damaged room key in megolm_out: the log names the file and the room" \
	logged "error encryption: $T/state/megolm_out is damaged .*$ROOM"
check "...the same identity: olm_account untouched" test "$(sha olm_account)" = "$acc_sha"
check "...and no other device keys uploaded" \
	test "$(bot_keys | j "d['devices']['$BOT_DEV']['device_keys']['keys']['ed25519:$BOT_DEV']")" = "$BOT_ED"
crisis ann "$ROOM" "a damaged megolm_out: a new room key"
copy_of() { # copy_of NAME ORIGINAL: a NAME.damaged-* copy holds ORIGINAL's bytes
	for f in "$T/state/$1".damaged-*; do cmp -s "$f" "$2" && return 0; done
	return 1
}
check "...megolm_out's copy kept beside it, byte for byte" copy_of megolm_out "$T/out.damaged"
# ROOM1's key is lost: the message waits, the bot asks ann's devices for
# it, ann's device sends it again
requests_to_ann() {
	fake GET "to_device?user_id=$(urlenc "$MEMBER")" | j "len([e for e in d['events'] if e['type']=='m.room_key_request'])"
}
kr0=$(requests_to_ann)
c4=$(esend ann "$ROOM1" "MARKC4 CRISIS tonight")
asked() { [ "$(requests_to_ann)" -gt "$kr0" ]; }
wait_for 60 asked
check "a lost room key: the bot asks the sender's devices for it" asked
ann share "$ROOM1" "$BOT_USER"
wait_for 60 answered "$ROOM1" "$c4"
check "...and the crisis is answered once the key comes again" test "$(replies_to "$ROOM1" "$c4")" = 1
check "...olm_sessions' copy kept beside it, byte for byte" copy_of olm_sessions "$T/sessions.damaged"
check "...and olm_sessions written whole again" \
	python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$T/state/olm_sessions"

# whole files that are not what they should be
stop_bot
for f in olm_sessions megolm_out e2ee_pending; do printf '{"version":1,"cut' >"$T/state/$f"; done
lines0=$(wc -l <"$T/bot.log")
n=$(log_n)
start_bot
wait_for 60 synced_after "$n" || notok "the bot started with cut files"
for f in olm_sessions megolm_out e2ee_pending; do
	check "a cut $f: the bot starts, the log names it and its copy" \
		logged "error encryption: $T/state/$f is damaged \(.*copy is kept as $T/state/$f.damaged-"
done
check "...the same identity" test "$(sha olm_account)" = "$acc_sha"
# ann's Olm session with the bot went with the file: her device makes a
# new one, as a client does when the bot's device no longer answers
ann olm "$BOT_USER"
ann new-session "$ROOM"
ann share "$ROOM" "$BOT_USER"
crisis ann "$ROOM" "every sessions' file cut"
stop_bot
check "no message text in the log or in the copies" \
	bash -c '! grep -rqE "MARK[QC]" "$1" "$2"/*.damaged-* "$2/olm_sessions" "$2/megolm_out"' _ "$T/bot.log" "$T/state"
check "the copies are 0600" bash -c 'for f in "$1"/*.damaged-*; do [ "$(stat -c %a "$f")" = 600 ] || exit 1; done' _ "$T/state"
finish
