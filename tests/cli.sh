#!/usr/bin/env bash
# tests/cli.sh BINARY -- the command line as a user meets it. One "ok" or
# "not ok" line a check. Run from the top of the repo.
set -uo pipefail
BIN=${1:-./faqbot}
T=$(mktemp -d "/tmp/faqbot-${FAQBOT_RUN_ID:-$$}-cli.XXXXXX")
trap 'rm -rf "$T"' EXIT
n=0 bad=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
no() { n=$((n + 1)); bad=$((bad + 1)); echo "not ok $n - $1"; [ -n "${2:-}" ] && echo "$2" | head -20 | sed 's/^/#   /'; }
# grep_out ARGS: grep in $out. Not `grep_out -q`: under
# pipefail, grep -q leaves at its first match, and an echo still writing a
# long output dies of SIGPIPE and fails the check (seen on a loaded machine)
grep_out() { grep "$@" <<<"$out"; }
t() { # t NAME COMMAND... : passes when the command succeeds
	local name=$1; shift
	if out=$("$@" 2>&1); then ok "$name"; else no "$name" "$out"; fi
}

t "--help prints usage" bash -c "$BIN --help | grep -q 'usage: faqbot'"
t "--version names the libraries" bash -c "$BIN --version | grep -q 'PCRE2 10' && $BIN --version | grep -q jansson && $BIN --version | grep -q libcurl"
t "unknown command exits 2" bash -c "$BIN frobnicate; [ \$? -eq 2 ]"
t "unknown option exits 2" bash -c "$BIN ask --frob x; [ \$? -eq 2 ]"
t "check faq/ is clean" "$BIN" check --seeds ../shared/seeds faq/
# where PCRE2 has no JIT, or JIT memory is refused (SELinux execmem,
# MemoryDenyWriteExecute=), every pattern runs in the interpreter, which
# counts its match limit more finely: the shipped FAQ must hold there too
t "check faq/ is clean with the JIT off (FAQBOT_NO_JIT=1)" env FAQBOT_NO_JIT=1 "$BIN" check faq/
t "--version says the JIT is off (FAQBOT_NO_JIT=1)" bash -c "FAQBOT_NO_JIT=1 $BIN --version | grep -q 'JIT off'"

# Every topic id of faq-topics.md has an entry, and so do crisis and advice.
ids=$(sed -n 's/^| \([a-z0-9-]*\) | .*/\1/p' ../shared/faq-topics.md | grep -v '^id$')
"$BIN" topics --json > "$T/topics" 2>&1
missing=""
for id in $ids; do grep -q "\"id\":\"$id\"" "$T/topics" || missing="$missing $id"; done
[ -n "$ids" ] && [ -z "$missing" ] && ok "every required topic id has an entry" || no "topics missing:$missing"
grep -q '"class":"crisis"' "$T/topics" && grep -q '"class":"advice"' "$T/topics" \
	&& ok "topics lists crisis and advice entries" || no "topics lacks crisis/advice"

# Entries a volunteer can read: no line of the shipped FAQ over 160 characters
# (a long alternation belongs in a word list, `words:`; a long pattern goes on
# over lines indented deeper), and `topics` shows the lists and the patterns
# as written, the compiled form only when asked.
long=$(LC_ALL=C.UTF-8 awk 'length($0) > 160 { print FILENAME ":" FNR ": " length($0) " characters" }' faq/*.yml)
[ -z "$long" ] && ok "no line in faq/*.yml is over 160 characters" || no "lines of faq/*.yml over 160 characters" "$long"
"$BIN" topics > "$T/topics.txt" 2>&1
grep -q '^tms (faq, priority [0-9-]*, .*tms.yml): What is TMS?$' "$T/topics.txt" \
	&& grep -q '^    tms: tms, rtms, ' "$T/topics.txt" && grep -q '\\b(?:{tms})\\b' "$T/topics.txt" \
	&& ! grep -q 'rtms|dtms' "$T/topics.txt" \
	&& ok "topics shows word lists and patterns as written" || no "topics text" "$(grep -A8 '^tms ' "$T/topics.txt")"
"$BIN" topics --compiled > "$T/topics.c" 2>&1
grep -q 'rtms|dtms' "$T/topics.c" && ! grep -q '{tms}' "$T/topics.c" \
	&& ok "topics --compiled shows the patterns as PCRE2 runs them" || no "topics --compiled"
grep '"id":"tms"' "$T/topics" | grep -q '"words":{.*"tms":\["tms","rtms"' \
	&& ! grep -q '"compiled_patterns"' "$T/topics" \
	&& "$BIN" topics --json --compiled | grep '"id":"tms"' | grep -q '"compiled_patterns":\[.*rtms|dtms' \
	&& ok "topics --json has the word lists, the compiled form only with --compiled" \
	|| no "topics --json words / --compiled"

# ask: what a member reads
out=$("$BIN" ask "what is ketamine?" 2>&1)
grep_out -qi ketamine && ok "ask answers a FAQ question" || no "ask faq" "$out"
# whether a treatment works is a core question (it used to get silence)
out=$(printf '%s\n' "does ketamine work for depression" "does ketamine help with depression?" \
	"does ketamine work" | "$BIN" ask --json - 2>&1)
[ "$(grep_out -c '"id":"ketamine-effectiveness"')" = 3 ] &&
	grep_out -q "70%" && grep_out -qi "doesn't work for everyone" &&
	ok "does ketamine work: the effectiveness entry, the 70% as one article's claim" ||
	no "ketamine-effectiveness" "$out"
out=$("$BIN" ask "i want to end my life" 2>/dev/null)
if grep_out -q 988 && grep_out -q 741741 && grep_out -qi findahelpline; then
	ok "a crisis message gets the US lines and the directory"
else no "crisis reply lines" "$out"; fi
grep_out -q 988 && grep_out -qiE '\b(bot|automated)\b' && ok "the crisis reply says it is a bot" || no "crisis says bot" "$out"
out=$("$BIN" --region uk ask "i want to end my life" 2>&1)
grep_out -q "116 123" && ok "--region uk shows Samaritans" || no "uk region" "$out"
for rl in "in:Tele-MANAS: call 14416" "za:0800 567 567" "sg:Samaritans of Singapore: call 1767" "ph:NCMH Crisis Hotline: call 1553"; do
	out=$("$BIN" --region "${rl%%:*}" ask "i want to end my life" 2>&1)
	grep_out -qF "${rl#*:}" && grep_out -q "findahelpline.com" &&
		ok "--region ${rl%%:*} shows its own line and the directory" || no "region ${rl%%:*}" "$out"
done
# the shipped FAQ: no warning but those that say something is due for review
out=$("$BIN" check faq 2>&1 | grep ': warning: ' | grep -v "was last reviewed\|was last verified\|was read second hand")
[ -z "$out" ] && ok "check on the shipped FAQ warns only of what is due for review" || no "shipped FAQ warnings" "$out"
# a line read second hand is due until someone checks it at its source
out=$("$BIN" check faq 2>&1)
grep_out -q "crisis-lines.yml:[0-9]*:1: warning: crisis line 'Tele-MANAS' was read second hand (.*), not at https://telemanas.mohfw.gov.in/: check it there, then remove 'seen_in'" &&
	ok "check says a crisis line read second hand is due, at its line" || no "seen_in warning" "$out"
out=$("$BIN" --region xx ask "hi" 2>&1); rc=$?
[ $rc -eq 2 ] && grep_out -q "region 'xx': no crisis lines for that region; the FAQ has us, ca, uk, ie, au, nz, in, za, sg, ph" &&
	ok "an unknown --region is a usage error (exit 2) that lists the regions" || no "unknown region" "$out"
printf 'region = xx\n[irc]\nhost = 127.0.0.1\nnick = x\nchannels = #a\ntls = false\n' > "$T/region.ini"
out=$("$BIN" run --config "$T/region.ini" 2>&1); rc=$?
[ $rc -eq 4 ] && grep_out -q "region.ini: region 'xx': no crisis lines for that region; the FAQ has us" &&
	ok "an unknown region in the config is a config error (exit 4) naming the file" || no "config region" "$out"
out=$("$BIN" ask "how many pills would be lethal" 2>&1)
grep_out -q 988 && ok "a lethality question gets crisis lines, no facts" || no "lethality" "$out"
out=$("$BIN" ask "thanks everyone" 2>&1 >/dev/null)
grep_out -q "no answer" && ok "chat gets no answer, said on stderr" || no "none" "$out"

# ask --json -: one object a line, in order, whatever the input
printf 'what is tms\n\nhello\nsuicidal thoughts all day\n\xff\xfe broken utf8\nwhat dose of ketamine should i take\n' > "$T/in"
"$BIN" ask --json - < "$T/in" > "$T/out" 2>"$T/err"
if python3 - "$T/out" <<'PY'
import json, sys
lines = open(sys.argv[1]).read().splitlines()
assert len(lines) == 6, lines
objs = [json.loads(l) for l in lines]
assert objs[0]["kind"] == "faq" and objs[0]["id"] == "tms" and objs[0]["answer"], objs[0]
assert objs[1] == {"kind": "none"}, objs[1]
assert objs[2] == {"kind": "none"}, objs[2]
assert objs[3]["kind"] == "crisis" and "988" in objs[3]["answer"], objs[3]
assert objs[4]["kind"] == "none", objs[4]
assert objs[5]["kind"] == "advice", objs[5]
PY
then ok "ask --json - answers each line in order"; else no "ask --json" "$(cat "$T/out" "$T/err")"; fi
head -c 300000 /dev/zero | tr '\0' 'a' > "$T/long"; echo >> "$T/long"
[ "$("$BIN" ask --json - < "$T/long" | wc -l)" = 1 ] && ok "a 300 kB line is one answer" || no "long line"

# chat: the console, fed by a pipe
out=$(printf 'what is tms\n!crisis\nthanks\n!quit\nwhat is ect\n' | "$BIN" chat 2>&1)
grep_out -q "faqbot> .*[Mm]agnetic" && grep_out -q 988 \
	&& ! grep_out -qi "electroconvulsive" && ok "chat answers, shows lines, stops at !quit" || no "chat" "$out"
# the console's operator is a moderator: commands work, an edit is live
cp -r faq "$T/cfaq"
out=$(printf '!help\n!test what is tms?\n!faq tms > sam\n!stats\n' | "$BIN" --faq "$T/cfaq" chat 2>&1)
grep_out -q "not a clinician" && grep_out -q "faq: tms, pattern at" \
	&& grep_out -q "faqbot> sam: TMS" && grep_out -q "Since start" \
	&& ! grep_out -q " info " && ok "chat: !help, !test, a directed !faq, !stats; no log lines" \
	|| no "chat commands" "$out"
# waitgrep FILE RE SECONDS: until RE is in FILE, or SECONDS pass
waitgrep() {
	local end=$((SECONDS + $3))
	until grep -q "$2" "$1" 2>/dev/null; do
		[ $SECONDS -ge $end ] && return 1
		sleep 0.1
	done
}
mkfifo "$T/chat.in"
"$BIN" --faq "$T/cfaq" chat <"$T/chat.in" >"$T/chat.out" 2>&1 &
chat_pid=$!
exec 7>"$T/chat.in"
echo 'what is glutamate?' >&7
# before the edit no entry is about glutamate: the bot says so, or the
# model answers from the nearest entry (ketamine's workings name it)
waitgrep "$T/chat.out" "no FAQ entry matches\|faqbot> " 60
printf 'id: glutamate\nquestion: What is glutamate?\nreviewed: 2026-11-22\nsources:\n  - 001_ec26d130dbd3dfbf.txt\npatterns: |\n  \\bglutamate\\b\nanswer: |\n  Glutamate is the brain'"'"'s most common go messenger, an excitatory\n  neurotransmitter, and it matters for plasticity: the ability of the brain to\n  change, learn and build new connections. Most antidepressants work on\n  serotonin or dopamine, while ketamine works on the glutamate system, a\n  different pathway. Your prescriber can say what that means for you.\nexamples: |\n  what is glutamate\n' >"$T/cfaq/glutamate.yml"
waitgrep "$T/chat.out" "new: glutamate" 60
echo 'what is glutamate?' >&7
waitgrep "$T/chat.out" "faqbot> Glutamate is" 60
echo '!quit' >&7
exec 7>&-
wait "$chat_pid"
out=$(cat "$T/chat.out")
first_new=$(grep -n "new: glutamate" "$T/chat.out" | head -1 | cut -d: -f1)
first_answer=$(grep -n "faqbot> Glutamate is" "$T/chat.out" | head -1 | cut -d: -f1)
[ -n "$first_new" ] && [ -n "$first_answer" ] && [ "$first_answer" -gt "$first_new" ] \
	&& ok "chat: a saved FAQ edit is live on the next line" \
	|| no "chat reload" "$out"
out=$(printf 'what is tms\n' | "$BIN" run 2>&1)
grep_out -qi "magnetic" && ok "run with no configuration is the console" || no "run" "$out"

# A broken copy of every FAQ file: check names the file and line, exits 3,
# and the bot refuses to start on it.
fails=""
for f in faq/*.yml; do
	rm -rf "$T/faq" && cp -r faq "$T/faq"
	b=$(basename "$f")
	# a stray unclosed parenthesis in the first pattern, or a bad key in the lines file
	if grep -q '^patterns:' "$f"; then
		awk 'done!=1 && prev ~ /^patterns:/ {print "  broken(pattern"; done=1} {print; prev=$0}' "$f" > "$T/faq/$b"
		want="$T/faq/$b:[0-9]*:[0-9]*: error: pattern does not compile"
	else
		{ cat "$f"; echo "colour: blue"; } > "$T/faq/$b"
		want="$T/faq/$b:[0-9]*:[0-9]*: error: unknown key 'colour'"
	fi
	out=$("$BIN" check "$T/faq" 2>&1); rc=$?
	if [ $rc -ne 3 ] || ! grep_out -q "$want"; then fails="$fails $b"; fi
done
[ -z "$fails" ] && ok "a broken copy of each FAQ file is reported at file:line:col" || no "broken copies:$fails"
out=$("$BIN" --faq "$T/faq" ask "what is tms" 2>&1); rc=$?
[ $rc -eq 3 ] && grep_out -q "run 'faqbot check" && ok "ask refuses a broken FAQ, saying how to find out why" || no "ask broken" "$out"

# run: a configuration that cannot be read says so in one line, exit 4
out=$("$BIN" run --config "$T/no-such.ini" 2>&1); rc=$?
[ $rc -eq 4 ] && [ "$(echo "$out" | wc -l)" = 1 ] && grep_out -q "cannot read the config file" \
	&& ok "run with an unreadable config: one line, exit 4" || no "unreadable config" "$out"
printf '[matrix]\nhomeserver = https://x\npasword_file = /x\n' > "$T/typo.ini"
out=$("$BIN" run --config "$T/typo.ini" 2>&1); rc=$?
[ $rc -eq 4 ] && grep_out -q "typo.ini:3: unknown setting 'pasword_file'" \
	&& ok "a misspelt setting is named with its line" || no "config typo" "$out"

printf '[matrix]\nhomeserver = https://x\npassword_env = FAQBOT_CLI_PW\n[irc]\nhost = irc.example.org\n' > "$T/both.ini"
out=$(FAQBOT_CLI_PW=x "$BIN" run --config "$T/both.ini" 2>&1); rc=$?
# both networks in one config run in one process (issue 12): each section
# is checked as it would be alone, and a wrong one named with its line
[ $rc -eq 4 ] && grep_out -q "both.ini:2: \[matrix\] user id" \
	&& ok "both networks in one config: each checked, a wrong one named, exit 4" || no "both networks" "$out"

# A crisis that shows only across one member's messages: each alone is
# chat; read together, in a room (the console), or with a sender given to
# ask --json -, the second is a crisis. Another member's, or a plain line,
# is read alone, so scored sets stay independent.
a='nothing has helped in ten years'
b='my meds are in my bag'
out=$(printf '%s\n%s\n' "$a" "$b" | "$BIN" chat 2>&1)
[ "$(grep_out -c 'stays quiet')" = 1 ] && grep_out -q 988 &&
	ok "console: a crisis across two messages is answered" || no "console context" "$out"
out=$(printf '%s\n' "{\"sender\":\"ann\",\"text\":\"$a\"}" "{\"sender\":\"bob\",\"text\":\"$b\"}" \
	"{\"sender\":\"ann\",\"text\":\"$b\"}" "$b" | "$BIN" ask --json - 2>&1)
[ "$(echo "$out" | sed -n 3p | grep -c '"kind":"crisis"')" = 1 ] &&
	[ "$(grep_out -c '"kind":"crisis"')" = 1 ] &&
	ok "ask --json -: a sender's messages read together, others alone" || no "ask sender" "$out"
# every command has its own help, and chat takes nothing
nohelp=""
for c in run chat ask check topics health keys help version; do
	out=$("$BIN" "$c" --help 2>&1) && grep_out -q "^usage: faqbot $c" || nohelp="$nohelp $c"
	out=$("$BIN" "$c" -h 2>&1) && grep_out -q "^usage: faqbot $c" || nohelp="$nohelp $c(-h)"
done
[ -z "$nohelp" ] && ok "COMMAND --help and -h: each command's own usage, exit 0" || no "command help" "$nohelp"
out=$("$BIN" chat --config x.ini </dev/null 2>&1); rc=$?
[ "$rc" = 2 ] && grep_out -q "faqbot run --config" &&
	ok "chat --config is a usage error that points to run" || no "chat --config ($rc)" "$out"
# keys: the Matrix device's identity, from the state folder with the pickle
# key (the identity itself is shown in tests/integ/matrix_e2ee.sh)
out=$("$BIN" keys 2>&1); rc=$?
[ "$rc" = 2 ] && grep_out -q "keys: give --config FILE" && ok "keys without --config: usage, exit 2" ||
	no "keys usage ($rc)" "$out"
mkdir -p "$T/keys/state" && chmod 700 "$T/keys/state"
printf 'hunter2\n' >"$T/keys/pw" && chmod 600 "$T/keys/pw"
keys_conf() { # keys_conf EXTRA: a Matrix config with EXTRA lines in [matrix]
	printf '[matrix]\nhomeserver = https://h.example\nuser_id = @bot:h.example\npassword_file = %s\nstate_dir = %s\n%s' \
		"$T/keys/pw" "$T/keys/state" "$1" >"$T/keys/conf.ini"
}
keys_conf ""
out=$("$BIN" keys --config "$T/keys/conf.ini" 2>&1); rc=$?
[ "$rc" = 4 ] && grep_out -q "encryption is not on" && ok "keys without encryption: exit 4, says so" ||
	no "keys, encryption off ($rc)" "$out"
keys_conf "encryption = true"$'\n'
out=$("$BIN" keys --config "$T/keys/conf.ini" 2>&1); rc=$?
[ "$rc" = 4 ] && grep_out -q "conf.ini:6: \[matrix\] encryption = true needs pickle_key_file or pickle_key_env" &&
	ok "keys, encryption on without a pickle key: exit 4 with the line" || no "keys, no pickle key ($rc)" "$out"
head -c 32 /dev/urandom | base64 >"$T/keys/pk" && chmod 644 "$T/keys/pk"
keys_conf "encryption = true"$'\n'"pickle_key_file = $T/keys/pk"$'\n'
out=$("$BIN" keys --config "$T/keys/conf.ini" 2>&1); rc=$?
[ "$rc" = 4 ] && grep_out -q "can be read by others" && ok "keys: a pickle key others can read is refused (exit 4)" ||
	no "keys, key mode ($rc)" "$out"
chmod 600 "$T/keys/pk"
out=$("$BIN" keys --config "$T/keys/conf.ini" 2>&1); rc=$?
[ "$rc" = 1 ] && grep_out -q "no device identity in $T/keys/state/olm_account yet" &&
	ok "keys before the first start: no identity yet, exit 1" || no "keys, no identity ($rc)" "$out"
printf '{"account":"QUJD","device_id":"D","fallback":false,"shared":true,"user_id":"@bot:h.example","version":1}' \
	>"$T/keys/state/olm_account"
out=$("$BIN" keys --config "$T/keys/conf.ini" 2>&1); rc=$?
[ "$rc" = 4 ] && grep_out -q "$T/keys/state/olm_account is damaged\|$T/keys/state/olm_account does not open" &&
	ok "keys: a damaged identity is exit 4, naming the file" || no "keys, damaged ($rc)" "$out"
printf 'not json' >"$T/keys/state/olm_account"
out=$("$BIN" keys --config "$T/keys/conf.ini" 2>&1); rc=$?
[ "$rc" = 4 ] && grep_out -q "$T/keys/state/olm_account is not a faqbot Olm account" && grep_out -q backup &&
	ok "keys: a file that is no account is exit 4, naming it and the way back" || no "keys, not an account ($rc)" "$out"
# --explain names the stage
out=$("$BIN" ask --explain "wanna d1e tbh" 2>&1)
grep_out -q "decided by a pattern of 'crisis-self' at faq/crisis-self.yml:[0-9]*:[0-9]*, read in the folded view" &&
	ok "ask --explain: a pattern, where, and the folded view" || no "explain pattern" "$out"
# typed in a hurry: slips of words of risk mended, for a crisis only
out=$("$BIN" ask --explain "cuting agan, cnt stp" 2>&1)
grep_out -q "decided by a pattern of 'crisis-self-harm' .*, read with misspelt words mended" &&
	ok "ask --explain: a crisis typed with slips, read in the mended view" || no "mended view" "$out"
out=$("$BIN" ask --json "had a coffe and a chat with my nieghbour" 2>&1)
grep_out -q '"kind":"none"' &&
	ok "slips in everyday chat change nothing" || no "mended chat" "$out"
out=$("$BIN" ask --json --explain "hello everyone, lovely weather" 2>&1)
grep_out -q '"explain":"no pattern matched; the learned stage: crisis 0\.[0-9]*' &&
	ok "ask --json --explain: the learned stage's probabilities" || no "explain model" "$out"
# check prints the learned stage's cross-validated figures
out=$("$BIN" check faq 2>&1)
grep_out -qE '^  crisis: raised at 0\.[0-9]+: recall 0\.[0-9]+, false alarm 0\.0[0-5][0-9]* in English, 0\.[0-9]+ in all$' &&
	grep_out -qE '^  crisis over an advice or FAQ pattern.s answer at 0\.[0-9]+$' &&
	ok "check prints the cross-validated crisis figures" || no "check figures" "$out"

# a command that did its work exits 0 (the scorer reads the status)
"$BIN" ask "what is tms" >/dev/null 2>&1; r1=$?
echo '{"text":"what is tms"}' | "$BIN" ask --json - >/dev/null 2>&1; r2=$?
"$BIN" topics >/dev/null 2>&1; r3=$?
printf 'hello\n' | "$BIN" chat >/dev/null 2>&1; r4=$?
[ "$r1:$r2:$r3:$r4" = "0:0:0:0" ] && ok "ask, ask --json -, topics and chat exit 0 when they answered" ||
	no "exit status of ask, ask --json -, topics, chat: $r1:$r2:$r3:$r4"
# the console's last reply ends its line, so the shell prompt starts on one
# of its own
printf 'what is tms?\n' | "$BIN" chat >"$T/last" 2>/dev/null
[ -s "$T/last" ] && [ "$(tail -c1 "$T/last" | od -An -c | tr -d ' ')" = '\n' ] &&
	ok "the console ends its last reply with a newline" || no "console's last newline" "$(tail -c 80 "$T/last" | od -c | tail -3)"
# check and run count the entries alike
nc=$("$BIN" check faq 2>&1 | sed -n 's/^faq: ok: \([0-9]*\) entries.*/\1/p')
printf '[irc]\nhost = 127.0.0.1\nport = 1\nnick = x\nchannels = #a\ntls = false\n' > "$T/count.ini"
"$BIN" run --config "$T/count.ini" > "$T/count.log" 2>&1 &
cpid=$!
for _ in $(seq 1 600); do grep -q ' start faq=' "$T/count.log" && break; sleep 0.1; done
kill "$cpid" 2>/dev/null; wait "$cpid" 2>/dev/null
nr=$(sed -n 's/.* start faq=[^ ]* entries=\([0-9]*\) .*/\1/p' "$T/count.log")
[ -n "$nc" ] && [ "$nc" = "$nr" ] && ok "check and run count the same $nc entries" ||
	no "entry counts: check '$nc', run '$nr'" "$(cat "$T/count.log")"

. tests/docs.sh

echo "# $n checks, $bad failed"
[ $bad -eq 0 ]
