"""bench/irc_bench.py -- the IRC figures of `make bench` (run by irc_bench.sh).

Needs $T/ircc.py (written by tests/integ/irc_lib.inc), PORT, BOT, N, BURST.
Prints "irc: ..." lines; exit 1 on a failure (a message to stderr)."""
import os, sys, time
sys.path.insert(0, os.environ["T"])
from ircc import Client

PORT, BOT = int(os.environ["PORT"]), os.environ.get("BOT", "faqbot")
N, BURST = int(os.environ.get("N", "500")), int(os.environ.get("BURST", "50"))
RELAY_N = int(os.environ.get("RELAY_N", "500"))
CHAN = "#bench"
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

a, b = Client(PORT, "alice"), Client(PORT, "bob")
a.join(CHAN)
b.join(CHAN)
# relay senders, taken in turn and paced, so that ngircd's own per-client
# command throttling (a 1 s penalty) stays out of the relay figure
senders = [a] + [Client(PORT, "sender%d" % k) for k in range(9)]
for c in senders[1:]:
    c.join(CHAN)
RELAY_GAP = 0.05

def drain():
    """read what waits for the other clients (answers their PINGs)"""
    for c in senders:
        c.collect(0.001)
# the bot joins #bench (bounded wait)
deadline = time.time() + 30
while BOT.lower() not in [n.lower() for n in b.names(CHAN)]:
    if time.time() > deadline:
        die("the bot did not join %s within 30 s" % CHAN)
    time.sleep(0.2)

# 1. the server's own relay: alice -> #bench -> bob, one at a time
relay = []
for i in range(RELAY_N):
    text = "relay %d" % i
    s = senders[i % len(senders)]
    time.sleep(RELAY_GAP)
    t0 = time.perf_counter()
    s.send("PRIVMSG %s :%s" % (CHAN, text))
    m = b.wait(lambda m: m["cmd"] == "PRIVMSG" and m["nick"] == s.nick and m["params"][-1] == text, 10)
    if m is None:
        die("relay message %d not received within 10 s" % i)
    relay.append((time.perf_counter() - t0) * 1000)
r50, r99 = pct(relay, 50), pct(relay, 99)
print("irc: ngircd relay (member -> %s -> bob, PRIVMSG): p50 %.3f ms, p99 %.3f ms over %d messages "
      "(%d senders in turn, %.0f ms apart)" % (CHAN, r50, r99, RELAY_N, len(senders), RELAY_GAP * 1000))
sys.stdout.flush()

left = []
def bot_lines(client, count, timeout):
    """count PRIVMSGs from the bot; returns their arrival times (perf_counter)."""
    out, deadline = [], time.time() + timeout
    while len(out) < count:
        m = client.wait(lambda m: from_bot(m) or bot_left(m), max(0.0, deadline - time.time()))
        if m is None:
            return out
        if bot_left(m):
            left.append(m)
            return out
        out.append(time.perf_counter())
    return out

# warm-up: how many lines one answer is (lines 2 s apart once the bucket is
# empty, so 4 s of silence ends it)
b.send("PRIVMSG %s :%s" % (CHAN, Q % 0))
first = b.wait(from_bot, 15)
if first is None:
    die("no answer from the bot to %r within 15 s" % (Q % 0))
L = 1 + len(b.collect(4.0, from_bot))
last = time.perf_counter()

# 2. reply latency to the FIRST line of the answer; the next question goes
# out once every line of the previous answer has arrived and the bucket has
# refilled at least one token (2 s after the last line, + 0.2 s margin)
INTERVAL = 2.0 + 0.2
lat = []
for i in range(1, N + 1):
    drain()
    time.sleep(max(0.0, last + INTERVAL - time.perf_counter()))
    t0 = time.perf_counter()
    b.send("PRIVMSG %s :%s" % (CHAN, Q % i))
    ts = bot_lines(b, L, 2.0 * L + 15)
    if len(ts) < L:
        die("question %d: %d of %d answer lines within %.0f s%s" % (
            i, len(ts), L, 2.0 * L + 15, " (the bot left)" if left else ""))
    lat.append((ts[0] - t0) * 1000)
    last = ts[-1]
p50, p99 = pct(lat, 50), pct(lat, 99)
print("irc: bot reply, question -> FIRST line of the answer (%d lines): p50 %.3f ms, p99 %.3f ms over %d "
      "addressed questions; overhead beyond the relay: p50 %+.3f ms, p99 %+.3f ms"
      % (L, p50, p99, N, p50 - r50, p99 - r99))
print("irc:   (paced: each question sent once the whole previous answer was in and %.1f s after its "
      "last line, so the flood bucket held a token)" % INTERVAL)
sys.stdout.flush()

# 3. a burst of BURST questions, the bucket full (4 tokens: 8 s after the
# last line, + margin); from the first sent to the last answer's first line
drain()
time.sleep(max(0.0, last + 4 * 2.0 + 0.5 - time.perf_counter()))
t0 = time.perf_counter()
for i in range(BURST):
    b.send("PRIVMSG %s :%s" % (CHAN, Q % (1000 + i)))
want = BURST * L
limit = 2.2 * want + 60
ts = bot_lines(b, want, limit)
got = len(ts)
answers = got // L
alive = not left and BOT.lower() in [n.lower() for n in b.names(CHAN)]
if got >= (BURST - 1) * L + 1:
    took = "last answer's first line after %.1f s" % (ts[(BURST - 1) * L] - t0)
else:
    took = "only %d of %d answer lines within %.0f s" % (got, want, limit)
print("irc: burst of %d addressed questions under flood control (burst 4, then 1 line / 2 s; %d lines "
      "in all): %s, all lines after %.1f s; bot stayed connected: %s"
      % (BURST, want, took, (ts[-1] - t0) if ts else float("nan"), "yes" if alive else "NO"))
for c in senders + [b]:
    c.close()
sys.exit(0 if alive and got >= want else 1)
