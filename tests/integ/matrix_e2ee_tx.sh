#!/usr/bin/env bash
# matrix_e2ee_tx.sh -- writing in encrypted rooms (issue 15, item 3),
# against the fake homeserver, with members' devices played by
# python3-olm (tests/integ/e2ee_member.py): each publishes its device keys
# and one-time keys, reads the to-device messages the bot sends it (the
# room key, Olm-encrypted) and decrypts the bot's events with that key.
#   - a question in an encrypted room gets an encrypted reply that the
#     member decrypts, in reply to its event (the relation in clear, as
#     the spec has it, and inside);
#   - a crisis there: the reply and the moderators' alert (in an encrypted
#     moderators' room, decrypted by the moderator's device) both arrive;
#   - a second member who joins later gets the key and reads the next
#     reply;
#   - rotation_period_msgs 3: the fourth message goes in a new session,
#     which both members get and read;
#   - a restart: no key given again, the next reply read;
#   - kill -9 while the encrypted reply's send is held by the server: the
#     ciphertext journaled is the one sent after the restart, once, and
#     the member reads it;
#   - a device with no one-time key left gets m.room_key.withheld
#     (m.no_olm);
#   - a crisis whose room key cannot reach anyone (the server holds every
#     /keys/query) is still answered within the bound, unencrypted, and
#     the log says so by ids;
#   - the new state file is 0600; no message text, key or pickle in the
#     log.
. "$(dirname "$0")/matrix_lib.inc"

need_olm_py

start_hs
ANN_TOKEN=anntok
MOD_TOKEN=modtok
BEN=@ben:fake.test
BEN_TOKEN=bentok
fake POST user "{\"user_id\":\"$MEMBER\",\"token\":\"$ANN_TOKEN\",\"device_id\":\"ANNDEV\"}" >/dev/null
fake POST user "{\"user_id\":\"$MOD\",\"token\":\"$MOD_TOKEN\",\"device_id\":\"MODDEV\"}" >/dev/null
fake POST user "{\"user_id\":\"$BEN\",\"token\":\"$BEN_TOKEN\",\"device_id\":\"BENDEV\"}" >/dev/null
ann() { "$OLM_PY" tests/integ/e2ee_member.py "$T/ann" "$HS" "$MEMBER" "$ANN_TOKEN" ANNDEV "$@"; }
mod() { "$OLM_PY" tests/integ/e2ee_member.py "$T/mod" "$HS" "$MOD" "$MOD_TOKEN" MODDEV "$@"; }
ben() { "$OLM_PY" tests/integ/e2ee_member.py "$T/ben" "$HS" "$BEN" "$BEN_TOKEN" BENDEV "$@"; }

MOD_ROOM=$(fake POST room "{\"members\":[\"$MOD\",\"$BOT_USER\"],\"name\":\"mods\"}" | j 'd["room_id"]')
encrypt_room "$MOD_ROOM"
ROOM=$(make_room)
encrypt_room "$ROOM" 3
BOT_PICKLE_KEY=$(head -c 32 /dev/urandom | base64)
export BOT_PICKLE_KEY MOD_ROOM

ann init
ann upload-keys 5
mod init
mod upload-keys 5

start_bot --allow "$ROOM"
wait_joined "$ROOM" || notok "the bot joined"
wait_for 60 bot_keys_up || notok "the bot uploaded its keys"
wait_first_sync || notok "the bot synced"

# esend TEXT: ann's encrypted message; prints its event id
esend() {
	ann encrypt "$ROOM" "$(ask_text "$1")" >"$T/last" || return 1
	fake POST send "{\"room_id\":\"$ROOM\",\"sender\":\"$MEMBER\",\"type\":\"m.room.encrypted\",\"content\":$(cat "$T/last")}" |
		j 'd["event_id"]'
}
answered() { [ "$(replies_to "$ROOM" "$1")" -ge 1 ]; }
# reads WHO ROOM EVENT: WHO's device decrypts the bot's event (the room
# keys it was sent read first); prints the decrypted event
reads() {
	"$1" read-keys >/dev/null && "$1" decrypt "$2" "$3"
}
reads_quiet() { reads "$@" >/dev/null; }

ann olm "$BOT_USER"
ann new-session "$ROOM"
ann share "$ROOM" "$BOT_USER"

# ---- a question ---------------------------------------------------------
q1=$(esend "MARKQ1 how long does it take?")
wait_for 60 answered "$q1" || notok "the question answered"
r1=$(reply_of "$ROOM" "$q1")
check "an encrypted room's reply is m.room.encrypted" test "$(type_of "$ROOM" "$r1")" = m.room.encrypted
reads ann "$ROOM" "$r1" >"$T/r1.json"
check "the member decrypts it: an m.room.message with text, in this room" \
	"$OLM_PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["type"]=="m.room.message" and d["content"]["body"] and d["content"]["msgtype"]' "$T/r1.json"
check "...in reply to the question, inside the ciphertext too" \
	"$OLM_PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["content"]["m.relates_to"]["m.in_reply_to"]["event_id"]==sys.argv[2]' "$T/r1.json" "$q1"

# ---- a crisis: the reply and the moderators' alert ----------------------
mods_before=$(bot_events "$MOD_ROOM" | j 'len(d)')
c1=$(esend "MARKC1 CRISIS tonight")
wait_for 60 answered "$c1" || notok "the crisis answered"
rc=$(reply_of "$ROOM" "$c1")
check "a crisis in an encrypted room: the reply decrypts" reads_quiet ann "$ROOM" "$rc"
alerted() { [ "$(bot_events "$MOD_ROOM" | j 'len(d)')" -gt "$mods_before" ]; }
wait_for 60 alerted || notok "the alert"
alert=$(bot_events "$MOD_ROOM" | j 'd[-1]["event_id"]')
check "...the moderators' alert is encrypted in their encrypted room" \
	test "$(type_of "$MOD_ROOM" "$alert")" = m.room.encrypted
check "...and the moderator's device decrypts it" reads_quiet mod "$MOD_ROOM" "$alert"

# ---- a second member joins later ---------------------------------------
ben init
ben upload-keys 5
fake POST membership "{\"room_id\":\"$ROOM\",\"sender\":\"$BEN\",\"target\":\"$BEN\",\"membership\":\"join\"}" >/dev/null
q2=$(esend "MARKQ2 what about side effects?")
wait_for 60 answered "$q2" || notok "the question after ben joined"
r2=$(reply_of "$ROOM" "$q2")
check "a member who joined later gets the key and reads the next reply" reads_quiet ben "$ROOM" "$r2"
check "...as does the first member" reads_quiet ann "$ROOM" "$r2"
check "three replies, one session (rotation_period_msgs 3)" \
	test "$(session_of "$ROOM" "$r1")" = "$(session_of "$ROOM" "$r2")" -a \
	"$(session_of "$ROOM" "$rc")" = "$(session_of "$ROOM" "$r1")"

# ---- rotation after 3 messages -------------------------------------------
q3=$(esend "MARKQ3 and the cost?")
wait_for 60 answered "$q3" || notok "the fourth"
r3=$(reply_of "$ROOM" "$q3")
check "the fourth message goes in a new session" \
	test "$(session_of "$ROOM" "$r3")" != "$(session_of "$ROOM" "$r1")"
both_read() { reads ann "$ROOM" "$1" >/dev/null && reads ben "$ROOM" "$1" >/dev/null; }
check "...whose key both members got" both_read "$r3"

# ---- a restart: the sessions stay, no key given again ---------------------
keys_to_ann() { fake GET "log" | j "len([r for r in d['requests'] if r['path'].startswith('/_matrix/client/v3/sendToDevice/m.room.encrypted/k')])"; }
stop_bot
check "SIGTERM: exit 0" test "$STOP_RC" = 0
sent_before=$(keys_to_ann)
start_bot --allow "$ROOM"
q4=$(esend "MARKQ4 after a restart?")
wait_for 60 answered "$q4" || notok "after the restart"
r4=$(reply_of "$ROOM" "$q4")
check "after a restart: the reply decrypts with the key the member has" reads_quiet ann "$ROOM" "$r4"
check "...and no room key was given again" test "$(keys_to_ann)" = "$sent_before"

# ---- kill -9 between journaling and sending -------------------------------
fake POST script '{"rules":[{"path":"/send/m\\.room\\.encrypted/","method":"PUT","action":"hold","count":1}]}' >/dev/null
q5=$(esend "MARKQ5 in the middle?")
held_send() {
	fake GET log | j "any(r.get('action')=='hold' and '/send/m.room.encrypted/' in r['path'] for r in d['requests'])" | grep -q True
}
wait_for 60 held_send || notok "the bot sent the encrypted reply"
journaled=$("$OLM_PY" -c '
import glob, json, sys
for f in glob.glob(sys.argv[2] + "/[qg]-*"):
    v = json.load(open(f))
    for s in v if isinstance(v, list) else [v]:
        if s.get("enc") and s.get("event") == sys.argv[1]:
            print(json.loads(s["body"])["ciphertext"])' "$q5" "$T/state/outbox" | head -1)
check "the encrypted reply is in the outbox before it is sent" test -n "$journaled"
{ kill -9 "$BOT_PID" && wait "$BOT_PID"; } 2>/dev/null
BOT_PID=""
fake POST script_clear >/dev/null
fake POST release >/dev/null
start_bot --allow "$ROOM"
wait_for 60 answered "$q5" || notok "answered after kill -9"
r5=$(reply_of "$ROOM" "$q5")
check "kill -9 before the send: answered once after the restart" test "$(replies_to "$ROOM" "$q5")" = 1
check "...with the very ciphertext journaled" \
	test "$(bot_events "$ROOM" | j "[e['content']['ciphertext'] for e in d if e['event_id']=='$r5'][0]")" = "$journaled"
check "...which the member decrypts" reads_quiet ann "$ROOM" "$r5"

# ---- a device with no one-time key: withheld ------------------------------
CAL=@cal:fake.test
fake POST user "{\"user_id\":\"$CAL\",\"token\":\"caltok\",\"device_id\":\"CALDEV\"}" >/dev/null
cal() { "$OLM_PY" tests/integ/e2ee_member.py "$T/cal" "$HS" "$CAL" caltok CALDEV "$@"; }
cal init
cal upload-keys
fake POST membership "{\"room_id\":\"$ROOM\",\"sender\":\"$CAL\",\"target\":\"$CAL\",\"membership\":\"join\"}" >/dev/null
q6=$(esend "MARKQ6 anyone new?")
wait_for 60 answered "$q6" || notok "answered with cal there"
withheld() {
	fake GET "to_device?user_id=$(urlenc "$CAL")" |
		j "any(e['type']=='m.room_key.withheld' and e['content']['code']=='m.no_olm' for e in d['events'])" | grep -q True
}
check "a device with no one-time key: m.room_key.withheld (m.no_olm)" withheld
check "...and the others still read the reply" reads_quiet ann "$ROOM" "$(reply_of "$ROOM" "$q6")"

# ---- a crisis whose key reaches no one: answered within the bound --------
# a room the bot is in from the start; every m.room_key it sends is held
ROOM2=$(fake POST room "{\"members\":[\"$MEMBER\",\"$MOD\",\"$BOT_USER\"]}" | j 'd["room_id"]')
encrypt_room "$ROOM2"
fake POST script '{"rules":[{"path":"/sendToDevice/m\\.room\\.encrypted/k","action":"hang","ms":30000,"count":20}]}' >/dev/null
ann new-session "$ROOM2"
ann share "$ROOM2" "$BOT_USER"
ann encrypt "$ROOM2" "$(ask_text "MARKC2 CRISIS now")" >"$T/last2"
c2=$(fake POST send "{\"room_id\":\"$ROOM2\",\"sender\":\"$MEMBER\",\"type\":\"m.room.encrypted\",\"content\":$(cat "$T/last2")}" | j 'd["event_id"]')
answered2() { [ "$(replies_to "$ROOM2" "$1")" -ge 1 ]; }
wait_for 90 answered2 "$c2"
check "a crisis whose room key reaches no device is still answered" test "$(replies_to "$ROOM2" "$c2")" = 1
check "...unencrypted" test "$(type_of "$ROOM2" "$(reply_of "$ROOM2" "$c2")")" = m.room.message
check "...and the log says why, by ids" \
	grep -q "room=$ROOM2 txn=.* reply: its room key reached no member's device" "$T/bot.log"
fake POST script_clear >/dev/null
stop_bot

# ---- privacy -------------------------------------------------------------
check "megolm_out: mode 0600" test "$(stat -c %a "$T/state/megolm_out")" = 600
check "no message text in the log or the state folder's key files" \
	bash -c '! grep -rqE "MARK[QC][0-9]" "$1" "$2/megolm_out" "$2/olm_sessions"' _ "$T/bot.log" "$T/state"
check "no session key or pickle in the log" \
	bash -c '! grep -qiE "session_key|pickle\"" "$1"' _ "$T/bot.log"
finish
