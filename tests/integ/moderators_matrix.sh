#!/usr/bin/env bash
# moderators_matrix.sh -- what moderators and members meet in a Matrix room,
# with `faqbot run` itself over the fake homeserver: each command's output;
# a non-moderator cannot reload, mute or test, whatever their display name;
# power level 50 makes a moderator; mutes never silence a crisis; cooldown
# pointers link to the earlier answer; a valid FAQ edit is live within 2 s
# of saving; a broken edit keeps the old FAQ and tells the moderators' room
# where the error is; SIGHUP reloads; !stats holds counts, never words, and
# its counts survive a restart.
MX_BOT=faqbot
. "$(dirname "$0")/matrix_lib.inc"

ALICE="@alice:fake.test" BOB="@bob:fake.test" EVE="@eve:fake.test" OP="@op:fake.test"
cp -r faq "$T/faq"
start_hs
R=$(fake POST room "{\"members\":[\"$MEMBER\",\"$MOD\",\"$BOT_USER\",\"$ALICE\",\"$BOB\",\"$EVE\",\"$OP\"],\"name\":\"support\"}" | j 'd["room_id"]')
MOD_ROOM=$(fake POST room "{\"members\":[\"$MOD\",\"$BOT_USER\"],\"name\":\"mods\"}" | j 'd["room_id"]')
# OP is a moderator by power level only; EVE calls herself "mod"
fake POST state "{\"room_id\":\"$R\",\"type\":\"m.room.power_levels\",\"state_key\":\"\",\"content\":{\"users\":{\"$OP\":50,\"$BOT_USER\":50},\"users_default\":0}}" >/dev/null
fake POST membership "{\"room_id\":\"$R\",\"sender\":\"$EVE\",\"target\":\"$EVE\",\"membership\":\"join\",\"displayname\":\"mod\"}" >/dev/null

write_config
sed -i -e "s|^faq_dir = faq|faq_dir = $T/faq|" -e "s|^cooldown_s = 0|cooldown_s = 600|" "$T/faqbot.conf"
run_bot() { run_faqbot "$T/faqbot.conf"; }
run_bot
wait_first_sync || notok "the bot started"

N=0 # the bot's messages in R so far
# say ROOM SENDER BODY -> event id (the body as written: no rewriting)
say() {
	python3 -c 'import json,sys; print(json.dumps({"room_id":sys.argv[1],"sender":sys.argv[2],"body":sys.argv[3]}))' "$1" "$2" "$3" >"$T/send.json"
	fake POST send "@$T/send.json" | j 'd["event_id"]'
}
# last_reply ROOM: the bot's newest message there, as JSON
last_reply() { bot_events "$1" | j 'd[-1]'; }
body() { j 'd["content"]["body"]'; }
# ask SENDER BODY: say it in R and wait for the bot's next message there
ask() {
	say "$R" "$1" "$2" >/dev/null
	N=$((N + 1))
	wait_bot "$R" "$N" 10000
	last_reply "$R" >"$T/last.json"
}
# quiet SENDER BODY: say it, then a marker question; the bot's next message
# must answer the marker (so the first got nothing)
quiet() {
	local ev
	ev=$(say "$R" "$1" "$2")
	say "$R" "$MEMBER" "!sources tms" >/dev/null
	N=$((N + 1))
	wait_bot "$R" "$N" 10000
	last_reply "$R" >"$T/last.json"
	test "$(replies_to "$R" "$ev")" = 0 && grep -q "is drawn from" <<<"$(body <"$T/last.json")"
}
has() { grep -qF -- "$1" <<<"$(body <"$T/last.json")"; }
# maybe SENDER BODY: say it, then a marker question, and wait for the
# marker's answer: the bot may or may not have answered the first (the
# learned stage may route a question to the nearest entry); N counts what
# it sent, and $T/maybe.txt holds its answer to the first, or nothing
marker_answered() { test "$(replies_to "$R" "$1")" = 1; }
maybe() {
	local ev mk
	ev=$(say "$R" "$1" "$2")
	mk=$(say "$R" "$MEMBER" "!sources tms")
	wait_for $((30 * ${WAIT_SCALE:-3})) marker_answered "$mk" || true
	if [ "$(replies_to "$R" "$ev")" = 1 ]; then
		N=$((N + 2))
		bot_events "$R" | j "[e['content']['body'] for e in d if e['content'].get('m.relates_to',{}).get('m.in_reply_to',{}).get('event_id')=='$ev'][0]" >"$T/maybe.txt"
	else
		N=$((N + 1))
		: >"$T/maybe.txt"
	fi
}

# --- members' commands ---------------------------------------------------
ask "$MEMBER" "!help"
check "!help says what the bot is, not a clinician" has "not a clinician"
check "!help says a crisis is always answered, opted out or muted" has "even if you have opted out or the room is muted"
check "!help to a member lists no moderators' commands" bash -c "! grep -q '!reload' <(python3 -c 'import json,sys;print(json.load(open(sys.argv[1]))[\"content\"][\"body\"])' $T/last.json)"
ask "$MEMBER" "!faq"
check "!faq lists the topics" has "ketamine-safety"
ask "$MEMBER" "!faq ketamine-safety @alice"
check "!faq ID @alice answers with the entry" has "ketamine is generally considered safe"
check "...and mentions alice, not the asker" test "$(j 'd["content"]["m.mentions"]["user_ids"]' <"$T/last.json")" = "[\"$ALICE\"]"
check "...with a pill in formatted_body" grep -qE "https://matrix.to/#/(@alice:fake.test|%40alice%3Afake.test)\"" <<<"$(j 'd["content"]["formatted_body"]' <"$T/last.json")"
ask "$MEMBER" "!faq magnetic brain stimulation"
check "!faq WORDS finds the entry that fits" has "transcranial magnetic stimulation"
ask "$MEMBER" "!crisis"
check "!crisis shows the region's crisis lines" has "988"
ask "$MEMBER" "!sources tms"
check "!sources ID names the articles by their titles" has "When Nothing Works"

# --- who is a moderator --------------------------------------------------
ask "$EVE" "!mute"
check "a member called 'mod' asking !mute gets a short refusal" has "for the group's moderators"
check "...once: !reload and !test from her get nothing" quiet "$EVE" "!reload"
check "...nor !test" quiet "$EVE" "!test what is TMS?"
ask "$ALICE" "what is TMS?"
check "...and the room is not muted" has "transcranial magnetic stimulation"
ask "$OP" "!test what is TMS?"
check "power level 50 makes a moderator: !test names entry and pattern" has "faq: tms, pattern at $T/faq/tms.yml:"
ask "$MOD" "!test I want to end my life"
check "a moderator's !test of crisis words names the crisis entry" has "crisis: crisis-"
check "...and alerts nobody" test "$(bot_events "$MOD_ROOM" | j 'len(d)')" = 0

# --- mute: FAQ answers stop, a crisis never does --------------------------
ask "$MOD" "!mute"
check "!mute is confirmed" has "muted in this room"
check "muted: a question gets no answer" quiet "$BOB" "what is ECT?"
C=$(say "$R" "$BOB" "I want to end my life")
N=$((N + 1))
wait_bot "$R" "$N" 10000
wait_bot "$MOD_ROOM" 1 10000
check "muted: a crisis still gets its reply" test "$(replies_to "$R" "$C")" = 1
check "muted: ...and the moderators their alert" test "$(bot_events "$MOD_ROOM" | j 'len(d)')" = 1
ask "$MOD" "!unmute"
check "!unmute is confirmed" has "back on"

# --- cooldown --------------------------------------------------------------
ask "$ALICE" "what is ECT?"
A1=$(j 'd["event_id"]' <"$T/last.json")
check "a question is answered" has "ECT"
check "the same member repeating it at once gets nothing more" quiet "$ALICE" "what is ECT??"
ask "$BOB" "so what's ECT?"
check "another member gets a short pointer instead" has "see my reply above"
check "...linking to the earlier answer" grep -qF "$(urlenc "$A1")" <<<"$(body <"$T/last.json")"

# --- reload: a valid edit is live within 2 s of saving ---------------------
NOTES=0
cat >"$T/glutamate.yml" <<'YML'
id: glutamate
question: What is glutamate?
reviewed: 2026-11-22
sources:
  - 001_ec26d130dbd3dfbf.txt
patterns: |
  \bglutamate\b
answer: |
  Glutamate is the brain's most common "go" messenger (an excitatory
  neurotransmitter), and it matters for plasticity: the brain's ability to
  change, learn and build new connections. Most antidepressants work on
  serotonin or dopamine; ketamine and Spravato work on the glutamate system
  instead, a different pathway, which may help explain why they can work
  when other medicines did not. Your prescriber can say what that means for you.
examples: |
  what is glutamate
  what does glutamate do
YML
# before the edit no entry is about glutamate: the bot stays quiet, or the
# model answers from the nearest entry (ketamine's workings name it), never
# with the new answer
maybe "$ALICE" "what is glutamate?"
check "glutamate's answer is not known before the edit" bash -c '! grep -q excitatory "$1"' _ "$T/maybe.txt"
NOTES=$(bot_events "$MOD_ROOM" | j 'len(d)')
t0=$(date +%s%N)
cp "$T/glutamate.yml" "$T/faq/glutamate.yml"
# (the reload reads and compiles the FAQ under ASan: 19 s once on a loaded
# machine, and over 60 s with two suites side by side once the learned stage
# read 28,000 messages (round 27); the waits for the moderators' notices
# give it three minutes: a wait on the notice, never a sleep)
wait_bot "$MOD_ROOM" $((NOTES + 1)) 60000
ms=$((($(date +%s%N) - t0) / 1000000))
last_reply "$MOD_ROOM" >"$T/note.json"
# every file of faq/ is an entry but the crisis lines, the concepts and the
# articles' titles; one new
# (NENT, not N: N counts the bot's messages in R, which every ask below
# waits for; set to the number of entries it made each of them wait out its
# whole timeout and then read whatever came last)
NENT=$(($(ls faq/*.yml | grep -vcE '/(crisis-lines|concepts|articles)\.yml$') + 1))
check "saving a valid entry is reported in the moderators' room (${ms} ms)" \
	grep -q "FAQ reloaded (a file changed): $NENT entries; new: glutamate" <<<"$(body <"$T/note.json")"
# live while the bot runs: the same process, never restarted (how many
# seconds it takes is no assertion: under ASan on a loaded machine,
# reading and compiling the FAQ took 11 s where it takes 1 on a quiet one)
check "...while it runs, not at a restart ($ms ms; the learned stage trains beside)" \
	bash -c 'kill -0 "$1" && [ "$(grep -c " info start faq=" "$2")" = 1 ]' _ "$BOT_PID" "$T/bot.log"
ask "$BOB" "what is glutamate?"
check "...and members get the new answer" has "excitatory"

# --- a broken edit: the old FAQ keeps serving, moderators learn where ------
printf 'id: glutamate\nquestion: [oops\n' >"$T/faq/glutamate.yml"
wait_bot "$MOD_ROOM" $((NOTES + 2)) 60000
last_reply "$MOD_ROOM" >"$T/note.json"
check "a broken edit is refused in the moderators' room" grep -q "was not reloaded" <<<"$(body <"$T/note.json")"
check "...naming file:line:col" grep -qF "$T/faq/glutamate.yml:3:1:" <<<"$(body <"$T/note.json")"
ask "$MEMBER" "what is glutamate?"
check "...and the old FAQ still answers (here: a pointer to the answer above)" has "(glutamate)"
ask "$MOD" "!reload"
check "!reload of a broken FAQ says why, in place" has "glutamate.yml:3:1:"
cp "$T/glutamate.yml" "$T/faq/glutamate.yml"
wait_bot "$MOD_ROOM" $((NOTES + 4)) 60000
# questions racing a SIGHUP reload: each answered once, none lost
E1=$(say "$R" "$ALICE" "what is ketamine?")
kill -HUP "$BOT_PID"
E2=$(say "$R" "$BOB" "is esketamine the same as ketamine?")
E3=$(say "$R" "$EVE" "does lifestyle help with depression?")
N=$((N + 3))
wait_bot "$R" "$N" 10000
wait_bot "$MOD_ROOM" $((NOTES + 5)) 60000
check "SIGHUP reloads and says so" grep -q "FAQ reloaded (SIGHUP)" <<<"$(last_reply "$MOD_ROOM" | body)"
check "questions racing a reload are each answered once" \
	test "$(replies_to "$R" "$E1")$(replies_to "$R" "$E2")$(replies_to "$R" "$E3")" = 111

# --- !stats: counts, never words, kept across a restart --------------------
# a question no entry answers: no reply, shown by the marker's reply coming
# first (not by waiting out a timeout)
quiet "$MEMBER" "anyone know a good shop for ferns in Leeds?" || notok "a question no entry answers gets no reply"
ask "$MOD" "!stats"
cp "$T/last.json" "$T/stats1.json"
check "!stats counts answers by class and entry" has "faq:ect"
check "!stats counts the crisis" grep -qE "crisis [1-9]" <<<"$(body <"$T/stats1.json")"
check "!stats counts unanswered questions by room" grep -qE "$R [1-9]" <<<"$(body <"$T/stats1.json")"
check "!stats copies no member's words" \
	test "$(j "any(s in d['content']['body'] for s in ['fern','end my life','glutamate?','what is'])" <"$T/stats1.json")" = False
check "!stats says how many entries are due for review" has "due for review"
check "the state folder holds no member's words" bash -c "! grep -rqE 'fern|end my life' '$T/state'"
WEEK=$(body <"$T/stats1.json" | grep -o 'Last 7 days: [0-9]* answered')
# the moderators' room: their commands are answered there, their talk is not
NOTES=$(bot_events "$MOD_ROOM" | j 'len(d)')
say "$MOD_ROOM" "$MOD" "a member said they want to end their life, can someone check in?" >/dev/null
say "$MOD_ROOM" "$MOD" "!stats" >/dev/null
wait_bot "$MOD_ROOM" $((NOTES + 1)) 10000
check "!stats is answered in the moderators' room" grep -qF "$WEEK" <<<"$(last_reply "$MOD_ROOM" | body)"
check "...and their talk there gets no reply and no alert" test "$(bot_events "$MOD_ROOM" | j 'len(d)')" = $((NOTES + 1))
stop_bot
check "SIGTERM: exit 0" test "$STOP_RC" = 0
# the restarted bot has synced (its first /sync after the restart), not a
# guess of how long its start takes
nsync() { fake GET log | j "len([r for r in d['requests'] if r['path'].endswith('/sync')])"; }
S0=$(nsync)
run_bot
synced_again() { [ "$(nsync)" -gt "$S0" ]; }
wait_for 60 synced_again || true
ask "$MOD" "!stats"
check "the 7-day counts survive a restart ($WEEK)" grep -qF "$WEEK" <<<"$(body <"$T/last.json")"
stop_bot
# (the ids' values set aside: a random event id once held "Fern")
check "no message text in the bot's log" bash -c "! sed -E 's/(event|sent|room|txn|user|by|device)=[^ ]*//g' '$T/bot.log' |
	grep -qiE 'fern|end my life|what is|glutamate\\?'"
finish
