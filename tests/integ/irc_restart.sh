#!/usr/bin/env bash
# irc_restart.sh -- replies survive a kill -9 (the reply journal): against a
# real ngircd, a member asks 10 questions in a burst; the bot answers under
# a slow flood control (one line each 10 s), so once the first answer is in
# the channel and every question is classified, 9 answers wait in the
# queue; a crisis then comes in (its reply and alert queued ahead of them),
# and the bot is killed with SIGKILL before the next token. Checked:
#   - the journal (mode 0600) holds the waiting answers and the crisis
#     reply, never a member's words;
#   - a garbage line, a torn last line and a reply 10 minutes old put in
#     the journal cost those lines only;
#   - restarted, the bot sends the crisis reply and the alert first, then
#     the 9 answers: each of the 10 answers reached the channel exactly
#     once (not twice, not zero times), the old reply never;
#   - the journal is emptied once everything is sent.
# The moments are conditions the script watches (the first answer heard,
# the driver's "answering #N" lines), never guessed delays.
. "$(dirname "$0")/irc_lib.inc"

need_ngircd
build_driver || { echo "# could not build the driver"; exit 1; }
start_ircd
STATE=$T/state
J=$STATE/irc_journal
export STATE J

start_listener mod '#support' "$T/heard.log"
start_bot --nick faqbot --chan '#support' --mod mod --burst 1 --interval-ms 10000 \
	--backoff-min-ms 300 --backoff-max-ms 1000 --state-dir "$STATE"
answers() { grep -c $'^#support\tfaqbot\tANSWER #' "$T/heard.log"; }
in_channel() { grep -q "irc: joined #support" "$T/bot.log"; }
check "the bot joins #support" wait_for 20 in_channel

# classified(N...): the driver has logged an answer to each question N
cat >"$T/classified.py" <<'PY'
import sys, time
def classified(nums, timeout):
    """until the bot's log says each question was answered (queued)"""
    end = time.time() + timeout
    while time.time() < end:
        log = open("bot.log", errors="replace").read()
        if all(("driver: answering #%s\n" % n) in log or ("driver: answering #%s " % n) in log
               for n in nums):
            return True
        time.sleep(0.1)
    return False
PY
# The member stays connected until the bot has every question: ngircd
# throttles a member's input, and would drop what it still holds at a QUIT.
scenario "a burst of 10 addressed questions, every one classified" <<'PY'
from classified import classified
c = Client(PORT, "ann"); c.join("#support")
for i in range(1, 11):
    c.send("PRIVMSG #support :%s: secretq question number #%d?" % (BOT, i))
ok = classified(range(1, 11), 60)
c.close()
sys.exit(0 if ok else 1)
PY
check "the first answer reaches the channel" wait_for 30 bash -c "grep -q $'\tANSWER #' '$T/heard.log'"

# the crisis from another member, whose input ngircd has not throttled
scenario "a crisis while answers wait, classified" <<'PY'
from classified import classified
c = Client(PORT, "cara"); c.join("#support")
c.send("PRIVMSG #support :CRISIS secretwords I cannot go on #77")
sys.exit(0 if classified([77], 30) else 1)
PY
{
	kill -9 "$BOT_PID"
	wait "$BOT_PID"
} 2>/dev/null
BOT_PID=""
heard_before=$(answers)
check "killed with some answers sent and some waiting ($heard_before of 10 heard)" \
	test "$heard_before" -ge 1 -a "$heard_before" -lt 10
check "the crisis reply had not gone out before the kill" \
	bash -c "! grep -q 'You matter' '$T/heard.log'"
check "the journal is mode 0600" test "$(stat -c %a "$J")" = 600
check "the journal holds the waiting answers, the crisis reply and the alert" \
	bash -c "grep -q 'ANSWER #10' '$J' && grep -q 'You matter' '$J' && grep -q 'Crisis alert: cara' '$J'"
check "the journal holds no member's words" bash -c "! grep -qE 'secretq|secretwords|cannot go on' '$J'"
cp "$J" "$T/journal.at-kill"

# damage: a garbage line, a reply 10 minutes old, and a torn last line
python3 - "$J" <<'PY'
import sys, time
def fnv(b):
    h = 2166136261
    for c in b:
        h = ((h ^ c) * 16777619) & 0xffffffff
    return h
def entry(i, ms, kind, target, text):
    body = ("A %d %d %s PRIVMSG %s %s" % (i, ms, kind, target, text)).encode()
    return b"%08x " % fnv(body) + body + b"\n"
with open(sys.argv[1], "ab") as f:
    f.write(b"this line is no entry at all\n")
    f.write(entry(900000, int(time.time() * 1000) - 600000, "faq", "#support", "OLD-REPLY from 10 minutes ago"))
    f.write(entry(900001, int(time.time() * 1000), "faq", "#support", "TORN")[:30])
PY

start_bot --nick faqbot --chan '#support' --mod mod --burst 2 --interval-ms 300 \
	--backoff-min-ms 300 --backoff-max-ms 1000 --state-dir "$STATE"
check "restarted: the journal's damaged lines are skipped and said" \
	wait_for 20 grep -q "the reply journal had 2 unreadable lines (the last one torn by a crash)" "$T/bot.log"
to_send=$((10 - heard_before + 2)) # the answers waiting, the crisis reply, the alert
check "the journal's $to_send replies are queued, the old one dropped as too old" \
	wait_for 20 grep -q "irc: the journal kept $((to_send + 1)) replies from the last run: $to_send to send, 1 too old" "$T/bot.log"
all_heard() { [ "$(answers)" -ge 10 ]; }
check "every answer reaches the channel" wait_for 60 all_heard

scenario "a question after the restart is answered after the replayed ones" <<'PY'
c = Client(PORT, "ann"); c.join("#support")
c.send("PRIVMSG #support :%s: one more #99?" % BOT)
m = c.wait(lambda m: from_bot(BOT)(m) and "ANSWER #99" in m["params"][1], 60)
print("got:", m and m["params"])
sys.exit(0 if m else 1)
PY
echo "# what the channel and the moderator saw from the bot, in order:"
grep -n $'\tfaqbot\t' "$T/heard.log" | cut -c1-70 | sed 's/^/#   /'
check_counts() {
	python3 - "$T/heard.log" "$heard_before" <<'PY'
import re, sys
lines = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])]
before = int(sys.argv[2])
bot = [(t, x) for t, s, x in lines if s == "faqbot"]
counts = {}
for t, x in bot:
    m = re.match(r"ANSWER #(\d+):", x)
    if m and t == "#support":
        counts[int(m.group(1))] = counts.get(int(m.group(1)), 0) + 1
ok = all(counts.get(i) == 1 for i in range(1, 11)) and counts.get(99) == 1
print("# answers heard:", sorted(counts.items()))
# after the kill: the crisis reply and the alert come before any FAQ answer
after = bot[before:]
first_faq = next((i for i, (t, x) in enumerate(after) if x.startswith("ANSWER")), len(after))
crisis = [i for i, (t, x) in enumerate(after) if x.startswith("You matter")]
alert = [i for i, (t, x) in enumerate(after) if t == "mod" and x.startswith("Crisis alert: cara")]
print("# after the restart: crisis reply at", crisis, "alert at", alert, "first answer at", first_faq)
ok = ok and len(crisis) == 1 and len(alert) == 1 and crisis[0] < first_faq and alert[0] < first_faq
ok = ok and not any("OLD-REPLY" in x or "TORN" in x for t, x in bot)
sys.exit(0 if ok else 1)
PY
}
check "each of the 10 answers once, the crisis reply and alert first, never the old reply" check_counts
journal_empty() { [ -f "$J" ] && [ ! -s "$J" ]; }
check "the journal is empty once everything is sent" wait_for 20 journal_empty
stop_bot
check "SIGTERM: exit 0 within 2 s (${STOP_MS} ms)" test "$STOP_RC" = 0 -a "$STOP_MS" -lt 2000

# a journal that cannot be opened costs its protection, never the start
rm -f "$J"
mkdir "$J"
start_bot --nick faqbot --chan '#support' --burst 2 --interval-ms 300 --state-dir "$STATE"
check "an unusable journal (a folder in its place): said, and the bot starts" \
	wait_for 20 grep -q "running without the reply journal" "$T/bot.log"
scenario "and answers" <<'PY'
c = Client(PORT, "ann"); c.join("#support")
c.sees("#support", BOT)
c.send("PRIVMSG #support :%s: without a journal #98?" % BOT)
m = c.wait(lambda m: from_bot(BOT)(m) and "ANSWER #98" in m["params"][1], 20)
print("got:", m and m["params"])
sys.exit(0 if m else 1)
PY
stop_bot
check "the bot never logged a member's words" \
	bash -c "! grep -qE 'secretq|secretwords|cannot go on' '$T/bot.log'"
finish
