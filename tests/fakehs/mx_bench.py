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

With --tls the bot reaches the homeserver over HTTPS by a host name, as it
would a real one: a TLS front (this script, TLS 1.2+, an RSA-2048
certificate for hs.bench.test from a test CA made here with openssl) relays
to fakehs. The bot command gets BOT_HS=https://hs.bench.test:PORT and two
things to put in place, e.g. bind-mounted in a private mount namespace:
BOT_CA_DIR, a copy of /etc/ssl/certs that also trusts the test CA (appended
to ca-certificates.crt, and linked by its hash), for /etc/ssl/certs, so the
bot loads and keeps the CA store it would in production, whether it reads
the bundle or looks certificates up by hash; and BOT_HOSTS, /etc/hosts with
hs.bench.test, for /etc/hosts, so the name goes through the resolver like a
real one. The members still talk to fakehs directly; the latency figures
include the relay.
"""

import argparse
import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
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


SYSTEM_CA_DIR = "/etc/ssl/certs"
TLS_HOST = "hs.bench.test"


def make_test_pki(tmp):
    """A test CA and a certificate for TLS_HOST it signed; returns (cert,
    key, cadir, hosts): cadir is the system's /etc/ssl/certs plus the test
    CA, hosts the system's /etc/hosts plus TLS_HOST."""
    def ossl(*args):
        subprocess.run(["openssl"] + list(args), check=True, cwd=tmp,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ossl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
         "/CN=faqbot bench CA", "-keyout", "ca.key", "-out", "ca.pem")
    ossl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=" + TLS_HOST,
         "-keyout", "hs.key", "-out", "hs.csr")
    with open(os.path.join(tmp, "ext"), "w") as f:
        f.write("subjectAltName=DNS:%s\nextendedKeyUsage=serverAuth\n" % TLS_HOST)
    ossl("x509", "-req", "-in", "hs.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
         "-CAcreateserial", "-days", "2", "-extfile", "ext", "-out", "hs.pem")
    cadir = os.path.join(tmp, "certs")
    shutil.copytree(SYSTEM_CA_DIR, cadir, symlinks=True)
    with open(os.path.join(tmp, "ca.pem")) as f:
        ca = f.read()
    with open(os.path.join(cadir, "ca-certificates.crt"), "a") as out:
        out.write(ca)
    h = subprocess.run(["openssl", "x509", "-hash", "-noout", "-in", os.path.join(tmp, "ca.pem")],
                       check=True, capture_output=True, text=True).stdout.strip()
    with open(os.path.join(cadir, h + ".0"), "w") as out:
        out.write(ca)
    hosts = os.path.join(tmp, "hosts")
    with open(hosts, "w") as out:
        with open("/etc/hosts") as f:
            out.write(f.read())
        out.write("\n127.0.0.1 %s\n" % TLS_HOST)
    return os.path.join(tmp, "hs.pem"), os.path.join(tmp, "hs.key"), cadir, hosts


def tls_front(cert, key, upstream_port):
    """Listen on a loopback port, terminate TLS, relay bytes to fakehs.
    Returns the port; the threads are daemons and die with the script."""
    import ssl
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(cert, key)
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(16)

    def pump(src, dst):
        try:
            while True:
                b = src.recv(65536)
                if not b:
                    break
                dst.sendall(b)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def serve(raw):
        try:
            c = ctx.wrap_socket(raw, server_side=True)
        except (OSError, ssl.SSLError):
            raw.close()
            return
        u = socket.create_connection(("127.0.0.1", upstream_port))
        for s in (c, u):
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        threading.Thread(target=pump, args=(u, c), daemon=True).start()
        pump(c, u)

    def accept():
        while True:
            raw, _ = lsock.accept()
            threading.Thread(target=serve, args=(raw,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    return lsock.getsockname()[1]


def many(fake, reqs, chunk=500):
    """Control requests in chunks under one lock each (10,000 rooms are
    made in seconds, not minutes); their results in order."""
    out = []
    for i in range(0, len(reqs), chunk):
        out += fake("many", {"requests": reqs[i:i + chunk]})["results"]
    return out


def make_rooms(fake, n, bot_user):
    members = ["@ann:fake.test", "@bob:fake.test", bot_user]
    return [r["room_id"] for r in many(fake, [{"name": "room", "body": {"members": members}}] * n)]


def backlog(fake, rooms, n):
    """n messages a room of a group's history, before the bot's first start."""
    many(fake, [{"name": "send", "body": {
        "room_id": r, "sender": ("@ann:fake.test", "@bob:fake.test")[i % 2],
        "body": "an earlier message of the group's history, number %d, "
                "about how the week went and what helped" % i}}
        for i in range(n) for r in rooms])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bot", required=True, help="command line of the bot")
    ap.add_argument("-n", type=int, default=1000)
    ap.add_argument("--rooms", type=int, default=100)
    ap.add_argument("--question", default="question %d?",
                    help="what the member asks, with %%d for the message number "
                         "(the real bot needs a question its FAQ answers)")
    ap.add_argument("--backlog", type=int, default=0,
                    help="messages each room has before the bot's first start "
                         "(a real group's history: its first sync carries them)")
    ap.add_argument("--tls", action="store_true",
                    help="the bot reaches the homeserver over HTTPS (see above)")
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

    rooms = make_rooms(fake, a.rooms, bot_user)
    backlog(fake, rooms, a.backlog)
    env = dict(os.environ, BOT_HS="http://127.0.0.1:%d" % port, BOT_STATE=tmp + "/state",
               BOT_PW="pw")
    if a.tls:
        cert, key, cadir, hosts = make_test_pki(tmp)
        env.update(BOT_HS="https://%s:%d" % (TLS_HOST, tls_front(cert, key, port)),
                   BOT_CA_DIR=cadir, BOT_HOSTS=hosts)
    log = open(tmp + "/bot.log", "w")
    bot = subprocess.Popen(a.bot, shell=True, env=env, stderr=log, stdout=log)
    done = False
    if os.environ.get("MX_BENCH_RSS_TRACE"):  # when the bot's RSS grows
        def trace(path=os.environ["MX_BENCH_RSS_TRACE"], t0=time.monotonic()):
            last = 0
            with open(path, "w") as out:
                while bot.poll() is None:
                    try:
                        kb = rss(bot.pid)["VmRSS"]
                    except (OSError, KeyError):
                        break
                    if kb != last:
                        out.write("%.3f s %d kB\n" % (time.monotonic() - t0, kb))
                        last = kb
                    time.sleep(0.001)
        threading.Thread(target=trace, daemon=True).start()
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
        if os.environ.get("MX_BENCH_SMAPS"):  # where the resident pages are
            with open("/proc/%d/smaps" % bot.pid) as f, \
                    open(os.environ["MX_BENCH_SMAPS"], "w") as out:
                out.write(f.read())
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
        print("matrix bot RSS serving %d rooms over %s%s: VmRSS %d kB, VmHWM %d kB"
              % (len(rooms), "HTTPS" if a.tls else "HTTP",
                 ", %d messages a room before its first start" % a.backlog if a.backlog else "",
                 mem["VmRSS"], mem["VmHWM"]))
        done = True
    finally:
        bot.terminate()
        try:
            bot.wait(5)
        except subprocess.TimeoutExpired:
            bot.kill()
        hs.terminate()
        hs.wait(5)
        log.close()
        # the bot's state, log and (--tls) certificates: kept to look at
        # when the run failed
        if done:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print("mx_bench: the bot's log and state are in %s" % tmp, file=sys.stderr)


if __name__ == "__main__":
    main()
