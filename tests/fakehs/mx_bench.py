#!/usr/bin/env python3
"""mx_bench.py -- the Matrix side of `make bench`, against tests/fakehs.

Starts fakehs and the bot (a command given with --bot, run with BOT_HS,
BOT_STATE and BOT_PW in its environment), then measures, over N messages:
  baseline  member A sends (PUT /send), member B's long-poll /sync sees it:
            the homeserver's own round trip between two clients
  bot       the member sends a question, the member's own long-poll /sync
            sees the bot's reply
and prints p50 / p99 of each and of the difference (the bot's overhead),
then the bot's RSS while it serves --rooms rooms (VmRSS and VmHWM from
/proc). Uses only the Client-Server API for the members, like a real client.
"""

import argparse
import http.client
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))


class Client:
    def __init__(self, port, user=None, token=None):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.conn.connect()
        self.conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.token = token
        self.since = None
        self.txn = 0
        if user:
            r = self.req("POST", "/_matrix/client/v3/login",
                         {"type": "m.login.password",
                          "identifier": {"type": "m.id.user", "user": user},
                          "password": "pw"})
            self.token = r["access_token"]

    def req(self, method, path, body=None):
        h = {"Content-Type": "application/json"}
        if self.token:
            h["Authorization"] = "Bearer " + self.token
        self.conn.request(method, path, json.dumps(body) if body is not None else None, h)
        resp = self.conn.getresponse()
        data = resp.read()
        if resp.status != 200:
            raise RuntimeError("%s %s: %d %s" % (method, path, resp.status, data[:200]))
        return json.loads(data)

    def send(self, room, body):
        self.txn += 1
        path = "/_matrix/client/v3/rooms/%s/send/m.room.message/b%d-%d" % (
            urllib.parse.quote(room, safe=""), os.getpid(), self.txn)
        return self.req("PUT", path, {"msgtype": "m.text", "body": body})["event_id"]

    def sync(self, timeout=30000):
        q = "timeout=%d" % timeout + ("&since=" + self.since if self.since else "")
        r = self.req("GET", "/_matrix/client/v3/sync?" + q)
        self.since = r["next_batch"]
        evs = []
        for rid, room in r.get("rooms", {}).get("join", {}).items():
            evs += [(rid, e) for e in room.get("timeline", {}).get("events", [])]
        return evs

    def wait_for(self, pred, timeout_s=30):
        """Sync until pred holds; a bot that stays silent fails the bench
        instead of hanging it."""
        end = time.monotonic() + timeout_s
        while time.monotonic() < end:
            for rid, e in self.sync():
                if pred(rid, e):
                    return
        raise SystemExit("mx_bench: no answer within %d s (does the bot answer %r?)"
                         % (timeout_s, BENCH_QUESTION))


BENCH_QUESTION = None


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def rss(pid):
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmRSS", "VmHWM"):
                out[k] = int(v.split()[0])
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bot", required=True, help="command line of the bot")
    ap.add_argument("-n", type=int, default=1000)
    ap.add_argument("--rooms", type=int, default=100)
    ap.add_argument("--question", default="question %d?",
                    help="what the member asks, with %%d for the message number "
                         "(the real bot needs a question its FAQ answers)")
    a = ap.parse_args()
    global BENCH_QUESTION
    BENCH_QUESTION = a.question
    tmp = tempfile.mkdtemp(prefix="faqbot-bench.")
    bot_user = "@bot:fake.test"
    hs = subprocess.Popen([sys.executable, os.path.join(HERE, "fakehs.py"), "--port", "0",
                           "--max-seconds", "900", "--user", bot_user + "=pw",
                           "--user", "@ann:fake.test=pw", "--user", "@bob:fake.test=pw"],
                          stdout=subprocess.PIPE, text=True)
    port = int(hs.stdout.readline().split()[1])
    ctl = Client(port)

    def fake(name, body):
        return ctl.req("POST", "/_fake/" + name, body)

    rooms = [fake("room", {"members": ["@ann:fake.test", "@bob:fake.test", bot_user]})["room_id"]
             for _ in range(a.rooms)]
    env = dict(os.environ, BOT_HS="http://127.0.0.1:%d" % port, BOT_STATE=tmp + "/state",
               BOT_PW="pw")
    log = open(tmp + "/bot.log", "w")
    bot = subprocess.Popen(a.bot, shell=True, env=env, stderr=log, stdout=log)
    try:
        ann, bob = Client(port, "ann"), Client(port, "bob")
        ann.sync(0)
        bob.sync(0)
        # wait until the bot's first start is over (it long-polls with a
        # since token), then until it answers a question
        while not any(r["path"].endswith("/sync") and "since" in r["query"]
                      for r in ctl.req("GET", "/_fake/log")["requests"]):
            time.sleep(0.05)
        q = ann.send(rooms[0], a.question % 0)
        ann.wait_for(lambda r, e: e["sender"] == bot_user)

        base, botl = [], []
        for i in range(a.n):
            room = rooms[i % len(rooms)]
            t0 = time.perf_counter()
            ev = ann.send(room, "plain message %d" % i)
            bob.wait_for(lambda r, e, ev=ev: e.get("event_id") == ev)
            base.append((time.perf_counter() - t0) * 1000)
            ann.sync(0)  # skip past ann's own message
            t0 = time.perf_counter()
            q = ann.send(room, a.question % i)
            ann.wait_for(lambda r, e, q=q: e["sender"] == bot_user and
                         e["content"].get("m.relates_to", {}).get("m.in_reply_to", {})
                         .get("event_id") == q)
            botl.append((time.perf_counter() - t0) * 1000)
            bob.sync(0)
        mem = rss(bot.pid)
        over = [b - c for b, c in zip(botl, base)]
        print("matrix latency over %d messages, %d rooms (ms): "
              "homeserver round trip p50 %.2f p99 %.2f; "
              "member to bot reply p50 %.2f p99 %.2f; "
              "bot overhead p50 %.2f p99 %.2f"
              % (a.n, len(rooms), pct(base, 50), pct(base, 99), pct(botl, 50),
                 pct(botl, 99), pct(botl, 50) - pct(base, 50), pct(botl, 99) - pct(base, 99)))
        print("matrix overhead, per message (ms): p50 %.2f p99 %.2f"
              % (pct(over, 50), pct(over, 99)))
        if os.environ.get("MX_BENCH_DEBUG"):
            worst = sorted(range(len(over)), key=lambda i: -over[i])[:15]
            print("worst:", [(i, round(botl[i], 2), round(base[i], 2)) for i in worst])
        print("matrix bot RSS serving %d rooms: VmRSS %d kB, VmHWM %d kB"
              % (len(rooms), mem["VmRSS"], mem["VmHWM"]))
    finally:
        bot.terminate()
        try:
            bot.wait(5)
        except subprocess.TimeoutExpired:
            bot.kill()
        hs.terminate()
        hs.wait(5)


if __name__ == "__main__":
    main()
