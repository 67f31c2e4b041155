#!/usr/bin/env bash
# irc_crisis.sh -- a crisis does not wait behind FAQ answers: against a
# real ngircd,
#   1. five members ask 50 questions at once; once the bot has classified
#      them all and the first answers are out (so some 45 wait under flood
#      control, one line each 500 ms), a member writes a crisis: the crisis
#      reply reaches the channel, and the alert the moderator, while most of
#      the answers still wait; every answer still comes, once;
#   2. a crisis in a channel where a long answer is under way (one line each
#      2 s, no burst): the alert to the moderator goes at the next line, the
#      crisis reply right after the long answer's last line, not between
#      its lines.
# The moments are conditions (answers heard, the driver's "answering #N"
# lines); the delays printed are measurements, not checks.
. "$(dirname "$0")/irc_lib.inc"

need_ngircd
build_driver || { echo "# could not build the driver"; exit 1; }
start_ircd
start_listener mod '#support' "$T/heard.log"
start_bot --nick faqbot --chan '#support' --mod mod --burst 4 --interval-ms 500 \
	--backoff-min-ms 300 --backoff-max-ms 1000
in_channel() { grep -q "irc: joined #support" "$T/bot.log"; }
check "the bot joins #support" wait_for 20 in_channel

scenario "a crisis behind a 50-question burst is answered before the queued answers" <<'PY'
import re
def classified(n):
    log = open("bot.log", errors="replace").read()
    return len(set(re.findall(r"driver: answering #(\d+)\n", log))) >= n
askers = [Client(PORT, "asker%d" % k) for k in range(5)]
for a in askers:
    a.join("#support")
# five members, ten questions each: ngircd throttles each member's input,
# not the five together
for i in range(50):
    askers[i % 5].send("PRIVMSG #support :%s: burst question #%d?" % (BOT, 100 + i))
end = time.time() + 60
while not classified(50) and time.time() < end:
    time.sleep(0.1)
heard = lambda: [l.split("\t") for l in open("heard.log").read().splitlines()]
answers = lambda: [x for t, s, x in heard() if s == BOT and x.startswith("ANSWER #")]
before = len(answers())
print("all 50 classified:", classified(50), "- answers already out:", before)
c = Client(PORT, "fay"); c.join("#support")
t0 = time.time()
c.send("PRIVMSG #support :CRISIS secretwords I cannot go on")
r = c.wait(lambda m: from_bot(BOT)(m) and m["params"][1].startswith("You matter"), 30)
t1 = time.time()
at_crisis = len(answers())
# the alert travels to the moderator's own connection: wait for it there (a
# condition with a timeout), and count how many answers were out by then
alert_of = lambda: [x for t, s, x in heard() if t == "mod" and x.startswith("Crisis alert: fay")]
end = time.time() + 30
while not alert_of() and time.time() < end:
    time.sleep(0.05)
alert = alert_of()
at_alert = len(answers())
print("crisis reply %.1f ms after the crisis, with %d of 50 answers out (%d when it came)"
      % ((t1 - t0) * 1000, at_crisis, before))
# every answer still comes, once
end = time.time() + 60
while len(answers()) < 50 and time.time() < end:
    time.sleep(0.2)
nums = [int(re.match(r"ANSWER #(\d+):", x).group(1)) for x in answers()]
print("answers heard: %d, distinct %d, the alert heard: %s" % (len(nums), len(set(nums)), bool(alert)))
print("the alert heard with %d of 50 answers out" % at_alert)
ok = r is not None and classified(50) and before < 50 and at_crisis <= 40 and alert \
    and at_alert <= 45 \
    and sorted(nums) == list(range(100, 150))
sys.exit(0 if ok else 1)
PY
stop_bot
check "SIGTERM: exit 0 (${STOP_MS} ms)" test "$STOP_RC" = 0 -a "$STOP_MS" -lt 2000

# 2. a long answer under way, then a crisis in the same channel
: >"$T/heard.log"
start_bot --nick faqbot --chan '#support' --mod mod --burst 1 --interval-ms 2000 \
	--backoff-min-ms 300 --backoff-max-ms 1000
joined_twice() { [ "$(grep -c "irc: joined #support" "$T/bot.log")" -ge 2 ]; }
check "the bot joins #support again" wait_for 20 joined_twice
scenario "a crisis waits for the end of a long answer in its channel, the alert does not" <<'PY'
a = Client(PORT, "eve"); a.join("#support")
c = Client(PORT, "cal"); c.join("#support")
a.send("PRIVMSG #support :%s: the LONG answer please?" % BOT)
first = a.wait(from_bot(BOT), 20)
c.send("PRIVMSG #support :CRISIS secretwords now")
end = time.time() + 30
while time.time() < end:
    seen = [l.split("\t") for l in open("heard.log").read().splitlines()]
    if any(x.startswith("You matter") for t, s, x in seen):
        break
    time.sleep(0.1)
order = []
for t, s, x in seen:
    if s != BOT:
        continue
    kind = "crisis" if x.startswith("You matter") else "alert" if x.startswith("Crisis alert") \
        else "long-end" if x.endswith("END-OF-LONG") else "long"
    order.append(kind)
print("the bot's lines in order:", order)
i_alert, i_crisis = order.index("alert"), order.index("crisis")
i_end = order.index("long-end")
sys.exit(0 if first and 0 < i_alert < i_end < i_crisis and i_crisis == len(order) - 1 else 1)
PY
stop_bot
check "SIGTERM: exit 0 (${STOP_MS} ms)" test "$STOP_RC" = 0 -a "$STOP_MS" -lt 2000
check "the bot never logged a member's words" \
	bash -c "! grep -qE 'secretwords|burst question' '$T/bot.log'"
finish
