#!/usr/bin/env python3
"""e2ee_bench.py -- encrypted rooms in `make bench` (bench/run.sh): 'faqbot
run' with encryption = true against tests/fakehs, the members' devices
played in this process with libolm's Python bindings (Debian's python3-olm),
as a client does it: device keys and one-time keys published, an Olm
session made from a one-time key of the bot's, a Megolm session of its own
given to the bot over Olm, its messages Megolm-encrypted, the room keys the
bot sends it Olm-decrypted and the bot's replies Megolm-decrypted (every
reply is read and checked: m.room.message, in reply to the question, in
this room). Nothing on the bot's side is simulated.

Prints, each with the lines of its detail:
  latency  one member in two rooms of the same bot and the same
           homeserver, one encrypted and one not, asks the same questions
           in turns (the order swapped every turn, so the machine's noise
           falls on both): the time from its send to the reply in its own
           /sync (and, encrypted, the room key for it in hand), p50 and p99
           and their ratio, and the bot's CPU time a reply (all its
           threads, /proc/PID/task/*/schedstat). Each room's first question
           is apart: the encrypted one's carries the bot's room key to the
           member's device (/keys/query, /keys/claim, /sendToDevice first).
  share    --share-users members x --share-devices devices in a new
           encrypted room (all with keys published; one device asks): the
           first question, whose reply waits for the bot's room key to
           reach all of them, beside the next ones in the same room, the
           session shared; medians over --share-trials rooms (new members
           each: new Olm sessions to make), and the calls the first one
           took. Every device's room key is Olm-decrypted and checked.
  rss      the bot's peak RSS (VmHWM) serving --rooms rooms, each with a
           member and a question answered: unencrypted with encryption off,
           and encrypted (each member's device and the bot's sharing Megolm
           sessions both ways, every reply read), in the same run; the
           encrypted bot's RSS before any question too (libolm loaded, its
           account made, the members' Olm sessions and room keys in, none
           of its own given out).

The sessions do not turn during the run (rotation_period_msgs is set
high): a turn costs what a first message's key share costs.

A run that does not finish within --limit-s seconds fails: the watchdog
says in which phase, kills the bot and the homeserver, and exits 1; any
other failure (no reply, a reply the member cannot read) exits 1 too, the
bot's logs kept.
"""

import argparse
import base64
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

import olm

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "fakehs"))
import mx_bench  # noqa: E402  (pct, rss, many)

API = "/_matrix/client/v3"
MEGOLM = "m.megolm.v1.aes-sha2"
OLM = "m.olm.v1.curve25519-aes-sha2"
NO_TURN = {"algorithm": MEGOLM, "rotation_period_msgs": 1000000}


class Fail(Exception):
    pass


def canon(o):
    return json.dumps(o, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def q(s):
    return urllib.parse.quote(s, safe="")


class Http:
    """One keep-alive connection to fakehs; the token is per request (many
    devices, one connection)."""

    def __init__(self, port):
        self.port = port
        self.conn = None

    def req(self, method, path, body=None, token=None):
        if self.conn is None:
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            self.conn.connect()
            self.conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        h = {"Content-Type": "application/json"}
        if token:
            h["Authorization"] = "Bearer " + token
        try:
            self.conn.request(method, path, None if body is None else json.dumps(body), h)
            resp = self.conn.getresponse()
            data = resp.read()
        except (OSError, http.client.HTTPException) as e:
            self.conn = None
            raise Fail("%s %s: %r" % (method, path.split("?")[0], e))
        if resp.status != 200:
            raise Fail("%s %s: HTTP %d %s" % (method, path.split("?")[0], resp.status,
                                              data[:200]))
        return json.loads(data)

    def fake(self, name, body=None):
        return self.req("POST" if body is not None else "GET", "/_fake/" + name, body)


class Device:
    """A member's device: its Olm account, its sessions, in memory."""

    def __init__(self, h, user, device, token):
        self.h, self.user, self.device, self.token = h, user, device, token
        self.acc = olm.Account()
        self.curve = self.acc.identity_keys["curve25519"]
        self.olm_out = None  # to the bot, for its room keys
        self.olm_in = []  # from the bot
        self.group_out = {}  # room -> OutboundGroupSession
        self.group_key = {}  # room -> its session key at index 0
        self.group_in = {}  # session id -> InboundGroupSession (the bot's)
        self.since = None
        self.txn = 0

    def call(self, method, path, body=None):
        return self.h.req(method, API + path, body, self.token)

    def device_keys(self):
        ik = self.acc.identity_keys
        dk = {"user_id": self.user, "device_id": self.device, "algorithms": [OLM, MEGOLM],
              "keys": {"curve25519:" + self.device: ik["curve25519"],
                       "ed25519:" + self.device: ik["ed25519"]}}
        dk["signatures"] = {self.user: {"ed25519:" + self.device: self.acc.sign(canon(dk))}}
        return dk

    def upload(self, n_otk):
        self.acc.generate_one_time_keys(n_otk)
        otks = {}
        for kid, key in self.acc.one_time_keys["curve25519"].items():
            obj = {"key": key}
            obj["signatures"] = {self.user: {"ed25519:" + self.device: self.acc.sign(canon(obj))}}
            otks["signed_curve25519:" + kid] = obj
        self.call("POST", "/keys/upload", {"device_keys": self.device_keys(),
                                           "one_time_keys": otks})
        self.acc.mark_keys_as_published()

    def olm_to(self, bot):
        """An Olm session to the bot's device, from a one-time key it
        published (/keys/query, /keys/claim, as a client)."""
        devs = self.call("POST", "/keys/query", {"device_keys": {bot: []}})["device_keys"][bot]
        (dev, dk), = devs.items()
        got = self.call("POST", "/keys/claim", {"one_time_keys": {bot: {dev: "signed_curve25519"}}})
        otk = got["one_time_keys"].get(bot, {}).get(dev)
        if not otk:
            raise Fail("no one-time key of the bot's to claim")
        (_, obj), = otk.items()
        self.bot = (bot, dev, dk["keys"]["curve25519:" + dev], dk["keys"]["ed25519:" + dev])
        self.olm_out = olm.OutboundSession(self.acc, self.bot[2], obj["key"])

    def share(self, room):
        """A new Megolm session for room, its key given to the bot over Olm."""
        g = olm.OutboundGroupSession()
        self.group_out[room], self.group_key[room] = g, g.session_key
        bot, dev, curve, ed = self.bot
        plain = {"type": "m.room_key", "sender": self.user, "recipient": bot,
                 "recipient_keys": {"ed25519": ed},
                 "keys": {"ed25519": self.acc.identity_keys["ed25519"]},
                 "sender_device_keys": self.device_keys(),
                 "content": {"algorithm": MEGOLM, "room_id": room, "session_id": g.id,
                             "session_key": g.session_key}}
        msg = self.olm_out.encrypt(json.dumps(plain))
        content = {"algorithm": OLM, "sender_key": self.curve,
                   "ciphertext": {curve: {"type": msg.message_type, "body": msg.ciphertext}}}
        self.txn += 1
        self.call("PUT", "/sendToDevice/m.room.encrypted/k%s-%d" % (self.device, self.txn),
                  {"messages": {bot: {dev: content}}})

    def encrypt(self, room, text):
        g = self.group_out[room]
        ct = g.encrypt(json.dumps({"type": "m.room.message", "room_id": room,
                                   "content": {"msgtype": "m.text", "body": text}}))
        return {"algorithm": MEGOLM, "sender_key": self.curve, "ciphertext": ct,
                "session_id": g.id, "device_id": self.device}

    def send(self, room, etype, content):
        self.txn += 1
        return self.call("PUT", "/rooms/%s/send/%s/m%s-%d" % (q(room), etype, self.device,
                                                              self.txn), content)["event_id"]

    def sync(self, timeout_ms):
        r = self.call("GET", "/sync?timeout=%d" % timeout_ms +
                      ("&since=" + self.since if self.since else ""))
        self.since = r["next_batch"]
        for ev in (r.get("to_device") or {}).get("events", []):
            self.to_device(ev)
        return [(rid, e) for rid, room in (r.get("rooms") or {}).get("join", {}).items()
                for e in (room.get("timeline") or {}).get("events", [])]

    def olm_decrypt(self, sender_key, c):
        # the bot may answer over the session this device made to it, or
        # make its own (a pre-key message)
        sessions = self.olm_in + ([self.olm_out] if self.olm_out else [])
        if c["type"] == 0:
            msg = olm.OlmPreKeyMessage(c["body"])
            for s in sessions:
                if s.matches(msg, sender_key):
                    return s.decrypt(msg)
            s = olm.InboundSession(self.acc, msg, sender_key)
            self.acc.remove_one_time_keys(s)
            self.olm_in.append(s)
            return s.decrypt(msg)
        msg = olm.OlmMessage(c["body"])
        for s in sessions:
            try:
                return s.decrypt(msg)
            except olm.OlmSessionError:
                continue
        raise Fail("%s: no Olm session opens the bot's message" % self.device)

    def to_device(self, ev):
        """A room key from the bot, checked as a client checks it, kept."""
        c = ev.get("content") or {}
        if ev.get("type") != "m.room.encrypted" or self.curve not in c.get("ciphertext", {}):
            return None
        plain = json.loads(self.olm_decrypt(c["sender_key"], c["ciphertext"][self.curve]))
        if (plain["recipient"] != self.user or plain["sender"] != ev["sender"]
                or plain["recipient_keys"]["ed25519"] != self.acc.identity_keys["ed25519"]):
            raise Fail("%s: a room key not for this device" % self.device)
        if plain["type"] != "m.room_key":
            return None
        k = plain["content"]
        g = olm.InboundGroupSession(k["session_key"])
        if g.id != k["session_id"]:
            raise Fail("%s: a room key whose session id does not hold" % self.device)
        self.group_in[g.id] = g
        return k["room_id"], g.id

    def read(self, room, reply, question):
        """The bot's encrypted reply decrypted and checked."""
        c = reply["content"]
        g = self.group_in.get(c.get("session_id"))
        if reply["type"] != "m.room.encrypted" or g is None:
            raise Fail("%s: a reply it cannot read (%s)" % (self.device, reply["type"]))
        plain, _ = g.decrypt(c["ciphertext"])
        d = json.loads(plain)
        rel = d["content"].get("m.relates_to", {}).get("m.in_reply_to", {}).get("event_id")
        if (d["room_id"] != room or d["type"] != "m.room.message" or not d["content"].get("body")
                or rel != question):
            raise Fail("%s: the decrypted reply is not an answer to its question" % self.device)


def reply_to(e):
    return (e.get("content") or {}).get("m.relates_to", {}).get("m.in_reply_to", {}).get("event_id")


def cpu_ns(pid):
    """The run time of all the process's threads (ns), or None."""
    t = 0
    try:
        for tid in os.listdir("/proc/%d/task" % pid):
            try:
                with open("/proc/%d/task/%s/schedstat" % (pid, tid)) as f:
                    t += int(f.read().split()[0])
            except (OSError, ValueError, IndexError):
                pass
    except OSError:
        return None
    return t or None


def kill_group(pgid):
    """What is left of a process group started here (start_new_session)."""
    try:
        os.killpg(pgid, signal.SIGKILL)
    except OSError:
        pass


def med(xs):
    return mx_bench.pct(xs, 50)


class Bench:
    def __init__(self, a):
        self.a = a
        self.tmp = tempfile.mkdtemp(prefix="faqbot-e2ee-bench.")
        self.phase = "starting the homeserver"
        # the FAQ's learned stage built once for the three bots (make bench
        # has built it before, in FAQBOT_CACHE): serving is measured, not
        # building
        os.environ.setdefault("FAQBOT_CACHE", os.path.join(self.tmp, "cache"))
        with open(os.path.join(self.tmp, "fakehs.log"), "w") as hs_log:
            self.hs = subprocess.Popen(
                [sys.executable, os.path.join(ROOT, "tests", "fakehs", "fakehs.py"), "--port",
                 "0", "--max-seconds", str(a.limit_s + 60)], stdout=subprocess.PIPE, text=True,
                stderr=hs_log, start_new_session=True)
        self.port = int(self.hs.stdout.readline().split()[1])
        self.h = Http(self.port)
        self.bot = None
        self.bot_user = None
        self.member_tokens = set()  # their last 6 characters, as the log shows them
        self.seen = -1  # the request log read up to here

    # -- the homeserver ----------------------------------------------------
    def member(self, user, device):
        while True:
            tok = "mt" + base64.b32encode(os.urandom(10)).decode().lower()
            if tok[-6:] not in self.member_tokens:
                break
        self.member_tokens.add(tok[-6:])
        self.h.fake("user", {"user_id": user, "token": tok, "device_id": device})
        return Device(self.h, user, device, tok)

    def rooms(self, member_lists, encrypted):
        """A room for each list of members (the first its creator) and the
        bot; encrypted: m.room.encryption, its sessions never turned."""
        ids = [r["room_id"] for r in mx_bench.many(self.h.fake, [
            {"name": "room", "body": {"creator": ms[0], "members": ms + [self.bot_user]}}
            for ms in member_lists])]
        if encrypted:
            mx_bench.many(self.h.fake, [
                {"name": "state", "body": {"room_id": r, "sender": ms[0],
                                           "type": "m.room.encryption", "content": NO_TURN}}
                for r, ms in zip(ids, member_lists)])
        return ids

    def hs_pos(self, room):
        """The homeserver's latest position (its events and to-device
        messages alike), asked by way of a room's timeline."""
        return self.h.fake("events?room_id=%s&after=999999999" % q(room))["pos"]

    def bot_requests(self):
        """The bot's requests logged since the last call (not a member's,
        not the control API's)."""
        r = self.h.fake("log?after=%d" % self.seen)["requests"]
        if r:
            self.seen = r[-1]["n"]
        return [e for e in r if e.get("token") and e["token"] not in self.member_tokens]

    def wait_until(self, pred, timeout_s, what):
        end = time.monotonic() + timeout_s
        while time.monotonic() < end:
            self.alive()
            v = pred()
            if v:
                return v
            time.sleep(0.02)
        raise Fail("%s did not happen within %d s" % (what, timeout_s))

    def alive(self):
        if self.bot is not None and self.bot.poll() is not None:
            raise Fail("the bot exited (status %d); its log: %s"
                       % (self.bot.returncode, self.bot_log.name))

    def settle(self, room):
        """Wait until the bot long-polls from the homeserver's latest
        position: what came before (rooms, room keys) is behind it."""
        pos = self.hs_pos(room)

        def polling():
            for e in self.bot_requests():
                since = (e["query"].get("since") or [""])[0]
                if e["path"].endswith("/sync") and since[1:].isdigit() and int(since[1:]) >= pos:
                    return True
            return False
        self.wait_until(polling, 60, "the bot's long poll from s%d" % pos)

    # -- the bot ------------------------------------------------------------
    def start_bot(self, name, encryption):
        self.phase = "starting the bot %s" % name
        self.bot_user = "@%s:fake.test" % name
        self.h.fake("user", {"user_id": self.bot_user, "password": "pw"})
        d = os.path.join(self.tmp, name)
        os.makedirs(d, 0o700)

        def secret(fname, text):
            p = os.path.join(d, fname)
            fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(text + "\n")
            return p
        ini = ("faq_dir = faq\ncooldown_s = 0\n[matrix]\nhomeserver = http://127.0.0.1:%d\n"
               "user_id = %s\npassword_file = %s\nstate_dir = %s/state\n"
               % (self.port, self.bot_user, secret("pw", "pw"), d))
        if encryption:
            ini += "encryption = true\npickle_key_file = %s\n" % secret(
                "pickle_key", base64.b64encode(os.urandom(32)).decode())
        with open(os.path.join(d, "faqbot.ini"), "w") as f:
            f.write(ini)
        self.bot_log = open(os.path.join(d, "bot.log"), "w")
        self.bot_requests()  # what came before is not this bot's
        # a session of its own: a learned stage's trainer, a child it forks,
        # goes with it when the run ends or fails
        self.bot = subprocess.Popen(
            [self.a.faqbot, "run", "--config", os.path.join(d, "faqbot.ini")], cwd=ROOT,
            stdout=self.bot_log, stderr=self.bot_log, start_new_session=True)
        self.wait_until(lambda: any(e["path"].endswith("/sync") and "since" in e["query"]
                                    for e in self.bot_requests()), 60, "the bot's first start")
        if encryption:
            self.wait_until(lambda: self.bot_otks() > 0, 60, "the bot's one-time keys")

    def bot_otks(self):
        devs = self.h.fake("keys?user_id=" + q(self.bot_user))["devices"]
        return sum(len(v["otk_ids"]) for v in devs.values())

    def stop_bot(self):
        if self.bot is None:
            return
        self.bot.terminate()
        try:
            self.bot.wait(10)
        except subprocess.TimeoutExpired:
            self.bot.kill()
            self.bot.wait()
        kill_group(self.bot.pid)
        self.bot_log.close()
        self.bot = None

    def close(self, ok):
        self.stop_bot()
        self.hs.terminate()
        try:
            self.hs.wait(5)
        except subprocess.TimeoutExpired:
            self.hs.kill()
        if ok:
            shutil.rmtree(self.tmp, ignore_errors=True)
        else:
            print("e2ee_bench: the bots' logs and state are in %s" % self.tmp, file=sys.stderr)

    def kill_all(self):
        """The watchdog's: nothing is left running."""
        if self.bot is not None:
            kill_group(self.bot.pid)
        self.hs.kill()

    # -- one question -------------------------------------------------------
    def ask(self, dev, room, text, encrypted, timeout_s=30):
        """dev asks in room; the time (ms) until its /sync brings the bot's
        reply (encrypted: with the room key to read it), and the bot's CPU
        time meanwhile (us, or None). The reply is then read and checked."""
        if encrypted:
            etype, content = "m.room.encrypted", dev.encrypt(room, text)
        else:
            etype, content = "m.room.message", {"msgtype": "m.text", "body": text}
        c0 = cpu_ns(self.bot.pid)
        t0 = time.perf_counter()
        ev = dev.send(room, etype, content)
        end, reply = time.monotonic() + timeout_s, None
        while True:
            for rid, e in dev.sync(5000):
                if rid == room and e.get("sender") == self.bot_user and reply_to(e) == ev:
                    reply = e
            if reply and (not encrypted or reply["content"].get("session_id") in dev.group_in):
                break
            self.alive()
            if time.monotonic() > end:
                raise Fail("no %s within %d s in %s" % ("readable reply" if reply else "reply",
                                                       timeout_s, room))
        t1 = time.perf_counter()
        c1 = cpu_ns(self.bot.pid)
        if encrypted:
            dev.read(room, reply, ev)
        elif reply["type"] != "m.room.message":
            raise Fail("an unencrypted room's reply is %s" % reply["type"])
        return (t1 - t0) * 1000, None if c0 is None or c1 is None else (c1 - c0) / 1000

    # -- the three measures ---------------------------------------------------
    def latency(self, n):
        """Encrypted and unencrypted rooms, the same questions in turns."""
        self.phase = "reply latency"
        ann = self.member("@ann:fake.test", "ANNDEV")
        ann.upload(5)
        plain = self.rooms([[ann.user]], False)[0]
        enc = self.rooms([[ann.user]], True)[0]
        ann.olm_to(self.bot_user)
        ann.share(enc)
        ann.sync(0)
        self.settle(enc)
        question = self.a.question
        first_p = self.ask(ann, plain, question % 0, False)
        self.bot_requests()
        first_e = self.ask(ann, enc, question % 0, True)
        calls = self.calls(self.bot_requests())
        res = {False: [], True: []}
        for i in range(1, n + 1):
            for e in ((False, True) if i % 2 else (True, False)):
                res[e].append(self.ask(ann, enc if e else plain, question % i, e))
        lat = {e: [x[0] for x in v] for e, v in res.items()}
        cpu = {e: [x[1] for x in v if x[1] is not None] for e, v in res.items()}
        pct = mx_bench.pct
        print("reply latency, an encrypted room beside an unencrypted one (one bot, one member, "
              "the same %d questions in each, in turns), ms: p50 %.2f vs %.2f (%.2fx), p99 %.2f "
              "vs %.2f (%.2fx)" % (n, pct(lat[True], 50), pct(lat[False], 50),
                                   pct(lat[True], 50) / pct(lat[False], 50), pct(lat[True], 99),
                                   pct(lat[False], 99), pct(lat[True], 99) / pct(lat[False], 99)))
        if cpu[True] and cpu[False]:
            print("  the bot's CPU time a reply (all its threads), us: p50 %.0f vs %.0f (%.2fx; "
                  "what encryption adds: %.0f us, the question decrypted, the reply encrypted, "
                  "the sessions saved)"
                  % (med(cpu[True]), med(cpu[False]), med(cpu[True]) / med(cpu[False]),
                     med(cpu[True]) - med(cpu[False])))
        why = ("" if calls[1] else ": the bot writes to the device over the Olm session the "
               "device made to give it its own key")
        print("  each room's first question, apart from the above: encrypted %.2f ms, its reply "
              "waiting for the bot's room key to reach the member's device (%d /keys/query, %d "
              "/keys/claim%s; %d /sendToDevice, %d to-device messages), unencrypted %.2f ms "
              "(%.2fx)" % (first_e[0], calls[0], calls[1], why, calls[2], calls[3], first_p[0],
                           first_e[0] / first_p[0]))

    def calls(self, reqs):
        """What the bot asked of the key API in reqs: /keys/query,
        /keys/claim, /sendToDevice, and the to-device messages in them."""
        count = lambda part: sum(1 for e in reqs if part in e["path"])  # noqa: E731
        msgs = sum(len(devs) for e in reqs if "/sendToDevice/" in e["path"]
                   for devs in ((e.get("body") or {}).get("messages") or {}).values())
        return count("/keys/query"), count("/keys/claim"), count("/sendToDevice/"), msgs

    def share_trial(self, t, users, per_user, steady):
        """A new room of users x per_user devices; the first question and
        the next ones: ([first ms, first cpu us], [(ms, cpu)...], calls)."""
        devs = []
        for u in range(users):
            user = "@s%d_%d:fake.test" % (t, u)
            for d in range(per_user):
                dev = self.member(user, "S%dU%dD%d" % (t, u, d))
                dev.upload(2)
                devs.append(dev)
        room = self.rooms([["@s%d_%d:fake.test" % (t, u) for u in range(users)]], True)[0]
        asker = devs[0]
        asker.olm_to(self.bot_user)
        asker.share(room)
        asker.sync(0)
        self.settle(room)
        first = self.ask(asker, room, self.a.question % t, True, timeout_s=60)
        calls = self.calls(self.bot_requests())
        bot_evs = [e for e in self.h.fake("events?room_id=" + q(room))["events"]
                   if e.get("sender") == self.bot_user and e["type"] == "m.room.encrypted"]
        sid = bot_evs[-1]["content"]["session_id"]
        self.check_keys(devs[1:], room, sid)
        nexts = [self.ask(asker, room, self.a.question % (t * 100 + k), True)
                 for k in range(1, steady + 1)]
        return first, nexts, calls

    def check_keys(self, devs, room, sid):
        """Every device got the room key of the session sid over Olm, and
        opens it."""
        by_user = {}
        for d in devs:
            by_user.setdefault(d.user, []).append(d)
        for user, ds in by_user.items():
            evs = self.h.fake("to_device?user_id=" + q(user))["events"]
            for d in ds:
                got = [d.to_device(e) for e in evs if e["to_device"] == d.device]
                if (room, sid) not in got:
                    raise Fail("device %s of %s did not get the room key" % (d.device, user))

    def share(self, users, per_user, trials, steady):
        self.phase = "a room key to %d devices" % (users * per_user)
        firsts, nexts, calls = [], [], set()
        for t in range(trials):
            f, n, c = self.share_trial(t, users, per_user, steady)
            firsts.append(f)
            nexts += n
            calls.add(c)
        fm, nm = med([x[0] for x in firsts]), med([x[0] for x in nexts])
        fc = [x[1] for x in firsts if x[1] is not None]
        nc = [x[1] for x in nexts if x[1] is not None]
        print("a room key to %d devices (%d members x %d devices, a new room and new members "
              "each time; medians of %d rooms): the first reply %.2f ms, with the session "
              "already shared %.2f ms (%.1fx)" % (users * per_user, users, per_user, trials,
                                                  fm, nm, fm / nm))
        if fc and nc:
            print("  the bot's CPU time: %.2f ms for the first reply, %.2f ms for the next "
                  "(%.1fx)" % (med(fc) / 1000, med(nc) / 1000, med(fc) / med(nc)))
        print("  calls for the first reply: %s; every device opened its room key"
              % " / ".join("%d /keys/query, %d /keys/claim, %d /sendToDevice (%d to-device "
                           "messages)" % c for c in sorted(calls)))

    def replies_sent(self, want, kind):
        """Wait until the bot's PUT .../send/KIND/ have been answered 200
        want times (counted from the last look at the log on)."""
        n = [0]

        def more():
            for e in self.h.fake("log?after=%d" % self.seen)["requests"]:
                if e.get("status") is None:
                    break
                self.seen = e["n"]
                n[0] += (e["method"] == "PUT" and "/send/%s/" % kind in e["path"]
                         and e["status"] == 200 and e.get("token") not in self.member_tokens)
            return n[0] >= want
        self.wait_until(more, 120, "%d replies" % want)

    def rss_plain(self, n):
        self.phase = "RSS, %d unencrypted rooms" % n
        self.start_bot("botplain", False)
        users = ["@p%d:fake.test" % i for i in range(n)]
        rooms = self.rooms([[u] for u in users], False)
        self.settle(rooms[0])
        self.bot_requests()
        mx_bench.many(self.h.fake, [
            {"name": "send", "body": {"room_id": r, "sender": u, "body": self.a.question % i}}
            for i, (r, u) in enumerate(zip(rooms, users))])
        self.replies_sent(n, "m.room.message")
        mem = mx_bench.rss(self.bot.pid)
        self.stop_bot()
        return mem

    def rss_enc(self, n):
        self.phase = "RSS, %d encrypted rooms" % n
        self.start_bot("botenc", True)
        devs = [self.member("@e%d:fake.test" % i, "E%d" % i) for i in range(n)]
        for d in devs:
            d.upload(2)
        rooms = self.rooms([[d.user] for d in devs], True)
        for d, r in zip(devs, rooms):
            # a one-time key of the bot's each: the bot makes more as its
            # /sync says the stock fell (its fallback key is not taken)
            self.wait_until(lambda: self.bot_otks() > 0, 30, "the bot's new one-time keys")
            d.olm_to(self.bot_user)
            d.share(r)
        self.settle(rooms[0])
        started = mx_bench.rss(self.bot.pid)
        self.bot_requests()
        mx_bench.many(self.h.fake, [
            {"name": "send", "body": {"room_id": r, "sender": d.user, "type": "m.room.encrypted",
                                      "content": d.encrypt(r, self.a.question % i)}}
            for i, (r, d) in enumerate(zip(rooms, devs))])
        self.replies_sent(n, "m.room.encrypted")
        mem = mx_bench.rss(self.bot.pid)
        self.stop_bot()
        for d, r in zip(devs, rooms):  # every member reads its reply
            for e in self.h.fake("to_device?user_id=" + q(d.user))["events"]:
                d.to_device(e)
            evs = self.h.fake("events?room_id=" + q(r))["events"]
            quest = [e["event_id"] for e in evs if e["sender"] == d.user][-1]
            reply = [e for e in evs if e["sender"] == self.bot_user and reply_to(e) == quest]
            if not reply:
                raise Fail("no reply in %s" % r)
            d.read(r, reply[0], quest)
        return started, mem

    def rss(self, n):
        plain = self.rss_plain(n)
        started, enc = self.rss_enc(n)
        print("peak RSS (VmHWM) serving %d rooms, each with a member and a question answered: "
              "encrypted %.1f MB (each member's device and the bot sharing Megolm sessions both "
              "ways, every reply read) vs unencrypted %.1f MB, encryption off (%.2fx)"
              % (n, enc["VmHWM"] / 1024, plain["VmHWM"] / 1024, enc["VmHWM"] / plain["VmHWM"]))
        print("  VmRSS after the replies: %.1f MB vs %.1f MB (%.2fx); the encrypted bot before "
              "any question (libolm, its account, the members' Olm sessions and room keys in): "
              "%.1f MB"
              % (enc["VmRSS"] / 1024, plain["VmRSS"] / 1024, enc["VmRSS"] / plain["VmRSS"],
                 started["VmRSS"] / 1024))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--faqbot", default="./faqbot", help="the bot's binary")
    ap.add_argument("-n", type=int, default=300, help="questions in each room, in turns")
    ap.add_argument("--share-users", type=int, default=10)
    ap.add_argument("--share-devices", type=int, default=5, help="devices a member")
    ap.add_argument("--share-trials", type=int, default=3)
    ap.add_argument("--share-next", type=int, default=4,
                    help="questions after the first in each room")
    ap.add_argument("--rooms", type=int, default=100)
    ap.add_argument("--question", default="what is tms? (%d)")
    ap.add_argument("--limit-s", type=int, default=240,
                    help="the whole run fails past this many seconds")
    a = ap.parse_args()
    a.faqbot = os.path.abspath(a.faqbot)
    b = Bench(a)

    def watchdog():
        print("e2ee_bench: FAILED: not done within %d s (in: %s); the bots' logs are in %s"
              % (a.limit_s, b.phase, b.tmp), flush=True)
        b.kill_all()
        os._exit(1)
    dog = threading.Timer(a.limit_s, watchdog)
    dog.daemon = True
    dog.start()
    ok = False
    try:
        b.start_bot("bot", True)
        b.latency(a.n)
        b.share(a.share_users, a.share_devices, a.share_trials, a.share_next)
        b.stop_bot()
        b.rss(a.rooms)
        ok = True
    except Fail as e:
        print("e2ee_bench: FAILED (in: %s): %s" % (b.phase, e), flush=True)
    finally:
        dog.cancel()
        b.close(ok)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
