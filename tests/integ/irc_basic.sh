#!/usr/bin/env bash
# irc_basic.sh -- the IRC transport against a real ngircd on loopback (plain
# TCP): nick collision, joins with a key, addressing, private messages,
# NOTICE and CTCP, formatting, a long answer split within 512 bytes, the
# crisis alert without the message text, a burst of 50 questions under flood
# control, a server restart, and SIGTERM.
. "$(dirname "$0")/irc_lib.inc"

need_ngircd
build_driver || { echo "# could not build the driver"; exit 1; }
start_ircd

# Someone already holds "faqbot": the bot must fall back to "faqbot_".
# exec: $! is python itself, so cleanup's kill reaches it
(cd "$T" && PORT=$PORT T=$T exec python3 -c '
import os, time
from ircc import Client
c = Client(int(os.environ["PORT"]), "faqbot")
c.join("#support")
open(os.environ["T"] + "/squatter.joined", "w").close()
time.sleep(120)
' >"$T/squatter.log" 2>&1) &
EXTRA_PIDS+=($!)
# the squatter registers first
wait_for 20 test -e "$T/squatter.joined" || { echo "# the squatter did not register"; exit 1; }

start_bot --nick faqbot --chan '#support' --chan '#keyed,sekrit' --mod mod \
	--burst 4 --interval-ms 500 --backoff-min-ms 500 --backoff-max-ms 2000
BOT=faqbot_
export BOT

scenario "nick collision: the bot falls back to faqbot_ and joins #support and the keyed channel" <<'PY'
c = Client(PORT, "watcher")
ok = False
for _ in range(100):
    a = c.names("#support"); b = c.names("#keyed")
    if BOT in a and BOT in b:
        ok = True
        break
    time.sleep(0.1)
print("names #support:", a, "#keyed:", b)
c.close()
sys.exit(0 if ok else 1)
PY

scenario "an addressed question in a channel is answered in the channel" <<'PY'
c = Client(PORT, "ann"); c.join("#support")
c.send("PRIVMSG #support :%s: how long do antidepressants take #1?" % BOT)
m = c.wait(from_bot(BOT), 10)
print("got:", m and m["params"])
sys.exit(0 if m and m["params"][0] == "#support" and "ANSWER #1" in m["params"][1] else 1)
PY

scenario "an unaddressed question and a NOTICE are not answered; a later addressed one is" <<'PY'
c = Client(PORT, "bea"); c.join("#support")
c.send("PRIVMSG #support :does anyone know about ketamine #2?")
c.send("NOTICE #support :%s: a notice question #3?" % BOT)
c.send("NOTICE %s :a private notice question #4?" % BOT)
time.sleep(1.5)
c.send("PRIVMSG #support :%s, and this one #5?" % BOT)
m = c.wait(lambda m: m["nick"] == BOT and m["cmd"] in ("PRIVMSG", "NOTICE"), 10)
print("first from the bot:", m and m["params"])
sys.exit(0 if m and "ANSWER #5" in m["params"][1] else 1)
PY

scenario "a private message is answered privately; CTCP VERSION gets a NOTICE, PING nothing" <<'PY'
c = Client(PORT, "cal")
c.send("PRIVMSG %s :\x01PING 123\x01" % BOT)
c.send("PRIVMSG %s :\x01VERSION\x01" % BOT)
v = c.wait(lambda m: m["nick"] == BOT, 10)
print("first:", v and v["cmd"], v and v["params"])
c.send("PRIVMSG %s :what is TRD #6?" % BOT)
m = c.wait(lambda m: m["nick"] == BOT, 10)
print("then:", m and m["params"])
sys.exit(0 if v and v["cmd"] == "NOTICE" and v["params"][1].startswith("\x01VERSION")
         and m and m["cmd"] == "PRIVMSG" and m["params"][0] == "cal"
         and "ANSWER #6" in m["params"][1] else 1)
PY

scenario "mIRC formatting is stripped before the handler (a bold, coloured address)" <<'PY'
c = Client(PORT, "dee"); c.join("#support")
c.send("PRIVMSG #support :\x02%s\x02: \x0304,01is this\x03 \x1funderlined #7?\x1f" % BOT)
m = c.wait(from_bot(BOT), 10)
print("got:", m and m["params"])
sys.exit(0 if m and "ANSWER #7" in m["params"][1] else 1)
PY

scenario "a long answer: several lines, each within 512 bytes, intact when joined" <<'PY'
c = Client(PORT, "eve"); c.join("#support")
c.send("PRIVMSG #support :%s: the LONG answer please?" % BOT)
got = []
while True:
    m = c.wait(from_bot(BOT), 15)
    if m is None:
        break
    got.append(m)
    if m["params"][1].endswith("END-OF-LONG"):
        break
sizes = [len(m["raw"]) + 2 for m in got]
text = " ".join(m["params"][1] for m in got)
print("lines:", len(got), "sizes:", sizes)
ok = len(got) >= 3 and max(sizes) <= 512 and text.endswith("END-OF-LONG") \
    and text.startswith("This is the long answer") and "caf\u00e9, na\u00efve" in text \
    and "  " not in text
sys.exit(0 if ok else 1)
PY

scenario "a crisis: the reply in the channel, an alert to the moderator naming channel and nick, no message text" <<'PY'
mod = Client(PORT, "mod")
c = Client(PORT, "fay"); c.join("#support")
c.send("PRIVMSG #support :CRISIS secretwords I cannot go on")
r = c.wait(from_bot(BOT), 10)
a = mod.wait(from_bot(BOT), 10)
print("reply:", r and r["params"]); print("alert:", a and a["params"])
ok = r and r["params"][0] == "#support" and a and a["params"][0] == "mod" \
    and "#support" in a["params"][1] and "fay" in a["params"][1] \
    and "secretwords" not in a["params"][1] and "CRISIS" not in a["params"][1] \
    and "cannot" not in a["params"][1]
sys.exit(0 if ok else 1)
PY

scenario "a burst of 50 addressed questions: every one answered, under flood control" <<'PY'
c = Client(PORT, "gus"); c.join("#support")
t0 = time.time()
for i in range(100, 150):
    c.send("PRIVMSG #support :%s: burst question #%d?" % (BOT, i))
    time.sleep(0.05)
seen, times = set(), []
while len(seen) < 50:
    m = c.wait(from_bot(BOT), 20)
    if m is None:
        break
    times.append(time.time())
    for i in range(100, 150):
        if "ANSWER #%d:" % i in m["params"][1]:
            seen.add(i)
span = times[-1] - times[0] if times else 0
print("answered %d of 50 in %.1f s (first to last answer %.1f s)" % (len(seen), time.time() - t0, span))
# 4 at once, then one each 500 ms: 46 more take at least ~20 s
sys.exit(0 if len(seen) == 50 and span > 18 else 1)
PY

check "the bot stayed connected through the burst (one connection so far)" \
	test "$(grep -c 'irc: connected to' "$T/bot.log")" = 1

# The server restarts: the bot must reconnect, register and rejoin.
stop_ircd
# the bot has seen the server go before the new one comes
wait_for 10 grep -q "irc: reconnecting in" "$T/bot.log"
start_ircd
scenario "server restart: the bot reconnects, rejoins and answers" <<'PY'
c = Client(PORT, "hal"); c.join("#support")
bot = None
for _ in range(150):
    names = c.names("#support")
    bot = next((n for n in names if n.startswith("faqbot")), None)
    if bot:
        break
    time.sleep(0.1)
print("bot in #support after the restart:", bot)
if not bot:
    sys.exit(1)
c.send("PRIVMSG #support :%s: still there #8?" % bot)
m = c.wait(from_bot(bot), 10)
print("got:", m and m["params"])
sys.exit(0 if m and "ANSWER #8" in m["params"][1] else 1)
PY

check "the restart was a new connection (two so far)" \
	test "$(grep -c 'irc: connected to' "$T/bot.log")" = 2

stop_bot
check "SIGTERM: the bot exits 0 within 2 s (took ${STOP_MS} ms)" \
	test "$STOP_RC" = 0 -a "$STOP_MS" -lt 2000
check "the bot never logged a member's words" \
	bash -c "! grep -qE 'secretwords|burst question|ketamine' '$T/bot.log'"
finish
