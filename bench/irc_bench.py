"""bench/irc_bench.py -- the IRC figures of `make bench` (run by irc_bench.sh).

Needs $T/ircc.py (written by tests/integ/irc_lib.inc), PORT, BOT, N, BURST,
FLOOD_BURST and FLOOD_INTERVAL_MS (the bot's settings; 0: its defaults).
Prints "irc: ..." lines; exit 1 on a failure (a message to stderr).

Relay and reply are measured alike, so they can be compared: the same
clock (this process's perf_counter), the same points (just before the
line is sent, to the receipt of the first line that matches), the same
receiving member (bob), interleaved in one loop. A reply is matched by the
text of its first line, learned from a warm-up answer, and each answer is
read to its last line before the next question.

Why an earlier version showed a relay slower than the bot's reply:
  - it counted lines, and took an answer's length from a 4 s window, but
    ngircd's own throttle (one line a second after a burst) pushed the
    fifth line past it; from then on every "first line" was the previous
    answer's last one, already waiting in the socket (0.18 ms: a read);
  - it relayed through the bot's channel, where the bot wakes for every
    line and competes for the two cores (0.6 ms there, 0.2 ms without).
Once the figures were honest a third thing showed: a question right
behind another channel line waited 40 ms for the bot's delayed ACK (the
server leaves Nagle on); irc.c now acknowledges at once (TCP_QUICKACK)."""
import os, sys, time
sys.path.insert(0, os.environ["T"])
from ircc import Client

PORT, BOT = int(os.environ["PORT"]), os.environ.get("BOT", "faqbot")
N, BURST = int(os.environ.get("N", "500")), int(os.environ.get("BURST", "50"))
FB = int(os.environ.get("FLOOD_BURST", "0")) or 4
FI = (int(os.environ.get("FLOOD_INTERVAL_MS", "0")) or 2000) / 1000.0
CHAN = "#bench"
# the relay goes through a channel the bot is not in: in #bench the bot
# wakes for every line and competes with the server and the members for
# this machine's two cores (the relay measured 0.6 ms there, 0.2 ms here)
RCHAN = "#relay"
Q = "%s: what is tms? (%%d)" % BOT

def die(msg):
    print("irc bench: " + msg, file=sys.stderr)
    sys.exit(1)

def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100.0 * (len(xs) - 1))))]

def from_bot(m):
    return m["cmd"] == "PRIVMSG" and m["nick"].lower() == BOT.lower()

def bot_left(m):
    return m["nick"].lower() == BOT.lower() and m["cmd"] in ("QUIT", "PART", "KICK")

alice, bob = Client(PORT, "alice"), Client(PORT, "bob")
for c in (alice, bob):
    c.join(CHAN)
    c.join(RCHAN)
deadline = time.time() + 30
while BOT.lower() not in [n.lower() for n in bob.names(CHAN)]:
    if time.time() > deadline:
        die("the bot did not join %s within 30 s" % CHAN)
    time.sleep(0.2)

def drain():
    """read what waits (and answer PINGs) without blocking"""
    alice.collect(0.002)
    bob.collect(0.002)

# warm-up: the answer's lines, to know its first and last line
bob.send("PRIVMSG %s :%s" % (CHAN, Q % 0))
first = bob.wait(from_bot, 15)
if first is None:
    die("no answer from the bot to %r within 15 s" % (Q % 0))
# lines come FI apart once the bucket is spent: 2 intervals of silence end it
rest = []
while True:
    more = bob.collect(2 * FI + 1.0, from_bot)
    if not more:
        break
    rest += more
FIRST, LAST, L = first["params"][1], (rest or [first])[-1]["params"][1], 1 + len(rest)
# after an answer, wait for the bucket to hold an answer's worth again, so
# the first line of the next never waits for a token
PACE = L * FI * 1.2 + 0.01
time.sleep(PACE)

def relay(i):
    text = "relay %d" % i
    t0 = time.perf_counter()
    alice.send("PRIVMSG %s :%s" % (RCHAN, text))
    m = bob.wait(lambda m: m["cmd"] == "PRIVMSG" and m["nick"] == "alice" and m["params"][1] == text, 10)
    if m is None:
        die("relay message %d not received within 10 s" % i)
    return (time.perf_counter() - t0) * 1000

def reply(i):
    t0 = time.perf_counter()
    bob.send("PRIVMSG %s :%s" % (CHAN, Q % i))
    m = bob.wait(lambda m: bot_left(m) or (from_bot(m) and m["params"][1] == FIRST), 10)
    t1 = time.perf_counter()
    if m is None or bot_left(m):
        die("question %d: no answer within 10 s%s" % (i, " (the bot left)" if m else ""))
    n = 1
    while n < L:
        m = bob.wait(lambda m: from_bot(m) or bot_left(m), 2 * FI + 10)
        if m is None or bot_left(m):
            die("question %d: %d of %d lines" % (i, n, L))
        n += 1
    if m["params"][1] != LAST:
        die("question %d: the answer changed (line %d is not the last line)" % (i, L))
    return (t1 - t0) * 1000

rel, rep = [], []
t_start = time.time()
for i in range(1, N + 1):
    drain()
    rel.append(relay(i))
    rep.append(reply(i))
    time.sleep(PACE)
took = time.time() - t_start
r50, r99, p50, p99 = pct(rel, 50), pct(rel, 99), pct(rep, 50), pct(rep, 99)
print("irc: the server's relay, alice -> %s -> bob (PRIVMSG, no bot there): p50 %.3f ms, "
      "p99 %.3f ms over %d messages" % (RCHAN, r50, r99, N))
print("irc: the bot's reply, bob's addressed question in %s -> the first of the answer's %d lines "
      "back to bob: p50 %.3f ms, p99 %.3f ms over %d questions (%.0f s in all)"
      % (CHAN, L, p50, p99, N, took))
share = p50 - 2 * r50
print("irc:   same clock and points for both (just before the send to the receipt of the first "
      "matching line), interleaved; a reply crosses the server twice, so the bot's own share is "
      + ("about p50 %.3f - 2 x %.3f = %.3f ms" % (p50, r50, share) if share >= 0 else
         "not told apart: the relay (%.3f ms) is over half the reply (%.3f ms), so the relay "
         "measured something the reply did not" % (r50, p50)))
sys.stdout.flush()

# a burst of BURST questions at once, the bucket full; until the last
# answer's first line, and until every line
drain()
time.sleep(FB * FI + 0.5)
t0 = time.perf_counter()
bob.s.sendall("".join("PRIVMSG %s :%s\r\n" % (CHAN, Q % (10000 + i)) for i in range(BURST)).encode())
want, firsts, got, last_t, left = BURST * L, [], 0, None, False
limit = time.time() + want * FI * 1.5 + 60
while got < want:
    m = bob.wait(lambda m: from_bot(m) or bot_left(m), max(0.0, limit - time.time()))
    if m is None:
        break
    if bot_left(m):
        left = True
        break
    got += 1
    last_t = time.perf_counter()
    if m["params"][1] == FIRST:
        firsts.append(last_t)
alive = not left and BOT.lower() in [n.lower() for n in bob.names(CHAN)]
flood = ("flood_burst %d, then 1 line / %g ms" % (FB, FI * 1000))
if len(firsts) >= BURST and got >= want:
    print("irc: burst of %d addressed questions at once (%d lines, %s): the last answer's first "
          "line after %.2f s, every line after %.2f s; bot stayed connected: %s"
          % (BURST, want, flood, firsts[BURST - 1] - t0, last_t - t0, "yes" if alive else "NO"))
else:
    print("irc: burst of %d addressed questions: only %d of %d lines (%d answers begun) within "
          "%.0f s; bot stayed connected: %s" % (BURST, got, want, len(firsts),
                                                 want * FI * 1.5 + 60, "yes" if alive else "NO"))
if FI < 2.0:
    print("irc:   under the default flood control (4 lines, then 1 line / 2 s) the same %d lines "
          "take %d s by the bucket's arithmetic (BENCH_IRC_FLOOD=default measures it)"
          % (want, (want - 4) * 2))
alice.close()
bob.close()
sys.exit(0 if alive and got >= want else 1)
