#!/usr/bin/env python3
"""mx_scale.py -- the many-rooms side of `make bench`, against tests/fakehs.

Starts fakehs with --rooms rooms (the bot, ann and bob in each; --backlog
messages a room before the bot's first start), then the bot (--bot, run as
mx_bench.py runs it: BOT_HS, BOT_STATE, BOT_PW in its environment), and
prints, one line each:
  start    the bot's peak RSS (VmHWM) over its first start, which answers
           none of the backlog, and its RSS once it long-polls
  batch    one /sync batch of --batch events, one question in each of as
           many rooms, twice: the first message of each room (the room's
           power levels asked of the server then), and again; the bot's own
           figures from its log line (CPU time: reading, handling, the
           core's part, the rest an event; the journal's one sync, wall)
  busy     the reply latency in one room while --talkers other rooms talk
           (a message in one of them every few milliseconds, a tenth of
           them questions), beside the homeserver's own round trip between
           two members measured in the same conditions; the bot's share is
           the difference
  rss      the bot's RSS at the end, and VmHWM
With --appservice the bot serves the rooms as an Application Service
(--prepare writes its config and registration first; the homeserver pushes
what comes after the bot listens, in transactions of 100 events):
  start    its peak RSS (VmHWM) and RSS once it listens, every room read
  batch    one question in each of --batch rooms, twice: the transactions
           pushed, the wall time until every reply is sent, then its RSS
  rss      at the end, and VmHWM
The fake homeserver's own cost is not the bot's: every figure above is
either the bot's own (its log) or a difference against fakehs measured
the same way.
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mx_bench  # noqa: E402  (Client, pct, rss, many, make_rooms, backlog)

HERE = os.path.dirname(os.path.abspath(__file__))
BATCH_RE = re.compile(r"sync: batch of (\d+) events in (\d+) rooms: cpu read ([\d.]+) ms, "
                      r"handled ([\d.]+) ms \(the core ([\d.]+) ms, sending ([\d.]+) ms, "
                      r"asking rooms' facts ([\d.]+) ms; the rest ([\d.]+) us an "
                      r"event\); journal synced in ([\d.]+) ms")


def wait_until(pred, timeout_s, what):
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        v = pred()
        if v:
            return v
        time.sleep(0.02)
    raise SystemExit("mx_scale: %s did not happen within %d s" % (what, timeout_s))


class Bench:
    def __init__(self, a):
        self.a = a
        self.tmp = tempfile.mkdtemp(prefix="faqbot-scale.")
        self.bot_user = "@bot:fake.test"
        self.hs = subprocess.Popen(
            [sys.executable, os.path.join(HERE, "fakehs.py"), "--port", "0", "--max-seconds",
             "1800", "--user", self.bot_user + "=pw", "--user", "@ann:fake.test=pw",
             "--user", "@bob:fake.test=pw"], stdout=subprocess.PIPE, text=True)
        self.port = int(self.hs.stdout.readline().split()[1])
        self.ctl = mx_bench.Client(self.port)
        self.bot = None
        self.log_path = os.path.join(self.tmp, "bot.log")
        self.req_seen = -1
        self.mod = None  # the moderators' room, with --crisis-ends

    def fake(self, name, body):
        return self.ctl.req("POST", "/_fake/" + name, body)

    def env(self):
        return dict(os.environ, BOT_HS="http://127.0.0.1:%d" % self.port,
                    BOT_STATE=self.tmp + "/state", BOT_PW="pw", BOT_MOD=self.mod or "")

    def start_bot(self):
        self.log = open(self.log_path, "w")
        self.bot = subprocess.Popen(self.a.bot, shell=True, env=self.env(), stderr=self.log,
                                    stdout=self.log)

    def register(self):
        """--appservice: --prepare writes the config and the registration
        (BOT_STATE/registration.yaml), which the homeserver loads before the
        bot starts (its first call carries the as_token)."""
        subprocess.run(self.a.prepare, shell=True, env=self.env(), check=True,
                       stdout=subprocess.DEVNULL)
        self.as_id = self.fake("appservice", {"registration": self.tmp +
                                              "/state/registration.yaml"})["id"]

    def listening(self):
        """--appservice: the bot's port once it listens; the homeserver is
        then told its url, and pushes what comes from now on."""
        with open(self.log_path) as f:
            m = re.search(r"listening on \S+ port (\d+)", f.read())
        if m:
            self.fake("appservice_url", {"id": self.as_id, "from_now": True,
                                         "url": "http://127.0.0.1:" + m.group(1)})
        return m

    def new_requests(self):
        r = self.ctl.req("GET", "/_fake/log?after=%d" % self.req_seen)["requests"]
        if r:
            self.req_seen = r[-1]["n"]
        return r

    def long_polling(self):
        return any(r["path"].endswith("/sync") and "since" in r["query"]
                   for r in self.new_requests())

    def batch_lines(self):
        with open(self.log_path) as f:
            return [m.groups() for m in map(BATCH_RE.search, f) if m]

    def sends_done(self, want):
        """Wait until the bot has sent want more messages (PUT .../send/
        answered 200): the log's entries are read from a cursor that never
        passes one still running (its status not known yet)."""
        n = [0]

        def more():
            for r in self.ctl.req("GET", "/_fake/log?after=%d" % self.req_seen)["requests"]:
                if r.get("status") is None:
                    break
                self.req_seen = r["n"]
                n[0] += r["method"] == "PUT" and "/send/" in r["path"] and r["status"] == 200
            return n[0] >= want
        wait_until(more, 600, "%d replies" % want)

    def settle(self, room):
        """Wait until the bot long-polls from the homeserver's latest
        position: everything before (its own replies coming back) is
        behind it, so the next batch is the next thing it reads."""
        pos = self.ctl.req("GET", "/_fake/events?room_id=%s&after=999999999"
                           % urllib.parse.quote(room))["pos"]
        seen = [-1]

        def polling():
            for r in self.ctl.req("GET", "/_fake/log?after=%d" % seen[0])["requests"]:
                seen[0] = r["n"]
                if r["path"].endswith("/sync") and r["query"].get("since") == ["s%d" % pos]:
                    return True
            return False
        wait_until(polling, 600, "the bot's long poll from s%d" % pos)

    def pushed(self):
        """--appservice: the transactions pushed so far, none pending"""
        r = self.ctl.req("GET", "/_fake/as_log?id=" + self.as_id)
        return None if r["pending"] else (r["pushes"],)

    def as_batch(self, rooms, label):
        """--appservice: one question in each room, pushed in transactions
        of 100 as a homeserver does; the bot's RSS once every reply is
        sent"""
        wait_until(self.pushed, 600, "the pushes before the batch")
        self.new_requests()
        t0 = time.monotonic()
        self.fake("many", {"requests": [
            {"name": "send", "body": {"room_id": r, "sender": "@ann:fake.test",
                                      "body": self.a.question % i}}
            for i, r in enumerate(rooms)]})
        self.sends_done(len(rooms))
        secs = time.monotonic() - t0
        txns = [p for p in wait_until(self.pushed, 600, "the batch's acknowledgements")[0]
                if p["t"] >= t0]
        mem = mx_bench.rss(self.bot.pid)
        print("appservice batch of %d questions in %d rooms (%s): %d transactions, every "
              "reply sent in %.2f s (wall); then VmRSS %d kB"
              % (len(rooms), len(rooms), label, len(txns), secs, mem["VmRSS"]))

    def batch(self, rooms, label):
        self.settle(rooms[0])
        before = len(self.batch_lines())
        self.new_requests()
        many = [{"name": "send", "body": {"room_id": r, "sender": "@ann:fake.test",
                                          "body": self.a.question % i}}
                for i, r in enumerate(rooms)]
        self.fake("many", {"requests": many})
        got = wait_until(lambda: self.batch_lines()[before:], 600, "the batch's log line")
        self.sends_done(len(rooms))
        n, nrooms, read, handled, core, send, ask, rest, sync = got[0]
        n = int(n)
        us = lambda ms: float(ms) * 1000 / max(n, 1)  # noqa: E731
        print("matrix batch of %d events in %s rooms (%s), cpu us an event: reading, routing "
              "and queueing %.2f (goal < 20; %.2fx the core's own cost, measured in the same "
              "batch); the core %.2f; sending the replies %.2f; asking rooms' facts %.2f; "
              "(read %.2f ms, handled %.2f ms); the journal's one sync %.2f ms (wall)"
              % (n, nrooms, label, float(rest), float(rest) / max(us(core), 1e-9), us(core),
                 us(send), us(ask), float(read), float(handled), float(sync)))

    def busy(self, rooms, talkers, n):
        """Reply latency in rooms[0] while talkers other rooms talk."""
        stop = threading.Event()
        others = rooms[1:1 + talkers]

        def talk():
            c = mx_bench.Client(self.port)
            i = 0
            while not stop.is_set():
                reqs = []
                for _ in range(5):
                    r = others[i % len(others)]
                    body = (self.a.question % i if i % 10 == 0
                            else "just checking in, message %d, the week was hard" % i)
                    reqs.append({"name": "send", "body": {"room_id": r, "sender":
                                                          "@bob:fake.test", "body": body}})
                    i += 1
                c.req("POST", "/_fake/many", {"requests": reqs})
                time.sleep(0.01)
            self.talked = i
        ann, bob = mx_bench.Client(self.port, "ann"), mx_bench.Client(self.port, "bob")
        ann.sync(0)
        bob.sync(0)
        th = threading.Thread(target=talk, daemon=True)
        th.start()
        t_start = time.monotonic()
        base, botl = [], []
        room = rooms[0]
        mx_bench.BENCH_QUESTION = self.a.question
        own = lambda r, e: r == room  # noqa: E731  (the busy room only)
        for i in range(n):
            t0 = time.perf_counter()
            ev = ann.send(room, "plain message %d" % i)
            bob.wait_for(lambda r, e, ev=ev: own(r, e) and e.get("event_id") == ev)
            base.append((time.perf_counter() - t0) * 1000)
            ann.sync(0)
            t0 = time.perf_counter()
            q = ann.send(room, self.a.question % i)
            ann.wait_for(lambda r, e, q=q: own(r, e) and e["sender"] == self.bot_user and
                         e["content"].get("m.relates_to", {}).get("m.in_reply_to", {})
                         .get("event_id") == q)
            botl.append((time.perf_counter() - t0) * 1000)
            bob.sync(0)
        stop.set()
        th.join()
        secs = time.monotonic() - t_start
        pct = mx_bench.pct
        print("matrix latency in a busy room while %d other rooms talk (%.0f messages/s), "
              "%d questions (ms): homeserver round trip p50 %.2f p99 %.2f; reply p50 %.2f "
              "p99 %.2f; the bot's share p50 %.2f p99 %.2f"
              % (len(others), self.talked / secs, n, pct(base, 50), pct(base, 99),
                 pct(botl, 50), pct(botl, 99), pct(botl, 50) - pct(base, 50),
                 pct(botl, 99) - pct(base, 99)))

    def ends(self, rooms, n):
        """A crisis in the first room and in the last, n of each in turns:
        the time from the member's send to the bot's reply in the room, and
        to the moderators' alert, both seen by a member of both rooms."""
        ann = mx_bench.Client(self.port, "ann")
        ann.sync(0)
        res = {"first": [], "last": []}
        for i in range(n):
            for label, room in (("first", rooms[0]), ("last", rooms[-1])):
                got = {}
                t0 = time.perf_counter()
                ev = ann.send(room, "i can't go on, i want to end my life tonight (%d)" % i)

                def seen(r, e, room=room, ev=ev, got=got):
                    if e.get("sender") == self.bot_user:
                        rel = e["content"].get("m.relates_to", {})
                        if r == room and rel.get("m.in_reply_to", {}).get("event_id") == ev:
                            got.setdefault("reply", time.perf_counter())
                        if r == self.mod:
                            got.setdefault("alert", time.perf_counter())
                    return "reply" in got and "alert" in got
                ann.wait_for(seen, 60)
                res[label].append(((got["reply"] - t0) * 1000, (got["alert"] - t0) * 1000))
        med = lambda xs: sorted(xs)[len(xs) // 2]  # noqa: E731
        f_r, l_r = med([x[0] for x in res["first"]]), med([x[0] for x in res["last"]])
        f_a, l_a = med([x[1] for x in res["first"]]), med([x[1] for x in res["last"]])
        print("a crisis in room 1 and in room %d of %d, %d of each in turns (ms, medians): the "
              "reply %.2f and %.2f (%.2fx), the moderators' alert %.2f and %.2f (%.2fx); every "
              "one answered and alerted" % (len(rooms), len(rooms), n, f_r, l_r, l_r / f_r, f_a,
                                            l_a, l_a / f_a))

    def close(self, ok):
        if self.bot:
            self.bot.terminate()
            try:
                self.bot.wait(10)
            except subprocess.TimeoutExpired:
                self.bot.kill()
            self.log.close()
        self.hs.terminate()
        self.hs.wait(5)
        if ok:
            shutil.rmtree(self.tmp, ignore_errors=True)
        else:
            print("mx_scale: the bot's log and state are in %s" % self.tmp, file=sys.stderr)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bot", required=True)
    ap.add_argument("--rooms", type=int, default=1000)
    ap.add_argument("--backlog", type=int, default=2)
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--talkers", type=int, default=0)
    ap.add_argument("-n", type=int, default=100, help="questions in the busy room")
    ap.add_argument("--question", default="what is tms? (%d)")
    ap.add_argument("--crisis-ends", type=int, default=0, metavar="N",
                    help="N crises in the first room and N in the last, each answered and "
                    "alerted in a moderators' room (their latencies compared)")
    ap.add_argument("--appservice", action="store_true",
                    help="the bot as an Application Service: the homeserver pushes")
    ap.add_argument("--prepare", help="--appservice: the command that writes the bot's "
                    "config and registration, run before it (the same environment)")
    a = ap.parse_args()
    b = Bench(a)
    ok = False
    try:
        rooms = mx_bench.make_rooms(b.fake, a.rooms, b.bot_user)
        mx_bench.backlog(b.fake, rooms, a.backlog)
        if a.crisis_ends:
            b.mod = mx_bench.make_rooms(b.fake, 1, b.bot_user)[0]
        if a.appservice:
            b.register()
            b.start_bot()
            wait_until(b.listening, 600, "the bot's listener")
            first = mx_bench.rss(b.bot.pid)
            print("appservice at %d rooms, %d messages a room before its start: start "
                  "peak VmHWM %d kB; then VmRSS %d kB"
                  % (a.rooms, a.backlog, first["VmHWM"], first["VmRSS"]))
            batch = rooms[-min(a.batch, len(rooms)):]
            b.as_batch(batch, "each room's first message")
            b.as_batch(batch, "again")
            mem = mx_bench.rss(b.bot.pid)
            print("appservice bot RSS at %d rooms: VmRSS %d kB, VmHWM %d kB"
                  % (a.rooms, mem["VmRSS"], mem["VmHWM"]))
            ok = True
            return
        b.start_bot()
        wait_until(b.long_polling, 600, "the bot's first start")
        first = mx_bench.rss(b.bot.pid)
        time.sleep(0.5)  # its first long poll settles
        if os.environ.get("MX_SCALE_SMAPS"):  # where the resident pages are
            shutil.copy("/proc/%d/smaps" % b.bot.pid, os.environ["MX_SCALE_SMAPS"])
        print("matrix at %d rooms over /sync, %d messages a room before its first start: "
              "first start peak VmHWM %d kB; then VmRSS %d kB"
              % (a.rooms, a.backlog, first["VmHWM"], mx_bench.rss(b.bot.pid)["VmRSS"]))
        batch = rooms[-min(a.batch, len(rooms)):]
        b.batch(batch, "each room's first message")
        b.batch(batch, "again")
        if a.talkers:
            b.busy(rooms, min(a.talkers, len(rooms) - 1), a.n)
        if a.crisis_ends:
            b.ends(rooms, a.crisis_ends)
        mem = mx_bench.rss(b.bot.pid)
        print("matrix bot RSS at %d rooms over /sync: VmRSS %d kB, VmHWM %d kB"
              % (a.rooms, mem["VmRSS"], mem["VmHWM"]))
        ok = True
    finally:
        b.close(ok)


if __name__ == "__main__":
    main()
