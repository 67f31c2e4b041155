#!/usr/bin/env bash
# irc_tick.sh -- the rest of the transport contract over a real ngircd on
# loopback: the core's tick (the one loop's, loop.h) runs at least every second and
# at once when woken by the flag (a signal) or by the wake pipe, and its
# notice reaches the moderator by NOTICE; a notice given while the server
# is down waits for the next registration; a reply's mention addresses the
# first line only ("carol: ..."), and one that is not a nick is ignored; a
# reply's mod_text reaches the moderator; without account-tag (ngircd has
# none) sender_account is NULL and sender_power -1; a wake fd that is not
# open is dropped with one warning instead of waking every poll.
. "$(dirname "$0")/irc_lib.inc"

need_ngircd
build_driver || { echo "# could not build the driver"; exit 1; }
start_ircd

# the moderator first, so that every notice has someone to reach
(cd "$T" && PORT=$PORT T=$T exec python3 -u -c '
import os, time
from ircc import Client
c = Client(int(os.environ["PORT"]), "mod")
open(os.environ["T"] + "/mod.ready", "w").close()
while True:
    for m in c.collect(0.2, lambda m: m["cmd"] == "NOTICE" and m["nick"] == "faqbot"):
        print("%.3f %s" % (time.time(), m["params"][1]), flush=True)
' >"$T/mod.log" 2>&1) &
MOD_PID=$!
EXTRA_PIDS+=($MOD_PID)
# registered before the bot starts, so every notice has someone to reach
wait_for 20 test -e "$T/mod.ready" || { echo "# the moderator did not register"; exit 1; }

T0=$(date +%s%N)
start_bot --nick faqbot --chan '#support' --mod mod --tick 1 --burst 4 --interval-ms 200 \
	--backoff-min-ms 5000 --backoff-max-ms 8000
export BOT=faqbot BOT_PID T

scenario "the bot registers and joins #support" <<'PY'
c = Client(PORT, "watcher")
sys.exit(0 if c.sees("#support", BOT) else 1)
PY

scenario "a woken tick (flag set by a signal, then the wake pipe) notices the moderator at once" <<'PY'
import signal
pid = int(os.environ["BOT_PID"])
def notices():
    return [l.split(" ", 1) for l in open(os.environ["T"] + "/mod.log").read().splitlines()]
lat = {"flag": [], "fd": []}
for k in range(10):
    kind = "flag" if k % 2 == 0 else "fd"
    time.sleep(0.37)  # not in step with the 1 s timer
    before = len(notices())
    t0 = time.time()
    os.kill(pid, signal.SIGUSR1 if kind == "flag" else signal.SIGUSR2)
    for _ in range(300):
        n = notices()
        if len(n) > before:
            break
        time.sleep(0.01)
    n = notices()
    if len(n) <= before or not n[-1][1].endswith(kind):
        print("no %s notice (got %r)" % (kind, n[before:]))
        sys.exit(1)
    lat[kind].append((float(n[-1][0]) - t0) * 1000)
for kind in lat:
    xs = sorted(lat[kind])
    print("%s: latencies %s ms" % (kind, " ".join("%.0f" % x for x in xs)))
# a timer-only tick (1 s) would give a median near 500 ms
sys.exit(0 if all(sorted(xs)[2] < 300 for xs in lat.values()) else 1)
PY

scenario "a mention addresses the first line only; one that is no nick, or the bot, is ignored" <<'PY'
c = Client(PORT, "carol"); c.join("#support")
c.send("PRIVMSG #support :%s: MENTION @carol is it ok #8?" % BOT)
a = c.wait(from_bot(BOT), 10)
c.send("PRIVMSG #support :%s: MENTION bad,nick:x is it ok #9?" % BOT)
b = c.wait(from_bot(BOT), 10)
c.send("PRIVMSG #support :%s: MENTION %s is it ok #10?" % (BOT, BOT))
d = c.wait(from_bot(BOT), 10)
c.send("PRIVMSG #support :%s: MENTION dave the LONG one" % BOT)
lines = []
while True:
    m = c.wait(from_bot(BOT), 10)
    if m is None:
        break
    lines.append(m["params"][1])
    if lines[-1].endswith("END-OF-LONG"):
        break
for m in (a, b, d):
    print("got:", m and m["params"][1])
print("long:", len(lines), "lines; first:", lines[:1])
sys.exit(0 if a and a["params"][1].startswith("carol: ANSWER #8")
         and b and b["params"][1].startswith("ANSWER #9")
         and d and d["params"][1].startswith("ANSWER #10")
         and len(lines) >= 3 and lines[0].startswith("dave: This is the long answer")
         and not any(l.startswith("dave:") for l in lines[1:]) else 1)
PY

scenario "a reply's mod_text reaches the moderator by NOTICE; the asker gets the answer" <<'PY'
c = Client(PORT, "erin"); c.join("#support")
before = open(os.environ["T"] + "/mod.log").read().count("from the handler")
c.send("PRIVMSG #support :%s: MODTEXT what now #11?" % BOT)
m = c.wait(from_bot(BOT), 10)
ok = False
for _ in range(100):
    if open(os.environ["T"] + "/mod.log").read().count("from the handler") > before:
        ok = True
        break
    time.sleep(0.05)
print("answer:", m and m["params"][1], "; notice to mod:", ok)
sys.exit(0 if ok and m and "ANSWER #11" in m["params"][1] else 1)
PY

scenario "without account-tag, sender_account is NULL and sender_power -1" <<'PY'
c = Client(PORT, "fay")
c.send("PRIVMSG %s :WHOAMI" % BOT)
m = c.wait(from_bot(BOT), 10)
print("got:", m and m["params"][1])
sys.exit(0 if m and m["params"][1] == "ACCOUNT=(none) POWER=-1" else 1)
PY

# a notice while the server is down waits for the next registration
stop_ircd
kill -USR1 "$BOT_PID"
sleep 0.3
start_ircd
kill "$MOD_PID" 2>/dev/null
wait "$MOD_PID" 2>/dev/null
(cd "$T" && PORT=$PORT exec python3 -u -c '
import os, time
from ircc import Client
c = Client(int(os.environ["PORT"]), "mod")
while True:
    for m in c.collect(0.2, lambda m: m["cmd"] == "NOTICE" and m["nick"] == "faqbot"):
        print("%.3f %s" % (time.time(), m["params"][1]), flush=True)
' >"$T/mod2.log" 2>&1) &
EXTRA_PIDS+=($!)
check "a tick's notice given while the server was down reaches the moderator after the reconnect" \
	wait_for 20 grep -q "TICK .* flag" "$T/mod2.log"

stop_bot
T1=$(date +%s%N)
secs=$(((T1 - T0) / 1000000000))
ticks=$(sed -n 's/.*ticks=\([0-9]*\).*/\1/p' "$T/bot.log" | tail -1)
check "timed ticks at least every second, connected or not (${ticks:-?} ticks in ${secs} s)" \
	test "${ticks:-0}" -ge $((secs * 9 / 10 - 1))
check "and not in a busy loop (${ticks:-?} ticks in ${secs} s)" \
	test "${ticks:-0}" -le $((secs * 12 + 30))
check "SIGTERM: exit 0 within 2 s (${STOP_MS} ms)" test "$STOP_RC" = 0 -a "$STOP_MS" -lt 2000

# a wake fd that is not open: one warning, then timed ticks only
"$DRIVER" --host 127.0.0.1 --port "$PORT" --nick faqbot2 --tick 2 >"$T/bot2.log" 2>&1 &
BOT_PID=$!
sleep 3
stop_bot
ticks=$(sed -n 's/.*ticks=\([0-9]*\).*/\1/p' "$T/bot2.log" | tail -1)
check "a wake fd that is not open: one warning, then no spin (${ticks:-?} ticks in 3 s)" \
	bash -c "[ \"\$(grep -c 'wake fd 1000 is not open' '$T/bot2.log')\" = 1 ] && [ ${ticks:-99} -le 8 ]"
cat "$T/bot2.log" >>"$T/bot.log"
finish
